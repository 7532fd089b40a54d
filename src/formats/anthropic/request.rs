//! Anthropic Messages requests (PROTOCOLS 3.2): `decode_request` (integration: a client's body to
//! canonical) and `encode_request` (provider: canonical to an upstream body).
//!
//! Decoding reads the body in one pass (`one_pass`); what that pass leaves (a refusal, or a body
//! it cannot read exactly) is read by walking a `sonic_rs::Value`, which names every rejected
//! field with its path (`messages[1].content[0].source`). Top-level or per-block fields the
//! canonical types do not model are kept as extras tagged `Format::Anthropic`. Encoding rejects what Anthropic cannot
//! express (`seed`, a JSON `response_format`) instead of dropping it.

use super::types::*;
use crate::canonical::sig::{self, Family};
use crate::canonical::{
    image_media_type, image_source_from_url, is_image_type, is_text_type, parse_data_url, token_limit, ChatRequest,
    ConvertError, DocumentSource, Extra, ImageSource, Json, JsonPath, Message, Part, Reasoning, ResponseFormat, Role,
    Schema, Tool, ToolChoice, ToolResultContent, Written,
};
use crate::formats::{tool_args, Format};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::borrow::Cow;

const PDF: &str = "application/pdf";
const PLAIN_TEXT: &str = "text/plain";
/// The image types the Messages API takes, exactly as spelled here (its enum).
pub const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// `max_tokens` written when the canonical request has none: Anthropic requires the field, and
/// 4096 is accepted by every current Claude model.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Top-level fields `encode_request` writes itself; an extra with one of these names is skipped.
const TYPED_FIELDS: &[&str] = &[
    "model",
    "max_tokens",
    "messages",
    "system",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "stream",
    "tools",
    "tool_choice",
];

// ---- decode ------------------------------------------------------------------------------------

fn err(field: impl Into<String>, message: impl Into<String>) -> ConvertError {
    ConvertError::new(field, message)
}

fn as_str<'v>(v: &'v Json, field: &JsonPath<'_>) -> Result<&'v str, ConvertError> {
    v.as_str().ok_or_else(|| err(field, "must be a string"))
}

fn req_str<'v>(obj: &'v Json, key: &str, path: &JsonPath<'_>) -> Result<&'v str, ConvertError> {
    match obj.get(key) {
        Some(v) => v.as_str().ok_or_else(|| err(path.key(key), "must be a string")),
        None => Err(err(path.key(key), "Field required")),
    }
}

fn as_u32(v: &Json, field: &JsonPath<'_>) -> Result<u32, ConvertError> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| err(field, "must be a non-negative integer"))
}

fn as_f64(v: &Json, field: &JsonPath<'_>) -> Result<f64, ConvertError> {
    v.as_f64().ok_or_else(|| err(field, "must be a number"))
}

fn as_array<'v>(v: &'v Json, field: &JsonPath<'_>) -> Result<&'v sonic_rs::Array, ConvertError> {
    v.as_array().ok_or_else(|| err(field, "must be an array"))
}

