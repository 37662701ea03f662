//! The one section builder: supervisord.conf sections as a user writes them, with the
//! placeholders [`Supervisor`](super::Supervisor) fills in (`{python}`, `{webapp}`,
//! `{httpok}`, `{dir}`, `{server_url}`; write `{{python}}` etc. inside `format!`).
//!
//! [`Section::program`] and [`Section::listener`] hold the lines every test wants;
//! [`Section::set`] changes or adds one. [`web`], [`web_unix`], [`app`] and
//! [`listener`] are the usual ones: tests/apps/webapp.py and `[eventlistener:httpok]`.

use std::fmt;
use std::path::Path;

/// One section: its header (`program:web`) and its `key=value` lines, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    header: String,
    lines: Vec<(String, String)>,
}

impl Section {
    /// `[HEADER]` with no lines yet.
    pub fn new(header: impl Into<String>) -> Section {
        Section {
            header: header.into(),
            lines: Vec::new(),
        }
    }

    /// `[program:NAME]` running `command`: RUNNING after 1 s, 2 s to stop, its output
    /// in `{dir}/NAME.out.log` and `{dir}/NAME.err.log`.
    pub fn program(name: &str, command: impl Into<String>) -> Section {
        Section::new(format!("program:{name}"))
            .set("command", command)
            .set("startsecs", "1")
            .set("stopwaitsecs", "2")
            .set("stdout_logfile", format!("{{dir}}/{name}.out.log"))
            .set("stderr_logfile", format!("{{dir}}/{name}.err.log"))
    }

    /// `[eventlistener:NAME]`: httpok with `args` on TICK_5, its stdout (the protocol)
    /// in `{dir}/NAME.out.log` and its log in `{dir}/NAME.err.log`.
    pub fn listener(name: &str, args: &str) -> Section {
        Section::new(format!("eventlistener:{name}"))
            .set("command", format!("{{httpok}} {args}"))
            .set("events", "TICK_5")
            .set("startsecs", "1")
            .set("stdout_logfile", format!("{{dir}}/{name}.out.log"))
            .set("stderr_logfile", format!("{{dir}}/{name}.err.log"))
    }

    /// `[group:NAME]` of `programs`.
    pub fn group(name: &str, programs: &[&str]) -> Section {
        Section::new(format!("group:{name}")).set("programs", programs.join(","))
    }

    /// Sets `key` to `value`, in place if the section has it, else as a new last line.
    pub fn set(mut self, key: &str, value: impl Into<String>) -> Section {
        let value = value.into();
        match self.lines.iter_mut().find(|(k, _)| k == key) {
            Some(line) => line.1 = value,
            None => self.lines.push((key.to_string(), value)),
        }
        self
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "[{}]", self.header)?;
        for (key, value) in &self.lines {
            writeln!(f, "{key}={value}")?;
        }
        Ok(())
    }
}

impl From<Section> for String {
    fn from(section: Section) -> String {
        section.to_string()
    }
}

/// tests/apps/webapp.py as program `name`, run with `args`.
pub fn app(name: &str, args: &str) -> Section {
    Section::program(name, format!("{{python}} {{webapp}} {args}"))
}

/// The webapp on 127.0.0.1:`port` in `mode` (ok, error, nobody, slowstart:N, ...).
pub fn web(name: &str, port: u16, mode: &str) -> Section {
    app(name, &format!("--port {port} --mode {mode}"))
}

/// The webapp on the unix socket `socket` in `mode`.
pub fn web_unix(name: &str, socket: &Path, mode: &str) -> Section {
    app(name, &format!("--unix {} --mode {mode}", socket.display()))
}

/// The listener as a user writes it: `[eventlistener:httpok]` on TICK_5.
pub fn listener(args: &str) -> Section {
    Section::listener("httpok", args)
}
