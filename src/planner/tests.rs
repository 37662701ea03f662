//! Table tests of the planner and the lifecycle together: verdicts and process lists in,
//! plans out, on an injected clock. How a round's steps make the verdicts (probes,
//! `interval`, `-E`, the process list): `tests/rounds.rs`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::*;
use crate::planner::lifecycle::RoundClock;
use crate::planner::plan::{Notice, OutcomeWord};
use crate::supervisor::model::{ProcessInfo, ProcessState};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// One policy for every check, and how many processes of one selection may restart at
/// once: most tables are written in it.
#[derive(Debug, Clone, PartialEq)]
struct PolicyConfig {
    /// Failed rounds in a row that trip a check (`-f`).
    failures: u32,
    grace: Duration,
    /// (K, window): give up after K restarts within the window.
    max_restarts: Option<(u32, Duration)>,
    parallel_restarts: u32,
}

fn policy(failures: u32) -> PolicyConfig {
    PolicyConfig {
        failures,
        grace: Duration::ZERO,
        max_restarts: None,
        parallel_restarts: 1,
    }
}

/// A planner for checks with policies of their own (see [`Planner::of_checks`]).
fn planner_for(
    checks: Vec<(Selection, CheckPolicy)>,
    parallel_restarts: u32,
    exclusions: Exclusions,
    dry_run: bool,
) -> Planner {
    Planner::of_checks(checks, parallel_restarts, exclusions, dry_run)
}

/// A planner whose checks share one policy.
fn planner_with(
    policy: PolicyConfig,
    selections: Vec<Selection>,
    exclusions: Exclusions,
    dry_run: bool,
) -> Planner {
    let check = CheckPolicy {
        failures: policy.failures,
        grace: policy.grace,
        max_restarts: policy.max_restarts,
        ..CheckPolicy::default()
    };
    let checks = selections.into_iter().map(|s| (s, check.clone())).collect();
    planner_for(checks, policy.parallel_restarts, exclusions, dry_run)
}

fn programs(specs: &[&str]) -> Selection {
    Selection::Programs(specs.iter().map(|s| s.to_string()).collect())
}

fn planner(policy: PolicyConfig, selections: Vec<Selection>) -> Planner {
    planner_with(policy, selections, Exclusions::default(), false)
}

fn process(namespec: &str, state: ProcessState, pid: u32, uptime: i64) -> ProcessInfo {
    let (group, name) = namespec.split_once(':').unwrap_or((namespec, namespec));
    ProcessInfo {
        name: name.into(),
        group: group.into(),
        state,
        pid,
        start: 1_000_000 - uptime,
        now: 1_000_000,
        ..Default::default()
    }
}

fn running(namespec: &str, pid: u32) -> ProcessInfo {
    process(namespec, ProcessState::Running, pid, 100)
}

fn failing(url: &str) -> Verdict {
    Verdict::Failing(Cause {
        check: None,
        url: url.into(),
        reason: "status 500".into(),
        summary: "bad status returned".into(),
    })
}

/// A test clock: rounds at t0 + n seconds, the list read before the probes.
struct Clock(Instant);

impl Clock {
    fn at(&self, s: u64) -> RoundClock {
        RoundClock {
            now: self.0 + secs(s),
            probes_started: self.0 + secs(s),
            listed_late: None,
        }
    }
}

/// The verdicts of checks 0, 1, ... in that order, by id.
fn by_id(verdicts: &[Verdict]) -> BTreeMap<CheckId, Verdict> {
    verdicts
        .iter()
        .enumerate()
        .map(|(n, v)| (CheckId(n), v.clone()))
        .collect()
}

/// Judges a round of these verdicts (check 0, 1, ...) against a process list.
fn round(p: &mut Planner, clock: RoundClock, verdicts: &[Verdict], list: &[ProcessInfo]) -> Plan {
    unlisted(p, clock, verdicts, Some(list), None)
}

/// Judges a round whose process list was not read (`processes` `None`) or could not be.
fn unlisted(
    p: &mut Planner,
    clock: RoundClock,
    verdicts: &[Verdict],
    processes: Option<&[ProcessInfo]>,
    list_error: Option<&str>,
) -> Plan {
    p.judge(&RoundFacts {
        verdicts: &by_id(verdicts),
        processes,
        list_error,
        clock,
    })
}

