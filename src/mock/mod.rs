//! The mock upstream's behaviour, shared by the in-process `mock` provider and `sluice-mock`.
//!
//! Pure functions: request bytes in, response bytes out. The reply echoes the last user message
//! (`"echo: <text>"`) so a caller can see its request arrived intact; scenarios are chosen by the
//! model name (`error-429`, `error-500`, ...), so tests need no extra control channel.

pub mod anthropic;
pub mod bedrock;
pub mod cohere;
pub mod gemini;
pub mod openai;
pub mod rerank;
pub mod scenario;
pub mod stream;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The model latency the mock reports where a format carries one (Bedrock's `metrics.latencyMs`,
/// `x-amzn-bedrock-invocation-latency` and `amazon-bedrock-invocationMetrics`). `sluice-mock
/// --latency-ms` waits that long before it answers and sets this to match, so a client pointed
/// straight at the mock reads the time it waited, as from the real service. 0 in process.
static REPORTED_LATENCY_MS: AtomicU64 = AtomicU64::new(0);

/// Sets the latency the mock reports (see `REPORTED_LATENCY_MS`).
pub fn set_reported_latency(latency: Duration) {
    let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    REPORTED_LATENCY_MS.store(ms, Ordering::Relaxed);
}

/// The latency the mock reports, in milliseconds.
pub fn reported_latency_ms() -> u64 {
    REPORTED_LATENCY_MS.load(Ordering::Relaxed)
}

/// Dimensions of a mock embedding when the request sets none, in every format whose real API
/// lets the caller choose (OpenAI, Cohere, Gemini); Bedrock's models use their real defaults.
pub const DEFAULT_EMBED_DIMS: usize = 8;

/// The most texts one mock embeddings request may ask for: OpenAI's own limit. The in-process
/// mock answers the default config, so a request for millions of vectors must not become
/// gigabytes of answer.
pub const MAX_EMBED_INPUTS: usize = 2048;

/// A complete mock answer in some format (non-streaming).
#[derive(Debug, Clone, PartialEq)]
pub struct MockReply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// What a model name asks the mock to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Echo,
    /// Answer with this HTTP error status.
    Error(u16),
}

impl Scenario {
    pub fn from_model(model: &str) -> Scenario {
        if let Some(i) = model.find("error-") {
            let digits: String = model[i + 6..].chars().take_while(char::is_ascii_digit).collect();
            if let Ok(status) = digits.parse::<u16>() {
                if (400..600).contains(&status) {
                    return Scenario::Error(status);
                }
            }
        }
        Scenario::Echo
    }
}

/// Thinking signed with what this mock's family would not have made is refused, as the real
/// APIs refuse another model's signature, in their words: Anthropic's (Bedrock passes it on) and
/// Gemini's. So is a token still wearing a Sluice marker (`body` holds one), even its own
/// family's: no provider made `slcC...`. Checked on the generating routes only: whether a real
/// count-tokens route validates signatures is undocumented (Anthropic documents only that earlier
/// turns' thinking is left out of the context window), so the mock's counts stay lenient.
pub(crate) fn signature_rule(
    format: crate::formats::Format,
    req: &crate::canonical::ChatRequest,
    body: &[u8],
) -> Result<(), crate::canonical::ConvertError> {
    use crate::canonical::ConvertError;
    let marked = scenario::mock_family(format, &req.model).is_some() && crate::canonical::sig::has_marker(body);
    match scenario::foreign_signature(req, format) {
        None if !marked => Ok(()),
        _ if format == crate::formats::Format::Gemini => Err(ConvertError::new("", "Thought signature is not valid.")),
        Some((i, j)) => Err(ConvertError::new(
            format!("messages.{i}.content.{j}"),
            "Invalid `signature` in `thinking` block",
        )),
        None => Err(ConvertError::new("messages", "Invalid `signature` in `thinking` block")),
    }
}

/// `upstream_rules` and `signature_rule`: what a generating route of `format` refuses.
pub(crate) fn chat_rules(
    format: crate::formats::Format,
    req: &crate::canonical::ChatRequest,
    body: &[u8],
) -> Result<(), crate::canonical::ConvertError> {
    upstream_rules(format, req)?;
    signature_rule(format, req, body)
}

