//! The help teaches and the errors say what to do: `httpok --help` shows the flag groups
//! and the examples, and every refused command line names the flag at fault, exits 2
//! and leaves stdout (the listener protocol) empty.

use std::process::{Command, Output};

fn httpok(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_httpok"))
        .args(args)
        .env(
            "SUPERVISOR_SERVER_URL",
            "unix:///nonexistent/httpok-test.sock",
        )
        .env_remove("SUPERVISOR_USERNAME")
        .env_remove("SUPERVISOR_PASSWORD")
        .env_remove("RUST_LOG")
        .output()
        .expect("run httpok")
}

#[test]
fn help_groups_the_flags_and_shows_examples() {
    let out = httpok(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for heading in [
        "Superlance-compatible:",
        "Checks:",
        "Restart policy:",
        "Connection to supervisord:",
        "Examples:",
    ] {
        assert!(help.contains(heading), "no {heading:?} in:\n{help}");
    }
    // A supervisord.conf example and a shell example with --once.
    assert!(help.contains("[eventlistener:httpok]"), "{help}");
    assert!(help.contains("command=/usr/bin/httpok -p web"), "{help}");
    assert!(help.contains("httpok --once --check"), "{help}");
    // The superlance flags sit under their heading, the new ones under theirs.
    let at = |needle: &str| {
        help.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing"))
    };
    assert!(at("Superlance-compatible:") < at("--sendmail_program"));
    assert!(at("--not-eager") < at("Checks:"));
    assert!(at("Checks:") < at("--once") && at("--once") < at("Restart policy:"));
    assert!(at("Restart policy:") < at("--max-restarts"));
    assert!(at("Connection to supervisord:") < at("--server-url"));
}

#[test]
fn short_help_fits_the_same_groups() {
    let out = httpok(&["-h"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Restart policy:"));
}

#[test]
fn every_refused_command_line_names_its_flag_and_exits_2() {
    let url = "http://127.0.0.1:8080/";
    let cases: &[(&[&str], &str)] = &[
        (&["-t", "0", url], "-t/--timeout"),
        (&["-t", "abc", url], "--timeout"),
        (&["-c", "99", url], "-c/--code"),
        (&["-c", "abc", url], "--code"),
        (&["-f", "0", url], "-f/--failures"),
        (&["-f", "many", url], "--failures"),
        (
            &["--max-restarts", "0", "--restart-window", "60", url],
            "--max-restarts",
        ),
        (
            &["--max-restarts", "1", "--restart-window", "0", url],
            "--restart-window",
        ),
        (&["--max-restarts", "2", url], "--restart-window"),
        (&["--restart-window", "60", url], "--max-restarts"),
        (&["--grace", "soon", url], "--grace"),
        (&["--check", "web"], "--check"),
        (&["--check", "=http://h/"], "--check"),
        (&["--check", "web=ftp://h/"], "--check"),
        (&["-H", "no colon", url], "-H"),
        (&["-s", " ", url], "-s/--sendmail_program"),
        (&["-g", " ", url], "-g/--gcore"),
        (&["--on-restart", " ", url], "--on-restart"),
        (&["--method", "POST", url], "--method"),
        (&["--no-such-flag", url], "--no-such-flag"),
        (&["-p"], "--program"),
        (&[], "--check"),
        (&["ftp://h/"], "URL"),
        (&["localhost:8080"], "URL"),
        (&["http://h:99999/"], "port"),
        (&["tcp://h"], "tcp://HOST:PORT"),
    ];
    for (args, flag) in cases {
        let out = httpok(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} wrote to stdout");
        assert!(
            err.contains(flag),
            "{args:?}: {err:?} does not name {flag:?}"
        );
    }
}

#[test]
fn usage_errors_point_to_help() {
    for args in [&["-t", "0", "http://h/"][..], &["-t", "abc", "http://h/"]] {
        let err = String::from_utf8_lossy(&httpok(args).stderr).into_owned();
        assert!(err.contains("--help"), "{args:?}: {err}");
    }
}

#[test]
fn outside_supervisord_it_says_how_to_run_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_httpok"))
        .arg("http://127.0.0.1:8080/")
        .env_remove("SUPERVISOR_SERVER_URL")
        .output()
        .expect("run httpok");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for hint in ["[eventlistener:httpok]", "--server-url", "--once"] {
        assert!(err.contains(hint), "{err:?} lacks {hint:?}");
    }
}

#[test]
fn a_bad_server_url_names_where_it_came_from() {
    let out = Command::new(env!("CARGO_BIN_EXE_httpok"))
        .args([
            "--server-url",
            "ftp://example.test",
            "http://127.0.0.1:8080/",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run httpok");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--server-url") && err.contains("SUPERVISOR_SERVER_URL"),
        "{err}"
    );
    assert!(err.contains("unix://"), "{err}");
}

#[test]
fn an_unreadable_cacert_names_the_flag() {
    let out = httpok(&["--once", "--cacert", "/nonexistent/ca.pem", "https://h/"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--cacert"), "{err}");
}
