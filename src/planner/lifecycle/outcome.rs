//! How a restart job's outcome moves a program on: "restarted" (then recovering),
//! "Failed to start/stop process", a skip, or a restart cut short; with the mail, the
//! --on-restart hook and the --on-change notice each one sends.

use std::time::{Duration, Instant};

use super::{Cause, FORKING_HINT, Program, RestartCounts, RestartOutcome, Seen, State, Story};
use crate::planner::plan::{About, Notice, OutcomeWord, Plan, StateWord};
use crate::supervisor::model::ProcessState;

impl Program {
    /// The restart job ended. `notes` are the lines it logged on the way. A restart is
    /// mailed (-m promises a mail for every restart) unless it was skipped, and its hook
    /// runs unless it was cut short (its outcome is not known).
    pub fn finish(
        &mut self,
        outcome: &RestartOutcome,
        notes: &[String],
        now: Instant,
        plan: &mut Plan,
    ) {
        let Story { cause, mut lines } = match std::mem::replace(&mut self.state, State::Watching) {
            State::Queued { story, .. } | State::Restarting { story, .. } => story,
            _ => Story::default(),
        };
        lines.extend(notes.iter().cloned());
        self.counts.record(outcome);
        let ns = self.namespec.clone();
        let (line, word) = match outcome {
            RestartOutcome::Restarted { pid } => {
                self.restarted(*pid, &cause, now, plan);
                (
                    Some(format!("{ns} restarted")),
                    Some(OutcomeWord::Restarted),
                )
            }
            RestartOutcome::StartFailed(why) => {
                let line = self.start_failed(why, &cause, now, plan);
                (Some(line), Some(OutcomeWord::Failed))
            }
            RestartOutcome::StopFailed(why) => {
                let line = format!("Failed to stop process {ns}: {why}");
                plan.error(line.clone());
                (Some(line), Some(OutcomeWord::Failed))
            }
            RestartOutcome::Skipped(why) => {
                plan.info(why.clone());
                (None, Some(OutcomeWord::Skipped))
            }
            // Stopped, and its start issued or left to supervisord.
            RestartOutcome::Interrupted(why) => {
                self.restarts.push_back(now);
                let line = format!("{ns}: {why}");
                plan.info(line.clone());
                (Some(line), None)
            }
        };
        if let Some(line) = line {
            lines.push(line);
            plan.notices.push(Notice::Mail {
                subject: cause.subject(),
                body: lines,
            });
        }
        if let Some(word) = word {
            plan.notices.push(hook(&ns, &cause, word));
        }
    }

    /// Stopped, but the new process did not reach RUNNING: down, and mailed by this
    /// restart's mail (no second one while it stays down). The line for that mail.
    fn start_failed(&mut self, why: &str, cause: &Cause, now: Instant, plan: &mut Plan) -> String {
        self.restarts.push_back(now);
        self.state = State::Down {
            state: ProcessState::Fatal,
            mailed: true,
        };
        let ns = &self.namespec;
        let line = format!("Failed to start process {ns}: {why}; {FORKING_HINT}");
        plan.error(line.clone());
        plan.notices.push(change(
            cause,
            ns,
            StateWord::StartFailed,
            StateWord::Restarting,
            why.to_string(),
        ));
        line
    }

    /// RUNNING again as `pid`: recovering, its age known exactly (it just started).
    fn restarted(&mut self, pid: u32, cause: &Cause, now: Instant, plan: &mut Plan) {
        self.restarts.push_back(now);
        self.state = State::Recovering {
            pid,
            since: now,
            cause: cause.clone(),
            healthy_rounds: 0,
        };
        self.seen = Some(Seen {
            pid,
            at: now,
            uptime: Duration::ZERO,
        });
        plan.info(format!("{} restarted", self.namespec));
        plan.notices.push(change(
            cause,
            &self.namespec,
            StateWord::Restarted,
            StateWord::Restarting,
            cause.reason.clone(),
        ));
    }
}

impl RestartCounts {
    fn record(&mut self, outcome: &RestartOutcome) {
        match outcome {
            RestartOutcome::Restarted { .. } => self.restarted += 1,
            RestartOutcome::StartFailed(_) | RestartOutcome::StopFailed(_) => self.failed += 1,
            RestartOutcome::Skipped(_) => self.skipped += 1,
            RestartOutcome::Interrupted(_) => {}
        }
    }
}

/// An --on-change notice about a program, after the failure `cause`.
pub fn change(
    cause: &Cause,
    program: &str,
    state: StateWord,
    previous: StateWord,
    reason: String,
) -> Notice {
    Notice::Change {
        about: About::Program,
        check: cause.check_label().to_string(),
        url: cause.url.clone(),
        program: program.to_string(),
        state,
        previous,
        reason,
    }
}

fn hook(program: &str, cause: &Cause, outcome: OutcomeWord) -> Notice {
    Notice::Hook {
        program: program.to_string(),
        check: cause.check_label().to_string(),
        url: cause.url.clone(),
        reason: cause.reason.clone(),
        outcome,
    }
}
