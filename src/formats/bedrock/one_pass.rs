//! A client's Converse body read in one pass, straight into the canonical request: no `Value`
//! tree for the history, and each call's `input` kept as written from the same pass (where the
//! reading by `Value` walks the body again for it: `tool_args::RawArgs`).
//!
//! As Anthropic's (`formats::anthropic::one_pass`), it reads a body only where it gives exactly
//! what the reading by `Value` (`decode_by_value`, the reference) gives, and refuses the rest: a
//! value of another kind, a repeated `messages`, `role`, `content` or `toolUse` key, an `input`
//! that is not an object. `decode_request` then reads the body by `Value`, which gives the same
//! request or names the refused field. Members other than `messages` are read as `Value`s by the
//! reference's own code (`Top::field`), and so are the blocks other than `text`, `toolUse` and
//! `toolResult` (`decode_member`), and a result's images and documents.

use super::{
    attach_cache_point, attach_tool_cache_point, decode_document, decode_image, decode_member, decode_tool_choice,
    Block, Top,
};
use crate::canonical::{
    push_sparing, ChatRequest, Extra, Json, JsonPath, Message, Part, Role, Schema, Tool, ToolResultContent,
};
use crate::formats::one_pass::{self, refused, Sparing, Tree};
use crate::wire::json::KeySeed;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use sonic_rs::{JsonValueTrait, LazyValue};
use std::fmt;

/// The request, or `None` where the reading by `Value` must decide (it names the field).
pub(crate) fn read(body: &[u8], path_model: Option<&str>, stream: bool) -> Option<ChatRequest> {
    let mut top = Top::new(path_model, stream);
    one_pass::read(body, BodyVisitor { top: &mut top })?;
    Some(top.finish())
}

/// The top level: `messages` read here, every other member by `Top::field` as the reference
/// reads it.
struct BodyVisitor<'t> {
    top: &'t mut Top,
}

impl<'de> de::DeserializeSeed<'de> for BodyVisitor<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BodyVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut messages, mut tool_config) = (false, false);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key == "toolConfig" {
                // The reference adds up the tools of repeated ones: left to it.
                if std::mem::replace(&mut tool_config, true) {
                    return Err(refused());
                }
                if let Some(config) = map.next_value::<Option<ToolConfig>>()? {
                    self.top.req.tools = config.tools;
                    if let Some(Tree(choice)) = config.choice {
                        self.top.req.tool_choice = Some(decode_tool_choice(&choice).map_err(|_| refused())?);
                    }
                }
                continue;
            }
            if key == "messages" {
                // The reference adds up repeated `messages` and writes their calls' arguments
                // out again (`RawArgs` cannot walk to them): left to it.
                if std::mem::replace(&mut messages, true) {
                    return Err(refused());
                }
                // `null`: skipped, as the reference skips it.
                if let Some(turns) = map.next_value::<Option<Vec<Turn>>>()? {
                    self.top.req.messages = turns.into_iter().map(|t| t.0).collect();
                }
                continue;
            }
            let value: Json = map.next_value()?;
            if !value.is_null() {
                self.top.field(&key, &value).map_err(|_| refused())?;
            }
        }
        Ok(())
    }
}

/// `toolConfig`, as `decode_tool_config` reads it: its `tools` (each schema kept as the text it
/// is, never parsed into a tree: an agent's tools as `Value`s cost ten times its short chat) and
/// its `toolChoice` (a `Tree`, for the reference's code); other members skipped, as the reference
/// skips them. Not an object, or `tools` or `toolChoice` given twice: refused.
struct ToolConfig {
    tools: Vec<Tool>,
    choice: Option<Tree>,
}

impl<'de> Deserialize<'de> for ToolConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ToolConfig, D::Error> {
        d.deserialize_map(ToolConfigVisitor)
    }
}

struct ToolConfigVisitor;

impl<'de> Visitor<'de> for ToolConfigVisitor {
    type Value = ToolConfig;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tool configuration")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ToolConfig, A::Error> {
        let mut config = ToolConfig {
            tools: Vec::new(),
            choice: None,
        };
        let mut seen = 0;
        while let Some(n) = one_pass::next_member(&mut map, &["tools", "toolChoice"], |k, n| k == n, &mut seen)? {
            match n {
                0 => config.tools = map.next_value::<Option<Tools>>()?.map_or_else(Vec::new, |t| t.0),
                _ => config.choice = map.next_value()?,
            }
        }
        Ok(config)
    }
}

