//! Bedrock embeddings through InvokeModel, both roles: Titan text embeddings and Cohere embed
//! bodies <-> `canonical::embed`. The model id travels in the URL; the body is the vendor's own.
//!
//! Wire shapes (AWS Bedrock user guide, "Amazon Titan Embeddings G1 - Text" and "Cohere Embed
//! v3 / v4" model parameters):
//! - Titan v1 `{"inputText"}` -> `{"embedding","inputTextTokenCount"}`; v2 adds `dimensions`,
//!   `normalize`, `embeddingTypes` and answers with `embeddingsByType` as well.
//! - Cohere `{"texts","input_type","truncate","embedding_types","output_dimension"}` ->
//!   `{"embeddings":[[..]],"id","response_type":"embeddings_floats","texts"}`, or with
//!   `embedding_types` `{"embeddings":{"float":[[..]]},"response_type":"embeddings_by_type"}`.
//!
//! Titan embeds one text per call and Cohere 96 (`texts_per_call`); `formats::embed` splits a
//! larger batch into calls. Only text and float vectors cross formats: images, and binary or
//! quantized vectors (the model's own), are refused by name.

use crate::canonical::embed::{unit_length, write_vector, write_vectors};
use crate::canonical::embed::{EmbedReply, EmbedRequest, EmbedResponse, EmbedTask, Truncate};
use crate::canonical::{ConvertError, Json, JsonPath};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};

fn get<'a>(v: &'a Json, key: &str) -> Option<&'a Json> {
    v.get(key).filter(|x| !x.is_null())
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

fn u32_field(v: &Json, key: &str) -> Result<Option<u32>, ConvertError> {
    get(v, key)
        .map(|d| {
            d.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| ConvertError::new(key, "must be a positive integer"))
        })
        .transpose()
}

/// Refuses any embedding type but `float` in the array at `key`; Ok(true) when the key is set.
fn float_types_only(v: &Json, key: &str) -> Result<bool, ConvertError> {
    let Some(types) = get(v, key) else {
        return Ok(false);
    };
    let path = JsonPath::ROOT;
    let kpath = path.key(key);
    let types = types
        .as_array()
        .ok_or_else(|| ConvertError::new(kpath, "must be an array of strings"))?;
    for (i, t) in types.iter().enumerate() {
        if t.as_str() != Some("float") {
            return Err(ConvertError::new(
                kpath.index(i),
                format!(
                    "only float vectors can be translated across formats ({} vectors are the model's own; call the model without translation to get them)",
                    t.as_str().unwrap_or("these")
                ),
            ));
        }
    }
    Ok(true)
}

