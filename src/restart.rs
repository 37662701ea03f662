//! Restarting one process safely through the [`Supervisor`] trait: re-read it and
//! restart only the pid that failed, dump a core if asked, stop and wait until it is
//! gone (on the restart thread, never the listener's), start without waiting for
//! startsecs, and never start a second copy when the stop failed.
//!
//! Writes superlance's notices through the `note` callback, which logs them and
//! collects them for the mail.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::model::ProcessState;
use crate::notify;
use crate::supervisor::{ClientError, Supervisor, fault};

/// How long to wait for a stopping process; supervisord SIGKILLs it after its
/// stopwaitsecs, so this only guards against a supervisord that stops answering.
pub const STOP_DEADLINE: Duration = Duration::from_secs(600);
/// How often a stopping process is polled when the blocking stop was cut off.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How long supervisord may stay unreachable mid-restart before httpok stops waiting
/// (it crashed or is restarting; the new supervisord starts the program itself).
pub const UNREACHABLE_DEADLINE: Duration = Duration::from_secs(30);

/// How a restart attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartOutcome {
    Restarted,
    /// Not touched: it is no longer the RUNNING pid that failed.
    Changed(String),
    StopFailed(String),
    StartFailed(String),
}

impl RestartOutcome {
    /// The word passed to --on-restart as HTTPOK_OUTCOME.
    pub fn word(&self) -> &'static str {
        match self {
            RestartOutcome::Restarted => "restarted",
            RestartOutcome::Changed(_) => "skipped",
            RestartOutcome::StopFailed(_) => "stop-failed",
            RestartOutcome::StartFailed(_) => "start-failed",
        }
    }
}

/// Where core dumps go (`-d`) and how they are made (`-g`).
pub struct CoreDump<'a> {
    pub gcore: &'a [String],
    pub coredir: &'a Path,
}

/// Restarts `namespec` if it is still RUNNING as `failed_pid`.
pub fn restart_process(
    supervisor: &dyn Supervisor,
    namespec: &str,
    failed_pid: u32,
    core: Option<&CoreDump<'_>>,
    note: &mut dyn FnMut(String),
) -> RestartOutcome {
    match supervisor.process_info(namespec) {
        Ok(info) if info.is_running() && info.pid == failed_pid => {}
        Ok(info) => {
            let why = format!(
                "{namespec} changed since it failed (pid {failed_pid}, now {} pid {}), NOT restarting",
                info.state, info.pid
            );
            note(why.clone());
            return RestartOutcome::Changed(why);
        }
        Err(e) => {
            let why = format!("Failed to stop process {namespec}: cannot re-read it: {e}");
            note(why.clone());
            return RestartOutcome::StopFailed(why);
        }
    }
    if let Some(core) = core {
        let output = notify::dump_core(core.gcore, core.coredir, namespec, failed_pid);
        note(format!("gcore output for {namespec}:\n\n {output}"));
    }
    note(format!("{namespec} is in RUNNING state, restarting"));
    if let Err(why) = stop_and_wait(supervisor, namespec) {
        let why = format!("Failed to stop process {namespec}: {why}");
        note(why.clone());
        return RestartOutcome::StopFailed(why);
    }
    match supervisor.start_process(namespec, false) {
        Ok(()) => {}
        Err(e) if e.fault_code() == Some(fault::ALREADY_STARTED) => {}
        Err(e) => {
            let why = format!("Failed to start process {namespec}: {e}");
            note(why.clone());
            return RestartOutcome::StartFailed(why);
        }
    }
    note(format!("{namespec} restarted"));
    RestartOutcome::Restarted
}

