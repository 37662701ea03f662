//! Connecting before a deadline, on the calling thread.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};

use super::time_left;

/// First pause between two connect attempts while a unix socket's backlog is full.
const FIRST_PAUSE: Duration = Duration::from_millis(1);
/// Longest pause: how late a connect may notice that the backlog has room again.
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// A connection to the first of `addrs` that accepts one before `deadline`, each tried
/// in turn with what is left; the error is the last address's (`TimedOut` once the
/// deadline has passed).
pub fn connect_tcp(addrs: &[SocketAddr], deadline: Instant) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for addr in addrs {
        // std's connect_timeout: a non-blocking connect polled until the time is up, on
        // this thread; the socket is closed when it fails.
        match TcpStream::connect_timeout(addr, time_left(deadline)?) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A connection to the unix socket at `path` before `deadline`, made without ever
/// blocking: while the listener's accept backlog is full, Linux fails a non-blocking
/// connect with EAGAIN at once (and a blocking one waits with no limit), so the connect
/// is retried with a short backoff; at the deadline the socket is closed and the error
/// is `TimedOut`. The stream returned is blocking ([`super::Stream`]'s reads and writes
/// are non-blocking calls on it, bounded by poll()).
pub fn connect_unix(path: &Path, deadline: Instant) -> io::Result<UnixStream> {
    let addr = SockAddr::unix(path)?;
    // Close-on-exec, as std's sockets: a hook or exec check must not inherit it.
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    let mut pause = FIRST_PAUSE;
    loop {
        match socket.connect(&addr) {
            Ok(()) => break,
            // An earlier attempt that was in progress has completed.
            Err(e) if e.raw_os_error() == Some(libc::EISCONN) => break,
            Err(e) if backlog_full(&e) => {
                let left = time_left(deadline).map_err(|_| backlog_timeout())?;
                thread::sleep(pause.min(left));
                pause = (pause * 2).min(MAX_PAUSE);
            }
            Err(e) => return Err(e),
        }
    }
    socket.set_nonblocking(false)?;
    Ok(UnixStream::from(OwnedFd::from(socket)))
}

/// EAGAIN is Linux's "backlog full"; the others are a connect still under way
/// (other systems, or a signal), which the next attempt finishes.
fn backlog_full(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
        || e.kind() == io::ErrorKind::Interrupted
        || matches!(
            e.raw_os_error(),
            Some(libc::EINPROGRESS) | Some(libc::EALREADY)
        )
}

fn backlog_timeout() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "no connection before the deadline: the socket's accept backlog is full \
         (the server is not accepting connections)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rig::TempDir;
    use crate::test_rig::hostile::refused_addr;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixListener;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn a_unix_socket_that_accepts_connects_and_the_stream_blocks_with_timeouts() {
        let dir = TempDir::new("connect");
        let path = dir.join("ok.sock");
        let _listener = UnixListener::bind(&path).expect("bind");
        let stream = connect_unix(&path, soon()).expect("connects");
        // Blocking again, as std's connected sockets are.
        // SAFETY: F_GETFL on a descriptor the stream owns and keeps open.
        let flags = unsafe { libc::fcntl(stream.as_raw_fd(), libc::F_GETFL) };
        assert!(flags >= 0, "{}", io::Error::last_os_error());
        assert_eq!(flags & libc::O_NONBLOCK, 0, "the stream is non-blocking");
    }

    #[test]
    fn a_missing_socket_or_a_refused_port_fails_at_once_with_its_own_error() {
        // Their own errors, not TimedOut: neither waited for the deadline.
        let dir = TempDir::new("connect");
        let err = connect_unix(&dir.join("none.sock"), soon()).expect_err("missing");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let refused = refused_addr().parse().expect("an address");
        let err = connect_tcp(&[refused], soon()).expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn a_deadline_already_past_is_a_timeout_and_no_address_is_not_found() {
        let past = Instant::now() - Duration::from_millis(1);
        let addr = "127.0.0.1:9".parse().expect("addr");
        assert_eq!(
            connect_tcp(&[addr], past).map(drop).map_err(|e| e.kind()),
            Err(io::ErrorKind::TimedOut)
        );
        assert_eq!(
            connect_tcp(&[], soon()).map(drop).map_err(|e| e.kind()),
            Err(io::ErrorKind::NotFound)
        );
    }
}
