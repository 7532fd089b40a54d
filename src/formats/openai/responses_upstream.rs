//! The Responses API as an upstream (provider side): a canonical chat request written as a
//! `POST /v1/responses` body, and the answer and its event stream read back. Used for an OpenAI
//! provider that says `chat_via_responses = true`, so that models OpenAI serves only through the
//! Responses API (the `-pro` and codex models) answer clients of every format.
//!
//! Rules:
//! - the system prompt is `instructions`; turns are input items (`message`, `function_call`,
//!   `function_call_output`); nothing is stored upstream (`store: false`), as a chat is stateless;
//! - thinking parts in the history are dropped, as for Chat Completions: reasoning items go back
//!   to OpenAI only by its own ids or encrypted content, which other formats do not carry;
//! - what the Responses API has no field for (`stop`, `seed`, penalties, log probabilities) is
//!   refused by name rather than dropped;
//! - `top_k` is omitted, as for Chat Completions (a sampling hint most non-OpenAI clients send).

use super::request::{document_data, effort_for_budget, err, image_url};
use crate::canonical::stream::{StreamError, StreamEvent};
use crate::canonical::{
    image_detail, ChatRequest, ChatResponse, ConvertError, Extra, FinishReason, Json, Part, ResponseFormat, Role,
    Schema, ToolChoice, ToolResultContent, Usage,
};
use crate::formats::sse_stream::{SseEventDecoder, SseStreamDecoder};
use crate::formats::Format;
use crate::wire::sse::SseEvent;
use serde::{Deserialize, Serialize};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::borrow::Cow;
use std::collections::VecDeque;

/// Provider: the path of the Responses API.
pub fn request_path(_model: &str, _stream: bool) -> String {
    "/v1/responses".to_string()
}

#[derive(Serialize)]
struct RequestOut<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions: Option<String>,
    input: Vec<ItemOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<ToolOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<ToolChoiceOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<TextOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<ReasoningOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    store: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ItemOut<'a> {
    Message {
        role: &'static str,
        content: Vec<ContentOut<'a>>,
    },
    Call {
        #[serde(rename = "type")]
        kind: &'static str,
        call_id: &'a str,
        name: &'a str,
        arguments: &'a str,
    },
    Output {
        #[serde(rename = "type")]
        kind: &'static str,
        call_id: &'a str,
        output: OutputOut<'a>,
    },
}

/// A function result's `output`: text, or parts when it carries images or files.
#[derive(Serialize)]
#[serde(untagged)]
enum OutputOut<'a> {
    Text(String),
    Parts(Vec<ContentOut<'a>>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ContentOut<'a> {
    InputText {
        text: Cow<'a, str>,
    },
    InputImage {
        image_url: Cow<'a, str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<&'a Json>,
    },
    InputFile {
        filename: &'a str,
        file_data: String,
    },
    OutputText {
        text: &'a str,
        annotations: [(); 0],
    },
    Refusal {
        refusal: &'a str,
    },
}

#[derive(Serialize)]
struct ToolOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    parameters: &'a Schema,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum ToolChoiceOut<'a> {
    Mode(&'static str),
    Named {
        #[serde(rename = "type")]
        kind: &'static str,
        name: &'a str,
    },
    /// `{"type":"allowed_tools","mode","tools":[{"type":"function","name"}]}`: flat, unlike Chat's.
    Allowed {
        #[serde(rename = "type")]
        kind: &'static str,
        mode: &'static str,
        tools: Vec<FunctionRefOut<'a>>,
    },
}

#[derive(Serialize)]
pub(super) struct FunctionRefOut<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) name: &'a str,
}

#[derive(Serialize)]
struct TextOut<'a> {
    format: FormatOut<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum FormatOut<'a> {
    Text,
    JsonObject,
    JsonSchema {
        name: &'a str,
        schema: &'a crate::canonical::Schema,
        #[serde(skip_serializing_if = "Option::is_none")]
        strict: Option<bool>,
    },
}

#[derive(Serialize)]
struct ReasoningOut<'a> {
    effort: &'a str,
}

/// A JSON tool result as text.
fn json_text(v: &Json) -> String {
    sonic_rs::to_string(v).unwrap_or_else(|_| "null".into())
}

