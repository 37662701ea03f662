//! The per-program lifecycle (issue 9) under a real supervisord: verified outcomes,
//! one restart per program, rolling restarts, quiet down/FATAL programs, grace, and a
//! shutdown that never leaves a program stopped. Each test asserts what supervisord did
//! (pids, states, its own log) and what httpok wrote to its stderr.
mod common;

use common::e2e::*;
use common::fake_supervisord::{Listener, epoch};
use common::*;
use std::time::Duration;

/// The listener with a longer stopwaitsecs than any watched program, as the docs say.
fn patient_listener(args: &str) -> Section {
    listener(args).set("stopwaitsecs", "30")
}

/// A sendmail stand-in in the test dir that keeps each mail.
fn sendmail(sup: &Supervisor) -> Recorder {
    Recorder::new(sup.dir(), "sendmail")
}

/// The flags that mail ops@example.test through `mail`.
fn mail_flags(mail: &Recorder) -> String {
    format!("-m ops@example.test -s {}", mail.command())
}

/// Waits until web answers on `port` (a slow machine can take seconds to start
/// python), so that httpok added now sees it healthy first; returns its pid.
pub fn answering(sup: &Supervisor, port: u16) -> u32 {
    let pid = sup.wait_running("web", T);
    wait_until("web answers", T, || {
        http_get(port, "/", Duration::from_secs(2)).is_ok()
    });
    pid
}

/// How many of httpok's log entries (lines with a timestamp and level) hold `needle`.
fn entries(log: &str, needle: &str) -> usize {
    log.lines()
        .filter(|l| {
            l.split(' ')
                .nth(1)
                .is_some_and(|lvl| ["INFO", "WARN", "ERROR"].contains(&lvl))
        })
        .filter(|l| l.contains(needle))
        .count()
}

/// supervisord's own log.
fn supervisord_log(sup: &Supervisor) -> String {
    read_file_lossy(sup.log_path())
}

/// Kills the pids on drop: processes a test leaves outside supervisord's reach.
struct Orphans(Vec<u32>);

impl Drop for Orphans {
    fn drop(&mut self) {
        for pid in &self.0 {
            send_signal(*pid, "KILL");
        }
    }
}

/// The pids webapp.py logged at startup in a program's stderr log.
fn webapp_pids(sup: &Supervisor, name: &str) -> Vec<u32> {
    read_file_lossy(sup.path(&format!("{name}.err.log")))
        .lines()
        .filter_map(|l| {
            l.split_once(" starting")?
                .0
                .strip_prefix("webapp[")?
                .split_once(']')
        })
        .filter_map(|(pid, _)| pid.parse().ok())
        .collect()
}

#[test]
fn a_start_that_ends_fatal_is_an_error_with_one_mail_and_never_recovered() {
    let port = free_port();
    // A shell wrapper without exec and no stopasgroup: the stop kills sh, the old
    // webapp keeps the port, and every new one dies binding it: FATAL, as in the field.
    // startsecs=5: even on a loaded machine the new webapp fails to bind well within it,
    // so supervisord never calls it RUNNING; `wait $!` passes its exit status on.
    let command =
        format!("/bin/sh -c '{{python}} {{webapp}} --port {port} --mode error & wait $!'");
    let sup = start([Section::program("web", command)
        .set("startsecs", "5")
        .set("startretries", "1")]);
    let pid = sup.wait_running("web", T);
    let mail = sendmail(&sup);
    add_listener(
        &sup,
        patient_listener(&format!(
            "-p web -t 2 {} http://127.0.0.1:{port}/",
            mail_flags(&mail)
        )),
    );
    let _orphans = Orphans(webapp_pids(&sup, "web"));
    sup.wait_state("web", "FATAL", T * 2);
    let log = wait_for_log(sup.path("httpok.err.log"), "Failed to start process web", T);
    let line = log
        .lines()
        .find(|l| l.contains("Failed to start process web"))
        .unwrap_or_default();
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("FATAL"), "supervisord's reason: {line}");
    assert!(
        line.contains("stopasgroup=true and killasgroup=true"),
        "{line}"
    );
    // Two more ticks: nothing new, no "restarted", no "recovered", one mail.
    wait_for_more_ticks(&sup, 2);
    let log = httpok_log(&sup);
    assert!(!log.contains("web restarted"), "{log}");
    assert!(!log.contains("recovered"), "{log}");
    assert_eq!(entries(&log, "Failed to start process web"), 1, "{log}");
    assert_eq!(entries(&log, "is in RUNNING state, restarting"), 1, "{log}");
    wait_until("the mail was sent", T, || !mail.calls().is_empty());
    let all = mail.calls();
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(
        all[0].contains("Failed to start process web: FATAL"),
        "{}",
        all[0]
    );
    assert_ne!(sup.pid("web"), Some(pid));
    assert_listener_healthy(&sup);
}

