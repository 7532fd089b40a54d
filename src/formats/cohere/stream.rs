//! Cohere v2 chat streams (PROTOCOLS 7.4) <-> canonical stream events.
//!
//! Provider side (`CohereStreamDecoder`): SSE events dispatched on the data's `type` (the
//! `event:` name is cosmetic, as in the SDK). Content items and tool calls are numbered apart by
//! Cohere, so each (kind, Cohere index) gets its own canonical block; the tool plan is a text
//! block of its own, closed by the first tool call. `message-end` is the end marker: it closes
//! whatever is still open and gives `Usage` plus `Finish`, or `Error` when its `finish_reason`
//! is `ERROR` (Cohere's only in-stream error form; the status is not on the wire: 500).
//!
//! Integration side (`CohereStreamEncoder`): `event: <type>` + `data: <compact JSON>` per event,
//! `message-start` first, `content-start/delta/end` for text and thinking, `tool-call-start/
//! delta/end` per call, `message-end` with `finish_reason` and `usage` from `finish()`; an error
//! is a `message-end` with `finish_reason: "ERROR"` and `delta.error`.
//!
//! Text before the first tool call is a `tool-plan-delta` only when the request made a tool call
//! certain (`tool_choice` required or a named tool), as Cohere itself streams it. Otherwise
//! (NOTE) it is content: a text is a plan only if tool calls follow, which is unknown when it must
//! be sent, and text is never held back. The SDK accepts content in a tool turn. Thinking signatures and stop-sequence strings have no
//! Cohere field and are dropped.

use super::response::{finish_from_cohere, finish_to_cohere, usage_from_cohere, usage_to_cohere};
use super::types::{CohereStreamEventIn, CohereStreamMessageIn};
use crate::canonical::stream::{ByIndex, StreamEncode, StreamError, StreamEvent};
use crate::canonical::{ChatRequest, FinishReason, Json, Usage};
use crate::formats::sse_stream::{self, SseEventDecoder, SseStreamDecoder};
use crate::formats::text_or_json;
use crate::wire::sse::{encode_event, SseEvent};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::collections::VecDeque;

/// What a Cohere stream block is: Cohere numbers content items and tool calls separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Content,
    Tool,
    Plan,
}

/// Status given to a `message-end` with `finish_reason: "ERROR"` (Cohere sends none).
const ERROR_STATUS: u16 = 500;

// ---- decoder (provider) ------------------------------------------------------------------------

/// Cohere's rules for one SSE event (the driver is `SseStreamDecoder`).
#[derive(Default)]
pub struct CohereEventDecoder {
    started: bool,
    next_index: u32,
    /// Open blocks: (slot, Cohere index, canonical index), in opening order.
    open: Vec<(Slot, u32, u32)>,
    /// Tool calls already ended: (Cohere index, canonical index). A gateway translating an
    /// upstream that interleaves parallel calls (Sluice among them) may send a late
    /// `tool-call-delta` after the call's end; it still belongs to that call.
    ended_tools: ByIndex<u32, u32>,
    /// `message-end` (or `[DONE]`) was decoded.
    done: bool,
    /// `message-end` was decoded: the stream is complete.
    complete: bool,
}

