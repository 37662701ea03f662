//! Regular expressions a probe matches against what it reads: `--body-regex`,
//! `--body-not-regex` and a tcp check's `--expect`. Written with the `regex` crate's
//! syntax; matched as the bytes arrive ([`Matcher`]), so a long body is never held.

use std::fmt;

/// A pattern, checked when the configuration is read.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    regex: regex::bytes::Regex,
}

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, String> {
        let regex = regex::bytes::Regex::new(source)
            .map_err(|e| format!("{source:?} is not a valid regular expression: {e}"))?;
        Ok(Pattern {
            source: source.to_string(),
            regex,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// A matcher to feed what is read, in pieces.
    pub fn matcher(&self) -> Matcher<'_> {
        Matcher {
            pattern: self,
            seen: Vec::new(),
            matched: false,
        }
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Whether a pattern matched somewhere in the bytes fed so far.
pub struct Matcher<'a> {
    pattern: &'a Pattern,
    seen: Vec<u8>,
    matched: bool,
}

impl Matcher<'_> {
    /// Takes the next piece; true once the pattern has matched.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        if !self.matched {
            self.seen.extend_from_slice(bytes);
            self.matched = self.pattern.regex.is_match(&self.seen);
        }
        self.matched
    }

    /// The input ended (a `$` may match now); whether the pattern matched.
    pub fn finish(&mut self) -> bool {
        self.matched
    }
}
