use super::*;
use std::io::{self, Read};

/// The whole input at once, as `regex` sees it: what every way of feeding must agree with.
fn oracle(pattern: &str, input: &[u8]) -> bool {
    regex::bytes::Regex::new(pattern)
        .expect("valid")
        .is_match(input)
}

/// Feeds `pieces` in turn, then ends the input. Checks on the way that no feed reports
/// a match the whole input does not have (a `$` or `\b` that only looked true at a
/// piece's end).
fn fed(pattern: &Pattern, pieces: &[&[u8]], whole: bool) -> bool {
    let mut m = pattern.matcher();
    for piece in pieces {
        if m.feed(piece) {
            assert!(whole, "/{pattern}/ matched early in {pieces:?}");
        }
    }
    m.finish()
}

/// Patterns and inputs fed whole, byte by byte, and split at every point in two and in
/// three pieces.
#[test]
fn matches_are_found_however_the_input_is_split() {
    let cases: &[(&str, &[&str])] = &[
        (r"^\+PONG", &["+PONG\r\n", "+PON", "-ERR\r\n", "x+PONG", ""]),
        (
            "maintenance mode|Traceback",
            &[
                "<p>in maintenance mode</p>",
                "ok\nTraceback (most recent call last)",
                "maintenance  mode",
                "Trace back",
            ],
        ),
        ("a.*b", &["xxaxxxbxx", "a\nb", "ab", "ba"]),
        (
            r"(?m)^OK$",
            &["OK", "status\nOK\nmore", "OK\r\n", "NOK\n", "OK!"],
        ),
        (r"done$", &["all done", "done\n", "done.", "undone"]),
        ("", &["", "anything"]),
        (r"Grüße|\p{Greek}+!", &["Grüße", "Gruße", "αβγ!", "abc!"]),
        (
            r"\bcafé\b",
            &["un café noir", "cafés", "é café", "xcafé", "ça café"],
        ),
        (r"(?-u:\b)OK(?-u:\b)", &["is OK.", "NOK", "OK"]),
    ];
    for &(source, inputs) in cases {
        let pattern = Pattern::new(source).expect(source);
        for input in inputs {
            let input = input.as_bytes();
            let want = oracle(source, input);
            let show = String::from_utf8_lossy(input);
            assert_eq!(fed(&pattern, &[input], want), want, "/{source}/ {show:?}");
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            assert_eq!(
                fed(&pattern, &bytes, want),
                want,
                "/{source}/ bytes {show:?}"
            );
            for i in 0..=input.len() {
                let (a, b) = input.split_at(i);
                assert_eq!(
                    fed(&pattern, &[a, b], want),
                    want,
                    "/{source}/ {i} {show:?}"
                );
                for j in i..=input.len() {
                    let pieces = [&input[..i], &input[i..j], &input[j..]];
                    assert_eq!(fed(&pattern, &pieces, want), want, "/{source}/ {i},{j}");
                }
            }
        }
    }
}

#[test]
fn a_match_without_look_ahead_is_reported_by_the_feed_that_completes_it() {
    let pong = Pattern::new(r"^\+PONG").expect("valid");
    let mut m = pong.matcher();
    assert!(!m.feed(b"+PO"));
    assert!(m.feed(b"NG"), "no need to wait for more");
    assert!(m.is_settled());

    // With `$`, the end of a piece is not the end of the input.
    let done = Pattern::new("done$").expect("valid");
    let mut m = done.matcher();
    assert!(!m.feed(b"all done"));
    assert!(!m.feed(b" and more"));
    let mut m = done.matcher();
    assert!(!m.feed(b"all done"));
    assert!(m.finish());
}

#[test]
fn a_multi_line_start_matches_after_a_newline_in_an_earlier_or_later_piece() {
    let pattern = Pattern::new(r"(?m)^x").expect("valid");
    let mut m = pattern.matcher();
    assert!(!m.feed(b"abc\n"));
    assert!(m.feed(b"x"));
    let mut m = pattern.matcher();
    assert!(!m.feed(b"abc"));
    assert!(m.feed(b"\nxyz"));
    let mut m = pattern.matcher();
    assert!(!m.feed(b"abc"));
    assert!(!m.feed(b"x"));
    assert!(!m.finish());
}

#[test]
fn an_anchored_pattern_settles_as_soon_as_it_cannot_match() {
    let pattern = Pattern::new(r"^\+PONG").expect("valid");
    let mut m = pattern.matcher();
    assert!(!m.is_settled());
    assert!(!m.feed(b"-ERR unknown command"));
    assert!(m.is_settled());
    assert!(!m.feed(b"+PONG"));
    assert!(!m.finish());
    // An unanchored one can match later, whatever came first.
    let pattern = Pattern::new("Traceback").expect("valid");
    let mut m = pattern.matcher();
    assert!(!m.feed(b"-ERR"));
    assert!(!m.is_settled());
}

