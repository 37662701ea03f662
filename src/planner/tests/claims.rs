//! Nothing claimed that is not so: "recovered" and "answers again" only once every
//! check naming the program passed since the restart or give-up (one skipped by its
//! `interval` with its last result), `Restarting ...` once per round and only when a
//! restart is queued, and the give-up line's count.

use super::*;

/// web, named by an every-round check (0) and one with an `interval` and `-f 3` (1).
fn web_with_an_interval_check(max_restarts: Option<(u32, Duration)>) -> Planner {
    let every_round = CheckPolicy {
        max_restarts,
        ..CheckPolicy::default()
    };
    let with_interval = CheckPolicy {
        interval: Some(secs(30)),
        failures: 3,
        ..every_round.clone()
    };
    planner_for(
        vec![
            (programs(&["web"]), every_round),
            (programs(&["web"]), with_interval),
        ],
        1,
        Exclusions::default(),
        false,
    )
}

/// The rounds (seconds) whose plan says `needle`, over `rounds` of (t, verdicts).
fn said_at(
    p: &mut Planner,
    clock: &Clock,
    rounds: &[(u64, [Verdict; 2])],
    list: &[ProcessInfo],
    needle: &str,
) -> Vec<u64> {
    let mut at = Vec::new();
    for (t, verdicts) in rounds {
        let plan = round(p, clock.at(*t), verdicts, list);
        assert!(plan.restarts.is_empty(), "t={t}: {plan:?}");
        if has(&plan, needle) {
            at.push(*t);
        }
    }
    at
}

#[test]
fn recovered_waits_for_a_check_its_interval_skipped_while_it_still_fails() {
    use Verdict::{Healthy, NotDue};
    let clock = Clock(Instant::now());
    let mut p = web_with_an_interval_check(None);
    let plan = round(
        &mut p,
        clock.at(0),
        &[failing("http://a/"), Healthy],
        &[running("web", 10)],
    );
    assert_eq!(orders(&plan), [("web".to_string(), 10)]);
    p.restart_finished(
        "web",
        &RestartOutcome::Restarted { pid: 11 },
        &[],
        clock.0 + secs(1),
    );
    let rounds = [
        (5, [Healthy, failing("http://b/")]),
        // b is not probed: its last result (failing) stands.
        (10, [Healthy, NotDue]),
        (15, [Healthy, NotDue]),
        (35, [Healthy, Healthy]),
        (40, [Healthy, NotDue]),
    ];
    let at = said_at(&mut p, &clock, &rounds, &[running("web", 11)], "recovered");
    assert_eq!(at, [35]);
}

#[test]
fn a_pass_from_before_the_restart_does_not_make_it_recovered() {
    use Verdict::{Healthy, NotDue};
    let clock = Clock(Instant::now());
    let mut p = web_with_an_interval_check(None);
    // b passed at t=0, before the restart: not a pass against the new pid.
    round(
        &mut p,
        clock.at(0),
        &[failing("http://a/"), Healthy],
        &[running("web", 10)],
    );
    p.restart_finished(
        "web",
        &RestartOutcome::Restarted { pid: 11 },
        &[],
        clock.0 + secs(1),
    );
    let rounds = [
        (5, [Healthy, NotDue]),
        (10, [Healthy, NotDue]),
        (30, [Healthy, Healthy]),
    ];
    let at = said_at(&mut p, &clock, &rounds, &[running("web", 11)], "recovered");
    assert_eq!(at, [30]);
}

#[test]
fn answers_again_waits_for_a_check_its_interval_skipped_while_it_still_fails() {
    use Verdict::{Healthy, NotDue};
    let clock = Clock(Instant::now());
    let mut p = web_with_an_interval_check(Some((1, secs(600))));
    round(
        &mut p,
        clock.at(0),
        &[failing("http://a/"), Healthy],
        &[running("web", 10)],
    );
    p.restart_finished(
        "web",
        &RestartOutcome::Restarted { pid: 11 },
        &[],
        clock.0 + secs(1),
    );
    let list = [running("web", 11)];
    let rounds = [
        (5, [failing("http://a/"), NotDue]),
        (10, [Healthy, failing("http://b/")]),
        (15, [Healthy, NotDue]),
        (20, [Healthy, NotDue]),
        (40, [Healthy, Healthy]),
        (45, [Healthy, NotDue]),
    ];
    let gave_up = said_at(&mut p, &clock, &rounds[..1], &list, "giving up on web");
    assert_eq!(gave_up, [5]);
    let at = said_at(&mut p, &clock, &rounds[1..], &list, "answers again");
    assert_eq!(at, [40]);
}

