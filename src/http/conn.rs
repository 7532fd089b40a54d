//! A client connection: the socket, its read buffer and a reusable write buffer.
//!
//! Response writers live here so every response leaves through one place: a full response is one
//! write (head and small body in one buffer), a large body is written from its own `Bytes`
//! without a copy, and a streamed response is chunk-framed with one write per chunk.

use super::drain::{stream_stopped, Drain, StreamStop, StreamsCut};
use super::io::write_all;
use super::request::Limits;
use bytes::{Bytes, BytesMut};
use monoio::io::Canceller;
use monoio::net::TcpStream;
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::rc::Rc;

/// Bodies up to this size are copied next to the head so the response is a single write.
const INLINE_BODY: usize = 16 * 1024;

/// A new connection's write buffer: it grows to the largest head or piece written.
const WRITE_BUFFER_START: usize = 256;

/// The largest write buffer a connection keeps from one request to the next (heads and the
/// small answers inlined with them fit). One grown past it by a large answer or stream event
/// starts again small: an idle keep-alive connection would otherwise hold its largest answer's
/// size for as long as it stays open.
const KEEP_WRITE_BUFFER: usize = 8 * 1024;

pub struct Conn {
    pub io: TcpStream,
    pub rbuf: BytesMut,
    /// Cancels a read that waited too long without losing what it read (`read_more_within`).
    pub canceller: Canceller,
    wbuf: Vec<u8>,
    pub limits: Limits,
    drain: Rc<Drain>,
    /// Set once a response head has been written for the current request.
    pub response_started: bool,
    /// Current response is chunk-framed (HTTP/1.1) rather than close-delimited (HTTP/1.0).
    chunked: bool,
    /// The connection must close after the current response.
    pub close_after: bool,
    /// The current request is HEAD: responses carry headers (with the real length) but no body.
    pub head_request: bool,
    /// The current request is HTTP/1.0: a response that keeps the connection says so, since
    /// persistence is not HTTP/1.0's default (RFC 9112 9.3, C.2.2).
    pub http10: bool,
    /// Status of the last response head written (for metrics when a stream fails mid-way).
    pub status_sent: u16,
    /// Head lines every response to the current request carries (CORS), written as they are;
    /// cleared for each request.
    pub extra_head: Vec<u8>,
}

/// A response header: name and value written verbatim.
pub type Header<'a> = (&'a str, &'a [u8]);

impl Conn {
    pub fn new(io: TcpStream, limits: Limits, drain: Rc<Drain>) -> Conn {
        Conn {
            io,
            rbuf: BytesMut::with_capacity(super::io::READ_CHUNK),
            canceller: Canceller::new(),
            // Grows to the largest head or chunk written, then is reused (up to
            // `KEEP_WRITE_BUFFER`); small to start, since every open connection holds one.
            wbuf: Vec::with_capacity(WRITE_BUFFER_START),
            limits,
            drain,
            response_started: false,
            chunked: false,
            close_after: false,
            head_request: false,
            http10: false,
            status_sent: 0,
            extra_head: Vec::new(),
        }
    }

    /// The socket alone, for a connection parked while idle (`server::park`): its buffers and
    /// the rest go.
    pub fn into_io(self) -> TcpStream {
        self.io
    }