impl CohereEventDecoder {
    fn decode_event(&mut self, data: &[u8], out: &mut VecDeque<StreamEvent>) -> Result<(), StreamError> {
        let data = data.trim_ascii();
        if data.is_empty() || self.done {
            // The SDK skips events without data; nothing counts after the end marker.
            return Ok(());
        }
        if data.starts_with(b"[DONE]") {
            // Tolerated as an end marker, as by the SDK; without `message-end` it is truncated.
            self.done = true;
            return Ok(());
        }
        let ev: CohereStreamEventIn = sonic_rs::from_slice(data).map_err(|e| {
            StreamError::Malformed(format!(
                "Cohere stream event is not valid JSON: {}",
                crate::wire::json::brief(&e)
            ))
        })?;
        let index = ev.index.unwrap_or(0);
        let message = ev.delta.as_ref().and_then(|d| d.message.as_ref());
        match ev.kind.as_deref().unwrap_or_default() {
            "message-start" => self.start(ev.id.as_deref().unwrap_or_default(), out),
            "content-start" => {
                self.start("", out);
                self.close_slot(Slot::Plan, 0, out);
                self.close_slot(Slot::Content, index, out);
                let at = self.open_block(Slot::Content, index);
                self.content_delta(at, message, out);
            }
            "content-delta" => {
                self.start("", out);
                let at = self.block(Slot::Content, index);
                self.content_delta(at, message, out);
            }
            "content-end" => self.close_slot(Slot::Content, index, out),
            "tool-plan-delta" => {
                self.start("", out);
                let text = message.and_then(|m| m.tool_plan.as_deref()).unwrap_or_default();
                let at = self.block(Slot::Plan, 0);
                if !text.is_empty() {
                    out.push_back(StreamEvent::TextDelta {
                        index: at,
                        text: text.to_string(),
                    });
                }
            }
            "tool-call-start" => {
                self.start("", out);
                self.close_slot(Slot::Plan, 0, out);
                self.close_slot(Slot::Tool, index, out);
                self.ended_tools.remove(index);
                let call = tool_call(message);
                let id = call.and_then(|c| c.get("id")).and_then(|v| v.as_str());
                let name = call
                    .and_then(|c| c.get("function"))
                    .and_then(|f| f.get("name"))
                    .and_then(|v| v.as_str());
                let (Some(id), Some(name)) = (id, name) else {
                    return Err(StreamError::Malformed(
                        "Cohere tool-call-start without tool_calls.id and function.name".into(),
                    ));
                };
                let at = self.open_block(Slot::Tool, index);
                out.push_back(StreamEvent::ToolCallStart {
                    index: at,
                    id: id.to_string(),
                    name: name.to_string(),
                });
                self.arguments(at, message, out);
            }
            "tool-call-delta" => {
                // A fragment of a call that never started has nowhere to go.
                let at = self.find(Slot::Tool, index);
                if let Some(at) = at.or_else(|| self.ended_tools.get(index).copied()) {
                    self.arguments(at, message, out);
                }
            }
            "tool-call-end" => self.close_slot(Slot::Tool, index, out),
            "message-end" => {
                self.start("", out);
                self.close_all(out);
                let delta = ev.delta.unwrap_or_default();
                if let Some(u) = delta.usage {
                    out.push_back(StreamEvent::Usage(usage_from_cohere(u)));
                }
                match delta.finish_reason.as_deref() {
                    Some("ERROR") => {
                        let message =
                            delta.error.as_ref().and_then(text_or_json).unwrap_or_else(|| {
                                "the upstream ended the stream with finish_reason ERROR".to_string()
                            });
                        out.push_back(StreamEvent::Error {
                            status: ERROR_STATUS,
                            message,
                        });
                    }
                    reason => out.push_back(StreamEvent::Finish {
                        reason: reason.map_or(FinishReason::Stop, finish_from_cohere),
                        stop_sequence: None,
                    }),
                }
                self.done = true;
                self.complete = true;
            }
            // citation-start/end, debug, and types newer than this decoder.
            _ => {}
        }
        Ok(())
    }

    /// The text or thinking of a content event, appended to block `at`.
    fn content_delta(&mut self, at: u32, message: Option<&CohereStreamMessageIn>, out: &mut VecDeque<StreamEvent>) {
        let Some(item) = message.and_then(|m| m.content.as_ref()) else {
            return;
        };
        let text = |k: &str| item.get(k).and_then(|v| v.as_str()).filter(|t| !t.is_empty());
        if let Some(t) = text("thinking") {
            out.push_back(StreamEvent::ThinkingDelta {
                index: at,
                text: t.to_string(),
            });
        } else if let Some(t) = text("text") {
            out.push_back(StreamEvent::TextDelta {
                index: at,
                text: t.to_string(),
            });
        }
    }

    fn arguments(&mut self, at: u32, message: Option<&CohereStreamMessageIn>, out: &mut VecDeque<StreamEvent>) {
        let args = tool_call(message)
            .and_then(|c| c.get("function"))
            .and_then(|f| f.get("arguments"));
        // An object instead of JSON text: tolerated, as by the unary decoder.
        let Some(text) = args.and_then(text_or_json) else {
            return;
        };
        if !text.is_empty() {
            out.push_back(StreamEvent::ToolCallDelta {
                index: at,
                arguments: text,
            });
        }
    }

    fn start(&mut self, id: &str, out: &mut VecDeque<StreamEvent>) {
        if !self.started {
            self.started = true;
            // Cohere does not echo the model; the gateway fills it in.
            out.push_back(StreamEvent::Start {
                id: id.to_string(),
                model: String::new(),
            });
        }
    }

    fn find(&self, slot: Slot, index: u32) -> Option<u32> {
        self.open
            .iter()
            .find(|(s, i, _)| *s == slot && *i == index)
            .map(|(_, _, at)| *at)
    }

    fn open_block(&mut self, slot: Slot, index: u32) -> u32 {
        let at = self.next_index;
        self.next_index += 1;
        self.open.push((slot, index, at));
        at
    }

    /// The open block for (slot, index), opened if the upstream skipped its start event.
    fn block(&mut self, slot: Slot, index: u32) -> u32 {
        match self.find(slot, index) {
            Some(at) => at,
            None => self.open_block(slot, index),
        }
    }

