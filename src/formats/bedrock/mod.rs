//! AWS Bedrock Runtime wire format (PROTOCOLS section 5): the Converse API in both roles.
//!
//! Integration: a client's `POST /model/{id}/converse` body -> canonical (`decode_request`), and
//! canonical -> the client's Converse response or rest-json error (`encode_response`,
//! `encode_error`). Provider: canonical -> Converse body for an upstream (`encode_request`,
//! `request_path`), and its answer back (`decode_response`, `decode_error`); `sigv4` signs it.
//! Pure functions, no IO, never a panic on any input. The model id travels only in the URL.
//!
//! Mapping notes:
//! - `topK` and `seed` have no Converse field: they go in `additionalModelRequestFields`, in the
//!   model's own form (`add_sampling_fields`), and reasoning budgets as Anthropic's `thinking` object there (the form
//!   Bedrock's Claude models take); both are read back from there on decode.
//! - `cachePoint` blocks become a `cachePoint` extra on the preceding text, image, document, tool
//!   call or tool result part (or tool) and are written back after it; Anthropic
//!   `cache_control` on a part becomes a default `cachePoint` too.
//! - Bedrock has no "none" tool choice: `ToolChoice::None` drops `toolConfig` entirely (see
//!   `tool_config`).
//! - NOTE: frequency and presence penalties are omitted: Converse has no such setting and the
//!   models behind it name theirs differently, if at all (sampling hints, as `top_k` for OpenAI).

pub mod embed;
pub mod invoke;
pub mod invoke_prompt;
pub mod invoke_stream;
mod one_pass;
pub mod rerank;
pub mod sigv4;
pub mod stream;
pub mod types;
mod write;

use crate::canonical::sig::{self, Family};
use crate::canonical::{
    ChatRequest, ChatResponse, ConvertError, DocumentSource, ErrorReply, Extra, FaultKind, FinishReason, ImageSource,
    Json, JsonPath, Message, Part, Reasoning, ResponseFormat, Role, Schema, Tool, ToolChoice, ToolResultContent,
    UpstreamFault, Usage, DOCUMENT_TYPES,
};
use crate::formats::{tool_args, Format};
use crate::wire::url::percent_decode;
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::borrow::Cow;
use std::collections::HashSet;
use types::*;

/// Operations of the Bedrock Runtime API, from the URL's last segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Converse,
    ConverseStream,
    Invoke,
    InvokeStream,
    /// `CountTokens`: the input tokens a Converse or InvokeModel request would use.
    CountTokens,
}

impl Operation {
    /// Whether the operation answers with an event stream.
    pub fn streams(self) -> bool {
        matches!(self, Operation::ConverseStream | Operation::InvokeStream)
    }

    /// The URL's last segment.
    pub fn segment(self) -> &'static str {
        match self {
            Operation::Converse => "converse",
            Operation::ConverseStream => "converse-stream",
            Operation::Invoke => "invoke",
            Operation::InvokeStream => "invoke-with-response-stream",
            Operation::CountTokens => "count-tokens",
        }
    }
}

/// Splits `[/bedrock]/model/{id}/{operation}[?query]` into the percent-decoded model id and the
/// operation. None for any other path, an empty id or an id that is not UTF-8 once decoded.
/// The id is everything between `/model/` and the last `/`, so an ARN sent with raw `/` works.
pub fn parse_path(path: &str) -> Option<(String, Operation)> {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let path = path.strip_prefix("/bedrock").unwrap_or(path);
    let rest = path.strip_prefix("/model/")?;
    let (id, op) = rest.rsplit_once('/')?;
    let op = match op {
        "converse" => Operation::Converse,
        "converse-stream" => Operation::ConverseStream,
        "invoke" => Operation::Invoke,
        "invoke-with-response-stream" => Operation::InvokeStream,
        "count-tokens" => Operation::CountTokens,
        _ => return None,
    };
    let id = percent_decode(id)?;
    if id.is_empty() {
        return None;
    }
    Some((id, op))
}

/// Percent-encodes a model id as botocore does for a non-greedy URI label (`:` -> `%3A`).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    crate::wire::url::percent_encode_into(&mut out, s);
    out
}

/// Provider: `/model/{percent-encoded id}/converse` or `/converse-stream`.
pub fn request_path(model: &str, stream: bool) -> String {
    let op = if stream {
        Operation::ConverseStream
    } else {
        Operation::Converse
    };
    format!("/model/{}/{}", percent_encode(model), op.segment())
}

// ---------------------------------------------------------------------------------------------
// Decoding helpers (sonic_rs::Value walking, so errors can name the exact field). Locations are
// `JsonPath`s, rendered only when an error is built.

type Value = sonic_rs::Value;

fn err(field: impl Into<String>, message: impl Into<String>) -> ConvertError {
    ConvertError::new(field, message)
}

/// The single non-null member of a union object.
fn union_member<'a>(v: &'a Value, path: &JsonPath<'_>) -> Result<(&'a str, &'a Value), ConvertError> {
    let obj = v.as_object().ok_or_else(|| err(path, "must be an object"))?;
    let mut found = None;
    for (k, val) in obj.iter() {
        if val.is_null() {
            continue;
        }
        if found.is_some() {
            return Err(err(path, "must have exactly one member set"));
        }
        found = Some((k, val));
    }
    found.ok_or_else(|| err(path, "must have exactly one member set"))
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// `(get(v, k1), get(v, k2))` in one pass over the members (first occurrence of each key wins,
/// as with `get`).
fn get2<'a>(v: &'a Value, k1: &str, k2: &str) -> (Option<&'a Value>, Option<&'a Value>) {
    let (mut a, mut b) = (None, None);
    if let Some(obj) = v.as_object() {
        for (k, val) in obj.iter() {
            if a.is_none() && k == k1 {
                a = Some(val);
            } else if b.is_none() && k == k2 {
                b = Some(val);
            }
        }
    }
    (a.filter(|x| !x.is_null()), b.filter(|x| !x.is_null()))
}

fn req_str(v: &Value, key: &str, path: &JsonPath<'_>) -> Result<String, ConvertError> {
    get(v, key)
        .and_then(|x| x.as_str())
        .map(str::to_string)
        .ok_or_else(|| err(path.key(key), "required string"))
}

fn opt_str(v: &Value, key: &str, path: &JsonPath<'_>) -> Result<Option<String>, ConvertError> {
    match get(v, key) {
        None => Ok(None),
        Some(x) => x
            .as_str()
            .map(|s| Some(s.to_string()))
            .ok_or_else(|| err(path.key(key), "must be a string")),
    }
}

fn array<'a>(v: &'a Value, path: &JsonPath<'_>) -> Result<&'a sonic_rs::Array, ConvertError> {
    v.as_array().ok_or_else(|| err(path, "must be an array"))
}

fn to_u32(v: &Value, path: &JsonPath<'_>) -> Result<u32, ConvertError> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| err(path, "must be a non-negative integer"))
}

fn to_f64(v: &Value, path: &JsonPath<'_>) -> Result<f64, ConvertError> {
    v.as_f64().ok_or_else(|| err(path, "must be a number"))
}

fn json_text(v: &Value) -> String {
    sonic_rs::to_string(v).unwrap_or_else(|_| "{}".into())
}

/// What one content block decodes to.
enum Block<'a> {
    Part(Part),
    CachePoint(&'a Value),
}

/// Attaches a `cachePoint` to the last part when it can carry extras.
// NOTE: a cachePoint after a reasoning block has no canonical home and is dropped on decode
// (Anthropic takes no `cache_control` on thinking blocks either).
fn attach_cache_point(parts: &mut [Part], cp: &Value) {
    if let Some(
        Part::Text { extra, .. }
        | Part::Image { extra, .. }
        | Part::Document { extra, .. }
        | Part::ToolCall { extra, .. }
        | Part::ToolResult { extra, .. },
    ) = parts.last_mut()
    {
        if extra.format.is_none() || extra.format == Some(Format::Bedrock) {
            extra.format = Some(Format::Bedrock);
            extra.push("cachePoint", cp.clone());
        }
    }
}

fn media_type_of(format: &str) -> String {
    format!("image/{format}")
}

/// Converse's `ImageFormat` values. Anything else Bedrock refuses, and it would otherwise become
/// a media type (`image/<format>`) that no other format's decoder reads back.
const IMAGE_FORMATS: [&str; 4] = ["png", "jpeg", "gif", "webp"];

fn decode_image(v: &Value, path: &JsonPath<'_>) -> Result<ImageSource, ConvertError> {
    let format = get(v, "format")
        .and_then(|x| x.as_str())
        .ok_or_else(|| err(path.key("format"), "required string"))?;
    if !IMAGE_FORMATS.contains(&format) {
        return Err(err(
            path.key("format"),
            format!("unknown image format {format:?} (png, jpeg, gif or webp)"),
        ));
    }
    let spath = path.key("source");
    let source = get(v, "source").ok_or_else(|| err(spath, "required"))?;
    match union_member(source, &spath)? {
        ("bytes", b) => Ok(ImageSource::Base64 {
            media_type: media_type_of(format),
            data: b
                .as_str()
                .ok_or_else(|| err(spath.key("bytes"), "must be a base64 string"))?
                .to_string(),
        }),
        (other, _) => Err(err(spath.key(other), "only inline image bytes can be translated")),
    }
}

