//! OpenAI `chat.completion` (non-streaming) <-> canonical (PROTOCOLS 2.3, 8.2, 8.3).
//!
//! Provider side (`decode_response`) reads `choices[0]` only (requests never ask for n > 1) and
//! is lenient with the nulls and omissions of OpenAI-compatible servers. Integration side
//! (`encode_response`) writes OpenAI's own field order.

use super::request::{is_refusal, refusal_part};
use super::types::*;
use crate::canonical::{ChatResponse, ConvertError, FinishReason, Json, Part, Usage};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::borrow::Cow;

/// Provider: an upstream's `chat.completion` body -> canonical.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, ConvertError> {
    let c: OpenAiCompletionIn = sonic_rs::from_slice(body)
        .map_err(|e| ConvertError::new("", format!("not a chat.completion: {e}")))?;
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
                    content.push(refusal_part(t));
                }
            }
        }
        None => {}
    }
    let refused = msg.refusal.is_some();
    if let Some(r) = msg.refusal {
        content.push(refusal_part(&r));
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
        });
    }
    let finish = match choice.finish_reason.as_deref() {
        Some("stop") if refused && !has_text => FinishReason::ContentFilter,
        Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some("tool_calls") | Some("function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_string()),
        // Some compatible servers leave it null.
        None if has_calls => FinishReason::ToolCalls,
        None => FinishReason::Stop,
    };
    let u = c.usage.unwrap_or_default();
    Ok(ChatResponse {
        id: c.id.unwrap_or_default(),
        model: c.model.unwrap_or_default(),
        content,
        finish,
        usage: Usage {
            input: u.prompt_tokens.unwrap_or(0),
            output: u.completion_tokens.unwrap_or(0),
            cache_read: u
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            cache_write: 0,
            reasoning: u
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        },
        stop_sequence: None,
        created: c.created.unwrap_or(0),
    })
}

fn arguments_text(a: Option<Json>) -> String {
    match a {
        Some(v) if v.is_str() => v.as_str().unwrap_or_default().to_string(),
        Some(v) if !v.is_null() => sonic_rs::to_string(&v).unwrap_or_default(),
        _ => "{}".to_string(),
    }
}

/// OpenAI's `finish_reason` for a canonical reason (PROTOCOLS 8.2).
pub(super) fn finish_reason(f: &FinishReason) -> &str {
    match f {
        FinishReason::Stop | FinishReason::StopSequence => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        // OpenAI has no error finish; the text so far ended the turn.
        FinishReason::Error => "stop",
        FinishReason::Other(s) => s,
    }
}

/// Integration: canonical -> a `chat.completion` body for an OpenAI client.
///
/// Text parts are concatenated into `content` (OpenAI answers with one string). NOTE: thinking
/// parts are dropped (Chat Completions has no field for them; the common `reasoning_content`
/// extension is deliberately not emitted), and so are images, which no chat completion carries.
pub fn encode_response(resp: &ChatResponse) -> Vec<u8> {
    let mut texts: Vec<&str> = Vec::new();
    let mut refusals: Vec<&str> = Vec::new();
    let mut calls = Vec::new();
    for p in &resp.content {
        match p {
            Part::Text { text, extra } if is_refusal(extra) => refusals.push(text),
            Part::Text { text, .. } => texts.push(text),
            Part::ToolCall {
                id,
                name,
                arguments,
                ..
            } => calls.push(OpenAiToolCall {
                id,
                kind: "function",
                function: OpenAiFunctionCall { name, arguments },
            }),
            Part::Thinking { .. }
            | Part::RedactedThinking { .. }
            | Part::Image { .. }
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
    // OpenAI reports its own refusals with finish_reason "stop".
    let finish = if resp.finish == FinishReason::ContentFilter && refusal.is_some() {
        "stop"
    } else {
        finish_reason(&resp.finish)
    };
    let u = &resp.usage;
    let mut usage = OpenAiUsage::new(u.input, u.output, true);
    if let Some(d) = usage.prompt_tokens_details.as_mut() {
        d.cached_tokens = u.cache_read;
    }
    if let Some(d) = usage.completion_tokens_details.as_mut() {
        d.reasoning_tokens = u.reasoning;
    }
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
            logprobs: None,
            finish_reason: finish,
        }],
        usage,
    };
    sonic_rs::to_vec(&out).unwrap_or_default()
}
