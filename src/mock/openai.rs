//! OpenAI wire format as the mock speaks it (PROTOCOLS 2.3-2.7, 2.9).

use super::stream::BodyEnd;
use super::{split_pieces, word_count};
use crate::canonical::{ChatResponse, Part};
use crate::formats::openai::completions::LegacyLogprobs;
use crate::formats::openai::types::*;
use sonic_rs::{json, JsonContainerTrait, JsonValueTrait};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(super) fn next_id(prefix: &str) -> String {
    format!("{prefix}-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// A chat answer from the shared scenarios: the canonical response, or the HTTP error to send.
pub enum ChatOutcome {
    Answer(ChatResponse),
    Error { status: u16, body: Vec<u8> },
}

/// Decodes an OpenAI chat request and runs the shared scenario on it (`model` overrides the
/// body's model, as routing does).
pub fn chat(body: &[u8], model: Option<&str>) -> ChatOutcome {
    if let Some(body) = chat_limits(body) {
        return ChatOutcome::Error { status: 400, body };
    }
    let decoded = crate::formats::openai::decode_request(body, None, false)
        .and_then(|r| super::chat_rules(crate::formats::Format::OpenAi, &r, body).map(|()| r));
    let mut req = match decoded {
        Ok(r) => r,
        Err(e) => {
            return ChatOutcome::Error {
                status: 400,
                body: refusal_body(&e),
            }
        }
    };
    if let Some(m) = model {
        req.model = m.to_string();
    }
    match super::scenario::respond(&req, &next_id("chatcmpl-mock")) {
        Ok(r) => ChatOutcome::Answer(r),
        Err(f) => ChatOutcome::Error {
            status: f.status,
            body: error_body(f.status, &f.message),
        },
    }
}

/// Chat Completions' bounds on the body, which OpenAI checks before anything else and words with
/// `param` and `code` (the decoder takes what they refuse): `messages` not empty (a system
/// message alone is a conversation), `max_tokens` and `max_completion_tokens` at least 1, at
/// most 4 `stop` sequences. The 400 body, or None.
fn chat_limits(body: &[u8]) -> Option<Vec<u8>> {
    let v: sonic_rs::Value = sonic_rs::from_slice(body).ok()?;
    let refuse = |param: &str, message: String, code: &str| {
        Some(crate::formats::openai::error_body(&message, "invalid_request_error", Some(param), Some(code)).to_vec())
    };
    if v.get("messages")
        .and_then(|m| m.as_array())
        .is_some_and(|m| m.is_empty())
    {
        let message =
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.";
        return refuse("messages", message.into(), "empty_array");
    }
    for key in ["max_tokens", "max_completion_tokens"] {
        if let Some(n) = v.get(key).and_then(|n| n.as_i64()).filter(|n| *n < 1) {
            let message =
                format!("Invalid '{key}': integer below minimum value. Expected a value >= 1, but got {n} instead.");
            return refuse(key, message, "integer_below_min_value");
        }
    }
    let stops = v.get("stop").and_then(|s| s.as_array()).map_or(0, |s| s.len());
    if stops > 4 {
        let message = format!("Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length {stops} instead.");
        return refuse("stop", message, "array_above_max_length");
    }
    None
}

/// Chat Completions' pairing of tool calls and tool messages, in OpenAI's words (the 400s quoted
/// in agno-agi/agno#3105 and BerriAI/litellm#10083): every `tool` message answers a `tool_calls`
/// id of the assistant message just before the run of tool messages, and an assistant message
/// with `tool_calls` is followed by a tool message for each id. The decoder gathers a run of tool
/// messages (and text after them) into one user turn, so the turn after an assistant is the run.
pub(super) fn openai_rules(req: &crate::canonical::ChatRequest) -> Result<(), crate::canonical::ConvertError> {
    use crate::canonical::{ConvertError, Role};
    use std::collections::HashSet;
    // Sets: a turn of many calls checked one by one against a list would be quadratic.
    for (i, m) in req.messages.iter().enumerate() {
        let answered = super::result_ids_of(m);
        if m.role == Role::User && !answered.is_empty() {
            let asked = i
                .checked_sub(1)
                .map(|k| &req.messages[k])
                .filter(|p| p.role == Role::Assistant)
                .map(super::call_ids_of)
                .unwrap_or_default()
                .into_iter()
                .collect::<HashSet<&str>>();
            if answered.iter().any(|id| !asked.contains(id)) {
                return Err(ConvertError::new(
                    "",
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                ));
            }
        }
        let Some(next) = req.messages.get(i + 1).filter(|_| m.role == Role::Assistant) else {
            continue;
        };
        let replied: HashSet<&str> = super::result_ids_of(next).into_iter().collect();
        let missing: Vec<&str> = super::call_ids_of(m)
            .into_iter()
            .filter(|id| !replied.contains(id))
            .collect();
        if !missing.is_empty() {
            return Err(ConvertError::new(
                "",
                format!(
                    "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                    missing.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Non-streaming chat completion body.
pub fn chat_completion(resp: &ChatResponse) -> Vec<u8> {
    crate::formats::openai::encode_response(resp)
}

/// The SSE events of a streamed chat completion, following every rule the SDK's accumulator
/// relies on (PROTOCOLS 2.4): role only in the first delta; each tool call's `id`, `type` and
/// `name` only in its first delta, `index` on every entry; the usage chunk (when asked) last with
/// `choices: []`; then `data: [DONE]`.
pub fn chat_stream_events(resp: &ChatResponse, chunks: usize, include_usage: bool) -> Vec<Vec<u8>> {
    let created = resp.created;
    let chunk_with = |delta: OpenAiDelta<'_>, finish: Option<&str>, logprobs: Option<OpenAiLogprobsOut<'_>>| {
        sse(&OpenAiChatChunk {
            id: &resp.id,
            object: "chat.completion.chunk",
            created,
            model: &resp.model,
            system_fingerprint: "fp_sluice_mock",
            choices: vec![OpenAiChunkChoice {
                index: 0,
                delta,
                logprobs,
                finish_reason: finish,
            }],
            usage: include_usage.then_some(None),
        })
    };
    let chunk = |delta: OpenAiDelta<'_>, finish: Option<&str>| chunk_with(delta, finish, None);
    // With log probabilities asked for, text goes one token per chunk, each with its own, as
    // OpenAI streams them.
    let mut tokens = &resp.logprobs[..];
    let mut out = Vec::new();
    out.push(chunk(
        OpenAiDelta {
            role: Some("assistant"),
            content: Some(""),
            refusal: Some(None),
            tool_calls: None,
        },
        None,
    ));
    let mut call_index = 0u32;
    for part in &resp.content {
        match part {
            Part::Text { text, .. } if !tokens.is_empty() => {
                let mut rest = text.as_str();
                while let Some(t) = tokens.first().filter(|t| rest.starts_with(t.token.as_str())) {
                    rest = &rest[t.token.len()..];
                    let delta = OpenAiDelta {
                        content: Some(&t.token),
                        ..Default::default()
                    };
                    out.push(chunk_with(delta, None, Some(OpenAiLogprobsOut(&tokens[..1]))));
                    tokens = &tokens[1..];
                }
                if !rest.is_empty() {
                    let delta = OpenAiDelta {
                        content: Some(rest),
                        ..Default::default()
                    };
                    out.push(chunk(delta, None));
                }
            }
            Part::Text { text, extra } => {
                let refusal = extra.marks_refusal();
                for piece in split_pieces(text, chunks) {
                    let delta = match refusal {
                        true => OpenAiDelta {
                            refusal: Some(Some(piece)),
                            ..Default::default()
                        },
                        false => OpenAiDelta {
                            content: Some(piece),
                            ..Default::default()
                        },
                    };
                    out.push(chunk(delta, None));
                }
            }
            Part::ToolCall {
                id, name, arguments, ..
            } => {
                let first = OpenAiToolCallDelta {
                    index: call_index,
                    id: Some(id),
                    kind: Some("function"),
                    function: OpenAiFunctionDelta {
                        name: Some(name),
                        arguments: "",
                    },
                };
                out.push(chunk(
                    OpenAiDelta {
                        tool_calls: Some(vec![first]),
                        ..Default::default()
                    },
                    None,
                ));
                for piece in split_pieces(arguments, 2) {
                    let more = OpenAiToolCallDelta {
                        index: call_index,
                        id: None,
                        kind: None,
                        function: OpenAiFunctionDelta {
                            name: None,
                            arguments: piece,
                        },
                    };
                    out.push(chunk(
                        OpenAiDelta {
                            tool_calls: Some(vec![more]),
                            ..Default::default()
                        },
                        None,
                    ));
                }
                call_index += 1;
            }
            _ => {}
        }
    }
    let refused = resp
        .content
        .iter()
        .any(|p| matches!(p, Part::Text { extra, .. } if extra.marks_refusal()));
    let finish = crate::formats::openai::answer_finish_reason(&resp.finish, refused);
    // Tokens that spell no text part go with the finish.
    let rest = Some(OpenAiLogprobsOut(tokens)).filter(|t| !t.0.is_empty());
    out.push(chunk_with(OpenAiDelta::default(), Some(finish), rest));
    if include_usage {
        out.push(sse(&OpenAiChatChunk {
            id: &resp.id,
            object: "chat.completion.chunk",
            created,
            model: &resp.model,
            system_fingerprint: "fp_sluice_mock",
            choices: vec![],
            // With the details, as the answer unstreamed has them (cached and reasoning tokens).
            usage: Some(Some(crate::formats::openai::response::usage_to_wire(&resp.usage))),
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

/// A legacy completion as the mock reads it: the prompt (a string, or the first of an array of
/// them) as a user's one message, run through the shared scenarios with OpenAI's default
/// `max_tokens` of 16, `stop` and the integer `logprobs`; `echo` puts the prompt before the text.
/// The answer's text, its finish reason and the response (usage, id, log probabilities), or the
/// error a model name asked for.
fn completion_answer(body: &[u8], model: &str) -> Result<(String, ChatResponse), (u16, Vec<u8>)> {
    use crate::canonical::{ChatRequest, Message, Role};
    let v: sonic_rs::Value = sonic_rs::from_slice(body).unwrap_or_default();
    let prompt = match v.get("prompt") {
        Some(p) if p.is_str() => p.as_str().unwrap_or_default(),
        Some(p) => p.get(0).and_then(|p| p.as_str()).unwrap_or_default(),
        None => "",
    };
    let stop = match v.get("stop") {
        Some(s) if s.is_str() => vec![s.as_str().unwrap_or_default().to_string()],
        Some(s) => sonic_rs::from_str::<Vec<String>>(&s.to_string()).unwrap_or_default(),
        None => Vec::new(),
    };
    let req = ChatRequest {
        model: model.to_string(),
        messages: vec![Message {
            role: Role::User,
            content: vec![Part::text(prompt)],
        }],
        max_tokens: Some(
            v.get("max_tokens")
                .and_then(|m| m.as_u64())
                .map_or(16, |m| m.min(u32::MAX as u64) as u32),
        ),
        stop,
        logprobs: v.get("logprobs").and_then(|l| l.as_u64()).map(|l| l.min(5) as u32),
        ..ChatRequest::default()
    };
    let resp = super::scenario::respond(&req, &next_id("cmpl-mock"))
        .map_err(|f| (f.status, error_body(f.status, &f.message)))?;
    let mut text: String = resp.content.iter().filter_map(Part::as_text).collect();
    if v.get("echo").and_then(|e| e.as_bool()) == Some(true) {
        text.insert_str(0, prompt);
    }
    Ok((text, resp))
}

/// A completion's `finish_reason` (`stop`, `length`; the mock filters nothing).
fn completion_finish(resp: &ChatResponse) -> &'static str {
    match resp.finish {
        crate::canonical::FinishReason::Length => "length",
        _ => "stop",
    }
}

/// Legacy completions: the scenario's answer (`echo: <prompt>`), or the error body to send.
pub fn completion(body: &[u8], model: &str) -> Result<Vec<u8>, (u16, Vec<u8>)> {
    let (text, resp) = completion_answer(body, model)?;
    let v = OpenAiTextCompletion {
        id: &resp.id,
        object: "text_completion",
        created: resp.created,
        model,
        choices: &[OpenAiTextChoice {
            text: &text,
            index: 0,
            logprobs: (!resp.logprobs.is_empty()).then_some(LegacyLogprobs {
                tokens: &resp.logprobs,
                offset: 0,
            }),
            finish_reason: Some(completion_finish(&resp)),
        }],
        usage: Some(OpenAiUsage::new(resp.usage.input, resp.usage.output, false)),
    };
    Ok(sonic_rs::to_vec(&v).unwrap_or_default())
}

/// Legacy completions stream: the same text in pieces (with log probabilities asked for, a token
/// per chunk, each with its own), the last piece carrying the finish reason. With the stream
/// scenarios of `mock::stream` in the model name (`cutoff`, `unfinished`, `midstream`), half the
/// pieces and then the fault.
pub fn completion_stream_events(
    body: &[u8],
    model: &str,
    chunks: usize,
    include_usage: bool,
) -> Result<CompletionStream, (u16, Vec<u8>)> {
    let (text, resp) = completion_answer(body, model)?;
    let frame = |choices: &[OpenAiTextChoice<'_>], usage| {
        sse(&OpenAiTextCompletion {
            id: &resp.id,
            object: "text_completion",
            created: resp.created,
            model,
            choices,
            usage,
        })
    };
    // (text, its tokens' log probabilities, where its characters start).
    let mut pieces: Vec<(&str, &[crate::canonical::TokenLogprob], usize)> = Vec::new();
    let mut rest = text.as_str();
    let mut offset = 0;
    for (i, t) in resp.logprobs.iter().enumerate() {
        let Some(after) = rest.strip_prefix(t.token.as_str()) else {
            break;
        };
        pieces.push((&t.token, &resp.logprobs[i..=i], offset));
        offset += t.token.chars().count();
        rest = after;
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.extend(split_pieces(rest, chunks).into_iter().map(|p| (p, &[][..], 0)));
    }
    let last = pieces.len() - 1;
    let mut out: Vec<Vec<u8>> = pieces
        .iter()
        .enumerate()
        .map(|(i, (piece, tokens, offset))| {
            let choices = [OpenAiTextChoice {
                text: piece,
                index: 0,
                logprobs: (!tokens.is_empty()).then_some(LegacyLogprobs {
                    tokens,
                    offset: *offset,
                }),
                finish_reason: (i == last).then(|| completion_finish(&resp)),
            }];
            frame(&choices, None)
        })
        .collect();
    if let Some(fault) = StreamFault::of(model) {
        // Half of the text, never its finish; then the fault.
        out.truncate((pieces.len() / 2).max(1).min(last));
        if fault == StreamFault::MidStream {
            let message = "mock mid-stream failure requested by model name";
            let mut error = Vec::new();
            let status = super::stream::midstream_status(model);
            crate::formats::openai::stream::write_stream_error(status, message, &mut error);
            out.push(error);
        }
        return Ok(CompletionStream {
            frames: out,
            body_end: match fault {
                StreamFault::CutOff => BodyEnd::Cut,
                StreamFault::Stall => BodyEnd::Stall,
                StreamFault::Unfinished | StreamFault::MidStream => BodyEnd::Clean,
            },
        });
    }
    if include_usage {
        let usage = OpenAiUsage::new(resp.usage.input, resp.usage.output, false);
        out.push(frame(&[], Some(usage)));
    }
    out.push(b"data: [DONE]\n\n".to_vec());
    Ok(CompletionStream {
        frames: out,
        body_end: BodyEnd::Clean,
    })
}

/// A legacy completions stream ready to send, one write per frame.
pub struct CompletionStream {
    pub frames: Vec<Vec<u8>>,
    pub body_end: BodyEnd,
}

/// The stream fault a legacy completions model name asks for (see `mock::stream`).
#[derive(PartialEq)]
enum StreamFault {
    CutOff,
    Stall,
    Unfinished,
    MidStream,
}

impl StreamFault {
    fn of(model: &str) -> Option<StreamFault> {
        if model.contains("cutoff") {
            Some(StreamFault::CutOff)
        } else if model.contains("stall") {
            Some(StreamFault::Stall)
        } else if model.contains("unfinished") {
            Some(StreamFault::Unfinished)
        } else if model.contains("midstream") {
            Some(StreamFault::MidStream)
        } else {
            None
        }
    }
}

/// Embeddings: a deterministic vector per input (float array or base64 little-endian f32), or
/// the 400 body for no input, an empty one or more than `MAX_EMBED_INPUTS`.
pub fn embeddings(body: &[u8], model: &str) -> Result<Vec<u8>, Vec<u8>> {
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
    // No text, or an empty one, is refused in the words OpenAI uses for an input it will not take.
    if inputs.is_empty() || inputs.iter().any(String::is_empty) {
        let why =
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.";
        return Err(error_body(400, why));
    }
    if inputs.len() > super::MAX_EMBED_INPUTS {
        let why = format!(
            "'$.input' is invalid: at most {} inputs per request",
            super::MAX_EMBED_INPUTS
        );
        return Err(error_body(400, &why));
    }
    let dims = v
        .get("dimensions")
        .and_then(|d| d.as_u64())
        .map_or(super::DEFAULT_EMBED_DIMS, |d| d.clamp(1, 4096) as usize);
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
    Ok(sonic_rs::to_vec(&v).unwrap_or_default())
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
    crate::wire::base64::encode(data)
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
    sonic_rs::to_vec(&OpenAiList { object: "list", data }).unwrap_or_default()
}

/// The Responses API without streaming (streams are answered by `mock::stream::serve`): the
/// chat scenario's answer as a `response` object, or the error OpenAI would send; and its
/// input-token count (`/v1/responses/input_tokens`). The mock
/// stores nothing, so it refuses what continues a stored response, as Sluice does.
pub fn serve_responses(method: crate::http::Method, path: &str, body: &[u8]) -> Option<super::MockReply> {
    use crate::formats::openai::responses;
    let count = match path {
        "/v1/responses" | "/responses" => false,
        "/v1/responses/input_tokens" | "/responses/input_tokens" => true,
        _ => return None,
    };
    let reply = |status: u16, body: Vec<u8>| super::MockReply {
        status,
        content_type: "application/json",
        headers: vec![("x-request-id", next_id("req_mock"))],
        body,
    };
    if method != crate::http::Method::Post {
        return Some(reply(405, error_body(405, "use POST")));
    }
    let rules = match count {
        true => |f, r: &_, _: &[u8]| super::upstream_rules(f, r),
        false => super::chat_rules,
    };
    // The echo is read in the decoder's pass, as the gateway does (not `Echo::of` after it).
    let (req, echo) = match responses::decode_request_and_echo(body)
        .and_then(|(r, echo)| rules(crate::formats::Format::OpenAi, &r, body).map(|()| (r, echo)))
    {
        Ok(read) => read,
        Err(e) => {
            let body = crate::formats::openai::error_body(&e.message, "invalid_request_error", Some(&e.field), None);
            return Some(reply(400, body.to_vec()));
        }
    };
    if count {
        // What a response to the same request would report as its input.
        return Some(match super::scenario::count_tokens(&req) {
            Ok(n) => reply(
                200,
                crate::formats::count::encode_response(crate::formats::Format::OpenAi, n),
            ),
            Err(fault) => reply(fault.status, error_body(fault.status, &fault.message)),
        });
    }
    Some(
        match super::scenario::respond_as(&req, &next_id("mock"), crate::formats::Format::OpenAi) {
            Ok(mut resp) => {
                resp.created = super::unix_now();
                reply(200, responses::encode_response(&resp, &echo))
            }
            Err(fault) => reply(fault.status, error_body(fault.status, &fault.message)),
        },
    )
}

/// OpenAI's 400 for a refused request, naming the field in `param` as OpenAI does.
fn refusal_body(e: &crate::canonical::ConvertError) -> Vec<u8> {
    let param = Some(e.field.as_str()).filter(|f| !f.is_empty());
    crate::formats::openai::error_body(&e.to_string(), "invalid_request_error", param, None).to_vec()
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

    #[test]
    fn embeddings_refuse_more_inputs_than_the_api_takes() {
        let inputs = |n: usize| {
            format!(
                r#"{{"model":"m","input":{}}}"#,
                sonic_rs::to_string(&vec!["a"; n]).unwrap()
            )
        };
        let ok = embeddings(inputs(super::super::MAX_EMBED_INPUTS).as_bytes(), "m").unwrap();
        let v: sonic_rs::Value = sonic_rs::from_slice(&ok).unwrap();
        assert_eq!(v.get("data").and_then(|d| d.as_array()).map(|d| d.len()), Some(2048));
        let err = embeddings(inputs(2049).as_bytes(), "m").unwrap_err();
        assert!(String::from_utf8_lossy(&err).contains("at most 2048 inputs"));
    }

    use super::*;

    /// No text to embed is OpenAI's 400, not a vector of nothing.
    #[test]
    fn embeddings_refuse_empty_input() {
        for input in [r#""""#, "[]", r#"["a",""]"#] {
            let err = embeddings(format!(r#"{{"model":"m","input":{input}}}"#).as_bytes(), "m").unwrap_err();
            assert!(
                String::from_utf8_lossy(&err).contains("'$.input' is invalid"),
                "{input}"
            );
        }
    }

    /// The bounds Chat Completions checks first, refused with OpenAI's `param` and `code`; a
    /// system message alone and 4 stop sequences are fine.
    #[test]
    fn chat_refuses_out_of_bounds_fields() {
        let outcome = |extra: &str, messages: &str| {
            let body = format!(r#"{{"model":"m","messages":{messages}{extra}}}"#);
            match chat(body.as_bytes(), None) {
                ChatOutcome::Answer(_) => (200, sonic_rs::Value::default()),
                ChatOutcome::Error { status, body } => (status, sonic_rs::from_slice(&body).unwrap()),
            }
        };
        let user = r#"[{"role":"user","content":"hi"}]"#;
        assert_eq!(outcome(r#","stop":["a","b","c","d"],"max_tokens":1"#, user).0, 200);
        assert_eq!(outcome("", r#"[{"role":"system","content":"hi"}]"#).0, 200);
        for (extra, messages, param, code) in [
            ("", "[]", "messages", "empty_array"),
            (r#","max_tokens":0"#, user, "max_tokens", "integer_below_min_value"),
            (
                r#","max_completion_tokens":0"#,
                user,
                "max_completion_tokens",
                "integer_below_min_value",
            ),
            (
                r#","stop":["a","b","c","d","e"]"#,
                user,
                "stop",
                "array_above_max_length",
            ),
        ] {
            let (status, v) = outcome(extra, messages);
            assert_eq!(status, 400, "{extra}");
            assert_eq!(v.pointer(["error", "param"]).and_then(|p| p.as_str()), Some(param));
            assert_eq!(v.pointer(["error", "code"]).and_then(|c| c.as_str()), Some(code));
            assert_eq!(
                v.pointer(["error", "type"]).and_then(|t| t.as_str()),
                Some("invalid_request_error")
            );
        }
    }

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
        let ChatOutcome::Answer(resp) = chat(body, None) else {
            panic!("scenario failed")
        };
        let events = chat_stream_events(&resp, 3, true);
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

    #[test]
    fn the_usage_chunk_keeps_cached_and_reasoning_tokens() {
        let body = br#"{"model":"reasoning-cached-model","messages":[{"role":"user","content":"hi there"}]}"#;
        let ChatOutcome::Answer(resp) = chat(body, None) else {
            panic!("scenario failed")
        };
        let events = chat_stream_events(&resp, 3, true);
        let usage_chunk = &events[events.len() - 2];
        let v: sonic_rs::Value = sonic_rs::from_slice(&usage_chunk[6..usage_chunk.len() - 2]).unwrap();
        let at = |p: &[&str]| v.pointer(p).and_then(|n| n.as_u64());
        assert_eq!(at(&["usage", "prompt_tokens_details", "cached_tokens"]), Some(20));
        assert_eq!(at(&["usage", "completion_tokens_details", "reasoning_tokens"]), Some(5));
    }

    #[test]
    fn tool_call_deltas_name_once_and_index_always() {
        let body = br#"{"model":"tool-model","messages":[{"role":"user","content":"w?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}"#;
        let ChatOutcome::Answer(resp) = chat(body, None) else {
            panic!("scenario failed")
        };
        let events = chat_stream_events(&resp, 2, false);
        let all: String = events.iter().map(|e| String::from_utf8_lossy(e).to_string()).collect();
        assert_eq!(all.matches("\"name\":\"get_weather\"").count(), 1, "{all}");
        assert_eq!(all.matches("\"id\":\"call_mock_0\"").count(), 1, "{all}");
        assert!(all.contains("\"finish_reason\":\"tool_calls\""), "{all}");
    }

    #[test]
    fn tool_messages_pair_with_tool_calls_as_openai_requires() {
        let calls = r#"{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"c2","type":"function","function":{"name":"f","arguments":"{}"}}]}"#;
        let tool = |id: &str| format!(r#"{{"role":"tool","tool_call_id":"{id}","content":"ok"}}"#);
        let user = r#"{"role":"user","content":"go"}"#;
        let outcome = |msgs: &[&str]| {
            let body = format!(r#"{{"model":"m","messages":[{user},{}]}}"#, msgs.join(","));
            match chat(body.as_bytes(), None) {
                ChatOutcome::Answer(_) => (200, String::new()),
                ChatOutcome::Error { status, body } => (status, String::from_utf8_lossy(&body).into_owned()),
            }
        };
        let (t1, t2) = (tool("c1"), tool("c2"));
        assert_eq!(outcome(&[calls, &t1, &t2]).0, 200);
        assert_eq!(outcome(&[calls, &t2, &t1, user]).0, 200);
        for (msgs, says) in [
            (vec![calls, &t1], "did not have response messages: c2"),
            (vec![calls, user, &t1, &t2], "did not have response messages: c1, c2"),
            (
                vec![&t1],
                "must be a response to a preceeding message with 'tool_calls'",
            ),
        ] {
            let (code, body) = outcome(&msgs);
            assert_eq!(code, 400, "{body}");
            assert!(body.contains(says) && body.contains("invalid_request_error"), "{body}");
        }
    }

    #[test]
    fn tool_images_are_taken_in_the_user_message_after_the_tool_messages_only() {
        // As the API: a user message with images may follow the tool messages (the gateway puts
        // a tool's screenshot there), a tool message holds a string or text parts only.
        let calls = r#"{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}"#;
        let image = r#"{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}}"#;
        let run = |tail: String| {
            let body =
                format!(r#"{{"model":"image-model","messages":[{{"role":"user","content":"go"}},{calls},{tail}]}}"#);
            match chat(body.as_bytes(), None) {
                ChatOutcome::Answer(r) => Ok(r.content),
                ChatOutcome::Error { status, body } => Err((status, String::from_utf8_lossy(&body).into_owned())),
            }
        };
        let after = format!(
            r#"{{"role":"tool","tool_call_id":"c1","content":"shot"}},{{"role":"user","content":[{{"type":"text","text":"Result of tool call c1:"}},{image}]}}"#
        );
        assert_eq!(run(after), Ok(vec![Part::text("I see 1 image")]));
        let inside = format!(r#"{{"role":"tool","tool_call_id":"c1","content":[{image}]}}"#);
        let (status, body) = run(inside).unwrap_err();
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("messages[2].content[0].type"), "{body}");
    }
}
