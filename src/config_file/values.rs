//! One TOML value into the type its key wants. A problem is the part after `KEY: `,
//! `expected a number of seconds, got a string`; the caller adds the file, line and key.

use std::path::Path;

use toml::de::{DeInteger, DeValue};

use crate::probe::CommandEnv;
use crate::settings::{Given, Layer, Origin};

/// The settings keys, valid at the top level and in a `[[check]]`, in [`Layer`]'s order.
pub const SETTING_KEYS: &[&str] = Layer::KEYS;

const REGEX: &str = "a regular expression (a string)";
const ROUNDS: &str = "a whole number of rounds, e.g. 3";
const SECONDS: &str = "a whole number of seconds, e.g. 30";

/// Reads `key = value` into `layer`; `Ok(false)` when `key` is not a settings key.
/// A relative `cacert` is taken from `dir`, the config file's directory.
pub(super) fn setting(
    layer: &mut Layer,
    key: &str,
    value: &DeValue<'_>,
    origin: Origin,
    dir: &Path,
) -> Result<bool, String> {
    fn given<T>(value: T, origin: Origin) -> Option<Given<T>> {
        Some(Given::new(value, origin))
    }
    match key {
        "timeout" => layer.timeout = given(seconds(value)?, origin),
        "codes" => layer.codes = given(codes(value)?, origin),
        "body" => layer.body = given(string(value, "a string")?, origin),
        "body_regex" => layer.body_regex = given(string(value, REGEX)?, origin),
        "body_not_regex" => layer.body_not_regex = given(string(value, REGEX)?, origin),
        "headers" => layer.headers = given(headers(value)?, origin),
        "method" => layer.method = given(string(value, "GET or HEAD (a string)")?, origin),
        "send" => layer.send = given(string(value, "a string, e.g. 'PING\\r\\n'")?, origin),
        "expect" => layer.expect = given(string(value, REGEX)?, origin),
        "failures" => layer.failures = given(unsigned(value, ROUNDS)?, origin),
        "successes" => layer.successes = given(unsigned(value, ROUNDS)?, origin),
        "grace" => layer.grace = given(unsigned(value, SECONDS)?, origin),
        "interval" => layer.interval = given(unsigned(value, SECONDS)?, origin),
        "max_restarts" => {
            layer.max_restarts = given(
                unsigned(value, "a whole number of restarts, e.g. 3")?,
                origin,
            );
        }
        "restart_window" => layer.restart_window = given(unsigned(value, SECONDS)?, origin),
        "cacert" => {
            let file = string(value, "the path of a PEM file (a string)")?;
            layer.cacert = given(dir.join(file), origin);
        }
        "insecure" => layer.insecure = given(boolean(value)?, origin),
        "env" => layer.env = given(env(value)?, origin),
        _ => return Ok(false),
    }
    Ok(true)
}

