//! The agents' resolvers: [`DeadlineResolver`] for TCP, [`UnixResolver`] for a socket
//! file (no lookup at all).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use ureq::Error;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::deadline::{self, ResolveError};

/// Resolves through [`deadline::resolve`](fn@deadline::resolve): an IP literal
/// (`http://127.0.0.1:8080/`, the usual probe) in place with no thread, a name on a
/// bounded, shared lookup thread.
/// A failed lookup is an `Error::Io` around the [`ResolveError`], which the probes'
/// classifier reads by type.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineResolver;

impl Resolver for DeadlineResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, Error> {
        let (Some(host), Some(port)) = (uri.host(), port(uri)) else {
            return Err(Error::BadUri(format!("{uri}: no host or port")));
        };
        let deadline = super::deadline(timeout)?;
        let found = deadline::resolve(host, port, deadline).map_err(|e| match e {
            ResolveError::Timeout => Error::Timeout(timeout.reason),
            other => Error::Io(io::Error::other(other)),
        })?;
        let mut addrs = self.empty();
        // ureq keeps at most 16; the rest are dropped, as ureq's own resolver does.
        for addr in found {
            if addrs.try_push(addr).is_err() {
                break;
            }
        }
        Ok(addrs)
    }
}

/// The URI's port, or its scheme's.
fn port(uri: &Uri) -> Option<u16> {
    uri.port_u16().or_else(|| match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    })
}

/// Skips DNS: any host "resolves" to a placeholder address, which the unix connector
/// ignores.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use ureq::Timeout;

    fn timeout(after: Duration) -> NextTimeout {
        NextTimeout {
            after: after.into(),
            reason: Timeout::Global,
            ..NextTimeout::default()
        }
    }

    fn resolve(uri: &str) -> Result<Vec<SocketAddr>, Error> {
        let uri = uri.parse::<Uri>().expect("uri");
        DeadlineResolver
            .resolve(&uri, &Config::default(), timeout(Duration::from_secs(10)))
            .map(|addrs| addrs.iter().copied().collect())
    }

    #[test]
    fn ip_literals_and_default_ports_are_read_from_the_uri() {
        let addr = |s: &str| vec![s.parse::<SocketAddr>().expect("addr")];
        assert_eq!(resolve("http://[::1]:8080/").ok(), Some(addr("[::1]:8080")));
        assert_eq!(
            resolve("http://127.0.0.1/").ok(),
            Some(addr("127.0.0.1:80"))
        );
        assert_eq!(
            resolve("https://127.0.0.1/").ok(),
            Some(addr("127.0.0.1:443"))
        );
        assert_eq!(
            resolve("http://127.0.0.1:81/").ok(),
            Some(addr("127.0.0.1:81"))
        );
    }

    #[test]
    fn a_failed_lookup_carries_its_typed_error() {
        match resolve("http://httpok-test.invalid/") {
            Err(Error::Io(e)) => {
                let inner = e.get_ref().and_then(|i| i.downcast_ref::<ResolveError>());
                assert!(matches!(inner, Some(ResolveError::Lookup(_))), "{e:?}");
            }
            other => panic!("expected a lookup error, got {other:?}"),
        }
    }

    #[test]
    fn no_deadline_is_refused() {
        let uri = "http://127.0.0.1/".parse::<Uri>().expect("uri");
        let never = NextTimeout::default();
        assert!(
            DeadlineResolver
                .resolve(&uri, &Config::default(), never)
                .is_err()
        );
    }
}
