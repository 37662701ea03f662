//! Whole rounds against fakes of the prober, supervisord and the notifier: no sockets,
//! no sleeps standing in for conditions, no wall clock.

use std::sync::atomic::Ordering::SeqCst;

use super::*;
use crate::config::CheckSpec;
use crate::config::target::Target;
use crate::notify::fake::FakeNotifier;
use crate::planner::CheckPolicy;
use crate::planner::selection::Selection;
use crate::probe::fake::FakeProber;
use crate::probe::{Failure, ProbeSettings};
use crate::supervisor::fake::FakeSupervisor;
use crate::supervisor::model::ProcessState;

fn process(namespec: &str, pid: u32) -> ProcessInfo {
    let (group, name) = namespec.split_once(':').unwrap_or((namespec, namespec));
    ProcessInfo {
        name: name.into(),
        group: group.into(),
        state: ProcessState::Running,
        pid,
        start: 0,
        now: 1000,
        ..Default::default()
    }
}

fn check(selection: Selection, url: &str) -> CheckSpec {
    CheckSpec {
        name: None,
        targets: vec![Target::parse(url).expect("url")],
        selection,
        probe: ProbeSettings {
            timeout: Duration::from_secs(1),
            ..ProbeSettings::default()
        },
        policy: CheckPolicy::default(),
    }
}

fn config(checks: Vec<CheckSpec>) -> Config {
    Config {
        warnings: Vec::new(),
        checks,
        command_timeout: Duration::from_secs(1),
        parallel_restarts: 1,
        cert_expiry_warn: None,
        email: None,
        sendmail: Vec::new(),
        gcore: Vec::new(),
        coredir: None,
        eager: true,
        name: None,
        dry_run: false,
        once: false,
        on_restart: None,
        on_change: None,
        state_file: None,
        exclude: Vec::new(),
        server: None,
    }
}

struct Rig {
    watcher: Watcher,
    prober: Arc<FakeProber>,
    supervisor: Arc<FakeSupervisor>,
    notifier: Arc<FakeNotifier>,
}

fn rig(config: Config, supervisor: FakeSupervisor) -> Rig {
    let prober = Arc::new(FakeProber::of(&config));
    let supervisor = Arc::new(supervisor);
    let notifier = Arc::new(FakeNotifier::default());
    let exclusions = Exclusions {
        own: Some("httpok".into()),
        names: Vec::new(),
    };
    let watcher = Watcher::new(
        &config,
        prober.clone(),
        supervisor.clone(),
        notifier.clone(),
        exclusions,
    );
    Rig {
        watcher,
        prober,
        supervisor,
        notifier,
    }
}

fn tick(when: i64) -> Event {
    Event::Tick {
        name: "TICK_5".into(),
        when: Some(when),
    }
}

/// One check, tcp://h:1, restarting web (pid 5).
fn web_rig() -> Rig {
    rig(
        config(vec![check(
            Selection::Programs(vec!["web".into()]),
            "tcp://h:1",
        )]),
        FakeSupervisor::with(vec![process("web", 5)]),
    )
}

const SETTLE: Duration = Duration::from_secs(10);

#[test]
fn the_listener_acknowledges_every_event_with_protocol_bytes_only() {
    let mut r = web_rig();
    let input =
        b"eventname:TICK_5 len:6\nwhen:1\ngarbage\neventname:PROCESS_STATE_RUNNING len:3\nabc";
    let mut out = Vec::new();
    run_listener(&input[..], &mut out, &mut r.watcher).expect("runs");
    assert_eq!(
        out,
        b"READY\nRESULT 2\nOKREADY\nRESULT 2\nOKREADY\nRESULT 2\nOKREADY\n"
    );
    assert!(
        r.supervisor.calls().is_empty(),
        "healthy: nothing restarted"
    );
    assert_eq!(
        r.supervisor.list_calls.load(SeqCst),
        1,
        "only the first healthy round asks supervisord anything"
    );
}

#[test]
fn a_failing_check_restarts_its_program_and_any_spares_the_listener() {
    let sup = FakeSupervisor::with(vec![process("httpok", 1), process("web", 5)]);
    let mut r = rig(config(vec![check(Selection::Any, "tcp://h:1")]), sup);
    r.prober.fail("tcp://h:1", Failure::Refused);
    r.watcher.round();
    assert!(r.watcher.settle(SETTLE));
    assert_eq!(r.supervisor.calls(), ["stop web true", "start web false"]);
}

