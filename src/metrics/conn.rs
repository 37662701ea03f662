//! A TCP or unix-socket stream whose reads and writes end by a deadline, for
//! `httpok --status` (the endpoint itself uses non-blocking sockets, `exchange.rs`). Every blocking call gets the time
//! left as its socket timeout, so a peer that sends one byte a second cannot stretch
//! an exchange past its deadline.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::ListenAddr;

/// One accepted or opened connection.
#[derive(Debug)]
pub enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Bytes written per call, so that the deadline is looked at between pieces.
const WRITE_PIECE: usize = 16 * 1024;

impl Conn {
    /// Connects to `addr` before `deadline`.
    pub fn connect(addr: &ListenAddr, deadline: Instant) -> io::Result<Conn> {
        match addr {
            ListenAddr::Tcp(addr) => {
                TcpStream::connect_timeout(addr, time_left(deadline)?).map(Conn::Tcp)
            }
            // A unix connect does not wait for the server to accept: it only fails.
            ListenAddr::Unix(path) => UnixStream::connect(path).map(Conn::Unix),
        }
    }

    fn set_timeouts(&self, read: Option<Duration>, write: Option<Duration>) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => {
                s.set_read_timeout(read)?;
                s.set_write_timeout(write)
            }
            Conn::Unix(s) => {
                s.set_read_timeout(read)?;
                s.set_write_timeout(write)
            }
        }
    }

    /// Reads what is there (at least one byte, 0 at end of stream) before `deadline`.
    pub fn read_before(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
        let left = time_left(deadline)?;
        self.set_timeouts(Some(left), None)?;
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }

    /// Writes all of `bytes` before `deadline`.
    pub fn write_before(&mut self, bytes: &[u8], deadline: Instant) -> io::Result<()> {
        for piece in bytes.chunks(WRITE_PIECE) {
            let left = time_left(deadline)?;
            self.set_timeouts(None, Some(left))?;
            match self {
                Conn::Tcp(s) => s.write_all(piece)?,
                Conn::Unix(s) => s.write_all(piece)?,
            }
        }
        Ok(())
    }

    /// Reads to the end of the stream, at most `limit` bytes, before `deadline`.
    /// More than `limit` is an error (InvalidData): the answer is not trusted.
    pub fn read_to_end_before(&mut self, limit: usize, deadline: Instant) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        let mut buf = [0u8; 8 * 1024];
        loop {
            let n = self.read_before(&mut buf, deadline)?;
            if n == 0 {
                return Ok(all);
            }
            if all.len() + n > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the answer is longer than {limit} bytes"),
                ));
            }
            all.extend_from_slice(&buf[..n]);
        }
    }

    /// Says "no more from me" (FIN), so the peer sees the answer end.
    pub fn shutdown_write(&self) {
        let _ = match self {
            Conn::Tcp(s) => s.shutdown(Shutdown::Write),
            Conn::Unix(s) => s.shutdown(Shutdown::Write),
        };
    }

    /// After an answer: reads and drops what the peer still sends (the rest of an
    /// oversized head), at most `limit` bytes until `deadline`, so that closing does not
    /// reset the connection before the peer has read the answer.
    pub fn drain(&mut self, limit: usize, deadline: Instant) {
        let mut buf = [0u8; 8 * 1024];
        let mut seen = 0;
        while seen < limit {
            match self.read_before(&mut buf, deadline) {
                Ok(0) | Err(_) => return,
                Ok(n) => seen += n,
            }
        }
    }
}

/// The time until `deadline`; a TimedOut error once it has passed (a zero socket
/// timeout would mean "wait forever").
pub fn time_left(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
    }
    Ok(left)
}
