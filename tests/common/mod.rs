//! The test rig: what the integration tests share, one module per idea, all of it
//! re-exported here (`use common::*;`) except [`e2e`] and [`fake_supervisord`].
//!
//! * [`dirs`]: [`TempDir`], the one private dir under /tmp a test or a supervisord gets
//!   (the unit tests' too, through tests/common/unit.rs).
//! * [`run`]: commands under a deadline ([`httpok_cmd`], [`Running`], [`run_once`],
//!   [`run_with_timeout`]), signals and processes.
//! * [`http`]: a tiny HTTP client, and the servers probes are pointed at
//!   ([`StatusServer`], [`serve_each`]).
//! * [`certs`]: the one CA recipe ([`Certs`]), also the unit tests' (through tests/common/unit.rs).
//! * [`tls`]: the TLS test app ([`TlsApp`]).
//! * [`sections`]: supervisord.conf sections ([`Section`], [`web`], [`listener`]).
//! * [`scripts`]: executable stand-ins for sendmail, gcore and hooks ([`Recorder`]).
//! * [`hostile`]: hostile peers ([`FullBacklogSocket`], [`SilentPeer`], [`Dribbler`],
//!   [`refused_addr`]) and what a process holds ([`Holdings`]: threads, fds, RSS); also
//!   the unit tests' (through tests/common/unit.rs).
//! * [`supervisord`]: the one way to run a real supervisord ([`Supervisor`]), from
//!   `.venv` (made by `scripts/venv.sh`) or another virtualenv.
//! * [`venvs`]: those virtualenvs ([`Venv`]): `.venv`, one cached per supervisor
//!   version, maturin's.
//! * [`e2e`]: what the supervisord end-to-end tests observe (ticks, httpok's log).
//! * [`fake_supervisord`]: for the fault and safety tests, an XML-RPC server that plays
//!   supervisord or misbehaves on demand ([`fake_supervisord::FakeSupervisord`]), and
//!   httpok run as a listener whose stdin and stdout the test holds
//!   ([`fake_supervisord::Listener`]).
//!
//! Every test gets its own dir, socket and ports, so tests run in parallel. Every wait
//! is a poll against a deadline ([`wait_for`]).
#![allow(dead_code)]

pub mod certs;
pub mod dirs;
pub mod e2e;
pub mod fake_supervisord;
pub mod hostile;
pub mod http;
pub mod run;
pub mod scripts;
pub mod sections;
pub mod supervisord;
pub mod tls;
pub mod venvs;

// Each test crate uses some of these; the rest would be "unused" there.
#[allow(unused_imports)]
pub use certs::*;
#[allow(unused_imports)]
pub use dirs::*;
#[allow(unused_imports)]
pub use hostile::*;
#[allow(unused_imports)]
pub use http::*;
#[allow(unused_imports)]
pub use run::*;
#[allow(unused_imports)]
pub use scripts::*;
#[allow(unused_imports)]
pub use sections::*;
#[allow(unused_imports)]
pub use supervisord::*;
#[allow(unused_imports)]
pub use tls::*;
#[allow(unused_imports)]
pub use venvs::*;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Pause between two looks of a poll.
const POLL: Duration = Duration::from_millis(200);

// ---------------------------------------------------------------- paths and ports

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `.venv/bin/NAME`; panics with a hint when the venv is missing.
#[track_caller]
pub fn venv_bin(name: &str) -> PathBuf {
    Venv::project().bin(name)
}

pub fn python() -> PathBuf {
    venv_bin("python")
}

/// tests/apps/NAME: `webapp.py` (HTTP on a port or a socket), `tlsapp.py` (HTTPS).
pub fn test_app(name: &str) -> PathBuf {
    repo_root().join("tests").join("apps").join(name)
}

pub fn webapp_script() -> PathBuf {
    test_app("webapp.py")
}

pub fn httpok_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_httpok"))
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    // Below the kernel's ephemeral range (32768 and up): a port handed out here is never
    // a connection's source port or another test's `bind(:0)`, so an app restarted on
    // it (its port free for a moment) always gets it back. Each call in this process
    // takes the next one; the start depends on the pid, for runs side by side.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = 10_000 + (std::process::id() % 1000) * 20;
    for _ in 0..22_000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 10_000 + (start - 10_000 + n) % 22_000;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below 32000 on 127.0.0.1")
}

// ---------------------------------------------------------------- waiting

/// Polls `f` every ~200 ms until it returns `Ok(value)` or `timeout` has passed: the
/// value, or the last `Err` (the last thing observed).
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let start = Instant::now();
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(last) if start.elapsed() >= timeout => return Err(last),
            Err(_) => thread::sleep(POLL),
        }
    }
}

/// Polls `f` until it returns `Ok(value)`; panics after `timeout` with `desc` and the
/// last `Err`.
#[track_caller]
pub fn wait_for<T>(desc: &str, timeout: Duration, f: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    match poll(timeout, f) {
        Ok(v) => v,
        Err(last) => {
            let last = if last.is_empty() {
                String::new()
            } else {
                format!(" (last seen: {last})")
            };
            panic!(
                "timed out after {:.1}s waiting for: {desc}{last}",
                start.elapsed().as_secs_f64()
            )
        }
    }
}

/// Polls `f` until it returns true; panics after `timeout`.
#[track_caller]
pub fn wait_until(desc: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    wait_for(
        desc,
        timeout,
        || if f() { Ok(()) } else { Err(String::new()) },
    )
}

/// The file's content, invalid UTF-8 replaced; empty if it can't be read.
pub fn read_file_lossy(path: impl AsRef<Path>) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Waits until the file at `path` contains `needle`; returns the content.
#[track_caller]
pub fn wait_for_log(path: impl AsRef<Path>, needle: &str, timeout: Duration) -> String {
    let path = path.as_ref();
    wait_for(
        &format!("{:?} in {}", needle, path.display()),
        timeout,
        || {
            let content = read_file_lossy(path);
            if content.contains(needle) {
                Ok(content)
            } else {
                Err(String::new())
            }
        },
    )
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The lines of `text` that contain `needle`.
pub fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}
