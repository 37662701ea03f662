//! The planner: every decision httpok makes, pure, and everything it knows. It owns each
//! [`Check`] (by [`CheckId`]) and each program's [`Program`] lifecycle, and runs a round
//! as a few pure steps ([`Round`], `round.rs`): whether to read supervisord's process
//! list before the probes, which targets to probe (`interval`, `-E`, certificates),
//! how their outcomes become each check's [`Verdict`], whether to read the list after
//! them, and the judging (`judge.rs`), which returns a [`Plan`]. The watcher only
//! carries out what each step asks for. Its clocks are passed in.
//!
//! * Every check has its own [`CheckPolicy`]. A program named by several is judged by
//!   the most careful of them: the longest grace, the most successes, the strictest
//!   restart limit.
//! * A check counts consecutive failed rounds against its `-f` threshold; a round in
//!   which none of its programs can be judged (starting, in grace, down, being restarted)
//!   neither counts nor resets. Reaching the threshold trips the check and resets it.
//! * A tripped check queues its judgeable programs; a program already queued or being
//!   restarted (by this check or another) is not queued again: one restart at a time.
//!   `Restarting selected processes [...]` is said once per round, and only when a
//!   restart was queued.
//! * A failing check that restarts nothing for a reason no restart will end (it names
//!   no program, or none that exists, or only stopped ones; supervisord cannot be read)
//!   is an incident (`incidents.rs`): one WARN, at most one mail, one line when it passes.
//! * Within one check's selection at most `--parallel-restarts` processes are down at
//!   once (superlance restarted them one by one); the next starts when the previous is
//!   RUNNING again or has failed. While that rolling restart lasts, the check's failures
//!   are not counted: the URL may fail until the last process is back.
//! * Different checks are independent; a passing check never clears another's failure,
//!   and a program is healthy only when every check naming it passes (`health.rs`).
//!
//! Files: `check.rs` (one check), `round.rs` (a round's steps), `judge.rs` (the
//! judging), `health.rs` (a program's facts), `incidents.rs`, `certs.rs`
//! (`--cert-expiry-warn`), `persist.rs` (`--state-file`), `shown.rs` (`/status`,
//! `/metrics`), `policy.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime};

use crate::planner::lifecycle::{Cause, Limits, Program, RestartOutcome, State};
use crate::planner::plan::{CheckId, Plan};
use crate::planner::selection::{Exclusions, Naming, Selection};
use crate::state_file::StopRecord;

mod certs;
mod check;
mod health;
mod incidents;
mod judge;
pub(crate) mod lifecycle;
mod persist;
pub(crate) mod plan;
mod policy;
mod round;
pub(crate) mod selection;
mod shown;
pub(crate) mod status;

pub use check::Check;
use check::Counted;
pub use judge::RoundFacts;
pub use policy::CheckPolicy;
pub use round::{ListError, Moment, Round, Step};

use certs::CertWatch;
use policy::strictest;
use round::LIST_EVERY;
use shown::Rounds;

/// One check's result this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not probed: its `interval` has not passed. It counts with its last result.
    NotDue,
    /// Not probed: `-E` and none of its programs is RUNNING.
    NothingRunning,
    /// Probed, but one of its commands cannot run: not judged (the check's fault).
    CannotRun,
    Healthy,
    Failing(Cause),
}

/// What the planner is told once, at start: httpok's settings that are not a check's.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// How many processes of one check's selection may be restarted at once.
    pub parallel_restarts: u32,
    /// Processes never restarted: this listener and `--exclude`.
    pub exclusions: Exclusions,
    /// `--dry-run`: nothing is stopped or started.
    pub dry_run: bool,
    /// Probe checks whose programs are not RUNNING too (without `-E`).
    pub eager: bool,
    /// `--cert-expiry-warn`: warn when a certificate expires within this (`None`: off).
    pub cert_expiry_warn: Option<Duration>,
}

/// Every check and every program, and what the rounds need to remember.
#[derive(Debug)]
pub struct Planner {
    checks: BTreeMap<CheckId, Check>,
    programs: BTreeMap<String, Program>,
    /// Each program's limits from the checks that named it in the last listed round.
    limits: HashMap<String, Limits>,
    settings: Settings,
    /// https targets' certificates: when to read them, and what was said.
    certs: CertWatch,
    /// exec targets whose command could not run, said once each (by name).
    cannot_run: BTreeSet<String>,
    /// httpok could not make some probes for want of descriptors or memory: said once.
    starved: bool,
    /// Healthy rounds since the process list was last read.
    rounds_without_list: u32,
    /// The last process-list error, so a supervisord that is down is said once.
    list_error: Option<String>,
    rounds: Rounds,
    stopping: bool,
}

