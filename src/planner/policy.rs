//! A check's policy, and which of several applies to a program that more than one
//! check names: the most careful.

use std::time::Duration;

use crate::planner::lifecycle::Limits;

/// One check's thresholds and pacing (`failures`, `successes`, `grace`, `interval`,
/// `max_restarts` in `restart_window`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckPolicy {
    /// Failed rounds in a row that trip the check.
    pub failures: u32,
    /// Healthy rounds in a row that end a failure: the check's count resets, and a
    /// restarted program is "recovered".
    pub successes: u32,
    pub grace: Duration,
    /// Probe at most this often (`None`: every round).
    pub interval: Option<Duration>,
    pub max_restarts: Option<(u32, Duration)>,
    /// `--stop-grace`: kill a program still STOPPING this long after a restart's stop
    /// (`None`: supervisord's stopwaitsecs).
    pub stop_grace: Option<Duration>,
}

impl Default for CheckPolicy {
    fn default() -> CheckPolicy {
        CheckPolicy {
            failures: 1,
            successes: 1,
            grace: Duration::ZERO,
            interval: None,
            max_restarts: None,
            stop_grace: None,
        }
    }
}

/// The most careful limits of these checks: the longest grace, the most successes,
/// the fewest restarts allowed (of equal counts, the longest window).
pub(super) fn strictest<'a>(policies: impl Iterator<Item = &'a CheckPolicy>) -> Limits {
    let mut limits = Limits {
        grace: Duration::ZERO,
        max_restarts: None,
        successes: 1,
    };
    for policy in policies {
        limits.grace = limits.grace.max(policy.grace);
        limits.successes = limits.successes.max(policy.successes);
        limits.max_restarts = match (limits.max_restarts, policy.max_restarts) {
            (None, theirs) => theirs,
            (ours, None) => ours,
            (Some((k, w)), Some((k2, w2))) if k2 < k || (k2 == k && w2 > w) => Some((k2, w2)),
            (ours, _) => ours,
        };
    }
    limits
}
