//! Probing: one request per check under one overall deadline, judged into a
//! [`Verdict`] with a typed [`Failure`] reason. Owns the ureq agents (rustls, proxies
//! off, redirects not followed, no connection reuse) and the concurrent round.
//!
//! Does not own what happens after a failure (that is `policy` and `restart`).

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::tls::{RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use ureq::{Agent, Error};

use crate::target::Target;
use crate::unix_transport::unix_agent;

/// Most probes in flight at once; the rest wait for a free worker.
pub const MAX_CONCURRENT_PROBES: usize = 256;
/// Most body bytes scanned for `-b`; memory use stays constant whatever the body size.
pub const MAX_BODY_SCAN: u64 = 16 * 1024 * 1024;
/// Pause between connection attempts while the port refuses.
const REFUSED_RETRY: Duration = Duration::from_millis(500);
/// Longest response head (status line and headers) accepted, and about the size of each
/// probe's read and write buffers. ureq's default buffers are 128 KiB each, zero-filled for
/// every connection: most of a healthy round's CPU, and 64 MiB resident with 256 probes in
/// flight (docs/benchmarks.md).
pub const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// Why a probe failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The status is not in the `-c` list.
    Status(u16),
    /// The body does not contain the `-b` text.
    BodyMissing(String),
    /// No complete answer within the deadline.
    Timeout(Duration),
    /// Every connection attempt within the deadline was refused.
    Refused,
    /// The certificate or handshake failed.
    Tls(String),
    /// The host name did not resolve.
    Dns(String),
    /// Any other transport error.
    Connect(String),
}

impl Failure {
    /// The phrase for a mail subject, superlance's where it had one.
    pub fn subject(&self) -> String {
        match self {
            Failure::Status(_) => "bad status returned".into(),
            Failure::BodyMissing(_) => "bad body returned".into(),
            Failure::Timeout(d) => format!("timed out after {:.1}s", d.as_secs_f64()),
            Failure::Refused => "connection refused".into(),
            Failure::Tls(_) => "TLS failure".into(),
            Failure::Dns(_) => "DNS failure".into(),
            Failure::Connect(_) => "connection failed".into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status(code) => write!(f, "status {code}"),
            Failure::BodyMissing(text) => write!(f, "body missing {text:?}"),
            Failure::Timeout(d) => write!(f, "timeout after {:.1}s", d.as_secs_f64()),
            Failure::Refused => write!(f, "connection refused"),
            Failure::Tls(msg) => write!(f, "TLS: {msg}"),
            Failure::Dns(msg) => write!(f, "DNS: {msg}"),
            Failure::Connect(msg) => write!(f, "connect: {msg}"),
        }
    }
}

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result<u16, Failure>,
    pub latency: Duration,
}

/// What makes an answer healthy, and how to ask.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    pub timeout: Duration,
    pub codes: Vec<u16>,
    pub body: Option<String>,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub cacert: Option<PathBuf>,
    pub insecure: bool,
}

/// Probes targets; cheap to share between threads.
pub struct Prober {
    settings: ProbeSettings,
    agent: Agent,
    unix_agents: HashMap<PathBuf, Agent>,
}

impl Prober {
    /// Builds the agents for these targets. Fails only on a bad `--cacert` file.
    pub fn new(settings: ProbeSettings, targets: &[&Target]) -> Result<Prober, String> {
        let tls = tls_config(&settings)?;
        let config = Agent::config_builder()
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .max_idle_connections(0)
            .user_agent(concat!("httpok/", env!("CARGO_PKG_VERSION")))
            .timeout_global(Some(settings.timeout))
            // One byte more than the longest head, so a longer one is reported as too big
            // rather than as a peer that stopped sending.
            .input_buffer_size(MAX_RESPONSE_HEAD + 1)
            .output_buffer_size(MAX_RESPONSE_HEAD)
            .max_response_header_size(MAX_RESPONSE_HEAD)
            .tls_config(tls)
            .build();
        let mut unix_agents = HashMap::new();
        for target in targets {
            if let Target::HttpUnix { socket, .. } = target {
                unix_agents
                    .entry(socket.clone())
                    .or_insert_with(|| unix_agent(socket.clone(), config.clone()));
            }
        }
        Ok(Prober {
            agent: Agent::with_parts(
                config,
                DefaultConnector::default(),
                IpLiteralResolver::default(),
            ),
            settings,
            unix_agents,
        })
    }