fn orders(plan: &Plan) -> Vec<(String, u32)> {
    plan.restarts
        .iter()
        .map(|o| (o.namespec.clone(), o.pid))
        .collect()
}

/// How many mails a plan sends (the lifecycle's and the certificates' tests count them too).
pub(super) fn mails(plan: &Plan) -> usize {
    plan.notices
        .iter()
        .filter(|n| matches!(n, Notice::Mail { .. }))
        .count()
}

fn hooks(plan: &Plan) -> Vec<(String, OutcomeWord)> {
    plan.notices
        .iter()
        .filter_map(|n| match n {
            Notice::Hook {
                program, outcome, ..
            } => Some((program.clone(), *outcome)),
            Notice::Mail { .. } | Notice::Change { .. } => None,
        })
        .collect()
}

fn changes(plan: &Plan) -> Vec<(String, &'static str)> {
    plan.notices
        .iter()
        .filter_map(|n| match n {
            Notice::Change { program, state, .. } => Some((program.clone(), state.as_str())),
            _ => None,
        })
        .collect()
}

fn has(plan: &Plan, needle: &str) -> bool {
    plan.texts().iter().any(|t| t.contains(needle))
}

/// web (pid 10) fails at t=0 and is restarted as pid 11 at t=1.
fn web_fails_and_is_restarted(p: &mut Planner, clock: &Clock) {
    round(
        p,
        clock.at(0),
        &[failing("http://h/")],
        &[running("web", 10)],
    );
    p.restart_finished(
        "web",
        &RestartOutcome::Restarted { pid: 11 },
        &[],
        clock.0 + secs(1),
    );
}

/// `--max-restarts 1 --restart-window WINDOW`, web (pid 10) failed at t=0 and was
/// restarted as pid 11 at t=1: the window is full.
fn restarted_once_with_room_for_one(window: u64) -> (Clock, Planner) {
    let clock = Clock(Instant::now());
    let mut limited = policy(1);
    limited.max_restarts = Some((1, secs(window)));
    let mut p = planner(limited, vec![programs(&["web"])]);
    web_fails_and_is_restarted(&mut p, &clock);
    (clock, p)
}

#[test]
fn the_failure_threshold_counts_rounds_and_a_healthy_round_resets_it() {
    let f = failing("http://h/");
    let ok = Verdict::Healthy;
    type Case<'a> = (u32, &'a [&'a Verdict], &'a [usize]);
    let cases: &[Case<'_>] = &[
        (1, &[&f], &[0]),
        (3, &[&f, &f], &[]),
        (3, &[&f, &f, &f], &[2]),
        (3, &[&f, &f, &ok, &f, &f, &f], &[5]),
        (2, &[&f, &Verdict::NothingRunning, &f], &[2]),
        (2, &[&f, &Verdict::CannotRun, &f], &[2]),
        (2, &[&f, &Verdict::NotDue, &f], &[2]),
    ];
    for (threshold, verdicts, expected) in cases {
        let clock = Clock(Instant::now());
        let mut p = planner(policy(*threshold), vec![programs(&["web"])]);
        let list = [running("web", 10)];
        let mut restarted = Vec::new();
        for (i, v) in verdicts.iter().enumerate() {
            let plan = round(&mut p, clock.at(i as u64 * 5), &[(*v).clone()], &list);
            if !plan.restarts.is_empty() {
                restarted.push(i);
            }
        }
        assert_eq!(restarted, *expected, "-f {threshold} over {verdicts:?}");
    }
}

#[test]
fn two_failing_checks_on_one_program_restart_it_once() {
    let clock = Clock(Instant::now());
    let mut p = planner(policy(1), vec![programs(&["web"]), programs(&["web"])]);
    let list = [running("web", 10)];
    let plan = round(
        &mut p,
        clock.at(0),
        &[failing("http://a/"), failing("tcp://b:1")],
        &list,
    );
    assert_eq!(orders(&plan), [("web".to_string(), 10)]);
    // While it is being restarted, further failures of either check do nothing.
    let plan = round(
        &mut p,
        clock.at(5),
        &[failing("http://a/"), failing("tcp://b:1")],
        &list,
    );
    assert!(
        plan.restarts.is_empty() && plan.texts().is_empty(),
        "{plan:?}"
    );
    let plan = p.restart_finished(
        "web",
        &RestartOutcome::Restarted { pid: 11 },
        &[],
        clock.0 + secs(6),
    );
    assert_eq!(plan.texts(), ["web restarted"]);
    assert_eq!(mails(&plan), 1);
    assert_eq!(hooks(&plan), [("web".to_string(), OutcomeWord::Restarted)]);
}

