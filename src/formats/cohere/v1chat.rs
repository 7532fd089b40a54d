//! Cohere v1 Chat (`POST /v1/chat`: the `cohere.Client` SDK's `chat` and `chat_stream`) <->
//! canonical. Integration side only: a v1 client's request is decoded for any provider, and the
//! answer is written back in v1's shape. A Cohere provider gets v1 requests as sent (the proxy's
//! same-format path), so Sluice never writes v1 upstream.
//!
//! v1 differs from v2 (PROTOCOLS 7) in ways that shape this module:
//! - the turn is `message` (plus `tool_results`), after `chat_history` and a `preamble`;
//! - tool calls have no ids: a result names its call by `{name, parameters}`. Calls get ids from
//!   their place in the history (`cohere_v1_<message>_<call>`), and each result is matched to the
//!   first unanswered call of that name (with equal parameters when there is one);
//! - the answer repeats the whole `chat_history` with the new turns, which a client sends back as
//!   the next request's history (the documented tool loop does exactly that);
//! - a stream is newline-delimited JSON (`application/stream+json`), not SSE, and it ends with a
//!   `stream-end` event holding the whole answer.
//!
//! Fields that need Cohere's own services (connectors, stored conversations, RAG documents,
//! prompt truncation, raw prompts) are refused by name: another provider cannot honour them.

use super::request::{not_an_object, parse, LazyField};
use super::{response::usage_to_cohere, uuid_like};
use crate::canonical::stream::{StreamEncode, StreamEvent};
use crate::canonical::{
    ChatRequest, ChatResponse, ConvertError, Extra, FinishReason, Json, JsonPath, Message, Part, Role, Schema, Tool,
    ToolResultContent, Usage,
};
use crate::wire::sse::escape_js_line_separators;
use serde::Deserialize;
use sonic_rs::{JsonValueTrait, LazyValue};

/// `content-type` of a v1 stream.
pub const STREAM_CONTENT_TYPE: &str = "application/stream+json";

/// A `chat_history` item (and the shape of the answer's new items).
#[derive(Deserialize)]
struct HistoryItemIn<'a> {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<CallIn<'a>>>,
    #[serde(default, borrow)]
    tool_results: Option<Vec<ToolResultIn<'a>>>,
}

/// `{name, parameters}`: a call in a CHATBOT message or named by a tool result.
#[derive(Deserialize)]
struct CallIn<'a> {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, borrow)]
    parameters: Option<LazyValue<'a>>,
}

#[derive(Deserialize)]
struct ToolResultIn<'a> {
    #[serde(default, borrow)]
    call: Option<CallIn<'a>>,
    #[serde(default, borrow)]
    outputs: Option<LazyValue<'a>>,
}

#[derive(Deserialize)]
struct ToolIn<'a> {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// An object of parameter name -> `ParamIn`, read in the client's order.
    #[serde(default, borrow)]
    parameter_definitions: Option<LazyValue<'a>>,
}

#[derive(Deserialize)]
struct ParamIn {
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    required: Option<bool>,
}

#[derive(Deserialize)]
struct ResponseFormatIn {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    schema: Option<crate::canonical::Schema>,
}

/// A call made in the history, for matching results to it.
struct MadeCall {
    id: String,
    name: String,
    parameters: Json,
    answered: bool,
}

/// The JSON Schema type of a v1 parameter's Python type name (`str`, `int`, `List[str]`, ...);
/// None for a type with no JSON counterpart, which then constrains nothing.
fn schema_type(python: &str) -> Option<&'static str> {
    let t = python.trim();
    let base = t.split('[').next().unwrap_or(t).trim().to_ascii_lowercase();
    Some(match base.as_str() {
        "str" | "string" => "string",
        "int" | "integer" => "integer",
        "float" | "number" => "number",
        "bool" | "boolean" => "boolean",
        "list" | "tuple" | "set" | "array" => "array",
        "dict" | "object" => "object",
        _ => return None,
    })
}

/// v1 `parameter_definitions` -> a JSON Schema object (what every other format takes), with the
/// parameters in the client's order (written as text: sonic-rs objects built by insertion do not
/// keep it).
fn tool_def(t: ToolIn<'_>, path: &JsonPath<'_>) -> Result<Tool, ConvertError> {
    let name = t
        .name
        .ok_or_else(|| ConvertError::new(path.key("name"), "missing name"))?;
    let dpath = path.key("parameter_definitions");
    let mut schema = b"{\"type\":\"object\",\"properties\":{".to_vec();
    let mut required: Vec<String> = Vec::new();
    let defs = t.parameter_definitions.filter(|d| !d.is_null());
    for (n, entry) in defs
        .iter()
        .flat_map(|d| sonic_rs::to_object_iter(d.as_raw_str()))
        .enumerate()
    {
        let (param, value) = entry.map_err(|_| ConvertError::new(dpath, "must be an object"))?;
        let def: ParamIn = parse(value.as_raw_str(), &dpath.key(&param))?;
        if n > 0 {
            schema.push(b',');
        }
        string(&mut schema, &param);
        schema.push(b':');
        schema.push(b'{');
        let mut sep = "";
        if let Some(kind) = def.kind.as_deref().and_then(schema_type) {
            schema.extend_from_slice(b"\"type\":");
            string(&mut schema, kind);
            sep = ",";
        }
        if let Some(d) = def.description {
            schema.extend_from_slice(sep.as_bytes());
            schema.extend_from_slice(b"\"description\":");
            string(&mut schema, &d);
        }
        schema.push(b'}');
        if def.required == Some(true) {
            required.push(param.to_string());
        }
    }
    schema.push(b'}');
    if !required.is_empty() {
        schema.extend_from_slice(b",\"required\":");
        let _ = sonic_rs::to_writer(&mut schema, &required);
    }
    schema.push(b'}');
    sonic_rs::from_slice::<Json>(&schema).map_err(|e| ConvertError::new(dpath, e.to_string()))?;
    let parameters = Schema::from_checked_text(String::from_utf8_lossy(&schema));
    Ok(Tool {
        name,
        description: t.description,
        parameters,
        strict: None,
        extra: Default::default(),
    })
}

