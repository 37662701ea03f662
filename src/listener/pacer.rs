//! When rounds run between TICKs: httpok's own clock (`--interval` below the tick
//! period). Without an interval, or with every interval at or above the smallest tick
//! period seen, each fresh TICK runs its round on the listener thread as before. When
//! the smallest interval is below it (or no TICK has come yet), rounds run on a clock
//! thread on a monotonic grid `interval` apart; a TICK is then answered at once and
//! only marks the next round as the one that probes the checks without an interval.
//! A round never overlaps another (one runs at a time, whoever starts it), and a slot
//! that passed while a round ran is skipped, not queued.
//!
//! Pure: the instants are passed in; the clock thread (`watcher/clock.rs`) only sleeps
//! and runs what [`Pacer::next`] says.

use std::time::{Duration, Instant};

/// What the listener does with a fresh TICK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTick {
    /// Run its round here, before answering (one round per TICK, as superlance did).
    RunHere,
    /// Answer at once: the clock thread runs the rounds (this TICK marks the next one).
    LeaveToClock,
    /// Answer at once: a round is under way (on the clock thread), so this one is skipped.
    Busy,
}

/// What the clock thread does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockStep {
    /// Exit: httpok is stopping.
    Stop,
    /// Nothing to do until woken (TICKs drive the rounds).
    Idle,
    /// Sleep this long (or until woken), then ask again.
    Sleep(Duration),
    /// Run a round now; `tick`: a TICK came since the last one, so the checks without
    /// an interval are due in it.
    Run { tick: bool },
}

#[derive(Debug, Clone)]
pub struct Pacer {
    /// The smallest check interval; `None`: rounds on TICKs only.
    every: Option<Duration>,
    /// The smallest tick period seen.
    tick_period: Option<Duration>,
    /// The next slot of the grid.
    next: Option<Instant>,
    tick_pending: bool,
    running: bool,
    stopped: bool,
}

impl Pacer {
    /// A pacer for checks whose smallest interval is `every`, started at `now`: the
    /// first round between TICKs is due one interval after it.
    pub fn new(every: Option<Duration>, now: Instant) -> Pacer {
        Pacer {
            every,
            tick_period: None,
            next: every.and_then(|every| now.checked_add(every)),
            tick_pending: false,
            running: false,
            stopped: false,
        }
    }

