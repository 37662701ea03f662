use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};

use super::*;
use crate::metrics::event_loop::victim;
use crate::metrics::exchange::Phase;
use crate::planner::status::CheckStatus;
use crate::test_rig::TempDir;

fn snapshot() -> Arc<Mutex<Snapshot>> {
    Arc::new(Mutex::new(Snapshot {
        version: "1.2.3".into(),
        rounds_total: 7,
        ..Snapshot::default()
    }))
}

fn limits(connections: usize, timeout_ms: u64) -> Limits {
    Limits {
        connections,
        timeout: Duration::from_millis(timeout_ms),
        rebind_every: Duration::from_millis(100),
    }
}

/// A server on 127.0.0.1 and a port the kernel chose.
fn serve(limits: Limits, status: Arc<Mutex<Snapshot>>) -> SocketAddr {
    let listener =
        MetricsListener::bind(&ListenAddr::Tcp(([127, 0, 0, 1], 0).into()), limits).expect("bind");
    let Ok(ListenAddr::Tcp(addr)) = listener.local_addr() else {
        panic!("not a tcp address")
    };
    listener.serve(status).expect("serve");
    addr
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

/// Sends `request` and reads the whole answer.
fn exchange(mut s: impl Read + Write, request: &[u8]) -> String {
    s.write_all(request).expect("send");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("read the answer");
    String::from_utf8_lossy(&answer).into_owned()
}

fn get(addr: SocketAddr, path: &str) -> String {
    exchange(
        connect(addr),
        format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes(),
    )
}

/// Whether `s` is still open: the server has neither closed it nor sent anything.
fn still_open(s: &TcpStream) -> bool {
    s.set_nonblocking(true).expect("non-blocking");
    let open = matches!(s.peek(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    s.set_nonblocking(false).expect("blocking");
    open
}

/// Whether the server closed `s` (end of stream or reset) within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).expect("timeout");
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
    }
}

#[test]
fn both_pages_are_served_from_the_snapshot() {
    let addr = serve(Limits::default(), snapshot());
    let metrics = get(addr, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
    assert!(
        metrics.contains("\r\nContent-Type: text/plain; version=0.0.4"),
        "{metrics}"
    );
    assert!(metrics.contains("\nhttpok_rounds_total 7\n"), "{metrics}");
    let status = get(addr, "/status");
    let (_, json) = status.split_once("\r\n\r\n").expect("a head and a body");
    let back: Snapshot = serde_json::from_str(json).expect("JSON of a Snapshot");
    assert_eq!(back.rounds_total, 7);
    assert_eq!(back.version, "1.2.3");
    assert!(get(addr, "/").starts_with("HTTP/1.1 404 Not Found\r\n"));
}

#[test]
fn an_oversized_head_gets_431_and_the_server_answers_after() {
    let addr = serve(Limits::default(), snapshot());
    let mut head = b"GET /metrics HTTP/1.1\r\nX-Pad: ".to_vec();
    head.resize(64 * 1024, b'a');
    let answer = exchange(connect(addr), &head);
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:?}");
    assert!(get(addr, "/metrics").starts_with("HTTP/1.1 200 OK"));
}

#[test]
fn a_silent_client_is_kept_until_the_timeout_and_does_not_hold_the_snapshot() {
    // A timeout far longer than the test: a silent client is not dropped before it.
    let status = snapshot();
    let addr = serve(limits(4, 600_000), Arc::clone(&status));
    let silent = connect(addr);
    // While it waits, the watcher can update the snapshot and others are served.
    assert!(status.try_lock().is_ok(), "the snapshot is locked");
    let page = get(addr, "/metrics");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page:?}");
    assert!(
        still_open(&silent),
        "a silent client was dropped before its timeout"
    );
}

#[test]
fn a_silent_client_is_dropped_at_the_timeout() {
    // Nothing else ends it: the close is the timeout's (connect's 10 s read timeout
    // only keeps the test from waiting for good).
    let addr = serve(limits(4, 300), snapshot());
    let mut silent = connect(addr);
    let mut rest = Vec::new();
    let read = silent.read_to_end(&mut rest);
    assert!(matches!(read, Ok(0)), "{read:?} {rest:?}");
}

