//! Embeddings in every format, by dispatch on `Format` to each format's `embed` module.
//!
//! The contract mirrors the chat codecs (bytes <-> `canonical::embed`, no IO):
//!
//! ```text
//! decode_request(format, body, path_model, gemini_method) -> EmbedRequest   // integration
//! encode_request(format, &EmbedRequest, vertex)           -> Vec<body>      // provider
//! request_path(format, model, vertex)                     -> String         // provider
//! decode_response(format, body)                           -> EmbedResponse  // provider
//! encode_response(&EmbedResponse, &EmbedRequest)          -> Vec<u8>        // integration
//! ```
//!
//! `encode_request` gives one body per upstream call: Titan embeds one text per InvokeModel, so
//! a batch fans out into several calls whose answers are appended in order. Every other format
//! takes the whole batch in one call. Errors use the chat codecs' `decode_error`/`encode_error`.
//! Anthropic has no embeddings API: a request routed there is refused by name.

use super::{bedrock, cohere, gemini, openai, Format};
use crate::canonical::embed::{EmbedReply, EmbedRequest, EmbedResponse};
use crate::canonical::ConvertError;

/// Integration: the client's embeddings body, as canonical. `path_model` is the model the URL
/// names (Gemini, Bedrock); `gemini_method` is the Gemini method the client called.
pub fn decode_request(
    format: Format,
    body: &[u8],
    path_model: Option<&str>,
    gemini_method: Option<gemini::ApiMethod>,
) -> Result<EmbedRequest, ConvertError> {
    utf8(body)?;
    match format {
        Format::OpenAi => openai::embed::decode_embed_request(body),
        Format::Cohere => cohere::embed::decode_embed_request(body),
        Format::Gemini => gemini::embed::decode_embed_request(
            body,
            path_model.unwrap_or_default(),
            gemini_method.unwrap_or(gemini::ApiMethod::BatchEmbedContents),
        ),
        Format::Bedrock => bedrock::embed::decode_embed_request(body, path_model.unwrap_or_default()),
        Format::Anthropic => Err(no_embeddings(Format::Anthropic)),
    }
}

/// Provider: the bodies to send (one per upstream call), or why the request cannot go there.
pub fn encode_request(target: Format, req: &EmbedRequest, vertex: bool) -> Result<Vec<Vec<u8>>, ConvertError> {
    if req.texts.is_empty() {
        return Err(ConvertError::new("input", "at least one text to embed is required"));
    }
    match target {
        Format::OpenAi => openai::embed::encode_embed_request(req).map(|b| vec![b]),
        Format::Cohere => cohere::embed::encode_embed_request(req).map(|b| vec![b]),
        Format::Gemini => gemini::embed::encode_embed_request(req, vertex).map(|b| vec![b]),
        Format::Bedrock => bedrock::embed::encode_embed_request(req),
        Format::Anthropic => Err(no_embeddings(Format::Anthropic)),
    }
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
        EmbedReply::Cohere { .. } => cohere::embed::encode_embed_response(resp, req),
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
