//! OpenAI Chat Completions request <-> canonical (PROTOCOLS 2.2).
//!
//! Integration side (`decode_request`): a client's body is read in one pass (`one_pass`); what
//! that pass leaves (a refusal, or a body it cannot read exactly) is walked as a `sonic_rs::Value`
//! (`decode_by_value`, the reference), so every error names the exact field
//! (`messages[2].content[1].image_url.url`). Unknown top-level fields are kept in
//! `ChatRequest.extra`. Provider side (`encode_request`): canonical -> the
//! typed structs of `types.rs`; anything OpenAI cannot express is a `ConvertError`, except the
//! documented omissions below (`// NOTE:`), which lose nothing the upstream could have used.

use super::types::*;
use crate::canonical::{
    image_detail, image_source_from_url, is_document_type, parse_data_url, push_sparing, token_limit, ChatRequest,
    ConvertError, DocumentSource, Extra, ImageSource, Json, JsonPath, Message, Part, Reasoning, ResponseFormat, Role,
    Schema, Tool, ToolChoice, ToolResultContent, Written,
};
use crate::formats::Format;
use crate::wire::json::members;
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::borrow::Cow;
use std::collections::HashSet;

/// Top-level fields `encode_request` writes itself; an extra of the same name is never copied.
const KNOWN_FIELDS: &[&str] = &[
    "model",
    "messages",
    "logprobs",
    "top_logprobs",
    "max_completion_tokens",
    "max_tokens",
    "parallel_tool_calls",
    "reasoning_effort",
    "response_format",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "stop",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_p",
    "top_k",
    "n",
    "user",
];

/// OpenAI's and Gemini's limit on alternatives per token.
pub(crate) const MAX_TOP_LOGPROBS: u32 = 20;

pub(super) fn err(field: impl Into<String>, message: impl Into<String>) -> ConvertError {
    ConvertError::new(field, message)
}

pub(super) fn str_of<'v>(v: &'v Json, field: &JsonPath<'_>) -> Result<&'v str, ConvertError> {
    v.as_str().ok_or_else(|| err(field, "must be a string"))
}

pub(super) fn u32_of(v: &Json, field: &JsonPath<'_>) -> Result<u32, ConvertError> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| err(field, "must be a non-negative integer below 2^32"))
}

/// A token limit (`max_tokens`, `max_completion_tokens`, the Responses API's
/// `max_output_tokens`): a `u32` of at least 1.
pub(super) fn limit_of(v: &Json, field: &JsonPath<'_>) -> Result<u32, ConvertError> {
    token_limit(u32_of(v, field)?, field)
}

pub(super) fn f64_of(v: &Json, field: &JsonPath<'_>) -> Result<f64, ConvertError> {
    v.as_f64().ok_or_else(|| err(field, "must be a number"))
}

pub(super) fn bool_of(v: &Json, field: &JsonPath<'_>) -> Result<bool, ConvertError> {
    v.as_bool().ok_or_else(|| err(field, "must be a boolean"))
}

/// A client's body as the JSON object every OpenAI request is (a 400 otherwise).
pub(super) fn body_object(body: &[u8]) -> Result<sonic_rs::Object, ConvertError> {
    let v: Json = sonic_rs::from_slice(body).map_err(|e| {
        err(
            "",
            format!("request body is not valid JSON: {}", crate::wire::json::brief(&e)),
        )
    })?;
    v.into_object().ok_or_else(|| err("", "body must be a JSON object"))
}

/// Integration: a client's Chat Completions body -> canonical. `stream` comes from the body
/// (the argument is ignored), and so does the model; `path_model` is the model of a body that
/// names none (Bedrock's InvokeModel for OpenAI models, where the path names it).
///
/// Read in one pass (`one_pass`); a body that reading leaves is read by `Value`, the reference,
/// which gives the same request or names the refused field.
pub fn decode_request(body: &[u8], path_model: Option<&str>, _stream: bool) -> Result<ChatRequest, ConvertError> {
    match super::one_pass::read(body, path_model) {
        Some(req) => Ok(req),
        None => decode_by_value(body, path_model),
    }
}

/// The reference reading: the body as a `Value` tree, walked; every refusal names its field.
pub(crate) fn decode_by_value(body: &[u8], path_model: Option<&str>) -> Result<ChatRequest, ConvertError> {
    let obj = body_object(body)?;
    let mut top = Top::new();
    let mut messages = None;
    for (key, val) in obj.iter() {
        match key {
            // OpenAI treats an explicit null like an absent optional parameter.
            "messages" if !val.is_null() => messages = Some(val),
            _ => top.field(key, val, Written::Body(body, &obj))?,
        }
    }
    let req = top.settle(path_model)?;
    let messages = messages
        .and_then(|m| m.as_array())
        .ok_or_else(|| err("messages", "required, an array of messages"))?;
    let mut history = History::default();
    decode_messages(messages, &mut history)?;
    let mut req = finish(req, history)?;
    req.detach_values_if_large(body.len());
    Ok(req)
}

/// The body's top level other than `messages`, as both readings take it.
pub(super) struct Top {
    req: ChatRequest,
    model: Option<String>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    logprobs: bool,
    top_logprobs: Option<u32>,
}

impl Top {
    pub(super) fn new() -> Top {
        Top {
            req: ChatRequest {
                extra: Extra::new(Format::OpenAi),
                ..ChatRequest::default()
            },
            model: None,
            max_tokens: None,
            max_completion_tokens: None,
            logprobs: false,
            top_logprobs: None,
        }
    }

    /// The tools, read in one pass (`one_pass::Tools`); of a repeated `tools`, the last counts.
    pub(super) fn set_tools(&mut self, tools: Vec<Tool>) {
        self.req.tools = tools;
    }

    /// Member `key` (not `messages`) into the request; of a repeated key, the last one counts.
    pub(super) fn field(&mut self, key: &str, val: &Json, written: Written<'_>) -> Result<(), ConvertError> {
        // OpenAI treats an explicit null like an absent optional parameter.
        if val.is_null() && KNOWN_FIELDS.contains(&key) {
            return Ok(());
        }
        let root = JsonPath::ROOT;
        let req = &mut self.req;
        match key {
            "model" => self.model = Some(str_of(val, &root.key("model"))?.to_string()),
            "max_tokens" => self.max_tokens = Some(limit_of(val, &root.key("max_tokens"))?),
            "max_completion_tokens" => {
                self.max_completion_tokens = Some(limit_of(val, &root.key("max_completion_tokens"))?)
            }
            "temperature" => req.temperature = Some(f64_of(val, &root.key("temperature"))?),
            "top_p" => req.top_p = Some(f64_of(val, &root.key("top_p"))?),
            // Not an OpenAI field, but vLLM-style clients send it; it means the same everywhere.
            "top_k" => req.top_k = Some(u32_of(val, &root.key("top_k"))?),
            "seed" => req.seed = Some(val.as_i64().ok_or_else(|| err("seed", "must be an integer"))?),
            "logprobs" => self.logprobs = bool_of(val, &root.key("logprobs"))?,
            "top_logprobs" => {
                let n = u32_of(val, &root.key("top_logprobs"))?;
                if n > MAX_TOP_LOGPROBS {
                    return Err(err("top_logprobs", "must be at most 20"));
                }
                self.top_logprobs = Some(n);
            }
            "frequency_penalty" => req.frequency_penalty = Some(f64_of(val, &root.key("frequency_penalty"))?),
            "presence_penalty" => req.presence_penalty = Some(f64_of(val, &root.key("presence_penalty"))?),
            "stop" => req.stop = decode_stop(val)?,
            "user" => req.user = Some(str_of(val, &root.key("user"))?.to_string()),
            "n" => {
                if val.as_u64() != Some(1) {
                    return Err(err(
                        "n",
                        "only n=1 can be translated (the other API returns one choice)",
                    ));
                }
            }
            "stream" => req.stream = bool_of(val, &root.key("stream"))?,
            "stream_options" => {
                if let Some(u) = val.get("include_usage").filter(|u| !u.is_null()) {
                    req.include_usage = bool_of(u, &root.key("stream_options").key("include_usage"))?;
                }
            }
            "tools" => req.tools = decode_tools(val)?,
            "tool_choice" => req.tool_choice = Some(decode_tool_choice(val)?),
            "parallel_tool_calls" => req.parallel_tool_calls = Some(bool_of(val, &root.key("parallel_tool_calls"))?),
            "response_format" => req.response_format = Some(decode_response_format(val, written)?),
            "reasoning_effort" => {
                req.reasoning = Some(Reasoning {
                    budget_tokens: None,
                    effort: Some(str_of(val, &root.key("reasoning_effort"))?.to_string()),
                })
            }
            _ => req.extra.push(key, val.clone()),
        }
        Ok(())
    }

    /// The request the top level makes once every member is read (the model, the token limit,
    /// the end user, log probabilities); `messages` come after.
    pub(super) fn settle(self, path_model: Option<&str>) -> Result<ChatRequest, ConvertError> {
        let mut req = self.req;
        req.model = self
            .model
            .or_else(|| path_model.map(str::to_string))
            .ok_or_else(|| err("model", "required"))?;
        req.max_tokens = self.max_completion_tokens.or(self.max_tokens);
        // `safety_identifier` succeeds `user` (the SDK marks `user` deprecated) as the end user's
        // id: it is Anthropic's `metadata.user_id` too, as for a Responses client. It stays an
        // extra, so an OpenAI upstream gets it under its own name (`encode_request`).
        if req.user.is_none() {
            req.user = safety_identifier(&req.extra).map(str::to_string);
        }
        if self.logprobs {
            req.logprobs = Some(self.top_logprobs.unwrap_or(0));
        } else if self.top_logprobs.is_some() {
            // OpenAI's own rule: alternatives come only with the chosen tokens.
            return Err(err("top_logprobs", "requires logprobs to be true"));
        }
        Ok(req)
    }
}

