//! Faults of supervisord, the peer httpok trusts most. Each fake-server case runs the
//! real binary as a listener with the test as supervisord: one round against the fault
//! (it must end within its timeout and be acknowledged), then the server comes back and
//! the next round must restart the failing program. The last cases use a real
//! supervisord: `supervisorctl reload`, a clean stop and start, and a crash.
mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::e2e::{assert_listener_healthy, count, httpok_log};
use common::fake_supervisord::*;
use common::*;

/// httpok's timeout for one call to supervisord (RPC_TIMEOUT in src/main.rs).
const RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// The probe's -t in these tests.
const PROBE_TIMEOUT: &str = "1";
/// A round is one process-list call plus the probes; the rest is slack for a slow machine.
const ROUND_LIMIT: Duration = Duration::from_secs(RPC_TIMEOUT.as_secs() + 1 + 15);
/// Waits under a real supervisord (ticks every 5 s, stops, starts).
const T: Duration = Duration::from_secs(90);

fn fake_web(pid: u32) -> Vec<FakeProcess> {
    vec![FakeProcess::running("web", pid)]
}

/// How supervisord is unreachable or wrong in the first round.
enum Fault {
    /// SUPERVISOR_SERVER_URL names a socket file that does not exist.
    MissingSocket,
    /// Nothing listens on the TCP port.
    ClosedPort,
    /// A fake that answers (or does not answer) this way.
    Fake(Mode),
}

/// Round 1 against `fault`: acknowledged within ROUND_LIMIT with an ERROR line (INFO for
/// a supervisord that is shutting down: routine during a reload) holding every
/// `expect`ed text. Round 2 against a working supervisord: the failing program is
/// stopped and started. Returns httpok's stderr and the fake's request heads.
fn fault_then_recovery(
    fault: Fault,
    expect: &[&str],
    env: &[(&str, &str)],
) -> (String, Vec<String>) {
    let dir = TempDir::new("sv");
    let probe = format!("http://127.0.0.1:{}/", free_port());
    let sock = dir.join("supervisor.sock");
    let (url, fake, port) = match fault {
        Fault::MissingSocket => (format!("unix://{}", sock.display()), None, 0),
        Fault::ClosedPort => {
            let port = free_port();
            (format!("http://127.0.0.1:{port}"), None, port)
        }
        Fault::Fake(mode) => {
            let fake = FakeSupervisord::tcp(0, mode, fake_web(4242));
            (fake.url().to_string(), Some(fake), 0)
        }
    };
    let mut all_env = vec![("SUPERVISOR_SERVER_URL", url.as_str())];
    all_env.extend_from_slice(env);
    let mut httpok = Listener::start(
        dir.path(),
        &["-p", "web", "-t", PROBE_TIMEOUT, &probe],
        &all_env,
    );

    let took = httpok.tick(ROUND_LIMIT);
    eprintln!("fault round took {took:?}");
    let stderr = httpok.stderr();
    let level = if expect.iter().any(|e| e.contains("shutting down")) {
        " INFO "
    } else {
        " ERROR "
    };
    let errors = lines_with(&stderr, level);
    assert!(
        errors
            .iter()
            .any(|l| expect.iter().all(|needle| l.contains(needle))),
        "no ERROR line with {expect:?}:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    if let Some(fake) = &fake {
        let calls = fake.calls();
        assert!(
            calls.iter().all(|c| c == "supervisor.getAllProcessInfo"),
            "a faulty supervisord was asked to restart something: {calls:?}"
        );
    }

    // supervisord is back.
    let fake = match fake {
        Some(fake) => {
            fake.set_mode(Mode::Healthy);
            fake
        }
        None if port == 0 => FakeSupervisord::unix(&sock, Mode::Healthy, fake_web(4242)),
        None => FakeSupervisord::tcp(port, Mode::Healthy, fake_web(4242)),
    };
    httpok.tick(ROUND_LIMIT);
    let calls = fake.wait_for_call("supervisor.startProcess web", ROUND_LIMIT);
    let stop = calls.iter().position(|c| c == "supervisor.stopProcess web");
    let start = calls
        .iter()
        .position(|c| c == "supervisor.startProcess web");
    assert!(stop.is_some() && stop < start, "{calls:?}");
    httpok.wait_for_stderr("web restarted", ROUND_LIMIT);
    let heads = fake.lock().heads.clone();
    let stderr = httpok.stderr();
    let status = httpok.close(ROUND_LIMIT);
    assert!(status.success(), "exit at EOF: {status}");
    (stderr, heads)
}

/// nobody:nogroup, as Debian has them: the `user=` of a listener in this test.
const NOBODY: (u32, u32) = (65534, 65534);

