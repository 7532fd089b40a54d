//! OpenAI wire format (PROTOCOLS section 2): the Chat Completions translation codec, error bodies
//! and the API paths of the provider role. Same format on both sides means the body passes
//! through with only `model` spliced; these codecs run only when the other side differs.
//!
//! Codec (the contract of `formats`): `decode_request` / `encode_request` / `request_path` in
//! `request.rs`, `decode_response` / `encode_response` in `response.rs`, `decode_error` and
//! `encode_fault` here (`encode_error` is the renderer of the gateway's own errors).

pub mod completions;
pub mod embed;
pub(crate) mod one_pass;
pub mod request;
pub mod response;
pub mod responses;
pub(crate) mod responses_one_pass;
pub mod responses_upstream;
pub mod stream;
pub mod types;
mod write;

pub use request::{decode_request, encode_request, request_path};
pub use response::{answer_finish_reason, decode_response, encode_response, finish_reason};

use crate::canonical::{ErrorReply, FaultKind, Json, UpstreamFault};
use crate::error::GatewayError;
use bytes::Bytes;
use sonic_rs::JsonValueTrait;
use types::{OpenAiError, OpenAiErrorDetail, OpenAiErrorIn};

/// Renders any gateway error as an OpenAI error body (PROTOCOLS 2.9).
pub fn encode_error(err: &GatewayError) -> Bytes {
    let status = err.status();
    let ty = match status {
        // OpenAI's own 401 is an `invalid_request_error` with code `invalid_api_key`.
        401 => "invalid_request_error",
        403 => "permission_error",
        // A timeout is a `server_error` with code `timeout`, as `encode_fault` renders one.
        408 => "server_error",
        429 => "rate_limit_error",
        // 400, 404, 405, 413, 414, 417, 422, 431: the request as sent cannot be served.
        400..=499 => "invalid_request_error",
        501 => "not_implemented",
        _ => "server_error",
    };
    let code: Option<&str> = match err {
        GatewayError::NotFound(_) => Some("not_found"),
        GatewayError::Http { status: 408, .. } => Some("timeout"),
        GatewayError::Http { status: 413, .. } => Some("request_too_large"),
        GatewayError::Upstream(_) if status == 504 => Some("upstream_timeout"),
        GatewayError::Upstream(_) => Some("upstream_error"),
        _ => None,
    };
    error_body(&err.message(), ty, err.param(), code)
}

