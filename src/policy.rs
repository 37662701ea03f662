//! The restart policy: who gets restarted, and when. Pure logic over verdicts, process
//! facts and a clock passed in; no IO, no sleeping.
//!
//! The k8s/monit equivalents (docs/policy.md):
//! * `-f N`: failureThreshold / monit `for N cycles`. Counted per check; a success or an
//!   action resets it (monit's restart loops came from a counter that did not reset).
//! * `--grace S`: initialDelaySeconds / monit start delay, judged on each program's uptime.
//! * `--max-restarts K --restart-window W`: monit `if K restarts within W then unmonitor`,
//!   but it resumes by itself when the check answers again or the window has passed.

use std::collections::{HashMap, VecDeque};

use std::time::Duration;

/// Restart-policy settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    pub failures: u32,
    pub grace: Duration,
    /// (K, window): give up after K restarts within the window.
    pub max_restarts: Option<(u32, Duration)>,
    /// How many processes of one check's selection may be restarted at once.
    pub parallel_restarts: u32,
}

/// A process a failing check would restart, as seen in the round's process list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub namespec: String,
    pub pid: u32,
    pub running: bool,
    /// Seconds since the process started (supervisord's clock).
    pub uptime: u64,
    /// A restart of this process is still under way.
    pub busy: bool,
    /// It may have started after the probes began (the list was read after them), so it
    /// is not known to be the process that failed them.
    pub fresh: bool,
}

/// What the policy decided for one check in one round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Consecutive failed rounds after this one (0 after a success or an action).
    pub failures: u32,
    /// The failure counted toward the threshold (not spared by --grace).
    pub counted: bool,
    /// The threshold was reached: log the restart notices (and mail).
    pub act: bool,
    /// The check was failing and now answers.
    pub recovered: bool,
    /// Restart these (namespec, pid that failed).
    pub restart: Vec<(String, u32)>,
    /// Selected but not RUNNING: "NOT restarting".
    pub not_running: Vec<String>,
    /// Spared by --grace.
    pub in_grace: Vec<String>,
    /// Skipped: a restart is already under way.
    pub busy: Vec<String>,
    /// Skipped: started while the probes ran; judged next round.
    pub fresh: Vec<String>,
    /// Hit --max-restarts this round: log the ERROR and mail, once.
    pub gave_up: Vec<String>,
    /// Given up earlier and still failing: stay quiet.
    pub held: Vec<String>,
    /// Given up earlier, restarts allowed again (healthy, or the window passed).
    pub resumed: Vec<String>,
}

#[derive(Debug, Default)]
struct ProgramState {
    /// When each recent restart was decided (seconds, the injected clock).
    restarts: VecDeque<u64>,
    gave_up: bool,
}

/// Per-check failure counts and per-program restart history.
#[derive(Debug)]
pub struct Policy {
    config: PolicyConfig,
    failures: Vec<u32>,
    /// The check's last counted round failed (kept across an action, which resets
    /// `failures`), so that its next success is reported as a recovery.
    failing: Vec<bool>,
    programs: HashMap<String, ProgramState>,
}

impl Policy {
    pub fn new(config: PolicyConfig, checks: usize) -> Policy {
        Policy {
            config,
            failures: vec![0; checks],
            failing: vec![false; checks],
            programs: HashMap::new(),
        }
    }

    pub fn threshold(&self) -> u32 {
        self.config.failures
    }

    /// Judges check `check` this round. `healthy` is `None` when it was not probed.
    /// `now` is seconds on any monotonic-enough clock, used for the restart window.
    pub fn judge(
        &mut self,
        check: usize,
        healthy: Option<bool>,
        candidates: &[Candidate],
        now: u64,
    ) -> Decision {
        let mut decision = Decision::default();
        let Some(slot) = self.failures.get(check).copied() else {
            return decision;
        };
        let window_expired = self.expire_windows(candidates, now);
        decision.resumed.extend(window_expired);
        match healthy {
            None => {
                decision.failures = slot;
            }
            Some(true) => {
                decision.recovered = self.failing[check];
                self.failures[check] = 0;
                self.failing[check] = false;
                for c in candidates {
                    if let Some(state) = self.programs.get_mut(&c.namespec)
                        && state.gave_up
                    {
                        state.gave_up = false;
                        state.restarts.clear();
                        decision.resumed.push(c.namespec.clone());
                    }
                }
            }
            Some(false) => self.judge_failure(check, candidates, now, &mut decision),
        }
        decision
    }

