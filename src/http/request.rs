//! Request heads and bodies: parsed with httparse, held as `Bytes` slices of the read buffer.
//!
//! Flow: `server` calls `read_request` once per request on a keep-alive connection. The head is
//! split off the connection's read buffer and frozen; header names and values are kept as ranges
//! into it, so nothing is copied. A `Content-Length` body is also a slice of the read buffer (the
//! zero-copy case); only a chunked body is reassembled.

use super::conn::Conn;
use super::error::HttpError;
use super::io::{read_more, read_more_within};
use bytes::{Bytes, BytesMut};
use std::ops::Range;
use std::time::{Duration, Instant};

/// Enough for every SDK we know (openai sends ~16 headers); more is 431.
const MAX_HEADERS: usize = 128;

/// The most reserved for a `content-length` body before any of it has arrived (see `step`).
const EAGER_BODY_RESERVE: usize = 4 * 1024 * 1024;

/// The largest request (head and body) after which the connection keeps its read buffer for the
/// next one. A larger request grew the buffer to its size, and an idle keep-alive connection
/// (a load balancer's, reused for hours) would hold that memory until it closed: a 4 MiB image
/// request, 4 MiB per connection. Past this size the next request starts a fresh buffer, one
/// allocation for a request that already cost many.
const KEEP_READ_BUFFER_AFTER: usize = 8 * 1024;

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
    /// How long a client may take none of what is written to it before its connection is cut
    /// (zero: never). Set on the listening socket as `TCP_USER_TIMEOUT`, which accepted
    /// connections inherit: the kernel ends a connection whose peer has kept a zero window (or
    /// left data unacknowledged) that long, so no write carries a timer of its own.
    pub send_timeout: Duration,
    /// Open connections a worker serves at most (0: no limit); read at each accept.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 64 * 1024,
            max_body_bytes: 32 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
            max_connections: 10_000,
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

/// A request target split into its path and its query (without the `?`), if any. An
/// absolute-form target (`http://host/path?q`), which a server must accept (RFC 9112 3.2.2),
/// gives the path and query it holds; its authority is not used, since Sluice serves one host.
pub fn split_target(target: &str) -> (&str, Option<&str>) {
    let (target, absolute) = match after_authority(target) {
        Some(rest) => (rest, true),
        None => (target, false),
    };
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    // `http://host` and `http://host?q` name the root (RFC 9112 3.2.2).
    (if absolute && path.is_empty() { "/" } else { path }, query)
}

