//! One program's state machine on its own: what each state carries, and where it goes.
//! (Whole rounds of the planner and the lifecycle together: `planner/tests.rs`.)

use std::time::{Duration, Instant};

use super::*;
use crate::planner::plan::{Notice, Plan};
use crate::planner::tests::mails;
use crate::supervisor::model::ProcessInfo;

const LIMITS: Limits = Limits {
    grace: Duration::ZERO,
    max_restarts: Some((1, Duration::from_secs(600))),
    successes: 1,
};

fn cause() -> Cause {
    Cause {
        check: None,
        url: "http://h/".into(),
        reason: "status 500".into(),
        summary: "bad status returned".into(),
    }
}

fn info(state: ProcessState, pid: u32) -> ProcessInfo {
    ProcessInfo {
        name: "web".into(),
        group: "web".into(),
        state,
        pid,
        start: 0,
        now: 1_000,
        ..Default::default()
    }
}

fn clock(t0: Instant, s: u64) -> RoundClock {
    let at = t0 + Duration::from_secs(s);
    RoundClock {
        now: at,
        probes_started: at,
        listed_late: None,
    }
}

#[test]
fn a_restart_carries_its_story_from_the_trip_to_its_mail() {
    let t0 = Instant::now();
    let mut web = Program::new("web");
    let mut plan = Plan::default();
    assert!(web.trip(
        10,
        &cause(),
        vec!["http://h/: status 500".into()],
        t0,
        &LIMITS,
        &mut plan
    ));
    web.add_to_story("Restarting selected processes ['web']".into());
    assert_eq!(web.begin(), Some(10));
    assert!(matches!(
        web.state(),
        State::Restarting {
            pid: 10,
            stop: None,
            ..
        }
    ));
    let record = StopRecord {
        pid: 10,
        issued_at: Some(1_800_000_000),
    };
    web.note_stop(Some(record));
    assert_eq!(web.stop_record(), Some(record));
    web.note_stop(None);
    let mut plan = Plan::default();
    let notes = ["web is in RUNNING state, restarting".to_string()];
    web.finish(
        &RestartOutcome::Restarted { pid: 11 },
        &notes,
        t0,
        &mut plan,
    );
    let body = plan.notices.iter().find_map(|n| match n {
        Notice::Mail { subject, body } => Some((subject.clone(), body.clone())),
        _ => None,
    });
    assert_eq!(
        body,
        Some((
            "http://h/: bad status returned".to_string(),
            vec![
                "http://h/: status 500".to_string(),
                "Restarting selected processes ['web']".to_string(),
                "web is in RUNNING state, restarting".to_string(),
                "web restarted".to_string(),
            ]
        ))
    );
    assert_eq!(
        *web.state(),
        State::Recovering {
            pid: 11,
            since: t0,
            cause: cause(),
            healthy_rounds: 0
        }
    );
    assert_eq!(web.counts().restarted, 1);
    assert_eq!(web.stop_record(), None);
}

#[test]
fn only_a_queued_program_begins_and_a_busy_one_is_never_gone() {
    let mut web = Program::new("web");
    assert_eq!(web.begin(), None);
    assert_eq!(*web.state(), State::Watching);
    web.resume(StopRecord {
        pid: 7,
        issued_at: None,
    });
    assert_eq!(web.begin(), None, "a restart under way is not begun twice");
    let mut plan = Plan::default();
    let t0 = Instant::now();
    web.observe(None, Health::Unknown, &clock(t0, 0), &LIMITS, &mut plan);
    assert!(web.is_busy() && plan.lines.is_empty(), "{plan:?}");
}

#[test]
fn a_given_up_program_that_goes_down_is_not_mailed_again_and_a_failed_start_is_mailed_once() {
    let t0 = Instant::now();
    let mut web = Program::new("web");
    web.restore([t0], true);
    assert!(matches!(
        web.state(),
        State::GaveUp {
            answered: false,
            ..
        }
    ));
    let failing = cause();
    let mut plan = Plan::default();
    let down = info(ProcessState::Fatal, 0);
    web.observe(
        Some(&down),
        Health::Failing(&failing),
        &clock(t0, 5),
        &LIMITS,
        &mut plan,
    );
    assert_eq!(mails(&plan), 0, "the give-up's mail covers it");
    assert_eq!(
        *web.state(),
        State::Down {
            state: ProcessState::Fatal,
            mailed: true
        }
    );
    // RUNNING again: a new incident, mailed when it goes down.
    let mut plan = Plan::default();
    web.observe(
        Some(&info(ProcessState::Running, 12)),
        Health::Unknown,
        &clock(t0, 10),
        &LIMITS,
        &mut plan,
    );
    assert_eq!(*web.state(), State::Watching);
    web.observe(
        Some(&info(ProcessState::Exited, 0)),
        Health::Failing(&failing),
        &clock(t0, 15),
        &LIMITS,
        &mut plan,
    );
    assert_eq!(mails(&plan), 1);
    // A failed start is mailed by the restart; going on down is not mailed again.
    let mut web = Program::new("web");
    assert!(web.trip(10, &failing, Vec::new(), t0, &LIMITS, &mut Plan::default()));
    web.begin();
    let mut plan = Plan::default();
    web.finish(
        &RestartOutcome::StartFailed("FATAL".into()),
        &[],
        t0,
        &mut plan,
    );
    assert_eq!(mails(&plan), 1);
    let mut plan = Plan::default();
    web.observe(
        Some(&down),
        Health::Failing(&failing),
        &clock(t0, 5),
        &LIMITS,
        &mut plan,
    );
    assert_eq!(mails(&plan), 0);
    assert_eq!(web.counts().failed, 1);
}
