//! `--check-config`: the effective checks, one line each, after the command line and
//! the `--config` file were read and checked whole (monit -t, nginx -t). Needs no
//! supervisord; stdout is free (this mode is not a listener).

use std::io::{self, Write};

use crate::config::{CheckSpec, Config};
use crate::selection::Selection;
use crate::settings::{Settings, describe_differences};

/// One line per check: name, programs, targets, and every setting that differs from
/// httpok's defaults.
pub fn describe(check: &CheckSpec) -> String {
    let programs = match &check.selection {
        Selection::Any => "any RUNNING process".to_string(),
        Selection::Programs(p) if p.is_empty() => "none (mail only)".to_string(),
        Selection::Programs(p) => p.join(","),
    };
    let targets: Vec<String> = check.targets.iter().map(ToString::to_string).collect();
    let settings = describe_differences(&Settings {
        probe: check.probe.clone(),
        policy: check.policy.clone(),
    });
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
