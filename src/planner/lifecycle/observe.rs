//! A round's facts about one program: supervisord's view of its process (listed,
//! RUNNING, down, gone) and the health of the checks naming it. Says what changed,
//! moves the state on, and tells the planner whether a failing check may count
//! against the pid (RUNNING, out of grace, not busy, up before the probes began).

use std::time::{Duration, Instant};

use super::{Health, Limits, Program, RoundClock, Seen, State, change};
use crate::planner::plan::{Notice, Plan, StateWord};
use crate::supervisor::model::{ProcessInfo, ProcessState};

impl Program {
    /// Takes in this round's facts; returns the pid to judge if a failing check may
    /// count against it.
    pub fn observe(
        &mut self,
        info: Option<&ProcessInfo>,
        health: Health<'_>,
        clock: &RoundClock,
        limits: &Limits,
        plan: &mut Plan,
    ) -> Option<u32> {
        let Some(info) = info else {
            self.observe_unlisted(plan);
            return None;
        };
        if self.state == State::Gone {
            plan.info(format!(
                "{} is in supervisord's process list again ({})",
                self.namespec, info.state
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

    /// Not in supervisord's list: one line, unless a job owns it.
    fn observe_unlisted(&mut self, plan: &mut Plan) {
        if self.state != State::Gone && !self.is_busy() {
            plan.info(format!(
                "{} is no longer in supervisord's process list (supervisorctl \
                 update or remove?); watching for it to come back",
                self.namespec
            ));
            self.state = State::Gone;
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
        let judged = match self.state {
            State::Down { .. } => {
                plan.info(format!(
                    "{} is RUNNING again (pid {})",
                    self.namespec, info.pid
                ));
                self.state = State::Watching;
                true
            }
            State::Recovering { .. } => {
                self.observe_recovering(info.pid, health, clock, limits, plan);
                true
            }
            State::GaveUp { .. } => self.observe_given_up(health, limits, plan),
            _ => true,
        };
        if !judged {
            return None;
        }
        self.judgeable(info.pid, health, clock, limits, plan)
    }

    /// Restarted as `pid`: "recovered" once its checks have passed against it in
    /// `successes` rounds in a row, each probed after the restart.
    fn observe_recovering(
        &mut self,
        listed: u32,
        health: Health<'_>,
        clock: &RoundClock,
        limits: &Limits,
        plan: &mut Plan,
    ) {
        let ns = &self.namespec;
        let State::Recovering {
            pid,
            since,
            cause,
            healthy_rounds,
        } = &mut self.state
        else {
            return;
        };
        if let Health::Failing(_) = health {
            *healthy_rounds = 0;
            return;
        }
        let passed = health == Health::Healthy && listed == *pid && *since <= clock.probes_started;
        if !passed {
            return;
        }
        if *healthy_rounds + 1 < limits.successes {
            *healthy_rounds += 1;
            plan.debug(format!(
                "{ns}: {healthy_rounds} of {} healthy round(s) against pid {pid}",
                limits.successes
            ));
            return;
        }
        let line = format!("{ns} recovered: its checks pass against pid {pid}");
        plan.info(line.clone());
        plan.notices.push(Notice::Mail {
            subject: format!("{ns} recovered"),
            body: vec![line],
        });
        // The check whose failure led to the restart.
        plan.notices.push(change(
            cause,
            ns,
            StateWord::Recovered,
            StateWord::Restarted,
            String::new(),
        ));
        self.state = State::Watching;
    }

    /// Given up on: only the window ends it (a program that flaps must not earn a new
    /// ERROR and mail each time); answering again is said once. Whether it is judged
    /// again (the window has room).
    fn observe_given_up(&mut self, health: Health<'_>, limits: &Limits, plan: &mut Plan) -> bool {
        let ns = &self.namespec;
        let room = limits
            .max_restarts
            .is_none_or(|(k, _)| self.restarts.len() < k as usize);
        if room {
            plan.info(format!(
                "{ns}: restarts allowed again (the restart window has room again)"
            ));
            self.state = State::Watching;
            return true;
        }
        if let State::GaveUp { answered, .. } = &mut self.state
            && health == Health::Healthy
            && !*answered
        {
            *answered = true;
            plan.info(format!(
                "{ns} answers again; restarts stay off until the restart window has room"
            ));
        }
        false
    }

    /// The pid a failing check may count against: up before the probes began and out of
    /// its grace.
    fn judgeable(
        &self,
        pid: u32,
        health: Health<'_>,
        clock: &RoundClock,
        limits: &Limits,
        plan: &mut Plan,
    ) -> Option<u32> {
        let ns = &self.namespec;
        let before_probes = self
            .up_since(clock)
            .is_some_and(|t| t <= clock.probes_started);
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
        Some(pid)
    }

    /// STOPPED, EXITED or FATAL: one line per change, one mail per incident (a failing
    /// check's; a give-up's mail or a failed start's covers it already).
    fn observe_down(&mut self, info: &ProcessInfo, health: Health<'_>, plan: &mut Plan) {
        let ns = &self.namespec;
        let line = format!(
            "{ns} not in RUNNING state, NOT restarting ({}; httpok restarts only RUNNING \
             processes)",
            info.reason()
        );
        let mailed = match self.state {
            State::Down { state, mailed } if state == info.state => mailed,
            State::Down { mailed, .. } => {
                plan.info(line.clone());
                mailed
            }
            ref other => {
                plan.info(line.clone());
                matches!(other, State::GaveUp { .. })
            }
        };
        let mut now_mailed = mailed;
        if let Health::Failing(cause) = health
            && !mailed
        {
            now_mailed = true;
            plan.notices.push(Notice::Mail {
                subject: cause.subject(),
                body: vec![cause.line(), line],
            });
        }
        self.state = State::Down {
            state: info.state,
            mailed: now_mailed,
        };
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
