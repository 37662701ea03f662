//! A [`Snapshot`] in the Prometheus text exposition format (version 0.0.4), written by
//! prometheus-client. Pure: a snapshot in, the page out. A fresh registry per scrape,
//! so every value is the snapshot's, never a leftover of an earlier scrape.
//!
//! blackbox_exporter's names keep their meaning (one series per target of a check),
//! so alert rules written for it work unchanged; httpok's own facts are `httpok_*`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Metric, Registry};

use crate::planner::status::{CheckStatus, ProgramStatus, Snapshot, TargetStatus};

/// The `Content-Type` of what [`render`] returns.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

type Labels = Vec<(&'static str, String)>;
type IntGauge = Family<Labels, Gauge>;
type FloatGauge = Family<Labels, Gauge<f64, AtomicU64>>;

/// The whole /metrics page.
pub fn render(snapshot: &Snapshot) -> String {
    let mut registry = Registry::default();
    render_checks(&mut registry, &snapshot.checks);
    render_programs(&mut registry, &snapshot.programs);
    render_process(&mut registry, snapshot);
    let mut page = String::new();
    // Writing into a String cannot fail; an error here would be the crate's own bug,
    // and a page cut short is still better than no page.
    if let Err(e) = prometheus_text::encode(&mut page, &registry) {
        log::warn!("metrics: encoding the page failed: {e}");
    }
    page
}

/// Registers `metric` under `name` and hands back a handle to fill it (families and
/// counters share their values between clones).
fn register<M: Metric + Clone + Default>(registry: &mut Registry, name: &str, help: &str) -> M {
    let metric = M::default();
    registry.register(name, help, metric.clone());
    metric
}

/// blackbox_exporter's probe_* per target, and each check's failure count.
fn render_checks(registry: &mut Registry, checks: &[CheckStatus]) {
    let success: IntGauge = register(
        registry,
        "probe_success",
        "Whether the last probe of the target succeeded (1) or failed (0)",
    );
    let duration: FloatGauge = register(
        registry,
        "probe_duration_seconds",
        "How long the last probe of the target took, in seconds",
    );
    let status: IntGauge = register(
        registry,
        "probe_http_status_code",
        "HTTP status of the last answer (0 for tcp:// and exec: or when nothing answered)",
    );
    let expiry: IntGauge = register(
        registry,
        "probe_ssl_earliest_cert_expiry",
        "When the first certificate of the chain the server presented expires, in unix \
         seconds (https:// only)",
    );
    let extra = ExtraGauges::register(registry);
    let failures: IntGauge = register(
        registry,
        "httpok_check_consecutive_failures",
        "Failed rounds in a row of the check, also those not counted toward --failures (no program of it could be judged)",
    );
    for check in checks {
        let of_check = vec![
            ("check", check.check.clone()),
            ("program", check.program.clone()),
        ];
        failures
            .get_or_create(&of_check)
            .set(i64::from(check.consecutive_failures));
        for target in &check.targets {
            // Not probed yet: no probe_* series rather than a made-up 0.
            let Some(ok) = target.success else { continue };
            let mut labels = of_check.clone();
            labels.push(("target", target.target.clone()));
            success.get_or_create(&labels).set(i64::from(ok));
            duration.get_or_create(&labels).set(target.duration_seconds);
            status
                .get_or_create(&labels)
                .set(i64::from(target.http_status));
            if let Some(at) = target.cert_expiry {
                expiry.get_or_create(&labels).set(at);
            }
            extra.fill(target, labels);
        }
    }
}

/// The rest of blackbox_exporter's per-target names httpok has the facts for.
struct ExtraGauges {
    content_length: IntGauge,
    http_version: FloatGauge,
    ssl: IntGauge,
    regex: IntGauge,
    tls_version: IntGauge,
    dns_lookup: FloatGauge,
}

impl ExtraGauges {
    fn register(registry: &mut Registry) -> ExtraGauges {
        ExtraGauges {
            content_length: register(
                registry,
                "probe_http_content_length",
                "Content-Length of the last HTTP answer (-1 without one, 0 when nothing answered)",
            ),
            http_version: register(
                registry,
                "probe_http_version",
                "HTTP version of the last answer (1.1; 0 when nothing answered)",
            ),
            ssl: register(
                registry,
                "probe_http_ssl",
                "Whether the last HTTP answer came over TLS (1) or not (0)",
            ),
            regex: register(
                registry,
                "probe_failed_due_to_regex",
                "Whether the last probe failed by a body rule (body, body_regex, \
                 body_not_regex) or a tcp check's expect (1) or not (0)",
            ),
            tls_version: register(
                registry,
                "probe_tls_version_info",
                "The TLS version the server agreed (label version), read with its \
                 certificates; always 1",
            ),
            dns_lookup: register(
                registry,
                "probe_dns_lookup_time_seconds",
                "How long the last probe spent looking up the target's host name, in seconds",
            ),
        }
    }

    fn fill(&self, target: &TargetStatus, labels: Labels) {
        if let Some(http) = &target.http {
            self.content_length
                .get_or_create(&labels)
                .set(http.content_length);
            self.http_version.get_or_create(&labels).set(http.version);
            self.ssl.get_or_create(&labels).set(i64::from(http.ssl));
        }
        self.regex
            .get_or_create(&labels)
            .set(i64::from(target.failed_due_to_regex));
        if let Some(seconds) = target.dns_lookup_seconds {
            self.dns_lookup.get_or_create(&labels).set(seconds);
        }
        if let Some(version) = &target.tls_version {
            let mut labels = labels;
            labels.push(("version", version.clone()));
            self.tls_version.get_or_create(&labels).set(1);
        }
    }
}

/// Restart counts by outcome, give-ups and the lifecycle state, per program.
fn render_programs(registry: &mut Registry, programs: &[ProgramStatus]) {
    let restarts: Family<Labels, Counter> = register(
        registry,
        "httpok_restarts",
        "Restart attempts since httpok started, by outcome: restarted (RUNNING again), \
         failed (the stop or the start failed), skipped (not RUNNING, or ambiguous)",
    );
    let given_up: IntGauge = register(
        registry,
        "httpok_given_up",
        "Whether httpok gave up on the program after --max-restarts (1) or not (0)",
    );
    let state: IntGauge = register(
        registry,
        "httpok_program_state",
        "The program's state in httpok (label state: watching, queued, restarting, \
         recovering, down, gave-up, gone); always 1",
    );
    for program in programs {
        let name = || ("program", program.program.clone());
        for (outcome, n) in [
            ("restarted", program.restarted),
            ("failed", program.failed),
            ("skipped", program.skipped),
        ] {
            restarts
                .get_or_create(&vec![name(), ("outcome", outcome.to_string())])
                .inc_by(n);
        }
        given_up
            .get_or_create(&vec![name()])
            .set(i64::from(program.given_up));
        state
            .get_or_create(&vec![name(), ("state", program.state.clone())])
            .set(1);
    }
}

/// Rounds and the build.
fn render_process(registry: &mut Registry, snapshot: &Snapshot) {
    let rounds: Counter = register(
        registry,
        "httpok_rounds",
        "Probe rounds run since httpok started (one per TICK it acted on, or per --interval on its own clock)",
    );
    rounds.inc_by(snapshot.rounds_total);
    let round: Gauge<f64, AtomicU64> = register(
        registry,
        "httpok_round_duration_seconds",
        "How long the last round took: probes, the process list and the plan, in seconds",
    );
    round.set(snapshot.last_round_seconds);
    let ended: Gauge<f64, AtomicU64> = register(
        registry,
        "httpok_last_round_timestamp_seconds",
        "When the last round ended, in unix seconds (before the first round: when httpok \
         started); time() minus this grows without end when rounds stop",
    );
    ended.set(snapshot.last_round_timestamp_seconds);
    if let Some(up) = snapshot.supervisord_up {
        let gauge: Gauge = register(
            registry,
            "httpok_supervisord_up",
            "1 when supervisord's process list could be read the last time httpok asked, \
             0 when not (nothing can be restarted then; the log says why)",
        );
        gauge.set(i64::from(up));
    }
    registry.register(
        "httpok_build",
        "httpok's version; always 1",
        Info::new(vec![("version", snapshot.version.clone())]),
    );
}

#[cfg(test)]
mod tests;
