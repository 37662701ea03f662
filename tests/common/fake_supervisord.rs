//! Test doubles for the supervisord side of httpok, for the fault and safety tests:
//!
//! * [`FakeSupervisord`]: an XML-RPC server on a TCP port or a unix socket that answers
//!   like supervisord (getAllProcessInfo, getProcessInfo, stopProcess, startProcess) or
//!   misbehaves on demand ([`Mode`]): silence, an HTTP status, a fault, a non-XML body.
//! * [`Listener`]: the real httpok binary run as an event listener whose stdin and stdout
//!   the test holds, playing supervisord's half of the protocol (TICK events in, RESULTs
//!   out) with a deadline on every wait.
//!
//! Both clean up on drop. Every wait is a poll or a channel receive with a deadline.
//! A part of the rig (`tests/common`): requests are read by [`super::http`], httpok is
//! started by [`super::httpok_cmd`] and killed by [`super::KillOnDrop`].

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use quick_xml::escape::{escape, unescape};

use super::http::read_request;
use super::{KillOnDrop, httpok_cmd, poll, read_file_lossy, wait_for};

/// Seconds since the epoch.
pub fn epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

// ---------------------------------------------------------------- the fake supervisord

/// How the fake answers every call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Like supervisord: serves the process table.
    Healthy,
    /// Reads the request and never answers (the connection stays open).
    Silent,
    /// Answers this HTTP status with a short text body.
    Status(u16),
    /// Answers HTTP 200 with an XML-RPC fault.
    Fault(i64, String),
    /// Answers HTTP 200 with this body (not XML-RPC).
    Body(String),
}

/// One process in the fake's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeProcess {
    pub group: String,
    pub name: String,
    /// supervisord's state code (20 RUNNING, 0 STOPPED, ...).
    pub state: i64,
    pub pid: u32,
}

impl FakeProcess {
    pub fn running(name: &str, pid: u32) -> FakeProcess {
        FakeProcess {
            group: name.into(),
            name: name.into(),
            state: 20,
            pid,
        }
    }

    pub fn namespec(&self) -> String {
        if self.group == self.name {
            self.name.clone()
        } else {
            format!("{}:{}", self.group, self.name)
        }
    }
}

/// What the fake serves and what it saw.
#[derive(Debug, Default)]
pub struct FakeState {
    pub mode: Option<Mode>,
    pub processes: Vec<FakeProcess>,
    /// A fault (code, string) that stopProcess answers with, even in Healthy mode.
    pub stop_fault: Option<(i64, String)>,
    /// getProcessInfo reports this pid instead of the table's (a process that was
    /// restarted behind httpok's back between the listing and the restart).
    pub process_info_pid: Option<u32>,
    /// Calls in order, as `method namespec` (or just `method`).
    pub calls: Vec<String>,
    /// Raw request heads, for checking headers such as Authorization.
    pub heads: Vec<String>,
    next_pid: u32,
}

/// An XML-RPC server that plays supervisord. Stops serving on drop.
pub struct FakeSupervisord {
    pub state: Arc<Mutex<FakeState>>,
    url: String,
    stop: Arc<AtomicBool>,
    wake: Box<dyn Fn() + Send>,
    accept_thread: Option<thread::JoinHandle<()>>,
}

impl FakeSupervisord {
    /// Serves on 127.0.0.1:`port` (0 for any free port).
    pub fn tcp(port: u16, mode: Mode, processes: Vec<FakeProcess>) -> FakeSupervisord {
        let listener = bind_tcp(port);
        let addr = listener.local_addr().expect("local_addr");
        let wake = Box::new(move || {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
        });
        let served = Served {
            url: format!("http://{addr}"),
            wake,
            mode,
            processes,
        };
        served.on(listener, TcpListener::accept)
    }

