//! OpenAI Chat Completions streaming (PROTOCOLS 2.4): `chat.completion.chunk` SSE <-> canonical
//! stream events. The decoder reads an upstream's stream (provider role), the encoder writes the
//! stream an OpenAI client reads (integration role); both run inline in the stream pump.
//!
//! Rules the encoder keeps (the SDK's `accumulate_delta` concatenates strings, PROTOCOLS 2.4
//! rule 5): `role` only in the first delta; each tool call's `id`, `type` and `name` only in its
//! first delta and `index` on every entry; `finish_reason` in its own chunk; the usage chunk
//! (`choices: []`) last and only when the client asked for `stream_options.include_usage`; then
//! `data: [DONE]`. Thinking is not written, as in `encode_response` (Chat Completions has no
//! field for it). The decoder reads `choices[0]` only, tool calls by their `index`, usage chunks,
//! `[DONE]` and mid-stream `{"error":..}` objects; `reasoning_content` becomes thinking.

use super::response::{answer_finish_reason, finish_from_wire, usage_from_wire, usage_to_wire};
use super::types::*;
use crate::canonical::stream::{ByIndex, StreamEncode, StreamError, StreamEvent};
use crate::canonical::{ChatRequest, FaultKind, FinishReason, Json, TokenLogprob, UpstreamFault, Usage};
use crate::formats::sse_stream::{self, SseEventDecoder, SseStreamDecoder};
use crate::formats::text_or_json;
use crate::wire::sse::SseEvent;
use sonic_rs::JsonValueTrait;
use std::borrow::Cow;
use std::collections::VecDeque;

/// Which text-like block of the choice is open (they close when another kind starts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TextKind {
    Text,
    Thinking,
    Refusal,
}

/// Key of the legacy `delta.function_call` (it has no index; one call per answer).
const LEGACY_CALL: u32 = u32::MAX;

/// OpenAI's rules for one SSE event of a chunk stream (the driver is `SseStreamDecoder`).
///
/// Block indices: one per text run, thinking run, refusal run and tool call, numbered in order
/// of appearance. Tool-call blocks stay open until the finish (parallel calls are keyed by their
/// `index` and may interleave); a text-like block closes when another kind starts.
#[derive(Default)]
pub struct OpenAiEventDecoder {
    started: bool,
    next_block: u32,
    open_text: Option<(TextKind, u32)>,
    /// (OpenAI tool-call index, block index), open ones, in order of appearance.
    calls: ByIndex<u32, u32>,
    any_call: bool,
    has_text: bool,
    refused: bool,
    finished: bool,
    /// `[DONE]` seen.
    done: bool,
    /// A mid-stream error was decoded: the stream is over.
    errored: bool,
}

impl OpenAiEventDecoder {
    fn over(&self) -> bool {
        self.done || self.errored
    }

    /// One SSE event's data -> canonical events.
    fn on_data(&mut self, data: &[u8], out: &mut VecDeque<StreamEvent>) -> Result<(), StreamError> {
        if self.over() || data.is_empty() {
            // NOTE: an event without data (a lone `id:` line) carries nothing; skipped.
            return Ok(());
        }
        if data.starts_with(b"[DONE]") {
            self.done = true;
            if !self.finished {
                // Some compatible servers never send a finish_reason.
                self.end_answer(None, out);
            }
            return Ok(());
        }
        // UTF-8 checked first: `logprobs` is kept as a borrowed `LazyValue`, which sonic reads
        // as `str` unchecked (see `json::utf8`); `from_str` then skips sonic's own final check.
        let text = crate::wire::json::utf8(data)
            .map_err(|e| StreamError::Malformed(format!("chat.completion.chunk is not valid JSON: {e}")))?;
        let chunk: OpenAiChunkIn = sonic_rs::from_str(text).map_err(|e| {
            StreamError::Malformed(format!(
                "chat.completion.chunk is not valid JSON: {}",
                crate::wire::json::brief(&e)
            ))
        })?;
        if chunk.error.as_ref().is_some_and(truthy) {
            self.on_error(data, chunk.error.as_ref(), out);
            return Ok(());
        }
        if !self.started {
            self.started = true;
            out.push_back(StreamEvent::Start {
                id: chunk.id.map(Cow::into_owned).unwrap_or_default(),
                model: chunk.model.map(Cow::into_owned).unwrap_or_default(),
            });
        }
        for choice in chunk.choices.into_iter().flatten() {
            // Requests never ask for n > 1; other choices are ignored.
            if choice.index.unwrap_or(0) != 0 || self.finished {
                continue;
            }
            let logprobs = choice
                .logprobs
                .filter(|raw| raw.as_raw_str() != "null")
                .and_then(|raw| sonic_rs::from_str::<OpenAiLogprobsIn>(raw.as_raw_str()).ok())
                .map(OpenAiLogprobsIn::into_canonical)
                .filter(|l| !l.is_empty());
            match choice.delta {
                Some(d) => self.on_delta(d, logprobs, out),
                None => out.extend(logprobs.map(StreamEvent::Logprobs)),
            }
            if let Some(reason) = choice.finish_reason {
                self.end_answer(Some(&reason), out);
            }
        }
        if let Some(u) = chunk.usage {
            out.push_back(StreamEvent::Usage(usage_from_wire(u)));
        }
        Ok(())
    }

