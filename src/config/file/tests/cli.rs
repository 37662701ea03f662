//! `--config` through the whole command line: a check's keys over the flags, over the
//! file's top level, over the defaults; the settings' errors naming the file's lines;
//! `--check-config` over the issue's example and the shipped one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ISSUE_EXAMPLE;
use crate::cli::check_config::describe;
use crate::cli::{Request, parse_command_line};
use crate::config::Config;
use crate::config::target::Kind;
use crate::planner::selection::Selection;
use crate::test_rig::TempDir;

/// `text` as `httpok.toml` in a directory of its own (removed when the first is dropped).
fn write(name: &str, text: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(&format!("config-{name}"));
    let path = dir.join("httpok.toml");
    std::fs::write(&path, text).expect("write the config file");
    (dir, path)
}

/// `httpok --server-url ... --config FILE FLAGS...`, as main() reads it.
fn run(file: &Path, flags: &[&str]) -> Result<Config, String> {
    let file = file.to_str().expect("a UTF-8 temp path");
    let mut argv = vec![
        "httpok",
        "--server-url",
        "unix:///tmp/s.sock",
        "--config",
        file,
    ];
    argv.extend_from_slice(flags);
    match parse_command_line(argv) {
        Ok(Request::Run { config, .. }) | Ok(Request::CheckConfig(config)) => Ok(*config),
        Ok(other) => Err(format!("not a config: {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

const TWO_CHECKS: &str = "\
timeout = 5
failures = 3

[[check]]
program = 'web'
url = 'http://127.0.0.1:8080/'
timeout = 1

[[check]]
program = 'api'
url = 'http://127.0.0.1:9000/'
";

#[test]
fn a_checks_key_beats_a_flag_which_beats_the_top_level_which_beats_the_default() {
    let (_dir, file) = write("precedence", TWO_CHECKS);
    let timeouts = |config: &Config| -> Vec<Duration> {
        config.checks.iter().map(|c| c.probe.timeout).collect()
    };
    let config = run(&file, &[]).expect("valid");
    assert_eq!(
        timeouts(&config),
        [Duration::from_secs(1), Duration::from_secs(5)]
    );
    assert_eq!(config.checks[1].policy.failures, 3);
    assert_eq!(config.checks[1].policy.successes, 1, "the default");
    assert!(matches!(&config.checks[0].selection, Selection::Programs(p) if p == &["web"]));

    let config = run(&file, &["-t", "2", "-f", "4"]).expect("valid");
    assert_eq!(
        timeouts(&config),
        [Duration::from_secs(1), Duration::from_secs(2)]
    );
    assert_eq!(config.checks[0].policy.failures, 4);
    assert_eq!(config.checks[1].policy.failures, 4);
}

#[test]
fn a_value_the_settings_refuse_is_named_by_the_files_line() {
    let (_dir, file) = write("value-error", &format!("{TWO_CHECKS}timeout = -1\n"));
    let e = run(&file, &["-t", "2"]).expect_err("a negative timeout");
    let want = format!("{}:12: timeout must be", file.display());
    assert!(e.starts_with(&want), "{e}\nwant {want}");

    let (_dir, file) = write("wrong-kind", &format!("{TWO_CHECKS}send = 'PING'\n"));
    let e = run(&file, &[]).expect_err("send in an http check");
    let want = format!("{}:12: send applies to tcp:// checks only", file.display());
    assert!(e.starts_with(&want), "{e}\nwant {want}");

    let (_dir, file) = write(
        "env-kind",
        &format!("{TWO_CHECKS}env = {{ TOKEN = 'x' }}\n"),
    );
    let e = run(&file, &[]).expect_err("env in an http check");
    let want = format!("{}:12: env applies to exec checks only", file.display());
    assert!(e.starts_with(&want), "{e}\nwant {want}");

    // It used to pass silently: `insecure` was missing from the http-only keys.
    let (_dir, file) = write(
        "insecure-kind",
        "[[check]]\nprogram = 'redis'\nurl = 'tcp://127.0.0.1:6379'\ninsecure = true\n",
    );
    let e = run(&file, &[]).expect_err("insecure in a tcp check");
    let want = format!(
        "{}:4: insecure applies to http(s) checks only, and this check's target is \
         tcp://127.0.0.1:6379",
        file.display()
    );
    assert!(e.starts_with(&want), "{e}\nwant {want}");

    let (_dir, file) = write(
        "top-level-error",
        "failures = 0\n[[check]]\nurl = 'http://h/'\n",
    );
    let e = run(&file, &[]).expect_err("failures 0");
    let want = format!("{}:1: failures must be at least 1", file.display());
    assert!(e.starts_with(&want), "{e}\nwant {want}");
}

#[test]
fn a_file_mixes_with_check_flags_and_urls() {
    let (_dir, file) = write("mixed", TWO_CHECKS);
    let config = run(
        &file,
        &[
            "-p",
            "front",
            "http://127.0.0.1/",
            "--check",
            "db=tcp://127.0.0.1:5432",
        ],
    )
    .expect("valid");
    let targets: Vec<String> = config
        .checks
        .iter()
        .map(|c| c.targets[0].to_string())
        .collect();
    assert_eq!(
        targets,
        [
            "http://127.0.0.1/",
            "tcp://127.0.0.1:5432",
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:9000/"
        ]
    );
    assert_eq!(
        config.checks[0].probe.timeout,
        Duration::from_secs(5),
        "the file's default"
    );
}

#[test]
fn check_config_accepts_the_issues_example() {
    let (_dir, file) = write("issue-example", ISSUE_EXAMPLE);
    let argv = [
        "httpok",
        "--check-config",
        "--config",
        file.to_str().unwrap(),
    ];
    let Ok(Request::CheckConfig(config)) = parse_command_line(argv) else {
        panic!("--check-config: {:?}", parse_command_line(argv));
    };
    let lines: Vec<String> = config.checks.iter().map(describe).collect();
    assert_eq!(
        lines,
        [
            "programs web; http://127.0.0.1:8080/health; timeout=5 codes=2xx body=\"OK\" \
             header=\"Host: app.example\" failures=3",
            "programs redis; tcp://127.0.0.1:6379; timeout=5 send=\"PING\\r\\n\" \
             expect=\"^\\\\+PONG\" failures=3",
            "programs db; exec:/usr/bin/pg_isready -q; timeout=5 failures=3 interval=30",
        ]
    );
}

#[test]
fn the_shipped_example_passes_check_config() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config-file.toml");
    let argv = [
        "httpok",
        "--check-config",
        "--config",
        file.to_str().unwrap(),
    ];
    let config = match parse_command_line(argv) {
        Ok(Request::CheckConfig(config)) => config,
        other => panic!("{}: {other:?}", file.display()),
    };
    let kinds: Vec<(Option<&str>, Kind)> = config
        .checks
        .iter()
        .map(|c| (c.name.as_deref(), c.targets[0].kind()))
        .collect();
    assert_eq!(
        kinds,
        [
            (Some("web"), Kind::Http),
            (Some("api"), Kind::Http),
            (Some("redis"), Kind::Tcp),
            (Some("db"), Kind::Exec)
        ]
    );
    let api = &config.checks[1];
    let not = api.probe.body_not_regex.as_ref().map(|re| re.as_str());
    assert_eq!(not, Some("maintenance mode|Traceback"));
    assert_eq!(
        config.checks[3].policy.interval,
        Some(Duration::from_secs(30))
    );
}
