//! Bedrock Runtime as the mock speaks it (PROTOCOLS 5.1-5.3, 5.6): `POST [/bedrock]/model/{id}/
//! converse` answers through the format-independent scenarios (`scenario::respond`), so the
//! model id picks the scenario exactly as in every other format's mock.
//!
//! `invoke` answers Anthropic-flavoured native bodies (PROTOCOLS 5.5) through the same scenarios,
//! and the embedding models' bodies (Titan Text Embeddings v1/v2, Cohere Embed v3/v4) with the
//! vectors of `mock::openai::embed`, so every format's mock agrees on a text's vector.
//! `invoke` on a rerank model (`cohere.rerank-*`, `amazon.rerank-*`) answers with the scores of
//! `mock::rerank`. `converse-stream` and `invoke-with-response-stream` stream through
//! `mock::stream`.
//! `count-tokens` answers the input tokens either operation reports for the same request.

use super::{scenario, MockReply};
use crate::canonical::{ChatRequest, ConvertError, FaultKind, Part, Role, ToolResultContent, UpstreamFault};
use crate::formats::bedrock::{self, Operation};
use crate::http::Method;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A request id in the UUID shape Bedrock uses for `x-amzn-RequestId`.
pub(super) fn request_id() -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    format!("6d9f0c1e-0000-4000-8000-{n:012x}")
}

fn fault_reply(status: u16, message: String, id: String) -> MockReply {
    let e = bedrock::encode_error(&UpstreamFault {
        status,
        kind: FaultKind::from_status(status),
        message,
    });
    error_reply(e, id)
}

fn error_reply(e: crate::canonical::ErrorReply, id: String) -> MockReply {
    let mut headers = e.headers;
    headers.push(("x-amzn-RequestId", id));
    MockReply {
        status: e.status,
        content_type: e.content_type,
        headers,
        body: e.body,
    }
}

/// A Converse body with stand-ins (`mock::with_stand_ins`) for a guardrail's `guardContent` (its
/// text, or an image), an image or document in S3 (stand-in bytes) and a `video` (an image).
pub(crate) fn stand_ins(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    // `system` is a block list of its own; each message has one.
    fn lists(v: &mut sonic_rs::Value) -> Vec<&mut sonic_rs::Value> {
        use sonic_rs::JsonValueMutTrait;
        let mut out = Vec::new();
        for (k, list) in v.as_object_mut().into_iter().flat_map(|o| o.iter_mut()) {
            match k {
                "system" => out.push(list),
                "messages" => out.extend(
                    list.as_array_mut()
                        .into_iter()
                        .flat_map(|a| a.iter_mut())
                        .filter_map(|m| m.get_mut("content")),
                ),
                _ => {}
            }
        }
        out
    }
    super::with_stand_ins(body, &[b"guardContent", b"s3Location", b"\"video\""], lists, stand_in)
}

/// The block that stands in for `block` (see `stand_ins`), or None to keep it.
fn stand_in(block: &sonic_rs::Value) -> Option<sonic_rs::Value> {
    use sonic_rs::{json, JsonValueMutTrait, JsonValueTrait};
    let png = || json!({"image": {"format": "png", "source": {"bytes": super::STAND_IN_PNG}}});
    if let Some(g) = block.get("guardContent") {
        return match g.pointer(["text", "text"]) {
            Some(text) => Some(json!({"text": text})),
            None => Some(png()),
        };
    }
    if block.get("video").is_some() {
        return Some(png());
    }
    for kind in ["image", "document"] {
        let Some(m) = block
            .get(kind)
            .filter(|m| m.pointer(["source", "s3Location"]).is_some())
        else {
            continue;
        };
        let mut m = m.clone();
        let bytes = if kind == "image" { super::STAND_IN_PNG } else { "AA==" };
        m.as_object_mut()?.insert("source", json!({ "bytes": bytes }));
        let mut out = sonic_rs::Value::new_object();
        out.as_object_mut()?.insert(kind, m);
        return Some(out);
    }
    None
}

/// The top-level keys a text-completion family's InvokeModel body takes (each vendor's page of
/// Bedrock's inference parameters).
fn prompt_keys(family: bedrock::invoke_prompt::PromptFamily) -> &'static [&'static str] {
    use bedrock::invoke_prompt::PromptFamily;
    match family {
        PromptFamily::Llama => &["prompt", "max_gen_len", "temperature", "top_p", "images"],
        PromptFamily::Mistral => &["prompt", "max_tokens", "stop", "temperature", "top_p", "top_k"],
        PromptFamily::DeepSeek => &["prompt", "max_tokens", "stop", "temperature", "top_p"],
        PromptFamily::TitanText => &["inputText", "textGenerationConfig"],
    }
}

/// An InvokeModel body as the mock reads it: the gateway's decoder, which skips keys it does not
/// know, and then the refusal a text-completion model gives any key outside `prompt_keys` (Llama
/// has no `stop`), in the words of Bedrock's schema validation. (Signatures are the generating
/// routes' check: `signature_rule`.)
pub(crate) fn decode_invoke(body: &[u8], model: &str, stream: bool) -> Result<ChatRequest, ConvertError> {
    use sonic_rs::JsonContainerTrait;
    let req = bedrock::invoke::decode_invoke_request(body, model, stream)?;
    let bedrock::invoke::InvokeFamily::Prompt(family) = bedrock::invoke::InvokeFamily::of_decoded(model, body) else {
        return Ok(req);
    };
    let v: sonic_rs::Value = sonic_rs::from_slice(body).unwrap_or_default();
    let extra = v
        .as_object()
        .and_then(|o| o.iter().map(|(k, _)| k).find(|k| !prompt_keys(family).contains(k)));
    match extra {
        Some(k) => Err(ConvertError::new(
            "",
            format!("Malformed input request: #: extraneous key [{k}] is not permitted, please reformat your input and try again."),
        )),
        None => Ok(req),
    }
}

/// A Converse or ConverseStream body as the mock reads it: the gateway's decoder, then the rules
/// of Converse (`upstream_rules`) and of the model's own body (`model_fields_rule`).
pub(crate) fn decode_converse(body: &[u8], model: &str, stream: bool) -> Result<ChatRequest, ConvertError> {
    model_fields_rule(model, body)?;
    let req = bedrock::decode_request(&stand_ins(body), Some(model), stream)?;
    super::chat_rules(crate::formats::Format::Bedrock, &req, body)?;
    Ok(req)
}

/// Bedrock hands `additionalModelRequestFields` to the model, whose schema refuses keys it does
/// not know: Nova takes its own settings under `inferenceConfig` (top-k as `topK`) and
/// `reasoningConfig` only; Claude's Messages body has no `seed`. Other vendors are not checked.
fn model_fields_rule(model: &str, body: &[u8]) -> Result<(), ConvertError> {
    use sonic_rs::JsonContainerTrait;
    let Ok(fields) = sonic_rs::get_from_slice(body, &["additionalModelRequestFields"]) else {
        return Ok(());
    };
    let fields: sonic_rs::Value = sonic_rs::from_str(fields.as_raw_str()).unwrap_or_default();
    let refused = |k: &str| match () {
        _ if bedrock::invoke::is_nova_model(model) => !["inferenceConfig", "reasoningConfig"].contains(&k),
        _ if bedrock::invoke::is_anthropic_model(model) => k == "seed",
        _ => false,
    };
    match fields
        .as_object()
        .and_then(|o| o.iter().map(|(k, _)| k).find(|k| refused(k)))
    {
        Some(k) => Err(ConvertError::new(
            "",
            malformed(&format!("extraneous key [{k}] is not permitted")),
        )),
        None => Ok(()),
    }
}

