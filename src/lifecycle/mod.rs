//! One program's life as httpok sees it: a pure state machine, fed each round with
//! supervisord's view of the process and the health of the checks that name it, and fed
//! the outcome of every restart httpok ran. It writes log lines and notices into a
//! [`Plan`]; the [`crate::planner`] decides when to restart, the watcher does the IO.
//! The clock is passed in (monotonic `Instant`s); nothing here sleeps or reads one.
//!
//! ```text
//!                  trip: RUNNING, out of grace, under --max-restarts
//!   Watching ──────────────────────────────► Queued ──slot──► Restarting
//!    ▲  ▲  ▲  │ trip over the limit                              │   │ RUNNING again
//!    │  │  │  ▼                                                  │   ▼
//!    │  │  └─ GaveUp (the window has room)           start/stop  │  Recovering ─┐
//!    │  │                                            failed      │   (healthy   │
//!    │  └── RUNNING again ── Down{STOPPED,EXITED,FATAL} ◄────────┘   vs new pid)│
//!    └───────────────────────────────────────────────────────────── "recovered" ┘
//!   any state ──not in supervisord's list──► Gone ──listed again──► Watching
//! ```
//!
//! Rules it owns: STARTING/BACKOFF/STOPPING processes and those inside `--grace` are not
//! judged and not reported; a process down through no action of httpok's is never
//! restarted and gets one line per change and at most one mail per incident; "restarted"
//! only once supervisord shows it RUNNING; "recovered" only when the checks pass against
//! the new pid; `--max-restarts` counts restarts that really stopped the process.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::model::{ProcessInfo, ProcessState};
use crate::plan::{Notice, Plan};

/// Where a program is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// RUNNING (or not yet seen) and judged by its checks.
    Watching,
    /// A check tripped; waiting for a restart slot in that check's selection.
    Queued { pid: u32 },
    /// A restart job owns it: stopping, starting, or waiting for RUNNING.
    Restarting { pid: u32 },
    /// Restarted as `pid`; "recovered" once its checks pass against it.
    Recovering { pid: u32, since: Instant },
    /// STOPPED, EXITED or FATAL (by the operator, supervisord, or our failed start).
    Down(ProcessState),
    /// `--max-restarts` reached; no restart until the window has room again. `since`:
    /// when (a restored give-up: its last restart), so that "answers again" counts only
    /// probes after it.
    GaveUp { since: Instant },
    /// Not in supervisord's process list (removed by `supervisorctl update`).
    Gone,
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

/// Why a check failed: the URL, the reason, and the mail subject's phrase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cause {
    pub url: String,
    /// `status 500`, `timeout after 2.0s`, ...
    pub reason: String,
    /// superlance's subject phrase: `bad status returned`, `bad body returned`, ...
    pub summary: String,
}

impl Cause {
    /// `URL: reason`, the log line's text.
    pub fn line(&self) -> String {
        format!("{}: {}", self.url, self.reason)
    }

    /// `URL: bad status returned`, the mail subject after "httpok: ".
    pub fn subject(&self) -> String {
        format!("{}: {}", self.url, self.summary)
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
    /// The current incident (down, gave up) has been mailed.
    mailed: bool,
    /// Given up, and said that it answers again.
    answered: bool,
    /// What led to the restart under way, for the mail and the hook.
    cause: Option<Cause>,
    /// Lines of the restart under way, for its mail.
    story: Vec<String>,
    /// Restart attempts so far by outcome: restarted, failed, skipped.
    pub outcomes: [u64; 3],
    /// Healthy rounds in a row against the restarted pid (toward `successes`).
    healthy_rounds: u32,
}

const FORKING_HINT: &str = "if its log says the address is already in use and it forks \
    (apache2, gunicorn, a shell wrapper without exec), set stopasgroup=true and \
    killasgroup=true in its [program:] section: its old workers keep the port";

impl Program {
    pub fn new(namespec: impl Into<String>) -> Program {
        Program {
            namespec: namespec.into(),
            state: State::Watching,
            restarts: VecDeque::new(),
            seen: None,
            mailed: false,
            answered: false,
            cause: None,
            story: Vec::new(),
            outcomes: [0; 3],
            healthy_rounds: 0,
        }
    }

    /// The state as one word, for metrics and `--status`.
    pub fn state_word(&self) -> &'static str {
        match self.state {
            State::Watching => "watching",
            State::Queued { .. } => "queued",
            State::Restarting { .. } => "restarting",
            State::Recovering { .. } => "recovering",
            State::Down(_) => "down",
            State::GaveUp { .. } => "gave-up",
            State::Gone => "gone",
        }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// The restart history and give-up read back from a state file. A give-up with no
    /// restart left to hold it is over already.
    pub fn restore(&mut self, restarts: impl IntoIterator<Item = Instant>, gave_up: bool) {
        self.restarts = restarts.into_iter().collect();
        if let Some(&since) = self.restarts.back().filter(|_| gave_up) {
            self.state = State::GaveUp { since };
            self.mailed = true;
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
            State::Recovering { since, .. } | State::GaveUp { since } => Some(since),
            _ => None,
        }
    }

