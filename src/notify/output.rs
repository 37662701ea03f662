//! Text that is not ours as part of one log entry or one mail header: the one
//! [`one_line`]. What a hook, an MTA, gcore or an exec check prints, a `-m` address or a
//! `-n` name: a line break in it would start a log entry of its own (a hook printing
//! `2026-12-07T00:00:00Z INFO web recovered` would forge that entry) or a mail header of
//! its own, and an escape sequence would rewrite an operator's terminal. So it is shown on
//! one line, bounded, with line breaks, control characters and backslashes escaped.

/// Most characters of a command's output one log entry shows.
pub const MAX_SHOWN_CHARS: usize = 1000;

/// `output` on one line: without surrounding whitespace, at most `max_chars` of it,
/// escaped as Rust writes strings: `\n`, `\r`, `\t`, `\\`, and `\u{1b}` for any other
/// control or invisible layout character (line and paragraph separators, bidi
/// overrides).
pub fn one_line(output: &str, max_chars: usize) -> String {
    let output = output.trim();
    let mut shown = String::with_capacity(output.len().min(max_chars) + 16);
    let mut chars = output.chars();
    for c in chars.by_ref().take(max_chars) {
        match c {
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            '\\' => shown.push_str("\\\\"),
            c if needs_one_line(c) => shown.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => shown.push(c),
        }
    }
    let rest = chars.count();
    if rest > 0 {
        shown.push_str(&format!("... ({rest} more characters)"));
    }
    shown
}

/// `; its output: ...` for a log entry about `program`, or nothing when it printed
/// nothing.
pub fn suffix(output: &str) -> String {
    if output.trim().is_empty() {
        String::new()
    } else {
        format!("; its output: {}", one_line(output, MAX_SHOWN_CHARS))
    }
}

/// Control characters, and the invisible ones that change how a line is laid out.
fn needs_one_line(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}' | '\u{feff}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forged_log_line_stays_inside_one_entry() {
        let forged = "oops\n2026-12-07T00:00:00Z INFO web recovered\r\n";
        let shown = one_line(forged, MAX_SHOWN_CHARS);
        assert_eq!(shown, "oops\\n2026-12-07T00:00:00Z INFO web recovered");
        assert!(!shown.contains('\n') && !shown.contains('\r'));
    }

    #[test]
    fn control_characters_and_backslashes_are_escaped_and_text_is_kept() {
        assert_eq!(
            one_line("\x1b[31mred\x07\tend\\n é 日本", 100),
            "\\u{1b}[31mred\\u{7}\\tend\\\\n é 日本"
        );
        assert_eq!(
            one_line("a\u{2028}b\u{202e}c\u{85}d", 100),
            "a\\u{2028}b\\u{202e}c\\u{85}d"
        );
        assert_eq!(one_line("  \n plain \n", 100), "plain");
    }

    #[test]
    fn long_output_is_cut_and_says_how_much_is_left() {
        let shown = one_line(&"x".repeat(5000), MAX_SHOWN_CHARS);
        assert_eq!(
            shown,
            format!("{}... (4000 more characters)", "x".repeat(MAX_SHOWN_CHARS))
        );
        // The bound is on what was printed: escaping grows it by at most six times.
        let escaped = one_line(&"\x01".repeat(5000), 10);
        assert_eq!(
            escaped,
            format!("{}... (4990 more characters)", "\\u{1}".repeat(10))
        );
    }

    #[test]
    fn nothing_printed_adds_nothing() {
        assert_eq!(suffix(" \n"), "");
        assert_eq!(suffix("no MTA\n"), "; its output: no MTA");
    }
}
