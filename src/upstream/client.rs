//! HTTP/1.1 client for upstreams: connect (TCP or TLS), send, read the response head, and hand
//! back a `BodyReader` that yields the decoded body as `Bytes` slices of the read buffer.
//!
//! Rules kept here: one transparent reconnect when a pooled connection turns out dead before any
//! response byte arrived (never after, so no request is sent twice once the upstream answered);
//! a connection returns to the pool only after its response was read to the end.

use super::conn::{UpstreamConn, UpstreamIo};
use super::pool::Pool;
use super::UpstreamError;
use crate::config::{Origin, Timeouts};
use crate::http::io::{read_more, write_all};
use bytes::{Bytes, BytesMut};
use monoio::net::TcpStream;
use monoio::time::Instant as MonoInstant;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

/// Bodies up to this size are copied next to the head so the request is one write.
const INLINE_BODY: usize = 16 * 1024;
const MAX_RESPONSE_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;
/// Unanswered TCP keepalive probes before the kernel drops an upstream connection.
const KEEPALIVE_PROBES: u32 = 3;

/// An outgoing request. Headers must already be filtered (no hop-by-hop, no client credentials).
pub struct OutRequest<'a> {
    pub method: &'a str,
    /// Absolute path including the origin's prefix and any query.
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a [u8])],
    /// Body pieces, sent in order (lets a spliced body go out without being joined).
    pub body: &'a [Bytes],
}

/// The response head plus a reader for its body.
pub struct UpstreamResponse {
    pub status: u16,
    head: Bytes,
    headers: Vec<(Range<u32>, Range<u32>)>,
    pub body: BodyReader,
}

impl UpstreamResponse {
    /// The body alone: the head's memory is released (a stream keeps only what it reads with).
    pub fn into_body(self) -> BodyReader {
        self.body
    }

    /// First header with this name (case-insensitive), compared as bytes: a lookup validates no
    /// header's name as UTF-8 (`headers` does, for each name it yields).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| self.head[n.start as usize..n.end as usize].eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| &self.head[v.start as usize..v.end as usize])
    }

    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(move |(n, v)| {
            let name = std::str::from_utf8(&self.head[n.start as usize..n.end as usize]).unwrap_or("");
            (name, &self.head[v.start as usize..v.end as usize])
        })
    }

    /// The body's `Content-Encoding` when it is not identity. Sluice asks for identity bodies
    /// (`accept-encoding: identity`, never the client's), so this is an upstream ignoring that.
    pub fn content_coding(&self) -> Option<&[u8]> {
        self.header("content-encoding")
            .map(<[u8]>::trim_ascii)
            .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case(b"identity"))
    }

    pub fn is_event_stream(&self) -> bool {
        self.header("content-type").is_some_and(|v| {
            memchr::memmem::find(v, b"text/event-stream").is_some()
                || memchr::memmem::find(v, b"application/vnd.amazon.eventstream").is_some()
        })
    }
}

/// How a response body is framed, and how far its decoding got.
pub(crate) enum Framing {
    Length(usize),
    Chunked(ChunkState),
    UntilClose,
}

#[derive(Clone, Copy)]
pub(crate) enum ChunkState {
    Size,
    Data(usize),
    DataEnd,
    Trailers,
}

/// What the bytes already received give.
pub(crate) enum Buffered {
    Piece(Bytes),
    End,
    NeedMore,
}

/// Reads a response body incrementally. The connection goes back to the pool the moment the
/// body's end is parsed, before the caller writes its own last bytes: a client that sends its
/// next request as soon as it has the answer finds the connection idle. Dropping a reader that
/// has not reached the end closes the connection.
pub struct BodyReader {
    conn: Option<UpstreamConn>,
    pool: Rc<Pool>,
    framing: Framing,
    done: bool,
    keep_alive: bool,
    /// When the whole answer must have arrived (`total_timeout_ms`).
    deadline: MonoInstant,
    /// Longest wait for the upstream's next bytes (`body_idle_timeout_ms`); `None`: `deadline` alone.
    idle: Option<std::time::Duration>,
    /// One timer for the body's life, armed at its first wait: a stream reads once per event, and
    /// a timer per read would be inserted into and removed from the timer wheel each time. It is
    /// set to the current wait's deadline, and only moved later (at most once per idle period,
    /// when it comes near: a stream's read otherwise leaves the timer's memory, a cache miss per
    /// event, alone). Polled at its first wait to hand it this task's waker (monoio keeps the
    /// first waker it is given until it fires; this reader never leaves its connection's task).
    timer: Option<Pin<Box<monoio::time::Sleep>>>,
    /// Where `timer` is set: never later than the current wait's deadline.
    timer_at: MonoInstant,
}

