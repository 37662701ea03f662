//! A clock that moves only when slept on, for unit tests of restarts.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Clock;

/// A clock that moves only when it is slept on: restarts in unit tests poll for
/// minutes of its time in no time of ours.
#[derive(Debug)]
pub struct FakeClock {
    now: Mutex<Instant>,
}

impl Default for FakeClock {
    fn default() -> FakeClock {
        FakeClock {
            now: Mutex::new(Instant::now()),
        }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        *crate::lock(&self.now)
    }

    fn sleep(&self, pause: Duration) {
        let mut now = crate::lock(&self.now);
        *now += pause;
    }
}
