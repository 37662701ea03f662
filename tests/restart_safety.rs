//! Restart safety: httpok restarts exactly what it was told to and nothing else. Under a
//! real supervisord: an unselected program, httpok itself, another listener named with
//! `--exclude` and a STOPPED program are never touched. Against a fake supervisord (there
//! is no way to make a real stopProcess fail on demand, see docs/reliability.md): a stop
//! that fails never leads to a start, and a process that changed since it failed is left
//! alone.
mod common;

use std::time::Duration;

use common::e2e::{count, httpok_log};
use common::fake_supervisord::*;
use common::*;

/// Ticks every 5 s, plus stopwaitsecs: be generous.
const T: Duration = Duration::from_secs(90);

#[test]
fn only_the_selected_program_is_restarted() {
    let (p1, p2) = (free_port(), free_port());
    // Both apps are broken and both URLs are probed; only `front` is selected.
    let sup = start([
        web("front", p1, "error"),
        web("back", p2, "error"),
        listener(&format!(
            "-p front -t 2 http://127.0.0.1:{p1}/ http://127.0.0.1:{p2}/"
        )),
    ]);
    let front = sup.wait_running("front", T);
    let back = sup.wait_running("back", T);
    // Two restarts of front: two rounds in which back was also failing.
    let front2 = sup.wait_pid_change("front", front, T);
    sup.wait_pid_change("front", front2, T);
    wait_until("two restart notices", T, || {
        count(&httpok_log(&sup), "front restarted") >= 2
    });
    assert_eq!(
        sup.pid("back"),
        Some(back),
        "an unselected program was restarted"
    );
    let log = httpok_log(&sup);
    assert!(!log.contains("back is in RUNNING state"), "{log}");
    assert!(!log.contains("back restarted"), "{log}");
}

#[test]
fn any_spares_itself_excluded_listeners_and_stopped_programs() {
    let port = free_port();
    let other_port = free_port();
    // What the other listener probes: always up, so it never restarts anything itself.
    let always_up = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let up = always_up.local_addr().expect("addr");
    let sup = start([
        web("web", port, "error"),
        web("spare", other_port, "ok").set("autostart", "false"),
        listener(&format!("-a --exclude other -t 2 http://127.0.0.1:{port}/")),
        Section::listener("other", &format!("-p nothing -t 2 tcp://{up}")),
    ]);
    let web_pid = sup.wait_running("web", T);
    let own = sup.wait_running("httpok", T);
    let other = sup.wait_running("other", T);
    assert_eq!(sup.state("spare"), "STOPPED");

    let web2 = sup.wait_pid_change("web", web_pid, T);
    sup.wait_pid_change("web", web2, T);
    wait_until("two restart notices", T, || {
        count(&httpok_log(&sup), "web restarted") >= 2
    });
    assert_eq!(sup.pid("httpok"), Some(own), "httpok restarted itself");
    assert_eq!(
        sup.pid("other"),
        Some(other),
        "the excluded listener was restarted"
    );
    assert_eq!(
        sup.state("spare"),
        "STOPPED",
        "a STOPPED program was started"
    );
    let log = httpok_log(&sup);
    assert!(log.contains("Restarting all running processes"), "{log}");
    for name in ["httpok", "other", "spare"] {
        assert!(
            !log.contains(&format!("{name} is in RUNNING state")),
            "{log}"
        );
        assert!(!log.contains(&format!("{name} restarted")), "{log}");
    }
}

/// Runs httpok against a fake supervisord whose `web` (pid 4242) fails its probe, for
/// `rounds` ticks; returns the calls the fake saw and httpok's stderr.
fn rounds_against(fake: &FakeSupervisord, rounds: usize) -> (Vec<String>, String) {
    let dir = TempDir::new("safe");
    let probe = format!("http://127.0.0.1:{}/", free_port());
    let mut httpok = Listener::start(
        dir.path(),
        &["-p", "web", "-t", "1", &probe],
        &[("SUPERVISOR_SERVER_URL", fake.url())],
    );
    let attempts_ended = |log: &str| {
        [
            "Failed to stop process web",
            "NOT restarting",
            "web restarted",
        ]
        .iter()
        .map(|end| log.matches(end).count())
        .sum::<usize>()
    };
    // One tick per attempt; a tick that finds the last attempt still winding down is
    // skipped by httpok ("still being restarted"), so tick again until enough ended.
    for tick in 1.. {
        assert!(
            tick <= 4 * rounds,
            "{rounds} attempts did not end:\n{}",
            httpok.stderr()
        );
        httpok.tick(Duration::from_secs(30));
        // Not a failure if this attempt is still going: the next tick looks again.
        let _ = poll(Duration::from_secs(10), || {
            match attempts_ended(&httpok.stderr()) {
                ended if ended >= tick.min(rounds) => Ok(()),
                ended => Err(format!("{ended} ended")),
            }
        });
        if attempts_ended(&httpok.stderr()) >= rounds {
            break;
        }
    }
    let stderr = httpok.stderr();
    assert!(httpok.close(T).success());
    (fake.calls(), stderr)
}

