//! Which TICKs start a round. Of the ticks that waited in supervisord's buffer while the
//! last round ran, only the newest starts a round (at once, so a round as long as the
//! tick period loses none); the older ones are acknowledged without one, so a slow round
//! never turns into a burst of them. Decided by comparing supervisord's `when` values with each other and
//! with how long the last round took on our monotonic clock, never with our wall clock:
//! a step of either wall clock (NTP) must not make every later tick look queued.
//! Pure: the instants are passed in.

use std::time::Instant;

/// A TICK event's period in seconds, from its name (`TICK_5`, `TICK_60`, `TICK_3600`).
pub fn period(name: &str) -> u64 {
    name.strip_prefix("TICK_")
        .and_then(|n| n.parse().ok())
        .unwrap_or(5)
}

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
    /// `Some(why)` if a newer tick than this one (`when`, every `period` seconds) was
    /// also issued while the last round ran: this one is superseded.
    pub fn stale(&self, period: u64, when: Option<i64>) -> Option<String> {
        let (Some(when), Some(last)) = (when, self.last) else {
            return None;
        };
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
        // The next tick after this one, in seconds after the last one handled.
        let next_issued = (when - last.when) as f64 + period.max(1) as f64;
        (next_issued <= round.as_secs_f64()).then(|| {
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
mod tests {
    use super::*;
    use std::time::Duration;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn ticks_issued_during_a_long_round_are_stale_and_later_ones_are_not() {
        let t0 = Instant::now();
        let mut clock = TickClock::default();
        assert!(clock.stale(5, Some(1000)).is_none(), "the first tick runs");
        // That round took 12 s: the ticks of 1005 and 1010 queued up meanwhile; the
        // newer one runs, the older one is superseded.
        clock.handled(Some(1000), t0, t0 + secs(12.0));
        assert!(clock.stale(5, Some(1005)).is_some());
        assert!(clock.stale(5, Some(1010)).is_none());
        clock.handled(Some(1010), t0 + secs(12.0), t0 + secs(12.1));
        assert!(clock.stale(5, Some(1015)).is_none());
    }

    #[test]
    fn a_short_round_lets_the_next_tick_run() {
        let t0 = Instant::now();
        let mut clock = TickClock::default();
        clock.handled(Some(1000), t0, t0 + secs(0.2));
        assert!(clock.stale(5, Some(1005)).is_none());
        // The same boundary again (TICK_5 and TICK_60 both subscribed): one round.
        assert!(clock.stale(60, Some(1000)).is_some());
    }

    #[test]
    fn a_round_as_long_as_the_period_loses_no_tick() {
        // -t 5 on TICK_5: a timed-out round ends just after the next tick was issued.
        let t0 = Instant::now();
        let mut clock = TickClock::default();
        clock.handled(Some(1000), t0, t0 + secs(5.02));
        assert!(clock.stale(5, Some(1005)).is_none());
    }

    #[test]
    fn a_backward_clock_step_still_runs_rounds() {
        let t0 = Instant::now();
        let mut clock = TickClock::default();
        clock.handled(Some(1_000_000), t0, t0 + secs(0.1));
        // NTP set supervisord's clock back an hour.
        assert!(clock.stale(5, Some(996_405)).is_none());
        clock.handled(Some(996_405), t0 + secs(5.0), t0 + secs(5.1));
        assert!(clock.stale(5, Some(996_410)).is_none());
    }

    #[test]
    fn our_own_wall_clock_plays_no_part() {
        // A when far in the future (our clock is behind supervisord's) is a fresh tick.
        let t0 = Instant::now();
        let mut clock = TickClock::default();
        clock.handled(Some(10), t0, t0 + secs(0.1));
        assert!(clock.stale(5, Some(4_000_000_000)).is_none());
        assert!(clock.stale(5, None).is_none(), "a tick without when runs");
    }
}
