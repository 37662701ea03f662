//! The concurrent round and the failure reasons.

use super::testing::settings;
use super::*;
use crate::planner::plan::TargetId;
use std::io::{Read, Write};
use std::net::TcpListener;

#[test]
fn a_rounds_probes_run_at_once() {
    // A server that answers nobody until all 40 probes are connected: probed one after
    // another, the first would wait for the 40th until its timeout and all would fail.
    const PROBES: usize = 40;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let target =
        Target::parse(&format!("http://{}/", listener.local_addr().expect("addr"))).expect("url");
    thread::spawn(move || {
        let connected: Vec<_> = listener.incoming().take(PROBES).flatten().collect();
        for mut conn in connected {
            let _ = conn.read(&mut [0u8; 1024]);
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let settings = settings(10_000);
    let prober =
        Prober::new(&[(CheckId(0), &settings, std::slice::from_ref(&target))]).expect("prober");
    let request = ProbeRequest {
        target: TargetId {
            check: CheckId(0),
            index: 0,
        },
        read_cert: false,
    };
    let requests: Vec<ProbeRequest> = std::iter::repeat_n(request, PROBES).collect();
    let outcomes = prober.probe_all(&requests);
    assert_eq!(outcomes.len(), PROBES);
    for (_, outcome) in &outcomes {
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    }
}

#[test]
fn failures_read_as_plain_reasons() {
    assert_eq!(Failure::Status(500).to_string(), "status 500");
    assert_eq!(
        Failure::Timeout(Duration::from_secs(2)).to_string(),
        "timeout after 2.0s"
    );
    assert_eq!(
        Failure::BodyMissing("x".into()).to_string(),
        "body missing \"x\""
    );
    assert_eq!(Failure::Refused.subject(), "connection refused");
    assert_eq!(Failure::Status(404).subject(), "bad status returned");
}

#[test]
fn probe_settings_stay_small_per_check() {
    // A config of 1000 checks holds three copies of every check's settings; an inline
    // DFA in each `Option<Pattern>` once made that 12 KiB a check (docs/benchmarks.md).
    let size = std::mem::size_of::<ProbeSettings>();
    assert!(size <= 512, "ProbeSettings is {size} bytes");
}