/// A tool result's content as the `output`: one string when it is all text, else its parts
/// (the Responses API takes images and files there, unlike Chat Completions).
fn tool_output<'a>(content: &'a [ToolResultContent], path: &dyn Fn() -> String) -> Result<OutputOut<'a>, ConvertError> {
    let is_text = |c: &ToolResultContent| matches!(c, ToolResultContent::Text(_) | ToolResultContent::Json(_));
    if content.iter().all(is_text) {
        let mut out = String::new();
        for c in content {
            match c {
                ToolResultContent::Text(t) => out.push_str(t),
                ToolResultContent::Json(v) => out.push_str(&json_text(v)),
                _ => {}
            }
        }
        return Ok(OutputOut::Text(out));
    }
    let mut parts = Vec::with_capacity(content.len());
    for c in content {
        parts.push(match c {
            ToolResultContent::Text(t) => ContentOut::InputText { text: Cow::Borrowed(t) },
            ToolResultContent::Json(v) => ContentOut::InputText {
                text: Cow::Owned(json_text(v)),
            },
            ToolResultContent::Image(source) => ContentOut::InputImage {
                image_url: image_url(source),
                detail: None,
            },
            ToolResultContent::Document { source, name } => ContentOut::InputFile {
                filename: name.as_deref().unwrap_or("document.pdf"),
                file_data: document_data(source, path)?,
            },
        });
    }
    Ok(OutputOut::Parts(parts))
}

