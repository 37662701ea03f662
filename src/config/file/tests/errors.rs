//! Every error names the file, the line and the key, in one line; and the bounds on
//! hostile input.

use std::path::Path;

use crate::config::file::{MAX_CHECKS, MAX_FILE_BYTES, load, parse};
use crate::test_rig::TempDir;

/// Every error: (the file, what the message starts with). Each is one line.
#[test]
fn every_error_names_the_file_the_line_and_the_key() {
    let check = "[[check]]\nurl = 'http://h/'\n";
    let in_check = |rest: &str| format!("{check}{rest}");
    let cases: Vec<(String, &str)> = vec![
        (
            "bdy = 1".into(),
            "httpok.toml:1: unknown key \"bdy\" at the top level (known: timeout, codes, ",
        ),
        (
            "\n[web]\nurl = 'x'".into(),
            "httpok.toml:2: unknown key \"web\" at the top level",
        ),
        (
            "url = 'http://h/'".into(),
            "httpok.toml:1: \"url\" belongs in a [[check]] table",
        ),
        (
            in_check("bdy = 'OK'"),
            "httpok.toml:3: unknown key \"bdy\" in [[check]] (known: name, program, url, exec, timeout, ",
        ),
        (
            in_check("name = \"a\\nb\""),
            "httpok.toml:3: name: must be a non-empty name on one line",
        ),
        (
            in_check("body-regex = 'x'"),
            "httpok.toml:3: unknown key \"body-regex\" in [[check]]",
        ),
        (
            in_check("[check.extra]\na = 1"),
            "httpok.toml:3: unknown key \"extra\" in [[check]]",
        ),
        (
            "timeout = \"5\"".into(),
            "httpok.toml:1: timeout: expected a number of seconds, got a string",
        ),
        (
            "timeout = 1979-05-27".into(),
            "httpok.toml:1: timeout: expected a number of seconds, got a date-time",
        ),
        (
            "timeout = 99999999999999999999".into(),
            "httpok.toml:1: timeout: expected a number of seconds, got 99999999999999999999 (too large)",
        ),
        (
            in_check("failures = -1"),
            "httpok.toml:3: failures: expected a whole number of rounds, e.g. 3, got -1 (it cannot be negative)",
        ),
        (
            "successes = 1.5".into(),
            "httpok.toml:1: successes: expected a whole number of rounds, e.g. 3, got 1.5",
        ),
        (
            "grace = -5".into(),
            "httpok.toml:1: grace: expected a whole number of seconds, e.g. 30, got -5 (it cannot be negative)",
        ),
        (
            "interval = '30s'".into(),
            "httpok.toml:1: interval: expected a whole number of seconds, e.g. 30, got a string",
        ),
        (
            "max_restarts = 5000000000".into(),
            "httpok.toml:1: max_restarts: expected a whole number of restarts, e.g. 3, got 5000000000 (too large)",
        ),
        (
            "restart_window = true".into(),
            "httpok.toml:1: restart_window: expected a whole number of seconds, e.g. 30, got true",
        ),
        (
            "codes = true".into(),
            "httpok.toml:1: codes: expected a status such as 200 or \"2xx\", or a list of them, got true",
        ),
        (
            "codes = [200,\n 2.5]".into(),
            "httpok.toml:1: codes: expected a status such as 200 or \"2xx\", or a list of them, got 2.5 in the list",
        ),
        (
            "body = 1".into(),
            "httpok.toml:1: body: expected a string, got 1",
        ),
        (
            "body_regex = []".into(),
            "httpok.toml:1: body_regex: expected a regular expression (a string), got a list",
        ),
        (
            "body_not_regex = {}".into(),
            "httpok.toml:1: body_not_regex: expected a regular expression (a string), got a table",
        ),
        (
            "headers = 'Host: x'".into(),
            "httpok.toml:1: headers: expected a table of header names to strings",
        ),
        (
            "headers = { Host = 1 }".into(),
            "httpok.toml:1: headers: header \"Host\": expected a string, got 1",
        ),
        (
            "method = 1".into(),
            "httpok.toml:1: method: expected GET or HEAD (a string), got 1",
        ),
        ("send = 1".into(), "httpok.toml:1: send: expected a string"),
        (
            "expect = 1".into(),
            "httpok.toml:1: expect: expected a regular expression (a string), got 1",
        ),
        (
            "cacert = 1".into(),
            "httpok.toml:1: cacert: expected the path of a PEM file (a string), got 1",
        ),
        (
            "insecure = 'yes'".into(),
            "httpok.toml:1: insecure: expected true or false, got a string",
        ),
        (
            in_check("name = 1"),
            "httpok.toml:3: name: expected a string, got 1",
        ),
        (
            in_check("program = 5"),
            "httpok.toml:3: program: expected a namespec or a list of them",
        ),
        (
            in_check("program = ['web', 5]"),
            "httpok.toml:3: program: expected a namespec or a list of them, e.g. \"web\" or [\"web\", \"api:*\"], got 5 in the list",
        ),
        (
            "[[check]]\nname = 'web'\nurl = 'http://a/'\n\n[[check]]\nname = 'api'\n\
             url = 'http://b/'\n\n[[check]]\nname = 'web'\nurl = 'http://c/'"
                .into(),
            "httpok.toml:9: name: \"web\" is also the name of the [[check]] at line 1: give \
             each check a name of its own",
        ),
        (
            in_check("program = ''"),
            "httpok.toml:3: program: has an empty namespec",
        ),
        (
            "[[check]]\nurl = 5".into(),
            "httpok.toml:2: url: expected a URL (a string), got 5",
        ),
        (
            "[[check]]\n\nurl = 'ftp://h/'".into(),
            "httpok.toml:3: url: ftp://h/ has an unsupported scheme",
        ),
        (
            "[[check]]\nurl = 'exec:'".into(),
            "httpok.toml:2: url: exec: has no command",
        ),
        (
            "[[check]]\nexec = 'pg_isready -q'".into(),
            "httpok.toml:2: exec: expected a list of strings, e.g. [\"/usr/bin/pg_isready\", \"-q\"], got a string (or write url = \"exec:",
        ),
        (
            "[[check]]\nexec = []".into(),
            "httpok.toml:2: exec: is empty: give the command",
        ),
        (
            "[[check]]\nexec = ['', '-q']".into(),
            "httpok.toml:2: exec has an empty program name",
        ),
        (
            "[[check]]\nexec = ['a', 1]".into(),
            "httpok.toml:2: exec: expected a list of strings, e.g. [\"/usr/bin/pg_isready\", \"-q\"], got 1 in the list",
        ),
        (
            "timeout = 1\n\n[[check]]\nurl = 'http://h/'\nexec = ['/bin/true']".into(),
            "httpok.toml:3: [[check]] has both url and exec: give one",
        ),
        (
            format!("{check}[[check]]\nprogram = 'web'"),
            "httpok.toml:3: [[check]] has neither url nor exec",
        ),
        (
            "check = 1".into(),
            "httpok.toml:1: check: expected [[check]] tables, got 1",
        ),
        (
            "[check]\nurl = 'http://h/'".into(),
            "httpok.toml:1: check: expected [[check]] tables, got a table (write [[check]], with two brackets",
        ),
        (
            "check = [1]".into(),
            "httpok.toml:1: check: expected [[check]] tables, got 1 in the list",
        ),
        (
            "timeout = 1\n\ntimeout = ".into(),
            "httpok.toml:3: not valid TOML: ",
        ),
        (
            "timeout = 1\ntimeout = 2".into(),
            "httpok.toml:2: not valid TOML: duplicate key",
        ),
        (
            "[[check]]\nurl = 'http://h/\n".into(),
            "httpok.toml:2: not valid TOML: ",
        ),
    ];
    for (text, prefix) in cases {
        let e = parse(Path::new("httpok.toml"), &text).expect_err(&text);
        assert!(
            e.starts_with(prefix),
            "{text:?}:\n  got  {e}\n  want {prefix}"
        );
        assert!(!e.contains('\n'), "{text:?}: more than one line: {e}");
    }
}

