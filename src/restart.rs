//! Carrying out one restart through the [`Supervisor`] trait, on a restart thread (never
//! the listener's): re-read the process and restart only the pid that failed, dump a
//! core if asked, stop and wait until it is gone, start without waiting for startsecs,
//! then watch supervisord until the new process is RUNNING (restarted) or has failed
//! (FATAL, EXITED, STOPPED). Never starts a second copy when the stop failed.
//!
//! The stop-to-start stretch holds the shutdown [`Gate`]: once httpok is stopping no
//! new stop is issued, and a stop already issued is always followed by its start.
//! Writes superlance's notices through `note`, which logs them and keeps them for the mail.

use std::thread;
use std::time::{Duration, Instant};

use crate::lifecycle::RestartOutcome;
use crate::model::ProcessState;
use crate::notifier::Notifier;
use crate::shutdown::Gate;
use crate::supervisor::{ClientError, Supervisor, fault};

/// How long to wait for a stopping process; supervisord SIGKILLs it after its
/// stopwaitsecs, so this only guards against a supervisord that stops answering.
pub const STOP_DEADLINE: Duration = Duration::from_secs(600);
/// How long to wait for a started process to reach RUNNING or fail: above any sane
/// startsecs times startretries.
pub const START_DEADLINE: Duration = Duration::from_secs(600);
/// How often a stopping or starting process is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How long supervisord may stay unreachable mid-restart before httpok stops waiting
/// (it crashed or is restarting; the new supervisord starts the program itself).
pub const UNREACHABLE_DEADLINE: Duration = Duration::from_secs(30);

const STOPPING: &str = "start issued; httpok is stopping before supervisord showed it RUNNING";

/// What one restart needs from the rest of httpok.
pub struct Restarter<'a> {
    pub supervisor: &'a dyn Supervisor,
    pub notifier: &'a dyn Notifier,
    pub gate: &'a Gate,
    /// Told `Some(pid)` just before the stop is issued and `None` once the start is
    /// (or the restart ended without one): --state-file keeps restarts in flight.
    pub journal: &'a (dyn Fn(&str, Option<u32>) + Sync),
}

/// How the stop ended.
enum Stopped {
    Gone,
    /// Someone else restarted it meanwhile: it runs as this pid, ours is gone.
    Replaced(u32),
}

