//! `--once`: probe every check now and print one line per URL to stdout (this mode is
//! not a listener, so stdout is free). Needs no supervisord.

use std::io::{self, Write};

use crate::config::Config;
use crate::target::Target;
use crate::watcher::build_prober;

/// Probes everything once; returns whether all checks were healthy.
pub fn run_once(config: &Config, out: &mut impl Write) -> Result<bool, String> {
    let prober = build_prober(config)?;
    let targets: Vec<&Target> = config
        .checks
        .iter()
        .flat_map(|c| c.targets.iter())
        .collect();
    let outcomes = prober.probe_all(&targets);
    let mut all_healthy = true;
    for (target, outcome) in targets.iter().zip(&outcomes) {
        let ms = outcome.latency.as_millis();
        let line = match &outcome.result {
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
