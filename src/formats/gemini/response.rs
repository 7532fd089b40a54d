//! Gemini `GenerateContentResponse` <-> canonical `ChatResponse` (PROTOCOLS 4.3, 8.2, 8.3).
//!
//! Usage: Gemini's `candidatesTokenCount` excludes thinking while every other format's output
//! count includes it, so canonical `output` = candidates + thoughts and the encoder subtracts
//! `reasoning` back out; `promptTokenCount` already includes cached tokens (canonical `input`).

use super::{camel_eq, decode_part, encode_part, field, signed_id, split_signed_id, write, CallIds, SIGNATURE};
use crate::canonical::{ChatResponse, ConvertError, Extra, FinishReason, Json, JsonPath, Part, TokenLogprob, Usage};
use crate::formats::tool_args::{self, Node};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};

/// Gemini `finishReason` -> canonical (tool calls decided by the caller: Gemini says `STOP`).
/// Every block by a filter (text or image safety, recitation, blocklists, Model Armor) is a
/// content filter to other formats; the rest (`MALFORMED_FUNCTION_CALL`, `LANGUAGE`, ...) have
/// no canonical meaning and stay verbatim for each encoder to map.
pub fn finish_from_gemini(s: &str) -> FinishReason {
    match s {
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION"
        | "MODEL_ARMOR" => FinishReason::ContentFilter,
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
        // Bedrock's names for Gemini's own.
        FinishReason::Other(s) if s == "malformed_tool_use" => "MALFORMED_FUNCTION_CALL",
        FinishReason::Other(s) if s == "malformed_model_output" => "MALFORMED_RESPONSE",
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

/// A `usageMetadata` object -> canonical usage (see the module doc for the thinking split).
pub(super) fn usage_from_gemini(u: &Json) -> Usage {
    let thoughts = count(u, "thoughtsTokenCount");
    Usage {
        input: count(u, "promptTokenCount"),
        output: count(u, "candidatesTokenCount") + thoughts,
        cache_read: count(u, "cachedContentTokenCount"),
        cache_write: 0,
        reasoning: thoughts,
    }
}

/// Writes the `usageMetadata` object for `u` (the inverse of `usage_from_gemini`). Not `whole`:
/// a stream chunk before the last, which Google writes with the prompt's count (and its cached
/// part) and a total of the same, and no candidates count yet.
pub(super) fn write_usage_metadata(b: &mut Vec<u8>, u: &Usage, whole: bool) {
    let candidates_tokens = if whole { u.output.saturating_sub(u.reasoning) } else { 0 };
    b.extend_from_slice(b"{\"promptTokenCount\":");
    write::uint(b, u.input);
    if whole {
        b.extend_from_slice(b",\"candidatesTokenCount\":");
        write::uint(b, candidates_tokens);
    }
    b.extend_from_slice(b",\"totalTokenCount\":");
    let thoughts = if whole { u.reasoning } else { 0 };
    write::uint(b, u.input + candidates_tokens + thoughts);
    if u.cache_read > 0 {
        b.extend_from_slice(b",\"cachedContentTokenCount\":");
        write::uint(b, u.cache_read);
    }
    if thoughts > 0 {
        b.extend_from_slice(b",\"thoughtsTokenCount\":");
        write::uint(b, thoughts);
    }
    b.push(b'}');
}

/// A Gemini answer's way down to its calls' `args` objects (`tool_args::decode`), keys read as
/// `field` reads them.
struct Answer;

impl tool_args::Layout for Answer {
    const SHAPE: tool_args::Shape = {
        use tool_args::Shape::{Args, Array, Object};
        const PART: tool_args::Shape = Object(&[("functionCall", Object(&[("args", Args)]))]);
        Object(&[(
            "candidates",
            Array(&Object(&[("content", Object(&[("parts", Array(&PART))]))])),
        )])
    };
    const CAMEL: bool = true;
}

/// `field` for a node of a decoded answer.
fn member<'n, 'a>(n: &'n Node<'a>, name: &str) -> Option<&'n Node<'a>> {
    let members = n.members()?;
    let found = match members.iter().find(|(k, _)| k == name) {
        Some(m) => Some(m),
        None => members.iter().find(|(k, _)| camel_eq(k, name)),
    };
    found.map(|(_, v)| v).filter(|v| !v.is_null())
}

/// `field` for an answer's value off the way to the calls.
fn value<'n>(n: &'n Node<'_>, name: &str) -> Option<&'n Json> {
    member(n, name).and_then(Node::value)
}

/// `decode_part` for a part of an answer decoded by `tool_args::decode`: a `functionCall`'s
/// `args` object is its text as the upstream wrote it.
fn decode_answer_part(p: &Node<'_>, path: &JsonPath<'_>, ids: &mut CallIds) -> Result<Part, ConvertError> {
    let Some(fc) = member(p, "functionCall").filter(|fc| fc.members().is_some()) else {
        // No call object: the part as a value (an object is built again, its members parsed).
        return decode_part(&p.to_value(), path, ids);
    };
    let signature = value(p, SIGNATURE).and_then(|s| s.as_str()).map(str::to_string);
    let name = value(fc, "name")
        .and_then(|n| n.as_str())
        .ok_or_else(|| ConvertError::new(path.key("functionCall").key("name"), "expected a string"))?;
    let arguments = match member(fc, "args") {
        Some(a) => a.arguments(|v| sonic_rs::to_string(v).unwrap_or_else(|_| "{}".into())),
        None => "{}".into(),
    };
    Ok(Part::ToolCall {
        id: ids.call(value(fc, "id").and_then(|s| s.as_str()), name),
        name: name.to_string(),
        arguments,
        signature,
        extra: Extra::default(),
    })
}

/// Provider: a Gemini success body -> canonical. Only the first candidate is read (Sluice never
/// asks for more than one). Each call's `args` are taken as the upstream wrote them
/// (`tool_args`), in the one pass that parses the body.
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
    let mut ids = CallIds::default();
    let response_id = value(&v, "responseId").and_then(|x| x.as_str());
    ids.answer_id(response_id.unwrap_or_default());
    let mut content = Vec::new();
    let candidate = member(&v, "candidates")
        .and_then(Node::items)
        .and_then(|c| c.iter().next());
    let mut finish = FinishReason::Stop;
    let logprobs = candidate
        .and_then(|c| value(c, "logprobsResult"))
        .map(logprobs_from_gemini)
        .unwrap_or_default();
    if let Some(c) = candidate {
        if let Some(parts) = member(c, "content")
            .and_then(|ct| member(ct, "parts"))
            .and_then(Node::items)
        {
            let root = JsonPath::ROOT;
            let cands = root.key("candidates");
            let c0 = cands.index(0);
            let ct = c0.key("content");
            let ppath = ct.key("parts");
            content.reserve(parts.len());
            for (j, p) in parts.iter().enumerate() {
                let mut part = decode_answer_part(p, &ppath.index(j), &mut ids)?;
                if let Part::ToolCall {
                    id, signature: Some(s), ..
                } = &mut part
                {
                    *id = signed_id(id, s);
                }
                content.push(part);
            }
        }
        if let Some(f) = value(c, "finishReason").and_then(|f| f.as_str()) {
            finish = finish_from_gemini(f);
        }
    } else if value(&v, "promptFeedback")
        .and_then(|p| field(p, "blockReason"))
        .is_some()
    {
        // The prompt itself was blocked: no candidates at all.
        finish = FinishReason::ContentFilter;
    }
    if finish == FinishReason::Stop && content.iter().any(|p| matches!(p, Part::ToolCall { .. })) {
        finish = FinishReason::ToolCalls;
    }
    let usage = value(&v, "usageMetadata").map(usage_from_gemini).unwrap_or_default();
    Ok(ChatResponse {
        id: response_id.unwrap_or_default().to_string(),
        model: value(&v, "modelVersion")
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string(),
        content,
        finish,
        usage,
        stop_sequence: None,
        // NOTE: Gemini API responses carry no timestamp (Vertex's createTime is RFC 3339).
        created: 0,
        logprobs,
    })
}

/// A candidate's `logprobsResult` -> canonical: `chosenCandidates[i]` is token i, and
/// `topCandidates[i].candidates` its alternatives.
pub(super) fn logprobs_from_gemini(r: &Json) -> Vec<TokenLogprob> {
    let list = |v: Option<&Json>| -> Vec<(String, f64)> {
        v.and_then(|c| c.as_array())
            .map(|a| {
                a.iter()
                    .map(|c| {
                        (
                            field(c, "token")
                                .and_then(|t| t.as_str())
                                .unwrap_or_default()
                                .to_string(),
                            field(c, "logProbability").and_then(|l| l.as_f64()).unwrap_or(0.0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let tops: Vec<&Json> = field(r, "topCandidates")
        .and_then(|t| t.as_array())
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    list(field(r, "chosenCandidates"))
        .into_iter()
        .enumerate()
        .map(|(i, (token, logprob))| TokenLogprob {
            token,
            logprob,
            top: list(tops.get(i).and_then(|t| field(t, "candidates"))),
        })
        .collect()
}

/// `"avgLogprobs":..,"logprobsResult":{..}` for a candidate's non-empty `tokens`, written after
/// its `finishReason` as Gemini orders them.
pub(super) fn write_logprobs(b: &mut Vec<u8>, tokens: &[TokenLogprob]) {
    let finite = |l: f64| if l.is_finite() { l } else { -9999.0 };
    let sum: f64 = tokens.iter().map(|t| finite(t.logprob)).sum();
    let candidate = |b: &mut Vec<u8>, token: &str, logprob: f64| {
        b.extend_from_slice(b"{\"token\":");
        write::string(b, token);
        b.extend_from_slice(b",\"logProbability\":");
        write::float(b, finite(logprob));
        b.push(b'}');
    };
    b.extend_from_slice(b"\"avgLogprobs\":");
    write::float(b, sum / tokens.len().max(1) as f64);
    b.extend_from_slice(b",\"logprobsResult\":{");
    if tokens.iter().any(|t| !t.top.is_empty()) {
        b.extend_from_slice(b"\"topCandidates\":[");
        for (i, t) in tokens.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            b.extend_from_slice(b"{\"candidates\":[");
            for (j, (token, logprob)) in t.top.iter().enumerate() {
                if j > 0 {
                    b.push(b',');
                }
                candidate(b, token, *logprob);
            }
            b.extend_from_slice(b"]}");
        }
        b.extend_from_slice(b"],");
    }
    b.extend_from_slice(b"\"chosenCandidates\":[");
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        candidate(b, &t.token, t.logprob);
    }
    b.extend_from_slice(b"]}");
}

/// Integration: canonical -> Gemini response body (compact, real field order). Tool-call ids
/// are written only when they are not ones Sluice synthesized (`is_synthesized`), so a Gemini client
/// can echo foreign ids back while Gemini-born calls look as Gemini sends them.
///
/// Written straight into bytes, in the field order of `types::GeminiResponse` (which the
/// integration used to serialize): candidates, usageMetadata, modelVersion, responseId.
pub fn encode_response(resp: &ChatResponse) -> Vec<u8> {
    let mut b = Vec::with_capacity(resp.encoded_len_hint() + resp.model.len() + resp.id.len());
    b.extend_from_slice(b"{\"candidates\":[{");
    b.extend_from_slice(b"\"content\":{\"parts\":[");
    let start = b.len();
    let root = JsonPath::ROOT;
    let cpath = root.key("content");
    for (j, p) in resp.content.iter().enumerate() {
        let mark = b.len();
        if b.len() != start {
            b.push(b',');
        }
        let call_id = match p {
            Part::ToolCall { id, .. } => response_call_id(id),
            _ => None,
        };
        // Responses hold no tool results, so no name lookup is needed.
        match encode_part(&mut b, p, &cpath.index(j), call_id, &|_| None) {
            Ok(true) => {}
            Ok(false) => b.truncate(mark),
            Err(_) => {
                b.truncate(mark);
                // An image URL whose type cannot be told: fall back to the URL as text.
                if let Part::Image {
                    source: crate::canonical::ImageSource::Url(u),
                    ..
                } = p
                {
                    if b.len() != start {
                        b.push(b',');
                    }
                    b.extend_from_slice(b"{\"text\":");
                    write::string(&mut b, u);
                    b.push(b'}');
                }
            }
        }
    }
    if b.len() == start {
        // Nothing generated (e.g. blocked by safety): no `content`.
        b.truncate(start - b"\"content\":{\"parts\":[".len());
    } else {
        b.extend_from_slice(b"],\"role\":\"model\"},");
    }
    b.extend_from_slice(b"\"finishReason\":");
    write::string(&mut b, finish_to_gemini(&resp.finish));
    if !resp.logprobs.is_empty() {
        b.push(b',');
        write_logprobs(&mut b, &resp.logprobs);
    }
    b.extend_from_slice(b",\"index\":0}],\"usageMetadata\":");
    write_usage_metadata(&mut b, &resp.usage, true);
    b.extend_from_slice(b",\"modelVersion\":");
    write::string(&mut b, &resp.model);
    b.extend_from_slice(b",\"responseId\":");
    write::string(&mut b, &resp.id);
    b.push(b'}');
    b
}

/// The `functionCall.id` an answer to a Gemini client carries for canonical `id`: none for one
/// Sluice synthesized, else the id without a folded signature (the part has its own field).
pub(super) fn response_call_id(id: &str) -> Option<&str> {
    let bare = split_signed_id(id).0;
    (!is_synthesized(bare)).then_some(bare)
}

/// Whether `id` has a shape the decoders synthesize: `call_<n>` or `call_<nonce>_<n>` (see
/// `CallIds`).
pub(super) fn is_synthesized(id: &str) -> bool {
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let nonce = |s: &str| !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match id.strip_prefix("call_").map(|rest| rest.split_once('_')) {
        Some(Some((n, i))) => nonce(n) && number(i),
        Some(None) => number(&id[5..]),
        None => false,
    }
}
