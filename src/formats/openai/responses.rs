//! OpenAI Responses API (`POST /v1/responses`, PROTOCOLS 2.8) answered by a provider of another
//! format. An OpenAI provider gets the request as sent (same format: passthrough); any other
//! gets the canonical chat request decoded here, and its answer comes back as a `response`
//! object, or as the Responses event stream (`response.created` ... `response.completed`).
//!
//! Sluice stores nothing, so what needs a stored response or conversation is refused by name
//! (`previous_response_id`, `conversation`, `item_reference` items, `background`), as are the
//! built-in tools (web search, file search, ...) that only OpenAI runs. Reasoning comes back as
//! `reasoning` items whose summary is the model's thinking text and whose `encrypted_content`
//! is its signature (or a redacted block's data); sent back in `input`, they become the thinking
//! blocks a provider such as Anthropic needs to continue a tool loop.

use super::request::{bool_of, err, f64_of, limit_of, str_of, u32_of};
use super::types::OpenAiTokensOut;
use crate::canonical::sig::{self, Family};
use crate::canonical::stream::{StreamEncode, StreamEvent};
use crate::canonical::{
    detached, image_source_from_url, ChatRequest, ChatResponse, ConvertError, Extra, FaultKind, FinishReason, Json,
    JsonPath, Message, Part, Reasoning, ResponseFormat, Role, Schema, TokenLogprob, Tool, ToolChoice,
    ToolResultContent, Usage, Written, DETACH_ABOVE,
};
use crate::formats::one_pass::Scalar;
use crate::formats::Format;
use crate::wire::json::members;
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::borrow::Cow;

/// OpenAI's and Gemini's limit on alternatives per token.
const MAX_TOP_LOGPROBS: u32 = super::request::MAX_TOP_LOGPROBS;

/// The `include` value that asks for the output text's token log probabilities.
const INCLUDE_LOGPROBS: &str = "message.output_text.logprobs";

fn stateless(field: &str, what: &str) -> ConvertError {
    err(
        field,
        format!("{what} needs a response stored by OpenAI; Sluice stores none for other providers: send the whole conversation in `input`"),
    )
}

// Request ----------------------------------------------------------------------------------------

/// The least `max_output_tokens` the Responses API takes. OpenAI refuses less ("integer below
/// minimum value"), so a Responses client gets that answer from every provider, and a request
/// translated to a Responses upstream asks for at least this many (`responses_upstream`).
pub(crate) const MIN_OUTPUT_TOKENS: u32 = 16;

/// `max_output_tokens`: a token limit of at least [`MIN_OUTPUT_TOKENS`], refused in OpenAI's words.
fn output_limit_of(v: &Json, field: &JsonPath<'_>) -> Result<u32, ConvertError> {
    match limit_of(v, field)? {
        n if n < MIN_OUTPUT_TOKENS => Err(err(
            field,
            format!("integer below minimum value. Expected a value >= {MIN_OUTPUT_TOKENS}, but got {n} instead."),
        )),
        n => Ok(n),
    }
}

/// Integration: a client's Responses body -> canonical.
pub fn decode_request(body: &[u8]) -> Result<ChatRequest, ConvertError> {
    decode(body, false).map(|(req, _)| req)
}

/// A client's Responses body -> canonical, and what its answer repeats of it: what
/// `decode_request` and then `Echo::of` give, read in one pass (`Echo::of` scans the whole body
/// again, `input` and all).
pub fn decode_request_and_echo(body: &[u8]) -> Result<(ChatRequest, Echo), ConvertError> {
    let (req, echo) = decode(body, true)?;
    // `decode` asked for an echo gives one; the scan is only there to need no `expect`.
    let echo = echo.unwrap_or_else(|| Echo::of(&req, body));
    Ok((req, echo))
}

/// The request, and with `echo` what its answer repeats: read in one pass
/// (`responses_one_pass`), else by `Value` (the reference, which names a refused field).
fn decode(body: &[u8], echo: bool) -> Result<(ChatRequest, Option<Echo>), ConvertError> {
    match super::responses_one_pass::read(body, echo) {
        Some(read) => Ok(read),
        None => decode_by_value(body, echo),
    }
}

/// The reference reading: the body as a `Value` tree, walked; every refusal names its field.
pub(crate) fn decode_by_value(body: &[u8], echo: bool) -> Result<(ChatRequest, Option<Echo>), ConvertError> {
    let obj = super::request::body_object(body)?;
    let mut top = Top::new(echo);
    let mut input = None;
    for (key, val) in obj.iter() {
        match key {
            // As OpenAI does, an explicit null is an absent optional parameter.
            "input" if !val.is_null() => input = Some(val),
            "input" => {}
            _ => top.field(key, val, Written::Body(body, &obj))?,
        }
    }
    let (mut req, sent) = top.settle()?;
    let input = input.ok_or_else(|| err("input", "required (Sluice stores no earlier responses to continue)"))?;
    let mut read = Input::default();
    decode_input(input, &mut read)?;
    read.finish(&mut req);
    super::request::check_allowed_declared(&req, "tool_choice.tools")?;
    req.detach_values_if_large(body.len());
    let echo = sent.map(|sent| Echo::with(&req, sent.detached(body.len() > DETACH_ABOVE)));
    Ok((req, echo))
}

/// The body's top level other than `input`, as both readings take it.
// NOTE: no field goes to `extra`. The one OpenAI target of a translated Responses request is
// Chat Completions (`responses_api = false`), whose fields differ: `instructions`, `text` or
// `truncation` there would be a 400. What the answer repeats is kept apart (`Echo`).
pub(super) struct Top {
    req: ChatRequest,
    model: Option<String>,
    instructions: Option<String>,
    logprobs: bool,
    top_logprobs: Option<u32>,
    /// What the answer repeats, where an echo is asked for.
    sent: Option<Sent>,
}

impl Top {
    pub(super) fn new(echo: bool) -> Top {
        Top {
            req: ChatRequest::default(),
            model: None,
            instructions: None,
            logprobs: false,
            top_logprobs: None,
            sent: echo.then(Sent::default),
        }
    }

    /// The tools read in one pass; of a repeated `tools`, the last counts.
    pub(super) fn set_tools(&mut self, tools: Vec<Tool>) {
        self.req.tools = tools;
    }

    /// Member `key` (not `input`) into the request; of a repeated key, the last one counts.
    pub(super) fn field(&mut self, key: &str, val: &Json, written: Written<'_>) -> Result<(), ConvertError> {
        if let Some(sent) = &mut self.sent {
            sent.note(key, val);
        }
        // As OpenAI does, an explicit null is an absent optional parameter.
        if val.is_null() {
            return Ok(());
        }
        let path = JsonPath::ROOT.key(key);
        let req = &mut self.req;
        match key {
            "model" => self.model = Some(str_of(val, &path)?.to_string()),
            "instructions" => self.instructions = Some(str_of(val, &path)?.to_string()),
            "max_output_tokens" => req.max_tokens = Some(output_limit_of(val, &path)?),
            "temperature" => req.temperature = Some(f64_of(val, &path)?),
            "top_p" => req.top_p = Some(f64_of(val, &path)?),
            "top_logprobs" => {
                let n = u32_of(val, &path)?;
                if n > MAX_TOP_LOGPROBS {
                    return Err(err(key, "must be at most 20"));
                }
                self.top_logprobs = Some(n);
            }
            "include" => {
                let items = val.as_array().ok_or_else(|| err(key, "must be an array of strings"))?;
                for (i, v) in items.iter().enumerate() {
                    // NOTE: the other values ask for details of built-in tools (refused) or of
                    // the input; reasoning's encrypted content comes whenever there is any.
                    self.logprobs |= str_of(v, &path.index(i))? == INCLUDE_LOGPROBS;
                }
            }
            "stream" => req.stream = bool_of(val, &path)?,
            // `include_obfuscation` pads deltas against side channels; the padding is OpenAI's.
            "stream_options" => {}
            "tools" => req.tools = decode_tools(val, written.text_at("tools", &[]))?,
            "tool_choice" => req.tool_choice = Some(decode_tool_choice(val)?),
            "parallel_tool_calls" => req.parallel_tool_calls = Some(bool_of(val, &path)?),
            "text" => {
                if let Some(f) = val.get("format").filter(|f| !f.is_null()) {
                    req.response_format = Some(decode_text_format(f, written)?);
                }
            }
            "reasoning" => {
                if let Some(e) = val.get("effort").filter(|e| !e.is_null()) {
                    let effort = str_of(e, &path.key("effort"))?;
                    req.reasoning = Some(Reasoning {
                        budget_tokens: None,
                        effort: Some(effort.to_string()),
                    });
                }
            }
            "user" | "safety_identifier" => req.user = Some(str_of(val, &path)?.to_string()),
            "previous_response_id" => return Err(stateless(key, "`previous_response_id`")),
            "conversation" => return Err(stateless(key, "`conversation`")),
            "prompt" => return Err(stateless(key, "a stored prompt template (`prompt`)")),
            "background" if val.as_bool() == Some(true) => {
                return Err(err(
                    key,
                    "background responses are stored and polled at OpenAI; other providers answer in the request",
                ))
            }
            "max_tool_calls" => {
                return Err(err(
                    key,
                    "a limit on built-in tool calls cannot be translated (other providers run no built-in tools)",
                ))
            }
            // NOTE: the rest change nothing upstream: `store` asks OpenAI to keep the response,
            // `prompt_cache_key` steers its cache; `metadata`, `truncation` and `service_tier`
            // are repeated in the answer; fields newer than these are not carried.
            _ => {}
        }
        Ok(())
    }

    /// The request the top level makes once every member is read, and what its answer repeats
    /// (where asked); `input` comes after.
    pub(super) fn settle(self) -> Result<(ChatRequest, Option<Sent>), ConvertError> {
        let mut req = self.req;
        req.model = self.model.ok_or_else(|| err("model", "required"))?;
        if let Some(text) = self.instructions {
            req.system.push(Part::text(text));
        }
        // `top_logprobs: 0` alone (the default every answer repeats) asks for no log probabilities.
        if self.logprobs || self.top_logprobs.is_some_and(|n| n > 0) {
            req.logprobs = Some(self.top_logprobs.unwrap_or(0));
        }
        Ok((req, self.sent))
    }
}

/// Each tool's `parameters` as written: the text of the last one not `null`, as the loop over a
/// tool's members reads it (the members of a parsed object in their order, repeats included),
/// with how many there were (a tool whose count differs from its reading's is written out from
/// its tree). `None` where the texts do not line up with the tools read.
fn parameters_text(tools: &str, count: usize) -> Option<Vec<(usize, Option<String>)>> {
    let mut out = Vec::with_capacity(count);
    // SAFETY: the iterators want valid JSON, and the body was read whole (`body_object`) first.
    for item in unsafe { sonic_rs::to_array_iter_unchecked(tools) } {
        let item = item.ok()?;
        let (mut seen, mut last) = (0, None);
        for member in unsafe { sonic_rs::to_object_iter_unchecked(item.as_raw_str()) } {
            let (key, value) = member.ok()?;
            if key == "parameters" && value.as_raw_str() != "null" {
                seen += 1;
                last = Some(value);
            }
        }
        out.push((seen, last.map(|v| v.as_raw_str().to_string())));
    }
    (out.len() == count).then_some(out)
}

/// A function tool before its members are read: no name yet, a function without arguments.
pub(super) fn function_tool() -> Tool {
    Tool {
        name: String::new(),
        description: None,
        parameters: Schema::no_arguments(),
        strict: None,
        extra: Extra::new(Format::OpenAi),
    }
}

/// Function tools are flat here (`{"type":"function","name",...}`); the built-in ones (web
/// search, file search, computer use, MCP, ...) run inside OpenAI and are refused by name.
fn decode_tools(v: &Json, text: Option<Cow<'_, str>>) -> Result<Vec<Tool>, ConvertError> {
    let arr = v.as_array().ok_or_else(|| err("tools", "must be an array"))?;
    let mut written = text.and_then(|t| parameters_text(&t, arr.len())).map(Vec::into_iter);
    let tools_path = JsonPath::ROOT.key("tools");
    let mut tools = Vec::with_capacity(arr.len());
    for (i, t) in arr.iter().enumerate() {
        let path = tools_path.index(i);
        let obj = t.as_object().ok_or_else(|| err(path, "must be an object"))?;
        match t.get("type").and_then(|k| k.as_str()) {
            Some("function") => {}
            Some(other) => {
                return Err(err(
                    path.key("type"),
                    format!("the built-in tool '{other}' runs only at OpenAI; other providers take function tools"),
                ))
            }
            None => return Err(err(path.key("type"), "required string")),
        }
        let mut tool = function_tool();
        let mut named = false;
        let (mut parameters, mut seen) = (None, 0);
        for (k, val) in obj.iter() {
            if val.is_null() {
                continue;
            }
            match k {
                "type" => {}
                "name" => {
                    tool.name = str_of(val, &path.key("name"))?.to_string();
                    named = true;
                }
                "description" => tool.description = Some(str_of(val, &path.key("description"))?.to_string()),
                "parameters" => (parameters, seen) = (Some(val), seen + 1),
                "strict" => tool.strict = Some(bool_of(val, &path.key("strict"))?),
                _ => tool.extra.push(k, val.clone()),
            }
        }
        if !named {
            return Err(err(path.key("name"), "required"));
        }
        // The schema as the client wrote it (its properties' order), where its text was found.
        let text = written.as_mut().and_then(Iterator::next);
        tool.parameters = match (text, parameters) {
            (Some((n, Some(text))), Some(_)) if n == seen => Schema::from_checked_text(text),
            (_, Some(val)) => Schema::from_value(val),
            (_, None) => Schema::no_arguments(),
        };
        tools.push(tool);
    }
    Ok(tools)
}

fn decode_tool_choice(v: &Json) -> Result<ToolChoice, ConvertError> {
    if let Some(mode) = super::request::tool_choice_mode(v) {
        return mode;
    }
    match (
        v.get("type").and_then(|t| t.as_str()),
        v.get("name").and_then(|n| n.as_str()),
    ) {
        (Some("function"), Some(name)) => Ok(ToolChoice::Named(name.to_string())),
        // Flat here: `mode` and `tools` beside `type`, each tool `{"type":"function","name"}`.
        (Some("allowed_tools"), _) => super::request::allowed_tools(v, &JsonPath::ROOT.key("tool_choice"), &["name"]),
        _ => Err(err(
            "tool_choice",
            "only none, auto, required, {\"type\":\"function\",\"name\"} or {\"type\":\"allowed_tools\",...} \
             can be translated",
        )),
    }
}

/// `text.format`: `text`, `json_object`, or a flat `json_schema` (`name`, `schema`, `strict`).
fn decode_text_format(f: &Json, written: Written<'_>) -> Result<ResponseFormat, ConvertError> {
    match f.get("type").and_then(|t| t.as_str()) {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => Ok(ResponseFormat::JsonSchema {
            name: f.get("name").and_then(|n| n.as_str()).unwrap_or("response").to_string(),
            schema: f
                .get("schema")
                .map(|s| Schema::as_written(s, written, "text", &["format", "schema"]))
                .ok_or_else(|| err("text.format.schema", "required"))?,
            strict: f.get("strict").and_then(|s| s.as_bool()),
        }),
        _ => Err(err("text.format.type", "must be text, json_object or json_schema")),
    }
}

/// Which turn the next item joins: items of one turn come as several (a reasoning item, a
/// message, function calls; function results, then the user's text).
#[derive(Clone, Copy, PartialEq, Default)]
enum Turn {
    #[default]
    None,
    Assistant,
    ToolResults,
}

