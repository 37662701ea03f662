//! The clock thread: runs rounds between TICKs when the [`Pacer`] says so, sleeping
//! on the pacer's condition variable in between, so that a TICK or a stop wakes it at
//! once. It decides nothing: when a round is due is the pacer's.

use std::io;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::thread;
use std::time::Instant;

use super::{Shared, run_round};
use crate::listener::pacer::{ClockStep, Pacer};
use crate::lock;
use crate::planner::Round;
use crate::probe::Probe;

/// Starts the clock thread; it ends when httpok stops.
pub(super) fn spawn(prober: Arc<dyn Probe>, shared: Arc<Shared>) -> io::Result<()> {
    thread::Builder::new()
        .name("clock".into())
        .spawn(move || run(prober.as_ref(), &shared))
        .map(|_| ())
}

fn run(prober: &dyn Probe, shared: &Arc<Shared>) {
    loop {
        let (tick, spacing) = {
            let mut pacer = lock(&shared.pacer);
            let tick = loop {
                match pacer.next(Instant::now()) {
                    ClockStep::Stop => return,
                    ClockStep::Run { tick } => break tick,
                    ClockStep::Idle => pacer = wait(shared, pacer, None),
                    ClockStep::Sleep(pause) => pacer = wait(shared, pacer, Some(pause)),
                }
            };
            (tick, pacer.every().unwrap_or_default())
        };
        run_round(
            prober,
            shared,
            Round::between_ticks(Instant::now(), spacing, tick),
        );
        lock(&shared.pacer).round_ended(Instant::now());
    }
}

/// Waits on the pacer until woken, or `pause` has passed.
fn wait<'a>(
    shared: &'a Shared,
    pacer: MutexGuard<'a, Pacer>,
    pause: Option<std::time::Duration>,
) -> MutexGuard<'a, Pacer> {
    match pause {
        Some(pause) => {
            let waited = shared.wake.wait_timeout(pacer, pause);
            waited.unwrap_or_else(PoisonError::into_inner).0
        }
        None => shared
            .wake
            .wait(pacer)
            .unwrap_or_else(PoisonError::into_inner),
    }
}
