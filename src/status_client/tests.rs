use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use super::*;
use crate::metrics::{Limits, MetricsListener};
use crate::status::TargetStatus;

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
fn an_answer_is_read_only_when_it_is_a_whole_200_with_a_snapshot() {
    let json = serde_json::to_string(&snapshot()).expect("json");
    let ok = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    );
    assert_eq!(from_answer(ok.as_bytes()), Ok(snapshot()));
    let cases = [
        ("HTTP/1.1 404 Not Found\r\n\r\nnope", "status 404"),
        ("HTTP/1.1 200 OK\r\nContent-", "ended in its head"),
        ("SSH-2.0-OpenSSH\r\n", "not HTTP"),
        ("HTTP/1.1 200 OK\r\n\r\n{\"version\":1}", "not a status"),
    ];
    for (answer, want) in cases {
        let err = from_answer(answer.as_bytes()).expect_err(answer);
        assert!(err.contains(want), "{answer:?}: {err}");
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

#[test]
fn fetch_gives_up_on_refusal_silence_and_floods_within_its_timeout() {
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let refused = StatusUrl::parse(&closed.local_addr().expect("addr").to_string()).expect("url");
    drop(closed);
    let err = fetch(&refused, TIMEOUT).expect_err("refused");
    assert!(
        err.starts_with("cannot reach httpok at 127.0.0.1:"),
        "{err}"
    );

    // Accepts and never answers; then one that answers without end.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let flood = TcpListener::bind("127.0.0.1:0").expect("bind");
    let urls = [&silent, &flood]
        .map(|l| StatusUrl::parse(&l.local_addr().expect("addr").to_string()).expect("url"));
    thread::spawn(move || {
        let _held: Vec<_> = silent.incoming().take(1).collect();
        thread::sleep(Duration::from_secs(30));
    });
    thread::spawn(move || {
        for mut conn in flood.incoming().flatten().take(1) {
            let _ = conn.read(&mut [0u8; 1024]);
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
            while conn.write_all(&[b' '; 64 * 1024]).is_ok() {}
        }
    });
    let started = Instant::now();
    let err = fetch(&urls[0], Duration::from_millis(300)).expect_err("silent");
    assert!(err.contains("no whole answer"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let err = fetch(&urls[1], TIMEOUT).expect_err("flood");
    assert!(err.contains("longer than"), "{err}");
}

#[test]
fn a_unix_endpoint_whose_backlog_is_full_is_unreachable_by_the_deadline() {
    use socket2::{Domain, SockAddr, Socket, Type};
    let dir = crate::test_dir::TestDir::new("status-backlog");
    let path = dir.join("m.sock");
    let addr = SockAddr::unix(&path).expect("path");
    let listener = Socket::new(Domain::UNIX, Type::STREAM, None).expect("socket");
    listener.bind(&addr).expect("bind");
    listener.listen(0).expect("listen");
    // Fill the backlog: connects that never get accepted.
    let mut queued = Vec::new();
    loop {
        let client = Socket::new(Domain::UNIX, Type::STREAM, None).expect("socket");
        client.set_nonblocking(true).expect("non-blocking");
        match client.connect(&addr) {
            Ok(()) => queued.push(client),
            Err(_) => break,
        }
    }
    let url = StatusUrl::parse(&format!("unix:{}", path.display())).expect("parses");
    let started = Instant::now();
    // A blocking connect here would wait for good.
    let error = fetch(&url, Duration::from_millis(500)).expect_err("unreachable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(error.contains("cannot reach httpok"), "{error}");
    assert!(error.contains("backlog is full"), "{error}");
}
