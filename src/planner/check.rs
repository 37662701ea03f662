//! One check as one value: what it is (its label, the programs it names, its policy,
//! its targets), its schedule (when it was last probed), its state (passing, or failing
//! with its counts, its --on-change notice and its incident), its last results (each
//! target's last probe, its last verdict) and what it has said. Found by its
//! [`CheckId`]; nothing about a check is kept anywhere else.
//!
//! pingora's shape: the check owns its state and one method, [`Check::count`], takes a
//! round's verdict and says whether it flipped back to passing (a failure is counted and
//! announced by the planner, which knows whether its programs can be judged).

use std::time::{Duration, Instant};

use super::{CheckPolicy, Verdict};
use crate::config::target::{Target, redact};
use crate::planner::lifecycle::Cause;
use crate::planner::plan::CheckId;
use crate::planner::selection::Selection;
use crate::probe::cert::ChainRead;
use crate::probe::{Answer, Failure, Outcome};

/// One check and everything httpok knows of it.
#[derive(Debug, Clone)]
pub struct Check {
    pub(super) id: CheckId,
    /// Its name in logs, notices, metrics and the state file (its URLs unless named).
    pub(super) label: String,
    /// Its `name`, when it has one.
    pub(super) name: Option<String>,
    pub(super) selection: Selection,
    pub(super) policy: CheckPolicy,
    pub(super) targets: Vec<CheckTarget>,
    /// When its probes were last ordered (toward its `interval`).
    pub(super) last_probed: Option<Instant>,
    pub(super) state: CheckState,
    /// Its last probed result, for the rounds its `interval` skips.
    pub(super) last: Option<Probed>,
    /// Why it fails, while it does (`/status`).
    pub(super) reason: Option<String>,
    /// Programs this check queued whose restart has not ended, in restart order.
    pub(super) rolling: Vec<String>,
    /// `-p` specs reported missing or ambiguous, so each change is said once.
    pub(super) reported: Vec<String>,
    /// When it last mailed about an incident.
    pub(super) last_mail: Option<Instant>,
}

/// Whether a check fails, and what its failure has counted and said so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CheckState {
    /// Healthy, or never probed: nothing to end.
    #[default]
    Passing,
    /// Failing until `successes` healthy rounds in a row end it.
    Failing(Failing),
}

/// A failing check's counts and what it said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failing {
    /// Failed rounds counted toward its `failures` threshold (a trip starts it again).
    pub counted: u32,
    /// Failed rounds in a row, whatever was counted (metrics, the incident's mail).
    pub streak: u32,
    /// Healthy rounds in a row since its last failure, toward `successes`.
    pub passes: u32,
    /// The --on-change "failing" notice was given.
    pub announced: bool,
    /// Its failure restarts nothing for a reason no restart will end, while it lasts.
    pub incident: Option<Incident>,
}

/// A failure that restarts nothing (see `incidents.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// The failure that began it as lines name it ([`Cause::about`]), for the line
    /// when it ends.
    pub about: String,
    pub mailed: bool,
}

/// A failure that ended: what it had said, so its end is said too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ended {
    pub(super) announced: bool,
    pub(super) incident: Option<Incident>,
}

/// How a counted failure stands against the check's `failures` threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counted {
    /// Counted this many times, under the threshold.
    Below(u32),
    /// The threshold is reached: the check trips (and counts from nothing again).
    Tripped,
}

/// A check's result when it was last probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Probed {
    pub(super) healthy: bool,
    /// When the probes of that round began.
    pub(super) at: Instant,
}

/// One target of a check and its last probe.
#[derive(Debug, Clone)]
pub struct CheckTarget {
    /// As logs and causes name it (query secrets hidden).
    pub(super) name: String,
    /// As `/status` and `/metrics` show it (credentials redacted too).
    pub(super) shown: String,
    /// An https URL: its certificate is read too, hourly.
    pub(super) https: bool,
    /// An http, https or http+unix URL: it has an answer's `probe_http_*`.
    pub(super) http: bool,
    /// Its last probe.
    pub(super) last: Option<TargetProbe>,
    /// Its certificates when last read (earliest expiry, TLS version): they stand in
    /// between.
    pub(super) cert: Option<ChainRead>,
}

/// A target's last probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TargetProbe {
    pub(super) result: Result<u16, Failure>,
    pub(super) latency: Duration,
    pub(super) answer: Option<Answer>,
    pub(super) dns_lookup: Option<Duration>,
}

impl Check {
    /// A check as configured (its `name`, if any): nothing probed, passing.
    pub fn new(
        id: CheckId,
        name: Option<String>,
        selection: Selection,
        policy: CheckPolicy,
        targets: &[Target],
    ) -> Check {
        let label = name.clone().unwrap_or_else(|| {
            let urls: Vec<String> = targets.iter().map(Target::to_string).collect();
            urls.join(" ")
        });
        Check {
            id,
            label,
            name,
            selection,
            policy,
            targets: targets.iter().map(CheckTarget::new).collect(),
            last_probed: None,
            state: CheckState::Passing,
            last: None,
            reason: None,
            rolling: Vec::new(),
            reported: Vec::new(),
            last_mail: None,
        }
    }

