//! Every outage heard, nothing claimed that is not so (issue 16, item 7), under a real
//! supervisord: a failing check that restarts nothing says so once and says when it
//! passes again; "recovered" waits for every check naming the program; superlance's
//! `Restarting ...` line comes once per round.
mod common;

use common::e2e::*;
use common::*;
use std::fs;
use std::path::Path;

/// A file the webapp reads its mode from on each request (`mode-file:PATH`).
fn mode_file(dir: &TempDir, name: &str, mode: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    fs::write(&path, mode).expect("write mode file");
    path
}

fn set_mode(path: &Path, mode: &str) {
    fs::write(path, mode).expect("write mode file");
}

/// The log lines at `level` that contain `needle`.
fn entries<'a>(log: &'a str, level: &str, needle: &str) -> Vec<&'a str> {
    log.lines()
        .filter(|l| l.contains(&format!("Z {level} ")) && l.contains(needle))
        .collect()
}

#[test]
fn a_typo_in_p_gives_one_warn_one_mail_and_one_line_when_the_url_passes_again() {
    let scratch = TempDir::new("typo");
    let mode = mode_file(&scratch, "mode", "error");
    let mail = Recorder::new(scratch.path(), "sendmail");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let sup = start(vec![
        web("web", port, &format!("mode-file:{}", mode.display())),
        listener(&format!(
            "-p wbe -t 2 -m ops@example.test -s \"{} -t -i\" {url}",
            mail.command()
        )),
    ]);
    let pid = sup.wait_running("web", T);
    // (The WARN at start about wbe is not about the URL.)
    let failing = "status 500; nothing is restarted";
    wait_for_count(&sup, failing, 1);
    wait_for_more_ticks(&sup, 3);
    let log = httpok_log(&sup);
    let warns = entries(&log, "WARN", failing);
    assert_eq!(warns.len(), 1, "one WARN over four failing rounds:\n{log}");
    assert!(
        warns[0].ends_with(&format!(
            "WARN {url}: status 500; nothing is restarted: no process in supervisord is \
             named wbe (a typo? supervisorctl avail lists them)"
        )),
        "{}",
        warns[0]
    );
    let call = mail.wait_for_call("nothing is restarted", T);
    assert!(call.contains("Subject: httpok: "), "{call}");
    assert_eq!(sup.pid("web"), Some(pid), "nothing was restarted");

    set_mode(&mode, "ok");
    wait_for_count(&sup, &format!("INFO {url} passes again"), 1);
    wait_for_more_ticks(&sup, 2);
    let log = httpok_log(&sup);
    assert_eq!(count(&log, "passes again"), 1, "{log}");
    assert_eq!(count(&log, failing), 1, "{log}");
    assert_eq!(mail.calls().len(), 1, "one mail for the incident");
    assert_listener_healthy(&sup);
}

#[test]
fn a_check_failing_while_supervisord_refuses_the_password_is_heard_once() {
    let (port, metrics) = (free_port(), free_port());
    let url = format!("http://127.0.0.1:{port}/");
    let listener_section = listener(&format!(
        "-p web -t 2 --metrics-listen 127.0.0.1:{metrics} {url}"
    ))
    .set(
        "environment",
        "SUPERVISOR_USERNAME=\"alice\",SUPERVISOR_PASSWORD=\"wrong-pw\"",
    );
    let sup = Supervisor::start(
        SupervisorConfig::new()
            .inet_auth("alice", "s3cret")
            .program(web("web", port, "error"))
            .program(listener_section),
    );
    let pid = sup.wait_running("web", T);
    wait_for_count(&sup, "nothing is restarted", 1);
    wait_for_more_ticks(&sup, 3);
    let log = httpok_log(&sup);
    let warns = entries(&log, "WARN", "nothing is restarted");
    assert_eq!(warns.len(), 1, "{log}");
    assert!(
        warns[0].contains(&format!(
            "{url}: status 500; nothing is restarted: supervisord's process list cannot \
             be read (supervisord refused the credentials (401): set SUPERVISOR_USERNAME \
             and SUPERVISOR_PASSWORD"
        )),
        "{}",
        warns[0]
    );
    assert_eq!(entries(&log, "ERROR", "401").len(), 1, "{log}");
    assert!(!log.contains("wrong-pw"), "{log}");
    // Rounds go on (the outage is heard), and the metrics say nothing can be restarted.
    let page = http_get(metrics, "/metrics", T).expect("scrape").body;
    assert!(page.contains("\nhttpok_supervisord_up 0\n"), "{page}");
    assert!(page.contains("\nprobe_success{"), "{page}");
    assert_eq!(sup.pid("web"), Some(pid));
    assert_listener_healthy(&sup);
}

