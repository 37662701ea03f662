//! The drop-in replacement, proven under a real supervisord: for each case, what
//! supervisord did (pids via XML-RPC through supervisorctl, states, log lines).
mod common;

use common::*;
use std::time::Duration;

/// Ticks come every 5 s; a restart also waits for stopwaitsecs. Be generous.
const T: Duration = Duration::from_secs(60);

fn web(name: &str, port: u16, mode: &str) -> String {
    format!(
        "[program:{name}]\n\
         command={{python}} {{webapp}} --port {port} --mode {mode}\n\
         startsecs=1\n\
         stopwaitsecs=2\n\
         stdout_logfile={{dir}}/{name}.out.log\n\
         stderr_logfile={{dir}}/{name}.err.log\n"
    )
}

/// The listener as a user writes it: `[eventlistener:httpok]` on TICK_5.
fn listener(args: &str) -> String {
    format!(
        "[eventlistener:httpok]\n\
         command={{httpok}} {args}\n\
         events=TICK_5\n\
         startsecs=1\n\
         stdout_logfile={{dir}}/httpok.out.log\n\
         stderr_logfile={{dir}}/httpok.err.log\n"
    )
}

fn start(sections: Vec<String>) -> Supervisor {
    let mut cfg = SupervisorConfig::new().supervisord_line("loglevel=debug");
    for s in sections {
        cfg = cfg.program(s);
    }
    Supervisor::start(cfg)
}

/// What every case checks at the end: the listener is RUNNING, never went UNKNOWN,
/// and wrote nothing but protocol bytes to stdout.
fn assert_listener_healthy(sup: &Supervisor) {
    assert_eq!(sup.state("httpok"), "RUNNING");
    let log = read_file_lossy(sup.log_path());
    assert!(
        !log.contains("UNKNOWN"),
        "listener went UNKNOWN:\n{}",
        tail(&log, 30)
    );
    assert!(!log.contains("buffer overflowed"), "{}", tail(&log, 30));
    // At loglevel=debug supervisord copies the listener's protocol bytes into this log.
    let stdout = read_file_lossy(sup.path("httpok.out.log"));
    let other = stdout.replace("READY\n", "").replace("RESULT 2\nOK", "");
    assert!(other.is_empty(), "non-protocol bytes on stdout: {other:?}");
}

/// Waits until supervisord restarted `name` and httpok said so.
fn assert_restarted(sup: &Supervisor, name: &str, old_pid: u32) -> u32 {
    let new_pid = sup.wait_pid_change(name, old_pid, T);
    assert_ne!(new_pid, old_pid);
    wait_for_log(
        sup.path("httpok.err.log"),
        &format!("{name} is in RUNNING state, restarting"),
        T,
    );
    wait_for_log(sup.path("httpok.err.log"), &format!("{name} restarted"), T);
    new_pid
}

/// Polls until the listener has handled at least `n` events (supervisord logs each
/// BUSY -> ACKNOWLEDGED transition at debug level).
fn wait_for_ticks(sup: &Supervisor, n: usize) {
    wait_until(&format!("{n} events handled"), T * 2, || {
        read_file_lossy(sup.log_path())
            .matches("httpok: BUSY -> ACKNOWLEDGED")
            .count()
            >= n
    });
}