    /// Serves on a unix socket at `path` (which must not exist).
    pub fn unix(path: &Path, mode: Mode, processes: Vec<FakeProcess>) -> FakeSupervisord {
        let listener =
            UnixListener::bind(path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        let owned = path.to_path_buf();
        let wake = Box::new(move || {
            let _ = UnixStream::connect(&owned);
        });
        let served = Served {
            url: format!("unix://{}", path.display()),
            wake,
            mode,
            processes,
        };
        served.on(listener, UnixListener::accept)
    }

    /// `http://127.0.0.1:PORT` or `unix:///path`: what SUPERVISOR_SERVER_URL holds.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = Some(mode);
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Waits until a call starting with `prefix` was made; returns all calls.
    #[track_caller]
    pub fn wait_for_call(&self, prefix: &str, timeout: Duration) -> Vec<String> {
        wait_for(&format!("a {prefix:?} call"), timeout, || {
            let calls = self.calls();
            if calls.iter().any(|c| c.starts_with(prefix)) {
                Ok(calls)
            } else {
                Err(format!("calls: {calls:?}"))
            }
        })
    }
}

impl Drop for FakeSupervisord {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        (self.wake)();
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
        if let Some(path) = self.url.strip_prefix("unix://") {
            let _ = fs::remove_file(path);
        }
    }
}

/// What a fake serves, before it has a listener: its URL, how to wake its accept
/// loop (a connection of its own), the mode and the process table.
struct Served {
    url: String,
    wake: Box<dyn Fn() + Send>,
    mode: Mode,
    processes: Vec<FakeProcess>,
}

impl Served {
    fn on<L, S, A>(self, listener: L, accept: fn(&L) -> io::Result<(S, A)>) -> FakeSupervisord
    where
        L: Send + 'static,
        S: Read + Write + CloseBoth + Send + 'static,
        A: 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let state = new_state(self.mode, self.processes);
        let accept_thread = serve_forever(listener, accept, &state, &stop);
        FakeSupervisord {
            state,
            url: self.url,
            stop,
            wake: self.wake,
            accept_thread: Some(accept_thread),
        }
    }
}

/// Accepts connections until `stop` is set, serving each on its own thread.
fn serve_forever<L, S, A>(
    listener: L,
    accept: fn(&L) -> io::Result<(S, A)>,
    state: &Arc<Mutex<FakeState>>,
    stop: &Arc<AtomicBool>,
) -> thread::JoinHandle<()>
where
    L: Send + 'static,
    S: Read + Write + CloseBoth + Send + 'static,
    A: 'static,
{
    let (state, stop) = (Arc::clone(state), Arc::clone(stop));
    thread::spawn(move || {
        loop {
            let accepted = accept(&listener);
            if stop.load(Ordering::SeqCst) {
                break;
            }
            if let Ok((stream, _)) = accepted {
                let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
                thread::spawn(move || serve(stream, &state, &stop));
            }
        }
    })
}

fn new_state(mode: Mode, processes: Vec<FakeProcess>) -> Arc<Mutex<FakeState>> {
    Arc::new(Mutex::new(FakeState {
        mode: Some(mode),
        processes,
        next_pid: 5000,
        ..FakeState::default()
    }))
}

/// Binds 127.0.0.1:port, retrying for a while if the port is still in use.
fn bind_tcp(port: u16) -> TcpListener {
    poll(Duration::from_secs(30), || {
        TcpListener::bind(("127.0.0.1", port)).map_err(|e| e.to_string())
    })
    .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"))
}

