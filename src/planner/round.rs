//! A round as a few pure steps. The watcher asks [`Planner::next_step`] what to do,
//! does it, and hands back what it found, until the round is judged:
//!
//! ```text
//! Round::begin(now)
//!  next_step ─► ReadList         before the probes: with -E (it decides what is probed), on the
//!     │                          first round, after a list error, every 13th healthy round, and
//!     │                          while a program is not Watching (restarted, down, given up)
//!  next_step ─► Probe(requests)  each check due by its `interval` (with -E: one with a RUNNING
//!     │                          program), every target of it; an https certificate hourly
//!  next_step ─► ReadList         after the probes: only if one failed and it was not read before
//!  next_step ─► Done(plan)       what the list's errors, the certificates and commands that
//!                                cannot run say, then the judging (`judge.rs`)
//! ```
//!
//! Most healthy rounds ask supervisord nothing (docs/benchmarks.md). Nothing here
//! reads a clock: each step is given the [`Moment`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Planner, RoundFacts, Verdict};
use crate::planner::lifecycle::RoundClock;
use crate::planner::plan::{CheckId, Plan, ProbeRequest, TargetId};
use crate::probe::{Failure, Outcome};
use crate::supervisor::model::ProcessInfo;

/// After this many healthy rounds without it, the next reads the process list (the 13th:
/// about once a minute on TICK_5). Without that, a watched program that went FATAL while
/// its URL still answered (an orphaned worker holding the port) was never seen.
pub const LIST_EVERY: u32 = 12;

/// A check with an `interval` is probed when that much has passed since its last
/// probe, less this: rounds start on TICKs, a few milliseconds either side of the
/// boundary, and `interval = 30` on TICK_5 must mean every sixth round, not seventh.
/// Rounds on httpok's own clock (`--interval` below the tick period) are this close to
/// their grid, and are half their spacing apart at most: half the spacing when smaller.
const INTERVAL_SLACK: Duration = Duration::from_secs(1);

/// Now, on both clocks: the monotonic one for every duration, the wall clock for what
/// is shown (unix seconds) and for certificate expiry.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    pub at: Instant,
    pub wall: SystemTime,
}

/// Why supervisord's process list could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListError {
    /// supervisord is shutting down or reloading (SHUTDOWN_STATE): routine, it starts
    /// its programs itself when it is back. The error's text.
    Reloading(String),
    /// Unreachable, refused (a 401), or an answer that makes no sense: the error.
    Failed(String),
}

impl ListError {
    fn text(&self) -> &str {
        match self {
            ListError::Reloading(text) | ListError::Failed(text) => text,
        }
    }
}

/// What the watcher is to do next in a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read supervisord's process list; hand it to [`Round::listed`].
    ReadList,
    /// Probe these targets; hand each outcome, with its request, to [`Round::probed`].
    Probe(Vec<ProbeRequest>),
    /// The round is over: carry out this plan.
    Done(Plan),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    /// The list may have been asked for; the probes are next.
    BeforeProbes,
    /// The probes were asked for; their outcomes are next.
    Probing,
    /// The list may have been asked for again; the judging is next.
    AfterProbes,
    Done,
}

/// One round under way: what it asked the watcher for and was told.
#[derive(Debug)]
pub struct Round {
    /// When it began, before the list and the probes: a verdict is about a pid only if
    /// it was up then.
    started: Instant,
    stage: Stage,
    /// The process list, once read (or why it could not be).
    listing: Option<Result<Vec<ProcessInfo>, ListError>>,
    /// Its lines are in `plan` already.
    listing_said: bool,
    /// Read after the probes, this long after the round began.
    listed_late: Option<Duration>,
    /// When the probes were ordered.
    probes_at: Option<Instant>,
    /// The checks probed, and the prober's answers.
    probed: Vec<CheckId>,
    answers: Vec<(ProbeRequest, Outcome)>,
    verdicts: BTreeMap<CheckId, Verdict>,
    /// What was said before the judging: the list's errors, certificates, commands.
    plan: Plan,
    /// A TICK's round: the checks without an `interval` are due (between TICKs, only
    /// those with one are).
    on_tick: bool,
    /// How much short of its interval a check is still due ([`INTERVAL_SLACK`]).
    slack: Duration,
}

impl Round {
    /// A round beginning at `now`.
    pub fn begin(now: Instant) -> Round {
        Round {
            started: now,
            stage: Stage::Start,
            listing: None,
            listing_said: false,
            listed_late: None,
            probes_at: None,
            probed: Vec::new(),
            answers: Vec::new(),
            verdicts: BTreeMap::new(),
            plan: Plan::default(),
            on_tick: true,
            slack: INTERVAL_SLACK,
        }
    }

    /// A round on httpok's own clock at `now`, `spacing` after the previous slot;
    /// `on_tick`: a TICK came since the last one.
    pub fn between_ticks(now: Instant, spacing: Duration, on_tick: bool) -> Round {
        Round {
            on_tick,
            slack: INTERVAL_SLACK.min(spacing / 2),
            ..Round::begin(now)
        }
    }

