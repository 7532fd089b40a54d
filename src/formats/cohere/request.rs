//! Cohere v2 chat requests (PROTOCOLS 7.2) <-> canonical `ChatRequest`.
//!
//! Integration: `decode_request` reads a client's `/v2/chat` body. Provider: `encode_request`
//! writes one for a Cohere upstream. Rules that keep both directions honest:
//! - `system` messages (anywhere) become the canonical system prompt;
//! - `tool` messages become `Part::ToolResult`s of one user turn (consecutive ones merge, and a
//!   user message right after them joins the same turn); on encode every result is its own `tool`
//!   message, placed before the rest of that user turn;
//! - an assistant `tool_plan` becomes a text part tagged with the Cohere extra `tool_plan: true`,
//!   so it returns to `tool_plan` for a Cohere upstream and reads as plain text elsewhere; on
//!   encode, all text of a turn with tool calls is its `tool_plan` (Cohere refuses it as content);
//! - fields only Cohere has travel in `ChatRequest.extra`.

use super::types::*;
use super::{is_tool_plan, tool_plan_extra};
use crate::canonical::{
    image_detail, image_source_from_url, push_sparing, token_limit, ChatRequest, ConvertError, Extra, ImageSource,
    Json, JsonPath, Message, Part, Reasoning, ResponseFormat, Role, Schema, Tool, ToolChoice, ToolResultContent,
};
use crate::formats::{tool_media, Format};
use crate::wire::json::KeySeed;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use sonic_rs::{JsonValueTrait, LazyValue};
use std::borrow::Cow;

/// Top-level keys `decode_request` models; everything else goes to `extra`.
const MODELED: &[&str] = &[
    "model",
    "messages",
    "tools",
    "strict_tools",
    "response_format",
    "max_tokens",
    "stop_sequences",
    "temperature",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "k",
    "p",
    "tool_choice",
    "stream",
];

pub(super) fn parse<'de, T: Deserialize<'de>>(raw: &'de str, path: &JsonPath<'_>) -> Result<T, ConvertError> {
    sonic_rs::from_str(raw)
        .map_err(|e| ConvertError::new(path, format!("invalid value: {}", crate::wire::json::brief_value(&e))))
}

/// A message's `content` as items to match on (absent: none).
fn content_items(content: Option<CohereContentIn>) -> CohereContentIn {
    content.unwrap_or(CohereContentIn::Items(Vec::new()))
}

/// Why the messages could not be read, naming the field: the messages read again one field
/// (and content item) at a time. Runs only after the one-pass read refused them.
#[cold]
fn locate_message_error(raw: &str, mpath: &JsonPath<'_>, e: &sonic_rs::Error) -> ConvertError {
    let named = || -> Result<(), ConvertError> {
        let list: Vec<LazyValue<'_>> = parse(raw, mpath)?;
        for (i, m) in list.iter().enumerate() {
            let path = mpath.index(i);
            for field in sonic_rs::to_object_iter(m.as_raw_str()) {
                let (key, value) = field.map_err(|_| ConvertError::new(path, "must be an object"))?;
                let fpath = path.key(&key);
                let raw = value.as_raw_str();
                match &*key {
                    "role" | "tool_plan" | "tool_call_id" => drop(parse::<Option<String>>(raw, &fpath)?),
                    "tool_calls" => {
                        for (j, call) in parse::<Option<Vec<LazyValue<'_>>>>(raw, &fpath)?
                            .iter()
                            .flatten()
                            .enumerate()
                        {
                            parse::<CohereToolCallIn>(call.as_raw_str(), &fpath.index(j))?;
                        }
                    }
                    "content" => match raw.trim_start().as_bytes().first() {
                        Some(b'"') => drop(parse::<String>(raw, &fpath)?),
                        Some(b'[') => {
                            for (j, item) in parse::<Vec<LazyValue<'_>>>(raw, &fpath)?.iter().enumerate() {
                                parse::<CohereContentItemIn>(item.as_raw_str(), &fpath.index(j))?;
                            }
                        }
                        Some(b'n') => {}
                        _ => return Err(ConvertError::new(fpath, "must be a string or an array")),
                    },
                    _ => {}
                }
            }
        }
        Ok(())
    };
    named()
        .err()
        .unwrap_or_else(|| ConvertError::new(mpath, format!("invalid value: {}", crate::wire::json::brief_value(e))))
}

fn item_text(item: CohereContentItemIn, path: &JsonPath<'_>) -> Result<String, ConvertError> {
    item.text
        .ok_or_else(|| ConvertError::new(path.key("text"), "missing text"))
}

fn image_part(item: CohereContentItemIn, path: &JsonPath<'_>) -> Result<Part, ConvertError> {
    let img = item.image_url.unwrap_or_default();
    let url_path = || String::from(path.key("image_url").key("url"));
    let url = img.url.ok_or_else(|| ConvertError::new(url_path(), "missing url"))?;
    let source = image_source_from_url(&url).map_err(|why| ConvertError::new(url_path(), why))?;
    let mut extra = Extra::default();
    if let Some(detail) = img.detail.filter(|d| !d.is_null()) {
        extra = Extra::new(Format::Cohere);
        extra.push("detail", detail);
    }
    Ok(Part::Image { source, extra })
}

fn user_parts(m: CohereMessageIn, path: &JsonPath<'_>) -> Result<Vec<Part>, ConvertError> {
    let path = path.key("content");
    let items = match content_items(m.content) {
        CohereContentIn::Text(t) => return Ok(vec![Part::text(t)]),
        CohereContentIn::Items(items) => items,
    };
    let mut parts = Vec::with_capacity(items.len());
    for (j, item) in items.into_iter().enumerate() {
        let p = path.index(j);
        match item.kind.as_deref() {
            Some("text") => parts.push(Part::text(item_text(item, &p)?)),
            Some("image_url") => parts.push(image_part(item, &p)?),
            other => return Err(unsupported(&p, other, "user")),
        }
    }
    Ok(parts)
}

fn system_parts(m: CohereMessageIn, path: &JsonPath<'_>, out: &mut Vec<Part>) -> Result<(), ConvertError> {
    let path = path.key("content");
    let items = match content_items(m.content) {
        CohereContentIn::Text(t) => {
            push_sparing(out, Part::text(t));
            return Ok(());
        }
        CohereContentIn::Items(items) => items,
    };
    for (j, item) in items.into_iter().enumerate() {
        let p = path.index(j);
        match item.kind.as_deref() {
            Some("text") => out.push(Part::text(item_text(item, &p)?)),
            other => return Err(unsupported(&p, other, "system")),
        }
    }
    Ok(())
}

#[cold]
fn unsupported(path: &JsonPath<'_>, kind: Option<&str>, role: &str) -> ConvertError {
    match kind {
        Some(k) => ConvertError::new(
            path.key("type"),
            format!("content type {k:?} is not supported in a {role} message"),
        ),
        None => ConvertError::new(path.key("type"), "missing type"),
    }
}

/// Tool-call arguments as JSON text (absent or `null`: `{}`).
fn arguments_text(args: Option<CohereArgumentsIn>) -> String {
    args.map_or_else(|| "{}".to_string(), |a| a.0)
}

/// Assistant content items, then the tool plan, then the tool calls (the order they happen in).
pub(super) fn assistant_parts(
    m: CohereMessageIn,
    path: &JsonPath<'_>,
    strict: bool,
) -> Result<Vec<Part>, ConvertError> {
    let cpath = path.key("content");
    let mut parts = Vec::new();
    match content_items(m.content) {
        CohereContentIn::Text(t) => push_sparing(&mut parts, Part::text(t)),
        CohereContentIn::Items(items) => {
            parts.reserve(items.len());
            for (j, item) in items.into_iter().enumerate() {
                let p = cpath.index(j);
                match item.kind.as_deref() {
                    Some("text") => parts.push(Part::text(item_text(item, &p)?)),
                    Some("thinking") => parts.push(Part::Thinking {
                        text: item.thinking.unwrap_or_default(),
                        signature: None,
                    }),
                    // Responses may grow new item types; a request must be understood in full.
                    other if strict => return Err(unsupported(&p, other, "assistant")),
                    _ => {}
                }
            }
        }
    }
    if let Some(plan) = m.tool_plan.filter(|p| !p.is_empty()) {
        push_sparing(
            &mut parts,
            Part::Text {
                text: plan,
                extra: tool_plan_extra(),
            },
        );
    }
    if let Some(calls) = m.tool_calls {
        let tpath = path.key("tool_calls");
        parts.reserve_exact(calls.len());
        for (j, call) in calls.into_iter().enumerate() {
            let p = tpath.index(j);
            let function = call.function.unwrap_or_default();
            let name = function
                .name
                .ok_or_else(|| ConvertError::new(p.key("function").key("name"), "missing name"))?;
            parts.push(Part::ToolCall {
                id: call.id.ok_or_else(|| ConvertError::new(p.key("id"), "missing id"))?,
                name,
                arguments: arguments_text(function.arguments),
                signature: None,
                extra: Extra::default(),
            });
        }
    }
    Ok(parts)
}

