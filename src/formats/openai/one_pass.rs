//! A client's Chat Completions body read in one pass, straight into the canonical request: no
//! `Value` tree of the whole body next to its canonical form (a 13 MB history peaked at 185 MB
//! read by `Value`), and each string read once, into the part that keeps it.
//!
//! It reads a body only where it gives exactly what the reading by `Value`
//! (`request::decode_by_value`, the reference) gives, and refuses the rest: a value of another
//! kind where the reference needs one (which it refuses, naming the field), a repeated member it
//! models (the reference reads the first), a call's `arguments` that are not a string (which
//! the reference writes out again). `request::decode_request` then reads the body by `Value`,
//! which gives the same request or names the refused field. The members of the top level other
//! than `messages` and `tools` are small: each is read as a `Value` and taken by the reference's
//! own code (`request::Top`). `tools` has its own visitors, which keep each schema as the text
//! it is (an agent's 20 tools as `Value`s cost ten times its short chat). The `translate` fuzz target and the unit tests hold the two readings equal.

use super::request::{decode_file, decode_image, finish, History, Top};
use crate::canonical::{push_sparing, ChatRequest, ConvertError, Extra, Json, JsonPath, Part, Schema, Tool, Written};
use crate::formats::one_pass::{self, refused, Scalar, TopLevel, Tree};
use crate::formats::Format;
use crate::wire::json::KeySeed;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The request, or `None` where the reading by `Value` must decide (it names the field).
pub(crate) fn read(body: &[u8], path_model: Option<&str>) -> Option<ChatRequest> {
    let (top, history) = one_pass::read_top(body, Top::new())?;
    let req = top.settle(path_model).ok()?;
    finish(req, history?.0).ok()
}

impl TopLevel for Top {
    const HISTORY: &'static str = "messages";
    const SCALARS: &'static [&'static str] = &[
        "model",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "top_k",
        "seed",
        "logprobs",
        "top_logprobs",
        "frequency_penalty",
        "presence_penalty",
        "user",
        "n",
        "stream",
        "parallel_tool_calls",
        "reasoning_effort",
    ];
    const WRITTEN: &'static [(&'static str, &'static [&'static str])] =
        &[("response_format", &["json_schema", "schema"])];
    const SCHEMA_UNREAD: bool = true;
    type ToolIn = ToolIn;
    type History = Messages;

    fn field(&mut self, key: &str, value: &Json, written: Written<'_>) -> Result<(), ConvertError> {
        Top::field(self, key, value, written)
    }

    fn take_tools(&mut self, tools: Vec<Tool>) {
        self.set_tools(tools)
    }
}

/// One of `tools`, as `request::decode_tools` reads it, its `parameters` kept as the text they
/// are (`Schema`), never parsed into a tree: `type` (`function`, or not a string, which the
/// reference takes as a function; another string is refused) and its `function`; other members
/// are skipped, as the reference skips them.
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
        let mut function = None;
        let mut seen = 0u16;
        while let Some(n) = one_pass::next_member(&mut map, &["type", "function"], |k, n| k == n, &mut seen)? {
            match n {
                0 => {
                    if map.next_value::<Scalar>()?.as_str().is_some_and(|k| k != "function") {
                        return Err(refused());
                    }
                }
                _ => function = Some(map.next_value::<ToolFunction>()?.0),
            }
        }
        function.map(ToolIn).ok_or_else(refused)
    }
}

/// A tool's `function`: `name` (required), `description`, `parameters` and `strict` (each
/// `null` as absent), anything else kept for OpenAI targets, each as its own tree.
struct ToolFunction(Tool);

impl<'de> Deserialize<'de> for ToolFunction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ToolFunction, D::Error> {
        d.deserialize_map(ToolFunctionVisitor)
    }
}

struct ToolFunctionVisitor;