impl Restarter<'_> {
    /// Restarts `namespec` if it is still RUNNING as `failed_pid`.
    pub fn restart(
        &self,
        namespec: &str,
        failed_pid: u32,
        note: &mut dyn FnMut(String),
    ) -> RestartOutcome {
        match self.supervisor.process_info(namespec) {
            Ok(info) if info.is_running() && info.pid == failed_pid => {}
            Ok(info) => {
                return RestartOutcome::Skipped(format!(
                    "{namespec} changed since it failed (pid {failed_pid}, now {} pid {}), \
                     NOT restarting",
                    info.state, info.pid
                ));
            }
            Err(e) => return RestartOutcome::StopFailed(format!("cannot re-read it: {e}")),
        }
        if let Some(output) = self.notifier.dump_core(namespec, failed_pid) {
            note(format!(
                "gcore output for {namespec}: {}",
                one_line(&output)
            ));
        }
        if !self.gate.enter() {
            return RestartOutcome::Skipped(format!(
                "not restarting {namespec}: httpok is stopping"
            ));
        }
        note(format!("{namespec} is in RUNNING state, restarting"));
        (self.journal)(namespec, Some(failed_pid));
        let started = self.stop_then_start(namespec, failed_pid);
        (self.journal)(namespec, None);
        self.gate.leave();
        match started {
            Err(outcome) => outcome,
            Ok(()) if self.gate.is_closed() => RestartOutcome::Interrupted(STOPPING.into()),
            Ok(()) => self.await_running(namespec),
        }
    }

    /// Finishes a restart a previous httpok left between its stop and its start: waits
    /// while the process is still STOPPING, then starts it if it is STOPPED. Anything
    /// else (running again, FATAL) is not ours to touch.
    pub fn resume(&self, namespec: &str, stopped_pid: u32) -> RestartOutcome {
        let deadline = Instant::now() + STOP_DEADLINE;
        loop {
            match self.supervisor.process_info(namespec) {
                Ok(info) if info.state == ProcessState::Stopping && Instant::now() < deadline => {}
                Ok(info) if info.state == ProcessState::Stopped => break,
                Ok(info) => {
                    return RestartOutcome::Skipped(format!(
                        "{namespec} was being restarted by the previous httpok (pid \
                         {stopped_pid} stopped); it is {} now, nothing to finish",
                        info.state
                    ));
                }
                Err(e) => return RestartOutcome::StartFailed(format!("cannot read it: {e}")),
            }
            thread::sleep(POLL_INTERVAL);
        }
        log::info!(
            "{namespec} was stopped by the previous httpok for a restart (pid {stopped_pid}) \
             and not started again; starting it"
        );
        match start(self.supervisor, namespec) {
            Ok(()) => self.await_running(namespec),
            Err(e) => RestartOutcome::StartFailed(e.to_string()),
        }
    }

    /// The gate's critical section: stop, and once it is gone, issue the start.
    fn stop_then_start(&self, namespec: &str, failed_pid: u32) -> Result<(), RestartOutcome> {
        match stop_and_wait(self.supervisor, namespec, failed_pid) {
            Ok(Stopped::Gone) => {}
            Ok(Stopped::Replaced(pid)) => {
                return Err(RestartOutcome::Skipped(format!(
                    "{namespec} was restarted by someone else while httpok stopped it (now \
                     pid {pid}), NOT starting it again"
                )));
            }
            Err(why) => return Err(RestartOutcome::StopFailed(why)),
        }
        match start(self.supervisor, namespec) {
            Ok(()) => Ok(()),
            // A reload or shutdown began meanwhile: supervisord starts its autostart
            // programs itself when it comes back; not a failure worth an alarm.
            Err(e) if e.fault_code() == Some(fault::SHUTDOWN_STATE) => {
                Err(RestartOutcome::Interrupted(
                    "supervisord is shutting down or reloading; it starts its autostart \
                     programs itself"
                        .into(),
                ))
            }
            Err(e) => Err(RestartOutcome::StartFailed(e.to_string())),
        }
    }

    /// Polls until supervisord shows the new process RUNNING or failed.
    fn await_running(&self, namespec: &str) -> RestartOutcome {
        let deadline = Instant::now() + START_DEADLINE;
        let mut unreachable_since: Option<Instant> = None;
        let mut last = String::from("STARTING");
        while Instant::now() < deadline {
            if self.gate.is_closed() {
                return RestartOutcome::Interrupted(STOPPING.into());
            }
            match self.supervisor.process_info(namespec) {
                Ok(info) if info.is_running() => {
                    return RestartOutcome::Restarted { pid: info.pid };
                }
                Ok(info) if info.state.is_down() => {
                    return RestartOutcome::StartFailed(info.reason());
                }
                Ok(info) => {
                    unreachable_since = None;
                    last = info.reason();
                }
                Err(e) => {
                    let since = *unreachable_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= UNREACHABLE_DEADLINE {
                        return RestartOutcome::StartFailed(format!(
                            "supervisord unreachable for {}s after the start: {e}",
                            UNREACHABLE_DEADLINE.as_secs()
                        ));
                    }
                }
            }
            thread::sleep(POLL_INTERVAL);
        }
        RestartOutcome::StartFailed(format!(
            "not RUNNING {}s after the start (last {last})",
            START_DEADLINE.as_secs()
        ))
    }
}

/// Issues the start (wait=false); retries while supervisord is briefly unreachable, since
/// the process is stopped now and nobody else will start it.
fn start(supervisor: &dyn Supervisor, namespec: &str) -> Result<(), ClientError> {
    let since = Instant::now();
    loop {
        match supervisor.start_process(namespec, false) {
            Ok(()) => return Ok(()),
            Err(e) if e.fault_code() == Some(fault::ALREADY_STARTED) => return Ok(()),
            Err(e @ ClientError::Fault(_)) => return Err(e),
            Err(e) if since.elapsed() >= UNREACHABLE_DEADLINE => return Err(e),
            Err(e) => log::warn!("starting {namespec}: {e}; trying again"),
        }
        thread::sleep(POLL_INTERVAL * 10);
    }
}