/// A `document` block: inline bytes (of a `format` in `DOCUMENT_TYPES`) or text; `context` and
/// `citations` stay Bedrock extras (an Anthropic client's same-named fields are written too).
fn decode_document(v: &Value, path: &JsonPath<'_>) -> Result<Part, ConvertError> {
    let spath = path.key("source");
    let source = get(v, "source").ok_or_else(|| err(spath, "required"))?;
    let source = match union_member(source, &spath)? {
        ("bytes", b) => {
            let format = get(v, "format")
                .and_then(|x| x.as_str())
                .ok_or_else(|| err(path.key("format"), "required string"))?;
            let media_type = DOCUMENT_TYPES
                .iter()
                .find(|(_, f)| *f == format)
                .map(|(m, _)| *m)
                .ok_or_else(|| err(path.key("format"), format!("unknown document format {format:?}")))?;
            DocumentSource::Base64 {
                media_type: media_type.to_string(),
                data: b
                    .as_str()
                    .ok_or_else(|| err(spath.key("bytes"), "must be a base64 string"))?
                    .to_string(),
            }
        }
        ("text", t) => DocumentSource::Text(
            t.as_str()
                .ok_or_else(|| err(spath.key("text"), "must be a string"))?
                .to_string(),
        ),
        (other, _) => {
            return Err(err(
                spath.key(other),
                "only inline document bytes or text can be translated",
            ))
        }
    };
    let mut extra = Extra::default();
    for key in ["context", "citations"] {
        if let Some(x) = get(v, key) {
            if extra.is_empty() {
                extra = Extra::new(Format::Bedrock);
            }
            extra.push(key, x.clone());
        }
    }
    Ok(Part::Document {
        source,
        name: opt_str(v, "name", path)?,
        extra,
    })
}

fn decode_tool_result_content(c: &Value, path: &JsonPath<'_>) -> Result<Vec<ToolResultContent>, ConvertError> {
    let items = array(c, path)?;
    let mut content = Vec::with_capacity(items.len());
    for (k, item) in items.iter().enumerate() {
        let ipath = path.index(k);
        content.push(match union_member(item, &ipath)? {
            ("text", t) => ToolResultContent::Text(
                t.as_str()
                    .ok_or_else(|| err(ipath.key("text"), "must be a string"))?
                    .to_string(),
            ),
            ("json", j) => ToolResultContent::Json(j.clone()),
            ("image", im) => ToolResultContent::Image(decode_image(im, &ipath.key("image"))?),
            ("document", d) => {
                let Part::Document { source, name, .. } = decode_document(d, &ipath.key("document"))? else {
                    return Err(err(ipath.key("document"), "not a document"));
                };
                ToolResultContent::Document { source, name }
            }
            (other, _) => {
                return Err(err(
                    ipath.key(other),
                    "tool result content of this kind cannot be translated",
                ))
            }
        });
    }
    Ok(content)
}

fn decode_block<'a>(v: &'a Value, path: &JsonPath<'_>) -> Result<Block<'a>, ConvertError> {
    let (kind, m) = union_member(v, path)?;
    decode_member(kind, m, path)
}

/// The content block at `path` whose one member is `kind`: `m`.
fn decode_member<'a>(kind: &str, m: &'a Value, path: &JsonPath<'_>) -> Result<Block<'a>, ConvertError> {
    let mpath = path.key(kind);
    let part = match kind {
        "text" => Part::text(m.as_str().ok_or_else(|| err(mpath, "must be a string"))?),
        "image" => Part::Image {
            source: decode_image(m, &mpath)?,
            extra: Extra::default(),
        },
        "document" => decode_document(m, &mpath)?,
        "toolUse" => Part::ToolCall {
            id: req_str(m, "toolUseId", &mpath)?,
            name: req_str(m, "name", &mpath)?,
            arguments: match get(m, "input") {
                // A client's history: left for `decode_request`'s `RawArgs` to fill with the
                // text as written (an answer's call object is `decode_answer_block`'s).
                Some(i) if i.is_object() => String::new(),
                Some(i) => json_text(i),
                None => "{}".into(),
            },
            signature: None,
            extra: Extra::default(),
        },
        "toolResult" => {
            let content = match get(m, "content") {
                Some(c) => decode_tool_result_content(c, &mpath.key("content"))?,
                None => Vec::new(),
            };
            let is_error = match get(m, "status") {
                None => false,
                Some(s) => s.as_str().ok_or_else(|| err(mpath.key("status"), "must be a string"))? == "error",
            };
            Part::ToolResult {
                id: req_str(m, "toolUseId", &mpath)?,
                name: None,
                content,
                is_error,
                extra: Extra::default(),
            }
        }
        "reasoningContent" => match union_member(m, &mpath)? {
            ("reasoningText", r) => {
                let rpath = mpath.key("reasoningText");
                Part::Thinking {
                    text: opt_str(r, "text", &rpath)?.unwrap_or_default(),
                    signature: opt_str(r, "signature", &rpath)?.map(|s| sig::decode(&s, Family::Claude)),
                }
            }
            ("redactedContent", r) => Part::RedactedThinking {
                data: sig::decode(
                    r.as_str()
                        .ok_or_else(|| err(mpath.key("redactedContent"), "must be base64"))?,
                    Family::Claude,
                ),
            },
            (other, _) => return Err(err(mpath.key(other), "unknown reasoning member")),
        },
        // An answer grounded on documents with citations on: its generated text, as the stream
        // gives it in `text` deltas (the citations have no canonical form and stay behind).
        "citationsContent" => Part::text(cited_text(m, &mpath)?),
        "cachePoint" => return Ok(Block::CachePoint(m)),
        _ => {
            return Err(err(
                mpath,
                "content blocks of this kind cannot be translated to other formats",
            ))
        }
    };
    Ok(Block::Part(part))
}

/// The text of a `citationsContent` block: its `content` items' `text`, in order.
fn cited_text(m: &Value, path: &JsonPath<'_>) -> Result<String, ConvertError> {
    let cpath = path.key("content");
    let items = get(m, "content").ok_or_else(|| err(cpath, "required"))?;
    let mut text = String::new();
    for (k, item) in array(items, &cpath)?.iter().enumerate() {
        text.push_str(&req_str(item, "text", &cpath.index(k))?);
    }
    Ok(text)
}

/// Notes that the calls `decode_blocks` made of the blocks `v` of message `i` have their
/// `input` there (`tool_args`): each `toolUse` block whose `input` is an object, in order.
fn note_inputs<'v>(v: &'v Value, i: usize, raw: &mut tool_args::RawArgs<'v, History>) {
    let blocks = v.as_array().into_iter().flat_map(|a| a.iter().enumerate());
    for (k, b) in blocks {
        // The calls `decode_member` left for `raw` to fill: the block's non-null `toolUse`, as
        // `union_member` finds it (a `null` one before it is no member).
        let call = b
            .as_object()
            .and_then(|o| o.iter().find(|(k, v)| *k == "toolUse" && !v.is_null()));
        if let Some(input) = call.and_then(|(_, t)| get(t, "input")).filter(|i| i.is_object()) {
            raw.push(i, k, input);
        }
    }
}

fn decode_blocks(v: &Value, path: &JsonPath<'_>) -> Result<Vec<Part>, ConvertError> {
    let blocks = array(v, path)?;
    let mut parts = Vec::with_capacity(blocks.len());
    for (j, b) in blocks.iter().enumerate() {
        match decode_block(b, &path.index(j))? {
            Block::Part(p) => parts.push(p),
            Block::CachePoint(cp) => attach_cache_point(&mut parts, cp),
        }
    }
    Ok(parts)
}

fn decode_tool_config(v: &Value, req: &mut ChatRequest) -> Result<(), ConvertError> {
    let root = JsonPath::ROOT;
    let cpath = root.key("toolConfig");
    if let Some(tools) = get(v, "tools") {
        let tpath = cpath.key("tools");
        let tools = array(tools, &tpath)?;
        req.tools.reserve(tools.len());
        for (k, t) in tools.iter().enumerate() {
            let path = tpath.index(k);
            match union_member(t, &path)? {
                ("toolSpec", s) => {
                    let spath = path.key("toolSpec");
                    let strict = get(s, "strict")
                        .map(|b| b.as_bool().ok_or_else(|| err(spath.key("strict"), "must be a boolean")))
                        .transpose()?;
                    req.tools.push(Tool {
                        name: req_str(s, "name", &spath)?,
                        description: opt_str(s, "description", &spath)?,
                        parameters: get(s, "inputSchema")
                            .and_then(|i| get(i, "json"))
                            .map(Schema::from_value)
                            .ok_or_else(|| err(spath.key("inputSchema").key("json"), "required"))?,
                        strict,
                        extra: Extra::default(),
                    });
                }
                ("cachePoint", cp) => attach_tool_cache_point(&mut req.tools, cp),
                (other, _) => {
                    return Err(err(
                        path.key(other),
                        "tools of this kind cannot be translated to other formats",
                    ))
                }
            }
        }
    }
    if let Some(tc) = get(v, "toolChoice") {
        req.tool_choice = Some(decode_tool_choice(tc)?);
    }
    Ok(())
}