/// `toolConfig.tools`: each entry a `toolSpec`, or a `cachePoint` onto the tool before it.
struct Tools(Vec<Tool>);

impl<'de> Deserialize<'de> for Tools {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tools, D::Error> {
        d.deserialize_seq(ToolsVisitor)
    }
}

struct ToolsVisitor;

impl<'de> Visitor<'de> for ToolsVisitor {
    type Value = Tools;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of tools")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tools, A::Error> {
        let mut tools = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(entry) = seq.next_element::<ToolEntry>()? {
            match entry {
                ToolEntry::Spec(tool) => tools.push(tool),
                ToolEntry::CachePoint(Tree(cp)) => attach_tool_cache_point(&mut tools, &cp),
            }
        }
        Ok(Tools(tools))
    }
}

/// One of `tools`: a union of exactly one member set (`null` as unset); a kind other than
/// `toolSpec` and `cachePoint` is refused, as the reference refuses it.
enum ToolEntry {
    Spec(Tool),
    CachePoint(Tree),
}

impl<'de> Deserialize<'de> for ToolEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ToolEntry, D::Error> {
        d.deserialize_map(ToolEntryVisitor)
    }
}

struct ToolEntryVisitor;

impl<'de> Visitor<'de> for ToolEntryVisitor {
    type Value = ToolEntry;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tool")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ToolEntry, A::Error> {
        let mut entry = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let set = match &*key {
                "toolSpec" => map.next_value::<Option<ToolSpec>>()?.map(|s| ToolEntry::Spec(s.0)),
                "cachePoint" => map.next_value::<Option<Tree>>()?.map(ToolEntry::CachePoint),
                _ => match map.next_value::<Option<IgnoredAny>>()? {
                    Some(_) => return Err(refused()),
                    None => None,
                },
            };
            // A second member set: the reference refuses the entry.
            if set.is_some() && entry.replace(set).is_some() {
                return Err(refused());
            }
        }
        entry.flatten().ok_or_else(refused)
    }
}

/// A `toolSpec`: `name` (a string), `description` (a string or `null`), `strict` (a boolean or
/// `null`), `inputSchema.json` (not `null`), kept as written; other members skipped, as the
/// reference skips them.
struct ToolSpec(Tool);

impl<'de> Deserialize<'de> for ToolSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ToolSpec, D::Error> {
        d.deserialize_map(ToolSpecVisitor)
    }
}

struct ToolSpecVisitor;

impl<'de> Visitor<'de> for ToolSpecVisitor {
    type Value = ToolSpec;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tool specification")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ToolSpec, A::Error> {
        const NAMES: [&str; 4] = ["name", "description", "inputSchema", "strict"];
        let (mut name, mut description, mut schema, mut strict) = (None, None, None, None);
        let mut seen = 0;
        while let Some(n) = one_pass::next_member(&mut map, &NAMES, |k, n| k == n, &mut seen)? {
            match n {
                0 => name = map.next_value::<Option<String>>()?,
                1 => description = map.next_value::<Option<String>>()?,
                2 => schema = map.next_value::<Option<InputSchema>>()?.and_then(|s| s.0),
                _ => strict = map.next_value::<Option<bool>>()?,
            }
        }
        match (name, schema) {
            (Some(name), Some(parameters)) => Ok(ToolSpec(Tool {
                name,
                description,
                parameters,
                strict,
                extra: Extra::default(),
            })),
            _ => Err(refused()),
        }
    }
}

/// `inputSchema`: its `json` (`None`: absent or `null`), other members skipped.
struct InputSchema(Option<Schema>);

impl<'de> Deserialize<'de> for InputSchema {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<InputSchema, D::Error> {
        d.deserialize_map(InputSchemaVisitor)
    }
}

struct InputSchemaVisitor;

impl<'de> Visitor<'de> for InputSchemaVisitor {
    type Value = InputSchema;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an input schema")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<InputSchema, A::Error> {
        let mut json = None;
        let mut seen = 0;
        while one_pass::next_member(&mut map, &["json"], |k, n| k == n, &mut seen)?.is_some() {
            json = map.next_value::<Option<Schema>>()?;
        }
        Ok(InputSchema(json))
    }
}

