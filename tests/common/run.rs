//! Running commands under a deadline, and the processes they leave: httpok itself
//! ([`httpok_cmd`], [`run_once`]), any command with its output read on threads
//! ([`Running`], [`run_with_timeout`]), signals, and telling a process has exited.

use std::io::{self, Read};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::httpok_bin;

/// Variables a test shell may hold that would change what httpok does: supervisord's
/// (it sets them for its children) and the log filter.
const INHERITED: [&str; 6] = [
    "SUPERVISOR_SERVER_URL",
    "SUPERVISOR_USERNAME",
    "SUPERVISOR_PASSWORD",
    "SUPERVISOR_PROCESS_NAME",
    "SUPERVISOR_GROUP_NAME",
    "RUST_LOG",
];

/// The httpok binary under test, with none of [`INHERITED`] inherited: each test
/// sets what it means to.
pub fn httpok_cmd() -> Command {
    let mut cmd = Command::new(httpok_bin());
    for var in INHERITED {
        cmd.env_remove(var);
    }
    cmd
}

/// `cmd` (a cargo, or a tool that runs one: maturin, pip building the wheel) without
/// the variables cargo sets for a test process. ring's build script reruns when
/// CARGO_MANIFEST_DIR changes: a cargo that inherited it would rebuild ring and all
/// that depends on it (the release build: minutes), and the next cargo run from a shell
/// would rebuild it all again. Without them, a release build from a test and one from a
/// shell are the same build.
pub fn as_from_a_shell(cmd: &mut Command) -> &mut Command {
    let set_by_cargo_test = |name: &str| {
        [
            "CARGO_MANIFEST_DIR",
            "CARGO_MANIFEST_PATH",
            "CARGO_CRATE_NAME",
            "CARGO_PRIMARY_PACKAGE",
        ]
        .contains(&name)
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_")
    };
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_test) {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// `httpok --once ARGS` (no supervisord, stdin closed), killed after `limit`.
#[track_caller]
pub fn run_once(args: &[&str], limit: Duration) -> Finished {
    let mut cmd = httpok_cmd();
    cmd.arg("--once").args(args).stdin(Stdio::null());
    Running::spawn(&mut cmd).finish(limit, |_| {})
}

/// What a finished command printed (invalid UTF-8 replaced), and how long it ran.
#[derive(Debug)]
pub struct Finished {
    /// The exit code; -1 when a signal ended it.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// From just before the spawn to the exit.
    pub took: Duration,
}

impl Finished {
    /// (code, stdout, stderr).
    pub fn into_parts(self) -> (i32, String, String) {
        (self.code, self.stdout, self.stderr)
    }
}

/// A command running with its stdout and stderr read on threads (so it never blocks on
/// a full pipe); its stdin is whatever the command was given.
pub struct Running {
    child: Child,
    what: String,
    started: Instant,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

impl Running {
    /// Spawns `cmd` with stdout and stderr piped; panics if it cannot start.
    #[track_caller]
    pub fn spawn(cmd: &mut Command) -> Running {
        let what = format!("{cmd:?}");
        let started = Instant::now();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
        let stdout = read_on_thread(child.stdout.take());
        let stderr = read_on_thread(child.stderr.take());
        Running {
            child,
            what,
            started,
            stdout,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's stdin, if the command was given `Stdio::piped()` for it.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// Waits for the exit, calling `on_poll(pid)` every 10 ms meanwhile. Past `limit`
    /// (counted from the spawn) it kills the command and panics with its stderr.
    #[track_caller]
    pub fn finish(mut self, limit: Duration, mut on_poll: impl FnMut(u32)) -> Finished {
        let status = loop {
            on_poll(self.child.id());
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if self.started.elapsed() > limit => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    let stderr = self.stderr.join().unwrap_or_default();
                    panic!(
                        "{} still running after {limit:?}; killed. stderr:\n{stderr}",
                        self.what
                    );
                }
                Ok(None) => thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("waiting for {}: {e}", self.what),
            }
        };
        Finished {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout.join().unwrap_or_default(),
            stderr: self.stderr.join().unwrap_or_default(),
            took: self.started.elapsed(),
        }
    }
}

fn read_on_thread(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Runs `cmd` (stdin closed), killing it after `timeout`, which fails the test;
/// returns (exit code or -1, stdout + stderr).
#[track_caller]
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> (i32, String) {
    let done = Running::spawn(cmd.stdin(Stdio::null())).finish(timeout, |_| {});
    (done.code, done.stdout + &done.stderr)
}

// ---------------------------------------------------------------- processes

/// Sends `sig` (a name such as "STOP", "CONT", "TERM", "KILL") to `pid`
/// with the `kill` command (no libc here). Returns whether it was delivered.
pub fn send_signal(pid: u32, sig: &str) -> bool {
    let flag = format!("-{sig}");
    let pid_s = pid.to_string();
    let status = match Command::new("kill")
        .args([&flag, &pid_s])
        .stderr(Stdio::null())
        .status()
    {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Command::new("sh")
            .args(["-c", &format!("kill {flag} {pid_s}")])
            .stderr(Stdio::null())
            .status(),
        other => other,
    };
    matches!(status, Ok(s) if s.success())
}

/// Whether `pid` has exited: gone, or a zombie nobody reaped yet.
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Err(_) => true,
        Ok(status) => status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z')),
    }
}

/// The pids of live processes (zombies left out) with `arg` as one of their
/// arguments, read from /proc/*/cmdline: a unique marker argument finds the processes a
/// test started, whoever their parent is.
pub fn processes_with_arg(arg: &str) -> Vec<u32> {
    pids_where(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|cmdline| cmdline.split(|&b| b == 0).any(|a| a == arg.as_bytes()))
            && !process_gone(pid)
    })
}

/// The zombie children of `parent`: exited, never reaped (a zombie's cmdline is
/// empty, so it is found by its parent, /proc/PID/status `PPid:`).
pub fn zombie_children(parent: u32) -> Vec<u32> {
    pids_where(|pid| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or_default()
                .to_string()
        };
        field("PPid:") == parent.to_string() && field("State:").starts_with('Z')
    })
}

/// The live processes (zombies left out) of process group `pgid`, from /proc/*/stat.
pub fn process_group(pgid: u32) -> Vec<u32> {
    pids_where(|pid| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        fields.get(2) == Some(&pgid.to_string().as_str()) && !process_gone(pid)
    })
}

/// Sends `sig` to every process of group `pgid` (`kill -SIG -- -PGID`).
pub fn signal_group(pgid: u32, sig: &str) -> bool {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
    matches!(status, Ok(s) if s.success())
}

/// Every pid in /proc for which `keep` holds, in order.
fn pids_where(keep: impl Fn(u32) -> bool) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| keep(pid))
        .collect();
    pids.sort_unstable();
    pids
}

/// A child process killed (and reaped) on drop.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
