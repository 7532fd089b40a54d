//! A client's Messages body read in one pass, straight into the canonical request: no `Value`
//! tree for the history, and each call's `input` kept as written from the same pass (where the
//! reading by `Value` walks the body again for it: `tool_args::RawArgs`).
//!
//! It reads a body only where it gives exactly what the reading by `Value`
//! (`request::decode_by_value`, the reference) gives, and refuses the rest: a value of another
//! kind, a repeated key it models, a field that a block of its type does not take (the reference
//! keeps it as an extra), an `input` that is not an object. `request::decode_request` then reads
//! the body by `Value`, which gives the same request or names the refused field. `tools` has its
//! own visitors, which keep each `input_schema` as the text it is. The `translate` fuzz target
//! and the unit tests hold the two readings equal.

use super::request::{decode_document_source, decode_image_source, Top};
use crate::canonical::sig::{self, Family};
use crate::canonical::{
    push_sparing, ChatRequest, ConvertError, Extra, Json, JsonPath, Message, Part, Role, Schema, Tool,
    ToolResultContent, Written,
};
use crate::formats::one_pass::{self, refused, TopLevel, Tree};
use crate::formats::Format;
use crate::wire::json::KeySeed;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use sonic_rs::{JsonValueTrait, LazyValue};
use std::borrow::Cow;
use std::fmt;

/// The request, or `None` where the reading by `Value` must decide (it names the field).
pub(crate) fn read(body: &[u8], path_model: Option<&str>) -> Option<ChatRequest> {
    let (top, history) = one_pass::read_top(body, Top::new())?;
    let History {
        messages,
        system,
        has_tool_results,
    } = history?;
    let model = top.model(path_model).ok()?;
    Some(top.finish(model, messages, system, has_tool_results))
}

impl TopLevel for Top {
    const HISTORY: &'static str = "messages";
    const SCALARS: &'static [&'static str] = &["model", "max_tokens", "temperature", "top_p", "top_k", "stream"];
    const WRITTEN: &'static [(&'static str, &'static [&'static str])] =
        &[("output_config", &["format", "schema"]), ("output_format", &["schema"])];
    const SCHEMA_UNREAD: bool = true;
    type ToolIn = ToolIn;
    type History = History;

    fn field(&mut self, key: &str, value: &Json, written: Written<'_>) -> Result<(), ConvertError> {
        Top::field(self, key, value, written)
    }

    fn take_tools(&mut self, tools: Vec<Tool>) {
        self.add_tools(tools)
    }
}

/// One of `tools`, as `request::decode_tool` reads it, its `input_schema` kept as the text it is
/// (`Schema`), never parsed into a tree: a custom tool (`type` `custom`, or not a string) with
/// `name` (required), `description` and `strict` (`null` as absent), `input_schema` (an object);
/// every other member not `null`, `type` included, an Anthropic extra (each as its own tree), as
/// `block_extra` keeps them.
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
        f.write_str("a tool object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ToolIn, A::Error> {
        const NAMES: [&str; 5] = ["name", "description", "input_schema", "strict", "type"];
        let (mut name, mut description, mut schema, mut strict) = (None, None, None, None);
        let mut extra = Extra::default();
        let mut seen = 0u16;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let n = NAMES.iter().position(|name| *name == key);
            if let Some(n) = n {
                one_pass::first_time(&mut seen, 1 << n)?;
            }
            match n {
                Some(0) => name = Some(map.next_value::<String>()?),
                Some(1) => description = map.next_value::<Option<String>>()?,
                Some(2) => schema = Some(map.next_value::<Schema>()?),
                Some(3) => strict = map.next_value::<Option<bool>>()?,
                _ => {
                    let Tree(value) = map.next_value()?;
                    // A server tool (`web_search_20250305`, ...) is refused by the reference.
                    if n == Some(4) && value.as_str().is_some_and(|t| t != "custom") {
                        return Err(refused());
                    }
                    if !value.is_null() {
                        if extra.format.is_none() {
                            extra = Extra::new(Format::Anthropic);
                        }
                        extra.push(&*key, value);
                    }
                }
            }
        }
        // The schema must be an object (`null` included in what is refused).
        let parameters = schema
            .filter(|s| s.as_str().trim_ascii_start().starts_with('{'))
            .ok_or_else(refused)?;
        Ok(ToolIn(Tool {
            name: name.ok_or_else(refused)?,
            description,
            parameters,
            strict,
            extra,
        }))
    }
}

