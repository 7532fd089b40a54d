//! InvokeModelWithResponseStream bodies for the model families other than Claude (PROTOCOLS
//! 5.5): each native event's JSON, base64, in a `chunk` frame, the last one with Bedrock's
//! `amazon-bedrock-invocationMetrics` added. The events are written by the family's own
//! encoder (Nova: ConverseStream's, Cohere Command R: v1 chat's, OpenAI: Chat Completions'), so
//! `NativeChunks` only re-frames that encoder's output:
//! - Nova: each JSON line of `ConverseStreamEncoder::json_lines`, `{"<event type>":<payload>}`,
//!   as Nova's native stream writes it (`{"contentBlockDelta":{...}}`);
//! - Cohere Command R: each JSON line;
//! - OpenAI: each SSE `data:` payload, without the `[DONE]` sentinel (the frame stream ends
//!   instead);
//! - Llama, Mistral, Titan Text: each JSON line of `invoke_prompt::PromptLines`.
//!
//! Claude streams are `stream::InvokeStreamEncoder`'s, which frames Anthropic events directly.
//! A mid-stream error is a modeled exception frame, as for Claude, and nothing follows it.

use super::invoke::InvokeFamily;
use super::invoke_prompt::PromptLines;
use super::stream::{chunk_frame, exception_frame, millis_since, InvocationMetrics, EVENT_STREAM_CONTENT_TYPE};
use crate::canonical::stream::{ArgumentsNeverEmpty, SerialToolCalls, StreamEncode, StreamEvent};
use crate::canonical::{ChatRequest, Usage};
use crate::formats::{anthropic, cohere, openai};
use std::time::Instant;

/// The InvokeModelWithResponseStream encoder for `family`, answering the request `req` decoded
/// from `body`.
pub fn stream_encoder(family: InvokeFamily, req: &ChatRequest, body: &[u8]) -> Box<dyn StreamEncode> {
    match family {
        InvokeFamily::Anthropic => Box::new(SerialToolCalls::new(super::stream::InvokeStreamEncoder::new(req))),
        InvokeFamily::Nova => Box::new(NativeChunks::new(
            ArgumentsNeverEmpty::new(SerialToolCalls::new(super::stream::ConverseStreamEncoder::json_lines(
                req,
            ))),
            Split::Lines,
        )),
        InvokeFamily::CohereCommandR => Box::new(NativeChunks::new(
            ArgumentsNeverEmpty::new(cohere::v1chat::V1StreamEncoder::new(body)),
            Split::Lines,
        )),
        InvokeFamily::OpenAi => Box::new(NativeChunks::new(
            ArgumentsNeverEmpty::new(openai::stream::OpenAiStreamEncoder::new(req)),
            Split::Sse,
        )),
        InvokeFamily::Prompt(prompt) => Box::new(NativeChunks::new(PromptLines::new(prompt), Split::Lines)),
    }
}

/// How the inner encoder's output divides into native events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// JSON lines.
    Lines,
    /// SSE `data: <json>` events; `[DONE]` is dropped.
    Sse,
}

/// A family encoder's events re-framed as InvokeModelWithResponseStream `chunk`s.
///
/// Events go out as soon as the inner encoder writes them, except after `Finish`: from there
/// each event waits for the next one (or the stream's end), so that the last of all can carry
/// the invocation metrics. Only the closing events wait, and only until the upstream's end.
pub struct NativeChunks<E> {
    inner: E,
    split: Split,
    /// The inner encoder's output of one call, re-framed at once.
    scratch: Vec<u8>,
    /// After `Finish`: the latest native event, not yet written.
    held: Vec<u8>,
    finishing: bool,
    usage: Usage,
    /// When the request went upstream, and when the first chunk was written.
    sent: Option<Instant>,
    first_byte_ms: Option<u64>,
    /// Reused buffers: an event's native JSON, and the frame payload around its base64.
    json: Vec<u8>,
    payload: Vec<u8>,
    /// Nothing more may be written (after `finish` or an error).
    ended: bool,
}

