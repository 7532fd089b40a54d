//! Cohere v2 embed. Being written.
use crate::canonical::embed::{EmbedRequest, EmbedResponse};
use crate::canonical::ConvertError;
pub fn decode_embed_request(_body: &[u8]) -> Result<EmbedRequest, ConvertError> { Err(ConvertError::new("", "pending")) }
pub fn encode_embed_request(_req: &EmbedRequest) -> Result<Vec<u8>, ConvertError> { Err(ConvertError::new("", "pending")) }
pub fn decode_embed_response(_body: &[u8]) -> Result<EmbedResponse, ConvertError> { Err(ConvertError::new("", "pending")) }
pub fn encode_embed_response(_resp: &EmbedResponse, _req: &EmbedRequest) -> Vec<u8> { Vec::new() }
