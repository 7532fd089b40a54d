//! Gemini errors (PROTOCOLS 4.5): `{"error":{"code","message","status"}}` with the
//! `google.rpc.Code` name in `status`. The SDK raises `ClientError` for 4xx and `ServerError`
//! for 5xx, chosen by the HTTP status.

use super::field;
use super::types::{GeminiError, GeminiErrorDetail};
use crate::canonical::{ErrorReply, FaultKind, Json, UpstreamFault};
use sonic_rs::{JsonContainerTrait, JsonValueMutTrait, JsonValueTrait};

/// The `google.rpc.Code` name Google sends with an HTTP status (PROTOCOLS 4.5 table).
pub fn status_name(status: u16, kind: FaultKind) -> &'static str {
    match status {
        400 | 413 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        // gRPC's own HTTP mapping reads a bad gateway as UNAVAILABLE.
        502 | 503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => match kind {
            FaultKind::InvalidRequest | FaultKind::RequestTooLarge => "INVALID_ARGUMENT",
            FaultKind::Authentication => "UNAUTHENTICATED",
            FaultKind::PermissionDenied => "PERMISSION_DENIED",
            FaultKind::NotFound => "NOT_FOUND",
            FaultKind::RateLimited => "RESOURCE_EXHAUSTED",
            FaultKind::Overloaded => "UNAVAILABLE",
            FaultKind::Timeout => "DEADLINE_EXCEEDED",
            FaultKind::Server => "INTERNAL",
        },
    }
}

/// The HTTP status Google pairs with a `google.rpc.Code` name.
fn http_status_of(name: &str) -> u16 {
    match name {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "ABORTED" | "ALREADY_EXISTS" => 409,
        "RESOURCE_EXHAUSTED" => 429,
        "CANCELLED" => 499,
        "UNIMPLEMENTED" => 501,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        _ => 500,
    }
}

/// Integration: the (HTTP status, code name) a Gemini client gets for a fault's status. Only
/// statuses Google itself sends go out, so any other becomes the nearest one by meaning:
/// google-genai retries 408, 429, 500, 502, 503 and 504 only, and Anthropic's 529 (overloaded)
/// must reach it as 503 UNAVAILABLE to be retried (PROTOCOLS 4.5).
pub(crate) fn client_status(status: u16, kind: FaultKind) -> (u16, &'static str) {
    let status = if (400..600).contains(&status) { status } else { 500 };
    let name = status_name(status, kind);
    (http_status_of(name), name)
}

fn kind_from_status_name(s: &str) -> Option<FaultKind> {
    Some(match s {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" | "ABORTED" | "ALREADY_EXISTS" => {
            FaultKind::InvalidRequest
        }
        "UNAUTHENTICATED" => FaultKind::Authentication,
        "PERMISSION_DENIED" => FaultKind::PermissionDenied,
        "NOT_FOUND" => FaultKind::NotFound,
        "RESOURCE_EXHAUSTED" => FaultKind::RateLimited,
        "UNAVAILABLE" => FaultKind::Overloaded,
        "DEADLINE_EXCEEDED" => FaultKind::Timeout,
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" | "UNIMPLEMENTED" => FaultKind::Server,
        _ => return None,
    })
}

/// Provider: the retry delay, in milliseconds, that a Gemini error body names in its
/// `google.rpc.RetryInfo` detail (`"retryDelay":"36s"`, a protobuf Duration in seconds with up to
/// nine decimals). Google sends it with `RESOURCE_EXHAUSTED` instead of a `Retry-After` header.
pub fn retry_delay_ms(body: &[u8]) -> Option<u64> {
    let parsed: Json = sonic_rs::from_slice(body).ok()?;
    let err = match parsed.as_array() {
        Some(a) => field(a.iter().next()?, "error")?,
        None => field(&parsed, "error")?,
    };
    let delay = field(err, "details")?.as_array()?.iter().find_map(|d| {
        let ty = field(d, "@type").and_then(|t| t.as_str())?;
        ty.ends_with("google.rpc.RetryInfo")
            .then(|| field(d, "retryDelay").and_then(|r| r.as_str()))
            .flatten()
    })?;
    let secs = delay.strip_suffix('s')?;
    let (whole, frac) = secs.split_once('.').unwrap_or((secs, ""));
    if whole.is_empty() || whole.len() > 9 || frac.len() > 9 {
        return None;
    }
    if !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms: u64 = whole.parse::<u64>().ok()? * 1000;
    // The fraction's milliseconds, rounded up: never ask for a retry sooner than Google did.
    let nanos: u64 = format!("{frac:0<9}").parse().ok()?;
    Some(ms + nanos.div_ceil(1_000_000))
}

