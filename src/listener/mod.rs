//! The event-listener protocol framing: reads headers and payloads from any `BufRead`,
//! writes `READY` and `RESULT` to any `Write`. No sockets, no clock, no logging policy.
//!
//! ```text
//!   listener                         supervisord
//!   READY\n              ------->
//!                        <-------    ver:3.0 ... eventname:TICK_5 len:15\n
//!                        <-------    when:1700000040        (len characters, not bytes)
//!   RESULT 2\nOK         ------->    (no newline after OK)
//!   READY\n              ------->
//! ```
//!
//! Hostile input is survived, not trusted: header lines and kept payloads are capped,
//! a payload longer than the cap is read through (so the stream stays in sync) and
//! truncated, and a header without `len` is taken as an empty payload.

use std::io::{self, BufRead, Write};

pub(crate) mod event;
pub(crate) mod ticks;

/// Longest header line kept; the rest of a longer line is read and dropped.
pub(crate) const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Most payload bytes kept; a longer payload is consumed but truncated.
pub(crate) const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// One event as framed on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    pub header: Header,
    /// The payload bytes (at most `MAX_PAYLOAD_BYTES`).
    pub payload: Vec<u8>,
    /// True when the payload was longer than what was kept.
    pub truncated: bool,
}

/// The parsed header line. Unknown keys are ignored; order does not matter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub eventname: Option<String>,
    /// Payload length in characters, when the header had a valid `len`.
    pub len: Option<usize>,
    pub serial: Option<String>,
    pub pool: Option<String>,
    /// What was wrong with the line, if anything (logged by the caller).
    pub problem: Option<String>,
}

impl Header {
    /// Parses `key:value` tokens separated by spaces.
    pub fn parse(line: &[u8]) -> Header {
        let text = String::from_utf8_lossy(line);
        let mut header = Header::default();
        for token in text.split_ascii_whitespace() {
            let Some((key, value)) = token.split_once(':') else {
                continue;
            };
            match key {
                "eventname" => header.eventname = Some(value.to_string()),
                "serial" => header.serial = Some(value.to_string()),
                "pool" => header.pool = Some(value.to_string()),
                "len" => match value.parse::<usize>() {
                    Ok(n) => header.len = Some(n),
                    Err(_) => header.problem = Some(format!("bad len {value:?}")),
                },
                _ => {}
            }
        }
        if header.problem.is_none() {
            if header.eventname.is_none() {
                header.problem = Some("no eventname".to_string());
            } else if header.len.is_none() {
                header.problem = Some("no len".to_string());
            }
        }
        header
    }
}

/// Reads events from supervisord's side of the pipe.
pub(crate) struct EventReader<R> {
    input: R,
}

impl<R: BufRead> EventReader<R> {
    pub fn new(input: R) -> Self {
        EventReader { input }
    }

    /// The next event, or `None` at end of input (also mid-event: supervisord is gone).
    /// Blank lines are skipped: supervisord never sends one, so there is nothing to answer.
    pub fn next_event(&mut self) -> io::Result<Option<RawEvent>> {
        let line = loop {
            match self.read_header_line()? {
                None => return Ok(None),
                Some(line) if line.iter().all(u8::is_ascii_whitespace) => continue,
                Some(line) => break line,
            }
        };
        let header = Header::parse(&line);
        let len = header.len.unwrap_or(0);
        match self.read_chars(len)? {
            Some((payload, truncated)) => Ok(Some(RawEvent {
                header,
                payload,
                truncated,
            })),
            None => Ok(None),
        }
    }

    /// One line without its newline, capped; `None` at EOF before the newline (a
    /// header cut short is not an event).
    fn read_header_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        loop {
            let buf = fill_buf(&mut self.input)?;
            if buf.is_empty() {
                return Ok(None);
            }
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..i], Some(i + 1)),
                None => (buf, None),
            };
            let room = MAX_HEADER_BYTES.saturating_sub(line.len());
            line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let used = done.unwrap_or(buf.len());
            self.input.consume(used);
            if done.is_some() {
                return Ok(Some(line));
            }
        }
    }

    /// Reads `len` UTF-8 characters (counting lead bytes, then finishing the last
    /// character). Returns the kept bytes and whether they were truncated, or `None`
    /// on EOF before the payload was complete.
    fn read_chars(&mut self, len: usize) -> io::Result<Option<(Vec<u8>, bool)>> {
        let mut kept = Vec::new();
        let mut truncated = false;
        let mut chars = 0usize;
        let mut continuation_left = 0usize;
        while chars < len || continuation_left > 0 {
            let buf = fill_buf(&mut self.input)?;
            if buf.is_empty() {
                return Ok(None);
            }
            let mut used = 0;
            for &byte in buf {
                let is_continuation = byte & 0xC0 == 0x80;
                if continuation_left > 0 {
                    if is_continuation {
                        continuation_left -= 1;
                        used += 1;
                        continue;
                    }
                    // Invalid UTF-8: the character ended early.
                    continuation_left = 0;
                }
                if chars == len {
                    break;
                }
                used += 1;
                if is_continuation {
                    continue; // a stray continuation byte belongs to the previous character
                }
                chars += 1;
                continuation_left = utf8_width(byte) - 1;
            }
            let room = MAX_PAYLOAD_BYTES.saturating_sub(kept.len());
            if used > room {
                truncated = true;
            }
            kept.extend_from_slice(&buf[..used.min(room)]);
            self.input.consume(used);
        }
        Ok(Some((kept, truncated)))
    }
}