    /// `logprobs` go just before the text they belong to (the content, else what follows).
    fn on_delta(&mut self, d: OpenAiDeltaIn, logprobs: Option<Vec<TokenLogprob>>, out: &mut VecDeque<StreamEvent>) {
        if let Some(t) = d.reasoning_content.filter(|t| !t.is_empty()) {
            let index = self.text_block(TextKind::Thinking, out);
            out.push_back(StreamEvent::ThinkingDelta { index, text: t });
        }
        if let Some(t) = d.content.filter(|t| !t.is_empty()) {
            self.has_text = true;
            let index = self.text_block(TextKind::Text, out);
            out.extend(logprobs.map(StreamEvent::Logprobs));
            out.push_back(StreamEvent::TextDelta { index, text: t });
        } else {
            out.extend(logprobs.map(StreamEvent::Logprobs));
        }
        if let Some(t) = d.refusal.filter(|t| !t.is_empty()) {
            self.refused = true;
            let opens = !matches!(self.open_text, Some((TextKind::Refusal, _)));
            let index = self.text_block(TextKind::Refusal, out);
            if opens {
                out.push_back(StreamEvent::Refusal { index });
            }
            out.push_back(StreamEvent::TextDelta { index, text: t });
        }
        if let Some(f) = d.function_call {
            self.on_call(LEGACY_CALL, None, f, out);
        }
        for (pos, call) in d.tool_calls.into_iter().flatten().enumerate() {
            let key = call.index.unwrap_or(pos as u32);
            self.on_call(key, call.id, call.function.unwrap_or_default(), out);
        }
    }

    /// The block for text of `kind`: the open one, or a new one (closing another kind).
    fn text_block(&mut self, kind: TextKind, out: &mut VecDeque<StreamEvent>) -> u32 {
        match self.open_text {
            Some((k, index)) if k == kind => index,
            other => {
                if let Some((_, index)) = other {
                    out.push_back(StreamEvent::BlockStop { index });
                }
                let index = self.new_block();
                self.open_text = Some((kind, index));
                index
            }
        }
    }

    fn new_block(&mut self) -> u32 {
        let index = self.next_block;
        self.next_block += 1;
        index
    }

    fn on_call(&mut self, key: u32, id: Option<String>, f: OpenAiFunctionIn, out: &mut VecDeque<StreamEvent>) {
        let index = match self.calls.get(key) {
            Some(&index) => index,
            None => {
                if let Some((_, index)) = self.open_text.take() {
                    out.push_back(StreamEvent::BlockStop { index });
                }
                let index = self.new_block();
                self.calls.push(key, index);
                self.any_call = true;
                let name = f.name.clone().unwrap_or_default();
                // Only the legacy function_call lacks an id; named as `decode_response` names it.
                let id = match id.filter(|i| !i.is_empty()) {
                    Some(id) => id,
                    None if key == LEGACY_CALL => format!("call_0_{name}"),
                    None => format!("call_{key}_{name}"),
                };
                out.push_back(StreamEvent::ToolCallStart { index, id, name });
                index
            }
        };
        // Some compatible servers send the whole arguments object at once.
        let Some(arguments) = f.arguments.as_ref().and_then(text_or_json) else {
            return;
        };
        if !arguments.is_empty() {
            out.push_back(StreamEvent::ToolCallDelta { index, arguments });
        }
    }

    /// Closes every open block, then `Finish`.
    fn end_answer(&mut self, reason: Option<&str>, out: &mut VecDeque<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push_back(StreamEvent::Start {
                id: String::new(),
                model: String::new(),
            });
        }
        let mut open: Vec<u32> = self.calls.take().into_iter().map(|(_, i)| i).collect();
        open.extend(self.open_text.take().map(|(_, index)| index));
        open.sort_unstable();
        for index in open {
            out.push_back(StreamEvent::BlockStop { index });
        }
        self.finished = true;
        out.push_back(StreamEvent::Finish {
            reason: finish_from_wire(reason, self.refused && !self.has_text, self.any_call),
            stop_sequence: None,
        });
    }

    fn on_error(&mut self, data: &[u8], error: Option<&Json>, out: &mut VecDeque<StreamEvent>) {
        self.errored = true;
        let code = error.and_then(|e| e.get("code")).and_then(|c| c.as_u64());
        let (status, message) = error_chunk(data, code);
        out.push_back(StreamEvent::Error { status, message });
    }
}

/// An in-stream error chunk's status and message. vLLM and others put the HTTP status in `code`
/// (passed here when the caller has read it); otherwise the error's kind decides.
fn error_chunk(data: &[u8], code: Option<u64>) -> (u16, String) {
    let fault = super::decode_error(200, data);
    let status = match code {
        Some(c @ 400..=599) => c as u16,
        _ => super::encode_fault(&fault).status,
    };
    (status, fault.message)
}

/// The status an in-stream error chunk (`{"error":...}`) stands for, as this decoder reads it:
/// for a relayed stream, whose chunks are not decoded.
pub(crate) fn error_chunk_status(data: &[u8]) -> u16 {
    let code = sonic_rs::get(data, &["error", "code"]).ok().and_then(|c| c.as_u64());
    error_chunk(data, code).0
}

