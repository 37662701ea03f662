//! What a decision asks the driver to do: probes, log lines, restarts and notices. The
//! pure modules ([`crate::planner::lifecycle`], [`crate::planner`]) return [`ProbeRequest`]s and a
//! [`Plan`]; the watcher carries them out and never decides anything itself. Also the
//! names a check and its targets go by between the planner, the watcher and the prober.

use std::time::Duration;

use log::Level;

/// A check's identity, the key everything about it is found by (its [`Check`] in the
/// planner, its settings in the prober). Assigned once, in configuration order, by
/// [`crate::watcher::numbered`].
///
/// [`Check`]: crate::planner::Check
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckId(pub usize);

/// One target of one check: the check, and the target's place among its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetId {
    pub check: CheckId,
    pub index: usize,
}

/// Probe this target by its check's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeRequest {
    pub target: TargetId,
    /// Also read an https target's certificate expiry (a handshake of its own).
    pub read_cert: bool,
}

/// One log line, at its level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub level: Level,
    pub text: String,
}

/// Restart this process if it is still RUNNING as `pid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartOrder {
    pub namespec: String,
    pub pid: u32,
    /// The ordering check's `--stop-grace`.
    pub stop_grace: Option<Duration>,
}

/// How a restart ended: the --on-restart hook's HTTPOK_OUTCOME.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeWord {
    Restarted,
    Failed,
    Skipped,
}

impl OutcomeWord {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeWord::Restarted => "restarted",
            OutcomeWord::Failed => "failed",
            OutcomeWord::Skipped => "skipped",
        }
    }
}

/// A check's or a program's state as the --on-change hook is told it: HTTPOK_STATE
/// and HTTPOK_PREVIOUS (a contract with the operator's scripts: never renamed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateWord {
    /// A check that passes.
    Healthy,
    /// A check whose failure counts; a program whose check fails.
    Failing,
    /// A check that passes again; a restarted program whose checks pass.
    Recovered,
    Restarting,
    Restarted,
    /// A restarted program that did not reach RUNNING.
    StartFailed,
    /// `--max-restarts` reached.
    GaveUp,
}

impl StateWord {
    pub fn as_str(self) -> &'static str {
        match self {
            StateWord::Healthy => "healthy",
            StateWord::Failing => "failing",
            StateWord::Recovered => "recovered",
            StateWord::Restarting => "restarting",
            StateWord::Restarted => "restarted",
            StateWord::StartFailed => "start-failed",
            StateWord::GaveUp => "gave-up",
        }
    }
}

/// Something to tell the operator outside the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A mail through -m: `subject` is what follows `httpok[ [NAME]]: `.
    Mail { subject: String, body: Vec<String> },
    /// The --on-change hook: a check or program changed state.
    Change {
        /// Whose state changed: the check's, or the program's.
        about: About,
        /// The check's name, or its URL (the failing one, for a program's change).
        check: String,
        /// The failing URL (a check's URLs when it recovers), credentials hidden.
        url: String,
        program: String,
        state: StateWord,
        previous: StateWord,
        reason: String,
    },
    /// The --on-restart hook, once per restart attempt.
    Hook {
        program: String,
        /// The failing check's name, or its URL.
        check: String,
        url: String,
        reason: String,
        outcome: OutcomeWord,
    },
}

/// Whose state an --on-change notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum About {
    Check,
    Program,
}

/// Everything one decision asks for, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub lines: Vec<Line>,
    pub restarts: Vec<RestartOrder>,
    pub notices: Vec<Notice>,
}

impl Plan {
    pub fn log(&mut self, level: Level, text: impl Into<String>) {
        self.lines.push(Line {
            level,
            text: text.into(),
        });
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.log(Level::Info, text);
    }

    pub fn warn(&mut self, text: impl Into<String>) {
        self.log(Level::Warn, text);
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.log(Level::Error, text);
    }

    pub fn debug(&mut self, text: impl Into<String>) {
        self.log(Level::Debug, text);
    }

    pub fn extend(&mut self, other: Plan) {
        self.lines.extend(other.lines);
        self.restarts.extend(other.restarts);
        self.notices.extend(other.notices);
    }

    /// The lines at info or above, for assertions.
    #[cfg(test)]
    pub(crate) fn texts(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| l.level <= Level::Info)
            .map(|l| l.text.as_str())
            .collect()
    }
}

/// `['a', 'b']`, as superlance printed Python lists.
pub fn python_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", quoted.join(", "))
}
