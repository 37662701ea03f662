//! The command line: superlance httpok's flags (the contract) plus httpok's own, parsed
//! by clap and validated in one place into a typed [`Config`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser};

use crate::config::{CheckSpec, Config, ServerConfig};
use crate::policy::PolicyConfig;
use crate::probe::ProbeSettings;
use crate::selection::Selection;
use crate::target::Target;

const SUPERLANCE: &str = "Superlance-compatible";
const CHECKS: &str = "Checks";
const POLICY: &str = "Restart policy";
const CONNECTION: &str = "Connection to supervisord";

const AFTER_HELP: &str = "\
Examples:
  Restart program 'web' when /health does not answer 200 with \"OK\" within 5 s. In
  supervisord.conf, or a file in /etc/supervisor/conf.d/:
    [eventlistener:httpok]
    command=/usr/bin/httpok -p web -t 5 -b OK http://127.0.0.1:8080/health
    events=TICK_5
    stderr_logfile=/var/log/supervisor/httpok.log

  Watch two services from one listener and restart only the broken one, after 3 failed
  rounds in a row. Try the checks from a shell first: --once probes once and needs no
  supervisord (exit 0: all healthy). Then put the same flags, without --once, in command=:
    httpok --once --check web=http://127.0.0.1:8080/ --check 'api:*=tcp://127.0.0.1:9000'
    command=/usr/bin/httpok -f 3 --check web=http://127.0.0.1:8080/ --check api:*=tcp://127.0.0.1:9000

httpok runs as a supervisord [eventlistener]: stdout is the listener protocol, logs go to
stderr. From superlance's httpok, change only the path in command=. Manual: man httpok.";

