//! Token counting across formats: Anthropic `POST /v1/messages/count_tokens`, Gemini
//! `:countTokens`, Bedrock `CountTokens` and, as a client, OpenAI
//! `POST /v1/responses/input_tokens`. The conversation to count is a chat request, so it crosses
//! through the chat codecs; only the envelope and the answer (one number) differ.
//!
//! ```text
//! decode_request(format, body, path_model) -> ChatRequest   // integration
//! encode_request(format, &ChatRequest, vertex) -> body      // provider
//! request_path(format, model, vertex)      -> String        // provider
//! decode_response(format, body)            -> u64           // provider
//! encode_response(format, n)               -> Vec<u8>       // integration
//! ```
//!
//! An OpenAI client counts with a Responses body; an OpenAI provider is counted for only by an
//! OpenAI client (the same request, passed through): Sluice writes no Responses requests. Cohere
//! has no counting endpoint. A count routed where none can be made is refused by name. Counts are
//! the provider's own: each model family tokenizes differently.

use super::{anthropic, bedrock, gemini, Format};
use crate::canonical::{ChatRequest, ConvertError, Json};
use sonic_rs::{JsonValueMutTrait, JsonValueTrait};

/// The top-level keys Anthropic's count_tokens takes; it refuses any other (`max_tokens`,
/// `stream`, sampling settings) as an extra input.
const ANTHROPIC_COUNT_KEYS: [&str; 11] = [
    "cache_control",
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "mcp_servers",
    "output_config",
    "output_format",
    "context_management",
];

/// The Converse fields `CountTokens` takes inside `input.converse`.
const CONVERSE_COUNT_KEYS: [&str; 4] = ["messages", "system", "toolConfig", "additionalModelRequestFields"];

/// The fields Vertex AI's countTokens takes beside `contents`.
const VERTEX_COUNT_KEYS: [&str; 4] = ["contents", "systemInstruction", "tools", "generationConfig"];

fn parse(body: &[u8]) -> Result<Json, ConvertError> {
    crate::wire::json::utf8(body).map_err(|e| ConvertError::new("", e))?;
    sonic_rs::from_slice(body).map_err(|e| ConvertError::new("", format!("invalid JSON: {e}")))
}

fn raw(v: &Json) -> Vec<u8> {
    sonic_rs::to_vec(v).unwrap_or_default()
}

/// Integration: the conversation a client asks to count, as a chat request.
pub fn decode_request(format: Format, body: &[u8], path_model: Option<&str>) -> Result<ChatRequest, ConvertError> {
    match format {
        Format::Anthropic => anthropic::decode_request(body, path_model, false),
        Format::Gemini => {
            // Either `contents` (with Vertex's system instruction and tools beside it) or a whole
            // `generateContentRequest`; the API takes one or the other.
            let v = parse(body)?;
            match v
                .get("generateContentRequest")
                .or_else(|| v.get("generate_content_request"))
            {
                Some(inner) if v.get("contents").is_some() => {
                    let _ = inner;
                    Err(ConvertError::new(
                        "generateContentRequest",
                        "contents and generateContentRequest are mutually exclusive",
                    ))
                }
                Some(inner) => gemini::decode_request(&raw(inner), path_model, false),
                None => gemini::decode_request(body, path_model, false),
            }
        }
        Format::Bedrock => {
            let v = parse(body)?;
            let model = path_model.unwrap_or_default();
            let input = v
                .get("input")
                .filter(|i| i.is_object())
                .ok_or_else(|| ConvertError::new("input", "required: converse or invokeModel"))?;
            match (input.get("converse"), input.get("invokeModel")) {
                (Some(c), None) => bedrock::decode_request(&raw(c), path_model, false),
                (None, Some(i)) => {
                    let b64 = i
                        .get("body")
                        .and_then(|b| b.as_str())
                        .ok_or_else(|| ConvertError::new("input.invokeModel.body", "required (base64)"))?;
                    let bytes = crate::wire::base64::decode(b64)
                        .ok_or_else(|| ConvertError::new("input.invokeModel.body", "not base64"))?;
                    bedrock::invoke::decode_invoke_request(&bytes, model, false)
                }
                _ => Err(ConvertError::new(
                    "input",
                    "exactly one of converse or invokeModel is required",
                )),
            }
        }
        Format::OpenAi => super::openai::responses::decode_request(body),
        Format::Cohere => Err(no_counting(format)),
    }
}