impl Planner {
    /// A planner for these checks (their ids their own), for an httpok started at
    /// `started` (what `/status` shows as the last round's end until the first one).
    pub fn new(checks: Vec<Check>, settings: Settings, started: SystemTime) -> Planner {
        Planner {
            checks: checks.into_iter().map(|c| (c.id, c)).collect(),
            programs: BTreeMap::new(),
            limits: HashMap::new(),
            certs: CertWatch::new(settings.cert_expiry_warn),
            settings,
            cannot_run: BTreeSet::new(),
            starved: false,
            // The first round reads it, so every program is known (and in the metrics)
            // at once.
            rounds_without_list: LIST_EVERY,
            list_error: None,
            rounds: Rounds::new(started),
            stopping: false,
        }
    }

    #[cfg(test)]
    pub(crate) fn check(&self, id: CheckId) -> Option<&Check> {
        self.checks.get(&id)
    }

    #[cfg(test)]
    pub(crate) fn program(&self, namespec: &str) -> Option<&Program> {
        self.programs.get(namespec)
    }

    /// Every check's selection, in configuration order (for the advice at start).
    pub fn selections(&self) -> Vec<Selection> {
        self.checks.values().map(|c| c.selection.clone()).collect()
    }

    /// Whether a round must read the process list even if every check passes: some
    /// program is in a state that the next facts may change (restarted, down, given up).
    fn needs_process_list(&self) -> bool {
        self.programs
            .values()
            .any(|p| *p.state() != State::Watching)
    }

    /// The limits a program is judged by: those of the checks naming it, or, for one
    /// no check named in the last listed round, the most careful of all.
    fn limits_of(&self, namespec: &str) -> Limits {
        self.limits
            .get(namespec)
            .copied()
            .unwrap_or_else(|| strictest(self.checks.values().map(|c| &c.policy)))
    }

    /// A restart job ended: record it and start the next one in its selection.
    pub fn restart_finished(
        &mut self,
        namespec: &str,
        outcome: &RestartOutcome,
        notes: &[String],
        now: Instant,
    ) -> Plan {
        let mut plan = Plan::default();
        if let Some(program) = self.programs.get_mut(namespec) {
            program.finish(outcome, notes, now, &mut plan);
        }
        self.dispatch(&mut plan);
        plan
    }

    /// httpok is stopping: queued restarts are dropped, none is started.
    pub fn stop(&mut self) -> Plan {
        let mut plan = Plan::default();
        self.stopping = true;
        for program in self.programs.values_mut() {
            program.unqueue(&mut plan);
        }
        plan
    }

    /// Which processes the checks of this httpok name (for a resume job, which judges
    /// a restart the previous httpok left on a thread of its own).
    pub fn naming(&self) -> Naming {
        Naming {
            selections: self.selections(),
            exclusions: self.settings.exclusions.clone(),
        }
    }

    /// The stop of `namespec`'s restart is about to be issued (`Some`: its record) or
    /// its start was (`None`): `--state-file` keeps it in between.
    pub fn note_stop(&mut self, namespec: &str, record: Option<StopRecord>) {
        if let Some(program) = self.programs.get_mut(namespec) {
            program.note_stop(record);
        }
    }

    /// --dry-run: nothing is stopped or started.
    pub fn dry_run(&self) -> bool {
        self.settings.dry_run
    }
}

/// Planners for unit tests.
#[cfg(test)]
impl Planner {
    /// A planner for checks of these selections and policies, with no target (the
    /// tests give their verdicts): check N is `CheckId(N)`, labelled `check N`.
    pub(crate) fn of_checks(
        checks: Vec<(Selection, CheckPolicy)>,
        parallel_restarts: u32,
        exclusions: Exclusions,
        dry_run: bool,
    ) -> Planner {
        let checks = checks
            .into_iter()
            .enumerate()
            .map(|(n, (selection, policy))| {
                Check::new(
                    CheckId(n),
                    Some(format!("check {n}")),
                    selection,
                    policy,
                    &[],
                )
            })
            .collect();
        let settings = Settings {
            parallel_restarts,
            exclusions,
            dry_run,
            eager: true,
            cert_expiry_warn: None,
        };
        Planner::new(checks, settings, SystemTime::UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests;
