//! httpok on its own clock and `--stop-grace`, under a real supervisord (issue 18):
//! rounds every second between TICK_60s with `--interval 1` (and none without it); a
//! frozen pre-forking app killed as a group after its stop grace, sooner than its
//! stopwaitsecs; a program httpok may not signal warned about once and restarted all
//! the same at supervisord's stopwaitsecs; a reload during the grace ending httpok's
//! restart at once, not in a false failed stop. Against the fake supervisord: a TICK
//! answered at once, and stdin's EOF ending httpok promptly, while a round on httpok's
//! clock hangs on its probe.

mod common;

use std::time::{Duration, Instant};

use common::e2e::*;
use common::fake_supervisord::{FakeProcess, FakeSupervisord, Listener, Mode};
use common::*;

/// The pre-forking app (a parent and 4 workers) on `port`, run by the system's python3
/// (a user other than root cannot read the project's virtualenv), stopped and killed
/// as a group.
fn prefork(port: u16, stopwaitsecs: u32) -> Section {
    let script = test_app("prefork.py");
    Section::program(
        "web",
        format!("/usr/bin/python3 {} --port {port}", script.display()),
    )
    .set("stopasgroup", "true")
    .set("killasgroup", "true")
    .set("stopwaitsecs", stopwaitsecs.to_string())
}

/// A frozen process group, thawed and killed on drop whatever the test saw.
struct Frozen(Vec<u32>, u32);