/// Stops the process and returns once it has left RUNNING/STOPPING. The stop blocks
/// (this runs on a restart thread, never the listener's), so the start follows the
/// moment the process is gone. If the blocking call is cut off (a timeout, a dropped
/// connection), the state is polled instead: starting while the process is still
/// STOPPING would silently start nothing.
fn stop_and_wait(supervisor: &dyn Supervisor, namespec: &str) -> Result<(), String> {
    match supervisor.stop_process(namespec, true) {
        Ok(()) => return Ok(()),
        Err(e) if e.fault_code() == Some(fault::NOT_RUNNING) => return Ok(()),
        Err(e @ ClientError::Fault(_)) => return Err(e.to_string()),
        Err(e) => log::warn!("stopping {namespec}: {e}; polling its state instead"),
    }
    let deadline = Instant::now() + STOP_DEADLINE;
    let mut last_error: Option<ClientError> = None;
    let mut unreachable_since: Option<Instant> = None;
    let mut stop_resent = false;
    while Instant::now() < deadline {
        match supervisor.process_info(namespec) {
            Ok(info)
                if info.state != ProcessState::Running && info.state != ProcessState::Stopping =>
            {
                return Ok(());
            }
            Ok(info) => {
                // Still RUNNING: the cut-off call may never have reached supervisord.
                if info.state == ProcessState::Running && !stop_resent {
                    stop_resent = true;
                    match supervisor.stop_process(namespec, false) {
                        Err(e @ ClientError::Fault(_))
                            if e.fault_code() != Some(fault::NOT_RUNNING) =>
                        {
                            return Err(e.to_string());
                        }
                        _ => {}
                    }
                }
                last_error = None;
                unreachable_since = None;
            }
            // supervisord going away mid-restart: retry for a while, not for ever.
            Err(e) => {
                let since = *unreachable_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= UNREACHABLE_DEADLINE {
                    return Err(format!(
                        "supervisord unreachable for {}s while stopping: {e}",
                        UNREACHABLE_DEADLINE.as_secs()
                    ));
                }
                last_error = Some(e);
            }
        }
        thread::sleep(POLL_INTERVAL);
    }
    Err(match last_error {
        Some(e) => format!("still not stopped after {}s: {e}", STOP_DEADLINE.as_secs()),
        None => format!("still stopping after {}s", STOP_DEADLINE.as_secs()),
    })
}

#[cfg(test)]
pub mod fake {
    //! An in-memory supervisord for unit tests of restart logic.
    use std::sync::Mutex;

    use super::*;
    use crate::model::ProcessInfo;
    use crate::xmlrpc::Fault;

    #[derive(Default)]
    pub struct FakeSupervisor {
        pub processes: Mutex<Vec<ProcessInfo>>,
        pub calls: Mutex<Vec<String>>,
        pub stop_fault: Option<Fault>,
        /// What a blocking stop answers instead of stopping (a cut-off call).
        pub blocking_stop_error: Option<ClientError>,
        pub next_pid: Mutex<u32>,
        /// How many times the process list was read (one per round).
        pub list_calls: std::sync::atomic::AtomicUsize,
    }

    impl FakeSupervisor {
        pub fn with(processes: Vec<ProcessInfo>) -> Self {
            FakeSupervisor {
                processes: Mutex::new(processes),
                next_pid: Mutex::new(1000),
                ..Default::default()
            }
        }

        pub fn find(&self, namespec: &str) -> Result<ProcessInfo, ClientError> {
            let all = self.processes.lock().expect("lock");
            all.iter()
                .find(|p| p.namespec() == namespec)
                .cloned()
                .ok_or_else(|| {
                    ClientError::Fault(Fault {
                        code: fault::BAD_NAME,
                        string: format!("BAD_NAME: {namespec}"),
                    })
                })
        }

        fn set(&self, namespec: &str, state: ProcessState, pid: u32) {
            let mut all = self.processes.lock().expect("lock");
            if let Some(p) = all.iter_mut().find(|p| p.namespec() == namespec) {
                p.state = state;
                p.pid = pid;
            }
        }
    }

