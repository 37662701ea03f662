//! IO with a deadline: the one place httpok connects, reads and writes over TCP and
//! unix sockets, and looks names up. Every caller uses it: the probes and `httpok
//! --status` (ureq's connectors and transport in [`crate::deadline::ureq`]), `tcp://`
//! checks, the certificate handshake and the supervisord client.
//!
//! The rule it keeps: no thread is ever left blocked in a call without a deadline.
//!
//! * [`connect_tcp`]: std's `connect_timeout` (a non-blocking connect polled by the
//!   calling thread), each address in turn with what is left of the deadline.
//! * [`connect_unix`]: a non-blocking connect on the calling thread. On Linux a unix
//!   stream connect to a listener whose accept backlog is full blocks with no limit
//!   when blocking, and when non-blocking fails at once with EAGAIN and cannot be
//!   polled for completion; so it is retried with a short backoff until the deadline,
//!   then the socket is closed. No helper thread, nothing left open.
//! * [`Stream`]: a connected TCP or unix socket whose every read and write is
//!   non-blocking and waits in poll() for what is left of the one deadline, so a peer
//!   that dribbles one byte a second cannot stretch an exchange past it, and a peer that
//!   never answers costs the deadline to the millisecond (a socket timeout, SO_RCVTIMEO,
//!   is rounded up by the kernel's timer wheel: a hung probe ran 60-210 ms over `-t 3`).
//! * [`resolve`](fn@resolve): name lookups. getaddrinfo cannot be cancelled, so a name
//!   (never an IP literal, which needs no lookup and no thread) is looked up on a helper
//!   thread that the caller waits for until its deadline; a lookup still running then is
//!   left to finish on its own. What bounds that: callers asking for the same name share
//!   one lookup, and at most [`MAX_LOOKUPS_IN_FLIGHT`](resolve::MAX_LOOKUPS_IN_FLIGHT)
//!   lookups run at once; a lookup over that cap fails at once ([`ResolveError::Busy`]),
//!   so a hung resolver costs at most that many threads, whatever the number of rounds.
//!
//! Does not own what a failure means to the caller (a probe's `DNS:` or `timeout`
//! failure, an unreachable supervisord).

mod connect;
mod resolve;
mod stream;
pub(crate) mod ureq;

use std::io;
use std::time::{Duration, Instant};

pub use connect::{connect_tcp, connect_unix};
pub use resolve::{ResolveError, lookups_in_flight, resolve, take_lookup_time};
pub use stream::Stream;

/// The time left until `deadline`; a `TimedOut` error once it has passed (a zero
/// socket timeout would mean "wait forever", and std refuses it).
pub(crate) fn time_left(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
    }
    Ok(left)
}

/// Whether `e` is httpok's own shortage, not anything the peer did: no file descriptor
/// left (in its own table or the system's), or no kernel memory for a socket. An IO that
/// failed so tells nothing about the other end.
pub(crate) fn is_local_shortage(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Whether `e` is a deadline that passed: ours (`TimedOut`) or a socket timeout
/// (`WouldBlock`, which is how Linux reports SO_RCVTIMEO and SO_SNDTIMEO expiring).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}