impl<'de> Visitor<'de> for ToolFunctionVisitor {
    type Value = ToolFunction;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a function object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ToolFunction, A::Error> {
        const NAMES: [&str; 4] = ["name", "description", "parameters", "strict"];
        let mut tool = Tool {
            name: String::new(),
            description: None,
            parameters: Schema::no_arguments(),
            strict: None,
            extra: Extra::new(Format::OpenAi),
        };
        let (mut named, mut seen) = (false, 0u16);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let Some(n) = NAMES.iter().position(|name| *name == key) else {
                // Anything newer: applied back only to OpenAI targets.
                let Tree(value) = map.next_value()?;
                tool.extra.push(&*key, value);
                continue;
            };
            one_pass::first_time(&mut seen, 1 << n)?;
            match n {
                0 => {
                    tool.name = map.next_value()?;
                    named = true;
                }
                1 => tool.description = map.next_value()?,
                2 => {
                    if let Some(schema) = map.next_value::<Option<Schema>>()? {
                        tool.parameters = schema;
                    }
                }
                _ => tool.strict = map.next_value()?,
            }
        }
        match named {
            true => Ok(ToolFunction(tool)),
            false => Err(refused()),
        }
    }
}

/// `messages`, each message taken into the history as soon as it is read.
pub(crate) struct Messages(History);

impl<'de> Deserialize<'de> for Messages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Messages, D::Error> {
        d.deserialize_seq(MessagesVisitor)
    }
}

struct MessagesVisitor;

impl<'de> Visitor<'de> for MessagesVisitor {
    type Value = Messages;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Messages, A::Error> {
        let mut history = History::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while seq.next_element_seed(MessageSeed(&mut history))?.is_some() {}
        Ok(Messages(history))
    }
}

/// The members of a message the reference reads, in `MESSAGE_MEMBERS` order; the others (`name`,
/// ...) are skipped, as it skips them.
const MESSAGE_MEMBERS: [&str; 7] = [
    "role",
    "content",
    "reasoning_content",
    "refusal",
    "function_call",
    "tool_calls",
    "tool_call_id",
];

/// One message, read into the history it holds.
struct MessageSeed<'h>(&'h mut History);

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut m = MessageSlots::default();
        let mut seen = 0;
        while let Some(n) = one_pass::next_member(&mut map, &MESSAGE_MEMBERS, |k, name| k == name, &mut seen)? {
            match n {
                0 => {
                    m.role = Some(match &*map.next_value_seed(KeySeed)? {
                        "system" | "developer" => MessageRole::System,
                        "user" => MessageRole::User,
                        "assistant" => MessageRole::Assistant,
                        "tool" => MessageRole::Tool,
                        // `function` (legacy) and unknown roles: refused by the reference.
                        _ => return Err(refused()),
                    })
                }
                1 => m.content = Some(map.next_value()?),
                2 => m.reasoning_content = Some(map.next_value()?),
                3 => m.refusal = Some(map.next_value()?),
                4 => m.function_call = Some(map.next_value()?),
                5 => m.tool_calls = map.next_value::<Option<Calls>>()?.map(|c| c.0),
                _ => m.tool_call_id = Some(map.next_value()?),
            }
        }
        m.take_into(self.0).ok_or_else(refused)
    }
}

/// A message's `role`, of those the reference takes (`developer` is a system message).
enum MessageRole {
    System,
    User,
    Assistant,
    Tool,
}

/// A message's members as read, before its role says what they make.
#[derive(Default)]
struct MessageSlots {
    role: Option<MessageRole>,
    content: Option<Content>,
    reasoning_content: Option<Scalar>,
    refusal: Option<Scalar>,
    function_call: Option<Scalar>,
    tool_calls: Option<Vec<Part>>,
    tool_call_id: Option<Scalar>,
}

