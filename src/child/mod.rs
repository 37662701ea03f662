//! Running one external command to an end within one deadline: its own process group,
//! its pipes driven without blocking, and the whole group killed when time is up.
//!
//! Why not `Child::wait` and reader threads: a command that forks (a shell script's
//! `cmd &`, an MTA that daemonizes) leaves grandchildren holding our pipes. Killing the
//! child alone leaves them running, and reading to end of file waits for them. Here the
//! pipes are non-blocking and polled, so nothing of ours waits past the deadline.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

mod env;

pub(crate) use env::environment;

/// Most output kept from each of stdout and stderr (gcore's output goes into the mail);
/// the rest is read and dropped, so a chatty command never blocks on a full pipe.
const MAX_OUTPUT: usize = 64 * 1024;
/// Longest single wait in the loop: the child's exit is not a pollable event.
const POLL_SLICE: Duration = Duration::from_millis(20);
/// How long a killed child may take to be reaped before we stop waiting for it.
const REAP_LIMIT: Duration = Duration::from_secs(1);

/// How a command ended.
#[derive(Debug)]
pub enum Ending {
    /// It exited by itself before the deadline.
    Exited(ExitStatus),
    /// It was still running at the deadline: its process group was killed.
    TimedOut,
    /// Its status could not be read (e.g. SIGCHLD ignored, so the kernel reaped it).
    Lost(io::Error),
}

/// A command that has ended, with what it wrote.
#[derive(Debug)]
pub struct Finished {
    pub ending: Ending,
    /// Its stdout then its stderr, each capped, invalid UTF-8 replaced.
    pub output: String,
    /// It exited, but processes it started still held its pipes at the deadline: its
    /// process group was killed then.
    pub left_processes: bool,
}

/// Runs an `exec:` check's command: httpok's environment less supervisord's
/// credentials, with the check's own `env` on top, nothing on stdin, the whole process
/// group killed after `timeout`.
pub fn run_probe_command(
    argv: &[String],
    env: &[(String, String)],
    timeout: Duration,
) -> Result<Finished, String> {
    let added: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let env = environment(std::env::vars_os(), &added);
    run(argv, None, &env, timeout)
}

/// Runs `argv` with exactly `env` as its environment and `input` on stdin, and returns
/// after `timeout` at the latest (give or take a poll slice), whatever the command and
/// its children do.
pub(crate) fn run(
    argv: &[String],
    input: Option<&[u8]>,
    env: &[(OsString, OsString)],
    timeout: Duration,
) -> Result<Finished, String> {
    reap_leftovers();
    let started = Instant::now();
    // A timeout too large to add is as good as none: a year.
    let deadline = started
        .checked_add(timeout)
        .unwrap_or(started + Duration::from_secs(365 * 24 * 3600));
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| "empty command".to_string())?;
    let mut child = spawn(program, args, input.is_some(), env)
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let mut pipes = match Pipes::from_child(&mut child, input.unwrap_or_default()) {
        Ok(pipes) => pipes,
        Err(e) => {
            kill_group(&mut child);
            let _ = reap(child, Instant::now() + REAP_LIMIT);
            return Err(format!("cannot read the output of {program}: {e}"));
        }
    };
    let mut exited = false;
    loop {
        pipes.transfer();
        exited = exited || has_exited(&child);
        if exited && pipes.all_closed() {
            let ending = reap(child, Instant::now() + REAP_LIMIT);
            return Ok(pipes.finish(ending, false));
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        pipes.wait_ready((deadline - now).min(POLL_SLICE));
    }
    // Time is up: the child, or what it left behind, still runs or holds the pipes.
    kill_group(&mut child);
    pipes.transfer();
    if exited {
        let ending = reap(child, Instant::now() + REAP_LIMIT);
        Ok(pipes.finish(ending, true))
    } else {
        let _ = reap(child, Instant::now() + REAP_LIMIT);
        Ok(pipes.finish(Ending::TimedOut, false))
    }
}

/// Starts `program` in a process group of its own, which its children join: one killpg
/// then reaches them all.
fn spawn(
    program: &str,
    args: &[String],
    with_stdin: bool,
    env: &[(OsString, OsString)],
) -> io::Result<Child> {
    Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(if with_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
}

/// Our ends of the child's pipes, non-blocking; `None` once closed.
struct Pipes<'a> {
    stdin: Option<File>,
    input: &'a [u8],
    stdout: Option<File>,
    stderr: Option<File>,
    out: Vec<u8>,
    err: Vec<u8>,
}