#[test]
fn a_socket_closed_to_the_listeners_user_names_the_user_the_owner_and_the_mode() {
    // Debian's supervisord makes its socket root's, mode 0700; a listener given
    // `user=nobody` cannot connect. Needs a test run as root (the machines' and CI's
    // is), to make the socket root's and to start httpok as nobody.
    let dir = TempDir::new("sv-denied");
    let sock = dir.join("supervisor.sock");
    let fake = FakeSupervisord::unix(&sock, Mode::Healthy, fake_web(4242));
    fs::set_permissions(&sock, fs::Permissions::from_mode(0o700)).expect("chmod");
    let url = format!("unix://{}", sock.display());
    let probe = format!("http://127.0.0.1:{}/", free_port());
    let mut httpok = Listener::start_as(
        dir.path(),
        &["-p", "web", "-t", PROBE_TIMEOUT, &probe],
        &[("SUPERVISOR_SERVER_URL", url.as_str())],
        Some(NOBODY),
    );
    httpok.tick(ROUND_LIMIT);
    let stderr = httpok.stderr();
    let expected = format!(
        "permission denied connecting to the unix socket {}: httpok runs as user nobody \
         (uid 65534, group nogroup); the socket is owned by root:root with mode 0700 \
         (rwx------). Run the listener as a user that may connect (the user= line",
        sock.display()
    );
    let errors = lines_with(&stderr, " ERROR ");
    assert!(
        errors.iter().any(|l| l.contains(&expected)),
        "no ERROR line with {expected:?}:\n{stderr}"
    );
    assert!(!stderr.contains("is supervisord running"), "{stderr}");
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    // Let nobody in, as the hint says (chmod): the next round reads the list, and the
    // failing program is restarted.
    fs::set_permissions(&sock, fs::Permissions::from_mode(0o777)).expect("chmod");
    httpok.tick(ROUND_LIMIT);
    fake.wait_for_call("supervisor.startProcess web", ROUND_LIMIT);
    httpok.wait_for_stderr("web restarted", ROUND_LIMIT);
    let status = httpok.close(ROUND_LIMIT);
    assert!(status.success(), "exit at EOF: {status}");
}

#[test]
fn a_missing_socket_skips_the_round_and_the_next_round_works_once_it_exists() {
    fault_then_recovery(
        Fault::MissingSocket,
        &["cannot reach supervisord", "No such file"],
        &[],
    );
}

#[test]
fn a_refused_connection_skips_the_round_and_the_next_round_works() {
    fault_then_recovery(
        Fault::ClosedPort,
        &["cannot reach supervisord", "refused"],
        &[],
    );
}

#[test]
fn a_server_that_accepts_and_never_answers_times_out_and_the_next_round_works() {
    fault_then_recovery(
        Fault::Fake(Mode::Silent),
        &["did not answer within 10s"],
        &[],
    );
}

#[test]
fn a_401_names_the_variables_to_set_and_never_the_password() {
    let secret = "pw-401-Zq8vX";
    let (stderr, heads) = fault_then_recovery(
        Fault::Fake(Mode::Status(401)),
        &["401", "SUPERVISOR_USERNAME", "SUPERVISOR_PASSWORD"],
        &[
            ("SUPERVISOR_USERNAME", "alice"),
            ("SUPERVISOR_PASSWORD", secret),
            ("RUST_LOG", "trace"),
        ],
    );
    assert!(!stderr.contains(secret), "password in the log:\n{stderr}");
    // The credentials were sent (base64 of alice:pw-401-Zq8vX), never logged.
    let basic = "YWxpY2U6cHctNDAxLVpxOHZY";
    assert!(
        heads
            .iter()
            .all(|h| h.contains(&format!("Authorization: Basic {basic}"))),
        "{heads:?}"
    );
    assert!(!stderr.contains(basic), "encoded password in the log");
}

#[test]
fn shutdown_state_skips_the_round_and_the_next_round_works() {
    fault_then_recovery(
        Fault::Fake(Mode::Fault(6, "SHUTDOWN_STATE".into())),
        &["supervisord is shutting down or reloading"],
        &[],
    );
}

#[test]
fn an_http_500_skips_the_round_and_the_next_round_works() {
    fault_then_recovery(Fault::Fake(Mode::Status(500)), &["HTTP 500"], &[]);
}

#[test]
fn a_non_xml_body_skips_the_round_and_the_next_round_works() {
    fault_then_recovery(
        Fault::Fake(Mode::Body("<html>proxy error</html>\n".into())),
        &["bad reply from supervisord"],
        &[],
    );
}

