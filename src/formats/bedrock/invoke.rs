//! InvokeModel bodies (PROTOCOLS 5.5): the model vendor's native JSON, in the families whose
//! bodies are chats Sluice can translate (`InvokeFamily`):
//! - Anthropic Claude: a Messages body with `anthropic_version` instead of `model`;
//! - Amazon Nova: the Converse body (`messages`, `system`, `inferenceConfig`, `toolConfig`)
//!   plus Nova's own `schemaVersion`, `inferenceConfig.max_new_tokens`, `top_p` and `topK`;
//! - Cohere Command R / R+: Cohere's v1 chat body (`message`, `chat_history`, `preamble`, ...);
//! - OpenAI (`gpt-oss`): a Chat Completions body;
//! - the text-completion families, Meta Llama, Mistral, DeepSeek-R1 and Amazon Titan Text: a
//!   prompt whose chat template is read back into the conversation (`invoke_prompt`).
//!
//! The answer is the same family's native body, and a stream carries its native events in
//! `chunk` frames (`invoke_stream`). There is no `stream` field: the operation decides. Other
//! bodies (Cohere Command's prompts, AI21's, image models) get a clear 400 pointing to Converse.

use super::invoke_prompt::PromptFamily;
use crate::canonical::{ChatRequest, ChatResponse, ConvertError, Usage};
use crate::formats::{anthropic, cohere, openai};

/// The `anthropic_version` Bedrock expects in Claude InvokeModel bodies.
pub const BEDROCK_ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

pub fn is_anthropic_model(model: &str) -> bool {
    model.contains("anthropic.") || model.contains("claude")
}

pub fn is_nova_model(model: &str) -> bool {
    model.contains("amazon.nova")
}

/// Whether a Converse request may carry Claude's own fields (`thinking`, `anthropic_beta`) in
/// `additionalModelRequestFields`: a Claude id, or one that names no other vendor (an
/// application inference profile's ARN may stand for Claude). Other vendors' models refuse keys
/// they do not know ("extraneous key [thinking] is not permitted").
pub fn may_be_claude(model: &str) -> bool {
    const OTHER_VENDORS: [&str; 9] = [
        "amazon.",
        "meta.",
        "mistral.",
        "deepseek.",
        "cohere.",
        "ai21.",
        "openai.",
        "qwen.",
        "writer.",
    ];
    is_anthropic_model(model) || !OTHER_VENDORS.iter().any(|v| model.contains(v))
}

/// The model family whose native body an InvokeModel request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvokeFamily {
    Anthropic,
    Nova,
    CohereCommandR,
    OpenAi,
    /// A text-completion family: Llama, Mistral or Titan Text.
    Prompt(PromptFamily),
}

impl InvokeFamily {
    /// The family of a request for `model` (the path's model id) with `body`: by the model id
    /// (as Bedrock itself decides, region prefixes and ARNs included), else, for an id Bedrock
    /// would not know (a `provider/model` Sluice routes elsewhere), by the body's own markers:
    /// `anthropic_version` (Claude), `schemaVersion` / `inferenceConfig` / `toolConfig` (Nova),
    /// `message` (Cohere v1), `messages` (Chat Completions), `textGenerationConfig` (Titan Text),
    /// `prompt` with `max_gen_len` (Llama). `None`: no family's body (or not a JSON object).
    ///
    /// Mistral and DeepSeek ids take Chat Completions bodies too (Mistral Large 2 and DeepSeek
    /// V3 speak `messages`): their body without a `prompt` is read as one. A bare `prompt` on an
    /// unknown id is no family: several vendors' prompt bodies look alike and answer differently.
    ///
    /// A `provider/model` id is no Bedrock id even when its name says `claude` or `gpt-oss`
    /// (`anthropic/claude-sonnet-4-5`): a client that kept its Llama or Titan body and changed
    /// only the model sends that body, so the body's markers decide, and the name only when the
    /// body has none (or only `messages`, which a Nova body has too).
    pub fn of(model: &str, body: &[u8]) -> Option<InvokeFamily> {
        let by_model = Self::by_model(model);
        // ARNs have a slash in their resource part; Bedrock ids have none otherwise.
        let routed = model.contains('/') && !model.starts_with("arn:");
        let either = [PromptFamily::Mistral, PromptFamily::DeepSeek].map(|p| Some(InvokeFamily::Prompt(p)));
        if by_model.is_some() && !routed && !either.contains(&by_model) {
            return by_model;
        }
        let (mut anthropic, mut nova, mut message, mut messages) = (false, false, false, false);
        let (mut prompt, mut llama, mut titan) = (false, false, false);
        for entry in sonic_rs::to_object_iter(body) {
            let Ok((key, _)) = entry else {
                return by_model;
            };
            match &*key {
                "anthropic_version" => anthropic = true,
                "schemaVersion" | "inferenceConfig" | "toolConfig" => nova = true,
                "message" => message = true,
                "messages" => messages = true,
                "prompt" => prompt = true,
                "max_gen_len" => llama = true,
                "textGenerationConfig" => titan = true,
                _ => {}
            }
        }
        let by_body = match () {
            _ if anthropic => Some(InvokeFamily::Anthropic),
            _ if nova => Some(InvokeFamily::Nova),
            _ if message && !messages => Some(InvokeFamily::CohereCommandR),
            _ if messages => Some(InvokeFamily::OpenAi),
            _ if titan => Some(InvokeFamily::Prompt(PromptFamily::TitanText)),
            _ if prompt && llama => Some(InvokeFamily::Prompt(PromptFamily::Llama)),
            _ => None,
        };
        match by_body {
            _ if by_model.is_some() && !routed && (prompt || !messages) => by_model,
            Some(InvokeFamily::OpenAi) if by_model == Some(InvokeFamily::Nova) => by_model,
            None => by_model,
            found => found,
        }
    }

