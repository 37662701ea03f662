//! The command line: superlance httpok's flags (the contract) plus httpok's own, read in
//! three steps by [`parse_command_line`]:
//! 1. [`getopt`]: superlance's flags in the forms superlance's getopt accepted
//!    (`--prog=web`, `-t5`, `-aE`, last value wins) rewritten into one canonical form;
//! 2. clap parses that into [`Args`] (help, types, httpok's own flags as clap reads them);
//! 3. [`validate`]: [`Args::into_config`] checks the rules that span several flags and
//!    builds the typed [`Config`].
//!
//! Whichever step refuses the command line, the caller gets one [`UsageError`], a
//! one-line message (see [`error`]). Nothing here runs a probe or talks to supervisord.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Parser};

use crate::cli::status_client::StatusUrl;
use crate::config::Config;
use crate::metrics::ListenAddr;

pub mod check_config;
pub(crate) mod error;
pub(crate) mod getopt;
pub mod once;
pub mod status_client;
pub(crate) mod validate;

pub use error::UsageError;

const SUPERLANCE: &str = "Superlance-compatible";
const CHECKS: &str = "Checks";
const POLICY: &str = "Restart policy";
const OBSERVABILITY: &str = "Observability";
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
stderr. From superlance's httpok, change only the path in command=: superlance's flags are
read as its getopt read them (--prog=web, -t5, -aE; the last -t wins), httpok's own flags
are written in full. Manual: man httpok.";

/// httpok: a supervisord event listener that probes URLs on TICK events and restarts the
/// programs behind the ones that fail. A drop-in replacement for superlance's httpok.
// The fields' docs are their --help text, written for a terminal ([NAME], [[check]]),
// not rustdoc links.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, Parser)]
#[command(name = "httpok", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Args {
    /// URL to probe: http://, https://, tcp://HOST:PORT, http+unix://%2Fpath.sock/path
    /// (in supervisord.conf, write each % as %%) or exec:COMMAND ARGS (run without a
    /// shell, healthy when it exits 0). Several may be given: any of them
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

    /// Seconds to wait for the whole answer (connect, headers and body; an exec check's
    /// exit); fractions such as 2.5 are allowed. Default 10.
    // Negative numbers are taken as values, so `-t -5` gets an error that names -t.
    #[arg(short = 't', long, value_name = "SECS", allow_negative_numbers = true,
          help_heading = SUPERLANCE)]
    pub timeout: Option<f64>,

    /// Expected HTTP status: 200, a class such as 2xx, or a range such as 200-399.
    /// Repeatable; default 200.
    #[arg(short = 'c', long = "code", value_name = "CODE", help_heading = SUPERLANCE)]
    pub codes: Vec<String>,

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

    /// HTTP method of the probe. Default GET.
    #[arg(long, value_name = "METHOD", value_parser = ["GET", "HEAD"], help_heading = CHECKS)]
    pub method: Option<String>,

    /// The response body must match this regular expression (searched in its first
    /// 16 MiB, as -b).
    #[arg(long, value_name = "RE", help_heading = CHECKS)]
    pub body_regex: Option<String>,

    /// A response body matching this regular expression fails the check, e.g.
    /// 'maintenance mode|Traceback'.
    #[arg(long, value_name = "RE", help_heading = CHECKS)]
    pub body_not_regex: Option<String>,

    /// For tcp:// checks: write TEXT once connected (escapes \r, \n, \t, \\), e.g.
    /// 'PING\r\n'.
    #[arg(long, value_name = "TEXT", help_heading = CHECKS)]
    pub send: Option<String>,

    /// For tcp:// checks: what the peer answers must match this regular expression
    /// within the timeout, e.g. '^\+PONG'.
    #[arg(long, value_name = "RE", help_heading = CHECKS)]
    pub expect: Option<String>,

    /// Read checks from this TOML file: top-level keys are defaults for every check
    /// (flags given here override them), each [[check]] has its own. Mixes with
    /// --check and URLs. See man httpok, CONFIG FILE.
    #[arg(long, value_name = "FILE", help_heading = CHECKS)]
    pub config: Option<PathBuf>,

    /// Read and check the whole command line and --config file, print the effective
    /// checks one per line and exit 0 (2 with the error). Needs no supervisord.
    #[arg(long, help_heading = CHECKS)]
    pub check_config: bool,

    /// Warn (one WARN a day, one mail) when an https check's certificate expires
    /// within DAYS; never a restart. 0 turns it off.
    #[arg(long, value_name = "DAYS", default_value = "14", help_heading = CHECKS)]
    pub cert_expiry_warn: u32,

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

    /// Restart only after N failed rounds in a row; --successes healthy rounds reset
    /// the count. Default 1.
    #[arg(short = 'f', long, value_name = "N", allow_negative_numbers = true,
          help_heading = POLICY)]
    pub failures: Option<u32>,

    /// A failing check is healthy again, and a restarted program recovered, after N
    /// healthy rounds in a row. Default 1.
    #[arg(long, value_name = "N", allow_negative_numbers = true, help_heading = POLICY)]
    pub successes: Option<u32>,

    /// Probe every SECS (default: every TICK): above the tick period for an expensive
    /// check; below it (down to 1) httpok probes between TICKs on its own clock.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, help_heading = POLICY)]
    pub interval: Option<u64>,

    /// When a restart's stop has not ended after SECS (the program is frozen or its
    /// workers hang), SIGKILL it as supervisord would at stopwaitsecs: its process
    /// group with killasgroup=true, else its pid. httpok must run as root or as the
    /// program's user. Default: supervisord's stopwaitsecs.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, help_heading = POLICY)]
    pub stop_grace: Option<u64>,

    /// Neither judge nor restart a program that has been up less than SECS (by
    /// supervisord's start time, so also after each restart). Default 0.
    #[arg(long, visible_alias = "delay", short = 'w', value_name = "SECS",
          allow_negative_numbers = true,
          help_heading = POLICY)]
    pub grace: Option<u64>,

    /// Give up on a program after K restarts within --restart-window (one ERROR line,
    /// one mail); restarts resume once the window has room again.
    #[arg(long, value_name = "K", allow_negative_numbers = true,
          help_heading = POLICY)]
    pub max_restarts: Option<u32>,

    /// The window of --max-restarts, in seconds.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true,
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
    /// HTTPOK_CHECK, HTTPOK_URL, HTTPOK_REASON and HTTPOK_OUTCOME in its environment.
    #[arg(long, value_name = "CMD", help_heading = POLICY)]
    pub on_restart: Option<String>,

    /// Command run when a check or program changes state (failing, recovered,
    /// restarted, start-failed, gave-up), no shell, with HTTPOK_CHECK, HTTPOK_URL,
    /// HTTPOK_PROGRAM, HTTPOK_STATE, HTTPOK_PREVIOUS and HTTPOK_REASON in its environment: a chat
    /// webhook gets the recovery too.
    #[arg(long, value_name = "CMD", help_heading = POLICY)]
    pub on_change: Option<String>,

    /// Keep failure counts, restart history, give-ups and any restart in flight in this
    /// file (written atomically when they change, read at start), so a restart of httpok
    /// continues where it was, and a program it had stopped for a restart is started if
    /// nobody ran it since. Put it in a directory only httpok's user can write (e.g.
    /// /var/lib/httpok): a file others could have written is not read.
    #[arg(long, value_name = "PATH", help_heading = POLICY)]
    pub state_file: Option<std::path::PathBuf>,

    /// Never restart this process (namespec); repeatable. This listener is always excluded.
    #[arg(long, value_name = "NAME", help_heading = POLICY)]
    pub exclude: Vec<String>,

    /// Serve what httpok sees on ADDR: GET /metrics for Prometheus and GET /status as
    /// JSON. ADDR is 127.0.0.1:9117, [::1]:9117 or unix:/run/httpok.sock. Off by default.
    /// The metrics: per target, blackbox_exporter's probe_success, probe_duration_seconds,
    /// probe_http_status_code, probe_http_content_length, probe_http_version,
    /// probe_http_ssl, probe_failed_due_to_regex, probe_ssl_earliest_cert_expiry,
    /// probe_tls_version_info and probe_dns_lookup_time_seconds, meaning what they mean
    /// there; and httpok's own httpok_check_consecutive_failures, httpok_restarts_total,
    /// httpok_given_up, httpok_program_state, httpok_rounds_total,
    /// httpok_round_duration_seconds, httpok_last_round_timestamp_seconds,
    /// httpok_supervisord_up and httpok_build_info. No other.
    #[arg(long, value_name = "ADDR", help_heading = OBSERVABILITY)]
    pub metrics_listen: Option<String>,

    /// Print the checks of the httpok serving --metrics-listen at URL as a table, e.g.
    /// httpok --status http://127.0.0.1:9117 (or unix:/run/httpok.sock), and exit 0 when
    /// every check is healthy, 1 otherwise, 2 when it cannot be reached. Needs no
    /// supervisord and no URL to probe.
    #[arg(long = "status", value_name = "URL", help_heading = OBSERVABILITY)]
    pub status: Option<String>,

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