/// One message: its `role` (required) and `content` (absent or `null`: no parts).
struct Turn(Message);

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
        let (mut role, mut content) = (None, None);
        let (mut role_seen, mut content_seen) = (false, false);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            // The reference reads the first of a repeated one (and its walk for the arguments
            // gives up on a repeated `content`): left to it.
            match &*key {
                "role" if !std::mem::replace(&mut role_seen, true) => {
                    role = match map.next_value::<Option<Tag<'de>>>()?.as_ref().map(|t| &*t.0) {
                        Some("user") => Some(Role::User),
                        Some("assistant") => Some(Role::Assistant),
                        _ => return Err(refused()),
                    }
                }
                "content" if !std::mem::replace(&mut content_seen, true) => {
                    content = map.next_value::<Option<Content>>()?.map(|c| c.0)
                }
                "role" | "content" => return Err(refused()),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Turn(Message {
            role: role.ok_or_else(refused)?,
            content: content.unwrap_or_default(),
        }))
    }
}

/// A string, borrowed from the body where it has no escapes.
struct Tag<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Tag<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tag<'de>, D::Error> {
        de::DeserializeSeed::deserialize(KeySeed, d).map(Tag)
    }
}

/// A message's `content`: its blocks, a `cachePoint` attached to the part before it.
struct Content(Vec<Part>);

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Content, D::Error> {
        d.deserialize_seq(ContentVisitor)
    }
}

struct ContentVisitor;

impl<'de> Visitor<'de> for ContentVisitor {
    type Value = Content;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of content blocks")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Content, A::Error> {
        let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(256));
        while let Some(block) = seq.next_element::<OneBlock>()? {
            match block {
                OneBlock::Part(part) => push_sparing(&mut parts, part),
                OneBlock::CachePoint(cp) => attach_cache_point(&mut parts, &cp),
            }
        }
        Ok(Content(parts))
    }
}

/// A content block: a union, of which exactly one member is set (not `null`).
enum OneBlock {
    Part(Part),
    CachePoint(Json),
}

impl<'de> Deserialize<'de> for OneBlock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<OneBlock, D::Error> {
        d.deserialize_map(BlockVisitor)
    }
}

struct BlockVisitor;

impl<'de> Visitor<'de> for BlockVisitor {
    type Value = OneBlock;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a content block object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OneBlock, A::Error> {
        let mut member = None;
        let mut tool_use_keys = false;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let block = match &*key {
                "text" => map
                    .next_value::<Option<String>>()?
                    .map(|t| OneBlock::Part(Part::text(t))),
                // A repeated `toolUse` key (even a `null` one) makes the reference's walk for
                // the arguments give up: left to it.
                "toolUse" if !std::mem::replace(&mut tool_use_keys, true) => {
                    map.next_value::<Option<ToolUse>>()?.map(|t| OneBlock::Part(t.0))
                }
                "toolUse" => return Err(refused()),
                "toolResult" => map.next_value::<Option<ToolResult>>()?.map(|t| OneBlock::Part(t.0)),
                kind => {
                    // A `Tree`, as the Anthropic pass reads a block's values.
                    let Tree(value) = map.next_value()?;
                    match value.is_null() {
                        true => None,
                        false if kind == "cachePoint" => Some(OneBlock::CachePoint(value)),
                        false => match decode_member(kind, &value, &JsonPath::ROOT) {
                            Ok(Block::Part(part)) => Some(OneBlock::Part(part)),
                            _ => return Err(refused()),
                        },
                    }
                }
            };
            // A second member set: the reference refuses the block.
            if block.is_some() && member.replace(block).is_some() {
                return Err(refused());
            }
        }
        member.flatten().ok_or_else(refused)
    }
}

/// A `toolUse` member as a call: `toolUseId` and `name` required, `input` as written (absent or
/// `null`: `{}`).
struct ToolUse(Part);

impl<'de> Deserialize<'de> for ToolUse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ToolUse, D::Error> {
        d.deserialize_map(ToolUseVisitor)
    }
}

struct ToolUseVisitor;

