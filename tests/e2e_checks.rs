//! Many checks in one listener and the restart policy (issue 3), proven end to end: a
//! real supervisord sending TICK_5, and what it did (pids and states through
//! supervisorctl) and what httpok wrote to its stderr log.
//!
//! `--once` needs no supervisord and uses the listener's prober, so the `--once` and
//! https cases run the binary directly.
mod common;

use common::e2e::*;
use common::*;
use std::fs;
use std::path::Path;
use std::time::Duration;

// ---------------------------------------------------------------- helpers

/// `http+unix://%2Fabs%2Fpath.sock/` for a socket path.
fn http_unix_url(socket: &Path) -> String {
    let mut encoded = String::new();
    for b in socket.display().to_string().bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("http+unix://{encoded}/")
}

// ---------------------------------------------------------------- several checks

#[test]
fn two_checks_restart_only_the_broken_app_and_the_healthy_one_keeps_its_pid() {
    let (web_port, api_port) = (free_port(), free_port());
    let sup = start(vec![
        web("web", web_port, "ok"),
        web("api", api_port, "error"),
        listener(&format!(
            "-t 2 --check web=http://127.0.0.1:{web_port}/ --check api=http://127.0.0.1:{api_port}/"
        )),
    ]);
    let web_pid = sup.wait_running("web", T);
    let api_pid = sup.wait_running("api", T);
    assert_restarted(&sup, "api", api_pid);
    // Several more rounds in which both are probed: api keeps failing, web keeps answering.
    wait_for_more_ticks(&sup, 3);
    assert_eq!(
        sup.pid("web"),
        Some(web_pid),
        "the healthy app was restarted"
    );
    let log = httpok_log(&sup);
    assert!(
        log.contains("Restarting selected processes ['api']"),
        "{log}"
    );
    assert!(log.contains("status 500"), "{log}");
    assert!(!log.contains("web is in RUNNING state"), "{log}");
    assert!(
        !log.contains(&format!("127.0.0.1:{web_port}/:")),
        "web was failing:\n{log}"
    );
    assert_listener_healthy(&sup);
}

// ---------------------------------------------------------------- policy

#[test]
fn with_f_3_two_failed_ticks_do_not_restart_and_the_third_does() {
    let port = free_port();
    let sup = start(vec![
        web("web", port, "error"),
        listener(&format!("-f 3 -p web -t 2 http://127.0.0.1:{port}/")),
    ]);
    let pid = sup.wait_running("web", T);
    wait_for_count(&sup, "(failing 1/3)", 1);
    wait_for_count(&sup, "(failing 2/3)", 1);
    // The next tick is about 5 s away: two failures have not restarted it.
    assert_eq!(sup.pid("web"), Some(pid), "restarted after 2 failed ticks");
    assert!(!httpok_log(&sup).contains("is in RUNNING state, restarting"));
    let new_pid = assert_restarted(&sup, "web", pid);
    let log = httpok_log(&sup);
    let second = log.find("(failing 2/3)").expect("logged above");
    let restart = log
        .find("web is in RUNNING state, restarting")
        .expect("logged above");
    assert!(
        second < restart,
        "restarted before the second failure:\n{log}"
    );
    // The restart reset the count: two more failures are again not enough.
    wait_for_count(&sup, "(failing 2/3)", 2);
    assert_eq!(
        sup.pid("web"),
        Some(new_pid),
        "the count did not reset after a restart"
    );
    assert_eq!(
        count(&httpok_log(&sup), "web is in RUNNING state, restarting"),
        1
    );
    assert_listener_healthy(&sup);
}

#[test]
fn grace_spares_a_slow_starter_that_a_plain_run_restarts() {
    // Both apps refuse connections for their first 12 s, then answer 200.
    let slow = "slowstart:12";
    let (graced_port, plain_port) = (free_port(), free_port());
    let graced = start(vec![
        web("web", graced_port, slow),
        listener(&format!(
            "--grace 40 -p web -t 2 http://127.0.0.1:{graced_port}/"
        )),
    ]);
    let plain = start(vec![
        web("web", plain_port, slow),
        listener(&format!("-p web -t 2 http://127.0.0.1:{plain_port}/")),
    ]);
    let graced_pid = graced.wait_running("web", T);
    let plain_pid = plain.wait_running("web", T);

    // Without --grace: restarted on the first refused tick (superlance's restart loop).
    assert_restarted(&plain, "web", plain_pid);
    assert!(httpok_log(&plain).contains("connection refused"));

    // With --grace 40: the refusals are neither counted nor reported (no notice, so
    // no mail), the app comes up on its own, and is left alone after that too.
    wait_until("the graced app answers", T, || {
        http_get(graced_port, "/", Duration::from_secs(2)).is_ok()
    });
    wait_for_more_ticks(&graced, 2);
    assert_eq!(
        graced.pid("web"),
        Some(graced_pid),
        "--grace did not spare it"
    );
    let log = httpok_log(&graced);
    assert!(!log.contains("is in RUNNING state, restarting"), "{log}");
    assert!(!log.contains("connection refused"), "{log}");
    assert_listener_healthy(&graced);
    assert_listener_healthy(&plain);
}

