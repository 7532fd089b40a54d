//! Anthropic Messages as the mock speaks it (PROTOCOLS 3.3, 3.5): `POST /v1/messages` and
//! `POST /anthropic/v1/messages` (streams through `mock::stream`), and `POST [/anthropic]/v1/messages/
//! count_tokens`. The answer is the format-independent scenario
//! (`scenario::respond`) encoded by the Anthropic codec, so the mock exercises the same code the
//! gateway uses. Authentication headers (`x-api-key` or `Authorization: Bearer`) are ignored.

use super::{scenario, MockReply};
use crate::canonical::{
    ChatRequest, ConvertError, ErrorReply, FaultKind, ImageSource, Part, Reasoning, Role, ToolChoice, UpstreamFault,
};
use crate::formats::anthropic;
use crate::http::Method;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A message's id and its `request-id`, from one count (`msg_mock_...`, `req_mock_...`); the
/// stream route (`mock::stream`) takes them from here too, as Anthropic names a message alike
/// streamed or not.
pub(super) fn message_ids() -> (String, String) {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    (format!("msg_mock_{n:016x}"), format!("req_mock_{n:016x}"))
}

fn is_route(path: &str) -> bool {
    matches!(path, "/v1/messages" | "/anthropic/v1/messages")
}

fn error_reply(status: u16, message: String) -> MockReply {
    from_error(anthropic::encode_error(&UpstreamFault {
        status,
        kind: FaultKind::from_status(status),
        message,
    }))
}

fn from_error(e: ErrorReply) -> MockReply {
    MockReply {
        status: e.status,
        content_type: e.content_type,
        headers: e.headers,
        body: e.body,
    }
}

/// The Messages API's rules on a conversation's shape that a translation from another format can
/// break, worded as Anthropic words them. Anthropic merges consecutive turns of one role before it
/// checks, so the rules see merged turns.
///
/// - every `tool_result` answers a `tool_use` of the turn just before, and every `tool_use` is
///   answered in the turn just after (the 400s quoted in anthropics/claude-code#5989 and #13460);
/// - no turn is empty but a final assistant one (anthropics/claude-code#6774);
/// - `tool_result` blocks come first in their user turn, text after them (Anthropic's "Implement
///   tool use" guide: "tool_result blocks must come FIRST in the content array");
/// - an inline image's `media_type` is exactly `image/jpeg`, `image/png`, `image/gif` or
///   `image/webp` (the API's enum: not `image/jpg`, not `IMAGE/PNG`, which OpenAI data URLs take);
/// - the fields' bounds (`bounds`);
/// - with extended thinking: `budget_tokens` at least 1,024 and below `max_tokens`, `temperature`
///   only 1, no `top_k`, no forced tool use (the extended-thinking guide's "Feature
///   compatibility"; the temperature wording as quoted in MartialBE/one-hub#529).
pub(super) fn anthropic_rules(req: &ChatRequest) -> Result<(), ConvertError> {
    bounds(req)?;
    let mut turns: Vec<(Role, Vec<&Part>)> = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        match turns.last_mut() {
            Some((role, parts)) if *role == m.role => parts.extend(m.content.iter()),
            _ => turns.push((m.role, m.content.iter().collect())),
        }
    }
    let calls = |parts: &[&Part]| -> Vec<String> {
        parts
            .iter()
            .filter_map(|p| match p {
                Part::ToolCall { id, .. } => Some(id.clone()),
                _ => None,
            })
            .collect()
    };
    for (i, (role, parts)) in turns.iter().enumerate() {
        for (j, p) in parts.iter().enumerate() {
            if let Part::Image {
                source: ImageSource::Base64 { media_type, .. },
                ..
            } = p
            {
                if !anthropic::IMAGE_TYPES.contains(&media_type.as_str()) {
                    return Err(ConvertError::new(
                        "",
                        format!("messages.{i}.content.{j}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"),
                    ));
                }
            }
        }
        let blank = parts
            .iter()
            .all(|p| matches!(p, Part::Text { text, .. } if text.is_empty()));
        if blank && !(*role == Role::Assistant && i + 1 == turns.len()) {
            return Err(ConvertError::new(
                "",
                format!("messages.{i}: all messages must have non-empty content except for the optional final assistant message"),
            ));
        }
        if *role == Role::Assistant {
            let Some((_, next)) = turns.get(i + 1) else { continue };
            // Sets: a turn of many calls checked one by one against a list would be quadratic.
            let answered: HashSet<&str> = next
                .iter()
                .filter_map(|p| match p {
                    Part::ToolResult { id, .. } => Some(id.as_str()),
                    _ => None,
                })
                .collect();
            let missing: Vec<String> = calls(parts)
                .into_iter()
                .filter(|c| !answered.contains(c.as_str()))
                .collect();
            if !missing.is_empty() {
                return Err(ConvertError::new(
                    "",
                    format!(
                        "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                        missing.join(", ")
                    ),
                ));
            }
            continue;
        }
        let asked: HashSet<String> = match i.checked_sub(1).and_then(|k| turns.get(k)) {
            Some((Role::Assistant, prev)) => calls(prev).into_iter().collect(),
            _ => HashSet::new(),
        };
        let mut after_other = false;
        for (j, p) in parts.iter().enumerate() {
            let Part::ToolResult { id, .. } = p else {
                after_other = true;
                continue;
            };
            if !asked.contains(id) {
                return Err(ConvertError::new(
                    "",
                    format!("messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."),
                ));
            }
            if after_other {
                return Err(ConvertError::new(
                    "",
                    format!("messages.{i}.content.{j}: `tool_result` blocks must come before any other content in a user message."),
                ));
            }
        }
    }
    thinking_rules(req)
}

