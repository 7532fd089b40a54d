//! OpenAI wire format as the mock speaks it (PROTOCOLS 2.3-2.7, 2.9).

use super::{read_messages, split_pieces, unix_now, word_count};
use crate::formats::openai::types::*;
use sonic_rs::{json, JsonValueTrait};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id(prefix: &str) -> String {
    format!("{prefix}-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// A parsed chat request, as much as the mock needs.
pub struct ChatPlan {
    pub model: String,
    pub reply: String,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub include_usage: bool,
}

pub fn plan_chat(body: &[u8], model: &str, include_usage: bool) -> ChatPlan {
    let (last, prompt_tokens) = read_messages(body);
    let reply = format!("echo: {last}");
    ChatPlan {
        model: model.to_string(),
        completion_tokens: word_count(&reply),
        reply,
        prompt_tokens,
        include_usage,
    }
}

fn usage(p: &ChatPlan) -> OpenAiUsage {
    OpenAiUsage::new(p.prompt_tokens as u64, p.completion_tokens as u64, true)
}

/// Non-streaming chat completion body.
pub fn chat_completion(p: &ChatPlan) -> Vec<u8> {
    let id = next_id("chatcmpl-mock");
    let v = OpenAiChatCompletion {
        id: &id,
        object: "chat.completion",
        created: unix_now(),
        model: &p.model,
        system_fingerprint: "fp_sluice_mock",
        choices: vec![OpenAiChoice {
            index: 0,
            message: OpenAiResponseMessage {
                role: "assistant",
                content: Some(&p.reply),
                refusal: None,
                annotations: [],
            },
            logprobs: None,
            finish_reason: "stop",
        }],
        usage: usage(p),
    };
    sonic_rs::to_vec(&v).unwrap_or_default()
}

/// The SSE events of a streamed chat completion, each a complete `data: ...\n\n` event, ending
/// with the usage chunk (when asked) and `data: [DONE]`.
pub fn chat_stream_events(p: &ChatPlan, chunks: usize) -> Vec<Vec<u8>> {
    let id = next_id("chatcmpl-mock");
    let created = unix_now();
    let chunk = |delta: OpenAiDelta<'_>, finish: Option<&str>| {
        sse(&OpenAiChatChunk {
            id: &id,
            object: "chat.completion.chunk",
            created,
            model: &p.model,
            system_fingerprint: "fp_sluice_mock",
            choices: vec![OpenAiChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason: finish,
            }],
            usage: p.include_usage.then_some(None),
        })
    };
    let mut out = Vec::new();
    out.push(chunk(
        OpenAiDelta {
            role: Some("assistant"),
            content: Some(""),
            refusal_null: true,
        },
        None,
    ));
    for piece in split_pieces(&p.reply, chunks) {
        out.push(chunk(
            OpenAiDelta {
                content: Some(piece),
                ..Default::default()
            },
            None,
        ));
    }
    out.push(chunk(OpenAiDelta::default(), Some("stop")));
    if p.include_usage {
        out.push(sse(&OpenAiChatChunk {
            id: &id,
            object: "chat.completion.chunk",
            created,
            model: &p.model,
            system_fingerprint: "fp_sluice_mock",
            choices: vec![],
            usage: Some(Some(usage(p))),
        }));
    }
    out.push(b"data: [DONE]\n\n".to_vec());
    out
}

fn sse<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut e = b"data: ".to_vec();
    e.extend_from_slice(&sonic_rs::to_vec(v).unwrap_or_default());
    e.extend_from_slice(b"\n\n");
    e
}

fn prompt_text(body: &[u8]) -> String {
    sonic_rs::get(body, &["prompt"])
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Legacy completions: `prompt` echoed.
pub fn completion(body: &[u8], model: &str) -> Vec<u8> {
    let prompt = prompt_text(body);
    let text = format!("echo: {prompt}");
    let id = next_id("cmpl-mock");
    let v = OpenAiTextCompletion {
        id: &id,
        object: "text_completion",
        created: unix_now(),
        model,
        choices: vec![OpenAiTextChoice {
            text: &text,
            index: 0,
            logprobs: None,
            finish_reason: Some("stop"),
        }],
        usage: Some(OpenAiUsage::new(
            word_count(&prompt) as u64,
            word_count(&text) as u64,
            false,
        )),
    };
    sonic_rs::to_vec(&v).unwrap_or_default()
}

/// Legacy completions stream (same text, in pieces).
pub fn completion_stream_events(
    body: &[u8],
    model: &str,
    chunks: usize,
    include_usage: bool,
) -> Vec<Vec<u8>> {
    let prompt = prompt_text(body);
    let text = format!("echo: {prompt}");
    let id = next_id("cmpl-mock");
    let created = unix_now();
    let pieces = split_pieces(&text, chunks);
    let last = pieces.len() - 1;
    let obj = |choices, usage| OpenAiTextCompletion {
        id: &id,
        object: "text_completion",
        created,
        model,
        choices,
        usage,
    };
    let mut out: Vec<Vec<u8>> = pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let finish = (i == last).then_some("stop");
            sse(&obj(
                vec![OpenAiTextChoice {
                    text: piece,
                    index: 0,
                    logprobs: None,
                    finish_reason: finish,
                }],
                None,
            ))
        })
        .collect();
    if include_usage {
        let usage = OpenAiUsage::new(word_count(&prompt) as u64, word_count(&text) as u64, false);
        out.push(sse(&obj(vec![], Some(usage))));
    }
    out.push(b"data: [DONE]\n\n".to_vec());
    out
}

