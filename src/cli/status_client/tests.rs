use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use super::*;
use crate::metrics::{Limits, MetricsListener};
use crate::planner::status::TargetStatus;
use crate::test_rig::hostile::{FullBacklogSocket, SilentPeer, refused_addr};

#[test]
fn status_urls_are_the_metrics_address_with_or_without_http() {
    let tcp = |ip: [u8; 4]| ListenAddr::Tcp((ip, 9117).into());
    for text in [
        "http://127.0.0.1:9117",
        "http://127.0.0.1:9117/",
        "http://127.0.0.1:9117/status",
        "127.0.0.1:9117",
    ] {
        assert_eq!(
            StatusUrl::parse(text).map(|u| u.addrs),
            Ok(vec![tcp([127, 0, 0, 1])])
        );
    }
    let local = StatusUrl::parse("http://localhost:9117").expect("parses");
    assert_eq!(local.addrs[0], tcp([127, 0, 0, 1]));
    assert_eq!(local.addrs[1].to_string(), "[::1]:9117");
    let unix = StatusUrl::parse("unix:/run/httpok.sock").expect("parses");
    assert_eq!(
        unix.addrs,
        vec![ListenAddr::Unix("/run/httpok.sock".into())]
    );
    assert_eq!(unix.to_string(), "unix:/run/httpok.sock");
    for bad in [
        "https://127.0.0.1:9117",
        "http://example.test:9117",
        "http://localhost",
        "http://127.0.0.1:9117/metrics",
        "unix:relative.sock",
        "",
    ] {
        let err = StatusUrl::parse(bad).expect_err(bad);
        assert!(err.contains("http://127.0.0.1:9117"), "{bad:?}: {err}");
    }
}

fn check(name: &str, program: &str, healthy: Option<bool>) -> CheckStatus {
    CheckStatus {
        check: name.into(),
        program: program.into(),
        healthy,
        reason: (healthy == Some(false)).then(|| "status 500".into()),
        consecutive_failures: u32::from(healthy == Some(false)) * 2,
        targets: vec![TargetStatus {
            target: name.into(),
            success: healthy,
            duration_seconds: 0.0126,
            http_status: 200,
            cert_expiry: None,
            ..TargetStatus::default()
        }],
    }
}

fn program(name: &str, state: &str, restarts: u32) -> ProgramStatus {
    ProgramStatus {
        program: name.into(),
        state: state.into(),
        restarts_in_window: restarts,
        ..ProgramStatus::default()
    }
}

fn snapshot() -> Snapshot {
    Snapshot {
        format: 1,
        version: "1.0.0".into(),
        rounds_total: 12,
        last_round_seconds: 0.031,
        last_round_timestamp_seconds: 1_900_000_000.0,
        supervisord_up: Some(true),
        checks: vec![
            check("http://127.0.0.1:8080/", "web", Some(true)),
            CheckStatus {
                reason: Some("tcp://127.0.0.1:9000: status 500".into()),
                ..check("tcp://127.0.0.1:9000", "api:*,gone", Some(false))
            },
            check("http://127.0.0.1:7000/", "", None),
        ],
        programs: vec![
            program("web", "watching", 0),
            program("api:api_0", "restarting", 1),
            program("api:api_1", "watching", 0),
        ],
    }
}

#[test]
fn the_table_has_a_row_per_check_and_program_with_state_result_and_counts() {
    let table = table(&snapshot());
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        table.lines().next(),
        Some("httpok 1.0.0: 12 round(s), the last took 31 ms")
    );
    let want: &[&[&str]] = &[
        &[
            "CHECK", "PROGRAM", "STATE", "RESULT", "LATENCY", "FAILURES", "RESTARTS",
        ],
        &[
            "http://127.0.0.1:8080/",
            "web",
            "watching",
            "ok",
            "13 ms",
            "0",
            "0",
        ],
        &[
            "tcp://127.0.0.1:9000",
            "api:api_0",
            "restarting",
            "failing: status 500",
            "13 ms",
            "2",
            "1",
        ],
        &[
            "tcp://127.0.0.1:9000",
            "api:api_1",
            "watching",
            "failing: status 500",
            "13 ms",
            "2",
            "0",
        ],
        &[
            "tcp://127.0.0.1:9000",
            "gone",
            "-",
            "failing: status 500",
            "13 ms",
            "2",
            "-",
        ],
        &[
            "http://127.0.0.1:7000/",
            "-",
            "-",
            "not probed yet",
            "-",
            "0",
            "-",
        ],
    ];
    assert_eq!(lines[1..], *want, "{table}");
}

