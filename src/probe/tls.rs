//! TLS for the probes: the rustls config ureq gets (`--cacert` roots, `--insecure`)
//! and rustls' errors in words, named by their type rather than by their text.

use std::path::Path;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use super::ProbeSettings;

/// The TLS config for every https probe. Fails on a `--cacert` file that cannot be
/// read or holds no certificate.
pub(super) fn tls_config(settings: &ProbeSettings) -> Result<TlsConfig, String> {
    let mut builder = TlsConfig::builder().disable_verification(settings.insecure);
    if let Some(path) = &settings.cacert {
        let certs = read_cacert(path).map_err(|e| format!("--cacert {e}"))?;
        builder = builder.root_certs(RootCerts::new_with_certs(&certs));
    }
    Ok(builder.build())
}

/// A larger `cacert` file is refused: Debian's whole bundle of public CAs is about
/// 220 KB, and `--cacert /dev/zero` must not read memory full.
const MAX_CACERT_BYTES: u64 = 4 << 20;

/// The CA certificates of a `cacert` PEM file: at least one, or why not. The settings
/// call it at start, so that a bad file is an error then, not a failing probe later.
pub fn read_cacert(path: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let shown = path.display();
    let pem = crate::config::file::read_regular(path, MAX_CACERT_BYTES).map_err(|e| {
        format!("{shown}: cannot read it ({e}): give a readable PEM file of CA certificates")
    })?;
    if pem.len() as u64 > MAX_CACERT_BYTES {
        return Err(format!(
            "{shown} is over 4 MiB, far more than a file of CA certificates: is it the right file?"
        ));
    }
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "{shown} is not a valid PEM file ({e}): give the CA certificates as \
                     -----BEGIN CERTIFICATE----- blocks"
                ));
            }
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "{shown} holds no certificate: give a PEM file with -----BEGIN CERTIFICATE----- blocks"
        ));
    }
    Ok(certs)
}

/// A TLS failure in words: the certificate faults people meet (self-signed or private
/// CA, expiry, wrong name) by name, the rest as rustls says them.
pub(super) fn describe_tls(error: &rustls::Error) -> String {
    use rustls::CertificateError as Cert;
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            Cert::UnknownIssuer => "unknown issuer".into(),
            Cert::Expired | Cert::ExpiredContext { .. } => "certificate expired".into(),
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => {
                "certificate not valid yet".into()
            }
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => {
                "certificate not valid for this host name".into()
            }
            Cert::BadSignature => "bad certificate signature".into(),
            Cert::Revoked => "certificate revoked".into(),
            // webpki's reasons, which rustls passes on by their Debug names.
            Cert::Other(other) => match other.to_string().as_str() {
                "CaUsedAsEndEntity" => {
                    "the server's certificate is a CA certificate, not one for a server".into()
                }
                "EndEntityUsedAsCa" => {
                    "a server certificate signed the server's certificate, as if a CA".into()
                }
                reason => format!("certificate rejected ({reason})"),
            },
            _ => error.to_string(),
        },
        // What a plain-HTTP server's answer looks like to a TLS client.
        rustls::Error::InvalidMessage(_) => {
            format!("{error} (does the server speak TLS on this port?)")
        }
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{serve, settings};
    use super::super::{CheckProber, Failure};
    use super::*;
    use crate::config::target::Target;
    use std::time::Duration;

    #[test]
    fn a_cacert_that_is_a_device_is_refused_unread() {
        let e = read_cacert(std::path::Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            e,
            "/dev/zero: cannot read it (it is a device, not a regular file): give a \
             readable PEM file of CA certificates"
        );
    }

    #[test]
    fn certificate_faults_are_named_in_words() {
        use rustls::CertificateError as Cert;
        use rustls::pki_types::UnixTime;
        let time = |secs| UnixTime::since_unix_epoch(Duration::from_secs(secs));
        let cases = [
            (Cert::UnknownIssuer, "unknown issuer"),
            (
                Cert::ExpiredContext {
                    time: time(2),
                    not_after: time(1),
                },
                "certificate expired",
            ),
            (Cert::NotValidYet, "certificate not valid yet"),
            (
                Cert::NotValidForName,
                "certificate not valid for this host name",
            ),
        ];
        for (cert, words) in cases {
            assert_eq!(
                describe_tls(&rustls::Error::InvalidCertificate(cert)),
                words
            );
        }
        // Faults without words of ours read as rustls writes them.
        assert_eq!(
            describe_tls(&rustls::Error::NoCertificatesPresented),
            rustls::Error::NoCertificatesPresented.to_string()
        );
    }

    #[test]
    fn webpki_reasons_read_as_words() {
        /// What webpki's errors look like to us: their Debug name as Display.
        #[derive(Debug)]
        struct Webpki(&'static str);
        impl std::fmt::Display for Webpki {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Webpki {}
        let other = |reason| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
                std::sync::Arc::new(Webpki(reason)),
            )))
        };
        assert_eq!(
            describe_tls(&other("CaUsedAsEndEntity")),
            "the server's certificate is a CA certificate, not one for a server"
        );
        assert_eq!(
            describe_tls(&other("UnsupportedCertVersion")),
            "certificate rejected (UnsupportedCertVersion)"
        );
    }

    #[test]
    fn an_https_probe_of_a_plain_http_port_is_a_tls_failure() {
        // A real handshake failure, from ureq and the rustls it was built with: this
        // fails if the rustls in Cargo.toml is not the one ureq uses.
        let (url, _server) = serve(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 1);
        let target = Target::parse(&url.replacen("http://", "https://", 1)).expect("url");
        let prober = CheckProber::new(settings(5000), &[&target]).expect("prober");
        match prober.probe(&target).result {
            Err(Failure::Tls(reason)) => assert!(reason.contains("speak TLS"), "{reason}"),
            other => panic!("expected a TLS failure, got {other:?}"),
        }
    }
}
