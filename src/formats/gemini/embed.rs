//! Gemini embeddings, both roles: `embedContent` and `batchEmbedContents` (Gemini API) and
//! Vertex `predict` (google-genai 3.4's default with `vertexai=True`) <-> `canonical::embed`.
//!
//! Wire shapes (google-genai 3.4 `models.py`: `_EmbedContentParametersPrivate_to_mldev`,
//! `_EmbedContentConfig_to_vertex`, `_EmbedContentResponse_from_vertex`):
//! - `embedContent`: `{"content":{"parts":[{"text"}]},"taskType","title","outputDimensionality"}`
//!   -> `{"embedding":{"values"}}`.
//! - `batchEmbedContents`: `{"requests":[{"model":"models/m","content",...}]}` ->
//!   `{"embeddings":[{"values"}],"usageMetadata"?}`.
//! - `predict`: `{"instances":[{"content":"text","task_type","title"}],"parameters":
//!   {"outputDimensionality","autoTruncate"}}` -> `{"predictions":[{"embeddings":{"values",
//!   "statistics":{"token_count","truncated"}}}],"metadata":{"billableCharacterCount"}}`.
//!
//! Keys are read under either proto3 spelling (`task_type` / `taskType`); the settings are also
//! read from `embedContentConfig`, where the SDK puts them for Vertex's `embedContent` models.
//! Canonical holds one task, title and size for the whole batch, so a batch whose requests
//! disagree is refused rather than silently unified. Only text crosses formats: a media part
//! is refused by name.

use super::{field, str_field, write, ApiMethod};
use crate::canonical::embed::{EmbedReply, EmbedRequest, EmbedResponse, EmbedTask, Truncate};
use crate::canonical::{ConvertError, Json, JsonPath};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};

/// Gemini `taskType` -> canonical; `Ok(None)` for `TASK_TYPE_UNSPECIFIED`, Err for a name this
/// version does not know.
fn task_from_gemini(s: &str) -> Result<Option<EmbedTask>, ()> {
    Ok(Some(match s {
        "TASK_TYPE_UNSPECIFIED" => return Ok(None),
        "RETRIEVAL_DOCUMENT" => EmbedTask::SearchDocument,
        "RETRIEVAL_QUERY" => EmbedTask::SearchQuery,
        "CLASSIFICATION" => EmbedTask::Classification,
        "CLUSTERING" => EmbedTask::Clustering,
        "SEMANTIC_SIMILARITY" => EmbedTask::SemanticSimilarity,
        "QUESTION_ANSWERING" => EmbedTask::QuestionAnswering,
        "FACT_VERIFICATION" => EmbedTask::FactVerification,
        "CODE_RETRIEVAL_QUERY" => EmbedTask::CodeRetrievalQuery,
        _ => return Err(()),
    }))
}

/// Canonical -> Gemini `taskType`.
fn task_to_gemini(t: EmbedTask) -> &'static str {
    match t {
        EmbedTask::SearchDocument => "RETRIEVAL_DOCUMENT",
        EmbedTask::SearchQuery => "RETRIEVAL_QUERY",
        EmbedTask::Classification => "CLASSIFICATION",
        EmbedTask::Clustering => "CLUSTERING",
        EmbedTask::SemanticSimilarity => "SEMANTIC_SIMILARITY",
        EmbedTask::QuestionAnswering => "QUESTION_ANSWERING",
        EmbedTask::FactVerification => "FACT_VERIFICATION",
        EmbedTask::CodeRetrievalQuery => "CODE_RETRIEVAL_QUERY",
    }
}

/// The per-request settings canonical holds once per batch.
#[derive(Default, PartialEq)]
struct Settings {
    task: Option<EmbedTask>,
    title: Option<String>,
    dimensions: Option<u32>,
    truncate: Option<Truncate>,
}

/// A setting from `v` itself or from its `embedContentConfig` (Vertex `embedContent` style).
fn setting<'a>(v: &'a Json, name: &str) -> Option<&'a Json> {
    field(v, name).or_else(|| field(v, "embedContentConfig").and_then(|c| field(c, name)))
}

/// Reads `taskType`, `title`, `outputDimensionality` and `autoTruncate` from `v` (a request, an
/// instance or Vertex `parameters`); errors name the field under `path`.
fn read_settings(v: &Json, path: &JsonPath<'_>, into: &mut Settings) -> Result<(), ConvertError> {
    if let Some(t) = setting(v, "taskType") {
        let name = t
            .as_str()
            .ok_or_else(|| ConvertError::new(path.key("taskType"), "must be a string"))?;
        into.task = task_from_gemini(name).map_err(|()| {
            ConvertError::new(
                path.key("taskType"),
                format!("unknown task type {name:?} (expected RETRIEVAL_QUERY, RETRIEVAL_DOCUMENT, SEMANTIC_SIMILARITY, CLASSIFICATION, CLUSTERING, QUESTION_ANSWERING, FACT_VERIFICATION or CODE_RETRIEVAL_QUERY)"),
            )
        })?;
    }
    if let Some(t) = setting(v, "title") {
        let t = t
            .as_str()
            .ok_or_else(|| ConvertError::new(path.key("title"), "must be a string"))?;
        into.title = Some(t.to_string());
    }
    if let Some(d) = setting(v, "outputDimensionality") {
        let d = d
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| ConvertError::new(path.key("outputDimensionality"), "must be a positive integer"))?;
        // Gemini reads 0 as unset (the model's full size), which other formats spell by leaving
        // the field out: OpenAI refuses `dimensions: 0`.
        into.dimensions = Some(d).filter(|d| *d > 0);
    }
    if let Some(t) = setting(v, "autoTruncate") {
        let t = t
            .as_bool()
            .ok_or_else(|| ConvertError::new(path.key("autoTruncate"), "must be a boolean"))?;
        // Vertex drops the end of a long input, or refuses it.
        into.truncate = Some(if t { Truncate::End } else { Truncate::None });
    }
    Ok(())
}

