//! Gemini `streamGenerateContent?alt=sse` (PROTOCOLS 4.4, 4.5) <-> canonical stream events.
//!
//! Provider side (`GeminiStreamDecoder`): every SSE event is one complete `GenerateContentResponse`
//! holding only the new parts of candidate 0. Consecutive text (or thought) parts continue one
//! block; a `functionCall` part is complete, so it becomes `ToolCallStart` + one `ToolCallDelta`
//! with the whole `args` + `BlockStop`, with ids synthesized as `decode_response` does
//! (`call_<nonce>_<n>`). `usageMetadata` (on any chunk) becomes `Usage` when it changed,
//! `finishReason` closes the open block and becomes `Finish` (`STOP` after a call reads as
//! `ToolCalls`, as in the unary decoder). A chunk with an `error` member is the in-stream error
//! (`Error`, after which nothing is decoded). Gemini has no end marker: `done()` stays false and
//! `finish()` is Ok only if a `finishReason` (or an error chunk) was seen and the body did not
//! end inside an event.
//!
//! Function-call arguments the encoder cannot send as an object (invalid JSON from an upstream
//! cut off mid-call, or a non-object) go out as `args: {}`: a Gemini client cannot parse partial
//! `args`, and dropping the call would hide that the model asked for it.
//!
//! Integration side (`GeminiStreamEncoder`): `data: <compact JSON>` + CRLF per chunk, U+2028,
//! U+2029 and U+0085 escaped (google-genai 1.x splits lines on them), nothing else on the wire.
//! A client that did not ask for `alt=sse` gets the API's other stream form instead: one JSON
//! array (`application/json`), `[` with the first response, `,\r\n` before each next one and `]`
//! after the last, each response written as soon as it is encoded.
//! Text and thinking go out at once, one chunk per delta; a function call is held until its
//! `BlockStop` because Gemini needs complete `args`; `finishReason` and `usageMetadata` ride on
//! the last chunk, written by `finish()`.
//!
//! A `thoughtSignature` on a `functionCall` rides in the call's id (`signed_id`), so a client of
//! another format sends it back with its history. Losses, by design: canonical stream events
//! carry no text extras, so a signature on a non-thought text part is dropped (a thought
//! part's signature travels as `ThinkingSignature`); media parts (`inlineData`, `fileData`) have
//! no stream event and are skipped, as are parts of unknown kinds; Gemini has no stop-sequence
//! reason, so `StopSequence` goes out as `STOP`.

use super::error::{client_status, decode_error};
use super::response::{
    finish_from_gemini, finish_to_gemini, logprobs_from_gemini, response_call_id, usage_from_gemini, write_logprobs,
    write_usage_metadata,
};
use super::{decode_part, encode_part, field, signed_id, str_field, write, CallIds};
use crate::canonical::sig::{self, Family};
use crate::canonical::stream::{ByIndex, StreamEncode, StreamError, StreamEvent};
use crate::canonical::{ChatRequest, Extra, FaultKind, FinishReason, Json, JsonPath, Part, TokenLogprob, Usage};
use crate::formats::sse_stream::{self, SseEventDecoder, SseStreamDecoder};
use crate::wire::sse::{encode_event_crlf, escape_js_line_separators, SseEvent};
use serde::de::IgnoredAny;
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::borrow::Cow;
use std::collections::VecDeque;

// ---- decoder (provider) ------------------------------------------------------------------------

/// Gemini's rules for one SSE event (the driver is `SseStreamDecoder`).
#[derive(Default)]
pub struct GeminiEventDecoder {
    started: bool,
    ids: CallIds,
    next_index: u32,
    /// The open text or thought block: (index, is_thought).
    open: Option<(u32, bool)>,
    saw_call: bool,
    /// A `finishReason` was decoded (the stream is complete).
    finished: bool,
    /// An error chunk was decoded (the stream ended, reported as `Error`).
    errored: bool,
    last_usage: Option<Usage>,
}

/// A mid-stream chunk that carries only text or thought text, the bulk of every stream, read
/// straight into its fields instead of through a `sonic_rs::Value` tree. Every level denies
/// unknown keys, so any other shape (an error, a finish, a signature, a call, snake_case
/// spellings) fails to parse here and takes the general path.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TextChunkIn<'a> {
    candidates: Vec<TextCandidateIn>,
    #[serde(default, borrow)]
    response_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    model_version: Option<Cow<'a, str>>,
    #[serde(default)]
    usage_metadata: Option<Json>,
    #[serde(default, rename = "createTime")]
    _create_time: IgnoredAny,
}