/// Provider: canonical -> a `/v1/responses` body.
pub fn encode_request(req: &ChatRequest) -> Result<Vec<u8>, ConvertError> {
    // Failed tool results, which this upstream's tool messages cannot flag (`tool_errors`).
    let flagged = crate::formats::tool_errors::fit_request(req);
    let req = flagged.as_ref().unwrap_or(req);
    let fitted = crate::formats::call_ids::fit_request(req, crate::formats::call_ids::OPENAI);
    let req = fitted.as_ref().unwrap_or(req);
    // Names other formats allow that this upstream would refuse (`tool_names::Renames` maps back).
    let renamed = crate::formats::tool_names::fit_request(req, crate::formats::tool_names::OPENAI);
    let req = renamed.as_ref().unwrap_or(req);
    req.extra.refuse_lost_content(Format::OpenAi)?;
    let unsupported = [
        ("stop", !req.stop.is_empty()),
        ("seed", req.seed.is_some()),
        ("frequency_penalty", req.frequency_penalty.is_some()),
        ("presence_penalty", req.presence_penalty.is_some()),
        ("logprobs", req.logprobs.is_some()),
    ];
    if let Some((name, _)) = unsupported.iter().find(|(_, set)| *set) {
        return Err(err(
            *name,
            format!("the Responses API has no `{name}`; this provider sends chat requests through it"),
        ));
    }
    for (name, v) in [("temperature", req.temperature), ("top_p", req.top_p)] {
        if v.is_some_and(|x| !x.is_finite()) {
            return Err(err(name, "must be a finite number"));
        }
    }
    let mut instructions = Vec::new();
    for (j, p) in req.system.iter().enumerate() {
        match p {
            Part::Text { text, .. } => instructions.push(text.as_str()),
            _ => return Err(err(format!("system[{j}]"), "the system prompt takes text only")),
        }
    }
    let mut input = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        let mut content = Vec::new();
        for (j, p) in m.content.iter().enumerate() {
            let path = || format!("messages[{i}].content[{j}]");
            match (m.role, p) {
                (Role::User, Part::Text { text, .. }) => content.push(ContentOut::InputText {
                    text: Cow::Borrowed(text),
                }),
                (Role::User, Part::Image { source, extra }) => content.push(ContentOut::InputImage {
                    image_url: image_url(source),
                    detail: image_detail(extra, Format::OpenAi),
                }),
                (Role::User, Part::Document { source, name, .. }) => content.push(ContentOut::InputFile {
                    filename: name.as_deref().unwrap_or("document.pdf"),
                    file_data: document_data(source, &path)?,
                }),
                (Role::User, Part::ToolResult { id, content: c, .. }) => {
                    flush(&mut input, "user", &mut content);
                    input.push(ItemOut::Output {
                        kind: "function_call_output",
                        call_id: id,
                        output: tool_output(c, &path)?,
                    });
                }
                (Role::Assistant, Part::Text { text, extra }) if extra.marks_refusal() => {
                    content.push(ContentOut::Refusal { refusal: text })
                }
                (Role::Assistant, Part::Text { text, .. }) => {
                    content.push(ContentOut::OutputText { text, annotations: [] })
                }
                (
                    Role::Assistant,
                    Part::ToolCall {
                        id, name, arguments, ..
                    },
                ) => {
                    flush(&mut input, "assistant", &mut content);
                    input.push(ItemOut::Call {
                        kind: "function_call",
                        call_id: id,
                        name,
                        arguments: if arguments.trim().is_empty() { "{}" } else { arguments },
                    });
                }
                // Dropped, see the module notes.
                (Role::Assistant, Part::Thinking { .. } | Part::RedactedThinking { .. }) => {}
                (role, _) => {
                    let who = if role == Role::User { "a user" } else { "an assistant" };
                    return Err(err(path(), format!("this content cannot appear in {who} message")));
                }
            }
        }
        let role = if m.role == Role::User { "user" } else { "assistant" };
        flush(&mut input, role, &mut content);
    }
    let has_tools = !req.tools.is_empty();
    let effort = req.reasoning.as_ref().and_then(|r| {
        r.effort
            .as_deref()
            .or_else(|| r.budget_tokens.and_then(effort_for_budget))
    });
    let body = RequestOut {
        model: &req.model,
        instructions: (!instructions.is_empty()).then(|| instructions.join("\n\n")),
        input,
        tools: req
            .tools
            .iter()
            .map(|t| ToolOut {
                kind: "function",
                name: &t.name,
                description: t.description.as_deref(),
                parameters: &t.parameters,
                strict: t.strict,
            })
            .collect(),
        tool_choice: req.tool_choice.as_ref().filter(|_| has_tools).map(|c| match c {
            ToolChoice::Auto => ToolChoiceOut::Mode("auto"),
            ToolChoice::None => ToolChoiceOut::Mode("none"),
            ToolChoice::Required => ToolChoiceOut::Mode("required"),
            ToolChoice::Named(name) => ToolChoiceOut::Named { kind: "function", name },
            ToolChoice::Allowed { names, required } => ToolChoiceOut::Allowed {
                kind: "allowed_tools",
                mode: if *required { "required" } else { "auto" },
                tools: names
                    .iter()
                    .map(|name| FunctionRefOut { kind: "function", name })
                    .collect(),
            },
        }),
        parallel_tool_calls: req.parallel_tool_calls.filter(|_| has_tools),
        // The Responses API refuses a limit under 16 that Chat Completions, Anthropic and the others
        // take (a model probe's `max_tokens: 1`): such a request asks for 16, so it is answered
        // rather than refused, with at most 15 tokens more than it named.
        max_output_tokens: req.max_tokens.map(|n| n.max(super::responses::MIN_OUTPUT_TOKENS)),
        temperature: req.temperature,
        top_p: req.top_p,
        text: req.response_format.as_ref().map(|f| TextOut {
            format: match f {
                ResponseFormat::Text => FormatOut::Text,
                ResponseFormat::JsonObject => FormatOut::JsonObject,
                ResponseFormat::JsonSchema { name, schema, strict } => FormatOut::JsonSchema {
                    name,
                    schema,
                    strict: *strict,
                },
            },
        }),
        reasoning: effort.map(|effort| ReasoningOut { effort }),
        user: req.user.as_deref(),
        store: false,
        stream: req.stream,
    };
    sonic_rs::to_vec(&body).map_err(|e| err("", format!("could not write the request: {e}")))
}

/// Ends the message being built (if it has content) as an input item of `role`.
fn flush<'a>(input: &mut Vec<ItemOut<'a>>, role: &'static str, content: &mut Vec<ContentOut<'a>>) {
    if !content.is_empty() {
        input.push(ItemOut::Message {
            role,
            content: std::mem::take(content),
        });
    }
}

// ---- the answer --------------------------------------------------------------------------------

fn u64_at(v: &Json, keys: &[&str]) -> u64 {
    v.pointer(keys).and_then(|x| x.as_u64()).unwrap_or(0)
}