#[test]
fn a_healthy_sibling_check_does_not_defeat_max_restarts() {
    let clock = Clock(Instant::now());
    let mut limited = policy(1);
    limited.max_restarts = Some((1, secs(600)));
    // tcp up, http 500: the program is failing.
    let mut p = planner(limited, vec![programs(&["web"]), programs(&["web"])]);
    let verdicts = [Verdict::Healthy, failing("http://h/")];
    let plan = round(&mut p, clock.at(0), &verdicts, &[running("web", 10)]);
    assert_eq!(plan.restarts.len(), 1);
    p.restart_finished(
        "web",
        &RestartOutcome::Restarted { pid: 11 },
        &[],
        clock.0 + secs(1),
    );
    let mut gave_up = 0;
    for i in 1..10 {
        let plan = round(&mut p, clock.at(i * 5), &verdicts, &[running("web", 11)]);
        assert!(plan.restarts.is_empty(), "round {i}: {plan:?}");
        gave_up += plan
            .texts()
            .iter()
            .filter(|t| t.contains("giving up on web"))
            .count();
    }
    assert_eq!(gave_up, 1, "said once");
}

#[test]
fn a_group_is_restarted_one_process_at_a_time_in_order() {
    let clock = Clock(Instant::now());
    let mut p = planner(policy(1), vec![programs(&["workers:*"])]);
    let list = [
        running("workers:w0", 10),
        running("workers:w1", 11),
        running("workers:w2", 12),
    ];
    let plan = round(&mut p, clock.at(0), &[failing("http://h/")], &list);
    assert!(has(&plan, "Restarting selected processes ['workers:*']"));
    assert_eq!(orders(&plan), [("workers:w0".to_string(), 10)]);
    let plan = p.restart_finished(
        "workers:w0",
        &RestartOutcome::Restarted { pid: 20 },
        &[],
        clock.0 + secs(2),
    );
    assert_eq!(orders(&plan), [("workers:w1".to_string(), 11)]);
    // A failed start frees the slot too.
    let plan = p.restart_finished(
        "workers:w1",
        &RestartOutcome::StartFailed("FATAL: Exited too quickly".into()),
        &[],
        clock.0 + secs(3),
    );
    assert_eq!(orders(&plan), [("workers:w2".to_string(), 12)]);
    let plan = p.restart_finished(
        "workers:w2",
        &RestartOutcome::Restarted { pid: 22 },
        &[],
        clock.0 + secs(4),
    );
    assert!(plan.restarts.is_empty());
}

#[test]
fn parallel_restarts_allows_n_at_once() {
    let clock = Clock(Instant::now());
    let mut two = policy(1);
    two.parallel_restarts = 2;
    let mut p = planner(two, vec![Selection::Any]);
    let list = [running("a", 1), running("b", 2), running("c", 3)];
    let plan = round(&mut p, clock.at(0), &[failing("http://h/")], &list);
    assert!(has(&plan, "Restarting all running processes"));
    assert_eq!(orders(&plan).len(), 2);
}

#[test]
fn starting_backoff_and_grace_are_neither_counted_nor_reported() {
    let clock = Clock(Instant::now());
    let mut graceful = policy(1);
    graceful.grace = secs(30);
    let mut p = planner(graceful, vec![programs(&["web"])]);
    let f = [failing("http://h/")];
    for (i, state) in [
        ProcessState::Starting,
        ProcessState::Backoff,
        ProcessState::Starting,
    ]
    .into_iter()
    .enumerate()
    {
        let plan = round(
            &mut p,
            clock.at(i as u64 * 5),
            &f,
            &[process("web", state, 0, 0)],
        );
        assert!(
            plan.texts().is_empty() && plan.notices.is_empty(),
            "{state}: {plan:?}"
        );
    }
    // RUNNING but up 5 s of a 30 s grace: quiet too.
    let plan = round(
        &mut p,
        clock.at(15),
        &f,
        &[process("web", ProcessState::Running, 9, 5)],
    );
    assert!(
        plan.texts().is_empty() && plan.notices.is_empty(),
        "{plan:?}"
    );
    // Grace runs on our clock: 30 s after it was first seen it is judged.
    let plan = round(
        &mut p,
        clock.at(41),
        &f,
        &[process("web", ProcessState::Running, 9, 5)],
    );
    assert_eq!(orders(&plan), [("web".to_string(), 9)]);
}