/// `req` (settled) with its `messages` read into `history`.
pub(super) fn finish(mut req: ChatRequest, history: History) -> Result<ChatRequest, ConvertError> {
    let History {
        system,
        mut messages,
        has_tool_results,
        ..
    } = history;
    if has_tool_results {
        crate::canonical::name_tool_results(&mut messages);
    }
    req.system = system;
    req.messages = messages;
    check_allowed_declared(&req, "tool_choice.allowed_tools.tools")?;
    Ok(req)
}

/// An OpenAI client's `safety_identifier` (kept among its extras), when it is a string.
fn safety_identifier(extra: &Extra) -> Option<&str> {
    match extra.format {
        Some(Format::OpenAi) => extra.get("safety_identifier").and_then(|v| v.as_str()),
        _ => None,
    }
}

fn decode_stop(v: &Json) -> Result<Vec<String>, ConvertError> {
    if let Some(s) = v.as_str() {
        return Ok(vec![s.to_string()]);
    }
    let arr = v
        .as_array()
        .ok_or_else(|| err("stop", "must be a string or an array of strings"))?;
    arr.iter()
        .enumerate()
        .map(|(i, s)| str_of(s, &JsonPath::ROOT.key("stop").index(i)).map(str::to_string))
        .collect()
}

fn decode_tools(v: &Json) -> Result<Vec<Tool>, ConvertError> {
    let arr = v.as_array().ok_or_else(|| err("tools", "must be an array"))?;
    let mut tools = Vec::with_capacity(arr.len());
    let tools_path = JsonPath::ROOT.key("tools");
    for (i, t) in arr.iter().enumerate() {
        let path = tools_path.index(i);
        let kind = t.get("type").and_then(|k| k.as_str()).unwrap_or("function");
        if kind != "function" {
            return Err(err(
                path.key("type"),
                format!("tool type '{kind}' cannot be translated (only 'function')"),
            ));
        }
        let f = t
            .get("function")
            .and_then(|f| f.as_object())
            .ok_or_else(|| err(path.key("function"), "required object"))?;
        let mut tool = Tool {
            name: String::new(),
            description: None,
            parameters: Schema::default(),
            strict: None,
            extra: Extra::new(Format::OpenAi),
        };
        let mut parameters = None;
        let mut named = false;
        let fpath = path.key("function");
        for (k, val) in f.iter() {
            match k {
                "name" => {
                    tool.name = str_of(val, &fpath.key("name"))?.to_string();
                    named = true;
                }
                "description" if !val.is_null() => {
                    tool.description = Some(str_of(val, &fpath.key("description"))?.to_string())
                }
                "parameters" if !val.is_null() => parameters = Some(val),
                "strict" if !val.is_null() => {
                    tool.strict = Some(
                        val.as_bool()
                            .ok_or_else(|| err(fpath.key("strict"), "must be a boolean"))?,
                    )
                }
                "description" | "parameters" | "strict" => {}
                // Anything newer: applied back only to OpenAI targets.
                _ => tool.extra.push(k, val.clone()),
            }
        }
        if !named {
            return Err(err(fpath.key("name"), "required"));
        }
        tool.parameters = match parameters {
            Some(p) => Schema::from_value(p),
            // OpenAI allows a function without parameters: it takes none.
            None => Schema::no_arguments(),
        };
        tools.push(tool);
    }
    Ok(tools)
}

/// A `tool_choice` given as a mode (`none`, `auto`, `required`); `None` when it is an object.
/// Chat Completions and the Responses API name their functions differently, but not the modes.
pub(super) fn tool_choice_mode(v: &Json) -> Option<Result<ToolChoice, ConvertError>> {
    Some(match v.as_str()? {
        "none" => Ok(ToolChoice::None),
        "auto" => Ok(ToolChoice::Auto),
        "required" => Ok(ToolChoice::Required),
        other => Err(err(
            "tool_choice",
            format!("unknown value '{other}' (none, auto, required or a function)"),
        )),
    })
}

fn decode_tool_choice(v: &Json) -> Result<ToolChoice, ConvertError> {
    if let Some(mode) = tool_choice_mode(v) {
        return mode;
    }
    let kind = v.get("type").and_then(|k| k.as_str());
    if kind == Some("allowed_tools") {
        let root = JsonPath::ROOT;
        let choice = root.key("tool_choice");
        let path = choice.key("allowed_tools");
        let allowed = v.get("allowed_tools").ok_or_else(|| err(path, "required"))?;
        return allowed_tools(allowed, &path, &["function", "name"]);
    }
    let name = v
        .pointer(&["function", "name"])
        .and_then(|n| n.as_str())
        .filter(|_| kind == Some("function"));
    match name {
        Some(n) => Ok(ToolChoice::Named(n.to_string())),
        None => Err(err(
            "tool_choice",
            "only none, auto, required, {\"type\":\"function\",\"function\":{\"name\"}} or \
             {\"type\":\"allowed_tools\",...} can be translated",
        )),
    }
}

/// An `allowed_tools` choice: `v` holds its `mode` and `tools` (at `path`), each tool a function
/// whose name is at `name_at` (Chat Completions nests it in `function`, the Responses API not).
/// Names come once each, in the client's order.
pub(super) fn allowed_tools(v: &Json, path: &JsonPath<'_>, name_at: &[&str]) -> Result<ToolChoice, ConvertError> {
    let required = match v.get("mode").and_then(|m| m.as_str()) {
        Some("auto") => false,
        Some("required") => true,
        _ => return Err(err(path.key("mode"), "must be auto or required")),
    };
    let tpath = path.key("tools");
    let tools = v
        .get("tools")
        .and_then(|t| t.as_array())
        .ok_or_else(|| err(tpath, "required, an array of tools"))?;
    if tools.is_empty() {
        return Err(err(tpath, "must list at least one tool"));
    }
    let mut names: Vec<String> = Vec::with_capacity(tools.len());
    // The names so far, to keep each once (a list scanned per name is quadratic in the body).
    let mut seen: HashSet<&str> = HashSet::with_capacity(tools.len());
    for (i, t) in tools.iter().enumerate() {
        let name = t
            .pointer(name_at)
            .and_then(|n| n.as_str())
            .filter(|_| t.get("type").and_then(|k| k.as_str()) == Some("function"));
        let Some(name) = name else {
            return Err(err(
                tpath.index(i),
                format!("only function tools named by {} can be translated", name_at.join(".")),
            ));
        };
        if seen.insert(name) {
            names.push(name.to_string());
        }
    }
    Ok(ToolChoice::Allowed { names, required })
}

/// An `allowed_tools` choice (at `path`) may name only declared tools: the model could call no
/// other, and a provider offered just the allowed ones would be offered nothing.
pub(super) fn check_allowed_declared(req: &ChatRequest, path: &str) -> Result<(), ConvertError> {
    let Some(ToolChoice::Allowed { names, .. }) = &req.tool_choice else {
        return Ok(());
    };
    match crate::formats::tool_choice::undeclared(names, &req.tools) {
        Some(missing) => Err(err(
            path,
            format!("names the tool {missing:?}, which is not among the declared tools"),
        )),
        None => Ok(()),
    }
}

fn decode_response_format(v: &Json, written: Written<'_>) -> Result<ResponseFormat, ConvertError> {
    match v.get("type").and_then(|t| t.as_str()) {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => {
            let js = v
                .get("json_schema")
                .ok_or_else(|| err("response_format.json_schema", "required"))?;
            // NOTE: `json_schema.description` has no canonical home and is not carried.
            Ok(ResponseFormat::JsonSchema {
                name: js
                    .get("name")
                    .and_then(|n| n.as_str())
                    .unwrap_or("response")
                    .to_string(),
                schema: match js.get("schema") {
                    Some(s) => Schema::as_written(s, written, "response_format", &["json_schema", "schema"]),
                    None => Schema::from_checked_text("{}"),
                },
                strict: js.get("strict").and_then(|s| s.as_bool()),
            })
        }
        _ => Err(err("response_format.type", "must be text, json_object or json_schema")),
    }
}

/// The turns of `messages` as read, in both readings: `system` and `developer` text joins the
/// system prompt, and tool results then user text form one user turn (the inverse of encoding).
#[derive(Default)]
pub(super) struct History {
    pub(super) system: Vec<Part>,
    messages: Vec<Message>,
    /// The last turn is a user turn built from `tool` messages: the next result or user message
    /// joins it.
    tool_turn_open: bool,
    /// Whether any tool result is there to be named after its call.
    has_tool_results: bool,
}

impl History {
    pub(super) fn with_capacity(n: usize) -> History {
        History {
            messages: Vec::with_capacity(n),
            ..History::default()
        }
    }

    pub(super) fn user(&mut self, parts: Vec<Part>) {
        match self.messages.last_mut() {
            Some(last) if self.tool_turn_open => last.content.extend(parts),
            _ => self.messages.push(Message {
                role: Role::User,
                content: parts,
            }),
        }
        self.tool_turn_open = false;
    }

    pub(super) fn assistant(&mut self, parts: Vec<Part>) {
        // NOTE: an assistant message with nothing in it carries nothing; it is skipped.
        if !parts.is_empty() {
            self.messages.push(Message {
                role: Role::Assistant,
                content: parts,
            });
        }
        self.tool_turn_open = false;
    }

    /// A `tool` message: the result of call `id`, its text parts (`texts`) as its content.
    pub(super) fn tool_result(&mut self, id: String, texts: Vec<Part>) {
        let mut content = Vec::with_capacity(texts.len());
        for p in texts {
            if let Part::Text { text, .. } = p {
                content.push(ToolResultContent::Text(text));
            }
        }
        let result = Part::ToolResult {
            id,
            // Named after its call once every message is read (Gemini needs it).
            name: None,
            content,
            // OpenAI has no error flag on tool results.
            is_error: false,
            extra: Extra::default(),
        };
        match self.messages.last_mut() {
            Some(last) if self.tool_turn_open => last.content.push(result),
            _ => self.messages.push(Message {
                role: Role::User,
                content: vec![result],
            }),
        }
        self.tool_turn_open = true;
        self.has_tool_results = true;
    }
}

