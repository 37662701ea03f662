//! Restarts against the in-memory supervisord.

use super::fake::FakeClock;
use super::*;
use crate::notify::Notifier;
use crate::notify::fake::FakeNotifier;
use crate::supervisor::fake::FakeSupervisor;
use crate::supervisor::model::ProcessInfo;
use crate::supervisor::xmlrpc::Fault;

fn web(pid: u32) -> ProcessInfo {
    ProcessInfo {
        name: "web".into(),
        group: "web".into(),
        state: ProcessState::Running,
        pid,
        ..Default::default()
    }
}

fn run(sup: &FakeSupervisor, gate: &Gate, pid: u32) -> (RestartOutcome, Vec<String>) {
    let notifier = FakeNotifier::default();
    let restarter = Restarter {
        supervisor: sup,
        notifier: &notifier,
        gate,
        journal: &|_: &str, _: Option<StopRecord>| {},
        clock: &FakeClock::default(),
        poll: POLL_INTERVAL,
    };
    let mut notes = Vec::new();
    let outcome = restarter.restart("web", pid, &mut |n| notes.push(n));
    (outcome, notes)
}

#[test]
fn restarts_the_failed_pid_and_reports_the_new_running_pid() {
    let sup = FakeSupervisor::with(vec![web(42)]);
    let (outcome, notes) = run(&sup, &Gate::default(), 42);
    assert_eq!(outcome, RestartOutcome::Restarted { pid: 1001 });
    assert_eq!(notes, ["web is in RUNNING state, restarting"]);
    assert_eq!(sup.calls(), ["stop web true", "start web false"]);
}

#[test]
fn a_start_that_ends_fatal_is_a_failure_with_supervisords_reason() {
    let mut sup = FakeSupervisor::with(vec![web(42)]);
    sup.start_ends = Some((ProcessState::Fatal, "Exited too quickly".into()));
    let (outcome, _) = run(&sup, &Gate::default(), 42);
    assert_eq!(
        outcome,
        RestartOutcome::StartFailed("FATAL: Exited too quickly".into())
    );
}

#[test]
fn a_start_answered_spawn_error_is_judged_by_where_supervisord_takes_it() {
    let spawn_error = Fault {
        code: fault::SPAWN_ERROR,
        string: "SPAWN_ERROR: web".into(),
    };
    // It died at once and supervisord gave up on it: its FATAL reason, not the fault.
    let mut sup = FakeSupervisor::with(vec![web(42)]);
    sup.start_ends = Some((ProcessState::Fatal, "Exited too quickly".into()));
    sup.start_fault = Some(spawn_error.clone());
    let (outcome, _) = run(&sup, &Gate::default(), 42);
    assert_eq!(
        outcome,
        RestartOutcome::StartFailed("FATAL: Exited too quickly".into())
    );
    // supervisord's retry brought it up: restarted, as supervisord shows it.
    let mut sup = FakeSupervisor::with(vec![web(42)]);
    sup.start_fault = Some(spawn_error);
    let (outcome, _) = run(&sup, &Gate::default(), 42);
    assert_eq!(outcome, RestartOutcome::Restarted { pid: 1001 });
}

#[test]
fn a_cut_off_blocking_stop_falls_back_to_stopping_and_polling() {
    let mut sup = FakeSupervisor::with(vec![web(42)]);
    sup.blocking_stop_error = Some(ClientError::Timeout(Duration::from_secs(1)));
    let (outcome, _) = run(&sup, &Gate::default(), 42);
    assert!(matches!(outcome, RestartOutcome::Restarted { .. }));
    assert_eq!(
        sup.calls(),
        ["stop web true", "stop web false", "start web false"]
    );
}

#[test]
fn the_fallback_stop_is_not_sent_to_a_pid_someone_else_started() {
    let mut sup = FakeSupervisor::with(vec![web(42)]);
    sup.blocking_stop_error = Some(ClientError::Timeout(Duration::from_secs(1)));
    // The operator restarted it while our blocking stop was cut off.
    let sup = {
        let s = sup;
        s.processes.lock().expect("lock")[0].pid = 77;
        s
    };
    let notifier = FakeNotifier::default();
    let gate = Gate::default();
    let restarter = Restarter {
        supervisor: &sup,
        notifier: &notifier,
        gate: &gate,
        journal: &|_: &str, _: Option<StopRecord>| {},
        clock: &FakeClock::default(),
        poll: POLL_INTERVAL,
    };
    let outcome = restarter.stop_and_wait("web", 42);
    assert!(matches!(outcome, Ok(Stopped::Replaced(77))));
    assert_eq!(sup.calls(), ["stop web true"], "no second stop");
}

