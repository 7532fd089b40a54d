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
        (INPUT_TOKENS_HEADER, wire.input_tokens.to_string()),
        ("x-amzn-bedrock-output-token-count", wire.output_tokens.to_string()),
        latency_header(latency_ms),
    ]
}

/// InvokeModel's input token count, the one header every model's answer carries a count in
/// (embeddings and rerank included).
pub const INPUT_TOKENS_HEADER: &str = "x-amzn-bedrock-input-token-count";

/// InvokeModel's latency header, milliseconds, on every answer (chat, embeddings, rerank).
pub fn latency_header(latency_ms: u64) -> (&'static str, String) {
    ("x-amzn-bedrock-invocation-latency", latency_ms.to_string())
}

/// The header an InvokeModelWithResponseStream answer names its chunks' content type with
/// (botocore: `contentType`).
pub const STREAM_CONTENT_TYPE_HEADER: (&str, &str) = ("x-amzn-bedrock-content-type", "application/json");

/// Canonical -> the InvokeModel response body of an Anthropic model (a Messages response).
pub fn encode_invoke_response(resp: &ChatResponse) -> Vec<u8> {
    anthropic::encode_response(resp)
}

/// What an InvokeModel body asks for. The operation is the same for all three; the body's shape
/// tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvokeBody {
    /// A model-native chat body (Anthropic Messages with `anthropic_version`, or another
    /// vendor's, which the chat path refuses by name).
    Chat,
    /// Titan `inputText`, Cohere `texts`, or Cohere's image forms (`images` / `inputs` with an
    /// `input_type`, which the embeddings decoder refuses by name).
    Embeddings,
    /// `query` and `documents` (Cohere Rerank, Amazon Rerank).
    Rerank,
}

/// The shape of an InvokeModel body for `model`, in one lazy pass over its top-level keys (no
/// tree): it runs on every translated invoke. Titan's text-generation models take `inputText`
/// too, so a body with `textGenerationConfig`, or one for a `titan-text` / `titan-tg` model, is
/// chat. Anything that is not a JSON object is chat, whose decoder says what is wrong with it.
pub fn body_kind(body: &[u8], model: &str) -> InvokeBody {
    let (mut titan, mut texts, mut media, mut input_type) = (false, false, false, false);
    let (mut query, mut documents, mut messages, mut prompt) = (false, false, false, false);
    for entry in sonic_rs::to_object_iter(body) {
        let Ok((key, _)) = entry else {
            return InvokeBody::Chat;
        };
        match &*key {
            "inputText" => titan = true,
            "texts" => texts = true,
            "images" | "inputs" => media = true,
            "input_type" => input_type = true,
            "messages" | "textGenerationConfig" => messages = true,
            "prompt" => prompt = true,
            "query" => query = true,
            "documents" => documents = true,
            _ => {}
        }
    }
    let titan_text = model.contains("titan-text") || model.contains("titan-tg");
    if !titan_text && !messages && (titan || texts || (media && input_type)) {
        InvokeBody::Embeddings
    } else if query && documents && !(messages || prompt || titan || texts) {
        InvokeBody::Rerank
    } else {
        InvokeBody::Chat
    }
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

    #[test]
    fn invoke_bodies_are_told_apart_by_their_keys() {
        use InvokeBody::*;
        for (body, model, want) in [
            (
                r#"{"inputText":"Hello world"}"#,
                "amazon.titan-embed-text-v1",
                Embeddings,
            ),
            (
                r#"{"inputText":"a","dimensions":256,"normalize":true}"#,
                "m",
                Embeddings,
            ),
            (
                r#"{"texts":["a","b"],"input_type":"search_query","truncate":"END"}"#,
                "m",
                Embeddings,
            ),
            (
                r#"{"texts":["a"],"input_type":"clustering","embedding_types":["float"]}"#,
                "m",
                Embeddings,
            ),
            (r#"{"images":["data:x"],"input_type":"image"}"#, "m", Embeddings),
            (
                r#"{"query":"capital","documents":["Paris"],"top_n":1,"api_version":2}"#,
                "m",
                Rerank,
            ),
            (r#"{"documents":["a"],"query":"q"}"#, "amazon.rerank-v1:0", Rerank),
            (
                r#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#,
                "m",
                Chat,
            ),
            (
                r#"{"anthropic_version":"x","max_tokens":9,"messages":[],"query":"q","documents":[]}"#,
                "m",
                Chat,
            ),
            (r#"{"texts":["a"],"messages":[]}"#, "m", Chat),
            (r#"{"prompt":"hi","max_gen_len":5}"#, "m", Chat),
            (r#"{"prompt":"hi","query":"q","documents":[]}"#, "m", Chat),
            (r#"{"images":["data:x"]}"#, "m", Chat),
            (r#"["inputText"]"#, "m", Chat),
            (r#""inputText""#, "m", Chat),
            ("", "m", Chat),
            ("{", "m", Chat),
            (r#"{"inputText":"a","#, "m", Chat),
            // Titan text generation, not embeddings.
            (
                r#"{"inputText":"hi","textGenerationConfig":{"maxTokenCount":5}}"#,
                "m",
                Chat,
            ),
            (r#"{"inputText":"Hello world"}"#, "amazon.titan-text-express-v1", Chat),
            (r#"{"inputText":"Hello world"}"#, "amazon.titan-tg1-large", Chat),
        ] {
            assert_eq!(body_kind(body.as_bytes(), model), want, "{body} for {model}");
        }
    }
}
