//! Carrying out one restart through the [`Supervisor`] trait, on a restart thread (never
//! the listener's): re-read the process and restart only the pid that failed, dump a
//! core if asked (and re-read it after: the stop is for the pid that failed, never for
//! one someone started during the dump), stop and wait until it is gone (with
//! `--stop-grace`, killing it once that has passed: `kill.rs`), start without waiting for startsecs,
//! then watch supervisord until the new process is RUNNING (restarted), has failed
//! (FATAL, EXITED) or was stopped by someone else (STOPPED). Never starts a second copy
//! when the stop failed.
//!
//! The stop-to-start stretch holds the shutdown [`Gate`]: once httpok is stopping no
//! new stop is issued, and a stop already issued is always followed by its start.
//! Writes superlance's notices through `note`, which logs them and keeps them for the mail.
//!
//! Its time is a [`Clock`]: the real one, or in unit tests one that moves only when it
//! is slept on, so that ten minutes of polling take no time at all.

use std::thread;
use std::time::{Duration, Instant};

use crate::notify::Notifier;
use crate::planner::lifecycle::RestartOutcome;
use crate::restart::gate::Gate;
use crate::state_file::StopRecord;
use crate::state_file::keeper::epoch_now;
use crate::supervisor::model::{ProcessInfo, ProcessState};
use crate::supervisor::{ClientError, Supervisor, fault};
use kill::StopGrace;
use resume::{ResumeFacts, ResumeStep};

/// How long to wait for a stopping process; supervisord SIGKILLs it after its
/// stopwaitsecs, so this only guards against a supervisord that stops answering.
pub const STOP_DEADLINE: Duration = Duration::from_secs(600);
/// How long to wait for a started process to reach RUNNING or fail: above any sane
/// startsecs times startretries.
pub const START_DEADLINE: Duration = Duration::from_secs(600);
/// How often a stopping or starting process is polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How long a start refused by an unreachable supervisord waits before it is retried.
const START_RETRY: Duration = Duration::from_millis(500);
/// How long supervisord may stay unreachable mid-restart before httpok stops waiting
/// (it crashed or is restarting; the new supervisord starts the program itself).
pub const UNREACHABLE_DEADLINE: Duration = Duration::from_secs(30);

const STOPPING: &str = "start issued; httpok is stopping before supervisord showed it RUNNING";

/// Where a restart between its stop and its start is recorded (`--state-file`), so
/// that the next httpok can finish one cut short. The watcher's records it in the
/// program's state and hands the state file to its writer; tests keep a list.
pub trait Journal: Sync {
    /// The stop of `namespec` is about to be issued (`Some`: its record; this may wait,
    /// bounded, until it is on disk) or its start was, or the restart ended without one
    /// (`None`).
    fn note_stop(&self, namespec: &str, record: Option<StopRecord>);
}

impl<F: Fn(&str, Option<StopRecord>) + Sync> Journal for F {
    fn note_stop(&self, namespec: &str, record: Option<StopRecord>) {
        self(namespec, record);
    }
}

/// The restarter's time: what time it is, and waiting between two polls.
pub trait Clock: Sync {
    fn now(&self) -> Instant;
    fn sleep(&self, pause: Duration);
}

/// The monotonic clock, and really sleeping.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, pause: Duration) {
        thread::sleep(pause);
    }
}

/// What one restart needs from the rest of httpok.
pub struct Restarter<'a> {
    pub supervisor: &'a dyn Supervisor,
    pub notifier: &'a dyn Notifier,
    pub gate: &'a Gate,
    pub journal: &'a dyn Journal,
    pub clock: &'a dyn Clock,
    /// How often a stopping or starting process is polled ([`POLL_INTERVAL`]).
    pub poll: Duration,
    /// `--stop-grace`: kill it when still STOPPING this long after the stop. `None`:
    /// the stop blocks and supervisord's stopwaitsecs applies.
    pub grace: Option<StopGrace<'a>>,
}

/// How the stop ended.
enum Stopped {
    Gone,
    /// Someone else restarted it meanwhile: it runs as this pid, ours is gone.
    Replaced(u32),
    /// supervisord is shutting down or reloading (it answers SHUTDOWN_STATE): it
    /// stops the program itself and starts its autostart programs when it is back.
    ShuttingDown,
}

/// Why a restart ends when supervisord is shutting down or reloading.
const SHUTTING_DOWN: &str =
    "supervisord is shutting down or reloading; it starts its autostart programs itself";

