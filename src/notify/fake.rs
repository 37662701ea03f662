//! A notifier that records notices instead of sending them, for unit tests of
//! restarts and whole rounds.

use std::sync::Mutex;

use super::{Notice, Notifier};

#[derive(Debug, Default)]
pub struct FakeNotifier {
    pub notices: Mutex<Vec<Notice>>,
    pub cores: Mutex<Vec<(String, u32)>>,
    /// Take core dumps (as if -d were given).
    pub dumps: bool,
}

impl FakeNotifier {
    pub fn mails(&self) -> Vec<(String, Vec<String>)> {
        self.notices
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|n| match n {
                Notice::Mail { subject, body } => Some((subject.clone(), body.clone())),
                Notice::Hook { .. } | Notice::Change { .. } => None,
            })
            .collect()
    }

    pub fn hooks(&self) -> Vec<(String, &'static str)> {
        self.notices
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|n| match n {
                Notice::Hook {
                    program, outcome, ..
                } => Some((program.clone(), outcome.as_str())),
                Notice::Mail { .. } | Notice::Change { .. } => None,
            })
            .collect()
    }
}

impl Notifier for FakeNotifier {
    fn wants(&self, _notice: &Notice) -> bool {
        true
    }
    fn notify(&self, notice: &Notice) {
        self.notices.lock().expect("lock").push(notice.clone());
    }
    fn dump_core(&self, namespec: &str, pid: u32) -> Option<String> {
        if !self.dumps {
            return None;
        }
        self.cores
            .lock()
            .expect("lock")
            .push((namespec.to_string(), pid));
        Some(format!("core of {namespec} {pid}"))
    }
}