/// The SDK raises on a *truthy* `error` key only.
fn truthy(v: &Json) -> bool {
    use sonic_rs::JsonContainerTrait;
    if let Some(b) = v.as_bool() {
        return b;
    }
    if let Some(s) = v.as_str() {
        return !s.is_empty();
    }
    if let Some(o) = v.as_object() {
        return !o.is_empty();
    }
    if let Some(a) = v.as_array() {
        return !a.is_empty();
    }
    !v.is_null() && v.as_f64() != Some(0.0)
}

impl SseEventDecoder for OpenAiEventDecoder {
    fn decode(&mut self, event: &SseEvent, out: &mut VecDeque<StreamEvent>) -> Result<(), StreamError> {
        self.on_data(&event.data, out)
    }

    fn done(&self) -> bool {
        self.over()
    }

    // NOTE: a stream that finished but lost its `[DONE]` is accepted, as the SDK accepts it
    // (PROTOCOLS 2.4 rule 1): compatible servers omit it.
    fn complete(&self) -> bool {
        self.over() || self.finished
    }
}

/// Provider side: an OpenAI upstream's chunk stream -> canonical events.
pub type OpenAiStreamDecoder = SseStreamDecoder<OpenAiEventDecoder>;

/// Integration side: canonical events -> the `chat.completion.chunk` stream for an OpenAI client.
pub struct OpenAiStreamEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    role_sent: bool,
    /// (canonical block index, OpenAI tool-call index).
    calls: ByIndex<u32, u32>,
    usage: Usage,
    finish_sent: bool,
    /// Terminal frames written (`finish` or `error`): nothing more is written.
    closed: bool,
    /// A text chunk's bytes before and after its content string. Every text chunk after the
    /// first differs only in that string, so it is written as prefix + escaped text + suffix
    /// instead of through the serializer (built once, at the first such chunk).
    text_frame: Option<(Vec<u8>, Vec<u8>)>,
    /// Log probabilities for the next chunk written (the text they belong to follows them).
    logprobs: Vec<TokenLogprob>,
    /// The block of the refusal being written, whose text goes as `delta.refusal`.
    refusal_block: Option<u32>,
    /// A refusal was written (its finish is `stop`, as OpenAI's own).
    refused: bool,
}

impl OpenAiStreamEncoder {
    pub fn new(req: &ChatRequest) -> Self {
        OpenAiStreamEncoder {
            id: String::new(),
            model: String::new(),
            created: crate::mock::unix_now(),
            include_usage: req.include_usage,
            role_sent: false,
            calls: ByIndex::default(),
            usage: Usage::default(),
            finish_sent: false,
            closed: false,
            text_frame: None,
            logprobs: Vec::new(),
            refusal_block: None,
            refused: false,
        }
    }

    /// One text-delta chunk: through the cached frame once `role` and the id are sent.
    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        let delta = |content| OpenAiDeltaOut {
            content: Some(content),
            ..Default::default()
        };
        if !self.role_sent || !self.logprobs.is_empty() {
            return self.choice(delta(text), None, out);
        }
        if self.text_frame.is_none() {
            let mut chunk = Vec::new();
            self.choice(delta(""), None, &mut chunk);
            // Id and model are JSON strings, where a quote is always escaped: this unescaped
            // `"content":""` can only be the delta's.
            let at = memchr::memmem::rfind(&chunk, br#""content":"""#);
            let Some(at) = at.map(|at| at + br#""content":"#.len()) else {
                return self.choice(delta(text), None, out);
            };
            let suffix = chunk.split_off(at + 2);
            chunk.truncate(at);
            self.text_frame = Some((chunk, suffix));
        }
        let Some((prefix, suffix)) = &self.text_frame else {
            return;
        };
        let mark = out.len();
        out.extend_from_slice(prefix);
        match sonic_rs::to_writer(&mut *out, text) {
            Ok(()) => out.extend_from_slice(suffix),
            Err(_) => out.truncate(mark),
        }
    }

    /// Writes one chunk with choice 0 (`role` added to the first delta written).
    fn choice(&mut self, mut delta: OpenAiDeltaOut<'_>, finish: Option<&str>, out: &mut Vec<u8>) {
        if !self.role_sent {
            self.role_sent = true;
            delta.role = Some("assistant");
        }
        let choice = [OpenAiChunkChoiceOut {
            index: 0,
            delta,
            logprobs: Some(OpenAiLogprobsOut(&self.logprobs)).filter(|l| !l.0.is_empty()),
            finish_reason: finish,
        }];
        self.chunk(&choice, self.include_usage.then_some(None), out);
        self.logprobs.clear();
    }

