//! `httpok --status URL`: asks a running httpok's metrics endpoint for `GET /status`
//! and prints what it sees as a table, like `monit summary`. The exchange is bounded
//! (one deadline for connect, request and answer, through [`crate::deadline`]; an
//! answer over [`MAX_ANSWER`] bytes is refused). Needs no supervisord and probes nothing itself.
//!
//! Owns [`StatusUrl`] (what `--status` accepts), [`fetch`] and [`table`]; the caller
//! prints the table and picks the exit status (0 all healthy, 1 not, 2 unreachable).

use std::fmt;
use std::time::{Duration, Instant};

use crate::deadline::{self, Stream};
use crate::metrics::ListenAddr;
use crate::selection::spec_matches_namespec;
use crate::status::{CheckStatus, ProgramStatus, Snapshot};

/// How long the whole exchange may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The longest answer read (head and JSON); a few KiB per check in practice.
pub const MAX_ANSWER: usize = 4 * 1024 * 1024;

/// A running httpok's metrics address, as given to `--status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUrl {
    /// Tried in order: `localhost` is 127.0.0.1, then [::1].
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
/// error says what failed, in one line.
pub fn fetch(url: &StatusUrl, timeout: Duration) -> Result<Snapshot, String> {
    let deadline = Instant::now() + timeout;
    let unreachable = |e: std::io::Error| {
        format!(
            "cannot reach httpok at {url}: {e} (is httpok running with --metrics-listen at \
             that address?)"
        )
    };
    let mut last = None;
    let mut conn = None;
    for addr in &url.addrs {
        match connect(addr, deadline) {
            Ok(c) => {
                conn = Some(c);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let conn = match (conn, last) {
        (Some(conn), _) => conn,
        (None, Some(e)) => return Err(unreachable(e)),
        (None, None) => return Err(format!("{url}: no address to connect to")),
    };
    let request = format!(
        "GET /status HTTP/1.0\r\nHost: localhost\r\nUser-Agent: httpok/{}\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    conn.write_all_before(request.as_bytes(), deadline)
        .map_err(unreachable)?;
    let answer = conn
        .read_to_end_before(MAX_ANSWER, deadline)
        .map_err(|e| format!("no whole answer from {url}: {e}"))?;
    from_answer(&answer).map_err(|e| format!("{url} did not answer as httpok does: {e}"))
}

/// A connection to one address of a running httpok before `deadline`.
fn connect(addr: &ListenAddr, deadline: Instant) -> std::io::Result<Stream> {
    match addr {
        ListenAddr::Tcp(addr) => deadline::connect_tcp(&[*addr], deadline).map(Stream::Tcp),
        ListenAddr::Unix(path) => deadline::connect_unix(path, deadline).map(Stream::Unix),
    }
}

/// The snapshot in a whole HTTP answer to `GET /status`.
fn from_answer(answer: &[u8]) -> Result<Snapshot, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let body_at = match response.parse(answer) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("the answer ended in its head".into()),
        Err(e) => return Err(format!("not HTTP ({e})")),
    };
    match response.code {
        Some(200) => {}
        Some(code) => return Err(format!("status {code} to GET /status")),
        None => return Err("no status".into()),
    }
    serde_json::from_slice(&answer[body_at..]).map_err(|e| format!("not a status ({e})"))
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