/// How close to its deadline a body's timer is asked whether it fired. It fires at its deadline
/// rounded up to the millisecond, never before, so until then the clock alone says it has not.
const TIMER_NEAR: std::time::Duration = std::time::Duration::from_millis(10);

impl Framing {
    /// Decodes the next piece of body from `rbuf` (taking it off the buffer), without reading:
    /// `End` once the body's end is parsed, `NeedMore` when `rbuf` holds no further piece. The
    /// pure half of `BodyReader`, which the fuzz target (`crate::fuzz::upstream_response`) also
    /// drives.
    pub(crate) fn decode(&mut self, rbuf: &mut BytesMut) -> Result<Buffered, UpstreamError> {
        loop {
            match self {
                Framing::Length(rem) => {
                    if *rem == 0 {
                        return Ok(Buffered::End);
                    }
                    if !rbuf.is_empty() {
                        let n = (*rem).min(rbuf.len());
                        *rem -= n;
                        return Ok(Buffered::Piece(rbuf.split_to(n).freeze()));
                    }
                }
                Framing::UntilClose => {
                    if !rbuf.is_empty() {
                        return Ok(Buffered::Piece(rbuf.split().freeze()));
                    }
                }
                Framing::Chunked(state) => match *state {
                    // Only the first 4 KiB are parsed: a longer line is refused however it arrived.
                    ChunkState::Size => match httparse::parse_chunk_size(&rbuf[..rbuf.len().min(4096)]) {
                        Ok(httparse::Status::Complete((used, size))) => {
                            let _ = rbuf.split_to(used);
                            *state = if size == 0 {
                                ChunkState::Trailers
                            } else {
                                ChunkState::Data(
                                    usize::try_from(size).map_err(|_| UpstreamError::BadResponse("chunk too large"))?,
                                )
                            };
                            continue;
                        }
                        Ok(httparse::Status::Partial) if rbuf.len() > 4096 => {
                            return Err(UpstreamError::BadResponse("invalid chunk size line"))
                        }
                        Ok(httparse::Status::Partial) => {}
                        Err(_) => return Err(UpstreamError::BadResponse("invalid chunk size")),
                    },
                    ChunkState::Data(rem) => {
                        if !rbuf.is_empty() {
                            let n = rem.min(rbuf.len());
                            *state = if n == rem {
                                ChunkState::DataEnd
                            } else {
                                ChunkState::Data(rem - n)
                            };
                            return Ok(Buffered::Piece(rbuf.split_to(n).freeze()));
                        }
                    }
                    ChunkState::DataEnd => {
                        if rbuf.len() >= 2 {
                            if &rbuf[..2] != b"\r\n" {
                                return Err(UpstreamError::BadResponse("chunk not followed by CRLF"));
                            }
                            let _ = rbuf.split_to(2);
                            *state = ChunkState::Size;
                            continue;
                        }
                    }
                    // Each trailer line is looked for within the limit only, as the chunk size line.
                    ChunkState::Trailers => {
                        match memchr::memmem::find(&rbuf[..rbuf.len().min(MAX_RESPONSE_HEAD)], b"\r\n") {
                            Some(0) => {
                                let _ = rbuf.split_to(2);
                                return Ok(Buffered::End);
                            }
                            Some(i) => {
                                let _ = rbuf.split_to(i + 2);
                                continue;
                            }
                            None if rbuf.len() > MAX_RESPONSE_HEAD => {
                                return Err(UpstreamError::BadResponse("trailers too large"))
                            }
                            None => {}
                        }
                    }
                },
            }
            return Ok(Buffered::NeedMore);
        }
    }

    /// Whether the peer closing the connection ends the body (rather than truncating it).
    pub(crate) fn ends_at_close(&self) -> bool {
        matches!(self, Framing::UntilClose)
    }
}