impl Frozen {
    /// SIGSTOPs the whole group of `pgid` once its parent and 4 workers are up.
    #[track_caller]
    fn group(pgid: u32) -> Frozen {
        let members = wait_for("the parent and its 4 workers", T, || {
            let members = process_group(pgid);
            if members.len() == 5 {
                Ok(members)
            } else {
                Err(format!("{members:?}"))
            }
        });
        assert!(signal_group(pgid, "STOP"), "kill -STOP -- -{pgid}");
        Frozen(members, pgid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal_group(self.1, "CONT");
        for &pid in &self.0 {
            if !process_gone(pid) {
                send_signal(pid, "KILL");
            }
        }
    }
}

#[track_caller]
fn answering(sup: &Supervisor, port: u16) -> u32 {
    let pid = sup.wait_running("web", T);
    wait_until("web answers", T, || {
        http_get(port, "/", Duration::from_secs(2)).is_ok_and(|r| r.status == 200)
    });
    pid
}

/// Events the listener `name` has answered (supervisord's debug log).
fn answered(sup: &Supervisor, name: &str) -> usize {
    count(
        &read_file_lossy(sup.log_path()),
        &format!("{name}: BUSY -> ACKNOWLEDGED"),
    )
}

#[test]
fn interval_1_probes_about_every_second_under_tick_60_and_without_it_only_on_ticks() {
    let fast = StatusServer::start(200);
    let plain = StatusServer::start(200);
    let port = free_port();
    let sup = start([web("web", port, "ok")]);
    answering(&sup, port);
    sup.add(
        Section::listener(
            "plain",
            &format!("-p web -t 1 http://127.0.0.1:{}/", plain.port()),
        )
        .set("events", "TICK_60"),
    );
    add_listener(
        &sup,
        listener(&format!(
            "-p web --interval 1 -t 1 http://127.0.0.1:{}/",
            fast.port()
        ))
        .set("events", "TICK_60"),
    );
    wait_until("httpok's first round on its own clock", T, || {
        fast.requests() >= 1
    });
    let (before, since) = (fast.requests(), Instant::now());
    wait_until("5 more probes", T, || fast.requests() >= before + 5);
    let took = since.elapsed();
    // About a second apart: 5 in 4 s at the least (no burst), at most 12 s.
    assert!(
        took >= Duration::from_millis(3500) && took <= Duration::from_secs(12),
        "5 probes took {took:?}"
    );
    // The listener without --interval: one round per TICK_60 it answered, none between.
    let (probes, ticks) = (plain.requests(), answered(&sup, "plain"));
    assert!(probes <= ticks, "{probes} probes for {ticks} ticks");
    let log = read_file_lossy(sup.path("plain.err.log"));
    assert!(!log.contains("panicked"), "{log}");
    assert_listener_healthy(&sup);
    // The clock thread does not hold up a stop: well within stopwaitsecs (10 s).
    let since = Instant::now();
    let (code, out) = sup.ctl(&["stop", "httpok"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        since.elapsed() < Duration::from_secs(5),
        "{:?}",
        since.elapsed()
    );
    assert!(httpok_log(&sup).contains("received SIGTERM"));
}

#[test]
fn stop_grace_kills_a_frozen_prefork_group_sooner_than_stopwaitsecs() {
    let port = free_port();
    let stopwaitsecs = 30;
    let sup = start([prefork(port, stopwaitsecs)]);
    let pid = answering(&sup, port);
    add_listener(
        &sup,
        listener(&format!(
            "-p web --interval 1 -t 1 --stop-grace 1 http://127.0.0.1:{port}/"
        ))
        .set("stopwaitsecs", "60"),
    );
    let frozen = Frozen::group(pid);
    let since = Instant::now();
    let new_pid = sup.wait_pid_change("web", pid, T);
    sup.wait_state("web", "RUNNING", T);
    let took = since.elapsed();
    assert_ne!(new_pid, pid);
    assert!(
        took < Duration::from_secs(stopwaitsecs.into()),
        "restarted {took:?} after the freeze"
    );
    let log = wait_for_log(
        sup.path("httpok.err.log"),
        &format!("killed web (pid {pid}) after 1s of stopping: it did not answer"),
        T,
    );
    let left: Vec<u32> = frozen
        .0
        .iter()
        .copied()
        .filter(|&p| !process_gone(p))
        .collect();
    assert!(
        left.is_empty(),
        "the old group's {left:?} still alive\n{log}"
    );
    assert!(process_group(pid).is_empty(), "{:?}", process_group(pid));
    answering(&sup, port);
    assert_listener_healthy(&sup);
}

#[test]
fn a_program_httpok_may_not_signal_is_warned_about_once_and_still_restarted() {
    let port = free_port();
    // httpok runs as daemon, the app as nobody: a kill from httpok is EPERM.
    let sup = Supervisor::start(
        SupervisorConfig::new()
            .inet()
            .sections([prefork(port, 3).set("user", "nobody")]),
    );
    let mut pid = answering(&sup, port);
    add_listener(
        &sup,
        listener(&format!(
            "-p web --interval 1 -t 1 --stop-grace 1 http://127.0.0.1:{port}/"
        ))
        .set("user", "daemon")
        .set("stopwaitsecs", "30"),
    );
    for restart in 1..=2 {
        let frozen = Frozen::group(pid);
        let new_pid = sup.wait_pid_change("web", pid, T);
        sup.wait_state("web", "RUNNING", T);
        wait_for_count(&sup, "web restarted", restart);
        let log = httpok_log(&sup);
        assert_eq!(
            count(
                &log,
                &format!("WARN cannot kill web (pid {pid}) after 1s of stopping")
            ),
            usize::from(restart == 1),
            "restart {restart}:\n{log}"
        );
        assert!(!log.contains("killed web"), "{log}");
        drop(frozen);
        pid = new_pid;
        answering(&sup, port);
    }
    assert_eq!(count(&httpok_log(&sup), "cannot kill web"), 1);
    assert_listener_healthy(&sup);
}

#[test]
fn a_tick_is_answered_at_once_and_eof_ends_httpok_while_a_clock_round_hangs() {
    let dir = TempDir::new("clock");
    let web = vec![FakeProcess::running("web", 4242)];
    let fake = FakeSupervisord::tcp(free_port(), Mode::Healthy, web);
    let silent = SilentPeer::start();
    let url = format!("http://{}/", silent.addr());
    let mut httpok = Listener::start(
        dir.path(),
        &["-p", "web", "--interval", "1", "-t", "30", &url],
        &[("SUPERVISOR_SERVER_URL", fake.url())],
    );
    // The clock's first round reads the list, then waits -t (30 s) on the silent peer.
    fake.wait_for_call("supervisor.getAllProcessInfo", T);
    let took = httpok.tick(T);
    assert!(
        took < Duration::from_secs(2),
        "a TICK answered after {took:?}"
    );
    let since = Instant::now();
    let status = httpok.close(T);
    assert!(status.success(), "{status}");
    assert!(
        since.elapsed() < Duration::from_secs(5),
        "httpok exited {:?} after EOF",
        since.elapsed()
    );
}

#[test]
fn a_reload_during_the_stop_grace_ends_the_restart_at_once_without_a_false_failed_stop() {
    let port = free_port();
    // The grace outlasts supervisord's own SIGKILL (stopwaitsecs 6): only the reload
    // can end httpok's wait. supervisord answers SHUTDOWN_STATE meanwhile; taking that
    // for an unreachable supervisord held the reload up 30 s and ended in
    // "Failed to stop process web" though supervisord had stopped it.
    let sup = start([prefork(port, 6)]);
    let pid = answering(&sup, port);
    add_listener(
        &sup,
        listener(&format!(
            "-p web --interval 1 -t 1 --stop-grace 20 http://127.0.0.1:{port}/"
        ))
        .set("stopwaitsecs", "60"),
    );
    let _frozen = Frozen::group(pid);
    wait_for_log(
        sup.path("httpok.err.log"),
        "web is in RUNNING state, restarting",
        T,
    );
    let (_, out) = sup.ctl(&["reload"]);
    assert!(out.contains("Restarted supervisord"), "{out}");
    let log = wait_for_log(
        sup.path("httpok.err.log"),
        "web: supervisord is shutting down or reloading; it starts its autostart programs itself",
        T,
    );
    sup.wait_pid_change("web", pid, T);
    answering(&sup, port);
    let log = read_file_lossy(sup.path("httpok.err.log")) + &log;
    assert!(!log.contains("Failed to stop"), "{log}");
    assert!(!log.contains("killed web"), "{log}");
}