impl<E: StreamEncode> NativeChunks<E> {
    pub fn new(inner: E, split: Split) -> Self {
        Self {
            inner,
            split,
            scratch: Vec::with_capacity(512),
            held: Vec::new(),
            finishing: false,
            usage: Usage::default(),
            sent: None,
            first_byte_ms: None,
            json: Vec::with_capacity(256),
            payload: Vec::with_capacity(384),
            ended: false,
        }
    }

    /// Re-frames everything in `scratch` into `out` (or `held`), then empties it.
    fn drain(&mut self, out: &mut Vec<u8>) {
        let scratch = std::mem::take(&mut self.scratch);
        let mut rest = &scratch[..];
        while let Some((event, tail)) = next_event(self.split, rest) {
            rest = tail;
            let Some(event) = event else {
                continue;
            };
            self.json.clear();
            self.json.extend_from_slice(event);
            if self.finishing {
                if !self.held.is_empty() {
                    let held = std::mem::take(&mut self.held);
                    self.chunk(&held, out);
                    self.held = held;
                }
                self.held.clear();
                self.held.extend_from_slice(&self.json);
            } else {
                let json = std::mem::take(&mut self.json);
                self.chunk(&json, out);
                self.json = json;
            }
        }
        self.scratch = scratch;
        self.scratch.clear();
    }

    /// Appends `json` as a `chunk` frame.
    fn chunk(&mut self, json: &[u8], out: &mut Vec<u8>) {
        if self.first_byte_ms.is_none() {
            self.first_byte_ms = Some(millis_since(self.sent));
        }
        chunk_frame(&mut self.payload, json, out);
    }

    /// Writes the held event, with the invocation metrics when `last`.
    fn release(&mut self, last: bool, out: &mut Vec<u8>) {
        let mut held = std::mem::take(&mut self.held);
        if held.is_empty() {
            return;
        }
        if last && held.last() == Some(&b'}') {
            held.pop();
            let wire = anthropic::usage_to_wire(&self.usage);
            let metrics = InvocationMetrics {
                input_token_count: wire.input_tokens,
                output_token_count: wire.output_tokens,
                invocation_latency: millis_since(self.sent),
                first_byte_latency: self.first_byte_ms.unwrap_or_else(|| millis_since(self.sent)),
            };
            held.extend_from_slice(br#","amazon-bedrock-invocationMetrics":"#);
            // Serializing this struct into a Vec cannot fail.
            let _ = sonic_rs::to_writer(&mut held, &metrics);
            held.push(b'}');
        }
        self.chunk(&held, out);
    }
}

impl<E: StreamEncode> StreamEncode for NativeChunks<E> {
    fn content_type(&self) -> &'static str {
        EVENT_STREAM_CONTENT_TYPE
    }

    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            StreamEvent::Error { status, message } => return self.error(*status, message, out),
            _ if self.ended => return,
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::Finish { .. } => self.finishing = true,
            _ => {}
        }
        self.inner.encode(event, &mut self.scratch);
        self.drain(out);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.finishing = true;
        self.inner.finish(&mut self.scratch);
        self.drain(out);
        self.release(true, out);
    }

    fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.ended = true;
        // What was complete before the error is delivered, then the exception ends the stream.
        self.release(false, out);
        exception_frame(status, message, true, out);
    }

    fn request_sent_at(&mut self, at: Instant) {
        self.sent = Some(at);
        self.inner.request_sent_at(at);
    }
}