impl MessageSlots {
    /// The message into `history`, as `request::decode_messages` takes it; `None` where the
    /// reference refuses it.
    fn take_into(self, history: &mut History) -> Option<()> {
        let content = match self.content {
            None | Some(Content::Null) => None,
            Some(c) => Some(c),
        };
        match self.role? {
            MessageRole::System => text_content(content?, &mut history.system)?,
            MessageRole::User => history.user(match content? {
                Content::Text(s) => vec![Part::text(s)],
                Content::Parts(slots) => {
                    let mut parts = Vec::with_capacity(slots.len());
                    for p in slots {
                        parts.push(p.user_part()?);
                    }
                    parts
                }
                Content::Null => return None,
            }),
            MessageRole::Assistant => {
                let mut parts = Vec::new();
                // Non-standard reasoning history (DeepSeek-style clients).
                if let Some(r) = self.reasoning_content.and_then(Scalar::into_string) {
                    if !r.is_empty() {
                        parts.push(Part::Thinking {
                            text: r,
                            signature: None,
                        });
                    }
                }
                match content {
                    None => {}
                    Some(Content::Text(s)) if !s.is_empty() => push_sparing(&mut parts, Part::text(s)),
                    Some(Content::Text(_)) => {}
                    Some(Content::Parts(slots)) => {
                        for p in slots {
                            parts.push(p.assistant_part()?);
                        }
                    }
                    Some(Content::Null) => return None,
                }
                if let Some(r) = self.refusal.as_ref().and_then(Scalar::as_str) {
                    push_sparing(&mut parts, Part::refusal(r));
                }
                // The legacy `function_call`, which the reference refuses.
                if self.function_call.is_some_and(|f| !matches!(f, Scalar::Null)) {
                    return None;
                }
                if let Some(calls) = self.tool_calls {
                    // The calls' own vec where it is all the message holds and has no spare
                    // room (one call, nearly always): the reference's exact vec, without a copy.
                    if parts.is_empty() && calls.len() == calls.capacity() {
                        parts = calls;
                    } else {
                        parts.reserve_exact(calls.len());
                        parts.extend(calls);
                    }
                }
                history.assistant(parts);
            }
            MessageRole::Tool => {
                let id = self.tool_call_id.and_then(Scalar::into_string)?;
                let mut texts = Vec::new();
                if let Some(c) = content {
                    text_content(c, &mut texts)?;
                }
                history.tool_result(id, texts);
            }
        }
        Some(())
    }
}

/// The text of a system, developer or tool message into `out`: a string, or text parts.
fn text_content(content: Content, out: &mut Vec<Part>) -> Option<()> {
    match content {
        Content::Text(s) => push_sparing(out, Part::text(s)),
        Content::Parts(slots) => {
            for p in slots {
                match p.kind? {
                    Kind::Text => out.push(Part::text(p.text?.into_string()?)),
                    _ => return None,
                }
            }
        }
        Content::Null => return None,
    }
    Some(())
}

/// A message's `content`: `null`, a string, or an array of parts (read before the role is known,
/// which says what they may be).
enum Content {
    Null,
    Text(String),
    Parts(Vec<PartSlots>),
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Content, D::Error> {
        d.deserialize_any(ContentVisitor)
    }
}

struct ContentVisitor;