/// A v1 field only Cohere's own v1 chat serves: refused, naming it and why, when the request is
/// translated (for another provider, or for Cohere's v2 chat, which an InvokeModel Command R body
/// goes to).
fn refuse(field: &str, why: &str) -> ConvertError {
    ConvertError::new(
        field,
        format!("`{field}` is served only by Cohere's v1 chat API, and this request is translated ({why})"),
    )
}

/// Appends `parts` to the last message if it has `role`, else as a new message (v1 history may
/// hold a TOOL turn then a USER turn, which other formats need as one user turn).
fn push_turn(messages: &mut Vec<Message>, role: Role, parts: Vec<Part>) {
    if parts.is_empty() {
        return;
    }
    match messages.last_mut() {
        Some(last) if last.role == role => last.content.extend(parts),
        _ => messages.push(Message { role, content: parts }),
    }
}

/// Tool results, as canonical parts: the results, and the calls made up for results that answer
/// no call in the history.
struct Results {
    results: Vec<Part>,
    made_up: Vec<Part>,
}

/// Tool results -> `Part::ToolResult`s. Each answers the first unanswered call of its name in the
/// history (with equal parameters, if one has them). A result that answers none (Cohere's
/// single-step examples send the results with the question again and no history) gets a call
/// made from its own `call`, with id `<id_prefix>_<i>`, for the formats that need a call before
/// every result.
fn results(
    list: Vec<ToolResultIn<'_>>,
    calls: &mut [MadeCall],
    path: &JsonPath<'_>,
    id_prefix: &str,
) -> Result<Results, ConvertError> {
    let mut out = Results {
        results: Vec::with_capacity(list.len()),
        made_up: Vec::new(),
    };
    for (i, r) in list.into_iter().enumerate() {
        let p = path.index(i);
        let call = r.call.ok_or_else(|| ConvertError::new(p.key("call"), "missing call"))?;
        let name = call
            .name
            .ok_or_else(|| ConvertError::new(p.key("call").key("name"), "missing name"))?;
        let arguments = match &call.parameters {
            Some(v) if !v.is_null() => v.as_raw_str(),
            _ => "{}",
        };
        let params: Json = parse(arguments, &p.key("call").key("parameters"))?;
        let open = |c: &&mut MadeCall| !c.answered && c.name == name;
        let exact = calls.iter_mut().filter(open).position(|c| params == c.parameters);
        let slot = match exact {
            Some(n) => calls.iter_mut().filter(open).nth(n),
            None => calls.iter_mut().find(|c| !c.answered && c.name == name),
        };
        let id = match slot {
            Some(made) => {
                made.answered = true;
                made.id.clone()
            }
            None => {
                let id = format!("{id_prefix}_{i}");
                out.made_up.push(Part::ToolCall {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: arguments.to_string(),
                    signature: None,
                    extra: Extra::default(),
                });
                id
            }
        };
        // One output is that object as sent; several are the array as sent.
        let text = match &r.outputs {
            None => "[]".to_string(),
            Some(v) => {
                let raw = v.as_raw_str();
                let outputs: Vec<LazyValue<'_>> = parse(raw, &p.key("outputs"))?;
                match outputs.as_slice() {
                    [one] => one.as_raw_str().to_string(),
                    _ => raw.to_string(),
                }
            }
        };
        out.results.push(Part::ToolResult {
            id,
            name: Some(name),
            content: vec![ToolResultContent::Text(text)],
            is_error: false,
            extra: Extra::default(),
        });
    }
    Ok(out)
}

/// Adds results to the conversation: after the made-up calls' assistant turn if there are any,
/// in a user turn.
fn push_results(messages: &mut Vec<Message>, r: Results) {
    if !r.made_up.is_empty() {
        push_turn(messages, Role::Assistant, r.made_up);
    }
    push_turn(messages, Role::User, r.results);
}

/// Integration: a client's `/v1/chat` body -> canonical.
pub fn decode_request(body: &[u8]) -> Result<ChatRequest, ConvertError> {
    decode_body(body, None)
}

/// `decode_request` for a body whose model, when it names none, is `model` (Bedrock's Command R
/// InvokeModel body, whose model is the path's).
pub fn decode_request_for(body: &[u8], model: &str) -> Result<ChatRequest, ConvertError> {
    decode_body(body, Some(model))
}

