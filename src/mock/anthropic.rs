//! Anthropic Messages as the mock speaks it (PROTOCOLS 3.3, 3.5): `POST /v1/messages` and
//! `POST /anthropic/v1/messages` (streams through `mock::stream`). The answer is the format-independent scenario
//! (`scenario::respond`) encoded by the Anthropic codec, so the mock exercises the same code the
//! gateway uses. Authentication headers (`x-api-key` or `Authorization: Bearer`) are ignored.

use super::{scenario, MockReply};
use crate::canonical::{ErrorReply, FaultKind, UpstreamFault};
use crate::formats::anthropic;
use crate::http::Method;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

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

/// Answers a request in Anthropic format if `path` is one of its routes: decode_request ->
/// `scenario::respond` -> encode_response, or encode_error for a fault or an undecodable request
/// (400). None when the path is not Anthropic's.
pub fn serve(method: Method, path: &str, body: &[u8]) -> Option<MockReply> {
    if !is_route(path) {
        return None;
    }
    if method != Method::Post {
        return Some(error_reply(
            405,
            format!("{} is not allowed on {path}; use POST", method.as_str()),
        ));
    }
    let req = match anthropic::decode_request(body, None, false)
        .and_then(|r| super::upstream_rules(crate::formats::Format::Anthropic, &r).map(|()| r))
    {
        Ok(r) => r,
        Err(e) => return Some(error_reply(400, e.to_string())),
    };
    if req.stream {
        return super::stream::serve_whole(method, path, body);
    }
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let id = format!("msg_mock_{n:016x}");
    Some(match scenario::respond(&req, &id) {
        Ok(resp) => MockReply {
            status: 200,
            content_type: "application/json",
            headers: vec![("request-id", format!("req_mock_{n:016x}"))],
            body: anthropic::encode_response(&resp),
        },
        Err(fault) => from_error(anthropic::encode_error(&fault)),
    })
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

        let (status, v) = post(r#"{"model":"error-529","max_tokens":1,"messages":[]}"#);
        assert_eq!(status, 529);
        assert_eq!(s(&v, &["error", "type"]), Some("overloaded_error"));
        let (status, v) = post(r#"{"max_tokens":1,"messages":[]}"#);
        assert_eq!(status, 400);
        assert_eq!(s(&v, &["error", "type"]), Some("invalid_request_error"));
        assert_eq!(s(&v, &["error", "message"]), Some("model: Field required"));
    }
}
