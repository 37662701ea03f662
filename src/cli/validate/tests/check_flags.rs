//! The flags of per-check settings on the command line: status ranges, body regexes,
//! tcp send/expect, exec checks, successes, interval, --check-config.

use super::*;
use crate::config::target::Target;
use crate::probe::StatusCodes;

fn config(args: &[&str]) -> Config {
    parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[test]
fn codes_take_statuses_classes_and_ranges() {
    let c = config(&["-c", "2xx", "-c", "301-302", "-c", "418", "http://h/"]);
    let codes = &c.checks[0].probe.codes;
    assert_eq!(
        *codes,
        StatusCodes::parse(&["2xx", "301-302", "418"]).expect("codes")
    );
    assert!(codes.contains(204) && codes.contains(302) && !codes.contains(303));
    let e = parse(&["-c", "7xx", "http://h/"]).expect_err("7xx");
    assert!(
        e.starts_with("-c/--code \"7xx\" is not an HTTP status"),
        "{e}"
    );
}

#[test]
fn body_regexes_are_checked_at_start() {
    let c = config(&[
        "--body-regex",
        "^ok",
        "--body-not-regex",
        "Traceback",
        "http://h/",
    ]);
    let probe = &c.checks[0].probe;
    assert_eq!(probe.body_regex.as_ref().map(|p| p.as_str()), Some("^ok"));
    assert_eq!(
        probe.body_not_regex.as_ref().map(|p| p.as_str()),
        Some("Traceback")
    );
    let e = parse(&["--body-not-regex", "(unclosed", "http://h/"]).expect_err("bad regex");
    assert!(
        e.starts_with("--body-not-regex \"(unclosed\" is not a valid regular"),
        "{e}"
    );
    let e = parse(&["--method", "HEAD", "--body-regex", "x", "http://h/"]).expect_err("HEAD");
    assert!(
        e.contains("--body-regex cannot pass with --method HEAD"),
        "{e}"
    );
}

#[test]
fn send_and_expect_are_for_tcp_checks() {
    let c = config(&[
        "--send",
        "PING\\r\\n",
        "--expect",
        "^\\+PONG",
        "tcp://127.0.0.1:6379",
    ]);
    assert_eq!(c.checks[0].probe.send.as_deref(), Some(&b"PING\r\n"[..]));
    assert_eq!(
        c.checks[0].probe.expect.as_ref().map(|p| p.as_str()),
        Some("^\\+PONG")
    );
    // superlance read --send as --sendmail_program: with no tcp check it is refused.
    let e = parse(&["--send", "/usr/sbin/sendmail -t", "http://h/"]).expect_err("no tcp");
    assert!(e.contains("--sendmail_program"), "{e}");
    let e = parse(&["--expect", "x", "http://h/"]).expect_err("no tcp");
    assert!(e.starts_with("--expect is for tcp:// checks"), "{e}");
    let e = parse(&["--send", "x\\q", "tcp://h:1"]).expect_err("escape");
    assert!(e.starts_with("--send has an unknown escape"), "{e}");
}

#[test]
fn a_flag_for_a_kind_of_check_there_is_none_of_is_a_warning() {
    // --insecure with only tcp:// checks changes nothing: said at start (it used to pass
    // without a word). Not refused: superlance command lines carry -c and -b whatever
    // the URL.
    let c = config(&["--insecure", "-c", "2xx", "tcp://127.0.0.1:6379"]);
    assert_eq!(
        c.warnings,
        [
            "-c/--code is for http(s) checks and there is none: it changes nothing",
            "--insecure is for http(s) checks and there is none: it changes nothing",
        ]
    );
    let c = config(&["-b", "OK", "--check", "db=exec:/bin/true"]);
    assert_eq!(
        c.warnings,
        ["-b/--body is for http(s) checks and there is none: it changes nothing"]
    );
    // Among checks of several kinds it applies to those of its own, and says nothing.
    let c = config(&["--insecure", "tcp://127.0.0.1:6379", "https://h/"]);
    assert!(c.checks[0].probe.insecure);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn exec_checks_stand_where_a_url_does() {
    let c = config(&[
        "--check",
        "db=exec:/usr/bin/pg_isready -q",
        "-p",
        "web",
        "exec:/bin/true",
    ]);
    let argv = |i: usize| match &c.checks[i].targets[0] {
        Target::Exec { argv } => argv.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(argv(0), ["/bin/true"]);
    assert_eq!(argv(1), ["/usr/bin/pg_isready", "-q"]);
    assert!(parse(&["--check", "db=exec:"]).is_err());
}

#[test]
fn successes_interval_and_stop_grace_are_at_least_one() {
    let c = config(&[
        "--successes",
        "3",
        "--interval",
        "1",
        "--stop-grace",
        "2",
        "http://h/",
    ]);
    assert_eq!(c.checks[0].policy.successes, 3);
    assert_eq!(c.checks[0].policy.interval, Some(Duration::from_secs(1)));
    assert_eq!(c.checks[0].policy.stop_grace, Some(Duration::from_secs(2)));
    assert_eq!(config(&["http://h/"]).checks[0].policy.stop_grace, None);
    for (flag, needle) in [
        ("--successes", "--successes must be at least 1"),
        ("--interval", "--interval must be at least 1"),
        ("--stop-grace", "--stop-grace must be at least 1"),
    ] {
        let e = parse(&[flag, "0", "http://h/"]).expect_err(flag);
        assert!(e.starts_with(needle), "{e}");
    }
}

#[test]
fn cert_expiry_warn_defaults_to_14_days_and_0_turns_it_off() {
    assert_eq!(
        config(&["https://h/"]).cert_expiry_warn,
        Some(Duration::from_secs(14 * 86_400))
    );
    assert_eq!(
        config(&["--cert-expiry-warn", "0", "https://h/"]).cert_expiry_warn,
        None
    );
}

#[test]
fn an_exec_command_that_cannot_run_here_is_a_warning_at_start() {
    let c = config(&["--check", "db=exec:/usr/bin/pg_isredy -q", "exec:/bin/true"]);
    assert_eq!(
        c.warnings,
        [
            "exec:/usr/bin/pg_isredy -q: cannot run /usr/bin/pg_isredy: No such file or \
          directory (os error 2); this check restarts nothing until its command runs"
        ]
    );
}
