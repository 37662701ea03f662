//! The concurrent round and the failure reasons.

use super::testing::settings;
use super::*;
use crate::plan::TargetId;
use std::net::TcpListener;

#[test]
fn many_hanging_targets_take_about_one_timeout_together() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let target =
        Target::parse(&format!("http://{}/", listener.local_addr().expect("addr"))).expect("url");
    let settings = settings(500);
    let prober =
        Prober::new(&[(CheckId(0), &settings, std::slice::from_ref(&target))]).expect("prober");
    let request = ProbeRequest {
        target: TargetId {
            check: CheckId(0),
            index: 0,
        },
        read_cert: false,
    };
    let requests: Vec<ProbeRequest> = std::iter::repeat_n(request, 40).collect();
    let started = Instant::now();
    let outcomes = prober.probe_all(&requests);
    assert_eq!(outcomes.len(), 40);
    assert!(
        outcomes
            .iter()
            .all(|(_, o)| matches!(o.result, Err(Failure::Timeout(_))))
    );
    // Serial probing would take 20 s; concurrent takes one timeout plus overhead.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
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