#[test]
fn a_stop_that_fails_never_starts_a_second_copy() {
    let fake = FakeSupervisord::tcp(0, Mode::Healthy, vec![FakeProcess::running("web", 4242)]);
    fake.lock().stop_fault = Some((30, "FAILED: unknown problem killing web (4242)".into()));
    let (calls, stderr) = rounds_against(&fake, 2);
    let stops = calls
        .iter()
        .filter(|c| c.as_str() == "supervisor.stopProcess web")
        .count();
    assert!(stops >= 2, "{calls:?}");
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("supervisor.startProcess")),
        "started after a failed stop: {calls:?}"
    );
    assert!(
        stderr.contains("Failed to stop process web: FAILED: unknown problem killing web"),
        "{stderr}"
    );
    assert!(!stderr.contains("web restarted"), "{stderr}");
}

#[test]
fn a_process_that_changed_since_it_failed_is_left_alone() {
    // The list says pid 4242 failed; by the time httpok re-reads it, it is pid 4343
    // (restarted by someone else): that fresh instance must not be killed.
    let fake = FakeSupervisord::tcp(0, Mode::Healthy, vec![FakeProcess::running("web", 4242)]);
    fake.lock().process_info_pid = Some(4343);
    let (calls, stderr) = rounds_against(&fake, 1);
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("supervisor.stopProcess")
                || c.starts_with("supervisor.startProcess")),
        "{calls:?}"
    );
    assert!(stderr.contains("changed since it failed"), "{stderr}");
}

#[test]
fn a_program_restarted_during_its_core_dump_keeps_its_new_instance() {
    let sup = start([]);
    let mode = sup.path("mode");
    std::fs::write(&mode, "error").expect("mode file");
    // A gcore that takes its time (a real one takes up to a minute on a big heap).
    let dumping = sup.path("gcore.started");
    let gcore = sup.path("slow-gcore.sh");
    write_script(
        &gcore,
        &format!(
            "touch '{}'\nsleep 10\necho \"Saved corefile $1.$2\"",
            dumping.display()
        ),
    );
    let cores = sup.path("cores");
    std::fs::create_dir(&cores).expect("mkdir");
    let port = free_port();
    sup.add(web("web", port, &format!("mode-file:{}", mode.display())));
    let pid = sup.wait_running("web", T);
    common::e2e::add_listener(
        &sup,
        listener(&format!(
            "-p web -t 2 -g {} -d {} http://127.0.0.1:{port}/",
            gcore.display(),
            cores.display()
        )),
    );
    wait_until("gcore started", T, || dumping.exists());
    // Meanwhile the operator fixes it and restarts it by hand.
    std::fs::write(&mode, "ok").expect("mode file");
    let (code, out) = sup.ctl(&["restart", "web"]);
    assert_eq!(code, 0, "{out}");
    let fresh = sup.wait_pid_change("web", pid, T);
    wait_for_log(
        sup.path("httpok.err.log"),
        &format!(
            "INFO web changed while its core was dumped (pid {pid}, now RUNNING pid {fresh}), \
             NOT restarting"
        ),
        T,
    );
    common::e2e::wait_for_more_ticks(&sup, 2);
    assert_eq!(sup.pid("web"), Some(fresh), "the fresh instance was killed");
    let log = httpok_log(&sup);
    assert!(
        log.contains("gcore output for web: Saved corefile"),
        "{log}"
    );
    assert!(
        !log.contains("web is in RUNNING state, restarting"),
        "{log}"
    );
    assert!(!log.contains("web restarted"), "{log}");
    common::e2e::assert_listener_healthy(&sup);
}