fn tool_result(m: CohereMessageIn, path: &JsonPath<'_>) -> Result<Part, ConvertError> {
    let id = m
        .tool_call_id
        .ok_or_else(|| ConvertError::new(path.key("tool_call_id"), "missing tool_call_id"))?;
    let cpath = path.key("content");
    let mut content = Vec::new();
    match content_items(m.content) {
        CohereContentIn::Text(t) => push_sparing(&mut content, ToolResultContent::Text(t)),
        CohereContentIn::Items(items) => {
            content.reserve(items.len());
            for (j, item) in items.into_iter().enumerate() {
                let p = cpath.index(j);
                match item.kind.as_deref() {
                    Some("text") => content.push(ToolResultContent::Text(item_text(item, &p)?)),
                    Some("document") => {
                        let doc = item.document.unwrap_or_default();
                        let data = doc
                            .data
                            .ok_or_else(|| ConvertError::new(p.key("document").key("data"), "missing data"))?;
                        content.push(ToolResultContent::Json(data));
                    }
                    other => return Err(unsupported(&p, other, "tool")),
                }
            }
        }
    }
    Ok(Part::ToolResult {
        id,
        // Named after its call once every message is read (`name_tool_results`).
        name: None,
        content,
        is_error: false,
        extra: Extra::default(),
    })
}

fn tool_def(t: CohereToolIn, path: &JsonPath<'_>) -> Result<Tool, ConvertError> {
    if let Some(kind) = t.kind.as_deref().filter(|k| *k != "function") {
        return Err(ConvertError::new(
            path.key("type"),
            format!("tool type {kind:?} is not supported"),
        ));
    }
    let f = t
        .function
        .ok_or_else(|| ConvertError::new(path.key("function"), "missing function"))?;
    Ok(Tool {
        name: f
            .name
            .ok_or_else(|| ConvertError::new(path.key("function").key("name"), "missing name"))?,
        description: f.description,
        parameters: f.parameters.unwrap_or_else(Schema::no_arguments),
        strict: None,
        extra: Extra::default(),
    })
}

/// A body whose top level is not a JSON object (or not JSON), as the client's 400.
#[cold]
pub(super) fn not_an_object(e: sonic_rs::Error) -> ConvertError {
    ConvertError::new(
        "",
        format!(
            "request body is not a valid JSON object: {}",
            crate::wire::json::brief(&e)
        ),
    )
}

/// A `response_format` (`type` and the schema, v2's `json_schema` or v1's `schema`) as
/// canonical. Cohere schemas have no name; "response" is what other formats get.
pub(super) fn response_format(kind: Option<&str>, schema: Option<Schema>) -> Result<ResponseFormat, ConvertError> {
    Ok(match (kind, schema) {
        (Some("text"), _) => ResponseFormat::Text,
        (Some("json_object"), Some(schema)) if schema.as_str() != "null" => ResponseFormat::JsonSchema {
            name: "response".into(),
            schema,
            strict: None,
        },
        (Some("json_object"), _) => ResponseFormat::JsonObject,
        (other, _) => {
            return Err(ConvertError::new(
                "response_format.type",
                format!("unsupported response format {other:?}"),
            ))
        }
    })
}

/// The generation settings v1 and v2 share (`max_tokens`, `stop_sequences`, `temperature`,
/// `seed`, penalties, `p`, `k`, `stream`), read into `req`; false for any other key.
pub(super) fn sampling(
    req: &mut ChatRequest,
    key: &str,
    v: &mut impl FieldValue,
    kp: &JsonPath<'_>,
) -> Result<bool, ConvertError> {
    match key {
        "max_tokens" => req.max_tokens = v.read::<Option<u32>>()?.map(|n| token_limit(n, kp)).transpose()?,
        "stop_sequences" => req.stop = v.read::<Option<Vec<String>>>()?.unwrap_or_default(),
        "temperature" => req.temperature = v.read()?,
        "seed" => req.seed = v.read()?,
        "frequency_penalty" => req.frequency_penalty = v.read()?,
        "presence_penalty" => req.presence_penalty = v.read()?,
        "p" => req.top_p = v.read()?,
        "k" => {
            req.top_k = match v.read::<Option<f64>>()? {
                None => None,
                Some(k) if k >= 0.0 && k.fract() == 0.0 && k <= u32::MAX as f64 => Some(k as u32),
                Some(_) => return Err(ConvertError::new(key, "must be a non-negative integer")),
            }
        }
        "stream" => req.stream = v.read::<Option<bool>>()?.unwrap_or(false),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Cohere's bounds on the sampling settings other formats set wider (SDK `v2/raw_client.py`):
/// `p` 0.01 to 0.99 (OpenAI's `top_p` goes to 1, a value many clients send), `k` at most 500,
/// penalties 0 to 1 (OpenAI's go from -2 to 2).
pub(crate) const P_RANGE: (f64, f64) = (0.01, 0.99);
pub(crate) const MAX_K: u32 = 500;
pub(crate) const PENALTY_RANGE: (f64, f64) = (0.0, 1.0);

/// A request's sampling settings fitted to Cohere's bounds: a value outside is the nearest one
/// Cohere takes (as the temperature for Anthropic), which the API would otherwise refuse.
pub(super) struct CohereSampling {
    pub p: Option<f64>,
    pub k: Option<u32>,
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
}

impl CohereSampling {
    pub(super) fn of(req: &ChatRequest) -> CohereSampling {
        let within = |v: Option<f64>, (lo, hi): (f64, f64)| v.map(|x| if x.is_nan() { x } else { x.clamp(lo, hi) });
        CohereSampling {
            p: within(req.top_p, P_RANGE),
            k: req.top_k.map(|k| k.min(MAX_K)),
            frequency_penalty: within(req.frequency_penalty, PENALTY_RANGE),
            presence_penalty: within(req.presence_penalty, PENALTY_RANGE),
        }
    }
}

/// A top-level value of a request body, read where its decoder found it: by the one-pass read
/// (`OnePass`), or from its own text (`LazyField`), which names the field a refusal is about.
pub(super) trait FieldValue {
    fn read<T: DeserializeOwned>(&mut self) -> Result<T, ConvertError>;

    /// The `/v2/chat` messages (the lazy reading names the message field it refused).
    fn read_messages(&mut self) -> Result<Vec<CohereMessageIn>, ConvertError> {
        self.read()
    }
}

/// A value as its own JSON text, at `path`.
pub(super) struct LazyField<'a, 'p> {
    pub raw: &'a str,
    pub path: &'p JsonPath<'p>,
}

impl FieldValue for LazyField<'_, '_> {
    fn read<T: DeserializeOwned>(&mut self) -> Result<T, ConvertError> {
        parse(self.raw, self.path)
    }

    fn read_messages(&mut self) -> Result<Vec<CohereMessageIn>, ConvertError> {
        sonic_rs::from_str(self.raw).map_err(|e| locate_message_error(self.raw, self.path, &e))
    }
}

/// The value after the key the one-pass read is at.
struct MapValue<'m, A>(&'m mut A);

impl<'de, A: MapAccess<'de>> FieldValue for MapValue<'_, A> {
    fn read<T: DeserializeOwned>(&mut self) -> Result<T, ConvertError> {
        // The error only stops the pass: `decode_request` then reads the body lazily, which
        // names the field.
        self.0
            .next_value()
            .map_err(|_| ConvertError::new("", "refused by the one-pass read"))
    }
}

/// What the top level of a `/v2/chat` body says, before the request is put together.
struct Body {
    req: ChatRequest,
    model: Option<String>,
    messages: Option<Vec<CohereMessageIn>>,
    strict_tools: Option<bool>,
}

