//! The whole command line, as main() reads it: superlance's forms mean what they meant
//! there, and every step refuses with one line.

use super::*;
use crate::planner::selection::Selection;
use crate::probe::StatusCodes;
use clap::CommandFactory;
use std::time::Duration;

/// The whole path a real command line takes: getopt pre-pass, clap, validation.
fn parse(args: &[&str]) -> Result<Config, String> {
    let argv = ["httpok", "--server-url", "unix:///tmp/s.sock"];
    match parse_command_line(argv.iter().chain(args)) {
        Ok(Request::Run { config, .. }) | Ok(Request::CheckConfig(config)) => Ok(*config),
        Ok(Request::Status(url)) => Err(format!("status of {url}")),
        Ok(Request::Print(text)) => Err(format!("printed: {text}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Two command lines that must mean the same thing.
#[track_caller]
fn same(a: &[&str], b: &[&str]) {
    let (a_config, b_config) = (parse(a), parse(b));
    assert_eq!(
        format!("{a_config:?}"),
        format!("{b_config:?}"),
        "{a:?} vs {b:?}"
    );
    assert!(a_config.is_ok(), "{a:?}: {a_config:?}");
}

#[test]
fn the_clap_definition_is_consistent() {
    Args::command().debug_assert();
}

#[test]
fn superlance_defaults_hold() {
    let c = parse(&["http://127.0.0.1/"]).expect("valid");
    assert_eq!(c.checks[0].probe.timeout, Duration::from_secs(10));
    assert_eq!(c.checks[0].probe.codes, StatusCodes::default());
    assert_eq!(c.sendmail, vec!["/usr/sbin/sendmail", "-t", "-i"]);
    assert_eq!(c.gcore, vec!["/usr/bin/gcore", "-o"]);
    assert!(c.eager);
    assert_eq!(c.checks[0].probe.body, None);
    assert_eq!(c.coredir, None);
    assert_eq!(c.checks[0].policy.failures, 1);
    assert!(matches!(c.checks[0].selection, Selection::Programs(ref p) if p.is_empty()));
}

#[test]
fn every_superlance_flag_parses_in_short_and_long_form() {
    let short = [
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
    ];
    let long = [
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
    ];
    same(&short, &long);
    let c = parse(&short).expect("valid");
    assert!(matches!(&c.checks[0].selection, Selection::Programs(p) if p == &["web", "grp:api"]));
    assert_eq!(c.checks[0].probe.timeout, Duration::from_secs(5));
    assert_eq!(
        c.checks[0].probe.codes,
        StatusCodes::parse(&["200", "302"]).expect("codes")
    );
    assert_eq!(c.checks[0].probe.body.as_deref(), Some("OK"));
    assert_eq!(c.email.as_deref(), Some("ops@example.test"));
    assert_eq!(c.sendmail, vec!["/bin/mail", "-t"]);
    assert_eq!(c.gcore, vec!["/bin/gcore", "-o"]);
    assert_eq!(c.coredir, Some(PathBuf::from("/tmp/cores")));
    assert!(!c.eager);
    assert_eq!(c.name.as_deref(), Some("front"));
}

#[test]
fn superlance_command_lines_in_getopt_forms_mean_what_they_meant_there() {
    let url = "http://h/";
    same(
        &["--prog=web", "--time=5", url],
        &["-p", "web", "-t", "5", url],
    );
    same(
        &["--prog", "web", "--cod=302", "--b=OK", url],
        &["-p", "web", "-c", "302", "-b", "OK", url],
    );
    same(
        &["--sendmail=/bin/mail -t", "--em", "a@b", url],
        &["-s", "/bin/mail -t", "-m", "a@b", url],
    );
    same(
        &["-pweb", "-t5", "-c302", url],
        &["-p", "web", "-t", "5", "-c", "302", url],
    );
    same(&["-aEt3", url], &["-a", "-E", "-t", "3", url]);
    same(&["-t", "5", "-t", "3", url], &["-t", "3", url]);
    same(&["-n", "a", "--name=b", url], &["-n", "b", url]);
    same(&["-p", "a", "--prog=b", url], &["-p", "a", "-p", "b", url]);
    same(&["-p", "web", "--", url], &["-p", "web", url]);
    // A value is taken whatever it looks like, as getopt takes it.
    assert_eq!(
        parse(&["-b", "-OK-", url]).expect("valid").checks[0]
            .probe
            .body
            .as_deref(),
        Some("-OK-")
    );
    // After --, a flag is a positional argument, so here a bad URL.
    let err = parse(&["-p", "web", "--", "-t"]).expect_err("refused");
    assert!(err.contains("bad URL"), "{err}");
}

#[test]
fn the_last_of_eager_and_not_eager_wins() {
    assert!(parse(&["-E", "-e", "http://h/"]).expect("valid").eager);
    assert!(!parse(&["-e", "-E", "http://h/"]).expect("valid").eager);
    assert!(!parse(&["-a", "-E", "http://h/"]).expect("valid").eager);
    assert!(parse(&["-Ee", "http://h/"]).expect("valid").eager);
    assert!(!parse(&["--ea", "--not", "http://h/"]).expect("valid").eager);
}

#[test]
fn any_selects_every_process() {
    let c = parse(&["-a", "-p", "ignored", "http://h/"]).expect("valid");
    assert!(matches!(c.checks[0].selection, Selection::Any));
}

#[test]
fn httpok_flags_are_not_abbreviated_nor_given_twice() {
    for args in [
        &["--gra", "3", "http://h/"][..],
        &["--grace", "1", "--grace", "2", "http://h/"],
    ] {
        let err = parse(args).expect_err(&format!("{args:?} should fail"));
        assert!(err.contains("--gra"), "{args:?}: {err}");
    }
}

#[test]
fn help_and_version_are_printed_in_any_spelling() {
    for args in [&["-h"][..], &["--help"], &["--he"], &["-V"], &["--version"]] {
        let err = parse(args).expect_err("not a config");
        assert!(err.starts_with("printed: "), "{args:?}: {err}");
    }
}

#[test]
fn each_step_refuses_with_a_one_line_usage_error() {
    let cases: &[(&[&str], &str)] = &[
        (&["--co=200", "http://h/"], "--co is ambiguous"),
        (
            &["--no-such-flag", "http://h/"],
            "unknown flag --no-such-flag",
        ),
        (&["-t", "0", "http://h/"], "-t/--timeout must be"),
    ];
    for (args, needle) in cases {
        let err = parse(args).expect_err(&format!("{args:?} should fail"));
        assert!(
            err.contains(needle) && !err.contains('\n'),
            "{args:?}: {err:?}"
        );
        assert!(err.ends_with("(see httpok --help)"), "{err}");
    }
}

/// The request a command line makes, without the --server-url `parse` adds.
fn request(args: &[&str]) -> Result<Request, String> {
    parse_command_line(["httpok"].iter().chain(args)).map_err(|e| e.to_string())
}

#[test]
fn status_alone_needs_no_supervisord_and_no_url() {
    match request(&["--status", "http://127.0.0.1:9117"]) {
        Ok(Request::Status(url)) => assert_eq!(url.to_string(), "http://127.0.0.1:9117"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        request(&["--status=unix:/run/httpok.sock"]),
        Ok(Request::Status(_))
    ));
}

#[test]
fn status_refuses_what_would_start_a_listener_and_addresses_it_cannot_reach() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--status", "127.0.0.1:9117", "http://h/"],
            "takes no URL to probe",
        ),
        (
            &["--status", "127.0.0.1:9117", "--check", "w=http://h/"],
            "takes no --check",
        ),
        (&["--status", "127.0.0.1:9117", "--once"], "takes no --once"),
        (
            &[
                "--status",
                "127.0.0.1:9117",
                "--metrics-listen",
                "127.0.0.1:9118",
            ],
            "takes no --metrics-listen",
        ),
        (
            &["--status", "https://127.0.0.1:9117"],
            "--status \"https://127.0.0.1:9117\"",
        ),
        (
            &["--status", "example.test:9117"],
            "e.g. http://127.0.0.1:9117",
        ),
    ];
    for (args, want) in cases {
        let err = request(args).expect_err("refused");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn metrics_listen_is_off_by_default_and_takes_an_ip_port_or_a_socket() {
    let listen = |args: &[&str]| {
        let mut argv = vec!["--server-url", "unix:///tmp/s.sock", "http://h/"];
        argv.extend_from_slice(args);
        match request(&argv) {
            Ok(Request::Run { metrics_listen, .. }) => Ok(metrics_listen.map(|a| a.to_string())),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        }
    };
    assert_eq!(listen(&[]), Ok(None));
    for addr in ["127.0.0.1:9117", "[::1]:9117", "unix:/run/httpok.sock"] {
        assert_eq!(
            listen(&["--metrics-listen", addr]),
            Ok(Some(addr.to_string()))
        );
    }
    let cases: &[(&[&str], &str)] = &[
        (
            &["--metrics-listen", "localhost:9117"],
            "--metrics-listen \"localhost:9117\"",
        ),
        (&["--metrics-listen", "9117"], "e.g. 127.0.0.1:9117"),
        (
            &["--metrics-listen", "unix:httpok.sock"],
            "not an absolute socket path",
        ),
        (&["--metrics-listen", "127.0.0.1:0"], "a port other than 0"),
        (
            &["--metrics-listen", "127.0.0.1:9117", "--once"],
            "drop one of them",
        ),
    ];
    for (args, want) in cases {
        let err = listen(args).expect_err("refused");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(err.ends_with("(see httpok --help)"), "{err}");
    }
}

#[test]
fn check_config_needs_no_supervisord_and_prints_every_check() {
    let args = [
        "--check-config",
        "-c",
        "2xx",
        "--check",
        "db=exec:/bin/true",
        "-p",
        "web",
        "http://h/",
    ];
    let Ok(Request::CheckConfig(config)) = request(&args) else {
        panic!("{:?}", request(&args));
    };
    let mut out = Vec::new();
    crate::cli::check_config::print(&config, &mut out).expect("print");
    assert_eq!(
        String::from_utf8_lossy(&out),
        "programs web; http://h/; codes=2xx\nprograms db; exec:/bin/true; defaults\n"
    );
    let e = request(&["--check-config", "-t", "0", "http://h/"]).expect_err("bad -t");
    assert!(e.contains("-t/--timeout must be"), "{e}");
}

#[test]
fn send_written_in_full_is_httpoks_and_a_prefix_of_sendmail_program_is_superlances() {
    same(
        &["--sendm", "/bin/mail", "http://h/"],
        &["-s", "/bin/mail", "http://h/"],
    );
    let c = parse(&["--send", "PING", "tcp://h:1"]).expect("valid");
    assert_eq!(c.checks[0].probe.send.as_deref(), Some(&b"PING"[..]));
    assert_eq!(c.sendmail, vec!["/usr/sbin/sendmail", "-t", "-i"]);
}
