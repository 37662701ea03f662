//! The driver: one round per fresh TICK (probe, read the process list when it matters,
//! let the [`Planner`] decide, carry out its [`Plan`](crate::plan::Plan)), restart jobs
//! on their own threads so the listener is never BUSY for a stop's stopwaitsecs,
//! notices on a thread of their own, and a shutdown that never leaves a program
//! stopped. It decides nothing itself.
//! `probing.rs`: a round's probes (which checks are due, certificates); `jobs.rs`: the
//! threads it owns (restart jobs, notices).
//!
//! ```text
//! TICK ─► probe all ─► process list ─► planner.plan_round ─► apply(plan)
//!                                                             ├─► log lines
//!                                                             ├─► notices thread (mail, hook)
//!                                                             └─► restart job ─► planner.restart_finished ─► apply
//! ```

use std::collections::HashSet;
use std::io::{self, BufRead, Write};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use crate::advice::{stopwait_advice, unknown_program_advice};
use crate::cert_watch::CertWatch;
use crate::config::{CheckSpec, Config};
use crate::event::Event;
use crate::keeper::{Keeper, epoch_now};
use crate::lifecycle::RoundClock;
use crate::listener::{self, EventReader};
use crate::model::ProcessInfo;
use crate::notifier::Notifier;
use crate::planner::{Planner, RoundFacts, Verdict};
use crate::probe::{Outcome, ProbeRequest, Prober};
use crate::restart::STOP_DEADLINE;
use crate::selection::Exclusions;
use crate::shutdown::Gate;
use crate::status::Snapshot;
use crate::supervisor::{Supervisor, fault};
use crate::ticks::TickClock;

