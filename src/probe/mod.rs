//! Probing: one request per target under one deadline, judged by its check's own
//! settings into an [`Outcome`] with a typed [`Failure`] reason. Owns the ureq agents
//! (rustls, proxies off, redirects not followed, no connection reuse; one per distinct
//! timeout and TLS setting; their IO is [`crate::deadline::ureq`]'s, over
//! [`crate::deadline`], as is every other probe's) and the concurrent round.
//!
//! * `mod.rs`: the types and [`Prober`].
//! * `pool.rs`: the round ([`Prober::probe_all`]): every probe at once on a pool of
//!   threads that grows while probes are slow, the slowest of the last round first.
//! * `http.rs`: an `http://`, `https://` or `http+unix://` probe and its body scan.
//! * `tcp.rs`: a `tcp://` probe (connect; with `send`/`expect`, a short exchange).
//! * `exec.rs`: an `exec:` probe (a command, no shell, killed at the timeout).
//! * `codes.rs`, `pattern.rs`: status ranges and the streamed regular expressions.
//! * `classify.rs`: ureq's and the OS's errors into a [`Failure`].
//! * `tls.rs`: the TLS config (`--cacert`, `--insecure`) and rustls' errors in words.
//! * `cert.rs`: a server's certificate chain expiry, by a handshake of its own.
//!
//! Does not own what happens after a failure (that is the lifecycle and `restart`).

pub(crate) mod cert;
mod classify;
mod codes;
mod exec;
mod http;
mod pattern;
mod pool;
mod tcp;
mod tls;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ureq::Agent;
use ureq::config::Config as AgentConfig;

use crate::config::target::Target;
use crate::deadline::ureq::{tcp_agent, unix_agent};
use crate::planner::plan::{CheckId, ProbeRequest};

pub use codes::StatusCodes;
pub use exec::{CommandEnv, check_runnable};
pub use pattern::{Matcher, Pattern};
pub use tls::read_cacert;

/// Most body bytes scanned for `-b` and the body regexes, and most bytes a tcp check
/// reads for `expect`; memory use stays constant whatever the size.
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
    /// The body does not match `--body-regex` (the pattern).
    BodyNoMatch(String),
    /// The body matches `--body-not-regex` (the pattern).
    BodyMatched(String),
    /// A tcp check's answer did not match `expect` (the pattern) before the peer
    /// closed or the read limit.
    ExpectMissing(String),
    /// An exec check exited unsuccessfully: its status and the last line it wrote.
    Exit { status: String, last_line: String },
    /// An exec check's command could not be run at all (removed, not executable): a
    /// fault of the check, never counted against its programs.
    Unrunnable(String),
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
    /// httpok could not make the probe for want of its own resources (file
    /// descriptors, kernel memory): nothing is known of the target, so it never counts
    /// against its programs.
    Starved(String),
}

impl Failure {
    /// The phrase for a mail subject, superlance's where it had one.
    pub fn subject(&self) -> String {
        match self {
            Failure::Status(_) => "bad status returned".into(),
            Failure::BodyMissing(_) | Failure::BodyNoMatch(_) | Failure::BodyMatched(_) => {
                "bad body returned".into()
            }
            Failure::ExpectMissing(_) => "unexpected answer".into(),
            Failure::Exit { .. } => "check command failed".into(),
            Failure::Unrunnable(_) => "check command cannot run".into(),
            Failure::Timeout(d) => format!("timed out after {:.1}s", d.as_secs_f64()),
            Failure::Refused => "connection refused".into(),
            Failure::Tls(_) => "TLS failure".into(),
            Failure::Dns(_) => "DNS failure".into(),
            Failure::Connect(_) => "connection failed".into(),
            Failure::Starved(_) => "httpok cannot probe".into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status(code) => write!(f, "status {code}"),
            Failure::BodyMissing(text) => write!(f, "body missing {text:?}"),
            Failure::BodyNoMatch(re) => write!(f, "body does not match /{re}/"),
            Failure::BodyMatched(re) => write!(f, "body matches /{re}/"),
            Failure::ExpectMissing(re) => write!(f, "answer does not match /{re}/"),
            Failure::Exit { status, last_line } if last_line.is_empty() => {
                write!(f, "{status}")
            }
            Failure::Exit { status, last_line } => write!(f, "{status}: {last_line}"),
            Failure::Unrunnable(msg) => write!(f, "{msg}"),
            Failure::Timeout(d) => write!(f, "timeout after {:.1}s", d.as_secs_f64()),
            Failure::Refused => write!(f, "connection refused"),
            Failure::Tls(msg) => write!(f, "TLS: {msg}"),
            Failure::Dns(msg) => write!(f, "DNS: {msg}"),
            Failure::Connect(msg) => write!(f, "connect: {msg}"),
            Failure::Starved(msg) => write!(f, "httpok cannot probe: {msg}"),
        }
    }
}

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result<u16, Failure>,
    pub latency: Duration,
    /// When asked for ([`ProbeRequest::read_cert`]) and readable: the https server's
    /// chain (its earliest expiry, the certificate that has it, the TLS version).
    pub cert: Option<cert::ChainRead>,
    /// An http(s) probe's answer, when one came.
    pub answer: Option<Answer>,
    /// Time spent looking up the target's host name (`None`: no name to look up, as for
    /// unix sockets and commands; zero for an IP address).
    pub dns_lookup: Option<Duration>,
}

