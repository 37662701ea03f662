//! `httpok --status URL`: asks a running httpok's metrics endpoint for `GET /status`
//! and prints what it sees as a table, like `monit summary`. The exchange is ureq's,
//! over the probes' connectors ([`crate::deadline::ureq`], so [`crate::deadline`]'s IO),
//! and bounded: one deadline for connect, request and answer; an answer over
//! [`MAX_ANSWER`] bytes is refused. Needs no supervisord and probes nothing itself.
//!
//! Owns [`StatusUrl`] (what `--status` accepts), [`fetch`] and [`table`]; the caller
//! prints the table and picks the exit status (0 all healthy, 1 not, 2 unreachable).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ureq::Agent;
use ureq::unversioned::transport::{ConnectionDetails, Connector};

use crate::deadline::ureq::{DeadlineResolver, TcpConnector, UnixConnector, UnixResolver};
use crate::metrics::ListenAddr;
use crate::planner::selection::spec_matches_namespec;
use crate::planner::status::{CheckStatus, ProgramStatus, Snapshot};

/// How long the whole exchange may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The longest answer read (head and JSON); a few KiB per check in practice.
pub(crate) const MAX_ANSWER: usize = 4 * 1024 * 1024;

/// A running httpok's metrics address, as given to `--status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUrl {
    /// Tried in order: `localhost` is 127.0.0.1, then `[::1]`.
    addrs: Vec<ListenAddr>,
    /// What the user wrote, for messages.
    shown: String,
}

impl StatusUrl {
    /// `http://127.0.0.1:9117`, `http://[::1]:9117/`, `http://localhost:9117`,
    /// `unix:/run/httpok.sock`, or the `--metrics-listen` address itself.
    pub fn parse(text: &str) -> Result<StatusUrl, String> {
        let expected = "give the --metrics-listen address of a running httpok, e.g. \
                        http://127.0.0.1:9117 or unix:/run/httpok.sock";
        if text.starts_with("https://") {
            return Err(format!(
                "{text:?}: the metrics endpoint speaks plain HTTP: {expected}"
            ));
        }
        let rest = text.strip_prefix("http://").unwrap_or(text);
        let addrs = if rest.starts_with("unix:") {
            vec![ListenAddr::parse(rest).map_err(|e| format!("{e}; {expected}"))?]
        } else {
            let authority = ["/status", "/"]
                .iter()
                .find_map(|path| rest.strip_suffix(path))
                .unwrap_or(rest);
            match authority.strip_prefix("localhost:") {
                Some(port) => ["127.0.0.1", "[::1]"]
                    .iter()
                    .map(|ip| ListenAddr::parse(&format!("{ip}:{port}")))
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("{text:?} has no port number: {expected}"))?,
                None => vec![
                    ListenAddr::parse(authority)
                        .map_err(|_| format!("{text:?} is not such an address: {expected}"))?,
                ],
            }
        };
        Ok(StatusUrl {
            addrs,
            shown: text.to_string(),
        })
    }
}

impl fmt::Display for StatusUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Asks for `/status` and reads the snapshot within `timeout` (use [`TIMEOUT`]); the
/// error says what failed, in one line. `localhost`'s addresses are tried in turn, while
/// none has connected.
pub fn fetch(url: &StatusUrl, timeout: Duration) -> Result<Snapshot, String> {
    let deadline = Instant::now() + timeout;
    let mut unreachable = None;
    for addr in &url.addrs {
        match ask(addr, deadline) {
            Ok((status, body)) => {
                return from_answer(status, &body)
                    .map_err(|e| format!("{url} did not answer as httpok does: {e}"));
            }
            Err(Failed::Unreachable(e)) => unreachable = Some(e),
            Err(Failed::NotHttp(e)) => {
                return Err(format!(
                    "{url} did not answer as httpok does: not HTTP ({e})"
                ));
            }
            Err(Failed::NoWholeAnswer(e)) => {
                return Err(format!("no whole answer from {url}: {e}"));
            }
        }
    }
    Err(match unreachable {
        Some(e) => format!(
            "cannot reach httpok at {url}: {e} (is httpok running with --metrics-listen at \
             that address?)"
        ),
        None => format!("{url}: no address to connect to"),
    })
}

/// Why one address gave no snapshot.
enum Failed {
    /// No connection.
    Unreachable(String),
    /// Connected, and what came back is not an HTTP answer.
    NotHttp(String),
    /// Connected, and the answer was not read whole: a deadline, a reset, too long.
    NoWholeAnswer(String),
}

/// `GET /status` at one address of a running httpok before `deadline`, through ureq over
/// [`crate::deadline`] (ureq's agent bounds the whole exchange by what is left of the
/// deadline; the answer is read up to [`MAX_ANSWER`] bytes): its status and body.
fn ask(addr: &ListenAddr, deadline: Instant) -> Result<(u16, Vec<u8>), Failed> {
    let left = deadline.saturating_duration_since(Instant::now());
    let config = Agent::config_builder()
        .timeout_global(Some(left))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(format!("httpok/{}", env!("CARGO_PKG_VERSION")))
        .build();
    let connected = Arc::new(AtomicBool::new(false));
    let (agent, uri) = match addr {
        ListenAddr::Tcp(socket) => {
            let connector = Noting::new(TcpConnector, &connected);
            let agent = Agent::with_parts(config, connector, DeadlineResolver);
            (agent, format!("http://{socket}/status"))
        }
        ListenAddr::Unix(path) => {
            let connector = Noting::new(UnixConnector::new(path), &connected);
            let agent = Agent::with_parts(config, connector, UnixResolver);
            (agent, "http://localhost/status".to_string())
        }
    };
    let answer = agent.get(&uri).call().and_then(|mut response| {
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER as u64)
            .read_to_vec()?;
        Ok((status, body))
    });
    answer.map_err(|e| {
        let connected = connected.load(Ordering::SeqCst);
        let text = reason(&e, left, connected, addr);
        match e {
            _ if !connected => Failed::Unreachable(text),
            ureq::Error::Protocol(_) | ureq::Error::Http(_) => Failed::NotHttp(text),
            _ => Failed::NoWholeAnswer(text),
        }
    })
}

