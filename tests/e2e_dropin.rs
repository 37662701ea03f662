//! The drop-in replacement, proven under a real supervisord: for each case, what
//! supervisord did (pids via XML-RPC through supervisorctl, states, log lines).
mod common;

use common::e2e::*;
use common::*;
use std::time::Duration;

#[test]
fn a_frozen_app_is_restarted() {
    let port = free_port();
    let sup = start([
        web("web", port, "ok"),
        listener(&format!("-p web -t 2 http://127.0.0.1:{port}/")),
    ]);
    let pid = sup.wait_running("web", T);
    sup.wait_running("httpok", T);
    wait_until("app answers", T, || {
        http_get(port, "/", Duration::from_secs(2)).is_ok()
    });
    sup.freeze(pid);
    let new_pid = assert_restarted(&sup, "web", pid);
    wait_until("new app answers", T, || {
        http_get(port, "/", Duration::from_secs(2)).is_ok()
    });
    assert_eq!(sup.pid("web"), Some(new_pid));
    assert_listener_healthy(&sup);
}

#[test]
fn a_500_is_restarted() {
    let port = free_port();
    let sup = start([
        web("web", port, "error"),
        listener(&format!("-p web -t 3 http://127.0.0.1:{port}/")),
    ]);
    let pid = sup.wait_running("web", T);
    assert_restarted(&sup, "web", pid);
    let log = read_file_lossy(sup.path("httpok.err.log"));
    assert!(log.contains("status 500"), "{log}");
    assert!(
        log.contains("Restarting selected processes ['web']"),
        "{log}"
    );
    assert_listener_healthy(&sup);
}

#[test]
fn a_missing_body_text_is_restarted() {
    let port = free_port();
    let sup = start([
        web("web", port, "nobody"),
        listener(&format!("-p web -t 3 -b OK http://127.0.0.1:{port}/")),
    ]);
    let pid = sup.wait_running("web", T);
    assert_restarted(&sup, "web", pid);
    assert!(read_file_lossy(sup.path("httpok.err.log")).contains("body missing \"OK\""));
    assert_listener_healthy(&sup);
}

#[test]
fn a_refused_connection_is_restarted() {
    let port = free_port();
    // The app runs but never opens its port.
    let sup = start([
        web("web", port, "slowstart:100000"),
        listener(&format!("-p web -t 2 http://127.0.0.1:{port}/")),
    ]);
    let pid = sup.wait_running("web", T);
    assert_restarted(&sup, "web", pid);
    assert!(read_file_lossy(sup.path("httpok.err.log")).contains("connection refused"));
    assert_listener_healthy(&sup);
}

#[test]
fn a_healthy_app_is_not_restarted_over_three_ticks() {
    let port = free_port();
    // Proxy variables inherited from supervisord must not divert the probe: if they
    // did, every probe would fail (nothing listens on port 9) and web would restart.
    let listener_section = listener(&format!(
        "-p web -t 3 -b OK -c 200 http://127.0.0.1:{port}/"
    ))
    .set(
        "environment",
        "HTTP_PROXY=\"http://127.0.0.1:9\",ALL_PROXY=\"http://127.0.0.1:9\",http_proxy=\"http://127.0.0.1:9\"",
    );
    let sup = start([web("web", port, "ok"), listener_section]);
    let pid = sup.wait_running("web", T);
    wait_for_more_ticks(&sup, 3);
    assert_eq!(sup.pid("web"), Some(pid), "a healthy app was restarted");
    let log = read_file_lossy(sup.path("httpok.err.log"));
    assert!(!log.contains("restarting"), "{log}");
    assert_listener_healthy(&sup);
}

/// An authenticated `[inet_http_server]` (alice / s3cret) with a failing app, and httpok
/// given `password` in its environment= line, as users must (supervisord passes none).
fn inet_auth_supervisor(password: &str) -> Supervisor {
    let port = free_port();
    let listener_section = listener(&format!("-p web -t 2 http://127.0.0.1:{port}/")).set(
        "environment",
        format!("SUPERVISOR_USERNAME=\"alice\",SUPERVISOR_PASSWORD=\"{password}\""),
    );
    Supervisor::start(
        SupervisorConfig::new()
            .inet_auth("alice", "s3cret")
            .program(web("web", port, "error"))
            .program(listener_section),
    )
}

#[test]
fn an_inet_server_with_username_and_password_works() {
    let sup = inet_auth_supervisor("s3cret");
    let pid = sup.wait_running("web", T);
    assert_restarted(&sup, "web", pid);
    let log = read_file_lossy(sup.path("httpok.err.log"));
    assert!(!log.contains("s3cret"), "password leaked into the log");
    assert_listener_healthy(&sup);
}

