//! OpenAI embeddings (PROTOCOLS 2.6): `POST /v1/embeddings`, for both roles.
//!
//! The Python SDK asks for `encoding_format: "base64"` unless the caller chose, and decodes the
//! packed little-endian float32 itself; a client that asks for floats gets a float array.
//! Upstream, Sluice asks for floats (the default every OpenAI-compatible server takes; some
//! do not know `encoding_format`), and reads either form back.

use crate::canonical::embed::{
    to_f32, vector_from_base64, vector_to_base64, write_vector, EmbedReply, EmbedRequest, EmbedResponse,
};
use crate::canonical::ConvertError;
use serde::{Deserialize, Serialize};
use sonic_rs::{JsonValueTrait, LazyValue};

/// The request fields a translation reads; others (none that matter across formats) are left.
/// Read raw, so that a value of the wrong type is refused naming its field, as OpenAI does.
#[derive(Deserialize)]
struct RequestIn<'a> {
    #[serde(default)]
    model: String,
    #[serde(borrow)]
    input: Option<LazyValue<'a>>,
    #[serde(borrow, default)]
    encoding_format: Option<LazyValue<'a>>,
    #[serde(borrow, default)]
    dimensions: Option<LazyValue<'a>>,
    #[serde(borrow, default)]
    user: Option<LazyValue<'a>>,
}

/// A field the client set: present and not null (OpenAI reads an explicit null as absent).
fn given<'v, 'a>(field: &'v Option<LazyValue<'a>>) -> Option<&'v LazyValue<'a>> {
    field.as_ref().filter(|v| !v.is_null())
}

/// A string field the client set, or a 400 naming it.
fn text_of<'v>(field: &'v Option<LazyValue<'_>>, name: &str) -> Result<Option<&'v str>, ConvertError> {
    given(field)
        .map(|v| v.as_str().ok_or_else(|| ConvertError::new(name, "must be a string")))
        .transpose()
}

/// Integration: an OpenAI client's embeddings body, as canonical.
pub fn decode_embed_request(body: &[u8]) -> Result<EmbedRequest, ConvertError> {
    let req: RequestIn = sonic_rs::from_slice(body).map_err(|e| {
        ConvertError::new(
            "",
            format!("request body is not valid JSON: {}", crate::wire::json::brief(&e)),
        )
    })?;
    let input = req
        .input
        .ok_or_else(|| ConvertError::new("input", "you must provide an input"))?;
    let texts = texts_of(&input)?;
    let reply = match text_of(&req.encoding_format, "encoding_format")? {
        None | Some("float") => EmbedReply::OpenAi,
        Some("base64") => EmbedReply::OpenAiBase64,
        Some(other) => {
            return Err(ConvertError::new(
                "encoding_format",
                format!("{other:?} is not one of 'float', 'base64'"),
            ))
        }
    };
    // OpenAI's own rule: at least 1. A 0 would reach Gemini as its "unset", the full size.
    let dimensions = given(&req.dimensions)
        .map(|d| {
            d.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| ConvertError::new("dimensions", "must be a positive integer"))
        })
        .transpose()?;
    Ok(EmbedRequest {
        model: req.model,
        texts,
        dimensions,
        user: text_of(&req.user, "user")?.map(str::to_string),
        reply,
        ..Default::default()
    })
}

/// `input`: a string or an array of strings. Token arrays (`[int]`, `[[int]]`) are one
/// tokenizer's ids, meaningless to another provider: they pass only on the same-format path.
fn texts_of(input: &LazyValue<'_>) -> Result<Vec<String>, ConvertError> {
    if let Some(s) = input.as_str() {
        return Ok(vec![s.to_string()]);
    }
    let items: Vec<LazyValue> = sonic_rs::from_str(input.as_raw_str())
        .map_err(|_| ConvertError::new("input", "must be a string or an array of strings"))?;
    if items.is_empty() {
        return Err(ConvertError::new("input", "must not be empty"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str().map(str::to_string).ok_or_else(|| {
                let why = if item.is_number() || item.is_array() {
                    "token arrays can only be sent to an OpenAI-compatible provider; send text"
                } else {
                    "must be a string"
                };
                ConvertError::new(format!("input[{i}]"), why)
            })
        })
        .collect()
}

#[derive(Serialize)]
struct RequestOut<'a> {
    model: &'a str,
    input: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
}

/// The most inputs one `/v1/embeddings` call takes.
pub const MAX_INPUTS_PER_CALL: usize = 2048;

/// Provider: the `/v1/embeddings` body for one call's `texts` (a slice of `req.texts`). The
/// task, title and truncation settings of other formats have no OpenAI field; they are hints,
/// and the vectors are still the input's.
pub fn encode_embed_call(req: &EmbedRequest, texts: &[String]) -> Result<Vec<u8>, ConvertError> {
    let out = RequestOut {
        model: &req.model,
        input: texts,
        dimensions: req.dimensions,
        user: req.user.as_deref(),
    };
    sonic_rs::to_vec(&out).map_err(|e| ConvertError::new("", e.to_string()))
}

