//! The metrics endpoint and `httpok --status` (issue 11, items 1 and 2), proven end to
//! end: a real supervisord sending TICK_5 to an httpok started with --metrics-listen,
//! scraped over TCP and a unix socket. Every page is parsed whole by the Prometheus
//! text-format parser below, and the values are checked, not only the names. And the
//! endpoint never costs the watch (issue 16, item 6): a taken port, idle connections,
//! an exposed address, the socket file at start and exit.
mod common;

use common::e2e::*;
use common::*;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use httpok::metrics::Snapshot;

// ---------------------------------------------------------------- the text format

type Labels = Vec<(String, String)>;

/// One sample line: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: Labels,
    value: f64,
}

/// A whole /metrics page, checked against the Prometheus text format 0.0.4.
#[derive(Debug, Default)]
struct Page {
    samples: Vec<Sample>,
    /// `# TYPE` of each family.
    types: HashMap<String, String>,
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    !s.starts_with("__")
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A sample value as Go's ParseFloat reads the format's: digits, or NaN, +Inf, -Inf.
fn value(s: &str) -> Result<f64, String> {
    match s {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ if !s.is_empty() && s.chars().all(|c| "0123456789+-.eE".contains(c)) => {
            s.parse().map_err(|e| format!("value {s:?}: {e}"))
        }
        _ => Err(format!("value {s:?} is not a number")),
    }
}

/// `name="value",...}` after the `{`: the labels and what follows the `}`.
fn labels(mut s: &str) -> Result<(Labels, &str), String> {
    let mut labels: Labels = Vec::new();
    loop {
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let (name, rest) = s.split_once("=\"").ok_or("a label without =\"")?;
        if !is_label_name(name) || labels.iter().any(|(n, _)| n == name) {
            return Err(format!("label name {name:?} is invalid or repeated"));
        }
        let mut text = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().ok_or("an unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().map(|(_, c)| c) {
                    Some('\\') => text.push('\\'),
                    Some('"') => text.push('"'),
                    Some('n') => text.push('\n'),
                    other => return Err(format!("bad escape \\{other:?} in a label value")),
                },
                (_, c) => text.push(c),
            }
        };
        labels.push((name.to_string(), text));
        s = &rest[end + 1..];
        match s.strip_prefix(',') {
            Some(rest) => s = rest,
            None if s.starts_with('}') => {}
            None => return Err(format!("expected , or }} after a label, got {s:?}")),
        }
    }
}

fn sample(line: &str) -> Result<Sample, String> {
    let end = line.find(['{', ' ']).ok_or("a sample without a value")?;
    let name = &line[..end];
    if !is_metric_name(name) {
        return Err(format!("metric name {name:?} is invalid"));
    }
    let (labels, rest) = match line[end..].strip_prefix('{') {
        Some(rest) => labels(rest)?,
        None => (Vec::new(), &line[end..]),
    };
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let mut fields = rest.split(' ');
    let value = value(fields.next().unwrap_or_default())?;
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("timestamp {timestamp:?} is not an integer"))?;
    }
    if fields.next().is_some() {
        return Err("more than a value and a timestamp".into());
    }
    let name = name.to_string();
    Ok(Sample {
        name,
        labels,
        value,
    })
}