/// A ureq error in words; `connected`: whether it came after the connection was made.
fn reason(e: &ureq::Error, timeout: Duration, connected: bool, addr: &ListenAddr) -> String {
    let secs = timeout.as_secs_f64();
    match e {
        ureq::Error::Timeout(_) if connected => format!("timed out after {secs:.1}s"),
        // A unix connect waits only while the socket's accept backlog is full.
        ureq::Error::Timeout(_) if matches!(addr, ListenAddr::Unix(_)) => format!(
            "no connection within {secs:.1}s: the socket's accept backlog is full (its \
             server is not accepting connections)"
        ),
        ureq::Error::Timeout(_) => format!("no connection within {secs:.1}s"),
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::BodyExceedsLimit(limit) => format!("the answer is longer than {limit} bytes"),
        other => other.to_string(),
    }
}

/// A connector that notes whether it connected: a failure before that is "cannot
/// reach", after it "no whole answer".
#[derive(Debug)]
struct Noting<C> {
    connector: C,
    connected: Arc<AtomicBool>,
}

impl<C> Noting<C> {
    fn new(connector: C, connected: &Arc<AtomicBool>) -> Noting<C> {
        Noting {
            connector,
            connected: Arc::clone(connected),
        }
    }
}

impl<C: Connector<()>> Connector<()> for Noting<C> {
    type Out = C::Out;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<C::Out>, ureq::Error> {
        let connection = self.connector.connect(details, chained)?;
        if connection.is_some() {
            self.connected.store(true, Ordering::SeqCst);
        }
        Ok(connection)
    }
}

/// The snapshot in an answer to `GET /status`.
fn from_answer(status: u16, body: &[u8]) -> Result<Snapshot, String> {
    if status != 200 {
        return Err(format!("status {status} to GET /status"));
    }
    serde_json::from_slice(body).map_err(|e| format!("not a status ({e})"))
}

/// One line of the table: a check and one program it restarts.
struct Row<'a> {
    check: &'a CheckStatus,
    program: Option<&'a ProgramStatus>,
    spec: &'a str,
}

/// The programs behind a check, by its specs; a spec that names no known program
/// (not seen yet, or none) is a row of its own.
fn rows<'a>(check: &'a CheckStatus, programs: &'a [ProgramStatus]) -> Vec<Row<'a>> {
    let mut rows: Vec<Row<'a>> = Vec::new();
    for spec in check.program.split(',') {
        let before = rows.len();
        for program in programs {
            let named = spec == "*" || spec_matches_namespec(spec, &program.program);
            let listed = rows
                .iter()
                .any(|r| r.program.is_some_and(|p| std::ptr::eq(p, program)));
            if named && !listed {
                let (program, spec) = (Some(program), program.program.as_str());
                rows.push(Row {
                    check,
                    program,
                    spec,
                });
            }
        }
        if rows.len() == before {
            let spec = if spec.is_empty() { "-" } else { spec };
            rows.push(Row {
                check,
                program: None,
                spec,
            });
        }
    }
    rows
}

fn result(check: &CheckStatus) -> String {
    match (check.healthy, &check.reason) {
        (Some(true), _) => "ok".into(),
        (Some(false), Some(reason)) => {
            // The reason names the URL that failed; with one, the CHECK column says it.
            let reason = match check.targets.as_slice() {
                [only] => reason
                    .strip_prefix(only.target.as_str())
                    .and_then(|r| r.strip_prefix(": "))
                    .unwrap_or(reason),
                _ => reason,
            };
            format!("failing: {reason}")
        }
        (Some(false), None) => "failing".into(),
        (None, _) => "not probed yet".into(),
    }
}

/// The slowest target's last probe.
fn latency(check: &CheckStatus) -> String {
    let probed = check.targets.iter().filter(|t| t.success.is_some());
    match probed.map(|t| t.duration_seconds).reduce(f64::max) {
        Some(secs) => format!("{:.0} ms", secs * 1000.0),
        None => "-".into(),
    }
}

/// The snapshot as `monit summary` would show it: a title line, then one row per
/// check and program.
pub fn table(snapshot: &Snapshot) -> String {
    let mut lines = vec![
        [
            "CHECK", "PROGRAM", "STATE", "RESULT", "LATENCY", "FAILURES", "RESTARTS",
        ]
        .map(String::from),
    ];
    for check in &snapshot.checks {
        for row in rows(check, &snapshot.programs) {
            let state = row.program.map_or("-", |p| p.state.as_str());
            let restarts = row
                .program
                .map_or("-".into(), |p| p.restarts_in_window.to_string());
            lines.push([
                row.check.check.clone(),
                row.spec.to_string(),
                state.to_string(),
                result(row.check),
                latency(row.check),
                row.check.consecutive_failures.to_string(),
                restarts,
            ]);
        }
    }
    let mut widths = [0; 7];
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = format!(
        "httpok {}: {} round(s), the last took {:.0} ms\n",
        snapshot.version,
        snapshot.rounds_total,
        snapshot.last_round_seconds * 1000.0
    );
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