/// Refuses a batch element whose settings differ from the first element's, naming the field.
fn same_settings(first: &Settings, this: &Settings, path: &JsonPath<'_>) -> Result<(), ConvertError> {
    let differs = |name: &str| {
        Err(ConvertError::new(
            path.key(name),
            format!("every request of a batch must have the same {name} to be translated to another format (the others take one value for the whole batch); send separate calls"),
        ))
    };
    if first.task != this.task {
        return differs("taskType");
    }
    if first.title != this.title {
        return differs("title");
    }
    if first.dimensions != this.dimensions {
        return differs("outputDimensionality");
    }
    if first.truncate != this.truncate {
        return differs("autoTruncate");
    }
    Ok(())
}

/// A `Content`'s text: its text parts joined with "\n". Any other part is refused by name.
fn content_text(c: &Json, path: &JsonPath<'_>) -> Result<String, ConvertError> {
    if let Some(s) = c.as_str() {
        // Vertex `predict` instances carry the text itself.
        return Ok(s.to_string());
    }
    if !c.is_object() {
        return Err(ConvertError::new(path, "must be a Content object"));
    }
    let ppath = path.key("parts");
    let parts = field(c, "parts")
        .and_then(|p| p.as_array())
        .ok_or_else(|| ConvertError::new(ppath, "expected an array of parts"))?;
    let mut text = String::new();
    for (i, p) in parts.iter().enumerate() {
        let ipath = ppath.index(i);
        if let Some(t) = str_field(p, "text") {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(t);
            continue;
        }
        let other = p.as_object().and_then(|o| {
            o.iter()
                .find(|(_, v)| !v.is_null())
                .map(|(k, _)| super::camel(k).into_owned())
        });
        return Err(match other {
            Some(k) => ConvertError::new(
                ipath.key(&k),
                "only text can be embedded across formats; send media to a Gemini model through the Gemini API",
            ),
            None => ConvertError::new(ipath, "expected a text part"),
        });
    }
    Ok(text)
}

fn parse(body: &[u8], what: &str) -> Result<Json, ConvertError> {
    let v: Json = sonic_rs::from_slice(body).map_err(|e| {
        ConvertError::new(
            "",
            format!("{what} body is not valid JSON: {}", crate::wire::json::brief(&e)),
        )
    })?;
    if !v.is_object() {
        return Err(ConvertError::new("", format!("{what} body must be a JSON object")));
    }
    Ok(v)
}

/// A non-empty array field of the body, or an error naming it.
fn batch<'a>(v: &'a Json, name: &'static str) -> Result<&'a sonic_rs::Array, ConvertError> {
    let a = field(v, name)
        .and_then(|a| a.as_array())
        .ok_or_else(|| ConvertError::new(name, "expected an array"))?;
    if a.is_empty() {
        return Err(ConvertError::new(name, "at least one text to embed is required"));
    }
    Ok(a)
}

/// Integration: a Gemini client's embeddings body for `method`, as canonical.
pub fn decode_embed_request(body: &[u8], path_model: &str, method: ApiMethod) -> Result<EmbedRequest, ConvertError> {
    let v = parse(body, "request")?;
    let root = JsonPath::ROOT;
    let mut settings = Settings::default();
    let (texts, reply) = match method {
        ApiMethod::EmbedContent => {
            let cpath = root.key("content");
            let c = field(&v, "content").ok_or_else(|| ConvertError::new("content", "required"))?;
            read_settings(&v, &root, &mut settings)?;
            (vec![content_text(c, &cpath)?], EmbedReply::GeminiSingle)
        }
        ApiMethod::BatchEmbedContents | ApiMethod::Predict => {
            let (list, reply) = if method == ApiMethod::Predict {
                ("instances", EmbedReply::VertexPredict)
            } else {
                ("requests", EmbedReply::GeminiBatch)
            };
            let items = batch(&v, list)?;
            let lpath = root.key(list);
            let mut texts = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let ipath = lpath.index(i);
                let cpath = ipath.key("content");
                let c = field(item, "content").ok_or_else(|| ConvertError::new(cpath, "required"))?;
                texts.push(content_text(c, &cpath)?);
                let mut s = Settings::default();
                read_settings(item, &ipath, &mut s)?;
                if i == 0 {
                    settings = s;
                } else {
                    same_settings(&settings, &s, &ipath)?;
                }
            }
            if let Some(p) = field(&v, "parameters") {
                let ppath = root.key("parameters");
                let mut s = Settings::default();
                read_settings(p, &ppath, &mut s)?;
                settings.dimensions = s.dimensions.or(settings.dimensions);
                settings.truncate = s.truncate.or(settings.truncate);
            }
            (texts, reply)
        }
        ApiMethod::GenerateContent | ApiMethod::StreamGenerateContent | ApiMethod::CountTokens => {
            return Err(ConvertError::new(
                "",
                "not an embeddings method (expected embedContent, batchEmbedContents or predict)",
            ))
        }
    };
    Ok(EmbedRequest {
        model: path_model.to_string(),
        texts,
        task: settings.task,
        dimensions: settings.dimensions,
        title: settings.title,
        truncate: settings.truncate,
        reply,
        ..Default::default()
    })
}

