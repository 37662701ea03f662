//! The one temp-dir helper of the unit tests: a private directory for one test's files
//! (short enough for a unix socket's path), removed when the test ends (also when it
//! fails), so `cargo test` leaves nothing under /tmp. The integration tests' is
//! `tests/common/dirs.rs`. And two files of theirs the unit tests share: [`certs`], the
//! one CA recipe, and [`hostile`], the hostile peers and an address that refuses.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

// The integration tests use the rest of them.
#[allow(dead_code)]
#[path = "certs.rs"]
pub mod certs;
#[allow(dead_code)]
#[path = "hostile.rs"]
pub mod hostile;

pub struct TestDir(PathBuf);

impl TestDir {
    /// `/tmp/httpok-unit-<pid>-<n>-<tag>`, new and empty.
    pub fn new(tag: &str) -> TestDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("httpok-unit-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test's dir");
        TestDir(dir)
    }
}

impl Deref for TestDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