    fn chunk(&self, choices: &[OpenAiChunkChoiceOut<'_>], usage: Option<Option<OpenAiUsage>>, out: &mut Vec<u8>) {
        let c = OpenAiChunkOut {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage,
        };
        let mark = out.len();
        out.extend_from_slice(b"data: ");
        match sonic_rs::to_writer(&mut *out, &c) {
            Ok(()) => out.extend_from_slice(b"\n\n"),
            Err(_) => out.truncate(mark),
        }
    }

    /// The OpenAI index of the tool call at canonical block `block` (new calls get the next one).
    fn call_index(&mut self, block: u32) -> (u32, bool) {
        if let Some(&i) = self.calls.get(block) {
            return (i, false);
        }
        let i = self.calls.len() as u32;
        self.calls.push(block, i);
        (i, true)
    }

    fn tool_delta(&mut self, index: u32, first: Option<(&str, &str)>, arguments: &str, out: &mut Vec<u8>) {
        let entry = OpenAiToolCallDelta {
            index,
            id: first.map(|(id, _)| id),
            kind: first.map(|_| "function"),
            function: OpenAiFunctionDelta {
                name: first.map(|(_, name)| name),
                arguments,
            },
        };
        let delta = OpenAiDeltaOut {
            tool_calls: Some([entry]),
            ..Default::default()
        };
        self.choice(delta, None, out);
    }
}

impl StreamEncode for OpenAiStreamEncoder {
    fn content_type(&self) -> &'static str {
        "text/event-stream"
    }

    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        match event {
            StreamEvent::Start { id, model } => {
                if self.role_sent {
                    return;
                }
                self.id.clone_from(id);
                self.model.clone_from(model);
                // OpenAI's first chunk: role, empty content, null refusal.
                let delta = OpenAiDeltaOut {
                    content: Some(""),
                    refusal: Some(None),
                    ..Default::default()
                };
                self.choice(delta, None, out);
            }
            StreamEvent::Refusal { index } => self.refusal_block = Some(*index),
            StreamEvent::TextDelta { index, text } if self.refusal_block == Some(*index) => {
                self.refused = true;
                let delta = OpenAiDeltaOut {
                    refusal: Some(Some(text)),
                    ..Default::default()
                };
                self.choice(delta, None, out);
            }
            StreamEvent::TextDelta { text, .. } => self.text(text, out),
            // NOTE: thinking is dropped, as `encode_response` drops it (no Chat Completions field).
            StreamEvent::ThinkingDelta { .. }
            | StreamEvent::ThinkingSignature { .. }
            | StreamEvent::RedactedThinking { .. } => {}
            StreamEvent::ToolCallStart { index, id, name } => {
                if let (i, true) = self.call_index(*index) {
                    self.tool_delta(i, Some((id, name)), "", out);
                }
            }
            StreamEvent::ToolCallDelta { index, arguments } => match self.call_index(*index) {
                // A call whose start never came still needs its first-delta fields.
                (i, true) => self.tool_delta(i, Some(("", "")), arguments, out),
                (i, false) => self.tool_delta(i, None, arguments, out),
            },
            StreamEvent::BlockStop { .. } => {}
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::Finish { reason, .. } => {
                if !self.finish_sent {
                    self.finish_sent = true;
                    let finish = answer_finish_reason(reason, self.refused);
                    self.choice(OpenAiDeltaOut::default(), Some(finish), out);
                }
            }
            StreamEvent::Error { status, message } => self.error(*status, message, out),
            StreamEvent::Logprobs(l) => self.logprobs.extend_from_slice(l),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        if !self.finish_sent {
            let reason = if self.calls.is_empty() {
                FinishReason::Stop
            } else {
                FinishReason::ToolCalls
            };
            self.encode(
                &StreamEvent::Finish {
                    reason,
                    stop_sequence: None,
                },
                out,
            );
        }
        if self.include_usage {
            self.chunk(&[], Some(Some(usage_to_wire(&self.usage))), out);
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
        self.closed = true;
    }

    fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        if !self.closed {
            self.closed = true;
            write_stream_error(status, message, out);
        }
    }
}

/// OpenAI's in-stream error (PROTOCOLS 8.4): `data: {"error":...}`, which the SDK raises, then
/// `data: [DONE]`. Chat and legacy completion streams end this way alike.
pub(crate) fn write_stream_error(status: u16, message: &str, out: &mut Vec<u8>) {
    let fault = UpstreamFault {
        status,
        kind: FaultKind::from_status(status),
        message: message.to_string(),
    };
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&super::encode_fault(&fault).body);
    out.extend_from_slice(b"\n\ndata: [DONE]\n\n");
}