impl Page {
    /// Every line a `# HELP`, `# TYPE`, comment or sample; each family's TYPE once and
    /// before its samples, which come in one group; no series twice.
    fn parse(text: &str) -> Result<Page, String> {
        if !text.ends_with('\n') {
            return Err("the page does not end with a newline".into());
        }
        let mut page = Page::default();
        let (mut helped, mut done, mut series) = (HashSet::new(), HashSet::new(), HashSet::new());
        let mut current: Option<String> = None;
        for (n, line) in text.lines().enumerate() {
            let at = |why: String| format!("line {}: {why}: {line:?}", n + 1);
            if line.is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                let words: Vec<&str> = comment.trim_start().splitn(3, ' ').collect();
                match words[..] {
                    ["HELP", name, ..] if is_metric_name(name) => {
                        let text = words.get(2).unwrap_or(&"");
                        let mut escapes = text.split("\\\\").flat_map(|p| p.split("\\n"));
                        if escapes.any(|p| p.contains('\\')) {
                            return Err(at("a backslash that escapes neither \\ nor n".into()));
                        }
                        if !helped.insert(name.to_string()) {
                            return Err(at("a second HELP".into()));
                        }
                    }
                    ["TYPE", name, kind] if is_metric_name(name) => {
                        let kinds = ["counter", "gauge", "histogram", "summary", "untyped"];
                        if !kinds.contains(&kind) {
                            return Err(at(format!("type {kind:?}")));
                        }
                        if done.contains(name) || current.as_deref() == Some(name) {
                            return Err(at("TYPE after the family's samples".into()));
                        }
                        if page.types.insert(name.into(), kind.into()).is_some() {
                            return Err(at("a second TYPE".into()));
                        }
                    }
                    ["HELP" | "TYPE", ..] => return Err(at("a bad HELP or TYPE line".into())),
                    _ => {}
                }
                continue;
            }
            let sample = sample(line).map_err(at)?;
            let family = page.family(&sample.name);
            if current.as_deref() != Some(family.as_str()) {
                if done.contains(&family) {
                    return Err(at(format!("samples of {family} are not in one group")));
                }
                done.extend(current.replace(family.clone()));
            }
            let mut key = sample.labels.clone();
            key.sort();
            if !series.insert((sample.name.clone(), key)) {
                return Err(at("the same series twice".into()));
            }
            if page.types.get(&family).is_some_and(|t| t == "counter")
                && (sample.value < 0.0 || sample.value.is_nan())
            {
                return Err(at("a counter below 0".into()));
            }
            page.samples.push(sample);
        }
        Ok(page)
    }

    /// The family a sample belongs to (`x_bucket` of histogram `x` is `x`).
    fn family(&self, name: &str) -> String {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix)
                && matches!(
                    self.types.get(base).map(String::as_str),
                    Some("histogram" | "summary")
                )
            {
                return base.to_string();
            }
        }
        name.to_string()
    }

    /// The value of the one series of `name` that has all these labels.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = self.samples.iter().filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        });
        let first = found.next()?;
        assert!(found.next().is_none(), "several {name}{labels:?} series");
        Some(first.value)
    }
}

#[test]
fn the_parser_takes_the_format_and_refuses_what_prometheus_would() {
    let good = "# HELP a_total Counts \\\\ things\\n.\n# TYPE a_total counter\n\
                a_total{x=\"q\\\"\\\\\\n\",y=\"\"} 3\na_total 1e3 1700000000\n\
                # a comment\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\nh_count 1\n\
                g NaN\ng2 -Inf\n";
    let page = Page::parse(good).expect("valid");
    assert_eq!(page.get("a_total", &[("x", "q\"\\\n")]), Some(3.0));
    assert_eq!(page.samples.len(), 7);
    assert_eq!(page.types.get("h").map(String::as_str), Some("histogram"));
    assert_eq!(page.family("h_bucket"), "h");
    let bad = [
        ("a 1", "no newline at the end"),
        ("a_total 1\n# TYPE a_total counter\n", "TYPE after samples"),
        ("a 1\nb 1\na{x=\"1\"} 2\n", "a family in two groups"),
        ("a{x=\"1\"} 1\na{x=\"1\"} 2\n", "a series twice"),
        ("# TYPE a counter\n# TYPE a gauge\n", "two TYPEs"),
        ("# TYPE a info\n", "an OpenMetrics type"),
        ("# HELP a b\\c\n", "a bad escape in HELP"),
        ("1a 1\n", "a bad metric name"),
        ("a{__x=\"1\"} 1\n", "a reserved label name"),
        ("a{x=\"1\",x=\"2\"} 1\n", "a repeated label"),
        ("a{x=\"\\t\"} 1\n", "a bad escape in a label"),
        ("a{x=\"1} 1\n", "an unterminated label"),
        ("a{x=1} 1\n", "an unquoted label"),
        ("a one\n", "a word for a value"),
        ("a 1 2 3\n", "too many fields"),
        ("a 1 2.5\n", "a fractional timestamp"),
        ("# TYPE a counter\na -1\n", "a negative counter"),
    ];
    for (page, why) in bad {
        assert!(Page::parse(page).is_err(), "{why}: {page:?} parsed");
    }
}

// ---------------------------------------------------------------- helpers