/// A `usage` object -> canonical (`input_tokens` includes the cached ones, as canonical counts).
fn usage_of(v: &Json) -> Usage {
    Usage {
        input: u64_at(v, &["input_tokens"]),
        output: u64_at(v, &["output_tokens"]),
        cache_read: u64_at(v, &["input_tokens_details", "cached_tokens"]),
        cache_write: u64_at(v, &["input_tokens_details", "cache_write_tokens"]),
        reasoning: u64_at(v, &["output_tokens_details", "reasoning_tokens"]),
    }
}

/// A response's `status` and `incomplete_details.reason`, and whether it called a tool, as the
/// canonical finish reason.
fn finish_of(status: Option<&str>, reason: Option<&str>, calls: bool) -> FinishReason {
    match (status, reason) {
        (Some("incomplete"), Some("max_output_tokens")) => FinishReason::Length,
        (Some("incomplete"), Some("content_filter")) => FinishReason::ContentFilter,
        (Some("incomplete"), Some(other)) => FinishReason::Other(other.to_string()),
        (Some("failed"), _) => FinishReason::Error,
        _ if calls => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

/// One output item -> canonical parts.
fn item_parts(item: &Json, out: &mut Vec<Part>) {
    match item.get("type").and_then(|t| t.as_str()) {
        Some("message") => {
            for c in item.get("content").and_then(|c| c.as_array()).into_iter().flatten() {
                match c.get("type").and_then(|t| t.as_str()) {
                    Some("output_text") => {
                        out.push(Part::text(c.get("text").and_then(|t| t.as_str()).unwrap_or_default()))
                    }
                    Some("refusal") => out.push(Part::refusal(
                        c.get("refusal").and_then(|t| t.as_str()).unwrap_or_default(),
                    )),
                    _ => {}
                }
            }
        }
        Some("function_call") => {
            let s = |k: &str| item.get(k).and_then(|t| t.as_str()).unwrap_or_default().to_string();
            out.push(Part::ToolCall {
                id: s("call_id"),
                name: s("name"),
                arguments: s("arguments"),
                signature: None,
                extra: Extra::default(),
            });
        }
        Some("reasoning") => {
            let text: String = item
                .get("summary")
                .and_then(|s| s.as_array())
                .into_iter()
                .flatten()
                .filter_map(|s| s.get("text").and_then(|t| t.as_str()))
                .collect::<Vec<_>>()
                .join("\n\n");
            if !text.is_empty() {
                out.push(Part::Thinking { text, signature: None });
            }
        }
        // Built-in tools' items (web search, ...) never come: no such tool is sent.
        _ => {}
    }
}

/// Provider: a `/v1/responses` success body -> canonical.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, ConvertError> {
    let v: Json = sonic_rs::from_slice(body).map_err(|e| {
        ConvertError::new(
            "",
            format!("invalid Responses answer: {}", crate::wire::json::brief(&e)),
        )
    })?;
    if !v.is_object() {
        return Err(ConvertError::new("", "invalid Responses answer: not an object"));
    }
    let mut content = Vec::new();
    for item in v.get("output").and_then(|o| o.as_array()).into_iter().flatten() {
        item_parts(item, &mut content);
    }
    let calls = content.iter().any(|p| matches!(p, Part::ToolCall { .. }));
    let s = |keys: &[&str]| v.pointer(keys).and_then(|x| x.as_str()).map(str::to_string);
    Ok(ChatResponse {
        id: s(&["id"]).unwrap_or_default(),
        model: s(&["model"]).unwrap_or_default(),
        finish: finish_of(
            v.get("status").and_then(|x| x.as_str()),
            v.pointer(["incomplete_details", "reason"]).and_then(|x| x.as_str()),
            calls,
        ),
        content,
        usage: v.get("usage").map(usage_of).unwrap_or_default(),
        stop_sequence: None,
        created: u64_at(&v, &["created_at"]),
        logprobs: Vec::new(),
    })
}

// ---- the stream --------------------------------------------------------------------------------

/// The fields of a Responses event that the decoder reads; strings borrow from the event (a
/// delta is copied once, into its canonical event), and everything else is skipped unparsed.
#[derive(Deserialize)]
struct EventIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    output_index: u32,
    /// Which part of a reasoning item's summary an event belongs to.
    #[serde(default)]
    summary_index: u32,
    #[serde(default, borrow)]
    delta: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    item: Option<ItemIn<'a>>,
    #[serde(default, borrow)]
    response: Option<ResponseIn<'a>>,
    /// An `error` event's message.
    #[serde(default, borrow)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ItemIn<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    call_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    arguments: Option<Cow<'a, str>>,
}

