//! The round planner: counts each check's failed rounds, judges every program on all
//! the checks that name it together, and decides who is restarted when. Pure: verdicts,
//! supervisord's process list and a clock in, a [`Plan`] out.
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
//!   is an incident (`checks.rs`): one WARN, at most one mail, one line when it passes.
//! * Within one check's selection at most `--parallel-restarts` processes are down at
//!   once (superlance restarted them one by one); the next starts when the previous is
//!   RUNNING again or has failed. While that rolling restart lasts, the check's failures
//!   are not counted: the URL may fail until the last process is back.
//! * Different checks are independent; a passing check never clears another's failure,
//!   and a program is healthy only when every check naming it passes (`health.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use crate::lifecycle::{Cause, Limits, Program, RestartOutcome, RoundClock, State};
use crate::model::ProcessInfo;
use crate::plan::{Plan, RestartOrder, python_list};
use crate::selection::{Exclusions, Resolved, Selection, spec_matches_namespec};

/// One check's result this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not probed (-E with nothing RUNNING, or its command cannot run).
    NotProbed,
    /// Not probed because its `interval` has not passed: it counts with its last result.
    NotDue,
    Healthy,
    Failing(Cause),
}

/// What the planner is told about a round.
#[derive(Debug, Clone, Copy)]
pub struct RoundFacts<'a> {
    /// One per check, in configuration order.
    pub verdicts: &'a [Verdict],
    /// supervisord's process list; `None` when it was not read (nothing failed and
    /// [`Planner::needs_process_list`] said no) or could not be (`list_error`).
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
    queued: Vec<(usize, String)>,
}

/// Every check's count and every program's lifecycle.
#[derive(Debug)]
pub struct Planner {
    policies: Vec<CheckPolicy>,
    parallel_restarts: u32,
    selections: Vec<Selection>,
    /// Each check's name in notices (its URLs).
    labels: Vec<String>,
    exclusions: Exclusions,
    dry_run: bool,
    checks: Vec<CheckState>,
    programs: BTreeMap<String, Program>,
    /// Each program's limits from the checks that named it in the last listed round.
    limits: HashMap<String, Limits>,
    stopping: bool,
}

impl Planner {
    /// A planner whose checks share one policy (the tables of `tests.rs`).
    #[cfg(test)]
    pub fn new(
        policy: PolicyConfig,
        selections: Vec<Selection>,
        exclusions: Exclusions,
        dry_run: bool,
    ) -> Planner {
        let check = CheckPolicy {
            failures: policy.failures,
            grace: policy.grace,
            max_restarts: policy.max_restarts,
            ..CheckPolicy::default()
        };
        let checks = selections.into_iter().map(|s| (s, check.clone())).collect();
        Planner::for_checks(checks, policy.parallel_restarts, exclusions, dry_run)
    }

    /// A planner for checks with policies of their own, in configuration order.
    pub fn for_checks(
        checks: Vec<(Selection, CheckPolicy)>,
        parallel_restarts: u32,
        exclusions: Exclusions,
        dry_run: bool,
    ) -> Planner {
        let (selections, policies): (Vec<Selection>, Vec<CheckPolicy>) = checks.into_iter().unzip();
        Planner {
            checks: vec![CheckState::default(); selections.len()],
            labels: vec![String::new(); selections.len()],
            policies,
            parallel_restarts,
            limits: HashMap::new(),
            selections,
            exclusions,
            dry_run,
            programs: BTreeMap::new(),
            stopping: false,
        }
    }

    /// Names the checks in notices (their URLs, in configuration order).
    pub fn label_checks(&mut self, labels: Vec<String>) {
        self.labels = labels;
    }

    /// Whether a round must read the process list even if every check passes: some
    /// program is in a state that the next facts may change (restarted, down, given up).
    pub fn needs_process_list(&self) -> bool {
        self.programs
            .values()
            .any(|p| *p.state() != State::Watching)
    }

    pub fn program(&self, namespec: &str) -> Option<&Program> {
        self.programs.get(namespec)
    }

    /// Every program judged so far, by namespec.
    pub fn programs(&self) -> impl Iterator<Item = &Program> {
        self.programs.values()
    }

    /// Check `i`'s failed rounds in a row.
    pub fn check_failures(&self, i: usize) -> u32 {
        self.checks.get(i).map_or(0, |c| c.streak)
    }

    /// The limits a program is judged by: those of the checks naming it, or, for one
    /// no check named in the last listed round, the most careful of all.
    fn limits_of(&self, namespec: &str) -> Limits {
        self.limits
            .get(namespec)
            .copied()
            .unwrap_or_else(|| strictest(self.policies.iter()))
    }