/// `toolConfig.toolChoice` (not `null`).
fn decode_tool_choice(tc: &Value) -> Result<ToolChoice, ConvertError> {
    let path = JsonPath::ROOT.key("toolConfig");
    let path = path.key("toolChoice");
    Ok(match union_member(tc, &path)? {
        ("auto", _) => ToolChoice::Auto,
        ("any", _) => ToolChoice::Required,
        ("tool", t) => ToolChoice::Named(req_str(t, "name", &path.key("tool"))?),
        (other, _) => return Err(err(path.key(other), "unknown tool choice")),
    })
}

/// A `cachePoint` among the tools: onto the tool before it (none before: dropped).
fn attach_tool_cache_point(tools: &mut [Tool], cp: &Value) {
    if let Some(last) = tools.last_mut() {
        if last.extra.format.is_none() {
            last.extra = Extra::new(Format::Bedrock);
        }
        last.extra.push("cachePoint", cp.clone());
    }
}

/// `additionalModelRequestFields`: `top_k` (or Nova's `inferenceConfig.topK`), `seed` and an
/// enabled `thinking` budget become
/// canonical fields; everything else stays as a Bedrock extra.
fn decode_additional_fields(v: &Value, req: &mut ChatRequest) -> Result<(), ConvertError> {
    let Some(obj) = v.as_object() else {
        req.extra.push("additionalModelRequestFields", v.clone());
        return Ok(());
    };
    let root = JsonPath::ROOT;
    let apath = root.key("additionalModelRequestFields");
    let mut rest = sonic_rs::Object::new();
    for (k, val) in obj.iter() {
        let path = apath.key(k);
        match k {
            "top_k" if !val.is_null() => req.top_k = Some(to_u32(val, &path)?),
            // Nova's form of top-k (see `add_sampling_fields`); its other settings stay raw.
            NOVA_CONFIG if get(val, NOVA_TOP_K).is_some_and(|t| !t.is_null()) => {
                let mut config = val.as_object().cloned().unwrap_or_default();
                if let Some(t) = config.remove(&NOVA_TOP_K) {
                    req.top_k = Some(to_u32(&t, &path.key(NOVA_TOP_K))?);
                }
                if !config.is_empty() {
                    rest.insert(k, Value::from(config));
                }
            }
            "seed" if !val.is_null() => req.seed = Some(val.as_i64().ok_or_else(|| err(path, "must be an integer"))?),
            "thinking"
                if get(val, "type").and_then(|t| t.as_str()) == Some("enabled")
                    && get(val, "budget_tokens").is_some_and(|b| b.as_u64().is_some()) =>
            {
                let budget = get(val, "budget_tokens")
                    .map(|b| to_u32(b, &path.key("budget_tokens")))
                    .transpose()?;
                req.reasoning
                    .get_or_insert(Reasoning {
                        budget_tokens: None,
                        effort: None,
                    })
                    .budget_tokens = budget;
            }
            _ => {
                rest.insert(k, val.clone());
            }
        }
    }
    if !rest.is_empty() {
        req.extra.push("additionalModelRequestFields", Value::from(rest));
    }
    Ok(())
}

/// Name used for a JSON-object response format expressed as a schema (Converse has no plain
/// JSON mode); recognised on decode to give `ResponseFormat::JsonObject` back.
const JSON_OBJECT_NAME: &str = "json_object";

/// `outputConfig`: `textFormat` (JSON schema) and `effort`; other members stay as an extra.
fn decode_output_config(v: &Value, req: &mut ChatRequest) -> Result<(), ConvertError> {
    let Some(obj) = v.as_object() else {
        req.extra.push("outputConfig", v.clone());
        return Ok(());
    };
    let mut rest = sonic_rs::Object::new();
    for (k, val) in obj.iter() {
        match k {
            "textFormat" if !val.is_null() => {
                let root = JsonPath::ROOT;
                let p1 = root.key("outputConfig");
                let p2 = p1.key("textFormat");
                let p3 = p2.key("structure");
                let path = p3.key("jsonSchema");
                let js = get(val, "structure")
                    .and_then(|s| get(s, "jsonSchema"))
                    .ok_or_else(|| err(path, "required"))?;
                let text = get(js, "schema")
                    .and_then(|x| x.as_str())
                    .ok_or_else(|| err(path.key("schema"), "required string"))?;
                let schema: Value = sonic_rs::from_str(text).map_err(|e| {
                    err(
                        path.key("schema"),
                        format!("invalid JSON: {}", crate::wire::json::brief(&e)),
                    )
                })?;
                let name = opt_str(js, "name", &path)?.unwrap_or_else(|| "response".into());
                req.response_format = Some(
                    if name == JSON_OBJECT_NAME && schema == sonic_rs::json!({"type": "object"}) {
                        ResponseFormat::JsonObject
                    } else {
                        // The text as written (checked above): the answer's keys follow it.
                        ResponseFormat::JsonSchema {
                            name,
                            schema: Schema::from_checked_text(text.trim_ascii()),
                            strict: None,
                        }
                    },
                );
            }
            "effort" if val.is_str() => {
                let r = req.reasoning.get_or_insert(Reasoning {
                    budget_tokens: None,
                    effort: None,
                });
                r.effort = val.as_str().map(str::to_string);
            }
            _ => {
                rest.insert(k, val.clone());
            }
        }
    }
    if !rest.is_empty() {
        req.extra.push("outputConfig", Value::from(rest));
    }
    Ok(())
}

/// `raw`: where the calls' `input`s are, noted (`tool_args`).
fn decode_messages<'v>(
    val: &'v Value,
    req: &mut ChatRequest,
    raw: &mut tool_args::RawArgs<'v, History>,
) -> Result<(), ConvertError> {
    let root = JsonPath::ROOT;
    let mpath = root.key("messages");
    let messages = array(val, &mpath)?;
    req.messages.reserve(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let path = mpath.index(i);
        let (role, content) = get2(m, "role", "content");
        let role = match role.and_then(|r| r.as_str()) {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            _ => return Err(err(path.key("role"), "must be user or assistant")),
        };
        let content = match content {
            Some(c) => {
                let cpath = path.key("content");
                let parts = decode_blocks(c, &cpath)?;
                // Each `toolUse` block became a call: without calls there is nothing to note
                // (most turns), and the blocks are not scanned again.
                if parts.iter().any(|p| matches!(p, Part::ToolCall { .. })) {
                    note_inputs(c, i, raw);
                }
                parts
            }
            None => Vec::new(),
        };
        req.messages.push(Message { role, content });
    }
    Ok(())
}

fn decode_system(val: &Value, req: &mut ChatRequest) -> Result<(), ConvertError> {
    let root = JsonPath::ROOT;
    let spath = root.key("system");
    let blocks = array(val, &spath)?;
    req.system.reserve(blocks.len());
    for (k, b) in blocks.iter().enumerate() {
        let path = spath.index(k);
        match union_member(b, &path)? {
            ("text", t) => req.system.push(Part::text(
                t.as_str().ok_or_else(|| err(path.key("text"), "must be a string"))?,
            )),
            ("cachePoint", cp) => attach_cache_point(&mut req.system, cp),
            (other, _) => return Err(err(path.key(other), "system blocks of this kind cannot be translated")),
        }
    }
    Ok(())
}

fn decode_inference_config(val: &Value, req: &mut ChatRequest) -> Result<(), ConvertError> {
    let root = JsonPath::ROOT;
    let path = root.key("inferenceConfig");
    if let Some(x) = get(val, "maxTokens") {
        // Bedrock's minimum is 1 (botocore checks it before sending): 0 is refused in AWS's
        // words, as for every other client in its own.
        let n = to_u32(x, &path.key("maxTokens"))?;
        if n == 0 {
            return Err(ConvertError::new("", "1 validation error detected: Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1"));
        }
        req.max_tokens = Some(n);
    }
    if let Some(x) = get(val, "temperature") {
        req.temperature = Some(to_f64(x, &path.key("temperature"))?);
    }
    if let Some(x) = get(val, "topP") {
        req.top_p = Some(to_f64(x, &path.key("topP"))?);
    }
    if let Some(x) = get(val, "stopSequences") {
        let spath = path.key("stopSequences");
        for (k, s) in array(x, &spath)?.iter().enumerate() {
            req.stop
                .push(s.as_str().ok_or_else(|| err(spath.index(k), "string"))?.to_string());
        }
    }
    Ok(())
}

