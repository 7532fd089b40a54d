//! Upstream side: per-worker connection pools and the HTTP/1.1 client.

pub mod client;
pub mod conn;
pub mod pool;

pub use client::{send, BodyReader, OutRequest, UpstreamResponse};
pub use pool::Pool;

use std::fmt;

/// Why talking to an upstream failed. Every variant knows whether a retry elsewhere is safe
/// (nothing reached the client yet and the upstream did not process the request, or said so).
#[derive(Debug)]
pub enum UpstreamError {
    Resolve(String),
    Connect(std::io::Error),
    ConnectTimeout,
    Tls(String),
    FirstByteTimeout,
    Timeout,
    /// The upstream sent nothing for this long in the middle of the body (`body_idle_timeout_ms`).
    BodyIdle(std::time::Duration),
    /// The connection closed before the response was complete.
    Closed,
    /// The body ended early (chunked body without its last chunk, short Content-Length).
    Truncated,
    BadResponse(&'static str),
    /// A well-framed answer whose body is not what the provider's format says it is: the
    /// decoder's own words (which field, or where the JSON breaks), in one line.
    Undecodable(String),
    /// A body compressed with this `Content-Encoding` where Sluice must decode it (a translated
    /// answer): Sluice asked for identity and does not decompress.
    UnsupportedEncoding(String),
    /// The request's path or a header value holds a byte a request head cannot carry (a
    /// control character, a space, non-ASCII in the path). Nothing was sent: written out, it
    /// could end the head early and smuggle a second request onto the connection.
    Unsendable(&'static str),
    /// A `3xx` answer (this status). Sluice does not follow redirects, and relayed, its
    /// `location` would send an SDK (which follows them) past the gateway, to the upstream itself.
    Redirect(u16),
    Io(std::io::Error),
}

impl UpstreamError {
    /// Status to answer the client with.
    pub fn status(&self) -> u16 {
        match self {
            UpstreamError::ConnectTimeout
            | UpstreamError::FirstByteTimeout
            | UpstreamError::Timeout
            | UpstreamError::BodyIdle(_) => 504,
            // What the client sent (a model name, a header) cannot travel: its request's fault.
            UpstreamError::Unsendable(_) => 400,
            _ => 502,
        }
    }

    /// Whether another attempt (fallback, retry) could succeed without side effects upstream.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            UpstreamError::Resolve(_)
                | UpstreamError::Connect(_)
                | UpstreamError::ConnectTimeout
                | UpstreamError::Tls(_)
        )
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamError::Resolve(h) => write!(f, "cannot resolve upstream host {h}"),
            UpstreamError::Connect(e) => write!(f, "cannot connect to upstream: {e}"),
            UpstreamError::ConnectTimeout => write!(f, "timed out connecting to upstream"),
            UpstreamError::Tls(e) => write!(f, "TLS error with upstream: {e}"),
            UpstreamError::FirstByteTimeout => write!(f, "upstream did not answer in time"),
            UpstreamError::Timeout => write!(f, "upstream response timed out"),
            UpstreamError::BodyIdle(d) if d.subsec_millis() == 0 => {
                write!(f, "upstream sent nothing for {} s in the middle of its answer", d.as_secs())
            }
            UpstreamError::BodyIdle(d) => write!(
                f,
                "upstream sent nothing for {} ms in the middle of its answer",
                d.as_millis()
            ),
            UpstreamError::Closed => write!(f, "upstream closed the connection"),
            UpstreamError::Truncated => write!(f, "upstream response was truncated"),
            UpstreamError::BadResponse(m) => write!(f, "invalid upstream response: {m}"),
            UpstreamError::Undecodable(m) => write!(f, "invalid upstream response: {m}"),
            UpstreamError::UnsupportedEncoding(c) => write!(
                f,
                "invalid upstream response: Content-Encoding {c}, which Sluice does not decode (it asks for identity)"
            ),
            UpstreamError::Unsendable(what) => write!(
                f,
                "the request cannot be sent upstream: its {what} holds a character an HTTP request head cannot carry"
            ),
            UpstreamError::Redirect(status) => write!(
                f,
                "upstream answered HTTP {status}, a redirect, which Sluice does not follow (check the provider's base_url)"
            ),
            UpstreamError::Io(e) => write!(f, "upstream i/o error: {e}"),
        }
    }
}
