//! The Cohere wire format as the mock upstream speaks it: `POST /v2/chat`, `/v1/chat`, `/v2/embed`,
//! `/v1/embed`, `/v2/rerank` and `/v1/rerank` (also under `/cohere`). Chat goes decode_request -> `scenario::respond` -> encode_response,
//! so it gives the same answers as every other format's mock; embeddings are the deterministic
//! vectors of `mock::openai::embed` in Cohere's `embeddings_by_type` shape; rerank scores are
//! `mock::rerank`'s, in the v1 or v2 answer.

use super::MockReply;
use crate::canonical::{ChatRequest, ConvertError, FaultKind, Part, Role, UpstreamFault};
use crate::formats::cohere;
use crate::http::Method;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(super) fn next_id() -> String {
    cohere::uuid_like(NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

enum Route {
    Chat,
    /// v1 chat (`cohere.Client`): its own request, answer and JSON-lines stream.
    ChatV1,
    Embed {
        v1: bool,
    },
    Rerank {
        v1: bool,
    },
}

/// Answers a Cohere request if `path` is a Cohere route (streams through `mock::stream`); None
/// otherwise.
pub fn serve(method: Method, path: &str, body: &[u8]) -> Option<MockReply> {
    let route = match path {
        "/v2/chat" | "/cohere/v2/chat" => Route::Chat,
        "/v1/chat" | "/cohere/v1/chat" => Route::ChatV1,
        "/v2/embed" | "/cohere/v2/embed" => Route::Embed { v1: false },
        "/v1/embed" | "/cohere/v1/embed" => Route::Embed { v1: true },
        "/v2/rerank" | "/cohere/v2/rerank" => Route::Rerank { v1: false },
        "/v1/rerank" | "/cohere/v1/rerank" => Route::Rerank { v1: true },
        _ => return None,
    };
    if method != Method::Post {
        return Some(fault(405, format!("{path} takes POST")));
    }
    Some(match route {
        Route::Chat => chat(body),
        Route::ChatV1 => chat_v1(body),
        Route::Embed { v1 } => embed(body, v1),
        Route::Rerank { v1 } => rerank(body, v1),
    })
}

fn fault(status: u16, message: String) -> MockReply {
    let reply = cohere::encode_error(&UpstreamFault {
        status,
        kind: FaultKind::from_status(status),
        message,
    });
    MockReply {
        status: reply.status,
        content_type: reply.content_type,
        headers: reply.headers,
        body: reply.body,
    }
}

fn ok(body: Vec<u8>) -> MockReply {
    MockReply {
        status: 200,
        content_type: "application/json",
        headers: Vec::new(),
        body,
    }
}

fn chat(body: &[u8]) -> MockReply {
    let decoded = cohere::decode_request(body, None, false)
        .and_then(|r| super::upstream_rules(crate::formats::Format::Cohere, &r).map(|()| r));
    let req = match decoded {
        Ok(r) => r,
        Err(e) => return fault(400, format!("invalid request: {e}")),
    };
    if req.stream {
        return super::stream::serve_whole(crate::http::Method::Post, "/v2/chat", body)
            .unwrap_or_else(|| fault(500, "stream route not recognised".into()));
    }
    match super::scenario::respond(&req, &next_id()) {
        Ok(resp) => ok(cohere::encode_response(&resp)),
        Err(f) => fault(f.status, f.message),
    }
}

/// The v2 chat rules of Cohere's API that a translation can break (`upstream_rules`), which the
/// mock's decoder alone would take: a turn that calls tools has its text in `tool_plan`, never
/// in `content` (thinking items may stay; the real API's 400 has these words, vercel/ai#5794;
/// indices here are the canonical turn's and part's), and a thinking `token_budget` is positive
/// (SDK `types/thinking.py`; no thinking is `{"type":"disabled"}`).
pub(super) fn cohere_rules(req: &ChatRequest) -> Result<(), ConvertError> {
    sampling_bounds(req)?;
    if req.reasoning.as_ref().is_some_and(|r| r.budget_tokens == Some(0)) {
        return Err(ConvertError::new("thinking.token_budget", "must be a positive integer"));
    }
    for (i, m) in req.messages.iter().enumerate() {
        let calls = m.content.iter().any(|p| matches!(p, Part::ToolCall { .. }));
        if m.role != Role::Assistant || !calls {
            continue;
        }
        let text = m
            .content
            .iter()
            .position(|p| matches!(p, Part::Text { text, extra } if !text.is_empty() && !cohere::is_tool_plan(extra)));
        if let Some(j) = text {
            return Err(ConvertError::new(
                "",
                format!(
                    "text content is not allowed when tool_calls are provided. If you wish to pass a tool plan, \
                     either pass thinking content (with thinking enabled) or use 'tool_plan': 'messages[{i}].content[{j}]'"
                ),
            ));
        }
    }
    Ok(())
}

/// The bounds of Cohere's sampling settings (SDK `v2/raw_client.py`: `p` 0.01 to 0.99, `k` 0 to
/// 500, penalties 0 to 1), which other formats set wider (OpenAI's `top_p` of 1, its penalties
/// from -2). Worded as Cohere's documented "temperature must be between 0 and 1.0 inclusive".
fn sampling_bounds(req: &ChatRequest) -> Result<(), ConvertError> {
    use crate::formats::cohere::request::{MAX_K, PENALTY_RANGE, P_RANGE};
    let checks = [
        ("p", req.top_p, P_RANGE),
        ("frequency_penalty", req.frequency_penalty, PENALTY_RANGE),
        ("presence_penalty", req.presence_penalty, PENALTY_RANGE),
    ];
    for (name, v, (lo, hi)) in checks {
        if v.is_some_and(|x| !(lo..=hi).contains(&x)) {
            return Err(ConvertError::new(
                name,
                format!("{name} must be between {lo} and {hi} inclusive."),
            ));
        }
    }
    if req.top_k.is_some_and(|k| k > MAX_K) {
        return Err(ConvertError::new(
            "k",
            format!("k must be between 0 and {MAX_K} inclusive."),
        ));
    }
    Ok(())
}

/// A v1 chat body without its `documents`: the API grounds its answer on them (which the mock
/// need not), and the gateway's decoder refuses them as Cohere's own RAG. `body` itself when it
/// has none.
pub(crate) fn without_documents(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    use sonic_rs::JsonValueMutTrait;
    use std::borrow::Cow;
    if !body.windows(11).any(|w| w == b"\"documents\"") {
        return Cow::Borrowed(body);
    }
    let Ok(mut v) = sonic_rs::from_slice::<sonic_rs::Value>(body) else {
        return Cow::Borrowed(body);
    };
    match v.as_object_mut().and_then(|o| o.remove(&"documents")) {
        Some(_) => Cow::Owned(sonic_rs::to_vec(&v).unwrap_or_else(|_| body.to_vec())),
        None => Cow::Borrowed(body),
    }
}

/// `/v1/chat`: the same scenarios, in v1's request and answer (a stream: JSON lines). v2's
/// `upstream_rules` do not apply: a v1 CHATBOT item has its text beside its `tool_calls`.
fn chat_v1(body: &[u8]) -> MockReply {
    use cohere::v1chat;
    let body = &*without_documents(body);
    let decoded = v1chat::decode_request(body);
    let req = match decoded {
        Ok(r) => r,
        Err(e) => return fault(400, format!("invalid request: {e}")),
    };
    if req.stream {
        return super::stream::serve_whole(crate::http::Method::Post, "/v1/chat", body)
            .unwrap_or_else(|| fault(500, "stream route not recognised".into()));
    }
    match super::scenario::respond(&req, &next_id()) {
        Ok(resp) => ok(v1chat::encode_response(&resp, &v1chat::History::of(body))),
        Err(f) => fault(f.status, f.message),
    }
}

/// The `/v2/embed` request fields the mock reads (also Bedrock's Cohere InvokeModel body).
#[derive(Deserialize, Default)]
pub(super) struct EmbedRequest {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    pub(super) texts: Option<Vec<String>>,
    #[serde(default)]
    images: Option<Vec<String>>,
    #[serde(default)]
    inputs: Option<Vec<EmbedInput>>,
    #[serde(default)]
    output_dimension: Option<usize>,
    #[serde(default)]
    pub(super) embedding_types: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
struct EmbedInput {
    #[serde(default)]
    content: Vec<EmbedInputItem>,
}

#[derive(Deserialize, Default)]
struct EmbedInputItem {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    image_url: Option<EmbedImageUrl>,
}

#[derive(Deserialize, Default)]
struct EmbedImageUrl {
    #[serde(default)]
    url: String,
}

/// `embeddings`: one array per requested type, each as long as the inputs.
#[derive(Serialize, Default)]
pub(super) struct EmbeddingsOut {
    #[serde(rename = "float", skip_serializing_if = "Option::is_none")]
    float: Option<Vec<Vec<f32>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    int8: Option<Vec<Vec<i8>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uint8: Option<Vec<Vec<u8>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binary: Option<Vec<Vec<i8>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ubinary: Option<Vec<Vec<u8>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base64: Option<Vec<String>>,
}

#[derive(Serialize)]
struct ApiVersion {
    version: &'static str,
}

#[derive(Serialize)]
struct BilledUnits {
    input_tokens: u64,
}

#[derive(Serialize)]
struct Meta {
    api_version: ApiVersion,
    billed_units: BilledUnits,
}

/// An `EmbedByTypeResponse` (cohere SDK `types/embed_by_type_response.py`).
#[derive(Serialize)]
struct EmbedResponse<'a> {
    id: String,
    embeddings: EmbeddingsOut,
    texts: &'a [String],
    meta: Meta,
    response_type: &'static str,
}

/// v1's `EmbedFloatsResponse` (cohere SDK `types/embed_floats_response.py`): the vectors as a
/// bare list.
#[derive(Serialize)]
struct EmbedFloatsResponse<'a> {
    id: String,
    embeddings: &'a [Vec<f32>],
    texts: &'a [String],
    meta: Meta,
    response_type: &'static str,
}

/// Packs the sign bits of `v` (1 for positive), 8 per byte, most significant first.
fn sign_bits(v: &[f32]) -> Vec<u8> {
    v.chunks(8)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u8, |b, (i, x)| if *x > 0.0 { b | (0x80 >> i) } else { b })
        })
        .collect()
}