    impl Supervisor for FakeSupervisor {
        fn all_process_info(&self) -> Result<Vec<ProcessInfo>, ClientError> {
            self.list_calls
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(self.processes.lock().expect("lock").clone())
        }
        fn process_info(&self, namespec: &str) -> Result<ProcessInfo, ClientError> {
            self.find(namespec)
        }
        fn stop_process(&self, namespec: &str, wait: bool) -> Result<(), ClientError> {
            self.calls
                .lock()
                .expect("lock")
                .push(format!("stop {namespec} {wait}"));
            if let Some(f) = &self.stop_fault {
                return Err(ClientError::Fault(f.clone()));
            }
            if let (true, Some(e)) = (wait, &self.blocking_stop_error) {
                return Err(e.clone());
            }
            self.find(namespec)?;
            self.set(namespec, ProcessState::Stopped, 0);
            Ok(())
        }
        fn start_process(&self, namespec: &str, wait: bool) -> Result<(), ClientError> {
            self.calls
                .lock()
                .expect("lock")
                .push(format!("start {namespec} {wait}"));
            let mut next = self.next_pid.lock().expect("lock");
            *next += 1;
            self.set(namespec, ProcessState::Running, *next);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeSupervisor;
    use super::*;
    use crate::model::ProcessInfo;
    use crate::xmlrpc::Fault;

    fn web(pid: u32) -> ProcessInfo {
        ProcessInfo {
            name: "web".into(),
            group: "web".into(),
            state: ProcessState::Running,
            pid,
            ..Default::default()
        }
    }

    fn run(sup: &FakeSupervisor, pid: u32) -> (RestartOutcome, Vec<String>) {
        let mut notes = Vec::new();
        let outcome = restart_process(sup, "web", pid, None, &mut |n| notes.push(n));
        (outcome, notes)
    }

    #[test]
    fn restarts_the_failed_pid_with_superlances_notices() {
        let sup = FakeSupervisor::with(vec![web(42)]);
        let (outcome, notes) = run(&sup, 42);
        assert_eq!(outcome, RestartOutcome::Restarted);
        assert_eq!(
            notes,
            ["web is in RUNNING state, restarting", "web restarted"]
        );
        assert_eq!(
            *sup.calls.lock().expect("lock"),
            ["stop web true", "start web false"]
        );
        assert_ne!(sup.find("web").expect("exists").pid, 42);
    }

    #[test]
    fn a_cut_off_blocking_stop_falls_back_to_stopping_and_polling() {
        let mut sup = FakeSupervisor::with(vec![web(42)]);
        sup.blocking_stop_error = Some(ClientError::Timeout(std::time::Duration::from_secs(1)));
        let (outcome, _) = run(&sup, 42);
        assert_eq!(outcome, RestartOutcome::Restarted);
        assert_eq!(
            *sup.calls.lock().expect("lock"),
            ["stop web true", "stop web false", "start web false"]
        );
    }

    #[test]
    fn a_process_that_already_restarted_is_left_alone() {
        let sup = FakeSupervisor::with(vec![web(43)]);
        let (outcome, notes) = run(&sup, 42);
        assert!(matches!(outcome, RestartOutcome::Changed(_)));
        assert!(notes[0].contains("NOT restarting"));
        assert!(sup.calls.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_failed_stop_does_not_start_a_second_copy() {
        let mut sup = FakeSupervisor::with(vec![web(42)]);
        sup.stop_fault = Some(Fault {
            code: 30,
            string: "FAILED: nope".into(),
        });
        let (outcome, notes) = run(&sup, 42);
        assert!(matches!(outcome, RestartOutcome::StopFailed(_)));
        assert_eq!(
            notes.last().map(String::as_str),
            Some("Failed to stop process web: FAILED: nope")
        );
        assert_eq!(*sup.calls.lock().expect("lock"), ["stop web true"]);
    }

    #[test]
    fn a_vanished_process_is_reported_not_restarted() {
        let sup = FakeSupervisor::with(vec![]);
        let (outcome, _) = run(&sup, 42);
        assert!(matches!(outcome, RestartOutcome::StopFailed(_)));
        assert!(sup.calls.lock().expect("lock").is_empty());
    }
}
