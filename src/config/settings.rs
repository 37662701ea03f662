//! A check's settings as they were given, in layers, and resolved into what the prober
//! and the planner use. The layers, weakest first: httpok's defaults, the top level of
//! `--config`, the command-line flags, the check's own keys (`[[check]]`). Each value
//! keeps where it came from ([`Origin`]), so an error names the flag, or the file, line
//! and key. Pure: the only IO is reading a `cacert` file to check it.
//!
//! The keys themselves, what each is called, which checks it applies to, how a file
//! writes it and how it is described, are one table: [`KEYS`] in `keys.rs`, which also
//! declares [`Layer`]. `file_value.rs` reads a config file's TOML values.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::planner::CheckPolicy;
use crate::probe::{Pattern, ProbeSettings, StatusCodes, read_cacert};

pub(crate) mod file_value;
mod keys;

#[cfg(test)]
pub(crate) use keys::Key;
pub use keys::{Applies, FlagValues, KEYS, Layer, Misplaced, find};

/// Where a value was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag, as help writes it: `-t/--timeout`.
    Flag(&'static str),
    /// A key in a config file, on this line (1-based).
    File { path: Arc<Path>, line: usize },
}

impl Origin {
    /// How an error names the value: the flag, or `FILE:LINE: key`.
    pub fn naming(&self, key: &str) -> String {
        match self {
            Origin::Flag(flag) => (*flag).to_string(),
            Origin::File { path, line } => format!("{}:{line}: {key}", path.display()),
        }
    }

    /// How an error names another setting in the same place: `--restart-window` next
    /// to a flag, `restart_window` in a file.
    fn sibling(&self, key: &str, flag: &'static str) -> String {
        match self {
            Origin::Flag(_) => flag.to_string(),
            Origin::File { .. } => key.to_string(),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Given<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Given<T> {
    pub fn new(value: T, origin: Origin) -> Given<T> {
        Given { value, origin }
    }
}

/// A check's settings, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub probe: ProbeSettings,
    pub policy: CheckPolicy,
}

/// httpok's defaults, superlance's where it had the setting.
pub const DEFAULT_TIMEOUT: f64 = 10.0;
/// The largest `interval`: a year. Above, the first round's instant overflowed the
/// monotonic clock and httpok panicked before its first READY (u64::MAX was taken).
pub const MAX_INTERVAL: u64 = 365 * 24 * 3600;
/// The largest `stop_grace`: httpok waits no longer than this for a stop (the
/// restarter's STOP_DEADLINE). Above, a huge one overflowed the clock on the restart
/// thread after the gate was entered, and the next SIGTERM hung.
pub const MAX_STOP_GRACE: u64 = crate::restart::STOP_DEADLINE.as_secs();

impl Layer {
    /// Checks every value and the rules that span several; the first problem, naming
    /// where the value was given.
    pub fn resolve(&self) -> Result<Settings, String> {
        Ok(Settings {
            probe: self.probe_settings()?,
            policy: self.policy()?,
        })
    }

    fn probe_settings(&self) -> Result<ProbeSettings, String> {
        let pattern = |given: &Option<Given<String>>, key: &str| {
            given
                .as_ref()
                .map(|g| {
                    Pattern::new(&g.value).map_err(|e| format!("{} {e}", g.origin.naming(key)))
                })
                .transpose()
        };
        let method = self.method()?;
        if method == "HEAD" {
            let body = [
                (&self.body, "body"),
                (&self.body_regex, "body_regex"),
                (&self.body_not_regex, "body_not_regex"),
            ];
            if let Some((Some(given), key)) = body.iter().find(|(g, _)| g.is_some()) {
                let head = match self.method.as_ref().map(|m| &m.origin) {
                    Some(Origin::File { line, .. }) => format!("method HEAD (line {line})"),
                    Some(Origin::Flag(flag)) => format!("{flag} HEAD"),
                    None => "method HEAD".into(),
                };
                return Err(format!(
                    "{} cannot pass with {head}: an answer to HEAD has no body. Drop one of \
                     them (GET is the default)",
                    given.origin.naming(key)
                ));
            }
        }
        if let Some(cacert) = &self.cacert {
            read_cacert(&cacert.value)
                .map_err(|e| format!("{} {e}", cacert.origin.naming("cacert")))?;
        }
        Ok(ProbeSettings {
            timeout: self.timeout()?,
            codes: match &self.codes {
                Some(g) => StatusCodes::parse(&g.value)
                    .map_err(|e| format!("{} {e}", g.origin.naming("codes")))?,
                None => StatusCodes::default(),
            },
            body: self.body.as_ref().map(|g| g.value.clone()),
            body_regex: pattern(&self.body_regex, "body_regex")?,
            body_not_regex: pattern(&self.body_not_regex, "body_not_regex")?,
            method,
            headers: self.headers()?,
            send: self
                .send
                .as_ref()
                .map(|g| unescape(&g.value).map_err(|e| format!("{} {e}", g.origin.naming("send"))))
                .transpose()?,
            expect: pattern(&self.expect, "expect")?,
            cacert: self.cacert.as_ref().map(|g| g.value.clone()),
            insecure: self.insecure.as_ref().is_some_and(|g| g.value),
            env: self
                .env
                .as_ref()
                .map(|g| g.value.clone())
                .unwrap_or_default(),
        })
    }

    fn timeout(&self) -> Result<Duration, String> {
        let Some(given) = &self.timeout else {
            return Ok(Duration::from_secs_f64(DEFAULT_TIMEOUT));
        };
        let secs = given.value;
        if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
            return Err(format!(
                "{} must be a number of seconds above 0 and at most 86400 (got {secs}), e.g. 5",
                given.origin.naming("timeout")
            ));
        }
        Ok(Duration::from_secs_f64(secs))
    }

    fn method(&self) -> Result<String, String> {
        let Some(given) = &self.method else {
            return Ok("GET".into());
        };
        let method = given.value.to_ascii_uppercase();
        if method != "GET" && method != "HEAD" {
            return Err(format!(
                "{} {:?} is not a probe method: use GET or HEAD",
                given.origin.naming("method"),
                given.value
            ));
        }
        Ok(method)
    }

    fn headers(&self) -> Result<Vec<(String, String)>, String> {
        let Some(given) = &self.headers else {
            return Ok(Vec::new());
        };
        for (name, value) in &given.value {
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if name.is_empty() || !name.chars().all(token) {
                return Err(format!(
                    "{} has a bad header name {name:?}: letters, digits and '-', e.g. Host",
                    given.origin.naming("headers")
                ));
            }
            if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
                return Err(format!(
                    "{} header {name} has a line break in its value",
                    given.origin.naming("headers")
                ));
            }
        }
        Ok(given.value.clone())
    }

