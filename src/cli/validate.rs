//! The rules that span several flags, and the values clap cannot check alone (URLs,
//! headers, commands, supervisord's URL): [`Args::into_config`] turns parsed flags and
//! the `--config` file into a [`Config`] or the first [`UsageError`], before anything
//! runs. The check settings are layered and checked by [`crate::config::settings`].
//! [`Args::status_request`] and [`Args::metrics_listen`] do the same for --status and
//! --metrics-listen.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::{Args, UsageError};
use crate::cli::status_client::StatusUrl;
use crate::config::file::{self as config_file, FileCheck, FileConfig};
use crate::config::settings::{FlagValues, Layer, Misplaced, Origin, Settings};
use crate::config::target::{Kind, Target};
use crate::config::{CheckSpec, Config, ServerConfig};
use crate::metrics::ListenAddr;
use crate::planner::selection::Selection;
use crate::probe::check_runnable;
use crate::supervisor::Endpoint;

fn invalid(message: String) -> UsageError {
    UsageError::Invalid(message)
}

/// The three commands httpok may run, each as argv.
struct Commands {
    sendmail: Vec<String>,
    gcore: Vec<String>,
    on_restart: Option<Vec<String>>,
    on_change: Option<Vec<String>>,
}

impl Args {
    /// Checks every flag, the `--config` file and the rules that span several, and
    /// builds the typed config.
    pub fn into_config(self) -> Result<Config, UsageError> {
        let file = match &self.config {
            Some(path) => config_file::load(path).map_err(invalid)?,
            None => FileConfig::default(),
        };
        let defaults = self.flag_layer()?.over(&file.defaults);
        // Checked even when no check uses them as they are: a bad default is an error.
        let settings = defaults.resolve().map_err(invalid)?;
        let checks = self.checks(&settings, &defaults, &file)?;
        let unused = unused_defaults(&defaults, &checks)?;
        if self.parallel_restarts == 0 {
            return Err(invalid(
                "--parallel-restarts must be at least 1: it is how many processes of one \
                 selection may be restarted at once, e.g. --parallel-restarts 2"
                    .into(),
            ));
        }
        let commands = self.commands()?;
        let server = self.server()?;
        let mut warnings = unused;
        warnings.extend(unrunnable_commands(&checks));
        Ok(Config {
            warnings,
            checks,
            command_timeout: settings.probe.timeout,
            parallel_restarts: self.parallel_restarts,
            cert_expiry_warn: (self.cert_expiry_warn > 0)
                .then(|| Duration::from_secs(u64::from(self.cert_expiry_warn) * 86_400)),
            email: self.email,
            sendmail: commands.sendmail,
            gcore: commands.gcore,
            coredir: self.coredir,
            eager: !self.not_eager,
            name: self.name,
            dry_run: self.dry_run,
            once: self.once,
            on_restart: commands.on_restart,
            on_change: commands.on_change,
            state_file: self.state_file.clone(),
            exclude: self.exclude,
            server,
        })
    }

    /// `--status URL`, which reads a running httpok and exits: it starts no listener, so
    /// it takes no URL to probe, no --check, no --once and no --metrics-listen, and
    /// needs no supervisord.
    pub fn status_request(&self) -> Result<Option<StatusUrl>, UsageError> {
        let Some(url) = &self.status else {
            return Ok(None);
        };
        let listener_flag = if !self.urls.is_empty() {
            Some("URL to probe")
        } else if !self.checks.is_empty() {
            Some("--check")
        } else if self.once {
            Some("--once")
        } else if self.metrics_listen.is_some() {
            Some("--metrics-listen")
        } else {
            None
        };
        if let Some(flag) = listener_flag {
            return Err(invalid(format!(
                "--status reads a running httpok and exits, so it takes no {flag}: run it \
                 alone, e.g. httpok --status http://127.0.0.1:9117"
            )));
        }
        StatusUrl::parse(url)
            .map(Some)
            .map_err(|e| invalid(format!("--status {e}")))
    }

    /// `--metrics-listen ADDR`, for a listener (not --once) and a port Prometheus can be
    /// told.
    pub fn metrics_listen(&self) -> Result<Option<ListenAddr>, UsageError> {
        let Some(text) = &self.metrics_listen else {
            return Ok(None);
        };
        if self.once {
            return Err(invalid(
                "--metrics-listen serves the metrics of a running listener and --once probes \
                 once and exits: drop one of them"
                    .into(),
            ));
        }
        let addr = ListenAddr::parse(text).map_err(|e| invalid(format!("--metrics-listen {e}")))?;
        if let ListenAddr::Tcp(socket) = &addr
            && socket.port() == 0
        {
            return Err(invalid(
                "--metrics-listen needs a port other than 0, the one Prometheus scrapes: \
                 e.g. 127.0.0.1:9117"
                    .into(),
            ));
        }
        Ok(Some(addr))
    }

