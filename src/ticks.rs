//! Which TICKs start a round. A tick that waited in supervisord's buffer while the last
//! round ran is acknowledged without another round, so a slow round never turns into a
//! burst of them. Decided by comparing supervisord's `when` values with each other and
//! with how long the last round took on our monotonic clock, never with our wall clock:
//! a step of either wall clock (NTP) must not make every later tick look queued.
//! Pure: the instants are passed in.

use std::time::Instant;

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
    /// `Some(why)` if a tick with this `when` was issued while the last round ran.
    pub fn stale(&self, when: Option<i64>, _received: Instant) -> Option<String> {
        let (Some(when), Some(last)) = (when, self.last) else {
            return None;
        };
        if when < last.when {
            // supervisord's clock stepped back: a new tick all the same.
            return None;
        }
        let round = last.round_ended.saturating_duration_since(last.received);
        let issued_after_last = (when - last.when) as f64;
        (issued_after_last < round.as_secs_f64()).then(|| {
            format!(
                "(when:{when}) was issued {issued_after_last:.0}s after the last one handled, \
                 while that round ran ({:.1}s)",
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
        assert!(clock.stale(Some(1000), t0).is_none(), "the first tick runs");
        // That round took 12 s: the ticks of 1005 and 1010 queued up meanwhile.
        clock.handled(Some(1000), t0, t0 + secs(12.0));
        assert!(clock.stale(Some(1005), t0 + secs(12.0)).is_some());
        assert!(clock.stale(Some(1010), t0 + secs(12.0)).is_some());
        assert!(clock.stale(Some(1015), t0 + secs(15.0)).is_none());
    }

    #[test]
    fn a_short_round_lets_the_next_tick_run() {
        let t0 = Instant::now();
        let mut clock = TickClock::default();
        clock.handled(Some(1000), t0, t0 + secs(0.2));
        assert!(clock.stale(Some(1005), t0 + secs(5.0)).is_none());
        // The same boundary again (TICK_5 and TICK_60 both subscribed): one round.
        assert!(clock.stale(Some(1000), t0 + secs(0.3)).is_some());
    }

    #[test]
    fn a_backward_clock_step_still_runs_rounds() {
        let t0 = Instant::now();
        let mut clock = TickClock::default();
        clock.handled(Some(1_000_000), t0, t0 + secs(0.1));
        // NTP set supervisord's clock back an hour.
        assert!(clock.stale(Some(996_405), t0 + secs(5.0)).is_none());
        clock.handled(Some(996_405), t0 + secs(5.0), t0 + secs(5.1));
        assert!(clock.stale(Some(996_410), t0 + secs(10.0)).is_none());
    }

    #[test]
    fn our_own_wall_clock_plays_no_part() {
        // A when far in the future (our clock is behind supervisord's) is a fresh tick.
        let t0 = Instant::now();
        let mut clock = TickClock::default();
        clock.handled(Some(10), t0, t0 + secs(0.1));
        assert!(clock.stale(Some(4_000_000_000), t0 + secs(5.0)).is_none());
        assert!(clock.stale(None, t0).is_none(), "a tick without when runs");
    }
}
