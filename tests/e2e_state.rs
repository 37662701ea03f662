//! `--state-file` under a real supervisord (issue 11): restart windows survive a restart
//! of httpok, a restart cut short by a SIGKILL of httpok is finished by the next one, a
//! program the operator stopped stays stopped, and a corrupt file is a fresh start.
mod common;

use common::e2e::*;
use common::*;
use std::fs;

/// The listener with a state file in the test dir, restarted by supervisord if killed.
fn stateful_listener(args: &str) -> Section {
    listener(&format!("--state-file {{dir}}/httpok.state {args}"))
        .set("autorestart", "true")
        .set("stopwaitsecs", "30")
}

fn spawned(sup: &Supervisor, name: &str) -> usize {
    count(
        &read_file_lossy(sup.log_path()),
        &format!("spawned: '{name}'"),
    )
}

#[test]
fn the_restart_window_continues_across_a_restart_of_httpok() {
    let port = free_port();
    let sup = start(vec![
        web("web", port, "error"),
        stateful_listener(&format!(
            "-p web -t 2 --max-restarts 2 --restart-window 600 http://127.0.0.1:{port}/"
        )),
    ]);
    sup.wait_running("web", T);
    wait_for_count(&sup, "web restarted", 2);
    let (code, out) = sup.ctl(&["restart", "httpok"]);
    assert_eq!(code, 0, "{out}");
    wait_for_more_ticks(&sup, 3);
    let log = httpok_log(&sup);
    assert!(log.contains("state read from"), "{log}");
    assert_eq!(count(&log, "web restarted"), 2, "no third restart: {log}");
    assert_eq!(spawned(&sup, "web"), 3, "the first start and two restarts");
    assert!(log.contains("giving up on web"), "{log}");
}

#[test]
fn a_restart_cut_short_by_sigkill_is_finished_by_the_next_httpok() {
    let port = free_port();
    let sup = start(vec![web("web", port, "ok").set("stopwaitsecs", "8")]);
    let pid = sup.wait_running("web", T);
    wait_until("web answers", T, || {
        http_get(port, "/", std::time::Duration::from_secs(2)).is_ok()
    });
    add_listener(
        &sup,
        stateful_listener(&format!("-p web -t 1 http://127.0.0.1:{port}/")),
    );
    let httpok = sup.wait_running("httpok", T);
    sup.freeze(pid);
    wait_for_log(
        sup.path("httpok.err.log"),
        "web is in RUNNING state, restarting",
        T,
    );
    assert!(send_signal(httpok, "KILL"));
    // supervisord SIGKILLs the frozen web after stopwaitsecs: STOPPED, and nobody but
    // the next httpok knows it was meant to come back.
    let new_pid = sup.wait_pid_change("web", pid, T);
    sup.wait_state("web", "RUNNING", T);
    assert_ne!(new_pid, pid);
    let log = httpok_log(&sup);
    assert!(
        log.contains("web was stopped by the previous httpok for a restart"),
        "{log}"
    );
    assert_ne!(sup.pid("httpok"), Some(httpok));
}

#[test]
fn a_program_the_operator_stopped_stays_stopped_across_a_restart_of_httpok() {
    let port = free_port();
    let sup = start(vec![
        web("web", port, "ok"),
        stateful_listener(&format!("-p web -t 1 http://127.0.0.1:{port}/")),
    ]);
    sup.wait_running("web", T);
    sup.wait_running("httpok", T);
    let (code, out) = sup.ctl(&["stop", "web"]);
    assert_eq!(code, 0, "{out}");
    wait_for_more_ticks(&sup, 1);
    let (code, out) = sup.ctl(&["restart", "httpok"]);
    assert_eq!(code, 0, "{out}");
    wait_for_more_ticks(&sup, 2);
    assert_eq!(sup.state("web"), "STOPPED");
    assert_eq!(spawned(&sup, "web"), 1);
}

#[test]
fn a_corrupt_state_file_is_a_warning_and_a_fresh_start() {
    let port = free_port();
    let sup = start(vec![web("web", port, "error")]);
    let pid = sup.wait_running("web", T);
    fs::write(
        sup.path("httpok.state"),
        b"{\"version\": 1, \"checks\": [oops",
    )
    .expect("write");
    add_listener(
        &sup,
        stateful_listener(&format!("-p web -t 2 http://127.0.0.1:{port}/")),
    );
    assert_restarted(&sup, "web", pid);
    let log = httpok_log(&sup);
    assert!(log.contains("WARN cannot use the state file"), "{log}");
    // Rewritten at the first change, readable again.
    wait_until("the state file is rewritten", T, || {
        httpok::state_file::load(&sup.path("httpok.state")).is_ok_and(|s| s.is_some())
    });
    assert_listener_healthy(&sup);
}

#[test]
fn on_change_tells_every_change_and_mail_tells_the_recovery() {
    let sup = start(vec![]);
    let mode = sup.path("mode");
    fs::write(&mode, "error").expect("mode file");
    let hook = sup.path("on-change.sh");
    let changes = sup.path("changes.log");
    write_script(
        &hook,
        &format!(
            "echo \"$HTTPOK_STATE $HTTPOK_PREVIOUS $HTTPOK_PROGRAM $HTTPOK_CHECK\" >> {}",
            changes.display()
        ),
    );
    let sendmail = sup.path("sendmail.sh");
    write_script(
        &sendmail,
        &format!("cat >> {}", sup.path("mail.log").display()),
    );
    let port = free_port();
    sup.add(web("web", port, &format!("mode-file:{}", mode.display())));
    let pid = sup.wait_running("web", T);
    add_listener(
        &sup,
        listener(&format!(
            "-p web -t 2 --on-change {} -m ops@example.test -s {} http://127.0.0.1:{port}/",
            hook.display(),
            sendmail.display()
        )),
    );
    // Answers again from the moment its restart begins, so it is restarted once.
    wait_for_log(
        sup.path("httpok.err.log"),
        "web is in RUNNING state, restarting",
        T,
    );
    fs::write(&mode, "ok").expect("mode file");
    assert_restarted(&sup, "web", pid);
    wait_for_log(sup.path("httpok.err.log"), "web recovered", T);
    let url = format!("http://127.0.0.1:{port}/");
    let expected = [
        format!("failing healthy web {url}"),
        format!("restarted restarting web {url}"),
        format!("recovered failing web {url}"),
        format!("recovered restarted web {url}"),
    ];
    let seen = wait_for("the four changes", T, || {
        let text = read_file_lossy(&changes);
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= 4 {
            Ok(lines)
        } else {
            Err(text)
        }
    });
    // The check fails first; the program counts as recovered only after "restarted",
    // once a round probed after its restart passed. The check's own recovery may come
    // in a round during the restart or after it.
    assert_eq!(seen[0], expected[0], "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    let mut want = expected.to_vec();
    want.sort();
    assert_eq!(sorted, want, "{seen:?}");
    let at = |line: &String| seen.iter().position(|l| l == line);
    assert!(at(&expected[1]) < at(&expected[3]), "{seen:?}");
    let mail = wait_for_log(sup.path("mail.log"), "Subject: httpok: web recovered", T);
    assert!(
        mail.contains("web recovered: its checks pass against pid"),
        "{mail}"
    );
}