/// The request rules of `format`'s real API that a gateway's translation can break and a lenient
/// mock would hide (the mock decodes with Sluice's own decoders, which accept more): tool names
/// and call ids of the shapes each takes, Converse's content rules. Checked on every route of the
/// format, streamed or not.
pub(crate) fn upstream_rules(
    format: crate::formats::Format,
    req: &crate::canonical::ChatRequest,
) -> Result<(), crate::canonical::ConvertError> {
    use crate::canonical::{ConvertError, Part};
    use crate::formats::{call_ids, tool_names, Format};
    let names = tool_names::rule(format);
    if let Some(name) = tool_names::names(req).find(|n| !tool_names::fits(n, names)) {
        let first = if names.letter_first { "[a-zA-Z_]" } else { "" };
        return Err(ConvertError::new(
            "tools",
            format!(
                "invalid tool name {name:?}: it must match '^{first}[a-zA-Z0-9_{}-]*$' and have 1 to {} characters",
                names.also, names.max_len
            ),
        ));
    }
    let rule = match format {
        Format::Anthropic => {
            strict_tool_rules(format, req)?;
            anthropic::anthropic_rules(req)?;
            call_ids::ANTHROPIC
        }
        Format::Bedrock => {
            strict_tool_rules(format, req)?;
            bedrock::converse_rules(req)?;
            call_ids::BEDROCK
        }
        Format::OpenAi => {
            strict_tool_rules(format, req)?;
            return openai::openai_rules(req);
        }
        Format::Gemini => return gemini::gemini_rules(req),
        // v2 chat only: v1's CHATBOT items carry `message` beside `tool_calls`.
        Format::Cohere => return cohere::cohere_rules(req),
    };
    for (i, m) in req.messages.iter().enumerate() {
        for (j, p) in m.content.iter().enumerate() {
            if let Part::ToolCall { id, .. } | Part::ToolResult { id, .. } = p {
                if !call_ids::fits(id, rule) {
                    return Err(ConvertError::new(
                        format!("messages.{i}.content.{j}.id"),
                        format!(
                            "String should match pattern '^[a-zA-Z0-9_-]+$' and have at most {} characters",
                            rule.max_len
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Strict tools (OpenAI `function.strict`, Anthropic and Bedrock `strict`): these APIs compile
/// the schema into a grammar and refuse one whose objects stay open (`additionalProperties` must
/// be false); OpenAI also wants every property listed in `required`. A strict flag that crossed
/// from a format without these limits (Cohere's `strict_tools`) meets the same 400 here as there.
fn strict_tool_rules(
    format: crate::formats::Format,
    req: &crate::canonical::ChatRequest,
) -> Result<(), crate::canonical::ConvertError> {
    use crate::formats::Format;
    for (i, t) in req.tools.iter().enumerate() {
        if t.strict != Some(true) {
            continue;
        }
        let Some(problem) = open_object(&t.parameters.value(), format == Format::OpenAi, 0) else {
            continue;
        };
        let field = match format {
            Format::OpenAi => format!("tools[{i}].function.parameters"),
            Format::Bedrock => format!("toolConfig.tools.{i}.toolSpec.inputSchema"),
            _ => format!("tools.{i}.custom.input_schema"),
        };
        return Err(crate::canonical::ConvertError::new(
            field,
            format!("Invalid schema for strict tool '{}': {problem}", t.name),
        ));
    }
    Ok(())
}

/// What a strict tool's grammar refuses in `schema` (its first open object), or None.
fn open_object(schema: &crate::canonical::Json, all_required: bool, depth: usize) -> Option<String> {
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};
    let obj = schema.as_object().filter(|_| depth < 64)?;
    let properties = schema.get("properties").and_then(|p| p.as_object());
    if schema.get("type").and_then(|t| t.as_str()) == Some("object") || properties.is_some() {
        if schema.get("additionalProperties").and_then(|a| a.as_bool()) != Some(false) {
            return Some("'additionalProperties' is required to be supplied and to be false".into());
        }
        let required: Vec<&str> = schema
            .get("required")
            .and_then(|r| r.as_array())
            .map(|r| r.iter().filter_map(|k| k.as_str()).collect())
            .unwrap_or_default();
        let missing = properties
            .filter(|_| all_required)
            .and_then(|p| p.iter().map(|(k, _)| k).find(|k| !required.contains(k)));
        if let Some(k) = missing {
            return Some(format!(
                "'required' is required to be supplied and to be an array including every key in properties. Missing '{k}'"
            ));
        }
    }
    let mut nested = Vec::new();
    for (k, v) in obj.iter() {
        match k {
            "properties" | "$defs" | "definitions" => {
                nested.extend(v.as_object().into_iter().flat_map(|o| o.iter().map(|(_, s)| s)))
            }
            "anyOf" | "allOf" | "oneOf" => nested.extend(v.as_array().into_iter().flat_map(|a| a.iter())),
            "items" => nested.push(v),
            _ => {}
        }
    }
    nested.into_iter().find_map(|s| open_object(s, all_required, depth + 1))
}

/// The ids of a message's tool calls.
pub(crate) fn call_ids_of(m: &crate::canonical::Message) -> Vec<&str> {
    m.content
        .iter()
        .filter_map(|p| match p {
            crate::canonical::Part::ToolCall { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect()
}

/// A 1x1 PNG, the bytes that stand in for media the mock is not sent (`with_stand_ins`).
pub(crate) const STAND_IN_PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// A body with the blocks its real API takes but the gateway's decoder (which the mock answers
/// through) refuses, since no other format carries them, made into blocks the decoder takes, so
/// the mock answers such a request as the API does (it never looks at media anyway). `marks`:
/// one of them is in every body with such a block (others are not parsed); `lists`: the body's
/// block arrays; `stand_in`: a block's replacement, None to keep it. `body` itself when nothing
/// changes.
pub(crate) fn with_stand_ins<'a>(
    body: &'a [u8],
    marks: &[&[u8]],
    lists: fn(&mut sonic_rs::Value) -> Vec<&mut sonic_rs::Value>,
    stand_in: fn(&sonic_rs::Value) -> Option<sonic_rs::Value>,
) -> std::borrow::Cow<'a, [u8]> {
    use sonic_rs::JsonValueMutTrait;
    use std::borrow::Cow;
    if !marks.iter().any(|m| body.windows(m.len()).any(|w| w == *m)) {
        return Cow::Borrowed(body);
    }
    let Ok(mut v) = sonic_rs::from_slice::<sonic_rs::Value>(body) else {
        return Cow::Borrowed(body);
    };
    let mut changed = false;
    for list in lists(&mut v) {
        for block in list.as_array_mut().into_iter().flat_map(|a| a.iter_mut()) {
            if let Some(new) = stand_in(block) {
                *block = new;
                changed = true;
            }
        }
    }
    match changed {
        true => Cow::Owned(sonic_rs::to_vec(&v).unwrap_or_else(|_| body.to_vec())),
        false => Cow::Borrowed(body),
    }
}

/// The arrays under `key` of each item of the array `items` of `v` (a conversation's blocks).
pub(crate) fn nested_lists<'v>(v: &'v mut sonic_rs::Value, items: &str, key: &str) -> Vec<&'v mut sonic_rs::Value> {
    use sonic_rs::JsonValueMutTrait;
    v.get_mut(items)
        .and_then(|m| m.as_array_mut())
        .into_iter()
        .flat_map(|a| a.iter_mut())
        .filter_map(|m| m.get_mut(key))
        .collect()
}

/// The ids of the tool results in a message.
pub(crate) fn result_ids_of(m: &crate::canonical::Message) -> Vec<&str> {
    m.content
        .iter()
        .filter_map(|p| match p {
            crate::canonical::Part::ToolResult { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect()
}

pub fn word_count(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Splits `text` into at most `n` non-empty pieces on char boundaries (concatenation == text).
pub fn split_pieces(text: &str, n: usize) -> Vec<&str> {
    let n = n.max(1);
    let chars: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    if chars.is_empty() {
        return vec![text];
    }
    let per = chars.len().div_ceil(n);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    let mut idx = per;
    while idx < chars.len() {
        out.push(&text[start..chars[idx]]);
        start = chars[idx];
        idx += per;
    }
    out.push(&text[start..]);
    out
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_and_bedrock_routes_refuse_call_ids_their_apis_refuse() {
        let history = |id: &str| {
            format!(
                r#"{{"model":"m","max_tokens":9,"messages":[{{"role":"user","content":"go"}},
                {{"role":"assistant","content":[{{"type":"tool_use","id":"{id}","name":"f","input":{{}}}}]}},
                {{"role":"user","content":[{{"type":"tool_result","tool_use_id":"{id}","content":"ok"}}]}}]}}"#
            )
        };
        let status = |id: &str, stream: bool| {
            let mut body = history(id);
            if stream {
                body = body.replacen("\"max_tokens\":9", "\"max_tokens\":9,\"stream\":true", 1);
            }
            anthropic::serve(crate::http::Method::Post, "/v1/messages", body.as_bytes())
                .unwrap()
                .status
        };
        for stream in [false, true] {
            assert_eq!(status("toolu_01-x_Y", stream), 200);
            assert_eq!(status("functions.f:0", stream), 400);
            assert_eq!(status(&"a".repeat(65), stream), 400);
        }
        let converse = |id: &str| {
            let body = format!(
                r#"{{"messages":[{{"role":"user","content":[{{"text":"go"}}]}},
                {{"role":"assistant","content":[{{"toolUse":{{"toolUseId":"{id}","name":"f","input":{{}}}}}}]}},
                {{"role":"user","content":[{{"toolResult":{{"toolUseId":"{id}","content":[{{"text":"ok"}}]}}}}]}}]}}"#
            );
            bedrock::serve(crate::http::Method::Post, "/model/m/converse", body.as_bytes())
                .unwrap()
                .status
        };
        assert_eq!(converse("tooluse_1"), 200);
        assert_eq!(converse("a:b"), 400);
    }

    /// Strict tools compile to a grammar: OpenAI, Anthropic and Bedrock refuse an open object
    /// (OpenAI also an optional property), so a strict flag that crossed formats with a schema
    /// written for a looser API meets the mock's 400 as it would the real one.
    #[test]
    fn strict_tools_need_closed_schemas_where_the_api_says_so() {
        let schemas = [
            (
                r#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}"#,
                [200, 200, 200],
            ),
            (
                r#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#,
                [400, 400, 400],
            ),
            // Optional properties: Anthropic and Bedrock take them, OpenAI does not.
            (
                r#"{"type":"object","properties":{"city":{"type":"string"}},"additionalProperties":false}"#,
                [400, 200, 200],
            ),
            (
                r#"{"type":"object","properties":{"at":{"type":"object","properties":{}}},"required":["at"],"additionalProperties":false}"#,
                [400, 400, 400],
            ),
        ];
        for (schema, [openai_status, anthropic_status, bedrock_status]) in schemas {
            for strict in [true, false] {
                let expect = |s: u16| if strict { s } else { 200 };
                let body = format!(
                    r#"{{"model":"m","messages":[{{"role":"user","content":"hi"}}],"tools":[{{"type":"function","function":{{"name":"f","parameters":{schema},"strict":{strict}}}}}]}}"#
                );
                let status = match openai::chat(body.as_bytes(), None) {
                    openai::ChatOutcome::Answer(_) => 200,
                    openai::ChatOutcome::Error { status, .. } => status,
                };
                assert_eq!(status, expect(openai_status), "openai {schema} {strict}");
                let body = format!(
                    r#"{{"model":"m","max_tokens":9,"messages":[{{"role":"user","content":"hi"}}],"tools":[{{"name":"f","input_schema":{schema},"strict":{strict}}}]}}"#
                );
                let got = anthropic::serve(crate::http::Method::Post, "/v1/messages", body.as_bytes()).unwrap();
                assert_eq!(got.status, expect(anthropic_status), "anthropic {schema} {strict}");
                let body = format!(
                    r#"{{"messages":[{{"role":"user","content":[{{"text":"hi"}}]}}],"toolConfig":{{"tools":[{{"toolSpec":{{"name":"f","inputSchema":{{"json":{schema}}},"strict":{strict}}}}}]}}}}"#
                );
                let got = bedrock::serve(crate::http::Method::Post, "/model/m/converse", body.as_bytes()).unwrap();
                assert_eq!(got.status, expect(bedrock_status), "bedrock {schema} {strict}");
            }
        }
    }

    #[test]
    fn scenarios_by_model_name() {
        assert_eq!(Scenario::from_model("gpt-4o"), Scenario::Echo);
        assert_eq!(Scenario::from_model("error-429"), Scenario::Error(429));
        assert_eq!(Scenario::from_model("x-error-500-y"), Scenario::Error(500));
        assert_eq!(Scenario::from_model("error-200"), Scenario::Echo);
    }

    #[test]
    fn pieces_concatenate_back() {
        for n in 1..8 {
            let t = "echo: héllo wörld";
            let p = split_pieces(t, n);
            assert!(p.len() <= n);
            assert_eq!(p.concat(), t);
        }
    }
}
