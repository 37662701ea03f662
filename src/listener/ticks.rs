//! Which TICKs start a round. Of the ticks that waited in supervisord's buffer while the
//! last round ran, only the newest starts a round (at once, so a round as long as the
//! tick period loses none); the older ones are acknowledged without one, so a slow round
//! never turns into a burst of them. Decided by comparing supervisord's `when` values with each other and
//! with how long the last round took on our monotonic clock, never with our wall clock:
//! a step of either wall clock (NTP) must not make every later tick look queued.
//!
//! `when` comes from supervisord's side of a pipe, so any i64 (and any period) is
//! survived: the arithmetic saturates, and a tick that reaches httpok more than
//! [`BACKLOG_DELIVERY`] after the last round ended runs whatever its `when` says, so no
//! sequence of `when` values can keep rounds from running.
//! Pure: the instants are passed in.

use std::time::{Duration, Instant};

/// A TICK event's period in seconds, from its name (`TICK_5`, `TICK_60`, `TICK_3600`).
pub fn period(name: &str) -> u64 {
    name.strip_prefix("TICK_")
        .and_then(|n| n.parse().ok())
        .unwrap_or(5)
}

/// How soon after httpok's READY a tick that waited in supervisord's buffer reaches it.
/// supervisord hands a buffered event to a listener in the loop iteration after it read
/// READY (milliseconds); 2 s leaves room for a loaded host and stays below the shortest
/// tick period, so a tick that comes later was issued after the round and is fresh. The
/// cost of a late backlog tick taken as fresh is one extra round; of a fresh tick taken
/// as stale, a round lost, and a `when` that never moves (a hostile or broken
/// supervisord) would lose them all.
pub const BACKLOG_DELIVERY: Duration = Duration::from_secs(2);

/// The last tick that ran a round.
#[derive(Debug, Clone, Copy)]
struct Handled {
    when: i64,
    received: Instant,
    round_ended: Instant,
}

#[derive(Debug, Clone, Default)]
pub struct TickClock {
    last: Option<Handled>,
}

impl TickClock {
    /// `Some(why)` if a newer tick than this one (`when`, every `period` seconds,
    /// `received` now) was also issued while the last round ran: this one is superseded.
    pub fn stale(&self, period: u64, when: Option<i64>, received: Instant) -> Option<String> {
        let (Some(when), Some(last)) = (when, self.last) else {
            return None;
        };
        if received.saturating_duration_since(last.round_ended) > BACKLOG_DELIVERY {
            // Not from the buffer: supervisord sent it well after httpok was READY.
            return None;
        }
        if when < last.when {
            // supervisord's clock stepped back: a new tick all the same.
            return None;
        }
        if when == last.when {
            // TICK_5 and TICK_60 on the same boundary: one round for both.
            return Some(format!(
                "(when:{when}) is the boundary the last round ran for"
            ));
        }
        let round = last.round_ended.saturating_duration_since(last.received);
        // The next tick after this one, in seconds after the last one handled: at
        // least 1 s more than `when` is, so any `when` above `last.when` fits in a u64.
        let next_issued = when.abs_diff(last.when).saturating_add(period.max(1));
        (Duration::from_secs(next_issued) <= round).then(|| {
            format!(
                "(when:{when}) queued up while the last round ran ({:.1}s) and a newer tick \
                 did too",
                round.as_secs_f64()
            )
        })
    }

    /// Records a tick that ran a round.
    pub fn handled(&mut self, when: Option<i64>, received: Instant, round_ended: Instant) {
        if let Some(when) = when {
            self.last = Some(Handled {
                when,
                received,
                round_ended,
            });
        }
    }
}

#[cfg(test)]
mod tests;
