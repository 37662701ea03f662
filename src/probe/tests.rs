//! The concurrent round and the failure reasons.

use super::testing::settings;
use super::*;
use crate::planner::plan::TargetId;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

/// A prober of one check with one target, and the request that probes it.
fn one_target_prober(settings: &ProbeSettings, target: &Target) -> (Prober, ProbeRequest) {
    let prober =
        Prober::new(&[(CheckId(0), settings, std::slice::from_ref(target))]).expect("prober");
    let request = ProbeRequest {
        target: TargetId {
            check: CheckId(0),
            index: 0,
        },
        read_cert: false,
    };
    (prober, request)
}

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
    let (prober, request) = one_target_prober(&settings, &target);
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

#[test]
fn a_hung_probe_gives_up_at_its_timeout_and_its_duration_says_so() {
    use crate::test_rig::TempDir;
    use crate::test_rig::hostile::{FullBacklogSocket, FullBacklogTcp, SilentPeer};
    // Generous bounds, not the benchmark's 50 ms (docs/benchmarks.md): each gives up no
    // sooner than its timeout and well before the next second.
    const TIMEOUT: Duration = Duration::from_millis(400);
    let dir = TempDir::new("hung");
    let silent = SilentPeer::start();
    let no_connect = FullBacklogTcp::start();
    let full_socket = FullBacklogSocket::bind(&dir.join("full.sock"));
    let socket_url = format!(
        "http+unix://{}/health",
        percent_encoding::utf8_percent_encode(
            &full_socket.path().to_string_lossy(),
            percent_encoding::NON_ALPHANUMERIC
        )
    );
    let cases = [
        (
            "accepts and never answers (http)",
            format!("http://{}/", silent.addr()),
        ),
        (
            "accepts and never answers (tcp)",
            format!("tcp://{}", silent.addr()),
        ),
        (
            "a connect that never completes",
            format!("http://{}/", no_connect.addr()),
        ),
        ("a unix socket with a full backlog", socket_url),
    ];
    for (what, url) in cases {
        let target = Target::parse(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
        let mut settings = settings(TIMEOUT.as_millis() as u64);
        if let Target::Tcp { .. } = target {
            settings.send = Some(b"PING\r\n".to_vec());
            settings.expect = Some(Pattern::new("PONG").expect("pattern"));
        }
        let prober = CheckProber::new(settings, &[&target]).expect("prober");
        let started = Instant::now();
        let outcome = prober.probe(&target);
        let took = started.elapsed();
        assert_eq!(outcome.result, Err(Failure::Timeout(TIMEOUT)), "{what}");
        assert!(
            outcome.latency >= TIMEOUT && outcome.latency < TIMEOUT + Duration::from_secs(1),
            "{what}: its duration reads {:?}",
            outcome.latency
        );
        assert!(
            outcome.latency <= took,
            "{what}: {:?} > {took:?}",
            outcome.latency
        );
    }
}

#[test]
fn hanging_probes_beyond_the_base_pool_wait_out_their_timeout_together() {
    use crate::test_rig::hostile::SilentPeer;
    // Three times the pool's base of hanging probes: with the base alone they would
    // wait in three waves (3 s); the pool grows so that they wait together.
    const TIMEOUT_MS: u64 = 1000;
    let silent = SilentPeer::start();
    let target = Target::parse(&format!("http://{}/", silent.addr())).expect("url");
    let settings = settings(TIMEOUT_MS);
    let (prober, request) = one_target_prober(&settings, &target);
    let requests: Vec<ProbeRequest> = std::iter::repeat_n(request, 192).collect();
    let started = Instant::now();
    let outcomes = prober.probe_all(&requests);
    let took = started.elapsed();
    assert_eq!(outcomes.len(), requests.len());
    for (_, outcome) in &outcomes {
        assert_eq!(outcome.result, Err(Failure::Timeout(settings.timeout)));
    }
    assert!(
        took < Duration::from_millis(2500),
        "192 hanging probes took {took:?}"
    );
}
