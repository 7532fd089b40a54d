//! A client's Responses API body read in one pass, straight into the canonical request: no
//! `Value` tree of the whole body next to its canonical form (a coding agent sends its whole
//! loop, every call and result, with each request), each schema kept as the text it is.
//!
//! As the Chat Completions pass (`one_pass`), it reads a body only where it gives exactly what
//! the reading by `Value` (`responses::decode_by_value`, the reference) gives, and refuses the
//! rest, which the reference then reads (it names the refused field): a value of another kind
//! where the reference needs one, a member it models given twice (the reference reads the first
//! of an item's or a part's, the last of the top level's), anything the reference refuses. The
//! top level other than `input` and `tools` is read by the reference's own code
//! (`responses::Top`); the items of `input` fold into the same `responses::Input`, and a content
//! part's members into the same `PartIn`. The `translate` fuzz target and the tests below hold
//! the two readings equal.

use super::responses::{call_arguments, function_tool, output_of_parts, reasoning_parts, Echo, Input, PartIn, Top};
use crate::canonical::{ChatRequest, ConvertError, Extra, Json, JsonPath, Part, Role, Schema, Tool, ToolResultContent};
use crate::formats::one_pass::{self, refused, Scalar, TopLevel, Tree, Word, WordSeed};
use crate::wire::json::KeySeed;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use sonic_rs::JsonValueTrait;
use std::borrow::Cow;
use std::fmt;

/// The request and (with `echo`) what its answer repeats, or `None` where the reading by
/// `Value` must decide.
pub(crate) fn read(body: &[u8], echo: bool) -> Option<(ChatRequest, Option<Echo>)> {
    let (top, input) = one_pass::read_top(body, Top::new(echo))?;
    let (mut req, sent) = top.settle().ok()?;
    input?.0.finish(&mut req);
    super::request::check_allowed_declared(&req, "tool_choice.tools").ok()?;
    // Every value kept is a tree of its own (never the body's): nothing to detach.
    let echo = sent.map(|sent| Echo::with(&req, sent));
    Some((req, echo))
}

impl TopLevel for Top {
    const HISTORY: &'static str = "input";
    const SCALARS: &'static [&'static str] = &[
        "model",
        "instructions",
        "max_output_tokens",
        "temperature",
        "top_p",
        "top_logprobs",
        "stream",
        "parallel_tool_calls",
        "user",
        "safety_identifier",
    ];
    const WRITTEN: &'static [(&'static str, &'static [&'static str])] = &[("text", &["format", "schema"])];
    // The answer repeats `text` whole (`Sent`).
    const SCHEMA_UNREAD: bool = false;
    type ToolIn = ToolIn;
    type History = InputIn;

    fn field(&mut self, key: &str, value: &Json, written: crate::canonical::Written<'_>) -> Result<(), ConvertError> {
        Top::field(self, key, value, written)
    }

    fn take_tools(&mut self, tools: Vec<Tool>) {
        self.set_tools(tools)
    }
}

/// One of `tools`, as `responses::decode_tools` reads it, flat: `type` (`function`; a built-in
/// tool is refused), `name` (required), `description`, `parameters` (kept as the text they are)
/// and `strict`, each `null` as absent; anything else kept for OpenAI targets, each as its own
/// tree.
pub(crate) struct ToolIn(Tool);

impl From<ToolIn> for Tool {
    fn from(ToolIn(t): ToolIn) -> Tool {
        t
    }
}

impl<'de> Deserialize<'de> for ToolIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ToolIn, D::Error> {
        d.deserialize_map(ToolInVisitor)
    }
}

struct ToolInVisitor;

impl<'de> Visitor<'de> for ToolInVisitor {
    type Value = ToolIn;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a function tool")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ToolIn, A::Error> {
        const NAMES: [&str; 5] = ["type", "name", "description", "parameters", "strict"];
        let mut tool = function_tool();
        let (mut function, mut named, mut seen) = (false, false, 0u16);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let Some(n) = NAMES.iter().position(|name| *name == key) else {
                let Tree(value) = map.next_value()?;
                if !value.is_null() {
                    tool.extra.push(&*key, value);
                }
                continue;
            };
            one_pass::first_time(&mut seen, 1 << n)?;
            match n {
                0 => function = map.next_value::<Scalar>()?.as_str() == Some("function"),
                1 => {
                    if let Some(name) = map.next_value::<Option<String>>()? {
                        (tool.name, named) = (name, true);
                    }
                }
                2 => tool.description = map.next_value()?,
                3 => {
                    if let Some(schema) = map.next_value::<Option<Schema>>()? {
                        tool.parameters = schema;
                    }
                }
                _ => tool.strict = map.next_value()?,
            }
        }
        match function && named {
            true => Ok(ToolIn(tool)),
            false => Err(refused()),
        }
    }
}

