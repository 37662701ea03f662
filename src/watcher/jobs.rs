//! The watcher's threads: carrying out a plan (log lines, notices, restart orders), and
//! restart and resume jobs that report back to the planner. The notices thread is
//! `notices.rs`'s.

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::Shared;
use crate::lock;
use crate::plan::Plan;
use crate::restart::Restarter;

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
        spawn_job(shared, Job::Restart, order.namespec, order.pid);
    }
}

/// One restart job: restart, then tell the planner (which may start the next one).
fn run_job(shared: &Arc<Shared>, kind: Job, namespec: &str, pid: u32) {
    let journal = |namespec: &str, stopping: Option<u32>| {
        let planner = lock(&shared.planner);
        shared.keeper.journal(namespec, stopping, &planner);
    };
    let restarter = Restarter {
        supervisor: &*shared.supervisor,
        notifier: &*shared.notifier,
        gate: &shared.gate,
        journal: &journal,
    };
    let mut notes = Vec::new();
    let outcome = match kind {
        Job::Restart => restarter.restart(namespec, pid, &mut |line| {
            log::info!("{line}");
            notes.push(line);
        }),
        Job::Resume => {
            let outcome = restarter.resume(namespec, pid);
            journal(namespec, None);
            outcome
        }
    };
    let plan = {
        let mut planner = lock(&shared.planner);
        let plan = planner.restart_finished(namespec, &outcome, &notes, Instant::now());
        lock(&shared.status).record_planner(&planner);
        shared.keeper.save(&planner);
        plan
    };
    apply(shared, plan);
}

/// What a job does: a restart the planner ordered, or one a previous httpok left.
#[derive(Debug, Clone, Copy)]
pub(super) enum Job {
    Restart,
    Resume,
}

/// Starts a job on its own thread.
pub(super) fn spawn_job(shared: &Arc<Shared>, kind: Job, namespec: String, pid: u32) {
    let job_shared = Arc::clone(shared);
    let name = namespec.clone();
    let spawned = thread::Builder::new()
        .name(format!("restart {name}"))
        .spawn(move || run_job(&job_shared, kind, &namespec, pid));
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
