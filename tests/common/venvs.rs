//! The Python virtualenvs a supervisord runs from ([`Venv`]): the project's `.venv`
//! (supervisor 4.3.0, made by `scripts/venv.sh`; what every test uses unless it asks
//! for another), one per supervisor version and maturin's (made by `scripts/venv.sh
//! --supervisor V` and `--maturin` on first use, cached under `HTTPOK_TOOLS`), or any
//! other, such as the fresh one a wheel is installed into.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::{Running, repo_root};

/// How long `scripts/venv.sh` may take to make a virtualenv (pip may download).
const MAKE_TIMEOUT: Duration = Duration::from_secs(600);

/// A virtualenv: a directory with `bin/python` and whatever pip put in `bin/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Venv(PathBuf);

impl Venv {
    /// The project's `.venv` (supervisor 4.3.0), which `scripts/venv.sh` makes.
    pub fn project() -> Venv {
        Venv(repo_root().join(".venv"))
    }

    /// The cached virtualenv with `supervisor==version` alone (on the Python that
    /// version runs on), made on first use.
    #[track_caller]
    pub fn supervisor(version: &str) -> Venv {
        Venv::cached(&["--supervisor", version])
    }

    /// The cached virtualenv with maturin, made on first use.
    #[track_caller]
    pub fn maturin() -> Venv {
        Venv::cached(&["--maturin"])
    }

    /// The virtualenv at `dir`, made by whoever made it.
    pub fn at(dir: impl Into<PathBuf>) -> Venv {
        Venv(dir.into())
    }

    pub fn dir(&self) -> &Path {
        &self.0
    }

    /// `bin/NAME`; panics with a hint when it is missing.
    #[track_caller]
    pub fn bin(&self, name: &str) -> PathBuf {
        let path = self.0.join("bin").join(name);
        assert!(
            path.exists(),
            "{} is missing: run scripts/venv.sh first (the README's test command does)",
            path.display()
        );
        path
    }

    #[track_caller]
    pub fn python(&self) -> PathBuf {
        self.bin("python")
    }

    /// `scripts/venv.sh ARGS`, once per process for each ARGS (tests of one version run
    /// in parallel; the script itself takes turns with other processes): the path it
    /// prints. Its error (a missing Python, pip's) fails the test.
    #[track_caller]
    fn cached(args: &[&str]) -> Venv {
        static MADE: OnceLock<Mutex<HashMap<String, Arc<OnceLock<PathBuf>>>>> = OnceLock::new();
        let key = args.join(" ");
        let slot = MADE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        let dir = slot.get_or_init(|| {
            let mut cmd = Command::new("bash");
            cmd.arg(repo_root().join("scripts/venv.sh"))
                .args(args)
                .stdin(Stdio::null());
            let done = Running::spawn(&mut cmd).finish(MAKE_TIMEOUT, |_| {});
            assert!(
                done.code == 0,
                "scripts/venv.sh {key} failed ({}):\n{}",
                done.code,
                done.stderr
            );
            let printed = done.stdout.lines().last().unwrap_or_default().trim();
            assert!(
                !printed.is_empty(),
                "scripts/venv.sh {key} printed no path:\n{}",
                done.stderr
            );
            PathBuf::from(printed)
        });
        Venv(dir.clone())
    }
}
