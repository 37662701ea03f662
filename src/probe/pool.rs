//! The concurrent round: every request probed at once, each on a thread of a pool that
//! grows while probes are slow.
//!
//! A probe is a blocking exchange on a thread of its own (ureq, rustls), and a thread
//! waiting for a peer that never answers keeps the stack it touched on the way in (about
//! 48 KiB). So the pool starts with [`BASE_WORKERS`] threads, enough to keep a fast app
//! busy, and adds one for every probe that has run longer than [`SLOW`]: the hanging
//! probes of a round all wait out their `-t` together, while the fast ones go on at the
//! base rate, and a round of healthy probes costs [`BASE_WORKERS`] threads whatever the
//! number of checks. Targets start in the order of their last round's latency, slowest
//! first, each one that took half its timeout or more last round with a thread of its
//! own from the start: one that hung last time starts its wait at the start of the round
//! rather than behind thousands of fast ones. (A first round knows nothing yet: its hanging probes start as
//! the pool grows, the last of 1,000 among 10,000 about a second in.)
//!
//! Bounds: at most [`MAX_CONCURRENT_PROBES`] threads, and at most half of httpok's
//! descriptor limit in sockets ([`Prober::probes_in_flight`]).

use std::cmp::Reverse;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{Outcome, Prober, micros};
use crate::config::target::Target;
use crate::planner::plan::ProbeRequest;

/// Most probes in flight at once; the rest wait for a free worker. Fewer when the
/// descriptor limit is lower ([`Prober::probes_in_flight`]).
pub const MAX_CONCURRENT_PROBES: usize = 2048;
/// Threads a round starts with: they keep a fast app busy.
const BASE_WORKERS: usize = 64;
/// A probe running longer than this (or than four times the round's mean so far, see
/// `Finished::slow_after`) gets a thread added to the pool in its place. Well above a
/// busy app's answer (64 probes queued at an app answering 5,000 a second wait
/// about 13 ms), so that a busy app does not grow the pool, which would only queue more.
const SLOW: Duration = Duration::from_millis(50);
/// How often the round looks for slow probes while requests wait.
const LOOK_EVERY: Duration = Duration::from_millis(2);
/// A probe thread's stack: ureq, rustls' handshake and a body scan need well under it.
const PROBE_STACK: usize = 256 * 1024;
/// Descriptors an exec probe holds while it runs: its three pipes, and their child
/// ends while it starts.
const EXEC_FDS: usize = 4;

