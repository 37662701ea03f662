//! The driver: one round per fresh TICK, carried out step by step as the [`Planner`]
//! says (read the process list, probe these targets, carry out the plan), restart jobs
//! on their own threads so the listener is never BUSY for a stop's stopwaitsecs,
//! notices on a thread of their own, and a shutdown that never leaves a program
//! stopped. It decides nothing itself: which checks are probed, when the list is read,
//! what a probe's outcome means and what is said are the planner's.
//! `setup.rs`: its parts from the configuration; `jobs.rs`: carrying out a plan and the
//! restart jobs; `notices.rs`: the notices thread.
//!
//! ```text
//! TICK ─► Round::begin ─► loop: planner.next_step(round, now)
//!                                ├─ ReadList        ─► supervisord ─► round.listed
//!                                ├─ Probe(requests) ─► prober      ─► round.probed
//!                                └─ Done(plan)      ─► publish ─► apply(plan)
//!                                                                  ├─► log lines
//!                                                                  ├─► notices thread (mail, hook)
//!                                                                  └─► restart job ─► restart_finished ─► publish ─► apply
//! ```
//!
//! What is shown and kept is published from the planner (`Shared::update`): the
//! `/status` snapshot is replaced and the state file handed to the keeper's writer after
//! every round, restart outcome and restart stop.

use std::io::{self, BufRead, Write};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::config::Config;
use crate::listener::event::Event;
use crate::listener::ticks::TickClock;
use crate::listener::{self, EventReader};
use crate::notify::Notifier;
pub use crate::planner::selection::Exclusions;
use crate::planner::status::Snapshot;
use crate::planner::{ListError, Moment, Planner, Round, Step};
use crate::probe::Probe;
use crate::restart::gate::Gate;
use crate::restart::{Journal, STOP_DEADLINE};
use crate::state_file::StopRecord;
use crate::state_file::keeper::{Keeper, STOP_RECORD_WAIT, epoch_now};
use crate::supervisor::model::ProcessInfo;
use crate::supervisor::{Supervisor, fault};
use crate::watcher::advice::{stopwait_advice, unknown_program_advice};

/// How long the last state may take to reach the disk at exit.
const STATE_FLUSH: Duration = Duration::from_secs(2);

/// How long notices still queued at exit may take to go out.
const NOTICE_DRAIN: Duration = Duration::from_secs(15);

/// What the listener thread, the restart jobs and the signal thread share.
///
/// Two locks, taken in this order and never the other way round: `planner` (the one
/// value that decides and knows: checks, programs, rounds, what the state file keeps),
/// then `status` (its published view, shared with the metrics endpoint). Every other
/// lock (`notices`, `notice_thread`, `jobs`, the gate's, the state file writer's) is
/// taken alone. Locks hold memory only: no file IO, child process, network call or log
/// line while one is held (a hung disk or supervisord must never stall a round,
/// `/metrics` or a stop).
struct Shared {
    planner: Mutex<Planner>,
    status: Arc<Mutex<Snapshot>>,
    supervisor: Arc<dyn Supervisor>,
    notifier: Arc<dyn Notifier>,
    gate: Gate,
    notices: Arc<NoticeQueue>,
    keeper: Keeper,
    notice_thread: Mutex<Option<JoinHandle<()>>>,
    jobs: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    /// Changes the planner and publishes what it shows and keeps now: the `/status`
    /// snapshot under the planner's lock, the state file to the writer after it.
    fn update<T>(&self, change: impl FnOnce(&mut Planner) -> T) -> T {
        let (result, snapshot) = {
            let mut planner = lock(&self.planner);
            let result = change(&mut planner);
            self.show(&planner);
            (result, self.keeper.snapshot(&planner))
        };
        self.keeper.submit(snapshot);
        result
    }

    /// Publishes what the planner shows and keeps now (after a round's last step).
    fn publish(&self) {
        self.update(|_| ());
    }

    /// The one writer of the `/status` snapshot: the planner's view of itself. Call with
    /// the planner's lock held (the status lock is taken after it).
    fn show(&self, planner: &Planner) {
        *lock(&self.status) = planner.status();
    }
}

/// A restart's stop record goes into its program's state, and to the disk before the
/// stop is issued whenever the disk works (bounded: [`STOP_RECORD_WAIT`]).
impl Journal for Shared {
    fn note_stop(&self, namespec: &str, record: Option<StopRecord>) {
        let snapshot = {
            let mut planner = lock(&self.planner);
            planner.note_stop(namespec, record);
            self.keeper.snapshot(&planner)
        };
        if record.is_some() {
            self.keeper.submit_and_wait(snapshot, STOP_RECORD_WAIT);
        } else {
            self.keeper.submit(snapshot);
        }
    }
}