/// The fields of one message that the decoder reads, found in one pass over its keys (a lookup
/// per field scanned the object again each time). Of duplicate keys the first wins, as with `get`.
#[derive(Default)]
struct MessageFields<'v> {
    role: Option<&'v Json>,
    content: Option<&'v Json>,
    reasoning_content: Option<&'v Json>,
    refusal: Option<&'v Json>,
    function_call: Option<&'v Json>,
    tool_calls: Option<&'v Json>,
    tool_call_id: Option<&'v Json>,
}

impl<'v> MessageFields<'v> {
    fn of(m: &'v Json) -> MessageFields<'v> {
        let mut f = MessageFields::default();
        if let Some(obj) = m.as_object() {
            for (k, v) in obj.iter() {
                let slot = match k {
                    "role" => &mut f.role,
                    "content" => &mut f.content,
                    "reasoning_content" => &mut f.reasoning_content,
                    "refusal" => &mut f.refusal,
                    "function_call" => &mut f.function_call,
                    "tool_calls" => &mut f.tool_calls,
                    "tool_call_id" => &mut f.tool_call_id,
                    _ => continue,
                };
                if slot.is_none() {
                    *slot = Some(v);
                }
            }
        }
        f
    }
}

fn decode_messages(arr: &sonic_rs::Array, history: &mut History) -> Result<(), ConvertError> {
    let messages_path = JsonPath::ROOT.key("messages");
    for (i, m) in arr.iter().enumerate() {
        let path = messages_path.index(i);
        let fields = MessageFields::of(m);
        let role = fields
            .role
            .and_then(|r| r.as_str())
            .ok_or_else(|| err(path.key("role"), "required string"))?;
        // NOTE: the optional per-message `name` (participant name) has no canonical home and is
        // not carried; no other format has it.
        let content = fields.content.filter(|c| !c.is_null());
        match role {
            // NOTE: a system/developer message in the middle of the conversation is hoisted into
            // the system prompt (canonical has one system prompt, as Anthropic/Gemini/Bedrock do).
            "system" | "developer" => {
                let c = content.ok_or_else(|| err(path.key("content"), "required"))?;
                decode_text_content(c, &path.key("content"), &mut history.system)?;
            }
            "user" => {
                let c = content.ok_or_else(|| err(path.key("content"), "required"))?;
                history.user(decode_user_content(c, &path.key("content"))?);
            }
            "assistant" => history.assistant(decode_assistant(&fields, &path)?),
            "tool" => {
                let id = fields
                    .tool_call_id
                    .and_then(|x| x.as_str())
                    .ok_or_else(|| err(path.key("tool_call_id"), "required string"))?;
                let mut texts = Vec::new();
                if let Some(c) = content {
                    decode_text_content(c, &path.key("content"), &mut texts)?;
                }
                history.tool_result(id.to_string(), texts);
            }
            "function" => {
                return Err(err(
                    path.key("role"),
                    "the legacy 'function' role cannot be translated; use tool messages",
                ))
            }
            other => return Err(err(path.key("role"), format!("unknown role '{other}'"))),
        }
    }
    Ok(())
}

/// A string, or an array of `text` parts (system, developer and tool messages).
fn decode_text_content(c: &Json, path: &JsonPath<'_>, out: &mut Vec<Part>) -> Result<(), ConvertError> {
    if let Some(s) = c.as_str() {
        push_sparing(out, Part::text(s));
        return Ok(());
    }
    let arr = c
        .as_array()
        .ok_or_else(|| err(path, "must be a string or an array of text parts"))?;
    for (j, p) in arr.iter().enumerate() {
        let ppath = path.index(j);
        match p.get("type").and_then(|t| t.as_str()) {
            Some("text") => {
                let t = p.get("text").ok_or_else(|| err(ppath.key("text"), "required"))?;
                out.push(Part::text(str_of(t, &ppath.key("text"))?));
            }
            other => {
                return Err(err(
                    ppath.key("type"),
                    format!("only text parts are allowed here, got {other:?}"),
                ))
            }
        }
    }
    Ok(())
}

fn decode_user_content(c: &Json, path: &JsonPath<'_>) -> Result<Vec<Part>, ConvertError> {
    if let Some(s) = c.as_str() {
        return Ok(vec![Part::text(s)]);
    }
    let arr = c
        .as_array()
        .ok_or_else(|| err(path, "must be a string or an array of parts"))?;
    let mut parts = Vec::with_capacity(arr.len());
    for (j, p) in arr.iter().enumerate() {
        let ppath = path.index(j);
        match p.get("type").and_then(|t| t.as_str()) {
            Some("text") => {
                let t = p.get("text").ok_or_else(|| err(ppath.key("text"), "required"))?;
                parts.push(Part::text(str_of(t, &ppath.key("text"))?));
            }
            Some("image_url") => parts.push(decode_image(p.get("image_url"), &ppath)?),
            Some("file") => parts.push(decode_file(p.get("file"), &ppath)?),
            Some(other) => {
                return Err(err(
                    ppath.key("type"),
                    format!("content part type '{other}' cannot be translated"),
                ))
            }
            None => return Err(err(ppath.key("type"), "required string")),
        }
    }
    Ok(parts)
}

/// An `image_url` part (at `path`) whose `image_url` member is `iu`.
pub(super) fn decode_image(iu: Option<&Json>, path: &JsonPath<'_>) -> Result<Part, ConvertError> {
    let iu_path = path.key("image_url");
    let iu = iu.ok_or_else(|| err(iu_path, "required"))?;
    let mut extra = Extra::new(Format::OpenAi);
    let url = if let Some(s) = iu.as_str() {
        s // early vision clients sent the URL as a bare string
    } else {
        let obj = iu.as_object().ok_or_else(|| err(iu_path, "must be an object"))?;
        let mut url = None;
        for (k, v) in obj.iter() {
            if k == "url" {
                url = v.as_str();
            } else {
                extra.push(k, v.clone()); // `detail`
            }
        }
        url.ok_or_else(|| err(iu_path.key("url"), "required string"))?
    };
    let source = image_source_from_url(url).map_err(|why| err(iu_path.key("url"), why))?;
    Ok(Part::Image { source, extra })
}

/// A file sent inline (`file_data`, a base64 `data:` URL at `dpath`) as a document source: one
/// of the document types every format takes, or refused naming the type.
pub(super) fn inline_document(data: &str, dpath: &JsonPath<'_>) -> Result<DocumentSource, ConvertError> {
    let (media_type, data) =
        parse_data_url(data).ok_or_else(|| err(dpath, "must be data:<media type>;base64,<data>"))?;
    if !is_document_type(&media_type) {
        return Err(err(dpath, format!("unsupported document type {media_type:?}")));
    }
    Ok(DocumentSource::Base64 { media_type, data })
}

/// A `file` part (at `path`) whose `file` member is `file`: inline `file_data` (a base64 data
/// URL) is a document; a `file_id` names an upload only OpenAI holds, which no other format can
/// read.
pub(super) fn decode_file(file: Option<&Json>, path: &JsonPath<'_>) -> Result<Part, ConvertError> {
    let fpath = path.key("file");
    let obj = file
        .ok_or_else(|| err(fpath, "required"))?
        .as_object()
        .ok_or_else(|| err(fpath, "must be an object"))?;
    let mut extra = Extra::new(Format::OpenAi);
    let (mut data, mut name) = (None, None);
    for (k, v) in obj.iter() {
        match k {
            "file_data" => {
                data = Some(
                    v.as_str()
                        .ok_or_else(|| err(fpath.key("file_data"), "must be a string"))?,
                )
            }
            "filename" if !v.is_null() => {
                name = Some(
                    v.as_str()
                        .ok_or_else(|| err(fpath.key("filename"), "must be a string"))?,
                )
            }
            "file_id" if !v.is_null() => {
                return Err(err(
                    fpath.key("file_id"),
                    "an uploaded file (file_id) cannot be translated to other formats; send file_data",
                ))
            }
            _ if v.is_null() => {}
            _ => extra.push(k, v.clone()),
        }
    }
    let dpath = fpath.key("file_data");
    let data = data.ok_or_else(|| err(dpath, "required string"))?;
    Ok(Part::Document {
        source: inline_document(data, &dpath)?,
        name: name.map(str::to_string),
        extra: if extra.is_empty() { Extra::default() } else { extra },
    })
}

fn decode_assistant(m: &MessageFields<'_>, path: &JsonPath<'_>) -> Result<Vec<Part>, ConvertError> {
    let mut parts = Vec::new();
    // Non-standard reasoning history (DeepSeek-style clients).
    if let Some(r) = m.reasoning_content.and_then(|r| r.as_str()) {
        if !r.is_empty() {
            parts.push(Part::Thinking {
                text: r.to_string(),
                signature: None,
            });
        }
    }
    match m.content.filter(|c| !c.is_null()) {
        None => {}
        Some(c) => {
            if let Some(s) = c.as_str() {
                if !s.is_empty() {
                    push_sparing(&mut parts, Part::text(s));
                }
            } else {
                let arr = c
                    .as_array()
                    .ok_or_else(|| err(path.key("content"), "must be a string, an array of parts or null"))?;
                let cpath = path.key("content");
                for (j, p) in arr.iter().enumerate() {
                    let ppath = cpath.index(j);
                    match p.get("type").and_then(|t| t.as_str()) {
                        Some("text") => {
                            let t = p
                                .get("text")
                                .and_then(|t| t.as_str())
                                .ok_or_else(|| err(ppath.key("text"), "required string"))?;
                            parts.push(Part::text(t));
                        }
                        Some("refusal") => {
                            let t = p
                                .get("refusal")
                                .and_then(|t| t.as_str())
                                .ok_or_else(|| err(ppath.key("refusal"), "required string"))?;
                            parts.push(Part::refusal(t));
                        }
                        other => {
                            return Err(err(
                                ppath.key("type"),
                                format!("assistant part type {other:?} cannot be translated"),
                            ))
                        }
                    }
                }
            }
        }
    }
    if let Some(r) = m.refusal.and_then(|r| r.as_str()) {
        push_sparing(&mut parts, Part::refusal(r));
    }
    if m.function_call.is_some_and(|f| !f.is_null()) {
        return Err(err(
            path.key("function_call"),
            "the legacy function_call cannot be translated; use tool_calls",
        ));
    }
    if let Some(calls) = m.tool_calls.filter(|c| !c.is_null()) {
        let calls = calls
            .as_array()
            .ok_or_else(|| err(path.key("tool_calls"), "must be an array"))?;
        let calls_path = path.key("tool_calls");
        parts.reserve_exact(calls.len());
        for (j, c) in calls.iter().enumerate() {
            let cpath = calls_path.index(j);
            let [kind, id, function] = members(c, ["type", "id", "function"]);
            let kind = kind.and_then(|k| k.as_str()).unwrap_or("function");
            if kind != "function" {
                return Err(err(
                    cpath.key("type"),
                    format!("tool call type '{kind}' cannot be translated"),
                ));
            }
            let id = id
                .and_then(|x| x.as_str())
                .ok_or_else(|| err(cpath.key("id"), "required string"))?;
            let [name, arguments] = function.map_or([None; 2], |f| members(f, ["name", "arguments"]));
            let name = name
                .and_then(|x| x.as_str())
                .ok_or_else(|| err(cpath.key("function").key("name"), "required string"))?;
            let arguments = match arguments {
                Some(a) if a.is_str() => a.as_str().unwrap_or_default().to_string(),
                None => "{}".to_string(),
                Some(a) if a.is_null() => "{}".to_string(),
                // Lenient: some clients send the arguments object itself.
                Some(a) => sonic_rs::to_string(a).unwrap_or_default(),
            };
            parts.push(Part::ToolCall {
                id: id.to_string(),
                name: name.to_string(),
                arguments,
                signature: None,
                extra: Extra::default(),
            });
        }
    }
    Ok(parts)
}

/// Provider: the path of Chat Completions under an upstream's base URL (origin + prefix).
pub fn request_path(_model: &str, _stream: bool) -> String {
    "/v1/chat/completions".to_string()
}

/// Maps a thinking budget to an effort level for targets that only take `reasoning_effort`
/// (thresholds follow the usual low/medium/high budgets of Anthropic and Gemini docs).
pub(super) fn effort_for_budget(budget: u32) -> Option<&'static str> {
    match budget {
        0 => None, // thinking disabled: leave the model's default
        1..=2048 => Some("low"),
        2049..=16384 => Some("medium"),
        _ => Some("high"),
    }
}