    /// The family of a request whose body was decoded already (`decode_invoke_request`
    /// succeeded, so `of` found one); Claude otherwise, as before there were families.
    pub fn of_decoded(model: &str, body: &[u8]) -> InvokeFamily {
        Self::of(model, body).unwrap_or(InvokeFamily::Anthropic)
    }

    fn by_model(model: &str) -> Option<InvokeFamily> {
        if is_anthropic_model(model) {
            Some(InvokeFamily::Anthropic)
        } else if is_nova_model(model) {
            Some(InvokeFamily::Nova)
        } else if model.contains("cohere.command-r") {
            Some(InvokeFamily::CohereCommandR)
        } else if model.contains("openai.") || model.contains("gpt-oss") {
            Some(InvokeFamily::OpenAi)
        } else if model.contains("meta.llama") {
            Some(InvokeFamily::Prompt(PromptFamily::Llama))
        } else if model.contains("mistral.") {
            Some(InvokeFamily::Prompt(PromptFamily::Mistral))
        } else if model.contains("titan-text") || model.contains("titan-tg") {
            Some(InvokeFamily::Prompt(PromptFamily::TitanText))
        } else if model.contains("deepseek.") {
            Some(InvokeFamily::Prompt(PromptFamily::DeepSeek))
        } else {
            None
        }
    }
}

/// An InvokeModel body -> canonical, read as its family's native body.
pub fn decode_invoke_request(body: &[u8], model: &str, stream: bool) -> Result<ChatRequest, ConvertError> {
    let Some(family) = InvokeFamily::of(model, body) else {
        return Err(ConvertError::new(
            "modelId",
            format!(
                "InvokeModel bodies are understood for Anthropic Claude, Amazon Nova, Cohere Command R, \
                 OpenAI, Meta Llama, Mistral, DeepSeek and Amazon Titan Text models ({model:?} is none of them, and \
                 the body does not say which it is); use Converse"
            ),
        ));
    };
    let mut req = match family {
        InvokeFamily::Anthropic => {
            let mut req = anthropic::decode_request(body, Some(model), stream)?;
            // Bedrock's version marker is not a Messages API field.
            req.extra.fields.retain(|(k, _)| k != "anthropic_version");
            req
        }
        InvokeFamily::Nova => decode_nova(body, model, stream)?,
        InvokeFamily::CohereCommandR => cohere::v1chat::decode_request_for(body, model)?,
        InvokeFamily::OpenAi => openai::request::decode_request(body, Some(model), stream)?,
        InvokeFamily::Prompt(prompt) => super::invoke_prompt::decode_request(prompt, body, model, stream)?,
    };
    // The path names the model, and the operation whether it streams.
    req.model = model.to_string();
    req.stream = stream;
    Ok(req)
}

