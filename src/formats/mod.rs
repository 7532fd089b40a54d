//! Wire formats. One module per dialect, holding both roles: the integration (a client speaks it
//! to us) and the provider (we speak it to an upstream). Format code does no IO.
//!
//! Every format module offers the same symmetric, pure functions (bytes <-> canonical):
//!
//! ```text
//! decode_request(body, path_model, stream) -> Result<ChatRequest, ConvertError>   // integration
//! encode_request(&ChatRequest)             -> Result<Vec<u8>, ConvertError>      // provider
//! request_path(model, stream)              -> String                             // provider
//! decode_response(body)                    -> Result<ChatResponse, ConvertError> // provider
//! encode_response(&ChatResponse)           -> Vec<u8>                            // integration
//! decode_error(status, body)               -> UpstreamFault                      // provider
//! encode_error(&UpstreamFault)             -> ErrorReply                         // integration
//! ```
//!
//! When the client's format equals the upstream's, none of these run: bytes pass through with
//! only the model spliced (`proxy::passthrough`).

pub mod bedrock;
pub mod openai;

/// A wire dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
    Cohere,
}
