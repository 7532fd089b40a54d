//! Bedrock streams (PROTOCOLS 5.4, 5.5, 6): AWS event-stream frames carrying JSON payloads.
//!
//! Provider: `ConverseStreamDecoder` turns an upstream's ConverseStream body into canonical
//! events. Integration: `ConverseStreamEncoder` answers a ConverseStream client,
//! `InvokeStreamEncoder` an InvokeModelWithResponseStream client of a Claude model (Anthropic
//! Messages stream events from the Anthropic stream encoder, base64 in `chunk` frames). Framing
//! and CRCs are `wire::eventstream`'s.
//!
//! Rules kept: unions hold exactly one member (serde enums, never `"start":{}`); only tool-use
//! blocks get a `contentBlockStart`; output block indices are contiguous from 0 with one block
//! open at a time; mid-stream errors are modeled exception frames (`:exception-type` is the
//! lowerCamelCase union member, which botocore reports as `Error.Code`), after which nothing is
//! written. The decoder never panics: bad CRCs, framing or JSON are `Malformed`.
//!
//! Decoder end rule: `done()` once `metadata` follows `messageStop` (Bedrock's last event), or
//! after an exception frame (botocore stops there too; the error was delivered as an event).
//! `finish()` is Ok then, and also when the body ended cleanly after `messageStop` without
//! `metadata` (the answer is complete, only usage is missing); anything else, including a body
//! cut inside a frame, is `Truncated`.

use super::types::*;
use super::{finish_from_bedrock, finish_to_bedrock, get, stop_sequence_fields, stop_sequence_of};
use super::{usage_from_bedrock, usage_to_bedrock};
use crate::canonical::sig::{self, Family};
use crate::canonical::stream::{ByIndex, StreamDecode, StreamEncode, StreamError, StreamEvent};
use crate::canonical::{ChatRequest, FaultKind, FinishReason, Usage};
use crate::formats::anthropic::stream::{AnthropicEventEncoder, AnthropicFraming};
use crate::formats::anthropic::types::{AnthropicStreamEvent, AnthropicUsage};
use crate::wire::eventstream::{encode_event, encode_exception, EventStreamDecoder, Message};
use bytes::Bytes;
use serde::Serialize;
use sonic_rs::JsonValueTrait;
use std::collections::VecDeque;
use std::time::Instant;

/// `Content-Type` of both Bedrock stream operations.
pub const EVENT_STREAM_CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// Exception members of the stream event unions with the HTTP status of the same-named modeled
/// error (PROTOCOLS 5.4-5.6). `modelTimeoutException` is a member of the
/// InvokeModelWithResponseStream union only.
const STREAM_EXCEPTIONS: [(&str, u16); 6] = [
    ("validationException", 400),
    ("modelTimeoutException", 408),
    ("modelStreamErrorException", 424),
    ("throttlingException", 429),
    ("internalServerException", 500),
    ("serviceUnavailableException", 503),
];

/// The exception member reporting `status`: the exception the HTTP path names for it
/// (`exception_name`, so a 529 is `serviceUnavailableException` and a 504 a timeout in both),
/// as its stream-union member. An exception the operation's union lacks becomes
/// `internalServerException` (`modelTimeoutException` is InvokeModelWithResponseStream's only;
/// `ModelErrorException`'s stream counterpart is `modelStreamErrorException`).
fn exception_for(status: u16, invoke: bool) -> &'static str {
    match super::exception_name(status, FaultKind::from_status(status)) {
        "ValidationException" => "validationException",
        "ThrottlingException" => "throttlingException",
        "ServiceUnavailableException" => "serviceUnavailableException",
        "ModelErrorException" => "modelStreamErrorException",
        "ModelTimeoutException" if invoke => "modelTimeoutException",
        _ => "internalServerException",
    }
}

/// The status of an exception member (or an unmodeled `:error-code`, any case); unknown -> 500.
pub(crate) fn status_of_exception(name: &str) -> u16 {
    STREAM_EXCEPTIONS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or(500, |(_, s)| *s)
}

// ---------------------------------------------------------------------------------------------
// Provider: ConverseStream decoder.

/// An upstream's ConverseStream body -> canonical events.
#[derive(Default)]
pub struct ConverseStreamDecoder {
    frames: EventStreamDecoder,
    /// Events decoded but not yet returned (one frame may give several).
    pending: VecDeque<StreamEvent>,
    started: bool,
    /// `messageStop` seen.
    stopped: bool,
    /// The end: `metadata` after `messageStop`, or an exception.
    done: bool,
    /// Blocks with content and no `contentBlockStop` yet, in order of appearance.
    open: Vec<u32>,
    failed: Option<StreamError>,
}

impl ConverseStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes the next complete frame into `pending`; false when more bytes are needed, the
    /// stream is over or it failed.
    fn decode_frame(&mut self) -> bool {
        if self.done || self.failed.is_some() {
            return false;
        }
        match self.frames.next_message() {
            Ok(Some(m)) => {
                if let Err(e) = self.on_message(&m) {
                    self.failed = Some(e);
                }
                true
            }
            Ok(None) => false,
            Err(e) => {
                self.failed = Some(StreamError::Malformed(e.to_string()));
                false
            }
        }
    }

    fn on_message(&mut self, m: &Message) -> Result<(), StreamError> {
        // botocore parses a frame without `:message-type` as an event.
        match m.header_str(":message-type").unwrap_or("event") {
            "event" => match m.header_str(":event-type") {
                Some(t) => self.on_event(t, &m.payload),
                None => Ok(()),
            },
            "exception" => {
                let name = m.header_str(":exception-type").unwrap_or_default();
                let message = exception_message(&m.payload).unwrap_or_else(|| name.to_string());
                self.end_with_error(status_of_exception(name), message);
                Ok(())
            }
            "error" => {
                let code = m.header_str(":error-code").unwrap_or_default();
                let message = match m.header_str(":error-message") {
                    Some(msg) if !msg.is_empty() => msg.to_string(),
                    _ => code.to_string(),
                };
                self.end_with_error(status_of_exception(code), message);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn end_with_error(&mut self, status: u16, message: String) {
        self.pending.push_back(StreamEvent::Error { status, message });
        self.done = true;
    }

    fn on_event(&mut self, event_type: &str, payload: &[u8]) -> Result<(), StreamError> {
        const KNOWN: [&str; 6] = [
            "messageStart",
            "contentBlockStart",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata",
        ];
        // botocore skips event types it does not know.
        if !KNOWN.contains(&event_type) {
            return Ok(());
        }
        let malformed = |what: &str| StreamError::Malformed(format!("ConverseStream {event_type}: {what}"));
        if crate::wire::json::too_deep(payload, crate::wire::json::MAX_DEPTH) {
            return Err(malformed("payload nests JSON too deeply"));
        }
        let v: sonic_rs::Value = sonic_rs::from_slice(payload)
            .map_err(|e| malformed(&format!("invalid JSON payload: {}", crate::wire::json::brief(&e))))?;
        if !v.is_object() {
            return Err(malformed("payload is not a JSON object"));
        }
        if !self.started {
            self.started = true;
            self.pending.push_back(StreamEvent::Start {
                id: String::new(),
                model: String::new(),
            });
        }
        let index = || {
            get(&v, "contentBlockIndex")
                .and_then(|i| i.as_u64())
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(|| malformed("contentBlockIndex must be a non-negative integer"))
        };
        let string = |parent: &sonic_rs::Value, key: &str| {
            get(parent, key)
                .and_then(|s| s.as_str())
                .map(str::to_string)
                .ok_or_else(|| malformed(&format!("{key} must be a string")))
        };
        match event_type {
            "contentBlockStart" => {
                let index = index()?;
                // Only a tool-use start means anything to a canonical stream.
                if let Some(tool) = get(&v, "start").and_then(|s| get(s, "toolUse")) {
                    let event = StreamEvent::ToolCallStart {
                        index,
                        id: string(tool, "toolUseId")?,
                        name: string(tool, "name")?,
                    };
                    self.opened(index);
                    self.pending.push_back(event);
                }
            }
            "contentBlockDelta" => {
                let index = index()?;
                let delta = get(&v, "delta").ok_or_else(|| malformed("delta is required"))?;
                let event = if get(delta, "text").is_some() {
                    StreamEvent::TextDelta {
                        index,
                        text: string(delta, "text")?,
                    }
                } else if let Some(tool) = get(delta, "toolUse") {
                    StreamEvent::ToolCallDelta {
                        index,
                        arguments: string(tool, "input")?,
                    }
                } else if let Some(r) = get(delta, "reasoningContent") {
                    if get(r, "text").is_some() {
                        StreamEvent::ThinkingDelta {
                            index,
                            text: string(r, "text")?,
                        }
                    } else if get(r, "signature").is_some() {
                        StreamEvent::ThinkingSignature {
                            index,
                            signature: sig::decode(&string(r, "signature")?, Family::Claude),
                        }
                    } else if get(r, "redactedContent").is_some() {
                        StreamEvent::RedactedThinking {
                            index,
                            data: sig::decode(&string(r, "redactedContent")?, Family::Claude),
                        }
                    } else {
                        return Ok(());
                    }
                } else {
                    // `citation`, `image`, `toolResult` deltas have none either.
                    return Ok(());
                };
                self.opened(index);
                self.pending.push_back(event);
            }
            "contentBlockStop" => {
                let index = index()?;
                if let Some(at) = self.open.iter().position(|i| *i == index) {
                    self.open.remove(at);
                    self.pending.push_back(StreamEvent::BlockStop { index });
                }
            }
            "messageStop" if !self.stopped => {
                self.stopped = true;
                for index in self.open.drain(..) {
                    self.pending.push_back(StreamEvent::BlockStop { index });
                }
                let reason = get(&v, "stopReason").and_then(|s| s.as_str()).unwrap_or("end_turn");
                self.pending.push_back(StreamEvent::Finish {
                    reason: finish_from_bedrock(reason),
                    stop_sequence: stop_sequence_of(&v),
                });
            }
            "metadata" => {
                if let Some(u) = get(&v, "usage") {
                    self.pending.push_back(StreamEvent::Usage(usage_from_bedrock(u)));
                }
                self.done = self.stopped;
            }
            _ => {}
        }
        Ok(())
    }

    fn opened(&mut self, index: u32) {
        if !self.open.contains(&index) {
            self.open.push(index);
        }
    }
}

/// `message` (or `Message`) of an exception payload; its text when it is not such JSON.
fn exception_message(payload: &[u8]) -> Option<String> {
    if crate::wire::json::too_deep(payload, crate::wire::json::MAX_DEPTH) {
        return None;
    }
    if let Ok(v) = sonic_rs::from_slice::<sonic_rs::Value>(payload) {
        if let Some(m) = get(&v, "message")
            .or_else(|| get(&v, "Message"))
            .and_then(|m| m.as_str())
        {
            return Some(m.to_string());
        }
    }
    let text = String::from_utf8_lossy(payload);
    let text = text.trim();
    (!text.is_empty() && !text.starts_with('{')).then(|| text.to_string())
}

impl StreamDecode for ConverseStreamDecoder {
    fn push(&mut self, chunk: Bytes) {
        if !self.done && self.failed.is_none() {
            self.frames.push(&chunk);
        }
    }

    fn next_event(&mut self) -> Result<Option<StreamEvent>, StreamError> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(Some(e));
            }
            if let Some(e) = &self.failed {
                return Err(e.clone());
            }
            if !self.decode_frame() {
                if let Some(e) = &self.failed {
                    return Err(e.clone());
                }
                return Ok(None);
            }
        }
    }

    fn finish(&mut self) -> Result<(), StreamError> {
        // Frames still buffered count for the verdict; their events stay queued for next_event.
        while self.decode_frame() {}
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.done {
            return Ok(());
        }
        if self.frames.finish().is_err() || !self.stopped {
            return Err(StreamError::Truncated);
        }
        Ok(())
    }

    fn done(&self) -> bool {
        self.done
    }
}

