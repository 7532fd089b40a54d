//! Rerank in every format that has it, by dispatch on `Format` to each format's `rerank` module.
//!
//! The contract mirrors the embeddings codecs (bytes <-> `canonical::rerank`, no IO):
//!
//! ```text
//! decode_request(format, body, path_model, cohere_v1, crossing) -> RerankRequest  // integration
//! encode_request(format, &RerankRequest)                        -> body           // provider
//! request_path(format, model)                                   -> String         // provider
//! decode_response(format, body)                                 -> RerankResponse // provider
//! encode_response(&RerankResponse, &RerankRequest)              -> Vec<u8>        // integration
//! ```
//!
//! Cohere (`/v1/rerank`, `/v2/rerank`) and Bedrock (InvokeModel on `cohere.rerank-*` and
//! `amazon.rerank-*`) have a rerank API. OpenAI, Anthropic and Gemini have none: a rerank routed
//! there is refused by name. Errors use the chat codecs' `decode_error`/`encode_error`.

use super::{bedrock, cohere, Format};
use crate::canonical::rerank::{RerankReply, RerankRequest, RerankResponse};
use crate::canonical::{ConvertError, Json, JsonPath};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};

/// The most documents one rerank request may hold: Cohere's and Bedrock's limit.
pub const MAX_DOCUMENTS: usize = 1000;

/// Integration: the client's rerank body, as canonical. `cohere_v1`: a Cohere client on the v1
/// API. `crossing`: the request goes to a provider of another format, so settings only its own
/// format has (Cohere v1's chunking, v2's relevant spans) are refused by name rather than lost.
pub fn decode_request(
    format: Format,
    body: &[u8],
    path_model: Option<&str>,
    cohere_v1: bool,
    crossing: bool,
) -> Result<RerankRequest, ConvertError> {
    crate::wire::json::utf8(body).map_err(|e| ConvertError::new("", e))?;
    match format {
        Format::Cohere => cohere::rerank::decode_rerank_request(body, cohere_v1, crossing),
        Format::Bedrock => bedrock::rerank::decode_rerank_request(body, path_model.unwrap_or_default()),
        other => Err(no_rerank(other)),
    }
}

/// Provider: the body to send, or why the request cannot go there.
pub fn encode_request(target: Format, req: &RerankRequest) -> Result<Vec<u8>, ConvertError> {
    if req.documents.is_empty() {
        return Err(ConvertError::new("documents", "at least one document is required"));
    }
    match target {
        Format::Cohere => cohere::rerank::encode_rerank_request(req),
        Format::Bedrock => bedrock::rerank::encode_rerank_request(req),
        other => Err(no_rerank(other)),
    }
}

/// Provider: the upstream path for a model's rerank.
pub fn request_path(target: Format, model: &str) -> String {
    match target {
        Format::Cohere => "/v2/rerank".to_string(),
        Format::Bedrock => bedrock::embed::embed_request_path(model),
        _ => String::new(),
    }
}

/// Provider: an upstream answer, as canonical.
pub fn decode_response(target: Format, body: &[u8]) -> Result<RerankResponse, ConvertError> {
    crate::wire::json::utf8(body).map_err(|e| ConvertError::new("", e))?;
    match target {
        // Cohere's and Bedrock's answers share the `results` shape; only the extras differ.
        Format::Cohere | Format::Bedrock => decode_results(body),
        other => Err(no_rerank(other)),
    }
}

/// Integration: the answer in the shape the client's request asked for (`req.reply`).
pub fn encode_response(resp: &RerankResponse, req: &RerankRequest) -> Vec<u8> {
    match req.reply {
        RerankReply::CohereV2 | RerankReply::CohereV1 { .. } => cohere::rerank::encode_rerank_response(resp, req),
        RerankReply::Bedrock => bedrock::rerank::encode_rerank_response(resp),
    }
}

fn no_rerank(format: Format) -> ConvertError {
    ConvertError::new(
        "model",
        format!(
            "the {} API has no rerank endpoint; route this model to a Cohere or Bedrock provider",
            format.name()
        ),
    )
}

/// The search units Cohere bills for reranking `documents` documents: one per 100.
pub fn search_units(documents: usize) -> u64 {
    documents.div_ceil(100).max(1) as u64
}

// Shared reading of the fields both formats spell the same way.

pub(crate) fn parse_object(body: &[u8]) -> Result<Json, ConvertError> {
    let v: Json = sonic_rs::from_slice(body).map_err(|e| {
        ConvertError::new(
            "",
            format!("rerank body is not valid JSON: {}", crate::wire::json::brief(&e)),
        )
    })?;
    if !v.is_object() {
        return Err(ConvertError::new("", "rerank body must be a JSON object"));
    }
    Ok(v)
}

pub(crate) fn get<'a>(v: &'a Json, key: &str) -> Option<&'a Json> {
    v.get(key).filter(|x| !x.is_null())
}

pub(crate) fn query(v: &Json) -> Result<String, ConvertError> {
    get(v, "query")
        .ok_or_else(|| ConvertError::new("query", "required"))?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ConvertError::new("query", "must be a string"))
}

pub(crate) fn u32_field(v: &Json, key: &str) -> Result<Option<u32>, ConvertError> {
    get(v, key)
        .map(|d| {
            d.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| ConvertError::new(key, "must be a non-negative integer"))
        })
        .transpose()
}

