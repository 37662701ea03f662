//! ureq's and the OS's errors into a [`Failure`], by type wherever there is one: a
//! timeout, a refusal, a TLS fault (a `rustls::Error`, often inside an `io::Error`),
//! a name that did not resolve (our resolver's [`ResolveError`]), httpok's own want of
//! descriptors or memory ([`Failure::Starved`]), anything else as it reads.

use std::io;

use super::{CheckProber, Failure, tls::describe_tls};
use crate::deadline::{self, ResolveError};

impl CheckProber {
    pub(super) fn classify(&self, error: &ureq::Error) -> Failure {
        match error {
            ureq::Error::Timeout(_) => Failure::Timeout(self.settings.timeout),
            ureq::Error::Io(e) => self.classify_io(e),
            ureq::Error::HostNotFound => Failure::Dns("host not found".into()),
            ureq::Error::Rustls(e) => Failure::Tls(describe_tls(e)),
            ureq::Error::Tls(msg) => Failure::Tls(msg.to_string()),
            other => Failure::Connect(other.to_string()),
        }
    }

    pub(super) fn classify_io(&self, e: &io::Error) -> Failure {
        // ureq passes two typed errors inside io::Error: a failed handshake arrives as
        // Io(InvalidData) around the rustls::Error (rustls' stream wraps it so), and a
        // body read that fails wraps ureq's own error (a timeout, say).
        if let Some(inner) = e.get_ref() {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return Failure::Tls(describe_tls(tls));
            }
            if let Some(error) = inner.downcast_ref::<ureq::Error>() {
                return self.classify(error);
            }
            // The agents' resolver (`deadline::ureq`) passes its own error so.
            if let Some(error) = inner.downcast_ref::<ResolveError>() {
                return self.classify_resolve(error);
            }
        }
        if deadline::is_local_shortage(e) {
            return Failure::Starved(e.to_string());
        }
        match e.kind() {
            io::ErrorKind::ConnectionRefused => Failure::Refused,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                Failure::Timeout(self.settings.timeout)
            }
            _ => Failure::Connect(e.to_string()),
        }
    }

    /// A name that gave no address: a timeout as one, the rest (no such name, too many
    /// lookups still running) as a DNS failure.
    pub(super) fn classify_resolve(&self, e: &ResolveError) -> Failure {
        match e {
            ResolveError::Timeout => Failure::Timeout(self.settings.timeout),
            ResolveError::Lookup(msg) | ResolveError::Busy(msg) => Failure::Dns(msg.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::settings;
    use super::*;
    use std::time::Duration;

    #[test]
    fn errors_inside_io_errors_are_classified_by_type_not_text() {
        let prober = CheckProber::new(settings(1000), &[]).expect("prober");
        let handshake = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(
            prober.classify_io(&handshake),
            Failure::Tls("unknown issuer".into())
        );
        // The same words as plain text are not a TLS failure.
        let text = io::Error::new(
            io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        );
        assert!(matches!(prober.classify_io(&text), Failure::Connect(_)));
        // A body read that timed out: ureq's timeout inside io::Error.
        let body_timeout = ureq::Error::Timeout(ureq::Timeout::Global).into_io();
        assert_eq!(
            prober.classify_io(&body_timeout),
            Failure::Timeout(Duration::from_secs(1))
        );
        // httpok out of descriptors or memory: its own want, not the peer's fault.
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            let own = io::Error::from_raw_os_error(errno);
            assert_eq!(prober.classify_io(&own), Failure::Starved(own.to_string()));
            let inside = ureq::Error::Io(io::Error::from_raw_os_error(errno));
            assert!(matches!(prober.classify(&inside), Failure::Starved(_)));
        }
        let other = io::Error::new(io::ErrorKind::InvalidData, "bad chunk size");
        assert_eq!(
            prober.classify_io(&other),
            Failure::Connect("bad chunk size".into())
        );
    }
}