/// One pass over object `obj`: the first value of each of `keys` (like `get`), and whether any
/// other field is non-null (that is, whether `block_extra(obj, &keys)` would be non-empty).
fn fields<'v, const N: usize>(obj: &'v sonic_rs::Object, keys: [&str; N]) -> ([Option<&'v Json>; N], bool) {
    let mut found = [None; N];
    let mut others = false;
    for (k, v) in obj.iter() {
        match keys.iter().position(|&key| key == k) {
            Some(n) => {
                if found[n].is_none() {
                    found[n] = Some(v);
                }
            }
            None => others |= !v.is_null(),
        }
    }
    (found, others)
}

/// `req_str` for a value already looked up with `fields`.
fn found_str<'v>(v: Option<&'v Json>, key: &str, path: &JsonPath<'_>) -> Result<&'v str, ConvertError> {
    match v {
        Some(v) => v.as_str().ok_or_else(|| err(path.key(key), "must be a string")),
        None => Err(err(path.key(key), "Field required")),
    }
}

/// The fields of block `b` other than `known`, as an Anthropic extra (empty: `Extra::default()`).
fn block_extra(b: &Json, known: &[&str]) -> Extra {
    let mut extra = Extra::default();
    if let Some(obj) = b.as_object() {
        for (k, v) in obj.iter() {
            if !known.contains(&k) && !v.is_null() {
                if extra.format.is_none() {
                    extra = Extra::new(Format::Anthropic);
                }
                extra.push(k, v.clone());
            }
        }
    }
    extra
}

/// A Messages request's way down to the `input` objects of the calls in its history
/// (`tool_args::RawArgs`).
struct History;

impl tool_args::Layout for History {
    const SHAPE: tool_args::Shape = {
        use tool_args::Shape::{Args, Array, Object};
        Object(&[(
            "messages",
            Array(&Object(&[("content", Array(&Object(&[("input", Args)])))])),
        )])
    };
}

/// A client's Anthropic Messages body -> canonical. The model and the stream flag travel in the
/// body; `path_model` is used only when the body has no `model` (Bedrock InvokeModel bodies,
/// whose model is in the URL).
///
/// Read in one pass (`one_pass`); a body that reading leaves is read by `Value`, the reference,
/// which gives the same request or names the refused field.
pub fn decode_request(body: &[u8], path_model: Option<&str>, _stream: bool) -> Result<ChatRequest, ConvertError> {
    match super::one_pass::read(body, path_model) {
        Some(req) => Ok(req),
        None => decode_by_value(body, path_model),
    }
}

/// The body's top level other than `messages`, as both readings take it.
pub(super) struct Top {
    req: ChatRequest,
    extra: Extra,
    model: Option<String>,
}

impl Top {
    pub(super) fn new() -> Top {
        Top {
            req: ChatRequest::default(),
            extra: Extra::new(Format::Anthropic),
            model: None,
        }
    }

    /// Member `k` (not `messages`) into the request; of a repeated key, the last one counts.
    /// Tools read in one pass (`one_pass::Tools`): after those of an earlier `tools`, as
    /// `field` adds them.
    pub(super) fn add_tools(&mut self, tools: Vec<Tool>) {
        match self.req.tools.is_empty() {
            true => self.req.tools = tools,
            false => self.req.tools.extend(tools),
        }
    }

    pub(super) fn field(&mut self, k: &str, val: &Json, written: Written<'_>) -> Result<(), ConvertError> {
        if val.is_null() && k != "model" {
            return Ok(());
        }
        let root = JsonPath::ROOT;
        let req = &mut self.req;
        let extra = &mut self.extra;
        match k {
            "model" => self.model = Some(as_str(val, &root.key("model"))?.to_string()),
            "max_tokens" => {
                let path = root.key("max_tokens");
                req.max_tokens = Some(token_limit(as_u32(val, &path)?, &path)?);
            }
            "system" => req.system = decode_system(val)?,
            "temperature" => req.temperature = Some(as_f64(val, &root.key("temperature"))?),
            "top_p" => req.top_p = Some(as_f64(val, &root.key("top_p"))?),
            "top_k" => req.top_k = Some(as_u32(val, &root.key("top_k"))?),
            "stop_sequences" => {
                let path = root.key("stop_sequences");
                let arr = as_array(val, &path)?;
                req.stop.reserve(arr.len());
                for (i, s) in arr.iter().enumerate() {
                    req.stop.push(as_str(s, &path.index(i))?.to_string());
                }
            }
            "stream" => req.stream = val.as_bool().ok_or_else(|| err("stream", "must be a boolean"))?,
            // `metadata` holds only `user_id` in the API: the end user, as OpenAI's `user`.
            // Anything else in it stays an Anthropic extra.
            "metadata" => match val
                .as_object()
                .map(|o| (o.len(), o.get(&"user_id").and_then(|u| u.as_str())))
            {
                Some((1, Some(user))) => req.user = Some(user.to_string()),
                _ => extra.push(k, val.clone()),
            },
            "tools" => {
                let path = root.key("tools");
                let arr = as_array(val, &path)?;
                req.tools.reserve(arr.len());
                for (i, t) in arr.iter().enumerate() {
                    req.tools.push(decode_tool(t, &path.index(i))?);
                }
            }
            "tool_choice" => decode_tool_choice(val, req)?,
            // Structured outputs: `output_config.format` (GA), `output_format` (the beta's name).
            // Its other members (`effort`, ...) stay an Anthropic extra, for Anthropic targets;
            // `effort` is also the canonical effort, for the others (`effort_from_anthropic`).
            "output_config" => {
                if let Some(e) = val.get("effort").and_then(|e| e.as_str()) {
                    reasoning(req).effort = Some(effort_from_anthropic(e).to_string());
                }
                match val.as_object() {
                    Some(o) if o.get(&"format").is_some() => {
                        let format = o.get(&"format").unwrap_or(val);
                        let text = (written, k, &["format", "schema"][..]);
                        req.response_format = Some(decode_output_format(format, &root.key(k).key("format"), text)?);
                        let mut rest = o.clone();
                        rest.remove(&"format");
                        if !rest.is_empty() {
                            extra.push(k, Json::from(rest));
                        }
                    }
                    _ => extra.push(k, val.clone()),
                }
            }
            "output_format" => {
                let text = (written, k, &["schema"][..]);
                req.response_format = Some(decode_output_format(val, &root.key(k), text)?)
            }
            "thinking" => match val.get("type").and_then(|t| t.as_str()) {
                Some("enabled") => {
                    let budget = match val.get("budget_tokens") {
                        Some(b) => Some(as_u32(b, &root.key("thinking").key("budget_tokens"))?),
                        None => None,
                    };
                    reasoning(req).budget_tokens = budget;
                }
                // `disabled`, `adaptive` and future kinds have no canonical form.
                Some(_) => extra.push("thinking", val.clone()),
                None => return Err(err("thinking.type", "Field required")),
            },
            _ => extra.push(k, val.clone()),
        }
        Ok(())
    }

    /// The model: the body's, else the one from the path.
    pub(super) fn model(&self, path_model: Option<&str>) -> Result<String, ConvertError> {
        match self.model.as_deref().or(path_model) {
            Some(m) => Ok(m.to_string()),
            None => Err(err("model", "Field required")),
        }
    }

    /// The request, with its history: `system` is the text of the history's `system` turns,
    /// after the top-level `system`.
    pub(super) fn finish(
        self,
        model: String,
        messages: Vec<Message>,
        system: Vec<Part>,
        has_tool_results: bool,
    ) -> ChatRequest {
        let Top { mut req, extra, .. } = self;
        req.model = model;
        req.system.extend(system);
        req.messages = messages;
        if has_tool_results {
            crate::canonical::name_tool_results(&mut req.messages);
        }
        if !extra.is_empty() {
            req.extra = extra;
        }
        req
    }
}

/// The reading by `Value`: slower than `one_pass` (a tree of the whole body, then a walk for
/// the calls' arguments as written), but it names the field of any refusal.
pub(crate) fn decode_by_value(body: &[u8], path_model: Option<&str>) -> Result<ChatRequest, ConvertError> {
    let v: Json = sonic_rs::from_slice(body).map_err(|e| {
        err(
            "",
            format!("request body is not valid JSON: {}", crate::wire::json::brief(&e)),
        )
    })?;
    let obj = v
        .as_object()
        .ok_or_else(|| err("", "request body must be a JSON object"))?;
    let root = JsonPath::ROOT;
    let mut top = Top::new();
    let mut messages = None;
    for (k, val) in obj.iter() {
        match k {
            "messages" => messages = Some(as_array(val, &root.key("messages"))?),
            _ => top.field(k, val, Written::Body(body, obj))?,
        }
    }
    let model = top.model(path_model)?;
    let messages = messages.ok_or_else(|| err("messages", "Field required"))?;
    let mut history = Vec::with_capacity(messages.len());
    let mut system = Vec::new();
    let mut has_tool_results = false;
    let mut raw = tool_args::RawArgs::<History>::default();
    for (i, m) in messages.iter().enumerate() {
        has_tool_results |= decode_message(m, i, &mut history, &mut system, &mut raw)?;
    }
    raw.fill(
        body,
        history.iter_mut().flat_map(|m| tool_args::calls_in(&mut m.content)),
    );
    let mut req = top.finish(model, history, system, has_tool_results);
    req.detach_values_if_large(body.len());
    Ok(req)
}

/// An output format (`{"type":"json_schema","schema":{...}}`, the only kind the API has); `text`:
/// where its schema's text is (`Schema::as_written`).
fn decode_output_format(
    v: &Json,
    path: &JsonPath<'_>,
    (written, key, schema_path): (Written<'_>, &str, &[&str]),
) -> Result<ResponseFormat, ConvertError> {
    match v.get("type").and_then(|t| t.as_str()) {
        Some("json_schema") => {
            let schema = v
                .get("schema")
                .filter(|s| s.is_object())
                .ok_or_else(|| err(path.key("schema"), "required object"))?;
            Ok(ResponseFormat::JsonSchema {
                name: "response".into(),
                schema: Schema::as_written(schema, written, key, schema_path),
                strict: None,
            })
        }
        Some(other) => Err(err(path.key("type"), format!("unknown output format type `{other}`"))),
        None => Err(err(path.key("type"), "Field required")),
    }
}

fn decode_system(v: &Json) -> Result<Vec<Part>, ConvertError> {
    if let Some(s) = v.as_str() {
        return Ok(vec![Part::text(s)]);
    }
    let blocks = v
        .as_array()
        .ok_or_else(|| err("system", "must be a string or an array of text blocks"))?;
    let root = JsonPath::ROOT;
    let system = root.key("system");
    let mut out = Vec::with_capacity(blocks.len());
    for (i, b) in blocks.iter().enumerate() {
        let path = system.index(i);
        match b.get("type").and_then(|t| t.as_str()) {
            Some("text") => out.push(Part::Text {
                text: req_str(b, "text", &path)?.to_string(),
                extra: block_extra(b, &["type", "text"]),
            }),
            _ => return Err(err(path.key("type"), "system blocks must be text")),
        }
    }
    Ok(out)
}

/// Decodes message `i` into `req`, noting in `raw` where its calls' `input`s are
/// (`tool_args`); true when its content held a tool result.
fn decode_message<'v>(
    m: &'v Json,
    i: usize,
    history: &mut Vec<Message>,
    system: &mut Vec<Part>,
    raw: &mut tool_args::RawArgs<'v, History>,
) -> Result<bool, ConvertError> {
    let root = JsonPath::ROOT;
    let messages = root.key("messages");
    let path = &messages.index(i);
    let ([role, content], _) = match m.as_object() {
        Some(obj) => fields(obj, ["role", "content"]),
        None => ([None, None], false),
    };
    let role = match found_str(role, "role", path)? {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        // Newer SDK types allow a system message; it joins the top-level system prompt.
        "system" => {
            let cpath = path.key("content");
            let content = content.ok_or_else(|| err(cpath, "Field required"))?;
            let parts = decode_content(content, &cpath)?;
            for p in parts {
                match p {
                    Part::Text { .. } => system.push(p),
                    _ => return Err(err(cpath, "system messages may hold only text")),
                }
            }
            return Ok(false);
        }
        other => {
            return Err(err(
                path.key("role"),
                format!("unknown role `{other}` (expected `user` or `assistant`)"),
            ))
        }
    };
    let cpath = path.key("content");
    let content = content.ok_or_else(|| err(cpath, "Field required"))?;
    let blocks = content;
    let content = decode_content(content, &cpath)?;
    // Part j is block j, and each `tool_use` block (only they) became a call: one whose `input`
    // is an object has its arguments left for `raw` to fill.
    for (j, p) in content.iter().enumerate() {
        if let Part::ToolCall { arguments, .. } = p {
            let input = blocks.get(j).and_then(|b| b.get("input"));
            if let Some(input) = input.filter(|_| arguments.is_empty()) {
                raw.push(i, j, input);
            }
        }
    }
    let has_tool_result = content.iter().any(|p| matches!(p, Part::ToolResult { .. }));
    history.push(Message { role, content });
    Ok(has_tool_result)
}

fn decode_content(v: &Json, path: &JsonPath<'_>) -> Result<Vec<Part>, ConvertError> {
    if let Some(s) = v.as_str() {
        return Ok(vec![Part::text(s)]);
    }
    let blocks = v
        .as_array()
        .ok_or_else(|| err(path, "must be a string or an array of content blocks"))?;
    let mut out = Vec::with_capacity(blocks.len());
    for (j, b) in blocks.iter().enumerate() {
        out.push(decode_block(b, &path.index(j))?);
    }
    Ok(out)
}

fn decode_block(b: &Json, path: &JsonPath<'_>) -> Result<Part, ConvertError> {
    let Some(obj) = b.as_object() else {
        return Err(err(path, "content block must be an object"));
    };
    // Text blocks are nearly all blocks: one pass finds the type, the text and any extras.
    let ([ty, text], others) = fields(obj, ["type", "text"]);
    Ok(match found_str(ty, "type", path)? {
        "text" => Part::Text {
            text: found_str(text, "text", path)?.to_string(),
            extra: if others {
                block_extra(b, &["type", "text"])
            } else {
                Extra::default()
            },
        },
        "image" => {
            let spath = path.key("source");
            Part::Image {
                source: decode_image_source(b.get("source").ok_or_else(|| err(spath, "Field required"))?, &spath)?,
                extra: block_extra(b, &["type", "source"]),
            }
        }
        "document" => {
            let spath = path.key("source");
            let name = match b.get("title") {
                Some(t) if !t.is_null() => Some(as_str(t, &path.key("title"))?.to_string()),
                _ => None,
            };
            Part::Document {
                source: decode_document_source(b.get("source").ok_or_else(|| err(spath, "Field required"))?, &spath)?,
                name,
                extra: block_extra(b, &["type", "source", "title"]),
            }
        }
        "tool_use" => {
            let input = match b.get("input") {
                // Left for `decode_message`'s `RawArgs` to fill with the text as written.
                Some(i) if i.is_object() => String::new(),
                Some(i) if !i.is_null() => sonic_rs::to_string(i).map_err(|e| err(path.key("input"), e.to_string()))?,
                _ => "{}".to_string(),
            };
            Part::ToolCall {
                id: req_str(b, "id", path)?.to_string(),
                name: req_str(b, "name", path)?.to_string(),
                arguments: input,
                signature: None,
                extra: block_extra(b, &["type", "id", "name", "input"]),
            }
        }
        "tool_result" => Part::ToolResult {
            id: req_str(b, "tool_use_id", path)?.to_string(),
            name: None,
            content: decode_tool_result_content(b.get("content"), &path.key("content"))?,
            is_error: match b.get("is_error") {
                Some(e) if !e.is_null() => e
                    .as_bool()
                    .ok_or_else(|| err(path.key("is_error"), "must be a boolean"))?,
                _ => false,
            },
            extra: block_extra(b, &["type", "tool_use_id", "content", "is_error"]),
        },
        "thinking" => Part::Thinking {
            text: req_str(b, "thinking", path)?.to_string(),
            signature: b
                .get("signature")
                .and_then(|s| s.as_str())
                .map(|s| sig::decode(s, Family::Claude)),
        },
        "redacted_thinking" => Part::RedactedThinking {
            data: sig::decode(req_str(b, "data", path)?, Family::Claude),
        },
        other => {
            return Err(err(
                path.key("type"),
                format!("content block type `{other}` cannot be translated to other formats"),
            ))
        }
    })
}

pub(super) fn decode_image_source(src: &Json, path: &JsonPath<'_>) -> Result<ImageSource, ConvertError> {
    match req_str(src, "type", path)? {
        "base64" => {
            let media_type = req_str(src, "media_type", path)?;
            if !is_image_type(media_type) {
                return Err(err(path.key("media_type"), "must be an image type (image/*)"));
            }
            Ok(ImageSource::Base64 {
                media_type: media_type.to_string(),
                data: req_str(src, "data", path)?.to_string(),
            })
        }
        "url" => image_source_from_url(req_str(src, "url", path)?).map_err(|why| err(path.key("url"), why)),
        other => Err(err(
            path.key("type"),
            format!("image source type `{other}` cannot be translated (use base64 or url)"),
        )),
    }
}

/// A `document` block's source: a base64 PDF, plain text, or a PDF by http(s) URL.
pub(super) fn decode_document_source(src: &Json, path: &JsonPath<'_>) -> Result<DocumentSource, ConvertError> {
    match req_str(src, "type", path)? {
        "base64" => {
            if req_str(src, "media_type", path)? != PDF {
                return Err(err(path.key("media_type"), "must be application/pdf"));
            }
            Ok(DocumentSource::Base64 {
                media_type: PDF.to_string(),
                data: req_str(src, "data", path)?.to_string(),
            })
        }
        "text" => {
            if req_str(src, "media_type", path)? != PLAIN_TEXT {
                return Err(err(path.key("media_type"), "must be text/plain"));
            }
            Ok(DocumentSource::Text(req_str(src, "data", path)?.to_string()))
        }
        "url" => {
            let url = req_str(src, "url", path)?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(err(path.key("url"), "must be an http(s) URL"));
            }
            Ok(DocumentSource::Url(url.to_string()))
        }
        other => Err(err(
            path.key("type"),
            format!("document source type `{other}` cannot be translated (use base64, text or url)"),
        )),
    }
}

