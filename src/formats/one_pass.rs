//! What the request decoders that read a client's body in one pass share (`openai::one_pass`,
//! `openai::responses_one_pass`, `anthropic::one_pass`, `gemini::one_pass`, `bedrock::one_pass`;
//! Cohere's is `cohere::request::OnePass`). Each reads a body only where it gives exactly what its
//! format's reading by `Value` gives, and refuses the rest, which that reading then takes (it
//! names the field of a refusal).

use crate::canonical::{ConvertError, Json, Tool, Written};
use crate::wire::json::KeySeed;
use serde::de::{
    Deserialize, DeserializeOwned, DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use sonic_rs::{JsonValueTrait, LazyValue};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// `body` read by `seed` to its end, or `None` where the pass refused it.
pub(crate) fn read<'de, S: DeserializeSeed<'de>>(body: &'de [u8], seed: S) -> Option<S::Value> {
    // A `LazyValue` (a call's arguments as written) over bytes that are not UTF-8 would trip
    // sonic-rs's debug assertion before its own check: checked whole first (`json::utf8`), then
    // read as the text it is.
    let text = crate::wire::json::utf8(body).ok()?;
    let mut de = sonic_rs::Deserializer::from_str(text);
    let value = seed.deserialize(&mut de).ok()?;
    // Nothing but white space after the value, as `from_slice` (the reference's) checks.
    de.end().ok()?;
    Some(value)
}

/// Stops a pass; the reason is not kept (the reading by `Value` gives it).
pub(crate) fn refused<E: Error>() -> E {
    E::custom("left to the reading by Value")
}

/// Notes member `bit` of an object read (`seen`: those read before). The reference reads the
/// first of a repeated member (and its walk for the arguments gives up on one on the way to
/// them): a member given twice is refused, and left to it.
pub(crate) fn first_time<E: Error>(seen: &mut u16, bit: u16) -> Result<(), E> {
    if *seen & bit != 0 {
        return Err(refused());
    }
    *seen |= bit;
    Ok(())
}

/// The next member of an object that the pass models: its index in `names` (`matches` compares a
/// key with a name: `==`, or Gemini's either spelling). The others are skipped; one given twice
/// is refused (`first_time`), `seen` holding those read before. The caller reads its value.
/// Generic over `matches` (not a `fn` pointer) and inlined, so each visitor's comparisons compile
/// to its own code: called through a pointer they cost Converse's and Gemini's histories 7%.
#[inline(always)]
pub(crate) fn next_member<'de, A: MapAccess<'de>, M: Fn(&str, &str) -> bool>(
    map: &mut A,
    names: &[&str],
    matches: M,
    seen: &mut u16,
) -> Result<Option<usize>, A::Error> {
    while let Some(key) = map.next_key_seed(KeySeed)? {
        match names.iter().position(|name| matches(&key, name)) {
            Some(n) => {
                first_time(seen, 1 << n)?;
                return Ok(Some(n));
            }
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(None)
}

/// A call's arguments as the pass keeps them: an object as written, as `tool_args::RawArgs`
/// keeps it for the reference; absent or `null`, `{}`. `None` for any other value, which the
/// reference writes out again.
pub(crate) fn arguments(raw: Option<&LazyValue<'_>>) -> Option<String> {
    match raw.map(|r| r.as_raw_str().trim_ascii()) {
        None | Some("null") => Some("{}".to_string()),
        Some(object) if object.starts_with('{') => Some(object.to_string()),
        Some(_) => None,
    }
}

/// A body's top level as a one-pass read takes it: the member that holds the history
/// (`HISTORY`) read by the format's own visitors, every other member as a `Value` handed to
/// `field`, the reference's own code (they are small, and rare beside a long history).
pub(crate) trait TopLevel: Sized {
    const HISTORY: &'static str;
    /// Members the reference takes only as a scalar (it refuses an array or an object there):
    /// each read as the `Value` it is without starting sonic-rs's tree parser, which costs some
    /// 500 instructions a value.
    const SCALARS: &'static [&'static str];
    /// Members that hold a schema kept as written (a response format), each with the path to
    /// the schema inside it: the schema's text is taken as the member is read (`SchemaAt`), and
    /// `field` gets it beside the value (`Written::At`).
    const WRITTEN: &'static [(&'static str, &'static [&'static str])];
    /// Whether `field` looks at a `WRITTEN` schema only through `Schema::as_written` (and checks
    /// at most that it is an object): then an object there is never parsed into a tree, an empty
    /// object standing in for it.
    const SCHEMA_UNREAD: bool;
    type History: DeserializeOwned;

    /// Member `key` (not the history) into the request, as the reference takes it (`written`:
    /// where its text is).
    fn field(&mut self, key: &str, value: &Json, written: Written<'_>) -> Result<(), ConvertError>;

    /// One entry of `tools`, read by the format's own visitor into a `Tool` whose schema is kept
    /// as the text it is, never parsed into a tree (an agent's tools as `Value`s cost ten times
    /// its short chat).
    type ToolIn: DeserializeOwned + Into<Tool>;

    /// The tools of one `tools` member (`null`: none said), as the reference takes a repeated
    /// one.
    fn take_tools(&mut self, tools: Vec<Tool>);
}

