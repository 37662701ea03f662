//! End-to-end test harness: runs a real supervisord (from `.venv`, made by
//! `scripts/venv.sh`) with real programs in a private temp dir.
//!
//! Every test gets its own dir under /tmp, its own socket and its own ports,
//! so tests run in parallel. All waits are polls against a deadline.
//!
//! Program sections passed to [`SupervisorConfig::program`] may use these
//! placeholders, replaced when supervisord is started (write `{{python}}` etc.
//! inside `format!`):
//!
//! | placeholder    | replaced by                                   |
//! |----------------|-----------------------------------------------|
//! | `{python}`     | `.venv/bin/python`                            |
//! | `{webapp}`     | `tests/apps/webapp.py`                        |
//! | `{httpok}`     | the httpok binary under test                  |
//! | `{dir}`        | this supervisord's temp dir                   |
//! | `{server_url}` | `unix:///…/supervisor.sock` or `http://127.0.0.1:N` |
#![allow(dead_code)]

pub mod e2e;

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long supervisord gets to start answering.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one supervisorctl call may take before it is killed.
pub const CTL_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);

// ---------------------------------------------------------------- paths

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `.venv/bin/NAME`; panics with a hint when the venv is missing.
pub fn venv_bin(name: &str) -> PathBuf {
    let p = repo_root().join(".venv").join("bin").join(name);
    if !p.exists() {
        panic!(
            "{} is missing: run scripts/venv.sh first (the README test command does)",
            p.display()
        );
    }
    p
}

pub fn python() -> PathBuf {
    venv_bin("python")
}

pub fn webapp_script() -> PathBuf {
    repo_root().join("tests").join("apps").join("webapp.py")
}

pub fn httpok_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_httpok"))
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// `host:port` where nothing listens: a port the kernel just handed out on 127.0.0.2,
/// an address no test listens on, so a parallel test that gets the same port number on
/// 127.0.0.1 cannot answer there (a freed 127.0.0.1 port can be reused at once).
pub fn refused_addr() -> String {
    let l = TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2:0");
    format!("127.0.0.2:{}", l.local_addr().expect("local_addr").port())
}

/// `openssl` arguments for a new P-256 key, unencrypted (test certificates).
pub const OPENSSL_EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// Runs /usr/bin/openssl in `dir`; panics with its output if it fails.
pub fn openssl(dir: &Path, args: &[&str]) {
    let (code, out) = run_with_timeout(
        Command::new("/usr/bin/openssl").args(args).current_dir(dir),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "openssl {args:?} failed:\n{out}");
}

// ---------------------------------------------------------------- waiting

/// Polls `f` every ~200 ms until it returns true; panics after `timeout`.
#[track_caller]
pub fn wait_until(desc: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    wait_for(
        desc,
        timeout,
        || if f() { Ok(()) } else { Err(String::new()) },
    )
}

/// Polls `f` every ~200 ms until it returns `Ok(value)`; panics after
/// `timeout` with `desc` and the last `Err` (the last thing observed).
#[track_caller]
pub fn wait_for<T>(desc: &str, timeout: Duration, mut f: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        let last = match f() {
            Ok(v) => return v,
            Err(last) => last,
        };
        if start.elapsed() >= timeout {
            let last = if last.is_empty() {
                String::new()
            } else {
                format!(" (last seen: {last})")
            };
            panic!(
                "timed out after {:.1}s waiting for: {desc}{last}",
                start.elapsed().as_secs_f64()
            );
        }
        thread::sleep(POLL);
    }
}

/// The file's content, invalid UTF-8 replaced; empty if it can't be read.
pub fn read_file_lossy(path: impl AsRef<Path>) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Waits until the file at `path` contains `needle`; returns the content.
#[track_caller]
pub fn wait_for_log(path: impl AsRef<Path>, needle: &str, timeout: Duration) -> String {
    let path = path.as_ref();
    let mut content = String::new();
    wait_until(
        &format!("{:?} in {}", needle, path.display()),
        timeout,
        || {
            content = read_file_lossy(path);
            content.contains(needle)
        },
    );
    content
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------- signals

/// Sends `sig` (a name such as "STOP", "CONT", "TERM", "KILL") to `pid`
/// with the `kill` command (no libc here). Returns whether it was delivered.
pub fn send_signal(pid: u32, sig: &str) -> bool {
    let flag = format!("-{sig}");
    let pid_s = pid.to_string();
    let status = match Command::new("kill")
        .args([&flag, &pid_s])
        .stderr(Stdio::null())
        .status()
    {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Command::new("sh")
            .args(["-c", &format!("kill {flag} {pid_s}")])
            .stderr(Stdio::null())
            .status(),
        other => other,
    };
    matches!(status, Ok(s) if s.success())
}

// ---------------------------------------------------------------- tiny HTTP client

/// A parsed HTTP response: status code and body (lossy UTF-8).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
}