impl Restarter<'_> {
    /// Restarts `namespec` if it is still RUNNING as `failed_pid`.
    pub fn restart(
        &self,
        namespec: &str,
        failed_pid: u32,
        note: &mut dyn FnMut(String),
    ) -> RestartOutcome {
        let mut info = match self.still_failed(namespec, failed_pid, "since it failed") {
            Ok(info) => info,
            Err(outcome) => return outcome,
        };
        if let Some(output) = self.notifier.dump_core(namespec, failed_pid) {
            note(format!("gcore output for {namespec}: {output}"));
            // gcore may take a minute: a program someone restarted meanwhile runs a
            // fresh instance now, not ours to stop.
            info = match self.still_failed(namespec, failed_pid, "while its core was dumped") {
                Ok(info) => info,
                Err(outcome) => return outcome,
            };
        }
        if !self.gate.enter() {
            return RestartOutcome::Skipped(format!(
                "not restarting {namespec}: httpok is stopping"
            ));
        }
        note(format!("{namespec} is in RUNNING state, restarting"));
        // By supervisord's clock, which its start/stop times are compared with later.
        let issued_at = if info.now > 0 { info.now } else { epoch_now() };
        let record = StopRecord {
            pid: failed_pid,
            issued_at: Some(issued_at),
        };
        self.journal.note_stop(namespec, Some(record));
        let started = self.stop_then_start(namespec, failed_pid);
        self.journal.note_stop(namespec, None);
        self.gate.leave();
        match started {
            Err(outcome) => outcome,
            Ok(()) if self.gate.is_closed() => RestartOutcome::Interrupted(STOPPING.into()),
            Ok(()) => self.await_running(namespec),
        }
    }

    /// The process as it is now, if it is still RUNNING as `failed_pid`.
    fn still_failed(
        &self,
        namespec: &str,
        failed_pid: u32,
        when: &str,
    ) -> Result<ProcessInfo, RestartOutcome> {
        match self.supervisor.process_info(namespec) {
            Ok(info) if info.is_running() && info.pid == failed_pid => Ok(info),
            Ok(info) => Err(RestartOutcome::Skipped(format!(
                "{namespec} changed {when} (pid {failed_pid}, now {} pid {}), NOT restarting",
                info.state, info.pid
            ))),
            Err(e) => Err(RestartOutcome::StopFailed(format!(
                "cannot re-read it: {e}"
            ))),
        }
    }

    /// Finishes a restart a previous httpok left between its stop and its start, if
    /// it is still its own (`resume.rs` decides, `named` says whether a check names
    /// the process): waits while that stop is still ending, then starts it.
    pub fn resume(
        &self,
        namespec: &str,
        record: &StopRecord,
        named: &dyn Fn(&ProcessInfo) -> bool,
        dry_run: bool,
    ) -> RestartOutcome {
        let deadline = self.clock.now() + STOP_DEADLINE;
        loop {
            // --dry-run decides before asking supervisord anything.
            let info = if dry_run {
                None
            } else {
                match self.supervisor.process_info(namespec) {
                    Ok(info) => Some(info),
                    Err(e) if e.fault_code() == Some(fault::BAD_NAME) => None,
                    Err(e) => return RestartOutcome::StartFailed(format!("cannot read it: {e}")),
                }
            };
            let facts = ResumeFacts {
                info: info.as_ref(),
                named: info.as_ref().is_some_and(named),
                dry_run,
            };
            match resume::decide(namespec, record, &facts) {
                ResumeStep::Start => break,
                ResumeStep::Drop(why) => return RestartOutcome::Skipped(why),
                ResumeStep::Wait if self.clock.now() < deadline => self.clock.sleep(self.poll),
                ResumeStep::Wait => {
                    return RestartOutcome::Skipped(format!(
                        "{namespec} is still STOPPING {}s after the previous httpok's stop \
                         (pid {}); not starting it",
                        STOP_DEADLINE.as_secs(),
                        record.pid
                    ));
                }
            }
        }
        log::info!(
            "{namespec} was stopped by the previous httpok for a restart (pid {}) and not \
             started again; starting it",
            record.pid
        );
        match self.start(namespec) {
            Ok(()) => self.await_running(namespec),
            Err(e) => RestartOutcome::StartFailed(e.to_string()),
        }
    }

    /// The gate's critical section: stop, and once it is gone, issue the start.
    fn stop_then_start(&self, namespec: &str, failed_pid: u32) -> Result<(), RestartOutcome> {
        match self.stop_and_wait(namespec, failed_pid) {
            Ok(Stopped::Gone) => {}
            Ok(Stopped::Replaced(pid)) => {
                return Err(RestartOutcome::Skipped(format!(
                    "{namespec} was restarted by someone else while httpok stopped it (now \
                     pid {pid}), NOT starting it again"
                )));
            }
            // A reload or shutdown began meanwhile: supervisord starts its autostart
            // programs itself when it comes back; not a failure worth an alarm.
            Ok(Stopped::ShuttingDown) => {
                return Err(RestartOutcome::Interrupted(SHUTTING_DOWN.into()));
            }
            Err(why) => return Err(RestartOutcome::StopFailed(why)),
        }
        match self.start(namespec) {
            Ok(()) => Ok(()),
            Err(e) if e.fault_code() == Some(fault::SHUTDOWN_STATE) => {
                Err(RestartOutcome::Interrupted(SHUTTING_DOWN.into()))
            }
            Err(e) => Err(RestartOutcome::StartFailed(e.to_string())),
        }
    }

    /// Polls until supervisord shows the new process RUNNING or failed.
    fn await_running(&self, namespec: &str) -> RestartOutcome {
        let deadline = self.clock.now() + START_DEADLINE;
        let mut unreachable_since: Option<Instant> = None;
        let mut last = String::from("STARTING");
        while self.clock.now() < deadline {
            if self.gate.is_closed() {
                return RestartOutcome::Interrupted(STOPPING.into());
            }
            match self.supervisor.process_info(namespec) {
                Ok(info) if info.is_running() => {
                    return RestartOutcome::Restarted { pid: info.pid };
                }
                // Only a stopProcess leaves a process STOPPED (one that dies starting
                // goes BACKOFF, then FATAL): someone stopped the new process while it
                // started, `supervisorctl stop` (or `restart`) during the restart. Its
                // start did not fail, and what the operator does with it is theirs.
                Ok(info) if info.state == ProcessState::Stopped => {
                    return RestartOutcome::Interrupted(format!(
                        "stopped by someone else while it started ({}), NOT starting it \
                         again",
                        info.reason()
                    ));
                }
                Ok(info) if info.state.is_down() => {
                    let reason = match info.log_hint() {
                        Some(log) => format!("{}; its log: {log}", info.reason()),
                        None => info.reason(),
                    };
                    return RestartOutcome::StartFailed(reason);
                }
                Ok(info) => {
                    unreachable_since = None;
                    last = info.reason();
                }
                Err(e) => {
                    let now = self.clock.now();
                    let since = *unreachable_since.get_or_insert(now);
                    if now.saturating_duration_since(since) >= UNREACHABLE_DEADLINE {
                        return RestartOutcome::StartFailed(format!(
                            "supervisord unreachable for {}s after the start: {e}",
                            UNREACHABLE_DEADLINE.as_secs()
                        ));
                    }
                }
            }
            self.clock.sleep(self.poll);
        }
        RestartOutcome::StartFailed(format!(
            "not RUNNING {}s after the start (last {last})",
            START_DEADLINE.as_secs()
        ))
    }
}

