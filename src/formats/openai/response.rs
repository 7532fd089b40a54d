//! OpenAI `chat.completion` (non-streaming) <-> canonical (PROTOCOLS 2.3, 8.2, 8.3).
//!
//! Provider side (`decode_response`) reads `choices[0]` only (requests never ask for n > 1) and
//! is lenient with the nulls and omissions of OpenAI-compatible servers. Integration side
//! (`encode_response`) writes OpenAI's own field order.

use super::types::*;
use crate::canonical::{ChatResponse, ConvertError, Extra, FinishReason, Json, Part, Usage};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::borrow::Cow;

/// Provider: an upstream's `chat.completion` body -> canonical.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, ConvertError> {
    let c: OpenAiCompletionIn = sonic_rs::from_slice(body)
        .map_err(|e| ConvertError::new("", format!("not a chat.completion: {}", crate::wire::json::brief(&e))))?;
    let choice = c
        .choices
        .and_then(|cs| cs.into_iter().next())
        .ok_or_else(|| ConvertError::new("choices", "the response has no choice"))?;
    let msg = choice.message.unwrap_or_default();
    let mut content = Vec::new();
    if let Some(r) = msg.reasoning_content.filter(|r| !r.is_empty()) {
        content.push(Part::Thinking {
            text: r,
            signature: None,
        });
    }
    let mut has_text = false;
    match msg.content {
        Some(v) if v.is_str() => {
            let s = v.as_str().unwrap_or_default();
            if !s.is_empty() {
                has_text = true;
                content.push(Part::text(s));
            }
        }
        Some(v) => {
            // Some compatible servers answer with an array of text parts.
            for p in v.as_array().iter().flat_map(|a| a.iter()) {
                if let Some(t) = p.get("text").and_then(|t| t.as_str()) {
                    has_text = true;
                    content.push(Part::text(t));
                } else if let Some(t) = p.get("refusal").and_then(|t| t.as_str()) {
                    content.push(Part::refusal(t));
                }
            }
        }
        None => {}
    }
    let refused = msg.refusal.is_some();
    if let Some(r) = msg.refusal {
        content.push(Part::refusal(&r));
    }
    let mut calls = msg.tool_calls.unwrap_or_default();
    if let Some(f) = msg.function_call {
        calls.push(OpenAiToolCallIn {
            id: None,
            kind: Some("function".into()),
            function: Some(f),
        });
    }
    let has_calls = !calls.is_empty();
    for (j, call) in calls.into_iter().enumerate() {
        let f = call.function.unwrap_or_default();
        let name = f.name.unwrap_or_default();
        content.push(Part::ToolCall {
            // Stable for the same body; only legacy function_call lacks an id.
            id: call.id.unwrap_or_else(|| format!("call_{j}_{name}")),
            name,
            arguments: arguments_text(f.arguments),
            signature: None,
            extra: Extra::default(),
        });
    }
    let finish = finish_from_wire(choice.finish_reason.as_deref(), refused && !has_text, has_calls);
    let logprobs = choice
        .logprobs
        .map(OpenAiLogprobsIn::into_canonical)
        .unwrap_or_default();
    Ok(ChatResponse {
        id: c.id.unwrap_or_default(),
        model: c.model.unwrap_or_default(),
        content,
        finish,
        usage: usage_from_wire(c.usage.unwrap_or_default()),
        stop_sequence: None,
        created: c.created.unwrap_or(0),
        logprobs,
    })
}

/// `finish_reason` -> canonical (PROTOCOLS 8.2). `refused_only`: the answer is a refusal without
/// text (OpenAI reports those as `stop`); `has_calls` decides a null reason.
pub(crate) fn finish_from_wire(reason: Option<&str>, refused_only: bool, has_calls: bool) -> FinishReason {
    match reason {
        Some("stop") if refused_only => FinishReason::ContentFilter,
        // Some compatible servers (Ollama, older vLLM) say `stop` on a turn that calls tools;
        // an Anthropic or Bedrock client's agent loop waits for `tool_use` to run them.
        Some("stop") if has_calls => FinishReason::ToolCalls,
        Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some("tool_calls") | Some("function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_string()),
        // Some compatible servers leave it null.
        None if has_calls => FinishReason::ToolCalls,
        None => FinishReason::Stop,
    }
}

/// OpenAI `usage` -> canonical (`prompt_tokens` already includes cached tokens).
pub(crate) fn usage_from_wire(u: OpenAiUsageIn) -> Usage {
    Usage {
        input: u.prompt_tokens.unwrap_or(0),
        output: u.completion_tokens.unwrap_or(0),
        cache_read: u.prompt_tokens_details.and_then(|d| d.cached_tokens).unwrap_or(0),
        cache_write: 0,
        reasoning: u
            .completion_tokens_details
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0),
    }
}