fn decode_body(body: &[u8], default_model: Option<&str>) -> Result<ChatRequest, ConvertError> {
    let mut req = ChatRequest {
        // Cohere always reports usage, streaming or not.
        include_usage: true,
        ..Default::default()
    };
    let mut message: Option<String> = None;
    let mut history: Option<LazyValue<'_>> = None;
    let mut tool_results: Option<LazyValue<'_>> = None;
    for entry in sonic_rs::to_object_iter(body) {
        let (key, value) = entry.map_err(not_an_object)?;
        let raw = value.as_raw_str();
        let key: &str = &key;
        let kpath = JsonPath::ROOT.key(key);
        let kp = &kpath;
        let null = value.is_null();
        match key {
            "model" => req.model = parse::<Option<String>>(raw, kp)?.unwrap_or_default(),
            "message" => message = parse(raw, kp)?,
            "chat_history" => history = Some(value),
            "tool_results" => tool_results = Some(value),
            "preamble" => {
                if let Some(p) = parse::<Option<String>>(raw, kp)?.filter(|p| !p.is_empty()) {
                    req.system.push(Part::text(p));
                }
            }
            "tools" => {
                let tools: Vec<ToolIn<'_>> = parse::<Option<_>>(raw, kp)?.unwrap_or_default();
                for (i, t) in tools.into_iter().enumerate() {
                    req.tools.push(tool_def(t, &kpath.index(i))?);
                }
            }
            "response_format" => {
                req.response_format = match parse::<Option<ResponseFormatIn>>(raw, kp)? {
                    None => None,
                    Some(rf) => Some(super::request::response_format(rf.kind.as_deref(), rf.schema)?),
                }
            }
            _ if super::request::sampling(&mut req, key, &mut LazyField { raw, path: kp }, kp)? => {}
            // Cohere's own services: no other provider has them.
            "conversation_id" if !null => return Err(refuse(key, "Cohere stores the conversation")),
            "connectors" if !null && raw.trim() != "[]" => {
                return Err(refuse(key, "connectors search Cohere's data sources"))
            }
            "documents" if !null && raw.trim() != "[]" => {
                return Err(refuse(key, "grounding on documents with citations is Cohere's RAG"))
            }
            "search_queries_only" if parse::<Option<bool>>(raw, kp)? == Some(true) => {
                return Err(refuse(key, "search queries are generated by Cohere's RAG"))
            }
            "raw_prompting" if parse::<Option<bool>>(raw, kp)? == Some(true) => {
                return Err(refuse(key, "a raw prompt is Cohere's own template"))
            }
            "prompt_truncation" => {
                let mode = parse::<Option<String>>(raw, kp)?;
                if mode.as_deref().is_some_and(|m| !m.eq_ignore_ascii_case("OFF")) {
                    return Err(refuse(key, "Cohere truncates the prompt itself; send `OFF` or nothing"));
                }
            }
            // No effect elsewhere: a single-step hint, a citation style (citations need
            // documents, refused above), Cohere's safety preamble, and an input limit the target
            // enforces by its own rule.
            _ => {}
        }
    }
    if req.model.is_empty() {
        match default_model {
            Some(m) => req.model = m.to_string(),
            None => return Err(ConvertError::new("model", "missing model")),
        }
    }
    let mut calls: Vec<MadeCall> = Vec::new();
    if let Some(h) = history.filter(|h| !h.is_null()) {
        let hpath = JsonPath::ROOT.key("chat_history");
        let items: Vec<HistoryItemIn<'_>> = parse(h.as_raw_str(), &hpath)?;
        for (i, item) in items.into_iter().enumerate() {
            let p = hpath.index(i);
            let role = item.role.as_deref().unwrap_or_default();
            let text = item.message.filter(|m| !m.is_empty());
            match role.to_ascii_uppercase().as_str() {
                "USER" => push_turn(
                    &mut req.messages,
                    Role::User,
                    text.map(Part::text).into_iter().collect(),
                ),
                "SYSTEM" => req.system.extend(text.map(Part::text)),
                "CHATBOT" => {
                    let mut parts: Vec<Part> = text.map(Part::text).into_iter().collect();
                    let tpath = p.key("tool_calls");
                    for (j, call) in item.tool_calls.unwrap_or_default().into_iter().enumerate() {
                        let cpath = tpath.index(j);
                        let name = call
                            .name
                            .ok_or_else(|| ConvertError::new(cpath.key("name"), "missing name"))?;
                        let arguments = match &call.parameters {
                            Some(v) if !v.is_null() => v.as_raw_str().to_string(),
                            _ => "{}".to_string(),
                        };
                        let parameters: Json = parse(&arguments, &cpath.key("parameters"))?;
                        let id = format!("cohere_v1_{i}_{j}");
                        calls.push(MadeCall {
                            id: id.clone(),
                            name: name.clone(),
                            parameters,
                            answered: false,
                        });
                        parts.push(Part::ToolCall {
                            id,
                            name,
                            arguments,
                            signature: None,
                            extra: Extra::default(),
                        });
                    }
                    push_turn(&mut req.messages, Role::Assistant, parts);
                }
                "TOOL" => {
                    let list = item.tool_results.unwrap_or_default();
                    let r = results(list, &mut calls, &p.key("tool_results"), &format!("cohere_v1_{i}"))?;
                    push_results(&mut req.messages, r);
                }
                other => {
                    return Err(ConvertError::new(
                        p.key("role"),
                        format!("must be USER, CHATBOT, SYSTEM or TOOL, got {other:?}"),
                    ))
                }
            }
        }
    }
    let mut turn = None;
    if let Some(t) = tool_results.filter(|t| !t.is_null()) {
        let tpath = JsonPath::ROOT.key("tool_results");
        let list: Vec<ToolResultIn<'_>> = parse(t.as_raw_str(), &tpath)?;
        turn = Some(results(list, &mut calls, &tpath, "cohere_v1_turn")?).filter(|r| !r.results.is_empty());
    }
    let text = match message {
        Some(m) if !m.is_empty() => Some(Part::text(m)),
        Some(_) | None if turn.is_some() => None,
        Some(_) => return Err(ConvertError::new("message", "must not be empty without tool_results")),
        None => return Err(ConvertError::new("message", "missing message")),
    };
    match turn {
        // The single-step form: the question, the calls it led to, their results.
        Some(r) if !r.made_up.is_empty() => {
            push_turn(&mut req.messages, Role::User, text.into_iter().collect());
            push_results(&mut req.messages, r);
        }
        // Results of the history's calls, then the user's words in the same turn.
        Some(mut r) => {
            r.results.extend(text);
            push_results(&mut req.messages, r);
        }
        None => push_turn(&mut req.messages, Role::User, text.into_iter().collect()),
    }
    Ok(req)
}

// ---- the answer --------------------------------------------------------------------------------

/// The answer's `chat_history` up to the reply: the request's items as the client sent them,
/// then its `message` as a USER item and its `tool_results` as a TOOL item. Read from the
/// client's body once per request; the reply's CHATBOT item is added when it is known.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Comma-separated JSON items (no brackets), empty when there are none.
    items: String,
}