fn http_exchange<S: Read + Write>(mut s: S, host: &str, path: &str) -> io::Result<HttpResponse> {
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    s.flush()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad response: {text:?}"),
            )
        })?;
    Ok(HttpResponse {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

/// `GET path` on 127.0.0.1:port over HTTP/1.0; `timeout` bounds connect,
/// each read and each write (a hung server gives a TimedOut/WouldBlock error).
pub fn http_get(port: u16, path: &str, timeout: Duration) -> io::Result<HttpResponse> {
    let addr = ([127, 0, 0, 1], port).into();
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let r = http_exchange(&s, &format!("127.0.0.1:{port}"), path);
    let _ = s.shutdown(Shutdown::Both);
    r
}

/// `GET path` over the unix socket at `sock`.
pub fn http_get_unix(
    sock: impl AsRef<Path>,
    path: &str,
    timeout: Duration,
) -> io::Result<HttpResponse> {
    let s = UnixStream::connect(sock)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    http_exchange(&s, "localhost", path)
}

// ---------------------------------------------------------------- running commands

/// Runs `cmd`, killing it after `timeout`; returns (exit code or -1, stdout + stderr).
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> (i32, String) {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {desc}: {e}"));
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut r| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    })
    .collect();
    let start = Instant::now();
    let code = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st.code().unwrap_or(-1),
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{desc} still running after {timeout:?}; killed");
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for {desc}: {e}"),
        }
    };
    let mut out = String::new();
    for h in readers {
        out.push_str(&String::from_utf8_lossy(&h.join().unwrap_or_default()));
    }
    (code, out)
}

// ---------------------------------------------------------------- supervisord

/// Which RPC server supervisord offers (supervisorctl and httpok use it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerKind {
    /// `[unix_http_server]` with a socket in the temp dir (the default).
    Unix,
    /// `[inet_http_server]` on 127.0.0.1 and a free port.
    Inet,
}

#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    pub server: ServerKind,
    /// Basic auth for the RPC server (also written to `[supervisorctl]`).
    pub auth: Option<(String, String)>,
    /// Raw sections (`[program:x]\ncommand=…`, `[eventlistener:y]…`, …).
    pub sections: Vec<String>,
    /// Extra `key=value` lines for the `[supervisord]` section.
    pub supervisord_lines: Vec<String>,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            server: ServerKind::Unix,
            auth: None,
            sections: Vec::new(),
            supervisord_lines: Vec::new(),
        }
    }
}

impl SupervisorConfig {
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a raw section (program, eventlistener, group…); placeholders allowed.
    pub fn program(mut self, section: impl Into<String>) -> Self {
        self.sections.push(section.into());
        self
    }
    /// Same as [`program`](Self::program), for sections that are not programs.
    pub fn section(self, section: impl Into<String>) -> Self {
        self.program(section)
    }
    /// Serve RPC on `[inet_http_server]` (127.0.0.1, free port) instead of a unix socket.
    pub fn inet(mut self) -> Self {
        self.server = ServerKind::Inet;
        self
    }
    /// Require basic auth on the RPC server.
    pub fn auth(mut self, username: &str, password: &str) -> Self {
        self.auth = Some((username.to_string(), password.to_string()));
        self
    }
    /// Shorthand for `.inet().auth(username, password)`.
    pub fn inet_auth(self, username: &str, password: &str) -> Self {
        self.inet().auth(username, password)
    }
    /// Adds a `key=value` line to `[supervisord]` (e.g. `loglevel=trace`).
    pub fn supervisord_line(mut self, line: impl Into<String>) -> Self {
        self.supervisord_lines.push(line.into());
        self
    }
}

/// A running supervisord in its own temp dir. Dropping it stops supervisord
/// (and thus its programs); the dir is removed unless the test is failing,
/// in which case its path and log tails go to stderr.
pub struct Supervisor {
    dir: PathBuf,
    conf: PathBuf,
    server_url: String,
    child: Option<Child>,
    frozen: Mutex<Vec<u32>>,
}

fn make_temp_dir() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos()
            % 100_000;
        let dir = PathBuf::from(format!("/tmp/httpok-e2e-{}-{n}-{t}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return dir,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("cannot create {}: {e}", dir.display()),
        }
    }
}

