//! Carrying out a plan (log lines, notices, restart orders), and the restart and resume
//! jobs, each on a thread of its own, that report back to the planner. The notices
//! thread is `notices.rs`'s.

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::Shared;
use crate::lock;
use crate::planner::plan::Plan;
use crate::restart::kill::{RealKill, StopGrace};
use crate::restart::{POLL_INTERVAL, RealClock, Restarter};
use crate::state_file::StopRecord;

/// Carries out a plan: logs, queues notices, starts restart jobs.
pub(super) fn apply(shared: &Arc<Shared>, plan: Plan) {
    for line in &plan.lines {
        log::log!(line.level, "{}", line.text);
    }
    for notice in plan.notices {
        if shared.notifier.wants(&notice) {
            shared.notices.push(notice);
        }
    }
    for order in plan.restarts {
        let job = Job::Restart(order.pid, order.stop_grace);
        spawn_job(shared, job, order.namespec);
    }
}

/// One restart job: restart, then tell the planner (which may start the next one).
fn run_job(shared: &Arc<Shared>, job: Job, namespec: &str) {
    let stop_grace = match job {
        Job::Restart(_, grace) => grace,
        Job::Resume(_) => None,
    };
    let restarter = Restarter {
        supervisor: &*shared.supervisor,
        notifier: &*shared.notifier,
        gate: &shared.gate,
        journal: &**shared,
        clock: &RealClock,
        poll: POLL_INTERVAL,
        grace: stop_grace.map(|after| StopGrace {
            after,
            kill: &RealKill,
            warned: &shared.kill_warned,
        }),
    };
    let mut notes = Vec::new();
    let outcome = match job {
        Job::Restart(pid, _) => restarter.restart(namespec, pid, &mut |line| {
            log::info!("{line}");
            notes.push(line);
        }),
        Job::Resume(record) => {
            // Copies: the planner's lock is not taken while supervisord is asked.
            let (naming, dry_run) = {
                let planner = lock(&shared.planner);
                (planner.naming(), planner.dry_run())
            };
            restarter.resume(namespec, &record, &|info| naming.names(info), dry_run)
        }
    };
    let plan = shared
        .update(|planner| planner.restart_finished(namespec, &outcome, &notes, Instant::now()));
    apply(shared, plan);
}

/// What a job does: a restart of the pid that failed, which the planner ordered, or
/// one a previous httpok left between its stop and its start.
#[derive(Debug, Clone, Copy)]
pub(super) enum Job {
    /// The pid that failed, and the ordering check's `--stop-grace`.
    Restart(u32, Option<Duration>),
    Resume(StopRecord),
}

/// Starts a job on its own thread.
pub(super) fn spawn_job(shared: &Arc<Shared>, job: Job, namespec: String) {
    let job_shared = Arc::clone(shared);
    let name = namespec.clone();
    let spawned = thread::Builder::new()
        .name(format!("restart {name}"))
        .spawn(move || run_job(&job_shared, job, &namespec));
    match spawned {
        Ok(handle) => {
            let mut jobs = lock(&shared.jobs);
            jobs.retain(|j| !j.is_finished());
            jobs.push(handle);
        }
        Err(e) => log::error!("cannot start a restart thread for {name}: {e}"),
    }
}

/// Joins a thread, or leaves it behind after `timeout`.
pub(super) fn join_within(handle: JoinHandle<()>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !handle.is_finished() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    if handle.is_finished() {
        let _ = handle.join();
    }
}
