//! Bad input from supervisord's side, fed straight into the real binary's stdin: the
//! listener must never panic, write nothing but `READY\n` and `RESULT 2\nOK` to stdout,
//! answer exactly one RESULT per event, stay in sync for the event that follows, and
//! exit 0 at EOF.
//!
//! supervisord is "configured" at a unix socket that does not exist, so a TICK's round
//! fails at once and every case runs in well under a second.
mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use common::{Finished, Running, httpok_cmd};
use httpok::fuzzing::protocol_output;

/// A run that takes longer than this is a hang, and fails the test.
const DEADLINE: Duration = Duration::from_secs(60);

/// A TICK that always starts a round (its `when` is not before the last round).
const TICK: &[u8] = b"ver:3.0 server:supervisor serial:1 pool:httpok poolserial:1 eventname:TICK_5 len:15\nwhen:4102444800";

/// One well-formed event, framed as supervisord frames it (`len` in characters).
fn event(name: &str, payload: &str) -> Vec<u8> {
    let mut bytes = format!(
        "ver:3.0 server:supervisor serial:7 pool:httpok poolserial:7 eventname:{name} len:{}\n",
        payload.chars().count()
    )
    .into_bytes();
    bytes.extend_from_slice(payload.as_bytes());
    bytes
}

/// A payload that would desync a reader counting bytes or lines: non-ASCII, newlines
/// and something that looks like a header.
const TRAP: &str = "processname:w\u{e9}b groupname:\u{2603} from_state:STARTING pid:1\neventname:TICK_5 len:3\nabc\n";

/// What httpok did with the input.
struct Run(Finished);

/// Runs httpok as a listener with `input` on stdin, written `chunk` bytes at a time
/// (all at once when `None`) while stdout and stderr are read, then EOF.
fn run_with(input: Vec<u8>, chunk: Option<usize>) -> Run {
    let socket = format!("unix:///tmp/httpok-bad-input-{}.sock", std::process::id());
    let mut httpok = Running::spawn(
        httpok_cmd()
            .args(["-p", "web", "-t", "1", "http://127.0.0.1:1/"])
            .env("SUPERVISOR_SERVER_URL", socket)
            .stdin(Stdio::piped()),
    );
    let mut stdin = httpok.take_stdin().expect("stdin");
    let writer = thread::spawn(move || {
        let size = chunk.unwrap_or(input.len()).max(1);
        for piece in input.chunks(size) {
            // A listener that exits early closes the pipe: the checks below say why.
            if stdin.write_all(piece).and_then(|()| stdin.flush()).is_err() {
                return;
            }
            if chunk.is_some() {
                thread::sleep(Duration::from_millis(1));
            }
        }
    });
    let done = httpok.finish(DEADLINE, |_| {});
    let _ = writer.join();
    Run(done)
}

fn run(input: Vec<u8>) -> Run {
    run_with(input, None)
}

impl Run {
    /// Exit 0, no panic, and stdout exactly READY plus one RESULT/READY per event.
    #[track_caller]
    fn assert_answered(&self, events: usize) {
        let Finished {
            code,
            stdout,
            stderr,
            ..
        } = &self.0;
        assert!(!stderr.contains("panicked"), "httpok panicked:\n{stderr}");
        assert_eq!(*code, 0, "exit status; stderr:\n{stderr}");
        // Lossy UTF-8: a stray byte shows as U+FFFD, which no check below lets through.
        let results = count(stdout.as_bytes(), b"RESULT 2\nOK");
        let other = stdout.replace("READY\n", "").replace("RESULT 2\nOK", "");
        assert!(other.is_empty(), "non-protocol bytes on stdout: {other:?}");
        assert_eq!(results, events, "RESULTs for {events} events");
        assert_eq!(stdout.as_bytes(), protocol_output(events), "protocol order");
    }
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| w == &needle)
        .count()
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn no_input_at_all_is_a_ready_and_a_clean_exit() {
    run(Vec::new()).assert_answered(0);
}

#[test]
fn garbage_lines_are_acknowledged_and_the_next_event_is_still_read() {
    let input = concat(&[
        b"hello\n",
        b"\n",
        b"   \t\r\n",
        b"::: :::\n",
        b"\x00\x01\x02\xff\xfe\n",
        b"len:abc eventname:TICK_5\n",
        b"RESULT 2\nOK",
        b"READY\n",
        &event("PROCESS_STATE_RUNNING", TRAP),
        TICK,
    ]);
    // Blank lines are skipped; the 4 other lines, `RESULT 2`, `OKREADY` (our own
    // protocol echoed back is garbage too) and the 2 events get one RESULT each.
    run(input).assert_answered(8);
}

#[test]
fn a_header_without_len_is_an_empty_event_and_the_stream_stays_in_sync() {
    let input = concat(&[
        b"ver:3.0 server:supervisor serial:1 pool:httpok poolserial:1 eventname:TICK_5\n",
        &event("PROCESS_STATE_STOPPED", TRAP),
        // Its payload (no newline) glues onto the next header, which still parses.
        b"ver:3.0 server:supervisor serial:2 pool:httpok poolserial:2 eventname:TICK_5\nwhen:1700000005",
        &event("PROCESS_STATE_STARTING", TRAP),
        TICK,
    ]);
    run(input).assert_answered(5);
}

#[test]
fn len_larger_than_what_follows_then_eof_exits_cleanly() {
    let input = concat(&[
        &event("PROCESS_STATE_RUNNING", TRAP),
        b"ver:3.0 server:supervisor serial:3 pool:httpok poolserial:3 eventname:PROCESS_LOG_STDOUT len:100\nonly a few bytes",
    ]);
    // The event cut short by EOF is not an event: supervisord is gone.
    run(input).assert_answered(1);
}