impl BodyReader {
    /// Decodes the next piece from bytes already received, without reading.
    fn poll_buffered(&mut self) -> Result<Buffered, UpstreamError> {
        if self.done {
            return Ok(Buffered::End);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Buffered::End);
        };
        match self.framing.decode(&mut conn.rbuf)? {
            Buffered::End => Ok(self.ended()),
            other => Ok(other),
        }
    }

    /// The body's end is parsed: a reusable connection is checked in now rather than when the
    /// reader is dropped.
    fn ended(&mut self) -> Buffered {
        self.done = true;
        if self.keep_alive {
            if let Some(conn) = self.conn.take() {
                self.pool.checkin(conn);
            }
        }
        Buffered::End
    }

    /// Whether the body's end has been read (the connection is then back in the pool).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Next piece of decoded body, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Bytes>, UpstreamError> {
        loop {
            match self.poll_buffered()? {
                Buffered::Piece(b) => return Ok(Some(b)),
                Buffered::End => return Ok(None),
                Buffered::NeedMore => {}
            }
            let Some(conn) = self.conn.as_mut() else {
                return Ok(None);
            };
            let buf = std::mem::take(&mut conn.rbuf);
            let (total, idle) = (self.deadline, self.idle);
            let (timer, timer_at) = (&mut self.timer, &mut self.timer_at);
            // This wait's deadline, set when it first finds nothing to read.
            let mut due = None;
            let mut read = std::pin::pin!(read_more(&mut conn.io, buf));
            let read = std::future::poll_fn(|cx| {
                if let Poll::Ready(r) = read.as_mut().poll(cx) {
                    return Poll::Ready(Ok(r));
                }
                let now = MonoInstant::now();
                let due = *due.get_or_insert_with(|| idle.map_or(total, |i| (now + i).min(total)));
                let timer = match timer {
                    None => {
                        *timer_at = due;
                        timer.insert(Box::pin(monoio::time::sleep_until(due)))
                    }
                    Some(t) if now + TIMER_NEAR >= *timer_at => {
                        if *timer_at < due {
                            // Set for an earlier wait that ended in time: moved to this one's.
                            *timer_at = due;
                            t.as_mut().reset(due);
                        }
                        t
                    }
                    Some(_) => return Poll::Pending,
                };
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(due));
                }
                Poll::Pending
            });
            let (res, buf) = match read.await {
                Ok(r) => r,
                Err(due) if due < total => return Err(UpstreamError::BodyIdle(idle.unwrap_or_default())),
                Err(_) => return Err(UpstreamError::Timeout),
            };
            conn.rbuf = buf;
            match res {
                Ok(0) => {
                    if self.framing.ends_at_close() {
                        self.done = true;
                        self.keep_alive = false;
                        return Ok(None);
                    }
                    return Err(UpstreamError::Truncated);
                }
                Ok(_) => {}
                Err(e) => return Err(UpstreamError::Io(e)),
            }
        }
    }

    /// The next piece if it is already received (no read): lets the pump send everything that
    /// arrived together in one write instead of one write per upstream chunk.
    pub fn next_buffered(&mut self) -> Result<Option<Bytes>, UpstreamError> {
        match self.poll_buffered()? {
            Buffered::Piece(b) => Ok(Some(b)),
            Buffered::End | Buffered::NeedMore => Ok(None),
        }
    }

    /// Reads the rest of the body into one `Bytes` (zero-copy when it arrives in one piece).
    pub async fn read_all(&mut self, limit: usize) -> Result<Bytes, UpstreamError> {
        let mut all = Collect::new(limit);
        while let Some(b) = self.next().await? {
            all.push(b)?;
        }
        Ok(all.finish())
    }

    /// Closes the connection without reusing it (client went away, error mid-stream).
    pub fn abort(mut self) {
        self.keep_alive = false;
    }
}

/// A body gathered into one `Bytes` by `BodyReader::read_all`, never more than `limit` bytes.
pub(crate) struct Collect {
    limit: usize,
    /// The first piece, kept as it came: a body that arrives in one piece is not copied.
    first: Bytes,
    /// Every piece once there is more than one.
    all: BytesMut,
}

impl Collect {
    pub(crate) fn new(limit: usize) -> Collect {
        Collect {
            limit,
            first: Bytes::new(),
            all: BytesMut::new(),
        }
    }

    pub(crate) fn push(&mut self, b: Bytes) -> Result<(), UpstreamError> {
        // Every piece counts, the first two included (a body in two large pieces slipped past).
        if b.len() > self.limit - self.first.len() - self.all.len() {
            return Err(UpstreamError::BadResponse("response body too large"));
        }
        if self.first.is_empty() && self.all.is_empty() {
            self.first = b;
            return Ok(());
        }
        if self.all.is_empty() {
            let first = std::mem::take(&mut self.first);
            self.all.reserve(first.len() + b.len() * 2);
            self.all.extend_from_slice(&first);
        }
        self.all.extend_from_slice(&b);
        Ok(())
    }

    pub(crate) fn finish(self) -> Bytes {
        if self.all.is_empty() {
            self.first
        } else {
            self.all.freeze()
        }
    }
}

