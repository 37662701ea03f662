//! Each check's own count and story: its failed and healthy rounds in a row, its last
//! probed result, the --on-change notices of the check, and its incidents.
//!
//! An **incident** is a failure that restarts nothing for a reason no restart will end:
//! the check names no program, or none that exists (`-p wbe`), or only excluded or
//! stopped ones, or supervisord's process list cannot be read (down, a 401). It gets
//! one WARN when it begins (`URL: REASON; nothing is restarted: WHY`), at most one mail
//! (once the check has failed `failures` rounds in a row), and one INFO line when the
//! check has passed `successes` rounds in a row (`URL passes again`). A check that
//! flaps is told in the log at each flap, but mails at most once per [`MAIL_HOLD`]: the
//! mail of an incident that begins sooner waits until then, and goes only if the check
//! still fails.

use std::time::{Duration, Instant};

use super::{Planner, Verdict};
use crate::lifecycle::{Cause, RoundClock};
use crate::plan::{About, Notice, Plan, StateWord};
use crate::selection::{Resolved, spec_matches_namespec};

/// A check mails about its incidents at most this often (see the module docs).
pub(crate) const MAIL_HOLD: Duration = Duration::from_secs(15 * 60);

/// One check's count and what it has said.
#[derive(Debug, Clone, Default)]
pub(super) struct CheckState {
    pub(super) failures: u32,
    /// Failed rounds in a row, whatever was counted (for metrics and the incident's
    /// mail): a trip resets `failures`, not this.
    pub(super) streak: u32,
    /// Healthy rounds in a row since the last failure (toward `successes`).
    healthy: u32,
    /// Its last probed result, for the rounds its `interval` skips.
    pub(super) last: Option<Probed>,
    /// Programs this check queued whose restart has not ended, in restart order.
    pub(super) rolling: Vec<String>,
    /// `-p` specs reported missing or ambiguous, so each change is said once.
    pub(super) reported: Vec<String>,
    /// Its failure that restarts nothing, while it lasts.
    incident: Option<Incident>,
    /// When it last mailed about an incident.
    last_mail: Option<Instant>,
    /// Its current failure was counted and announced (--on-change "failing").
    announced: bool,
}

/// A check's result when it was last probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Probed {
    pub(super) healthy: bool,
    /// When the probes of that round began.
    pub(super) at: Instant,
}

#[derive(Debug, Clone)]
struct Incident {
    /// The failing URL that began it, for the line when it ends.
    url: String,
    mailed: bool,
}

/// Why a failing check restarts nothing: the WARN's "nothing is restarted: ...".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Unjudged {
    /// No program at all (URLs without -p or -a): it only logs and mails.
    NoProgram,
    /// supervisord's process list cannot be read; its error.
    Unlisted(String),
    /// Its specs match no process, several, or only excluded ones (and maybe some of
    /// its processes are down).
    Unresolved(String),
    /// Every process it names is STOPPED, EXITED or FATAL, or left supervisord's list:
    /// each had its own line (and the down ones their mail), so this WARN is not mailed.
    Told(String),
}

impl Unjudged {
    fn text(&self) -> String {
        match self {
            Unjudged::NoProgram => "this check names no program (it only logs and mails)".into(),
            Unjudged::Unlisted(error) => {
                format!("supervisord's process list cannot be read ({error})")
            }
            Unjudged::Unresolved(why) | Unjudged::Told(why) => why.clone(),
        }
    }

    fn mails(&self) -> bool {
        !matches!(self, Unjudged::Told(_))
    }
}

impl Planner {
    /// A check's streak, its last result, the --on-change notice when it starts or stops
    /// failing, and the end of its incident. A healthy round also resets its count
    /// toward the threshold, once `successes` of them came in a row.
    pub(super) fn count(
        &mut self,
        i: usize,
        verdict: &Verdict,
        clock: &RoundClock,
        plan: &mut Plan,
    ) {
        let successes = self.policies.get(i).map_or(1, |p| p.successes);
        let Some(check) = self.checks.get_mut(i) else {
            return;
        };
        let at = clock.probes_started;
        match verdict {
            Verdict::Healthy => {
                check.last = Some(Probed { healthy: true, at });
                check.healthy = check.healthy.saturating_add(1);
                // A failing check needs `successes` healthy rounds in a row to be healthy.
                let failing = check.failures > 0
                    || check.streak > 0
                    || check.announced
                    || check.incident.is_some();
                if failing && check.healthy < successes {
                    return;
                }
                check.failures = 0;
                check.streak = 0;
                let announced = std::mem::take(&mut check.announced);
                if let Some(incident) = check.incident.take() {
                    plan.info(format!("{} passes again", incident.url));
                }
                if announced {
                    plan.notices.push(self.check_change(
                        i,
                        StateWord::Recovered,
                        StateWord::Failing,
                        String::new(),
                    ));
                }
            }
            Verdict::Failing(_) => {
                check.last = Some(Probed { healthy: false, at });
                check.healthy = 0;
                check.streak += 1;
            }
            Verdict::NotProbed | Verdict::NotDue => {}
        }
    }

