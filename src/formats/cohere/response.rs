//! Cohere v2 chat responses (PROTOCOLS 7.3) <-> canonical `ChatResponse`.
//!
//! Provider: `decode_response` reads an upstream's success body. Integration: `encode_response`
//! writes one for a client. A response with tool calls carries its text as `tool_plan`, as Cohere
//! does; the plan decodes to a text part before the calls.

use super::is_tool_plan;
use super::request::assistant_parts;
use super::types::*;
use crate::canonical::{ChatResponse, ConvertError, FinishReason, JsonPath, Part, Usage};
use std::borrow::Cow;

/// Cohere `finish_reason` -> canonical (PROTOCOLS 8.2).
pub fn finish_from_cohere(s: &str) -> FinishReason {
    match s {
        "COMPLETE" => FinishReason::Stop,
        "STOP_SEQUENCE" => FinishReason::StopSequence,
        "MAX_TOKENS" => FinishReason::Length,
        "TOOL_CALL" => FinishReason::ToolCalls,
        "ERROR" => FinishReason::Error,
        other => FinishReason::Other(other.to_string()),
    }
}

/// Canonical -> Cohere `finish_reason`. `TIMEOUT` is the one Cohere value with no canonical
/// name; another provider's `Other` is mapped into the enum, since clients switch on it.
pub fn finish_to_cohere(f: &FinishReason) -> &str {
    match f {
        FinishReason::Stop => "COMPLETE",
        FinishReason::StopSequence => "STOP_SEQUENCE",
        FinishReason::Length => "MAX_TOKENS",
        FinishReason::ToolCalls => "TOOL_CALL",
        // Cohere has no filter reason; a blocked answer did not complete.
        FinishReason::ContentFilter | FinishReason::Error => "ERROR",
        // A tool call or answer the model could not form (Bedrock, Gemini).
        f if f.is_malformed_output() => "ERROR",
        FinishReason::Other(s) => match s.as_str() {
            "TIMEOUT" => "TIMEOUT",
            "model_context_window_exceeded" => "MAX_TOKENS",
            _ => "COMPLETE",
        },
    }
}

/// Token counts are floats in the SDK types; negative or NaN counts read as 0.
fn count(x: Option<f64>) -> Option<u64> {
    x.map(|v| if v.is_finite() && v > 0.0 { v as u64 } else { 0 })
}

/// A `usage` object -> canonical counts (also used by the stream decoder's `message-end`).
pub(crate) fn usage_from_cohere(usage: CohereUsageIn) -> Usage {
    let (tokens, billed) = (usage.tokens.unwrap_or_default(), usage.billed_units.unwrap_or_default());
    // `tokens` counts what the model saw; `billed_units` is the fallback when it is absent.
    Usage {
        input: count(tokens.input_tokens.or(billed.input_tokens)).unwrap_or(0),
        output: count(tokens.output_tokens.or(billed.output_tokens)).unwrap_or(0),
        cache_read: count(usage.cached_tokens).unwrap_or(0),
        ..Usage::default()
    }
}

/// Canonical counts -> the `usage` object (canonical keeps one count; both blocks carry it).
pub(crate) fn usage_to_cohere(usage: &Usage) -> CohereUsageOut {
    let tokens = CohereTokensOut {
        input_tokens: usage.input,
        output_tokens: usage.output,
    };
    CohereUsageOut {
        billed_units: tokens,
        tokens,
        cached_tokens: (usage.cache_read > 0).then_some(usage.cache_read),
    }
}

/// Provider: an upstream's `/v2/chat` success body -> canonical. `model` is left empty (Cohere
/// does not echo it); the caller knows it from the request.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, ConvertError> {
    // UTF-8 checked up front: `from_str` then skips sonic-rs's own final check (see `json::utf8`).
    let text = crate::wire::json::utf8(body)
        .map_err(|e| ConvertError::new("", format!("invalid Cohere chat response: {e}")))?;
    let r: CohereChatResponseIn = sonic_rs::from_str(text).map_err(|e| {
        ConvertError::new(
            "",
            format!("invalid Cohere chat response: {}", crate::wire::json::brief(&e)),
        )
    })?;
    let content = match r.message {
        Some(m) => assistant_parts(m, &JsonPath::ROOT.key("message"), false)?,
        None => Vec::new(),
    };
    let usage = usage_from_cohere(r.usage.unwrap_or_default());
    Ok(ChatResponse {
        id: r.id.unwrap_or_default(),
        model: String::new(),
        content,
        finish: r
            .finish_reason
            .as_deref()
            .map_or(FinishReason::Stop, finish_from_cohere),
        usage,
        stop_sequence: None,
        // The format has no creation time: 0 = unknown; the proxy fills in the time of arrival.
        created: 0,
        logprobs: Vec::new(),
    })
}

