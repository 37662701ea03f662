//! The socket file of `--metrics-listen unix:PATH`. At bind, a stale one (a socket
//! file nobody accepts on: its httpok was killed) is replaced, and anything that is
//! not a socket is left alone. At a graceful exit, the file is removed if it is still
//! the one this httpok made (same device and inode): never a file someone put there
//! since.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::deadline;

/// Binds `path`, replacing a stale socket file there; the file made, as made.
pub(super) fn bind(path: &Path) -> io::Result<(UnixListener, Option<Made>)> {
    let listener = match UnixListener::bind(path) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse && is_stale_socket(path) => {
            log::debug!("replacing the stale socket file {}", path.display());
            fs::remove_file(path)?;
            UnixListener::bind(path)
        }
        bound => bound,
    }?;
    let made = Made::of(path);
    Ok((listener, made))
}

/// How long the look at a socket file found at the path may take.
const STALE_CHECK: Duration = Duration::from_secs(1);

/// A socket file that refuses connections: its server is gone. Asked with a deadline:
/// a socket whose server is alive but not accepting (its backlog full: a hung httpok
/// before this one, or a socket someone planted) made a blocking connect wait for good,
/// and httpok never answered its first READY.
fn is_stale_socket(path: &Path) -> bool {
    let is_socket = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    is_socket
        && deadline::connect_unix(path, Instant::now() + STALE_CHECK)
            .is_err_and(|e| e.kind() == io::ErrorKind::ConnectionRefused)
}

/// A socket file this httpok made, as it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Made {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Made {
    /// The socket file at `path`, just bound.
    fn of(path: &Path) -> Option<Made> {
        let meta = fs::symlink_metadata(path).ok()?;
        meta.file_type().is_socket().then(|| Made {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// Removes the file if it is still this one.
    fn remove(&self) {
        let same = fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_socket() && m.dev() == self.dev && m.ino() == self.ino);
        if !same {
            return;
        }
        if let Err(e) = fs::remove_file(&self.path) {
            log::warn!(
                "cannot remove the metrics socket file {}: {e}",
                self.path.display()
            );
        }
    }
}

#[derive(Debug, Default)]
enum Owned {
    /// No socket file made (not bound yet, or TCP).
    #[default]
    Nothing,
    Made(Made),
    /// httpok is exiting: the file is gone and no new one is made.
    Closed,
}

/// What the endpoint's thread and the exit share about the socket file. The lock is
/// held for the state only; the file is looked at and removed after it is released.
#[derive(Debug, Default)]
pub(super) struct SocketFile(Mutex<Owned>);

impl SocketFile {
    /// Notes the file of a socket just bound (`None` for TCP). False (and the file
    /// removed) if httpok began to exit meanwhile: the socket is not to be served.
    pub(super) fn keep(&self, made: Option<Made>) -> bool {
        {
            let mut owned = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            if !matches!(*owned, Owned::Closed) {
                if let Some(made) = made {
                    *owned = Owned::Made(made);
                }
                return true;
            }
        }
        if let Some(made) = made {
            made.remove();
        }
        false
    }

    pub(super) fn is_closed(&self) -> bool {
        matches!(
            *self.0.lock().unwrap_or_else(PoisonError::into_inner),
            Owned::Closed
        )
    }

    /// Removes the file made, if it is still there as made; nothing is made after.
    pub(super) fn close(&self) {
        let owned = std::mem::replace(
            &mut *self.0.lock().unwrap_or_else(PoisonError::into_inner),
            Owned::Closed,
        );
        if let Owned::Made(made) = owned {
            made.remove();
        }
    }
}