/// Canonical usage -> OpenAI (cache writes have no OpenAI field).
pub(crate) fn usage_to_wire(u: &Usage) -> OpenAiUsage {
    let mut usage = OpenAiUsage::new(u.input, u.output, true);
    if let Some(d) = usage.prompt_tokens_details.as_mut() {
        d.cached_tokens = u.cache_read;
    }
    if let Some(d) = usage.completion_tokens_details.as_mut() {
        d.reasoning_tokens = u.reasoning;
    }
    usage
}

fn arguments_text(a: Option<Json>) -> String {
    match a {
        Some(v) if v.is_str() => v.as_str().unwrap_or_default().to_string(),
        Some(v) if !v.is_null() => sonic_rs::to_string(&v).unwrap_or_default(),
        _ => "{}".to_string(),
    }
}

/// The `finish_reason` values of Chat Completions (PROTOCOLS 8.2).
const FINISH_REASONS: [&str; 5] = ["stop", "length", "tool_calls", "content_filter", "function_call"];

/// OpenAI's `finish_reason` for a canonical reason (PROTOCOLS 8.2). An `Other` value OpenAI also
/// has is kept; another provider's is mapped into the enum, since clients switch on it.
pub fn finish_reason(f: &FinishReason) -> &str {
    match f {
        FinishReason::Stop | FinishReason::StopSequence => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        // OpenAI has no error finish; the text so far ended the turn.
        FinishReason::Error => "stop",
        FinishReason::Other(s) if FINISH_REASONS.contains(&s.as_str()) => s,
        // Anthropic's and Bedrock's: the answer ran out of room, as at the token limit.
        FinishReason::Other(s) if s == "model_context_window_exceeded" => "length",
        FinishReason::Other(_) => "stop",
    }
}

/// `finish_reason` for an answer that held a refusal (`refused`) or not: OpenAI reports its own
/// refusals with `stop`, where decoding reads a refusal alone as a content-filter finish.
pub fn answer_finish_reason(f: &FinishReason, refused: bool) -> &str {
    match f {
        FinishReason::ContentFilter if refused => "stop",
        f => finish_reason(f),
    }
}

/// Integration: canonical -> a `chat.completion` body for an OpenAI client.
///
/// Text parts are concatenated into `content` (OpenAI answers with one string). NOTE: thinking
/// parts are dropped (Chat Completions has no field for them; the common `reasoning_content`
/// extension is deliberately not emitted), and so are images, which no chat completion carries.
pub fn encode_response(resp: &ChatResponse) -> Vec<u8> {
    encode_response_with(resp, |body, hint| {
        let mut out = Vec::with_capacity(hint);
        body.write(&mut out);
        out
    })
}