impl Drop for BodyReader {
    /// A body read to the end goes back to the pool; anything else closes its connection.
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.done && self.keep_alive {
                self.pool.checkin(conn);
            } else {
                self.pool.discarded();
            }
        }
    }
}

/// A redirect, as opposed to `304 Not Modified` (an answer to a conditional request).
fn is_redirect(status: u16) -> bool {
    (300..400).contains(&status) && status != 304
}

/// Sends a request and reads the response head. A redirect is an error: its connection, with
/// the body unread, is closed rather than pooled.
pub async fn send(
    pool: &Rc<Pool>,
    origin: &Origin,
    timeouts: &Timeouts,
    req: &OutRequest<'_>,
) -> Result<UpstreamResponse, UpstreamError> {
    let deadline = MonoInstant::now() + timeouts.total;
    let head = build_head(origin, req)?;
    let conn = match pool.checkout(&origin.pool_key) {
        Some(c) => c,
        None => {
            let c = connect_boxed(origin, timeouts).await?;
            pool.opened();
            c
        }
    };
    let mut conn = InExchange { conn: Some(conn), pool };
    open_spares(pool, origin, timeouts);
    loop {
        match exchange(conn.get(), &head, req, timeouts, deadline).await {
            Ok((status, ..)) if is_redirect(status) => return Err(UpstreamError::Redirect(status)),
            Ok((status, head, headers, framing, keep_alive)) => {
                return Ok(UpstreamResponse {
                    status,
                    head,
                    headers,
                    body: BodyReader {
                        conn: conn.conn.take(),
                        pool: pool.clone(),
                        framing,
                        done: false,
                        keep_alive,
                        deadline,
                        idle: timeouts.body_idle,
                        timer: None,
                        timer_at: deadline,
                    },
                });
            }
            Err(Exchange::DeadBeforeResponse(e)) if conn.get().reused => {
                // The pooled connection was closed by the peer while idle: one fresh try.
                let _ = e;
                drop(conn.conn.take());
                pool.discarded();
                conn.conn = Some(connect_boxed(origin, timeouts).await?);
                pool.opened();
            }
            Err(Exchange::DeadBeforeResponse(e)) | Err(Exchange::Failed(e)) => return Err(e),
        }
    }
}

/// A busy connection between checkout and its response head. Dropped with it (a failed exchange,
/// or a caller that stopped waiting: its client hung up), the connection is closed and counted
/// out of the pool's busy ones.
struct InExchange<'a> {
    conn: Option<UpstreamConn>,
    pool: &'a Pool,
}

impl InExchange<'_> {
    fn get(&mut self) -> &mut UpstreamConn {
        self.conn.as_mut().expect("a connection until the exchange ends")
    }
}

impl Drop for InExchange<'_> {
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            self.pool.discarded();
        }
    }
}

enum Exchange {
    /// Write failed or the connection closed before a single response byte (a 1xx is one): safe
    /// to retry.
    DeadBeforeResponse(UpstreamError),
    Failed(UpstreamError),
}

pub(crate) type Head = (u16, Bytes, Vec<(Range<u32>, Range<u32>)>, Framing, bool);

async fn exchange(
    conn: &mut UpstreamConn,
    head: &[u8],
    req: &OutRequest<'_>,
    timeouts: &Timeouts,
    deadline: MonoInstant,
) -> Result<Head, Exchange> {
    let body_len: usize = req.body.iter().map(Bytes::len).sum();
    let mut first = Vec::with_capacity(head.len() + if body_len <= INLINE_BODY { body_len } else { 0 });
    first.extend_from_slice(head);
    let inline = body_len <= INLINE_BODY;
    if inline {
        for part in req.body {
            first.extend_from_slice(part);
        }
    }
    // An upstream that stops reading stalls the write once the socket buffers are full: the
    // write gets as long as the wait for the head would. One timer serves both waits (a monoio
    // timer is 640 bytes, and two would both sit in this future's state).
    let timer = monoio::time::sleep_until((MonoInstant::now() + timeouts.first_byte).min(deadline));
    let mut timer = std::pin::pin!(timer);
    let mut sent = write_within(conn, first, timer.as_mut()).await?;
    if !inline {
        for part in req.body {
            if sent.is_err() {
                break;
            }
            sent = write_within(conn, part.clone(), timer.as_mut()).await?;
        }
    }
    // Later than the write's deadline, so the reset only moves it (no timer-wheel work).
    timer
        .as_mut()
        .reset((MonoInstant::now() + timeouts.first_byte).min(deadline));
    if let Err(e) = sent {
        // An upstream may answer before it has read the whole body (a 413 for a body too large)
        // and close: its answer, already received, is the one to relay, not the failed write.
        // Without one (a pooled connection closed while idle), the write's failure stands.
        return match read_head(conn, req.method == "HEAD", timer).await {
            Ok((status, head, spans, framing, _)) => Ok((status, head, spans, framing, false)),
            Err(_) => Err(Exchange::DeadBeforeResponse(UpstreamError::Io(e))),
        };
    }
    read_head(conn, req.method == "HEAD", timer).await
}

