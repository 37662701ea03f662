//! The `ticks` harness: the tick clock (`crate::listener::ticks`) against arbitrary TICKs, and a
//! model of its rule in exact arithmetic to compare it with.

use std::time::{Duration, Instant};

use crate::listener::ticks::{self, BACKLOG_DELIVERY, TickClock};

/// The tick clock fed arbitrary TICKs: each step is a tick's name (so its period, from
/// `TICK_5` to names that are no number), its `when` (none, any i64, the limits, or
/// near the last one), when it arrives after the last event was answered, and how long
/// its round takes if it runs.
///
/// Invariants: nothing panics; a tick without `when`, the first one, one whose `when`
/// is below the last round's, and one that arrives more than [`BACKLOG_DELIVERY`] after
/// the last round ended always run (so no `when` sequence stops the rounds); every
/// verdict agrees with the rule worked in exact (i128) arithmetic; a stale tick's reason
/// names its `when`.
pub fn ticks(data: &[u8]) {
    let mut input = Bytes(data);
    let mut clock = TickClock::default();
    // The model's view of the last tick that ran: (when, received, round ended).
    let mut last: Option<(i64, Instant, Instant)> = None;
    let mut now = Instant::now();
    while let Some(tick) = TickStep::read(&mut input, last.map(|(when, ..)| when)) {
        let Some(received) = now.checked_add(tick.gap) else {
            return;
        };
        let period = ticks::period(&tick.name);
        let verdict = clock.stale(period, tick.when, received);
        assert_eq!(
            verdict,
            clock.stale(period, tick.when, received),
            "not pure"
        );
        let must_run = match (tick.when, last) {
            (None, _) | (_, None) => true,
            (Some(when), Some((last_when, _, ended))) => {
                when < last_when || received.saturating_duration_since(ended) > BACKLOG_DELIVERY
            }
        };
        assert!(
            !(must_run && verdict.is_some()),
            "{tick:?} was stale: {verdict:?}"
        );
        assert_eq!(
            verdict.is_some(),
            exact_stale(period, tick.when, received, last),
            "{tick:?} after {last:?}: {verdict:?}"
        );
        if let (Some(why), Some(when)) = (&verdict, tick.when) {
            assert!(why.contains(&format!("when:{when}")), "{why}");
        }
        now = received;
        if verdict.is_none() {
            let Some(ended) = received.checked_add(tick.round) else {
                return;
            };
            clock.handled(tick.when, received, ended);
            if let Some(when) = tick.when {
                last = Some((when, received, ended));
            }
            now = ended;
        }
    }
}

/// The staleness rule of `listener/ticks.rs`, in i128 nanoseconds, where nothing can overflow.
fn exact_stale(
    period: u64,
    when: Option<i64>,
    received: Instant,
    last: Option<(i64, Instant, Instant)>,
) -> bool {
    let (Some(when), Some((last_when, last_received, ended))) = (when, last) else {
        return false;
    };
    if received.saturating_duration_since(ended) > BACKLOG_DELIVERY || when < last_when {
        return false;
    }
    let round = ended.saturating_duration_since(last_received).as_nanos();
    let next_issued = i128::from(when) - i128::from(last_when) + i128::from(period.max(1));
    when == last_when || next_issued * 1_000_000_000 <= i128::try_from(round).unwrap_or(i128::MAX)
}

/// One TICK of the `ticks` harness.
#[derive(Debug)]
struct TickStep {
    name: String,
    when: Option<i64>,
    /// From the last event's answer to this tick's arrival.
    gap: Duration,
    /// How long its round takes, if it runs one.
    round: Duration,
}

impl TickStep {
    /// The next step, or `None` when the input is used up.
    fn read(input: &mut Bytes<'_>, last_when: Option<i64>) -> Option<TickStep> {
        let kind = input.u8()?;
        let when = match kind & 0b11 {
            0 => None,
            1 => Some(i64::from_le_bytes(input.array()?)),
            2 => {
                let step = i64::from(i8::from_le_bytes([input.u8()?]));
                Some(last_when.unwrap_or(0).saturating_add(step))
            }
            _ => {
                const EDGES: [i64; 8] = [
                    i64::MIN,
                    i64::MIN + 1,
                    -1,
                    0,
                    1,
                    1_700_000_000,
                    i64::MAX - 1,
                    i64::MAX,
                ];
                Some(EDGES[usize::from(input.u8()? % 8)])
            }
        };
        let name = match (kind >> 2) & 0b111 {
            0 => "TICK_5".to_string(),
            1 => "TICK_60".to_string(),
            2 => "TICK_3600".to_string(),
            3 => "TICK_0".to_string(),
            4 => format!("TICK_{}", u64::MAX),
            5 => format!("TICK_{}", u64::from_le_bytes(input.array()?)),
            _ => format!("TICK_{}", String::from_utf8_lossy(&input.array::<4>()?)),
        };
        // Hundredths of a second: up to 655 s, fine enough to straddle BACKLOG_DELIVERY.
        let hundredths = |n: u16| Duration::from_millis(u64::from(n) * 10);
        let gap = hundredths(u16::from_le_bytes(input.array()?));
        let round = hundredths(u16::from_le_bytes(input.array()?));
        Some(TickStep {
            name,
            when,
            gap,
            round,
        })
    }
}

/// A cursor over fuzz input.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
}
