//! What httpok sees, as data: every check's last result and count, every program's
//! lifecycle state and restart counts, and the rounds. A view of the planner
//! ([`crate::planner::Planner::status`]), published by the watcher after every round
//! and restart; the metrics endpoint renders it (Prometheus text, JSON) and `httpok
//! --status` reads it back. Pure data; URLs in it are already redacted.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The shape of `/status` ([`Snapshot::format`]): raised only by a change that could
/// break a reader (a field removed, renamed, or meaning something else), never for a
/// field added.
pub const STATUS_FORMAT: u32 = 1;

/// Everything the metrics endpoint serves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`STATUS_FORMAT`] of the httpok that answered (0 from one too old to say).
    #[serde(default)]
    pub format: u32,
    /// httpok's version (httpok_build_info).
    pub version: String,
    /// Rounds run since start (httpok_rounds_total).
    pub rounds_total: u64,
    /// How long the last round took (httpok_round_duration_seconds).
    pub last_round_seconds: f64,
    /// When the last round ended, in unix seconds; before the first round, when httpok
    /// started, so that an httpok that never ends a round is seen stuck too
    /// (httpok_last_round_timestamp_seconds). 0 from an httpok too old to say.
    #[serde(default)]
    pub last_round_timestamp_seconds: f64,
    /// Whether supervisord's process list could be read the last time httpok asked
    /// (httpok_supervisord_up); `None` until it first asked. Rounds go on without it,
    /// but nothing can be restarted.
    #[serde(default)]
    pub supervisord_up: Option<bool>,
    pub checks: Vec<CheckStatus>,
    pub programs: Vec<ProgramStatus>,
}

/// One check: its label, the programs it names, and each target's last probe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckStatus {
    /// The check's name in logs (its URLs unless named).
    pub check: String,
    /// The `-p`/`--check` specs it restarts (`*` for -a), joined by ",".
    pub program: String,
    /// `None` until it has been probed.
    pub healthy: Option<bool>,
    /// The reason of its last failure, while it fails.
    pub reason: Option<String>,
    /// Failed rounds in a row (httpok_check_consecutive_failures).
    pub consecutive_failures: u32,
    pub targets: Vec<TargetStatus>,
}

/// One URL of a check and its last probe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetStatus {
    /// The URL, credentials redacted.
    pub target: String,
    /// `None` until probed (probe_success).
    pub success: Option<bool>,
    /// probe_duration_seconds.
    pub duration_seconds: f64,
    /// probe_http_status_code: the status of an HTTP answer (0 for tcp or no answer).
    pub http_status: u16,
    /// probe_ssl_earliest_cert_expiry: epoch seconds the first certificate of the
    /// chain the server presented expires (https, once read).
    pub cert_expiry: Option<i64>,
    /// The certificate that expires then (`CN=...`).
    #[serde(default)]
    pub cert_expiring: Option<String>,
    /// probe_tls_version_info's `version` (`TLS 1.3`), from the same handshake.
    #[serde(default)]
    pub tls_version: Option<String>,
    /// An http(s) target's last answer (`None` for tcp and exec targets, or before the
    /// first probe): probe_http_content_length (-1 without one; 0 when nothing
    /// answered, as blackbox_exporter), probe_http_version (0 when nothing answered),
    /// probe_http_ssl.
    #[serde(default)]
    pub http: Option<HttpAnswer>,
    /// probe_failed_due_to_regex: the last probe failed by a body or expect rule.
    #[serde(default)]
    pub failed_due_to_regex: bool,
    /// probe_dns_lookup_time_seconds (targets with a host: http, https, tcp).
    #[serde(default)]
    pub dns_lookup_seconds: Option<f64>,
}

/// What an http(s) target's last probe got back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpAnswer {
    pub content_length: i64,
    /// 1.0, 1.1; 0 when nothing answered.
    pub version: f64,
    /// Whether the answer came over TLS.
    pub ssl: bool,
}

/// One supervisord process httpok judges.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgramStatus {
    /// Its namespec.
    pub program: String,
    /// The lifecycle state: watching, queued, restarting, recovering, down, gave-up, gone.
    pub state: String,
    /// Restart attempts by outcome (httpok_restarts_total{outcome}).
    pub restarted: u64,
    pub failed: u64,
    pub skipped: u64,
    /// httpok_given_up.
    pub given_up: bool,
    /// Restarts within the --restart-window now.
    pub restarts_in_window: u32,
}

impl Snapshot {
    /// Every check healthy (a check not yet probed counts as not healthy).
    pub fn all_healthy(&self) -> bool {
        self.checks.iter().all(|c| c.healthy == Some(true))
    }
}

/// `at` in unix seconds (0 for a clock set before 1970).
pub(crate) fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_without_the_round_clock_still_reads() {
        // What an httpok from before the field answers to GET /status.
        let old = r#"{"version":"0.1.0","rounds_total":3,"last_round_seconds":0.5,"checks":[],"programs":[]}"#;
        let snap: Snapshot = serde_json::from_str(old).expect("reads");
        assert_eq!(snap.last_round_timestamp_seconds, 0.0);
        assert_eq!(snap.format, 0);
        assert_eq!(snap.rounds_total, 3);
    }
}