/// The most requests one Gemini API `batchEmbedContents` call takes.
pub const MAX_BATCH_REQUESTS: usize = 100;
/// The most instances one Vertex `predict` call takes for a text embedding model.
pub const MAX_PREDICT_INSTANCES: usize = 250;

/// The most texts one call takes: the Gemini API's batch limit, or Vertex's instance limit,
/// which is one for its Gemini embedding models (`gemini-embedding-001` and later).
pub fn texts_per_call(model: &str, vertex: bool) -> usize {
    match vertex {
        false => MAX_BATCH_REQUESTS,
        true if model.contains("gemini-embedding") => 1,
        true => MAX_PREDICT_INSTANCES,
    }
}

/// Provider: `batchEmbedContents` (Gemini API) or `predict` (Vertex) body for one call's
/// `texts` (a slice of `req.texts`), keys in byte order as the other Gemini encoders write them.
///
/// Truncating the start of an input is refused: Gemini can only drop the end.
///
/// NOTE: canonical `normalize` and `user` have no Gemini field and are dropped; so is `truncate`
/// END / NONE for the Gemini API, which has no setting (the SDK refuses `auto_truncate` there).
pub fn encode_embed_call(req: &EmbedRequest, texts: &[String], vertex: bool) -> Result<Vec<u8>, ConvertError> {
    let auto_truncate = match req.truncate {
        None => None,
        Some(Truncate::End) => Some(true),
        Some(Truncate::None) => Some(false),
        Some(Truncate::Start) => {
            return Err(ConvertError::new(
                "truncate",
                "Gemini can only drop the end of a long input (Vertex autoTruncate); START cannot be honoured",
            ))
        }
    };
    let text_len: usize = texts.iter().map(|t| t.len() + 64).sum();
    let mut b = Vec::with_capacity(text_len + req.model.len() * texts.len() + 64);
    if vertex {
        b.extend_from_slice(b"{\"instances\":[");
        for (i, t) in texts.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            b.extend_from_slice(b"{\"content\":");
            write::string(&mut b, t);
            if let Some(task) = req.task {
                b.extend_from_slice(b",\"task_type\":");
                write::string(&mut b, task_to_gemini(task));
            }
            if let Some(title) = &req.title {
                b.extend_from_slice(b",\"title\":");
                write::string(&mut b, title);
            }
            b.push(b'}');
        }
        b.push(b']');
        if auto_truncate.is_some() || req.dimensions.is_some() {
            b.extend_from_slice(b",\"parameters\":{");
            if let Some(t) = auto_truncate {
                b.extend_from_slice(if t {
                    b"\"autoTruncate\":true"
                } else {
                    b"\"autoTruncate\":false"
                });
            }
            if let Some(d) = req.dimensions {
                if auto_truncate.is_some() {
                    b.push(b',');
                }
                b.extend_from_slice(b"\"outputDimensionality\":");
                write::uint(&mut b, d.into());
            }
            b.push(b'}');
        }
        b.push(b'}');
        return Ok(b);
    }
    let model = if req.model.starts_with("models/") {
        req.model.clone()
    } else {
        format!("models/{}", req.model)
    };
    b.extend_from_slice(b"{\"requests\":[");
    for (i, t) in texts.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        b.extend_from_slice(b"{\"content\":{\"parts\":[{\"text\":");
        write::string(&mut b, t);
        b.extend_from_slice(b"}]},\"model\":");
        write::string(&mut b, &model);
        if let Some(d) = req.dimensions {
            b.extend_from_slice(b",\"outputDimensionality\":");
            write::uint(&mut b, d.into());
        }
        if let Some(task) = req.task {
            b.extend_from_slice(b",\"taskType\":");
            write::string(&mut b, task_to_gemini(task));
        }
        if let Some(title) = &req.title {
            b.extend_from_slice(b",\"title\":");
            write::string(&mut b, title);
        }
        b.push(b'}');
    }
    b.extend_from_slice(b"]}");
    Ok(b)
}

/// Provider: the path, before `Provider::styled_path`.
pub fn embed_request_path(model: &str, vertex: bool) -> String {
    if vertex {
        super::model_path(model, ":predict")
    } else {
        super::model_path(model, ":batchEmbedContents")
    }
}

/// A `ContentEmbedding`'s `values`, or an error naming `path.values`.
fn values(e: &Json, path: &JsonPath<'_>) -> Result<Vec<f32>, ConvertError> {
    let vpath = path.key("values");
    let a = field(e, "values")
        .and_then(|a| a.as_array())
        .ok_or_else(|| ConvertError::new(vpath, "expected an array of numbers"))?;
    a.iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64()
                .and_then(crate::canonical::embed::to_f32)
                .ok_or_else(|| ConvertError::new(vpath.index(i), "must be a number"))
        })
        .collect()
}