impl ItemIn<'_> {
    fn is_call(&self) -> bool {
        self.kind.as_deref() == Some("function_call")
    }
}

#[derive(Deserialize)]
struct ResponseIn<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    incomplete_details: Option<IncompleteIn<'a>>,
    #[serde(default)]
    usage: Option<Json>,
    #[serde(default, borrow)]
    error: Option<ErrorIn<'a>>,
}

#[derive(Deserialize)]
struct IncompleteIn<'a> {
    #[serde(default, borrow)]
    reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ErrorIn<'a> {
    #[serde(default, borrow)]
    message: Option<Cow<'a, str>>,
}

/// Responses events -> canonical events. Blocks are keyed by `output_index`.
#[derive(Default)]
pub struct ResponsesEventDecoder {
    started: bool,
    /// Function calls (output index) whose arguments came as deltas.
    streamed_args: Vec<u32>,
    /// Blocks opened and not yet stopped.
    open: Vec<u32>,
    /// Messages (output index) whose refusal began: each is announced once.
    refusals: Vec<u32>,
    calls: bool,
    done: bool,
    complete: bool,
}

/// An owned copy of an optional borrowed string ("" when absent).
fn owned(s: &Option<Cow<'_, str>>) -> String {
    s.as_deref().unwrap_or_default().to_string()
}

impl ResponsesEventDecoder {
    fn open(&mut self, index: u32) {
        if !self.open.contains(&index) {
            self.open.push(index);
        }
    }

    fn stop(&mut self, index: u32, out: &mut VecDeque<StreamEvent>) {
        if let Some(pos) = self.open.iter().position(|&i| i == index) {
            self.open.remove(pos);
            out.push_back(StreamEvent::BlockStop { index });
        }
    }

    fn decode_event(&mut self, e: EventIn<'_>, out: &mut VecDeque<StreamEvent>) {
        let index = e.output_index;
        match &*e.kind {
            "response.created" if !self.started => {
                self.started = true;
                let r = e.response.as_ref();
                out.push_back(StreamEvent::Start {
                    id: r.map(|r| owned(&r.id)).unwrap_or_default(),
                    model: r.map(|r| owned(&r.model)).unwrap_or_default(),
                });
            }
            "response.output_item.added" => {
                if let Some(item) = e.item.as_ref().filter(|i| i.is_call()) {
                    self.open(index);
                    self.calls = true;
                    out.push_back(StreamEvent::ToolCallStart {
                        index,
                        id: owned(&item.call_id),
                        name: owned(&item.name),
                    });
                }
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                // NOTE: the block is the message, so text before a refusal in the same message
                // would read as refusal too (OpenAI answers with one or the other).
                if e.kind == "response.refusal.delta" && !self.refusals.contains(&index) {
                    self.refusals.push(index);
                    out.push_back(StreamEvent::Refusal { index });
                }
                self.open(index);
                out.push_back(StreamEvent::TextDelta {
                    index,
                    text: owned(&e.delta),
                });
            }
            // A summary in several parts reads as the answer's does: the parts joined by a
            // blank line.
            "response.reasoning_summary_part.added" if e.summary_index > 0 => {
                self.open(index);
                out.push_back(StreamEvent::ThinkingDelta {
                    index,
                    text: "\n\n".into(),
                });
            }
            "response.reasoning_summary_text.delta" => {
                self.open(index);
                out.push_back(StreamEvent::ThinkingDelta {
                    index,
                    text: owned(&e.delta),
                });
            }
            "response.function_call_arguments.delta" => {
                if !self.streamed_args.contains(&index) {
                    self.streamed_args.push(index);
                }
                out.push_back(StreamEvent::ToolCallDelta {
                    index,
                    arguments: owned(&e.delta),
                });
            }
            "response.output_item.done" => {
                // Arguments that came only whole, in the finished item.
                let whole = e
                    .item
                    .as_ref()
                    .filter(|i| i.is_call() && !self.streamed_args.contains(&index));
                if let Some(arguments) = whole.and_then(|i| i.arguments.as_deref()).filter(|a| !a.is_empty()) {
                    out.push_back(StreamEvent::ToolCallDelta {
                        index,
                        arguments: arguments.to_string(),
                    });
                }
                self.stop(index, out);
            }
            "response.completed" | "response.incomplete" => {
                while let Some(&index) = self.open.first() {
                    self.stop(index, out);
                }
                let r = e.response.as_ref();
                if let Some(u) = r.and_then(|r| r.usage.as_ref()) {
                    out.push_back(StreamEvent::Usage(usage_of(u)));
                }
                let status = r.and_then(|r| r.status.as_deref());
                let reason = r
                    .and_then(|r| r.incomplete_details.as_ref())
                    .and_then(|d| d.reason.as_deref());
                out.push_back(StreamEvent::Finish {
                    reason: finish_of(status, reason, self.calls),
                    stop_sequence: None,
                });
                self.done = true;
                self.complete = true;
            }
            "response.failed" | "error" => {
                let failed = e
                    .response
                    .as_ref()
                    .and_then(|r| r.error.as_ref())
                    .and_then(|x| x.message.as_deref());
                let message = failed
                    .or(e.message.as_deref())
                    .unwrap_or("the upstream's response failed");
                out.push_back(StreamEvent::Error {
                    status: 500,
                    message: message.to_string(),
                });
                self.done = true;
                self.complete = true;
            }
            // The rest (in_progress, content parts, `.done` repeats) carries nothing new.
            _ => {}
        }
    }
}