    fn judge_failure(
        &mut self,
        check: usize,
        candidates: &[Candidate],
        now: u64,
        d: &mut Decision,
    ) {
        let grace = self.config.grace.as_secs();
        let mut judged = Vec::new();
        for c in candidates {
            // Busy first: a program being restarted is STOPPING or STARTING, not "not running".
            if c.busy {
                d.busy.push(c.namespec.clone());
            } else if c.fresh {
                d.fresh.push(c.namespec.clone());
            } else if !c.running {
                d.not_running.push(c.namespec.clone());
            } else if c.uptime < grace {
                d.in_grace.push(c.namespec.clone());
            } else {
                judged.push(c);
            }
        }
        // A failure while every running program is still starting up does not count.
        if judged.is_empty()
            && (!d.in_grace.is_empty() || !d.busy.is_empty() || !d.fresh.is_empty())
        {
            d.failures = self.failures[check];
            return;
        }
        d.counted = true;
        self.failing[check] = true;
        self.failures[check] += 1;
        d.failures = self.failures[check];
        if d.failures < self.config.failures {
            return;
        }
        d.act = true;
        self.failures[check] = 0;
        d.failures = 0;
        for c in judged {
            let state = self.programs.entry(c.namespec.clone()).or_default();
            let limited = self
                .config
                .max_restarts
                .is_some_and(|(k, _)| state.restarts.len() >= k as usize);
            if limited {
                if state.gave_up {
                    d.held.push(c.namespec.clone());
                } else {
                    state.gave_up = true;
                    d.gave_up.push(c.namespec.clone());
                }
            } else {
                state.restarts.push_back(now);
                d.restart.push((c.namespec.clone(), c.pid));
            }
        }
    }

