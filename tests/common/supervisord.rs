//! The one supervisord starter: a real supervisord with the sections a test gives, in a
//! [`TempDir`] of its own, talking on its own socket or port. It runs from `.venv`
//! (supervisor 4.3.0) unless the test names a supervisor version
//! ([`SupervisorConfig::version`]) or a virtualenv ([`SupervisorConfig::venv`]).
//!
//! Sections passed to [`SupervisorConfig::program`] may use these placeholders,
//! replaced when supervisord is started (write `{{python}}` etc. inside `format!`):
//!
//! | placeholder    | replaced by                                   |
//! |----------------|-----------------------------------------------|
//! | `{python}`     | the virtualenv's `bin/python`                 |
//! | `{bin}`        | the virtualenv's `bin` (next to supervisord)  |
//! | `{webapp}`     | `tests/apps/webapp.py`                        |
//! | `{httpok}`     | the httpok binary under test                  |
//! | `{dir}`        | this supervisord's temp dir                   |
//! | `{server_url}` | `unix:///…/supervisor.sock` or `http://127.0.0.1:N` |

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use super::{
    Section, TempDir, Venv, free_port, httpok_bin, poll, read_file_lossy, run_with_timeout,
    send_signal, tail, wait_for, webapp_script,
};

/// How long supervisord gets to start answering.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one supervisorctl call may take before it is killed.
pub const CTL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long supervisord gets to stop its programs and exit at the end of a test.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);

/// supervisord with `sections` (see [`Section`]) and nothing else set.
#[track_caller]
pub fn start(sections: impl IntoIterator<Item = Section>) -> Supervisor {
    Supervisor::start(SupervisorConfig::new().sections(sections))
}

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
    /// Where supervisord, supervisorctl and `{python}` come from; `.venv` when unset.
    pub venv: Option<Venv>,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            server: ServerKind::Unix,
            auth: None,
            sections: Vec::new(),
            supervisord_lines: Vec::new(),
            venv: None,
        }
    }
}

impl SupervisorConfig {
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a section (a program, a listener, a group…); placeholders allowed.
    pub fn program(mut self, section: impl Into<String>) -> Self {
        self.sections.push(section.into());
        self
    }
    /// Adds each of `sections`.
    pub fn sections(self, sections: impl IntoIterator<Item = Section>) -> Self {
        sections.into_iter().fold(self, Self::program)
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
    /// Run supervisor `version` (e.g. "4.0.4") from its cached virtualenv, made on
    /// first use by `scripts/venv.sh --supervisor VERSION`.
    #[track_caller]
    pub fn version(self, version: &str) -> Self {
        self.venv(Venv::supervisor(version))
    }
    /// Run supervisord, supervisorctl and `{python}` from `venv`.
    pub fn venv(mut self, venv: Venv) -> Self {
        self.venv = Some(venv);
        self
    }
}

/// A running supervisord in its own temp dir, at loglevel=debug (so its log shows every
/// event a listener handled). Dropping it stops supervisord (and thus its programs);
/// the dir is removed unless the test is failing, in which case its path and log tails
/// go to stderr.
pub struct Supervisor {
    dir: TempDir,
    venv: Venv,
    conf: PathBuf,
    server_url: String,
    child: Option<Child>,
    frozen: Mutex<Vec<u32>>,
}

impl Supervisor {
    /// Writes supervisord.conf into a fresh temp dir, starts supervisord and
    /// waits until supervisorctl gets an answer from it.
    #[track_caller]
    pub fn start(cfg: SupervisorConfig) -> Supervisor {
        let dir = TempDir::new("e2e");
        let mut sup = Supervisor {
            conf: dir.join("supervisord.conf"),
            dir,
            venv: cfg.venv.clone().unwrap_or_else(Venv::project),
            server_url: String::new(),
            child: None,
            frozen: Mutex::new(Vec::new()),
        };
        // A free port can be taken by someone else before supervisord binds it:
        // retry with a new port when an inet supervisord dies during startup.
        let attempts = if cfg.server == ServerKind::Inet { 3 } else { 1 };
        for attempt in 1..=attempts {
            sup.write_conf(&cfg);
            match sup.spawn() {
                Ok(()) => return sup,
                Err(why) if attempt < attempts => {
                    eprintln!(
                        "supervisord attempt {attempt} failed ({why}); retrying on another port"
                    );
                    sup.kill();
                }
                Err(why) => panic!("supervisord did not come up: {why}"),
            }
        }
        unreachable!()
    }

    /// Starts supervisord again on the same config and dir, after the last one exited
    /// (`supervisorctl shutdown`, a crash); waits until it answers.
    #[track_caller]
    pub fn start_again(&mut self) {
        if let Some(mut old) = self.child.take() {
            let _ = old.wait();
        }
        if let Err(why) = self.spawn() {
            panic!("supervisord did not come up again: {why}");
        }
    }