impl<'a> Pipes<'a> {
    fn from_child(child: &mut Child, input: &'a [u8]) -> io::Result<Pipes<'a>> {
        let stdin = child.stdin.take().map(OwnedFd::from).map(File::from);
        let stdout = child.stdout.take().map(OwnedFd::from).map(File::from);
        let stderr = child.stderr.take().map(OwnedFd::from).map(File::from);
        for file in [&stdin, &stdout, &stderr].into_iter().flatten() {
            set_nonblocking(file)?;
        }
        Ok(Pipes {
            stdin,
            input,
            stdout,
            stderr,
            out: Vec::new(),
            err: Vec::new(),
        })
    }

    /// Moves whatever can move now, without blocking.
    fn transfer(&mut self) {
        if let Some(stdin) = &mut self.stdin {
            loop {
                if self.input.is_empty() {
                    // All written: closing it is the child's end of file.
                    self.stdin = None;
                    break;
                }
                match stdin.write(self.input) {
                    Ok(n) => self.input = &self.input[n..],
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    // It closed stdin (or exited) without reading everything.
                    Err(_) => {
                        self.stdin = None;
                        break;
                    }
                }
            }
        }
        drain(&mut self.stdout, &mut self.out);
        drain(&mut self.stderr, &mut self.err);
    }

    fn all_closed(&self) -> bool {
        self.stdin.is_none() && self.stdout.is_none() && self.stderr.is_none()
    }

    /// Waits until a pipe is ready or `timeout` passes (a plain wait when all are closed).
    fn wait_ready(&self, timeout: Duration) {
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(3);
        let mut watch = |file: &Option<File>, events| {
            if let Some(file) = file {
                fds.push(libc::pollfd {
                    fd: file.as_raw_fd(),
                    events,
                    revents: 0,
                });
            }
        };
        watch(&self.stdin, libc::POLLOUT);
        watch(&self.stdout, libc::POLLIN);
        watch(&self.stderr, libc::POLLIN);
        if fds.is_empty() {
            thread::sleep(timeout);
            return;
        }
        // Below a millisecond, 0 would spin: round up.
        let millis = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: `fds` is a live, exclusively borrowed array of `fds.len()` pollfds whose
        // descriptors stay open (owned by `self`) for the whole call.
        // An error (EINTR) is only an early wake-up: the caller loops.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
    }

    fn finish(self, ending: Ending, left_processes: bool) -> Finished {
        let mut text = self.out;
        text.extend_from_slice(&self.err);
        Finished {
            ending,
            output: String::from_utf8_lossy(&text).into_owned(),
            left_processes,
        }
    }
}

/// Reads what `pipe` has now into `kept` (up to [`MAX_OUTPUT`]); closes it at its end.
fn drain(pipe: &mut Option<File>, kept: &mut Vec<u8>) {
    let Some(file) = pipe else { return };
    let mut chunk = [0u8; 8192];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => {
                *pipe = None;
                return;
            }
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(_) => {
                *pipe = None;
                return;
            }
        }
    }
}

fn set_nonblocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: F_GETFL/F_SETFL on a descriptor `file` owns, with integer arguments only.
    // O_NONBLOCK is set on our end's open file description; the child's end is another.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the child has exited, without reaping it: until `reap`, its zombie keeps its
/// pid, and so its process group's id, from being reused, which makes `kill_group` safe
/// even after the child itself is gone.
fn has_exited(child: &Child) -> bool {
    let pid = libc::id_t::from(child.id());
    // SAFETY: a zeroed siginfo_t is a valid value; waitid only writes into it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: `info` is a valid, exclusively borrowed siginfo_t for the call.
    let result = unsafe { libc::waitid(libc::P_PID, pid, &mut info, flags) };
    // An error means there is no child to wait for (already reaped): it has exited.
    // SAFETY: after a successful waitid, si_pid is set (0 while the child still runs).
    result != 0 || unsafe { info.si_pid() } != 0
}

/// SIGKILLs the child's whole process group, and the child itself should it have left it.
fn kill_group(child: &mut Child) {
    if let Ok(pgid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: killpg takes plain integers. The group's id is the child's pid, still
        // ours: the child is not reaped yet (see `has_exited`).
        unsafe { libc::killpg(pgid, libc::SIGKILL) };
    }
    let _ = child.kill();
}