/// A unix socket whose accept backlog is full (a supervisord that stopped accepting):
/// connect(2) itself blocks, so the call's timeout must cover the connect too.
#[test]
fn a_unix_socket_with_a_full_backlog_times_out_and_the_next_round_works() {
    let dir = TempDir::new("sv");
    let sock = dir.join("supervisor.sock");
    // listen(0) and never accept: one pending connection fills the queue.
    let frozen = Command::new(python())
        .args([
            "-c",
            "import socket,sys,time\n\
             s=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(0)\n\
             print('ready',flush=True)\ntime.sleep(600)\n",
        ])
        .arg(&sock)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    let guard = KillOnDrop(frozen);
    wait_until("frozen socket exists", T, || sock.exists());
    let _queued = UnixStream::connect(&sock).expect("first pending connection");

    let url = format!("unix://{}", sock.display());
    let probe = format!("http://127.0.0.1:{}/", free_port());
    let mut httpok = Listener::start(
        dir.path(),
        &["-p", "web", "-t", PROBE_TIMEOUT, &probe],
        &[("SUPERVISOR_SERVER_URL", &url)],
    );
    let took = httpok.tick(ROUND_LIMIT);
    eprintln!("round against a full backlog took {took:?}");
    let stderr = httpok.stderr();
    assert!(stderr.contains("did not answer within"), "{stderr}");

    drop(guard);
    let _ = fs::remove_file(&sock);
    let fake = FakeSupervisord::unix(&sock, Mode::Healthy, fake_web(4242));
    httpok.tick(ROUND_LIMIT);
    fake.wait_for_call("supervisor.startProcess web", ROUND_LIMIT);
    assert!(httpok.close(ROUND_LIMIT).success());
}

// ---------------------------------------------------------------- real supervisord

fn start_supervisord(port: u16) -> Supervisor {
    start([
        web("web", port, "mode-file:{dir}/mode"),
        listener(&format!("-p web -t 2 http://127.0.0.1:{port}/")),
    ])
}

/// Breaks the app and waits until httpok has restarted it (a new pid and the notices).
fn break_app_and_see_it_restarted(sup: &Supervisor, port: u16) {
    let pid = sup.wait_running("web", T);
    wait_until("app answers", T, || {
        http_get(port, "/", Duration::from_secs(2)).is_ok_and(|r| r.status == 200)
    });
    let notices_before = count(&httpok_log(sup), "web restarted");
    fs::write(sup.path("mode"), "error").expect("write mode file");
    let new_pid = sup.wait_pid_change("web", pid, T);
    assert_ne!(new_pid, pid);
    wait_until("a new 'web restarted' notice", T, || {
        count(&httpok_log(sup), "web restarted") > notices_before
    });
    fs::write(sup.path("mode"), "ok").expect("write mode file");
}

#[test]
fn after_supervisorctl_reload_a_broken_app_is_still_restarted() {
    let port = free_port();
    let sup = start_supervisord(port);
    let web = sup.wait_running("web", T);
    let listener = sup.wait_running("httpok", T);
    wait_for_log(sup.log_path(), "httpok: BUSY -> ACKNOWLEDGED", T);

    let (_, out) = sup.ctl(&["reload"]);
    assert!(out.contains("Restarted supervisord"), "{out}");
    // supervisord stops every child, re-reads its config and starts them again.
    let new_listener = sup.wait_pid_change("httpok", listener, T);
    sup.wait_pid_change("web", web, T);
    assert!(
        process_gone(listener),
        "the old listener outlived the reload"
    );

    break_app_and_see_it_restarted(&sup, port);
    assert_eq!(sup.pid("httpok"), Some(new_listener));
    assert_listener_healthy(&sup);
}

#[test]
fn after_supervisord_is_stopped_and_started_again_httpok_works() {
    let port = free_port();
    let mut sup = start_supervisord(port);
    let web = sup.wait_running("web", T);
    let listener = sup.wait_running("httpok", T);
    wait_for_log(sup.log_path(), "httpok: BUSY -> ACKNOWLEDGED", T);

    let first = sup.supervisord_pid();
    sup.ctl(&["shutdown"]);
    wait_until("supervisord, httpok and web exited", T, || {
        process_gone(first) && process_gone(listener) && process_gone(web)
    });

    sup.start_again();
    let new_listener = sup.wait_running("httpok", T);
    assert_ne!(new_listener, listener);
    break_app_and_see_it_restarted(&sup, port);
    assert_listener_healthy(&sup);
}

#[test]
fn when_supervisord_dies_httpok_exits_and_a_new_supervisord_works() {
    let port = free_port();
    let mut sup = start_supervisord(port);
    let web = sup.wait_running("web", T);
    let listener = sup.wait_running("httpok", T);
    wait_for_log(sup.log_path(), "httpok: BUSY -> ACKNOWLEDGED", T);

    // A crash: no SIGTERM to the children, only EOF on the listener's stdin.
    assert!(send_signal(sup.supervisord_pid(), "KILL"));
    wait_until("httpok exits on its own (stdin EOF)", T, || {
        process_gone(listener)
    });
    // The app is orphaned and keeps its port; a real operator would kill it too.
    send_signal(web, "TERM");
    wait_until("the orphaned app exits", T, || process_gone(web));

    // The new supervisord finds the dead one's stale socket file and replaces it.
    sup.start_again();
    sup.wait_running("httpok", T);
    break_app_and_see_it_restarted(&sup, port);
    assert_listener_healthy(&sup);
    let err = httpok_log(&sup);
    assert!(!err.contains("event stream failed"), "{err}");
}
