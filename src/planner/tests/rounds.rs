//! A round's steps, driven as the watcher drives them, against a scripted world on an
//! injected clock: when the process list is read, which targets are probed (`interval`,
//! `-E`, certificates), how outcomes become verdicts, and what is said and shown.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::config::target::Target;
use crate::planner::certs::READ_EVERY;
use crate::planner::plan::ProbeRequest;
use crate::probe::cert::ChainRead;
use crate::probe::{Failure, Outcome};

/// 2026-12-03 00:00 UTC, the wall clock at t=0.
const EPOCH: u64 = 1_796_256_000;

/// What supervisord and the targets answer.
struct World {
    list: Result<Vec<ProcessInfo>, ListError>,
    /// Targets (by name) that fail, and how; the others answer 200.
    failing: HashMap<String, Failure>,
    /// What an https target's certificate says, when read.
    cert_expiry: Option<i64>,
}

impl World {
    fn with(list: Vec<ProcessInfo>) -> World {
        World {
            list: Ok(list),
            failing: HashMap::new(),
            cert_expiry: None,
        }
    }

    fn answer(&self, p: &Planner, request: &ProbeRequest) -> Outcome {
        let name = target_name(p, request);
        Outcome {
            result: self.failing.get(&name).cloned().map_or(Ok(200), Err),
            latency: Duration::from_millis(20),
            cert: self
                .cert_expiry
                .filter(|_| request.read_cert)
                .map(|not_after| ChainRead {
                    not_after,
                    expiring: "CN=web".into(),
                    tls_version: "TLS 1.3",
                }),
            ..Outcome::default()
        }
    }
}

fn target_name(p: &Planner, request: &ProbeRequest) -> String {
    let id = request.target;
    p.check(id.check)
        .and_then(|c| c.targets.get(id.index))
        .map(|t| t.name.clone())
        .unwrap_or_default()
}

/// What a round asked for, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Asked {
    /// The process list: before the probes (`false`) or after them (`true`).
    List { late: bool },
    /// These targets (a `+cert` suffix: with their certificate).
    Probe(Vec<String>),
}

/// The injected clock: both clocks at t0 + `t` seconds.
struct Clock(Instant);

impl Clock {
    fn at(&self, t: Duration) -> Moment {
        Moment {
            at: self.0 + t,
            wall: UNIX_EPOCH + Duration::from_secs(EPOCH) + t,
        }
    }
}

/// Runs one round beginning at `t`, its probes taking 2 s; what it asked for, and its plan.
fn run(p: &mut Planner, clock: &Clock, t: Duration, world: &World) -> (Vec<Asked>, Plan) {
    run_round(p, clock, t, world, Round::begin(clock.at(t).at))
}

fn run_round(
    p: &mut Planner,
    clock: &Clock,
    t: Duration,
    world: &World,
    mut round: Round,
) -> (Vec<Asked>, Plan) {
    let mut asked = Vec::new();
    let mut probed = false;
    loop {
        let now = clock.at(t + if probed { secs(2) } else { Duration::ZERO });
        match p.next_step(&mut round, now) {
            Step::ReadList => {
                asked.push(Asked::List { late: probed });
                round.listed(world.list.clone(), now.at);
            }
            Step::Probe(requests) => {
                let names = requests
                    .iter()
                    .map(|r| {
                        let cert = if r.read_cert { "+cert" } else { "" };
                        format!("{}{cert}", target_name(p, r))
                    })
                    .collect();
                asked.push(Asked::Probe(names));
                let answers = requests.iter().map(|r| (*r, world.answer(p, r))).collect();
                round.probed(answers);
                probed = true;
            }
            Step::Done(plan) => return (asked, plan),
        }
    }
}

/// A check of these targets restarting these programs.
fn check_of(n: usize, urls: &[&str], specs: &[&str], policy: CheckPolicy) -> Check {
    let targets: Vec<Target> = urls
        .iter()
        .map(|u| Target::parse(u).expect("a target"))
        .collect();
    Check::new(CheckId(n), None, programs(specs), policy, &targets)
}

fn planner_of(checks: Vec<Check>, eager: bool, cert_expiry_warn: Option<Duration>) -> Planner {
    let settings = Settings {
        parallel_restarts: 1,
        eager,
        cert_expiry_warn,
        ..Settings::default()
    };
    Planner::new(checks, settings, UNIX_EPOCH + Duration::from_secs(EPOCH))
}

