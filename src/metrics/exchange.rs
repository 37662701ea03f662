//! One connection of the endpoint on a non-blocking socket, from accept to close:
//!
//! ```text
//!  accepted ──▶ Head ──whole head──▶ Answer ──all written, FIN──▶ Drain ──▶ closed
//!               │ (timeout to read)  │ (timeout to write)         │ (DRAIN_TIME, DRAIN_LIMIT)
//!               └──── deadline, end of stream, error: closed ◀────┘
//! ```
//!
//! [`Exchange::on_ready`] does what the socket is ready for, never waits, and says
//! whether the connection stays open; the event loop (`event_loop.rs`) owns the waiting,
//! the deadlines and which connection to close when the table is full.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::http::{self, Refusal, Response, Route};

/// After an answer, what of the rest of a request is read and dropped, and for how
/// long: closing a socket with unread bytes resets the connection, and the client may
/// lose the answer with it.
pub(super) const DRAIN_LIMIT: usize = 64 * 1024;
pub(super) const DRAIN_TIME: Duration = Duration::from_millis(500);

/// An accepted connection, made non-blocking.
#[derive(Debug)]
pub(super) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn shutdown_write(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
        };
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}

/// Where a connection is; the data of each phase lives in it.
#[derive(Debug)]
pub(super) enum Phase {
    /// Reading the request head: what came so far, at most [`http::MAX_HEAD`] bytes.
    Head(Vec<u8>),
    /// Writing the answer: all of it, and how much went out.
    Answer { bytes: Vec<u8>, sent: usize },
    /// Answered and FIN sent: reading and dropping what the client still sends.
    Drain { seen: usize },
}

/// Whether a connection stays in the table after [`Exchange::on_ready`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    Open,
    Close,
}

/// One connection and where it is.
#[derive(Debug)]
pub(super) struct Exchange {
    stream: Stream,
    phase: Phase,
    /// When it was accepted: of the idle ones, the oldest is closed first.
    pub(super) accepted: Instant,
    /// When the current phase must be over; the event loop closes it then.
    pub(super) deadline: Instant,
    /// Each phase's time: to read the head, then to write the answer.
    timeout: Duration,
}

impl Exchange {
    /// A connection just accepted: `timeout` to send its head, then as long to read
    /// the answer.
    pub(super) fn new(stream: Stream, now: Instant, timeout: Duration) -> Exchange {
        Exchange {
            stream,
            phase: Phase::Head(Vec::new()),
            accepted: now,
            deadline: now + timeout,
            timeout,
        }
    }

    pub(super) fn phase(&self) -> &Phase {
        &self.phase
    }

    pub(super) fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// The poll(2) events it waits for.
    pub(super) fn interest(&self) -> i16 {
        match self.phase {
            Phase::Head(_) | Phase::Drain { .. } => libc::POLLIN,
            Phase::Answer { .. } => libc::POLLOUT,
        }
    }

    /// Reads, answers or drains as far as the socket allows now. `answer` makes the
    /// response to a whole head (it is called at most once per connection).
    pub(super) fn on_ready(
        &mut self,
        now: Instant,
        answer: impl FnOnce(Result<Route, Refusal>) -> Response,
    ) -> Next {
        if let Phase::Head(head) = &mut self.phase {
            match read_head(&mut self.stream, head) {
                Ok(Some(judged)) => {
                    self.phase = Phase::Answer {
                        bytes: answer(judged).to_bytes(),
                        sent: 0,
                    };
                    self.deadline = now + self.timeout;
                }
                Ok(None) => return Next::Open,
                Err(_) => return Next::Close,
            }
        }
        if let Phase::Answer { bytes, sent } = &mut self.phase {
            match write_some(&mut self.stream, bytes, sent) {
                Ok(true) => {
                    self.stream.shutdown_write();
                    self.phase = Phase::Drain { seen: 0 };
                    self.deadline = now + DRAIN_TIME;
                }
                Ok(false) => return Next::Open,
                Err(_) => return Next::Close,
            }
        }
        if let Phase::Drain { seen } = &mut self.phase {
            return match drain(&mut self.stream, seen) {
                Ok(()) if *seen < DRAIN_LIMIT => Next::Open,
                _ => Next::Close,
            };
        }
        Next::Open
    }
}

/// Reads what is there into `head`: `Some` once [`http::try_request`] can judge it,
/// `None` while it needs more, an error at the end of the stream (a client that hung
/// up before a whole head gets nothing) or on a socket error.
fn read_head(
    stream: &mut Stream,
    head: &mut Vec<u8>,
) -> io::Result<Option<Result<Route, Refusal>>> {
    let mut buf = [0u8; 2048];
    loop {
        // Never more than MAX_HEAD: a head that does not fit is judged too large.
        let room = http::MAX_HEAD.saturating_sub(head.len()).min(buf.len());
        let n = match stream.read(&mut buf[..room.max(1)]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        head.extend_from_slice(&buf[..n]);
        match http::try_request(head) {
            Ok(None) => continue,
            Ok(Some(route)) => return Ok(Some(Ok(route))),
            Err(refusal) => return Ok(Some(Err(refusal))),
        }
    }
}

/// Writes what the socket takes of `bytes[*sent..]`: true once all is out.
fn write_some(stream: &mut Stream, bytes: &[u8], sent: &mut usize) -> io::Result<bool> {
    while *sent < bytes.len() {
        match stream.write(&bytes[*sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Reads and drops what is there, counting it in `seen` (up to [`DRAIN_LIMIT`]); an
/// error at the end of the stream.
fn drain(stream: &mut Stream, seen: &mut usize) -> io::Result<()> {
    let mut buf = [0u8; 8192];
    while *seen < DRAIN_LIMIT {
        match stream.read(&mut buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => *seen += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
