//! Gemini wire format as the mock speaks it (PROTOCOLS 4.1-4.3, 4.5): the format-independent
//! scenario answer (`scenario::respond`) decoded from and encoded to Gemini.
//!
//! Routes: POST `[/genai]/{v1,v1beta,v1beta1}/models/{model}:generateContent` (and the Vertex
//! shapes `formats::gemini::parse_path` accepts). `:streamGenerateContent` streams through
//! `mock::stream`.

use super::MockReply;
use crate::canonical::{ChatRequest, ConvertError, ErrorReply, FaultKind, Role, UpstreamFault};
use crate::formats::gemini;
use crate::http::Method;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Answers a Gemini request if `path` is a Gemini route, else None.
pub fn serve(method: Method, path: &str, body: &[u8]) -> Option<MockReply> {
    let (model, stream) = gemini::parse_path(path)?;
    if method != Method::Post {
        return Some(fault(405, FaultKind::InvalidRequest, "method not allowed; use POST"));
    }
    if stream {
        return super::stream::serve_whole(method, path, body);
    }
    let decoded = gemini::decode_request(body, Some(&model), false)
        .and_then(|r| super::upstream_rules(crate::formats::Format::Gemini, &r).map(|()| r));
    let req = match decoded {
        Ok(r) => r,
        Err(e) => return Some(fault(400, FaultKind::InvalidRequest, &e.to_string())),
    };
    let id = format!("mock-gemini-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    Some(match super::scenario::respond(&req, &id) {
        Ok(resp) => MockReply {
            status: 200,
            content_type: "application/json; charset=UTF-8",
            headers: Vec::new(),
            body: gemini::encode_response(&resp),
        },
        Err(f) => from_error(gemini::encode_error(&f)),
    })
}

/// The Gemini API's rules on `contents` that a translation can break, in its words: no content
/// without parts, and a turn of function responses answers every function call of the model turn
/// before it (the 400 quoted in google-gemini/gemini-cli#4217 and #16415).
pub(super) fn gemini_rules(req: &ChatRequest) -> Result<(), ConvertError> {
    for (i, m) in req.messages.iter().enumerate() {
        if m.content.is_empty() {
            return Err(ConvertError::new(
                "",
                format!("* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"),
            ));
        }
        let responses = super::result_ids_of(m).len();
        if responses == 0 {
            continue;
        }
        let calls = i
            .checked_sub(1)
            .map(|k| &req.messages[k])
            .filter(|p| p.role == Role::Assistant)
            .map_or(0, |p| super::call_ids_of(p).len());
        if calls != responses {
            return Err(ConvertError::new(
                "",
                "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.",
            ));
        }
    }
    Ok(())
}