/// Converse's own content rules, which a gateway's translation can break and a lenient mock
/// would hide: no empty text block (in a message or a tool result) and a tool result's `json`
/// an object. Messages as Bedrock words them.
pub(super) fn converse_rules(req: &ChatRequest) -> Result<(), ConvertError> {
    inference_bounds(req)?;
    converse_turn_rules(req)?;
    // `additionalModelRequestFields.thinking` is Claude's, with Claude's limits; other vendors'
    // models refuse the key.
    let thinking = req.reasoning.as_ref().is_some_and(|r| r.budget_tokens.is_some());
    if thinking && !crate::formats::bedrock::invoke::may_be_claude(&req.model) {
        return Err(ConvertError::new(
            "",
            "Malformed input request: extraneous key [thinking] is not permitted, please reformat your input and try again.",
        ));
    }
    super::anthropic::thinking_rules(req)?;
    for (i, m) in req.messages.iter().enumerate() {
        for (j, p) in m.content.iter().enumerate() {
            let at = format!("messages.{i}.content.{j}");
            match p {
                Part::Text { text, .. } if text.is_empty() => {
                    return Err(ConvertError::new(
                        "",
                        format!("The text field in the ContentBlock object at {at} is blank. Add text to the text field, and try again."),
                    ))
                }
                Part::ToolResult { content, .. } => {
                    for (k, c) in content.iter().enumerate() {
                        let bad = match c {
                            ToolResultContent::Text(t) if t.is_empty() => "text",
                            ToolResultContent::Json(j) if !sonic_rs::JsonValueTrait::is_object(j) => "json",
                            _ => continue,
                        };
                        let msg = if bad == "text" {
                            format!("The text field in the ContentBlock object at {at}.toolResult.content.{k} is blank. Add text to the text field, and try again.")
                        } else {
                            format!("The format of the value at {at}.toolResult.content.{k}.json is invalid. Provide a json object for the field and try again.")
                        };
                        return Err(ConvertError::new("", msg));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// `inferenceConfig`'s bounds in the service model (`temperature` and `topP` 0 to 1; `maxTokens`
/// at least 1 is the shared decoder's check; OpenAI's and Gemini's temperature go to 2), refused in the words of AWS's
/// validation.
fn inference_bounds(req: &ChatRequest) -> Result<(), ConvertError> {
    let refuse = |field: &str, value: String, bound: &str| {
        Err(ConvertError::new(
            "",
            format!("1 validation error detected: Value '{value}' at 'inferenceConfig.{field}' failed to satisfy constraint: Member must have value {bound}"),
        ))
    };
    for (field, value) in [("temperature", req.temperature), ("topP", req.top_p)] {
        match value {
            Some(v) if v > 1.0 => return refuse(field, v.to_string(), "less than or equal to 1"),
            Some(v) if v < 0.0 => return refuse(field, v.to_string(), "greater than or equal to 0"),
            _ => {}
        }
    }
    Ok(())
}

/// Converse's rules on the turns themselves, in Bedrock's words: the conversation opens with a
/// user turn and alternates (the ValidationException quoted in langchain-aws#130 and
/// Portkey-AI/gateway#748: Converse, unlike Anthropic, does not merge same-role turns); no turn
/// is empty; a user turn answers the toolUse blocks of the assistant turn before it, no more
/// (pydantic/pydantic-ai#2327, strands-agents#1435) and no fewer.
fn converse_turn_rules(req: &ChatRequest) -> Result<(), ConvertError> {
    let refuse = |message: String| Err(ConvertError::new("", message));
    // No messages at all (none sent, or `[]`) is refused in the same words.
    if req.messages.first().is_none_or(|m| m.role != Role::User) {
        return refuse(
            "A conversation must start with a user message. Try again with a conversation that starts with a user message."
                .into(),
        );
    }
    for (i, m) in req.messages.iter().enumerate() {
        if m.content.is_empty() {
            return refuse(format!(
                "The content field in the Message object at messages.{i} is empty. Add a ContentBlock object to the content field and try again."
            ));
        }
        let prev = i.checked_sub(1).map(|k| &req.messages[k]);
        if prev.is_some_and(|p| p.role == m.role) {
            return refuse(
                "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."
                    .into(),
            );
        }
        if m.role == Role::Assistant {
            continue;
        }
        let asked = prev.map(super::call_ids_of).unwrap_or_default();
        let answered = super::result_ids_of(m);
        if answered.len() > asked.len() {
            return refuse(format!(
                "The number of toolResult blocks at messages.{i}.content exceeds the number of toolUse blocks of previous turn."
            ));
        }
        // A set: a turn of many calls checked one by one against a list would be quadratic.
        let answered: std::collections::HashSet<&str> = answered.into_iter().collect();
        let missing: Vec<&str> = asked.into_iter().filter(|id| !answered.contains(id)).collect();
        if !missing.is_empty() {
            return refuse(format!(
                "Expected toolResult blocks at messages.{i}.content for the following Ids: {}",
                missing.join(", ")
            ));
        }
    }
    Ok(())
}

/// The embedding models InvokeModel serves, told apart by the model id (a plain id, a
/// cross-region profile such as `us.cohere.embed-v4:0` or an ARN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EmbedModel {
    TitanV1,
    TitanV2,
    CohereV3,
    CohereV4,
}

impl EmbedModel {
    fn of(model: &str) -> Option<EmbedModel> {
        Some(if model.contains("titan-embed-text-v2") {
            EmbedModel::TitanV2
        } else if model.contains("titan-embed-text-v1") || model.contains("titan-embed-g1-text") {
            EmbedModel::TitanV1
        } else if model.contains("cohere.embed-v4") {
            EmbedModel::CohereV4
        } else if model.contains("cohere.embed-") {
            EmbedModel::CohereV3
        } else {
            return None;
        })
    }

    /// The body keys the model's schema allows; any other is refused.
    fn keys(self) -> &'static [&'static str] {
        match self {
            EmbedModel::TitanV1 => &["inputText"],
            EmbedModel::TitanV2 => &["inputText", "dimensions", "normalize", "embeddingTypes"],
            EmbedModel::CohereV3 => &["texts", "images", "input_type", "truncate", "embedding_types"],
            EmbedModel::CohereV4 => &[
                "texts",
                "images",
                "inputs",
                "input_type",
                "truncate",
                "embedding_types",
                "output_dimension",
                "max_tokens",
            ],
        }
    }
}

/// Bedrock's 400 for a body its model's schema refuses, in its words.
fn malformed(detail: &str) -> String {
    format!("Malformed input request: {detail}, please reformat your input and try again.")
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct TitanEmbedResponse {
    embedding: Vec<f32>,
    input_text_token_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    embeddings_by_type: Option<TitanByType>,
}

#[derive(serde::Serialize)]
struct TitanByType {
    #[serde(skip_serializing_if = "Option::is_none")]
    float: Option<Vec<f32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binary: Option<Vec<u8>>,
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum CohereEmbeddings {
    Floats(Vec<Vec<f32>>),
    ByType(super::cohere::EmbeddingsOut),
}

#[derive(serde::Serialize)]
struct CohereEmbedResponse<'a> {
    embeddings: CohereEmbeddings,
    id: &'a str,
    response_type: &'static str,
    texts: &'a [String],
}

/// An embedding model's InvokeModel answer: the body, and the input token count for the headers.
fn embed_body(kind: EmbedModel, body: &[u8], id: &str) -> Result<(Vec<u8>, u64), String> {
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};
    let v: sonic_rs::Value = sonic_rs::from_slice(body).map_err(|e| malformed(&format!("#: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| malformed("#: expected type: JSONObject, found: JSONArray"))?;
    if let Some((k, _)) = obj.iter().find(|(k, _)| !kind.keys().contains(k)) {
        return Err(malformed(&format!("#: extraneous key [{k}] is not permitted")));
    }
    if matches!(kind, EmbedModel::TitanV1 | EmbedModel::TitanV2) {
        let text = match v.get("inputText") {
            None => return Err(malformed("#: required key [inputText] not found")),
            Some(t) => t
                .as_str()
                .ok_or_else(|| malformed("#/inputText: expected type: String"))?,
        };
        if text.is_empty() {
            return Err(malformed("#/inputText: expected minLength: 1, actual: 0"));
        }
        let tokens = super::word_count(text).max(1) as u64;
        let resp = if kind == EmbedModel::TitanV1 {
            TitanEmbedResponse {
                embedding: super::openai::embed(text, 1536),
                input_text_token_count: tokens,
                embeddings_by_type: None,
            }
        } else {
            let dims = match v.get("dimensions").map(|d| d.as_u64()) {
                None => 1024,
                Some(Some(d @ (256 | 512 | 1024))) => d as usize,
                Some(_) => {
                    let d = v.get("dimensions").map(|d| d.to_string()).unwrap_or_default();
                    return Err(malformed(&format!("#/dimensions: {d} is not a valid enum value")));
                }
            };
            let mut types: Vec<&str> = Vec::new();
            for t in v.get("embeddingTypes").and_then(|t| t.as_array()).into_iter().flatten() {
                match t.as_str() {
                    Some(t @ ("float" | "binary")) => types.push(t),
                    _ => return Err(malformed(&format!("#/embeddingTypes: {} is not a valid enum value", t))),
                }
            }
            // Titan v2 normalizes unless `normalize` is false.
            let mut embedding = super::openai::embed(text, dims);
            if v.get("normalize").and_then(|n| n.as_bool()) != Some(false) {
                embedding = crate::canonical::embed::unit_length(&embedding);
            }
            // Titan's binary embedding: one 0/1 per dimension, 1 where the float is positive.
            let binary = types
                .contains(&"binary")
                .then(|| embedding.iter().map(|x| u8::from(*x > 0.0)).collect());
            let float = (types.is_empty() || types.contains(&"float")).then(|| embedding.clone());
            TitanEmbedResponse {
                embedding,
                input_text_token_count: tokens,
                embeddings_by_type: Some(TitanByType { float, binary }),
            }
        };
        return Ok((sonic_rs::to_vec(&resp).unwrap_or_default(), tokens));
    }
    // Cohere Embed: the `/v2/embed` fields, with Bedrock's own rules and defaults.
    let input_types: &[&str] = if kind == EmbedModel::CohereV4 {
        &["search_document", "search_query", "classification", "clustering"]
    } else {
        &[
            "search_document",
            "search_query",
            "classification",
            "clustering",
            "image",
        ]
    };
    match v.get("input_type").map(|t| t.as_str()) {
        None => return Err(malformed("#: required key [input_type] not found")),
        Some(Some(t)) if input_types.contains(&t) => {}
        Some(t) => {
            return Err(malformed(&format!(
                "#/input_type: {} is not a valid enum value",
                t.unwrap_or_default()
            )))
        }
    }
    let dims = match (kind, v.get("output_dimension").map(|d| d.as_u64())) {
        (EmbedModel::CohereV3, _) => 1024,
        (_, None) => 1536,
        (_, Some(Some(d @ (256 | 512 | 1024 | 1536)))) => d as usize,
        (_, Some(_)) => {
            let d = v.get("output_dimension").map(|d| d.to_string()).unwrap_or_default();
            return Err(malformed(&format!("#/output_dimension: {d} is not a valid enum value")));
        }
    };
    let req: super::cohere::EmbedRequest = sonic_rs::from_value(&v).map_err(|e| malformed(&format!("#: {e}")))?;
    let inputs = req.inputs();
    if inputs.is_empty() {
        return Err(malformed("#: one of texts, images or inputs is required"));
    }
    let most = crate::formats::cohere::embed::MAX_TEXTS_PER_CALL;
    if inputs.len() > most {
        return Err(malformed(&format!(
            "#/texts: expected maxItems: {most}, actual: {}",
            inputs.len()
        )));
    }
    // Bedrock's schema also caps each text at 2,048 characters.
    for (i, t) in req.texts.iter().flatten().enumerate() {
        let chars = t.chars().count();
        if chars > 2048 {
            return Err(malformed(&format!(
                "#/texts/{i}: expected maxLength: 2048, actual: {chars}"
            )));
        }
    }
    let vectors: Vec<Vec<f32>> = inputs.iter().map(|t| super::openai::embed(t, dims)).collect();
    let (embeddings, response_type) = match &req.embedding_types {
        None => (CohereEmbeddings::Floats(vectors), "embeddings_floats"),
        Some(types) => {
            let out = super::cohere::embeddings_by_type(&vectors, types)
                .map_err(|e| malformed(&format!("#/embedding_types: {e}")))?;
            (CohereEmbeddings::ByType(out), "embeddings_by_type")
        }
    };
    let tokens: u64 = inputs.iter().map(|t| super::word_count(t).max(1) as u64).sum();
    let texts = req.texts.clone().unwrap_or_default();
    let resp = CohereEmbedResponse {
        embeddings,
        id,
        response_type,
        texts: &texts,
    };
    Ok((sonic_rs::to_vec(&resp).unwrap_or_default(), tokens))
}

/// InvokeModel on an embedding model: the body, the invocation headers, or Bedrock's error.
fn embed(kind: EmbedModel, model: &str, body: &[u8], id: String) -> MockReply {
    if let super::Scenario::Error(status) = super::Scenario::from_model(model) {
        return fault_reply(status, format!("mock error {status} requested by model name"), id);
    }
    match embed_body(kind, body, &id) {
        Ok((body, tokens)) => MockReply {
            status: 200,
            content_type: "application/json",
            headers: vec![
                ("x-amzn-RequestId", id),
                ("x-amzn-bedrock-input-token-count", tokens.to_string()),
                (
                    "x-amzn-bedrock-invocation-latency",
                    super::reported_latency_ms().to_string(),
                ),
            ],
            body,
        },
        Err(message) => fault_reply(400, message, id),
    }
}

/// InvokeModel on a rerank model: `{"id"?, "results"}` (an id from Cohere's model only) with the
/// shared scores, or Bedrock's ValidationException for what the model's schema refuses. Cohere's
/// model requires `api_version` 2, which the cohere SDK's Bedrock client always sends.
fn rerank(model: &str, body: &[u8], id: String) -> MockReply {
    if let super::Scenario::Error(status) = super::Scenario::from_model(model) {
        return fault_reply(status, format!("mock error {status} requested by model name"), id);
    }
    let req = match bedrock::rerank::decode_rerank_request(body, model) {
        Ok(r) => r,
        Err(e) => return fault_reply(400, malformed(&format!("#/{}", e)), id),
    };
    let cohere = model.contains("cohere.rerank");
    if cohere {
        use sonic_rs::JsonValueTrait;
        let version = sonic_rs::get(body, &["api_version"]).ok().and_then(|v| v.as_u64());
        match version {
            Some(2) => {}
            None => return fault_reply(400, malformed("#: required key [api_version] not found"), id),
            Some(v) => {
                return fault_reply(
                    400,
                    malformed(&format!("#/api_version: {v} is not a valid enum value")),
                    id,
                )
            }
        }
    }
    if let Err(why) = super::rerank::validate(&req) {
        return fault_reply(400, malformed(&format!("#: {why}")), id);
    }
    let resp = crate::canonical::rerank::RerankResponse {
        id: if cohere { id.clone() } else { String::new() },
        results: super::rerank::rank(&req.query, &req.documents, req.top_n),
        search_units: None,
    };
    MockReply {
        status: 200,
        content_type: "application/json",
        headers: vec![
            ("x-amzn-RequestId", id),
            (
                "x-amzn-bedrock-invocation-latency",
                super::reported_latency_ms().to_string(),
            ),
        ],
        body: bedrock::rerank::encode_rerank_response(&resp),
    }
}

/// `CountTokens` (`POST /model/{id}/count-tokens`): `{"inputTokens": N}`, N what the same
/// conversation reports as its input tokens through Converse (`input.converse`: its messages,
/// system, toolConfig and additionalModelRequestFields) or InvokeModel (`input.invokeModel.body`:
/// the model-native body, base64 in JSON as every blob). `input` is a union: exactly one of the
/// two, else a ValidationException.
fn count_tokens(model: &str, body: &[u8], id: String) -> MockReply {
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};
    let invalid = |message: String, id: String| fault_reply(400, message, id);
    let v: sonic_rs::Value = match sonic_rs::from_slice(body) {
        Ok(v) => v,
        Err(e) => return invalid(format!("Malformed input request: {e}"), id),
    };
    let Some(input) = v.get("input").filter(|i| !i.is_null()) else {
        return invalid(
            "1 validation error detected: Value null at 'input' failed to satisfy constraint: Member must not be null"
                .into(),
            id,
        );
    };
    let members: Vec<(&str, &sonic_rs::Value)> = input
        .as_object()
        .map(|o| o.iter().filter(|(_, m)| !m.is_null()).collect())
        .unwrap_or_default();
    let decoded = match members.as_slice() {
        [("converse", c)] if c.is_object() => {
            bedrock::decode_request(&stand_ins(&sonic_rs::to_vec(c).unwrap_or_default()), Some(model), false)
                .and_then(|r| super::upstream_rules(crate::formats::Format::Bedrock, &r).map(|()| r))
        }
        [("invokeModel", i)] => {
            let Some(b64) = i.get("body").and_then(|b| b.as_str()) else {
                return invalid(
                    "1 validation error detected: Value null at 'input.invokeModel.body' failed to satisfy constraint: Member must not be null".into(),
                    id,
                );
            };
            let Some(native) = crate::wire::base64::decode(b64) else {
                return invalid(
                    "Malformed input request: input.invokeModel.body is not valid base64".into(),
                    id,
                );
            };
            decode_invoke(&native, model, false)
        }
        _ => {
            return invalid(
                "Malformed input request: input must set exactly one of converse or invokeModel".into(),
                id,
            )
        }
    };
    let req = match decoded {
        Ok(r) => r,
        Err(e) => return invalid(e.to_string(), id),
    };
    match scenario::count_tokens(&req) {
        Ok(n) => MockReply {
            status: 200,
            content_type: "application/json",
            headers: vec![("x-amzn-RequestId", id)],
            body: format!("{{\"inputTokens\":{n}}}").into_bytes(),
        },
        Err(fault) => error_reply(bedrock::encode_error(&fault), id),
    }
}

/// Answers a Bedrock Runtime request, or None when `path` is not a Bedrock route.
pub fn serve(method: Method, path: &str, body: &[u8]) -> Option<MockReply> {
    let (model, op) = bedrock::parse_path(path)?;
    let id = request_id();
    if method != Method::Post {
        return Some(fault_reply(404, format!("no route for {} {path}", method.as_str()), id));
    }
    if op == Operation::CountTokens {
        return Some(count_tokens(&model, body, id));
    }
    if op == Operation::Invoke {
        if model.contains("cohere.rerank") || model.contains("amazon.rerank") {
            return Some(rerank(&model, body, id));
        }
        if let Some(kind) = EmbedModel::of(&model) {
            return Some(embed(kind, &model, body, id));
        }
        // Model-native body of one of the chat families (`InvokeFamily`, PROTOCOLS 5.5).
        let decoded = decode_invoke(body, &model, false)
            .and_then(|r| super::signature_rule(crate::formats::Format::Bedrock, &r, body).map(|()| r));
        let req = match decoded {
            Ok(r) => r,
            Err(e) => return Some(fault_reply(400, e.to_string(), id)),
        };
        return Some(match scenario::respond_as(&req, &id, crate::formats::Format::Bedrock) {
            Ok(resp) => {
                let mut headers = vec![("x-amzn-RequestId", id)];
                headers.extend(bedrock::invoke::invocation_headers(
                    &resp.usage,
                    super::reported_latency_ms(),
                ));
                MockReply {
                    status: 200,
                    content_type: "application/json",
                    headers,
                    body: bedrock::invoke::encode_invoke_response(
                        bedrock::invoke::InvokeFamily::of_decoded(&model, body),
                        &resp,
                        body,
                        super::reported_latency_ms(),
                    ),
                }
            }
            Err(fault) => error_reply(bedrock::encode_error(&fault), id),
        });
    }
    if op != Operation::Converse {
        return super::stream::serve_whole(method, path, body);
    }
    let req = match decode_converse(body, &model, false) {
        Ok(r) => r,
        Err(e) => return Some(fault_reply(400, e.to_string(), id)),
    };
    Some(match scenario::respond_as(&req, &id, crate::formats::Format::Bedrock) {
        Ok(resp) => MockReply {
            status: 200,
            content_type: "application/json",
            headers: vec![("x-amzn-RequestId", id)],
            body: bedrock::encode_response_timed(&resp, super::reported_latency_ms()),
        },
        Err(fault) => error_reply(bedrock::encode_error(&fault), id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::JsonValueTrait;

    fn post(path: &str, body: &str) -> MockReply {
        serve(Method::Post, path, body.as_bytes()).unwrap()
    }

    /// Only Claude signs its reasoning on Bedrock: another vendor's model answers it unsigned
    /// and is not checked; a Claude id signs with Claude's token and refuses any other, but its
    /// count-tokens does not.
    #[test]
    fn only_claude_models_sign_and_check_reasoning() {
        let ask = r#"{"messages":[{"role":"user","content":[{"text":"hi"}]}]}"#;
        let reasoning = |model: &str| -> sonic_rs::Value {
            let r = post(&format!("/model/{model}/converse"), ask);
            assert_eq!(r.status, 200, "{model}");
            sonic_rs::from_slice(&r.body).unwrap()
        };
        let claude = reasoning("anthropic.claude-reasoning-v1");
        let blocks = claude
            .pointer(&sonic_rs::pointer!["output", "message", "content"])
            .unwrap();
        assert_eq!(
            blocks
                .pointer(&sonic_rs::pointer![0, "reasoningContent", "reasoningText", "signature"])
                .and_then(|s| s.as_str()),
            Some(scenario::MOCK_TOKENS[0].1)
        );
        assert!(blocks
            .pointer(&sonic_rs::pointer![1, "reasoningContent", "redactedContent"])
            .is_some());
        let deepseek = reasoning("deepseek.r1-reasoning-v1");
        let blocks = deepseek
            .pointer(&sonic_rs::pointer!["output", "message", "content"])
            .unwrap();
        let text = blocks
            .pointer(&sonic_rs::pointer![0, "reasoningContent", "reasoningText"])
            .unwrap();
        assert!(
            text.get("text").is_some() && text.get("signature").is_none(),
            "{deepseek:?}"
        );
        assert!(
            blocks.pointer(&sonic_rs::pointer![1, "text"]).is_some(),
            "no redacted block: {deepseek:?}"
        );
        // A history signed by Gemini (or marked): refused by Claude, not checked by DeepSeek.
        for sig in [
            scenario::MOCK_TOKENS[1].1.to_string(),
            format!("slcC{}", scenario::MOCK_TOKENS[0].1),
        ] {
            let history = format!(
                r#"{{"messages":[{{"role":"user","content":[{{"text":"hi"}}]}},{{"role":"assistant","content":[{{"reasoningContent":{{"reasoningText":{{"text":"t","signature":"{sig}"}}}}}},{{"text":"x"}}]}},{{"role":"user","content":[{{"text":"again"}}]}}]}}"#
            );
            assert_eq!(
                post("/model/anthropic.claude-v1/converse", &history).status,
                400,
                "{sig}"
            );
            assert_eq!(post("/model/deepseek.r1-v1/converse", &history).status, 200, "{sig}");
            let count = format!(r#"{{"input":{{"converse":{history}}}}}"#);
            assert_eq!(
                post("/model/anthropic.claude-v1/count-tokens", &count).status,
                200,
                "{sig}"
            );
        }
    }

    #[test]
    fn converse_echoes_through_the_scenarios() {
        let r = post(
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
            r#"{"messages":[{"role":"user","content":[{"text":"hi there"}]}]}"#,
        );
        assert_eq!(r.status, 200);
        let v: sonic_rs::Value = sonic_rs::from_slice(&r.body).unwrap();
        assert_eq!(
            v.pointer(&sonic_rs::pointer!["output", "message", "content", 0, "text"])
                .and_then(|t| t.as_str()),
            Some("echo: hi there")
        );
        assert_eq!(v.get("stopReason").and_then(|t| t.as_str()), Some("end_turn"));
        assert!(r.headers.iter().any(|(n, _)| *n == "x-amzn-RequestId"));
    }

    #[test]
    fn converse_content_rules_are_enforced_as_bedrock_does() {
        let call = r#"{"role":"assistant","content":[{"toolUse":{"toolUseId":"a","name":"f","input":{}}}]}"#;
        for (content, names) in [
            (r#"{"text":""}"#, "messages.0.content.0 is blank"),
            (
                r#"{"toolResult":{"toolUseId":"a","content":[{"text":""}]}}"#,
                "messages.2.content.0.toolResult.content.0 is blank",
            ),
            (
                r#"{"toolResult":{"toolUseId":"a","content":[{"json":[1]}]}}"#,
                "messages.2.content.0.toolResult.content.0.json is invalid",
            ),
        ] {
            let body = if content.contains("toolResult") {
                format!(
                    r#"{{"messages":[{{"role":"user","content":[{{"text":"go"}}]}},{call},{{"role":"user","content":[{content}]}}]}}"#
                )
            } else {
                format!(r#"{{"messages":[{{"role":"user","content":[{content}]}}]}}"#)
            };
            for op in ["converse", "converse-stream"] {
                let r = if op == "converse" {
                    post(&format!("/model/m/{op}"), &body)
                } else {
                    super::super::stream::serve_whole(Method::Post, &format!("/model/m/{op}"), body.as_bytes()).unwrap()
                };
                assert_eq!(r.status, 400, "{op} {content}");
                let text = String::from_utf8_lossy(&r.body);
                assert!(text.contains(names), "{op}: {text}");
            }
        }
    }

    #[test]
    fn model_fields_each_model_refuses_are_validation_errors() {
        let converse = |model: &str, fields: &str| {
            let body = format!(
                r#"{{"messages":[{{"role":"user","content":[{{"text":"hi"}}]}}],"additionalModelRequestFields":{fields}}}"#
            );
            let r = post(&format!("/model/{model}/converse"), &body);
            (r.status, String::from_utf8_lossy(&r.body).into_owned())
        };
        let nova = "amazon.nova-pro-v1%3A0";
        let claude = "anthropic.claude-3-5-sonnet-20240620-v1%3A0";
        assert_eq!(converse(nova, r#"{"inferenceConfig":{"topK":5}}"#).0, 200);
        assert_eq!(converse(claude, r#"{"top_k":5}"#).0, 200);
        for (model, fields, key) in [
            (nova, r#"{"top_k":5}"#, "[top_k]"),
            (nova, r#"{"seed":1}"#, "[seed]"),
            (claude, r#"{"top_k":5,"seed":1}"#, "[seed]"),
        ] {
            let (status, body) = converse(model, fields);
            assert_eq!(status, 400, "{model} {fields}");
            assert!(
                body.contains(&format!("extraneous key {key} is not permitted")),
                "{body}"
            );
        }
    }

    #[test]
    fn errors_are_bedrock_shaped() {
        let r = post(
            "/bedrock/model/error-429/converse",
            r#"{"messages":[{"role":"user","content":[{"text":"x"}]}]}"#,
        );
        assert_eq!(r.status, 429);
        assert!(r
            .headers
            .iter()
            .any(|(n, v)| *n == "x-amzn-ErrorType" && v.starts_with("ThrottlingException:")));
        let r = post("/model/m/converse", "{not json");
        assert_eq!(r.status, 400);
        assert!(r.headers[0].1.starts_with("ValidationException:"));
        let r = post("/model/anthropic.claude-v2/invoke", "{}");
        assert_eq!(r.status, 400, "an invoke body without messages is a validation error");
        let r = post(
            "/model/anthropic.claude-v2/invoke",
            r#"{"max_tokens":9,"messages":[{"role":"user","content":"a b"}]}"#,
        );
        assert_eq!((r.status, r.body.starts_with(b"{\"id\"")), (200, true));
        let r = post(
            "/model/m/converse-stream",
            r#"{"messages":[{"role":"user","content":[{"text":"a b"}]}]}"#,
        );
        assert_eq!((r.status, r.content_type), (200, "application/vnd.amazon.eventstream"));
        assert_eq!(serve(Method::Get, "/model/m/converse", b"").unwrap().status, 404);
        assert!(serve(Method::Post, "/v1/chat/completions", b"{}").is_none());
    }

    /// CountTokens answers the input tokens Converse or InvokeModel reports for the same request,
    /// refuses an `input` without exactly one of its two members, and fails as they do for an
    /// `error-NNN` model.
    #[test]
    fn count_tokens_matches_converse_and_invoke_usage() {
        let model = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0";
        let converse = r#"{"system":[{"text":"Be brief"}],
            "messages":[{"role":"user","content":[{"text":"hello there"}]},
                {"role":"assistant","content":[{"text":"echo: hello there"}]},
                {"role":"user","content":[{"text":"once more"},{"text":"please"}]}],
            "toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}}]}}"#;
        let chat = post(&format!("{model}/converse"), converse);
        assert_eq!(chat.status, 200);
        let v: sonic_rs::Value = sonic_rs::from_slice(&chat.body).unwrap();
        assert_eq!(v["usage"]["inputTokens"].as_u64(), Some(10));
        let counted = |body: &str| {
            let r = post(&format!("{model}/count-tokens"), body);
            assert_eq!((r.status, r.content_type), (200, "application/json"), "{body}");
            assert!(header(&r, "x-amzn-RequestId").is_some());
            let v: sonic_rs::Value = sonic_rs::from_slice(&r.body).unwrap();
            v["inputTokens"].as_u64().unwrap()
        };
        assert_eq!(counted(&format!(r#"{{"input":{{"converse":{converse}}}}}"#)), 10);
        let native = r#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"system":"Be brief","messages":[{"role":"user","content":"one two three"}]}"#;
        let chat = post(&format!("{model}/invoke"), native);
        assert_eq!(chat.status, 200);
        let v: sonic_rs::Value = sonic_rs::from_slice(&chat.body).unwrap();
        assert_eq!(v["usage"]["input_tokens"].as_u64(), Some(5));
        let body = crate::wire::base64::encode(native.as_bytes());
        assert_eq!(
            counted(&format!(r#"{{"input":{{"invokeModel":{{"body":"{body}"}}}}}}"#)),
            5
        );
        let m = r#"{"messages":[{"role":"user","content":[{"text":"a"}]}]}"#;
        for (body, says) in [
            (r#"{"input":{}}"#.to_string(), "exactly one of converse or invokeModel"),
            (
                format!(r#"{{"input":{{"converse":{m},"invokeModel":{{"body":"{body}"}}}}}}"#),
                "exactly one of converse or invokeModel",
            ),
            ("{}".to_string(), "Value null at 'input'"),
            (
                r#"{"input":{"invokeModel":{}}}"#.to_string(),
                "'input.invokeModel.body'",
            ),
            (
                r#"{"input":{"invokeModel":{"body":"*"}}}"#.to_string(),
                "not valid base64",
            ),
            (
                r#"{"input":{"converse":{"messages":[{"role":"user","content":[{"text":""}]}]}}}"#.to_string(),
                "is blank",
            ),
            ("{not json".to_string(), "Malformed input request"),
        ] {
            let r = post(&format!("{model}/count-tokens"), &body);
            assert_eq!(r.status, 400, "{body}");
            assert!(header(&r, "x-amzn-ErrorType").is_some_and(|t| t.starts_with("ValidationException")));
            let text = String::from_utf8_lossy(&r.body);
            assert!(text.contains(says), "{body}: {text}");
        }
        let r = post(
            "/bedrock/model/error-429/count-tokens",
            &format!(r#"{{"input":{{"converse":{m}}}}}"#),
        );
        assert_eq!(r.status, 429);
        assert!(header(&r, "x-amzn-ErrorType").is_some_and(|t| t.starts_with("ThrottlingException")));
    }

    #[test]
    fn converse_turn_rules_are_enforced_as_bedrock_does() {
        let go = r#"{"role":"user","content":[{"text":"go"}]}"#;
        let said = r#"{"role":"assistant","content":[{"text":"ok"}]}"#;
        let calls = r#"{"role":"assistant","content":[{"toolUse":{"toolUseId":"a","name":"f","input":{}}},{"toolUse":{"toolUseId":"b","name":"f","input":{}}}]}"#;
        let result = |id: &str| format!(r#"{{"toolResult":{{"toolUseId":"{id}","content":[{{"text":"ok"}}]}}}}"#);
        let answers = |ids: &[&str]| {
            let blocks: Vec<String> = ids.iter().map(|id| result(id)).collect();
            format!(r#"{{"role":"user","content":[{}]}}"#, blocks.join(","))
        };
        let run = |msgs: &[&str]| {
            let body = format!(r#"{{"messages":[{}]}}"#, msgs.join(","));
            [
                post("/model/m/converse", &body),
                super::super::stream::serve_whole(Method::Post, "/model/m/converse-stream", body.as_bytes()).unwrap(),
            ]
            .map(|r| (r.status, String::from_utf8_lossy(&r.body).into_owned()))
        };
        for (code, _) in run(&[go, calls, &answers(&["b", "a"])]) {
            assert_eq!(code, 200);
        }
        for (msgs, says) in [
            (vec![], "must start with a user message"),
            (vec![said.to_string(), go.to_string()], "must start with a user message"),
            (
                vec![go.to_string(), go.to_string()],
                "must alternate between user and assistant roles",
            ),
            (
                vec![go.to_string(), r#"{"role":"assistant","content":[]}"#.to_string()],
                "messages.1 is empty",
            ),
            (
                vec![go.to_string(), said.to_string(), answers(&["a"])],
                "exceeds the number of toolUse blocks",
            ),
            (
                vec![go.to_string(), calls.to_string(), answers(&["a"])],
                "for the following Ids: b",
            ),
            (
                vec![go.to_string(), calls.to_string(), go.to_string()],
                "for the following Ids: a, b",
            ),
        ] {
            let msgs: Vec<&str> = msgs.iter().map(String::as_str).collect();
            for (code, body) in run(&msgs) {
                assert_eq!(code, 400, "{body}");
                assert!(body.contains(says), "{body}");
            }
        }
    }

    /// A text-completion model refuses keys its body does not have (Llama has no `stop`).
    #[test]
    fn prompt_bodies_refuse_keys_their_model_does_not_take() {
        let llama = "/model/meta.llama3-8b-instruct-v1:0/invoke";
        let mistral = "/model/mistral.mistral-7b-instruct-v0:2/invoke";
        let ok = r#"{"prompt":"hi","max_gen_len":9,"temperature":0.5,"top_p":0.9}"#;
        assert_eq!(post(llama, ok).status, 200);
        assert_eq!(
            post(mistral, r#"{"prompt":"hi","max_tokens":9,"stop":["x"]}"#).status,
            200
        );
        let stopped = r#"{"prompt":"hi","max_gen_len":9,"stop":["x"]}"#;
        for r in [
            post(llama, stopped),
            super::super::stream::serve_whole(
                Method::Post,
                &format!("{llama}-with-response-stream"),
                stopped.as_bytes(),
            )
            .unwrap(),
        ] {
            assert_eq!(r.status, 400);
            assert!(header(&r, "x-amzn-ErrorType").is_some_and(|t| t.starts_with("ValidationException:")));
            assert!(String::from_utf8_lossy(&r.body).contains("extraneous key [stop] is not permitted"));
        }
    }

    /// Blocks Converse takes that no other format carries (guardrail content, media in S3, video)
    /// are answered, not refused: the guarded text is what the user said.
    #[test]
    fn converse_answers_blocks_only_bedrock_has() {
        let s3 = r#"{"s3Location":{"uri":"s3://b/k"}}"#;
        let body = format!(
            r#"{{"system":[{{"guardContent":{{"text":{{"text":"be safe"}}}}}}],"messages":[{{"role":"user","content":[
                {{"image":{{"format":"png","source":{s3}}}}},
                {{"document":{{"format":"pdf","name":"d","source":{s3}}}}},
                {{"video":{{"format":"mp4","source":{s3}}}}},
                {{"guardContent":{{"text":{{"text":"guarded words","qualifiers":["query"]}}}}}}]}}]}}"#
        );
        let r = post("/model/m/converse", &body);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert!(String::from_utf8_lossy(&r.body).contains("echo: guarded words"));
        let r = super::super::stream::serve_whole(Method::Post, "/model/m/converse-stream", body.as_bytes()).unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }

    /// A body without `messages` and `inferenceConfig` out of the service model's bounds are
    /// ValidationExceptions, as from AWS (boto3 checks the bounds itself; a gateway does not).
    #[test]
    fn converse_bounds_are_enforced_as_bedrock_does() {
        let go = r#""messages":[{"role":"user","content":[{"text":"go"}]}]"#;
        for (body, says) in [
            ("{}".to_string(), "must start with a user message"),
            (
                format!(r#"{{{go},"inferenceConfig":{{"maxTokens":0}}}}"#),
                "Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1",
            ),
            (
                format!(r#"{{{go},"inferenceConfig":{{"temperature":1.5}}}}"#),
                "Value '1.5' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1",
            ),
        ] {
            let r = post("/model/m/converse", &body);
            assert_eq!(r.status, 400, "{body}");
            assert!(header(&r, "x-amzn-ErrorType").is_some_and(|t| t.starts_with("ValidationException:")));
            let text = String::from_utf8_lossy(&r.body);
            assert!(text.contains(says), "{text}");
        }
        let fine = format!(r#"{{{go},"inferenceConfig":{{"maxTokens":1,"temperature":1,"topP":0}}}}"#);
        assert_eq!(post("/model/m/converse", &fine).status, 200);
    }

    fn floats(v: &sonic_rs::Value) -> Vec<f32> {
        use sonic_rs::JsonContainerTrait;
        v.as_array()
            .expect("an array of numbers")
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    }

    fn header<'a>(r: &'a MockReply, name: &str) -> Option<&'a str> {
        r.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn rerank_models_answer_with_the_shared_scores() {
        use sonic_rs::{JsonContainerTrait, JsonValueTrait};
        let body =
            r#"{"query":"capital of France","documents":["Berlin","the capital of France"],"top_n":1,"api_version":2}"#;
        let r = post("/model/cohere.rerank-v3-5%3A0/invoke", body);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v: sonic_rs::Value = sonic_rs::from_slice(&r.body).unwrap();
        let results = v.get("results").unwrap().as_array().unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].get("index").and_then(|i| i.as_u64()), Some(1));
        assert_eq!(
            results[0].get("relevance_score").and_then(|s| s.as_f64()),
            Some(crate::mock::rerank::score("capital of France", "the capital of France"))
        );
        assert!(v.get("id").is_some(), "Cohere's model gives an id");
        let r = post(
            "/model/amazon.rerank-v1%3A0/invoke",
            r#"{"query":"q","documents":["q","x"]}"#,
        );
        assert_eq!(r.status, 200);
        let v: sonic_rs::Value = sonic_rs::from_slice(&r.body).unwrap();
        assert!(v.get("id").is_none());
        assert_eq!(v.get("results").unwrap().as_array().unwrap().len(), 2);
        for (model, body, says) in [
            (
                "cohere.rerank-v3-5:0",
                r#"{"query":"q","documents":["a"]}"#,
                "api_version",
            ),
            (
                "cohere.rerank-v3-5:0",
                r#"{"query":"q","documents":[],"api_version":2}"#,
                "at least one",
            ),
            (
                "amazon.rerank-v1:0",
                r#"{"query":"q","documents":["a"],"top_n":0}"#,
                "top_n",
            ),
            ("amazon.rerank-v1:0", r#"{"documents":["a"]}"#, "query"),
        ] {
            let r = post(&format!("/model/{model}/invoke"), body);
            assert_eq!(r.status, 400, "{body}");
            let (_, kind) = r.headers.iter().find(|(n, _)| *n == "x-amzn-ErrorType").unwrap();
            assert!(kind.starts_with("ValidationException"), "{kind}");
            assert!(String::from_utf8_lossy(&r.body).contains(says), "{body}");
        }
    }

    #[test]
    fn titan_embeddings_answer_with_the_shared_vector_and_counts() {
        let r = post(
            "/model/amazon.titan-embed-text-v2%3A0/invoke",
            r#"{"inputText":"one two three","dimensions":256,"normalize":true}"#,
        );
        assert_eq!(r.status, 200);
        let v: sonic_rs::Value = sonic_rs::from_slice(&r.body).unwrap();
        let raw = crate::mock::openai::embed("one two three", 256);
        let expect = crate::canonical::embed::unit_length(&raw);
        assert_eq!(floats(&v["embedding"]), expect);
        assert_eq!(floats(&v["embeddingsByType"]["float"]), expect);
        assert!(v["embeddingsByType"].get("binary").is_none());
        assert_eq!(v["inputTextTokenCount"].as_u64(), Some(3));
        assert_eq!(header(&r, "x-amzn-bedrock-input-token-count"), Some("3"));
        assert!(header(&r, "x-amzn-bedrock-invocation-latency").is_some());
        assert!(header(&r, "x-amzn-RequestId").is_some());
        // Defaults: 1024 for v2, 1536 for v1 (which answers no embeddingsByType).
        let r = post(
            "/bedrock/model/us.amazon.titan-embed-text-v2:0/invoke",
            r#"{"inputText":"hi","embeddingTypes":["binary"]}"#,
        );
        let v: sonic_rs::Value = sonic_rs::from_slice(&r.body).unwrap();
        let expect = crate::canonical::embed::unit_length(&crate::mock::openai::embed("hi", 1024));
        assert_eq!(floats(&v["embedding"]), expect);
        assert!(v["embeddingsByType"].get("float").is_none());
        let bits: Vec<u8> = floats(&v["embeddingsByType"]["binary"])
            .iter()
            .map(|b| *b as u8)
            .collect();
        assert_eq!(bits, expect.iter().map(|x| u8::from(*x > 0.0)).collect::<Vec<_>>());
        // `normalize: false`: the vector as the model computes it.
        let r = post(
            "/model/amazon.titan-embed-text-v2:0/invoke",
            r#"{"inputText":"one two three","dimensions":256,"normalize":false}"#,
        );
        let v: sonic_rs::Value = sonic_rs::from_slice(&r.body).unwrap();
        assert_eq!(floats(&v["embedding"]), raw);
        let r = post(
            "/model/arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v1/invoke",
            r#"{"inputText":"a b"}"#,
        );
        assert_eq!(r.status, 200);
        let v: sonic_rs::Value = sonic_rs::from_slice(&r.body).unwrap();
        assert_eq!(floats(&v["embedding"]), crate::mock::openai::embed("a b", 1536));
        assert_eq!(v["inputTextTokenCount"].as_u64(), Some(2));
        assert!(v.get("embeddingsByType").is_none());
    }

    #[test]
    fn cohere_embeddings_answer_floats_or_by_type() {
        let r = post(
            "/model/cohere.embed-english-v3/invoke",
            r#"{"texts":["a b","c"],"input_type":"search_document","truncate":"END"}"#,
        );
        assert_eq!(r.status, 200);
        let v: sonic_rs::Value = sonic_rs::from_slice(&r.body).unwrap();
        assert_eq!(v["response_type"].as_str(), Some("embeddings_floats"));
        assert_eq!(floats(&v["embeddings"][0]), crate::mock::openai::embed("a b", 1024));
        assert_eq!(floats(&v["embeddings"][1]), crate::mock::openai::embed("c", 1024));
        assert_eq!(v["texts"][1].as_str(), Some("c"));
        assert!(v["id"].as_str().is_some_and(|id| !id.is_empty()));
        assert_eq!(header(&r, "x-amzn-bedrock-input-token-count"), Some("3"));
        let r = post(
            "/model/us.cohere.embed-v4:0/invoke",
            r#"{"texts":["x"],"input_type":"search_query","embedding_types":["float","int8"],"output_dimension":256}"#,
        );
        assert_eq!(r.status, 200);
        let v: sonic_rs::Value = sonic_rs::from_slice(&r.body).unwrap();
        assert_eq!(v["response_type"].as_str(), Some("embeddings_by_type"));
        let expect = crate::mock::openai::embed("x", 256);
        assert_eq!(floats(&v["embeddings"]["float"][0]), expect);
        assert_eq!(floats(&v["embeddings"]["int8"][0]).len(), 256);
        let r = post(
            "/model/cohere.embed-v4:0/invoke",
            r#"{"texts":["x"],"input_type":"clustering"}"#,
        );
        let v: sonic_rs::Value = sonic_rs::from_slice(&r.body).unwrap();
        assert_eq!(floats(&v["embeddings"][0]), crate::mock::openai::embed("x", 1536));
    }

    #[test]
    fn embedding_bodies_the_model_refuses_are_validation_errors() {
        for (model, body, says) in [
            (
                "amazon.titan-embed-text-v2:0",
                r#"{"texts":["a"]}"#,
                "extraneous key [texts]",
            ),
            (
                "amazon.titan-embed-text-v2:0",
                r#"{}"#,
                "required key [inputText] not found",
            ),
            (
                "amazon.titan-embed-text-v2:0",
                r#"{"inputText":"a","dimensions":100}"#,
                "#/dimensions: 100",
            ),
            (
                "amazon.titan-embed-text-v2:0",
                r#"{"inputText":"a","embeddingTypes":["int8"]}"#,
                "embeddingTypes",
            ),
            ("amazon.titan-embed-text-v2:0", r#"{"inputText":""}"#, "minLength"),
            (
                "amazon.titan-embed-text-v1",
                r#"{"inputText":"a","dimensions":256}"#,
                "extraneous key [dimensions]",
            ),
            (
                "cohere.embed-english-v3",
                r#"{"texts":["a"]}"#,
                "required key [input_type] not found",
            ),
            (
                "cohere.embed-english-v3",
                r#"{"texts":["a"],"input_type":"query"}"#,
                "#/input_type: query",
            ),
            (
                "cohere.embed-multilingual-v3",
                r#"{"texts":["a"],"input_type":"clustering","output_dimension":256}"#,
                "extraneous key [output_dimension]",
            ),
            (
                "cohere.embed-v4:0",
                r#"{"texts":["a"],"input_type":"clustering","output_dimension":100}"#,
                "#/output_dimension: 100",
            ),
            ("cohere.embed-v4:0", r#"{"input_type":"clustering"}"#, "one of texts"),
            (
                "cohere.embed-v4:0",
                &format!(r#"{{"texts":["a","{}"],"input_type":"clustering"}}"#, "é".repeat(2049)),
                "#/texts/1: expected maxLength: 2048, actual: 2049",
            ),
            ("cohere.embed-v4:0", "[1]", "expected type: JSONObject"),
        ] {
            let r = post(&format!("/model/{model}/invoke"), body);
            assert_eq!(r.status, 400, "{model} {body}");
            assert_eq!(
                header(&r, "x-amzn-ErrorType").map(|t| t.split(':').next().unwrap()),
                Some("ValidationException")
            );
            let v: sonic_rs::Value = sonic_rs::from_slice(&r.body).unwrap();
            let message = v["message"].as_str().unwrap();
            assert!(
                message.starts_with("Malformed input request: ") && message.contains(says),
                "{message}"
            );
            assert!(header(&r, "x-amzn-RequestId").is_some());
        }
        let r = post(
            "/model/cohere.embed-english-v3-error-429/invoke",
            r#"{"texts":["a"],"input_type":"clustering"}"#,
        );
        assert_eq!(r.status, 429);
        assert!(header(&r, "x-amzn-ErrorType").is_some_and(|t| t.starts_with("ThrottlingException")));
        let r = post(
            "/model/amazon.titan-embed-text-v2:0-error-500/invoke",
            r#"{"inputText":"a"}"#,
        );
        assert_eq!(r.status, 500);
    }
}