/// `fill_buf`, retried when a signal interrupts the read.
fn fill_buf(input: &mut impl BufRead) -> io::Result<&[u8]> {
    loop {
        match input.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
            Ok(_) => break,
        }
    }
    // Whatever the first call buffered is returned without reading again.
    input.fill_buf()
}

/// Bytes in a UTF-8 character from its lead byte (1 for anything invalid).
fn utf8_width(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// Tells supervisord the listener can take an event.
pub(crate) fn write_ready(out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"READY\n")?;
    out.flush()
}

/// Acknowledges the current event. `RESULT 2\nOK` with no trailing newline.
pub(crate) fn write_ok(out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"RESULT 2\nOK")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8]) -> Vec<RawEvent> {
        let mut reader = EventReader::new(input);
        let mut events = Vec::new();
        while let Some(event) = reader.next_event().expect("in-memory read") {
            events.push(event);
        }
        events
    }

    #[test]
    fn reads_a_tick_header_and_payload() {
        let events =
            read_all(b"ver:3.0 server:supervisor serial:12 pool:httpok poolserial:3 eventname:TICK_5 len:15\nwhen:1700000040");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].header.eventname.as_deref(), Some("TICK_5"));
        assert_eq!(events[0].header.pool.as_deref(), Some("httpok"));
        assert_eq!(events[0].payload, b"when:1700000040");
        assert_eq!(events[0].header.problem, None);
    }

    #[test]
    fn len_counts_characters_so_non_ascii_payloads_stay_in_sync() {
        // "h\u{e9}\u{2603}\u{1F600}" is 4 characters and 1+2+3+4 = 10 bytes.
        let mut input = b"eventname:PROCESS_LOG_STDOUT len:4\n".to_vec();
        input.extend_from_slice("h\u{e9}\u{2603}\u{1F600}".as_bytes());
        input.extend_from_slice(b"eventname:TICK_5 len:6\nwhen:1");
        let events = read_all(&input);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].payload, "h\u{e9}\u{2603}\u{1F600}".as_bytes());
        assert_eq!(events[1].header.eventname.as_deref(), Some("TICK_5"));
        assert_eq!(events[1].payload, b"when:1");
    }

    #[test]
    fn header_keys_may_come_in_any_order() {
        let events = read_all(b"len:2 eventname:TICK_60 ver:3.0\nab");
        assert_eq!(events[0].header.len, Some(2));
        assert_eq!(events[0].header.eventname.as_deref(), Some("TICK_60"));
    }

    #[test]
    fn garbage_and_headers_without_len_are_empty_events_with_a_problem() {
        let events = read_all(
            b"garbage line\n\neventname:TICK_5\neventname:TICK_5 len:x\nlen:0 eventname:TICK_5\n",
        );
        assert_eq!(events.len(), 4);
        assert_eq!(events[0].header.problem.as_deref(), Some("no eventname"));
        assert_eq!(events[1].header.problem.as_deref(), Some("no len"));
        assert_eq!(events[2].header.problem.as_deref(), Some("bad len \"x\""));
        assert_eq!(events[3].header.problem, None);
        assert!(events.iter().all(|e| e.payload.is_empty()));
    }

    #[test]
    fn eof_in_the_middle_of_a_payload_is_the_end() {
        assert!(read_all(b"eventname:TICK_5 len:100\nwhen:1").is_empty());
        assert!(read_all(b"").is_empty());
    }

    #[test]
    fn a_huge_payload_is_read_through_but_truncated() {
        let big = MAX_PAYLOAD_BYTES * 3;
        let mut input = format!("eventname:PROCESS_LOG_STDOUT len:{big}\n").into_bytes();
        input.extend(std::iter::repeat_n(b'x', big));
        input.extend_from_slice(b"eventname:TICK_5 len:6\nwhen:7");
        let events = read_all(&input);
        assert_eq!(events.len(), 2);
        assert!(events[0].truncated);
        assert_eq!(events[0].payload.len(), MAX_PAYLOAD_BYTES);
        assert_eq!(events[1].payload, b"when:7");
    }

    #[test]
    fn an_overlong_header_line_is_capped_and_the_stream_continues() {
        let mut input = vec![b'a'; MAX_HEADER_BYTES * 4];
        input.extend_from_slice(b"\neventname:TICK_5 len:6\nwhen:7");
        let events = read_all(&input);
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].payload, b"when:7");
    }

    #[test]
    fn invalid_utf8_does_not_desync_the_next_event() {
        let mut input = b"eventname:X len:3\n".to_vec();
        input.extend_from_slice(&[0xff, 0x80, 0xc3, b'a']);
        input.extend_from_slice(b"eventname:TICK_5 len:6\nwhen:8");
        let events = read_all(&input);
        assert_eq!(
            events.last().map(|e| e.payload.clone()),
            Some(b"when:8".to_vec())
        );
    }

    #[test]
    fn every_prefix_of_an_event_yields_nothing_until_it_is_whole() {
        let whole = b"eventname:TICK_5 len:6\nwhen:9";
        for cut in 0..whole.len() {
            assert!(read_all(&whole[..cut]).is_empty(), "prefix of {cut} bytes");
        }
        assert_eq!(read_all(whole).len(), 1);
    }

    #[test]
    fn writes_exact_protocol_bytes() {
        let mut out = Vec::new();
        write_ready(&mut out).expect("vec write");
        write_ok(&mut out).expect("vec write");
        write_ready(&mut out).expect("vec write");
        assert_eq!(out, b"READY\nRESULT 2\nOKREADY\n");
    }
}
