//! Peeking at and splicing request JSON without a full parse into a tree.
//!
//! The same-format path needs only three things from a body: the `model` value (and where it
//! sits, to splice in the rewritten name), whether it asks to stream, and whether it asks for
//! stream usage. One pass over the top-level object with sonic-rs' lazy iterator finds them;
//! nested values are skipped, not built.

use bytes::{Bytes, BytesMut};
use sonic_rs::JsonValueTrait;
use std::borrow::Cow;
use std::ops::Range;

/// The values of `keys` in object `v`, found in one pass over its members: `members(v, keys)[i]`
/// is `v.get(keys[i])` (of duplicate keys the first wins, as with `get`; `null` is kept). A
/// decoder reading several fields of each of many small objects pays one scan per object instead
/// of one per field; `None` throughout when `v` is not an object.
/// Inlined: each caller's keys then compare as constants (called, it cost OpenAI's agent history
/// 2%).
#[inline(always)]
pub fn members<'v, const N: usize>(v: &'v sonic_rs::Value, keys: [&str; N]) -> [Option<&'v sonic_rs::Value>; N] {
    use sonic_rs::JsonContainerTrait;
    let mut found = [None; N];
    if let Some(obj) = v.as_object() {
        for (k, x) in obj.iter() {
            if let Some(i) = keys.iter().position(|&key| key == k) {
                found[i].get_or_insert(x);
            }
        }
    }
    found
}

/// Deepest JSON nesting Sluice accepts anywhere (request bodies, upstream answers, stream
/// events). Parsing and dropping a JSON tree recurse once per level, so an unbounded depth would
/// let one body overflow a worker's stack and abort the process; 128 is serde_json's default.
pub const MAX_DEPTH: usize = 128;

/// Whether `json` nests arrays and objects deeper than `limit`. One pass without recursion; a
/// body with fewer opening brackets than `limit` is answered by a SIMD count alone.
pub fn too_deep(json: &[u8], limit: usize) -> bool {
    if memchr::memchr2_iter(b'[', b'{', json).nth(limit).is_none() {
        return false;
    }
    let mut depth = 0usize;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                // Skip the string: find its closing quote, honouring backslash escapes. A
                // backslash as the last byte steps past the end: `get` ends the scan there.
                i += 1;
                while let Some(j) = json.get(i..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) {
                    if json[i + j] == b'\\' {
                        i += j + 2;
                    } else {
                        i += j;
                        break;
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// JSON text must be UTF-8 (RFC 8259), checked before sonic-rs parses it.
///
/// sonic-rs checks it too, but only after the whole parse, and a `LazyValue` over invalid bytes
/// trips its debug assertion first (a panic in debug and fuzz builds). Checking up front with
/// the same SIMD validator sonic-rs uses costs what its own check did, which `from_str` skips.
pub fn utf8(json: &[u8]) -> Result<&str, String> {
    simdutf8::compat::from_utf8(json).map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))
}

/// What the router needs to know about a JSON request body.
#[derive(Debug, Default, Clone)]
pub struct Peek {
    /// The model string (unescaped).
    pub model: Option<String>,
    /// Byte range of the model's JSON string token (quotes included) in the body.
    pub model_span: Option<Range<usize>>,
    pub stream: bool,
    pub include_usage: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeekError {
    /// Not JSON, or not an object at the top level.
    Malformed(String),
    /// A field has the wrong JSON type.
    WrongType(&'static str, &'static str),
}

impl PeekError {
    pub fn message(&self) -> String {
        match self {
            PeekError::Malformed(m) => format!("request body is not valid JSON: {m}"),
            PeekError::WrongType(field, want) => format!("'{field}' must be {want}"),
        }
    }

    pub fn param(&self) -> Option<&'static str> {
        match self {
            PeekError::Malformed(_) => None,
            PeekError::WrongType(f, _) => Some(f),
        }
    }
}

/// The three fields the router reads; every other field is skipped (and validated) by sonic-rs.
#[derive(serde::Deserialize)]
struct PeekFields<'a> {
    #[serde(borrow, default)]
    model: Option<sonic_rs::LazyValue<'a>>,
    #[serde(borrow, default)]
    stream: Option<sonic_rs::LazyValue<'a>>,
    #[serde(borrow, default)]
    stream_options: Option<sonic_rs::LazyValue<'a>>,
}

