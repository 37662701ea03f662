//! Reading certificates: the DER walk on certificates openssl makes, every prefix and
//! malformed input, and live handshakes against openssl s_server.

use super::*;
use crate::test_rig::TempDir;
use crate::test_rig::certs::Certs;
use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::SystemTime;

fn now() -> i64 {
    let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
    i64::try_from(since.expect("after 1970").as_secs()).expect("i64")
}

#[test]
fn epoch_seconds_read_as_utc_dates_to_the_ends_of_jiffs_range() {
    assert_eq!(utc(0), "1970-01-01 00:00 UTC");
    assert_eq!(utc(-1), "1969-12-31 23:59 UTC");
    assert_eq!(utc(951_782_400 + 3_660), "2000-02-29 01:01 UTC");
    assert_eq!(utc(253_402_300_799), "9999-12-31 23:59 UTC");
    assert_eq!(
        utc(253_402_300_800),
        "253402300800 seconds after 1970-01-01 UTC"
    );
    assert_eq!(
        utc(i64::MIN),
        format!("{} seconds after 1970-01-01 UTC", i64::MIN)
    );
}

#[test]
fn a_30_day_certificate_ends_in_utc_time_in_30_days() {
    let dir = TempDir::new("cert-30");
    let certs = Certs::make_rsa(&dir);
    let dump = certs.openssl(&["asn1parse", "-in", "valid.pem"]);
    assert!(
        dump.contains("UTCTIME") && !dump.contains("GENERALIZEDTIME"),
        "{dump}"
    );
    let end = not_after(&certs.der("valid.pem")).expect("not_after");
    assert_eq!(end, certs.not_after("valid.pem"));
    assert!((end - now() - 30 * 86_400).abs() < 600, "{end}");
}

#[test]
fn a_certificate_ending_after_2049_is_read_from_generalized_time() {
    let dir = TempDir::new("cert-20000");
    let certs = Certs::make(&dir);
    let cert = certs.valid_for(20_000);
    let dump = certs.openssl(&["asn1parse", "-in", &cert]);
    assert!(dump.contains("GENERALIZEDTIME"), "{dump}");
    let end = not_after(&certs.der(&cert)).expect("not_after");
    assert_eq!(end, certs.not_after(&cert));
    assert!((end - now() - 20_000 * 86_400).abs() < 600, "{end}");
}

