//! Keeps the `--state-file` in step with the planner: after every round and restart,
//! and around every stop (so a restart cut short by a SIGKILL of httpok is finished by
//! the next one). Writes only when the state changed; a failed write is a WARN, once
//! per kind of failure, and never stops httpok.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::lock;
use crate::planner::Planner;
use crate::state_file::{self, Saved, SavedCert};

pub struct Keeper {
    path: Option<PathBuf>,
    /// Restarts between their stop and their start: namespec, pid stopped.
    in_flight: Mutex<BTreeMap<String, u32>>,
    /// What was last written, so an unchanged state is not written again.
    written: Mutex<Option<String>>,
    /// The last write error, said once.
    failed: Mutex<Option<String>>,
    /// Certificate notices given (cert_watch.rs), as the watcher last exported them.
    certs: Mutex<Vec<SavedCert>>,
}

/// Seconds since the epoch now (the state file's clock).
pub fn epoch_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Keeper {
    pub fn new(path: Option<PathBuf>) -> Keeper {
        Keeper {
            path,
            in_flight: Mutex::new(BTreeMap::new()),
            written: Mutex::new(None),
            failed: Mutex::new(None),
            certs: Mutex::new(Vec::new()),
        }
    }

    /// The state a previous httpok left; `None` (with a WARN) when there is none to use.
    pub fn load(&self) -> Option<Saved> {
        let path = self.path.as_ref()?;
        match state_file::load(path) {
            Ok(Some(saved)) => {
                log::info!("state read from {}", path.display());
                Some(saved)
            }
            // A first start (INFO, not WARN: a fresh install is not a problem); an
            // unreadable or corrupt file is a WARN below.
            Ok(None) => {
                log::info!("no state file at {} yet; starting fresh", path.display());
                None
            }
            Err(e) => {
                log::warn!(
                    "cannot use the state file {}: {e}; starting fresh (it is rewritten \
                     at the next change)",
                    path.display()
                );
                None
            }
        }
    }

    /// A restart's stop is about to be issued (`Some(pid)`) or its start was (`None`).
    pub fn journal(&self, namespec: &str, stopping: Option<u32>, planner: &Planner) {
        {
            let mut in_flight = lock(&self.in_flight);
            match stopping {
                Some(pid) => in_flight.insert(namespec.to_string(), pid),
                None => in_flight.remove(namespec),
            };
        }
        self.save(planner);
    }

    /// The certificate notices to keep from now on (written with the next save).
    pub fn note_certs(&self, certs: Vec<SavedCert>) {
        *lock(&self.certs) = certs;
    }

    /// Writes the planner's state (and the restarts in flight) if it changed.
    pub fn save(&self, planner: &Planner) {
        let Some(path) = &self.path else {
            return;
        };
        let mut saved = planner.export(Instant::now(), epoch_now());
        saved.certs = lock(&self.certs).clone();
        for (namespec, pid) in lock(&self.in_flight).iter() {
            match saved.programs.iter_mut().find(|p| &p.program == namespec) {
                Some(p) => p.stopping = Some(*pid),
                None => saved.programs.push(state_file::SavedProgram {
                    program: namespec.clone(),
                    stopping: Some(*pid),
                    ..Default::default()
                }),
            }
        }
        let text = match serde_json::to_string(&saved) {
            Ok(text) => text,
            Err(e) => return log::warn!("cannot encode the state: {e}"),
        };
        let mut written = lock(&self.written);
        if written.as_deref() == Some(text.as_str()) {
            return;
        }
        match state_file::save(path, &saved) {
            Ok(()) => {
                *written = Some(text);
                lock(&self.failed).take();
            }
            Err(e) => {
                let mut failed = lock(&self.failed);
                if failed.as_deref() != Some(e.as_str()) {
                    log::warn!("cannot write the state file {}: {e}", path.display());
                    *failed = Some(e);
                }
            }
        }
    }
}
