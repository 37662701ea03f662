//! Every program's facts for the round: its limits (the most careful of the checks that
//! name it) and its health on all of them together. A program is healthy only when
//! every check naming it has passed since its restart or give-up: those probed this
//! round by this round's result, those its `interval` skipped by their last one.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::{Planner, RoundFacts, Verdict, strictest};
use crate::planner::lifecycle::{Health, Program};
use crate::planner::plan::{CheckId, Plan};
use crate::planner::selection::Resolved;
use crate::supervisor::model::ProcessInfo;

/// What a failing check found in the process list.
pub(super) struct Found<'r, 'p> {
    /// Its selection, resolved.
    pub(super) resolved: &'r Resolved<'p>,
    /// The pids failing checks may count against, by namespec.
    pub(super) judgeable: &'r HashMap<String, u32>,
}

impl Planner {
    /// Feeds every program its facts; returns the pids failing checks may count against.
    pub(super) fn observe_programs(
        &mut self,
        processes: &[ProcessInfo],
        resolved: &BTreeMap<CheckId, Resolved<'_>>,
        facts: &RoundFacts<'_>,
        plan: &mut Plan,
    ) -> HashMap<String, u32> {
        let by_name: HashMap<String, &ProcessInfo> =
            processes.iter().map(|p| (p.namespec(), p)).collect();
        let naming = self.name_programs(resolved);
        let health: HashMap<String, Health<'_>> = self
            .programs
            .iter()
            .filter_map(|(namespec, program)| {
                let checks = naming.get(namespec)?;
                let since = program.judged_since();
                Some((namespec.clone(), self.health(checks, facts, since)))
            })
            .collect();
        let fallback = strictest(self.checks.values().map(|c| &c.policy));
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

    /// The checks naming each listed process, in configuration order; each gets its
    /// limits (the most careful of those checks) and, if new, its lifecycle.
    fn name_programs(
        &mut self,
        resolved: &BTreeMap<CheckId, Resolved<'_>>,
    ) -> BTreeMap<String, Vec<CheckId>> {
        let mut naming: BTreeMap<String, Vec<CheckId>> = BTreeMap::new();
        for (id, r) in resolved {
            for info in &r.processes {
                naming.entry(info.namespec()).or_default().push(*id);
            }
        }
        self.limits = naming
            .iter()
            .map(|(namespec, ids)| {
                let policies = ids
                    .iter()
                    .filter_map(|id| self.checks.get(id))
                    .map(|c| &c.policy);
                (namespec.clone(), strictest(policies))
            })
            .collect();
        for namespec in naming.keys() {
            self.programs
                .entry(namespec.clone())
                .or_insert_with(|| Program::new(namespec.clone()));
        }
        naming
    }

    /// A program's health on the checks naming it. `since`: the restart or give-up its
    /// checks must have passed after.
    fn health<'v>(
        &self,
        naming: &[CheckId],
        facts: &RoundFacts<'v>,
        since: Option<Instant>,
    ) -> Health<'v> {
        let after_since = |at: Instant| since.is_none_or(|s| s <= at);
        let mut probed = false;
        let mut all_passed = true;
        for id in naming {
            match facts.verdicts.get(id) {
                Some(Verdict::Failing(cause)) => return Health::Failing(cause),
                Some(Verdict::Healthy) => {
                    probed = true;
                    all_passed &= after_since(facts.clock.probes_started);
                }
                // Skipped by its interval: its last result stands, and a failure blocks.
                Some(Verdict::NotDue) => {
                    let last = self.checks.get(id).and_then(|c| c.last);
                    all_passed &= last.is_some_and(|l| l.healthy && after_since(l.at));
                }
                Some(Verdict::NothingRunning | Verdict::CannotRun) | None => all_passed = false,
            }
        }
        if probed && all_passed {
            Health::Healthy
        } else {
            Health::Unknown
        }
    }
}
