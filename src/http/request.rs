//! Request heads and bodies: parsed with httparse, held as `Bytes` slices of the read buffer.
//!
//! Flow: `server` calls `read_request` once per request on a keep-alive connection. The head is
//! split off the connection's read buffer and frozen; header names and values are kept as ranges
//! into it, so nothing is copied. A `Content-Length` body is also a slice of the read buffer (the
//! zero-copy case); only a chunked body is reassembled.

use super::conn::Conn;
use super::error::HttpError;
use super::io::read_more;
use bytes::{Bytes, BytesMut};
use std::ops::Range;
use std::time::Duration;

/// Enough for every SDK we know (openai sends ~16 headers); more is 431.
const MAX_HEADERS: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Head,
    Put,
    Delete,
    Options,
    Other,
}

impl Method {
    fn parse(s: &str) -> Method {
        match s {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "HEAD" => Method::Head,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Head => "HEAD",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other => "OTHER",
        }
    }
}

/// Byte ranges of one header inside the request head.
#[derive(Clone, Debug)]
struct HeaderSpan {
    name: Range<u32>,
    value: Range<u32>,
}

/// Limits the server enforces while reading a request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_head_bytes: usize,
    pub max_body_bytes: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 64 * 1024,
            max_body_bytes: 32 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// One parsed HTTP/1.x request with its whole body.
#[derive(Debug)]
pub struct Request {
    head: Bytes,
    pub method: Method,
    target: Range<u32>,
    headers: Vec<HeaderSpan>,
    pub body: Bytes,
    /// HTTP/1.0 (no chunked responses, keep-alive only when asked for).
    pub http10: bool,
    pub keep_alive: bool,
}

/// A request target split into its path and its query (without the `?`), if any.
pub fn split_target(target: &str) -> (&str, Option<&str>) {
    match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    }
}

impl Request {
    /// The request target as sent (path plus query).
    pub fn target(&self) -> &str {
        // httparse only accepts visible ASCII in the target, so this cannot fail.
        std::str::from_utf8(&self.head[self.target.start as usize..self.target.end as usize]).unwrap_or("")
    }

    /// The request target as a handle on the head (no copy), to keep after the request is gone.
    pub fn target_bytes(&self) -> Bytes {
        self.head.slice(self.target.start as usize..self.target.end as usize)
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        split_target(self.target()).0
    }

    /// The query string without the `?`, if any.
    pub fn query(&self) -> Option<&str> {
        split_target(self.target()).1
    }

    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// First header with this name as a string, if it is valid UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// All headers in arrival order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(move |h| {
            let name = &self.head[h.name.start as usize..h.name.end as usize];
            // httparse validated names as tokens (ASCII).
            let name = std::str::from_utf8(name).unwrap_or("");
            (name, &self.head[h.value.start as usize..h.value.end as usize])
        })
    }
}

/// How the request body is framed.
enum BodyFraming {
    None,
    Length(usize),
    Chunked,
}

