//! The watcher's parts built from the configuration: each check numbered once (its
//! [`CheckId`]), the planner's [`Check`]s and settings, and the prober with each
//! check's settings and targets under the same ids.

use std::time::SystemTime;

use crate::config::target::Target;
use crate::config::{CheckSpec, Config};
use crate::planner::plan::CheckId;
use crate::planner::selection::Exclusions;
use crate::planner::{Check, Planner, Settings};
use crate::probe::{ProbeSettings, Prober};

/// The configured checks with their ids: the one place ids are given, in configuration
/// order, for the planner, the prober and `--once` alike.
pub fn numbered(checks: &[CheckSpec]) -> impl Iterator<Item = (CheckId, &CheckSpec)> {
    checks
        .iter()
        .enumerate()
        .map(|(n, spec)| (CheckId(n), spec))
}

/// The planner for a config's checks, for an httpok started at `started`.
pub fn build_planner(config: &Config, exclusions: Exclusions, started: SystemTime) -> Planner {
    let checks = numbered(&config.checks)
        .map(|(id, spec)| {
            Check::new(
                id,
                spec.name.clone(),
                spec.selection.clone(),
                spec.policy.clone(),
                &spec.targets,
            )
        })
        .collect();
    let settings = Settings {
        parallel_restarts: config.parallel_restarts,
        exclusions,
        dry_run: config.dry_run,
        eager: config.eager,
        cert_expiry_warn: config.cert_expiry_warn,
    };
    Planner::new(checks, settings, started)
}

/// The prober for a config's checks, each with its own settings.
pub fn build_prober(config: &Config) -> Result<Prober, String> {
    let checks: Vec<(CheckId, &ProbeSettings, &[Target])> = numbered(&config.checks)
        .map(|(id, c)| (id, &c.probe, c.targets.as_slice()))
        .collect();
    Prober::new(&checks)
}