/// One validating pass over the body for `model`, `stream` and `stream_options.include_usage`.
///
/// sonic-rs validates the whole document at SIMD speed while skipping the fields we do not need,
/// so malformed JSON never reaches an upstream (which would answer with its own error shape).
pub fn peek(body: &[u8]) -> Result<Peek, PeekError> {
    let first = body.iter().position(|b| !b.is_ascii_whitespace());
    if first.map(|i| body[i]) != Some(b'{') {
        return Err(PeekError::Malformed("expected a JSON object".into()));
    }
    let text = utf8(body).map_err(PeekError::Malformed)?;
    let fields: PeekFields<'_> = sonic_rs::from_str(text).map_err(|e| PeekError::Malformed(short(e.to_string())))?;
    let mut out = Peek::default();
    if let Some(value) = fields.model.filter(|v| !v.is_null()) {
        let s = value.as_str().ok_or(PeekError::WrongType("model", "a string"))?;
        let raw = value.as_raw_str();
        let base = body.as_ptr() as usize;
        let start = (raw.as_ptr() as usize).wrapping_sub(base);
        // The raw text must be a slice of the body for the splice to be exact.
        if start < body.len() && start + raw.len() <= body.len() && &body[start..start + raw.len()] == raw.as_bytes() {
            out.model_span = Some(start..start + raw.len());
        } else {
            // A model with escapes comes back unescaped; find its raw token the slow way.
            out.model_span = locate_top_level(body, "model");
        }
        out.model = Some(s.to_string());
    }
    if let Some(value) = fields.stream.filter(|v| !v.is_null()) {
        out.stream = value.as_bool().ok_or(PeekError::WrongType("stream", "a boolean"))?;
    }
    if let Some(value) = fields.stream_options.filter(|v| !v.is_null()) {
        if !value.is_object() {
            return Err(PeekError::WrongType("stream_options", "an object"));
        }
        if let Ok(v) = sonic_rs::get(value.as_raw_str(), &["include_usage"]) {
            out.include_usage = v.as_bool().unwrap_or(false);
        }
    }
    Ok(out)
}

/// Byte range of a top-level field's raw value, found by walking the object lazily.
fn locate_top_level(body: &[u8], field: &str) -> Option<Range<usize>> {
    let base = body.as_ptr() as usize;
    for item in sonic_rs::to_object_iter(body) {
        let (key, value) = item.ok()?;
        if key == field {
            let raw = value.as_raw_str();
            let start = (raw.as_ptr() as usize).wrapping_sub(base);
            let end = start.checked_add(raw.len())?;
            return (end <= body.len() && &body[start..end] == raw.as_bytes()).then_some(start..end);
        }
    }
    None
}

/// A JSON error in one line, for an error message: sonic-rs follows its description with the
/// input around the fault on further lines (the client's own body, tabs and all), which reads
/// badly inside an error body and in logs.
pub fn brief(e: &sonic_rs::Error) -> String {
    short(e.to_string())
}

/// `brief` for an error in one value parsed from its own text (a field of the body): the
/// position sonic-rs adds counts from that value, not from the body, so it is left out.
pub fn brief_value(e: &sonic_rs::Error) -> String {
    let mut s = brief(e);
    if let Some(i) = s.rfind(" at line ") {
        let position = &s[i + " at line ".len()..];
        if position.split_once(" column ").is_some_and(|(line, column)| {
            !line.is_empty() && !column.is_empty() && (line.bytes().chain(column.bytes())).all(|b| b.is_ascii_digit())
        }) {
            s.truncate(i);
        }
    }
    s
}

fn short(mut s: String) -> String {
    if let Some(i) = s.find('\n') {
        s.truncate(i);
    }
    s
}

/// Replaces the bytes in `span` with the JSON string for `new_value`, leaving everything else
/// untouched. Returns the pieces to send in order (no join needed by the caller).
pub fn splice_string(body: &Bytes, span: Range<usize>, new_value: &str) -> [Bytes; 3] {
    let mut quoted = BytesMut::with_capacity(new_value.len() + 2);
    quoted.extend_from_slice(
        sonic_rs::to_string(new_value)
            .unwrap_or_else(|_| "\"\"".into())
            .as_bytes(),
    );
    [body.slice(..span.start), quoted.freeze(), body.slice(span.end..)]
}