/// Serializes an OpenAI error body.
pub fn error_body(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Bytes {
    let e = OpenAiError {
        error: OpenAiErrorDetail {
            message,
            kind,
            param,
            code,
        },
    };
    Bytes::from(sonic_rs::to_vec(&e).unwrap_or_default())
}

/// Provider: an upstream's error (status + body, possibly not JSON) -> canonical fault. The kind
/// comes from the status; for a non-error status (an error object inside a 200 stream) from
/// `error.code`, else `error.type`: `encode_fault` names an overload or a timeout only in
/// `code` (`server_error` + `overloaded`), so `type` alone would read both as a plain 500.
pub fn decode_error(status: u16, body: &[u8]) -> UpstreamFault {
    let parsed: Option<OpenAiErrorIn> = sonic_rs::from_slice(body).ok();
    let (message, ty, code) = parsed.map(error_fields).unwrap_or((None, None, None));
    let kind = if status >= 400 {
        FaultKind::from_status(status)
    } else {
        let by_code = match code.as_deref() {
            Some("overloaded") => Some(FaultKind::Overloaded),
            Some("timeout") => Some(FaultKind::Timeout),
            Some("rate_limit_exceeded") => Some(FaultKind::RateLimited),
            Some("invalid_api_key") => Some(FaultKind::Authentication),
            Some("not_found" | "model_not_found") => Some(FaultKind::NotFound),
            Some("request_too_large") => Some(FaultKind::RequestTooLarge),
            _ => None,
        };
        by_code.unwrap_or(match ty.as_deref() {
            Some("invalid_request_error") => FaultKind::InvalidRequest,
            Some("authentication_error") => FaultKind::Authentication,
            Some("permission_error") => FaultKind::PermissionDenied,
            Some("rate_limit_error") | Some("insufficient_quota") => FaultKind::RateLimited,
            _ => FaultKind::Server,
        })
    };
    let message = message.unwrap_or_else(|| super::raw_error_message(status, body));
    UpstreamFault { status, kind, message }
}

/// (message, type, code) from `{"error":{...}}`, `{"error":"..."}`, `{"message":..}` or
/// `{"detail":..}`.
fn error_fields(e: OpenAiErrorIn) -> (Option<String>, Option<String>, Option<String>) {
    let text = |v: &Json| v.as_str().map(str::to_string);
    if let Some(err) = &e.error {
        if let Some(m) = text(err) {
            return (Some(m), None, None);
        }
        let message = err.get("message").and_then(text);
        let ty = err.get("type").and_then(text);
        let code = err.get("code").and_then(text);
        if message.is_some() {
            return (message, ty, code);
        }
    }
    let message = e
        .message
        .as_ref()
        .and_then(text)
        .or_else(|| e.detail.as_ref().and_then(text));
    (message, None, None)
}

/// Integration: a fault -> an OpenAI error reply (PROTOCOLS 2.9). Clients key on the status, so
/// the upstream's status is kept when it is an error status; `type`/`code` follow the kind.
pub fn encode_fault(fault: &UpstreamFault) -> ErrorReply {
    let (default_status, ty, code) = match fault.kind {
        FaultKind::InvalidRequest => (400, "invalid_request_error", None),
        FaultKind::Authentication => (401, "invalid_request_error", Some("invalid_api_key")),
        FaultKind::PermissionDenied => (403, "permission_error", None),
        FaultKind::NotFound => (404, "invalid_request_error", Some("not_found")),
        FaultKind::RequestTooLarge => (413, "invalid_request_error", Some("request_too_large")),
        FaultKind::RateLimited => (429, "rate_limit_error", Some("rate_limit_exceeded")),
        FaultKind::Overloaded => (503, "server_error", Some("overloaded")),
        FaultKind::Timeout => (504, "server_error", Some("timeout")),
        FaultKind::Server => (500, "server_error", None),
    };
    let status = if (400..=599).contains(&fault.status) {
        fault.status
    } else {
        default_status
    };
    ErrorReply {
        status,
        headers: Vec::new(),
        content_type: "application/json",
        body: error_body(&fault.message, ty, None, code).to_vec(),
    }
}

/// Operations of the OpenAI API that Sluice proxies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    ChatCompletions,
    Completions,
    Embeddings,
    Models,
}

impl Operation {
    /// Path appended to a provider's base URL (origin plus optional prefix).
    pub fn upstream_path(self) -> &'static str {
        match self {
            Operation::ChatCompletions => "/v1/chat/completions",
            Operation::Completions => "/v1/completions",
            Operation::Embeddings => "/v1/embeddings",
            Operation::Models => "/v1/models",
        }
    }

    /// Label for metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Operation::ChatCompletions => "chat_completions",
            Operation::Completions => "completions",
            Operation::Embeddings => "embeddings",
            Operation::Models => "models",
        }
    }

    /// Whether the operation can stream.
    pub fn streams(self) -> bool {
        matches!(self, Operation::ChatCompletions | Operation::Completions)
    }
}

/// Test helper: asserts two JSON values are equal field by field (object key order ignored),
/// naming the first differing path.
#[cfg(test)]
pub(crate) fn assert_same_json(got: &Json, want: &Json, path: &str) {
    use sonic_rs::{JsonContainerTrait, JsonType};
    match (got.as_object(), want.as_object()) {
        (Some(g), Some(w)) => {
            for (k, wv) in w.iter() {
                let gv = g.get(&k).unwrap_or_else(|| panic!("{path}.{k}: missing, want {wv}"));
                assert_same_json(gv, wv, &format!("{path}.{k}"));
            }
            for (k, gv) in g.iter() {
                assert!(w.get(&k).is_some(), "{path}.{k}: unexpected field {gv}");
            }
            return;
        }
        (None, None) => {}
        _ => panic!("{path}: got {got}, want {want}"),
    }
    if let (Some(g), Some(w)) = (got.as_array(), want.as_array()) {
        assert_eq!(g.len(), w.len(), "{path}: array length, got {got}, want {want}");
        for (i, (gv, wv)) in g.iter().zip(w.iter()).enumerate() {
            assert_same_json(gv, wv, &format!("{path}[{i}]"));
        }
        return;
    }
    if got.get_type() == JsonType::Number && want.get_type() == JsonType::Number {
        assert_eq!(got.as_f64(), want.as_f64(), "{path}");
        return;
    }
    assert_eq!(got, want, "{path}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_openai_shape() {
        let b = encode_error(&GatewayError::bad_request("bad 'model'", Some("model")));
        let v: sonic_rs::Value = sonic_rs::from_slice(&b).unwrap();
        assert_eq!(
            v.pointer(&["error", "message"]).and_then(|m| m.as_str()),
            Some("bad 'model'")
        );
        assert_eq!(
            v.pointer(&["error", "type"]).and_then(|m| m.as_str()),
            Some("invalid_request_error")
        );
        assert_eq!(v.pointer(&["error", "param"]).and_then(|m| m.as_str()), Some("model"));
    }
}

