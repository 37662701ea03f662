//! An `exec:` probe: a command run directly (no shell) in its own process group, with
//! httpok's environment less supervisord's credentials, plus the check's own `env`;
//! healthy when it exits 0 within the check's timeout. At the timeout the whole group
//! is killed ([`crate::child`]).

use std::fmt;
use std::path::Path;

use super::{CheckProber, Failure};
use crate::child::{self, Ending};
use crate::config::target::argv_secrets;
use crate::notify::one_line;

/// How much of the command's output a failure reason quotes: its last line, this long.
const LAST_LINE_CHARS: usize = 200;

impl CheckProber {
    /// `Ok(0)` (there is no status) when `argv` exits 0 before the timeout.
    pub(super) fn probe_exec(&self, argv: &[String]) -> Result<u16, Failure> {
        let env = &self.settings.env;
        let finished = child::run_probe_command(argv, env.pairs(), self.settings.timeout)
            .map_err(Failure::Unrunnable)?;
        match finished.ending {
            Ending::Exited(status) if status.success() => Ok(0),
            Ending::Exited(status) => {
                // Its output may quote a secret its arguments hide (`--password X`) or
                // one its `env` gave it.
                let mut output = finished.output;
                let secrets = argv_secrets(argv).into_iter();
                for secret in secrets.chain(env.values().map(str::to_string)) {
                    if !secret.is_empty() {
                        output = output.replace(&secret, "***");
                    }
                }
                Err(Failure::Exit {
                    status: describe_status(status),
                    last_line: last_line(&output),
                })
            }
            Ending::TimedOut => Err(Failure::Timeout(self.settings.timeout)),
            Ending::Lost(e) => Err(Failure::Connect(format!("its exit status was lost: {e}"))),
        }
    }
}

/// Variables an exec check's command gets on top of httpok's environment (`env` in a
/// config file): for secrets a command would otherwise take as arguments, where logs,
/// metrics and `ps` show them. Their values are never shown, not even by `{:?}`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CommandEnv(Vec<(String, String)>);

/// What an `env` variable name must not be: supervisord's credentials never reach a
/// command (`child::env::WITHHELD_ENV`).
const NOT_SETTABLE: [&str; 2] = ["SUPERVISOR_USERNAME", "SUPERVISOR_PASSWORD"];

impl CommandEnv {
    /// Checks the names (a letter or `_`, then letters, digits and `_`) and values (no
    /// NUL); the problem otherwise, without the value.
    pub fn new(pairs: Vec<(String, String)>) -> Result<CommandEnv, String> {
        for (name, value) in &pairs {
            let mut chars = name.chars();
            let first_ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "has a bad variable name {name:?}: letters, digits and '_', not \
                     starting with a digit, e.g. PGPASSWORD"
                ));
            }
            if NOT_SETTABLE.contains(&name.as_str()) {
                return Err(format!(
                    "cannot set {name}: supervisord's credentials never reach a command \
                     httpok runs"
                ));
            }
            if value.contains('\0') {
                return Err(format!("{name} has a NUL character in its value"));
            }
        }
        Ok(CommandEnv(pairs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The variables' names, in the file's order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(name, _)| name.as_str())
    }

    fn values(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(_, value)| value.as_str())
    }

    /// Name and value of each, for the command's environment only.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

impl fmt::Debug for CommandEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.names().map(|name| (name, "***")))
            .finish()
    }
}

/// Whether an exec check's program can be run: a path to an executable file, or a
/// name found in PATH. Checked at start, so that a typo is an error then, not a check
/// that never runs.
pub fn check_runnable(argv: &[String]) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let Some(program) = argv.first() else {
        return Err("has no command".into());
    };
    let runnable = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = Path::new(program);
        return match std::fs::metadata(path) {
            Err(e) => Err(format!("cannot run {program}: {e}")),
            Ok(_) if !runnable(path) => Err(format!(
                "cannot run {program}: it is not an executable file"
            )),
            Ok(_) => Ok(()),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| runnable(&dir.join(program))) {
        return Ok(());
    }
    Err(format!(
        "cannot run {program}: no such command in PATH; give its full path, e.g. /usr/bin/{program}"
    ))
}