/// OpenAI's reasoning models (o1, o3, o4-mini, gpt-5, ...), which refuse `max_tokens` even when
/// no reasoning is asked for: an Anthropic client always sends a limit.
fn is_reasoning_model(model: &str) -> bool {
    let o_series = model.len() > 1
        && model.as_bytes()[0] == b'o'
        && model.as_bytes()[1].is_ascii_digit()
        && !model.starts_with("o2");
    o_series || model.starts_with("gpt-5")
}

/// Provider: canonical -> Chat Completions body.
///
/// Defaults and deliberate omissions:
/// - the token limit goes out as `max_tokens` (accepted by every OpenAI-compatible server), or as
///   `max_completion_tokens` when reasoning is requested or the model is one of OpenAI's
///   reasoning models (they reject `max_tokens`);
/// - NOTE: `top_k` is omitted: OpenAI has no such field and rejects unknown ones; it is a
///   sampling hint, and refusing it would break most Anthropic and Gemini clients;
/// - NOTE: thinking parts in the history are dropped: Chat Completions cannot take reasoning back
///   (and `reasoning_content` is not a standard field); the same for Gemini thought signatures on
///   tool calls;
/// - a failed tool result (`is_error`), which OpenAI tool messages cannot flag, opens its text
///   with `Error: ` (`tool_errors`);
/// - a streamed request always asks for `stream_options.include_usage`, so the gateway gets usage
///   for every client format (the OpenAI stream encoder decides whether its client sees it);
/// - `tool_choice` and `parallel_tool_calls` are sent only with tools (OpenAI rejects them
///   otherwise).
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
    emit: impl FnOnce(&OpenAiChatRequest<'_>, usize) -> Vec<u8>,
) -> Result<Vec<u8>, ConvertError> {
    // Failed tool results, which this upstream's tool messages cannot flag (`tool_errors`).
    let flagged = crate::formats::tool_errors::fit_request(req);
    let req = flagged.as_ref().unwrap_or(req);
    // Ids made elsewhere (a Gemini signed id, `functions.f:0`) that this upstream would refuse.
    let fitted = crate::formats::call_ids::fit_request(req, crate::formats::call_ids::OPENAI);
    let req = fitted.as_ref().unwrap_or(req);
    // Names other formats allow that this upstream would refuse (`tool_names::Renames` maps back).
    let renamed = crate::formats::tool_names::fit_request(req, crate::formats::tool_names::OPENAI);
    let req = renamed.as_ref().unwrap_or(req);
    req.extra.refuse_lost_content(Format::OpenAi)?;
    let sampling = [
        ("temperature", req.temperature),
        ("top_p", req.top_p),
        ("frequency_penalty", req.frequency_penalty),
        ("presence_penalty", req.presence_penalty),
    ];
    for (name, v) in sampling {
        if v.is_some_and(|x| !x.is_finite()) {
            return Err(err(name, "must be a finite number"));
        }
    }
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if !req.system.is_empty() {
        messages.push(encode_system(&req.system)?);
    }
    for (i, m) in req.messages.iter().enumerate() {
        match m.role {
            Role::User => encode_user(m, i, &mut messages)?,
            Role::Assistant => {
                if let Some(msg) = encode_assistant(m, i)? {
                    messages.push(msg);
                }
            }
        }
    }
    let effort = req.reasoning.as_ref().and_then(|r| {
        r.effort
            .as_deref()
            .or_else(|| r.budget_tokens.and_then(effort_for_budget))
    });
    let (max_tokens, max_completion_tokens) = if effort.is_some() || is_reasoning_model(&req.model) {
        (None, req.max_tokens)
    } else {
        (req.max_tokens, None)
    };
    let has_tools = !req.tools.is_empty();
    let body = OpenAiChatRequest {
        model: &req.model,
        messages,
        logprobs: req.logprobs.map(|_| true),
        top_logprobs: req.logprobs.filter(|&n| n > 0),
        max_completion_tokens,
        max_tokens,
        parallel_tool_calls: req.parallel_tool_calls.filter(|_| has_tools),
        reasoning_effort: effort,
        response_format: req.response_format.as_ref().map(|f| match f {
            ResponseFormat::Text => OpenAiResponseFormat::Text,
            ResponseFormat::JsonObject => OpenAiResponseFormat::JsonObject,
            ResponseFormat::JsonSchema { name, schema, strict } => OpenAiResponseFormat::JsonSchema {
                json_schema: OpenAiJsonSchema {
                    name,
                    schema,
                    strict: *strict,
                },
            },
        }),
        seed: req.seed,
        frequency_penalty: req.frequency_penalty,
        presence_penalty: req.presence_penalty,
        stop: &req.stop,
        stream: req.stream,
        stream_options: req.stream.then_some(OpenAiStreamOptions { include_usage: true }),
        temperature: req.temperature,
        tool_choice: req.tool_choice.as_ref().filter(|_| has_tools).map(|c| match c {
            ToolChoice::Auto => OpenAiToolChoice::Mode("auto"),
            ToolChoice::None => OpenAiToolChoice::Mode("none"),
            ToolChoice::Required => OpenAiToolChoice::Mode("required"),
            ToolChoice::Named(name) => OpenAiToolChoice::Named {
                kind: "function",
                function: OpenAiFunctionName { name },
            },
            ToolChoice::Allowed { names, required } => OpenAiToolChoice::Allowed {
                kind: "allowed_tools",
                allowed_tools: OpenAiAllowedTools {
                    mode: if *required { "required" } else { "auto" },
                    tools: names
                        .iter()
                        .map(|name| OpenAiFunctionRef {
                            kind: "function",
                            function: OpenAiFunctionName { name },
                        })
                        .collect(),
                },
            },
        }),
        tools: req
            .tools
            .iter()
            .map(|t| OpenAiTool {
                kind: "function",
                function: OpenAiFunction {
                    name: &t.name,
                    description: t.description.as_deref(),
                    parameters: &t.parameters,
                    strict: t.strict,
                    extra: OpenAiExtra {
                        fields: t.extra.for_target(Format::OpenAi),
                        skip: &["name", "description", "parameters", "strict"],
                    },
                },
            })
            .collect(),
        top_p: req.top_p,
        // A `user` taken from the client's `safety_identifier` goes back under that name only.
        user: req.user.as_deref().filter(|u| safety_identifier(&req.extra) != Some(u)),
        extra: OpenAiExtra {
            fields: req.extra.for_target(Format::OpenAi),
            skip: KNOWN_FIELDS,
        },
    };
    Ok(emit(&body, req.encoded_len_hint()))
}

