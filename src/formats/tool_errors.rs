//! Failed tool results for upstreams whose tool messages have no error flag (OpenAI Chat and
//! OpenAI Responses; the Cohere v2 encoder writes the same words itself, in its tool message).
//!
//! Anthropic's `is_error`, Bedrock's `status: "error"` and Gemini's `response.error` tell the
//! model that a call failed; a tool message of these formats carries only content, so the flag
//! would be lost and the model would read an error text as the tool's answer. The encoders of
//! these formats therefore open a failed result's text with `Error: ` (the words an OpenAI
//! tool's own failures conventionally start with), unless it already opens with "error". A
//! successful result is never touched, and nothing is copied when no result failed.

use crate::canonical::{ChatRequest, Part, ToolResultContent};

/// What a failed result's text opens with.
pub const PREFIX: &str = "Error: ";

/// Whether a text already says it is an error.
pub fn says_error(text: &str) -> bool {
    text.trim_start()
        .get(..5)
        .is_some_and(|w| w.eq_ignore_ascii_case("error"))
}

/// A failed result's content, said to be one: the first text prefixed, or a text put first
/// (before JSON, which an encoder then writes after it; alone when there is nothing to prefix).
fn flagged(content: &[ToolResultContent]) -> Vec<ToolResultContent> {
    let mut out = content.to_vec();
    match out.first_mut() {
        Some(ToolResultContent::Text(t)) if says_error(t) => {}
        Some(ToolResultContent::Text(t)) => t.insert_str(0, PREFIX),
        Some(ToolResultContent::Json(_)) => out.insert(0, ToolResultContent::Text(PREFIX.into())),
        _ => out.insert(0, ToolResultContent::Text(PREFIX.trim_end_matches([':', ' ']).into())),
    }
    out
}

/// `req` with each failed tool result's content saying so, for an upstream that has no error
/// flag; None when no result failed (nothing is copied).
pub fn fit_request(req: &ChatRequest) -> Option<ChatRequest> {
    let failed = |p: &Part| matches!(p, Part::ToolResult { is_error: true, .. });
    if !req.messages.iter().any(|m| m.content.iter().any(failed)) {
        return None;
    }
    let mut out = req.clone();
    for m in &mut out.messages {
        for p in &mut m.content {
            if let Part::ToolResult {
                content,
                is_error: is_error @ true,
                ..
            } = p
            {
                *content = flagged(content);
                // Said in the content now: an encoder that could write the flag does not see it.
                *is_error = false;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{Extra, Message, Role};

    fn result(content: Vec<ToolResultContent>, is_error: bool) -> Part {
        Part::ToolResult {
            id: "call_1".into(),
            name: None,
            content,
            is_error,
            extra: Extra::default(),
        }
    }

    fn req(parts: Vec<Part>) -> ChatRequest {
        ChatRequest {
            messages: vec![Message {
                role: Role::User,
                content: parts,
            }],
            ..ChatRequest::default()
        }
    }

    fn contents(r: &ChatRequest) -> Vec<Vec<ToolResultContent>> {
        r.messages[0]
            .content
            .iter()
            .filter_map(|p| match p {
                Part::ToolResult { content, .. } => Some(content.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn failed_results_say_so_and_successful_ones_are_untouched() {
        use ToolResultContent::{Json, Text};
        let json = sonic_rs::json!({"code": 504});
        let r = req(vec![
            result(vec![Text("timeout".into())], true),
            result(vec![Text("sunny".into())], false),
            result(vec![Text("Error: disk full".into())], true),
            result(vec![Json(json.clone())], true),
            result(vec![], true),
            result(vec![Json(json.clone())], false),
        ]);
        let fit = fit_request(&r).expect("a failed result to flag");
        assert_eq!(
            contents(&fit),
            vec![
                vec![Text("Error: timeout".into())],
                vec![Text("sunny".into())],
                vec![Text("Error: disk full".into())],
                vec![Text("Error: ".into()), Json(json.clone())],
                vec![Text("Error".into())],
                vec![Json(json)],
            ]
        );
        assert!(fit.messages[0]
            .content
            .iter()
            .all(|p| matches!(p, Part::ToolResult { is_error: false, .. })));
        // Nothing failed: nothing copied.
        assert!(fit_request(&fit).is_none());
    }

    #[test]
    fn an_anthropic_failed_result_reaches_flagless_upstreams_as_an_error_text() {
        use crate::formats::{codec, Format};
        let body = br#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_a","name":"get_weather","input":{}},{"type":"tool_use","id":"toolu_b","name":"get_weather","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_a","content":"timeout","is_error":true},{"type":"tool_result","tool_use_id":"toolu_b","content":"sunny"}]}]}"#;
        let req = (codec(Format::Anthropic).unwrap().decode_request)(body, None, false).unwrap();
        type Encode = fn(&ChatRequest) -> Result<Vec<u8>, crate::canonical::ConvertError>;
        let encoders: [(&str, Encode); 3] = [
            ("openai", codec(Format::OpenAi).unwrap().encode_request),
            ("cohere", codec(Format::Cohere).unwrap().encode_request),
            ("responses", crate::formats::openai::responses_upstream::encode_request),
        ];
        for (name, encode) in encoders {
            let out = String::from_utf8(encode(&req).unwrap()).unwrap();
            assert!(out.contains("\"Error: timeout\""), "{name}: {out}");
            assert!(
                out.contains("\"sunny\"") && !out.contains("Error: sunny"),
                "{name}: {out}"
            );
        }
        // Formats with a flag keep it and the text as it was.
        let a = String::from_utf8((codec(Format::Anthropic).unwrap().encode_request)(&req).unwrap()).unwrap();
        assert!(a.contains(r#""is_error":true"#) && !a.contains("Error: "), "{a}");
        let b = String::from_utf8((codec(Format::Bedrock).unwrap().encode_request)(&req).unwrap()).unwrap();
        assert!(b.contains(r#""status":"error""#) && !b.contains("Error: "), "{b}");
    }
}
