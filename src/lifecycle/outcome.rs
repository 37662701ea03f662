//! How a restart job's outcome moves a program on: "restarted" (then recovering),
//! "Failed to start/stop process", a skip, or a restart cut short; with the mail, the
//! --on-restart hook and the --on-change notice each one sends.

use std::time::{Duration, Instant};

use super::{Cause, FORKING_HINT, Program, RestartOutcome, Seen, State};
use crate::model::ProcessState;
use crate::plan::{About, Notice, OutcomeWord, Plan};

impl Program {
    /// The restart job ended. `notes` are the lines it logged on the way.
    pub fn finish(
        &mut self,
        outcome: &RestartOutcome,
        notes: &[String],
        now: Instant,
        plan: &mut Plan,
    ) {
        let ns = self.namespec.clone();
        let cause = self.cause.clone().unwrap_or_default();
        let mut story = std::mem::take(&mut self.story);
        story.extend(notes.iter().cloned());
        self.count(outcome);
        let (word, line) = match outcome {
            RestartOutcome::Restarted { pid } => {
                self.restarts.push_back(now);
                self.state = State::Recovering {
                    pid: *pid,
                    since: now,
                };
                self.seen = Some(Seen {
                    pid: *pid,
                    at: now,
                    uptime: Duration::ZERO,
                });
                plan.info(format!("{ns} restarted"));
                plan.notices.push(change(
                    &cause.url,
                    &ns,
                    "restarted",
                    "restarting",
                    cause.reason.clone(),
                ));
                (OutcomeWord::Restarted, format!("{ns} restarted"))
            }
            RestartOutcome::StartFailed(why) => {
                self.restarts.push_back(now);
                self.state = State::Down(ProcessState::Fatal);
                self.mailed = true;
                let line = format!("Failed to start process {ns}: {why}; {FORKING_HINT}");
                plan.error(line.clone());
                plan.notices.push(change(
                    &cause.url,
                    &ns,
                    "start-failed",
                    "restarting",
                    why.clone(),
                ));
                (OutcomeWord::Failed, line)
            }
            RestartOutcome::StopFailed(why) => {
                self.state = State::Watching;
                let line = format!("Failed to stop process {ns}: {why}");
                plan.error(line.clone());
                (OutcomeWord::Failed, line)
            }
            RestartOutcome::Skipped(why) => {
                self.state = State::Watching;
                plan.info(why.clone());
                plan.notices.push(hook(&ns, &cause, OutcomeWord::Skipped));
                return;
            }
            // Stopped, and its start issued or left to supervisord: mailed, since -m
            // promises a mail for every restart; no hook, its outcome is not known.
            RestartOutcome::Interrupted(why) => {
                self.restarts.push_back(now);
                self.state = State::Watching;
                let line = format!("{ns}: {why}");
                plan.info(line.clone());
                story.push(line);
                plan.notices.push(Notice::Mail {
                    subject: cause.subject(),
                    body: story,
                });
                return;
            }
        };
        story.push(line);
        plan.notices.push(Notice::Mail {
            subject: cause.subject(),
            body: story,
        });
        plan.notices.push(hook(&ns, &cause, word));
    }

    fn count(&mut self, outcome: &RestartOutcome) {
        let slot = match outcome {
            RestartOutcome::Restarted { .. } => 0,
            RestartOutcome::StartFailed(_) | RestartOutcome::StopFailed(_) => 1,
            RestartOutcome::Skipped(_) => 2,
            RestartOutcome::Interrupted(_) => return,
        };
        self.outcomes[slot] += 1;
    }
}

/// An --on-change notice about a program.
pub fn change(
    check: &str,
    program: &str,
    state: &'static str,
    previous: &'static str,
    reason: String,
) -> Notice {
    Notice::Change {
        about: About::Program,
        check: check.to_string(),
        program: program.to_string(),
        state,
        previous,
        reason,
    }
}

fn hook(program: &str, cause: &Cause, outcome: OutcomeWord) -> Notice {
    Notice::Hook {
        program: program.to_string(),
        url: cause.url.clone(),
        reason: cause.reason.clone(),
        outcome,
    }
}
