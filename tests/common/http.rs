//! HTTP on both ends for tests: a tiny client for asking an app whether it answers
//! ([`http_get`], [`http_get_unix`]), and the servers probes are pointed at: a
//! [`StatusServer`] for a fixed (or switchable) status, and [`serve_each`] and
//! [`read_head`] to build the odd ones (a trickle, a huge body) from. And a client that
//! only holds connections open ([`IdleClients`]).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

// ---------------------------------------------------------------- the client

/// A parsed HTTP response: status code and body (lossy UTF-8).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
}

fn http_exchange<S: Read + Write>(mut s: S, host: &str, path: &str) -> io::Result<HttpResponse> {
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    s.flush()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad response: {text:?}"),
            )
        })?;
    Ok(HttpResponse {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

/// `GET path` on 127.0.0.1:port over HTTP/1.0; `timeout` bounds connect,
/// each read and each write (a hung server gives a TimedOut/WouldBlock error).
pub fn http_get(port: u16, path: &str, timeout: Duration) -> io::Result<HttpResponse> {
    let addr = ([127, 0, 0, 1], port).into();
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let r = http_exchange(&s, &format!("127.0.0.1:{port}"), path);
    let _ = s.shutdown(Shutdown::Both);
    r
}

/// `GET path` over the unix socket at `sock`.
pub fn http_get_unix(
    sock: impl AsRef<Path>,
    path: &str,
    timeout: Duration,
) -> io::Result<HttpResponse> {
    let s = UnixStream::connect(sock)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    http_exchange(&s, "localhost", path)
}

// ---------------------------------------------------------------- servers

/// Reads one request head, up to its blank line; false if the peer hung up (or the
/// read failed) first, as a `tcp://` probe does.
pub fn read_head(stream: &mut impl Read) -> bool {
    read_head_text(stream).is_some()
}

/// Reads one request head, up to its blank line, and returns it (lossy UTF-8); None
/// if the peer hung up (or the read failed) first.
pub fn read_head_text(stream: &mut impl Read) -> Option<String> {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&seen).into_owned())
}

/// Reads one request, its head and as many bytes of body as its Content-Length says
/// (lossy UTF-8), from a TCP or unix stream; None if the peer hung up first.
pub fn read_request(stream: &mut impl Read) -> Option<(String, String)> {
    let head = read_head_text(stream)?;
    let length = header_values(&head, "Content-Length")
        .first()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if length > 16 << 20 {
        return None;
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some((head, String::from_utf8_lossy(&body).into_owned()))
}

/// The values of every `name` header in a request head (name matched in any case).
pub fn header_values(head: &str, name: &str) -> Vec<String> {
    head.lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

/// Serves every connection to `listener` with `reply`, each on its own thread (so a
/// slow client holds up no other), for as long as the test process lives.
pub fn serve_each(listener: TcpListener, reply: impl Fn(TcpStream) + Send + Sync + 'static) {
    let reply = Arc::new(reply);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let reply = Arc::clone(&reply);
            thread::spawn(move || reply(stream));
        }
    });
}

/// Answers every request with `HTTP/1.0 STATUS` and the body "OK", and counts and
/// keeps them (a connection that sends no request, such as a `tcp://` probe's, is not
/// counted). The status can be switched while it runs; it serves as long as the test
/// process.
pub struct StatusServer {
    port: u16,
    status: Arc<AtomicU16>,
    requests: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl StatusServer {
    /// Serves on 127.0.0.1 and a free port.
    pub fn start(status: u16) -> StatusServer {
        StatusServer::on(
            TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"),
            status,
        )
    }

    /// Serves on `listener` (an IPv6 one, say).
    pub fn on(listener: TcpListener, status: u16) -> StatusServer {
        let port = listener.local_addr().expect("local_addr").port();
        let server = StatusServer {
            port,
            status: Arc::new(AtomicU16::new(status)),
            requests: Arc::new(AtomicUsize::new(0)),
            heads: Arc::new(Mutex::new(Vec::new())),
        };
        let (status, requests) = (Arc::clone(&server.status), Arc::clone(&server.requests));
        let heads = Arc::clone(&server.heads);
        serve_each(listener, move |mut conn| {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let Some(head) = read_head_text(&mut conn) else {
                return;
            };
            heads.lock().unwrap_or_else(|e| e.into_inner()).push(head);
            requests.fetch_add(1, Ordering::SeqCst);
            let status = status.load(Ordering::SeqCst);
            let _ = write!(
                conn,
                "HTTP/1.0 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK"
            );
        });
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What later requests are answered with.
    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// The head (request line and headers) of every request so far, in arrival order.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

// ---------------------------------------------------------------- idle clients

/// Until dropped, holds `n` connections to 127.0.0.1:`port` that send nothing, and
/// opens a new one for each the server closes: the attacker, whose idle
/// connections, reopened as they were dropped, starved every scrape.
pub struct IdleClients {
    stop: Arc<AtomicBool>,
    opened: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl IdleClients {
    pub fn hold(port: u16, n: usize) -> IdleClients {
        let stop = Arc::new(AtomicBool::new(false));
        let opened = Arc::new(AtomicUsize::new(0));
        let (stopped, count) = (Arc::clone(&stop), Arc::clone(&opened));
        let thread = thread::spawn(move || {
            let mut held: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
            while !stopped.load(Ordering::Relaxed) {
                for slot in &mut held {
                    if slot.as_ref().is_some_and(closed_by_peer) {
                        *slot = None;
                    }
                    if slot.is_none()
                        && let Ok(conn) = TcpStream::connect(("127.0.0.1", port))
                    {
                        let _ = conn.set_nonblocking(true);
                        count.fetch_add(1, Ordering::Relaxed);
                        *slot = Some(conn);
                    }
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        IdleClients {
            stop,
            opened,
            thread: Some(thread),
        }
    }

    /// Connections opened so far: `n` at first, one more for each the server closed.
    pub fn opened(&self) -> usize {
        self.opened.load(Ordering::Relaxed)
    }
}

/// Whether the server closed `conn` (end of stream, reset, or anything sent to a
/// client that asked nothing). `conn` is non-blocking.
fn closed_by_peer(conn: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    !matches!(conn.peek(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

impl Drop for IdleClients {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
