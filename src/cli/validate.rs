//! The rules that span several flags, and the values clap cannot check alone (URLs,
//! headers, commands, the --cacert file, supervisord's URL): [`Args::into_config`]
//! turns parsed flags into a [`Config`] or the first [`UsageError`], before anything runs.
//! [`Args::status_request`] and [`Args::metrics_listen`] do the same for --status and
//! --metrics-listen.

use std::path::Path;
use std::time::Duration;

use super::{Args, UsageError};
use crate::config::{CheckSpec, Config, ServerConfig};
use crate::metrics::ListenAddr;
use crate::planner::PolicyConfig;
use crate::probe::ProbeSettings;
use crate::selection::Selection;
use crate::status_client::StatusUrl;
use crate::supervisor::Endpoint;
use crate::target::Target;

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
    /// Checks every flag and the rules that span several, and builds the typed config.
    pub fn into_config(self) -> Result<Config, UsageError> {
        let probe = self.probe_settings()?;
        let policy = self.policy()?;
        let checks = self.checks()?;
        let commands = self.commands()?;
        let server = self.server()?;
        Ok(Config {
            checks,
            probe,
            email: self.email,
            sendmail: commands.sendmail,
            gcore: commands.gcore,
            coredir: self.coredir,
            eager: !self.not_eager,
            name: self.name,
            policy,
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

    /// What makes an answer healthy and how to ask: -t, -c, -b, -H, --method, TLS.
    fn probe_settings(&self) -> Result<ProbeSettings, UsageError> {
        if self.body.is_some() && self.method == "HEAD" {
            return Err(invalid(
                "-b/--body cannot pass with --method HEAD: an answer to HEAD has no body. \
                 Drop -b, or drop --method HEAD (GET is the default)"
                    .into(),
            ));
        }
        if let Some(path) = &self.cacert {
            check_cacert(path)?;
        }
        Ok(ProbeSettings {
            timeout: timeout(self.timeout)?,
            codes: codes(&self.codes)?,
            body: self.body.clone(),
            method: self.method.clone(),
            headers: headers(&self.headers)?,
            cacert: self.cacert.clone(),
            insecure: self.insecure,
        })
    }

    /// -f, --grace, --max-restarts with --restart-window, --parallel-restarts.
    fn policy(&self) -> Result<PolicyConfig, UsageError> {
        if self.failures == 0 {
            return Err(invalid(
                "-f/--failures must be at least 1: it is how many failed rounds in a row \
                 make a restart, e.g. -f 3"
                    .into(),
            ));
        }
        if self.parallel_restarts == 0 {
            return Err(invalid(
                "--parallel-restarts must be at least 1: it is how many processes of one \
                 selection may be restarted at once, e.g. --parallel-restarts 2"
                    .into(),
            ));
        }
        let example = "e.g. --max-restarts 3 --restart-window 600";
        let max_restarts = match (self.max_restarts, self.restart_window) {
            (Some(0), _) => {
                return Err(invalid(format!(
                    "--max-restarts must be at least 1: it is how many restarts \
                     --restart-window allows, {example}"
                )));
            }
            (_, Some(0)) => {
                return Err(invalid(format!(
                    "--restart-window must be at least 1 second, {example}"
                )));
            }
            (Some(k), Some(w)) => Some((k, Duration::from_secs(w))),
            (Some(_), None) => {
                return Err(invalid(format!(
                    "--max-restarts needs --restart-window, the time it counts restarts in: {example}"
                )));
            }
            (None, Some(_)) => {
                return Err(invalid(format!(
                    "--restart-window needs --max-restarts, the restarts it allows: {example}"
                )));
            }
            (None, None) => None,
        };
        Ok(PolicyConfig {
            failures: self.failures,
            grace: Duration::from_secs(self.grace),
            max_restarts,
            parallel_restarts: self.parallel_restarts,
        })
    }

    /// The URLs without a flag form one check for the -p/-a selection; each --check is
    /// a check of its own.
    fn checks(&self) -> Result<Vec<CheckSpec>, UsageError> {
        let mut checks = Vec::new();
        if !self.urls.is_empty() {
            checks.push(CheckSpec {
                targets: self.positional_targets()?,
                selection: if self.any {
                    Selection::Any
                } else {
                    Selection::Programs(self.programs.clone())
                },
            });
        }
        for check in &self.checks {
            checks.push(check_spec(check)?);
        }
        if checks.is_empty() {
            return Err(invalid(
                "no URL to probe: give one (httpok -p web http://127.0.0.1:8080/) or \
                 --check NAMESPEC=URL"
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
            return if self.once {
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

fn timeout(secs: f64) -> Result<Duration, UsageError> {
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(invalid(format!(
            "-t/--timeout must be a number of seconds above 0 and at most 86400 \
             (got {secs}), e.g. -t 5"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The -c list, or superlance's default of 200 alone.
fn codes(given: &[u16]) -> Result<Vec<u16>, UsageError> {
    if let Some(code) = given.iter().find(|c| !(100..=599).contains(*c)) {
        return Err(invalid(format!(
            "-c/--code {code} is not an HTTP status: use a number from 100 to 599"
        )));
    }
    Ok(if given.is_empty() {
        vec![200]
    } else {
        given.to_vec()
    })
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
                    invalid(format!(
                        "-H {header:?} must look like 'Name: value', e.g. -H 'Host: example.com'"
                    ))
                })
        })
        .collect()
}

/// `--check NAMESPEC=URL`, split at the first `=` (a URL may hold more).
fn check_spec(check: &str) -> Result<CheckSpec, UsageError> {
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
        targets: vec![target],
        selection: Selection::Programs(vec![spec.to_string()]),
    })
}

/// The --cacert file must be readable and hold at least one PEM certificate; checked
/// here so that a bad file is a usage error at start, not a failing probe later.
fn check_cacert(path: &Path) -> Result<(), UsageError> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| {
        invalid(format!(
            "--cacert {shown}: cannot read it ({e}): give a readable PEM file of CA certificates"
        ))
    })?;
    let mut certificates = 0;
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(_)) => certificates += 1,
            Ok(_) => {}
            Err(e) => {
                return Err(invalid(format!(
                    "--cacert {shown} is not a valid PEM file ({e}): give the CA certificates \
                     as -----BEGIN CERTIFICATE----- blocks"
                )));
            }
        }
    }
    if certificates == 0 {
        return Err(invalid(format!(
            "--cacert {shown} holds no certificate: give a PEM file with \
             -----BEGIN CERTIFICATE----- blocks"
        )));
    }
    Ok(())
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