fn decode_tool_result_content(v: Option<&Json>, path: &JsonPath<'_>) -> Result<Vec<ToolResultContent>, ConvertError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    if let Some(s) = v.as_str() {
        return Ok(vec![ToolResultContent::Text(s.to_string())]);
    }
    let blocks = v
        .as_array()
        .ok_or_else(|| err(path, "must be a string or an array of content blocks"))?;
    let mut out = Vec::with_capacity(blocks.len());
    for (j, b) in blocks.iter().enumerate() {
        let bpath = path.index(j);
        match decode_block(b, &bpath)? {
            Part::Text { text, .. } => out.push(ToolResultContent::Text(text)),
            Part::Image { source, .. } => out.push(ToolResultContent::Image(source)),
            Part::Document { source, name, .. } => out.push(ToolResultContent::Document { source, name }),
            _ => {
                return Err(err(
                    bpath.key("type"),
                    "tool results may hold only text, image and document blocks",
                ))
            }
        }
    }
    Ok(out)
}

fn decode_tool(t: &Json, path: &JsonPath<'_>) -> Result<Tool, ConvertError> {
    if let Some(ty) = t.get("type").and_then(|t| t.as_str()) {
        if ty != "custom" {
            return Err(err(
                path.key("type"),
                format!("server tool `{ty}` cannot be translated to other formats"),
            ));
        }
    }
    let description = match t.get("description") {
        Some(d) if !d.is_null() => Some(as_str(d, &path.key("description"))?.to_string()),
        _ => None,
    };
    let parameters = t
        .get("input_schema")
        .filter(|s| s.is_object())
        .map(Schema::from_value)
        .ok_or_else(|| err(path.key("input_schema"), "must be a JSON Schema object"))?;
    // Strict tool use (structured outputs): the input follows the schema exactly.
    let strict = match t.get("strict") {
        Some(s) if !s.is_null() => Some(
            s.as_bool()
                .ok_or_else(|| err(path.key("strict"), "must be a boolean"))?,
        ),
        _ => None,
    };
    Ok(Tool {
        name: req_str(t, "name", path)?.to_string(),
        description,
        parameters,
        strict,
        extra: block_extra(t, &["name", "description", "input_schema", "strict"]),
    })
}

