//! `--config FILE`: a TOML file of checks. Top-level keys are defaults for every check
//! ([`FileConfig::defaults`]); each `[[check]]` names its programs, one target (`url` or
//! `exec`) and its own settings. Every value keeps its line, so an error names the
//! file, line and key. Read with serde and `toml`; validated by [`crate::settings`].

use std::path::Path;

use crate::settings::Layer;
use crate::target::Target;

/// A whole file, read but not yet layered.
#[derive(Debug, Clone, Default)]
pub struct FileConfig {
    /// The top-level keys: defaults for every check, under the command line's flags.
    pub defaults: Layer,
    pub checks: Vec<FileCheck>,
}

/// One `[[check]]`.
#[derive(Debug, Clone)]
pub struct FileCheck {
    /// The line of its `[[check]]` header.
    pub line: usize,
    pub name: Option<String>,
    /// Namespecs; empty for a check that only mails.
    pub programs: Vec<String>,
    pub target: Target,
    /// Its own keys, over everything else.
    pub settings: Layer,
}

/// Reads and parses `path`; the first problem as one line naming the file and line.
pub fn load(path: &Path) -> Result<FileConfig, String> {
    Err(format!(
        "{}: --config is not implemented yet",
        path.display()
    ))
}
