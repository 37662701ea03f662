//! One program's life as httpok sees it: a pure state machine, fed each round with
//! supervisord's view of the process and the health of the checks that name it, and fed
//! the outcome of every restart httpok ran. It writes log lines and notices into a
//! [`Plan`](crate::planner::plan::Plan); the [`crate::planner`] decides when to restart, the watcher does the IO.
//! The clock is passed in (monotonic `Instant`s); nothing here sleeps or reads one.
//!
//! Each state carries what only it means: the restart under way its story (cause and
//! lines, for the mail and the hook) and, between its stop and its start, the stop's
//! record; a recovering program its healthy rounds; a down one whether its incident was
//! mailed; a given-up one whether it was told it answers again.
//!
//! ```text
//!                  trip: RUNNING, out of grace, under --max-restarts
//!   Watching ─────────────────────────► Queued{story} ──slot──► Restarting{story, stop}
//!    ▲  ▲  ▲  │ trip over the limit                                │    │ RUNNING again
//!    │  │  │  ▼                                                    │    ▼
//!    │  │  └─ GaveUp{since, answered}                 start failed │   Recovering{pid, since,
//!    │  │      (the window has room)                              │     check, healthy_rounds}
//!    │  └── RUNNING again ── Down{state, mailed} ◄────────────────┘    │ healthy vs new pid
//!    └──────────────────────────────────────────────── "recovered" ────┘
//!   a failed stop, a skip, a restart cut short: Restarting ──► Watching
//!   any state but Queued/Restarting ──not in supervisord's list──► Gone ──listed again──► Watching
//! ```
//!
//! Rules it owns: STARTING/BACKOFF/STOPPING processes and those inside `--grace` are not
//! judged and not reported; a process down through no action of httpok's is never
//! restarted and gets one line per change and at most one mail per incident; "restarted"
//! only once supervisord shows it RUNNING; "recovered" only when the checks pass against
//! the new pid; `--max-restarts` counts restarts that really stopped the process.
//!
//! `observe.rs`: a round's facts; `restart.rs`: a trip (queued or given up) and the
//! queue; `outcome.rs`: how each restart outcome moves it on, with its mail and hooks.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::state_file::StopRecord;
use crate::supervisor::model::ProcessState;

mod observe;
mod outcome;
mod restart;
#[cfg(test)]
mod tests;

pub use outcome::change;

/// Where a program is in its life, with what only that state means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// RUNNING (or not yet seen) and judged by its checks.
    Watching,
    /// A check tripped; waiting for a restart slot in that check's selection.
    Queued { pid: u32, story: Story },
    /// A restart job owns it: stopping, starting, or waiting for RUNNING. `stop`: the
    /// record of the stop issued and not yet followed by its start (`--state-file`
    /// keeps it, so that the next httpok can finish a restart cut short).
    Restarting {
        pid: u32,
        story: Story,
        stop: Option<StopRecord>,
    },
    /// Restarted as `pid` at `since`; "recovered" once its checks pass against it
    /// `successes` rounds in a row (`healthy_rounds` so far). `cause`: the failure
    /// that led to the restart (the --on-change notice's check and URL).
    Recovering {
        pid: u32,
        since: Instant,
        cause: Cause,
        healthy_rounds: u32,
    },
    /// STOPPED, EXITED or FATAL (by the operator, supervisord, or our failed start);
    /// `mailed`: this incident was mailed (by its own mail, the failed start's, or the
    /// give-up's).
    Down { state: ProcessState, mailed: bool },
    /// `--max-restarts` reached (and mailed); no restart until the window has room
    /// again. `since`: when (a restored give-up: its last restart), so that "answers
    /// again" counts only probes after it; `answered`: that was said.
    GaveUp { since: Instant, answered: bool },
    /// Not in supervisord's process list (removed by `supervisorctl update`).
    Gone,
}

impl State {
    /// The state as one word, for metrics and `--status`.
    pub fn word(&self) -> &'static str {
        match self {
            State::Watching => "watching",
            State::Queued { .. } => "queued",
            State::Restarting { .. } => "restarting",
            State::Recovering { .. } => "recovering",
            State::Down { .. } => "down",
            State::GaveUp { .. } => "gave-up",
            State::Gone => "gone",
        }
    }
}

/// What led to a restart and what was said on the way: its mail's subject and body,
/// its hook's URL and reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Story {
    pub cause: Cause,
    /// The lines logged so far, for the mail's body.
    pub lines: Vec<String>,
}

/// How the checks naming a program fared this round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health<'a> {
    /// Nothing to say: no check naming it was probed, or one has not passed since the
    /// restart or give-up (a check skipped by its `interval` counts with its last result).
    Unknown,
    /// Every check naming it passed: those probed this round (at least one) and, at
    /// their last probe, those skipped by their `interval`.
    Healthy,
    /// A check probed this round failed; the first failure.
    Failing(&'a Cause),
}

/// Why a check failed: the check's name, the URL, the reason, and the mail subject's
/// phrase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cause {
    /// The failing check's `name`, when it has one.
    pub check: Option<String>,
    /// The failing URL as logs show it (credentials and query secrets hidden).
    pub url: String,
    /// `status 500`, `timeout after 2.0s`, ...
    pub reason: String,
    /// superlance's subject phrase: `bad status returned`, `bad body returned`, ...
    pub summary: String,
}

impl Cause {
    /// How lines name the failing check: `NAME (URL)`, or the URL of a check without
    /// a name.
    pub fn about(&self) -> String {
        match &self.check {
            Some(name) => format!("{name} ({})", self.url),
            None => self.url.clone(),
        }
    }

    /// The check as hooks get it (`HTTPOK_CHECK`): its name, or the URL.
    pub fn check_label(&self) -> &str {
        self.check.as_deref().unwrap_or(&self.url)
    }

