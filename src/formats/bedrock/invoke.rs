//! InvokeModel bodies (PROTOCOLS 5.5): the model vendor's native JSON. Sluice understands the
//! Anthropic flavour (`anthropic.` / Claude model ids): an Anthropic Messages body with
//! `anthropic_version` instead of `model`, and no `stream` (the operation decides). Other vendors'
//! native bodies get a clear 400 pointing to Converse.

use crate::canonical::{ChatRequest, ChatResponse, ConvertError, Usage};
use crate::formats::anthropic;

/// The `anthropic_version` Bedrock expects in Claude InvokeModel bodies.
pub const BEDROCK_ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

pub fn is_anthropic_model(model: &str) -> bool {
    model.contains("anthropic.") || model.contains("claude")
}

/// An InvokeModel body -> canonical, for Anthropic models.
pub fn decode_invoke_request(body: &[u8], model: &str, stream: bool) -> Result<ChatRequest, ConvertError> {
    if !is_anthropic_model(model) {
        return Err(ConvertError::new(
            "modelId",
            format!("InvokeModel bodies are understood for Anthropic models only ({model:?} is not); use Converse"),
        ));
    }
    let mut req = anthropic::decode_request(body, Some(model), stream)?;
    // Bedrock's version marker is not a Messages API field.
    req.extra.fields.retain(|(k, _)| k != "anthropic_version");
    req.stream = stream;
    Ok(req)
}

/// The headers Bedrock sends with an InvokeModel answer (PROTOCOLS 5.5): token counts (input as
/// the body's `usage.input_tokens`, without cached tokens) and the latency in milliseconds.
/// botocore leaves them in `ResponseMetadata.HTTPHeaders`, where common clients read usage.
pub fn invocation_headers(usage: &Usage, latency_ms: u64) -> [(&'static str, String); 3] {
    let wire = anthropic::usage_to_wire(usage);
    [
        ("x-amzn-bedrock-input-token-count", wire.input_tokens.to_string()),
        ("x-amzn-bedrock-output-token-count", wire.output_tokens.to_string()),
        ("x-amzn-bedrock-invocation-latency", latency_ms.to_string()),
    ]
}

/// The header an InvokeModelWithResponseStream answer names its chunks' content type with
/// (botocore: `contentType`).
pub const STREAM_CONTENT_TYPE_HEADER: (&str, &str) = ("x-amzn-bedrock-content-type", "application/json");

/// Canonical -> the InvokeModel response body of an Anthropic model (a Messages response).
pub fn encode_invoke_response(resp: &ChatResponse) -> Vec<u8> {
    anthropic::encode_response(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::Part;

    #[test]
    fn claude_invoke_body_decodes_with_model_from_the_path() {
        let body = br#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}"#;
        let r = decode_invoke_request(body, "anthropic.claude-3-5-sonnet-20240620-v1:0", false).unwrap();
        assert_eq!(r.model, "anthropic.claude-3-5-sonnet-20240620-v1:0");
        assert_eq!(r.max_tokens, Some(50));
        assert_eq!(r.messages[0].content, vec![Part::text("hi")]);
        assert!(r.extra.get("anthropic_version").is_none());
    }

    #[test]
    fn other_vendors_are_refused_clearly() {
        let e = decode_invoke_request(b"{}", "meta.llama3-70b-instruct-v1:0", false).unwrap_err();
        assert_eq!(e.field, "modelId");
    }
}
