//! Bedrock rerank through InvokeModel, both roles: the Cohere Rerank (`cohere.rerank-v3-5:0`) and
//! Amazon Rerank (`amazon.rerank-v1:0`) bodies <-> `canonical::rerank`. The model id travels in
//! the URL; the body is the vendor's own.
//!
//! Wire shapes: Cohere's on Bedrock is the `/v2/rerank` body without `model` plus
//! `"api_version": 2` (the cohere SDK's `aws_client.py` `map_request_to_bedrock` builds exactly
//! that; the AWS Cohere Rerank examples send the same); the answer is
//! `{"id"?, "results":[{"index","relevance_score"}]}`. Amazon Rerank takes `query`, `documents`
//! and `top_n` and answers with the same `results`.

use crate::canonical::rerank::{RerankReply, RerankRequest, RerankResponse};
use crate::canonical::{ConvertError, JsonPath};
use crate::formats::rerank::{documents, get, parse_object, query, u32_field, write_result_head};
use sonic_rs::JsonValueTrait;

/// Integration: a Bedrock client's InvokeModel rerank body, as canonical. Documents are strings,
/// or objects with a string `text`.
pub fn decode_rerank_request(body: &[u8], path_model: &str) -> Result<RerankRequest, ConvertError> {
    let v = parse_object(body)?;
    let query = query(&v)?;
    let docs = documents(&v, |d, at: &JsonPath<'_>| {
        d.as_str()
            .or_else(|| d.get("text").and_then(|t| t.as_str()))
            .map(str::to_string)
            .ok_or_else(|| ConvertError::new(at, "must be a string (or an object with a string `text`)"))
    })?;
    if let Some(a) = get(&v, "api_version") {
        if a.as_u64().is_none() {
            return Err(ConvertError::new("api_version", "must be an integer"));
        }
    }
    Ok(RerankRequest {
        model: path_model.to_string(),
        query,
        documents: docs,
        top_n: u32_field(&v, "top_n")?,
        max_tokens_per_doc: u32_field(&v, "max_tokens_per_doc")?,
        reply: RerankReply::Bedrock,
        echo: Vec::new(),
    })
}

