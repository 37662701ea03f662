//! A `tcp://` probe: healthy when a connection opens (nothing is sent), retried while
//! the port refuses, every address of the host tried in turn.

use std::net::TcpStream;
use std::thread;
use std::time::Instant;

use super::{Failure, Prober, REFUSED_RETRY};
use crate::deadline::{ResolveError, resolve_before};

impl Prober {
    /// `Ok(0)` (there is no status) once a connection opens before `deadline`.
    pub(super) fn probe_tcp(
        &self,
        host: &str,
        port: u16,
        deadline: Instant,
    ) -> Result<u16, Failure> {
        let addrs = resolve_before(host, port, deadline).map_err(|e| match e {
            ResolveError::Timeout => Failure::Timeout(self.settings.timeout),
            ResolveError::Lookup(msg) => Failure::Dns(msg),
            ResolveError::Thread(msg) => Failure::Connect(msg),
        })?;
        loop {
            let mut last = Failure::Connect("no address".into());
            for addr in &addrs {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    return Err(Failure::Timeout(self.settings.timeout));
                }
                match TcpStream::connect_timeout(addr, remaining) {
                    Ok(_) => return Ok(0),
                    Err(e) => last = self.classify_io(&e),
                }
            }
            if last == Failure::Refused && Instant::now() + REFUSED_RETRY < deadline {
                thread::sleep(REFUSED_RETRY);
                continue;
            }
            return Err(last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{refused_addr, settings};
    use super::*;
    use crate::target::Target;
    use std::net::TcpListener;

    #[test]
    fn tcp_checks_pass_on_connect_and_fail_on_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let open =
            Target::parse(&format!("tcp://{}", listener.local_addr().expect("addr"))).expect("url");
        let closed = Target::parse(&format!("tcp://{}", refused_addr())).expect("url");
        let prober = Prober::new(settings(600), &[]).expect("prober");
        let outcomes = prober.probe_all(&[&open, &closed]);
        assert!(outcomes[0].result.is_ok());
        assert_eq!(outcomes[1].result, Err(Failure::Refused));
    }

    #[test]
    fn a_name_that_does_not_resolve_is_a_dns_failure() {
        let target = Target::parse("tcp://httpok-test.invalid:80").expect("url");
        let prober = Prober::new(settings(5000), &[]).expect("prober");
        match prober.probe(&target).result {
            Err(Failure::Dns(msg)) => assert!(msg.contains("httpok-test.invalid"), "{msg}"),
            other => panic!("expected a DNS failure, got {other:?}"),
        }
    }
}