impl Supervisor {
    /// Writes supervisord.conf into a fresh temp dir, starts supervisord and
    /// waits until supervisorctl gets an answer from it.
    #[track_caller]
    pub fn start(cfg: SupervisorConfig) -> Supervisor {
        let supervisord = venv_bin("supervisord");
        venv_bin("supervisorctl");
        let dir = make_temp_dir();
        let conf = dir.join("supervisord.conf");
        let mut sup = Supervisor {
            dir: dir.clone(),
            conf: conf.clone(),
            server_url: String::new(),
            child: None,
            frozen: Mutex::new(Vec::new()),
        };
        // A free port can be taken by someone else before supervisord binds it:
        // retry with a new port when an inet supervisord dies during startup.
        let attempts = if cfg.server == ServerKind::Inet { 3 } else { 1 };
        for attempt in 1..=attempts {
            let (server_section, ctl_url) = match cfg.server {
                ServerKind::Unix => {
                    let sock = dir.join("supervisor.sock");
                    assert!(
                        sock.as_os_str().len() < 100,
                        "socket path too long: {}",
                        sock.display()
                    );
                    (
                        format!("[unix_http_server]\nfile={}\nchmod=0700\n", sock.display()),
                        format!("unix://{}", sock.display()),
                    )
                }
                ServerKind::Inet => {
                    let port = free_port();
                    (
                        format!("[inet_http_server]\nport=127.0.0.1:{port}\n"),
                        format!("http://127.0.0.1:{port}"),
                    )
                }
            };
            sup.server_url = ctl_url.clone();
            let auth = cfg
                .auth
                .as_ref()
                .map(|(u, p)| format!("username={u}\npassword={p}\n"))
                .unwrap_or_default();
            let mut text = format!(
                "; written by tests/common/mod.rs\n\
                 [supervisord]\n\
                 nodaemon=true\n\
                 logfile={d}/supervisord.log\n\
                 pidfile={d}/supervisord.pid\n\
                 childlogdir={d}\n\
                 directory={d}\n\
                 loglevel=debug\n\
                 silent=true\n\
                 {extra}\n\
                 {server_section}{auth}\n\
                 [rpcinterface:supervisor]\n\
                 supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
                 [supervisorctl]\n\
                 serverurl={ctl_url}\n{auth}\n",
                d = dir.display(),
                extra = sup.expand(&cfg.supervisord_lines.join("\n")),
            );
            for s in &cfg.sections {
                text.push_str(&sup.expand(s));
                text.push_str("\n\n");
            }
            fs::write(&conf, text).expect("write supervisord.conf");

            let out = File::create(dir.join("supervisord-stdout.log")).expect("create stdout log");
            let err = File::create(dir.join("supervisord-stderr.log")).expect("create stderr log");
            let child = Command::new(&supervisord)
                .arg("-c")
                .arg(&conf)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", supervisord.display()));
            let pid = child.id();
            sup.child = Some(child);
            match sup.wait_answering(pid) {
                Ok(()) => return sup,
                Err(why) if attempt < attempts => {
                    eprintln!(
                        "supervisord attempt {attempt} failed ({why}); retrying on another port"
                    );
                    if let Some(mut old) = sup.child.take() {
                        let _ = old.kill();
                        let _ = old.wait();
                    }
                }
                Err(why) => panic!("supervisord did not come up: {why}"),
            }
        }
        unreachable!()
    }

