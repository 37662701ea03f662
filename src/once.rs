//! `--once`: probe every check now and print one line per URL to stdout (this mode is
//! not a listener, so stdout is free). Needs no supervisord.

use std::io::{self, Write};

use crate::config::Config;
use crate::probe::ProbeRequest;
use crate::target::Kind;
use crate::watcher::build_prober;

/// Probes everything once, each check by its own settings (an `interval` does not
/// apply: every check is probed); returns whether all checks were healthy.
pub fn run_once(config: &Config, out: &mut impl Write) -> Result<bool, String> {
    let prober = build_prober(config)?;
    let requests: Vec<ProbeRequest<'_>> = config
        .checks
        .iter()
        .enumerate()
        .flat_map(|(check, spec)| {
            spec.targets.iter().map(move |target| ProbeRequest {
                check,
                target,
                read_cert: false,
            })
        })
        .collect();
    let outcomes = prober.probe_all(&requests);
    let mut all_healthy = true;
    for (request, outcome) in requests.iter().zip(&outcomes) {
        let target = request.target;
        let ms = outcome.latency.as_millis();
        let line = match &outcome.result {
            Ok(0) if target.kind() == Kind::Exec => format!("healthy {target} exited 0 {ms}ms"),
            Ok(0) if config.checks[request.check].probe.expect.is_some() => {
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
