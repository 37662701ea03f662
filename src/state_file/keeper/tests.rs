//! The keeper against stores that hang or fail: callers never wait on the disk, the
//! newest state wins, and each incident is one WARN and one line when it is over.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use log::Level;

use super::*;
use crate::planner::selection::Exclusions;
use crate::state_file::{SavedProgram, StopRecord};

/// A store that keeps what it was given and can be made to hang or fail.
#[derive(Default)]
struct FakeStore {
    state: Mutex<StoreState>,
    changed: Condvar,
}

#[derive(Default)]
struct StoreState {
    /// Each write's text that ended well.
    written: Vec<String>,
    /// While true, a write blocks (a hung disk).
    hang: bool,
    /// Writes that block right now.
    blocked: usize,
    /// While true, a write fails.
    fail: bool,
}

impl Store for Arc<FakeStore> {
    fn write(&self, text: &[u8]) -> Result<(), String> {
        let mut state = self.state.lock().expect("lock");
        state.blocked += 1;
        self.changed.notify_all();
        while state.hang {
            state = self.changed.wait(state).expect("wait");
        }
        state.blocked -= 1;
        if state.fail {
            return Err("No space left on device (os error 28)".into());
        }
        state
            .written
            .push(String::from_utf8_lossy(text).into_owned());
        self.changed.notify_all();
        Ok(())
    }
}

impl FakeStore {
    fn set(&self, f: impl FnOnce(&mut StoreState)) {
        f(&mut self.state.lock().expect("lock"));
        self.changed.notify_all();
    }

    /// Waits (bounded) until `done` holds of the store's state.
    fn wait(&self, what: &str, done: impl Fn(&StoreState) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut state = self.state.lock().expect("lock");
        while !done(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting for {what}");
            state = self.changed.wait_timeout(state, left).expect("wait").0;
        }
    }

    fn written(&self) -> Vec<String> {
        self.state.lock().expect("lock").written.clone()
    }
}

/// The lines a keeper said.
type Lines = Arc<Mutex<Vec<(Level, String)>>>;

/// A keeper on a fake store, with the lines it says.
fn keeper(deadline: Duration) -> (Keeper, Arc<FakeStore>, Lines) {
    let store = Arc::new(FakeStore::default());
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let say: Say = Arc::new(move |level, text| sink.lock().expect("lock").push((level, text)));
    let keeper = Keeper::with_store(Box::new(Arc::clone(&store)), say, deadline);
    (keeper, store, lines)
}

/// A planner whose program web is in a restart (as a state file left it).
fn planner() -> Planner {
    let mut planner = Planner::of_checks(Vec::new(), 1, Exclusions::default(), false);
    let saved = Saved {
        version: state_file::VERSION,
        programs: vec![SavedProgram {
            program: "web".into(),
            stopping: Some(7),
            ..SavedProgram::default()
        }],
        ..Saved::default()
    };
    planner.import(&saved, Instant::now(), 1_700_000_000);
    planner
}

/// A snapshot that differs from the last one: a stop of `pid` noted.
fn stop_of(keeper: &Keeper, planner: &mut Planner, pid: u32) -> Option<Snapshot> {
    let record = StopRecord {
        pid,
        issued_at: Some(1_700_000_000),
    };
    planner.note_stop("web", Some(record));
    keeper.snapshot(planner)
}

fn levels(lines: &Mutex<Vec<(Level, String)>>) -> Vec<Level> {
    let lines = lines.lock().expect("lock");
    lines
        .iter()
        .filter(|(l, _)| *l <= Level::Info)
        .map(|(l, _)| *l)
        .collect()
}

/// Runs `f` on a thread of its own and returns what it returns, failing the test if it
/// has not returned within 10 s (a call that waited on a hung store would never).
fn returns<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what} waited on the hung store"))
}