/// The operator stops web while httpok's restart brings it up (STARTING: startsecs=5
/// keeps it there). **Was**: `ERROR Failed to start process web: STOPPED: ...` with the
/// stopasgroup hint and a start-failed notice, though nothing failed. Now one INFO line
/// that says who stopped it, the mail of the restart, and web left STOPPED.
#[test]
fn a_program_stopped_by_the_operator_while_it_starts_is_not_a_failed_start() {
    let port = free_port();
    let sup = start([web("web", port, "ok")
        .set("startsecs", "5")
        .set("stopwaitsecs", "3")]);
    let pid = answering(&sup, port);
    let mail = sendmail(&sup);
    add_listener(
        &sup,
        patient_listener(&format!(
            "-p web -t 1 {} http://127.0.0.1:{port}/",
            mail_flags(&mail)
        )),
    );
    sup.freeze(pid);
    wait_for("web STARTING again after httpok's stop", T, || {
        match sup.status("web") {
            (state, _) if state == "STARTING" => Ok(()),
            (state, new) => Err(format!("{state} {new:?}")),
        }
    });
    let (code, out) = sup.ctl(&["stop", "web"]);
    assert_eq!(code, 0, "{out}");
    let line = "INFO web: stopped by someone else while it started (STOPPED: ";
    wait_for_count(&sup, line, 1);
    wait_for_more_ticks(&sup, 2);
    let log = httpok_log(&sup);
    assert!(!log.contains("Failed to start process"), "{log}");
    assert!(!log.contains("web restarted"), "{log}");
    assert_eq!(entries(&log, "stopped by someone else"), 1, "{log}");
    assert_eq!(sup.state("web"), "STOPPED");
    wait_until("the restart was mailed", T, || !mail.calls().is_empty());
    assert!(
        mail.calls()[0].contains("web: stopped by someone else while it started"),
        "{:?}",
        mail.calls()
    );
    assert_listener_healthy(&sup);
}