    /// `[unix_http_server]` or `[inet_http_server]` (a new free port) and its URL.
    fn server_section(&self, server: &ServerKind) -> (String, String) {
        match server {
            ServerKind::Unix => {
                let sock = self.dir.join("supervisor.sock");
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
        }
    }

    /// Writes supervisord.conf (picking the server URL first: sections may name it).
    fn write_conf(&mut self, cfg: &SupervisorConfig) {
        let (server_section, ctl_url) = self.server_section(&cfg.server);
        self.server_url = ctl_url.clone();
        let auth = cfg
            .auth
            .as_ref()
            .map(|(u, p)| format!("username={u}\npassword={p}\n"))
            .unwrap_or_default();
        let mut text = format!(
            "; written by tests/common/supervisord.rs\n\
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
            d = self.dir().display(),
            extra = self.expand(&cfg.supervisord_lines.join("\n")),
        );
        for s in &cfg.sections {
            text.push_str(&self.expand(s));
            text.push_str("\n\n");
        }
        fs::write(&self.conf, text).expect("write supervisord.conf");
    }

    /// Runs supervisord on the config (its stdout and stderr appended to logs in the
    /// dir) and waits until it answers.
    fn spawn(&mut self) -> Result<(), String> {
        let supervisord = self.venv.bin("supervisord");
        self.venv.bin("supervisorctl");
        let log = |name: &str| {
            File::options()
                .create(true)
                .append(true)
                .open(self.dir.join(name))
                .unwrap_or_else(|e| panic!("create {name}: {e}"))
        };
        let child = Command::new(&supervisord)
            .arg("-c")
            .arg(&self.conf)
            .current_dir(self.dir())
            .stdin(Stdio::null())
            .stdout(log("supervisord-stdout.log"))
            .stderr(log("supervisord-stderr.log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", supervisord.display()));
        let pid = child.id();
        self.child = Some(child);
        self.wait_answering(pid)
    }

    /// Polls `supervisorctl pid` until it prints our supervisord's pid.
    fn wait_answering(&mut self, pid: u32) -> Result<(), String> {
        let answer = poll(STARTUP_TIMEOUT, || {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            let (_, out) = self.ctl(&["pid"]);
            match exited {
                Some(st) => Ok(Err(format!(
                    "supervisord exited early ({st}); last supervisorctl output: {out}"
                ))),
                None if out.trim().parse::<u32>().ok() == Some(pid) => Ok(Ok(())),
                None => Err(out),
            }
        });
        answer.unwrap_or_else(|last| {
            Err(format!(
                "no answer after {STARTUP_TIMEOUT:?}; last supervisorctl output: {last}"
            ))
        })
    }

    /// Replaces the placeholders listed in the module docs.
    pub fn expand(&self, s: &str) -> String {
        s.replace("{python}", &self.venv.python().display().to_string())
            .replace("{bin}", &self.venv.dir().join("bin").display().to_string())
            .replace("{webapp}", &webapp_script().display().to_string())
            .replace("{httpok}", &httpok_bin().display().to_string())
            .replace("{dir}", &self.dir().display().to_string())
            .replace("{server_url}", &self.server_url)
    }

    /// Adds `section` to the config of the running supervisord (`supervisorctl
    /// update`): for what needs files made after it started, such as scripts in its dir.
    #[track_caller]
    pub fn add(&self, section: impl Into<String>) {
        let conf = read_file_lossy(&self.conf) + "\n" + &section.into();
        fs::write(&self.conf, self.expand(&conf)).expect("rewrite supervisord.conf");
        let (code, out) = self.ctl(&["update"]);
        assert_eq!(code, 0, "supervisorctl update: {out}");
    }

    /// Puts `section` in place of the section with its header (a listener with other
    /// flags, say) and applies it: `supervisorctl update` restarts what changed.
    #[track_caller]
    pub fn replace(&self, section: Section) {
        let new = self.expand(&section.to_string());
        let header = new.lines().next().unwrap_or_default().to_string();
        let conf = read_file_lossy(&self.conf);
        let start = conf
            .find(&format!("\n{header}\n"))
            .map(|at| at + 1)
            .unwrap_or_else(|| panic!("no {header} in supervisord.conf"));
        let end = conf[start + header.len()..]
            .find("\n[")
            .map_or(conf.len(), |at| start + header.len() + at + 1);
        let conf = format!("{}{new}\n{}", &conf[..start], &conf[end..]);
        fs::write(&self.conf, conf).expect("rewrite supervisord.conf");
        let (code, out) = self.ctl(&["update"]);
        assert_eq!(code, 0, "supervisorctl update: {out}");
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn conf_path(&self) -> &Path {
        &self.conf
    }

    /// The virtualenv supervisord runs from.
    pub fn venv(&self) -> &Venv {
        &self.venv
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
        let mut cmd = Command::new(self.venv.bin("supervisorctl"));
        cmd.arg("-c")
            .arg(&self.conf)
            .args(args)
            .current_dir(self.dir());
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

    /// SIGTERM, up to [`SHUTDOWN_TIMEOUT`] to exit, then SIGKILL.
    fn stop(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        let pid = child.id();
        if send_signal(pid, "TERM") {
            let _ = poll(SHUTDOWN_TIMEOUT, || match child.try_wait() {
                Ok(Some(_)) => Ok(()),
                _ => Err(String::new()),
            });
        }
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        eprintln!("supervisord {pid} ignored SIGTERM for {SHUTDOWN_TIMEOUT:?}; killing it");
        self.kill();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn dump_logs(&self) {
        eprintln!("---- supervisord from {}", self.venv.dir().display());
        eprintln!("---- {}", self.conf.display());
        eprintln!("{}", read_file_lossy(&self.conf).trim_end());
        let mut logs: Vec<PathBuf> = fs::read_dir(self.dir())
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
        logs.sort();
        for p in logs {
            eprintln!("---- tail of {}", p.display());
            eprintln!("{}", tail(&read_file_lossy(&p), 40));
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        let frozen = std::mem::take(&mut *self.frozen.lock().unwrap_or_else(|e| e.into_inner()));
        for pid in frozen {
            send_signal(pid, "CONT");
        }
        self.stop();
        if thread::panicking() {
            self.dump_logs();
        }
        // The TempDir goes next: removed, or kept and named when the test failed.
    }
}