    /// Probes one target; never takes much longer than the timeout.
    pub fn probe(&self, target: &Target) -> Outcome {
        let started = Instant::now();
        let deadline = started + self.settings.timeout;
        let result = match target {
            Target::Tcp { host, port } => self.probe_tcp(host, *port, deadline),
            Target::Http { url, basic_auth } => {
                let auth = basic_auth
                    .as_ref()
                    .map(|(u, p)| format!("Basic {}", BASE64.encode(format!("{u}:{p}"))));
                self.probe_http(&self.agent, url, auth, deadline)
            }
            Target::HttpUnix { socket, path } => match self.unix_agents.get(socket) {
                Some(agent) => {
                    self.probe_http(agent, &format!("http://localhost{path}"), None, deadline)
                }
                None => Err(Failure::Connect("no agent for this socket".into())),
            },
        };
        Outcome {
            result,
            latency: started.elapsed(),
        }
    }

    /// Probes every target at once with a bounded pool; outcomes in target order.
    pub fn probe_all(&self, targets: &[&Target]) -> Vec<Outcome> {
        if let [target] = targets {
            // One check (superlance's case): no thread to start.
            return vec![self.probe(target)];
        }
        let slots: Vec<Mutex<Option<Outcome>>> = targets.iter().map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let workers = targets.len().min(MAX_CONCURRENT_PROBES);
        thread::scope(|scope| {
            for _ in 0..workers {
                let spawned =
                    thread::Builder::new()
                        .stack_size(256 * 1024)
                        .spawn_scoped(scope, || {
                            loop {
                                let i = next.fetch_add(1, Ordering::Relaxed);
                                let Some(target) = targets.get(i) else { break };
                                let outcome = self.probe(target);
                                if let Ok(mut slot) = slots[i].lock() {
                                    *slot = Some(outcome);
                                }
                            }
                        });
                if let Err(e) = spawned {
                    log::warn!("could not start a probe thread ({e}); probing with fewer");
                }
            }
        });
        // Whatever no worker reached (no thread could start) is probed here.
        slots
            .into_iter()
            .zip(targets)
            .map(|(slot, target)| {
                slot.into_inner()
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| self.probe(target))
            })
            .collect()
    }

    fn probe_http(
        &self,
        agent: &Agent,
        url: &str,
        auth: Option<String>,
        deadline: Instant,
    ) -> Result<u16, Failure> {
        let mut retrying = false;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Failure::Timeout(self.settings.timeout));
            }
            let mut req = if self.settings.method == "HEAD" {
                agent.head(url)
            } else {
                agent.get(url)
            };
            if let Some(auth) = &auth {
                req = req.header("Authorization", auth);
            }
            for (name, value) in &self.settings.headers {
                req = req.header(name, value);
            }
            // The first attempt runs under the agent's own timeout (the whole -t). Only a
            // retry after a refusal needs a shorter one, and a per-request config makes
            // ureq build a new TLS config, so it is set only then.
            let response = if !retrying {
                req.call()
            } else {
                req.config().timeout_global(Some(remaining)).build().call()
            };
            match response {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    if !self.settings.codes.contains(&status) {
                        return Err(Failure::Status(status));
                    }
                    if let Some(needle) = &self.settings.body {
                        let reader = response.body_mut().as_reader();
                        return match body_contains(reader, needle.as_bytes(), MAX_BODY_SCAN) {
                            Ok(true) => Ok(status),
                            Ok(false) => Err(Failure::BodyMissing(needle.clone())),
                            Err(e) => Err(self.classify_io(&e)),
                        };
                    }
                    return Ok(status);
                }
                Err(e) => {
                    let failure = self.classify(&e);
                    if failure == Failure::Refused && Instant::now() + REFUSED_RETRY < deadline {
                        thread::sleep(REFUSED_RETRY);
                        retrying = true;
                        continue;
                    }
                    return Err(failure);
                }
            }
        }
    }

    fn probe_tcp(&self, host: &str, port: u16, deadline: Instant) -> Result<u16, Failure> {
        let addrs = resolve(host, port, deadline).map_err(|f| self.or_timeout(f))?;
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

    fn or_timeout(&self, failure: Failure) -> Failure {
        match failure {
            Failure::Timeout(_) => Failure::Timeout(self.settings.timeout),
            other => other,
        }
    }

    fn classify(&self, error: &ureq::Error) -> Failure {
        match error {
            ureq::Error::Timeout(_) => Failure::Timeout(self.settings.timeout),
            ureq::Error::Io(e) => self.classify_io(e),
            ureq::Error::HostNotFound => Failure::Dns("host not found".into()),
            ureq::Error::Rustls(e) => Failure::Tls(describe_tls(e)),
            ureq::Error::Tls(msg) => Failure::Tls(msg.to_string()),
            other => Failure::Connect(other.to_string()),
        }
    }

    fn classify_io(&self, e: &io::Error) -> Failure {
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
        }
        match e.kind() {
            io::ErrorKind::ConnectionRefused => Failure::Refused,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                Failure::Timeout(self.settings.timeout)
            }
            _ => {
                let text = e.to_string();
                // std's getaddrinfo failure, which ureq passes on as it is, has no kind
                // to match (ErrorKind::Uncategorized is unstable): its text is all there is.
                if text.starts_with("failed to lookup address") {
                    Failure::Dns(text)
                } else {
                    Failure::Connect(text)
                }
            }
        }
    }
}

