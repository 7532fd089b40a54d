//! Gemini wire format as the mock speaks it (PROTOCOLS 4.1-4.3, 4.5): the format-independent
//! scenario answer (`scenario::respond`) decoded from and encoded to Gemini.
//!
//! Routes: POST `[/genai]/{v1,v1beta,v1beta1}/models/{model}:generateContent` (and the Vertex
//! shapes `formats::gemini::parse_path` accepts). `:streamGenerateContent` streams through
//! `mock::stream`. Embeddings: `:embedContent`, `:batchEmbedContents` and Vertex's `:predict`,
//! with the vectors of `mock::openai::embed`, so every format's mock agrees on a text's vector.
//! `:countTokens` answers the prompt's count that `:generateContent` reports.

use super::MockReply;
use crate::canonical::{ChatRequest, ConvertError, ErrorReply, FaultKind, ImageSource, Part, Role, UpstreamFault};
use crate::formats::gemini::{self, ApiMethod};
use crate::http::Method;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A `responseId`, for unary answers and streams alike (every chunk of a stream carries its
/// answer's one id, `mock::stream`).
pub(super) fn response_id() -> String {
    format!("mock-gemini-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// Answers a Gemini request if `path` is a Gemini route, else None.
pub fn serve(method: Method, path: &str, body: &[u8]) -> Option<MockReply> {
    if let Some((model, api)) = gemini::parse_route(path).filter(|(_, m)| m.is_embed()) {
        if method != Method::Post {
            return Some(fault(405, FaultKind::InvalidRequest, "method not allowed; use POST"));
        }
        return Some(embed(api, &model, gemini::is_vertex_path(path), body));
    }
    if let Some((model, ApiMethod::CountTokens)) = gemini::parse_route(path) {
        if method != Method::Post {
            return Some(fault(405, FaultKind::InvalidRequest, "method not allowed; use POST"));
        }
        return Some(count_tokens(&model, gemini::is_vertex_path(path), body));
    }
    let (model, stream) = gemini::parse_path(path)?;
    if method != Method::Post {
        return Some(fault(405, FaultKind::InvalidRequest, "method not allowed; use POST"));
    }
    if stream {
        return super::stream::serve_whole(method, path, body);
    }
    let decoded = gemini::decode_request(&stand_ins(body), Some(&model), false)
        .and_then(|r| super::chat_rules(crate::formats::Format::Gemini, &r, body).map(|()| r));
    let req = match decoded {
        Ok(r) => r,
        Err(e) => return Some(fault(400, FaultKind::InvalidRequest, &e.to_string())),
    };
    let id = response_id();
    Some(
        match super::scenario::respond_as(&req, &id, crate::formats::Format::Gemini) {
            Ok(resp) => MockReply {
                status: 200,
                content_type: "application/json; charset=UTF-8",
                headers: Vec::new(),
                body: gemini::encode_response(&resp),
            },
            Err(f) => from_error(gemini::encode_error(&f)),
        },
    )
}

/// The top-level keys of a `:countTokens` body: the Gemini API's `contents` or
/// `generateContentRequest` (one of them), Vertex AI's `contents` with `systemInstruction`,
/// `tools` and `generationConfig` beside it, and `model` (Vertex's body may name it).
const COUNT_KEYS: [&str; 6] = [
    "contents",
    "generateContentRequest",
    "systemInstruction",
    "tools",
    "generationConfig",
    "model",
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModalityTokenCount {
    modality: &'static str,
    token_count: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CountTokensResponse {
    total_tokens: u64,
    prompt_tokens_details: [ModalityTokenCount; 1],
}

/// `:countTokens` for `model`: `{"totalTokens": N, "promptTokensDetails": [...]}`, N what
/// `:generateContent` reports as `usageMetadata.promptTokenCount` for the same contents
/// (`scenario::count_tokens`). The body holds either `contents` (with Vertex's
/// `systemInstruction`, `tools` and `generationConfig` beside it) or a whole
/// `generateContentRequest`, never both; proto3 JSON takes either key spelling and reads an empty
/// list as unset.
///
/// Each API takes only its own form: the Gemini API has no `systemInstruction`, `tools` or
/// `generationConfig` beside `contents` (google-genai refuses them there), and Vertex has no
/// `generateContentRequest`.
fn count_tokens(model: &str, vertex: bool, body: &[u8]) -> MockReply {
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};
    let invalid = |message: String| fault(400, FaultKind::InvalidRequest, &message);
    let v: sonic_rs::Value = match sonic_rs::from_slice(body) {
        Ok(v) => v,
        Err(e) => return invalid(format!("Invalid JSON payload received. {e}")),
    };
    let Some(top) = v.as_object() else {
        return invalid("Invalid JSON payload received. Expected an object.".into());
    };
    let mut contents = false;
    let mut whole = None;
    let mut beside = false;
    for (k, val) in top.iter() {
        let key = gemini::camel(k);
        let other_api = match key.as_ref() {
            "generateContentRequest" => vertex,
            "systemInstruction" | "tools" | "generationConfig" => !vertex,
            _ => false,
        };
        if other_api || !COUNT_KEYS.contains(&key.as_ref()) {
            return invalid(format!(
                "Invalid JSON payload received. Unknown name \"{k}\": Cannot find field."
            ));
        }
        let set = !val.is_null() && val.as_array().is_none_or(|a| !a.is_empty());
        match key.as_ref() {
            "contents" => contents = set,
            "generateContentRequest" if set => whole = Some(val),
            "model" => {}
            _ => beside |= set,
        }
    }
    let decoded = match whole {
        Some(_) if contents || beside => {
            return invalid(
                "* CountTokensRequest: contents and generate_content_request are mutually exclusive; set only one of them.\n"
                    .into(),
            )
        }
        Some(inner) if !inner.is_object() => {
            return invalid("Invalid JSON payload received. generate_content_request: expected an object.".into())
        }
        Some(inner) => gemini::decode_request(&stand_ins(&sonic_rs::to_vec(inner).unwrap_or_default()), Some(model), false),
        None if !contents => {
            return invalid("* CountTokensRequest: one of contents or generate_content_request must be set.\n".into())
        }
        None => gemini::decode_request(&stand_ins(body), Some(model), false),
    };
    let req = match decoded.and_then(|r| super::upstream_rules(crate::formats::Format::Gemini, &r).map(|()| r)) {
        Ok(r) => r,
        Err(e) => return invalid(e.to_string()),
    };
    match super::scenario::count_tokens(&req) {
        Ok(n) => json_ok(&CountTokensResponse {
            total_tokens: n,
            prompt_tokens_details: [ModalityTokenCount {
                modality: "TEXT",
                token_count: n,
            }],
        }),
        Err(f) => from_error(gemini::encode_error(&f)),
    }
}

/// A generateContent body with stand-ins (`mock::with_stand_ins`) for audio and video parts
/// (inline or by file): an image.
pub(crate) fn stand_ins(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    fn lists(v: &mut sonic_rs::Value) -> Vec<&mut sonic_rs::Value> {
        super::nested_lists(v, "contents", "parts")
    }
    fn stand_in(part: &sonic_rs::Value) -> Option<sonic_rs::Value> {
        use sonic_rs::JsonValueTrait;
        let data = ["inlineData", "inline_data", "fileData", "file_data"]
            .iter()
            .find_map(|k| part.get(k))?;
        let mime = data.get("mimeType").or_else(|| data.get("mime_type"))?.as_str()?;
        (mime.starts_with("audio/") || mime.starts_with("video/"))
            .then(|| sonic_rs::json!({"inlineData": {"mimeType": "image/png", "data": super::STAND_IN_PNG}}))
    }
    super::with_stand_ins(body, &[b"audio/", b"video/"], lists, stand_in)
}

/// The Gemini API's rules on `contents` that a translation can break, in its words: some content
/// (`contents: []` is "not specified"), no content without parts, a turn of function responses
/// answers every function call of the model turn before it (the 400 quoted in
/// google-gemini/gemini-cli#4217 and #16415), and an inline image's `mimeType` is a registered
/// one (`image/jpg`, which OpenAI data URLs take, is "Unsupported MIME type", as quoted in
/// CherryHQ/cherry-studio#3088).
pub(super) fn gemini_rules(req: &ChatRequest) -> Result<(), ConvertError> {
    if req.messages.is_empty() {
        return Err(ConvertError::new(
            "",
            "* GenerateContentRequest.contents: contents is not specified\n",
        ));
    }
    for (i, m) in req.messages.iter().enumerate() {
        for p in &m.content {
            if let Part::Image {
                source: ImageSource::Base64 { media_type, .. },
                ..
            } = p
            {
                if crate::canonical::image_media_type(media_type) != media_type.as_str() {
                    return Err(ConvertError::new("", format!("Unsupported MIME type: {media_type}")));
                }
            }
        }
        if m.content.is_empty() {
            return Err(ConvertError::new(
                "",
                format!("* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"),
            ));
        }
        let responses = super::result_ids_of(m).len();
        if responses == 0 {
            continue;
        }
        let calls = i
            .checked_sub(1)
            .map(|k| &req.messages[k])
            .filter(|p| p.role == Role::Assistant)
            .map_or(0, |p| super::call_ids_of(p).len());
        if calls != responses {
            return Err(ConvertError::new(
                "",
                "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.",
            ));
        }
    }
    Ok(())
}

/// The values `taskType` takes (google.ai.generativelanguage TaskType); any other is a 400.
const TASK_TYPES: [&str; 9] = [
    "TASK_TYPE_UNSPECIFIED",
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
];

#[derive(Deserialize, Default)]
struct GeminiEmbedPart {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize, Default)]
struct GeminiEmbedContent {
    #[serde(default)]
    parts: Vec<GeminiEmbedPart>,
}

/// The per-content options the mock reads, at the top of a request (Gemini API) or under
/// `embedContentConfig` (Vertex's `embedContent`); `title` and the rest are taken and ignored.
/// Proto3 JSON takes the snake_case names too.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GeminiEmbedConfig {
    #[serde(default, alias = "task_type")]
    task_type: Option<String>,
    #[serde(default, alias = "output_dimensionality")]
    output_dimensionality: Option<i64>,
}

/// One `EmbedContentRequest` (a whole `:embedContent` body, or one of `requests[]`).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GeminiEmbedRequest {
    #[serde(default)]
    content: Option<GeminiEmbedContent>,
    #[serde(default, alias = "task_type")]
    task_type: Option<String>,
    #[serde(default, alias = "output_dimensionality")]
    output_dimensionality: Option<i64>,
    #[serde(default, alias = "embed_content_config")]
    embed_content_config: Option<GeminiEmbedConfig>,
}

#[derive(Deserialize, Default)]
struct GeminiBatchEmbedRequest {
    #[serde(default)]
    requests: Vec<GeminiEmbedRequest>,
}

/// One of Vertex's `instances[]` for a text embedding model.
#[derive(Deserialize, Default)]
struct VertexEmbedInstance {
    #[serde(default)]
    content: Option<String>,
    #[serde(default, alias = "taskType")]
    task_type: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct VertexEmbedParameters {
    #[serde(default, alias = "output_dimensionality")]
    output_dimensionality: Option<i64>,
}

#[derive(Deserialize, Default)]
struct VertexPredictRequest {
    #[serde(default)]
    instances: Vec<VertexEmbedInstance>,
    #[serde(default)]
    parameters: VertexEmbedParameters,
}

#[derive(Serialize)]
struct GeminiEmbedding {
    values: Vec<f32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GeminiUsage {
    prompt_token_count: u64,
    total_token_count: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GeminiEmbedResponse {
    embedding: GeminiEmbedding,
    /// Vertex's `embedContent` only (google-genai reads the token count from it there).
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_metadata: Option<GeminiUsage>,
}

#[derive(Serialize)]
struct GeminiBatchEmbedResponse {
    embeddings: Vec<GeminiEmbedding>,
}

#[derive(Serialize)]
struct VertexStatistics {
    token_count: u64,
    truncated: bool,
}

#[derive(Serialize)]
struct VertexEmbeddings {
    values: Vec<f32>,
    statistics: VertexStatistics,
}

#[derive(Serialize)]
struct VertexPrediction {
    embeddings: VertexEmbeddings,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VertexMetadata {
    billable_character_count: u64,
}

#[derive(Serialize)]
struct VertexPredictResponse {
    predictions: Vec<VertexPrediction>,
    metadata: VertexMetadata,
}

/// A text and its dimensions, checked as the API checks them; Err is the 400's message.
struct EmbedInput {
    text: String,
    dims: usize,
}

fn check_task_type(task_type: Option<&str>, at: &str, proto: &str) -> Result<(), String> {
    match task_type {
        Some(t) if !TASK_TYPES.contains(&t) => Err(format!(
            "Invalid value at '{at}task_type' (type.googleapis.com/{proto}.TaskType), \"{t}\""
        )),
        _ => Ok(()),
    }
}

/// The embedding's size: the API's 0 (proto3's unset) and no value both mean the default.
fn dims_of(requested: Option<i64>, at: &str) -> Result<usize, String> {
    match requested {
        None | Some(0) => Ok(super::DEFAULT_EMBED_DIMS),
        Some(n) if n < 0 => Err(format!("* {at}output_dimensionality: must be positive\n")),
        Some(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX).min(4096)),
    }
}

/// One `EmbedContentRequest`, named `at` in messages (`""` or `"requests[i]."`). The Gemini API
/// (`vertex` false) has no `embedContentConfig`: its settings sit on the request itself.
fn embed_input(r: &GeminiEmbedRequest, vertex: bool, request: &str, at: &str) -> Result<EmbedInput, String> {
    if !vertex && r.embed_content_config.is_some() {
        return Err(format!(
            "Invalid JSON payload received. Unknown name \"embedContentConfig\" at '{at}': Cannot find field."
        ));
    }
    let nested = r.embed_content_config.as_ref();
    let task_type = r.task_type.as_deref().or(nested.and_then(|c| c.task_type.as_deref()));
    check_task_type(task_type, at, "google.ai.generativelanguage.v1beta")?;
    let dims = dims_of(
        r.output_dimensionality.or(nested.and_then(|c| c.output_dimensionality)),
        &format!("{request}.{at}"),
    )?;
    let parts = match &r.content {
        None => return Err(format!("* {request}.{at}content: content is not specified\n")),
        Some(c) if c.parts.is_empty() => {
            return Err(format!(
                "* {request}.{at}content.parts: contents.parts must not be empty.\n"
            ))
        }
        Some(c) => &c.parts,
    };
    let texts: Vec<&str> = parts.iter().filter_map(|p| p.text.as_deref()).collect();
    Ok(EmbedInput {
        text: texts.join(" "),
        dims,
    })
}

fn json_ok<T: Serialize>(v: &T) -> MockReply {
    MockReply {
        status: 200,
        content_type: "application/json; charset=UTF-8",
        headers: Vec::new(),
        body: sonic_rs::to_vec(v).unwrap_or_default(),
    }
}

/// `:embedContent`, `:batchEmbedContents` and Vertex's `:predict` for `model` (`vertex`: the
/// path named a publisher, as Vertex paths do).
fn embed(api: ApiMethod, model: &str, vertex: bool, body: &[u8]) -> MockReply {
    if let super::Scenario::Error(status) = super::Scenario::from_model(model) {
        let message = format!("mock error {status} requested by model name");
        return fault(status, FaultKind::from_status(status), &message);
    }
    let invalid = |message: String| fault(400, FaultKind::InvalidRequest, &message);
    let parse_error = |e: sonic_rs::Error| invalid(format!("Invalid JSON payload received. {e}"));
    match api {
        ApiMethod::EmbedContent => {
            let req: GeminiEmbedRequest = match sonic_rs::from_slice(body) {
                Ok(r) => r,
                Err(e) => return parse_error(e),
            };
            let input = match embed_input(&req, vertex, "EmbedContentRequest", "") {
                Ok(i) => i,
                Err(m) => return invalid(m),
            };
            let tokens = super::word_count(&input.text).max(1) as u64;
            json_ok(&GeminiEmbedResponse {
                embedding: GeminiEmbedding {
                    values: super::openai::embed(&input.text, input.dims),
                },
                usage_metadata: vertex.then_some(GeminiUsage {
                    prompt_token_count: tokens,
                    total_token_count: tokens,
                }),
            })
        }
        ApiMethod::BatchEmbedContents => {
            let req: GeminiBatchEmbedRequest = match sonic_rs::from_slice(body) {
                Ok(r) => r,
                Err(e) => return parse_error(e),
            };
            if req.requests.is_empty() {
                return invalid("* BatchEmbedContentsRequest.requests: requests must not be empty.\n".into());
            }
            let most = crate::formats::gemini::embed::MAX_BATCH_REQUESTS;
            if req.requests.len() > most {
                return invalid(format!(
                    "* BatchEmbedContentsRequest.requests: at most {most} requests can be in one batch\n"
                ));
            }
            let mut embeddings = Vec::with_capacity(req.requests.len());
            for (i, r) in req.requests.iter().enumerate() {
                match embed_input(r, vertex, "BatchEmbedContentsRequest", &format!("requests[{i}].")) {
                    Ok(input) => embeddings.push(GeminiEmbedding {
                        values: super::openai::embed(&input.text, input.dims),
                    }),
                    Err(m) => return invalid(m),
                }
            }
            json_ok(&GeminiBatchEmbedResponse { embeddings })
        }
        _ => {
            let req: VertexPredictRequest = match sonic_rs::from_slice(body) {
                Ok(r) => r,
                Err(e) => return parse_error(e),
            };
            if req.instances.is_empty() {
                return invalid("instances must not be empty".into());
            }
            // NOTE: the limits are Vertex's (250 instances, one for its Gemini embedding
            // models); the wording is modelled.
            let most = crate::formats::gemini::embed::texts_per_call(model, true);
            if req.instances.len() > most {
                return invalid(format!(
                    "{model} takes at most {most} instance(s) per request, got {}",
                    req.instances.len()
                ));
            }
            let dims = match dims_of(req.parameters.output_dimensionality, "parameters.") {
                Ok(d) => d,
                Err(m) => return invalid(m),
            };
            let mut predictions = Vec::with_capacity(req.instances.len());
            let mut billable = 0u64;
            for (i, inst) in req.instances.iter().enumerate() {
                let at = format!("instances[{i}].");
                if let Err(m) = check_task_type(inst.task_type.as_deref(), &at, "google.cloud.aiplatform.v1") {
                    return invalid(m);
                }
                let text = match inst.content.as_deref() {
                    Some(t) if !t.is_empty() => t,
                    _ => return invalid(format!("{at}content must be a non-empty string")),
                };
                // Vertex bills text embeddings by character, white space not counted.
                billable += text.chars().filter(|c| !c.is_whitespace()).count() as u64;
                predictions.push(VertexPrediction {
                    embeddings: VertexEmbeddings {
                        values: super::openai::embed(text, dims),
                        statistics: VertexStatistics {
                            token_count: super::word_count(text).max(1) as u64,
                            truncated: false,
                        },
                    },
                });
            }
            json_ok(&VertexPredictResponse {
                predictions,
                metadata: VertexMetadata {
                    billable_character_count: billable,
                },
            })
        }
    }
}

fn fault(status: u16, kind: FaultKind, message: &str) -> MockReply {
    from_error(gemini::encode_error(&UpstreamFault {
        status,
        kind,
        message: message.to_string(),
    }))
}

fn from_error(e: ErrorReply) -> MockReply {
    MockReply {
        status: e.status,
        content_type: e.content_type,
        headers: e.headers,
        body: e.body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

    fn post(path: &str, body: &str) -> (u16, Value) {
        let r = serve(Method::Post, path, body.as_bytes()).expect("a Gemini route");
        (r.status, sonic_rs::from_slice(&r.body).unwrap())
    }

    #[test]
    fn echo_on_every_version_and_prefix() {
        let body = r#"{"contents":[{"role":"user","parts":[{"text":"hello there"}]}]}"#;
        for path in [
            "/v1/models/gemini-2.5-flash:generateContent",
            "/v1beta/models/gemini-2.5-flash:generateContent",
            "/v1beta1/models/gemini-2.5-flash:generateContent",
            "/genai/v1beta/models/gemini-2.5-flash:generateContent",
        ] {
            let (status, v) = post(path, body);
            assert_eq!(status, 200, "{path}");
            assert_eq!(
                v.pointer(&sonic_rs::pointer!["candidates", 0, "content", "parts", 0, "text"])
                    .and_then(|t| t.as_str()),
                Some("echo: hello there")
            );
            assert_eq!(v["modelVersion"].as_str(), Some("gemini-2.5-flash"));
        }
    }

    #[test]
    fn not_ours_and_stream_and_errors() {
        assert!(serve(Method::Post, "/v1/chat/completions", b"{}").is_none());
        // SSE with `alt=sse`; without it, the API's JSON-array stream.
        let stream = |path: &str| serve(Method::Post, path, br#"{"contents":[{"parts":[{"text":"a b"}]}]}"#).unwrap();
        let r = stream("/v1beta/models/m:streamGenerateContent?alt=sse");
        assert_eq!((r.status, r.content_type), (200, "text/event-stream"));
        assert!(r.body.starts_with(b"data: {") && r.body.ends_with(b"\r\n\r\n"));
        let r = stream("/v1beta/models/m:streamGenerateContent");
        assert_eq!((r.status, r.content_type), (200, "application/json; charset=UTF-8"));
        assert!(r.body.starts_with(b"[{") && r.body.ends_with(b"}]"));
        let (status, v) = post(
            "/v1beta/models/x-error-429:generateContent",
            r#"{"contents":[{"parts":[{"text":"a"}]}]}"#,
        );
        assert_eq!(status, 429);
        assert_eq!(v["error"]["code"].as_u64(), Some(429));
        assert_eq!(v["error"]["status"].as_str(), Some("RESOURCE_EXHAUSTED"));
        let (status, v) = post("/v1beta/models/m:generateContent", "not json");
        assert_eq!((status, v["error"]["status"].as_str()), (400, Some("INVALID_ARGUMENT")));
    }

    /// `:countTokens` answers `generateContent`'s `promptTokenCount` for the same contents, in
    /// the Gemini API's two body shapes and Vertex's, and refuses bodies with both shapes or none.
    #[test]
    fn count_tokens_matches_the_prompt_count_of_generate_content() {
        let contents = r#"[{"role":"user","parts":[{"text":"hello there"}]},
            {"role":"model","parts":[{"text":"echo: hello there"}]},
            {"role":"user","parts":[{"text":"and"},{"text":"once more"}]}]"#;
        let system = r#"{"parts":[{"text":"Be brief"}]}"#;
        let prompt = |body: &str| {
            let (status, v) = post("/v1beta/models/gemini-2.5-flash:generateContent", body);
            assert_eq!(status, 200, "{body}");
            v["usageMetadata"]["promptTokenCount"].as_u64().unwrap()
        };
        let plain = prompt(&format!(r#"{{"contents":{contents}}}"#));
        let with_system = prompt(&format!(r#"{{"contents":{contents},"systemInstruction":{system}}}"#));
        assert_eq!((plain, with_system), (8, 10));
        let count = |path: &str, body: &str| {
            let (status, v) = post(path, body);
            assert_eq!(status, 200, "{path} {body}: {v:?}");
            let n = v["totalTokens"].as_u64().unwrap();
            assert_eq!(v["promptTokensDetails"][0]["modality"].as_str(), Some("TEXT"));
            assert_eq!(v["promptTokensDetails"][0]["tokenCount"].as_u64(), Some(n));
            n
        };
        for path in [
            "/v1beta/models/gemini-2.5-flash:countTokens",
            "/v1/models/gemini-2.5-flash:countTokens",
            "/genai/v1beta/models/gemini-2.5-flash:countTokens",
        ] {
            assert_eq!(count(path, &format!(r#"{{"contents":{contents}}}"#)), plain);
            let whole = format!(
                r#"{{"generateContentRequest":{{"model":"models/gemini-2.5-flash","contents":{contents},"systemInstruction":{system},"generationConfig":{{"temperature":0.2}}}}}}"#
            );
            assert_eq!(count(path, &whole), with_system);
            let snake = format!(r#"{{"generate_content_request":{{"contents":{contents}}}}}"#);
            assert_eq!(count(path, &snake), plain);
        }
        // Vertex: the request's fields at the top level.
        let vertex = format!(
            r#"{{"contents":{contents},"systemInstruction":{system},"tools":[{{"functionDeclarations":[{{"name":"f"}}]}}],"generationConfig":{{"maxOutputTokens":9}}}}"#
        );
        for path in [
            "/v1beta1/publishers/google/models/gemini-2.5-flash:countTokens",
            "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:countTokens",
        ] {
            assert_eq!(count(path, &vertex), with_system);
        }
        let path = "/v1beta/models/m:countTokens";
        let c = r#"[{"parts":[{"text":"a"}]}]"#;
        for (body, says) in [
            (
                format!(r#"{{"contents":{c},"generateContentRequest":{{"contents":{c}}}}}"#),
                "mutually exclusive",
            ),
            // The Gemini API takes no system instruction beside the contents (Vertex does).
            (
                format!(r#"{{"systemInstruction":{system},"generateContentRequest":{{"contents":{c}}}}}"#),
                "Unknown name \"systemInstruction\"",
            ),
            ("{}".to_string(), "one of contents or generate_content_request"),
            (
                r#"{"contents":[]}"#.to_string(),
                "one of contents or generate_content_request",
            ),
            (
                format!(r#"{{"contents":{c},"systemInstruction":{system}}}"#),
                "Unknown name \"systemInstruction\"",
            ),
            (
                format!(r#"{{"contents":{c},"maxTokens":3}}"#),
                "Unknown name \"maxTokens\"",
            ),
            ("[1]".to_string(), "Invalid JSON payload"),
        ] {
            let (status, v) = post(path, &body);
            assert_eq!(status, 400, "{body}");
            assert_eq!(v["error"]["status"].as_str(), Some("INVALID_ARGUMENT"));
            let message = v["error"]["message"].as_str().unwrap();
            assert!(message.contains(says), "{body}: {message}");
        }
        // Vertex has no `generateContentRequest`.
        let (status, v) = post(
            "/v1beta1/publishers/google/models/m:countTokens",
            &format!(r#"{{"generateContentRequest":{{"contents":{c}}}}}"#),
        );
        assert_eq!(status, 400);
        assert!(v["error"]["message"].as_str().unwrap().contains("Unknown name"));
        let (status, v) = post(
            "/v1beta/models/x-error-429:countTokens",
            &format!(r#"{{"contents":{c}}}"#),
        );
        assert_eq!(
            (status, v["error"]["status"].as_str()),
            (429, Some("RESOURCE_EXHAUSTED"))
        );
        let chat_get = serve(Method::Get, "/v1beta/models/m:generateContent", b"").map(|r| r.status);
        assert_eq!(
            serve(Method::Get, path, b"").map(|r| r.status),
            chat_get,
            "as chat, POST only"
        );
    }

    #[test]
    fn provider_prefixed_model_and_tool_call() {
        let body = r#"{"contents":[{"role":"user","parts":[{"text":"weather?"}]}],
            "tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"}}}}]}]}"#;
        let (status, v) = post("/v1beta/models/acme/tool-model:generateContent", body);
        assert_eq!(status, 200);
        assert_eq!(v["modelVersion"].as_str(), Some("acme/tool-model"));
        let parts = &v["candidates"][0]["content"]["parts"];
        assert_eq!(parts[0]["text"].as_str(), Some("Let me check."));
        assert_eq!(parts[1]["functionCall"]["name"].as_str(), Some("get_weather"));
        assert_eq!(parts[1]["functionCall"]["args"]["city"].as_str(), Some("Paris"));
        assert_eq!(v["candidates"][0]["finishReason"].as_str(), Some("STOP"));
    }

    /// Audio and video parts (inline or by file, either key spelling) are answered, not refused.
    #[test]
    fn audio_and_video_parts_are_answered() {
        for part in [
            r#"{"inlineData":{"mimeType":"audio/wav","data":"AA=="}}"#,
            r#"{"inline_data":{"mime_type":"video/mp4","data":"AA=="}}"#,
            r#"{"fileData":{"mimeType":"video/mp4","fileUri":"gs://b/v.mp4"}}"#,
        ] {
            let body = format!(r#"{{"contents":[{{"role":"user","parts":[{part},{{"text":"hello there"}}]}}]}}"#);
            let (status, v) = post("/v1beta/models/m:generateContent", &body);
            assert_eq!(status, 200, "{part}: {v:?}");
            let text = v.pointer(&sonic_rs::pointer!["candidates", 0, "content", "parts", 0, "text"]);
            assert_eq!(text.and_then(|t| t.as_str()), Some("echo: hello there"), "{part}");
            let r = serve(
                Method::Post,
                "/v1beta/models/m:streamGenerateContent?alt=sse",
                body.as_bytes(),
            )
            .unwrap();
            assert_eq!(r.status, 200, "{part}");
        }
    }

    #[test]
    fn contents_rules_are_enforced_as_gemini_does() {
        let ask = r#"{"role":"user","parts":[{"text":"go"}]}"#;
        let calls = r#"{"role":"model","parts":[{"functionCall":{"name":"f","args":{}}},{"functionCall":{"name":"g","args":{}}}]}"#;
        let response = |n: &str| format!(r#"{{"functionResponse":{{"name":"{n}","response":{{"r":1}}}}}}"#);
        let turn = |parts: &[&str]| format!(r#"{{"role":"user","parts":[{}]}}"#, parts.join(","));
        let (f, g) = (response("f"), response("g"));
        let run = |contents: &[&str]| {
            let body = format!(r#"{{"contents":[{}]}}"#, contents.join(","));
            ["generateContent", "streamGenerateContent?alt=sse"].map(|op| {
                let r = serve(Method::Post, &format!("/v1beta/models/m:{op}"), body.as_bytes()).unwrap();
                (r.status, String::from_utf8_lossy(&r.body).into_owned())
            })
        };
        for (code, _) in run(&[ask, calls, &turn(&[&f, &g])]) {
            assert_eq!(code, 200);
        }
        for (contents, says) in [
            (vec![], "GenerateContentRequest.contents: contents is not specified"),
            (
                vec![ask.to_string(), calls.to_string(), turn(&[&f]), turn(&[&g])],
                "number of function response parts",
            ),
            (vec![ask.to_string(), turn(&[&f])], "number of function response parts"),
            (
                vec![ask.to_string(), r#"{"role":"model","parts":[]}"#.to_string()],
                "contents[1].parts: contents.parts must not be empty",
            ),
        ] {
            let contents: Vec<&str> = contents.iter().map(String::as_str).collect();
            for (code, body) in run(&contents) {
                assert_eq!(code, 400, "{body}");
                assert!(body.contains(says) && body.contains("INVALID_ARGUMENT"), "{body}");
            }
        }
    }

    fn floats(v: &Value) -> Vec<f32> {
        v.as_array()
            .expect("an array of numbers")
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    }

    #[test]
    fn embed_content_gives_the_shared_vector_in_both_key_spellings() {
        for body in [
            r#"{"model":"models/text-embedding-004","content":{"parts":[{"text":"a b"},{"text":"c"}]},"taskType":"RETRIEVAL_QUERY","title":"t","outputDimensionality":16}"#,
            r#"{"content":{"parts":[{"text":"a b"},{"text":"c"}]},"task_type":"RETRIEVAL_QUERY","output_dimensionality":16}"#,
        ] {
            let (status, v) = post("/v1beta/models/text-embedding-004:embedContent", body);
            assert_eq!(status, 200, "{body}");
            assert_eq!(
                floats(&v["embedding"]["values"]),
                crate::mock::openai::embed("a b c", 16)
            );
            assert!(v.get("usageMetadata").is_none());
        }
        // No dimensions: the default every mock shares.
        let (_, v) = post(
            "/genai/v1beta/models/e:embedContent",
            r#"{"content":{"parts":[{"text":"hi"}]}}"#,
        );
        assert_eq!(
            floats(&v["embedding"]["values"]),
            crate::mock::openai::embed("hi", crate::mock::DEFAULT_EMBED_DIMS)
        );
        // Vertex's embedContent nests the options and reads the count from usageMetadata.
        let (status, v) = post(
            "/v1beta1/projects/p/locations/us-central1/publishers/google/models/gemini-embedding-001:embedContent",
            r#"{"content":{"parts":[{"text":"x y z"}]},"embedContentConfig":{"taskType":"CLUSTERING","outputDimensionality":4}}"#,
        );
        assert_eq!(status, 200);
        assert_eq!(
            floats(&v["embedding"]["values"]),
            crate::mock::openai::embed("x y z", 4)
        );
        assert_eq!(v["usageMetadata"]["promptTokenCount"].as_u64(), Some(3));
        // The Gemini API has no `embedContentConfig`.
        let (status, v) = post(
            "/v1beta/models/gemini-embedding-001:embedContent",
            r#"{"content":{"parts":[{"text":"x"}]},"embedContentConfig":{"outputDimensionality":4}}"#,
        );
        assert_eq!(status, 400);
        assert!(v["error"]["message"].as_str().unwrap().contains("embedContentConfig"));
    }

    #[test]
    fn batch_embed_contents_answers_each_request_in_order() {
        let body = r#"{"requests":[
            {"model":"models/e","content":{"parts":[{"text":"a b"}]},"taskType":"RETRIEVAL_DOCUMENT","outputDimensionality":16},
            {"model":"models/e","content":{"parts":[{"text":"c"}]},"taskType":"RETRIEVAL_DOCUMENT","outputDimensionality":16},
            {"model":"models/e","content":{"parts":[{"text":"d"}]}}]}"#;
        let (status, v) = post("/v1beta/models/e:batchEmbedContents", body);
        assert_eq!(status, 200);
        let all = v["embeddings"].as_array().unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(floats(&all[0]["values"]), crate::mock::openai::embed("a b", 16));
        assert_eq!(floats(&all[1]["values"]), crate::mock::openai::embed("c", 16));
        assert_eq!(floats(&all[2]["values"]).len(), crate::mock::DEFAULT_EMBED_DIMS);
    }

    #[test]
    fn vertex_predict_answers_predictions_with_statistics() {
        let body = r#"{"instances":[{"content":"a b","task_type":"RETRIEVAL_DOCUMENT","title":"t"},{"content":"c"}],
            "parameters":{"outputDimensionality":16,"autoTruncate":true}}"#;
        let (status, v) = post(
            "/v1beta1/projects/p/locations/us-central1/publishers/google/models/text-embedding-005:predict",
            body,
        );
        assert_eq!(status, 200);
        let preds = v["predictions"].as_array().unwrap();
        assert_eq!(preds.len(), 2);
        assert_eq!(
            floats(&preds[0]["embeddings"]["values"]),
            crate::mock::openai::embed("a b", 16)
        );
        assert_eq!(preds[0]["embeddings"]["statistics"]["token_count"].as_u64(), Some(2));
        assert_eq!(preds[0]["embeddings"]["statistics"]["truncated"].as_bool(), Some(false));
        assert_eq!(
            floats(&preds[1]["embeddings"]["values"]),
            crate::mock::openai::embed("c", 16)
        );
        assert_eq!(v["metadata"]["billableCharacterCount"].as_u64(), Some(3));
    }

    #[test]
    fn embed_errors_are_google_shaped() {
        let bad = |path: &str, body: &str, code: u16, says: &str| {
            let (status, v) = post(path, body);
            assert_eq!(status, code, "{body}");
            assert_eq!(v["error"]["code"].as_u64(), Some(code as u64));
            let message = v["error"]["message"].as_str().unwrap();
            assert!(message.contains(says), "{message}");
            v["error"]["status"].as_str().unwrap().to_string()
        };
        let one = "/v1beta/models/e:embedContent";
        let batch = "/v1beta/models/e:batchEmbedContents";
        let predict = "/v1/projects/p/locations/l/publishers/google/models/e:predict";
        for (path, body, says) in [
            (one, r#"{"taskType":"RETRIEVAL_QUERY"}"#, "content is not specified"),
            (one, r#"{"content":{"parts":[]}}"#, "contents.parts must not be empty"),
            (
                one,
                r#"{"content":{"parts":[{"text":"a"}]},"taskType":"SEARCH"}"#,
                "\"SEARCH\"",
            ),
            (
                batch,
                r#"{"requests":[{"content":{"parts":[{"text":"a"}]}},{"content":{"parts":[{"text":"b"}]},"task_type":"NOPE"}]}"#,
                "requests[1].task_type",
            ),
            (batch, r#"{"requests":[{"model":"models/e"}]}"#, "requests[0].content"),
            (batch, r#"{"requests":[]}"#, "requests must not be empty"),
            (predict, r#"{"instances":[{"content":""}]}"#, "instances[0].content"),
            (
                predict,
                r#"{"instances":[{"content":"a","task_type":"X"}]}"#,
                "instances[0].task_type",
            ),
            (one, "not json", "Invalid JSON payload"),
        ] {
            assert_eq!(bad(path, body, 400, says), "INVALID_ARGUMENT");
        }
        let body = r#"{"content":{"parts":[{"text":"a"}]}}"#;
        let status = bad(
            "/v1beta/models/embed-error-429:embedContent",
            body,
            429,
            "mock error 429",
        );
        assert_eq!(status, "RESOURCE_EXHAUSTED");
        let status = bad(
            "/v1beta1/projects/p/locations/l/publishers/google/models/e-error-503:predict",
            r#"{"instances":[{"content":"a"}]}"#,
            503,
            "mock error 503",
        );
        assert_eq!(status, "UNAVAILABLE");
        let chat_get = serve(Method::Get, "/v1beta/models/e:generateContent", b"").map(|r| r.status);
        assert_eq!(
            serve(Method::Get, one, b"").map(|r| r.status),
            chat_get,
            "as chat, POST only"
        );
    }
}