/// `input` as both readings fold it, item by item: system and developer messages join the
/// system prompt, the items of one turn one message.
#[derive(Default)]
pub(super) struct Input {
    system: Vec<Part>,
    messages: Vec<Message>,
    turn: Turn,
    /// Whether any tool result is there to be named after its call.
    has_tool_results: bool,
}

impl Input {
    /// `input` given as a string: one user message.
    pub(super) fn text(text: String) -> Input {
        Input {
            messages: vec![Message {
                role: Role::User,
                content: vec![Part::text(text)],
            }],
            ..Input::default()
        }
    }

    /// A system or developer message's parts (text only), in order.
    pub(super) fn system(&mut self, parts: Vec<Part>, path: &JsonPath<'_>) -> Result<(), ConvertError> {
        // NOTE: canonical has one system prompt (as Anthropic, Gemini and Bedrock); a system
        // or developer message anywhere joins it, in order.
        for p in parts {
            match p {
                Part::Text { .. } => self.system.push(p),
                _ => return Err(err(path.key("content"), "a system message takes text only")),
            }
        }
        Ok(())
    }

    /// An item's parts in `role`'s turn (`output`: a function result's).
    pub(super) fn join(&mut self, role: Role, parts: Vec<Part>, output: bool) {
        let joins = match role {
            Role::Assistant => self.turn == Turn::Assistant,
            // The inverse of encoding: tool results then the user's text form one user turn.
            Role::User => self.turn == Turn::ToolResults,
        };
        match self.messages.last_mut() {
            Some(last) if joins => last.content.extend(parts),
            // NOTE: an assistant message with nothing in it carries nothing; it is skipped.
            _ if parts.is_empty() => return,
            _ => self.messages.push(Message { role, content: parts }),
        }
        self.has_tool_results |= output;
        self.turn = match (role, output) {
            (Role::Assistant, _) => Turn::Assistant,
            (Role::User, true) => Turn::ToolResults,
            (Role::User, false) => Turn::None,
        };
    }

    /// Into `req`, after its instructions; each tool result named after its call.
    pub(super) fn finish(self, req: &mut ChatRequest) {
        let Input {
            system,
            mut messages,
            has_tool_results,
            ..
        } = self;
        req.system.extend(system);
        if has_tool_results {
            crate::canonical::name_tool_results(&mut messages);
        }
        req.messages = messages;
    }
}

/// A function call item's `arguments`, as both readings take them: a string of JSON; absent or
/// `null`, no arguments. `None` for any other value, which the reference refuses.
pub(super) fn call_arguments(arguments: Option<Scalar>) -> Option<String> {
    match arguments {
        None | Some(Scalar::Null) => Some("{}".to_string()),
        Some(Scalar::Str(a)) => Some(a),
        Some(_) => None,
    }
}

/// An item `type` that is not read: an `item_reference` (stored at OpenAI) or a built-in tool's.
pub(super) fn unread_item(kind: &str, path: &JsonPath<'_>) -> ConvertError {
    match kind {
        "item_reference" => stateless(&path.key("type").to_string(), "an `item_reference`"),
        other => err(
            path.key("type"),
            format!("input item type '{other}' belongs to a built-in tool and cannot be translated"),
        ),
    }
}

fn decode_input(input: &Json, read: &mut Input) -> Result<(), ConvertError> {
    if let Some(text) = input.as_str() {
        *read = Input::text(text.to_string());
        return Ok(());
    }
    let items = input
        .as_array()
        .ok_or_else(|| err("input", "must be a string or an array of items"))?;
    let input_path = JsonPath::ROOT.key("input");
    for (i, item) in items.iter().enumerate() {
        let path = input_path.index(i);
        if !item.is_object() {
            return Err(err(path, "must be an object"));
        }
        let [kind, role, content] = members(item, ["type", "role", "content"]);
        let kind = match kind {
            None => "message",
            Some(t) => str_of(t, &path.key("type"))?,
        };
        match kind {
            "message" => {
                let role = role
                    .and_then(|r| r.as_str())
                    .ok_or_else(|| err(path.key("role"), "required string"))?;
                let content = content.ok_or_else(|| err(path.key("content"), "required"))?;
                let parts = decode_content(content, &path.key("content"))?;
                match role {
                    "system" | "developer" => read.system(parts, &path)?,
                    "user" => read.join(Role::User, parts, false),
                    "assistant" => read.join(Role::Assistant, parts, false),
                    other => return Err(err(path.key("role"), format!("unknown role '{other}'"))),
                }
            }
            "function_call" => {
                let call = Part::ToolCall {
                    id: str_field(item, "call_id", &path)?.to_string(),
                    name: str_field(item, "name", &path)?.to_string(),
                    arguments: call_arguments(item.get("arguments").map(Scalar::of))
                        .ok_or_else(|| err(path.key("arguments"), "must be a string of JSON"))?,
                    signature: None,
                    extra: Extra::default(),
                };
                read.join(Role::Assistant, vec![call], false);
            }
            "function_call_output" => {
                let call_id = str_field(item, "call_id", &path)?;
                let output = item.get("output").ok_or_else(|| err(path.key("output"), "required"))?;
                let result = Part::ToolResult {
                    id: call_id.to_string(),
                    // Named after its call once every item is read (Gemini needs it).
                    name: None,
                    content: decode_output(output, &path.key("output"))?,
                    // The Responses API has no error flag on results.
                    is_error: false,
                    extra: Extra::default(),
                };
                read.join(Role::User, vec![result], true);
            }
            "reasoning" => read.join(Role::Assistant, decode_reasoning(item, &path)?, false),
            other => return Err(unread_item(other, &path)),
        }
    }
    Ok(())
}

fn str_field<'v>(item: &'v Json, name: &str, path: &JsonPath<'_>) -> Result<&'v str, ConvertError> {
    item.get(name)
        .and_then(|v| v.as_str())
        .ok_or_else(|| err(path.key(name), "required string"))
}

/// A message's content: a string, or `input_text` / `output_text` / `refusal` / `input_image`
/// / `input_file` parts.
fn decode_content(c: &Json, path: &JsonPath<'_>) -> Result<Vec<Part>, ConvertError> {
    if let Some(s) = c.as_str() {
        return Ok(if s.is_empty() { vec![] } else { vec![Part::text(s)] });
    }
    let arr = c
        .as_array()
        .ok_or_else(|| err(path, "must be a string or an array of parts"))?;
    let mut parts = Vec::with_capacity(arr.len());
    for (j, p) in arr.iter().enumerate() {
        let [kind, text, refusal, image_url, detail, file_id, file_url, file_data, filename] =
            members(p, PartIn::MEMBERS);
        fn str_in(v: Option<&Json>) -> Option<Cow<'_, str>> {
            v.and_then(|v| v.as_str()).map(Cow::Borrowed)
        }
        let said = |v: Option<&Json>| v.is_some_and(|v| !v.is_null());
        let part = PartIn {
            kind: str_in(kind),
            text: str_in(text),
            refusal: str_in(refusal),
            image_url: str_in(image_url),
            detail: detail.filter(|d| !d.is_null()).cloned(),
            file_id: said(file_id),
            file_url: said(file_url),
            file_data: str_in(file_data),
            filename: str_in(filename),
        };
        parts.push(part.into_part(&path.index(j))?);
    }
    Ok(parts)
}

/// The members of a content part that its reading looks at, however read: each string `None`
/// where absent or not a string (the reference's first of a repeated member).
#[derive(Default)]
pub(super) struct PartIn<'a> {
    pub(super) kind: Option<Cow<'a, str>>,
    pub(super) text: Option<Cow<'a, str>>,
    pub(super) refusal: Option<Cow<'a, str>>,
    pub(super) image_url: Option<Cow<'a, str>>,
    /// An image's `detail`, when not `null`.
    pub(super) detail: Option<Json>,
    /// Whether `file_id` / `file_url` is there and not `null`.
    pub(super) file_id: bool,
    pub(super) file_url: bool,
    pub(super) file_data: Option<Cow<'a, str>>,
    pub(super) filename: Option<Cow<'a, str>>,
}

impl PartIn<'_> {
    /// The members read, whatever the part's type (in the order of the fields).
    pub(super) const MEMBERS: [&'static str; 9] = [
        "type",
        "text",
        "refusal",
        "image_url",
        "detail",
        "file_id",
        "file_url",
        "file_data",
        "filename",
    ];

    /// The part, by its `type`.
    pub(super) fn into_part(self, path: &JsonPath<'_>) -> Result<Part, ConvertError> {
        let required = |v: Option<Cow<'_, str>>, name: &str| {
            v.map(Cow::into_owned)
                .ok_or_else(|| err(path.key(name), "required string"))
        };
        match self.kind.as_deref() {
            Some("input_text" | "output_text") => Ok(Part::text(required(self.text, "text")?)),
            Some("refusal") => Ok(Part::refusal(&required(self.refusal, "refusal")?)),
            Some("input_image") => {
                if self.file_id {
                    return Err(err(
                        path.key("file_id"),
                        "an uploaded file (file_id) is OpenAI's alone: send the image as a URL or data URL",
                    ));
                }
                let url = self
                    .image_url
                    .ok_or_else(|| err(path.key("image_url"), "required string"))?;
                let source = image_source_from_url(&url).map_err(|why| err(path.key("image_url"), why))?;
                let mut extra = Extra::new(Format::OpenAi);
                if let Some(d) = self.detail {
                    extra.push("detail", d);
                }
                Ok(Part::Image { source, extra })
            }
            // Inline `file_data` (a base64 data URL) is a document; an uploaded file or a URL
            // only OpenAI fetches.
            Some("input_file") => {
                for (said, key, what) in [
                    (self.file_id, "file_id", "an uploaded file (file_id)"),
                    (self.file_url, "file_url", "a file URL"),
                ] {
                    if said {
                        return Err(err(
                            path.key(key),
                            format!("{what} is read only by OpenAI: send the file inline as file_data"),
                        ));
                    }
                }
                let data = self
                    .file_data
                    .ok_or_else(|| err(path.key("file_data"), "required string"))?;
                Ok(Part::Document {
                    source: super::request::inline_document(&data, &path.key("file_data"))?,
                    name: self.filename.map(Cow::into_owned),
                    extra: Extra::default(),
                })
            }
            Some(other) => Err(err(
                path.key("type"),
                format!("content part type '{other}' cannot be translated"),
            )),
            None => Err(err(path.key("type"), "required string")),
        }
    }
}

/// A function result's `output`: text, or `input_text` / `input_image` / `input_file` parts.
fn decode_output(o: &Json, path: &JsonPath<'_>) -> Result<Vec<ToolResultContent>, ConvertError> {
    if let Some(s) = o.as_str() {
        return Ok(vec![ToolResultContent::Text(s.to_string())]);
    }
    output_of_parts(decode_content(o, path)?, path)
}

/// A function result's content parts as its content (no refusals there).
pub(super) fn output_of_parts(parts: Vec<Part>, path: &JsonPath<'_>) -> Result<Vec<ToolResultContent>, ConvertError> {
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        out.push(match p {
            Part::Text { text, .. } => ToolResultContent::Text(text),
            Part::Image { source, .. } => ToolResultContent::Image(source),
            Part::Document { source, name, .. } => ToolResultContent::Document { source, name },
            _ => return Err(err(path, "a function result takes text, images and files")),
        });
    }
    Ok(out)
}

/// A `reasoning` item this encoder wrote: its summary text is the thinking, `encrypted_content`
/// the signature; with no summary, the encrypted content is a redacted block's data.
fn decode_reasoning(item: &Json, path: &JsonPath<'_>) -> Result<Vec<Part>, ConvertError> {
    let mut text = String::new();
    if let Some(summary) = item.get("summary").and_then(|s| s.as_array()) {
        for (k, s) in summary.iter().enumerate() {
            text.push_str(str_field(s, "text", &path.key("summary").index(k))?);
        }
    }
    let encrypted = item.get("encrypted_content").and_then(|e| e.as_str());
    Ok(reasoning_parts(text, encrypted))
}

/// A reasoning item's parts from its summary's text and its `encrypted_content` (empty: none).
pub(super) fn reasoning_parts(text: String, encrypted: Option<&str>) -> Vec<Part> {
    match (text.is_empty(), encrypted.filter(|e| !e.is_empty())) {
        (false, signature) => vec![Part::Thinking {
            text,
            signature: signature.map(|s| sig::decode(s, Family::OpenAi)),
        }],
        (true, Some(data)) => vec![Part::RedactedThinking {
            data: sig::decode(data, Family::OpenAi),
        }],
        (true, None) => vec![],
    }
}

/// A Responses body going to OpenAI as it is (same format), fitted where its `input` holds a
/// reasoning item whose `encrypted_content` Sluice marked (`sig`): another family's item is left
/// out (OpenAI cannot decrypt it and refuses the request), OpenAI's own goes bare; `model` is set
/// to the routed one. None when nothing is marked (the body passes through as bytes) or the body
/// is not an object with an `input` list (left for the upstream to judge).
pub fn fit_signatures(body: &[u8], model: &str) -> Option<Vec<u8>> {
    use sonic_rs::JsonValueMutTrait;
    if !sig::has_marker(body) {
        return None;
    }
    let mut v: Json = sonic_rs::from_slice(body).ok()?;
    let input = v.get_mut("input")?.as_array_mut()?;
    let token = |item: &Json| -> Option<String> {
        (item.get("type").and_then(|t| t.as_str()) == Some("reasoning"))
            .then(|| {
                item.get("encrypted_content")
                    .and_then(|e| e.as_str())
                    .map(str::to_string)
            })
            .flatten()
    };
    let before = input.len();
    input.retain(|item| !token(item).is_some_and(|t| sig::Family::of(&t).is_some_and(|(f, _)| f != Family::OpenAi)));
    let mut changed = input.len() != before;
    for item in input.iter_mut() {
        if let Some(t) = token(item) {
            if let Some((Family::OpenAi, bare)) = sig::Family::of(&t) {
                item.as_object_mut()?.insert("encrypted_content", bare);
                changed = true;
            }
        }
    }
    if !changed {
        return None;
    }
    v.as_object_mut()?.insert("model", model);
    sonic_rs::to_vec(&v).ok()
}

// Response ---------------------------------------------------------------------------------------
//
// Everything the client sees is written straight into bytes (`formats::write`) in OpenAI's own
// key order (`type` and `sequence_number` first in every event), with the literal keys as bytes.
// The serde types this replaced are kept as `tests::reference`, and the tests hold the two
// byte for byte (`Write` is how a stream or answer is told which one writes).