/// What a command line asks httpok to do.
#[derive(Debug)]
pub enum Request {
    /// Run: as a listener, or once with --once.
    Run {
        config: Box<Config>,
        /// --metrics-listen (never with --once).
        metrics_listen: Option<ListenAddr>,
    },
    /// --status URL: print a running httpok's status and exit.
    Status(StatusUrl),
    /// --check-config: print the effective checks and exit.
    CheckConfig(Box<Config>),
    /// --help or --version: print clap's text on stdout (`clap::Error::print`), exit 0.
    Print(clap::Error),
}

/// Reads a whole command line (program name first) into what to do, or the first thing
/// wrong with it.
pub fn parse_command_line<I, T>(argv: I) -> Result<Request, UsageError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let argv = getopt::normalize(argv.into_iter().map(Into::into).collect())?;
    let args = match Args::try_parse_from(&argv) {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => return Ok(Request::Print(e)),
        Err(e) => return Err(error::from_clap(&e, gives_a_command(&argv))),
    };
    if let Some(url) = args.status_request()? {
        return Ok(Request::Status(url));
    }
    if args.check_config {
        return Ok(Request::CheckConfig(Box::new(args.into_config()?)));
    }
    let metrics_listen = args.metrics_listen()?;
    Ok(Request::Run {
        config: Box::new(args.into_config()?),
        metrics_listen,
    })
}

/// Whether -s or -g is on the (normalized) command line.
fn gives_a_command(argv: &[OsString]) -> bool {
    argv.iter().any(|arg| {
        arg.to_str()
            .is_some_and(|a| a.starts_with("--sendmail_program=") || a.starts_with("--gcore="))
    })
}

#[cfg(test)]
mod tests;