/// Integration: a Converse / ConverseStream body -> canonical. The model comes from the URL
/// (`path_model`, already percent-decoded), the stream flag from the operation.
///
/// Read in one pass (`one_pass`); a body that reading leaves is read by `Value`, the reference,
/// which gives the same request or names the refused field.
pub fn decode_request(body: &[u8], path_model: Option<&str>, stream: bool) -> Result<ChatRequest, ConvertError> {
    match one_pass::read(body, path_model, stream) {
        Some(req) => Ok(req),
        None => decode_by_value(body, path_model, stream),
    }
}

/// The reading by `Value`: slower than `one_pass` (a tree of the whole body, then a walk for
/// the calls' arguments as written), but it names the field of any refusal.
pub(crate) fn decode_by_value(
    body: &[u8],
    path_model: Option<&str>,
    stream: bool,
) -> Result<ChatRequest, ConvertError> {
    let v: Value = sonic_rs::from_slice(body).map_err(|e| {
        err(
            "",
            format!("request body is not valid JSON: {}", crate::wire::json::brief(&e)),
        )
    })?;
    let obj = v.as_object().ok_or_else(|| err("", "body must be a JSON object"))?;
    let mut top = Top::new(path_model, stream);
    let mut raw = tool_args::RawArgs::<History>::default();
    for (key, val) in obj.iter() {
        if val.is_null() {
            continue;
        }
        match key {
            "messages" => decode_messages(val, &mut top.req, &mut raw)?,
            _ => top.field(key, val)?,
        }
    }
    let mut req = top.finish();
    raw.fill(
        body,
        req.messages
            .iter_mut()
            .flat_map(|m| tool_args::calls_in(&mut m.content)),
    );
    req.detach_values_if_large(body.len());
    Ok(req)
}

/// The body's top level other than `messages`, as both readings take it.
struct Top {
    req: ChatRequest,
}

impl Top {
    fn new(path_model: Option<&str>, stream: bool) -> Top {
        Top {
            req: ChatRequest {
                model: path_model.unwrap_or_default().to_string(),
                stream,
                // Bedrock always reports usage.
                include_usage: true,
                extra: Extra::new(Format::Bedrock),
                ..Default::default()
            },
        }
    }

    /// Member `key` (not `messages`; not `null`) into the request.
    fn field(&mut self, key: &str, val: &Value) -> Result<(), ConvertError> {
        let req = &mut self.req;
        match key {
            "system" => decode_system(val, req)?,
            "inferenceConfig" => decode_inference_config(val, req)?,
            "toolConfig" => decode_tool_config(val, req)?,
            "additionalModelRequestFields" => decode_additional_fields(val, req)?,
            "outputConfig" => decode_output_config(val, req)?,
            // Not part of the body in the real API; tolerated when the URL has none.
            "modelId" if req.model.is_empty() => {
                req.model = val.as_str().unwrap_or_default().to_string();
            }
            _ => req.extra.push(key, val.clone()),
        }
        Ok(())
    }

    fn finish(self) -> ChatRequest {
        let mut req = self.req;
        crate::canonical::name_tool_results(&mut req.messages);
        req
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding. The wire structs borrow from the canonical request: nothing is copied but what
// has to be built (parsed tool arguments, merged extras).

/// `image/png` -> `png`, ...; None for a media type Converse does not take.
fn image_format(media_type: &str) -> Option<&'static str> {
    const TYPES: [(&str, &str); 5] = [
        ("image/png", "png"),
        ("image/jpeg", "jpeg"),
        ("image/jpg", "jpeg"),
        ("image/gif", "gif"),
        ("image/webp", "webp"),
    ];
    TYPES
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(media_type))
        .map(|(_, f)| *f)
}

fn encode_image<'a>(source: &'a ImageSource, path: &JsonPath<'_>) -> Result<BedrockImage<'a>, ConvertError> {
    match source {
        ImageSource::Url(_) => Err(err(
            path,
            "Bedrock Converse takes images only as inline bytes; an image URL cannot be sent",
        )),
        ImageSource::Base64 { media_type, data } => Ok(BedrockImage {
            format: image_format(media_type)
                .ok_or_else(|| err(path, format!("image type {media_type:?} is not png, jpeg, gif or webp")))?,
            source: BedrockImageSource { bytes: data },
        }),
    }
}

/// A document as a Converse `DocumentBlock`, its name as `document_name` makes it (an empty
/// name is filled in by `name_documents`). Only inline bytes cross: a URL cannot.
fn encode_document<'a>(
    source: &'a DocumentSource,
    name: Option<&str>,
    extra: &'a Extra,
    path: &JsonPath<'_>,
) -> Result<BedrockDocument<'a>, ConvertError> {
    let (format, bytes) = match source {
        DocumentSource::Url(_) => {
            return Err(err(
                path,
                "Bedrock Converse takes documents only as inline bytes; a document URL cannot be sent",
            ))
        }
        DocumentSource::Text(text) => ("txt", Cow::Owned(crate::wire::base64::encode(text.as_bytes()))),
        DocumentSource::Base64 { media_type, data } => {
            let bare = media_type.split(';').next().unwrap_or("").trim();
            let format = DOCUMENT_TYPES
                .iter()
                .find(|(m, _)| m.eq_ignore_ascii_case(bare))
                .map(|(_, f)| *f)
                .ok_or_else(|| err(path, format!("document type {media_type:?} has no Bedrock format")))?;
            (format, Cow::Borrowed(data.as_str()))
        }
    };
    // Anthropic's `context` and `citations` have the same names and shapes in Converse.
    let own = match extra.format {
        Some(Format::Anthropic) => extra.for_target(Format::Anthropic),
        _ => extra.for_target(Format::Bedrock),
    };
    let field = |k: &str| own.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    Ok(BedrockDocument {
        format,
        name: Cow::Owned(name.map(document_name).unwrap_or_default()),
        source: BedrockDocumentSource { bytes },
        context: field("context"),
        citations: field("citations"),
    })
}

/// A name Bedrock accepts from a title or file name: alphanumerics, single spaces, hyphens,
/// parentheses and square brackets, at most 200 characters; a file extension is dropped and any
/// other character becomes a hyphen. Empty when nothing usable is left.
fn document_name(name: &str) -> String {
    let stem = match name.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty() && (1..=5).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            stem
        }
        _ => name,
    };
    let mut out = String::with_capacity(stem.len());
    for c in stem.chars() {
        let c = match c {
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '(' | ')' | '[' | ']') => c,
            c if c.is_whitespace() => ' ',
            _ => '-',
        };
        if !(c == ' ' && (out.is_empty() || out.ends_with(' '))) {
            out.push(c);
        }
        if out.len() >= 200 {
            break;
        }
    }
    out.trim_end().to_string()
}

/// Gives every document of the request a distinct name (Bedrock requires one): an unnamed
/// document becomes `document-N`, N its 1-based place among the request's documents, and a
/// repeated name gets `-N` appended. Documents in messages and in tool results alike: Converse
/// wants every name unique. The names so far are kept in a set (a body may hold many
/// thousands of small documents; a list scanned per document made that quadratic).
fn name_documents(messages: &mut [BedrockMessage<'_>]) {
    let mut seen: HashSet<String> = HashSet::new();
    let mut n = 0;
    let mut name = |d: &mut BedrockDocument<'_>| {
        n += 1;
        if d.name.is_empty() {
            d.name = Cow::Owned(format!("document-{n}"));
        }
        if seen.contains(d.name.as_ref()) {
            let base: String = d.name.chars().take(190).collect();
            d.name = Cow::Owned(format!("{base}-{n}"));
        }
        seen.insert(d.name.to_string());
    };
    for block in messages.iter_mut().flat_map(|m| m.content.iter_mut()) {
        match block {
            BedrockContentBlock::Document(d) => name(d),
            BedrockContentBlock::ToolResult(r) => {
                for c in &mut r.content {
                    if let BedrockContentBlock::Document(d) = c {
                        name(d)
                    }
                }
            }
            _ => {}
        }
    }
}

