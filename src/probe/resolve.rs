//! The http agent's resolver. ureq's own looks every host up on a new thread, so the
//! deadline holds even when DNS hangs; but for an IP literal
//! (`http://127.0.0.1:8080/`, the usual probe) that is a thread per probe for nothing.

use std::net::{IpAddr, SocketAddr};

use ureq::Error;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// Resolves an IP-literal host in place and hands names to ureq's resolver.
#[derive(Debug, Default)]
pub(super) struct IpLiteralResolver(DefaultResolver);

impl Resolver for IpLiteralResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, Error> {
        match (literal_ip(uri), port(uri)) {
            (Some(ip), Some(port)) => {
                let mut addrs = self.0.empty();
                addrs.push(SocketAddr::new(ip, port));
                Ok(addrs)
            }
            _ => self.0.resolve(uri, config, timeout),
        }
    }
}

/// The URI's host if it is an IP address (an IPv6 one in brackets).
fn literal_ip(uri: &Uri) -> Option<IpAddr> {
    uri.host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
}

/// The URI's port, or its scheme's.
fn port(uri: &Uri) -> Option<u16> {
    uri.port_u16().or_else(|| match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_and_default_ports_are_read_from_the_uri() {
        let uri = |s: &str| s.parse::<Uri>().expect("uri");
        assert_eq!(
            literal_ip(&uri("http://[::1]:8080/")),
            Some("::1".parse().expect("ip"))
        );
        assert_eq!(
            literal_ip(&uri("http://127.0.0.1/")),
            Some("127.0.0.1".parse().expect("ip"))
        );
        assert_eq!(literal_ip(&uri("http://localhost/")), None);
        assert_eq!(port(&uri("https://127.0.0.1/")), Some(443));
        assert_eq!(port(&uri("http://127.0.0.1/")), Some(80));
        assert_eq!(port(&uri("http://127.0.0.1:81/")), Some(81));
    }
}