    /// The check settings given as flags: a layer over the file's top level.
    fn flag_layer(&self) -> Result<Layer, UsageError> {
        let listed = |items: &[String]| (!items.is_empty()).then(|| items.to_vec());
        Ok(Layer::from_flags(FlagValues {
            timeout: self.timeout,
            codes: listed(&self.codes),
            method: self.method.clone(),
            body: self.body.clone(),
            body_regex: self.body_regex.clone(),
            body_not_regex: self.body_not_regex.clone(),
            headers: (!self.headers.is_empty())
                .then(|| headers(&self.headers))
                .transpose()?,
            cacert: self.cacert.clone(),
            insecure: self.insecure.then_some(true),
            send: self.send.clone(),
            expect: self.expect.clone(),
            // Only a config file sets it: a flag's value is in `ps`.
            env: None,
            failures: self.failures,
            successes: self.successes,
            grace: self.grace,
            interval: self.interval,
            stop_grace: self.stop_grace,
            max_restarts: self.max_restarts,
            restart_window: self.restart_window,
        }))
    }

    /// The URLs without a flag form one check for the -p/-a selection; each --check is
    /// a check of its own.
    fn checks(
        &self,
        settings: &Settings,
        defaults: &Layer,
        file: &FileConfig,
    ) -> Result<Vec<CheckSpec>, UsageError> {
        let mut checks = Vec::new();
        // Where each check was given, for an error naming two of them.
        let mut given = Vec::new();
        if !self.urls.is_empty() {
            given.push("the URLs given without a flag".to_string());
            checks.push(CheckSpec {
                name: None,
                targets: self.positional_targets()?,
                selection: if self.any {
                    Selection::Any
                } else {
                    Selection::Programs(self.programs.clone())
                },
                probe: settings.probe.clone(),
                policy: settings.policy.clone(),
            });
        }
        for check in &self.checks {
            given.push(format!("--check {check}"));
            checks.push(check_spec(check, settings)?);
        }
        let file_name = self.config.as_deref().map(Path::display);
        for check in &file.checks {
            let file_name = file_name.as_ref().map(ToString::to_string);
            given.push(format!("{}:{}", file_name.unwrap_or_default(), check.line));
            checks.push(file_check(check, defaults)?);
        }
        unique_labels(&checks, &given)?;

        if checks.is_empty() {
            return Err(invalid(
                "no URL to probe: give one (httpok -p web http://127.0.0.1:8080/), \
                 --check NAMESPEC=URL or a --config file with [[check]] tables"
                    .into(),
            ));
        }
        if self.urls.is_empty() && (self.any || !self.programs.is_empty()) {
            let flag = if self.any { "-a/--any" } else { "-p/--program" };
            return Err(invalid(format!(
                "{flag} selects what the URLs given without a flag restart, and there are \
                 none (each --check names its own programs): add the URL, e.g. \
                 httpok -p web http://127.0.0.1:8080/, or write --check web=URL instead"
            )));
        }
        Ok(checks)
    }

    fn positional_targets(&self) -> Result<Vec<Target>, UsageError> {
        // A stray word among several is most often a piece of an unquoted -s/-g command.
        let hint = if self.urls.len() > 1 {
            "; every argument that is not a flag's value is a URL to probe: quote a -s or \
             -g command that has spaces"
        } else {
            ""
        };
        self.urls
            .iter()
            .map(|url| Target::parse(url).map_err(|e| invalid(format!("bad URL: {e}{hint}"))))
            .collect()
    }

    /// -s, -g and --on-restart, split into argv.
    fn commands(&self) -> Result<Commands, UsageError> {
        Ok(Commands {
            sendmail: split_command(&self.sendmail, "-s/--sendmail_program")?,
            gcore: split_command(&self.gcore, "-g/--gcore")?,
            on_restart: self
                .on_restart
                .as_deref()
                .map(|c| split_command(c, "--on-restart"))
                .transpose()?,
            on_change: self
                .on_change
                .as_deref()
                .map(|c| split_command(c, "--on-change"))
                .transpose()?,
        })
    }

    /// supervisord's URL, checked now so that a bad one is a usage error, not a
    /// listener that starts and then fails.
    fn server(&self) -> Result<Option<ServerConfig>, UsageError> {
        let Some(url) = self.server_url.clone().filter(|u| !u.is_empty()) else {
            return if self.once || self.check_config {
                Ok(None)
            } else {
                Err(UsageError::NotAListener)
            };
        };
        Endpoint::parse(&url)
            .map_err(|e| invalid(format!("bad SUPERVISOR_SERVER_URL / --server-url: {e}")))?;
        Ok(Some(ServerConfig {
            url,
            username: self.username.clone().filter(|u| !u.is_empty()),
            password: self.password.clone(),
        }))
    }
}

/// A WARN for each exec check whose command cannot run here: most often a typo, said
/// at start (and by --check-config). Not refused: a config may be checked on another
/// host than the one it runs on. While it cannot run, the check restarts nothing.
fn unrunnable_commands(checks: &[CheckSpec]) -> Vec<String> {
    let mut warnings = Vec::new();
    for target in checks.iter().flat_map(|c| &c.targets) {
        if let Target::Exec { argv } = target
            && let Err(e) = check_runnable(argv)
        {
            warnings.push(format!(
                "{target}: {e}; this check restarts nothing until its command runs"
            ));
        }
    }
    warnings
}