/// The `documents` array, each entry handed to `text` (entry, its path) for the text to score.
pub(crate) fn documents(
    v: &Json,
    mut text: impl FnMut(&Json, &JsonPath<'_>) -> Result<String, ConvertError>,
) -> Result<Vec<String>, ConvertError> {
    let root = JsonPath::ROOT;
    let dpath = root.key("documents");
    let list = get(v, "documents")
        .ok_or_else(|| ConvertError::new("documents", "required"))?
        .as_array()
        .ok_or_else(|| ConvertError::new("documents", "must be an array"))?;
    list.iter().enumerate().map(|(i, d)| text(d, &dpath.index(i))).collect()
}

/// `{"id"?, "results":[{"index","relevance_score"}], "meta"?{"billed_units"{"search_units"}}}`:
/// Cohere's v1 and v2 answers and Bedrock's InvokeModel rerank answer alike.
fn decode_results(body: &[u8]) -> Result<RerankResponse, ConvertError> {
    let v: Json = sonic_rs::from_slice(body).map_err(|e| ConvertError::new("", format!("invalid JSON: {e}")))?;
    let root = JsonPath::ROOT;
    let rpath = root.key("results");
    let list = get(&v, "results")
        .and_then(|r| r.as_array())
        .ok_or_else(|| ConvertError::new("results", "missing or not an array"))?;
    let mut resp = RerankResponse {
        id: get(&v, "id").and_then(|i| i.as_str()).unwrap_or_default().to_string(),
        results: Vec::with_capacity(list.len()),
        search_units: v
            .pointer(&sonic_rs::pointer!["meta", "billed_units", "search_units"])
            .and_then(|n| n.as_f64())
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(|n| n as u64),
    };
    for (i, r) in list.iter().enumerate() {
        let at = rpath.index(i);
        let index = get(r, "index")
            .and_then(|n| n.as_u64())
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| ConvertError::new(at.key("index"), "must be a non-negative integer"))?;
        let relevance_score = get(r, "relevance_score")
            .and_then(|n| n.as_f64())
            .filter(|n| n.is_finite())
            .ok_or_else(|| ConvertError::new(at.key("relevance_score"), "must be a number"))?;
        resp.results
            .push(crate::canonical::rerank::RerankResult { index, relevance_score });
    }
    Ok(resp)
}

/// Writes `{"index":i,"relevance_score":s` (the result object left open for more keys).
pub(crate) fn write_result_head(b: &mut Vec<u8>, r: &crate::canonical::rerank::RerankResult) {
    b.extend_from_slice(b"{\"index\":");
    b.extend_from_slice(itoa::Buffer::new().format(r.index).as_bytes());
    b.extend_from_slice(b",\"relevance_score\":");
    let s = if r.relevance_score.is_finite() {
        r.relevance_score
    } else {
        0.0
    };
    b.extend_from_slice(ryu::Buffer::new().format_finite(s).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_of_both_formats_decode_and_bad_ones_name_the_field() {
        let r = decode_response(
            Format::Cohere,
            br#"{"id":"x","results":[{"index":2,"relevance_score":0.75},{"index":0,"relevance_score":0.25,"document":{"text":"a"}}],
                "meta":{"api_version":{"version":"2"},"billed_units":{"search_units":1}}}"#,
        )
        .unwrap();
        assert_eq!((r.id.as_str(), r.search_units, r.results.len()), ("x", Some(1), 2));
        assert_eq!((r.results[0].index, r.results[0].relevance_score), (2, 0.75));
        let b = decode_response(Format::Bedrock, br#"{"results":[{"index":0,"relevance_score":1e-3}]}"#).unwrap();
        assert_eq!((b.id.as_str(), b.search_units), ("", None));
        for (body, field) in [
            (&br#"{"results":{}}"#[..], "results"),
            (
                br#"{"results":[{"index":-1,"relevance_score":0.5}]}"#,
                "results[0].index",
            ),
            (
                br#"{"results":[{"index":0,"relevance_score":"x"}]}"#,
                "results[0].relevance_score",
            ),
        ] {
            assert_eq!(decode_response(Format::Cohere, body).unwrap_err().field, field);
        }
        assert!(decode_response(Format::OpenAi, b"{}").is_err());
    }

    #[test]
    fn formats_without_a_rerank_api_are_refused_by_name() {
        let req = RerankRequest {
            model: "m".into(),
            query: "q".into(),
            documents: vec!["d".into()],
            ..Default::default()
        };
        for f in [Format::OpenAi, Format::Anthropic, Format::Gemini] {
            let e = encode_request(f, &req).unwrap_err();
            assert_eq!(e.field, "model");
            assert!(e.message.contains("no rerank endpoint"), "{e}");
            assert!(e.message.contains(f.name()), "{e}");
        }
        let empty = RerankRequest {
            documents: vec![],
            ..req
        };
        assert_eq!(encode_request(Format::Cohere, &empty).unwrap_err().field, "documents");
    }

    #[test]
    fn search_units_are_one_per_hundred_documents() {
        assert_eq!(
            (
                search_units(1),
                search_units(100),
                search_units(101),
                search_units(1000)
            ),
            (1, 1, 2, 10)
        );
    }
}