/// The field bounds of the Messages API that other formats set wider, in its validation's words:
/// at least one message, `temperature` 0 to 1 (OpenAI's and Gemini's go to 2). A `max_tokens`
/// of 0 the decoder refuses (`canonical::token_limit`).
fn bounds(req: &ChatRequest) -> Result<(), ConvertError> {
    if req.messages.is_empty() {
        return Err(ConvertError::new("messages", "at least one message is required"));
    }
    match req.temperature {
        Some(t) if t > 1.0 => Err(ConvertError::new(
            "temperature",
            "Input should be less than or equal to 1",
        )),
        Some(t) if t < 0.0 => Err(ConvertError::new(
            "temperature",
            "Input should be greater than or equal to 0",
        )),
        _ => Ok(()),
    }
}

/// Extended thinking's limits (see `anthropic_rules`).
pub(super) fn thinking_rules(req: &ChatRequest) -> Result<(), ConvertError> {
    let Some(Reasoning {
        budget_tokens: Some(budget),
        ..
    }) = &req.reasoning
    else {
        return Ok(());
    };
    let refuse = |field: &str, message: &str| Err(ConvertError::new(field, message));
    if *budget < 1024 {
        return refuse(
            "thinking.enabled.budget_tokens",
            "Input should be greater than or equal to 1024",
        );
    }
    if req.max_tokens.is_some_and(|max| max <= *budget) {
        return refuse("", "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size");
    }
    if req.temperature.is_some_and(|t| t != 1.0) {
        return refuse("", "`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#important-considerations-when-using-extended-thinking");
    }
    if req.top_p.is_some_and(|p| !(0.95..=1.0).contains(&p)) {
        return refuse(
            "",
            "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility",
        );
    }
    if req.top_k.is_some() {
        return refuse(
            "",
            "`top_k` is not compatible with thinking; leave it unset when thinking is enabled.",
        );
    }
    if req.tool_choice.as_ref().is_some_and(ToolChoice::forces_call) {
        return refuse("", "Thinking may not be enabled when tool_choice forces tool use.");
    }
    // The tool loop's assistant turn must open with its (signed) thinking, as the API checks it.
    // Wording of the API's error (anthropics/claude-code and other clients' reports).
    if crate::formats::anthropic::request::tool_loop_without_thinking(&req.messages) {
        let i = req
            .messages
            .iter()
            .rposition(|m| m.role == Role::Assistant)
            .unwrap_or(0);
        let found = match req.messages[i].content.first() {
            Some(Part::Text { .. }) => "text",
            Some(Part::Thinking { .. }) => "thinking",
            _ => "tool_use",
        };
        return refuse(
            &format!("messages.{i}.content.0.type"),
            &format!("Expected `thinking` or `redacted_thinking`, but found `{found}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"),
        );
    }
    Ok(())
}