/// `tool_choice` as the response repeats it: a mode, the named function, or the allowed tools.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoiceEcho {
    Mode(&'static str),
    Function(String),
    Allowed { mode: &'static str, names: Vec<String> },
}

/// What the answer repeats of the request, as OpenAI's `response` object does.
#[derive(Debug, Clone, PartialEq)]
pub struct Echo {
    instructions: Option<Json>,
    max_output_tokens: Option<u32>,
    parallel_tool_calls: bool,
    temperature: f64,
    top_p: f64,
    top_logprobs: u32,
    tool_choice: ToolChoiceEcho,
    /// The `tools` array as the response repeats it, written once here (a stream repeats it in
    /// three events) rather than kept as a copy of every schema.
    tools: Vec<u8>,
    text: Option<Json>,
    reasoning_effort: Option<String>,
    metadata: Option<Json>,
    truncation: Option<Json>,
    service_tier: Option<Json>,
    user: Option<String>,
}

/// The settings the answer repeats as the client sent them (a later duplicate replaces an
/// earlier one, and `null` is none).
#[derive(Default)]
pub(super) struct Sent {
    instructions: Option<Json>,
    text: Option<Json>,
    metadata: Option<Json>,
    truncation: Option<Json>,
    service_tier: Option<Json>,
}

impl Sent {
    /// Where the value of top-level member `key` goes, if the answer repeats it.
    fn slot(&mut self, key: &str) -> Option<&mut Option<Json>> {
        match key {
            "instructions" => Some(&mut self.instructions),
            "text" => Some(&mut self.text),
            "metadata" => Some(&mut self.metadata),
            "truncation" => Some(&mut self.truncation),
            "service_tier" => Some(&mut self.service_tier),
            _ => None,
        }
    }

    fn note(&mut self, key: &str, value: &Json) {
        if let Some(slot) = self.slot(key) {
            *slot = Some(value).filter(|v| !v.is_null()).cloned();
        }
    }

    /// The values kept for the answer, `detach`ed from the body's tree where it is large (a
    /// clone holds the whole tree: `ChatRequest::detach_values`).
    fn detached(self, detach: bool) -> Sent {
        if !detach {
            return self;
        }
        let keep = |v: Option<Json>| v.map(|v| detached(&v));
        Sent {
            instructions: keep(self.instructions),
            text: keep(self.text),
            metadata: keep(self.metadata),
            truncation: keep(self.truncation),
            service_tier: keep(self.service_tier),
        }
    }
}

impl Echo {
    /// The same echo, its tools' schemas the same JSON if not the same text (the readings of a
    /// body agree so: the reference writes out sorted what it cannot find as written).
    pub(crate) fn agrees_with(&self, other: &Echo) -> bool {
        let tools = |e: &Echo| sonic_rs::from_slice::<Json>(&e.tools).ok();
        let same_tools = self.tools == other.tools || tools(self).is_some_and(|a| Some(a) == tools(other));
        same_tools
            && Echo {
                tools: Vec::new(),
                ..self.clone()
            } == Echo {
                tools: Vec::new(),
                ..other.clone()
            }
    }

    /// From the decoded request and the client's `body`, whose settings that change nothing
    /// upstream (`metadata`, `truncation`, ...) are read in one lazy pass over its top level.
    /// (`decode_request_and_echo` gives both without the second pass.)
    pub fn of(req: &ChatRequest, body: &[u8]) -> Echo {
        let mut sent = Sent::default();
        for entry in sonic_rs::to_object_iter(body) {
            let Ok((key, value)) = entry else { break };
            let Some(slot) = sent.slot(&key) else { continue };
            *slot = sonic_rs::from_str::<Json>(value.as_raw_str())
                .ok()
                .filter(|v| !v.is_null());
        }
        Echo::with(req, sent)
    }

    pub(super) fn with(req: &ChatRequest, sent: Sent) -> Echo {
        let Sent {
            instructions,
            text,
            metadata,
            truncation,
            service_tier,
        } = sent;
        let mut tools = Vec::new();
        direct::tools(&mut tools, &req.tools);
        let tool_choice = match &req.tool_choice {
            None | Some(ToolChoice::Auto) => ToolChoiceEcho::Mode("auto"),
            Some(ToolChoice::None) => ToolChoiceEcho::Mode("none"),
            Some(ToolChoice::Required) => ToolChoiceEcho::Mode("required"),
            Some(ToolChoice::Named(n)) => ToolChoiceEcho::Function(n.clone()),
            Some(ToolChoice::Allowed { names, required }) => ToolChoiceEcho::Allowed {
                mode: if *required { "required" } else { "auto" },
                names: names.clone(),
            },
        };
        Echo {
            instructions,
            max_output_tokens: req.max_tokens,
            parallel_tool_calls: req.parallel_tool_calls.unwrap_or(true),
            temperature: req.temperature.unwrap_or(1.0),
            top_p: req.top_p.unwrap_or(1.0),
            top_logprobs: req.logprobs.unwrap_or(0),
            tool_choice,
            tools,
            text,
            reasoning_effort: req.reasoning.as_ref().and_then(|r| r.effort.clone()),
            metadata,
            truncation,
            service_tier,
            user: req.user.clone(),
        }
    }
}

/// A response's `status` and `incomplete_details.reason`, from why generation stopped.
fn status_of(finish: &FinishReason, refused: bool) -> (&'static str, Option<&'static str>) {
    match super::answer_finish_reason(finish, refused) {
        "length" => ("incomplete", Some("max_output_tokens")),
        "content_filter" => ("incomplete", Some("content_filter")),
        _ => ("completed", None),
    }
}

/// `error` of a failed response, and the `code` of the stream's `error` event.
#[derive(Clone, Copy)]
struct ErrorOut<'a> {
    code: &'static str,
    message: &'a str,
}

/// The output items of a response: an answer's in order, or a stream's closed items, which
/// `close_all` sorts by output index before the terminal event.
#[derive(Clone, Copy)]
enum Items<'a> {
    InOrder(&'a [Item]),
    Indexed(&'a [(usize, Item)]),
}

impl<'a> Items<'a> {
    fn each(self, mut f: impl FnMut(&'a Item)) {
        match self {
            Items::InOrder(items) => items.iter().for_each(f),
            Items::Indexed(items) => items.iter().for_each(|(_, item)| f(item)),
        }
    }
}

/// The `response` object: what it holds beside the request's settings, and those (`echo`).
struct ResponseState<'a> {
    id: &'a str,
    model: &'a str,
    created_at: u64,
    status: &'static str,
    incomplete: Option<&'static str>,
    error: Option<ErrorOut<'a>>,
    output: Items<'a>,
    usage: Option<&'a Usage>,
    echo: &'a Echo,
}

/// A response id: the upstream's, marked as OpenAI marks its own.
fn response_id(upstream: &str) -> String {
    if upstream.starts_with("resp_") {
        upstream.to_string()
    } else {
        format!("resp_{upstream}")
    }
}

/// Item ids: `msg_`, `fc_`, `rs_` and the response's id, numbered in order of output.
fn item_id(prefix: &str, response_id: &str, n: usize) -> String {
    let base = response_id.strip_prefix("resp_").unwrap_or(response_id);
    let mut id = String::with_capacity(prefix.len() + base.len() + 6);
    id.push_str(prefix);
    id.push('_');
    id.push_str(base);
    id.push('_');
    id.push_str(itoa::Buffer::new().format(n));
    id
}

/// A part of a message item.
#[derive(Debug, Clone)]
enum Content {
    Text { text: String, logprobs: Vec<TokenLogprob> },
    Refusal(String),
}

impl Content {
    fn is_refusal(&self) -> bool {
        matches!(self, Content::Refusal(_))
    }
}

/// An output item.
#[derive(Debug, Clone)]
enum Item {
    Message {
        id: String,
        status: &'static str,
        content: Vec<Content>,
    },
    Call {
        id: String,
        status: &'static str,
        arguments: String,
        call_id: String,
        name: String,
    },
    Reasoning {
        id: String,
        /// The summary text (empty: no summary).
        text: String,
        encrypted_content: Option<String>,
    },
}

/// Where an event's item sits: its id and output index.
#[derive(Clone, Copy)]
struct At<'a> {
    item_id: &'a str,
    output_index: usize,
}

/// Where a content part sits: its message item and its own index.
#[derive(Clone, Copy)]
struct PartAt<'a> {
    item: At<'a>,
    content_index: u32,
}

/// What an event carries after its `type` and `sequence_number`, field by field in OpenAI's
/// order (a reasoning item's summary is its one part, `summary_index` 0).
enum Fields<'a> {
    Response(&'a ResponseState<'a>),
    Item {
        output_index: usize,
        item: &'a Item,
    },
    Part {
        at: PartAt<'a>,
        part: &'a Content,
    },
    TextDelta {
        at: PartAt<'a>,
        delta: &'a str,
        logprobs: &'a [TokenLogprob],
    },
    TextDone {
        at: PartAt<'a>,
        text: &'a str,
        logprobs: &'a [TokenLogprob],
    },
    RefusalDelta {
        at: PartAt<'a>,
        delta: &'a str,
    },
    RefusalDone {
        at: PartAt<'a>,
        refusal: &'a str,
    },
    SummaryPart {
        at: At<'a>,
        text: &'a str,
    },
    SummaryDelta {
        at: At<'a>,
        delta: &'a str,
    },
    SummaryDone {
        at: At<'a>,
        text: &'a str,
    },
    ArgumentsDelta {
        at: At<'a>,
        delta: &'a str,
    },
    ArgumentsDone {
        at: At<'a>,
        arguments: &'a str,
    },
    Error(ErrorOut<'a>),
}