impl EmbedRequest {
    /// The texts to embed, in order: `texts`, then `images`, then each of `inputs` (its text and
    /// image parts joined with a space).
    pub(super) fn inputs(&self) -> Vec<String> {
        let mut out: Vec<String> = self.texts.clone().unwrap_or_default();
        out.extend(self.images.iter().flatten().cloned());
        for input in self.inputs.iter().flatten() {
            let parts: Vec<&str> = input
                .content
                .iter()
                .filter_map(|c| c.text.as_deref().or(c.image_url.as_ref().map(|u| u.url.as_str())))
                .collect();
            out.push(parts.join(" "));
        }
        out
    }
}

/// The `embeddings` object for `types` (float when empty), or the type Cohere would refuse.
pub(super) fn embeddings_by_type(vectors: &[Vec<f32>], types: &[String]) -> Result<EmbeddingsOut, String> {
    let mut out = EmbeddingsOut::default();
    if types.is_empty() {
        out.float = Some(vectors.to_vec());
    }
    for t in types {
        match t.as_str() {
            "float" => out.float = Some(vectors.to_vec()),
            "int8" => {
                out.int8 = Some(
                    vectors
                        .iter()
                        .map(|v| v.iter().map(|x| (x * 127.0).round() as i8).collect())
                        .collect(),
                )
            }
            "uint8" => {
                out.uint8 = Some(
                    vectors
                        .iter()
                        .map(|v| v.iter().map(|x| ((x + 1.0) * 127.5).round() as u8).collect())
                        .collect(),
                )
            }
            "binary" => {
                out.binary = Some(
                    vectors
                        .iter()
                        .map(|v| sign_bits(v).iter().map(|b| (*b as i16 - 128) as i8).collect())
                        .collect(),
                )
            }
            "ubinary" => out.ubinary = Some(vectors.iter().map(|v| sign_bits(v)).collect()),
            "base64" => {
                out.base64 = Some(
                    vectors
                        .iter()
                        .map(|v| {
                            let raw: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                            super::openai::b64(&raw)
                        })
                        .collect(),
                )
            }
            other => return Err(format!("unknown embedding type {other:?}")),
        }
    }
    Ok(out)
}