/// A Messages body with stand-ins (`mock::with_stand_ins`) for a document whose source is
/// `content` blocks: their text, as a plain-text source.
pub(crate) fn stand_ins(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    fn lists(v: &mut sonic_rs::Value) -> Vec<&mut sonic_rs::Value> {
        super::nested_lists(v, "messages", "content")
    }
    fn stand_in(block: &sonic_rs::Value) -> Option<sonic_rs::Value> {
        use sonic_rs::{JsonContainerTrait, JsonValueMutTrait, JsonValueTrait};
        let source = block.get("source").filter(|s| s["type"].as_str() == Some("content"))?;
        let text = match &source["content"] {
            c if c.is_str() => c.as_str().unwrap_or_default().to_string(),
            c => c
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        };
        let mut out = block.clone();
        let plain = sonic_rs::json!({"type": "text", "media_type": "text/plain", "data": text});
        out.as_object_mut()?.insert("source", plain);
        Some(out)
    }
    super::with_stand_ins(
        body,
        &[br#""type":"content""#, br#""type": "content""#],
        lists,
        stand_in,
    )
}

fn is_count_route(path: &str) -> bool {
    matches!(
        path,
        "/v1/messages/count_tokens" | "/anthropic/v1/messages/count_tokens"
    )
}

/// The top-level keys `POST /v1/messages/count_tokens` takes (the API's reference, plus the
/// `cache_control` and `speed` the anthropic SDK's `count_tokens` sends); any other, such as
/// `max_tokens` or `stream`, is a 400 worded as the API's validation words it.
const COUNT_KEYS: [&str; 12] = [
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
    "cache_control",
    "speed",
];

/// `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, N what a Messages call with the same
/// conversation reports as `usage.input_tokens` (`scenario::count_tokens`).
fn count_tokens(body: &[u8]) -> MockReply {
    use sonic_rs::JsonContainerTrait;
    if let Ok(v) = sonic_rs::from_slice::<sonic_rs::Value>(body) {
        if let Some((k, _)) = v
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| !COUNT_KEYS.contains(k)))
        {
            return error_reply(400, format!("{k}: Extra inputs are not permitted"));
        }
    }
    let req = match anthropic::decode_request(&stand_ins(body), None, false)
        .and_then(|r| super::upstream_rules(crate::formats::Format::Anthropic, &r).map(|()| r))
    {
        Ok(r) if r.messages.is_empty() => return error_reply(400, "messages: at least one message is required".into()),
        Ok(r) => r,
        Err(e) => return error_reply(400, e.to_string()),
    };
    match scenario::count_tokens(&req) {
        Ok(n) => {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            MockReply {
                status: 200,
                content_type: "application/json",
                headers: vec![("request-id", format!("req_mock_{id:016x}"))],
                body: format!("{{\"input_tokens\":{n}}}").into_bytes(),
            }
        }
        Err(fault) => from_error(anthropic::encode_error(&fault)),
    }
}