#[test]
fn a_program_the_operator_stopped_gets_one_line_and_one_mail_per_incident() {
    let clock = Clock(Instant::now());
    let mut p = planner(policy(1), vec![programs(&["web"])]);
    let f = [failing("http://h/")];
    let stopped = [process("web", ProcessState::Stopped, 0, 0)];
    let mut lines = Vec::new();
    let mut mailed = 0;
    for i in 0..12 {
        let plan = round(&mut p, clock.at(i * 5), &f, &stopped);
        assert!(plan.restarts.is_empty());
        lines.extend(plan.texts().iter().map(|t| t.to_string()));
        mailed += mails(&plan);
    }
    // The program's line and mail, and the check's WARN (not mailed again).
    assert_eq!((lines.len(), mailed), (2, 1), "in a minute: {lines:?}");
    assert!(lines[0].starts_with("web not in RUNNING state, NOT restarting (STOPPED"));
    assert_eq!(
        lines[1],
        "http://h/: status 500; nothing is restarted: web is STOPPED (httpok restarts \
         only RUNNING processes)"
    );
    let plan = round(
        &mut p,
        clock.at(60),
        &[Verdict::Healthy],
        &[running("web", 30)],
    );
    assert!(has(&plan, "web is RUNNING again"));
    // A new incident: FATAL this time.
    let fatal = [process("web", ProcessState::Fatal, 0, 0)];
    let plan = round(&mut p, clock.at(65), &f, &fatal);
    assert!(
        has(&plan, "web not in RUNNING state, NOT restarting (FATAL"),
        "{plan:?}"
    );
    assert_eq!(mails(&plan), 1);
}

#[test]
fn a_program_removed_by_update_gets_one_info_line_one_warn_and_no_mail() {
    let clock = Clock(Instant::now());
    let mut p = planner(policy(1), vec![programs(&["web"]), programs(&["api"])]);
    let both = [running("api", 5), running("web", 6)];
    round(
        &mut p,
        clock.at(0),
        &[Verdict::Healthy, Verdict::Healthy],
        &both,
    );
    let mut texts = Vec::new();
    let mut mailed = 0;
    for i in 1..5 {
        let plan = round(
            &mut p,
            clock.at(i * 5),
            &[failing("http://web/"), Verdict::Healthy],
            &[running("api", 5)],
        );
        texts.extend(plan.texts().iter().map(|t| t.to_string()));
        mailed += mails(&plan);
    }
    assert_eq!(mailed, 0);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[0].contains("web is no longer in supervisord's process list"),
        "{texts:?}"
    );
    // Its check fails and restarts nothing: said once, not mailed (a planned change).
    assert_eq!(
        texts[1],
        "http://web/: status 500; nothing is restarted: web is no longer in \
         supervisord's process list (httpok restarts only RUNNING processes)"
    );
}

#[test]
fn a_start_that_ends_fatal_is_an_error_with_one_mail_and_never_recovered() {
    let clock = Clock(Instant::now());
    let mut p = planner(policy(1), vec![programs(&["web"])]);
    let f = [failing("http://h/")];
    round(&mut p, clock.at(0), &f, &[running("web", 10)]);
    let plan = p.restart_finished(
        "web",
        &RestartOutcome::StartFailed(
            "FATAL: Exited too quickly (process log may have details)".into(),
        ),
        &["web is in RUNNING state, restarting".to_string()],
        clock.0 + secs(8),
    );
    let errors: Vec<&str> = plan.texts();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("Failed to start process web: FATAL: Exited too quickly"));
    assert!(errors[0].contains("stopasgroup=true and killasgroup=true"));
    assert!(!has(&plan, "restarted"));
    assert_eq!(mails(&plan), 1);
    assert_eq!(hooks(&plan), [("web".to_string(), OutcomeWord::Failed)]);
    let fatal = [process("web", ProcessState::Fatal, 0, 0)];
    let mut later = Vec::new();
    for i in 2..14 {
        let plan = round(&mut p, clock.at(i * 5), &f, &fatal);
        later.extend(plan.texts().iter().map(|t| t.to_string()));
        assert_eq!(mails(&plan), 0, "the failure was mailed already");
        assert!(plan.restarts.is_empty());
    }
    assert!(later.iter().all(|t| !t.contains("recovered")), "{later:?}");
}