/// Embeddings: a deterministic vector per input (float array or base64 little-endian f32).
pub fn embeddings(body: &[u8], model: &str) -> Vec<u8> {
    let v: sonic_rs::Value = sonic_rs::from_slice(body).unwrap_or_default();
    let inputs: Vec<String> = match v.get("input") {
        Some(i) if i.is_str() => vec![i.as_str().unwrap_or("").to_string()],
        Some(i) if i.is_array() => {
            sonic_rs::from_str::<Vec<sonic_rs::Value>>(&sonic_rs::to_string(i).unwrap_or_default())
                .unwrap_or_default()
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| sonic_rs::to_string(x).unwrap_or_default())
                })
                .collect()
        }
        _ => vec![String::new()],
    };
    let dims = v
        .get("dimensions")
        .and_then(|d| d.as_u64())
        .unwrap_or(8)
        .clamp(1, 4096) as usize;
    let base64 = v.get("encoding_format").and_then(|f| f.as_str()) == Some("base64");
    let mut data = Vec::new();
    let mut tokens = 0;
    for (i, text) in inputs.iter().enumerate() {
        tokens += word_count(text).max(1);
        let vec = embed(text, dims);
        let emb = if base64 {
            let mut raw = Vec::with_capacity(dims * 4);
            for f in &vec {
                raw.extend_from_slice(&f.to_le_bytes());
            }
            sonic_rs::Value::from(b64(&raw).as_str())
        } else {
            sonic_rs::to_value(&vec).unwrap_or_default()
        };
        data.push(json!({"object": "embedding", "index": i, "embedding": emb}));
    }
    let v = json!({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}});
    sonic_rs::to_vec(&v).unwrap_or_default()
}

/// A stable pseudo-embedding: same text, same vector; values in [-1, 1].
pub fn embed(text: &str, dims: usize) -> Vec<f32> {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    (0..dims)
        .map(|i| {
            let x = h.wrapping_add(i as u64).wrapping_mul(0x9E3779B97F4A7C15);
            ((x >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect()
}

pub fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// `GET /v1/models` body for the given ids.
pub fn models<'a>(ids: impl IntoIterator<Item = &'a str>, owner: &str) -> Vec<u8> {
    let data = ids
        .into_iter()
        .map(|id| OpenAiModel {
            id,
            object: "model",
            created: 1700000000,
            owned_by: owner,
        })
        .collect();
    sonic_rs::to_vec(&OpenAiList {
        object: "list",
        data,
    })
    .unwrap_or_default()
}

/// OpenAI error body (PROTOCOLS 2.9) for a status.
pub fn error_body(status: u16, message: &str) -> Vec<u8> {
    let (ty, code) = match status {
        400 => ("invalid_request_error", None),
        401 => ("invalid_request_error", Some("invalid_api_key")),
        403 => ("permission_error", None),
        404 => ("invalid_request_error", Some("model_not_found")),
        429 => ("rate_limit_error", Some("rate_limit_exceeded")),
        _ if status >= 500 => ("server_error", None),
        _ => ("invalid_request_error", None),
    };
    crate::formats::openai::error_body(message, ty, None, code).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_of_known_floats() {
        let mut raw = Vec::new();
        for f in [0.5f32, -1.0, 0.25] {
            raw.extend_from_slice(&f.to_le_bytes());
        }
        assert_eq!(b64(&raw), "AAAAPwAAgL8AAIA+");
    }

    #[test]
    fn stream_text_matches_unary_text() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"one two three"}]}"#;
        let p = plan_chat(body, "m", true);
        let events = chat_stream_events(&p, 3);
        let mut text = String::new();
        for e in &events[..events.len() - 1] {
            let v: sonic_rs::Value = sonic_rs::from_slice(&e[6..e.len() - 2]).unwrap();
            if let Some(c) = v
                .pointer(&sonic_rs::pointer!["choices", 0, "delta", "content"])
                .and_then(|c| c.as_str())
            {
                text.push_str(c);
            }
        }
        assert_eq!(text, "echo: one two three");
        assert_eq!(events.last().unwrap(), b"data: [DONE]\n\n");
        let usage_chunk = &events[events.len() - 2];
        assert!(
            usage_chunk.windows(14).any(|w| w == b"\"choices\":[],\""),
            "{}",
            String::from_utf8_lossy(usage_chunk)
        );
    }
}
