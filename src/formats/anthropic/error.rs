//! Anthropic error bodies (PROTOCOLS 3.5): `decode_error` (provider: an upstream's error to a
//! canonical fault) and `encode_error` (integration: a fault in the shape the Anthropic SDK
//! raises its own exception classes from). The HTTP status is kept; `error.type` follows it.

use super::types::{AnthropicError, AnthropicErrorDetail};
use crate::canonical::{ErrorReply, FaultKind, Json, UpstreamFault};
use sonic_rs::JsonValueTrait;
use std::sync::atomic::{AtomicU64, Ordering};

/// `error.type` for a status (PROTOCOLS 3.5 table), else from the fault's kind.
pub fn error_type(status: u16, kind: FaultKind) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        500 => "api_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        _ => match kind {
            FaultKind::InvalidRequest => "invalid_request_error",
            FaultKind::Authentication => "authentication_error",
            FaultKind::PermissionDenied => "permission_error",
            FaultKind::NotFound => "not_found_error",
            FaultKind::RequestTooLarge => "request_too_large",
            FaultKind::RateLimited => "rate_limit_error",
            FaultKind::Overloaded => "overloaded_error",
            FaultKind::Timeout => "timeout_error",
            FaultKind::Server => "api_error",
        },
    }
}

/// The status `error_type` names `ty` for (PROTOCOLS 3.5 table), for an in-stream `error` event
/// that carries no status of its own.
pub(crate) fn status_for_type(ty: &str) -> Option<u16> {
    const TABLE: [u16; 10] = [400, 401, 402, 403, 404, 413, 429, 500, 504, 529];
    TABLE.into_iter().find(|&s| error_type(s, FaultKind::Server) == ty)
}

fn kind_from_type(ty: &str, status: u16) -> FaultKind {
    match ty {
        "invalid_request_error" => FaultKind::InvalidRequest,
        "authentication_error" => FaultKind::Authentication,
        "permission_error" => FaultKind::PermissionDenied,
        "not_found_error" => FaultKind::NotFound,
        "request_too_large" => FaultKind::RequestTooLarge,
        "rate_limit_error" => FaultKind::RateLimited,
        "api_error" => FaultKind::Server,
        "timeout_error" => FaultKind::Timeout,
        "overloaded_error" => FaultKind::Overloaded,
        // billing_error and future types: the status decides.
        _ => FaultKind::from_status(status),
    }
}

/// An upstream's error response -> canonical fault. A non-JSON body (a proxy's HTML page) becomes
/// the message (`raw_error_message`).
pub fn decode_error(status: u16, body: &[u8]) -> UpstreamFault {
    let parsed: Option<Json> = sonic_rs::from_slice(body).ok();
    let detail = parsed.as_ref().and_then(|v| v.get("error"));
    let ty = detail.and_then(|e| e.get("type")).and_then(|t| t.as_str());
    let message = detail
        .and_then(|e| e.get("message"))
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| crate::formats::raw_error_message(status, body));
    UpstreamFault {
        status,
        kind: ty.map_or_else(|| FaultKind::from_status(status), |t| kind_from_type(t, status)),
        message,
    }
}

static NEXT_REQUEST_ID: AtomicU64 = AtomicU64::new(1);

/// A fault -> Anthropic error reply, with a `request-id` header equal to the body's `request_id`.
pub fn encode_error(fault: &UpstreamFault) -> ErrorReply {
    let n = NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("req_sluice_{:016x}", crate::formats::error_id_base().wrapping_add(n));
    let body = AnthropicError {
        kind: "error",
        error: AnthropicErrorDetail {
            kind: error_type(fault.status, fault.kind),
            message: &fault.message,
        },
        request_id: &request_id,
    };
    ErrorReply {
        status: fault.status,
        headers: vec![("request-id", request_id.clone())],
        content_type: "application/json",
        body: sonic_rs::to_vec(&body).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_do_not_repeat_another_process_sequence() {
        let f = UpstreamFault {
            status: 529,
            kind: FaultKind::Overloaded,
            message: "busy".into(),
        };
        let id = |r: &ErrorReply| r.headers[0].1.clone();
        let (a, b) = (id(&encode_error(&f)), id(&encode_error(&f)));
        assert_ne!(a, b);
        // Counters from 1 gave every process (a restarted gateway, sluice-mock) the same ids.
        let n = u64::from_str_radix(a.strip_prefix("req_sluice_").unwrap(), 16).unwrap();
        assert!(n > 1 << 32, "{a}: a counter from 1");
    }
}
