//! Tool-call arguments carried as the model wrote them (README "Tool arguments reach the client").
//!
//! Canonical `Part::ToolCall.arguments` is JSON text. Formats that carry arguments as text
//! (OpenAI, Cohere, stream fragments) pass it on untouched. Formats that carry an object
//! (Anthropic `input`, Converse `toolUse.input`, Gemini `args`) get the text spliced in after one
//! validating pass, and their decoders take the object's raw text from the body: a parsed
//! `Value` written again would sort the keys, round integers beyond 64 bits, respell `1e5` or
//! `1.0` and change escapes such as `\u00fc` or `\/`.
//!
//! An answer's decoder (Anthropic, Converse, Gemini) takes each object's text in the pass that
//! parses the body (`decode`): the body's `Layout` names the way down to the arguments, which are
//! kept as their raw slice (`Node::Args`) while the rest is parsed into `Value`s as usual. The
//! request decoders (a client's history) note which items hold a call while they walk the parsed
//! body (`RawArgs`), and take all the texts in one more pass that only skips to them.

use crate::canonical::Part;
use crate::wire::json::{too_deep, KeySeed, MAX_DEPTH};
use serde::de::{Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use sonic_rs::{JsonValueTrait, LazyValue, Value};
use std::borrow::Cow;
use std::marker::PhantomData;

/// The arguments as one JSON value, validated but not parsed into a tree: it serializes as its
/// own text (trimmed). Empty text is `{}` (a call without arguments). The error says why the
/// text is not one valid JSON value (or nests deeper than `MAX_DEPTH`).
pub(crate) fn value(arguments: &str) -> Result<LazyValue<'_>, String> {
    let text = match arguments.trim_ascii() {
        "" => "{}",
        t if too_deep(t.as_bytes(), MAX_DEPTH) => return Err(format!("nested deeper than {MAX_DEPTH}")),
        t => t,
    };
    // Deserializing a `LazyValue` validates the value (`skip_one(checked)`) and what follows it.
    sonic_rs::from_str::<LazyValue<'_>>(text).map_err(|e| crate::wire::json::brief(&e))
}

/// As `value`, for a format that wants an object: `None` for anything but one valid object.
pub(crate) fn object(arguments: &str) -> Option<LazyValue<'_>> {
    value(arguments).ok().filter(|v| v.is_object())
}

/// The text `object` writes, for a writer of bytes: trimmed, `{}` for empty text.
pub(crate) fn object_text(arguments: &str) -> Option<&str> {
    object(arguments).map(|_| match arguments.trim_ascii() {
        "" => "{}",
        t => t,
    })
}

/// As `object`, with `{}` for arguments that are not a JSON object (a truncated upstream
/// answer) where the format must have one.
pub(crate) fn object_or_empty(arguments: &str) -> LazyValue<'_> {
    object(arguments).or_else(|| object("")).unwrap_or_default()
}

/// The raw text of the value at `path` in `json` when it is an object: an upstream's tool input
/// as it wrote it. `json` must already have parsed whole (the decoders parse it first), so
/// this lookup only skips to the value.
pub(crate) fn raw_object_at<P>(json: &[u8], path: P) -> Option<String>
where
    P: IntoIterator,
    P::Item: sonic_rs::Index,
{
    let raw = sonic_rs::get_from_slice(json, path).ok()?;
    let text = raw.as_raw_str().trim_ascii();
    text.starts_with('{').then(|| text.to_string())
}

/// Where a request decoder's tool calls have their arguments object in the body, noted in the
/// order it makes the calls: the item's index on each of the two array levels of the layout `L`
/// (a history's message and block, Gemini's content and part). `fill` then takes every text in
/// one pass over the body that walks only `L`'s way down to the noted items and skips everything
/// else (`Walk`): a decoder walks a parsed `Value`, where an object's text as written is gone.
///
/// A lookup per call (`sonic_rs::get_from_slice`) would read the body again for each, quadratic
/// in a long agent history; `sonic_rs::get_many` with a `PointerTree` of every path cost about
/// twice the walk (building and hashing the tree), and a walk through sonic's unchecked lazy
/// iterators more than this one (RESULTS "Session 34").
pub(crate) struct RawArgs<'v, L> {
    /// Per call: its items' indices, and its arguments object as the decoder parsed it.
    at: Vec<[u32; 2]>,
    parsed: Vec<&'v Value>,
    layout: PhantomData<L>,
}

impl<L> Default for RawArgs<'_, L> {
    fn default() -> Self {
        RawArgs {
            at: Vec::new(),
            parsed: Vec::new(),
            layout: PhantomData,
        }
    }
}

impl<'v, L: Layout> RawArgs<'v, L> {
    /// The decoder's next call whose arguments are an object (`parsed`) has it in item `j` of
    /// the inner array of item `i` of the outer one (`messages[i].content[j]`). The decoder
    /// leaves that call's arguments empty, for `fill`: the text it would write from `parsed`
    /// is needed only where the walk cannot take the text as written.
    pub(crate) fn push(&mut self, i: usize, j: usize, parsed: &'v Value) {
        let index = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.at.push([index(i), index(j)]);
        self.parsed.push(parsed);
    }