fn decode_tool_choice(v: &Json, req: &mut ChatRequest) -> Result<(), ConvertError> {
    let root = JsonPath::ROOT;
    let path = root.key("tool_choice");
    req.tool_choice = Some(match req_str(v, "type", &path)? {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Required,
        "none" => ToolChoice::None,
        "tool" => ToolChoice::Named(req_str(v, "name", &path)?.to_string()),
        other => return Err(err("tool_choice.type", format!("unknown tool_choice type `{other}`"))),
    });
    if let Some(d) = v.get("disable_parallel_tool_use").filter(|d| !d.is_null()) {
        let d = d
            .as_bool()
            .ok_or_else(|| err("tool_choice.disable_parallel_tool_use", "must be a boolean"))?;
        req.parallel_tool_calls = Some(!d);
    }
    Ok(())
}

// ---- encode ------------------------------------------------------------------------------------

/// Bedrock's InvokeModel body names Claude's beta features in the body (`"anthropic_beta":
/// ["..."]`); the Messages API takes them as the `anthropic-beta` header and refuses the field.
const BEDROCK_BETA_FIELD: &str = "anthropic_beta";

/// The `anthropic-beta` header for an Anthropic upstream: the betas a Bedrock client named in
/// its body, comma-separated, or None. InvokeModel has them in Claude's own body
/// (`anthropic_beta`); Converse in the model's own fields (`additionalModelRequestFields`,
/// where Bedrock's guide for Claude puts them).
pub fn beta_header(req: &ChatRequest) -> Option<String> {
    let betas = match req.extra.format {
        Some(Format::Anthropic) => req.extra.get(BEDROCK_BETA_FIELD)?,
        Some(Format::Bedrock) => req.extra.get("additionalModelRequestFields")?.get(BEDROCK_BETA_FIELD)?,
        _ => return None,
    };
    let names: Vec<&str> = betas.as_array()?.iter().filter_map(|b| b.as_str()).collect();
    // Header-safe names only: a beta name is a token such as `computer-use-2024-10-22`.
    let safe = |n: &&str| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    };
    let names: Vec<&str> = names.into_iter().filter(safe).collect();
    (!names.is_empty()).then(|| names.join(","))
}