impl Prober {
    /// Probes every request at once; each outcome with the request it answers, in
    /// request order.
    pub fn probe_all(&self, requests: &[ProbeRequest]) -> Vec<(ProbeRequest, Outcome)> {
        if let [request] = requests {
            // One check (superlance's case): no thread to start.
            return vec![(*request, self.probe(request))];
        }
        let (order, expected_slow) = self.slowest_first(requests);
        let slots: Vec<Mutex<Option<Outcome>>> =
            requests.iter().map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let limit = self.probes_in_flight(requests);
        // Per worker: when its probe started (µs after `epoch`, plus one), 0 when idle.
        let busy_since: Vec<AtomicU64> = (0..limit).map(|_| AtomicU64::new(0)).collect();
        let epoch = Instant::now();
        let finished = Finished::default();
        let mut started = 0;
        thread::scope(|scope| {
            loop {
                let now = micros(epoch.elapsed());
                let threshold = finished.slow_after();
                let slow = busy_since[..started]
                    .iter()
                    .map(|since| since.load(Ordering::Relaxed))
                    .filter(|&since| since != 0 && now.saturating_sub(since - 1) > threshold)
                    .count();
                let wanted = (slow.max(expected_slow) + BASE_WORKERS).min(limit);
                while started < wanted {
                    let busy = &busy_since[started];
                    let (order, slots, next, finished) = (&order, &slots, &next, &finished);
                    let work = move || {
                        while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                            busy.store(micros(epoch.elapsed()) + 1, Ordering::Relaxed);
                            let outcome = self.probe(&requests[i]);
                            busy.store(0, Ordering::Relaxed);
                            finished.add(outcome.latency);
                            if let Ok(mut slot) = slots[i].lock() {
                                *slot = Some(outcome);
                            }
                        }
                    };
                    let spawned = thread::Builder::new()
                        .stack_size(PROBE_STACK)
                        .spawn_scoped(scope, work);
                    if let Err(e) = spawned {
                        log::warn!("could not start a probe thread ({e}); probing with fewer");
                        return;
                    }
                    started += 1;
                }
                if next.load(Ordering::Relaxed) >= requests.len() {
                    return;
                }
                thread::sleep(LOOK_EVERY);
            }
        });
        if started > BASE_WORKERS {
            // The extra threads' buffers, freed in arenas the next round may not use.
            crate::trim_heap();
        }
        // Whatever no worker reached (no thread could start) is probed here.
        slots
            .into_iter()
            .zip(requests)
            .map(|(slot, request)| {
                let outcome = slot.into_inner().ok().flatten();
                (*request, outcome.unwrap_or_else(|| self.probe(request)))
            })
            .collect()
    }

    /// The indices of `requests`, the targets whose last probe took longest first (a
    /// target not probed yet counts as fast), the rest in request order; and how many
    /// of them took at least half their timeout (hung, most likely), each to get a
    /// thread of its own at once. Only those: a busy app's answers, slower than usual,
    /// would grow the pool and queue more at the same app.
    fn slowest_first(&self, requests: &[ProbeRequest]) -> (Vec<usize>, usize) {
        let last = |r: &ProbeRequest| {
            self.checks.get(&r.target.check).map_or((0, 0), |c| {
                let latency = c.last_latency.get(r.target.index);
                let latency = latency.map_or(0, |l| l.load(Ordering::Relaxed));
                (latency, micros(c.settings.timeout))
            })
        };
        let mut order: Vec<usize> = (0..requests.len()).collect();
        order.sort_by_key(|&i| Reverse(last(&requests[i]).0));
        let hung = requests
            .iter()
            .filter(|r| {
                let (latency, timeout) = last(r);
                latency > 0 && latency >= timeout / 2
            })
            .count();
        (order, hung)
    }

    /// How many of `requests` to probe at once: at most [`MAX_CONCURRENT_PROBES`], and at
    /// most half of httpok's descriptor limit (its soft RLIMIT_NOFILE) in descriptors,
    /// an exec probe counting for [`EXEC_FDS`] (its pipes). The metrics endpoint holds
    /// at most a quarter; supervisord's calls, hooks, the state file and the rest get
    /// what is left, so a large round cannot starve them (a probe that finds no
    /// descriptor fails as `Failure::Starved`, which counts against nothing).
    pub(super) fn probes_in_flight(&self, requests: &[ProbeRequest]) -> usize {
        let is_exec = |r: &ProbeRequest| {
            self.checks
                .get(&r.target.check)
                .and_then(|c| c.targets.get(r.target.index))
                .is_some_and(|t| matches!(t, Target::Exec { .. }))
        };
        let fds_each = if requests.iter().any(is_exec) {
            EXEC_FDS
        } else {
            1
        };
        let budget = descriptor_limit() / 2 / fds_each;
        requests.len().min(MAX_CONCURRENT_PROBES).min(budget).max(1)
    }
}

/// The probes a round has finished: how many, and their summed latency in µs.
#[derive(Default)]
struct Finished {
    count: AtomicU64,
    micros: AtomicU64,
}

impl Finished {
    fn add(&self, latency: Duration) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.micros.fetch_add(micros(latency), Ordering::Relaxed);
    }

    /// How long (µs) a probe runs before it counts as slow: [`SLOW`], or four times
    /// the mean of the probes finished so far if that is more. On a loaded machine, or
    /// at an app that answers slowly, every probe takes longer; growing the pool for
    /// them would only queue more at the same CPU or app (it once grew to its cap).
    fn slow_after(&self) -> u64 {
        let count = self.count.load(Ordering::Relaxed);
        let mean = self
            .micros
            .load(Ordering::Relaxed)
            .checked_div(count)
            .unwrap_or(0);
        micros(SLOW).max(mean.saturating_mul(4))
    }
}

/// httpok's soft RLIMIT_NOFILE, read each round (it can be changed while httpok runs);
/// 1024, the usual default, if it cannot be read.
fn descriptor_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct it is given, which lives for
    // the whole call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
}