impl SseEventDecoder for ResponsesEventDecoder {
    fn decode(&mut self, event: &SseEvent, out: &mut VecDeque<StreamEvent>) -> Result<(), StreamError> {
        let e: EventIn<'_> = sonic_rs::from_slice(&event.data).map_err(|e| {
            StreamError::Malformed(format!(
                "a Responses event could not be read: {}",
                crate::wire::json::brief(&e)
            ))
        })?;
        self.decode_event(e, out);
        Ok(())
    }

    fn done(&self) -> bool {
        self.done
    }

    fn complete(&self) -> bool {
        self.complete
    }
}

/// A Responses SSE body from an upstream -> canonical events.
pub type ResponsesStreamDecoder = SseStreamDecoder<ResponsesEventDecoder>;

/// Fuzz entry: decodes `data` in a few splits and drains it, ignoring errors. Must never panic.
pub fn fuzz_decode(data: &[u8]) {
    crate::formats::sse_stream::fuzz_decode(ResponsesStreamDecoder::new(), data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::stream::testing::{collect, decode_every_split, encode_all};
    use crate::canonical::stream::{events_from_response, StreamDecode, StreamEncode};
    use crate::canonical::Message;

    fn request() -> ChatRequest {
        ChatRequest {
            model: "o3-pro".into(),
            system: vec![Part::text("be brief")],
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![Part::text("weather?")],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Part::Thinking {
                            text: "hmm".into(),
                            signature: Some("sig".into()),
                        },
                        Part::text("Let me check."),
                        Part::ToolCall {
                            id: "call_1".into(),
                            name: "get_weather".into(),
                            arguments: r#"{"city":"Paris"}"#.into(),
                            signature: None,
                            extra: Extra::default(),
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![
                        Part::ToolResult {
                            id: "call_1".into(),
                            name: None,
                            content: vec![ToolResultContent::Text("sunny".into())],
                            is_error: false,
                            extra: Extra::default(),
                        },
                        Part::text("thanks"),
                    ],
                },
            ],
            max_tokens: Some(100),
            stream: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_chat_becomes_instructions_and_input_items_in_order() {
        let body = String::from_utf8(encode_request(&request()).unwrap()).unwrap();
        assert_eq!(
            body,
            concat!(
                r#"{"model":"o3-pro","instructions":"be brief","input":["#,
                r#"{"role":"user","content":[{"type":"input_text","text":"weather?"}]},"#,
                r#"{"role":"assistant","content":[{"type":"output_text","text":"Let me check.","annotations":[]}]},"#,
                r#"{"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},"#,
                r#"{"type":"function_call_output","call_id":"call_1","output":"sunny"},"#,
                r#"{"role":"user","content":[{"type":"input_text","text":"thanks"}]}],"#,
                r#""max_output_tokens":100,"store":false,"stream":true}"#
            )
        );
        // The Responses decoder (the client side) reads it back to the same conversation.
        let back = super::super::responses::decode_request(body.as_bytes()).unwrap();
        assert_eq!(
            back.messages.len(),
            3,
            "user, assistant text and call, result and user text"
        );
        assert_eq!(back.system, vec![Part::text("be brief")]);
    }

    #[test]
    fn a_token_limit_under_16_asks_the_responses_api_for_16() {
        let limit = |max_tokens| {
            let req = ChatRequest {
                max_tokens,
                ..request()
            };
            let body: Json = sonic_rs::from_slice(&encode_request(&req).unwrap()).unwrap();
            body.get("max_output_tokens").and_then(|v| v.as_u64())
        };
        assert_eq!(limit(Some(1)), Some(16), "a model probe's max_tokens 1");
        assert_eq!(limit(Some(15)), Some(16));
        assert_eq!(limit(Some(16)), Some(16));
        assert_eq!(limit(Some(4096)), Some(4096));
        assert_eq!(limit(None), None);
    }

    #[test]
    fn a_function_result_with_an_image_goes_as_parts() {
        // The Responses API takes images and files in a function result, as an Anthropic
        // client's tool result may carry them (Chat Completions takes text only).
        let mut req = request();
        let image = ToolResultContent::Image(crate::canonical::ImageSource::Base64 {
            media_type: "image/png".into(),
            data: "iVBOR".into(),
        });
        if let Part::ToolResult { content, .. } = &mut req.messages[2].content[0] {
            content.push(image.clone());
        }
        let body = encode_request(&req).unwrap();
        let back = super::super::responses::decode_request(&body).unwrap();
        assert!(
            matches!(&back.messages[2].content[0], Part::ToolResult { content, .. }
                if *content == [ToolResultContent::Text("sunny".into()), image]),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }

    #[test]
    fn an_image_keeps_its_detail() {
        // A Chat client's `detail: low` (fewer tokens per image) holds for a model that answers
        // only through the Responses API too.
        let body = br#"{"model":"o3-pro","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/a.png","detail":"low"}}]}]}"#;
        let req = super::super::decode_request(body, None, false).unwrap();
        let v: Json = sonic_rs::from_slice(&encode_request(&req).unwrap()).unwrap();
        assert_eq!(
            v.pointer(&sonic_rs::pointer!["input", 0, "content", 0, "detail"])
                .and_then(|d| d.as_str()),
            Some("low")
        );
    }

    #[test]
    fn what_the_api_lacks_is_refused_by_name() {
        for (name, req) in [
            (
                "stop",
                ChatRequest {
                    stop: vec!["x".into()],
                    ..request()
                },
            ),
            (
                "seed",
                ChatRequest {
                    seed: Some(1),
                    ..request()
                },
            ),
            (
                "logprobs",
                ChatRequest {
                    logprobs: Some(0),
                    ..request()
                },
            ),
        ] {
            let e = encode_request(&req).unwrap_err();
            assert!(e.to_string().contains(name), "{name}: {e}");
        }
    }

    fn sample() -> ChatResponse {
        ChatResponse {
            id: "resp_1".into(),
            model: "o3-pro".into(),
            content: vec![
                Part::Thinking {
                    text: "thinking".into(),
                    signature: None,
                },
                Part::text("Let me check."),
                Part::ToolCall {
                    id: "call_9".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into(),
                    signature: None,
                    extra: Extra::default(),
                },
            ],
            finish: FinishReason::ToolCalls,
            // Every count crosses, cache writes (`cache_write_tokens`) included.
            usage: Usage {
                input: 10,
                output: 5,
                cache_read: 2,
                cache_write: 3,
                reasoning: 1,
            },
            stop_sequence: None,
            created: 1_700_000_000,
            logprobs: Vec::new(),
        }
    }

    #[test]
    fn the_client_sides_answer_and_stream_read_back() {
        let resp = sample();
        // The Responses encoder (client side) writes it; this decoder reads it back.
        let req = ChatRequest::default();
        let echo = super::super::responses::Echo::of(&req, b"{}");
        let body = super::super::responses::encode_response(&resp, &echo);
        let back = decode_response(&body).unwrap();
        assert_eq!(
            (back.id.as_str(), back.finish.clone(), back.usage),
            ("resp_1", FinishReason::ToolCalls, resp.usage)
        );
        assert_eq!(back.content, resp.content);
        // And the stream, split at every byte.
        let mut enc = super::super::responses::ResponsesStreamEncoder::new(&req, b"{}");
        let mut wire = Vec::new();
        for e in events_from_response(&resp, 3) {
            enc.encode(&e, &mut wire);
        }
        enc.finish(&mut wire);
        // Split at every byte and one byte at a time, the same events; gathered, the same answer.
        let events = decode_every_split(&|| Box::new(ResponsesStreamDecoder::new()), &wire);
        let got = collect(&events);
        assert_eq!(
            (got.content, got.finish, got.usage),
            (resp.content.clone(), FinishReason::ToolCalls, resp.usage)
        );
        // A stream that stops before its terminal event is truncated.
        let mut d = ResponsesStreamDecoder::new();
        d.push(bytes::Bytes::copy_from_slice(&wire[..wire.len() / 2]));
        while let Ok(Some(_)) = d.next_event() {}
        assert_eq!(d.finish(), Err(StreamError::Truncated));
    }

    #[test]
    fn a_refusal_reads_back_as_a_refusal_answered_or_streamed() {
        // Streamed, a refusal once read back as plain text, which a structured-output client
        // then tried to parse as its answer.
        let resp = ChatResponse {
            content: vec![Part::refusal("I'm sorry, I can't.")],
            finish: FinishReason::Stop,
            ..sample()
        };
        let req = ChatRequest::default();
        let echo = super::super::responses::Echo::of(&req, b"{}");
        let answered = decode_response(&super::super::responses::encode_response(&resp, &echo)).unwrap();
        let mut enc = super::super::responses::ResponsesStreamEncoder::new(&req, b"{}");
        let wire = encode_all(&mut enc, &events_from_response(&resp, 3));
        let streamed = collect(&decode_every_split(&|| Box::new(ResponsesStreamDecoder::new()), &wire));
        assert_eq!(answered.content, resp.content);
        assert_eq!((streamed.content, streamed.finish), (resp.content, answered.finish));
    }

    #[test]
    fn a_summary_in_parts_streams_as_the_answer_reads() {
        // OpenAI summarises reasoning in several parts (`summary_index` 0, 1, ...); streamed,
        // they must not run together where the answer's summary has them apart.
        let body = concat!(
            r#"{"id":"resp_1","model":"o3-pro","status":"completed","output":[{"id":"rs_1","type":"reasoning","#,
            r#""summary":[{"type":"summary_text","text":"**Plan**"},{"type":"summary_text","text":"Check."}]}]}"#
        );
        let events = [
            r#"{"type":"response.created","response":{"id":"resp_1","model":"o3-pro","status":"in_progress"}}"#,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}}"#,
            r#"{"type":"response.reasoning_summary_part.added","output_index":0,"summary_index":0}"#,
            r#"{"type":"response.reasoning_summary_text.delta","output_index":0,"summary_index":0,"delta":"**Plan**"}"#,
            r#"{"type":"response.reasoning_summary_part.done","output_index":0,"summary_index":0}"#,
            r#"{"type":"response.reasoning_summary_part.added","output_index":0,"summary_index":1}"#,
            r#"{"type":"response.reasoning_summary_text.delta","output_index":0,"summary_index":1,"delta":"Check."}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"id":"rs_1","type":"reasoning"}}"#,
        ];
        let mut wire: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
        wire.push_str(&format!(
            "data: {{\"type\":\"response.completed\",\"response\":{body}}}\n\n"
        ));
        let streamed = collect(&decode_every_split(
            &|| Box::new(ResponsesStreamDecoder::new()),
            wire.as_bytes(),
        ));
        assert_eq!(streamed.content, decode_response(body.as_bytes()).unwrap().content);
    }
}
