//! The bodies of the fuzz targets in `fuzz/`, shared with `tests/fuzz_corpus.rs`, which
//! replays the checked-in corpus on every test run. Each harness takes arbitrary bytes,
//! runs them through code that faces a peer (supervisord's event stream, its XML-RPC
//! replies, its ticks' `when`) and panics only when an invariant breaks.
//!
//! Not part of httpok's interface: public only so the fuzz crate and tests can call it.

use std::cell::RefCell;
use std::io::{BufRead, BufReader};
use std::sync::Arc;

use clap::Parser;

use crate::cli::Args;
use crate::listener::event::Event;
use crate::listener::{EventReader, MAX_PAYLOAD_BYTES, RawEvent};
use crate::notify::Commands;
use crate::planner::plan::ProbeRequest;
use crate::planner::selection::Exclusions;
use crate::probe::Probe;
use crate::probe::{Failure, Outcome};
use crate::supervisor::model::ProcessInfo;
use crate::supervisor::xmlrpc::{self, Value};
use crate::supervisor::{self, ClientError, Supervisor};
use crate::watcher::{Watcher, run_listener};

mod tick_clock;
pub use tick_clock::ticks;

/// What supervisord writes to the listener's stdin.
///
/// Invariants: framing never panics and does not depend on how the input is split
/// into reads; a payload holds exactly `len` characters (lead bytes) unless truncated
/// at the cap; `Event::from_raw` agrees with the header; and the listener loop
/// answers exactly `READY\n` then `RESULT 2\nOKREADY\n` once per event, nothing else.
pub fn listener(data: &[u8]) {
    let events = read_events(data);
    let byte_by_byte = read_events(BufReader::with_capacity(1, data));
    assert_eq!(events, byte_by_byte, "framing depends on read boundaries");
    for raw in &events {
        check_event(raw);
    }
    let mut out = Vec::new();
    WATCHER.with_borrow_mut(|watcher| {
        // unwrap: reading a slice and writing a Vec cannot fail.
        run_listener(data, &mut out, watcher).unwrap();
    });
    assert_eq!(out, protocol_output(events.len()), "stdout is not exact");
}

/// Bytes the listener loop must write for `events` events: `READY\n`, then one
/// `RESULT 2\nOK` and `READY\n` per event.
pub fn protocol_output(events: usize) -> Vec<u8> {
    let mut out = b"READY\n".to_vec();
    for _ in 0..events {
        out.extend_from_slice(b"RESULT 2\nOKREADY\n");
    }
    out
}

/// Every event in `input`, read to EOF.
pub fn read_events(input: impl BufRead) -> Vec<RawEvent> {
    let mut reader = EventReader::new(input);
    let mut events = Vec::new();
    // unwrap: in-memory readers do not fail.
    while let Some(event) = reader.next_event().unwrap() {
        events.push(event);
    }
    events
}

fn check_event(raw: &RawEvent) {
    assert!(
        raw.payload.len() <= MAX_PAYLOAD_BYTES,
        "payload over the cap"
    );
    if raw.truncated {
        assert_eq!(
            raw.payload.len(),
            MAX_PAYLOAD_BYTES,
            "truncated below the cap"
        );
    } else {
        let chars = raw.payload.iter().filter(|&&b| b & 0xC0 != 0x80).count();
        assert_eq!(
            chars,
            raw.header.len.unwrap_or(0),
            "payload is not len characters"
        );
    }
    let name = raw.header.eventname.as_deref();
    match Event::from_raw(raw) {
        Event::Tick { name: tick, .. } => {
            assert!(tick.starts_with("TICK_"));
            assert_eq!(Some(tick.as_str()), name);
        }
        Event::Other { name: other } => {
            assert_eq!(other.as_deref(), name);
            assert!(!name.is_some_and(|n| n.starts_with("TICK_")));
        }
    }
}

thread_local! {
    /// Built once: a watcher costs more than the rest of a run. With `-E` a round reads
    /// the process list before probing, and its supervisord is unreachable, so a TICK's
    /// round ends at once: no probe, no restart job, no network.
    static WATCHER: RefCell<Watcher> = RefCell::new(offline_watcher());
}