fn serve<S: Read + Write + CloseBoth>(mut stream: S, state: &Mutex<FakeState>, stop: &AtomicBool) {
    let Some((head, body)) = read_request(&mut stream) else {
        return;
    };
    let method = between(&body, "<methodName>", "</methodName>").unwrap_or_default();
    let namespec = between(&body, "<string>", "</string>")
        .map(|text| unescape(&text).map_or(text.clone(), |t| t.into_owned()));
    let reply = {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        st.heads.push(head);
        st.calls.push(match &namespec {
            Some(n) => format!("{method} {n}"),
            None => method.clone(),
        });
        let mode = st.mode.clone().unwrap_or(Mode::Healthy);
        match mode {
            Mode::Silent => None,
            Mode::Status(code) => Some(http(code, "text/plain", "no\n")),
            Mode::Fault(code, string) => Some(http(200, "text/xml", &fault_xml(code, &string))),
            Mode::Body(text) => Some(http(200, "text/xml", &text)),
            Mode::Healthy => Some(http(
                200,
                "text/xml",
                &answer(&mut st, &method, namespec.as_deref()),
            )),
        }
    };
    match reply {
        Some(reply) => {
            let _ = stream.write_all(reply.as_bytes());
            let _ = stream.flush();
            stream.close_both();
        }
        None => {
            // Hold the connection open, unanswered, until the fake is dropped.
            while !stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Closing both directions of either socket kind.
trait CloseBoth {
    fn close_both(&self);
}

impl CloseBoth for TcpStream {
    fn close_both(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl CloseBoth for UnixStream {
    fn close_both(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

/// supervisord's answer to one call in Healthy mode.
fn answer(st: &mut FakeState, method: &str, namespec: Option<&str>) -> String {
    let now = epoch() as i64;
    let find =
        |st: &FakeState| namespec.and_then(|n| st.processes.iter().position(|p| p.namespec() == n));
    match method {
        "supervisor.getAllProcessInfo" => {
            let items: String = st
                .processes
                .iter()
                .map(|p| format!("<value>{}</value>", process_xml(p, p.pid, now)))
                .collect();
            response_xml(&format!("<array><data>{items}</data></array>"))
        }
        "supervisor.getProcessInfo" => match find(st) {
            Some(i) => {
                let p = &st.processes[i];
                let pid = st.process_info_pid.unwrap_or(p.pid);
                response_xml(&process_xml(p, pid, now))
            }
            None => fault_xml(10, &format!("BAD_NAME: {}", namespec.unwrap_or(""))),
        },
        "supervisor.stopProcess" => {
            if let Some((code, string)) = st.stop_fault.clone() {
                return fault_xml(code, &string);
            }
            match find(st) {
                Some(i) if st.processes[i].state == 20 => {
                    st.processes[i].state = 0;
                    st.processes[i].pid = 0;
                    response_xml("<boolean>1</boolean>")
                }
                Some(_) => fault_xml(70, &format!("NOT_RUNNING: {}", namespec.unwrap_or(""))),
                None => fault_xml(10, &format!("BAD_NAME: {}", namespec.unwrap_or(""))),
            }
        }
        "supervisor.startProcess" => match find(st) {
            Some(i) if st.processes[i].state == 20 => {
                fault_xml(60, &format!("ALREADY_STARTED: {}", namespec.unwrap_or("")))
            }
            Some(i) => {
                st.next_pid += 1;
                st.processes[i].state = 20;
                st.processes[i].pid = st.next_pid;
                response_xml("<boolean>1</boolean>")
            }
            None => fault_xml(10, &format!("BAD_NAME: {}", namespec.unwrap_or(""))),
        },
        _ => fault_xml(1, "UNKNOWN_METHOD"),
    }
}

fn http(code: u16, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.0 {code} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn response_xml(value: &str) -> String {
    format!(
        "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value>{value}</value>\n\
         </param>\n</params>\n</methodResponse>\n"
    )
}

pub fn fault_xml(code: i64, string: &str) -> String {
    format!(
        "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n\
         <member>\n<name>faultCode</name>\n<value><int>{code}</int></value>\n</member>\n\
         <member>\n<name>faultString</name>\n<value><string>{}</string></value>\n</member>\n\
         </struct></value>\n</fault>\n</methodResponse>\n",
        escape(string)
    )
}

/// An info struct with every field supervisord sends.
fn process_xml(p: &FakeProcess, pid: u32, now: i64) -> String {
    let statename = match p.state {
        0 => "STOPPED",
        10 => "STARTING",
        20 => "RUNNING",
        40 => "STOPPING",
        _ => "UNKNOWN",
    };
    let pid = if p.state == 20 { pid } else { 0 };
    let strings = [
        ("name", p.name.clone()),
        ("group", p.group.clone()),
        ("statename", statename.to_string()),
        ("description", format!("pid {pid}, uptime 0:10:00")),
        ("spawnerr", String::new()),
        ("logfile", "/dev/null".into()),
        ("stdout_logfile", "/dev/null".into()),
        ("stderr_logfile", "/dev/null".into()),
    ];
    let ints = [
        ("start", now - 600),
        ("stop", 0),
        ("now", now),
        ("state", p.state),
        ("exitstatus", 0),
        ("pid", i64::from(pid)),
    ];
    let mut members = String::new();
    for (k, v) in strings {
        members.push_str(&format!(
            "<member><name>{k}</name><value><string>{}</string></value></member>",
            escape(&v)
        ));
    }
    for (k, v) in ints {
        members.push_str(&format!(
            "<member><name>{k}</name><value><int>{v}</int></value></member>"
        ));
    }
    format!("<struct>{members}</struct>")
}

fn between(text: &str, open: &str, close: &str) -> Option<String> {
    let start = text.find(open)? + open.len();
    let end = start + text[start..].find(close)?;
    Some(text[start..end].to_string())
}

// ---------------------------------------------------------------- the listener side

/// What httpok writes after each event: the result, then READY for the next one.
pub const ACK: &[u8] = b"RESULT 2\nOKREADY\n";

/// The httpok binary run as an event listener, with the test as supervisord.
pub struct Listener {
    child: KillOnDrop,
    stdin: Option<ChildStdin>,
    stdout: Receiver<Vec<u8>>,
    pending: Vec<u8>,
    /// Every byte httpok wrote to stdout so far.
    pub all_stdout: Vec<u8>,
    stderr_path: PathBuf,
    serial: u32,
}

impl Listener {
    /// Starts `httpok ARGS` with `env` (SUPERVISOR_SERVER_URL and friends), stderr into
    /// `dir/httpok.err.log`, and waits for its first READY.
    #[track_caller]
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Listener {
        Listener::start_as(dir, args, env, None)
    }

    /// [`Listener::start`] as the user and group `user` (uid, gid), as supervisord's
    /// `user=` runs a listener; needs a test run as root.
    #[track_caller]
    pub fn start_as(
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        user: Option<(u32, u32)>,
    ) -> Listener {
        let stderr_path = dir.join("httpok.err.log");
        let stderr = File::create(&stderr_path).expect("create stderr log");
        let mut cmd = httpok_cmd();
        if let Some((uid, gid)) = user {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(gid);
        }
        cmd.args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = KillOnDrop(cmd.spawn().expect("start httpok"));
        let mut out = child.0.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let stdin = child.0.stdin.take();
        let mut listener = Listener {
            child,
            stdin,
            stdout: rx,
            pending: Vec::new(),
            all_stdout: Vec::new(),
            stderr_path,
            serial: 0,
        };
        let ready = listener.read_exactly(b"READY\n".len(), Duration::from_secs(30));
        assert_eq!(
            ready,
            b"READY\n",
            "first bytes on stdout; stderr: {}",
            listener.stderr()
        );
        listener
    }

    /// Reads exactly `n` stdout bytes, or panics at the deadline.
    #[track_caller]
    pub fn read_exactly(&mut self, n: usize, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        while self.pending.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(bytes) => {
                    self.all_stdout.extend_from_slice(&bytes);
                    self.pending.extend_from_slice(&bytes);
                }
                Err(e) => panic!(
                    "waited {timeout:?} for {n} bytes on httpok's stdout, got {:?} ({e}); \
                     stderr:\n{}",
                    String::from_utf8_lossy(&self.pending),
                    self.stderr()
                ),
            }
        }
        self.pending.drain(..n).collect()
    }

    /// Sends one event (payload length in characters, as supervisord counts).
    pub fn send_event(&mut self, eventname: &str, payload: &str) {
        self.serial += 1;
        let header = format!(
            "ver:3.0 server:supervisor serial:{s} pool:httpok poolserial:{s} \
             eventname:{eventname} len:{}\n",
            payload.chars().count(),
            s = self.serial
        );
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(header.as_bytes())
            .and_then(|()| stdin.write_all(payload.as_bytes()))
            .and_then(|()| stdin.flush())
            .expect("write an event to httpok");
    }

    /// Sends the next TICK_5 and waits up to `timeout` for it to be acknowledged;
    /// returns how long the round took. Like supervisord's, each tick's `when` is 5 s
    /// after the last one's, however soon it is sent (httpok skips a tick whose `when`
    /// says it was issued while the last round ran).
    #[track_caller]
    pub fn tick(&mut self, timeout: Duration) -> Duration {
        let when = epoch() + 5 * u64::from(self.serial);
        self.tick_at(when, timeout)
    }

    /// Sends a TICK_5 whose `when` is `when` and waits up to `timeout` for it to be
    /// acknowledged; returns how long the round took.
    #[track_caller]
    pub fn tick_at(&mut self, when: u64, timeout: Duration) -> Duration {
        self.tick_saying(&format!("when:{when}"), timeout)
    }

    /// Sends a TICK_5 with `payload` as it is (a `when` no supervisord would send) and
    /// waits up to `timeout` for it to be acknowledged; returns how long that took.
    #[track_caller]
    pub fn tick_saying(&mut self, payload: &str, timeout: Duration) -> Duration {
        let started = Instant::now();
        self.send_event("TICK_5", payload);
        let ack = self.read_exactly(ACK.len(), timeout);
        assert_eq!(
            String::from_utf8_lossy(&ack),
            String::from_utf8_lossy(ACK),
            "the event was not acknowledged; stderr:\n{}",
            self.stderr()
        );
        started.elapsed()
    }

    /// httpok's stderr so far.
    pub fn stderr(&self) -> String {
        read_file_lossy(&self.stderr_path)
    }

    /// Waits until stderr contains `needle`; returns stderr.
    #[track_caller]
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) -> String {
        wait_for(&format!("{needle:?} in httpok's stderr"), timeout, || {
            let text = self.stderr();
            if text.contains(needle) {
                Ok(text)
            } else {
                Err(format!("\n{text}"))
            }
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Closes stdin (supervisord went away) and waits for httpok to exit.
    #[track_caller]
    pub fn close(mut self, timeout: Duration) -> ExitStatus {
        drop(self.stdin.take());
        let exited = poll(timeout, || {
            match self.child.0.try_wait().expect("try_wait") {
                Some(status) => Ok(status),
                None => Err(String::new()),
            }
        });
        let Ok(status) = exited else {
            panic!(
                "httpok still running {timeout:?} after stdin closed; stderr:\n{}",
                self.stderr()
            );
        };
        // Whatever came after the last READY must be nothing: the pipe ends at EOF.
        while let Ok(bytes) = self.stdout.recv_timeout(Duration::from_millis(200)) {
            self.all_stdout.extend_from_slice(&bytes);
            self.pending.extend_from_slice(&bytes);
        }
        assert!(
            self.pending.is_empty(),
            "stray stdout bytes: {:?}",
            String::from_utf8_lossy(&self.pending)
        );
        status
    }
}

impl Drop for Listener {
    /// The child is killed by its [`KillOnDrop`]; a failing test gets its stderr.
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("---- httpok stderr:\n{}", self.stderr());
        }
    }
}