impl<'de> Visitor<'de> for ToolUseVisitor {
    type Value = ToolUse;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a toolUse object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ToolUse, A::Error> {
        let (mut id, mut name, mut input) = (None, None, None);
        let mut seen = 0u16;
        while let Some(n) = one_pass::next_member(&mut map, &["toolUseId", "name", "input"], str::eq, &mut seen)? {
            match n {
                0 => id = map.next_value::<Option<String>>()?,
                1 => name = map.next_value::<Option<String>>()?,
                _ => input = Some(map.next_value::<LazyValue<'de>>()?),
            }
        }
        let arguments = one_pass::arguments(input.as_ref()).ok_or_else(refused)?;
        Ok(ToolUse(Part::ToolCall {
            id: id.ok_or_else(refused)?,
            name: name.ok_or_else(refused)?,
            arguments,
            signature: None,
            extra: Extra::default(),
        }))
    }
}

/// A `toolResult` member as a result: `toolUseId` required, `content` (absent or `null`:
/// nothing), `status` (`error` or not).
struct ToolResult(Part);

impl<'de> Deserialize<'de> for ToolResult {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ToolResult, D::Error> {
        d.deserialize_map(ToolResultVisitor)
    }
}

struct ToolResultVisitor;

impl<'de> Visitor<'de> for ToolResultVisitor {
    type Value = ToolResult;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a toolResult object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ToolResult, A::Error> {
        let (mut id, mut content, mut status) = (None, None, None);
        let mut seen = 0u16;
        while let Some(n) = one_pass::next_member(&mut map, &["toolUseId", "content", "status"], str::eq, &mut seen)? {
            match n {
                0 => id = map.next_value::<Option<String>>()?,
                1 => content = map.next_value::<Option<Sparing<ResultItem>>>()?,
                _ => status = map.next_value::<Option<String>>()?,
            }
        }
        Ok(ToolResult(Part::ToolResult {
            id: id.ok_or_else(refused)?,
            name: None,
            // In place: the items' vector becomes the content's.
            content: content
                .map(|c| c.0.into_iter().map(|i| i.0).collect())
                .unwrap_or_default(),
            is_error: status.as_deref() == Some("error"),
            extra: Extra::default(),
        }))
    }
}

/// An item of a result's `content`: a union of `text`, `json`, `image` or `document`.
struct ResultItem(ToolResultContent);

impl<'de> Deserialize<'de> for ResultItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ResultItem, D::Error> {
        d.deserialize_map(ResultItemVisitor)
    }
}

struct ResultItemVisitor;

