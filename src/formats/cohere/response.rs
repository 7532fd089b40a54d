//! Cohere v2 chat responses (PROTOCOLS 7.3) <-> canonical `ChatResponse`.
//!
//! Provider: `decode_response` reads an upstream's success body. Integration: `encode_response`
//! writes one for a client. A response with tool calls carries its text as `tool_plan`, as Cohere
//! does; the plan decodes to a text part before the calls.

use super::request::assistant_parts;
use super::types::*;
use super::is_tool_plan;
use crate::canonical::{ChatResponse, ConvertError, FinishReason, Part, Usage};
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

/// Canonical -> Cohere `finish_reason`.
pub fn finish_to_cohere(f: &FinishReason) -> &str {
    match f {
        FinishReason::Stop => "COMPLETE",
        FinishReason::StopSequence => "STOP_SEQUENCE",
        FinishReason::Length => "MAX_TOKENS",
        FinishReason::ToolCalls => "TOOL_CALL",
        // Cohere has no filter reason; a blocked answer did not complete.
        FinishReason::ContentFilter | FinishReason::Error => "ERROR",
        FinishReason::Other(s) if s.is_empty() => "COMPLETE",
        FinishReason::Other(s) => s,
    }
}

/// Token counts are floats in the SDK types; negative or NaN counts read as 0.
fn count(x: Option<f64>) -> Option<u64> {
    x.map(|v| if v.is_finite() && v > 0.0 { v as u64 } else { 0 })
}

/// Provider: an upstream's `/v2/chat` success body -> canonical. `model` is left empty (Cohere
/// does not echo it); the caller knows it from the request.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, ConvertError> {
    let r: CohereChatResponseIn = sonic_rs::from_slice(body)
        .map_err(|e| ConvertError::new("", format!("invalid Cohere chat response: {e}")))?;
    let content = match r.message {
        Some(m) => assistant_parts(m, "message", false)?,
        None => Vec::new(),
    };
    let usage = r.usage.unwrap_or_default();
    let (tokens, billed) = (
        usage.tokens.unwrap_or_default(),
        usage.billed_units.unwrap_or_default(),
    );
    // `tokens` counts what the model saw; `billed_units` is the fallback when it is absent.
    let usage = Usage {
        input: count(tokens.input_tokens.or(billed.input_tokens)).unwrap_or(0),
        output: count(tokens.output_tokens.or(billed.output_tokens)).unwrap_or(0),
        cache_read: count(usage.cached_tokens).unwrap_or(0),
        ..Usage::default()
    };
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
        created: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    })
}

/// Integration: canonical -> a `/v2/chat` success body for a client.
pub fn encode_response(resp: &ChatResponse) -> Vec<u8> {
    let has_calls = resp
        .content
        .iter()
        .any(|p| matches!(p, Part::ToolCall { .. }));
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
            Part::Thinking { text, .. } => {
                content.push(CohereItemOut::Thinking { thinking: text })
            }
            Part::ToolCall {
                id,
                name,
                arguments,
                ..
            } => tool_calls.push(CohereToolCallOut {
                id,
                kind: "function",
                function: CohereFunctionCallOut {
                    name,
                    arguments: if arguments.trim().is_empty() {
                        "{}"
                    } else {
                        arguments
                    },
                },
            }),
            // Not answer content in Cohere's response shape.
            Part::RedactedThinking { .. } | Part::Image { .. } | Part::ToolResult { .. } => {}
        }
    }
    let tokens = CohereTokensOut {
        input_tokens: resp.usage.input,
        output_tokens: resp.usage.output,
    };
    let out = CohereChatResponseOut {
        id: &resp.id,
        finish_reason: finish_to_cohere(&resp.finish),
        message: CohereResponseMessageOut {
            role: "assistant",
            tool_plan: plan,
            tool_calls,
            content,
        },
        usage: CohereUsageOut {
            billed_units: tokens,
            tokens,
            cached_tokens: (resp.usage.cache_read > 0).then_some(resp.usage.cache_read),
        },
    };
    sonic_rs::to_vec(&out).unwrap_or_default()
}