/// A Nova body: the Converse decoder, then what Nova adds. `inferenceConfig.max_new_tokens` and
/// `top_p` are Nova's first names for `maxTokens` and `topP` (its documented schema has them so),
/// and `topK` (or `top_k`) its top-k, which Converse takes only through
/// `additionalModelRequestFields`; `schemaVersion` ("messages-v1") only marks the body's shape.
fn decode_nova(body: &[u8], model: &str, stream: bool) -> Result<ChatRequest, ConvertError> {
    use sonic_rs::JsonValueTrait;
    let mut req = super::decode_request(body, Some(model), stream)?;
    req.extra.fields.retain(|(k, _)| k != "schemaVersion");
    // A value in `inferenceConfig` (the body is a JSON object: the decoder above said so), or
    // the error naming it.
    let config = crate::canonical::JsonPath::ROOT.key("inferenceConfig");
    let field = |key: &str| {
        sonic_rs::get_from_slice(body, &["inferenceConfig", key])
            .ok()
            .filter(|v| !v.is_null())
    };
    let count = |key: &str| -> Result<Option<u32>, ConvertError> {
        field(key)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| ConvertError::new(config.key(key), "must be a non-negative integer"))
            })
            .transpose()
    };
    if req.max_tokens.is_none() {
        req.max_tokens = count("max_new_tokens")?
            .map(|n| crate::canonical::token_limit(n, &config.key("max_new_tokens")))
            .transpose()?;
    }
    if req.top_p.is_none() {
        req.top_p = field("top_p")
            .map(|v| {
                v.as_f64()
                    .ok_or_else(|| ConvertError::new(config.key("top_p"), "must be a number"))
            })
            .transpose()?;
    }
    for key in ["topK", "top_k"] {
        if let Some(k) = count(key)? {
            req.top_k = Some(k);
        }
    }
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

