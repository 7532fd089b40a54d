//! Legacy Completions (`POST /v1/completions`, PROTOCOLS 2.5) answered by a provider of another
//! format. The prompt becomes the one user message of a chat request (the request's other fields
//! mean what they mean in Chat Completions and go through its decoder), and the chat answer
//! becomes a `text_completion`: a body, or `text_completion` chunks ending in `data: [DONE]`.
//! An OpenAI provider gets the request as sent (same format: passthrough).
//!
//! What a chat model cannot do for a completion is refused by name, never dropped: a batch of
//! prompts or token-id prompts, `echo`, `suffix`, `best_of` above 1. Chat-only fields
//! (`messages`, `tools`, ...) are refused as OpenAI refuses them on this endpoint.

use super::response::usage_to_wire;
use super::types::{OpenAiTextChoice, OpenAiTextCompletion};
use crate::canonical::stream::{StreamEncode, StreamEvent};
use crate::canonical::{ChatRequest, ChatResponse, ConvertError, FinishReason, Json, Part, TokenLogprob, Usage};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::Serialize;
use sonic_rs::{JsonContainerTrait, JsonValueTrait};

/// OpenAI's `max_tokens` when a completion request names none. A translated request carries it,
/// so the answer is as long as OpenAI's would be (and Anthropic, which requires a limit, has one).
pub const DEFAULT_MAX_TOKENS: u32 = 16;

/// The most alternatives per token the legacy `logprobs` takes.
const MAX_LOGPROBS: u64 = 5;

/// Chat Completions fields that this endpoint does not have: OpenAI answers them with a 400.
const CHAT_ONLY: &[&str] = &[
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "functions",
    "function_call",
    "response_format",
    "max_completion_tokens",
    "reasoning_effort",
    "top_logprobs",
    "modalities",
    "audio",
    "prediction",
    "web_search_options",
];

fn err(field: &str, message: impl Into<String>) -> ConvertError {
    ConvertError::new(field, message)
}

/// Integration: a client's completion body -> canonical, through the Chat Completions decoder.
pub fn decode_request(body: &[u8]) -> Result<ChatRequest, ConvertError> {
    let obj = super::request::body_object(body)?;
    let mut chat = sonic_rs::Object::new();
    let mut prompt = None;
    for (key, val) in obj.iter() {
        match key {
            "prompt" => prompt = Some(prompt_text(val)?),
            "echo" if val.as_bool() == Some(true) => {
                return Err(err(
                    "echo",
                    "a chat model cannot echo the prompt: only OpenAI models take `echo`",
                ))
            }
            "echo" if !(val.is_null() || val.is_boolean()) => return Err(err("echo", "must be a boolean")),
            "echo" => {}
            "suffix" if val.as_str().is_some_and(|s| !s.is_empty()) => {
                return Err(err(
                    "suffix",
                    "a chat model cannot insert text before a suffix: only OpenAI models take `suffix`",
                ))
            }
            "suffix" if !(val.is_null() || val.is_str()) => return Err(err("suffix", "must be a string")),
            "suffix" => {}
            "best_of" if val.is_null() || val.as_u64() == Some(1) => {}
            "best_of" => {
                return Err(err(
                    "best_of",
                    "only best_of=1 can be translated (the other API answers with one completion)",
                ))
            }
            "logprobs" if val.is_null() => {}
            // The legacy integer: the chosen tokens' log probabilities, and this many alternatives.
            "logprobs" => {
                let n = val
                    .as_u64()
                    .filter(|n| *n <= MAX_LOGPROBS)
                    .ok_or_else(|| err("logprobs", "must be an integer from 0 to 5"))?;
                chat.insert("logprobs", true);
                chat.insert("top_logprobs", n);
            }
            k if CHAT_ONLY.contains(&k) => {
                return Err(err(
                    k,
                    format!("unrecognized request argument supplied: {k} (this is a Chat Completions field)"),
                ))
            }
            _ => {
                chat.insert(key, val.clone());
            }
        }
    }
    let prompt = prompt.ok_or_else(|| err("prompt", "required"))?;
    let mut message = sonic_rs::Object::new();
    message.insert("role", "user");
    message.insert("content", prompt);
    let mut messages = sonic_rs::Array::new();
    messages.push(message);
    chat.insert("messages", messages);
    if chat.get(&"max_tokens").is_none_or(|m| m.is_null()) {
        chat.insert("max_tokens", DEFAULT_MAX_TOKENS);
    }
    let chat = sonic_rs::to_vec(&chat).map_err(|e| err("", e.to_string()))?;
    super::decode_request(&chat, None, false)
}

