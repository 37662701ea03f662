//! The one temp-dir helper: every test that needs files of its own (a supervisord's
//! config and logs, scripts, certificates, unix sockets) gets a [`TempDir`], the
//! integration tests' and the unit tests' alike (src/lib.rs includes this file through
//! `unit.rs`); and [`mkfifo`], for a file that blocks whoever opens it.

use std::fs;
use std::io;
use std::ops::Deref;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh directory `/tmp/httpok-TAG-PID-N-NANOS`, short because unix socket paths
/// must stay under 108 bytes. Removed on drop, unless the test is failing: then it is
/// kept and named on stderr.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        loop {
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos()
                % 100_000;
            let dir = PathBuf::from(format!(
                "/tmp/httpok-{tag}-{}-{n}-{nanos}",
                std::process::id()
            ));
            match fs::create_dir(&dir) {
                Ok(()) => {
                    // Whatever the umask: httpok refuses a state file in a directory
                    // others can write.
                    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
                        .unwrap_or_else(|e| panic!("chmod {}: {e}", dir.display()));
                    return TempDir(dir);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create {}: {e}", dir.display()),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside the dir.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }
}

/// The dir as a path (the unit tests pass `&dir` where a `&Path` goes).
impl Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("==== test dir kept: {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Makes a FIFO at `path` (with `mkfifo`): opening it to write blocks until someone
/// opens it to read, as a write to a hung network mount would.
#[track_caller]
pub fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap_or_else(|e| panic!("cannot run mkfifo: {e}"));
    assert!(status.success(), "mkfifo {}: {status}", path.display());
}