/// What a wrong value is, for `got ...`: its type, or a number as written.
pub(super) fn got(value: &DeValue<'_>) -> String {
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

fn expected(what: &str, value: &DeValue<'_>) -> String {
    format!("expected {what}, got {}", got(value))
}

pub(super) fn string(value: &DeValue<'_>, what: &str) -> Result<String, String> {
    match value {
        DeValue::String(s) => Ok(s.to_string()),
        other => Err(expected(what, other)),
    }
}

fn boolean(value: &DeValue<'_>) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| expected("true or false", value))
}

fn integer(i: &DeInteger<'_>) -> Option<i64> {
    i64::from_str_radix(i.as_str(), i.radix()).ok()
}

/// `timeout`: an integer or a float; its range is checked by settings.
fn seconds(value: &DeValue<'_>) -> Result<f64, String> {
    let what = "a number of seconds";
    match value {
        DeValue::Integer(i) => integer(i)
            .map(|n| n as f64)
            .ok_or_else(|| format!("{} (too large)", expected(what, value))),
        DeValue::Float(f) => f.as_str().parse().map_err(|_| expected(what, value)),
        other => Err(expected(what, other)),
    }
}

/// A whole number of a type that cannot be negative.
fn unsigned<T: TryFrom<u64>>(value: &DeValue<'_>, what: &str) -> Result<T, String> {
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
fn codes(value: &DeValue<'_>) -> Result<Vec<String>, String> {
    let what = "a status such as 200 or \"2xx\", or a list of them";
    let item = |value: &DeValue<'_>| match value {
        DeValue::String(s) => Some(s.to_string()),
        DeValue::Integer(i) => integer(i).map(|n| n.to_string()),
        _ => None,
    };
    match value {
        DeValue::Array(items) => items
            .iter()
            .map(|v| item(v.get_ref()).ok_or_else(|| expected(what, v.get_ref()) + " in the list"))
            .collect(),
        other => item(other)
            .map(|c| vec![c])
            .ok_or_else(|| expected(what, other)),
    }
}

/// `headers`: a table of names to strings, in the file's order.
fn headers(value: &DeValue<'_>) -> Result<Vec<(String, String)>, String> {
    let DeValue::Table(table) = value else {
        return Err(expected(
            "a table of header names to strings, e.g. { Host = \"app.example\" }",
            value,
        ));
    };
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    entries
        .into_iter()
        .map(|(name, v)| {
            let name = name.get_ref().to_string();
            match v.get_ref() {
                DeValue::String(s) => Ok((name, s.to_string())),
                other => Err(format!("header {name:?}: {}", expected("a string", other))),
            }
        })
        .collect()
}

/// `env`: a table of variable names to strings, in the file's order. A problem never
/// quotes a value: it is most likely a password.
fn env(value: &DeValue<'_>) -> Result<CommandEnv, String> {
    let DeValue::Table(table) = value else {
        return Err(expected(
            "a table of variable names to strings, e.g. { PGPASSWORD = \"...\" }",
            value,
        ));
    };
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    let pairs = entries
        .into_iter()
        .map(|(name, v)| {
            let name = name.get_ref().to_string();
            match v.get_ref() {
                DeValue::String(s) => Ok((name, s.to_string())),
                other => Err(format!("{name}: {}", expected("a string", other))),
            }
        })
        .collect::<Result<Vec<_>, String>>()?;
    CommandEnv::new(pairs)
}

/// A list of strings; `what` says what the list is for messages.
fn strings(value: &DeValue<'_>, what: &str) -> Result<Vec<String>, String> {
    let DeValue::Array(items) = value else {
        return Err(expected(what, value));
    };
    items
        .iter()
        .map(|v| string(v.get_ref(), what).map_err(|e| e + " in the list"))
        .collect()
}

/// `program`: a namespec or a list of them; none is a check that only mails.
pub(super) fn programs(value: &DeValue<'_>) -> Result<Vec<String>, String> {
    let what = "a namespec or a list of them, e.g. \"web\" or [\"web\", \"api:*\"]";
    let programs = match value {
        DeValue::String(s) => vec![s.to_string()],
        other => strings(other, what)?,
    };
    if programs.iter().any(String::is_empty) {
        return Err("has an empty namespec: give a program name, e.g. \"web\" or \"api:*\"".into());
    }
    Ok(programs)
}

/// `exec`: the command's argv, never run by a shell.
pub(super) fn command(value: &DeValue<'_>) -> Result<Vec<String>, String> {
    let what = "a list of strings, e.g. [\"/usr/bin/pg_isready\", \"-q\"]";
    if let DeValue::String(_) = value {
        return Err(format!(
            "{} (or write url = \"exec:/usr/bin/pg_isready -q\")",
            expected(what, value)
        ));
    }
    let argv = strings(value, what)?;
    if argv.is_empty() {
        return Err(
            "is empty: give the command and its arguments, e.g. [\"/usr/bin/pg_isready\", \"-q\"]"
                .into(),
        );
    }
    Ok(argv)
}

/// Levenshtein distance, for "did you mean" (keys are short).
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}
