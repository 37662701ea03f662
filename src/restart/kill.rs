//! `--stop-grace`: killing a program that is still STOPPING that long after httpok's
//! stop, as supervisord would at its `stopwaitsecs` (SIGKILL to the process group with
//! `killasgroup`, else to the pid). [`Kill`] is the one edge that sends a signal; the
//! restarter decides when (`poll_stopped`), after re-reading that the process is still
//! STOPPING as the pid that failed.

use std::collections::BTreeSet;
use std::io;
use std::sync::Mutex;
use std::time::Duration;

/// Sends SIGKILL.
pub trait Kill: Sync {
    /// SIGKILL to `pid`, or to its process group (`-pid`) when `group`.
    fn kill(&self, pid: u32, group: bool) -> Result<(), KillError>;
}

/// Why a kill did not happen.
#[derive(Debug)]
pub enum KillError {
    /// EPERM: httpok is neither root nor the program's user.
    NotPermitted,
    /// ESRCH: it is gone already.
    Gone,
    /// A pid no signal may go to (0, 1, or above i32), or another error.
    Other(String),
}

/// The real signal, through libc (never a shell).
#[derive(Debug, Clone, Copy, Default)]
pub struct RealKill;

impl Kill for RealKill {
    fn kill(&self, pid: u32, group: bool) -> Result<(), KillError> {
        // kill(0) and kill(-1) reach httpok's own group and every process it may
        // signal; pid 1 is init. supervisord never reports those for a program.
        let pid = i32::try_from(pid)
            .ok()
            .filter(|pid| *pid > 1)
            .ok_or_else(|| KillError::Other(format!("pid {pid} is not a program's")))?;
        let target = if group { -pid } else { pid };
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        if unsafe { libc::kill(target, libc::SIGKILL) } == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        Err(match error.raw_os_error() {
            Some(libc::EPERM) => KillError::NotPermitted,
            Some(libc::ESRCH) => KillError::Gone,
            _ => KillError::Other(error.to_string()),
        })
    }
}

/// What a restart with `--stop-grace` needs: how long a stop may take, who kills, and
/// the programs already warned about (a WARN once per program, not every restart).
pub struct StopGrace<'a> {
    pub after: Duration,
    pub kill: &'a dyn Kill,
    pub warned: &'a Mutex<BTreeSet<String>>,
}

/// The line of a kill that worked.
pub fn killed_line(namespec: &str, pid: u32, after: Duration) -> String {
    format!(
        "killed {namespec} (pid {pid}) after {}s of stopping: it did not answer",
        after.as_secs()
    )
}

/// The warning when httpok may not signal the program.
pub fn not_permitted_line(namespec: &str, pid: u32, after: Duration) -> String {
    format!(
        "cannot kill {namespec} (pid {pid}) after {}s of stopping: httpok may not signal it \
         (run httpok as root or as the program's user); supervisord kills it at its \
         stopwaitsecs (said once for {namespec})",
        after.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_signals_pid_0_1_or_one_above_i32() {
        for pid in [0, 1, u32::MAX] {
            for group in [false, true] {
                assert!(matches!(
                    RealKill.kill(pid, group),
                    Err(KillError::Other(_))
                ));
            }
        }
    }

    #[test]
    fn a_gone_pid_is_gone() {
        // A child that has exited and been reaped: its pid names nothing (for a moment
        // too short to be reused).
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let pid = child.id();
        child.wait().expect("wait");
        assert!(matches!(RealKill.kill(pid, false), Err(KillError::Gone)));
    }
}