    /// The socket's fd, for watching the peer while a response streams.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.io)
    }

    pub fn draining(&self) -> bool {
        self.drain.draining()
    }

    /// Resolves when the worker's drain timeout runs out (`http::drain`).
    pub fn streams_cut(&self) -> StreamsCut {
        self.drain.streams_cut()
    }

    /// Resolves when this connection's stream must stop: its client hung up, or the worker's
    /// drain timeout ran out (`drain::StreamStop`). Made once per stream and kept pinned.
    pub fn stream_stopped(&self) -> impl Future<Output = StreamStop> + 'static {
        stream_stopped(self.raw_fd(), self.drain.streams_cut())
    }

    pub async fn write_raw(&mut self, data: &'static [u8]) -> io::Result<()> {
        write_all(&mut self.io, data).await.0
    }

    fn head(&mut self, status: u16, headers: &[Header<'_>], body_len: Option<usize>, keep_alive: bool) {
        self.status_sent = status;
        let w = &mut self.wbuf;
        w.clear();
        w.extend_from_slice(b"HTTP/1.1 ");
        let mut num = itoa::Buffer::new();
        w.extend_from_slice(num.format(status).as_bytes());
        w.push(b' ');
        w.extend_from_slice(reason(status).as_bytes());
        w.extend_from_slice(b"\r\ndate: ");
        push_http_date(w);
        w.extend_from_slice(b"\r\n");
        for (name, value) in headers {
            w.extend_from_slice(name.as_bytes());
            w.extend_from_slice(b": ");
            w.extend_from_slice(value);
            w.extend_from_slice(b"\r\n");
        }
        w.extend_from_slice(&self.extra_head);
        match body_len {
            // A 204 carries no body and no length (RFC 9110 8.6).
            Some(_) if status == 204 => {}
            Some(n) => {
                w.extend_from_slice(b"content-length: ");
                w.extend_from_slice(num.format(n).as_bytes());
                w.extend_from_slice(b"\r\n");
            }
            None if self.chunked => w.extend_from_slice(b"transfer-encoding: chunked\r\n"),
            None => {}
        }
        if !keep_alive {
            w.extend_from_slice(b"connection: close\r\n");
        } else if self.http10 {
            w.extend_from_slice(b"connection: keep-alive\r\n");
        }
        w.extend_from_slice(b"\r\n");
    }

    /// Writes a complete response. `keep_alive` false adds `connection: close`.
    pub async fn send_full(
        &mut self,
        status: u16,
        headers: &[Header<'_>],
        body: Bytes,
        keep_alive: bool,
    ) -> io::Result<()> {
        let keep_alive = keep_alive && !self.close_after && !self.draining();
        if !keep_alive {
            self.close_after = true;
        }
        self.chunked = false;
        self.head(status, headers, Some(body.len()), keep_alive);
        self.response_started = true;
        if self.head_request {
            return self.flush().await;
        }
        if body.len() <= INLINE_BODY {
            self.wbuf.extend_from_slice(&body);
            self.flush().await
        } else {
            self.flush().await?;
            write_all(&mut self.io, body).await.0
        }
    }

    /// Starts a streamed response. HTTP/1.1 clients get chunked framing; HTTP/1.0 clients get a
    /// close-delimited body.
    pub async fn start_stream(&mut self, status: u16, headers: &[Header<'_>], http10: bool) -> io::Result<()> {
        self.start_stream_with::<&[u8]>(status, headers, http10, &[], false)
            .await
    }

    /// `start_stream` with the body's first piece, given in parts, as one chunk in the same
    /// write: one packet and one wake-up of the client instead of two, for a stream whose head
    /// waits for its first event anyway. `end`: that piece is also the last, and the body's end
    /// goes in the same write.
    pub async fn start_stream_with<B: AsRef<[u8]>>(
        &mut self,
        status: u16,
        headers: &[Header<'_>],
        http10: bool,
        first: &[B],
        end: bool,
    ) -> io::Result<()> {
        self.chunked = !http10;
        if http10 {
            self.close_after = true;
        }
        let keep_alive = !self.close_after && !self.draining();
        if !keep_alive {
            self.close_after = true;
        }
        self.head(status, headers, None, keep_alive);
        self.response_started = true;
        // A HEAD's answer is the head alone (RFC 9110 9.3.2), whatever the body would be.
        if !self.head_request {
            self.push_parts(first);
            if end {
                self.push_end();
            }
        }
        self.flush().await
    }

    /// Writes one piece of a streamed body at once (no coalescing: every event is flushed).
    pub async fn send_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        self.send_chunk_parts(&[data], false).await
    }

    /// Writes the last piece of a streamed body and the body's end in one write (one packet,
    /// one wake-up of the client, instead of `send_chunk` then `end_stream`).
    pub async fn send_last_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        self.send_chunk_parts(&[data], true).await
    }

    /// The body's end marker (chunked framing only: a close-delimited body ends with the close).
    fn push_end(&mut self) {
        if self.chunked {
            self.wbuf.extend_from_slice(b"0\r\n\r\n");
        }
    }

    /// Writes pieces that arrived together as one chunk, in one write (each byte is copied once,
    /// into the write buffer). `last`: the body's end goes in the same write. Nothing is written
    /// for empty pieces that do not end the body, nor for a HEAD.
    pub async fn send_chunk_parts<B: AsRef<[u8]>>(&mut self, parts: &[B], last: bool) -> io::Result<()> {
        if self.head_request {
            return Ok(());
        }
        self.wbuf.clear();
        self.push_parts(parts);
        if last {
            self.push_end();
        }
        self.flush().await
    }

    /// Appends pieces to the write buffer as one chunk of the body (nothing if all are empty:
    /// an empty chunk would be the end marker).
    fn push_parts<B: AsRef<[u8]>>(&mut self, parts: &[B]) {
        let total: usize = parts.iter().map(|p| p.as_ref().len()).sum();
        if total == 0 {
            return;
        }
        let w = &mut self.wbuf;
        if self.chunked {
            push_hex(w, total);
            w.extend_from_slice(b"\r\n");
        }
        for p in parts {
            w.extend_from_slice(p.as_ref());
        }
        if self.chunked {
            w.extend_from_slice(b"\r\n");
        }
    }

    /// Writes the write buffer out, if it holds anything.
    async fn flush(&mut self) -> io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let w = std::mem::take(&mut self.wbuf);
        let (res, w) = write_all(&mut self.io, w).await;
        self.wbuf = w;
        res
    }

    /// Gives the read buffer's memory back while a long response streams (a stream can last
    /// minutes, and an idle 4 KiB per open stream adds up); the next request allocates a fresh
    /// one. Bytes already buffered (a pipelined request) keep it.
    pub fn release_read_buffer(&mut self) {
        if self.rbuf.is_empty() {
            self.rbuf = bytes::BytesMut::new();
        }
    }

    /// Called once a request is answered: a write buffer grown past `KEEP_WRITE_BUFFER` is not
    /// kept for the next request.
    pub fn answered(&mut self) {
        if self.wbuf.capacity() > KEEP_WRITE_BUFFER {
            self.wbuf = Vec::with_capacity(WRITE_BUFFER_START);
        }
    }

    /// Drops whatever a failed handler left half-written in the write buffer, so an error answer
    /// written next starts clean.
    pub fn discard_unsent(&mut self) {
        self.wbuf.clear();
    }

    /// Ends a streamed body.
    pub async fn end_stream(&mut self) -> io::Result<()> {
        if self.chunked && !self.head_request {
            self.write_raw(b"0\r\n\r\n").await?;
        }
        Ok(())
    }
}