/// The prompt's text: a string, or an array holding one. A batch of prompts would need one
/// upstream call per prompt, and token ids are the OpenAI tokenizer's, meaningless elsewhere.
fn prompt_text(v: &Json) -> Result<&str, ConvertError> {
    if let Some(s) = v.as_str() {
        return Ok(s);
    }
    let Some(items) = v.as_array() else {
        return Err(err("prompt", "must be a string or an array of strings"));
    };
    match items.as_slice() {
        [one] if one.is_str() => Ok(one.as_str().unwrap_or_default()),
        [] => Err(err("prompt", "must not be empty")),
        all if all.iter().all(|p| p.is_str()) => Err(err(
            "prompt",
            format!(
                "a batch of {} prompts cannot be translated to another provider's format: send one prompt per request",
                all.len()
            ),
        )),
        _ => Err(err(
            "prompt",
            "token-id prompts cannot be translated (the ids are OpenAI's tokenizer's): send the text",
        )),
    }
}

/// A completion's `finish_reason`: `stop`, `length` or `content_filter` (PROTOCOLS 2.5).
fn finish_reason(f: &FinishReason) -> &'static str {
    match super::finish_reason(f) {
        "length" => "length",
        "content_filter" => "content_filter",
        _ => "stop",
    }
}

/// Integration: canonical -> a `text_completion` body. The answer's text parts, concatenated;
/// thinking is dropped, as Chat Completions drops it (and the request carries no tools).
pub fn encode_response(resp: &ChatResponse) -> Vec<u8> {
    let text: String = resp.content.iter().filter_map(Part::as_text).collect();
    let choices = [OpenAiTextChoice {
        text: &text,
        index: 0,
        logprobs: (!resp.logprobs.is_empty()).then_some(LegacyLogprobs {
            tokens: &resp.logprobs,
            offset: 0,
        }),
        finish_reason: Some(finish_reason(&resp.finish)),
    }];
    let out = OpenAiTextCompletion {
        id: &resp.id,
        object: "text_completion",
        created: resp.created,
        model: &resp.model,
        choices: &choices,
        usage: Some(usage_to_wire(&resp.usage)),
    };
    sonic_rs::to_vec(&out).unwrap_or_default()
}

/// The legacy `logprobs` object: parallel arrays of the tokens, their log probabilities, each
/// position's alternatives (token -> log probability) and each token's character offset in the
/// completion, counted from `offset` (a stream's chunks continue where the last one ended).
#[derive(Debug, Clone, Copy)]
pub struct LegacyLogprobs<'a> {
    pub tokens: &'a [TokenLogprob],
    pub offset: usize,
}

/// OpenAI's floor for a token it never considered; JSON has no -inf.
fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        -9999.0
    }
}

