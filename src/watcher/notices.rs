//! The notices queue and its thread: mail and hooks go out one at a time, in order, on
//! a thread of their own, so a slow MTA or hook never holds up a round.
//!
//! The queue is bounded ([`MAX_PENDING`]). While a check's or a program's --on-change
//! notice waits, a newer one for it replaces its state and reason but keeps its
//! HTTPOK_PREVIOUS, the state before the first of them: a flapping check behind a slow
//! hook gives one call with its latest state, not a backlog of stale ones. What cannot
//! be queued (full, or httpok stopping) or is still queued when httpok exits is dropped
//! and counted, and each count is said in one WARN: when the queue has drained again,
//! and at exit.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};

use crate::lock;
use crate::notify::Notifier;
use crate::planner::plan::{About, Notice};

/// Most notices waiting at once. Changes coalesce, so this is filled by mail and
/// --on-restart calls: a restart storm behind an MTA that hangs until its timeout.
pub const MAX_PENDING: usize = 256;

/// Notices dropped, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    pub mails: usize,
    pub changes: usize,
    pub hooks: usize,
}

impl Dropped {
    pub fn total(&self) -> usize {
        self.mails + self.changes + self.hooks
    }

    fn add(&mut self, notice: &Notice) {
        match notice {
            Notice::Mail { .. } => self.mails += 1,
            Notice::Change { .. } => self.changes += 1,
            Notice::Hook { .. } => self.hooks += 1,
        }
    }
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} notice(s) ({} mail(s), {} --on-change call(s), {} --on-restart call(s))",
            self.total(),
            self.mails,
            self.changes,
            self.hooks
        )
    }
}

#[derive(Debug, Default)]
struct Pending {
    queue: VecDeque<Notice>,
    /// httpok is stopping: nothing more is queued.
    closed: bool,
    /// The thread is delivering one (taken off the queue, not done).
    in_flight: bool,
    /// Dropped since the last WARN.
    dropped: Dropped,
}

/// The bounded queue between the rounds and the notices thread.
#[derive(Debug, Default)]
pub struct NoticeQueue {
    pending: Mutex<Pending>,
    ready: Condvar,
}

impl NoticeQueue {
    /// Queues `notice`, merged into a waiting --on-change notice of the same check or
    /// program; dropped (and counted) when the queue is full or closed.
    pub fn push(&self, notice: Notice) {
        let mut pending = lock(&self.pending);
        if pending.closed {
            pending.dropped.add(&notice);
            return;
        }
        if coalesce(&mut pending.queue, &notice) {
            return;
        }
        if pending.queue.len() >= MAX_PENDING {
            pending.dropped.add(&notice);
            return;
        }
        pending.queue.push_back(notice);
        self.ready.notify_one();
    }