    /// Gives each call with empty arguments among `calls` (every call the decoder made, in
    /// order: those it noted with `push`) its object's text as found in `body`. Where the walk
    /// cannot tell (the body repeats a key on the layout's way down, so the decoder and the walk
    /// could read different members) the parsed object is written out instead, as it would be
    /// without the walk.
    pub(crate) fn fill<'p>(self, body: &[u8], calls: impl IntoIterator<Item = &'p mut String>) {
        if self.at.is_empty() {
            return;
        }
        let calls: Vec<&mut String> = calls.into_iter().filter(|a| a.is_empty()).collect();
        debug_assert_eq!(calls.len(), self.at.len(), "calls noted and made differ");
        let written = |v: &Value| sonic_rs::to_string(v).unwrap_or_else(|_| "{}".into());
        let objects = match self.at.is_sorted_by(|a, b| a < b) && calls.len() == self.at.len() {
            true => walk::<L>(body, &self.at).unwrap_or_default(),
            false => Vec::new(),
        };
        // Both lists are in the body's order: one merge.
        let mut objects = objects.into_iter().peekable();
        for (k, arguments) in calls.into_iter().enumerate() {
            let (Some(at), Some(parsed)) = (self.at.get(k), self.parsed.get(k)) else {
                "{}".clone_into(arguments);
                continue;
            };
            while objects.next_if(|(o, _)| o < at).is_some() {}
            match objects.next_if(|(o, _)| o == at) {
                Some((_, raw)) => raw.as_raw_str().trim_ascii().clone_into(arguments),
                None => *arguments = written(parsed),
            }
        }
    }
}

/// The arguments objects at `wanted` (items' indices, in the body's order) that the walk down
/// `L` finds in `body`, in the body's order; `None` when it cannot tell which are the
/// decoder's (a key on the way repeats).
fn walk<'a, L: Layout>(body: &'a [u8], wanted: &[[u32; 2]]) -> Option<Vec<([u32; 2], LazyValue<'a>)>> {
    let text = crate::wire::json::utf8(body).ok()?;
    let mut found = Found {
        wanted,
        objects: Vec::with_capacity(wanted.len()),
        repeated: false,
    };
    let walk = Walk {
        shape: &L::SHAPE,
        camel: L::CAMEL,
        level: 0,
        at: [0; 2],
        found: &mut found,
    };
    let walked = walk.deserialize(&mut sonic_rs::Deserializer::from_str(text));
    (walked.is_ok() && !found.repeated).then_some(found.objects)
}

/// What `Walk` looks for and what it found: each arguments object with the indices of its
/// items, in the body's order.
struct Found<'w, 'a> {
    /// The items that hold a call (`RawArgs::at`, in the body's order): any other item is
    /// skipped whole.
    wanted: &'w [[u32; 2]],
    objects: Vec<([u32; 2], LazyValue<'a>)>,
    /// An object on the way to a call repeated a key on the layout.
    repeated: bool,
}

impl Found<'_, '_> {
    /// Whether item `at[level]` (the items above it being `at[..level]`) holds or leads to a
    /// wanted call. The walk asks in the body's order, so the calls before it are dropped.
    fn wants(&mut self, at: &[u32; 2], level: usize) -> bool {
        let prefix = &at[..=level];
        while let Some(w) = self.wanted.first() {
            if &w[..=level] >= prefix {
                return &w[..=level] == prefix;
            }
            self.wanted = &self.wanted[1..];
        }
        false
    }
}

/// `RawArgs::fill`'s pass: down the layout's members and the items that hold a call, every
/// other value skipped.
struct Walk<'f, 'w, 'a> {
    shape: &'static Shape,
    camel: bool,
    /// How many array levels are above.
    level: usize,
    /// The item index on each array level above.
    at: [u32; 2],
    found: &'f mut Found<'w, 'a>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if let Shape::Args = self.shape {
            // Validated by the decoder's parse: this only finds the end.
            let raw = LazyValue::deserialize(d)?;
            if raw.as_raw_str().trim_ascii_start().starts_with('{') {
                self.found.objects.push((self.at, raw));
            }
            return Ok(());
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    // A value of another type than the layout's: nothing on it.
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Shape::Array(item) = self.shape else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        let Walk {
            camel,
            level,
            mut at,
            found,
            ..
        } = self;
        if level >= at.len() {
            // A layout deeper than `RawArgs` notes: nothing taken.
            found.repeated = true;
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        let mut k = 0u32;
        loop {
            at[level] = k;
            let more = if found.wants(&at, level) {
                let walk = Walk {
                    shape: item,
                    camel,
                    level: level + 1,
                    at,
                    found: &mut *found,
                };
                seq.next_element_seed(walk)?.is_some()
            } else {
                // No call in it: skipped whole, without a look at its keys.
                seq.next_element::<IgnoredAny>()?.is_some()
            };
            if !more {
                return Ok(());
            }
            k = k.saturating_add(1);
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Shape::Object(members) = self.shape else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        let Walk {
            camel,
            level,
            at,
            found,
            ..
        } = self;
        // The layout's members seen in this object, by position (a layout names a few).
        let mut seen = 0u64;
        while let Some(member) = map.next_key_seed(MemberKey { members, camel })? {
            let Some(n) = member else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let bit = 1u64 << n.min(63);
            if seen & bit != 0 {
                found.repeated = true;
            }
            seen |= bit;
            let walk = Walk {
                shape: &members[n].1,
                camel,
                level,
                at,
                found: &mut *found,
            };
            map.next_value_seed(walk)?;
        }
        Ok(())
    }
}

/// A key of an object on `Walk`'s way: the position of the layout's member it names, if any
/// (read in place: no key is copied).
struct MemberKey {
    members: &'static [(&'static str, Shape)],
    camel: bool,
}

impl<'de> DeserializeSeed<'de> for MemberKey {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MemberKey {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self
            .members
            .iter()
            .position(|(name, _)| member_matches(key, name, self.camel)))
    }
}

/// Whether member `key` is the layout's `name`: the same, or (Gemini's keys, `camel`) its
/// snake_case spelling (`function_call` for `functionCall`), as `gemini::field` reads them.
fn member_matches(key: &str, name: &str, camel: bool) -> bool {
    key == name || (camel && key.contains('_') && crate::formats::gemini::camel_eq(key, name))
}