/// Integration: a Bedrock client's InvokeModel embeddings body, as canonical.
pub fn decode_embed_request(body: &[u8], path_model: &str) -> Result<EmbedRequest, ConvertError> {
    let v = parse(body, "request")?;
    let mut req = EmbedRequest {
        model: path_model.to_string(),
        ..Default::default()
    };
    if let Some(t) = get(&v, "inputText") {
        if get(&v, "inputImage").is_some() {
            return Err(ConvertError::new(
                "inputImage",
                "only text can be embedded across formats",
            ));
        }
        let t = t
            .as_str()
            .ok_or_else(|| ConvertError::new("inputText", "must be a string"))?;
        req.texts.push(t.to_string());
        req.dimensions = u32_field(&v, "dimensions")?;
        req.normalize = get(&v, "normalize")
            .map(|n| {
                n.as_bool()
                    .ok_or_else(|| ConvertError::new("normalize", "must be a boolean"))
            })
            .transpose()?;
        let types = float_types_only(&v, "embeddingTypes")?;
        let v2_body = req.dimensions.is_some() || req.normalize.is_some() || types;
        req.reply = EmbedReply::Titan {
            by_type: v2_body || path_model.contains("titan-embed-text-v2"),
        };
        return Ok(req);
    }
    for media in ["images", "inputs"] {
        if get(&v, media).is_some() {
            return Err(ConvertError::new(
                media,
                "only text can be embedded across formats; send `texts`",
            ));
        }
    }
    let texts = get(&v, "texts").ok_or_else(|| {
        ConvertError::new(
            "",
            "not an embeddings body: expected `inputText` (Titan) or `texts` (Cohere embed)",
        )
    })?;
    let root = JsonPath::ROOT;
    let tpath = root.key("texts");
    let texts = texts
        .as_array()
        .ok_or_else(|| ConvertError::new(tpath, "must be an array of strings"))?;
    req.texts.reserve(texts.len());
    for (i, t) in texts.iter().enumerate() {
        let t = t
            .as_str()
            .ok_or_else(|| ConvertError::new(tpath.index(i), "must be a string"))?;
        req.texts.push(t.to_string());
    }
    if let Some(it) = get(&v, "input_type") {
        req.task = Some(match it.as_str() {
            Some("search_document") => EmbedTask::SearchDocument,
            Some("search_query") => EmbedTask::SearchQuery,
            Some("classification") => EmbedTask::Classification,
            Some("clustering") => EmbedTask::Clustering,
            Some("image") => {
                return Err(ConvertError::new(
                    "input_type",
                    "only text can be embedded across formats",
                ))
            }
            _ => {
                return Err(ConvertError::new(
                    "input_type",
                    "expected search_document, search_query, classification or clustering",
                ))
            }
        });
    }
    if let Some(t) = get(&v, "truncate") {
        req.truncate = Some(match t.as_str() {
            Some("NONE") => Truncate::None,
            // v3 says START / END, v4 LEFT / RIGHT.
            Some("START" | "LEFT") => Truncate::Start,
            Some("END" | "RIGHT") => Truncate::End,
            _ => return Err(ConvertError::new("truncate", "expected NONE, START or END")),
        });
    }
    req.dimensions = u32_field(&v, "output_dimension")?;
    req.reply = EmbedReply::BedrockCohere {
        by_type: float_types_only(&v, "embedding_types")?,
    };
    Ok(req)
}

/// The most texts one InvokeModel call takes: Titan embeds one, Cohere 96. Any other model is
/// refused by `encode_embed_call`, so it needs no split.
pub fn texts_per_call(model: &str) -> usize {
    if model.contains("titan-embed") {
        1
    } else if model.contains("cohere.embed") {
        crate::formats::cohere::embed::MAX_TEXTS_PER_CALL
    } else {
        usize::MAX
    }
}

/// Provider: the InvokeModel body for `req.model` and one call's `texts` (a slice of
/// `req.texts`, one text for Titan), keys in byte order.
///
/// `req.model` may be a model id, a cross-region profile (`us.amazon.titan-embed-text-v2:0`) or
/// an ARN, so it is matched by substring.
///
/// NOTE: Titan has no task or truncation setting, and Cohere no `normalize`: those are dropped.
/// Gemini-only tasks go to the nearest Cohere `input_type`; none at all to `search_document`,
/// which Cohere v3 and later require.
pub fn encode_embed_call(req: &EmbedRequest, texts: &[String]) -> Result<Vec<u8>, ConvertError> {
    let model = req.model.as_str();
    if model.contains("titan-embed") {
        let [text] = texts else {
            return Err(ConvertError::new("input", "Titan embeds one text per call"));
        };
        let v2 = model.contains("titan-embed-text-v2");
        if req.dimensions.is_some() && !v2 {
            return Err(ConvertError::new(
                req.reply.dimensions_field(),
                format!("{model} has a fixed size; an output size is accepted by amazon.titan-embed-text-v2 only"),
            ));
        }
        let mut b = Vec::with_capacity(text.len() + 64);
        b.push(b'{');
        if let (true, Some(d)) = (v2, req.dimensions) {
            b.extend_from_slice(b"\"dimensions\":");
            b.extend_from_slice(itoa::Buffer::new().format(d).as_bytes());
            b.push(b',');
        }
        b.extend_from_slice(b"\"inputText\":");
        let _ = sonic_rs::to_writer(&mut b, text.as_str());
        if let (true, Some(n)) = (v2, req.normalize) {
            b.extend_from_slice(if n {
                b",\"normalize\":true"
            } else {
                b",\"normalize\":false"
            });
        }
        b.push(b'}');
        return Ok(b);
    }
    if model.contains("cohere.embed") {
        let v4 = model.contains("embed-v4");
        if req.dimensions.is_some() && !v4 {
            return Err(ConvertError::new(
                req.reply.dimensions_field(),
                format!("{model} has a fixed size; an output size is accepted by cohere.embed-v4 only"),
            ));
        }
        let input_type = match req.task {
            None | Some(EmbedTask::SearchDocument) => "search_document",
            Some(
                EmbedTask::SearchQuery
                | EmbedTask::QuestionAnswering
                | EmbedTask::FactVerification
                | EmbedTask::CodeRetrievalQuery,
            ) => "search_query",
            Some(EmbedTask::Classification) => "classification",
            Some(EmbedTask::Clustering | EmbedTask::SemanticSimilarity) => "clustering",
        };
        let len: usize = texts.iter().map(|t| t.len() + 4).sum();
        let mut b = Vec::with_capacity(len + 128);
        b.extend_from_slice(b"{\"embedding_types\":[\"float\"],\"input_type\":\"");
        b.extend_from_slice(input_type.as_bytes());
        b.push(b'"');
        if let Some(d) = req.dimensions {
            b.extend_from_slice(b",\"output_dimension\":");
            b.extend_from_slice(itoa::Buffer::new().format(d).as_bytes());
        }
        b.extend_from_slice(b",\"texts\":[");
        for (i, t) in texts.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            let _ = sonic_rs::to_writer(&mut b, t.as_str());
        }
        b.push(b']');
        if let Some(t) = req.truncate {
            // NOTE: the v4 model page documents LEFT / RIGHT where v3 takes START / END.
            let t = match (t, v4) {
                (Truncate::None, _) => "NONE",
                (Truncate::Start, false) => "START",
                (Truncate::End, false) => "END",
                (Truncate::Start, true) => "LEFT",
                (Truncate::End, true) => "RIGHT",
            };
            b.extend_from_slice(b",\"truncate\":\"");
            b.extend_from_slice(t.as_bytes());
            b.push(b'"');
        }
        b.push(b'}');
        return Ok(b);
    }
    Err(ConvertError::new(
        "model",
        format!("Bedrock embeddings are translated for amazon.titan-embed-text-* and cohere.embed-* models ({model:?} is neither)"),
    ))
}

