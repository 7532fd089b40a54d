//! Gemini `GenerateContentResponse` <-> canonical `ChatResponse` (PROTOCOLS 4.3, 8.2, 8.3).
//!
//! Usage: Gemini's `candidatesTokenCount` excludes thinking while every other format's output
//! count includes it, so canonical `output` = candidates + thoughts and the encoder subtracts
//! `reasoning` back out; `promptTokenCount` already includes cached tokens (canonical `input`).

use super::types::*;
use super::{decode_part, encode_part, field, CallIds};
use crate::canonical::{ChatResponse, ConvertError, FinishReason, Json, Part, Usage};
use sonic_rs::{JsonContainerTrait, JsonValueMutTrait, JsonValueTrait};

/// Gemini `finishReason` -> canonical (tool calls decided by the caller: Gemini says `STOP`).
pub fn finish_from_gemini(s: &str) -> FinishReason {
    match s {
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

/// The `finishReason` values of google-genai 3.4.0 (PROTOCOLS 8.2).
const GEMINI_FINISH: &[&str] = &[
    "FINISH_REASON_UNSPECIFIED",
    "STOP",
    "MAX_TOKENS",
    "SAFETY",
    "RECITATION",
    "LANGUAGE",
    "OTHER",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "MALFORMED_FUNCTION_CALL",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_OTHER",
    "NO_IMAGE",
    "IMAGE_RECITATION",
    "UNEXPECTED_TOOL_CALL",
    "TOO_MANY_TOOL_CALLS",
    "MISSING_THOUGHT_SIGNATURE",
    "MALFORMED_RESPONSE",
    "ESCALATION",
    "PUP_LIMITED_DISABLED",
    "CONTINUATION",
    "MODEL_ARMOR",
];

/// Canonical -> Gemini `finishReason`. A tool-call turn ends with `STOP` (no tool-use value);
/// values foreign to Gemini become `OTHER`.
pub fn finish_to_gemini(f: &FinishReason) -> &str {
    match f {
        FinishReason::Stop | FinishReason::StopSequence | FinishReason::ToolCalls => "STOP",
        FinishReason::Length => "MAX_TOKENS",
        FinishReason::ContentFilter => "SAFETY",
        FinishReason::Error => "OTHER",
        FinishReason::Other(s) => GEMINI_FINISH
            .iter()
            .find(|v| **v == s.as_str())
            .copied()
            .unwrap_or("OTHER"),
    }
}

fn count(v: &Json, name: &str) -> u64 {
    field(v, name)
        .and_then(|n| n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)))
        .unwrap_or(0)
}

/// Provider: a Gemini success body -> canonical. Only the first candidate is read (Sluice never
/// asks for more than one).
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, ConvertError> {
    let v: Json = sonic_rs::from_slice(body)
        .map_err(|e| ConvertError::new("", format!("response body is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(ConvertError::new("", "response body must be a JSON object"));
    }
    let mut ids = CallIds::default();
    let mut content = Vec::new();
    let candidate = field(&v, "candidates")
        .and_then(|c| c.as_array())
        .and_then(|c| c.iter().next().cloned());
    let mut finish = FinishReason::Stop;
    if let Some(c) = &candidate {
        if let Some(parts) = field(c, "content")
            .and_then(|ct| field(ct, "parts"))
            .and_then(|p| p.as_array())
        {
            for (j, p) in parts.iter().enumerate() {
                content.push(decode_part(p, &format!("candidates[0].content.parts[{j}]"), &mut ids)?);
            }
        }
        if let Some(f) = field(c, "finishReason").and_then(|f| f.as_str()) {
            finish = finish_from_gemini(f);
        }
    } else if field(&v, "promptFeedback")
        .and_then(|p| field(p, "blockReason"))
        .is_some()
    {
        // The prompt itself was blocked: no candidates at all.
        finish = FinishReason::ContentFilter;
    }
    if finish == FinishReason::Stop && content.iter().any(|p| matches!(p, Part::ToolCall { .. })) {
        finish = FinishReason::ToolCalls;
    }
    let usage = match field(&v, "usageMetadata") {
        Some(u) => {
            let thoughts = count(u, "thoughtsTokenCount");
            Usage {
                input: count(u, "promptTokenCount"),
                output: count(u, "candidatesTokenCount") + thoughts,
                cache_read: count(u, "cachedContentTokenCount"),
                cache_write: 0,
                reasoning: thoughts,
            }
        }
        None => Usage::default(),
    };
    Ok(ChatResponse {
        id: field(&v, "responseId")
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string(),
        model: field(&v, "modelVersion")
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string(),
        content,
        finish,
        usage,
        stop_sequence: None,
        // NOTE: Gemini API responses carry no timestamp (Vertex's createTime is RFC 3339).
        created: 0,
    })
}

/// Integration: canonical -> Gemini response body (compact, real field order). Tool-call ids
/// are written only when they are not ones Sluice synthesized (`call_<n>`), so a Gemini client
/// can echo foreign ids back while Gemini-born calls look as Gemini sends them.
pub fn encode_response(resp: &ChatResponse) -> Vec<u8> {
    let mut parts = Vec::with_capacity(resp.content.len());
    for (j, p) in resp.content.iter().enumerate() {
        // Responses hold no tool results, so no name lookup is needed.
        match encode_part(p, &format!("content[{j}]"), &|_| None) {
            Ok(Some(mut part)) => {
                if let Part::ToolCall { id, .. } = p {
                    if !is_synthesized(id) {
                        if let Some(fc) = part.as_object_mut().and_then(|o| o.get_mut(&"functionCall")) {
                            super::set(fc, "id", id.as_str());
                        }
                    }
                }
                parts.push(part)
            }
            Ok(None) => {}
            // An image URL whose type cannot be told: fall back to the URL as text.
            Err(_) => {
                if let Part::Image {
                    source: crate::canonical::ImageSource::Url(u),
                    ..
                } = p
                {
                    let mut t = super::obj();
                    super::set(&mut t, "text", u.as_str());
                    parts.push(t);
                }
            }
        }
    }
    let u = &resp.usage;
    let candidates_tokens = u.output.saturating_sub(u.reasoning);
    let out = GeminiResponse {
        candidates: vec![GeminiCandidate {
            content: (!parts.is_empty()).then_some(GeminiContent { parts, role: "model" }),
            finish_reason: finish_to_gemini(&resp.finish),
            index: 0,
        }],
        usage_metadata: GeminiUsage {
            prompt_token_count: u.input,
            candidates_token_count: candidates_tokens,
            total_token_count: u.input + candidates_tokens + u.reasoning,
            cached_content_token_count: (u.cache_read > 0).then_some(u.cache_read),
            thoughts_token_count: (u.reasoning > 0).then_some(u.reasoning),
        },
        model_version: &resp.model,
        response_id: &resp.id,
    };
    sonic_rs::to_vec(&out).unwrap_or_default()
}

/// Whether `id` has the `call_<n>` shape the decoders synthesize.
fn is_synthesized(id: &str) -> bool {
    id.strip_prefix("call_")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}
