//! A connected socket whose reads and writes end by a deadline.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use super::time_left;

/// A connected TCP or unix stream socket. Every read and write takes a deadline and
/// never blocks in the socket: it waits in poll() for what is left of the deadline, so
/// no single call, and no sequence of calls under one deadline, outlives it.
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
        self.when_ready(libc::POLLIN, deadline, |fd| {
            // SAFETY: recv writes at most `buf.len()` bytes into `buf`, which outlives
            // the call; `fd` is this stream's, open while `self` is.
            unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) }
        })
    }

    /// Waits until there is something to read (or the peer closed, or an error the
    /// next read reports), at most until `deadline`: then a `TimedOut` error.
    pub fn wait_readable(&self, deadline: Instant) -> io::Result<()> {
        wait_for(self.as_raw_fd(), libc::POLLIN, deadline)
    }

    /// Writes some of `bytes` before `deadline`; how many.
    pub fn write_before(&self, bytes: &[u8], deadline: Instant) -> io::Result<usize> {
        self.when_ready(libc::POLLOUT, deadline, |fd| {
            // SAFETY: send reads at most `bytes.len()` bytes from `bytes`, which outlives
            // the call. MSG_NOSIGNAL: a peer that closed is an EPIPE error, not a signal.
            unsafe {
                libc::send(
                    fd,
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            }
        })
    }

    /// Runs `io` (a non-blocking recv or send on the socket) until it does something,
    /// waiting in poll() for `events` in between with what is left of `deadline`.
    /// poll()'s timer is precise to the millisecond, where a socket timeout
    /// (SO_RCVTIMEO) is rounded up by the kernel's timer wheel, tens to hundreds of ms
    /// late at timeouts of seconds (docs/benchmarks.md).
    fn when_ready(
        &self,
        events: libc::c_short,
        deadline: Instant,
        mut io: impl FnMut(RawFd) -> libc::ssize_t,
    ) -> io::Result<usize> {
        let fd = self.as_raw_fd();
        loop {
            let done = io(fd);
            if let Ok(n) = usize::try_from(done) {
                return Ok(n);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => wait_for(fd, events, deadline)?,
                _ => return Err(e),
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

    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(nonblocking),
            Stream::Unix(s) => s.set_nonblocking(nonblocking),
        }
    }
}

/// Waits in poll() until `fd` is ready for `events` (or has an error or hang-up, which
/// the next call reports), at most until `deadline`: then a `TimedOut` error.
fn wait_for(fd: RawFd, events: libc::c_short, deadline: Instant) -> io::Result<()> {
    loop {
        let left = time_left(deadline).map_err(|_| {
            io::Error::new(io::ErrorKind::TimedOut, "no answer before the deadline")
        })?;
        // Rounded up to a whole millisecond, so poll never returns just short of the
        // deadline and spins.
        let ms = libc::c_int::try_from(left.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX);
        let mut pollfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: poll reads and writes the one pollfd it is given, which lives for the
        // whole call.
        match unsafe { libc::poll(&mut pollfd, 1, ms) } {
            0 => continue,
            n if n > 0 => return Ok(()),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
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