/// Writes `buf` before `timer` fires. Running out of time is `Failed`, never retried: the
/// upstream may have read part of the request.
async fn write_within<B: monoio::buf::IoBuf>(
    conn: &mut UpstreamConn,
    buf: B,
    timer: Pin<&mut monoio::time::Sleep>,
) -> Result<std::io::Result<()>, Exchange> {
    monoio::select! {
        biased;
        (sent, _) = write_all(&mut conn.io, buf) => Ok(sent),
        _ = timer => Err(Exchange::Failed(UpstreamError::FirstByteTimeout)),
    }
}

/// Reads the response head before `timer` fires.
async fn read_head(
    conn: &mut UpstreamConn,
    head_request: bool,
    mut timer: Pin<&mut monoio::time::Sleep>,
) -> Result<Head, Exchange> {
    // Any byte back, a 1xx included, means the upstream has the request and may act on it:
    // from then on a failure is never retried.
    let mut answered = !conn.rbuf.is_empty();
    loop {
        match take_response_head(&mut conn.rbuf, head_request) {
            Ok(Some(head)) => return Ok(head),
            Ok(None) => {}
            Err(e) => return Err(Exchange::Failed(e)),
        }
        let buf = std::mem::take(&mut conn.rbuf);
        let (res, buf) = monoio::select! {
            biased;
            r = read_more(&mut conn.io, buf) => r,
            _ = timer.as_mut() => return Err(Exchange::Failed(UpstreamError::FirstByteTimeout)),
        };
        conn.rbuf = buf;
        match res {
            Ok(0) if !answered => return Err(Exchange::DeadBeforeResponse(UpstreamError::Closed)),
            Ok(0) => return Err(Exchange::Failed(UpstreamError::Closed)),
            Ok(_) => answered = true,
            Err(e) if !answered => return Err(Exchange::DeadBeforeResponse(UpstreamError::Io(e))),
            Err(e) => return Err(Exchange::Failed(UpstreamError::Io(e))),
        }
    }
}

/// Takes the final response head off `rbuf` once it is all there, skipping any 1xx heads
/// before it (`None`: more bytes are needed). A head over `MAX_RESPONSE_HEAD` is an error,
/// whether it is still coming or arrived whole in one read. The pure half of `exchange`, which
/// the fuzz target (`crate::fuzz::upstream_response`) also drives.
pub(crate) fn take_response_head(rbuf: &mut BytesMut, head_request: bool) -> Result<Option<Head>, UpstreamError> {
    while !rbuf.is_empty() {
        // Only the bytes the limit allows are parsed: what lies past it makes the head too large,
        // never malformed, however the bytes arrived.
        match parse_response_head(&rbuf[..rbuf.len().min(MAX_RESPONSE_HEAD)], head_request)? {
            Some((n, status, spans, framing, keep_alive)) => {
                let head = rbuf.split_to(n).freeze();
                if (100..200).contains(&status) {
                    continue; // 100 Continue and friends precede the real response.
                }
                return Ok(Some((status, head, spans, framing, keep_alive)));
            }
            None if rbuf.len() > MAX_RESPONSE_HEAD => {
                return Err(UpstreamError::BadResponse("response head too large"))
            }
            None => break,
        }
    }
    Ok(None)
}

type ParsedHead = (usize, u16, Vec<(Range<u32>, Range<u32>)>, Framing, bool);