    /// The next notice to deliver, waiting for one; `None` once closed and empty.
    fn next(&self) -> Option<Notice> {
        let mut pending = lock(&self.pending);
        loop {
            if let Some(notice) = pending.queue.pop_front() {
                pending.in_flight = true;
                return Some(notice);
            }
            if pending.closed {
                return None;
            }
            pending = self
                .ready
                .wait(pending)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// The notice taken last is delivered. Returns what was dropped, once the queue
    /// has drained after dropping: for the WARN.
    fn delivered(&self) -> Option<Dropped> {
        let mut pending = lock(&self.pending);
        pending.in_flight = false;
        if pending.queue.is_empty() && pending.dropped.total() > 0 {
            return Some(std::mem::take(&mut pending.dropped));
        }
        None
    }

    /// Queues nothing more; what is queued still goes out.
    pub fn close(&self) {
        lock(&self.pending).closed = true;
        self.ready.notify_all();
    }

    /// At exit: drops what is still queued and returns every drop not yet said, and
    /// whether one notice was still being delivered.
    pub fn abandon(&self) -> (Dropped, bool) {
        let mut pending = lock(&self.pending);
        pending.closed = true;
        let rest: Vec<Notice> = pending.queue.drain(..).collect();
        for notice in &rest {
            pending.dropped.add(notice);
        }
        self.ready.notify_all();
        (std::mem::take(&mut pending.dropped), pending.in_flight)
    }

    #[cfg(test)]
    fn queued(&self) -> Vec<Notice> {
        lock(&self.pending).queue.iter().cloned().collect()
    }
}

/// Merges an --on-change notice into a waiting one about the same check or program:
/// the newer state and reason (and, for a program, the check and URL that led to it), the older
/// HTTPOK_PREVIOUS. Whether it was merged.
fn coalesce(queue: &mut VecDeque<Notice>, notice: &Notice) -> bool {
    let Notice::Change {
        about,
        check,
        url,
        program,
        state,
        reason,
        ..
    } = notice
    else {
        return false;
    };
    let same = |n: &Notice| match n {
        Notice::Change {
            about: a,
            check: c,
            program: p,
            ..
        } => a == about && p == program && (*about == About::Program || c == check),
        _ => false,
    };
    let Some(waiting) = queue.iter_mut().find(|n| same(n)) else {
        return false;
    };
    if let Notice::Change {
        check: c,
        url: u,
        state: s,
        reason: r,
        ..
    } = waiting
    {
        c.clone_from(check);
        u.clone_from(url);
        *s = *state;
        r.clone_from(reason);
    }
    true
}

/// Starts the thread that delivers `queue`'s notices until it is closed and empty.
pub fn spawn(queue: Arc<NoticeQueue>, notifier: Arc<dyn Notifier>) -> Option<JoinHandle<()>> {
    let spawned = thread::Builder::new()
        .name("notices".into())
        .spawn(move || {
            while let Some(notice) = queue.next() {
                notifier.notify(&notice);
                if let Some(dropped) = queue.delivered() {
                    log::warn!(
                        "dropped {dropped}: {MAX_PENDING} were waiting (a slow MTA or \
                         hook); the queue has drained"
                    );
                }
            }
        });
    match spawned {
        Ok(handle) => Some(handle),
        Err(e) => {
            log::error!("cannot start the notices thread ({e}); no mail or hook will run");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::plan::StateWord;

    fn change(about: About, check: &str, program: &str, state: &str, previous: &str) -> Notice {
        let word = |s: &str| match s {
            "failing" => StateWord::Failing,
            "healthy" => StateWord::Healthy,
            "recovered" => StateWord::Recovered,
            "restarting" => StateWord::Restarting,
            "restarted" => StateWord::Restarted,
            other => panic!("no such state in these tests: {other}"),
        };
        Notice::Change {
            about,
            check: check.into(),
            url: check.into(),
            program: program.into(),
            state: word(state),
            previous: word(previous),
            reason: format!("to {state}"),
        }
    }

    fn mail(n: usize) -> Notice {
        Notice::Mail {
            subject: format!("mail {n}"),
            body: Vec::new(),
        }
    }

    #[test]
    fn a_checks_waiting_changes_coalesce_to_its_latest_state_and_first_previous() {
        let q = NoticeQueue::default();
        q.push(change(
            About::Check,
            "http://h/",
            "web",
            "failing",
            "healthy",
        ));
        q.push(mail(0));
        q.push(change(
            About::Check,
            "http://h/",
            "web",
            "recovered",
            "failing",
        ));
        q.push(change(
            About::Check,
            "http://h/",
            "web",
            "failing",
            "healthy",
        ));
        // Another check, and the program, are not merged with it.
        q.push(change(
            About::Check,
            "tcp://h:1",
            "web",
            "failing",
            "healthy",
        ));
        q.push(change(
            About::Program,
            "http://h/",
            "web",
            "restarted",
            "restarting",
        ));
        q.push(change(
            About::Program,
            "tcp://h:1",
            "web",
            "recovered",
            "restarted",
        ));
        assert_eq!(
            q.queued(),
            [
                change(About::Check, "http://h/", "web", "failing", "healthy"),
                mail(0),
                change(About::Check, "tcp://h:1", "web", "failing", "healthy"),
                // The program's latest state, with the URL that led to it.
                change(
                    About::Program,
                    "tcp://h:1",
                    "web",
                    "recovered",
                    "restarting"
                ),
            ]
        );
    }

    #[test]
    fn a_full_queue_drops_and_counts_and_a_taken_notice_is_not_merged_into() {
        let q = NoticeQueue::default();
        q.push(change(About::Check, "c", "web", "failing", "healthy"));
        assert!(q.next().is_some(), "being delivered now");
        for n in 0..MAX_PENDING + 3 {
            q.push(mail(n));
        }
        // Not merged into the one in flight, and no room for it.
        q.push(change(About::Check, "c", "web", "recovered", "failing"));
        assert_eq!(q.queued().len(), MAX_PENDING);
        let (dropped, in_flight) = q.abandon();
        assert_eq!(
            dropped,
            Dropped {
                mails: 3 + MAX_PENDING,
                changes: 1,
                hooks: 0
            }
        );
        assert!(in_flight);
        assert_eq!(
            dropped.to_string(),
            format!(
                "{} notice(s) ({} mail(s), 1 --on-change call(s), 0 --on-restart call(s))",
                MAX_PENDING + 4,
                MAX_PENDING + 3
            )
        );
    }

    #[test]
    fn the_drops_of_a_full_queue_are_said_once_it_drains() {
        let q = NoticeQueue::default();
        for n in 0..MAX_PENDING + 2 {
            q.push(mail(n));
        }
        let mut said = Vec::new();
        for _ in 0..MAX_PENDING {
            assert!(q.next().is_some());
            if let Some(dropped) = q.delivered() {
                said.push(dropped.total());
            }
        }
        assert_eq!(said, [2], "one count, when it drained");
        assert_eq!(q.abandon().0.total(), 0, "said already");
    }

    #[test]
    fn after_close_nothing_is_queued_and_the_rest_still_goes_out_until_abandoned() {
        let q = NoticeQueue::default();
        q.push(mail(0));
        q.push(mail(1));
        q.close();
        q.push(mail(2));
        assert!(matches!(q.next(), Some(Notice::Mail { .. })));
        q.delivered();
        let (dropped, in_flight) = q.abandon();
        // mail 2 came too late, mail 1 was still waiting.
        assert_eq!(dropped.mails, 2);
        assert!(!in_flight);
        assert!(q.next().is_none());
    }
}