    /// When each restart in the window happened.
    pub fn restart_times(&self) -> impl Iterator<Item = &Instant> {
        self.restarts.iter()
    }

    /// A restart the previous httpok left between its stop and its start: a job
    /// finishes it (starts the program if it is still stopped).
    pub fn resume(&mut self, pid: u32) {
        self.state = State::Restarting { pid };
        self.cause = Some(Cause {
            url: self.namespec.clone(),
            reason: "a restart the previous httpok did not finish".into(),
            summary: "restart finished".into(),
        });
    }

    /// Queued or restarting: a job owns it, rounds leave it alone.
    pub fn is_busy(&self) -> bool {
        matches!(self.state, State::Queued { .. } | State::Restarting { .. })
    }

    /// Restarts within the window, as of the last time it was pruned.
    pub fn restarts_in_window(&self) -> usize {
        self.restarts.len()
    }

    /// Takes in this round's facts; returns the pid to judge if a failing check may
    /// count against it (RUNNING, out of grace, not busy, up before the probes began).
    pub fn observe(
        &mut self,
        info: Option<&ProcessInfo>,
        health: Health<'_>,
        clock: &RoundClock,
        limits: &Limits,
        plan: &mut Plan,
    ) -> Option<u32> {
        let ns = self.namespec.clone();
        let Some(info) = info else {
            if self.state != State::Gone && !self.is_busy() {
                plan.info(format!(
                    "{ns} is no longer in supervisord's process list (supervisorctl \
                     update or remove?); watching for it to come back"
                ));
                self.state = State::Gone;
            }
            return None;
        };
        if self.state == State::Gone {
            plan.info(format!(
                "{ns} is in supervisord's process list again ({})",
                info.state
            ));
            self.state = State::Watching;
        }
        self.note_pid(info, clock);
        if self.is_busy() {
            return None;
        }
        self.prune(clock.now, limits);
        match info.state {
            ProcessState::Running => self.observe_running(info, health, clock, limits, plan),
            state if state.is_down() => {
                self.observe_down(info, health, plan);
                None
            }
            // STARTING, BACKOFF, STOPPING, UNKNOWN: supervisord is on it; not judged.
            _ => None,
        }
    }

    fn observe_running(
        &mut self,
        info: &ProcessInfo,
        health: Health<'_>,
        clock: &RoundClock,
        limits: &Limits,
        plan: &mut Plan,
    ) -> Option<u32> {
        let ns = &self.namespec;
        let before_probes = self
            .up_since(clock)
            .is_some_and(|t| t <= clock.probes_started);
        match self.state.clone() {
            State::Down(_) => {
                plan.info(format!("{ns} is RUNNING again (pid {})", info.pid));
                self.state = State::Watching;
                self.mailed = false;
            }
            State::Recovering { pid, since }
                if health == Health::Healthy
                    && info.pid == pid
                    && since <= clock.probes_started
                    && self.healthy_rounds + 1 < limits.successes =>
            {
                self.healthy_rounds += 1;
                plan.debug(format!(
                    "{ns}: {} of {} healthy round(s) against pid {pid}",
                    self.healthy_rounds, limits.successes
                ));
            }
            State::Recovering { .. } if matches!(health, Health::Failing(_)) => {
                self.healthy_rounds = 0;
            }
            State::Recovering { pid, since }
                if health == Health::Healthy
                    && info.pid == pid
                    && since <= clock.probes_started =>
            {
                self.healthy_rounds = 0;
                let line = format!("{ns} recovered: its checks pass against pid {pid}");
                // The check whose failure led to the restart.
                let url = self
                    .cause
                    .as_ref()
                    .map(|c| c.url.clone())
                    .unwrap_or_default();
                plan.info(line.clone());
                plan.notices.push(Notice::Mail {
                    subject: format!("{ns} recovered"),
                    body: vec![line],
                });
                plan.notices
                    .push(change(&url, ns, "recovered", "restarted", String::new()));
                self.state = State::Watching;
            }
            // Only the window ends a give-up: a program that flaps (answers, fails,
            // answers) must not earn a new ERROR and mail each time.
            State::GaveUp { .. } => {
                let room = limits
                    .max_restarts
                    .is_none_or(|(k, _)| self.restarts.len() < k as usize);
                if room {
                    plan.info(format!(
                        "{ns}: restarts allowed again (the restart window has room again)"
                    ));
                    self.state = State::Watching;
                    self.mailed = false;
                    self.answered = false;
                } else {
                    if health == Health::Healthy && !self.answered {
                        self.answered = true;
                        plan.info(format!(
                            "{ns} answers again; restarts stay off until the restart \
                             window has room"
                        ));
                    }
                    return None;
                }
            }
            _ => {}
        }
        if !before_probes {
            plan.debug(format!(
                "{ns} started while it was probed; judging it next round"
            ));
            return None;
        }
        let uptime = self.uptime(clock.now).unwrap_or_default();
        if uptime < limits.grace {
            if let Health::Failing(cause) = health {
                plan.debug(format!(
                    "{}, but {ns} started {}s ago (--grace {}s); not counting it",
                    cause.line(),
                    uptime.as_secs(),
                    limits.grace.as_secs()
                ));
            }
            return None;
        }
        Some(info.pid)
    }

