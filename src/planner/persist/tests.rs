//! Taking a state file back under the current policy: what each program carries is
//! said once, against the limits of the checks that name it now.

use std::time::{Duration, Instant};

use super::*;
use crate::planner::CheckPolicy;
use crate::planner::selection::{Exclusions, Selection};
use crate::supervisor::model::{ProcessInfo, ProcessState};

const NOW: i64 = 1_796_256_000; // 2026-12-03 00:00 UTC

fn check(specs: &[&str], max_restarts: Option<(u32, u64)>) -> (Selection, CheckPolicy) {
    let selection = Selection::Programs(specs.iter().map(|s| s.to_string()).collect());
    let policy = CheckPolicy {
        max_restarts: max_restarts.map(|(k, w)| (k, Duration::from_secs(w))),
        ..CheckPolicy::default()
    };
    (selection, policy)
}

fn carried(program: &str, ages: &[i64]) -> SavedProgram {
    SavedProgram {
        program: program.into(),
        restarts: ages.iter().map(|age| NOW - age).collect(),
        ..Default::default()
    }
}

fn lines(checks: Vec<(Selection, CheckPolicy)>, programs: Vec<SavedProgram>) -> Vec<String> {
    let mut planner = Planner::of_checks(checks, 1, Exclusions::default(), false);
    let saved = Saved {
        version: state_file::VERSION,
        programs,
        ..Default::default()
    };
    planner
        .import(&saved, Instant::now(), NOW)
        .plan
        .lines
        .into_iter()
        .map(|l| {
            assert_eq!(l.level, log::Level::Info);
            l.text
        })
        .collect()
}

#[test]
fn restarts_carried_are_told_against_the_current_limits_once_per_program() {
    let got = lines(
        vec![
            check(&["web"], Some((2, 600))),
            check(&["api"], Some((3, 600))),
            check(&["batch"], None),
        ],
        vec![
            // A stricter policy now: the limit is reached by restarts of the last one.
            carried("web", &[500, 100, 40]),
            carried("api", &[100]),
            // No limit now: they limit nothing, and nothing is said.
            carried("batch", &[30]),
            carried("quiet", &[]),
        ],
    );
    assert_eq!(
        got,
        [
            "web: 3 restart(s) carried from the state file, 3 within --restart-window \
             600s; --max-restarts 2 is reached: restarts are allowed again at 2026-12-03 \
             00:08 UTC (in 500s)",
            "api: 1 restart(s) carried from the state file, 1 within --restart-window \
             600s; --max-restarts 3 allows 2 more now",
        ]
    );
}

#[test]
fn a_shorter_window_drops_what_it_no_longer_holds_and_a_future_time_counts_as_now() {
    let got = lines(
        vec![check(&["web"], Some((1, 60)))],
        vec![carried("web", &[3000, 900]), carried("api", &[-500])],
    );
    assert_eq!(
        got,
        [
            "web: 2 restart(s) carried from the state file, 0 within --restart-window \
             60s; --max-restarts 1 allows 1 more now",
            // No check names api: judged by the most careful limits of all.
            "api: 1 restart(s) carried from the state file, 1 within --restart-window \
             60s; --max-restarts 1 is reached: restarts are allowed again at 2026-12-03 \
             00:01 UTC (in 60s)",
        ]
    );
}

#[test]
fn hostile_times_neither_overflow_nor_panic() {
    let programs = vec![SavedProgram {
        program: "web".into(),
        restarts: vec![i64::MIN, i64::MAX, 0],
        ..Default::default()
    }];
    let got = lines(
        vec![check(&["web"], Some((2, u64::MAX / 2)))],
        programs.clone(),
    );
    assert_eq!(got.len(), 1);
    let got = lines(vec![check(&["web"], Some((0, 60)))], programs);
    assert_eq!(got.len(), 1);
}

#[test]
fn a_check_names_a_process_unless_an_exclusion_spares_it() {
    let info = |name: &str| ProcessInfo {
        name: name.into(),
        group: name.into(),
        state: ProcessState::Stopped,
        ..Default::default()
    };
    let exclusions = Exclusions {
        own: Some("httpok".into()),
        names: vec!["other".into()],
    };
    let planner = Planner::of_checks(
        vec![(Selection::Any, CheckPolicy::default())],
        1,
        exclusions,
        false,
    );
    let naming = planner.naming();
    assert!(naming.names(&info("web")));
    assert!(!naming.names(&info("httpok")));
    assert!(!naming.names(&info("other")));
    let planner = Planner::of_checks(vec![check(&["web"], None)], 1, Exclusions::default(), true);
    let naming = planner.naming();
    assert!(naming.names(&info("web")) && !naming.names(&info("api")));
    assert!(planner.dry_run());
}