/// GET /metrics over TCP, parsed whole.
fn scrape(port: u16) -> Result<Page, String> {
    let answer = http_get(port, "/metrics", Duration::from_secs(10)).map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!("status {}", answer.status));
    }
    assert!(
        answer
            .head
            .contains("Content-Type: text/plain; version=0.0.4"),
        "{}",
        answer.head
    );
    let page = Page::parse(&answer.body).unwrap_or_else(|e| panic!("{e} in:\n{}", answer.body));
    let untyped: Vec<&str> = page
        .samples
        .iter()
        .map(|s| s.name.as_str())
        .filter(|name| !page.types.contains_key(&page.family(name)))
        .collect();
    assert!(untyped.is_empty(), "samples without a TYPE: {untyped:?}");
    Ok(page)
}

/// Scrapes until `ready` says the page is the one awaited; returns it.
#[track_caller]
fn wait_for_page(port: u16, what: &str, ready: impl Fn(&Page) -> bool) -> Page {
    wait_for(what, T, || {
        let page = scrape(port)?;
        if ready(&page) {
            Ok(page)
        } else {
            Err(format!("{:?}", page.samples))
        }
    })
}

/// GET /status, as the Snapshot it must be.
fn status_json(answer: &HttpResponse) -> Snapshot {
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(
        answer.head.contains("Content-Type: application/json"),
        "{}",
        answer.head
    );
    serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {}", answer.body))
}

