//! Anthropic Messages non-streaming responses (PROTOCOLS 3.3): `decode_response` (provider: an
//! upstream's body to canonical) and `encode_response` (integration: canonical to the client).
//!
//! Usage rule: Anthropic's `input_tokens` excludes cache reads and writes; canonical `Usage.input`
//! is the total input (`input_tokens + cache_creation_input_tokens + cache_read_input_tokens`)
//! with `cache_read` / `cache_write` alongside, and encoding subtracts them again.

use super::types::*;
use crate::canonical::sig::{self, Family};
use crate::canonical::{ChatResponse, ConvertError, Extra, FinishReason, Json, Part, Usage};
use crate::formats::{tool_args, Format};
use sonic_rs::JsonValueTrait;
use std::borrow::Cow;

/// `stop_reason` -> canonical (PROTOCOLS 8.2); unknown values are kept verbatim.
pub fn finish_from_stop_reason(reason: &str) -> FinishReason {
    match reason {
        "end_turn" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "stop_sequence" => FinishReason::StopSequence,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

/// The `stop_reason` values of the Messages API (PROTOCOLS 8.2).
const STOP_REASONS: [&str; 7] = [
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
];

/// Canonical -> `stop_reason`. An `Other` value Anthropic also has is kept (Bedrock shares
/// `model_context_window_exceeded`); another provider's ends the turn, since clients switch on
/// the enum. `Error` has no Anthropic value and the body is a success, so it ends the turn too.
pub fn stop_reason_from_finish(finish: &FinishReason) -> &str {
    match finish {
        FinishReason::Stop | FinishReason::Error => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::StopSequence => "stop_sequence",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
        FinishReason::Other(v) if STOP_REASONS.contains(&v.as_str()) => v,
        FinishReason::Other(_) => "end_turn",
    }
}

/// Anthropic `usage` object -> canonical (input becomes the total input).
pub fn usage_from_wire(u: &Json) -> Usage {
    let mut counts = AnthropicUsage::default();
    merge_usage(&mut counts, u);
    usage_from_counts(&counts)
}

/// Overwrites the counts present in a wire `usage` object (streams send them in parts:
/// `message_start` then cumulative `message_delta`s).
pub(crate) fn merge_usage(counts: &mut AnthropicUsage, u: &Json) {
    let fields = [
        ("input_tokens", &mut counts.input_tokens),
        ("cache_creation_input_tokens", &mut counts.cache_creation_input_tokens),
        ("cache_read_input_tokens", &mut counts.cache_read_input_tokens),
        ("output_tokens", &mut counts.output_tokens),
    ];
    for (key, slot) in fields {
        if let Some(n) = u.get(key).and_then(|v| v.as_u64()) {
            *slot = n;
        }
    }
}

/// Anthropic counts -> canonical (input becomes the total input).
pub(crate) fn usage_from_counts(c: &AnthropicUsage) -> Usage {
    Usage {
        input: c
            .input_tokens
            .saturating_add(c.cache_read_input_tokens)
            .saturating_add(c.cache_creation_input_tokens),
        output: c.output_tokens,
        cache_read: c.cache_read_input_tokens,
        cache_write: c.cache_creation_input_tokens,
        reasoning: 0,
    }
}

/// Canonical usage -> Anthropic (input without the cached parts).
pub fn usage_to_wire(u: &Usage) -> AnthropicUsage {
    AnthropicUsage {
        input_tokens: u.input.saturating_sub(u.cache_read.saturating_add(u.cache_write)),
        cache_creation_input_tokens: u.cache_write,
        cache_read_input_tokens: u.cache_read,
        output_tokens: u.output,
    }
}

/// An Anthropic answer's way down to its calls' `input` objects (`tool_args::decode`).
struct Answer;

impl tool_args::Layout for Answer {
    const SHAPE: tool_args::Shape = tool_args::Shape::Object(&[(
        "content",
        tool_args::Shape::Array(&tool_args::Shape::Object(&[("input", tool_args::Shape::Args)])),
    )]);
}

fn str_member(v: &tool_args::Node<'_>, key: &str) -> String {
    v.get(key).and_then(|s| s.as_str()).unwrap_or_default().to_string()
}

/// An upstream's Anthropic `message` body -> canonical. Each call's `input` is taken as the
/// upstream wrote it (`tool_args`), as a stream's `partial_json` gives it, in the one pass that
/// parses the body.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, ConvertError> {
    let v = tool_args::decode::<Answer>(body).map_err(|e| {
        ConvertError::new(
            "",
            format!("response body is not valid JSON: {}", crate::wire::json::brief(&e)),
        )
    })?;
    if !v.is_object() {
        return Err(ConvertError::new("", "response body must be a JSON object"));
    }
    let blocks = v
        .get("content")
        .and_then(|c| c.items())
        .ok_or_else(|| ConvertError::new("content", "missing content array"))?;
    let mut content = Vec::with_capacity(blocks.len());
    for b in blocks {
        match b.get("type").and_then(|t| t.as_str()) {
            Some("text") => {
                let mut extra = Extra::default();
                for (k, val) in b.members().unwrap_or_default() {
                    if k != "type" && k != "text" && !val.is_null() {
                        if extra.format.is_none() {
                            extra = Extra::new(Format::Anthropic);
                        }
                        extra.push(k.as_ref(), val.to_value());
                    }
                }
                content.push(Part::Text {
                    text: str_member(b, "text"),
                    extra,
                });
            }
            Some("thinking") => content.push(Part::Thinking {
                text: str_member(b, "thinking"),
                signature: b
                    .get("signature")
                    .and_then(|s| s.as_str())
                    .map(|s| sig::decode(s, Family::Claude)),
            }),
            Some("redacted_thinking") => content.push(Part::RedactedThinking {
                data: sig::decode(&str_member(b, "data"), Family::Claude),
            }),
            Some("tool_use") => content.push(Part::ToolCall {
                id: str_member(b, "id"),
                name: str_member(b, "name"),
                arguments: match b.get("input") {
                    Some(input) if !input.is_null() => input.arguments(|v| sonic_rs::to_string(v).unwrap_or_default()),
                    _ => "{}".to_string(),
                },
                signature: None,
                extra: Extra::default(),
            }),
            // NOTE: server-tool blocks (server_tool_use, web_search_tool_result, ...) have no
            // canonical form; they describe work the upstream already did, so they are skipped.
            _ => {}
        }
    }
    let root = |key: &str| v.get(key).and_then(|x| x.value());
    let finish = match root("stop_reason").and_then(|r| r.as_str()) {
        Some(r) => finish_from_stop_reason(r),
        None => FinishReason::Stop,
    };
    Ok(ChatResponse {
        id: str_member(&v, "id"),
        model: str_member(&v, "model"),
        content,
        finish,
        usage: root("usage").map(usage_from_wire).unwrap_or_default(),
        stop_sequence: root("stop_sequence").and_then(|s| s.as_str()).map(str::to_string),
        // The format has no creation time: 0 = unknown; the proxy fills in the time of arrival.
        created: 0,
        logprobs: Vec::new(),
    })
}

/// Canonical -> the `message` body for an Anthropic client (compact, real field order).
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
    emit: impl FnOnce(&AnthropicResponse<'_>, usize) -> Vec<u8>,
) -> Vec<u8> {
    let content = resp
        .content
        .iter()
        .filter_map(|p| {
            Some(match p {
                Part::Text { text, extra } => AnthropicBlock::Text {
                    text: Cow::Borrowed(text),
                    extra: RawFields::new(extra.for_target(Format::Anthropic)),
                },
                Part::ToolCall {
                    id, name, arguments, ..
                } => AnthropicBlock::ToolUse {
                    id,
                    name,
                    // NOTE: arguments that are not a JSON object (a truncated upstream answer)
                    // cannot be an Anthropic `input`; the client sees an empty object.
                    input: crate::formats::tool_args::object_or_empty(arguments),
                    extra: RawFields::default(),
                },
                Part::Thinking { text, signature } => AnthropicBlock::Thinking {
                    thinking: text,
                    signature: signature.as_deref().map_or("", |s| sig::wire(s, Family::Claude)),
                },
                Part::RedactedThinking { data } => AnthropicBlock::RedactedThinking {
                    data: sig::wire(data, Family::Claude),
                },
                // Images, documents and tool results never occur in an assistant answer.
                Part::Image { .. } | Part::Document { .. } | Part::ToolResult { .. } => return None,
            })
        })
        .collect();
    let body = AnthropicResponse {
        id: &resp.id,
        kind: "message",
        role: "assistant",
        model: &resp.model,
        content,
        stop_reason: stop_reason_from_finish(&resp.finish),
        stop_sequence: resp.stop_sequence.as_deref(),
        usage: usage_to_wire(&resp.usage),
    };
    emit(&body, resp.encoded_len_hint())
}

#[cfg(test)]
mod tests {
    #[test]
    fn tool_input_is_taken_as_written_as_a_stream_gives_it() {
        let body = br#"{"id":"m","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"x"},{"type":"tool_use","id":"t","name":"f","input": {"zeta":1,"id":123456789012345678901234,"p":1.10,"big":1e5} }],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":1}}"#;
        let r = super::decode_response(body).unwrap();
        let crate::canonical::Part::ToolCall { arguments, .. } = &r.content[1] else {
            panic!("{:?}", r.content)
        };
        assert_eq!(
            arguments,
            r#"{"zeta":1,"id":123456789012345678901234,"p":1.10,"big":1e5}"#
        );
    }
}