#[test]
fn a_process_that_already_restarted_is_left_alone() {
    let sup = FakeSupervisor::with(vec![web(43)]);
    let (outcome, _) = run(&sup, &Gate::default(), 42);
    assert!(matches!(outcome, RestartOutcome::Skipped(ref why) if why.contains("NOT restarting")));
    assert!(sup.calls().is_empty());
}

#[test]
fn a_failed_stop_does_not_start_a_second_copy() {
    let mut sup = FakeSupervisor::with(vec![web(42)]);
    sup.stop_fault = Some(Fault {
        code: 30,
        string: "FAILED: nope".into(),
    });
    let (outcome, _) = run(&sup, &Gate::default(), 42);
    assert_eq!(outcome, RestartOutcome::StopFailed("FAILED: nope".into()));
    assert_eq!(sup.calls(), ["stop web true"]);
}

#[test]
fn a_vanished_process_is_reported_not_restarted() {
    let sup = FakeSupervisor::with(vec![]);
    let (outcome, _) = run(&sup, &Gate::default(), 42);
    assert!(matches!(outcome, RestartOutcome::StopFailed(_)));
    assert!(sup.calls().is_empty());
}

#[test]
fn once_httpok_is_stopping_no_stop_is_issued() {
    let sup = FakeSupervisor::with(vec![web(42)]);
    let gate = Gate::default();
    gate.close_and_wait(Duration::ZERO);
    let (outcome, _) = run(&sup, &gate, 42);
    assert!(matches!(outcome, RestartOutcome::Skipped(ref why) if why.contains("stopping")));
    assert!(sup.calls().is_empty());
}

/// gcore that takes its time while the operator runs `supervisorctl restart web`.
struct RestartedDuringDump<'a>(&'a FakeSupervisor);

impl Notifier for RestartedDuringDump<'_> {
    fn wants(&self, _: &crate::planner::plan::Notice) -> bool {
        false
    }
    fn notify(&self, _: &crate::planner::plan::Notice) {}
    fn dump_core(&self, _: &str, _: u32) -> Option<String> {
        self.0.set("web", ProcessState::Running, 777, "");
        Some("Saved corefile core.42".into())
    }
}

#[test]
fn a_program_restarted_during_its_core_dump_is_not_stopped() {
    let sup = FakeSupervisor::with(vec![web(42)]);
    let notifier = RestartedDuringDump(&sup);
    let gate = Gate::default();
    let journaled = std::sync::Mutex::new(Vec::new());
    let journal =
        |ns: &str, r: Option<StopRecord>| journaled.lock().expect("lock").push((ns.to_string(), r));
    let restarter = Restarter {
        supervisor: &sup,
        notifier: &notifier,
        gate: &gate,
        journal: &journal,
        clock: &FakeClock::default(),
        poll: POLL_INTERVAL,
    };
    let mut notes = Vec::new();
    let outcome = restarter.restart("web", 42, &mut |n| notes.push(n));
    assert_eq!(
        outcome,
        RestartOutcome::Skipped(
            "web changed while its core was dumped (pid 42, now RUNNING pid 777), NOT restarting"
                .into()
        )
    );
    assert!(sup.calls().is_empty(), "{:?}", sup.calls());
    assert!(journaled.lock().expect("lock").is_empty());
    assert_eq!(notes, ["gcore output for web: Saved corefile core.42"]);
}

#[test]
fn the_stop_record_is_journaled_before_the_stop_by_supervisords_clock() {
    let mut info = web(42);
    info.now = 1_800_000_123;
    let sup = FakeSupervisor::with(vec![info]);
    let notifier = FakeNotifier::default();
    let gate = Gate::default();
    // (record, stop/start calls issued when it was journaled)
    let journaled = std::sync::Mutex::new(Vec::new());
    let journal = |_: &str, r: Option<StopRecord>| {
        journaled.lock().expect("lock").push((r, sup.calls().len()));
    };
    let restarter = Restarter {
        supervisor: &sup,
        notifier: &notifier,
        gate: &gate,
        journal: &journal,
        clock: &FakeClock::default(),
        poll: POLL_INTERVAL,
    };
    let outcome = restarter.restart("web", 42, &mut |_| {});
    assert!(matches!(outcome, RestartOutcome::Restarted { .. }));
    let record = StopRecord {
        pid: 42,
        issued_at: Some(1_800_000_123),
    };
    assert_eq!(
        *journaled.lock().expect("lock"),
        [(Some(record), 0), (None, 2)]
    );
}

fn stopped(start: i64, stop: i64) -> ProcessInfo {
    ProcessInfo {
        state: ProcessState::Stopped,
        pid: 0,
        start,
        stop,
        ..web(0)
    }
}

