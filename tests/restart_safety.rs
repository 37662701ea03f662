//! Restart safety: httpok restarts exactly what it was told to and nothing else. Under a
//! real supervisord: an unselected program, httpok itself, another listener named with
//! `--exclude` and a STOPPED program are never touched. Against a fake supervisord (there
//! is no way to make a real stopProcess fail on demand, see docs/reliability.md): a stop
//! that fails never leads to a start, and a process that changed since it failed is left
//! alone.
mod common;
mod fake_supervisord;

use std::time::Duration;

use common::*;
use fake_supervisord::*;

/// Ticks every 5 s, plus stopwaitsecs: be generous.
const T: Duration = Duration::from_secs(90);

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

fn listener(name: &str, args: &str) -> String {
    format!(
        "[eventlistener:{name}]\n\
         command={{httpok}} {args}\n\
         events=TICK_5\n\
         startsecs=1\n\
         stdout_logfile={{dir}}/{name}.out.log\n\
         stderr_logfile={{dir}}/{name}.err.log\n"
    )
}

fn start(sections: Vec<String>) -> Supervisor {
    let mut cfg = SupervisorConfig::new();
    for s in sections {
        cfg = cfg.program(s);
    }
    Supervisor::start(cfg)
}

/// Count of `needle` in httpok's stderr log.
fn count_in_log(sup: &Supervisor, log: &str, needle: &str) -> usize {
    read_file_lossy(sup.path(log)).matches(needle).count()
}

#[test]
fn only_the_selected_program_is_restarted() {
    let (p1, p2) = (free_port(), free_port());
    // Both apps are broken and both URLs are probed; only `front` is selected.
    let sup = start(vec![
        web("front", p1, "error"),
        web("back", p2, "error"),
        listener(
            "httpok",
            &format!("-p front -t 2 http://127.0.0.1:{p1}/ http://127.0.0.1:{p2}/"),
        ),
    ]);
    let front = sup.wait_running("front", T);
    let back = sup.wait_running("back", T);
    // Two restarts of front: two rounds in which back was also failing.
    let front2 = sup.wait_pid_change("front", front, T);
    sup.wait_pid_change("front", front2, T);
    wait_until("two restart notices", T, || {
        count_in_log(&sup, "httpok.err.log", "front restarted") >= 2
    });
    assert_eq!(
        sup.pid("back"),
        Some(back),
        "an unselected program was restarted"
    );
    let log = read_file_lossy(sup.path("httpok.err.log"));
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
    let sup = start(vec![
        web("web", port, "error"),
        web("spare", other_port, "ok").replace("startsecs=1\n", "startsecs=1\nautostart=false\n"),
        listener(
            "httpok",
            &format!("-a --exclude other -t 2 http://127.0.0.1:{port}/"),
        ),
        listener("other", &format!("-p nothing -t 2 tcp://{up}")),
    ]);
    let web_pid = sup.wait_running("web", T);
    let own = sup.wait_running("httpok", T);
    let other = sup.wait_running("other", T);
    assert_eq!(sup.state("spare"), "STOPPED");

    let web2 = sup.wait_pid_change("web", web_pid, T);
    sup.wait_pid_change("web", web2, T);
    wait_until("two restart notices", T, || {
        count_in_log(&sup, "httpok.err.log", "web restarted") >= 2
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
    let log = read_file_lossy(sup.path("httpok.err.log"));
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
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while attempts_ended(&httpok.stderr()) < tick.min(rounds)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
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