/// A token count that may come as an integer or a float (`6.0`).
fn count(v: &Json) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f.max(0.0) as u64))
}

/// Provider: any of the three answer shapes, as canonical.
pub fn decode_embed_response(body: &[u8]) -> Result<EmbedResponse, ConvertError> {
    let v = parse(body, "response")?;
    let root = JsonPath::ROOT;
    let mut resp = EmbedResponse::default();
    let mut stat_tokens: Option<u64> = None;
    if let Some(e) = field(&v, "embedding") {
        resp.vectors.push(values(e, &root.key("embedding"))?);
    } else if let Some(list) = field(&v, "embeddings") {
        let lpath = root.key("embeddings");
        let list = list
            .as_array()
            .ok_or_else(|| ConvertError::new(lpath, "expected an array"))?;
        resp.vectors.reserve(list.len());
        for (i, e) in list.iter().enumerate() {
            resp.vectors.push(values(e, &lpath.index(i))?);
        }
    } else if let Some(list) = field(&v, "predictions") {
        let lpath = root.key("predictions");
        let list = list
            .as_array()
            .ok_or_else(|| ConvertError::new(lpath, "expected an array"))?;
        resp.vectors.reserve(list.len());
        for (i, p) in list.iter().enumerate() {
            let ipath = lpath.index(i);
            let epath = ipath.key("embeddings");
            let e = field(p, "embeddings").ok_or_else(|| ConvertError::new(epath, "required"))?;
            resp.vectors.push(values(e, &epath)?);
            if let Some(n) = field(e, "statistics")
                .and_then(|s| field(s, "tokenCount"))
                .and_then(count)
            {
                stat_tokens = Some(stat_tokens.unwrap_or(0).saturating_add(n));
            }
        }
    } else {
        return Err(ConvertError::new(
            "embeddings",
            "the answer has no embeddings (expected embedding, embeddings or predictions)",
        ));
    }
    resp.input_tokens = field(&v, "usageMetadata")
        .and_then(|u| field(u, "promptTokenCount"))
        .and_then(count)
        .or(stat_tokens);
    Ok(resp)
}

use crate::canonical::embed::write_vector;

fn vectors_len(resp: &EmbedResponse) -> usize {
    resp.vectors.iter().map(|v| v.len() * 12 + 32).sum::<usize>() + 128
}