    /// The process list as read at `at` (or why it could not be).
    pub fn listed(&mut self, listing: Result<Vec<ProcessInfo>, ListError>, at: Instant) {
        if self.stage == Stage::AfterProbes {
            self.listed_late = Some(at.saturating_duration_since(self.started));
        }
        self.listing = Some(listing);
    }

    /// The outcomes of the probes asked for, each with the request it answers.
    pub fn probed(&mut self, answers: Vec<(ProbeRequest, Outcome)>) {
        self.answers = answers;
    }

    fn processes(&self) -> Option<&[ProcessInfo]> {
        match &self.listing {
            Some(Ok(processes)) => Some(processes),
            _ => None,
        }
    }

    fn any_failing(&self) -> bool {
        self.verdicts
            .values()
            .any(|v| matches!(v, Verdict::Failing(_)))
    }
}

impl Planner {
    /// What the watcher is to do next in `round`, now.
    pub fn next_step(&mut self, round: &mut Round, now: Moment) -> Step {
        loop {
            match round.stage {
                Stage::Start => {
                    round.stage = Stage::BeforeProbes;
                    if self.lists_first() {
                        return Step::ReadList;
                    }
                }
                Stage::BeforeProbes => {
                    self.say_listing(round);
                    round.stage = Stage::Probing;
                    let requests = self.order_probes(round, now.at);
                    if !requests.is_empty() {
                        return Step::Probe(requests);
                    }
                }
                Stage::Probing => {
                    self.take_outcomes(round, now);
                    round.stage = Stage::AfterProbes;
                    if round.listing.is_none() && round.any_failing() {
                        return Step::ReadList;
                    }
                }
                Stage::AfterProbes => {
                    self.say_listing(round);
                    round.stage = Stage::Done;
                    return Step::Done(self.finish_round(round, now));
                }
                Stage::Done => return Step::Done(Plan::default()),
            }
        }
    }

    /// Whether the list is read before the probes.
    fn lists_first(&self) -> bool {
        !self.settings.eager || self.rounds_without_list >= LIST_EVERY || self.needs_process_list()
    }

    /// What a list read says, once per change: supervisord answers again, or cannot be
    /// read (an ERROR; routine INFO while it reloads).
    fn say_listing(&mut self, round: &mut Round) {
        let Some(listing) = round.listing.as_ref().filter(|_| !round.listing_said) else {
            return;
        };
        round.listing_said = true;
        let plan = &mut round.plan;
        let error = match listing {
            Ok(_) => {
                if self.list_error.take().is_some() {
                    plan.info("supervisord answers again");
                }
                return;
            }
            Err(error) => error,
        };
        let text = error.text();
        if self.list_error.as_deref() == Some(text) {
            plan.debug(format!("still cannot read the process list: {text}"));
        } else if let ListError::Reloading(_) = error {
            plan.info(
                "supervisord is shutting down or reloading; restarting nothing until it answers",
            );
        } else {
            plan.error(format!(
                "cannot read the process list: {text}; restarting nothing until it answers"
            ));
        }
        self.list_error = Some(text.to_string());
    }

    /// The requests of this round: every target of each check that is due and, with
    /// -E, has a RUNNING program (unless the list could not be read: then all).
    fn order_probes(&mut self, round: &mut Round, now: Instant) -> Vec<ProbeRequest> {
        round.probes_at = Some(now);
        let unlisted = matches!(round.listing, Some(Err(_)));
        let every = self.settings.eager || unlisted;
        let mut requests = Vec::new();
        for check in self.checks.values_mut() {
            let due = match (check.policy.interval, check.last_probed) {
                (Some(interval), Some(last)) => {
                    now.saturating_duration_since(last) + round.slack >= interval
                }
                (Some(_), None) => true,
                // Without an interval: once per TICK, as superlance did.
                (None, _) => round.on_tick,
            };
            if !due {
                // Its interval has not passed: its last result stands (`health.rs`).
                round.verdicts.insert(check.id, Verdict::NotDue);
                continue;
            }
            let running = every
                || round.processes().is_some_and(|processes| {
                    let resolved = check
                        .selection
                        .resolve(processes, &self.settings.exclusions);
                    resolved.processes.iter().any(|p| p.is_running())
                });
            if !running {
                round.plan.debug(format!(
                    "{}: no watched program is RUNNING; not probing (-E)",
                    check.about()
                ));
                round.verdicts.insert(check.id, Verdict::NothingRunning);
                continue;
            }
            check.last_probed = Some(now);
            round.probed.push(check.id);
            for (index, target) in check.targets.iter().enumerate() {
                requests.push(ProbeRequest {
                    target: TargetId {
                        check: check.id,
                        index,
                    },
                    read_cert: target.https && self.certs.due(&target.name, now),
                });
            }
        }
        requests
    }

