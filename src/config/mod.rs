//! What httpok was asked to do, validated: the checks with their own settings, the
//! notices and how to reach supervisord. Built by [`crate::cli`] from the command line
//! and `--config` (layered by [`crate::config::settings`]); read by the watcher. Owns no
//! behaviour.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::target::Target;
use crate::planner::CheckPolicy;
use crate::planner::selection::Selection;
use crate::probe::ProbeSettings;

pub(crate) mod file;
pub(crate) mod settings;
pub(crate) mod target;

pub use settings::{Applies, KEYS};
pub use target::{Kind, redact};

/// One check: its targets (any failing fails the check), the programs it answers for,
/// and its own probe settings and policy.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    /// `name` from a config file; logs and metrics show the targets without one.
    pub name: Option<String>,
    pub targets: Vec<Target>,
    pub selection: Selection,
    pub probe: ProbeSettings,
    pub policy: CheckPolicy,
}

impl CheckSpec {
    /// The check's name, or its URLs: for log lines and metrics.
    pub fn label(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        self.targets
            .iter()
            .map(Target::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// How to reach supervisord.
#[derive(Clone)]
pub struct ServerConfig {
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Everything httpok was asked to do, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Worth a WARN at start (a default no check uses, an exec check's command that
    /// cannot run here).
    pub warnings: Vec<String>,
    pub checks: Vec<CheckSpec>,
    /// The timeout of -t (or the file's top level): how long hooks and mail may take.
    pub command_timeout: Duration,
    /// How many processes of one selection may restart at once.
    pub parallel_restarts: u32,
    /// Warn when an https check's certificate expires within this (`None`: off).
    pub cert_expiry_warn: Option<Duration>,
    pub email: Option<String>,
    pub sendmail: Vec<String>,
    pub gcore: Vec<String>,
    pub coredir: Option<PathBuf>,
    pub eager: bool,
    pub name: Option<String>,
    pub dry_run: bool,
    pub once: bool,
    pub on_restart: Option<Vec<String>>,
    /// --on-change, as argv.
    pub on_change: Option<Vec<String>>,
    /// --state-file.
    pub state_file: Option<PathBuf>,
    pub exclude: Vec<String>,
    /// `None` only with --once.
    pub server: Option<ServerConfig>,
}
