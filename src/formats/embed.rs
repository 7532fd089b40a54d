//! Embeddings in every format, by dispatch on `Format` to each format's `embed` module.
//!
//! The contract mirrors the chat codecs (bytes <-> `canonical::embed`, no IO):
//!
//! ```text
//! decode_request(format, body, path_model, gemini_method, cohere_v1) -> EmbedRequest // integration
//! encode_request(format, &EmbedRequest, vertex)           -> Vec<EmbedCall> // provider
//! request_path(format, model, vertex)                     -> String         // provider
//! decode_response(format, body)                           -> EmbedResponse  // provider
//! encode_response(&EmbedResponse, &EmbedRequest)          -> Vec<u8>        // integration
//! ```
//!
//! `encode_request` gives one body per upstream call. Each API caps the texts one call takes
//! (`texts_per_call`: Titan one, Vertex's Gemini models one, Cohere 96, the Gemini API 100,
//! Vertex's other models 250, OpenAI 2,048), and a client's batch may be larger than the
//! provider's cap (an OpenAI client sends up to 2,048), so a batch is split into calls whose
//! answers are appended in order. Errors use the chat codecs' `decode_error`/`encode_error`.
//! Anthropic has no embeddings API: a request routed there is refused by name.

use super::{bedrock, cohere, gemini, openai, Format};
use crate::canonical::embed::{EmbedReply, EmbedRequest, EmbedResponse};
use crate::canonical::ConvertError;

/// Integration: the client's embeddings body, as canonical. `path_model` is the model the URL
/// names (Gemini, Bedrock); `gemini_method` is the Gemini method the client called;
/// `cohere_v1`: a Cohere client on the v1 API (`/v1/embed`), whose answer differs from v2's.
pub fn decode_request(
    format: Format,
    body: &[u8],
    path_model: Option<&str>,
    gemini_method: Option<gemini::ApiMethod>,
    cohere_v1: bool,
) -> Result<EmbedRequest, ConvertError> {
    utf8(body)?;
    match format {
        Format::OpenAi => openai::embed::decode_embed_request(body),
        Format::Cohere => cohere::embed::decode_embed_request(body, cohere_v1),
        Format::Gemini => gemini::embed::decode_embed_request(
            body,
            path_model.unwrap_or_default(),
            gemini_method.unwrap_or(gemini::ApiMethod::BatchEmbedContents),
        ),
        Format::Bedrock => bedrock::embed::decode_embed_request(body, path_model.unwrap_or_default()),
        Format::Anthropic => Err(no_embeddings(Format::Anthropic)),
    }
}

/// The most upstream calls one embeddings request may become. A Titan batch is one call per
/// text, so 128 texts take 128 calls (16 round trips at eight in flight); beyond that a client
/// is better served by sending smaller batches than by a gateway holding one request open for
/// hundreds of calls.
pub const MAX_CALLS: usize = 128;

/// The most texts one upstream call takes, by the provider's API and model: what each API
/// refuses beyond (OpenAI 2,048 inputs; Cohere 96 texts, on Bedrock too; the Gemini API's
/// `batchEmbedContents` 100 requests; Vertex `predict` 250 instances, and one for its Gemini
/// embedding models; Titan one text).
pub fn texts_per_call(target: Format, model: &str, vertex: bool) -> usize {
    match target {
        Format::OpenAi => openai::embed::MAX_INPUTS_PER_CALL,
        Format::Cohere => cohere::embed::MAX_TEXTS_PER_CALL,
        Format::Gemini => gemini::embed::texts_per_call(model, vertex),
        Format::Bedrock => bedrock::embed::texts_per_call(model),
        Format::Anthropic => usize::MAX,
    }
}

/// One upstream call of a request: its body, and how many of the texts it carries (so that its
/// answer can be checked to hold as many vectors).
#[derive(Debug)]
pub struct EmbedCall {
    pub texts: usize,
    pub body: Vec<u8>,
}

/// Provider: the calls to make, in the texts' order (see `texts_per_call`), or why the request
/// cannot go there.
pub fn encode_request(target: Format, req: &EmbedRequest, vertex: bool) -> Result<Vec<EmbedCall>, ConvertError> {
    if req.texts.is_empty() {
        return Err(ConvertError::new("input", "at least one text to embed is required"));
    }
    if target == Format::Anthropic {
        return Err(no_embeddings(Format::Anthropic));
    }
    let per_call = texts_per_call(target, &req.model, vertex).max(1);
    if req.texts.len().div_ceil(per_call) > MAX_CALLS {
        let most = per_call.saturating_mul(MAX_CALLS);
        let what = if per_call == 1 { "text" } else { "texts" };
        return Err(ConvertError::new(
            "input",
            format!(
                "{} takes at most {per_call} {what} per call, and one request is split into at most {MAX_CALLS} calls: \
                 send at most {most} texts per request (got {})",
                req.model,
                req.texts.len()
            ),
        ));
    }
    req.texts
        .chunks(per_call)
        .map(|texts| {
            let body = match target {
                Format::OpenAi => openai::embed::encode_embed_call(req, texts),
                Format::Cohere => cohere::embed::encode_embed_call(req, texts),
                Format::Gemini => gemini::embed::encode_embed_call(req, texts, vertex),
                Format::Bedrock => bedrock::embed::encode_embed_call(req, texts),
                Format::Anthropic => Err(no_embeddings(Format::Anthropic)),
            }?;
            Ok(EmbedCall {
                texts: texts.len(),
                body,
            })
        })
        .collect()
}