fn web_planner() -> Planner {
    let web = check_of(0, &["http://web/"], &["web"], CheckPolicy::default());
    planner_of(vec![web], true, None)
}

fn probe(names: &[&str]) -> Asked {
    Asked::Probe(names.iter().map(|n| n.to_string()).collect())
}

const LIST_FIRST: Asked = Asked::List { late: false };
const LIST_LATE: Asked = Asked::List { late: true };

#[test]
fn healthy_rounds_read_the_list_on_the_first_and_every_thirteenth_only() {
    let clock = Clock(Instant::now());
    let mut p = web_planner();
    let world = World::with(vec![running("web", 10)]);
    let mut listed = Vec::new();
    for n in 0..40u64 {
        let (asked, _) = run(&mut p, &clock, secs(n * 5), &world);
        assert_eq!(asked.last(), Some(&probe(&["http://web/"])), "round {n}");
        if asked.contains(&LIST_FIRST) {
            listed.push(n);
        }
    }
    assert_eq!(listed, [0, 13, 26, 39]);
}

#[test]
fn a_failing_round_reads_the_list_after_the_probes_and_judges_a_pid_by_when_it_was_read() {
    let clock = Clock(Instant::now());
    let mut p = web_planner();
    run(
        &mut p,
        &clock,
        secs(0),
        &World::with(vec![running("web", 10)]),
    );
    let mut world = World::with(vec![running("web", 10)]);
    world
        .failing
        .insert("http://web/".into(), Failure::Status(500));
    let (asked, plan) = run(&mut p, &clock, secs(5), &world);
    assert_eq!(asked, [probe(&["http://web/"]), LIST_LATE]);
    assert_eq!(orders(&plan), [("web".to_string(), 10)]);
    assert!(has(&plan, "http://web/: status 500"));
    // A pid the late list shows 1 s old may have started while it was probed: not
    // judged until the next round.
    let mut p = web_planner();
    run(&mut p, &clock, secs(0), &World::with(Vec::new()));
    world.list = Ok(vec![process("web", ProcessState::Running, 11, 1)]);
    let (asked, plan) = run(&mut p, &clock, secs(5), &world);
    assert_eq!(asked, [probe(&["http://web/"]), LIST_LATE]);
    assert!(plan.restarts.is_empty(), "{plan:?}");
}

#[test]
fn minus_e_reads_the_list_first_and_probes_only_checks_with_a_running_program() {
    let clock = Clock(Instant::now());
    let web = check_of(0, &["http://web/"], &["web"], CheckPolicy::default());
    let api = check_of(
        1,
        &["tcp://api:1", "http://api/"],
        &["api"],
        CheckPolicy::default(),
    );
    let mut p = planner_of(vec![web, api], false, None);
    let stopped = process("api", ProcessState::Stopped, 0, 0);
    let world = World::with(vec![running("web", 10), stopped]);
    for n in 0..3 {
        let (asked, plan) = run(&mut p, &clock, secs(n * 5), &world);
        assert_eq!(asked, [LIST_FIRST, probe(&["http://web/"])], "round {n}");
        let skipped: Vec<&str> = plan
            .lines
            .iter()
            .filter(|l| l.text.contains("not probing (-E)"))
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(
            skipped,
            ["tcp://api:1 http://api/: no watched program is RUNNING; not probing (-E)"]
        );
    }
    // api RUNNING again: both targets of it, in order.
    let world = World::with(vec![running("web", 10), running("api", 12)]);
    let (asked, _) = run(&mut p, &clock, secs(15), &world);
    assert_eq!(
        asked,
        [
            LIST_FIRST,
            probe(&["http://web/", "tcp://api:1", "http://api/"])
        ]
    );
}

