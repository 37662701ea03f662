//! httpok's supervisord client against a real supervisord (4.3.0 from `.venv`).
//!
//! supervisord's deferred replies (stopProcess/startProcess with wait=true, and their
//! group forms) set Content-Length to the length of a Python str, in characters, while
//! sending UTF-8 (supervisor/xmlrpc.py, `DeferredXMLRPCResponse.getresponse`). With
//! non-ASCII names in the reply it is short, so the client must read to EOF.
//! supervisord 4.3.0 accepts non-ASCII program and group names (it refuses only
//! space, `:` and `/`), so the names here are non-ASCII in both.
mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::{Section, Supervisor, SupervisorConfig, wait_for};
use httpok::supervisor::model::ProcessState;
use httpok::supervisor::xmlrpc::{self, Value};
use httpok::supervisor::{Client, ClientError, Endpoint, STOP_CALL_TIMEOUT, Supervisor as _};

const GROUP: &str = "グループ";
/// Each one's bytes outnumber its characters (2 and 3 bytes a character).
const PROGRAMS: [&str; 2] = ["wéb", "日本語"];
const T: Duration = Duration::from_secs(60);

/// A program that runs until SIGTERM; RUNNING at once (startsecs=0). Its logs are
/// named by `index`, not by its non-ASCII name.
fn program(name: &str, index: usize) -> Section {
    Section::program(name, "{python} -c \"import time; time.sleep(3600)\"")
        .set("startsecs", "0")
        .set("autorestart", "false")
        .set("stdout_logfile", format!("{{dir}}/program{index}.out.log"))
        .set("stderr_logfile", format!("{{dir}}/program{index}.err.log"))
}

fn start_group() -> Supervisor {
    let programs = PROGRAMS
        .iter()
        .enumerate()
        .map(|(i, name)| program(name, i));
    Supervisor::start(
        SupervisorConfig::new()
            .sections(programs)
            .program(Section::group(GROUP, &PROGRAMS)),
    )
}

fn client(sup: &Supervisor) -> Client {
    let endpoint = Endpoint::parse(sup.server_url()).expect("supervisord's URL");
    Client::new(endpoint, None, None, Duration::from_secs(10))
}

fn states(client: &Client) -> Result<Vec<ProcessState>, ClientError> {
    PROGRAMS
        .iter()
        .map(|name| Ok(client.process_info(&format!("{GROUP}:{name}"))?.state))
        .collect()
}

#[track_caller]
fn wait_all(client: &Client, state: ProcessState) {
    wait_for(&format!("every program {state}"), T, || {
        match states(client) {
            Ok(now) if now.iter().all(|s| *s == state) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
}

/// The group-form reply: one {name, group, status, description} per process.
fn names_and_statuses(reply: &Value) -> Vec<(String, String, i64)> {
    let items = reply.as_array().expect("an array of results");
    items
        .iter()
        .map(|item| {
            let members = item.as_struct().expect("a struct per process");
            let text = |key| members.get(key).and_then(Value::as_str).expect(key);
            let status = members.get("status").and_then(Value::as_i64);
            (
                text("name").to_string(),
                text("group").to_string(),
                status.expect("status"),
            )
        })
        .collect()
}

/// One call as the client sends it, but read raw: (Content-Length, body as received).
fn raw_call(sup: &Supervisor, method: &str, params: &[Value]) -> (usize, String) {
    let socket = sup
        .server_url()
        .strip_prefix("unix://")
        .expect("a unix socket");
    let mut stream = UnixStream::connect(socket).expect("connect");
    stream.set_read_timeout(Some(T)).expect("timeout");
    let body = xmlrpc::encode_call(method, params);
    write!(
        stream,
        "POST /RPC2 HTTP/1.0\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("a UTF-8 reply");
    let (head, body) = reply.split_once("\r\n\r\n").expect("a head");
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Content-Length");
    (length, body.to_string())
}

#[test]
fn a_group_with_non_ascii_names_stops_and_starts_with_wait_and_the_whole_reply_is_read() {
    let sup = start_group();
    let client = client(&sup);
    wait_all(&client, ProcessState::Running);
    let group = format!("{GROUP}:*");

    // Stopping with wait returns only once every process is down.
    assert_eq!(client.stop_process(&group, true), Ok(()));
    assert_eq!(
        states(&client),
        Ok(vec![ProcessState::Stopped; PROGRAMS.len()])
    );

    let started = client
        .call_within(
            STOP_CALL_TIMEOUT,
            "supervisor.startProcess",
            &[group.as_str().into(), true.into()],
        )
        .expect("startProcess with wait");
    // 80 is SUCCESS, for each process, names intact to the last byte.
    let expected: Vec<_> = PROGRAMS
        .iter()
        .map(|name| (name.to_string(), GROUP.to_string(), 80))
        .collect();
    assert_eq!(names_and_statuses(&started), expected);
    wait_all(&client, ProcessState::Running);

    // Why the client must read to EOF: this reply's Content-Length counts characters.
    let (length, body) = raw_call(
        &sup,
        "supervisor.stopProcess",
        &[group.as_str().into(), true.into()],
    );
    assert_eq!(length, body.chars().count(), "{body}");
    assert!(
        body.len() > length + 20,
        "{} bytes, Content-Length {length}: supervisord may count bytes now, and this \
         test no longer shows a short Content-Length",
        body.len()
    );
    // A client that stopped at Content-Length would have cut the end off.
    assert!(xmlrpc::decode_response(&body.as_bytes()[..length]).is_err());
}
