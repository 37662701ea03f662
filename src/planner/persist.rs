//! The planner's part of `--state-file`: what it keeps across a restart of httpok, and
//! taking it back. Restart times cross as epoch seconds, the only clock two httpok
//! processes share; inside, they are monotonic `Instant`s again. Taking them back also
//! says, per program, how the restarts carried fare under the current
//! `--max-restarts`/`--restart-window` (a changed policy must not give up unexplained).

use std::time::{Duration, Instant};

use super::certs::utc;
use super::{Planner, strictest};
use crate::planner::lifecycle::{Limits, Program};
use crate::planner::plan::Plan;
use crate::state_file::{self, Saved, SavedCheck, SavedProgram, StopRecord};

/// What a state file gave back.
#[derive(Debug, Default, PartialEq)]
pub struct Imported {
    /// Restarts the previous httpok left between stop and start (namespec, record):
    /// each program is busy now, until a resume job has judged its record.
    pub in_flight: Vec<(String, StopRecord)>,
    /// One INFO line per program with restarts carried.
    pub plan: Plan,
}

impl Planner {
    /// What a state file keeps: counts, restart history, restarts between their stop
    /// and their start, and the certificate notices given (epoch seconds, converted
    /// from our monotonic clock at `now` = `epoch`).
    pub fn export(&self, now: Instant, epoch: i64) -> Saved {
        let to_epoch = |t: &Instant| {
            let age =
                i64::try_from(now.saturating_duration_since(*t).as_secs()).unwrap_or(i64::MAX);
            epoch.saturating_sub(age)
        };
        Saved {
            version: state_file::VERSION,
            checks: self
                .checks
                .values()
                .map(|c| SavedCheck {
                    check: c.label.clone(),
                    failures: c.counted(),
                })
                .collect(),
            programs: self
                .programs
                .values()
                .map(|p| {
                    let stop = p.stop_record();
                    SavedProgram {
                        program: p.namespec.clone(),
                        restarts: p.restart_times().map(to_epoch).collect(),
                        gave_up: p.gave_up(),
                        stopping: stop.map(|r| r.pid),
                        stop_issued_at: stop.and_then(|r| r.issued_at),
                    }
                })
                .collect(),
            certs: self.certs.export(now, epoch),
        }
    }

    /// Takes back what a state file kept, at `now` = `epoch`.
    pub fn import(&mut self, saved: &Saved, now: Instant, epoch: i64) -> Imported {
        for check in self.checks.values_mut() {
            if let Some(c) = saved.checks.iter().find(|c| c.check == check.label) {
                check.restore(c.failures);
            }
        }
        self.certs.import(&saved.certs, now, epoch);
        let to_instant = |t: i64| {
            let age = Duration::from_secs(u64::try_from(epoch.saturating_sub(t)).unwrap_or(0));
            now.checked_sub(age).unwrap_or(now)
        };
        let mut imported = Imported::default();
        for p in &saved.programs {
            if let Some(line) = self.carried(p, epoch) {
                imported.plan.info(line);
            }
            let program = self
                .programs
                .entry(p.program.clone())
                .or_insert_with(|| Program::new(p.program.clone()));
            program.restore(p.restarts.iter().map(|t| to_instant(*t)), p.gave_up);
            if let Some(record) = p.stop_record() {
                program.resume(record);
                imported.in_flight.push((p.program.clone(), record));
            }
        }
        imported
    }

    /// How the restarts a program carries fare under the current policy: how many
    /// fall in its window, and when restarts are allowed again (nothing to say without
    /// --max-restarts).
    fn carried(&self, p: &SavedProgram, epoch: i64) -> Option<String> {
        if p.restarts.is_empty() {
            return None;
        }
        let head = format!(
            "{}: {} restart(s) carried from the state file",
            p.program,
            p.restarts.len()
        );
        // Without a limit they change nothing: every start of httpok saying so was noise.
        let (k, window) = self.limits_by_name(&p.program).max_restarts?;
        let w = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        // A time ahead of our clock (a clock stepped back) counts as now.
        let mut within: Vec<i64> = p
            .restarts
            .iter()
            .map(|t| (*t).min(epoch))
            .filter(|t| epoch.saturating_sub(*t) < w)
            .collect();
        within.sort_unstable();
        let head = format!("{head}, {} within --restart-window {w}s", within.len());
        let k = k as usize;
        if k == 0 {
            return Some(format!("{head}; --max-restarts 0 allows none"));
        }
        if within.len() < k {
            return Some(format!(
                "{head}; --max-restarts {k} allows {} more now",
                k - within.len()
            ));
        }
        // Allowed again once all but k-1 of them have left the window.
        let at = within[within.len() - k].saturating_add(w);
        Some(format!(
            "{head}; --max-restarts {k} is reached: restarts are allowed again at {} (in {}s)",
            utc(at),
            at.saturating_sub(epoch)
        ))
    }

    /// The limits of the checks naming `namespec` (by name: no process list yet), or
    /// the most careful of all when none does.
    fn limits_by_name(&self, namespec: &str) -> Limits {
        let policies = || self.checks.values().map(|c| &c.policy);
        let naming = || {
            self.checks
                .values()
                .filter(|c| c.selection.names(namespec))
                .map(|c| &c.policy)
        };
        if naming().next().is_some() {
            strictest(naming())
        } else {
            strictest(policies())
        }
    }
}

#[cfg(test)]
mod tests;