fn parse_response_head(buf: &[u8], head_request: bool) -> Result<Option<ParsedHead>, UpstreamError> {
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut raw);
    let n = match res.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(UpstreamError::BadResponse("malformed response head")),
    };
    let status = res.code.unwrap_or(0);
    let base = buf.as_ptr() as usize;
    let span = |s: &[u8]| {
        let start = s.as_ptr() as usize - base;
        start as u32..(start + s.len()) as u32
    };
    let mut keep_alive = res.version == Some(1);
    let mut length = None;
    let mut transfer_coded = false;
    let mut chunked = false;
    let mut spans = Vec::with_capacity(res.headers.len());
    for h in res.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            // Two lengths that differ frame the body two ways: whichever one is taken, the bytes
            // after it are read as the next request's answer (RFC 9112 6.3: an error).
            match (crate::http::request::parse_content_length(h.value), length) {
                (None, _) => return Err(UpstreamError::BadResponse("invalid Content-Length")),
                (Some(n), Some(prev)) if n != prev => {
                    return Err(UpstreamError::BadResponse("conflicting Content-Length headers"))
                }
                (n, _) => length = n,
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked framing only when chunked is the final coding; a body coded otherwise ends
            // at the close, whatever a Content-Length says (RFC 9112 6.3).
            transfer_coded = true;
            chunked = h
                .value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|t| crate::http::request::trim_ascii(t).eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for t in h.value.split(|b| *b == b',') {
                let t = crate::http::request::trim_ascii(t);
                if t.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if t.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
        spans.push((span(h.name.as_bytes()), span(h.value)));
    }
    let framing = if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked(ChunkState::Size)
    } else if let Some(n) = length.filter(|_| !transfer_coded) {
        Framing::Length(n)
    } else {
        keep_alive = false;
        Framing::UntilClose
    };
    Ok(Some((n, status, spans, framing, keep_alive)))
}

/// The request head, or `Unsendable` when the path or a header value would break its framing.
/// Every path and value Sluice builds is checked here, whatever built it: the last guard against
/// a client's bytes (a model name in a path, a value copied into a header) ending a line.
fn build_head(origin: &Origin, req: &OutRequest<'_>) -> Result<Vec<u8>, UpstreamError> {
    // A request-target is visible ASCII (RFC 9112 3.2; RFC 3986 has no space or control).
    if req.path.is_empty() || !req.path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UpstreamError::Unsendable("path"));
    }
    // A field value may hold tabs, spaces and obs-text, never CR, LF or NUL (RFC 9110 5.5).
    let bad_value = |v: &[u8]| memchr::memchr3(b'\r', b'\n', 0, v).is_some();
    let bad_name = |n: &str| n.is_empty() || !n.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if req.headers.iter().any(|(n, v)| bad_name(n) || bad_value(v)) {
        return Err(UpstreamError::Unsendable("header"));
    }
    let mut h = Vec::with_capacity(512);
    h.extend_from_slice(req.method.as_bytes());
    h.push(b' ');
    h.extend_from_slice(req.path.as_bytes());
    h.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    h.extend_from_slice(origin.authority.as_bytes());
    // Said outright: a request without `accept-encoding` accepts any coding (RFC 9110 12.5.3).
    h.extend_from_slice(b"\r\naccept-encoding: identity\r\n");
    for (name, value) in req.headers {
        h.extend_from_slice(name.as_bytes());
        h.extend_from_slice(b": ");
        h.extend_from_slice(value);
        h.extend_from_slice(b"\r\n");
    }
    let body_len: usize = req.body.iter().map(Bytes::len).sum();
    if body_len > 0 || req.method == "POST" || req.method == "PUT" {
        h.extend_from_slice(b"content-length: ");
        h.extend_from_slice(itoa::Buffer::new().format(body_len).as_bytes());
        h.extend_from_slice(b"\r\n");
    }
    h.extend_from_slice(b"\r\n");
    Ok(h)
}

/// Opens, in the background, the spares the pool wants for `origin` after a request took one of
/// its connections (see `Pool`). Each spare is its own task on this worker, so it overlaps the
/// request instead of delaying it.
fn open_spares(pool: &Rc<Pool>, origin: &Origin, timeouts: &Timeouts) {
    while pool.wants_spare(&origin.pool_key) {
        let (pool, origin, timeouts) = (pool.clone(), origin.clone(), *timeouts);
        monoio::spawn(async move {
            let conn = connect(&origin, &timeouts).await.ok();
            pool.spare_opened(&origin.pool_key, conn);
        });
    }
}

/// `connect` on the heap: its future (a TLS handshake's state, about 3 KB) would otherwise sit in
/// `send`'s, and so in the state of every open connection's task for as long as it lives, though
/// most requests take a pooled connection and never connect.
async fn connect_boxed(origin: &Origin, timeouts: &Timeouts) -> Result<UpstreamConn, UpstreamError> {
    Box::pin(connect(origin, timeouts)).await
}

