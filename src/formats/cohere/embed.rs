//! Cohere v2 embed (`POST /v2/embed`), for both roles. Shapes from the cohere SDK 7.x
//! (`v2/raw_client.py` `embed`, `types/embed_by_type_response.py`).
//!
//! Across formats only text crosses, and only vectors the gateway can give exactly: `float`,
//! and `base64` (the same float32, packed). Cohere's quantized types (`int8`, `uint8`,
//! `binary`, `ubinary`) are the model's own computation and are refused for other providers.

use crate::canonical::embed::{
    to_f32, vector_from_base64, vector_to_base64, write_vectors, EmbedReply, EmbedRequest, EmbedResponse, EmbedTask,
    Truncate,
};
use crate::canonical::ConvertError;
use serde::{Deserialize, Serialize};
use sonic_rs::{JsonContainerTrait, JsonValueTrait, LazyValue};

#[derive(Deserialize)]
struct RequestIn<'a> {
    #[serde(default)]
    model: String,
    #[serde(default)]
    texts: Option<Vec<String>>,
    #[serde(borrow, default)]
    images: Option<LazyValue<'a>>,
    #[serde(borrow, default)]
    inputs: Option<Vec<InputIn<'a>>>,
    #[serde(default)]
    input_type: Option<String>,
    #[serde(default)]
    embedding_types: Option<Vec<String>>,
    #[serde(default)]
    output_dimension: Option<u32>,
    #[serde(default)]
    truncate: Option<String>,
}

#[derive(Deserialize)]
struct InputIn<'a> {
    #[serde(borrow, default)]
    content: Vec<LazyValue<'a>>,
}

/// Integration: a Cohere client's `/v2/embed` body (or `/v1/embed`'s, `v1`), as canonical.
pub fn decode_embed_request(body: &[u8], v1: bool) -> Result<EmbedRequest, ConvertError> {
    let req: RequestIn = sonic_rs::from_slice(body).map_err(|e| ConvertError::new("", format!("invalid JSON: {e}")))?;
    if req.images.as_ref().is_some_and(|i| i.as_raw_str() != "null") {
        return Err(ConvertError::new(
            "images",
            "image embeddings cannot be translated to another provider's format",
        ));
    }
    let mut texts = req.texts.unwrap_or_default();
    for (i, input) in req.inputs.unwrap_or_default().iter().enumerate() {
        texts.push(input_text(i, input)?);
    }
    if texts.is_empty() {
        return Err(ConvertError::new("texts", "one of texts or inputs is required"));
    }
    let task = match req.input_type.as_deref() {
        None => None,
        Some("search_document") => Some(EmbedTask::SearchDocument),
        Some("search_query") => Some(EmbedTask::SearchQuery),
        Some("classification") => Some(EmbedTask::Classification),
        Some("clustering") => Some(EmbedTask::Clustering),
        Some("image") => {
            return Err(ConvertError::new(
                "input_type",
                "image embeddings cannot be translated to another provider's format",
            ))
        }
        Some(other) => return Err(ConvertError::new("input_type", format!("unknown input type {other:?}"))),
    };
    let (mut float, mut base64) = (false, false);
    for (i, t) in req.embedding_types.iter().flatten().enumerate() {
        match t.as_str() {
            "float" => float = true,
            "base64" => base64 = true,
            "int8" | "uint8" | "binary" | "ubinary" => {
                return Err(ConvertError::new(
                    format!("embedding_types[{i}]"),
                    format!("{t:?} embeddings are computed by Cohere's own models; another provider gives float vectors only (ask for \"float\" or \"base64\")"),
                ))
            }
            other => return Err(ConvertError::new(format!("embedding_types[{i}]"), format!("unknown type {other:?}"))),
        }
    }
    if !base64 {
        // None named, as the API defaults: floats.
        float = true;
    }
    let truncate = match req.truncate.as_deref() {
        None => None,
        Some(t) if t.eq_ignore_ascii_case("none") => Some(Truncate::None),
        Some(t) if t.eq_ignore_ascii_case("start") => Some(Truncate::Start),
        Some(t) if t.eq_ignore_ascii_case("end") => Some(Truncate::End),
        Some(other) => return Err(ConvertError::new("truncate", format!("unknown value {other:?}"))),
    };
    let reply = match v1 {
        true => EmbedReply::CohereV1 {
            by_type: req.embedding_types.is_some(),
            float,
            base64,
        },
        false => EmbedReply::Cohere { float, base64 },
    };
    Ok(EmbedRequest {
        model: req.model,
        texts,
        task,
        dimensions: req.output_dimension,
        truncate,
        reply,
        ..Default::default()
    })
}

