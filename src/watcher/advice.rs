//! Advice on the parts of supervisord.conf that decide whether restarts work, read
//! from supervisord at start. Two rules: httpok's own stopwaitsecs must exceed those of
//! the programs it restarts, or `supervisorctl stop/restart httpok` during a restart
//! SIGKILLs httpok before it can issue the start, and the program stays STOPPED; and a
//! program a check names must exist (a typo restarts nothing, silently, forever).
//! Pure: the facts are passed in.

use crate::planner::selection::{Exclusions, Selection, spec_matches_namespec};

/// A WARN line when httpok (`own`) would be SIGKILLed while waiting for a stop.
pub fn stopwait_advice(
    own: &str,
    stopwaits: &[(String, i64)],
    selections: &[Selection],
    exclusions: &Exclusions,
) -> Option<String> {
    let (_, own_secs) = stopwaits.iter().find(|(ns, _)| ns == own)?;
    let watched = |ns: &str| {
        ns != own
            && !exclusions
                .names
                .iter()
                .any(|spec| spec_matches_namespec(spec, ns))
            && selections.iter().any(|s| s.names(ns))
    };
    let (slowest, secs) = stopwaits
        .iter()
        .filter(|(ns, _)| watched(ns))
        .max_by_key(|(_, secs)| *secs)?;
    (own_secs <= secs).then(|| {
        format!(
            "httpok's stopwaitsecs ({own_secs}) is not above {slowest}'s ({secs}): stopping or \
             restarting httpok while it restarts {slowest} can leave {slowest} STOPPED. Set \
             stopwaitsecs={} in [eventlistener:{own}] (and --state-file, so a restart cut \
             short is finished by the next httpok)",
            secs + 10
        )
    })
}

/// A WARN line for each `-p`/`program` spec that names no process supervisord knows
/// (`known`: every namespec of getAllConfigInfo).
pub fn unknown_program_advice(known: &[String], selections: &[Selection]) -> Vec<String> {
    let mut specs: Vec<&String> = selections
        .iter()
        .filter_map(|s| match s {
            Selection::Programs(specs) => Some(specs),
            Selection::Any => None,
        })
        .flatten()
        .filter(|spec| !known.iter().any(|ns| spec_matches_namespec(spec, ns)))
        .collect();
    specs.dedup();
    specs
        .into_iter()
        .map(|spec| {
            format!(
                "a check names program {spec}, which supervisord has no process of (a \
                 typo? supervisorctl avail lists them): nothing is restarted for it until \
                 it is added"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_no_process_of_supervisord_matches_is_named() {
        let known: Vec<String> = ["web", "api:app", "api:worker"].map(String::from).to_vec();
        let sel = [
            Selection::Programs(vec!["web".into(), "api:*".into(), "ghost".into()]),
            Selection::Programs(vec!["api:app".into(), "api:nope".into()]),
            Selection::Any,
        ];
        let advice = unknown_program_advice(&known, &sel);
        assert_eq!(advice.len(), 2, "{advice:?}");
        assert!(
            advice[0].starts_with("a check names program ghost,"),
            "{advice:?}"
        );
        assert!(
            advice[1].starts_with("a check names program api:nope,"),
            "{advice:?}"
        );
    }

    fn table() -> Vec<(String, i64)> {
        vec![
            ("httpok".into(), 10),
            ("web".into(), 15),
            ("api".into(), 5),
            ("other".into(), 60),
        ]
    }

    #[test]
    fn a_watched_program_with_a_longer_stop_is_named_with_a_fix() {
        let sel = [Selection::Programs(vec!["web".into(), "api".into()])];
        let advice = stopwait_advice("httpok", &table(), &sel, &Exclusions::default());
        let advice = advice.expect("advice");
        assert!(advice.contains("not above web's (15)"), "{advice}");
        assert!(
            advice.contains("stopwaitsecs=25 in [eventlistener:httpok]"),
            "{advice}"
        );
    }

    #[test]
    fn programs_it_does_not_restart_do_not_count() {
        let sel = [Selection::Programs(vec!["api".into()])];
        assert_eq!(
            stopwait_advice("httpok", &table(), &sel, &Exclusions::default()),
            None
        );
        let any = [Selection::Any];
        let ex = Exclusions {
            own: None,
            names: vec!["other".into(), "web".into()],
        };
        assert_eq!(stopwait_advice("httpok", &table(), &any, &ex), None);
        assert!(stopwait_advice("httpok", &table(), &any, &Exclusions::default()).is_some());
    }

    #[test]
    fn without_its_own_entry_it_says_nothing() {
        let sel = [Selection::Any];
        assert_eq!(
            stopwait_advice("elsewhere", &table(), &sel, &Exclusions::default()),
            None
        );
    }
}