/// Where a body carries its calls' arguments objects, for `decode`: the members and items to
/// walk down to them. Everything off this path is parsed as a `Value`, as a plain parse would.
pub(crate) enum Shape {
    /// An object: a member named by one of these keys (first matching key) takes its shape.
    Object(&'static [(&'static str, Shape)]),
    /// An array: every item takes this shape.
    Array(&'static Shape),
    /// A call's arguments: an object is kept as its text (`Node::Args`).
    Args,
}

/// A body's shape and how it names keys, for `decode`.
pub(crate) trait Layout {
    const SHAPE: Shape;
    /// Gemini's keys: a member also matches when its snake_case name is the key in camelCase
    /// (`function_call` for `functionCall`), as `gemini::field` reads them.
    const CAMEL: bool = false;
}

/// A JSON value decoded by `decode`: as a `Value` except on the way to the arguments objects.
#[derive(Debug)]
pub(crate) enum Node<'a> {
    /// Parsed as sonic parses any value (a member or item off the shape, or a value of another
    /// type than the shape expects).
    Value(Value),
    /// An object on the shape: its members in the body's order, repeated keys kept (as the
    /// parsed `Value` keeps them; `get` finds the first).
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
    /// An array on the shape.
    Array(Vec<Node<'a>>),
    /// A call's arguments object, as written (validated by the same pass).
    Args(LazyValue<'a>),
}

/// Decodes `body` in one pass, keeping each arguments object of `L::SHAPE` as its text: no
/// second walk to find them, no parsed object written out again. Fails as `sonic_rs::from_slice`
/// does on the same body (invalid JSON or UTF-8, trailing characters). The caller has checked
/// the nesting depth (`too_deep`), as for any parse.
pub(crate) fn decode<L: Layout>(body: &[u8]) -> sonic_rs::Result<Node<'_>> {
    // An arguments object kept as a borrowed `LazyValue` is read as `str` before sonic checks
    // UTF-8 (`json::utf8`): the body is checked whole first, and then parsed as a `str`.
    match crate::wire::json::utf8(body) {
        Ok(text) => sonic_rs::from_str::<Decoded<'_, L>>(text).map(|d| d.0),
        // The error a plain parse gives on these bytes.
        Err(_) => Err(match sonic_rs::from_slice::<sonic_rs::Value>(body) {
            Err(e) => e,
            Ok(_) => <sonic_rs::Error as serde::de::Error>::custom("invalid UTF-8"),
        }),
    }
}

struct Decoded<'a, L>(Node<'a>, PhantomData<L>);

impl<'de, L: Layout> Deserialize<'de> for Decoded<'de, L> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let seed = Seed {
            shape: &L::SHAPE,
            camel: L::CAMEL,
        };
        seed.deserialize(d).map(|n| Decoded(n, PhantomData))
    }
}

#[derive(Clone, Copy)]
struct Seed {
    shape: &'static Shape,
    camel: bool,
}

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Node<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        if let Shape::Args = self.shape {
            // Deserializing a `LazyValue` validates the value (`skip_one(checked)`).
            let raw = LazyValue::deserialize(d)?;
            if raw.as_raw_str().trim_ascii_start().starts_with('{') {
                return Ok(Node::Args(raw));
            }
            // Anything but an object is no arguments text: parsed, as a plain parse would.
            return sonic_rs::from_str(raw.as_raw_str())
                .map(Node::Value)
                .map_err(serde::de::Error::custom);
        }
        d.deserialize_any(self)
    }
}

impl Seed {
    /// The shape of the member `key`, if it is on this object's shape.
    fn member(&self, key: &str) -> Option<&'static Shape> {
        let Shape::Object(members) = self.shape else {
            return None;
        };
        members
            .iter()
            .find(|(name, _)| member_matches(key, name, self.camel))
            .map(|(_, s)| s)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::from(b)))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::from(n)))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::from(n)))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Node<'de>, E> {
        // JSON numbers parse to finite floats; the default only guards the conversion.
        Ok(Node::Value(Value::new_f64(n).unwrap_or_default()))
    }
    fn visit_str<E>(self, s: &str) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::from(s)))
    }
    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::new_null()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        match self.shape {
            Shape::Array(item) => {
                let seed = Seed { shape: item, ..self };
                while let Some(n) = seq.next_element_seed(seed)? {
                    items.push(n);
                }
                Ok(Node::Array(items))
            }
            // An array where the shape wants an object: a plain value.
            _ => {
                let mut arr = sonic_rs::Array::new();
                while let Some(v) = seq.next_element::<Value>()? {
                    arr.push(v);
                }
                Ok(Node::Value(arr.into_value()))
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        if let Shape::Object(_) = self.shape {
            let mut members = Vec::with_capacity(map.size_hint().unwrap_or(4));
            while let Some(key) = map.next_key_seed(KeySeed)? {
                let node = match self.member(&key) {
                    Some(shape) => map.next_value_seed(Seed { shape, ..self })?,
                    None => Node::Value(map.next_value::<Value>()?),
                };
                members.push((key, node));
            }
            return Ok(Node::Object(members));
        }
        // An object where the shape wants an array: a plain value (the first of a repeated key
        // wins, as `get` finds it in a parsed object).
        let mut obj = sonic_rs::Object::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let v = map.next_value::<Value>()?;
            if obj.get(&key.as_ref()).is_none() {
                obj.insert(&key, v);
            }
        }
        Ok(Node::Value(obj.into_value()))
    }
}

