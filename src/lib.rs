//! httpok: a supervisord event listener that probes URLs on TICK events and restarts
//! the programs behind the ones that fail. A drop-in replacement for superlance's httpok.
//!
//! # Layout
//! Read in this order:
//! * [`cli`]: the command line (superlance's getopt forms and httpok's flags) into a
//!   typed [`config::Config`]; nothing below `main` and `cli` imports `cli`.
//!   [`config_file`]: `--config` (TOML) read into layers; [`settings`]: the layers
//!   (defaults, file, flags, a check's own keys) resolved into each check's settings,
//!   and the one table of setting keys ([`settings::KEYS`]) they are all read by.
//! * [`listener`] and [`event`]: the event-listener protocol on stdin/stdout (sans IO);
//!   [`ticks`]: which TICKs start a round (supervisord's `when`, a monotonic clock).
//! * [`watcher`]: the driver. One round per TICK, carried out step by step as the
//!   planner says (read the process list, probe these targets with a
//!   [`watcher::Probe`], carry out the plan); restart jobs and notices on their own
//!   threads; [`shutdown`]: the gate that makes a stop always get its start.
//! * [`planner`] and [`lifecycle`]: the decisions, pure, and everything httpok knows.
//!   Each check as one [`planner::Check`] found by its [`plan::CheckId`]; each
//!   program's state machine (restarted, recovered, down, gave up, gone), its states
//!   carrying their own data; a round's steps (when the list is read, what is probed,
//!   how outcomes become verdicts, certificate notices); rolling restarts within a
//!   selection. They return [`plan::ProbeRequest`]s and a [`plan::Plan`]: log lines,
//!   restart orders, notices. [`selection`]: which processes `-p`/`-a`/`--check` name.
//! * [`restart`]: carrying out one restart order (stop, start, wait for RUNNING), and
//!   whether a restart the previous httpok left half done is still its own to finish.
//! * [`probe`] and [`target`]: HTTP(S)/TCP/unix-socket/exec probes, each by its
//!   check's own settings, with one deadline.
//! * [`supervisor`], [`model`] and [`xmlrpc`]: the supervisord client, its process
//!   model and its codec.
//! * [`notifier`] (the trait) and [`notify`] (the commands): mail, gcore, hooks.
//! * [`deadline`]: the one module for IO with a deadline (connect, read and write over
//!   TCP and unix sockets, bounded name lookups), used by every caller;
//!   [`ureq_transport`]: the probes' ureq agents built on it.
//! * [`status`] (what `/status` and `/metrics` show, a view of the planner),
//!   [`metrics`] (`--metrics-listen`: the bounded endpoint serving it as Prometheus text
//!   and JSON) and [`status_client`] (`--status URL`: the table of a running httpok).
//! * [`keeper`] and [`state_file`]: `--state-file` (what the planner exports), written
//!   off every lock by a thread of its own, read only from a file no other user can
//!   write; [`advice`]: warnings about supervisord.conf read at start.
//! * [`once`]: `--once`, for trying a command line from a shell.
//! * [`fuzzing`]: the fuzz targets' bodies, also replayed over the corpus by `cargo test`.
//!
//! Out of scope: running as anything but a supervisord listener (or `--once`), and
//! managing processes other than through supervisord's XML-RPC interface.

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
