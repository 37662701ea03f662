//! The endpoint's one thread: poll(2) over the listening socket and every open
//! connection, all non-blocking, so no client can hold up another. The table of
//! connections is bounded (by [`Limits`], and to a quarter of the descriptor limit);
//! when it is full, a new connection closes the one that matters least ([`victim`]: an
//! answered one, else the oldest idle one). Each
//! connection has a deadline for its head and one for its answer; nothing here waits
//! on a client.
//!
//! The snapshot's lock is held to clone it, nothing more: rendering and writing happen
//! after, so a round never waits on a scrape.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::exchange::{Exchange, Next, Phase, Stream};
use super::http::{Refusal, Response, Route};
use super::server::{Limits, Socket};
use crate::planner::status::Snapshot;

/// How long accepting pauses after an error such as "too many open files" (the
/// listening socket stays readable, so polling it again at once would spin).
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Connections accepted per wake-up, so that a burst of connects cannot starve (or,
/// the table full, push out) the connections already open before their heads are read.
const ACCEPTS_PER_WAKE: usize = 16;
/// How often an accept or poll error is logged at most.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The listening socket, the open connections and what they are answered from.
pub(super) struct EventLoop {
    socket: Socket,
    table: Vec<Exchange>,
    status: Arc<Mutex<Snapshot>>,
    limits: Limits,
    /// No accepting before then (after an accept error).
    paused_until: Option<Instant>,
    last_warning: Option<Instant>,
}

impl EventLoop {
    pub(super) fn new(socket: Socket, status: Arc<Mutex<Snapshot>>, limits: Limits) -> EventLoop {
        EventLoop {
            socket,
            table: Vec::with_capacity(limits.connections),
            status,
            limits,
            paused_until: None,
            last_warning: None,
        }
    }

    /// Serves until the process ends.
    pub(super) fn run(mut self) {
        loop {
            self.turn();
        }
    }

    /// One wait and what came of it.
    fn turn(&mut self) {
        let now = Instant::now();
        // Whoever is past its deadline is closed unanswered (or with its answer cut).
        self.table.retain(|x| x.deadline > now);
        let accepting = self.paused_until.is_none_or(|until| now >= until);
        let mut fds = Vec::with_capacity(1 + self.table.len());
        if accepting {
            self.paused_until = None;
            fds.push(pollfd(self.socket.fd(), libc::POLLIN));
        }
        fds.extend(self.table.iter().map(|x| pollfd(x.fd(), x.interest())));
        let wake = self
            .table
            .iter()
            .map(|x| x.deadline)
            .chain(self.paused_until)
            .min();
        if let Err(e) = wait(&mut fds, wake) {
            if e.kind() != io::ErrorKind::Interrupted {
                // EINVAL or ENOMEM: nothing a client did. Do not spin.
                self.warn(now, &format!("metrics: poll failed: {e}"));
                thread::sleep(ACCEPT_PAUSE);
            }
            return;
        }
        let now = Instant::now();
        let conns = &fds[usize::from(accepting)..];
        let mut next = Vec::with_capacity(self.table.len());
        for (x, fd) in self.table.iter_mut().zip(conns) {
            let ready = fd.revents != 0;
            next.push(if ready {
                x.on_ready(now, |judged| respond(judged, &self.status))
            } else {
                Next::Open
            });
        }
        let mut verdicts = next.into_iter();
        self.table.retain(|_| verdicts.next() != Some(Next::Close));
        if accepting && fds[0].revents != 0 {
            self.accept(now);
        }
    }

    /// Takes the connections waiting on the socket, closing the least useful ones
    /// when the table is full.
    fn accept(&mut self, now: Instant) {
        for _ in 0..ACCEPTS_PER_WAKE {
            match self.socket.accept() {
                Ok(stream) => self.admit(stream, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // Reset before it was accepted, or a signal: the next one.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
                    ) => {}
                // Out of descriptors or memory: say so once a minute at most, and pause.
                Err(e) => {
                    self.warn(now, &format!("metrics: cannot accept a connection: {e}"));
                    self.paused_until = Some(now + ACCEPT_PAUSE);
                    return;
                }
            }
        }
    }

    /// Logs `text` unless something was logged within the last [`WARN_EVERY`].
    fn warn(&mut self, now: Instant, text: &str) {
        if self
            .last_warning
            .is_none_or(|at| now.duration_since(at) >= WARN_EVERY)
        {
            log::warn!("{text}");
            self.last_warning = Some(now);
        }
    }

    fn admit(&mut self, stream: Stream, now: Instant) {
        let cap = self.limits.connections.min(descriptor_share()).max(1);
        while self.table.len() >= cap {
            let phases = self.table.iter().map(|x| (x.phase(), x.accepted));
            let Some(i) = victim(phases) else { break };
            self.table.swap_remove(i);
        }
        self.table
            .push(Exchange::new(stream, now, self.limits.timeout));
    }
}

/// The most connections the endpoint may hold: a quarter of httpok's descriptor limit
/// (its soft RLIMIT_NOFILE, read at each accept: it can be lowered while httpok runs).
/// The probes, supervisord's calls, hooks and the state file need the rest: at a limit
/// of 40, idle clients holding 32 connections left the probes none, and every check
/// failed with "Too many open files".
fn descriptor_share() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct it is given, which lives for
    // the whole call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return usize::MAX;
    }
    usize::try_from(limit.rlim_cur / 4).unwrap_or(usize::MAX)
}

/// Which connection to close for a new one: an answered one (draining) first, then the
/// oldest idle one (no whole head yet), then the oldest still being written to.
pub(super) fn victim<'a>(phases: impl Iterator<Item = (&'a Phase, Instant)>) -> Option<usize> {
    phases
        .enumerate()
        .min_by_key(|(_, (phase, accepted))| {
            let rank = match phase {
                Phase::Drain { .. } => 0,
                Phase::Head(_) => 1,
                Phase::Answer { .. } => 2,
            };
            (rank, *accepted)
        })
        .map(|(i, _)| i)
}

/// The answer to a judged head: the page from a clone of the snapshot (the lock held
/// for the clone only), or the refusal.
fn respond(judged: Result<Route, Refusal>, status: &Mutex<Snapshot>) -> Response {
    match judged {
        Ok(route) => {
            let snapshot = status
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            super::answer(route, &snapshot)
        }
        Err(refusal) => Response::refusal(refusal),
    }
}

fn pollfd(fd: i32, events: i16) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// Waits until a descriptor in `fds` is ready or `wake` comes (no `wake`: until a
/// descriptor is ready).
fn wait(fds: &mut [libc::pollfd], wake: Option<Instant>) -> io::Result<()> {
    // Below a millisecond, 0 would spin: round up.
    let millis = wake.map_or(-1, |at| {
        let left = at.saturating_duration_since(Instant::now());
        i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
    });
    // SAFETY: `fds` is a live, exclusively borrowed array of `fds.len()` pollfds whose
    // descriptors stay open (owned by the event loop) for the whole call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
