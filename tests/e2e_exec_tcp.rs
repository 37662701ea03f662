//! The new kinds of check and what an https check watches besides its answer (issue
//! 10), proven end to end under a real supervisord sending TICK_5: `exec:` commands
//! (a failure's exit status, a hang killed at the timeout with nothing left behind),
//! tcp `--send`/`--expect` against a redis-like app, and `--cert-expiry-warn` with the
//! `probe_ssl_earliest_cert_expiry` metric.
mod common;

use common::e2e::*;
use common::*;
use std::fs;
use std::time::Duration;

/// A program that only has to be RUNNING: the check names it and probes something else.
fn sleeper(name: &str) -> Section {
    Section::program(name, "/bin/sleep 86400")
}

// ---------------------------------------------------------------- exec

#[test]
fn an_exec_command_that_cannot_run_restarts_nothing_and_is_said_once() {
    let scratch = TempDir::new("gone");
    let check = scratch.join("db-check.sh");
    write_script(&check, "exit 0");
    let sup = start(vec![sleeper("db")]);
    let pid = sup.wait_running("db", T);
    add_listener(
        &sup,
        listener(&format!("-t 2 --check 'db=exec:{}'", check.display())),
    );
    wait_for_more_ticks(&sup, 1);
    // The command disappears (a package removed, a typo in a later edit): the check's
    // fault, not db's.
    fs::remove_file(&check).expect("remove the check script");
    let cannot = format!("exec:{}: cannot run", check.display());
    wait_for_log(sup.path("httpok.err.log"), &cannot, T);
    wait_for_more_ticks(&sup, 3);
    assert_eq!(
        sup.pid("db"),
        Some(pid),
        "db was restarted for its check's fault"
    );
    let log = httpok_log(&sup);
    assert_eq!(count(&log, &cannot), 1, "said once: {log}");
    assert!(lines_with(&log, &cannot)[0].contains(" ERROR "), "{log}");
    assert!(!log.contains("restarting"), "{log}");
    write_script(&check, "exit 0");
    wait_for_log(
        sup.path("httpok.err.log"),
        &format!("exec:{}: its command runs again", check.display()),
        T,
    );
    assert_listener_healthy(&sup);
}