#[test]
fn two_checks_failing_in_one_round_say_restarting_once() {
    let clock = Clock(Instant::now());
    let mut p = planner(policy(1), vec![programs(&["web"]), programs(&["api"])]);
    let list = [running("api", 5), running("web", 6)];
    let plan = round(
        &mut p,
        clock.at(0),
        &[failing("http://web/"), failing("http://api/")],
        &list,
    );
    let restarting: Vec<&str> = plan
        .texts()
        .into_iter()
        .filter(|t| t.starts_with("Restarting"))
        .collect();
    assert_eq!(restarting, ["Restarting selected processes ['web', 'api']"]);
    assert_eq!(orders(&plan).len(), 2);
    // It is in the restart's mail, after the failure.
    let plan = p.restart_finished(
        "web",
        &RestartOutcome::Restarted { pid: 7 },
        &[],
        clock.0 + secs(1),
    );
    let body = plan.notices.iter().find_map(|n| match n {
        Notice::Mail { body, .. } => Some(body.clone()),
        _ => None,
    });
    assert_eq!(
        body.as_deref(),
        Some(
            &[
                "http://web/: status 500".to_string(),
                "Restarting selected processes ['web', 'api']".to_string(),
                "web restarted".to_string(),
            ][..]
        )
    );
}

#[test]
fn restarting_is_not_said_when_nothing_is_queued() {
    let f = [failing("http://a/"), failing("http://b/")];
    let list = [running("web", 10)];
    // --dry-run, two checks on web: one "would restart", no "Restarting".
    let clock = Clock(Instant::now());
    let mut dry = planner_with(
        policy(1),
        vec![programs(&["web"]), programs(&["web"])],
        Exclusions::default(),
        true,
    );
    let plan = round(&mut dry, clock.at(0), &f, &list);
    let texts = plan.texts();
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.starts_with("would restart web"))
            .count(),
        1,
        "{texts:?}"
    );
    assert!(!has(&plan, "Restarting"), "{texts:?}");
    // A give-up: one ERROR, no "Restarting".
    let mut limited = policy(1);
    limited.max_restarts = Some((1, secs(600)));
    let mut p = planner(limited, vec![programs(&["web"]), programs(&["web"])]);
    round(&mut p, clock.at(0), &f, &list);
    p.restart_finished(
        "web",
        &RestartOutcome::Restarted { pid: 11 },
        &[],
        clock.0 + secs(1),
    );
    let plan = round(&mut p, clock.at(5), &f, &[running("web", 11)]);
    let texts = plan.texts();
    assert_eq!(
        texts.iter().filter(|t| t.starts_with("giving up")).count(),
        1,
        "{texts:?}"
    );
    assert!(!has(&plan, "Restarting"), "{texts:?}");
}

#[test]
fn the_give_up_line_gives_the_real_count_of_restarts() {
    let clock = Clock(Instant::now());
    let mut generous = policy(1);
    generous.max_restarts = Some((5, secs(600)));
    let mut p = planner(generous, vec![programs(&["web"])]);
    for (i, pid) in [10u32, 11, 12].into_iter().enumerate() {
        let t = i as u64 * 5;
        round(
            &mut p,
            clock.at(t),
            &[failing("http://h/")],
            &[running("web", pid)],
        );
        p.restart_finished(
            "web",
            &RestartOutcome::Restarted { pid: pid + 1 },
            &[],
            clock.0 + secs(t + 1),
        );
    }
    // A new httpok with a stricter limit takes the three restarts back.
    let saved = p.export(clock.0 + secs(15), 1_000_015);
    let mut strict = policy(1);
    strict.max_restarts = Some((1, secs(600)));
    let mut q = planner(strict, vec![programs(&["web"])]);
    q.import(&saved, clock.0 + secs(15), 1_000_015);
    let plan = round(
        &mut q,
        clock.at(20),
        &[failing("http://h/")],
        &[running("web", 13)],
    );
    assert!(
        has(&plan, "giving up on web: restarted 3 time(s) within 600s"),
        "{plan:?}"
    );
    assert!(
        plan.notices
            .iter()
            .any(|n| matches!(n, Notice::Mail { subject, .. }
        if subject == "giving up on web: http://h/ still fails after 3 restart(s) within 600s"))
    );
}