impl History {
    /// From the client's body (already decoded once, so well-formed; anything unreadable is left
    /// out rather than failing an answer).
    pub fn of(body: &[u8]) -> History {
        let mut items = String::new();
        let mut add = |item: &str| {
            if !items.is_empty() {
                items.push(',');
            }
            items.push_str(item);
        };
        let mut message = None;
        let mut results = None;
        for (key, value) in sonic_rs::to_object_iter(body).flatten() {
            match &*key {
                "chat_history" => {
                    let list: Vec<LazyValue<'_>> = sonic_rs::from_str(value.as_raw_str()).unwrap_or_default();
                    for item in &list {
                        add(item.as_raw_str());
                    }
                }
                "message" => message = sonic_rs::from_str::<String>(value.as_raw_str()).ok(),
                "tool_results" if !value.is_null() => results = Some(value.as_raw_str().to_string()),
                _ => {}
            }
        }
        if let Some(m) = message.filter(|m| !m.is_empty()) {
            let mut b = Vec::with_capacity(m.len() + 32);
            b.extend_from_slice(b"{\"role\":\"USER\",\"message\":");
            string(&mut b, &m);
            b.push(b'}');
            add(&String::from_utf8_lossy(&b));
        }
        if let Some(r) = results {
            add(&format!("{{\"role\":\"TOOL\",\"tool_results\":{r}}}"));
        }
        History { items }
    }
}

/// A JSON string, escaped by sonic-rs.
fn string(b: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = sonic_rs::to_writer(&mut *b, s);
}

/// Canonical -> v1 `finish_reason`. v1 has no tool-call reason (a tool turn is `COMPLETE`) and
/// names a filtered answer `ERROR_TOXIC` and a context overflow `ERROR_LIMIT`.
pub fn finish_to_v1(f: &FinishReason) -> &'static str {
    match f {
        FinishReason::Stop | FinishReason::ToolCalls => "COMPLETE",
        FinishReason::StopSequence => "STOP_SEQUENCE",
        FinishReason::Length => "MAX_TOKENS",
        FinishReason::ContentFilter => "ERROR_TOXIC",
        FinishReason::Error => "ERROR",
        FinishReason::Other(s) => match s.as_str() {
            "TIMEOUT" => "TIMEOUT",
            "model_context_window_exceeded" => "ERROR_LIMIT",
            "malformed_model_output" | "malformed_tool_use" | "MALFORMED_FUNCTION_CALL" | "MALFORMED_RESPONSE" => {
                "ERROR"
            }
            _ => "COMPLETE",
        },
    }
}

/// A call's arguments as the `parameters` object: the text itself when it is a JSON object,
/// else `{}` (v1 has no place for anything else).
fn parameters(arguments: &str) -> &str {
    crate::formats::tool_args::object_text(arguments).unwrap_or("{}")
}

/// `[{"name":..,"parameters":{..}}, ...]`.
fn write_calls<'a>(b: &mut Vec<u8>, calls: impl Iterator<Item = (&'a str, &'a str)>) {
    b.push(b'[');
    for (i, (name, arguments)) in calls.enumerate() {
        if i > 0 {
            b.push(b',');
        }
        b.extend_from_slice(b"{\"name\":");
        string(b, name);
        b.extend_from_slice(b",\"parameters\":");
        b.extend_from_slice(parameters(arguments).as_bytes());
        b.push(b'}');
    }
    b.push(b']');
}

/// What a v1 answer says, however it was produced (whole or streamed).
struct Reply<'a> {
    response_id: &'a str,
    generation_id: &'a str,
    text: &'a str,
    /// (name, arguments) of each call.
    calls: &'a [(&'a str, &'a str)],
    finish: &'static str,
    usage: &'a Usage,
}

/// The `NonStreamedChatResponse` body, in the real API's key order.
fn write_reply(b: &mut Vec<u8>, r: &Reply<'_>, history: &History) {
    b.extend_from_slice(b"{\"response_id\":");
    string(b, r.response_id);
    b.extend_from_slice(b",\"text\":");
    string(b, r.text);
    b.extend_from_slice(b",\"generation_id\":");
    string(b, r.generation_id);
    b.extend_from_slice(b",\"chat_history\":[");
    b.extend_from_slice(history.items.as_bytes());
    if !history.items.is_empty() {
        b.push(b',');
    }
    b.extend_from_slice(b"{\"role\":\"CHATBOT\",\"message\":");
    string(b, r.text);
    if !r.calls.is_empty() {
        b.extend_from_slice(b",\"tool_calls\":");
        write_calls(b, r.calls.iter().copied());
    }
    b.extend_from_slice(b"}],\"finish_reason\":");
    string(b, r.finish);
    b.extend_from_slice(b",\"meta\":{\"api_version\":{\"version\":\"1\"},");
    // `billed_units`, `tokens` (and `cached_tokens`): v2's usage object, inside `meta`.
    let usage = sonic_rs::to_vec(&usage_to_cohere(r.usage)).unwrap_or_else(|_| b"{}".to_vec());
    b.extend_from_slice(&usage[1..]);
    if !r.calls.is_empty() {
        b.extend_from_slice(b",\"tool_calls\":");
        write_calls(b, r.calls.iter().copied());
    }
    b.push(b'}');
}

/// A generation id (Cohere's are UUIDs) for an answer whose response id is `id`.
fn generation_id(id: &str) -> String {
    // FNV-1a: the same answer always gets the same generation id.
    let seed = id.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    uuid_like(seed)
}

/// A response id for an answer whose upstream gave none.
fn response_id(id: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    match id {
        "" => uuid_like(NEXT.fetch_add(1, Ordering::Relaxed)),
        id => id.to_string(),
    }
}

