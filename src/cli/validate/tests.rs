//! The validation rules, one table or case per rule; clap is used only to build [`Args`].

use super::*;
use crate::planner::CheckPolicy;
use crate::test_rig::TempDir;
use clap::Parser;
use std::path::{Path, PathBuf};

fn parse(args: &[&str]) -> Result<Config, String> {
    let mut argv = vec!["httpok", "--server-url", "unix:///tmp/s.sock"];
    argv.extend_from_slice(args);
    Args::try_parse_from(argv)
        .map_err(|e| e.to_string())?
        .into_config()
        .map_err(|e| e.to_string())
}

/// A self-signed CA certificate (public test data, no key).
const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBiDCCAS+gAwIBAgIULG611FxPFjIw+mF6gpQE0pNeLOswCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOaHR0cG9rIHRlc3QgQ0EwIBcNMjYxMjAyMDA1MDA0WhgPMjEy
NjExMDgwMDUwMDRaMBkxFzAVBgNVBAMMDmh0dHBvayB0ZXN0IENBMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAE4DoMGTjGkgbYbCiFBe0kh+tgL/Qj109N71IEwJSy
3mFV9USMKY8KPdjl83FUtWRwHXHrkboYdsiwDPAhuFDPLqNTMFEwHQYDVR0OBBYE
FNHy5pjTO2YxNo3J7ONLyZE5V9cdMB8GA1UdIwQYMBaAFNHy5pjTO2YxNo3J7ONL
yZE5V9cdMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgEjf2LLmk
loM11gmAwempfTI+CN33zx2pAs2xr1ZJ8cECIHAXG9aho6v4mJJuECtOt+SGiYz7
V7Z3us+JAlyJf5XA
-----END CERTIFICATE-----
";

/// `dir/name` holding `content`.
fn write_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write a test file");
    path
}

/// [`CA_PEM`] in `dir`: its path.
fn write_ca(dir: &Path) -> String {
    write_file(dir, "ca.pem", CA_PEM).display().to_string()
}

#[test]
fn bad_arguments_are_refused_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["-t", "0", "http://h/"], "timeout"),
        (&["-t", "abc", "http://h/"], "timeout"),
        (&["-c", "99", "http://h/"], "HTTP status"),
        (&["-c", "abc", "http://h/"], "code"),
        (&["not-a-url"], "bad URL"),
        (&["ftp://h/"], "unsupported scheme"),
        (&[], "no URL"),
        (&["--check", "nourl"], "NAMESPEC=URL"),
        (&["-f", "0", "http://h/"], "failures"),
        (&["-f", "-1", "http://h/"], "--failures"),
        (&["-t", "-5", "http://h/"], "timeout"),
        (&["--grace", "-3", "http://h/"], "--grace"),
        (
            &["--max-restarts", "2", "http://h/"],
            "needs --restart-window",
        ),
        (
            &["--restart-window", "60", "http://h/"],
            "needs --max-restarts",
        ),
        (&["-H", "no colon", "http://h/"], "Name: value"),
        (&["-s", "  ", "-m", "x@y", "http://h/"], "empty"),
        (&["--method", "POST", "http://h/"], "POST"),
        (
            &["--parallel-restarts", "0", "http://h/"],
            "--parallel-restarts",
        ),
    ];
    for (args, needle) in cases {
        let err = parse(args).expect_err(&format!("{args:?} should fail"));
        assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    }
}

#[test]
fn a_body_text_with_head_can_never_pass_and_is_refused() {
    let err = parse(&["--method", "HEAD", "-b", "OK", "http://h/"]).expect_err("refused");
    assert!(err.contains("-b/--body") && err.contains("HEAD"), "{err}");
    assert!(parse(&["--method", "HEAD", "http://h/"]).is_ok());
}

#[test]
fn a_selection_without_a_url_of_its_own_is_refused() {
    for (flag, args) in [
        (
            "-p/--program",
            &["-p", "web", "--check", "api=http://h/"][..],
        ),
        ("-a/--any", &["-a", "--check", "api=http://h/"]),
    ] {
        let err = parse(args).expect_err(&format!("{args:?} should fail"));
        assert!(
            err.contains(flag) && err.contains("--check web=URL"),
            "{err}"
        );
    }
    assert!(parse(&["--check", "api=http://h/"]).is_ok());
}

#[test]
fn a_stray_word_among_urls_suggests_quoting_a_command() {
    let err = parse(&["-s", "/usr/bin/mail", "ops", "http://h/"]).expect_err("refused");
    assert!(
        err.contains("ops is not a URL") && err.contains("quote"),
        "{err}"
    );
    let alone = parse(&["ops"]).expect_err("refused");
    assert!(!alone.contains("quote"), "{alone}");
}

#[test]
fn a_bad_server_url_is_a_usage_error_naming_both_sources() {
    for url in ["ftp://h/", "unix://relative.sock", "http://h:port/"] {
        let args = Args::try_parse_from(["httpok", "--server-url", url, "http://h/"]);
        let err = args
            .expect("parses")
            .into_config()
            .expect_err(url)
            .to_string();
        assert!(
            err.contains("SUPERVISOR_SERVER_URL / --server-url"),
            "{url}: {err}"
        );
    }
    assert!(parse(&["http://h/"]).is_ok());
}