#[test]
fn two_checks_restart_only_the_broken_program() {
    let sup = FakeSupervisor::with(vec![process("api", 6), process("web", 5)]);
    let web = check(Selection::Programs(vec!["web".into()]), "tcp://web:1");
    let api = check(Selection::Programs(vec!["api".into()]), "tcp://api:1");
    let mut r = rig(config(vec![web, api]), sup);
    r.prober.fail("tcp://api:1", Failure::Refused);
    r.watcher.round();
    assert!(r.watcher.settle(SETTLE));
    assert_eq!(r.supervisor.calls(), ["stop api true", "start api false"]);
}

#[test]
fn a_group_is_restarted_one_at_a_time_without_waiting_for_a_tick() {
    let sup = FakeSupervisor::with(vec![
        process("g:a", 5),
        process("g:b", 6),
        process("g:c", 7),
    ]);
    let mut r = rig(
        config(vec![check(
            Selection::Programs(vec!["g:*".into()]),
            "tcp://h:1",
        )]),
        sup,
    );
    r.prober.fail("tcp://h:1", Failure::Refused);
    r.watcher.round();
    assert!(r.watcher.settle(SETTLE));
    assert_eq!(
        r.supervisor.calls(),
        [
            "stop g:a true",
            "start g:a false",
            "stop g:b true",
            "start g:b false",
            "stop g:c true",
            "start g:c false",
        ]
    );
}

#[test]
fn a_start_that_ends_fatal_mails_once_and_runs_the_hook_with_failed() {
    let mut sup = FakeSupervisor::with(vec![process("web", 5)]);
    sup.start_ends = Some((ProcessState::Fatal, "Exited too quickly".into()));
    let mut r = rig(
        config(vec![check(
            Selection::Programs(vec!["web".into()]),
            "tcp://h:1",
        )]),
        sup,
    );
    r.prober.fail("tcp://h:1", Failure::Refused);
    for when in [0, 5, 10, 15] {
        r.watcher.handle(&tick(when));
        assert!(r.watcher.settle(SETTLE));
    }
    r.watcher.finish();
    let mails = r.notifier.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, "tcp://h:1: connection refused");
    assert!(
        mails[0]
            .1
            .last()
            .is_some_and(|l| l.starts_with("Failed to start process web: FATAL"))
    );
    assert_eq!(r.notifier.hooks(), [("web".to_string(), "failed")]);
    assert_eq!(r.supervisor.calls().len(), 2, "one stop, one start");
}

#[test]
fn a_tick_queued_during_the_last_round_is_skipped_and_a_backward_step_is_not() {
    let mut r = web_rig();
    r.watcher.handle(&tick(1000));
    assert_eq!(r.prober.probed.load(SeqCst), 1);
    // Same boundary again: issued before that round ended.
    r.watcher.handle(&tick(1000));
    assert_eq!(
        r.prober.probed.load(SeqCst),
        1,
        "a queued tick runs no round"
    );
    // supervisord's clock stepped back an hour: still a fresh tick.
    r.watcher.handle(&tick(1000 - 3600));
    assert_eq!(r.prober.probed.load(SeqCst), 2);
    r.watcher.handle(&tick(1005 - 3600));
    assert_eq!(r.prober.probed.load(SeqCst), 3);
}

#[test]
fn dry_run_touches_nothing() {
    let sup = FakeSupervisor::with(vec![process("web", 5)]);
    let mut c = config(vec![check(
        Selection::Programs(vec!["web".into()]),
        "tcp://h:1",
    )]);
    c.dry_run = true;
    let mut r = rig(c, sup);
    r.prober.fail("tcp://h:1", Failure::Refused);
    r.watcher.round();
    assert!(r.watcher.settle(SETTLE));
    assert!(r.supervisor.calls().is_empty());
}

#[test]
fn not_eager_probes_only_checks_with_a_running_program() {
    let sup = FakeSupervisor::with(vec![ProcessInfo {
        state: ProcessState::Stopped,
        ..process("web", 0)
    }]);
    let mut c = config(vec![check(
        Selection::Programs(vec!["web".into()]),
        "tcp://h:1",
    )]);
    c.eager = false;
    let mut r = rig(c, sup);
    r.watcher.round();
    assert_eq!(r.prober.probed.load(SeqCst), 0);
}