/// What follows `http://authority` (or `https://`) in an absolute-form target, `None` for any
/// other form.
fn after_authority(target: &str) -> Option<&str> {
    let scheme = ["http://", "https://"].into_iter().find(|scheme| {
        target
            .get(..scheme.len())
            .is_some_and(|t| t.eq_ignore_ascii_case(scheme))
    })?;
    let rest = &target[scheme.len()..];
    Some(rest.find(['/', '?']).map_or("", |i| &rest[i..]))
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

    /// First header with this name (case-insensitive), compared as bytes: a lookup validates no
    /// header's name as UTF-8 (`headers` does, for each name it yields).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| self.head[h.name.start as usize..h.name.end as usize].eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| &self.head[h.value.start as usize..h.value.end as usize])
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

    /// The head of a request whose body is being read, taken from the reader (for answering a
    /// refused body in the client's format).
    fn take_head(&mut self) -> Option<Bytes> {
        match std::mem::replace(&mut self.state, ReadState::Head) {
            ReadState::Body { head, .. } => Some(head),
            ReadState::Head => None,
        }
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
                // A request line that does not end within the limit is a target too long (414, as
                // nginx answers), not header fields too large (RFC 9112 3).
                None if rbuf.len() > limits.max_head_bytes => {
                    return Err(match memchr::memchr(b'\n', &rbuf[..limits.max_head_bytes]) {
                        Some(_) => HttpError::HeadTooLarge,
                        None => HttpError::TargetTooLong,
                    })
                }
                None => return Ok(Step::NeedMore),
            };
            // Refused before the head leaves the buffer, where the refusal finds it.
            if matches!(parsed.framing, BodyFraming::Length(n) if n > limits.max_body_bytes) {
                return Err(HttpError::BodyTooLarge);
            }
            let head = rbuf.split_to(parsed.len).freeze();
            let expect_continue = match parsed.framing {
                BodyFraming::None => false,
                BodyFraming::Length(n) => {
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
        if head.len() + body.len() > KEEP_READ_BUFFER_AFTER {
            // The buffer's tail still holds the request's whole allocation (freed only when
            // neither the request nor this buffer points into it); a pipelined request's bytes
            // move out with a copy of what was read past this one.
            *rbuf = if rbuf.is_empty() {
                BytesMut::new()
            } else {
                BytesMut::from(&rbuf[..])
            };
        }
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

/// A request the HTTP layer refused, with the bytes of its head as far as they came: enough to
/// answer in the client's own format (its target) and to its browser (its `Origin`).
#[derive(Debug)]
pub struct RefusedRequest {
    pub error: HttpError,
    /// The head, or what came of it (the connection closes after the refusal, so nothing
    /// after it is needed).
    head: Bytes,
}

impl RefusedRequest {
    /// The request target, when the request line came whole and looks like one.
    pub fn target(&self) -> Option<&str> {
        self.request_line().map(|(_, target)| target)
    }

    /// The method and target, when the request line came whole and looks like one: printable
    /// ASCII both, so either may go into a log line as it is.
    pub fn request_line(&self) -> Option<(&str, &str)> {
        let end = memchr::memchr(b'\n', &self.head)?;
        let line = std::str::from_utf8(&self.head[..end]).ok()?;
        let mut parts = line.trim_end_matches('\r').split(' ');
        let (method, target, _version) = (parts.next()?, parts.next()?, parts.next()?);
        let graphic = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        (parts.next().is_none() && graphic(method) && graphic(target)).then_some((method, target))
    }

    /// Whether the refused request is a HEAD: its refusal then has headers but no body, as any
    /// answer to HEAD (a body would be read as the start of the next answer).
    pub fn is_head(&self) -> bool {
        self.head.starts_with(b"HEAD ")
    }

    /// The first header with this name (case-insensitive) among the head's lines that came
    /// whole: a line cut short could read as another value (an origin's prefix).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        let whole = &self.head[..memchr::memrchr(b'\n', &self.head)?];
        whole
            .split(|b| *b == b'\n')
            .skip(1)
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .take_while(|line| !line.is_empty())
            .find_map(|line| {
                let colon = memchr::memchr(b':', line)?;
                line[..colon]
                    .eq_ignore_ascii_case(name.as_bytes())
                    .then(|| trim_ascii(&line[colon + 1..]))
            })
    }
}

/// How long a keep-alive connection waits for its next request with its task and buffers before
/// it is parked (`server::park`): an idle connection then costs its socket and a small task, a
/// third of the RSS a waiting one holds (RESULTS, "Session 48"), while a connection busier
/// than this never pays the parking (a poll and a new task on its next request).
pub const PARK_AFTER: Duration = Duration::from_secs(1);

/// How the wait for a connection's next request ended.
pub enum Next {
    Request(Request),
    /// The client closed the connection between requests, or the idle timeout passed.
    Closed,
    /// Nothing came for `PARK_AFTER` (less than the idle timeout) and nothing is buffered: the
    /// connection is to be parked.
    Idle,
}

/// Reads the next request from the connection.
pub async fn read_request(conn: &mut Conn) -> Result<Next, RefusedRequest> {
    let mut reader = RequestReader::new(conn.limits);
    match next_request(conn, &mut reader).await {
        Ok(req) => Ok(req),
        Err(error) => {
            let head = reader.take_head().unwrap_or_else(|| {
                let n = conn.rbuf.len().min(conn.limits.max_head_bytes);
                conn.rbuf.split_to(n).freeze()
            });
            Err(RefusedRequest { error, head })
        }
    }
}

async fn next_request(conn: &mut Conn, reader: &mut RequestReader) -> Result<Next, HttpError> {
    let limits = conn.limits;
    // The whole head must come within `header_read_timeout` of its first byte, not each read of
    // it: a client sending a byte now and then would otherwise hold the connection for ever.
    let mut head_deadline = None;
    loop {
        match reader.step(&mut conn.rbuf)? {
            Step::Done(mut req) => {
                if conn.draining() {
                    req.keep_alive = false;
                }
                return Ok(Next::Request(req));
            }
            Step::SendContinue => conn
                .write_raw(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .map_err(HttpError::Io)?,
            Step::NeedMore if reader.in_head() => {
                let buf = std::mem::take(&mut conn.rbuf);
                let res = if buf.is_empty() {
                    // Between requests. The read is cancelled, not dropped, at the wait's end:
                    // bytes it took as it ended are the next request's, for the parked
                    // connection too.
                    let park = limits.idle_timeout > PARK_AFTER;
                    let wait = if park { PARK_AFTER } else { limits.idle_timeout };
                    let (res, buf) = read_more_within(&mut conn.io, buf, wait, &mut conn.canceller).await;
                    conn.rbuf = buf;
                    match res {
                        Ok(None) if park && conn.rbuf.is_empty() => return Ok(Next::Idle),
                        Ok(None) => return Ok(Next::Closed),
                        Ok(Some(n)) => Ok(n),
                        Err(e) => Err(e),
                    }
                } else {
                    // A head under way keeps its bytes past a timeout: its 408 is answered in
                    // the format its target names.
                    let deadline = *head_deadline.get_or_insert_with(|| Instant::now() + limits.header_read_timeout);
                    let wait = deadline.saturating_duration_since(Instant::now());
                    let (res, buf) = read_more_within(&mut conn.io, buf, wait, &mut conn.canceller).await;
                    conn.rbuf = buf;
                    match res {
                        Ok(None) => return Err(HttpError::HeadTimeout),
                        Ok(Some(n)) => Ok(n),
                        Err(e) => Err(e),
                    }
                };
                match res {
                    Ok(0) if conn.rbuf.is_empty() => return Ok(Next::Closed),
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
    // Connection tokens are collected over every Connection header, then weighed together:
    // `close` wins over any `keep-alive` (RFC 9112 9.6), whatever their order.
    let mut close_asked = false;
    let mut keep_alive_asked = false;
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
                    close_asked = true;
                } else if t.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive_asked = true;
                }
            }
        } else if name.eq_ignore_ascii_case("host") {
            host_count += 1;
        } else if name.eq_ignore_ascii_case("expect") {
            if trim_ascii(h.value).eq_ignore_ascii_case(b"100-continue") {
                // An HTTP/1.0 client knows no interim answers: its expectation is ignored
                // (RFC 9110 10.1.1) and the body read as it comes.
                expect_continue = !http10;
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
    // An HTTP/1.0 message with Transfer-Encoding is read as chunked, but its framing cannot be
    // trusted beyond it (an HTTP/1.0 hop in front may not have seen the chunks): the connection
    // closes after the answer (RFC 9112 6.1).
    let keep_alive = !close_asked && (!http10 || (keep_alive_asked && !chunked));
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
    /// Bytes of trailer lines so far: the section, skipped, counts against the head limit, or
    /// trailer lines sent without end would hold the connection for ever.
    trailers: usize,
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
                        // httparse takes any byte inside a chunk extension, a bare LF or CR
                        // included: a hop that ends lines there would frame the body otherwise.
                        if rbuf[..consumed - 2].iter().any(|b| matches!(b, b'\r' | b'\n')) {
                            return Err(HttpError::BadRequest("bare CR or LF in a chunk size line"));
                        }
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
                // Lines end in CRLF only, as chunk size lines and chunk data do: a bare LF (which
                // the head parser takes) ending a trailer line here would make the request end
                // somewhere other than where a hop that reads bare LFs sees it end, and a
                // pipelined request after it would be read as trailer lines (a desync).
                ChunkState::Trailers => match memchr::memchr(b'\n', &rbuf[..rbuf.len().min(limits.max_head_bytes)]) {
                    Some(i) => {
                        let line = &rbuf[..i];
                        match line.split_last() {
                            Some((b'\r', text)) if !text.contains(&b'\r') => {}
                            _ => return Err(HttpError::BadRequest("chunked trailer line not ended by CRLF")),
                        }
                        let _ = rbuf.split_to(i + 1);
                        if i == 1 {
                            return Ok(Some(std::mem::take(&mut self.body).freeze()));
                        }
                        self.trailers += i + 1;
                        if self.trailers > limits.max_head_bytes {
                            return Err(HttpError::HeadTooLarge);
                        }
                    }
                    None if rbuf.len() > limits.max_head_bytes => return Err(HttpError::HeadTooLarge),
                    None => return Ok(None),
                },
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

    /// The request `raw` holds and what stays in the buffer after it.
    fn read_one(raw: &[u8]) -> (Result<Step, HttpError>, BytesMut) {
        let mut rbuf = BytesMut::from(raw);
        let step = RequestReader::new(Limits::default()).step(&mut rbuf);
        (step, rbuf)
    }

    #[test]
    fn chunked_trailer_lines_end_in_crlf_only() {
        let get = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
        let head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n".to_vec();
        // A bare LF ending a trailer line or the trailer section would let the pipelined request
        // after it be read as trailer lines: refused, never reframed.
        for end in [
            &b"0\r\nX: y\n\r\n"[..],
            b"0\r\n\n",
            b"0\r\nX: y\r\n\n",
            b"0\r\nX: a\rb\r\n\r\n",
        ] {
            let raw = [&head[..], end, get].concat();
            let (step, _) = read_one(&raw);
            assert!(
                matches!(step, Err(HttpError::BadRequest(_))),
                "{:?}",
                String::from_utf8_lossy(end)
            );
        }
        // Well-formed trailers end the body exactly where they end.
        for end in [&b"0\r\n\r\n"[..], b"0\r\nX: y\r\nZ: w\r\n\r\n"] {
            let raw = [&head[..], end, get].concat();
            let (step, rest) = read_one(&raw);
            let Ok(Step::Done(req)) = step else {
                panic!("{:?}", String::from_utf8_lossy(end))
            };
            assert_eq!(&req.body[..], b"{}");
            assert_eq!(&rest[..], get, "the pipelined request stays whole");
        }
        // So do chunk size lines, extensions included.
        for size in [&b"2;a\nb\r\n"[..], b"2;a\rb\r\n", b"2\n"] {
            let raw = [&head[..head.len() - 7], size, b"{}\r\n0\r\n\r\n"].concat();
            assert!(matches!(read_one(&raw).0, Err(HttpError::BadRequest(_))));
        }
    }

    #[test]
    fn a_trailer_section_past_the_head_limit_is_431_however_short_its_lines() {
        let head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n";
        let raw = [&head[..], &b"X-T: y\r\n".repeat(64 * 1024 / 8 + 1)].concat();
        assert!(matches!(read(&raw), Err(HttpError::HeadTooLarge)));
    }

    #[test]
    fn connection_close_wins_over_keep_alive() {
        for headers in [
            "Connection: close, keep-alive\r\n",
            "Connection: keep-alive, close\r\n",
            "Connection: close\r\nConnection: keep-alive\r\n",
            "Connection: keep-alive\r\nConnection: Close\r\n",
        ] {
            for version in ["1.1", "1.0"] {
                let raw = format!("GET / HTTP/{version}\r\nHost: x\r\n{headers}\r\n");
                let Ok(Step::Done(req)) = read(raw.as_bytes()) else {
                    panic!("{raw}")
                };
                assert!(!req.keep_alive, "{raw}");
            }
        }
        let Ok(Step::Done(req)) = read(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") else {
            panic!()
        };
        assert!(req.keep_alive);
    }

    #[test]
    fn http10_with_transfer_encoding_is_read_then_closed_and_never_continued() {
        let raw =
            b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        let Ok(Step::Done(req)) = read(raw) else { panic!() };
        assert_eq!((&req.body[..], req.keep_alive), (&b"{}"[..], false));
        // An HTTP/1.0 client's 100-continue is ignored: no interim answer, the body is awaited.
        for raw in [
            &b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"[..],
            b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert!(matches!(read(raw), Ok(Step::NeedMore)));
        }
        let raw = b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
        assert!(matches!(read(raw), Ok(Step::SendContinue)));
    }

    #[test]
    fn absolute_form_targets_give_their_path_and_query() {
        for (target, path, query) in [
            ("/v1/models?x=1", "/v1/models", Some("x=1")),
            ("http://h/health", "/health", None),
            ("HTTPS://h:8080/v1/models?x=1", "/v1/models", Some("x=1")),
            ("http://h", "/", None),
            ("http://h?q", "/", Some("q")),
            ("*", "*", None),
        ] {
            assert_eq!(split_target(target), (path, query), "{target}");
        }
    }

    #[test]
    fn a_refused_head_gives_its_target_and_whole_lines_only() {
        let refused = |head: &'static [u8]| RefusedRequest {
            error: HttpError::HeadTooLarge,
            head: Bytes::from_static(head),
        };
        let r = refused(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nORIGIN:  https://a.example \r\nX-Pad: aaaa");
        assert_eq!(r.target(), Some("/v1/messages"));
        assert_eq!(r.header("origin"), Some(&b"https://a.example"[..]));
        assert_eq!(r.header("x-pad"), None, "a line cut short is not read");
        let r = refused(b"GET /x HTTP/1.1\r\nHost: x\r\norigin: https://a.exam");
        assert_eq!(r.header("origin"), None);
        let r = refused(b"GET /x HTTP/1.1\r\n\r\norigin: https://body\r\n");
        assert_eq!(r.header("origin"), None, "only the head's lines");
        assert_eq!(refused(b"GET /very-long-target-cut").target(), None);
        assert_eq!(refused(b"THIS IS NOT HTTP\r\n\r\n").target(), None);
        assert!(refused(b"HEAD /v1/models HTTP/1.1\r\nX-Pad: aaaa").is_head());
        assert!(!refused(b"HEADX /v1/models HTTP/1.1\r\n").is_head());
        assert!(!refused(b"GET /x HTTP/1.1\r\n").is_head());
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
    fn a_request_line_past_the_head_limit_is_414_and_header_lines_past_it_431() {
        let mut raw = b"GET /v1/models?q=".to_vec();
        raw.resize(raw.len() + 64 * 1024, b'a');
        assert!(matches!(read(&raw), Err(HttpError::TargetTooLong)));
        let mut raw = b"GET /v1/models HTTP/1.1\r\nX-Big: ".to_vec();
        raw.resize(raw.len() + 64 * 1024, b'a');
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
    fn a_large_request_leaves_no_large_read_buffer_behind_and_a_small_one_keeps_its_buffer() {
        let get = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
        for (len, pipelined) in [(1000, false), (1000, true), (100 * 1024, false), (100 * 1024, true)] {
            // Arriving as `read_more` reads: into one buffer, which grows for a large body.
            let body = vec![b'a'; len];
            let mut wire = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n\r\n").into_bytes();
            wire.extend_from_slice(&body);
            if pipelined {
                wire.extend_from_slice(get);
            }
            let mut rbuf = BytesMut::with_capacity(super::super::io::READ_CHUNK);
            let mut reader = RequestReader::new(Limits::default());
            let mut pieces = wire.chunks(4096);
            let req = loop {
                match reader.step(&mut rbuf) {
                    Ok(Step::Done(req)) => break req,
                    Ok(Step::NeedMore) => rbuf.extend_from_slice(pieces.next().expect("more of the request")),
                    _ => panic!("{len}: not a request"),
                }
            };
            assert!(req.body[..] == body[..], "{len}");
            drop(req);
            // Room for another request this large without an allocation: only in a buffer that
            // kept the first one's memory.
            assert_eq!(rbuf.try_reclaim(len), len < KEEP_READ_BUFFER_AFTER, "{len} {pipelined}");
            // What came after the request stays, to be read next.
            if pipelined {
                assert_eq!(&rbuf[..], get);
                assert!(matches!(reader.step(&mut rbuf), Ok(Step::Done(r)) if r.path() == "/health"));
            } else {
                assert!(rbuf.is_empty());
            }
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
