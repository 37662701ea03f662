//! A round's probes: which checks are due (`interval`, `-E`), one request per target
//! (and, hourly, an https target's certificate), the verdicts, and the certificates'
//! WARN and mail (`cert_watch.rs`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Shared, Watcher, apply, lock};
use crate::cert_watch::CertWatch;
use crate::config::{CheckSpec, Config};
use crate::keeper::epoch_now;
use crate::lifecycle::Cause;
use crate::model::ProcessInfo;
use crate::plan::Plan;
use crate::planner::Verdict;
use crate::probe::{Failure, Outcome, ProbeRequest, ProbeSettings, Prober};
use crate::target::Target;

/// A check with an `interval` is probed when that much has passed since its last
/// probe, less this: rounds start on TICKs, a few milliseconds either side of the
/// boundary, and `interval = 30` on TICK_5 must mean every sixth round, not seventh.
const INTERVAL_SLACK: Duration = Duration::from_secs(1);

impl Watcher {
    /// Probes every check that should be probed; one verdict per check. `unlisted`:
    /// the process list could not be read, so -E cannot tell what runs and probes all.
    pub(super) fn probe(&mut self, early: Option<&[ProcessInfo]>, unlisted: bool) -> Vec<Verdict> {
        let now = Instant::now();
        let running = |check: &CheckSpec| {
            self.eager
                || unlisted
                || early.is_some_and(|processes| {
                    let resolved = check.selection.resolve(processes, &self.exclusions);
                    resolved.processes.iter().any(|p| p.is_running())
                })
        };
        let due = |check: &CheckSpec, last: &Option<Instant>| match (check.policy.interval, last) {
            (Some(interval), Some(last)) => {
                now.saturating_duration_since(*last) + INTERVAL_SLACK >= interval
            }
            _ => true,
        };
        let probed: Vec<Pace> = self
            .checks
            .iter()
            .zip(&self.last_probed)
            .map(|(check, last)| {
                if !due(check, last) {
                    Pace::NotDue
                } else if !running(check) {
                    Pace::NothingRunning
                } else {
                    Pace::Probe
                }
            })
            .collect();
        for (last, pace) in self.last_probed.iter_mut().zip(&probed) {
            if *pace == Pace::Probe {
                *last = Some(now);
            }
        }
        let certs = &self.certs;
        let requests: Vec<ProbeRequest<'_>> = self
            .checks
            .iter()
            .enumerate()
            .zip(&probed)
            .filter(|(_, pace)| **pace == Pace::Probe)
            .flat_map(|((check, spec), _)| {
                spec.targets.iter().map(move |target| ProbeRequest {
                    check,
                    target,
                    read_cert: target.https_authority().is_some()
                        && certs.due(&target.to_string(), now),
                })
            })
            .collect();
        let outcomes = self.prober.probe_all(&requests);
        note_certs(&mut self.certs, &self.shared, &requests, &outcomes, now);
        if requests.iter().any(|r| r.read_cert) {
            let saved = self.certs.export(now, epoch_now());
            self.shared.keeper.note_certs(saved);
        }
        note_unrunnable(&mut self.unrunnable, &requests, &outcomes);
        note_starved(&mut self.starved, &outcomes);
        let mut outcomes = outcomes.into_iter();
        let mut status = lock(&self.shared.status);
        self.checks
            .iter()
            .zip(&probed)
            .enumerate()
            .map(|(i, (check, pace))| match pace {
                Pace::Probe => {
                    let mine: Vec<Outcome> = outcomes.by_ref().take(check.targets.len()).collect();
                    let verdict = verdict(check, &mine);
                    status.record_probe(i, &mine, &verdict);
                    verdict
                }
                Pace::NothingRunning => {
                    log::debug!(
                        "{}: no watched program is RUNNING; not probing (-E)",
                        check.label()
                    );
                    Verdict::NotProbed
                }
                // Its interval has not passed: its last result stands (the planner's).
                Pace::NotDue => Verdict::NotDue,
            })
            .collect()
    }
}