#[test]
fn an_unknown_key_close_to_a_known_one_is_suggested() {
    let e = parse(
        Path::new("f.toml"),
        "[[check]]\nurl = 'http://h/'\nbody-regex = 'x'\n",
    )
    .unwrap_err();
    assert!(
        e.ends_with("max_restarts, restart_window); did you mean \"body_regex\"?"),
        "{e}"
    );
    let e = parse(Path::new("f.toml"), "colour = 'blue'\n").unwrap_err();
    assert!(e.ends_with("max_restarts, restart_window, check)"), "{e}");
}

#[test]
fn more_than_the_limit_of_checks_is_refused() {
    let text = "[[check]]\n".repeat(MAX_CHECKS + 1);
    let e = parse(Path::new("httpok.toml"), &text).unwrap_err();
    assert!(
        e.starts_with("httpok.toml:10001: more than 10000 [[check]] tables"),
        "{e}"
    );
}

#[test]
fn a_file_that_cannot_be_read_is_named_with_the_reason() {
    let dir = TempDir::new("config-unreadable");
    let missing = dir.join("missing.toml");
    let e = load(&missing).unwrap_err();
    assert_eq!(
        e,
        format!(
            "{}: cannot read it (No such file or directory)",
            missing.display()
        )
    );
    let e = load(&dir).unwrap_err();
    assert_eq!(
        e,
        format!(
            "{}: cannot read it (it is a directory, not a regular file)",
            dir.display()
        )
    );
    let latin1 = dir.join("latin1.toml");
    std::fs::write(&latin1, b"timeout = 1\nbody = '\xe9t\xe9'\n").unwrap();
    let e = load(&latin1).unwrap_err();
    assert_eq!(
        e,
        format!(
            "{}:2: not valid TOML: it is not UTF-8 text",
            latin1.display()
        )
    );
}