/// The first event of `out` (`None` for what is not one: `[DONE]`, an empty line) and what
/// follows it; `None` when nothing complete is left (the inner encoders write whole events only).
fn next_event(split: Split, out: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    if out.is_empty() {
        return None;
    }
    match split {
        Split::Lines => {
            let end = memchr::memchr(b'\n', out)?;
            let line = &out[..end];
            let native = (!line.iter().all(u8::is_ascii_whitespace)).then_some(line);
            Some((native, &out[end + 1..]))
        }
        Split::Sse => {
            let end = memchr::memmem::find(out, b"\n\n")?;
            let event = &out[..end];
            let native = event.strip_prefix(b"data: ").filter(|d| *d != b"[DONE]");
            Some((native, &out[end + 2..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::stream::events_from_response;
    use crate::canonical::stream::testing::{encode_all, sample_response};
    use crate::canonical::FinishReason;
    use crate::formats::bedrock::invoke_prompt::PromptFamily;
    use crate::wire::eventstream::{EventStreamDecoder, HeaderValue};
    use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

    /// The native events of an InvokeModelWithResponseStream body, decoded as botocore does
    /// (frames with checked CRCs, then the base64 `bytes`), or the exception type that ended it.
    fn chunks(body: &[u8]) -> (Vec<Value>, Option<String>) {
        let mut d = EventStreamDecoder::new();
        d.push(body);
        let mut events = Vec::new();
        while let Some(m) = d.next_message().unwrap() {
            if let Some(HeaderValue::String(t)) = m.header(":exception-type") {
                return (events, Some(t.clone()));
            }
            assert_eq!(m.header_str(":event-type"), Some("chunk"));
            let v: Value = sonic_rs::from_slice(&m.payload).unwrap();
            let bytes = crate::wire::base64::decode(v["bytes"].as_str().unwrap()).unwrap();
            events.push(sonic_rs::from_slice(&bytes).unwrap());
        }
        d.finish().unwrap();
        (events, None)
    }

    fn req(body: &str, family: InvokeFamily) -> ChatRequest {
        super::super::invoke::decode_invoke_request(body.as_bytes(), model(family), true).unwrap()
    }

    fn model(family: InvokeFamily) -> &'static str {
        match family {
            InvokeFamily::Anthropic => "anthropic.claude-3-5-sonnet-20240620-v1:0",
            InvokeFamily::Nova => "us.amazon.nova-lite-v1:0",
            InvokeFamily::CohereCommandR => "cohere.command-r-plus-v1:0",
            InvokeFamily::OpenAi => "openai.gpt-oss-20b-1:0",
            InvokeFamily::Prompt(PromptFamily::Llama) => "meta.llama3-8b-instruct-v1:0",
            InvokeFamily::Prompt(PromptFamily::Mistral) => "mistral.mistral-7b-instruct-v0:2",
            InvokeFamily::Prompt(PromptFamily::TitanText) => "amazon.titan-text-express-v1",
            InvokeFamily::Prompt(PromptFamily::DeepSeek) => "us.deepseek.r1-v1:0",
        }
    }

    /// `sample_response`'s text.
    const TEXT: &str = "h\u{e9}llo \u{2028} \"w\u{f6}rld\"\n";
    const NOVA: &str = r#"{"messages":[{"role":"user","content":[{"text":"hi"}]}]}"#;
    const COHERE: &str = r#"{"message":"hi"}"#;
    const OPENAI: &str = r#"{"messages":[{"role":"user","content":"hi"}]}"#;

    fn stream(family: InvokeFamily, body: &str) -> (Vec<Value>, Option<String>) {
        let r = req(body, family);
        let events = events_from_response(&sample_response(), 3);
        let mut enc = stream_encoder(family, &r, body.as_bytes());
        chunks(&encode_all(enc.as_mut(), &events))
    }

    fn metrics(v: &Value) -> Option<(u64, u64)> {
        let m = v.get("amazon-bedrock-invocationMetrics")?;
        Some((m["inputTokenCount"].as_u64()?, m["outputTokenCount"].as_u64()?))
    }

    #[test]
    fn nova_chunks_are_converse_events_as_one_member_objects() {
        let (events, error) = stream(InvokeFamily::Nova, NOVA);
        assert_eq!(error, None);
        let names: Vec<String> = events
            .iter()
            .map(|e| {
                let obj = e.as_object().unwrap();
                obj.iter()
                    .map(|(k, _)| k.to_string())
                    .find(|k| !k.starts_with("amazon-"))
                    .unwrap()
            })
            .collect();
        assert_eq!(names.first().map(String::as_str), Some("messageStart"));
        assert!(names.iter().any(|n| n == "contentBlockDelta"));
        let stop = names.iter().position(|n| n == "messageStop").unwrap();
        assert_eq!(names[stop + 1..], ["metadata".to_string()]);
        let text: String = events
            .iter()
            .filter_map(|e| {
                e.pointer(&["contentBlockDelta", "delta", "text"])
                    .and_then(|t| t.as_str())
            })
            .collect();
        let want = sample_response();
        assert_eq!(text, TEXT);
        // Only the last chunk has the metrics, and they are the usage's.
        let last = events.last().unwrap();
        assert_eq!(metrics(last), Some((want.usage.input, want.usage.output)));
        assert!(events[..events.len() - 1].iter().all(|e| metrics(e).is_none()));
        assert_eq!(
            last.pointer(&["metadata", "usage", "outputTokens"])
                .and_then(|t| t.as_u64()),
            Some(want.usage.output)
        );
    }

    #[test]
    fn cohere_chunks_are_v1_stream_events_ending_with_stream_end() {
        let (events, error) = stream(InvokeFamily::CohereCommandR, COHERE);
        assert_eq!(error, None);
        assert_eq!(events[0]["event_type"].as_str(), Some("stream-start"));
        let last = events.last().unwrap();
        assert_eq!(last["event_type"].as_str(), Some("stream-end"));
        assert_eq!(last["is_finished"].as_bool(), Some(true));
        let want = sample_response();
        assert_eq!(last.pointer(&["response", "text"]).and_then(|t| t.as_str()), Some(TEXT));
        assert_eq!(metrics(last), Some((want.usage.input, want.usage.output)));
        let text: String = events
            .iter()
            .filter(|e| e["event_type"].as_str() == Some("text-generation"))
            .filter_map(|e| e["text"].as_str())
            .collect();
        assert_eq!(text, TEXT);
    }

    #[test]
    fn openai_chunks_are_completion_chunks_without_done() {
        let body = r#"{"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}"#;
        let (events, error) = stream(InvokeFamily::OpenAi, body);
        assert_eq!(error, None);
        assert!(events
            .iter()
            .all(|e| e["object"].as_str() == Some("chat.completion.chunk")));
        let last = events.last().unwrap();
        // The usage chunk is last, with the metrics; the finish chunk just before it.
        assert_eq!(last["choices"].as_array().map(|c| c.len()), Some(0));
        let want = sample_response();
        assert_eq!(
            last.pointer(&["usage", "completion_tokens"]).and_then(|t| t.as_u64()),
            Some(want.usage.output)
        );
        assert_eq!(metrics(last), Some((want.usage.input, want.usage.output)));
        let before = &events[events.len() - 2];
        assert_eq!(
            before
                .pointer(&sonic_rs::pointer!["choices", 0, "finish_reason"])
                .and_then(|f| f.as_str()),
            Some("tool_calls")
        );
        // Without include_usage, the finish chunk is last and carries the metrics.
        let (events, _) = stream(InvokeFamily::OpenAi, OPENAI);
        let last = events.last().unwrap();
        assert_eq!(
            last.pointer(&sonic_rs::pointer!["choices", 0, "finish_reason"])
                .and_then(|f| f.as_str()),
            Some("tool_calls")
        );
        assert!(metrics(last).is_some());
    }

    #[test]
    fn prompt_family_chunks_carry_the_text_then_the_stop_reason() {
        for (family, body, text_of, reason_of, want) in [
            (
                InvokeFamily::Prompt(PromptFamily::Llama),
                r#"{"prompt":"hi"}"#,
                &["generation"][..],
                &["stop_reason"][..],
                "stop",
            ),
            (
                InvokeFamily::Prompt(PromptFamily::Mistral),
                r#"{"prompt":"[INST] hi [/INST]"}"#,
                &["outputs", "0", "text"][..],
                &["outputs", "0", "stop_reason"][..],
                "stop",
            ),
            (
                InvokeFamily::Prompt(PromptFamily::TitanText),
                r#"{"inputText":"hi"}"#,
                &["outputText"][..],
                &["completionReason"][..],
                "FINISH",
            ),
        ] {
            let r = req(body, family);
            let mut resp = sample_response();
            resp.finish = FinishReason::Stop;
            let events = events_from_response(&resp, 3);
            let mut enc = stream_encoder(family, &r, body.as_bytes());
            let (chunks, error) = chunks(&encode_all(enc.as_mut(), &events));
            assert_eq!(error, None);
            let at = |v: &Value, path: &[&str]| -> Option<Value> {
                let mut cur = v.clone();
                for k in path {
                    cur = match k.parse::<usize>() {
                        Ok(i) => cur.as_array()?.get(i)?.clone(),
                        Err(_) => cur.get(k)?.clone(),
                    };
                }
                Some(cur)
            };
            let text: String = chunks
                .iter()
                .filter_map(|c| at(c, text_of).and_then(|t| t.as_str().map(str::to_string)))
                .collect();
            // Tool calls and reasoning have no place in a generation: the text alone.
            assert_eq!(text, TEXT, "{family:?}");
            let last = chunks.last().unwrap();
            assert_eq!(
                at(last, reason_of)
                    .and_then(|r| r.as_str().map(str::to_string))
                    .as_deref(),
                Some(want)
            );
            assert!(chunks[..chunks.len() - 1]
                .iter()
                .all(|c| at(c, reason_of).is_some_and(|r| r.is_null())));
            let want_usage = sample_response().usage;
            assert_eq!(metrics(last), Some((want_usage.input, want_usage.output)), "{family:?}");
        }
    }

    /// The stream's start and one text delta, as `enc` writes them.
    fn started(enc: &mut dyn StreamEncode, text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let start = StreamEvent::Start {
            id: "x".into(),
            model: "m".into(),
        };
        enc.encode(&start, &mut out);
        let text = StreamEvent::TextDelta {
            index: 0,
            text: text.into(),
        };
        enc.encode(&text, &mut out);
        out
    }

    #[test]
    fn events_before_the_finish_are_written_at_once() {
        for (family, body) in [
            (InvokeFamily::Nova, NOVA),
            (InvokeFamily::CohereCommandR, COHERE),
            (InvokeFamily::OpenAi, OPENAI),
            (InvokeFamily::Prompt(PromptFamily::Llama), r#"{"prompt":"hi"}"#),
        ] {
            let r = req(body, family);
            let mut enc = stream_encoder(family, &r, body.as_bytes());
            let out = started(enc.as_mut(), "Hel");
            let (events, _) = chunks(&out);
            let text = sonic_rs::to_string(&events).unwrap();
            assert!(text.contains("Hel"), "{family:?}: {text}");
        }
    }

    #[test]
    fn a_midstream_error_is_an_exception_frame_after_what_was_complete() {
        for (family, body) in [
            (InvokeFamily::Nova, NOVA),
            (InvokeFamily::CohereCommandR, COHERE),
            (InvokeFamily::OpenAi, OPENAI),
            (InvokeFamily::Prompt(PromptFamily::TitanText), r#"{"inputText":"hi"}"#),
        ] {
            let r = req(body, family);
            let mut enc = stream_encoder(family, &r, body.as_bytes());
            let mut out = started(enc.as_mut(), "partial");
            enc.encode(
                &StreamEvent::Finish {
                    reason: FinishReason::Stop,
                    stop_sequence: None,
                },
                &mut out,
            );
            enc.encode(
                &StreamEvent::Error {
                    status: 429,
                    message: "slow down".into(),
                },
                &mut out,
            );
            enc.finish(&mut out);
            let (events, error) = chunks(&out);
            assert_eq!(error.as_deref(), Some("throttlingException"), "{family:?}");
            assert!(sonic_rs::to_string(&events).unwrap().contains("partial"), "{family:?}");
            assert!(events.iter().all(|e| metrics(e).is_none()), "{family:?}");
        }
    }
}