/// Provider: the InvokeModel path.
pub fn embed_request_path(model: &str) -> String {
    let mut out = String::from("/model/");
    crate::wire::url::percent_encode_into(&mut out, model);
    out.push_str("/invoke");
    out
}

/// An array of numbers at `path`, as a vector.
fn vector(v: &Json, path: &JsonPath<'_>) -> Result<Vec<f32>, ConvertError> {
    let a = v
        .as_array()
        .ok_or_else(|| ConvertError::new(path, "expected an array of numbers"))?;
    a.iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64()
                .and_then(crate::canonical::embed::to_f32)
                .ok_or_else(|| ConvertError::new(path.index(i), "must be a number"))
        })
        .collect()
}

/// Provider: a Titan or Cohere embeddings answer, as canonical.
pub fn decode_embed_response(body: &[u8]) -> Result<EmbedResponse, ConvertError> {
    let v = parse(body, "response")?;
    let root = JsonPath::ROOT;
    let mut resp = EmbedResponse::default();
    if let Some(list) = get(&v, "embeddings") {
        // Cohere: `[[..]]`, or by type `{"float":[[..]]}`.
        let lpath = root.key("embeddings");
        let fpath = lpath.key("float");
        let (list, path) = if list.is_object() {
            let f = get(list, "float")
                .ok_or_else(|| ConvertError::new(fpath, "only float vectors can be translated across formats"))?;
            (f, &fpath)
        } else {
            (list, &lpath)
        };
        let list = list
            .as_array()
            .ok_or_else(|| ConvertError::new(path, "expected an array of vectors"))?;
        resp.vectors.reserve(list.len());
        for (i, e) in list.iter().enumerate() {
            resp.vectors.push(vector(e, &path.index(i))?);
        }
        resp.id = get(&v, "id").and_then(|x| x.as_str()).unwrap_or_default().to_string();
        return Ok(resp);
    }
    // Titan: `embedding`, which v2 also sends as `embeddingsByType.float`.
    let by_type = get(&v, "embeddingsByType").and_then(|t| get(t, "float"));
    let (e, path) = match (get(&v, "embedding"), by_type) {
        (Some(e), _) => (e, root.key("embedding")),
        (None, Some(e)) => (e, root.key("embeddingsByType")),
        (None, None) => {
            return Err(ConvertError::new(
                "embedding",
                "the answer has no embeddings (expected Titan `embedding` or Cohere `embeddings`)",
            ))
        }
    };
    resp.vectors.push(vector(e, &path)?);
    resp.input_tokens = get(&v, "inputTextTokenCount").and_then(|n| n.as_u64());
    Ok(resp)
}

