//! A server's leaf certificate expiry: [`leaf_not_after`] does a TLS handshake of its
//! own (ureq's `TlsConfig` has no hook for the peer certificate) and [`not_after`] reads
//! the date out of the certificate's DER.
//!
//! The handshake accepts any certificate, as only the date is read; the server must
//! still sign the handshake with the certificate's key, so the date is that of the
//! certificate the server holds. Every read and write is bounded by one deadline, so a
//! server that accepts and never answers costs the timeout, no more.
//!
//! Does not own what an expiry means (a warning threshold, a failed check), nor checking
//! the certificate's issuer or name: the https probes do that through ureq.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

use super::tls::describe_tls;
use crate::deadline::{ResolveError, resolve_before};

/// The notAfter of the leaf certificate of the TLS server at `host:port`, in seconds
/// since the Unix epoch, within about `timeout`. `server_name` is sent as SNI (a DNS
/// name; a bare IP literal such as `127.0.0.1` or `::1` is accepted and sends none).
pub fn leaf_not_after(
    host: &str,
    port: u16,
    server_name: &str,
    timeout: Duration,
) -> Result<i64, String> {
    let deadline = Instant::now() + timeout;
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|e| format!("{server_name:?} is not a DNS name or IP address: {e}"))?;
    let tcp = connect(host, port, deadline, timeout)?;
    let mut conn = ClientConnection::new(client_config()?, name)
        .map_err(|e| format!("TLS to {host}:{port}: {}", describe_tls(&e)))?;
    let mut stream = DeadlineStream { tcp, deadline };
    while conn.is_handshaking() {
        conn.complete_io(&mut stream)
            .map_err(|e| handshake_error(&e, host, port, timeout))?;
    }
    let der = conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .ok_or_else(|| format!("TLS to {host}:{port}: the server sent no certificate"))?;
    let expiry = not_after(der).map_err(|e| format!("certificate of {host}:{port}: {e}"))?;
    // A polite close, so the server logs no aborted handshake; the date is already read.
    conn.send_close_notify();
    let _ = conn.write_tls(&mut stream);
    Ok(expiry)
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
    let addrs = resolve_before(host, port, deadline).map_err(|e| match e {
        ResolveError::Timeout => timed_out(),
        ResolveError::Lookup(msg) | ResolveError::Thread(msg) => msg,
    })?;
    let mut last = format!("{host} has no address");
    for addr in &addrs {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(timed_out());
        }
        match TcpStream::connect_timeout(addr, remaining) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
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

/// A TCP stream whose every read and write gets only the time left before `deadline`:
/// one socket timeout set once would let a server that sends a byte now and then hold
/// the handshake open for as long as it likes.
struct DeadlineStream {
    tcp: TcpStream,
    deadline: Instant,
}

impl DeadlineStream {
    fn remaining(&self) -> io::Result<Duration> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
        }
        Ok(remaining)
    }
}

impl Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.set_read_timeout(Some(self.remaining()?))?;
        self.tcp.read(buf)
    }
}

impl Write for DeadlineStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.set_write_timeout(Some(self.remaining()?))?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
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

