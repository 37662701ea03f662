//! Name lookups with a deadline and a bound on the threads they cost.
//!
//! getaddrinfo cannot be cancelled or given a timeout, so a name is looked up on a
//! helper thread and the caller waits for it until its deadline. A lookup still running
//! then is left to finish on its own: that is the one place httpok leaves a thread
//! behind, and it is bounded. Callers asking for a name already being looked up wait
//! for that lookup instead of starting one (a hundred checks of `localhost` share one),
//! and at most [`MAX_LOOKUPS_IN_FLIGHT`] run at once: over that, a lookup fails at once
//! with [`ResolveError::Busy`]. A resolver that hangs for good therefore costs at most
//! that many threads, and each round says why its lookups fail.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::lock;

/// Most name lookups running at once (each on a thread of its own).
pub const MAX_LOOKUPS_IN_FLIGHT: usize = 16;

/// Stack of a lookup thread: getaddrinfo needs little (glibc's NSS modules included).
const LOOKUP_STACK: usize = 256 * 1024;

/// Why a name gave no address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// The deadline passed first (the lookup goes on without us).
    Timeout,
    /// The lookup failed or found no address; the text names the host.
    Lookup(String),
    /// [`MAX_LOOKUPS_IN_FLIGHT`] lookups are still running (a hung resolver?), or no
    /// thread could be started; the text names the host and says which.
    Busy(String),
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Timeout => f.write_str("the name lookup did not finish in time"),
            ResolveError::Lookup(msg) | ResolveError::Busy(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for ResolveError {}

/// The addresses of `host` at `port`, before `deadline`. An IP literal (the usual
/// probe, and IPv6 in brackets too) needs no lookup and no thread, even past the
/// deadline.
pub fn resolve(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, ResolveError> {
    let started = Instant::now();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let found = match bare.parse::<IpAddr>() {
        Ok(ip) => Ok(vec![SocketAddr::new(ip, port)]),
        Err(_) => resolve_with(&LOOKUPS, host, port, deadline),
    };
    LOOKUP_TIME.with(|spent| spent.set(spent.get() + started.elapsed()));
    found
}

thread_local! {
    /// Time this thread spent in [`resolve`] since [`take_lookup_time`] last asked: a
    /// probe runs on one thread, ureq's resolver included, so this is its lookups'.
    static LOOKUP_TIME: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// Time this thread spent looking names up since the last call (blackbox_exporter's
/// `probe_dns_lookup_time_seconds` of a probe); starts the count again.
pub fn take_lookup_time() -> Duration {
    LOOKUP_TIME.with(|spent| spent.replace(Duration::ZERO))
}

fn resolve_with(
    lookups: &'static Lookups,
    host: &str,
    port: u16,
    deadline: Instant,
) -> Result<Vec<SocketAddr>, ResolveError> {
    let lookup = lookups.join_or_start(host)?;
    let ips = lookup.wait(deadline).ok_or(ResolveError::Timeout)?;
    let ips = ips.map_err(ResolveError::Lookup)?;
    Ok(ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect())
}

/// How many lookups are running now (for tests and the soak script's reading).
pub fn lookups_in_flight() -> usize {
    lock(&LOOKUPS.running).as_ref().map_or(0, HashMap::len)
}

/// The lookups running, by name.
static LOOKUPS: Lookups = Lookups {
    running: Mutex::new(None),
    look_up: getaddrinfo,
};

struct Lookups {
    /// `None` until the first lookup (a `static` cannot build a HashMap).
    running: Mutex<Option<HashMap<String, Arc<Lookup>>>>,
    /// The blocking lookup itself (a stand-in that hangs, in tests).
    look_up: fn(&str) -> Result<Vec<IpAddr>, String>,
}

/// The system's lookup (getaddrinfo, through std): the host's addresses, or why not.
fn getaddrinfo(host: &str) -> Result<Vec<IpAddr>, String> {
    let ips: Vec<IpAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {e}"))?
        .map(|a| a.ip())
        .collect();
    if ips.is_empty() {
        return Err(format!("{host} has no address"));
    }
    Ok(ips)
}

/// One lookup's result, once there is one.
struct Lookup {
    result: Mutex<Option<Result<Vec<IpAddr>, String>>>,
    done: Condvar,
}

impl Lookups {
    /// The lookup of `host` already running, or a new one if there is room.
    fn join_or_start(&'static self, host: &str) -> Result<Arc<Lookup>, ResolveError> {
        let mut running = lock(&self.running);
        let running = running.get_or_insert_with(HashMap::new);
        if let Some(lookup) = running.get(host) {
            return Ok(lookup.clone());
        }
        if running.len() >= MAX_LOOKUPS_IN_FLIGHT {
            return Err(ResolveError::Busy(format!(
                "cannot look up {host}: {MAX_LOOKUPS_IN_FLIGHT} name lookups are still \
                 running (is the resolver in /etc/resolv.conf hanging?)"
            )));
        }
        let lookup = Arc::new(Lookup {
            result: Mutex::new(None),
            done: Condvar::new(),
        });
        let (name, ours) = (host.to_string(), lookup.clone());
        thread::Builder::new()
            .name("resolve".into())
            .stack_size(LOOKUP_STACK)
            .spawn(move || {
                // The lookup runs with no lock held.
                let result = (self.look_up)(&name);
                self.finish(&name, &ours, result);
            })
            .map_err(|e| {
                ResolveError::Busy(format!("cannot start a thread to look up {host}: {e}"))
            })?;
        running.insert(host.to_string(), lookup.clone());
        Ok(lookup)
    }

    /// Hands `result` to whoever waits for `lookup` and makes room for another.
    fn finish(&self, host: &str, lookup: &Arc<Lookup>, result: Result<Vec<IpAddr>, String>) {
        if let Some(running) = lock(&self.running).as_mut()
            && running.get(host).is_some_and(|l| Arc::ptr_eq(l, lookup))
        {
            running.remove(host);
        }
        *lock(&lookup.result) = Some(result);
        lookup.done.notify_all();
    }
}

impl Lookup {
    /// The result, or `None` if `deadline` passes first.
    fn wait(&self, deadline: Instant) -> Option<Result<Vec<IpAddr>, String>> {
        let mut result = lock(&self.result);
        loop {
            if let Some(result) = result.as_ref() {
                return Some(result.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            result = self
                .done
                .wait_timeout(result, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_ip_literal_is_its_own_address_even_past_the_deadline() {
        let past = Instant::now() - Duration::from_secs(1);
        assert_eq!(
            resolve("::1", 80, past),
            Ok(vec!["[::1]:80".parse().expect("addr")])
        );
        assert_eq!(
            resolve("[::1]", 81, past),
            Ok(vec!["[::1]:81".parse().expect("addr")])
        );
        assert_eq!(
            resolve("127.0.0.1", 82, past),
            Ok(vec!["127.0.0.1:82".parse().expect("addr")])
        );
    }

    #[test]
    fn a_name_that_does_not_resolve_is_a_lookup_error_naming_it() {
        let deadline = Instant::now() + Duration::from_secs(10);
        match resolve("httpok-test.invalid", 80, deadline) {
            Err(ResolveError::Lookup(msg)) => {
                assert!(msg.starts_with("httpok-test.invalid"), "{msg}")
            }
            other => panic!("expected a lookup error, got {other:?}"),
        }
    }

    /// A resolver that hangs for 1.5 s, for the cap.
    fn hung(_: &str) -> Result<Vec<IpAddr>, String> {
        thread::sleep(Duration::from_millis(1500));
        Ok(vec![IpAddr::from([127, 0, 0, 1])])
    }

    static HUNG: Lookups = Lookups {
        running: Mutex::new(None),
        look_up: hung,
    };

    fn running(lookups: &Lookups) -> usize {
        lock(&lookups.running).as_ref().map_or(0, HashMap::len)
    }

    #[test]
    fn a_hung_resolver_costs_at_most_the_cap_in_threads_and_shared_names_share_one() {
        let soon = || Instant::now() + Duration::from_millis(50);
        for i in 0..MAX_LOOKUPS_IN_FLIGHT {
            let name = format!("host{i}.example");
            assert_eq!(
                resolve_with(&HUNG, &name, 80, soon()),
                Err(ResolveError::Timeout)
            );
        }
        assert_eq!(running(&HUNG), MAX_LOOKUPS_IN_FLIGHT);
        // Over the cap: refused at once, with the reason (had it waited for room, one
        // frees within the deadline and the answer would be an address).
        match resolve_with(
            &HUNG,
            "one-more.example",
            80,
            Instant::now() + Duration::from_secs(5),
        ) {
            Err(ResolveError::Busy(msg)) => {
                assert!(msg.contains("one-more.example"), "{msg}");
                assert!(msg.contains("still running"), "{msg}");
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        // A name already being looked up waits for that lookup: no new thread, and
        // its answer comes when the lookup ends.
        let deadline = Instant::now() + Duration::from_secs(10);
        assert_eq!(
            resolve_with(&HUNG, "host0.example", 443, deadline),
            Ok(vec!["127.0.0.1:443".parse().expect("addr")])
        );
        // Once they end, the room is back.
        let deadline = Instant::now() + Duration::from_secs(10);
        while running(&HUNG) > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(running(&HUNG), 0);
    }

    #[test]
    fn localhost_resolves_with_the_port_asked_for() {
        let deadline = Instant::now() + Duration::from_secs(10);
        let addrs = resolve("localhost", 8123, deadline).expect("localhost resolves");
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.port() == 8123), "{addrs:?}");
    }
}