/// Provider: the upstream path for a model's embeddings.
pub fn request_path(target: Format, model: &str, vertex: bool) -> String {
    match target {
        Format::OpenAi => "/v1/embeddings".to_string(),
        Format::Cohere => "/v2/embed".to_string(),
        Format::Gemini => gemini::embed::embed_request_path(model, vertex),
        Format::Bedrock => bedrock::embed::embed_request_path(model),
        Format::Anthropic => String::new(),
    }
}

/// Provider: one upstream answer, as canonical.
pub fn decode_response(target: Format, body: &[u8]) -> Result<EmbedResponse, ConvertError> {
    utf8(body)?;
    match target {
        Format::OpenAi => openai::embed::decode_embed_response(body),
        Format::Cohere => cohere::embed::decode_embed_response(body),
        Format::Gemini => gemini::embed::decode_embed_response(body),
        Format::Bedrock => bedrock::embed::decode_embed_response(body),
        Format::Anthropic => Err(no_embeddings(Format::Anthropic)),
    }
}

/// Integration: the answer in the shape the client's request asked for (`req.reply`).
pub fn encode_response(resp: &EmbedResponse, req: &EmbedRequest) -> Vec<u8> {
    match req.reply {
        EmbedReply::OpenAi | EmbedReply::OpenAiBase64 => openai::embed::encode_embed_response(resp, req),
        EmbedReply::Cohere { .. } | EmbedReply::CohereV1 { .. } => cohere::embed::encode_embed_response(resp, req),
        EmbedReply::GeminiSingle | EmbedReply::GeminiBatch | EmbedReply::VertexPredict => {
            gemini::embed::encode_embed_response(resp, req)
        }
        EmbedReply::Titan { .. } | EmbedReply::BedrockCohere { .. } => bedrock::embed::encode_embed_response(resp, req),
    }
}

/// JSON must be UTF-8; checked before the codecs read values lazily (see `json::utf8`).
fn utf8(body: &[u8]) -> Result<(), ConvertError> {
    crate::wire::json::utf8(body)
        .map(|_| ())
        .map_err(|e| ConvertError::new("", e))
}

fn no_embeddings(format: Format) -> ConvertError {
    ConvertError::new(
        "model",
        format!(
            "the {} API has no embeddings endpoint; route this model to a provider that has one",
            format.name()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(model: &str, n: usize) -> EmbedRequest {
        EmbedRequest {
            model: model.to_string(),
            texts: (0..n).map(|i| format!("text {i}")).collect(),
            ..Default::default()
        }
    }

    /// Each body decoded back by the provider format's own request decoder: its texts.
    fn texts_of(target: Format, model: &str, vertex: bool, body: &[u8]) -> Vec<String> {
        let method = match vertex {
            true => gemini::ApiMethod::Predict,
            false => gemini::ApiMethod::BatchEmbedContents,
        };
        decode_request(target, body, Some(model), Some(method), false)
            .unwrap()
            .texts
    }

    #[test]
    fn a_batch_is_split_at_each_providers_per_call_limit_in_order() {
        for (target, model, vertex, n, sizes) in [
            (Format::OpenAi, "text-embedding-3-small", false, 2049, vec![2048, 1]),
            (Format::OpenAi, "text-embedding-3-small", false, 2048, vec![2048]),
            (Format::Cohere, "embed-v4.0", false, 200, vec![96, 96, 8]),
            (Format::Cohere, "embed-v4.0", false, 96, vec![96]),
            (Format::Gemini, "gemini-embedding-001", false, 250, vec![100, 100, 50]),
            (Format::Gemini, "text-embedding-005", true, 251, vec![250, 1]),
            (Format::Gemini, "gemini-embedding-001", true, 3, vec![1, 1, 1]),
            (Format::Bedrock, "cohere.embed-v4:0", false, 97, vec![96, 1]),
            (
                Format::Bedrock,
                "us.amazon.titan-embed-text-v2:0",
                false,
                3,
                vec![1, 1, 1],
            ),
            (
                Format::Bedrock,
                "amazon.titan-embed-text-v2:0",
                false,
                MAX_CALLS,
                vec![1; MAX_CALLS],
            ),
        ] {
            let req = request(model, n);
            let calls = encode_request(target, &req, vertex).unwrap();
            let got: Vec<Vec<String>> = calls.iter().map(|c| texts_of(target, model, vertex, &c.body)).collect();
            assert!(calls.iter().zip(&got).all(|(c, t)| c.texts == t.len()), "{model} x {n}");
            assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), sizes, "{model} x {n}");
            assert_eq!(got.concat(), req.texts, "{model} x {n}: the texts in order");
        }
    }

    #[test]
    fn more_calls_than_the_cap_is_refused_naming_the_limit() {
        for (target, model, vertex, per_call) in [
            (Format::Bedrock, "amazon.titan-embed-text-v2:0", false, 1),
            (Format::Gemini, "gemini-embedding-001", true, 1),
            (Format::Cohere, "embed-v4.0", false, 96),
        ] {
            let most = per_call * MAX_CALLS;
            assert!(encode_request(target, &request(model, most), vertex).is_ok(), "{model}");
            let e = encode_request(target, &request(model, most + 1), vertex).unwrap_err();
            assert_eq!(e.field, "input", "{model}");
            assert!(
                e.message.contains(&format!("at most {most} texts per request")),
                "{model}: {}",
                e.message
            );
        }
    }

    #[test]
    fn nothing_to_embed_and_anthropic_are_refused() {
        assert_eq!(
            encode_request(Format::Cohere, &request("m", 0), false)
                .unwrap_err()
                .field,
            "input"
        );
        let e = encode_request(Format::Anthropic, &request("m", 1), false).unwrap_err();
        assert!(e.message.contains("no embeddings endpoint"), "{}", e.message);
    }
}