/// Now on both clocks, for the planner's steps.
fn moment() -> Moment {
    Moment {
        at: Instant::now(),
        wall: SystemTime::now(),
    }
}

/// Watches the checks of one listener process.
pub struct Watcher {
    prober: Arc<dyn Probe>,
    shared: Arc<Shared>,
    ticks: TickClock,
    /// This listener and --exclude, for the advice at start.
    exclusions: Exclusions,
}

/// A handle that stops the watcher from another thread (the signal handler).
#[derive(Clone)]
pub struct Stopper(Arc<Shared>);

impl Watcher {
    pub fn new(
        config: &Config,
        prober: Arc<dyn Probe>,
        supervisor: Arc<dyn Supervisor>,
        notifier: Arc<dyn Notifier>,
        exclusions: Exclusions,
    ) -> Watcher {
        let planner = build_planner(config, exclusions.clone(), SystemTime::now());
        let status = planner.status();
        let notices = Arc::new(NoticeQueue::default());
        let notice_thread = notices::spawn(Arc::clone(&notices), Arc::clone(&notifier));
        Watcher {
            prober,
            shared: Arc::new(Shared {
                planner: Mutex::new(planner),
                status: Arc::new(Mutex::new(status)),
                supervisor,
                notifier,
                gate: Gate::default(),
                notices,
                keeper: Keeper::new(config.state_file.clone()),
                notice_thread: Mutex::new(notice_thread),
                jobs: Mutex::new(Vec::new()),
            }),
            ticks: TickClock::default(),
            exclusions,
        }
    }

    /// Takes back what --state-file kept and finishes any restart the previous httpok
    /// left between its stop and its start. Call once, before the first event.
    pub fn resume(&mut self) {
        self.advise();
        let Some(saved) = self.shared.keeper.load() else {
            return;
        };
        let imported = {
            let mut planner = lock(&self.shared.planner);
            let imported = planner.import(&saved, Instant::now(), epoch_now());
            // Shown at once; nothing is written now: it is on disk. A restart left in
            // flight stays in the state until its resume job has judged it.
            self.shared.show(&planner);
            imported
        };
        apply(&self.shared, imported.plan);
        for (namespec, record) in imported.in_flight {
            spawn_job(&self.shared, Job::Resume(record), namespec);
        }
    }

    /// Warns once if supervisord.conf makes a safe shutdown impossible (advice.rs).
    fn advise(&self) {
        let Some(own) = self.exclusions.own.as_deref() else {
            return;
        };
        match self.shared.supervisor.stop_wait_secs() {
            Ok(stopwaits) => {
                let selections = lock(&self.shared.planner).selections();
                if let Some(advice) =
                    stopwait_advice(own, &stopwaits, &selections, &self.exclusions)
                {
                    log::warn!("{advice}");
                }
                let known: Vec<String> = stopwaits.into_iter().map(|(ns, _)| ns).collect();
                for advice in unknown_program_advice(&known, &selections) {
                    log::warn!("{advice}");
                }
            }
            Err(e) => log::debug!("cannot read supervisord's config info: {e}"),
        }
    }

    /// What the metrics endpoint serves, kept up to date by every round and restart.
    pub fn status(&self) -> Arc<Mutex<Snapshot>> {
        Arc::clone(&self.shared.status)
    }

    pub fn stopper(&self) -> Stopper {
        Stopper(Arc::clone(&self.shared))
    }

    /// Handles one event: a fresh TICK runs a round, anything else is ignored.
    pub fn handle(&mut self, event: &Event) {
        match event {
            Event::Tick { name, when } => {
                let received = Instant::now();
                let period = crate::listener::ticks::period(name);
                if let Some(why) = self.ticks.stale(period, *when, received) {
                    log::debug!("{name} {why}; skipping it");
                    return;
                }
                self.round();
                self.ticks.handled(*when, received, Instant::now());
            }
            Event::Other { name } => {
                log::debug!("ignoring event {}", name.as_deref().unwrap_or("(unnamed)"));
            }
        }
    }

