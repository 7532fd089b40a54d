//! Cohere rerank (`POST /v1/rerank` and `/v2/rerank`), for both roles. Shapes from the cohere SDK
//! 7.x: v2 `v2/raw_client.py` `rerank` and `v2/types/v2rerank_response.py`; v1
//! `raw_base_client.py` `rerank`, `types/rerank_request_documents_item.py` and
//! `types/rerank_response_results_item.py`.
//!
//! v2 takes documents as strings. v1 also takes objects (`Dict[str, str]`): the `text` field is
//! ranked, or with `rank_fields` those fields, which Sluice reads as YAML-like `key: value`
//! lines (Cohere's advice for structured data). v1 answers carry each `document` as sent when
//! `return_documents` is true. Across formats the v1 chunking setting (`max_chunks_per_doc`)
//! and v2 relevant spans are refused by name: no other provider has them.

use crate::canonical::rerank::{RerankReply, RerankRequest, RerankResponse};
use crate::canonical::{ConvertError, Json, JsonPath};
use crate::formats::rerank::{documents, get, parse_object, query, search_units, u32_field, write_result_head};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};

/// The text a v1 document object is ranked by: its `rank_fields` as `key: value` lines, or its
/// `text`. None when neither is there as a string (the object cannot be ranked).
pub fn rank_text(doc: &Json, rank_fields: &[String]) -> Option<String> {
    if rank_fields.is_empty() {
        return doc.get("text").and_then(|t| t.as_str()).map(str::to_string);
    }
    let mut out = String::new();
    for f in rank_fields {
        let value = doc.get(f.as_str()).and_then(|t| t.as_str())?;
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(f);
        out.push_str(": ");
        out.push_str(value);
    }
    Some(out)
}

/// Integration: a Cohere client's rerank body (`v1`: the v1 API), as canonical. `crossing`: it
/// goes to another format, which refuses Cohere-only settings by name.
pub fn decode_rerank_request(body: &[u8], v1: bool, crossing: bool) -> Result<RerankRequest, ConvertError> {
    let v = parse_object(body)?;
    let model = get(&v, "model")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_string();
    let query = query(&v)?;
    let rank_fields: Vec<String> = match get(&v, "rank_fields") {
        Some(r) if v1 => r
            .as_array()
            .and_then(|a| a.iter().map(|f| f.as_str().map(str::to_string)).collect())
            .ok_or_else(|| ConvertError::new("rank_fields", "must be an array of strings"))?,
        _ => Vec::new(),
    };
    let return_documents = v1
        && match get(&v, "return_documents") {
            None => false,
            Some(b) => b
                .as_bool()
                .ok_or_else(|| ConvertError::new("return_documents", "must be a boolean"))?,
        };
    let docs = documents(&v, |d, at: &JsonPath<'_>| {
        if let Some(s) = d.as_str() {
            return Ok(s.to_string());
        }
        if !v1 || !d.is_object() {
            return Err(ConvertError::new(at, "must be a string"));
        }
        let text = rank_text(d, &rank_fields).ok_or_else(|| {
            let why = if rank_fields.is_empty() {
                "a document object needs a string `text` field (or name its fields in `rank_fields`)".to_string()
            } else {
                format!("a document object needs every field of rank_fields as a string ({rank_fields:?})")
            };
            ConvertError::new(at, why)
        })?;
        Ok(text)
    })?;
    let echo = if return_documents {
        echo_documents(body)
    } else {
        Vec::new()
    };
    if crossing {
        // NOTE: `priority` (a scheduling hint) is dropped: no other provider queues by it.
        if v1 && get(&v, "max_chunks_per_doc").is_some() {
            return Err(ConvertError::new(
                "max_chunks_per_doc",
                "Cohere v1's chunking setting has no equivalent for another provider; use max_tokens_per_doc (v2)",
            ));
        }
        let spans_on =
            get(&v, "relevant_spans").is_some_and(|s| s.get("mode").and_then(|m| m.as_str()) != Some("disabled"));
        if !v1 && spans_on {
            return Err(ConvertError::new(
                "relevant_spans",
                "relevant spans are computed by Cohere's own models; another provider has none",
            ));
        }
    }
    Ok(RerankRequest {
        model,
        query,
        documents: docs,
        top_n: u32_field(&v, "top_n")?,
        max_tokens_per_doc: if v1 { None } else { u32_field(&v, "max_tokens_per_doc")? },
        reply: if v1 {
            RerankReply::CohereV1 { return_documents }
        } else {
            RerankReply::CohereV2
        },
        echo,
    })
}