/// Puts the sampling settings Converse has no field for in `additionalModelRequestFields`, where
/// the model's own body takes them: Bedrock hands the object to the model, whose schema refuses
/// keys it does not know ("extraneous key [seed] is not permitted").
/// - Amazon Nova: top-k as `inferenceConfig.topK` (beside what the client put there);
/// - Anthropic Claude: `top_k`;
/// - others (and ids that name no vendor): `top_k` and `seed`, as before.
///
/// A seed for Nova or Claude, which have none, is refused by name (as for Anthropic itself).
// NOTE: the other vendors' native bodies differ (Mistral's takes `top_k`; Llama's and Titan's
// take neither), and how Converse maps these for them is not documented: they keep the old form.
fn add_sampling_fields(
    model: &str,
    top_k: Option<u32>,
    seed: Option<i64>,
    additional: &mut sonic_rs::Object,
) -> Result<(), ConvertError> {
    let vendor = match () {
        _ if invoke::is_nova_model(model) => Some("Amazon Nova"),
        _ if invoke::is_anthropic_model(model) => Some("Anthropic Claude"),
        _ => None,
    };
    if let (Some(vendor), Some(_)) = (vendor, seed) {
        return Err(err(
            "seed",
            format!("{vendor} models on Bedrock have no seed parameter"),
        ));
    }
    if invoke::is_nova_model(model) {
        if let Some(k) = top_k {
            let config = additional
                .get_mut(&NOVA_CONFIG)
                .and_then(sonic_rs::JsonValueMutTrait::as_object_mut);
            match config {
                Some(c) => {
                    c.insert(NOVA_TOP_K, k);
                }
                None => {
                    additional.insert(NOVA_CONFIG, sonic_rs::json!({ NOVA_TOP_K: k }));
                }
            }
        }
        return Ok(());
    }
    if let Some(k) = top_k {
        additional.insert("top_k", k);
    }
    if let Some(s) = seed {
        additional.insert("seed", s);
    }
    Ok(())
}

/// Nova's own inference settings inside `additionalModelRequestFields`, and its top-k there.
const NOVA_CONFIG: &str = "inferenceConfig";
const NOVA_TOP_K: &str = "topK";

/// The `cachePoint` to write after a part or tool: its own Bedrock extra, or a default one for
/// an Anthropic `cache_control`, with its `ttl` (both APIs take `5m` and `1h`).
fn cache_point_for(extra: &Extra) -> Option<Cow<'_, Json>> {
    if extra.is_empty() {
        return None;
    }
    if let Some(cp) = extra
        .for_target(Format::Bedrock)
        .iter()
        .find(|(n, _)| n == "cachePoint")
    {
        return Some(Cow::Borrowed(&cp.1));
    }
    let (_, cc) = extra
        .for_target(Format::Anthropic)
        .iter()
        .find(|(n, _)| n == "cache_control")?;
    Some(Cow::Owned(match get(cc, "ttl").filter(|t| t.is_str()) {
        Some(ttl) => sonic_rs::json!({"type": "default", "ttl": ttl.clone()}),
        None => sonic_rs::json!({"type": "default"}),
    }))
}

/// Appends the `cachePoint` a part's extras ask for (`cache_point_for`), if any.
fn push_cache_point<'a>(out: &mut Vec<BedrockContentBlock<'a>>, extra: &'a Extra) {
    if let Some(cp) = cache_point_for(extra) {
        out.push(BedrockContentBlock::CachePoint(cp));
    }
}

/// A tool call's JSON arguments text as the `input` document (empty means `{}`), validated and
/// written as it is (`tool_args::value`).
fn parse_arguments<'a>(arguments: &'a str, path: &JsonPath<'_>) -> Result<sonic_rs::LazyValue<'a>, ConvertError> {
    crate::formats::tool_args::value(arguments)
        .map_err(|e| err(path, format!("tool call arguments are not valid JSON: {e}")))
}

/// Appends one canonical part as Converse blocks (its cache point after it).
fn encode_part<'a>(
    p: &'a Part,
    path: &JsonPath<'_>,
    out: &mut Vec<BedrockContentBlock<'a>>,
) -> Result<(), ConvertError> {
    match p {
        Part::Text { text, extra } => {
            // Converse rejects blank text blocks ("The text field ... is blank").
            if !text.is_empty() {
                out.push(BedrockContentBlock::text(text.as_str()));
            }
            push_cache_point(out, extra);
        }
        Part::Image { source, extra } => {
            out.push(BedrockContentBlock::Image(encode_image(source, &path.key("image"))?));
            push_cache_point(out, extra);
        }
        Part::Document { source, name, extra } => {
            out.push(BedrockContentBlock::Document(Box::new(encode_document(
                source,
                name.as_deref(),
                extra,
                &path.key("source"),
            )?)));
            push_cache_point(out, extra);
        }
        // Gemini's thought signature has no Converse field; it only matters to Gemini.
        Part::ToolCall {
            id,
            name,
            arguments,
            extra,
            ..
        } => {
            out.push(BedrockContentBlock::ToolUse(BedrockToolUse {
                tool_use_id: id,
                name,
                input: parse_arguments(arguments, &path.key("arguments"))?,
            }));
            push_cache_point(out, extra);
        }
        Part::ToolResult {
            id,
            content,
            is_error,
            extra,
            ..
        } => {
            let mut blocks = Vec::with_capacity(content.len());
            for (k, c) in content.iter().enumerate() {
                blocks.push(match c {
                    // Converse rejects blank text blocks here too; a tool's blank output says
                    // nothing the model needs.
                    ToolResultContent::Text(t) if t.trim().is_empty() => continue,
                    ToolResultContent::Text(t) => BedrockContentBlock::text(t.as_str()),
                    // A `json` block must hold an object; other JSON (a Gemini `{"error": 42}`)
                    // goes as its text.
                    ToolResultContent::Json(j) if !j.is_object() => BedrockContentBlock::text(j.to_string()),
                    ToolResultContent::Json(j) => BedrockContentBlock::Json(j),
                    ToolResultContent::Image(s) => {
                        BedrockContentBlock::Image(encode_image(s, &path.key("content").index(k))?)
                    }
                    ToolResultContent::Document { source, name } => BedrockContentBlock::Document(Box::new(
                        encode_document(source, name.as_deref(), &NO_EXTRA, &path.key("content").index(k))?,
                    )),
                });
            }
            if blocks.is_empty() {
                // A tool that returned nothing: an empty object, the one block that says so
                // without inventing words.
                blocks.push(BedrockContentBlock::Json(&EMPTY_OBJECT));
            }
            out.push(BedrockContentBlock::ToolResult(BedrockToolResult {
                tool_use_id: id,
                content: blocks,
                status: if *is_error { "error" } else { "success" },
            }));
            push_cache_point(out, extra);
        }
        Part::Thinking { text, signature } => {
            out.push(BedrockContentBlock::ReasoningContent(BedrockReasoningContent {
                reasoning_text: Some(BedrockReasoningText {
                    text,
                    signature: signature.as_deref().map(|s| sig::wire(s, Family::Claude)),
                }),
                ..Default::default()
            }))
        }
        Part::RedactedThinking { data } => out.push(BedrockContentBlock::ReasoningContent(BedrockReasoningContent {
            redacted_content: Some(sig::wire(data, Family::Claude)),
            ..Default::default()
        })),
    }
    Ok(())
}

fn has_tool_blocks(req: &ChatRequest) -> bool {
    req.messages.iter().any(|m| {
        m.content
            .iter()
            .any(|p| matches!(p, Part::ToolCall { .. } | Part::ToolResult { .. }))
    })
}

/// The extras of a document inside a tool result (it has none of its own).
static NO_EXTRA: Extra = Extra {
    format: None,
    fields: Vec::new(),
};

/// `{}`, for a tool result with no content Converse would take.
static EMPTY_OBJECT: std::sync::LazyLock<Json> = std::sync::LazyLock::new(|| sonic_rs::json!({}));