/// `httpok --status URL` outside supervisord: (exit code, stdout, stderr).
fn status_command(url: &str) -> (i32, String, String) {
    let out = Command::new(httpok_bin())
        .args(["--status", url])
        .env_remove("SUPERVISOR_SERVER_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run httpok --status");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The table row of `program` in `--status` output, as its cells.
fn row<'a>(table: &'a str, program: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|l| l.split("  ").map(str::trim).nth(1) == Some(program))
        .unwrap_or_else(|| panic!("no row for {program} in:\n{table}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// How long httpok took over each event supervisord sent it: from "event N sent to
/// listener httpok" to the next "httpok: BUSY -> ACKNOWLEDGED" in supervisord's log
/// (debug level, millisecond stamps).
fn event_latencies(sup: &Supervisor) -> Vec<Duration> {
    let millis = |line: &str| -> Option<i64> {
        let time = line.split(' ').nth(1)?;
        let (hms, ms) = time.split_once(',')?;
        let mut parts = hms.split(':').map(|p| p.parse::<i64>().ok());
        let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
        Some(((h * 60 + m) * 60 + s) * 1000 + ms.parse::<i64>().ok()?)
    };
    let mut sent = None;
    let mut latencies = Vec::new();
    for line in read_file_lossy(sup.log_path()).lines() {
        if line.contains(" sent to listener httpok") {
            sent = millis(line);
        } else if line.contains("httpok: BUSY -> ACKNOWLEDGED")
            && let (Some(at), Some(done)) = (sent.take(), millis(line))
        {
            let ms = (done - at).rem_euclid(24 * 3600 * 1000);
            latencies.push(Duration::from_millis(ms.unsigned_abs()));
        }
    }
    latencies
}

fn rounds(page: &Page) -> f64 {
    page.get("httpok_rounds_total", &[])
        .expect("httpok_rounds_total")
}

/// httpok_last_round_timestamp_seconds.
fn last_round_end(page: &Page) -> f64 {
    page.get("httpok_last_round_timestamp_seconds", &[])
        .expect("httpok_last_round_timestamp_seconds")
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

// ---------------------------------------------------------------- supervisord cases

#[test]
fn metrics_follow_a_check_from_healthy_to_failing_to_restarted() {
    let (port, metrics) = (free_port(), free_port());
    let url = format!("http://127.0.0.1:{port}/");
    let sup = start(vec![
        web("web", port, "mode-file:{dir}/mode"),
        listener(&format!(
            "-f 2 -p web -t 2 --metrics-listen 127.0.0.1:{metrics} {url}"
        )),
    ]);
    let target = [("target", url.as_str()), ("program", "web")];
    let pid = sup.wait_running("web", T);

    let healthy = wait_for_page(metrics, "probe_success 1", |p| {
        p.get("probe_success", &target) == Some(1.0)
    });
    assert_eq!(healthy.get("probe_http_status_code", &target), Some(200.0));
    let took = healthy
        .get("probe_duration_seconds", &target)
        .expect("duration");
    assert!(took > 0.0 && took < 2.0, "{took}");
    assert_eq!(
        healthy.get("httpok_check_consecutive_failures", &[("check", &url)]),
        Some(0.0)
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        healthy.get("httpok_build_info", &[("version", version)]),
        Some(1.0)
    );
    assert!(rounds(&healthy) >= 1.0);
    let round_ended = last_round_end(&healthy);
    assert!(
        (unix_now() - round_ended).abs() < 30.0,
        "the last round ended at {round_ended}, now is {}",
        unix_now()
    );
    let restarted = [("program", "web"), ("outcome", "restarted")];
    let (code, table, _) = status_command(&format!("http://127.0.0.1:{metrics}"));
    assert_eq!(code, 0, "{table}");
    assert_eq!(row(&table, "web")[3], "ok", "{table}");

    // One failed round of the two -f 2 wants: failing, not restarted yet.
    fs::write(sup.path("mode"), "error").expect("write mode file");
    let failing = wait_for_page(metrics, "probe_success 0", |p| {
        p.get("probe_success", &target) == Some(0.0)
    });
    assert_eq!(failing.get("probe_http_status_code", &target), Some(500.0));
    assert_eq!(
        failing.get("httpok_check_consecutive_failures", &[("check", &url)]),
        Some(1.0)
    );
    // The round that failed read the process list: the program's series are there.
    assert_eq!(failing.get("httpok_restarts_total", &restarted), Some(0.0));
    let state = [("program", "web"), ("state", "watching")];
    assert_eq!(failing.get("httpok_program_state", &state), Some(1.0));
    assert_eq!(failing.get("httpok_supervisord_up", &[]), Some(1.0));
    assert!(rounds(&failing) > rounds(&healthy));
    assert!(last_round_end(&failing) > round_ended);
    let (code, table, _) = status_command(&format!("http://127.0.0.1:{metrics}"));
    assert_eq!(code, 1, "{table}");
    assert_eq!(
        row(&table, "web")[2..4],
        ["watching", "failing: status 500"],
        "{table}"
    );

    // The second failed round restarts it; it answers again.
    assert_restarted(&sup, "web", pid);
    fs::write(sup.path("mode"), "ok").expect("write mode file");
    let after = wait_for_page(metrics, "restarted 1 and probe_success 1", |p| {
        p.get("httpok_restarts_total", &restarted) == Some(1.0)
            && p.get("probe_success", &target) == Some(1.0)
    });
    assert!(rounds(&after) > rounds(&failing));
    for outcome in ["failed", "skipped"] {
        let labels = [("program", "web"), ("outcome", outcome)];
        assert_eq!(
            after.get("httpok_restarts_total", &labels),
            Some(0.0),
            "{outcome}"
        );
    }
    assert_eq!(
        after.get("httpok_given_up", &[("program", "web")]),
        Some(0.0)
    );
    let status = status_json(&http_get(metrics, "/status", T).expect("GET /status"));
    assert_eq!(status.programs[0].program, "web");
    assert_eq!(status.programs[0].restarted, 1);
    assert_eq!(status.checks[0].healthy, Some(true));
    eprintln!(
        "---- /metrics after the restart\n{}",
        http_get(metrics, "/metrics", T).expect("GET").body
    );
    assert_listener_healthy(&sup);
}

#[test]
fn a_unix_socket_endpoint_serves_status_and_the_exit_codes_follow_the_checks() {
    let port = free_port();
    let sup = start(vec![
        web("web", port, "ok"),
        listener(&format!(
            "-t 2 --metrics-listen unix:{{dir}}/metrics.sock --check web=http://127.0.0.1:{port}/"
        )),
    ]);
    let socket = sup.path("metrics.sock");
    let status_url = format!("unix:{}", socket.display());
    sup.wait_running("web", T);
    let healthy = wait_for("a healthy status over the socket", T, || {
        let answer = http_get_unix(&socket, "/status", T).map_err(|e| e.to_string())?;
        let status = status_json(&answer);
        match status.checks[0].healthy {
            Some(true) => Ok(status),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(healthy.checks[0].program, "web");
    assert!(healthy.rounds_total >= 1);
    let page = http_get_unix(&socket, "/metrics", T).expect("GET /metrics");
    let page = Page::parse(&page.body).expect("a valid page");
    assert_eq!(page.get("probe_success", &[("program", "web")]), Some(1.0));
    let (code, table, stderr) = status_command(&status_url);
    assert_eq!(code, 0, "{table}{stderr}");
    assert!(stderr.is_empty(), "{stderr}");

    // Stopped by the operator: the check fails, httpok leaves it be, --status says 1.
    let (code, out) = sup.ctl(&["stop", "web"]);
    assert_eq!(code, 0, "{out}");
    wait_for("--status exits 1", T, || {
        match status_command(&status_url) {
            (1, table, _) => Ok(table),
            (code, table, stderr) => Err(format!("{code}: {table}{stderr}")),
        }
    });

    // Nothing listening there: 2, one ERROR line, nothing on stdout.
    let (code, stdout, stderr) =
        status_command(&format!("unix:{}", sup.path("none.sock").display()));
    assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(" ERROR cannot reach httpok at unix:"),
        "{stderr}"
    );
    assert_listener_healthy(&sup);
}

/// Until dropped, keeps the endpoint full: every 100 ms a new connection that sends
/// nothing, up to 40 held (more than the endpoint's 32, so new ones push out the oldest
/// idle ones), and now and then a 64 KiB head.
struct Flood {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Flood {
    fn start(port: u16) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut held = VecDeque::new();
            let mut n = 0u32;
            while !stopped.load(Ordering::Relaxed) {
                if let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) {
                    if n.is_multiple_of(10) {
                        let _ = conn.set_write_timeout(Some(Duration::from_millis(100)));
                        let _ = conn.write_all(&oversized_head());
                    }
                    held.push_back(conn);
                }
                if held.len() > 40 {
                    held.pop_front();
                }
                n += 1;
                thread::sleep(Duration::from_millis(100));
            }
        });
        Flood {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `GET /metrics` with a header that makes the head 64 KiB.
fn oversized_head() -> Vec<u8> {
    let mut head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    head.resize(64 * 1024 - 4, b'a');
    head.extend_from_slice(b"\r\n\r\n");
    head
}

/// The status code of what the endpoint answers to `request` (0 for no answer).
fn answer_to(port: u16, request: &[u8]) -> u16 {
    let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(10)));
    let _ = conn.write_all(request);
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[test]
fn silent_and_oversized_requests_do_not_delay_rounds_and_the_endpoint_recovers() {
    let (port, metrics) = (free_port(), free_port());
    let sup = start(vec![
        web("web", port, "ok"),
        listener(&format!(
            "-p web -t 2 --metrics-listen 127.0.0.1:{metrics} http://127.0.0.1:{port}/"
        )),
    ]);
    let before = wait_for_page(metrics, "a first round", |p| rounds(p) >= 1.0);
    {
        let _flood = Flood::start(metrics);
        // Rounds go on meanwhile, each as quick as without the flood: a healthy round
        // of one local check takes milliseconds (one that waited for the snapshot's
        // lock behind a silent client would take seconds).
        let handled = event_latencies(&sup).len();
        wait_for_more_ticks(&sup, 4);
        let during = event_latencies(&sup);
        let slow = during[handled..]
            .iter()
            .filter(|d| d.as_secs_f64() > 2.5)
            .count();
        assert_eq!(slow, 0, "rounds delayed during the flood: {during:?}");
        let log = read_file_lossy(sup.log_path());
        assert!(!log.contains("buffer overflowed"), "{}", tail(&log, 30));
        // And scrapes are answered meanwhile, at once. (Before issue 16 a full endpoint
        // answered 503: its workers sat on the idle connections. Now one poll(2)
        // thread serves everyone, and a full table closes the oldest idle connection.)
        for _ in 0..5 {
            let started = Instant::now();
            assert_eq!(answer_to(metrics, b"GET /metrics HTTP/1.0\r\n\r\n"), 200);
            let took = started.elapsed();
            assert!(took < Duration::from_secs(2), "a scrape took {took:?}");
        }
    }
    // Free again: an oversized head is refused with 431, a scrape is served and shows
    // the rounds that ran during the flood.
    wait_until("431 for a 64 KiB head", T, || {
        answer_to(metrics, &oversized_head()) == 431
    });
    let after = wait_for_page(metrics, "the rounds of the flood counted", |p| {
        rounds(p) >= rounds(&before) + 4.0
    });
    assert_eq!(after.get("probe_success", &[("program", "web")]), Some(1.0));
    assert_listener_healthy(&sup);
}

// ---------------------------------------------------------------- without supervisord

#[test]
fn a_malformed_address_is_still_a_usage_error_with_exit_2() {
    let out = httpok_cmd()
        .args(["--server-url", "unix:///nonexistent/supervisor.sock"])
        .args(["--metrics-listen", "localhost:9117", "http://127.0.0.1:9/"])
        .stdin(Stdio::null())
        .output()
        .expect("run httpok");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "{:?}", out.stdout);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(" ERROR "), "{stderr}");
    assert!(stderr.contains("localhost:9117"), "{stderr}");
    assert!(!stderr.contains("started"), "{stderr}");
}

#[test]
fn at_the_end_of_stdin_the_socket_file_is_removed() {
    let dir = TempDir::new("eof-socket");
    let socket = dir.join("metrics.sock");
    let mut cmd = httpok_cmd();
    cmd.args(["--server-url", "unix:///nonexistent/supervisor.sock"])
        .arg("--metrics-listen")
        .arg(format!("unix:{}", socket.display()))
        .arg("http://127.0.0.1:9/")
        .stdin(Stdio::piped());
    let mut httpok = Running::spawn(&mut cmd);
    let stdin = httpok.take_stdin();
    wait_for("the endpoint on its socket", T, || {
        http_get_unix(&socket, "/status", T)
            .map(|answer| answer.status)
            .map_err(|e| e.to_string())
    });
    drop(stdin);
    let done = httpok.finish(T, |_| {});
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(!socket.exists(), "the socket file is left: {}", done.stderr);
}

#[test]
fn status_of_an_address_where_nothing_listens_exits_2_with_one_error_line() {
    let (code, stdout, stderr) = status_command(&format!("http://{}", refused_addr()));
    assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(" ERROR cannot reach httpok at http://127.0.0.2:"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------- it never costs the watch

#[test]
fn a_taken_port_is_one_error_httpok_restarts_a_frozen_app_and_serves_once_it_is_free() {
    // Some local user holds the port when httpok starts.
    let (port, metrics) = (free_port(), free_port());
    let taken = TcpListener::bind(("127.0.0.1", metrics)).expect("take the port");
    let started = Instant::now();
    let sup = start(vec![
        web("web", port, "ok"),
        listener(&format!(
            "-f 2 -p web -t 2 --metrics-listen 127.0.0.1:{metrics} http://127.0.0.1:{port}/"
        )),
    ]);
    let error = format!(" ERROR --metrics-listen 127.0.0.1:{metrics}: cannot listen there");
    let log = wait_for_log(sup.path("httpok.err.log"), &error, T);
    assert!(log.contains("tries again every 60s"), "{log}");
    // It watches all the same: RUNNING, never FATAL, and a frozen app is restarted.
    let pid = sup.wait_running("web", T);
    sup.wait_running("httpok", T);
    sup.freeze(pid);
    assert_restarted(&sup, "web", pid);
    assert_eq!(sup.state("httpok"), "RUNNING");

    // Freed: served at the next try, a minute after the start, said once.
    drop(taken);
    let page = wait_for(
        "served once the port is free",
        Duration::from_secs(90),
        || scrape(metrics),
    );
    let restarted = [("program", "web"), ("outcome", "restarted")];
    assert_eq!(page.get("httpok_restarts_total", &restarted), Some(1.0));
    let took = started.elapsed();
    eprintln!(
        "served {:.1}s after supervisord started",
        took.as_secs_f64()
    );
    let log = httpok_log(&sup);
    assert_eq!(count(&log, &error), 1, "{log}");
    assert_eq!(count(&log, " ERROR "), 1, "{log}");
    let serving = format!("serving GET /metrics and GET /status on 127.0.0.1:{metrics} now");
    assert_eq!(count(&log, &serving), 1, "{log}");
    assert_listener_healthy(&sup);
}

#[test]
fn sixteen_idle_connections_held_open_do_not_delay_a_scrape() {
    let (port, metrics) = (free_port(), free_port());
    let sup = start(vec![
        web("web", port, "ok"),
        listener(&format!(
            "-p web -t 2 --metrics-listen 127.0.0.1:{metrics} http://127.0.0.1:{port}/"
        )),
    ]);
    let before = wait_for_page(metrics, "a first round", |p| rounds(p) >= 1.0);
    let idle = IdleClients::hold(metrics, 16);
    wait_until("16 idle connections open", T, || idle.opened() >= 16);
    // Scrapes over more than one head timeout (5 s), so that the server has dropped
    // idle connections and the clients have opened new ones meanwhile.
    let mut slowest = Duration::ZERO;
    for _ in 0..8 {
        let started = Instant::now();
        let answer = http_get(metrics, "/metrics", T).expect("GET /metrics");
        let took = started.elapsed();
        assert_eq!(answer.status, 200, "{}", answer.head);
        assert!(took < Duration::from_secs(2), "a scrape took {took:?}");
        slowest = slowest.max(took);
        thread::sleep(Duration::from_secs(1));
    }
    assert!(
        idle.opened() > 16,
        "the server never dropped an idle connection"
    );
    eprintln!(
        "slowest of 8 scrapes beside 16 idle connections: {slowest:?}; {} opened",
        idle.opened()
    );
    // Rounds went on: counted, and their end moved.
    let after = wait_for_page(metrics, "more rounds", |p| rounds(p) > rounds(&before));
    assert!(last_round_end(&after) > last_round_end(&before));
    drop(idle);
    assert_listener_healthy(&sup);
}

#[test]
fn an_address_other_hosts_reach_is_warned_about_once_and_served() {
    let (port, metrics) = (free_port(), free_port());
    let sup = start(vec![
        web("web", port, "ok"),
        listener(&format!(
            "-p web -t 2 --metrics-listen 0.0.0.0:{metrics} http://127.0.0.1:{port}/"
        )),
    ]);
    let warning =
        format!(" WARN --metrics-listen 0.0.0.0:{metrics} can be reached from other hosts");
    let log = wait_for_log(sup.path("httpok.err.log"), &warning, T);
    assert!(
        log.contains("targets") && log.contains("programs behind them"),
        "{log}"
    );
    wait_for_page(metrics, "a first round", |p| rounds(p) >= 1.0);
    wait_for_more_ticks(&sup, 2);
    assert_eq!(
        count(&httpok_log(&sup), " WARN "),
        1,
        "{}",
        httpok_log(&sup)
    );
    assert_listener_healthy(&sup);
}

/// A live socket at the path whose server never accepts (its backlog full): a hung
/// httpok before this one, or a socket someone with write access to the directory put
/// there. **Was a hang before the first READY**: the look at whether the socket was
/// stale was a blocking connect, on the main thread, with no deadline; httpok was
/// RUNNING to supervisord and answered no event. Now it is one ERROR, the rounds run,
/// a frozen web is restarted, and the socket is left alone.
#[test]
fn a_socket_at_the_path_that_never_accepts_is_one_error_and_the_watch_goes_on() {
    let port = free_port();
    let sup = start(vec![web("web", port, "ok")]);
    let socket = sup.path("metrics.sock");
    let planted = FullBacklogSocket::bind(&socket);
    let pid = sup.wait_running("web", T);
    add_listener(
        &sup,
        listener(&format!(
            "-p web -t 2 --metrics-listen unix:{} http://127.0.0.1:{port}/",
            socket.display()
        )),
    );
    wait_for_more_ticks(&sup, 1);
    wait_for_count(&sup, "cannot listen there (Address already in use", 1);
    sup.freeze(pid);
    assert_restarted(&sup, "web", pid);
    let log = httpok_log(&sup);
    assert_eq!(count(&log, " ERROR "), 1, "{log}");
    assert!(
        planted.path().exists(),
        "the socket someone else holds is left alone"
    );
    assert_listener_healthy(&sup);
}

#[test]
fn a_stale_socket_file_is_replaced_at_start_and_the_socket_is_gone_after_a_stop() {
    let port = free_port();
    let sup = start(vec![web("web", port, "ok")]);
    // Left by an httpok that was killed: a socket file nobody listens on.
    let socket = sup.path("metrics.sock");
    drop(UnixListener::bind(&socket).expect("bind the stale one"));
    let refused = UnixStream::connect(&socket).expect_err("stale");
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    add_listener(
        &sup,
        listener(&format!(
            "-p web -t 2 --metrics-listen unix:{} http://127.0.0.1:{port}/",
            socket.display()
        )),
    );
    let status = wait_for("a status over the socket", T, || {
        let answer = http_get_unix(&socket, "/status", T).map_err(|e| e.to_string())?;
        Ok(status_json(&answer))
    });
    // Answered on that path: the stale file was replaced by httpok's socket.
    assert_eq!(status.checks[0].program, "web");
    assert_eq!(
        count(&httpok_log(&sup), " ERROR "),
        0,
        "{}",
        httpok_log(&sup)
    );
    assert_listener_healthy(&sup);

    let (code, out) = sup.ctl(&["stop", "httpok"]);
    assert_eq!(code, 0, "{out}");
    sup.wait_state("httpok", "STOPPED", T);
    let log = httpok_log(&sup);
    assert!(log.contains("received SIGTERM"), "{log}");
    assert!(
        !socket.exists(),
        "the socket file is left after the stop:\n{log}"
    );
}

/// blackbox_exporter's other names, each on the real endpoint: an https check whose
/// server presents an intermediate that expires (in 2 days) before its leaf (30 days),
/// and an http check failed by its body regex.
#[test]
fn metrics_show_the_chains_earliest_expiry_and_the_rest_of_blackbox_names() {
    let scratch = TempDir::new("chain-metrics");
    let certs = Certs::make(scratch.path());
    let chain = certs.chain(2, 30);
    let intermediate_ends = certs.not_after(&chain.intermediate);
    assert!(intermediate_ends < certs.not_after(&chain.leaf));
    let app = TlsApp::start(scratch.path(), &chain.full);
    let (https_url, port, metrics) = (app.url(), free_port(), free_port());
    let http_url = format!("http://127.0.0.1:{port}/");
    let config = scratch.path().join("checks.toml");
    fs::write(
        &config,
        format!(
            "[[check]]\nname = \"shop\"\nurl = \"{https_url}\"\ncacert = \"{}\"\n\n\
             [[check]]\nname = \"api\"\nprogram = \"web\"\nurl = \"{http_url}\"\n\
             body_regex = \"never there\"\nfailures = 1000\n",
            certs.ca().display()
        ),
    )
    .expect("write the config");
    let sup = start(vec![
        web("web", port, "ok"),
        listener(&format!(
            "-t 5 --cert-expiry-warn 14 --metrics-listen 127.0.0.1:{metrics} --config {}",
            config.display()
        )),
    ]);
    let shop = [("check", "shop"), ("target", https_url.as_str())];
    let api = [("check", "api"), ("target", http_url.as_str())];
    let page = wait_for_page(metrics, "both checks probed, the certificate read", |p| {
        p.get("probe_success", &api).is_some()
            && p.get("probe_ssl_earliest_cert_expiry", &shop).is_some()
    });
    // The chain's earliest expiry is the intermediate's, as openssl reads it.
    assert_eq!(
        page.get("probe_ssl_earliest_cert_expiry", &shop),
        Some(intermediate_ends as f64)
    );
    let tls13 = [shop[0], shop[1], ("version", "TLS 1.3")];
    assert_eq!(page.get("probe_tls_version_info", &tls13), Some(1.0));
    assert_eq!(page.get("probe_success", &shop), Some(1.0));
    assert_eq!(page.get("probe_http_ssl", &shop), Some(1.0));
    assert_eq!(page.get("probe_http_ssl", &api), Some(0.0));
    // tlsapp.py answers "OK" with a Content-Length, over HTTP/1.0; webapp.py "hello
    // httpok OK\n".
    assert_eq!(page.get("probe_http_content_length", &shop), Some(2.0));
    assert_eq!(page.get("probe_http_content_length", &api), Some(16.0));
    assert_eq!(page.get("probe_http_version", &api), Some(1.0));
    assert_eq!(page.get("probe_failed_due_to_regex", &api), Some(1.0));
    assert_eq!(page.get("probe_failed_due_to_regex", &shop), Some(0.0));
    assert_eq!(page.get("probe_success", &api), Some(0.0));
    for labels in [&shop, &api] {
        let lookup = page
            .get("probe_dns_lookup_time_seconds", labels)
            .expect("a lookup time");
        assert!((0.0..1.0).contains(&lookup), "{lookup}");
    }
    // --cert-expiry-warn names the certificate that expires: the intermediate.
    let warning = format!(
        "WARN {https_url}: its certificate CN=httpok test intermediate CA (certificate 2 of \
         the chain) expires in 1 day"
    );
    wait_for_count(&sup, &warning, 1);
    // The body regex fails the check, named in the log by its name and URL.
    let log = httpok_log(&sup);
    assert!(
        log.contains(&format!(
            "api ({http_url}): body does not match /never there/"
        )),
        "{log}"
    );
    assert_listener_healthy(&sup);
}