/// Each document as the client sent it, for v1's `document` in the answer: an object byte for
/// byte (a parsed tree would reorder its keys), a string as `{"text"}`.
fn echo_documents(body: &[u8]) -> Vec<String> {
    let Ok(list) = sonic_rs::get(body, &["documents"]) else {
        return Vec::new();
    };
    sonic_rs::to_array_iter(list.as_raw_str())
        .map(|d| {
            let d = d.map(|d| d.as_raw_str().to_string()).unwrap_or_default();
            match sonic_rs::from_str::<String>(&d) {
                Ok(text) => {
                    let mut e = b"{\"text\":".to_vec();
                    let _ = sonic_rs::to_writer(&mut e, text.as_str());
                    e.push(b'}');
                    String::from_utf8(e).unwrap_or_default()
                }
                Err(_) => d,
            }
        })
        .collect()
}

/// Provider: the `/v2/rerank` body.
pub fn encode_rerank_request(req: &RerankRequest) -> Result<Vec<u8>, ConvertError> {
    let mut b = Vec::with_capacity(req.documents.iter().map(|d| d.len() + 4).sum::<usize>() + 128);
    b.extend_from_slice(b"{\"model\":");
    let _ = sonic_rs::to_writer(&mut b, req.model.as_str());
    b.extend_from_slice(b",\"query\":");
    let _ = sonic_rs::to_writer(&mut b, req.query.as_str());
    b.extend_from_slice(b",\"documents\":");
    let _ = sonic_rs::to_writer(&mut b, &req.documents);
    if let Some(n) = req.top_n {
        b.extend_from_slice(b",\"top_n\":");
        b.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
    if let Some(n) = req.max_tokens_per_doc {
        b.extend_from_slice(b",\"max_tokens_per_doc\":");
        b.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
    b.push(b'}');
    Ok(b)
}

/// Integration: a `V2RerankResponse`, or for a v1 client a `RerankResponse` with each result's
/// `document` when asked. `meta.billed_units.search_units` is the upstream's, else what Cohere
/// bills for the request (one unit per 100 documents): Bedrock bills the same unit and says none.
pub fn encode_rerank_response(resp: &RerankResponse, req: &RerankRequest) -> Vec<u8> {
    let (version, with_documents) = match req.reply {
        RerankReply::CohereV1 { return_documents } => ("1", return_documents),
        _ => ("2", false),
    };
    let mut b = Vec::with_capacity(resp.results.len() * 48 + 160);
    b.extend_from_slice(b"{\"id\":");
    let _ = sonic_rs::to_writer(&mut b, resp.id.as_str());
    b.extend_from_slice(b",\"results\":[");
    for (i, r) in resp.results.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        write_result_head(&mut b, r);
        if let Some(doc) = req.echo.get(r.index).filter(|_| with_documents) {
            b.extend_from_slice(b",\"document\":");
            b.extend_from_slice(doc.as_bytes());
        }
        b.push(b'}');
    }
    b.extend_from_slice(b"],\"meta\":{\"api_version\":{\"version\":\"");
    b.extend_from_slice(version.as_bytes());
    b.extend_from_slice(b"\"},\"billed_units\":{\"search_units\":");
    let units = resp.search_units.unwrap_or_else(|| search_units(req.documents.len()));
    b.extend_from_slice(itoa::Buffer::new().format(units).as_bytes());
    b.extend_from_slice(b"}}}");
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::rerank::RerankResult;
    use sonic_rs::{json, Value};

    #[test]
    fn v2_request_decodes_and_encodes_back() {
        let body = br#"{"model":"rerank-v3.5","query":"capital of France","documents":["Paris is the capital","Berlin"],"top_n":1,"max_tokens_per_doc":512,"priority":3}"#;
        let r = decode_rerank_request(body, false, true).unwrap();
        assert_eq!(r.query, "capital of France");
        assert_eq!(r.documents, vec!["Paris is the capital", "Berlin"]);
        assert_eq!((r.top_n, r.max_tokens_per_doc), (Some(1), Some(512)));
        assert_eq!(r.reply, RerankReply::CohereV2);
        assert!(r.echo.is_empty());
        let v: Value = sonic_rs::from_slice(&encode_rerank_request(&r).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"model":"rerank-v3.5","query":"capital of France","documents":["Paris is the capital","Berlin"],"top_n":1,"max_tokens_per_doc":512})
        );
    }

    #[test]
    fn v1_objects_rank_by_text_or_rank_fields_and_echo_as_sent() {
        let body = br#"{"query":"q","documents":["plain",{"text":"t","id":"7"}],"return_documents":true}"#;
        let r = decode_rerank_request(body, true, true).unwrap();
        assert_eq!(r.documents, vec!["plain", "t"]);
        assert_eq!(r.reply, RerankReply::CohereV1 { return_documents: true });
        assert_eq!(r.echo, vec![r#"{"text":"plain"}"#, r#"{"text":"t","id":"7"}"#]);
        let body = br#"{"query":"q","documents":[{"title":"A","body":"b c"}],"rank_fields":["title","body"]}"#;
        let r = decode_rerank_request(body, true, true).unwrap();
        assert_eq!(r.documents, vec!["title: A\nbody: b c"]);
        assert!(r.echo.is_empty(), "no documents asked back");
    }

    #[test]
    fn what_cannot_cross_is_refused_by_name() {
        for (body, v1, field) in [
            (
                &br#"{"query":"q","documents":[{"title":"x"}]}"#[..],
                true,
                "documents[0]",
            ),
            (
                br#"{"query":"q","documents":[{"title":"x"}],"rank_fields":["body"]}"#,
                true,
                "documents[0]",
            ),
            (br#"{"query":"q","documents":[{"text":"x"}]}"#, false, "documents[0]"),
            (br#"{"query":"q","documents":[1]}"#, true, "documents[0]"),
            (
                br#"{"query":"q","documents":["a"],"max_chunks_per_doc":5}"#,
                true,
                "max_chunks_per_doc",
            ),
            (
                br#"{"query":"q","documents":["a"],"relevant_spans":{"mode":"enabled"}}"#,
                false,
                "relevant_spans",
            ),
            (br#"{"documents":["a"]}"#, false, "query"),
            (br#"{"query":"q"}"#, false, "documents"),
            (br#"{"query":"q","documents":["a"],"top_n":-1}"#, false, "top_n"),
            (
                br#"{"query":"q","documents":["a"],"rank_fields":"x"}"#,
                true,
                "rank_fields",
            ),
        ] {
            let e = decode_rerank_request(body, v1, true).unwrap_err();
            assert_eq!(e.field, field, "{}", String::from_utf8_lossy(body));
        }
        // Cohere's own settings pass when the request stays with Cohere (the mock).
        assert!(decode_rerank_request(
            br#"{"query":"q","documents":["a"],"max_chunks_per_doc":5}"#,
            true,
            false
        )
        .is_ok());
        assert!(decode_rerank_request(
            br#"{"query":"q","documents":["a"],"relevant_spans":{"mode":"disabled"}}"#,
            false,
            true
        )
        .is_ok());
    }

    #[test]
    fn answers_in_v1_and_v2_shapes() {
        let resp = RerankResponse {
            id: "r1".into(),
            results: vec![
                RerankResult {
                    index: 1,
                    relevance_score: 0.75,
                },
                RerankResult {
                    index: 0,
                    relevance_score: 0.25,
                },
            ],
            search_units: None,
        };
        let mut req = RerankRequest {
            documents: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        let v: Value = sonic_rs::from_slice(&encode_rerank_response(&resp, &req)).unwrap();
        assert_eq!(
            v,
            json!({"id":"r1","results":[{"index":1,"relevance_score":0.75},{"index":0,"relevance_score":0.25}],
                   "meta":{"api_version":{"version":"2"},"billed_units":{"search_units":1}}})
        );
        req.reply = RerankReply::CohereV1 { return_documents: true };
        req.echo = vec![r#"{"text":"a"}"#.into(), r#"{"text":"b","k":"v"}"#.into()];
        let v: Value = sonic_rs::from_slice(&encode_rerank_response(&resp, &req)).unwrap();
        assert_eq!(
            v,
            json!({"id":"r1","results":[{"index":1,"relevance_score":0.75,"document":{"text":"b","k":"v"}},
                                        {"index":0,"relevance_score":0.25,"document":{"text":"a"}}],
                   "meta":{"api_version":{"version":"1"},"billed_units":{"search_units":1}}})
        );
    }
}
