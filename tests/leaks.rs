//! Leaks: httpok as a listener (the test writes its TICKs, a real supervisord answers
//! its XML-RPC) over many rounds against hostile targets, its threads, fds and
//! processes counted from /proc. The issue this guards against: a check on an
//! `http+unix://` app whose accept backlog is full cost one thread and one fd per
//! round, until httpok hit its fd limit and went silent for good.
mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::fake_supervisord::Listener;
use common::*;

/// The probes' -t.
const PROBE_TIMEOUT: &str = "0.5";
/// A round's probes all end by -t; the rest is slack for a loaded machine.
const ROUND_LIMIT: Duration = Duration::from_secs(20);
const WARM_UP: usize = 3;
const ROUNDS: usize = 30;

/// An exec check that ignores SIGTERM and leaves a child of its own (same marker in
/// its command line) behind: only SIGKILL to its whole process group ends both.
const STUBBORN: &str =
    "#!/bin/sh\ntrap '' TERM\n(while :; do sleep 1; done) &\nwhile :; do sleep 1; done\n";

#[test]
fn rounds_against_hostile_targets_keep_threads_fds_and_processes_flat_and_say_each_failure() {
    let dir = TempDir::new("leak");
    let full = FullBacklogSocket::bind(&dir.path().join("app.sock"));
    let silent = SilentPeer::start();
    let dribbler = Dribbler::start(b"HTTP/1.1 200 OK\r\n", Duration::from_millis(200));
    let stubborn = dir.path().join("stubborn.sh");
    fs::write(&stubborn, STUBBORN).expect("write the exec check");
    fs::set_permissions(&stubborn, fs::Permissions::from_mode(0o755)).expect("chmod");
    let marker = format!("leak-marker-{}", std::process::id());

    let sup = start([web("web", free_port(), "ok")]);
    // Judged from the first round: a STARTING web would not count its checks' failures.
    sup.wait_running("web", Duration::from_secs(30));
    let unix_url = format!(
        "http+unix://{}/health",
        full.path().display().to_string().replace('/', "%2F")
    );
    let silent_url = format!("http://{}/", silent.addr());
    let dribbler_url = format!("http://{}/", dribbler.addr());
    let silent_tcp = format!("tcp://{}", silent.addr());
    let exec = format!("exec:{} {marker}", stubborn.display());
    // Checks on web with a threshold never reached restart nothing and say every
    // failing round (`failing N/100000`), so each round's failure is in the log.
    let config = dir.path().join("checks.toml");
    let checks = format!(
        "timeout = {PROBE_TIMEOUT}\nfailures = 100000\n\
         [[check]]\nprogram = \"web\"\nurl = \"{unix_url}\"\n\
         [[check]]\nprogram = \"web\"\nurl = \"{silent_url}\"\n\
         [[check]]\nprogram = \"web\"\nurl = \"{silent_tcp}\"\nsend = \"PING\\r\\n\"\nexpect = '^\\+PONG'\n\
         [[check]]\nprogram = \"web\"\nurl = \"{dribbler_url}\"\n\
         [[check]]\nprogram = \"web\"\nexec = [\"{}\", \"{marker}\"]\n",
        stubborn.display()
    );
    fs::write(&config, checks).expect("write the config");
    let mut httpok = Listener::start(
        dir.path(),
        &["--config", &config.display().to_string()],
        &[("SUPERVISOR_SERVER_URL", sup.server_url())],
    );
    let pid = httpok.pid().to_string();

    for _ in 0..WARM_UP {
        httpok.tick(ROUND_LIMIT);
    }
    let before = Holdings::of(&pid).expect("httpok runs");
    let mut slowest = Duration::ZERO;
    for _ in 0..ROUNDS {
        slowest = slowest.max(httpok.tick(ROUND_LIMIT));
    }
    // Every round's probes (worker threads, sockets, the exec check's processes) are
    // gone by the time the round is acknowledged; a short poll for a slow /proc.
    let after = poll(Duration::from_secs(5), || {
        let now = Holdings::of(&pid).ok_or("httpok exited")?;
        if now.threads == before.threads && now.fds == before.fds {
            Ok(now)
        } else {
            Err(format!("{now:?}"))
        }
    })
    .unwrap_or_else(|now| panic!("after {ROUNDS} rounds httpok holds {now}, it held {before:?}"));
    eprintln!("slowest round {slowest:?}; before {before:?}, after {after:?}");
    assert!(
        after.rss_kib < before.rss_kib + 2048,
        "RSS grew: {before:?} -> {after:?}"
    );
    assert_eq!(zombie_children(httpok.pid()), Vec::<u32>::new(), "zombies");
    wait_until(
        "the exec checks' processes to be gone",
        Duration::from_secs(5),
        || processes_with_arg(&marker).is_empty(),
    );

    let log = httpok.stderr();
    for url in [&unix_url, &silent_url, &silent_tcp, &dribbler_url, &exec] {
        let failures = log
            .lines()
            .filter(|l| l.contains(" WARN ") && l.contains(url.as_str()) && l.contains("timeout"))
            .count();
        assert_eq!(
            failures,
            WARM_UP + ROUNDS,
            "one WARN per round for {url}:\n{}",
            tail(&log, 20)
        );
    }
    httpok.close(Duration::from_secs(30));
}