/// Keys the general path does not read are taken and ignored here too.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TextCandidateIn {
    content: TextContentIn,
    #[serde(default, rename = "index")]
    _index: IgnoredAny,
    #[serde(default, rename = "safetyRatings")]
    _safety_ratings: IgnoredAny,
    #[serde(default, rename = "citationMetadata")]
    _citation_metadata: IgnoredAny,
    #[serde(default, rename = "groundingMetadata")]
    _grounding_metadata: IgnoredAny,
    #[serde(default, rename = "avgLogprobs")]
    _avg_logprobs: IgnoredAny,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TextContentIn {
    parts: Vec<TextPartIn>,
    #[serde(default, rename = "role")]
    _role: IgnoredAny,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TextPartIn {
    text: String,
    #[serde(default)]
    thought: Option<bool>,
}

impl GeminiEventDecoder {
    /// The fast path for a text-only chunk: what `decode_chunk` does for it, in the same order.
    fn text_chunk(&mut self, c: TextChunkIn<'_>, out: &mut VecDeque<StreamEvent>) {
        let usage = c.usage_metadata.as_ref().filter(|u| !u.is_null());
        self.start_with_usage(
            c.response_id.as_deref().unwrap_or_default(),
            c.model_version.as_deref().unwrap_or_default(),
            usage,
            out,
        );
        if let Some(first) = c.candidates.into_iter().next() {
            for part in first.content.parts {
                // As on the general path: a thought opens its block even when
                // empty; empty text is skipped.
                if part.thought == Some(true) {
                    let index = self.block(true, out);
                    if !part.text.is_empty() {
                        out.push_back(StreamEvent::ThinkingDelta { index, text: part.text });
                    }
                } else if !part.text.is_empty() {
                    let index = self.block(false, out);
                    out.push_back(StreamEvent::TextDelta { index, text: part.text });
                }
            }
        }
        if let Some(u) = usage {
            self.usage(u, out);
        }
    }

    fn decode_chunk(&mut self, data: &[u8], out: &mut VecDeque<StreamEvent>) -> Result<(), StreamError> {
        if data.trim_ascii().is_empty() || self.errored {
            // An event without data carries nothing; nothing follows an error.
            return Ok(());
        }
        if let Ok(c) = sonic_rs::from_slice::<TextChunkIn>(data) {
            self.text_chunk(c, out);
            return Ok(());
        }
        let v: Json = sonic_rs::from_slice(data).map_err(|e| {
            StreamError::Malformed(format!(
                "Gemini stream chunk is not JSON: {}",
                crate::wire::json::brief(&e)
            ))
        })?;
        if !v.is_object() {
            return Err(StreamError::Malformed(
                "Gemini stream chunk is not a JSON object".into(),
            ));
        }
        if let Some(err) = field(&v, "error") {
            self.start("", "", out);
            self.close_open(out);
            let fault = decode_error(error_code(field(err, "code").and_then(|c| c.as_u64())), data);
            out.push_back(StreamEvent::Error {
                status: fault.status,
                message: fault.message,
            });
            self.errored = true;
            return Ok(());
        }
        self.start_with_usage(
            str_field(&v, "responseId").unwrap_or_default(),
            str_field(&v, "modelVersion").unwrap_or_default(),
            field(&v, "usageMetadata"),
            out,
        );
        let candidate = field(&v, "candidates")
            .and_then(|c| c.as_array())
            .and_then(|c| c.iter().next());
        let mut finish = None;
        if let Some(c) = candidate {
            let logprobs = field(c, "logprobsResult")
                .map(logprobs_from_gemini)
                .filter(|l| !l.is_empty());
            let mark = out.len();
            if let Some(parts) = field(c, "content")
                .and_then(|ct| field(ct, "parts"))
                .and_then(|p| p.as_array())
            {
                let root = JsonPath::ROOT;
                let cands = root.key("candidates");
                let c0 = cands.index(0);
                let ct = c0.key("content");
                let ppath = ct.key("parts");
                for (j, p) in parts.iter().enumerate() {
                    self.decode_part(p, &ppath.index(j), data, j, out)?;
                }
            }
            if let Some(l) = logprobs {
                // Just before the chunk's answer text (not its thoughts or calls), as the
                // canonical event says; at the end if it has none.
                let at = (mark..out.len())
                    .find(|&i| matches!(out[i], StreamEvent::TextDelta { .. }))
                    .unwrap_or(out.len());
                out.insert(at, StreamEvent::Logprobs(l));
            }
            finish = field(c, "finishReason")
                .and_then(|f| f.as_str())
                .map(finish_from_gemini);
        } else if field(&v, "promptFeedback")
            .and_then(|p| field(p, "blockReason"))
            .is_some()
        {
            // The prompt itself was blocked: no candidates at all.
            finish = Some(FinishReason::ContentFilter);
        }
        let finish = finish.filter(|_| !self.finished);
        if finish.is_some() {
            self.close_open(out);
        }
        if let Some(u) = field(&v, "usageMetadata") {
            self.usage(u, out);
        }
        if let Some(mut reason) = finish {
            if reason == FinishReason::Stop && self.saw_call {
                reason = FinishReason::ToolCalls;
            }
            self.finished = true;
            out.push_back(StreamEvent::Finish {
                reason,
                stop_sequence: None,
            });
        }
        Ok(())
    }

    /// `p` is part `j` of the first candidate in the chunk `data`.
    fn decode_part(
        &mut self,
        p: &Json,
        path: &JsonPath<'_>,
        data: &[u8],
        j: usize,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), StreamError> {
        // NOTE: media has no stream event; a client would get nothing useful from a placeholder.
        if field(p, "inlineData").is_some() || field(p, "fileData").is_some() {
            return Ok(());
        }
        let part = match decode_part(p, path, &mut self.ids) {
            Ok(part) => part,
            Err(e) if field(p, "functionCall").is_some() => return Err(StreamError::Malformed(e.to_string())),
            // Parts of kinds newer than this decoder: skip rather than fail the whole answer.
            Err(_) => return Ok(()),
        };
        match part {
            Part::Text { text, .. } if !text.is_empty() => {
                let index = self.block(false, out);
                out.push_back(StreamEvent::TextDelta { index, text });
            }
            Part::Thinking { text, signature } => {
                let index = self.block(true, out);
                if !text.is_empty() {
                    out.push_back(StreamEvent::ThinkingDelta { index, text });
                }
                if let Some(signature) = signature {
                    out.push_back(StreamEvent::ThinkingSignature { index, signature });
                }
            }
            Part::ToolCall {
                id,
                name,
                arguments,
                signature,
                ..
            } => {
                // The signature rides in the id (see `signed_id`).
                let id = match signature {
                    Some(s) => signed_id(&id, &s),
                    None => id,
                };
                self.close_open(out);
                let index = self.next_index;
                self.next_index += 1;
                self.saw_call = true;
                let arguments = super::raw_call_args(data, j).unwrap_or(arguments);
                out.push_back(StreamEvent::ToolCallStart { index, id, name });
                out.push_back(StreamEvent::ToolCallDelta { index, arguments });
                out.push_back(StreamEvent::BlockStop { index });
            }
            _ => {}
        }
        Ok(())
    }

    /// `Usage` when it changed.
    fn usage(&mut self, u: &Json, out: &mut VecDeque<StreamEvent>) {
        let usage = usage_from_gemini(u);
        if self.last_usage != Some(usage) {
            self.last_usage = Some(usage);
            out.push_back(StreamEvent::Usage(usage));
        }
    }

    /// `Start` on the first chunk, preceded by that chunk's usage: Gemini counts the prompt from
    /// the first chunk on, and an encoder that opens its stream with the input count (Anthropic's
    /// `message_start`) needs it before `Start`.
    fn start_with_usage(&mut self, id: &str, model: &str, usage: Option<&Json>, out: &mut VecDeque<StreamEvent>) {
        if !self.started {
            if let Some(u) = usage {
                self.usage(u, out);
            }
        }
        self.start(id, model, out);
    }

    fn start(&mut self, id: &str, model: &str, out: &mut VecDeque<StreamEvent>) {
        if !self.started {
            self.started = true;
            self.ids.answer_id(id);
            out.push_back(StreamEvent::Start {
                id: id.to_string(),
                model: model.to_string(),
            });
        }
    }

    /// The index of the open text (or thought) block, opening one if needed.
    fn block(&mut self, thought: bool, out: &mut VecDeque<StreamEvent>) -> u32 {
        match self.open {
            Some((index, t)) if t == thought => index,
            _ => {
                self.close_open(out);
                let index = self.next_index;
                self.next_index += 1;
                self.open = Some((index, thought));
                index
            }
        }
    }

    fn close_open(&mut self, out: &mut VecDeque<StreamEvent>) {
        if let Some((index, _)) = self.open.take() {
            out.push_back(StreamEvent::BlockStop { index });
        }
    }
}

impl SseEventDecoder for GeminiEventDecoder {
    fn decode(&mut self, event: &SseEvent, out: &mut VecDeque<StreamEvent>) -> Result<(), StreamError> {
        self.decode_chunk(&event.data, out)
    }

    // A last chunk without its blank line is decoded by the driver (Google clients flush it).
    fn end(&mut self, out: &mut VecDeque<StreamEvent>) {
        self.close_open(out);
    }

    /// Gemini has no end marker: the stream ends only at EOF.
    fn done(&self) -> bool {
        false
    }

    fn complete(&self) -> bool {
        self.finished || self.errored
    }
}

/// Gemini SSE bytes from an upstream -> canonical events.
pub type GeminiStreamDecoder = SseStreamDecoder<GeminiEventDecoder>;

/// Fuzz entry: decodes `data` in a few splits and drains it, ignoring errors. Must never panic.
pub fn fuzz_decode(data: &[u8]) {
    sse_stream::fuzz_decode(GeminiStreamDecoder::new(), data)
}

// ---- encoder (integration) ---------------------------------------------------------------------

/// Canonical events -> Gemini stream bytes for a client: SSE (`alt=sse`), or one JSON array
/// written element by element (`streamGenerateContent` without `alt=sse`, PROTOCOLS 4.1).
pub struct GeminiStreamEncoder {
    /// The JSON-array form: `[` before the first response, `,\r\n` between, `]` at the end.
    array: bool,
    /// Responses written so far (where the array form needs its `[`).
    written: u32,
    id: String,
    model: String,
    /// Tool calls held until they can go out whole, in the order they started, by block index:
    /// (`Part::ToolCall`, its `BlockStop` seen).
    calls: ByIndex<u32, (Part, bool)>,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
    /// `finish` or `error` ran: nothing more is written.
    closed: bool,
    /// The chunk's JSON, then its escaped copy when it holds line separators (both reused).
    json: Vec<u8>,
    escaped: Vec<u8>,
    /// Log probabilities for the next chunk written (the text they belong to follows them).
    logprobs: Vec<TokenLogprob>,
}

/// The `usageMetadata` a chunk carries.
#[derive(Clone, Copy)]
enum ChunkUsage<'a> {
    /// A chunk before the last: the prompt's count only.
    Prompt(&'a Usage),
    /// The last chunk: every count.
    Whole(&'a Usage),
}

impl GeminiStreamEncoder {
    pub fn new(_req: &ChatRequest) -> Self {
        GeminiStreamEncoder {
            array: false,
            written: 0,
            id: String::new(),
            model: String::new(),
            calls: ByIndex::default(),
            usage: None,
            finish: None,
            closed: false,
            json: Vec::with_capacity(256),
            escaped: Vec::new(),
            logprobs: Vec::new(),
        }
    }

    /// The JSON-array form, for a client that did not ask for `alt=sse`. The array is closed
    /// only by `finish` or `error`: a stream cut short is not valid JSON, so it cannot pass for
    /// a whole answer.
    pub fn json_array(req: &ChatRequest) -> Self {
        GeminiStreamEncoder {
            array: true,
            ..Self::new(req)
        }
    }

    /// Starts a chunk in `self.json` and opens its `parts` array.
    fn begin_parts(&mut self) {
        Self::parts_prefix(&mut self.json);
    }

    fn parts_prefix(b: &mut Vec<u8>) {
        b.clear();
        b.extend_from_slice(b"{\"candidates\":[{\"content\":{\"parts\":[");
    }

    /// Closes the parts array, the candidate and a chunk before the last, in the real API's key
    /// order. Once the prompt's count is known (an upstream that gives it from its first event
    /// on) every chunk carries it, as Google's do.
    fn end_chunk(&mut self) {
        let b = &mut self.json;
        b.extend_from_slice(b"],\"role\":\"model\"},");
        let usage = self.usage.as_ref().filter(|u| u.input > 0).map(ChunkUsage::Prompt);
        Self::tail(b, None, &self.logprobs, usage, &self.model, &self.id);
        self.logprobs.clear();
    }

    fn tail(
        b: &mut Vec<u8>,
        finish: Option<&str>,
        logprobs: &[TokenLogprob],
        usage: Option<ChunkUsage<'_>>,
        model: &str,
        id: &str,
    ) {
        if let Some(f) = finish {
            b.extend_from_slice(b"\"finishReason\":");
            write::string(b, f);
            b.push(b',');
        }
        if !logprobs.is_empty() {
            write_logprobs(b, logprobs);
            b.push(b',');
        }
        b.extend_from_slice(b"\"index\":0}]");
        match usage {
            Some(ChunkUsage::Prompt(u)) => {
                b.extend_from_slice(b",\"usageMetadata\":");
                write_usage_metadata(b, u, false);
            }
            Some(ChunkUsage::Whole(u)) => {
                b.extend_from_slice(b",\"usageMetadata\":");
                write_usage_metadata(b, u, true);
            }
            None => {}
        }
        b.extend_from_slice(b",\"modelVersion\":");
        write::string(b, model);
        b.extend_from_slice(b",\"responseId\":");
        write::string(b, id);
        b.push(b'}');
    }

    /// Writes `self.json` as one SSE event or array element, line separators escaped (valid
    /// JSON either way; SSE clients need it).
    fn flush(&mut self, out: &mut Vec<u8>) {
        self.escaped.clear();
        let json = if escape_js_line_separators(&self.json, &mut self.escaped) {
            &self.escaped
        } else {
            &self.json
        };
        if self.array {
            out.extend_from_slice(if self.written == 0 { b"[" } else { b",\r\n" });
            out.extend_from_slice(json);
        } else {
            encode_event_crlf(out, None, json);
        }
        self.written = self.written.saturating_add(1);
    }

    /// The array form's end, after the last response or the error.
    fn close_array(&self, out: &mut Vec<u8>) {
        if self.array {
            out.push(b']');
        }
    }

    fn text_chunk(&mut self, text: &str, thought: bool, signature: Option<&str>, out: &mut Vec<u8>) {
        self.send_ready_calls(out);
        self.begin_parts();
        let b = &mut self.json;
        b.extend_from_slice(b"{\"text\":");
        write::string(b, text);
        if thought {
            b.extend_from_slice(b",\"thought\":true");
        }
        if let Some(s) = signature {
            b.extend_from_slice(b",\"thoughtSignature\":");
            write::string(b, s);
        }
        b.push(b'}');
        self.end_chunk();
        self.flush(out);
    }

    /// Appends a held call as a `functionCall` part. Arguments that are not a JSON object
    /// (an upstream cut off mid-call, or one that streamed invalid JSON) are sent as `{}`: a
    /// Gemini client cannot parse a partial `args`, and dropping the call would hide that the
    /// model asked for it.
    /// Writes a call part; false (and nothing written) if its arguments are not a JSON object.
    fn try_write_call(b: &mut Vec<u8>, part: &Part) -> bool {
        let call_id = match part {
            Part::ToolCall { id, .. } => response_call_id(id),
            _ => None,
        };
        let mark = b.len();
        let ok = encode_part(b, part, &JsonPath::ROOT, call_id, &|_| None).is_ok();
        if !ok {
            b.truncate(mark);
        }
        ok
    }

    /// Writes a call part; arguments that are not a JSON object go out as `{}`.
    fn write_call(b: &mut Vec<u8>, part: &mut Part) {
        if !Self::try_write_call(b, part) {
            if let Part::ToolCall { arguments, .. } = part {
                arguments.clear();
            }
            // An empty argument string encodes as `{}`, which cannot fail.
            Self::try_write_call(b, part);
        }
    }

    /// Sends the held calls from the first one on, while each is stopped and its arguments
    /// encode whole. A call stopped with arguments empty or unfinished (an upstream that
    /// interleaves parallel calls may send fragments after a call's stop), and every call after
    /// it, wait for the last chunk: Gemini carries `args` whole, and the calls keep their order.
    fn send_ready_calls(&mut self, out: &mut Vec<u8>) {
        let mut sent = 0;
        while let Some((_, (part @ Part::ToolCall { arguments, .. }, true))) = self.calls.at(sent) {
            if arguments.is_empty() {
                break;
            }
            Self::parts_prefix(&mut self.json);
            if !Self::try_write_call(&mut self.json, part) {
                break;
            }
            sent += 1;
            self.end_chunk();
            self.flush(out);
        }
        // Taken at once: one removal per call moved every later call (quadratic when text
        // follows an answer of many calls, each stopped before the next started).
        self.calls.drain_oldest(sent);
    }
}

impl StreamEncode for GeminiStreamEncoder {
    fn content_type(&self) -> &'static str {
        if self.array {
            "application/json; charset=UTF-8"
        } else {
            "text/event-stream"
        }
    }

    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        match event {
            StreamEvent::Start { id, model } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
            }
            StreamEvent::TextDelta { text, .. } => {
                if !text.is_empty() {
                    self.text_chunk(text, false, None, out);
                }
            }
            StreamEvent::ThinkingDelta { text, .. } => {
                if !text.is_empty() {
                    self.text_chunk(text, true, None, out);
                }
            }
            StreamEvent::ThinkingSignature { signature, .. } => {
                self.text_chunk("", true, Some(sig::wire(signature, Family::Gemini)), out)
            }
            // No Gemini part for it (as `encode_response`).
            StreamEvent::RedactedThinking { .. } => {}
            StreamEvent::ToolCallStart { index, id, name } => {
                let call = Part::ToolCall {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                    signature: None,
                    extra: Extra::default(),
                };
                self.calls.push(*index, (call, false))
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                if let Some((Part::ToolCall { arguments: a, .. }, _)) = self.calls.get_mut(*index) {
                    a.push_str(arguments);
                }
            }
            // A stopped call waits for what comes next: more text sends it first (the parts keep
            // their order), the finish takes it in the last chunk, as Google's streams end. A
            // google-genai chat session answers the calls of the turn's last chunk only: with
            // the calls in a chunk of their own and an empty last one after it, the function
            // results would follow a turn without calls, which Gemini refuses.
            StreamEvent::BlockStop { index } => {
                if let Some((_, stopped)) = self.calls.get_mut(*index) {
                    *stopped = true;
                }
            }
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Finish { reason, .. } => {
                if self.finish.is_none() {
                    self.finish = Some(reason.clone());
                }
            }
            StreamEvent::Error { status, message } => self.error(*status, message, out),
            // No refusal in this format: the refusal's text is written as text.
            StreamEvent::Refusal { .. } => {}
            StreamEvent::Logprobs(l) => self.logprobs.extend_from_slice(l),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        self.closed = true;
        let reason = finish_to_gemini(self.finish.as_ref().unwrap_or(&FinishReason::Stop));
        let usage = self.usage.unwrap_or_default();
        self.json.clear();
        // The last chunk always has a `content`, as Google's do (an empty text part when nothing
        // is left to send): google-genai's chat session drops a streamed turn whose last chunk
        // has none from its history, and its automatic function calling then never answers the
        // calls it ran.
        self.json
            .extend_from_slice(b"{\"candidates\":[{\"content\":{\"parts\":[");
        if self.calls.is_empty() {
            self.json.extend_from_slice(b"{\"text\":\"\"}");
        } else {
            // Calls never closed by a BlockStop go out with the last chunk.
            for (n, (_, (mut part, _))) in self.calls.take().into_iter().enumerate() {
                if n > 0 {
                    self.json.push(b',');
                }
                Self::write_call(&mut self.json, &mut part);
            }
        }
        self.json.extend_from_slice(b"],\"role\":\"model\"},");
        Self::tail(
            &mut self.json,
            Some(reason),
            &self.logprobs,
            Some(ChunkUsage::Whole(&usage)),
            &self.model,
            &self.id,
        );
        self.flush(out);
        self.close_array(out);
    }

    fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        self.closed = true;
        // google-genai 3.x raises by `error.code`, so it must be an HTTP error status, and one
        // Google sends (a 529 as 503, which the SDK retries).
        let (code, name) = client_status(status, FaultKind::from_status(status));
        let b = &mut self.json;
        b.clear();
        b.extend_from_slice(b"{\"error\":{\"code\":");
        write::uint(b, u64::from(code));
        b.extend_from_slice(b",\"message\":");
        write::string(b, message);
        b.extend_from_slice(b",\"status\":");
        write::string(b, name);
        b.extend_from_slice(b"}}");
        self.flush(out);
        self.close_array(out);
    }
}