fn resume(sup: &FakeSupervisor, named: bool, dry_run: bool) -> RestartOutcome {
    let notifier = FakeNotifier::default();
    let gate = Gate::default();
    let restarter = Restarter {
        supervisor: sup,
        notifier: &notifier,
        gate: &gate,
        journal: &|_: &str, _: Option<StopRecord>| {},
        clock: &FakeClock::default(),
        poll: POLL_INTERVAL,
    };
    let record = StopRecord {
        pid: 42,
        issued_at: Some(1_800_000_000),
    };
    restarter.resume("web", &record, &|_| named, dry_run)
}

#[test]
fn a_restart_left_by_the_previous_httpok_is_finished_only_while_still_ours() {
    // Stopped by our stop, started by nobody since: finished.
    let sup = FakeSupervisor::with(vec![stopped(1_799_999_000, 1_800_000_005)]);
    assert!(matches!(
        resume(&sup, true, false),
        RestartOutcome::Restarted { .. }
    ));
    assert_eq!(sup.calls(), ["start web false"]);
    // Started and stopped for maintenance since: left STOPPED.
    let maintenance = stopped(1_800_000_060, 1_800_000_090);
    let sup = FakeSupervisor::with(vec![maintenance.clone()]);
    assert!(
        matches!(resume(&sup, true, false), RestartOutcome::Skipped(ref why) if why.contains("someone else"))
    );
    assert!(sup.calls().is_empty());
    // No check names it, or --dry-run: nothing started.
    for (named, dry_run) in [(false, false), (true, true)] {
        let sup = FakeSupervisor::with(vec![stopped(1_799_999_000, 1_800_000_005)]);
        assert!(matches!(
            resume(&sup, named, dry_run),
            RestartOutcome::Skipped(_)
        ));
        assert!(sup.calls().is_empty());
    }
}

/// What a restarter borrows besides supervisord: its clock moves only when slept on.
#[derive(Default)]
struct Parts {
    notifier: FakeNotifier,
    gate: Gate,
    clock: FakeClock,
}

impl Parts {
    fn restarter<'a>(&'a self, sup: &'a FakeSupervisor) -> Restarter<'a> {
        Restarter {
            supervisor: sup,
            notifier: &self.notifier,
            gate: &self.gate,
            journal: &|_: &str, _: Option<StopRecord>| {},
            clock: &self.clock,
            poll: POLL_INTERVAL,
        }
    }
}

#[test]
fn a_supervisord_gone_after_the_start_ends_the_restart_after_30_s_of_polls_and_no_real_wait() {
    let mut sup = FakeSupervisor::with(vec![web(42)]);
    sup.unreachable_after_start = true;
    let parts = Parts::default();
    let began = parts.clock.now();
    let outcome = parts.restarter(&sup).restart("web", 42, &mut |_| {});
    let RestartOutcome::StartFailed(why) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(
        why.starts_with("supervisord unreachable for 30s after the start: "),
        "{why}"
    );
    let waited = parts.clock.now() - began;
    assert!(
        (UNREACHABLE_DEADLINE..UNREACHABLE_DEADLINE + POLL_INTERVAL * 2).contains(&waited),
        "{waited:?} of the restarter's clock"
    );
    // Every poll asked supervisord once: 30 s of them at 50 ms.
    let polls = sup.info_calls.load(std::sync::atomic::Ordering::SeqCst);
    assert!((600..=603).contains(&polls), "{polls} polls");
}

#[test]
fn a_stop_cut_off_that_never_ends_is_a_failed_stop_after_ten_minutes_and_nothing_is_started() {
    let mut sup = FakeSupervisor::with(vec![web(42)]);
    sup.blocking_stop_error = Some(ClientError::Timeout(Duration::from_secs(1)));
    sup.stuck_stopping = true;
    let parts = Parts::default();
    let began = parts.clock.now();
    let outcome = parts.restarter(&sup).restart("web", 42, &mut |_| {});
    assert_eq!(
        outcome,
        RestartOutcome::StopFailed("still stopping after 600s".into())
    );
    assert!(parts.clock.now() - began >= STOP_DEADLINE);
    assert_eq!(sup.calls(), ["stop web true", "stop web false"]);
}

#[test]
fn a_resume_waits_for_our_stop_while_it_is_stopping_then_gives_up_after_ten_minutes() {
    let stopping = ProcessInfo {
        state: ProcessState::Stopping,
        ..web(42)
    };
    let sup = FakeSupervisor::with(vec![stopping]);
    let parts = Parts::default();
    let record = StopRecord {
        pid: 42,
        issued_at: Some(1_800_000_000),
    };
    let outcome = parts
        .restarter(&sup)
        .resume("web", &record, &|_| true, false);
    assert_eq!(
        outcome,
        RestartOutcome::Skipped(
            "web is still STOPPING 600s after the previous httpok's stop (pid 42); not \
             starting it"
                .into()
        )
    );
    assert!(sup.calls().is_empty());
    let polls = sup.info_calls.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(polls, 12_001, "one read every 50 ms of its clock");
}