/// One `inputs[]` entry as text: its text parts joined by a newline. An image part cannot
/// cross formats.
fn input_text(i: usize, input: &InputIn<'_>) -> Result<String, ConvertError> {
    let mut out = String::new();
    for (k, part) in input.content.iter().enumerate() {
        let kind = part.get("type").and_then(|t| t.as_str().map(str::to_string));
        match (kind.as_deref(), part.get("text")) {
            (Some("text") | None, Some(t)) if t.is_str() => {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(t.as_str().unwrap_or_default());
            }
            _ => {
                return Err(ConvertError::new(
                    format!("inputs[{i}].content[{k}]"),
                    "only text can be embedded by another provider",
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(ConvertError::new(format!("inputs[{i}].content"), "has no text"));
    }
    Ok(out)
}

#[derive(Serialize)]
struct RequestOut<'a> {
    model: &'a str,
    texts: &'a [String],
    input_type: &'static str,
    embedding_types: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimension: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    truncate: Option<&'static str>,
}

/// Cohere's `input_type` for a task. Cohere's v3+ models require one: without a task the
/// request is embedded as documents, the common case (an index being built). Gemini's other
/// tasks go to their nearest: similarity is clustering's use, the query-like tasks are queries.
pub fn input_type(task: Option<EmbedTask>) -> &'static str {
    match task {
        None | Some(EmbedTask::SearchDocument) => "search_document",
        Some(EmbedTask::SearchQuery)
        | Some(EmbedTask::QuestionAnswering)
        | Some(EmbedTask::FactVerification)
        | Some(EmbedTask::CodeRetrievalQuery) => "search_query",
        Some(EmbedTask::Classification) => "classification",
        Some(EmbedTask::Clustering) | Some(EmbedTask::SemanticSimilarity) => "clustering",
    }
}

/// The most texts one `/v2/embed` call takes (on Bedrock too).
pub const MAX_TEXTS_PER_CALL: usize = 96;

/// Provider: the `/v2/embed` body for one call's `texts` (a slice of `req.texts`), asking for
/// float vectors.
pub fn encode_embed_call(req: &EmbedRequest, texts: &[String]) -> Result<Vec<u8>, ConvertError> {
    let out = RequestOut {
        model: &req.model,
        texts,
        input_type: input_type(req.task),
        embedding_types: ["float"],
        output_dimension: req.dimensions,
        truncate: req.truncate.map(|t| match t {
            Truncate::None => "NONE",
            Truncate::Start => "START",
            Truncate::End => "END",
        }),
    };
    sonic_rs::to_vec(&out).map_err(|e| ConvertError::new("", e.to_string()))
}

/// Provider: an embed answer. `embeddings_by_type` (`{"float": [[..]]}`, or `base64` only) and
/// the older `embeddings_floats` (`[[..]]`) shapes are both read.
pub fn decode_embed_response(body: &[u8]) -> Result<EmbedResponse, ConvertError> {
    let v: sonic_rs::Value =
        sonic_rs::from_slice(body).map_err(|e| ConvertError::new("", format!("invalid JSON: {e}")))?;
    let emb = v
        .get("embeddings")
        .ok_or_else(|| ConvertError::new("embeddings", "missing"))?;
    let vectors: Vec<Vec<f32>> = if emb.is_array() {
        floats_list(emb, "embeddings")?
    } else if let Some(f) = emb.get("float") {
        floats_list(f, "embeddings.float")?
    } else if let Some(b) = emb.get("base64").and_then(|b| b.as_array()) {
        b.iter()
            .enumerate()
            .map(|(i, s)| {
                s.as_str()
                    .and_then(vector_from_base64)
                    .ok_or_else(|| ConvertError::new(format!("embeddings.base64[{i}]"), "not base64 float32"))
            })
            .collect::<Result<_, _>>()?
    } else {
        return Err(ConvertError::new("embeddings", "has no float vectors"));
    };
    let tokens = v
        .pointer(&sonic_rs::pointer!["meta", "billed_units", "input_tokens"])
        .and_then(|t| t.as_f64())
        .map(|t| t as u64);
    Ok(EmbedResponse {
        id: v.get("id").and_then(|i| i.as_str()).unwrap_or_default().to_string(),
        model: String::new(),
        vectors,
        input_tokens: tokens,
    })
}

fn floats_list(v: &sonic_rs::Value, field: &str) -> Result<Vec<Vec<f32>>, ConvertError> {
    let list = v
        .as_array()
        .ok_or_else(|| ConvertError::new(field, "must be an array of vectors"))?;
    list.iter()
        .enumerate()
        .map(|(i, vec)| {
            let nums = vec
                .as_array()
                .ok_or_else(|| ConvertError::new(format!("{field}[{i}]"), "must be an array of numbers"))?;
            nums.iter()
                .map(|x| x.as_f64().and_then(to_f32))
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| ConvertError::new(format!("{field}[{i}]"), "must be an array of numbers"))
        })
        .collect()
}

/// Integration: an `EmbedByTypeResponse` with the types the client asked for. Written by hand
/// around `write_vector`, the loop that costs.
pub fn encode_embed_response(resp: &EmbedResponse, req: &EmbedRequest) -> Vec<u8> {
    let (float, base64, v1, by_type) = match req.reply {
        EmbedReply::Cohere { float, base64 } => (float, base64, false, true),
        EmbedReply::CohereV1 { by_type, float, base64 } => (float, base64, true, by_type),
        _ => (true, false, false, true),
    };
    let values: usize = resp.vectors.iter().map(Vec::len).sum();
    let mut b = Vec::with_capacity(values * (12 * usize::from(float) + 6 * usize::from(base64)) + 256);
    b.extend_from_slice(b"{\"id\":");
    let _ = sonic_rs::to_writer(&mut b, resp.id.as_str());
    if !by_type {
        // v1's `embeddings_floats`: the float vectors as a bare list.
        b.extend_from_slice(b",\"embeddings\":");
        write_vectors(&mut b, &resp.vectors);
        return finish_embed_answer(b, resp, req, v1, "embeddings_floats");
    }
    b.extend_from_slice(b",\"embeddings\":{");
    if float {
        b.extend_from_slice(b"\"float\":");
        write_vectors(&mut b, &resp.vectors);
    }
    if base64 {
        if float {
            b.push(b',');
        }
        b.extend_from_slice(b"\"base64\":[");
        for (i, v) in resp.vectors.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            b.push(b'"');
            b.extend_from_slice(vector_to_base64(v).as_bytes());
            b.push(b'"');
        }
        b.push(b']');
    }
    b.push(b'}');
    finish_embed_answer(b, resp, req, v1, "embeddings_by_type")
}

