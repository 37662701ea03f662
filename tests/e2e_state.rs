//! `--state-file` under a real supervisord (issues 11 and 16): restart windows survive a
//! restart of httpok and are told against a changed policy, a restart cut short by a
//! SIGKILL of httpok is finished by the next one, but not after the operator started and
//! stopped the program meanwhile nor under --dry-run, a program the operator stopped
//! stays stopped, and a corrupt file is a fresh start.
mod common;

use common::e2e::*;
use common::*;
use std::fs;

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

/// A frozen `web` whose restart httpok has begun: its stop record on disk and the stop
/// issued (web STOPPING, supervisord SIGKILLs it after 8 s), then httpok SIGKILLed.
/// `autorestart` is the listener's: whether supervisord brings httpok back at once.
/// Returns supervisord and web's old pid.
fn kill_httpok_mid_restart(autorestart: &str) -> (Supervisor, u32) {
    let port = free_port();
    let sup = start(vec![web("web", port, "ok").set("stopwaitsecs", "8")]);
    let pid = sup.wait_running("web", T);
    wait_until("web answers", T, || {
        http_get(port, "/", std::time::Duration::from_secs(2)).is_ok()
    });
    add_listener(
        &sup,
        stateful_listener(&format!("-p web -t 1 http://127.0.0.1:{port}/"))
            .set("autorestart", autorestart),
    );
    let httpok = sup.wait_running("httpok", T);
    sup.freeze(pid);
    sup.wait_state("web", "STOPPING", T);
    let saved = httpok::state_file::load(&sup.path("httpok.state"))
        .expect("a state file httpok trusts")
        .expect("a state file");
    let record = saved.programs.iter().find(|p| p.program == "web");
    assert_eq!(record.and_then(|p| p.stopping), Some(pid), "{saved:?}");
    assert!(
        record.is_some_and(|p| p.stop_issued_at.is_some()),
        "{saved:?}"
    );
    assert!(send_signal(httpok, "KILL"));
    (sup, pid)
}

#[test]
fn a_restart_cut_short_by_sigkill_is_finished_by_the_next_httpok() {
    let (sup, pid) = kill_httpok_mid_restart("true");
    let httpok = sup.pid("httpok");
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
    assert!(httpok.is_some());
}

#[test]
fn a_restart_cut_short_is_not_finished_once_the_operator_started_and_stopped_it() {
    let (sup, pid) = kill_httpok_mid_restart("false");
    sup.wait_state("web", "STOPPED", T);
    // Maintenance: the operator starts web, works, stops it again.
    for action in ["start", "stop"] {
        let (code, out) = sup.ctl(&[action, "web"]);
        assert_eq!(code, 0, "{action}: {out}");
    }
    let (code, out) = sup.ctl(&["start", "httpok"]);
    assert_eq!(code, 0, "{out}");
    wait_for_log(
        sup.path("httpok.err.log"),
        &format!(
            "INFO web was being restarted by the previous httpok (pid {pid} stopped); it was \
             started or stopped by someone else since"
        ),
        T,
    );
    wait_for_more_ticks(&sup, 2);
    assert_eq!(sup.state("web"), "STOPPED");
    assert_eq!(
        spawned(&sup, "web"),
        2,
        "the first start and the operator's"
    );
    let log = httpok_log(&sup);
    assert!(
        !log.contains("web was stopped by the previous httpok"),
        "{log}"
    );
    assert!(!log.contains("web restarted"), "{log}");
    assert_listener_healthy(&sup);
}

#[test]
fn dry_run_does_not_finish_a_restart_cut_short() {
    let (sup, pid) = kill_httpok_mid_restart("false");
    sup.wait_state("web", "STOPPED", T);
    let url = format!("http://127.0.0.1:{}/", free_port());
    // The same state file, now read by an httpok with --dry-run.
    sup.replace(
        stateful_listener(&format!("--dry-run -p web -t 1 {url}")).set("autorestart", "false"),
    );
    sup.wait_running("httpok", T);
    wait_for_log(
        sup.path("httpok.err.log"),
        &format!(
            "INFO web was being restarted by the previous httpok (pid {pid} stopped); not \
             starting it: --dry-run starts nothing"
        ),
        T,
    );
    wait_for_more_ticks(&sup, 2);
    assert_eq!(sup.state("web"), "STOPPED");
    assert_eq!(spawned(&sup, "web"), 1);
    assert_listener_healthy(&sup);
}

#[test]
fn restarts_carried_into_a_stricter_policy_are_told_at_start() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let sup = start(vec![
        web("web", port, "error"),
        stateful_listener(&format!(
            "-p web -t 2 --max-restarts 2 --restart-window 600 {url}"
        )),
    ]);
    sup.wait_running("web", T);
    wait_for_count(&sup, "web restarted", 2);
    // The operator tightens the policy: one restart in the window.
    sup.replace(stateful_listener(&format!(
        "-p web -t 2 --max-restarts 1 --restart-window 600 {url}"
    )));
    let log = wait_for_log(
        sup.path("httpok.err.log"),
        "INFO web: 2 restart(s) carried from the state file, 2 within --restart-window \
         600s; --max-restarts 1 is reached: restarts are allowed again at ",
        T,
    );
    let line = lines_with(&log, "carried from the state file").join("\n");
    let secs: u64 = line
        .rsplit_once("(in ")
        .and_then(|(_, rest)| rest.strip_suffix("s)"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no (in Ns) in {line}"));
    assert!((500..=600).contains(&secs), "{line}");
    wait_for_more_ticks(&sup, 2);
    assert_eq!(count(&httpok_log(&sup), "web restarted"), 2);
    assert_eq!(spawned(&sup, "web"), 3);
    assert_listener_healthy(&sup);
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