/// Integration: canonical -> a `/v1/chat` success body, with `history` (from the request) plus
/// the reply as its `chat_history`.
pub fn encode_response(resp: &ChatResponse, history: &History) -> Vec<u8> {
    let mut text = String::new();
    let mut calls = Vec::new();
    for part in &resp.content {
        match part {
            Part::Text { text: t, .. } => text.push_str(t),
            Part::ToolCall { name, arguments, .. } => calls.push((name.as_str(), arguments.as_str())),
            // Not in v1's answer: it has no reasoning, media or results.
            _ => {}
        }
    }
    let response_id = response_id(&resp.id);
    let reply = Reply {
        generation_id: &generation_id(&response_id),
        response_id: &response_id,
        text: &text,
        calls: &calls,
        finish: finish_to_v1(&resp.finish),
        usage: &resp.usage,
    };
    let mut b = Vec::with_capacity(256 + text.len() + history.items.len());
    write_reply(&mut b, &reply, history);
    b
}

// ---- the stream --------------------------------------------------------------------------------

/// Canonical events -> v1 stream lines (one compact JSON object and `\n` each).
pub struct V1StreamEncoder {
    history: History,
    started: bool,
    response_id: String,
    generation_id: String,
    /// The whole text so far: `stream-end` repeats the answer.
    text: String,
    /// Calls: (canonical index, name, arguments so far).
    calls: Vec<(u32, String, String)>,
    usage: Usage,
    finish: Option<FinishReason>,
    closed: bool,
    /// Text before the first call goes out as the tool plan (`tool-calls-chunk` text), for a
    /// source that knows the turn calls tools (the mock); a live upstream's text is never held.
    plan_first: bool,
}

impl V1StreamEncoder {
    /// `body` is the client's request (the answer repeats its history).
    pub fn new(body: &[u8]) -> Self {
        V1StreamEncoder {
            history: History::of(body),
            started: false,
            response_id: String::new(),
            generation_id: String::new(),
            text: String::new(),
            calls: Vec::new(),
            usage: Usage::default(),
            finish: None,
            closed: false,
            plan_first: false,
        }
    }

    /// An encoder for a stream whose `stream-start` went out already, from a relayed upstream
    /// stream: only its end is written here (the in-stream error of a cut-short relay).
    pub fn after_start() -> Self {
        let mut e = V1StreamEncoder::new(b"");
        e.start(&mut Vec::new());
        e
    }

    pub fn plan_first(mut self) -> Self {
        self.plan_first = true;
        self
    }

    /// `{"is_finished":false,"event_type":"<kind>"` then `rest`, `}` and the line end.
    fn line(out: &mut Vec<u8>, kind: &str, rest: impl FnOnce(&mut Vec<u8>)) {
        let from = out.len();
        out.extend_from_slice(b"{\"is_finished\":false,\"event_type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.push(b'"');
        rest(out);
        out.extend_from_slice(b"}\n");
        escape_line_separators(out, from);
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        self.response_id = response_id(&self.response_id);
        self.generation_id = generation_id(&self.response_id);
        let id = &self.generation_id;
        Self::line(out, "stream-start", |b| {
            b.extend_from_slice(b",\"generation_id\":");
            string(b, id);
        });
    }

    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        self.start(out);
        self.text.push_str(text);
        if self.plan_first && self.calls.is_empty() {
            Self::line(out, "tool-calls-chunk", |b| {
                b.extend_from_slice(b",\"tool_call_delta\":{\"text\":");
                string(b, text);
                b.extend_from_slice(b"},\"text\":");
                string(b, text);
            });
        } else {
            Self::line(out, "text-generation", |b| {
                b.extend_from_slice(b",\"text\":");
                string(b, text);
            });
        }
    }

    fn call_start(&mut self, index: u32, name: &str, out: &mut Vec<u8>) {
        self.start(out);
        let n = self.calls.len();
        self.calls.push((index, name.to_string(), String::new()));
        Self::line(out, "tool-calls-chunk", |b| {
            b.extend_from_slice(b",\"tool_call_delta\":{\"index\":");
            b.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            b.extend_from_slice(b",\"name\":");
            string(b, name);
            b.push(b'}');
        });
    }

    fn call_delta(&mut self, index: u32, arguments: &str, out: &mut Vec<u8>) {
        // The latest call at that index (an upstream may interleave parallel calls).
        let Some(n) = self.calls.iter().rposition(|(i, _, _)| *i == index) else {
            return;
        };
        self.calls[n].2.push_str(arguments);
        Self::line(out, "tool-calls-chunk", |b| {
            b.extend_from_slice(b",\"tool_call_delta\":{\"index\":");
            b.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            b.extend_from_slice(b",\"parameters\":");
            string(b, arguments);
            b.push(b'}');
        });
    }

    /// `tool-calls-generation` (when there were calls), then `stream-end` with the whole answer.
    fn end(&mut self, finish: &'static str, error: Option<&str>, out: &mut Vec<u8>) {
        self.start(out);
        self.closed = true;
        let calls: Vec<(&str, &str)> = self.calls.iter().map(|(_, n, a)| (n.as_str(), a.as_str())).collect();
        if !calls.is_empty() && error.is_none() {
            let text = &self.text;
            Self::line(out, "tool-calls-generation", |b| {
                if !text.is_empty() {
                    b.extend_from_slice(b",\"text\":");
                    string(b, text);
                }
                b.extend_from_slice(b",\"tool_calls\":");
                write_calls(b, calls.iter().copied());
            });
        }
        let end_from = out.len();
        out.extend_from_slice(b"{\"is_finished\":true,\"event_type\":\"stream-end\"");
        if let Some(e) = error {
            // v1 has no error field: an added one, for the client that looks (the SDK keeps
            // unknown fields), next to `finish_reason: ERROR`.
            out.extend_from_slice(b",\"error\":");
            string(out, e);
        }
        out.extend_from_slice(b",\"response\":");
        let reply = Reply {
            response_id: &self.response_id,
            generation_id: &self.generation_id,
            text: &self.text,
            calls: &calls,
            finish,
            usage: &self.usage,
        };
        write_reply(out, &reply, &self.history);
        out.extend_from_slice(b",\"finish_reason\":");
        string(out, finish);
        out.extend_from_slice(b"}\n");
        escape_line_separators(out, end_from);
    }
}