#[test]
fn a_wrong_password_is_a_clear_error_naming_the_variables() {
    let sup = inet_auth_supervisor("wrong-pw");
    let pid = sup.wait_running("web", T);
    let log = wait_for_log(sup.path("httpok.err.log"), "SUPERVISOR_PASSWORD", T);
    assert!(log.contains("401"), "{log}");
    assert!(!log.contains("wrong-pw"), "password leaked into the log");
    assert_eq!(sup.pid("web"), Some(pid));
    assert_listener_healthy(&sup);
}

#[test]
fn group_and_name_selects_exactly_that_process() {
    let (p1, p2) = (free_port(), free_port());
    let sup = start([
        web("front", p1, "error"),
        web("back", p2, "error"),
        Section::group("shop", &["front", "back"]),
        listener(&format!("-p shop:front -t 2 -E http://127.0.0.1:{p1}/")),
    ]);
    let front = sup.wait_running("shop:front", T);
    let back = sup.wait_running("shop:back", T);
    assert_restarted(&sup, "shop:front", front);
    assert_eq!(
        sup.pid("shop:back"),
        Some(back),
        "-p shop:front restarted shop:back"
    );
    assert_listener_healthy(&sup);
}

#[test]
fn any_restarts_the_app_and_leaves_httpok_running() {
    let port = free_port();
    let sup = start([
        web("web", port, "error"),
        listener(&format!("-a -t 2 http://127.0.0.1:{port}/")),
    ]);
    let pid = sup.wait_running("web", T);
    let own = sup.wait_running("httpok", T);
    wait_for_log(
        sup.path("httpok.err.log"),
        "Restarting all running processes",
        T,
    );
    assert_restarted(&sup, "web", pid);
    assert_eq!(sup.pid("httpok"), Some(own), "httpok restarted itself");
    let log = read_file_lossy(sup.path("httpok.err.log"));
    assert!(!log.contains("httpok is in RUNNING state"), "{log}");
    assert_listener_healthy(&sup);
}

#[test]
fn without_supervisord_it_says_it_must_run_as_a_listener() {
    let out = httpok_cmd()
        .arg("http://127.0.0.1:1/")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("must be run as a supervisor event listener"),
        "{err}"
    );
}

#[test]
fn bad_arguments_exit_non_zero_with_a_message() {
    for args in [
        &["-t", "0", "http://h/"][..],
        &["-c", "abc", "http://h/"],
        &["nota-url"],
    ] {
        let out = httpok_cmd()
            .args(args)
            .env("SUPERVISOR_SERVER_URL", "unix:///nonexistent.sock")
            .output()
            .expect("runs");
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?} wrote to stdout");
        assert!(!out.stderr.is_empty(), "{args:?} said nothing");
    }
}

#[test]
fn mail_names_the_failure_and_a_core_is_dumped_before_the_restart() {
    let port = free_port();
    // Start supervisord first (for its dir), then add the listener with the scripts.
    let sup = start([web("web", port, "error")]);
    let sendmail = Recorder::new(sup.dir(), "sendmail");
    let gcore = Recorder::new(sup.dir(), "gcore");
    let cores = sup.path("cores");
    std::fs::create_dir(&cores).expect("mkdir");
    let pid = sup.wait_running("web", T);
    add_listener(
        &sup,
        listener(&format!(
            "-p web -t 2 -n front -m ops@example.test -s \"{} -t -i\" -g \"{} -o\" -d {} http://127.0.0.1:{port}/",
            sendmail.command(),
            gcore.command(),
            cores.display()
        )),
    );
    let new_pid = assert_restarted(&sup, "web", pid);
    assert_ne!(new_pid, pid);

    let mail = sendmail.wait_for_call("web restarted", T);
    assert!(mail.contains("argv: -t -i"), "{mail}");
    assert!(mail.contains("To: ops@example.test\n"), "{mail}");
    assert!(
        mail.contains(&format!(
            "Subject: httpok [front]: http://127.0.0.1:{port}/: bad status returned\n"
        )),
        "{mail}"
    );
    assert!(mail.contains("status 500"), "{mail}");
    assert!(
        mail.contains("web is in RUNNING state, restarting"),
        "{mail}"
    );

    let core = gcore.calls().concat();
    assert!(
        core.contains(&format!("argv: -o {}/web {pid}", cores.display())),
        "gcore called with the file name and the failed pid: {core}"
    );
    assert_listener_healthy(&sup);
}
