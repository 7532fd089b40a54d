//! Gemini embeddings (`embedContent`, `batchEmbedContents`, Vertex `predict`). Work in progress:
//! the functions below are the contract of `formats::embed`.

use super::ApiMethod;
use crate::canonical::embed::{EmbedRequest, EmbedResponse};
use crate::canonical::ConvertError;

fn pending() -> ConvertError {
    ConvertError::new("", "Gemini embeddings are not translated yet")
}

/// Integration: a Gemini client's embeddings body for `method`, as canonical.
pub fn decode_embed_request(_body: &[u8], _path_model: &str, _method: ApiMethod) -> Result<EmbedRequest, ConvertError> {
    Err(pending())
}

/// Provider: `batchEmbedContents` (Gemini API) or `predict` (Vertex) body.
pub fn encode_embed_request(_req: &EmbedRequest, _vertex: bool) -> Result<Vec<u8>, ConvertError> {
    Err(pending())
}

/// Provider: the path, before `Provider::styled_path`.
pub fn embed_request_path(model: &str, vertex: bool) -> String {
    if vertex {
        format!("/v1beta/models/{model}:predict")
    } else {
        format!("/v1beta/models/{model}:batchEmbedContents")
    }
}

/// Provider: any of the three answer shapes, as canonical.
pub fn decode_embed_response(_body: &[u8]) -> Result<EmbedResponse, ConvertError> {
    Err(pending())
}

/// Integration: the answer in the shape of `req.reply`.
pub fn encode_embed_response(_resp: &EmbedResponse, _req: &EmbedRequest) -> Vec<u8> {
    Vec::new()
}
