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

/// The most reserved for a `content-length` body before any of it has arrived (see `step`).
const EAGER_BODY_RESERVE: usize = 4 * 1024 * 1024;

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

    /// Bytes of the head, blank line included (never more than `Limits::max_head_bytes`).
    pub fn head_len(&self) -> usize {
        self.head.len()
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

/// What `RequestReader::step` needs next.
pub(crate) enum Step {
    /// More bytes in the read buffer.
    NeedMore,
    /// A `100 Continue` written to the client (the body is still to come), then a `step` again.
    SendContinue,
    Done(Request),
}

/// The parsing half of reading one request: pure steps over the connection's read buffer, no IO.
/// `read_request` drives it over the socket; the fuzz target (`crate::fuzz::http_request`)
/// drives the same steps over arbitrary splits of the same bytes.
pub(crate) struct RequestReader {
    limits: Limits,
    state: ReadState,
}

enum ReadState {
    Head,
    Body {
        head: Bytes,
        parsed: ParsedHead,
        /// A `100 Continue` is still owed before the body is read.
        expect_continue: bool,
        chunked: ChunkedBody,
    },
}

impl RequestReader {
    pub(crate) fn new(limits: Limits) -> RequestReader {
        RequestReader {
            limits,
            state: ReadState::Head,
        }
    }

    /// Still in the head: a read timeout is the head's (or idle) and a close may be clean.
    pub(crate) fn in_head(&self) -> bool {
        matches!(self.state, ReadState::Head)
    }

    /// Parses what `rbuf` holds, taking the request's bytes off it once the request is whole
    /// (the bytes after it, a pipelined request, stay). Call again after `NeedMore` once `rbuf`
    /// has grown, and after `SendContinue` at once.
    pub(crate) fn step(&mut self, rbuf: &mut BytesMut) -> Result<Step, HttpError> {
        let limits = self.limits;
        if let ReadState::Head = self.state {
            if rbuf.is_empty() {
                return Ok(Step::NeedMore);
            }
            // Only the bytes the limit allows are parsed: what lies past it makes the head too
            // large, never malformed, however the bytes arrived.
            let parsed = match parse_head(&rbuf[..rbuf.len().min(limits.max_head_bytes)])? {
                Some(parsed) => parsed,
                None if rbuf.len() > limits.max_head_bytes => return Err(HttpError::HeadTooLarge),
                None => return Ok(Step::NeedMore),
            };
            let head = rbuf.split_to(parsed.len).freeze();
            let expect_continue = match parsed.framing {
                BodyFraming::None => false,
                BodyFraming::Length(n) => {
                    if n > limits.max_body_bytes {
                        return Err(HttpError::BodyTooLarge);
                    }
                    // Room for the whole body at once, so it arrives in one buffer without
                    // copies; but only so much before a byte of it has come: a declared length
                    // costs nothing to send, and a larger body grows its buffer by doubling.
                    let eager = n.min(EAGER_BODY_RESERVE);
                    if rbuf.capacity() < eager {
                        rbuf.reserve(eager - rbuf.len());
                    }
                    parsed.expect_continue && rbuf.len() < n
                }
                BodyFraming::Chunked => parsed.expect_continue && rbuf.is_empty(),
            };
            self.state = ReadState::Body {
                head,
                parsed,
                expect_continue,
                chunked: ChunkedBody::default(),
            };
        }
        let ReadState::Body {
            parsed,
            expect_continue,
            chunked,
            ..
        } = &mut self.state
        else {
            unreachable!("the head was taken just above");
        };
        if std::mem::take(expect_continue) {
            return Ok(Step::SendContinue);
        }
        let body = match parsed.framing {
            BodyFraming::None => Bytes::new(),
            BodyFraming::Length(n) if rbuf.len() < n => return Ok(Step::NeedMore),
            BodyFraming::Length(n) => rbuf.split_to(n).freeze(),
            BodyFraming::Chunked => match chunked.step(rbuf, limits)? {
                Some(body) => body,
                None => return Ok(Step::NeedMore),
            },
        };
        let ReadState::Body { head, parsed, .. } = std::mem::replace(&mut self.state, ReadState::Head) else {
            unreachable!("matched just above");
        };
        Ok(Step::Done(Request {
            head,
            method: parsed.method,
            target: parsed.target,
            headers: parsed.headers,
            body,
            http10: parsed.http10,
            keep_alive: parsed.keep_alive,
        }))
    }
}

/// Reads the next request from the connection.
///
/// `Ok(None)` means the client closed the connection cleanly between requests (or the idle
/// timeout passed with nothing buffered).
pub async fn read_request(conn: &mut Conn) -> Result<Option<Request>, HttpError> {
    let limits = conn.limits;
    let mut reader = RequestReader::new(limits);
    loop {
        match reader.step(&mut conn.rbuf)? {
            Step::Done(mut req) => {
                if conn.draining() {
                    req.keep_alive = false;
                }
                return Ok(Some(req));
            }
            Step::SendContinue => conn
                .write_raw(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .map_err(HttpError::Io)?,
            Step::NeedMore if reader.in_head() => {
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
            }
            Step::NeedMore => fill(conn, limits.header_read_timeout).await?,
        }
    }
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

/// A request head as parsed, before its bytes are taken off the read buffer.
struct ParsedHead {
    /// Bytes of the head, blank line included.
    len: usize,
    method: Method,
    target: Range<u32>,
    headers: Vec<HeaderSpan>,
    http10: bool,
    keep_alive: bool,
    framing: BodyFraming,
    expect_continue: bool,
}

fn parse_head(buf: &[u8]) -> Result<Option<ParsedHead>, HttpError> {
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
    Ok(Some(ParsedHead {
        len: n,
        method,
        target,
        headers,
        http10,
        keep_alive,
        framing,
        expect_continue,
    }))
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

/// A chunked request body being decoded into one buffer (the only body path that copies).
#[derive(Default)]
struct ChunkedBody {
    body: BytesMut,
    state: ChunkState,
}

#[derive(Clone, Copy, Default)]
enum ChunkState {
    /// Before a chunk size line.
    #[default]
    Size,
    /// Inside a chunk's data, with this many bytes left.
    Data(usize),
    /// After a chunk's data, before its CRLF.
    DataEnd,
    /// After the last chunk: trailer lines up to the empty line, skipped.
    Trailers,
}

impl ChunkedBody {
    /// Decodes what `rbuf` holds, taking it off the buffer; the whole body once its end is
    /// parsed, `None` while more bytes are needed.
    fn step(&mut self, rbuf: &mut BytesMut, limits: Limits) -> Result<Option<Bytes>, HttpError> {
        loop {
            match self.state {
                // Only the first 4 KiB are parsed: a longer line is refused however it arrived.
                ChunkState::Size => match httparse::parse_chunk_size(&rbuf[..rbuf.len().min(4096)]) {
                    Ok(httparse::Status::Complete((consumed, size))) => {
                        let _ = rbuf.split_to(consumed);
                        let size = usize::try_from(size).map_err(|_| HttpError::BodyTooLarge)?;
                        if size == 0 {
                            self.state = ChunkState::Trailers;
                            continue;
                        }
                        // A size near usize::MAX overflowed `body.len() + size` (a panic, or in
                        // release a wrapped sum that passed and a failed reservation).
                        if size > limits.max_body_bytes - self.body.len() {
                            return Err(HttpError::BodyTooLarge);
                        }
                        self.body.reserve(size);
                        self.state = ChunkState::Data(size);
                    }
                    Ok(httparse::Status::Partial) if rbuf.len() > 4096 => {
                        return Err(HttpError::BadRequest("invalid chunk size line"))
                    }
                    Ok(httparse::Status::Partial) => return Ok(None),
                    Err(_) => return Err(HttpError::BadRequest("invalid chunk size")),
                },
                ChunkState::Data(left) => {
                    if rbuf.is_empty() {
                        return Ok(None);
                    }
                    let take = left.min(rbuf.len());
                    self.body.extend_from_slice(&rbuf[..take]);
                    let _ = rbuf.split_to(take);
                    self.state = if take == left {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left - take)
                    };
                }
                ChunkState::DataEnd => {
                    if rbuf.len() < 2 {
                        return Ok(None);
                    }
                    if &rbuf[..2] != b"\r\n" {
                        return Err(HttpError::BadRequest("chunk data not followed by CRLF"));
                    }
                    let _ = rbuf.split_to(2);
                    self.state = ChunkState::Size;
                }
                // Each trailer line is looked for within the limit only, as the chunk size line.
                ChunkState::Trailers => {
                    match memchr::memmem::find(&rbuf[..rbuf.len().min(limits.max_head_bytes)], b"\r\n") {
                        Some(0) => {
                            let _ = rbuf.split_to(2);
                            return Ok(Some(std::mem::take(&mut self.body).freeze()));
                        }
                        Some(i) => {
                            let _ = rbuf.split_to(i + 2);
                        }
                        None if rbuf.len() > limits.max_head_bytes => return Err(HttpError::HeadTooLarge),
                        None => return Ok(None),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads one request from `raw`, all of it received at once.
    fn read(raw: &[u8]) -> Result<Step, HttpError> {
        let mut rbuf = BytesMut::from(raw);
        RequestReader::new(Limits::default()).step(&mut rbuf)
    }

    #[test]
    fn a_chunk_size_near_usize_max_is_413_not_a_panic() {
        let raw = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\nffffffffffffffff\r\n";
        assert!(matches!(read(raw), Err(HttpError::BodyTooLarge)));
    }

    #[test]
    fn a_malformed_byte_past_the_head_limit_is_431_however_it_arrived() {
        let mut raw = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        raw.resize(raw.len() + 64 * 1024, b'a');
        raw.extend_from_slice(b"\r\n\x01bad: x\r\n\r\n");
        assert!(matches!(read(&raw), Err(HttpError::HeadTooLarge)));
    }

    #[test]
    fn a_declared_length_reserves_at_most_four_mib_before_the_body_comes() {
        let limits = Limits {
            max_body_bytes: 64 * 1024 * 1024,
            ..Limits::default()
        };
        for (declared, most) in [(100, 4096), (32 * 1024 * 1024, EAGER_BODY_RESERVE + 4096)] {
            let mut rbuf =
                BytesMut::from(format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n\r\n").as_bytes());
            assert!(matches!(RequestReader::new(limits).step(&mut rbuf), Ok(Step::NeedMore)));
            assert!(
                rbuf.capacity() >= declared.min(EAGER_BODY_RESERVE),
                "{declared}: {}",
                rbuf.capacity()
            );
            assert!(rbuf.capacity() <= most, "{declared}: {}", rbuf.capacity());
        }
    }

    #[test]
    fn a_body_past_the_eager_reserve_arrives_whole() {
        let body: Vec<u8> = (0..6 * 1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
        let mut rbuf =
            BytesMut::from(format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
        let mut reader = RequestReader::new(Limits::default());
        for piece in body.chunks(64 * 1024) {
            assert!(matches!(reader.step(&mut rbuf), Ok(Step::NeedMore)));
            rbuf.extend_from_slice(piece);
        }
        match reader.step(&mut rbuf) {
            Ok(Step::Done(req)) => assert!(req.body[..] == body[..], "the body, whole and in order"),
            _ => panic!("not done"),
        }
    }
}
