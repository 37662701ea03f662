//! What an event means to httpok: a TICK (with its `when:`) starts a probe round,
//! everything else is acknowledged and ignored. Framing lives in `listener`.

use crate::listener::RawEvent;

/// An event as httpok sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// TICK_5, TICK_60 or TICK_3600. `when` is the start of the time slice (epoch
    /// seconds), if the payload carried one.
    Tick { name: String, when: Option<i64> },
    /// Any other event, by name (`None` for a header without a name).
    Other { name: Option<String> },
}

impl Event {
    pub fn from_raw(raw: &RawEvent) -> Event {
        match raw.header.eventname.as_deref() {
            Some(name) if name.starts_with("TICK_") => Event::Tick {
                name: name.to_string(),
                when: tick_when(&raw.payload),
            },
            name => Event::Other {
                name: name.map(str::to_string),
            },
        }
    }
}

/// Reads `when:<int>` from a TICK payload.
fn tick_when(payload: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(payload).ok()?;
    text.split_ascii_whitespace()
        .find_map(|token| token.strip_prefix("when:"))
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listener::Header;

    fn raw(header: &str, payload: &str) -> RawEvent {
        RawEvent {
            header: Header::parse(header.as_bytes()),
            payload: payload.as_bytes().to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn a_tick_carries_its_when() {
        assert_eq!(
            Event::from_raw(&raw("eventname:TICK_5 len:15", "when:1700000040")),
            Event::Tick {
                name: "TICK_5".into(),
                when: Some(1_700_000_040)
            }
        );
    }

    #[test]
    fn a_tick_with_a_bad_payload_still_counts_as_a_tick() {
        assert_eq!(
            Event::from_raw(&raw("eventname:TICK_60 len:3", "xyz")),
            Event::Tick {
                name: "TICK_60".into(),
                when: None
            }
        );
    }

    #[test]
    fn process_state_events_are_other() {
        let event = raw(
            "eventname:PROCESS_STATE_RUNNING len:10",
            "processname:web groupname:web from_state:STARTING pid:1",
        );
        assert_eq!(
            Event::from_raw(&event),
            Event::Other {
                name: Some("PROCESS_STATE_RUNNING".into())
            }
        );
    }
}
