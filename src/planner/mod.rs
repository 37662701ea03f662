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
//! * Within one check's selection at most `--parallel-restarts` processes are down at
//!   once (superlance restarted them one by one); the next starts when the previous is
//!   RUNNING again or has failed. While that rolling restart lasts, the check's failures
//!   are not counted: the URL may fail until the last process is back.
//! * Different checks are independent; a passing check never clears another's failure.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use crate::lifecycle::{Cause, Health, Limits, Program, RestartOutcome, RoundClock, State, change};
use crate::model::ProcessInfo;
use crate::plan::{Notice, Plan, RestartOrder, python_list};
use crate::selection::{Exclusions, Resolved, Selection, spec_matches_namespec};

/// One check's result this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not probed (-E with nothing RUNNING).
    NotProbed,
    Healthy,
    Failing(Cause),
}

/// What the planner is told about a round.
#[derive(Debug, Clone, Copy)]
pub struct RoundFacts<'a> {
    /// One per check, in configuration order.
    pub verdicts: &'a [Verdict],
    /// supervisord's process list; `None` when it was not read (nothing failed and
    /// [`Planner::needs_process_list`] said no).
    pub processes: Option<&'a [ProcessInfo]>,
    pub clock: RoundClock,
}

#[derive(Debug, Clone, Default)]
struct CheckState {
    failures: u32,
    /// Failed rounds in a row, whatever was counted (for metrics): a trip resets
    /// `failures`, not this.
    streak: u32,
    /// Healthy rounds in a row since the last failure (toward `successes`).
    healthy: u32,
    /// Programs this check queued whose restart has not ended, in restart order.
    rolling: Vec<String>,
    /// `-p` specs reported missing or ambiguous, so each change is said once.
    reported: Vec<String>,
    /// A check with no programs mailed for its current failure.
    mailed: bool,
    /// Its current failure was counted and announced (--on-change "failing").
    announced: bool,
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
            self.count(i, verdict, &mut plan);
        }
        let Some(processes) = facts.processes else {
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
        for (i, verdict) in facts.verdicts.iter().enumerate() {
            match verdict {
                Verdict::NotProbed | Verdict::Healthy => {}
                Verdict::Failing(cause) => self.judge_failure(
                    i,
                    cause,
                    &resolved[i],
                    &judgeable,
                    facts.clock.now,
                    &mut plan,
                ),
            }
        }
        self.dispatch(&mut plan);
        plan
    }

    /// A check's streak, and the --on-change notice when it starts or stops failing.
    /// A healthy round also resets its count toward the threshold.
    fn count(&mut self, i: usize, verdict: &Verdict, plan: &mut Plan) {
        let Some(announced) = self.checks.get(i).map(|c| c.announced) else {
            return;
        };
        let successes = self.policies.get(i).map_or(1, |p| p.successes);
        let check = &mut self.checks[i];
        match verdict {
            Verdict::Healthy => {
                check.healthy = check.healthy.saturating_add(1);
                // A failing check needs `successes` healthy rounds in a row to be healthy.
                let failing = check.failures > 0 || check.streak > 0 || announced;
                if failing && check.healthy < successes {
                    return;
                }
                check.failures = 0;
                check.streak = 0;
                check.mailed = false;
                check.announced = false;
                if announced {
                    plan.notices
                        .push(self.check_change(i, "recovered", "failing", String::new()));
                }
            }
            Verdict::Failing(_) => {
                check.healthy = 0;
                check.streak += 1;
            }
            Verdict::NotProbed => {}
        }
    }

    /// Check `i`'s --on-change notice: its label and the programs it names.
    fn check_change(
        &self,
        i: usize,
        state: &'static str,
        previous: &'static str,
        reason: String,
    ) -> Notice {
        let label = self.labels.get(i).map(String::as_str).unwrap_or_default();
        let program = self
            .selections
            .get(i)
            .map(Selection::label)
            .unwrap_or_default();
        change(label, &program, state, previous, reason)
    }

    /// Feeds every program its facts; returns the pids failing checks may count against.
    fn observe_programs(
        &mut self,
        processes: &[ProcessInfo],
        resolved: &[Resolved<'_>],
        facts: &RoundFacts<'_>,
        plan: &mut Plan,
    ) -> HashMap<String, u32> {
        let by_name: HashMap<String, &ProcessInfo> =
            processes.iter().map(|p| (p.namespec(), p)).collect();
        let mut health: BTreeMap<String, Health<'_>> = BTreeMap::new();
        let mut naming: HashMap<String, Vec<&CheckPolicy>> = HashMap::new();
        for ((r, verdict), policy) in resolved.iter().zip(facts.verdicts).zip(&self.policies) {
            for info in &r.processes {
                let entry = health.entry(info.namespec()).or_insert(Health::Unknown);
                *entry = combine(*entry, verdict);
                naming.entry(info.namespec()).or_default().push(policy);
            }
        }
        self.limits = naming
            .into_iter()
            .map(|(namespec, policies)| (namespec, strictest(policies.into_iter())))
            .collect();
        for namespec in health.keys() {
            self.programs
                .entry(namespec.clone())
                .or_insert_with(|| Program::new(namespec.clone()));
        }
        let fallback = strictest(self.policies.iter());
        let mut judgeable = HashMap::new();
        for (namespec, program) in &mut self.programs {
            let info = by_name.get(namespec).copied();
            let health = health.get(namespec).copied().unwrap_or(Health::Unknown);
            let limits = self.limits.get(namespec).copied().unwrap_or(fallback);
            if let Some(pid) = program.observe(info, health, &facts.clock, &limits, plan) {
                judgeable.insert(namespec.clone(), pid);
            }
        }
        judgeable
    }

    fn judge_failure(
        &mut self,
        i: usize,
        cause: &Cause,
        resolved: &Resolved<'_>,
        judgeable: &HashMap<String, u32>,
        now: Instant,
        plan: &mut Plan,
    ) {
        if !self.checks[i].rolling.is_empty() {
            plan.debug(format!("{}; its restart is under way", cause.line()));
            return;
        }
        let targets: Vec<(String, u32)> = resolved
            .processes
            .iter()
            .map(|p| p.namespec())
            .filter(|ns| self.programs.get(ns).is_some_and(|p| !p.is_busy()))
            .filter_map(|ns| judgeable.get(&ns).map(|pid| (ns, *pid)))
            .collect();
        let notify_only = resolved.processes.is_empty()
            && matches!(&self.selections[i], Selection::Programs(p) if p.is_empty());
        if targets.is_empty() && !notify_only {
            plan.debug(format!(
                "{}; no program of this check can be judged now (starting, in grace, \
                 down, missing or being restarted); not counting it",
                cause.line()
            ));
            return;
        }
        let threshold = self.policies.get(i).map_or(1, |p| p.failures);
        if !self.checks[i].announced {
            self.checks[i].announced = true;
            plan.notices
                .push(self.check_change(i, "failing", "healthy", cause.reason.clone()));
        }
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
        let mut story = vec![cause.line()];
        let announce = match &self.selections[i] {
            Selection::Any => Some("Restarting all running processes".to_string()),
            Selection::Programs(p) if !p.is_empty() => {
                Some(format!("Restarting selected processes {}", python_list(p)))
            }
            Selection::Programs(_) => None,
        };
        if let Some(line) = announce {
            plan.info(line.clone());
            story.push(line);
        }
        if notify_only {
            if !check.mailed {
                check.mailed = true;
                plan.notices.push(Notice::Mail {
                    subject: cause.subject(),
                    body: story,
                });
            }
            return;
        }
        for (namespec, pid) in targets {
            if self.dry_run {
                plan.info(format!("would restart {namespec} ({})", cause.reason));
                continue;
            }
            let limits = self.limits_of(&namespec);
            let Some(program) = self.programs.get_mut(&namespec) else {
                continue;
            };
            if program.trip(pid, cause, story.clone(), now, &limits, plan) {
                self.checks[i].rolling.push(namespec);
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

/// A program's health from one more check naming it: failing wins, then healthy.
fn combine<'a>(so_far: Health<'a>, verdict: &'a Verdict) -> Health<'a> {
    match (so_far, verdict) {
        (Health::Failing(_), _) => so_far,
        (_, Verdict::Failing(cause)) => Health::Failing(cause),
        (_, Verdict::Healthy) => Health::Healthy,
        (_, Verdict::NotProbed) => so_far,
    }
}

mod persist;
mod policy;

pub use policy::CheckPolicy;
#[cfg(test)]
pub use policy::PolicyConfig;
use policy::strictest;
#[cfg(test)]
mod tests;