/// Provider: the InvokeModel body for `req.model`, which may be a model id, a cross-region
/// profile or an ARN (matched by substring).
pub fn encode_rerank_request(req: &RerankRequest) -> Result<Vec<u8>, ConvertError> {
    let model = req.model.as_str();
    let cohere = model.contains("cohere.rerank");
    if !cohere && !model.contains("amazon.rerank") {
        return Err(ConvertError::new(
            "model",
            format!(
                "Bedrock rerank is translated for cohere.rerank-* and amazon.rerank-* models ({model:?} is neither)"
            ),
        ));
    }
    if !cohere && req.max_tokens_per_doc.is_some() {
        return Err(ConvertError::new(
            "max_tokens_per_doc",
            format!("{model} has no per-document token limit; it is accepted by cohere.rerank-* only"),
        ));
    }
    let mut b = Vec::with_capacity(req.documents.iter().map(|d| d.len() + 4).sum::<usize>() + 128);
    b.push(b'{');
    if cohere {
        b.extend_from_slice(b"\"api_version\":2,");
    }
    b.extend_from_slice(b"\"documents\":");
    let _ = sonic_rs::to_writer(&mut b, &req.documents);
    if let Some(n) = req.max_tokens_per_doc {
        b.extend_from_slice(b",\"max_tokens_per_doc\":");
        b.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
    b.extend_from_slice(b",\"query\":");
    let _ = sonic_rs::to_writer(&mut b, req.query.as_str());
    if let Some(n) = req.top_n {
        b.extend_from_slice(b",\"top_n\":");
        b.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
    b.push(b'}');
    Ok(b)
}

/// Integration: InvokeModel's rerank answer, `{"id"?, "results":[{"index","relevance_score"}]}`
/// (the id when the upstream gave one).
pub fn encode_rerank_response(resp: &RerankResponse) -> Vec<u8> {
    let mut b = Vec::with_capacity(resp.results.len() * 48 + 64);
    b.push(b'{');
    if !resp.id.is_empty() {
        b.extend_from_slice(b"\"id\":");
        let _ = sonic_rs::to_writer(&mut b, resp.id.as_str());
        b.push(b',');
    }
    b.extend_from_slice(b"\"results\":[");
    for (i, r) in resp.results.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        write_result_head(&mut b, r);
        b.push(b'}');
    }
    b.extend_from_slice(b"]}");
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::rerank::RerankResult;
    use sonic_rs::{json, Value};

    const COHERE_SDK_BODY: &[u8] =
        br#"{"query":"capital","documents":["Paris","Berlin"],"top_n":1,"max_tokens_per_doc":300,"api_version":2}"#;

    #[test]
    fn the_cohere_sdks_body_is_told_as_rerank() {
        use crate::formats::bedrock::invoke::{body_kind, InvokeBody};
        assert_eq!(body_kind(COHERE_SDK_BODY, "cohere.rerank-v3-5:0"), InvokeBody::Rerank);
        assert_eq!(body_kind(br#"{"query":"q"}"#, "m"), InvokeBody::Chat);
        assert_eq!(body_kind(b"not json", "m"), InvokeBody::Chat);
    }

    #[test]
    fn request_decodes_and_encodes_per_model() {
        let r = decode_rerank_request(COHERE_SDK_BODY, "cohere.rerank-v3-5:0").unwrap();
        assert_eq!((r.query.as_str(), r.documents.len()), ("capital", 2));
        assert_eq!((r.top_n, r.max_tokens_per_doc), (Some(1), Some(300)));
        assert_eq!(r.reply, RerankReply::Bedrock);
        let v: Value = sonic_rs::from_slice(&encode_rerank_request(&r).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"api_version":2,"documents":["Paris","Berlin"],"max_tokens_per_doc":300,"query":"capital","top_n":1})
        );
        let mut amazon = RerankRequest {
            model: "arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0".into(),
            max_tokens_per_doc: None,
            ..r
        };
        let v: Value = sonic_rs::from_slice(&encode_rerank_request(&amazon).unwrap()).unwrap();
        assert_eq!(v, json!({"documents":["Paris","Berlin"],"query":"capital","top_n":1}));
        amazon.max_tokens_per_doc = Some(5);
        assert_eq!(encode_rerank_request(&amazon).unwrap_err().field, "max_tokens_per_doc");
        amazon.model = "anthropic.claude-3".into();
        assert_eq!(encode_rerank_request(&amazon).unwrap_err().field, "model");
        let objects = decode_rerank_request(br#"{"query":"q","documents":[{"text":"a"},"b"]}"#, "m").unwrap();
        assert_eq!(objects.documents, vec!["a", "b"]);
        for (body, field) in [
            (&br#"{"query":"q","documents":[{"title":"a"}]}"#[..], "documents[0]"),
            (br#"{"query":1,"documents":["a"]}"#, "query"),
            (br#"{"query":"q","documents":["a"],"api_version":"2"}"#, "api_version"),
            (br#"[]"#, ""),
        ] {
            assert_eq!(decode_rerank_request(body, "m").unwrap_err().field, field);
        }
    }

    #[test]
    fn answer_keeps_the_id_only_when_there_is_one() {
        let mut resp = RerankResponse {
            id: "abc".into(),
            results: vec![RerankResult {
                index: 1,
                relevance_score: 0.5,
            }],
            search_units: Some(1),
        };
        let v: Value = sonic_rs::from_slice(&encode_rerank_response(&resp)).unwrap();
        assert_eq!(v, json!({"id":"abc","results":[{"index":1,"relevance_score":0.5}]}));
        resp.id.clear();
        let v: Value = sonic_rs::from_slice(&encode_rerank_response(&resp)).unwrap();
        assert_eq!(v, json!({"results":[{"index":1,"relevance_score":0.5}]}));
    }
}
