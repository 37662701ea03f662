//! `--check-config`: the effective checks, one line each, after the command line and
//! the `--config` file were read and checked whole (monit -t, nginx -t). Needs no
//! supervisord; stdout is free (this mode is not a listener).

use std::io::{self, Write};

use crate::config::{CheckSpec, Config};
use crate::selection::Selection;
use crate::settings::{Layer, Settings};
use crate::target::looks_secret;

/// Settings only an http check uses, and only a tcp check uses, as [`describe`] names
/// them: a default given at the top level or as a flag is not shown where it does
/// not apply.
const HTTP_ONLY: [&str; 8] = [
    "codes",
    "body",
    "body_regex",
    "body_not_regex",
    "header",
    "method",
    "cacert",
    "insecure",
];
const TCP_ONLY: [&str; 2] = ["send", "expect"];
const EXEC_ONLY: [&str; 1] = ["env"];

/// One line per check: name, programs, targets, and every setting that applies to it
/// and differs from httpok's defaults.
pub fn describe(check: &CheckSpec) -> String {
    let programs = match &check.selection {
        Selection::Any => "any RUNNING process".to_string(),
        Selection::Programs(p) if p.is_empty() => "none (mail only)".to_string(),
        Selection::Programs(p) => p.join(","),
    };
    let targets: Vec<String> = check.targets.iter().map(ToString::to_string).collect();
    let has = |kind: &str| check.targets.iter().any(|t| t.kind() == kind);
    let (http, tcp, exec) = (has("http"), has("tcp"), has("exec"));
    let settings: Vec<String> = describe_differences(&Settings {
        probe: check.probe.clone(),
        policy: check.policy.clone(),
    })
    .into_iter()
    .filter(|item| {
        let key = item.split(['=', ' ']).next().unwrap_or_default();
        (http || !HTTP_ONLY.contains(&key))
            && (tcp || !TCP_ONLY.contains(&key))
            && (exec || !EXEC_ONLY.contains(&key))
    })
    .collect();
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

/// What `--check-config` prints after a check: every setting that differs from the
/// defaults, `key=value`.
pub fn describe_differences(settings: &Settings) -> Vec<String> {
    let defaults = Layer::default().resolve().ok();
    let Some(d) = defaults else {
        return Vec::new();
    };
    let (p, q) = (&settings.probe, &settings.policy);
    let mut out = Vec::new();
    let mut add = |differs: bool, text: String| {
        if differs {
            out.push(text);
        }
    };
    add(
        p.timeout != d.probe.timeout,
        format!("timeout={}", p.timeout.as_secs_f64()),
    );
    add(p.codes != d.probe.codes, format!("codes={}", p.codes));
    add(p.method != d.probe.method, format!("method={}", p.method));
    if let Some(body) = &p.body {
        add(true, format!("body={body:?}"));
    }
    if let Some(re) = &p.body_regex {
        add(true, format!("body_regex={:?}", re.as_str()));
    }
    if let Some(re) = &p.body_not_regex {
        add(true, format!("body_not_regex={:?}", re.as_str()));
    }
    for (name, value) in &p.headers {
        let value = if looks_secret(name) {
            "***"
        } else {
            value.as_str()
        };
        add(true, format!("header={:?}", format!("{name}: {value}")));
    }
    if let Some(send) = &p.send {
        let text = String::from_utf8_lossy(send);
        // redis' `AUTH password`, an SMTP `AUTH PLAIN ...`: not for a terminal.
        let upper = text.to_ascii_uppercase();
        if upper.contains("AUTH") || upper.contains("PASS") {
            add(
                true,
                format!(
                    "send=({} bytes, not shown: it may hold a password)",
                    send.len()
                ),
            );
        } else {
            add(true, format!("send={text:?}"));
        }
    }
    if let Some(re) = &p.expect {
        add(true, format!("expect={:?}", re.as_str()));
    }
    if let Some(path) = &p.cacert {
        add(true, format!("cacert={}", path.display()));
    }
    add(p.insecure, "insecure".into());
    // The names only: the values are secrets.
    if !p.env.is_empty() {
        add(
            true,
            format!("env={}", p.env.names().collect::<Vec<_>>().join(",")),
        );
    }
    add(
        q.failures != d.policy.failures,
        format!("failures={}", q.failures),
    );
    add(
        q.successes != d.policy.successes,
        format!("successes={}", q.successes),
    );
    add(
        q.grace != d.policy.grace,
        format!("grace={}", q.grace.as_secs()),
    );
    if let Some(interval) = q.interval {
        add(true, format!("interval={}", interval.as_secs()));
    }
    if let Some((k, window)) = q.max_restarts {
        add(
            true,
            format!("max_restarts={k} restart_window={}", window.as_secs()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Given, Origin};
    use std::path::Path;
    use std::sync::Arc;

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
            targets: vec![crate::target::Target::parse(url).expect("url")],
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
            targets: vec![crate::target::Target::parse(url).expect("url")],
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