#[test]
fn finishing_starts_no_queued_restart() {
    let sup = FakeSupervisor::with(vec![process("g:a", 5), process("g:b", 6)]);
    let mut r = rig(
        config(vec![check(
            Selection::Programs(vec!["g:*".into()]),
            "tcp://h:1",
        )]),
        sup,
    );
    r.prober.fail("tcp://h:1", Failure::Refused);
    // Closed before the round: the job for g:a issues no stop, g:b is dropped.
    r.watcher.stopper().stop("test");
    r.watcher.round();
    assert!(r.watcher.settle(SETTLE));
    assert!(
        r.supervisor.calls().is_empty(),
        "{:?}",
        r.supervisor.calls()
    );
}

#[test]
fn the_status_snapshot_follows_rounds_and_restarts() {
    let mut r = web_rig();
    let status = r.watcher.status();
    let before = lock(&status).last_round_timestamp_seconds;
    r.watcher.round();
    let snap = lock(&status).clone();
    assert_eq!(snap.rounds_total, 1);
    assert!(snap.last_round_timestamp_seconds >= before);
    assert_eq!(snap.checks[0].healthy, Some(true));
    assert_eq!(snap.checks[0].targets[0].success, Some(true));
    r.prober.fail("tcp://h:1", Failure::Refused);
    r.watcher.round();
    assert!(r.watcher.settle(SETTLE));
    let snap = lock(&status).clone();
    assert_eq!(snap.checks[0].healthy, Some(false));
    assert_eq!(snap.checks[0].consecutive_failures, 1);
    assert_eq!(
        snap.checks[0].reason.as_deref(),
        Some("tcp://h:1: connection refused")
    );
    assert_eq!(snap.programs.len(), 1);
    assert_eq!(snap.programs[0].restarted, 1);
    assert_eq!(snap.programs[0].state, "recovering");
}

#[test]
fn healthy_rounds_read_the_process_list_on_the_first_and_every_thirteenth() {
    let mut r = web_rig();
    r.watcher.round();
    assert_eq!(
        r.supervisor.list_calls.load(SeqCst),
        1,
        "the first round looks"
    );
    for _ in 0..12 {
        r.watcher.round();
    }
    assert_eq!(r.supervisor.list_calls.load(SeqCst), 1);
    r.watcher.round();
    assert_eq!(
        r.supervisor.list_calls.load(SeqCst),
        2,
        "and every 13th after"
    );
    // A FATAL program whose URL still answers is seen and said once.
    r.supervisor
        .set("web", ProcessState::Fatal, 0, "Exited too quickly");
    for _ in 0..13 {
        r.watcher.round();
    }
    let status = r.watcher.status();
    assert_eq!(lock(&status).programs[0].state, "down");
}

#[test]
fn a_check_with_an_interval_is_probed_at_most_that_often() {
    let sup = FakeSupervisor::with(vec![process("api", 6), process("web", 5)]);
    let web = check(Selection::Programs(vec!["web".into()]), "tcp://web:1");
    let mut db = check(Selection::Programs(vec!["api".into()]), "tcp://db:1");
    db.policy.interval = Some(Duration::from_secs(3600));
    let mut r = rig(config(vec![web, db]), sup);
    for _ in 0..3 {
        r.watcher.round();
    }
    // web on each of the 3 rounds, db on the first only.
    assert_eq!(r.prober.probed.load(SeqCst), 4);
    // Its failure is seen only when it is probed: not before the hour is up.
    r.prober.fail("tcp://db:1", Failure::Refused);
    r.watcher.round();
    assert!(r.watcher.settle(SETTLE));
    assert!(
        r.supervisor.calls().is_empty(),
        "{:?}",
        r.supervisor.calls()
    );
}

#[test]
fn a_tick_is_answered_without_a_round_while_rounds_run_on_the_own_clock() {
    // (smallest interval, tick, rounds run by handling it): below the tick period the
    // clock thread runs them (not started here), at or above it the TICK does.
    let table: &[(u64, &str, u64)] = &[(1, "TICK_60", 0), (1, "TICK_5", 0), (5, "TICK_5", 1)];
    for &(interval, name, rounds) in table {
        let mut web = check(Selection::Programs(vec!["web".into()]), "tcp://web:1");
        web.policy.interval = Some(Duration::from_secs(interval));
        let mut r = rig(
            config(vec![web]),
            FakeSupervisor::with(vec![process("web", 5)]),
        );
        r.watcher.handle(&Event::Tick {
            name: name.into(),
            when: Some(1_700_000_000),
        });
        let probed = r.prober.probed.load(SeqCst) as u64;
        assert_eq!(probed, rounds, "--interval {interval} on {name}");
    }
}