#[test]
fn recovered_is_not_logged_while_a_check_skipped_by_its_interval_still_fails() {
    let scratch = TempDir::new("interval");
    let web_mode = mode_file(&scratch, "web-mode", "error");
    let side_mode = mode_file(&scratch, "side-mode", "error");
    let (web_port, side_port) = (free_port(), free_port());
    // Both checks restart web; the second probes a page served by `side` at most
    // every 20 s, and alone would not restart web for 20 failures.
    let config = scratch.join("checks.toml");
    fs::write(
        &config,
        format!(
            "timeout = 2\n\n\
             [[check]]\nprogram = \"web\"\nurl = \"http://127.0.0.1:{web_port}/\"\n\n\
             [[check]]\nprogram = \"web\"\nurl = \"http://127.0.0.1:{side_port}/\"\n\
             interval = 20\nfailures = 20\n"
        ),
    )
    .expect("write config");
    let sup = start(vec![
        web(
            "web",
            web_port,
            &format!("mode-file:{}", web_mode.display()),
        ),
        web(
            "side",
            side_port,
            &format!("mode-file:{}", side_mode.display()),
        ),
        listener(&format!("--config {}", config.display())),
    ]);
    let pid = sup.wait_running("web", T);
    let new_pid = assert_restarted(&sup, "web", pid);
    set_mode(&web_mode, "ok");
    // Five rounds: the first check passes against the new pid in each; the second is
    // probed in one or two of them, and fails.
    wait_for_more_ticks(&sup, 5);
    let log = httpok_log(&sup);
    assert!(
        !log.contains("recovered"),
        "recovered while a check fails:\n{log}"
    );
    assert_eq!(sup.pid("web"), Some(new_pid));

    set_mode(&side_mode, "ok");
    let log = wait_for_log(
        sup.path("httpok.err.log"),
        &format!("web recovered: its checks pass against pid {new_pid}"),
        T,
    );
    let last_failure = log
        .rfind(&format!("127.0.0.1:{side_port}/: status 500"))
        .expect("the second check failed");
    assert!(log.rfind("web recovered") > Some(last_failure), "{log}");
    assert_listener_healthy(&sup);
}

#[test]
fn two_checks_failing_in_one_round_log_one_restarting_line() {
    let (web_port, api_port) = (free_port(), free_port());
    let sup = start(vec![
        web("web", web_port, "error"),
        web("api", api_port, "error"),
        listener(&format!(
            "-t 2 --check web=http://127.0.0.1:{web_port}/ \
             --check api=http://127.0.0.1:{api_port}/"
        )),
    ]);
    let (web_pid, api_pid) = (sup.wait_running("web", T), sup.wait_running("api", T));
    assert_restarted(&sup, "web", web_pid);
    assert_restarted(&sup, "api", api_pid);
    let log = httpok_log(&sup);
    let restarting: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("INFO Restarting "))
        .collect();
    assert!(
        restarting[0].ends_with("INFO Restarting selected processes ['web', 'api']"),
        "{log}"
    );
    // Once per round: never two in the same second (rounds are 5 s apart).
    let mut seconds: Vec<&str> = restarting
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let all = seconds.len();
    seconds.dedup();
    assert_eq!(seconds.len(), all, "{log}");
    assert_listener_healthy(&sup);
}