/// What an http(s) answer said of itself (blackbox_exporter's `probe_http_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// Its Content-Length, -1 when it had none (chunked, or up to the close).
    pub content_length: i64,
    /// Its HTTP version, major and minor (1, 1).
    pub version: (u8, u8),
    /// Whether it came over TLS.
    pub tls: bool,
}

/// A probe that answered 200 at once, and nothing else: the base of fakes' outcomes.
impl Default for Outcome {
    fn default() -> Outcome {
        Outcome {
            result: Ok(200),
            latency: Duration::ZERO,
            cert: None,
            answer: None,
            dns_lookup: None,
        }
    }
}

/// What makes an answer healthy, and how to ask: one check's settings.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    pub timeout: Duration,
    pub codes: StatusCodes,
    pub body: Option<String>,
    pub body_regex: Option<Pattern>,
    pub body_not_regex: Option<Pattern>,
    pub method: String,
    pub headers: Vec<(String, String)>,
    /// What a tcp check writes once connected, escapes decoded.
    pub send: Option<Vec<u8>>,
    /// What a tcp check must then read.
    pub expect: Option<Pattern>,
    pub cacert: Option<PathBuf>,
    pub insecure: bool,
    /// What an exec check's command gets on top of httpok's environment.
    pub env: CommandEnv,
}

/// httpok's defaults: 10 s, status 200, GET, nothing else.
impl Default for ProbeSettings {
    fn default() -> ProbeSettings {
        ProbeSettings {
            timeout: Duration::from_secs(10),
            codes: StatusCodes::default(),
            body: None,
            body_regex: None,
            body_not_regex: None,
            method: "GET".into(),
            headers: Vec::new(),
            send: None,
            expect: None,
            cacert: None,
            insecure: false,
            env: CommandEnv::default(),
        }
    }
}

/// What a round needs from the prober; [`Prober`] is the real one.
pub trait Probe: Send + Sync {
    /// Every request's outcome, with the request it answers, each target probed by its
    /// check's settings.
    fn probe_all(&self, requests: &[ProbeRequest]) -> Vec<(ProbeRequest, Outcome)>;
}

impl Probe for Prober {
    fn probe_all(&self, requests: &[ProbeRequest]) -> Vec<(ProbeRequest, Outcome)> {
        Prober::probe_all(self, requests)
    }
}

/// Probes every check's targets, each by its check's settings; cheap to share between
/// threads.
pub struct Prober {
    checks: BTreeMap<CheckId, CheckProber>,
}

/// One check's settings, its targets and the agents that ask as they say.
pub(crate) struct CheckProber {
    settings: ProbeSettings,
    targets: Vec<Target>,
    agent: Agent,
    unix_agents: HashMap<PathBuf, Agent>,
    /// How long each target's last probe took, in µs: the next round starts the
    /// slowest first (`pool.rs`).
    last_latency: Vec<AtomicU64>,
}

/// `d` in whole microseconds, saturated.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The agent settings checks may share an agent by: timeout and TLS.
type AgentKey = (Duration, Option<PathBuf>, bool);