/// Appends the current time as an HTTP date (IMF-fixdate, RFC 9110 5.6.7), which every answer
/// of a server with a clock carries (6.6.1). Formatted once a second per worker thread: an
/// answer pays a clock read and a 29-byte copy.
fn push_http_date(w: &mut Vec<u8>) {
    thread_local! {
        static LAST: Cell<(u64, [u8; 29])> = const { Cell::new((u64::MAX, [0; 29])) };
    }
    let now = std::time::SystemTime::now();
    let secs = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    LAST.with(|last| {
        let (at, mut text) = last.get();
        if at != secs {
            // Always 29 bytes for the years 1970 to 9999.
            let formatted = httpdate::fmt_http_date(now);
            if let Ok(t) = <[u8; 29]>::try_from(formatted.as_bytes()) {
                text = t;
            }
            last.set((secs, text));
        }
        w.extend_from_slice(&text);
    });
}

fn push_hex(w: &mut Vec<u8>, mut n: usize) {
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b"0123456789abcdef"[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    w.extend_from_slice(&tmp[i..]);
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        402 => "Payment Required",
        410 => "Gone",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Entity",
        424 => "Failed Dependency",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Overloaded",
        _ => "Unknown",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What a client reads from a connection after `f` wrote to it and the connection closed,
    /// less each head's `date` line (checked there, right after the status line: its value
    /// changes every second).
    pub(crate) fn written(f: impl AsyncFnOnce(&mut Conn) + 'static) -> String {
        let raw = written_raw(f);
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw.as_str();
        while let Some(at) = rest.find("HTTP/1.1 ") {
            let line_end = at + rest[at..].find("\r\n").expect("a status line") + 2;
            out.push_str(&rest[..line_end]);
            let date = &rest[line_end..];
            assert!(
                date.starts_with("date: ") && date.get(35..37) == Some("\r\n"),
                "no date after the status line: {raw:?}"
            );
            rest = &date[37..];
        }
        out.push_str(rest);
        out
    }

    fn written_raw(f: impl AsyncFnOnce(&mut Conn) + 'static) -> String {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        });
        let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = monoio::net::TcpListener::from_std(listener).unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            let mut conn = Conn::new(stream, Limits::default(), Rc::default());
            f(&mut conn).await;
            // As `serve_conn` ends a connection (a drop alone leaves the close to a ring that
            // this test stops at once).
            let _ = monoio::io::AsyncWriteRent::shutdown(&mut conn.io).await;
        });
        client.join().unwrap()
    }

    #[test]
    fn a_stream_can_start_with_its_first_chunk() {
        let ct: &[u8] = b"text/event-stream";
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        let got = written(async move |c: &mut Conn| {
            let first = b"data: 1\n\n";
            c.start_stream_with(200, &[("content-type", ct)], false, &[first], false)
                .await
                .unwrap();
            c.send_chunk(b"data: 2\n\n").await.unwrap();
            c.send_last_chunk(b"data: 3\n\n").await.unwrap();
        });
        let body = "9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n9\r\ndata: 3\n\n\r\n0\r\n\r\n";
        assert_eq!(got, format!("{head}{body}"));
        // HTTP/1.0: no chunk framing, and the connection closes at the end.
        let got = written(async move |c: &mut Conn| {
            c.start_stream_with(200, &[("content-type", ct)], true, &[b"data: 1\n\n"], true)
                .await
                .unwrap();
        });
        assert_eq!(
            got,
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: 1\n\n"
        );
        // Nothing for a first piece: the head alone, as `start_stream` writes it.
        let got = written(async move |c: &mut Conn| {
            c.start_stream_with::<&[u8]>(200, &[("content-type", ct)], false, &[], false)
                .await
                .unwrap();
        });
        assert_eq!(got, head);
        // A whole stream in one write; parts that end a body.
        let got = written(async move |c: &mut Conn| {
            c.start_stream_with(200, &[("content-type", ct)], false, &[b"data: 1\n\n"], true)
                .await
                .unwrap();
        });
        assert_eq!(got, format!("{head}9\r\ndata: 1\n\n\r\n0\r\n\r\n"));
        let got = written(async move |c: &mut Conn| {
            c.start_stream(200, &[("content-type", ct)], false).await.unwrap();
            let parts = [Bytes::from_static(b"data: "), Bytes::from_static(b"[DONE]\n\n")];
            c.send_chunk_parts(&parts, true).await.unwrap();
        });
        assert_eq!(got, format!("{head}e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"));
        let got = written(async move |c: &mut Conn| {
            let parts = [Bytes::from_static(b"data: 1\n\n"), Bytes::from_static(b"data: 2\n\n")];
            c.start_stream_with(200, &[("content-type", ct)], false, &parts, false)
                .await
                .unwrap();
            c.end_stream().await.unwrap();
        });
        assert_eq!(got, format!("{head}12\r\ndata: 1\n\ndata: 2\n\n\r\n0\r\n\r\n"));
    }

    #[test]
    fn a_write_buffer_grown_by_a_large_answer_is_not_kept_for_the_next_request() {
        let json: &[u8] = b"application/json";
        let got = written(async move |c: &mut Conn| {
            // A small answer: the buffer it grew is kept, the next answer reuses it as it is.
            c.send_full(200, &[("content-type", json)], Bytes::from(vec![b's'; 1000]), true)
                .await
                .unwrap();
            let (kept, capacity) = (c.wbuf.as_ptr(), c.wbuf.capacity());
            c.answered();
            assert_eq!((c.wbuf.as_ptr(), c.wbuf.capacity()), (kept, capacity));
            // A large one, inlined with its head: the buffer grew to hold it, and is not kept.
            c.send_full(200, &[("content-type", json)], Bytes::from(vec![b'l'; 12 * 1024]), true)
                .await
                .unwrap();
            assert!(c.wbuf.capacity() > 12 * 1024);
            c.answered();
            assert!(c.wbuf.capacity() <= WRITE_BUFFER_START, "{}", c.wbuf.capacity());
            // And it still answers.
            c.send_full(200, &[("content-type", json)], Bytes::from_static(b"{}"), false)
                .await
                .unwrap();
        });
        let answers: Vec<&str> = got.split("HTTP/1.1 200 OK\r\n").skip(1).collect();
        assert_eq!(answers.len(), 3, "{got:.200}");
        assert!(answers[0].ends_with(&"s".repeat(1000)) && answers[1].ends_with(&"l".repeat(12 * 1024)));
        assert!(answers[2]
            .starts_with("content-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"));
    }

    #[test]
    fn a_streamed_answer_to_a_head_is_its_head_alone() {
        let ct: &[u8] = b"text/event-stream";
        let got = written(async move |c: &mut Conn| {
            c.head_request = true;
            c.start_stream_with(200, &[("content-type", ct)], false, &[b"data: 1\n\n"], false)
                .await
                .unwrap();
            c.send_chunk(b"data: 2\n\n").await.unwrap();
            c.send_last_chunk(b"data: 3\n\n").await.unwrap();
            c.end_stream().await.unwrap();
        });
        assert_eq!(
            got,
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        );
    }

    #[test]
    fn statuses_sluice_answers_with_have_their_reason_phrase() {
        // 414 and 415 are Sluice's own refusals; 402, 410 and 424 are providers' (Anthropic's
        // billing error, Bedrock's model error), relayed with their status.
        for status in [402, 408, 410, 413, 414, 415, 424, 431, 529] {
            assert_ne!(reason(status), "Unknown", "{status}");
        }
    }

    #[test]
    fn answers_carry_the_current_date_formatted_as_http_wants() {
        let mut w = Vec::new();
        push_http_date(&mut w);
        let text = std::str::from_utf8(&w).unwrap();
        assert_eq!(text.len(), 29, "{text}");
        assert!(text.ends_with(" GMT"), "{text}");
        let when = httpdate::parse_http_date(text).unwrap();
        let now = std::time::SystemTime::now();
        let off = now.duration_since(when).unwrap_or_else(|e| e.duration());
        assert!(off < std::time::Duration::from_secs(2), "{text}");
    }

    #[test]
    fn hex_chunk_sizes() {
        for (n, s) in [(0usize, "0"), (9, "9"), (10, "a"), (255, "ff"), (4096, "1000")] {
            let mut w = Vec::new();
            push_hex(&mut w, n);
            assert_eq!(w, s.as_bytes());
        }
    }
}