impl<'de> Visitor<'de> for ResultItemVisitor {
    type Value = ResultItem;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tool result content object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ResultItem, A::Error> {
        let mut member = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let item = match &*key {
                "text" => map.next_value::<Option<String>>()?.map(ToolResultContent::Text),
                kind => {
                    let Tree(value) = map.next_value()?;
                    match (kind, value.is_null()) {
                        (_, true) => None,
                        ("json", false) => Some(ToolResultContent::Json(value)),
                        ("image", false) => Some(ToolResultContent::Image(
                            decode_image(&value, &JsonPath::ROOT).map_err(|_| refused())?,
                        )),
                        ("document", false) => match decode_document(&value, &JsonPath::ROOT) {
                            Ok(Part::Document { source, name, .. }) => {
                                Some(ToolResultContent::Document { source, name })
                            }
                            _ => return Err(refused()),
                        },
                        _ => return Err(refused()),
                    }
                }
            };
            // A second member set: the reference refuses the item.
            if item.is_some() && member.replace(item).is_some() {
                return Err(refused());
            }
        }
        member.flatten().map(ResultItem).ok_or_else(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::read;
    use crate::formats::bedrock::decode_by_value;

    /// Reads `body` both ways: the one pass takes it (or not, as `taken` says) and, where it
    /// does, gives what the reference gives.
    fn check(body: &[u8], taken: bool) {
        let shown = String::from_utf8_lossy(body);
        let fast = read(body, Some("m"), true);
        assert_eq!(fast.is_some(), taken, "taken by the one pass: {shown}");
        if let Some(fast) = fast {
            let reference = decode_by_value(body, Some("m"), true).expect(&shown);
            assert!(
                fast == reference,
                "{shown}\none pass: {fast:?}\nby Value: {reference:?}"
            );
        }
    }

    #[test]
    fn the_fixtures_take_the_one_pass_and_read_as_the_reference() {
        check(include_bytes!("fixtures/converse_request.json"), true);
        check(include_bytes!("fixtures/converse_strict_tools.json"), true);
    }

    #[test]
    fn every_kind_of_block_reads_as_the_reference() {
        let body = r#"{"messages":[
            {"role":"user","content":[{"text":"hi"},{"cachePoint":{"type":"default"}},
                {"image":{"format":"png","source":{"bytes":"aGk="}}},
                {"document":{"format":"txt","name":"d","source":{"bytes":"aGk="}}}],"extra":1},
            {"role":"assistant","content":[
                {"reasoningContent":{"reasoningText":{"text":"hm","signature":"c2ln"}}},
                {"text":null,"toolUse":{"toolUseId":"t1","name":"f","input":{ "b" : [1, 2.50],"a":"\u00e9" }}},
                {"toolUse":{"toolUseId":"t2","name":"g","input":null,"type":"x"}},
                {"toolUse":{"toolUseId":"t3","name":"h"}},{"cachePoint":{"type":"default"}}]},
            {"role":"user","content":[
                {"toolResult":{"toolUseId":"t1","content":[{"text":"done"},{"json":{"k":1}}]}},
                {"toolResult":{"toolUseId":"t2","status":"error","content":[{"text":"no"}]}},
                {"toolResult":{"toolUseId":"t3","content":null,"status":null}},
                {"toolResult":null,"toolResult":{"toolUseId":"t4","status":"success","content":[
                    {"text":null,"image":{"format":"jpeg","source":{"bytes":"aGk="}}},
                    {"document":{"format":"pdf","name":"p","source":{"bytes":"aGk="}}}]}}]},
            {"role":"assistant","content":null}],
            "system":[{"text":"be brief"},{"cachePoint":{"type":"default"}}],
            "inferenceConfig":{"maxTokens":100,"temperature":0.5,"stopSequences":["x"]},
            "toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}}]},
            "additionalModelRequestFields":{"top_k":5},"guardrailConfig":null,"requestMetadata":{"k":"v"}}"#;
        check(body.as_bytes(), true);
        // `messages` after everything else, and `null`.
        check(
            br#"{"system":[{"text":"s"}],"messages":[{"content":[{"text":"a"}],"role":"user"}]}"#,
            true,
        );
        check(br#"{"messages":null}"#, true);
    }

