//! Usage errors: whatever refuses a command line (the getopt pre-pass, clap or the
//! checks across flags), the operator gets one line that names the flag and says what
//! to do, logged as `<time> ERROR ...` with exit status 2. clap's multi-line error block
//! (message, tip, usage, "For more information") is turned into that one line here.

use std::error::Error as _;
use std::fmt;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::notify::{MAX_SHOWN_CHARS, one_line};

/// A command line that cannot be run as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    /// Not started by supervisord and no --server-url.
    NotAListener,
    /// A flag or value that is refused; the message names it and what to write.
    Invalid(String),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::NotAListener => write!(
                f,
                "httpok must be run as a supervisor event listener: SUPERVISOR_SERVER_URL is not \
                 set. Add it to supervisord.conf as an [eventlistener:httpok] section \
                 (supervisord sets the variable when it has a [unix_http_server] or \
                 [inet_http_server] section), pass --server-url, or try the checks from a \
                 shell with --once"
            ),
            // Values are quoted with their escapes ({:?}); one that was not (a path's
            // display, say) may hold a line break, and the log line must not.
            UsageError::Invalid(msg) if msg.contains(char::is_control) => {
                write!(f, "{} (see httpok --help)", one_line(msg, MAX_SHOWN_CHARS))
            }
            UsageError::Invalid(msg) => write!(f, "{msg} (see httpok --help)"),
        }
    }
}

impl std::error::Error for UsageError {}

/// What httpok says for a clap error. `commands_given`: -s or -g is on the command line,
/// so a stray flag may have come from an unquoted command (`-s /usr/sbin/sendmail -t -i`).
pub fn from_clap(err: &clap::Error, commands_given: bool) -> UsageError {
    let string = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let arg = string(ContextKind::InvalidArg).map(flag_names);
    let value = string(ContextKind::InvalidValue);
    let quoting_hint = if commands_given {
        "; if it belongs to the -s or -g command, quote the whole command, e.g. \
         -s '/usr/sbin/sendmail -t -i'"
    } else {
        ""
    };
    let message = match (err.kind(), arg, value) {
        (ErrorKind::UnknownArgument, Some(arg), _) => {
            let hint = match string(ContextKind::SuggestedArg) {
                Some(similar) => format!("; did you mean {}?", flag_names(similar)),
                None if arg.starts_with('-') && !arg.starts_with("--") => quoting_hint.into(),
                None => String::new(),
            };
            format!("unknown flag {arg}{hint}")
        }
        (ErrorKind::InvalidValue, Some(arg), Some("")) => format!("{arg} needs a value"),
        (ErrorKind::InvalidValue, Some(arg), Some(value)) => {
            let valid = match err.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(valid)) => format!(": use {}", valid.join(" or ")),
                _ => String::new(),
            };
            format!("{arg} does not take {value:?}{valid}")
        }
        (ErrorKind::ValueValidation, Some(arg), Some(value)) => {
            let why = err.source().map(|e| format!(" ({e})")).unwrap_or_default();
            let hint = if value.starts_with('-') {
                quoting_hint
            } else {
                ""
            };
            format!("{arg} does not take {value:?}{why}{hint}")
        }
        (ErrorKind::ArgumentConflict, Some(arg), _) => match string(ContextKind::PriorArg) {
            Some(prior) if flag_names(prior) == arg => {
                format!("{arg} was given more than once: give it once")
            }
            Some(prior) => format!("{arg} cannot be used with {}", flag_names(prior)),
            None => format!("{arg} cannot be used with the flags before it"),
        },
        (ErrorKind::InvalidUtf8, _, _) => {
            "an argument is not valid UTF-8: write names and URLs in UTF-8".into()
        }
        _ => first_line_of(err),
    };
    UsageError::Invalid(message)
}

/// clap names a flag as `--timeout <SECS>`; httpok as `-t/--timeout`, the way its own
/// messages do, since superlance users often wrote the short form.
fn flag_names(clap_name: &str) -> String {
    let word = clap_name.split_whitespace().next().unwrap_or(clap_name);
    let Some(long) = word.strip_prefix("--") else {
        return word.to_string();
    };
    let command = <super::Args as clap::CommandFactory>::command();
    let short = command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_short());
    match short {
        Some(short) => format!("-{short}/--{long}"),
        None => word.to_string(),
    }
}

/// clap's own first line, for the kinds httpok's command line does not produce.
fn first_line_of(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let first = rendered.lines().next().unwrap_or("invalid command line");
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Args;
    use clap::Parser;

    fn clap_error(args: &[&str]) -> String {
        let argv = ["httpok"].iter().chain(args);
        let err = Args::try_parse_from(argv).expect_err("clap refuses it");
        from_clap(
            &err,
            args.contains(&"--sendmail_program=/usr/sbin/sendmail"),
        )
        .to_string()
    }

    #[test]
    fn clap_errors_become_one_line_naming_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--foo"], "unknown flag --foo (see httpok --help)"),
            (
                &["--programm", "x"],
                "unknown flag --programm; did you mean -p/--program?",
            ),
            (
                &["--grace", "1", "--grace", "2"],
                "--grace was given more than once: give it once",
            ),
            (&["--grace"], "--grace needs a value"),
            (
                &["--method", "POST"],
                "--method does not take \"POST\": use GET or HEAD",
            ),
            (
                &["--timeout", "abc"],
                "-t/--timeout does not take \"abc\" (invalid float literal) (see httpok --help)",
            ),
            (&["-f", "many"], "-f/--failures does not take \"many\""),
        ];
        for (args, want) in cases {
            let line = clap_error(args);
            assert!(line.contains(want), "{args:?}: {line:?} lacks {want:?}");
            assert!(!line.contains('\n') && !line.contains("Usage"), "{line:?}");
        }
    }

    #[test]
    fn a_flag_that_came_from_an_unquoted_command_says_to_quote_it() {
        let unquoted = ["--sendmail_program=/usr/sbin/sendmail", "--timeout=-i"];
        assert!(clap_error(&unquoted).contains("quote the whole command"));
        let unknown = ["--sendmail_program=/usr/sbin/sendmail", "-i"];
        assert!(clap_error(&unknown).contains("unknown flag -i; if it belongs to the -s"));
        // Without -s or -g, no such guess.
        assert!(!clap_error(&["--timeout=-i"]).contains("quote"));
    }

    #[test]
    fn messages_are_one_line_whatever_values_they_quote() {
        let err = UsageError::Invalid("bad URL: a\nb\r\n  c".into());
        assert_eq!(
            err.to_string(),
            "bad URL: a\\nb\\r\\n  c (see httpok --help)"
        );
        // Without a control character a message is as it was written.
        let err = UsageError::Invalid("--send \"x\\\\q\" has an unknown escape".into());
        assert_eq!(
            err.to_string(),
            "--send \"x\\\\q\" has an unknown escape (see httpok --help)"
        );
    }
}