#[test]
fn recovered_needs_a_healthy_round_probed_after_the_restart_against_the_new_pid() {
    let t0 = Instant::now();
    let mut p = planner(policy(1), vec![programs(&["web"])]);
    let at = |s: u64| RoundClock {
        now: t0 + secs(s),
        probes_started: t0 + secs(s),
        listed_late: None,
    };
    round(
        &mut p,
        at(0),
        &[failing("http://h/")],
        &[running("web", 10)],
    );
    p.restart_finished(
        "web",
        &RestartOutcome::Restarted { pid: 11 },
        &[],
        t0 + secs(7),
    );
    // These probes began before the restart ended: not about pid 11.
    let early = RoundClock {
        now: t0 + secs(8),
        probes_started: t0 + secs(5),
        listed_late: None,
    };
    let plan = round(&mut p, early, &[Verdict::Healthy], &[running("web", 11)]);
    assert!(!has(&plan, "recovered"));
    let plan = round(&mut p, at(10), &[Verdict::Healthy], &[running("web", 11)]);
    assert_eq!(
        plan.texts(),
        ["web recovered: its checks pass against pid 11"]
    );
    assert_eq!(mails(&plan), 1, "the recovered mail");
    // The check's own "recovered" came with the first healthy round; this is the
    // program's.
    assert_eq!(changes(&plan), [("web".to_string(), "recovered")]);
    let plan = round(&mut p, at(15), &[Verdict::Healthy], &[running("web", 11)]);
    assert!(plan.texts().is_empty(), "once");
}

#[test]
fn a_process_started_while_the_probes_ran_is_judged_next_round() {
    let t0 = Instant::now();
    let mut p = planner(policy(1), vec![programs(&["web"])]);
    // The list was read 2 s after the probes began and says web is 1 s old.
    let late = RoundClock {
        now: t0 + secs(2),
        probes_started: t0,
        listed_late: Some(secs(2)),
    };
    let plan = round(
        &mut p,
        late,
        &[failing("http://h/")],
        &[process("web", ProcessState::Running, 6, 1)],
    );
    assert!(
        plan.restarts.is_empty() && plan.texts().is_empty(),
        "{plan:?}"
    );
    let next = RoundClock {
        now: t0 + secs(5),
        probes_started: t0 + secs(5),
        listed_late: None,
    };
    let plan = round(
        &mut p,
        next,
        &[failing("http://h/")],
        &[process("web", ProcessState::Running, 6, 4)],
    );
    assert_eq!(orders(&plan), [("web".to_string(), 6)]);
}

#[test]
fn max_restarts_counts_only_restarts_that_stopped_the_process() {
    let clock = Clock(Instant::now());
    let mut limited = policy(1);
    limited.max_restarts = Some((1, secs(600)));
    let mut p = planner(limited, vec![programs(&["web"])]);
    let f = [failing("http://h/")];
    round(&mut p, clock.at(0), &f, &[running("web", 10)]);
    p.restart_finished(
        "web",
        &RestartOutcome::Skipped("web changed".into()),
        &[],
        clock.0 + secs(1),
    );
    let plan = round(&mut p, clock.at(5), &f, &[running("web", 12)]);
    assert_eq!(
        orders(&plan),
        [("web".to_string(), 12)],
        "the skip did not count"
    );
}