/// `/v2/embed`, or `/v1/embed` (`v1`): the same vectors; v1 answers `embeddings_floats` (a bare
/// list of float vectors) when the body names no `embedding_types`, else `embeddings_by_type` as
/// v2 always does.
fn embed(body: &[u8], v1: bool) -> MockReply {
    let req: EmbedRequest = match sonic_rs::from_slice(body) {
        Ok(r) => r,
        Err(e) => return fault(400, format!("invalid request: {e}")),
    };
    let model = req.model.clone().unwrap_or_default();
    if let super::Scenario::Error(status) = super::Scenario::from_model(&model) {
        return fault(status, format!("mock error {status} requested by model name"));
    }
    let inputs = req.inputs();
    if inputs.is_empty() {
        return fault(
            400,
            "invalid request: one of texts, images or inputs is required".into(),
        );
    }
    let most = crate::formats::cohere::embed::MAX_TEXTS_PER_CALL;
    if inputs.len() > most {
        // NOTE: the limit is Cohere's; the wording is modelled.
        return fault(
            400,
            format!(
                "invalid request: at most {most} texts per request, received {}",
                inputs.len()
            ),
        );
    }
    let dims = req.output_dimension.unwrap_or(super::DEFAULT_EMBED_DIMS).clamp(1, 4096);
    let vectors: Vec<Vec<f32>> = inputs.iter().map(|t| super::openai::embed(t, dims)).collect();
    let out = match embeddings_by_type(&vectors, req.embedding_types.as_deref().unwrap_or_default()) {
        Ok(out) => out,
        Err(e) => return fault(400, format!("invalid request: {e}")),
    };
    let tokens: u64 = inputs.iter().map(|t| super::word_count(t).max(1) as u64).sum();
    let texts = req.texts.unwrap_or_default();
    let meta = Meta {
        api_version: ApiVersion {
            version: if v1 { "1" } else { "2" },
        },
        billed_units: BilledUnits { input_tokens: tokens },
    };
    if v1 && req.embedding_types.is_none() {
        let resp = EmbedFloatsResponse {
            id: next_id(),
            embeddings: &vectors,
            texts: &texts,
            meta,
            response_type: "embeddings_floats",
        };
        return ok(sonic_rs::to_vec(&resp).unwrap_or_default());
    }
    let resp = EmbedResponse {
        id: next_id(),
        embeddings: out,
        texts: &texts,
        meta,
        response_type: "embeddings_by_type",
    };
    ok(sonic_rs::to_vec(&resp).unwrap_or_default())
}