/// An exec check whose command cannot run (removed, not executable) says so once, as
/// an ERROR, and again when it runs: its program is not at fault.
fn note_unrunnable(
    unrunnable: &mut HashSet<String>,
    requests: &[ProbeRequest<'_>],
    outcomes: &[Outcome],
) {
    for (request, outcome) in requests.iter().zip(outcomes) {
        let cannot_run = matches!(outcome.result, Err(Failure::Unrunnable(_)));
        // Most rounds have nothing to say: no label is made for them.
        if !cannot_run && unrunnable.is_empty() {
            continue;
        }
        let target = request.target.to_string();
        match &outcome.result {
            Err(Failure::Unrunnable(why)) => {
                if unrunnable.insert(target.clone()) {
                    log::error!(
                        "{target}: {why}; this check cannot judge its program(s) and \
                         restarts nothing until its command runs: fix the check"
                    );
                }
            }
            _ => {
                if unrunnable.remove(&target) {
                    log::info!("{target}: its command runs again");
                }
            }
        }
    }
}

/// Probes httpok could not make for want of its own descriptors or memory: one ERROR
/// when that starts, one INFO once a round's probes are all made again. Such a probe
/// judges nothing ([`verdict`]): restarting a healthy program because httpok is out of
/// descriptors would be the watchdog doing harm.
fn note_starved(starved: &mut bool, outcomes: &[Outcome]) {
    let why = outcomes.iter().find_map(|o| match &o.result {
        Err(Failure::Starved(why)) => Some(why),
        _ => None,
    });
    match why {
        Some(why) if !*starved => {
            *starved = true;
            log::error!(
                "httpok cannot make its probes: {why}; the checks it cannot probe judge \
                 nothing and restart nothing until it can. Raise minfds in [supervisord] \
                 (its programs get that limit), or see what holds httpok's descriptors \
                 (ls -l /proc/{}/fd)",
                std::process::id()
            );
        }
        None if *starved && !outcomes.is_empty() => {
            *starved = false;
            log::info!("httpok can make its probes again");
        }
        _ => {}
    }
}

/// The certificates read this round: their WARN and mail, if due (cert_watch.rs).
fn note_certs(
    certs: &mut CertWatch,
    shared: &Arc<Shared>,
    requests: &[ProbeRequest<'_>],
    outcomes: &[Outcome],
    now: Instant,
) {
    let mut plan = Plan::default();
    let epoch = epoch_now();
    for (request, outcome) in requests.iter().zip(outcomes) {
        if request.read_cert {
            let target = request.target.to_string();
            certs.record(&target, outcome.cert_expiry, now, epoch, &mut plan);
        }
    }
    apply(shared, plan);
}

/// Whether a check is probed this round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    Probe,
    /// Its `interval` has not passed since its last probe.
    NotDue,
    /// -E and none of its programs is RUNNING.
    NothingRunning,
}

/// A check's verdict from its targets' outcomes: failing at its first failure, not
/// judged at all if one of its commands cannot run (that is the check's fault) or
/// httpok could not make one of its probes (httpok's).
fn verdict(check: &CheckSpec, outcomes: &[Outcome]) -> Verdict {
    let mut first = None;
    for (target, outcome) in check.targets.iter().zip(outcomes) {
        if let Err(Failure::Unrunnable(_) | Failure::Starved(_)) = &outcome.result {
            return Verdict::NotProbed;
        }
        if let Err(failure) = &outcome.result {
            first.get_or_insert(Cause {
                url: target.to_string(),
                reason: failure.to_string(),
                summary: failure.subject(),
            });
        }
    }
    first.map_or(Verdict::Healthy, Verdict::Failing)
}

/// The prober for a config's checks, each with its own settings.
pub fn build_prober(config: &Config) -> Result<Prober, String> {
    let checks: Vec<(&ProbeSettings, &[Target])> = config
        .checks
        .iter()
        .map(|c| (&c.probe, c.targets.as_slice()))
        .collect();
    Prober::new(&checks)
}
