//! What `/status` and `/metrics` show, as a view of the planner: the rounds, each
//! check's last result and count, each target's last probe, each program's state and
//! restart counts. Built from the one value that also makes the state file
//! (`persist.rs`), so the two never disagree.

use std::time::{Duration, SystemTime};

use super::Planner;
use super::check::{Check, CheckTarget};
use crate::planner::status::{
    CheckStatus, HttpAnswer, ProgramStatus, STATUS_FORMAT, Snapshot, TargetStatus, unix_seconds,
};
use crate::probe::{Answer, Failure};

/// The rounds so far.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rounds {
    pub(super) total: u64,
    pub(super) last_took: Duration,
    /// When the last round ended; before the first, when httpok started.
    pub(super) last_ended: SystemTime,
    /// Whether the process list could be read the last time it was asked for.
    pub(super) supervisord_up: Option<bool>,
}

impl Rounds {
    pub(super) fn new(started: SystemTime) -> Rounds {
        Rounds {
            total: 0,
            last_took: Duration::ZERO,
            last_ended: started,
            supervisord_up: None,
        }
    }
}

impl Planner {
    /// A round ended at `ended` after `took`; `supervisord_up`: whether its process
    /// list could be read (`None`: it was not asked for).
    pub(super) fn round_ended(
        &mut self,
        took: Duration,
        ended: SystemTime,
        supervisord_up: Option<bool>,
    ) {
        let rounds = &mut self.rounds;
        rounds.total = rounds.total.saturating_add(1);
        rounds.last_took = took;
        rounds.last_ended = ended;
        if supervisord_up.is_some() {
            rounds.supervisord_up = supervisord_up;
        }
    }

    /// What the metrics endpoint and `--status` show now.
    pub fn status(&self) -> Snapshot {
        Snapshot {
            format: STATUS_FORMAT,
            version: env!("CARGO_PKG_VERSION").to_string(),
            rounds_total: self.rounds.total,
            last_round_seconds: self.rounds.last_took.as_secs_f64(),
            last_round_timestamp_seconds: unix_seconds(self.rounds.last_ended),
            supervisord_up: self.rounds.supervisord_up,
            checks: self.checks.values().map(check_status).collect(),
            programs: self
                .programs
                .values()
                .map(|p| {
                    let counts = p.counts();
                    ProgramStatus {
                        program: p.namespec.clone(),
                        state: p.state().word().to_string(),
                        restarted: counts.restarted,
                        failed: counts.failed,
                        skipped: counts.skipped,
                        given_up: p.gave_up(),
                        restarts_in_window: u32::try_from(p.restarts_in_window())
                            .unwrap_or(u32::MAX),
                    }
                })
                .collect(),
        }
    }
}

fn check_status(check: &Check) -> CheckStatus {
    CheckStatus {
        check: check.label.clone(),
        program: check.selection.label(),
        healthy: check.last.map(|l| l.healthy),
        reason: check.reason.clone(),
        consecutive_failures: check.streak(),
        targets: check.targets.iter().map(target_status).collect(),
    }
}

fn target_status(target: &CheckTarget) -> TargetStatus {
    let last = target.last.as_ref();
    TargetStatus {
        target: target.shown.clone(),
        success: last.map(|l| l.result.is_ok()),
        duration_seconds: last.map_or(0.0, |l| l.latency.as_secs_f64()),
        http_status: match last.map(|l| &l.result) {
            Some(Ok(status) | Err(Failure::Status(status))) => *status,
            _ => 0,
        },
        cert_expiry: target.cert.as_ref().map(|c| c.not_after),
        cert_expiring: target.cert.as_ref().map(|c| c.expiring.clone()),
        tls_version: target.cert.as_ref().map(|c| c.tls_version.to_string()),
        http: last.filter(|_| target.http).map(|l| http_answer(l.answer)),
        failed_due_to_regex: matches!(
            last.map(|l| &l.result),
            Some(Err(Failure::BodyMissing(_)
                | Failure::BodyNoMatch(_)
                | Failure::BodyMatched(_)
                | Failure::ExpectMissing(_)))
        ),
        dns_lookup_seconds: last.and_then(|l| l.dns_lookup).map(|d| d.as_secs_f64()),
    }
}

/// blackbox_exporter's values for an http probe: those of the answer, or zeros when
/// none came.
fn http_answer(answer: Option<Answer>) -> HttpAnswer {
    match answer {
        Some(a) => HttpAnswer {
            content_length: a.content_length,
            version: f64::from(a.version.0) + f64::from(a.version.1) / 10.0,
            ssl: a.tls,
        },
        None => HttpAnswer::default(),
    }
}