/// gcore's output on one line, so the log keeps one entry per line.
fn one_line(output: &str) -> String {
    output.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Stops the process and returns once it has left RUNNING/STOPPING. The stop blocks
/// (this runs on a restart thread), so the start follows the moment the process is gone.
/// If the blocking call is cut off (a timeout, a dropped connection), the state is
/// polled instead: starting while the process is still STOPPING would silently start
/// nothing. Before a stop is sent again, the pid is re-read: a process someone else
/// restarted meanwhile is not ours to stop.
fn stop_and_wait(
    supervisor: &dyn Supervisor,
    namespec: &str,
    failed_pid: u32,
) -> Result<Stopped, String> {
    match supervisor.stop_process(namespec, true) {
        Ok(()) => return Ok(Stopped::Gone),
        Err(e) if e.fault_code() == Some(fault::NOT_RUNNING) => return Ok(Stopped::Gone),
        Err(e @ ClientError::Fault(_)) => return Err(e.to_string()),
        Err(e) => log::warn!("stopping {namespec}: {e}; polling its state instead"),
    }
    let deadline = Instant::now() + STOP_DEADLINE;
    let mut last_error: Option<ClientError> = None;
    let mut unreachable_since: Option<Instant> = None;
    let mut stop_resent = false;
    while Instant::now() < deadline {
        match supervisor.process_info(namespec) {
            Ok(info) if info.is_running() && info.pid != failed_pid => {
                return Ok(Stopped::Replaced(info.pid));
            }
            Ok(info)
                if info.state != ProcessState::Running && info.state != ProcessState::Stopping =>
            {
                return Ok(Stopped::Gone);
            }
            Ok(info) => {
                // Still RUNNING as our pid: the cut-off call may never have reached
                // supervisord.
                if info.is_running() && !stop_resent {
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
    //! An in-memory supervisord for unit tests of restarts and whole rounds.
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
        /// Where a start leaves the process instead of RUNNING (e.g. FATAL, with spawnerr).
        pub start_ends: Option<(ProcessState, String)>,
        pub next_pid: Mutex<u32>,
        /// How many times the process list was read.
        pub list_calls: AtomicUsize,
    }

    impl FakeSupervisor {
        pub fn with(processes: Vec<ProcessInfo>) -> Self {
            FakeSupervisor {
                processes: Mutex::new(processes),
                next_pid: Mutex::new(1000),
                ..Default::default()
            }
        }

        pub fn calls(&self) -> Vec<String> {
            self.calls.lock().expect("lock").clone()
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

        pub fn set(&self, namespec: &str, state: ProcessState, pid: u32, spawnerr: &str) {
            let mut all = self.processes.lock().expect("lock");
            if let Some(p) = all.iter_mut().find(|p| p.namespec() == namespec) {
                p.state = state;
                p.pid = pid;
                p.spawnerr = spawnerr.to_string();
            }
        }
    }

    impl Supervisor for FakeSupervisor {
        fn all_process_info(&self) -> Result<Vec<ProcessInfo>, ClientError> {
            self.list_calls.fetch_add(1, Ordering::SeqCst);
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
            self.set(namespec, ProcessState::Stopped, 0, "");
            Ok(())
        }
        fn start_process(&self, namespec: &str, wait: bool) -> Result<(), ClientError> {
            self.calls
                .lock()
                .expect("lock")
                .push(format!("start {namespec} {wait}"));
            match &self.start_ends {
                Some((state, spawnerr)) => self.set(namespec, *state, 0, spawnerr),
                None => {
                    let mut next = self.next_pid.lock().expect("lock");
                    *next += 1;
                    self.set(namespec, ProcessState::Running, *next, "");
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeSupervisor;
    use super::*;
    use crate::model::ProcessInfo;
    use crate::notifier::fake::FakeNotifier;
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

    fn run(sup: &FakeSupervisor, gate: &Gate, pid: u32) -> (RestartOutcome, Vec<String>) {
        let notifier = FakeNotifier::default();
        let restarter = Restarter {
            supervisor: sup,
            notifier: &notifier,
            gate,
            journal: &|_, _| {},
        };
        let mut notes = Vec::new();
        let outcome = restarter.restart("web", pid, &mut |n| notes.push(n));
        (outcome, notes)
    }

    #[test]
    fn restarts_the_failed_pid_and_reports_the_new_running_pid() {
        let sup = FakeSupervisor::with(vec![web(42)]);
        let (outcome, notes) = run(&sup, &Gate::default(), 42);
        assert_eq!(outcome, RestartOutcome::Restarted { pid: 1001 });
        assert_eq!(notes, ["web is in RUNNING state, restarting"]);
        assert_eq!(sup.calls(), ["stop web true", "start web false"]);
    }

    #[test]
    fn a_start_that_ends_fatal_is_a_failure_with_supervisords_reason() {
        let mut sup = FakeSupervisor::with(vec![web(42)]);
        sup.start_ends = Some((ProcessState::Fatal, "Exited too quickly".into()));
        let (outcome, _) = run(&sup, &Gate::default(), 42);
        assert_eq!(
            outcome,
            RestartOutcome::StartFailed("FATAL: Exited too quickly".into())
        );
    }

    #[test]
    fn a_cut_off_blocking_stop_falls_back_to_stopping_and_polling() {
        let mut sup = FakeSupervisor::with(vec![web(42)]);
        sup.blocking_stop_error = Some(ClientError::Timeout(Duration::from_secs(1)));
        let (outcome, _) = run(&sup, &Gate::default(), 42);
        assert!(matches!(outcome, RestartOutcome::Restarted { .. }));
        assert_eq!(
            sup.calls(),
            ["stop web true", "stop web false", "start web false"]
        );
    }

    #[test]
    fn the_fallback_stop_is_not_sent_to_a_pid_someone_else_started() {
        let mut sup = FakeSupervisor::with(vec![web(42)]);
        sup.blocking_stop_error = Some(ClientError::Timeout(Duration::from_secs(1)));
        // The operator restarted it while our blocking stop was cut off.
        let sup = {
            let s = sup;
            s.processes.lock().expect("lock")[0].pid = 77;
            s
        };
        let notifier = FakeNotifier::default();
        let gate = Gate::default();
        let restarter = Restarter {
            supervisor: &sup,
            notifier: &notifier,
            gate: &gate,
            journal: &|_, _| {},
        };
        let outcome = stop_and_wait(restarter.supervisor, "web", 42);
        assert!(matches!(outcome, Ok(Stopped::Replaced(77))));
        assert_eq!(sup.calls(), ["stop web true"], "no second stop");
    }

    #[test]
    fn a_process_that_already_restarted_is_left_alone() {
        let sup = FakeSupervisor::with(vec![web(43)]);
        let (outcome, _) = run(&sup, &Gate::default(), 42);
        assert!(
            matches!(outcome, RestartOutcome::Skipped(ref why) if why.contains("NOT restarting"))
        );
        assert!(sup.calls().is_empty());
    }

    #[test]
    fn a_failed_stop_does_not_start_a_second_copy() {
        let mut sup = FakeSupervisor::with(vec![web(42)]);
        sup.stop_fault = Some(Fault {
            code: 30,
            string: "FAILED: nope".into(),
        });
        let (outcome, _) = run(&sup, &Gate::default(), 42);
        assert_eq!(outcome, RestartOutcome::StopFailed("FAILED: nope".into()));
        assert_eq!(sup.calls(), ["stop web true"]);
    }

    #[test]
    fn a_vanished_process_is_reported_not_restarted() {
        let sup = FakeSupervisor::with(vec![]);
        let (outcome, _) = run(&sup, &Gate::default(), 42);
        assert!(matches!(outcome, RestartOutcome::StopFailed(_)));
        assert!(sup.calls().is_empty());
    }

    #[test]
    fn once_httpok_is_stopping_no_stop_is_issued() {
        let sup = FakeSupervisor::with(vec![web(42)]);
        let gate = Gate::default();
        gate.close_and_wait(Duration::ZERO);
        let (outcome, _) = run(&sup, &gate, 42);
        assert!(matches!(outcome, RestartOutcome::Skipped(ref why) if why.contains("stopping")));
        assert!(sup.calls().is_empty());
    }
}
