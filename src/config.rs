//! What httpok was asked to do, validated: the checks, how to probe, the restart
//! policy, notices and how to reach supervisord. Built by [`crate::cli`] (and later a
//! config file); read by the watcher. Owns no behaviour.

use std::path::PathBuf;

use crate::planner::PolicyConfig;
use crate::probe::ProbeSettings;
use crate::selection::Selection;
use crate::target::Target;

/// One check: its URLs (any failing fails the check) and the programs it answers for.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    pub targets: Vec<Target>,
    pub selection: Selection,
}

impl CheckSpec {
    /// The check's URLs, for log lines and metrics.
    pub fn label(&self) -> String {
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
    pub checks: Vec<CheckSpec>,
    /// What makes an answer healthy and how to ask (-t, -c, -b, -H, --method, TLS).
    pub probe: ProbeSettings,
    pub email: Option<String>,
    pub sendmail: Vec<String>,
    pub gcore: Vec<String>,
    pub coredir: Option<PathBuf>,
    pub eager: bool,
    pub name: Option<String>,
    pub policy: PolicyConfig,
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
