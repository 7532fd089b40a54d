//! Streamed mock answers in every format: the format-independent scenario answer
//! (`scenario::respond`) becomes canonical stream events (`events_from_response`), and the
//! format's own stream encoder writes them, one frame per event. Non-OpenAI formats stream only
//! through here; OpenAI keeps its hand-built chunks (`mock::openai`, the load-test path) except
//! for the scenarios below (`is_fault_scenario`).
//!
//! Stream scenarios, by model name, on top of the non-stream ones:
//! - contains `cutoff`: half of the events, then the connection closes without the format's end
//!   (a truncated upstream);
//! - contains `unfinished`: half of the events, then the body ends cleanly without the format's
//!   end (an upstream, or a proxy before it, that gave up without saying so);
//! - contains `midstream`: half of the events, then the format's in-stream error (status 500, or
//!   NNN for `midstream-NNN`, `midstream_status`);
//! - contains `stall`: half of the events, then nothing for `STALL` (an upstream that hangs in
//!   the middle of its answer: the gateway's `body_idle_timeout_ms` is for it), then the
//!   connection closes as for `cutoff`;
//! - contains `interleave`: the tool calls' events taken in turn (every call started, then the
//!   first argument fragment of each, then the next, ...), as an upstream that streams parallel
//!   calls at once may send them.

use super::{scenario, MockReply};
use crate::canonical::stream::{events_from_response, StreamEncode, StreamEvent};
use crate::canonical::{ChatRequest, FaultKind, UpstreamFault};
use crate::formats::{self, bedrock, gemini, Format};
use crate::http::Method;

/// How a mock stream ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// The format's normal end (`[DONE]`, `message_stop`, `metadata`, ...).
    Complete,
    /// The body just stops: no end marker, connection closed.
    CutOff,
    /// As `CutOff`, after `STALL` of silence.
    Stall,
    /// The body ends cleanly (its last chunk sent) after an event, without the end marker.
    Unfinished,
    /// The format's in-stream error after the events.
    Error { status: u16, message: String },
}

/// A stream ready to send: each frame is one write.
pub struct MockStream {
    pub content_type: &'static str,
    /// More head headers: the request id under the format's header, Bedrock's
    /// `x-amzn-bedrock-content-type` for InvokeModel streams.
    pub headers: Vec<(&'static str, String)>,
    pub frames: Vec<Vec<u8>>,
    pub body_end: BodyEnd,
}

/// What follows a mock stream's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEnd {
    /// The body's end (its last chunk).
    Clean,
    /// The connection closes without the body's end.
    Cut,
    /// Nothing for `STALL` (or until the client leaves), then `Cut`.
    Stall,
}

/// How long a `stall` stream stays silent before its connection closes.
pub const STALL: std::time::Duration = std::time::Duration::from_secs(10);

impl Ending {
    pub fn body_end(&self) -> BodyEnd {
        match self {
            Ending::CutOff => BodyEnd::Cut,
            Ending::Stall => BodyEnd::Stall,
            Ending::Complete | Ending::Unfinished | Ending::Error { .. } => BodyEnd::Clean,
        }
    }
}

/// Load-test stamping (`sluice-mock --stamp`): every text piece of a stream is this placeholder,
/// overwritten with the send time (microseconds since the Unix epoch, 16 digits) just before the
/// frame is written, so a client can measure each event's latency end to end.
pub const STAMP: &[u8; 16] = b"@@@@@@@@@@@@@@@@";

/// Makes the answer's text `pieces` stamp placeholders, so each streamed piece is exactly one.
pub fn stamp_text(resp: &mut crate::canonical::ChatResponse, pieces: usize) {
    for p in &mut resp.content {
        if let crate::canonical::Part::Text { text, .. } = p {
            *text = std::str::from_utf8(STAMP).unwrap_or_default().repeat(pieces.max(1));
        }
    }
}

/// Overwrites every stamp placeholder in a frame with the current time (SSE frames only: an
/// event-stream frame's CRC covers its payload).
pub fn stamp_frame(frame: &mut [u8]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let mut digits = [b'0'; 16];
    let mut n = now;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let mut at = 0;
    while let Some(i) = memchr::memmem::find(&frame[at..], STAMP) {
        frame[at + i..at + i + 16].copy_from_slice(&digits);
        at += i + 16;
    }
}

/// The status of the in-stream error a `midstream` model asks for: NNN in `midstream-NNN` (an
/// error status), else 500. Each format's encoder names it as its provider does (Anthropic
/// `overloaded_error` for 529, Bedrock `throttlingException` for 429, ...).
pub fn midstream_status(model: &str) -> u16 {
    model
        .split("midstream-")
        .nth(1)
        .and_then(|rest| rest.get(..3))
        .and_then(|d| d.parse().ok())
        .filter(|s| (400..600).contains(s))
        .unwrap_or(500)
}