/// `/v1/rerank` or `/v2/rerank`: the shared scores in the version's answer, after the checks
/// the real API makes (Cohere's own settings, such as v1 `max_chunks_per_doc`, are taken).
fn rerank(body: &[u8], v1: bool) -> MockReply {
    let req = match crate::formats::rerank::decode_request(crate::formats::Format::Cohere, body, None, v1, false) {
        Ok(r) => r,
        Err(e) => return fault(400, format!("invalid request: {e}")),
    };
    if let super::Scenario::Error(status) = super::Scenario::from_model(&req.model) {
        return fault(status, format!("mock error {status} requested by model name"));
    }
    if let Err(why) = super::rerank::validate(&req) {
        return fault(400, format!("invalid request: {why}"));
    }
    let resp = crate::canonical::rerank::RerankResponse {
        id: next_id(),
        results: super::rerank::rank(&req.query, &req.documents, req.top_n),
        search_units: Some(crate::formats::rerank::search_units(req.documents.len())),
    };
    ok(crate::formats::rerank::encode_response(&resp, &req))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::Json;
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};

    fn post(path: &str, body: &str) -> (u16, Json) {
        let r = serve(Method::Post, path, body.as_bytes()).expect("a Cohere route");
        assert_eq!(r.content_type, "application/json");
        (r.status, sonic_rs::from_slice(&r.body).unwrap())
    }

    #[test]
    fn sampling_settings_outside_cohere_bounds_are_refused() {
        let body = |field: &str| {
            format!(r#"{{"model":"command-a","messages":[{{"role":"user","content":"hi"}}],{field},"stream":false}}"#)
        };
        for (field, name) in [
            (r#""p":1.0"#, "p"),
            (r#""k":501"#, "k"),
            (r#""presence_penalty":-0.5"#, "presence_penalty"),
            (r#""frequency_penalty":1.5"#, "frequency_penalty"),
        ] {
            let (status, v) = post("/cohere/v2/chat", &body(field));
            assert_eq!(status, 400, "{field}");
            let msg = v.get("message").and_then(|m| m.as_str()).unwrap_or_default();
            assert!(msg.contains(&format!("{name} must be between")), "{field}: {msg}");
        }
        let (status, _) = post("/cohere/v2/chat", &body(r#""p":0.99,"k":500,"presence_penalty":0"#));
        assert_eq!(status, 200);
    }

    #[test]
    fn only_cohere_paths_are_served() {
        assert!(serve(Method::Post, "/v1/chat/completions", b"{}").is_none());
        assert!(serve(Method::Post, "/v2/chatx", b"{}").is_none());
        assert_eq!(serve(Method::Get, "/v2/chat", b"").unwrap().status, 405);
    }

    #[test]
    fn chat_echoes_through_the_shared_scenarios() {
        let (status, v) = post(
            "/cohere/v2/chat",
            r#"{"model":"command-a","messages":[{"role":"system","content":"Be brief"},{"role":"user","content":"hello there"}],"stream":false}"#,
        );
        assert_eq!(status, 200);
        assert_eq!(
            v.pointer(&sonic_rs::pointer!["message", "content", 0, "text"])
                .and_then(|t| t.as_str()),
            Some("echo: hello there")
        );
        assert_eq!(v.get("finish_reason").and_then(|f| f.as_str()), Some("COMPLETE"));
        assert_eq!(
            v.pointer(&["usage", "tokens", "input_tokens"]).and_then(|t| t.as_u64()),
            Some(4)
        );
    }

    #[test]
    fn errors_streams_and_bad_bodies_use_cohere_error_shape() {
        let (status, v) = post("/v2/chat", r#"{"model":"error-429","messages":[]}"#);
        assert_eq!(status, 429);
        assert!(v.get("message").and_then(|m| m.as_str()).is_some());
        assert!(v.get("id").is_some());
        let r = serve(
            Method::Post,
            "/v2/chat",
            br#"{"model":"m","messages":[],"stream":true}"#,
        )
        .unwrap();
        assert_eq!((r.status, r.content_type), (200, "text/event-stream"));
        assert!(r.body.starts_with(b"event: message-start\n"));
        let (status, v) = post("/v2/chat", r#"{"model":"m","messages":[{"role":"bot"}]}"#);
        assert_eq!(status, 400);
        assert!(v
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap()
            .contains("messages[0].role"));
    }

    #[test]
    fn text_content_beside_tool_calls_is_refused_as_cohere_does() {
        let history = |assistant: &str| {
            format!(
                r#"{{"model":"m","messages":[{{"role":"user","content":"weather?"}},{assistant},
                {{"role":"tool","tool_call_id":"c1","content":"sunny"}}]"#
            )
        };
        let call = r#""tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]"#;
        for content in [r#""Let me check.""#, r#"[{"type":"text","text":"Let me check."}]"#] {
            let refused = history(&format!(r#"{{"role":"assistant","content":{content},{call}}}"#));
            for stream in ["false", "true"] {
                let (status, v) = post("/v2/chat", &format!(r#"{refused},"stream":{stream}}}"#));
                assert_eq!(status, 400, "{content} stream {stream}");
                let m = v.get("message").and_then(|m| m.as_str()).unwrap();
                assert!(
                    m.starts_with("invalid request: text content is not allowed when tool_calls are provided"),
                    "{m}"
                );
                assert!(m.ends_with("'messages[1].content[0]'"), "{m}");
            }
        }
        // The plan in `tool_plan`, thinking beside the calls: taken.
        let planned = history(&format!(
            r#"{{"role":"assistant","tool_plan":"Let me check.","content":[{{"type":"thinking","thinking":"hm"}}],{call}}}"#
        ));
        assert_eq!(post("/v2/chat", &format!("{planned}}}")).0, 200);
        // v1 history items carry their text beside their calls.
        let v1 = r#"{"model":"m","message":"","chat_history":[{"role":"USER","message":"weather?"},
            {"role":"CHATBOT","message":"Let me check.","tool_calls":[{"name":"f","parameters":{}}]}],
            "tool_results":[{"call":{"name":"f","parameters":{}},"outputs":[{"w":"sunny"}]}]}"#;
        assert_eq!(post("/v1/chat", v1).0, 200);
        let streamed = v1.replacen(r#""message":"","#, r#""message":"","stream":true,"#, 1);
        assert_eq!(
            serve(Method::Post, "/v1/chat", streamed.as_bytes()).unwrap().status,
            200
        );
    }

    /// v1's grounding `documents` are answered (the mock need not ground), streamed or not.
    #[test]
    fn v1_chat_with_documents_is_answered() {
        let body = r#"{"model":"m","message":"hello there","documents":[{"title":"t","snippet":"s"}]}"#;
        let (status, v) = post("/v1/chat", body);
        assert_eq!((status, v["text"].as_str()), (200, Some("echo: hello there")));
        let streamed = body.replacen(r#""model":"m","#, r#""model":"m","stream":true,"#, 1);
        let r = serve(Method::Post, "/v1/chat", streamed.as_bytes()).unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }

    #[test]
    fn a_zero_thinking_budget_is_refused_as_cohere_does() {
        let body = |thinking: &str| {
            format!(r#"{{"model":"m","messages":[{{"role":"user","content":"hi"}}],"thinking":{thinking}}}"#)
        };
        let (status, v) = post("/v2/chat", &body(r#"{"type":"enabled","token_budget":0}"#));
        assert_eq!(status, 400);
        assert!(
            v["message"].as_str().unwrap().contains("thinking.token_budget"),
            "{v:?}"
        );
        assert_eq!(post("/v2/chat", &body(r#"{"type":"disabled"}"#)).0, 200);
        assert_eq!(post("/v2/chat", &body(r#"{"type":"enabled","token_budget":1}"#)).0, 200);
    }

    #[test]
    fn embeddings_by_type() {
        let (status, v) = post(
            "/v2/embed",
            r#"{"model":"embed-v4.0","texts":["one two","three"],"input_type":"search_document","embedding_types":["float","ubinary"],"output_dimension":16}"#,
        );
        assert_eq!(status, 200);
        assert_eq!(
            v.get("response_type").and_then(|t| t.as_str()),
            Some("embeddings_by_type")
        );
        let floats = v.pointer(&["embeddings", "float"]).unwrap().as_array().unwrap();
        assert_eq!(floats.len(), 2);
        let first: Vec<f64> = floats[0]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let expect = crate::mock::openai::embed("one two", 16);
        assert_eq!(first.len(), 16);
        for (a, b) in first.iter().zip(expect) {
            assert!((a - b as f64).abs() < 1e-6);
        }
        assert_eq!(
            v.pointer(&sonic_rs::pointer!["embeddings", "ubinary", 0])
                .and_then(|b| b.as_array())
                .map(|b| b.len()),
            Some(2)
        );
        assert_eq!(
            v.pointer(&["meta", "billed_units", "input_tokens"])
                .and_then(|t| t.as_u64()),
            Some(3)
        );
        let (status, _) = post("/v2/embed", r#"{"model":"error-500","texts":["a"]}"#);
        assert_eq!(status, 500);
        let (status, _) = post("/v2/embed", r#"{"model":"e","texts":["a"],"embedding_types":["nope"]}"#);
        assert_eq!(status, 400);
    }

    #[test]
    fn rerank_in_both_versions_with_the_shared_scores() {
        let (status, v) = post(
            "/cohere/v2/rerank",
            r#"{"model":"rerank-v3.5","query":"capital of France","documents":["Berlin","Paris is the capital of France"],"top_n":1}"#,
        );
        assert_eq!(status, 200);
        let results = v.get("results").unwrap().as_array().unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].get("index").and_then(|i| i.as_u64()), Some(1));
        assert_eq!(
            results[0].get("relevance_score").and_then(|s| s.as_f64()),
            Some(crate::mock::rerank::score(
                "capital of France",
                "Paris is the capital of France"
            ))
        );
        assert_eq!(
            v.pointer(&["meta", "billed_units", "search_units"])
                .and_then(|u| u.as_u64()),
            Some(1)
        );
        assert_eq!(
            v.pointer(&["meta", "api_version", "version"]).and_then(|u| u.as_str()),
            Some("2")
        );
        let (status, v) = post(
            "/v1/rerank",
            r#"{"query":"q","documents":[{"text":"q","id":"1"},"x"],"return_documents":true,"max_chunks_per_doc":3}"#,
        );
        assert_eq!(status, 200);
        assert_eq!(
            v.pointer(&sonic_rs::pointer!["results", 0, "document", "id"])
                .and_then(|d| d.as_str()),
            Some("1")
        );
        assert_eq!(
            v.pointer(&["meta", "api_version", "version"]).and_then(|u| u.as_str()),
            Some("1")
        );
        for body in [
            r#"{"model":"m","query":"q","documents":[]}"#,
            r#"{"model":"m","query":"q","documents":["a"],"top_n":0}"#,
            r#"{"model":"m","documents":["a"]}"#,
            r#"{"model":"m","query":"q","documents":[{"text":"a"}]}"#,
        ] {
            let (status, v) = post("/v2/rerank", body);
            assert_eq!(status, 400, "{body}");
            assert!(v.get("message").and_then(|m| m.as_str()).is_some());
        }
        let many = format!(
            r#"{{"model":"m","query":"q","documents":[{}]}}"#,
            vec!["\"d\""; 1001].join(",")
        );
        assert_eq!(post("/v2/rerank", &many).0, 400);
        assert_eq!(
            post("/v2/rerank", r#"{"model":"error-429","query":"q","documents":["a"]}"#).0,
            429
        );
    }
}
