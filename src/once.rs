//! `--once`: probe every check now and print one line per URL to stdout (this mode is
//! not a listener, so stdout is free). Needs no supervisord.

use std::io::{self, Write};

use crate::config::{CheckSpec, Config};
use crate::plan::{ProbeRequest, TargetId};
use crate::target::Target;
use crate::watcher::{build_prober, numbered};

/// Probes everything once, each check by its own settings (an `interval` does not
/// apply: every check is probed); returns whether all checks were healthy.
pub fn run_once(config: &Config, out: &mut impl Write) -> Result<bool, String> {
    let prober = build_prober(config)?;
    // Each request with the target and check it probes, for its line.
    let asked: Vec<(ProbeRequest, &Target, &CheckSpec)> = numbered(&config.checks)
        .flat_map(|(check, spec)| {
            spec.targets.iter().enumerate().map(move |(index, target)| {
                let request = ProbeRequest {
                    target: TargetId { check, index },
                    read_cert: false,
                };
                (request, target, spec)
            })
        })
        .collect();
    let requests: Vec<ProbeRequest> = asked.iter().map(|(request, _, _)| *request).collect();
    let outcomes = prober.probe_all(&requests);
    let mut all_healthy = true;
    // The prober answers each request in order.
    for ((_, target, spec), outcome) in asked.iter().zip(&outcomes) {
        let ms = outcome.latency.as_millis();
        let line = match &outcome.result {
            Ok(0) if target.kind() == "exec" => format!("healthy {target} exited 0 {ms}ms"),
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