    /// Judges one round.
    pub fn plan_round(&mut self, facts: &RoundFacts<'_>) -> Plan {
        let mut plan = Plan::default();
        for (i, verdict) in facts.verdicts.iter().enumerate() {
            self.count(i, verdict, &facts.clock, &mut plan);
        }
        let Some(processes) = facts.processes else {
            self.judge_unlisted(facts, &mut plan);
            return plan;
        };
        let resolved: Vec<Resolved<'_>> = self
            .selections
            .iter()
            .map(|s| s.resolve(processes, &self.exclusions))
            .collect();
        for (i, r) in resolved.iter().enumerate() {
            self.report_unresolved(i, r, &mut plan);
        }
        let judgeable = self.observe_programs(processes, &resolved, facts, &mut plan);
        let mut trips = Trips::default();
        for (i, verdict) in facts.verdicts.iter().enumerate() {
            if let Verdict::Failing(cause) = verdict {
                let found = Found {
                    resolved: &resolved[i],
                    judgeable: &judgeable,
                };
                self.judge_failure(i, cause, &found, facts.clock.now, &mut trips, &mut plan);
            }
        }
        self.announce(&trips, &mut plan);
        self.dispatch(&mut plan);
        plan
    }

    /// A round without the process list: failing checks restart nothing, and say why.
    fn judge_unlisted(&mut self, facts: &RoundFacts<'_>, plan: &mut Plan) {
        for (i, verdict) in facts.verdicts.iter().enumerate() {
            let Verdict::Failing(cause) = verdict else {
                continue;
            };
            if self.names_no_program(i) {
                self.fail_without_program(i, cause, facts.clock.now, plan);
            } else if let Some(error) = facts.list_error {
                let why = Unjudged::Unlisted(error.to_string());
                self.fail_unjudged(i, cause, &why, facts.clock.now, plan);
            }
        }
    }

    /// Check `i` was given no program: it probes, logs and mails.
    fn names_no_program(&self, i: usize) -> bool {
        matches!(self.selections.get(i), Some(Selection::Programs(p)) if p.is_empty())
    }

    fn judge_failure(
        &mut self,
        i: usize,
        cause: &Cause,
        found: &Found<'_, '_>,
        now: Instant,
        trips: &mut Trips,
        plan: &mut Plan,
    ) {
        if !self.checks[i].rolling.is_empty() {
            plan.debug(format!("{}; its restart is under way", cause.line()));
            return;
        }
        if self.names_no_program(i) {
            self.fail_without_program(i, cause, now, plan);
            return;
        }
        let targets: Vec<(String, u32)> = found
            .resolved
            .processes
            .iter()
            .map(|p| p.namespec())
            .filter(|ns| self.programs.get(ns).is_some_and(|p| !p.is_busy()))
            .filter_map(|ns| found.judgeable.get(&ns).map(|pid| (ns, *pid)))
            .collect();
        if targets.is_empty() {
            match self.unjudged_reason(found.resolved) {
                Some(why) => self.fail_unjudged(i, cause, &why, now, plan),
                None => plan.debug(format!(
                    "{}; no program of this check can be judged now (starting, in grace, \
                     being restarted or given up on); not counting it",
                    cause.line()
                )),
            }
            return;
        }
        self.announce_failing(i, cause, plan);
        let threshold = self.policies.get(i).map_or(1, |p| p.failures);
        let check = &mut self.checks[i];
        check.failures += 1;
        if check.failures < threshold {
            plan.warn(format!(
                "{} (failing {}/{threshold})",
                cause.line(),
                check.failures
            ));
            return;
        }
        check.failures = 0;
        plan.warn(cause.line());
        for (namespec, pid) in targets {
            if !trips.tripped.insert(namespec.clone()) {
                continue;
            }
            if self.dry_run {
                plan.info(format!("would restart {namespec} ({})", cause.reason));
                continue;
            }
            let limits = self.limits_of(&namespec);
            let Some(program) = self.programs.get_mut(&namespec) else {
                continue;
            };
            if program.trip(pid, cause, vec![cause.line()], now, &limits, plan) {
                self.checks[i].rolling.push(namespec.clone());
                trips.queued.push((i, namespec));
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
        for (i, _) in &trips.queued {
            match self.selections.get(*i) {
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
    fn report_unresolved(&mut self, i: usize, resolved: &Resolved<'_>, plan: &mut Plan) {
        let mut now: Vec<String> = resolved.missing.clone();
        now.extend(resolved.ambiguous.iter().map(|(spec, _)| spec.clone()));
        if now == self.checks[i].reported {
            return;
        }
        // A spec naming a program that was listed before is the lifecycle's to report
        // ("no longer in supervisord's process list"): one line, not two.
        let fresh_missing: Vec<String> = resolved
            .missing
            .iter()
            .filter(|s| !self.checks[i].reported.contains(s))
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
            if !self.checks[i].reported.contains(spec) {
                plan.error(format!(
                    "-p {spec} matches several processes ({}), NOT restarting them: name \
                     one as group:name",
                    matches.join(", ")
                ));
            }
        }
        self.checks[i].reported = now;
    }

    /// Starts queued restarts while each check's selection has a free slot.
    fn dispatch(&mut self, plan: &mut Plan) {
        if self.stopping {
            return;
        }
        let slots = self.parallel_restarts.max(1) as usize;
        for check in &mut self.checks {
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
                    });
                    in_flight += 1;
                }
            }
        }
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
}

mod checks;
mod health;
mod persist;
mod policy;

use checks::{CheckState, Unjudged};
use health::Found;

pub use policy::CheckPolicy;
#[cfg(test)]
pub use policy::PolicyConfig;
use policy::strictest;
#[cfg(test)]
mod tests;