/// Canonical -> the InvokeModel response body of `family`, whose request was `body`: a Messages
/// response (Claude), a Converse response with `latency_ms` (Nova), a v1 chat response with the
/// history carried on (Cohere), a chat completion (OpenAI).
pub fn encode_invoke_response(family: InvokeFamily, resp: &ChatResponse, body: &[u8], latency_ms: u64) -> Vec<u8> {
    match family {
        InvokeFamily::Anthropic => anthropic::encode_response(resp),
        InvokeFamily::Nova => super::encode_response_timed(resp, latency_ms),
        InvokeFamily::CohereCommandR => cohere::v1chat::encode_response(resp, &cohere::v1chat::History::of(body)),
        InvokeFamily::OpenAi => openai::response::encode_response(resp),
        InvokeFamily::Prompt(prompt) => super::invoke_prompt::encode_response(prompt, resp),
    }
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
    fn prompt_bodies_are_refused_clearly() {
        for body in [&b"{}"[..], br#"{"prompt":"hi","max_tokens":5}"#, b"[1]", b"{"] {
            let e = decode_invoke_request(body, "cohere.command-text-v14", false).unwrap_err();
            assert_eq!(e.field, "modelId");
            assert!(e.message.contains("use Converse"), "{}", e.message);
        }
    }

    #[test]
    fn the_family_is_the_model_ids_then_the_bodys() {
        use InvokeFamily::*;
        for (model, body, want) in [
            ("anthropic.claude-3-5-sonnet-20240620-v1:0", "{}", Some(Anthropic)),
            (
                "us.anthropic.claude-sonnet-4-20250514-v1:0",
                r#"{"message":"x"}"#,
                Some(Anthropic),
            ),
            ("us.amazon.nova-pro-v1:0", r#"{"messages":[]}"#, Some(Nova)),
            (
                "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
                "{}",
                Some(Nova),
            ),
            ("cohere.command-r-plus-v1:0", r#"{"messages":[]}"#, Some(CohereCommandR)),
            ("openai.gpt-oss-120b-1:0", r#"{"message":"x"}"#, Some(OpenAi)),
            // Ids Bedrock would not know: the body's markers.
            (
                "my-model",
                r#"{"anthropic_version":"v","messages":[]}"#,
                Some(Anthropic),
            ),
            (
                "my-model",
                r#"{"schemaVersion":"messages-v1","messages":[]}"#,
                Some(Nova),
            ),
            ("my-model", r#"{"messages":[],"inferenceConfig":{}}"#, Some(Nova)),
            (
                "my-model",
                r#"{"message":"hi","chat_history":[]}"#,
                Some(CohereCommandR),
            ),
            (
                "my-model",
                r#"{"messages":[{"role":"user","content":"hi"}]}"#,
                Some(OpenAi),
            ),
            ("my-model", r#"{"prompt":"hi"}"#, None),
            (
                "cohere.command-light-text-v14",
                r#"{"prompt":"hi","max_tokens":5}"#,
                None,
            ),
            (
                "us.deepseek.r1-v1:0",
                r#"{"prompt":"hi","max_tokens":5}"#,
                Some(Prompt(PromptFamily::DeepSeek)),
            ),
            ("deepseek.v3-v1:0", r#"{"messages":[]}"#, Some(OpenAi)),
            ("my-model", "not json", None),
            // The text-completion families.
            (
                "meta.llama3-8b-instruct-v1:0",
                r#"{"prompt":"hi"}"#,
                Some(Prompt(PromptFamily::Llama)),
            ),
            (
                "us.meta.llama3-2-1b-instruct-v1:0",
                "{}",
                Some(Prompt(PromptFamily::Llama)),
            ),
            (
                "mistral.mistral-7b-instruct-v0:2",
                r#"{"prompt":"hi"}"#,
                Some(Prompt(PromptFamily::Mistral)),
            ),
            (
                "mistral.mixtral-8x7b-instruct-v0:1",
                "{}",
                Some(Prompt(PromptFamily::Mistral)),
            ),
            // Mistral Large 2 takes chat bodies.
            ("mistral.mistral-large-2407-v1:0", r#"{"messages":[]}"#, Some(OpenAi)),
            (
                "amazon.titan-text-express-v1",
                r#"{"inputText":"hi"}"#,
                Some(Prompt(PromptFamily::TitanText)),
            ),
            ("amazon.titan-tg1-large", "{}", Some(Prompt(PromptFamily::TitanText))),
            (
                "my-model",
                r#"{"inputText":"hi","textGenerationConfig":{}}"#,
                Some(Prompt(PromptFamily::TitanText)),
            ),
            (
                "my-model",
                r#"{"prompt":"hi","max_gen_len":9}"#,
                Some(Prompt(PromptFamily::Llama)),
            ),
            // A `provider/model` id naming a family is no Bedrock id: the body's markers first.
            (
                "anthropic/claude-sonnet-4-5",
                r#"{"inputText":"hi","textGenerationConfig":{}}"#,
                Some(Prompt(PromptFamily::TitanText)),
            ),
            (
                "anthropic/claude-sonnet-4-5",
                r#"{"messages":[],"max_completion_tokens":9}"#,
                Some(OpenAi),
            ),
            (
                "openai/gpt-oss-120b",
                r#"{"prompt":"hi","max_gen_len":9}"#,
                Some(Prompt(PromptFamily::Llama)),
            ),
            (
                "anthropic/claude-sonnet-4-5",
                r#"{"anthropic_version":"v","messages":[]}"#,
                Some(Anthropic),
            ),
            // ... and its name when the body has no marker of its own.
            (
                "bedrock/mistral.mistral-7b-instruct-v0:2",
                r#"{"prompt":"hi"}"#,
                Some(Prompt(PromptFamily::Mistral)),
            ),
            ("bedrock/us.amazon.nova-pro-v1:0", r#"{"messages":[]}"#, Some(Nova)),
        ] {
            assert_eq!(InvokeFamily::of(model, body.as_bytes()), want, "{model} {body}");
        }
    }

    #[test]
    fn nova_bodies_read_novas_own_fields() {
        let body = br#"{"schemaVersion":"messages-v1","system":[{"text":"sys"}],
            "messages":[{"role":"user","content":[{"text":"hi"}]}],
            "inferenceConfig":{"max_new_tokens":77,"temperature":0.3,"topK":5,"stopSequences":["END"]}}"#;
        let r = decode_invoke_request(body, "us.amazon.nova-lite-v1:0", true).unwrap();
        assert_eq!((r.max_tokens, r.top_k, r.temperature), (Some(77), Some(5), Some(0.3)));
        assert_eq!(r.stop, vec!["END".to_string()]);
        assert_eq!(r.system, vec![Part::text("sys")]);
        assert!(r.stream);
        // `schemaVersion` only marks the shape: it is not an extra another provider would see.
        assert!(r.extra.get("schemaVersion").is_none());
        // Converse's own name wins over Nova's first one.
        let body = br#"{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":9,"max_new_tokens":77,"top_k":3,"topP":0.5,"top_p":0.9}}"#;
        let r = decode_invoke_request(body, "amazon.nova-micro-v1:0", false).unwrap();
        assert_eq!((r.max_tokens, r.top_k, r.top_p), (Some(9), Some(3), Some(0.5)));
        // Nova's documented schema names top-p in snake case, as it does `max_new_tokens`.
        let body = br#"{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"top_p":0.9}}"#;
        let r = decode_invoke_request(body, "amazon.nova-micro-v1:0", false).unwrap();
        assert_eq!(r.top_p, Some(0.9));
        let e = decode_invoke_request(
            br#"{"messages":[],"inferenceConfig":{"max_new_tokens":-1}}"#,
            "amazon.nova-micro-v1:0",
            false,
        )
        .unwrap_err();
        assert_eq!(e.field, "inferenceConfig.max_new_tokens");
        let e = decode_invoke_request(
            br#"{"messages":[],"inferenceConfig":{"top_p":"high"}}"#,
            "amazon.nova-micro-v1:0",
            false,
        )
        .unwrap_err();
        assert_eq!(e.field, "inferenceConfig.top_p");
    }

    #[test]
    fn cohere_and_openai_bodies_take_the_model_from_the_path() {
        let r = decode_invoke_request(
            br#"{"message":"hi","preamble":"p","max_tokens":5}"#,
            "cohere.command-r-v1:0",
            false,
        )
        .unwrap();
        assert_eq!((r.model.as_str(), r.max_tokens), ("cohere.command-r-v1:0", Some(5)));
        assert_eq!(r.system, vec![Part::text("p")]);
        let body = br#"{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":7,"stream":false}"#;
        let r = decode_invoke_request(body, "openai.gpt-oss-20b-1:0", true).unwrap();
        assert_eq!(
            (r.model.as_str(), r.max_tokens, r.stream),
            ("openai.gpt-oss-20b-1:0", Some(7), true)
        );
        // The path's model wins over one in the body, as on Bedrock.
        let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
        assert_eq!(
            decode_invoke_request(body, "openai.gpt-oss-20b-1:0", false)
                .unwrap()
                .model,
            "openai.gpt-oss-20b-1:0"
        );
    }

    #[test]
    fn each_family_answers_in_its_own_shape() {
        use crate::canonical::stream::testing::sample_response;
        use sonic_rs::{JsonValueTrait, Value};
        let resp = sample_response();
        let nova: Value = sonic_rs::from_slice(&encode_invoke_response(InvokeFamily::Nova, &resp, b"{}", 42)).unwrap();
        assert_eq!(nova.pointer(&["stopReason"]).and_then(|v| v.as_str()), Some("tool_use"));
        assert_eq!(
            nova.pointer(&["metrics", "latencyMs"]).and_then(|v| v.as_u64()),
            Some(42)
        );
        let body = br#"{"message":"q","chat_history":[{"role":"USER","message":"earlier"}]}"#;
        let cohere: Value =
            sonic_rs::from_slice(&encode_invoke_response(InvokeFamily::CohereCommandR, &resp, body, 0)).unwrap();
        assert_eq!(
            cohere
                .pointer(&sonic_rs::pointer!["chat_history", 0, "message"])
                .and_then(|v| v.as_str()),
            Some("earlier")
        );
        assert_eq!(
            cohere
                .pointer(&sonic_rs::pointer!["tool_calls", 0, "name"])
                .and_then(|v| v.as_str()),
            Some("get_weather")
        );
        let openai: Value =
            sonic_rs::from_slice(&encode_invoke_response(InvokeFamily::OpenAi, &resp, b"{}", 0)).unwrap();
        assert_eq!(
            openai.pointer(&["object"]).and_then(|v| v.as_str()),
            Some("chat.completion")
        );
        let claude: Value =
            sonic_rs::from_slice(&encode_invoke_response(InvokeFamily::Anthropic, &resp, b"{}", 0)).unwrap();
        assert_eq!(claude.pointer(&["type"]).and_then(|v| v.as_str()), Some("message"));
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
