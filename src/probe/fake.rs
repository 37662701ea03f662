//! A prober that answers each URL as told, for unit tests of whole rounds.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use super::{Failure, Outcome, Probe};
use crate::config::Config;
use crate::lock;
use crate::planner::plan::{ProbeRequest, TargetId};
use crate::watcher::numbered;

/// Answers each URL as told (healthy by default) and counts the targets probed.
#[derive(Default)]
pub struct FakeProber {
    /// Each target's URL, by the ids the watcher gives the config's checks.
    urls: HashMap<TargetId, String>,
    failing: Mutex<HashMap<String, Failure>>,
    pub probed: AtomicUsize,
}

impl FakeProber {
    pub fn of(config: &Config) -> FakeProber {
        let urls = numbered(&config.checks)
            .flat_map(|(check, spec)| {
                spec.targets
                    .iter()
                    .enumerate()
                    .map(move |(index, t)| (TargetId { check, index }, t.to_string()))
            })
            .collect();
        FakeProber {
            urls,
            ..FakeProber::default()
        }
    }

    pub fn fail(&self, url: &str, failure: Failure) {
        lock(&self.failing).insert(url.to_string(), failure);
    }
}

impl Probe for FakeProber {
    fn probe_all(&self, requests: &[ProbeRequest]) -> Vec<(ProbeRequest, Outcome)> {
        self.probed.fetch_add(requests.len(), SeqCst);
        let failing = lock(&self.failing);
        requests
            .iter()
            .map(|r| {
                let failure = self.urls.get(&r.target).and_then(|url| failing.get(url));
                let outcome = Outcome {
                    result: failure.cloned().map_or(Ok(200), Err),
                    ..Outcome::default()
                };
                (*r, outcome)
            })
            .collect()
    }
}