/// Integration: the answer in the shape of `req.reply` (a reply of another format gets the
/// batch shape; the dispatcher never asks for it).
///
/// `usageMetadata.promptTokenCount` is written when the upstream counted tokens. Vertex gives a
/// count per prediction, which a batch answer from another format cannot be split into: a
/// prediction carries `statistics.token_count` only when it is the only one.
/// `billableCharacterCount` is the texts' length in characters.
pub fn encode_embed_response(resp: &EmbedResponse, req: &EmbedRequest) -> Vec<u8> {
    let mut b = Vec::with_capacity(vectors_len(resp));
    let usage = |b: &mut Vec<u8>| {
        if let Some(n) = resp.input_tokens {
            b.extend_from_slice(b",\"usageMetadata\":{\"promptTokenCount\":");
            write::uint(b, n);
            b.push(b'}');
        }
    };
    match req.reply {
        EmbedReply::GeminiSingle => {
            b.extend_from_slice(b"{\"embedding\":{\"values\":");
            write_vector(&mut b, resp.vectors.first().map_or(&[][..], |v| v));
            b.push(b'}');
            usage(&mut b);
            b.push(b'}');
        }
        EmbedReply::VertexPredict => {
            let chars: usize = req.texts.iter().map(|t| t.chars().count()).sum();
            b.extend_from_slice(b"{\"metadata\":{\"billableCharacterCount\":");
            write::uint(&mut b, chars as u64);
            b.extend_from_slice(b"},\"predictions\":[");
            let one = resp.vectors.len() == 1;
            for (i, v) in resp.vectors.iter().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                b.extend_from_slice(b"{\"embeddings\":{");
                if let (true, Some(n)) = (one, resp.input_tokens) {
                    b.extend_from_slice(b"\"statistics\":{\"token_count\":");
                    write::uint(&mut b, n);
                    b.extend_from_slice(b"},");
                }
                b.extend_from_slice(b"\"values\":");
                write_vector(&mut b, v);
                b.extend_from_slice(b"}}");
            }
            b.extend_from_slice(b"]}");
        }
        _ => {
            b.extend_from_slice(b"{\"embeddings\":[");
            for (i, v) in resp.vectors.iter().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                b.extend_from_slice(b"{\"values\":");
                write_vector(&mut b, v);
                b.push(b'}');
            }
            b.push(b']');
            usage(&mut b);
            b.push(b'}');
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `embedContent` as the Gemini API documents it, with two text parts.
    const SINGLE: &str = r#"{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"What is"},{"text":"the meaning of life?"}]},"taskType":"RETRIEVAL_DOCUMENT","title":"Life","outputDimensionality":256}"#;
    /// What google-genai 3.4 sends for `embed_content(contents=[..2], config={task_type,
    /// output_dimensionality})` to the Gemini API.
    const BATCH: &str = r#"{"requests":[{"content":{"parts":[{"text":"What is your name?"}],"role":"user"},"taskType":"RETRIEVAL_QUERY","outputDimensionality":64,"model":"models/gemini-embedding-001"},{"content":{"parts":[{"text":"What is your favorite color?"}],"role":"user"},"taskType":"RETRIEVAL_QUERY","outputDimensionality":64,"model":"models/gemini-embedding-001"}]}"#;
    /// What google-genai 3.4 sends with `vertexai=True` (`predict`, text instances).
    const PREDICT: &str = r#"{"instances":[{"content":"alpha","task_type":"CLASSIFICATION","title":"T"},{"content":"beta","task_type":"CLASSIFICATION","title":"T"}],"parameters":{"outputDimensionality":128,"autoTruncate":false}}"#;
    const SINGLE_ANSWER: &str = r#"{"embedding":{"values":[0.013168523,-0.008711934,-0.046782676]}}"#;
    const BATCH_ANSWER: &str =
        r#"{"embeddings":[{"values":[0.5,-1.0]},{"values":[0.25,2.0]}],"usageMetadata":{"promptTokenCount":11}}"#;
    const PREDICT_ANSWER: &str = r#"{"predictions":[{"embeddings":{"values":[0.1,0.2],"statistics":{"token_count":4,"truncated":false}}},{"embeddings":{"values":[0.3,0.4],"statistics":{"token_count":6.0,"truncated":false}}}],"metadata":{"billableCharacterCount":9}}"#;

    fn json(b: &[u8]) -> Json {
        sonic_rs::from_slice(b).expect("valid JSON")
    }

    fn keys(v: &Json) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().iter().map(|(k, _)| k.to_string()).collect();
        k.sort();
        k
    }

    #[test]
    fn embed_content_request_decodes_field_by_field() {
        let r = decode_embed_request(SINGLE.as_bytes(), "gemini-embedding-001", ApiMethod::EmbedContent).unwrap();
        assert_eq!(r.model, "gemini-embedding-001");
        assert_eq!(r.texts, vec!["What is\nthe meaning of life?".to_string()]);
        assert_eq!(r.task, Some(EmbedTask::SearchDocument));
        assert_eq!(r.title.as_deref(), Some("Life"));
        assert_eq!(r.dimensions, Some(256));
        assert_eq!(r.truncate, None);
        assert_eq!(r.reply, EmbedReply::GeminiSingle);
    }

    #[test]
    fn sdk_batch_request_decodes_field_by_field() {
        let r = decode_embed_request(BATCH.as_bytes(), "gemini-embedding-001", ApiMethod::BatchEmbedContents).unwrap();
        assert_eq!(r.texts, vec!["What is your name?", "What is your favorite color?"]);
        assert_eq!(r.task, Some(EmbedTask::SearchQuery));
        assert_eq!(r.dimensions, Some(64));
        assert_eq!(r.title, None);
        assert_eq!(r.reply, EmbedReply::GeminiBatch);
    }

    #[test]
    fn vertex_predict_request_decodes_field_by_field() {
        let r = decode_embed_request(PREDICT.as_bytes(), "text-embedding-005", ApiMethod::Predict).unwrap();
        assert_eq!(r.model, "text-embedding-005");
        assert_eq!(r.texts, vec!["alpha", "beta"]);
        assert_eq!(r.task, Some(EmbedTask::Classification));
        assert_eq!(r.title.as_deref(), Some("T"));
        assert_eq!(r.dimensions, Some(128));
        assert_eq!(r.truncate, Some(Truncate::None));
        assert_eq!(r.reply, EmbedReply::VertexPredict);
        let t = br#"{"instances":[{"content":"a"}],"parameters":{"autoTruncate":true}}"#;
        let r = decode_embed_request(t, "m", ApiMethod::Predict).unwrap();
        assert_eq!(r.truncate, Some(Truncate::End));
    }

    #[test]
    fn snake_case_keys_and_embed_content_config_are_read() {
        let b = br#"{"content":{"parts":[{"text":"x"}]},"task_type":"CODE_RETRIEVAL_QUERY","output_dimensionality":8}"#;
        let r = decode_embed_request(b, "m", ApiMethod::EmbedContent).unwrap();
        assert_eq!(r.task, Some(EmbedTask::CodeRetrievalQuery));
        assert_eq!(r.dimensions, Some(8));
        // Vertex `embedContent` models: settings under embedContentConfig.
        let b = br#"{"content":{"parts":[{"text":"x"}]},"embedContentConfig":{"taskType":"FACT_VERIFICATION","title":"t","autoTruncate":true}}"#;
        let r = decode_embed_request(b, "m", ApiMethod::EmbedContent).unwrap();
        assert_eq!(r.task, Some(EmbedTask::FactVerification));
        assert_eq!(r.title.as_deref(), Some("t"));
        assert_eq!(r.truncate, Some(Truncate::End));
    }

    #[test]
    fn every_task_type_maps_both_ways() {
        for name in [
            "RETRIEVAL_DOCUMENT",
            "RETRIEVAL_QUERY",
            "CLASSIFICATION",
            "CLUSTERING",
            "SEMANTIC_SIMILARITY",
            "QUESTION_ANSWERING",
            "FACT_VERIFICATION",
            "CODE_RETRIEVAL_QUERY",
        ] {
            let t = task_from_gemini(name).unwrap().unwrap();
            assert_eq!(task_to_gemini(t), name);
        }
        let b = br#"{"content":{"parts":[{"text":"x"}]},"taskType":"TASK_TYPE_UNSPECIFIED"}"#;
        assert_eq!(
            decode_embed_request(b, "m", ApiMethod::EmbedContent).unwrap().task,
            None
        );
    }

    #[test]
    fn refusals_name_the_field() {
        let cases: &[(&str, ApiMethod, &str)] = &[
            (
                r#"{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}}"#,
                ApiMethod::EmbedContent,
                "content.parts[0].inlineData",
            ),
            (
                r#"{"content":{"parts":[{"text":"a"},{"file_data":{"file_uri":"gs://x"}}]}}"#,
                ApiMethod::EmbedContent,
                "content.parts[1].fileData",
            ),
            (
                r#"{"requests":[{"content":{"parts":[{"text":"a"}]}},{"content":{"parts":[{"fileData":{}}]}}]}"#,
                ApiMethod::BatchEmbedContents,
                "requests[1].content.parts[0].fileData",
            ),
            (
                r#"{"content":{"parts":[{"text":"a"}]},"taskType":"SUMMARIZE"}"#,
                ApiMethod::EmbedContent,
                "taskType",
            ),
            (
                r#"{"requests":[{"content":{"parts":[{"text":"a"}]},"taskType":"RETRIEVAL_QUERY"},{"content":{"parts":[{"text":"b"}]},"taskType":"RETRIEVAL_DOCUMENT"}]}"#,
                ApiMethod::BatchEmbedContents,
                "requests[1].taskType",
            ),
            (
                r#"{"requests":[{"content":{"parts":[{"text":"a"}]},"title":"x"},{"content":{"parts":[{"text":"b"}]}}]}"#,
                ApiMethod::BatchEmbedContents,
                "requests[1].title",
            ),
            (
                r#"{"requests":[{"content":{"parts":[{"text":"a"}]}},{"content":{"parts":[{"text":"b"}]},"outputDimensionality":3}]}"#,
                ApiMethod::BatchEmbedContents,
                "requests[1].outputDimensionality",
            ),
            (
                r#"{"instances":[{"content":"a","task_type":"CLUSTERING"},{"content":"b"}]}"#,
                ApiMethod::Predict,
                "instances[1].taskType",
            ),
            (r#"{"requests":[]}"#, ApiMethod::BatchEmbedContents, "requests"),
            (r#"{"instances":[]}"#, ApiMethod::Predict, "instances"),
            (r#"{"taskType":"CLUSTERING"}"#, ApiMethod::EmbedContent, "content"),
            (
                r#"{"content":{"parts":[{"text":"a"}]},"outputDimensionality":-1}"#,
                ApiMethod::EmbedContent,
                "outputDimensionality",
            ),
        ];
        for (body, method, field) in cases {
            let e = decode_embed_request(body.as_bytes(), "m", *method).unwrap_err();
            assert_eq!(e.field, *field, "{body}: {}", e.message);
        }
        let e = decode_embed_request(SINGLE.as_bytes(), "m", ApiMethod::EmbedContent);
        assert!(e.is_ok());
        // 0 is Gemini's "unset" (the full size), as if left out: OpenAI refuses `dimensions: 0`.
        let zero = br#"{"content":{"parts":[{"text":"a"}]},"outputDimensionality":0}"#;
        assert_eq!(
            decode_embed_request(zero, "m", ApiMethod::EmbedContent)
                .unwrap()
                .dimensions,
            None
        );
        let e = decode_embed_request(
            br#"{"content":{"parts":[{"inlineData":{}}]}}"#,
            "m",
            ApiMethod::EmbedContent,
        )
        .unwrap_err();
        assert!(e.message.contains("only text"), "{}", e.message);
        assert!(decode_embed_request(SINGLE.as_bytes(), "m", ApiMethod::GenerateContent).is_err());
        assert!(decode_embed_request(SINGLE.as_bytes(), "m", ApiMethod::StreamGenerateContent).is_err());
    }

    fn request(texts: &[&str]) -> EmbedRequest {
        EmbedRequest {
            model: "gemini-embedding-001".into(),
            texts: texts.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn batch_request_encodes_every_setting_per_request() {
        let req = EmbedRequest {
            task: Some(EmbedTask::SemanticSimilarity),
            title: Some("Doc \"1\"".into()),
            dimensions: Some(768),
            truncate: Some(Truncate::End),
            normalize: Some(true),
            ..request(&["one", "two\nlines"])
        };
        let v = json(&encode_embed_call(&req, &req.texts, false).unwrap());
        assert_eq!(keys(&v), vec!["requests"]);
        let list = v["requests"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        for (i, text) in ["one", "two\nlines"].iter().enumerate() {
            let r = &list[i];
            assert_eq!(
                keys(r),
                vec!["content", "model", "outputDimensionality", "taskType", "title"]
            );
            assert_eq!(r["model"].as_str(), Some("models/gemini-embedding-001"));
            assert_eq!(r["content"]["parts"][0]["text"].as_str(), Some(*text));
            assert_eq!(r["content"]["parts"].as_array().unwrap().len(), 1);
            assert_eq!(r["taskType"].as_str(), Some("SEMANTIC_SIMILARITY"));
            assert_eq!(r["title"].as_str(), Some("Doc \"1\""));
            assert_eq!(r["outputDimensionality"].as_u64(), Some(768));
        }
        // Unset fields are omitted; a "models/" id is not prefixed twice.
        let req = EmbedRequest {
            model: "models/text-embedding-004".into(),
            ..request(&["x"])
        };
        let v = json(&encode_embed_call(&req, &req.texts, false).unwrap());
        assert_eq!(keys(&v["requests"][0]), vec!["content", "model"]);
        assert_eq!(v["requests"][0]["model"].as_str(), Some("models/text-embedding-004"));
        let start = EmbedRequest {
            truncate: Some(Truncate::Start),
            ..request(&["a"])
        };
        assert_eq!(
            encode_embed_call(&start, &start.texts, false).unwrap_err().field,
            "truncate"
        );
    }

    #[test]
    fn vertex_request_encodes_the_predict_body() {
        let req = EmbedRequest {
            task: Some(EmbedTask::SearchQuery),
            title: Some("t".into()),
            dimensions: Some(256),
            truncate: Some(Truncate::End),
            ..request(&["a", "b"])
        };
        let v = json(&encode_embed_call(&req, &req.texts, true).unwrap());
        assert_eq!(keys(&v), vec!["instances", "parameters"]);
        for (i, text) in ["a", "b"].iter().enumerate() {
            let inst = &v["instances"][i];
            assert_eq!(keys(inst), vec!["content", "task_type", "title"]);
            assert_eq!(inst["content"].as_str(), Some(*text));
            assert_eq!(inst["task_type"].as_str(), Some("RETRIEVAL_QUERY"));
            assert_eq!(inst["title"].as_str(), Some("t"));
        }
        assert_eq!(v["parameters"]["outputDimensionality"].as_u64(), Some(256));
        assert_eq!(v["parameters"]["autoTruncate"].as_bool(), Some(true));
        let none = EmbedRequest {
            truncate: Some(Truncate::None),
            ..request(&["a"])
        };
        let v = json(&encode_embed_call(&none, &none.texts, true).unwrap());
        assert_eq!(keys(&v["parameters"]), vec!["autoTruncate"]);
        assert_eq!(v["parameters"]["autoTruncate"].as_bool(), Some(false));
        let bare = json(&encode_embed_call(&request(&["a"]), &["a".to_string()], true).unwrap());
        assert_eq!(keys(&bare), vec!["instances"]);
        assert_eq!(keys(&bare["instances"][0]), vec!["content"]);
        let start = EmbedRequest {
            truncate: Some(Truncate::Start),
            ..request(&["a"])
        };
        assert_eq!(
            encode_embed_call(&start, &start.texts, true).unwrap_err().field,
            "truncate"
        );
    }

    #[test]
    fn requests_round_trip_through_canonical() {
        let a = decode_embed_request(BATCH.as_bytes(), "gemini-embedding-001", ApiMethod::BatchEmbedContents).unwrap();
        let body = encode_embed_call(&a, &a.texts, false).unwrap();
        let b = decode_embed_request(&body, "gemini-embedding-001", ApiMethod::BatchEmbedContents).unwrap();
        assert_eq!(a, b);
        let a = decode_embed_request(PREDICT.as_bytes(), "text-embedding-005", ApiMethod::Predict).unwrap();
        let body = encode_embed_call(&a, &a.texts, true).unwrap();
        let b = decode_embed_request(&body, "text-embedding-005", ApiMethod::Predict).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn answers_decode_in_all_three_shapes() {
        let r = decode_embed_response(SINGLE_ANSWER.as_bytes()).unwrap();
        assert_eq!(r.vectors, vec![vec![0.013168523, -0.008711934, -0.046782676]]);
        assert_eq!(r.input_tokens, None);
        let r = decode_embed_response(BATCH_ANSWER.as_bytes()).unwrap();
        assert_eq!(r.vectors, vec![vec![0.5, -1.0], vec![0.25, 2.0]]);
        assert_eq!(r.input_tokens, Some(11));
        let r = decode_embed_response(PREDICT_ANSWER.as_bytes()).unwrap();
        assert_eq!(r.vectors, vec![vec![0.1, 0.2], vec![0.3, 0.4]]);
        assert_eq!(r.input_tokens, Some(10), "the predictions' token counts are summed");
        let r = decode_embed_response(br#"{"predictions":[{"embeddings":{"values":[1]}}]}"#).unwrap();
        assert_eq!(r.input_tokens, None);
    }

    #[test]
    fn answers_without_values_are_errors() {
        for (body, field) in [
            (r#"{"embedding":{}}"#, "embedding.values"),
            (r#"{"embeddings":[{"values":[1]},{}]}"#, "embeddings[1].values"),
            (r#"{"embeddings":[{"values":[1,"x"]}]}"#, "embeddings[0].values[1]"),
            (r#"{"predictions":[{}]}"#, "predictions[0].embeddings"),
            (
                r#"{"predictions":[{"embeddings":{"statistics":{}}}]}"#,
                "predictions[0].embeddings.values",
            ),
            (r#"{"usageMetadata":{}}"#, "embeddings"),
            (r#"{"embeddings":{}}"#, "embeddings"),
            ("[]", ""),
            ("nope", ""),
        ] {
            assert_eq!(
                decode_embed_response(body.as_bytes()).unwrap_err().field,
                field,
                "{body}"
            );
        }
    }

    fn answer() -> EmbedResponse {
        EmbedResponse {
            vectors: vec![vec![0.1, -0.25, 3.5e-8], vec![1.0, 0.0, -1.0]],
            input_tokens: Some(7),
            ..Default::default()
        }
    }

    /// The f32 values of a JSON array, as the client's float parser would read them.
    fn floats(v: &Json) -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    }

    #[test]
    fn single_answer_carries_exactly_the_first_vector() {
        let req = EmbedRequest {
            reply: EmbedReply::GeminiSingle,
            ..request(&["a"])
        };
        let v = json(&encode_embed_response(&answer(), &req));
        assert_eq!(keys(&v), vec!["embedding", "usageMetadata"]);
        assert_eq!(keys(&v["embedding"]), vec!["values"]);
        assert_eq!(floats(&v["embedding"]["values"]), vec![0.1, -0.25, 3.5e-8]);
        assert_eq!(v["usageMetadata"]["promptTokenCount"].as_u64(), Some(7));
        let unknown = EmbedResponse {
            input_tokens: None,
            ..answer()
        };
        let v = json(&encode_embed_response(&unknown, &req));
        assert_eq!(keys(&v), vec!["embedding"]);
    }

    #[test]
    fn batch_answer_keeps_order_and_values_exactly() {
        let req = EmbedRequest {
            reply: EmbedReply::GeminiBatch,
            ..request(&["a", "b"])
        };
        let body = encode_embed_response(&answer(), &req);
        let v = json(&body);
        assert_eq!(keys(&v), vec!["embeddings", "usageMetadata"]);
        assert_eq!(floats(&v["embeddings"][0]["values"]), vec![0.1, -0.25, 3.5e-8]);
        assert_eq!(floats(&v["embeddings"][1]["values"]), vec![1.0, 0.0, -1.0]);
        // Written shortest round-trip for f32, and read back bit for bit.
        assert!(std::str::from_utf8(&body).unwrap().contains("[0.1,-0.25,3.5e-8]"));
        let back = decode_embed_response(&body).unwrap();
        assert_eq!(back.vectors, answer().vectors);
        assert_eq!(back.input_tokens, Some(7));
    }

    #[test]
    fn vertex_answer_has_metadata_and_per_prediction_counts_only_when_known() {
        let req = EmbedRequest {
            reply: EmbedReply::VertexPredict,
            ..request(&["héllo", "ab"])
        };
        let v = json(&encode_embed_response(&answer(), &req));
        assert_eq!(keys(&v), vec!["metadata", "predictions"]);
        assert_eq!(v["metadata"]["billableCharacterCount"].as_u64(), Some(7));
        let preds = v["predictions"].as_array().unwrap();
        assert_eq!(preds.len(), 2);
        assert_eq!(
            keys(&preds[0]["embeddings"]),
            vec!["values"],
            "a batch total cannot be split"
        );
        assert_eq!(floats(&preds[1]["embeddings"]["values"]), vec![1.0, 0.0, -1.0]);
        let one = EmbedResponse {
            vectors: vec![vec![0.5]],
            input_tokens: Some(3),
            ..Default::default()
        };
        let req = EmbedRequest {
            reply: EmbedReply::VertexPredict,
            ..request(&["abc"])
        };
        let body = encode_embed_response(&one, &req);
        let v = json(&body);
        assert_eq!(
            v["predictions"][0]["embeddings"]["statistics"]["token_count"].as_u64(),
            Some(3)
        );
        assert_eq!(decode_embed_response(&body).unwrap(), one);
    }

    #[test]
    fn non_finite_values_still_give_valid_json() {
        let resp = EmbedResponse {
            vectors: vec![vec![f32::NAN, f32::INFINITY, 1.0]],
            ..Default::default()
        };
        let req = EmbedRequest {
            reply: EmbedReply::GeminiBatch,
            ..request(&["a"])
        };
        let v = json(&encode_embed_response(&resp, &req));
        assert_eq!(floats(&v["embeddings"][0]["values"]), vec![0.0, 0.0, 1.0]);
    }

    #[test]
    fn no_decoder_panics_on_any_prefix() {
        let methods = [
            ApiMethod::EmbedContent,
            ApiMethod::BatchEmbedContents,
            ApiMethod::Predict,
        ];
        for fixture in [SINGLE, BATCH, PREDICT, SINGLE_ANSWER, BATCH_ANSWER, PREDICT_ANSWER] {
            let bytes = fixture.as_bytes();
            for end in 0..=bytes.len() {
                let prefix = &bytes[..end];
                for m in methods {
                    let _ = decode_embed_request(prefix, "m", m);
                }
                let _ = decode_embed_response(prefix);
            }
        }
    }
}