impl<'de> Visitor<'de> for ContentVisitor {
    type Value = Content;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, an array of parts or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Content, E> {
        Ok(Content::Null)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Content, E> {
        Ok(Content::Text(s.to_string()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Content, E> {
        Ok(Content::Text(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Content, A::Error> {
        let mut parts = Vec::new();
        while let Some(p) = seq.next_element()? {
            push_sparing(&mut parts, p);
        }
        Ok(Content::Parts(parts))
    }
}

/// A part's `type`, of those some role takes (any other is refused by every role).
enum Kind {
    Text,
    ImageUrl,
    File,
    Refusal,
}

/// The members of a part the reference reads, in `PART_MEMBERS` order.
const PART_MEMBERS: [&str; 5] = ["type", "text", "refusal", "image_url", "file"];

/// A part's members as read. `text` and `refusal` are read whatever their kind, since a part of
/// another type may carry either unread; `image_url` and `file` as `Value`s for the reference's
/// own functions (each a `Tree`: there may be many, each deep in a long history).
#[derive(Default)]
struct PartSlots {
    kind: Option<Kind>,
    text: Option<Scalar>,
    refusal: Option<Scalar>,
    image_url: Option<Json>,
    file: Option<Json>,
}

impl<'de> Deserialize<'de> for PartSlots {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PartSlots, D::Error> {
        d.deserialize_map(PartVisitor)
    }
}

struct PartVisitor;

impl<'de> Visitor<'de> for PartVisitor {
    type Value = PartSlots;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a content part object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PartSlots, A::Error> {
        let mut p = PartSlots::default();
        let mut seen = 0;
        while let Some(n) = one_pass::next_member(&mut map, &PART_MEMBERS, |k, name| k == name, &mut seen)? {
            match n {
                0 => {
                    p.kind = Some(match &*map.next_value_seed(KeySeed)? {
                        "text" => Kind::Text,
                        "image_url" => Kind::ImageUrl,
                        "file" => Kind::File,
                        "refusal" => Kind::Refusal,
                        _ => return Err(refused()),
                    })
                }
                1 => p.text = Some(map.next_value()?),
                2 => p.refusal = Some(map.next_value()?),
                3 => p.image_url = Some(map.next_value::<Tree>()?.0),
                _ => p.file = Some(map.next_value::<Tree>()?.0),
            }
        }
        Ok(p)
    }
}

impl PartSlots {
    /// A user message's part, as `request::decode_user_content` reads it.
    fn user_part(self) -> Option<Part> {
        let at = JsonPath::ROOT;
        match self.kind? {
            Kind::Text => Some(Part::text(self.text?.into_string()?)),
            Kind::ImageUrl => decode_image(self.image_url.as_ref(), &at).ok(),
            Kind::File => decode_file(self.file.as_ref(), &at).ok(),
            Kind::Refusal => None,
        }
    }

    /// An assistant message's part, as `request::decode_assistant` reads it.
    fn assistant_part(self) -> Option<Part> {
        match self.kind? {
            Kind::Text => Some(Part::text(self.text?.into_string()?)),
            Kind::Refusal => Some(Part::refusal(self.refusal?.as_str()?)),
            Kind::ImageUrl | Kind::File => None,
        }
    }
}

/// An assistant's `tool_calls`, each call as its part.
struct Calls(Vec<Part>);

impl<'de> Deserialize<'de> for Calls {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Calls, D::Error> {
        d.deserialize_seq(CallsVisitor)
    }
}

struct CallsVisitor;

impl<'de> Visitor<'de> for CallsVisitor {
    type Value = Calls;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of tool calls")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Calls, A::Error> {
        let mut calls = Vec::new();
        while let Some(Call(part)) = seq.next_element()? {
            push_sparing(&mut calls, part);
        }
        Ok(Calls(calls))
    }
}

/// One tool call as a part: `type` (`function`, or not a string: the reference takes either as
/// a function), `id`, and `function` with its `name` and `arguments`.
struct Call(Part);

impl<'de> Deserialize<'de> for Call {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Call, D::Error> {
        d.deserialize_map(CallVisitor)
    }
}

struct CallVisitor;

impl<'de> Visitor<'de> for CallVisitor {
    type Value = Call;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tool call object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Call, A::Error> {
        let (mut kind, mut id, mut function) = (None, None, None);
        let mut seen = 0;
        let names = ["type", "id", "function"];
        while let Some(n) = one_pass::next_member(&mut map, &names, |k, name| k == name, &mut seen)? {
            match n {
                0 => kind = Some(map.next_value::<Scalar>()?),
                1 => id = Some(map.next_value::<Scalar>()?),
                _ => function = Some(map.next_value::<Function>()?),
            }
        }
        if kind.as_ref().and_then(Scalar::as_str).is_some_and(|k| k != "function") {
            return Err(refused());
        }
        let id = id.and_then(Scalar::into_string).ok_or_else(refused)?;
        let Function { name, arguments } = function.ok_or_else(refused)?;
        Ok(Call(Part::ToolCall {
            id,
            name: name.and_then(Scalar::into_string).ok_or_else(refused)?,
            arguments: match arguments {
                None | Some(Scalar::Null) => "{}".to_string(),
                Some(Scalar::Str(s)) => s,
                // Lenient in the reference: a value written out again.
                Some(_) => return Err(refused()),
            },
            signature: None,
            extra: Default::default(),
        }))
    }
}

/// A call's `function`: its `name` and `arguments` (a string of JSON, as written).
struct Function {
    name: Option<Scalar>,
    arguments: Option<Scalar>,
}

impl<'de> Deserialize<'de> for Function {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Function, D::Error> {
        d.deserialize_map(FunctionVisitor)
    }
}

struct FunctionVisitor;

impl<'de> Visitor<'de> for FunctionVisitor {
    type Value = Function;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a function object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Function, A::Error> {
        let mut f = Function {
            name: None,
            arguments: None,
        };
        let mut seen = 0;
        let names = ["name", "arguments"];
        while let Some(n) = one_pass::next_member(&mut map, &names, |k, name| k == name, &mut seen)? {
            match n {
                0 => f.name = Some(map.next_value()?),
                _ => f.arguments = Some(map.next_value()?),
            }
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::read;
    use crate::formats::openai::request::decode_by_value;

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
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/formats/openai/fixtures");
        let mut read_any = false;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("request") && name.ends_with(".json") {
                check(&std::fs::read_to_string(&path).unwrap(), true);
                read_any = true;
            }
        }
        assert!(read_any, "no request fixture in {dir}");
    }

    #[test]
    fn every_kind_of_message_reads_as_the_reference() {
        let all = r#"{"model":"m","max_tokens":9,"max_completion_tokens":7,"user":"u","stop":["x"],
            "stream":true,"stream_options":{"include_usage":true},"logprobs":true,"top_logprobs":2,
            "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}},
                     {"type":"function","function":{"name":"g"}}],
            "tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"g"}}]}},
            "x-extra":{"k":[1,{"a":null}]},"seed":null,
            "messages":[
            {"role":"system","content":"top","name":"ignored"},
            {"role":"developer","content":[{"type":"text","text":"dev","cache_control":{"type":"ephemeral"}}]},
            {"role":"user","content":[
                {"type":"text","text":"look \u00e9\n"},
                {"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"high"}},
                {"type":"image_url","image_url":"data:image/png;base64,aGk="},
                {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBE","filename":"a.pdf","x":null}}]},
            {"role":"assistant","reasoning_content":"hm","content":null,"refusal":null,"function_call":null,
             "tool_calls":[
                {"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},
                {"id":"c2","type":7,"function":{"arguments":null,"name":"g"}},
                {"function":{"name":"g"},"id":"c3","extra":1}]},
            {"role":"tool","tool_call_id":"c1","content":"r1"},
            {"role":"tool","tool_call_id":"c2","content":[{"type":"text","text":"r2"},{"type":"text","text":"r2b"}]},
            {"role":"tool","tool_call_id":"c3"},
            {"role":"user","content":"and then"},
            {"role":"assistant","content":[{"type":"text","text":"a"},{"type":"refusal","refusal":"no"}],"refusal":"also no"},
            {"role":"assistant","content":"","reasoning_content":5},
            {"content":"late role","role":"user"},
            {"role":"assistant","tool_calls":null,"content":"x","tool_call_id":9}]}"#;
        check(all, true);
        // `messages` first, the model from the path, escaped keys and values.
        check(r#"{"messages":[{"role":"user","content":"hi"}]}"#, true);
        check(
            r#"{"m\u006fdel":"m","messages":[{"r\u006fle":"us\u0065r","content":[{"t\u0079pe":"text","text":"a"}]}]}"#,
            true,
        );
        // Every scalar member, of every kind of number.
        check(
            r#"{"model":"m","temperature":0.25,"top_p":1,"top_k":40,"seed":-7,"frequency_penalty":-0.5,
                "presence_penalty":2e-1,"n":1,"parallel_tool_calls":false,"reasoning_effort":"low",
                "user":"\u00e9","max_tokens":18446744073709551615e0,"messages":[{"role":"user","content":"hi"}]}"#,
            false,
        );
        check(
            r#"{"model":"m","temperature":0.25,"top_p":1,"top_k":40,"seed":-7,"frequency_penalty":-0.5,
                "presence_penalty":2e-1,"n":1,"parallel_tool_calls":false,"reasoning_effort":"low",
                "user":"\u00e9","max_tokens":null,"messages":[{"role":"user","content":"hi"}]}"#,
            true,
        );
        // A body above `DETACH_ABOVE`, whose kept values the reference copies out of its tree.
        let history: Vec<String> = (0..3000)
            .map(|i| format!(r#"{{"role":"user","content":[{{"type":"text","text":"turn {i}"}}]}}"#))
            .collect();
        let large = format!(
            r#"{{"model":"m","x-extra":{{"a":[1,2.5,"\u00e9",null,{{"b":true}}]}},"tools":[{{"type":"function","function":{{"name":"f","parameters":{{"type":"object","properties":{{"a":{{"type":"number"}}}}}},"x":1}}}}],
                "response_format":{{"type":"json_schema","json_schema":{{"name":"n","schema":{{"type":"object"}}}}}},
                "messages":[{}]}}"#,
            history.join(",")
        );
        assert!(large.len() > crate::canonical::DETACH_ABOVE);
        check(&large, true);
        // Repeated top-level members other than `messages`: the last counts, in both.
        check(
            r#"{"model":"a","model":"b","temperature":1,"temperature":0.5,"messages":[{"role":"user","content":"hi"}]}"#,
            true,
        );
    }

    #[test]
    fn tools_read_as_the_reference_with_their_schemas_as_written() {
        let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[
            {"type":"function","function":{"name":"f","description":"d","strict":true,"x-new":{"k":[1]},
             "parameters":{"type":"object", "properties":{"b":{"type":"string"},"a":{"type":"number"}},"required":["b"]}}},
            {"type":7,"extra":1,"function":{"name":"g","description":null,"parameters":null,"strict":null}},
            {"function":{"name":"h","parameters":"odd"}}]}"#;
        check(body, true);
        let tools = read(body.as_bytes(), None).unwrap().tools;
        // As the client wrote it: property `b` ahead of `a` (the models generate properties in
        // the order given), white space and all; the reference's tree writes keys sorted.
        assert_eq!(
            tools[0].parameters.as_str(),
            r#"{"type":"object", "properties":{"b":{"type":"string"},"a":{"type":"number"}},"required":["b"]}"#
        );
        assert_eq!(tools[0].extra.fields.len(), 1);
        assert_eq!(
            (tools[0].description.as_deref(), tools[0].strict),
            (Some("d"), Some(true))
        );
        assert_eq!(tools[1].parameters, crate::canonical::Schema::no_arguments());
        assert_eq!((tools[1].description.as_deref(), tools[1].strict), (None, None));
        assert_eq!(tools[2].parameters.as_str(), r#""odd""#);
        // A repeated `tools`: the last counts, in both; `null` says nothing.
        check(
            r#"{"model":"m","messages":[],"tools":[{"function":{"name":"a"}}],"tools":[{"function":{"name":"b"}}],"tools":null}"#,
            true,
        );
        // Left to the reference: a repeated member, a type that is not an object or a string,
        // and what it refuses (it names the field).
        for body in [
            r#"{"model":"m","messages":[],"tools":[{"function":{"name":"a","name":"b"}}]}"#,
            r#"{"model":"m","messages":[],"tools":[{"type":{},"function":{"name":"a"}}]}"#,
        ] {
            check(body, false);
            decode_by_value(body.as_bytes(), None).expect(body);
        }
        for (body, field) in [
            (r#"{"model":"m","messages":[],"tools":{}}"#, "tools"),
            (
                r#"{"model":"m","messages":[],"tools":[{"type":"web_search"}]}"#,
                "tools[0].type",
            ),
            (
                r#"{"model":"m","messages":[],"tools":[{"type":"function"}]}"#,
                "tools[0].function",
            ),
            (
                r#"{"model":"m","messages":[],"tools":[{"function":{"description":"d"}}]}"#,
                "tools[0].function.name",
            ),
            (
                r#"{"model":"m","messages":[],"tools":[{"function":{"name":"a","strict":1}}]}"#,
                "tools[0].function.strict",
            ),
            (
                r#"{"model":"m","messages":[],"tools":[{"function":{"name":5}}]}"#,
                "tools[0].function.name",
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
            // Repeated members the pass models.
            r#"{"model":"m","messages":[{"role":"user","content":"a"}],"messages":[{"role":"user","content":"b"}]}"#,
            r#"{"model":"m","messages":null,"messages":[{"role":"user","content":"b"}]}"#,
            r#"{"model":"m","messages":[{"role":"user","role":"assistant","content":"a"}]}"#,
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","text":"b"}]}]}"#,
            // Arguments that are not a string, and members the reference ignores in a role that
            // does not read them.
            r#"{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":{"a":1}}}]}]}"#,
            r#"{"model":"m","messages":[{"role":"user","content":"a","tool_calls":5}]}"#,
            r#"{"model":"m","messages":[{"role":"assistant","content":"a","reasoning_content":[1]}]}"#,
        ] {
            check(body, false);
            decode_by_value(body.as_bytes(), None).expect(body);
        }
        // Refusals: the reference names the field.
        for (body, field) in [
            (
                r#"{"model":"m","messages":[{"role":"bot","content":"a"}]}"#,
                "messages[0].role",
            ),
            (r#"{"model":"m","messages":[{"content":"a"}]}"#, "messages[0].role"),
            (r#"{"model":"m","messages":[{"role":"user"}]}"#, "messages[0].content"),
            (
                r#"{"model":"m","messages":[{"role":"user","content":[{"type":"video"}]}]}"#,
                "messages[0].content[0].type",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":[{"type":"refusal","refusal":"r"}]}]}"#,
                "messages[0].content[0].type",
            ),
            (
                r#"{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":"https://e.com/a.png"}]}]}"#,
                "messages[0].content[0].type",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":1}]}]}"#,
                "messages[0].content[0].text",
            ),
            (
                r#"{"model":"m","messages":[{"role":"assistant","function_call":{"name":"f"}}]}"#,
                "messages[0].function_call",
            ),
            (
                r#"{"model":"m","messages":[{"role":"assistant","tool_calls":[{"type":"custom","id":"c"}]}]}"#,
                "messages[0].tool_calls[0].type",
            ),
            (
                r#"{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{}}]}]}"#,
                "messages[0].tool_calls[0].function.name",
            ),
            (
                r#"{"model":"m","messages":[{"role":"tool","content":"r"}]}"#,
                "messages[0].tool_call_id",
            ),
            (
                r#"{"model":"m","top_logprobs":2,"messages":[{"role":"user","content":"a"}]}"#,
                "top_logprobs",
            ),
            (r#"{"messages":[]}"#, "model"),
            (r#"{"model":"m"}"#, "messages"),
            (r#"{"model":"m","messages":null}"#, "messages"),
        ] {
            assert!(read(body.as_bytes(), None).is_none(), "{body}");
            let e = crate::formats::openai::decode_request(body.as_bytes(), None, false).unwrap_err();
            assert_eq!(e.field, field, "{body}");
        }
    }

    #[test]
    fn response_formats_read_as_the_reference_with_their_schemas_as_written() {
        use crate::canonical::ResponseFormat;
        let schema = r#"{"type":"object", "properties":{"b":{"type":"string"},"a":{"type":"number"}}}"#;
        let body = format!(
            r#"{{"model":"m","messages":[],"response_format":{{"x-new":{{"k":[1]}},"json_schema":{{"schema":{schema},"description":"d","name":"n","strict":true}},"type":"json_schema"}}}}"#
        );
        check(&body, true);
        // As the client wrote it (property `b` ahead of `a`), never parsed into a tree.
        match read(body.as_bytes(), None).unwrap().response_format {
            Some(ResponseFormat::JsonSchema {
                name,
                schema: s,
                strict,
            }) => {
                assert_eq!((name.as_str(), s.as_str(), strict), ("n", schema, Some(true)))
            }
            other => panic!("{other:?}"),
        }
        for body in [
            r#"{"model":"m","messages":[],"response_format":null}"#,
            r#"{"model":"m","messages":[],"response_format":{"type":"text"}}"#,
            r#"{"model":"m","messages":[],"response_format":{"type":"json_object","json_schema":null}}"#,
            // No schema (`{}`), one that is not an object (kept as written), no name, `null`s.
            r#"{"model":"m","messages":[],"response_format":{"type":"json_schema","json_schema":{"name":"n"}}}"#,
            r#"{"model":"m","messages":[],"response_format":{"type":"json_schema","json_schema":{"schema":true}}}"#,
            r#"{"model":"m","messages":[],"response_format":{"type":"json_schema","json_schema":{"schema":null,"name":null,"strict":null}}}"#,
            // Repeated top-level member: the last counts, in both.
            r#"{"model":"m","messages":[],"response_format":{"type":"text"},"response_format":{"type":"json_schema","json_schema":{"schema":{"b":1,"a":2}}}}"#,
        ] {
            check(body, true);
        }
        // Repeats beside the schema's way (the first `type` counts, in both), many members.
        let wide: Vec<String> = (0..40).map(|i| format!(r#""x{i}":{{"k":[{i}]}}"#)).collect();
        let wide = format!(
            r#"{{"model":"m","messages":[],"response_format":{{{},"type":"json_object"}}}}"#,
            wide.join(",")
        );
        check(&wide, true);
        check(
            r#"{"model":"m","messages":[],"response_format":{"type":"text","type":"json_schema"}}"#,
            true,
        );
        // Left to the reference: not an object or `null` on the schema's way, a key on the way
        // given twice, and what the reference refuses (it names the field).
        for body in [
            r#"{"model":"m","messages":[],"response_format":{"type":"json_schema","json_schema":"x"}}"#,
            r#"{"model":"m","messages":[],"response_format":{"type":"json_schema","json_schema":{"schema":{"a":1},"schema":{"b":2}}}}"#,
            r#"{"model":"m","messages":[],"response_format":{"type":"json_schema","json_schema":{"schema":{}},"json_schema":{}}}"#,
        ] {
            check(body, false);
            decode_by_value(body.as_bytes(), None).expect(body);
        }
        for body in [
            r#"{"model":"m","messages":[],"response_format":"json"}"#,
            r#"{"model":"m","messages":[],"response_format":{"type":"xml"}}"#,
            r#"{"model":"m","messages":[],"response_format":{"type":"json_schema"}}"#,
        ] {
            check(body, false);
            let e = decode_by_value(body.as_bytes(), None).unwrap_err();
            assert!(e.field.starts_with("response_format"), "{body}: {e:?}");
        }
    }
}