    fn policy(&self) -> Result<CheckPolicy, String> {
        let at_least_one = |given: &Option<Given<u32>>, key: &str, what: &str| match given {
            Some(g) if g.value == 0 => Err(format!(
                "{} must be at least 1: it is {what}",
                g.origin.naming(key)
            )),
            Some(g) => Ok(g.value),
            None => Ok(1),
        };
        let failures = at_least_one(
            &self.failures,
            "failures",
            "how many failed rounds in a row make a restart, e.g. 3",
        )?;
        let successes = at_least_one(
            &self.successes,
            "successes",
            "how many healthy rounds in a row make a failing program recovered, e.g. 2",
        )?;
        let interval = match &self.interval {
            Some(g) if g.value == 0 => {
                return Err(format!(
                    "{} must be at least 1 second (leave it out to probe on every tick)",
                    g.origin.naming("interval")
                ));
            }
            Some(g) if g.value > MAX_INTERVAL => {
                return Err(format!(
                    "{} must be at most {MAX_INTERVAL} seconds (a year), got {}",
                    g.origin.naming("interval"),
                    g.value
                ));
            }
            Some(g) => Some(Duration::from_secs(g.value)),
            None => None,
        };
        Ok(CheckPolicy {
            failures,
            successes,
            grace: Duration::from_secs(self.grace.as_ref().map_or(0, |g| g.value)),
            interval,
            max_restarts: self.max_restarts()?,
            stop_grace: match &self.stop_grace {
                Some(g) if g.value == 0 => {
                    return Err(format!(
                        "{} must be at least 1 second (leave it out for supervisord's \
                         stopwaitsecs)",
                        g.origin.naming("stop_grace")
                    ));
                }
                Some(g) if g.value > MAX_STOP_GRACE => {
                    return Err(format!(
                        "{} must be at most {MAX_STOP_GRACE} seconds: httpok waits no \
                         longer for a stop (leave it out for supervisord's stopwaitsecs), \
                         got {}",
                        g.origin.naming("stop_grace"),
                        g.value
                    ));
                }
                Some(g) => Some(Duration::from_secs(g.value)),
                None => None,
            },
        })
    }

    /// `max_restarts` with `restart_window`: both or neither, neither 0.
    fn max_restarts(&self) -> Result<Option<(u32, Duration)>, String> {
        match (&self.max_restarts, &self.restart_window) {
            (Some(k), _) if k.value == 0 => Err(format!(
                "{} must be at least 1: it is how many restarts {} allows, e.g. 3 in 600",
                k.origin.naming("max_restarts"),
                k.origin.sibling("restart_window", "--restart-window"),
            )),
            (_, Some(w)) if w.value == 0 => Err(format!(
                "{} must be at least 1 second, e.g. 600",
                w.origin.naming("restart_window")
            )),
            (Some(k), Some(w)) => Ok(Some((k.value, Duration::from_secs(w.value)))),
            (Some(k), None) => Err(format!(
                "{} needs {}, the time it counts restarts in, e.g. 3 restarts in 600 seconds",
                k.origin.naming("max_restarts"),
                k.origin.sibling("restart_window", "--restart-window"),
            )),
            (None, Some(w)) => Err(format!(
                "{} needs {}, the restarts it allows, e.g. 3 restarts in 600 seconds",
                w.origin.naming("restart_window"),
                w.origin.sibling("max_restarts", "--max-restarts"),
            )),
            (None, None) => Ok(None),
        }
    }
}

/// `send`'s escapes: `\r`, `\n`, `\t` and `\\`; any other backslash is an error.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        out.push(match chars.next() {
            Some('r') => b'\r',
            Some('n') => b'\n',
            Some('t') => b'\t',
            Some('\\') => b'\\',
            Some(other) => {
                return Err(format!(
                    "has an unknown escape \\{other} in {text:?}: use \\r, \\n, \\t or \\\\"
                ));
            }
            None => return Err(format!("ends in a lone backslash: {text:?} (write \\\\)")),
        });
    }
    Ok(out)
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => f.write_str(flag),
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests;