    /// Forgets restarts older than the window; returns programs that may restart again.
    fn expire_windows(&mut self, candidates: &[Candidate], now: u64) -> Vec<String> {
        let Some((k, window)) = self.config.max_restarts else {
            return Vec::new();
        };
        let mut resumed = Vec::new();
        for c in candidates {
            let Some(state) = self.programs.get_mut(&c.namespec) else {
                continue;
            };
            while state
                .restarts
                .front()
                .is_some_and(|t| now.saturating_sub(*t) >= window.as_secs())
            {
                state.restarts.pop_front();
            }
            if state.gave_up && state.restarts.len() < k as usize {
                state.gave_up = false;
                resumed.push(c.namespec.clone());
            }
        }
        resumed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config(failures: u32, grace: u64, max: Option<(u32, u64)>) -> PolicyConfig {
        PolicyConfig {
            failures,
            grace: Duration::from_secs(grace),
            max_restarts: max.map(|(k, w)| (k, Duration::from_secs(w))),
            parallel_restarts: 1,
        }
    }

    fn running(name: &str, pid: u32, uptime: u64) -> Candidate {
        Candidate {
            namespec: name.into(),
            pid,
            running: true,
            uptime,
            busy: false,
            fresh: false,
        }
    }

    /// Runs rounds of (healthy?) at 5 s intervals against one program; returns the
    /// round numbers that restarted it.
    fn restarts_over(policy: &mut Policy, rounds: &[Option<bool>], uptime: u64) -> Vec<usize> {
        let mut restarted = Vec::new();
        for (i, healthy) in rounds.iter().enumerate() {
            let d = policy.judge(0, *healthy, &[running("web", 10, uptime)], i as u64 * 5);
            if !d.restart.is_empty() {
                restarted.push(i);
            }
        }
        restarted
    }

    #[test]
    fn failure_threshold_table() {
        let f = Some(false);
        let t = Some(true);
        type Case<'a> = (u32, &'a [Option<bool>], &'a [usize]);
        let cases: &[Case<'_>] = &[
            // -f 1 (superlance): every failed round restarts.
            (1, &[f, f, t, f], &[0, 1, 3]),
            // -f 3: two failures do nothing, the third restarts.
            (3, &[f, f], &[]),
            (3, &[f, f, f], &[2]),
            // A success resets the count.
            (3, &[f, f, t, f, f, f], &[5]),
            // A restart resets the count: three more failures needed.
            (3, &[f, f, f, f, f, f], &[2, 5]),
            // Rounds not probed (-E with nothing running) neither count nor reset.
            (2, &[f, None, f], &[2]),
        ];
        for (threshold, rounds, expected) in cases {
            let mut policy = Policy::new(config(*threshold, 0, None), 1);
            assert_eq!(
                restarts_over(&mut policy, rounds, 100),
                *expected,
                "-f {threshold} over {rounds:?}"
            );
        }
    }

    #[test]
    fn grace_spares_a_slow_starter_and_its_failures_do_not_count() {
        let mut policy = Policy::new(config(2, 30, None), 1);
        let young = [running("web", 10, 5)];
        let d = policy.judge(0, Some(false), &young, 0);
        assert_eq!(d.in_grace, ["web"]);
        assert!(!d.counted && !d.act && d.restart.is_empty());
        let d = policy.judge(0, Some(false), &young, 5);
        assert!(!d.counted);
        // Out of grace: the count starts from zero.
        let old = [running("web", 10, 40)];
        assert!(!policy.judge(0, Some(false), &old, 10).act);
        assert_eq!(
            policy.judge(0, Some(false), &old, 15).restart,
            [("web".to_string(), 10)]
        );
    }

    #[test]
    fn not_running_programs_are_reported_not_restarted() {
        let mut policy = Policy::new(config(1, 0, None), 1);
        let stopped = Candidate {
            running: false,
            ..running("web", 0, 0)
        };
        let d = policy.judge(0, Some(false), &[stopped], 0);
        assert!(d.act);
        assert_eq!(d.not_running, ["web"]);
        assert!(d.restart.is_empty());
    }

    #[test]
    fn busy_programs_are_skipped_even_while_stopping() {
        let mut policy = Policy::new(config(1, 0, None), 1);
        let busy = Candidate {
            busy: true,
            ..running("web", 10, 100)
        };
        let stopping = Candidate {
            running: false,
            ..busy.clone()
        };
        for candidate in [busy, stopping] {
            let d = policy.judge(0, Some(false), &[candidate], 0);
            assert_eq!(d.busy, ["web"]);
            assert!(d.not_running.is_empty());
            assert!(!d.counted && !d.act && d.restart.is_empty());
        }
    }

    #[test]
    fn a_process_started_while_the_probes_ran_is_neither_counted_nor_restarted() {
        let mut policy = Policy::new(config(1, 0, None), 1);
        let fresh = Candidate {
            fresh: true,
            ..running("web", 11, 0)
        };
        let d = policy.judge(0, Some(false), &[fresh], 0);
        assert_eq!(d.fresh, ["web"]);
        assert!(!d.counted && !d.act && d.restart.is_empty());
        assert!(d.not_running.is_empty());
        // Next round it is an ordinary candidate.
        let d = policy.judge(0, Some(false), &[running("web", 11, 5)], 5);
        assert_eq!(d.restart, [("web".to_string(), 11)]);
    }

    #[test]
    fn max_restarts_gives_up_once_then_resumes_when_the_window_passes() {
        let mut policy = Policy::new(config(1, 0, Some((2, 300))), 1);
        let web = [running("web", 10, 100)];
        assert_eq!(policy.judge(0, Some(false), &web, 0).restart.len(), 1);
        assert_eq!(policy.judge(0, Some(false), &web, 10).restart.len(), 1);
        let d = policy.judge(0, Some(false), &web, 20);
        assert_eq!(d.gave_up, ["web"]);
        assert!(d.restart.is_empty());
        let d = policy.judge(0, Some(false), &web, 30);
        assert_eq!(d.held, ["web"], "says it once");
        assert!(d.gave_up.is_empty() && d.restart.is_empty());
        // At 300 the first restart leaves the window: one more restart is allowed.
        let d = policy.judge(0, Some(false), &web, 300);
        assert_eq!(d.resumed, ["web"]);
        assert_eq!(d.restart.len(), 1);
    }

    #[test]
    fn max_restarts_resumes_when_the_check_answers() {
        let mut policy = Policy::new(config(1, 0, Some((1, 3600))), 1);
        let web = [running("web", 10, 100)];
        policy.judge(0, Some(false), &web, 0);
        assert_eq!(policy.judge(0, Some(false), &web, 5).gave_up, ["web"]);
        let d = policy.judge(0, Some(true), &web, 10);
        assert_eq!(d.resumed, ["web"]);
        assert!(d.recovered || d.failures == 0);
        assert_eq!(policy.judge(0, Some(false), &web, 15).restart.len(), 1);
    }

    #[test]
    fn recovery_after_a_restart_is_reported() {
        let mut policy = Policy::new(config(1, 0, None), 1);
        let web = [running("web", 1, 100)];
        assert_eq!(policy.judge(0, Some(false), &web, 0).restart.len(), 1);
        assert!(policy.judge(0, Some(true), &web, 5).recovered);
        assert!(!policy.judge(0, Some(true), &web, 10).recovered);
    }

    #[test]
    fn checks_count_separately() {
        let mut policy = Policy::new(config(2, 0, None), 2);
        let web = [running("web", 1, 100)];
        let api = [running("api", 2, 100)];
        policy.judge(0, Some(false), &web, 0);
        policy.judge(1, Some(true), &api, 0);
        assert!(policy.judge(0, Some(false), &web, 5).act);
        assert!(!policy.judge(1, Some(false), &api, 5).act);
    }

    #[test]
    fn recovery_is_reported_once() {
        let mut policy = Policy::new(config(3, 0, None), 1);
        let web = [running("web", 1, 100)];
        policy.judge(0, Some(false), &web, 0);
        assert!(policy.judge(0, Some(true), &web, 5).recovered);
        assert!(!policy.judge(0, Some(true), &web, 10).recovered);
    }
}