/// Reaps the child, waiting for it at most until `limit`. One still there then (killed,
/// but stuck in the kernel, e.g. on a hung NFS mount) is kept in [`UNREAPED`] and
/// reaped by a later run once it is gone, so it never stays a zombie.
fn reap(mut child: Child, limit: Instant) -> Ending {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ending::Exited(status),
            Ok(None) if Instant::now() >= limit => {
                crate::lock(&UNREAPED).push(child);
                return Ending::TimedOut;
            }
            Ok(None) => thread::sleep(POLL_SLICE),
            Err(e) => return Ending::Lost(e),
        }
    }
}

/// Children killed but not yet gone when their run ended: dropping a `Child` does not
/// wait for it, so each would stay a zombie for as long as httpok runs.
static UNREAPED: Mutex<Vec<Child>> = Mutex::new(Vec::new());

/// Reaps whichever of [`UNREAPED`] are gone now (waitpid with WNOHANG: never blocks).
fn reap_leftovers() {
    crate::lock(&UNREAPED).retain_mut(|child| matches!(child.try_wait(), Ok(None)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        ["sh", "-c", script].map(String::from).to_vec()
    }

    fn path_only() -> Vec<(OsString, OsString)> {
        vec![("PATH".into(), std::env::var_os("PATH").unwrap_or_default())]
    }

    #[test]
    fn a_full_stderr_pipe_cannot_stall_a_command_that_writes_stdout_last() {
        // 200 kB on stderr fills its pipe long before stdout closes: reading one pipe to
        // its end before the other would wait here until the timeout.
        let argv = sh("head -c 200000 /dev/zero | tr '\\0' e >&2; echo done");
        let finished = run(&argv, None, &path_only(), Duration::from_secs(20)).expect("runs");
        assert!(
            matches!(finished.ending, Ending::Exited(s) if s.success()),
            "{:?}",
            finished.ending
        );
        assert!(finished.output.starts_with("done\neee"), "stdout first");
        assert_eq!(finished.output.len(), "done\n".len() + MAX_OUTPUT);
    }

    #[test]
    fn input_larger_than_a_pipe_is_written_while_the_output_is_read() {
        let input = vec![b'i'; 1_000_000];
        let argv = ["cat".to_string()];
        let finished =
            run(&argv, Some(&input), &path_only(), Duration::from_secs(20)).expect("runs");
        assert!(matches!(finished.ending, Ending::Exited(s) if s.success()));
        assert_eq!(finished.output.len(), MAX_OUTPUT);
    }

    #[test]
    fn a_command_that_never_reads_its_input_still_ends() {
        let input = vec![b'i'; 1_000_000];
        let finished = run(
            &sh("exit 3"),
            Some(&input),
            &path_only(),
            Duration::from_secs(20),
        )
        .expect("runs");
        assert!(
            matches!(finished.ending, Ending::Exited(s) if s.code() == Some(3)),
            "{:?}",
            finished.ending
        );
    }

    #[test]
    fn a_child_that_outlived_its_reap_limit_is_reaped_by_a_later_run() {
        // Stands in for a killed child stuck in the kernel past REAP_LIMIT.
        let slow = Command::new("sleep").arg("0.3").spawn().expect("sleep");
        let pid = slow.id();
        assert!(matches!(reap(slow, Instant::now()), Ending::TimedOut));
        assert!(crate::lock(&UNREAPED).iter().any(|c| c.id() == pid));
        // Once it has exited it is a zombie until it is reaped (a run of a test in
        // parallel may do that first: only runs reap UNREAPED)...
        let state = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s.rsplit_once(')')?.1.trim_start().chars().next())
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(state(), Some('Z') | None) {
            assert!(
                Instant::now() < deadline,
                "{pid} never exited: {:?}",
                state()
            );
            thread::sleep(Duration::from_millis(20));
        }
        // ...and the next run reaps it; before this fix it stayed a zombie.
        run(
            &["true".to_string()],
            None,
            &path_only(),
            Duration::from_secs(20),
        )
        .expect("runs");
        assert_eq!(state(), None, "pid {pid} was not reaped");
        assert!(!crate::lock(&UNREAPED).iter().any(|c| c.id() == pid));
    }

    #[test]
    fn the_environment_is_exactly_the_one_given() {
        let mut env = path_only();
        env.push(("ONLY_THIS".into(), "yes".into()));
        let finished =
            run(&["env".to_string()], None, &env, Duration::from_secs(20)).expect("runs");
        let mut names: Vec<&str> = finished
            .output
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .collect();
        names.sort();
        assert_eq!(names, ["ONLY_THIS", "PATH"], "{}", finished.output);
    }
}
