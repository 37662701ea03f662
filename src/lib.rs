//! httpok: a supervisord event listener that probes URLs on TICK events and restarts
//! the programs behind the ones that fail. A drop-in replacement for superlance's httpok.
//!
//! # Layout
//! Sixteen entries in `src/`, one part of the flow each; read in this order (the round's
//! data flow and the locks are drawn in `docs/design.md`):
//! * [`cli`]: the command line (superlance's getopt forms and httpok's flags) into a
//!   typed [`config::Config`]; nothing below `main` and `cli` imports `cli`. Also the
//!   modes that are not a listener: [`cli::check_config`] (`--check-config`),
//!   [`cli::once`] (`--once`) and [`cli::status_client`] (`--status URL`).
//! * [`config`]: what httpok was asked to do, validated. [`config::file`]: `--config`
//!   (TOML) read into layers; [`config::settings`]: the layers resolved into each
//!   check's settings, by the one table of setting keys ([`config::KEYS`]);
//!   [`config::target`]: what a check probes, parsed from its URL.
//! * [`listener`]: the event-listener protocol on stdin/stdout (sans IO);
//!   [`listener::event`]: what an event means; [`listener::ticks`]: which TICKs start a
//!   round (supervisord's `when`, a monotonic clock); [`listener::pacer`]: when a round
//!   is due on httpok's own clock, between TICKs (`--interval` below the tick period).
//! * [`watcher`]: the driver. One round per TICK (or per slot of its own clock,
//!   `watcher/clock.rs`), carried out step by step as the
//!   planner says (read the process list, probe these targets with a [`probe::Probe`],
//!   carry out the plan); restart jobs and notices on their own threads; the two locks
//!   (planner, then status). [`watcher::advice`]: warnings about supervisord.conf at
//!   start.
//! * [`planner`]: the decisions, pure, and everything httpok knows. Each check as one
//!   [`planner::Check`] found by its [`planner::plan::CheckId`]; each program's state
//!   machine ([`planner::lifecycle`]: restarted, recovered, down, gave up, gone), its
//!   states carrying their own data; a round's steps ([`planner::Round`]: when the list
//!   is read, what is probed, how outcomes become verdicts, certificate notices);
//!   rolling restarts within a [`planner::selection`]. They return
//!   [`planner::plan::ProbeRequest`]s and a [`planner::plan::Plan`]: log lines, restart
//!   orders, notices. [`planner::status`]: what `/status` and `/metrics` show.
//! * [`probe`]: HTTP(S)/TCP/unix-socket/exec probes behind the [`probe::Probe`] trait,
//!   each by its check's own settings, with one deadline.
//! * [`supervisor`]: the supervisord client behind the [`supervisor::Supervisor`] trait,
//!   its process model ([`supervisor::model`]) and its codec ([`supervisor::xmlrpc`]).
//! * [`restart`]: carrying out one restart order (stop, start, wait for RUNNING);
//!   [`restart::kill`]: `--stop-grace`, the SIGKILL of a program still STOPPING;
//!   [`restart::gate`]: the gate that makes a stop always get its start at shutdown;
//!   [`restart::resume`]: whether a restart the previous httpok left half done is still
//!   its own to finish.
//! * [`notify`]: the [`notify::Notifier`] trait and the real one, [`notify::Commands`]
//!   (mail, gcore, hooks); [`notify::output`]: the one `one_line` for text not ours.
//! * [`child`]: running one external command (a hook, an MTA, gcore, an exec check) to
//!   an end within one deadline.
//! * [`deadline`]: the one module for IO with a deadline (connect, read and write over
//!   TCP and unix sockets, bounded name lookups), used by every caller;
//!   [`deadline::ureq`]: the probes' and `--status`'s ureq agents built on it.
//! * [`metrics`]: `--metrics-listen`, the bounded endpoint serving the planner's
//!   [`metrics::Snapshot`] as Prometheus text and JSON.
//! * [`state_file`]: `--state-file` (what the planner exports), written off every lock
//!   by a thread of its own ([`state_file::keeper`]), read only from a file no other
//!   user can write.
//! * [`fuzzing`]: the fuzz targets' bodies, also replayed over the corpus by `cargo test`.
//!
//! Only what `main.rs`, the integration tests (`tests/`) and the fuzz targets (`fuzz/`)
//! use is public; every other module and item is crate-private, so rustc reports what
//! nothing uses. Read these docs with `cargo doc --document-private-items`: links into
//! crate-private modules resolve there.
//!
//! Out of scope: running as anything but a supervisord listener (or `--once`), and
//! managing processes other than through supervisord's XML-RPC interface.

// The Layout above links into crate-private modules (see its last paragraph).
#![allow(rustdoc::private_intra_doc_links)]

pub mod child;
pub mod cli;
pub mod config;
pub mod deadline;
pub mod fuzzing;
pub mod listener;
pub mod metrics;
pub mod notify;
pub(crate) mod planner;
pub(crate) mod probe;
pub(crate) mod restart;
pub mod state_file;
pub mod supervisor;
#[cfg(test)]
#[path = "../tests/common/unit.rs"]
mod test_rig;
pub mod watcher;

/// Locks a mutex whatever a panicking thread left in it: httpok's shared state stays
/// usable (a restart job that panicked must not stop the listener or the shutdown).
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Gives the pages malloc holds free back to the system (glibc keeps what a burst of
/// threads or the start-up freed, in every arena, as resident memory). Called where a
/// burst ends: after the start-up, after a round that needed more than its base threads.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes an integer and only walks malloc's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
