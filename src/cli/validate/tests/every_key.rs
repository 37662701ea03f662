//! Every row of the settings table ([`KEYS`]) seen from everywhere it is used: the
//! config file at the top level and in a `[[check]]`, its flag in clap and in the
//! flags' layer, `--check-config`'s description, and the per-kind rules. A key added
//! to the table and left out of one of them fails here (first in [`sample`], which
//! needs a value for it).

use clap::CommandFactory;

use super::*;
use crate::cli::check_config::describe;
use crate::cli::{Request, parse_command_line};
use crate::config::file as config_file;
use crate::config::settings::{Applies, KEYS, Key};
use crate::config::target::Kind;
use crate::test_rig::TempDir;

/// A value of `key` other than its default, as a config file writes it and as its
/// flag takes it (none for a key without a flag). `ca` is a readable CA file.
fn sample(key: &Key, ca: &str) -> (String, Vec<String>) {
    let (file, flag): (String, &[&str]) = match key.name {
        "timeout" => ("2.5".into(), &["2.5"]),
        "codes" => ("'2xx'".into(), &["2xx"]),
        "method" => ("'HEAD'".into(), &["HEAD"]),
        "body" => ("'OK'".into(), &["OK"]),
        "body_regex" => ("'^ok'".into(), &["^ok"]),
        "body_not_regex" => ("'Traceback'".into(), &["Traceback"]),
        "headers" => ("{ Host = 'app.example' }".into(), &["Host: app.example"]),
        "cacert" => (format!("'{ca}'"), &[ca]),
        "insecure" => ("true".into(), &[]),
        "send" => ("'PING'".into(), &["PING"]),
        "expect" => ("'PONG'".into(), &["PONG"]),
        "env" => ("{ TOKEN = 'x' }".into(), &[]),
        "failures" => ("3".into(), &["3"]),
        "successes" => ("2".into(), &["2"]),
        "grace" => ("30".into(), &["30"]),
        "interval" => ("60".into(), &["60"]),
        "stop_grace" => ("2".into(), &["2"]),
        "max_restarts" => ("3".into(), &["3"]),
        "restart_window" => ("600".into(), &["600"]),
        other => panic!("no sample value for the setting key {other:?}: add one here"),
    };
    let long = key
        .flag
        .map(|f| f.rsplit('/').next().unwrap_or(f).to_string());
    let args = long
        .into_iter()
        .chain(flag.iter().map(|v| v.to_string()))
        .collect();
    (file, args)
}

/// The key that must come with `key` for the settings to be valid.
fn companion(key: &Key) -> Option<&'static Key> {
    match key.name {
        "max_restarts" => crate::config::settings::find("restart_window"),
        "restart_window" => crate::config::settings::find("max_restarts"),
        _ => None,
    }
}

/// A target of each kind.
fn target(kind: Kind) -> &'static str {
    match kind {
        Kind::Http => "http://127.0.0.1:1/",
        Kind::Tcp => "tcp://127.0.0.1:1",
        Kind::Exec => "exec:/bin/true",
    }
}

const KINDS: [Kind; 3] = [Kind::Http, Kind::Tcp, Kind::Exec];

