//! The XML-RPC codec: request bodies out, response values in. Bytes only, no IO.
//!
//! Owns the subset supervisord speaks (section 4 of the reference): `int`/`i4`, `boolean`,
//! `string` (also a `<value>` with no type element), `double`, `array`, `struct`, and faults
//! decoded into code and string. Does not own HTTP framing or the supervisord API names;
//! those live in `supervisor`.
//!
//! Every input is hostile: nesting is bounded, unknown elements are errors, and nothing
//! here panics on any byte sequence (a fuzz target checks that).

use std::collections::BTreeMap;
use std::fmt;

use quick_xml::Reader;
use quick_xml::events::Event;

/// Deeper nesting than this is refused instead of recursing into a stack overflow.
const MAX_DEPTH: usize = 32;

/// One XML-RPC value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Bool(bool),
    String(String),
    Double(f64),
    Array(Vec<Value>),
    Struct(BTreeMap<String, Value>),
}

impl Value {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_struct(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Struct(members) => Some(members),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// A fault returned by the server instead of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The numeric code (supervisord: BAD_NAME 10, SHUTDOWN_STATE 6, ...).
    pub code: i64,
    /// `NAME` or `NAME: detail`.
    pub string: String,
}

impl Fault {
    /// The symbolic name: the part of the fault string before the first `:`.
    pub fn name(&self) -> &str {
        self.string.split(':').next().unwrap_or("").trim()
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.string, self.code)
    }
}

/// A response body that is not a well-formed XML-RPC response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed XML-RPC response: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

fn bad(msg: impl Into<String>) -> DecodeError {
    DecodeError(msg.into())
}

/// Builds a `<methodCall>` body.
pub fn encode_call(method: &str, params: &[Value]) -> String {
    let mut out = String::with_capacity(128);
    out.push_str("<?xml version=\"1.0\"?>\n<methodCall><methodName>");
    out.push_str(&quick_xml::escape::escape(method));
    out.push_str("</methodName><params>");
    for param in params {
        out.push_str("<param>");
        encode_value(param, &mut out);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>\n");
    out
}

fn encode_value(value: &Value, out: &mut String) {
    out.push_str("<value>");
    match value {
        Value::Int(n) => out.push_str(&format!("<int>{n}</int>")),
        Value::Bool(b) => out.push_str(if *b {
            "<boolean>1</boolean>"
        } else {
            "<boolean>0</boolean>"
        }),
        Value::String(s) => {
            out.push_str("<string>");
            out.push_str(&escape_text(s));
            out.push_str("</string>");
        }
        Value::Double(d) => out.push_str(&format!("<double>{d}</double>")),
        Value::Array(items) => {
            out.push_str("<array><data>");
            for item in items {
                encode_value(item, out);
            }
            out.push_str("</data></array>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>");
            for (name, member) in members {
                out.push_str("<member><name>");
                out.push_str(&escape_text(name));
                out.push_str("</name>");
                encode_value(member, out);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
    }
    out.push_str("</value>");
}

/// Escapes text for an element; `\r` too, which an XML parser would turn into `\n`.
fn escape_text(text: &str) -> String {
    quick_xml::escape::escape(text).replace('\r', "&#13;")
}

/// Decodes a `<methodResponse>`: `Ok(Ok(value))`, `Ok(Err(fault))`, or a decode error.
pub fn decode_response(body: &[u8]) -> Result<Result<Value, Fault>, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|_| bad("body is not UTF-8"))?;
    let mut tokens = Tokens::new(text);
    tokens.expect_start("methodResponse")?;
    let outcome = match tokens.next_tag()? {
        Tag::Start(name) if name == "params" => {
            tokens.expect_start("param")?;
            let value = tokens.value(0)?;
            tokens.expect_end("param")?;
            tokens.expect_end("params")?;
            Ok(value)
        }
        Tag::Start(name) if name == "fault" => {
            let value = tokens.value(0)?;
            tokens.expect_end("fault")?;
            Err(fault_from_value(&value)?)
        }
        other => return Err(bad(format!("expected <params> or <fault>, found {other}"))),
    };
    tokens.expect_end("methodResponse")?;
    tokens.expect_eof()?;
    Ok(outcome)
}

fn fault_from_value(value: &Value) -> Result<Fault, DecodeError> {
    let members = value
        .as_struct()
        .ok_or_else(|| bad("fault is not a struct"))?;
    let code = members
        .get("faultCode")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("fault has no integer faultCode"))?;
    let string = members
        .get("faultString")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Ok(Fault { code, string })
}