/// Keeps the betas an Anthropic client named in its `anthropic-beta` header (comma-separated)
/// among its request's extras, under the name Bedrock's Claude body gives them
/// (`anthropic_beta`): a Claude model on Bedrock then gets them in its own fields
/// (`bedrock_betas`). Without them a beta feature (a 1M context, interleaved thinking) is off
/// there, and the request fails or the answer changes.
pub fn keep_beta_header(req: &mut ChatRequest, header: Option<&str>) {
    let names: Vec<&str> = header
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() || req.extra.get(BEDROCK_BETA_FIELD).is_some() {
        return;
    }
    // A body without extras leaves them format-less.
    if *req.extra.format.get_or_insert(Format::Anthropic) != Format::Anthropic {
        return;
    }
    req.extra.push(BEDROCK_BETA_FIELD, Json::from(names.as_slice()));
}

/// The Claude betas an Anthropic-format request names (`keep_beta_header`), for Converse's
/// `additionalModelRequestFields`, where Bedrock's guide for Claude puts them.
pub fn bedrock_betas(req: &ChatRequest) -> Option<&Json> {
    match req.extra.format {
        Some(Format::Anthropic) => req.extra.get(BEDROCK_BETA_FIELD),
        _ => None,
    }
}

/// A top-level field of an Anthropic-format request that has no canonical form, for Claude on
/// Bedrock, which takes some of Claude's own: a `thinking` of a kind with no canonical form
/// (`adaptive`, `disabled`), `context_management`.
pub fn anthropic_field<'r>(req: &'r ChatRequest, name: &str) -> Option<&'r Json> {
    match req.extra.format {
        Some(Format::Anthropic) => req.extra.get(name),
        _ => None,
    }
}

/// The request's reasoning settings, made empty if it has none yet.
fn reasoning(req: &mut ChatRequest) -> &mut Reasoning {
    req.reasoning.get_or_insert(Reasoning {
        budget_tokens: None,
        effort: None,
    })
}

/// Anthropic's `output_config.effort` as the canonical (OpenAI-named) effort: `max`, which no
/// other format names, is their `high` (OpenAI's `xhigh` exists on few models). The levels
/// others share pass as they are.
fn effort_from_anthropic(effort: &str) -> &str {
    match effort {
        "max" => "high",
        other => other,
    }
}

/// Anthropic's smallest `thinking.budget_tokens`.
const MIN_THINKING_BUDGET: u32 = 1024;

/// Token budget for an OpenAI-style effort level (the common gateway mapping).
fn effort_budget(effort: &str) -> Result<Option<u32>, ConvertError> {
    match effort {
        "none" => Ok(None),
        "minimal" | "low" => Ok(Some(1024)),
        "medium" => Ok(Some(2048)),
        "high" | "xhigh" => Ok(Some(4096)),
        other => Err(err(
            "reasoning_effort",
            format!("effort `{other}` has no Anthropic thinking budget"),
        )),
    }
}