#[test]
fn a_write_that_hangs_blocks_no_caller_and_is_one_warning_then_one_recovery_line() {
    let (keeper, store, lines) = keeper(Duration::from_millis(200));
    let keeper = Arc::new(keeper);
    let mut planner = planner();
    store.set(|s| s.hang = true);
    // Rounds hand over their state while the disk hangs: each call returns.
    let k = Arc::clone(&keeper);
    let first = stop_of(&keeper, &mut planner, 1);
    returns("a submit", move || k.submit(first));
    store.wait("the first write to block", |s| s.blocked == 1);
    let k = Arc::clone(&keeper);
    let mut planner = returns("a submit", move || {
        for pid in 2..50 {
            k.submit(stop_of(&k, &mut planner, pid));
        }
        planner
    });
    // Once the write is past its deadline, the next round's hand-over says so, once.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pid = 50;
    while levels(&lines).is_empty() {
        assert!(Instant::now() < deadline, "no WARN about the hung write");
        pid += 1;
        keeper.submit(stop_of(&keeper, &mut planner, pid));
        std::thread::sleep(Duration::from_millis(10));
    }
    keeper.submit(stop_of(&keeper, &mut planner, pid + 1));
    assert_eq!(levels(&lines), [Level::Warn], "{lines:?}");
    assert!(
        lines.lock().expect("lock")[0]
            .1
            .contains("has not finished after")
    );
    // A stop record does not wait for a disk known to hang (nor for its hour).
    let last = pid + 2;
    let snapshot = stop_of(&keeper, &mut planner, last);
    let k = Arc::clone(&keeper);
    let stored = returns("a stop record's wait", move || {
        k.submit_and_wait(snapshot, Duration::from_secs(3600))
    });
    assert!(!stored);
    // The disk answers: the hung write ends, then only the newest state is written.
    store.set(|s| s.hang = false);
    store.wait("the newest state written", |s| s.written.len() == 2);
    let written = store.written();
    assert!(written[0].contains("\"stopping\": 1,"), "{}", written[0]);
    let newest = format!("\"stopping\": {last},");
    assert!(written[1].contains(&newest), "{}", written[1]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while levels(&lines).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(levels(&lines), [Level::Warn, Level::Info], "{lines:?}");
    assert_eq!(
        lines.lock().expect("lock")[1].1,
        "the state file is written again"
    );
}

#[test]
fn a_failing_write_is_one_warning_and_the_first_good_write_one_line() {
    let (keeper, store, lines) = keeper(Duration::from_secs(5));
    let mut planner = planner();
    store.set(|s| s.fail = true);
    for pid in 1..5 {
        assert!(
            !keeper.submit_and_wait(stop_of(&keeper, &mut planner, pid), Duration::from_secs(5))
        );
    }
    assert_eq!(levels(&lines), [Level::Warn], "{lines:?}");
    assert!(
        lines.lock().expect("lock")[0]
            .1
            .contains("No space left on device")
    );
    store.set(|s| s.fail = false);
    assert!(keeper.submit_and_wait(stop_of(&keeper, &mut planner, 5), Duration::from_secs(5)));
    assert_eq!(levels(&lines), [Level::Warn, Level::Info], "{lines:?}");
    // Written once; failures are retried at the next change, not in a loop.
    assert_eq!(store.written().len(), 1);
}

#[test]
fn a_stop_record_is_on_disk_when_the_wait_says_so_and_an_unchanged_state_is_not_rewritten() {
    let (keeper, store, lines) = keeper(Duration::from_secs(5));
    let mut planner = planner();
    assert!(keeper.submit_and_wait(stop_of(&keeper, &mut planner, 42), Duration::from_secs(5)));
    let written = store.written();
    assert_eq!(written.len(), 1);
    assert!(written[0].contains("\"stopping\": 42,"), "{}", written[0]);
    assert!(
        written[0].contains("\"stop_issued_at\": 1700000000"),
        "{}",
        written[0]
    );
    // The same state again: nothing written, and still "on disk".
    assert!(keeper.submit_and_wait(keeper.snapshot(&planner), Duration::from_secs(5)));
    assert_eq!(store.written().len(), 1);
    // The start issued: the record is gone from the next state.
    planner.note_stop("web", None);
    assert!(keeper.submit_and_wait(keeper.snapshot(&planner), Duration::from_secs(5)));
    let written = store.written();
    assert_eq!(written.len(), 2);
    assert!(!written[1].contains("stopping\": 42"), "{}", written[1]);
    assert!(lines.lock().expect("lock").is_empty());
}

#[test]
fn an_older_snapshot_handed_over_late_never_replaces_a_newer_one() {
    let (keeper, store, _) = keeper(Duration::from_secs(5));
    let mut planner = planner();
    let older = stop_of(&keeper, &mut planner, 1);
    let newer = stop_of(&keeper, &mut planner, 2);
    assert!(keeper.submit_and_wait(newer, Duration::from_secs(5)));
    keeper.submit(older);
    assert!(keeper.submit_and_wait(keeper.snapshot(&planner), Duration::from_secs(5)));
    let written = store.written();
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(written[0].contains("\"stopping\": 2,"));
}

#[test]
fn a_state_that_comes_back_to_what_is_on_disk_is_not_said_written_while_writes_fail() {
    let (keeper, store, lines) = keeper(Duration::from_secs(5));
    let mut planner = planner();
    assert!(keeper.submit_and_wait(keeper.snapshot(&planner), Duration::from_secs(5)));
    store.set(|s| s.fail = true);
    // A full disk, and the state goes A -> B -> A -> B ...: one WARN, no recovery line
    // while every real write fails.
    for pid in 1..5 {
        assert!(
            !keeper.submit_and_wait(stop_of(&keeper, &mut planner, pid), Duration::from_secs(5))
        );
        planner.note_stop(
            "web",
            Some(StopRecord {
                pid: 7,
                issued_at: None,
            }),
        );
        keeper.submit_and_wait(keeper.snapshot(&planner), Duration::from_secs(5));
    }
    assert_eq!(levels(&lines), [Level::Warn], "{lines:?}");
    assert_eq!(store.written().len(), 1);
    // The disk has room again: the next write is the one that says so.
    store.set(|s| s.fail = false);
    assert!(keeper.submit_and_wait(stop_of(&keeper, &mut planner, 9), Duration::from_secs(5)));
    assert_eq!(levels(&lines), [Level::Warn, Level::Info], "{lines:?}");
    assert_eq!(store.written().len(), 2);
}
