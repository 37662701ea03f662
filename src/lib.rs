//! httpok: a supervisord event listener that probes URLs on TICK events and restarts
//! the programs behind the ones that fail. A drop-in replacement for superlance's httpok.
//!
//! # Layout
//! Read in this order:
//! * [`cli`]: the command line (superlance's flags and ours) into a typed [`cli::Config`].
//! * [`listener`] and [`event`]: the event-listener protocol on stdin/stdout (sans IO).
//! * [`watcher`]: one round per TICK (probe all, judge, report, restart) and the loop.
//! * [`policy`]: who is restarted when (threshold, grace, restart limit); pure.
//! * [`selection`]: which processes `-p`/`-a`/`--check` name; pure.
//! * [`probe`] and [`target`]: HTTP(S)/TCP/unix-socket probes with one deadline.
//! * `deadline`: blocking calls (name lookups, unix connects) bounded by a deadline.
//! * [`supervisor`] and [`xmlrpc`]: the supervisord client and its codec.
//! * [`restart`]: restarting one process safely; [`notify`]: mail, gcore, hooks.
//! * [`once`]: `--once`, for trying a command line from a shell.
//! * [`fuzzing`]: the fuzz targets' bodies, also replayed over the corpus by `cargo test`.
//!
//! Out of scope: running as anything but a supervisord listener (or `--once`), and
//! managing processes other than through supervisord's XML-RPC interface.

pub mod cli;
pub mod config;
mod deadline;
pub mod event;
pub mod fuzzing;
pub mod lifecycle;
pub mod listener;
pub mod model;
pub mod notifier;
pub mod notify;
pub mod once;
pub mod plan;
pub mod planner;
pub mod probe;
pub mod restart;
pub mod selection;
pub mod shutdown;
pub mod supervisor;
pub mod target;
pub mod ticks;
pub mod unix_transport;
pub mod watcher;
pub mod xmlrpc;
