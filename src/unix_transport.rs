//! HTTP over a unix-domain socket, for probing apps (gunicorn, uwsgi, ...) that
//! listen on a socket file instead of a TCP port.
//!
//! This module owns [`unix_agent`], which builds a [`ureq::Agent`] whose every
//! connection goes to one fixed socket path, whatever host the URL names. Call
//! it with a full `http://` URL: `http://localhost/health` sends
//! `GET /health` with `Host: localhost` over the socket. The host part only
//! feeds the `Host` header (and ureq's connection pool key); it is never
//! looked up in DNS. `https://` URLs are refused with [`Error::TlsRequired`].
//!
//! It is built on `ureq::unversioned::{transport, resolver}`. ureq keeps that
//! API outside semver and only promises not to break it in patch releases, so
//! Cargo.toml must pin ureq's minor version (`ureq = "~3.5"`).
//!
//! Timeouts: connect, every read and every write are bounded by the
//! [`NextTimeout`] ureq hands over, so `timeout_global` and the per-phase
//! timeouts of the [`Config`] apply as they do over TCP, and expiry is
//! reported as [`Error::Timeout`]. Proxy settings in the config are not used:
//! the connector always dials the socket itself.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, ShutdownHandle, Transport,
};
use ureq::{Agent, Error};

use crate::deadline::{Late, on_thread_before};

/// An agent that sends every request over the unix socket at `socket`.
pub fn unix_agent(socket: impl Into<PathBuf>, config: Config) -> Agent {
    Agent::with_parts(config, UnixConnector::new(socket), UnixResolver)
}

/// Connector that opens a stream to one fixed unix socket for every connection.
#[derive(Debug, Clone)]
pub struct UnixConnector {
    path: PathBuf,
}

impl UnixConnector {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        UnixConnector { path: path.into() }
    }
}

impl Connector<()> for UnixConnector {
    type Out = UnixTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<()>,
    ) -> Result<Option<UnixTransport>, Error> {
        if details.needs_tls() {
            return Err(Error::TlsRequired);
        }
        let stream = connect(&self.path, details.timeout)?;
        let config = details.config;
        let transport = UnixTransport {
            stream: Arc::new(Socket(stream)),
            // LazyBuffers panics on zero sizes; a bad config must not.
            buffers: LazyBuffers::new(
                config.input_buffer_size().max(1),
                config.output_buffer_size().max(1),
            ),
        };
        // Lets Agent::shutdown() interrupt a request blocked on this socket.
        let handle: Arc<dyn ShutdownHandle> = transport.stream.clone();
        (details.register_shutdown)(Arc::downgrade(&handle))?;
        Ok(Some(transport))
    }
}

/// Resolver that skips DNS: any host "resolves" to a placeholder address,
/// which [`UnixConnector`] ignores.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnixResolver;

impl Resolver for UnixResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, Error> {
        let mut addrs = self.empty();
        addrs.push(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            uri.port_u16().unwrap_or(80),
        )));
        Ok(addrs)
    }
}

/// One connection to the socket, as handed to ureq.
#[derive(Debug)]
pub struct UnixTransport {
    /// Shared (weakly) with the agent's shutdown handle.
    stream: Arc<Socket>,
    buffers: LazyBuffers,
}

#[derive(Debug)]
struct Socket(UnixStream);

impl ShutdownHandle for Socket {
    fn shutdown(&self) {
        // Already closed is fine.
        let _ = self.0.shutdown(Shutdown::Both);
    }
}

impl Transport for UnixTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        let timeout = timeout.for_write();
        let deadline = deadline(timeout)?;
        let stream = &self.stream.0;
        let output = self.buffers.output();
        let mut rest = output.get(..amount).ok_or(Error::ConnectionFailed)?;
        while !rest.is_empty() {
            let n = io_before(
                deadline,
                |left| stream.set_write_timeout(left),
                || (&*stream).write(rest),
            )
            .map_err(|e| to_ureq(e, timeout))?;
            if n == 0 {
                return Err(Error::Io(io::ErrorKind::WriteZero.into()));
            }
            rest = &rest[n..];
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        let timeout = timeout.for_read();
        let deadline = deadline(timeout)?;
        let stream = &self.stream.0;
        let input = self.buffers.input_append_buf();
        let n = io_before(
            deadline,
            |left| stream.set_read_timeout(left),
            || (&*stream).read(input),
        )
        .map_err(|e| to_ureq(e, timeout))?;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    /// Used by the pool before reusing a kept-alive connection: open means
    /// nothing to read yet and no EOF.
    fn is_open(&mut self) -> bool {
        let stream = &self.stream.0;
        if stream.set_nonblocking(true).is_err() {
            return false;
        }
        let idle = matches!(
            (&*stream).read(&mut [0u8; 1]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        );
        stream.set_nonblocking(false).is_ok() && idle
    }
}

/// Connects to `path` within `timeout`.
///
/// A unix connect normally completes at once, but on Linux it blocks while the
/// listener's backlog is full (an app that stopped accepting). std cannot
/// connect with a timeout, so with a deadline the connect runs on a helper
/// thread; if it times out, that thread is left to finish on its own and the
/// late stream is dropped.
fn connect(path: &Path, timeout: NextTimeout) -> Result<UnixStream, Error> {
    let with_path = |e: io::Error| {
        Error::Io(io::Error::new(
            e.kind(),
            format!("unix socket {}: {e}", path.display()),
        ))
    };
    let Some(deadline) = deadline(timeout)? else {
        return UnixStream::connect(path).map_err(with_path);
    };
    connect_before(path, deadline).map_err(|e| match e.kind() {
        io::ErrorKind::TimedOut => Error::Timeout(timeout.reason),
        _ => with_path(e),
    })
}

/// Connects to a unix socket, giving up at `deadline`. Linux blocks such a connect with
/// no limit while the server's accept backlog is full (a hung app, or a supervisord that
/// stopped accepting), so the connect runs on a helper thread; if it is too late, that
/// thread is left to finish on its own and the late stream is dropped.
pub fn connect_before(path: &Path, deadline: Instant) -> io::Result<UnixStream> {
    let owned = path.to_path_buf();
    match on_thread_before("unix-connect", deadline, move || UnixStream::connect(owned)) {
        Ok(result) => result,
        Err(Late::Timeout) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "connect timed out (accept backlog full?)",
        )),
        Err(Late::NoThread(e)) => Err(e),
        Err(Late::Died) => Err(io::Error::other("connect thread failed")),
    }
}

