//! `--state-file` on a disk that misbehaves, under a real supervisord (issue 16): a FIFO
//! planted at the old temp name (a write there would block as on a hung network mount)
//! or at the state path itself, and a state directory that goes away and comes back.
//! httpok answers its first READY, its rounds and restarts go on, SIGTERM ends it
//! promptly, and each trouble is one WARN (and one line when it is over).
mod common;

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::time::{Duration, Instant};

use common::e2e::*;
use common::*;

fn is_fifo(path: &std::path::Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

#[test]
fn a_fifo_at_the_old_temp_name_holds_up_neither_rounds_nor_a_stop() {
    let port = free_port();
    let sup = start(vec![web("web", port, "error")]);
    let pid = sup.wait_running("web", T);
    let planted = sup.path("httpok.state.tmp");
    mkfifo(&planted);
    // A window, so the restarts are kept in the state file.
    add_listener(
        &sup,
        stateful_listener(&format!(
            "-p web -t 2 --max-restarts 50 --restart-window 600 http://127.0.0.1:{port}/"
        )),
    );
    // Rounds go on: two restarts, and the state of both on disk.
    let pid = assert_restarted(&sup, "web", pid);
    sup.wait_pid_change("web", pid, T);
    wait_for_count(&sup, "web restarted", 2);
    wait_until("the state file holds the restarts", T, || {
        httpok::state_file::load(&sup.path("httpok.state"))
            .is_ok_and(|s| s.is_some_and(|s| s.programs.iter().any(|p| p.restarts.len() >= 2)))
    });
    assert!(
        is_fifo(&planted),
        "the planted FIFO was replaced or removed"
    );
    // SIGTERM: out well before supervisord's SIGKILL (stopwaitsecs 30).
    let asked = Instant::now();
    let (code, out) = sup.ctl(&["stop", "httpok"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "stopping took {:?}",
        asked.elapsed()
    );
    assert!(httpok_log(&sup).contains("received SIGTERM"));
    let log = read_file_lossy(sup.log_path());
    assert!(
        log.contains("stopped: httpok (exit status 0)"),
        "{}",
        tail(&log, 20)
    );
    let own = httpok_log(&sup);
    assert!(!own.contains("WARN cannot"), "{own}");
}

#[test]
fn a_fifo_at_the_state_path_is_refused_and_httpok_watches_on() {
    let port = free_port();
    let sup = start(vec![web("web", port, "error")]);
    let pid = sup.wait_running("web", T);
    let path = sup.path("httpok.state");
    mkfifo(&path);
    add_listener(
        &sup,
        stateful_listener(&format!("-p web -t 2 http://127.0.0.1:{port}/")),
    );
    // Its READY answered and its rounds run: it restarts web, twice.
    let pid = assert_restarted(&sup, "web", pid);
    sup.wait_pid_change("web", pid, T);
    wait_for_count(&sup, "web restarted", 2);
    let log = httpok_log(&sup);
    let shown = path.display();
    assert_eq!(
        count(
            &log,
            &format!(
                "WARN cannot use the state file {shown}: it is a FIFO, not a regular file; \
                 starting fresh (it is left in place and never written: give --state-file \
                 another path)\n"
            )
        ),
        1,
        "{log}"
    );
    // Each write is refused the same way: one WARN for all of them.
    assert_eq!(
        count(
            &log,
            &format!(
                "WARN cannot write the state file {shown}: it is a FIFO, not a regular \
                 file, and is left in place"
            )
        ),
        1,
        "{log}"
    );
    assert!(is_fifo(&path), "the FIFO was replaced");
    assert_listener_healthy(&sup);
}

#[test]
fn a_state_directory_that_goes_away_is_one_warning_and_its_return_one_line() {
    let port = free_port();
    let sup = start(vec![web("web", port, "error")]);
    let pid = sup.wait_running("web", T);
    let dir = sup.path("state");
    let path = dir.join("httpok.state");
    add_listener(
        &sup,
        listener(&format!(
            "--state-file {} -p web -t 2 http://127.0.0.1:{port}/",
            path.display()
        )),
    );
    assert_restarted(&sup, "web", pid);
    wait_until("the state file is written", T, || {
        httpok::state_file::load(&path).is_ok_and(|s| s.is_some())
    });
    // A file where the directory was: every write fails.
    fs::remove_dir_all(&dir).expect("rm -r state");
    fs::write(&dir, "not a directory").expect("plant a file");
    let warn = format!(
        "WARN cannot write the state file {}: cannot create {}: File exists",
        path.display(),
        dir.display()
    );
    wait_for_log(sup.path("httpok.err.log"), &warn, T);
    // Restarts go on and change the state, so writes are tried again: no new WARN.
    let restarted = count(&httpok_log(&sup), "web restarted");
    wait_for_count(&sup, "web restarted", restarted + 2);
    assert_eq!(count(&httpok_log(&sup), "WARN cannot write"), 1);
    fs::remove_file(&dir).expect("rm state");
    let back = format!("INFO the state file {} is written again", path.display());
    wait_for_log(sup.path("httpok.err.log"), &back, T);
    assert!(httpok::state_file::load(&path).is_ok_and(|s| s.is_some()));
    assert_eq!(count(&httpok_log(&sup), &back), 1);
    assert_listener_healthy(&sup);
}
