//! An in-memory supervisord, for unit tests of restarts and whole rounds.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::model::{ProcessInfo, ProcessState};
use super::xmlrpc::Fault;
use super::*;

#[derive(Default)]
pub struct FakeSupervisor {
    pub processes: Mutex<Vec<ProcessInfo>>,
    pub calls: Mutex<Vec<String>>,
    pub stop_fault: Option<Fault>,
    /// What a blocking stop answers instead of stopping (a cut-off call).
    pub blocking_stop_error: Option<ClientError>,
    /// Where a start leaves the process instead of RUNNING (e.g. FATAL, with spawnerr).
    pub start_ends: Option<(ProcessState, String)>,
    /// What a start answers once it has done the above (SPAWN_ERROR: it died at once).
    pub start_fault: Option<Fault>,
    pub next_pid: Mutex<u32>,
    /// How many times the process list was read.
    pub list_calls: AtomicUsize,
    /// How many times one process was read.
    pub info_calls: AtomicUsize,
    /// Once a start was issued, every read fails (supervisord went away).
    pub unreachable_after_start: bool,
    /// A non-blocking stop leaves the process STOPPING for good (it ignores SIGTERM and
    /// supervisord never gets to its SIGKILL).
    pub stuck_stopping: bool,
    /// With `stuck_stopping`: reads of the process after which supervisord's own
    /// SIGKILL (stopwaitsecs) has stopped it.
    pub stopping_reads: Option<usize>,
    /// With `stopping_reads`: someone started it again by hand as this pid meanwhile
    /// (RUNNING), instead of it being STOPPED.
    pub restarted_by_hand_as: Option<u32>,
    /// What getAllConfigInfo says of `killasgroup` (`None`: no such key).
    pub kill_as_group: Option<bool>,
    /// Once a stop was issued, every read answers SHUTDOWN_STATE (`supervisorctl
    /// reload` while the program stops).
    pub shutting_down_after_stop: bool,
    stop_issued: std::sync::atomic::AtomicBool,
    started: std::sync::atomic::AtomicBool,
    stopping_since: AtomicUsize,
}

impl FakeSupervisor {
    pub fn with(processes: Vec<ProcessInfo>) -> Self {
        FakeSupervisor {
            processes: Mutex::new(processes),
            next_pid: Mutex::new(1000),
            ..Default::default()
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("lock").clone()
    }

    pub fn find(&self, namespec: &str) -> Result<ProcessInfo, ClientError> {
        let all = self.processes.lock().expect("lock");
        all.iter()
            .find(|p| p.namespec() == namespec)
            .cloned()
            .ok_or_else(|| {
                ClientError::Fault(Fault {
                    code: fault::BAD_NAME,
                    string: format!("BAD_NAME: {namespec}"),
                })
            })
    }

    pub fn set(&self, namespec: &str, state: ProcessState, pid: u32, spawnerr: &str) {
        let mut all = self.processes.lock().expect("lock");
        if let Some(p) = all.iter_mut().find(|p| p.namespec() == namespec) {
            p.state = state;
            p.pid = pid;
            p.spawnerr = spawnerr.to_string();
        }
    }
}

impl Supervisor for FakeSupervisor {
    fn all_process_info(&self) -> Result<Vec<ProcessInfo>, ClientError> {
        self.list_calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.processes.lock().expect("lock").clone())
    }
    fn process_info(&self, namespec: &str) -> Result<ProcessInfo, ClientError> {
        self.info_calls.fetch_add(1, Ordering::SeqCst);
        if self.unreachable_after_start && self.started.load(Ordering::SeqCst) {
            return Err(ClientError::Connect("connection refused".into()));
        }
        if self.shutting_down_after_stop && self.stop_issued.load(Ordering::SeqCst) {
            return Err(ClientError::Fault(Fault {
                code: fault::SHUTDOWN_STATE,
                string: "SHUTDOWN_STATE".into(),
            }));
        }
        let info = self.find(namespec)?;
        if info.state == ProcessState::Stopping
            && let Some(left) = self.stopping_reads
        {
            let stopping = self.stopping_since.fetch_add(1, Ordering::SeqCst);
            if stopping >= left {
                match self.restarted_by_hand_as {
                    Some(pid) => self.set(namespec, ProcessState::Running, pid, ""),
                    None => self.set(namespec, ProcessState::Stopped, 0, ""),
                }
                return self.find(namespec);
            }
        }
        Ok(info)
    }
    fn kill_as_group(&self, _namespec: &str) -> Result<Option<bool>, ClientError> {
        Ok(self.kill_as_group)
    }
    fn stop_process(&self, namespec: &str, wait: bool) -> Result<(), ClientError> {
        self.calls
            .lock()
            .expect("lock")
            .push(format!("stop {namespec} {wait}"));
        self.stop_issued.store(true, Ordering::SeqCst);
        if let Some(f) = &self.stop_fault {
            return Err(ClientError::Fault(f.clone()));
        }
        if let (true, Some(e)) = (wait, &self.blocking_stop_error) {
            return Err(e.clone());
        }
        let info = self.find(namespec)?;
        if self.stuck_stopping {
            self.set(namespec, ProcessState::Stopping, info.pid, "");
        } else {
            self.set(namespec, ProcessState::Stopped, 0, "");
        }
        Ok(())
    }
    fn start_process(&self, namespec: &str, wait: bool) -> Result<(), ClientError> {
        self.calls
            .lock()
            .expect("lock")
            .push(format!("start {namespec} {wait}"));
        self.started.store(true, Ordering::SeqCst);
        match &self.start_ends {
            Some((state, spawnerr)) => self.set(namespec, *state, 0, spawnerr),
            None => {
                let mut next = self.next_pid.lock().expect("lock");
                *next += 1;
                self.set(namespec, ProcessState::Running, *next, "");
            }
        }
        match &self.start_fault {
            Some(f) => Err(ClientError::Fault(f.clone())),
            None => Ok(()),
        }
    }
}