/// Feeds `data` to a ConverseStream decoder in three pieces and drains it, ignoring errors
/// (the fuzz harness's entry point: it must never panic).
pub fn fuzz_decode(data: &[u8]) {
    let mut d = ConverseStreamDecoder::new();
    let third = data.len() / 3;
    for piece in [&data[..third], &data[third..2 * third], &data[2 * third..]] {
        d.push(Bytes::copy_from_slice(piece));
        while let Ok(Some(_)) = d.next_event() {}
    }
    let _ = d.finish();
    while let Ok(Some(_)) = d.next_event() {}
}

// ---------------------------------------------------------------------------------------------
// Encoders: shared block bookkeeping.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    Tool,
}

/// Renumbers the decoder's blocks to contiguous output indices with at most one block open, as
/// Bedrock and Anthropic streams have them.
#[derive(Default)]
struct Blocks {
    /// (decoder index, output index) of every block opened, in order; the output index is the
    /// position, so indices are contiguous from 0.
    seen: ByIndex<u32, u32>,
    /// (decoder index, output index) of the open block.
    open: Option<(u32, u32)>,
}

impl Blocks {
    /// The output index of decoder block `d` if it is the open one.
    fn current(&self, d: u32) -> Option<u32> {
        self.open.filter(|(od, _)| *od == d).map(|(_, o)| o)
    }

    /// Closes the open block, giving its output index.
    fn close(&mut self) -> Option<u32> {
        self.open.take().map(|(_, o)| o)
    }

    /// Opens a new output block for decoder block `d` (nothing may be open).
    fn open(&mut self, d: u32) -> u32 {
        let o = self.seen.len() as u32;
        self.seen.push(d, o);
        self.open = Some((d, o));
        o
    }

    /// The output index decoder block `d` had when it was last open.
    fn closed(&self, d: u32) -> Option<u32> {
        self.seen.get(d).copied()
    }
}

/// Where a content event for decoder block `d` of `kind` goes.
enum Slot {
    /// Into output block `at`, open already (or a late tool-argument fragment, see `place`).
    In(u32),
    /// Into a new output block `at`, after closing output block `close` if any.
    New { close: Option<u32>, at: u32 },
}

impl Blocks {
    /// Blocks interleave only in OpenAI parallel tool calls: a different block's event closes the
    /// open one. A text or thinking block that continues after that gets a new block.
    // NOTE: a tool-argument fragment for a tool block already closed (`SerialToolCalls` keeps
    // interleaved calls apart, but an upstream may send arguments after a call's stop) is written
    // under its old index: there is no way to reopen a block, and a new block would be a second
    // tool call; clients accumulating by index still join the arguments up.
    fn place(&mut self, d: u32, kind: Kind) -> Slot {
        if let Some(o) = self.current(d) {
            return Slot::In(o);
        }
        if kind == Kind::Tool {
            if let Some(o) = self.closed(d) {
                return Slot::In(o);
            }
        }
        let close = self.close();
        Slot::New {
            close,
            at: self.open(d),
        }
    }
}

/// Serializes `payload` into `scratch` and appends it as an event frame of `event_type`, or,
/// for `EventForm::JsonLine`, as the line `{"<event_type>":<payload>}` (Nova's native events).
fn event_frame(scratch: &mut Vec<u8>, form: EventForm, out: &mut Vec<u8>, event_type: &str, payload: &impl Serialize) {
    if form == EventForm::JsonLine {
        // Event types are this module's own ASCII names: no escaping needed.
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(event_type.as_bytes());
        out.extend_from_slice(b"\":");
        let _ = sonic_rs::to_writer(&mut *out, payload);
        out.extend_from_slice(b"}\n");
        return;
    }
    scratch.clear();
    // NOTE: neither step fails for these payloads: they serialize infallibly, and a frame fails
    // only above botocore's 24 MiB payload cap, which a delta from a decoded upstream (16 MiB
    // frames at most) cannot reach.
    if sonic_rs::to_writer(&mut *scratch, payload).is_ok() {
        let _ = encode_event(out, event_type, "application/json", scratch);
    }
}

/// How `ConverseStreamEncoder` writes each event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventForm {
    /// An event-stream frame (a ConverseStream client).
    Frame,
    /// One JSON line `{"<event type>":<payload>}`: Nova's InvokeModelWithResponseStream events,
    /// which `invoke_stream::NativeChunks` puts in `chunk` frames.
    JsonLine,
}

/// Appends the modeled exception frame for `status` with payload `{"message": ..}`.
pub(crate) fn exception_frame(status: u16, message: &str, invoke: bool, out: &mut Vec<u8>) {
    let payload = sonic_rs::to_vec(&BedrockError { message }).unwrap_or_default();
    let _ = encode_exception(out, exception_for(status, invoke), &payload);
}

// ---------------------------------------------------------------------------------------------
// Integration: ConverseStream encoder.

/// Canonical events -> a ConverseStream body: `messageStart`, per block (`contentBlockStart`
/// for tool use) `contentBlockDelta`* `contentBlockStop`, `messageStop` (at `Finish`),
/// `metadata` (usage and metrics, in `finish`, since usage may follow `Finish`).
pub struct ConverseStreamEncoder {
    /// When the request went upstream (`request_sent_at`), for `metrics.latencyMs`.
    sent: Option<Instant>,
    started: bool,
    blocks: Blocks,
    /// `messageStop` written.
    stopped: bool,
    usage: Usage,
    /// Nothing more may be written (after `finish` or an error).
    ended: bool,
    scratch: Vec<u8>,
    form: EventForm,
    /// The request's only stop sequence: the one matched when the upstream does not say
    /// (Cohere), as `ChatResponse::fill_stop_sequence` names it in an answer.
    only_stop: Option<String>,
}