const INTEGER: u8 = 0x02;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const SEQUENCE: u8 = 0x30;
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
        if !(1..=12).contains(&month)
            || !(1..=days_in_month(year, month)).contains(&day)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(format!("{what}: {text:?} is not a valid date"));
        }
        Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`): years counted from March, so the leap day ends the year.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::time::SystemTime;

    /// A fresh dir for one test's files, removed at its end.
    fn dir(tag: &str) -> crate::test_dir::TestDir {
        crate::test_dir::TestDir::new(&format!("cert-{tag}"))
    }

    /// Runs /usr/bin/openssl in `dir`; its stdout, or a panic with its stderr.
    #[track_caller]
    fn openssl(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("/usr/bin/openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .expect("run openssl");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "openssl {args:?}: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A self-signed certificate for `days` with a new `key` ("rsa:2048" or "ec"):
    /// `c.pem`, `c.der` and `k.pem` in `dir`; returns the DER.
    fn make_cert(dir: &Path, key: &str, days: &str) -> Vec<u8> {
        let mut args = vec!["req", "-x509", "-newkey", key, "-nodes", "-days", days];
        if key == "ec" {
            args.extend(["-pkeyopt", "ec_paramgen_curve:prime256v1"]);
        }
        args.extend([
            "-subj",
            "/CN=localhost",
            "-keyout",
            "k.pem",
            "-out",
            "c.pem",
        ]);
        openssl(dir, &args);
        openssl(
            dir,
            &["x509", "-in", "c.pem", "-outform", "DER", "-out", "c.der"],
        );
        std::fs::read(dir.join("c.der")).expect("read c.der")
    }

    /// The notAfter openssl reads from `c.pem`, turned into epoch seconds by date(1).
    fn openssl_end(dir: &Path) -> i64 {
        let line = openssl(
            dir,
            &[
                "x509", "-in", "c.pem", "-noout", "-enddate", "-dateopt", "iso_8601",
            ],
        );
        let iso = line
            .trim()
            .strip_prefix("notAfter=")
            .expect("notAfter= line");
        let out = Command::new("date")
            .args(["-u", "-d", iso, "+%s"])
            .output()
            .expect("run date");
        assert!(out.status.success(), "date -d {iso:?}");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("epoch seconds")
    }

    fn now() -> i64 {
        let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
        i64::try_from(since.expect("after 1970").as_secs()).expect("i64")
    }

    #[test]
    fn civil_dates_convert_to_known_epoch_seconds() {
        let epoch = |y, m, d| days_from_civil(y, m, d) * 86_400;
        assert_eq!(epoch(1970, 1, 1), 0);
        assert_eq!(epoch(1950, 1, 1), -631_152_000);
        assert_eq!(epoch(2000, 2, 29), 951_782_400);
        assert_eq!(epoch(2000, 3, 1), 951_868_800);
        assert_eq!(epoch(2038, 1, 19) + 3 * 3600 + 14 * 60 + 8, 1 << 31);
        assert_eq!(epoch(2100, 3, 1) - epoch(2100, 2, 28), 86_400);
        assert_eq!(epoch(9999, 12, 31), 253_402_214_400);
    }

    #[test]
    fn a_30_day_certificate_ends_in_utc_time_in_30_days() {
        let dir = dir("30");
        let der = make_cert(&dir, "rsa:2048", "30");
        let dump = openssl(&dir, &["asn1parse", "-in", "c.pem"]);
        assert!(dump.contains("UTCTIME"), "{dump}");
        let end = not_after(&der).expect("not_after");
        assert_eq!(end, openssl_end(&dir));
        assert!((end - now() - 30 * 86_400).abs() < 600, "{end}");
    }

    #[test]
    fn a_certificate_ending_after_2049_is_read_from_generalized_time() {
        let dir = dir("20000");
        let der = make_cert(&dir, "ec", "20000");
        let dump = openssl(&dir, &["asn1parse", "-in", "c.pem"]);
        assert!(dump.contains("GENERALIZEDTIME"), "{dump}");
        let end = not_after(&der).expect("not_after");
        assert_eq!(end, openssl_end(&dir));
        assert!((end - now() - 20_000 * 86_400).abs() < 600, "{end}");
    }

    #[test]
    fn every_truncation_of_a_certificate_is_an_error() {
        let der = make_cert(&dir("prefix"), "ec", "30");
        for len in 0..der.len() {
            let mut cut = der[..len].to_vec();
            assert!(not_after(&cut).is_err(), "prefix of {len} bytes");
            // The same bytes with the outer length still claiming the whole certificate.
            cut.resize(der.len(), 0);
            let _ = not_after(&cut);
        }
        assert!(not_after(&der).is_ok());
    }

    /// A DER element of `tag` around `contents` (short form: under 128 bytes).
    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut der = vec![tag, u8::try_from(contents.len()).expect("short")];
        der.extend(contents);
        der
    }

    #[test]
    fn malformed_der_is_an_error_naming_what_is_wrong() {
        // A certificate with no version, an empty algorithm and issuer, and `end` for
        // its notAfter: just what `not_after` walks.
        let time = |tag: u8, end: &[u8]| {
            let validity = [tlv(UTC_TIME, b"200101000000Z"), tlv(tag, end)].concat();
            let tbs = [
                tlv(INTEGER, &[1]),
                tlv(SEQUENCE, &[]),
                tlv(SEQUENCE, &[]),
                tlv(SEQUENCE, &validity),
            ];
            not_after(&tlv(SEQUENCE, &tlv(SEQUENCE, &tbs.concat())))
        };
        assert_eq!(time(UTC_TIME, b"491231235959Z"), Ok(2_524_607_999));
        assert_eq!(time(UTC_TIME, b"500101000000Z"), Ok(-631_152_000));
        assert_eq!(
            time(GENERALIZED_TIME, b"20500101000000Z"),
            Ok(2_524_608_000)
        );
        let bad: [(u8, &[u8], &str); 8] = [
            (UTC_TIME, b"491231235959", "not a DER time"),
            (UTC_TIME, b"4912312359590", "not in UTC"),
            (UTC_TIME, b"49123123595aZ", "not a DER time"),
            (UTC_TIME, b"490230000000Z", "not a valid date"),
            (UTC_TIME, b"491231240000Z", "not a valid date"),
            (GENERALIZED_TIME, b"2050010100000Z", "not a DER time"),
            (
                GENERALIZED_TIME,
                "2050010100\u{e9}00Z".as_bytes(),
                "not a DER time",
            ),
            (0x04, b"491231235959Z", "is not a time"),
        ];
        for (tag, text, why) in bad {
            match time(tag, text) {
                Err(e) => assert!(e.contains(why), "{text:?}: {e}"),
                Ok(t) => panic!("{text:?} read as {t}"),
            }
        }
        let cases: [(&[u8], &str); 6] = [
            (&[], "certificate: truncated"),
            (&[0x30, 0x80, 0x00, 0x00], "indefinite length"),
            (&[0x30, 0x85, 1, 1, 1, 1, 1], "length of 5 bytes"),
            (
                &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
                "certificate: truncated",
            ),
            (&[0x30, 0x82, 0x00], "certificate: truncated"),
            (&[0x31, 0x00], "certificate: tag 0x31, expected 0x30"),
        ];
        for (der, why) in cases {
            match not_after(der) {
                Err(e) => assert!(e.contains(why), "{der:?}: {e}"),
                Ok(t) => panic!("{der:?} read as {t}"),
            }
        }
    }

    #[test]
    fn long_form_lengths_are_read() {
        // The same element with its length in one to four bytes.
        for len in [
            &[0x05][..],
            &[0x81, 5],
            &[0x82, 0, 5],
            &[0x83, 0, 0, 5],
            &[0x84, 0, 0, 0, 5],
        ] {
            let mut der = vec![0x04];
            der.extend(len);
            der.extend(b"hello!");
            let mut reader = Der(&der);
            assert_eq!(reader.next("x"), Ok((0x04, &b"hello"[..])));
            assert_eq!(reader.0, b"!");
        }
    }

    /// `openssl s_server` serving `c.pem` on a free loopback port; killed on drop.
    struct Server(Child);

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Starts it with `extra` arguments on a port the kernel picks (no race with other
    /// programs for a "free" one) and returns it and its port once it listens: it says
    /// `ACCEPT 127.0.0.1:PORT` on stdout after listen(2). Waits 20 s at most.
    fn serve(dir: &Path, extra: &[&str]) -> (Server, u16) {
        let child = Command::new("/usr/bin/openssl")
            .args(["s_server", "-accept", "127.0.0.1:0", "-www"])
            .args(["-cert", "c.pem", "-key", "k.pem"])
            .args(extra)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openssl s_server");
        let mut server = Server(child);
        let stdout = server.0.stdout.take().expect("stdout piped");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads to the end (the kill on drop), so a chatty server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("ACCEPT 127.0.0.1:") {
                    let _ = tx.send(port.trim().parse::<u16>());
                }
            }
        });
        let port = rx.recv_timeout(Duration::from_secs(20));
        let port = port
            .expect("openssl s_server never listened")
            .expect("a port number");
        (server, port)
    }

    #[test]
    fn the_leaf_expiry_of_a_tls13_server_is_that_of_its_certificate() {
        let dir = dir("s13");
        let der = make_cert(&dir, "rsa:2048", "30");
        let (_server, port) = serve(&dir, &["-tls1_3"]);
        let timeout = Duration::from_secs(10);
        assert_eq!(
            leaf_not_after("127.0.0.1", port, "localhost", timeout),
            not_after(&der)
        );
    }

    #[test]
    fn the_leaf_expiry_of_a_tls12_server_is_read_with_an_ip_as_server_name() {
        let dir = dir("s12");
        let der = make_cert(&dir, "ec", "20000");
        let (_server, port) = serve(&dir, &["-tls1_2"]);
        let timeout = Duration::from_secs(10);
        assert_eq!(
            leaf_not_after("127.0.0.1", port, "127.0.0.1", timeout),
            not_after(&der)
        );
    }

    #[test]
    fn a_server_that_never_answers_the_hello_times_out() {
        // The kernel completes the connection from the backlog; nobody ever reads.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let start = Instant::now();
        let result = leaf_not_after("127.0.0.1", port, "localhost", Duration::from_secs(1));
        let took = start.elapsed();
        match result {
            Err(e) => assert!(e.contains("no answer within 1.0s"), "{e}"),
            Ok(t) => panic!("read {t} from a silent server"),
        }
        assert!(took < Duration::from_secs(10), "took {took:?}");
    }

    #[test]
    fn a_server_that_sends_a_byte_now_and_then_still_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            let Ok((mut tcp, _)) = listener.accept() else {
                return;
            };
            // The header of a 16 KiB handshake record, then its bytes one every 200 ms
            // (so rustls keeps waiting for the rest) until the client goes.
            let header = [0x16, 0x03, 0x03, 0x40, 0x00];
            for byte in header.into_iter().chain(std::iter::repeat(0)).take(100) {
                if tcp.write_all(&[byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let start = Instant::now();
        let result = leaf_not_after("127.0.0.1", port, "localhost", Duration::from_secs(1));
        let took = start.elapsed();
        match result {
            Err(e) => assert!(e.contains("no answer within 1.0s"), "{e}"),
            Ok(t) => panic!("read {t} from a trickling server"),
        }
        assert!(took < Duration::from_secs(3), "took {took:?}");
    }

    #[test]
    fn a_bad_server_name_or_a_closed_port_is_an_error_naming_it() {
        let timeout = Duration::from_secs(5);
        let e = leaf_not_after("127.0.0.1", 1, "not a name!", timeout).expect_err("bad name");
        assert!(e.contains("\"not a name!\" is not a DNS name"), "{e}");
        // Port 0: nothing can listen there, so no other test or program can answer.
        let e = leaf_not_after("127.0.0.1", 0, "localhost", timeout).expect_err("closed");
        assert!(e.starts_with("cannot connect to 127.0.0.1:0: "), "{e}");
    }
}