/// A member's key, borrowed from the body when it has no escapes.
pub struct KeySeed;

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brief_value_leaves_out_the_position_only() {
        let e = sonic_rs::from_str::<String>("5").unwrap_err();
        assert!(brief(&e).contains(" at line 1 column "), "{}", brief(&e));
        let v = brief_value(&e);
        assert!(v.starts_with("invalid type") && !v.contains(" at line "), "{v}");
        assert_eq!(v, brief(&e)[..v.len()]);
        // Text that only looks like a position is kept.
        let e = sonic_rs::from_str::<u8>(r#""x at line y column z""#).unwrap_err();
        assert!(brief_value(&e).contains("x at line y column z"), "{}", brief_value(&e));
    }

    #[test]
    fn members_reads_as_get_reads() {
        let bodies = [
            r#"{"type":"message","role":"user","content":"hi"}"#,
            r#"{"role":"a","role":"b","type":null,"x":1}"#,
            r#"{"content":[1,2],"extra":{"type":"inner"}}"#,
            r#"{}"#,
            r#"["type","role"]"#,
            r#""type""#,
        ];
        let keys = ["type", "role", "content", "absent"];
        for b in bodies {
            let v: sonic_rs::Value = sonic_rs::from_str(b).unwrap();
            let got = members(&v, keys);
            for (i, k) in keys.iter().enumerate() {
                assert_eq!(
                    got[i].map(|x| x.to_string()),
                    v.get(*k).map(|x| x.to_string()),
                    "{b} {k}"
                );
            }
        }
        // Explicitly: the first of duplicate keys, and null kept as a value.
        let v: sonic_rs::Value = sonic_rs::from_str(r#"{"role":"a","role":"b","type":null}"#).unwrap();
        let [role, ty] = members(&v, ["role", "type"]);
        assert_eq!(role.and_then(|r| r.as_str()), Some("a"));
        assert!(ty.is_some_and(|t| t.is_null()));
    }

    #[test]
    fn depth_limit_counts_only_structure() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(!too_deep(nest(MAX_DEPTH).as_bytes(), MAX_DEPTH));
        assert!(too_deep(nest(MAX_DEPTH + 1).as_bytes(), MAX_DEPTH));
        assert!(
            too_deep("[".repeat(100_000).as_bytes(), MAX_DEPTH),
            "unclosed counts too"
        );
        // Brackets inside strings (escaped quotes included) are text, not nesting.
        let s = format!(r#"{{"a":"{}\"{}","b":[1]}}"#, "[".repeat(500), "{".repeat(500));
        assert!(!too_deep(s.as_bytes(), MAX_DEPTH));
        // Many siblings are not depth.
        let wide = format!("[{}]", vec!["{}"; 1000].join(","));
        assert!(!too_deep(wide.as_bytes(), MAX_DEPTH));
    }

    /// Found by the `stream_decoders` fuzz target: an unclosed string ending in a backslash
    /// used to index past the end. A client could send it as a request body: more than
    /// `MAX_DEPTH` brackets (inside the string, so the quick count does not settle it), then the
    /// backslash as the last byte.
    #[test]
    fn a_trailing_backslash_in_an_open_string_ends_the_scan() {
        for tail in ["\\", "ab\\", "\\\\\\", "\\\"\\"] {
            let text = format!(r#"{{"a":"{}{tail}"#, "[".repeat(MAX_DEPTH + 1));
            assert!(!too_deep(text.as_bytes(), MAX_DEPTH), "{text}");
            let deep = format!(r#"{}"{}{tail}"#, "[".repeat(MAX_DEPTH + 1), "{".repeat(10));
            assert!(too_deep(deep.as_bytes(), MAX_DEPTH), "{deep}");
        }
    }

    /// Found by the `translate` fuzz target (in a Cohere answer): invalid UTF-8 inside a lazily
    /// read value panicked sonic-rs' debug assertion before its own UTF-8 error.
    #[test]
    fn invalid_utf8_is_malformed_json_not_a_panic() {
        for body in [
            &b"{\"model\":\"m\xff\"}"[..],
            b"{\"stream\":true,\"x\":\"\xc3\"}",
            b"{\"model\":\"\xed\xa0\x80\"}",
        ] {
            match peek(body) {
                Err(PeekError::Malformed(m)) => assert!(m.starts_with("invalid UTF-8 at byte "), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn finds_model_stream_and_usage() {
        let b = br#"{"messages":[{"role":"user","content":"hi \"model\""}],"model":"openai/gpt-4o-mini","stream":true,"stream_options":{"include_usage":true}}"#;
        let p = peek(b).unwrap();
        assert_eq!(p.model.as_deref(), Some("openai/gpt-4o-mini"));
        assert_eq!(&b[p.model_span.clone().unwrap()], br#""openai/gpt-4o-mini""#);
        assert!(p.stream);
        assert!(p.include_usage);
    }

    #[test]
    fn escaped_model_is_unescaped() {
        let b = br#"{"model":"a\/b"}"#;
        let p = peek(b).unwrap();
        assert_eq!(p.model.as_deref(), Some("a/b"));
        assert_eq!(&b[p.model_span.unwrap()], br#""a\/b""#);
    }

    #[test]
    fn malformed_is_rejected() {
        assert!(matches!(
            peek(b"{\"model\":\"x\",").unwrap_err(),
            PeekError::Malformed(_)
        ));
        assert!(matches!(peek(b"[1,2]").unwrap_err(), PeekError::Malformed(_)));
        assert!(matches!(peek(b"").unwrap_err(), PeekError::Malformed(_)));
        assert!(matches!(
            peek(b"{\"model\":\"x\"} trailing").unwrap_err(),
            PeekError::Malformed(_)
        ));
        assert!(matches!(
            peek(b"{\"model\":\"x\",\"messages\":[1,}").unwrap_err(),
            PeekError::Malformed(_)
        ));
        assert_eq!(
            peek(b"{\"model\":5}").unwrap_err(),
            PeekError::WrongType("model", "a string")
        );
        assert_eq!(
            peek(b"{\"model\":\"m\",\"stream\":\"yes\"}").unwrap_err(),
            PeekError::WrongType("stream", "a boolean")
        );
    }

    #[test]
    fn splice_replaces_only_the_model() {
        let body = Bytes::from_static(br#"{"a":1,"model":"openai/gpt-4o","z":[2]}"#);
        let p = peek(&body).unwrap();
        let parts = splice_string(&body, p.model_span.unwrap(), "gpt-4o");
        let joined: Vec<u8> = parts.iter().flat_map(|b| b.iter().copied()).collect();
        assert_eq!(joined, br#"{"a":1,"model":"gpt-4o","z":[2]}"#);
    }
}