#[test]
fn a_file_over_1_mib_is_refused_unparsed() {
    let dir = TempDir::new("config-large");
    let path = dir.join("big.toml");
    let mut text = "# padding\n".repeat(MAX_FILE_BYTES as usize / 10);
    std::fs::write(&path, &text).unwrap();
    assert!(
        load(&path).unwrap().checks.is_empty(),
        "a file of 1 MiB less a few bytes is read"
    );
    text.push_str("# over\n");
    std::fs::write(&path, &text).unwrap();
    let e = load(&path).unwrap_err();
    assert!(
        e.starts_with(&format!("{}: is over 1 MiB", path.display())),
        "{e}"
    );
}

#[test]
fn env_is_for_exec_checks_and_its_problems_never_quote_a_value() {
    let file = |text: &str| parse(Path::new("f.toml"), text);
    let read = file("[[check]]\nexec = ['/bin/true']\nenv = { PGPASSWORD = 'pw-1' }\n")
        .expect("an exec check with env");
    assert_eq!(
        read.checks[0]
            .settings
            .env
            .as_ref()
            .map(|g| format!("{:?}", g.value)),
        Some(r#"{"PGPASSWORD": "***"}"#.to_string())
    );
    for (text, wanted) in [
        (
            "env = 'PGPASSWORD=pw-2'\n",
            "f.toml:1: env: expected a table of variable names",
        ),
        (
            "env = { PGPASSWORD = 3 }\n",
            "f.toml:1: env: PGPASSWORD: expected a string, got 3",
        ),
        (
            "env = { 'A B' = 'pw-3' }\n",
            "f.toml:1: env: has a bad variable name \"A B\"",
        ),
        (
            "env = { SUPERVISOR_PASSWORD = 'pw-4' }\n",
            "f.toml:1: env: cannot set SUPERVISOR_PASSWORD",
        ),
    ] {
        let e = file(text).expect_err(text);
        assert!(e.starts_with(wanted), "{text}: {e}");
        assert!(!e.contains("pw-"), "a value in {e}");
    }
}

/// `load` on another thread, given `limit` to answer (a FIFO blocked the open for good).
fn load_within(
    path: &Path,
    limit: std::time::Duration,
) -> Result<crate::config::file::FileConfig, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(load(&path));
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("reading the file did not end within {limit:?}"))
}

#[test]
fn a_fifo_or_a_device_is_refused_at_once_not_waited_on_or_read() {
    let dir = TempDir::new("config-special");
    let fifo = dir.join("checks.toml");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path that lives for the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let limit = std::time::Duration::from_secs(5);
    let e = load_within(&fifo, limit).unwrap_err();
    assert_eq!(
        e,
        format!(
            "{}: cannot read it (it is a FIFO, not a regular file)",
            fifo.display()
        )
    );
    let e = load_within(Path::new("/dev/zero"), limit).unwrap_err();
    assert_eq!(
        e,
        "/dev/zero: cannot read it (it is a device, not a regular file)"
    );
}