#[test]
fn sixteen_idle_connections_do_not_delay_a_scrape() {
    // The attack: eight idle connections reopened every 5 s made 0 of 73
    // scrapes succeed when four workers each waited 5 s on one. Here they would be
    // held for ten minutes: each scrape is answered while all of them still are.
    let limits = Limits {
        timeout: Duration::from_secs(600),
        ..Limits::default()
    };
    let addr = serve(limits, snapshot());
    let idle: Vec<TcpStream> = (0..16).map(|_| connect(addr)).collect();
    for _ in 0..5 {
        let page = get(addr, "/metrics");
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page:?}");
        assert!(
            idle.iter().all(still_open),
            "an idle connection was dropped"
        );
    }
}

#[test]
fn when_the_table_is_full_a_new_connection_closes_the_oldest_idle_one() {
    let addr = serve(limits(4, 10_000), snapshot());
    let mut idle: Vec<TcpStream> = (0..4).map(|_| connect(addr)).collect();
    // Let the server take all four before the fifth comes.
    thread::sleep(Duration::from_millis(200));
    let page = get(addr, "/metrics");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page:?}");
    assert!(
        closed_within(&mut idle[0], Duration::from_secs(2)),
        "the oldest idle connection is still open"
    );
    // The younger ones were kept: they are still answered.
    let answer = exchange(&mut idle[3], b"GET /status HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer:?}");
}

/// A snapshot whose /status page is far larger than the socket buffers on both ends
/// (up to 4 MiB to send and 6 MiB to receive on Linux loopback), so its writer stalls
/// on a reader that reads nothing; and the page's size.
fn huge_status() -> (Arc<Mutex<Snapshot>>, usize) {
    let status = snapshot();
    let checks = (0..80_000).map(|i| CheckStatus {
        check: format!("http://127.0.0.1:{i}/a-long-path-to-make-the-page-larger"),
        program: format!("program-{i}"),
        ..CheckStatus::default()
    });
    status.lock().expect("lock").checks.extend(checks);
    let whole = {
        let snapshot = status.lock().expect("lock").clone();
        crate::metrics::answer(crate::metrics::http::Route::Status, &snapshot)
            .to_bytes()
            .len()
    };
    assert!(whole > 16 << 20, "a page of {whole} bytes");
    (status, whole)
}

/// Asks for /status and reads the first byte of the answer, then nothing more.
fn stalled_status(addr: SocketAddr) -> TcpStream {
    let mut stalled = connect(addr);
    stalled
        .write_all(b"GET /status HTTP/1.0\r\n\r\n")
        .expect("send");
    // Its answer is made and being written: one byte of it has come.
    stalled
        .read_exact(&mut [0u8; 1])
        .expect("the answer begins");
    stalled
}

#[test]
fn a_client_that_never_reads_its_answer_holds_up_no_one() {
    // Its answer would be written for ten minutes: others are answered meanwhile (a
    // 404: no page of this size to render) within `connect`'s 10 s read timeout.
    let (status, _) = huge_status();
    let addr = serve(limits(8, 600_000), status);
    let stalled = stalled_status(addr);
    let answer = get(addr, "/nothing");
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer:?}");
    drop(stalled);
}

#[test]
fn an_answer_nobody_reads_is_cut_at_the_write_deadline() {
    let (status, whole) = huge_status();
    let addr = serve(limits(8, 1_000), status);
    let mut stalled = stalled_status(addr);
    // Read nothing until the deadline is over, then all there is: never all of it.
    thread::sleep(Duration::from_millis(1_500));
    let mut rest = Vec::new();
    let _ = stalled.read_to_end(&mut rest);
    assert!(
        rest.len() + 1 < whole,
        "{} of {whole} bytes",
        rest.len() + 1
    );
}

#[test]
fn a_client_dribbling_its_head_is_cut_at_the_deadline() {
    // One byte every 50 ms of a head that never ends, for up to 30 s: only the server
    // closing the connection makes a write fail.
    let addr = serve(limits(4, 500), snapshot());
    let mut slow = connect(addr);
    let head = b"GET /metrics HTTP/1.1\r\nX-Slow: "
        .iter()
        .chain(std::iter::repeat(&b'a'));
    let cut = head.take(600).any(|byte| {
        let failed = slow.write_all(&[*byte]).is_err();
        thread::sleep(Duration::from_millis(50));
        failed
    });
    assert!(cut, "the server read a dribbling head for 30 s");
    assert!(closed_within(&mut slow, Duration::from_secs(2)));
}

