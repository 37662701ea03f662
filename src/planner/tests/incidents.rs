//! Failing checks that restart nothing (no program, a typo, supervisord unreadable):
//! one WARN per incident, at most one mail, one line when the check passes again.

use super::*;

#[test]
fn a_check_without_programs_warns_and_mails_once_per_incident_and_a_flap_is_not_mailed() {
    let clock = Clock(Instant::now());
    let mut three = policy(3);
    three.max_restarts = None;
    let mut p = planner(three, vec![Selection::Programs(Vec::new())]);
    let f = [failing("http://h/")];
    let (mut warned, mut mailed_at) = (0, Vec::new());
    for i in 0..6 {
        let plan = round(&mut p, clock.at(i * 5), &f, &[]);
        warned += plan
            .lines
            .iter()
            .filter(|l| l.level == log::Level::Warn)
            .count();
        if mails(&plan) > 0 {
            mailed_at.push(i);
        }
    }
    // One WARN; the mail once it failed -f 3 rounds in a row.
    assert_eq!((warned, mailed_at.as_slice()), (1, &[2][..]));
    let plan = round(&mut p, clock.at(30), &[Verdict::Healthy], &[]);
    assert_eq!(plan.texts(), ["http://h/ passes again"]);
    // It flaps: a new incident is told at once, but not mailed within the hold...
    let mut t = 35;
    for _ in 0..10 {
        let plan = round(&mut p, clock.at(t), &f, &[]);
        assert_eq!(mails(&plan), 0, "t={t}");
        t += 5;
    }
    // ... and is mailed when the hold since the first mail (t=10) ends, if it still
    // fails then.
    let hold = 10 + crate::planner::incidents::MAIL_HOLD.as_secs();
    let plan = round(&mut p, clock.at(hold - 1), &f, &[]);
    assert_eq!(mails(&plan), 0);
    let plan = round(&mut p, clock.at(hold), &f, &[]);
    assert_eq!(mails(&plan), 1);
    assert!(plan.texts().is_empty(), "its WARN was said: {plan:?}");
    // A flap over within the hold is never mailed.
    round(&mut p, clock.at(hold + 5), &[Verdict::Healthy], &[]);
    for i in 2..8 {
        let plan = round(&mut p, clock.at(hold + i * 5), &f, &[]);
        assert_eq!(mails(&plan), 0);
    }
}

#[test]
fn a_typo_in_p_warns_once_mails_once_and_says_when_the_url_passes_again() {
    let clock = Clock(Instant::now());
    let mut p = planner(policy(1), vec![programs(&["wbe"])]);
    let list = [running("web", 10)];
    let mut lines = Vec::new();
    let mut mailed = 0;
    for i in 0..12 {
        let plan = round(&mut p, clock.at(i * 5), &[failing("http://h/")], &list);
        assert!(plan.restarts.is_empty());
        lines.extend(
            plan.lines
                .iter()
                .filter(|l| l.level <= log::Level::Info)
                .cloned(),
        );
        mailed += mails(&plan);
    }
    let warns: Vec<&str> = lines
        .iter()
        .filter(|l| l.level == log::Level::Warn)
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(
        warns,
        [
            "http://h/: status 500; nothing is restarted: no process in supervisord is \
          named wbe (a typo? supervisorctl avail lists them)"
        ]
    );
    assert_eq!(mailed, 1);
    assert_eq!(lines.len(), 2, "superlance's INFO and the WARN: {lines:?}");
    let plan = round(&mut p, clock.at(60), &[Verdict::Healthy], &list);
    assert_eq!(plan.texts(), ["http://h/ passes again"]);
    let plan = round(&mut p, clock.at(65), &[Verdict::Healthy], &list);
    assert!(plan.texts().is_empty());
}

#[test]
fn with_successes_2_an_incident_ends_after_two_healthy_rounds() {
    let clock = Clock(Instant::now());
    let check = CheckPolicy {
        successes: 2,
        ..CheckPolicy::default()
    };
    let mut p = planner_for(
        vec![(programs(&["wbe"]), check)],
        1,
        Exclusions::default(),
        false,
    );
    let f = [failing("http://h/")];
    let ok = [Verdict::Healthy];
    let mut passes = Vec::new();
    for (t, v) in [(0, &f), (5, &ok), (10, &f), (15, &ok), (20, &ok), (25, &f)] {
        let plan = round(&mut p, clock.at(t), v, &[]);
        if has(&plan, "passes again") {
            passes.push(t);
        }
        let warned = plan.lines.iter().any(|l| l.level == log::Level::Warn);
        assert_eq!(warned, t == 0 || t == 25, "t={t}: {plan:?}");
    }
    assert_eq!(passes, [20]);
}

#[test]
fn a_failing_check_while_supervisord_cannot_be_read_warns_once_and_restarts_nothing() {
    let clock = Clock(Instant::now());
    let mut p = planner(policy(1), vec![programs(&["web"])]);
    round(
        &mut p,
        clock.at(0),
        &[Verdict::Healthy],
        &[running("web", 10)],
    );
    let error = "supervisord refused the credentials (401): set SUPERVISOR_USERNAME";
    let unlisted = |p: &mut Planner, t: u64, verdict: Verdict| {
        unlisted(p, clock.at(t), &[verdict], None, Some(error))
    };
    let mut warns = Vec::new();
    let mut mailed = 0;
    for i in 1..8 {
        let plan = unlisted(&mut p, i * 5, failing("http://h/"));
        assert!(plan.restarts.is_empty());
        warns.extend(plan.texts().iter().map(|t| t.to_string()));
        mailed += mails(&plan);
    }
    assert_eq!(
        warns,
        [format!(
            "http://h/: status 500; nothing is restarted: supervisord's process list \
             cannot be read ({error})"
        )]
    );
    assert_eq!(mailed, 1);
    // Not counted: once supervisord answers, -f starts from nothing.
    assert_eq!(p.check(CheckId(0)).map(Check::counted), Some(0));
    let plan = unlisted(&mut p, 40, Verdict::Healthy);
    assert_eq!(plan.texts(), ["http://h/ passes again"]);
}