/// `encode_response` up to the body's structs, which `emit` (given a size hint) turns into
/// bytes: the writer of `write.rs`, or serde where the tests hold the two to the same bytes.
pub(super) fn encode_response_with(
    resp: &ChatResponse,
    emit: impl FnOnce(&OpenAiCompletionOut<'_>, usize) -> Vec<u8>,
) -> Vec<u8> {
    let mut texts: Vec<&str> = Vec::new();
    let mut refusals: Vec<&str> = Vec::new();
    let mut calls = Vec::new();
    for p in &resp.content {
        match p {
            Part::Text { text, extra } if extra.marks_refusal() => refusals.push(text),
            Part::Text { text, .. } => texts.push(text),
            Part::ToolCall {
                id, name, arguments, ..
            } => calls.push(OpenAiToolCall {
                id,
                kind: "function",
                function: OpenAiFunctionCall { name, arguments },
            }),
            Part::Thinking { .. }
            | Part::RedactedThinking { .. }
            | Part::Image { .. }
            | Part::Document { .. }
            | Part::ToolResult { .. } => {}
        }
    }
    let content = match texts.as_slice() {
        [] if !calls.is_empty() || !refusals.is_empty() => None,
        [one] => Some(Cow::Borrowed(*one)),
        _ => Some(Cow::Owned(texts.concat())),
    };
    let refusal = match refusals.as_slice() {
        [] => None,
        [one] => Some(Cow::Borrowed(*one)),
        _ => Some(Cow::Owned(refusals.concat())),
    };
    let finish = answer_finish_reason(&resp.finish, refusal.is_some());
    let usage = usage_to_wire(&resp.usage);
    let out = OpenAiCompletionOut {
        id: &resp.id,
        object: "chat.completion",
        created: resp.created,
        model: &resp.model,
        choices: [OpenAiChoiceOut {
            index: 0,
            message: OpenAiAssistantOut {
                role: "assistant",
                content,
                tool_calls: calls,
                refusal,
                annotations: [],
            },
            logprobs: Some(OpenAiLogprobsOut(&resp.logprobs)).filter(|l| !l.0.is_empty()),
            finish_reason: finish,
        }],
        usage,
    };
    emit(&out, resp.encoded_len_hint())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::openai::assert_same_json;
    use sonic_rs::{json, JsonValueMutTrait};

    const BASIC: &[u8] = include_bytes!("fixtures/response_basic.json");
    const TOOLS: &[u8] = include_bytes!("fixtures/response_tool_calls.json");

    fn value(b: &[u8]) -> Json {
        sonic_rs::from_slice(b).unwrap()
    }

    fn response(content: Vec<Part>, finish: FinishReason) -> ChatResponse {
        ChatResponse {
            id: "msg_1".into(),
            model: "claude-x".into(),
            content,
            finish,
            usage: Usage {
                input: 10,
                output: 5,
                cache_read: 3,
                cache_write: 2,
                reasoning: 1,
            },
            stop_sequence: None,
            created: 1700000000,
            logprobs: Vec::new(),
        }
    }

    fn call(id: &str, city: &str) -> Part {
        Part::ToolCall {
            id: id.into(),
            name: "get_weather".into(),
            arguments: format!("{{\"city\":\"{city}\"}}"),
            signature: None,
            extra: Extra::default(),
        }
    }

    #[test]
    fn protocols_2_3_response_decodes() {
        let r = decode_response(BASIC).unwrap();
        assert_eq!(
            r,
            ChatResponse {
                id: "chatcmpl-123".into(),
                model: "gpt-4o-mini".into(),
                content: vec![Part::text("Hello")],
                finish: FinishReason::Stop,
                usage: Usage {
                    input: 9,
                    output: 2,
                    ..Usage::default()
                },
                stop_sequence: None,
                created: 1700000000,
                logprobs: Vec::new(),
            }
        );
    }

    #[test]
    fn protocols_2_3_response_encodes_back() {
        let r = decode_response(BASIC).unwrap();
        let mut want = value(BASIC);
        // Not carried by canonical; optional in every OpenAI client.
        want.as_object_mut().unwrap().remove(&"system_fingerprint");
        want.as_object_mut().unwrap().remove(&"service_tier");
        assert_same_json(&value(&encode_response(&r)), &want, "$");
    }

    #[test]
    fn encoded_response_has_openais_field_order() {
        let r = decode_response(BASIC).unwrap();
        assert_eq!(
            String::from_utf8(encode_response(&r)).unwrap(),
            concat!(
                r#"{"id":"chatcmpl-123","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","#,
                r#""choices":[{"index":0,"message":{"role":"assistant","content":"Hello","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"#,
                r#""usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"#,
                r#""completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#
            )
        );
    }

    #[test]
    fn tool_call_response_decodes_and_encodes_back_identically() {
        let r = decode_response(TOOLS).unwrap();
        assert_eq!(r.content, vec![call("call_abc", "Paris"), call("call_def", "Rome")]);
        assert_eq!(r.finish, FinishReason::ToolCalls);
        assert_eq!(
            r.usage,
            Usage {
                input: 120,
                output: 40,
                cache_read: 64,
                cache_write: 0,
                reasoning: 12
            }
        );
        assert_same_json(&value(&encode_response(&r)), &value(TOOLS), "$");
        let s = String::from_utf8(encode_response(&r)).unwrap();
        assert!(s.contains(r#""content":null,"tool_calls":[{"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}"#), "{s}");
    }

    #[test]
    fn finish_reasons_map_both_ways() {
        let table = [
            ("stop", FinishReason::Stop),
            ("length", FinishReason::Length),
            ("tool_calls", FinishReason::ToolCalls),
            ("content_filter", FinishReason::ContentFilter),
        ];
        for (wire, canonical) in table {
            let body = format!(
                r#"{{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{{"index":0,"message":{{"role":"assistant","content":"t"}},"finish_reason":"{wire}"}}]}}"#
            );
            let r = decode_response(body.as_bytes()).unwrap();
            assert_eq!(r.finish, canonical, "{wire}");
            assert_eq!(finish_reason(&canonical), wire);
        }
        let legacy = br#"{"choices":[{"message":{"content":null,"function_call":{"name":"f","arguments":"{}"}},"finish_reason":"function_call"}]}"#;
        let r = decode_response(legacy).unwrap();
        assert_eq!(r.finish, FinishReason::ToolCalls);
        assert!(matches!(&r.content[0], Part::ToolCall { id, name, .. } if id == "call_0_f" && name == "f"));
        assert_eq!(finish_reason(&FinishReason::StopSequence), "stop");
        assert_eq!(finish_reason(&FinishReason::Error), "stop");
        // A compatible server's `stop` on a turn with tool calls is a tool-call finish.
        let ollama = br#"{"choices":[{"message":{"content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"stop"}]}"#;
        assert_eq!(decode_response(ollama).unwrap().finish, FinishReason::ToolCalls);
        let other = r#"{"choices":[{"message":{"content":"t"},"finish_reason":"eos"}]}"#;
        let r = decode_response(other.as_bytes()).unwrap();
        assert_eq!(
            (r.finish.clone(), finish_reason(&r.finish)),
            (FinishReason::Other("eos".into()), "stop")
        );
    }

    #[test]
    fn foreign_response_encodes_with_text_then_tool_calls() {
        let r = response(
            vec![
                Part::Thinking {
                    text: "secret".into(),
                    signature: Some("sig".into()),
                },
                Part::text("Let me "),
                Part::text("check."),
                call("toolu_1", "Paris"),
            ],
            FinishReason::ToolCalls,
        );
        let want = json!({"id":"msg_1","object":"chat.completion","created":1700000000,"model":"claude-x",
          "choices":[{"index":0,"message":{"role":"assistant","content":"Let me check.",
            "tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}],
            "refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"tool_calls"}],
          "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,
            "prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},
            "completion_tokens_details":{"reasoning_tokens":1,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}});
        let out = encode_response(&r);
        assert_same_json(&value(&out), &want, "$");
        assert!(!String::from_utf8(out).unwrap().contains("secret"));
    }

    #[test]
    fn canonical_round_trip_through_openai() {
        let r = response(
            vec![Part::text("Hi"), call("c1", "Paris"), call("c2", "Rome")],
            FinishReason::ToolCalls,
        );
        let back = decode_response(&encode_response(&r)).unwrap();
        let mut want = r.clone();
        want.usage.cache_write = 0; // OpenAI has no cache-write count
        assert_eq!(back, want);
        for finish in [FinishReason::Stop, FinishReason::Length, FinishReason::ContentFilter] {
            let r = response(vec![Part::text("x")], finish.clone());
            assert_eq!(decode_response(&encode_response(&r)).unwrap().finish, finish);
        }
    }

    #[test]
    fn refusal_is_a_content_filter_finish_and_round_trips() {
        let body = br#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help with that.","annotations":[]},"logprobs":null,"finish_reason":"stop"}]}"#;
        let r = decode_response(body).unwrap();
        assert_eq!(r.finish, FinishReason::ContentFilter);
        assert!(
            matches!(&r.content[..], [Part::Text { text, extra }] if text == "I can't help with that." && extra.marks_refusal())
        );
        let v = value(&encode_response(&r));
        assert_same_json(
            v.pointer(&sonic_rs::pointer!["choices", 0]).unwrap(),
            &json!({"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help with that.","annotations":[]},"logprobs":null,"finish_reason":"stop"}),
            "$.choices[0]",
        );
    }

    #[test]
    fn compatible_server_quirks() {
        // reasoning_content (DeepSeek/vLLM), null finish with tool calls, no usage, parts content.
        let body = br#"{"choices":[{"message":{"role":"assistant","reasoning_content":"think","content":[{"type":"text","text":"a"}],"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{"x":1}}}]},"finish_reason":null}]}"#;
        let r = decode_response(body).unwrap();
        assert_eq!(
            r.content,
            vec![
                Part::Thinking {
                    text: "think".into(),
                    signature: None
                },
                Part::text("a"),
                Part::ToolCall {
                    id: "c".into(),
                    name: "f".into(),
                    arguments: "{\"x\":1}".into(),
                    signature: None,
                    extra: Extra::default()
                }
            ]
        );
        assert_eq!(r.finish, FinishReason::ToolCalls);
        assert_eq!(r.usage, Usage::default());
    }

    #[test]
    fn empty_answers() {
        assert_eq!(decode_response(br#"{"choices":[]}"#).unwrap_err().field, "choices");
        assert_eq!(decode_response(br#"{"id":"x"}"#).unwrap_err().field, "choices");
        assert!(decode_response(b"<html>").is_err());
        let r = response(vec![], FinishReason::Stop);
        let v = value(&encode_response(&r));
        assert_eq!(
            v.pointer(&sonic_rs::pointer!["choices", 0, "message", "content"])
                .and_then(|c| c.as_str()),
            Some("")
        );
    }

    #[test]
    fn never_panics_on_truncated_or_corrupted_bodies() {
        for body in [BASIC, TOOLS] {
            for end in 0..body.len() {
                let _ = decode_response(&body[..end]);
                let _ = crate::formats::openai::decode_error(500, &body[..end]);
            }
            let mut b = body.to_vec();
            for i in 0..b.len() {
                let old = b[i];
                b[i] = b"{}[]\":,0a\\"[i % 10];
                if let Ok(r) = decode_response(&b) {
                    let _ = encode_response(&r);
                }
                b[i] = old;
            }
        }
    }
}