#[test]
fn a_list_that_cannot_be_read_is_said_once_read_first_next_round_and_its_return_said() {
    let clock = Clock(Instant::now());
    let mut p = web_planner();
    run(
        &mut p,
        &clock,
        secs(0),
        &World::with(vec![running("web", 10)]),
    );
    let mut world = World::with(Vec::new());
    world.failing.insert("http://web/".into(), Failure::Refused);
    world.list = Err(ListError::Failed("connection refused".into()));
    let said = |plan: &Plan| -> Vec<(log::Level, String)> {
        plan.lines
            .iter()
            .filter(|l| l.text.contains("process list") || l.text.contains("supervisord"))
            .map(|l| (l.level, l.text.clone()))
            .collect()
    };
    let (asked, plan) = run(&mut p, &clock, secs(5), &world);
    assert_eq!(asked, [probe(&["http://web/"]), LIST_LATE]);
    let error = "cannot read the process list: connection refused; restarting nothing until \
                 it answers";
    assert_eq!(said(&plan)[0], (log::Level::Error, error.to_string()));
    assert!(plan.restarts.is_empty());
    assert_eq!(p.status().supervisord_up, Some(false));
    // Tried first thing next round; still down: only a debug line.
    let (asked, plan) = run(&mut p, &clock, secs(10), &world);
    assert_eq!(asked, [LIST_FIRST, probe(&["http://web/"])]);
    assert!(
        said(&plan)
            .iter()
            .all(|(level, _)| *level == log::Level::Debug)
    );
    // Reloading is routine: an INFO line when it begins.
    world.list = Err(ListError::Reloading("SHUTDOWN_STATE".into()));
    let (_, plan) = run(&mut p, &clock, secs(15), &world);
    assert_eq!(
        said(&plan)[0],
        (
            log::Level::Info,
            "supervisord is shutting down or reloading; restarting nothing until it answers"
                .to_string()
        )
    );
    // Back: said once, at the next round.
    world.list = Ok(vec![running("web", 10)]);
    world.failing.clear();
    let (asked, plan) = run(&mut p, &clock, secs(20), &world);
    assert_eq!(asked, [LIST_FIRST, probe(&["http://web/"])]);
    assert_eq!(
        said(&plan),
        [(log::Level::Info, "supervisord answers again".to_string())]
    );
    assert_eq!(p.status().supervisord_up, Some(true));
    // -E with a list that cannot be read probes every check.
    let web = check_of(0, &["http://web/"], &["web"], CheckPolicy::default());
    let mut p = planner_of(vec![web], false, None);
    world.list = Err(ListError::Failed("connection refused".into()));
    let (asked, _) = run(&mut p, &clock, secs(0), &world);
    assert_eq!(asked, [LIST_FIRST, probe(&["http://web/"])]);
}

#[test]
fn an_interval_of_30_on_tick_5_probes_every_sixth_round_even_when_rounds_come_early() {
    let clock = Clock(Instant::now());
    let every_round = check_of(0, &["http://web/"], &["web"], CheckPolicy::default());
    let slow = CheckPolicy {
        interval: Some(secs(30)),
        ..CheckPolicy::default()
    };
    let db = check_of(1, &["tcp://db:1"], &["web"], slow);
    let mut p = planner_of(vec![every_round, db], true, None);
    let world = World::with(vec![running("web", 10)]);
    let mut db_probed = Vec::new();
    for n in 0..19u64 {
        // Each TICK a few milliseconds early.
        let t = secs(n * 5).saturating_sub(Duration::from_millis(n * 3));
        let (asked, plan) = run(&mut p, &clock, t, &world);
        if asked
            .iter()
            .any(|a| matches!(a, Asked::Probe(names) if names.iter().any(|n| n == "tcp://db:1")))
        {
            db_probed.push(n);
        }
        assert!(plan.restarts.is_empty());
    }
    assert_eq!(db_probed, [0, 6, 12, 18]);
}

