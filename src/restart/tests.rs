//! Restarts against the in-memory supervisord.

use super::fake::FakeSupervisor;
use super::*;
use crate::model::ProcessInfo;
use crate::notifier::fake::FakeNotifier;
use crate::xmlrpc::Fault;

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
        journal: &|_, _| {},
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
        journal: &|_, _| {},
    };
    let outcome = stop_and_wait(restarter.supervisor, "web", 42);
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