    /// Whether rounds run on httpok's own clock now.
    pub fn own_clock(&self) -> bool {
        match (self.every, self.tick_period) {
            (Some(every), Some(period)) => every < period,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// A fresh TICK of `period` seconds arrived. On [`OnTick::RunHere`] the round is
    /// the caller's: call [`Pacer::round_ended`] after it.
    pub fn tick(&mut self, period: u64) -> OnTick {
        let period = Duration::from_secs(period.max(1));
        self.tick_period = Some(self.tick_period.map_or(period, |p| p.min(period)));
        if self.own_clock() {
            self.tick_pending = true;
            OnTick::LeaveToClock
        } else if self.running {
            OnTick::Busy
        } else {
            self.running = true;
            OnTick::RunHere
        }
    }

    /// What the clock thread does at `now`. On [`ClockStep::Run`] the round is the
    /// clock thread's: call [`Pacer::round_ended`] after it.
    pub fn next(&mut self, now: Instant) -> ClockStep {
        if self.stopped {
            return ClockStep::Stop;
        }
        let (Some(every), Some(next)) = (self.every, self.next) else {
            return ClockStep::Idle;
        };
        if !self.own_clock() || self.running {
            return ClockStep::Idle;
        }
        if now < next {
            return ClockStep::Sleep(next - now);
        }
        self.next = Some(first_slot_after(next, every, now));
        self.running = true;
        ClockStep::Run {
            tick: std::mem::take(&mut self.tick_pending),
        }
    }

    /// A round ended at `now`: the slots that passed while it ran are skipped.
    pub fn round_ended(&mut self, now: Instant) {
        self.running = false;
        if let (Some(every), Some(next)) = (self.every, self.next) {
            self.next = Some(first_slot_after(next, every, now));
        }
    }

    /// httpok is stopping: the clock thread exits at its next step.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// The smallest check interval, the own clock's spacing when it runs.
    pub fn every(&self) -> Option<Duration> {
        self.every
    }
}

/// The first slot of the grid through `slot`, `every` apart, that is after `now`.
fn first_slot_after(slot: Instant, every: Duration, now: Instant) -> Instant {
    if slot > now {
        return slot;
    }
    let every_ns = every.as_nanos().max(1);
    let behind = now.saturating_duration_since(slot).as_nanos();
    let steps = u32::try_from(behind / every_ns + 1).unwrap_or(u32::MAX);
    slot + every.saturating_mul(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn without_an_interval_every_tick_runs_its_round_here() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(None, t0);
        assert!(!pacer.own_clock());
        assert_eq!(pacer.next(t0 + secs(100.0)), ClockStep::Idle);
        for i in 0..3 {
            assert_eq!(pacer.tick(60), OnTick::RunHere);
            pacer.round_ended(t0 + secs(f64::from(i)));
        }
    }

    #[test]
    fn an_interval_at_or_above_the_tick_period_leaves_the_rounds_to_ticks() {
        let t0 = Instant::now();
        for interval in [5, 30] {
            let mut pacer = Pacer::new(Some(secs(f64::from(interval))), t0);
            assert_eq!(pacer.tick(5), OnTick::RunHere, "interval {interval}");
            pacer.round_ended(t0);
            assert_eq!(pacer.next(t0 + secs(1000.0)), ClockStep::Idle);
        }
    }

    /// (at, step): the clock thread's steps with `--interval 1` under TICK_60, the
    /// rounds it runs ending `round` seconds later.
    #[test]
    fn rounds_between_ticks_on_a_grid_a_late_one_skipped() {
        let t0 = Instant::now();
        let table: &[(f64, f64, ClockStep)] = &[
            // Before the first TICK: the first slot is one interval after the start.
            (0.0, 0.0, ClockStep::Sleep(secs(1.0))),
            (1.0, 0.2, ClockStep::Run { tick: false }),
            (1.2, 0.0, ClockStep::Sleep(secs(0.8))),
            // Woken a little late: the round runs; the grid stays where it was.
            (2.05, 2.5, ClockStep::Run { tick: false }),
            // That round ran until 4.55: the slots at 3 and 4 are skipped, not queued.
            (4.55, 0.0, ClockStep::Sleep(secs(0.45))),
            (5.0, 0.1, ClockStep::Run { tick: false }),
        ];
        let mut pacer = Pacer::new(Some(secs(1.0)), t0);
        for &(at, lasts, step) in table {
            let now = t0 + secs(at);
            let got = pacer.next(now);
            assert_eq!(got, step, "at {at}");
            if let ClockStep::Run { .. } = got {
                // No second round while this one runs.
                assert_eq!(pacer.next(now), ClockStep::Idle, "at {at}, running");
                pacer.round_ended(now + secs(lasts));
            }
        }
    }

    #[test]
    fn a_tick_under_the_own_clock_is_answered_at_once_and_marks_the_next_round() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(Some(secs(1.0)), t0);
        assert_eq!(pacer.tick(60), OnTick::LeaveToClock);
        assert_eq!(pacer.next(t0 + secs(1.0)), ClockStep::Run { tick: true });
        pacer.round_ended(t0 + secs(1.1));
        assert_eq!(pacer.next(t0 + secs(2.0)), ClockStep::Run { tick: false });
        // A TICK while a round runs is still answered at once.
        assert_eq!(pacer.tick(60), OnTick::LeaveToClock);
        pacer.round_ended(t0 + secs(2.1));
        assert_eq!(pacer.next(t0 + secs(3.0)), ClockStep::Run { tick: true });
    }

    #[test]
    fn a_faster_tick_hands_the_rounds_back_without_overlapping_the_clocks() {
        let t0 = Instant::now();
        // --interval 5: own clock until a TICK_5 shows the ticks are as fast.
        let mut pacer = Pacer::new(Some(secs(5.0)), t0);
        assert_eq!(pacer.next(t0 + secs(5.0)), ClockStep::Run { tick: false });
        // The TICK comes while the clock's round runs: skipped, not run beside it.
        assert_eq!(pacer.tick(5), OnTick::Busy);
        pacer.round_ended(t0 + secs(5.5));
        assert_eq!(pacer.next(t0 + secs(10.0)), ClockStep::Idle);
        assert_eq!(pacer.tick(5), OnTick::RunHere);
    }

    #[test]
    fn an_interval_beyond_the_clock_is_no_panic() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(Some(Duration::from_secs(u64::MAX)), t0);
        assert_eq!(pacer.next(t0 + secs(1.0)), ClockStep::Idle);
    }

    #[test]
    fn stop_ends_the_clock_thread() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(Some(secs(1.0)), t0);
        pacer.stop();
        assert_eq!(pacer.next(t0 + secs(1.0)), ClockStep::Stop);
    }

    #[test]
    fn a_grid_far_behind_catches_up_in_one_step() {
        let t0 = Instant::now();
        let next = first_slot_after(t0, secs(1.0), t0 + secs(3600.5));
        assert_eq!(next, t0 + secs(3601.0));
        assert_eq!(first_slot_after(t0, secs(1.0), t0), t0 + secs(1.0));
    }
}