/// The targets each round probed.
fn probed_names(asked: &[Asked]) -> Vec<String> {
    asked
        .iter()
        .filter_map(|a| match a {
            Asked::Probe(names) => Some(names.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn between_ticks_a_check_is_probed_by_its_interval_and_one_without_on_ticks_only() {
    let clock = Clock(Instant::now());
    let policy = |s| CheckPolicy {
        interval: Some(secs(s)),
        ..CheckPolicy::default()
    };
    let checks = vec![
        check_of(0, &["http://fast/"], &["web"], policy(1)),
        check_of(1, &["http://three/"], &["web"], policy(3)),
        check_of(2, &["http://ticks/"], &["web"], CheckPolicy::default()),
    ];
    let mut p = planner_of(checks, true, None);
    let world = World::with(vec![running("web", 10)]);
    // (second, a TICK came since the last round, targets probed): `--interval 1` rounds
    // a few milliseconds off their grid, a TICK_60 before the rounds at 0 and 6.
    let table: &[(u64, bool, &[&str])] = &[
        (0, true, &["http://fast/", "http://three/", "http://ticks/"]),
        (1, false, &["http://fast/"]),
        (2, false, &["http://fast/"]),
        (3, false, &["http://fast/", "http://three/"]),
        (4, false, &["http://fast/"]),
        (5, false, &["http://fast/"]),
        (6, true, &["http://fast/", "http://three/", "http://ticks/"]),
    ];
    for &(n, tick, want) in table {
        let t = secs(n) + Duration::from_millis(if n % 2 == 0 { 7 } else { 0 });
        let round = Round::between_ticks(clock.at(t).at, secs(1), tick);
        let (asked, plan) = run_round(&mut p, &clock, t, &world, round);
        assert_eq!(probed_names(&asked), want, "round at {n}s");
        assert!(plan.restarts.is_empty());
    }
}

#[test]
fn targets_become_a_verdict_at_their_first_failure_and_a_command_that_cannot_run_judges_nothing() {
    let cannot = || Err(Failure::Unrunnable("cannot run".into()));
    let rows: Vec<(Vec<Result<u16, Failure>>, &str)> = vec![
        (vec![], "healthy"),
        (vec![Ok(200), Ok(0)], "healthy"),
        (
            vec![Ok(200), Err(Failure::Status(500)), Err(Failure::Refused)],
            "tcp://b:2: status 500",
        ),
        (vec![Err(Failure::Refused), cannot()], "cannot run"),
    ];
    let urls = ["http://a/", "tcp://b:2", "exec:/bin/c"];
    for (results, expected) in &rows {
        let mut check = check_of(0, &urls[..results.len()], &[], CheckPolicy::default());
        for (target, result) in check.targets.iter_mut().zip(results.iter()) {
            target.record(&Outcome {
                result: result.clone(),
                ..Outcome::default()
            });
        }
        let got = match check.verdict() {
            Verdict::Healthy => "healthy".to_string(),
            Verdict::CannotRun => "cannot run".to_string(),
            Verdict::Failing(cause) => cause.line(),
            other => format!("{other:?}"),
        };
        assert_eq!(got, *expected, "{results:?}");
    }
}

#[test]
fn a_command_that_cannot_run_is_one_error_restarts_nothing_and_its_return_is_said() {
    let clock = Clock(Instant::now());
    let db = check_of(0, &["exec:/bin/db-check"], &["db"], CheckPolicy::default());
    let mut p = planner_of(vec![db], true, None);
    let mut world = World::with(vec![running("db", 10)]);
    let why = "cannot run /bin/db-check: No such file or directory";
    world
        .failing
        .insert("exec:/bin/db-check".into(), Failure::Unrunnable(why.into()));
    let mut errors = Vec::new();
    for n in 0..4u64 {
        let (_, plan) = run(&mut p, &clock, secs(n * 5), &world);
        assert!(
            plan.restarts.is_empty() && plan.notices.is_empty(),
            "{plan:?}"
        );
        errors.extend(
            plan.lines
                .iter()
                .filter(|l| l.level == log::Level::Error)
                .map(|l| l.text.clone()),
        );
    }
    assert_eq!(
        errors,
        [format!(
            "exec:/bin/db-check: {why}; this check cannot judge its program(s) and restarts \
             nothing until its command runs: fix the check"
        )]
    );
    world.failing.clear();
    let (_, plan) = run(&mut p, &clock, secs(20), &world);
    assert_eq!(plan.texts(), ["exec:/bin/db-check: its command runs again"]);
}

#[test]
fn certificates_are_read_on_the_first_round_then_hourly_and_warn_in_the_rounds_plan() {
    let clock = Clock(Instant::now());
    let https = check_of(
        0,
        &["https://web/", "tcp://web:1"],
        &["web"],
        CheckPolicy::default(),
    );
    let fourteen_days = Some(secs(14 * 86_400));
    let mut p = planner_of(vec![https], true, fourteen_days);
    let mut world = World::with(vec![running("web", 10)]);
    // Five days and a minute from now: the WARN says 5 days.
    world.cert_expiry = Some(EPOCH as i64 + 5 * 86_400 + 60);
    let (asked, plan) = run(&mut p, &clock, secs(0), &world);
    assert_eq!(
        asked,
        [LIST_FIRST, probe(&["https://web/+cert", "tcp://web:1"])]
    );
    assert_eq!(plan.texts().len(), 1, "{plan:?}");
    assert!(
        plan.texts()[0].starts_with(
            "https://web/: its certificate CN=web expires in 5 days (2026-12-08 00:01 UTC); renew it"
        ),
        "{plan:?}"
    );
    assert_eq!(mails(&plan), 1);
    assert!(plan.restarts.is_empty());
    let shown = p.status();
    assert_eq!(shown.checks[0].targets[0].cert_expiry, world.cert_expiry);
    assert_eq!(shown.checks[0].targets[1].cert_expiry, None);
    // Not again within the hour; the metric keeps the last value.
    let (asked, plan) = run(&mut p, &clock, secs(5), &world);
    assert_eq!(asked, [probe(&["https://web/", "tcp://web:1"])]);
    assert!(plan.texts().is_empty());
    assert_eq!(
        p.status().checks[0].targets[0].cert_expiry,
        world.cert_expiry
    );
    let (asked, plan) = run(&mut p, &clock, READ_EVERY, &world);
    assert_eq!(
        asked.last(),
        Some(&probe(&["https://web/+cert", "tcp://web:1"]))
    );
    assert!(plan.texts().is_empty(), "warned today already: {plan:?}");
}

#[test]
fn what_is_shown_follows_the_rounds_probes_and_verdicts() {
    let clock = Clock(Instant::now());
    let mut p = web_planner();
    let before = p.status();
    assert_eq!(before.rounds_total, 0);
    assert_eq!(
        before.last_round_timestamp_seconds, EPOCH as f64,
        "when httpok started"
    );
    assert_eq!(before.checks[0].healthy, None);
    assert_eq!(before.checks[0].targets[0].success, None);
    let mut world = World::with(vec![running("web", 10)]);
    run(&mut p, &clock, Duration::from_millis(250), &world);
    let shown = p.status();
    assert_eq!(shown.rounds_total, 1);
    assert_eq!(shown.last_round_seconds, 2.0);
    assert_eq!(shown.last_round_timestamp_seconds, EPOCH as f64 + 2.25);
    assert_eq!(shown.supervisord_up, Some(true));
    assert_eq!(shown.checks[0].healthy, Some(true));
    assert_eq!(shown.checks[0].targets[0].http_status, 200);
    assert_eq!(shown.checks[0].targets[0].duration_seconds, 0.02);
    world
        .failing
        .insert("http://web/".into(), Failure::Status(503));
    run(&mut p, &clock, secs(5), &world);
    let shown = p.status();
    assert_eq!(shown.checks[0].healthy, Some(false));
    assert_eq!(
        shown.checks[0].reason.as_deref(),
        Some("http://web/: status 503")
    );
    assert_eq!(shown.checks[0].consecutive_failures, 1);
    assert_eq!(shown.checks[0].targets[0].success, Some(false));
    assert_eq!(shown.checks[0].targets[0].http_status, 503);
    assert_eq!(shown.programs[0].state, "restarting");
    // A command that cannot run: no reason shown; its last verdict stands.
    world.failing.insert(
        "http://web/".into(),
        Failure::Unrunnable("cannot run".into()),
    );
    run(&mut p, &clock, secs(10), &world);
    let shown = p.status();
    assert_eq!(shown.checks[0].healthy, Some(false));
    assert_eq!(shown.checks[0].reason, None);
    assert_eq!(shown.checks[0].targets[0].http_status, 0);
}

#[test]
fn a_named_check_is_named_in_its_lines_with_its_url() {
    let clock = Clock(Instant::now());
    let targets = [Target::parse("http://web/").expect("a target")];
    let named = Check::new(
        CheckId(0),
        Some("storefront".into()),
        programs(&["web"]),
        CheckPolicy::default(),
        &targets,
    );
    let mut p = planner_of(vec![named], true, None);
    let mut world = World::with(vec![running("web", 10)]);
    run(&mut p, &clock, secs(0), &world);
    world
        .failing
        .insert("http://web/".into(), Failure::Status(500));
    let (_, plan) = run(&mut p, &clock, secs(5), &world);
    assert!(
        has(&plan, "storefront (http://web/): status 500"),
        "{plan:?}"
    );
    assert_eq!(orders(&plan), [("web".to_string(), 10)]);
    // The check's own --on-change notice names it, with the failing URL beside.
    let change = plan.notices.iter().find_map(|n| match n {
        Notice::Change { check, url, .. } => Some((check.as_str(), url.as_str())),
        _ => None,
    });
    assert_eq!(change, Some(("storefront", "http://web/")));
    // /status and /metrics keep the name as the check's label.
    assert_eq!(p.status().checks[0].check, "storefront");
}