    fn close_slot(&mut self, slot: Slot, index: u32, out: &mut VecDeque<StreamEvent>) {
        if let Some(pos) = self.open.iter().position(|(s, i, _)| *s == slot && *i == index) {
            let (_, _, at) = self.open.remove(pos);
            if slot == Slot::Tool {
                self.ended_tools.push(index, at);
            }
            out.push_back(StreamEvent::BlockStop { index: at });
        }
    }

    fn close_all(&mut self, out: &mut VecDeque<StreamEvent>) {
        for (_, _, at) in self.open.drain(..) {
            out.push_back(StreamEvent::BlockStop { index: at });
        }
    }
}

/// `delta.message.tool_calls`: one object, or the first of a list.
fn tool_call(message: Option<&CohereStreamMessageIn>) -> Option<&Json> {
    let calls = message?.tool_calls.as_ref()?;
    match calls.as_array() {
        Some(a) => a.iter().next(),
        None => Some(calls),
    }
}

impl SseEventDecoder for CohereEventDecoder {
    fn decode(&mut self, event: &SseEvent, out: &mut VecDeque<StreamEvent>) -> Result<(), StreamError> {
        self.decode_event(&event.data, out)
    }

    // A last event without its blank line is decoded by the driver: the SDK drops it, but its
    // content is real.
    fn end(&mut self, out: &mut VecDeque<StreamEvent>) {
        self.close_all(out);
    }

    fn done(&self) -> bool {
        self.done
    }

    fn complete(&self) -> bool {
        self.complete
    }
}

/// Cohere SSE bytes from an upstream -> canonical events.
pub type CohereStreamDecoder = SseStreamDecoder<CohereEventDecoder>;

/// Fuzz entry: decodes `data` in a few splits and drains it, ignoring errors. Must never panic.
pub fn fuzz_decode(data: &[u8]) {
    sse_stream::fuzz_decode(CohereStreamDecoder::new(), data)
}

// ---- encoder (integration) ---------------------------------------------------------------------

/// Canonical events -> Cohere SSE bytes for a client.
pub struct CohereStreamEncoder {
    /// `message-start` was written.
    started: bool,
    id: String,
    /// Open blocks: (canonical index, slot, Cohere index). A deque: an upstream that stops its
    /// calls only at its end (OpenAI's) stops them oldest first, each taken from the front.
    open: VecDeque<(u32, Slot, u32)>,
    /// The highest canonical index ever opened: a block above it is not open, found without a
    /// scan (each call's start checks for a restarted index, once per call).
    highest_opened: Option<u32>,
    /// Tool calls already ended: (canonical index, Cohere index), for late argument fragments.
    ended_tools: ByIndex<u32, u32>,
    next_content: u32,
    next_tool: u32,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
    /// `finish` or `error` ran: nothing more is written.
    closed: bool,
    /// The event's JSON (reused).
    json: Vec<u8>,
    /// The request forces a tool call: text before the first call is its plan.
    plan_first: bool,
}

/// A JSON string, escaped by sonic-rs.
fn string(b: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = sonic_rs::to_writer(&mut *b, s);
}