#[test]
fn the_window_passing_allows_restarts_again() {
    let (clock, mut p) = restarted_once_with_room_for_one(60);
    let f = [failing("http://h/")];
    let plan = round(&mut p, clock.at(5), &f, &[running("web", 11)]);
    assert!(has(&plan, "giving up on web"));
    assert_eq!(mails(&plan), 1);
    // Its subject says so: not a restart's subject.
    assert!(
        plan.notices
            .iter()
            .any(|n| matches!(n, Notice::Mail { subject, .. }
        if subject == "giving up on web: http://h/ still fails after 1 restart(s) within 60s"))
    );
    let plan = round(&mut p, clock.at(61), &f, &[running("web", 11)]);
    assert!(has(&plan, "web: restarts allowed again"), "{plan:?}");
    assert_eq!(orders(&plan), [("web".to_string(), 11)]);
}

#[test]
fn stopping_drops_queued_restarts_and_starts_no_new_one() {
    let clock = Clock(Instant::now());
    let mut p = planner(policy(1), vec![programs(&["g:*"])]);
    let list = [running("g:a", 1), running("g:b", 2)];
    let plan = round(&mut p, clock.at(0), &[failing("http://h/")], &list);
    assert_eq!(orders(&plan), [("g:a".to_string(), 1)]);
    let plan = p.stop();
    assert!(has(&plan, "not restarting g:b: httpok is stopping"));
    let plan = p.restart_finished(
        "g:a",
        &RestartOutcome::Interrupted("stopping".into()),
        &[],
        clock.0 + secs(1),
    );
    assert!(plan.restarts.is_empty());
}

#[test]
fn a_healthy_round_without_a_list_only_resets_counts() {
    let clock = Clock(Instant::now());
    let mut p = planner(policy(2), vec![programs(&["web"])]);
    round(
        &mut p,
        clock.at(0),
        &[failing("http://h/")],
        &[running("web", 1)],
    );
    let plan = unlisted(&mut p, clock.at(5), &[Verdict::Healthy], None, None);
    assert!(plan.lines.is_empty() && plan.restarts.is_empty());
    assert_eq!(changes(&plan), [("web".to_string(), "recovered")]);
    assert!(!p.needs_process_list());
    let plan = round(
        &mut p,
        clock.at(10),
        &[failing("http://h/")],
        &[running("web", 1)],
    );
    assert!(plan.restarts.is_empty(), "the count started again");
}

#[test]
fn a_state_export_reads_back_with_its_window_and_in_flight_restarts() {
    let clock = Clock(Instant::now());
    let mut limited = policy(1);
    limited.max_restarts = Some((2, secs(600)));
    let mut p = planner(limited.clone(), vec![programs(&["web"])]);
    web_fails_and_is_restarted(&mut p, &clock);
    let mut saved = p.export(clock.0 + secs(2), 1_000_002);
    assert_eq!(saved.programs[0].restarts, [1_000_001]);
    saved.programs[0].stopping = Some(11);
    // A new httpok, 100 s later by the wall clock.
    let later = Instant::now() + secs(500);
    let mut q = planner(limited, vec![programs(&["web"])]);
    let record = crate::state_file::StopRecord {
        pid: 11,
        issued_at: None,
    };
    assert_eq!(
        q.import(&saved, later, 1_000_102).in_flight,
        [("web".to_string(), record)]
    );
    assert!(q.program("web").is_some_and(Program::is_busy));
    assert_eq!(q.program("web").map(Program::restarts_in_window), Some(1));
}

#[test]
fn a_flapping_program_that_was_given_up_on_is_told_once_not_every_flap() {
    let (clock, mut p) = restarted_once_with_room_for_one(600);
    let (mut gave_up, mut mailed, mut answers) = (0, 0, 0);
    for i in 1..20 {
        let verdict = if i % 2 == 0 {
            Verdict::Healthy
        } else {
            failing("http://h/")
        };
        let plan = round(&mut p, clock.at(i * 5), &[verdict], &[running("web", 11)]);
        assert!(plan.restarts.is_empty(), "round {i}");
        gave_up += plan
            .texts()
            .iter()
            .filter(|t| t.contains("giving up"))
            .count();
        answers += plan
            .texts()
            .iter()
            .filter(|t| t.contains("answers again"))
            .count();
        mailed += mails(&plan);
    }
    assert_eq!((gave_up, mailed, answers), (1, 1, 1));
}

mod claims;
mod incidents;
mod policies;
mod rounds;