    /// Polls `supervisorctl pid` until it prints our supervisord's pid.
    fn wait_answering(&mut self, pid: u32) -> Result<(), String> {
        let start = Instant::now();
        let mut last = String::new();
        loop {
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!(
                    "supervisord exited early ({st}); last supervisorctl output: {last}"
                ));
            }
            let (_, out) = self.ctl(&["pid"]);
            if out.trim().parse::<u32>().ok() == Some(pid) {
                return Ok(());
            }
            last = out;
            if start.elapsed() > STARTUP_TIMEOUT {
                return Err(format!(
                    "no answer after {STARTUP_TIMEOUT:?}; last supervisorctl output: {last}"
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// Replaces the placeholders listed in the module docs.
    pub fn expand(&self, s: &str) -> String {
        s.replace("{python}", &python().display().to_string())
            .replace("{webapp}", &webapp_script().display().to_string())
            .replace("{httpok}", &httpok_bin().display().to_string())
            .replace("{dir}", &self.dir.display().to_string())
            .replace("{server_url}", &self.server_url)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn conf_path(&self) -> &Path {
        &self.conf
    }

    /// `unix:///…/supervisor.sock` or `http://127.0.0.1:PORT`.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// supervisord's own pid.
    pub fn supervisord_pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// `supervisorctl -c CONF ARGS…`: (exit code, stdout + stderr).
    pub fn ctl(&self, args: &[&str]) -> (i32, String) {
        let mut cmd = Command::new(venv_bin("supervisorctl"));
        cmd.arg("-c")
            .arg(&self.conf)
            .args(args)
            .current_dir(&self.dir);
        run_with_timeout(&mut cmd, CTL_TIMEOUT)
    }

    /// The program's pid, None when it is not running or unknown.
    pub fn pid(&self, name: &str) -> Option<u32> {
        let (_, out) = self.ctl(&["pid", name]);
        out.trim().parse::<u32>().ok().filter(|&p| p != 0)
    }

    /// State column of `supervisorctl status NAME`: RUNNING, STARTING,
    /// STOPPED, BACKOFF, EXITED, FATAL, STOPPING, UNKNOWN, or ERROR for an
    /// unknown name; empty if nothing was printed.
    pub fn state(&self, name: &str) -> String {
        self.status(name).0
    }

    /// (state, pid) from one `supervisorctl status NAME` line.
    pub fn status(&self, name: &str) -> (String, Option<u32>) {
        let (_, out) = self.ctl(&["status", name]);
        let line = out.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let mut cols = line.split_whitespace();
        cols.next();
        let state = cols.next().unwrap_or("").to_string();
        let pid = line
            .split_once(" pid ")
            .and_then(|(_, rest)| rest.split(',').next())
            .and_then(|p| p.trim().parse::<u32>().ok())
            .filter(|&p| p != 0);
        (state, pid)
    }

    /// Waits for RUNNING; returns the pid.
    #[track_caller]
    pub fn wait_running(&self, name: &str, timeout: Duration) -> u32 {
        wait_for(&format!("{name} RUNNING"), timeout, || {
            match self.status(name) {
                (st, Some(pid)) if st == "RUNNING" => Ok(pid),
                other => Err(format!("{other:?}")),
            }
        })
    }

    /// Waits for RUNNING with a pid other than `old_pid`; returns the new pid.
    #[track_caller]
    pub fn wait_pid_change(&self, name: &str, old_pid: u32, timeout: Duration) -> u32 {
        let desc = format!("{name} RUNNING with a pid other than {old_pid}");
        wait_for(&desc, timeout, || match self.status(name) {
            (st, Some(pid)) if st == "RUNNING" && pid != old_pid => Ok(pid),
            other => Err(format!("{other:?}")),
        })
    }

    /// Waits until the program's state is `state` (e.g. "STOPPED").
    #[track_caller]
    pub fn wait_state(&self, name: &str, state: &str, timeout: Duration) {
        wait_for(&format!("{name} {state}"), timeout, || {
            match self.state(name) {
                st if st == state => Ok(()),
                other => Err(other),
            }
        })
    }

    /// SIGSTOPs `pid` (alive, socket open, no answers); thawed again on drop.
    #[track_caller]
    pub fn freeze(&self, pid: u32) {
        assert!(send_signal(pid, "STOP"), "kill -STOP {pid} failed");
        self.frozen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pid);
    }

    /// SIGCONTs `pid`.
    pub fn thaw(&self, pid: u32) {
        send_signal(pid, "CONT");
        self.frozen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&p| p != pid);
    }

    /// Path of a file in the temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// supervisord's own log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("supervisord.log")
    }

    fn dump_logs(&self) {
        eprintln!("==== supervisord test dir kept: {}", self.dir.display());
        eprintln!("---- {}", self.conf.display());
        eprintln!("{}", read_file_lossy(&self.conf).trim_end());
        let mut logs: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
        logs.sort();
        for p in logs {
            eprintln!("---- tail of {}", p.display());
            eprintln!("{}", tail(&read_file_lossy(&p), 40));
        }
        eprintln!("==== end of {}", self.dir.display());
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        let frozen = std::mem::take(&mut *self.frozen.lock().unwrap_or_else(|e| e.into_inner()));
        for pid in frozen {
            send_signal(pid, "CONT");
        }
        if let Some(mut child) = self.child.take() {
            if send_signal(child.id(), "TERM") {
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(20) {
                    if let Ok(Some(_)) = child.try_wait() {
                        break;
                    }
                    thread::sleep(Duration::from_millis(50));
                }
            }
            if !matches!(child.try_wait(), Ok(Some(_))) {
                eprintln!(
                    "supervisord {} ignored SIGTERM for 20s; killing it",
                    child.id()
                );
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if thread::panicking() {
            self.dump_logs();
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
