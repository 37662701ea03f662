//! The endpoint's sockets and threads: [`MetricsListener::bind`] at start (so a bad
//! address is an error before httpok says "started"), then [`MetricsListener::serve`]
//! with the watcher's snapshot. One accept thread hands connections to a fixed pool of
//! workers through a queue; when `workers + queue` connections are already taken, the
//! next gets 503 at once from a thread of its own. Each worker reads one head by a deadline, answers and closes.
//!
//! Not built on tiny_http 0.12: it can listen on a unix socket, but it starts a thread
//! for every connection that finds no idle one, reads header lines of any length and
//! sets no socket timeouts, so a slow or oversized request would hold a thread and
//! memory for as long as the client likes.

use std::fs;
use std::io;
use std::net::TcpListener;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::conn::Conn;
use super::http::{self, Refusal, Response};
use super::{ListenAddr, answer};
use crate::status::Snapshot;

/// How much the endpoint takes on at once, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Worker threads: connections served at once.
    pub workers: usize,
    /// Accepted connections waiting for a worker; beyond that, 503.
    pub queue: usize,
    /// From the moment a worker takes a connection: to read the head, and then again
    /// to write the answer.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            workers: 4,
            queue: 4,
            timeout: Duration::from_secs(5),
        }
    }
}

/// After an answer, what of the rest of a request is read and dropped (see
/// [`Conn::drain`]), and for how long.
const DRAIN_LIMIT: usize = 64 * 1024;
const DRAIN_TIME: Duration = Duration::from_millis(500);
/// How long the refusing thread spends on a 503 (writing it, then draining), and how
/// many connections wait for it; more are closed unanswered.
const REFUSE_TIME: Duration = Duration::from_millis(100);
const REFUSALS_QUEUED: usize = 16;

/// A bound socket, not yet served.
#[derive(Debug)]
pub struct MetricsListener {
    socket: Socket,
    limits: Limits,
}

#[derive(Debug)]
enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Socket {
    fn accept(&self) -> io::Result<Conn> {
        match self {
            Socket::Tcp(l) => l.accept().map(|(s, _)| Conn::Tcp(s)),
            Socket::Unix(l) => l.accept().map(|(s, _)| Conn::Unix(s)),
        }
    }
}

impl MetricsListener {
    /// Binds `addr`. A unix socket file left by an httpok that was killed (nothing
    /// accepts on it) is replaced; any other file at that path is left alone.
    pub fn bind(addr: &ListenAddr, limits: Limits) -> io::Result<MetricsListener> {
        let socket = match addr {
            ListenAddr::Tcp(addr) => Socket::Tcp(TcpListener::bind(addr)?),
            ListenAddr::Unix(path) => Socket::Unix(bind_unix(path)?),
        };
        Ok(MetricsListener { socket, limits })
    }

    /// The bound address (the port the kernel chose for port 0).
    pub fn local_addr(&self) -> io::Result<ListenAddr> {
        match &self.socket {
            Socket::Tcp(l) => l.local_addr().map(ListenAddr::Tcp),
            Socket::Unix(l) => {
                let addr = l.local_addr()?;
                let path = addr.as_pathname().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "unnamed unix socket")
                })?;
                Ok(ListenAddr::Unix(path.to_path_buf()))
            }
        }
    }

    /// Starts the accept thread and the workers; they live as long as the process.
    pub fn serve(self, status: Arc<Mutex<Snapshot>>) -> io::Result<()> {
        let (queue, waiting) = mpsc::channel::<Conn>();
        let pool = Arc::new(Pool {
            waiting: Mutex::new(waiting),
            taken: AtomicUsize::new(0),
            timeout: self.limits.timeout,
        });
        let workers = self.limits.workers.max(1);
        for n in 0..workers {
            let (pool, status) = (Arc::clone(&pool), Arc::clone(&status));
            thread::Builder::new()
                .name(format!("metrics-{n}"))
                .spawn(move || pool.work(&status))?;
        }
        let most = workers + self.limits.queue;
        let refusals = refuser()?;
        let socket = self.socket;
        thread::Builder::new()
            .name("metrics-accept".into())
            .spawn(move || accept(&socket, &queue, &refusals, &pool, most))?;
        Ok(())
    }
}