/// Keeps only `keys` of a JSON object.
fn keep(v: &mut Json, keys: &[&str]) {
    if let Some(obj) = v.as_object_mut() {
        let drop: Vec<String> = obj
            .iter()
            .map(|(k, _)| k.to_string())
            .filter(|k| !keys.contains(&k.as_str()))
            .collect();
        for k in drop {
            obj.remove(&k);
        }
    }
}

/// Provider: the count request for `req.model`, from the provider's chat encoding of the same
/// conversation (so what is counted is what a chat request would send).
pub fn encode_request(target: Format, req: &ChatRequest, vertex: bool) -> Result<Vec<u8>, ConvertError> {
    let chat = |encode: fn(&ChatRequest) -> Result<Vec<u8>, ConvertError>| -> Result<Json, ConvertError> {
        let body = encode(req)?;
        sonic_rs::from_slice(&body).map_err(|e| ConvertError::new("", e.to_string()))
    };
    let out = match target {
        Format::Anthropic => {
            let mut v = chat(anthropic::encode_request)?;
            keep(&mut v, &ANTHROPIC_COUNT_KEYS);
            v
        }
        Format::Gemini if vertex => {
            let mut v = chat(gemini::encode_request)?;
            keep(&mut v, &VERTEX_COUNT_KEYS);
            v
        }
        Format::Gemini => {
            let mut inner = chat(gemini::encode_request)?;
            if let Some(obj) = inner.as_object_mut() {
                obj.insert("model", Json::from(format!("models/{}", req.model).as_str()));
            }
            let mut v = Json::new_object();
            if let Some(obj) = v.as_object_mut() {
                obj.insert("generateContentRequest", inner);
            }
            v
        }
        Format::Bedrock => {
            let mut converse = chat(bedrock::encode_request)?;
            keep(&mut converse, &CONVERSE_COUNT_KEYS);
            let mut input = Json::new_object();
            let mut v = Json::new_object();
            if let (Some(i), Some(o)) = (input.as_object_mut(), v.as_object_mut()) {
                i.insert("converse", converse);
                o.insert("input", input);
            }
            v
        }
        Format::OpenAi | Format::Cohere => return Err(no_counting(target)),
    };
    Ok(raw(&out))
}

/// Provider: the count path, before `Provider::styled_path`.
pub fn request_path(target: Format, model: &str) -> String {
    match target {
        Format::Anthropic => "/v1/messages/count_tokens".to_string(),
        Format::Gemini => gemini::model_path(model, ":countTokens"),
        Format::Bedrock => {
            let mut out = String::from("/model/");
            crate::wire::url::percent_encode_into(&mut out, model);
            out.push_str("/count-tokens");
            out
        }
        Format::OpenAi | Format::Cohere => String::new(),
    }
}

/// Provider: the count in an answer.
pub fn decode_response(target: Format, body: &[u8]) -> Result<u64, ConvertError> {
    let v = parse(body)?;
    let key = match target {
        Format::Anthropic => "input_tokens",
        Format::Gemini => "totalTokens",
        Format::Bedrock => "inputTokens",
        Format::OpenAi | Format::Cohere => return Err(no_counting(target)),
    };
    match v.get(key) {
        // proto3 JSON: an int64 may come as a string; a zero count may be left out (Gemini).
        None if target == Format::Gemini => Ok(0),
        Some(n) => n
            .as_u64()
            .or_else(|| n.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| ConvertError::new(key, "must be a whole number")),
        None => Err(ConvertError::new(key, "missing")),
    }
}

