//! Name lookups under a deadline, for the probes' `tcp://` checks and the supervisord
//! client: getaddrinfo has no timeout of its own, so a name is looked up on a helper
//! thread and given up at the deadline (the late answer is dropped with the thread).
//! IP literals, the usual case, need no thread and no lookup.
//!
//! Does not own what a failed lookup means to the caller (a probe's `DNS:` failure, an
//! unreachable supervisord).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

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

/// The addresses of `host` (an IP literal or a name) at `port`, before `deadline`.
pub fn resolve_before(
    host: &str,
    port: u16,
    deadline: Instant,
) -> Result<Vec<SocketAddr>, ResolveError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (tx, rx) = mpsc::sync_channel(1);
    let name = host.to_string();
    thread::Builder::new()
        .name("resolve".into())
        .stack_size(128 * 1024)
        .spawn(move || {
            // The receiver is gone if the deadline already passed.
            let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Vec::from_iter));
        })
        .map_err(|e| {
            ResolveError::Thread(format!("cannot start a thread to resolve {host}: {e}"))
        })?;
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(addrs)) if addrs.is_empty() => {
            Err(ResolveError::Lookup(format!("{host} has no address")))
        }
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(ResolveError::Lookup(format!("{host}: {e}"))),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(ResolveError::Timeout),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(ResolveError::Thread(format!(
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