/// The instant `timeout` expires, `None` if never; an already expired
/// timeout is an error.
fn deadline(timeout: NextTimeout) -> Result<Option<Instant>, Error> {
    if timeout.after.is_not_happening() {
        return Ok(None);
    }
    if timeout.after.is_zero() {
        return Err(Error::Timeout(timeout.reason));
    }
    // Overflow means "too far away to matter".
    Ok(Instant::now().checked_add(*timeout.after))
}

/// Runs one socket operation with the socket timeout set to what is left
/// until `deadline`, retrying on EINTR (which Linux returns for socket reads
/// with a timeout even under SA_RESTART).
fn io_before<T>(
    deadline: Option<Instant>,
    set_timeout: impl Fn(Option<Duration>) -> io::Result<()>,
    mut op: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    loop {
        let left = match deadline {
            None => None,
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                Some(left)
            }
        };
        set_timeout(left)?;
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

/// A socket timeout shows up as `WouldBlock` (or `TimedOut`); report it as
/// ureq's timeout with the reason ureq gave for this deadline.
fn to_ureq(e: io::Error, timeout: NextTimeout) -> Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout(timeout.reason),
        _ => Error::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::io::BufReader;
    use std::os::unix::net::UnixListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    /// A fresh short directory under /tmp (socket paths are limited to ~108 bytes).
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir = PathBuf::from(format!("/tmp/httpok-ut-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            TempDir(dir)
        }

        fn sock(&self) -> PathBuf {
            self.0.join("s.sock")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Reads one request head (up to the blank line); returns its lines.
    fn read_head(reader: &mut impl BufRead) -> Vec<String> {
        let mut lines = vec![];
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                return lines;
            }
            let line = line.trim_end().to_string();
            if line.is_empty() {
                return lines;
            }
            lines.push(line);
        }
    }

    fn config(timeout: Option<Duration>) -> Config {
        Config::builder().timeout_global(timeout).build()
    }

    #[test]
    fn get_goes_over_the_socket() {
        let dir = TempDir::new();
        let listener = UnixListener::bind(dir.sock()).unwrap();
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(&stream);
            let head = read_head(&mut reader);
            (&stream)
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                )
                .unwrap();
            head
        });

        let agent = unix_agent(dir.sock(), config(Some(Duration::from_secs(5))));
        let mut res = agent.get("http://localhost/health").call().unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.body_mut().read_to_string().unwrap(), "hello");

        let head = server.join().unwrap();
        assert_eq!(head[0], "GET /health HTTP/1.1");
        assert!(
            head.iter()
                .any(|l| l.eq_ignore_ascii_case("host: localhost")),
            "{head:?}"
        );
    }

    #[test]
    fn keep_alive_reuses_the_connection() {
        let dir = TempDir::new();
        let listener = UnixListener::bind(dir.sock()).unwrap();
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(&stream);
            let mut paths = vec![];
            for _ in 0..2 {
                let head = read_head(&mut reader);
                paths.push(head[0].clone());
                (&stream)
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .unwrap();
            }
            paths
        });

        let agent = unix_agent(dir.sock(), config(Some(Duration::from_secs(5))));
        for path in ["/a", "/b"] {
            let mut res = agent
                .get(format!("http://any.host.example{path}"))
                .call()
                .unwrap();
            assert_eq!(res.body_mut().read_to_string().unwrap(), "ok");
        }
        // Both requests arrived on the single accepted connection.
        assert_eq!(
            server.join().unwrap(),
            ["GET /a HTTP/1.1", "GET /b HTTP/1.1"]
        );
    }

    #[test]
    fn silent_server_times_out() {
        let dir = TempDir::new();
        let listener = UnixListener::bind(dir.sock()).unwrap();
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // Never answer; return once the client hangs up.
            let _ = io::copy(&mut stream, &mut io::sink());
        });

        let agent = unix_agent(dir.sock(), config(Some(Duration::from_secs(1))));
        let start = Instant::now();
        let err = agent.get("http://localhost/health").call().unwrap_err();
        let took = start.elapsed();
        assert!(matches!(err, Error::Timeout(_)), "{err:?}");
        assert!(took >= Duration::from_millis(900), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        drop(agent);
        server.join().unwrap();
    }

    #[test]
    fn missing_socket_is_an_error() {
        let dir = TempDir::new();
        for timeout in [None, Some(Duration::from_secs(1))] {
            let agent = unix_agent(dir.sock(), config(timeout));
            let err = agent.get("http://localhost/health").call().unwrap_err();
            match err {
                Error::Io(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::NotFound);
                    assert!(e.to_string().contains("s.sock"), "{e}");
                }
                other => panic!("expected io error, got {other:?}"),
            }
        }
    }

    #[test]
    fn https_is_refused() {
        let dir = TempDir::new();
        let agent = unix_agent(dir.sock(), config(None));
        let err = agent.get("https://localhost/").call().unwrap_err();
        assert!(matches!(err, Error::TlsRequired), "{err:?}");
    }
}