/// Answers a request in Anthropic format if `path` is one of its routes: decode_request ->
/// `scenario::respond` -> encode_response, or encode_error for a fault or an undecodable request
/// (400). None when the path is not Anthropic's.
pub fn serve(method: Method, path: &str, body: &[u8]) -> Option<MockReply> {
    if !is_route(path) && !is_count_route(path) {
        return None;
    }
    if method != Method::Post {
        return Some(error_reply(
            405,
            format!("{} is not allowed on {path}; use POST", method.as_str()),
        ));
    }
    if is_count_route(path) {
        return Some(count_tokens(body));
    }
    let req = match anthropic::decode_request(&stand_ins(body), None, false)
        .and_then(|r| super::chat_rules(crate::formats::Format::Anthropic, &r, body).map(|()| r))
    {
        Ok(r) => r,
        Err(e) => return Some(error_reply(400, e.to_string())),
    };
    if req.stream {
        return super::stream::serve_whole(method, path, body);
    }
    let (id, request_id) = message_ids();
    Some(
        match scenario::respond_as(&req, &id, crate::formats::Format::Anthropic) {
            Ok(resp) => MockReply {
                status: 200,
                content_type: "application/json",
                headers: vec![("request-id", request_id)],
                body: anthropic::encode_response(&resp),
            },
            Err(fault) => from_error(anthropic::encode_error(&fault)),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::{JsonValueTrait, Value};

    fn post(body: &str) -> (u16, Value) {
        let r = serve(Method::Post, "/v1/messages", body.as_bytes()).unwrap();
        assert_eq!(r.content_type, "application/json");
        (
            r.status,
            sonic_rs::from_str(std::str::from_utf8(&r.body).unwrap()).unwrap(),
        )
    }

    fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
        v.pointer(path.iter().copied()).and_then(|x| x.as_str())
    }

    #[test]
    fn routes() {
        assert!(serve(Method::Post, "/v1/chat/completions", b"{}").is_none());
        let r = serve(
            Method::Post,
            "/anthropic/v1/messages",
            br#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"yo"}]}"#,
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(serve(Method::Get, "/v1/messages", b"").unwrap().status, 405);
    }

    #[test]
    fn echo() {
        let (status, v) = post(
            r#"{"model":"claude-mock","max_tokens":100,"system":"Be brief","messages":[{"role":"user","content":"hello there"}]}"#,
        );
        assert_eq!(status, 200);
        assert_eq!(s(&v, &["type"]), Some("message"));
        assert_eq!(s(&v, &["model"]), Some("claude-mock"));
        let text = v.pointer(&sonic_rs::pointer!["content", 0, "text"]);
        assert_eq!(text.and_then(|x| x.as_str()), Some("echo: hello there"));
        assert_eq!(s(&v, &["stop_reason"]), Some("end_turn"));
        assert_eq!(v.pointer(["usage", "input_tokens"]).and_then(|x| x.as_u64()), Some(4));
    }

    #[test]
    fn tool_call_and_errors() {
        let (_, v) = post(
            r#"{"model":"tool-model","max_tokens":100,"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"weather?"}]}"#,
        );
        assert_eq!(s(&v, &["stop_reason"]), Some("tool_use"));
        let call = v.pointer(&sonic_rs::pointer!["content", 1]).unwrap();
        assert_eq!(call.get("type").and_then(|x| x.as_str()), Some("tool_use"));
        assert_eq!(call.pointer(["input", "city"]).and_then(|x| x.as_str()), Some("Paris"));

        let (status, v) = post(r#"{"model":"error-529","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}"#);
        assert_eq!(status, 529);
        assert_eq!(s(&v, &["error", "type"]), Some("overloaded_error"));
        let (status, v) = post(r#"{"max_tokens":1,"messages":[]}"#);
        assert_eq!(status, 400);
        assert_eq!(s(&v, &["error", "type"]), Some("invalid_request_error"));
        assert_eq!(s(&v, &["error", "message"]), Some("model: Field required"));
    }

    /// Messages refuses a thinking signature it did not make, a Sluice-marked one of its own
    /// family included; count_tokens, whose check is undocumented, counts all of them.
    #[test]
    fn messages_refuse_marked_and_foreign_signatures_and_count_tokens_does_not() {
        let own = scenario::MOCK_TOKENS[0].1;
        let history = |sig: &str| {
            format!(
                r#""messages":[{{"role":"user","content":"hi"}},{{"role":"assistant","content":[{{"type":"thinking","thinking":"t","signature":"{sig}"}},{{"type":"text","text":"x"}}]}},{{"role":"user","content":"again"}}]"#
            )
        };
        for (sig, accepted) in [
            (own.to_string(), true),
            (format!("slcC{own}"), false),
            (scenario::MOCK_TOKENS[1].1.to_string(), false),
            (format!("slcG{}", scenario::MOCK_TOKENS[1].1), false),
        ] {
            let (status, v) = post(&format!(
                r#"{{"model":"claude-mock","max_tokens":9,{}}}"#,
                history(&sig)
            ));
            assert_eq!(status == 200, accepted, "{sig}: {v:?}");
            if !accepted {
                assert!(s(&v, &["error", "message"])
                    .unwrap()
                    .contains("Invalid `signature` in `thinking` block"));
            }
            let body = format!(r#"{{"model":"claude-mock",{}}}"#, history(&sig));
            let r = serve(Method::Post, "/v1/messages/count_tokens", body.as_bytes()).unwrap();
            assert_eq!(r.status, 200, "{sig}");
        }
    }

    /// count_tokens answers what a Messages call on the same conversation reports as
    /// `usage.input_tokens`, refuses the keys the endpoint does not take, and fails as chat does
    /// for an `error-NNN` model.
    #[test]
    fn count_tokens_matches_chat_usage_and_refuses_what_the_api_refuses() {
        let conversation = r#""system":[{"type":"text","text":"Be brief and kind"}],
            "tools":[{"name":"get_weather","input_schema":{"type":"object"}}],
            "messages":[{"role":"user","content":"hello there"},
                {"role":"assistant","content":[{"type":"text","text":"echo: hello there"}]},
                {"role":"user","content":[{"type":"text","text":"one more time please"}]}]"#;
        let (status, chat) = post(&format!(r#"{{"model":"claude-mock","max_tokens":64,{conversation}}}"#));
        assert_eq!(status, 200);
        let usage = chat.pointer(["usage", "input_tokens"]).and_then(|x| x.as_u64());
        assert_eq!(usage, Some(13));
        let count_body = format!(r#"{{"model":"claude-mock",{conversation}}}"#);
        for path in ["/v1/messages/count_tokens", "/anthropic/v1/messages/count_tokens"] {
            let r = serve(Method::Post, path, count_body.as_bytes()).unwrap();
            assert_eq!((r.status, r.content_type), (200, "application/json"), "{path}");
            assert!(r
                .headers
                .iter()
                .any(|(n, v)| *n == "request-id" && v.starts_with("req_")));
            assert_eq!(std::str::from_utf8(&r.body).unwrap(), r#"{"input_tokens":13}"#);
        }
        let count = |body: &str| {
            let r = serve(Method::Post, "/v1/messages/count_tokens", body.as_bytes()).unwrap();
            (r.status, sonic_rs::from_slice::<Value>(&r.body).unwrap())
        };
        let m = r#""messages":[{"role":"user","content":"hi"}]"#;
        for (extra, says) in [
            (r#","max_tokens":64"#, "max_tokens: Extra inputs are not permitted"),
            (r#","stream":false"#, "stream: Extra inputs are not permitted"),
            (r#","temperature":0.5"#, "temperature: Extra inputs are not permitted"),
        ] {
            let (status, v) = count(&format!(r#"{{"model":"m",{m}{extra}}}"#));
            assert_eq!(status, 400, "{extra}");
            assert_eq!(s(&v, &["type"]), Some("error"));
            assert_eq!(s(&v, &["error", "type"]), Some("invalid_request_error"));
            assert_eq!(s(&v, &["error", "message"]), Some(says));
        }
        // The keys it does take.
        let (status, v) = count(&format!(
            r#"{{"model":"m",{m},"thinking":{{"type":"enabled","budget_tokens":2048}},"tool_choice":{{"type":"auto"}},"output_config":{{"effort":"low"}},"context_management":{{"edits":[]}},"mcp_servers":[]}}"#
        ));
        assert_eq!((status, v["input_tokens"].as_u64()), (200, Some(1)));
        for (body, says) in [
            (
                r#"{"model":"m","messages":[]}"#,
                "messages: at least one message is required",
            ),
            (r#"{"model":"m"}"#, "messages: Field required"),
            (
                r#"{"messages":[{"role":"user","content":"hi"}]}"#,
                "model: Field required",
            ),
        ] {
            let (status, v) = count(body);
            assert_eq!((status, s(&v, &["error", "message"])), (400, Some(says)), "{body}");
        }
        let (status, v) = count(&format!(r#"{{"model":"error-529",{m}}}"#));
        assert_eq!((status, s(&v, &["error", "type"])), (529, Some("overloaded_error")));
        let (status, v) = count(&format!(r#"{{"model":"x-error-429",{m}}}"#));
        assert_eq!((status, s(&v, &["error", "type"])), (429, Some("rate_limit_error")));
        assert_eq!(
            serve(Method::Get, "/v1/messages/count_tokens", b"").unwrap().status,
            405
        );
    }

    /// A document made of content blocks is answered, streamed or not, as the API answers it.
    #[test]
    fn a_document_of_content_blocks_is_answered() {
        let doc = r#"{"type":"document","source":{"type":"content","content":[{"type":"text","text":"a fact"}]}}"#;
        for stream in [false, true] {
            let body = format!(
                r#"{{"model":"m","max_tokens":9,"stream":{stream},"messages":[{{"role":"user","content":[{doc},{{"type":"text","text":"hello there"}}]}}]}}"#
            );
            let r = serve(Method::Post, "/v1/messages", body.as_bytes()).unwrap();
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        }
    }

    /// Bounds other formats set wider (OpenAI's temperature goes to 2) are the API's 400.
    #[test]
    fn field_bounds_refuse_what_the_messages_api_refuses() {
        let hi = r#"[{"role":"user","content":"hi"}]"#;
        for (fields, messages, says) in [
            (r#""max_tokens":9"#, "[]", "messages: at least one message is required"),
            (
                r#""max_tokens":0"#,
                hi,
                "max_tokens: Input should be greater than or equal to 1",
            ),
            (
                r#""max_tokens":9,"temperature":1.5"#,
                hi,
                "temperature: Input should be less than or equal to 1",
            ),
        ] {
            let (status, v) = post(&format!(r#"{{"model":"m",{fields},"messages":{messages}}}"#));
            assert_eq!(status, 400, "{fields}");
            assert_eq!(s(&v, &["error", "type"]), Some("invalid_request_error"));
            assert_eq!(s(&v, &["error", "message"]), Some(says));
        }
        let (status, _) = post(&format!(
            r#"{{"model":"m","max_tokens":1,"temperature":1,"messages":{hi}}}"#
        ));
        assert_eq!(status, 200);
    }

    #[test]
    fn conversation_rules_refuse_what_the_messages_api_refuses() {
        let call = r#"{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}},{"type":"tool_use","id":"t2","name":"f","input":{}}]}"#;
        let result = |id: &str| format!(r#"{{"type":"tool_result","tool_use_id":"{id}","content":"ok"}}"#);
        let text = r#"{"type":"text","text":"and?"}"#;
        let user = |blocks: &[&str]| format!(r#"{{"role":"user","content":[{}]}}"#, blocks.join(","));
        let status = |msgs: &[&str], extra: &str, stream: bool| {
            let body = format!(
                r#"{{"model":"m","max_tokens":4096,"stream":{stream}{extra},"messages":[{}]}}"#,
                [&[r#"{"role":"user","content":"go"}"#], msgs].concat().join(",")
            );
            let r = serve(Method::Post, "/v1/messages", body.as_bytes()).unwrap();
            (r.status, String::from_utf8_lossy(&r.body).into_owned())
        };
        let (r1, r2) = (result("t1"), result("t2"));
        for stream in [false, true] {
            // Both answered, results first: what the API takes, in one turn or two merged ones.
            assert_eq!(status(&[call, &user(&[&r1, &r2, text])], "", stream).0, 200);
            assert_eq!(status(&[call, &user(&[&r1]), &user(&[&r2, text])], "", stream).0, 200);
            // A final assistant turn (a prefill) may be empty.
            assert_eq!(status(&[r#"{"role":"assistant","content":[]}"#], "", stream).0, 200);
            for (msgs, says) in [
                (
                    vec![call.to_string(), user(&[&r1])],
                    "ids were found without `tool_result` blocks immediately after: t2",
                ),
                (
                    vec![call.to_string(), user(&[text]), user(&[&r1, &r2])],
                    "must come before any other content",
                ),
                (
                    vec![user(&[&result("t9")])],
                    "unexpected `tool_use_id` found in `tool_result` blocks: t9",
                ),
                (
                    vec![r#"{"role":"assistant","content":[]}"#.to_string(), user(&[text])],
                    "messages.1: all messages must have non-empty content",
                ),
            ] {
                let msgs: Vec<&str> = msgs.iter().map(String::as_str).collect();
                let (code, body) = status(&msgs, "", stream);
                assert_eq!(code, 400, "{body}");
                assert!(body.contains(says) && body.contains("invalid_request_error"), "{body}");
            }
        }
        let thinking = |t: &str| format!(r#","thinking":{{"type":"enabled","budget_tokens":2048}}{t}"#);
        assert_eq!(status(&[], &thinking(""), false).0, 200);
        assert_eq!(status(&[], &thinking(r#","temperature":1"#), false).0, 200);
        assert_eq!(
            status(&[], &thinking(r#","tool_choice":{"type":"auto"}"#), false).0,
            200
        );
        for (extra, says) in [
            (
                r#","thinking":{"type":"enabled","budget_tokens":1000}"#.to_string(),
                "greater than or equal to 1024",
            ),
            (
                r#","thinking":{"type":"enabled","budget_tokens":4096}"#.to_string(),
                "`max_tokens` must be greater",
            ),
            (thinking(r#","temperature":0.2"#), "`temperature` may only be set to 1"),
            (thinking(r#","top_k":5"#), "`top_k`"),
            (thinking(r#","tool_choice":{"type":"any"}"#), "forces tool use"),
            (
                thinking(r#","tool_choice":{"type":"tool","name":"f"}"#),
                "forces tool use",
            ),
        ] {
            let (code, body) = status(&[], &extra, false);
            assert_eq!(code, 400, "{extra}: {body}");
            assert!(body.contains(says), "{body}");
        }
    }
}
