//! `--stop-grace`: killing a program that is still STOPPING that long after httpok's
//! stop, as supervisord would at its `stopwaitsecs` (SIGKILL to the process group with
//! `killasgroup`, else to the pid). [`Kill`] is the one edge that sends a signal; the
//! restarter decides when (`poll_stopped`), after re-reading that the process is still
//! STOPPING as the pid that failed.

use std::collections::BTreeSet;
use std::io;
use std::sync::Mutex;
use std::time::Duration;

use super::Restarter;
use crate::supervisor::model::ProcessState;

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

impl Restarter<'_> {
    /// `--stop-grace` has passed: SIGKILL to its group (`killasgroup`) or pid, after
    /// re-reading that it is still STOPPING as `pid`. One line says what happened; a
    /// kill httpok may not send is said once per program, and supervisord's
    /// stopwaitsecs applies.
    pub(super) fn kill_stopping(&self, namespec: &str, pid: u32) {
        let Some(grace) = &self.grace else {
            return;
        };
        let group = match self.supervisor.kill_as_group(namespec) {
            Ok(group) => group.unwrap_or(false),
            Err(e) => {
                log::debug!("cannot read {namespec}'s killasgroup: {e}; killing its pid");
                false
            }
        };
        match self.supervisor.process_info(namespec) {
            Ok(info) if info.state == ProcessState::Stopping && info.pid == pid => {}
            _ => return,
        }
        match grace.kill.kill(pid, group) {
            Ok(()) => {
                crate::lock(grace.warned).remove(namespec);
                log::info!("{}", killed_line(namespec, pid, grace.after, group));
            }
            Err(KillError::Gone) => {}
            Err(KillError::NotPermitted) => {
                if crate::lock(grace.warned).insert(namespec.to_string()) {
                    log::warn!("{}", not_permitted_line(namespec, pid, grace.after));
                }
            }
            Err(KillError::Other(e)) => {
                log::warn!(
                    "cannot kill {namespec} (pid {pid}): {e}; supervisord kills it at its stopwaitsecs"
                );
            }
        }
    }
}

/// The line of a kill that worked. A kill of the pid alone (no `killasgroup`) says
/// so: the workers a forking program leaves behind keep its port, and the next start
/// fails for a reason the line above it should name.
pub fn killed_line(namespec: &str, pid: u32, after: Duration, group: bool) -> String {
    let line = format!(
        "killed {namespec} (pid {pid}) after {}s of stopping: it did not answer",
        after.as_secs()
    );
    if group {
        line
    } else {
        line + "; its pid only (no killasgroup): processes it forked live on"
    }
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
    fn a_kill_of_the_pid_alone_says_its_children_live_on() {
        let after = Duration::from_secs(1);
        assert_eq!(
            killed_line("web", 123, after, true),
            "killed web (pid 123) after 1s of stopping: it did not answer"
        );
        assert_eq!(
            killed_line("web", 123, after, false),
            "killed web (pid 123) after 1s of stopping: it did not answer; its pid only \
             (no killasgroup): processes it forked live on"
        );
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