/// Integration: adds a `google.rpc.RetryInfo` detail to a Gemini error body, the form in which
/// Google itself says how long to wait (`"retryDelay":"6.500s"`). For a client whose upstream
/// said it in a `retry-after` header: the hint reaches `APIError.details`. A body that is not a
/// Gemini error object is left as it is.
pub fn add_retry_info(body: &mut Vec<u8>, delay_ms: u64) {
    let Ok(mut v) = sonic_rs::from_slice::<Json>(body) else {
        return;
    };
    let Some(err) = v.get_mut("error").and_then(|e| e.as_object_mut()) else {
        return;
    };
    let delay = match delay_ms % 1000 {
        0 => format!("{}s", delay_ms / 1000),
        ms => format!("{}.{ms:03}s", delay_ms / 1000),
    };
    let info = sonic_rs::json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay});
    err.insert(&"details", sonic_rs::json!([info]));
    if let Ok(out) = sonic_rs::to_vec(&v) {
        *body = out;
    }
}

/// Provider: an upstream error (any body, JSON or not) -> canonical fault. The kind comes from
/// `error.status` when present (an invalid API key is `400 INVALID_ARGUMENT` with reason
/// `API_KEY_INVALID`: an authentication failure), else from the HTTP status.
pub fn decode_error(status: u16, body: &[u8]) -> UpstreamFault {
    let mut kind = FaultKind::from_status(status);
    let parsed: Option<Json> = sonic_rs::from_slice(body).ok();
    // `streamGenerateContent` without alt=sse wraps errors in an array.
    let err = parsed.as_ref().and_then(|v| match v.as_array() {
        Some(a) => a.iter().next().and_then(|x| field(x, "error")).cloned(),
        None => field(v, "error").cloned(),
    });
    let message = match &err {
        Some(e) => {
            if let Some(k) = field(e, "status")
                .and_then(|s| s.as_str())
                .and_then(kind_from_status_name)
            {
                kind = k;
            }
            let key_invalid = field(e, "details").and_then(|d| d.as_array()).is_some_and(|d| {
                d.iter()
                    .any(|x| field(x, "reason").and_then(|r| r.as_str()) == Some("API_KEY_INVALID"))
            });
            if key_invalid {
                kind = FaultKind::Authentication;
            }
            match field(e, "message").and_then(|m| m.as_str()) {
                Some(m) => m.to_string(),
                None => sonic_rs::to_string(e).unwrap_or_default(),
            }
        }
        None => crate::formats::raw_error_message(status, body),
    };
    UpstreamFault { status, kind, message }
}

/// Integration: a fault -> a Gemini error reply (HTTP status: the fault's, mapped onto Google's
/// by `client_status`).
pub fn encode_error(fault: &UpstreamFault) -> ErrorReply {
    let (status, name) = client_status(fault.status, fault.kind);
    let body = GeminiError {
        error: GeminiErrorDetail {
            code: status,
            message: &fault.message,
            status: name,
        },
    };
    ErrorReply {
        status,
        headers: Vec::new(),
        content_type: "application/json; charset=UTF-8",
        body: sonic_rs::to_vec(&body).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_info_gives_the_delay() {
        let body = |d: &str| {
            format!(
                r#"{{"error":{{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[
                {{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]}},
                {{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"{d}"}}]}}}}"#
            )
        };
        assert_eq!(retry_delay_ms(body("36s").as_bytes()), Some(36_000));
        assert_eq!(retry_delay_ms(body("0.5s").as_bytes()), Some(500));
        assert_eq!(retry_delay_ms(body("1.000000001s").as_bytes()), Some(1_001));
        // The array form of a stream request's error.
        assert_eq!(retry_delay_ms(format!("[{}]", body("2s")).as_bytes()), Some(2_000));
        for bad in ["36", "s", "-1s", "1.2.3s", "1e3s", "99999999999s", "0.1234567890s"] {
            assert_eq!(retry_delay_ms(body(bad).as_bytes()), None, "{bad}");
        }
        assert_eq!(retry_delay_ms(br#"{"error":{"code":429,"message":"q"}}"#), None);
        assert_eq!(retry_delay_ms(b"not json"), None);
    }

    #[test]
    fn retry_info_is_added_and_reads_back() {
        let fault = UpstreamFault {
            status: 429,
            kind: FaultKind::RateLimited,
            message: "slow down".into(),
        };
        for (ms, text) in [(6_500, "6.500s"), (7_000, "7s"), (5, "0.005s")] {
            let mut body = encode_error(&fault).body;
            add_retry_info(&mut body, ms);
            let v: Json = sonic_rs::from_slice(&body).unwrap();
            assert_eq!(v["error"]["details"][0]["retryDelay"].as_str(), Some(text));
            assert_eq!(v["error"]["code"].as_u64(), Some(429), "the rest is kept");
            assert_eq!(
                retry_delay_ms(&body),
                Some(ms),
                "what Sluice reads from Google, it writes"
            );
        }
        let mut other = b"not json".to_vec();
        add_retry_info(&mut other, 1000);
        assert_eq!(other, b"not json");
    }
}