/// Schema of a tool declared only because the history calls it (its real schema is unknown).
static HISTORY_TOOL_SCHEMA: std::sync::LazyLock<Schema> =
    std::sync::LazyLock::new(|| Schema::from_checked_text(r#"{"type":"object"}"#));

/// `toolConfig` declaring each tool the history calls, for a request with no tools: Bedrock
/// rejects toolUse/toolResult blocks without a `toolConfig`. No `toolChoice`: the client
/// offered no tools.
// NOTE: the model may still call one of them; the alternative is a hard error.
fn history_tool_config(req: &ChatRequest) -> Option<BedrockToolConfig<'_>> {
    let mut names: Vec<&str> = Vec::new();
    // The names so far, to declare each once (a list scanned per call is quadratic in a
    // history of many tools).
    let mut seen: HashSet<&str> = HashSet::new();
    for p in req.messages.iter().flat_map(|m| &m.content) {
        let name = match p {
            Part::ToolCall { name, .. } => name.as_str(),
            Part::ToolResult { name: Some(name), .. } => name.as_str(),
            _ => continue,
        };
        if !name.is_empty() && seen.insert(name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        return None;
    }
    let tools = names
        .into_iter()
        .map(|name| BedrockTool {
            tool_spec: Some(BedrockToolSpec {
                name,
                description: Some("A tool called earlier in this conversation."),
                input_schema: BedrockInputSchema {
                    json: &HISTORY_TOOL_SCHEMA,
                },
                strict: None,
            }),
            ..Default::default()
        })
        .collect();
    Some(BedrockToolConfig {
        tools,
        tool_choice: None,
    })
}

/// `toolConfig`, or None. Bedrock has no "none" tool choice, so `ToolChoice::None` drops the
/// whole `toolConfig` (the model then cannot call tools) — except when the history holds
/// toolUse/toolResult blocks, which Bedrock rejects without a `toolConfig`: then the tools are
/// sent with no `toolChoice` (declared from the history when the request has none).
// NOTE: in that last case the model may still call a tool; the alternative is a hard error.
fn tool_config(req: &ChatRequest) -> Option<BedrockToolConfig<'_>> {
    if req.tools.is_empty() {
        return history_tool_config(req);
    }
    if req.tool_choice == Some(ToolChoice::None) && !has_tool_blocks(req) {
        return None;
    }
    let mut tools = Vec::with_capacity(req.tools.len());
    for t in &req.tools {
        tools.push(BedrockTool {
            tool_spec: Some(BedrockToolSpec {
                name: &t.name,
                // `ToolSpecification.description` is a NonEmptyString: Bedrock rejects "".
                description: t.description.as_deref().filter(|d| !d.is_empty()),
                input_schema: BedrockInputSchema { json: &t.parameters },
                strict: t.strict,
            }),
            ..Default::default()
        });
        if let Some(cp) = cache_point_for(&t.extra) {
            tools.push(BedrockTool {
                cache_point: Some(cp),
                ..Default::default()
            });
        }
    }
    let tool_choice = match &req.tool_choice {
        Some(ToolChoice::Auto | ToolChoice::Allowed { required: false, .. }) => Some(BedrockToolChoice {
            auto: Some(BedrockEmpty {}),
            ..Default::default()
        }),
        // An allowed-tools choice is narrowed before this (`encode_request`): its mode alone.
        Some(ToolChoice::Required | ToolChoice::Allowed { required: true, .. }) => Some(BedrockToolChoice {
            any: Some(BedrockEmpty {}),
            ..Default::default()
        }),
        Some(ToolChoice::Named(name)) => Some(BedrockToolChoice {
            tool: Some(BedrockNamedTool { name }),
            ..Default::default()
        }),
        Some(ToolChoice::None) | None => None,
    };
    Some(BedrockToolConfig { tools, tool_choice })
}

/// Provider: canonical -> Converse body. Nothing is required beyond `messages`, so no defaults
/// are invented (Bedrock applies the model's own `maxTokens`). Consecutive messages of one role
/// are merged, as Converse requires alternating roles. `parallel_tool_calls` has no Converse
/// field and is not sent.
pub fn encode_request(req: &ChatRequest) -> Result<Vec<u8>, ConvertError> {
    encode_request_with(req, |body, hint| {
        let mut out = Vec::with_capacity(hint);
        body.write(&mut out);
        out
    })
}

/// `encode_request` up to the body's structs, which `emit` (given a size hint) turns into bytes:
/// the writer of `write.rs`, or serde where the tests hold the two to the same bytes.
pub(crate) fn encode_request_with(
    req: &ChatRequest,
    emit: impl FnOnce(&BedrockConverseRequest<'_>, usize) -> Vec<u8>,
) -> Result<Vec<u8>, ConvertError> {
    // An allowed-tools choice, which Converse says by the tools offered (`tool_choice`).
    let narrowed = crate::formats::tool_choice::narrow(req, crate::formats::tool_choice::Narrow::Allowed)?;
    let req = narrowed.as_ref().unwrap_or(req);
    // Thinking another provider family signed, which this one would refuse (`sig`).
    let signed = sig::fit_request(req, Family::Claude);
    let req = signed.as_ref().unwrap_or(req);
    // Ids made elsewhere (a Gemini signed id, `functions.f:0`) that this upstream would refuse.
    let fitted = crate::formats::call_ids::fit_request(req, crate::formats::call_ids::BEDROCK);
    let req = fitted.as_ref().unwrap_or(req);
    // Names other formats allow that this upstream would refuse (`tool_names::Renames` maps back).
    let renamed = crate::formats::tool_names::fit_request(req, crate::formats::tool_names::BEDROCK);
    let req = renamed.as_ref().unwrap_or(req);
    req.extra.refuse_lost_content(Format::Bedrock)?;
    req.refuse_logprobs(Format::Bedrock)?;
    let mut out = BedrockConverseRequest {
        messages: Vec::with_capacity(req.messages.len()),
        ..Default::default()
    };
    let root = JsonPath::ROOT;
    let mpath = root.key("messages");
    for (i, m) in req.messages.iter().enumerate() {
        let role = match m.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let ipath = mpath.index(i);
        let cpath = ipath.key("content");
        let mut blocks = Vec::with_capacity(m.content.len());
        for (j, p) in m.content.iter().enumerate() {
            // NOTE: as for Anthropic: Claude refuses reasoning without its signature in the
            // history ("thinking.signature: Field required"), and unsigned reasoning (a Cohere
            // client's, Claude's own after a format without signatures) is context for its
            // provider only.
            if matches!(p, Part::Thinking { signature: None, .. }) {
                continue;
            }
            encode_part(p, &cpath.index(j), &mut blocks)?;
        }
        // Converse refuses an empty message ("The content field in the Message object ... is
        // empty"), e.g. one whose only text was blank; it carried nothing.
        if blocks.is_empty() {
            continue;
        }
        match out.messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => out.messages.push(BedrockMessage { role, content: blocks }),
        }
    }
    // Anthropic's automatic caching (a top-level `cache_control`) marks the last cacheable
    // block; Converse has no such switch, so the mark goes there, as a `cachePoint`.
    if let (Some(cp), Some(last)) = (cache_point_for(&req.extra), out.messages.last_mut()) {
        if last
            .content
            .last()
            .is_some_and(|b| !matches!(b, BedrockContentBlock::CachePoint(_)))
        {
            last.content.push(BedrockContentBlock::CachePoint(cp));
        }
    }
    // NOTE: Converse refuses a conversation that opens with an assistant turn ("A conversation
    // must start with a user message"), which OpenAI and Gemini clients send when a chat opens
    // with the assistant's greeting, and one of no turns (an OpenAI system prompt alone). A
    // minimal user turn goes first, as other gateways do.
    let opens = out.messages.first().map(|m| m.role);
    if opens == Some("assistant") || (opens.is_none() && !req.system.is_empty()) {
        out.messages.insert(
            0,
            BedrockMessage {
                role: "user",
                content: vec![BedrockContentBlock::text(crate::canonical::OPENING_USER_TURN)],
            },
        );
    }
    name_documents(&mut out.messages);
    let spath = root.key("system");
    out.system.reserve(req.system.len());
    for (k, p) in req.system.iter().enumerate() {
        match p {
            Part::Text { .. } => encode_part(p, &spath.index(k), &mut out.system)?,
            _ => return Err(err(spath.index(k), "Bedrock system prompts hold only text")),
        }
    }
    // Claude's thinking (the models that take `thinking` here), fitted to its rules as for the
    // Messages API; while it is on, a temperature other than 1 and `top_k` give way to it.
    // NOTE: other vendors' models (Nova, Llama, ...) refuse the key ("extraneous key [thinking]
    // is not permitted"): a budget is a wish, and they get none (`invoke::may_be_claude`).
    let claude = invoke::may_be_claude(&req.model);
    let wanted = req.reasoning.as_ref().and_then(|r| r.budget_tokens).filter(|_| claude);
    let budget = crate::formats::anthropic::request::fit_claude_thinking(req, wanted);
    // OpenAI's and Gemini's temperatures run to 2, Converse's to 1: the hottest it takes.
    let temperature = req
        .temperature
        .filter(|t| budget.is_none() || *t == 1.0)
        .map(|t| t.min(1.0));
    let top_p = req.top_p.filter(|p| budget.is_none() || (0.95..=1.0).contains(p));
    if req.max_tokens.is_some() || temperature.is_some() || top_p.is_some() || !req.stop.is_empty() {
        out.inference_config = Some(BedrockInferenceConfig {
            max_tokens: req.max_tokens,
            temperature,
            top_p,
            stop_sequences: &req.stop,
        });
    }
    out.tool_config = tool_config(req);

    let extras = req.extra.for_target(Format::Bedrock);
    let extra_obj = |name: &str| {
        extras
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_object().cloned())
            .unwrap_or_default()
    };
    let mut additional = extra_obj("additionalModelRequestFields");
    add_sampling_fields(
        &req.model,
        req.top_k.filter(|_| budget.is_none()),
        req.seed,
        &mut additional,
    )?;
    // An Anthropic client's own Claude fields, for Claude only: other models refuse fields they
    // do not know.
    let claude_field = |name| crate::formats::anthropic::request::anthropic_field(req, name).filter(|_| claude);
    if let Some(b) = budget {
        additional.insert("thinking", sonic_rs::json!({"type": "enabled", "budget_tokens": b}));
    } else if let Some(t) = claude_field("thinking") {
        additional.insert("thinking", t.clone());
    }
    // Context editing (clearing old tool results and thinking), which Bedrock takes for Claude.
    if let Some(c) = claude_field("context_management") {
        additional.insert("context_management", c.clone());
    }
    // An Anthropic client's betas, for Claude only: other models refuse fields they do not know.
    let betas = crate::formats::anthropic::request::bedrock_betas(req);
    if let Some(b) = betas.filter(|_| claude) {
        additional.insert("anthropic_beta", b.clone());
    }
    if !additional.is_empty() {
        out.additional_model_request_fields = Some(Value::from(additional));
    }
    let mut output = extra_obj("outputConfig");
    let schema = match &req.response_format {
        Some(ResponseFormat::JsonSchema { name, schema, .. }) => Some((name.as_str(), schema.as_str())),
        Some(ResponseFormat::JsonObject) => Some((JSON_OBJECT_NAME, r#"{"type":"object"}"#)),
        _ => None,
    };
    if let Some((name, schema)) = schema {
        output.insert(
            "textFormat",
            sonic_rs::json!({"type": "json_schema", "structure": {"jsonSchema": {
                "schema": schema, "name": name}}}),
        );
    }
    if let Some(e) = req.reasoning.as_ref().and_then(|r| r.effort.as_deref()) {
        output.insert("effort", e);
    }
    if !output.is_empty() {
        out.output_config = Some(Value::from(output));
    }

    // Sized once from the text it will hold, instead of growing (and copying) from 128 bytes.
    let mut body = emit(&out, req.encoded_len_hint());
    // Bedrock-only top-level fields (guardrailConfig, requestMetadata, ...) go after the rest.
    const WRITTEN: [&str; 6] = [
        "messages",
        "system",
        "inferenceConfig",
        "toolConfig",
        "additionalModelRequestFields",
        "outputConfig",
    ];
    for (name, value) in extras {
        if WRITTEN.contains(&name.as_str()) {
            continue;
        }
        body.pop(); // the closing '}'
        body.push(b',');
        body.extend_from_slice(&sonic_rs::to_vec(name).unwrap_or_default());
        body.push(b':');
        body.extend_from_slice(&sonic_rs::to_vec(value).unwrap_or_default());
        body.push(b'}');
    }
    Ok(body)
}

// ---------------------------------------------------------------------------------------------
// Responses.

/// Bedrock `stopReason` -> canonical.
pub fn finish_from_bedrock(s: &str) -> FinishReason {
    match s {
        "end_turn" => FinishReason::Stop,
        "tool_use" => FinishReason::ToolCalls,
        "max_tokens" => FinishReason::Length,
        "stop_sequence" => FinishReason::StopSequence,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

/// The `stopReason` values of the service model (PROTOCOLS 5.3).
const STOP_REASONS: [&str; 9] = [
    "end_turn",
    "tool_use",
    "max_tokens",
    "stop_sequence",
    "guardrail_intervened",
    "content_filtered",
    "malformed_model_output",
    "malformed_tool_use",
    "model_context_window_exceeded",
];

/// Canonical -> Bedrock `stopReason`. An `Other` value Bedrock also has is kept verbatim;
/// anything else becomes `end_turn`, since clients switch on the enum.
pub fn finish_to_bedrock(f: &FinishReason) -> &str {
    match f {
        FinishReason::Stop => "end_turn",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::Length => "max_tokens",
        FinishReason::StopSequence => "stop_sequence",
        FinishReason::ContentFilter => "content_filtered",
        FinishReason::Error => "malformed_model_output",
        FinishReason::Other(s) if STOP_REASONS.contains(&s.as_str()) => s,
        // Gemini's names for a tool call or an answer it could not form: the same failures
        // Bedrock names.
        FinishReason::Other(s) if s == "MALFORMED_FUNCTION_CALL" => "malformed_tool_use",
        FinishReason::Other(s) if s == "MALFORMED_RESPONSE" => "malformed_model_output",
        FinishReason::Other(_) => "end_turn",
    }
}

fn u64_at(v: &Value, key: &str) -> u64 {
    get(v, key).and_then(|x| x.as_u64()).unwrap_or(0)
}

/// `TokenUsage` -> canonical. Bedrock's `inputTokens`, like Anthropic's, excludes cache reads
/// and writes (`totalTokens` counts them); canonical `input` is the total input, so they are
/// added back.
pub(crate) fn usage_from_bedrock(u: &Value) -> Usage {
    let cache_read = u64_at(u, "cacheReadInputTokens");
    let cache_write = u64_at(u, "cacheWriteInputTokens");
    Usage {
        input: u64_at(u, "inputTokens")
            .saturating_add(cache_read)
            .saturating_add(cache_write),
        output: u64_at(u, "outputTokens"),
        cache_read,
        cache_write,
        reasoning: 0,
    }
}

/// Canonical -> `TokenUsage`: `inputTokens` without the cached parts, `totalTokens` everything.
pub(crate) fn usage_to_bedrock(u: &Usage) -> BedrockUsage {
    let nonzero = |n: u64| (n > 0).then_some(n);
    BedrockUsage {
        input_tokens: u.input.saturating_sub(u.cache_read.saturating_add(u.cache_write)),
        output_tokens: u.output,
        total_tokens: u.input.saturating_add(u.output),
        cache_read_input_tokens: nonzero(u.cache_read),
        cache_write_input_tokens: nonzero(u.cache_write),
    }
}

/// A matched stop sequence, the way Claude-on-Bedrock reports it: `additionalModelResponseFields`
/// `{"stop_sequence": ..}` beside `stopReason` (Converse response and ConverseStream `messageStop`).
pub(crate) fn stop_sequence_fields(finish: &FinishReason, stop_sequence: Option<&str>) -> Option<Json> {
    match (finish, stop_sequence) {
        (FinishReason::StopSequence, Some(s)) => Some(sonic_rs::json!({"stop_sequence": s})),
        _ => None,
    }
}

/// The stop sequence written by `stop_sequence_fields`, read from the object holding `stopReason`.
pub(crate) fn stop_sequence_of(v: &Value) -> Option<String> {
    get(v, "additionalModelResponseFields")
        .and_then(|a| get(a, "stop_sequence"))
        .and_then(|s| s.as_str())
        .map(str::to_string)
}

/// A content block's way down to a call's `input` object (`tool_args`).
const CALL_BLOCK: tool_args::Shape = {
    use tool_args::Shape::{Args, Object};
    Object(&[("toolUse", Object(&[("input", Args)]))])
};

/// A Converse answer's way down to its calls' `input` objects (`tool_args::decode`).
struct Answer;

impl tool_args::Layout for Answer {
    const SHAPE: tool_args::Shape = {
        use tool_args::Shape::{Array, Object};
        Object(&[(
            "output",
            Object(&[("message", Object(&[("content", Array(&CALL_BLOCK))]))]),
        )])
    };
}

/// A Converse request's way down to the `input` objects of the calls in its history
/// (`tool_args::RawArgs`).
struct History;

impl tool_args::Layout for History {
    const SHAPE: tool_args::Shape = {
        use tool_args::Shape::{Array, Object};
        Object(&[("messages", Array(&Object(&[("content", Array(&CALL_BLOCK))])))])
    };
}

/// `decode_block` for a block of an answer decoded by `tool_args::decode`: a `toolUse`'s
/// `input` object is its text as the upstream wrote it.
fn decode_answer_block<'a>(b: &'a tool_args::Node<'_>, path: &JsonPath<'_>) -> Result<Block<'a>, ConvertError> {
    let Some(members) = b.members() else {
        // Not an object (`decode_block` says so); only objects are kept as members.
        return match b.value() {
            Some(v) => decode_block(v, path),
            None => Err(err(path, "must be an object")),
        };
    };
    // As `union_member`.
    let mut found = None;
    for (k, n) in members {
        if n.is_null() {
            continue;
        }
        if found.is_some() {
            return Err(err(path, "must have exactly one member set"));
        }
        found = Some((k, n));
    }
    let (kind, m) = found.ok_or_else(|| err(path, "must have exactly one member set"))?;
    if let Some(v) = m.value() {
        return decode_member(kind, v, path);
    }
    // Only a `toolUse` object is kept as members (`Answer`).
    let mpath = path.key(kind);
    let req_str = |key: &str| {
        m.field(key)
            .and_then(|x| x.as_str())
            .map(str::to_string)
            .ok_or_else(|| err(mpath.key(key), "required string"))
    };
    Ok(Block::Part(Part::ToolCall {
        id: req_str("toolUseId")?,
        name: req_str("name")?,
        arguments: m.field("input").map_or_else(|| "{}".into(), |i| i.arguments(json_text)),
        signature: None,
        extra: Extra::default(),
    }))
}

/// Provider: a Converse success body -> canonical. The body carries no id or model (the id is
/// the `x-amzn-RequestId` header): both are left empty for the caller to fill, `created` is 0.
/// Each call's `input` is taken as the upstream wrote it (`tool_args`), in the one pass that
/// parses the body.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, ConvertError> {
    let v = tool_args::decode::<Answer>(body).map_err(|e| {
        err(
            "",
            format!("response body is not valid JSON: {}", crate::wire::json::brief(&e)),
        )
    })?;
    let message = v
        .field("output")
        .and_then(|o| o.field("message"))
        .ok_or_else(|| err("output.message", "required"))?;
    let root = JsonPath::ROOT;
    let o = root.key("output");
    let om = o.key("message");
    let cpath = om.key("content");
    let content = match message.field("content") {
        Some(c) => match c.items() {
            Some(blocks) => {
                let mut parts = Vec::with_capacity(blocks.len());
                for (j, b) in blocks.iter().enumerate() {
                    match decode_answer_block(b, &cpath.index(j))? {
                        Block::Part(p) => parts.push(p),
                        Block::CachePoint(cp) => attach_cache_point(&mut parts, cp),
                    }
                }
                parts
            }
            // Not an array: `decode_blocks` says so.
            None => decode_blocks(&c.to_value(), &cpath)?,
        },
        None => Vec::new(),
    };
    let value = |key: &str| v.field(key).and_then(|x| x.value());
    let finish = finish_from_bedrock(value("stopReason").and_then(|s| s.as_str()).unwrap_or("end_turn"));
    let usage = value("usage").map_or_else(Usage::default, usage_from_bedrock);
    let stop_sequence = value("additionalModelResponseFields")
        .and_then(|a| get(a, "stop_sequence"))
        .and_then(|s| s.as_str())
        .map(str::to_string);
    Ok(ChatResponse {
        id: String::new(),
        model: String::new(),
        content,
        finish,
        usage,
        stop_sequence,
        created: 0,
        logprobs: Vec::new(),
    })
}

/// Integration: canonical -> Converse response body (usage split as `usage_to_bedrock` says),
/// `metrics.latencyMs` 0 (unknown: see `encode_response_timed`). A matched stop sequence is
/// reported as `stop_sequence_fields` says.
pub fn encode_response(resp: &ChatResponse) -> Vec<u8> {
    encode_response_timed(resp, 0)
}

/// `encode_response` with the model's latency, in milliseconds, in `metrics.latencyMs`.
pub fn encode_response_timed(resp: &ChatResponse, latency_ms: u64) -> Vec<u8> {
    encode_response_with(resp, latency_ms, |body, hint| {
        let mut out = Vec::with_capacity(hint);
        body.write(&mut out);
        out
    })
}

/// `encode_response_timed` up to the body's structs, which `emit` turns into bytes (as for
/// `encode_request_with`).
pub(crate) fn encode_response_with(
    resp: &ChatResponse,
    latency_ms: u64,
    emit: impl FnOnce(&BedrockConverseResponse<'_>, usize) -> Vec<u8>,
) -> Vec<u8> {
    let mut content = Vec::with_capacity(resp.content.len());
    let root = JsonPath::ROOT;
    let cpath = root.key("content");
    for (j, p) in resp.content.iter().enumerate() {
        // Responses hold text, tool calls and reasoning; an inexpressible part (an image URL)
        // is written as a text note rather than failing the whole answer.
        if let Err(e) = encode_part(p, &cpath.index(j), &mut content) {
            content.push(BedrockContentBlock::text(format!("[{e}]")));
        }
    }
    let out = BedrockConverseResponse {
        output: BedrockOutput {
            message: BedrockMessage {
                role: "assistant",
                content,
            },
        },
        stop_reason: finish_to_bedrock(&resp.finish),
        usage: usage_to_bedrock(&resp.usage),
        metrics: BedrockMetrics { latency_ms },
        additional_model_response_fields: stop_sequence_fields(&resp.finish, resp.stop_sequence.as_deref()),
    };
    emit(&out, resp.encoded_len_hint())
}

// ---------------------------------------------------------------------------------------------
// Errors (PROTOCOLS 5.6).

/// Namespace botocore strips from `x-amzn-ErrorType` (text after the first ':').
const ERROR_NAMESPACE: &str = ":http://internal.amazon.com/coral/com.amazon.bedrock/";

/// Exception name -> fault kind.
fn kind_of(name: &str) -> Option<FaultKind> {
    Some(match name {
        "ValidationException" => FaultKind::InvalidRequest,
        "AccessDeniedException" => FaultKind::PermissionDenied,
        "UnrecognizedClientException" | "InvalidSignatureException" | "ExpiredTokenException" => {
            FaultKind::Authentication
        }
        "ResourceNotFoundException" => FaultKind::NotFound,
        "ThrottlingException" | "ModelNotReadyException" | "ServiceQuotaExceededException" => FaultKind::RateLimited,
        "ModelTimeoutException" => FaultKind::Timeout,
        "ServiceUnavailableException" => FaultKind::Overloaded,
        "InternalServerException" | "ModelErrorException" | "ModelStreamErrorException" => FaultKind::Server,
        _ => return None,
    })
}

/// The exception name for a fault: by status (the modeled statuses of 5.6), else by kind.
pub fn error_name(fault: &UpstreamFault) -> &'static str {
    exception_name(fault.status, fault.kind)
}

/// `error_name` from the status and kind alone (the stream encoders see no whole fault).
pub(crate) fn exception_name(status: u16, kind: FaultKind) -> &'static str {
    match status {
        400 => "ValidationException",
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        408 => "ModelTimeoutException",
        424 => "ModelErrorException",
        429 => "ThrottlingException",
        500 => "InternalServerException",
        // Something Sluice does not implement (a method no route serves, a transfer coding, an
        // operation a provider lacks): Bedrock's shape has no 501, and as the fallback's
        // `InternalServerException` botocore would retry what can never succeed. Bedrock names a
        // request it cannot serve as given with this (`ApplyGuardrail` gets it too, `route`).
        501 => "ValidationException",
        503 => "ServiceUnavailableException",
        _ => match kind {
            FaultKind::InvalidRequest | FaultKind::RequestTooLarge => "ValidationException",
            FaultKind::Authentication => "UnrecognizedClientException",
            FaultKind::PermissionDenied => "AccessDeniedException",
            FaultKind::NotFound => "ResourceNotFoundException",
            FaultKind::RateLimited => "ThrottlingException",
            FaultKind::Overloaded => "ServiceUnavailableException",
            FaultKind::Timeout => "ModelTimeoutException",
            FaultKind::Server => "InternalServerException",
        },
    }
}

