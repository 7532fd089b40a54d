//! OpenAI wire format (PROTOCOLS section 2): error bodies and the API paths of the provider role.
//! Same format on both sides means the body passes through with only `model` spliced.

pub mod types;

use crate::error::GatewayError;
use bytes::Bytes;
use types::{OpenAiError, OpenAiErrorDetail};

/// Renders any gateway error as an OpenAI error body (PROTOCOLS 2.9).
pub fn encode_error(err: &GatewayError) -> Bytes {
    let status = err.status();
    let ty = match status {
        400 | 404 | 405 | 413 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        501 => "not_implemented",
        _ => "server_error",
    };
    let code: Option<&str> = match err {
        GatewayError::NotFound(_) => Some("not_found"),
        GatewayError::Upstream(_) if status == 504 => Some("upstream_timeout"),
        GatewayError::Upstream(_) => Some("upstream_error"),
        _ => None,
    };
    error_body(&err.message(), ty, err.param(), code)
}

/// An upstream fault as an OpenAI error body.
pub fn encode_fault_body(f: &crate::canonical::UpstreamFault) -> Vec<u8> {
    use crate::canonical::FaultKind::*;
    let ty = match f.kind {
        InvalidRequest | NotFound | RequestTooLarge => "invalid_request_error",
        Authentication => "authentication_error",
        PermissionDenied => "permission_error",
        RateLimited => "rate_limit_error",
        Overloaded | Timeout | Server => "server_error",
    };
    error_body(&f.message, ty, None, None).to_vec()
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

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::JsonValueTrait;

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
        assert_eq!(
            v.pointer(&["error", "param"]).and_then(|m| m.as_str()),
            Some("model")
        );
    }
}