#[test]
fn max_restarts_gives_up_after_two_restarts_and_says_so_once() {
    let port = free_port();
    let sup = start(vec![
        web("web", port, "error"),
        listener(&format!(
            "--max-restarts 2 --restart-window 300 -p web -t 2 http://127.0.0.1:{port}/"
        )),
    ]);
    let first = sup.wait_running("web", T);
    let log = wait_for_log(sup.path("httpok.err.log"), "giving up on web", T * 2);
    assert_eq!(
        count(&log, "web is in RUNNING state, restarting"),
        2,
        "{log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("giving up on web"))
        .expect("found above");
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("restarted 2 time(s) within 300s"), "{line}");
    assert!(line.contains("status 500"), "{line}");
    let last = sup.wait_running("web", T);
    assert_ne!(last, first);
    let announced = count(&log, "Restarting selected processes");
    // One per restart: not before the give-up, which restarts nothing.
    assert_eq!(announced, 2, "{log}");

    // Still failing over more ticks: no restart, no second ERROR, and no
    // "Restarting ..." line that restarts nobody.
    wait_for_more_ticks(&sup, 3);
    assert_eq!(sup.pid("web"), Some(last), "restarted after giving up");
    let log = httpok_log(&sup);
    assert_eq!(count(&log, "giving up on"), 1, "{log}");
    assert_eq!(
        count(&log, "Restarting selected processes"),
        announced,
        "{log}"
    );
    assert_eq!(
        count(&log, "web is in RUNNING state, restarting"),
        2,
        "{log}"
    );
    assert_listener_healthy(&sup);
}

#[test]
fn dry_run_logs_would_restart_and_leaves_the_pid_alone() {
    let port = free_port();
    let sup = start(vec![
        web("web", port, "error"),
        listener(&format!("--dry-run -p web -t 2 http://127.0.0.1:{port}/")),
    ]);
    let pid = sup.wait_running("web", T);
    wait_for_count(&sup, "would restart web (status 500)", 2);
    wait_for_more_ticks(&sup, 1);
    assert_eq!(sup.pid("web"), Some(pid), "--dry-run restarted it");
    let log = httpok_log(&sup);
    assert!(!log.contains("is in RUNNING state, restarting"), "{log}");
    // Nothing is restarted, so superlance's line is not said.
    assert!(!log.contains("Restarting selected processes"), "{log}");
    assert_listener_healthy(&sup);
}

#[test]
fn a_check_that_answers_again_after_a_restart_logs_recovered_and_is_left_alone() {
    let scratch = TempDir::new("recover");
    let mode = scratch.join("mode");
    fs::write(&mode, "error").expect("write mode file");
    let port = free_port();
    let sup = start(vec![
        web("web", port, &format!("mode-file:{}", mode.display())),
        listener(&format!("-p web -t 2 http://127.0.0.1:{port}/")),
    ]);
    let pid = sup.wait_running("web", T);
    assert_restarted(&sup, "web", pid);
    fs::write(&mode, "ok").expect("write mode file");
    let log = wait_for_log(
        sup.path("httpok.err.log"),
        "web recovered: its checks pass against pid",
        T,
    );
    let restarts = count(&log, "web is in RUNNING state, restarting");
    let healthy_pid = sup.wait_running("web", T);
    wait_for_more_ticks(&sup, 2);
    assert_eq!(
        sup.pid("web"),
        Some(healthy_pid),
        "restarted after it recovered"
    );
    let log = httpok_log(&sup);
    assert_eq!(
        count(&log, "web is in RUNNING state, restarting"),
        restarts,
        "{log}"
    );
    assert_eq!(count(&log, "recovered"), 1, "{log}");
    assert_listener_healthy(&sup);
}

