//! What a failing check says: its --on-change notices, and its incidents.
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

use super::Planner;
use super::check::{CheckState, Incident};
use crate::planner::lifecycle::Cause;
use crate::planner::plan::{About, CheckId, Notice, Plan, StateWord};
use crate::planner::selection::{Resolved, spec_matches_namespec};

/// A check mails about its incidents at most this often (see the module docs).
pub(crate) const MAIL_HOLD: Duration = Duration::from_secs(15 * 60);

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
    /// The --on-change "failing" notice, when the check's failure first counts.
    pub(super) fn announce_failing(&mut self, id: CheckId, cause: &Cause, plan: &mut Plan) {
        if self.checks.get_mut(&id).is_some_and(|c| c.announce()) {
            let notice = self.check_change(id, StateWord::Failing, StateWord::Healthy, Some(cause));
            plan.notices.push(notice);
        }
    }

    /// The check's --on-change notice: its label and the programs it names; the
    /// failing URL and why (`cause`), or, when it recovers, its URLs.
    pub(super) fn check_change(
        &self,
        id: CheckId,
        state: StateWord,
        previous: StateWord,
        cause: Option<&Cause>,
    ) -> Notice {
        let (check, program, urls) = self
            .checks
            .get(&id)
            .map(|c| {
                let urls: Vec<&str> = c.targets.iter().map(|t| t.name.as_str()).collect();
                (c.label.clone(), c.selection.label(), urls.join(" "))
            })
            .unwrap_or_default();
        Notice::Change {
            about: About::Check,
            check,
            url: cause.map_or(urls, |c| c.url.clone()),
            program,
            state,
            previous,
            reason: cause.map(|c| c.reason.clone()).unwrap_or_default(),
        }
    }

    /// A check without programs failed: counted and announced as any failure, then an
    /// incident (it restarts nothing).
    pub(super) fn fail_without_program(
        &mut self,
        id: CheckId,
        cause: &Cause,
        now: Instant,
        plan: &mut Plan,
    ) {
        self.announce_failing(id, cause, plan);
        self.fail_unjudged(id, cause, &Unjudged::NoProgram, now, plan);
    }

    /// The check failed and restarts nothing, for `why`: the incident's WARN when it
    /// begins, and its mail once the check has failed `failures` rounds in a row.
    pub(super) fn fail_unjudged(
        &mut self,
        id: CheckId,
        cause: &Cause,
        why: &Unjudged,
        now: Instant,
        plan: &mut Plan,
    ) {
        let Some(check) = self.checks.get_mut(&id) else {
            return;
        };
        let threshold = check.policy.failures;
        let held = check
            .last_mail
            .is_some_and(|t| now.saturating_duration_since(t) < MAIL_HOLD);
        // Counted by this round's verdict already: the check fails.
        let CheckState::Failing(failing) = &mut check.state else {
            return;
        };
        let line = format!("{}; nothing is restarted: {}", cause.line(), why.text());
        let incident = match &mut failing.incident {
            Some(incident) => {
                plan.debug(format!("{line} (said when it began)"));
                incident
            }
            None => {
                plan.warn(line.clone());
                failing.incident.insert(Incident {
                    about: cause.about(),
                    mailed: false,
                })
            }
        };
        if why.mails() && !incident.mailed && !held && failing.streak >= threshold {
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
        let mut told = self.told_down(resolved)?;
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
        let mut unresolved = unresolved_specs(&unknown, resolved);
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

    /// `NAME is STOPPED` for each down process of a failing check (the lifecycle said
    /// so, and mailed it); `None` while one of them may yet be judged (RUNNING,
    /// starting, in grace, being restarted). One given up on was said then.
    fn told_down(&self, resolved: &Resolved<'_>) -> Option<Vec<String>> {
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
        Some(told)
    }
}

/// What is wrong with a check's specs: ones no process is named by (`unknown`), and
/// ones that name processes in several groups.
fn unresolved_specs(unknown: &[&String], resolved: &Resolved<'_>) -> Vec<String> {
    let mut unresolved = Vec::new();
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
        unresolved.push(format!(
            "no process in supervisord is named {} (a typo? supervisorctl avail lists them)",
            names.join(" or ")
        ));
    }
    for (spec, matches) in &resolved.ambiguous {
        unresolved.push(format!(
            "{spec} matches processes in several groups ({}): name one as group:name",
            matches.join(", ")
        ));
    }
    unresolved
}