/// `exit status 1` or `killed by signal 9`.
fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// The last non-empty line of the output, shortened, control characters escaped (it
/// goes into a log line: [`one_line`]).
fn last_line(output: &str) -> String {
    let line = output
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    one_line(line, LAST_LINE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::super::testing::settings;
    use super::*;
    use crate::config::target::Target;
    use std::time::Duration;

    fn probe(command: &str, timeout_ms: u64) -> Result<u16, Failure> {
        let target = Target::parse(&format!("exec:{command}")).expect("exec target");
        let prober = CheckProber::new(settings(timeout_ms), &[&target]).expect("prober");
        prober.probe(&target).result
    }

    #[test]
    fn exit_0_is_healthy_and_a_failure_gives_its_status_and_last_line() {
        assert_eq!(probe("/bin/true", 5000), Ok(0));
        assert_eq!(
            probe(
                "/bin/sh -c echo${IFS}first;echo${IFS}no-server;exit${IFS}3",
                5000
            ),
            Err(Failure::Exit {
                status: "exit status 3".into(),
                last_line: "no-server".into()
            })
        );
        let missing = probe("/nonexistent/httpok-check", 5000);
        assert!(
            matches!(missing, Err(Failure::Unrunnable(ref m)) if m.contains("cannot run")),
            "{missing:?}"
        );
    }

    #[test]
    fn a_command_that_hangs_is_killed_at_the_timeout() {
        // It would exit 0 after 30 s: a timeout is what ended it.
        assert_eq!(
            probe("/bin/sleep 30", 500),
            Err(Failure::Timeout(Duration::from_millis(500)))
        );
    }

    #[test]
    fn a_command_that_cannot_run_is_refused_at_start_and_not_counted_later() {
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(check_runnable(&argv(&["/bin/true"])), Ok(()));
        assert_eq!(check_runnable(&argv(&["true", "-x"])), Ok(()));
        let e = check_runnable(&argv(&["/usr/bin/pg_isredy"])).expect_err("typo");
        assert!(
            e.starts_with("cannot run /usr/bin/pg_isredy: No such file"),
            "{e}"
        );
        let e = check_runnable(&argv(&["/etc/passwd"])).expect_err("not executable");
        assert!(e.ends_with("not an executable file"), "{e}");
        let e = check_runnable(&argv(&["pg_isredy"])).expect_err("not in PATH");
        assert!(e.contains("no such command in PATH"), "{e}");
        // Removed after start: a fault of the check, not a failure of its program.
        assert!(matches!(
            probe("/nonexistent/httpok-check", 5000),
            Err(Failure::Unrunnable(_))
        ));
    }

    #[test]
    fn a_secret_in_the_arguments_is_hidden_in_the_output_too() {
        let failure = probe(
            "/bin/sh -c echo${IFS}login${IFS}failed:${IFS}$1${IFS}$2;exit${IFS}1 sh --password hunter2",
            5000,
        );
        let text = failure.expect_err("fails").to_string();
        assert_eq!(text, "exit status 1: login failed: --password ***");
    }

    #[test]
    fn env_reaches_the_command_and_its_values_are_never_shown() {
        let env = CommandEnv::new(vec![("CHECK_TOKEN".into(), "s3cr3t-xyz".into())])
            .expect("a good name");
        assert_eq!(format!("{env:?}"), r#"{"CHECK_TOKEN": "***"}"#);
        let mut with_env = settings(5000);
        with_env.env = env;
        let target =
            Target::parse("exec:/bin/sh -c test${IFS}\"$CHECK_TOKEN\"${IFS}=${IFS}s3cr3t-xyz")
                .expect("exec target");
        let prober = CheckProber::new(with_env.clone(), &[&target]).expect("prober");
        assert_eq!(prober.probe(&target).result, Ok(0));
        // A command that prints it: not in the failure reason.
        let target = Target::parse("exec:/bin/sh -c echo${IFS}token=$CHECK_TOKEN;exit${IFS}1")
            .expect("exec target");
        let prober = CheckProber::new(with_env, &[&target]).expect("prober");
        let reason = prober.probe(&target).result.expect_err("fails").to_string();
        assert_eq!(reason, "exit status 1: token=***");
    }

    #[test]
    fn env_names_are_checked_and_credentials_refused() {
        let one = |name: &str, value: &str| CommandEnv::new(vec![(name.into(), value.into())]);
        assert!(one("PGPASSWORD", "x").is_ok());
        assert!(one("_X1", "").is_ok());
        for bad in ["1X", "A-B", "", "A=B"] {
            let e = one(bad, "secret").expect_err(bad);
            assert!(
                e.contains("bad variable name") && !e.contains("secret"),
                "{e}"
            );
        }
        let e = one("SUPERVISOR_PASSWORD", "x").expect_err("withheld");
        assert!(e.contains("never reach a command"), "{e}");
        let e = one("X", "a\0b").expect_err("NUL");
        assert!(e.contains("NUL") && !e.contains("a\0b"), "{e}");
    }

    #[test]
    fn the_last_line_is_shortened_and_its_control_characters_escaped() {
        assert_eq!(last_line("a\nb\x07c\x1b[2J\n\n"), "b\\u{7}c\\u{1b}[2J");
        assert_eq!(
            last_line(&"x".repeat(300)),
            format!("{}... (100 more characters)", "x".repeat(LAST_LINE_CHARS))
        );
        assert_eq!(last_line(""), "");
    }

    /// Set in the copy of the test binary that
    /// `a_check_command_never_sees_supervisord_s_credentials` starts.
    const RERUN: &str = "HTTPOK_TEST_CREDENTIALS_RERUN";

    #[test]
    fn a_check_command_never_sees_supervisord_s_credentials() {
        let name = "a_check_command_never_sees_supervisord_s_credentials";
        if std::env::var_os(RERUN).is_none() {
            // Setting variables here would race with the other tests' threads (and is
            // unsafe): this test runs again in a process of its own whose environment,
            // httpok's there, has the credentials.
            let (_, module) = module_path!().split_once("::").expect("crate::module");
            let rerun = std::process::Command::new(std::env::current_exe().expect("test binary"))
                .args(["--exact", &format!("{module}::{name}"), "--test-threads=1"])
                .env(RERUN, "1")
                .env("SUPERVISOR_USERNAME", "alice")
                .env("SUPERVISOR_PASSWORD", "SupPw1")
                .output()
                .expect("rerun the test binary");
            let report = String::from_utf8_lossy(&rerun.stdout);
            assert!(
                rerun.status.success() && report.contains("1 passed"),
                "{report}{}",
                String::from_utf8_lossy(&rerun.stderr)
            );
            return;
        }
        assert_eq!(
            std::env::var("SUPERVISOR_PASSWORD").as_deref(),
            Ok("SupPw1")
        );
        // Healthy only if the command's environment has neither; a failure quotes the
        // first variable that got through.
        let argv = [
            "/bin/sh",
            "-c",
            "env | grep -E '^SUPERVISOR_(USERNAME|PASSWORD)='; test $? = 1",
        ];
        let target = Target::Exec {
            argv: argv.map(String::from).to_vec(),
        };
        let prober = CheckProber::new(settings(10_000), &[&target]).expect("prober");
        assert_eq!(prober.probe(&target).result, Ok(0));
    }
}
