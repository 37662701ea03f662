//! Proves the end-to-end harness works: a real supervisord runs the test
//! webapp, supervisorctl talks to it, freezing an app makes it hang.
mod common;

use common::*;
use std::io::ErrorKind;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// The webapp with `args`; 3 s to stop.
fn web_section(name: &str, args: &str) -> Section {
    app(name, args).set("stopwaitsecs", "3")
}

#[test]
fn unix_server_runs_webapp_and_freeze_hangs_it() {
    let port = free_port();
    let sup = Supervisor::start(
        SupervisorConfig::new().program(web_section("web", &format!("--port {port} --mode ok"))),
    );
    assert!(
        sup.server_url().starts_with("unix:///tmp/"),
        "{}",
        sup.server_url()
    );

    let pid = sup.wait_running("web", T);
    assert_eq!(sup.pid("web"), Some(pid));
    assert_eq!(sup.state("web"), "RUNNING");
    wait_for_log(sup.path("web.err.log"), &format!("pid {pid} starting"), T);

    // RUNNING (startsecs) does not mean listening yet: poll for the answer.
    let mut resp = None;
    wait_until("webapp answers", T, || {
        resp = http_get(port, "/", Duration::from_secs(2)).ok();
        resp.is_some()
    });
    let resp = resp.unwrap();
    assert_eq!(resp.status, 200, "{resp:?}");
    assert!(resp.body.contains("OK"), "{resp:?}");

    // Frozen: the kernel still accepts the connection, nobody answers.
    sup.freeze(pid);
    let err = http_get(port, "/", Duration::from_secs(2)).expect_err("frozen app answered");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "unexpected error from frozen app: {err:?}"
    );
    sup.thaw(pid);
    // The request queued while frozen is served now, and new ones too.
    let resp = http_get(port, "/", Duration::from_secs(5)).expect("thawed app answers");
    assert_eq!(resp.status, 200);
    assert_eq!(sup.pid("web"), Some(pid));
}

#[test]
fn inet_server_with_auth() {
    let port = free_port();
    let sup = Supervisor::start(
        SupervisorConfig::new()
            .inet_auth("alice", "s3cret")
            .program(web_section("web", &format!("--port {port} --mode ok"))),
    );
    let url = sup.server_url().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    // supervisorctl with the credentials from the config works.
    let pid = sup.wait_running("web", T);
    let (code, out) = sup.ctl(&["status", "web"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("RUNNING"), "{out}");

    // Wrong credentials are refused.
    let (code, out) = sup.ctl(&["-u", "alice", "-p", "wrong", "status", "web"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.to_lowercase().contains("authentication"), "{out}");

    // No credentials at all: a plain HTTP request gets 401.
    let rpc_port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let resp = http_get(rpc_port, "/RPC2", Duration::from_secs(5)).expect("rpc server answers");
    assert_eq!(resp.status, 401, "{resp:?}");

    // Control through the authenticated server: restart gives a new pid.
    let (code, out) = sup.ctl(&["restart", "web"]);
    assert_eq!(code, 0, "{out}");
    let new_pid = sup.wait_pid_change("web", pid, T);
    assert_ne!(new_pid, pid);
}

#[test]
fn webapp_modes_over_unix_socket_and_mode_file() {
    let sup = Supervisor::start(SupervisorConfig::new().program(web_section(
        "uweb",
        "--unix {dir}/app.sock --mode mode-file:{dir}/mode",
    )));
    sup.wait_running("uweb", T);
    let sock = sup.path("app.sock");
    let mode = sup.path("mode");
    let get = || http_get_unix(&sock, "/", Duration::from_secs(2));

    wait_until("unix webapp answers", T, || get().is_ok());
    // Missing mode file => ok.
    let r = get().unwrap();
    assert_eq!((r.status, r.body.contains("OK")), (200, true), "{r:?}");

    std::fs::write(&mode, "error\n").unwrap();
    assert_eq!(get().unwrap().status, 500);

    std::fs::write(&mode, "nobody").unwrap();
    let r = get().unwrap();
    assert_eq!((r.status, r.body.contains("OK")), (200, false), "{r:?}");

    std::fs::write(&mode, "hang").unwrap();
    let e = get().expect_err("hang mode answered");
    assert!(
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{e:?}"
    );

    std::fs::write(&mode, "ok").unwrap();
    assert_eq!(get().unwrap().status, 200);

    // A clean stop (SIGTERM) is an expected exit.
    let (code, out) = sup.ctl(&["stop", "uweb"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(sup.state("uweb"), "STOPPED");
}