impl Prober {
    /// Builds the agents for these checks (each with its settings and targets), one per
    /// distinct timeout and TLS setting. Fails only on a bad `cacert` file.
    pub fn new(checks: &[(CheckId, &ProbeSettings, &[Target])]) -> Result<Prober, String> {
        let mut agents: Vec<(AgentKey, AgentConfig, Agent)> = Vec::new();
        let mut built = BTreeMap::new();
        for (id, settings, targets) in checks {
            let key = (settings.timeout, settings.cacert.clone(), settings.insecure);
            let (config, agent) = match agents.iter().find(|(k, _, _)| *k == key) {
                Some((_, config, agent)) => (config.clone(), agent.clone()),
                None => {
                    let config = agent_config(settings)?;
                    let agent = tcp_agent(config.clone());
                    agents.push((key, config.clone(), agent.clone()));
                    (config, agent)
                }
            };
            let check = CheckProber::with_agent((*settings).clone(), config, agent, targets);
            built.insert(*id, check);
        }
        Ok(Prober { checks: built })
    }

    /// Probes one target by its check's settings; never takes much longer than its timeout.
    pub fn probe(&self, request: &ProbeRequest) -> Outcome {
        let id = request.target;
        let found = self
            .checks
            .get(&id.check)
            .and_then(|check| Some((check, check.targets.get(id.index)?)));
        let Some((check, target)) = found else {
            return Outcome {
                result: Err(Failure::Connect("no such check".into())),
                ..Outcome::default()
            };
        };
        let mut outcome = check.probe(target);
        if let Some(last) = check.last_latency.get(id.index) {
            last.store(micros(outcome.latency), Ordering::Relaxed);
        }
        if request.read_cert
            && let Some((host, port)) = target.https_authority()
        {
            match cert::read_chain(&host, port, &host, check.settings.timeout) {
                Ok(chain) => outcome.cert = Some(chain),
                Err(e) => log::debug!("{target}: cannot read its certificates: {e}"),
            }
        }
        outcome
    }
}

/// The http agents' config for one check's timeout and TLS settings.
fn agent_config(settings: &ProbeSettings) -> Result<AgentConfig, String> {
    Ok(Agent::config_builder()
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
        .tls_config(tls::tls_config(settings)?)
        .build())
}

impl CheckProber {
    /// A check's prober with agents of its own (tests, and checks that share none).
    #[cfg(test)]
    pub(crate) fn new(settings: ProbeSettings, targets: &[&Target]) -> Result<CheckProber, String> {
        let config = agent_config(&settings)?;
        let agent = tcp_agent(config.clone());
        let targets: Vec<Target> = targets.iter().map(|t| (*t).clone()).collect();
        Ok(CheckProber::with_agent(settings, config, agent, &targets))
    }

    fn with_agent(
        settings: ProbeSettings,
        config: AgentConfig,
        agent: Agent,
        targets: &[Target],
    ) -> CheckProber {
        let mut unix_agents = HashMap::new();
        for target in targets {
            if let Target::HttpUnix { socket, .. } = target {
                unix_agents
                    .entry(socket.clone())
                    .or_insert_with(|| unix_agent(socket.clone(), config.clone()));
            }
        }
        CheckProber {
            settings,
            targets: targets.to_vec(),
            agent,
            unix_agents,
            last_latency: targets.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Probes one target; never takes much longer than the timeout.
    pub(crate) fn probe(&self, target: &Target) -> Outcome {
        let started = Instant::now();
        let deadline = started + self.settings.timeout;
        let mut answer = None;
        // This thread's lookups from here on are this probe's.
        crate::deadline::take_lookup_time();
        let result = match target {
            Target::Tcp { host, port } => self.probe_tcp(host, *port, deadline),
            Target::Http { url, basic_auth } => {
                let auth = basic_auth
                    .as_ref()
                    .map(|(u, p)| format!("Basic {}", BASE64.encode(format!("{u}:{p}"))));
                self.probe_http(&self.agent, url, auth, deadline, &mut answer)
            }
            Target::HttpUnix { socket, path } => match self.unix_agents.get(socket) {
                Some(agent) => {
                    let url = format!("http://localhost{path}");
                    self.probe_http(agent, &url, None, deadline, &mut answer)
                }
                None => Err(Failure::Connect("no agent for this socket".into())),
            },
            Target::Exec { argv } => self.probe_exec(argv),
        };
        let looked_up = crate::deadline::take_lookup_time();
        Outcome {
            result,
            latency: started.elapsed(),
            answer,
            dns_lookup: match target {
                Target::Tcp { .. } | Target::Http { .. } => Some(looked_up),
                Target::HttpUnix { .. } | Target::Exec { .. } => None,
            },
            cert: None,
        }
    }
}

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
