//! The planner's part of `--state-file`: what it keeps across a restart of httpok, and
//! taking it back. Restart times cross as epoch seconds, the only clock two httpok
//! processes share; inside, they are monotonic `Instant`s again.

use std::time::{Duration, Instant};

use super::Planner;
use crate::lifecycle::Program;
use crate::state_file::{self, Saved, SavedCheck, SavedProgram};

impl Planner {
    /// What a state file keeps: counts and restart history (epoch seconds, converted
    /// from our monotonic clock at `now` = `epoch`).
    pub fn export(&self, now: Instant, epoch: i64) -> Saved {
        let to_epoch = |t: &Instant| epoch - now.saturating_duration_since(*t).as_secs() as i64;
        Saved {
            certs: Vec::new(),
            version: state_file::VERSION,
            checks: self
                .checks
                .iter()
                .zip(&self.labels)
                .map(|(c, label)| SavedCheck {
                    check: label.clone(),
                    failures: c.failures,
                })
                .collect(),
            programs: self
                .programs
                .values()
                .map(|p| SavedProgram {
                    program: p.namespec.clone(),
                    restarts: p.restart_times().map(to_epoch).collect(),
                    gave_up: p.gave_up(),
                    stopping: None,
                })
                .collect(),
        }
    }

    /// Takes back what a state file kept; returns the restarts left in flight
    /// (namespec, pid stopped), now marked busy: resume each with a job.
    pub fn import(&mut self, saved: &Saved, now: Instant, epoch: i64) -> Vec<(String, u32)> {
        for (i, label) in self.labels.iter().enumerate() {
            if let Some(c) = saved.checks.iter().find(|c| &c.check == label) {
                self.checks[i].failures = c.failures;
            }
        }
        let to_instant = |t: i64| {
            let age = Duration::from_secs(u64::try_from(epoch - t).unwrap_or(0));
            now.checked_sub(age).unwrap_or(now)
        };
        let mut in_flight = Vec::new();
        for p in &saved.programs {
            let program = self
                .programs
                .entry(p.program.clone())
                .or_insert_with(|| Program::new(p.program.clone()));
            program.restore(p.restarts.iter().map(|t| to_instant(*t)), p.gave_up);
            if let Some(pid) = p.stopping {
                program.resume(pid);
                in_flight.push((p.program.clone(), pid));
            }
        }
        in_flight
    }
}