/// Reads the next request from the connection.
///
/// `Ok(None)` means the client closed the connection cleanly between requests (or the idle
/// timeout passed with nothing buffered).
pub async fn read_request(conn: &mut Conn) -> Result<Option<Request>, HttpError> {
    let limits = conn.limits;
    // 1. Head.
    let (head_len, method, target, headers, http10, mut keep_alive, framing, expect_continue) = loop {
        if !conn.rbuf.is_empty() {
            match parse_head(&conn.rbuf)? {
                Some(parsed) => break parsed,
                None if conn.rbuf.len() > limits.max_head_bytes => return Err(HttpError::HeadTooLarge),
                None => {}
            }
        }
        let idle = conn.rbuf.is_empty();
        let wait = if idle {
            limits.idle_timeout
        } else {
            limits.header_read_timeout
        };
        let buf = std::mem::take(&mut conn.rbuf);
        let (res, buf) = match monoio::time::timeout(wait, read_more(&mut conn.io, buf)).await {
            Ok(r) => r,
            Err(_) if idle => return Ok(None),
            Err(_) => return Err(HttpError::HeadTimeout),
        };
        conn.rbuf = buf;
        match res {
            Ok(0) if conn.rbuf.is_empty() => return Ok(None),
            Ok(0) => return Err(HttpError::Closed),
            Ok(_) => {}
            Err(e) => return Err(HttpError::Io(e)),
        }
    };
    if head_len > limits.max_head_bytes {
        return Err(HttpError::HeadTooLarge);
    }
    let head = conn.rbuf.split_to(head_len).freeze();

    // 2. Body.
    let body = match framing {
        BodyFraming::None => Bytes::new(),
        BodyFraming::Length(n) => {
            if n > limits.max_body_bytes {
                return Err(HttpError::BodyTooLarge);
            }
            if expect_continue && conn.rbuf.len() < n {
                conn.write_raw(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .await
                    .map_err(HttpError::Io)?;
            }
            if conn.rbuf.capacity() < n {
                conn.rbuf.reserve(n - conn.rbuf.len());
            }
            while conn.rbuf.len() < n {
                fill(conn, limits.header_read_timeout).await?;
            }
            conn.rbuf.split_to(n).freeze()
        }
        BodyFraming::Chunked => {
            if expect_continue && conn.rbuf.is_empty() {
                conn.write_raw(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .await
                    .map_err(HttpError::Io)?;
            }
            read_chunked(conn, limits).await?
        }
    };
    if conn.draining() {
        keep_alive = false;
    }
    Ok(Some(Request {
        head,
        method,
        target,
        headers,
        body,
        http10,
        keep_alive,
    }))
}

/// Reads at least one more byte into the connection buffer or fails.
async fn fill(conn: &mut Conn, wait: Duration) -> Result<(), HttpError> {
    let buf = std::mem::take(&mut conn.rbuf);
    let (res, buf) = monoio::time::timeout(wait, read_more(&mut conn.io, buf))
        .await
        .map_err(|_| HttpError::BodyTimeout)?;
    conn.rbuf = buf;
    match res {
        Ok(0) => Err(HttpError::Closed),
        Ok(_) => Ok(()),
        Err(e) => Err(HttpError::Io(e)),
    }
}

type ParsedHead = (
    usize,
    Method,
    Range<u32>,
    Vec<HeaderSpan>,
    bool,
    bool,
    BodyFraming,
    bool,
);

fn parse_head(buf: &BytesMut) -> Result<Option<ParsedHead>, HttpError> {
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut raw);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadTooLarge),
        Err(e) => return Err(HttpError::BadRequest(httparse_reason(e))),
    };
    let base = buf.as_ptr() as usize;
    let span = |s: &[u8]| -> Range<u32> {
        let start = s.as_ptr() as usize - base;
        start as u32..(start + s.len()) as u32
    };
    let method = Method::parse(req.method.unwrap_or(""));
    let target = span(req.path.unwrap_or("/").as_bytes());
    let http10 = req.version == Some(0);
    let mut keep_alive = !http10;
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut expect_continue = false;
    let mut host_count = 0;
    let mut headers = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let v = parse_content_length(h.value);
            match (v, content_length) {
                (None, _) => return Err(HttpError::BadRequest("invalid Content-Length")),
                (Some(v), Some(prev)) if v != prev => {
                    return Err(HttpError::BadRequest("conflicting Content-Length headers"))
                }
                (Some(v), _) => content_length = Some(v),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Only `chunked` alone is supported; other codings (gzip, ...) would need decoding
            // we do not do, and ignoring them would corrupt the body (RFC 9112 6.1: 501).
            if trim_ascii(h.value).eq_ignore_ascii_case(b"chunked") && !chunked {
                chunked = true;
            } else {
                return Err(HttpError::UnsupportedTransferCoding);
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|b| *b == b',') {
                let t = trim_ascii(token);
                if t.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if t.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("host") {
            host_count += 1;
        } else if name.eq_ignore_ascii_case("expect") {
            if trim_ascii(h.value).eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
            } else {
                return Err(HttpError::ExpectationFailed);
            }
        }
        headers.push(HeaderSpan {
            name: span(name.as_bytes()),
            value: span(h.value),
        });
    }
    // RFC 9112 3.2: an HTTP/1.1 request without exactly one Host header is a 400.
    if !http10 && host_count != 1 {
        return Err(HttpError::BadRequest(
            "an HTTP/1.1 request needs exactly one Host header",
        ));
    }
    if chunked && content_length.is_some() {
        // Request smuggling vector: refuse rather than guess (RFC 9112 6.3 allows either).
        return Err(HttpError::BadRequest("both Transfer-Encoding and Content-Length"));
    }
    let framing = if chunked {
        BodyFraming::Chunked
    } else {
        match content_length {
            Some(0) | None => BodyFraming::None,
            Some(n) => BodyFraming::Length(n),
        }
    };
    Ok(Some((
        n,
        method,
        target,
        headers,
        http10,
        keep_alive,
        framing,
        expect_continue,
    )))
}

