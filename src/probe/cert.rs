//! A server's certificate chain expiry: [`read_chain`] does a TLS handshake of its own
//! (ureq's `TlsConfig` has no hook for the peer certificates) and finds the earliest
//! notAfter of every certificate the server presented (leaf and intermediates, as
//! blackbox_exporter's `probe_ssl_earliest_cert_expiry`), the subject CN of the one that
//! expires then, and the TLS version the handshake agreed. [`not_after`] and
//! [`common_name`] read a certificate's DER.
//!
//! The handshake accepts any certificate, as only the date is read; the server must
//! still sign the handshake with the certificate's key, so the date is that of the
//! certificate the server holds. Every read and write is bounded by one deadline, so a
//! server that accepts and never answers costs the timeout, no more.
//!
//! Does not own what an expiry means (a warning threshold, a failed check), nor checking
//! the certificate's issuer or name: the https probes do that through ureq.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use jiff::civil::DateTime;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

use super::tls::describe_tls;
use crate::deadline::{self, ResolveError, Stream};

/// What one handshake showed of a TLS server's certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRead {
    /// The earliest notAfter of the certificates the server presented, in seconds
    /// since the Unix epoch.
    pub not_after: i64,
    /// The certificate that expires then: its subject CN (`CN=localhost`), with its
    /// place in the chain when not the leaf (`CN=R11 (certificate 2 of the chain)`).
    pub expiring: String,
    /// The protocol agreed, as blackbox_exporter names it (`TLS 1.3`).
    pub tls_version: &'static str,
}

/// The chain of the TLS server at `host:port`, read within about `timeout`.
/// `server_name` is sent as SNI (a DNS name; a bare IP literal such as `127.0.0.1` or
/// `::1` is accepted and sends none).
pub fn read_chain(
    host: &str,
    port: u16,
    server_name: &str,
    timeout: Duration,
) -> Result<ChainRead, String> {
    let deadline = Instant::now() + timeout;
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|e| format!("{server_name:?} is not a DNS name or IP address: {e}"))?;
    let tcp = connect(host, port, deadline, timeout)?;
    let mut conn = ClientConnection::new(client_config()?, name)
        .map_err(|e| format!("TLS to {host}:{port}: {}", describe_tls(&e)))?;
    let stream = Stream::Tcp(tcp);
    let mut stream = stream.bounded(deadline);
    while conn.is_handshaking() {
        conn.complete_io(&mut stream)
            .map_err(|e| handshake_error(&e, host, port, timeout))?;
    }
    let certs = conn.peer_certificates().unwrap_or_default();
    let read = earliest(certs).map_err(|e| format!("certificates of {host}:{port}: {e}"))?;
    let tls_version = version_name(conn.protocol_version());
    // A polite close, so the server logs no aborted handshake; the dates are already read.
    conn.send_close_notify();
    let _ = conn.write_tls(&mut stream);
    Ok(ChainRead {
        not_after: read.0,
        expiring: read.1,
        tls_version,
    })
}

/// The earliest notAfter of `chain` and what names the certificate that has it (the
/// first such, so the leaf when it ties).
fn earliest(chain: &[CertificateDer<'_>]) -> Result<(i64, String), String> {
    let mut found: Option<(i64, usize)> = None;
    for (i, der) in chain.iter().enumerate() {
        let end = not_after(der).map_err(|e| format!("certificate {} of the chain: {e}", i + 1))?;
        if found.is_none_or(|(earliest, _)| end < earliest) {
            found = Some((end, i));
        }
    }
    let (end, i) = found.ok_or("the server sent no certificate")?;
    let cn = chain.get(i).and_then(|der| common_name(der).ok().flatten());
    let name = match (cn, i) {
        (Some(cn), 0) => format!("CN={cn}"),
        (Some(cn), _) => format!("CN={cn} (certificate {} of the chain)", i + 1),
        (None, _) => format!("certificate {} of the chain", i + 1),
    };
    Ok((end, name))
}

/// blackbox_exporter's words for a TLS version (its `probe_tls_version_info` label).
fn version_name(version: Option<rustls::ProtocolVersion>) -> &'static str {
    match version {
        Some(rustls::ProtocolVersion::TLSv1_0) => "TLS 1.0",
        Some(rustls::ProtocolVersion::TLSv1_1) => "TLS 1.1",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        _ => "unknown",
    }
}