/// Provider: an upstream error -> fault, from status and body only (the `Codec` signature):
/// `decode_error_typed` without the `x-amzn-ErrorType` header.
pub fn decode_error(status: u16, body: &[u8]) -> UpstreamFault {
    decode_error_typed(status, None, body)
}

/// Provider: an upstream error -> fault. The exception name is resolved in botocore's order:
/// the `x-amzn-ErrorType` header (`error_type`; real Bedrock names it only there, the body is
/// just `{"message"}`), else body `code` / `Code`, else `__type`; text before the first ':'
/// and after the last '#'. An unknown name falls back to the status.
pub fn decode_error_typed(status: u16, error_type: Option<&[u8]>, body: &[u8]) -> UpstreamFault {
    let v: Option<Value> = sonic_rs::from_slice(body).ok();
    let field = |k: &str| {
        v.as_ref()
            .and_then(|v| get(v, k))
            .and_then(|x| x.as_str())
            .map(str::to_string)
    };
    let message = field("message")
        .or_else(|| field("Message"))
        .unwrap_or_else(|| super::raw_error_message(status, body));
    let header = error_type
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .filter(|h| !h.is_empty());
    let kind = header
        .or_else(|| field("code"))
        .or_else(|| field("Code"))
        .or_else(|| field("__type"))
        .and_then(|name| {
            let name = name.split(':').next().unwrap_or_default();
            let name = name.rsplit('#').next().unwrap_or_default();
            kind_of(name)
        })
        .unwrap_or_else(|| FaultKind::from_status(status));
    UpstreamFault { status, kind, message }
}