/// The workers' side: the queue, and how many connections are queued or being served.
struct Pool {
    waiting: Mutex<Receiver<Conn>>,
    /// Raised by the accept thread alone, before it queues a connection; lowered by a
    /// worker when it has closed one. So it never undercounts, however late a worker
    /// wakes up.
    taken: AtomicUsize,
    timeout: Duration,
}

impl Pool {
    /// One worker: takes connections off the queue until the accept thread is gone.
    fn work(&self, status: &Mutex<Snapshot>) {
        loop {
            let next = self
                .waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .recv();
            let Ok(mut conn) = next else { return };
            serve_one(&mut conn, status, self.timeout);
            drop(conn);
            self.taken.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn bind_unix(path: &Path) -> io::Result<UnixListener> {
    match UnixListener::bind(path) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse && is_stale_socket(path) => {
            fs::remove_file(path)?;
            UnixListener::bind(path)
        }
        bound => bound,
    }
}

/// A socket file that refuses connections: its server is gone.
fn is_stale_socket(path: &Path) -> bool {
    let is_socket = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    is_socket
        && UnixStream::connect(path).is_err_and(|e| e.kind() == io::ErrorKind::ConnectionRefused)
}

/// Hands each connection to a worker, or to the refuser when `most` are already taken.
fn accept(
    socket: &Socket,
    queue: &Sender<Conn>,
    refusals: &SyncSender<Conn>,
    pool: &Pool,
    most: usize,
) {
    let mut last_warning: Option<Instant> = None;
    loop {
        match socket.accept() {
            // A full refuser's queue: the connection is closed unanswered.
            Ok(conn) if pool.taken.load(Ordering::Acquire) >= most => {
                let _ = refusals.try_send(conn);
            }
            Ok(conn) => {
                pool.taken.fetch_add(1, Ordering::AcqRel);
                if queue.send(conn).is_err() {
                    log::warn!("metrics: every worker has stopped; the endpoint is closed");
                    return;
                }
            }
            // Out of descriptors, or a connection reset before it was accepted: say so
            // once a minute at most, and do not spin.
            Err(e) => {
                if last_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                    log::warn!("metrics: cannot accept a connection: {e}");
                    last_warning = Some(Instant::now());
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// A thread that answers 503 to the connections it is given, each within
/// [`REFUSE_TIME`] twice (write, then drain the request so that closing does not reset
/// the connection before the client has read the 503). Off the accept thread, so that
/// accepting never waits on a client.
fn refuser() -> io::Result<SyncSender<Conn>> {
    let (refusals, refused) = mpsc::sync_channel::<Conn>(REFUSALS_QUEUED);
    thread::Builder::new()
        .name("metrics-busy".into())
        .spawn(move || {
            let busy = Response::refusal(Refusal::Busy).to_bytes();
            for mut conn in refused {
                if conn
                    .write_before(&busy, Instant::now() + REFUSE_TIME)
                    .is_ok()
                {
                    conn.shutdown_write();
                    conn.drain(http::MAX_HEAD, Instant::now() + REFUSE_TIME);
                }
            }
        })?;
    Ok(refusals)
}

/// Reads one head, answers it, closes. A client that says nothing in time, or hangs
/// up, gets nothing.
fn serve_one(conn: &mut Conn, status: &Mutex<Snapshot>, timeout: Duration) {
    let response = match read_head(conn, Instant::now() + timeout) {
        Ok(Ok(route)) => {
            // The lock is held for the clone only; rendering happens without it.
            let snapshot = status
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            answer(route, &snapshot)
        }
        Ok(Err(refusal)) => Response::refusal(refusal),
        Err(_) => return,
    };
    if conn
        .write_before(&response.to_bytes(), Instant::now() + timeout)
        .is_ok()
    {
        conn.shutdown_write();
        conn.drain(DRAIN_LIMIT, Instant::now() + DRAIN_TIME);
    }
}

/// Reads until [`http::try_request`] can judge the head; an IO error (timeout, reset,
/// end of stream) when it cannot before `deadline`.
fn read_head(conn: &mut Conn, deadline: Instant) -> io::Result<Result<http::Route, Refusal>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        let n = conn.read_before(&mut buf, deadline)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
        match http::try_request(&head) {
            Ok(None) => continue,
            Ok(Some(route)) => return Ok(Ok(route)),
            Err(refusal) => return Ok(Err(refusal)),
        }
    }
}

#[cfg(test)]
mod tests;