/// A connection to the first address of `host` that accepts one before `deadline`.
fn connect(
    host: &str,
    port: u16,
    deadline: Instant,
    timeout: Duration,
) -> Result<TcpStream, String> {
    let timed_out = || {
        format!(
            "{host}:{port}: no connection within {:.1}s",
            timeout.as_secs_f64()
        )
    };
    let addrs = deadline::resolve(host, port, deadline).map_err(|e| match e {
        ResolveError::Timeout => timed_out(),
        ResolveError::Lookup(msg) | ResolveError::Busy(msg) => msg,
    })?;
    deadline::connect_tcp(&addrs, deadline).map_err(|e| {
        if deadline::is_timeout(&e) {
            timed_out()
        } else {
            format!("cannot connect to {host}:{port}: {e}")
        }
    })
}

/// A failed handshake in words: a timeout as one, rustls' own errors as
/// [`describe_tls`] says them (its stream wraps them in `io::Error`).
fn handshake_error(e: &io::Error, host: &str, port: u16, timeout: Duration) -> String {
    if let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return format!("TLS handshake with {host}:{port}: {}", describe_tls(tls));
    }
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!(
            "TLS handshake with {host}:{port}: no answer within {:.1}s",
            timeout.as_secs_f64()
        ),
        _ => format!("TLS handshake with {host}:{port}: {e}"),
    }
}

