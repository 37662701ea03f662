//! `--config FILE`: a TOML file of checks. Top-level keys are defaults for every check
//! ([`FileConfig::defaults`]); each `[[check]]` names its programs, one target (`url` or
//! `exec`) and its own settings. Every value keeps its line, so an error names the
//! file, line and key. Read with `toml`'s spanned document ([`DeTable`]) and walked by
//! hand, so each message says what the key wants in plain words.
//!
//! Owns the file's shape: which keys exist where, and the TOML types of a check's own
//! keys. The settings keys, their names and TOML types, are the table
//! [`crate::config::settings::KEYS`]; their rules (timeout above 0, codes, regexes, failures at
//! least 1, which kinds of check a key applies to, ...) are checked by
//! [`crate::config::settings`] and the command line, naming the origin recorded here. Every
//! error is one line.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{self, Read};
use std::ops::Range;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::config::settings::file_value::{self, FileValue};
use crate::config::settings::{self, KEYS, Layer, Origin};
use crate::config::target::Target;

mod values;

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
    /// The line of its `[[check]]` header (of its `{` for an inline table): where an
    /// error about two checks points.
    pub line: usize,
    pub name: Option<String>,
    /// Namespecs; empty for a check that only mails.
    pub programs: Vec<String>,
    pub target: Target,
    /// Its own keys, over everything else.
    pub settings: Layer,
}

/// A larger file is refused unread: a file of checks is a few KiB, and a hostile or
/// mistaken one (a log, /dev/zero) must not be parsed.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// At most this many `[[check]]` tables: each is probed every round.
pub const MAX_CHECKS: usize = 10_000;

/// The keys of a `[[check]]` besides the settings.
const CHECK_KEYS: [&str; 4] = ["name", "program", "url", "exec"];

/// Reads and parses `path`; the first problem as one line naming the file and line.
pub fn load(path: &Path) -> Result<FileConfig, String> {
    let text = read(path)?;
    parse(path, &text)
}

/// Parses `text`, the content of `path`. `path` is named in messages and origins as
/// given, and relative `cacert` paths are taken from its directory.
pub fn parse(path: &Path, text: &str) -> Result<FileConfig, String> {
    let source = Source::new(path, text);
    let root = DeTable::parse(text).map_err(|e| source.toml_error(&e))?;
    let mut config = FileConfig::default();
    for (key, value) in entries(root.get_ref()) {
        let at = source.at(key.span());
        match key.get_ref().as_ref() {
            "check" => config.checks = source.checks(&at, value)?,
            name if CHECK_KEYS.contains(&name) => {
                return Err(format!(
                    "{at}: {name:?} belongs in a [[check]] table, not at the top level: \
                     put it under a [[check]] line"
                ));
            }
            name => {
                if !source.setting(&mut config.defaults, key, value.get_ref())? {
                    let known = setting_names().chain(["check"]);
                    return Err(unknown_key(&at, name, "at the top level", known));
                }
            }
        }
    }
    Ok(config)
}

/// The whole file as text, at most [`MAX_FILE_BYTES`].
fn read(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let cannot = |e: io::Error| format!("{shown}: cannot read it ({})", io_reason(&e));
    let bytes = read_regular(path, MAX_FILE_BYTES).map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{shown}: is over 1 MiB, far more than a file of checks: is it the right file?"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
        format!("{shown}:{line}: not valid TOML: it is not UTF-8 text")
    })
}

/// A file named on the command line or in `--config` (the file itself, `cacert`), read
/// at start: at most `max` bytes and one more (so the caller can tell "too large"), and
/// only if it is a regular file. It is opened non-blocking and looked at before it is
/// read: a FIFO blocked the open until some writer came, before httpok's first READY,
/// and a device such as /dev/zero never ends.
pub fn read_regular(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "a special file"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {what}, not a regular file"),
        ));
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// An IO error's reason without " (os error N)": `No such file or directory`.
fn io_reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

/// A table's entries in the file's order (toml sorts them by name), so that the first
/// problem reported is the first in the file.
fn entries<'t, 'i>(
    table: &'t DeTable<'i>,
) -> Vec<(&'t Spanned<DeString<'i>>, &'t Spanned<DeValue<'i>>)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
}

/// The settings keys' names, valid at the top level and in a `[[check]]`.
fn setting_names() -> impl Iterator<Item = &'static str> {
    KEYS.iter().map(|key| key.name)
}

