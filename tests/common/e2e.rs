//! What the supervisord end-to-end tests share: how a test observes what happened
//! (ticks handled, httpok's log, restarts) and what every case checks at the end.

use std::time::Duration;

use super::*;

/// Ticks come every 5 s; a restart also waits for stopwaitsecs. Be generous.
pub const T: Duration = Duration::from_secs(60);

/// Adds `section` (a listener, whose scripts are in place now) to the running `sup`
/// and waits until httpok is RUNNING.
#[track_caller]
pub fn add_listener(sup: &Supervisor, section: Section) {
    sup.add(section);
    sup.wait_running("httpok", T);
}

/// The listener with `--state-file {dir}/httpok.state` and `args`, restarted by
/// supervisord if killed, with time to finish a restart when stopped.
pub fn stateful_listener(args: &str) -> Section {
    listener(&format!("--state-file {{dir}}/httpok.state {args}"))
        .set("autorestart", "true")
        .set("stopwaitsecs", "30")
}

// ---------------------------------------------------------------- observing

/// httpok's stderr: its log lines.
pub fn httpok_log(sup: &Supervisor) -> String {
    read_file_lossy(sup.path("httpok.err.log"))
}

pub fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// Events httpok has answered so far (supervisord logs each BUSY -> ACKNOWLEDGED
/// transition at debug level; the listener subscribes to TICK_5 only).
pub fn ticks_handled(sup: &Supervisor) -> usize {
    count(
        &read_file_lossy(sup.log_path()),
        "httpok: BUSY -> ACKNOWLEDGED",
    )
}

/// Waits until httpok has handled `n` more ticks than it had when called.
#[track_caller]
pub fn wait_for_more_ticks(sup: &Supervisor, n: usize) {
    let target = ticks_handled(sup) + n;
    wait_for(&format!("{n} more ticks handled"), T * 2, || {
        let seen = ticks_handled(sup);
        if seen >= target {
            Ok(())
        } else {
            Err(format!("{seen} of {target}"))
        }
    });
}

/// Waits until httpok's log holds `needle` at least `n` times; returns the log.
#[track_caller]
pub fn wait_for_count(sup: &Supervisor, needle: &str, n: usize) -> String {
    wait_for(&format!("{n} x {needle:?} in httpok's log"), T, || {
        let log = httpok_log(sup);
        match count(&log, needle) {
            seen if seen >= n => Ok(log),
            seen => Err(format!("{seen} so far")),
        }
    })
}

/// Waits until supervisord restarted `name` and httpok said so; returns the new pid.
#[track_caller]
pub fn assert_restarted(sup: &Supervisor, name: &str, old_pid: u32) -> u32 {
    let new_pid = sup.wait_pid_change(name, old_pid, T);
    wait_for_log(
        sup.path("httpok.err.log"),
        &format!("{name} is in RUNNING state, restarting"),
        T,
    );
    wait_for_log(sup.path("httpok.err.log"), &format!("{name} restarted"), T);
    new_pid
}

/// What every supervisord case checks at the end: the listener is RUNNING, never went
/// UNKNOWN, never panicked, no tick was dropped for a full buffer, and stdout held
/// protocol bytes only.
#[track_caller]
pub fn assert_listener_healthy(sup: &Supervisor) {
    assert_eq!(sup.state("httpok"), "RUNNING");
    let log = read_file_lossy(sup.log_path());
    assert!(
        !log.contains("UNKNOWN"),
        "listener went UNKNOWN:\n{}",
        tail(&log, 30)
    );
    assert!(!log.contains("buffer overflowed"), "{}", tail(&log, 30));
    let own = httpok_log(sup);
    assert!(!own.contains("panicked"), "{own}");
    // At loglevel=debug supervisord copies the listener's protocol bytes into this log.
    let stdout = read_file_lossy(sup.path("httpok.out.log"));
    let other = stdout.replace("READY\n", "").replace("RESULT 2\nOK", "");
    assert!(other.is_empty(), "non-protocol bytes on stdout: {other:?}");
}