/// `body`'s top level read into `top`, with its history if it has one; `None` where the pass
/// refused the body.
pub(crate) fn read_top<T: TopLevel>(body: &[u8], top: T) -> Option<(T, Option<T::History>)> {
    read(body, TopSeed(top))
}

struct TopSeed<T>(T);

impl<'de, T: TopLevel> DeserializeSeed<'de> for TopSeed<T> {
    type Value = (T, Option<T::History>);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: TopLevel> Visitor<'de> for TopSeed<T> {
    type Value = (T, Option<T::History>);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut top = self.0;
        let mut history = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key == T::HISTORY {
                // The references read the last of a repeated history (and Anthropic's writes
                // its calls' arguments out again: `RawArgs` cannot walk to them): left to them.
                if history.is_some() {
                    return Err(refused());
                }
                history = Some(map.next_value::<T::History>()?);
            } else if key == "tools" {
                if let Some(tools) = map.next_value::<Option<Vec<T::ToolIn>>>()? {
                    // In place where `ToolIn` is a `Tool` in a newtype.
                    top.take_tools(tools.into_iter().map(Into::into).collect());
                }
            } else if let Some(&(_, path)) = T::WRITTEN.iter().find(|(name, _)| *name == key) {
                let (value, schema) = schema_at(&mut map, path, T::SCHEMA_UNREAD)?;
                let written = match &schema {
                    Some(text) => Written::At {
                        key: &key,
                        path,
                        text: text.as_raw_str(),
                    },
                    None => Written::Unknown,
                };
                top.field(&key, &value, written).map_err(|_| refused())?;
            } else {
                // Straight from the deserializer, not as a `Tree`: its tree parser's buffer is
                // sized for the rest of the body, but left untouched past the value (not
                // resident), and cheaper for these few members.
                let value = match T::SCALARS.contains(&&*key) {
                    true => map.next_value::<ScalarValue>()?.0,
                    false => map.next_value::<Json>()?,
                };
                top.field(&key, &value, Written::Unknown).map_err(|_| refused())?;
            }
        }
        Ok((top, history))
    }
}

/// A member's text with the value at `path` inside it (a schema kept as written) taken on the
/// way: one walk over the schema, where a tree of the member and then a lookup of the text in it
/// walked it three times (a quarter of a structured-output request's decode). The member is
/// written to `out` as it is read (each value beside the way as the raw text it is), and parsed
/// from there: the same tree as the reference's, its order and repeats too. With `unread`, an
/// object at `path` is written as `{}`: never parsed. The schema's text is `None` where `path`
/// is not there. A member, or a value on the way, that is not an object or `null`, and a key on
/// the way given twice, are refused (the reference reads them).
struct SchemaAt<'p, 'o> {
    path: &'p [&'p str],
    unread: bool,
    out: &'o mut Vec<u8>,
}

/// The next member's value read by `SchemaAt`, as its tree and its schema's text.
fn schema_at<'de, A: MapAccess<'de>>(
    map: &mut A,
    path: &[&str],
    unread: bool,
) -> Result<(Json, Option<LazyValue<'de>>), A::Error> {
    let mut text = Vec::with_capacity(128);
    let schema = map.next_value_seed(SchemaAt {
        path,
        unread,
        out: &mut text,
    })?;
    // SAFETY: `text` is UTF-8: raw pieces of a body read as text (`read`), and keys written
    // from strings.
    let value = unsafe { sonic_rs::from_slice_unchecked(&text) }.map_err(A::Error::custom)?;
    Ok((value, schema))
}

impl<'de> DeserializeSeed<'de> for SchemaAt<'_, '_> {
    type Value = Option<LazyValue<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SchemaAt<'_, '_> {
    type Value = Option<LazyValue<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or null")
    }

    fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
        self.out.extend_from_slice(b"null");
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (&name, rest) = self.path.split_first().ok_or_else(refused)?;
        let out = self.out;
        let (mut schema, mut on_the_way, mut first) = (None, false, true);
        out.push(b'{');
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            match &key {
                // Borrowed: written without escapes in the body, so needing none.
                Cow::Borrowed(k) => crate::formats::write::key(out, k),
                Cow::Owned(k) => {
                    crate::formats::write::string(out, k);
                    out.push(b':');
                }
            }
            if key != name {
                out.extend_from_slice(map.next_value::<LazyValue<'de>>()?.as_raw_str().as_bytes());
                continue;
            }
            if std::mem::replace(&mut on_the_way, true) {
                return Err(refused());
            }
            schema = match rest.is_empty() {
                true => {
                    let text = map.next_value::<LazyValue<'de>>()?;
                    let raw = text.as_raw_str();
                    out.extend_from_slice(match self.unread && raw.starts_with('{') {
                        true => b"{}",
                        false => raw.as_bytes(),
                    });
                    Some(text)
                }
                false => map.next_value_seed(SchemaAt {
                    path: rest,
                    unread: self.unread,
                    out: &mut *out,
                })?,
            };
        }
        out.push(b'}');
        Ok(schema)
    }
}