/// `httpok --check-config ARGS`: the checks, or the one-line error.
fn check_config(args: &[String]) -> Result<Vec<String>, String> {
    let argv = ["httpok", "--check-config"]
        .into_iter()
        .map(String::from)
        .chain(args.iter().cloned());
    match parse_command_line(argv) {
        Ok(Request::CheckConfig(config)) => Ok(config.checks.iter().map(describe).collect()),
        Ok(other) => panic!("{args:?}: not --check-config: {other:?}"),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn every_key_is_read_from_a_file_at_the_top_level_and_in_a_check_of_its_kind() {
    let dir = TempDir::new("every-key");
    let ca = write_ca(&dir);
    for key in KEYS {
        let (value, _) = sample(key, &ca);
        let top = config_file::parse(Path::new("f.toml"), &format!("{} = {value}\n", key.name))
            .unwrap_or_else(|e| panic!("{}: {e}", key.name));
        let given: Vec<_> = top
            .defaults
            .given()
            .map(|(k, o)| (k.name, o.to_string()))
            .collect();
        assert_eq!(given, [(key.name, "f.toml:1".to_string())]);
        for kind in KINDS.into_iter().filter(|&kind| key.applies.to(kind)) {
            let text = format!(
                "[[check]]\nurl = '{}'\n{} = {value}\n",
                target(kind),
                key.name
            );
            let file = config_file::parse(Path::new("f.toml"), &text)
                .unwrap_or_else(|e| panic!("{}: {e}", key.name));
            let given: Vec<_> = file.checks[0]
                .settings
                .given()
                .map(|(k, _)| k.name)
                .collect();
            assert_eq!(given, [key.name]);
        }
    }
}

#[test]
fn every_flag_of_the_table_is_clap_s_and_lands_in_the_flags_layer_under_its_name() {
    let dir = TempDir::new("every-flag");
    let ca = write_ca(&dir);
    let command = Args::command();
    for key in KEYS {
        let long = key.name.replace('_', "-");
        let Some(flag) = key.flag else {
            // A key without a flag has none by any spelling.
            assert!(
                command
                    .get_arguments()
                    .all(|a| a.get_long() != Some(long.as_str())),
                "{} has a flag that the table does not name",
                key.name
            );
            continue;
        };
        let arg = command
            .get_arguments()
            .find(|a| {
                a.get_long()
                    .is_some_and(|l| flag.ends_with(&format!("--{l}")))
            })
            .unwrap_or_else(|| panic!("{flag} ({}) is not a flag clap knows", key.name));
        let spelled = match arg.get_short() {
            Some(short) => format!("-{short}/--{}", arg.get_long().unwrap_or_default()),
            None => format!("--{}", arg.get_long().unwrap_or_default()),
        };
        assert_eq!(flag, spelled, "the table's flag of {}", key.name);

        let (_, args) = sample(key, &ca);
        let mut argv = vec!["httpok".to_string()];
        argv.extend(args);
        let layer = Args::try_parse_from(&argv)
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
            .flag_layer()
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        let given: Vec<_> = layer.given().map(|(k, o)| (k.name, o.clone())).collect();
        assert_eq!(given, [(key.name, Origin::Flag(flag))], "{argv:?}");
    }
}

#[test]
fn check_config_describes_every_key_on_the_checks_it_applies_to_only() {
    let dir = TempDir::new("every-description");
    let ca = write_ca(&dir);
    for key in KEYS {
        let mut text = String::new();
        for key in std::iter::once(key).chain(companion(key)) {
            text.push_str(&format!("{} = {}\n", key.name, sample(key, &ca).0));
        }
        for kind in KINDS {
            text.push_str(&format!("[[check]]\nurl = '{}'\n", target(kind)));
        }
        let file = dir.join(format!("{}.toml", key.name));
        std::fs::write(&file, &text).expect("write the file");
        let lines = check_config(&["--config".into(), file.display().to_string()])
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        let defaults = Layer::default().resolve().expect("the defaults");
        let top = config_file::load(&file).expect("read").defaults;
        let settings = top.over(&Layer::default()).resolve().expect("valid");
        let shown = key.describe(&settings, &defaults);
        assert!(!shown.is_empty(), "{} is not described", key.name);
        for (kind, line) in KINDS.into_iter().zip(&lines) {
            let described = shown.iter().all(|item| line.contains(item.as_str()));
            assert_eq!(
                described,
                key.applies.to(kind),
                "{} on {kind:?}: {line}",
                key.name
            );
        }
    }
}

#[test]
fn a_key_only_for_one_kind_is_refused_in_a_check_of_another_naming_its_line() {
    let dir = TempDir::new("every-misplaced");
    let ca = write_ca(&dir);
    for key in KEYS {
        let Applies::Only(only) = key.applies else {
            continue;
        };
        let (value, _) = sample(key, &ca);
        for kind in KINDS.into_iter().filter(|&kind| kind != only) {
            let text = format!(
                "[[check]]\nurl = '{}'\n\n{} = {value}\n",
                target(kind),
                key.name
            );
            let file = dir.join(format!("{}.toml", key.name));
            std::fs::write(&file, &text).expect("write the file");
            let e =
                check_config(&["--config".into(), file.display().to_string()]).expect_err(&text);
            let want = format!(
                "{}:4: {} applies to {} checks only",
                file.display(),
                key.name,
                only.as_str()
            );
            assert!(e.starts_with(&want), "{e}\nwant {want}");
        }
    }
}

/// `httpok --check-config ARGS`: its warnings, or the one-line error.
fn warnings(args: &[String]) -> Result<Vec<String>, String> {
    let argv = ["httpok", "--check-config"]
        .into_iter()
        .map(String::from)
        .chain(args.iter().cloned());
    match parse_command_line(argv) {
        Ok(Request::CheckConfig(config)) => Ok(config.warnings),
        Ok(other) => panic!("{args:?}: not --check-config: {other:?}"),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn a_default_only_for_a_kind_no_check_has_is_said_as_a_flag_or_in_a_file() {
    let dir = TempDir::new("every-unused");
    let ca = write_ca(&dir);
    for key in KEYS {
        let Applies::Only(only) = key.applies else {
            continue;
        };
        let (value, args) = sample(key, &ca);
        let others: Vec<String> = KINDS
            .into_iter()
            .filter(|&kind| kind != only)
            .map(|kind| target(kind).to_string())
            .collect();
        if let Some(flag) = key.flag {
            let unused = format!("{flag} is for {} checks and there is none", only.as_str());
            match warnings(&[&args[..], &others[..]].concat()) {
                // superlance's --send meant --sendmail_program: refused.
                Err(e) if ["--send", "--expect"].contains(&flag) => {
                    assert!(e.starts_with(&unused), "{e}\nwant {unused}");
                }
                Ok(said) => assert_eq!(said, [format!("{unused}: it changes nothing")]),
                Err(e) => panic!("{flag}: {e}"),
            }
            // With a check of its kind among them, it applies there, without a word.
            let with = [&args[..], &others[..], &[target(only).to_string()]].concat();
            assert_eq!(warnings(&with), Ok(Vec::new()), "{with:?}");
        }
        let file = dir.join(format!("{}.toml", key.name));
        std::fs::write(&file, format!("{} = {value}\n", key.name)).expect("write the file");
        let file_args = ["--config".to_string(), file.display().to_string()];
        let said = warnings(&[&file_args[..], &others[..]].concat()).expect(key.name);
        let want = format!(
            "{}:1: {} is for {} checks and there is none: it changes nothing",
            file.display(),
            key.name,
            only.as_str()
        );
        assert_eq!(said, [want]);
    }
}
