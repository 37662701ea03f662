//! Checks with policies of their own: each counts to its own threshold, `successes`
//! holds a failure until enough healthy rounds, and a program named by several checks
//! is judged by the most careful of them.

use super::*;

fn check(failures: u32) -> CheckPolicy {
    CheckPolicy {
        failures,
        ..CheckPolicy::default()
    }
}

fn planner_of(checks: Vec<(Selection, CheckPolicy)>) -> Planner {
    planner_for(checks, 1, Exclusions::default(), false)
}

/// The rounds (index) in which `verdicts` restarted web.
fn restart_rounds(p: &mut Planner, verdicts: &[Vec<Verdict>], list: &[ProcessInfo]) -> Vec<usize> {
    let clock = Clock(Instant::now());
    let mut restarted = Vec::new();
    for (i, v) in verdicts.iter().enumerate() {
        let plan = round(p, clock.at(i as u64 * 5), v, list);
        for order in &plan.restarts {
            restarted.push(i);
            // Back at once, as the same pid: the next rounds judge it again.
            p.restart_finished(
                &order.namespec,
                &RestartOutcome::Restarted { pid: order.pid },
                &[],
                clock.at(i as u64 * 5).now,
            );
        }
    }
    restarted
}

#[test]
fn each_check_counts_to_its_own_threshold() {
    let mut p = planner_of(vec![
        (programs(&["web"]), check(1)),
        (programs(&["api"]), check(3)),
    ]);
    let list = [running("web", 10), running("api", 20)];
    let clock = Clock(Instant::now());
    let both = [failing("http://web/"), failing("http://api/")];
    let plan = round(&mut p, clock.at(0), &both, &list);
    assert_eq!(orders(&plan), [("web".to_string(), 10)]);
    assert!(has(&plan, "http://api/: status 500 (failing 1/3)"));
    p.restart_finished(
        "web",
        &RestartOutcome::Restarted { pid: 11 },
        &[],
        clock.at(1).now,
    );
    let plan = round(
        &mut p,
        clock.at(5),
        &[Verdict::Healthy, both[1].clone()],
        &list,
    );
    assert!(orders(&plan).is_empty());
    let plan = round(
        &mut p,
        clock.at(10),
        &[Verdict::Healthy, both[1].clone()],
        &list,
    );
    assert_eq!(orders(&plan), [("api".to_string(), 20)]);
}

#[test]
fn successes_keep_a_failing_count_until_enough_healthy_rounds() {
    let f = || vec![failing("http://h/")];
    let ok = || vec![Verdict::Healthy];
    let list = [running("web", 10)];
    // -f 2: fail, healthy, fail. One healthy round resets the count with successes 1,
    // not with successes 2; two healthy rounds reset it with successes 2.
    for (successes, verdicts, expected) in [
        (1, vec![f(), ok(), f()], vec![]),
        (2, vec![f(), ok(), f()], vec![2]),
        (2, vec![f(), ok(), ok(), f()], vec![]),
    ] {
        let policy = CheckPolicy {
            failures: 2,
            successes,
            ..CheckPolicy::default()
        };
        let mut p = planner_of(vec![(programs(&["web"]), policy)]);
        assert_eq!(
            restart_rounds(&mut p, &verdicts, &list),
            expected,
            "successes {successes}: {verdicts:?}"
        );
    }
}

#[test]
fn a_restarted_program_is_recovered_after_successes_healthy_rounds() {
    let clock = Clock(Instant::now());
    let policy = CheckPolicy {
        successes: 3,
        ..CheckPolicy::default()
    };
    let mut p = planner_of(vec![(programs(&["web"]), policy)]);
    web_fails_and_is_restarted(&mut p, &clock);
    let new = [running("web", 11)];
    for s in [5, 10] {
        let plan = round(&mut p, clock.at(s), &[Verdict::Healthy], &new);
        assert!(
            !has(&plan, "recovered"),
            "round at {s}s: {:?}",
            plan.texts()
        );
    }
    let plan = round(&mut p, clock.at(15), &[Verdict::Healthy], &new);
    assert!(
        has(&plan, "web recovered: its checks pass against pid 11"),
        "{:?}",
        plan.texts()
    );
    // A failing round in between starts the count again.
    let mut p = planner_of(vec![(
        programs(&["web"]),
        CheckPolicy {
            successes: 2,
            failures: 5,
            ..CheckPolicy::default()
        },
    )]);
    for s in [0, 5, 10, 15, 20] {
        round(
            &mut p,
            clock.at(s),
            &[failing("http://h/")],
            &[running("web", 10)],
        );
    }
    p.restart_finished(
        "web",
        &RestartOutcome::Restarted { pid: 11 },
        &[],
        clock.at(21).now,
    );
    let healthy = |p: &mut Planner, s| round(p, clock.at(s), &[Verdict::Healthy], &new);
    assert!(!has(&healthy(&mut p, 25), "recovered"));
    round(&mut p, clock.at(30), &[failing("http://h/")], &new);
    assert!(!has(&healthy(&mut p, 35), "recovered"));
    assert!(has(&healthy(&mut p, 40), "recovered"));
}

#[test]
fn a_program_named_by_several_checks_gets_the_longest_grace() {
    let clock = Clock(Instant::now());
    let mut p = planner_of(vec![
        (programs(&["web"]), check(1)),
        (programs(&["web"]), patient()),
    ]);
    // Up 100 s: inside the second check's grace, so the first check's failure waits.
    let plan = round(
        &mut p,
        clock.at(0),
        &[failing("http://a/"), Verdict::Healthy],
        &[running("web", 10)],
    );
    assert!(orders(&plan).is_empty(), "{:?}", plan.texts());
    let old = [process("web", ProcessState::Running, 10, 400)];
    let mut p = planner_of(vec![
        (programs(&["web"]), check(1)),
        (programs(&["web"]), patient()),
    ]);
    let plan = round(
        &mut p,
        clock.at(0),
        &[failing("http://a/"), Verdict::Healthy],
        &old,
    );
    assert_eq!(orders(&plan), [("web".to_string(), 10)]);
}

/// A check with a grace of 300 s.
fn patient() -> CheckPolicy {
    CheckPolicy {
        grace: secs(300),
        ..CheckPolicy::default()
    }
}

#[test]
fn the_strictest_restart_limit_of_the_checks_naming_a_program_applies() {
    let limited = |k| CheckPolicy {
        max_restarts: Some((k, secs(600))),
        ..CheckPolicy::default()
    };
    let mut p = planner_of(vec![
        (programs(&["web"]), limited(3)),
        (programs(&["web"]), limited(1)),
    ]);
    let list = [running("web", 10)];
    let f = || vec![failing("http://a/"), Verdict::Healthy];
    assert_eq!(restart_rounds(&mut p, &[f(), f(), f()], &list), [0]);
    assert_eq!(
        strictest([limited(3), limited(1), check(1)].iter()).max_restarts,
        Some((1, secs(600)))
    );
    let longer = CheckPolicy {
        max_restarts: Some((1, secs(900))),
        ..CheckPolicy::default()
    };
    assert_eq!(
        strictest([limited(1), longer].iter()).max_restarts,
        Some((1, secs(900))),
        "of equal counts, the longest window"
    );
}
