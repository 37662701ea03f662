//! External commands: mail through `-s`, core dumps through `-g`, and the `--on-restart`
//! hook. Every command is an argv run directly (never a shell), bounded by a timeout,
//! and its failure is logged, never fatal. Running one (process group, pipes,
//! deadline) and the environment it gets are [`crate::child`]'s; what it prints,
//! escaped into one log entry, is `output`'s; what its ending means is here.

use std::ffi::OsString;
use std::time::Duration;

use super::output::{self, MAX_SHOWN_CHARS, one_line};
use crate::child;

/// How long any external command may run before it is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A finished (or killed) command.
#[derive(Debug)]
pub struct CommandResult {
    pub success: bool,
    /// What it printed, as it printed it: never logged as it is.
    pub output: String,
    /// One line for the log: the command, how it ended and its output, escaped
    /// (`output.rs`).
    pub summary: String,
}

/// Runs `argv` with `input` on stdin and `env` added to httpok's environment (less
/// supervisord's credentials), killing it and everything it started after `timeout`.
pub fn run_command(
    argv: &[String],
    input: Option<&[u8]>,
    env: &[(&str, String)],
    timeout: Duration,
) -> CommandResult {
    run_command_with_base_env(argv, input, env, timeout, std::env::vars_os())
}

/// [`run_command`] with `base_env` in place of httpok's own environment.
pub fn run_command_with_base_env(
    argv: &[String],
    input: Option<&[u8]>,
    env: &[(&str, String)],
    timeout: Duration,
    base_env: impl IntoIterator<Item = (OsString, OsString)>,
) -> CommandResult {
    let Some(program) = argv.first() else {
        return failed("empty command".into());
    };
    let env = child::environment(base_env, env);
    match child::run(argv, input, &env, timeout) {
        Ok(finished) => describe(program, finished, timeout),
        Err(summary) => failed(summary),
    }
}

fn describe(program: &str, finished: child::Finished, timeout: Duration) -> CommandResult {
    let child::Finished {
        ending,
        output,
        left_processes,
    } = finished;
    if left_processes {
        log::warn!(
            "{program} exited, but processes it started still held its output after {}s: \
             killed them",
            timeout.as_secs()
        );
    }
    let printed = output::suffix(&output);
    let (success, how) = match ending {
        child::Ending::Exited(s) if s.success() => (true, "succeeded".to_string()),
        child::Ending::Exited(s) => (false, format!("failed ({s})")),
        child::Ending::TimedOut => (
            false,
            format!(
                "did not finish within {}s and was killed",
                timeout.as_secs()
            ),
        ),
        child::Ending::Lost(e) => (false, format!("ran, but its exit status was lost: {e}")),
    };
    CommandResult {
        success,
        summary: format!("{program} {how}{printed}"),
        output,
    }
}

fn failed(summary: String) -> CommandResult {
    CommandResult {
        success: false,
        output: String::new(),
        summary,
    }
}

/// The mail superlance sends: `To:`, `Subject:`, blank line, the log lines. A line break
/// in `to` or `subject` (from `-m` or `-n`) is escaped: it would start a new header.
pub fn format_mail(to: &str, subject: &str, body: &str) -> String {
    format!(
        "To: {}\nSubject: {}\n\n{body}",
        one_line(to, MAX_SHOWN_CHARS),
        one_line(subject, MAX_SHOWN_CHARS)
    )
}

/// The log entry for a mail sent, on one line under one timestamp: the body is the
/// round's log lines, already in the log.
fn mailed_notice(to: &str, subject: &str) -> String {
    one_line(&format!("Mailed {to}: {subject}"), MAX_SHOWN_CHARS)
}

/// `httpok: ...` or `httpok [NAME]: ...`.
pub fn subject(name: Option<&str>, text: &str) -> String {
    match name {
        Some(name) => format!("httpok [{name}]: {text}"),
        None => format!("httpok: {text}"),
    }
}