/// The thinking budget to send, fitted to what Anthropic takes (extended-thinking guide): from
/// 1,024 and below the client's own `max_tokens`, and none with forced tool use. A budget or an
/// effort is a wish, not a contract: raised to the minimum, lowered under `max_tokens`, or left
/// out when no budget fits or the client forces a tool call (which it relies on). A budget of 0
/// (Gemini's "no thinking") is no thinking.
fn thinking_budget(req: &ChatRequest) -> Result<Option<u32>, ConvertError> {
    let wanted = match &req.reasoning {
        Some(Reasoning {
            budget_tokens: Some(b), ..
        }) => Some(*b),
        // An Anthropic client's effort is its `output_config.effort`, which travels as it is
        // (an extra): it is no thinking budget.
        Some(Reasoning { effort: Some(e), .. }) if req.extra.format != Some(Format::Anthropic) => effort_budget(e)?,
        _ => None,
    };
    Ok(fit_claude_thinking(req, wanted))
}

/// A wanted thinking budget fitted to Claude's rules, which hold wherever Claude runs (the
/// Messages API, Bedrock's `additionalModelRequestFields.thinking`): see `thinking_budget`.
pub(crate) fn fit_claude_thinking(req: &ChatRequest, wanted: Option<u32>) -> Option<u32> {
    if req.tool_choice.as_ref().is_some_and(ToolChoice::forces_call) {
        return None;
    }
    if tool_loop_without_thinking(&req.messages) {
        return None;
    }
    wanted
        .filter(|b| *b > 0)
        .map(|b| b.max(MIN_THINKING_BUDGET))
        .and_then(|b| match req.max_tokens {
            Some(max) => Some(b.min(max.saturating_sub(1))).filter(|b| *b >= MIN_THINKING_BUDGET),
            None => Some(b),
        })
}

/// Whether the conversation is in a tool loop whose assistant turn does not open with signed
/// thinking. With thinking on, Anthropic refuses such a turn ("a final `assistant` message must
/// start with a thinking block"): a client of another format (an OpenAI agent with
/// `reasoning_effort`) never has Anthropic's signed thinking to send back, so its tool loops
/// would all fail. Thinking is left out for that request instead, as Anthropic's guide suggests
/// ("To avoid this requirement, disable `thinking`").
pub(crate) fn tool_loop_without_thinking(messages: &[Message]) -> bool {
    let Some(last) = messages.iter().rev().find(|m| m.role == Role::Assistant) else {
        return false;
    };
    let calls = last.content.iter().any(|p| matches!(p, Part::ToolCall { .. }));
    let opens_with_thinking = matches!(
        last.content.first(),
        Some(Part::Thinking { signature: Some(_), .. } | Part::RedactedThinking { .. })
    );
    calls && !opens_with_thinking
}

/// Canonical -> Anthropic Messages body for an upstream.
///
/// Defaults for fields Anthropic requires: `max_tokens` is `DEFAULT_MAX_TOKENS` (or the thinking
/// budget plus 4096 when that is larger, since the budget must stay below `max_tokens`).
///
/// NOTE: frequency and presence penalties are omitted: Anthropic has no such setting, and they
/// are sampling hints that OpenAI clients often send at their defaults (refusing them would break
/// those clients, as with `top_k` for OpenAI).
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
    emit: impl FnOnce(&AnthropicRequest<'_>, usize) -> Vec<u8>,
) -> Result<Vec<u8>, ConvertError> {
    // An allowed-tools choice, which Anthropic says by the tools offered (`tool_choice`).
    let narrowed = crate::formats::tool_choice::narrow(req, crate::formats::tool_choice::Narrow::Allowed)?;
    let req = narrowed.as_ref().unwrap_or(req);
    // Thinking another provider family signed, which this one would refuse (`sig`).
    let signed = sig::fit_request(req, Family::Claude);
    let req = signed.as_ref().unwrap_or(req);
    // Ids made elsewhere (a Gemini signed id, `functions.f:0`) that this upstream would refuse.
    let fitted = crate::formats::call_ids::fit_request(req, crate::formats::call_ids::ANTHROPIC);
    let req = fitted.as_ref().unwrap_or(req);
    // Names other formats allow that this upstream would refuse (`tool_names::Renames` maps back).
    let renamed = crate::formats::tool_names::fit_request(req, crate::formats::tool_names::ANTHROPIC);
    let req = renamed.as_ref().unwrap_or(req);
    req.extra.refuse_lost_content(Format::Anthropic)?;
    req.refuse_logprobs(Format::Anthropic)?;
    if req.seed.is_some() {
        return Err(err("seed", "Anthropic has no seed parameter"));
    }
    // Structured outputs take a schema; a bare JSON mode has no Anthropic form (its schemas
    // must close every object, so `{"type":"object"}` is no stand-in).
    let format = match &req.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonSchema { schema, .. }) => Some(schema),
        Some(ResponseFormat::JsonObject) => {
            return Err(err(
                "response_format",
                "Anthropic has no JSON mode without a schema; use a json_schema response format",
            ))
        }
    };
    let budget = thinking_budget(req)?;
    let max_tokens = req
        .max_tokens
        .unwrap_or_else(|| budget.map_or(DEFAULT_MAX_TOKENS, |b| b.saturating_add(4096).max(DEFAULT_MAX_TOKENS)));
    let extra = req.extra.for_target(Format::Anthropic);
    // The format goes into `output_config` with whatever else an Anthropic client put there.
    let output_config = format.map(|schema| {
        let mut rest = extra
            .iter()
            .find(|(k, _)| k == "output_config")
            .and_then(|(_, v)| v.as_object().cloned())
            .unwrap_or_default();
        rest.remove(&"format");
        AnthropicOutputConfig { rest, schema }
    });
    let extra: Vec<(String, Json)> = extra
        .iter()
        .filter(|(k, _)| {
            let typed = TYPED_FIELDS.contains(&k.as_str())
                || (k == "thinking" && budget.is_some())
                || k == BEDROCK_BETA_FIELD
                || (output_config.is_some() && (k == "output_config" || k == "output_format"));
            !typed
        })
        .cloned()
        .collect();
    let mut messages = encode_messages(&req.messages)?;
    // Anthropic refuses no turns ("messages: at least one message is required"): an OpenAI
    // system prompt alone, which OpenAI answers, gets a minimal user turn after it.
    if messages.is_empty() && !req.system.is_empty() {
        messages.push(AnthropicMessage {
            role: "user",
            content: vec![AnthropicBlock::Text {
                text: Cow::Borrowed(crate::canonical::OPENING_USER_TURN),
                extra: RawFields::default(),
            }],
        });
    }
    let body = AnthropicRequest {
        max_tokens,
        messages,
        // An Anthropic client's own `metadata` (an extra) says it already.
        metadata: req
            .user
            .as_deref()
            .filter(|_| !extra.iter().any(|(k, _)| k == "metadata"))
            .map(|user_id| AnthropicMetadata { user_id }),
        model: &req.model,
        stop_sequences: &req.stop,
        stream: req.stream,
        system: encode_system(&req.system)?,
        // NOTE: while thinking, Anthropic takes temperature 1 only and no top_k (extended-thinking
        // guide); a Gemini client sends both with a budget, so the sampling hints give way.
        // OpenAI's and Gemini's temperatures run to 2, Anthropic's to 1: the hottest it takes.
        temperature: req
            .temperature
            .filter(|t| budget.is_none() || *t == 1.0)
            .map(|t| t.min(1.0)),
        thinking: budget.map(|b| AnthropicThinking {
            kind: "enabled",
            budget_tokens: b,
        }),
        tool_choice: encode_tool_choice(req),
        tools: req
            .tools
            .iter()
            .map(|t| AnthropicTool {
                name: &t.name,
                description: t.description.as_deref(),
                input_schema: &t.parameters,
                strict: t.strict,
                extra: RawFields::of(&t.extra),
            })
            .collect(),
        top_k: req.top_k.filter(|_| budget.is_none()),
        // While thinking, top_p from 0.95 to 1 only (extended-thinking guide).
        top_p: req.top_p.filter(|p| budget.is_none() || (0.95..=1.0).contains(p)),
        output_config,
        extra: RawFields::new(&extra),
    };
    Ok(emit(&body, req.encoded_len_hint()))
}