/// Integration: the client format's count answer.
pub fn encode_response(client: Format, tokens: u64) -> Vec<u8> {
    match client {
        Format::Anthropic => format!(r#"{{"input_tokens":{tokens}}}"#),
        Format::Gemini => format!(r#"{{"totalTokens":{tokens}}}"#),
        Format::OpenAi => format!(r#"{{"object":"response.input_tokens","input_tokens":{tokens}}}"#),
        _ => format!(r#"{{"inputTokens":{tokens}}}"#),
    }
    .into_bytes()
}

fn no_counting(format: Format) -> ConvertError {
    let why = match format {
        // OpenAI counts Responses requests, which Sluice does not write.
        Format::OpenAi => "the OpenAI API has no token-counting endpoint for this request (it counts only an OpenAI client's own /v1/responses/input_tokens)".to_string(),
        _ => format!("the {} API has no token-counting endpoint", format.name()),
    };
    ConvertError::new(
        "model",
        format!("{why}; route this model to an Anthropic, Gemini or Bedrock provider"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::{json, JsonContainerTrait};

    fn v(b: &[u8]) -> Json {
        sonic_rs::from_slice(b).unwrap()
    }

    const ANTHROPIC_COUNT: &str = r#"{"model":"claude-sonnet-4","system":"be brief","messages":[{"role":"user","content":"hello there"}],
        "tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}"#;

    #[test]
    fn anthropic_count_crosses_to_gemini_and_bedrock_with_system_and_tools() {
        let mut req = decode_request(Format::Anthropic, ANTHROPIC_COUNT.as_bytes(), None).unwrap();
        req.model = "target".into();
        let g = v(&encode_request(Format::Gemini, &req, false).unwrap());
        let inner = g.get("generateContentRequest").unwrap();
        assert_eq!(inner.get("model").and_then(|m| m.as_str()), Some("models/target"));
        assert!(inner.get("systemInstruction").is_some() && inner.get("tools").is_some());
        assert!(
            g.get("contents").is_none(),
            "contents and generateContentRequest are exclusive"
        );
        let vx = v(&encode_request(Format::Gemini, &req, true).unwrap());
        assert!(vx.get("contents").is_some() && vx.get("systemInstruction").is_some());
        assert!(vx.get("generateContentRequest").is_none());
        let b = v(&encode_request(Format::Bedrock, &req, false).unwrap());
        let conv = b.pointer(&sonic_rs::pointer!["input", "converse"]).unwrap();
        let keys: Vec<&str> = conv.as_object().unwrap().iter().map(|(k, _)| k).collect();
        assert!(keys.iter().all(|k| CONVERSE_COUNT_KEYS.contains(k)), "{keys:?}");
        assert!(conv.get("system").is_some() && conv.get("toolConfig").is_some());
    }

    #[test]
    fn anthropic_count_body_has_no_extra_inputs() {
        // An OpenAI-born request has a limit and sampling settings; count_tokens refuses them.
        let openai = br#"{"model":"x","max_tokens":50,"temperature":0.2,"stream":true,"messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}]}"#;
        let req = crate::formats::openai::decode_request(openai, None, true).unwrap();
        let a = v(&encode_request(Format::Anthropic, &req, false).unwrap());
        let keys: Vec<&str> = a.as_object().unwrap().iter().map(|(k, _)| k).collect();
        assert!(keys.iter().all(|k| ANTHROPIC_COUNT_KEYS.contains(k)), "{keys:?}");
        assert!(keys.contains(&"messages") && keys.contains(&"system") && keys.contains(&"model"));
    }

    #[test]
    fn gemini_and_bedrock_clients_decode_every_form() {
        let contents = br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;
        let r = decode_request(Format::Gemini, contents, Some("m")).unwrap();
        assert_eq!(r.messages.len(), 1);
        let wrapped = br#"{"generateContentRequest":{"model":"models/m","contents":[{"role":"user","parts":[{"text":"hi"}]}],"systemInstruction":{"parts":[{"text":"s"}]}}}"#;
        assert!(!decode_request(Format::Gemini, wrapped, Some("m"))
            .unwrap()
            .system
            .is_empty());
        let both = br#"{"contents":[],"generateContentRequest":{"contents":[]}}"#;
        assert_eq!(
            decode_request(Format::Gemini, both, Some("m")).unwrap_err().field,
            "generateContentRequest"
        );
        let converse = br#"{"input":{"converse":{"messages":[{"role":"user","content":[{"text":"hi"}]}],"system":[{"text":"s"}]}}}"#;
        let r = decode_request(Format::Bedrock, converse, Some("m")).unwrap();
        assert_eq!((r.messages.len(), !r.system.is_empty()), (1, true));
        let anthropic_body =
            br#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#;
        let invoke = format!(
            r#"{{"input":{{"invokeModel":{{"body":"{}"}}}}}}"#,
            crate::wire::base64::encode(anthropic_body)
        );
        let claude = Some("anthropic.claude-3-haiku");
        assert_eq!(
            decode_request(Format::Bedrock, invoke.as_bytes(), claude)
                .unwrap()
                .messages
                .len(),
            1
        );
        for bad in [
            &br#"{"input":{}}"#[..],
            br#"{}"#,
            br#"{"input":{"invokeModel":{"body":"%%"}}}"#,
        ] {
            assert!(decode_request(Format::Bedrock, bad, Some("m"))
                .unwrap_err()
                .field
                .starts_with("input"));
        }
    }

    #[test]
    fn counts_read_and_write_in_each_shape() {
        assert_eq!(decode_response(Format::Anthropic, br#"{"input_tokens":12}"#), Ok(12));
        assert_eq!(decode_response(Format::Gemini, br#"{"totalTokens":"7"}"#), Ok(7));
        assert_eq!(decode_response(Format::Gemini, br#"{}"#), Ok(0));
        assert_eq!(decode_response(Format::Bedrock, br#"{"inputTokens":3}"#), Ok(3));
        assert!(decode_response(Format::Bedrock, br#"{"inputTokens":-1}"#).is_err());
        assert_eq!(v(&encode_response(Format::Anthropic, 5)), json!({"input_tokens":5}));
        assert_eq!(v(&encode_response(Format::Gemini, 5)), json!({"totalTokens":5}));
        assert_eq!(v(&encode_response(Format::Bedrock, 5)), json!({"inputTokens":5}));
        assert_eq!(
            v(&encode_response(Format::OpenAi, 5)),
            json!({"object":"response.input_tokens","input_tokens":5})
        );
    }

    #[test]
    fn an_openai_client_counts_a_responses_body() {
        let body = br#"{"model":"m","instructions":"Be brief.","input":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","name":"f"}]}"#;
        let req = decode_request(Format::OpenAi, body, None).unwrap();
        assert_eq!((req.system.len(), req.messages.len(), req.tools.len()), (1, 1, 1));
        let sent = v(&encode_request(Format::Anthropic, &req, false).unwrap());
        assert_eq!(sent["system"].as_str(), Some("Be brief."), "{sent}");
        assert_eq!(sent["tools"][0]["name"].as_str(), Some("f"), "{sent}");
        // What needs a stored response is refused here too.
        let e = decode_request(Format::OpenAi, br#"{"model":"m","previous_response_id":"r"}"#, None).unwrap_err();
        assert_eq!(e.field, "previous_response_id");
    }

    #[test]
    fn openai_and_cohere_are_not_counted_for_another_format() {
        let req = ChatRequest::default();
        let e = encode_request(Format::Cohere, &req, false).unwrap_err();
        assert!(e.message.contains("no token-counting endpoint"), "{e}");
        let e = encode_request(Format::OpenAi, &req, false).unwrap_err();
        assert!(e.message.contains("no token-counting endpoint for this request"), "{e}");
        assert!(decode_request(Format::Cohere, b"{}", None).is_err());
    }
}
