//! `--stop-grace`: the stop is polled, and a process still STOPPING as the pid that
//! failed is killed once the grace has passed (its group with killasgroup).

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::restart::kill::{Kill, KillError, StopGrace};

/// Records the kills; `refuse`: EPERM. A kill that works stops the process in the
/// fake supervisord, as supervisord sees the SIGKILLed pid exit.
struct FakeKill<'a> {
    sup: &'a FakeSupervisor,
    refuse: bool,
    kills: Mutex<Vec<(u32, bool)>>,
}

impl<'a> FakeKill<'a> {
    /// A kill that records what it was asked and, when `refuse`, answers EPERM.
    fn new(sup: &'a FakeSupervisor, refuse: bool) -> Self {
        FakeKill {
            sup,
            refuse,
            kills: Mutex::default(),
        }
    }
}

impl Kill for FakeKill<'_> {
    fn kill(&self, pid: u32, group: bool) -> Result<(), KillError> {
        crate::lock(&self.kills).push((pid, group));
        if self.refuse {
            return Err(KillError::NotPermitted);
        }
        self.sup.set("web", ProcessState::Stopped, 0, "");
        Ok(())
    }
}

fn frozen(kill_as_group: Option<bool>) -> FakeSupervisor {
    let mut sup = FakeSupervisor::with(vec![web(42)]);
    sup.stuck_stopping = true;
    sup.kill_as_group = kill_as_group;
    sup
}

fn restart_with_grace(
    sup: &FakeSupervisor,
    kill: &FakeKill<'_>,
    warned: &Mutex<BTreeSet<String>>,
    pid: u32,
) -> RestartOutcome {
    let notifier = FakeNotifier::default();
    let clock = FakeClock::default();
    let gate = Gate::default();
    let restarter = Restarter {
        supervisor: sup,
        notifier: &notifier,
        gate: &gate,
        journal: &|_: &str, _: Option<StopRecord>| {},
        clock: &clock,
        poll: POLL_INTERVAL,
        grace: Some(StopGrace {
            after: Duration::from_secs(1),
            kill,
            warned,
        }),
    };
    restarter.restart("web", pid, &mut |_| {})
}

#[test]
fn a_stop_still_stopping_after_the_grace_is_killed_by_group_or_pid_as_killasgroup_says() {
    // (killasgroup in getAllConfigInfo, the kill sent)
    for (kill_as_group, group) in [(Some(true), true), (Some(false), false), (None, false)] {
        let sup = frozen(kill_as_group);
        let kill = FakeKill::new(&sup, false);
        let outcome = restart_with_grace(&sup, &kill, &Mutex::default(), 42);
        assert_eq!(outcome, RestartOutcome::Restarted { pid: 1001 });
        assert_eq!(
            *crate::lock(&kill.kills),
            [(42, group)],
            "{kill_as_group:?}"
        );
        assert_eq!(sup.calls(), ["stop web false", "start web false"]);
    }
}

#[test]
fn a_stop_that_ends_within_the_grace_kills_nothing() {
    let sup = FakeSupervisor::with(vec![web(42)]);
    let kill = FakeKill::new(&sup, false);
    let outcome = restart_with_grace(&sup, &kill, &Mutex::default(), 42);
    assert_eq!(outcome, RestartOutcome::Restarted { pid: 1001 });
    assert!(crate::lock(&kill.kills).is_empty());
    assert_eq!(sup.calls(), ["stop web false", "start web false"]);
}

#[test]
fn a_kill_httpok_may_not_send_is_said_once_and_stopwaitsecs_still_ends_the_restart() {
    let warned = Mutex::new(BTreeSet::new());
    for round in 0..2 {
        let mut sup = frozen(Some(true));
        // supervisord's own SIGKILL, at its stopwaitsecs (100 polls of 50 ms here).
        sup.stopping_reads = Some(100);
        let kill = FakeKill::new(&sup, true);
        let outcome = restart_with_grace(&sup, &kill, &warned, 42);
        assert_eq!(
            outcome,
            RestartOutcome::Restarted { pid: 1001 },
            "restart {round}"
        );
        // Tried once per restart, not at every poll.
        assert_eq!(*crate::lock(&kill.kills), [(42, true)]);
    }
    assert_eq!(
        *crate::lock(&warned),
        BTreeSet::from(["web".to_string()]),
        "one WARN for web, kept so the second restart says nothing"
    );
}

#[test]
fn a_reload_during_the_grace_ends_the_restart_at_once_without_a_kill_or_a_start() {
    // supervisorctl reload while the frozen program stops: supervisord answers every
    // read SHUTDOWN_STATE, stops the program itself (its stopwaitsecs) and starts it
    // when it comes back. Waiting 30 s on it held the reload up and ended in a false
    // "Failed to stop process".
    let mut sup = frozen(Some(true));
    sup.shutting_down_after_stop = true;
    let kill = FakeKill::new(&sup, false);
    let before = sup.info_calls.load(std::sync::atomic::Ordering::SeqCst);
    let outcome = restart_with_grace(&sup, &kill, &Mutex::default(), 42);
    let RestartOutcome::Interrupted(why) = outcome else {
        panic!("not interrupted: {outcome:?}");
    };
    assert!(why.contains("shutting down or reloading"), "{why}");
    assert!(crate::lock(&kill.kills).is_empty());
    assert_eq!(sup.calls(), ["stop web false"]);
    // One read after the stop, not 30 s of them.
    let reads = sup.info_calls.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert!(reads <= 2, "{reads} reads");
}

#[test]
fn a_stop_refused_because_supervisord_reloads_is_no_failed_stop() {
    for grace in [false, true] {
        let mut sup = FakeSupervisor::with(vec![web(42)]);
        sup.stop_fault = Some(crate::supervisor::xmlrpc::Fault {
            code: crate::supervisor::fault::SHUTDOWN_STATE,
            string: "SHUTDOWN_STATE".into(),
        });
        let kill = FakeKill::new(&sup, false);
        let outcome = if grace {
            restart_with_grace(&sup, &kill, &Mutex::default(), 42)
        } else {
            run(&sup, &Gate::default(), 42).0
        };
        assert!(
            matches!(&outcome, RestartOutcome::Interrupted(why) if why.contains("reloading")),
            "grace {grace}: {outcome:?}"
        );
        assert_eq!(
            sup.calls(),
            ["stop web ".to_string() + &(!grace).to_string()]
        );
    }
}

#[test]
fn a_program_the_operator_restarted_during_the_grace_is_neither_killed_nor_started() {
    // `kill -9` and `supervisorctl start` by hand while httpok waits its grace: the
    // fresh pid is not ours, before or after the grace would have passed.
    for reads in [3, 19, 21, 40] {
        let mut sup = frozen(Some(true));
        sup.stopping_reads = Some(reads);
        sup.restarted_by_hand_as = Some(77);
        let kill = FakeKill::new(&sup, true);
        let outcome = restart_with_grace(&sup, &kill, &Mutex::default(), 42);
        assert!(
            matches!(&outcome, RestartOutcome::Skipped(why) if why.contains("now pid 77")),
            "after {reads} reads: {outcome:?}"
        );
        // A kill, if any, went to the pid that failed while it was still STOPPING.
        assert!(
            crate::lock(&kill.kills).iter().all(|&(pid, _)| pid == 42),
            "{:?}",
            crate::lock(&kill.kills)
        );
        assert_eq!(sup.calls(), ["stop web false"]);
    }
}
