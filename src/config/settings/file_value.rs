//! A TOML value of a config file into the type its key wants ([`FileValue`]), and the
//! readers the file's own keys (`program`, `exec`, ...) share. A problem is the part
//! after `KEY: `, `expected a number of seconds, got a string`; the caller adds the
//! file, line and key.

use std::path::{Path, PathBuf};

use toml::de::{DeInteger, DeValue};

use crate::probe::CommandEnv;

/// What a regular expression's key wants.
pub const REGEX: &str = "a regular expression (a string)";
/// What a count of rounds wants.
pub const ROUNDS: &str = "a whole number of rounds, e.g. 3";
/// What a whole number of seconds wants.
pub const SECONDS: &str = "a whole number of seconds, e.g. 30";

/// A setting's value as a config file wrote it, and the file's directory (where a
/// relative path starts).
#[derive(Clone, Copy)]
pub struct FileValue<'a> {
    value: &'a DeValue<'a>,
    dir: &'a Path,
}

impl<'a> FileValue<'a> {
    pub fn new(value: &'a DeValue<'a>, dir: &'a Path) -> FileValue<'a> {
        FileValue { value, dir }
    }

    /// A string; `what` says what it is for messages.
    pub fn string(self, what: &str) -> Result<String, String> {
        string(self.value, what)
    }

    /// A path; a relative one is taken from the file's directory.
    pub fn path(self, what: &str) -> Result<PathBuf, String> {
        Ok(self.dir.join(string(self.value, what)?))
    }

    pub fn boolean(self) -> Result<bool, String> {
        self.value
            .as_bool()
            .ok_or_else(|| expected("true or false", self.value))
    }

    /// `timeout`: an integer or a float; its range is checked by the settings.
    pub fn seconds(self) -> Result<f64, String> {
        let (what, value) = ("a number of seconds", self.value);
        match value {
            DeValue::Integer(i) => integer(i)
                .map(|n| n as f64)
                .ok_or_else(|| format!("{} (too large)", expected(what, value))),
            DeValue::Float(f) => f.as_str().parse().map_err(|_| expected(what, value)),
            other => Err(expected(what, other)),
        }
    }

    /// A whole number of a type that cannot be negative.
    pub fn unsigned<T: TryFrom<u64>>(self, what: &str) -> Result<T, String> {
        let value = self.value;
        let DeValue::Integer(i) = value else {
            return Err(expected(what, value));
        };
        match u64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => T::try_from(n).map_err(|_| format!("{} (too large)", expected(what, value))),
            Err(_) if i.as_str().starts_with('-') => {
                Err(format!("{} (it cannot be negative)", expected(what, value)))
            }
            Err(_) => Err(format!("{} (too large)", expected(what, value))),
        }
    }

    /// `codes`: `200`, `"2xx"`, or a list of them, as the items `-c` takes.
    pub fn codes(self) -> Result<Vec<String>, String> {
        let what = "a status such as 200 or \"2xx\", or a list of them";
        let item = |value: &DeValue<'_>| match value {
            DeValue::String(s) => Some(s.to_string()),
            DeValue::Integer(i) => integer(i).map(|n| n.to_string()),
            _ => None,
        };
        match self.value {
            DeValue::Array(items) => items
                .iter()
                .map(|v| {
                    item(v.get_ref()).ok_or_else(|| expected(what, v.get_ref()) + " in the list")
                })
                .collect(),
            other => item(other)
                .map(|c| vec![c])
                .ok_or_else(|| expected(what, other)),
        }
    }

    /// `headers`: a table of names to strings, in the file's order.
    pub fn headers(self) -> Result<Vec<(String, String)>, String> {
        self.string_table(
            "a table of header names to strings, e.g. { Host = \"app.example\" }",
            |name, problem| format!("header {name:?}: {problem}"),
        )
    }

    /// `env`: a table of variable names to strings, in the file's order. A problem
    /// never quotes a value: it is most likely a password.
    pub fn env(self) -> Result<CommandEnv, String> {
        let pairs = self.string_table(
            "a table of variable names to strings, e.g. { PGPASSWORD = \"...\" }",
            |name, problem| format!("{name}: {problem}"),
        )?;
        CommandEnv::new(pairs)
    }

    /// A table of names to strings, in the file's order; `entry` names an entry's
    /// problem.
    fn string_table(
        self,
        what: &str,
        entry: impl Fn(&str, String) -> String,
    ) -> Result<Vec<(String, String)>, String> {
        let DeValue::Table(table) = self.value else {
            return Err(expected(what, self.value));
        };
        let mut entries: Vec<_> = table.iter().collect();
        entries.sort_by_key(|(name, _)| name.span().start);
        entries
            .into_iter()
            .map(|(name, v)| {
                let name = name.get_ref().to_string();
                match v.get_ref() {
                    DeValue::String(s) => Ok((name, s.to_string())),
                    other => Err(entry(&name, expected("a string", other))),
                }
            })
            .collect()
    }
}

/// What a wrong value is, for `got ...`: its type, or a number as written.
pub fn got(value: &DeValue<'_>) -> String {
    let number = |text: String| {
        if text.len() <= 30 {
            text
        } else {
            "a long number".into()
        }
    };
    match value {
        DeValue::String(_) => "a string".into(),
        DeValue::Integer(i) => number(i.to_string()),
        DeValue::Float(f) => number(f.as_str().to_string()),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(_) => "a date-time".into(),
        DeValue::Array(_) => "a list".into(),
        DeValue::Table(_) => "a table".into(),
    }
}

/// `expected WHAT, got ...`.
pub fn expected(what: &str, value: &DeValue<'_>) -> String {
    format!("expected {what}, got {}", got(value))
}

/// A string; `what` says what it is for messages.
pub fn string(value: &DeValue<'_>, what: &str) -> Result<String, String> {
    match value {
        DeValue::String(s) => Ok(s.to_string()),
        other => Err(expected(what, other)),
    }
}

/// A list of strings; `what` says what the list is for messages.
pub fn strings(value: &DeValue<'_>, what: &str) -> Result<Vec<String>, String> {
    let DeValue::Array(items) = value else {
        return Err(expected(what, value));
    };
    items
        .iter()
        .map(|v| string(v.get_ref(), what).map_err(|e| e + " in the list"))
        .collect()
}

fn integer(i: &DeInteger<'_>) -> Option<i64> {
    i64::from_str_radix(i.as_str(), i.radix()).ok()
}