#[test]
fn a_frozen_app_is_restarted() {
    let port = free_port();
    let sup = start(vec![
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
    let sup = start(vec![
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
    let sup = start(vec![
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
    let sup = start(vec![
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
    let listener_section = format!(
        "{}environment=HTTP_PROXY=\"http://127.0.0.1:9\",ALL_PROXY=\"http://127.0.0.1:9\",http_proxy=\"http://127.0.0.1:9\"\n",
        listener(&format!(
            "-p web -t 3 -b OK -c 200 http://127.0.0.1:{port}/"
        ))
    );
    let sup = start(vec![web("web", port, "ok"), listener_section]);
    let pid = sup.wait_running("web", T);
    wait_for_ticks(&sup, 3);
    assert_eq!(sup.pid("web"), Some(pid), "a healthy app was restarted");
    let log = read_file_lossy(sup.path("httpok.err.log"));
    assert!(!log.contains("restarting"), "{log}");
    assert_listener_healthy(&sup);
}

#[test]
fn an_inet_server_with_username_and_password_works() {
    let port = free_port();
    let listener_section = format!(
        "{}environment=SUPERVISOR_USERNAME=\"alice\",SUPERVISOR_PASSWORD=\"s3cret\"\n",
        listener(&format!("-p web -t 2 http://127.0.0.1:{port}/"))
    );
    let sup = Supervisor::start(
        SupervisorConfig::new()
            .inet_auth("alice", "s3cret")
            .supervisord_line("loglevel=debug")
            .program(web("web", port, "error"))
            .program(listener_section),
    );
    let pid = sup.wait_running("web", T);
    assert_restarted(&sup, "web", pid);
    let log = read_file_lossy(sup.path("httpok.err.log"));
    assert!(!log.contains("s3cret"), "password leaked into the log");
    assert_listener_healthy(&sup);
}

#[test]
fn a_wrong_password_is_a_clear_error_naming_the_variables() {
    let port = free_port();
    let listener_section = format!(
        "{}environment=SUPERVISOR_USERNAME=\"alice\",SUPERVISOR_PASSWORD=\"wrong-pw\"\n",
        listener(&format!("-p web -t 2 http://127.0.0.1:{port}/"))
    );
    let sup = Supervisor::start(
        SupervisorConfig::new()
            .inet_auth("alice", "s3cret")
            .supervisord_line("loglevel=debug")
            .program(web("web", port, "error"))
            .program(listener_section),
    );
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
    let group = "[group:shop]\nprograms=front,back\n".to_string();
    let sup = start(vec![
        web("front", p1, "error"),
        web("back", p2, "error"),
        group,
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
    let sup = start(vec![
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
    let out = std::process::Command::new(httpok_bin())
        .arg("http://127.0.0.1:1/")
        .env_remove("SUPERVISOR_SERVER_URL")
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
        let out = std::process::Command::new(httpok_bin())
            .args(args)
            .env("SUPERVISOR_SERVER_URL", "unix:///nonexistent.sock")
            .output()
            .expect("runs");
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?} wrote to stdout");
        assert!(!out.stderr.is_empty(), "{args:?} said nothing");
    }
}

/// A script that appends its argv and stdin to a file: stands in for sendmail and gcore.
fn recorder(sup: &Supervisor, name: &str) -> String {
    let path = sup.path(name);
    let out = sup.path(&format!("{name}.out"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"argv: $*\" >> {out}\ncat >> {out}\n",
            out = out.display()
        ),
    )
    .expect("write script");
    let status = std::process::Command::new("chmod")
        .args(["+x", &path.to_string_lossy()])
        .status()
        .expect("chmod");
    assert!(status.success());
    path.to_string_lossy().into_owned()
}

#[test]
fn mail_names_the_failure_and_a_core_is_dumped_before_the_restart() {
    let port = free_port();
    // Start supervisord first (for its dir), then add the listener with the scripts.
    let sup = start(vec![web("web", port, "error")]);
    let sendmail = recorder(&sup, "sendmail");
    let gcore = recorder(&sup, "gcore");
    let cores = sup.path("cores");
    std::fs::create_dir(&cores).expect("mkdir");
    let pid = sup.wait_running("web", T);
    let conf = read_file_lossy(sup.conf_path())
        + &listener(&format!(
            "-p web -t 2 -n front -m ops@example.test -s \"{sendmail} -t -i\" -g \"{gcore} -o\" -d {} http://127.0.0.1:{port}/",
            cores.display()
        ));
    std::fs::write(sup.conf_path(), sup.expand(&conf)).expect("rewrite conf");
    let (code, out) = sup.ctl(&["update"]);
    assert_eq!(code, 0, "{out}");
    let new_pid = assert_restarted(&sup, "web", pid);
    assert_ne!(new_pid, pid);

    let mail = wait_for_log(sup.path("sendmail.out"), "web restarted", T);
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

    let core = read_file_lossy(sup.path("gcore.out"));
    assert!(
        core.contains(&format!("argv: -o {}/web {pid}", cores.display())),
        "gcore called with the file name and the failed pid: {core}"
    );
    assert_listener_healthy(&sup);
}
