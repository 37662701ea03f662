use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;

use super::*;

fn snapshot() -> Arc<Mutex<Snapshot>> {
    Arc::new(Mutex::new(Snapshot {
        version: "1.2.3".into(),
        rounds_total: 7,
        ..Snapshot::default()
    }))
}

fn limits(workers: usize, queue: usize, timeout_ms: u64) -> Limits {
    Limits {
        workers,
        queue,
        timeout: Duration::from_millis(timeout_ms),
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
fn a_silent_client_is_dropped_after_the_timeout_and_does_not_hold_the_snapshot() {
    let status = snapshot();
    let addr = serve(limits(2, 1, 300), Arc::clone(&status));
    let mut silent = connect(addr);
    let started = Instant::now();
    // While it waits, the watcher can update the snapshot and others are served.
    assert!(status.try_lock().is_ok(), "the snapshot is locked");
    let page = get(addr, "/metrics");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page:?}");
    let mut rest = Vec::new();
    let read = silent.read_to_end(&mut rest);
    assert!(matches!(read, Ok(0)), "{read:?} {rest:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250),
        "closed after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
}

#[test]
fn when_every_worker_and_queue_slot_is_taken_the_next_client_gets_503_at_once() {
    let addr = serve(limits(1, 1, 1000), snapshot());
    // One silent client on the worker, one in the queue (wait until each is taken).
    let _first = connect(addr);
    let _second = connect(addr);
    let busy = || {
        let started = Instant::now();
        let answer = get(addr, "/metrics");
        (answer.starts_with("HTTP/1.1 503 "), started.elapsed())
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    let (mut refused, mut took) = busy();
    while !refused && Instant::now() < deadline {
        (refused, took) = busy();
    }
    assert!(refused, "never refused while full");
    assert!(took < Duration::from_millis(500), "503 took {took:?}");
    // Once the silent ones time out, pages are served again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !get(addr, "/metrics").starts_with("HTTP/1.1 200 OK") {
        assert!(Instant::now() < deadline, "never served again");
        thread::sleep(Duration::from_millis(50));
    }
}

/// A fresh dir under /tmp (short, for socket paths), removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("httpok-m-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_unix_socket_serves_and_a_stale_socket_file_is_replaced() {
    let dir = TempDir::new("unix");
    let path = dir.0.join("m.sock");
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
    let file = dir.0.join("data");
    fs::write(&file, "keep me").expect("write");
    assert!(MetricsListener::bind(&ListenAddr::Unix(file.clone()), Limits::default()).is_err());
    assert_eq!(fs::read_to_string(&file).expect("read"), "keep me");
}