impl Body {
    fn new() -> Body {
        Body {
            req: ChatRequest {
                extra: Extra::new(Format::Cohere),
                // Cohere always reports usage, streaming or not.
                include_usage: true,
                ..Default::default()
            },
            model: None,
            messages: None,
            strict_tools: None,
        }
    }

    /// One top-level member into the request (of a repeated key, the last one counts).
    fn field(&mut self, key: &str, v: &mut impl FieldValue, kp: &JsonPath<'_>) -> Result<(), ConvertError> {
        let req = &mut self.req;
        match key {
            "model" => self.model = v.read()?,
            "messages" => self.messages = Some(v.read_messages()?),
            "tools" => {
                let tools: Vec<CohereToolIn> = v.read::<Option<_>>()?.unwrap_or_default();
                // A repeated `tools` replaces the earlier one, as every other key does.
                req.tools.clear();
                req.tools.reserve(tools.len());
                for (i, t) in tools.into_iter().enumerate() {
                    req.tools.push(tool_def(t, &kp.index(i))?);
                }
            }
            "strict_tools" => self.strict_tools = v.read()?,
            "response_format" => {
                req.response_format = match v.read::<Option<CohereResponseFormatIn>>()? {
                    None => None,
                    Some(rf) => Some(response_format(rf.kind.as_deref(), rf.json_schema)?),
                };
            }
            _ if sampling(req, key, v, kp)? => {}
            "tool_choice" => {
                req.tool_choice = match v.read::<Option<String>>()?.as_deref() {
                    None => None,
                    Some(c) if c.eq_ignore_ascii_case("REQUIRED") => Some(ToolChoice::Required),
                    Some(c) if c.eq_ignore_ascii_case("NONE") => Some(ToolChoice::None),
                    Some(c) => return Err(ConvertError::new(key, format!("must be REQUIRED or NONE, got {c:?}"))),
                }
            }
            "thinking" => {
                let value: Json = v.read()?;
                if value.is_null() {
                    return Ok(());
                }
                let t: CohereThinkingIn = sonic_rs::from_value(&value).map_err(|e| {
                    ConvertError::new(kp, format!("invalid value: {}", crate::wire::json::brief_value(&e)))
                })?;
                match t.kind.as_deref() {
                    Some("enabled") => {
                        req.reasoning = Some(Reasoning {
                            budget_tokens: t.token_budget,
                            effort: None,
                        })
                    }
                    // `disabled` (and anything new) has no canonical meaning: keep it raw.
                    _ => req.extra.push(key, value),
                }
            }
            _ => req.extra.push(key, v.read::<Json>()?),
        }
        Ok(())
    }
}

/// A body read in one pass: every member's value straight into its type.
struct OnePass(Body);

impl<'de> Deserialize<'de> for OnePass {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<OnePass, D::Error> {
        d.deserialize_map(OnePassVisitor)
    }
}

struct OnePassVisitor;

impl<'de> Visitor<'de> for OnePassVisitor {
    type Value = OnePass;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OnePass, A::Error> {
        let mut body = Body::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let kp = JsonPath::ROOT.key(&key);
            body.field(&key, &mut MapValue(&mut map), &kp)
                .map_err(|_| serde::de::Error::custom("refused"))?;
        }
        Ok(OnePass(body))
    }
}

/// The body read one member at a time, each from its own text: slower than `OnePass`, but a
/// refusal names its field.
#[cold]
fn read_lazily(body: &[u8]) -> Result<Body, ConvertError> {
    let mut read = Body::new();
    for entry in sonic_rs::to_object_iter(body) {
        let (key, value) = entry.map_err(not_an_object)?;
        let kp = JsonPath::ROOT.key(&key);
        read.field(
            &key,
            &mut LazyField {
                raw: value.as_raw_str(),
                path: &kp,
            },
            &kp,
        )?;
    }
    Ok(read)
}

/// Integration: a client's `/v2/chat` body -> canonical. `stream` comes from the body.
pub fn decode_request(body: &[u8], path_model: Option<&str>, _stream: bool) -> Result<ChatRequest, ConvertError> {
    // One pass over the body; only a body it refuses is read again, to name the field. The
    // body is checked as UTF-8 whole first: a tool's schema is read as a `LazyValue`, whose raw
    // text sonic-rs would take as a `str` before its own check.
    let one_pass = crate::wire::json::utf8(body)
        .ok()
        .and_then(|text| sonic_rs::from_str::<OnePass>(text).ok());
    let read = match one_pass {
        Some(OnePass(read)) => read,
        None => read_lazily(body)?,
    };
    build(read, path_model)
}

/// The lazy reading alone (the fuzz target holds the one-pass reading to it).
pub(crate) fn decode_request_lazily(body: &[u8], path_model: Option<&str>) -> Result<ChatRequest, ConvertError> {
    build(read_lazily(body)?, path_model)
}

fn build(read: Body, path_model: Option<&str>) -> Result<ChatRequest, ConvertError> {
    let Body {
        mut req,
        model,
        messages,
        strict_tools,
    } = read;
    req.model = match model.filter(|m| !m.is_empty()) {
        Some(m) => m,
        None => path_model
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .ok_or_else(|| ConvertError::new("model", "missing model"))?,
    };
    // One flag for every tool (without tools it says nothing).
    if strict_tools.is_some() {
        for t in &mut req.tools {
            t.strict = strict_tools;
        }
    }
    let raw_messages = messages.ok_or_else(|| ConvertError::new("messages", "missing messages"))?;
    let mpath = JsonPath::ROOT.key("messages");
    req.messages.reserve(raw_messages.len());
    // Whether the last canonical message is the user turn that tool messages opened.
    let mut in_tool_turn = false;
    let mut any_result = false;
    for (i, m) in raw_messages.into_iter().enumerate() {
        let path = mpath.index(i);
        match m.role.as_deref() {
            Some("system") => system_parts(m, &path, &mut req.system)?,
            Some("user") => {
                let parts = user_parts(m, &path)?;
                match req.messages.last_mut() {
                    Some(last) if in_tool_turn => last.content.extend(parts),
                    _ => req.messages.push(Message {
                        role: Role::User,
                        content: parts,
                    }),
                }
                in_tool_turn = false;
            }
            Some("assistant") => {
                req.messages.push(Message {
                    role: Role::Assistant,
                    content: assistant_parts(m, &path, true)?,
                });
                in_tool_turn = false;
            }
            Some("tool") => {
                let part = tool_result(m, &path)?;
                any_result = true;
                match req.messages.last_mut() {
                    Some(last) if in_tool_turn => last.content.push(part),
                    _ => req.messages.push(Message {
                        role: Role::User,
                        content: vec![part],
                    }),
                }
                in_tool_turn = true;
            }
            Some(other) => return Err(ConvertError::new(path.key("role"), format!("unknown role {other:?}"))),
            None => return Err(ConvertError::new(path.key("role"), "missing role")),
        }
    }
    // For formats that key results by name (Gemini).
    if any_result {
        crate::canonical::name_tool_results(&mut req.messages);
    }
    Ok(req)
}