/// Rewrites U+2028, U+2029 and U+0085 in the line written to `out` from `from` on as JSON escapes.
/// The cohere SDK reads a v1 stream with httpx's `iter_lines`, which splits where
/// `str.splitlines()` does, and silently skips the pieces that are not JSON (`stream-end`
/// among them). sonic-rs leaves these characters raw; the history items are the client's bytes.
fn escape_line_separators(out: &mut Vec<u8>, from: usize) {
    // Allocates only when a separator is found.
    let mut escaped = Vec::new();
    if escape_js_line_separators(&out[from..], &mut escaped) {
        out.truncate(from);
        out.extend_from_slice(&escaped);
    }
}

impl StreamEncode for V1StreamEncoder {
    fn content_type(&self) -> &'static str {
        STREAM_CONTENT_TYPE
    }

    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        match event {
            StreamEvent::Start { id, .. } => {
                if !self.started {
                    self.response_id.clone_from(id);
                    self.start(out);
                }
            }
            StreamEvent::TextDelta { text, .. } => self.text(text, out),
            StreamEvent::ToolCallStart { index, name, .. } => self.call_start(*index, name, out),
            StreamEvent::ToolCallDelta { index, arguments } => self.call_delta(*index, arguments, out),
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::Finish { reason, .. } => {
                if self.finish.is_none() {
                    self.finish = Some(reason.clone());
                }
            }
            StreamEvent::Error { status, message } => self.error(*status, message, out),
            // v1 has no reasoning, block framing, refusal (its text is written as text) or log
            // probabilities.
            StreamEvent::ThinkingDelta { .. }
            | StreamEvent::Refusal { .. }
            | StreamEvent::ThinkingSignature { .. }
            | StreamEvent::RedactedThinking { .. }
            | StreamEvent::BlockStop { .. }
            | StreamEvent::Logprobs(_) => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        let finish = finish_to_v1(self.finish.as_ref().unwrap_or(&FinishReason::Stop));
        self.end(finish, None, out);
    }

    fn error(&mut self, _status: u16, message: &str, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        self.end("ERROR", Some(message), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::stream::{events_from_response, ArgumentsNeverEmpty};
    use sonic_rs::JsonContainerTrait;

    fn json(b: &[u8]) -> Json {
        sonic_rs::from_slice(b).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
    }

    const LOOP: &str = r#"{"model":"m","message":"","preamble":"be brief",
        "chat_history":[{"role":"SYSTEM","message":"sys"},{"role":"USER","message":"weather?"},
          {"role":"CHATBOT","message":"Let me check.","tool_calls":[
            {"name":"get_weather","parameters":{"city":"Paris"}},
            {"name":"get_weather","parameters":{"city":"Rome"}}]}],
        "tool_results":[
          {"call":{"name":"get_weather","parameters":{"city":"Rome"}},"outputs":[{"temp": "20C"}]},
          {"call":{"name":"get_weather","parameters":{"city":"Paris"}},"outputs":[{"a":1},{"b":2}]}],
        "tools":[{"name":"get_weather","description":"d","parameter_definitions":{
          "city":{"type":"str","description":"c","required":true},"days":{"type":"List[int]"},"x":{"type":"Foo"}}}],
        "temperature":0.5,"max_tokens":10,"k":3,"p":0.9,"stop_sequences":["x"],"force_single_step":true}"#;

    #[test]
    fn a_tool_loop_decodes_with_results_matched_to_their_calls() {
        let r = decode_request(LOOP.as_bytes()).unwrap();
        assert_eq!(r.system, vec![Part::text("be brief"), Part::text("sys")]);
        assert_eq!(r.messages.len(), 3);
        assert_eq!(r.messages[0].content, vec![Part::text("weather?")]);
        let ids: Vec<&str> = r.messages[1]
            .content
            .iter()
            .filter_map(|p| match p {
                Part::ToolCall { id, arguments, .. } => {
                    assert!(arguments.starts_with("{\"city\""), "{arguments}");
                    Some(id.as_str())
                }
                _ => None,
            })
            .collect();
        assert_eq!(ids, ["cohere_v1_2_0", "cohere_v1_2_1"]);
        // Results in the client's order, each with its call's id; one output is the object as
        // sent, several the array.
        let results: Vec<(&str, &ToolResultContent)> = r.messages[2]
            .content
            .iter()
            .filter_map(|p| match p {
                Part::ToolResult { id, content, .. } => Some((id.as_str(), &content[0])),
                _ => None,
            })
            .collect();
        assert_eq!(
            results,
            [
                ("cohere_v1_2_1", &ToolResultContent::Text(r#"{"temp": "20C"}"#.into())),
                ("cohere_v1_2_0", &ToolResultContent::Text(r#"[{"a":1},{"b":2}]"#.into())),
            ]
        );
        let params = &r.tools[0].parameters.value();
        assert_eq!(params["properties"]["city"]["type"].as_str(), Some("string"));
        assert_eq!(params["properties"]["days"]["type"].as_str(), Some("array"));
        assert!(params["properties"]["x"].get("type").is_none());
        assert_eq!(params["required"][0].as_str(), Some("city"));
        assert_eq!((r.top_k, r.top_p, r.max_tokens), (Some(3), Some(0.9), Some(10)));
    }

    #[test]
    fn cohere_only_fields_are_refused_by_name() {
        for (field, value) in [
            ("conversation_id", r#""c1""#),
            ("connectors", r#"[{"id":"web-search"}]"#),
            ("documents", r#"[{"title":"t","snippet":"s"}]"#),
            ("search_queries_only", "true"),
            ("raw_prompting", "true"),
            ("prompt_truncation", r#""AUTO""#),
        ] {
            let body = format!(r#"{{"model":"m","message":"hi","{field}":{value}}}"#);
            let e = decode_request(body.as_bytes()).unwrap_err();
            assert!(e.to_string().contains(field), "{field}: {e}");
        }
        for (field, value) in [
            ("prompt_truncation", r#""OFF""#),
            ("documents", "[]"),
            ("search_queries_only", "false"),
        ] {
            let body = format!(r#"{{"model":"m","message":"hi","{field}":{value}}}"#);
            assert!(decode_request(body.as_bytes()).is_ok(), "{field}");
        }
        for body in [
            r#"{"model":"m"}"#,
            r#"{"model":"m","message":""}"#,
            r#"{"message":"hi"}"#,
            "[]",
            "{",
        ] {
            assert!(decode_request(body.as_bytes()).is_err(), "{body}");
        }
    }

    #[test]
    fn results_without_their_calls_get_calls_made_from_them() {
        // Cohere's single-step form: the question again, with the results, and no history.
        let body = r#"{"model":"m","message":"weather?","tool_results":[
            {"call":{"name":"get_weather","parameters":{"city":"Paris"}},"outputs":[{"t":1}]},
            {"call":{"name":"get_weather","parameters":{"city":"Rome"}},"outputs":[{"t":2}]}]}"#;
        let r = decode_request(body.as_bytes()).unwrap();
        let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::User, Role::Assistant, Role::User]);
        assert_eq!(r.messages[0].content, vec![Part::text("weather?")]);
        let calls: Vec<(&str, &str)> = r.messages[1]
            .content
            .iter()
            .filter_map(|p| match p {
                Part::ToolCall { id, arguments, .. } => Some((id.as_str(), arguments.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(
            calls,
            [
                ("cohere_v1_turn_0", r#"{"city":"Paris"}"#),
                ("cohere_v1_turn_1", r#"{"city":"Rome"}"#)
            ]
        );
        let ids: Vec<&str> = r.messages[2]
            .content
            .iter()
            .filter_map(|p| match p {
                Part::ToolResult { id, .. } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(ids, ["cohere_v1_turn_0", "cohere_v1_turn_1"]);
        // A result whose parameters differ from its call's still answers that call (by name).
        let body = r#"{"model":"m","message":"","chat_history":[{"role":"USER","message":"q"},
            {"role":"CHATBOT","message":"","tool_calls":[{"name":"f","parameters":{"a":1}}]}],
            "tool_results":[{"call":{"name":"f","parameters":{"a":2}},"outputs":[{}]}]}"#;
        let r = decode_request(body.as_bytes()).unwrap();
        assert_eq!(r.messages.len(), 3);
        assert!(matches!(&r.messages[2].content[0], Part::ToolResult { id, .. } if id == "cohere_v1_1_0"));
    }

    fn answer() -> ChatResponse {
        ChatResponse {
            id: "r1".into(),
            model: "m".into(),
            content: vec![
                Part::text("Let me check."),
                Part::ToolCall {
                    id: "c".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into(),
                    signature: None,
                    extra: Extra::default(),
                },
            ],
            finish: FinishReason::ToolCalls,
            usage: Usage {
                input: 7,
                output: 3,
                ..Usage::default()
            },
            stop_sequence: None,
            created: 0,
            logprobs: Vec::new(),
        }
    }

    #[test]
    fn the_answer_repeats_the_history_with_the_new_turns() {
        let body = br#"{"model":"m","message":"weather?","chat_history":[{"role":"USER", "message":"hi"},{"role":"CHATBOT","message":"hello"}]}"#;
        let out = encode_response(&answer(), &History::of(body));
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"response_id":"r1","text":"Let me check.","generation_id":""#),
            "{text}"
        );
        let v = json(&out);
        assert_eq!(v["finish_reason"].as_str(), Some("COMPLETE"));
        let history = v["chat_history"].as_array().unwrap();
        let roles: Vec<&str> = history.iter().map(|h| h["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["USER", "CHATBOT", "USER", "CHATBOT"]);
        assert_eq!(history[2]["message"].as_str(), Some("weather?"));
        assert_eq!(
            history[3]["tool_calls"][0]["parameters"]["city"].as_str(),
            Some("Paris")
        );
        assert_eq!(v["tool_calls"][0]["name"].as_str(), Some("get_weather"));
        assert_eq!(v["meta"]["api_version"]["version"].as_str(), Some("1"));
        assert_eq!(v["meta"]["tokens"]["input_tokens"].as_u64(), Some(7));
        assert_eq!(v["meta"]["billed_units"]["output_tokens"].as_u64(), Some(3));
        // The answer's history, sent back with the results, decodes to the same call ids.
        let next = format!(
            r#"{{"model":"m","message":"","chat_history":{},"tool_results":[{{"call":{},"outputs":[{{"t":1}}]}}]}}"#,
            v["chat_history"], v["tool_calls"][0]
        );
        let r = decode_request(next.as_bytes()).unwrap();
        let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [Role::User, Role::Assistant, Role::User, Role::Assistant, Role::User]
        );
        assert!(matches!(&r.messages[4].content[0], Part::ToolResult { id, .. } if id == "cohere_v1_3_0"));
        // A result on the history's TOOL item, then the answer's: TOOL joins the history.
        let h = History::of(next.as_bytes());
        assert!(h.items.ends_with(r#"{"role":"TOOL","tool_results":[{"call":{"name":"get_weather","parameters":{"city":"Paris"}},"outputs":[{"t":1}]}]}"#), "{}", h.items);
    }

    fn lines(b: &[u8]) -> Vec<Json> {
        let text = std::str::from_utf8(b).unwrap();
        assert!(text.ends_with('\n'));
        text.lines().map(|l| json(l.as_bytes())).collect()
    }

    #[test]
    fn a_stream_is_json_lines_ending_with_the_whole_answer() {
        let resp = answer();
        let events = events_from_response(&resp, 3);
        let mut enc = ArgumentsNeverEmpty::new(V1StreamEncoder::new(br#"{"model":"m","message":"q"}"#));
        let mut out = Vec::new();
        for e in &events {
            enc.encode(e, &mut out);
        }
        enc.finish(&mut out);
        let ls = lines(&out);
        let kinds: Vec<&str> = ls.iter().map(|l| l["event_type"].as_str().unwrap()).collect();
        assert_eq!(kinds.first(), Some(&"stream-start"));
        assert_eq!(&kinds[kinds.len() - 2..], ["tool-calls-generation", "stream-end"]);
        let text: String = ls
            .iter()
            .filter(|l| l["event_type"].as_str() == Some("text-generation"))
            .map(|l| l["text"].as_str().unwrap())
            .collect();
        assert_eq!(text, "Let me check.");
        let args: String = ls
            .iter()
            .filter_map(|l| l["tool_call_delta"]["parameters"].as_str())
            .collect();
        assert_eq!(args, r#"{"city":"Paris"}"#);
        let end = ls.last().unwrap();
        assert_eq!(end["is_finished"].as_bool(), Some(true));
        assert!(ls[..ls.len() - 1]
            .iter()
            .all(|l| l["is_finished"].as_bool() == Some(false)));
        assert_eq!(end["finish_reason"].as_str(), Some("COMPLETE"));
        // `stream-end` holds the same answer as the unstreamed one.
        let whole = json(&encode_response(&resp, &History::of(br#"{"model":"m","message":"q"}"#)));
        for key in ["text", "finish_reason", "tool_calls", "chat_history", "meta"] {
            assert_eq!(end["response"][key], whole[key], "{key}");
        }
    }

    #[test]
    fn a_failed_stream_ends_with_error_and_the_text_so_far() {
        let mut enc = V1StreamEncoder::new(b"{}").plan_first();
        let mut out = Vec::new();
        enc.encode(
            &StreamEvent::TextDelta {
                index: 0,
                text: "plan".into(),
            },
            &mut out,
        );
        enc.error(500, "boom", &mut out);
        enc.finish(&mut out);
        let ls = lines(&out);
        assert_eq!(ls.len(), 3, "start, plan chunk, end");
        assert_eq!(ls[1]["event_type"].as_str(), Some("tool-calls-chunk"));
        assert_eq!(ls[1]["text"].as_str(), Some("plan"));
        assert_eq!(ls[2]["finish_reason"].as_str(), Some("ERROR"));
        assert_eq!(ls[2]["error"].as_str(), Some("boom"));
        assert_eq!(ls[2]["response"]["text"].as_str(), Some("plan"));
    }

    #[test]
    fn line_separators_in_stream_strings_are_escaped() {
        // What httpx's `iter_lines` (str.splitlines) breaks a line at, besides `\n` and `\r`.
        const BREAKS: [char; 8] = [
            '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}', '\u{2029}',
        ];
        let text = "a\u{2028}b\u{2029}c\u{85}d";
        // The history's items are the client's bytes, raw separators included.
        let body = "{\"message\":\"q\u{2028}\",\"chat_history\":[{\"role\":\"USER\",\"message\":\"h\u{2029}\"}]}";
        for fail in [false, true] {
            let mut enc = V1StreamEncoder::new(body.as_bytes());
            let mut out = Vec::new();
            enc.encode(
                &StreamEvent::TextDelta {
                    index: 0,
                    text: text.into(),
                },
                &mut out,
            );
            enc.encode(
                &StreamEvent::ToolCallStart {
                    index: 1,
                    id: "c".into(),
                    name: "f\u{85}".into(),
                },
                &mut out,
            );
            enc.encode(
                &StreamEvent::ToolCallDelta {
                    index: 1,
                    arguments: "{\"x\":\"\u{2028}\"}".into(),
                },
                &mut out,
            );
            if fail {
                enc.error(500, "bo\u{2028}om", &mut out);
            } else {
                enc.finish(&mut out);
            }
            let wire = std::str::from_utf8(&out).unwrap();
            assert!(!wire.contains(BREAKS), "{wire}");
            let ls = lines(&out);
            let end = ls.last().unwrap();
            assert_eq!(end["event_type"].as_str(), Some("stream-end"));
            assert_eq!(ls[1]["text"].as_str(), Some(text));
            assert_eq!(end["response"]["text"].as_str(), Some(text));
            assert_eq!(
                end["response"]["chat_history"][0]["message"].as_str(),
                Some("h\u{2029}")
            );
            assert_eq!(
                end["response"]["chat_history"][1]["message"].as_str(),
                Some("q\u{2028}")
            );
            if fail {
                assert_eq!(end["error"].as_str(), Some("bo\u{2028}om"));
            } else {
                assert_eq!(end["response"]["tool_calls"][0]["name"].as_str(), Some("f\u{85}"));
                assert_eq!(
                    end["response"]["tool_calls"][0]["parameters"]["x"].as_str(),
                    Some("\u{2028}")
                );
            }
        }
    }

    #[test]
    fn finish_reasons_use_v1_names() {
        assert_eq!(finish_to_v1(&FinishReason::ToolCalls), "COMPLETE");
        assert_eq!(finish_to_v1(&FinishReason::Length), "MAX_TOKENS");
        assert_eq!(finish_to_v1(&FinishReason::ContentFilter), "ERROR_TOXIC");
        assert_eq!(
            finish_to_v1(&FinishReason::Other("model_context_window_exceeded".into())),
            "ERROR_LIMIT"
        );
        assert_eq!(parameters("not json"), "{}");
        assert_eq!(parameters("[1]"), "{}");
    }
}