fn uint(b: &mut Vec<u8>, n: u32) {
    b.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

impl CohereStreamEncoder {
    /// Text before the first tool call goes out as `tool-plan-delta`, as Cohere streams a tool
    /// turn. Only for a source that knows the turn calls tools before its text arrives (the
    /// mock, which has the whole answer); a live upstream's text is never held back to find out.
    pub fn plan_first(mut self) -> Self {
        self.plan_first = true;
        self
    }

    /// An encoder for a stream whose `message-start` went out already, from a relayed upstream
    /// stream: only its end is written here (the in-stream error of a cut-short relay).
    pub fn after_start() -> Self {
        let mut e = CohereStreamEncoder::new(&ChatRequest::default());
        e.started = true;
        e
    }

    pub fn new(req: &ChatRequest) -> Self {
        use crate::canonical::ToolChoice;
        let forced = req.tool_choice.as_ref().is_some_and(ToolChoice::forces_call);
        CohereStreamEncoder {
            plan_first: forced && !req.tools.is_empty(),
            started: false,
            id: String::new(),
            open: VecDeque::new(),
            highest_opened: None,
            ended_tools: ByIndex::default(),
            next_content: 0,
            next_tool: 0,
            usage: None,
            finish: None,
            closed: false,
            json: Vec::with_capacity(256),
        }
    }

    fn emit(&mut self, kind: &str, out: &mut Vec<u8>) {
        encode_event(out, Some(kind), &self.json);
    }

    /// `{"type":"<kind>","index":N` into `self.json`, cleared first.
    fn head(&mut self, kind: &str, index: u32) {
        let b = &mut self.json;
        b.clear();
        b.extend_from_slice(b"{\"type\":\"");
        b.extend_from_slice(kind.as_bytes());
        b.extend_from_slice(b"\",\"index\":");
        uint(b, index);
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let b = &mut self.json;
        b.clear();
        b.extend_from_slice(b"{\"id\":");
        string(b, &self.id);
        b.extend_from_slice(
            b",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],\"citations\":[]}}}",
        );
        self.emit("message-start", out);
    }

    /// The Cohere index of canonical block `index`, opening a content item of `field`'s kind
    /// (`text` or `thinking`) if it is not open.
    fn content(&mut self, index: u32, field: &str, out: &mut Vec<u8>) -> u32 {
        if let Some(&(_, _, n)) = self
            .open
            .iter()
            .rev()
            .find(|(i, s, _)| *i == index && *s == Slot::Content)
        {
            return n;
        }
        self.start(out);
        let n = self.next_content;
        self.next_content += 1;
        self.open.push_back((index, Slot::Content, n));
        self.highest_opened = self.highest_opened.max(Some(index));
        self.head("content-start", n);
        let b = &mut self.json;
        b.extend_from_slice(b",\"delta\":{\"message\":{\"content\":{\"type\":\"");
        b.extend_from_slice(field.as_bytes());
        b.extend_from_slice(b"\",\"");
        b.extend_from_slice(field.as_bytes());
        b.extend_from_slice(b"\":\"\"}}}}");
        self.emit("content-start", out);
        n
    }

    fn content_delta(&mut self, index: u32, field: &str, text: &str, out: &mut Vec<u8>) {
        let n = self.content(index, field, out);
        self.head("content-delta", n);
        let b = &mut self.json;
        b.extend_from_slice(b",\"delta\":{\"message\":{\"content\":{\"");
        b.extend_from_slice(field.as_bytes());
        b.extend_from_slice(b"\":");
        string(b, text);
        b.extend_from_slice(b"}}}}");
        self.emit("content-delta", out);
    }

    /// `tool-plan-delta`: text of the plan before the first tool call (no index, no block).
    fn plan(&mut self, text: &str, out: &mut Vec<u8>) {
        self.start(out);
        let b = &mut self.json;
        b.clear();
        b.extend_from_slice(b"{\"type\":\"tool-plan-delta\",\"delta\":{\"message\":{\"tool_plan\":");
        string(b, text);
        b.extend_from_slice(b"}}}");
        self.emit("tool-plan-delta", out);
    }

    fn tool_start(&mut self, index: u32, id: &str, name: &str, out: &mut Vec<u8>) {
        self.start(out);
        // A restarted index closes its previous block first.
        self.stop(index, out);
        let n = self.next_tool;
        self.next_tool += 1;
        self.open.push_back((index, Slot::Tool, n));
        self.highest_opened = self.highest_opened.max(Some(index));
        self.head("tool-call-start", n);
        let b = &mut self.json;
        b.extend_from_slice(b",\"delta\":{\"message\":{\"tool_calls\":{\"id\":");
        string(b, id);
        b.extend_from_slice(b",\"type\":\"function\",\"function\":{\"name\":");
        string(b, name);
        b.extend_from_slice(b",\"arguments\":\"\"}}}}}");
        self.emit("tool-call-start", out);
    }

    fn tool_delta(&mut self, index: u32, arguments: &str, out: &mut Vec<u8>) {
        // From the latest: deltas go to the newest call, and an upstream that stops its calls
        // only at its end (OpenAI's) leaves them all open (a scan from the first was quadratic).
        let open = self
            .open
            .iter()
            .rev()
            .find(|(i, s, _)| *i == index && *s == Slot::Tool)
            .map(|&(_, _, n)| n);
        // A late fragment of a call already ended (an upstream interleaving parallel calls)
        // still goes to that call's index, where a client accumulating by index adds it.
        // Arguments of a call that never started cannot be attributed.
        let Some(n) = open.or_else(|| self.ended_tools.get(index).copied()) else {
            return;
        };
        self.head("tool-call-delta", n);
        let b = &mut self.json;
        b.extend_from_slice(b",\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":");
        string(b, arguments);
        b.extend_from_slice(b"}}}}}");
        self.emit("tool-call-delta", out);
    }

    /// Closes canonical block `index` if it is open.
    fn stop(&mut self, index: u32, out: &mut Vec<u8>) {
        if self.highest_opened.is_none_or(|h| index > h) {
            return;
        }
        let Some(pos) = self.open.iter().position(|(i, _, _)| *i == index) else {
            return;
        };
        let Some((_, slot, n)) = self.open.remove(pos) else {
            return;
        };
        self.end_block(index, slot, n, out);
    }

    /// The end event of block `index` (Cohere index `n`), taken from `open`.
    fn end_block(&mut self, index: u32, slot: Slot, n: u32, out: &mut Vec<u8>) {
        if slot == Slot::Tool {
            self.ended_tools.push(index, n);
        }
        let kind = if slot == Slot::Tool {
            "tool-call-end"
        } else {
            "content-end"
        };
        self.head(kind, n);
        self.json.push(b'}');
        self.emit(kind, out);
    }

    fn close_all(&mut self, out: &mut Vec<u8>) {
        // All at once, in opening order (one `stop` each shifted the rest: quadratic in a
        // stream that leaves many calls open to its end).
        for (index, slot, n) in std::mem::take(&mut self.open) {
            self.end_block(index, slot, n, out);
        }
    }

    /// `message-end` with `finish_reason`, then `error` and `usage` when given.
    fn message_end(&mut self, reason: &str, error: Option<&str>, usage: Option<Usage>, out: &mut Vec<u8>) {
        self.start(out);
        self.close_all(out);
        let b = &mut self.json;
        b.clear();
        b.extend_from_slice(b"{\"type\":\"message-end\",\"delta\":{\"finish_reason\":");
        string(b, reason);
        if let Some(e) = error {
            b.extend_from_slice(b",\"error\":");
            string(b, e);
        }
        if let Some(u) = usage {
            b.extend_from_slice(b",\"usage\":");
            usage_to_cohere(&u).write(b);
        }
        b.extend_from_slice(b"}}");
        self.emit("message-end", out);
        self.closed = true;
    }
}

impl StreamEncode for CohereStreamEncoder {
    fn content_type(&self) -> &'static str {
        "text/event-stream"
    }

    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        match event {
            StreamEvent::Start { id, .. } => {
                if !self.started {
                    self.id.clone_from(id);
                    self.start(out);
                }
            }
            StreamEvent::TextDelta { text, .. } if self.plan_first && self.next_tool == 0 => self.plan(text, out),
            StreamEvent::TextDelta { index, text } => self.content_delta(*index, "text", text, out),
            StreamEvent::ThinkingDelta { index, text } => self.content_delta(*index, "thinking", text, out),
            // No Cohere field for them.
            StreamEvent::ThinkingSignature { .. } | StreamEvent::RedactedThinking { .. } => {}
            StreamEvent::ToolCallStart { index, id, name } => self.tool_start(*index, id, name, out),
            StreamEvent::ToolCallDelta { index, arguments } => self.tool_delta(*index, arguments, out),
            StreamEvent::BlockStop { index } => self.stop(*index, out),
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Finish { reason, .. } => {
                if self.finish.is_none() {
                    self.finish = Some(reason.clone());
                }
            }
            StreamEvent::Error { status, message } => self.error(*status, message, out),
            // NOTE: the format has no token log probabilities (requests for them are refused).
            // No refusal in this format: the refusal's text is written as text.
            StreamEvent::Refusal { .. } => {}
            StreamEvent::Logprobs(_) => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        let reason = finish_to_cohere(self.finish.as_ref().unwrap_or(&FinishReason::Stop)).to_string();
        let usage = self.usage.unwrap_or_default();
        self.message_end(&reason, None, Some(usage), out);
    }

    fn error(&mut self, _status: u16, message: &str, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        // NOTE: Cohere's in-stream error has no status field; the message is all a client sees.
        self.message_end("ERROR", Some(message), self.usage, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::stream::testing::{
        answers, byte_noise, collect, decode_every_split, encode_all, run, text_answer,
    };
    use crate::canonical::stream::StreamDecode;
    use crate::canonical::stream::{events_from_response, StreamEvent as E};
    use crate::canonical::{ChatResponse, Extra, Part};
    use bytes::Bytes;

    const TEXT: &[u8] = include_bytes!("fixtures/stream_text.txt");
    const TOOLS: &[u8] = include_bytes!("fixtures/stream_tools.txt");

    fn dec() -> Box<dyn StreamDecode> {
        Box::new(CohereStreamDecoder::new())
    }

    fn enc() -> CohereStreamEncoder {
        CohereStreamEncoder::new(&ChatRequest::default())
    }

    fn encode(events: &[StreamEvent]) -> String {
        String::from_utf8(encode_all(&mut enc(), events)).unwrap()
    }

    fn start(id: &str) -> E {
        E::Start {
            id: id.into(),
            model: String::new(),
        }
    }

    #[test]
    fn late_argument_fragment_of_an_ended_call_keeps_its_index() {
        let call = |index: u32, id: &str| E::ToolCallStart {
            index,
            id: id.into(),
            name: "f".into(),
        };
        let args = |index: u32, a: &str| E::ToolCallDelta {
            index,
            arguments: a.into(),
        };
        let out = encode(&[
            start("m"),
            call(0, "c0"),
            E::BlockStop { index: 0 },
            call(1, "c1"),
            args(1, "{}"),
            args(0, "{\"late\":1}"),
            E::BlockStop { index: 1 },
        ]);
        let late = out
            .split("\n\n")
            .find(|e| e.contains("late"))
            .unwrap_or_else(|| panic!("late fragment lost: {out}"));
        assert!(late.contains("\"type\":\"tool-call-delta\",\"index\":0"), "{late}");
        let back = collect(&run(&dec, &[out.as_bytes()]).unwrap());
        let calls: Vec<&str> = back
            .content
            .iter()
            .filter_map(|p| match p {
                Part::ToolCall { arguments, .. } => Some(arguments.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(calls, ["{\"late\":1}", "{}"]);
    }

    #[test]
    fn forced_tool_call_streams_the_text_before_it_as_the_plan() {
        use crate::canonical::{FinishReason, Tool, ToolChoice, Usage};
        let resp = ChatResponse {
            id: "r".into(),
            model: "m".into(),
            content: vec![
                Part::text("Let me check."),
                Part::ToolCall {
                    id: "call_1".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into(),
                    signature: None,
                    extra: Extra::default(),
                },
            ],
            finish: FinishReason::ToolCalls,
            usage: Usage {
                input: 3,
                output: 5,
                ..Default::default()
            },
            stop_sequence: None,
            created: 0,
            logprobs: Vec::new(),
        };
        let events = events_from_response(&resp, 3);
        let mut req = ChatRequest {
            tools: vec![Tool {
                name: "get_weather".into(),
                description: None,
                parameters: sonic_rs::json!({"type": "object"}).into(),
                strict: None,
                extra: Default::default(),
            }],
            tool_choice: Some(ToolChoice::Required),
            ..Default::default()
        };
        let wire = String::from_utf8(encode_all(&mut CohereStreamEncoder::new(&req), &events)).unwrap();
        assert_eq!(wire.matches("event: tool-plan-delta\n").count(), 3, "{wire}");
        assert!(!wire.contains("content-start"), "{wire}");
        assert!(
            wire.contains(r#"{"type":"tool-plan-delta","delta":{"message":{"tool_plan":"Let m"}}}"#),
            "{wire}"
        );
        let back = collect(&decode_every_split(&dec, wire.as_bytes()));
        assert_eq!(back.content, resp.content);
        // Without a forced call the same text is content: it may be the whole answer.
        req.tool_choice = Some(ToolChoice::Auto);
        let wire = String::from_utf8(encode_all(&mut CohereStreamEncoder::new(&req), &events)).unwrap();
        assert!(
            !wire.contains("tool-plan-delta") && wire.contains("content-delta"),
            "{wire}"
        );
    }

    fn text(index: u32, t: &str) -> E {
        E::TextDelta { index, text: t.into() }
    }

    fn finish(reason: FinishReason) -> E {
        E::Finish {
            reason,
            stop_sequence: None,
        }
    }

    #[test]
    fn protocols_text_fixture_decodes_at_every_split() {
        let events = decode_every_split(&dec, TEXT);
        assert_eq!(
            events,
            vec![
                start("c14c80c3"),
                text(0, "Hel"),
                text(0, "lo"),
                E::BlockStop { index: 0 },
                E::Usage(Usage {
                    input: 71,
                    output: 2,
                    ..Usage::default()
                }),
                finish(FinishReason::Stop),
            ]
        );
    }

    #[test]
    fn tool_turn_fixture_decodes_at_every_split_like_the_unary_answer() {
        let events = decode_every_split(&dec, TOOLS);
        let args = |index: u32, a: &str| E::ToolCallDelta {
            index,
            arguments: a.into(),
        };
        let call = |index: u32, id: &str| E::ToolCallStart {
            index,
            id: id.into(),
            name: "get_weather".into(),
        };
        let thinking = |t: &str| E::ThinkingDelta {
            index: 0,
            text: t.into(),
        };
        assert_eq!(
            events,
            vec![
                start("a8c2f9e0-1b7d-4c3e-9f21-6d0b5e4a7c11"),
                thinking("Two calls "),
                thinking("are needed."),
                E::BlockStop { index: 0 },
                text(1, "I will look up"),
                text(1, " the weather in Paris and Rome."),
                E::BlockStop { index: 1 },
                call(2, "get_weather_1x2y"),
                args(2, "{\"city\":"),
                args(2, "\"Paris\"}"),
                E::BlockStop { index: 2 },
                call(3, "get_weather_3z4w"),
                args(3, "{\"city\":"),
                args(3, "\"Rome\"}"),
                E::BlockStop { index: 3 },
                E::Usage(Usage {
                    input: 1012,
                    output: 41,
                    cache_read: 512,
                    ..Usage::default()
                }),
                finish(FinishReason::ToolCalls),
            ]
        );
        // The same answer as the unary fixture of this turn (tool plan marker aside).
        let mut unary = super::super::decode_response(include_bytes!("fixtures/response_tool.json")).unwrap();
        for p in &mut unary.content {
            if let Part::Text { extra, .. } = p {
                *extra = Default::default();
            }
        }
        assert_eq!(collect(&events), unary);
    }

    /// What a Cohere round trip keeps of `resp`: no model, thinking signatures or stop-sequence
    /// strings on the wire.
    fn through_cohere(mut resp: ChatResponse) -> ChatResponse {
        resp.model.clear();
        resp.stop_sequence = None;
        for p in &mut resp.content {
            if let Part::Thinking { signature, .. } = p {
                *signature = None;
            }
        }
        resp
    }

    fn round_trip(resp: &ChatResponse) {
        let events = events_from_response(resp, 3);
        let bytes = encode_all(&mut enc(), &events);
        let back = decode_every_split(&dec, &bytes);
        assert_eq!(
            collect(&back),
            through_cohere(collect(&events)),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }

    #[test]
    fn round_trips_through_encoder_and_decoder() {
        let text_only = ChatResponse {
            content: vec![Part::text("Bonjour \"le\"\n monde\u{2028}")],
            ..text_answer(Usage {
                input: 3,
                output: 9,
                cache_read: 2,
                ..Usage::default()
            })
        };
        for resp in answers(text_only) {
            round_trip(&resp);
        }
    }

    #[test]
    fn encoder_writes_the_protocols_event_sequence() {
        let out = encode(&[
            start("c14c80c3"),
            text(0, "Hel"),
            text(0, "lo"),
            E::BlockStop { index: 0 },
            E::Usage(Usage {
                input: 71,
                output: 2,
                ..Usage::default()
            }),
            finish(FinishReason::Stop),
        ]);
        // The PROTOCOLS 7.4 fixture, except that canonical usage has one count for both blocks.
        let want = String::from_utf8(TEXT.to_vec()).unwrap().replace(
            r#""billed_units":{"input_tokens":5,"#,
            r#""billed_units":{"input_tokens":71,"#,
        );
        assert_eq!(out, want);
    }

    #[test]
    fn encoder_numbers_content_and_tool_calls_apart() {
        let out = encode(&[
            start("x"),
            E::ThinkingDelta {
                index: 3,
                text: "t".into(),
            },
            E::ThinkingSignature {
                index: 3,
                signature: "dropped".into(),
            },
            E::BlockStop { index: 3 },
            E::ToolCallStart {
                index: 5,
                id: "call_a".into(),
                name: "f".into(),
            },
            E::ToolCallDelta {
                index: 5,
                arguments: "{\"a\":".into(),
            },
            E::ToolCallDelta {
                index: 5,
                arguments: "1}".into(),
            },
            E::BlockStop { index: 5 },
            E::Usage(Usage {
                input: 4,
                output: 6,
                cache_read: 1,
                ..Usage::default()
            }),
            finish(FinishReason::ToolCalls),
        ]);
        let want = concat!(
            "event: message-start\ndata: {\"id\":\"x\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],\"citations\":[]}}}\n\n",
            "event: content-start\ndata: {\"type\":\"content-start\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"type\":\"thinking\",\"thinking\":\"\"}}}}\n\n",
            "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"thinking\":\"t\"}}}}\n\n",
            "event: content-end\ndata: {\"type\":\"content-end\",\"index\":0}\n\n",
            "event: tool-call-start\ndata: {\"type\":\"tool-call-start\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}}}}\n\n",
            "event: tool-call-delta\ndata: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"{\\\"a\\\":\"}}}}}\n\n",
            "event: tool-call-delta\ndata: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"1}\"}}}}}\n\n",
            "event: tool-call-end\ndata: {\"type\":\"tool-call-end\",\"index\":0}\n\n",
            "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"TOOL_CALL\",\"usage\":{\"billed_units\":{\"input_tokens\":4,\"output_tokens\":6},\"tokens\":{\"input_tokens\":4,\"output_tokens\":6},\"cached_tokens\":1}}}\n\n",
        );
        assert_eq!(out, want);
    }

    #[test]
    fn encoder_closes_open_blocks_and_starts_the_message_when_the_upstream_did_not() {
        // No Start, no BlockStop, no Finish: still a well-formed Cohere stream.
        let out = encode(&[text(7, "a")]);
        let types: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
        assert_eq!(
            types,
            [
                "message-start",
                "content-start",
                "content-delta",
                "content-end",
                "message-end"
            ]
        );
        assert!(out.contains(r#""finish_reason":"COMPLETE""#));
        assert!(run(&dec, &[out.as_bytes()]).is_ok());
    }

    #[test]
    fn error_is_a_message_end_with_error_then_nothing() {
        let mut e = enc();
        let mut out = Vec::new();
        e.encode(&start("x"), &mut out);
        e.encode(&text(0, "par"), &mut out);
        out.clear();
        e.error(503, "overloaded \"now\"", &mut out);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            concat!(
                "event: content-end\ndata: {\"type\":\"content-end\",\"index\":0}\n\n",
                "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"ERROR\",\"error\":\"overloaded \\\"now\\\"\"}}\n\n",
            )
        );
        out.clear();
        e.encode(&text(0, "more"), &mut out);
        e.finish(&mut out);
        e.error(500, "again", &mut out);
        assert!(out.is_empty());
        // An Error event behaves as error() and decodes back to an Error.
        let out = encode(&[
            start("x"),
            E::Usage(Usage {
                input: 1,
                output: 1,
                ..Usage::default()
            }),
            E::Error {
                status: 429,
                message: "slow down".into(),
            },
        ]);
        let mut d = CohereStreamDecoder::new();
        d.push(Bytes::from(out));
        let mut events = Vec::new();
        while let Some(e) = d.next_event().unwrap() {
            events.push(e);
        }
        assert!(d.done());
        assert_eq!(d.finish(), Ok(()));
        assert_eq!(
            events.last(),
            Some(&E::Error {
                status: ERROR_STATUS,
                message: "slow down".into()
            })
        );
    }

    #[test]
    fn message_end_with_error_decodes_to_an_error_event() {
        let bytes = concat!(
            "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"Hi\"}}}}\n\n",
            "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"ERROR\",\"error\":\"internal failure\"}}\n\n",
            "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"ignored\"}}}}\n\n",
        );
        let events = decode_every_split(&dec, bytes.as_bytes());
        assert_eq!(
            events,
            vec![
                start(""),
                text(0, "Hi"),
                E::BlockStop { index: 0 },
                E::Error {
                    status: ERROR_STATUS,
                    message: "internal failure".into()
                },
            ]
        );
    }

    #[test]
    fn done_after_message_end_and_tolerant_of_odd_events() {
        let bytes = concat!(
            ": keepalive\n\n",
            "event: debug\ndata: {\"type\":\"debug\"}\n\n",
            "event: citation-start\ndata: {\"type\":\"citation-start\",\"index\":0,\"delta\":{\"message\":{\"citations\":{}}}}\n\n",
            "data: {\"type\":\"tool-call-start\",\"index\":2,\"delta\":{\"message\":{\"tool_calls\":[{\"id\":\"c\",\"function\":{\"name\":\"f\",\"arguments\":{\"k\":1}}}]}}}\n\n",
            "data: {\"type\":\"tool-call-delta\",\"index\":9,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"lost\"}}}}}\n\n",
            "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"TIMEOUT\"}}",
        );
        let events = decode_every_split(&dec, bytes.as_bytes());
        assert_eq!(
            events,
            vec![
                start(""),
                E::ToolCallStart {
                    index: 0,
                    id: "c".into(),
                    name: "f".into()
                },
                E::ToolCallDelta {
                    index: 0,
                    arguments: "{\"k\":1}".into()
                },
                E::BlockStop { index: 0 },
                finish(FinishReason::Other("TIMEOUT".into())),
            ]
        );
        let mut d = CohereStreamDecoder::new();
        d.push(Bytes::from_static(TEXT));
        while d.next_event().unwrap().is_some() {}
        assert!(d.done());
    }

    #[test]
    fn truncated_streams_and_bad_json_are_errors() {
        let cut = TOOLS.len() / 2;
        let mut d = CohereStreamDecoder::new();
        d.push(Bytes::copy_from_slice(&TOOLS[..cut]));
        let mut events = Vec::new();
        while let Some(e) = d.next_event().unwrap() {
            events.push(e);
        }
        assert!(!d.done());
        assert_eq!(d.finish(), Err(StreamError::Truncated));
        while let Some(e) = d.next_event().unwrap() {
            events.push(e);
        }
        // Every opened block is closed.
        let starts = events
            .iter()
            .filter(|e| matches!(e, E::ToolCallStart { .. } | E::TextDelta { .. }))
            .count();
        assert!(starts > 0 && matches!(events.last(), Some(E::BlockStop { .. })));
        assert_eq!(run(&dec, &[b""]), Err(StreamError::Truncated));
        let mut d = CohereStreamDecoder::new();
        d.push(Bytes::from_static(b"data: [DONE]\n\n"));
        assert_eq!(d.next_event(), Ok(None));
        assert!(d.done());
        assert_eq!(d.finish(), Err(StreamError::Truncated));
        for bad in [
            &b"data: {\"type\":\n\n"[..],
            b"data: \"x\"\n\n",
            b"data: {\"type\":\"content-delta\",\"index\":-1}\n\n",
            b"data: {\"type\":\"tool-call-start\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{}}}}}\n\n",
        ] {
            assert!(
                matches!(run(&dec, &[bad]), Err(StreamError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn decoder_never_panics_on_random_bytes() {
        let alphabet = b"event: data: {}[]\":,\n\r type index delta message content text tool_calls message-end 01";
        byte_noise(0x2545_F491_4F6C_DD1D, alphabet, TOOLS, fuzz_decode);
    }
}