/// Whether the model asks for a stream that fails or misbehaves (`cutoff`, `stall`,
/// `unfinished`, `midstream`, `interleave`).
pub fn is_fault_scenario(model: &str) -> bool {
    model.contains("cutoff")
        || model.contains("stall")
        || model.contains("unfinished")
        || model.contains("midstream")
        || model.contains("interleave")
}

/// Reorders the tool calls' events so that the calls stream in turn: each call's start, then
/// each call's first argument fragment, and so on, then their block stops. Other events keep
/// their places; the calls' events take the place of the first of them.
fn interleave_calls(events: &mut Vec<StreamEvent>) {
    let calls: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallStart { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    let is_call = |e: &StreamEvent| match e {
        StreamEvent::ToolCallStart { index, .. }
        | StreamEvent::ToolCallDelta { index, .. }
        | StreamEvent::BlockStop { index } => calls.contains(index),
        _ => false,
    };
    let Some(at) = events.iter().position(is_call) else {
        return;
    };
    let mut queues: Vec<std::collections::VecDeque<StreamEvent>> = calls.iter().map(|_| Default::default()).collect();
    let mut rest = Vec::with_capacity(events.len());
    for e in events.drain(..) {
        let call = match &e {
            StreamEvent::ToolCallStart { index, .. }
            | StreamEvent::ToolCallDelta { index, .. }
            | StreamEvent::BlockStop { index } => calls.iter().position(|c| c == index),
            _ => None,
        };
        match call {
            Some(i) => queues[i].push_back(e),
            None => rest.push(e),
        }
    }
    let mut turns = Vec::new();
    while queues.iter().any(|q| !q.is_empty()) {
        for q in &mut queues {
            if let Some(e) = q.pop_front() {
                turns.push(e);
            }
        }
    }
    rest.splice(at..at, turns);
    *events = rest;
}

/// A call whose arguments are `{}` streams them as one empty fragment, as Anthropic streams a
/// `tool_use` without input (`input: {}` at the start, then `partial_json: ""`). Each format's
/// encoder then writes what a client of that format must see.
fn stream_empty_arguments_as_anthropic_does(events: &mut Vec<StreamEvent>) {
    let mut args: Vec<(u32, String)> = Vec::new();
    for e in events.iter() {
        if let StreamEvent::ToolCallDelta { index, arguments } = e {
            match args.iter_mut().find(|(i, _)| i == index) {
                Some((_, a)) => a.push_str(arguments),
                None => args.push((*index, arguments.clone())),
            }
        }
    }
    let bare: Vec<u32> = args.into_iter().filter(|(_, a)| a == "{}").map(|(i, _)| i).collect();
    if bare.is_empty() {
        return;
    }
    events.retain(|e| !matches!(e, StreamEvent::ToolCallDelta { index, .. } if bare.contains(index)));
    let mut at = 0;
    while at < events.len() {
        if let StreamEvent::ToolCallStart { index, .. } = &events[at] {
            if bare.contains(index) {
                let index = *index;
                events.insert(
                    at + 1,
                    StreamEvent::ToolCallDelta {
                        index,
                        arguments: String::new(),
                    },
                );
                at += 1;
            }
        }
        at += 1;
    }
}

/// The scenario's events and ending for a streamed request.
pub fn scenario_events(
    req: &ChatRequest,
    id: &str,
    pieces: usize,
) -> Result<(Vec<StreamEvent>, Ending), UpstreamFault> {
    scenario_events_stamped(req, id, pieces, false, None)
}

/// `scenario_events`, with the text made of stamp placeholders when `stamp` is set.
pub fn scenario_events_stamped(
    req: &ChatRequest,
    id: &str,
    pieces: usize,
    stamp: bool,
    format: Option<Format>,
) -> Result<(Vec<StreamEvent>, Ending), UpstreamFault> {
    let mut resp = match format {
        Some(f) => scenario::respond_as(req, id, f)?,
        None => scenario::respond(req, id)?,
    };
    if stamp {
        stamp_text(&mut resp, pieces);
    }
    let mut events = events_from_response(&resp, pieces);
    count_the_prompt_first(&mut events, &resp.usage);
    stream_empty_arguments_as_anthropic_does(&mut events);
    if req.model.contains("interleave") {
        interleave_calls(&mut events);
    }
    let ending = if req.model.contains("cutoff") {
        Ending::CutOff
    } else if req.model.contains("stall") {
        Ending::Stall
    } else if req.model.contains("unfinished") {
        Ending::Unfinished
    } else if req.model.contains("midstream") {
        Ending::Error {
            status: midstream_status(&req.model),
            message: "mock mid-stream failure requested by model name".into(),
        }
    } else {
        Ending::Complete
    };
    if ending != Ending::Complete {
        // Keep the start and the first half of the content, never the finish.
        let keep = (events.len() / 2).max(3).min(events.len().saturating_sub(2));
        events.truncate(keep);
    }
    Ok((events, ending))
}

/// The prompt's count before `Start`, as real upstreams know it: Anthropic's `message_start`
/// carries it and every Gemini chunk does. Formats that report usage only at the end (OpenAI,
/// Bedrock, Cohere) keep it until the final `Usage`, which supersedes this one.
fn count_the_prompt_first(events: &mut Vec<StreamEvent>, usage: &crate::canonical::Usage) {
    let prompt = crate::canonical::Usage {
        input: usage.input,
        cache_read: usage.cache_read,
        cache_write: usage.cache_write,
        ..Default::default()
    };
    events.insert(0, StreamEvent::Usage(prompt));
}

/// The stream encoder for a mock answer of `events` to a client of `format`: the format's own,
/// except that a Cohere tool turn streams its text as the tool plan, as Cohere does (the mock
/// knows the whole answer in advance, which a gateway relaying a live upstream does not).
pub fn encoder(format: Format, invoke: bool, req: &ChatRequest, events: &[StreamEvent]) -> Box<dyn StreamEncode> {
    let calls = events.iter().any(|e| matches!(e, StreamEvent::ToolCallStart { .. }));
    if format == Format::Cohere && calls {
        let cohere = formats::cohere::stream::CohereStreamEncoder::new(req).plan_first();
        let cohere = crate::canonical::stream::SerialToolCalls::new(cohere);
        return Box::new(crate::canonical::stream::ArgumentsNeverEmpty::new(cohere));
    }
    formats::stream_encoder(format, invoke, req)
}

/// The Cohere v1 stream encoder for a mock answer of `events` to the request `body`: a tool turn
/// streams its text as the tool plan, as for v2 (`encoder`).
pub fn cohere_v1_encoder(body: &[u8], events: &[StreamEvent]) -> Box<dyn StreamEncode> {
    let calls = events.iter().any(|e| matches!(e, StreamEvent::ToolCallStart { .. }));
    let mut v1 = formats::cohere::v1chat::V1StreamEncoder::new(body);
    if calls {
        v1 = v1.plan_first();
    }
    Box::new(crate::canonical::stream::ArgumentsNeverEmpty::new(v1))
}

/// The InvokeModelWithResponseStream encoder for a mock answer of `events` in `family`'s
/// native events; a Cohere Command R tool turn streams its text as the tool plan, as in v1.
pub fn invoke_encoder(
    family: bedrock::invoke::InvokeFamily,
    req: &ChatRequest,
    body: &[u8],
    events: &[StreamEvent],
) -> Box<dyn StreamEncode> {
    use bedrock::invoke_stream::{NativeChunks, Split};
    let calls = events.iter().any(|e| matches!(e, StreamEvent::ToolCallStart { .. }));
    if family == bedrock::invoke::InvokeFamily::CohereCommandR && calls {
        let v1 = formats::cohere::v1chat::V1StreamEncoder::new(body).plan_first();
        let v1 = crate::canonical::stream::ArgumentsNeverEmpty::new(v1);
        return Box::new(NativeChunks::new(v1, Split::Lines));
    }
    bedrock::invoke_stream::stream_encoder(family, req, body)
}

/// Encodes events with `enc`, one frame per event that produced bytes, then the ending's frame.
pub fn encode_frames(enc: &mut dyn StreamEncode, events: &[StreamEvent], ending: &Ending) -> Vec<Vec<u8>> {
    let mut frames = Vec::with_capacity(events.len() + 1);
    for e in events {
        let mut out = Vec::new();
        enc.encode(e, &mut out);
        if !out.is_empty() {
            frames.push(out);
        }
    }
    let mut out = Vec::new();
    match ending {
        Ending::Complete => enc.finish(&mut out),
        Ending::CutOff | Ending::Stall | Ending::Unfinished => {}
        Ending::Error { status, message } => enc.error(*status, message, &mut out),
    }
    if !out.is_empty() {
        frames.push(out);
    }
    frames
}

/// Which streaming route a request is on, with its decoded body.
struct StreamRoute {
    format: Format,
    /// Bedrock InvokeModelWithResponseStream, with its body's model family.
    invoke: Option<bedrock::invoke::InvokeFamily>,
    /// OpenAI's Responses API rather than Chat Completions.
    responses: bool,
    /// Gemini without `alt=sse`: one JSON array instead of SSE, as the real API answers.
    json_array: bool,
    /// Cohere's v1 chat: JSON lines instead of SSE.
    cohere_v1: bool,
}

/// Answers a streaming request of any non-OpenAI format; None when the request is not one (a
/// non-stream request, another route). `Err` is an error before the stream (HTTP error reply).
pub fn serve(
    method: Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
    pieces: usize,
    stamp: bool,
) -> Option<Result<MockStream, MockReply>> {
    let (route, req) = match_route(path, query, body)?;
    // The JSON-array form wraps an error before the stream too: `[{"error":...}]`.
    let before = |mut r: MockReply| {
        if route.json_array {
            gemini::wrap_in_array(&mut r.body);
        }
        r
    };
    if method != Method::Post {
        return Some(Err(before(fault(route.format, 405, "streams take POST".into()))));
    }
    let req = match req {
        Ok(r) => r,
        Err(message) => return Some(Err(before(fault(route.format, 400, message)))),
    };
    let (id, request_id) = answer_ids(&route);
    Some(
        match scenario_events_stamped(&req, &id, pieces, stamp, Some(route.format)) {
            Ok((events, ending)) => {
                let mut enc: Box<dyn StreamEncode> = if route.json_array {
                    Box::new(gemini::stream::GeminiStreamEncoder::json_array(&req))
                } else if route.cohere_v1 {
                    cohere_v1_encoder(body, &events)
                } else if route.responses {
                    let responses = formats::openai::responses::ResponsesStreamEncoder::new(&req, body);
                    Box::new(crate::canonical::stream::ArgumentsNeverEmpty::new(responses))
                } else {
                    match route.invoke {
                        Some(family) => invoke_encoder(family, &req, body, &events),
                        None => encoder(route.format, false, &req, &events),
                    }
                };
                // As if the request had gone to a model that took the reported latency to answer
                // (Bedrock's stream metrics).
                let now = std::time::Instant::now();
                let latency = std::time::Duration::from_millis(super::reported_latency_ms());
                enc.request_sent_at(now.checked_sub(latency).unwrap_or(now));
                let mut headers: Vec<(&'static str, String)> = request_id.into_iter().collect();
                if route.invoke.is_some() {
                    let (name, value) = bedrock::invoke::STREAM_CONTENT_TYPE_HEADER;
                    headers.push((name, value.into()));
                }
                Ok(MockStream {
                    content_type: enc.content_type(),
                    headers,
                    body_end: ending.body_end(),
                    frames: encode_frames(enc.as_mut(), &events, &ending),
                })
            }
            Err(f) => Err(before(reply(route.format, f))),
        },
    )
}

/// `serve` for callers that want a whole reply: the stream's frames as one body (a cut-off
/// stream is just shorter). The per-format mocks answer their stream routes through this;
/// `target` may carry the query.
pub fn serve_whole(method: Method, target: &str, body: &[u8]) -> Option<MockReply> {
    let (path, query) = crate::http::request::split_target(target);
    Some(match serve(method, path, query, body, 4, false)? {
        Ok(s) => MockReply {
            status: 200,
            content_type: s.content_type,
            headers: s.headers,
            body: s.frames.concat(),
        },
        Err(r) => r,
    })
}

/// A streamed answer's id and request-id header, made as the same route's unstreamed answer
/// makes them (`mock::<format>`): each provider gives a message one id shape, streamed or not
/// (Anthropic `msg_...`, Cohere a UUID, a Claude Invoke body Bedrock's request id), and a
/// client that keys on it must not see the mock's streams apart.
fn answer_ids(route: &StreamRoute) -> (String, Option<(&'static str, String)>) {
    match route.format {
        Format::OpenAi if route.responses => (super::openai::next_id("mock"), request_id(route.format)),
        Format::OpenAi => (super::openai::next_id("chatcmpl-mock"), request_id(route.format)),
        Format::Anthropic => {
            let (id, request_id) = super::anthropic::message_ids();
            (id, Some(("request-id", request_id)))
        }
        Format::Gemini => (super::gemini::response_id(), request_id(route.format)),
        Format::Bedrock => {
            let header = request_id(route.format);
            (header.as_ref().map(|(_, id)| id.clone()).unwrap_or_default(), header)
        }
        Format::Cohere => (super::cohere::next_id(), request_id(route.format)),
    }
}

/// Recognises the streaming routes of Anthropic, Gemini, Bedrock and Cohere and decodes the body
/// (the model from the URL where the format keeps it there).
fn match_route(path: &str, query: Option<&str>, body: &[u8]) -> Option<(StreamRoute, Result<ChatRequest, String>)> {
    let err = |e: crate::canonical::ConvertError| e.to_string();
    let wants_stream = || crate::wire::json::peek(body).map(|p| p.stream).unwrap_or(false);
    if let Some((model, stream)) = gemini::parse_path(path) {
        if !stream {
            return None;
        }
        let route = StreamRoute {
            format: Format::Gemini,
            invoke: None,
            responses: false,
            json_array: !gemini::wants_sse(query),
            cohere_v1: false,
        };
        let decoded = gemini::decode_request(&super::gemini::stand_ins(body), Some(&model), true)
            .and_then(|r| super::chat_rules(Format::Gemini, &r, body).map(|()| r));
        return Some((route, decoded.map_err(err)));
    }
    if let Some((model, op)) = bedrock::parse_path(path) {
        let (invoke, decoded) = match op {
            bedrock::Operation::ConverseStream => (None, super::bedrock::decode_converse(body, &model, true)),
            bedrock::Operation::InvokeStream => (
                Some(bedrock::invoke::InvokeFamily::of_decoded(&model, body)),
                super::bedrock::decode_invoke(body, &model, true)
                    .and_then(|r| super::signature_rule(Format::Bedrock, &r, body).map(|()| r)),
            ),
            _ => return None,
        };
        let route = StreamRoute {
            format: Format::Bedrock,
            invoke,
            responses: false,
            json_array: false,
            cohere_v1: false,
        };
        return Some((route, decoded.map_err(err)));
    }
    if path == "/v1/responses" || path == "/responses" {
        if !wants_stream() {
            return None;
        }
        let route = StreamRoute {
            format: Format::OpenAi,
            invoke: None,
            responses: true,
            json_array: false,
            cohere_v1: false,
        };
        let decoded = formats::openai::responses::decode_request(body)
            .and_then(|r| super::chat_rules(Format::OpenAi, &r, body).map(|()| r));
        return Some((route, decoded.map_err(err)));
    }
    if path == "/v1/chat" || path == "/cohere/v1/chat" {
        if !wants_stream() {
            return None;
        }
        let route = StreamRoute {
            format: Format::Cohere,
            invoke: None,
            responses: false,
            json_array: false,
            cohere_v1: true,
        };
        // Not v2's `upstream_rules`: a v1 CHATBOT item has its text beside its `tool_calls`.
        let decoded = formats::cohere::v1chat::decode_request(&super::cohere::without_documents(body));
        return Some((route, decoded.map_err(err)));
    }
    let format = match path {
        "/v1/messages" | "/anthropic/v1/messages" => Format::Anthropic,
        "/v2/chat" | "/cohere/v2/chat" => Format::Cohere,
        "/v1/chat/completions" | "/chat/completions" => Format::OpenAi,
        _ => return None,
    };
    if !wants_stream() {
        return None;
    }
    if format == Format::OpenAi {
        let model = crate::wire::json::peek(body)
            .ok()
            .and_then(|p| p.model)
            .unwrap_or_default();
        if !is_fault_scenario(&model) {
            return None;
        }
    }
    let codec = formats::codec(format)?;
    let route = StreamRoute {
        format,
        invoke: None,
        responses: false,
        json_array: false,
        cohere_v1: false,
    };
    let body = match format {
        Format::Anthropic => super::anthropic::stand_ins(body),
        _ => std::borrow::Cow::Borrowed(body),
    };
    let decoded =
        (codec.decode_request)(&body, None, true).and_then(|r| super::chat_rules(format, &r, &body).map(|()| r));
    Some((route, decoded.map_err(err)))
}

fn fault(format: Format, status: u16, message: String) -> MockReply {
    reply(
        format,
        UpstreamFault {
            status,
            kind: FaultKind::from_status(status),
            message,
        },
    )
}

fn reply(format: Format, f: UpstreamFault) -> MockReply {
    // The mock's other OpenAI answers' error body (`model_not_found`, ...), as OpenAI answers
    // a request the same whether it asked for a stream or not.
    let openai = (format == Format::OpenAi).then(|| super::openai::error_body(f.status, &f.message));
    let mut e = match formats::codec(format) {
        Some(c) => (c.encode_error)(&f),
        None => formats::render_error(format, &crate::error::GatewayError::UpstreamFault(f)),
    };
    if let Some(body) = openai {
        e.body = body;
    }
    let mut headers = e.headers;
    // Anthropic's error encoder names the request in its body and header already.
    if let Some((name, id)) = request_id(format).filter(|(n, _)| !headers.iter().any(|(h, _)| h == n)) {
        headers.push((name, id));
    }
    MockReply {
        status: e.status,
        content_type: e.content_type,
        headers,
        body: e.body,
    }
}

/// A request id under the header the format's SDK reads (`request-id` for Anthropic,
/// `x-amzn-RequestId` for Bedrock, ...), as the provider sends on every answer.
fn request_id(format: Format) -> Option<(&'static str, String)> {
    match format {
        // A UUID, as Bedrock's and the mock's unstreamed Bedrock answers' (errors too).
        Format::Bedrock => Some(("x-amzn-RequestId", super::bedrock::request_id())),
        _ => crate::proxy::translate::mock_request_id(format),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{Message, Part, Role};

    /// An id without its count: what stays the same from one answer to the next.
    fn id_shape(id: &str) -> &str {
        id.trim_end_matches(|c: char| c.is_ascii_hexdigit() || c == '-')
    }

    /// The first `"key":"..."` string in a body (JSON, SSE or JSON lines).
    fn first_string(body: &[u8], key: &str) -> String {
        let text = String::from_utf8_lossy(body);
        let start = text
            .find(&format!("\"{key}\":\""))
            .unwrap_or_else(|| panic!("no {key} in {text}"));
        let rest = &text[start + key.len() + 4..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    /// sluice-mock gave its streams ids of their own (`mock-stream-N`) where every route's
    /// unstreamed answer has its provider's shape (`msg_...`, a UUID, `mock-gemini-N`), and a
    /// Bedrock stream a request id of Sluice's shape: a provider names an answer alike either way.
    #[test]
    fn streamed_answers_carry_the_unstreamed_answers_ids() {
        let header = |r: &MockReply, name: &str| {
            r.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("no {name}"))
        };
        let post = Method::Post;
        let anthropic = r#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]STREAM}"#;
        let gemini = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;
        let cohere = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]STREAM}"#;
        let cohere_v1 = r#"{"model":"m","message":"hi"STREAM}"#;
        let responses = r#"{"model":"m","input":"hi"STREAM}"#;
        let converse = r#"{"messages":[{"role":"user","content":[{"text":"hi"}]}]}"#;
        let with = |body: &str, stream: bool| body.replace("STREAM", if stream { r#","stream":true"# } else { "" });
        // (what, unstreamed answer, streamed answer, the id's key)
        let cases = [
            (
                "anthropic",
                super::super::anthropic::serve(post, "/v1/messages", with(anthropic, false).as_bytes()),
                serve_whole(post, "/v1/messages", with(anthropic, true).as_bytes()),
                "id",
            ),
            (
                "gemini",
                super::super::gemini::serve(post, "/v1beta/models/m:generateContent", gemini.as_bytes()),
                serve_whole(
                    post,
                    "/v1beta/models/m:streamGenerateContent?alt=sse",
                    gemini.as_bytes(),
                ),
                "responseId",
            ),
            (
                "cohere v2",
                super::super::cohere::serve(post, "/v2/chat", with(cohere, false).as_bytes()),
                serve_whole(post, "/v2/chat", with(cohere, true).as_bytes()),
                "id",
            ),
            (
                "cohere v1",
                super::super::cohere::serve(post, "/v1/chat", with(cohere_v1, false).as_bytes()),
                serve_whole(post, "/v1/chat", with(cohere_v1, true).as_bytes()),
                "response_id",
            ),
            (
                "responses",
                super::super::openai::serve_responses(post, "/v1/responses", with(responses, false).as_bytes()),
                serve_whole(post, "/v1/responses", with(responses, true).as_bytes()),
                "id",
            ),
        ];
        for (what, unary, streamed, key) in cases {
            let (unary, streamed) = (unary.unwrap(), streamed.unwrap());
            assert_eq!((unary.status, streamed.status), (200, 200), "{what}");
            let (a, b) = (first_string(&unary.body, key), first_string(&streamed.body, key));
            assert_eq!(id_shape(&a), id_shape(&b), "{what}: {a} streamed as {b}");
            assert_ne!(a, b, "{what}: two answers, two ids");
        }
        // The request id under the header each format's SDK reads, and (Bedrock) the Converse
        // answer's only id.
        let unary = super::super::anthropic::serve(post, "/v1/messages", with(anthropic, false).as_bytes()).unwrap();
        let streamed = serve_whole(post, "/v1/messages", with(anthropic, true).as_bytes()).unwrap();
        let (a, b) = (header(&unary, "request-id"), header(&streamed, "request-id"));
        assert_eq!(id_shape(&a), id_shape(&b), "{a} {b}");
        let unary = super::super::bedrock::serve(post, "/model/m/converse", converse.as_bytes()).unwrap();
        let streamed = serve_whole(post, "/model/m/converse-stream", converse.as_bytes()).unwrap();
        let (a, b) = (
            header(&unary, "x-amzn-RequestId"),
            header(&streamed, "x-amzn-RequestId"),
        );
        assert_eq!(id_shape(&a), id_shape(&b), "{a} {b}");
    }

    fn req(model: &str) -> ChatRequest {
        ChatRequest {
            model: model.into(),
            messages: vec![Message {
                role: Role::User,
                content: vec![Part::text("one two three four five six")],
            }],
            stream: true,
            ..Default::default()
        }
    }

    #[test]
    fn interleave_takes_the_calls_in_turn_and_keeps_the_answer() {
        use crate::canonical::stream::StreamCollector;
        let mut r = req("parallel-interleave-model");
        r.tools = vec![crate::canonical::Tool {
            name: "get_weather".into(),
            description: None,
            parameters: sonic_rs::json!({"type": "object"}).into(),
            strict: None,
            extra: Default::default(),
        }];
        let (events, ending) = scenario_events(&r, "id", 3).unwrap();
        assert_eq!(ending, Ending::Complete);
        let order: Vec<(&str, u32)> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ToolCallStart { index, .. } => Some(("start", *index)),
                StreamEvent::ToolCallDelta { index, .. } => Some(("args", *index)),
                StreamEvent::BlockStop { index } => Some(("stop", *index)),
                _ => None,
            })
            .collect();
        assert_eq!(
            order,
            [
                ("start", 0),
                ("start", 1),
                ("args", 0),
                ("args", 1),
                ("args", 0),
                ("args", 1),
                ("stop", 0),
                ("stop", 1)
            ]
        );
        assert!(matches!(events.last(), Some(StreamEvent::Finish { .. })));
        // The same answer as without interleaving.
        let collect = |events: &[StreamEvent]| {
            let mut c = StreamCollector::default();
            for e in events {
                c.push(e);
            }
            c.response().content
        };
        r.model = "parallel-model".into();
        let (plain, _) = scenario_events(&r, "id", 3).unwrap();
        assert_eq!(collect(&events), collect(&plain));
    }

    #[test]
    fn complete_stream_ends_with_finish() {
        let (events, ending) = scenario_events(&req("m"), "id", 3).unwrap();
        assert_eq!(ending, Ending::Complete);
        assert!(matches!(events.last(), Some(StreamEvent::Finish { .. })));
    }

    #[test]
    fn cutoff_unfinished_and_midstream_stop_before_the_finish() {
        for model in ["m-cutoff", "m-stall", "m-unfinished", "m-midstream"] {
            let (events, ending) = scenario_events(&req(model), "id", 3).unwrap();
            assert_ne!(ending, Ending::Complete, "{model}");
            assert!(matches!(events[0], StreamEvent::Usage(u) if u.input > 0 && u.output == 0));
            assert!(matches!(events[1], StreamEvent::Start { .. }));
            assert!(
                events.iter().any(|e| matches!(e, StreamEvent::TextDelta { .. })),
                "{model}: some text"
            );
            assert!(
                !events.iter().any(|e| matches!(e, StreamEvent::Finish { .. })),
                "{model}: no finish"
            );
        }
    }

    #[test]
    fn midstream_names_the_status_of_its_error() {
        for (model, status) in [("m-midstream", 500), ("midstream-529", 529), ("x-midstream-429-y", 429)] {
            let (_, ending) = scenario_events(&req(model), "id", 3).unwrap();
            assert!(
                matches!(ending, Ending::Error { status: s, .. } if s == status),
                "{model}"
            );
        }
        for odd in ["midstream-200", "midstream-9", "midstream-", "midstream-6000"] {
            assert_eq!(midstream_status(odd), 500, "{odd}");
        }
    }

    #[test]
    fn error_scenario_is_an_error_before_the_stream() {
        assert_eq!(scenario_events(&req("error-429"), "id", 3).unwrap_err().status, 429);
    }

    #[test]
    fn non_stream_requests_are_not_taken() {
        assert!(serve(
            Method::Post,
            "/v1/messages",
            None,
            br#"{"model":"m","stream":false}"#,
            3,
            false
        )
        .is_none());
        assert!(serve(
            Method::Post,
            "/v1/chat/completions",
            None,
            br#"{"model":"m","stream":true}"#,
            3,
            false
        )
        .is_none());
        assert!(serve(Method::Post, "/v1beta/models/m:generateContent", None, b"{}", 3, false).is_none());
    }

    /// The mock's OpenAI chat stream for `model` (3 pieces).
    fn openai_stream(model: &str) -> MockStream {
        let body =
            format!(r#"{{"model":"{model}","stream":true,"messages":[{{"role":"user","content":"a b c d e f"}}]}}"#);
        serve(Method::Post, "/v1/chat/completions", None, body.as_bytes(), 3, false)
            .unwrap()
            .ok()
            .unwrap()
    }

    #[test]
    fn openai_failure_scenarios_stream_through_the_encoder() {
        let s = openai_stream("m-cutoff");
        assert_eq!(s.body_end, BodyEnd::Cut);
        // Stall: the same frames, then silence before the cut.
        let stall = openai_stream("m-stall");
        assert_eq!(stall.body_end, BodyEnd::Stall);
        assert_eq!(stall.frames.len(), s.frames.len());
        let all = s.frames.concat();
        assert!(all.starts_with(b"data: {"), "{}", String::from_utf8_lossy(&all));
        assert!(
            !all.windows(6).any(|w| w == b"[DONE]"),
            "no end marker on a cut-off stream"
        );
        // Unfinished: as many events (no end marker either), but the body ends cleanly.
        let frames = s.frames.len();
        let s = openai_stream("m-unfinished");
        assert_eq!(s.body_end, BodyEnd::Clean);
        assert_eq!(s.frames.len(), frames);
        let all = s.frames.concat();
        assert!(
            !all.windows(6).any(|w| w == b"[DONE]") && !all.windows(15).any(|w| w == b"\"finish_reason\":\""),
            "no end marker and no finish on an unfinished stream: {}",
            String::from_utf8_lossy(&all)
        );
        let s = openai_stream("m-midstream");
        let last = String::from_utf8_lossy(s.frames.last().unwrap()).to_string();
        assert!(last.contains("\"error\""), "{last}");
    }

    #[test]
    fn bad_body_is_an_http_error_in_the_format() {
        let r = serve(
            Method::Post,
            "/v1/messages",
            None,
            br#"{"model":"m","stream":true,"messages":7}"#,
            3,
            false,
        )
        .unwrap()
        .err()
        .unwrap();
        assert_eq!(r.status, 400);
        assert!(String::from_utf8_lossy(&r.body).contains("invalid_request_error"));
    }

    #[test]
    fn gemini_streams_as_a_json_array_without_alt_sse() {
        use sonic_rs::{JsonContainerTrait, JsonValueTrait};
        let body = br#"{"contents":[{"role":"user","parts":[{"text":"one two three"}]}]}"#;
        let path = "/v1beta/models/m:streamGenerateContent";
        let sse = serve(Method::Post, path, Some("alt=sse"), body, 3, false)
            .unwrap()
            .ok()
            .unwrap();
        assert_eq!(sse.content_type, "text/event-stream");
        let array = serve(Method::Post, path, Some("key=k"), body, 3, false)
            .unwrap()
            .ok()
            .unwrap();
        assert_eq!(array.content_type, "application/json; charset=UTF-8");
        assert_eq!(
            array.frames.len(),
            sse.frames.len(),
            "one write per response either way"
        );
        let v: sonic_rs::Value = sonic_rs::from_slice(&array.frames.concat()).unwrap();
        let texts: String = v
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r.pointer(&sonic_rs::pointer!["candidates", 0, "content", "parts", 0, "text"]))
            .filter_map(|t| t.as_str())
            .collect();
        assert_eq!(texts, "echo: one two three");
        // An error before the stream is wrapped in the array as well; SSE's is not.
        let err = serve(
            Method::Post,
            "/v1beta/models/m-error-503:streamGenerateContent",
            None,
            body,
            3,
            false,
        )
        .unwrap()
        .err()
        .unwrap();
        assert_eq!(err.status, 503);
        let v: sonic_rs::Value = sonic_rs::from_slice(&err.body).unwrap();
        assert_eq!(v[0]["error"]["code"].as_u64(), Some(503));
        let err = serve_whole(
            Method::Post,
            "/v1beta/models/m-error-503:streamGenerateContent?alt=sse",
            body,
        )
        .unwrap();
        let v: sonic_rs::Value = sonic_rs::from_slice(&err.body).unwrap();
        assert_eq!(v["error"]["code"].as_u64(), Some(503));
    }
}