/// A client config with ring (the provider ureq is built with) and [`AnyCertificate`].
fn client_config() -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS config: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Accepts every certificate (expired, self-signed, for another name: its date is all
/// we read) but checks the handshake signatures with the provider's algorithms.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The notAfter of a DER certificate (RFC 5280 `Certificate`), in seconds since the
/// Unix epoch. Walks only as far as the validity; anything malformed on the way is an
/// error, never a panic.
pub fn not_after(der: &[u8]) -> Result<i64, String> {
    let certificate = Der(der).expect(SEQUENCE, "certificate")?;
    let mut tbs = Der(Der(certificate).expect(SEQUENCE, "tbsCertificate")?);
    if tbs.0.first() == Some(&VERSION) {
        tbs.expect(VERSION, "version")?;
    }
    tbs.expect(INTEGER, "serialNumber")?;
    tbs.expect(SEQUENCE, "signature algorithm")?;
    tbs.expect(SEQUENCE, "issuer")?;
    let mut validity = Der(tbs.expect(SEQUENCE, "validity")?);
    validity.time("notBefore")?;
    validity.time("notAfter")
}

/// The first common name (CN) of a DER certificate's subject, if it has one in a
/// string type people read (UTF8String, PrintableString, IA5String, TeletexString);
/// control characters are dropped, as the name goes into log lines.
pub fn common_name(der: &[u8]) -> Result<Option<String>, String> {
    let certificate = Der(der).expect(SEQUENCE, "certificate")?;
    let mut tbs = Der(Der(certificate).expect(SEQUENCE, "tbsCertificate")?);
    if tbs.0.first() == Some(&VERSION) {
        tbs.expect(VERSION, "version")?;
    }
    for what in ["serialNumber", "signature algorithm", "issuer", "validity"] {
        tbs.next(what)?;
    }
    let mut subject = Der(tbs.expect(SEQUENCE, "subject")?);
    while !subject.0.is_empty() {
        let mut set = Der(subject.expect(SET, "subject RDN")?);
        while !set.0.is_empty() {
            let mut pair = Der(set.expect(SEQUENCE, "subject attribute")?);
            let oid = pair.expect(OID, "attribute type")?;
            let (tag, value) = pair.next("attribute value")?;
            let readable = matches!(tag, 0x0c | 0x13 | 0x14 | 0x16);
            if oid == COMMON_NAME && readable {
                let text = String::from_utf8_lossy(value);
                return Ok(Some(text.chars().filter(|c| !c.is_control()).collect()));
            }
        }
    }
    Ok(None)
}

const INTEGER: u8 = 0x02;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
/// 2.5.4.3, id-at-commonName, as DER contents.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
/// `[0] EXPLICIT`, the optional version of a tbsCertificate.
const VERSION: u8 = 0xA0;

/// The DER not yet read: each element is taken off the front.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The next element's tag and contents.
    fn next(&mut self, what: &str) -> Result<(u8, &'a [u8]), String> {
        let truncated = || format!("{what}: truncated");
        let (&tag, rest) = self.0.split_first().ok_or_else(truncated)?;
        let (&first, rest) = rest.split_first().ok_or_else(truncated)?;
        let (len, rest) = match first {
            0..=0x7f => (usize::from(first), rest),
            0x80 => return Err(format!("{what}: indefinite length (not DER)")),
            0x81..=0x84 => {
                let count = usize::from(first & 0x7f);
                let (bytes, rest) = rest.split_at_checked(count).ok_or_else(truncated)?;
                // At most four bytes: the length fits a u32, so any usize.
                let len = bytes
                    .iter()
                    .fold(0usize, |len, &b| len << 8 | usize::from(b));
                (len, rest)
            }
            _ => return Err(format!("{what}: length of {} bytes", first & 0x7f)),
        };
        let (contents, rest) = rest.split_at_checked(len).ok_or_else(truncated)?;
        self.0 = rest;
        Ok((tag, contents))
    }

    /// The next element's contents, which must have `tag`.
    fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], String> {
        match self.next(what)? {
            (found, contents) if found == tag => Ok(contents),
            (found, _) => Err(format!("{what}: tag {found:#04x}, expected {tag:#04x}")),
        }
    }

    /// The next element as a UTCTime or GeneralizedTime, in seconds since the epoch.
    fn time(&mut self, what: &str) -> Result<i64, String> {
        let (tag, contents) = self.next(what)?;
        let text = std::str::from_utf8(contents).unwrap_or("");
        let digits = |range: std::ops::Range<usize>| -> Result<i64, String> {
            match text.get(range) {
                Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => {
                    s.parse().map_err(|e| format!("{what}: {e}"))
                }
                _ => Err(format!("{what}: {text:?} is not a DER time")),
            }
        };
        // RFC 5280: both forms in UTC ("Z") with seconds; UTCTime's YY from 50 is 19YY.
        let (year, rest) = match (tag, text.len()) {
            (UTC_TIME, 13) => match digits(0..2)? {
                yy @ 50.. => (1900 + yy, 2),
                yy => (2000 + yy, 2),
            },
            (GENERALIZED_TIME, 15) => (digits(0..4)?, 4),
            (UTC_TIME | GENERALIZED_TIME, _) => {
                return Err(format!("{what}: {text:?} is not a DER time"));
            }
            _ => return Err(format!("{what}: tag {tag:#04x} is not a time")),
        };
        if !text.ends_with('Z') {
            return Err(format!("{what}: {text:?} is not in UTC"));
        }
        let field = |i: usize| digits(rest + 2 * i..rest + 2 * i + 2);
        let (month, day) = (field(0)?, field(1)?);
        let (hour, minute, second) = (field(2)?, field(3)?, field(4)?);
        let invalid = || format!("{what}: {text:?} is not a valid date");
        // Four digits for the year, two for the rest: every conversion below fits.
        let small = |n: i64| i8::try_from(n).map_err(|_| invalid());
        let year = i16::try_from(year).map_err(|_| invalid())?;
        let (month, day, hour) = (small(month)?, small(day)?, small(hour)?);
        let (minute, second) = (small(minute)?, small(second)?);
        // jiff refuses a day its month does not have, a leap second and the like.
        let datetime =
            DateTime::new(year, month, day, hour, minute, second, 0).map_err(|_| invalid())?;
        Ok(epoch_seconds(datetime))
    }
}

/// The instant epoch seconds count from, as a UTC date and time.
const EPOCH: DateTime = DateTime::constant(1970, 1, 1, 0, 0, 0, 0);

/// The epoch seconds of a UTC date and time. jiff's civil arithmetic, not its
/// `Timestamp`, whose range stops a day short of 9999-12-31T23:59:59Z, RFC 5280's
/// notAfter for "no expiry".
fn epoch_seconds(at: DateTime) -> i64 {
    at.duration_since(EPOCH).as_secs()
}

/// Epoch seconds as `2026-12-07 12:00 UTC`; beyond years -9999 to 9999, as the number.
pub fn utc(epoch: i64) -> String {
    match EPOCH.checked_add(SignedDuration::from_secs(epoch)) {
        Ok(at) => at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => format!("{epoch} seconds after 1970-01-01 UTC"),
    }
}

#[cfg(test)]
mod tests;
