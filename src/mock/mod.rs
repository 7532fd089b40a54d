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

/// The request rules of `format`'s real API that a gateway's translation can break and a lenient
/// mock would hide (the mock decodes with Sluice's own decoders, which accept more): call ids of
/// the shape Anthropic and Bedrock take, Converse's content rules. Checked on every route of the
/// format, streamed or not.
pub(crate) fn upstream_rules(
    format: crate::formats::Format,
    req: &crate::canonical::ChatRequest,
) -> Result<(), crate::canonical::ConvertError> {
    use crate::canonical::{ConvertError, Part};
    use crate::formats::{call_ids, Format};
    let rule = match format {
        Format::Anthropic => {
            anthropic::anthropic_rules(req)?;
            call_ids::ANTHROPIC
        }
        Format::Bedrock => {
            bedrock::converse_rules(req)?;
            call_ids::BEDROCK
        }
        Format::OpenAi => return openai::openai_rules(req),
        Format::Gemini => return gemini::gemini_rules(req),
        // NOTE: Cohere's own rules on tool messages are not documented anywhere we could find; the
        // mock takes what its decoder takes rather than guess at them.
        Format::Cohere => return Ok(()),
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
