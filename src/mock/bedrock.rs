//! Bedrock Runtime as the mock speaks it (PROTOCOLS 5.1-5.3, 5.6): `POST [/bedrock]/model/{id}/
//! converse` answers through the format-independent scenarios (`scenario::respond`), so the
//! model id picks the scenario exactly as in every other format's mock.
//!
//! `invoke` answers Anthropic-flavoured native bodies (PROTOCOLS 5.5) through the same scenarios.
//! `converse-stream` and `invoke-with-response-stream` stream through `mock::stream`.

use super::{scenario, MockReply};
use crate::canonical::{ChatRequest, ConvertError, FaultKind, Part, Role, ToolResultContent, UpstreamFault};
use crate::formats::bedrock::{self, Operation};
use crate::http::Method;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A request id in the UUID shape Bedrock uses for `x-amzn-RequestId`.
fn request_id() -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    format!("6d9f0c1e-0000-4000-8000-{n:012x}")
}

fn fault_reply(status: u16, message: String, id: String) -> MockReply {
    let e = bedrock::encode_error(&UpstreamFault {
        status,
        kind: FaultKind::from_status(status),
        message,
    });
    error_reply(e, id)
}

fn error_reply(e: crate::canonical::ErrorReply, id: String) -> MockReply {
    let mut headers = e.headers;
    headers.push(("x-amzn-RequestId", id));
    MockReply {
        status: e.status,
        content_type: e.content_type,
        headers,
        body: e.body,
    }
}

