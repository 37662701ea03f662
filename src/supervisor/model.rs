//! supervisord's view of a process: the info struct of `getProcessInfo` and
//! `getAllProcessInfo`, with its state as an enum. Pure data and conversions; the
//! client that fetches it lives in [`crate::supervisor`].

use std::fmt;

use crate::supervisor::xmlrpc::Value;

/// supervisord's process states (supervisor/states.py).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ProcessState {
    #[default]
    Stopped,
    Starting,
    Running,
    Backoff,
    Stopping,
    Exited,
    Fatal,
    /// UNKNOWN (1000) or a code this version does not know.
    Unknown(i64),
}

impl ProcessState {
    pub fn from_code(code: i64) -> ProcessState {
        match code {
            0 => ProcessState::Stopped,
            10 => ProcessState::Starting,
            20 => ProcessState::Running,
            30 => ProcessState::Backoff,
            40 => ProcessState::Stopping,
            100 => ProcessState::Exited,
            200 => ProcessState::Fatal,
            other => ProcessState::Unknown(other),
        }
    }

    pub fn code(self) -> i64 {
        match self {
            ProcessState::Stopped => 0,
            ProcessState::Starting => 10,
            ProcessState::Running => 20,
            ProcessState::Backoff => 30,
            ProcessState::Stopping => 40,
            ProcessState::Exited => 100,
            ProcessState::Fatal => 200,
            ProcessState::Unknown(code) => code,
        }
    }

    /// STOPPED, EXITED or FATAL: not running, and supervisord will not start it by itself
    /// (autorestart acts on EXITED, but then the process is STARTING next time we look).
    pub fn is_down(self) -> bool {
        matches!(
            self,
            ProcessState::Stopped | ProcessState::Exited | ProcessState::Fatal
        )
    }
}

impl fmt::Display for ProcessState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessState::Stopped => f.write_str("STOPPED"),
            ProcessState::Starting => f.write_str("STARTING"),
            ProcessState::Running => f.write_str("RUNNING"),
            ProcessState::Backoff => f.write_str("BACKOFF"),
            ProcessState::Stopping => f.write_str("STOPPING"),
            ProcessState::Exited => f.write_str("EXITED"),
            ProcessState::Fatal => f.write_str("FATAL"),
            ProcessState::Unknown(1000) => f.write_str("UNKNOWN"),
            ProcessState::Unknown(code) => write!(f, "UNKNOWN({code})"),
        }
    }
}

/// One process as supervisord describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    pub name: String,
    pub group: String,
    pub state: ProcessState,
    pub pid: u32,
    /// Epoch seconds the process last started (supervisord's wall clock; 0: never).
    pub start: i64,
    /// Epoch seconds the process last stopped or exited (supervisord's wall clock; 0:
    /// never).
    pub stop: i64,
    /// supervisord's wall clock when it answered.
    pub now: i64,
    /// Why the last spawn failed ("Exited too quickly (process log may have details)").
    pub spawnerr: String,
    pub exitstatus: i64,
    pub description: String,
    /// Where supervisord writes the program's stderr (or its stdout, if redirected).
    pub stderr_logfile: String,
    pub stdout_logfile: String,
}

impl ProcessInfo {
    /// `name` if the group has the same name, else `group:name`.
    pub fn namespec(&self) -> String {
        if self.group == self.name {
            self.name.clone()
        } else {
            format!("{}:{}", self.group, self.name)
        }
    }

    pub fn is_running(&self) -> bool {
        self.state == ProcessState::Running
    }

    /// Seconds since start, by supervisord's clock (saturating: the reply is not trusted).
    pub fn uptime(&self) -> i64 {
        self.now.saturating_sub(self.start).max(0)
    }

    /// supervisord's own words for why the process is not running, for log lines.
    pub fn reason(&self) -> String {
        match (self.spawnerr.is_empty(), self.state) {
            (false, _) => format!("{}: {}", self.state, self.spawnerr),
            (true, ProcessState::Exited) => {
                format!("EXITED with status {}", self.exitstatus)
            }
            (true, _) if !self.description.is_empty() => {
                format!("{}: {}", self.state, self.description)
            }
            (true, state) => state.to_string(),
        }
    }

    /// Where to look for why it failed: its stderr log, else its stdout log.
    pub fn log_hint(&self) -> Option<&str> {
        [&self.stderr_logfile, &self.stdout_logfile]
            .into_iter()
            .find(|f| !f.is_empty())
            .map(String::as_str)
    }

    /// Reads an info struct; a missing name, group, state or pid is an error.
    pub fn from_value(value: &Value) -> Result<ProcessInfo, String> {
        let members = value
            .as_struct()
            .ok_or_else(|| "process info is not a struct".to_string())?;
        let text = |key: &str| {
            members
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("process info has no {key}"))
        };
        let int = |key: &str| {
            members
                .get(key)
                .and_then(Value::as_i64)
                .ok_or_else(|| format!("process info has no integer {key}"))
        };
        Ok(ProcessInfo {
            name: text("name")?,
            group: text("group")?,
            state: ProcessState::from_code(int("state")?),
            pid: u32::try_from(int("pid")?).unwrap_or(0),
            start: int("start").unwrap_or(0),
            stop: int("stop").unwrap_or(0),
            now: int("now").unwrap_or(0),
            spawnerr: text("spawnerr").unwrap_or_default(),
            exitstatus: int("exitstatus").unwrap_or(0),
            description: text("description").unwrap_or_default(),
            stderr_logfile: text("stderr_logfile").unwrap_or_default(),
            stdout_logfile: text("stdout_logfile").unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_codes_round_trip_and_unknown_codes_are_kept() {
        for code in [0, 10, 20, 30, 40, 100, 200, 1000, 7] {
            assert_eq!(ProcessState::from_code(code).code(), code);
        }
        assert_eq!(ProcessState::from_code(1000).to_string(), "UNKNOWN");
        assert_eq!(ProcessState::from_code(7).to_string(), "UNKNOWN(7)");
        assert!(ProcessState::Fatal.is_down() && !ProcessState::Backoff.is_down());
    }

    #[test]
    fn the_reason_prefers_supervisords_spawn_error() {
        let fatal = ProcessInfo {
            state: ProcessState::Fatal,
            spawnerr: "Exited too quickly (process log may have details)".into(),
            ..Default::default()
        };
        assert_eq!(
            fatal.reason(),
            "FATAL: Exited too quickly (process log may have details)"
        );
        let exited = ProcessInfo {
            state: ProcessState::Exited,
            exitstatus: 3,
            ..Default::default()
        };
        assert_eq!(exited.reason(), "EXITED with status 3");
    }
}
