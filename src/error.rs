//! The one error type of a request: which side caused it, its status, whether a retry could help.
//!
//! Errors are created without logging and rendered once, in the client's own wire format, by
//! `formats::<format>::encode_error`.

use crate::canonical::{ConvertError, UpstreamFault};
use crate::http::Method;
use crate::upstream::UpstreamError;

/// Who is at fault, for logs and for retry decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Upstream,
    Gateway,
}

#[derive(Debug)]
pub enum GatewayError {
    /// The request is malformed or asks for something impossible; `param` names the field
    /// (a path such as `messages[2].content[0].image_url` for a refused translation), which an
    /// OpenAI client reads as the error's `param`.
    BadRequest {
        message: String,
        param: Option<Box<str>>,
    },
    NotFound(String),
    /// The route exists for other methods: these, which a 405 names in `Allow`.
    MethodNotAllowed {
        allowed: &'static [Method],
    },
    /// The route exists but this combination is not supported (yet).
    NotImplemented(String),
    /// Talking to the upstream failed before a response could be relayed.
    Upstream(UpstreamError),
    /// The upstream answered with an error (decoded from its format, re-rendered in the client's).
    UpstreamFault(UpstreamFault),
    /// The gateway failed on a request it should have handled (a caught panic: a bug).
    Internal,
    /// The HTTP layer refused the request before any route saw it (its framing, its size, its
    /// pace): the status is the refusal's (400, 408, 413, 414, 417, 431, 501); or a route refused
    /// a body it cannot read (415, `UNSUPPORTED_ENCODING`).
    Http {
        status: u16,
        message: &'static str,
    },
}

impl GatewayError {
    /// A request body with a `Content-Encoding` (gzip, ...): Sluice reads bodies as they are.
    pub const UNSUPPORTED_ENCODING: GatewayError = GatewayError::Http {
        status: 415,
        message: "a request body with a Content-Encoding is not supported: send it uncompressed",
    };

    pub fn bad_request(message: impl Into<String>, param: Option<&str>) -> GatewayError {
        GatewayError::BadRequest {
            message: message.into(),
            param: param.map(Into::into),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            GatewayError::BadRequest { .. } => 400,
            GatewayError::NotFound(_) => 404,
            GatewayError::MethodNotAllowed { .. } => 405,
            GatewayError::NotImplemented(_) => 501,
            GatewayError::Upstream(e) => e.status(),
            GatewayError::UpstreamFault(f) => f.status,
            GatewayError::Internal => 500,
            GatewayError::Http { status, .. } => *status,
        }
    }

    pub fn side(&self) -> Side {
        match self {
            GatewayError::BadRequest { .. }
            | GatewayError::NotFound(_)
            | GatewayError::MethodNotAllowed { .. }
            | GatewayError::Http { .. } => Side::Client,
            GatewayError::NotImplemented(_) | GatewayError::Internal => Side::Gateway,
            GatewayError::Upstream(_) | GatewayError::UpstreamFault(_) => Side::Upstream,
        }
    }

    /// Whether trying again (same or another target) could succeed.
    pub fn retryable(&self) -> bool {
        match self {
            GatewayError::Upstream(e) => e.retryable(),
            GatewayError::UpstreamFault(f) => matches!(f.status, 408 | 429 | 500..=599),
            _ => false,
        }
    }

    pub fn message(&self) -> String {
        match self {
            GatewayError::BadRequest { message, .. } => message.clone(),
            GatewayError::NotFound(path) => format!("no route for {path}"),
            GatewayError::MethodNotAllowed { .. } => "method not allowed on this route".into(),
            GatewayError::NotImplemented(m) => m.clone(),
            GatewayError::Upstream(e) => e.to_string(),
            GatewayError::UpstreamFault(f) => f.message.clone(),
            GatewayError::Internal => "internal error in the gateway".into(),
            GatewayError::Http { message, .. } => (*message).into(),
        }
    }

    /// The `Allow` header a 405 carries: the route's methods (RFC 9110 15.5.6).
    pub fn allow(&self) -> Option<String> {
        let GatewayError::MethodNotAllowed { allowed } = self else {
            return None;
        };
        let names: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
        Some(names.join(", "))
    }

    pub fn param(&self) -> Option<&str> {
        match self {
            GatewayError::BadRequest { param, .. } => param.as_deref(),
            _ => None,
        }
    }
}

impl From<ConvertError> for GatewayError {
    fn from(e: ConvertError) -> Self {
        GatewayError::BadRequest {
            message: e.to_string(),
            param: (!e.field.is_empty()).then(|| e.field.into_boxed_str()),
        }
    }
}

impl From<UpstreamError> for GatewayError {
    fn from(e: UpstreamError) -> Self {
        match e {
            // The client's bytes (a model name, a value) could not travel: its request's fault,
            // answered as any bad request (the upstream never saw it).
            UpstreamError::Unsendable(_) => GatewayError::BadRequest {
                message: e.to_string(),
                param: None,
            },
            e => GatewayError::Upstream(e),
        }
    }
}
