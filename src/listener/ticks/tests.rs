use super::*;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A clock whose last round ran for `when` from `t0`, taking `round` seconds.
fn after_round(when: i64, t0: Instant, round: f64) -> TickClock {
    let mut clock = TickClock::default();
    clock.handled(Some(when), t0, t0 + secs(round));
    clock
}

#[test]
fn ticks_issued_during_a_long_round_are_stale_and_later_ones_are_not() {
    let t0 = Instant::now();
    let mut clock = TickClock::default();
    assert!(
        clock.stale(5, Some(1000), t0).is_none(),
        "the first tick runs"
    );
    // That round took 12 s: the ticks of 1005 and 1010 queued up meanwhile and come
    // at once after it; the newer one runs, the older one is superseded.
    clock.handled(Some(1000), t0, t0 + secs(12.0));
    let backlog = t0 + secs(12.001);
    assert!(clock.stale(5, Some(1005), backlog).is_some());
    assert!(clock.stale(5, Some(1010), backlog).is_none());
    clock.handled(Some(1010), backlog, t0 + secs(12.1));
    assert!(clock.stale(5, Some(1015), t0 + secs(15.0)).is_none());
}

#[test]
fn a_short_round_lets_the_next_tick_run() {
    let t0 = Instant::now();
    let clock = after_round(1000, t0, 0.2);
    assert!(clock.stale(5, Some(1005), t0 + secs(5.0)).is_none());
    // The same boundary again (TICK_5 and TICK_60 both subscribed): one round.
    assert!(clock.stale(60, Some(1000), t0 + secs(0.2)).is_some());
}

#[test]
fn a_round_as_long_as_the_period_loses_no_tick() {
    // -t 5 on TICK_5: a timed-out round ends just after the next tick was issued.
    let t0 = Instant::now();
    let clock = after_round(1000, t0, 5.02);
    assert!(clock.stale(5, Some(1005), t0 + secs(5.02)).is_none());
}

#[test]
fn a_backward_clock_step_still_runs_rounds() {
    let t0 = Instant::now();
    let mut clock = after_round(1_000_000, t0, 0.1);
    // NTP set supervisord's clock back an hour.
    assert!(clock.stale(5, Some(996_405), t0 + secs(5.0)).is_none());
    clock.handled(Some(996_405), t0 + secs(5.0), t0 + secs(5.1));
    assert!(clock.stale(5, Some(996_410), t0 + secs(10.0)).is_none());
}

#[test]
fn our_own_wall_clock_plays_no_part() {
    // A when far in the future (our clock is behind supervisord's) is a fresh tick.
    let t0 = Instant::now();
    let clock = after_round(10, t0, 0.1);
    assert!(
        clock
            .stale(5, Some(4_000_000_000), t0 + secs(0.1))
            .is_none()
    );
    assert!(
        clock.stale(5, None, t0 + secs(0.1)).is_none(),
        "a tick without when runs"
    );
}

#[test]
fn whens_at_the_limits_of_i64_neither_overflow_nor_stop_the_rounds() {
    // The input: `when:-9223372036854775808`, then supervisord's real ticks.
    // The subtraction overflowed (a panic in debug builds; in release the wrapped
    // difference made every later tick stale, so no round ran again).
    let t0 = Instant::now();
    let mut clock = TickClock::default();
    assert!(clock.stale(5, Some(i64::MIN), t0).is_none());
    clock.handled(Some(i64::MIN), t0, t0 + secs(30.0));
    let backlog = t0 + secs(30.0);
    assert!(clock.stale(5, Some(1_700_000_000), backlog).is_none());
    assert!(clock.stale(5, Some(i64::MAX), backlog).is_none());
    assert!(clock.stale(u64::MAX, Some(i64::MAX), backlog).is_none());
    // Near the limit the arithmetic is still exact: 1 s after a 30 s round's tick,
    // with a newer one due 1 s later, is a backlog tick.
    assert!(clock.stale(0, Some(i64::MIN + 1), backlog).is_some());
    // And the other way: after i64::MAX every real tick is "before" it, so fresh.
    clock.handled(Some(i64::MAX), backlog, backlog + secs(1.0));
    assert!(
        clock
            .stale(5, Some(1_700_000_005), backlog + secs(1.0))
            .is_none()
    );
    assert!(
        clock
            .stale(5, Some(i64::MIN), backlog + secs(1.0))
            .is_none()
    );
    assert!(
        clock
            .stale(5, Some(i64::MAX), backlog + secs(1.0))
            .is_some(),
        "same boundary"
    );
}

#[test]
fn a_period_of_zero_or_beyond_any_number_is_survived() {
    let t0 = Instant::now();
    let clock = after_round(1000, t0, 3.0);
    let backlog = t0 + secs(3.0);
    // TICK_0 counts as a 1 s period: the tick of 1001 is stale after a 3 s round.
    assert!(clock.stale(period("TICK_0"), Some(1001), backlog).is_some());
    assert!(clock.stale(u64::MAX, Some(1001), backlog).is_none());
    assert_eq!(period("TICK_18446744073709551615"), u64::MAX);
    assert_eq!(
        period("TICK_18446744073709551616"),
        5,
        "beyond u64: the default"
    );
    assert_eq!(period("TICK_-5"), 5);
    assert_eq!(period("TICK_"), 5);
}

#[test]
fn a_when_that_never_moves_cannot_stop_the_rounds() {
    // A broken or hostile supervisord sends every tick with the same when: each one
    // that comes later than a backlog could is a fresh tick all the same.
    let t0 = Instant::now();
    let mut clock = after_round(1000, t0, 0.1);
    let mut ran = 0;
    for n in 1..=10u32 {
        let received = t0 + secs(5.0 * f64::from(n));
        if clock.stale(5, Some(1000), received).is_none() {
            ran += 1;
            clock.handled(Some(1000), received, received + secs(0.1));
        }
    }
    assert_eq!(ran, 10);
    // What comes right after the round is still the same boundary, once.
    let end = t0 + secs(50.1);
    assert!(clock.stale(60, Some(1000), end + secs(0.01)).is_some());
}

#[test]
fn a_backlog_delivered_late_runs_an_extra_round_rather_than_none() {
    let t0 = Instant::now();
    let clock = after_round(1000, t0, 12.0);
    let end = t0 + secs(12.0);
    assert!(clock.stale(5, Some(1005), end + BACKLOG_DELIVERY).is_some());
    let late = end + BACKLOG_DELIVERY + secs(0.001);
    assert!(clock.stale(5, Some(1005), late).is_none());
}