impl Serialize for LegacyLogprobs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Tokens<'a>(&'a [TokenLogprob]);
        impl Serialize for Tokens<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().map(|t| t.token.as_str()))
            }
        }
        struct Chosen<'a>(&'a [TokenLogprob]);
        impl Serialize for Chosen<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().map(|t| finite(t.logprob)))
            }
        }
        /// Each position's alternatives, as a token -> log probability object.
        struct Alternatives<'a>(&'a [TokenLogprob]);
        impl Serialize for Alternatives<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().map(|t| Tops(&t.top)))
            }
        }
        struct Tops<'a>(&'a [(String, f64)]);
        impl Serialize for Tops<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (token, logprob) in self.0 {
                    m.serialize_entry(token, &finite(*logprob))?;
                }
                m.end()
            }
        }
        let mut at = self.offset;
        let offsets: Vec<usize> = self
            .tokens
            .iter()
            .map(|t| {
                let here = at;
                at += t.token.chars().count();
                here
            })
            .collect();
        let mut st = s.serialize_struct("logprobs", 4)?;
        st.serialize_field("tokens", &Tokens(self.tokens))?;
        st.serialize_field("token_logprobs", &Chosen(self.tokens))?;
        st.serialize_field("top_logprobs", &Alternatives(self.tokens))?;
        st.serialize_field("text_offset", &offsets)?;
        st.end()
    }
}

/// Integration side of a stream: canonical events -> `text_completion` chunks, one per text
/// delta, then the finish, the usage chunk (`choices: []`) when `stream_options.include_usage`
/// asked for it, and `data: [DONE]`.
pub struct CompletionStreamEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    usage: Usage,
    finish_sent: bool,
    /// Terminal frames written (`finish` or `error`): nothing more is written.
    closed: bool,
    /// Log probabilities for the next text chunk (the text they belong to follows them).
    logprobs: Vec<TokenLogprob>,
    /// Characters of completion text written so far (where the next `text_offset`s start).
    written_chars: usize,
}

impl CompletionStreamEncoder {
    pub fn new(req: &ChatRequest) -> Self {
        CompletionStreamEncoder {
            id: String::new(),
            model: String::new(),
            created: crate::mock::unix_now(),
            include_usage: req.include_usage,
            usage: Usage::default(),
            finish_sent: false,
            closed: false,
            logprobs: Vec::new(),
            written_chars: 0,
        }
    }

    fn chunk(&mut self, text: &str, finish: Option<&str>, out: &mut Vec<u8>) {
        let logprobs = (!self.logprobs.is_empty()).then_some(LegacyLogprobs {
            tokens: &self.logprobs,
            offset: self.written_chars,
        });
        let choices = [OpenAiTextChoice {
            text,
            index: 0,
            logprobs,
            finish_reason: finish,
        }];
        self.write(&choices, None, out);
        self.written_chars += text.chars().count();
        self.logprobs.clear();
    }