/// A structural token: an element boundary, or text (entities resolved).
#[derive(Debug)]
enum Tag {
    Start(String),
    End(String),
    Text(String),
    Eof,
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tag::Start(n) => write!(f, "<{n}>"),
            Tag::End(n) => write!(f, "</{n}>"),
            Tag::Text(_) => write!(f, "text"),
            Tag::Eof => write!(f, "end of input"),
        }
    }
}

/// A pull tokenizer over quick-xml that merges text and entity references and
/// expands `<x/>` into a start and an end.
struct Tokens<'a> {
    reader: Reader<&'a [u8]>,
    pending_end: Option<String>,
    peeked: Option<Tag>,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        Tokens {
            reader: Reader::from_str(text),
            pending_end: None,
            peeked: None,
        }
    }

    /// The next token, text included (adjacent text and references merged).
    fn next_any(&mut self) -> Result<Tag, DecodeError> {
        if let Some(tag) = self.peeked.take() {
            return Ok(tag);
        }
        if let Some(name) = self.pending_end.take() {
            return Ok(Tag::End(name));
        }
        let mut text: Option<String> = None;
        loop {
            let event = self
                .reader
                .read_event()
                .map_err(|e| bad(format!("XML error: {e}")))?;
            let piece = match event {
                Event::Text(t) => t.xml10_content().into_owned(),
                Event::CData(c) => c.into_inner().into_owned(),
                Event::GeneralRef(r) => resolve_reference(&r)?,
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => continue,
                other => {
                    let tag = match other {
                        Event::Start(s) => Tag::Start(s.name().as_ref().to_string()),
                        Event::End(e) => Tag::End(e.name().as_ref().to_string()),
                        Event::Empty(s) => {
                            let name = s.name().as_ref().to_string();
                            self.pending_end = Some(name.clone());
                            Tag::Start(name)
                        }
                        _ => Tag::Eof,
                    };
                    return Ok(match text {
                        Some(t) => {
                            self.peeked = Some(tag);
                            Tag::Text(t)
                        }
                        None => tag,
                    });
                }
            };
            text.get_or_insert_with(String::new).push_str(&piece);
        }
    }

    /// The next element boundary, skipping whitespace-only text.
    fn next_tag(&mut self) -> Result<Tag, DecodeError> {
        loop {
            match self.next_any()? {
                Tag::Text(t) if t.trim().is_empty() => continue,
                Tag::Text(_) => return Err(bad("unexpected text between elements")),
                tag => return Ok(tag),
            }
        }
    }

    fn expect_start(&mut self, name: &str) -> Result<(), DecodeError> {
        match self.next_tag()? {
            Tag::Start(n) if n == name => Ok(()),
            other => Err(bad(format!("expected <{name}>, found {other}"))),
        }
    }

    fn expect_end(&mut self, name: &str) -> Result<(), DecodeError> {
        match self.next_tag()? {
            Tag::End(n) if n == name => Ok(()),
            other => Err(bad(format!("expected </{name}>, found {other}"))),
        }
    }

    fn expect_eof(&mut self) -> Result<(), DecodeError> {
        match self.next_tag()? {
            Tag::Eof => Ok(()),
            other => Err(bad(format!("expected end of input, found {other}"))),
        }
    }

    /// Text up to the closing tag `name` (empty if there is none).
    fn text_until_end(&mut self, name: &str) -> Result<String, DecodeError> {
        match self.next_any()? {
            Tag::Text(t) => {
                self.expect_end(name)?;
                Ok(t)
            }
            Tag::End(n) if n == name => Ok(String::new()),
            other => Err(bad(format!("expected text in <{name}>, found {other}"))),
        }
    }

    /// Parses `<value>...</value>`; the opening tag has not been read yet.
    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(bad("values nested too deeply"));
        }
        self.expect_start("value")?;
        let value = match self.next_any()? {
            // A <value> without a type element is a string.
            Tag::End(n) if n == "value" => return Ok(Value::String(String::new())),
            Tag::Text(t) => match self.next_tag()? {
                Tag::End(n) if n == "value" => return Ok(Value::String(t)),
                Tag::Start(kind) if t.trim().is_empty() => self.typed(&kind, depth)?,
                other => return Err(bad(format!("unexpected {other} after text in <value>"))),
            },
            Tag::Start(kind) => self.typed(&kind, depth)?,
            other => return Err(bad(format!("unexpected {other} in <value>"))),
        };
        self.expect_end("value")?;
        Ok(value)
    }

    /// Parses the typed element `kind` whose start tag was just read, through its end tag.
    fn typed(&mut self, kind: &str, depth: usize) -> Result<Value, DecodeError> {
        Ok(match kind {
            "int" | "i4" | "i8" => {
                let text = self.text_until_end(kind)?;
                Value::Int(
                    text.trim()
                        .parse()
                        .map_err(|_| bad(format!("bad integer {:?}", truncate(&text))))?,
                )
            }
            "boolean" => match self.text_until_end(kind)?.trim() {
                "1" => Value::Bool(true),
                "0" => Value::Bool(false),
                other => return Err(bad(format!("bad boolean {:?}", truncate(other)))),
            },
            "double" => {
                let text = self.text_until_end(kind)?;
                Value::Double(
                    text.trim()
                        .parse()
                        .map_err(|_| bad(format!("bad double {:?}", truncate(&text))))?,
                )
            }
            "string" => Value::String(self.text_until_end(kind)?),
            "nil" => {
                self.expect_end("nil")?;
                Value::String(String::new())
            }
            "array" => {
                self.expect_start("data")?;
                let mut items = Vec::new();
                loop {
                    match self.next_tag()? {
                        Tag::End(n) if n == "data" => break,
                        Tag::Start(n) if n == "value" => {
                            self.peeked = Some(Tag::Start(n));
                            items.push(self.value(depth + 1)?);
                        }
                        other => return Err(bad(format!("unexpected {other} in <data>"))),
                    }
                }
                self.expect_end("array")?;
                Value::Array(items)
            }
            "struct" => {
                let mut members = BTreeMap::new();
                loop {
                    match self.next_tag()? {
                        Tag::End(n) if n == "struct" => break,
                        Tag::Start(n) if n == "member" => {
                            self.expect_start("name")?;
                            let name = self.text_until_end("name")?;
                            let value = self.value(depth + 1)?;
                            self.expect_end("member")?;
                            members.insert(name, value);
                        }
                        other => return Err(bad(format!("unexpected {other} in <struct>"))),
                    }
                }
                Value::Struct(members)
            }
            other => return Err(bad(format!("unknown value type <{}>", truncate(other)))),
        })
    }
}