#[derive(Deserialize)]
struct ResponseIn {
    data: Vec<DatumIn>,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: Option<UsageIn>,
}

#[derive(Deserialize)]
struct DatumIn {
    #[serde(default)]
    index: Option<usize>,
    embedding: VectorIn,
}

#[derive(Deserialize)]
struct UsageIn {
    #[serde(default)]
    prompt_tokens: Option<u64>,
}

/// An `embedding`: an array of numbers or a base64 string, read in one pass (no tree, no second
/// parse: a batch answer holds tens of thousands of numbers). `None` when it is neither, or
/// holds a value float32 cannot.
struct VectorIn(Option<Vec<f32>>);

impl<'de> Deserialize<'de> for VectorIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = VectorIn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of numbers or a base64 string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<VectorIn, E> {
                Ok(VectorIn(vector_from_base64(s)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<VectorIn, A::Error> {
                // Grown as read: an answer of many empty vectors must not reserve for full ones.
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                let mut ok = true;
                while let Some(x) = seq.next_element::<f64>()? {
                    match to_f32(x) {
                        Some(f) => out.push(f),
                        None => ok = false,
                    }
                }
                Ok(VectorIn(ok.then_some(out)))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// Provider: an `/v1/embeddings` answer (float arrays or base64), vectors in input order.
pub fn decode_embed_response(body: &[u8]) -> Result<EmbedResponse, ConvertError> {
    let resp: ResponseIn =
        sonic_rs::from_slice(body).map_err(|e| ConvertError::new("", format!("invalid JSON: {e}")))?;
    let n = resp.data.len();
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; n];
    for (pos, d) in resp.data.into_iter().enumerate() {
        let vector = d.embedding.0.ok_or_else(|| {
            ConvertError::new(
                format!("data[{pos}].embedding"),
                "must be an array of float32 numbers or base64 float32",
            )
        })?;
        let at = d.index.unwrap_or(pos);
        match slots.get_mut(at) {
            Some(slot @ None) => *slot = Some(vector),
            _ => {
                return Err(ConvertError::new(
                    format!("data[{pos}].index"),
                    "out of range or repeated",
                ))
            }
        }
    }
    Ok(EmbedResponse {
        id: String::new(),
        model: resp.model,
        vectors: slots.into_iter().map(Option::unwrap_or_default).collect(),
        input_tokens: resp.usage.and_then(|u| u.prompt_tokens),
    })
}

/// Integration: the `/v1/embeddings` answer, floats or base64 as the client asked. Written by
/// hand around `write_vector`, the loop that costs.
pub fn encode_embed_response(resp: &EmbedResponse, req: &EmbedRequest) -> Vec<u8> {
    let base64 = req.reply == EmbedReply::OpenAiBase64;
    let tokens = resp.input_tokens.unwrap_or(0);
    let values: usize = resp.vectors.iter().map(Vec::len).sum();
    let mut b = Vec::with_capacity(values * if base64 { 6 } else { 12 } + resp.vectors.len() * 48 + 128);
    b.extend_from_slice(b"{\"object\":\"list\",\"data\":[");
    let mut num = itoa::Buffer::new();
    for (index, v) in resp.vectors.iter().enumerate() {
        if index > 0 {
            b.push(b',');
        }
        b.extend_from_slice(b"{\"object\":\"embedding\",\"index\":");
        b.extend_from_slice(num.format(index).as_bytes());
        b.extend_from_slice(b",\"embedding\":");
        if base64 {
            b.push(b'"');
            b.extend_from_slice(vector_to_base64(v).as_bytes());
            b.push(b'"');
        } else {
            write_vector(&mut b, v);
        }
        b.push(b'}');
    }
    b.extend_from_slice(b"],\"model\":");
    let _ = sonic_rs::to_writer(&mut b, resp.model.as_str());
    b.extend_from_slice(b",\"usage\":{\"prompt_tokens\":");
    b.extend_from_slice(num.format(tokens).as_bytes());
    b.extend_from_slice(b",\"total_tokens\":");
    b.extend_from_slice(num.format(tokens).as_bytes());
    b.extend_from_slice(b"}}");
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::{JsonContainerTrait, Value};

    #[test]
    fn decodes_strings_and_refuses_token_arrays() {
        let r = decode_embed_request(
            br#"{"model":"m","input":"hi","encoding_format":"base64","dimensions":16,"user":"u"}"#,
        )
        .unwrap();
        assert_eq!(r.texts, vec!["hi"]);
        assert_eq!((r.dimensions, r.user.as_deref()), (Some(16), Some("u")));
        assert_eq!(r.reply, EmbedReply::OpenAiBase64);
        let r = decode_embed_request(br#"{"model":"m","input":["a","b"]}"#).unwrap();
        assert_eq!((r.texts.len(), r.reply), (2, EmbedReply::OpenAi));
        for (body, field) in [
            (&br#"{"model":"m","input":[1,2,3]}"#[..], "input[0]"),
            (br#"{"model":"m","input":[[1,2]]}"#, "input[0]"),
            (br#"{"model":"m","input":["a",{}]}"#, "input[1]"),
            (br#"{"model":"m","input":[]}"#, "input"),
            (br#"{"model":"m"}"#, "input"),
            (
                br#"{"model":"m","input":"a","encoding_format":"int8"}"#,
                "encoding_format",
            ),
        ] {
            let e = decode_embed_request(body).unwrap_err();
            assert_eq!(e.field, field, "{}", String::from_utf8_lossy(body));
        }
        assert!(decode_embed_request(br#"{"model":"m","input":[1,2]}"#)
            .unwrap_err()
            .message
            .contains("token arrays"));
    }

    #[test]
    fn a_field_of_the_wrong_type_is_refused_by_name() {
        // These were "invalid JSON: ..." with no `param`, though the JSON was valid.
        for (body, field) in [
            (&br#"{"model":"m","input":"a","dimensions":-1}"#[..], "dimensions"),
            (br#"{"model":"m","input":"a","dimensions":1.5}"#, "dimensions"),
            (br#"{"model":"m","input":"a","dimensions":"8"}"#, "dimensions"),
            (br#"{"model":"m","input":"a","dimensions":0}"#, "dimensions"),
            (br#"{"model":"m","input":"a","user":5}"#, "user"),
            (br#"{"model":"m","input":"a","encoding_format":5}"#, "encoding_format"),
        ] {
            let e = decode_embed_request(body).unwrap_err();
            assert_eq!(e.field, field, "{}", String::from_utf8_lossy(body));
        }
        // An explicit null is an absent setting, as OpenAI reads it.
        let r =
            decode_embed_request(br#"{"model":"m","input":"a","dimensions":null,"user":null,"encoding_format":null}"#)
                .unwrap();
        assert_eq!((r.dimensions, r.user, r.reply), (None, None, EmbedReply::OpenAi));
        let e = decode_embed_request(br#"{"model":"m","input":"a""#).unwrap_err();
        assert!(e.message.starts_with("request body is not valid JSON"), "{}", e.message);
    }

    #[test]
    fn request_carries_texts_dimensions_and_user_only() {
        let req = EmbedRequest {
            model: "text-embedding-3-small".into(),
            texts: vec!["a".into(), "b".into()],
            dimensions: Some(8),
            user: Some("u1".into()),
            task: Some(crate::canonical::embed::EmbedTask::SearchQuery),
            ..Default::default()
        };
        let v: Value = sonic_rs::from_slice(&encode_embed_call(&req, &req.texts).unwrap()).unwrap();
        assert_eq!(
            v,
            sonic_rs::json!({"model":"text-embedding-3-small","input":["a","b"],"dimensions":8,"user":"u1"})
        );
    }

    #[test]
    fn answers_decode_in_index_order_from_floats_or_base64() {
        let body = br#"{"object":"list","data":[{"object":"embedding","index":1,"embedding":"AAAAPwAAgL8AAIA+"},{"object":"embedding","index":0,"embedding":[0.1,-0.2]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":5,"total_tokens":5}}"#;
        let r = decode_embed_response(body).unwrap();
        assert_eq!(r.vectors, vec![vec![0.1, -0.2], vec![0.5, -1.0, 0.25]]);
        assert_eq!((r.input_tokens, r.model.as_str()), (Some(5), "text-embedding-3-small"));
        let repeated = br#"{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]}"#;
        assert_eq!(decode_embed_response(repeated).unwrap_err().field, "data[1].index");
        assert!(decode_embed_response(br#"{"data":[{"embedding":{}}]}"#).is_err());
        assert!(
            decode_embed_response(br#"{"data":[{"embedding":[1e39]}]}"#).is_err(),
            "beyond float32"
        );
        for i in 0..body.len() {
            let _ = decode_embed_response(&body[..i]);
        }
    }

    #[test]
    fn answers_encode_as_the_client_asked() {
        let resp = EmbedResponse {
            model: "m".into(),
            vectors: vec![vec![0.5, -1.0, 0.25], vec![0.0]],
            input_tokens: Some(3),
            ..Default::default()
        };
        let mut req = EmbedRequest::default();
        let v: Value = sonic_rs::from_slice(&encode_embed_response(&resp, &req)).unwrap();
        assert_eq!(
            v,
            sonic_rs::json!({"object":"list","data":[
                {"object":"embedding","index":0,"embedding":[0.5,-1.0,0.25]},
                {"object":"embedding","index":1,"embedding":[0.0]}],
                "model":"m","usage":{"prompt_tokens":3,"total_tokens":3}})
        );
        req.reply = EmbedReply::OpenAiBase64;
        let v: Value = sonic_rs::from_slice(&encode_embed_response(&resp, &req)).unwrap();
        let data = v.get("data").unwrap().as_array().unwrap();
        assert_eq!(
            data[0].get("embedding").and_then(|e| e.as_str()),
            Some("AAAAPwAAgL8AAIA+")
        );
    }
}