fn encode_system(system: &[Part]) -> Result<Option<AnthropicSystem<'_>>, ConvertError> {
    match system {
        [] => Ok(None),
        [Part::Text { text, extra }] if RawFields::of(extra).is_empty() => Ok(Some(AnthropicSystem::Text(text))),
        parts => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (i, p) in parts.iter().enumerate() {
                match p {
                    Part::Text { text, extra } => blocks.push(AnthropicBlock::Text {
                        text: Cow::Borrowed(text),
                        extra: RawFields::of(extra),
                    }),
                    _ => return Err(err(format!("system[{i}]"), "Anthropic system prompts hold only text")),
                }
            }
            Ok(Some(AnthropicSystem::Blocks(blocks)))
        }
    }
}

/// Messages, with consecutive same-role turns merged (Anthropic wants all tool results for one
/// assistant turn in the next user turn; it merges consecutive turns itself anyway) and empty
/// ones left out.
fn encode_messages(messages: &[Message]) -> Result<Vec<AnthropicMessage<'_>>, ConvertError> {
    let mut out: Vec<AnthropicMessage<'_>> = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let role = match m.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let mut blocks = Vec::with_capacity(m.content.len());
        for (j, p) in m.content.iter().enumerate() {
            if let Some(b) = encode_part(p, i, j)? {
                blocks.push(b);
            }
        }
        // Anthropic refuses an empty message ("all messages must have non-empty content"), e.g.
        // one whose only text was blank or whose reasoning came from another provider.
        if blocks.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => out.push(AnthropicMessage { role, content: blocks }),
        }
    }
    Ok(out)
}

fn encode_image(source: &ImageSource) -> AnthropicImageSource<'_> {
    match source {
        ImageSource::Url(url) => match parse_data_url(url) {
            Some((media_type, data)) => AnthropicImageSource::Base64 {
                media_type: Cow::Owned(image_media_type(&media_type).into_owned()),
                data: Cow::Owned(data),
            },
            None => AnthropicImageSource::Url { url },
        },
        ImageSource::Base64 { media_type, data } => AnthropicImageSource::Base64 {
            media_type: image_media_type(media_type),
            data: Cow::Borrowed(data),
        },
    }
}

/// A canonical document as an Anthropic source: a PDF as base64 or by URL, text types as plain
/// text (their base64 decoded); other types (Office files) Anthropic cannot read.
fn encode_document<'a>(source: &'a DocumentSource, path: &str) -> Result<AnthropicDocumentSource<'a>, ConvertError> {
    Ok(match source {
        DocumentSource::Url(url) => AnthropicDocumentSource::Url { url },
        DocumentSource::Text(text) => AnthropicDocumentSource::Text {
            media_type: PLAIN_TEXT,
            data: Cow::Borrowed(text),
        },
        DocumentSource::Base64 { media_type, data } if media_type.eq_ignore_ascii_case(PDF) => {
            AnthropicDocumentSource::Base64 { media_type: PDF, data }
        }
        DocumentSource::Base64 { media_type, data } if is_text_type(media_type) => {
            let text = crate::wire::base64::decode(data)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| err(path, format!("a {media_type} document must be base64 of UTF-8 text")))?;
            AnthropicDocumentSource::Text {
                media_type: PLAIN_TEXT,
                data: Cow::Owned(text),
            }
        }
        DocumentSource::Base64 { media_type, .. } => {
            return Err(err(
                path,
                format!("Anthropic documents are PDF or plain text; a {media_type} document cannot be sent"),
            ))
        }
    })
}