#[test]
fn every_truncation_of_a_certificate_is_an_error() {
    let der = Certs::make(&TempDir::new("cert-prefix")).der("valid.pem");
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
    // Known instants, leap days and the ends of both forms' ranges.
    let known: [(u8, &[u8], i64); 7] = [
        (UTC_TIME, b"700101000000Z", 0),
        (UTC_TIME, b"380119031408Z", 1 << 31),
        (GENERALIZED_TIME, b"20000229000000Z", 951_782_400),
        (GENERALIZED_TIME, b"20000301000000Z", 951_868_800),
        (GENERALIZED_TIME, b"21000301000000Z", 4_107_542_400),
        (GENERALIZED_TIME, b"99991231235959Z", 253_402_300_799),
        (GENERALIZED_TIME, b"00000101000000Z", -62_167_219_200),
    ];
    for (tag, text, epoch) in known {
        assert_eq!(
            time(tag, text),
            Ok(epoch),
            "{}",
            String::from_utf8_lossy(text)
        );
    }
    assert_eq!(time(UTC_TIME, b"491231235959Z"), Ok(2_524_607_999));
    assert_eq!(time(UTC_TIME, b"500101000000Z"), Ok(-631_152_000));
    assert_eq!(
        time(GENERALIZED_TIME, b"20500101000000Z"),
        Ok(2_524_608_000)
    );
    let bad: [(u8, &[u8], &str); 10] = [
        (GENERALIZED_TIME, b"21000229000000Z", "not a valid date"),
        (UTC_TIME, b"491231235960Z", "not a valid date"),
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

/// `openssl s_server` serving a certificate of [`Certs`] on a free loopback port; killed
/// on drop.
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
fn serve(dir: &Path, cert: &str, extra: &[&str]) -> (Server, u16) {
    let child = Command::new("/usr/bin/openssl")
        .args(["s_server", "-accept", "127.0.0.1:0", "-www"])
        .args(["-cert", cert, "-key", "leaf.key"])
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
    let dir = TempDir::new("cert-s13");
    let der = Certs::make_rsa(&dir).der("valid.pem");
    let (_server, port) = serve(&dir, "valid.pem", &["-tls1_3"]);
    let timeout = Duration::from_secs(10);
    let read = read_chain("127.0.0.1", port, "localhost", timeout).expect("read");
    assert_eq!(Ok(read.not_after), not_after(&der));
    assert_eq!(read.expiring, "CN=localhost");
    assert_eq!(read.tls_version, "TLS 1.3");
}

#[test]
fn an_intermediate_that_expires_before_the_leaf_is_the_chains_earliest_expiry() {
    let dir = TempDir::new("cert-chain");
    let certs = Certs::make(&dir);
    let chain = certs.chain(2, 30);
    let (_server, port) = serve(&dir, &chain.leaf, &["-cert_chain", &chain.intermediate]);
    let read = read_chain("127.0.0.1", port, "localhost", Duration::from_secs(10)).expect("read");
    // openssl's own reading of the intermediate, not httpok's DER walk, is the oracle.
    assert_eq!(read.not_after, certs.not_after(&chain.intermediate));
    assert!(read.not_after < certs.not_after(&chain.leaf));
    assert_eq!(
        read.expiring,
        "CN=httpok test intermediate CA (certificate 2 of the chain)"
    );
    // The leaf alone reads as the leaf.
    let (_server, port) = serve(&dir, &chain.leaf, &[]);
    let read = read_chain("127.0.0.1", port, "localhost", Duration::from_secs(10)).expect("read");
    assert_eq!(read.not_after, certs.not_after(&chain.leaf));
    assert_eq!(read.expiring, "CN=localhost");
}

#[test]
fn a_subject_without_a_common_name_has_none() {
    let dir = TempDir::new("cert-no-cn");
    let certs = Certs::make(&dir);
    certs.openssl(&[
        "req",
        "-x509",
        "-days",
        "1",
        "-subj",
        "/O=no name here",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "o.key",
        "-out",
        "o.pem",
    ]);
    assert_eq!(common_name(&certs.der("o.pem")), Ok(None));
    assert_eq!(
        common_name(&certs.der("valid.pem")),
        Ok(Some("localhost".into()))
    );
    assert!(common_name(b"\x30\x03\x02\x01").is_err());
}

#[test]
fn the_leaf_expiry_of_a_tls12_server_is_read_with_an_ip_as_server_name() {
    let dir = TempDir::new("cert-s12");
    let certs = Certs::make(&dir);
    let cert = certs.valid_for(20_000);
    let der = certs.der(&cert);
    let (_server, port) = serve(&dir, &cert, &["-tls1_2"]);
    let timeout = Duration::from_secs(10);
    let read = read_chain("127.0.0.1", port, "127.0.0.1", timeout).expect("read");
    assert_eq!(Ok(read.not_after), not_after(&der));
    assert_eq!(read.tls_version, "TLS 1.2");
}

#[test]
fn a_server_that_never_answers_the_hello_times_out() {
    // The kernel completes the connection from the backlog; nobody ever reads: only the
    // deadline can end the handshake, and it says so.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    match read_chain("127.0.0.1", port, "localhost", Duration::from_secs(1)) {
        Err(e) => assert!(e.ends_with("no answer within 1.0s"), "{e}"),
        Ok(t) => panic!("read {t:?} from a silent server"),
    }
}

#[test]
fn a_server_that_sends_a_byte_now_and_then_still_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let Ok((mut tcp, _)) = listener.accept() else {
            return;
        };
        // The header of a 16 KiB handshake record, then its bytes one every 200 ms (so
        // rustls keeps waiting for the rest) until the client goes: each byte well
        // within any per-read timeout, so only the one deadline can end it.
        let header = [0x16, 0x03, 0x03, 0x40, 0x00];
        for byte in header.into_iter().chain(std::iter::repeat(0)) {
            if tcp.write_all(&[byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    match read_chain("127.0.0.1", port, "localhost", Duration::from_secs(1)) {
        Err(e) => assert!(e.ends_with("no answer within 1.0s"), "{e}"),
        Ok(t) => panic!("read {t:?} from a trickling server"),
    }
}

#[test]
fn a_bad_server_name_or_a_closed_port_is_an_error_naming_it() {
    let timeout = Duration::from_secs(5);
    let e = read_chain("127.0.0.1", 1, "not a name!", timeout).expect_err("bad name");
    assert!(e.contains("\"not a name!\" is not a DNS name"), "{e}");
    // Port 0: nothing can listen there, so no other test or program can answer.
    let e = read_chain("127.0.0.1", 0, "localhost", timeout).expect_err("closed");
    assert!(e.starts_with("cannot connect to 127.0.0.1:0: "), "{e}");
}
