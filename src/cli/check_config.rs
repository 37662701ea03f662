//! `--check-config`: the effective checks, one line each, after the command line and
//! the `--config` file were read and checked whole (monit -t, nginx -t). Needs no
//! supervisord; stdout is free (this mode is not a listener).

use std::io::{self, Write};

use crate::config::settings::{KEYS, Layer, Settings};
use crate::config::target::{Kind, Target};
use crate::config::{CheckSpec, Config};
use crate::planner::selection::Selection;

/// One line per check: name, programs, targets, and every setting that applies to it
/// and differs from httpok's defaults (a default given at the top level or as a flag is
/// not shown where it does not apply).
pub(crate) fn describe(check: &CheckSpec) -> String {
    let programs = match &check.selection {
        Selection::Any => "any RUNNING process".to_string(),
        Selection::Programs(p) if p.is_empty() => "none (mail only)".to_string(),
        Selection::Programs(p) => p.join(","),
    };
    let targets: Vec<String> = check.targets.iter().map(ToString::to_string).collect();
    let kinds: Vec<Kind> = check.targets.iter().map(Target::kind).collect();
    let settings = differences(
        &Settings {
            probe: check.probe.clone(),
            policy: check.policy.clone(),
        },
        &kinds,
    );
    let mut line = match &check.name {
        Some(name) => format!("{name}: "),
        None => String::new(),
    };
    line.push_str(&format!("programs {programs}; {}", targets.join(" ")));
    if settings.is_empty() {
        line.push_str("; defaults");
    } else {
        line.push_str(&format!("; {}", settings.join(" ")));
    }
    line
}

/// Prints every check of `config`.
pub fn print(config: &Config, out: &mut impl Write) -> io::Result<()> {
    for check in &config.checks {
        writeln!(out, "{}", describe(check))?;
    }
    out.flush()
}

/// The settings that differ from the defaults, of the keys that apply to one of `kinds`.
fn differences(settings: &Settings, kinds: &[Kind]) -> Vec<String> {
    let Ok(defaults) = Layer::default().resolve() else {
        return Vec::new();
    };
    KEYS.iter()
        .filter(|key| kinds.iter().any(|&kind| key.applies.to(kind)))
        .flat_map(|key| key.describe(settings, &defaults))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::{Given, Origin};
    use std::path::Path;
    use std::sync::Arc;

    /// Every setting that differs from the defaults, whatever the check's kind.
    fn describe_differences(settings: &Settings) -> Vec<String> {
        differences(settings, &[Kind::Http, Kind::Tcp, Kind::Exec])
    }

    fn file(line: usize) -> Origin {
        Origin::File {
            path: Arc::from(Path::new("httpok.toml")),
            line,
        }
    }

    #[test]
    fn described_headers_hide_credentials() {
        let layer = Layer {
            headers: Some(Given::new(
                vec![
                    ("Authorization".into(), "Bearer s3cret".into()),
                    ("Host".into(), "app.example".into()),
                ],
                file(1),
            )),
            ..Layer::default()
        };
        let described = describe_differences(&layer.resolve().expect("valid")).join(" ");
        assert_eq!(
            described,
            "header=\"Authorization: ***\" header=\"Host: app.example\""
        );
    }
    #[test]
    fn described_env_names_its_variables_and_never_their_values() {
        let env = crate::probe::CommandEnv::new(vec![
            ("PGPASSWORD".into(), "s3cr3t".into()),
            ("PGUSER".into(), "watch".into()),
        ])
        .expect("good names");
        let layer = Layer {
            env: Some(Given::new(env, file(1))),
            ..Layer::default()
        };
        let settings = layer.resolve().expect("valid");
        let check = |url: &str| CheckSpec {
            name: None,
            targets: vec![crate::config::target::Target::parse(url).expect("url")],
            selection: Selection::Programs(vec!["db".into()]),
            probe: settings.probe.clone(),
            policy: settings.policy.clone(),
        };
        assert_eq!(
            describe(&check("exec:/usr/bin/pg_isready")),
            "programs db; exec:/usr/bin/pg_isready; env=PGPASSWORD,PGUSER"
        );
        // A top-level default is not shown where it does not apply.
        assert_eq!(
            describe(&check("http://h/")),
            "programs db; http://h/; defaults"
        );
        assert!(!format!("{settings:?}").contains("s3cr3t"));
    }

    #[test]
    fn only_settings_that_differ_from_the_defaults_are_described() {
        assert!(describe_differences(&Layer::default().resolve().expect("defaults")).is_empty());
        let layer = Layer {
            codes: Some(Given::new(vec!["2xx".into()], file(1))),
            interval: Some(Given::new(30, file(2))),
            failures: Some(Given::new(1, file(3))),
            ..Layer::default()
        };
        let described = describe_differences(&layer.resolve().expect("valid"));
        assert_eq!(described, vec!["codes=2xx", "interval=30"]);
    }

    #[test]
    fn a_default_is_not_shown_where_it_does_not_apply() {
        let layer = Layer {
            send: Some(Given::new("PING".into(), file(1))),
            codes: Some(Given::new(vec!["2xx".into()], file(2))),
            ..Layer::default()
        };
        let settings = layer.resolve().expect("valid");
        let check = |url: &str| CheckSpec {
            name: None,
            targets: vec![crate::config::target::Target::parse(url).expect("url")],
            selection: Selection::Programs(vec!["web".into()]),
            probe: settings.probe.clone(),
            policy: settings.policy.clone(),
        };
        assert_eq!(
            describe(&check("http://h/")),
            "programs web; http://h/; codes=2xx"
        );
        assert_eq!(
            describe(&check("tcp://h:1")),
            "programs web; tcp://h:1; send=\"PING\""
        );
        assert_eq!(
            describe(&check("exec:/bin/true")),
            "programs web; exec:/bin/true; defaults"
        );
    }
}