/// `unknown key "bdy" in [[check]] (known: ...)`, with the nearest known key if one is
/// close (a typo, or `body-regex` for `body_regex`).
fn unknown_key<'k>(
    at: &str,
    key: &str,
    place: &str,
    known: impl Iterator<Item = &'k str>,
) -> String {
    let known: Vec<&str> = known.collect();
    let hint = known
        .iter()
        .map(|k| (values::edit_distance(key, k), k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!("; did you mean {k:?}?"))
        .unwrap_or_default();
    format!(
        "{at}: unknown key {key:?} {place} (known: {}){hint}",
        known.join(", ")
    )
}

/// The file's name and where its lines start: spans into lines and messages.
struct Source<'a> {
    shown: Arc<Path>,
    /// Where relative `cacert` paths start.
    dir: &'a Path,
    /// The byte offset of each line's start, ascending.
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    fn new(path: &'a Path, text: &str) -> Source<'a> {
        let newlines = text.match_indices('\n').map(|(i, _)| i + 1);
        Source {
            shown: Arc::from(path),
            dir: path.parent().unwrap_or(Path::new("")),
            line_starts: std::iter::once(0).chain(newlines).collect(),
        }
    }

    /// The 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }

    /// `FILE:LINE` of a span, as messages begin.
    fn at(&self, span: Range<usize>) -> String {
        format!("{}:{}", self.shown.display(), self.line(span.start))
    }

    fn origin(&self, span: Range<usize>) -> Origin {
        Origin::File {
            path: self.shown.clone(),
            line: self.line(span.start),
        }
    }

    /// toml's message, first line only (its `Display` adds a multi-line snippet).
    fn toml_error(&self, e: &toml::de::Error) -> String {
        let message = e.message().lines().next().unwrap_or("");
        match e.span() {
            Some(span) => format!("{}: not valid TOML: {message}", self.at(span)),
            None => format!("{}: not valid TOML: {message}", self.shown.display()),
        }
    }

    /// Reads a settings key into `layer`; `Ok(false)` when `key` is not one.
    fn setting(
        &self,
        layer: &mut Layer,
        key: &Spanned<DeString<'_>>,
        value: &DeValue<'_>,
    ) -> Result<bool, String> {
        let name = key.get_ref().as_ref();
        let Some(setting) = settings::find(name) else {
            return Ok(false);
        };
        let value = FileValue::new(value, self.dir);
        setting
            .read(layer, value, self.origin(key.span()))
            .map_err(|problem| format!("{}: {name}: {problem}", self.at(key.span())))?;
        Ok(true)
    }

    /// `check`: an array of tables, `[[check]]`.
    fn checks(&self, at: &str, value: &Spanned<DeValue<'_>>) -> Result<Vec<FileCheck>, String> {
        let DeValue::Array(items) = value.get_ref() else {
            return Err(format!(
                "{at}: check: expected [[check]] tables, got {} (write [[check]], with two \
                 brackets, above each check's keys)",
                file_value::got(value.get_ref())
            ));
        };
        if let Some(extra) = items.get(MAX_CHECKS) {
            return Err(format!(
                "{}: more than {MAX_CHECKS} [[check]] tables: split them among several \
                 httpok listeners",
                self.at(extra.span())
            ));
        }
        let checks: Vec<FileCheck> = items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::Table(table) => self.check(item.span(), table),
                other => Err(format!(
                    "{}: check: expected [[check]] tables, got {} in the list",
                    self.at(item.span()),
                    file_value::got(other)
                )),
            })
            .collect::<Result<_, _>>()?;
        self.unique_names(&checks)?;
        Ok(checks)
    }

    /// Two checks of one name would be one row in `/status`, one series in `/metrics`
    /// and one name in the log for two things: refused, naming both.
    fn unique_names(&self, checks: &[FileCheck]) -> Result<(), String> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for check in checks {
            let Some(name) = check.name.as_deref() else {
                continue;
            };
            if let Some(first) = seen.insert(name, check.line) {
                return Err(format!(
                    "{}:{}: name: {name:?} is also the name of the [[check]] at line {first}: \
                     give each check a name of its own (it labels the check's log lines, \
                     /status and /metrics)",
                    self.shown.display(),
                    check.line
                ));
            }
        }
        Ok(())
    }

    /// One `[[check]]`; `header` is the span of its `[[check]]` line.
    fn check(&self, header: Range<usize>, table: &DeTable<'_>) -> Result<FileCheck, String> {
        let (mut name, mut programs, mut settings) = (None, Vec::new(), Layer::default());
        let (mut url, mut exec) = (None, None);
        for (spanned, value) in entries(table) {
            let at = self.at(spanned.span());
            let key = spanned.get_ref().as_ref();
            let value = value.get_ref();
            let problem = |p: String| format!("{at}: {key}: {p}");
            match key {
                "name" => {
                    let text = file_value::string(value, "a string").map_err(problem)?;
                    // It labels log lines, which are one line each.
                    if text.is_empty() || text.chars().any(char::is_control) {
                        return Err(problem(
                            "must be a non-empty name on one line, e.g. \"web\"".into(),
                        ));
                    }
                    name = Some(text);
                }
                "program" => programs = values::programs(value).map_err(problem)?,
                "url" => {
                    let raw = file_value::string(value, "a URL (a string)").map_err(problem)?;
                    url = Some(Target::parse(&raw).map_err(problem)?);
                }
                "exec" => {
                    let argv = values::command(value).map_err(problem)?;
                    // Target::exec's messages begin with "exec".
                    exec = Some(Target::exec(argv).map_err(|e| format!("{at}: {e}"))?);
                }
                _ => {
                    if !self.setting(&mut settings, spanned, value)? {
                        let known = CHECK_KEYS.into_iter().chain(setting_names());
                        return Err(unknown_key(&at, key, "in [[check]]", known));
                    }
                }
            }
        }
        let at_check = self.at(header.clone());
        let target = match (url, exec) {
            (Some(target), None) | (None, Some(target)) => target,
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{at_check}: [[check]] has both url and exec: give one"
                ));
            }
            (None, None) => {
                return Err(format!(
                    "{at_check}: [[check]] has neither url nor exec: give one, e.g. \
                     url = \"http://127.0.0.1:8080/health\" or \
                     exec = [\"/usr/bin/pg_isready\", \"-q\"]"
                ));
            }
        };
        Ok(FileCheck {
            line: self.line(header.start),
            name,
            programs,
            target,
            settings,
        })
    }
}

#[cfg(test)]
mod tests;
