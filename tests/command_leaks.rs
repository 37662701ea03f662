//! Hooks and exec checks that never end, run many times through `httpok::child` (the
//! one runner `--on-change`, `--on-restart`, sendmail, gcore and `exec:` checks use),
//! in a test binary of its own so that this process's threads and fds are only this
//! test's: each run is killed at its timeout with everything it started (SIGTERM
//! ignored, a child forked), reaped, and its pipes closed; nothing grows per run.
mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::*;
use httpok::child::{Ending, run_probe_command};
use httpok::notify::run_command;

const RUNS: usize = 20;
const TIMEOUT: Duration = Duration::from_millis(300);

/// Ignores SIGTERM, forks a child that does too (same command line, so the marker
/// finds both), writes a little and never exits.
const STUBBORN: &str = "#!/bin/sh\ntrap '' TERM\necho started\n(while :; do sleep 1; done) &\nwhile :; do sleep 1; done\n";

fn holdings() -> Holdings {
    Holdings::of("self").expect("/proc/self")
}

#[test]
fn commands_that_ignore_sigterm_and_never_exit_are_killed_reaped_and_leave_nothing() {
    let dir = TempDir::new("cmdleak");
    let script = dir.path().join("stubborn.sh");
    fs::write(&script, STUBBORN).expect("write the script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    let marker = format!("cmdleak-marker-{}", std::process::id());
    let argv = vec![script.display().to_string(), marker.clone()];
    let me = std::process::id();

    // The first run makes what is made once (the environment, lazy statics).
    let _ = run_command(&argv, None, &[], TIMEOUT);
    let before = holdings();
    for run in 0..RUNS {
        // A hook (--on-change, --on-restart), as the notifier runs it.
        let started = Instant::now();
        let hook = run_command(&argv, None, &[("HTTPOK_STATE", "failing".into())], TIMEOUT);
        assert!(
            !hook.success && hook.summary.contains("killed"),
            "run {run}: {hook:?}"
        );
        assert!(
            hook.output.contains("started"),
            "its output is kept: {hook:?}"
        );
        assert!(
            started.elapsed() < TIMEOUT + Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        // An exec: check, as a probe runs it.
        let check = run_probe_command(&argv, &[], TIMEOUT).expect("runs");
        assert!(
            matches!(check.ending, Ending::TimedOut),
            "run {run}: {check:?}"
        );
    }
    assert_eq!(zombie_children(me), Vec::<u32>::new(), "zombies left");
    wait_until(
        "the commands' processes to be gone",
        Duration::from_secs(5),
        || processes_with_arg(&marker).is_empty(),
    );
    let after = holdings();
    assert_eq!(
        (after.threads, after.fds),
        (before.threads, before.fds),
        "before {before:?}, after {RUNS} runs {after:?}"
    );
    eprintln!("before {before:?}, after {RUNS} hook and check runs {after:?}");
}