/// httpok: a supervisord event listener that probes URLs on TICK events and restarts the
/// programs behind the ones that fail. A drop-in replacement for superlance's httpok.
#[derive(Debug, Parser)]
#[command(name = "httpok", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Args {
    /// URL to probe: http://, https://, tcp://HOST:PORT or http+unix://%2Fpath.sock/path
    /// (in supervisord.conf, write each % as %%). Several may be given: any of them
    /// failing restarts the -p/-a selection.
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,

    /// Restart this program when a URL fails: name, group:name or group:* (the whole group).
    /// Repeatable.
    #[arg(short = 'p', long = "program", value_name = "NAME", help_heading = SUPERLANCE)]
    pub programs: Vec<String>,

    /// Restart every RUNNING process (except this listener and --exclude) when a URL fails.
    #[arg(short = 'a', long = "any", help_heading = SUPERLANCE)]
    pub any: bool,

    /// Seconds to wait for the whole answer (connect, headers and body); fractions such
    /// as 2.5 are allowed.
    // Negative numbers are taken as values, so `-t -5` gets an error that names -t.
    #[arg(short = 't', long, value_name = "SECS", default_value = "10", allow_negative_numbers = true,
          help_heading = SUPERLANCE)]
    pub timeout: f64,

    /// Expected HTTP status. Repeatable; default 200.
    #[arg(short = 'c', long = "code", value_name = "CODE", help_heading = SUPERLANCE)]
    pub codes: Vec<u16>,

    /// Text that must appear in the response body (searched in its first 16 MiB).
    #[arg(short = 'b', long, value_name = "TEXT", help_heading = SUPERLANCE)]
    pub body: Option<String>,

    /// Mail this address on every restart (through the -s command).
    #[arg(short = 'm', long, value_name = "EMAIL", help_heading = SUPERLANCE)]
    pub email: Option<String>,

    /// Command that reads a mail (headers and body) on stdin. Split on spaces, never
    /// run through a shell.
    #[arg(short = 's', long = "sendmail_program", alias = "sendmail-program", value_name = "CMD",
          default_value = "/usr/sbin/sendmail -t -i", help_heading = SUPERLANCE)]
    pub sendmail: String,

    /// Core-dump command, called with a file name (DIR/NAMESPEC) and a pid (used with
    /// -d). Split on spaces, never run through a shell.
    #[arg(short = 'g', long, value_name = "CMD", default_value = "/usr/bin/gcore -o",
          help_heading = SUPERLANCE)]
    pub gcore: String,

    /// Dump a core of each hung process into this directory before restarting it.
    #[arg(short = 'd', long, value_name = "DIR", help_heading = SUPERLANCE)]
    pub coredir: Option<PathBuf>,

    /// Probe (and mail) even when no watched program is RUNNING. The default.
    #[arg(short = 'e', long, action = ArgAction::SetTrue, overrides_with = "not_eager",
          help_heading = SUPERLANCE)]
    pub eager: bool,

    /// Probe only when a watched program is RUNNING.
    #[arg(short = 'E', long = "not-eager", action = ArgAction::SetTrue, overrides_with = "eager",
          help_heading = SUPERLANCE)]
    pub not_eager: bool,

    /// Name of this checker, shown in the mail subject as "httpok [NAME]: ...".
    #[arg(short = 'n', long, value_name = "NAME", help_heading = SUPERLANCE)]
    pub name: Option<String>,

    /// Bind a URL to its own program(s): NAMESPEC=URL, e.g. web=http://127.0.0.1:8080/
    /// or api:*=tcp://127.0.0.1:9000. Repeatable; independent of -p.
    #[arg(long = "check", value_name = "NAMESPEC=URL", help_heading = CHECKS)]
    pub checks: Vec<String>,

    /// Extra request header 'Name: value'. Repeatable; a Host header overrides the host.
    #[arg(short = 'H', long = "header", value_name = "HEADER", help_heading = CHECKS)]
    pub headers: Vec<String>,

    /// HTTP method of the probe.
    #[arg(long, value_name = "METHOD", default_value = "GET",
          value_parser = ["GET", "HEAD"], help_heading = CHECKS)]
    pub method: String,

    /// Trust the CA certificates in this PEM file for https:// checks (as well as the
    /// built-in roots).
    #[arg(long, value_name = "FILE", help_heading = CHECKS)]
    pub cacert: Option<PathBuf>,

    /// Do not verify certificates of https:// checks.
    #[arg(long, help_heading = CHECKS)]
    pub insecure: bool,

    /// Probe every check once, print one line per URL and exit 0 if all are healthy,
    /// 1 otherwise. Needs no supervisord: try a command line from a shell.
    #[arg(long, help_heading = CHECKS)]
    pub once: bool,

    /// Restart only after N failed rounds in a row; a healthy round resets the count.
    #[arg(short = 'f', long, value_name = "N", default_value = "1", allow_negative_numbers = true,
          help_heading = POLICY)]
    pub failures: u32,

    /// Neither judge nor restart a program that has been up less than SECS (by
    /// supervisord's start time, so also after each restart).
    #[arg(long, visible_alias = "delay", short = 'w', value_name = "SECS", default_value = "0",
          allow_negative_numbers = true,
          help_heading = POLICY)]
    pub grace: u64,

    /// Give up on a program after K restarts within --restart-window (one ERROR line,
    /// one mail); resume when it answers again or the window has passed.
    #[arg(long, value_name = "K", requires = "restart_window", allow_negative_numbers = true,
          help_heading = POLICY)]
    pub max_restarts: Option<u32>,

    /// The window of --max-restarts, in seconds.
    #[arg(long, value_name = "SECS", requires = "max_restarts", allow_negative_numbers = true,
          help_heading = POLICY)]
    pub restart_window: Option<u64>,

    /// Within one check's selection (group:*, -a, several -p), restart at most N
    /// processes at a time: the next starts when the previous is RUNNING again or has
    /// failed to start (superlance restarted them one by one).
    #[arg(long, value_name = "N", default_value = "1", allow_negative_numbers = true,
          help_heading = POLICY)]
    pub parallel_restarts: u32,

    /// Judge and log "would restart NAME (reason)" without touching supervisord.
    #[arg(long, help_heading = POLICY)]
    pub dry_run: bool,

    /// Command run after each restart attempt (no shell), with HTTPOK_PROGRAM,
    /// HTTPOK_URL, HTTPOK_REASON and HTTPOK_OUTCOME in its environment.
    #[arg(long, value_name = "CMD", help_heading = POLICY)]
    pub on_restart: Option<String>,

    /// Never restart this process (namespec); repeatable. This listener is always excluded.
    #[arg(long, value_name = "NAME", help_heading = POLICY)]
    pub exclude: Vec<String>,

    /// supervisord's XML-RPC URL: unix:///path.sock or http://host:port. supervisord sets
    /// it for its listeners; give it only to talk to another supervisord.
    #[arg(long, env = "SUPERVISOR_SERVER_URL", value_name = "URL", help_heading = CONNECTION)]
    pub server_url: Option<String>,

    /// User name for supervisord's server. supervisord does not pass it on: set
    /// SUPERVISOR_USERNAME in the listener's environment= line.
    #[arg(long, env = "SUPERVISOR_USERNAME", value_name = "USER", help_heading = CONNECTION)]
    pub username: Option<String>,

    /// Password for supervisord's server. Prefer SUPERVISOR_PASSWORD in environment=:
    /// command lines are visible to every user in ps.
    #[arg(long, env = "SUPERVISOR_PASSWORD", value_name = "PASS", hide_env_values = true,
          help_heading = CONNECTION)]
    pub password: Option<String>,
}

