//! Cohere errors (PROTOCOLS 7.5): `{"id", "message"}` with the HTTP status. The SDK picks its
//! exception class from the status alone (429 -> `TooManyRequestsError`, ...).

use super::types::{CohereErrorIn, CohereErrorOut};
use crate::canonical::{ErrorReply, FaultKind, UpstreamFault};
use sonic_rs::JsonValueTrait;
use std::sync::atomic::{AtomicU64, Ordering};

/// Provider: an upstream error (status + body, possibly not JSON) -> canonical fault.
pub fn decode_error(status: u16, body: &[u8]) -> UpstreamFault {
    let parsed = sonic_rs::from_slice::<CohereErrorIn>(body)
        .ok()
        .and_then(|e| e.message)
        .and_then(|m| match m.as_str() {
            Some(s) => Some(s.to_string()),
            None if m.is_null() => None,
            None => sonic_rs::to_string(&m).ok(),
        });
    let message = parsed.unwrap_or_else(|| crate::formats::raw_error_message(status, body));
    let kind = match status {
        // Cohere's "invalid token".
        498 => FaultKind::Authentication,
        _ => FaultKind::from_status(status),
    };
    UpstreamFault { status, kind, message }
}

/// The status a Cohere client should see: the fault's own, unless it is no error status or one
/// Cohere never sends in its place (529 overloaded -> 503).
fn status_for(fault: &UpstreamFault) -> u16 {
    match fault.status {
        529 => 503,
        s if (400..=599).contains(&s) => s,
        _ => match fault.kind {
            FaultKind::InvalidRequest => 400,
            FaultKind::Authentication => 401,
            FaultKind::PermissionDenied => 403,
            FaultKind::NotFound => 404,
            FaultKind::RequestTooLarge => 413,
            FaultKind::RateLimited => 429,
            FaultKind::Overloaded => 503,
            FaultKind::Timeout => 504,
            FaultKind::Server => 500,
        },
    }
}

static NEXT_ERROR_ID: AtomicU64 = AtomicU64::new(1);

/// Integration: a fault -> status and `{"id","message"}` body. The `id` is one answer's, as
/// Cohere's (a UUID per request that support can trace), never the same for two errors, nor the
/// same sequence in two processes (`error_id_base`).
pub fn encode_error(fault: &UpstreamFault) -> ErrorReply {
    let status = status_for(fault);
    let n = NEXT_ERROR_ID.fetch_add(1, Ordering::Relaxed);
    let id = super::uuid_like(crate::formats::error_id_base().wrapping_add(n));
    let body = sonic_rs::to_vec(&CohereErrorOut {
        id: &id,
        message: &fault.message,
    })
    .unwrap_or_default();
    ErrorReply {
        status,
        headers: Vec::new(),
        content_type: "application/json",
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::Json;
    use sonic_rs::JsonValueTrait;

    const FIXTURE: &[u8] = include_bytes!("fixtures/error.json");

    #[test]
    fn protocols_fixture_decodes() {
        let f = decode_error(400, FIXTURE);
        assert_eq!(f.status, 400);
        assert_eq!(f.kind, FaultKind::InvalidRequest);
        assert_eq!(
            f.message,
            "invalid request: temperature must be between 0 and 1.0 inclusive."
        );
    }

    #[test]
    fn odd_bodies_still_give_a_message() {
        assert_eq!(decode_error(502, b"  Bad Gateway\n").message, "Bad Gateway");
        assert_eq!(decode_error(503, b"").message, "upstream answered HTTP 503");
        assert_eq!(decode_error(500, br#"{"message":null}"#).message, r#"{"message":null}"#);
        assert_eq!(decode_error(429, br#"{"message":{"a":1}}"#).message, r#"{"a":1}"#);
        assert_eq!(decode_error(498, b"{}").kind, FaultKind::Authentication);
        assert_eq!(decode_error(429, b"{}").kind, FaultKind::RateLimited);
    }

    #[test]
    fn error_ids_do_not_repeat_another_process_sequence() {
        // Counters from 1 gave every process (a restarted gateway, sluice-mock) the same ids in
        // the same order: an error id must not be one of that shared sequence.
        let f = UpstreamFault {
            status: 500,
            kind: FaultKind::Server,
            message: "x".into(),
        };
        let v: Json = sonic_rs::from_slice(&encode_error(&f).body).unwrap();
        let id = v.get("id").and_then(|m| m.as_str()).unwrap().to_string();
        assert!((0..100_000u64).all(|n| super::super::uuid_like(n) != id), "{id}");
    }

    #[test]
    fn encoded_errors_have_cohere_shape() {
        let f = UpstreamFault {
            status: 429,
            kind: FaultKind::RateLimited,
            message: "slow down".into(),
        };
        let r = encode_error(&f);
        assert_eq!((r.status, r.content_type), (429, "application/json"));
        let v: Json = sonic_rs::from_slice(&r.body).unwrap();
        assert_eq!(v.get("message").and_then(|m| m.as_str()), Some("slow down"));
        assert_eq!(v.get("id").and_then(|m| m.as_str()).map(str::len), Some(36));
        assert_eq!(decode_error(r.status, &r.body), f);
        // Each error its own id: the same fault twice is two answers (it was a hash of the two).
        let again: Json = sonic_rs::from_slice(&encode_error(&f).body).unwrap();
        assert_ne!(
            again.get("id").and_then(|m| m.as_str()),
            v.get("id").and_then(|m| m.as_str())
        );
        let overloaded = UpstreamFault {
            status: 529,
            kind: FaultKind::Overloaded,
            message: "busy".into(),
        };
        assert_eq!(encode_error(&overloaded).status, 503);
        let odd = UpstreamFault {
            status: 200,
            kind: FaultKind::Timeout,
            message: "late".into(),
        };
        assert_eq!(encode_error(&odd).status, 504);
    }
}