#[test]
fn on_restart_runs_the_hook_with_the_restart_in_its_environment() {
    let scratch = TempDir::new("hook");
    let hook = scratch.join("hook.sh");
    let out = scratch.join("hook.out");
    // Written to a temp file and renamed, so the test never reads half a file.
    write_script(
        &hook,
        &format!(
            "env | grep -E '^HTTPOK_(PROGRAM|URL|REASON|OUTCOME)=' | sort > {out}.tmp && mv {out}.tmp {out}",
            out = out.display()
        ),
    );
    let port = free_port();
    let sup = start(vec![
        web("web", port, "error"),
        listener(&format!(
            "-p web -t 2 --on-restart {} http://127.0.0.1:{port}/",
            hook.display()
        )),
    ]);
    let pid = sup.wait_running("web", T);
    assert_restarted(&sup, "web", pid);
    wait_until("the hook wrote its file", T, || out.exists());
    let env = read_file_lossy(&out);
    let lines: Vec<&str> = env.lines().collect();
    assert_eq!(
        lines,
        [
            "HTTPOK_OUTCOME=restarted",
            "HTTPOK_PROGRAM=web",
            "HTTPOK_REASON=status 500",
            &format!("HTTPOK_URL=http://127.0.0.1:{port}/"),
        ],
        "{env}"
    );
    assert!(
        !httpok_log(&sup).contains("--on-restart for web"),
        "the hook failed"
    );
    assert_listener_healthy(&sup);
}

// ---------------------------------------------------------------- probe kinds

#[test]
fn a_tcp_check_restarts_an_app_that_refuses_connections() {
    let port = free_port();
    // The app runs but never opens its port.
    let sup = start(vec![
        web("web", port, "slowstart:100000"),
        listener(&format!("-t 2 --check web=tcp://127.0.0.1:{port}")),
    ]);
    let pid = sup.wait_running("web", T);
    assert_restarted(&sup, "web", pid);
    let log = httpok_log(&sup);
    assert!(
        log.contains(&format!("tcp://127.0.0.1:{port}: connection refused")),
        "{log}"
    );
    assert_listener_healthy(&sup);
}

#[test]
fn an_http_unix_check_restarts_an_app_on_a_unix_socket() {
    let scratch = TempDir::new("unix");
    let socket = scratch.join("app.sock");
    let url = http_unix_url(&socket);
    // supervisord expands %(name)s in command=, so a literal % is written %%.
    let url_in_conf = url.replace('%', "%%");
    let sup = start(vec![
        web_unix("web", &socket, "error"),
        listener(&format!("-t 2 --check web={url_in_conf}")),
    ]);
    let pid = sup.wait_running("web", T);
    assert_restarted(&sup, "web", pid);
    let log = httpok_log(&sup);
    assert!(log.contains(&format!("{url}: status 500")), "{log}");
    // The restarted app listens on the socket again.
    wait_until("the new app answers on its socket", T, || {
        http_get_unix(&socket, "/", Duration::from_secs(2)).is_ok_and(|r| r.status == 500)
    });
    assert_listener_healthy(&sup);
}

// ---------------------------------------------------------------- --once and https

#[test]
fn once_exits_0_when_all_healthy_and_1_otherwise_with_one_line_per_check() {
    let ok = StatusServer::start(200).port();
    let broken = StatusServer::start(503).port();
    let refused = refused_addr();

    let (code, out, err) = run_once(
        &[
            "-t",
            "3",
            &format!("http://127.0.0.1:{ok}/"),
            "--check",
            &format!("web=tcp://127.0.0.1:{ok}"),
        ],
        T,
    )
    .into_parts();
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(&format!("healthy http://127.0.0.1:{ok}/ status 200 ")),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!("healthy tcp://127.0.0.1:{ok} connected ")),
        "{out}"
    );

    let (code, out, err) = run_once(
        &[
            "-t",
            "2",
            &format!("http://127.0.0.1:{ok}/"),
            &format!("http://127.0.0.1:{broken}/"),
            "--check",
            &format!("web=tcp://{refused}"),
        ],
        T,
    )
    .into_parts();
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("healthy "), "{out}");
    assert!(
        lines[1].starts_with(&format!("failing http://127.0.0.1:{broken}/ status 503 ")),
        "{out}"
    );
    assert!(
        lines[2].starts_with(&format!("failing tcp://{refused} connection refused ")),
        "{out}"
    );
    for line in &lines {
        assert!(line.ends_with("ms"), "no latency: {line}");
    }
}

#[test]
fn https_with_a_self_signed_ca_passes_with_cacert_and_fails_without() {
    let scratch = TempDir::new("tls");
    let certs = Certs::make(scratch.path());
    let app = TlsApp::start(scratch.path(), "valid.pem");
    let url = app.url();
    let ca = certs.ca().display().to_string();

    let (code, out, err) =
        run_once(&["-t", "5", "-b", "OK", "--cacert", &ca, &url], T).into_parts();
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.starts_with(&format!("healthy {url} status 200 ")),
        "{out}"
    );

    let (code, out, err) = run_once(&["-t", "5", &url], T).into_parts();
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.starts_with(&format!("failing {url} TLS: unknown issuer ")),
        "{out}"
    );

    let (code, out, err) = run_once(&["-t", "5", "--insecure", &url], T).into_parts();
    assert_eq!(code, 0, "--insecure: stdout:\n{out}\nstderr:\n{err}");
}
