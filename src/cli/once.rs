//! `--once`: probe every check now and print one line per URL to stdout (this mode is
//! not a listener, so stdout is free). Needs no supervisord.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::config::target::Kind;
use crate::config::{CheckSpec, Config};
use crate::planner::plan::{CheckId, ProbeRequest, TargetId};
use crate::watcher::{build_prober, numbered};

/// Probes everything once, each check by its own settings (an `interval` does not
/// apply: every check is probed); returns whether all checks were healthy.
pub fn run_once(config: &Config, out: &mut impl Write) -> Result<bool, String> {
    let prober = build_prober(config)?;
    let checks: BTreeMap<CheckId, &CheckSpec> = numbered(&config.checks).collect();
    let requests: Vec<ProbeRequest> = numbered(&config.checks)
        .flat_map(|(check, spec)| {
            (0..spec.targets.len()).map(move |index| ProbeRequest {
                target: TargetId { check, index },
                read_cert: false,
            })
        })
        .collect();
    let mut all_healthy = true;
    for (request, outcome) in prober.probe_all(&requests) {
        let id = request.target;
        let Some(spec) = checks.get(&id.check) else {
            continue;
        };
        let Some(target) = spec.targets.get(id.index) else {
            continue;
        };
        let ms = outcome.latency.as_millis();
        // A named check by its name, the URL beside it, as in the log.
        let kind = target.kind();
        let target = match &spec.name {
            Some(name) => format!("{name} ({target})"),
            None => target.to_string(),
        };
        let line = match &outcome.result {
            Ok(0) if kind == Kind::Exec => format!("healthy {target} exited 0 {ms}ms"),
            Ok(0) if spec.probe.expect.is_some() => {
                format!("healthy {target} answered as expected {ms}ms")
            }
            Ok(0) => format!("healthy {target} connected {ms}ms"),
            Ok(status) => format!("healthy {target} status {status} {ms}ms"),
            Err(failure) => {
                all_healthy = false;
                format!("failing {target} {failure} {ms}ms")
            }
        };
        writeln!(out, "{line}").map_err(|e: io::Error| format!("cannot write output: {e}"))?;
    }
    Ok(all_healthy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Args;
    use crate::test_rig::TempDir;
    use crate::test_rig::hostile::refused_addr;
    use clap::Parser;

    #[test]
    fn a_named_check_is_printed_by_its_name_with_its_url() {
        let dir = TempDir::new("once-named");
        let url = format!("tcp://{}", refused_addr());
        let file = dir.join("checks.toml");
        std::fs::write(
            &file,
            format!("[[check]]\nname = \"db\"\nurl = \"{url}\"\n"),
        )
        .expect("write");
        let file = file.display().to_string();
        let args = [
            "httpok",
            "--once",
            "-t",
            "1",
            "--config",
            &file,
            "--check",
            "x=exec:/bin/true",
        ];
        let config = Args::try_parse_from(args)
            .expect("parses")
            .into_config()
            .expect("valid");
        let mut out = Vec::new();
        assert_eq!(run_once(&config, &mut out), Ok(false));
        let out = String::from_utf8(out).expect("utf-8");
        assert!(out.contains("healthy exec:/bin/true exited 0"), "{out}");
        assert!(
            out.contains(&format!("failing db ({url}) connection refused")),
            "{out}"
        );
    }
}
