//! A connected socket whose reads and writes end by a deadline.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use super::{is_timeout, time_left};

/// A connected TCP or unix stream socket. Every read and write takes a deadline and
/// sets the socket's timeout to what is left of it first, so no single call, and no
/// sequence of calls under one deadline, outlives it.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl From<TcpStream> for Stream {
    fn from(stream: TcpStream) -> Stream {
        Stream::Tcp(stream)
    }
}

impl From<UnixStream> for Stream {
    fn from(stream: UnixStream) -> Stream {
        Stream::Unix(stream)
    }
}

impl Stream {
    /// Reads what is there (at least one byte; 0 at the end of the stream) before
    /// `deadline`. A deadline that passes is a `TimedOut` error.
    pub fn read_before(&self, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
        loop {
            let left = time_left(deadline)?;
            let result = match self {
                Stream::Tcp(s) => s
                    .set_read_timeout(Some(left))
                    .and_then(|()| (&*s).read(buf)),
                Stream::Unix(s) => s
                    .set_read_timeout(Some(left))
                    .and_then(|()| (&*s).read(buf)),
            };
            match result {
                // Linux ends a socket read with a timeout on a signal even under
                // SA_RESTART: try again with what is left.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => return result.map_err(timed_out),
            }
        }
    }

    /// Writes some of `bytes` before `deadline`; how many.
    pub fn write_before(&self, bytes: &[u8], deadline: Instant) -> io::Result<usize> {
        loop {
            let left = time_left(deadline)?;
            let result = match self {
                Stream::Tcp(s) => s
                    .set_write_timeout(Some(left))
                    .and_then(|()| (&*s).write(bytes)),
                Stream::Unix(s) => s
                    .set_write_timeout(Some(left))
                    .and_then(|()| (&*s).write(bytes)),
            };
            match result {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => return result.map_err(timed_out),
            }
        }
    }

    /// Writes all of `bytes` before `deadline`.
    pub fn write_all_before(&self, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
        while !bytes.is_empty() {
            match self.write_before(bytes, deadline)? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => bytes = &bytes[n..],
            }
        }
        Ok(())
    }

    /// Reads to the end of the stream before `deadline`, at most `limit` bytes: more
    /// is an `InvalidData` error (the answer is not trusted).
    pub fn read_to_end_before(&self, limit: usize, deadline: Instant) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = self.read_before(&mut chunk, deadline)?;
            if n == 0 {
                return Ok(all);
            }
            if all.len() + n > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the answer is longer than {limit} bytes"),
                ));
            }
            all.extend_from_slice(&chunk[..n]);
        }
    }

    /// The stream as `Read` and `Write` under `deadline`, for code that takes those
    /// (rustls' handshake).
    pub fn bounded(&self, deadline: Instant) -> Bounded<'_> {
        Bounded {
            stream: self,
            deadline,
        }
    }

    /// Shuts down one or both directions; an error (already closed) is of no interest.
    pub fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        };
    }

    /// Whether the peer has sent nothing and not closed: a kept-alive connection that
    /// can be used again. Never blocks; a byte read here (the peer sent something
    /// unasked) means the connection is not used again.
    pub fn is_idle(&self) -> bool {
        if self.set_nonblocking(true).is_err() {
            return false;
        }
        let mut byte = [0u8; 1];
        let read = match self {
            Stream::Tcp(s) => (&*s).read(&mut byte),
            Stream::Unix(s) => (&*s).read(&mut byte),
        };
        let idle = matches!(read, Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        self.set_nonblocking(false).is_ok() && idle
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(nonblocking),
            Stream::Unix(s) => s.set_nonblocking(nonblocking),
        }
    }
}

/// One socket timeout expiring is the deadline passing: say so with one kind.
fn timed_out(e: io::Error) -> io::Error {
    if is_timeout(&e) {
        io::Error::new(io::ErrorKind::TimedOut, "no answer before the deadline")
    } else {
        e
    }
}

/// A [`Stream`] under one deadline, as `Read` and `Write`.
#[derive(Debug)]
pub struct Bounded<'a> {
    stream: &'a Stream,
    deadline: Instant,
}

impl Read for Bounded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read_before(buf, self.deadline)
    }
}

impl Write for Bounded<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write_before(buf, self.deadline)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_answer_over_the_limit_is_refused_and_one_within_it_is_read_whole() {
        let (ours, mut theirs) = UnixStream::pair().expect("pair");
        theirs.write_all(b"0123456789").expect("write");
        drop(theirs);
        let soon = Instant::now() + Duration::from_secs(5);
        let err = Stream::Unix(ours)
            .read_to_end_before(9, soon)
            .expect_err("too long");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let (ours, mut theirs) = UnixStream::pair().expect("pair");
        theirs.write_all(b"0123456789").expect("write");
        drop(theirs);
        let all = Stream::Unix(ours)
            .read_to_end_before(10, soon)
            .expect("read");
        assert_eq!(all, b"0123456789");
    }

    #[test]
    fn silence_is_a_timeout_at_the_deadline_and_an_idle_stream_is_idle() {
        let (ours, theirs) = UnixStream::pair().expect("pair");
        let stream = Stream::Unix(ours);
        assert!(stream.is_idle());
        // The peer stays open and silent: only the deadline ends the read.
        let err = stream
            .read_before(&mut [0u8; 8], Instant::now() + Duration::from_millis(100))
            .expect_err("silence");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(theirs);
        // Closed by the peer: not to be used again.
        assert!(!stream.is_idle());
    }
}