impl ConverseStreamEncoder {
    pub fn new(req: &ChatRequest) -> Self {
        Self {
            sent: None,
            started: false,
            blocks: Blocks::default(),
            stopped: false,
            usage: Usage::default(),
            ended: false,
            only_stop: req.only_stop().map(str::to_string),
            scratch: Vec::with_capacity(256),
            form: EventForm::Frame,
        }
    }

    /// The same events as JSON lines `{"<event type>":<payload>}`: an Amazon Nova model's
    /// native stream events, to be framed as InvokeModelWithResponseStream `chunk`s.
    pub fn json_lines(req: &ChatRequest) -> Self {
        Self {
            form: EventForm::JsonLine,
            ..Self::new(req)
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            event_frame(
                &mut self.scratch,
                self.form,
                out,
                "messageStart",
                &BedrockMessageStart { role: "assistant" },
            );
        }
    }

    fn stop_block(&mut self, index: u32, out: &mut Vec<u8>) {
        let payload = BedrockContentBlockStop {
            content_block_index: index,
        };
        event_frame(&mut self.scratch, self.form, out, "contentBlockStop", &payload);
    }

    fn delta(&mut self, d: u32, kind: Kind, delta: BedrockDelta<'_>, out: &mut Vec<u8>) {
        self.start(out);
        let at = match self.blocks.place(d, kind) {
            Slot::In(at) => at,
            Slot::New { close, at } => {
                if let Some(c) = close {
                    self.stop_block(c, out);
                }
                at
            }
        };
        let payload = BedrockContentBlockDelta {
            content_block_index: at,
            delta,
        };
        event_frame(&mut self.scratch, self.form, out, "contentBlockDelta", &payload);
    }

    fn message_stop(&mut self, reason: &FinishReason, stop_sequence: Option<&str>, out: &mut Vec<u8>) {
        if self.stopped {
            return;
        }
        self.start(out);
        if let Some(c) = self.blocks.close() {
            self.stop_block(c, out);
        }
        self.stopped = true;
        let payload = BedrockMessageStop {
            stop_reason: finish_to_bedrock(reason),
            additional_model_response_fields: stop_sequence_fields(reason, stop_sequence.or(self.only_stop.as_deref())),
        };
        event_frame(&mut self.scratch, self.form, out, "messageStop", &payload);
    }
}

impl StreamEncode for ConverseStreamEncoder {
    fn content_type(&self) -> &'static str {
        EVENT_STREAM_CONTENT_TYPE
    }

    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        // Content after messageStop has no place in the stream.
        if self.ended || (self.stopped && !matches!(event, StreamEvent::Usage(_) | StreamEvent::Error { .. })) {
            return;
        }
        match event {
            StreamEvent::Start { .. } => self.start(out),
            StreamEvent::TextDelta { index, text } => self.delta(*index, Kind::Text, BedrockDelta::Text(text), out),
            StreamEvent::ThinkingDelta { index, text } => {
                let delta = BedrockDelta::ReasoningContent(BedrockReasoningDelta::Text(text));
                self.delta(*index, Kind::Thinking, delta, out)
            }
            StreamEvent::ThinkingSignature { index, signature } => {
                let delta = BedrockDelta::ReasoningContent(BedrockReasoningDelta::Signature(sig::wire(
                    signature,
                    Family::Claude,
                )));
                self.delta(*index, Kind::Thinking, delta, out)
            }
            StreamEvent::RedactedThinking { index, data } => {
                let delta = BedrockDelta::ReasoningContent(BedrockReasoningDelta::RedactedContent(sig::wire(
                    data,
                    Family::Claude,
                )));
                self.delta(*index, Kind::Thinking, delta, out)
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                self.start(out);
                if let Some(c) = self.blocks.close() {
                    self.stop_block(c, out);
                }
                let payload = BedrockContentBlockStart {
                    content_block_index: self.blocks.open(*index),
                    start: BedrockBlockStart {
                        tool_use: BedrockToolUseStart { tool_use_id: id, name },
                    },
                };
                event_frame(&mut self.scratch, self.form, out, "contentBlockStart", &payload);
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                self.delta(*index, Kind::Tool, BedrockDelta::ToolUse { input: arguments }, out)
            }
            StreamEvent::BlockStop { index } => {
                if self.blocks.current(*index).is_some() {
                    if let Some(c) = self.blocks.close() {
                        self.stop_block(c, out);
                    }
                }
            }
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::Finish { reason, stop_sequence } => self.message_stop(reason, stop_sequence.as_deref(), out),
            StreamEvent::Error { status, message } => self.error(*status, message, out),
            // NOTE: the format has no token log probabilities (requests for them are refused).
            // No refusal in this format: the refusal's text is written as text.
            StreamEvent::Refusal { .. } => {}
            StreamEvent::Logprobs(_) => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.message_stop(&FinishReason::Stop, None, out);
        self.ended = true;
        let payload = BedrockStreamMetadata {
            usage: usage_to_bedrock(&self.usage),
            metrics: BedrockMetrics {
                latency_ms: millis_since(self.sent),
            },
        };
        event_frame(&mut self.scratch, self.form, out, "metadata", &payload);
    }

    fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.ended = true;
        // The exception frame is the whole clean end: botocore raises on it and stops.
        exception_frame(status, message, false, out);
    }

    fn request_sent_at(&mut self, at: Instant) {
        self.sent = Some(at);
    }
}

/// Whole milliseconds since `at` (0 when the time is unknown), as Bedrock's metrics count them.
pub(super) fn millis_since(at: Option<Instant>) -> u64 {
    at.map_or(0, |t| u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX))
}

// ---------------------------------------------------------------------------------------------
// Integration: InvokeModelWithResponseStream encoder (Claude models).

/// `message_start` as Bedrock writes it for Claude models: `model` before `content` (the
/// Messages API has them the other way round).
#[derive(Serialize, Debug)]
struct InvokeMessageStart<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: InvokeMessage<'a>,
}

#[derive(Serialize, Debug)]
struct InvokeMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: [(); 0],
    stop_reason: Option<&'a str>,
    stop_sequence: Option<&'a str>,
    usage: AnthropicUsage,
}

/// `message_stop` with the invocation metrics Bedrock adds to the last event.
#[derive(Serialize, Debug)]
struct InvokeMessageStop {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "amazon-bedrock-invocationMetrics")]
    invocation_metrics: InvocationMetrics,
}

/// `amazon-bedrock-invocationMetrics` (PROTOCOLS 5.5).
#[derive(Serialize, Debug)]
pub(super) struct InvocationMetrics {
    #[serde(rename = "inputTokenCount")]
    pub input_token_count: u64,
    #[serde(rename = "outputTokenCount")]
    pub output_token_count: u64,
    #[serde(rename = "invocationLatency")]
    pub invocation_latency: u64,
    #[serde(rename = "firstByteLatency")]
    pub first_byte_latency: u64,
}

/// Appends standard base64 (with padding) of `data` to `out`.
fn base64_into(out: &mut Vec<u8>, data: &[u8]) {
    crate::wire::base64::encode_into(out, data);
}

/// The InvokeModelWithResponseStream framing of Anthropic stream events (PROTOCOLS 5.5): each
/// event's JSON, base64, in a `chunk` frame `{"bytes":"..."}`. `message_start` waits for the
/// first content, and `message_stop` carries the invocation metrics of the final usage.
pub struct InvokeChunks {
    /// The usage of the last `message_delta` (written just before `message_stop`).
    usage: AnthropicUsage,
    /// When the request went upstream, and when the first event was written: the invocation
    /// metrics' `invocationLatency` and `firstByteLatency`.
    sent: Option<Instant>,
    first_byte_ms: Option<u64>,
    /// Reused buffers: the event JSON and the frame payload around its base64.
    json: Vec<u8>,
    payload: Vec<u8>,
}

impl Default for InvokeChunks {
    fn default() -> Self {
        InvokeChunks {
            usage: AnthropicUsage::default(),
            sent: None,
            first_byte_ms: None,
            json: Vec::with_capacity(256),
            payload: Vec::with_capacity(384),
        }
    }
}

impl AnthropicFraming for InvokeChunks {
    const CONTENT_TYPE: &'static str = EVENT_STREAM_CONTENT_TYPE;
    const START_WAITS_FOR_CONTENT: bool = true;