    fn write(&self, choices: &[OpenAiTextChoice<'_>], usage: Option<super::types::OpenAiUsage>, out: &mut Vec<u8>) {
        let c = OpenAiTextCompletion {
            id: &self.id,
            object: "text_completion",
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
}

impl StreamEncode for CompletionStreamEncoder {
    fn content_type(&self) -> &'static str {
        "text/event-stream"
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
            StreamEvent::TextDelta { text, .. } => self.chunk(text, None, out),
            StreamEvent::Logprobs(l) => self.logprobs.extend_from_slice(l),
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::Finish { reason, .. } => {
                if !self.finish_sent {
                    self.finish_sent = true;
                    self.chunk("", Some(finish_reason(reason)), out);
                }
            }
            StreamEvent::Error { status, message } => self.error(*status, message, out),
            // NOTE: thinking is dropped, as Chat Completions drops it; a completion request
            // carries no tools, so no call can start; a refusal's text is the completion's.
            StreamEvent::ThinkingDelta { .. }
            | StreamEvent::Refusal { .. }
            | StreamEvent::ThinkingSignature { .. }
            | StreamEvent::RedactedThinking { .. }
            | StreamEvent::ToolCallStart { .. }
            | StreamEvent::ToolCallDelta { .. }
            | StreamEvent::BlockStop { .. } => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        if !self.finish_sent {
            let stop = StreamEvent::Finish {
                reason: FinishReason::Stop,
                stop_sequence: None,
            };
            self.encode(&stop, out);
        }
        if self.include_usage {
            self.write(&[], Some(usage_to_wire(&self.usage)), out);
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
        self.closed = true;
    }

    fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        if !self.closed {
            self.closed = true;
            super::stream::write_stream_error(status, message, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::stream::events_from_response;
    use crate::canonical::stream::testing::{encode_all, sample_response};
    use crate::canonical::{Role, Usage};
    use crate::formats::{codec, Format};

    fn decode(body: &str) -> Result<ChatRequest, ConvertError> {
        decode_request(body.as_bytes())
    }

    fn json(b: &[u8]) -> Json {
        sonic_rs::from_slice(b).unwrap()
    }

    #[test]
    fn the_prompt_is_the_one_user_message_and_the_settings_cross() {
        let r = decode(
            r#"{"model":"m","prompt":"Say hi","max_tokens":7,"temperature":0.5,"top_p":0.9,"stop":["\n"],"seed":3,"user":"u","stream":true,"stream_options":{"include_usage":true},"echo":false,"suffix":null,"best_of":1,"logprobs":null,"n":1}"#,
        )
        .unwrap();
        assert_eq!(r.messages.len(), 1);
        assert_eq!(r.messages[0].role, Role::User);
        assert!(matches!(&r.messages[0].content[..], [Part::Text { text, .. }] if text == "Say hi"));
        assert_eq!(
            (r.model.as_str(), r.max_tokens, r.temperature, r.top_p),
            ("m", Some(7), Some(0.5), Some(0.9))
        );
        assert_eq!(
            (r.stop.clone(), r.seed, r.user.as_deref()),
            (vec!["\n".to_string()], Some(3), Some("u"))
        );
        assert!(r.stream && r.include_usage);
        assert_eq!(r.logprobs, None);
        // An array holding one prompt is that prompt; with no limit, OpenAI's 16 applies.
        let r = decode(r#"{"model":"m","prompt":["One"]}"#).unwrap();
        assert!(matches!(&r.messages[0].content[..], [Part::Text { text, .. }] if text == "One"));
        assert_eq!((r.max_tokens, r.stream), (Some(DEFAULT_MAX_TOKENS), false));
        assert_eq!(
            decode(r#"{"model":"m","prompt":"x","max_tokens":null}"#)
                .unwrap()
                .max_tokens,
            Some(16)
        );
        // The legacy integer asks for the chosen tokens and that many alternatives.
        assert_eq!(
            decode(r#"{"model":"m","prompt":"x","logprobs":2}"#).unwrap().logprobs,
            Some(2)
        );
        // A translated request carries the limit to a format that requires one.
        let r = decode(r#"{"model":"m","prompt":"x"}"#).unwrap();
        let a = json(&(codec(Format::Anthropic).unwrap().encode_request)(&r).unwrap());
        assert_eq!(a["max_tokens"].as_u64(), Some(16), "{a}");
        assert_eq!(a["messages"][0]["content"][0]["text"].as_str(), Some("x"), "{a}");
    }

    #[test]
    fn what_a_chat_model_cannot_do_is_refused_by_name() {
        let cases = [
            (r#"{"model":"m","prompt":["a","b"]}"#, "prompt", "batch of 2"),
            (r#"{"model":"m","prompt":[1,2,3]}"#, "prompt", "token-id"),
            (r#"{"model":"m","prompt":[[1],[2]]}"#, "prompt", "token-id"),
            (r#"{"model":"m","prompt":[]}"#, "prompt", "empty"),
            (r#"{"model":"m","prompt":7}"#, "prompt", "string"),
            (r#"{"model":"m"}"#, "prompt", "required"),
            (r#"{"model":"m","prompt":"x","echo":true}"#, "echo", "echo"),
            (r#"{"model":"m","prompt":"x","suffix":"end"}"#, "suffix", "suffix"),
            (r#"{"model":"m","prompt":"x","best_of":3}"#, "best_of", "best_of=1"),
            (r#"{"model":"m","prompt":"x","logprobs":6}"#, "logprobs", "0 to 5"),
            (r#"{"model":"m","prompt":"x","logprobs":true}"#, "logprobs", "0 to 5"),
            (r#"{"model":"m","prompt":"x","n":2}"#, "n", "n=1"),
            (
                r#"{"model":"m","prompt":"x","messages":[]}"#,
                "messages",
                "Chat Completions",
            ),
            (r#"{"model":"m","prompt":"x","tools":[]}"#, "tools", "Chat Completions"),
            (
                r#"{"model":"m","prompt":"x","temperature":"hot"}"#,
                "temperature",
                "number",
            ),
            (r#"["m"]"#, "", "object"),
            ("{", "", "JSON"),
        ];
        for (body, field, says) in cases {
            let e = decode(body).expect_err(body);
            assert_eq!(e.field, field, "{body}: {e}");
            assert!(e.to_string().contains(says), "{body}: {e}");
        }
        // Empty values of the refused settings are their defaults.
        decode(r#"{"model":"m","prompt":"x","suffix":"","echo":false,"best_of":null}"#).unwrap();
    }

    #[test]
    fn the_answer_is_a_text_completion() {
        let mut resp = sample_response();
        resp.finish = FinishReason::StopSequence;
        let v = json(&encode_response(&resp));
        assert_eq!(v["object"].as_str(), Some("text_completion"), "{v}");
        assert_eq!((v["id"].as_str(), v["model"].as_str()), (Some("resp_1"), Some("m-1")));
        // Text parts only (the sample's thinking and tool call have no place in a completion).
        let texts: String = resp.content.iter().filter_map(Part::as_text).collect();
        let choice = &v["choices"][0];
        assert_eq!(choice["text"].as_str(), Some(texts.as_str()), "{v}");
        assert_eq!(
            (choice["index"].as_u64(), choice["finish_reason"].as_str()),
            (Some(0), Some("stop"))
        );
        assert!(choice["logprobs"].is_null(), "{v}");
        let u = &v["usage"];
        assert_eq!(
            (
                u["prompt_tokens"].as_u64(),
                u["completion_tokens"].as_u64(),
                u["total_tokens"].as_u64()
            ),
            (
                Some(resp.usage.input),
                Some(resp.usage.output),
                Some(resp.usage.input + resp.usage.output)
            )
        );
        for (finish, wire) in [
            (FinishReason::Length, "length"),
            (FinishReason::ContentFilter, "content_filter"),
            (FinishReason::ToolCalls, "stop"),
            (FinishReason::Other("model_context_window_exceeded".into()), "length"),
            (FinishReason::Other("refusal".into()), "stop"),
        ] {
            resp.finish = finish;
            let v = json(&encode_response(&resp));
            assert_eq!(v["choices"][0]["finish_reason"].as_str(), Some(wire));
        }
    }

    fn token(t: &str, lp: f64, top: &[(&str, f64)]) -> TokenLogprob {
        TokenLogprob {
            token: t.into(),
            logprob: lp,
            top: top.iter().map(|(t, l)| (t.to_string(), *l)).collect(),
        }
    }

    #[test]
    fn log_probabilities_take_the_legacy_shape() {
        let mut resp = sample_response();
        resp.content = vec![Part::text("Hé yo")];
        resp.logprobs = vec![
            token("Hé", -0.5, &[("Hé", -0.5), ("Hi", -1.25)]),
            token(" yo", f64::NEG_INFINITY, &[]),
        ];
        let out = String::from_utf8(encode_response(&resp)).unwrap();
        let legacy = r#""logprobs":{"tokens":["Hé"," yo"],"token_logprobs":[-0.5,-9999.0],"top_logprobs":[{"Hé":-0.5,"Hi":-1.25},{}],"text_offset":[0,2]}"#;
        assert!(out.contains(legacy), "{out}");
    }

    fn chunks(out: &[u8]) -> Vec<Json> {
        let text = std::str::from_utf8(out).unwrap();
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        text.split("\n\n")
            .filter(|f| !f.is_empty() && *f != "data: [DONE]")
            .map(|f| json(f.strip_prefix("data: ").unwrap().as_bytes()))
            .collect()
    }

    fn request(include_usage: bool) -> ChatRequest {
        ChatRequest {
            include_usage,
            stream: true,
            ..ChatRequest::default()
        }
    }

    #[test]
    fn a_stream_is_text_completion_chunks_then_usage_then_done() {
        let resp = crate::canonical::stream::testing::text_answer(Usage {
            input: 4,
            output: 6,
            ..Usage::default()
        });
        let events = events_from_response(&resp, 3);
        let out = encode_all(&mut CompletionStreamEncoder::new(&request(true)), &events);
        let c = chunks(&out);
        let (usage, text_chunks) = c.split_last().unwrap();
        let mut text = String::new();
        for (i, ch) in text_chunks.iter().enumerate() {
            assert_eq!(ch["object"].as_str(), Some("text_completion"), "{ch}");
            assert_eq!(
                (ch["id"].as_str(), ch["model"].as_str()),
                (Some("resp_1"), Some("m-1")),
                "{ch}"
            );
            assert!(ch.get("usage").is_none(), "{ch}");
            let choice = &ch["choices"][0];
            text.push_str(choice["text"].as_str().unwrap());
            let last = i == text_chunks.len() - 1;
            assert_eq!(choice["finish_reason"].as_str(), last.then_some("stop"), "{ch}");
        }
        let expected: String = resp.content.iter().filter_map(Part::as_text).collect();
        assert_eq!(text, expected);
        assert_eq!(usage["choices"].as_array().map(|a| a.len()), Some(0), "{usage}");
        assert_eq!(
            (
                usage["usage"]["prompt_tokens"].as_u64(),
                usage["usage"]["completion_tokens"].as_u64()
            ),
            (Some(4), Some(6))
        );
        // Without include_usage: no usage chunk.
        let out = encode_all(&mut CompletionStreamEncoder::new(&request(false)), &events);
        assert!(chunks(&out)
            .iter()
            .all(|c| c.get("usage").is_none() && c["choices"].as_array().unwrap().len() == 1));
    }

    #[test]
    fn stream_log_probabilities_continue_their_offsets() {
        let mut enc = CompletionStreamEncoder::new(&request(false));
        let mut out = Vec::new();
        let start = StreamEvent::Start {
            id: "r".into(),
            model: "m".into(),
        };
        enc.encode(&start, &mut out);
        for t in ["Hé", " yo"] {
            enc.encode(&StreamEvent::Logprobs(vec![token(t, -1.0, &[])]), &mut out);
            let text = StreamEvent::TextDelta {
                index: 0,
                text: t.into(),
            };
            enc.encode(&text, &mut out);
        }
        enc.finish(&mut out);
        let c = chunks(&out);
        assert_eq!(c[0]["choices"][0]["logprobs"]["text_offset"][0].as_u64(), Some(0));
        assert_eq!(c[1]["choices"][0]["logprobs"]["text_offset"][0].as_u64(), Some(2));
        assert!(c[2]["choices"][0]["logprobs"].is_null());
    }

    #[test]
    fn a_mid_stream_error_is_openais_then_done() {
        let mut enc = CompletionStreamEncoder::new(&request(true));
        let mut out = Vec::new();
        enc.encode(
            &StreamEvent::TextDelta {
                index: 0,
                text: "a".into(),
            },
            &mut out,
        );
        enc.error(529, "overloaded", &mut out);
        enc.finish(&mut out);
        let text = String::from_utf8(out).unwrap();
        let frames: Vec<&str> = text.split("\n\n").filter(|f| !f.is_empty()).collect();
        assert_eq!(frames.len(), 3, "{text}");
        let e = json(frames[1].strip_prefix("data: ").unwrap().as_bytes());
        assert_eq!(e["error"]["message"].as_str(), Some("overloaded"), "{e}");
        assert_eq!(frames[2], "data: [DONE]");
    }
}