/// The whole system prompt as one `system` message (a string when it is one text part).
fn encode_system(system: &[Part]) -> Result<OpenAiMessageOut<'_>, ConvertError> {
    let mut texts = Vec::with_capacity(system.len());
    for (j, p) in system.iter().enumerate() {
        match p {
            Part::Text { text, .. } => texts.push(text.as_str()),
            _ => return Err(err(format!("system[{j}]"), "OpenAI system messages hold only text")),
        }
    }
    let content = match texts.as_slice() {
        [one] => OpenAiContent::Text(Cow::Borrowed(one)),
        _ => OpenAiContent::Parts(
            texts
                .into_iter()
                .map(|text| OpenAiPart::Text {
                    text: Cow::Borrowed(text),
                })
                .collect(),
        ),
    };
    Ok(message("system", content))
}

fn message<'a>(role: &'a str, content: OpenAiContent<'a>) -> OpenAiMessageOut<'a> {
    OpenAiMessageOut {
        role,
        content,
        refusal: None,
        tool_calls: Vec::new(),
        tool_call_id: None,
    }
}

/// A user turn: each tool result becomes its own `tool` message (they must directly follow the
/// assistant's `tool_calls`), then the remaining text and images as one `user` message.
///
/// A tool message takes text only, so a result's images and PDF files go into that user message,
/// after a label naming the call (`tool_media`), in the turn's order: one message rather than one
/// per result or one before the user's own text, since OpenAI-compatible servers whose chat
/// templates need alternating roles refuse two user messages in a row.
fn encode_user<'a>(m: &'a Message, i: usize, out: &mut Vec<OpenAiMessageOut<'a>>) -> Result<(), ConvertError> {
    let mut parts = Vec::new();
    for (j, p) in m.content.iter().enumerate() {
        let path = || format!("messages[{i}].content[{j}]");
        match p {
            Part::ToolResult { id, content, .. } => {
                let media = crate::formats::tool_media::has_media(content);
                if media {
                    parts.push(OpenAiPart::Text {
                        text: Cow::Owned(crate::formats::tool_media::label(id)),
                    });
                }
                let mut texts: Vec<Cow<'a, str>> = Vec::with_capacity(content.len());
                for (k, c) in content.iter().enumerate() {
                    match c {
                        ToolResultContent::Text(t) => texts.push(Cow::Borrowed(t)),
                        ToolResultContent::Json(v) => {
                            texts.push(Cow::Owned(sonic_rs::to_string(v).unwrap_or_else(|_| "null".into())))
                        }
                        ToolResultContent::Image(source) => parts.push(OpenAiPart::ImageUrl {
                            image_url: OpenAiImageUrl {
                                url: image_url(source),
                                detail: None,
                                extra: OpenAiExtra { fields: &[], skip: &[] },
                            },
                        }),
                        ToolResultContent::Document { source, name } => parts.push(OpenAiPart::File {
                            file: OpenAiFile {
                                file_data: document_data(source, &|| format!("{}.content[{k}]", path()))?,
                                filename: name.as_deref().unwrap_or("document.pdf"),
                                extra: OpenAiExtra { fields: &[], skip: &[] },
                            },
                        }),
                    }
                }
                if media && texts.iter().all(|t| t.is_empty()) {
                    texts = vec![Cow::Owned(crate::formats::tool_media::note(content))];
                }
                // One string: the form every OpenAI-compatible server accepts for tool content.
                let text = match texts.len() {
                    1 => texts.pop().unwrap_or_default(),
                    _ => Cow::Owned(texts.concat()),
                };
                let mut msg = message("tool", OpenAiContent::Text(text));
                msg.tool_call_id = Some(id);
                out.push(msg);
            }
            Part::Text { text, .. } => parts.push(OpenAiPart::Text {
                text: Cow::Borrowed(text),
            }),
            Part::Image { source, extra } => parts.push(OpenAiPart::ImageUrl {
                image_url: OpenAiImageUrl {
                    url: image_url(source),
                    detail: image_detail(extra, Format::OpenAi),
                    extra: OpenAiExtra {
                        fields: extra.for_target(Format::OpenAi),
                        skip: &["url", "detail"],
                    },
                },
            }),
            Part::Document { source, name, extra } => parts.push(OpenAiPart::File {
                file: OpenAiFile {
                    file_data: document_data(source, &path)?,
                    filename: name.as_deref().unwrap_or("document.pdf"),
                    extra: OpenAiExtra {
                        fields: extra.for_target(Format::OpenAi),
                        skip: &["file_data", "filename"],
                    },
                },
            }),
            Part::ToolCall { .. } => return Err(err(path(), "a tool call cannot appear in a user message")),
            Part::Thinking { .. } | Part::RedactedThinking { .. } => {
                return Err(err(path(), "thinking cannot appear in a user message"))
            }
        }
    }
    if parts.is_empty() {
        return Ok(());
    }
    let content = match parts.as_mut_slice() {
        [OpenAiPart::Text { text }] => OpenAiContent::Text(std::mem::take(text)),
        _ => OpenAiContent::Parts(parts),
    };
    out.push(message("user", content));
    Ok(())
}

pub(super) fn image_url(source: &ImageSource) -> Cow<'_, str> {
    match source {
        ImageSource::Url(u) => Cow::Borrowed(u),
        ImageSource::Base64 { media_type, data } => Cow::Owned(format!("data:{media_type};base64,{data}")),
    }
}

/// A document as a `file_data` data URL: Chat Completions reads PDF files only, given inline.
pub(super) fn document_data(source: &DocumentSource, path: &dyn Fn() -> String) -> Result<String, ConvertError> {
    match source {
        DocumentSource::Base64 { media_type, data } if media_type.eq_ignore_ascii_case("application/pdf") => {
            Ok(format!("data:application/pdf;base64,{data}"))
        }
        DocumentSource::Url(_) => Err(err(
            format!("{}.source", path()),
            "OpenAI Chat takes documents only as inline file data; a document URL cannot be sent",
        )),
        DocumentSource::Text(_) => Err(err(
            format!("{}.source", path()),
            "OpenAI Chat takes documents only as PDF files; a text/plain document cannot be sent",
        )),
        DocumentSource::Base64 { media_type, .. } => Err(err(
            format!("{}.source", path()),
            format!("OpenAI Chat takes documents only as PDF files; a {media_type} document cannot be sent"),
        )),
    }
}