fn resolve_reference(r: &quick_xml::events::BytesRef<'_>) -> Result<String, DecodeError> {
    if let Some(c) = r
        .resolve_char_ref()
        .map_err(|e| bad(format!("bad character reference: {e}")))?
    {
        return Ok(c.to_string());
    }
    let name = r.xml10_content();
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(str::to_string)
        .ok_or_else(|| bad(format!("unknown entity &{};", truncate(&name))))
}

/// Keeps error messages short when the input is huge.
fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Value {
        decode_response(body.as_bytes())
            .expect("decodes")
            .expect("not a fault")
    }

    #[test]
    fn encodes_a_call_with_escaped_strings() {
        let body = encode_call(
            "supervisor.stopProcess",
            &[Value::from("a&b<c>"), Value::from(true)],
        );
        assert!(body.contains("<methodName>supervisor.stopProcess</methodName>"));
        assert!(body.contains("<string>a&amp;b&lt;c&gt;</string>"));
        assert!(body.contains("<boolean>1</boolean>"));
    }

    #[test]
    fn decodes_a_process_info_struct_as_supervisord_sends_it() {
        let body = r#"<?xml version='1.0'?>
<methodResponse>
<params>
<param>
<value><array><data>
<value><struct>
<member>
<name>name</name>
<value><string>web</string></value>
</member>
<member>
<name>pid</name>
<value><int>4242</int></value>
</member>
<member>
<name>description</name>
<value><string>pid 4242, uptime 0:00:07 &amp; more</string></value>
</member>
<member>
<name>spawnerr</name>
<value><string></string></value>
</member>
</struct></value>
</data></array></value>
</param>
</params>
</methodResponse>
"#;
        let value = ok(body);
        let items = value.as_array().expect("array");
        let info = items[0].as_struct().expect("struct");
        assert_eq!(info["name"], Value::from("web"));
        assert_eq!(info["pid"], Value::Int(4242));
        assert_eq!(
            info["description"],
            Value::from("pid 4242, uptime 0:00:07 & more")
        );
        assert_eq!(info["spawnerr"], Value::from(""));
    }

    #[test]
    fn decodes_a_fault_into_code_and_name() {
        let body = "<?xml version='1.0'?><methodResponse><fault><value><struct>\
            <member><name>faultCode</name><value><int>10</int></value></member>\
            <member><name>faultString</name><value><string>BAD_NAME: nope</string></value></member>\
            </struct></value></fault></methodResponse>";
        let fault = decode_response(body.as_bytes())
            .expect("decodes")
            .expect_err("fault");
        assert_eq!(fault.code, 10);
        assert_eq!(fault.name(), "BAD_NAME");
        assert_eq!(fault.string, "BAD_NAME: nope");
    }

    #[test]
    fn a_value_without_type_is_a_string_and_booleans_are_exact() {
        let v = ok(
            "<methodResponse><params><param><value>3.0</value></param></params></methodResponse>",
        );
        assert_eq!(v, Value::from("3.0"));
        let v = ok(
            "<methodResponse><params><param><value><boolean>1</boolean></value></param></params></methodResponse>",
        );
        assert_eq!(v, Value::Bool(true));
        assert!(decode_response(b"<methodResponse><params><param><value><boolean>true</boolean></value></param></params></methodResponse>").is_err());
    }

    #[test]
    fn character_references_and_non_ascii_text_decode() {
        let v = ok(
            "<methodResponse><params><param><value><string>caf&#233; \u{2603} &lt;x&gt;</string></value></param></params></methodResponse>",
        );
        assert_eq!(v, Value::from("caf\u{e9} \u{2603} <x>"));
    }

    #[test]
    fn carriage_returns_survive_a_round_trip() {
        let call = encode_call("m", &[Value::from("a\r\nb")]);
        assert!(call.contains("a&#13;\nb"), "{call}");
    }

    #[test]
    fn round_trips_nested_values() {
        let mut members = BTreeMap::new();
        members.insert(
            "k&".to_string(),
            Value::Array(vec![Value::Int(-3), Value::from("")]),
        );
        let original = Value::Struct(members);
        let call = encode_call("m", std::slice::from_ref(&original));
        let response = call
            .replace("<methodCall><methodName>m</methodName>", "<methodResponse>")
            .replace("</methodCall>", "</methodResponse>");
        assert_eq!(ok(&response), original);
    }

    #[test]
    fn rejects_malformed_bodies_without_panicking() {
        for body in [
            "",
            "not xml",
            "<html><body>500</body></html>",
            "<methodResponse>",
            "<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>",
            "<methodResponse><params><param><value><foo/></value></param></params></methodResponse>",
            "<methodResponse><fault><value><string>x</string></value></fault></methodResponse>",
            "<methodResponse><params><param><value><string>&bogus;</string></value></param></params></methodResponse>",
        ] {
            assert!(
                decode_response(body.as_bytes()).is_err(),
                "accepted {body:?}"
            );
        }
        assert!(decode_response(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn refuses_deep_nesting() {
        let depth = 10_000;
        let mut body = String::from("<methodResponse><params><param>");
        for _ in 0..depth {
            body.push_str("<value><array><data>");
        }
        for _ in 0..depth {
            body.push_str("</data></array></value>");
        }
        body.push_str("</param></params></methodResponse>");
        assert!(decode_response(body.as_bytes()).is_err());
    }
}