    /// `NAME (URL): reason`, the log line's text.
    pub fn line(&self) -> String {
        format!("{}: {}", self.about(), self.reason)
    }

    /// `NAME (URL): bad status returned`, the mail subject after "httpok: ".
    pub fn subject(&self) -> String {
        format!("{}: {}", self.about(), self.summary)
    }
}

/// Facts about the round that every program is judged against.
#[derive(Debug, Clone, Copy)]
pub struct RoundClock {
    pub now: Instant,
    /// When this round's probes began: a verdict is about a pid only if it was up then.
    pub probes_started: Instant,
    /// The process list was read this long after the probes began (`None`: before them).
    pub listed_late: Option<Duration>,
}

/// Restart-limit and grace settings a program is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub grace: Duration,
    /// (K, window): give up after K restarts within the window.
    pub max_restarts: Option<(u32, Duration)>,
    /// Healthy rounds against the new pid before a restarted program is "recovered".
    pub successes: u32,
}

/// How a restart job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartOutcome {
    /// Stopped, started, and supervisord showed the new pid RUNNING.
    Restarted { pid: u32 },
    /// Stopped, but the new process did not reach RUNNING (supervisord's reason).
    StartFailed(String),
    /// The stop failed; nothing was started.
    StopFailed(String),
    /// Not touched: it was no longer the RUNNING pid that failed (the reason).
    Skipped(String),
    /// Cut short after the stop (httpok or supervisord is stopping); the reason.
    Interrupted(String),
}

/// Restart attempts since httpok started, by outcome (httpok_restarts_total{outcome}).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestartCounts {
    /// RUNNING again.
    pub restarted: u64,
    /// The stop or the start failed.
    pub failed: u64,
    /// Not touched: no longer the pid that failed.
    pub skipped: u64,
}

/// The pid last seen and how old it was then, so grace runs on our monotonic clock.
#[derive(Debug, Clone, Copy)]
struct Seen {
    pid: u32,
    at: Instant,
    uptime: Duration,
}

/// One supervisord process (namespec) and what httpok knows of it.
#[derive(Debug, Clone)]
pub struct Program {
    pub namespec: String,
    state: State,
    /// When each restart in the window stopped the process.
    restarts: VecDeque<Instant>,
    seen: Option<Seen>,
    counts: RestartCounts,
}

impl Program {
    pub fn new(namespec: impl Into<String>) -> Program {
        Program {
            namespec: namespec.into(),
            state: State::Watching,
            restarts: VecDeque::new(),
            seen: None,
            counts: RestartCounts::default(),
        }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Restart attempts so far, by outcome.
    pub fn counts(&self) -> RestartCounts {
        self.counts
    }

    /// The restart history and give-up read back from a state file. A give-up with no
    /// restart left to hold it is over already; one that holds was mailed by the
    /// httpok that gave up.
    pub fn restore(&mut self, restarts: impl IntoIterator<Item = Instant>, gave_up: bool) {
        self.restarts = restarts.into_iter().collect();
        if let Some(&since) = self.restarts.back().filter(|_| gave_up) {
            self.state = State::GaveUp {
                since,
                answered: false,
            };
        }
    }

    /// Whether httpok gave up on it (`--max-restarts`).
    pub fn gave_up(&self) -> bool {
        matches!(self.state, State::GaveUp { .. })
    }

    /// Since when its checks must have passed for it to be "recovered" or to "answer
    /// again": the restart or the give-up; `None` in any other state.
    pub fn judged_since(&self) -> Option<Instant> {
        match self.state {
            State::Recovering { since, .. } | State::GaveUp { since, .. } => Some(since),
            _ => None,
        }
    }

    /// When each restart in the window happened.
    pub fn restart_times(&self) -> impl Iterator<Item = &Instant> {
        self.restarts.iter()
    }

    /// A restart the previous httpok left between its stop and its start (`record`):
    /// a job finishes it (starts the program if it is still stopped).
    pub fn resume(&mut self, record: StopRecord) {
        let cause = Cause {
            check: None,
            url: self.namespec.clone(),
            reason: "a restart the previous httpok did not finish".into(),
            summary: "restart finished".into(),
        };
        self.state = State::Restarting {
            pid: record.pid,
            story: Story {
                cause,
                lines: Vec::new(),
            },
            stop: Some(record),
        };
    }

    /// The stop of the restart under way is about to be issued (`Some`: its record) or
    /// its start was (`None`).
    pub fn note_stop(&mut self, record: Option<StopRecord>) {
        if let State::Restarting { stop, .. } = &mut self.state {
            *stop = record;
        }
    }

    /// The stop issued for a restart whose start is not yet issued.
    pub fn stop_record(&self) -> Option<StopRecord> {
        match self.state {
            State::Restarting { stop, .. } => stop,
            _ => None,
        }
    }

    /// Queued or restarting: a job owns it, rounds leave it alone.
    pub fn is_busy(&self) -> bool {
        matches!(self.state, State::Queued { .. } | State::Restarting { .. })
    }

    /// Restarts within the window, as of the last time it was pruned.
    pub fn restarts_in_window(&self) -> usize {
        self.restarts.len()
    }

    /// Forgets restarts older than the window.
    fn prune(&mut self, now: Instant, limits: &Limits) {
        let Some((_, window)) = limits.max_restarts else {
            self.restarts.clear();
            return;
        };
        while self
            .restarts
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.restarts.pop_front();
        }
    }
}

const FORKING_HINT: &str = "if its log says the address is already in use and it forks \
    (apache2, gunicorn, a shell wrapper without exec), set stopasgroup=true and \
    killasgroup=true in its [program:] section: its old workers keep the port";