/// `messages`: the turns, the text of `system` turns (after the top-level `system`, wherever the
/// key stands), and whether any tool result is there to be named after its call.
pub(crate) struct History {
    messages: Vec<Message>,
    system: Vec<Part>,
    has_tool_results: bool,
}

impl<'de> Deserialize<'de> for History {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<History, D::Error> {
        d.deserialize_seq(HistoryVisitor)
    }
}

struct HistoryVisitor;

impl<'de> Visitor<'de> for HistoryVisitor {
    type Value = History;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<History, A::Error> {
        let mut history = History {
            messages: Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024)),
            system: Vec::new(),
            has_tool_results: false,
        };
        while let Some(Turn { role, content }) = seq.next_element()? {
            let role = match role {
                Some(TurnRole::User) => Role::User,
                Some(TurnRole::Assistant) => Role::Assistant,
                Some(TurnRole::System) => {
                    if !content.iter().all(|p| matches!(p, Part::Text { .. })) {
                        return Err(refused());
                    }
                    history.system.extend(content);
                    continue;
                }
                None => return Err(refused()),
            };
            history.has_tool_results |= content.iter().any(|p| matches!(p, Part::ToolResult { .. }));
            history.messages.push(Message { role, content });
        }
        Ok(history)
    }
}

enum TurnRole {
    User,
    Assistant,
    /// Newer SDK types allow one; its text joins the system prompt.
    System,
}

/// One message: its `role` and `content` (required); other members are not read.
struct Turn {
    role: Option<TurnRole>,
    content: Vec<Part>,
}

impl<'de> Deserialize<'de> for Turn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Turn, D::Error> {
        d.deserialize_map(TurnVisitor)
    }
}

struct TurnVisitor;

impl<'de> Visitor<'de> for TurnVisitor {
    type Value = Turn;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Turn, A::Error> {
        let mut role = None;
        let mut content = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "role" if role.is_none() => {
                    role = Some(match &*map.next_value_seed(KeySeed)? {
                        "user" => TurnRole::User,
                        "assistant" => TurnRole::Assistant,
                        "system" => TurnRole::System,
                        _ => return Err(refused()),
                    })
                }
                "content" if content.is_none() => content = Some(map.next_value::<Content>()?.0),
                // The reference reads the first of a repeated one (and the walk for the
                // arguments gives up on a repeated `content`): left to it.
                "role" | "content" => return Err(refused()),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Turn {
            role,
            content: content.ok_or_else(refused)?,
        })
    }
}

/// A message's `content`: a string (one text part) or an array of blocks.
struct Content(Vec<Part>);

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Content, D::Error> {
        d.deserialize_any(ContentVisitor)
    }
}

struct ContentVisitor;

impl<'de> Visitor<'de> for ContentVisitor {
    type Value = Content;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an array of content blocks")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Content, E> {
        Ok(Content(vec![Part::text(s)]))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Content, E> {
        Ok(Content(vec![Part::text(s)]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Content, A::Error> {
        let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(256));
        while let Some(Block(part)) = seq.next_element()? {
            push_sparing(&mut parts, part);
        }
        Ok(Content(parts))
    }
}

/// A tool result's `content`: absent or `null` (nothing), a string, or an array of text, image
/// and document blocks.
struct ResultContent(Vec<ToolResultContent>);

impl<'de> Deserialize<'de> for ResultContent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ResultContent, D::Error> {
        d.deserialize_any(ResultContentVisitor)
    }
}

struct ResultContentVisitor;

impl<'de> Visitor<'de> for ResultContentVisitor {
    type Value = ResultContent;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an array of content blocks")
    }

