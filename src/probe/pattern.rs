//! Regular expressions a probe matches against what it reads: `--body-regex`,
//! `--body-not-regex` and a tcp check's `--expect`. Written with the `regex` crate's
//! syntax and limits (Unicode on, as `regex::bytes::Regex`; checked by regex-automata,
//! the engine that crate is built on, with its settings) and matched as the bytes
//! arrive, in memory that does not grow with the input: a long body is never held.
//!
//! A [`Matcher`] walks regex-automata's lazy DFA one byte at a time: an unanchored
//! search from the start of the input, whose state is one small id and a cache of the
//! DFA states met so far. What it does in each case:
//!
//! * **Delayed matches.** The DFA learns of a match one byte after its end (that is how
//!   it sees `$` and `\b`). For a pattern without look-ahead (no `$`, `\b`, `\B`), a
//!   match ending in the last byte fed is certain anyway, so [`Matcher::feed`] asks
//!   the DFA's end-of-input transition and reports it at once: a server that answers
//!   `+PONG` and waits is matched by `^\+PONG` without waiting. With look-ahead, such a
//!   match is reported by the next feed or by [`Matcher::finish`], the real end of the
//!   input (where `$` matches).
//! * **Dead state.** No match is possible any more (`^\+PONG` after `-ERR`): the
//!   matcher is settled ([`Matcher::is_settled`]) and ignores what follows.
//! * **Quit state.** The lazy DFA only handles a Unicode word boundary (`\b`, `\B`) on
//!   ASCII, and quits at the first non-ASCII byte. For such a pattern the matcher keeps
//!   the last [`WINDOW`] bytes fed, and from the quit on runs `regex-automata`'s full
//!   engine over that window after every feed (the last few bytes wait for the next
//!   feed, as look-ahead). A match longer than the window (64 KiB) and not complete
//!   before the quit is then not found, and each byte is searched up to window/piece
//!   times. Patterns without a Unicode word boundary keep no window and cannot quit;
//!   `(?-u:\b)`, an ASCII boundary, avoids both.
//! * **Cache.** Each matcher's cache holds at most [`CACHE_CAPACITY`]; when full, the
//!   DFA clears it and goes on (its current state survives a clear), with no limit on
//!   the number of clears, so the walk never gives up and memory stays bounded; a
//!   pathological pattern is slower, not wrong. regex-automata reports a cache error
//!   only when a minimum clear count is configured, and none is; were one reported,
//!   the matcher would fall back to its window if it has one, else stop with no match
//!   and log why.

use std::fmt;
use std::sync::Arc;

use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::look::{Look, LookSet};
use regex_automata::util::{start, syntax};
use regex_automata::{Anchored, Input, MatchKind, meta};

/// The most memory a pattern's compiled program may take (the `regex` crate's default).
const REGEX_SIZE_LIMIT: usize = 10 * (1 << 20);
/// How many of the latest bytes a matcher keeps for a pattern the DFA may quit on.
pub(crate) const WINDOW: usize = 64 * 1024;
/// Most memory one matcher's DFA cache holds (regex's own default is 2 MiB; a probe's
/// patterns are small, and a few hundred probes may be in flight).
pub(crate) const CACHE_CAPACITY: usize = 512 * 1024;
/// Look-around context either side of a window search: one UTF-8 character.
const CONTEXT: usize = 4;
/// Assertions that look only behind: a match ending at the last byte fed needs no
/// more input to be certain.
const LOOK_BEHIND: [Look; 4] = [
    Look::Start,
    Look::StartLF,
    Look::WordStartHalfAscii,
    Look::WordStartHalfUnicode,
];