#[test]
fn exec_checks_restart_on_exit_1_and_kill_a_hung_command_at_the_timeout() {
    let scratch = TempDir::new("exec");
    let failing = scratch.join("db-check.sh");
    write_script(&failing, "echo checking the db\necho db is down\nexit 1");
    // GNU sleep takes fractional seconds: this argument is the hung command's marker.
    let marker = format!("60.{}{}", std::process::id(), free_port());
    let sup = start(vec![sleeper("db"), sleeper("hung")]);
    // The listener only once the first pids are known: its first round restarts both.
    let db_pid = sup.wait_running("db", T);
    let hung_pid = sup.wait_running("hung", T);
    add_listener(
        &sup,
        listener(&format!(
            "-t 1 --check 'db=exec:{}' --check 'hung=exec:/bin/sleep {marker}'",
            failing.display()
        )),
    );
    assert_restarted(&sup, "db", db_pid);
    assert_restarted(&sup, "hung", hung_pid);
    let log = httpok_log(&sup);
    assert!(
        log.contains(&format!(
            "exec:{}: exit status 1: db is down",
            failing.display()
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!("exec:/bin/sleep {marker}: timeout after 1.0s")),
        "{log}"
    );
    // Each round's sleep is killed after 1 s: between rounds none is left (one that
    // outlived its timeout would live for 60 s), and none is left unreaped.
    let httpok = sup.pid("httpok").expect("httpok's pid");
    wait_until("no hung sleep between two rounds", T, || {
        processes_with_arg(&marker).is_empty()
    });
    wait_until("no unreaped child of httpok", T, || {
        zombie_children(httpok).is_empty()
    });
    assert_listener_healthy(&sup);
    // Stopped while a probe hangs: the command is not left behind either.
    wait_until("a probe's sleep in flight", T, || {
        !processes_with_arg(&marker).is_empty()
    });
    drop(sup);
    wait_for(
        "no hung sleep after supervisord stopped",
        T,
        || match processes_with_arg(&marker) {
            left if left.is_empty() => Ok(()),
            left => Err(format!("left behind: {left:?}")),
        },
    );
}

// ---------------------------------------------------------------- tcp send/expect

#[test]
fn a_tcp_send_expect_check_is_healthy_on_pong_and_restarts_on_an_error_answer() {
    let scratch = TempDir::new("pong");
    let mode = scratch.join("mode");
    fs::write(&mode, "").expect("write mode file");
    let port = free_port();
    let pongapp = test_app("pongapp.py");
    let sup = start(vec![
        Section::program(
            "redis",
            format!(
                "{{python}} {} --port {port} --mode-file {}",
                pongapp.display(),
                mode.display()
            ),
        ),
        listener(&format!(
            r"-t 2 --check redis=tcp://127.0.0.1:{port} --send 'PING\r\n' --expect '^\+PONG'"
        )),
    ]);
    let pid = sup.wait_running("redis", T);
    // The app answers only what it is sent: each healthy round sent PING.
    let pongs = |pid: u32| {
        count(
            &read_file_lossy(sup.path("redis.err.log")),
            &format!("pongapp[{pid}]: 'PING' -> b'+PONG\\r\\n'"),
        )
    };
    wait_until("two PINGs answered +PONG", T * 2, || pongs(pid) >= 2);
    assert_eq!(
        sup.pid("redis"),
        Some(pid),
        "restarted while it answered +PONG"
    );
    fs::write(&mode, "err").expect("write mode file");
    let new_pid = assert_restarted(&sup, "redis", pid);
    fs::write(&mode, "").expect("write mode file");
    let log = httpok_log(&sup);
    assert!(
        log.contains(&format!(
            r"tcp://127.0.0.1:{port}: answer does not match /^\+PONG/"
        )),
        "{log}"
    );
    wait_until("the new app answers +PONG", T * 2, || pongs(new_pid) >= 1);
    assert_listener_healthy(&sup);
}

// ---------------------------------------------------------------- certificate expiry

#[test]
fn a_certificate_expiring_in_5_days_warns_once_mails_once_fills_the_metric_and_restarts_nothing() {
    let scratch = TempDir::new("cert");
    let certs = Certs::make(scratch.path());
    let short = certs.valid_for(5);
    let not_after = certs.not_after(&short);
    let app = TlsApp::start(scratch.path(), &short);
    let url = app.url();
    let ca = certs.ca().display().to_string();
    let sendmail = Recorder::new(scratch.path(), "sendmail");
    let (metrics, quiet_metrics) = (free_port(), free_port());
    let sup = start(vec![
        sleeper("web"),
        listener(&format!(
            "-t 5 --cacert {ca} --metrics-listen 127.0.0.1:{metrics} -m ops@example.com \
             -s {} --state-file {{dir}}/httpok.state --check web={url}",
            sendmail.command()
        )),
        Section::listener(
            "httpok2",
            &format!(
                "-t 5 --cert-expiry-warn 0 --cacert {ca} \
                 --metrics-listen 127.0.0.1:{quiet_metrics} --check web={url}"
            ),
        ),
    ]);
    sup.wait_running("httpok2", T);
    let pid = sup.wait_running("web", T);
    let warning = format!("WARN {url}: its certificate CN=localhost expires in 4 days");
    wait_for_count(&sup, &warning, 1);
    sendmail.wait_for_call("certificate CN=localhost expires in 4 days", T);
    // Three more rounds: the same certificate, no second WARN or mail, no restart.
    wait_for_more_ticks(&sup, 3);
    let log = httpok_log(&sup);
    assert_eq!(
        count(&log, "its certificate CN=localhost expires"),
        1,
        "{log}"
    );
    assert_eq!(sendmail.calls().len(), 1, "{:?}", sendmail.calls());
    assert!(!log.contains("restarting"), "{log}");
    assert_eq!(sup.pid("web"), Some(pid), "restarted for a certificate");

    for port in [metrics, quiet_metrics] {
        let expiry = wait_for("the expiry metric", T, || cert_expiry_metric(port, &url));
        assert_eq!(expiry, not_after, "port {port}");
    }
    // --cert-expiry-warn 0: the certificate was read (the metric) but nothing said.
    let quiet = read_file_lossy(sup.path("httpok2.err.log"));
    assert!(!quiet.contains("certificate"), "{quiet}");
    // A restart of httpok with --state-file: the day's WARN and the mail are not
    // repeated (the operator trial got one of each per `supervisorctl restart`).
    let (code, out) = sup.ctl(&["restart", "httpok"]);
    assert_eq!(code, 0, "{out}");
    wait_for_count(&sup, "httpok 0.1.0 started", 2);
    wait_for_more_ticks(&sup, 2);
    let log = httpok_log(&sup);
    assert_eq!(
        count(&log, "its certificate CN=localhost expires"),
        1,
        "{log}"
    );
    assert_eq!(sendmail.calls().len(), 1, "{:?}", sendmail.calls());
    assert_listener_healthy(&sup);
}

/// The value of `probe_ssl_earliest_cert_expiry{...target="URL"...}` on /metrics.
fn cert_expiry_metric(port: u16, url: &str) -> Result<i64, String> {
    let page = http_get(port, "/metrics", Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let target = format!("target=\"{url}\"");
    let line = page
        .body
        .lines()
        .find(|l| l.starts_with("probe_ssl_earliest_cert_expiry{") && l.contains(&target))
        .ok_or_else(|| format!("no expiry sample for {url} in:\n{}", page.body))?;
    let value = line.rsplit(' ').next().unwrap_or_default();
    value
        .parse()
        .map_err(|e| format!("{line:?}: not a whole number: {e}"))
}
