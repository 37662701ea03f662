//! A `tcp://` probe: healthy when a connection opens, retried while the port refuses,
//! every address of the host tried in turn. With `send`, that text is written once
//! connected; with `expect`, what the peer answers must match it before the deadline
//! (monit's SEND/EXPECT, blackbox_exporter's query_response: redis' PING and +PONG).

use std::io;
use std::thread;
use std::time::Instant;

use super::{CheckProber, Failure, MAX_BODY_SCAN, REFUSED_RETRY};
use crate::deadline::{self, Stream};

impl CheckProber {
    /// `Ok(0)` (there is no status) once a connection opens before `deadline`.
    pub(super) fn probe_tcp(
        &self,
        host: &str,
        port: u16,
        deadline: Instant,
    ) -> Result<u16, Failure> {
        let addrs =
            deadline::resolve(host, port, deadline).map_err(|e| self.classify_resolve(&e))?;
        loop {
            match deadline::connect_tcp(&addrs, deadline) {
                Ok(stream) => return self.exchange(&Stream::Tcp(stream), deadline).map(|()| 0),
                Err(e) => {
                    let failure = self.classify_io(&e);
                    if failure == Failure::Refused && Instant::now() + REFUSED_RETRY < deadline {
                        thread::sleep(REFUSED_RETRY);
                        continue;
                    }
                    return Err(failure);
                }
            }
        }
    }

    /// `send`, then read until `expect` matches; nothing to do without them.
    fn exchange(&self, stream: &Stream, deadline: Instant) -> Result<(), Failure> {
        let s = &self.settings;
        if s.send.is_none() && s.expect.is_none() {
            return Ok(());
        }
        let timeout = Failure::Timeout(s.timeout);
        if let Some(text) = &s.send {
            stream
                .write_all_before(text, deadline)
                .map_err(|e| self.classify_io(&e))?;
        }
        let Some(expect) = &s.expect else {
            return Ok(());
        };
        let mut matcher = expect.matcher();
        let mut chunk = [0u8; 4096];
        let mut read = 0u64;
        let missing = || Failure::ExpectMissing(expect.as_str().to_string());
        // A matcher settled without a match (`^\+PONG` after `-ERR`) need not wait for
        // more: the answer is wrong already.
        while read < MAX_BODY_SCAN && !matcher.is_settled() {
            // Once the peer has answered, the deadline ends the wait for a match: a
            // server that answers and keeps the connection open (redis does) did not
            // time out, it answered something else.
            let out_of_time = |read: u64| if read > 0 { missing() } else { timeout.clone() };
            let n = match stream.read_before(&mut chunk, deadline) {
                // The peer closed: the end of the answer, where a `$` matches.
                Ok(0) => {
                    matcher.finish();
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(match self.classify_io(&e) {
                        Failure::Timeout(_) => out_of_time(read),
                        other => other,
                    });
                }
            };
            read += n as u64;
            matcher.feed(&chunk[..n]);
        }
        if matcher.is_matched() {
            return Ok(());
        }
        Err(missing())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::settings;
    use super::super::{Pattern, ProbeSettings};
    use super::*;
    use crate::config::target::Target;
    use crate::test_rig::hostile::refused_addr;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::thread::JoinHandle;
    use std::time::Duration;

    #[test]
    fn tcp_checks_pass_on_connect_and_fail_on_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let open =
            Target::parse(&format!("tcp://{}", listener.local_addr().expect("addr"))).expect("url");
        let closed = Target::parse(&format!("tcp://{}", refused_addr())).expect("url");
        let prober = CheckProber::new(settings(600), &[]).expect("prober");
        assert!(prober.probe(&open).result.is_ok());
        assert_eq!(prober.probe(&closed).result, Err(Failure::Refused));
    }