/// A Cohere-style id for an answer whose upstream gave none, derived from the request.
fn generated_id(req: &EmbedRequest) -> String {
    let mut seed: u64 = 0xcbf29ce484222325;
    for t in &req.texts {
        for b in t.bytes().chain([0]) {
            seed = (seed ^ b as u64).wrapping_mul(0x100000001b3);
        }
    }
    crate::formats::cohere::uuid_like(seed)
}

/// Integration: the answer in the shape of `req.reply` (a reply of another format gets the
/// Titan shape; the dispatcher never asks for it). Titan answers one text, so only the first
/// vector is written; `inputTextTokenCount` is 0 when the upstream did not count.
pub fn encode_embed_response(resp: &EmbedResponse, req: &EmbedRequest) -> Vec<u8> {
    let size: usize = resp.vectors.iter().map(|v| v.len() * 12 + 8).sum();
    let mut b = Vec::with_capacity(2 * size + 128);
    match req.reply {
        EmbedReply::BedrockCohere { by_type } => {
            b.extend_from_slice(if by_type {
                b"{\"embeddings\":{\"float\":"
            } else {
                b"{\"embeddings\":"
            });
            write_vectors(&mut b, &resp.vectors);
            b.extend_from_slice(if by_type { b"},\"id\":" } else { b",\"id\":" });
            if resp.id.is_empty() {
                let _ = sonic_rs::to_writer(&mut b, generated_id(req).as_str());
            } else {
                let _ = sonic_rs::to_writer(&mut b, resp.id.as_str());
            }
            b.extend_from_slice(if by_type {
                b",\"response_type\":\"embeddings_by_type\",\"texts\":["
            } else {
                b",\"response_type\":\"embeddings_floats\",\"texts\":["
            });
            for (i, t) in req.texts.iter().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                let _ = sonic_rs::to_writer(&mut b, t.as_str());
            }
            b.extend_from_slice(b"]}");
        }
        _ => {
            let by_type = matches!(req.reply, EmbedReply::Titan { by_type: true });
            let first = resp.vectors.first().map_or(&[][..], |v| v);
            // Titan v2 normalizes unless told not to; the provider answering for it may not
            // (Gemini's vectors below full size are not unit length; the mock's never are).
            let unit;
            let first = match by_type && req.normalize != Some(false) {
                true => {
                    unit = unit_length(first);
                    &unit[..]
                }
                false => first,
            };
            b.extend_from_slice(b"{\"embedding\":");
            write_vector(&mut b, first);
            if by_type {
                b.extend_from_slice(b",\"embeddingsByType\":{\"float\":");
                write_vector(&mut b, first);
                b.push(b'}');
            }
            b.extend_from_slice(b",\"inputTextTokenCount\":");
            b.extend_from_slice(itoa::Buffer::new().format(resp.input_tokens.unwrap_or(0)).as_bytes());
            b.push(b'}');
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bodies for a request, split into calls as the proxy sends them.
    fn encode(req: &EmbedRequest) -> Result<Vec<Vec<u8>>, ConvertError> {
        crate::formats::embed::encode_request(crate::formats::Format::Bedrock, req, false)
            .map(|calls| calls.into_iter().map(|c| c.body).collect())
    }

    const TITAN_V1: &str = r#"{"inputText":"Hello world"}"#;
    const TITAN_V2: &str =
        r#"{"inputText":"Hello world","dimensions":256,"normalize":true,"embeddingTypes":["float"]}"#;
    const COHERE: &str = r#"{"texts":["first doc","second doc"],"input_type":"search_query","truncate":"END"}"#;
    const COHERE_BY_TYPE: &str = r#"{"texts":["a"],"input_type":"clustering","truncate":"START","embedding_types":["float"],"output_dimension":512}"#;
    const TITAN_V1_ANSWER: &str = r#"{"embedding":[0.5,-0.25,0.125],"inputTextTokenCount":3}"#;
    const TITAN_V2_ANSWER: &str =
        r#"{"embedding":[0.5,-0.25],"inputTextTokenCount":4,"embeddingsByType":{"float":[0.5,-0.25]}}"#;
    const COHERE_ANSWER: &str = r#"{"embeddings":[[0.1,0.2],[0.3,0.4]],"id":"6e3a9a27-2c48-4a6e-9f57-0d6a1f1e2b3c","response_type":"embeddings_floats","texts":["first doc","second doc"]}"#;
    const COHERE_BY_TYPE_ANSWER: &str =
        r#"{"embeddings":{"float":[[1.5,-2.0]]},"id":"x-1","response_type":"embeddings_by_type","texts":["a"]}"#;

    fn json(b: &[u8]) -> Json {
        sonic_rs::from_slice(b).expect("valid JSON")
    }

    fn keys(v: &Json) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().iter().map(|(k, _)| k.to_string()).collect();
        k.sort();
        k
    }

    fn floats(v: &Json) -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    }

    fn request(model: &str, texts: &[&str]) -> EmbedRequest {
        EmbedRequest {
            model: model.into(),
            texts: texts.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn titan_requests_decode_field_by_field() {
        let r = decode_embed_request(TITAN_V1.as_bytes(), "amazon.titan-embed-text-v1").unwrap();
        assert_eq!(r.model, "amazon.titan-embed-text-v1");
        assert_eq!(r.texts, vec!["Hello world"]);
        assert_eq!((r.dimensions, r.normalize, r.task), (None, None, None));
        assert_eq!(r.reply, EmbedReply::Titan { by_type: false });
        // The v2 answer shape follows the model id even for a bare body...
        let r = decode_embed_request(TITAN_V1.as_bytes(), "us.amazon.titan-embed-text-v2:0").unwrap();
        assert_eq!(r.reply, EmbedReply::Titan { by_type: true });
        // ... or the v2 fields whatever the id.
        let r = decode_embed_request(TITAN_V2.as_bytes(), "titan-alias").unwrap();
        assert_eq!(r.texts, vec!["Hello world"]);
        assert_eq!(r.dimensions, Some(256));
        assert_eq!(r.normalize, Some(true));
        assert_eq!(r.reply, EmbedReply::Titan { by_type: true });
    }

    #[test]
    fn cohere_requests_decode_field_by_field() {
        let r = decode_embed_request(COHERE.as_bytes(), "cohere.embed-english-v3").unwrap();
        assert_eq!(r.model, "cohere.embed-english-v3");
        assert_eq!(r.texts, vec!["first doc", "second doc"]);
        assert_eq!(r.task, Some(EmbedTask::SearchQuery));
        assert_eq!(r.truncate, Some(Truncate::End));
        assert_eq!(r.dimensions, None);
        assert_eq!(r.reply, EmbedReply::BedrockCohere { by_type: false });
        let r = decode_embed_request(COHERE_BY_TYPE.as_bytes(), "cohere.embed-v4:0").unwrap();
        assert_eq!(r.task, Some(EmbedTask::Clustering));
        assert_eq!(r.truncate, Some(Truncate::Start));
        assert_eq!(r.dimensions, Some(512));
        assert_eq!(r.reply, EmbedReply::BedrockCohere { by_type: true });
        for (name, task) in [
            ("search_document", EmbedTask::SearchDocument),
            ("classification", EmbedTask::Classification),
        ] {
            let b = format!(r#"{{"texts":["a"],"input_type":"{name}","truncate":"NONE"}}"#);
            let r = decode_embed_request(b.as_bytes(), "cohere.embed-english-v3").unwrap();
            assert_eq!((r.task, r.truncate), (Some(task), Some(Truncate::None)));
        }
    }

    #[test]
    fn refusals_name_the_field() {
        for (body, field) in [
            (
                r#"{"inputText":"a","embeddingTypes":["float","binary"]}"#,
                "embeddingTypes[1]",
            ),
            (r#"{"inputText":"a","inputImage":"AAAA"}"#, "inputImage"),
            (r#"{"inputText":5}"#, "inputText"),
            (r#"{"inputText":"a","dimensions":"256"}"#, "dimensions"),
            (r#"{"inputText":"a","normalize":"yes"}"#, "normalize"),
            (
                r#"{"texts":["a"],"input_type":"search_query","embedding_types":["int8"]}"#,
                "embedding_types[0]",
            ),
            (
                r#"{"images":["data:image/png;base64,AAAA"],"input_type":"image"}"#,
                "images",
            ),
            (
                r#"{"inputs":[{"content":[{"type":"text","text":"a"}]}],"input_type":"search_document"}"#,
                "inputs",
            ),
            (r#"{"texts":["a"],"input_type":"image"}"#, "input_type"),
            (r#"{"texts":["a"],"input_type":"search"}"#, "input_type"),
            (r#"{"texts":["a",1]}"#, "texts[1]"),
            (r#"{"texts":["a"],"truncate":"MIDDLE"}"#, "truncate"),
            (r#"{"texts":["a"],"output_dimension":-3}"#, "output_dimension"),
            (r#"{"prompt":"hi"}"#, ""),
        ] {
            let e = decode_embed_request(body.as_bytes(), "m").unwrap_err();
            assert_eq!(e.field, field, "{body}: {}", e.message);
        }
        let e = decode_embed_request(br#"{"texts":["a"],"embedding_types":["binary"]}"#, "m").unwrap_err();
        assert!(e.message.contains("only float"), "{}", e.message);
    }

    #[test]
    fn titan_fans_out_one_body_per_text_in_order() {
        let req = EmbedRequest {
            dimensions: Some(512),
            normalize: Some(false),
            task: Some(EmbedTask::SearchQuery),
            truncate: Some(Truncate::End),
            ..request(
                "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
                &["one", "two", "thr\"ee"],
            )
        };
        let bodies = encode(&req).unwrap();
        assert_eq!(bodies.len(), 3);
        for (b, text) in bodies.iter().zip(["one", "two", "thr\"ee"]) {
            let v = json(b);
            assert_eq!(keys(&v), vec!["dimensions", "inputText", "normalize"]);
            assert_eq!(v["inputText"].as_str(), Some(text));
            assert_eq!(v["dimensions"].as_u64(), Some(512));
            assert_eq!(v["normalize"].as_bool(), Some(false));
            // Each body decodes back to its own text and settings.
            let back = decode_embed_request(b, &req.model).unwrap();
            assert_eq!(back.texts, vec![text]);
            assert_eq!((back.dimensions, back.normalize), (Some(512), Some(false)));
        }
    }

    #[test]
    fn titan_v1_gets_only_the_text() {
        let req = EmbedRequest {
            normalize: Some(true),
            ..request("amazon.titan-embed-text-v1", &["a"])
        };
        let bodies = encode(&req).unwrap();
        assert_eq!(bodies, vec![br#"{"inputText":"a"}"#.to_vec()]);
        let sized = EmbedRequest {
            dimensions: Some(256),
            ..request("amazon.titan-embed-text-v1", &["a"])
        };
        assert_eq!(encode(&sized).unwrap_err().field, "dimensions");
        // The refusal names the size by the client's own field.
        for (reply, field) in [
            (
                EmbedReply::Cohere {
                    float: true,
                    base64: false,
                },
                "output_dimension",
            ),
            (EmbedReply::GeminiBatch, "outputDimensionality"),
        ] {
            let sized = EmbedRequest { reply, ..sized.clone() };
            assert_eq!(encode(&sized).unwrap_err().field, field);
        }
    }

    #[test]
    fn cohere_gets_one_body_with_mapped_settings() {
        let req = EmbedRequest {
            task: Some(EmbedTask::QuestionAnswering),
            dimensions: Some(1024),
            truncate: Some(Truncate::End),
            ..request("us.cohere.embed-v4:0", &["a", "b"])
        };
        let bodies = encode(&req).unwrap();
        assert_eq!(bodies.len(), 1);
        let v = json(&bodies[0]);
        assert_eq!(
            keys(&v),
            vec!["embedding_types", "input_type", "output_dimension", "texts", "truncate"]
        );
        assert_eq!(v["embedding_types"][0].as_str(), Some("float"));
        assert_eq!(v["embedding_types"].as_array().unwrap().len(), 1);
        assert_eq!(v["input_type"].as_str(), Some("search_query"));
        assert_eq!(v["output_dimension"].as_u64(), Some(1024));
        assert_eq!(v["texts"][1].as_str(), Some("b"));
        assert_eq!(v["truncate"].as_str(), Some("RIGHT"));
        // v3: START / END, no output_dimension; no task -> search_document.
        let req = EmbedRequest {
            truncate: Some(Truncate::Start),
            ..request("cohere.embed-multilingual-v3", &["a"])
        };
        let v = json(&encode(&req).unwrap()[0]);
        assert_eq!(keys(&v), vec!["embedding_types", "input_type", "texts", "truncate"]);
        assert_eq!(v["input_type"].as_str(), Some("search_document"));
        assert_eq!(v["truncate"].as_str(), Some("START"));
        for (task, name) in [
            (EmbedTask::SearchDocument, "search_document"),
            (EmbedTask::SearchQuery, "search_query"),
            (EmbedTask::Classification, "classification"),
            (EmbedTask::Clustering, "clustering"),
            (EmbedTask::SemanticSimilarity, "clustering"),
            (EmbedTask::FactVerification, "search_query"),
            (EmbedTask::CodeRetrievalQuery, "search_query"),
        ] {
            let req = EmbedRequest {
                task: Some(task),
                ..request("cohere.embed-english-v3", &["a"])
            };
            let v = json(&encode(&req).unwrap()[0]);
            assert_eq!(v["input_type"].as_str(), Some(name), "{task:?}");
        }
        let sized = EmbedRequest {
            dimensions: Some(256),
            ..request("cohere.embed-english-v3", &["a"])
        };
        assert_eq!(encode(&sized).unwrap_err().field, "dimensions");
    }

    #[test]
    fn other_models_are_refused_by_name() {
        for model in [
            "anthropic.claude-3-haiku-20240307-v1:0",
            "meta.llama3-8b-instruct-v1:0",
            "",
        ] {
            let e = encode(&request(model, &["a"])).unwrap_err();
            assert_eq!(e.field, "model");
            assert!(e.message.contains("amazon.titan-embed-text-*"), "{}", e.message);
        }
    }

    #[test]
    fn answers_decode_field_by_field() {
        let r = decode_embed_response(TITAN_V1_ANSWER.as_bytes()).unwrap();
        assert_eq!(r.vectors, vec![vec![0.5, -0.25, 0.125]]);
        assert_eq!(r.input_tokens, Some(3));
        let r = decode_embed_response(TITAN_V2_ANSWER.as_bytes()).unwrap();
        assert_eq!(r.vectors, vec![vec![0.5, -0.25]]);
        assert_eq!(r.input_tokens, Some(4));
        let r = decode_embed_response(br#"{"embeddingsByType":{"float":[1.0]},"inputTextTokenCount":1}"#).unwrap();
        assert_eq!(r.vectors, vec![vec![1.0]]);
        let r = decode_embed_response(COHERE_ANSWER.as_bytes()).unwrap();
        assert_eq!(r.vectors, vec![vec![0.1, 0.2], vec![0.3, 0.4]]);
        assert_eq!(r.id, "6e3a9a27-2c48-4a6e-9f57-0d6a1f1e2b3c");
        assert_eq!(r.input_tokens, None);
        let r = decode_embed_response(COHERE_BY_TYPE_ANSWER.as_bytes()).unwrap();
        assert_eq!(r.vectors, vec![vec![1.5, -2.0]]);
        assert_eq!(r.id, "x-1");
    }

    #[test]
    fn broken_answers_are_errors() {
        for (body, field) in [
            (r#"{"inputTextTokenCount":3}"#, "embedding"),
            (r#"{"embedding":[1,"x"]}"#, "embedding[1]"),
            (r#"{"embedding":{}}"#, "embedding"),
            (r#"{"embeddings":{"int8":[[1]]}}"#, "embeddings.float"),
            (r#"{"embeddings":[[1],2]}"#, "embeddings[1]"),
            (r#"{"embeddings":{"float":[[1,null]]}}"#, "embeddings.float[0][1]"),
            ("[1]", ""),
            ("", ""),
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
            vectors: vec![vec![0.1, -0.5], vec![2.0, 3.5e-8]],
            input_tokens: Some(9),
            ..Default::default()
        }
    }

    #[test]
    fn titan_answers_carry_the_first_vector() {
        let req = EmbedRequest {
            reply: EmbedReply::Titan { by_type: true },
            ..request("amazon.titan-embed-text-v2:0", &["a"])
        };
        let v = json(&encode_embed_response(&answer(), &req));
        assert_eq!(keys(&v), vec!["embedding", "embeddingsByType", "inputTextTokenCount"]);
        // Titan v2 normalizes by default: the vector comes at unit length, same direction.
        let unit = unit_length(&[0.1, -0.5]);
        assert!((unit[0] / unit[1] - 0.1 / -0.5).abs() < 1e-6);
        assert!((unit.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(floats(&v["embedding"]), unit);
        assert_eq!(floats(&v["embeddingsByType"]["float"]), unit);
        assert_eq!(v["inputTextTokenCount"].as_u64(), Some(9));
        // Asked not to, it comes as the provider gave it.
        let raw = EmbedRequest {
            normalize: Some(false),
            ..req.clone()
        };
        let v = json(&encode_embed_response(&answer(), &raw));
        assert_eq!(floats(&v["embedding"]), vec![0.1, -0.5]);
        assert_eq!(floats(&v["embeddingsByType"]["float"]), vec![0.1, -0.5]);
        let req = EmbedRequest {
            reply: EmbedReply::Titan { by_type: false },
            ..req
        };
        let unknown = EmbedResponse {
            input_tokens: None,
            ..answer()
        };
        let v = json(&encode_embed_response(&unknown, &req));
        assert_eq!(keys(&v), vec!["embedding", "inputTextTokenCount"]);
        assert_eq!(v["inputTextTokenCount"].as_u64(), Some(0));
    }

    #[test]
    fn cohere_answers_in_both_shapes_round_trip() {
        let floats_req = EmbedRequest {
            reply: EmbedReply::BedrockCohere { by_type: false },
            ..request("cohere.embed-english-v3", &["a", "b"])
        };
        let body = encode_embed_response(&answer(), &floats_req);
        let v = json(&body);
        assert_eq!(keys(&v), vec!["embeddings", "id", "response_type", "texts"]);
        assert_eq!(v["response_type"].as_str(), Some("embeddings_floats"));
        assert_eq!(floats(&v["embeddings"][1]), vec![2.0, 3.5e-8]);
        assert_eq!(v["texts"][0].as_str(), Some("a"));
        assert_eq!(v["texts"][1].as_str(), Some("b"));
        let id = v["id"].as_str().unwrap().to_string();
        assert_eq!(id.len(), 36, "a generated UUID-shaped id: {id}");
        let back = decode_embed_response(&body).unwrap();
        assert_eq!(back.vectors, answer().vectors);

        let by_type_req = EmbedRequest {
            reply: EmbedReply::BedrockCohere { by_type: true },
            ..floats_req
        };
        let named = EmbedResponse {
            id: "up-1".into(),
            ..answer()
        };
        let body = encode_embed_response(&named, &by_type_req);
        let v = json(&body);
        assert_eq!(keys(&v), vec!["embeddings", "id", "response_type", "texts"]);
        assert_eq!(v["response_type"].as_str(), Some("embeddings_by_type"));
        assert_eq!(keys(&v["embeddings"]), vec!["float"]);
        assert_eq!(floats(&v["embeddings"]["float"][0]), vec![0.1, -0.5]);
        assert_eq!(v["id"].as_str(), Some("up-1"));
        let back = decode_embed_response(&body).unwrap();
        assert_eq!((back.vectors, back.id), (answer().vectors, "up-1".to_string()));
    }

    #[test]
    fn no_decoder_panics_on_any_prefix() {
        for fixture in [
            TITAN_V1,
            TITAN_V2,
            COHERE,
            COHERE_BY_TYPE,
            TITAN_V1_ANSWER,
            TITAN_V2_ANSWER,
            COHERE_ANSWER,
            COHERE_BY_TYPE_ANSWER,
        ] {
            let bytes = fixture.as_bytes();
            for end in 0..=bytes.len() {
                let prefix = &bytes[..end];
                let _ = crate::formats::bedrock::invoke::body_kind(prefix, "m");
                let _ = decode_embed_request(prefix, "amazon.titan-embed-text-v2:0");
                let _ = decode_embed_response(prefix);
            }
        }
    }
}
