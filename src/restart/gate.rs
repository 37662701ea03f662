//! Stopping without harm. A [`Gate`] stands between "httpok is stopping" and each
//! restart's critical section, the stretch from issuing the stop to issuing the start:
//! once closed, no new stop is issued, and closing waits (bounded) for every stop already
//! issued to be followed by its start, so `supervisorctl stop httpok` in the middle of a
//! restart never leaves the program STOPPED.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::lock;

#[derive(Debug, Default)]
struct GateState {
    closed: bool,
    /// Restarts between their stop and their start.
    holding: usize,
}

/// Shared by the listener, the signal thread and every restart job.
#[derive(Debug, Default)]
pub struct Gate {
    state: Mutex<GateState>,
    left: Condvar,
}

impl Gate {
    /// Before a stop: `false` once httpok is stopping (then stop nothing).
    pub fn enter(&self) -> bool {
        let mut state = lock(&self.state);
        if state.closed {
            return false;
        }
        state.holding += 1;
        true
    }

    /// After the start was issued (or the restart gave up before it).
    pub fn leave(&self) {
        let mut state = lock(&self.state);
        state.holding = state.holding.saturating_sub(1);
        self.left.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Closes the gate and waits up to `timeout` for restarts holding it; returns how
    /// many still held it when the wait ended.
    pub fn close_and_wait(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.state);
        state.closed = true;
        while state.holding > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .left
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.holding
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn a_closed_gate_lets_no_new_stop_through() {
        let gate = Gate::default();
        assert_eq!(gate.close_and_wait(Duration::from_secs(1)), 0);
        assert!(!gate.enter());
        assert!(gate.is_closed());
    }

    #[test]
    fn closing_waits_for_a_stop_to_be_followed_by_its_start() {
        let gate = Arc::new(Gate::default());
        assert!(gate.enter());
        let (tx, rx) = std::sync::mpsc::channel();
        let closer = {
            let gate = Arc::clone(&gate);
            thread::spawn(move || {
                let left = gate.close_and_wait(Duration::from_secs(30));
                let _ = tx.send(left);
            })
        };
        // The closer is waiting: it has not answered while the restart holds the gate.
        while !gate.is_closed() {
            thread::yield_now();
        }
        assert!(rx.try_recv().is_err());
        gate.leave();
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(0));
        closer.join().expect("closer");
    }

    #[test]
    fn closing_gives_up_waiting_after_the_timeout() {
        let gate = Gate::default();
        assert!(gate.enter());
        assert_eq!(gate.close_and_wait(Duration::from_millis(50)), 1);
    }
}
