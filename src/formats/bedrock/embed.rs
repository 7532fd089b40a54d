//! Bedrock embeddings through InvokeModel: Titan text embeddings and Cohere embed bodies. Work in
//! progress: the functions below are the contract of `formats::embed`.

use crate::canonical::embed::{EmbedRequest, EmbedResponse};
use crate::canonical::ConvertError;

fn pending() -> ConvertError {
    ConvertError::new("", "Bedrock embeddings are not translated yet")
}

/// Whether an InvokeModel body is an embeddings request (Titan `inputText`, Cohere `texts`).
pub fn is_embed_body(_body: &[u8]) -> bool {
    false
}

/// Integration: a Bedrock client's InvokeModel embeddings body, as canonical.
pub fn decode_embed_request(_body: &[u8], _path_model: &str) -> Result<EmbedRequest, ConvertError> {
    Err(pending())
}

/// Provider: the InvokeModel bodies for `req.model` (Titan: one per text).
pub fn encode_embed_request(_req: &EmbedRequest) -> Result<Vec<Vec<u8>>, ConvertError> {
    Err(pending())
}

/// Provider: the InvokeModel path.
pub fn embed_request_path(model: &str) -> String {
    let mut out = String::from("/model/");
    crate::wire::url::percent_encode_into(&mut out, model);
    out.push_str("/invoke");
    out
}

/// Provider: a Titan or Cohere embeddings answer, as canonical.
pub fn decode_embed_response(_body: &[u8]) -> Result<EmbedResponse, ConvertError> {
    Err(pending())
}

/// Integration: the answer in the shape of `req.reply`.
pub fn encode_embed_response(_resp: &EmbedResponse, _req: &EmbedRequest) -> Vec<u8> {
    Vec::new()
}