/// A TLS failure in words: the certificate faults people meet (self-signed or private
/// CA, expiry, wrong name) by name, the rest as rustls says them.
fn describe_tls(error: &rustls::Error) -> String {
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
            _ => error.to_string(),
        },
        // What a plain-HTTP server's answer looks like to a TLS client.
        rustls::Error::InvalidMessage(_) => {
            format!("{error} (does the server speak TLS on this port?)")
        }
        _ => error.to_string(),
    }
}

fn tls_config(settings: &ProbeSettings) -> Result<TlsConfig, String> {
    let mut builder = TlsConfig::builder().disable_verification(settings.insecure);
    if let Some(path) = &settings.cacert {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read --cacert {}: {e}", path.display()))?;
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => certs.push(cert),
                Ok(_) => {}
                Err(e) => return Err(format!("--cacert {}: bad PEM: {e}", path.display())),
            }
        }
        if certs.is_empty() {
            return Err(format!(
                "--cacert {} holds no certificate: give a PEM file with -----BEGIN CERTIFICATE-----",
                path.display()
            ));
        }
        builder = builder.root_certs(RootCerts::new_with_certs(&certs));
    }
    Ok(builder.build())
}

/// Resolves on a helper thread so that a hanging DNS lookup cannot outlive the deadline.
fn resolve(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, Failure> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (tx, rx) = mpsc::channel();
    let name = host.to_string();
    thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(move || {
            let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Vec::from_iter));
        })
        .map_err(|e| Failure::Connect(format!("cannot start resolver thread: {e}")))?;
    let wait = deadline.saturating_duration_since(Instant::now());
    match rx.recv_timeout(wait) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(Failure::Dns(format!("{host} has no address"))),
        Ok(Err(e)) => Err(Failure::Dns(format!("{host}: {e}"))),
        Err(_) => Err(Failure::Timeout(wait)),
    }
}

/// Streams `reader` looking for `needle`, keeping only `needle.len()` bytes of overlap.
pub fn body_contains(mut reader: impl Read, needle: &[u8], limit: u64) -> io::Result<bool> {
    if needle.is_empty() {
        return Ok(true);
    }
    let mut window: Vec<u8> = Vec::with_capacity(needle.len() + 8192);
    let mut chunk = [0u8; 8192];
    let mut seen = 0u64;
    while seen < limit {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        seen += n as u64;
        window.extend_from_slice(&chunk[..n]);
        if window.windows(needle.len()).any(|w| w == needle) {
            return Ok(true);
        }
        let keep = needle.len() - 1;
        if window.len() > keep {
            window.drain(..window.len() - keep);
        }
    }
    Ok(false)
}

/// Resolves an IP-literal host (`http://127.0.0.1:8080/`, the usual probe) in place and
/// hands names to ureq's resolver. That one looks every host up on a new thread, so the
/// deadline holds even when DNS hangs: for an IP literal, a thread per probe for nothing.
#[derive(Debug, Default)]
struct IpLiteralResolver(DefaultResolver);