    fn visit_unit<E: de::Error>(self) -> Result<ResultContent, E> {
        Ok(ResultContent(Vec::new()))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<ResultContent, E> {
        Ok(ResultContent(vec![ToolResultContent::Text(s.to_string())]))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<ResultContent, E> {
        Ok(ResultContent(vec![ToolResultContent::Text(s)]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ResultContent, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(Block(part)) = seq.next_element()? {
            push_sparing(
                &mut out,
                match part {
                    Part::Text { text, .. } => ToolResultContent::Text(text),
                    Part::Image { source, .. } => ToolResultContent::Image(source),
                    Part::Document { source, name, .. } => ToolResultContent::Document { source, name },
                    _ => return Err(refused()),
                },
            );
        }
        Ok(ResultContent(out))
    }
}

/// One content block as a part.
struct Block(Part);

impl<'de> Deserialize<'de> for Block {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Block, D::Error> {
        d.deserialize_map(BlockVisitor)
    }
}

/// The members a block's reading models, as bits of `Slots::seen`.
mod member {
    pub const TYPE: u16 = 1;
    pub const TEXT: u16 = 1 << 1;
    pub const ID: u16 = 1 << 2;
    pub const NAME: u16 = 1 << 3;
    pub const INPUT: u16 = 1 << 4;
    pub const TOOL_USE_ID: u16 = 1 << 5;
    pub const CONTENT: u16 = 1 << 6;
    pub const IS_ERROR: u16 = 1 << 7;
    pub const SOURCE: u16 = 1 << 8;
    pub const TITLE: u16 = 1 << 9;
    pub const THINKING: u16 = 1 << 10;
    pub const SIGNATURE: u16 = 1 << 11;
    pub const DATA: u16 = 1 << 12;

    pub fn of(key: &str) -> Option<u16> {
        Some(match key {
            "type" => TYPE,
            "text" => TEXT,
            "id" => ID,
            "name" => NAME,
            "input" => INPUT,
            "tool_use_id" => TOOL_USE_ID,
            "content" => CONTENT,
            "is_error" => IS_ERROR,
            "source" => SOURCE,
            "title" => TITLE,
            "thinking" => THINKING,
            "signature" => SIGNATURE,
            "data" => DATA,
            _ => return None,
        })
    }
}

/// A block's members as read, before its type says what they make.
#[derive(Default)]
struct Slots<'de> {
    seen: u16,
    kind: Option<Cow<'de, str>>,
    text: Option<String>,
    id: Option<String>,
    name: Option<String>,
    input: Option<LazyValue<'de>>,
    tool_use_id: Option<String>,
    content: Option<Vec<ToolResultContent>>,
    is_error: Option<bool>,
    source: Option<Json>,
    title: Option<String>,
    thinking: Option<String>,
    signature: Option<String>,
    data: Option<String>,
    /// The non-null members it does not model, in order: the block's Anthropic extra.
    others: Vec<(String, Json)>,
}

struct BlockVisitor;

impl<'de> Visitor<'de> for BlockVisitor {
    type Value = Block;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a content block object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Block, A::Error> {
        use member::*;
        let mut s = Slots::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let Some(bit) = member::of(&key) else {
                // Each a `Tree`: a value from the deserializer lives in one arena with every
                // other one read so (a kept one holds them all: every image's data) and sizes
                // its parser for the rest of the body.
                let Tree(value) = map.next_value()?;
                if !value.is_null() {
                    s.others.push((key.into_owned(), value));
                }
                continue;
            };
            one_pass::first_time(&mut s.seen, bit)?;
            match bit {
                TYPE => s.kind = Some(map.next_value_seed(KeySeed)?),
                TEXT => s.text = Some(map.next_value()?),
                ID => s.id = Some(map.next_value()?),
                NAME => s.name = Some(map.next_value()?),
                INPUT => s.input = Some(map.next_value()?),
                TOOL_USE_ID => s.tool_use_id = Some(map.next_value()?),
                CONTENT => s.content = Some(map.next_value::<ResultContent>()?.0),
                IS_ERROR => s.is_error = map.next_value()?,
                SOURCE => s.source = Some(map.next_value::<Tree>()?.0),
                TITLE => s.title = map.next_value()?,
                THINKING => s.thinking = Some(map.next_value()?),
                SIGNATURE => s.signature = map.next_value()?,
                _ => s.data = Some(map.next_value()?),
            }
        }
        s.take_part().map(Block).ok_or_else(refused)
    }
}

impl Slots<'_> {
    /// The part the block makes, as `request::decode_block` makes it; `None` where it would
    /// refuse the block or keep a modelled member as an extra.
    fn take_part(&mut self) -> Option<Part> {
        use member::*;
        // Of the block kinds that keep extras, the members each takes.
        let takes = |known: u16| self.seen & !known == 0;
        let extra = |others: &mut Vec<(String, Json)>| match others.is_empty() {
            true => Extra::default(),
            false => Extra {
                format: Some(Format::Anthropic),
                fields: std::mem::take(others),
            },
        };
        let no_path = JsonPath::ROOT;
        Some(match &*self.kind.take()? {
            "text" if takes(TYPE | TEXT) => Part::Text {
                text: self.text.take()?,
                extra: extra(&mut self.others),
            },
            "image" if takes(TYPE | SOURCE) => Part::Image {
                source: decode_image_source(self.source.as_ref()?, &no_path).ok()?,
                extra: extra(&mut self.others),
            },
            "document" if takes(TYPE | SOURCE | TITLE) => Part::Document {
                source: decode_document_source(self.source.as_ref()?, &no_path).ok()?,
                name: self.title.take(),
                extra: extra(&mut self.others),
            },
            "tool_use" if takes(TYPE | ID | NAME | INPUT) => {
                let arguments = one_pass::arguments(self.input.as_ref())?;
                Part::ToolCall {
                    id: self.id.take()?,
                    name: self.name.take()?,
                    arguments,
                    signature: None,
                    extra: extra(&mut self.others),
                }
            }
            "tool_result" if takes(TYPE | TOOL_USE_ID | CONTENT | IS_ERROR) => Part::ToolResult {
                id: self.tool_use_id.take()?,
                name: None,
                content: self.content.take().unwrap_or_default(),
                is_error: self.is_error.unwrap_or(false),
                extra: extra(&mut self.others),
            },
            // The reference reads only these members of a thinking block and keeps no extra.
            "thinking" => Part::Thinking {
                text: self.thinking.take()?,
                signature: self.signature.take().map(|s| sig::decode(&s, Family::Claude)),
            },
            "redacted_thinking" => Part::RedactedThinking {
                data: sig::decode(self.data.as_deref()?, Family::Claude),
            },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::read;
    use crate::formats::anthropic::request::decode_by_value;

    const FIXTURES: [&[u8]; 3] = [
        include_bytes!("fixtures/request_protocols.json"),
        include_bytes!("fixtures/request_full.json"),
        include_bytes!("fixtures/request_documents.json"),
    ];

    /// Reads `body` both ways: the one pass takes it (or not, as `taken` says) and, where it
    /// does, gives what the reference gives.
    fn check(body: &str, taken: bool) {
        let fast = read(body.as_bytes(), Some("path-model"));
        assert_eq!(fast.is_some(), taken, "taken by the one pass: {body}");
        if let Some(fast) = fast {
            let reference = decode_by_value(body.as_bytes(), Some("path-model")).expect(body);
            assert!(fast == reference, "{body}\none pass: {fast:?}\nby Value: {reference:?}");
        }
    }

    #[test]
    fn the_fixtures_take_the_one_pass_and_read_as_the_reference() {
        for body in FIXTURES {
            check(std::str::from_utf8(body).unwrap(), true);
        }
    }

    #[test]
    fn every_kind_of_block_reads_as_the_reference() {
        let calls = r#"{"model":"m","max_tokens":9,"system":"top","metadata":{"user_id":"u"},"messages":[
            {"role":"user","content":"hi","name":"ignored"},
            {"role":"system","content":[{"type":"text","text":"late system"}]},
            {"role":"assistant","content":[
                {"type":"thinking","thinking":"hm","signature":"c2ln","text":"ignored"},
                {"type":"redacted_thinking","data":"ZGF0YQ=="},
                {"type":"text","text":"calling","cache_control":{"type":"ephemeral"},"citations":null},
                {"type":"tool_use","id":"t1","name":"f","input":{ "b" : [1, 2],"a":"\u00e9" }},
                {"type":"tool_use","id":"t2","name":"g","input":null},
                {"type":"tool_use","id":"t3","name":"h","cache_control":{"type":"ephemeral"}}]},
            {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"t1","content":"done","is_error":null},
                {"type":"tool_result","tool_use_id":"t2","is_error":true,"content":[
                    {"type":"text","text":"a"},
                    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"aGk="}}]},
                {"type":"tool_result","tool_use_id":"t3","content":null},
                {"type":"document","title":null,"source":{"type":"text","media_type":"text/plain","data":"doc"}},
                {"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]}],
            "stop_sequences":["x"],"thinking":{"type":"enabled","budget_tokens":1024},"x-extra":{"k":1}}"#;
        check(calls, true);
        // `messages` before everything else, the model from the path, escaped keys.
        check(
            r#"{"messages":[{"content":"hi","role":"user"}],"system":[{"type":"text","text":"s"}]}"#,
            true,
        );
        check(
            r#"{"m\u006fdel":"m","messages":[{"r\u006fle":"user","content":[{"type":"text","text":"a"}]}]}"#,
            true,
        );
    }

    #[test]
    fn tools_read_as_the_reference_with_their_schemas_as_written() {
        let body = r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[
            {"name":"f","description":"d","strict":true,"cache_control":{"type":"ephemeral"},
             "input_schema":{"type":"object", "properties":{"b":{"type":"string"},"a":{"type":"number"}}}},
            {"type":"custom","name":"g","description":null,"strict":null,"input_schema":{},"x":null},
            {"type":5,"name":"h","input_schema":{"type":"object"}}],
            "tools":[{"name":"i","input_schema":{"type":"object"}}]}"#;
        check(body, true);
        let tools = read(body.as_bytes(), None).unwrap().tools;
        // As the client wrote it (property `b` ahead of `a`); the reference's tree sorts keys.
        assert_eq!(
            tools[0].parameters.as_str(),
            r#"{"type":"object", "properties":{"b":{"type":"string"},"a":{"type":"number"}}}"#
        );
        // A repeated `tools` adds to the first, in both readings.
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["f", "g", "h", "i"]);
        assert_eq!(tools[1].extra.fields.len(), 1, "`type` is kept, `null`s are not");
        // Left to the reference: a repeated member; what it refuses (it names the field).
        let repeated =
            r#"{"model":"m","max_tokens":5,"messages":[],"tools":[{"name":"a","name":"b","input_schema":{}}]}"#;
        check(repeated, false);
        decode_by_value(repeated.as_bytes(), None).unwrap();
        for (body, field) in [
            (r#"{"model":"m","max_tokens":5,"messages":[],"tools":{}}"#, "tools"),
            (
                r#"{"model":"m","max_tokens":5,"messages":[],"tools":[{"type":"web_search_20250305","name":"w"}]}"#,
                "tools[0].type",
            ),
            (
                r#"{"model":"m","max_tokens":5,"messages":[],"tools":[{"input_schema":{}}]}"#,
                "tools[0].name",
            ),
            (
                r#"{"model":"m","max_tokens":5,"messages":[],"tools":[{"name":"a","input_schema":null}]}"#,
                "tools[0].input_schema",
            ),
            (
                r#"{"model":"m","max_tokens":5,"messages":[],"tools":[{"name":"a","input_schema":"s"}]}"#,
                "tools[0].input_schema",
            ),
            (
                r#"{"model":"m","max_tokens":5,"messages":[],"tools":[{"name":"a","input_schema":{},"strict":1}]}"#,
                "tools[0].strict",
            ),
        ] {
            check(body, false);
            assert_eq!(
                decode_by_value(body.as_bytes(), None).unwrap_err().field,
                field,
                "{body}"
            );
        }
    }

    #[test]
    fn what_the_one_pass_leaves_is_read_by_value() {
        for body in [
            // A member the block's type does not take (the reference keeps it as an extra).
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","id":"x"}]}]}"#,
            // Repeated members the pass models.
            r#"{"model":"m","messages":[{"role":"user","content":"a"}],"messages":[{"role":"user","content":"b"}]}"#,
            r#"{"model":"m","messages":[{"role":"user","role":"assistant","content":"a"}]}"#,
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","text":"b"}]}]}"#,
            // An `input` that is not an object, and a signature that is not a string.
            r#"{"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":[1]}]}]}"#,
            r#"{"model":"m","messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":5}]}]}"#,
        ] {
            check(body, false);
            decode_by_value(body.as_bytes(), None).expect(body);
        }
        // Bytes that are not UTF-8, in an `input` (whose text the pass keeps as written).
        let mut body = br#"{"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"k":"#.to_vec();
        body.extend_from_slice(b"\"\xd6\xd6\"}}]}]}");
        assert!(read(&body, None).is_none());
        let e = crate::formats::anthropic::decode_request(&body, None, false).unwrap_err();
        assert!(
            e.message.contains("UTF-8") || e.message.contains("utf-8") || e.message.contains("valid JSON"),
            "{e:?}"
        );
        // Refusals: the reference names the field.
        for (body, field) in [
            (
                r#"{"model":"m","messages":[{"role":"bot","content":"a"}]}"#,
                "messages[0].role",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":[{"type":"video"}]}]}"#,
                "messages[0].content[0].type",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":1}]}]}"#,
                "messages[0].content[0].text",
            ),
            (
                r#"{"model":"m","messages":[{"role":"system","content":[{"type":"image","source":{"type":"url","url":"https://e.com/a.png"}}]}]}"#,
                "messages[0].content",
            ),
            (r#"{"messages":[]}"#, "model"),
            (r#"{"model":"m"}"#, "messages"),
        ] {
            assert!(read(body.as_bytes(), None).is_none(), "{body}");
            let e = crate::formats::anthropic::decode_request(body.as_bytes(), None, false).unwrap_err();
            assert_eq!(e.field, field, "{body}");
        }
    }

    #[test]
    fn output_formats_read_as_the_reference_with_their_schemas_as_written() {
        use crate::canonical::ResponseFormat;
        let schema = r#"{"type":"object", "properties":{"b":{"type":"string"},"a":{"type":"number"}}}"#;
        let head = r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]"#;
        for member in [
            format!(r#""output_format":{{"schema":{schema},"type":"json_schema"}}"#),
            format!(
                r#""output_config":{{"effort":"low","format":{{"type":"json_schema","schema":{schema}}},"x":[1]}}"#
            ),
            // Whatever else is there is kept (an extra), as the reference's tree holds it.
            format!(
                r#""output_config":{{"x":[1,-1,2.5,-0,-0.0,1e2,18446744073709551615,18446744073709551616,"\u00e9",null,true,{{"a":{{}},"b":[]}}],"format":{{"schema":{schema},"type":"json_schema"}}}}"#
            ),
        ] {
            let body = format!("{head},{member}}}");
            check(&body, true);
            // As the client wrote it (property `b` ahead of `a`), never parsed into a tree.
            match read(body.as_bytes(), None).unwrap().response_format {
                Some(ResponseFormat::JsonSchema { schema: s, .. }) => assert_eq!(s.as_str(), schema),
                other => panic!("{other:?}"),
            }
        }
        for member in [
            r#""output_config":{"effort":"high"}"#,
            r#""output_config":null,"output_format":null"#,
            r#""output_config":{"format":{"type":"json_schema","schema":{"a":1}}},"output_config":{"effort":"low"}"#,
        ] {
            check(&format!("{head},{member}}}"), true);
        }
        // Left to the reference: not an object on the schema's way, a key given twice on the
        // way; and what it refuses (it names the field): a schema that is not an object.
        for (member, reads) in [
            (r#""output_config":{"format":"json"}"#, false),
            (
                r#""output_format":{"type":"json_schema","schema":{"a":1},"schema":{"b":2}}"#,
                true,
            ),
        ] {
            let body = format!("{head},{member}}}");
            check(&body, false);
            assert_eq!(decode_by_value(body.as_bytes(), None).is_ok(), reads, "{body}");
        }
        for (member, field) in [
            (
                r#""output_format":{"type":"json_schema","schema":true}"#,
                "output_format.schema",
            ),
            (
                r#""output_config":{"format":{"type":"json_schema","schema":[1]}}"#,
                "output_config.format.schema",
            ),
            (
                r#""output_config":{"format":{"type":"json_schema"}}"#,
                "output_config.format.schema",
            ),
        ] {
            let body = format!("{head},{member}}}");
            check(&body, false);
            assert_eq!(
                decode_by_value(body.as_bytes(), None).unwrap_err().field,
                field,
                "{body}"
            );
        }
    }
}