/// An error chunk's `code` as its HTTP status (500 when missing or not one).
fn error_code(code: Option<u64>) -> u16 {
    code.filter(|c| (100..=599).contains(c)).map_or(500, |c| c as u16)
}

/// The status an error chunk (`{"error":{"code":...}}`) stands for, as this decoder reads it:
/// for a relayed stream, whose chunks are not decoded.
pub(crate) fn error_chunk_status(data: &[u8]) -> u16 {
    let code = sonic_rs::get(data, &["error", "code"]).ok().and_then(|c| c.as_u64());
    decode_error(error_code(code), data).status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::stream::testing::{
        answers, byte_noise, collect, decode_every_split, encode_all, run, sample_response, text_answer,
    };
    use crate::canonical::stream::StreamDecode;
    use crate::canonical::stream::{events_from_response, StreamEvent as E};
    use crate::canonical::ChatResponse;
    use crate::formats::gemini::response::is_synthesized;
    use bytes::Bytes;

    const TEXT: &[u8] = include_bytes!("fixtures/stream_text.txt");
    const TOOLS: &[u8] = include_bytes!("fixtures/stream_tools.txt");

    fn dec() -> Box<dyn StreamDecode> {
        Box::new(GeminiStreamDecoder::new())
    }

    #[test]
    fn text_fast_path_reads_what_the_general_path_reads() {
        // Each chunk as is (text-only ones take the typed fast path), and with an extra top-level
        // key, which the fast path refuses and the general path ignores: the same events.
        let chunks = [
            r#"{"candidates":[{"content":{"parts":[{"text":"He"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4},"modelVersion":"gemini-2.5-flash","responseId":"r1"}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":"l\"l\u00e9\n"},{"text":""},{"text":"o"}],"role":"model"},"safetyRatings":[{"category":"x","probability":"NEGLIGIBLE"}],"index":0}],"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4}}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":" w"}]}},{"content":{"parts":[{"text":"second candidate"}]}}],"usageMetadata":null,"responseId":null}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":"x","thought":true}]}}]}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":"","thought":true},{"text":"y","thought":false}]}}]}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":"z","thought":true,"thoughtSignature":"s"}]}}]}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":"or"}]}}],"usage_metadata":{"prompt_token_count":4,"candidates_token_count":3}}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":null}]}}]}"#,
            r#"{"candidates":[]}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":"ld"}]}}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":5,"totalTokenCount":9}}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":"!"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6,"totalTokenCount":10}}"#,
        ];
        let stream = |general: bool| {
            let mut s = String::new();
            for c in chunks {
                let c = if general {
                    c.replacen('{', r#"{"forceGeneralPath":1,"#, 1)
                } else {
                    c.to_string()
                };
                s.push_str(&format!("data: {c}\r\n\r\n"));
            }
            s
        };
        let fast = run(&dec, &[stream(false).as_bytes()]).unwrap();
        let general = run(&dec, &[stream(true).as_bytes()]).unwrap();
        assert_eq!(fast, general);
        let text: String = fast
            .iter()
            .filter_map(|e| match e {
                E::TextDelta { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "Hel\"lé\no wyorld!");
        assert!(fast.contains(&E::Start {
            id: "r1".into(),
            model: "gemini-2.5-flash".into()
        }));
    }

    fn enc() -> GeminiStreamEncoder {
        GeminiStreamEncoder::new(&ChatRequest::default())
    }

    fn encode(events: &[StreamEvent]) -> String {
        String::from_utf8(encode_all(&mut enc(), events)).unwrap()
    }

    fn start(id: &str, model: &str) -> E {
        E::Start {
            id: id.into(),
            model: model.into(),
        }
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
                // The first chunk's usage comes before `Start` (see `start_with_usage`).
                E::Usage(Usage {
                    input: 4,
                    ..Usage::default()
                }),
                start("abc123", "gemini-2.5-flash"),
                text(0, "Hel"),
                text(0, "lo"),
                E::BlockStop { index: 0 },
                E::Usage(Usage {
                    input: 4,
                    output: 2,
                    ..Usage::default()
                }),
                finish(FinishReason::Stop),
            ]
        );
    }

    #[test]
    fn thinking_text_and_parallel_calls_fixture_decodes_at_every_split() {
        let events = decode_every_split(&dec, TOOLS);
        let call = |index: u32, id: &str, args: &str| {
            [
                E::ToolCallStart {
                    index,
                    id: id.into(),
                    name: "get_weather".into(),
                },
                E::ToolCallDelta {
                    index,
                    arguments: args.into(),
                },
                E::BlockStop { index },
            ]
        };
        let mut want = vec![
            E::Usage(Usage {
                input: 31,
                ..Usage::default()
            }),
            start("resp-7", "gemini-2.5-flash"),
            E::ThinkingDelta {
                index: 0,
                text: "**Planning** the lookup".into(),
            },
            E::ThinkingSignature {
                index: 0,
                signature: "slcGCiQB0e2Kb==".into(),
            },
            E::BlockStop { index: 0 },
            text(1, "Checking Paris and "),
            text(1, "Rome\u{2028}now."),
            E::BlockStop { index: 1 },
        ];
        let id = |n| super::super::CallIds::answer_call_id("resp-7", n);
        want.extend(call(2, &id(0), r#"{"city":"Paris"}"#));
        // Arguments are re-serialized compact with sorted keys, as by the unary decoder.
        // As the upstream wrote them: keys in its order.
        want.extend(call(3, &id(1), r#"{"units":["c"],"city":"Rome"}"#));
        want.push(E::Usage(Usage {
            input: 31,
            output: 60,
            cache_read: 8,
            reasoning: 36,
            cache_write: 0,
        }));
        want.push(finish(FinishReason::ToolCalls));
        assert_eq!(events, want);
        // The same ids and content as the unary decoder gives for the same parts.
        let r = collect(&events);
        assert!(matches!(&r.content[2], Part::ToolCall { id: got, .. } if *got == id(0)));
    }

    /// What a Gemini round trip keeps of `resp`: made-up ids (`is_synthesized`) are Sluice's own
    /// and are not sent, so they come back made up again (here renumbered `call_<n>` in order);
    /// Gemini has no stop-sequence reason.
    fn through_gemini(mut resp: ChatResponse) -> ChatResponse {
        let mut n = 0;
        for p in &mut resp.content {
            if let Part::ToolCall { id, .. } = p {
                if is_synthesized(id) {
                    *id = format!("call_{n}");
                }
                n += 1;
            }
        }
        if resp.finish == FinishReason::StopSequence {
            resp.finish = FinishReason::Stop;
        }
        resp.stop_sequence = None;
        resp
    }

    fn round_trip(resp: &ChatResponse) {
        let events = events_from_response(resp, 3);
        let bytes = encode_all(&mut enc(), &events);
        let back = decode_every_split(&dec, &bytes);
        // Both sides' made-up ids renumbered alike (the decoder's carry the answer's nonce).
        assert_eq!(
            through_gemini(collect(&back)),
            through_gemini(crate::canonical::sig::marked(collect(&events), Family::Gemini)),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }

    #[test]
    fn round_trips_through_encoder_and_decoder() {
        let mut foreign_ids = sample_response();
        for p in &mut foreign_ids.content {
            if let Part::ToolCall { id, .. } = p {
                id.insert_str(0, "toolu_");
            }
        }
        round_trip(&foreign_ids);
        let text_only = ChatResponse {
            content: vec![Part::text("Bonjour\u{2029} le\u{85} monde")],
            ..text_answer(Usage {
                input: 3,
                output: 9,
                cache_read: 2,
                reasoning: 4,
                cache_write: 0,
            })
        };
        for resp in answers(text_only) {
            round_trip(&resp);
        }
    }

    #[test]
    fn encoder_writes_crlf_chunks_and_the_last_with_finish_and_usage() {
        let out = encode(&[
            start("r1", "gemini-2.5-flash"),
            text(0, "Hi"),
            E::BlockStop { index: 0 },
            E::Usage(Usage {
                input: 5,
                output: 2,
                ..Usage::default()
            }),
            finish(FinishReason::Stop),
        ]);
        assert_eq!(
            out,
            concat!(
                "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],\"role\":\"model\"},\"index\":0}],\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n",
                "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":2,\"totalTokenCount\":7},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n",
            )
        );
    }

    #[test]
    fn encoder_escapes_js_line_separators() {
        let out = encode(&[start("r", "m"), text(0, "a\u{2028}b\u{2029}c\u{85}d")]);
        assert!(out.contains(r#""text":"a\u2028b\u2029c\u0085d""#), "{out}");
        assert!(!out.contains('\u{2028}') && !out.contains('\u{2029}') && !out.contains('\u{85}'));
        // Each chunk stays one physical line.
        assert!(out.split("\r\n").all(|l| l.is_empty() || l.starts_with("data: {")));
    }

    #[test]
    fn encoder_writes_thinking_as_thought_parts_and_the_signature_after() {
        let out = encode(&[
            start("r", "m"),
            E::ThinkingDelta {
                index: 0,
                text: "hmm".into(),
            },
            E::ThinkingSignature {
                index: 0,
                signature: "c2ln".into(),
            },
            E::BlockStop { index: 0 },
        ]);
        let lines: Vec<&str> = out.split("\r\n\r\n").collect();
        assert!(lines[0].contains(r#""parts":[{"text":"hmm","thought":true}]"#), "{out}");
        assert!(lines[1].contains(r#""parts":[{"text":"","thought":true,"thoughtSignature":"c2ln"}]"#));
    }

    #[test]
    fn function_call_is_held_until_its_stop_and_written_whole() {
        let mut e = enc();
        let mut out = Vec::new();
        e.encode(&start("r", "m"), &mut out);
        e.encode(
            &E::ToolCallStart {
                index: 4,
                id: "toolu_9".into(),
                name: "f".into(),
            },
            &mut out,
        );
        for piece in [r#"{"b":1,"#, r#""a":"x"}"#] {
            e.encode(
                &E::ToolCallDelta {
                    index: 4,
                    arguments: piece.into(),
                },
                &mut out,
            );
        }
        assert!(out.is_empty(), "nothing before the call is complete");
        e.encode(&E::BlockStop { index: 4 }, &mut out);
        // Stopped, it waits for what comes next: text after it sends it first, whole.
        assert!(out.is_empty(), "a stopped call waits for the next part or the finish");
        e.encode(&text(5, "ok"), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"args\":{\"b\":1,\"a\":\"x\"},\"id\":\"toolu_9\",\"name\":\"f\"}}],\"role\":\"model\"},\"index\":0}],\"modelVersion\":\"m\",\"responseId\":\"r\"}\r\n\r\n",
                "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"ok\"}],\"role\":\"model\"},\"index\":0}],\"modelVersion\":\"m\",\"responseId\":\"r\"}\r\n\r\n"
            )
        );
    }

    #[test]
    fn a_stopped_call_rides_in_the_last_chunk_with_the_finish() {
        // As Google's streams end, and as google-genai's chat session needs: the turn's last
        // chunk holds its calls, so the function results it sends follow a turn with calls.
        let out = encode(&[
            start("r", "m"),
            text(0, "Let me check."),
            E::BlockStop { index: 0 },
            E::ToolCallStart {
                index: 1,
                id: "toolu_1".into(),
                name: "f".into(),
            },
            E::ToolCallDelta {
                index: 1,
                arguments: r#"{"a":1}"#.into(),
            },
            E::BlockStop { index: 1 },
            finish(FinishReason::ToolCalls),
        ]);
        let chunks: Vec<&str> = out.split("\r\n\r\n").filter(|c| !c.is_empty()).collect();
        assert_eq!(chunks.len(), 2, "{out}");
        assert!(chunks[0].contains(r#""text":"Let me check.""#), "{out}");
        assert!(
            chunks[1].contains(r#""functionCall":{"args":{"a":1},"id":"toolu_1","name":"f"}"#)
                && chunks[1].contains(r#""finishReason":"STOP""#),
            "{out}"
        );
    }

    #[test]
    fn unfinished_call_arguments_wait_for_the_last_chunk_in_order() {
        let call = |index: u32, args: &str| {
            [
                E::ToolCallStart {
                    index,
                    id: format!("call_{index}"),
                    name: "f".into(),
                },
                E::ToolCallDelta {
                    index,
                    arguments: args.into(),
                },
            ]
        };
        let mut events = vec![start("r", "m")];
        // Stopped with its arguments unfinished: it waits, and so does every call after it.
        events.extend(call(0, r#"{"a":"#));
        events.push(E::BlockStop { index: 0 });
        events.extend(call(1, r#"{"b":2}"#));
        events.push(E::BlockStop { index: 1 });
        // Never stopped: flushed with the last chunk too.
        events.extend(call(2, r#"{"z":true}"#));
        // A late fragment finishes call 0 (an upstream interleaving parallel calls).
        events.push(E::ToolCallDelta {
            index: 0,
            arguments: "1}".into(),
        });
        events.push(finish(FinishReason::ToolCalls));
        let out = encode(&events);
        let chunks: Vec<&str> = out.split("\r\n\r\n").filter(|c| !c.is_empty()).collect();
        assert_eq!(chunks.len(), 1, "{out}");
        assert!(
            chunks[0].contains(r#""parts":[{"functionCall":{"args":{"a":1},"name":"f"}},{"functionCall":{"args":{"b":2},"name":"f"}},{"functionCall":{"args":{"z":true},"name":"f"}}]"#),
            "{out}"
        );
        assert!(chunks[0].contains(r#""finishReason":"STOP""#));

        // Arguments that never become a JSON object (unfinished, or an array) go out as an empty
        // object, still in order.
        let mut events = vec![start("r", "m")];
        events.extend(call(0, r#"{"a":"#));
        events.push(E::BlockStop { index: 0 });
        events.extend(call(1, "[1]"));
        events.push(E::BlockStop { index: 1 });
        events.push(finish(FinishReason::ToolCalls));
        let out = encode(&events);
        assert!(
            out.contains(
                r#""parts":[{"functionCall":{"args":{},"name":"f"}},{"functionCall":{"args":{},"name":"f"}}]"#
            ),
            "{out}"
        );
        let back = collect(&run(&dec, &[out.as_bytes()]).unwrap());
        assert_eq!(back.finish, FinishReason::ToolCalls);
        assert_eq!(back.content.len(), 2);
    }

    #[test]
    fn text_sends_the_ready_calls_before_it_and_keeps_the_rest_in_order() {
        let mut events = vec![start("r", "m")];
        // Each call stopped before the next starts (as Anthropic's); call 3's arguments are
        // unfinished at its stop, so it and the call after it wait for the last chunk.
        for (index, args) in [
            (0, "{\"n\":0}"),
            (1, "{\"n\":1}"),
            (2, "{\"n\":2}"),
            (3, "{\"n\":"),
            (4, "{\"n\":4}"),
        ] {
            events.push(E::ToolCallStart {
                index,
                id: format!("call_{index}"),
                name: "f".into(),
            });
            events.push(E::ToolCallDelta {
                index,
                arguments: args.into(),
            });
            events.push(E::BlockStop { index });
        }
        events.push(text(5, "done"));
        events.push(finish(FinishReason::ToolCalls));
        let out = encode(&events);
        let chunks = sse_datas(&out);
        assert_eq!(chunks.len(), 5, "{out}");
        for (n, chunk) in chunks[..3].iter().enumerate() {
            let call = format!(r#""parts":[{{"functionCall":{{"args":{{"n":{n}}},"name":"f"}}}}]"#);
            assert!(chunk.contains(&call), "chunk {n}: {chunk}");
        }
        assert!(chunks[3].contains(r#""parts":[{"text":"done"}]"#), "{out}");
        assert!(
            chunks[4].contains(
                r#""parts":[{"functionCall":{"args":{},"name":"f"}},{"functionCall":{"args":{"n":4},"name":"f"}}]"#
            ),
            "{out}"
        );
    }

    /// Each SSE event's data, in order.
    fn sse_datas(sse: &str) -> Vec<String> {
        sse.split("\r\n\r\n")
            .filter(|e| !e.is_empty())
            .map(|e| e.strip_prefix("data: ").expect("a data line").to_string())
            .collect()
    }

    #[test]
    fn json_array_form_holds_the_sse_form_responses_in_order() {
        let events = events_from_response(&sample_response(), 3);
        let sse = encode(&events);
        let mut array = GeminiStreamEncoder::json_array(&ChatRequest::default());
        assert_eq!(array.content_type(), "application/json; charset=UTF-8");
        // Written one event at a time, as the pump does: `[` once, then `,\r\n` between.
        let mut pieces = Vec::new();
        for e in &events {
            let mut out = Vec::new();
            array.encode(e, &mut out);
            pieces.push(out);
        }
        let mut end = Vec::new();
        array.finish(&mut end);
        pieces.push(end);
        let whole = String::from_utf8(pieces.concat()).unwrap();
        assert!(whole.starts_with("[{") && whole.ends_with("}]"), "{whole}");
        assert_eq!(whole.matches(",\r\n{").count() + 1, sse_datas(&sse).len(), "{whole}");
        // The same responses, byte for byte, and valid JSON as a whole.
        let inner = &whole[1..whole.len() - 1];
        let elements: Vec<&str> = inner.split(",\r\n").collect();
        assert_eq!(elements, sse_datas(&sse));
        let v: sonic_rs::Value = sonic_rs::from_str(&whole).unwrap();
        assert_eq!(v.as_array().map(|a| a.len()), Some(elements.len()));
        // Nothing after the end.
        let mut out = Vec::new();
        array.finish(&mut out);
        array.error(500, "late", &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn json_array_form_ends_with_the_error_element_and_a_cut_stream_stays_open() {
        let mut e = GeminiStreamEncoder::json_array(&ChatRequest::default());
        let mut out = Vec::new();
        e.encode(&start("r", "m"), &mut out);
        e.encode(&text(0, "par"), &mut out);
        let cut = String::from_utf8(out.clone()).unwrap();
        // What a cut-off stream leaves: an array that no JSON parser accepts.
        assert!(sonic_rs::from_str::<sonic_rs::Value>(&cut).is_err(), "{cut}");
        e.error(503, "The model is overloaded.", &mut out);
        let v: sonic_rs::Value = sonic_rs::from_slice(&out).unwrap();
        let last = &v.as_array().unwrap()[1];
        assert_eq!(last["error"]["code"].as_u64(), Some(503));
        assert!(String::from_utf8(out).unwrap().ends_with(
            ",\r\n{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}]"
        ));
        // An error before any response is a one-element array.
        let mut e = GeminiStreamEncoder::json_array(&ChatRequest::default());
        let mut out = Vec::new();
        e.error(429, "slow down", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[{\"error\":{\"code\":429,\"message\":\"slow down\",\"status\":\"RESOURCE_EXHAUSTED\"}}]"
        );
    }

    #[test]
    fn error_writes_the_error_object_first_then_nothing() {
        let mut e = enc();
        let mut out = Vec::new();
        e.encode(&start("r", "m"), &mut out);
        e.encode(&text(0, "par"), &mut out);
        out.clear();
        e.error(503, "The model is overloaded.", &mut out);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n"
        );
        out.clear();
        e.encode(&text(0, "more"), &mut out);
        e.finish(&mut out);
        e.error(500, "again", &mut out);
        assert!(out.is_empty());
        // An Error event behaves as error(); a non-error status becomes 500 INTERNAL.
        let out = encode(&[
            start("r", "m"),
            E::Error {
                status: 200,
                message: "boom\u{2028}".into(),
            },
        ]);
        assert_eq!(
            out,
            "data: {\"error\":{\"code\":500,\"message\":\"boom\\u2028\",\"status\":\"INTERNAL\"}}\r\n\r\n"
        );
        // Anthropic's 529 used to go out as is, which google-genai does not retry.
        let out = encode(&[
            start("r", "m"),
            E::Error {
                status: 529,
                message: "Overloaded".into(),
            },
        ]);
        assert_eq!(
            out,
            "data: {\"error\":{\"code\":503,\"message\":\"Overloaded\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n"
        );
    }

    #[test]
    fn error_chunk_decodes_to_an_error_event_and_ends_the_stream() {
        let bytes = concat!(
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}],\"role\":\"model\"},\"index\":0}],\"responseId\":\"x\"}\r\n\r\n",
            "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n",
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"ignored\"}]},\"finishReason\":\"STOP\"}]}\r\n\r\n",
        );
        let events = decode_every_split(&dec, bytes.as_bytes());
        assert_eq!(
            events,
            vec![
                start("x", ""),
                text(0, "Hel"),
                E::BlockStop { index: 0 },
                E::Error {
                    status: 503,
                    message: "The model is overloaded.".into()
                },
            ]
        );
        // Our own encoder's error decodes back.
        let out = encode(&[E::Error {
            status: 429,
            message: "slow down".into(),
        }]);
        let events = run(&dec, &[out.as_bytes()]).unwrap();
        assert_eq!(
            events.last(),
            Some(&E::Error {
                status: 429,
                message: "slow down".into()
            })
        );
    }

    #[test]
    fn truncated_streams_and_bad_json_are_errors() {
        // No finishReason: truncated, with the open block still closed.
        let cut = TEXT.len() / 2;
        let mut d = GeminiStreamDecoder::new();
        d.push(Bytes::copy_from_slice(&TEXT[..cut]));
        let mut events = Vec::new();
        while let Some(e) = d.next_event().unwrap() {
            events.push(e);
        }
        assert_eq!(d.finish(), Err(StreamError::Truncated));
        while let Some(e) = d.next_event().unwrap() {
            events.push(e);
        }
        assert!(!d.done());
        assert_eq!(events.last(), Some(&E::BlockStop { index: 0 }));
        assert_eq!(run(&dec, &[b""]), Err(StreamError::Truncated));
        for bad in [
            &b"data: {\"candidates\":[\r\n\r\n"[..],
            b"data: [DONE]\r\n\r\n",
            b"data: \"text\"\r\n\r\n",
            b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"args\":{}}}]}}]}\r\n\r\n",
        ] {
            assert!(
                matches!(run(&dec, &[bad]), Err(StreamError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // An event too large for the SSE decoder is malformed, not a panic or a hang.
        let mut huge = b"data: {\"x\":\"".to_vec();
        huge.resize(crate::wire::sse::DEFAULT_MAX_EVENT_BYTES + 10, b'a');
        assert!(matches!(run(&dec, &[&huge]), Err(StreamError::Malformed(_))));
    }

    #[test]
    fn last_chunk_without_blank_line_and_odd_parts_are_tolerated() {
        let bytes = concat!(
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"inlineData\":{\"mimeType\":\"audio/wav\",\"data\":\"AA==\"}},{\"videoMetadata\":{}},{\"text\":\"ok\"}]}}]}\r\n\r\n",
            "data: {\"candidates\":[{\"finishReason\":\"MAX_TOKENS\"}]}",
        );
        let events = decode_every_split(&dec, bytes.as_bytes());
        assert_eq!(
            events,
            vec![
                start("", ""),
                text(0, "ok"),
                E::BlockStop { index: 0 },
                finish(FinishReason::Length)
            ]
        );
        let blocked = b"data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":{\"promptTokenCount\":3}}\r\n\r\n";
        let events = run(&dec, &[blocked]).unwrap();
        assert_eq!(events.last(), Some(&finish(FinishReason::ContentFilter)));
    }

    #[test]
    fn decoder_never_panics_on_random_bytes() {
        let alphabet = b"data: {}[]\":,\r\n candidates content parts text functionCall error finishReason 0123";
        byte_noise(0x9E37_79B9_7F4A_7C15, alphabet, TOOLS, fuzz_decode);
    }

    #[test]
    fn chunks_carry_the_prompt_count_once_known_and_the_last_every_count() {
        let prompt = Usage {
            input: 4,
            cache_read: 1,
            ..Usage::default()
        };
        let whole = Usage {
            input: 4,
            output: 2,
            cache_read: 1,
            ..Usage::default()
        };
        let wire = encode(&[
            E::Usage(prompt),
            start("r", "g"),
            text(0, "Hel"),
            text(0, "lo"),
            E::Usage(whole),
            finish(FinishReason::Stop),
        ]);
        let chunks: Vec<&str> = wire.split("\r\n\r\n").filter(|c| !c.is_empty()).collect();
        assert_eq!(chunks.len(), 3, "{wire}");
        let prompt_only = r#""usageMetadata":{"promptTokenCount":4,"totalTokenCount":4,"cachedContentTokenCount":1}"#;
        assert!(chunks[0].contains(prompt_only), "{}", chunks[0]);
        assert!(chunks[1].contains(prompt_only), "{}", chunks[1]);
        assert!(chunks[2].contains(r#""promptTokenCount":4,"candidatesTokenCount":2,"totalTokenCount":6"#));
        // Without a prompt count, only the last chunk has usage.
        let wire = encode(&[
            start("r", "g"),
            text(0, "Hel"),
            E::Usage(whole),
            finish(FinishReason::Stop),
        ]);
        assert_eq!(wire.matches("usageMetadata").count(), 1, "{wire}");
        // And the decoder reads it back: the prompt's count before `Start`, then the whole.
        let events = run(
            &dec,
            &[encode(&[
                E::Usage(prompt),
                start("r", "g"),
                text(0, "Hel"),
                E::Usage(whole),
                finish(FinishReason::Stop),
            ])
            .as_bytes()],
        )
        .unwrap();
        assert_eq!(events[0], E::Usage(prompt));
        assert_eq!(events[1], start("r", "g"));
    }
}