/// `content` out: a plain string for one text item, else the item array.
pub(super) fn content_out(mut items: Vec<CohereItemOut<'_>>) -> CohereContentOut<'_> {
    if items.len() == 1 {
        if let CohereItemOut::Text { text: Cow::Borrowed(t) } = items[0] {
            return CohereContentOut::Text(t);
        }
    }
    items.shrink_to_fit();
    CohereContentOut::Items(items)
}

fn image_out<'a>(source: &'a ImageSource, detail: Option<&'a Json>) -> CohereItemOut<'a> {
    let url = match source {
        ImageSource::Url(u) => Cow::Borrowed(u.as_str()),
        ImageSource::Base64 { media_type, data } => Cow::Owned(format!("data:{media_type};base64,{data}")),
    };
    CohereItemOut::ImageUrl {
        image_url: CohereImageUrlOut { url, detail },
    }
}

/// One `tool` message per tool result. Cohere has no error flag: an error result's text is
/// prefixed with "Error: " (unless it says so already: `tool_errors`) so the model still sees
/// that the call failed. Tool messages take text
/// and JSON documents only: a result's images go into `user_items` (the user message after the
/// turn's tool messages) behind a label naming the call (`tool_media`), and a result that is only
/// images says so in its tool message.
fn tool_message<'a>(
    id: &'a str,
    content: &'a [ToolResultContent],
    is_error: bool,
    path: &JsonPath<'_>,
    user_items: &mut Vec<CohereItemOut<'a>>,
) -> Result<CohereMessageOut<'a>, ConvertError> {
    let mut items = Vec::with_capacity(content.len() + 1);
    let media = tool_media::has_media(content);
    if media {
        user_items.push(CohereItemOut::Text {
            text: Cow::Owned(tool_media::label(id)),
        });
    }
    for (j, c) in content.iter().enumerate() {
        match c {
            ToolResultContent::Text(t) => items.push(CohereItemOut::Text { text: Cow::Borrowed(t) }),
            ToolResultContent::Json(v) if v.is_object() => items.push(CohereItemOut::Document {
                document: CohereDocumentOut { data: v },
            }),
            ToolResultContent::Json(v) => items.push(CohereItemOut::Text {
                text: Cow::Owned(sonic_rs::to_string(v).unwrap_or_default()),
            }),
            ToolResultContent::Image(source) => user_items.push(image_out(source, None)),
            // NOTE: Cohere chat messages take no files at all (see `push_user`).
            ToolResultContent::Document { .. } => {
                return Err(ConvertError::new(
                    path.key("content").index(j),
                    "Cohere tool results cannot carry files (a document there is a JSON object)",
                ))
            }
        }
    }
    let empty = |i: &CohereItemOut<'_>| matches!(i, CohereItemOut::Text { text } if text.is_empty());
    if media && items.iter().all(empty) {
        items = vec![CohereItemOut::Text {
            text: Cow::Owned(tool_media::note(content)),
        }];
    }
    if is_error {
        match items.first_mut() {
            Some(CohereItemOut::Text { text }) if crate::formats::tool_errors::says_error(text) => {}
            Some(CohereItemOut::Text { text }) => {
                *text = Cow::Owned(format!("{}{text}", crate::formats::tool_errors::PREFIX))
            }
            _ => items.insert(
                0,
                CohereItemOut::Text {
                    text: Cow::Borrowed("Error"),
                },
            ),
        }
    }
    if items.is_empty() {
        // Cohere requires content; an empty result is an empty string.
        items.push(CohereItemOut::Text {
            text: Cow::Borrowed(""),
        });
    }
    Ok(CohereMessageOut {
        role: "tool",
        tool_call_id: Some(id),
        tool_plan: None,
        tool_calls: Vec::new(),
        content: Some(content_out(items)),
    })
}

/// A user turn: its tool results as `tool` messages, then one `user` message with its text and
/// images, and the images its tool results returned (labelled, in the turn's order).
fn push_user<'a>(m: &'a Message, path: &JsonPath<'_>, out: &mut Vec<CohereMessageOut<'a>>) -> Result<(), ConvertError> {
    // The common case, one plain text: no item list to build.
    if let [Part::Text { text, .. }] = m.content.as_slice() {
        out.push(CohereMessageOut {
            role: "user",
            tool_call_id: None,
            tool_plan: None,
            tool_calls: Vec::new(),
            content: Some(CohereContentOut::Text(text)),
        });
        return Ok(());
    }
    let mut items = Vec::new();
    let cpath = path.key("content");
    for (k, part) in m.content.iter().enumerate() {
        let f = cpath.index(k);
        match part {
            Part::Text { text, .. } => items.push(CohereItemOut::Text {
                text: Cow::Borrowed(text),
            }),
            Part::Image { source, extra } => items.push(image_out(source, image_detail(extra, Format::Cohere))),
            // NOTE: Cohere's `documents` are grounding sources with their own citation rules,
            // not content the user shows the model; a file cannot become one without a word.
            Part::Document { .. } => {
                return Err(ConvertError::new(
                    f,
                    "Cohere chat messages cannot carry documents (PDF or text files)",
                ))
            }
            Part::ToolResult {
                id, content, is_error, ..
            } => out.push(tool_message(id, content, *is_error, &f, &mut items)?),
            Part::ToolCall { .. } => return Err(ConvertError::new(f, "a tool call cannot be in a user turn")),
            // Reasoning in a user turn has no meaning for Cohere; it is the model's own text.
            Part::Thinking { .. } | Part::RedactedThinking { .. } => {
                return Err(ConvertError::new(f, "thinking cannot be in a user turn"))
            }
        }
    }
    if !items.is_empty() {
        out.push(CohereMessageOut {
            role: "user",
            tool_call_id: None,
            tool_plan: None,
            tool_calls: Vec::new(),
            content: Some(content_out(items)),
        });
    }
    Ok(())
}

fn assistant_message<'a>(m: &'a Message, path: &JsonPath<'_>) -> Result<CohereMessageOut<'a>, ConvertError> {
    // The common case, one plain text (not a tool plan): no item list to build.
    if let [Part::Text { text, extra }] = m.content.as_slice() {
        if !is_tool_plan(extra) {
            return Ok(CohereMessageOut {
                role: "assistant",
                tool_call_id: None,
                tool_plan: None,
                tool_calls: Vec::new(),
                content: Some(CohereContentOut::Text(text)),
            });
        }
    }
    // Cohere refuses text content beside `tool_calls` (400 "text content is not allowed when
    // tool_calls are provided ... use 'tool_plan'"), so a calling turn's text, from any format,
    // is its tool plan. Thinking items may stay beside the calls.
    let has_calls = m.content.iter().any(|p| matches!(p, Part::ToolCall { .. }));
    let mut plan: Option<String> = None;
    let mut items = Vec::new();
    let mut calls = Vec::new();
    for (k, part) in m.content.iter().enumerate() {
        match part {
            Part::Text { text, extra } if has_calls || is_tool_plan(extra) => {
                plan.get_or_insert_with(String::new).push_str(text)
            }
            Part::Text { text, .. } => items.push(CohereItemOut::Text {
                text: Cow::Borrowed(text),
            }),
            // NOTE: signatures are Anthropic/Gemini-only and meaningless to Cohere.
            Part::Thinking { text, .. } => items.push(CohereItemOut::Thinking { thinking: text }),
            // NOTE: opaque encrypted reasoning only its own provider can read; not content.
            Part::RedactedThinking { .. } => {}
            Part::ToolCall {
                id, name, arguments, ..
            } => calls.push(CohereToolCallOut {
                id,
                kind: "function",
                function: CohereFunctionCallOut {
                    name,
                    arguments: if arguments.trim().is_empty() { "{}" } else { arguments },
                },
            }),
            Part::Image { .. } => {
                return Err(ConvertError::new(
                    path.key("content").index(k),
                    "Cohere assistant messages cannot carry images",
                ))
            }
            Part::Document { .. } => {
                return Err(ConvertError::new(
                    path.key("content").index(k),
                    "Cohere assistant messages cannot carry documents",
                ))
            }
            Part::ToolResult { .. } => {
                return Err(ConvertError::new(
                    path.key("content").index(k),
                    "a tool result cannot be in an assistant turn",
                ))
            }
        }
    }
    let content = if items.is_empty() {
        // Cohere needs content or tool calls in every assistant message.
        calls.is_empty().then_some(CohereContentOut::Text(""))
    } else {
        Some(content_out(items))
    };
    Ok(CohereMessageOut {
        role: "assistant",
        tool_call_id: None,
        tool_plan: plan,
        tool_calls: calls,
        content,
    })
}

/// Provider: canonical -> a `/v2/chat` body. Defaults: none needed (Cohere requires only `model`
/// and `messages`); `stream` is always written, as the SDK does.
pub fn encode_request(req: &ChatRequest) -> Result<Vec<u8>, ConvertError> {
    encode_request_with(req, |body, hint| {
        let mut out = Vec::with_capacity(hint);
        body.write(&mut out);
        out
    })
}

