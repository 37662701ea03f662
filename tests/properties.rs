//! Properties of the two codecs that face supervisord, over generated input: the
//! XML-RPC codec round-trips any value, a header line parses whatever the key order
//! and extra tokens, and the event reader never desyncs on garbage.
use std::collections::BTreeMap;
use std::io::BufReader;

use httpok::fuzzing::{read_events, response_body, same};
use httpok::listener::Header;
use httpok::supervisor::model::ProcessInfo;
use httpok::supervisor::xmlrpc::{Value, decode_response};
use proptest::prelude::*;

// ---------------------------------------------------------------- XML-RPC

/// Text with the characters XML escaping is about, non-ASCII, and whitespace.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z&<>\"' \t\r\n;#]{0,12}",
        "[\u{e9}\u{2603}\u{1F600}&a<\\]>]{0,8}",
        Just("]]>".to_string()),
        Just("&amp;".to_string()),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::Int),
        any::<bool>().prop_map(Value::Bool),
        text().prop_map(Value::String),
        any::<f64>().prop_map(Value::Double),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..6).prop_map(Value::Struct),
        ]
    })
}

proptest! {
    #[test]
    fn any_value_survives_encode_then_decode(v in value()) {
        let body = response_body(&v);
        let decoded = decode_response(body.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e} in {body}")))?
            .map_err(|f| TestCaseError::fail(format!("fault {f}")))?;
        prop_assert!(same(&decoded, &v), "{v:?} came back as {decoded:?}");
    }

    #[test]
    fn process_info_from_any_integers_never_panics(
        state in any::<i64>(), pid in any::<i64>(), start in any::<i64>(), now in any::<i64>(),
        name in text(), group in text(),
    ) {
        let members: BTreeMap<String, Value> = [
            ("name", Value::String(name)),
            ("group", Value::String(group)),
            ("state", Value::Int(state)),
            ("pid", Value::Int(pid)),
            ("start", Value::Int(start)),
            ("now", Value::Int(now)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let info = ProcessInfo::from_value(&Value::Struct(members)).expect("all fields present");
        // supervisord's clock and start time, however wrong: the true difference when
        // it is one, never negative, never wrapped around (computed wide here).
        let true_uptime = (i128::from(now) - i128::from(start)).clamp(0, i128::from(i64::MAX));
        prop_assert_eq!(i128::from(info.uptime()), true_uptime, "now {} start {}", now, start);
        let _ = (info.namespec(), info.is_running());
    }
}

// ---------------------------------------------------------------- header lines

/// A `key:value` token httpok does not read (supervisord's ver, server, poolserial,
/// or anything a future version adds), or a token without a colon.
fn extra_token() -> impl Strategy<Value = String> {
    prop_oneof![
        ("[a-z_]{1,10}", "[^\\s]{0,10}")
            .prop_filter("a key httpok reads", |(k, _)| {
                !["eventname", "len", "serial", "pool"].contains(&k.as_str())
            })
            .prop_map(|(k, v)| format!("{k}:{v}")),
        "[a-zA-Z0-9_.=\u{e9}-]{1,10}",
    ]
}

/// What separates tokens: supervisord uses one space; any ASCII whitespace but `\n` works.
fn separator() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(" "), Just("  "), Just("\t"), Just(" \r ")]
}

proptest! {
    #[test]
    fn a_header_parses_in_any_key_order_with_any_extra_tokens(
        eventname in "[^\\s]{1,24}",
        len in any::<usize>(),
        serial in "[0-9]{1,6}",
        pool in "[^\\s]{1,12}",
        extras in prop::collection::vec(extra_token(), 0..6),
        seps in prop::collection::vec(separator(), 10),
        order in any::<u64>(),
    ) {
        let mut tokens = vec![
            format!("eventname:{eventname}"),
            format!("len:{len}"),
            format!("serial:{serial}"),
            format!("pool:{pool}"),
        ];
        tokens.extend(extras);
        shuffle(&mut tokens, order);
        let mut line = String::new();
        for (i, token) in tokens.iter().enumerate() {
            line.push_str(token);
            line.push_str(seps[i % seps.len()]);
        }
        let header = Header::parse(line.as_bytes());
        prop_assert_eq!(header.eventname.as_deref(), Some(eventname.as_str()));
        prop_assert_eq!(header.len, Some(len));
        prop_assert_eq!(header.serial.as_deref(), Some(serial.as_str()));
        prop_assert_eq!(header.pool.as_deref(), Some(pool.as_str()));
        prop_assert_eq!(header.problem, None);
    }
}

/// A deterministic shuffle from one seed (proptest then shrinks the seed).
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        items.swap(i, (seed >> 33) as usize % (i + 1));
    }
}

// ---------------------------------------------------------------- event streams

#[derive(Debug, Clone)]
enum Piece {
    /// A well-formed event as supervisord frames it.
    Event { name: String, payload: String },
    /// A line that is not a header with a valid `len` (bytes, not always UTF-8).
    Garbage(Vec<u8>),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => ("[A-Z_0-9]{1,30}|[^\\s]{1,10}", any::<String>())
            .prop_map(|(name, payload)| Piece::Event { name, payload }),
        1 => prop::collection::vec(any::<u8>(), 0..60)
            .prop_map(|mut line| {
                line.retain(|&b| b != b'\n');
                line
            })
            .prop_filter("a header with a valid len", |line| Header::parse(line).len.is_none())
            .prop_map(Piece::Garbage),
    ]
}

fn frame(pieces: &[Piece]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Event { name, payload } => {
                let header = format!(
                    "ver:3.0 server:supervisor serial:1 pool:httpok poolserial:1 eventname:{name} len:{}\n",
                    payload.chars().count()
                );
                bytes.extend_from_slice(header.as_bytes());
                bytes.extend_from_slice(payload.as_bytes());
            }
            Piece::Garbage(line) => {
                bytes.extend_from_slice(line);
                bytes.push(b'\n');
            }
        }
    }
    bytes
}

proptest! {
    #[test]
    fn well_formed_events_survive_any_garbage_between_them(
        pieces in prop::collection::vec(piece(), 0..24),
        capacity in 1usize..64,
    ) {
        let bytes = frame(&pieces);
        let events = read_events(&bytes[..]);
        let good: Vec<(Option<String>, Vec<u8>)> = events
            .iter()
            .filter(|e| e.header.problem.is_none())
            .map(|e| (e.header.eventname.clone(), e.payload.clone()))
            .collect();
        let expected: Vec<(Option<String>, Vec<u8>)> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Event { name, payload } => Some((Some(name.clone()), payload.as_bytes().to_vec())),
                Piece::Garbage(_) => None,
            })
            .collect();
        prop_assert_eq!(good, expected);

        // Each garbage line that is not blank is answered as an empty, flagged event.
        let garbage = pieces
            .iter()
            .filter(|p| matches!(p, Piece::Garbage(l) if !l.iter().all(u8::is_ascii_whitespace)))
            .count();
        let flagged: Vec<_> = events.iter().filter(|e| e.header.problem.is_some()).collect();
        prop_assert_eq!(flagged.len(), garbage);
        prop_assert!(flagged.iter().all(|e| e.payload.is_empty()));

        // Framing does not depend on how the pipe splits the bytes.
        prop_assert_eq!(read_events(BufReader::with_capacity(capacity, &bytes[..])), events);
        // And the listener loop answers each event exactly once, with protocol bytes only.
        httpok::fuzzing::listener(&bytes);
    }
}