/// A member's value as a `Value` tree parsed from its own text. Read as `Json` through sonic-rs's
/// serde deserializer instead, each value starts a tree parser whose node buffer is sized for the
/// rest of the body (a node per two remaining bytes: 64 MB for a member ahead of a 17 MB
/// history). That buffer is left untouched past the value, so it is not resident, but it is an
/// allocation that large (an OS mapping) per value: for values that a history may hold many of.
/// A few top-level members are cheaper read directly.
pub(crate) struct Tree(pub Json);

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tree, D::Error> {
        let raw = LazyValue::deserialize(d)?;
        sonic_rs::from_str(raw.as_raw_str()).map(Tree).map_err(D::Error::custom)
    }
}

/// An array read as serde reads a `Vec`, one element held in room for one
/// (`canonical::push_sparing`): a tool result's content is nearly always one item.
pub(crate) struct Sparing<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sparing<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Sparing<T>, D::Error> {
        struct Items<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Items<T> {
            type Value = Sparing<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Sparing<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    crate::canonical::push_sparing(&mut items, item);
                }
                Ok(Sparing(items))
            }
        }
        d.deserialize_seq(Items(PhantomData))
    }
}

/// A member the reference reads only if it is a string (Gemini's `role`, OpenAI's
/// `tool_call_id`), `true` (Gemini's `thought`) or not `null` (OpenAI's legacy `function_call`):
/// any other scalar is as good as absent. An array or an object is left to the reference (as
/// rare as it is wrong), so no `Value` is built for these small members.
pub(crate) enum Scalar {
    Str(String),
    Bool(bool),
    Null,
    Other,
}

impl Scalar {
    /// The scalar `v` is, for a reading by `Value` that shares a rule with its one pass.
    pub(crate) fn of(v: &Json) -> Scalar {
        match (v.as_str(), v.as_bool()) {
            (Some(s), _) => Scalar::Str(s.to_string()),
            (_, Some(b)) => Scalar::Bool(b),
            _ if v.is_null() => Scalar::Null,
            _ => Scalar::Other,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn into_string(self) -> Option<String> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar")
    }

    fn visit_str<E: Error>(self, s: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(s.to_string()))
    }

    fn visit_string<E: Error>(self, s: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(s))
    }

    fn visit_bool<E: Error>(self, b: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(b))
    }

    fn visit_i64<E: Error>(self, _: i64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_u64<E: Error>(self, _: u64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_f64<E: Error>(self, _: f64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_unit<E: Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
}

/// A member whose value the reference compares with a few words (an item's `type`, a role):
/// the index of the word in the seed's list, or `Other` for any other string or scalar, read
/// without keeping the string. An array or an object is refused.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Word {
    Listed(usize),
    Other,
}

/// Reads a `Word` of `self.0`.
pub(crate) struct WordSeed(pub &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for WordSeed {
    type Value = Word;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Word, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for WordSeed {
    type Value = Word;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar")
    }

    fn visit_str<E: Error>(self, s: &str) -> Result<Word, E> {
        Ok(self.0.iter().position(|w| *w == s).map_or(Word::Other, Word::Listed))
    }

    fn visit_bool<E: Error>(self, _: bool) -> Result<Word, E> {
        Ok(Word::Other)
    }

    fn visit_i64<E: Error>(self, _: i64) -> Result<Word, E> {
        Ok(Word::Other)
    }

    fn visit_u64<E: Error>(self, _: u64) -> Result<Word, E> {
        Ok(Word::Other)
    }

    fn visit_f64<E: Error>(self, _: f64) -> Result<Word, E> {
        Ok(Word::Other)
    }

    fn visit_unit<E: Error>(self) -> Result<Word, E> {
        Ok(Word::Other)
    }
}

/// A scalar as its `Value`; an array or an object is refused.
struct ScalarValue(Json);

impl<'de> Deserialize<'de> for ScalarValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ScalarValue, D::Error> {
        d.deserialize_any(ScalarValueVisitor)
    }
}

struct ScalarValueVisitor;

impl<'de> Visitor<'de> for ScalarValueVisitor {
    type Value = ScalarValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar")
    }

    fn visit_str<E: Error>(self, s: &str) -> Result<ScalarValue, E> {
        Ok(ScalarValue(Json::from(s)))
    }

    fn visit_bool<E: Error>(self, b: bool) -> Result<ScalarValue, E> {
        Ok(ScalarValue(Json::from(b)))
    }

    fn visit_i64<E: Error>(self, n: i64) -> Result<ScalarValue, E> {
        Ok(ScalarValue(Json::from(n)))
    }

    fn visit_u64<E: Error>(self, n: u64) -> Result<ScalarValue, E> {
        Ok(ScalarValue(Json::from(n)))
    }

    fn visit_f64<E: Error>(self, n: f64) -> Result<ScalarValue, E> {
        Json::new_f64(n).map(ScalarValue).ok_or_else(refused)
    }

    fn visit_unit<E: Error>(self) -> Result<ScalarValue, E> {
        Ok(ScalarValue(Json::default()))
    }
}
