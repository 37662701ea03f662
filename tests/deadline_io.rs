//! The deadline module (`httpok::deadline`) against hostile peers, in a test binary of
//! its own: one test, so that no other test's threads or sockets come and go in this
//! process while it counts its own (/proc/self/task and /proc/self/fd).
//!
//! Each case runs many times; afterwards the process holds exactly the threads and fds
//! it held before. The code this replaced connected to a unix socket on a helper thread
//! and gave up on it at the deadline: against a full backlog that left one thread and
//! one fd behind per call, which this test counts.
mod common;

use std::io;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use common::*;
use httpok::deadline::{self, Stream};

const ROUNDS: usize = 20;
/// Each call's deadline.
const LIMIT: Duration = Duration::from_millis(300);
/// The most a call may run past its deadline on a loaded machine.
const SLACK: Duration = Duration::from_secs(2);

/// Runs `call` (which must fail by its deadline with `TimedOut`) `ROUNDS` times, each
/// ended within the slack, and returns how long the slowest took.
fn each_times_out(what: &str, mut call: impl FnMut(Instant) -> io::Result<()>) -> Duration {
    let mut slowest = Duration::ZERO;
    for round in 0..ROUNDS {
        let started = Instant::now();
        let result = call(started + LIMIT);
        let took = started.elapsed();
        match result {
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
            other => panic!("{what}, round {round}: expected a timeout, got {other:?}"),
        }
        assert!(
            took >= LIMIT - Duration::from_millis(20),
            "{what}: over after {took:?}"
        );
        assert!(took < LIMIT + SLACK, "{what}: took {took:?}");
        slowest = slowest.max(took);
    }
    slowest
}

fn holdings() -> Holdings {
    Holdings::of("self").expect("/proc/self")
}

#[test]
fn hostile_peers_cost_their_deadline_and_leave_no_thread_or_fd_behind() {
    let dir = TempDir::new("dlio");
    let full = FullBacklogSocket::bind(&dir.path().join("full.sock"));
    let silent = SilentPeer::start();
    let dribbler = Dribbler::start(b"HTTP/1.1 200 OK\r\n", Duration::from_millis(100));

    let unix = |deadline| deadline::connect_unix(full.path(), deadline).map(drop);
    let silent_read = |deadline| {
        let stream = Stream::Tcp(deadline::connect_tcp(&[silent.addr()], deadline)?);
        stream.write_all_before(b"GET / HTTP/1.0\r\n\r\n", deadline)?;
        stream.read_to_end_before(1024, deadline).map(drop)
    };
    let dribbled = |deadline| {
        let stream = Stream::Tcp(deadline::connect_tcp(&[dribbler.addr()], deadline)?);
        stream.write_all_before(b"GET / HTTP/1.0\r\n\r\n", deadline)?;
        let answer = stream.read_to_end_before(1 << 20, deadline);
        stream.shutdown(Shutdown::Both);
        answer.map(drop)
    };
    // Names looked up on helper threads: those end by themselves once answered.
    let lookup = |deadline| {
        deadline::resolve("localhost", 80, deadline)
            .map(drop)
            .map_err(io::Error::other)
    };

    // One of each first: whatever is made once (lazy statics, the dribbler's
    // connection) is there before counting starts.
    let warm = Instant::now() + LIMIT;
    let _ = (unix(warm), silent_read(warm), dribbled(warm), lookup(warm));
    wait_until("the lookup thread to end", Duration::from_secs(10), || {
        deadline::lookups_in_flight() == 0
    });
    let before = holdings();

    let slowest = each_times_out("unix connect to a full backlog", unix);
    eprintln!("unix connect to a full backlog: slowest {slowest:?}");
    let slowest = each_times_out("a TCP peer that never answers", silent_read);
    eprintln!("a TCP peer that never answers: slowest {slowest:?}");
    let slowest = each_times_out("a server that dribbles", dribbled);
    eprintln!("a server that dribbles a byte per 100 ms: slowest {slowest:?}");
    for _ in 0..ROUNDS {
        lookup(Instant::now() + Duration::from_secs(10)).expect("localhost resolves");
    }

    // The dribbler notices a client is gone on its next byte; lookups end by themselves.
    let settled = poll(Duration::from_secs(10), || {
        let now = holdings();
        if now.threads == before.threads && now.fds == before.fds {
            Ok(now)
        } else {
            Err(format!("before {before:?}, now {now:?}"))
        }
    });
    let after = settled.unwrap_or_else(|e| panic!("threads or fds left behind: {e}"));
    eprintln!("before {before:?}, after {ROUNDS} rounds of each: {after:?}");
}