    /// The check as lines name it: `NAME (URLs)`, or its URLs when it has no name.
    pub(super) fn about(&self) -> String {
        match &self.name {
            Some(name) => {
                let urls: Vec<&str> = self.targets.iter().map(|t| t.name.as_str()).collect();
                format!("{name} ({})", urls.join(" "))
            }
            None => self.label.clone(),
        }
    }

    /// Failed rounds in a row (httpok_check_consecutive_failures).
    pub fn streak(&self) -> u32 {
        match &self.state {
            CheckState::Passing => 0,
            CheckState::Failing(f) => f.streak,
        }
    }

    /// Failed rounds counted toward its threshold (what `--state-file` keeps).
    pub fn counted(&self) -> u32 {
        match &self.state {
            CheckState::Passing => 0,
            CheckState::Failing(f) => f.counted,
        }
    }

    /// A count a state file kept: failing, with that many rounds counted.
    pub(super) fn restore(&mut self, counted: u32) {
        if counted > 0 {
            self.state = CheckState::Failing(Failing {
                counted,
                ..Failing::default()
            });
        }
    }

    /// Takes in a round's verdict (probes begun at `at`): its last result, and its
    /// state. Returns what ended when a healthy round ends its failure: `successes`
    /// healthy rounds in a row.
    pub(super) fn count(&mut self, verdict: &Verdict, at: Instant) -> Option<Ended> {
        match verdict {
            Verdict::Healthy => {
                self.last = Some(Probed { healthy: true, at });
                self.reason = None;
                let CheckState::Failing(failing) = &mut self.state else {
                    return None;
                };
                failing.passes = failing.passes.saturating_add(1);
                if failing.passes < self.policy.successes {
                    return None;
                }
                let CheckState::Failing(failing) = std::mem::take(&mut self.state) else {
                    return None;
                };
                Some(Ended {
                    announced: failing.announced,
                    incident: failing.incident,
                })
            }
            Verdict::Failing(cause) => {
                self.last = Some(Probed { healthy: false, at });
                self.reason = Some(cause.line());
                match &mut self.state {
                    CheckState::Passing => {
                        self.state = CheckState::Failing(Failing {
                            streak: 1,
                            ..Failing::default()
                        });
                    }
                    CheckState::Failing(failing) => {
                        failing.streak = failing.streak.saturating_add(1);
                        failing.passes = 0;
                    }
                }
                None
            }
            // Probed, but its command cannot run: no reason to show, nothing counted.
            Verdict::CannotRun => {
                self.reason = None;
                None
            }
            Verdict::NotDue | Verdict::NothingRunning => None,
        }
    }

    /// Counts a failure against the threshold (its programs can be judged).
    pub(super) fn count_failure(&mut self) -> Counted {
        let threshold = self.policy.failures;
        let CheckState::Failing(failing) = &mut self.state else {
            return Counted::Below(0);
        };
        failing.counted = failing.counted.saturating_add(1);
        if failing.counted < threshold {
            return Counted::Below(failing.counted);
        }
        failing.counted = 0;
        Counted::Tripped
    }

    /// Marks its failure announced (--on-change "failing"); whether it was not yet.
    pub(super) fn announce(&mut self) -> bool {
        match &mut self.state {
            CheckState::Failing(failing) if !failing.announced => {
                failing.announced = true;
                true
            }
            _ => false,
        }
    }

    /// Its verdict from its targets' last probes (all of this round when it was
    /// probed): failing at its first failure, not judged at all if one of its commands
    /// cannot run (that is the check's fault, not its programs') or httpok could not
    /// make one of its probes (httpok's).
    pub(super) fn verdict(&self) -> Verdict {
        let mut first = None;
        for target in &self.targets {
            let Some(TargetProbe { result, .. }) = &target.last else {
                continue;
            };
            match result {
                // httpok's own want of descriptors or memory is not its programs' fault.
                Err(Failure::Unrunnable(_) | Failure::Starved(_)) => return Verdict::CannotRun,
                Err(failure) => {
                    first.get_or_insert_with(|| Cause {
                        check: self.name.clone(),
                        url: target.name.clone(),
                        reason: failure.to_string(),
                        summary: failure.subject(),
                    });
                }
                Ok(_) => {}
            }
        }
        first.map_or(Verdict::Healthy, Verdict::Failing)
    }
}

impl CheckTarget {
    fn new(target: &Target) -> CheckTarget {
        let name = target.to_string();
        CheckTarget {
            shown: redact(&name),
            https: target.https_authority().is_some(),
            http: matches!(target, Target::Http { .. } | Target::HttpUnix { .. }),
            name,
            last: None,
            cert: None,
        }
    }

    /// Takes in its probe's outcome.
    pub(super) fn record(&mut self, outcome: &Outcome) {
        // Read about once an hour: the last value stands in between.
        if outcome.cert.is_some() {
            self.cert.clone_from(&outcome.cert);
        }
        self.last = Some(TargetProbe {
            result: outcome.result.clone(),
            latency: outcome.latency,
            answer: outcome.answer,
            dns_lookup: outcome.dns_lookup,
        });
    }
}
