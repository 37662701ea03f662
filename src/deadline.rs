//! Blocking calls the OS gives no timeout of its own, bounded by a deadline: each runs
//! on a helper thread ([`on_thread_before`]) that is given up at the deadline, its late
//! result dropped with it. Used for name lookups ([`resolve_before`], getaddrinfo) by
//! the probes' `tcp://` checks and the supervisord client, and for connecting to a unix
//! socket whose accept backlog is full (`unix_transport::connect_before`).
//!
//! Does not own what a failure means to the caller (a probe's `DNS:` failure, an
//! unreachable supervisord).

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

/// Why [`on_thread_before`] has no result.
#[derive(Debug)]
pub enum Late {
    /// The deadline passed first.
    Timeout,
    /// No thread could be started.
    NoThread(io::Error),
    /// The thread ended without a result (it panicked).
    Died,
}

/// Runs `call` on a new thread named `name` and returns its result if it comes before
/// `deadline`; after that the thread is left to finish on its own.
pub fn on_thread_before<T: Send + 'static>(
    name: &str,
    deadline: Instant,
    call: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Late> {
    let (tx, rx) = mpsc::sync_channel(1);
    thread::Builder::new()
        .name(name.into())
        .stack_size(128 * 1024)
        .spawn(move || {
            // The receiver is gone if the deadline already passed.
            let _ = tx.send(call());
        })
        .map_err(Late::NoThread)?;
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(result) => Ok(result),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(Late::Timeout),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(Late::Died),
    }
}

/// Why a name gave no address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// The deadline passed first.
    Timeout,
    /// The lookup failed or found no address; the text names the host.
    Lookup(String),
    /// No thread could be started to look it up, or it died; the text names the host.
    Thread(String),
}

/// The addresses of `host` at `port`, before `deadline`. An IP literal, the usual
/// case, needs no thread and no lookup.
pub fn resolve_before(
    host: &str,
    port: u16,
    deadline: Instant,
) -> Result<Vec<SocketAddr>, ResolveError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let name = host.to_string();
    let lookup = move || (name.as_str(), port).to_socket_addrs().map(Vec::from_iter);
    match on_thread_before("resolve", deadline, lookup) {
        Ok(Ok(addrs)) if addrs.is_empty() => {
            Err(ResolveError::Lookup(format!("{host} has no address")))
        }
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(ResolveError::Lookup(format!("{host}: {e}"))),
        Err(Late::Timeout) => Err(ResolveError::Timeout),
        Err(Late::NoThread(e)) => Err(ResolveError::Thread(format!(
            "cannot start a thread to resolve {host}: {e}"
        ))),
        Err(Late::Died) => Err(ResolveError::Thread(format!(
            "resolving {host}: the resolver thread failed"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_ip_literal_is_its_own_address_even_past_the_deadline() {
        let past = Instant::now() - Duration::from_secs(1);
        assert_eq!(
            resolve_before("::1", 80, past),
            Ok(vec!["[::1]:80".parse().expect("addr")])
        );
    }

    #[test]
    fn a_name_that_does_not_resolve_is_a_lookup_error_naming_it() {
        let deadline = Instant::now() + Duration::from_secs(10);
        match resolve_before("httpok-test.invalid", 80, deadline) {
            Err(ResolveError::Lookup(msg)) => {
                assert!(msg.starts_with("httpok-test.invalid"), "{msg}")
            }
            other => panic!("expected a lookup error, got {other:?}"),
        }
    }
}
