//! The endpoint's socket and its life: [`Endpoint::start`] as httpok runs it (bound at
//! once if it can be, else one ERROR and a new try every [`Limits::rebind_every`] on
//! the endpoint's own thread, so a taken port never costs the watch), and
//! [`Endpoint::close`] at a graceful exit, which removes the unix socket file it made.
//! [`MetricsListener`] is one bound socket, served by the event loop (`event_loop.rs`).
//!
//! Not built on tiny_http 0.12: it starts a thread for every connection that finds no
//! idle one, reads header lines of any length and sets no socket timeouts, so a slow or
//! oversized request would hold a thread and memory for as long as the client likes.

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::ListenAddr;
use super::event_loop::EventLoop;
use super::exchange::Stream;
use super::socket_file::{self, Made, SocketFile};
use crate::planner::status::Snapshot;

/// How much the endpoint takes on at once, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once; a new one beyond that closes an answered or the oldest
    /// idle one.
    pub connections: usize,
    /// From accept: to read the head; then again to write the answer.
    pub timeout: Duration,
    /// Between two tries to bind an address that could not be bound.
    pub rebind_every: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connections: 32,
            timeout: Duration::from_secs(5),
            rebind_every: Duration::from_secs(60),
        }
    }
}

/// A bound, non-blocking listening socket.
#[derive(Debug)]
pub(super) enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Socket {
    /// The next connection, made non-blocking.
    pub(super) fn accept(&self) -> io::Result<Stream> {
        match self {
            Socket::Tcp(l) => {
                let (s, _) = l.accept()?;
                s.set_nonblocking(true)?;
                Ok(Stream::Tcp(s))
            }
            Socket::Unix(l) => {
                let (s, _) = l.accept()?;
                s.set_nonblocking(true)?;
                Ok(Stream::Unix(s))
            }
        }
    }

    pub(super) fn fd(&self) -> RawFd {
        match self {
            Socket::Tcp(l) => l.as_raw_fd(),
            Socket::Unix(l) => l.as_raw_fd(),
        }
    }
}

/// A bound socket, not yet served.
#[derive(Debug)]
pub struct MetricsListener {
    socket: Socket,
    limits: Limits,
    /// The unix socket file it made.
    made: Option<Made>,
}

impl MetricsListener {
    /// Binds `addr`. A unix socket file left by an httpok that was killed (nothing
    /// accepts on it) is replaced; any other file at that path is left alone.
    pub fn bind(addr: &ListenAddr, limits: Limits) -> io::Result<MetricsListener> {
        let (socket, made) = match addr {
            ListenAddr::Tcp(addr) => {
                let l = TcpListener::bind(addr)?;
                l.set_nonblocking(true)?;
                (Socket::Tcp(l), None)
            }
            ListenAddr::Unix(path) => {
                let (l, made) = socket_file::bind(path)?;
                l.set_nonblocking(true)?;
                (Socket::Unix(l), made)
            }
        };
        Ok(MetricsListener {
            socket,
            limits,
            made,
        })
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

    /// Starts the endpoint's thread; it serves as long as the process lives.
    #[cfg(test)]
    pub(crate) fn serve(self, status: Arc<Mutex<Snapshot>>) -> io::Result<()> {
        thread::Builder::new()
            .name("metrics".into())
            .spawn(move || self.run(status))
            .map(|_| ())
    }

    /// Serves on this thread, for good.
    fn run(self, status: Arc<Mutex<Snapshot>>) {
        EventLoop::new(self.socket, status, self.limits).run();
    }
}

/// The endpoint as httpok runs it: serving, or waiting to try the address again.
#[derive(Debug, Clone)]
pub struct Endpoint {
    file: Arc<SocketFile>,
}

impl Endpoint {
    /// Warns if `addr` can be reached from other hosts, binds it and serves `status`
    /// from a thread of its own. An address that cannot be bound (taken, not allowed,
    /// its directory missing) is one ERROR; the thread tries again every
    /// `limits.rebind_every` and says when it serves. Only a thread that cannot be
    /// started is an error here.
    pub fn start(
        addr: &ListenAddr,
        status: Arc<Mutex<Snapshot>>,
        limits: Limits,
    ) -> io::Result<Endpoint> {
        if let Some(warning) = addr.exposure_warning() {
            log::warn!("{warning}");
        }
        let file = Arc::new(SocketFile::default());
        let bound = match MetricsListener::bind(addr, limits) {
            Ok(listener) => {
                log::info!(
                    "serving GET /metrics and GET /status on {}",
                    shown(&listener, addr)
                );
                Some(listener)
            }
            Err(e) => {
                log::error!(
                    "--metrics-listen {addr}: cannot listen there ({e}): {}? httpok watches \
                     on without the endpoint and tries again every {}s",
                    bind_hint(&e),
                    limits.rebind_every.as_secs()
                );
                None
            }
        };
        let (addr, owner) = (addr.clone(), Arc::clone(&file));
        thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                let listener = match bound {
                    Some(listener) => listener,
                    None => match bind_again(&addr, limits, &owner) {
                        Some(listener) => listener,
                        None => return,
                    },
                };
                if owner.keep(listener.made.clone()) {
                    listener.run(status);
                }
            })?;
        Ok(Endpoint { file })
    }

    /// At a graceful exit: removes the unix socket file this endpoint made, if it is
    /// still the one it made, and binds nothing more. Safe to call more than once.
    pub fn close(&self) {
        self.file.close();
    }
}

/// Tries `addr` every `limits.rebind_every` until it binds (said once) or the
/// endpoint was closed meanwhile.
fn bind_again(addr: &ListenAddr, limits: Limits, owner: &SocketFile) -> Option<MetricsListener> {
    let started = Instant::now();
    loop {
        thread::sleep(limits.rebind_every);
        if owner.is_closed() {
            return None;
        }
        match MetricsListener::bind(addr, limits) {
            Ok(listener) => {
                log::info!(
                    "serving GET /metrics and GET /status on {} now (it could not listen \
                     there for {}s)",
                    shown(&listener, addr),
                    started.elapsed().as_secs()
                );
                return Some(listener);
            }
            Err(e) => log::debug!("--metrics-listen {addr}: still cannot listen there: {e}"),
        }
    }
}

/// What to look at when an address cannot be bound, as a question.
fn bind_hint(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::PermissionDenied => {
            "may httpok's user bind there (a port below 1024 needs root; a socket's \
             directory must be writable)"
        }
        io::ErrorKind::NotFound => "does the socket's directory exist",
        io::ErrorKind::AddrNotAvailable => "does this host have that IP address",
        _ => "is another httpok or exporter using it",
    }
}

/// The bound address, or the one asked for if the socket cannot say.
fn shown(listener: &MetricsListener, asked: &ListenAddr) -> String {
    listener
        .local_addr()
        .map_or_else(|_| asked.to_string(), |a| a.to_string())
}

#[cfg(test)]
mod tests;