#[test]
fn the_cacert_file_must_be_readable_and_hold_a_certificate() {
    let dir = TempDir::new("cacert");
    let good = write_file(&dir, "good.pem", CA_PEM);
    let empty = write_file(&dir, "empty.pem", "no PEM here\n");
    let broken = write_file(&dir, "broken.pem", "-----BEGIN CERTIFICATE-----\n!!!\n");
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let cases = [
        (path(Path::new("/nonexistent/ca.pem")), "cannot read it"),
        (path(&dir), "cannot read it"),
        (path(&empty), "holds no certificate"),
        (path(&broken), "--cacert"),
    ];
    for (file, needle) in &cases {
        let err = parse(&["--cacert", file, "https://h/"]).expect_err(file);
        assert!(err.contains("--cacert") && err.contains(needle), "{err}");
    }
    let c = parse(&["--cacert", &path(&good), "https://h/"]).expect("valid");
    assert_eq!(c.checks[0].probe.cacert, Some(good));
}

#[test]
fn without_a_server_url_it_says_it_must_run_under_supervisord() {
    let args = Args::try_parse_from(["httpok", "http://h/"]).expect("parses");
    let args = Args {
        server_url: None,
        ..args
    };
    assert_eq!(args.into_config().err(), Some(UsageError::NotAListener));
}

#[test]
fn once_needs_no_server() {
    let args = Args::try_parse_from(["httpok", "--once", "http://h/"]).expect("parses");
    let args = Args {
        server_url: None,
        ..args
    };
    assert!(args.into_config().expect("valid").server.is_none());
}

#[test]
fn checks_bind_urls_to_programs_split_at_the_first_equals() {
    let c = parse(&[
        "--check",
        "web=http://h/?a=b",
        "--check",
        "api:*=tcp://h:1",
        "-p",
        "x",
        "http://o/",
    ])
    .expect("valid");
    assert_eq!(c.checks.len(), 3);
    assert!(matches!(&c.checks[0].selection, Selection::Programs(p) if p == &["x"]));
    assert!(matches!(&c.checks[1].selection, Selection::Programs(p) if p == &["web"]));
    assert_eq!(c.checks[1].targets[0].to_string(), "http://h/?a=b");
    assert!(matches!(&c.checks[2].selection, Selection::Programs(p) if p == &["api:*"]));
}

#[test]
fn positional_urls_form_one_check_for_the_selection() {
    let c = parse(&["-p", "web", "http://a/", "tcp://b:1"]).expect("valid");
    assert_eq!(c.checks.len(), 1);
    assert_eq!(c.checks[0].targets.len(), 2);
}

#[test]
fn policy_flags_parse() {
    let c = parse(&[
        "-f",
        "3",
        "--grace",
        "30",
        "--max-restarts",
        "2",
        "--restart-window",
        "300",
        "http://h/",
    ])
    .expect("valid");
    assert_eq!(
        c.checks[0].policy,
        CheckPolicy {
            failures: 3,
            grace: Duration::from_secs(30),
            max_restarts: Some((2, Duration::from_secs(300))),
            ..CheckPolicy::default()
        }
    );
    assert_eq!(c.parallel_restarts, 1);
    let grace = parse(&["-w", "7", "http://h/"]).expect("valid").checks[0]
        .policy
        .grace;
    assert_eq!(grace, Duration::from_secs(7));
}

#[test]
fn the_password_never_shows_in_debug_output() {
    let c = parse(&["--password", "hunter2", "http://u:pw@h/"]).expect("valid");
    let dump = format!("{c:?}");
    assert!(
        !dump.contains("hunter2") && !dump.contains(":pw@"),
        "{dump}"
    );
}

mod check_flags;
mod every_key;

#[test]
fn two_checks_called_the_same_are_refused_naming_both() {
    // Two --check of one URL: both flags named.
    let e = parse(&["--check", "web=http://h/", "--check", "api=http://h/"]).expect_err("refused");
    assert_eq!(
        e,
        "two checks are both called \"http://h/\": --check web=http://h/ and --check \
         api=http://h/; give each check a name of its own (name = \"...\" in a [[check]] \
         of --config) or merge them (see httpok --help)"
    );
    // A file check named as a flag's URL: the flag and the file's line.
    let dir = TempDir::new("dup-names");
    let file = write_file(
        &dir,
        "httpok.toml",
        "[[check]]\nurl = 'http://a/'\n\n[[check]]\nname = 'tcp://b:1'\nurl = 'http://c/'\n",
    );
    let file = file.display().to_string();
    let e = parse(&["--config", &file, "--check", "x=tcp://b:1"]).expect_err("refused");
    assert!(
        e.contains(&format!(
            "both called \"tcp://b:1\": --check x=tcp://b:1 and {file}:4;"
        )),
        "{e}"
    );
    // Distinct names over one URL are two checks.
    let ok = "[[check]]\nname = 'a'\nurl = 'http://h/'\n[[check]]\nname = 'b'\nurl = 'http://h/'\n";
    let file = write_file(&dir, "ok.toml", ok).display().to_string();
    assert_eq!(parse(&["--config", &file]).expect("valid").checks.len(), 2);
}