/// `input`: a string (one user message), or items, each folded in as soon as it is read.
pub(crate) struct InputIn(Input);

impl<'de> Deserialize<'de> for InputIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<InputIn, D::Error> {
        d.deserialize_any(InputVisitor)
    }
}

struct InputVisitor;

impl<'de> Visitor<'de> for InputVisitor {
    type Value = InputIn;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an array of items")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<InputIn, E> {
        Ok(InputIn(Input::text(s.to_string())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<InputIn, E> {
        Ok(InputIn(Input::text(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<InputIn, A::Error> {
        let mut input = Input::default();
        while seq.next_element_seed(ItemSeed(&mut input))?.is_some() {}
        Ok(InputIn(input))
    }
}

/// The members of an item the reference reads, whatever its `type` (read before it may be
/// known); the others (`id`, `status`, ...) are skipped, as it skips them.
const ITEM_MEMBERS: [&str; 9] = [
    "type",
    "role",
    "content",
    "call_id",
    "name",
    "arguments",
    "output",
    "summary",
    "encrypted_content",
];

/// The item types the reference reads (any other is refused, by name), in `visit_map`'s order.
const ITEM_TYPES: [&str; 4] = ["message", "function_call", "function_call_output", "reasoning"];

/// A message's roles, in `visit_map`'s order.
const ROLES: [&str; 4] = ["system", "developer", "user", "assistant"];

/// One item of `input`, folded into the input read so far.
struct ItemSeed<'a>(&'a mut Input);

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an input item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut kind, mut role, mut call_id, mut name, mut arguments, mut encrypted) =
            (None, None, None, None, None, None);
        let (mut content, mut output, mut summary) = (None, None, None);
        let mut seen = 0u16;
        while let Some(n) = one_pass::next_member(&mut map, &ITEM_MEMBERS, |k, n| k == n, &mut seen)? {
            match n {
                0 => kind = Some(map.next_value_seed(WordSeed(&ITEM_TYPES))?),
                1 => role = Some(map.next_value_seed(WordSeed(&ROLES))?),
                2 => content = Some(map.next_value::<Content>()?.0),
                3 => call_id = Some(map.next_value::<Scalar>()?),
                4 => name = Some(map.next_value::<Scalar>()?),
                5 => arguments = Some(map.next_value::<Scalar>()?),
                6 => output = Some(map.next_value::<Output>()?.0),
                7 => summary = Some(map.next_value::<Summary>()?.0),
                _ => encrypted = Some(map.next_value::<Scalar>()?),
            }
        }
        let path = JsonPath::ROOT;
        let input = self.0;
        let string = |v: Option<Scalar>| v.and_then(Scalar::into_string).ok_or_else(refused);
        // Absent, a message; any type but those listed is refused by the reference.
        match kind.unwrap_or(Word::Listed(0)) {
            Word::Listed(0) => {
                let parts = content.flatten().ok_or_else(refused)?;
                match role {
                    Some(Word::Listed(0 | 1)) => input.system(parts, &path).map_err(|_| refused())?,
                    Some(Word::Listed(2)) => input.join(Role::User, parts, false),
                    Some(Word::Listed(3)) => input.join(Role::Assistant, parts, false),
                    _ => return Err(refused()),
                }
            }
            Word::Listed(1) => {
                let call = Part::ToolCall {
                    id: string(call_id)?,
                    name: string(name)?,
                    arguments: call_arguments(arguments).ok_or_else(refused)?,
                    signature: None,
                    extra: Extra::default(),
                };
                input.join(Role::Assistant, vec![call], false);
            }
            Word::Listed(2) => {
                let result = Part::ToolResult {
                    id: string(call_id)?,
                    name: None,
                    content: output.ok_or_else(refused)?,
                    is_error: false,
                    extra: Extra::default(),
                };
                input.join(Role::User, vec![result], true);
            }
            Word::Listed(3) => {
                let encrypted = encrypted.as_ref().and_then(Scalar::as_str);
                input.join(
                    Role::Assistant,
                    reasoning_parts(summary.unwrap_or_default(), encrypted),
                    false,
                );
            }
            _ => return Err(refused()),
        }
        Ok(())
    }
}

/// A message's `content`: a string (none if empty), or parts; `None` where the reference would
/// refuse it as a message's (an item of another type may carry anything there: a reasoning
/// item's `content: null`, ...).
struct Content(Option<Vec<Part>>);

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Content, D::Error> {
        d.deserialize_any(ContentVisitor)
    }
}

struct ContentVisitor;

impl<'de> Visitor<'de> for ContentVisitor {
    type Value = Content;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an array of parts")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Content, E> {
        self.visit_string(s.to_string())
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Content, E> {
        Ok(Content(Some(if s.is_empty() { vec![] } else { vec![Part::text(s)] })))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Content, A::Error> {
        let mut parts = Some(Vec::new());
        while let Some(PartRead(part)) = seq.next_element()? {
            match (&mut parts, part) {
                (Some(parts), Some(part)) => crate::canonical::push_sparing(parts, part),
                _ => parts = None,
            }
        }
        Ok(Content(parts))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Content, E> {
        Ok(Content(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Content, E> {
        Ok(Content(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Content, E> {
        Ok(Content(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Content, E> {
        Ok(Content(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Content, E> {
        Ok(Content(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Content, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Content(None))
    }
}

/// A function result's `output`: a string (even empty), or parts.
struct Output(Vec<ToolResultContent>);

impl<'de> Deserialize<'de> for Output {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Output, D::Error> {
        d.deserialize_any(OutputVisitor)
    }
}

struct OutputVisitor;

impl<'de> Visitor<'de> for OutputVisitor {
    type Value = Output;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an array of parts")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Output, E> {
        self.visit_string(s.to_string())
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Output, E> {
        Ok(Output(vec![ToolResultContent::Text(s)]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Output, A::Error> {
        let Content(parts) = ContentVisitor.visit_seq(seq)?;
        parts
            .and_then(|parts| output_of_parts(parts, &JsonPath::ROOT).ok())
            .map(Output)
            .ok_or_else(refused)
    }
}

/// The content part types `PartIn` reads (any other is refused).
const PART_TYPES: [&str; 5] = ["input_text", "output_text", "refusal", "input_image", "input_file"];

/// A content part, read into the `PartIn` the reference fills and made a part as it makes one
/// (`None`: the reference refuses it).
struct PartRead(Option<Part>);

impl<'de> Deserialize<'de> for PartRead {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PartRead, D::Error> {
        d.deserialize_map(PartVisitor)
    }
}

struct PartVisitor;

impl<'de> Visitor<'de> for PartVisitor {
    type Value = PartRead;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a content part")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PartRead, A::Error> {
        let mut part = PartIn::default();
        let mut seen = 0u16;
        let owned = |s: Scalar| s.into_string().map(Cow::Owned);
        while let Some(n) = one_pass::next_member(&mut map, &PartIn::MEMBERS, |k, n| k == n, &mut seen)? {
            match n {
                // The listed type as itself; any other (refused) as no type.
                0 => {
                    part.kind = match map.next_value_seed(WordSeed(&PART_TYPES))? {
                        Word::Listed(n) => Some(Cow::Borrowed(PART_TYPES[n])),
                        Word::Other => None,
                    }
                }
                1 => part.text = owned(map.next_value()?),
                2 => part.refusal = owned(map.next_value()?),
                3 => part.image_url = owned(map.next_value()?),
                4 => part.detail = Some(map.next_value::<Tree>()?.0).filter(|d| !d.is_null()),
                5 => part.file_id = !matches!(map.next_value()?, Scalar::Null),
                6 => part.file_url = !matches!(map.next_value()?, Scalar::Null),
                7 => part.file_data = owned(map.next_value()?),
                _ => part.filename = owned(map.next_value()?),
            }
        }
        Ok(PartRead(part.into_part(&JsonPath::ROOT).ok()))
    }
}

/// A reasoning item's `summary`: the texts of its parts, joined; anything but an array is none
/// (as the reference reads it).
struct Summary(String);

impl<'de> Deserialize<'de> for Summary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Summary, D::Error> {
        d.deserialize_any(SummaryVisitor)
    }
}

struct SummaryVisitor;

impl<'de> Visitor<'de> for SummaryVisitor {
    type Value = Summary;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a summary")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Summary, A::Error> {
        let mut text = String::new();
        while seq.next_element_seed(SummaryText(&mut text))?.is_some() {}
        Ok(Summary(text))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Summary, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Summary(String::new()))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Summary, E> {
        Ok(Summary(String::new()))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Summary, E> {
        Ok(Summary(String::new()))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Summary, E> {
        Ok(Summary(String::new()))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Summary, E> {
        Ok(Summary(String::new()))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Summary, E> {
        Ok(Summary(String::new()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Summary, E> {
        Ok(Summary(String::new()))
    }
}

/// One part of a summary: its `text` (a string, required) added to the summary's.
struct SummaryText<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for SummaryText<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SummaryText<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a summary part")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut text, mut seen) = (None, 0u16);
        while one_pass::next_member(&mut map, &["text"], |k, n| k == n, &mut seen)?.is_some() {
            text = map.next_value::<Scalar>()?.into_string();
        }
        self.0.push_str(&text.ok_or_else(refused)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::read;
    use crate::canonical::ChatRequest;
    use crate::formats::openai::responses::decode_by_value;

    /// Reads `body` both ways: the one pass takes it (or not, as `taken` says) and, where it
    /// does, gives what the reference gives, the echo too.
    fn check(body: &str, taken: bool) {
        let fast = read(body.as_bytes(), true);
        assert_eq!(fast.is_some(), taken, "taken by the one pass: {body}");
        if let Some((fast, fast_echo)) = fast {
            let (reference, echo) = decode_by_value(body.as_bytes(), true).expect(body);
            assert!(fast == reference, "{body}\none pass: {fast:?}\nby Value: {reference:?}");
            let (fast_echo, echo) = (fast_echo.unwrap(), echo.unwrap());
            assert!(fast_echo.agrees_with(&echo), "{body}\n{fast_echo:?}\n{echo:?}");
            // Without an echo asked for, the same request.
            let (alone, none) = read(body.as_bytes(), false).unwrap();
            assert!(alone == fast && none.is_none(), "{body}");
        }
    }

    /// Left to the reference, which decodes it (`Ok`) or refuses naming `field`.
    fn left(body: &str, field: Option<&str>) {
        check(body, false);
        match (decode_by_value(body.as_bytes(), false), field) {
            (Ok(_), None) => {}
            (Err(e), Some(field)) => assert_eq!(e.field, field, "{body}: {e:?}"),
            (got, _) => panic!("{body}: {got:?}"),
        }
    }

    #[test]
    fn every_kind_of_item_and_part_reads_as_the_reference() {
        let all = r#"{"model":"m","instructions":"Be brief.","max_output_tokens":50,"temperature":0.2,"top_p":0.9,"user":"u1",
            "store":false,"truncation":"auto","metadata":{"k":"v"},"service_tier":"flex","stream":true,
            "stream_options":{"include_obfuscation":false},"top_logprobs":2,"include":["message.output_text.logprobs"],
            "reasoning":{"effort":"low","summary":"auto"},"parallel_tool_calls":false,"safety_identifier":"s",
            "tool_choice":{"type":"allowed_tools","mode":"auto","tools":[{"type":"function","name":"get_weather"}]},
            "tools":[{"type":"function","name":"get_weather","description":"d","strict":true,"x-new":{"k":[1]},
              "parameters":{"type":"object","properties":{"b":{"type":"string"},"a":{"type":"number"}}}},
              {"type":"function","name":"bare","description":null,"parameters":null,"strict":null,"y":null}],
            "text":{"format":{"type":"json_schema","name":"out","schema":{"type":"object","properties":{"z":{},"a":{}}},"strict":true},"verbosity":"low"},
            "input":[
              {"role":"developer","content":"Use metric units."},
              {"role":"system","content":[{"type":"input_text","text":"And SI."}]},
              {"type":"message","role":"user","id":"msg_0","status":"completed","content":[
                {"type":"input_text","text":"Weather \u00e9?\n"},
                {"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo=","detail":"low","file_id":null},
                {"type":"input_image","image_url":"https://example.com/a.png"},
                {"type":"input_file","file_data":"data:application/pdf;base64,JVBE","filename":"a.pdf","file_url":null},
                {"type":"input_file","file_data":"data:application/pdf;base64,JVBE","filename":7}]},
              {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Need "},{"text":"the tool."}],"encrypted_content":"slcCsig==","content":null},
              {"type":"reasoning","id":"rs_2","summary":[],"encrypted_content":"slcCopaque","content":[{"type":"reasoning_text","text":"raw"}]},
              {"type":"reasoning","summary":{"odd":1},"encrypted_content":""},
              {"type":"reasoning","summary":"odd","encrypted_content":5},
              {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Checking.","annotations":[],"logprobs":[]},{"type":"refusal","refusal":"no"}]},
              {"type":"message","role":"assistant","content":""},
              {"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}","status":"completed"},
              {"type":"function_call","call_id":"call_2","name":"get_time","arguments":null},
              {"type":"function_call","call_id":"call_3","name":"get_time","content":5},
              {"type":"function_call_output","call_id":"call_1","output":"sunny"},
              {"type":"function_call_output","call_id":"call_2","output":[{"type":"input_text","text":"noon"},{"type":"input_image","image_url":"https://example.com/b.png"}]},
              {"type":"function_call_output","call_id":"call_3","output":""},
              {"role":"user","content":"Thanks"},
              {"content":[],"role":"assistant"},
              {"r\u006fle":"user","content":"escaped"}
            ]}"#;
        check(all, true);
        // `input` as a string, first or last; the empty body of items.
        check(r#"{"input":"hi","model":"m"}"#, true);
        check(r#"{"model":"m","input":""}"#, true);
        check(r#"{"model":"m","input":[]}"#, true);
        // A refusal part in a function's output is its text, as the reference reads it.
        check(
            r#"{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"refusal","refusal":"no"}]}]}"#,
            true,
        );
        // Nulls as absent, repeated top-level members (the last counts, in both), tools too.
        check(
            r#"{"model":"a","model":"b","temperature":1,"temperature":null,"instructions":null,"tools":null,
                "text":{"format":{"type":"json_schema","name":"a","schema":{"b":1,"a":2}}},"text":{"format":{"type":"json_schema","name":"b","schema":{"d":1,"c":2}}},
                "tools":[{"type":"function","name":"a","parameters":{"y":1,"x":2}}],"tools":[{"type":"function","name":"b","parameters":{"y":1,"x":2}}],
                "input":"hi","background":false,"background":{}}"#,
            true,
        );
        // `text` as the answer repeats it (its schema parsed, the one member that is) and its
        // schema as written; a key given twice on the schema's way is left to the reference.
        for (text, taken) in [
            (
                r#"{"verbosity":"low","format":{"type":"json_schema","schema":{"b":[1,{"c":null}],"a":"\u00e9"},"name":"n"}}"#,
                true,
            ),
            (r#"{"format":null,"verbosity":"low"}"#, true),
            (r#"{"format":{"type":"json_schema","schema":[1]}}"#, true),
            (
                r#"{"format":{"type":"json_schema","schema":{"a":1},"schema":{"b":2}}}"#,
                false,
            ),
        ] {
            check(&format!(r#"{{"model":"m","input":"hi","text":{text}}}"#), taken);
        }
        let body = r#"{"model":"m","input":"hi","text":{"format":{"type":"json_schema","schema":{"b":1, "a":2}}}}"#;
        match read(body.as_bytes(), false).unwrap().0.response_format {
            Some(crate::canonical::ResponseFormat::JsonSchema { schema, .. }) => {
                assert_eq!(schema.as_str(), r#"{"b":1, "a":2}"#)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_large_agent_loop_reads_as_the_reference() {
        let items: Vec<String> = (0..2000)
            .map(|i| {
                format!(
                    r#"{{"type":"function_call","call_id":"c{i}","name":"f","arguments":"{{\"i\":{i}}}"}},{{"type":"function_call_output","call_id":"c{i}","output":"r{i}"}}"#
                )
            })
            .collect();
        let body = format!(
            r#"{{"model":"m","metadata":{{"a":[1,2.5,"\u00e9",null,{{"b":true}}]}},"tools":[{{"type":"function","name":"f","parameters":{{"type":"object"}}}}],"input":[{{"role":"user","content":"go"}},{}]}}"#,
            items.join(",")
        );
        assert!(body.len() > crate::canonical::DETACH_ABOVE);
        check(&body, true);
    }

    #[test]
    fn what_the_reference_refuses_or_reads_otherwise_is_left_to_it() {
        for (body, field) in [
            (r#"{"model":"m"}"#, Some("input")),
            (r#"{"model":"m","input":null}"#, Some("input")),
            (r#"{"input":"x"}"#, Some("model")),
            (r#"{"model":"m","input":5}"#, Some("input")),
            (r#"{"model":"m","input":[5]}"#, Some("input[0]")),
            (r#"{"model":"m","input":[{"role":"user"}]}"#, Some("input[0].content")),
            (
                r#"{"model":"m","input":[{"role":"user","content":null}]}"#,
                Some("input[0].content"),
            ),
            (
                r#"{"model":"m","input":[{"role":"judge","content":"x"}]}"#,
                Some("input[0].role"),
            ),
            (
                r#"{"model":"m","input":[{"type":7,"role":"user","content":"x"}]}"#,
                Some("input[0].type"),
            ),
            (
                r#"{"model":"m","input":[{"type":"web_search_call"}]}"#,
                Some("input[0].type"),
            ),
            (
                r#"{"model":"m","input":[{"type":"item_reference","id":"x"}]}"#,
                Some("input[0].type"),
            ),
            (
                r#"{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":{}}]}"#,
                Some("input[0].arguments"),
            ),
            (
                r#"{"model":"m","input":[{"type":"function_call","name":"f"}]}"#,
                Some("input[0].call_id"),
            ),
            (
                r#"{"model":"m","input":[{"type":"function_call_output","call_id":"c"}]}"#,
                Some("input[0].output"),
            ),
            (
                r#"{"model":"m","input":[{"role":"system","content":[{"type":"input_image","image_url":"https://example.com/a.png"}]}]}"#,
                Some("input[0].content"),
            ),
            (
                r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"f"}]}]}"#,
                Some("input[0].content[0].file_id"),
            ),
            (
                r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_url":"u"}]}]}"#,
                Some("input[0].content[0].file_url"),
            ),
            (
                r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_text"}]}]}"#,
                Some("input[0].content[0].text"),
            ),
            (
                r#"{"model":"m","input":[{"role":"user","content":[{"type":"audio"}]}]}"#,
                Some("input[0].content[0].type"),
            ),
            (
                r#"{"model":"m","input":[{"type":"reasoning","summary":[{"text":5}]}]}"#,
                Some("input[0].summary[0].text"),
            ),
            (
                r#"{"model":"m","input":"x","tools":[{"type":"web_search"}]}"#,
                Some("tools[0].type"),
            ),
            (
                r#"{"model":"m","input":"x","tools":[{"type":"function"}]}"#,
                Some("tools[0].name"),
            ),
            (
                r#"{"model":"m","input":"x","previous_response_id":"r"}"#,
                Some("previous_response_id"),
            ),
            (
                r#"{"model":"m","input":"x","max_output_tokens":3}"#,
                Some("max_output_tokens"),
            ),
            (
                r#"{"model":"m","input":"x","tool_choice":{"type":"allowed_tools","mode":"auto","tools":[{"type":"function","name":"g"}]}}"#,
                Some("tool_choice.tools"),
            ),
        ] {
            left(body, field);
        }
        // Read by the reference alone: a member of an item or a part given twice (it takes the
        // first), a repeated `input`, a value the pass does not model where the reference
        // ignores it.
        for body in [
            r#"{"model":"m","input":[{"role":"user","role":"assistant","content":"x"}]}"#,
            r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a","text":"b"}]}]}"#,
            r#"{"model":"m","input":"a","input":"b"}"#,
            r#"{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","content":[5]}]}"#,
            r#"{"model":"m","input":[{"type":"reasoning","summary":[],"encrypted_content":{}}]}"#,
            r#"{"model":"m","input":"x","tools":[{"type":"function","name":"f","name":"g"}]}"#,
        ] {
            left(body, None);
        }
    }

    /// Every fixture and test request as a Responses body (what a Responses-kind upstream is
    /// sent) takes the one pass and reads as the reference.
    #[test]
    fn the_fixtures_as_responses_bodies_read_as_the_reference() {
        let mut taken = 0;
        let mut as_responses = |req: &ChatRequest, _: &str| {
            if let Ok(body) = crate::formats::openai::responses_upstream::encode_request(req) {
                let body = String::from_utf8(body).unwrap();
                // What the reference refuses (a setting the Responses API lacks) is left to it.
                let ok = decode_by_value(body.as_bytes(), true).is_ok();
                check(&body, ok);
                taken += usize::from(ok);
            }
        };
        crate::formats::write::for_each_fixture_decoded("gpt-x", &mut as_responses, &mut |_, _| ());
        for (what, req) in crate::formats::write::request_variants() {
            as_responses(&req, what);
        }
        assert!(taken > 20, "only {taken} fixture requests taken");
    }
}
