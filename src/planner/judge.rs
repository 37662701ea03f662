//! Judging a round: each check's verdict counted, every program fed its facts, failing
//! checks counted against their thresholds, tripped ones queueing their programs, and
//! queued restarts started while their selection has a free slot. Verdicts, the process
//! list and a clock in; a [`Plan`] out.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use super::health::Found;
use super::incidents::Unjudged;
use super::{Counted, Planner, Verdict};
use crate::planner::lifecycle::{Cause, Program, RoundClock, State};
use crate::planner::plan::{CheckId, Plan, RestartOrder, StateWord, python_list};
use crate::planner::selection::{Resolved, Selection, spec_matches_namespec};
use crate::supervisor::model::ProcessInfo;

/// What the judging of a round is told.
#[derive(Debug, Clone, Copy)]
pub struct RoundFacts<'a> {
    /// Each check's verdict; a check without one was not probed.
    pub verdicts: &'a BTreeMap<CheckId, Verdict>,
    /// supervisord's process list; `None` when it was not read (nothing failed and no
    /// program needed it) or could not be (`list_error`).
    pub processes: Option<&'a [ProcessInfo]>,
    /// Why the process list could not be read this round (supervisord unreachable, a
    /// 401): a failing check then restarts nothing, and says so.
    pub list_error: Option<&'a str>,
    pub clock: RoundClock,
}

/// What the checks of one round tripped.
#[derive(Debug, Default)]
struct Trips {
    /// Programs a check tripped this round: another failing check does not trip them
    /// again (a second "giving up" or "would restart").
    tripped: HashSet<String>,
    /// (check, program) for each restart queued this round.
    queued: Vec<(CheckId, String)>,
}

impl Planner {
    /// Judges one round.
    pub fn judge(&mut self, facts: &RoundFacts<'_>) -> Plan {
        let mut plan = Plan::default();
        self.count_verdicts(facts, &mut plan);
        let Some(processes) = facts.processes else {
            self.judge_unlisted(facts, &mut plan);
            return plan;
        };
        let exclusions = &self.settings.exclusions;
        let resolved: BTreeMap<CheckId, Resolved<'_>> = self
            .checks
            .values()
            .map(|c| (c.id, c.selection.resolve(processes, exclusions)))
            .collect();
        for (id, r) in &resolved {
            self.report_unresolved(*id, r, &mut plan);
        }
        let judgeable = self.observe_programs(processes, &resolved, facts, &mut plan);
        let mut trips = Trips::default();
        for (id, verdict) in facts.verdicts {
            if let (Verdict::Failing(cause), Some(resolved)) = (verdict, resolved.get(id)) {
                let found = Found {
                    resolved,
                    judgeable: &judgeable,
                };
                self.judge_failure(*id, cause, &found, facts.clock.now, &mut trips, &mut plan);
            }
        }
        self.announce(&trips, &mut plan);
        self.dispatch(&mut plan);
        plan
    }

    /// Every check takes in its verdict; one whose failure ended says so.
    fn count_verdicts(&mut self, facts: &RoundFacts<'_>, plan: &mut Plan) {
        let ids: Vec<CheckId> = self.checks.keys().copied().collect();
        for id in ids {
            let Some(verdict) = facts.verdicts.get(&id) else {
                continue;
            };
            let Some(ended) = self
                .checks
                .get_mut(&id)
                .and_then(|c| c.count(verdict, facts.clock.probes_started))
            else {
                continue;
            };
            if let Some(incident) = ended.incident {
                plan.info(format!("{} passes again", incident.about));
            }
            if ended.announced {
                let notice = self.check_change(id, StateWord::Recovered, StateWord::Failing, None);
                plan.notices.push(notice);
            }
        }
    }

    /// A round without the process list: failing checks restart nothing, and say why.
    fn judge_unlisted(&mut self, facts: &RoundFacts<'_>, plan: &mut Plan) {
        for (id, verdict) in facts.verdicts {
            let Verdict::Failing(cause) = verdict else {
                continue;
            };
            if self.names_no_program(*id) {
                self.fail_without_program(*id, cause, facts.clock.now, plan);
            } else if let Some(error) = facts.list_error {
                let why = Unjudged::Unlisted(error.to_string());
                self.fail_unjudged(*id, cause, &why, facts.clock.now, plan);
            }
        }
    }

    /// The check was given no program: it probes, logs and mails.
    pub(super) fn names_no_program(&self, id: CheckId) -> bool {
        self.checks
            .get(&id)
            .is_some_and(|c| matches!(&c.selection, Selection::Programs(p) if p.is_empty()))
    }

    /// A failing check: counted against its threshold when one of its programs can be
    /// judged, and tripped when it reaches it.
    fn judge_failure(
        &mut self,
        id: CheckId,
        cause: &Cause,
        found: &Found<'_, '_>,
        now: Instant,
        trips: &mut Trips,
        plan: &mut Plan,
    ) {
        if self.checks.get(&id).is_some_and(|c| !c.rolling.is_empty()) {
            plan.debug(format!("{}; its restart is under way", cause.line()));
            return;
        }
        if self.names_no_program(id) {
            self.fail_without_program(id, cause, now, plan);
            return;
        }
        let targets = self.restartable(found);
        if targets.is_empty() {
            self.fail_unjudgeable(id, cause, found.resolved, now, plan);
            return;
        }
        self.announce_failing(id, cause, plan);
        let Some(check) = self.checks.get_mut(&id) else {
            return;
        };
        match check.count_failure() {
            Counted::Below(n) => {
                let threshold = check.policy.failures;
                plan.warn(format!("{} (failing {n}/{threshold})", cause.line()));
            }
            Counted::Tripped => {
                plan.warn(cause.line());
                self.trip(id, cause, targets, now, trips, plan);
            }
        }
    }