/// A pattern, checked when the configuration is read.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    /// Shared, not inline: a DFA is kilobytes, and every check's settings hold three
    /// `Option<Pattern>`s, most of them `None` (3 x 4 KiB per check for 1000 checks).
    dfa: Arc<DFA>,
    /// Whether a match ending at the last byte fed is certain without the next byte.
    certain_at_end: bool,
    /// For a pattern the DFA may quit on (a Unicode word boundary): the engine that
    /// searches the window from then on.
    fallback: Option<meta::Regex>,
}

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, String> {
        Pattern::with_cache_capacity(source, CACHE_CAPACITY)
    }

    /// [`Pattern::new`] with matchers whose caches hold at most `cache_capacity` bytes
    /// (or the least this pattern needs, if more).
    fn with_cache_capacity(source: &str, cache_capacity: usize) -> Result<Pattern, String> {
        validate(source)?;
        // As regex::bytes::Regex: Unicode on, and a pattern may match invalid UTF-8.
        let syntax = syntax::Config::new().utf8(false);
        let dfa = DFA::builder()
            .syntax(syntax)
            .thompson(thompson::Config::new().which_captures(WhichCaptures::None))
            .configure(
                DFA::config()
                    .unicode_word_boundary(true)
                    .cache_capacity(cache_capacity)
                    .skip_cache_capacity_check(true)
                    .minimum_cache_clear_count(None),
            )
            .build(source)
            .map_err(|e| format!("{source:?} cannot be matched as it is read: {e}"))?;
        let looks = dfa.get_nfa().look_set_any();
        let behind = LOOK_BEHIND
            .iter()
            .fold(LookSet::empty(), |set, &look| set.insert(look));
        let fallback = if looks.contains_word_unicode() {
            let regex = meta::Regex::builder()
                .syntax(syntax)
                .configure(meta::Config::new().utf8_empty(false))
                .build(source)
                .map_err(|e| format!("{source:?} is not a valid regular expression: {e}"))?;
            Some(regex)
        } else {
            None
        };
        Ok(Pattern {
            source: source.to_string(),
            dfa: Arc::new(dfa),
            certain_at_end: looks.subtract(behind).is_empty(),
            fallback,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// A matcher to feed what is read, in pieces, from the start of the input.
    pub fn matcher(&self) -> Matcher<'_> {
        let mut cache = self.dfa.create_cache();
        let config = start::Config::new().anchored(Anchored::No);
        let state = match self.dfa.start_state(&mut cache, &config) {
            Ok(sid) => State::Walking(sid),
            // Cannot happen: an unanchored start with no look-behind has no quit byte
            // to see, and a fresh cache is not full.
            Err(e) => State::GaveUp(e.to_string()),
        };
        let mut matcher = Matcher {
            pattern: self,
            cache,
            state,
            recent: self.fallback.as_ref().map(|_| Recent::default()),
        };
        matcher.give_up_if_stopped();
        matcher
    }
}

/// regex's syntax errors draw the pattern with a caret under the fault, over several
/// lines; a usage error is one line: the last, what is wrong.
/// Checks `source` as `regex::bytes::Regex::new` does (the `regex` crate is a thin
/// layer over regex-automata's meta engine, built here as it builds it: its syntax, its
/// 10 MiB compiled size limit, its messages), so that a pattern the DFA can walk but
/// `regex` would refuse is refused here too.
fn validate(source: &str) -> Result<(), String> {
    let config = meta::Config::new()
        .match_kind(MatchKind::LeftmostFirst)
        .utf8_empty(false)
        .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
        .hybrid_cache_capacity(2 * (1 << 20));
    let built = meta::Builder::new()
        .configure(config)
        .syntax(syntax::Config::new().utf8(false))
        .build(source);
    built.map(drop).map_err(|e| {
        let why = match (e.size_limit(), e.syntax_error()) {
            (Some(limit), _) => format!("Compiled regex exceeds size limit of {limit} bytes."),
            // Its last line: the error in words, under the lines that point at it.
            (None, Some(syntax)) => last_line(&syntax.to_string()).to_string(),
            (None, None) => e.to_string(),
        };
        format!("{source:?} is not a valid regular expression: {why}")
    })
}

fn last_line(message: &str) -> &str {
    message
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map_or(message, |last| last.trim_start_matches("error: "))
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

/// Whether a pattern matched somewhere in the bytes fed so far; one per probe.
pub struct Matcher<'a> {
    pattern: &'a Pattern,
    cache: Cache,
    state: State,
    /// The latest bytes, for a pattern with a fallback.
    recent: Option<Recent>,
}

enum State {
    /// The DFA's state after the bytes fed so far.
    Walking(LazyStateID),
    /// The DFA quit; the fallback searches the window.
    Windowed,
    Matched,
    /// No match is possible, whatever follows.
    Unmatchable,
    /// The DFA stopped for a reason it should not have (logged); no window to go on with.
    GaveUp(String),
}

/// The last [`WINDOW`] bytes fed (more during a feed).
#[derive(Default)]
struct Recent {
    bytes: Vec<u8>,
    /// Whether the start of the input has left the window.
    trimmed: bool,
}

impl Matcher<'_> {
    /// Takes the next piece; true once the pattern has matched.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        if self.is_settled() {
            return self.is_matched();
        }
        if let Some(recent) = &mut self.recent {
            recent.bytes.extend_from_slice(bytes);
        }
        if let State::Walking(sid) = self.state {
            self.state = self.walk(sid, bytes);
            self.give_up_if_stopped();
        }
        if let State::Windowed = self.state
            && self.search_window(false)
        {
            self.state = State::Matched;
        }
        if let Some(recent) = &mut self.recent {
            recent.trim();
        }
        self.is_matched()
    }

    /// The input ended (a `$` may match now); whether the pattern matched. Call it only
    /// at the real end: where reading stopped at a limit, more input would follow.
    pub fn finish(&mut self) -> bool {
        if let State::Walking(sid) = self.state {
            self.state = match self.pattern.dfa.next_eoi_state(&mut self.cache, sid) {
                Ok(eoi) if eoi.is_match() => State::Matched,
                Ok(_) => State::Unmatchable,
                Err(e) => State::GaveUp(e.to_string()),
            };
            self.give_up_if_stopped();
        }
        if let State::Windowed = self.state {
            self.state = if self.search_window(true) {
                State::Matched
            } else {
                State::Unmatchable
            };
        }
        self.is_matched()
    }

    /// True once more input cannot change the answer: matched, or no match possible.
    pub fn is_settled(&self) -> bool {
        matches!(
            self.state,
            State::Matched | State::Unmatchable | State::GaveUp(_)
        )
    }

    /// Whether the pattern has matched in what was fed (and, after `finish`, at the end).
    pub fn is_matched(&self) -> bool {
        matches!(self.state, State::Matched)
    }

    /// Walks the DFA over `bytes` from `sid`; where it ends up.
    fn walk(&mut self, mut sid: LazyStateID, bytes: &[u8]) -> State {
        let dfa = &self.pattern.dfa;
        for &byte in bytes {
            sid = match dfa.next_state(&mut self.cache, sid, byte) {
                Ok(next) => next,
                Err(e) => return State::GaveUp(e.to_string()),
            };
            if sid.is_tagged() {
                if sid.is_match() {
                    return State::Matched;
                }
                if sid.is_dead() {
                    return State::Unmatchable;
                }
                if sid.is_quit() {
                    return State::GaveUp(format!("it cannot go past byte {byte:#04x}"));
                }
            }
        }
        if self.pattern.certain_at_end {
            // Without look-ahead, the end-of-input transition is a match exactly when a
            // match ends here. It leads to the dead state (always cached, so the cache
            // is not cleared and `sid` stays valid) or to a new match state.
            let clears = self.cache.clear_count();
            match dfa.next_eoi_state(&mut self.cache, sid) {
                Ok(eoi) if eoi.is_match() => return State::Matched,
                Ok(_) if self.cache.clear_count() == clears => {}
                Ok(_) => return State::GaveUp("its cache was cleared at the end".into()),
                Err(e) => return State::GaveUp(e.to_string()),
            }
        }
        State::Walking(sid)
    }

    /// After the DFA stops early: on to the window if there is one, else logged.
    fn give_up_if_stopped(&mut self) {
        let State::GaveUp(why) = &self.state else {
            return;
        };
        if self.recent.is_some() {
            self.state = State::Windowed;
        } else {
            log::warn!(
                "matching /{}/ stopped ({why}); what follows is taken as no match",
                self.pattern.source
            );
        }
    }

    /// Whether the fallback finds a match in the window; `at_end` when the input ended
    /// there (else the last bytes are only look-ahead context, matched next time).
    fn search_window(&self, at_end: bool) -> bool {
        let (Some(regex), Some(recent)) = (&self.pattern.fallback, &self.recent) else {
            return false;
        };
        let hay = &recent.bytes;
        let start = if recent.trimmed {
            CONTEXT.min(hay.len())
        } else {
            0
        };
        let end = if at_end {
            hay.len()
        } else {
            hay.len().saturating_sub(CONTEXT)
        };
        start <= end && regex.is_match(Input::new(hay).range(start..end))
    }

    /// Bytes held: the DFA cache and the window.
    #[cfg(test)]
    fn memory_usage(&self) -> usize {
        self.cache.memory_usage() + self.recent.as_ref().map_or(0, |r| r.bytes.capacity())
    }
}

impl Recent {
    fn trim(&mut self) {
        if self.bytes.len() > WINDOW {
            self.bytes.drain(..self.bytes.len() - WINDOW);
            self.trimmed = true;
        }
    }
}

#[cfg(test)]
mod tests;
