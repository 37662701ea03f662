//! ureq over [`crate::deadline`]: the connectors, the transport and the resolver every
//! probe agent (and `--status`'s, [`crate::cli::status_client`]) is built with, so an
//! `http://`, `https://` or `http+unix://` request does its IO the way the rest of
//! httpok does, with no thread of ureq's own.
//!
//! * [`tcp_agent`]: TCP (and TLS by ureq's rustls connector on top), the host looked up
//!   by [`DeadlineResolver`]: an IP literal in place, a name by
//!   [`crate::deadline::resolve`](fn@crate::deadline::resolve) (ureq's own resolver
//!   starts an unbounded thread per lookup when a timeout is set).
//! * [`unix_agent`]: every connection goes to one socket file, whatever host the URL
//!   names: `http://localhost/health` sends `GET /health` with `Host: localhost` over the
//!   socket; the host is never looked up. `https://` is refused ([`Error::TlsRequired`]).
//!
//! Both connectors give the same [`DeadlineTransport`], whose every read and write gets
//! what is left of the deadline ureq hands over ([`NextTimeout`]), so `timeout_global`
//! bounds the whole exchange; expiry is reported as [`Error::Timeout`]. An agent without
//! a timeout is refused: httpok never does IO without a deadline. Proxy settings are not
//! used: the connectors always dial themselves.
//!
//! Built on `ureq::unversioned::{transport, resolver}`, which ureq keeps outside semver
//! but promises not to break in patch releases: Cargo.toml pins ureq's minor version.

mod buffers;
mod resolver;

use std::io;
use std::net::Shutdown;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ureq::config::Config;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, NextTimeout, RustlsConnector, ShutdownHandle, Transport,
};
use ureq::{Agent, Error};

use crate::deadline::{self, Stream};
use buffers::LeanBuffers;

pub use resolver::{DeadlineResolver, UnixResolver};

/// An agent for `http://` and `https://` URLs over TCP.
pub fn tcp_agent(config: Config) -> Agent {
    let connector = ().chain(TcpConnector).chain(RustlsConnector::default());
    Agent::with_parts(config, connector, DeadlineResolver)
}

/// An agent that sends every request over the unix socket at `socket`.
pub fn unix_agent(socket: impl Into<PathBuf>, config: Config) -> Agent {
    Agent::with_parts(config, UnixConnector::new(socket), UnixResolver)
}

/// Opens a TCP connection to the first resolved address that accepts one.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpConnector;

impl Connector<()> for TcpConnector {
    type Out = DeadlineTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<()>,
    ) -> Result<Option<DeadlineTransport>, Error> {
        let timeout = details.timeout;
        let deadline = deadline(timeout)?;
        let stream =
            deadline::connect_tcp(&details.addrs, deadline).map_err(|e| to_ureq(e, timeout))?;
        if details.config.no_delay() {
            stream.set_nodelay(true)?;
        }
        DeadlineTransport::register(Stream::Tcp(stream), details).map(Some)
    }
}

/// Opens a stream to one fixed unix socket for every connection.
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
    type Out = DeadlineTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<()>,
    ) -> Result<Option<DeadlineTransport>, Error> {
        if details.needs_tls() {
            return Err(Error::TlsRequired);
        }
        let timeout = details.timeout;
        let stream = deadline::connect_unix(&self.path, deadline(timeout)?).map_err(|e| {
            if deadline::is_timeout(&e) {
                Error::Timeout(timeout.reason)
            } else if deadline::is_local_shortage(&e) {
                // As it is, so the probe can tell httpok's shortage from the app's fault.
                Error::Io(e)
            } else {
                Error::Io(io::Error::new(
                    e.kind(),
                    format!("unix socket {}: {e}", self.path.display()),
                ))
            }
        })?;
        DeadlineTransport::register(Stream::Unix(stream), details).map(Some)
    }
}

/// One connection, as handed to ureq.
#[derive(Debug)]
pub struct DeadlineTransport {
    /// Shared (weakly) with the agent's shutdown handle.
    stream: Arc<SharedStream>,
    buffers: LeanBuffers,
}

#[derive(Debug)]
struct SharedStream(Stream);

impl ShutdownHandle for SharedStream {
    fn shutdown(&self) {
        self.0.shutdown(Shutdown::Both);
    }
}

impl DeadlineTransport {
    /// The transport for `stream`, registered so that `Agent::shutdown()` can interrupt
    /// a request blocked on it.
    fn register(stream: Stream, details: &ConnectionDetails) -> Result<DeadlineTransport, Error> {
        let config = details.config;
        let transport = DeadlineTransport {
            stream: Arc::new(SharedStream(stream)),
            buffers: LeanBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
        };
        let handle: Arc<dyn ShutdownHandle> = transport.stream.clone();
        (details.register_shutdown)(Arc::downgrade(&handle))?;
        Ok(transport)
    }
}

impl Transport for DeadlineTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        let timeout = timeout.for_write();
        let deadline = deadline(timeout)?;
        let output = self.buffers.output();
        let bytes = output.get(..amount).ok_or(Error::ConnectionFailed)?;
        let sent = self.stream.0.write_all_before(bytes, deadline);
        self.buffers.sent();
        sent.map_err(|e| to_ureq(e, timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        let timeout = timeout.for_read();
        let deadline = deadline(timeout)?;
        // The input buffer only once there is something to put in it: a probe whose
        // peer never answers holds none. (A full one is read into at once, as zero
        // bytes: ureq then reports the head as too big.)
        if !self.buffers.input_is_full() {
            self.stream
                .0
                .wait_readable(deadline)
                .map_err(|e| to_ureq(e, timeout))?;
        }
        let input = self.buffers.input_append_buf();
        let n = self
            .stream
            .0
            .read_before(input, deadline)
            .map_err(|e| to_ureq(e, timeout))?;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    /// Used by the pool before reusing a kept-alive connection.
    fn is_open(&mut self) -> bool {
        self.stream.0.is_idle()
    }
}

/// The instant `timeout` expires. No deadline at all is refused (every agent of
/// httpok's has `timeout_global`), and one already past is a timeout.
fn deadline(timeout: NextTimeout) -> Result<Instant, Error> {
    if timeout.after.is_not_happening() {
        return Err(Error::Io(io::Error::other(
            "httpok does no IO without a deadline: set a timeout on this agent",
        )));
    }
    if timeout.after.is_zero() {
        return Err(Error::Timeout(timeout.reason));
    }
    // Too far away to add is as good as none.
    Instant::now().checked_add(*timeout.after).ok_or_else(|| {
        Error::Io(io::Error::other(
            "httpok does no IO without a deadline: this agent's timeout is too long",
        ))
    })
}

/// The deadline passing is ureq's timeout, with the reason ureq gave for it.
fn to_ureq(e: io::Error, timeout: NextTimeout) -> Error {
    if deadline::is_timeout(&e) {
        Error::Timeout(timeout.reason)
    } else {
        Error::Io(e)
    }
}

#[cfg(test)]
mod tests;