    /// The --on-change "failing" notice, when check `i`'s failure first counts.
    pub(super) fn announce_failing(&mut self, i: usize, cause: &Cause, plan: &mut Plan) {
        if self.checks[i].announced {
            return;
        }
        self.checks[i].announced = true;
        plan.notices.push(self.check_change(
            i,
            StateWord::Failing,
            StateWord::Healthy,
            cause.reason.clone(),
        ));
    }

    /// Check `i`'s --on-change notice: its label and the programs it names.
    fn check_change(
        &self,
        i: usize,
        state: StateWord,
        previous: StateWord,
        reason: String,
    ) -> Notice {
        let label = self.labels.get(i).map(String::as_str).unwrap_or_default();
        let program = self
            .selections
            .get(i)
            .map(|s| s.label())
            .unwrap_or_default();
        Notice::Change {
            about: About::Check,
            check: label.to_string(),
            program,
            state,
            previous,
            reason,
        }
    }

    /// A check without programs failed: counted and announced as any failure, then an
    /// incident (it restarts nothing).
    pub(super) fn fail_without_program(
        &mut self,
        i: usize,
        cause: &Cause,
        now: Instant,
        plan: &mut Plan,
    ) {
        self.announce_failing(i, cause, plan);
        self.fail_unjudged(i, cause, &Unjudged::NoProgram, now, plan);
    }

    /// Check `i` failed and restarts nothing, for `why`: the incident's WARN when it
    /// begins, and its mail once the check has failed `failures` rounds in a row.
    pub(super) fn fail_unjudged(
        &mut self,
        i: usize,
        cause: &Cause,
        why: &Unjudged,
        now: Instant,
        plan: &mut Plan,
    ) {
        let threshold = self.policies.get(i).map_or(1, |p| p.failures);
        let Some(check) = self.checks.get_mut(i) else {
            return;
        };
        let line = format!("{}; nothing is restarted: {}", cause.line(), why.text());
        let incident = match &mut check.incident {
            Some(incident) => {
                plan.debug(format!("{line} (said when it began)"));
                incident
            }
            None => {
                plan.warn(line.clone());
                check.incident.insert(Incident {
                    url: cause.url.clone(),
                    mailed: false,
                })
            }
        };
        let held = check
            .last_mail
            .is_some_and(|t| now.saturating_duration_since(t) < MAIL_HOLD);
        if why.mails() && !incident.mailed && !held && check.streak >= threshold {
            incident.mailed = true;
            check.last_mail = Some(now);
            plan.notices.push(Notice::Mail {
                subject: cause.subject(),
                body: vec![line],
            });
        }
    }

    /// Why a failing check whose programs cannot be judged restarts nothing, when no
    /// restart or passing state of supervisord will end it; `None` while one may
    /// (STARTING, in grace, being restarted) or when each was given up on (said then).
    pub(super) fn unjudged_reason(&self, resolved: &Resolved<'_>) -> Option<Unjudged> {
        // Down or removed: the lifecycle said so, and mailed the down ones.
        let mut told = Vec::new();
        for info in &resolved.processes {
            let namespec = info.namespec();
            let program = self.programs.get(&namespec);
            let busy = program.is_some_and(|p| p.is_busy());
            let gave_up = program.is_some_and(|p| p.gave_up());
            if busy || !(info.state.is_down() || gave_up) {
                return None;
            }
            if info.state.is_down() && !gave_up {
                told.push(format!("{namespec} is {}", info.state));
            }
        }
        let (gone, unknown): (Vec<&String>, Vec<&String>) =
            resolved.missing.iter().partition(|spec| {
                self.programs
                    .keys()
                    .any(|namespec| spec_matches_namespec(spec, namespec))
            });
        told.extend(
            gone.iter()
                .map(|spec| format!("{spec} is no longer in supervisord's process list")),
        );
        let mut unresolved = Vec::new();
        if !unknown.is_empty() {
            let names: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
            unresolved.push(format!(
                "no process in supervisord is named {} (a typo? supervisorctl avail lists \
                 them)",
                names.join(" or ")
            ));
        }
        for (spec, matches) in &resolved.ambiguous {
            unresolved.push(format!(
                "{spec} matches processes in several groups ({}): name one as group:name",
                matches.join(", ")
            ));
        }
        if told.is_empty() && unresolved.is_empty() && resolved.processes.is_empty() {
            unresolved
                .push("every process it names is excluded (this listener or --exclude)".into());
        }
        if !unresolved.is_empty() {
            unresolved.extend(told);
            return Some(Unjudged::Unresolved(unresolved.join("; ")));
        }
        (!told.is_empty()).then(|| {
            Unjudged::Told(format!(
                "{} (httpok restarts only RUNNING processes)",
                told.join(", ")
            ))
        })
    }
}