async fn connect(origin: &Origin, timeouts: &Timeouts) -> Result<UpstreamConn, UpstreamError> {
    if origin.addrs.is_empty() {
        return Err(UpstreamError::Resolve(origin.host.clone()));
    }
    let mut last = None;
    for addr in &origin.addrs {
        match monoio::time::timeout(timeouts.connect, TcpStream::connect_addr(*addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                if let Some(every) = timeouts.tcp_keepalive {
                    // A peer gone without a FIN or RST (a host down, a NAT or load balancer
                    // that forgot the flow) is found in `every` x 4 instead of at the body or
                    // pool timeout, and a long-silent stream keeps the middleboxes' state alive.
                    let _ = s.set_tcp_keepalive(Some(every), Some(every), Some(KEEPALIVE_PROBES));
                }
                let fd = std::os::fd::AsRawFd::as_raw_fd(&s);
                let io = match &origin.tls_config {
                    None => UpstreamIo::Plain(s),
                    Some(cfg) => {
                        let name = rustls_pki_types::ServerName::try_from(origin.host.clone())
                            .map_err(|_| UpstreamError::Tls(format!("invalid server name {:?}", origin.host)))?;
                        let connector = monoio_rustls::TlsConnector::from(cfg.clone());
                        match monoio::time::timeout(timeouts.connect, connector.connect(name, s)).await {
                            Ok(Ok(t)) => UpstreamIo::Tls(Box::new(t)),
                            Ok(Err(e)) => return Err(UpstreamError::Tls(e.to_string())),
                            Err(_) => return Err(UpstreamError::ConnectTimeout),
                        }
                    }
                };
                return Ok(UpstreamConn {
                    io,
                    fd,
                    rbuf: BytesMut::with_capacity(crate::http::io::READ_CHUNK),
                    pool_key: origin.pool_key.clone(),
                    reused: false,
                    idle_since: Instant::now(),
                });
            }
            Ok(Err(e)) => last = Some(UpstreamError::Connect(e)),
            Err(_) => last = Some(UpstreamError::ConnectTimeout),
        }
    }
    Err(last.unwrap_or(UpstreamError::ConnectTimeout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_head_that_would_break_its_framing_is_not_built() {
        let addr: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
        let origin = Origin {
            tls: false,
            host: "127.0.0.1".into(),
            port: 9,
            authority: addr.to_string(),
            path_prefix: String::new(),
            addrs: vec![addr],
            tls_config: None,
            pool_key: Arc::from("http://127.0.0.1:9"),
        };
        let head = |path: &str, value: &[u8]| {
            let headers: [(&str, &[u8]); 1] = [("x-a", value)];
            build_head(
                &origin,
                &OutRequest {
                    method: "POST",
                    path,
                    headers: &headers,
                    body: &[],
                },
            )
            .map_err(|e| e.to_string())
        };
        let ok = head(
            "/v1beta/models/a%20b:generateContent?alt=sse",
            b"tab\tand obs-text \xff",
        )
        .unwrap();
        assert!(ok.starts_with(b"POST /v1beta/models/a%20b:generateContent?alt=sse HTTP/1.1\r\n"));
        for path in ["/a b", "/a\r\nX: y", "/\u{e9}", "", "/a\tb", "/a\x7f"] {
            let e = head(path, b"v").unwrap_err();
            assert!(e.contains("its path holds a character"), "{path:?}: {e}");
        }
        for value in [&b"a\r\nx-evil: 1"[..], b"a\nb", b"a\0b"] {
            let e = head("/", value).unwrap_err();
            assert!(e.contains("its header holds"), "{e}");
        }
        assert_eq!(UpstreamError::Unsendable("path").status(), 400);
        assert!(!UpstreamError::Unsendable("path").retryable());
    }

    #[test]
    fn parses_chunked_head() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
        let (n, status, spans, framing, ka) = parse_response_head(raw, false).unwrap().unwrap();
        assert_eq!(n, raw.len());
        assert_eq!(status, 200);
        assert_eq!(spans.len(), 2);
        assert!(matches!(framing, Framing::Chunked(_)));
        assert!(ka);
    }

    #[test]
    fn no_length_means_until_close() {
        let raw = b"HTTP/1.1 200 OK\r\n\r\n";
        let (_, _, _, framing, ka) = parse_response_head(raw, false).unwrap().unwrap();
        assert!(matches!(framing, Framing::UntilClose));
        assert!(!ka);
    }

    /// A plain-HTTP origin at a test's listener.
    fn local_origin(addr: std::net::SocketAddr) -> Origin {
        Origin {
            tls: false,
            host: "127.0.0.1".into(),
            port: addr.port(),
            authority: addr.to_string(),
            path_prefix: String::new(),
            addrs: vec![addr],
            tls_config: None,
            pool_key: Arc::from(format!("http://{addr}")),
        }
    }

    fn five_seconds_each(tcp_keepalive: Option<Duration>) -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(5),
            total: Duration::from_secs(5),
            body_idle: None,
            tcp_keepalive,
        }
    }

    /// The connection is idle in the pool as soon as the body's end is read, while the reader
    /// is still alive: the gateway writes its client's last bytes after that, and a client that
    /// sends its next request at once must find the connection free (not open a second one).
    #[test]
    fn connection_is_back_in_the_pool_when_the_end_is_read() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                assert_eq!(s.read(&mut b).unwrap(), 1);
                head.push(b[0]);
            }
            // The last event and the terminating chunk in one write, then the connection stays
            // open (keep-alive) until the client closes it.
            s.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
                .unwrap();
            let _ = s.read(&mut b);
        });
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async move {
            let pool = Rc::new(Pool::new(
                4,
                Duration::from_secs(30),
                crate::metrics::WorkerMetrics::register(),
            ));
            let origin = local_origin(addr);
            let timeouts = five_seconds_each(None);
            let req = OutRequest {
                method: "GET",
                path: "/",
                headers: &[],
                body: &[],
            };
            let mut resp = send(&pool, &origin, &timeouts, &req).await.unwrap();
            assert_eq!(resp.body.next().await.unwrap().as_deref(), Some(&b"hello"[..]));
            assert_eq!(pool.idle_count(&origin.pool_key), 0, "checked in before the end");
            assert!(resp.body.next().await.unwrap().is_none());
            assert!(resp.body.is_done());
            assert_eq!(pool.idle_count(&origin.pool_key), 1, "not back in the pool at the end");
            drop(resp);
            assert_eq!(
                pool.idle_count(&origin.pool_key),
                1,
                "checked in twice, or lost at drop"
            );
            pool.checkout(&origin.pool_key).expect("the pooled connection");
        });
        upstream.join().unwrap();
    }

    /// `upstream.tcp_keepalive_ms` reaches the kernel: probes after that much silence, then at
    /// that interval, `KEEPALIVE_PROBES` of them; none when it is off.
    #[test]
    fn upstream_connections_get_the_configured_tcp_keepalive() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let origin = local_origin(addr);
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        for keepalive in [Some(Duration::from_secs(45)), None] {
            let timeouts = five_seconds_each(keepalive);
            let conn = rt.block_on(connect(&origin, &timeouts)).unwrap();
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(conn.fd) };
            let sock = socket2::SockRef::from(&fd);
            assert_eq!(sock.keepalive().unwrap(), keepalive.is_some());
            if let Some(every) = keepalive {
                assert_eq!(sock.keepalive_time().unwrap(), every);
                assert_eq!(sock.keepalive_interval().unwrap(), every);
                assert_eq!(sock.keepalive_retries().unwrap(), KEEPALIVE_PROBES);
            }
            drop(conn);
            drop(listener.accept().unwrap());
        }
    }

    /// A head whose framing two readers could read two ways is refused, or read the one way
    /// RFC 9112 6.3 allows: a wrong guess reads the rest of the body as the next request's answer.
    #[test]
    fn ambiguous_response_framing_is_refused_or_read_as_the_rfc_says() {
        let framing = |headers: &str| {
            let raw = format!("HTTP/1.1 200 OK\r\n{headers}\r\n");
            parse_response_head(raw.as_bytes(), false).map(|h| {
                let (_, _, _, framing, keep_alive) = h.unwrap();
                let framing = match framing {
                    Framing::Length(n) => format!("length {n}"),
                    Framing::Chunked(_) => "chunked".into(),
                    Framing::UntilClose => "until close".into(),
                };
                (framing, keep_alive)
            })
        };
        assert!(framing("content-length: 5\r\ncontent-length: 50\r\n").is_err());
        let read = |headers| framing(headers).unwrap();
        assert_eq!(
            read("content-length: 5\r\ncontent-length: 5\r\n"),
            ("length 5".into(), true)
        );
        assert_eq!(read("transfer-encoding: gzip, chunked\r\n"), ("chunked".into(), true));
        // Chunked but not last: the body ends at the close, its length header ignored.
        for headers in [
            "transfer-encoding: chunked, gzip\r\n",
            "transfer-encoding: gzip\r\ncontent-length: 5\r\n",
            "transfer-encoding: chunked\r\ntransfer-encoding: gzip\r\n",
        ] {
            assert_eq!(read(headers), ("until close".into(), false), "{headers}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_response_head(b"\x00\x01garbage\r\n\r\n", false).is_err());
        assert!(parse_response_head(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", false).is_err());
    }
}