    fn observe_down(&mut self, info: &ProcessInfo, health: Health<'_>, plan: &mut Plan) {
        let ns = &self.namespec;
        let line = format!(
            "{ns} not in RUNNING state, NOT restarting ({}; httpok restarts only RUNNING \
             processes)",
            info.reason()
        );
        if self.state != State::Down(info.state) {
            plan.info(line.clone());
            self.state = State::Down(info.state);
        }
        if let Health::Failing(cause) = health
            && !self.mailed
        {
            self.mailed = true;
            plan.notices.push(Notice::Mail {
                subject: cause.subject(),
                body: vec![cause.line(), line],
            });
        }
    }

    /// A check naming it reached its threshold: queue a restart of `pid`, or give up
    /// if the window is full. `story` is the lines logged so far, for the mail.
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
            // The real count: more than K when restarts carried in a state file were
            // counted under a larger limit.
            let count = self.restarts.len();
            let line = format!(
                "giving up on {}: restarted {count} time(s) within {}s and {} still fails \
                 ({}); not restarting it until the restart window has room",
                self.namespec,
                window.as_secs(),
                cause.url,
                cause.reason
            );
            plan.error(line.clone());
            plan.notices.push(change(
                &cause.url,
                &self.namespec,
                "gave-up",
                "failing",
                cause.reason.clone(),
            ));
            self.state = State::GaveUp { since: now };
            if !self.mailed {
                self.mailed = true;
                let mut body = story;
                body.push(line);
                // Not the subject of a restart's mail: this one says nothing restarts.
                plan.notices.push(Notice::Mail {
                    subject: format!(
                        "giving up on {}: {} still fails after {count} restart(s) within {}s",
                        self.namespec,
                        cause.url,
                        window.as_secs()
                    ),
                    body,
                });
            }
            return false;
        }
        self.state = State::Queued { pid };
        self.cause = Some(cause.clone());
        self.story = story;
        true
    }

    /// Adds a line to the story of the restart it is queued for (its mail's body).
    pub fn add_to_story(&mut self, line: String) {
        self.story.push(line);
    }

    /// Its turn has come: the order for the restart job.
    pub fn begin(&mut self) -> Option<u32> {
        match self.state {
            State::Queued { pid } => {
                self.state = State::Restarting { pid };
                Some(pid)
            }
            _ => None,
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
            self.story.clear();
        }
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

    /// Remembers a new pid with its age by supervisord's clock, once: after that its age
    /// grows with our monotonic clock, so a step of the wall clock cannot reset grace.
    fn note_pid(&mut self, info: &ProcessInfo, clock: &RoundClock) {
        if info.pid == 0 || self.seen.is_some_and(|s| s.pid == info.pid) {
            return;
        }
        let uptime = Duration::from_secs(u64::try_from(info.uptime()).unwrap_or(0));
        // Read after the probes: the process may be younger than supervisord's whole
        // seconds say, by up to the time the probes took.
        let at = clock.probes_started + clock.listed_late.unwrap_or_default();
        self.seen = Some(Seen {
            pid: info.pid,
            at,
            uptime,
        });
    }

    fn uptime(&self, now: Instant) -> Option<Duration> {
        self.seen
            .map(|s| s.uptime + now.saturating_duration_since(s.at))
    }

    /// When the current pid came up, on our clock. supervisord's start times are whole
    /// seconds, so a pid first seen in a list read after the probes gets a second of
    /// slack: it may have started while they ran.
    fn up_since(&self, clock: &RoundClock) -> Option<Instant> {
        let seen = self.seen?;
        let Some(start) = seen.at.checked_sub(seen.uptime) else {
            return Some(clock.probes_started.min(seen.at));
        };
        let slack = if clock.listed_late.is_some() {
            Duration::from_secs(1)
        } else {
            Duration::ZERO
        };
        Some(start + slack)
    }
}

mod outcome;
pub use outcome::change;