/// Integration: canonical -> a `/v2/chat` success body for a client.
pub fn encode_response(resp: &ChatResponse) -> Vec<u8> {
    encode_response_with(resp, |body, hint| {
        let mut out = Vec::with_capacity(hint);
        body.write(&mut out);
        out
    })
}

/// `encode_response` up to the body's structs, which `emit` turns into bytes (as for
/// `request::encode_request_with`).
pub(super) fn encode_response_with(
    resp: &ChatResponse,
    emit: impl FnOnce(&CohereChatResponseOut<'_>, usize) -> Vec<u8>,
) -> Vec<u8> {
    let has_calls = resp.content.iter().any(|p| matches!(p, Part::ToolCall { .. }));
    let mut plan: Option<String> = None;
    let mut content = Vec::new();
    let mut tool_calls = Vec::new();
    for part in &resp.content {
        match part {
            Part::Text { text, extra } if has_calls || is_tool_plan(extra) => {
                plan.get_or_insert_with(String::new).push_str(text)
            }
            Part::Text { text, .. } => content.push(CohereItemOut::Text {
                text: Cow::Borrowed(text),
            }),
            Part::Thinking { text, .. } => content.push(CohereItemOut::Thinking { thinking: text }),
            Part::ToolCall {
                id, name, arguments, ..
            } => tool_calls.push(CohereToolCallOut {
                id,
                kind: "function",
                function: CohereFunctionCallOut {
                    name,
                    arguments: if arguments.trim().is_empty() { "{}" } else { arguments },
                },
            }),
            // Not answer content in Cohere's response shape.
            Part::RedactedThinking { .. } | Part::Image { .. } | Part::Document { .. } | Part::ToolResult { .. } => {}
        }
    }
    let out = CohereChatResponseOut {
        id: &resp.id,
        finish_reason: finish_to_cohere(&resp.finish),
        message: CohereResponseMessageOut {
            role: "assistant",
            tool_plan: plan,
            tool_calls,
            content,
        },
        usage: usage_to_cohere(&resp.usage),
    };
    emit(&out, resp.encoded_len_hint())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{Extra, Json};
    use crate::formats::cohere::tool_plan_extra;
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};

    const TEXT: &[u8] = include_bytes!("fixtures/response.json");
    const TOOL: &[u8] = include_bytes!("fixtures/response_tool.json");

    fn json(b: &[u8]) -> Json {
        sonic_rs::from_slice(b).unwrap()
    }

    #[test]
    fn protocols_fixture_decodes_and_encodes_back() {
        let r = decode_response(TEXT).unwrap();
        assert_eq!(r.id, "c14c80c3");
        assert_eq!(r.content, vec![Part::text("Hello")]);
        assert_eq!(r.finish, FinishReason::Stop);
        assert_eq!(
            r.usage,
            Usage {
                input: 71,
                output: 2,
                ..Usage::default()
            }
        );
        let out = json(&encode_response(&r));
        let orig = json(TEXT);
        for key in ["id", "finish_reason", "message"] {
            assert_eq!(out.get(key), orig.get(key), "{key}");
        }
        // Canonical keeps one count; both Cohere blocks carry it.
        assert_eq!(out.pointer(&["usage", "tokens"]), orig.pointer(&["usage", "tokens"]));
        assert_eq!(
            out.pointer(&["usage", "billed_units", "output_tokens"])
                .and_then(|v| v.as_u64()),
            Some(2)
        );
    }

    #[test]
    fn field_order_is_the_real_apis() {
        let r = decode_response(TEXT).unwrap();
        let out = String::from_utf8(encode_response(&r)).unwrap();
        assert_eq!(
            out,
            r#"{"id":"c14c80c3","finish_reason":"COMPLETE","message":{"role":"assistant","content":[{"type":"text","text":"Hello"}]},"usage":{"billed_units":{"input_tokens":71,"output_tokens":2},"tokens":{"input_tokens":71,"output_tokens":2}}}"#
        );
    }

    #[test]
    fn tool_call_fixture_round_trips() {
        let r = decode_response(TOOL).unwrap();
        assert_eq!(r.finish, FinishReason::ToolCalls);
        assert_eq!(
            r.content[0],
            Part::Thinking {
                text: "Two calls are needed.".into(),
                signature: None
            }
        );
        assert_eq!(
            r.content[1],
            Part::Text {
                text: "I will look up the weather in Paris and Rome.".into(),
                extra: tool_plan_extra()
            }
        );
        assert!(matches!(&r.content[3], Part::ToolCall { id, name, arguments, .. }
            if id == "get_weather_3z4w" && name == "get_weather" && arguments == "{\"city\":\"Rome\"}"));
        assert_eq!((r.usage.input, r.usage.output, r.usage.cache_read), (1012, 41, 512));
        let out = json(&encode_response(&r));
        let orig = json(TOOL);
        assert_eq!(out.get("message"), orig.get("message"));
        assert_eq!(
            out.pointer(&["usage", "cached_tokens"]).and_then(|v| v.as_u64()),
            Some(512)
        );
        assert_eq!(decode_response(&encode_response(&r)).unwrap().content, r.content);
    }

    #[test]
    fn foreign_text_before_calls_becomes_the_tool_plan() {
        let r = ChatResponse {
            id: "x".into(),
            model: "m".into(),
            content: vec![
                Part::text("Let me check."),
                Part::ToolCall {
                    id: "c".into(),
                    name: "f".into(),
                    arguments: String::new(),
                    signature: Some("sig".into()),
                    extra: Extra::default(),
                },
            ],
            finish: FinishReason::ToolCalls,
            usage: Usage::default(),
            stop_sequence: None,
            created: 0,
            logprobs: Vec::new(),
        };
        let v = json(&encode_response(&r));
        let m = v.get("message").unwrap();
        assert_eq!(m.get("tool_plan").and_then(|p| p.as_str()), Some("Let me check."));
        assert!(m.get("content").is_none());
        assert_eq!(
            m.pointer(&sonic_rs::pointer!["tool_calls", 0, "function", "arguments"])
                .and_then(|a| a.as_str()),
            Some("{}")
        );
        assert_eq!(m.get("tool_calls").unwrap().as_array().unwrap().len(), 1);
    }

    #[test]
    fn finish_reasons_map_both_ways() {
        for (wire, canon) in [
            ("COMPLETE", FinishReason::Stop),
            ("STOP_SEQUENCE", FinishReason::StopSequence),
            ("MAX_TOKENS", FinishReason::Length),
            ("TOOL_CALL", FinishReason::ToolCalls),
            ("ERROR", FinishReason::Error),
            ("TIMEOUT", FinishReason::Other("TIMEOUT".into())),
        ] {
            assert_eq!(finish_from_cohere(wire), canon);
            assert_eq!(finish_to_cohere(&canon), wire);
        }
        assert_eq!(finish_to_cohere(&FinishReason::ContentFilter), "ERROR");
    }

    #[test]
    fn usage_falls_back_to_billed_units() {
        let b = br#"{"id":"i","finish_reason":"MAX_TOKENS","message":{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"citation-ish"}]},
                    "usage":{"billed_units":{"input_tokens":5.0,"output_tokens":-1}}}"#;
        let r = decode_response(b).unwrap();
        assert_eq!((r.usage.input, r.usage.output), (5, 0));
        assert_eq!(r.finish, FinishReason::Length);
        assert_eq!(r.content, vec![Part::text("a")], "unknown items are skipped");
    }

    #[test]
    fn never_panics_on_truncated_bodies() {
        for body in [TEXT, TOOL] {
            for n in 0..body.len() {
                let _ = decode_response(&body[..n]);
            }
        }
        assert!(decode_response(b"not json").is_err());
        // Invalid UTF-8 inside the lazily read `message.content` (found by fuzzing).
        let e = decode_response(b"{\"message\":{\"role\":\"assistant\",\"content\":\"\xff\"}}").unwrap_err();
        assert!(e.message.contains("invalid UTF-8 at byte 42"), "{}", e.message);
    }
}