/// `encode_request` up to the body's structs, which `emit` (given a size hint) turns into bytes:
/// the writer of `write.rs`, or serde where the tests hold the two to the same bytes.
pub(super) fn encode_request_with(
    req: &ChatRequest,
    emit: impl FnOnce(&CohereChatRequestOut<'_>, usize) -> Vec<u8>,
) -> Result<Vec<u8>, ConvertError> {
    // Cohere's `tool_choice` is only REQUIRED or NONE: a named or allowed-tools choice is said by
    // the tools offered (`tool_choice`).
    let narrowed = crate::formats::tool_choice::narrow(req, crate::formats::tool_choice::Narrow::AllowedOrNamed)?;
    let req = narrowed.as_ref().unwrap_or(req);
    // Names other formats allow that this upstream would refuse (`tool_names::Renames` maps back).
    let renamed = crate::formats::tool_names::fit_request(req, crate::formats::tool_names::COHERE);
    let req = renamed.as_ref().unwrap_or(req);
    req.extra.refuse_lost_content(Format::Cohere)?;
    req.refuse_logprobs(Format::Cohere)?;
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if !req.system.is_empty() {
        let mut items = Vec::with_capacity(req.system.len());
        for (k, part) in req.system.iter().enumerate() {
            match part {
                Part::Text { text, .. } => items.push(CohereItemOut::Text {
                    text: Cow::Borrowed(text),
                }),
                _ => {
                    return Err(ConvertError::new(
                        format!("system[{k}]"),
                        "Cohere system messages carry text only",
                    ))
                }
            }
        }
        messages.push(CohereMessageOut {
            role: "system",
            tool_call_id: None,
            tool_plan: None,
            tool_calls: Vec::new(),
            content: Some(content_out(items)),
        });
    }
    let mpath = JsonPath::ROOT.key("messages");
    for (i, m) in req.messages.iter().enumerate() {
        let path = mpath.index(i);
        match m.role {
            Role::User => push_user(m, &path, &mut messages)?,
            Role::Assistant => messages.push(assistant_message(m, &path)?),
        }
    }
    let tools = req
        .tools
        .iter()
        .map(|t| CohereToolOut {
            kind: "function",
            function: CohereFunctionOut {
                name: &t.name,
                description: t.description.as_deref(),
                parameters: &t.parameters,
            },
        })
        .collect();
    // One flag for all tools, sent when every tool says the same.
    // NOTE: strict tools mixed with loose ones go unconstrained (no flag): constraining the loose
    // ones would refuse calls their schemas allow. The schemas still go to the model.
    let strict_tools = match req.tools.first().map(|t| t.strict) {
        Some(first @ Some(_)) if req.tools.iter().all(|t| t.strict == first) => first,
        _ => None,
    };
    // Named and allowed-tools choices were narrowed above to the mode alone.
    let tool_choice = match &req.tool_choice {
        None | Some(ToolChoice::Auto | ToolChoice::Allowed { required: false, .. }) => None,
        Some(ToolChoice::None) => Some("NONE"),
        Some(ToolChoice::Required | ToolChoice::Named(_) | ToolChoice::Allowed { required: true, .. }) => {
            Some("REQUIRED")
        }
    };
    let response_format = req.response_format.as_ref().map(|rf| match rf {
        ResponseFormat::Text => CohereResponseFormatOut {
            kind: "text",
            json_schema: None,
        },
        ResponseFormat::JsonObject => CohereResponseFormatOut {
            kind: "json_object",
            json_schema: None,
        },
        // NOTE: Cohere schemas have no name and are always enforced, so name/strict are moot.
        ResponseFormat::JsonSchema { schema, .. } => CohereResponseFormatOut {
            kind: "json_object",
            json_schema: Some(schema),
        },
    });
    // NOTE: an effort level without a budget becomes plain "enabled" (Cohere has no levels).
    // A zero budget (Gemini's "no thinking") or effort `none` is "disabled": Cohere takes only a
    // positive `token_budget`, and "enabled" alone would turn thinking on.
    let thinking = req.reasoning.as_ref().map(|r| {
        let off = r.budget_tokens == Some(0) || r.effort.as_deref() == Some("none");
        CohereThinkingOut {
            kind: if off { "disabled" } else { "enabled" },
            token_budget: r.budget_tokens.filter(|_| !off),
        }
    });
    let extra = req
        .extra
        .for_target(Format::Cohere)
        .iter()
        .filter(|(n, _)| !(MODELED.contains(&n.as_str()) || (n == "thinking" && thinking.is_some())))
        .collect();
    // NOTE: `parallel_tool_calls` has no Cohere equivalent; Cohere may always call in parallel.
    let sampling = CohereSampling::of(req);
    let out = CohereChatRequestOut {
        model: &req.model,
        messages,
        tools,
        strict_tools,
        response_format,
        max_tokens: req.max_tokens,
        stop_sequences: &req.stop,
        temperature: req.temperature,
        seed: req.seed,
        frequency_penalty: sampling.frequency_penalty,
        presence_penalty: sampling.presence_penalty,
        k: sampling.k,
        p: sampling.p,
        tool_choice,
        thinking,
        extra: CohereExtraOut(extra),
        stream: req.stream,
    };
    Ok(emit(&out, req.encoded_len_hint()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::Json;
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};

    const FIXTURE: &[u8] = include_bytes!("fixtures/request.json");
    const EXTRAS: &[u8] = include_bytes!("fixtures/request_extras.json");

    fn json(b: &[u8]) -> Json {
        sonic_rs::from_slice(b).unwrap()
    }

    /// Every top-level field of `a` equals the same field of `b`, and the key sets match.
    fn assert_same_fields(a: &Json, b: &Json) {
        let (ao, bo) = (a.as_object().unwrap(), b.as_object().unwrap());
        for (k, v) in ao.iter() {
            assert_eq!(Some(v), bo.get(&k), "field {k}");
        }
        assert_eq!(ao.len(), bo.len(), "{a:?}\nvs\n{b:?}");
    }

    #[test]
    fn protocols_fixture_decodes() {
        let r = decode_request(FIXTURE, None, true).unwrap();
        assert_eq!(r.model, "command-a-03-2025");
        assert_eq!(r.system, vec![Part::text("Be brief")]);
        assert_eq!(r.messages.len(), 3);
        assert_eq!(r.messages[0].role, Role::User);
        assert_eq!(r.messages[0].content[0], Part::text("Weather?"));
        assert_eq!(
            r.messages[0].content[1],
            Part::Image {
                source: ImageSource::Base64 {
                    media_type: "image/png".into(),
                    data: "iVBORw0KGgo=".into()
                },
                extra: Extra::default()
            }
        );
        let a = &r.messages[1];
        assert_eq!(a.role, Role::Assistant);
        assert!(matches!(&a.content[0], Part::Text { text, extra } if text == "I will call" && is_tool_plan(extra)));
        assert_eq!(
            a.content[1],
            Part::ToolCall {
                id: "call_0".into(),
                name: "get_weather".into(),
                arguments: "{\"city\":\"Rome\"}".into(),
                signature: None,
                extra: Extra::default()
            }
        );
        assert_eq!(
            r.messages[2].content,
            vec![Part::ToolResult {
                id: "call_0".into(),
                name: Some("get_weather".into()),
                content: vec![ToolResultContent::Text("sunny".into())],
                is_error: false,
                extra: Extra::default()
            }]
        );
        assert_eq!(r.tools.len(), 1);
        assert_eq!(r.tools[0].name, "get_weather");
        assert_eq!(r.tools[0].description.as_deref(), Some("w"));
        assert_eq!(r.max_tokens, Some(50));
        assert_eq!(r.stop, vec!["END".to_string()]);
        assert_eq!(r.temperature, Some(0.2));
        assert_eq!(r.top_k, Some(40));
        assert_eq!(r.top_p, Some(0.9));
        assert!(!r.stream, "stream comes from the body, not the argument");
        assert!(r.extra.is_empty());
    }

    #[test]
    fn protocols_fixture_encodes_back_field_by_field() {
        let r = decode_request(FIXTURE, None, false).unwrap();
        let out = encode_request(&r).unwrap();
        assert_same_fields(&json(&out), &json(FIXTURE));
    }

    #[test]
    fn cohere_only_fields_travel_as_extra_and_come_back() {
        let r = decode_request(EXTRAS, None, false).unwrap();
        let names: Vec<&str> = r.extra.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["safety_mode", "priority"]);
        assert_eq!(r.tool_choice, Some(ToolChoice::None));
        assert_eq!(r.seed, Some(7));
        assert_eq!(
            r.reasoning,
            Some(Reasoning {
                budget_tokens: Some(2048),
                effort: None
            })
        );
        assert!(matches!(
            &r.response_format,
            Some(ResponseFormat::JsonSchema { schema, .. }) if schema.value().get("type").and_then(|t| t.as_str()) == Some("object")
        ));
        assert_eq!(
            r.messages[1].content[0],
            Part::Thinking {
                text: "Two cities.".into(),
                signature: None
            }
        );
        assert!(matches!(
            &r.messages[2].content[1],
            Part::Image { source: ImageSource::Url(u), extra } if u == "https://example.com/a.png" && extra.get("detail").is_some()
        ));
        let out = encode_request(&r).unwrap();
        assert_same_fields(&json(&out), &json(EXTRAS));
        // Another format's request never gets Cohere's extras.
        let mut foreign = r.clone();
        foreign.extra.format = Some(Format::OpenAi);
        let v = json(&encode_request(&foreign).unwrap());
        assert!(v.get("safety_mode").is_none());
    }

    /// OpenAI's and Cohere's images share `detail`: a client's hint (its cost and resolution)
    /// reaches the other, as far as the other has the value (OpenAI's `original` is OpenAI's).
    #[test]
    fn image_detail_crosses_between_openai_and_cohere() {
        let openai = |detail: &str| {
            let body = format!(
                r#"{{"model":"m","messages":[{{"role":"user","content":[{{"type":"image_url","image_url":{{"url":"https://x/a.png","detail":"{detail}"}}}}]}}]}}"#
            );
            crate::formats::openai::decode_request(body.as_bytes(), None, false).unwrap()
        };
        let detail = |v: &Json| {
            v.pointer(&sonic_rs::pointer!["messages", 0, "content", 0, "image_url", "detail"])
                .cloned()
        };
        assert_eq!(
            detail(&json(&encode_request(&openai("low")).unwrap())),
            Some(Json::from("low"))
        );
        assert_eq!(detail(&json(&encode_request(&openai("original")).unwrap())), None);
        let body = br#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/a.png","detail":"high"}}]}]}"#;
        let r = decode_request(body, None, false).unwrap();
        let v = json(&crate::formats::openai::encode_request(&r).unwrap());
        assert_eq!(detail(&v), Some(Json::from("high")));
    }

    #[test]
    fn disabled_thinking_is_kept_raw() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"thinking":{"type":"disabled"}}"#;
        let r = decode_request(body, None, false).unwrap();
        assert_eq!(r.reasoning, None);
        let v = json(&encode_request(&r).unwrap());
        assert_eq!(
            v.pointer(&["thinking", "type"]).and_then(|t| t.as_str()),
            Some("disabled")
        );
    }

    #[test]
    fn sampling_settings_outside_cohere_bounds_become_the_nearest_it_takes() {
        let hi = |p: f64, k: u32, pen: f64| ChatRequest {
            model: "m".into(),
            messages: vec![Message {
                role: Role::User,
                content: vec![Part::text("hi")],
            }],
            top_p: Some(p),
            top_k: Some(k),
            frequency_penalty: Some(pen),
            presence_penalty: Some(-pen),
            ..Default::default()
        };
        // OpenAI's top_p of 1 and penalties of -2..2, an Anthropic client's top_k of 1000.
        let v = json(&encode_request(&hi(1.0, 1000, 1.5)).unwrap());
        assert_eq!(v["p"].as_f64(), Some(0.99));
        assert_eq!(v["k"].as_u64(), Some(500));
        assert_eq!(v["frequency_penalty"].as_f64(), Some(1.0));
        assert_eq!(v["presence_penalty"].as_f64(), Some(0.0));
        let v = json(&encode_request(&hi(0.0, 0, 0.5)).unwrap());
        assert_eq!(v["p"].as_f64(), Some(0.01));
        assert_eq!(v["k"].as_u64(), Some(0));
        assert_eq!(v["frequency_penalty"].as_f64(), Some(0.5));
        assert_eq!(v["presence_penalty"].as_f64(), Some(0.0));
        // Values inside the bounds go as they are.
        let v = json(&encode_request(&hi(0.8, 40, 0.25)).unwrap());
        assert_eq!((v["p"].as_f64(), v["k"].as_u64()), (Some(0.8), Some(40)));
        assert_eq!(v["frequency_penalty"].as_f64(), Some(0.25));
    }

    #[test]
    fn a_zero_budget_or_no_effort_is_disabled_thinking() {
        for (budget, effort) in [(Some(0), None), (None, Some("none")), (Some(0), Some("low"))] {
            let req = ChatRequest {
                model: "m".into(),
                messages: vec![Message {
                    role: Role::User,
                    content: vec![Part::text("hi")],
                }],
                reasoning: Some(Reasoning {
                    budget_tokens: budget,
                    effort: effort.map(str::to_string),
                }),
                ..Default::default()
            };
            let v = json(&encode_request(&req).unwrap());
            assert_eq!(
                v["thinking"],
                sonic_rs::json!({"type": "disabled"}),
                "{budget:?} {effort:?}"
            );
        }
        let mut req = full_canonical();
        req.extra = Extra::new(Format::Gemini);
        let v = json(&encode_request(&req).unwrap());
        assert_eq!(
            v["thinking"],
            sonic_rs::json!({"type": "enabled", "token_budget": 1000})
        );
    }

    #[test]
    fn text_beside_tool_calls_is_the_tool_plan() {
        let call = Part::ToolCall {
            id: "c1".into(),
            name: "f".into(),
            arguments: "{}".into(),
            signature: None,
            extra: Extra::default(),
        };
        let thinking = Part::Thinking {
            text: "hmm".into(),
            signature: Some("sig".into()),
        };
        let req = ChatRequest {
            model: "m".into(),
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![Part::text("q")],
                },
                // Anthropic's shape: thinking, text blocks, then the call.
                Message {
                    role: Role::Assistant,
                    content: vec![thinking, Part::text("Let me "), Part::text("check."), call],
                },
            ],
            extra: Extra::new(Format::Anthropic),
            ..Default::default()
        };
        let v = json(&encode_request(&req).unwrap());
        let a = &v["messages"][1];
        assert_eq!(a["tool_plan"].as_str(), Some("Let me check."));
        assert_eq!(a["content"], sonic_rs::json!([{"type": "thinking", "thinking": "hmm"}]));
        assert_eq!(a["tool_calls"][0]["id"].as_str(), Some("c1"));
        // Without calls, text stays content.
        let mut plain = req.clone();
        plain.messages[1].content.pop();
        let v = json(&encode_request(&plain).unwrap());
        assert!(v["messages"][1].get("tool_plan").is_none());
        assert_eq!(v["messages"][1]["content"][1]["text"].as_str(), Some("Let me "));
    }

    #[test]
    fn tool_messages_merge_into_one_user_turn_and_split_back() {
        let body = br#"{"model":"m","messages":[
            {"role":"user","content":"weather in two cities?"},
            {"role":"assistant","tool_calls":[
                {"id":"a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"b","type":"function","function":{"name":"get_time","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"a","content":[{"type":"text","text":"sunny"}]},
            {"role":"tool","tool_call_id":"b","content":[{"type":"document","document":{"data":{"time":"noon"}}}]},
            {"role":"user","content":"thanks"}]}"#;
        let r = decode_request(body, None, false).unwrap();
        assert_eq!(r.messages.len(), 3);
        let turn = &r.messages[2].content;
        assert_eq!(turn.len(), 3);
        assert!(matches!(&turn[0], Part::ToolResult { id, name: Some(n), .. } if id == "a" && n == "get_weather"));
        assert!(matches!(&turn[1], Part::ToolResult { id, name: Some(n), content, .. }
            if id == "b" && n == "get_time" && matches!(&content[0], ToolResultContent::Json(_))));
        assert_eq!(turn[2], Part::text("thanks"));
        let v = json(&encode_request(&r).unwrap());
        let msgs = v.get("messages").unwrap().as_array().unwrap();
        let roles: Vec<&str> = msgs.iter().map(|m| m.get("role").unwrap().as_str().unwrap()).collect();
        assert_eq!(roles, ["user", "assistant", "tool", "tool", "user"]);
        assert_eq!(
            msgs[3].pointer(&sonic_rs::pointer!["content", 0, "document", "data", "time"]),
            Some(&Json::from("noon"))
        );
        assert!(msgs[1].get("content").is_none(), "tool calls need no content");
    }

    #[test]
    fn a_body_that_is_not_utf8_is_refused_before_a_schema_is_taken_as_text() {
        let body = b"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"a\xaa\":1}}}]}";
        assert!(decode_request(body, None, false).is_err());
        assert!(decode_request_lazily(body, None).is_err());
    }

    #[test]
    fn call_arguments_are_text_whatever_json_holds_them() {
        let body = br#"{"model":"m","messages":[
            {"role":"user","content":"go"},
            {"role":"assistant","tool_calls":[
                {"id":"a","type":"function","function":{"name":"f","arguments":"{\"city\": \"Paris\"}"}},
                {"id":"b","type":"function","function":{"name":"f","arguments":{"city": "Rome", "n": [1, 2.5, -3, null, "\u00e9\n"]}}},
                {"id":"c","type":"function","function":{"name":"f","arguments":null}},
                {"id":"d","type":"function","function":{"name":"f"}},
                {"id":"e","type":"function","function":{"name":"f","arguments":[true, {}, []]}},
                {"id":"f","type":"function","function":{"name":"f","arguments":7}}]}]}"#;
        for r in [decode_request(body, None, false), decode_request_lazily(body, None)] {
            let r = r.unwrap();
            let args: Vec<&str> = r.messages[1]
                .content
                .iter()
                .map(|p| match p {
                    Part::ToolCall { arguments, .. } => arguments.as_str(),
                    other => panic!("not a call: {other:?}"),
                })
                .collect();
            // A string as sent, any other value written out compactly, nothing at all `{}`.
            assert_eq!(
                args,
                [
                    "{\"city\": \"Paris\"}",
                    r#"{"city":"Rome","n":[1,2.5,-3,null,"é\n"]}"#,
                    "{}",
                    "{}",
                    "[true,{},[]]",
                    "7"
                ]
            );
        }
    }

    fn full_canonical() -> ChatRequest {
        ChatRequest {
            model: "command-a".into(),
            system: vec![Part::text("Be brief."), Part::text("Use metric units.")],
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![
                        Part::text("What is in these?"),
                        Part::Image {
                            source: ImageSource::Url("https://x/y.png".into()),
                            extra: Extra::default(),
                        },
                        Part::Image {
                            source: ImageSource::Base64 {
                                media_type: "image/jpeg".into(),
                                data: "/9j/4AAQ".into(),
                            },
                            extra: Extra::default(),
                        },
                    ],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Part::Thinking {
                            text: "hmm".into(),
                            signature: None,
                        },
                        Part::text("A cat."),
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![Part::text("Weather there?")],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Part::Text {
                            text: "I will check.".into(),
                            extra: tool_plan_extra(),
                        },
                        Part::ToolCall {
                            id: "c1".into(),
                            name: "get_weather".into(),
                            arguments: "{\"city\":\"Oslo\"}".into(),
                            signature: None,
                            extra: Extra::default(),
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![Part::ToolResult {
                        id: "c1".into(),
                        name: Some("get_weather".into()),
                        content: vec![
                            ToolResultContent::Text("cold".into()),
                            ToolResultContent::Json(sonic_rs::json!({"temp": -3})),
                        ],
                        is_error: false,
                        extra: Extra::default(),
                    }],
                },
            ],
            tools: vec![Tool {
                name: "get_weather".into(),
                description: Some("Weather by city".into()),
                parameters: sonic_rs::json!({"type":"object","properties":{"city":{"type":"string"}}}).into(),
                strict: None,
                extra: Extra::default(),
            }],
            tool_choice: Some(ToolChoice::Required),
            max_tokens: Some(300),
            temperature: Some(0.5),
            top_p: Some(0.75),
            top_k: Some(10),
            stop: vec!["STOP".into(), "END".into()],
            seed: Some(-4),
            response_format: Some(ResponseFormat::JsonObject),
            reasoning: Some(Reasoning {
                budget_tokens: Some(1000),
                effort: None,
            }),
            stream: true,
            include_usage: true,
            extra: Extra::new(Format::Cohere),
            ..Default::default()
        }
    }

    #[test]
    fn tool_result_images_follow_the_tool_messages_in_a_user_message() {
        // Cohere tool messages take text and JSON documents only: the images a tool returned go
        // into the user message after the turn's tool messages, labelled with their call.
        let png = ToolResultContent::Image(ImageSource::Base64 {
            media_type: "image/png".into(),
            data: "iVBOR".into(),
        });
        let mut req = full_canonical();
        req.messages[3].content.push(Part::ToolCall {
            id: "c2".into(),
            name: "get_weather".into(),
            arguments: "{}".into(),
            signature: None,
            extra: Extra::default(),
        });
        if let Part::ToolResult { content, .. } = &mut req.messages[4].content[0] {
            content.push(png.clone());
        }
        req.messages[4].content.extend([
            Part::ToolResult {
                id: "c2".into(),
                name: None,
                content: vec![png],
                is_error: true,
                extra: Extra::default(),
            },
            Part::text("and now?"),
        ]);
        let v = json(&encode_request(&req).unwrap());
        let msgs = v.get("messages").and_then(|m| m.as_array()).unwrap();
        let tail = Json::from(&msgs[msgs.len() - 3..]);
        let want = sonic_rs::json!([
            {"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"cold"},{"type":"document","document":{"data":{"temp":-3}}}]},
            {"role":"tool","tool_call_id":"c2","content":[{"type":"text","text":"Error: The result (1 image) follows in the next message."}]},
            {"role":"user","content":[
                {"type":"text","text":"Result of tool call c1:"},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}},
                {"type":"text","text":"Result of tool call c2:"},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}},
                {"type":"text","text":"and now?"}]}
        ]);
        crate::formats::openai::assert_same_json(&tail, &want, "messages");
        // Cohere's decoder (the mock's) reads the user message into the same turn.
        let back = decode_request(&encode_request(&req).unwrap(), None, false).unwrap();
        let images = back.messages[4]
            .content
            .iter()
            .filter(|p| matches!(p, Part::Image { .. }));
        assert_eq!(images.count(), 2);
    }

    #[test]
    fn canonical_round_trips_through_cohere() {
        let req = full_canonical();
        let body = encode_request(&req).unwrap();
        let back = decode_request(&body, None, false).unwrap();
        assert_eq!(back, req, "{}", String::from_utf8_lossy(&body));
    }

    #[test]
    fn foreign_requests_map_without_inventing_cohere_fields() {
        let mut req = full_canonical();
        req.extra = Extra::new(Format::Anthropic);
        // An OpenAI-style assistant turn: text plus a call, no tool plan (it becomes one below).
        req.messages[3].content[0] = Part::text("I will check.");
        req.messages[1]
            .content
            .push(Part::RedactedThinking { data: "xx".into() });
        if let Part::ToolResult { is_error, .. } = &mut req.messages[4].content[0] {
            *is_error = true;
        }
        let v = json(&encode_request(&req).unwrap());
        let a = v.pointer(&sonic_rs::pointer!["messages", 4]).unwrap();
        assert_eq!(a.get("tool_plan").and_then(|c| c.as_str()), Some("I will check."));
        assert!(a.get("content").is_none());
        assert_eq!(
            v.pointer(&sonic_rs::pointer!["messages", 5, "content", 0, "text"])
                .and_then(|t| t.as_str()),
            Some("Error: cold")
        );
        assert_eq!(
            v.pointer(&sonic_rs::pointer!["messages", 2, "content"])
                .and_then(|c| c.as_array())
                .map(|c| c.len()),
            Some(2),
            "redacted thinking is not content"
        );
        assert_eq!(
            v.pointer(&sonic_rs::pointer!["messages", 1, "content", 2, "image_url", "url"])
                .and_then(|u| u.as_str()),
            Some("data:image/jpeg;base64,/9j/4AAQ")
        );
        assert_eq!(v.get("stream").and_then(|s| s.as_bool()), Some(true));
        assert_eq!(v.get("tool_choice").and_then(|s| s.as_str()), Some("REQUIRED"));
    }

    #[test]
    fn documents_are_refused_by_name() {
        let doc = Part::Document {
            source: crate::canonical::DocumentSource::Base64 {
                media_type: "application/pdf".into(),
                data: "JVBERi0=".into(),
            },
            name: Some("a.pdf".into()),
            extra: Extra::default(),
        };
        let mut req = full_canonical();
        req.messages[0].content.insert(0, doc.clone());
        let e = encode_request(&req).unwrap_err();
        assert_eq!(e.field, "messages[0].content[0]");
        assert!(e.message.contains("documents"), "{e}");
        let mut req = full_canonical();
        req.messages[1].content.push(doc);
        assert!(encode_request(&req)
            .unwrap_err()
            .field
            .starts_with("messages[1].content["));
    }

    #[test]
    fn inexpressible_requests_name_the_field() {
        let mut req = full_canonical();
        req.tools.push(Tool {
            name: "other".into(),
            description: None,
            parameters: sonic_rs::json!({}).into(),
            strict: None,
            extra: Extra::default(),
        });
        // A named choice is that tool alone, REQUIRED (Cohere has no named choice).
        req.tool_choice = Some(ToolChoice::Named("get_weather".into()));
        let v = json(&encode_request(&req).unwrap());
        assert_eq!(v.get("tools").and_then(|t| t.as_array()).map(|t| t.len()), Some(1));
        assert_eq!(v.get("tool_choice").and_then(|s| s.as_str()), Some("REQUIRED"));
        req.tool_choice = Some(ToolChoice::Named("missing".into()));
        assert_eq!(encode_request(&req).unwrap_err().field, "tool_choice");
        req.tool_choice = Some(ToolChoice::Named("get_weather".into()));
        req.tools.pop();
        let v = json(&encode_request(&req).unwrap());
        assert_eq!(
            v.get("tool_choice").and_then(|s| s.as_str()),
            Some("REQUIRED"),
            "a named choice of the only tool is REQUIRED"
        );

        let mut req = full_canonical();
        req.system.push(Part::Image {
            source: ImageSource::Url("https://x".into()),
            extra: Extra::default(),
        });
        assert_eq!(encode_request(&req).unwrap_err().field, "system[2]");

        // Cohere chat messages take no files, a tool's included.
        let mut req = full_canonical();
        if let Part::ToolResult { content, .. } = &mut req.messages[4].content[0] {
            content.push(ToolResultContent::Document {
                source: crate::canonical::DocumentSource::Text("notes".into()),
                name: None,
            });
        }
        assert_eq!(
            encode_request(&req).unwrap_err().field,
            "messages[4].content[0].content[2]"
        );

        let mut req = full_canonical();
        req.messages[1].content.push(Part::Image {
            source: ImageSource::Url("https://x".into()),
            extra: Extra::default(),
        });
        assert_eq!(encode_request(&req).unwrap_err().field, "messages[1].content[2]");
    }

    #[test]
    fn decode_errors_name_the_field() {
        let cases: &[(&[u8], &str)] = &[
            (br#"{"messages":[]}"#, "model"),
            (br#"{"model":"m"}"#, "messages"),
            (br#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#, "messages[0].role"),
            (br#"{"model":"m","messages":[{"content":"x"}]}"#, "messages[0].role"),
            (
                br#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,xx"}}]}]}"#,
                "messages[0].content[0].image_url.url",
            ),
            (
                br#"{"model":"m","messages":[{"role":"user","content":[{"type":"audio"}]}]}"#,
                "messages[0].content[0].type",
            ),
            (br#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#, "messages[0].tool_call_id"),
            // Refused by the one-pass read, named by a second look.
            (br#"{"model":"m","messages":[{"role":"user","content":5}]}"#, "messages[0].content"),
            (
                br#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"text","text":"b"},{"type":"text","text":5}]}]}"#,
                "messages[1].content[1]",
            ),
            (br#"{"model":"m","messages":[{"role":5,"content":"x"}]}"#, "messages[0].role"),
            (br#"{"model":"m","messages":[{"role":"user","content":"x"},"x"]}"#, "messages[1]"),
            (
                br#"{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"a"},{"id":1}]}]}"#,
                "messages[0].tool_calls[1]",
            ),
            (br#"{"model":"m","messages":{"role":"user"}}"#, "messages"),
            (br#"{"model":"m","messages":[],"tool_choice":"ANY"}"#, "tool_choice"),
            (br#"{"model":"m","messages":[],"k":1.5}"#, "k"),
            (br#"{"model":"m","messages":[],"max_tokens":"ten"}"#, "max_tokens"),
            (br#"{"model":"m","messages":[],"response_format":{"type":"xml"}}"#, "response_format.type"),
            (br#"{"model":"m","messages":[],"tools":[{"type":"function"}]}"#, "tools[0].function"),
            (br#"[1,2]"#, ""),
        ];
        for (body, field) in cases {
            let err = decode_request(body, None, false).unwrap_err();
            assert_eq!(&err.field, field, "{}", String::from_utf8_lossy(body));
            // A position would count from the field's own text, not the body's.
            assert!(
                field.is_empty() || !err.message.contains(" at line "),
                "{}",
                err.message
            );
        }
        // The model can come from the path when the body has none.
        let r = decode_request(br#"{"messages":[]}"#, Some("from-path"), false).unwrap();
        assert_eq!(r.model, "from-path");
    }

    /// The one-pass read and the field-at-a-time read (which names refused fields) agree: the
    /// same request, or a refusal of the same field. The fuzz `translate` target checks the same.
    #[test]
    fn one_pass_reads_as_the_lazy_reading() {
        let bodies: &[&[u8]] = &[
            FIXTURE,
            EXTRAS,
            include_bytes!("fixtures/request_documents.json"),
            include_bytes!("fixtures/request_strict_tools.json"),
            // An escaped key (read owned, not borrowed), a null thinking, a later duplicate.
            br#"{"mod\u0065l":"m","messages":[{"role":"user","content":"hi"}],"thinking":null,"k":3,"k":4}"#,
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"thinking":{"type":"enabled","token_budget":9}}"#,
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"thinking":{"type":"enabled","token_budget":"x"}}"#,
            br#"{"model":"m","messages":[{"role":"user","content":5}],"max_tokens":"ten"}"#,
            br#"{"model":"m","messages":[],"tool_choice":"ANY"}"#,
            br#"{"model":"m","messages":[]} trailing"#,
            br#"[1]"#,
        ];
        for body in bodies {
            let one = decode_request(body, None, false);
            let lazy = decode_request_lazily(body, None);
            match (&one, &lazy) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(a), Err(b)) => assert_eq!((&a.field, &a.message), (&b.field, &b.message)),
                _ => panic!("{}: {one:?} / {lazy:?}", String::from_utf8_lossy(body)),
            }
        }
        let r = decode_request(bodies[4], None, false).unwrap();
        assert_eq!((r.model.as_str(), r.top_k), ("m", Some(4)));
        let twice = br#"{"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"a"}}],
            "tools":[{"type":"function","function":{"name":"b"}}]}"#;
        let r = decode_request(twice, None, false).unwrap();
        assert_eq!(r.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["b"]);
        assert!(r.extra.get("thinking").is_none() && r.reasoning.is_none());
    }

    #[test]
    fn never_panics_on_truncated_or_mangled_bodies() {
        for body in [FIXTURE, EXTRAS] {
            for n in 0..body.len() {
                let _ = decode_request(&body[..n], None, false);
                let mut mangled = body.to_vec();
                mangled[n] = b'"';
                let _ = decode_request(&mangled, None, false);
            }
        }
    }

    /// `strict_tools` is one flag for every tool: it used to stay a Cohere extra (lost for other
    /// formats), and other formats' strict tools reached Cohere unconstrained.
    #[test]
    fn strict_tools_is_every_tool_strict_and_back() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"strict_tools":true,
            "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}},
                     {"type":"function","function":{"name":"g","parameters":{"type":"object"}}}]}"#;
        let r = decode_request(body, None, false).unwrap();
        assert!(r.tools.iter().all(|t| t.strict == Some(true)), "{:?}", r.tools);
        assert!(r.extra.get("strict_tools").is_none());
        let back = json(&encode_request(&r).unwrap());
        assert_eq!(back.get("strict_tools"), Some(&Json::from(true)));
        // Written only when every tool says the same; mixed, none is written.
        let mut mixed = r.clone();
        mixed.tools[1].strict = None;
        assert!(json(&encode_request(&mixed).unwrap()).get("strict_tools").is_none());
        mixed.tools[1].strict = Some(false);
        assert!(json(&encode_request(&mixed).unwrap()).get("strict_tools").is_none());
        let mut loose = r.clone();
        loose.tools.iter_mut().for_each(|t| t.strict = Some(false));
        assert_eq!(
            json(&encode_request(&loose).unwrap()).get("strict_tools"),
            Some(&Json::from(false))
        );
        // Without tools it says nothing.
        let none = br#"{"model":"m","messages":[],"strict_tools":true}"#;
        let r = decode_request(none, None, false).unwrap();
        assert!(json(&encode_request(&r).unwrap()).get("strict_tools").is_none());
        let bad = br#"{"model":"m","messages":[],"strict_tools":"yes"}"#;
        assert_eq!(decode_request(bad, None, false).unwrap_err().field, "strict_tools");
    }
}
