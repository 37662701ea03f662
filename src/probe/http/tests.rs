use super::super::testing::{serve, settings};
use super::*;
use crate::config::target::Target;
use crate::probe::StatusCodes;
use crate::test_rig::hostile::refused_addr;
use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

#[test]
fn a_200_with_the_body_text_is_healthy_and_sends_our_user_agent() {
    let (url, server) = serve(
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nall is OK",
        1,
    );
    let mut s = settings(5000);
    s.body = Some("OK".into());
    let target = Target::parse(&url).expect("url");
    let prober = CheckProber::new(s, &[&target]).expect("prober");
    assert_eq!(prober.probe(&target).result, Ok(200));
    let requests = server.join().expect("server");
    assert!(requests[0].starts_with("GET /health HTTP/1.1"));
    assert!(
        requests[0]
            .to_lowercase()
            .contains(&format!("user-agent: httpok/{}", env!("CARGO_PKG_VERSION")))
    );
}

#[test]
fn wrong_status_missing_body_and_redirects_fail_with_reasons() {
    let cases: [(&'static [u8], Failure); 3] = [
        (
            b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
            Failure::Status(500),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            Failure::BodyMissing("OK".into()),
        ),
        (
            b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n",
            Failure::Status(302),
        ),
    ];
    for (reply, expected) in cases {
        let (url, _server) = serve(reply, 1);
        let mut s = settings(5000);
        s.body = Some("OK".into());
        let target = Target::parse(&url).expect("url");
        let prober = CheckProber::new(s, &[&target]).expect("prober");
        assert_eq!(prober.probe(&target).result, Err(expected));
    }
}

#[test]
fn a_server_that_never_answers_times_out_at_the_deadline() {
    // Connected by the kernel, never read or answered while the test runs: only the
    // deadline can end the probe, and the failure says it did.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let target =
        Target::parse(&format!("http://{}/", listener.local_addr().expect("addr"))).expect("url");
    let prober = CheckProber::new(settings(700), &[&target]).expect("prober");
    let outcome = prober.probe(&target);
    assert_eq!(
        outcome.result,
        Err(Failure::Timeout(Duration::from_millis(700)))
    );
    drop(listener);
}

#[test]
fn a_refused_port_is_retried_until_the_deadline_then_fails() {
    let target = Target::parse(&format!("http://{}/", refused_addr())).expect("url");
    let prober = CheckProber::new(settings(1200), &[&target]).expect("prober");
    assert_eq!(prober.probe(&target).result, Err(Failure::Refused));
}

#[test]
fn a_port_that_refuses_then_listens_within_the_timeout_is_healthy() {
    // An app restarting: its port refuses the first attempt (bound, not listening),
    // then listens 200 ms later. Only a retry after the refusal can reach it.
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    let addr = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("addr");
    let server = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        socket.listen(8).expect("listen");
        let (mut stream, _) = TcpListener::from(socket).accept().expect("accept");
        let _ = stream.read(&mut [0u8; 4096]);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
    let target = Target::parse(&format!("http://{addr}/")).expect("url");
    let prober = CheckProber::new(settings(10_000), &[&target]).expect("prober");
    assert_eq!(prober.probe(&target).result, Ok(200));
    server.join().expect("server");
}

#[test]
fn body_search_crosses_chunk_boundaries_and_respects_the_limit() {
    let contains = |reader: &mut dyn Read, needle: &str, limit: u64| {
        let mut s = settings(5000);
        s.body = Some(needle.into());
        match scan_body(reader, &s, limit).expect("read") {
            None => true,
            Some(Failure::BodyMissing(missing)) => {
                assert_eq!(missing, needle);
                false
            }
            Some(other) => panic!("not a body search: {other:?}"),
        }
    };
    let mut body = vec![b'x'; 8190];
    body.extend_from_slice(b"NEEDLE");
    assert!(contains(&mut &body[..], "NEEDLE", u64::MAX));
    assert!(!contains(&mut &body[..], "NEEDLE", 4096));
    assert!(!contains(&mut &b"abc"[..], "abcd", u64::MAX));
    let mut huge = io::repeat(b'y').take(64 * 1024 * 1024);
    assert!(!contains(&mut huge, "z", 1024 * 1024));
}

/// A whole response with `body`, as `serve` answers it.
fn response(status: &str, body: &[u8]) -> &'static [u8] {
    let mut reply = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    reply.extend_from_slice(body);
    reply.leak()
}

/// One real probe of a server answering `reply`, judged by `s`.
fn probe(reply: &'static [u8], s: ProbeSettings) -> Result<u16, Failure> {
    let (url, _server) = serve(reply, 1);
    let target = Target::parse(&url).expect("url");
    let prober = CheckProber::new(s, &[&target]).expect("prober");
    prober.probe(&target).result
}

fn pattern(source: &str) -> Option<Pattern> {
    Some(Pattern::new(source).expect("valid pattern"))
}