fn fault(status: u16, kind: FaultKind, message: &str) -> MockReply {
    from_error(gemini::encode_error(&UpstreamFault {
        status,
        kind,
        message: message.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::{JsonValueTrait, Value};

    fn post(path: &str, body: &str) -> (u16, Value) {
        let r = serve(Method::Post, path, body.as_bytes()).expect("a Gemini route");
        (r.status, sonic_rs::from_slice(&r.body).unwrap())
    }

    #[test]
    fn echo_on_every_version_and_prefix() {
        let body = r#"{"contents":[{"role":"user","parts":[{"text":"hello there"}]}]}"#;
        for path in [
            "/v1/models/gemini-2.5-flash:generateContent",
            "/v1beta/models/gemini-2.5-flash:generateContent",
            "/v1beta1/models/gemini-2.5-flash:generateContent",
            "/genai/v1beta/models/gemini-2.5-flash:generateContent",
        ] {
            let (status, v) = post(path, body);
            assert_eq!(status, 200, "{path}");
            assert_eq!(
                v.pointer(&sonic_rs::pointer!["candidates", 0, "content", "parts", 0, "text"])
                    .and_then(|t| t.as_str()),
                Some("echo: hello there")
            );
            assert_eq!(v["modelVersion"].as_str(), Some("gemini-2.5-flash"));
        }
    }

    #[test]
    fn not_ours_and_stream_and_errors() {
        assert!(serve(Method::Post, "/v1/chat/completions", b"{}").is_none());
        assert!(serve(Method::Post, "/v1/models/x:countTokens", b"{}").is_none());
        // SSE with `alt=sse`; without it, the API's JSON-array stream.
        let stream = |path: &str| serve(Method::Post, path, br#"{"contents":[{"parts":[{"text":"a b"}]}]}"#).unwrap();
        let r = stream("/v1beta/models/m:streamGenerateContent?alt=sse");
        assert_eq!((r.status, r.content_type), (200, "text/event-stream"));
        assert!(r.body.starts_with(b"data: {") && r.body.ends_with(b"\r\n\r\n"));
        let r = stream("/v1beta/models/m:streamGenerateContent");
        assert_eq!((r.status, r.content_type), (200, "application/json; charset=UTF-8"));
        assert!(r.body.starts_with(b"[{") && r.body.ends_with(b"}]"));
        let (status, v) = post(
            "/v1beta/models/x-error-429:generateContent",
            r#"{"contents":[{"parts":[{"text":"a"}]}]}"#,
        );
        assert_eq!(status, 429);
        assert_eq!(v["error"]["code"].as_u64(), Some(429));
        assert_eq!(v["error"]["status"].as_str(), Some("RESOURCE_EXHAUSTED"));
        let (status, v) = post("/v1beta/models/m:generateContent", "not json");
        assert_eq!((status, v["error"]["status"].as_str()), (400, Some("INVALID_ARGUMENT")));
    }

    #[test]
    fn provider_prefixed_model_and_tool_call() {
        let body = r#"{"contents":[{"role":"user","parts":[{"text":"weather?"}]}],
            "tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"}}}}]}]}"#;
        let (status, v) = post("/v1beta/models/acme/tool-model:generateContent", body);
        assert_eq!(status, 200);
        assert_eq!(v["modelVersion"].as_str(), Some("acme/tool-model"));
        let parts = &v["candidates"][0]["content"]["parts"];
        assert_eq!(parts[0]["text"].as_str(), Some("Let me check."));
        assert_eq!(parts[1]["functionCall"]["name"].as_str(), Some("get_weather"));
        assert_eq!(parts[1]["functionCall"]["args"]["city"].as_str(), Some("Paris"));
        assert_eq!(v["candidates"][0]["finishReason"].as_str(), Some("STOP"));
    }

    #[test]
    fn contents_rules_are_enforced_as_gemini_does() {
        let ask = r#"{"role":"user","parts":[{"text":"go"}]}"#;
        let calls = r#"{"role":"model","parts":[{"functionCall":{"name":"f","args":{}}},{"functionCall":{"name":"g","args":{}}}]}"#;
        let response = |n: &str| format!(r#"{{"functionResponse":{{"name":"{n}","response":{{"r":1}}}}}}"#);
        let turn = |parts: &[&str]| format!(r#"{{"role":"user","parts":[{}]}}"#, parts.join(","));
        let (f, g) = (response("f"), response("g"));
        let run = |contents: &[&str]| {
            let body = format!(r#"{{"contents":[{}]}}"#, contents.join(","));
            ["generateContent", "streamGenerateContent?alt=sse"].map(|op| {
                let r = serve(Method::Post, &format!("/v1beta/models/m:{op}"), body.as_bytes()).unwrap();
                (r.status, String::from_utf8_lossy(&r.body).into_owned())
            })
        };
        for (code, _) in run(&[ask, calls, &turn(&[&f, &g])]) {
            assert_eq!(code, 200);
        }
        for (contents, says) in [
            (
                vec![ask.to_string(), calls.to_string(), turn(&[&f]), turn(&[&g])],
                "number of function response parts",
            ),
            (vec![ask.to_string(), turn(&[&f])], "number of function response parts"),
            (
                vec![ask.to_string(), r#"{"role":"model","parts":[]}"#.to_string()],
                "contents[1].parts: contents.parts must not be empty",
            ),
        ] {
            let contents: Vec<&str> = contents.iter().map(String::as_str).collect();
            for (code, body) in run(&contents) {
                assert_eq!(code, 400, "{body}");
                assert!(body.contains(says) && body.contains("INVALID_ARGUMENT"), "{body}");
            }
        }
    }
}