/// Fuzz entry: decodes `data` in a few splits, draining and ignoring errors; must never panic.
pub fn fuzz_decode(data: &[u8]) {
    sse_stream::fuzz_decode(OpenAiStreamDecoder::new(), data)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::canonical::stream::events_from_response;
    use crate::canonical::stream::testing::{
        self, collect, decode_every_split, encode_all, run, sample_response, text_answer,
    };
    use crate::canonical::stream::StreamDecode;
    use crate::canonical::{ChatResponse, Extra, Part};
    use bytes::Bytes;
    use StreamEvent::{BlockStop, Error, Finish, Start, TextDelta, ThinkingDelta, ToolCallDelta, ToolCallStart};

    const PROTOCOLS: &[u8] = include_bytes!("fixtures/stream_protocols.txt");
    const TOOL_CALLS: &[u8] = include_bytes!("fixtures/stream_tool_calls.txt");

    fn decoder() -> Box<dyn StreamDecode> {
        Box::new(OpenAiStreamDecoder::new())
    }

    /// A chunk's `logprobs` is kept raw (a borrowed `LazyValue`), which sonic does not check for
    /// UTF-8: invalid bytes there are a malformed chunk, never a panic (debug builds assert in
    /// sonic) or a `str` over bad bytes.
    #[test]
    fn invalid_utf8_in_a_raw_field_is_a_malformed_chunk() {
        let body: &[u8] =
            b"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"logprobs\":{\"content\":[{\"token\":\"\xff\"}]},\"finish_reason\":null}]}\n\n";
        let got = run(&decoder, &[body]);
        assert!(matches!(got, Err(StreamError::Malformed(_))), "{got:?}");
    }

    fn request(include_usage: bool) -> ChatRequest {
        ChatRequest {
            model: "m".into(),
            stream: true,
            include_usage,
            ..Default::default()
        }
    }

    /// An encoder with a fixed `created`, for exact bytes.
    fn encoder(include_usage: bool) -> OpenAiStreamEncoder {
        let mut e = OpenAiStreamEncoder::new(&request(include_usage));
        e.created = 1700000000;
        e
    }

    fn text(index: u32, t: &str) -> StreamEvent {
        TextDelta { index, text: t.into() }
    }

    fn start(id: &str, model: &str) -> StreamEvent {
        Start {
            id: id.into(),
            model: model.into(),
        }
    }

    fn finish(reason: FinishReason) -> StreamEvent {
        Finish {
            reason,
            stop_sequence: None,
        }
    }

    fn lines(b: &[u8]) -> Vec<String> {
        String::from_utf8(b.to_vec())
            .unwrap()
            .split("\n\n")
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn usage(input: u64, output: u64, cache_read: u64, reasoning: u64) -> Usage {
        Usage {
            input,
            output,
            cache_read,
            cache_write: 0,
            reasoning,
        }
    }

    #[test]
    fn protocols_text_fixture_decodes_event_by_event() {
        let ev = decode_every_split(&decoder, PROTOCOLS);
        assert_eq!(
            ev,
            vec![
                start("chatcmpl-123", "gpt-4o-mini"),
                text(0, "Hel"),
                text(0, "lo"),
                BlockStop { index: 0 },
                finish(FinishReason::Stop),
                StreamEvent::Usage(usage(9, 2, 0, 0)),
            ]
        );
    }

    #[test]
    fn parallel_tool_calls_decode_by_index() {
        let ev = decode_every_split(&decoder, TOOL_CALLS);
        let call = |index: u32, id: &str, name: &str| ToolCallStart {
            index,
            id: id.into(),
            name: name.into(),
        };
        let args = |index: u32, a: &str| ToolCallDelta {
            index,
            arguments: a.into(),
        };
        assert_eq!(
            ev,
            vec![
                start("chatcmpl-9x", "gpt-4o-2024-08-06"),
                text(0, "Checking both."),
                BlockStop { index: 0 },
                call(1, "call_abc", "get_weather"),
                args(1, "{\"ci"),
                args(1, "ty\": \"Paris\"}"),
                call(2, "call_def", "get_time"),
                args(2, "{\"tz\":"),
                args(2, " \"CET\"}"),
                BlockStop { index: 1 },
                BlockStop { index: 2 },
                finish(FinishReason::ToolCalls),
                StreamEvent::Usage(usage(120, 40, 64, 12)),
            ]
        );
        let r = collect(&ev);
        assert_eq!(
            r.content[2],
            Part::ToolCall {
                id: "call_def".into(),
                name: "get_time".into(),
                arguments: "{\"tz\": \"CET\"}".into(),
                signature: None,
                extra: Extra::default()
            }
        );
    }

    #[test]
    fn reasoning_content_refusal_and_legacy_function_call() {
        let input = concat!(
            "data: {\"id\":\"r\",\"model\":\"deepseek\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"reasoning_content\":\"hmm\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\" ok\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\",\"reasoning_content\":null}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"function_call\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"function_call\":{\"arguments\":\":1}\"}}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"function_call\"}]}\n\n",
            "data: [DONE]\n\n",
        );
        let ev = decode_every_split(&decoder, input.as_bytes());
        assert_eq!(
            ev,
            vec![
                start("r", "deepseek"),
                ThinkingDelta {
                    index: 0,
                    text: "hmm".into()
                },
                ThinkingDelta {
                    index: 0,
                    text: " ok".into()
                },
                BlockStop { index: 0 },
                text(1, "Hi"),
                BlockStop { index: 1 },
                ToolCallStart {
                    index: 2,
                    id: "call_0_f".into(),
                    name: "f".into()
                },
                ToolCallDelta {
                    index: 2,
                    arguments: "{\"a\"".into()
                },
                ToolCallDelta {
                    index: 2,
                    arguments: ":1}".into()
                },
                BlockStop { index: 2 },
                finish(FinishReason::ToolCalls),
            ]
        );
        // A refusal without text is a content-filter finish, as in `decode_response`.
        let input = concat!(
            "data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"refusal\":\"\"}}]}\n\n",
            "data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"refusal\":\"I can't.\"}}]}\n\n",
            "data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: [DONE]\n\n",
        );
        let ev = decode_every_split(&decoder, input.as_bytes());
        assert_eq!(
            &ev[1..],
            &[
                StreamEvent::Refusal { index: 0 },
                text(0, "I can't."),
                BlockStop { index: 0 },
                finish(FinishReason::ContentFilter)
            ]
        );
    }

    #[test]
    fn a_refusal_streams_as_openai_streams_it() {
        // A refusal from another OpenAI format (a Responses upstream) goes as `delta.refusal`,
        // with OpenAI's `stop`: written as content, a structured-output client parsed it.
        let resp = ChatResponse {
            content: vec![Part::refusal("I'm sorry, I can't.")],
            finish: FinishReason::ContentFilter,
            ..testing::text_answer(Usage::default())
        };
        let wire = encode_all(&mut encoder(false), &events_from_response(&resp, 3));
        let chunks: Vec<Json> = lines(&wire)
            .iter()
            .filter_map(|l| l.strip_prefix("data: ").and_then(|d| sonic_rs::from_str(d).ok()))
            .collect();
        let field = |name: &str| -> String {
            let deltas = chunks
                .iter()
                .map(|c| c["choices"][0]["delta"][name].as_str().unwrap_or_default());
            deltas.collect()
        };
        assert_eq!(
            (field("refusal").as_str(), field("content").as_str()),
            ("I'm sorry, I can't.", "")
        );
        let finish = chunks.iter().filter_map(|c| c["choices"][0]["finish_reason"].as_str());
        assert_eq!(finish.collect::<Vec<_>>(), ["stop"]);
        // Read back, it is the refusal again (alone, a content-filter finish).
        let back = collect(&decode_every_split(&decoder, &wire));
        assert_eq!((back.content, back.finish), (resp.content, FinishReason::ContentFilter));
    }

    #[test]
    fn compatible_server_quirks() {
        // No finish_reason before [DONE], usage inside the last content chunk, no ids, a tool
        // call whose arguments come as an object, and an SSE comment.
        let input = concat!(
            ": keepalive\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":{\"x\":1}}}]}}]}\n\n",
            "data: [DONE]\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"ignored after DONE\"}}]}\n\n",
        );
        let ev = decode_every_split(&decoder, input.as_bytes());
        assert_eq!(
            ev,
            vec![
                start("", ""),
                text(0, "a"),
                StreamEvent::Usage(usage(3, 1, 0, 0)),
                BlockStop { index: 0 },
                ToolCallStart {
                    index: 1,
                    id: "call_0_f".into(),
                    name: "f".into()
                },
                ToolCallDelta {
                    index: 1,
                    arguments: "{\"x\":1}".into()
                },
                BlockStop { index: 1 },
                finish(FinishReason::ToolCalls),
            ]
        );
    }

    #[test]
    fn in_stream_errors_keep_their_kind_through_the_code() {
        // `write_stream_error` names an overload or a timeout only in `code` (type
        // `server_error`): read back, each must keep its kind, so an Anthropic client gets
        // `overloaded_error` and a Bedrock client `serviceUnavailableException`, not a plain 500.
        for status in [400, 401, 403, 404, 408, 413, 422, 424, 429, 500, 502, 503, 504, 529] {
            let mut bytes = Vec::new();
            write_stream_error(status, "m", &mut bytes);
            let ev = run(&decoder, &[&bytes]).unwrap();
            let [Error { status: got, .. }] = ev.as_slice() else {
                panic!("{status}: {ev:?}");
            };
            assert_eq!(
                FaultKind::from_status(*got),
                FaultKind::from_status(status),
                "{status} came back as {got}"
            );
        }
        let ev = run(
            &decoder,
            &[b"data: {\"error\":{\"message\":\"busy\",\"type\":\"server_error\",\"code\":\"overloaded\"}}\n\n"],
        )
        .unwrap();
        assert_eq!(
            ev,
            vec![Error {
                status: 503,
                message: "busy".into()
            }]
        );
    }

    #[test]
    fn mid_stream_error_ends_the_stream() {
        let input = concat!(
            "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n",
            "data: {\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n",
        );
        let ev = decode_every_split(&decoder, input.as_bytes());
        assert_eq!(
            &ev[1..],
            &[
                text(0, "par"),
                Error {
                    status: 500,
                    message: "The server had an error while processing your request.".into()
                }
            ]
        );
        let mut d = OpenAiStreamDecoder::new();
        d.push(Bytes::from_static(input.as_bytes()));
        while d.next_event().unwrap().is_some() {}
        assert!(d.done(), "an error is the end of the stream");
        // vLLM-style: the status in `code`; rate limits by type.
        let ev = run(
            &decoder,
            &[
                br#"data: {"error":{"object":"error","message":"bad","type":"BadRequestError","code":400}}

"#,
            ],
        )
        .unwrap();
        assert_eq!(
            ev,
            vec![Error {
                status: 400,
                message: "bad".into()
            }]
        );
        let ev = run(
            &decoder,
            &[b"data: {\"error\":{\"message\":\"slow\",\"type\":\"rate_limit_error\"}}\n\n"],
        )
        .unwrap();
        assert_eq!(
            ev,
            vec![Error {
                status: 429,
                message: "slow".into()
            }]
        );
        // A falsy error key is not an error (the SDK checks truthiness).
        let ev = run(
            &decoder,
            &[b"data: {\"error\":null,\"choices\":[]}\n\ndata: [DONE]\n\n"],
        )
        .unwrap();
        assert!(!ev.iter().any(|e| matches!(e, Error { .. })), "{ev:?}");
    }

    #[test]
    fn malformed_and_truncated_input() {
        let bad = run(&decoder, &[b"data: {\"choices\":[\n\n"]);
        assert!(matches!(bad, Err(StreamError::Malformed(_))), "{bad:?}");
        let bad = run(&decoder, &[b"data: ping\n\n"]);
        assert!(matches!(bad, Err(StreamError::Malformed(_))), "{bad:?}");
        let bad = run(&decoder, &[b"data: [1,2]\n\n"]);
        assert!(matches!(bad, Err(StreamError::Malformed(_))), "{bad:?}");
        // Cut before the finish: truncated, at every cut point.
        let end = PROTOCOLS.windows(8).position(|w| w == b"\"stop\"}]").unwrap();
        for cut in 0..end {
            assert_eq!(
                run(&decoder, &[&PROTOCOLS[..cut]]),
                Err(StreamError::Truncated),
                "cut {cut}"
            );
        }
        // Finished but the usage chunk and [DONE] were lost: accepted, as the SDK accepts it.
        let after_finish = PROTOCOLS.windows(6).position(|w| w == b"data: ").unwrap();
        let cut = PROTOCOLS[end..].windows(2).position(|w| w == b"\n\n").unwrap() + end + 2;
        assert!(cut > after_finish);
        let ev = run(&decoder, &[&PROTOCOLS[..cut]]).unwrap();
        assert_eq!(ev.last(), Some(&finish(FinishReason::Stop)));
        // The last event without its blank line is still decoded at EOF.
        let ev = run(&decoder, &[&PROTOCOLS[..PROTOCOLS.len() - 2]]).unwrap();
        assert_eq!(ev.len(), 6);
        let mut d = OpenAiStreamDecoder::new();
        assert_eq!(d.finish(), Err(StreamError::Truncated));
    }

    #[test]
    fn random_bytes_never_panic() {
        let alphabet: &[&[u8]] = &[
            b"data: ",
            b"\n\n",
            b"\r\n",
            b"[DONE]",
            b"{\"choices\":[{\"index\":0,\"delta\":{",
            b"\"tool_calls\":[{\"index\":",
            b"\"content\":\"x\"",
            b"\"error\":{\"message\":\"e\"}",
            b"\"finish_reason\":\"stop\"",
            b"\"usage\":{\"prompt_tokens\":1}",
            b"}",
            b"]",
            b",",
            b"1",
            b"\xff",
        ];
        testing::token_noise(0x9E37_79B9_7F4A_7C15, alphabet, fuzz_decode);
        fuzz_decode(PROTOCOLS);
        fuzz_decode(TOOL_CALLS);
    }

    /// What an answer looks like after a trip through OpenAI: no thinking, no stop sequence, no
    /// cache writes.
    fn through_openai(mut r: ChatResponse) -> ChatResponse {
        r.content.retain(|p| !matches!(p, Part::Thinking { .. }));
        if r.finish == FinishReason::StopSequence {
            r.finish = FinishReason::Stop;
        }
        r.stop_sequence = None;
        r.usage.cache_write = 0;
        r.created = 0;
        r
    }

    fn answers() -> Vec<ChatResponse> {
        testing::answers(text_answer(Usage {
            input: 100,
            output: 20,
            cache_read: 40,
            cache_write: 5,
            reasoning: 3,
        }))
    }

    #[test]
    fn round_trip_through_encoder_and_decoder() {
        for resp in answers() {
            let events = events_from_response(&resp, 3);
            let bytes = encode_all(&mut encoder(true), &events);
            let back = decode_every_split(&decoder, &bytes);
            assert_eq!(collect(&back), through_openai(collect(&events)), "{resp:?}");
            // Without include_usage the stream carries no usage at all.
            let bytes = encode_all(&mut encoder(false), &events);
            let mut want = through_openai(collect(&events));
            want.usage = Usage::default();
            assert_eq!(collect(&run(&decoder, &[&bytes]).unwrap()), want);
        }
    }

    #[test]
    fn encoder_writes_exact_small_stream() {
        let events = [
            start("chatcmpl-1", "gpt-x"),
            text(0, "Hi"),
            BlockStop { index: 0 },
            ToolCallStart {
                index: 1,
                id: "call_1".into(),
                name: "f".into(),
            },
            ToolCallDelta {
                index: 1,
                arguments: "{\"a\":".into(),
            },
            ToolCallDelta {
                index: 1,
                arguments: "1}".into(),
            },
            BlockStop { index: 1 },
            finish(FinishReason::ToolCalls),
            StreamEvent::Usage(usage(5, 3, 2, 1)),
        ];
        let out = encode_all(&mut encoder(true), &events);
        let head = r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-x","choices":"#;
        let want = [
            r#"[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            r#"[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            r#"[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            r#"[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            r#"[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            r#"[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}"#,
            r#"[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,"prompt_tokens_details":{"cached_tokens":2,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":1,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#,
        ];
        let mut expected: String = want.iter().map(|w| format!("{head}{w}\n\n")).collect();
        expected.push_str("data: [DONE]\n\n");
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn encoder_rules_role_once_ids_once_usage_last() {
        let events = events_from_response(&sample_response(), 3);
        let out = lines(&encode_all(&mut encoder(true), &events));
        let all = out.join("\n");
        assert_eq!(all.matches("\"role\"").count(), 1);
        assert!(out[0].contains("\"role\":\"assistant\""));
        for id in [
            "\"id\":\"call_1\"",
            "\"id\":\"call_2\"",
            "\"name\":\"get_weather\"",
            "\"name\":\"get_time\"",
        ] {
            assert_eq!(all.matches(id).count(), 1, "{id}");
        }
        assert!(!all.contains("let me think"), "thinking is not written");
        for l in out.iter().filter(|l| l.contains("tool_calls\":[")) {
            assert!(l.contains("\"tool_calls\":[{\"index\":"), "{l}");
        }
        assert_eq!(out[out.len() - 1], "data: [DONE]");
        assert!(out[out.len() - 2].contains("\"choices\":[],\"usage\":{\"prompt_tokens\":12"));
        assert!(out[out.len() - 3].contains("\"finish_reason\":\"tool_calls\""));
        assert!(out[..out.len() - 2].iter().all(|l| l.contains("\"usage\":null")));
        // No include_usage: no usage key at all, and no usage chunk.
        let out = lines(&encode_all(&mut encoder(false), &events));
        assert!(out.iter().all(|l| !l.contains("usage")));
        assert!(out[out.len() - 2].contains("\"finish_reason\":\"tool_calls\""));
    }

    #[test]
    fn cached_text_frame_writes_what_the_serializer_writes() {
        // Ids and models that contain the frame's own marker, quotes, escapes and non-ASCII; texts
        // that need escaping. Each text chunk must equal the serializer's chunk for it.
        let ids = [("chatcmpl-1", "gpt-4o-mini"), (r#"x"content":""y"#, "m\\\"q\u{2028}é")];
        let texts = [
            "",
            "plain",
            "quote \" and \\ slash",
            "line\nbreak\ttab\u{1}",
            "ünï 🦀 \u{2028}",
            r#""content":"""#,
        ];
        for include_usage in [true, false] {
            for (id, model) in ids {
                let mut fast = encoder(include_usage);
                let mut slow = encoder(include_usage);
                let mut out = Vec::new();
                fast.encode(&start(id, model), &mut out);
                slow.encode(&start(id, model), &mut Vec::new());
                for t in texts {
                    out.clear();
                    fast.encode(&text(0, t), &mut out);
                    let mut want = Vec::new();
                    let delta = OpenAiDeltaOut {
                        content: Some(t),
                        ..Default::default()
                    };
                    slow.choice(delta, None, &mut want);
                    assert_eq!(
                        String::from_utf8_lossy(&out),
                        String::from_utf8_lossy(&want),
                        "{id} {t}"
                    );
                }
                assert!(fast.text_frame.is_some(), "the cached frame is in use");
            }
        }
    }

    #[test]
    fn encoder_copes_with_late_usage_and_missing_events() {
        // Usage after Finish still lands in the usage chunk; no Start: role on the first delta.
        let mut e = encoder(true);
        let out = encode_all(
            &mut e,
            &[
                text(3, "x"),
                finish(FinishReason::Length),
                StreamEvent::Usage(usage(1, 2, 0, 0)),
            ],
        );
        let out = lines(&out);
        assert!(
            out[0].contains(r#""delta":{"role":"assistant","content":"x"}"#),
            "{}",
            out[0]
        );
        assert!(out[1].contains(r#""finish_reason":"length""#));
        assert!(out[2].contains(r#""prompt_tokens":1,"completion_tokens":2"#));
        // No Finish at all: finish() writes one.
        let out = lines(&encode_all(&mut encoder(false), &[start("i", "m"), text(0, "y")]));
        assert!(out[2].contains(r#""finish_reason":"stop""#), "{out:?}");
        // A tool delta without its start still gets index, id and type.
        let mut out = Vec::new();
        encoder(false).encode(
            &ToolCallDelta {
                index: 9,
                arguments: "{}".into(),
            },
            &mut out,
        );
        assert!(String::from_utf8(out).unwrap().contains(
            r#""tool_calls":[{"index":0,"id":"","type":"function","function":{"name":"","arguments":"{}"}}]"#
        ));
    }

    #[test]
    fn error_writes_openai_error_then_done() {
        let mut e = encoder(true);
        let mut out = Vec::new();
        e.encode(&start("c", "m"), &mut out);
        out.clear();
        e.error(429, "slow down", &mut out);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "data: {\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}\n\ndata: [DONE]\n\n"
        );
        out.clear();
        e.encode(&text(0, "more"), &mut out);
        e.finish(&mut out);
        e.error(500, "again", &mut out);
        assert!(out.is_empty(), "nothing after the error");
        // The Error event behaves as error(), and our decoder reads it back.
        let mut e = encoder(false);
        let bytes = encode_all(
            &mut e,
            &[
                start("c", "m"),
                text(0, "a"),
                Error {
                    status: 503,
                    message: "busy".into(),
                },
            ],
        );
        let ev = run(&decoder, &[&bytes]).unwrap();
        // The wire error carries no status; its `code` (`overloaded`) reads back as 503.
        assert_eq!(
            ev.last(),
            Some(&Error {
                status: 503,
                message: "busy".into()
            })
        );
    }
}