/// What a round needs from the prober; [`Prober`] is the real one.
pub trait Probe: Send + Sync {
    /// Outcomes in request order, each target probed by its check's settings.
    fn probe_all(&self, requests: &[ProbeRequest<'_>]) -> Vec<Outcome>;
}

impl Probe for Prober {
    fn probe_all(&self, requests: &[ProbeRequest<'_>]) -> Vec<Outcome> {
        Prober::probe_all(self, requests)
    }
}

/// After this many healthy rounds without it, the next reads the process list (the 13th:
/// about once a minute on TICK_5).
const LIST_EVERY: u32 = 12;

/// How long the last state may take to reach the disk at exit.
const STATE_FLUSH: Duration = Duration::from_secs(2);

/// How long notices still queued at exit may take to go out.
const NOTICE_DRAIN: Duration = Duration::from_secs(15);

/// What the listener thread, the restart jobs and the signal thread share.
///
/// Locks hold memory only: no file IO, child process, network call or log line while
/// one is held (a hung disk or supervisord must never stall a round, `/metrics` or a
/// stop). Taken in this order, never the other way round: `planner`, then `status`
/// (shared with the metrics server), then the keeper's own (its snapshot). Every other
/// lock (`notices`, `notice_thread`, `jobs`, the gate's, the state file writer's) is
/// taken alone.
struct Shared {
    planner: Mutex<Planner>,
    supervisor: Arc<dyn Supervisor>,
    notifier: Arc<dyn Notifier>,
    gate: Gate,
    notices: Arc<NoticeQueue>,
    status: Arc<Mutex<Snapshot>>,
    keeper: Keeper,
    notice_thread: Mutex<Option<JoinHandle<()>>>,
    jobs: Mutex<Vec<JoinHandle<()>>>,
}

/// Watches the checks of one listener process.
pub struct Watcher {
    checks: Vec<CheckSpec>,
    eager: bool,
    exclusions: Exclusions,
    prober: Arc<dyn Probe>,
    shared: Arc<Shared>,
    ticks: TickClock,
    /// The last process-list error, so a supervisord that is down is said once.
    list_error: Option<String>,
    /// Healthy rounds since the process list was last read.
    rounds_without_list: u32,
    /// When each check was last probed (for `interval`).
    last_probed: Vec<Option<Instant>>,
    /// https targets' certificates: when to read them, and --cert-expiry-warn.
    certs: CertWatch,
    /// exec targets whose command could not run, said once each.
    unrunnable: HashSet<String>,
    /// Probes could not be made for want of descriptors or memory: said once.
    starved: bool,
}

/// Why a round has no process list.
enum Unlisted {
    /// supervisord is shutting down or reloading (routine; it restarts its programs).
    Reloading,
    /// supervisord cannot be reached or refused the call: this error.
    Error(String),
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
        let checks = config
            .checks
            .iter()
            .map(|c| (c.selection.clone(), c.policy.clone()))
            .collect();
        let mut planner = Planner::for_checks(
            checks,
            config.parallel_restarts,
            exclusions.clone(),
            config.dry_run,
        );
        planner.label_checks(config.checks.iter().map(CheckSpec::label).collect());
        let notices = Arc::new(NoticeQueue::default());
        let notice_thread = notices::spawn(Arc::clone(&notices), Arc::clone(&notifier));
        Watcher {
            checks: config.checks.clone(),
            eager: config.eager,
            exclusions,
            prober,
            shared: Arc::new(Shared {
                planner: Mutex::new(planner),
                supervisor,
                notifier,
                gate: Gate::default(),
                notices,
                status: Arc::new(Mutex::new(Snapshot::new(&config.checks))),
                keeper: Keeper::new(config.state_file.clone()),
                notice_thread: Mutex::new(notice_thread),
                jobs: Mutex::new(Vec::new()),
            }),
            ticks: TickClock::default(),
            list_error: None,
            // The first round reads it, so every program is known (and in the metrics) at once.
            rounds_without_list: LIST_EVERY,
            last_probed: vec![None; config.checks.len()],
            certs: CertWatch::new(config.cert_expiry_warn),
            unrunnable: HashSet::new(),
            starved: false,
        }
    }

    /// Takes back what --state-file kept and finishes any restart the previous httpok
    /// left between its stop and its start. Call once, before the first event.
    pub fn resume(&mut self) {
        self.advise();
        let Some(saved) = self.shared.keeper.load() else {
            return;
        };
        self.certs.import(&saved.certs, Instant::now(), epoch_now());
        self.shared.keeper.note_certs(saved.certs.clone());
        let imported = {
            let mut planner = lock(&self.shared.planner);
            let imported = planner.import(&saved, Instant::now(), epoch_now());
            lock(&self.shared.status).record_planner(&planner);
            // Still in flight until its resume job has judged it: the next state
            // written keeps the record (nothing is written now: it is on disk).
            for (namespec, record) in &imported.in_flight {
                self.shared.keeper.note_stop(namespec, Some(*record));
            }
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
                let selections: Vec<_> = self.checks.iter().map(|c| c.selection.clone()).collect();
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
                let period = crate::ticks::period(name);
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

    /// One round. The process list is read before the probes where it decides what to
    /// probe (-E) or where a program's state may change without a failure (restarted,
    /// down, given up), on the first round, and on every 13th healthy round in a row;
    /// otherwise after them, and only if a check failed: most healthy rounds ask
    /// supervisord nothing (docs/benchmarks.md). A list that cannot be read is tried
    /// once per round; the planner still gets the verdicts (and says what fails).
    pub fn round(&mut self) {
        // Also every LIST_EVERY rounds: a watched program that went FATAL while its URL
        // still answers (an orphaned worker holding the port) gets its line too.
        let early_needed = !self.eager
            || self.rounds_without_list >= LIST_EVERY
            || lock(&self.shared.planner).needs_process_list();
        let probes_started = Instant::now();
        let mut unlisted = None;
        let early = if early_needed {
            self.process_list().map_err(|e| unlisted = Some(e)).ok()
        } else {
            None
        };
        let verdicts = self.probe(early.as_deref(), unlisted.is_some());
        let any_failed = verdicts.iter().any(|v| matches!(v, Verdict::Failing(_)));
        let (processes, listed_late) = match early {
            Some(list) => (Some(list), None),
            None if !any_failed || unlisted.is_some() => (None, None),
            None => match self.process_list() {
                Ok(list) => (Some(list), Some(probes_started.elapsed())),
                Err(e) => {
                    unlisted = Some(e);
                    (None, None)
                }
            },
        };
        self.rounds_without_list = match (&processes, &unlisted) {
            (Some(_), _) => 0,
            // Tried again first thing next round, so that its answering again is seen.
            (None, Some(_)) => LIST_EVERY,
            (None, None) => self.rounds_without_list + 1,
        };
        let facts = RoundFacts {
            verdicts: &verdicts,
            processes: processes.as_deref(),
            list_error: match &unlisted {
                Some(Unlisted::Error(text)) => Some(text.as_str()),
                // Routine: supervisord restarts its programs itself when it is back.
                Some(Unlisted::Reloading) | None => None,
            },
            clock: RoundClock {
                now: Instant::now(),
                probes_started,
                listed_late,
            },
        };
        let (plan, snapshot) = {
            let mut planner = lock(&self.shared.planner);
            let plan = planner.plan_round(&facts);
            let mut status = lock(&self.shared.status);
            status.record_planner(&planner);
            status.round_ended(probes_started.elapsed(), SystemTime::now());
            if processes.is_some() || unlisted.is_some() {
                status.supervisord_up = Some(processes.is_some());
            }
            (plan, self.shared.keeper.snapshot(&planner))
        };
        // The disk after the locks: a hung write must not hold up /metrics or a stop.
        self.shared.keeper.submit(snapshot);
        apply(&self.shared, plan);
    }

    /// supervisord's process list, or why it cannot be read (logged once per change).
    fn process_list(&mut self) -> Result<Vec<ProcessInfo>, Unlisted> {
        match self.shared.supervisor.all_process_info() {
            Ok(processes) => {
                if self.list_error.take().is_some() {
                    log::info!("supervisord answers again");
                }
                Ok(processes)
            }
            Err(e) => {
                let text = e.to_string();
                if self.list_error.as_deref() != Some(text.as_str()) {
                    if e.fault_code() == Some(fault::SHUTDOWN_STATE) {
                        log::info!(
                            "supervisord is shutting down or reloading; restarting nothing \
                             until it answers"
                        );
                    } else {
                        log::error!(
                            "cannot read the process list: {text}; restarting nothing until \
                             it answers"
                        );
                    }
                } else {
                    log::debug!("still cannot read the process list: {text}");
                }
                let reloading = e.fault_code() == Some(fault::SHUTDOWN_STATE);
                self.list_error = Some(text.clone());
                Err(if reloading {
                    Unlisted::Reloading
                } else {
                    Unlisted::Error(text)
                })
            }
        }
    }

    /// Waits until no restart job runs (a job that ends may start the next one).
    pub fn settle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if lock(&self.shared.jobs).iter().all(JoinHandle::is_finished) {
                return true;
            }
            thread::sleep(Duration::from_millis(5));
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
        let plan = lock(&shared.planner).stop();
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

mod jobs;
mod notices;
mod probing;
#[cfg(test)]
mod tests;

use crate::lock;
use jobs::{Job, apply, join_within, spawn_job};
use notices::NoticeQueue;
pub use probing::build_prober;