#[test]
fn a_long_stream_is_matched_in_constant_memory() {
    // Both kinds: a matcher with no window, and one that keeps a window.
    for source in ["maintenance mode|Traceback", r"\bcafé\b"] {
        let pattern = Pattern::new(source).expect(source);
        let mut m = pattern.matcher();
        let mut stream = io::repeat(b'a').take(64 * 1024 * 1024);
        let mut chunk = [0u8; 8192];
        let mut most = 0;
        loop {
            let n = stream.read(&mut chunk).expect("read");
            if n == 0 {
                break;
            }
            assert!(!m.feed(&chunk[..n]), "/{source}/");
            most = most.max(m.memory_usage());
        }
        assert!(!m.finish(), "/{source}/");
        assert!(
            most < CACHE_CAPACITY + 2 * WINDOW,
            "/{source}/ held {most} bytes"
        );
    }
}

#[test]
fn a_full_cache_is_cleared_and_the_walk_goes_on() {
    // Every 17-byte suffix of a random a/b text is a DFA state of its own: far more
    // than the smallest cache holds.
    let pattern = Pattern::with_cache_capacity("a[ab]{16}c", 0).expect("valid");
    let mut seed = 0x2545_f491_u32;
    let mut text: Vec<u8> = (0..20_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            if seed & 1 == 0 { b'a' } else { b'b' }
        })
        .collect();
    for (tail, want) in [
        (&b"bbbbbbbbbbbbbbbbbc"[..], false),
        (b"abbbbbbbbbbbbbbbbc", true),
    ] {
        text.truncate(20_000);
        text.extend_from_slice(tail);
        assert_eq!(oracle(pattern.as_str(), &text), want);
        let mut m = pattern.matcher();
        let fed: Vec<bool> = text.chunks(4096).map(|c| m.feed(c)).collect();
        assert_eq!(m.finish(), want);
        assert_eq!(fed.iter().filter(|&&f| f).count(), usize::from(want));
        assert!(m.cache.clear_count() > 0, "the cache was never full");
    }
}

#[test]
fn after_a_unicode_word_boundary_quits_the_window_still_finds_a_match() {
    let pattern = Pattern::new(r"\bOK\b").expect("valid");
    assert!(pattern.fallback.is_some());
    let mut m = pattern.matcher();
    assert!(
        !m.feed("é".repeat(100_000).as_bytes()),
        "non-ASCII: the DFA quits"
    );
    assert!(!m.feed(b" O"));
    assert!(!m.feed(b"K"), "the next character may be a letter");
    assert!(m.feed(b" then"));
    let mut m = pattern.matcher();
    m.feed("é OK".as_bytes());
    assert!(m.finish());
    let mut m = pattern.matcher();
    m.feed("é OKé".as_bytes());
    assert!(!m.finish(), "é is a letter: no boundary");
    // The ASCII one needs no window.
    assert!(
        Pattern::new(r"(?-u:\b)OK")
            .expect("valid")
            .fallback
            .is_none()
    );
}

#[test]
fn every_kind_of_pattern_regex_accepts_can_be_streamed() {
    for source in [
        r"(?-u:\xFF)",
        r"\B",
        r"\b{start}OK\b{end}",
        r"\b{start-half}x",
        r"(?mR)^OK$",
        r"(?i)straße",
        r"\p{Emoji}",
        r"[^\n]{3}\z",
        r"\p{L}{100}",
        r"(a|b)*c(?<name>d)",
    ] {
        let pattern = Pattern::new(source).unwrap_or_else(|e| panic!("{e}"));
        let inputs: [&[u8]; 5] = [
            b"OK\r\n",
            "STRASSE straße".as_bytes(),
            "x 😀 y".as_bytes(),
            b"abcd",
            b"raw \xFF byte",
        ];
        for input in inputs {
            let mut m = pattern.matcher();
            m.feed(input);
            let show = String::from_utf8_lossy(input);
            assert_eq!(m.finish(), oracle(source, input), "/{source}/ {show:?}");
        }
    }
}

#[test]
fn an_invalid_pattern_is_refused_with_regex_s_reason() {
    let e = Pattern::new("maintenance (mode").expect_err("unclosed");
    assert!(
        e.starts_with("\"maintenance (mode\" is not a valid regular expression: "),
        "{e}"
    );
    assert!(e.contains("unclosed group"), "{e}");
}

#[test]
fn patterns_can_be_shared_between_probe_threads() {
    fn shared<T: Clone + fmt::Debug + Send + Sync>() {}
    shared::<Pattern>();
    let pattern = Pattern::new("a|b").expect("valid");
    assert_eq!(format!("{pattern:?}"), r#"Pattern("a|b")"#);
    assert_eq!(pattern.to_string(), "a|b");
    let copy = pattern.clone();
    assert!(copy.matcher().feed(b"xb"));
}