    fn write(&mut self, event: &AnthropicStreamEvent<'_>, out: &mut Vec<u8>) {
        if self.first_byte_ms.is_none() {
            self.first_byte_ms = Some(millis_since(self.sent));
        }
        self.json.clear();
        // The start and the stop carry Bedrock's own fields (serde, once per stream); every other
        // event is the Messages API event as written for Anthropic clients.
        match event {
            AnthropicStreamEvent::MessageStart { message: m } => {
                let message = InvokeMessage {
                    id: m.id,
                    kind: m.kind,
                    role: m.role,
                    model: m.model,
                    content: [],
                    stop_reason: m.stop_reason,
                    stop_sequence: m.stop_sequence,
                    usage: m.usage,
                };
                let start = InvokeMessageStart {
                    kind: "message_start",
                    message,
                };
                // Serializing these borrowed structs into a Vec cannot fail.
                let _ = sonic_rs::to_writer(&mut self.json, &start);
            }
            AnthropicStreamEvent::MessageStop => {
                let stop = InvokeMessageStop {
                    kind: "message_stop",
                    invocation_metrics: InvocationMetrics {
                        input_token_count: self.usage.input_tokens,
                        output_token_count: self.usage.output_tokens,
                        invocation_latency: millis_since(self.sent),
                        first_byte_latency: self.first_byte_ms.unwrap_or(0),
                    },
                };
                let _ = sonic_rs::to_writer(&mut self.json, &stop);
            }
            AnthropicStreamEvent::MessageDelta { usage, .. } => {
                self.usage = *usage;
                event.write(&mut self.json);
            }
            _ => event.write(&mut self.json),
        }
        chunk_frame(&mut self.payload, &self.json, out);
    }
}