#[test]
fn a_huge_len_with_little_data_then_eof_exits_at_once() {
    let input = concat(&[
        TICK,
        b"ver:3.0 server:supervisor serial:3 pool:httpok poolserial:3 eventname:PROCESS_LOG_STDOUT len:99999999999\n",
        &[b'x'; 1000],
    ]);
    let run = run(input);
    run.assert_answered(1);
    assert!(
        run.0.took < Duration::from_secs(10),
        "took {:?}",
        run.0.took
    );
}

#[test]
fn a_len_beyond_any_integer_is_an_empty_event() {
    let input = concat(&[
        b"ver:3.0 eventname:PROCESS_LOG_STDOUT len:18446744073709551616\n",
        b"ver:3.0 eventname:PROCESS_LOG_STDOUT len:-1\n",
        &event("PROCESS_STATE_RUNNING", TRAP),
    ]);
    run(input).assert_answered(3);
}

#[test]
fn a_payload_far_over_the_cap_is_read_through_and_the_next_event_follows() {
    let big = "\u{e9}".repeat(1_000_000); // 1M characters, 2 MB
    let input = concat(&[&event("PROCESS_LOG_STDOUT", &big), TICK]);
    run(input).assert_answered(2);
}

#[test]
fn non_utf8_payloads_and_headers_do_not_desync() {
    // len counts lead bytes, as the reader does for bytes that are not UTF-8.
    let invalid: &[u8] = b"\xff\xfe\xc3( \x80\x80 \xf0\x9f end \xc3";
    let chars = invalid.iter().filter(|&&b| b & 0xC0 != 0x80).count();
    let input = concat(&[
        format!("ver:3.0 eventname:PROCESS_LOG_STDOUT len:{chars}\n").as_bytes(),
        invalid,
        b"ver:3.0 eventname:\xff\xfeWEIRD len:2\nab",
        // What supervisord really sends for output that is not UTF-8.
        &event(
            "PROCESS_LOG_STDOUT",
            "processname:caf\u{e9} groupname:caf\u{e9} pid:1 channel:stdout\nUndecodable: b'\\xff\\xfe'",
        ),
        &event("PROCESS_STATE_RUNNING", TRAP),
        TICK,
    ]);
    run(input).assert_answered(5);
}

#[test]
fn unknown_event_names_are_acknowledged() {
    let input = concat(&[
        &event("NOT_A_REAL_EVENT", "abc"),
        &event("TICK_FOO", "when:x"),
        &event("tick_5", "when:1"),
        &event("\u{c9}V\u{c9}NEMENT_\u{2603}", TRAP),
        &event("", ""),
        &event("PROCESS_STATE_RUNNING", TRAP),
    ]);
    run(input).assert_answered(6);
}

#[test]
fn process_state_events_captured_from_supervisord_are_acknowledged() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/listener");
    let mut input = std::fs::read(corpus.join("captured-stream")).expect("captured stream");
    for entry in std::fs::read_dir(&corpus).expect("corpus dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("captured-") && name.contains("PROCESS_STATE_") {
            input.extend(std::fs::read(&path).expect("captured event"));
        }
    }
    // Every captured event starts with supervisord's own header prefix.
    let events = count(&input, b"ver:3.0 server:supervisor ");
    assert!(events > 30, "only {events} captured events");
    run(input).assert_answered(events);
}

#[test]
fn a_burst_of_five_thousand_events_is_answered_one_by_one() {
    let mut input = Vec::new();
    let states = [
        "RUNNING", "STOPPING", "STOPPED", "STARTING", "BACKOFF", "EXITED",
    ];
    for i in 0..5000 {
        if i % 500 == 0 {
            input.extend_from_slice(TICK);
        } else if i % 7 == 0 {
            input.extend(event(
                "PROCESS_LOG_STDOUT",
                "processname:w groupname:w pid:1 channel:stdout\n\u{2603} caf\u{e9}\n",
            ));
        } else {
            let payload = format!("processname:p{i} groupname:g from_state:STARTING pid:{i}");
            input.extend(event(
                &format!("PROCESS_STATE_{}", states[i % states.len()]),
                &payload,
            ));
        }
    }
    let run = run(input);
    run.assert_answered(5000);
    assert!(
        run.0.took < Duration::from_secs(30),
        "took {:?}",
        run.0.took
    );
}

#[test]
fn events_split_across_many_small_writes_are_read_whole() {
    let mut input = Vec::new();
    for _ in 0..5 {
        input.extend(event("PROCESS_STATE_RUNNING", TRAP));
        input.extend_from_slice(b"garbage\n");
    }
    input.extend_from_slice(TICK);
    // 3-byte writes split headers, `len` digits and multi-byte characters.
    run_with(input, Some(3)).assert_answered(11);
}

/// Bad input from the command line's side: a URL that cannot work is refused before the
/// listener says READY (supervisord then shows the error in its log and gives up on the
/// listener), not probed and failed on every tick.
#[test]
fn a_malformed_url_is_refused_at_start_with_a_good_example() {
    let socket = format!("unix:///tmp/httpok-bad-input-{}.sock", std::process::id());
    for url in [
        "http://[::1",
        "http://[::1]x/",
        "http://a b/",
        "http://h:/",
        "http://h:65536/",
        "https://:443/",
        "tcp://h:99999",
        "http+unix://%2Frun%2Fa%00.sock/",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_httpok"))
            .args(["-p", "web", url])
            .env("SUPERVISOR_SERVER_URL", &socket)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .expect("run httpok");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {stderr}");
        assert!(out.stdout.is_empty(), "{url}: said {:?}", out.stdout);
        assert!(
            stderr.contains("bad URL: ") && stderr.contains("(a good one: "),
            "{url}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{url}: {stderr}");
    }
}