/// Tool-call arguments as the `input` object Anthropic requires ("" means `{}`), their text as
/// written (`tool_args::object`).
pub(super) fn arguments_object(arguments: &str) -> Option<sonic_rs::LazyValue<'_>> {
    crate::formats::tool_args::object(arguments)
}

/// One canonical part as an Anthropic block; `None` for parts Anthropic has no use for.
/// `i`, `j`: the message and part index, for the error location only.
fn encode_part(p: &Part, i: usize, j: usize) -> Result<Option<AnthropicBlock<'_>>, ConvertError> {
    Ok(Some(match p {
        Part::Text { text, extra } => {
            let extra = RawFields::of(extra);
            // Anthropic rejects empty text blocks; OpenAI assistant turns often carry "".
            if text.is_empty() && extra.is_empty() {
                return Ok(None);
            }
            AnthropicBlock::Text {
                text: Cow::Borrowed(text),
                extra,
            }
        }
        Part::Image { source, extra } => AnthropicBlock::Image {
            source: encode_image(source),
            extra: RawFields::of(extra),
        },
        Part::Document { source, name, extra } => AnthropicBlock::Document {
            source: encode_document(source, &format!("messages[{i}].content[{j}].source"))?,
            title: name.as_deref(),
            extra: RawFields::of(extra),
        },
        Part::ToolCall {
            id,
            name,
            arguments,
            extra,
            ..
        } => AnthropicBlock::ToolUse {
            id,
            name,
            input: arguments_object(arguments).ok_or_else(|| {
                err(
                    format!("messages[{i}].content[{j}].arguments"),
                    "tool call arguments must be a JSON object",
                )
            })?,
            extra: RawFields::of(extra),
        },
        Part::ToolResult {
            id,
            content,
            is_error,
            extra,
            ..
        } => AnthropicBlock::ToolResult {
            tool_use_id: id,
            content: encode_tool_result(content, &format!("messages[{i}].content[{j}].content"))?,
            is_error: *is_error,
            extra: RawFields::of(extra),
        },
        Part::Thinking {
            text,
            signature: Some(signature),
        } => AnthropicBlock::Thinking {
            thinking: text,
            signature: sig::wire(signature, Family::Claude),
        },
        // NOTE: Anthropic rejects thinking blocks without its signature, and reasoning from
        // another provider cannot be verified; it is context for that provider only.
        Part::Thinking { signature: None, .. } => return Ok(None),
        Part::RedactedThinking { data } => AnthropicBlock::RedactedThinking {
            data: sig::wire(data, Family::Claude),
        },
    }))
}

fn encode_tool_result<'a>(
    content: &'a [ToolResultContent],
    path: &str,
) -> Result<Option<AnthropicToolResultContent<'a>>, ConvertError> {
    Ok(match content {
        [] => None,
        [ToolResultContent::Text(t)] => Some(AnthropicToolResultContent::Text(Cow::Borrowed(t))),
        parts => Some(AnthropicToolResultContent::Blocks(
            parts
                .iter()
                .enumerate()
                .map(|(k, c)| {
                    Ok(match c {
                        ToolResultContent::Text(t) => AnthropicBlock::Text {
                            text: Cow::Borrowed(t),
                            extra: RawFields::default(),
                        },
                        ToolResultContent::Json(j) => AnthropicBlock::Text {
                            text: Cow::Owned(sonic_rs::to_string(j).unwrap_or_default()),
                            extra: RawFields::default(),
                        },
                        ToolResultContent::Image(source) => AnthropicBlock::Image {
                            source: encode_image(source),
                            extra: RawFields::default(),
                        },
                        ToolResultContent::Document { source, name } => AnthropicBlock::Document {
                            source: encode_document(source, &format!("{path}[{k}].source"))?,
                            title: name.as_deref(),
                            extra: RawFields::default(),
                        },
                    })
                })
                .collect::<Result<_, ConvertError>>()?,
        )),
    })
}

fn encode_tool_choice(req: &ChatRequest) -> Option<AnthropicToolChoice<'_>> {
    // Without tools a choice means nothing, and the API takes `tool_choice` only with `tools`
    // (as OpenAI's does; an OpenAI client may send `"tool_choice":"none"` alone).
    if req.tools.is_empty() {
        return None;
    }
    let (kind, name) = match &req.tool_choice {
        Some(ToolChoice::Auto) => ("auto", None),
        Some(ToolChoice::Required) => ("any", None),
        Some(ToolChoice::None) => ("none", None),
        Some(ToolChoice::Named(n)) => ("tool", Some(n.as_str())),
        // Narrowed before this (`encode_request`); the mode alone, should one come here.
        Some(ToolChoice::Allowed { required: true, .. }) => ("any", None),
        Some(ToolChoice::Allowed { required: false, .. }) => ("auto", None),
        // Parallel calls can only be switched off through a tool_choice.
        None if req.parallel_tool_calls == Some(false) => ("auto", None),
        None => return None,
    };
    // `none` has no disable_parallel_tool_use field.
    let disable = match (kind, req.parallel_tool_calls) {
        ("none", _) | (_, None) => None,
        (_, Some(p)) => Some(!p),
    };
    Some(AnthropicToolChoice {
        kind,
        name,
        disable_parallel_tool_use: disable,
    })
}
