//! The state file's one writer thread. Callers hand it numbered snapshots and never
//! wait on the disk (but for the stop record, bounded): it keeps only the newest one not
//! yet written (latest wins, so memory stays at one pending state however long a write
//! hangs), skips a state equal to the one on disk, and says once when writing fails or
//! hangs past its deadline and once when it works again.
//!
//! Its lock ([`Slot`]) guards memory only, is never held across the IO or a log line,
//! and is taken with no other lock held (it is last in the watcher's lock order).

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use log::Level;

use crate::lock;
use crate::state_file::{self, Saved};

/// Where the text goes; the file (through [`state_file::save`]) but in unit tests.
pub trait Store: Send + Sync + 'static {
    fn write(&self, text: &[u8]) -> Result<(), String>;
}

/// Says one line (the log, but in unit tests).
pub type Say = Arc<dyn Fn(Level, String) + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trouble {
    None,
    /// A write has not finished within the deadline.
    Hung,
    /// The last write failed.
    Failing,
}

struct Slot {
    /// The newest snapshot not yet taken by the thread.
    pending: Option<(u64, Saved)>,
    /// Highest number handed over.
    submitted: u64,
    /// Highest number whose write ended, well or not.
    ended: u64,
    /// Highest number known to be on disk.
    stored: u64,
    /// When the write under way began.
    busy_since: Option<Instant>,
    trouble: Trouble,
    closed: bool,
}

struct Inner {
    slot: Mutex<Slot>,
    /// The thread waits here for work.
    wake: Condvar,
    /// Waiters for a write to end wait here.
    ended: Condvar,
    /// `the state file PATH`, for the lines it says.
    what: String,
    say: Say,
    deadline: Duration,
}

pub struct Writer {
    inner: Arc<Inner>,
}

impl Writer {
    /// Starts the thread. `what` names the file in lines; a write still running after
    /// `deadline` is said to hang.
    pub fn spawn(
        store: Box<dyn Store>,
        what: String,
        say: Say,
        deadline: Duration,
    ) -> std::io::Result<Writer> {
        let inner = Arc::new(Inner {
            slot: Mutex::new(Slot {
                pending: None,
                submitted: 0,
                ended: 0,
                stored: 0,
                busy_since: None,
                trouble: Trouble::None,
                closed: false,
            }),
            wake: Condvar::new(),
            ended: Condvar::new(),
            what,
            say,
            deadline,
        });
        let thread_inner = Arc::clone(&inner);
        thread::Builder::new()
            .name("state file".into())
            .spawn(move || run(&thread_inner, &*store))?;
        Ok(Writer { inner })
    }

    /// Hands over snapshot `seq` (older than one handed over already: dropped). Never
    /// waits on the disk.
    pub fn submit(&self, seq: u64, saved: Saved) {
        let line = {
            let mut slot = lock(&self.inner.slot);
            if seq > slot.submitted {
                slot.submitted = seq;
                slot.pending = Some((seq, saved));
                self.inner.wake.notify_one();
            }
            self.hung_line(&mut slot)
        };
        self.say(line);
    }

    /// Waits until snapshot `seq` (or a newer one) is on disk: `true`, or `false` once
    /// its write failed, writing hangs, or `timeout` passed.
    pub fn wait_stored(&self, seq: u64, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        let mut slot = lock(&self.inner.slot);
        loop {
            if slot.stored >= seq {
                return true;
            }
            let line = self.hung_line(&mut slot);
            if line.is_some() {
                drop(slot);
                self.say(line);
                return false;
            }
            if slot.ended >= seq || slot.trouble == Trouble::Hung {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            // Wake in time to call a write that began long ago hung.
            let hung_at = slot.busy_since.map(|t| t + self.inner.deadline);
            let wake_at = hung_at.map_or(until, |h| h.min(until)).max(now);
            slot = self
                .inner
                .ended
                .wait_timeout(slot, (wake_at - now).max(Duration::from_millis(1)))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The WARN for a write past its deadline, once per incident.
    fn hung_line(&self, slot: &mut Slot) -> Option<(Level, String)> {
        let since = slot.busy_since?;
        if slot.trouble != Trouble::None || since.elapsed() < self.inner.deadline {
            return None;
        }
        slot.trouble = Trouble::Hung;
        Some((
            Level::Warn,
            format!(
                "writing {} has not finished after {}s (a hung disk or network mount?); \
                 httpok goes on watching and writes the newest state once the disk answers",
                self.inner.what,
                self.inner.deadline.as_secs_f64()
            ),
        ))
    }

    fn say(&self, line: Option<(Level, String)>) {
        if let Some((level, text)) = line {
            (self.inner.say)(level, text);
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        lock(&self.inner.slot).closed = true;
        self.inner.wake.notify_one();
    }
}

/// The thread: take the newest snapshot, write it unless it is already on disk, tell.
fn run(inner: &Inner, store: &dyn Store) {
    let mut on_disk: Option<Saved> = None;
    loop {
        let (seq, saved) = {
            let mut slot = lock(&inner.slot);
            loop {
                if let Some(next) = slot.pending.take() {
                    slot.busy_since = Some(Instant::now());
                    break next;
                }
                if slot.closed {
                    return;
                }
                slot = inner
                    .wake
                    .wait(slot)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let unchanged = on_disk.as_ref() == Some(&saved);
        let result = if unchanged {
            Ok(())
        } else {
            state_file::encode(&saved).and_then(|text| store.write(&text))
        };
        let ok = result.is_ok();
        let line = {
            let mut slot = lock(&inner.slot);
            slot.busy_since = None;
            match result {
                // Nothing was written: the disk holds this state, but that proves nothing
                // about writing, so an incident stands and no line is said (on a full
                // disk, a check failing and passing by turns made a WARN and "is
                // written again" at every change, each of those lines untrue).
                Ok(()) if unchanged => None,
                Ok(()) => {
                    let was = std::mem::replace(&mut slot.trouble, Trouble::None);
                    (was != Trouble::None)
                        .then(|| (Level::Info, format!("{} is written again", inner.what)))
                }
                Err(e) if slot.trouble == Trouble::None => {
                    slot.trouble = Trouble::Failing;
                    Some((
                        Level::Warn,
                        format!(
                            "cannot write {}: {e}; httpok goes on watching and tries again \
                             at the next change",
                            inner.what
                        ),
                    ))
                }
                Err(e) => {
                    slot.trouble = Trouble::Failing;
                    Some((
                        Level::Debug,
                        format!("still cannot write {}: {e}", inner.what),
                    ))
                }
            }
        };
        // Said before waiters learn the outcome, so what they do next follows it.
        if let Some((level, text)) = line {
            (inner.say)(level, text);
        }
        if ok {
            on_disk = Some(saved);
        }
        let mut slot = lock(&inner.slot);
        slot.ended = slot.ended.max(seq);
        if ok {
            slot.stored = slot.stored.max(seq);
        }
        inner.ended.notify_all();
    }
}
