//! A `tcp://` probe: healthy when a connection opens, retried while the port refuses,
//! every address of the host tried in turn. With `send`, that text is written once
//! connected; with `expect`, what the peer answers must match it before the deadline
//! (monit's SEND/EXPECT, blackbox_exporter's query_response: redis' PING and +PONG).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Instant;

use super::{CheckProber, Failure, MAX_BODY_SCAN, REFUSED_RETRY};
use crate::deadline::{ResolveError, resolve_before};

impl CheckProber {
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
                    Ok(stream) => return self.exchange(stream, deadline).map(|()| 0),
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

    /// `send`, then read until `expect` matches; nothing to do without them.
    fn exchange(&self, mut stream: TcpStream, deadline: Instant) -> Result<(), Failure> {
        let s = &self.settings;
        if s.send.is_none() && s.expect.is_none() {
            return Ok(());
        }
        let timeout = Failure::Timeout(s.timeout);
        let remaining = || {
            let left = deadline.saturating_duration_since(Instant::now());
            (!left.is_zero()).then_some(left)
        };
        if let Some(text) = &s.send {
            stream
                .set_write_timeout(remaining())
                .map_err(|_| timeout.clone())?;
            stream.write_all(text).map_err(|e| self.classify_io(&e))?;
        }
        let Some(expect) = &s.expect else {
            return Ok(());
        };
        let mut matcher = expect.matcher();
        let mut chunk = [0u8; 4096];
        let mut read = 0u64;
        let missing = || Failure::ExpectMissing(expect.as_str().to_string());
        while read < MAX_BODY_SCAN {
            // Once the peer has answered, the deadline ends the wait for a match: a
            // server that answers -ERR and keeps the connection open (redis does) did
            // not time out, it answered something else.
            let out_of_time = |read: u64| if read > 0 { missing() } else { timeout.clone() };
            stream
                .set_read_timeout(Some(remaining().ok_or_else(|| out_of_time(read))?))
                .map_err(|_| timeout.clone())?;
            let n = match stream.read(&mut chunk) {
                Ok(0) => break,
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
            if matcher.feed(&chunk[..n]) {
                return Ok(());
            }
        }
        if matcher.finish() {
            return Ok(());
        }
        Err(missing())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{refused_addr, settings};
    use super::*;
    use crate::target::Target;
    use std::net::TcpListener;
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
}
