//! A trip and the restart queue: a check naming the program reached its threshold, so
//! it is queued for a restart, or given up on when `--max-restarts` is reached; its turn
//! comes (a restart job owns it), or httpok stops first.

use std::time::Instant;

use super::{Cause, Limits, Program, State, Story, change};
use crate::planner::plan::{Notice, Plan, StateWord};

impl Program {
    /// A check naming it reached its threshold: queue a restart of `pid`, or give up
    /// if the window is full. `story` is the lines logged so far, for the mail. Whether
    /// it was queued.
    pub fn trip(
        &mut self,
        pid: u32,
        cause: &Cause,
        story: Vec<String>,
        now: Instant,
        limits: &Limits,
        plan: &mut Plan,
    ) -> bool {
        self.prune(now, limits);
        if let Some((k, window)) = limits.max_restarts
            && self.restarts.len() >= k as usize
        {
            self.give_up(cause, story, window.as_secs(), now, plan);
            return false;
        }
        self.state = State::Queued {
            pid,
            story: Story {
                cause: cause.clone(),
                lines: story,
            },
        };
        true
    }

    /// The ERROR, the --on-change notice and the mail of a give-up.
    fn give_up(
        &mut self,
        cause: &Cause,
        story: Vec<String>,
        window: u64,
        now: Instant,
        plan: &mut Plan,
    ) {
        let ns = &self.namespec;
        // The real count: more than K when restarts carried in a state file were
        // counted under a larger limit.
        let count = self.restarts.len();
        let line = format!(
            "giving up on {ns}: restarted {count} time(s) within {window}s and {} still fails \
             ({}); not restarting it until the restart window has room",
            cause.about(),
            cause.reason
        );
        plan.error(line.clone());
        plan.notices.push(change(
            cause,
            ns,
            StateWord::GaveUp,
            StateWord::Failing,
            cause.reason.clone(),
        ));
        let mut body = story;
        body.push(line);
        // Not the subject of a restart's mail: this one says nothing restarts.
        plan.notices.push(Notice::Mail {
            subject: format!(
                "giving up on {ns}: {} still fails after {count} restart(s) within {window}s",
                cause.about()
            ),
            body,
        });
        self.state = State::GaveUp {
            since: now,
            answered: false,
        };
    }

    /// Adds a line to the story of the restart it is queued for (its mail's body).
    pub fn add_to_story(&mut self, line: String) {
        if let State::Queued { story, .. } = &mut self.state {
            story.lines.push(line);
        }
    }

    /// Its turn has come: the pid the restart job restarts.
    pub fn begin(&mut self) -> Option<u32> {
        match std::mem::replace(&mut self.state, State::Watching) {
            State::Queued { pid, story } => {
                self.state = State::Restarting {
                    pid,
                    story,
                    stop: None,
                };
                Some(pid)
            }
            // Not queued: left as it was.
            other => {
                self.state = other;
                None
            }
        }
    }

    /// httpok is stopping: a queued restart will not happen.
    pub fn unqueue(&mut self, plan: &mut Plan) {
        if let State::Queued { .. } = self.state {
            plan.info(format!(
                "not restarting {}: httpok is stopping",
                self.namespec
            ));
            self.state = State::Watching;
        }
    }
}