/// The flags superlance users may have meant as its `--send`, short for
/// `--sendmail_program`: without a tcp:// check they are refused, not ignored.
const SUPERLANCE_SEND: [&str; 2] = ["--send", "--expect"];

/// A WARN for each default (a flag, or a top-level key of the file) that applies to no
/// check: `--insecure` with only tcp:// checks changes nothing. Not refused: a default
/// applies where it can, and superlance's command lines carry `-c` and `-b` whatever
/// the URL. But `--send` and `--expect` are refused (see [`SUPERLANCE_SEND`]).
fn unused_defaults(defaults: &Layer, checks: &[CheckSpec]) -> Result<Vec<String>, UsageError> {
    let kinds: Vec<Kind> = checks
        .iter()
        .flat_map(|check| check.targets.iter().map(Target::kind))
        .collect();
    let mut warnings = Vec::new();
    for Misplaced { key, origin, only } in defaults.unused(&kinds) {
        let unused = format!(
            "{} is for {} checks and there is none",
            origin.naming(key.name),
            only.as_str()
        );
        match origin {
            Origin::Flag(flag) if SUPERLANCE_SEND.contains(flag) => {
                return Err(invalid(format!(
                    "{unused} (superlance's --send was short for --sendmail_program: write \
                     -s CMD)"
                )));
            }
            _ => warnings.push(format!("{unused}: it changes nothing")),
        }
    }
    Ok(warnings)
}

/// `-H 'Name: value'` into (name, value).
fn headers(given: &[String]) -> Result<Vec<(String, String)>, UsageError> {
    given
        .iter()
        .map(|header| {
            header
                .split_once(':')
                .filter(|(n, _)| !n.trim().is_empty() && !n.contains(char::is_whitespace))
                .map(|(name, value)| (name.to_string(), value.trim().to_string()))
                .ok_or_else(|| {
                    // Not echoed: a malformed header may well be `Authorization Bearer ...`.
                    invalid(
                        "-H needs 'Name: value', a name without spaces then a colon, e.g. \
                         -H 'Host: example.com'"
                            .into(),
                    )
                })
        })
        .collect()
}

/// Two checks called the same (by their `name`, or by their URLs when unnamed) would be
/// one row in `/status`, one series in `/metrics` and one name in the log for two
/// things: refused, naming where each was given (`given`, in the checks' order).
fn unique_labels(checks: &[CheckSpec], given: &[String]) -> Result<(), UsageError> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, check) in checks.iter().enumerate() {
        let label = check.label();
        if let Some(first) = seen.insert(label.clone(), i) {
            let at = |n: usize| given.get(n).map_or("", String::as_str);
            return Err(invalid(format!(
                "two checks are both called {label:?}: {} and {}; give each check a name of \
                 its own (name = \"...\" in a [[check]] of --config) or merge them",
                at(first),
                at(i)
            )));
        }
    }
    Ok(())
}

/// `--check NAMESPEC=URL`, split at the first `=` (a URL may hold more).
fn check_spec(check: &str, settings: &Settings) -> Result<CheckSpec, UsageError> {
    let (spec, url) = check.split_once('=').ok_or_else(|| {
        invalid(format!(
            "--check {check:?} must be NAMESPEC=URL, e.g. web=http://127.0.0.1:8080/"
        ))
    })?;
    if spec.is_empty() {
        return Err(invalid(format!(
            "--check {check:?} has no program name before '=': write NAMESPEC=URL, \
             e.g. web=http://127.0.0.1:8080/"
        )));
    }
    let target = Target::parse(url).map_err(|e| invalid(format!("bad URL in --check: {e}")))?;
    Ok(CheckSpec {
        name: None,
        targets: vec![target],
        selection: Selection::Programs(vec![spec.to_string()]),
        probe: settings.probe.clone(),
        policy: settings.policy.clone(),
    })
}

/// A `[[check]]` of the file: its own keys over the defaults, and only keys its kind
/// of target uses.
fn file_check(check: &FileCheck, defaults: &Layer) -> Result<CheckSpec, UsageError> {
    let kind = check.target.kind();
    if let Some(Misplaced { key, origin, only }) = check.settings.misplaced(kind) {
        return Err(invalid(format!(
            "{} applies to {} checks only, and this check's target is {}",
            origin.naming(key.name),
            only.as_str(),
            check.target
        )));
    }
    let settings = check
        .settings
        .clone()
        .over(defaults)
        .resolve()
        .map_err(invalid)?;
    Ok(CheckSpec {
        name: check.name.clone(),
        targets: vec![check.target.clone()],
        selection: Selection::Programs(check.programs.clone()),
        probe: settings.probe,
        policy: settings.policy,
    })
}

/// Splits a command on whitespace into argv. No shell, no quoting rules: a program
/// path with spaces cannot be named, and nothing can be injected.
pub fn split_command(command: &str, flag: &str) -> Result<Vec<String>, UsageError> {
    let argv: Vec<String> = command.split_whitespace().map(str::to_string).collect();
    if argv.is_empty() {
        return Err(invalid(format!("{flag} is empty: give a command")));
    }
    Ok(argv)
}

#[cfg(test)]
mod tests;