impl Resolver for IpLiteralResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, Error> {
        let ip = uri
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<IpAddr>().ok());
        let port = uri.port_u16().or_else(|| match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        match (ip, port) {
            (Some(ip), Some(port)) => {
                let mut addrs = self.0.empty();
                addrs.push(SocketAddr::new(ip, port));
                Ok(addrs)
            }
            _ => self.0.resolve(uri, config, timeout),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// `host:port` where nothing listens. The port is one the kernel just handed out on
    /// 127.0.0.2, an address no other test listens on, so a parallel test that binds
    /// 127.0.0.1:0 and gets the same number cannot answer there.
    pub(crate) fn refused_addr() -> String {
        let port = TcpListener::bind("127.0.0.2:0")
            .expect("bind 127.0.0.2")
            .local_addr()
            .expect("addr")
            .port();
        format!("127.0.0.2:{port}")
    }

    fn settings(timeout_ms: u64) -> ProbeSettings {
        ProbeSettings {
            timeout: Duration::from_millis(timeout_ms),
            codes: vec![200],
            body: None,
            method: "GET".into(),
            headers: vec![],
            cacert: None,
            insecure: false,
        }
    }

    /// A one-shot server answering each connection with `reply`; returns its URL.
    fn serve(
        reply: &'static [u8],
        connections: usize,
    ) -> (String, thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = format!("http://{}/health", listener.local_addr().expect("addr"));
        let handle = thread::spawn(move || {
            let mut requests = Vec::new();
            for _ in 0..connections {
                let Ok((mut stream, _)) = listener.accept() else {
                    break;
                };
                let mut buf = [0u8; 4096];
                let n = stream.read(&mut buf).unwrap_or(0);
                requests.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let _ = stream.write_all(reply);
            }
            requests
        });
        (url, handle)
    }

    #[test]
    fn a_200_with_the_body_text_is_healthy_and_sends_our_user_agent() {
        let (url, server) = serve(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nall is OK",
            1,
        );
        let mut s = settings(5000);
        s.body = Some("OK".into());
        let target = Target::parse(&url).expect("url");
        let prober = Prober::new(s, &[&target]).expect("prober");
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
            let prober = Prober::new(s, &[&target]).expect("prober");
            assert_eq!(prober.probe(&target).result, Err(expected));
        }
    }

    #[test]
    fn a_server_that_never_answers_times_out_near_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let target = Target::parse(&format!("http://{}/", listener.local_addr().expect("addr")))
            .expect("url");
        let prober = Prober::new(settings(700), &[&target]).expect("prober");
        let outcome = prober.probe(&target);
        assert_eq!(
            outcome.result,
            Err(Failure::Timeout(Duration::from_millis(700)))
        );
        assert!(
            outcome.latency < Duration::from_secs(5),
            "{:?}",
            outcome.latency
        );
        drop(listener);
    }

    #[test]
    fn a_refused_port_is_retried_until_the_deadline_then_fails() {
        let target = Target::parse(&format!("http://{}/", refused_addr())).expect("url");
        let prober = Prober::new(settings(1200), &[&target]).expect("prober");
        let outcome = prober.probe(&target);
        assert_eq!(outcome.result, Err(Failure::Refused));
        assert!(
            outcome.latency >= Duration::from_millis(500),
            "retried: {:?}",
            outcome.latency
        );
    }

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
    fn many_hanging_targets_take_about_one_timeout_together() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let target = Target::parse(&format!("http://{}/", listener.local_addr().expect("addr")))
            .expect("url");
        let targets: Vec<&Target> = std::iter::repeat_n(&target, 40).collect();
        let prober = Prober::new(settings(500), &[]).expect("prober");
        let started = Instant::now();
        let outcomes = prober.probe_all(&targets);
        assert_eq!(outcomes.len(), 40);
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o.result, Err(Failure::Timeout(_))))
        );
        // Serial probing would take 20 s; concurrent takes one timeout plus overhead.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn body_search_crosses_chunk_boundaries_and_respects_the_limit() {
        let mut body = vec![b'x'; 8190];
        body.extend_from_slice(b"NEEDLE");
        assert!(body_contains(&body[..], b"NEEDLE", u64::MAX).expect("read"));
        assert!(!body_contains(&body[..], b"NEEDLE", 4096).expect("read"));
        assert!(!body_contains(&b"abc"[..], b"abcd", u64::MAX).expect("read"));
        let huge = io::repeat(b'y').take(64 * 1024 * 1024);
        assert!(!body_contains(huge, b"z", 1024 * 1024).expect("read"));
    }

    #[test]
    fn failures_read_as_plain_reasons() {
        assert_eq!(Failure::Status(500).to_string(), "status 500");
        assert_eq!(
            Failure::Timeout(Duration::from_secs(2)).to_string(),
            "timeout after 2.0s"
        );
        assert_eq!(
            Failure::BodyMissing("x".into()).to_string(),
            "body missing \"x\""
        );
        assert_eq!(Failure::Refused.subject(), "connection refused");
        assert_eq!(Failure::Status(404).subject(), "bad status returned");
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
    fn errors_inside_io_errors_are_classified_by_type_not_text() {
        let prober = Prober::new(settings(1000), &[]).expect("prober");
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
        let other = io::Error::new(io::ErrorKind::InvalidData, "bad chunk size");
        assert_eq!(
            prober.classify_io(&other),
            Failure::Connect("bad chunk size".into())
        );
    }

    #[test]
    fn an_https_probe_of_a_plain_http_port_is_a_tls_failure() {
        // A real handshake failure, from ureq and the rustls it was built with: this
        // fails if the rustls in Cargo.toml is not the one ureq uses.
        let (url, _server) = serve(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 1);
        let target = Target::parse(&url.replacen("http://", "https://", 1)).expect("url");
        let prober = Prober::new(settings(5000), &[&target]).expect("prober");
        match prober.probe(&target).result {
            Err(Failure::Tls(reason)) => assert!(reason.contains("speak TLS"), "{reason}"),
            other => panic!("expected a TLS failure, got {other:?}"),
        }
    }
}