#[cfg(test)]
mod fault_tests {
    use super::*;

    #[test]
    fn decodes_openai_error_body() {
        let body = br#"{"error":{"message":"Invalid 'messages': empty array.","type":"invalid_request_error","param":"messages","code":"empty_array"}}"#;
        let f = decode_error(400, body);
        assert_eq!(
            f,
            UpstreamFault {
                status: 400,
                kind: FaultKind::InvalidRequest,
                message: "Invalid 'messages': empty array.".into()
            }
        );
        let f = decode_error(
            429,
            br#"{"error":{"message":"quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
        );
        assert_eq!((f.kind, f.message.as_str()), (FaultKind::RateLimited, "quota"));
    }

    #[test]
    fn decodes_compatible_server_shapes_and_non_json() {
        assert_eq!(decode_error(500, br#"{"error":"boom"}"#).message, "boom");
        assert_eq!(decode_error(422, br#"{"detail":"bad field"}"#).message, "bad field");
        assert_eq!(decode_error(404, br#"{"message":"no model"}"#).message, "no model");
        let f = decode_error(502, b"<html>Bad Gateway</html>\n");
        assert_eq!(
            (f.kind, f.message.as_str()),
            (
                FaultKind::Server,
                "upstream answered HTTP 502 with an HTML page: Bad Gateway"
            )
        );
        assert_eq!(decode_error(503, b"").message, "upstream answered HTTP 503");
        assert_eq!(decode_error(503, b"").kind, FaultKind::Overloaded);
        let long = "\u{e9}".repeat(600);
        let f = decode_error(500, long.as_bytes());
        assert!(f.message.len() <= 512 && f.message.chars().all(|c| c == '\u{e9}'));
    }

    #[test]
    fn in_stream_error_takes_kind_from_type() {
        let body = br#"{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}"#;
        assert_eq!(decode_error(200, body).kind, FaultKind::Server);
        let body = br#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#;
        assert_eq!(decode_error(200, body).kind, FaultKind::RateLimited);
    }

    #[test]
    fn fault_encodes_as_openai_error_and_decodes_back() {
        for status in [400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504, 529] {
            let fault = UpstreamFault {
                status,
                kind: FaultKind::from_status(status),
                message: format!("failure {status}"),
            };
            let r = encode_fault(&fault);
            assert_eq!((r.status, r.content_type), (status, "application/json"));
            let v: Json = sonic_rs::from_slice(&r.body).unwrap();
            for key in ["message", "type", "param", "code"] {
                assert!(v.pointer(&["error", key]).is_some(), "{status} {key}");
            }
            assert_eq!(decode_error(r.status, &r.body), fault);
        }
        let r = encode_fault(&UpstreamFault {
            status: 429,
            kind: FaultKind::RateLimited,
            message: "m".into(),
        });
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            r#"{"error":{"message":"m","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}"#
        );
    }

    #[test]
    fn fault_with_non_error_status_gets_the_kind_status() {
        let r = encode_fault(&UpstreamFault {
            status: 200,
            kind: FaultKind::Overloaded,
            message: "busy".into(),
        });
        assert_eq!(r.status, 503);
        assert_eq!(request_path("gpt-4o", true), "/v1/chat/completions");
        assert_eq!(
            request_path("gpt-4o", false),
            Operation::ChatCompletions.upstream_path()
        );
    }
}