#[test]
fn answered_connections_go_first_then_the_oldest_idle_one_then_the_oldest_writer() {
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    let head = || Phase::Head(Vec::new());
    let answer = || Phase::Answer {
        bytes: Vec::new(),
        sent: 0,
    };
    let table = [
        (answer(), at(0)),
        (head(), at(5)),
        (head(), at(3)),
        (Phase::Drain { seen: 0 }, at(9)),
    ];
    assert_eq!(victim(table.iter().map(|(p, a)| (p, *a))), Some(3));
    assert_eq!(victim(table[..3].iter().map(|(p, a)| (p, *a))), Some(2));
    assert_eq!(victim(table[..1].iter().map(|(p, a)| (p, *a))), Some(0));
    assert_eq!(victim(std::iter::empty()), None);
}

#[test]
fn a_unix_socket_serves_and_a_stale_socket_file_is_replaced() {
    let dir = TempDir::new("unix");
    let path = dir.join("m.sock");
    // Left behind by a killed httpok: bound once, never accepted on again.
    drop(UnixListener::bind(&path).expect("bind the stale one"));
    assert!(path.exists());
    let addr = ListenAddr::Unix(path.clone());
    let listener = MetricsListener::bind(&addr, Limits::default()).expect("rebind");
    assert_eq!(listener.local_addr().expect("addr"), addr);
    listener.serve(snapshot()).expect("serve");
    let s = UnixStream::connect(&path).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let answer = exchange(s, b"GET /metrics HTTP/1.0\r\n\r\n");
    assert!(answer.contains("\nhttpok_rounds_total 7\n"), "{answer}");
    // A live one is in use, and a file that is not a socket is never removed.
    let again = MetricsListener::bind(&addr, Limits::default()).expect_err("in use");
    assert_eq!(again.kind(), io::ErrorKind::AddrInUse);
    let file = dir.join("data");
    fs::write(&file, "keep me").expect("write");
    assert!(MetricsListener::bind(&ListenAddr::Unix(file.clone()), Limits::default()).is_err());
    assert_eq!(fs::read_to_string(&file).expect("read"), "keep me");
}

#[test]
fn a_taken_port_is_tried_again_until_it_is_free_and_then_served() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let Ok(addr) = taken.local_addr() else {
        panic!("no address")
    };
    let endpoint = Endpoint::start(&ListenAddr::Tcp(addr), snapshot(), limits(4, 1_000))
        .expect("start despite the taken port");
    thread::sleep(Duration::from_millis(300));
    drop(taken);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = TcpStream::connect(addr) {
            let answer = exchange(s, b"GET /metrics HTTP/1.0\r\n\r\n");
            if answer.contains("\nhttpok_rounds_total 7\n") {
                break;
            }
        }
        assert!(Instant::now() < deadline, "never served");
        thread::sleep(Duration::from_millis(50));
    }
    endpoint.close();
}

#[test]
fn close_removes_the_socket_file_made_and_nothing_else() {
    let dir = TempDir::new("close");
    let path = dir.join("m.sock");
    let addr = ListenAddr::Unix(path.clone());
    let endpoint = Endpoint::start(&addr, snapshot(), limits(4, 1_000)).expect("start");
    let deadline = Instant::now() + Duration::from_secs(10);
    // Served: the thread has noted the file.
    while UnixStream::connect(&path)
        .map(|s| exchange(s, b"GET /metrics HTTP/1.0\r\n\r\n"))
        .is_err()
    {
        assert!(Instant::now() < deadline, "never served");
        thread::sleep(Duration::from_millis(20));
    }
    endpoint.close();
    assert!(!path.exists(), "the socket file is still there");
    endpoint.close();

    // A file put at the path after httpok's is not httpok's to remove.
    let endpoint = Endpoint::start(&addr, snapshot(), limits(4, 1_000)).expect("start");
    fs::remove_file(&path).expect("remove httpok's");
    let other = UnixListener::bind(&path).expect("someone else's");
    let ino = fs::metadata(&path).expect("stat").ino();
    endpoint.close();
    assert_eq!(fs::metadata(&path).expect("still there").ino(), ino);
    drop(other);
}

#[test]
fn an_endpoint_closed_while_it_waits_for_its_address_never_binds_it() {
    let dir = TempDir::new("closed");
    let path = dir.join("m.sock");
    let live = UnixListener::bind(&path).expect("someone else's live socket");
    let ino = fs::metadata(&path).expect("stat").ino();
    let endpoint = Endpoint::start(
        &ListenAddr::Unix(path.clone()),
        snapshot(),
        limits(4, 1_000),
    )
    .expect("start");
    endpoint.close();
    // Now stale: a retry would replace it; a closed endpoint does not.
    drop(live);
    thread::sleep(Duration::from_millis(400));
    assert_eq!(fs::metadata(&path).expect("still there").ino(), ino);
    let refused = UnixStream::connect(&path).expect_err("nobody listens");
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
}
