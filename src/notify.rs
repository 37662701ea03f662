//! External commands: mail through `-s`, core dumps through `-g`, and the `--on-restart`
//! hook. Every command is an argv run directly (never a shell), bounded by a timeout,
//! and its failure is logged, never fatal.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long any external command may run before it is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Most output kept from a command (gcore's output goes into the mail).
const MAX_OUTPUT: u64 = 64 * 1024;

/// A finished (or killed) command.
#[derive(Debug)]
pub struct CommandResult {
    pub success: bool,
    pub output: String,
    pub summary: String,
}

/// Runs `argv` with `input` on stdin and `env` added, killing it after `timeout`.
pub fn run_command(
    argv: &[String],
    input: Option<&[u8]>,
    env: &[(&str, String)],
    timeout: Duration,
) -> CommandResult {
    let Some((program, args)) = argv.split_first() else {
        return failed("empty command".into());
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return failed(format!("cannot run {program}: {e}")),
    };
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        let data = data.to_vec();
        // A writer thread, so a command that never reads cannot block us past the timeout.
        thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let output = collect_output(&mut child);
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let output = output.join().unwrap_or_default();
    match status {
        Some(s) if s.success() => CommandResult {
            success: true,
            output,
            summary: format!("{program} succeeded"),
        },
        Some(s) => CommandResult {
            success: false,
            summary: format!("{program} failed ({s}): {}", output.trim()),
            output,
        },
        None => CommandResult {
            success: false,
            summary: format!(
                "{program} did not finish within {}s and was killed",
                timeout.as_secs()
            ),
            output,
        },
    }
}

fn failed(summary: String) -> CommandResult {
    CommandResult {
        success: false,
        output: String::new(),
        summary,
    }
}

/// Reads stdout then stderr on a thread, capped.
fn collect_output(child: &mut Child) -> thread::JoinHandle<String> {
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(out) = stdout {
            let _ = out.take(MAX_OUTPUT).read_to_end(&mut text);
        }
        if let Some(err) = stderr {
            let _ = err.take(MAX_OUTPUT).read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// The mail superlance sends: `To:`, `Subject:`, blank line, the log lines.
pub fn format_mail(to: &str, subject: &str, body: &str) -> String {
    format!("To: {to}\nSubject: {subject}\n\n{body}")
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
        log::info!("Mailed:\n\n{mail}");
    } else {
        log::error!(
            "could not send mail to {to}: {} (check the -s/--sendmail_program command, \
             default /usr/sbin/sendmail -t -i from an MTA package)",
            result.summary
        );
    }
}

/// Dumps a core of `pid` with the gcore argv into `coredir/namespec`; returns its output.
pub fn dump_core(gcore: &[String], coredir: &std::path::Path, namespec: &str, pid: u32) -> String {
    let mut argv = gcore.to_vec();
    // A namespec cannot contain '/' in supervisord, but never trust it to stay in coredir.
    let file = namespec.replace(['/', '\0'], "_");
    argv.push(coredir.join(file).to_string_lossy().into_owned());
    argv.push(pid.to_string());
    let result = run_command(&argv, None, &[], COMMAND_TIMEOUT);
    if result.success {
        result.output
    } else {
        result.summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let started = Instant::now();
        let r = run_command(
            &argv(&["sleep", "30"]),
            None,
            &[],
            Duration::from_millis(300),
        );
        assert!(!r.success);
        assert!(r.summary.contains("killed"));
        assert!(started.elapsed() < Duration::from_secs(10));
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
    }
}