/// RFC 9110 8.6: Content-Length is one or more ASCII digits, nothing else (no sign, no spaces
/// inside). Lenient parsing here is a request-smuggling vector behind another proxy.
pub(crate) fn parse_content_length(v: &[u8]) -> Option<usize> {
    let v = trim_ascii(v);
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn httparse_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token in request line",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

pub(crate) fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Decodes a chunked request body into one buffer (the only body path that copies).
async fn read_chunked(conn: &mut Conn, limits: Limits) -> Result<Bytes, HttpError> {
    let mut body = BytesMut::new();
    loop {
        // Chunk size line.
        let (consumed, size) = loop {
            match httparse::parse_chunk_size(&conn.rbuf) {
                Ok(httparse::Status::Complete((consumed, size))) => break (consumed, size),
                Ok(httparse::Status::Partial) => {
                    if conn.rbuf.len() > 4096 {
                        return Err(HttpError::BadRequest("invalid chunk size line"));
                    }
                    fill(conn, limits.header_read_timeout).await?
                }
                Err(_) => return Err(HttpError::BadRequest("invalid chunk size")),
            }
        };
        let _ = conn.rbuf.split_to(consumed);
        let size = usize::try_from(size).map_err(|_| HttpError::BodyTooLarge)?;
        if size == 0 {
            // Trailer section: skip header lines up to the empty line.
            loop {
                match memchr::memmem::find(&conn.rbuf, b"\r\n") {
                    Some(0) => {
                        let _ = conn.rbuf.split_to(2);
                        return Ok(body.freeze());
                    }
                    Some(i) => {
                        let _ = conn.rbuf.split_to(i + 2);
                    }
                    None => {
                        if conn.rbuf.len() > limits.max_head_bytes {
                            return Err(HttpError::HeadTooLarge);
                        }
                        fill(conn, limits.header_read_timeout).await?
                    }
                }
            }
        }
        if body.len() + size > limits.max_body_bytes {
            return Err(HttpError::BodyTooLarge);
        }
        body.reserve(size);
        let mut left = size;
        while left > 0 {
            if conn.rbuf.is_empty() {
                fill(conn, limits.header_read_timeout).await?;
            }
            let take = left.min(conn.rbuf.len());
            body.extend_from_slice(&conn.rbuf[..take]);
            let _ = conn.rbuf.split_to(take);
            left -= take;
        }
        while conn.rbuf.len() < 2 {
            fill(conn, limits.header_read_timeout).await?;
        }
        if &conn.rbuf[..2] != b"\r\n" {
            return Err(HttpError::BadRequest("chunk data not followed by CRLF"));
        }
        let _ = conn.rbuf.split_to(2);
    }
}
