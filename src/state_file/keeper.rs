//! Keeps the `--state-file` in step with the planner, the one value that holds what it
//! keeps ([`Planner::export`]): after every round and restart, and around every stop
//! (so a restart cut short by a SIGKILL of httpok is finished by the next one).
//!
//! Never blocked by the disk: callers take a numbered [`Snapshot`] while they hold the
//! planner's lock (memory only) and [`Keeper::submit`] it after letting go; one writer
//! thread (`writer.rs`) does the IO, newest snapshot first. Only a restart's stop waits
//! for its record to reach the disk, on the restart's own thread, holding no lock, and
//! for at most [`STOP_RECORD_WAIT`]. Reading at start is bounded too
//! ([`LOAD_DEADLINE`]). A write that fails or hangs is one WARN and httpok goes on; one
//! INFO when a write works again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::planner::Planner;
use crate::state_file::{self, Saved};

#[cfg(test)]
mod tests;
mod writer;

use writer::Writer;
pub use writer::{Say, Store};

/// A write still running after this long is said to hang.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(5);
/// How long a restart waits for its stop record to reach the disk before it stops the
/// program anyway (a restart matters more than the record).
pub const STOP_RECORD_WAIT: Duration = WRITE_DEADLINE;
/// How long reading the file at start may take before httpok starts fresh.
pub const LOAD_DEADLINE: Duration = WRITE_DEADLINE;

pub struct Keeper {
    path: Option<PathBuf>,
    /// Snapshots taken so far: each one's number, so the newest wins. Taken under the
    /// planner's lock, so numbers follow the planner's changes.
    taken: AtomicU64,
    /// `None` without --state-file, or when its thread could not start.
    writer: Option<Writer>,
}

/// The state to write, numbered in the order it was taken.
#[derive(Debug)]
pub struct Snapshot {
    seq: u64,
    saved: Saved,
}

/// Seconds since the epoch now (the state file's clock).
pub fn epoch_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The writer's lines go to the log.
fn log_line() -> Say {
    Arc::new(|level, text| log::log!(level, "{text}"))
}

struct FileStore(PathBuf);

impl Store for FileStore {
    fn write(&self, text: &[u8]) -> Result<(), String> {
        state_file::save(&self.0, text)
    }
}

impl Keeper {
    pub fn new(path: Option<PathBuf>) -> Keeper {
        let writer = path.as_ref().and_then(|path| {
            let store = Box::new(FileStore(path.clone()));
            let what = format!("the state file {}", path.display());
            Writer::spawn(store, what, log_line(), WRITE_DEADLINE)
                .map_err(|e| {
                    log::warn!(
                        "cannot start the state file's writer ({e}); {} is not written",
                        path.display()
                    );
                })
                .ok()
        });
        Keeper {
            path,
            taken: AtomicU64::new(0),
            writer,
        }
    }

    /// A keeper writing to `store` (unit tests).
    #[cfg(test)]
    pub fn with_store(store: Box<dyn Store>, say: Say, deadline: Duration) -> Keeper {
        let writer = Writer::spawn(store, "the state file".into(), say, deadline).ok();
        Keeper {
            path: None,
            taken: AtomicU64::new(0),
            writer,
        }
    }

    /// The state a previous httpok left; `None` (with a line) when there is none to use.
    pub fn load(&self) -> Option<Saved> {
        let path = self.path.as_ref()?;
        match load_within(path, LOAD_DEADLINE) {
            Ok(Some(saved)) => {
                log::info!("state read from {}", path.display());
                Some(saved)
            }
            // A first start (INFO, not WARN: a fresh install is not a problem); an
            // unreadable, unsafe or corrupt file is a WARN below.
            Ok(None) => {
                log::info!("no state file at {} yet; starting fresh", path.display());
                None
            }
            Err(e) => {
                // A FIFO, device, socket or directory at the path is never replaced
                // (writer.rs): do not promise a rewrite that will not come.
                let then = match e {
                    state_file::LoadError::NotRegular(kind) if kind != "symbolic link" => {
                        "it is left in place and never written: give --state-file another path"
                    }
                    _ => "it is rewritten at the next change",
                };
                log::warn!(
                    "cannot use the state file {}: {e}; starting fresh ({then})",
                    path.display()
                );
                None
            }
        }
    }

    /// The state to write now (`None` without a writer). Call with the planner's lock
    /// held: memory only.
    pub fn snapshot(&self, planner: &Planner) -> Option<Snapshot> {
        self.writer.as_ref()?;
        let saved = planner.export(Instant::now(), epoch_now());
        let seq = self.taken.fetch_add(1, Ordering::Relaxed) + 1;
        Some(Snapshot { seq, saved })
    }

    /// Hands a snapshot to the writer. Never waits on the disk; call with no lock held
    /// (it may log the WARN of a hung write).
    pub fn submit(&self, snapshot: Option<Snapshot>) {
        if let (Some(writer), Some(s)) = (&self.writer, snapshot) {
            writer.submit(s.seq, s.saved);
        }
    }

    /// Hands a snapshot over and waits, at most `timeout` (less if writing is known to
    /// hang), until it is on disk; whether it is. Call with no lock held.
    pub fn submit_and_wait(&self, snapshot: Option<Snapshot>, timeout: Duration) -> bool {
        let (Some(writer), Some(s)) = (&self.writer, snapshot) else {
            return false;
        };
        let seq = s.seq;
        writer.submit(seq, s.saved);
        writer.wait_stored(seq, timeout)
    }
}

/// [`state_file::load`] on a thread of its own, given up on after `deadline` (a hung
/// mount must not keep httpok from its first READY; the thread is left to finish).
pub(super) fn load_within(
    path: &Path,
    deadline: Duration,
) -> Result<Option<Saved>, state_file::LoadError> {
    let (tx, rx) = mpsc::channel();
    let owned = path.to_path_buf();
    let spawned = thread::Builder::new()
        .name("state file load".into())
        .spawn(move || {
            let _ = tx.send(state_file::load(&owned));
        });
    if let Err(e) = spawned {
        return Err(state_file::LoadError::Io(format!(
            "cannot start a thread: {e}"
        )));
    }
    rx.recv_timeout(deadline).unwrap_or_else(|_| {
        Err(state_file::LoadError::Io(format!(
            "reading it has not finished after {}s (a hung disk or network mount?)",
            deadline.as_secs()
        )))
    })
}