/// How the answer and the events become bytes: `DIRECT`, or the tests' serde reference.
#[derive(Clone, Copy)]
struct Write {
    /// The `response` object.
    response: fn(&mut Vec<u8>, &ResponseState<'_>),
    /// One event (`event: <kind>` and its `data:` line).
    event: fn(&mut Vec<u8>, &str, u64, &Fields<'_>),
}

/// The byte writer.
const DIRECT: Write = Write {
    response: direct::response,
    event: direct::event,
};

mod direct {
    use super::{At, Content, ErrorOut, Fields, Item, OpenAiTokensOut, PartAt, ResponseState, ToolChoiceEcho};
    use crate::canonical::{TokenLogprob, Tool, Usage};
    use crate::formats::write::{self, array, nullable};

    /// One of the writer's own words (a status, a type, an error code) as a JSON string: plain
    /// ASCII that needs no escaping.
    fn word(b: &mut Vec<u8>, w: &str) {
        b.push(b'"');
        b.extend_from_slice(w.as_bytes());
        b.push(b'"');
    }

    fn tokens(b: &mut Vec<u8>, logprobs: &[TokenLogprob]) {
        if logprobs.is_empty() {
            b.extend_from_slice(b"[]");
        } else {
            // Rare (asked for by the client) and shaped by its own `Serialize`.
            let _ = sonic_rs::to_writer(&mut *b, &OpenAiTokensOut(logprobs));
        }
    }

    fn summary_text(b: &mut Vec<u8>, text: &str) {
        b.extend_from_slice(b"{\"type\":\"summary_text\",\"text\":");
        write::string(b, text);
        b.push(b'}');
    }

    fn content(b: &mut Vec<u8>, c: &Content) {
        match c {
            Content::Text { text, logprobs } => {
                b.extend_from_slice(b"{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":");
                tokens(b, logprobs);
                b.extend_from_slice(b",\"text\":");
                write::string(b, text);
            }
            Content::Refusal(refusal) => {
                b.extend_from_slice(b"{\"type\":\"refusal\",\"refusal\":");
                write::string(b, refusal);
            }
        }
        b.push(b'}');
    }

    pub(super) fn item(b: &mut Vec<u8>, item: &Item) {
        b.extend_from_slice(b"{\"id\":");
        match item {
            Item::Message { id, status, content: c } => {
                write::string(b, id);
                b.extend_from_slice(b",\"type\":\"message\",\"status\":");
                word(b, status);
                b.extend_from_slice(b",\"content\":");
                array(b, c, content);
                b.extend_from_slice(b",\"role\":\"assistant\"");
            }
            Item::Call {
                id,
                status,
                arguments,
                call_id,
                name,
            } => {
                write::string(b, id);
                b.extend_from_slice(b",\"type\":\"function_call\",\"status\":");
                word(b, status);
                b.extend_from_slice(b",\"arguments\":");
                write::string(b, arguments);
                b.extend_from_slice(b",\"call_id\":");
                write::string(b, call_id);
                b.extend_from_slice(b",\"name\":");
                write::string(b, name);
            }
            Item::Reasoning {
                id,
                text,
                encrypted_content,
            } => {
                write::string(b, id);
                b.extend_from_slice(b",\"type\":\"reasoning\",\"summary\":[");
                if !text.is_empty() {
                    summary_text(b, text);
                }
                b.extend_from_slice(b"],\"encrypted_content\":");
                nullable(b, encrypted_content.as_deref());
            }
        }
        b.push(b'}');
    }

    /// `input_tokens_details` has both counts: they are required fields of the SDK's
    /// `ResponseUsage`.
    fn usage(b: &mut Vec<u8>, u: &Usage) {
        b.extend_from_slice(b"{\"input_tokens\":");
        write::uint(b, u.input);
        b.extend_from_slice(b",\"input_tokens_details\":{\"cached_tokens\":");
        write::uint(b, u.cache_read);
        b.extend_from_slice(b",\"cache_write_tokens\":");
        write::uint(b, u.cache_write);
        b.extend_from_slice(b"},\"output_tokens\":");
        write::uint(b, u.output);
        b.extend_from_slice(b",\"output_tokens_details\":{\"reasoning_tokens\":");
        write::uint(b, u.reasoning);
        b.extend_from_slice(b"},\"total_tokens\":");
        write::uint(b, u.input.saturating_add(u.output));
        b.push(b'}');
    }

    pub(super) fn tool_choice(b: &mut Vec<u8>, c: &ToolChoiceEcho) {
        match c {
            ToolChoiceEcho::Mode(mode) => word(b, mode),
            ToolChoiceEcho::Function(name) => {
                b.extend_from_slice(b"{\"type\":\"function\",\"name\":");
                write::string(b, name);
                b.push(b'}');
            }
            ToolChoiceEcho::Allowed { mode, names } => {
                b.extend_from_slice(b"{\"type\":\"allowed_tools\",\"mode\":");
                word(b, mode);
                b.extend_from_slice(b",\"tools\":");
                array(b, names, |b, name| {
                    b.extend_from_slice(b"{\"type\":\"function\",\"name\":");
                    write::string(b, name);
                    b.push(b'}');
                });
                b.push(b'}');
            }
        }
    }

    /// The request's tools as the `response` object lists them.
    pub(super) fn tools(b: &mut Vec<u8>, tools: &[Tool]) {
        array(b, tools, |b, t| {
            b.extend_from_slice(b"{\"type\":\"function\",\"name\":");
            write::string(b, &t.name);
            b.extend_from_slice(b",\"description\":");
            nullable(b, t.description.as_deref());
            b.extend_from_slice(b",\"parameters\":");
            write::schema(b, &t.parameters);
            b.extend_from_slice(b",\"strict\":");
            match t.strict {
                Some(s) => write::boolean(b, s),
                None => b.extend_from_slice(b"null"),
            }
            b.push(b'}');
        });
    }

    /// A repeated setting: what the client sent, else OpenAI's default (`default`, raw JSON).
    fn sent_or(b: &mut Vec<u8>, sent: &Option<crate::canonical::Json>, default: &[u8]) {
        match sent {
            Some(v) => write::value(b, v),
            None => b.extend_from_slice(default),
        }
    }

    pub(super) fn response(b: &mut Vec<u8>, r: &ResponseState<'_>) {
        let echo = r.echo;
        b.extend_from_slice(b"{\"id\":");
        write::string(b, r.id);
        b.extend_from_slice(b",\"object\":\"response\",\"created_at\":");
        write::uint(b, r.created_at);
        b.extend_from_slice(b",\"status\":");
        word(b, r.status);
        b.extend_from_slice(b",\"background\":false,\"error\":");
        match r.error {
            Some(ErrorOut { code, message }) => {
                b.extend_from_slice(b"{\"code\":");
                word(b, code);
                b.extend_from_slice(b",\"message\":");
                write::string(b, message);
                b.push(b'}');
            }
            None => b.extend_from_slice(b"null"),
        }
        b.extend_from_slice(b",\"incomplete_details\":");
        match r.incomplete {
            Some(reason) => {
                b.extend_from_slice(b"{\"reason\":");
                word(b, reason);
                b.push(b'}');
            }
            None => b.extend_from_slice(b"null"),
        }
        b.extend_from_slice(b",\"instructions\":");
        sent_or(b, &echo.instructions, b"null");
        b.extend_from_slice(b",\"max_output_tokens\":");
        match echo.max_output_tokens {
            Some(n) => write::uint(b, u64::from(n)),
            None => b.extend_from_slice(b"null"),
        }
        b.extend_from_slice(b",\"max_tool_calls\":null,\"model\":");
        write::string(b, r.model);
        b.extend_from_slice(b",\"output\":[");
        let mut first = true;
        r.output.each(|i| {
            write::sep(b, &mut first);
            item(b, i);
        });
        b.extend_from_slice(b"],\"parallel_tool_calls\":");
        write::boolean(b, echo.parallel_tool_calls);
        b.extend_from_slice(b",\"previous_response_id\":null,\"reasoning\":{\"effort\":");
        nullable(b, echo.reasoning_effort.as_deref());
        b.extend_from_slice(b",\"summary\":null},\"service_tier\":");
        sent_or(b, &echo.service_tier, b"\"default\"");
        b.extend_from_slice(b",\"store\":false,\"temperature\":");
        write::float(b, echo.temperature);
        b.extend_from_slice(b",\"text\":");
        sent_or(b, &echo.text, b"{\"format\":{\"type\":\"text\"}}");
        b.extend_from_slice(b",\"tool_choice\":");
        tool_choice(b, &echo.tool_choice);
        b.extend_from_slice(b",\"tools\":");
        b.extend_from_slice(&echo.tools);
        b.extend_from_slice(b",\"top_logprobs\":");
        write::uint(b, u64::from(echo.top_logprobs));
        b.extend_from_slice(b",\"top_p\":");
        write::float(b, echo.top_p);
        b.extend_from_slice(b",\"truncation\":");
        sent_or(b, &echo.truncation, b"\"disabled\"");
        b.extend_from_slice(b",\"usage\":");
        match r.usage {
            Some(u) => usage(b, u),
            None => b.extend_from_slice(b"null"),
        }
        b.extend_from_slice(b",\"user\":");
        nullable(b, echo.user.as_deref());
        b.extend_from_slice(b",\"metadata\":");
        sent_or(b, &echo.metadata, b"{}");
        b.push(b'}');
    }

    fn at(b: &mut Vec<u8>, at: At<'_>) {
        b.extend_from_slice(b",\"item_id\":");
        write::string(b, at.item_id);
        b.extend_from_slice(b",\"output_index\":");
        write::uint(b, at.output_index as u64);
    }

    fn part_at(b: &mut Vec<u8>, p: PartAt<'_>) {
        at(b, p.item);
        b.extend_from_slice(b",\"content_index\":");
        write::uint(b, u64::from(p.content_index));
    }

    /// `,"<key>":<string>`.
    fn string_member(b: &mut Vec<u8>, key: &[u8], value: &str) {
        b.push(b',');
        b.extend_from_slice(key);
        write::string(b, value);
    }

    pub(super) fn event(b: &mut Vec<u8>, kind: &str, sequence_number: u64, fields: &Fields<'_>) {
        b.extend_from_slice(b"event: ");
        b.extend_from_slice(kind.as_bytes());
        b.extend_from_slice(b"\ndata: {\"type\":");
        word(b, kind);
        b.extend_from_slice(b",\"sequence_number\":");
        write::uint(b, sequence_number);
        match *fields {
            Fields::Response(r) => {
                b.extend_from_slice(b",\"response\":");
                response(b, r);
            }
            Fields::Item { output_index, item: i } => {
                b.extend_from_slice(b",\"output_index\":");
                write::uint(b, output_index as u64);
                b.extend_from_slice(b",\"item\":");
                item(b, i);
            }
            Fields::Part { at, part } => {
                part_at(b, at);
                b.extend_from_slice(b",\"part\":");
                content(b, part);
            }
            Fields::TextDelta { at, delta, logprobs } => {
                part_at(b, at);
                string_member(b, b"\"delta\":", delta);
                b.extend_from_slice(b",\"logprobs\":");
                tokens(b, logprobs);
            }
            Fields::TextDone { at, text, logprobs } => {
                part_at(b, at);
                string_member(b, b"\"text\":", text);
                b.extend_from_slice(b",\"logprobs\":");
                tokens(b, logprobs);
            }
            Fields::RefusalDelta { at, delta } => {
                part_at(b, at);
                string_member(b, b"\"delta\":", delta);
            }
            Fields::RefusalDone { at, refusal } => {
                part_at(b, at);
                string_member(b, b"\"refusal\":", refusal);
            }
            Fields::SummaryPart { at: a, text } => {
                at(b, a);
                b.extend_from_slice(b",\"summary_index\":0,\"part\":");
                summary_text(b, text);
            }
            Fields::SummaryDelta { at: a, delta } => {
                at(b, a);
                b.extend_from_slice(b",\"summary_index\":0");
                string_member(b, b"\"delta\":", delta);
            }
            Fields::SummaryDone { at: a, text } => {
                at(b, a);
                b.extend_from_slice(b",\"summary_index\":0");
                string_member(b, b"\"text\":", text);
            }
            Fields::ArgumentsDelta { at: a, delta } => {
                at(b, a);
                string_member(b, b"\"delta\":", delta);
            }
            Fields::ArgumentsDone { at: a, arguments } => {
                at(b, a);
                string_member(b, b"\"arguments\":", arguments);
            }
            Fields::Error(ErrorOut { code, message }) => {
                b.extend_from_slice(b",\"code\":");
                word(b, code);
                string_member(b, b"\"message\":", message);
                b.extend_from_slice(b",\"param\":null");
            }
        }
        b.extend_from_slice(b"}\n\n");
    }
}

/// The output items of an answer, its status and, when it stopped short, why.
fn output_of(resp: &ChatResponse, id: &str) -> (Vec<Item>, &'static str, Option<&'static str>) {
    let mut output: Vec<Item> = Vec::new();
    // The message being filled: consecutive text parts are one message's parts.
    let mut message: Option<Vec<Content>> = None;
    let mut logprobs = &resp.logprobs[..];
    let flush = |message: &mut Option<Vec<Content>>, output: &mut Vec<Item>| {
        if let Some(content) = message.take() {
            let id = item_id("msg", id, output.len());
            output.push(Item::Message {
                id,
                status: "completed",
                content,
            });
        }
    };
    for part in &resp.content {
        match part {
            Part::Text { text, extra } if extra.marks_refusal() => message
                .get_or_insert_with(Vec::new)
                .push(Content::Refusal(text.clone())),
            // Consecutive texts (Gemini's parts, Anthropic's blocks) are one part, as a stream
            // writes them; the log probabilities are the answer's and go with its first text.
            Part::Text { text, .. } => {
                let content = message.get_or_insert_with(Vec::new);
                match content.last_mut() {
                    Some(Content::Text { text: t, .. }) => t.push_str(text),
                    _ => content.push(Content::Text {
                        text: text.clone(),
                        logprobs: std::mem::take(&mut logprobs).to_vec(),
                    }),
                }
            }
            Part::Thinking { text, signature } => {
                flush(&mut message, &mut output);
                output.push(Item::Reasoning {
                    id: item_id("rs", id, output.len()),
                    text: text.clone(),
                    encrypted_content: signature.as_deref().map(|s| sig::wire(s, Family::OpenAi).to_string()),
                });
            }
            Part::RedactedThinking { data } => {
                flush(&mut message, &mut output);
                output.push(Item::Reasoning {
                    id: item_id("rs", id, output.len()),
                    text: String::new(),
                    encrypted_content: Some(sig::wire(data, Family::OpenAi).to_string()),
                });
            }
            Part::ToolCall {
                id: call_id,
                name,
                arguments,
                ..
            } => {
                flush(&mut message, &mut output);
                output.push(Item::Call {
                    id: item_id("fc", id, output.len()),
                    status: "completed",
                    arguments: if arguments.is_empty() {
                        "{}".into()
                    } else {
                        arguments.clone()
                    },
                    call_id: call_id.clone(),
                    name: name.clone(),
                });
            }
            // Answers carry no images, documents or results.
            _ => {}
        }
    }
    flush(&mut message, &mut output);
    let refused = output
        .iter()
        .any(|item| matches!(item, Item::Message { content, .. } if content.iter().any(Content::is_refusal)));
    let (status, incomplete) = status_of(&resp.finish, refused);
    // The message being written when generation stopped short is itself incomplete.
    if let (Some(_), Some(Item::Message { status, .. })) = (incomplete, output.last_mut()) {
        *status = "incomplete";
    }
    (output, status, incomplete)
}

/// Integration: canonical -> a `response` body.
pub fn encode_response(resp: &ChatResponse, echo: &Echo) -> Vec<u8> {
    encode_response_with(resp, echo, DIRECT)
}

fn encode_response_with(resp: &ChatResponse, echo: &Echo, w: Write) -> Vec<u8> {
    let id = response_id(&resp.id);
    let (output, status, incomplete) = output_of(resp, &id);
    let state = ResponseState {
        id: &id,
        model: &resp.model,
        created_at: resp.created,
        status,
        incomplete,
        error: None,
        output: Items::InOrder(&output),
        usage: Some(&resp.usage),
        echo,
    };
    let mut out = Vec::with_capacity(1024);
    (w.response)(&mut out, &state);
    out
}

// Stream -----------------------------------------------------------------------------------------

/// The item being streamed at an output index.
enum Open {
    /// A message and its content parts so far; the last is being written (output text, or a
    /// refusal).
    Message { id: String, parts: Vec<Content> },
    Reasoning {
        id: String,
        block: u32,
        text: String,
        signature: Option<String>,
    },
}

/// A function call being streamed (calls may interleave, so several can be open).
struct OpenCall {
    block: u32,
    output_index: usize,
    id: String,
    call_id: String,
    name: String,
    arguments: String,
}

/// Integration side of a stream: canonical events -> the Responses event stream. Every event
/// is `event: <type>` + `data: {"type":<type>,"sequence_number":n,...}`; the first is
/// `response.created`, each item is announced by `response.output_item.added` before its deltas
/// and closed by `response.output_item.done`, and the last is `response.completed` (or
/// `.incomplete`; on a failure `error` then `response.failed`). No `[DONE]`.
pub struct ResponsesStreamEncoder {
    id: String,
    model: String,
    created_at: u64,
    echo: Echo,
    seq: u64,
    started: bool,
    /// Items closed so far, with their output index, for the terminal event's `output`.
    output: Vec<(usize, Item)>,
    /// The open message or reasoning item, and its output index.
    open: Option<(usize, Open)>,
    calls: Vec<OpenCall>,
    /// Output indices handed out (items closed, open and calls).
    next_index: usize,
    usage: Usage,
    finish: Option<FinishReason>,
    /// Log probabilities for the next text delta.
    logprobs: Vec<TokenLogprob>,
    /// The canonical block of the refusal being written: its text goes as a `refusal` part.
    refusal_block: Option<u32>,
    closed: bool,
    write: Write,
}

impl ResponsesStreamEncoder {
    /// For `req`, decoded from the client's `body` (see `Echo::of`).
    pub fn new(req: &ChatRequest, body: &[u8]) -> Self {
        Self::with_echo(req, Echo::of(req, body))
    }

    /// For `req`, whose answer repeats `echo` (see `decode_request_and_echo`).
    pub fn with_echo(req: &ChatRequest, echo: Echo) -> Self {
        ResponsesStreamEncoder {
            id: String::new(),
            model: req.model.clone(),
            created_at: crate::mock::unix_now(),
            echo,
            seq: 0,
            started: false,
            output: Vec::new(),
            open: None,
            calls: Vec::new(),
            next_index: 0,
            usage: Usage::default(),
            finish: None,
            logprobs: Vec::new(),
            refusal_block: None,
            closed: false,
            write: DIRECT,
        }
    }

    /// Writes one event of `kind` with `fields` after its `type` and `sequence_number`.
    fn event(&mut self, kind: &str, fields: Fields<'_>, out: &mut Vec<u8>) {
        (self.write.event)(out, kind, self.seq, &fields);
        self.seq += 1;
    }

    /// A `response.*` event carrying the response as it stands.
    fn response_event(
        &mut self,
        kind: &str,
        status: &'static str,
        incomplete: Option<&'static str>,
        error: Option<ErrorOut<'_>>,
        usage: bool,
        out: &mut Vec<u8>,
    ) {
        let state = ResponseState {
            id: &self.id,
            model: &self.model,
            created_at: self.created_at,
            status,
            incomplete,
            error,
            output: Items::Indexed(&self.output),
            usage: usage.then_some(&self.usage),
            echo: &self.echo,
        };
        (self.write.event)(out, kind, self.seq, &Fields::Response(&state));
        self.seq += 1;
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        if self.id.is_empty() {
            self.id = format!("resp_sluice{:x}", crate::proxy::translate::next_response_id());
        }
        self.response_event("response.created", "in_progress", None, None, false, out);
        self.response_event("response.in_progress", "in_progress", None, None, false, out);
    }

    fn add_item(&mut self, item: &Item, out: &mut Vec<u8>) -> usize {
        let output_index = self.next_index;
        self.next_index += 1;
        self.event("response.output_item.added", Fields::Item { output_index, item }, out);
        output_index
    }

    fn done_item(&mut self, output_index: usize, item: Item, out: &mut Vec<u8>) {
        let fields = Fields::Item {
            output_index,
            item: &item,
        };
        self.event("response.output_item.done", fields, out);
        self.output.push((output_index, item));
    }

    /// Closes the open message or reasoning item.
    fn close_open(&mut self, out: &mut Vec<u8>) {
        self.close_open_as("completed", out)
    }

    /// Closes the open item with `status` (a message cut short by the token limit is
    /// `incomplete`).
    fn close_open_as(&mut self, status: &'static str, out: &mut Vec<u8>) {
        let Some((index, open)) = self.open.take() else {
            return;
        };
        match open {
            Open::Message { id, parts } => {
                if let Some(last) = parts.last() {
                    self.part_done(&id, index, parts.len() as u32 - 1, last, out);
                }
                let item = Item::Message {
                    id,
                    status,
                    content: parts,
                };
                self.done_item(index, item, out);
            }
            Open::Reasoning {
                id, text, signature, ..
            } => {
                if !text.is_empty() {
                    let at = At {
                        item_id: &id,
                        output_index: index,
                    };
                    self.event(
                        "response.reasoning_summary_text.done",
                        Fields::SummaryDone { at, text: &text },
                        out,
                    );
                    self.event(
                        "response.reasoning_summary_part.done",
                        Fields::SummaryPart { at, text: &text },
                        out,
                    );
                }
                let item = Item::Reasoning {
                    id,
                    text,
                    encrypted_content: signature,
                };
                self.done_item(index, item, out);
            }
        }
    }

    /// `response.output_text.done` (or `.refusal.done`), then `response.content_part.done`, for
    /// a message's finished part.
    fn part_done(&mut self, item_id: &str, output_index: usize, content_index: u32, part: &Content, out: &mut Vec<u8>) {
        let at = PartAt {
            item: At { item_id, output_index },
            content_index,
        };
        match part {
            Content::Text { text, logprobs } => {
                self.event(
                    "response.output_text.done",
                    Fields::TextDone { at, text, logprobs },
                    out,
                );
            }
            Content::Refusal(refusal) => {
                self.event("response.refusal.done", Fields::RefusalDone { at, refusal }, out);
            }
        }
        self.event("response.content_part.done", Fields::Part { at, part }, out);
    }

    /// Text, or with `refusal` a refusal's text, for the open message (opened here). Each run
    /// of either is one content part, as in `encode_response`.
    fn text(&mut self, text: &str, refusal: bool, out: &mut Vec<u8>) {
        let fits = matches!(&self.open, Some((_, Open::Message { parts, .. }))
            if parts.last().is_some_and(|p| p.is_refusal() == refusal));
        if !fits {
            self.new_part(refusal, out);
        }
        // The hot path: each delta written straight into `out`, borrowing the open item in
        // place (no buffer, no copy or move of its text).
        let Some((index, Open::Message { id, parts })) = &mut self.open else {
            return;
        };
        let at = PartAt {
            item: At {
                item_id: id,
                output_index: *index,
            },
            content_index: parts.len() as u32 - 1,
        };
        match parts.last_mut() {
            Some(Content::Text { text: t, logprobs }) => {
                let fields = Fields::TextDelta {
                    at,
                    delta: text,
                    logprobs: &self.logprobs,
                };
                (self.write.event)(out, "response.output_text.delta", self.seq, &fields);
                self.seq += 1;
                // The done events and the final response repeat the whole text.
                t.push_str(text);
                logprobs.append(&mut self.logprobs);
            }
            Some(Content::Refusal(r)) => {
                let fields = Fields::RefusalDelta { at, delta: text };
                (self.write.event)(out, "response.refusal.delta", self.seq, &fields);
                self.seq += 1;
                r.push_str(text);
            }
            None => {}
        }
    }

    /// Starts a content part (output text, or with `refusal` a refusal) in the open message,
    /// opening one if none is, and finishing its last part.
    fn new_part(&mut self, refusal: bool, out: &mut Vec<u8>) {
        if !matches!(self.open, Some((_, Open::Message { .. }))) {
            self.close_open(out);
            let id = item_id("msg", &self.id, self.next_index);
            let item = Item::Message {
                id: id.clone(),
                status: "in_progress",
                content: Vec::new(),
            };
            let index = self.add_item(&item, out);
            let open = Open::Message { id, parts: Vec::new() };
            self.open = Some((index, open));
        }
        // Taken out while its events are written.
        let Some((index, Open::Message { id, mut parts })) = self.open.take() else {
            return;
        };
        if let Some(last) = parts.last() {
            self.part_done(&id, index, parts.len() as u32 - 1, last, out);
        }
        let fresh = match refusal {
            true => Content::Refusal(String::new()),
            false => Content::Text {
                text: String::new(),
                logprobs: Vec::new(),
            },
        };
        let at = PartAt {
            item: At {
                item_id: &id,
                output_index: index,
            },
            content_index: parts.len() as u32,
        };
        self.event("response.content_part.added", Fields::Part { at, part: &fresh }, out);
        parts.push(fresh);
        self.open = Some((index, Open::Message { id, parts }));
    }

    fn thinking(&mut self, block: u32, text: &str, out: &mut Vec<u8>) {
        let same = matches!(&self.open, Some((_, Open::Reasoning { block: b, .. })) if *b == block);
        if !same {
            self.close_open(out);
            let id = item_id("rs", &self.id, self.next_index);
            let item = Item::Reasoning {
                id: id.clone(),
                text: String::new(),
                encrypted_content: None,
            };
            let index = self.add_item(&item, out);
            self.open = Some((
                index,
                Open::Reasoning {
                    id,
                    block,
                    text: String::new(),
                    signature: None,
                },
            ));
        }
        if text.is_empty() {
            return;
        }
        let Some((index, Open::Reasoning { id, text: sofar, .. })) = &mut self.open else {
            return;
        };
        let at = At {
            item_id: id,
            output_index: *index,
        };
        if sofar.is_empty() {
            let fields = Fields::SummaryPart { at, text: "" };
            (self.write.event)(out, "response.reasoning_summary_part.added", self.seq, &fields);
            self.seq += 1;
        }
        let fields = Fields::SummaryDelta { at, delta: text };
        (self.write.event)(out, "response.reasoning_summary_text.delta", self.seq, &fields);
        self.seq += 1;
        sofar.push_str(text);
    }

    fn call_start(&mut self, block: u32, call_id: &str, name: &str, out: &mut Vec<u8>) {
        self.close_open(out);
        let id = item_id("fc", &self.id, self.next_index);
        let item = Item::Call {
            id: id.clone(),
            status: "in_progress",
            arguments: String::new(),
            call_id: call_id.to_string(),
            name: name.to_string(),
        };
        let output_index = self.add_item(&item, out);
        self.calls.push(OpenCall {
            block,
            output_index,
            id,
            call_id: call_id.to_string(),
            name: name.to_string(),
            arguments: String::new(),
        });
    }

    fn call_delta(&mut self, block: u32, arguments: &str, out: &mut Vec<u8>) {
        // From the latest: deltas go to the newest call (a scan from the first would cost every
        // earlier call of the answer per delta).
        let Some(at) = self.calls.iter().rposition(|c| c.block == block) else {
            return;
        };
        if arguments.is_empty() {
            return;
        }
        let call = &mut self.calls[at];
        let fields = Fields::ArgumentsDelta {
            at: At {
                item_id: &call.id,
                output_index: call.output_index,
            },
            delta: arguments,
        };
        (self.write.event)(out, "response.function_call_arguments.delta", self.seq, &fields);
        self.seq += 1;
        call.arguments.push_str(arguments);
    }

    /// Closes every item still open (calls in the order they started); `status` is the open
    /// message's.
    fn close_all(&mut self, status: &'static str, out: &mut Vec<u8>) {
        self.close_open_as(status, out);
        for call in std::mem::take(&mut self.calls) {
            let at = At {
                item_id: &call.id,
                output_index: call.output_index,
            };
            let done = Fields::ArgumentsDone {
                at,
                arguments: &call.arguments,
            };
            self.event("response.function_call_arguments.done", done, out);
            let item = Item::Call {
                id: call.id,
                status: "completed",
                arguments: call.arguments,
                call_id: call.call_id,
                name: call.name,
            };
            self.done_item(call.output_index, item, out);
        }
        // Items are listed by output index (calls may have closed after a later message).
        self.output.sort_by_key(|(index, _)| *index);
    }
}

impl StreamEncode for ResponsesStreamEncoder {
    fn content_type(&self) -> &'static str {
        "text/event-stream"
    }

    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        match event {
            StreamEvent::Start { id, model } => {
                if !self.started {
                    self.id = response_id(id);
                    if !model.is_empty() {
                        self.model.clone_from(model);
                    }
                }
                self.start(out);
            }
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::Logprobs(l) => self.logprobs.extend_from_slice(l),
            StreamEvent::Refusal { index } => self.refusal_block = Some(*index),
            StreamEvent::TextDelta { index, text } => {
                self.start(out);
                self.text(text, self.refusal_block == Some(*index), out);
            }
            StreamEvent::ThinkingDelta { index, text } => {
                self.start(out);
                self.thinking(*index, text, out);
            }
            StreamEvent::ThinkingSignature { index, signature } => {
                self.start(out);
                self.thinking(*index, "", out);
                if let Some((_, Open::Reasoning { signature: s, .. })) = &mut self.open {
                    *s = Some(sig::wire(signature, Family::OpenAi).to_string());
                }
            }
            StreamEvent::RedactedThinking { data, .. } => {
                self.start(out);
                self.close_open(out);
                let id = item_id("rs", &self.id, self.next_index);
                let mut item = Item::Reasoning {
                    id,
                    text: String::new(),
                    encrypted_content: None,
                };
                let index = self.add_item(&item, out);
                if let Item::Reasoning { encrypted_content, .. } = &mut item {
                    *encrypted_content = Some(sig::wire(data, Family::OpenAi).to_string());
                }
                self.done_item(index, item, out);
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                self.start(out);
                self.call_start(*index, id, name, out);
            }
            StreamEvent::ToolCallDelta { index, arguments } => self.call_delta(*index, arguments, out),
            StreamEvent::BlockStop { index } => {
                // A reasoning block ends at its stop (its signature came before); messages and
                // calls stay open: a call's arguments may follow its stop when calls interleave.
                if matches!(&self.open, Some((_, Open::Reasoning { block, .. })) if block == index) {
                    self.close_open(out);
                }
            }
            StreamEvent::Finish { reason, .. } => self.finish = Some(reason.clone()),
            StreamEvent::Error { status, message } => self.error(*status, message, out),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        self.start(out);
        let refused = self.refusal_block.is_some();
        let (status, incomplete) = status_of(self.finish.as_ref().unwrap_or(&FinishReason::Stop), refused);
        self.close_all(
            if incomplete.is_some() {
                "incomplete"
            } else {
                "completed"
            },
            out,
        );
        let kind = if incomplete.is_some() {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.response_event(kind, status, incomplete, None, true, out);
        self.closed = true;
    }

    /// The `error` event, then `response.failed` with what was output before the failure: a
    /// client that watches either sees it, and `responses.stream()` raises for want of
    /// `response.completed`.
    fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        self.start(out);
        self.closed = true;
        let code = match FaultKind::from_status(status) {
            FaultKind::RateLimited => "rate_limit_exceeded",
            FaultKind::InvalidRequest => "invalid_prompt",
            _ => "server_error",
        };
        let error = ErrorOut { code, message };
        self.event("error", Fields::Error(error), out);
        self.response_event("response.failed", "failed", None, Some(error), true, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::stream::events_from_response;
    use crate::canonical::stream::testing::{encode_all, sample_response};
    use crate::formats::codec;

    fn decode(body: &str) -> Result<ChatRequest, ConvertError> {
        decode_request(body.as_bytes())
    }

    fn json(b: &[u8]) -> Json {
        sonic_rs::from_slice(b).unwrap()
    }

    #[test]
    fn fit_signatures_leaves_out_other_families_reasoning_and_restores_openais_own() {
        let body = br#"{"model":"openai/o4","input":[{"role":"user","content":"hi"},{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"by gemini"}],"encrypted_content":"slcGCiQB"},{"type":"reasoning","id":"rs_2","summary":[],"encrypted_content":"slcOgAAAAown"},{"type":"reasoning","id":"rs_3","summary":[],"encrypted_content":"gAAAAbare"},{"role":"user","content":"slcG is text"}],"store":false}"#;
        let v = json(&fit_signatures(body, "o4").expect("a marked body is fitted"));
        assert_eq!(v["model"].as_str(), Some("o4"));
        let input = v["input"].as_array().unwrap();
        assert_eq!(input.len(), 4, "{v:?}");
        assert_eq!(input[1]["id"].as_str(), Some("rs_2"));
        assert_eq!(input[1]["encrypted_content"].as_str(), Some("gAAAAown"));
        assert_eq!(input[2]["encrypted_content"].as_str(), Some("gAAAAbare"));
        assert_eq!(input[3]["content"].as_str(), Some("slcG is text"));
        assert_eq!(v["store"].as_bool(), Some(false));
        // Nothing marked, or a marker on no reasoning item: the bytes pass as they are.
        assert!(fit_signatures(
            br#"{"model":"m","input":[{"type":"reasoning","encrypted_content":"gAAAAx"}]}"#,
            "m"
        )
        .is_none());
        assert!(fit_signatures(br#"{"model":"m","input":"slcGx"}"#, "m").is_none());
        assert!(fit_signatures(br#"{"model":"m","input":[{"role":"user","content":"slcGx"}]}"#, "m").is_none());
    }

    #[test]
    fn input_items_become_the_conversation() {
        let r = decode(
            r#"{"model":"m","instructions":"Be brief.","max_output_tokens":50,"temperature":0.2,"top_p":0.9,"user":"u1",
            "input":[
              {"role":"developer","content":"Use metric units."},
              {"type":"message","role":"user","content":[{"type":"input_text","text":"Weather?"},{"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}]},
              {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Need the tool."}],"encrypted_content":"slcCsig=="},
              {"type":"reasoning","id":"rs_2","summary":[],"encrypted_content":"slcCopaque"},
              {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Checking.","annotations":[]}]},
              {"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
              {"type":"function_call","call_id":"call_2","name":"get_time","arguments":""},
              {"type":"function_call_output","call_id":"call_1","output":"sunny"},
              {"type":"function_call_output","call_id":"call_2","output":[{"type":"input_text","text":"noon"}]},
              {"role":"user","content":"Thanks"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(
            (
                r.model.as_str(),
                r.max_tokens,
                r.temperature,
                r.top_p,
                r.user.as_deref()
            ),
            ("m", Some(50), Some(0.2), Some(0.9), Some("u1"))
        );
        let system: Vec<&str> = r.system.iter().filter_map(Part::as_text).collect();
        // The instructions come first, as OpenAI puts them before the input.
        assert_eq!(system, ["Be brief.", "Use metric units."]);
        assert_eq!(r.messages.len(), 3, "{:?}", r.messages);
        let (user, assistant, results) = (&r.messages[0], &r.messages[1], &r.messages[2]);
        assert_eq!(user.role, Role::User);
        assert!(matches!(&user.content[..], [Part::Text { text, .. }, Part::Image { .. }] if text == "Weather?"));
        assert_eq!(assistant.role, Role::Assistant);
        match &assistant.content[..] {
            [Part::Thinking { text, signature }, Part::RedactedThinking { data }, Part::Text { text: said, .. }, Part::ToolCall {
                id: c1,
                name: n1,
                arguments: a1,
                ..
            }, Part::ToolCall {
                id: c2, arguments: a2, ..
            }] => {
                assert_eq!(
                    (text.as_str(), signature.as_deref(), data.as_str()),
                    // Claude's tokens (marked, as a Responses client got them from Claude).
                    ("Need the tool.", Some("slcCsig=="), "slcCopaque")
                );
                assert_eq!(said, "Checking.");
                assert_eq!(
                    (c1.as_str(), n1.as_str(), a1.as_str()),
                    ("call_1", "get_weather", r#"{"city":"Paris"}"#)
                );
                assert_eq!((c2.as_str(), a2.as_str()), ("call_2", ""));
            }
            other => panic!("{other:?}"),
        }
        // Results, then the user's text: one user turn; results carry their tool's name.
        assert_eq!(results.role, Role::User);
        match &results.content[..] {
            [Part::ToolResult { id, name, content, .. }, Part::ToolResult {
                name: n2, content: c2, ..
            }, Part::Text { text, .. }] => {
                assert_eq!((id.as_str(), name.as_deref()), ("call_1", Some("get_weather")));
                assert_eq!(content, &[ToolResultContent::Text("sunny".into())]);
                assert_eq!(
                    (n2.as_deref(), c2.as_slice()),
                    (Some("get_time"), &[ToolResultContent::Text("noon".into())][..])
                );
                assert_eq!(text, "Thanks");
            }
            other => panic!("{other:?}"),
        }
        // The thinking goes back to Anthropic with its signature, as a tool loop requires.
        let a = json(&(codec(Format::Anthropic).unwrap().encode_request)(&r).unwrap());
        let blocks = &a["messages"][1]["content"];
        assert_eq!(blocks[0]["type"].as_str(), Some("thinking"), "{a}");
        assert_eq!(blocks[0]["signature"].as_str(), Some("sig=="), "{a}");
        assert_eq!(blocks[1]["type"].as_str(), Some("redacted_thinking"), "{a}");
        assert_eq!(blocks[1]["data"].as_str(), Some("opaque"), "{a}");
    }

    #[test]
    fn settings_cross_as_chat_settings() {
        let body = r#"{"model":"m","input":"hi","stream":true,"store":false,"truncation":"auto","metadata":{"k":"v"},
            "tools":[{"type":"function","name":"get_weather","description":"d","parameters":{"type":"object","properties":{"city":{"type":"string"}}},"strict":true},{"type":"function","name":"bare"}],
            "tool_choice":{"type":"function","name":"get_weather"},"parallel_tool_calls":false,
            "text":{"format":{"type":"json_schema","name":"out","schema":{"type":"object"},"strict":true}},
            "reasoning":{"effort":"low","summary":"auto"},"include":["message.output_text.logprobs"],"top_logprobs":3}"#;
        let r = decode(body).unwrap();
        assert!(r.stream);
        // Nothing is kept for the upstream beyond what canonical says: the one OpenAI target of
        // this request is Chat Completions, which has no `truncation` or `text`.
        assert!(r.extra.is_empty(), "{:?}", r.extra);
        assert!(matches!(&r.messages[..], [m] if m.role == Role::User));
        assert_eq!(r.tools.len(), 2);
        assert_eq!(
            (
                r.tools[0].name.as_str(),
                r.tools[0].description.as_deref(),
                r.tools[0].strict
            ),
            ("get_weather", Some("d"), Some(true))
        );
        assert_eq!(
            r.tools[1].parameters.value(),
            sonic_rs::json!({"type": "object", "properties": {}})
        );
        assert_eq!(r.tool_choice, Some(ToolChoice::Named("get_weather".into())));
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert!(
            matches!(&r.response_format, Some(ResponseFormat::JsonSchema { name, strict: Some(true), .. }) if name == "out")
        );
        assert_eq!(r.reasoning.as_ref().and_then(|x| x.effort.as_deref()), Some("low"));
        assert_eq!(r.logprobs, Some(3));
        // The answer repeats them.
        let echo = Echo::of(&r, body.as_bytes());
        assert_eq!(echo.metadata, Some(sonic_rs::json!({"k": "v"})));
        assert_eq!(echo.truncation.as_ref().and_then(|t| t.as_str()), Some("auto"));
        assert_eq!(
            tool_choice_written(&echo),
            r#"{"type":"function","name":"get_weather"}"#
        );
        assert!(echo.tools.starts_with(br#"[{"type":"function","name":"get_weather","#));
        assert!(!echo.parallel_tool_calls);
        // No log probabilities without being asked; a plain `text` format is no format.
        let r = decode(r#"{"model":"m","input":"hi","text":{"format":{"type":"text"}}}"#).unwrap();
        assert_eq!((r.logprobs, r.response_format), (None, Some(ResponseFormat::Text)));
    }

    #[test]
    fn what_needs_openai_is_refused_by_name() {
        let cases = [
            (
                r#"{"model":"m","input":"x","previous_response_id":"resp_1"}"#,
                "previous_response_id",
                "stores none",
            ),
            (
                r#"{"model":"m","input":"x","conversation":"conv_1"}"#,
                "conversation",
                "stores none",
            ),
            (
                r#"{"model":"m","input":"x","prompt":{"id":"p"}}"#,
                "prompt",
                "stores none",
            ),
            (
                r#"{"model":"m","input":"x","background":true}"#,
                "background",
                "background",
            ),
            (
                r#"{"model":"m","input":"x","max_tool_calls":3}"#,
                "max_tool_calls",
                "built-in",
            ),
            (
                r#"{"model":"m","input":"x","tools":[{"type":"web_search"}]}"#,
                "tools[0].type",
                "web_search",
            ),
            (
                r#"{"model":"m","input":"x","tools":[{"type":"function"}]}"#,
                "tools[0].name",
                "required",
            ),
            (
                r#"{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}"#,
                "input[0].type",
                "stores none",
            ),
            (
                r#"{"model":"m","input":[{"type":"web_search_call","id":"ws"}]}"#,
                "input[0].type",
                "built-in",
            ),
            (
                r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"f"}]}]}"#,
                "input[0].content[0].file_id",
                "file_id",
            ),
            (
                r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_url":"https://x/y.pdf"}]}]}"#,
                "input[0].content[0].file_url",
                "file_data",
            ),
            (
                r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_audio"}]}]}"#,
                "input[0].content[0].type",
                "input_audio",
            ),
            (
                r#"{"model":"m","input":[{"role":"robot","content":"x"}]}"#,
                "input[0].role",
                "robot",
            ),
            (
                r#"{"model":"m","input":[{"type":"function_call","name":"f"}]}"#,
                "input[0].call_id",
                "required",
            ),
            (
                r#"{"model":"m","input":[{"type":"function_call_output","call_id":"c"}]}"#,
                "input[0].output",
                "required",
            ),
            (r#"{"model":"m","input":7}"#, "input", "string or an array"),
            (r#"{"model":"m"}"#, "input", "required"),
            (r#"{"input":"x"}"#, "model", "required"),
            (r#"{"model":"m","input":"x","top_logprobs":21}"#, "top_logprobs", "20"),
            (
                r#"{"model":"m","input":"x","tool_choice":{"type":"web_search"}}"#,
                "tool_choice",
                "function",
            ),
            (
                r#"{"model":"m","input":"x","tool_choice":{"type":"allowed_tools","mode":"none","tools":[]}}"#,
                "tool_choice.mode",
                "auto or required",
            ),
            (
                r#"{"model":"m","input":"x","tool_choice":{"type":"allowed_tools","mode":"auto","tools":[{"type":"mcp","server_label":"deepwiki"}]}}"#,
                "tool_choice.tools[0]",
                "function",
            ),
            (
                r#"{"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"allowed_tools","mode":"auto","tools":[{"type":"function","name":"g"}]}}"#,
                "tool_choice.tools",
                "\"g\"",
            ),
            (
                r#"{"model":"m","input":"x","text":{"format":{"type":"xml"}}}"#,
                "text.format.type",
                "json_schema",
            ),
            (
                r#"{"model":"m","input":"x","temperature":"hot"}"#,
                "temperature",
                "number",
            ),
            ("[1]", "", "object"),
            ("{", "", "JSON"),
        ];
        for (body, field, says) in cases {
            let e = decode(body).expect_err(body);
            assert_eq!(e.field, field, "{body}: {e}");
            assert!(e.to_string().contains(says), "{body}: {e}");
        }
        // Nulls are absent values; `background: false` and `store` change nothing here.
        decode(r#"{"model":"m","input":"x","previous_response_id":null,"background":false,"store":true}"#).unwrap();
    }

    /// `allowed_tools` is flat in the Responses API; the answer repeats it, and a Responses
    /// upstream (`chat_via_responses`) or a chat one gets it in its own form.
    #[test]
    fn allowed_tools_keep_their_form_between_chat_and_responses() {
        let body = r#"{"model":"m","input":"hi","tools":[{"type":"function","name":"a"},{"type":"function","name":"b"},
            {"type":"function","name":"c"}],"tool_choice":{"type":"allowed_tools","mode":"required",
            "tools":[{"type":"function","name":"c"},{"type":"function","name":"a"},{"type":"function","name":"c"}]}}"#;
        let r = decode(body).unwrap();
        assert_eq!(
            r.tool_choice,
            Some(ToolChoice::Allowed {
                names: vec!["c".into(), "a".into()],
                required: true
            })
        );
        let flat = sonic_rs::json!({"type": "allowed_tools", "mode": "required",
            "tools": [{"type": "function", "name": "c"}, {"type": "function", "name": "a"}]});
        let echo = Echo::of(&r, body.as_bytes());
        assert_eq!(json(tool_choice_written(&echo).as_bytes()), flat);
        let up = json(&super::super::responses_upstream::encode_request(&r).unwrap());
        assert_eq!(up["tool_choice"], flat);
        assert_eq!(
            up["tools"].as_array().map(|t| t.len()),
            Some(3),
            "every tool stays declared"
        );
        let chat = json(&super::super::request::encode_request(&r).unwrap());
        assert_eq!(
            chat["tool_choice"],
            sonic_rs::json!({"type": "allowed_tools", "allowed_tools": {"mode": "required",
                "tools": [{"type": "function", "function": {"name": "c"}}, {"type": "function", "function": {"name": "a"}}]}})
        );
        assert_eq!(chat["tools"].as_array().map(|t| t.len()), Some(3));
        // And back: a chat client's choice reaches a Responses upstream flat.
        let back = super::super::request::decode_request(&sonic_rs::to_vec(&chat).unwrap(), None, false).unwrap();
        assert_eq!(back.tool_choice, r.tool_choice);
    }

    fn tool_choice_written(echo: &Echo) -> String {
        let mut b = Vec::new();
        direct::tool_choice(&mut b, &echo.tool_choice);
        String::from_utf8(b).unwrap()
    }

    fn echo() -> Echo {
        let body = r#"{"model":"m","input":"x","instructions":"Be brief."}"#;
        Echo::of(&decode(body).unwrap(), body.as_bytes())
    }

    #[test]
    fn the_answer_is_a_response_object() {
        let resp = sample_response();
        let v = json(&encode_response(&resp, &echo()));
        assert_eq!(
            (
                v["object"].as_str(),
                v["id"].as_str(),
                v["model"].as_str(),
                v["status"].as_str()
            ),
            (Some("response"), Some("resp_1"), Some("m-1"), Some("completed")),
            "{v}"
        );
        assert_eq!(v["instructions"].as_str(), Some("Be brief."));
        let out = v["output"].as_array().unwrap();
        let kinds: Vec<&str> = out.iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["reasoning", "message", "function_call", "function_call"], "{v}");
        assert_eq!(out[0]["summary"][0]["text"].as_str(), Some("let me think"));
        assert_eq!(out[0]["encrypted_content"].as_str(), Some("sig=="));
        assert_eq!(
            out[1]["content"][0]["text"].as_str(),
            Some("héllo \u{2028} \"wörld\"\n")
        );
        assert_eq!(out[1]["role"].as_str(), Some("assistant"));
        assert_eq!(
            (
                out[2]["call_id"].as_str(),
                out[2]["name"].as_str(),
                out[2]["arguments"].as_str()
            ),
            (Some("call_1"), Some("get_weather"), Some(r#"{"city":"Paris"}"#))
        );
        let ids: std::collections::HashSet<&str> = out.iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 4, "item ids are distinct");
        let u = &v["usage"];
        assert_eq!(
            (
                u["input_tokens"].as_u64(),
                u["output_tokens"].as_u64(),
                u["total_tokens"].as_u64()
            ),
            (Some(12), Some(7), Some(19))
        );
        assert_eq!(u["input_tokens_details"]["cached_tokens"].as_u64(), Some(0));
        for (finish, status, reason) in [
            (FinishReason::Length, "incomplete", Some("max_output_tokens")),
            (FinishReason::ContentFilter, "incomplete", Some("content_filter")),
            (FinishReason::StopSequence, "completed", None),
        ] {
            let mut r = sample_response();
            r.finish = finish;
            let v = json(&encode_response(&r, &echo()));
            assert_eq!(v["status"].as_str(), Some(status));
            assert_eq!(v["incomplete_details"]["reason"].as_str(), reason, "{v}");
        }
    }

    #[test]
    fn the_wire_keeps_openais_key_order() {
        let v = String::from_utf8(encode_response(&sample_response(), &echo())).unwrap();
        assert!(
            v.starts_with(
                r#"{"id":"resp_1","object":"response","created_at":0,"status":"completed","background":false,"#
            ),
            "{v}"
        );
        assert!(v.contains(r#"{"id":"msg_1_1","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":"#), "{v}");
        assert!(v.contains(r#"{"id":"fc_1_2","type":"function_call","status":"completed","arguments":"{\"city\":\"Paris\"}","call_id":"call_1","name":"get_weather"}"#), "{v}");
        assert!(v.ends_with(r#""user":null,"metadata":{}}"#), "{v}");
        // Every event opens with its type and sequence number.
        let out = String::from_utf8(encode_all(
            &mut ResponsesStreamEncoder::new(&ChatRequest::default(), b"{}"),
            &events_from_response(&sample_response(), 2),
        ))
        .unwrap();
        for (n, frame) in out.split_terminator("\n\n").enumerate() {
            let (head, data) = frame.split_once('\n').unwrap();
            let kind = head.strip_prefix("event: ").unwrap();
            let opening = format!(r#"data: {{"type":"{kind}","sequence_number":{n},"#);
            assert!(data.starts_with(&opening), "{frame}");
        }
    }

    /// (type, data) of every event; asserts the SSE form and the sequence numbers.
    fn events(out: &[u8]) -> Vec<(String, Json)> {
        let text = std::str::from_utf8(out).unwrap();
        assert!(!text.contains("[DONE]"), "{text}");
        let mut all = Vec::new();
        for frame in text.split("\n\n").filter(|f| !f.is_empty()) {
            let (head, data) = frame.split_once('\n').unwrap();
            let kind = head.strip_prefix("event: ").unwrap();
            let data = json(data.strip_prefix("data: ").unwrap().as_bytes());
            assert_eq!(data["type"].as_str(), Some(kind), "{frame}");
            assert_eq!(data["sequence_number"].as_u64(), Some(all.len() as u64), "{frame}");
            all.push((kind.to_string(), data));
        }
        all
    }

    fn stream(resp: &ChatResponse, pieces: usize) -> Vec<(String, Json)> {
        let body = r#"{"model":"m","input":"x","instructions":"Be brief.","stream":true}"#;
        let req = decode(body).unwrap();
        let mut enc =
            crate::canonical::stream::ArgumentsNeverEmpty::new(ResponsesStreamEncoder::new(&req, body.as_bytes()));
        events(&encode_all(&mut enc, &events_from_response(resp, pieces)))
    }

    #[test]
    fn a_refusal_streams_as_a_refusal_part_as_answered() {
        // Text, then a refusal: one message with an `output_text` and a `refusal` part, as the
        // unary answer has them; the refusal's events are OpenAI's own.
        let resp = ChatResponse {
            content: vec![Part::text("Well."), Part::refusal("I can't.")],
            finish: FinishReason::ContentFilter,
            ..sample_response()
        };
        let evs = stream(&resp, 2);
        let kinds: Vec<&str> = evs.iter().map(|(k, _)| k.as_str()).collect();
        let refusal: Vec<&str> = evs
            .iter()
            .filter(|(k, _)| k == "response.refusal.delta")
            .map(|(_, d)| d["delta"].as_str().unwrap())
            .collect();
        assert_eq!(refusal.concat(), "I can't.");
        assert!(evs
            .iter()
            .all(|(k, d)| !k.starts_with("response.refusal") || d["content_index"].as_u64() == Some(1)));
        assert!(kinds.contains(&"response.refusal.done"), "{kinds:?}");
        let last = &evs.last().unwrap().1["response"];
        assert_eq!(last["status"].as_str(), Some("completed"), "OpenAI's refusals complete");
        let answered = json(&encode_response(&resp, &echo()));
        assert_eq!(last["output"][0]["content"], answered["output"][0]["content"]);
        assert_eq!(answered["output"][0]["content"][1]["type"].as_str(), Some("refusal"));
        assert_eq!(answered["status"].as_str(), Some("completed"));
    }

    #[test]
    fn a_stream_announces_fills_and_closes_every_item_then_completes() {
        let resp = sample_response();
        let evs = stream(&resp, 3);
        let kinds: Vec<&str> = evs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(&kinds[..2], ["response.created", "response.in_progress"]);
        assert_eq!(kinds.last(), Some(&"response.completed"));
        let id = evs[0].1["response"]["id"].as_str().unwrap().to_string();
        assert_eq!(evs.last().unwrap().1["response"]["id"].as_str(), Some(id.as_str()));
        assert_eq!(evs[0].1["response"]["status"].as_str(), Some("in_progress"));
        // Every delta comes after its item's `added` and before its `done`.
        let mut added = std::collections::HashSet::new();
        let mut done = std::collections::HashSet::new();
        let (mut text, mut summary, mut args) = (String::new(), String::new(), std::collections::HashMap::new());
        for (kind, d) in &evs {
            let index = d["output_index"].as_u64();
            match kind.as_str() {
                "response.output_item.added" => assert!(added.insert(index.unwrap()), "{d}"),
                "response.output_item.done" => assert!(done.insert(index.unwrap()), "{d}"),
                k if k.ends_with(".delta") => {
                    let i = index.unwrap();
                    assert!(added.contains(&i) && !done.contains(&i), "{kind} {d}");
                    let delta = d["delta"].as_str().unwrap();
                    match k {
                        "response.output_text.delta" => text.push_str(delta),
                        "response.reasoning_summary_text.delta" => summary.push_str(delta),
                        _ => args.entry(i).or_insert_with(String::new).push_str(delta),
                    }
                }
                _ => {}
            }
        }
        assert_eq!(added, done);
        assert_eq!(text, "héllo \u{2028} \"wörld\"\n");
        assert_eq!(summary, "let me think");
        let mut args: Vec<String> = args.into_values().collect();
        args.sort();
        assert_eq!(args, [r#"{"city":"Paris"}"#, r#"{"tz":"CET","n":[1,2]}"#]);
        // The final response is the non-stream answer.
        let fin = &evs.last().unwrap().1["response"];
        let whole = json(&encode_response(&resp, &echo()));
        assert_eq!(fin["output"], whole["output"], "{fin}");
        assert_eq!(fin["usage"], whole["usage"]);
        assert_eq!(fin["instructions"].as_str(), Some("Be brief."));
    }

    #[test]
    fn consecutive_texts_are_one_part_as_when_streamed() {
        // Gemini answers in several text parts; a stream runs them into one `output_text`, so
        // the answer does too, and `get_final_response()` equals the unstreamed answer.
        let mut resp = sample_response();
        resp.content = vec![Part::text("Hello "), Part::text("world")];
        resp.finish = FinishReason::Stop;
        let whole = json(&encode_response(&resp, &echo()));
        assert_eq!(whole["output"][0]["content"][0]["text"].as_str(), Some("Hello world"));
        let fin = stream(&resp, 2).pop().unwrap().1;
        assert_eq!(fin["response"]["output"], whole["output"], "{whole}");
    }

    #[test]
    fn a_cut_stream_is_incomplete_and_a_failure_is_an_error_then_failed() {
        let mut resp = crate::canonical::stream::testing::text_answer(Usage::default());
        resp.finish = FinishReason::Length;
        let evs = stream(&resp, 2);
        let (kind, last) = evs.last().unwrap();
        assert_eq!(kind, "response.incomplete");
        assert_eq!(
            last["response"]["incomplete_details"]["reason"].as_str(),
            Some("max_output_tokens")
        );
        // The message it was writing is incomplete too, streamed or not.
        assert_eq!(
            last["response"]["output"][0]["status"].as_str(),
            Some("incomplete"),
            "{last}"
        );
        let whole = json(&encode_response(&resp, &echo()));
        assert_eq!(whole["output"], last["response"]["output"]);

        let req = decode(r#"{"model":"m","input":"x"}"#).unwrap();
        let mut enc = ResponsesStreamEncoder::new(&req, b"{}");
        let mut out = Vec::new();
        let start = StreamEvent::Start {
            id: "r".into(),
            model: "m".into(),
        };
        enc.encode(&start, &mut out);
        enc.encode(
            &StreamEvent::TextDelta {
                index: 0,
                text: "half".into(),
            },
            &mut out,
        );
        enc.error(429, "slow down", &mut out);
        enc.finish(&mut out);
        let evs = events(&out);
        let kinds: Vec<&str> = evs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds[kinds.len() - 2..], ["error", "response.failed"]);
        let (_, e) = &evs[evs.len() - 2];
        assert_eq!(
            (e["code"].as_str(), e["message"].as_str()),
            (Some("rate_limit_exceeded"), Some("slow down"))
        );
        let failed = &evs.last().unwrap().1["response"];
        assert_eq!(failed["status"].as_str(), Some("failed"));
        assert_eq!(failed["error"]["message"].as_str(), Some("slow down"));
        assert_eq!(failed["id"].as_str(), Some("resp_r"));
    }

    #[test]
    fn interleaved_calls_keep_their_arguments() {
        let req = decode(r#"{"model":"m","input":"x"}"#).unwrap();
        let mut enc = crate::canonical::stream::ArgumentsNeverEmpty::new(ResponsesStreamEncoder::new(&req, b"{}"));
        let ev = [
            StreamEvent::ToolCallStart {
                index: 0,
                id: "c0".into(),
                name: "a".into(),
            },
            StreamEvent::ToolCallStart {
                index: 1,
                id: "c1".into(),
                name: "b".into(),
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::ToolCallDelta {
                index: 1,
                arguments: "{\"x\":".into(),
            },
            StreamEvent::ToolCallDelta {
                index: 0,
                arguments: "{}".into(),
            },
            StreamEvent::ToolCallDelta {
                index: 1,
                arguments: "1}".into(),
            },
            StreamEvent::ToolCallStart {
                index: 2,
                id: "c2".into(),
                name: "c".into(),
            },
            StreamEvent::Finish {
                reason: FinishReason::ToolCalls,
                stop_sequence: None,
            },
        ];
        let evs = events(&encode_all(&mut enc, &ev));
        let fin = &evs.last().unwrap().1["response"]["output"];
        let calls: Vec<(&str, &str)> = fin
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["call_id"].as_str().unwrap(), i["arguments"].as_str().unwrap()))
            .collect();
        assert_eq!(calls, [("c0", "{}"), ("c1", "{\"x\":1}"), ("c2", "{}")]);
    }

    /// The serde types the byte writer replaced, as they were: the tests hold the writer to
    /// their bytes.
    mod reference {
        // `tool_choice` had the shape the Responses request writer still uses.
        use super::super::super::responses_upstream::{FunctionRefOut as FunctionRef, ToolChoiceOut};
        use super::super::super::types::OpenAiTokensOut;
        use super::super::{Content, ErrorOut, Fields, Item, Items, ResponseState, ToolChoiceEcho, Write};
        use crate::canonical::{Json, Tool, Usage};
        use serde::Serialize;

        pub(crate) const WRITE: Write = Write { response, event };

        /// The echo's `tools` as serde wrote them from the request's.
        pub(crate) fn tools(tools: &[Tool]) -> Vec<u8> {
            let out: Vec<ToolOut<'_>> = tools
                .iter()
                .map(|t| ToolOut {
                    kind: "function",
                    name: &t.name,
                    description: t.description.as_deref(),
                    parameters: &t.parameters,
                    strict: t.strict,
                })
                .collect();
            sonic_rs::to_vec(&out).unwrap()
        }

        #[derive(Serialize)]
        struct ToolOut<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            name: &'a str,
            description: Option<&'a str>,
            parameters: &'a crate::canonical::Schema,
            strict: Option<bool>,
        }

        #[derive(Serialize)]
        struct CachedTokens {
            cached_tokens: u64,
            cache_write_tokens: u64,
        }

        #[derive(Serialize)]
        struct ReasoningTokens {
            reasoning_tokens: u64,
        }

        #[derive(Serialize)]
        struct UsageOut {
            input_tokens: u64,
            input_tokens_details: CachedTokens,
            output_tokens: u64,
            output_tokens_details: ReasoningTokens,
            total_tokens: u64,
        }

        fn usage_out(u: &Usage) -> UsageOut {
            UsageOut {
                input_tokens: u.input,
                input_tokens_details: CachedTokens {
                    cached_tokens: u.cache_read,
                    cache_write_tokens: u.cache_write,
                },
                output_tokens: u.output,
                output_tokens_details: ReasoningTokens {
                    reasoning_tokens: u.reasoning,
                },
                total_tokens: u.input.saturating_add(u.output),
            }
        }

        #[derive(Serialize)]
        struct ErrorRef<'a> {
            code: &'a str,
            message: &'a str,
        }

        #[derive(Serialize)]
        struct Incomplete<'a> {
            reason: &'a str,
        }

        #[derive(Serialize)]
        struct ReasoningEcho<'a> {
            effort: Option<&'a str>,
            summary: Option<()>,
        }

        #[derive(Serialize)]
        struct TextEcho {
            format: TextFormatEcho,
        }

        #[derive(Serialize)]
        struct TextFormatEcho {
            #[serde(rename = "type")]
            kind: &'static str,
        }

        #[derive(Serialize)]
        #[serde(untagged)]
        enum Or<'a, D: Serialize> {
            Sent(&'a Json),
            Default(D),
        }

        fn or<D: Serialize>(sent: &Option<Json>, default: D) -> Or<'_, D> {
            match sent {
                Some(v) => Or::Sent(v),
                None => Or::Default(default),
            }
        }

        #[derive(Serialize)]
        struct Empty {}

        struct ItemsOut<'a>(Items<'a>);

        impl Serialize for ItemsOut<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut all = Vec::new();
                self.0.each(|i| all.push(ItemOut(i)));
                s.collect_seq(all)
            }
        }

        #[derive(Serialize)]
        struct ResponseOut<'a> {
            id: &'a str,
            object: &'static str,
            created_at: u64,
            status: &'a str,
            background: bool,
            error: Option<ErrorRef<'a>>,
            incomplete_details: Option<Incomplete<'a>>,
            instructions: Option<&'a Json>,
            max_output_tokens: Option<u32>,
            max_tool_calls: Option<()>,
            model: &'a str,
            output: ItemsOut<'a>,
            parallel_tool_calls: bool,
            previous_response_id: Option<()>,
            reasoning: ReasoningEcho<'a>,
            service_tier: Or<'a, &'static str>,
            store: bool,
            temperature: f64,
            text: Or<'a, TextEcho>,
            tool_choice: ToolChoiceOut<'a>,
            /// Written once by `Echo::of`, and held to serde's bytes by the tests on their own.
            tools: sonic_rs::LazyValue<'a>,
            top_logprobs: u32,
            top_p: f64,
            truncation: Or<'a, &'static str>,
            usage: Option<UsageOut>,
            user: Option<&'a str>,
            metadata: Or<'a, Empty>,
        }

        fn response_out<'a>(r: &ResponseState<'a>) -> ResponseOut<'a> {
            let echo = r.echo;
            ResponseOut {
                id: r.id,
                object: "response",
                created_at: r.created_at,
                status: r.status,
                background: false,
                error: r.error.map(|ErrorOut { code, message }| ErrorRef { code, message }),
                incomplete_details: r.incomplete.map(|reason| Incomplete { reason }),
                instructions: echo.instructions.as_ref(),
                max_output_tokens: echo.max_output_tokens,
                max_tool_calls: None,
                model: r.model,
                output: ItemsOut(r.output),
                parallel_tool_calls: echo.parallel_tool_calls,
                previous_response_id: None,
                reasoning: ReasoningEcho {
                    effort: echo.reasoning_effort.as_deref(),
                    summary: None,
                },
                service_tier: or(&echo.service_tier, "default"),
                store: false,
                temperature: echo.temperature,
                text: or(
                    &echo.text,
                    TextEcho {
                        format: TextFormatEcho { kind: "text" },
                    },
                ),
                tool_choice: match &echo.tool_choice {
                    ToolChoiceEcho::Mode(m) => ToolChoiceOut::Mode(m),
                    ToolChoiceEcho::Function(name) => ToolChoiceOut::Named { kind: "function", name },
                    ToolChoiceEcho::Allowed { mode, names } => ToolChoiceOut::Allowed {
                        kind: "allowed_tools",
                        mode,
                        tools: names
                            .iter()
                            .map(|name| FunctionRef { kind: "function", name })
                            .collect(),
                    },
                },
                tools: sonic_rs::from_slice(&echo.tools).unwrap(),
                top_logprobs: echo.top_logprobs,
                top_p: echo.top_p,
                truncation: or(&echo.truncation, "disabled"),
                usage: r.usage.map(usage_out),
                user: echo.user.as_deref(),
                metadata: or(&echo.metadata, Empty {}),
            }
        }

        struct ContentOut<'a>(&'a Content);

        impl Serialize for ContentOut<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                match self.0 {
                    Content::Text { text, logprobs } => {
                        let mut st = s.serialize_struct("output_text", 4)?;
                        st.serialize_field("type", "output_text")?;
                        st.serialize_field("annotations", &[(); 0])?;
                        st.serialize_field("logprobs", &OpenAiTokensOut(logprobs))?;
                        st.serialize_field("text", text)?;
                        st.end()
                    }
                    Content::Refusal(refusal) => {
                        let mut st = s.serialize_struct("refusal", 2)?;
                        st.serialize_field("type", "refusal")?;
                        st.serialize_field("refusal", refusal)?;
                        st.end()
                    }
                }
            }
        }

        #[derive(Serialize)]
        struct SummaryText<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            text: &'a str,
        }

        fn summary_text(text: &str) -> SummaryText<'_> {
            SummaryText {
                kind: "summary_text",
                text,
            }
        }

        struct ItemOut<'a>(&'a Item);

        impl Serialize for ItemOut<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                match self.0 {
                    Item::Message { id, status, content } => {
                        let mut st = s.serialize_struct("message", 5)?;
                        st.serialize_field("id", id)?;
                        st.serialize_field("type", "message")?;
                        st.serialize_field("status", status)?;
                        let content: Vec<ContentOut<'_>> = content.iter().map(ContentOut).collect();
                        st.serialize_field("content", &content)?;
                        st.serialize_field("role", "assistant")?;
                        st.end()
                    }
                    Item::Call {
                        id,
                        status,
                        arguments,
                        call_id,
                        name,
                    } => {
                        let mut st = s.serialize_struct("function_call", 6)?;
                        st.serialize_field("id", id)?;
                        st.serialize_field("type", "function_call")?;
                        st.serialize_field("status", status)?;
                        st.serialize_field("arguments", arguments)?;
                        st.serialize_field("call_id", call_id)?;
                        st.serialize_field("name", name)?;
                        st.end()
                    }
                    Item::Reasoning {
                        id,
                        text,
                        encrypted_content,
                    } => {
                        let mut st = s.serialize_struct("reasoning", 4)?;
                        st.serialize_field("id", id)?;
                        st.serialize_field("type", "reasoning")?;
                        let summary: &[SummaryText<'_>] = if text.is_empty() { &[] } else { &[summary_text(text)] };
                        st.serialize_field("summary", summary)?;
                        st.serialize_field("encrypted_content", encrypted_content)?;
                        st.end()
                    }
                }
            }
        }

        fn response(out: &mut Vec<u8>, r: &ResponseState<'_>) {
            sonic_rs::to_writer(&mut *out, &response_out(r)).unwrap();
        }

        /// One event: `type` and `sequence_number`, then its own fields.
        #[derive(Serialize)]
        struct Event<'a, F: Serialize> {
            #[serde(rename = "type")]
            kind: &'a str,
            sequence_number: u64,
            #[serde(flatten)]
            fields: F,
        }

        #[derive(Serialize)]
        struct ResponseFields<'a> {
            response: ResponseOut<'a>,
        }

        #[derive(Serialize)]
        struct ItemFields<'a> {
            output_index: usize,
            item: ItemOut<'a>,
        }

        #[derive(Serialize)]
        struct PartFields<'a> {
            item_id: &'a str,
            output_index: usize,
            content_index: u32,
            part: ContentOut<'a>,
        }

        #[derive(Serialize, Clone, Copy)]
        struct PartAt<'a> {
            item_id: &'a str,
            output_index: usize,
            content_index: u32,
        }

        #[derive(Serialize)]
        struct RefusalDeltaFields<'a> {
            #[serde(flatten)]
            at: PartAt<'a>,
            delta: &'a str,
        }

        #[derive(Serialize)]
        struct RefusalDoneFields<'a> {
            #[serde(flatten)]
            at: PartAt<'a>,
            refusal: &'a str,
        }

        #[derive(Serialize)]
        struct TextDoneFields<'a> {
            #[serde(flatten)]
            at: PartAt<'a>,
            text: &'a str,
            logprobs: OpenAiTokensOut<'a>,
        }

        #[derive(Serialize)]
        struct SummaryPartFields<'a> {
            item_id: &'a str,
            output_index: usize,
            summary_index: u32,
            part: SummaryText<'a>,
        }

        #[derive(Serialize)]
        struct SummaryDoneFields<'a> {
            item_id: &'a str,
            output_index: usize,
            summary_index: u32,
            text: &'a str,
        }