    /// The probes' outcomes: certificates, commands that cannot run, each target's
    /// last probe and each probed check's verdict.
    fn take_outcomes(&mut self, round: &mut Round, now: Moment) {
        let answers = std::mem::take(&mut round.answers);
        let probes_at = round.probes_at.unwrap_or(round.started);
        let epoch = epoch_seconds(now.wall);
        for (request, outcome) in &answers {
            if let (true, Some(name)) = (request.read_cert, self.target_name(request.target)) {
                self.certs.record(
                    &name,
                    outcome.cert.as_ref(),
                    probes_at,
                    epoch,
                    &mut round.plan,
                );
            }
        }
        for (request, outcome) in &answers {
            self.note_cannot_run(request.target, outcome, &mut round.plan);
        }
        self.note_starved(&answers, &mut round.plan);
        for (request, outcome) in &answers {
            let id = request.target;
            if let Some(target) = self
                .checks
                .get_mut(&id.check)
                .and_then(|c| c.targets.get_mut(id.index))
            {
                target.record(outcome);
            }
        }
        for id in &round.probed {
            if let Some(check) = self.checks.get(id) {
                round.verdicts.insert(*id, check.verdict());
            }
        }
    }

    fn target_name(&self, id: TargetId) -> Option<String> {
        let check = self.checks.get(&id.check)?;
        Some(check.targets.get(id.index)?.name.clone())
    }

    /// A target as lines name it: `NAME (URL)` for a named check, else the URL.
    fn target_about(&self, id: TargetId) -> Option<String> {
        let check = self.checks.get(&id.check)?;
        let url = &check.targets.get(id.index)?.name;
        Some(match &check.name {
            Some(name) => format!("{name} ({url})"),
            None => url.clone(),
        })
    }

    /// An exec check whose command cannot run (removed, not executable) says so once,
    /// as an ERROR, and again when it runs: its program is not at fault.
    fn note_cannot_run(&mut self, id: TargetId, outcome: &Outcome, plan: &mut Plan) {
        let cannot_run = matches!(outcome.result, Err(Failure::Unrunnable(_)));
        // Most rounds have nothing to say: no name is looked up for them.
        if !cannot_run && self.cannot_run.is_empty() {
            return;
        }
        let Some(target) = self.target_name(id) else {
            return;
        };
        let about = self.target_about(id).unwrap_or_else(|| target.clone());
        match &outcome.result {
            Err(Failure::Unrunnable(why)) => {
                if self.cannot_run.insert(target.clone()) {
                    plan.error(format!(
                        "{about}: {why}; this check cannot judge its program(s) and \
                         restarts nothing until its command runs: fix the check"
                    ));
                }
            }
            _ => {
                if self.cannot_run.remove(&target) {
                    plan.info(format!("{about}: its command runs again"));
                }
            }
        }
    }

    /// Probes httpok could not make for want of its own descriptors or memory: one ERROR
    /// when that starts, one INFO once a round's probes are all made again. Such a probe
    /// judges nothing ([`Check::verdict`](super::check::Check)): restarting a healthy
    /// program because httpok is out of descriptors would be the watchdog doing harm.
    fn note_starved(&mut self, answers: &[(ProbeRequest, Outcome)], plan: &mut Plan) {
        let why = answers.iter().find_map(|(_, o)| match &o.result {
            Err(Failure::Starved(why)) => Some(why),
            _ => None,
        });
        match why {
            Some(why) if !self.starved => {
                self.starved = true;
                plan.error(format!(
                    "httpok cannot make its probes: {why}; the checks it cannot probe judge \
                     nothing and restart nothing until it can. Raise minfds in [supervisord] \
                     (its programs get that limit), or see what holds httpok's descriptors \
                     (ls -l /proc/{}/fd)",
                    std::process::id()
                ));
            }
            None if self.starved && !answers.is_empty() => {
                self.starved = false;
                plan.info("httpok can make its probes again".to_string());
            }
            _ => {}
        }
    }

    /// The judging, after what was said on the way.
    fn finish_round(&mut self, round: &mut Round, now: Moment) -> Plan {
        self.rounds_without_list = match &round.listing {
            Some(Ok(_)) => 0,
            // Tried again first thing next round, so that its answering again is seen.
            Some(Err(_)) => LIST_EVERY,
            None => self.rounds_without_list.saturating_add(1),
        };
        let list_error = match &round.listing {
            Some(Err(ListError::Failed(text))) => Some(text.as_str()),
            // Routine: supervisord restarts its programs itself when it is back.
            Some(Err(ListError::Reloading(_)) | Ok(_)) | None => None,
        };
        let facts = RoundFacts {
            verdicts: &round.verdicts,
            processes: round.processes(),
            list_error,
            clock: RoundClock {
                now: now.at,
                probes_started: round.started,
                listed_late: round.listed_late,
            },
        };
        let judged = self.judge(&facts);
        let supervisord_up = round.listing.as_ref().map(Result::is_ok);
        self.round_ended(
            now.at.saturating_duration_since(round.started),
            now.wall,
            supervisord_up,
        );
        let mut plan = std::mem::take(&mut round.plan);
        plan.extend(judged);
        plan
    }
}

/// The wall clock in whole unix seconds (the state file's and certificates' clock; 0
/// for a clock set before 1970).
pub(crate) fn epoch_seconds(wall: SystemTime) -> i64 {
    wall.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