#[test]
fn a_check_of_every_program_lists_each_once() {
    let mut snap = snapshot();
    snap.checks = vec![check("http://x/", "*", Some(true))];
    let table = table(&snap);
    assert_eq!(table.lines().count(), 2 + 3, "{table}");
    assert_eq!(table.matches("api:api_0").count(), 1, "{table}");
}

#[test]
fn an_answer_is_read_only_when_it_is_a_200_with_a_snapshot() {
    let json = serde_json::to_string(&snapshot()).expect("json");
    assert_eq!(from_answer(200, json.as_bytes()), Ok(snapshot()));
    let cases = [
        (404, "nope", "status 404"),
        (200, "{\"version\":1}", "not a status"),
        (200, "", "not a status"),
    ];
    for (status, body, want) in cases {
        let err = from_answer(status, body.as_bytes()).expect_err(body);
        assert!(err.contains(want), "{status} {body:?}: {err}");
    }
}

#[test]
fn fetch_reads_the_snapshot_a_metrics_endpoint_serves() {
    let addr = ListenAddr::Tcp(([127, 0, 0, 1], 0).into());
    let listener = MetricsListener::bind(&addr, Limits::default()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener
        .serve(Arc::new(Mutex::new(snapshot())))
        .expect("serve");
    let url = StatusUrl::parse(&format!("http://{addr}")).expect("parses");
    assert_eq!(fetch(&url, TIMEOUT), Ok(snapshot()));
}

/// Serves `reply` to the first connection to a fresh port, after reading its request;
/// the URL of it.
fn answering(reply: impl FnOnce(TcpStream) + Send + 'static) -> StatusUrl {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = StatusUrl::parse(&listener.local_addr().expect("addr").to_string()).expect("url");
    thread::spawn(move || {
        if let Some(mut conn) = listener.incoming().flatten().next() {
            let _ = conn.read(&mut [0u8; 1024]);
            reply(conn);
        }
    });
    url
}

#[test]
fn fetch_gives_up_on_refusal_silence_floods_and_what_is_not_http() {
    let refused = StatusUrl::parse(&refused_addr()).expect("url");
    let err = fetch(&refused, TIMEOUT).expect_err("refused");
    assert!(
        err.starts_with("cannot reach httpok at 127.0.0.2:") && err.contains("refused"),
        "{err}"
    );

    // Connected by the kernel, never read or answered: only the deadline ends the
    // exchange, and says so.
    let silent = SilentPeer::start();
    let silent_url = StatusUrl::parse(&silent.addr().to_string()).expect("url");
    let err = fetch(&silent_url, Duration::from_millis(300)).expect_err("silent");
    assert!(err.contains("no whole answer"), "{err}");
    assert!(err.ends_with("timed out after 0.3s"), "{err}");

    // Answers without end: cut at the limit.
    let flood = answering(|mut conn| {
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
        while conn.write_all(&[b' '; 64 * 1024]).is_ok() {}
    });
    let err = fetch(&flood, TIMEOUT).expect_err("flood");
    assert!(
        err.contains(&format!("longer than {MAX_ANSWER} bytes")),
        "{err}"
    );

    let ssh = answering(|mut conn| {
        let _ = conn.write_all(b"SSH-2.0-OpenSSH_9.6\r\n");
    });
    let err = fetch(&ssh, TIMEOUT).expect_err("ssh");
    assert!(
        err.contains("did not answer as httpok does: not HTTP"),
        "{err}"
    );

    let not_found = answering(|mut conn| {
        let _ = conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope");
    });
    let err = fetch(&not_found, TIMEOUT).expect_err("404");
    assert!(
        err.ends_with("did not answer as httpok does: status 404 to GET /status"),
        "{err}"
    );
}

#[test]
fn a_unix_endpoint_whose_backlog_is_full_is_unreachable_by_the_deadline() {
    let dir = crate::test_rig::TempDir::new("status-backlog");
    let full = FullBacklogSocket::bind(&dir.join("m.sock"));
    let path = full.path();
    let url = StatusUrl::parse(&format!("unix:{}", path.display())).expect("parses");
    // A blocking connect here would wait for good; this one gives up at the deadline.
    let error = fetch(&url, Duration::from_millis(500)).expect_err("unreachable");
    assert!(error.contains("cannot reach httpok"), "{error}");
    assert!(
        error.contains("no connection within 0.5s: the socket's accept backlog is full"),
        "{error}"
    );
}