/// The fields after `embeddings`: the texts, `meta` (API version, billed tokens) and the
/// `response_type` the SDK's union is told apart by.
fn finish_embed_answer(mut b: Vec<u8>, resp: &EmbedResponse, req: &EmbedRequest, v1: bool, kind: &str) -> Vec<u8> {
    b.extend_from_slice(b",\"texts\":");
    let _ = sonic_rs::to_writer(&mut b, &req.texts);
    b.extend_from_slice(b",\"meta\":{\"api_version\":{\"version\":\"");
    b.push(if v1 { b'1' } else { b'2' });
    b.extend_from_slice(b"\"},\"billed_units\":{");
    // A count the upstream did not give (Gemini's batchEmbedContents has none) is left out:
    // billing 0 tokens would be a number, and a wrong one.
    if let Some(n) = resp.input_tokens {
        b.extend_from_slice(b"\"input_tokens\":");
        b.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
    b.extend_from_slice(b"}},\"response_type\":\"");
    b.extend_from_slice(kind.as_bytes());
    b.extend_from_slice(b"\"}");
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::{json, Value};

    #[test]
    fn decodes_texts_inputs_task_types_and_truncation() {
        let r = decode_embed_request(
            br#"{"model":"embed-v4.0","texts":["a"],"inputs":[{"content":[{"type":"text","text":"b"},{"type":"text","text":"c"}]}],
                "input_type":"search_query","embedding_types":["base64"],"output_dimension":256,"truncate":"END"}"#,
            false,
        )
        .unwrap();
        assert_eq!(r.texts, vec!["a", "b\nc"]);
        assert_eq!(r.task, Some(EmbedTask::SearchQuery));
        assert_eq!((r.dimensions, r.truncate), (Some(256), Some(Truncate::End)));
        assert_eq!(
            r.reply,
            EmbedReply::Cohere {
                float: false,
                base64: true
            }
        );
        let r = decode_embed_request(br#"{"model":"m","texts":["a"],"input_type":"clustering"}"#, false).unwrap();
        assert_eq!(
            r.reply,
            EmbedReply::Cohere {
                float: true,
                base64: false
            }
        );
    }

    #[test]
    fn refuses_what_only_cohere_can_make() {
        for (body, field) in [
            (
                &br#"{"model":"m","texts":["a"],"input_type":"search_document","embedding_types":["float","int8"]}"#[..],
                "embedding_types[1]",
            ),
            (
                br#"{"model":"m","texts":["a"],"input_type":"search_document","embedding_types":["ubinary"]}"#,
                "embedding_types[0]",
            ),
            (
                br#"{"model":"m","images":["data:image/png;base64,AAAA"],"input_type":"image"}"#,
                "images",
            ),
            (br#"{"model":"m","texts":["a"],"input_type":"image"}"#, "input_type"),
            (
                br#"{"model":"m","inputs":[{"content":[{"type":"image_url","image_url":{"url":"data:x"}}]}]}"#,
                "inputs[0].content[0]",
            ),
            (br#"{"model":"m","input_type":"search_query"}"#, "texts"),
            (br#"{"model":"m","texts":["a"],"truncate":"MIDDLE"}"#, "truncate"),
        ] {
            let e = decode_embed_request(body, false).unwrap_err();
            assert_eq!(e.field, field, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn request_asks_for_floats_with_a_required_input_type() {
        let mut req = EmbedRequest {
            model: "embed-v4.0".into(),
            texts: vec!["x".into()],
            dimensions: Some(512),
            truncate: Some(Truncate::Start),
            ..Default::default()
        };
        let v: Value = sonic_rs::from_slice(&encode_embed_call(&req, &req.texts).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"model":"embed-v4.0","texts":["x"],"input_type":"search_document","embedding_types":["float"],"output_dimension":512,"truncate":"START"})
        );
        for (task, name) in [
            (EmbedTask::SearchQuery, "search_query"),
            (EmbedTask::Classification, "classification"),
            (EmbedTask::SemanticSimilarity, "clustering"),
            (EmbedTask::QuestionAnswering, "search_query"),
        ] {
            req.task = Some(task);
            let v: Value = sonic_rs::from_slice(&encode_embed_call(&req, &req.texts).unwrap()).unwrap();
            assert_eq!(v.get("input_type").and_then(|t| t.as_str()), Some(name));
        }
    }

    #[test]
    fn answers_decode_from_every_shape() {
        let by_type = br#"{"id":"e1","embeddings":{"float":[[0.5,-1],[0.25]]},"texts":["a","b"],"meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":4}},"response_type":"embeddings_by_type"}"#;
        let r = decode_embed_response(by_type).unwrap();
        assert_eq!(r.vectors, vec![vec![0.5, -1.0], vec![0.25]]);
        assert_eq!((r.id.as_str(), r.input_tokens), ("e1", Some(4)));
        let floats = br#"{"id":"e2","embeddings":[[1.5]],"response_type":"embeddings_floats"}"#;
        assert_eq!(decode_embed_response(floats).unwrap().vectors, vec![vec![1.5]]);
        let b64 = br#"{"id":"e3","embeddings":{"base64":["AAAAPwAAgL8AAIA+"]}}"#;
        assert_eq!(decode_embed_response(b64).unwrap().vectors, vec![vec![0.5, -1.0, 0.25]]);
        assert_eq!(
            decode_embed_response(br#"{"embeddings":{"int8":[[1]]}}"#)
                .unwrap_err()
                .field,
            "embeddings"
        );
        assert_eq!(
            decode_embed_response(br#"{"embeddings":[[1,"x"]]}"#).unwrap_err().field,
            "embeddings[0]"
        );
        for i in 0..by_type.len() {
            let _ = decode_embed_response(&by_type[..i]);
        }
    }

    #[test]
    fn answers_encode_with_the_asked_types_and_the_texts() {
        let resp = EmbedResponse {
            id: "x".into(),
            vectors: vec![vec![0.5, -1.0, 0.25]],
            input_tokens: Some(2),
            ..Default::default()
        };
        let req = EmbedRequest {
            texts: vec!["hi".into()],
            reply: EmbedReply::Cohere {
                float: true,
                base64: true,
            },
            ..Default::default()
        };
        let v: Value = sonic_rs::from_slice(&encode_embed_response(&resp, &req)).unwrap();
        assert_eq!(
            v,
            json!({"id":"x","embeddings":{"float":[[0.5,-1.0,0.25]],"base64":["AAAAPwAAgL8AAIA+"]},"texts":["hi"],
                   "meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":2}},"response_type":"embeddings_by_type"})
        );
    }

    /// An upstream that counted no tokens (Gemini) is not reported as having billed 0.
    #[test]
    fn unknown_token_count_is_left_out_not_billed_as_zero() {
        let resp = EmbedResponse {
            id: "x".into(),
            vectors: vec![vec![0.5]],
            input_tokens: None,
            ..Default::default()
        };
        let req = EmbedRequest {
            texts: vec!["hi".into()],
            reply: EmbedReply::Cohere {
                float: true,
                base64: false,
            },
            ..Default::default()
        };
        let v: Value = sonic_rs::from_slice(&encode_embed_response(&resp, &req)).unwrap();
        assert_eq!(v["meta"]["billed_units"], json!({}));
    }

    /// A v1 client gets `embeddings_floats` (a bare list) unless it named `embedding_types`,
    /// then `embeddings_by_type`; both say API version 1, and both read back as the vectors.
    #[test]
    fn v1_answers_take_the_shape_the_body_asked_for() {
        let resp = EmbedResponse {
            id: "e-1".into(),
            vectors: vec![vec![0.5, -1.0], vec![0.25, 2.0]],
            input_tokens: Some(3),
            ..Default::default()
        };
        let plain =
            decode_embed_request(br#"{"model":"m","texts":["a","b"],"input_type":"search_query"}"#, true).unwrap();
        assert_eq!(
            plain.reply,
            EmbedReply::CohereV1 {
                by_type: false,
                float: true,
                base64: false
            }
        );
        let out = encode_embed_response(&resp, &plain);
        let v: Value = sonic_rs::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!({"id":"e-1","embeddings":[[0.5,-1.0],[0.25,2.0]],"texts":["a","b"],
                   "meta":{"api_version":{"version":"1"},"billed_units":{"input_tokens":3}},
                   "response_type":"embeddings_floats"})
        );
        assert_eq!(decode_embed_response(&out).unwrap().vectors, resp.vectors);
        let typed = decode_embed_request(
            br#"{"model":"m","texts":["a","b"],"embedding_types":["float","base64"]}"#,
            true,
        )
        .unwrap();
        let out = encode_embed_response(&resp, &typed);
        let v: Value = sonic_rs::from_slice(&out).unwrap();
        assert_eq!(v["response_type"].as_str(), Some("embeddings_by_type"));
        assert_eq!(v["meta"]["api_version"]["version"].as_str(), Some("1"));
        assert_eq!(v["embeddings"]["float"][1][1].as_f64(), Some(2.0));
        assert_eq!(v["embeddings"]["base64"].as_array().map(|a| a.len()), Some(2));
        assert_eq!(decode_embed_response(&out).unwrap().vectors, resp.vectors);
        // The v2 answer is as before: by type, version 2.
        let v2 = decode_embed_request(br#"{"model":"m","texts":["a","b"]}"#, false).unwrap();
        let v: Value = sonic_rs::from_slice(&encode_embed_response(&resp, &v2)).unwrap();
        assert_eq!(
            (
                v["response_type"].as_str(),
                v["meta"]["api_version"]["version"].as_str()
            ),
            (Some("embeddings_by_type"), Some("2"))
        );
    }
}