        #[derive(Serialize)]
        struct ArgumentsDoneFields<'a> {
            item_id: &'a str,
            output_index: usize,
            arguments: &'a str,
        }

        #[derive(Serialize)]
        struct ErrorFields<'a> {
            code: &'a str,
            message: &'a str,
            param: Option<()>,
        }

        #[derive(Serialize)]
        struct TextDelta<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            sequence_number: u64,
            item_id: &'a str,
            output_index: usize,
            content_index: u32,
            delta: &'a str,
            logprobs: OpenAiTokensOut<'a>,
        }

        #[derive(Serialize)]
        struct ArgumentsDelta<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            sequence_number: u64,
            item_id: &'a str,
            output_index: usize,
            delta: &'a str,
        }

        #[derive(Serialize)]
        struct SummaryDelta<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            sequence_number: u64,
            item_id: &'a str,
            output_index: usize,
            summary_index: u32,
            delta: &'a str,
        }

        fn write_event(kind: &str, data: &impl Serialize, out: &mut Vec<u8>) {
            out.extend_from_slice(b"event: ");
            out.extend_from_slice(kind.as_bytes());
            out.extend_from_slice(b"\ndata: ");
            sonic_rs::to_writer(&mut *out, data).unwrap();
            out.extend_from_slice(b"\n\n");
        }

        fn flat<F: Serialize>(out: &mut Vec<u8>, kind: &str, sequence_number: u64, fields: F) {
            let e = Event {
                kind,
                sequence_number,
                fields,
            };
            write_event(kind, &e, out);
        }

        fn event(out: &mut Vec<u8>, kind: &'_ str, seq: u64, fields: &Fields<'_>) {
            fn part_at(at: super::super::PartAt<'_>) -> PartAt<'_> {
                PartAt {
                    item_id: at.item.item_id,
                    output_index: at.item.output_index,
                    content_index: at.content_index,
                }
            }
            // The delta structs carried their own `type` (the hot path skipped `flatten`).
            let static_kind = match kind {
                "response.output_text.delta" => "response.output_text.delta",
                "response.function_call_arguments.delta" => "response.function_call_arguments.delta",
                "response.reasoning_summary_text.delta" => "response.reasoning_summary_text.delta",
                _ => "",
            };
            match *fields {
                Fields::Response(r) => flat(
                    out,
                    kind,
                    seq,
                    ResponseFields {
                        response: response_out(r),
                    },
                ),
                Fields::Item { output_index, item } => flat(
                    out,
                    kind,
                    seq,
                    ItemFields {
                        output_index,
                        item: ItemOut(item),
                    },
                ),
                Fields::Part { at, part } => flat(
                    out,
                    kind,
                    seq,
                    PartFields {
                        item_id: at.item.item_id,
                        output_index: at.item.output_index,
                        content_index: at.content_index,
                        part: ContentOut(part),
                    },
                ),
                Fields::TextDelta { at, delta, logprobs } => {
                    let d = TextDelta {
                        kind: static_kind,
                        sequence_number: seq,
                        item_id: at.item.item_id,
                        output_index: at.item.output_index,
                        content_index: at.content_index,
                        delta,
                        logprobs: OpenAiTokensOut(logprobs),
                    };
                    write_event(kind, &d, out)
                }
                Fields::TextDone { at, text, logprobs } => {
                    let logprobs = OpenAiTokensOut(logprobs);
                    let at = part_at(at);
                    flat(out, kind, seq, TextDoneFields { at, text, logprobs })
                }
                Fields::RefusalDelta { at, delta } => {
                    let at = part_at(at);
                    flat(out, kind, seq, RefusalDeltaFields { at, delta })
                }
                Fields::RefusalDone { at, refusal } => {
                    let at = part_at(at);
                    flat(out, kind, seq, RefusalDoneFields { at, refusal })
                }
                Fields::SummaryPart { at, text } => {
                    let f = SummaryPartFields {
                        item_id: at.item_id,
                        output_index: at.output_index,
                        summary_index: 0,
                        part: summary_text(text),
                    };
                    flat(out, kind, seq, f)
                }
                Fields::SummaryDelta { at, delta } => {
                    let d = SummaryDelta {
                        kind: static_kind,
                        sequence_number: seq,
                        item_id: at.item_id,
                        output_index: at.output_index,
                        summary_index: 0,
                        delta,
                    };
                    write_event(kind, &d, out)
                }
                Fields::SummaryDone { at, text } => {
                    let f = SummaryDoneFields {
                        item_id: at.item_id,
                        output_index: at.output_index,
                        summary_index: 0,
                        text,
                    };
                    flat(out, kind, seq, f)
                }
                Fields::ArgumentsDelta { at, delta } => {
                    let d = ArgumentsDelta {
                        kind: static_kind,
                        sequence_number: seq,
                        item_id: at.item_id,
                        output_index: at.output_index,
                        delta,
                    };
                    write_event(kind, &d, out)
                }
                Fields::ArgumentsDone { at, arguments } => {
                    let f = ArgumentsDoneFields {
                        item_id: at.item_id,
                        output_index: at.output_index,
                        arguments,
                    };
                    flat(out, kind, seq, f)
                }
                Fields::Error(ErrorOut { code, message }) => {
                    let f = ErrorFields {
                        code,
                        message,
                        param: None,
                    };
                    flat(out, kind, seq, f)
                }
            }
        }
    }

    /// Requests whose echoes cover every repeated setting: none sent, each tool choice, and
    /// every setting sent (text format, metadata, truncation, service tier, user, effort, ...).
    fn echo_bodies() -> Vec<String> {
        let tools = r#"[{"type":"function","name":"get_weather","description":"Weather \"now\"","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true},{"type":"function","name":"get_time","parameters":{"type":"object"}}]"#;
        let mut bodies = vec![
            r#"{"model":"m","input":"x"}"#.to_string(),
            r#"{"model":"m","input":"x","instructions":"Be brief.\u2028"}"#.to_string(),
        ];
        for choice in [
            r#""auto""#,
            r#""none""#,
            r#""required""#,
            r#"{"type":"function","name":"get_weather"}"#,
            r#"{"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"get_weather"},{"type":"function","name":"get_time"}]}"#,
            r#"{"type":"allowed_tools","mode":"auto","tools":[{"type":"function","name":"get_time"}]}"#,
        ] {
            bodies.push(format!(
                r#"{{"model":"m","input":"x","tools":{tools},"tool_choice":{choice}}}"#
            ));
        }
        bodies.push(format!(
            r#"{{"model":"m","input":"x","tools":{tools},"parallel_tool_calls":false,"temperature":0.35,"top_p":0.9,"max_output_tokens":512,"top_logprobs":3,"include":["message.output_text.logprobs"],"reasoning":{{"effort":"high"}},"text":{{"format":{{"type":"json_schema","name":"out","schema":{{"type":"object","properties":{{}}}},"strict":true}}}},"metadata":{{"k":"v","a":"é"}},"truncation":"auto","service_tier":"flex","user":"u-\"1\"","instructions":"Be \"brief\"\u0001"}}"#
        ));
        bodies
    }

    fn echoes() -> Vec<(String, Echo)> {
        echo_bodies()
            .into_iter()
            .map(|body| {
                let req = decode(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
                let echo = Echo::of(&req, body.as_bytes());
                (body, echo)
            })
            .collect()
    }

    /// Answers with every item and part kind: the sample (reasoning, text, calls), refusals
    /// between texts, log probabilities, a redacted block, each way of stopping, cached and
    /// reasoning tokens, and no content at all.
    fn answers() -> Vec<ChatResponse> {
        let mut all = vec![sample_response()];
        let mut r = sample_response();
        r.content = vec![
            Part::text("a \"quoted\"\n"),
            Part::text("ü 😀"),
            Part::refusal("no"),
            Part::refusal(" thanks"),
            Part::text("after"),
            Part::RedactedThinking {
                data: "opaque==".into(),
            },
            Part::Thinking {
                text: String::new(),
                signature: None,
            },
        ];
        r.logprobs = vec![TokenLogprob {
            token: "a".into(),
            logprob: -0.25,
            top: vec![("a".into(), -0.25), ("b".into(), f64::NEG_INFINITY)],
        }];
        r.usage = Usage {
            input: 10,
            output: 5,
            cache_read: 3,
            cache_write: 1,
            reasoning: 2,
        };
        for finish in [
            FinishReason::Stop,
            FinishReason::Length,
            FinishReason::ContentFilter,
            FinishReason::Other("weird".into()),
        ] {
            all.push(ChatResponse { finish, ..r.clone() });
        }
        all.push(ChatResponse {
            id: "\"odd\" id".into(),
            content: Vec::new(),
            ..r
        });
        all
    }

    fn same(written: &[u8], serialized: &[u8], what: &str) {
        crate::formats::write::same_bytes(written, serialized, what);
    }

    /// One pass gives what the decoder and `Echo::of` give apart: the test requests, bodies
    /// with duplicate and null settings, every fixture, and the same error for a refused body.
    #[test]
    fn the_echo_read_with_the_request_is_the_echo_read_after_it() {
        let mut bodies = echo_bodies();
        bodies.extend([
            r#"{"model":"m","input":"x","metadata":{"a":1},"metadata":{"b":2.5},"truncation":"auto","truncation":null}"#.into(),
            r#"{"model":"m","input":"x","text":null,"service_tier":"flex","instructions":"a","instructions":"b"}"#.into(),
            r#"{"model":"m","input":"x","text":{"format":{"type":"text"},"verbosity":"low"},"metadata":null}"#.into(),
            r#"{"model":"m","input":"x","previous_response_id":"resp_1"}"#.into(),
            r#"{"model":"m","input":"x","metadata":{"k":"v"},"tool_choice":"sometimes"}"#.into(),
        ]);
        // Whether `body` decoded.
        let check = |body: &[u8], what: &str| match (decode_request(body), decode_request_and_echo(body)) {
            (Ok(req), Ok((same_req, echo))) => {
                assert_eq!(format!("{req:?}"), format!("{same_req:?}"), "{what}");
                assert_eq!(echo, Echo::of(&req, body), "{what}");
                true
            }
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string(), "{what}");
                false
            }
            (a, b) => panic!("{what}: {:?} / {:?}", a.is_ok(), b.is_ok()),
        };
        let decoded = bodies.iter().filter(|body| check(body.as_bytes(), body)).count();
        assert_eq!(decoded, bodies.len() - 2, "all but the last two decode");
        // Every fixture request as a Responses body (what a Responses-kind upstream is sent).
        let mut fixtures = 0;
        let mut as_responses = |req: &ChatRequest, what: &str| {
            if let Ok(body) = super::super::responses_upstream::encode_request(req) {
                fixtures += usize::from(check(&body, what));
            }
        };
        crate::formats::write::for_each_fixture_decoded("gpt-x", &mut as_responses, &mut |_, _| ());
        for (what, req) in crate::formats::write::request_variants() {
            as_responses(&req, what);
        }
        assert!(fixtures > 20, "only {fixtures} fixture requests decoded");
    }

    /// The echoed tools of every test request and every fixture request.
    #[test]
    fn tools_writer_matches_serde() {
        let mut n = 0;
        let mut check = |req: &ChatRequest, what: &str| {
            let echo = Echo::of(req, b"{}");
            same(&echo.tools, &reference::tools(&req.tools), what);
            n += usize::from(!req.tools.is_empty());
        };
        for body in echo_bodies() {
            check(&decode(&body).unwrap(), &body);
        }
        for (what, req) in crate::formats::write::request_variants() {
            check(&req, what);
        }
        crate::formats::write::for_each_fixture_decoded("gpt-x", &mut check, &mut |_, _| ());
        assert!(n > 10, "only {n} requests with tools");
    }

    #[test]
    fn answer_writer_matches_serde() {
        let echoes = echoes();
        let mut check = |resp: &ChatResponse, what: &str| {
            for (body, echo) in &echoes {
                let written = encode_response(resp, echo);
                let serialized = encode_response_with(resp, echo, reference::WRITE);
                same(&written, &serialized, &format!("{what} with {body}"));
            }
        };
        for (n, resp) in answers().iter().enumerate() {
            check(resp, &format!("answer {n}"));
        }
        crate::formats::write::for_each_fixture_decoded("gpt-x", &mut |_, _| (), &mut check);
    }

    /// A stream of `events` through the writer and through serde, with the same clock.
    fn same_stream(echo_body: &str, events: &[StreamEvent], error: Option<(u16, &str)>, what: &str) {
        let req = decode(echo_body).unwrap();
        let mut direct = ResponsesStreamEncoder::new(&req, echo_body.as_bytes());
        let mut serde = ResponsesStreamEncoder::new(&req, echo_body.as_bytes());
        serde.write = reference::WRITE;
        serde.created_at = direct.created_at;
        let run = |enc: &mut ResponsesStreamEncoder| {
            let mut out = Vec::new();
            for e in events {
                enc.encode(e, &mut out);
            }
            if let Some((status, message)) = error {
                enc.error(status, message, &mut out);
            }
            enc.finish(&mut out);
            out
        };
        let written = run(&mut direct);
        assert!(written.len() > 100, "{what}: {}", String::from_utf8_lossy(&written));
        same(&written, &run(&mut serde), what);
    }

    #[test]
    fn stream_writer_matches_serde() {
        let bodies = echo_bodies();
        for (n, resp) in answers().iter().enumerate() {
            for pieces in [1, 3] {
                let events = events_from_response(resp, pieces);
                for body in &bodies {
                    same_stream(body, &events, None, &format!("answer {n} in {pieces} pieces, {body}"));
                }
                // Failed half way: the error event, then `response.failed`.
                let half = &events[..events.len() / 2];
                same_stream(
                    &bodies[0],
                    half,
                    Some((429, "slow \"down\"")),
                    &format!("answer {n} failed"),
                );
                same_stream(&bodies[0], half, Some((500, "")), &format!("answer {n} failed"));
                same_stream(&bodies[0], half, Some((400, "bad")), &format!("answer {n} failed"));
            }
        }
        let mut fixtures = 0;
        crate::formats::write::for_each_fixture_decoded("gpt-x", &mut |_, _| (), &mut |resp, what| {
            same_stream(&bodies[1], &events_from_response(resp, 2), None, what);
            fixtures += 1;
        });
        assert!(fixtures > 10, "{fixtures}");
    }
}