/// Appends `json` (one native event) as an InvokeModelWithResponseStream `chunk` frame, whose
/// payload `{"bytes":"<base64>"}` is built in `payload` (a buffer reused across events).
pub(super) fn chunk_frame(payload: &mut Vec<u8>, json: &[u8], out: &mut Vec<u8>) {
    payload.clear();
    payload.extend_from_slice(br#"{"bytes":""#);
    base64_into(payload, json);
    payload.extend_from_slice(br#""}"#);
    // NOTE: fails only above the 24 MiB payload cap (see `event_frame`).
    let _ = encode_event(out, "chunk", "application/json", payload);
}

/// Canonical events -> an InvokeModelWithResponseStream body for a Claude model: the Anthropic
/// stream encoder's events in `chunk` frames; a mid-stream error is a modeled exception frame
/// instead of Anthropic's `error` event, and nothing follows it.
pub struct InvokeStreamEncoder {
    messages: AnthropicEventEncoder<InvokeChunks>,
    /// Nothing more may be written (after `finish` or an error).
    ended: bool,
}

impl InvokeStreamEncoder {
    pub fn new(req: &ChatRequest) -> Self {
        Self {
            messages: AnthropicEventEncoder::new(req),
            ended: false,
        }
    }
}

impl StreamEncode for InvokeStreamEncoder {
    fn content_type(&self) -> &'static str {
        EVENT_STREAM_CONTENT_TYPE
    }

    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            StreamEvent::Error { status, message } => self.error(*status, message, out),
            // NOTE: the format has no token log probabilities (requests for them are refused).
            StreamEvent::Logprobs(_) => {}
            _ if !self.ended => self.messages.encode(event, out),
            _ => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.ended {
            self.ended = true;
            self.messages.finish(out);
        }
    }

    fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.ended = true;
        exception_frame(status, message, true, out);
    }

    fn request_sent_at(&mut self, at: Instant) {
        self.messages.framing_mut().sent = Some(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::stream::testing::{collect, decode_every_split, encode_all, run, sample_response, xorshift};
    use crate::canonical::stream::{events_from_response, SerialToolCalls};
    use crate::canonical::{ChatResponse, Part};
    use crate::formats::anthropic;
    use crate::wire::eventstream::encode_error;
    use sonic_rs::{JsonContainerTrait, Value};
    use StreamEvent::{
        BlockStop, Error, Finish, Start, TextDelta, ThinkingDelta, ThinkingSignature, ToolCallDelta, ToolCallStart,
    };

    const FIXTURE_PATH: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/formats/bedrock/fixtures/stream_converse.bin"
    );
    const VECTORS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/eventstream-vectors.json");

    /// The readable source of `fixtures/stream_converse.bin`: a Claude-on-Bedrock ConverseStream
    /// turn with reasoning, text and a tool call whose input is split over four deltas, members
    /// in the order real frames have them, including the random-length `p` padding (PROTOCOLS 5.4).
    const CONVERSE_FIXTURE: &[(&str, &str)] = &[
        (
            "messageStart",
            r#"{"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0","role":"assistant"}"#,
        ),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"The user wants the weather."}},"p":"abcdefghijklmnopq"}"#,
        ),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":" I should call get_weather."}},"p":"abcdefgh"}"#,
        ),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"EqQBCkYIARgCIkD"}},"p":"abcdefghijklmnopqrstuvwx"}"#,
        ),
        (
            "contentBlockStop",
            r#"{"contentBlockIndex":0,"p":"abcdefghijklmnopqrstuvwxyzABCDEFGH"}"#,
        ),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":1,"delta":{"text":"Let me"},"p":"abcdefghijklmn"}"#,
        ),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":1,"delta":{"text":" check the weather in Paris."},"p":"abcd"}"#,
        ),
        (
            "contentBlockStop",
            r#"{"contentBlockIndex":1,"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJK"}"#,
        ),
        (
            "contentBlockStart",
            r#"{"contentBlockIndex":2,"p":"abcdefghijklmnopqrstuvwxyzABCD","start":{"toolUse":{"name":"get_weather","toolUseId":"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"}}}"#,
        ),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":2,"delta":{"toolUse":{"input":""}},"p":"abcdefghijklmnopqrstuvw"}"#,
        ),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":2,"delta":{"toolUse":{"input":"{\"city\": \"Pa"}},"p":"abcdefghij"}"#,
        ),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":2,"delta":{"toolUse":{"input":"ris\", \"unit\": \"c"}},"p":"abcdefghijklmnopqrs"}"#,
        ),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":2,"delta":{"toolUse":{"input":"elsius\"}"}},"p":"abcdefg"}"#,
        ),
        (
            "contentBlockStop",
            r#"{"contentBlockIndex":2,"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR"}"#,
        ),
        (
            "messageStop",
            r#"{"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU","stopReason":"tool_use"}"#,
        ),
        (
            "metadata",
            r#"{"metrics":{"latencyMs":2214},"p":"abcdefghijklmnopqrstuvwxyzABCDEF","usage":{"cacheReadInputTokens":1024,"cacheWriteInputTokens":0,"inputTokens":412,"outputTokens":87,"totalTokens":1523}}"#,
        ),
    ];

    fn make() -> Box<dyn StreamDecode> {
        Box::new(ConverseStreamDecoder::new())
    }

    fn req() -> ChatRequest {
        ChatRequest::default()
    }

    /// Event frames for (`:event-type`, JSON payload) pairs.
    fn build(desc: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (t, p) in desc {
            encode_event(&mut out, t, "application/json", p.as_bytes()).unwrap();
        }
        out
    }

    fn fixture() -> Vec<u8> {
        std::fs::read(FIXTURE_PATH).expect("fixture file (UPDATE_GOLDEN=1 writes it)")
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A known-answer frame from the shared event-stream vectors (PROTOCOLS 6.5).
    fn vector(name: &str) -> Vec<u8> {
        let text = std::fs::read_to_string(VECTORS_PATH).unwrap();
        let root: Value = sonic_rs::from_str(&text).unwrap();
        let v = root
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"].as_str() == Some(name));
        unhex(v.expect(name)["message_hex"].as_str().unwrap())
    }

    fn unbase64(s: &str) -> Vec<u8> {
        crate::wire::base64::decode(s).expect("base64")
    }

    /// (type header, `:message-type`, payload) per frame, through the shared event-stream
    /// decoder: every CRC valid, `:content-type: application/json`, nothing left over.
    fn frames(bytes: &[u8]) -> Vec<(String, String, String)> {
        let mut d = EventStreamDecoder::new();
        d.push(bytes);
        let mut out = Vec::new();
        while let Some(m) = d.next_message().expect("valid frame") {
            assert_eq!(m.header_str(":content-type"), Some("application/json"));
            let kind = m.header_str(":event-type").or(m.header_str(":exception-type"));
            out.push((
                kind.expect("type header").to_string(),
                m.header_str(":message-type").expect(":message-type").to_string(),
                String::from_utf8(m.payload.to_vec()).unwrap(),
            ));
        }
        d.finish().expect("no partial frame");
        out
    }

    #[test]
    fn json_lines_are_the_frames_events_as_one_member_objects() {
        let events = events_from_response(&sample_response(), 3);
        let framed = frames(&encode_all(
            &mut ConverseStreamEncoder::new(&ChatRequest::default()),
            &events,
        ));
        let lines = encode_all(&mut ConverseStreamEncoder::json_lines(&ChatRequest::default()), &events);
        let lines = String::from_utf8(lines).unwrap();
        let want: Vec<String> = framed.iter().map(|(t, _, p)| format!("{{\"{t}\":{p}}}")).collect();
        assert_eq!(lines.lines().collect::<Vec<_>>(), want);
        assert!(lines.ends_with('\n') && want.len() > 4);
    }

    fn start() -> StreamEvent {
        Start {
            id: String::new(),
            model: String::new(),
        }
    }

    fn text(index: u32, t: &str) -> StreamEvent {
        TextDelta { index, text: t.into() }
    }

    fn answer(content: Vec<Part>, finish: FinishReason, stop_sequence: Option<&str>, usage: Usage) -> ChatResponse {
        ChatResponse {
            id: "resp_1".into(),
            model: "m-1".into(),
            content,
            finish,
            usage,
            stop_sequence: stop_sequence.map(str::to_string),
            created: 0,
            logprobs: Vec::new(),
        }
    }

    fn usage(input: u64, output: u64) -> Usage {
        Usage {
            input,
            output,
            ..Default::default()
        }
    }

    /// Answers for round trips: the shared sample (thinking, text, two tool calls), text only,
    /// a stop sequence, the token limit, cached input, and no content at all.
    fn answers() -> Vec<ChatResponse> {
        let cached = Usage {
            input: 1436,
            output: 87,
            cache_read: 1024,
            cache_write: 12,
            reasoning: 0,
        };
        vec![
            sample_response(),
            answer(
                vec![Part::text("Hello there, world")],
                FinishReason::Stop,
                None,
                usage(5, 3),
            ),
            answer(
                vec![Part::text("one two")],
                FinishReason::StopSequence,
                Some("END"),
                usage(5, 2),
            ),
            answer(vec![Part::text("cut sho")], FinishReason::Length, None, usage(9, 4)),
            answer(vec![Part::text("cached")], FinishReason::Stop, None, cached),
            answer(vec![], FinishReason::Stop, None, usage(1, 0)),
        ]
    }

    // --- decoder ---------------------------------------------------------------------------

    #[test]
    fn converse_fixture_file_is_its_description() {
        let want = build(CONVERSE_FIXTURE);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(FIXTURE_PATH, &want).unwrap();
        }
        assert_eq!(fixture(), want);
    }

    #[test]
    fn converse_fixture_decodes_at_every_split() {
        let events = decode_every_split(&make, &fixture());
        let tool = |arguments: &str| ToolCallDelta {
            index: 2,
            arguments: arguments.into(),
        };
        let want = vec![
            start(),
            ThinkingDelta {
                index: 0,
                text: "The user wants the weather.".into(),
            },
            ThinkingDelta {
                index: 0,
                text: " I should call get_weather.".into(),
            },
            ThinkingSignature {
                index: 0,
                signature: "slcCEqQBCkYIARgCIkD".into(),
            },
            BlockStop { index: 0 },
            text(1, "Let me"),
            text(1, " check the weather in Paris."),
            BlockStop { index: 1 },
            ToolCallStart {
                index: 2,
                id: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q".into(),
                name: "get_weather".into(),
            },
            tool(""),
            tool("{\"city\": \"Pa"),
            tool("ris\", \"unit\": \"c"),
            tool("elsius\"}"),
            BlockStop { index: 2 },
            Finish {
                reason: FinishReason::ToolCalls,
                stop_sequence: None,
            },
            // inputTokens excludes the 1024 cached tokens; canonical input is the total.
            StreamEvent::Usage(Usage {
                input: 1436,
                output: 87,
                cache_read: 1024,
                cache_write: 0,
                reasoning: 0,
            }),
        ];
        assert_eq!(events, want);
        let mut d = ConverseStreamDecoder::new();
        d.push(Bytes::from(fixture()));
        while d.next_event().unwrap().is_some() {}
        assert!(d.done());
    }

    #[test]
    fn known_answer_vectors_decode() {
        let mut bytes = vector("converse_stream_messageStart");
        bytes.extend(vector("converse_stream_contentBlockDelta_text"));
        bytes.extend(build(&[
            ("contentBlockStop", r#"{"contentBlockIndex":0}"#),
            ("messageStop", r#"{"stopReason":"end_turn"}"#),
        ]));
        bytes.extend(vector("converse_stream_metadata"));
        assert_eq!(
            decode_every_split(&make, &bytes),
            vec![
                start(),
                text(0, "Hello"),
                BlockStop { index: 0 },
                Finish {
                    reason: FinishReason::Stop,
                    stop_sequence: None
                },
                StreamEvent::Usage(usage(12, 5)),
            ]
        );
    }

    #[test]
    fn upstream_exception_ends_the_stream_with_an_error() {
        let mut bytes = build(&CONVERSE_FIXTURE[..2]);
        bytes.extend(vector("converse_stream_throttlingException"));
        // Whatever follows an exception is not read.
        bytes.extend(build(&CONVERSE_FIXTURE[2..]));
        let events = decode_every_split(&make, &bytes);
        assert_eq!(
            events.last(),
            Some(&Error {
                status: 429,
                message: "Too many requests, please wait before trying again.".into()
            })
        );
        assert_eq!(events.len(), 3);
        let mut d = ConverseStreamDecoder::new();
        d.push(Bytes::from(bytes));
        while d.next_event().unwrap().is_some() {}
        assert!(d.done());
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn a_model_stream_error_reaches_other_clients_as_a_server_fault() {
        // `modelStreamErrorException` (424) is the model failing, not the request: other
        // formats name it as their server error, as they do the same 424 before the stream
        // (`ModelErrorException`), never as the client's invalid request.
        let mut bytes = Vec::new();
        encode_exception(&mut bytes, "modelStreamErrorException", br#"{"message":"model broke"}"#).unwrap();
        let status = match run(&make, &[&bytes]).unwrap().as_slice() {
            [Error { status, .. }] => *status,
            other => panic!("{other:?}"),
        };
        let kind = FaultKind::from_status(status);
        assert_eq!(kind, FaultKind::Server);
        assert_eq!(crate::formats::anthropic::error::error_type(status, kind), "api_error");
        let gemini = crate::formats::gemini::encode_error(&crate::canonical::UpstreamFault {
            status,
            kind,
            message: "model broke".into(),
        });
        assert_eq!(gemini.status, 500);
        assert!(String::from_utf8(gemini.body)
            .unwrap()
            .contains(r#""status":"INTERNAL""#));
        let mut openai = Vec::new();
        crate::formats::openai::stream::write_stream_error(status, "model broke", &mut openai);
        assert!(String::from_utf8(openai).unwrap().contains(r#""type":"server_error""#));
        // The HTTP path agrees: the exception's name decodes to the same kind.
        assert_eq!(
            super::super::decode_error_typed(424, Some(b"ModelErrorException"), b"{}").kind,
            kind
        );
        // And a Bedrock client gets the stream exception back.
        assert_eq!(exception_for(status, false), "modelStreamErrorException");
    }

    #[test]
    fn exception_statuses_and_unmodeled_errors() {
        let cases = [
            ("validationException", 400),
            ("modelTimeoutException", 408),
            ("modelStreamErrorException", 424),
            ("serviceUnavailableException", 503),
            ("internalServerException", 500),
            ("somethingNewException", 500),
        ];
        for (name, status) in cases {
            let mut bytes = Vec::new();
            let payload = r#"{"message":"boom","originalStatusCode":500,"originalMessage":"x"}"#;
            encode_exception(&mut bytes, name, payload.as_bytes()).unwrap();
            let want = vec![Error {
                status,
                message: "boom".into(),
            }];
            assert_eq!(run(&make, &[&bytes]), Ok(want), "{name}");
        }
        // `:message-type: error` carries code and message in headers.
        let mut bytes = Vec::new();
        encode_error(&mut bytes, "ThrottlingException", "slow down").unwrap();
        let want = vec![Error {
            status: 429,
            message: "slow down".into(),
        }];
        assert_eq!(run(&make, &[&bytes]), Ok(want));
        let mut bytes = Vec::new();
        encode_exception(&mut bytes, "throttlingException", b"").unwrap();
        let want = vec![Error {
            status: 429,
            message: "throttlingException".into(),
        }];
        assert_eq!(run(&make, &[&bytes]), Ok(want));
    }

    #[test]
    fn unknown_events_are_skipped_and_start_is_synthesized() {
        let bytes = build(&[
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"text":"a","toolUse":null}}"#,
            ),
            ("fooBar", "not even JSON"),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"citation":{"title":"t"}}}"#,
            ),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"futureThing":"AAAA"}}}"#,
            ),
            ("messageStart", r#"{"role":"assistant"}"#),
            (
                "messageStop",
                r#"{"stopReason":"stop_sequence","additionalModelResponseFields":{"stop_sequence":"END"}}"#,
            ),
            (
                "metadata",
                r#"{"usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4},"metrics":{"latencyMs":1}}"#,
            ),
        ]);
        assert_eq!(
            decode_every_split(&make, &bytes),
            vec![
                start(),
                text(0, "a"),
                // Synthesized: the block had no contentBlockStop.
                BlockStop { index: 0 },
                Finish {
                    reason: FinishReason::StopSequence,
                    stop_sequence: Some("END".into())
                },
                StreamEvent::Usage(usage(3, 1)),
            ]
        );
    }

    #[test]
    fn frames_with_bad_crcs_are_malformed() {
        let good = fixture();
        for at in [8, 40, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x10;
            assert!(
                matches!(run(&make, &[&bad]), Err(StreamError::Malformed(_))),
                "flip at {at}"
            );
        }
    }

    #[test]
    fn bad_payloads_are_malformed() {
        let cases = [
            ("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"text":"a"}"#),
            ("contentBlockDelta", r#"[1]"#),
            ("contentBlockDelta", r#"{"contentBlockIndex":0}"#),
            ("contentBlockDelta", r#"{"contentBlockIndex":-1,"delta":{"text":"a"}}"#),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":4294967296,"delta":{"text":"a"}}"#,
            ),
            ("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"text":5}}"#),
            ("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"toolUse":{}}}"#),
            (
                "contentBlockStart",
                r#"{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"t"}}}"#,
            ),
            ("contentBlockStop", r#"{}"#),
            ("messageStart", ""),
        ];
        for (t, p) in cases {
            let mut bytes = build(&CONVERSE_FIXTURE[..1]);
            bytes.extend(build(&[(t, p)]));
            assert!(
                matches!(run(&make, &[&bytes]), Err(StreamError::Malformed(_))),
                "{t} {p}"
            );
        }
    }

    #[test]
    fn truncated_streams() {
        let ends: Vec<usize> = (1..=CONVERSE_FIXTURE.len())
            .map(|n| build(&CONVERSE_FIXTURE[..n]).len())
            .collect();
        let bytes = fixture();
        let n = CONVERSE_FIXTURE.len();
        // Before messageStop: truncated, whether at a frame boundary or inside a frame.
        assert_eq!(run(&make, &[&bytes[..ends[n - 3]]]), Err(StreamError::Truncated));
        assert_eq!(run(&make, &[&bytes[..ends[n - 3] + 7]]), Err(StreamError::Truncated));
        assert_eq!(run(&make, &[&[]]), Err(StreamError::Truncated));
        // After messageStop without metadata: complete, but not done (usage may still come).
        let mut d = ConverseStreamDecoder::new();
        d.push(Bytes::copy_from_slice(&bytes[..ends[n - 2]]));
        while d.next_event().unwrap().is_some() {}
        assert!(!d.done());
        assert_eq!(d.finish(), Ok(()));
        // ... unless the metadata frame was cut.
        assert_eq!(run(&make, &[&bytes[..ends[n - 1] - 1]]), Err(StreamError::Truncated));
        // finish() decodes frames still buffered; their events come after.
        let mut d = ConverseStreamDecoder::new();
        d.push(Bytes::from(bytes));
        assert_eq!(d.finish(), Ok(()));
        let mut count = 0;
        while d.next_event().unwrap().is_some() {
            count += 1;
        }
        assert_eq!(count, 16);
    }

    #[test]
    fn random_input_never_panics() {
        let good = fixture();
        let types = [
            "messageStart",
            "contentBlockStart",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata",
            "fooBar",
        ];
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        for round in 0..4000 {
            let n = (xorshift(&mut s) % 200) as usize;
            let data: Vec<u8> = (0..n).map(|_| xorshift(&mut s) as u8).collect();
            fuzz_decode(&data);
            // Random payloads in valid frames reach the JSON layer.
            let mut framed = Vec::new();
            encode_event(&mut framed, types[round % types.len()], "application/json", &data).unwrap();
            fuzz_decode(&framed);
            // Fixture payloads with one byte changed, in valid frames.
            let (t, p) = CONVERSE_FIXTURE[round % CONVERSE_FIXTURE.len()];
            let mut p = p.as_bytes().to_vec();
            let at = xorshift(&mut s) as usize % p.len();
            p[at] = xorshift(&mut s) as u8;
            let mut framed = build(&CONVERSE_FIXTURE[..round % 4]);
            encode_event(&mut framed, t, "application/json", &p).unwrap();
            fuzz_decode(&framed);
            // The fixture with a flipped bit, and cut anywhere.
            let mut bad = good.clone();
            let at = xorshift(&mut s) as usize % bad.len();
            bad[at] ^= 1 << (xorshift(&mut s) % 8);
            fuzz_decode(&bad);
            let _ = run(&make, &[&good[..at]]);
        }
    }

    // --- ConverseStream encoder --------------------------------------------------------------

    #[test]
    fn converse_round_trips() {
        for resp in answers() {
            let events = events_from_response(&resp, 3);
            let bytes = encode_all(&mut ConverseStreamEncoder::new(&req()), &events);
            let decoded = decode_every_split(&make, &bytes);
            assert_eq!(decoded[0], start());
            let mut want = crate::canonical::sig::marked(collect(&events), Family::Claude);
            want.id.clear();
            want.model.clear();
            assert_eq!(collect(&decoded), want);
        }
    }

    #[test]
    fn converse_encoder_writes_the_known_answer_frames() {
        let mut enc = ConverseStreamEncoder::new(&req());
        let mut out = Vec::new();
        enc.encode(
            &Start {
                id: "msg_1".into(),
                model: "m".into(),
            },
            &mut out,
        );
        let mut want = vector("converse_stream_messageStart");
        assert_eq!(out, want);
        // Each delta is written at once.
        enc.encode(&text(7, "Hello"), &mut out);
        want.extend(vector("converse_stream_contentBlockDelta_text"));
        assert_eq!(out, want);
        enc.encode(&BlockStop { index: 7 }, &mut out);
        enc.encode(&StreamEvent::Usage(usage(12, 5)), &mut out);
        enc.encode(
            &Finish {
                reason: FinishReason::Stop,
                stop_sequence: None,
            },
            &mut out,
        );
        enc.finish(&mut out);
        want.extend(build(&[
            ("contentBlockStop", r#"{"contentBlockIndex":0}"#),
            ("messageStop", r#"{"stopReason":"end_turn"}"#),
            (
                "metadata",
                r#"{"usage":{"inputTokens":12,"outputTokens":5,"totalTokens":17},"metrics":{"latencyMs":0}}"#,
            ),
        ]));
        assert_eq!(out, want);
    }

    #[test]
    fn converse_encoder_follows_the_event_rules() {
        let events = events_from_response(&sample_response(), 3);
        let f = frames(&encode_all(&mut ConverseStreamEncoder::new(&req()), &events));
        assert!(f.iter().all(|(_, mt, _)| mt == "event"));
        assert_eq!(f[0].0, "messageStart");
        let n = f.len();
        assert_eq!(
            (f[n - 2].0.as_str(), f[n - 2].2.as_str()),
            ("messageStop", r#"{"stopReason":"tool_use"}"#)
        );
        assert_eq!(
            f[n - 1].2,
            r#"{"usage":{"inputTokens":12,"outputTokens":7,"totalTokens":19},"metrics":{"latencyMs":0}}"#
        );
        let (mut starts, mut stops, mut deltas) = (Vec::new(), Vec::new(), Vec::new());
        for (t, _, p) in &f {
            let v: Value = sonic_rs::from_str(p).unwrap();
            let index = v["contentBlockIndex"].as_u64();
            match t.as_str() {
                "contentBlockStart" => {
                    let start = v["start"].as_object().unwrap();
                    assert!(start.len() == 1 && start.get(&"toolUse").is_some(), "{p}");
                    starts.push(index.unwrap());
                }
                "contentBlockDelta" => {
                    assert_eq!(v["delta"].as_object().unwrap().len(), 1, "{p}");
                    assert!(!stops.contains(&index.unwrap()), "delta after stop: {p}");
                    deltas.push(index.unwrap());
                }
                "contentBlockStop" => stops.push(index.unwrap()),
                _ => assert!(index.is_none()),
            }
        }
        assert_eq!(starts, [2, 3]);
        assert_eq!(stops, [0, 1, 2, 3]);
        deltas.dedup();
        assert_eq!(deltas, [0, 1, 2, 3]);
        let payloads: Vec<&str> = f.iter().map(|(_, _, p)| p.as_str()).collect();
        for want in [
            r#"{"role":"assistant"}"#,
            r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"let "}}}"#,
            r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"sig=="}}}"#,
            r#"{"contentBlockIndex":2,"start":{"toolUse":{"toolUseId":"call_1","name":"get_weather"}}}"#,
            r#"{"contentBlockIndex":2,"delta":{"toolUse":{"input":"{\"city\":"}}}"#,
        ] {
            assert!(payloads.contains(&want), "{want} in {payloads:#?}");
        }
    }

    #[test]
    fn converse_stop_sequence_and_late_usage() {
        let mut enc = ConverseStreamEncoder::new(&req());
        let mut out = Vec::new();
        for e in [
            start(),
            text(0, "a"),
            Finish {
                reason: FinishReason::StopSequence,
                stop_sequence: Some("END".into()),
            },
        ] {
            enc.encode(&e, &mut out);
        }
        // messageStop is written at Finish (closing the open block); metadata waits for usage.
        let f = frames(&out);
        assert_eq!(
            f[2],
            (
                "contentBlockStop".into(),
                "event".into(),
                r#"{"contentBlockIndex":0}"#.into()
            )
        );
        assert_eq!(
            f[3].2,
            r#"{"stopReason":"stop_sequence","additionalModelResponseFields":{"stop_sequence":"END"}}"#
        );
        assert_eq!(f.len(), 4);
        enc.encode(&text(0, "late"), &mut out);
        enc.encode(&StreamEvent::Usage(usage(3, 1)), &mut out);
        enc.finish(&mut out);
        let f = frames(&out);
        assert_eq!(f.len(), 5);
        assert_eq!(
            f[4].2,
            r#"{"usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4},"metrics":{"latencyMs":0}}"#
        );
        // finish() without a Finish event still ends properly.
        let out = encode_all(&mut ConverseStreamEncoder::new(&req()), &[text(0, "x")]);
        let types: Vec<String> = frames(&out).into_iter().map(|f| f.0).collect();
        assert_eq!(
            types,
            [
                "messageStart",
                "contentBlockDelta",
                "contentBlockStop",
                "messageStop",
                "metadata"
            ]
        );
    }

    #[test]
    fn converse_stop_sequence_unnamed_upstream_is_the_requests_only_one() {
        // Cohere says only that a stop sequence matched; with one in the request, messageStop
        // names it as the non-streamed answer does (`ChatResponse::fill_stop_sequence`).
        let finish = Finish {
            reason: FinishReason::StopSequence,
            stop_sequence: None,
        };
        let stop_payload = |stop: &[&str]| {
            let req = ChatRequest {
                stop: stop.iter().map(|s| s.to_string()).collect(),
                ..req()
            };
            let out = encode_all(
                &mut ConverseStreamEncoder::new(&req),
                &[start(), text(0, "a"), finish.clone()],
            );
            frames(&out).into_iter().find(|f| f.0 == "messageStop").unwrap().2
        };
        assert_eq!(
            stop_payload(&["END"]),
            r#"{"stopReason":"stop_sequence","additionalModelResponseFields":{"stop_sequence":"END"}}"#
        );
        // With several, which one matched is unknown.
        assert_eq!(stop_payload(&["END", "STOP"]), r#"{"stopReason":"stop_sequence"}"#);
    }

    #[test]
    fn converse_interleaved_tool_calls_are_serialized() {
        // OpenAI parallel tool calls may interleave; Bedrock blocks may not, and no delta may
        // follow its block's stop: call b waits until a's arguments are complete.
        let events = vec![
            start(),
            ToolCallStart {
                index: 0,
                id: "a".into(),
                name: "f".into(),
            },
            ToolCallStart {
                index: 1,
                id: "b".into(),
                name: "g".into(),
            },
            ToolCallDelta {
                index: 0,
                arguments: "{}".into(),
            },
            ToolCallDelta {
                index: 1,
                arguments: "{\"x\":1}".into(),
            },
            text(2, "after"),
            BlockStop { index: 0 },
            BlockStop { index: 1 },
            BlockStop { index: 2 },
            Finish {
                reason: FinishReason::ToolCalls,
                stop_sequence: None,
            },
        ];
        let mut enc = SerialToolCalls::new(ConverseStreamEncoder::new(&req()));
        let bytes = encode_all(&mut enc, &events);
        let got: Vec<(String, String)> = frames(&bytes).into_iter().map(|(t, _, p)| (t, p)).collect();
        let want = [
            ("messageStart", r#"{"role":"assistant"}"#),
            (
                "contentBlockStart",
                r#"{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"a","name":"f"}}}"#,
            ),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"toolUse":{"input":"{}"}}}"#,
            ),
            ("contentBlockStop", r#"{"contentBlockIndex":0}"#),
            (
                "contentBlockStart",
                r#"{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"b","name":"g"}}}"#,
            ),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"x\":1}"}}}"#,
            ),
            ("contentBlockStop", r#"{"contentBlockIndex":1}"#),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":2,"delta":{"text":"after"}}"#,
            ),
            ("contentBlockStop", r#"{"contentBlockIndex":2}"#),
            ("messageStop", r#"{"stopReason":"tool_use"}"#),
            (
                "metadata",
                r#"{"usage":{"inputTokens":0,"outputTokens":0,"totalTokens":0},"metrics":{"latencyMs":0}}"#,
            ),
        ];
        let want: Vec<(String, String)> = want.iter().map(|(t, p)| (t.to_string(), p.to_string())).collect();
        assert_eq!(got, want);
        let mut expected = collect(&events);
        expected.id.clear();
        expected.model.clear();
        assert_eq!(collect(&decode_every_split(&make, &bytes)), expected);
    }

    #[test]
    fn converse_error_is_an_exception_frame_then_nothing() {
        let mut enc = ConverseStreamEncoder::new(&req());
        let mut out = Vec::new();
        enc.encode(&start(), &mut out);
        enc.encode(&text(0, "Hi"), &mut out);
        let before = out.len();
        enc.error(429, "Too many requests, please wait before trying again.", &mut out);
        assert_eq!(&out[before..], &vector("converse_stream_throttlingException")[..]);
        let len = out.len();
        enc.encode(&text(0, "more"), &mut out);
        enc.error(500, "again", &mut out);
        enc.finish(&mut out);
        assert_eq!(out.len(), len);
        let cases = [
            (400, "validationException"),
            (424, "modelStreamErrorException"),
            (429, "throttlingException"),
            (503, "serviceUnavailableException"),
            (500, "internalServerException"),
            // modelTimeoutException is not a ConverseStream member.
            (408, "internalServerException"),
            (504, "internalServerException"),
            (401, "internalServerException"),
            // Named as the HTTP path names them (ServiceUnavailable, Validation).
            (529, "serviceUnavailableException"),
            (413, "validationException"),
        ];
        for (status, name) in cases {
            let mut enc = ConverseStreamEncoder::new(&req());
            let mut out = Vec::new();
            let message = "bo\"om".to_string();
            enc.encode(&Error { status, message }, &mut out);
            enc.finish(&mut out);
            let f = frames(&out);
            assert_eq!(f, [(name.into(), "exception".into(), r#"{"message":"bo\"om"}"#.into())]);
            let status = status_of_exception(name);
            let message = "bo\"om".into();
            assert_eq!(run(&make, &[&out]), Ok(vec![Error { status, message }]));
        }
    }

    // --- InvokeModelWithResponseStream encoder -----------------------------------------------

    /// The Anthropic event JSON in each `chunk` frame (payload exactly `{"bytes": <base64>}`).
    fn chunks(bytes: &[u8]) -> Vec<String> {
        frames(bytes)
            .into_iter()
            .map(|(t, mt, p)| {
                assert_eq!((t.as_str(), mt.as_str()), ("chunk", "event"));
                let v: Value = sonic_rs::from_str(&p).unwrap();
                assert_eq!(v.as_object().unwrap().len(), 1, "{p}");
                String::from_utf8(unbase64(v["bytes"].as_str().unwrap())).unwrap()
            })
            .collect()
    }

    /// InvokeModelWithResponseStream carries Anthropic's own events, `redacted_thinking` too.
    #[test]
    fn invoke_chunks_carry_redacted_thinking_as_anthropic_does() {
        let req = ChatRequest::default();
        let mut enc = crate::formats::stream_encoder(crate::formats::Format::Bedrock, true, &req);
        let events = [
            Start {
                id: "m".into(),
                model: "c".into(),
            },
            StreamEvent::RedactedThinking {
                index: 0,
                data: "QUJD".into(),
            },
            BlockStop { index: 0 },
            text(1, "hi"),
            BlockStop { index: 1 },
        ];
        let mut out = Vec::new();
        for e in &events {
            enc.encode(e, &mut out);
        }
        enc.finish(&mut out);
        let c = chunks(&out);
        assert!(
            c.iter().any(|j| j
                == r#"{"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"QUJD"}}"#),
            "{c:?}"
        );
        assert!(
            c.iter().any(|j| j == r#"{"type":"content_block_stop","index":0}"#),
            "{c:?}"
        );
    }

    /// A minimal Anthropic stream reader (test only): event JSON -> canonical events.
    fn read_anthropic(events: &[String]) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        for e in events {
            let v: Value = sonic_rs::from_str(e).unwrap();
            let s = |v: &Value| v.as_str().unwrap().to_string();
            let index = v["index"].as_u64().map(|i| i as u32).unwrap_or(u32::MAX);
            let d = &v["delta"];
            match v["type"].as_str().unwrap() {
                "message_start" => out.push(Start {
                    id: s(&v["message"]["id"]),
                    model: s(&v["message"]["model"]),
                }),
                "content_block_start" if v["content_block"]["type"].as_str() == Some("tool_use") => {
                    out.push(ToolCallStart {
                        index,
                        id: s(&v["content_block"]["id"]),
                        name: s(&v["content_block"]["name"]),
                    })
                }
                "content_block_start" | "message_stop" => {}
                "content_block_delta" => out.push(match d["type"].as_str().unwrap() {
                    "text_delta" => text(index, d["text"].as_str().unwrap()),
                    "thinking_delta" => ThinkingDelta {
                        index,
                        text: s(&d["thinking"]),
                    },
                    "signature_delta" => ThinkingSignature {
                        index,
                        signature: s(&d["signature"]),
                    },
                    "input_json_delta" => ToolCallDelta {
                        index,
                        arguments: s(&d["partial_json"]),
                    },
                    other => panic!("delta {other}"),
                }),
                "content_block_stop" => out.push(BlockStop { index }),
                "message_delta" => {
                    out.push(StreamEvent::Usage(anthropic::response::usage_from_wire(&v["usage"])));
                    out.push(Finish {
                        reason: anthropic::finish_from_stop_reason(d["stop_reason"].as_str().unwrap()),
                        stop_sequence: d["stop_sequence"].as_str().map(str::to_string),
                    });
                }
                other => panic!("event {other}"),
            }
        }
        out
    }

    #[test]
    fn invoke_text_delta_chunk_is_the_known_answer_frame() {
        let mut enc = InvokeStreamEncoder::new(&req());
        let mut out = Vec::new();
        enc.encode(
            &Start {
                id: "msg_1".into(),
                model: "claude".into(),
            },
            &mut out,
        );
        enc.encode(&StreamEvent::Usage(usage(25, 1)), &mut out);
        // message_start waits for content, to carry the input usage.
        assert!(out.is_empty());
        enc.encode(&text(0, "Hi"), &mut out);
        assert_eq!(
            chunks(&out),
            [
                r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}"#,
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
            ]
        );
        assert!(out.ends_with(&vector("invoke_stream_chunk_anthropic_text_delta")));
    }

    #[test]
    fn both_encoders_report_the_time_since_the_request_went_upstream() {
        use std::time::Duration;
        let events = events_from_response(&sample_response(), 3);
        let Some(sent) = Instant::now().checked_sub(Duration::from_millis(250)) else {
            return; // a clock this close to its start cannot go back 250 ms
        };
        // ConverseStream: `metadata.metrics.latencyMs`.
        let mut enc = ConverseStreamEncoder::new(&req());
        enc.request_sent_at(sent);
        let f = frames(&encode_all(&mut enc, &events));
        let (_, _, meta) = f.iter().find(|(t, _, _)| t == "metadata").unwrap();
        let v: Value = sonic_rs::from_str(meta).unwrap();
        let latency = v["metrics"]["latencyMs"].as_u64().unwrap();
        assert!((250..60_000).contains(&latency), "{meta}");
        // InvokeModelWithResponseStream: the invocation metrics on `message_stop`, the first
        // byte no later than the whole.
        let mut enc = InvokeStreamEncoder::new(&req());
        enc.request_sent_at(sent);
        let got = chunks(&encode_all(&mut enc, &events));
        let stop: Value = sonic_rs::from_str(got.last().unwrap()).unwrap();
        let m = &stop["amazon-bedrock-invocationMetrics"];
        let (whole, first) = (
            m["invocationLatency"].as_u64().unwrap(),
            m["firstByteLatency"].as_u64().unwrap(),
        );
        assert!((250..60_000).contains(&first) && first <= whole, "{stop}");
        // Without the time, 0 (as the known-answer frames above have it).
        let f = frames(&encode_all(&mut ConverseStreamEncoder::new(&req()), &events));
        let (_, _, meta) = f.iter().find(|(t, _, _)| t == "metadata").unwrap();
        assert!(meta.contains(r#""latencyMs":0"#), "{meta}");
    }

    #[test]
    fn invoke_stream_carries_the_anthropic_event_sequence() {
        let events = events_from_response(&sample_response(), 3);
        let got = chunks(&encode_all(&mut InvokeStreamEncoder::new(&req()), &events));
        let kinds: Vec<String> = got
            .iter()
            .map(|e| {
                let v: Value = sonic_rs::from_str(e).unwrap();
                let t = v["type"].as_str().unwrap().to_string();
                match (
                    v["index"].as_u64(),
                    v["delta"]["type"].as_str(),
                    v["content_block"]["type"].as_str(),
                ) {
                    (Some(i), Some(d), _) => format!("{i}:{d}"),
                    (Some(i), None, Some(c)) => format!("{i}:start:{c}"),
                    (Some(i), None, None) => format!("{i}:{t}"),
                    _ => t,
                }
            })
            .collect();
        let want = [
            "message_start",
            "0:start:thinking",
            "0:thinking_delta",
            "0:thinking_delta",
            "0:thinking_delta",
            "0:signature_delta",
            "0:content_block_stop",
            "1:start:text",
            "1:text_delta",
            "1:text_delta",
            "1:text_delta",
            "1:content_block_stop",
            "2:start:tool_use",
            "2:input_json_delta",
            "2:input_json_delta",
            "2:content_block_stop",
            "3:start:tool_use",
            "3:input_json_delta",
            "3:input_json_delta",
            "3:content_block_stop",
            "message_delta",
            "message_stop",
        ];
        assert_eq!(kinds, want);
        assert_eq!(
            got[12],
            r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_1","name":"get_weather","input":{}}}"#
        );
        let n = got.len();
        assert_eq!(
            got[n - 2],
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":7}}"#
        );
        assert_eq!(
            got[n - 1],
            r#"{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":7,"invocationLatency":0,"firstByteLatency":0}}"#
        );
    }

    #[test]
    fn invoke_round_trips() {
        for resp in answers() {
            let events = events_from_response(&resp, 3);
            let got = chunks(&encode_all(&mut InvokeStreamEncoder::new(&req()), &events));
            assert_eq!(collect(&read_anthropic(&got)), collect(&events));
        }
    }

    #[test]
    fn invoke_error_is_an_exception_frame_then_nothing() {
        for (status, name) in [
            (408, "modelTimeoutException"),
            (504, "modelTimeoutException"),
            (529, "serviceUnavailableException"),
            (429, "throttlingException"),
            (502, "internalServerException"),
        ] {
            let mut enc = InvokeStreamEncoder::new(&req());
            let mut out = Vec::new();
            enc.encode(&start(), &mut out);
            enc.encode(&text(0, "Hi"), &mut out);
            let before = out.len();
            enc.encode(
                &Error {
                    status,
                    message: "boom".into(),
                },
                &mut out,
            );
            enc.encode(&text(0, "more"), &mut out);
            enc.finish(&mut out);
            let f = frames(&out[before..]);
            assert_eq!(f, [(name.into(), "exception".into(), r#"{"message":"boom"}"#.into())]);
        }
    }

    #[test]
    fn base64_matches_known_values() {
        for (data, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            let mut out = Vec::new();
            base64_into(&mut out, data.as_bytes());
            assert_eq!(out, want.as_bytes());
            assert_eq!(unbase64(want), data.as_bytes());
        }
    }
}