    /// `toolConfig`: tools read with their schemas as written (the client's key order), each
    /// kind of entry and choice as the reference reads it.
    #[test]
    fn tool_configs_read_as_the_reference() {
        let schema =
            r#"{"type":"object","properties":{"z":{"type":"string"},"a":{"type":"integer"}},"required":["z"]}"#;
        for config in [
            format!(
                r#"{{"tools":[{{"toolSpec":{{"name":"f","description":"d","inputSchema":{{"json":{schema}}}}}}}]}}"#
            ),
            format!(
                r#"{{"tools":[{{"cachePoint":{{"type":"default"}}}},{{"toolSpec":{{"name":"f","description":null,"strict":true,"inputSchema":{{"json":{schema},"other":1}},"x":[1]}},"cachePoint":null}},{{"cachePoint":{{"type":"default"}}}},{{"toolSpec":{{"strict":null,"inputSchema":{{"json":{{}}}},"name":"g"}}}}],"toolChoice":{{"tool":{{"name":"g"}}}},"other":{{}}}}"#
            ),
            r#"{"toolChoice":{"any":{}},"tools":null}"#.to_string(),
            r#"{"tools":[],"toolChoice":{"auto":{},"any":null}}"#.to_string(),
            r#"{}"#.to_string(),
        ] {
            let body =
                format!(r#"{{"messages":[{{"role":"user","content":[{{"text":"hi"}}]}}],"toolConfig":{config}}}"#);
            check(body.as_bytes(), true);
        }
        let body = format!(
            r#"{{"messages":[],"toolConfig":{{"tools":[{{"toolSpec":{{"name":"f","inputSchema":{{"json":{schema}}}}}}}]}}}}"#
        );
        let req = read(body.as_bytes(), Some("m"), false).unwrap();
        assert_eq!(req.tools[0].parameters.as_str(), schema, "as written");
    }

    #[test]
    fn what_the_one_pass_leaves_is_read_by_value() {
        for body in [
            // Repeated keys on the way to a call, or read first by the reference.
            r#"{"messages":[{"role":"user","content":[{"text":"a"}]}],"messages":[]}"#,
            r#"{"messages":[{"role":"user","role":"assistant","content":[]}]}"#,
            r#"{"messages":[{"role":"user","content":[],"content":[{"text":"a"}]}]}"#,
            r#"{"messages":[{"role":"assistant","content":[{"toolUse":null,"toolUse":{"toolUseId":"t","name":"f","input":{}}}]}]}"#,
            r#"{"messages":[{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","name":"f","name":"g"}}]}]}"#,
            // An `input` that is not an object.
            r#"{"messages":[{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","name":"f","input":[1]}}]}]}"#,
            // A repeated `toolConfig` (the reference adds up its tools), `tools`, tool name.
            r#"{"messages":[],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}]},"toolConfig":{"tools":[{"toolSpec":{"name":"g","inputSchema":{"json":{}}}}]}}"#,
            r#"{"messages":[],"toolConfig":{"tools":null,"tools":[{"toolSpec":{"name":"g","inputSchema":{"json":{}}}}]}}"#,
            r#"{"messages":[],"toolConfig":{"tools":[{"toolSpec":{"name":"f","name":null,"inputSchema":{"json":{}}}}]}}"#,
            // Not an object.
            r#"{"messages":[],"toolConfig":[]}"#,
        ] {
            check(body.as_bytes(), false);
            decode_by_value(body.as_bytes(), Some("m"), true).expect(body);
        }
        // Bytes that are not UTF-8, in an `input` (whose text the pass keeps as written).
        let mut body =
            br#"{"messages":[{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","name":"f","input":{"k":"#
                .to_vec();
        body.extend_from_slice(b"\"\xd6\xd6\"}}}]}]}");
        assert!(read(&body, Some("m"), false).is_none());
        crate::formats::bedrock::decode_request(&body, Some("m"), false).unwrap_err();
        // Refusals: the reference names the field.
        for (body, field) in [
            (r#"{"messages":[]} {}"#, ""),
            (r#"{"messages":[{"role":"bot","content":[]}]}"#, "messages[0].role"),
            (
                r#"{"messages":[{"role":"user","content":[{"text":"a","image":{}}]}]}"#,
                "messages[0].content[0]",
            ),
            (
                r#"{"messages":[{"role":"user","content":[{}]}]}"#,
                "messages[0].content[0]",
            ),
            (
                r#"{"messages":[{"role":"user","content":[{"video":{}}]}]}"#,
                "messages[0].content[0].video",
            ),
            (
                r#"{"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"t","content":[{"text":"a","json":{}}]}}]}]}"#,
                "messages[0].content[0].toolResult.content[0]",
            ),
            (
                r#"{"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"t","status":1}}]}]}"#,
                "messages[0].content[0].toolResult.status",
            ),
            (
                r#"{"messages":[{"role":"assistant","content":[{"toolUse":{"name":"f"}}]}]}"#,
                "messages[0].content[0].toolUse.toolUseId",
            ),
            (
                r#"{"messages":[],"toolConfig":{"tools":[{"systemTool":{"name":"web"}}]}}"#,
                "toolConfig.tools[0].systemTool",
            ),
            (
                r#"{"messages":[],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}},"cachePoint":{}}]}}"#,
                "toolConfig.tools[0]",
            ),
            (
                r#"{"messages":[],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":null}}}]}}"#,
                "toolConfig.tools[0].toolSpec.inputSchema.json",
            ),
            (
                r#"{"messages":[],"toolConfig":{"tools":[{"toolSpec":{"name":null,"inputSchema":{"json":{}}}}]}}"#,
                "toolConfig.tools[0].toolSpec.name",
            ),
            (
                r#"{"messages":[],"toolConfig":{"tools":[{"toolSpec":{"name":"f","strict":"yes","inputSchema":{"json":{}}}}]}}"#,
                "toolConfig.tools[0].toolSpec.strict",
            ),
            (
                r#"{"messages":[],"toolConfig":{"toolChoice":{"none":{}}}}"#,
                "toolConfig.toolChoice.none",
            ),
            (r#"{"messages":[],"toolConfig":{"tools":{}}}"#, "toolConfig.tools"),
        ] {
            assert!(read(body.as_bytes(), Some("m"), false).is_none(), "{body}");
            let e = crate::formats::bedrock::decode_request(body.as_bytes(), Some("m"), false).unwrap_err();
            assert_eq!(e.field, field, "{body}");
        }
    }
}