/// A command line that parses but asks for something impossible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    /// Not started by supervisord and no --server-url.
    NotAListener,
    Invalid(String),
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UsageError::NotAListener => write!(
                f,
                "httpok must be run as a supervisor event listener: SUPERVISOR_SERVER_URL is not \
                 set. Add it to supervisord.conf as an [eventlistener:httpok] section \
                 (supervisord sets the variable when it has a [unix_http_server] or \
                 [inet_http_server] section), pass --server-url, or try the checks from a \
                 shell with --once"
            ),
            UsageError::Invalid(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for UsageError {}

impl Args {
    /// Checks the rules that span several flags and builds the typed config.
    pub fn into_config(self) -> Result<Config, UsageError> {
        let invalid = |m: String| UsageError::Invalid(m);
        if !self.timeout.is_finite() || self.timeout <= 0.0 || self.timeout > 86_400.0 {
            return Err(invalid(format!(
                "-t/--timeout must be a number of seconds above 0 and at most 86400 \
                 (got {}), e.g. -t 5",
                self.timeout
            )));
        }
        let codes = if self.codes.is_empty() {
            vec![200]
        } else {
            self.codes.clone()
        };
        if let Some(code) = codes.iter().find(|c| !(100..=599).contains(*c)) {
            return Err(invalid(format!(
                "-c/--code {code} is not an HTTP status: use a number from 100 to 599"
            )));
        }
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
        let max_restarts = match (self.max_restarts, self.restart_window) {
            (Some(0), _) => {
                return Err(invalid(
                    "--max-restarts must be at least 1: it is how many restarts \
                     --restart-window allows, e.g. --max-restarts 3 --restart-window 600"
                        .into(),
                ));
            }
            (_, Some(0)) => {
                return Err(invalid(
                    "--restart-window must be at least 1 second, e.g. --restart-window 600".into(),
                ));
            }
            (Some(k), Some(w)) => Some((k, Duration::from_secs(w))),
            _ => None,
        };

        let positional = if self.any {
            Selection::Any
        } else {
            Selection::Programs(self.programs.clone())
        };
        let mut checks = Vec::new();
        let positional_targets = self
            .urls
            .iter()
            .map(|url| Target::parse(url).map_err(|e| invalid(format!("bad URL: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if !positional_targets.is_empty() {
            checks.push(CheckSpec {
                targets: positional_targets,
                selection: positional,
            });
        }
        for check in &self.checks {
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
            let target =
                Target::parse(url).map_err(|e| invalid(format!("bad URL in --check: {e}")))?;
            checks.push(CheckSpec {
                targets: vec![target],
                selection: Selection::Programs(vec![spec.to_string()]),
            });
        }
        if checks.is_empty() {
            return Err(invalid(
                "no URL to probe: give one (httpok -p web http://127.0.0.1:8080/) or --check NAMESPEC=URL"
                    .into(),
            ));
        }

        let mut headers = Vec::new();
        for header in &self.headers {
            let (name, value) = header
                .split_once(':')
                .filter(|(n, _)| !n.trim().is_empty() && !n.contains(char::is_whitespace))
                .ok_or_else(|| {
                    invalid(format!(
                        "-H {header:?} must look like 'Name: value', e.g. -H 'Host: example.com'"
                    ))
                })?;
            headers.push((name.to_string(), value.trim().to_string()));
        }

        let sendmail = split_command(&self.sendmail, "-s/--sendmail_program")?;
        let gcore = split_command(&self.gcore, "-g/--gcore")?;
        let on_restart = self
            .on_restart
            .as_deref()
            .map(|c| split_command(c, "--on-restart"))
            .transpose()?;

        let server = match self.server_url.clone().filter(|u| !u.is_empty()) {
            Some(url) => Some(ServerConfig {
                url,
                username: self.username.clone().filter(|u| !u.is_empty()),
                password: self.password.clone(),
            }),
            None if self.once => None,
            None => return Err(UsageError::NotAListener),
        };

        Ok(Config {
            checks,
            probe: ProbeSettings {
                timeout: Duration::from_secs_f64(self.timeout),
                codes,
                body: self.body,
                method: self.method,
                headers,
                cacert: self.cacert,
                insecure: self.insecure,
            },
            email: self.email,
            sendmail,
            gcore,
            coredir: self.coredir,
            eager: !self.not_eager,
            name: self.name,
            policy: PolicyConfig {
                failures: self.failures,
                grace: Duration::from_secs(self.grace),
                max_restarts,
                parallel_restarts: self.parallel_restarts,
            },
            dry_run: self.dry_run,
            once: self.once,
            on_restart,
            exclude: self.exclude,
            server,
        })
    }
}

/// Splits a command on whitespace into argv. No shell, no quoting rules: a program
/// path with spaces cannot be named, and nothing can be injected.
pub fn split_command(command: &str, flag: &str) -> Result<Vec<String>, UsageError> {
    let argv: Vec<String> = command.split_whitespace().map(str::to_string).collect();
    if argv.is_empty() {
        return Err(UsageError::Invalid(format!(
            "{flag} is empty: give a command"
        )));
    }
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let mut argv = vec!["httpok", "--server-url", "unix:///tmp/s.sock"];
        argv.extend_from_slice(args);
        Args::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .into_config()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_clap_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn superlance_defaults_hold() {
        let c = parse(&["http://127.0.0.1/"]).expect("valid");
        assert_eq!(c.probe.timeout, Duration::from_secs(10));
        assert_eq!(c.probe.codes, vec![200]);
        assert_eq!(c.sendmail, vec!["/usr/sbin/sendmail", "-t", "-i"]);
        assert_eq!(c.gcore, vec!["/usr/bin/gcore", "-o"]);
        assert!(c.eager);
        assert_eq!(c.probe.body, None);
        assert_eq!(c.coredir, None);
        assert_eq!(c.policy.failures, 1);
        assert!(matches!(c.checks[0].selection, Selection::Programs(ref p) if p.is_empty()));
    }

    #[test]
    fn every_superlance_flag_parses_in_short_and_long_form() {
        let short = parse(&[
            "-p",
            "web",
            "-p",
            "grp:api",
            "-t",
            "5",
            "-c",
            "200",
            "-c",
            "302",
            "-b",
            "OK",
            "-m",
            "ops@example.test",
            "-s",
            "/bin/mail -t",
            "-g",
            "/bin/gcore -o",
            "-d",
            "/tmp/cores",
            "-E",
            "-n",
            "front",
            "http://127.0.0.1:8080/",
        ])
        .expect("valid");
        let long = parse(&[
            "--program",
            "web",
            "--program",
            "grp:api",
            "--timeout",
            "5",
            "--code",
            "200",
            "--code",
            "302",
            "--body",
            "OK",
            "--email",
            "ops@example.test",
            "--sendmail_program",
            "/bin/mail -t",
            "--gcore",
            "/bin/gcore -o",
            "--coredir",
            "/tmp/cores",
            "--not-eager",
            "--name",
            "front",
            "http://127.0.0.1:8080/",
        ])
        .expect("valid");
        for c in [short, long] {
            assert!(
                matches!(&c.checks[0].selection, Selection::Programs(p) if p == &["web", "grp:api"])
            );
            assert_eq!(c.probe.timeout, Duration::from_secs(5));
            assert_eq!(c.probe.codes, vec![200, 302]);
            assert_eq!(c.probe.body.as_deref(), Some("OK"));
            assert_eq!(c.email.as_deref(), Some("ops@example.test"));
            assert_eq!(c.sendmail, vec!["/bin/mail", "-t"]);
            assert_eq!(c.gcore, vec!["/bin/gcore", "-o"]);
            assert_eq!(c.coredir, Some(PathBuf::from("/tmp/cores")));
            assert!(!c.eager);
            assert_eq!(c.name.as_deref(), Some("front"));
        }
    }

    #[test]
    fn the_last_of_eager_and_not_eager_wins() {
        assert!(parse(&["-E", "-e", "http://h/"]).expect("valid").eager);
        assert!(!parse(&["-e", "-E", "http://h/"]).expect("valid").eager);
        assert!(!parse(&["-a", "-E", "http://h/"]).expect("valid").eager);
    }

    #[test]
    fn any_selects_every_process() {
        let c = parse(&["-a", "-p", "ignored", "http://h/"]).expect("valid");
        assert!(matches!(c.checks[0].selection, Selection::Any));
    }

    #[test]
    fn bad_arguments_are_refused_with_a_clear_message() {
        let cases: &[(&[&str], &str)] = &[
            (&["-t", "0", "http://h/"], "timeout"),
            (&["-t", "abc", "http://h/"], "timeout"),
            (&["-c", "99", "http://h/"], "HTTP status"),
            (&["-c", "abc", "http://h/"], "code"),
            (&["not-a-url"], "bad URL"),
            (&["ftp://h/"], "unsupported scheme"),
            (&[], "no URL"),
            (&["--check", "nourl"], "NAMESPEC=URL"),
            (&["-f", "0", "http://h/"], "failures"),
            (&["-f", "-1", "http://h/"], "--failures"),
            (&["-t", "-5", "http://h/"], "timeout"),
            (&["--grace", "-3", "http://h/"], "--grace"),
            (&["--max-restarts", "2", "http://h/"], "restart-window"),
            (&["-H", "no colon", "http://h/"], "Name: value"),
            (&["-s", "  ", "-m", "x@y", "http://h/"], "empty"),
            (&["--method", "POST", "http://h/"], "POST"),
            (
                &["--parallel-restarts", "0", "http://h/"],
                "--parallel-restarts",
            ),
        ];
        for (args, needle) in cases {
            let err = parse(args).expect_err(&format!("{args:?} should fail"));
            assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
        }
    }

    #[test]
    fn without_a_server_url_it_says_it_must_run_under_supervisord() {
        let args = Args::try_parse_from(["httpok", "http://h/"]).expect("parses");
        let args = Args {
            server_url: None,
            ..args
        };
        assert_eq!(args.into_config().err(), Some(UsageError::NotAListener));
    }

    #[test]
    fn once_needs_no_server() {
        let args = Args::try_parse_from(["httpok", "--once", "http://h/"]).expect("parses");
        let args = Args {
            server_url: None,
            ..args
        };
        assert!(args.into_config().expect("valid").server.is_none());
    }

    #[test]
    fn checks_bind_urls_to_programs_split_at_the_first_equals() {
        let c = parse(&[
            "--check",
            "web=http://h/?a=b",
            "--check",
            "api:*=tcp://h:1",
            "-p",
            "x",
            "http://o/",
        ])
        .expect("valid");
        assert_eq!(c.checks.len(), 3);
        assert!(matches!(&c.checks[0].selection, Selection::Programs(p) if p == &["x"]));
        assert!(matches!(&c.checks[1].selection, Selection::Programs(p) if p == &["web"]));
        assert_eq!(c.checks[1].targets[0].to_string(), "http://h/?a=b");
        assert!(matches!(&c.checks[2].selection, Selection::Programs(p) if p == &["api:*"]));
    }

    #[test]
    fn positional_urls_form_one_check_for_the_selection() {
        let c = parse(&["-p", "web", "http://a/", "tcp://b:1"]).expect("valid");
        assert_eq!(c.checks.len(), 1);
        assert_eq!(c.checks[0].targets.len(), 2);
    }

    #[test]
    fn policy_flags_parse() {
        let c = parse(&[
            "-f",
            "3",
            "--grace",
            "30",
            "--max-restarts",
            "2",
            "--restart-window",
            "300",
            "http://h/",
        ])
        .expect("valid");
        assert_eq!(
            c.policy,
            PolicyConfig {
                failures: 3,
                grace: Duration::from_secs(30),
                max_restarts: Some((2, Duration::from_secs(300))),
                parallel_restarts: 1,
            }
        );
        assert_eq!(
            parse(&["-w", "7", "http://h/"])
                .expect("valid")
                .policy
                .grace,
            Duration::from_secs(7)
        );
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let c = parse(&["--password", "hunter2", "http://u:pw@h/"]).expect("valid");
        let dump = format!("{c:?}");
        assert!(
            !dump.contains("hunter2") && !dump.contains(":pw@"),
            "{dump}"
        );
    }
}