    /// One round: the planner's steps, carried out. Its lock is held for each step's
    /// decision only, never across the process list or the probes.
    pub fn round(&mut self) {
        let mut round = Round::begin(Instant::now());
        loop {
            let step = lock(&self.shared.planner).next_step(&mut round, moment());
            match step {
                Step::ReadList => round.listed(self.read_list(), Instant::now()),
                Step::Probe(requests) => round.probed(self.prober.probe_all(&requests)),
                Step::Done(plan) => {
                    self.shared.publish();
                    apply(&self.shared, plan);
                    return;
                }
            }
        }
    }

    /// supervisord's process list, or why it cannot be read.
    fn read_list(&self) -> Result<Vec<ProcessInfo>, ListError> {
        self.shared.supervisor.all_process_info().map_err(|e| {
            if e.fault_code() == Some(fault::SHUTDOWN_STATE) {
                ListError::Reloading(e.to_string())
            } else {
                ListError::Failed(e.to_string())
            }
        })
    }

    /// Waits until no restart job runs (a job that ends may start the next one).
    #[cfg(test)]
    pub(crate) fn settle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if lock(&self.shared.jobs).iter().all(JoinHandle::is_finished) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// Stops as at EOF: no new restart, stops already issued get their start, notices go out.
    pub fn finish(self) {
        self.stopper().stop("stdin closed");
    }
}

impl Stopper {
    /// Starts no new restart, waits (bounded) until every stop already issued has been
    /// followed by its start, and lets queued notices go out. Safe to call more than
    /// once and from any thread.
    pub fn stop(&self, why: &str) {
        let shared = &self.0;
        let plan = {
            let mut planner = lock(&shared.planner);
            let plan = planner.stop();
            shared.show(&planner);
            plan
        };
        apply(shared, plan);
        let started = Instant::now();
        let holding = shared.gate.close_and_wait(STOP_DEADLINE);
        if holding > 0 {
            log::error!(
                "{why}: {holding} restart(s) still stopping after {}s; exiting without \
                 starting them",
                STOP_DEADLINE.as_secs()
            );
        } else if started.elapsed() > Duration::from_millis(100) {
            log::info!("{why}: restarts under way have issued their starts");
        }
        let jobs = std::mem::take(&mut *lock(&shared.jobs));
        for job in jobs {
            // A job past the gate only polls for RUNNING and returns when it sees it closed.
            join_within(job, Duration::from_secs(5));
        }
        // The last state on disk, unless the disk hangs: then exit without it.
        let snapshot = shared.keeper.snapshot(&lock(&shared.planner));
        shared.keeper.submit_and_wait(snapshot, STATE_FLUSH);
        // No more notices; those queued (a restart's mail) still go out, bounded.
        shared.notices.close();
        if let Some(thread) = lock(&shared.notice_thread).take() {
            join_within(thread, NOTICE_DRAIN);
        }
        let (dropped, in_flight) = shared.notices.abandon();
        if dropped.total() > 0 || in_flight {
            let cut = if in_flight {
                "; one more was still running"
            } else {
                ""
            };
            log::warn!(
                "{why}: {dropped} not sent (a slow MTA or hook: each may take -t, and \
                 httpok waits {}s for them at exit){cut}",
                NOTICE_DRAIN.as_secs()
            );
        }
    }
}

/// The event-listener loop: READY, read an event, handle it, `RESULT 2\nOK`, repeat.
/// Returns at EOF. `output` gets protocol bytes only.
pub fn run_listener(
    input: impl BufRead,
    mut output: impl Write,
    watcher: &mut Watcher,
) -> io::Result<()> {
    let mut reader = EventReader::new(input);
    listener::write_ready(&mut output)?;
    while let Some(raw) = reader.next_event()? {
        if let Some(problem) = &raw.header.problem {
            let shown: String = String::from_utf8_lossy(&raw.payload)
                .chars()
                .take(80)
                .collect();
            log::warn!("malformed event header ({problem}); acknowledging it. payload: {shown:?}");
        }
        if raw.truncated {
            log::debug!("event payload longer than we keep; truncated");
        }
        watcher.handle(&Event::from_raw(&raw));
        listener::write_ok(&mut output)?;
        listener::write_ready(&mut output)?;
    }
    Ok(())
}

pub(crate) mod advice;
mod jobs;
mod notices;
mod setup;
#[cfg(test)]
mod tests;

use crate::lock;
use jobs::{Job, apply, join_within, spawn_job};
use notices::NoticeQueue;
pub use setup::build_prober;
pub(crate) use setup::{build_planner, numbered};