/// Sends a mail through the sendmail argv; logs the outcome.
pub fn send_mail(sendmail: &[String], to: &str, subject: &str, body: &str) {
    let mail = format_mail(to, subject, body);
    let result = run_command(sendmail, Some(mail.as_bytes()), &[], COMMAND_TIMEOUT);
    if result.success {
        log::info!("{}", mailed_notice(to, subject));
    } else {
        log::error!(
            "could not send mail to {to}: {} (check the -s/--sendmail_program command, \
             default /usr/sbin/sendmail -t -i from an MTA package)",
            result.summary
        );
    }
}

/// Dumps a core of `pid` with the gcore argv into `coredir/namespec`; returns its
/// output, escaped onto one line (it is logged and mailed).
pub fn dump_core(gcore: &[String], coredir: &std::path::Path, namespec: &str, pid: u32) -> String {
    let mut argv = gcore.to_vec();
    // A namespec cannot contain '/' in supervisord, but never trust it to stay in coredir.
    let file = namespec.replace(['/', '\0'], "_");
    argv.push(coredir.join(file).to_string_lossy().into_owned());
    argv.push(pid.to_string());
    let result = run_command(&argv, None, &[], COMMAND_TIMEOUT);
    if result.success {
        one_line(&result.output, MAX_SHOWN_CHARS)
    } else {
        result.summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn subjects_match_superlance() {
        assert_eq!(
            subject(None, "http://h/: bad status returned"),
            "httpok: http://h/: bad status returned"
        );
        assert_eq!(subject(Some("front"), "x"), "httpok [front]: x");
        assert_eq!(
            format_mail("a@b", "s", "line"),
            "To: a@b\nSubject: s\n\nline"
        );
    }

    #[test]
    fn commands_get_stdin_and_env_without_a_shell() {
        let r = run_command(
            &argv(&["cat"]),
            Some(b"hello; $(id)"),
            &[],
            Duration::from_secs(10),
        );
        assert!(r.success);
        assert_eq!(r.output, "hello; $(id)");
        let r = run_command(
            &argv(&["printenv", "HTTPOK_PROGRAM"]),
            None,
            &[("HTTPOK_PROGRAM", "web;x".into())],
            Duration::from_secs(10),
        );
        assert_eq!(r.output.trim(), "web;x");
    }

    #[test]
    fn a_hanging_command_is_killed_at_the_timeout() {
        // It would succeed after 30 s: being killed is what ended it.
        let r = run_command(
            &argv(&["sleep", "30"]),
            None,
            &[],
            Duration::from_millis(300),
        );
        assert!(!r.success);
        assert!(r.summary.contains("killed"));
    }

    /// The first line of `output` as a pid (the commands below `echo $!` first).
    fn first_pid(output: &str) -> u32 {
        output
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("no pid in {output:?}"))
    }

    /// Waits (up to 5 s) for `pid` to be gone or a zombie, which is dead too, waiting for
    /// its new parent to reap it.
    #[track_caller]
    fn assert_dies(pid: u32) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
            // The state is the field after the command name, which ends at the last ')'.
            let state = state.as_deref().and_then(|stat| {
                let (_, rest) = stat.rsplit_once(')')?;
                rest.trim_start().chars().next()
            });
            if matches!(state, None | Some('Z' | 'X')) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "pid {pid} still alive: {state:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_command_is_killed_at_the_timeout_with_the_children_it_started() {
        let r = run_command(
            &argv(&["sh", "-c", "sleep 30 & echo $!; sleep 30"]),
            None,
            &[],
            Duration::from_secs(1),
        );
        assert!(!r.success && r.summary.contains("killed"), "{r:?}");
        // What it wrote before the timeout is kept.
        assert_dies(first_pid(&r.output));
    }

    #[test]
    fn a_child_left_holding_the_output_after_its_parent_exits_is_killed_at_the_timeout() {
        let r = run_command(
            &argv(&["sh", "-c", "sleep 30 & echo $!"]),
            None,
            &[],
            Duration::from_secs(1),
        );
        // The command itself succeeded; only what it left behind was killed (it would
        // have held the output for 30 s).
        assert!(r.success, "{r:?}");
        assert_dies(first_pid(&r.output));
    }

    #[test]
    fn supervisord_credentials_never_reach_a_command() {
        let base = [
            ("PATH", std::env::var_os("PATH").unwrap_or_default()),
            ("SUPERVISOR_USERNAME", "alice".into()),
            ("SUPERVISOR_PASSWORD", "SupPw1".into()),
            (
                "SUPERVISOR_SERVER_URL",
                "http://alice:SupPw1@127.0.0.1:9001/RPC2".into(),
            ),
            ("SUPERVISOR_PROCESS_NAME", "httpok".into()),
        ]
        .map(|(k, v)| (OsString::from(k), v));
        let r = run_command_with_base_env(
            &argv(&["env"]),
            None,
            &[("HTTPOK_PROGRAM", "web".into())],
            Duration::from_secs(10),
            base,
        );
        assert!(r.success, "{r:?}");
        let env: Vec<&str> = r.output.lines().collect();
        for kept in [
            "SUPERVISOR_SERVER_URL=http://***@127.0.0.1:9001/RPC2",
            "SUPERVISOR_PROCESS_NAME=httpok",
            "HTTPOK_PROGRAM=web",
        ] {
            assert!(env.contains(&kept), "{kept} missing: {env:?}");
        }
        assert!(!r.output.contains("SupPw1"), "{env:?}");
        assert!(!r.output.contains("SUPERVISOR_USERNAME"), "{env:?}");
        assert!(!r.output.contains("SUPERVISOR_PASSWORD"), "{env:?}");

        // Nor when a caller adds them itself.
        let r = run_command(
            &argv(&["env"]),
            None,
            &[
                ("SUPERVISOR_USERNAME", "alice".into()),
                ("SUPERVISOR_PASSWORD", "SupPw1".into()),
            ],
            Duration::from_secs(10),
        );
        assert!(r.success && !r.output.contains("SUPERVISOR_"), "{r:?}");
    }

    #[test]
    fn the_mail_notice_is_one_line_with_the_recipient_and_subject() {
        let subject = subject(Some("front"), "http://h/: bad status returned");
        assert_eq!(
            mailed_notice("ops@example.com", &subject),
            "Mailed ops@example.com: httpok [front]: http://h/: bad status returned"
        );
        assert_eq!(mailed_notice("a@b", "x\ny\r"), "Mailed a@b: x\\ny");
        assert_eq!(
            format_mail("a@b\nBcc: c@d", "s\nX: y", "body\nlines"),
            "To: a@b\\nBcc: c@d\nSubject: s\\nX: y\n\nbody\nlines"
        );
    }

    #[test]
    fn a_command_s_output_is_logged_on_one_line_that_names_it() {
        let forge = "printf 'x\\n2026-12-07T00:00:00Z INFO web recovered\\n\\033[2J'; exit 1";
        let r = run_command(
            &argv(&["sh", "-c", forge]),
            None,
            &[],
            Duration::from_secs(10),
        );
        assert_eq!(
            r.summary,
            "sh failed (exit status: 1); its output: \
             x\\n2026-12-07T00:00:00Z INFO web recovered\\n\\u{1b}[2J"
        );
        let r = run_command(&argv(&["echo", "fine"]), None, &[], Duration::from_secs(10));
        assert_eq!(r.summary, "echo succeeded; its output: fine");
    }

    #[test]
    fn a_missing_or_failing_command_is_reported() {
        assert!(
            !run_command(
                &argv(&["/nonexistent/sendmail"]),
                None,
                &[],
                Duration::from_secs(5)
            )
            .success
        );
        let r = run_command(&argv(&["false"]), None, &[], Duration::from_secs(5));
        assert!(!r.success && r.summary.contains("failed"));
        let r = run_command(&[], None, &[], Duration::from_secs(5));
        assert!(!r.success && r.summary.contains("empty"));
    }
}