/// Converse's own content rules, which a gateway's translation can break and a lenient mock
/// would hide: no empty text block (in a message or a tool result) and a tool result's `json`
/// an object. Messages as Bedrock words them.
pub(super) fn converse_rules(req: &ChatRequest) -> Result<(), ConvertError> {
    converse_turn_rules(req)?;
    // `additionalModelRequestFields.thinking` is Claude's, with Claude's limits.
    super::anthropic::thinking_rules(req)?;
    for (i, m) in req.messages.iter().enumerate() {
        for (j, p) in m.content.iter().enumerate() {
            let at = format!("messages.{i}.content.{j}");
            match p {
                Part::Text { text, .. } if text.is_empty() => {
                    return Err(ConvertError::new(
                        "",
                        format!("The text field in the ContentBlock object at {at} is blank. Add text to the text field, and try again."),
                    ))
                }
                Part::ToolResult { content, .. } => {
                    for (k, c) in content.iter().enumerate() {
                        let bad = match c {
                            ToolResultContent::Text(t) if t.is_empty() => "text",
                            ToolResultContent::Json(j) if !sonic_rs::JsonValueTrait::is_object(j) => "json",
                            _ => continue,
                        };
                        let msg = if bad == "text" {
                            format!("The text field in the ContentBlock object at {at}.toolResult.content.{k} is blank. Add text to the text field, and try again.")
                        } else {
                            format!("The format of the value at {at}.toolResult.content.{k}.json is invalid. Provide a json object for the field and try again.")
                        };
                        return Err(ConvertError::new("", msg));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Converse's rules on the turns themselves, in Bedrock's words: the conversation opens with a
/// user turn and alternates (the ValidationException quoted in langchain-aws#130 and
/// Portkey-AI/gateway#748: Converse, unlike Anthropic, does not merge same-role turns); no turn
/// is empty; a user turn answers the toolUse blocks of the assistant turn before it, no more
/// (pydantic/pydantic-ai#2327, strands-agents#1435) and no fewer.
fn converse_turn_rules(req: &ChatRequest) -> Result<(), ConvertError> {
    let refuse = |message: String| Err(ConvertError::new("", message));
    if req.messages.first().is_some_and(|m| m.role != Role::User) {
        return refuse(
            "A conversation must start with a user message. Try again with a conversation that starts with a user message."
                .into(),
        );
    }
    for (i, m) in req.messages.iter().enumerate() {
        if m.content.is_empty() {
            return refuse(format!(
                "The content field in the Message object at messages.{i} is empty. Add a ContentBlock object to the content field and try again."
            ));
        }
        let prev = i.checked_sub(1).map(|k| &req.messages[k]);
        if prev.is_some_and(|p| p.role == m.role) {
            return refuse(
                "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."
                    .into(),
            );
        }
        if m.role == Role::Assistant {
            continue;
        }
        let asked = prev.map(super::call_ids_of).unwrap_or_default();
        let answered = super::result_ids_of(m);
        if answered.len() > asked.len() {
            return refuse(format!(
                "The number of toolResult blocks at messages.{i}.content exceeds the number of toolUse blocks of previous turn."
            ));
        }
        let missing: Vec<&str> = asked.into_iter().filter(|id| !answered.contains(id)).collect();
        if !missing.is_empty() {
            return refuse(format!(
                "Expected toolResult blocks at messages.{i}.content for the following Ids: {}",
                missing.join(", ")
            ));
        }
    }
    Ok(())
}

/// Answers a Bedrock Runtime request, or None when `path` is not a Bedrock route.
pub fn serve(method: Method, path: &str, body: &[u8]) -> Option<MockReply> {
    let (model, op) = bedrock::parse_path(path)?;
    let id = request_id();
    if method != Method::Post {
        return Some(fault_reply(404, format!("no route for {} {path}", method.as_str()), id));
    }
    if op == Operation::Invoke {
        // Model-native body: the Anthropic flavour for Claude ids (PROTOCOLS 5.5).
        let req = match bedrock::invoke::decode_invoke_request(body, &model, false) {
            Ok(r) => r,
            Err(e) => return Some(fault_reply(400, e.to_string(), id)),
        };
        return Some(match scenario::respond(&req, &id) {
            Ok(resp) => {
                let mut headers = vec![("x-amzn-RequestId", id)];
                headers.extend(bedrock::invoke::invocation_headers(
                    &resp.usage,
                    super::reported_latency_ms(),
                ));
                MockReply {
                    status: 200,
                    content_type: "application/json",
                    headers,
                    body: bedrock::invoke::encode_invoke_response(&resp),
                }
            }
            Err(fault) => error_reply(bedrock::encode_error(&fault), id),
        });
    }
    if op != Operation::Converse {
        return super::stream::serve_whole(method, path, body);
    }
    let req = match bedrock::decode_request(body, Some(&model), false)
        .and_then(|r| super::upstream_rules(crate::formats::Format::Bedrock, &r).map(|()| r))
    {
        Ok(r) => r,
        Err(e) => return Some(fault_reply(400, e.to_string(), id)),
    };
    Some(match scenario::respond(&req, &id) {
        Ok(resp) => MockReply {
            status: 200,
            content_type: "application/json",
            headers: vec![("x-amzn-RequestId", id)],
            body: bedrock::encode_response_timed(&resp, super::reported_latency_ms()),
        },
        Err(fault) => error_reply(bedrock::encode_error(&fault), id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::JsonValueTrait;

    fn post(path: &str, body: &str) -> MockReply {
        serve(Method::Post, path, body.as_bytes()).unwrap()
    }

    #[test]
    fn converse_echoes_through_the_scenarios() {
        let r = post(
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
            r#"{"messages":[{"role":"user","content":[{"text":"hi there"}]}]}"#,
        );
        assert_eq!(r.status, 200);
        let v: sonic_rs::Value = sonic_rs::from_slice(&r.body).unwrap();
        assert_eq!(
            v.pointer(&sonic_rs::pointer!["output", "message", "content", 0, "text"])
                .and_then(|t| t.as_str()),
            Some("echo: hi there")
        );
        assert_eq!(v.get("stopReason").and_then(|t| t.as_str()), Some("end_turn"));
        assert!(r.headers.iter().any(|(n, _)| *n == "x-amzn-RequestId"));
    }

    #[test]
    fn converse_content_rules_are_enforced_as_bedrock_does() {
        let call = r#"{"role":"assistant","content":[{"toolUse":{"toolUseId":"a","name":"f","input":{}}}]}"#;
        for (content, names) in [
            (r#"{"text":""}"#, "messages.0.content.0 is blank"),
            (
                r#"{"toolResult":{"toolUseId":"a","content":[{"text":""}]}}"#,
                "messages.2.content.0.toolResult.content.0 is blank",
            ),
            (
                r#"{"toolResult":{"toolUseId":"a","content":[{"json":[1]}]}}"#,
                "messages.2.content.0.toolResult.content.0.json is invalid",
            ),
        ] {
            let body = if content.contains("toolResult") {
                format!(
                    r#"{{"messages":[{{"role":"user","content":[{{"text":"go"}}]}},{call},{{"role":"user","content":[{content}]}}]}}"#
                )
            } else {
                format!(r#"{{"messages":[{{"role":"user","content":[{content}]}}]}}"#)
            };
            for op in ["converse", "converse-stream"] {
                let r = if op == "converse" {
                    post(&format!("/model/m/{op}"), &body)
                } else {
                    super::super::stream::serve_whole(Method::Post, &format!("/model/m/{op}"), body.as_bytes()).unwrap()
                };
                assert_eq!(r.status, 400, "{op} {content}");
                let text = String::from_utf8_lossy(&r.body);
                assert!(text.contains(names), "{op}: {text}");
            }
        }
    }

    #[test]
    fn errors_are_bedrock_shaped() {
        let r = post(
            "/bedrock/model/error-429/converse",
            r#"{"messages":[{"role":"user","content":[{"text":"x"}]}]}"#,
        );
        assert_eq!(r.status, 429);
        assert!(r
            .headers
            .iter()
            .any(|(n, v)| *n == "x-amzn-ErrorType" && v.starts_with("ThrottlingException:")));
        let r = post("/model/m/converse", "{not json");
        assert_eq!(r.status, 400);
        assert!(r.headers[0].1.starts_with("ValidationException:"));
        let r = post("/model/anthropic.claude-v2/invoke", "{}");
        assert_eq!(r.status, 400, "an invoke body without messages is a validation error");
        let r = post(
            "/model/anthropic.claude-v2/invoke",
            r#"{"max_tokens":9,"messages":[{"role":"user","content":"a b"}]}"#,
        );
        assert_eq!((r.status, r.body.starts_with(b"{\"id\"")), (200, true));
        let r = post(
            "/model/m/converse-stream",
            r#"{"messages":[{"role":"user","content":[{"text":"a b"}]}]}"#,
        );
        assert_eq!((r.status, r.content_type), (200, "application/vnd.amazon.eventstream"));
        assert_eq!(serve(Method::Get, "/model/m/converse", b"").unwrap().status, 404);
        assert!(serve(Method::Post, "/v1/chat/completions", b"{}").is_none());
    }

    #[test]
    fn converse_turn_rules_are_enforced_as_bedrock_does() {
        let go = r#"{"role":"user","content":[{"text":"go"}]}"#;
        let said = r#"{"role":"assistant","content":[{"text":"ok"}]}"#;
        let calls = r#"{"role":"assistant","content":[{"toolUse":{"toolUseId":"a","name":"f","input":{}}},{"toolUse":{"toolUseId":"b","name":"f","input":{}}}]}"#;
        let result = |id: &str| format!(r#"{{"toolResult":{{"toolUseId":"{id}","content":[{{"text":"ok"}}]}}}}"#);
        let answers = |ids: &[&str]| {
            let blocks: Vec<String> = ids.iter().map(|id| result(id)).collect();
            format!(r#"{{"role":"user","content":[{}]}}"#, blocks.join(","))
        };
        let run = |msgs: &[&str]| {
            let body = format!(r#"{{"messages":[{}]}}"#, msgs.join(","));
            [
                post("/model/m/converse", &body),
                super::super::stream::serve_whole(Method::Post, "/model/m/converse-stream", body.as_bytes()).unwrap(),
            ]
            .map(|r| (r.status, String::from_utf8_lossy(&r.body).into_owned()))
        };
        for (code, _) in run(&[go, calls, &answers(&["b", "a"])]) {
            assert_eq!(code, 200);
        }
        for (msgs, says) in [
            (vec![said.to_string(), go.to_string()], "must start with a user message"),
            (
                vec![go.to_string(), go.to_string()],
                "must alternate between user and assistant roles",
            ),
            (
                vec![go.to_string(), r#"{"role":"assistant","content":[]}"#.to_string()],
                "messages.1 is empty",
            ),
            (
                vec![go.to_string(), said.to_string(), answers(&["a"])],
                "exceeds the number of toolUse blocks",
            ),
            (
                vec![go.to_string(), calls.to_string(), answers(&["a"])],
                "for the following Ids: b",
            ),
            (
                vec![go.to_string(), calls.to_string(), go.to_string()],
                "for the following Ids: a, b",
            ),
        ] {
            let msgs: Vec<&str> = msgs.iter().map(String::as_str).collect();
            for (code, body) in run(&msgs) {
                assert_eq!(code, 400, "{body}");
                assert!(body.contains(says), "{body}");
            }
        }
    }
}
