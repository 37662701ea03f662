//! The help teaches and the errors say what to do: `httpok --help` shows the flag groups
//! and the examples, and every refused command line names the flag at fault, exits 2
//! and leaves stdout (the listener protocol) empty.

mod common;

use std::process::Output;

use common::httpok_cmd;

fn httpok(args: &[&str]) -> Output {
    httpok_cmd()
        .args(args)
        .env(
            "SUPERVISOR_SERVER_URL",
            "unix:///nonexistent/httpok-test.sock",
        )
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
fn help_lists_exec_checks_and_exactly_the_metrics_served() {
    let out = httpok(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("or exec:COMMAND ARGS"), "{help}");
    // The list itself is checked against what /metrics renders by a unit test
    // (metrics::render); here, that --help shows it, new names included.
    for name in [
        "probe_success",
        "probe_http_content_length",
        "probe_http_version",
        "probe_http_ssl",
        "probe_failed_due_to_regex",
        "probe_tls_version_info",
        "probe_dns_lookup_time_seconds",
        "httpok_build_info",
    ] {
        assert!(help.contains(name), "no {name} in:\n{help}");
    }
    assert!(
        !help.contains("the rest of blackbox_exporter's names"),
        "{help}"
    );
}

#[test]
fn an_unknown_scheme_names_exec_too() {
    let out = httpok(&["ftp://h/"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("use http, https, tcp, http+unix, or exec:COMMAND"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
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
        (&["tcp://h"], "tcp://h needs a port"),
        (&["--co=200", url], "--code or --coredir"),
        (&["-b", "OK", "--method", "HEAD", url], "--method HEAD"),
        (&["-p", "web", "--check", "api=http://h/"], "-p/--program"),
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
    let out = httpok_cmd()
        .arg("http://127.0.0.1:8080/")
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
    let out = httpok(&[
        "--server-url",
        "ftp://example.test",
        "http://127.0.0.1:8080/",
    ]);
    assert_eq!(out.status.code(), Some(2));
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
    // As a listener, not only with --once: the file is read before anything starts.
    let out = httpok(&["--cacert", "/nonexistent/ca.pem", "https://h/"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--cacert /nonexistent/ca.pem"), "{err}");
}

/// `2026-12-02T00:52:41Z ERROR ...`: the log line format of every usage error.
fn is_error_line(line: &str) -> bool {
    let Some((time, rest)) = line.split_once(' ') else {
        return false;
    };
    let shape = time.len() == 20 && time.as_bytes()[10] == b'T' && time.ends_with('Z');
    shape && time.starts_with(|c: char| c.is_ascii_digit()) && rest.starts_with("ERROR ")
}

#[test]
fn every_usage_error_is_one_error_line_exit_2_and_nothing_started() {
    let url = "http://127.0.0.1:8080/";
    let cases: &[(&str, &[&str])] = &[
        ("clap: unknown flag", &["--no-such-flag", url]),
        (
            "clap: flag given twice",
            &["--grace", "1", "--grace", "2", url],
        ),
        ("clap: missing value", &[url, "--grace"]),
        ("clap: bad -t", &["-t", "abc", url]),
        ("getopt: missing value", &[url, "-p"]),
        ("getopt: ambiguous prefix", &["--co=200", url]),
        ("validation: bad -t", &["-t", "0", url]),
        (
            "validation: --max-restarts alone",
            &["--max-restarts", "3", url],
        ),
        (
            "validation: -b with HEAD",
            &["-b", "OK", "--method", "HEAD", url],
        ),
        (
            "validation: -p without a URL",
            &["-p", "web", "--check", "api=http://h/"],
        ),
        (
            "unquoted -s: -t takes -i",
            &["-s", "/usr/sbin/sendmail", "-t", "-i", "-p", "web", url],
        ),
        (
            "unquoted -s: a stray positional",
            &["-s", "/usr/bin/mail", "ops", "-p", "web", url],
        ),
        ("bad --server-url", &["--server-url", "tcp://h:1", url]),
        (
            "unreadable --cacert",
            &["--cacert", "/nonexistent/ca.pem", url],
        ),
    ];
    for (source, args) in cases {
        let out = httpok(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{source}: {err}");
        assert!(out.stdout.is_empty(), "{source}: wrote to stdout");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{source}: not one line:\n{err}");
        assert!(is_error_line(lines[0]), "{source}: {:?}", lines[0]);
        assert!(!err.contains("started"), "{source}: {err}");
        assert!(err.contains("(see httpok --help)"), "{source}: {err}");
    }
}

#[test]
fn an_unquoted_sendmail_command_is_explained() {
    let out = httpok(&["-s", "/usr/sbin/sendmail", "-t", "-i", "http://h/"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("-t/--timeout") && err.contains("\"-i\""),
        "{err}"
    );
    assert!(err.contains("quote the whole command"), "{err}");
}

#[test]
fn help_and_version_go_to_stdout_and_exit_0_in_any_spelling() {
    for args in [&["--help"][..], &["--he"], &["-h"], &["-V"], &["--version"]] {
        let out = httpok(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("httpok"),
            "{args:?}"
        );
    }
}

#[test]
fn a_superlance_command_line_in_getopt_forms_runs() {
    // A port that accepts: --once is healthy at once, exit 0.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("tcp://{}", listener.local_addr().expect("addr"));
    let out = httpok(&[
        "--once",
        "--prog=web",
        "--time=5",
        "-t2",
        "-aE",
        "-c200",
        &url,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("healthy "),
        "{err}"
    );
}