fn encode_assistant(m: &Message, i: usize) -> Result<Option<OpenAiMessageOut<'_>>, ConvertError> {
    let mut texts = Vec::new();
    let mut refusals: Vec<&str> = Vec::new();
    let mut calls = Vec::new();
    for (j, p) in m.content.iter().enumerate() {
        match p {
            Part::Text { text, extra } if extra.marks_refusal() => refusals.push(text),
            Part::Text { text, .. } => texts.push(OpenAiPart::Text {
                text: Cow::Borrowed(text),
            }),
            Part::ToolCall {
                id, name, arguments, ..
            } => calls.push(OpenAiToolCall {
                id,
                kind: "function",
                function: OpenAiFunctionCall { name, arguments },
            }),
            // Dropped, see encode_request.
            Part::Thinking { .. } | Part::RedactedThinking { .. } => {}
            Part::Image { .. } => {
                return Err(err(
                    format!("messages[{i}].content[{j}]"),
                    "OpenAI assistant messages cannot hold images",
                ))
            }
            Part::Document { .. } => {
                return Err(err(
                    format!("messages[{i}].content[{j}]"),
                    "OpenAI assistant messages cannot hold documents",
                ))
            }
            Part::ToolResult { .. } => {
                return Err(err(
                    format!("messages[{i}].content[{j}]"),
                    "a tool result cannot appear in an assistant message",
                ))
            }
        }
    }
    if texts.is_empty() && refusals.is_empty() && calls.is_empty() {
        return Ok(None);
    }
    let content = match texts.as_mut_slice() {
        [] => OpenAiContent::Null,
        [OpenAiPart::Text { text }] => OpenAiContent::Text(std::mem::take(text)),
        _ => OpenAiContent::Parts(texts),
    };
    let mut msg = message("assistant", content);
    msg.refusal = match refusals.len() {
        0 => None,
        1 => Some(Cow::Borrowed(refusals[0])),
        _ => Some(Cow::Owned(refusals.concat())),
    };
    msg.tool_calls = calls;
    Ok(Some(msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::openai::assert_same_json;
    use sonic_rs::json;

    const BASIC: &[u8] = include_bytes!("fixtures/request_basic.json");
    const TOOLS: &[u8] = include_bytes!("fixtures/request_tools.json");

    fn value(b: &[u8]) -> Json {
        sonic_rs::from_slice(b).unwrap()
    }

    #[test]
    fn safety_identifier_is_the_end_user_for_other_formats() {
        let req = decode_request(
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"safety_identifier":"sid"}"#,
            None,
            false,
        )
        .unwrap();
        assert_eq!(req.user.as_deref(), Some("sid"));
        let anthropic = value(&crate::formats::anthropic::request::encode_request(&req).unwrap());
        assert_eq!(anthropic["metadata"], json!({"user_id": "sid"}));
        // An OpenAI upstream gets it under its own name, not as the deprecated `user` besides.
        let openai = value(&encode_request(&req).unwrap());
        assert_eq!(openai["safety_identifier"].as_str(), Some("sid"));
        assert!(openai.get("user").is_none());
        // With both, `user` is the canonical id and each goes upstream as sent.
        let req = decode_request(
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"safety_identifier":"sid","user":"u"}"#,
            None,
            false,
        )
        .unwrap();
        assert_eq!(req.user.as_deref(), Some("u"));
        let openai = value(&encode_request(&req).unwrap());
        assert_eq!(
            (openai["user"].as_str(), openai["safety_identifier"].as_str()),
            (Some("u"), Some("sid"))
        );
    }

    fn user(content: Vec<Part>) -> Message {
        Message {
            role: Role::User,
            content,
        }
    }

    fn assistant(content: Vec<Part>) -> Message {
        Message {
            role: Role::Assistant,
            content,
        }
    }

    fn detail(d: &str) -> Extra {
        let mut e = Extra::new(Format::OpenAi);
        e.push("detail", Json::from(d));
        e
    }

    fn call(id: &str, city: &str) -> Part {
        Part::ToolCall {
            id: id.into(),
            name: "get_weather".into(),
            arguments: format!("{{\"city\":\"{city}\"}}"),
            signature: None,
            extra: Extra::default(),
        }
    }

    fn result(id: &str, text: &str) -> Part {
        Part::ToolResult {
            id: id.into(),
            name: Some("get_weather".into()),
            content: vec![ToolResultContent::Text(text.into())],
            is_error: false,
            extra: Extra::default(),
        }
    }

    fn decode(b: &[u8]) -> Result<ChatRequest, ConvertError> {
        decode_request(b, None, false)
    }

    fn encoded(req: &ChatRequest) -> Json {
        value(&encode_request(req).unwrap())
    }

    fn field_of(b: &[u8]) -> String {
        decode(b).unwrap_err().field
    }

    #[test]
    fn protocols_2_2_request_decodes() {
        let r = decode(BASIC).unwrap();
        assert_eq!(r.model, "gpt-4o-mini");
        assert_eq!(r.system, vec![Part::text("Be brief")]);
        assert_eq!(
            r.messages,
            vec![user(vec![
                Part::text("Hi"),
                Part::Image {
                    source: ImageSource::Base64 {
                        media_type: "image/png".into(),
                        data: "iVBORw0KGgo=".into()
                    },
                    extra: detail("low"),
                }
            ])]
        );
        assert_eq!(r.max_tokens, Some(50));
        assert_eq!(r.stop, vec!["\n\n".to_string()]);
        assert_eq!((r.temperature, r.top_p), (Some(0.2), Some(0.9)));
        assert_eq!(r.tool_choice, Some(ToolChoice::Auto));
        assert_eq!(r.tools.len(), 1);
        let t = &r.tools[0];
        assert_eq!((t.name.as_str(), t.description.as_deref()), ("get_weather", Some("w")));
        assert_eq!(
            t.parameters.value(),
            json!({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})
        );
        assert!(t.extra.is_empty() && r.extra.is_empty());
        assert!(!r.stream && !r.include_usage);
        assert_eq!(r.extra.format, Some(Format::OpenAi));
    }

    #[test]
    fn protocols_2_2_request_encodes_back_identically() {
        let r = decode(BASIC).unwrap();
        assert_same_json(&encoded(&r), &value(BASIC), "$");
    }

    #[test]
    fn tools_fixture_decodes() {
        let r = decode(TOOLS).unwrap();
        assert_eq!(
            r.system,
            vec![Part::text("You are a weather bot."), Part::text("Answer in French.")]
        );
        let map = Part::Image {
            source: ImageSource::Url("https://example.com/map.png".into()),
            extra: Extra::new(Format::OpenAi),
        };
        assert_eq!(
            r.messages,
            vec![
                user(vec![Part::text("Weather in Paris and Rome? Here is a map.")]),
                assistant(vec![call("call_1", "Paris"), call("call_2", "Rome")]),
                user(vec![result("call_1", "sunny"), result("call_2", "rain")]),
                assistant(vec![Part::text("Paris: sunny, Rome: rain.")]),
                user(vec![map, Part::text("And here?")]),
            ]
        );
        assert_eq!(r.max_tokens, Some(200));
        assert_eq!(r.parallel_tool_calls, Some(true));
        assert_eq!(
            r.reasoning,
            Some(Reasoning {
                budget_tokens: None,
                effort: Some("low".into())
            })
        );
        assert_eq!(
            r.response_format,
            Some(ResponseFormat::JsonSchema {
                name: "weather".into(),
                schema: json!({"type":"object","properties":{"summary":{"type":"string"}}}).into(),
                strict: Some(true)
            })
        );
        assert_eq!((r.seed, r.stop.clone()), (Some(42), vec!["END".to_string()]));
        assert!(r.stream && r.include_usage);
        assert_eq!(r.tool_choice, Some(ToolChoice::Named("get_weather".into())));
        assert_eq!(r.tools[0].strict, Some(true));
        assert!(r.tools[0].extra.is_empty(), "strict is canonical, not an OpenAI extra");
        let names: Vec<&str> = r.extra.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["metadata", "store"]);
        assert_eq!(r.user.as_deref(), Some("u-42"));
    }

    #[test]
    fn tools_fixture_encodes_back_equivalently() {
        let r = decode(TOOLS).unwrap();
        // Differences from the fixture, all equivalent for OpenAI: one system message, `stop` as
        // an array, tool content as a string, `n: 1` (the default) not repeated.
        let want = json!({"model":"gpt-4o",
         "messages":[{"role":"system","content":[{"type":"text","text":"You are a weather bot."},{"type":"text","text":"Answer in French."}]},
             {"role":"user","content":"Weather in Paris and Rome? Here is a map."},
             {"role":"assistant","content":null,
              "tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                            {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
             {"role":"tool","content":"sunny","tool_call_id":"call_1"},
             {"role":"tool","content":"rain","tool_call_id":"call_2"},
             {"role":"assistant","content":"Paris: sunny, Rome: rain."},
             {"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/map.png"}},{"type":"text","text":"And here?"}]}],
         "max_completion_tokens":200,"parallel_tool_calls":true,"reasoning_effort":"low",
         "response_format":{"type":"json_schema","json_schema":{"name":"weather","schema":{"type":"object","properties":{"summary":{"type":"string"}}},"strict":true}},
         "seed":42,"stop":["END"],"stream":true,"stream_options":{"include_usage":true},
         "tool_choice":{"type":"function","function":{"name":"get_weather"}},
         "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false},"strict":true}}],
         "user":"u-42","metadata":{"trace":"t1"},"store":false});
        assert_same_json(&encoded(&r), &want, "$");
        // And it decodes to the same canonical request.
        assert_eq!(decode(&encode_request(&r).unwrap()).unwrap(), r);
    }

    #[test]
    fn encoded_field_order_is_the_sdks() {
        let r = decode(BASIC).unwrap();
        let s = String::from_utf8(encode_request(&r).unwrap()).unwrap();
        let keys = [
            "\"model\"",
            "\"messages\"",
            "\"max_tokens\"",
            "\"stop\"",
            "\"temperature\"",
            "\"tool_choice\"",
            "\"tools\"",
            "\"top_p\"",
        ];
        let pos: Vec<usize> = keys.iter().map(|k| s.find(k).unwrap()).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{s}");
    }

    /// A request as another format's integration would produce it.
    fn foreign_request() -> ChatRequest {
        let mut anthropic_extra = Extra::new(Format::Anthropic);
        anthropic_extra.push("cache_control", json!({"type":"ephemeral"}));
        ChatRequest {
            model: "gpt-4o".into(),
            system: vec![Part::Text {
                text: "sys".into(),
                extra: anthropic_extra.clone(),
            }],
            messages: vec![
                user(vec![
                    Part::text("look"),
                    Part::Image {
                        source: ImageSource::Base64 {
                            media_type: "image/jpeg".into(),
                            data: "/9j/4AAQ".into(),
                        },
                        extra: Extra::default(),
                    },
                    Part::Image {
                        source: ImageSource::Url("http://x.test/a.gif".into()),
                        extra: Extra::default(),
                    },
                ]),
                assistant(vec![
                    Part::Thinking {
                        text: "hmm".into(),
                        signature: Some("sig".into()),
                    },
                    Part::text("Let me check."),
                    call("toolu_1", "Paris"),
                ]),
                user(vec![
                    Part::ToolResult {
                        id: "toolu_1".into(),
                        name: None,
                        content: vec![
                            ToolResultContent::Text("temp: ".into()),
                            ToolResultContent::Json(json!({"c": 21})),
                        ],
                        is_error: true,
                        extra: Extra::default(),
                    },
                    Part::text("thanks"),
                ]),
            ],
            tools: vec![Tool {
                name: "get_weather".into(),
                description: None,
                parameters: json!({"type":"object"}).into(),
                strict: None,
                extra: anthropic_extra.clone(),
            }],
            tool_choice: Some(ToolChoice::Required),
            parallel_tool_calls: Some(false),
            max_tokens: Some(1024),
            temperature: Some(0.5),
            top_k: Some(40),
            stop: vec!["a".into(), "b".into()],
            response_format: Some(ResponseFormat::JsonObject),
            extra: {
                let mut e = Extra::new(Format::Anthropic);
                e.push("metadata", json!({"user_id": "x"}));
                e
            },
            ..ChatRequest::default()
        }
    }

    #[test]
    fn foreign_request_encodes_to_openai() {
        let want = json!({"model":"gpt-4o",
          "messages":[{"role":"system","content":"sys"},
            {"role":"user","content":[{"type":"text","text":"look"},
              {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}},
              {"type":"image_url","image_url":{"url":"http://x.test/a.gif"}}]},
            {"role":"assistant","content":"Let me check.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
            {"role":"tool","content":"Error: temp: {\"c\":21}","tool_call_id":"toolu_1"},
            {"role":"user","content":"thanks"}],
          "max_tokens":1024,"parallel_tool_calls":false,"response_format":{"type":"json_object"},
          "stop":["a","b"],"temperature":0.5,"tool_choice":"required",
          "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]});
        assert_same_json(&encoded(&foreign_request()), &want, "$");
    }

    #[test]
    fn round_trip_keeps_everything_openai_can_carry() {
        let orig = foreign_request();
        let back = decode(&encode_request(&orig).unwrap()).unwrap();
        let mut want = orig.clone();
        // What OpenAI cannot carry: thinking, is_error (said in the text: `tool_errors`), top_k,
        // foreign extras (by design).
        want.system = vec![Part::text("sys")];
        want.messages[1].content.remove(0);
        want.messages[2].content[0] = Part::ToolResult {
            id: "toolu_1".into(),
            name: Some("get_weather".into()),
            content: vec![ToolResultContent::Text("Error: temp: {\"c\":21}".into())],
            is_error: false,
            extra: Extra::default(),
        };
        for m in &mut want.messages {
            for p in &mut m.content {
                if let Part::Image { extra, .. } = p {
                    *extra = Extra::new(Format::OpenAi);
                }
            }
        }
        want.tools[0].extra = Extra::new(Format::OpenAi);
        want.top_k = None;
        want.extra = Extra::new(Format::OpenAi);
        assert_eq!(back, want);
    }

    #[test]
    fn top_k_is_decoded_but_never_sent_to_openai() {
        let r = decode(br#"{"model":"m","messages":[],"top_k":20}"#).unwrap();
        assert_eq!(r.top_k, Some(20));
        assert!(encoded(&r).get("top_k").is_none());
    }

    #[test]
    fn mid_conversation_system_is_hoisted() {
        let r = decode(
            br#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"system","content":"late"},{"role":"assistant","content":"b"}]}"#,
        )
        .unwrap();
        assert_eq!(r.system, vec![Part::text("late")]);
        assert_eq!(r.messages.len(), 2);
    }

    #[test]
    fn tool_results_then_user_text_form_one_turn() {
        let r = decode(
            br#"{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
                {"role":"tool","tool_call_id":"c1","content":"ok"},{"role":"user","content":"next"},{"role":"user","content":"more"}]}"#,
        )
        .unwrap();
        assert_eq!(r.messages.len(), 3);
        assert_eq!(r.messages[1].content.len(), 2);
        assert!(matches!(&r.messages[1].content[0], Part::ToolResult { name: Some(n), .. } if n == "f"));
        assert_eq!(r.messages[2].content, vec![Part::text("more")]);
    }

    #[test]
    fn refusal_in_history_round_trips() {
        let body = br#"{"model":"m","messages":[{"role":"assistant","content":null,"refusal":"I can't."}]}"#;
        let r = decode(body).unwrap();
        assert!(
            matches!(&r.messages[0].content[0], Part::Text { text, extra } if text == "I can't." && extra.marks_refusal())
        );
        let v = encoded(&r);
        assert_same_json(
            &v,
            &json!({"model":"m","messages":[{"role":"assistant","content":null,"refusal":"I can't."}]}),
            "$",
        );
    }

    #[test]
    fn thinking_budget_becomes_effort_and_max_completion_tokens() {
        let mut r = foreign_request();
        r.reasoning = Some(Reasoning {
            budget_tokens: Some(10_000),
            effort: None,
        });
        let v = encoded(&r);
        assert_eq!(v.get("reasoning_effort").and_then(|e| e.as_str()), Some("medium"));
        assert_eq!(v.get("max_completion_tokens").and_then(|e| e.as_u64()), Some(1024));
        assert!(v.get("max_tokens").is_none());
        r.reasoning = Some(Reasoning {
            budget_tokens: Some(0),
            effort: None,
        });
        let v = encoded(&r);
        assert!(v.get("reasoning_effort").is_none());
        assert_eq!(v.get("max_tokens").and_then(|e| e.as_u64()), Some(1024));
    }

    /// OpenAI's reasoning models refuse `max_tokens` even without a reasoning request, which an
    /// Anthropic client's limit would otherwise become.
    #[test]
    fn reasoning_models_get_max_completion_tokens() {
        let mut r = foreign_request();
        for (model, field) in [
            ("o1", "max_completion_tokens"),
            ("o3-mini", "max_completion_tokens"),
            ("o4-mini-2025-04-16", "max_completion_tokens"),
            ("gpt-5", "max_completion_tokens"),
            ("gpt-5-mini", "max_completion_tokens"),
            ("gpt-4o", "max_tokens"),
            ("gpt-4.1-mini", "max_tokens"),
            ("omni-moderation", "max_tokens"),
            ("o", "max_tokens"),
            ("llama-3.1-8b", "max_tokens"),
        ] {
            r.model = model.into();
            let v = encoded(&r);
            assert_eq!(v.get(field).and_then(|e| e.as_u64()), Some(1024), "{model}");
            let other = if field == "max_tokens" {
                "max_completion_tokens"
            } else {
                "max_tokens"
            };
            assert!(v.get(other).is_none(), "{model}");
        }
    }

    #[test]
    fn tool_choice_needs_tools_and_stream_asks_for_usage() {
        let mut r = foreign_request();
        r.tools.clear();
        r.stream = true;
        let v = encoded(&r);
        assert!(v.get("tool_choice").is_none() && v.get("parallel_tool_calls").is_none());
        assert_eq!(
            v.pointer(&["stream_options", "include_usage"])
                .and_then(|u| u.as_bool()),
            Some(true)
        );
    }

    #[test]
    fn openai_extras_do_not_override_known_fields() {
        let mut r = decode(br#"{"model":"m","messages":[],"user":"u"}"#).unwrap();
        r.extra.push("model", Json::from("evil"));
        let s = String::from_utf8(encode_request(&r).unwrap()).unwrap();
        assert_eq!(s, r#"{"model":"m","messages":[],"user":"u"}"#);
    }

    #[test]
    fn file_parts_are_documents() {
        let r = decode(
            br#"{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"a.pdf"}},{"type":"text","text":"sum up"}]}]}"#,
        )
        .unwrap();
        let doc = Part::Document {
            source: DocumentSource::Base64 {
                media_type: "application/pdf".into(),
                data: "JVBERi0=".into(),
            },
            name: Some("a.pdf".into()),
            extra: Extra::default(),
        };
        assert_eq!(r.messages[0].content, vec![doc.clone(), Part::text("sum up")]);
        assert_same_json(
            &encoded(&r)["messages"],
            &json!([{"role": "user", "content": [
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
                {"type": "text", "text": "sum up"}
            ]}]),
            "",
        );
        // An unnamed document gets a file name.
        let mut c = decode(br#"{"model":"m","messages":[]}"#).unwrap();
        let Part::Document { source, .. } = doc else {
            unreachable!()
        };
        c.messages = vec![user(vec![Part::Document {
            source,
            name: None,
            extra: Extra::new(Format::Anthropic),
        }])];
        assert_eq!(
            encoded(&c)["messages"][0]["content"][0]["file"]["filename"],
            json!("document.pdf")
        );
    }

    #[test]
    fn documents_openai_cannot_take_are_refused_by_name() {
        for source in [
            DocumentSource::Url("https://x/a.pdf".into()),
            DocumentSource::Text("plain".into()),
            DocumentSource::Base64 {
                media_type: "text/csv".into(),
                data: "YSxi".into(),
            },
        ] {
            let mut c = decode(br#"{"model":"m","messages":[]}"#).unwrap();
            c.messages = vec![user(vec![
                Part::text("see"),
                Part::Document {
                    source,
                    name: None,
                    extra: Extra::default(),
                },
            ])];
            let e = encode_request(&c).unwrap_err();
            assert_eq!(e.field, "messages[0].content[1].source", "{e}");
        }
    }

    #[test]
    fn decode_errors_name_the_field() {
        let cases: &[(&[u8], &str)] = &[
            (b"not json", ""),
            (b"[1]", ""),
            (br#"{"messages":[]}"#, "model"),
            (br#"{"model":"m"}"#, "messages"),
            (br#"{"model":"m","messages":[],"n":2}"#, "n"),
            (br#"{"model":"m","messages":[],"max_tokens":-1}"#, "max_tokens"),
            (br#"{"model":"m","messages":[],"temperature":"hot"}"#, "temperature"),
            (br#"{"model":"m","messages":[],"stop":[1]}"#, "stop[0]"),
            (br#"{"model":"m","messages":[],"tool_choice":"any"}"#, "tool_choice"),
            (br#"{"model":"m","messages":[],"tool_choice":{"type":"allowed_tools"}}"#, "tool_choice.allowed_tools"),
            (br#"{"model":"m","messages":[],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"any","tools":[]}}}"#, "tool_choice.allowed_tools.mode"),
            (br#"{"model":"m","messages":[],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[]}}}"#, "tool_choice.allowed_tools.tools"),
            (br#"{"model":"m","messages":[],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto"}}}"#, "tool_choice.allowed_tools.tools"),
            (br#"{"model":"m","messages":[],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"custom","custom":{"name":"f"}}]}}}"#, "tool_choice.allowed_tools.tools[0]"),
            (br#"{"model":"m","messages":[],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","name":"f"}]}}}"#, "tool_choice.allowed_tools.tools[0]"),
            // A listed tool that is not declared.
            (br#"{"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"g"}}]}}}"#, "tool_choice.allowed_tools.tools"),
            (br#"{"model":"m","messages":[],"response_format":{"type":"xml"}}"#, "response_format.type"),
            (br#"{"model":"m","messages":[],"tools":[{"type":"custom","custom":{}}]}"#, "tools[0].type"),
            (br#"{"model":"m","messages":[],"tools":[{"type":"function","function":{}}]}"#, "tools[0].function.name"),
            (br#"{"model":"m","messages":[{"content":"x"}]}"#, "messages[0].role"),
            (br#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#, "messages[0].role"),
            (br#"{"model":"m","messages":[{"role":"function","name":"f","content":"x"}]}"#, "messages[0].role"),
            (br#"{"model":"m","messages":[{"role":"user"}]}"#, "messages[0].content"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}"#, "messages[0].content[0].type"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x"}}]}]}"#, "messages[0].content[0].image_url.url"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,raw"}}]}]}"#, "messages[0].content[0].image_url.url"),
            (br#"{"model":"m","messages":[{"role":"system","content":[{"type":"image_url"}]}]}"#, "messages[0].content[0].type"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}]}"#, "messages[0].content[0].file.file_id"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"filename":"a.pdf"}}]}]}"#, "messages[0].content[0].file.file_data"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"JVBERi0="}}]}]}"#, "messages[0].content[0].file.file_data"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:audio/wav;base64,AA"}}]}]}"#, "messages[0].content[0].file.file_data"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"file"}]}]}"#, "messages[0].content[0].file"),
            (br#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#, "messages[0].tool_call_id"),
            (br#"{"model":"m","messages":[{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}]}"#, "messages[0].function_call"),
            (br#"{"model":"m","messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f"}}]}]}"#, "messages[0].tool_calls[0].id"),
        ];
        for (body, field) in cases {
            assert_eq!(field_of(body), *field, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn lenient_where_openai_is() {
        let r = decode(
            br#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":"https://x/y.png"}]},
                {"role":"assistant","content":"","tool_calls":[{"id":"c","function":{"name":"f","arguments":{"a":1}}}]}],
                "n":1,"stop":null,"tools":null,"max_tokens":5,"max_completion_tokens":7,"temperature":1}"#,
        )
        .unwrap();
        assert_eq!((r.max_tokens, r.temperature), (Some(7), Some(1.0)));
        assert!(
            matches!(&r.messages[0].content[0], Part::Image { source: ImageSource::Url(u), .. } if u == "https://x/y.png")
        );
        assert_eq!(
            r.messages[1].content,
            vec![Part::ToolCall {
                id: "c".into(),
                name: "f".into(),
                arguments: "{\"a\":1}".into(),
                signature: None,
                extra: Extra::default()
            }]
        );
    }

    #[test]
    fn encode_refuses_what_openai_cannot_express() {
        let img = || Part::Image {
            source: ImageSource::Url("https://x/y.png".into()),
            extra: Extra::default(),
        };
        let mut r = ChatRequest {
            model: "m".into(),
            system: vec![img()],
            ..ChatRequest::default()
        };
        assert_eq!(encode_request(&r).unwrap_err().field, "system[0]");
        r.system.clear();
        r.messages = vec![assistant(vec![Part::text("a"), img()])];
        assert_eq!(encode_request(&r).unwrap_err().field, "messages[0].content[1]");
        // A tool's document OpenAI cannot take (text/plain) is refused where it stands.
        r.messages = vec![user(vec![Part::ToolResult {
            id: "c".into(),
            name: None,
            content: vec![ToolResultContent::Document {
                source: DocumentSource::Text("notes".into()),
                name: None,
            }],
            is_error: false,
            extra: Extra::default(),
        }])];
        assert_eq!(
            encode_request(&r).unwrap_err().field,
            "messages[0].content[0].content[0].source"
        );
        r.messages.clear();
        r.temperature = Some(f64::NAN);
        assert_eq!(encode_request(&r).unwrap_err().field, "temperature");
    }

    /// A computer-use turn: two calls answered with screenshots, then the user's own question.
    fn screenshot_turn(results: Vec<Part>) -> ChatRequest {
        let mut turn = results;
        turn.push(Part::text("what now?"));
        ChatRequest {
            model: "gpt-4o".into(),
            messages: vec![
                user(vec![Part::text("look")]),
                assistant(vec![call("call_a", "Paris"), call("call_b", "Rome")]),
                user(turn),
            ],
            ..ChatRequest::default()
        }
    }

    fn shot(id: &str, content: Vec<ToolResultContent>) -> Part {
        Part::ToolResult {
            id: id.into(),
            name: Some("get_weather".into()),
            content,
            is_error: false,
            extra: Extra::default(),
        }
    }

    fn png() -> ToolResultContent {
        ToolResultContent::Image(ImageSource::Base64 {
            media_type: "image/png".into(),
            data: "iVBOR".into(),
        })
    }

    #[test]
    fn tool_result_images_follow_the_tool_messages_in_a_user_message() {
        // OpenAI tool messages take text only, and every tool message must directly follow the
        // assistant's calls: the text stays, the images come after all of them, labelled.
        let req = screenshot_turn(vec![
            shot("call_a", vec![ToolResultContent::Text("clicked".into()), png()]),
            shot(
                "call_b",
                vec![
                    png(),
                    ToolResultContent::Image(ImageSource::Url("https://x/b.png".into())),
                ],
            ),
        ]);
        let want = json!([
            {"role":"user","content":"look"},
            {"role":"assistant","content":null,"tool_calls":[
                {"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"call_b","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
            {"role":"tool","tool_call_id":"call_a","content":"clicked"},
            {"role":"tool","tool_call_id":"call_b","content":"The result (2 images) follows in the next message."},
            {"role":"user","content":[
                {"type":"text","text":"Result of tool call call_a:"},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}},
                {"type":"text","text":"Result of tool call call_b:"},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}},
                {"type":"image_url","image_url":{"url":"https://x/b.png"}},
                {"type":"text","text":"what now?"}]}
        ]);
        let got = encoded(&req);
        assert_same_json(got.get("messages").unwrap(), &want, "messages");
        // The OpenAI decoder (the mock's, as strict as the API) reads it back as one user turn.
        let back = decode(&encode_request(&req).unwrap()).unwrap();
        assert_eq!(back.messages.len(), 3);
        let images = back.messages[2]
            .content
            .iter()
            .filter(|p| matches!(p, Part::Image { .. }));
        assert_eq!(images.count(), 3);
    }

    #[test]
    fn tool_result_pdfs_follow_as_file_parts() {
        let pdf = ToolResultContent::Document {
            source: DocumentSource::Base64 {
                media_type: "application/pdf".into(),
                data: "JVBER".into(),
            },
            name: Some("report".into()),
        };
        let req = screenshot_turn(vec![
            shot("call_a", vec![pdf, png()]),
            shot("call_b", vec![ToolResultContent::Text("none".into())]),
        ]);
        let got = encoded(&req);
        let msgs = got.get("messages").and_then(|m| m.as_array()).unwrap();
        assert_eq!(msgs.len(), 5);
        assert_same_json(
            &msgs[2],
            &json!({"role":"tool","tool_call_id":"call_a","content":"The result (1 image and 1 file) follows in the next message."}),
            "tool",
        );
        assert_same_json(
            &msgs[3],
            &json!({"role":"tool","tool_call_id":"call_b","content":"none"}),
            "tool",
        );
        assert_same_json(
            &msgs[4],
            &json!({"role":"user","content":[
                {"type":"text","text":"Result of tool call call_a:"},
                {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBER","filename":"report"}},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}},
                {"type":"text","text":"what now?"}]}),
            "user",
        );
    }

    #[test]
    fn a_tool_image_without_user_text_still_gets_its_user_message() {
        // Only the tool results in the turn: the user message holds the label and the image.
        let mut req = screenshot_turn(vec![shot("call_a", vec![png()]), shot("call_b", vec![])]);
        req.messages[2].content.pop();
        let got = encoded(&req);
        let msgs = got.get("messages").and_then(|m| m.as_array()).unwrap();
        assert_same_json(
            &msgs[3],
            &json!({"role":"tool","tool_call_id":"call_b","content":""}),
            "tool",
        );
        assert_same_json(
            &msgs[4],
            &json!({"role":"user","content":[
                {"type":"text","text":"Result of tool call call_a:"},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}}]}),
            "user",
        );
    }

    #[test]
    fn thinking_only_assistant_turn_is_skipped() {
        let r = ChatRequest {
            model: "m".into(),
            messages: vec![
                user(vec![Part::text("q")]),
                assistant(vec![Part::RedactedThinking { data: "x".into() }]),
            ],
            ..ChatRequest::default()
        };
        let v = encoded(&r);
        assert_eq!(v.get("messages").and_then(|m| m.as_array()).map(|a| a.len()), Some(1));
    }

    #[test]
    fn never_panics_on_truncated_or_corrupted_bodies() {
        for body in [BASIC, TOOLS] {
            for end in 0..body.len() {
                let _ = decode(&body[..end]);
            }
            let mut b = body.to_vec();
            for i in 0..b.len() {
                let old = b[i];
                b[i] = b"{}[]\":,0a\\"[i % 10];
                if let Ok(r) = decode(&b) {
                    let _ = encode_request(&r);
                }
                b[i] = old;
            }
        }
    }

    /// `function.strict` used to ride in the tool's OpenAI extras, so it reached OpenAI upstreams
    /// only; now it is the canonical `Tool::strict`, written back in its place.
    #[test]
    fn function_strict_is_canonical_and_comes_back() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"hi"}],
            "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"},"strict":true}},
                     {"type":"function","function":{"name":"g","parameters":{"type":"object"},"strict":false}},
                     {"type":"function","function":{"name":"h","parameters":{"type":"object"},"strict":null}}]}"#;
        let r = decode(body).unwrap();
        let strict: Vec<Option<bool>> = r.tools.iter().map(|t| t.strict).collect();
        assert_eq!(strict, [Some(true), Some(false), None]);
        assert!(r.tools.iter().all(|t| t.extra.is_empty()));
        let v = encoded(&r);
        assert_eq!(v["tools"][0]["function"]["strict"], json!(true));
        assert_eq!(v["tools"][1]["function"]["strict"], json!(false));
        assert!(v["tools"][2]["function"].get("strict").is_none());
        // A strict tool of another format's request reaches OpenAI strict.
        let mut foreign = r.clone();
        foreign.tools[0].extra = Extra::new(Format::Anthropic);
        assert_eq!(encoded(&foreign)["tools"][0]["function"]["strict"], json!(true));
        let bad =
            br#"{"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f","strict":"yes"}}]}"#;
        assert_eq!(decode(bad).unwrap_err().field, "tools[0].function.strict");
    }
}
