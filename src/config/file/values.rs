//! The values of a `[[check]]`'s own keys (`program`, `exec`), and "did you mean". The
//! settings' values are read by their keys' table ([`crate::config::settings::KEYS`]). A
//! problem is the part after `KEY: `; the caller adds the file, line and key.

use toml::de::DeValue;

use crate::config::settings::file_value::{expected, strings};

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
