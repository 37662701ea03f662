//! The file's shape: every key where it may stand and each value's line. The errors are
//! in `tests/errors.rs`; the file through the whole command line in `tests/cli.rs`.

use super::*;
use crate::config::settings::Given;

mod cli;
mod errors;

/// The example of the issue that asked for `--config`.
pub(super) const ISSUE_EXAMPLE: &str = r#"timeout = 5
failures = 3
[[check]]
program = "web"                  # a namespec, or a list: ["web", "api:*"]
url = "http://127.0.0.1:8080/health"
codes = ["2xx"]
body = "OK"
headers = { Host = "app.example" }
[[check]]
program = "redis"
url = "tcp://127.0.0.1:6379"
send = "PING\r\n"
expect = '^\+PONG'
[[check]]
program = "db"
exec = ["/usr/bin/pg_isready", "-q"]
interval = 30
"#;

fn at(line: usize) -> Origin {
    Origin::File {
        path: Arc::from(Path::new("httpok.toml")),
        line,
    }
}

fn given<T>(value: T, line: usize) -> Option<Given<T>> {
    Some(Given::new(value, at(line)))
}

fn read(text: &str) -> FileConfig {
    parse(Path::new("httpok.toml"), text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

#[test]
fn the_issues_example_reads_into_defaults_and_three_checks() {
    let config = read(ISSUE_EXAMPLE);
    let defaults = Layer {
        timeout: given(5.0, 1),
        failures: given(3, 2),
        ..Layer::default()
    };
    assert_eq!(config.defaults, defaults);
    let [web, redis, db] = &config.checks[..] else {
        panic!("three checks: {:?}", config.checks);
    };
    assert_eq!(web.name.as_deref(), None);
    assert_eq!(web.programs, ["web"]);
    assert_eq!(
        web.target,
        Target::parse("http://127.0.0.1:8080/health").unwrap()
    );
    let web_settings = Layer {
        codes: given(vec!["2xx".into()], 6),
        body: given("OK".into(), 7),
        headers: given(vec![("Host".into(), "app.example".into())], 8),
        ..Layer::default()
    };
    assert_eq!(web.settings, web_settings);
    assert_eq!(redis.programs, ["redis"]);
    assert_eq!(redis.target, Target::parse("tcp://127.0.0.1:6379").unwrap());
    let redis_settings = Layer {
        send: given("PING\r\n".into(), 12),
        expect: given("^\\+PONG".into(), 13),
        ..Layer::default()
    };
    assert_eq!(redis.settings, redis_settings);
    assert_eq!(db.programs, ["db"]);
    let argv = vec!["/usr/bin/pg_isready".to_string(), "-q".to_string()];
    assert_eq!(db.target, Target::Exec { argv });
    let db_settings = Layer {
        interval: given(30, 17),
        ..Layer::default()
    };
    assert_eq!(db.settings, db_settings);
}

/// A layer with one key given, at `origin`.
macro_rules! only {
    ($key:ident = $value:expr) => {
        (|origin| Layer {
            $key: Some(Given::new($value, origin)),
            ..Layer::default()
        }) as fn(Origin) -> Layer
    };
}

#[test]
fn every_settings_key_reads_at_the_top_level_and_in_a_check() {
    let cases = [
        ("timeout = 2.5", only!(timeout = 2.5)),
        ("timeout = 7", only!(timeout = 7.0)),
        ("codes = 200", only!(codes = vec!["200".into()])),
        ("body = 'OK'", only!(body = "OK".into())),
        ("body_regex = 'o+k'", only!(body_regex = "o+k".into())),
        ("body_not_regex = 'x'", only!(body_not_regex = "x".into())),
        (
            "headers = { A = 'b' }",
            only!(headers = vec![("A".into(), "b".into())]),
        ),
        ("method = 'HEAD'", only!(method = "HEAD".into())),
        ("send = 'PING'", only!(send = "PING".into())),
        ("expect = 'PONG'", only!(expect = "PONG".into())),
        ("failures = 3", only!(failures = 3)),
        ("successes = 2", only!(successes = 2)),
        ("grace = 60", only!(grace = 60)),
        ("interval = 30", only!(interval = 30)),
        ("max_restarts = 4", only!(max_restarts = 4)),
        ("restart_window = 600", only!(restart_window = 600)),
        (
            "cacert = '/etc/ca.pem'",
            only!(cacert = "/etc/ca.pem".into()),
        ),
        ("insecure = true", only!(insecure = true)),
    ];
    for (line, expected) in cases {
        let top = read(&format!("# defaults\n{line}\n"));
        assert_eq!(top.defaults, expected(at(2)), "{line}");
        let text = format!("[[check]]\nurl = 'http://h/'\n\n{line}\n");
        let check = &read(&text).checks[0];
        assert_eq!(check.settings, expected(at(4)), "{line} in a check");
    }
}

#[test]
fn a_program_is_a_namespec_or_a_list_and_may_be_left_out() {
    let programs = |value: &str| {
        let text = format!("[[check]]\nurl = 'http://h/'\n{value}\n");
        read(&text).checks[0].programs.clone()
    };
    assert_eq!(programs("program = 'web'"), ["web"]);
    assert_eq!(programs("program = ['web', 'api:*']"), ["web", "api:*"]);
    assert_eq!(programs("program = []"), Vec::<String>::new());
    assert_eq!(programs("name = 'mail only'"), Vec::<String>::new());
    let named = read("[[check]]\nname = 'front'\nurl = 'http://h/'\n");
    assert_eq!(named.checks[0].name.as_deref(), Some("front"));
}

#[test]
fn codes_are_an_integer_a_string_or_a_list_of_either() {
    let codes = |value: &str| {
        read(&format!("codes = {value}\n"))
            .defaults
            .codes
            .unwrap()
            .value
    };
    assert_eq!(codes("200"), ["200"]);
    assert_eq!(codes("\"2xx\""), ["2xx"]);
    assert_eq!(
        codes("[200, \"3xx\", '200-299']"),
        ["200", "3xx", "200-299"]
    );
    assert_eq!(codes("0xC8"), ["200"]);
    assert_eq!(codes("[]"), Vec::<String>::new());
}

#[test]
fn headers_keep_the_files_order() {
    let text = "headers = { Zeta = '1', Alpha = '2', Host = 'h' }\n";
    let headers = read(text).defaults.headers.unwrap().value;
    let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["Zeta", "Alpha", "Host"]);
    let table = read("[headers]\nB = 'x'\nA = 'y'\n")
        .defaults
        .headers
        .unwrap();
    assert_eq!(
        table.value,
        [("B".into(), "x".into()), ("A".into(), "y".into())]
    );
    assert_eq!(table.origin, at(1));
}

#[test]
fn a_relative_cacert_is_taken_from_the_files_directory() {
    let cacert = |file: &str, text: &str| {
        parse(Path::new(file), text)
            .unwrap()
            .defaults
            .cacert
            .unwrap()
            .value
    };
    assert_eq!(
        cacert("/etc/httpok/checks.toml", "cacert = 'ca.pem'"),
        Path::new("/etc/httpok/ca.pem")
    );
    assert_eq!(
        cacert("conf/checks.toml", "cacert = 'tls/ca.pem'"),
        Path::new("conf/tls/ca.pem")
    );
    assert_eq!(
        cacert("checks.toml", "cacert = 'ca.pem'"),
        Path::new("ca.pem")
    );
    assert_eq!(
        cacert("/etc/httpok/checks.toml", "cacert = '/srv/ca.pem'"),
        Path::new("/srv/ca.pem")
    );
}

#[test]
fn errors_name_the_line_and_checks_may_be_inline_tables_with_an_exec_url() {
    let text = "timeout = 1\n\n[[check]]\n\nurl = 'exec:/bin/true -x'\ncheck = 'no'\n";
    let e = parse(Path::new("httpok.toml"), text).expect_err("check in a check");
    assert!(
        e.starts_with("httpok.toml:6: unknown key \"check\" in [[check]]"),
        "{e}"
    );
    let config = read("check = [{ url = 'exec:/bin/true -x' },\n  { exec = ['/bin/true'] }]\n");
    let argv = vec!["/bin/true".to_string(), "-x".to_string()];
    assert_eq!(config.checks[0].target, Target::Exec { argv });
    let argv = vec!["/bin/true".to_string()];
    assert_eq!(config.checks[1].target, Target::Exec { argv });
    assert_eq!(config.checks.len(), 2);
    assert!(read("").checks.is_empty());
}

#[test]
fn edit_distance_counts_single_character_edits() {
    use super::values::edit_distance;
    assert_eq!(edit_distance("bdy", "body"), 1);
    assert_eq!(edit_distance("body-regex", "body_regex"), 1);
    assert_eq!(edit_distance("", "url"), 3);
    assert_eq!(edit_distance("timeout", "timeout"), 0);
}