    /// The (namespec, pid) a failing check may restart: its processes that can be
    /// judged and are not queued or being restarted.
    fn restartable(&self, found: &Found<'_, '_>) -> Vec<(String, u32)> {
        found
            .resolved
            .processes
            .iter()
            .map(|p| p.namespec())
            .filter(|ns| self.programs.get(ns).is_some_and(|p| !p.is_busy()))
            .filter_map(|ns| found.judgeable.get(&ns).map(|pid| (ns, *pid)))
            .collect()
    }

    /// No program of a failing check can be judged: an incident when no restart or
    /// passing state will end it, else not counted (said at debug).
    fn fail_unjudgeable(
        &mut self,
        id: CheckId,
        cause: &Cause,
        resolved: &Resolved<'_>,
        now: Instant,
        plan: &mut Plan,
    ) {
        match self.unjudged_reason(resolved) {
            Some(why) => self.fail_unjudged(id, cause, &why, now, plan),
            None => plan.debug(format!(
                "{}; no program of this check can be judged now (starting, in grace, \
                 being restarted or given up on); not counting it",
                cause.line()
            )),
        }
    }

    /// A tripped check queues each of its programs (or gives up on it), once per round
    /// whichever check trips it; under --dry-run it only says so.
    fn trip(
        &mut self,
        id: CheckId,
        cause: &Cause,
        targets: Vec<(String, u32)>,
        now: Instant,
        trips: &mut Trips,
        plan: &mut Plan,
    ) {
        for (namespec, pid) in targets {
            if !trips.tripped.insert(namespec.clone()) {
                continue;
            }
            if self.settings.dry_run {
                plan.info(format!("would restart {namespec} ({})", cause.reason));
                continue;
            }
            let limits = self.limits_of(&namespec);
            let Some(program) = self.programs.get_mut(&namespec) else {
                continue;
            };
            if program.trip(pid, cause, vec![cause.line()], now, &limits, plan) {
                if let Some(check) = self.checks.get_mut(&id) {
                    check.rolling.push(namespec.clone());
                }
                trips.queued.push((id, namespec));
            }
        }
    }

    /// superlance's `Restarting selected processes [...]` (or `... all running
    /// processes` for -a), once per round and only when a restart was queued: the specs
    /// of the checks that queued one. It also goes into each queued restart's mail.
    fn announce(&mut self, trips: &Trips, plan: &mut Plan) {
        if trips.queued.is_empty() {
            return;
        }
        let mut specs: Vec<String> = Vec::new();
        let mut any = false;
        for (id, _) in &trips.queued {
            match self.checks.get(id).map(|c| &c.selection) {
                Some(Selection::Any) => any = true,
                Some(Selection::Programs(p)) => {
                    for spec in p {
                        if !specs.contains(spec) {
                            specs.push(spec.clone());
                        }
                    }
                }
                None => {}
            }
        }
        let line = if any {
            "Restarting all running processes".to_string()
        } else {
            format!("Restarting selected processes {}", python_list(&specs))
        };
        plan.info(line.clone());
        for (_, namespec) in &trips.queued {
            if let Some(program) = self.programs.get_mut(namespec) {
                program.add_to_story(line.clone());
            }
        }
    }

    /// Says once per change which `-p` specs match nothing or several groups.
    fn report_unresolved(&mut self, id: CheckId, resolved: &Resolved<'_>, plan: &mut Plan) {
        let Some(check) = self.checks.get_mut(&id) else {
            return;
        };
        let mut now: Vec<String> = resolved.missing.clone();
        now.extend(resolved.ambiguous.iter().map(|(spec, _)| spec.clone()));
        if now == check.reported {
            return;
        }
        // A spec naming a program that was listed before is the lifecycle's to report
        // ("no longer in supervisord's process list"): one line, not two.
        let fresh_missing: Vec<String> = resolved
            .missing
            .iter()
            .filter(|s| !check.reported.contains(s))
            .filter(|s| !self.programs.keys().any(|ns| spec_matches_namespec(s, ns)))
            .cloned()
            .collect();
        if !fresh_missing.is_empty() {
            plan.info(format!(
                "Programs not restarted because they did not exist: {}",
                python_list(&fresh_missing)
            ));
        }
        for (spec, matches) in &resolved.ambiguous {
            if !check.reported.contains(spec) {
                plan.error(format!(
                    "-p {spec} matches several processes ({}), NOT restarting them: name \
                     one as group:name",
                    matches.join(", ")
                ));
            }
        }
        check.reported = now;
    }

    /// Starts queued restarts while each check's selection has a free slot.
    pub(super) fn dispatch(&mut self, plan: &mut Plan) {
        if self.stopping {
            return;
        }
        let slots = self.settings.parallel_restarts.max(1) as usize;
        for check in self.checks.values_mut() {
            check
                .rolling
                .retain(|ns| self.programs.get(ns).is_some_and(Program::is_busy));
            let mut in_flight = check
                .rolling
                .iter()
                .filter(|ns| {
                    self.programs
                        .get(*ns)
                        .is_some_and(|p| matches!(p.state(), State::Restarting { .. }))
                })
                .count();
            for namespec in &check.rolling {
                if in_flight >= slots {
                    break;
                }
                if let Some(pid) = self.programs.get_mut(namespec).and_then(Program::begin) {
                    plan.restarts.push(RestartOrder {
                        namespec: namespec.clone(),
                        pid,
                        stop_grace: check.policy.stop_grace,
                    });
                    in_flight += 1;
                }
            }
        }
    }
}