/// The HTTP status of an exception `error_name` gives: the service model's `httpStatusCode`
/// (PROTOCOLS 5.6), and 403 for `UnrecognizedClientException` (AWS's bad-credentials error).
fn modeled_status(name: &str) -> u16 {
    match name {
        "ValidationException" | "ServiceQuotaExceededException" => 400,
        "AccessDeniedException" | "UnrecognizedClientException" => 403,
        "ResourceNotFoundException" => 404,
        "ModelTimeoutException" => 408,
        "ModelErrorException" | "ModelStreamErrorException" => 424,
        "ThrottlingException" | "ModelNotReadyException" => 429,
        "ServiceUnavailableException" => 503,
        _ => 500,
    }
}

/// Integration: a fault -> rest-json error with `x-amzn-ErrorType` (without it boto3 raises a
/// bare `ClientError` and `client.exceptions.X` does not match), at the exception's modeled
/// status rather than the fault's (a 529 or 504 is no status Bedrock sends).
pub fn encode_error(fault: &UpstreamFault) -> ErrorReply {
    let name = error_name(fault);
    ErrorReply {
        status: modeled_status(name),
        headers: vec![("x-amzn-ErrorType", format!("{name}{ERROR_NAMESPACE}"))],
        content_type: "application/json",
        body: sonic_rs::to_vec(&BedrockError {
            message: &fault.message,
        })
        .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests;