fn offline_watcher() -> Watcher {
    let args = Args::try_parse_from([
        "httpok",
        "--server-url",
        "unix:///nonexistent/httpok-fuzz.sock",
        "-t",
        "1",
        "-E",
        "-p",
        "web",
        "http://127.0.0.1:1/",
    ]);
    // unwrap: a fixed, valid command line.
    let config = args.unwrap().into_config().unwrap();
    let exclusions = Exclusions {
        own: None,
        names: Vec::new(),
    };
    Watcher::new(
        &config,
        Arc::new(Unreachable),
        Arc::new(Unreachable),
        Arc::new(Commands::default()),
        exclusions,
    )
}

struct Unreachable;

impl Probe for Unreachable {
    fn probe_all(&self, requests: &[ProbeRequest]) -> Vec<(ProbeRequest, Outcome)> {
        requests
            .iter()
            .map(|request| {
                let outcome = Outcome {
                    result: Err(Failure::Refused),
                    ..Outcome::default()
                };
                (*request, outcome)
            })
            .collect()
    }
}

impl Supervisor for Unreachable {
    fn all_process_info(&self) -> Result<Vec<ProcessInfo>, ClientError> {
        Err(ClientError::Connect("fuzzing".into()))
    }
    fn process_info(&self, _: &str) -> Result<ProcessInfo, ClientError> {
        Err(ClientError::Connect("fuzzing".into()))
    }
    fn stop_process(&self, _: &str, _: bool) -> Result<(), ClientError> {
        Err(ClientError::Connect("fuzzing".into()))
    }
    fn start_process(&self, _: &str, _: bool) -> Result<(), ClientError> {
        Err(ClientError::Connect("fuzzing".into()))
    }
}

/// A `--config` file, as arbitrary bytes, read and every check resolved as the command
/// line does (less `cacert`, which would read a file).
///
/// Invariants: nothing panics; every error is one line that names the file.
pub fn config_file(data: &[u8]) {
    let path = std::path::Path::new("fuzz.toml");
    let one_line = |e: &str| {
        assert!(
            !e.contains('\n') && !e.contains('\r'),
            "not one line: {e:?}"
        );
        assert!(e.starts_with("fuzz.toml"), "does not name the file: {e:?}");
    };
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::config::file::parse(path, text) {
        Ok(file) => {
            let mut defaults = file.defaults;
            defaults.cacert = None;
            if let Err(e) = defaults.resolve() {
                one_line(&e);
            }
            for check in file.checks {
                let mut own = check.settings;
                own.cacert = None;
                if let Err(e) = own.over(&defaults).resolve() {
                    one_line(&e);
                }
                let _ = check.target.to_string();
            }
        }
        Err(e) => one_line(&e),
    }
}

/// A reply from supervisord's XML-RPC server: a whole HTTP reply or a bare body.
///
/// Invariants: nothing panics; a 200's body is the tail of the reply; any value that
/// decodes encodes back to itself; process info structs convert without overflow.
pub fn xmlrpc(data: &[u8]) {
    check_decode(data);
    if let Ok(body) = supervisor::parse_http_reply(data) {
        assert!(data.ends_with(body), "body is not the tail of the reply");
        check_decode(body);
    }
}

fn check_decode(body: &[u8]) {
    match xmlrpc::decode_response(body) {
        Ok(Ok(value)) => {
            let again = xmlrpc::decode_response(response_body(&value).as_bytes());
            match again {
                Ok(Ok(decoded)) => assert!(
                    same(&decoded, &value),
                    "round trip changed {value:?} into {decoded:?}"
                ),
                other => panic!("re-encoded {value:?} does not decode: {other:?}"),
            }
            let items = value.as_array().unwrap_or_default();
            for info in std::iter::once(&value).chain(items) {
                if let Ok(info) = ProcessInfo::from_value(info) {
                    let _ = (info.namespec(), info.uptime(), info.is_running());
                }
            }
        }
        Ok(Err(fault)) => {
            let _ = (fault.name(), fault.to_string());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// A `<methodResponse>` carrying `value`, as supervisord would send it.
pub fn response_body(value: &Value) -> String {
    let call = xmlrpc::encode_call("m", std::slice::from_ref(value));
    let params = call
        .strip_prefix("<?xml version=\"1.0\"?>\n<methodCall><methodName>m</methodName>")
        .and_then(|rest| rest.strip_suffix("</methodCall>\n"))
        .expect("encode_call's framing changed");
    format!("<?xml version='1.0'?>\n<methodResponse>{params}</methodResponse>\n")
}

/// Equality where a NaN double equals a NaN double.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
        }
        (Value::Struct(xs), Value::Struct(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .zip(ys)
                    .all(|((kx, x), (ky, y))| kx == ky && same(x, y))
        }
        _ => a == b,
    }
}