impl<'a> Node<'a> {
    /// The first member named `key` of an object on the shape (as `Value::get` finds it); `None`
    /// for any other node.
    pub(crate) fn get(&self, key: &str) -> Option<&Node<'a>> {
        self.members()?.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    /// As `get`, but a `null` member is no member (as most decoders read optional fields).
    pub(crate) fn field(&self, key: &str) -> Option<&Node<'a>> {
        self.get(key).filter(|n| !n.is_null())
    }

    /// The members of an object on the shape, in order.
    pub(crate) fn members(&self) -> Option<&[(Cow<'a, str>, Node<'a>)]> {
        match self {
            Node::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The items of an array on the shape.
    pub(crate) fn items(&self) -> Option<&[Node<'a>]> {
        match self {
            Node::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The parsed value, off the shape.
    pub(crate) fn value(&self) -> Option<&Value> {
        match self {
            Node::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The string, for a string value.
    pub(crate) fn as_str(&self) -> Option<&str> {
        self.value().and_then(|v| v.as_str())
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Node::Value(v) if v.is_null())
    }

    pub(crate) fn is_object(&self) -> bool {
        match self {
            Node::Value(v) => v.is_object(),
            Node::Object(_) | Node::Args(_) => true,
            Node::Array(_) => false,
        }
    }

    /// A call's arguments text: an object as written; any other value as `write` writes it
    /// (each decoder's rule for arguments that are not an object).
    pub(crate) fn arguments(&self, write: impl FnOnce(&Value) -> String) -> String {
        match self {
            Node::Args(raw) => raw.as_raw_str().trim_ascii().to_string(),
            Node::Value(v) => write(v),
            other => write(&other.to_value()),
        }
    }

    /// The node as a parsed `Value`, for code that reads one (an object on the shape is built
    /// again: the first of a repeated key wins, as `get` finds it).
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Node::Value(v) => v.clone(),
            Node::Object(members) => {
                let mut obj = sonic_rs::Object::with_capacity(members.len());
                for (k, n) in members {
                    if obj.get(&k.as_ref()).is_none() {
                        obj.insert(k, n.to_value());
                    }
                }
                obj.into_value()
            }
            Node::Array(items) => items
                .iter()
                .map(Node::to_value)
                .collect::<sonic_rs::Array>()
                .into_value(),
            Node::Args(raw) => sonic_rs::from_str(raw.as_raw_str()).unwrap_or_default(),
        }
    }
}

/// The arguments of the tool calls among `parts`, in order.
pub(crate) fn calls_in<'p>(parts: impl IntoIterator<Item = &'p mut Part>) -> impl Iterator<Item = &'p mut String> {
    parts.into_iter().filter_map(|p| match p {
        Part::ToolCall { arguments, .. } => Some(arguments),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::stream::events_from_response;
    use crate::canonical::stream::testing::{collect, encode_all, run};
    use crate::canonical::{ChatRequest, ChatResponse, Extra, FinishReason, Usage};
    use crate::formats::openai::responses::Echo;
    use crate::formats::{codec, stream_decoder, stream_encoder, Format};

    /// Every kind of spelling that a parse and re-serialization would change.
    const AS_WRITTEN: &str = r#"{"zeta":123456789012345678901234,"max":-9223372036854775809,"alpha":1e5,"f":1.0,"neg":-0.0,"s":"Z\u00fcrich \/ \ud83d\ude00 \"q\"","nested":{"b":[1,2.50,{}],"a":null}}"#;

    #[test]
    fn object_keeps_the_text_as_written() {
        let v = object(AS_WRITTEN).unwrap();
        assert_eq!(sonic_rs::to_string(&v).unwrap(), AS_WRITTEN);
        let padded = format!(" \n{AS_WRITTEN}\t ");
        assert_eq!(sonic_rs::to_string(&object(&padded).unwrap()).unwrap(), AS_WRITTEN);
    }

    #[test]
    fn object_is_empty_object_for_empty_text() {
        assert_eq!(sonic_rs::to_string(&object("").unwrap()).unwrap(), "{}");
        assert_eq!(sonic_rs::to_string(&object(" \n").unwrap()).unwrap(), "{}");
    }

    #[test]
    fn object_refuses_what_is_not_one_valid_object() {
        for bad in [
            "[1]",
            "1",
            "\"{}\"",
            "null",
            "{",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":1} {}",
            "{\"a\":1}x",
            "{\"a\":tru}",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":01}",
            "{a:1}",
        ] {
            assert!(object(bad).is_none(), "{bad}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(object(&deep).is_none());
    }

    fn answer(arguments: &str) -> ChatResponse {
        ChatResponse {
            id: "r".into(),
            model: "m".into(),
            content: vec![
                Part::text("calling"),
                Part::ToolCall {
                    id: "toolu_1".into(),
                    name: "f".into(),
                    arguments: arguments.into(),
                    signature: None,
                    extra: Extra::default(),
                },
            ],
            finish: FinishReason::ToolCalls,
            usage: Usage {
                input: 3,
                output: 4,
                ..Usage::default()
            },
            stop_sequence: None,
            created: 0,
            logprobs: Vec::new(),
        }
    }

    fn arguments_of_parts(parts: &[Part]) -> impl Iterator<Item = &str> {
        parts.iter().filter_map(|p| match p {
            Part::ToolCall { arguments, .. } => Some(arguments.as_str()),
            _ => None,
        })
    }

    /// A client's body of format `source` decoded, and the arguments of its calls in order.
    fn decoded_history(source: Format, body: &str) -> (ChatRequest, Vec<String>) {
        let req = (codec(source).unwrap().decode_request)(body.as_bytes(), Some("m"), false).unwrap();
        let args = req
            .messages
            .iter()
            .flat_map(|m| arguments_of_parts(&m.content))
            .map(str::to_string)
            .collect();
        (req, args)
    }

    fn arguments_of(r: &ChatResponse) -> Vec<&str> {
        arguments_of_parts(&r.content).collect()
    }

    /// The text a body carries for `AS_WRITTEN`: itself where the format wants an object, a
    /// JSON string of it where it wants text.
    fn carried(f: Format) -> String {
        match f {
            Format::Anthropic | Format::Gemini | Format::Bedrock => AS_WRITTEN.to_string(),
            Format::OpenAi | Format::Cohere => sonic_rs::to_string(AS_WRITTEN).unwrap(),
        }
    }

    #[test]
    fn every_format_answers_with_the_arguments_as_written_and_decodes_them_so() {
        for f in Format::ALL {
            let c = codec(f).unwrap();
            let body = (c.encode_response)(&answer(AS_WRITTEN));
            let text = String::from_utf8(body.clone()).unwrap();
            assert!(text.contains(&carried(f)), "{f:?}: {text}");
            // The same body from an upstream of that format.
            let r = (c.decode_response)(&body).unwrap();
            assert_eq!(arguments_of(&r), [AS_WRITTEN], "{f:?}");
        }
    }

    #[test]
    fn every_stream_carries_the_arguments_as_written_both_ways() {
        let req = ChatRequest {
            stream: true,
            include_usage: true,
            ..Default::default()
        };
        let events = events_from_response(&answer(AS_WRITTEN), 3);
        for f in Format::ALL {
            let bytes = encode_all(stream_encoder(f, false, &req).as_mut(), &events);
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if f == Format::Gemini {
                // Gemini sends `args` whole: the object itself.
                assert!(text.contains(AS_WRITTEN), "{text}");
            }
            let got = run(&|| stream_decoder(f), &[&bytes]).unwrap();
            assert_eq!(arguments_of(&collect(&got)), [AS_WRITTEN], "{f:?}: {text}");
        }
    }

    #[test]
    fn openai_responses_and_invoke_bodies_carry_the_arguments_as_written() {
        use crate::formats::bedrock::invoke::{encode_invoke_response, InvokeFamily};
        let resp = answer(AS_WRITTEN);
        let req = ChatRequest::default();
        let body = crate::formats::openai::responses::encode_response(&resp, &Echo::of(&req, b"{}"));
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains(&carried(Format::OpenAi)), "{text}");
        let r = crate::formats::openai::responses_upstream::decode_response(text.as_bytes()).unwrap();
        assert_eq!(arguments_of(&r), [AS_WRITTEN]);
        for (family, f) in [
            (InvokeFamily::Anthropic, Format::Anthropic),
            (InvokeFamily::Nova, Format::Bedrock),
            (InvokeFamily::OpenAi, Format::OpenAi),
            // Cohere v1 `parameters` is an object.
            (InvokeFamily::CohereCommandR, Format::Anthropic),
        ] {
            let body = encode_invoke_response(family, &resp, br#"{"message":"hi"}"#, 1);
            let text = String::from_utf8(body).unwrap();
            assert!(text.contains(&carried(f)), "{family:?}: {text}");
        }
    }

    #[test]
    fn a_call_in_a_clients_history_reaches_every_upstream_as_written() {
        let a = AS_WRITTEN;
        let histories = [
            (
                Format::Anthropic,
                format!(
                    r#"{{"model":"m","max_tokens":5,"messages":[{{"role":"user","content":"hi"}},{{"role":"assistant","content":[{{"type":"text","text":"x"}},{{"type":"tool_use","id":"toolu_1","name":"f","input": {a} }}]}},{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}}]}}]}}"#
                ),
            ),
            (
                Format::Bedrock,
                format!(
                    r#"{{"messages":[{{"role":"user","content":[{{"text":"hi"}}]}},{{"role":"assistant","content":[{{"text":"x"}},{{"toolUse":{{"toolUseId":"t1","name":"f","input":{a}}}}}]}},{{"role":"user","content":[{{"toolResult":{{"toolUseId":"t1","content":[{{"text":"ok"}}]}}}}]}}]}}"#
                ),
            ),
            (
                Format::Gemini,
                format!(
                    r#"{{"contents":[{{"role":"user","parts":[{{"text":"hi"}}]}},{{"role":"model","parts":[{{"text":"x"}},{{"functionCall":{{"name":"f","args":{a}}}}}]}},{{"role":"user","parts":[{{"functionResponse":{{"name":"f","response":{{"r":1}}}}}}]}}]}}"#
                ),
            ),
            (
                Format::Gemini,
                format!(
                    r#"{{"contents":[{{"role":"user","parts":[{{"text":"hi"}}]}},{{"role":"model","parts":[{{"function_call":{{"name":"f","args":{a}}}}}]}},{{"role":"user","parts":[{{"function_response":{{"name":"f","response":{{"r":1}}}}}}]}}]}}"#
                ),
            ),
        ];
        for (source, body) in histories {
            let (req, args) = decoded_history(source, &body);
            assert_eq!(args, [AS_WRITTEN], "{source:?}");
            for target in Format::ALL {
                let out = (codec(target).unwrap().encode_request)(&req).unwrap();
                let text = String::from_utf8(out).unwrap();
                assert!(text.contains(&carried(target)), "{source:?} -> {target:?}: {text}");
            }
        }
    }

    /// A history of several calls in several turns, some of whose arguments are not an object:
    /// each call keeps its own text, as written where it is an object.
    #[test]
    fn every_call_of_a_long_history_keeps_its_own_arguments() {
        let a = AS_WRITTEN;
        // Per call: what the client sent, and the arguments it decodes to.
        let calls = [
            (a.to_string(), a),
            (r#"{"b":1, "a":[1.0]}"#.to_string(), r#"{"b":1, "a":[1.0]}"#),
            ("[1.0]".to_string(), "[1.0]"),
            (r#"{ }"#.to_string(), "{ }"),
            ("null".to_string(), "{}"),
            (r#"{"z":"ü"}"#.to_string(), r#"{"z":"ü"}"#),
        ];
        let anthropic = {
            let mut m = vec![r#"{"role":"user","content":"go"}"#.to_string()];
            for (n, (input, _)) in calls.iter().enumerate() {
                // Two calls in one turn after a text block, the others alone.
                m.push(format!(
                    r#"{{"role":"assistant","content":[{{"type":"text","text":"t"}},{{"type":"tool_use","id":"c{n}","name":"f","input":{input}}}]}}"#
                ));
                m.push(format!(
                    r#"{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"c{n}","content":[{{"type":"text","text":"ok"}}]}}]}}"#
                ));
            }
            format!(r#"{{"model":"m","max_tokens":5,"messages":[{}]}}"#, m.join(","))
        };
        let bedrock = {
            let mut m = vec![r#"{"role":"user","content":[{"text":"go"}]}"#.to_string()];
            for (n, (input, _)) in calls.iter().enumerate() {
                m.push(format!(
                    r#"{{"role":"assistant","content":[{{"text":"t"}},{{"cachePoint":{{"type":"default"}}}},{{"toolUse":{{"toolUseId":"c{n}","name":"f","input":{input}}}}}]}}"#
                ));
                m.push(format!(
                    r#"{{"role":"user","content":[{{"toolResult":{{"toolUseId":"c{n}","content":[{{"text":"ok"}}]}}}}]}}"#
                ));
            }
            format!(r#"{{"messages":[{}]}}"#, m.join(","))
        };
        let gemini = {
            let mut c = vec![r#"{"role":"user","parts":[{"text":"go"}]}"#.to_string()];
            for (n, (input, _)) in calls.iter().enumerate() {
                let key = if n % 2 == 0 { "functionCall" } else { "function_call" };
                c.push(format!(
                    r#"{{"role":"model","parts":[{{"text":"t"}},{{"{key}":{{"id":"c{n}","name":"f","args":{input}}}}}]}}"#
                ));
                c.push(format!(
                    r#"{{"role":"user","parts":[{{"functionResponse":{{"id":"c{n}","name":"f","response":{{"r":1}}}}}}]}}"#
                ));
            }
            format!(r#"{{"contents":[{}]}}"#, c.join(","))
        };
        for (source, body) in [
            (Format::Anthropic, anthropic),
            (Format::Bedrock, bedrock),
            (Format::Gemini, gemini),
        ] {
            let (_, args) = decoded_history(source, &body);
            let want: Vec<&str> = calls.iter().map(|(_, decoded)| *decoded).collect();
            assert_eq!(args, want, "{source:?}");
        }
    }

    /// Keys a decoder skips (a `null` member before the real one) or repeats: every call still
    /// gets its own object, written out where the walk cannot tell which member the decoder read.
    #[test]
    fn a_history_with_repeated_keys_keeps_each_calls_object() {
        let bodies = [
            (
                Format::Bedrock,
                r#"{"messages":[{"role":"assistant","content":[{"toolUse":null,"toolUse":{"toolUseId":"t","name":"f","input":{"b":1, "a":2}}}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"u","name":"f","input":{"c":3}}}]}]}"#,
            ),
            (
                Format::Anthropic,
                r#"{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"b":1, "a":2},"input":{"x":0}}]},{"role":"assistant","content":[{"type":"tool_use","id":"u","name":"f","input":{"c":3}}]}]}"#,
            ),
            (
                Format::Gemini,
                r#"{"contents":[{"role":"model","parts":[{"function_call":{"name":"f","args":{"x":0}},"functionCall":{"name":"f","args":{"b":1, "a":2}}}]},{"role":"model","parts":[{"functionCall":{"name":"f","args":{"c":3}}}]}]}"#,
            ),
        ];
        for (source, body) in bodies {
            let (_, args) = decoded_history(source, body);
            assert_eq!(args, [r#"{"a":2,"b":1}"#, r#"{"c":3}"#], "{source:?}");
        }
    }

    #[test]
    fn an_anthropic_stream_that_starts_a_call_with_its_whole_input_keeps_its_text() {
        let events = [
            (
                "message_start",
                r#"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":1,"output_tokens":0}}}"#.to_string(),
            ),
            (
                "content_block_start",
                format!(r#"{{"type":"content_block_start","index":0,"content_block":{{"type":"tool_use","id":"t","name":"f","input": {AS_WRITTEN} }}}}"#),
            ),
            ("content_block_stop", r#"{"type":"content_block_stop","index":0}"#.to_string()),
            ("message_stop", r#"{"type":"message_stop"}"#.to_string()),
        ];
        let mut bytes = Vec::new();
        for (name, data) in &events {
            bytes.extend_from_slice(format!("event: {name}\ndata: {data}\n\n").as_bytes());
        }
        let got = run(&|| stream_decoder(Format::Anthropic), &[&bytes]).unwrap();
        assert_eq!(arguments_of(&collect(&got)), [AS_WRITTEN]);
    }

    /// A history's layout for the tests of `RawArgs`: `m[i].c[j].input`.
    struct Hist;

    impl Layout for Hist {
        const SHAPE: Shape = Shape::Object(&[(
            "m",
            Shape::Array(&Shape::Object(&[(
                "c",
                Shape::Array(&Shape::Object(&[("input", Shape::Args)])),
            )])),
        )]);
    }

    /// `RawArgs::fill` of the calls whose objects are at `m[i].c[j].input` for each `(i, j)` of
    /// `at`, as a decoder notes them (the object parsed, the arguments left empty), with a call
    /// whose arguments were not an object (`[1]`, written by the decoder) after each.
    fn filled<L: Layout>(body: &str, at: &[(usize, usize)]) -> Vec<String> {
        let v: Value = sonic_rs::from_str(body).unwrap();
        let mut raw = RawArgs::<L>::default();
        let mut calls = Vec::new();
        for &(i, j) in at {
            let parsed = &v["m"][i]["c"][j]["input"];
            assert!(parsed.is_object(), "{i} {j}");
            raw.push(i, j, parsed);
            calls.push(String::new());
            calls.push("[1]".to_string());
        }
        raw.fill(body.as_bytes(), calls.iter_mut());
        assert!(calls.iter().skip(1).step_by(2).all(|c| c == "[1]"), "{calls:?}");
        calls.into_iter().step_by(2).collect()
    }

    #[test]
    fn raw_args_fill_every_noted_call_and_leave_the_others() {
        let body = format!(
            r#"{{"x":{{"m":[{{"c":[{{"input":{{"no":1}}}}]}}]}},"m":[{{"c":"text"}},{{"r":"a","c":[{{"t":"x","input":{AS_WRITTEN}}},{{"input":[1]}},{{"x":1}},{{"input": {{"b":1, "a":2}} ,"z":[{{"input":{{}}}}]}}]}},{{"c":[{{"input":{{"k":[1,{{"input":2}}]}}}}]}}]}}"#
        );
        let at = [(1, 0), (1, 3), (2, 0)];
        assert_eq!(
            filled::<Hist>(&body, &at),
            [AS_WRITTEN, r#"{"b":1, "a":2}"#, r#"{"k":[1,{"input":2}]}"#]
        );
        // Only the noted calls take a text, each its own.
        assert_eq!(filled::<Hist>(&body, &[(1, 3)]), [r#"{"b":1, "a":2}"#]);
        assert_eq!(filled::<Hist>(&body, &[(2, 0)]), [r#"{"k":[1,{"input":2}]}"#]);
        // Not in the body's order (a decoder whose noting went wrong): each call is its parsed
        // object written out, none takes another's text.
        assert_eq!(
            filled::<Hist>(&body, &[(2, 0), (1, 3)]),
            [r#"{"k":[1,{"input":2}]}"#, r#"{"a":2,"b":1}"#]
        );
    }

    #[test]
    fn raw_args_write_the_parsed_object_where_a_key_on_the_way_repeats() {
        for (body, parsed) in [
            (r#"{"m":[{"c":[{"input":{"b":1, "a":2}}]}],"m":[]}"#, r#"{"a":2,"b":1}"#),
            (r#"{"m":[{"c":[{"input":{"b":1, "a":2}}],"c":[]}]}"#, r#"{"a":2,"b":1}"#),
            (
                r#"{"m":[{"c":[{"input":{"b":1, "a":2},"input":{"c":3}}]}]}"#,
                r#"{"a":2,"b":1}"#,
            ),
        ] {
            assert_eq!(filled::<Hist>(body, &[(0, 0)]), [parsed], "{body}");
        }
        // Off the way, a repeated key is no matter.
        let body = r#"{"t":1,"t":2,"m":[{"r":1,"r":2,"c":[{"x":1,"x":2,"input":{"b":1, "a":2}}]}]}"#;
        assert_eq!(filled::<Hist>(body, &[(0, 0)]), [r#"{"b":1, "a":2}"#]);
    }

    #[test]
    fn raw_args_of_many_calls_fill_each_its_own() {
        let n = 25;
        let objects: Vec<String> = (0..n).map(|i| format!(r#"{{"z":{i}, "a":1e{i}}}"#)).collect();
        let messages: Vec<String> = objects
            .iter()
            .map(|o| format!(r#"{{"c":[{{"t":"text"}},{{"input":{o}}}]}},{{"c":[{{"r":"ok"}}]}}"#))
            .collect();
        let body = format!(r#"{{"m":[{}]}}"#, messages.join(","));
        let at: Vec<(usize, usize)> = (0..n).map(|i| (2 * i, 1)).collect();
        assert_eq!(filled::<Hist>(&body, &at), objects);
    }

    #[test]
    fn raw_args_read_snake_case_keys_where_the_layout_says_so() {
        struct Parts;
        impl Layout for Parts {
            const SHAPE: Shape = Shape::Object(&[(
                "contents",
                Shape::Array(&Shape::Object(&[(
                    "parts",
                    Shape::Array(&Shape::Object(&[(
                        "functionCall",
                        Shape::Object(&[("args", Shape::Args)]),
                    )])),
                )])),
            )]);
            const CAMEL: bool = true;
        }
        let fill = |body: &str, at: &[(usize, usize, &str)]| {
            let v: Value = sonic_rs::from_str(body).unwrap();
            let mut raw = RawArgs::<Parts>::default();
            for &(i, j, call) in at {
                raw.push(i, j, &v["contents"][i]["parts"][j][call]["args"]);
            }
            let mut calls = vec![String::new(); at.len()];
            raw.fill(body.as_bytes(), calls.iter_mut());
            calls
        };
        let body =
            r#"{"contents":[{"parts":[{"function_call":{"args":{"z":1, "a":2}}},{"functionCall":{"args":{"y":1}}}]}]}"#;
        assert_eq!(
            fill(body, &[(0, 0, "function_call"), (0, 1, "functionCall")]),
            [r#"{"z":1, "a":2}"#, r#"{"y":1}"#]
        );
        // Both spellings in one part: the parsed object written out.
        let body =
            r#"{"contents":[{"parts":[{"function_call":{"args":{"z":1}},"functionCall":{"args":{"y":1, "x":2}}}]}]}"#;
        assert_eq!(fill(body, &[(0, 0, "functionCall")]), [r#"{"x":2,"y":1}"#]);
    }

    /// A layout like an Anthropic answer's, for the tests of `decode`.
    struct Blocks;

    impl Layout for Blocks {
        const SHAPE: Shape = Shape::Object(&[("c", Shape::Array(&Shape::Object(&[("input", Shape::Args)])))]);
    }

    /// Gemini's reading of keys: `function_call` is `functionCall`.
    struct Camel;

    impl Layout for Camel {
        const SHAPE: Shape = Shape::Object(&[("functionCall", Shape::Object(&[("args", Shape::Args)]))]);
        const CAMEL: bool = true;
    }

    #[test]
    fn decode_keeps_each_arguments_object_as_written_and_parses_the_rest() {
        let body = format!(
            r#"{{"id":"x","c":[{{"type":"t","input": {AS_WRITTEN} ,"n":[1,{{"input":{{"k":1e5}}}}]}},{{"input":[1.0]}},{{"input":null}},"s"],"u":{{"input":{{"a":1}}}}}}"#
        );
        let v = decode::<Blocks>(body.as_bytes()).unwrap();
        let plain: Value = sonic_rs::from_str(&body).unwrap();
        assert_eq!(v.get("id").and_then(Node::as_str), Some("x"));
        // Off the way to the arguments: parsed as a plain parse does.
        assert_eq!(v.get("u").and_then(Node::value), plain.get("u"));
        let blocks = v.get("c").and_then(Node::items).unwrap();
        assert_eq!(blocks.len(), 4);
        let Some(Node::Args(raw)) = blocks[0].get("input") else {
            panic!("{:?}", blocks[0]);
        };
        assert_eq!(raw.as_raw_str().trim_ascii(), AS_WRITTEN);
        assert_eq!(
            blocks[0].get("input").unwrap().arguments(|_| unreachable!()),
            AS_WRITTEN
        );
        assert_eq!(blocks[0].get("n").and_then(Node::value), plain["c"][0].get("n"));
        // Not an object: a parsed value, written by the decoder's own rule.
        assert_eq!(
            blocks[1]
                .get("input")
                .unwrap()
                .arguments(|v| sonic_rs::to_string(v).unwrap()),
            "[1.0]"
        );
        assert!(blocks[2].get("input").unwrap().is_null());
        assert!(blocks[2].field("input").is_none());
        assert_eq!(blocks[3].as_str(), Some("s"));
        assert_eq!(v.to_value(), plain);
    }

    #[test]
    fn decode_fails_where_a_plain_parse_fails() {
        let bad: &[&[u8]] = &[
            b"",
            b"{",
            b"{\"c\":[{\"input\":{\"a\":tru}}]}",
            b"{\"c\":[{\"input\":{\"a\":1,}}]}",
            b"{\"c\":[{\"input\":{\"a\":\"\x01\"}}]}",
            b"{\"c\":[{\"input\":{\"a\":1}}]} x",
            b"{\"c\":[{\"input\":{\"a\":1}]}",
            b"{\"c\":[{\"input\":{\"a\":\"\xff\"}}]}",
            b"{\"c\":[{\"x\":\"\xff\"}]}",
            b"{\"c\":[{\"input\":{\"a\":01}}]}",
            b"{\"c\":{\"a\":[}}",
            b"[{\"input\":{}},]",
        ];
        for body in bad {
            assert!(sonic_rs::from_slice::<Value>(body).is_err(), "{body:?}");
            assert!(decode::<Blocks>(body).is_err(), "{body:?}");
        }
        // Any other type where the shape wants an object or array: a plain value.
        for body in ["[1,{\"a\":2}]", "\"s\"", "null", "{\"c\":{\"input\":{\"a\":1}}}"] {
            let plain: Value = sonic_rs::from_str(body).unwrap();
            assert_eq!(decode::<Blocks>(body.as_bytes()).unwrap().to_value(), plain, "{body}");
        }
    }

    #[test]
    fn decode_finds_the_first_of_a_repeated_key_as_a_parsed_object_does() {
        let body = r#"{"c":[{"input":{"b":1},"input":{"a":2},"t":1,"t":2}],"c":[]}"#;
        let v = decode::<Blocks>(body.as_bytes()).unwrap();
        let plain: Value = sonic_rs::from_str(body).unwrap();
        let b = &v.get("c").and_then(Node::items).unwrap()[0];
        assert_eq!(b.get("input").unwrap().arguments(|_| unreachable!()), r#"{"b":1}"#);
        assert_eq!(b.get("t").and_then(Node::value), plain["c"][0].get("t"));
        assert_eq!(b.members().unwrap().len(), 4);
    }

    #[test]
    fn decode_reads_snake_case_keys_where_the_layout_says_so() {
        let body = r#"{"function_call":{"args":{"z":1, "a":2}}}"#;
        let v = decode::<Camel>(body.as_bytes()).unwrap();
        let args = v.get("function_call").and_then(|c| c.get("args")).unwrap();
        assert_eq!(args.arguments(|_| unreachable!()), r#"{"z":1, "a":2}"#);
        // Without the layout's say-so, the key is another member, parsed.
        let v = decode::<Blocks>(br#"{"function_call":{"args":{"z":1}}}"#).unwrap();
        assert!(v.get("function_call").and_then(Node::value).is_some());
    }

    #[test]
    fn raw_object_at_gives_the_text_of_an_object_only() {
        let body = format!(r#"{{"c":[{{"input": {AS_WRITTEN} }},{{"input":[1]}},{{"input":"{{}}"}}]}}"#);
        let at = |i: usize| raw_object_at(body.as_bytes(), sonic_rs::pointer!["c", i, "input"]);
        assert_eq!(at(0).as_deref(), Some(AS_WRITTEN));
        assert_eq!(at(1), None);
        assert_eq!(at(2), None);
        assert_eq!(at(3), None);
    }
}
