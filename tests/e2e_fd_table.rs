//! httpok with few file descriptors left, under a real supervisord (issue 16's bad-day
//! trial): a probe httpok cannot make for want of a descriptor says nothing about the
//! app, so it restarts nothing and is said once; and idle clients of `/metrics` cannot
//! take the descriptors the probes need. The limit is lowered on the running httpok
//! (`prlimit`), as an operator's `ulimit -n` or a low `minfds` would set it.
mod common;

use common::e2e::*;
use common::*;
use std::collections::HashSet;
use std::fs;
use std::time::{Duration, Instant};

/// Sets `pid`'s soft RLIMIT_NOFILE to `soft`, keeping its hard limit; returns the soft
/// limit it had.
fn set_soft_nofile(pid: u32, soft: u64) -> u64 {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let pid = libc::pid_t::try_from(pid).expect("pid fits");
    // SAFETY: reads the limit into `old`, a live local.
    let read = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) };
    assert_eq!(read, 0, "prlimit: {}", std::io::Error::last_os_error());
    let new = libc::rlimit {
        rlim_cur: soft,
        rlim_max: old.rlim_max,
    };
    // SAFETY: `new` is a live local read by the call; no old value is asked for.
    let set = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()) };
    assert_eq!(set, 0, "prlimit: {}", std::io::Error::last_os_error());
    old.rlim_cur
}

/// The lowest descriptor number `pid` has free, the least seen over `span` (a round's
/// probes hold sockets for a while; between rounds it holds only its own).
fn lowest_free_fd(pid: u32, span: Duration) -> u64 {
    let until = Instant::now() + span;
    let mut lowest = u64::MAX;
    while Instant::now() < until {
        if let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) {
            let open: HashSet<u64> = dir
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect();
            let free = (0..).find(|n| !open.contains(n)).unwrap_or(u64::MAX);
            lowest = lowest.min(free);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    lowest
}

/// Two checks on one program whose answers take 1.5 s: their probes hold a socket each
/// at the same time. With one descriptor free, one of them cannot connect. **Was**:
/// `URL: connect: Too many open files (os error 24)` counted as the app's failure, and
/// the healthy program restarted, round after round (seen in the trial on nginx, a
/// gunicorn app and a tcp server at `prlimit --nofile=9`).
#[test]
fn a_probe_httpok_has_no_descriptor_for_restarts_nothing_and_is_said_once() {
    let scratch = TempDir::new("nofds");
    let mode = scratch.join("mode");
    fs::write(&mode, "slow:1.5").expect("write mode");
    let port = free_port();
    let sup = start(vec![
        web("web", port, &format!("mode-file:{}", mode.display())),
        listener(&format!(
            "-t 4 --check web=http://127.0.0.1:{port}/a --check web=http://127.0.0.1:{port}/b"
        )),
    ]);
    let web = sup.wait_running("web", T);
    let httpok = sup.wait_running("httpok", T);
    wait_for_more_ticks(&sup, 2);
    // One descriptor free: the lowest one httpok does not hold between rounds.
    let free = lowest_free_fd(httpok, Duration::from_secs(6));
    let soft = set_soft_nofile(httpok, free + 1);

    let starved = "ERROR httpok cannot make its probes: Too many open files (os error 24)";
    wait_for_count(&sup, starved, 1);
    wait_for_more_ticks(&sup, 4);
    let log = httpok_log(&sup);
    assert_eq!(
        count(&log, starved),
        1,
        "said once over five rounds:\n{log}"
    );
    assert!(!log.contains("restarting"), "{log}");
    assert!(
        !log.contains("WARN http://"),
        "no probe counted as failing:\n{log}"
    );
    assert_eq!(
        sup.pid("web"),
        Some(web),
        "the healthy program was left alone"
    );

    // Descriptors back: said once, and a real failure is restarted again.
    set_soft_nofile(httpok, soft);
    wait_for_count(&sup, "INFO httpok can make its probes again", 1);
    fs::write(&mode, "error").expect("write mode");
    assert_restarted(&sup, "web", web);
    assert_listener_healthy(&sup);
}

/// httpok at a limit of 40 descriptors, and a local user holding 40 idle connections to
/// `/metrics`, reopening each one the endpoint closes. **Was**: the endpoint kept 32 of
/// them, httpok had no descriptor left for its probes and restarted nginx, a gunicorn
/// app and a tcp server that were healthy (the trial's `prlimit --nofile=40`). Now the
/// endpoint keeps at most a quarter of the limit (10): the probes pass, nothing is
/// restarted, and a scrape is answered all the same.
#[test]
fn idle_metrics_clients_cannot_take_the_descriptors_the_probes_need() {
    let (port, metrics) = (free_port(), free_port());
    let url = format!("http://127.0.0.1:{port}/");
    let sup = start(vec![
        web("web", port, "ok"),
        listener(&format!(
            "-t 4 --metrics-listen 127.0.0.1:{metrics} --check web={url} \
             --check web={url}a --check web={url}b --check web={url}c"
        )),
    ]);
    let web = sup.wait_running("web", T);
    let httpok = sup.wait_running("httpok", T);
    wait_for_more_ticks(&sup, 1);
    set_soft_nofile(httpok, 40);

    let clients = IdleClients::hold(metrics, 40);
    wait_for(
        "the idle clients to have opened their connections",
        T,
        || match clients.opened() {
            n if n >= 40 => Ok(()),
            n => Err(format!("{n} opened")),
        },
    );
    let rounds_before = ticks_handled(&sup);
    wait_for_more_ticks(&sup, 4);
    let page = http_get(metrics, "/metrics", Duration::from_secs(2))
        .expect("a scrape beside 40 idle clients")
        .body;
    let held = Holdings::of(&httpok.to_string()).expect("httpok runs").fds;
    drop(clients);

    let log = httpok_log(&sup);
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(!log.contains("restarting"), "{log}");
    assert_eq!(
        sup.pid("web"),
        Some(web),
        "the healthy program was left alone"
    );
    assert!(
        page.lines()
            .any(|l| l.starts_with("probe_success{")
                && l.ends_with(&format!("target=\"{url}\"}} 1"))),
        "{page}"
    );
    assert!(
        held <= 30,
        "httpok held {held} descriptors at a limit of 40"
    );
    assert!(ticks_handled(&sup) >= rounds_before + 4);
    assert_listener_healthy(&sup);
}