impl Restarter<'_> {
    /// Issues the start (wait=false); retries while supervisord is briefly unreachable,
    /// since the process is stopped now and nobody else will start it.
    fn start(&self, namespec: &str) -> Result<(), ClientError> {
        let since = self.clock.now();
        loop {
            match self.supervisor.start_process(namespec, false) {
                Ok(()) => return Ok(()),
                Err(e) if e.fault_code() == Some(fault::ALREADY_STARTED) => return Ok(()),
                // Forked, and dead before supervisord answered: it is in BACKOFF and
                // supervisord retries it (startretries) on its own. Its outcome, RUNNING
                // or FATAL with supervisord's reason, is what await_running reads.
                Err(e) if e.fault_code() == Some(fault::SPAWN_ERROR) => {
                    log::debug!("starting {namespec}: {e}; supervisord retries it");
                    return Ok(());
                }
                Err(e @ ClientError::Fault(_)) => return Err(e),
                Err(e)
                    if self.clock.now().saturating_duration_since(since)
                        >= UNREACHABLE_DEADLINE =>
                {
                    return Err(e);
                }
                Err(e) => log::warn!("starting {namespec}: {e}; trying again"),
            }
            self.clock.sleep(START_RETRY);
        }
    }
}

impl Restarter<'_> {
    /// Stops the process and returns once it has left RUNNING/STOPPING. Without
    /// `--stop-grace` the stop blocks (this runs on a restart thread), so the start
    /// follows the moment the process is gone. If the blocking call is cut off (a timeout, a dropped
    /// connection), the state is polled instead (`poll_stopped`): starting while the
    /// process is still STOPPING would silently start nothing.
    /// With `--stop-grace` the stop does not block (wait=false) and is polled, so the
    /// process can be killed once the grace has passed (`kill_stopping`).
    fn stop_and_wait(&self, namespec: &str, failed_pid: u32) -> Result<Stopped, String> {
        // Above STOP_DEADLINE it would never come (and could overflow the clock).
        let kill_at = self
            .grace
            .as_ref()
            .map(|g| self.clock.now() + g.after.min(STOP_DEADLINE));
        match self.supervisor.stop_process(namespec, kill_at.is_none()) {
            Ok(()) if kill_at.is_none() => Ok(Stopped::Gone),
            Ok(()) => self.poll_stopped(namespec, failed_pid, kill_at),
            Err(e) if e.fault_code() == Some(fault::NOT_RUNNING) => Ok(Stopped::Gone),
            Err(e) if e.fault_code() == Some(fault::SHUTDOWN_STATE) => Ok(Stopped::ShuttingDown),
            Err(e @ ClientError::Fault(_)) => Err(e.to_string()),
            Err(e) => {
                log::warn!("stopping {namespec}: {e}; polling its state instead");
                self.poll_stopped(namespec, failed_pid, kill_at)
            }
        }
    }

    /// Polls until the process has left RUNNING/STOPPING. Before a stop is sent again,
    /// the pid is re-read: a process someone else restarted meanwhile is not ours to
    /// stop.
    /// From `kill_at` on, a process still STOPPING as `failed_pid` is killed, once.
    fn poll_stopped(
        &self,
        namespec: &str,
        failed_pid: u32,
        mut kill_at: Option<Instant>,
    ) -> Result<Stopped, String> {
        let deadline = self.clock.now() + STOP_DEADLINE;
        let mut last_error: Option<ClientError> = None;
        let mut unreachable_since: Option<Instant> = None;
        let mut stop_resent = false;
        while self.clock.now() < deadline {
            match self.supervisor.process_info(namespec) {
                Ok(info) if info.is_running() && info.pid != failed_pid => {
                    return Ok(Stopped::Replaced(info.pid));
                }
                Ok(info)
                    if info.state != ProcessState::Running
                        && info.state != ProcessState::Stopping =>
                {
                    return Ok(Stopped::Gone);
                }
                Ok(info) => {
                    // Still RUNNING as our pid: the cut-off call may never have reached
                    // supervisord.
                    if info.is_running() && !stop_resent {
                        stop_resent = true;
                        self.stop_again(namespec)?;
                    }
                    let stopping = info.state == ProcessState::Stopping && info.pid == failed_pid;
                    if stopping && kill_at.is_some_and(|at| self.clock.now() >= at) {
                        kill_at = None;
                        self.kill_stopping(namespec, failed_pid);
                    }
                    last_error = None;
                    unreachable_since = None;
                }
                // A reload or shutdown: supervisord answers nothing else until it is
                // back, stops the program itself at its stopwaitsecs, and starts it.
                // Waiting here would hold its reload up while it waits for httpok.
                Err(e) if e.fault_code() == Some(fault::SHUTDOWN_STATE) => {
                    return Ok(Stopped::ShuttingDown);
                }
                // supervisord going away mid-restart: retry for a while, not for ever.
                Err(e) => {
                    let now = self.clock.now();
                    let since = *unreachable_since.get_or_insert(now);
                    if now.saturating_duration_since(since) >= UNREACHABLE_DEADLINE {
                        return Err(format!(
                            "supervisord unreachable for {}s while stopping: {e}",
                            UNREACHABLE_DEADLINE.as_secs()
                        ));
                    }
                    last_error = Some(e);
                }
            }
            self.clock.sleep(self.poll);
        }
        Err(match last_error {
            Some(e) => format!("still not stopped after {}s: {e}", STOP_DEADLINE.as_secs()),
            None => format!("still stopping after {}s", STOP_DEADLINE.as_secs()),
        })
    }

    /// The non-blocking stop sent once while polling; a fault other than NOT_RUNNING
    /// ends the restart.
    fn stop_again(&self, namespec: &str) -> Result<(), String> {
        match self.supervisor.stop_process(namespec, false) {
            Err(e @ ClientError::Fault(_)) if e.fault_code() != Some(fault::NOT_RUNNING) => {
                Err(e.to_string())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
pub(crate) mod fake;
pub(crate) mod gate;
pub(crate) mod kill;
pub(crate) mod resume;
#[cfg(test)]
mod tests;