#[test]
fn a_body_regex_must_match_somewhere_in_the_body() {
    let mut s = settings(5000);
    s.body_regex = pattern(r#""status":\s*"(up|ok)""#);
    let up = response("200 OK", br#"{"db": "down", "status": "up"}"#);
    assert_eq!(probe(up, s.clone()), Ok(200));
    let down = response("200 OK", br#"{"status": "down"}"#);
    assert_eq!(
        probe(down, s),
        Err(Failure::BodyNoMatch(r#""status":\s*"(up|ok)""#.into()))
    );
}

#[test]
fn a_body_matching_the_not_regex_fails_and_names_the_pattern() {
    let mut s = settings(5000);
    s.body_not_regex = pattern("maintenance mode|Traceback");
    let fine = response("200 OK", b"<h1>Welcome</h1>");
    assert_eq!(probe(fine, s.clone()), Ok(200));
    let crashed = response(
        "200 OK",
        b"Internal error\nTraceback (most recent call last):",
    );
    let failure = probe(crashed, s).expect_err("matched");
    assert_eq!(
        failure,
        Failure::BodyMatched("maintenance mode|Traceback".into())
    );
    assert_eq!(
        failure.to_string(),
        "body matches /maintenance mode|Traceback/"
    );
    assert_eq!(failure.subject(), "bad body returned");
}

#[test]
fn all_three_body_rules_apply_at_once_and_the_not_regex_is_reported_first() {
    let mut s = settings(5000);
    s.body = Some("OK".into());
    s.body_regex = pattern(r"db=(up|ok)");
    s.body_not_regex = pattern("maintenance mode|Traceback");
    let cases: [(&[u8], Result<u16, Failure>); 4] = [
        (b"OK db=up", Ok(200)),
        (
            b"OK db=up maintenance mode",
            Err(Failure::BodyMatched("maintenance mode|Traceback".into())),
        ),
        (b"fine db=up", Err(Failure::BodyMissing("OK".into()))),
        (
            b"OK db=down",
            Err(Failure::BodyNoMatch("db=(up|ok)".into())),
        ),
    ];
    for (body, expected) in cases {
        let show = String::from_utf8_lossy(body);
        assert_eq!(
            probe(response("200 OK", body), s.clone()),
            expected,
            "{show}"
        );
    }
}

#[test]
fn status_classes_and_ranges_decide_which_statuses_are_healthy() {
    let with_codes = |codes: &str| {
        let mut s = settings(5000);
        s.codes = StatusCodes::parse(&[codes]).expect("codes");
        s
    };
    let no_content = response("204 No Content", b"");
    assert_eq!(probe(no_content, with_codes("2xx")), Ok(204));
    let found = b"HTTP/1.1 302 Found\r\nLocation: /login\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(probe(found, with_codes("200-399")), Ok(302));
    let oops = response("500 Internal Server Error", b"");
    assert_eq!(
        probe(oops, with_codes("200-399")),
        Err(Failure::Status(500))
    );
}

#[test]
fn a_pattern_past_the_body_scan_limit_is_not_found() {
    let limit = usize::try_from(MAX_BODY_SCAN).expect("fits");
    let mut body = vec![b'x'; limit];
    body.extend_from_slice(b"READY");
    let mut s = settings(20_000);
    s.body_regex = pattern("READY");
    assert_eq!(
        probe(response("200 OK", &body), s),
        Err(Failure::BodyNoMatch("READY".into()))
    );
    // Within the limit, it is.
    let mut s = settings(5000);
    s.body_regex = pattern("READY");
    assert_eq!(probe(response("200 OK", &body[limit - 100..]), s), Ok(200));
}

#[test]
fn the_end_of_the_scan_limit_is_not_the_end_of_the_body() {
    let mut s = settings(5000);
    s.body_regex = pattern("done$");
    assert_eq!(scan_body(&b"all done"[..], &s, 1024).expect("read"), None);
    assert_eq!(
        scan_body(&b"all done, and more"[..], &s, 8).expect("read"),
        Some(Failure::BodyNoMatch("done$".into()))
    );
}

/// A body that reads `head`, then fails: a scan that reaches the failure read too far.
fn then_fails(head: &'static [u8]) -> impl Read {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("read past the point of certainty"))
        }
    }
    head.chain(Broken)
}

#[test]
fn the_scan_stops_once_every_rule_is_settled() {
    let mut s = settings(5000);
    s.body = Some("OK".into());
    s.body_regex = pattern("OK");
    // `^` can only match at the start: settled after the first byte.
    s.body_not_regex = pattern("^Traceback");
    assert_eq!(
        scan_body(then_fails(b"OK, fine"), &s, u64::MAX).expect("stopped"),
        None
    );
    // A body_regex that can no longer match decides too.
    s.body_regex = pattern(r"^\{");
    assert_eq!(
        scan_body(then_fails(b"OK, no json"), &s, u64::MAX).expect("stopped"),
        Some(Failure::BodyNoMatch(r"^\{".into()))
    );
    // But a body_not_regex that may still match keeps it reading.
    s.body_not_regex = pattern("Traceback");
    assert!(scan_body(then_fails(b"OK {"), &s, u64::MAX).is_err());
}
