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
        let line = match &outcome.result {
            Ok(0) if target.kind() == Kind::Exec => format!("healthy {target} exited 0 {ms}ms"),
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