    /// A peer that reads a line, answers `reply` and keeps the connection open.
    fn answer_and_hold(reply: &'static [u8]) -> (Target, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let target =
            Target::parse(&format!("tcp://{}", listener.local_addr().expect("addr"))).expect("url");
        let server = thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut line = [0u8; 64];
            let _ = stream.read(&mut line);
            let _ = stream.write_all(reply);
            // Held open until the prober hangs up.
            let _ = stream.read(&mut line);
        });
        (target, server)
    }

    #[test]
    fn an_answer_that_does_not_match_is_said_so_even_when_the_peer_keeps_it_open() {
        let mut s = settings(600);
        s.send = Some(b"PING\r\n".to_vec());
        s.expect = Some(crate::probe::Pattern::new(r"^\+PONG").expect("pattern"));
        let (target, server) = answer_and_hold(b"-ERR LOADING\r\n");
        let prober = CheckProber::new(s.clone(), &[]).expect("prober");
        assert_eq!(
            prober.probe(&target).result,
            Err(Failure::ExpectMissing(r"^\+PONG".into()))
        );
        server.join().expect("server");
        // Nothing answered at all: that is a timeout.
        let (target, server) = answer_and_hold(b"");
        assert_eq!(
            prober.probe(&target).result,
            Err(Failure::Timeout(Duration::from_millis(600)))
        );
        server.join().expect("server");
        let (target, server) = answer_and_hold(b"+PONG\r\n");
        assert_eq!(prober.probe(&target).result, Ok(0));
        server.join().expect("server");
    }

    #[test]
    fn a_name_that_does_not_resolve_is_a_dns_failure() {
        let target = Target::parse("tcp://httpok-test.invalid:80").expect("url");
        let prober = CheckProber::new(settings(5000), &[]).expect("prober");
        match prober.probe(&target).result {
            Err(Failure::Dns(msg)) => assert!(msg.contains("httpok-test.invalid"), "{msg}"),
            other => panic!("expected a DNS failure, got {other:?}"),
        }
    }

    /// A server for one connection on 127.0.0.1:0 that lets `answer` talk to it; its
    /// target and a handle that gives what `answer` read.
    fn server(
        answer: impl FnOnce(&mut TcpStream) -> Vec<u8> + Send + 'static,
    ) -> (Target, JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let target = Target::parse(&format!("tcp://{}", listener.local_addr().expect("addr")))
            .expect("target");
        let handle = thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            // No test waits longer: a client that never closes cannot hang the suite.
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .expect("timeout");
            answer(&mut stream)
        });
        (target, handle)
    }

    /// Reads up to and including the first `\r\n` (or what came before the peer closed).
    fn read_line(stream: &mut TcpStream) -> Vec<u8> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") && matches!(stream.read(&mut byte), Ok(1)) {
            line.push(byte[0]);
        }
        line
    }

    /// Waits until the client closes its end.
    fn until_closed(stream: &mut TcpStream) {
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    }

    /// A redis-like server that reads one command, writes `reply` and keeps the
    /// connection open until the client goes.
    fn redis(reply: &'static [u8]) -> (Target, JoinHandle<Vec<u8>>) {
        server(move |stream| {
            let command = read_line(stream);
            stream.write_all(reply).expect("reply");
            until_closed(stream);
            command
        })
    }

    fn ping(timeout_ms: u64) -> ProbeSettings {
        let mut s = settings(timeout_ms);
        s.send = Some(b"PING\r\n".to_vec());
        s.expect = Some(Pattern::new(r"^\+PONG").expect("valid"));
        s
    }

    fn probe(target: &Target, s: ProbeSettings) -> Result<u16, Failure> {
        CheckProber::new(s, &[])
            .expect("prober")
            .probe(target)
            .result
    }

    #[test]
    fn a_pong_is_healthy_as_soon_as_it_arrives_and_the_server_got_exactly_ping() {
        let (target, server) = redis(b"+PONG\r\n");
        // The server keeps the connection open: waiting for more would time out.
        assert_eq!(probe(&target, ping(10_000)), Ok(0));
        assert_eq!(server.join().expect("server"), b"PING\r\n");
    }

    #[test]
    fn an_error_answer_fails_at_once_without_waiting_for_the_deadline() {
        let (target, server) = redis(b"-ERR unknown command\r\n");
        assert_eq!(
            probe(&target, ping(10_000)),
            Err(Failure::ExpectMissing(r"^\+PONG".into()))
        );
        assert_eq!(server.join().expect("server"), b"PING\r\n");
    }

    #[test]
    fn a_server_that_never_answers_times_out_near_the_deadline() {
        let (target, server) = server(|stream| {
            let command = read_line(stream);
            until_closed(stream);
            command
        });
        // The peer holds the connection until the prober hangs up: only the deadline
        // can end the probe, and the failure says it did.
        let prober = CheckProber::new(ping(700), &[]).expect("prober");
        let outcome = prober.probe(&target);
        assert_eq!(
            outcome.result,
            Err(Failure::Timeout(Duration::from_millis(700)))
        );
        assert_eq!(server.join().expect("server"), b"PING\r\n");
    }

    #[test]
    fn a_server_that_closes_without_answering_gives_no_expected_answer() {
        // It reads the command first: closing on unread bytes would reset the
        // connection, a different failure.
        let (target, _server) = server(read_line);
        assert_eq!(
            probe(&target, ping(5000)),
            Err(Failure::ExpectMissing(r"^\+PONG".into()))
        );
        // Nothing sent, and the server closes at once.
        let (target, _server) = server(|_| Vec::new());
        let mut s = ping(5000);
        s.send = None;
        assert_eq!(
            probe(&target, s),
            Err(Failure::ExpectMissing(r"^\+PONG".into()))
        );
    }

    #[test]
    fn a_dollar_matches_where_the_peer_closes() {
        let (target, _server) = server(|stream| {
            stream.write_all(b"220 ready\r\nbye").expect("write");
            Vec::new()
        });
        let mut s = settings(5000);
        s.expect = Some(Pattern::new("bye$").expect("valid"));
        assert_eq!(probe(&target, s), Ok(0));
    }

    #[test]
    fn send_alone_is_healthy_once_written_and_the_server_gets_exactly_those_bytes() {
        let sent = b"\x00binary\xff\r\nPING\r\n".to_vec();
        let (target, server) = server(|stream| {
            let mut all = Vec::new();
            stream.read_to_end(&mut all).expect("read");
            all
        });
        let mut s = settings(5000);
        s.send = Some(sent.clone());
        assert_eq!(probe(&target, s), Ok(0));
        assert_eq!(server.join().expect("server"), sent);
    }
}