#[test]
fn stopping_httpok_during_a_restart_leaves_the_program_running() {
    let port = free_port();
    let sup = start([web("web", port, "ok").set("stopwaitsecs", "6")]);
    let pid = answering(&sup, port);
    add_listener(
        &sup,
        patient_listener(&format!("-p web -t 1 http://127.0.0.1:{port}/")),
    );
    // Frozen: the stop takes the full stopwaitsecs before supervisord's SIGKILL.
    sup.freeze(pid);
    wait_for_log(
        sup.path("httpok.err.log"),
        "web is in RUNNING state, restarting",
        T,
    );
    let (code, out) = sup.ctl(&["stop", "httpok"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(sup.state("httpok"), "STOPPED");
    let new_pid = sup.wait_pid_change("web", pid, T);
    sup.wait_state("web", "RUNNING", T);
    assert_ne!(new_pid, pid);
    let log = httpok_log(&sup);
    assert!(log.contains("received SIGTERM"), "{log}");
    assert!(
        log.contains("restarts under way have issued their starts"),
        "{log}"
    );
}

#[test]
fn a_fatal_watched_program_gives_one_line_one_warn_and_at_most_one_mail() {
    let port = free_port();
    let sup = start([Section::program("web", "/bin/false")
        .set("startretries", "0")
        .set("autorestart", "false")]);
    sup.wait_state("web", "FATAL", T);
    let mail = sendmail(&sup);
    add_listener(
        &sup,
        listener(&format!(
            "-p web -t 1 {} http://127.0.0.1:{port}/",
            mail_flags(&mail)
        )),
    );
    wait_for_more_ticks(&sup, 6);
    let log = httpok_log(&sup);
    assert_eq!(
        entries(&log, "web not in RUNNING state, NOT restarting"),
        1,
        "{log}"
    );
    // Its URL fails and nothing restarts it: said once, not per tick, and not mailed
    // again.
    assert_eq!(entries(&log, "WARN"), 1, "nothing per tick: {log}");
    assert_eq!(
        entries(
            &log,
            "connection refused; nothing is restarted: web is FATAL"
        ),
        1,
        "{log}"
    );
    assert_eq!(mail.calls().len(), 1);
    assert_listener_healthy(&sup);
}

#[test]
fn two_failing_checks_on_one_program_give_one_stop_and_one_start() {
    let port = free_port();
    let sup = start([web("web", port, "error")]);
    let pid = sup.wait_running("web", T);
    add_listener(
        &sup,
        listener(&format!(
            "-t 2 --check web=http://127.0.0.1:{port}/a --check web=http://127.0.0.1:{port}/b"
        )),
    );
    assert_restarted(&sup, "web", pid);
    let log = httpok_log(&sup);
    assert_eq!(
        entries(&log, "web is in RUNNING state, restarting"),
        1,
        "{log}"
    );
    assert_eq!(entries(&log, "web restarted"), 1, "{log}");
    let sv = supervisord_log(&sup);
    assert_eq!(count(&sv, "stopped: web"), 1, "{sv}");
    assert_eq!(
        count(&sv, "spawned: 'web'"),
        2,
        "the first start and one restart: {sv}"
    );
}

#[test]
fn a_healthy_sibling_check_does_not_defeat_max_restarts() {
    let port = free_port();
    let sup = start([web("web", port, "error")]);
    let pid = sup.wait_running("web", T);
    // tcp connects (the port is open), http answers 500: the program is failing.
    add_listener(
        &sup,
        listener(&format!(
            "-t 2 --max-restarts 1 --restart-window 600 --check web=tcp://127.0.0.1:{port} \
             --check web=http://127.0.0.1:{port}/"
        )),
    );
    assert_restarted(&sup, "web", pid);
    wait_for_log(sup.path("httpok.err.log"), "giving up on web", T);
    wait_for_more_ticks(&sup, 3);
    let log = httpok_log(&sup);
    assert_eq!(entries(&log, "web restarted"), 1, "{log}");
    assert_eq!(entries(&log, "giving up on web"), 1, "{log}");
    assert_eq!(count(&supervisord_log(&sup), "spawned: 'web'"), 2);
}

#[test]
fn a_group_of_three_never_has_two_processes_down_at_once() {
    let failing = StatusServer::start(500);
    let sup = start([
        app("w", "--unix {dir}/w%(process_num)s.sock --mode ok")
            .set("numprocs", "3")
            .set("process_name", "%(program_name)s_%(process_num)s"),
        listener(&format!(
            "-t 2 --check 'w:*=http://127.0.0.1:{}/'",
            failing.port()
        )),
    ]);
    for n in 0..3 {
        sup.wait_running(&format!("w:w_{n}"), T);
    }
    let log = wait_for_count(&sup, "restarted", 3);
    failing.set_status(200);
    assert!(
        log.contains("Restarting selected processes ['w:*']"),
        "{log}"
    );
    // In supervisord's own order of events: each stop is followed by that process
    // entering RUNNING before the next process is stopped.
    let sv = supervisord_log(&sup);
    let mut down: Option<String> = None;
    let mut restarted = 0;
    for line in sv.lines() {
        if let Some(rest) = line.split("stopped: ").nth(1) {
            let name = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            assert!(
                down.is_none(),
                "{name} stopped while {down:?} was down:\n{sv}"
            );
            down = Some(name);
        } else if let Some(rest) = line.split("success: ").nth(1) {
            let name = rest.split_whitespace().next().unwrap_or_default();
            if down.as_deref() == Some(name) {
                down = None;
                restarted += 1;
            }
        }
    }
    assert!(restarted >= 3, "{sv}");
}

#[test]
fn a_slow_starter_inside_grace_gives_no_notice_and_no_mail() {
    let port = free_port();
    let sup = start([web("web", port, "slowstart:12")]);
    let mail = sendmail(&sup);
    let pid = sup.wait_running("web", T);
    add_listener(
        &sup,
        listener(&format!(
            "-p web -t 1 --grace 30 {} http://127.0.0.1:{port}/",
            mail_flags(&mail)
        )),
    );
    wait_for_more_ticks(&sup, 3);
    let log = httpok_log(&sup);
    assert_eq!(entries(&log, "WARN"), 0, "{log}");
    assert_eq!(entries(&log, "grace"), 0, "{log}");
    assert!(mail.calls().is_empty());
    assert_eq!(sup.pid("web"), Some(pid), "not restarted");
}

#[test]
fn ticks_after_a_backward_when_still_probe() {
    // The real binary on a pipe, talking to a real supervisord: its ticks are ours.
    let counter = StatusServer::start(200);
    let sup = start([]);
    let url = format!("http://127.0.0.1:{}/", counter.port());
    let mut httpok = Listener::start(
        sup.dir(),
        &["-t", "2", &url],
        &[("SUPERVISOR_SERVER_URL", sup.server_url())],
    );
    for (i, when) in [1_000_000, 996_400, 996_405].into_iter().enumerate() {
        httpok.tick_at(when, T);
        wait_until("probed once more", T, || counter.requests() > i);
    }
    assert_eq!(counter.requests(), 3, "every tick probed once");
    assert!(httpok.close(T).success());
}

#[test]
fn ticks_after_a_when_at_the_limits_of_i64_still_probe() {
    // A hostile supervisord's `when:-9223372036854775808` overflowed the tick clock:
    // the debug build panicked, the release build skipped every later tick for good.
    let counter = StatusServer::start(200);
    let sup = start([]);
    let url = format!("http://127.0.0.1:{}/", counter.port());
    let mut httpok = Listener::start(
        sup.dir(),
        &["-t", "2", &url],
        &[("SUPERVISOR_SERVER_URL", sup.server_url())],
    );
    let now = i64::try_from(epoch()).expect("epoch fits");
    let whens = [
        i64::MIN.to_string(),
        now.to_string(),
        (now + 5).to_string(),
        i64::MAX.to_string(),
        (now + 10).to_string(),
        i64::MIN.to_string(),
        (now + 15).to_string(),
    ];
    for (i, when) in whens.iter().enumerate() {
        httpok.tick_saying(&format!("when:{when}"), T);
        wait_until("probed once more", T, || counter.requests() > i);
    }
    assert_eq!(counter.requests(), whens.len(), "every tick probed once");
    assert!(!httpok.stderr().contains("panicked"), "{}", httpok.stderr());
    assert!(httpok.close(T).success());
}

#[test]
fn a_hook_that_forks_is_killed_with_its_children_at_the_timeout() {
    let port = free_port();
    let sup = start([web("web", port, "error")]);
    let pid = sup.wait_running("web", T);
    let hook = sup.path("hook.sh");
    let pids = sup.path("hook.pids");
    write_script(
        &hook,
        &format!(
            "echo $$ > {p}.tmp\nsleep 30 &\necho $! >> {p}.tmp\nmv {p}.tmp {p}\nsleep 30",
            p = pids.display()
        ),
    );
    add_listener(
        &sup,
        listener(&format!(
            "-p web -t 1 --on-restart {} http://127.0.0.1:{port}/",
            hook.display()
        )),
    );
    assert_restarted(&sup, "web", pid);
    wait_until("the hook wrote its pids", T, || pids.exists());
    let hook_pids: Vec<u32> = read_file_lossy(&pids)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(hook_pids.len(), 2, "the hook and its background sleep");
    let _orphans = Orphans(hook_pids.clone());
    wait_until(
        "the hook and its child are gone",
        Duration::from_secs(15),
        || hook_pids.iter().all(|pid| process_gone(*pid)),
    );
    wait_for_log(sup.path("httpok.err.log"), "--on-restart for web", T);
}

#[test]
fn a_listener_stopwaitsecs_too_short_for_its_programs_is_warned_about_at_start() {
    let port = free_port();
    let sup = start([
        web("web", port, "ok").set("stopwaitsecs", "15"),
        listener(&format!("-p web -t 1 http://127.0.0.1:{port}/")),
    ]);
    sup.wait_running("httpok", T);
    let log = wait_for_log(sup.path("httpok.err.log"), "stopwaitsecs", T);
    assert!(
        log.contains("WARN httpok's stopwaitsecs (10) is not above web's (15)"),
        "{log}"
    );
    assert!(
        log.contains("stopwaitsecs=25 in [eventlistener:httpok]"),
        "{log}"
    );
}
