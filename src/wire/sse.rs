//! Server-Sent Events framing: an incremental decoder and the one encoding every SDK accepts.
//!
//! Wire layer: bytes in, events out (and events in, bytes out); no IO, no async, no JSON.
//! The decoder follows the WHATWG field rules the OpenAI, Anthropic and Cohere SDKs use
//! (PROTOCOLS 1.1); the encoder writes only the conservative form of PROTOCOLS 1.3.
//!
//! Rule: the decoder gives the same events for any split of the input across reads, and an
//! event that arrived inside one read is returned as slices of that read (no copy, no
//! allocation), so the same-format passthrough can forward `raw` unchanged. Only an event that
//! straddles reads is copied, once, into an internal buffer.

use std::collections::VecDeque;
use std::fmt;

use bytes::{Bytes, BytesMut};
use memchr::{memchr, memchr2};

/// Default cap on one event's raw size; bounds the buffer a stalled or hostile upstream can grow.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// One dispatched event. Every field is a slice of `raw` unless `data` had several lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// Value of the last `event:` line, if any (may be empty).
    pub event: Option<Bytes>,
    /// The `data:` lines joined with `\n`; empty when the event had none.
    pub data: Bytes,
    /// Value of the last `id:` line of this event, unless it contained NUL.
    pub id: Option<Bytes>,
    /// Value of the last `retry:` line that was all ASCII digits and fits in a u64.
    pub retry: Option<u64>,
    /// The event's bytes as received, from its first line (comments included) through its
    /// terminating blank line. A CRLF blank line split between two reads ends at the CR.
    pub raw: Bytes,
}

impl SseEvent {
    /// True for the OpenAI end-of-stream sentinel; the SDK stops at data that *starts with*
    /// `[DONE]` (PROTOCOLS 2.4 rule 1), so we match the same way.
    pub fn is_done(&self) -> bool {
        self.data.starts_with(b"[DONE]")
    }
}

/// Why the decoder gave up. The decoder stays failed: framing cannot be recovered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SseError {
    /// One event grew past the configured limit before its blank line arrived.
    EventTooLarge { limit: usize },
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseError::EventTooLarge { limit } => {
                write!(f, "SSE event larger than {limit} bytes")
            }
        }
    }
}

impl std::error::Error for SseError {}

/// What the last line terminator seen at the very end of a read was, so that an LF opening the
/// next read is taken as the second half of a CRLF and counted once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PendingCr {
    None,
    /// The CR ended a non-blank line: a following LF is part of the current event.
    InEvent,
    /// The CR ended the blank line that dispatched an event: a following LF is dropped.
    AfterEvent,
}

/// Incremental SSE decoder: `push` reads as they arrive, drain `next_event` after each push,
/// and call `finish` at end of input for an event the stream did not close with a blank line.
#[derive(Debug)]
pub struct SseDecoder {
    /// Pushed reads not yet fully scanned; the front one is being scanned.
    queue: VecDeque<Bytes>,
    /// Scan position in the front read.
    pos: usize,
    /// Where the current event's bytes begin in the front read.
    start: usize,
    /// The current event's bytes from reads already scanned (only when it straddles reads).
    carry: BytesMut,
    /// No byte other than a line terminator seen on the current line yet.
    line_empty: bool,
    pending_cr: PendingCr,
    /// Bytes that may be a BOM split across the first reads; `None` once decided.
    bom: Option<([u8; 3], usize)>,
    max_event_bytes: usize,
    failed: bool,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder with the default 1 MiB event limit.
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A decoder that fails once one event's raw bytes exceed `max_event_bytes` (not counting
    /// the LF of a CRLF blank line, which may arrive in a later read).
    pub fn with_max_event_bytes(max_event_bytes: usize) -> Self {
        SseDecoder {
            queue: VecDeque::new(),
            pos: 0,
            start: 0,
            carry: BytesMut::new(),
            line_empty: true,
            pending_cr: PendingCr::None,
            bom: Some(([0; 3], 0)),
            max_event_bytes,
            failed: false,
        }
    }

    /// Queues one read. Events lying wholly inside it will be returned as slices of it.
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() || self.failed {
            return;
        }
        let chunk = match self.bom.take() {
            None => chunk,
            Some((mut held, have)) => {
                let take = (BOM.len() - have).min(chunk.len());
                if chunk[..take] != BOM[have..have + take] {
                    // Not a BOM after all: what was held is ordinary input.
                    if have > 0 {
                        self.queue.push_back(Bytes::copy_from_slice(&held[..have]));
                    }
                    chunk
                } else if have + take == BOM.len() {
                    let rest = chunk.slice(take..);
                    if rest.is_empty() {
                        return;
                    }
                    rest
                } else {
                    // A read shorter than the BOM: hold it until we can decide.
                    held[have..have + take].copy_from_slice(&chunk[..take]);
                    self.bom = Some((held, have + take));
                    return;
                }
            }
        };
        self.queue.push_back(chunk);
    }

    /// Copies `input` and queues it; for callers that do not hold a `Bytes`.
    pub fn push_slice(&mut self, input: &[u8]) {
        self.push(Bytes::copy_from_slice(input));
    }

    /// The next complete event, `Ok(None)` when more input is needed.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, SseError> {
        if self.failed {
            return Err(self.too_large());
        }
        while let Some(raw) = self.next_block()? {
            if let Some(event) = parse_block(raw) {
                return Ok(Some(event));
            }
        }
        Ok(None)
    }

    /// At end of input: returns the remaining complete events, then the last event if the
    /// stream ended without its blank line (google-genai flushes it, so we do too), then `None`.
    pub fn finish(&mut self) -> Result<Option<SseEvent>, SseError> {
        if let Some(event) = self.next_event()? {
            return Ok(Some(event));
        }
        // The stream ended inside a possible BOM, so those bytes were content.
        if let Some((held, have)) = self.bom.take() {
            self.carry.extend_from_slice(&held[..have]);
        }
        // next_event returned None, so every queued read is now in `carry`.
        let raw = self.carry.split().freeze();
        self.line_empty = true;
        self.pending_cr = PendingCr::None;
        Ok(parse_block(raw))
    }

    fn too_large(&self) -> SseError {
        SseError::EventTooLarge {
            limit: self.max_event_bytes,
        }
    }

    fn fail(&mut self) -> SseError {
        self.failed = true;
        self.queue.clear();
        self.carry = BytesMut::new();
        self.too_large()
    }

    /// Finds the next run of lines ending in a blank line and returns its bytes: a slice of
    /// one read when it lies inside it, else a copy assembled in `carry`.
    fn next_block(&mut self) -> Result<Option<Bytes>, SseError> {
        while let Some(chunk) = self.queue.front() {
            let bytes = &chunk[..];
            let len = bytes.len();
            let mut i = self.pos;
            if i < len && self.pending_cr != PendingCr::None {
                if bytes[i] == b'\n' {
                    i += 1;
                    if self.pending_cr == PendingCr::AfterEvent {
                        self.start = i;
                    }
                }
                self.pending_cr = PendingCr::None;
            }
            // Where the event ends, and where it ends for the size limit: through the first byte
            // of its blank line's terminator, so that the LF of a CRLF counts the same whether
            // it arrives in this read or the next one.
            let mut end = None;
            while i < len {
                let Some(off) = memchr2(b'\r', b'\n', &bytes[i..]) else {
                    // The rest of the read is the start of a line.
                    self.line_empty = false;
                    break;
                };
                let at = i + off;
                let blank = off == 0 && self.line_empty;
                let mut next = at + 1;
                let mut cr_at_end = false;
                if bytes[at] == b'\r' {
                    if next == len {
                        cr_at_end = true;
                    } else if bytes[next] == b'\n' {
                        next += 1;
                    }
                }
                self.line_empty = true;
                i = next;
                if blank {
                    if cr_at_end {
                        self.pending_cr = PendingCr::AfterEvent;
                    }
                    end = Some((next, at + 1));
                    break;
                }
                if cr_at_end {
                    self.pending_cr = PendingCr::InEvent;
                }
            }
            match end {
                Some((end, measured_end)) => {
                    let size = self.carry.len() + (measured_end - self.start);
                    if size > self.max_event_bytes {
                        return Err(self.fail());
                    }
                    let raw = if self.carry.is_empty() {
                        chunk.slice(self.start..end)
                    } else {
                        self.carry.extend_from_slice(&bytes[self.start..end]);
                        self.carry.split().freeze()
                    };
                    self.pos = end;
                    self.start = end;
                    if end == len {
                        self.queue.pop_front();
                        self.pos = 0;
                        self.start = 0;
                    }
                    return Ok(Some(raw));
                }
                None => {
                    // NOTE: the only copy: an event that straddles reads.
                    if self.carry.len() + (len - self.start) > self.max_event_bytes {
                        return Err(self.fail());
                    }
                    self.carry.extend_from_slice(&bytes[self.start..]);
                    self.queue.pop_front();
                    self.pos = 0;
                    self.start = 0;
                }
            }
        }
        Ok(None)
    }
}

/// Applies the WHATWG field rules to one block of lines; `None` when the block set no field
/// (blank lines, comments only), which dispatches nothing.
fn parse_block(raw: Bytes) -> Option<SseEvent> {
    let b = &raw[..];
    let mut event = None;
    let mut id = None;
    let mut retry = None;
    let mut data_lines = 0usize;
    let mut data = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    let mut p = 0;
    while p < b.len() {
        let (line_end, next) = match memchr2(b'\r', b'\n', &b[p..]) {
            Some(off) => {
                let at = p + off;
                let crlf = b[at] == b'\r' && b.get(at + 1) == Some(&b'\n');
                (at, if crlf { at + 2 } else { at + 1 })
            }
            None => (b.len(), b.len()),
        };
        let line = &b[p..line_end];
        if line.is_empty() {
            break;
        }
        if line[0] != b':' {
            let (name, mut value_start) = match memchr(b':', line) {
                Some(colon) => (&line[..colon], p + colon + 1),
                None => (line, line_end),
            };
            // Exactly one leading space is part of the separator, not the value.
            if value_start < line_end && b[value_start] == b' ' {
                value_start += 1;
            }
            let value = &b[value_start..line_end];
            match name {
                b"data" => {
                    data_lines += 1;
                    if data_lines == 1 {
                        data = raw.slice(value_start..line_end);
                    } else {
                        let buf = joined.get_or_insert_with(|| {
                            let mut buf = BytesMut::with_capacity(data.len() + 1 + value.len());
                            buf.extend_from_slice(&data);
                            buf
                        });
                        buf.extend_from_slice(b"\n");
                        buf.extend_from_slice(value);
                    }
                }
                b"event" => event = Some(raw.slice(value_start..line_end)),
                b"id" if memchr(0, value).is_none() => {
                    id = Some(raw.slice(value_start..line_end));
                }
                b"retry" => {
                    if let Some(ms) = parse_retry(value) {
                        retry = Some(ms);
                    }
                }
                _ => {}
            }
        }
        p = next;
    }
    if let Some(buf) = joined {
        data = buf.freeze();
    }
    // NOTE: `id` counts only within its own event; the SDKs keep it across events and then
    // dispatch an empty event on every later blank line (PROTOCOLS 1.2), which helps no one.
    if event.is_none() && data_lines == 0 && id.is_none() && retry.is_none() {
        return None;
    }
    Some(SseEvent {
        event,
        data,
        id,
        retry,
        raw,
    })
}

fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &c| {
        if c.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))
        } else {
            None
        }
    })
}

/// Line terminator written by the encoder; Gemini streams use CRLF (PROTOCOLS 4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineEnd {
    Lf,
    CrLf,
}

impl LineEnd {
    fn as_bytes(self) -> &'static [u8] {
        match self {
            LineEnd::Lf => b"\n",
            LineEnd::CrLf => b"\r\n",
        }
    }
}

/// Appends one event in the form every SDK accepts (PROTOCOLS 1.3): optional `event: <name>`,
/// `data: <data>`, blank line; LF line ends, no BOM, no `id`, no `retry`.
pub fn encode_event(out: &mut Vec<u8>, event: Option<&str>, data: &[u8]) {
    encode_event_with(out, event, data, LineEnd::Lf);
}

/// As [`encode_event`] with CRLF line ends, as Google sends.
pub fn encode_event_crlf(out: &mut Vec<u8>, event: Option<&str>, data: &[u8]) {
    encode_event_with(out, event, data, LineEnd::CrLf);
}

/// As [`encode_event`] with the given line end. Data holding line breaks (CR, LF or CRLF) is
/// written as several `data:` lines, which every decoder joins back with `\n`; compact JSON
/// has none, so the usual output is exactly one `data:` line.
pub fn encode_event_with(out: &mut Vec<u8>, event: Option<&str>, data: &[u8], line_end: LineEnd) {
    let nl = line_end.as_bytes();
    if let Some(name) = event {
        out.extend_from_slice(b"event: ");
        // A line break in the name would end the field early and corrupt the framing.
        out.extend(name.bytes().filter(|&c| c != b'\r' && c != b'\n'));
        out.extend_from_slice(nl);
    }
    let mut rest = data;
    loop {
        out.extend_from_slice(b"data: ");
        match memchr2(b'\r', b'\n', rest) {
            None => {
                out.extend_from_slice(rest);
                out.extend_from_slice(nl);
                break;
            }
            Some(at) => {
                out.extend_from_slice(&rest[..at]);
                out.extend_from_slice(nl);
                let crlf = rest[at] == b'\r' && rest.get(at + 1) == Some(&b'\n');
                rest = &rest[at + if crlf { 2 } else { 1 }..];
            }
        }
    }
    out.extend_from_slice(nl);
}

/// Rewrites raw U+2028, U+2029 and U+0085 in `json` as `\u2028`, `\u2029`, `\u0085`, which
/// google-genai 1.x would otherwise treat as line breaks (PROTOCOLS 1.3). These characters can
/// only occur inside JSON strings, where the escape means the same thing.
///
/// Returns `false` and leaves `out` untouched when `json` holds none of them (the common case:
/// use `json` as it is); otherwise appends the escaped copy to `out` and returns `true`.
pub fn escape_js_line_separators(json: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(first) = find_separator(json, 0) else {
        return false;
    };
    out.reserve(json.len() + 8);
    let mut copied = 0;
    let mut at = Some(first);
    while let Some((pos, len, escape)) = at {
        out.extend_from_slice(&json[copied..pos]);
        out.extend_from_slice(escape);
        copied = pos + len;
        at = find_separator(json, copied);
    }
    out.extend_from_slice(&json[copied..]);
    true
}

/// Next separator at or after `from`: (position, encoded length, escape to write).
fn find_separator(json: &[u8], from: usize) -> Option<(usize, usize, &'static [u8])> {
    let mut i = from;
    while i < json.len() {
        let at = i + memchr2(0xE2, 0xC2, &json[i..])?;
        let rest = &json[at..];
        if rest.starts_with(&[0xE2, 0x80, 0xA8]) {
            return Some((at, 3, b"\\u2028"));
        }
        if rest.starts_with(&[0xE2, 0x80, 0xA9]) {
            return Some((at, 3, b"\\u2029"));
        }
        if rest.starts_with(&[0xC2, 0x85]) {
            return Some((at, 2, b"\\u0085"));
        }
        i = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OPENAI: &str = include_str!("fixtures/openai_chat_stream.sse");
    const ANTHROPIC: &str = include_str!("fixtures/anthropic_messages_stream.sse");
    /// PROTOCOLS 4.4, with the CRLF line ends Google sends.
    const GEMINI_CRLF: &str = concat!(
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":4,\"totalTokenCount\":4},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"abc123\"}\r\n",
        "\r\n",
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"lo\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":2,\"totalTokenCount\":6,\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":4}]},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"abc123\"}\r\n",
        "\r\n",
    );
    const LONE_CR: &str = "event: a\rdata: {\"x\":1}\r\rdata: {\"x\":2}\r\r\rdata: [DONE]\r\r";
    const COMMENTS_ID_RETRY: &str = ": keepalive\n\n: hello\nid: 7\nretry: 3000\nevent: update\nfield: ignored\ndata: one\n\nretry: x1\nid: a\0b\ndata: two\n\n";
    const MULTILINE: &str = "data: {\"a\":\ndata:  1}\ndata\n\nevent: e\r\ndata: x\r\ndata: y\r\n\r\n";
    const NO_FINAL_BLANK: &str = "data: first\n\ndata: last";
    const MIXED_ENDINGS: &str = "data: a\r\n\ndata: b\n\r\ndata: c\r\r\n:c\r\ndata: d\n\n";

    const FIXTURES: &[&str] = &[
        OPENAI,
        ANTHROPIC,
        GEMINI_CRLF,
        LONE_CR,
        COMMENTS_ID_RETRY,
        MULTILINE,
        NO_FINAL_BLANK,
        MIXED_ENDINGS,
    ];

    /// Feeds the reads in order and collects every event, including the one `finish` flushes.
    fn decode_reads(reads: &[&[u8]]) -> Vec<SseEvent> {
        let mut dec = SseDecoder::new();
        let mut events = Vec::new();
        for read in reads {
            dec.push(Bytes::copy_from_slice(read));
            while let Some(ev) = dec.next_event().expect("decode") {
                events.push(ev);
            }
        }
        while let Some(ev) = dec.finish().expect("finish") {
            events.push(ev);
        }
        events
    }

    fn decode_all(input: &[u8]) -> Vec<SseEvent> {
        decode_reads(&[input])
    }

    fn data_of(events: &[SseEvent]) -> Vec<&[u8]> {
        events.iter().map(|e| &e.data[..]).collect()
    }

    /// Same events; `raw` may only lose the LF of a blank-line CRLF split between reads.
    fn assert_same(whole: &[SseEvent], split: &[SseEvent], what: &str) {
        assert_eq!(whole.len(), split.len(), "{what}: event count");
        for (w, s) in whole.iter().zip(split) {
            assert_eq!(w.event, s.event, "{what}");
            assert_eq!(w.data, s.data, "{what}");
            assert_eq!(w.id, s.id, "{what}");
            assert_eq!(w.retry, s.retry, "{what}");
            let cut = w.raw.ends_with(b"\r\n") && s.raw[..] == w.raw[..w.raw.len() - 1];
            assert!(w.raw == s.raw || cut, "{what}: raw {:?} vs {:?}", w.raw, s.raw);
        }
    }

    /// (event, data, id, retry) of one event, for comparing decoders.
    type Fields = (Option<Vec<u8>>, Vec<u8>, Option<Vec<u8>>, Option<u64>);

    /// A plain whole-input WHATWG decoder to check the incremental one against.
    fn reference(input: &[u8]) -> Vec<Fields> {
        let input = input.strip_prefix(&BOM[..]).unwrap_or(input);
        let mut lines = Vec::new();
        let mut cur = Vec::new();
        let mut i = 0;
        let mut terminated = true;
        while i < input.len() {
            match input[i] {
                b'\r' => {
                    lines.push(std::mem::take(&mut cur));
                    if input.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    terminated = true;
                }
                b'\n' => {
                    lines.push(std::mem::take(&mut cur));
                    terminated = true;
                }
                c => {
                    cur.push(c);
                    terminated = false;
                }
            }
            i += 1;
        }
        if !terminated {
            lines.push(cur);
        }
        lines.push(Vec::new()); // EOF flushes like a blank line
        let mut out = Vec::new();
        let (mut ev, mut data, mut id, mut retry): (_, Vec<Vec<u8>>, _, _) = (None, Vec::new(), None, None);
        for line in lines {
            if line.is_empty() {
                if ev.is_some() || !data.is_empty() || id.is_some() || retry.is_some() {
                    out.push((ev.take(), data.join(&b'\n'), id.take(), retry.take()));
                    data.clear();
                }
                continue;
            }
            if line[0] == b':' {
                continue;
            }
            let (name, mut value) = match line.iter().position(|&c| c == b':') {
                Some(c) => (line[..c].to_vec(), line[c + 1..].to_vec()),
                None => (line.clone(), Vec::new()),
            };
            if value.first() == Some(&b' ') {
                value.remove(0);
            }
            match &name[..] {
                b"data" => data.push(value),
                b"event" => ev = Some(value),
                b"id" if !value.contains(&0) => id = Some(value),
                b"retry" => {
                    if let Some(r) = std::str::from_utf8(&value)
                        .ok()
                        .filter(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
                        .and_then(|s| s.parse().ok())
                    {
                        retry = Some(r);
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn summarize(events: &[SseEvent]) -> Vec<Fields> {
        events
            .iter()
            .map(|e| {
                (
                    e.event.as_ref().map(|b| b.to_vec()),
                    e.data.to_vec(),
                    e.id.as_ref().map(|b| b.to_vec()),
                    e.retry,
                )
            })
            .collect()
    }

    #[test]
    fn lf_event() {
        let evs = decode_all(b"data: {\"x\":1}\n\n");
        assert_eq!(evs.len(), 1);
        assert_eq!(&evs[0].data[..], b"{\"x\":1}");
        assert_eq!(evs[0].event, None);
        assert_eq!(&evs[0].raw[..], b"data: {\"x\":1}\n\n");
    }

    #[test]
    fn crlf_event() {
        let evs = decode_all(b"event: a\r\ndata: {\"x\":1}\r\n\r\ndata: 2\r\n\r\n");
        assert_eq!(data_of(&evs), vec![&b"{\"x\":1}"[..], b"2"]);
        assert_eq!(evs[0].event.as_deref(), Some(&b"a"[..]));
        assert_eq!(&evs[1].raw[..], b"data: 2\r\n\r\n");
    }

    #[test]
    fn lone_cr_event() {
        let evs = decode_all(b"data: a\r\rdata: b\r\r");
        assert_eq!(data_of(&evs), vec![&b"a"[..], b"b"]);
    }

    #[test]
    fn crlf_split_inside_event_counts_once() {
        // The LF after a CR that ended a read is not a second (blank) line.
        let evs = decode_reads(&[b"data: a\r", b"\ndata: b\r\n\r\n"]);
        assert_eq!(evs.len(), 1);
        assert_eq!(&evs[0].data[..], b"a\nb");
        assert_eq!(&evs[0].raw[..], b"data: a\r\ndata: b\r\n\r\n");
    }

    #[test]
    fn crlf_split_after_blank_line_counts_once() {
        let mut dec = SseDecoder::new();
        dec.push(Bytes::from_static(b"data: a\r\n\r"));
        let first = dec.next_event().unwrap().unwrap();
        // Dispatched at the CR: no waiting for the next read.
        assert_eq!(&first.raw[..], b"data: a\r\n\r");
        dec.push(Bytes::from_static(b"\ndata: b\r\n\r\n"));
        let second = dec.next_event().unwrap().unwrap();
        assert_eq!(&second.data[..], b"b");
        assert_eq!(&second.raw[..], b"data: b\r\n\r\n");
        assert_eq!(dec.next_event().unwrap(), None);
        assert_eq!(dec.finish().unwrap(), None);
    }

    #[test]
    fn cr_at_end_then_non_lf() {
        let evs = decode_reads(&[b"data: a\r", b"\rdata: b\r", b"\r"]);
        assert_eq!(data_of(&evs), vec![&b"a"[..], b"b"]);
    }

    #[test]
    fn multiline_data_joined_with_lf() {
        let evs = decode_all(b"data: {\"a\":\ndata:  1}\ndata\n\n");
        assert_eq!(&evs[0].data[..], b"{\"a\":\n 1}\n");
    }

    #[test]
    fn comments_ignored_and_comment_only_blocks_not_dispatched() {
        let evs = decode_all(b": ping\n\n:\n\ndata: x\n: inside\n\n");
        assert_eq!(evs.len(), 1);
        assert_eq!(&evs[0].data[..], b"x");
        // The comment inside the event stays in raw, so passthrough forwards it.
        assert_eq!(&evs[0].raw[..], b"data: x\n: inside\n\n");
    }

    #[test]
    fn event_id_retry_fields() {
        let evs = decode_all(COMMENTS_ID_RETRY.as_bytes());
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].event.as_deref(), Some(&b"update"[..]));
        assert_eq!(evs[0].id.as_deref(), Some(&b"7"[..]));
        assert_eq!(evs[0].retry, Some(3000));
        assert_eq!(&evs[0].data[..], b"one");
        // Non-numeric retry and an id holding NUL are ignored.
        assert_eq!(evs[1].retry, None);
        assert_eq!(evs[1].id, None);
        assert_eq!(evs[1].event, None);
        assert_eq!(&evs[1].data[..], b"two");
    }

    #[test]
    fn retry_overflow_ignored() {
        let evs = decode_all(b"retry: 99999999999999999999999\ndata: x\n\n");
        assert_eq!(evs[0].retry, None);
    }

    #[test]
    fn exactly_one_leading_space_removed() {
        let evs = decode_all(b"data:x\n\ndata: x\n\ndata:  x\n\nevent:  e\ndata:\n\n");
        assert_eq!(data_of(&evs), vec![&b"x"[..], b"x", b" x", b""]);
        assert_eq!(evs[3].event.as_deref(), Some(&b" e"[..]));
    }

    #[test]
    fn unknown_fields_and_bare_names() {
        let evs = decode_all(b"foo: bar\nDATA: no\nevent\ndata\n\n");
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].event.as_deref(), Some(&b""[..]));
        assert_eq!(&evs[0].data[..], b"");
    }

    #[test]
    fn unknown_field_alone_not_dispatched() {
        assert!(decode_all(b"foo: bar\n\n").is_empty());
    }

    #[test]
    fn event_without_data_is_dispatched() {
        let evs = decode_all(b"event: ping\n\n");
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].event.as_deref(), Some(&b"ping"[..]));
        assert!(evs[0].data.is_empty());
    }

    #[test]
    fn blank_lines_alone_dispatch_nothing() {
        assert!(decode_all(b"\n\n\r\n\r\r\n").is_empty());
    }

    #[test]
    fn id_does_not_leak_into_later_blank_lines() {
        let evs = decode_all(b"id: 1\ndata: a\n\n\n\ndata: b\n\n");
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[1].id, None);
    }

    #[test]
    fn bom_stripped_at_stream_start() {
        let evs = decode_all(b"\xEF\xBB\xBFdata: a\n\n");
        assert_eq!(data_of(&evs), vec![&b"a"[..]]);
        assert_eq!(&evs[0].raw[..], b"data: a\n\n");
    }

    #[test]
    fn bom_split_across_reads() {
        let evs = decode_reads(&[b"\xEF", b"\xBB", b"\xBFdata: a\n\n"]);
        assert_eq!(data_of(&evs), vec![&b"a"[..]]);
        let evs = decode_reads(&[b"\xEF\xBB\xBF", b"data: a\n\n"]);
        assert_eq!(data_of(&evs), vec![&b"a"[..]]);
    }

    #[test]
    fn bom_prefix_that_is_not_a_bom_is_kept() {
        let evs = decode_reads(&[b"\xEF", b"\xBBx: 1\ndata: a\n\n"]);
        assert_eq!(evs.len(), 1);
        assert_eq!(&evs[0].raw[..], b"\xEF\xBBx: 1\ndata: a\n\n");
        // Input that ends inside a BOM prefix is flushed as content.
        let mut dec = SseDecoder::new();
        dec.push_slice(b"\xEF\xBB");
        assert_eq!(dec.next_event().unwrap(), None);
        assert_eq!(dec.finish().unwrap(), None);
    }

    #[test]
    fn bom_only_at_stream_start() {
        // A second BOM makes the field name unknown, as in every SDK.
        let evs = decode_all(b"\xEF\xBB\xBFdata: a\n\n\xEF\xBB\xBFdata: b\n\n");
        assert_eq!(data_of(&evs), vec![&b"a"[..]]);
    }

    #[test]
    fn final_event_without_blank_line_flushed_by_finish() {
        let mut dec = SseDecoder::new();
        dec.push(Bytes::from_static(NO_FINAL_BLANK.as_bytes()));
        assert_eq!(&dec.next_event().unwrap().unwrap().data[..], b"first");
        assert_eq!(dec.next_event().unwrap(), None);
        let last = dec.finish().unwrap().unwrap();
        assert_eq!(&last.data[..], b"last");
        assert_eq!(&last.raw[..], b"data: last");
        assert_eq!(dec.finish().unwrap(), None);
    }

    #[test]
    fn finish_with_single_line_end_and_with_nothing() {
        assert_eq!(data_of(&decode_all(b"data: a\n")), vec![&b"a"[..]]);
        assert_eq!(data_of(&decode_all(b"data: a\r")), vec![&b"a"[..]]);
        assert!(decode_all(b"").is_empty());
        assert!(decode_all(b": only a comment").is_empty());
    }

    #[test]
    fn finish_drains_complete_events_first() {
        let mut dec = SseDecoder::new();
        dec.push_slice(b"data: a\n\ndata: b\n\ndata: c");
        let mut got = Vec::new();
        while let Some(ev) = dec.finish().unwrap() {
            got.push(ev.data);
        }
        assert_eq!(got, vec!["a", "b", "c"]);
    }

    #[test]
    fn is_done_matches_prefix() {
        let evs = decode_all(b"data: [DONE]\n\ndata: [DONE] trailing\n\ndata: {}\n\n");
        let done: Vec<bool> = evs.iter().map(SseEvent::is_done).collect();
        assert_eq!(done, vec![true, true, false]);
    }

    #[test]
    fn single_read_events_are_slices_of_the_read() {
        let read = Bytes::from_static(ANTHROPIC.as_bytes());
        let range = read.as_ptr() as usize..read.as_ptr() as usize + read.len();
        let mut dec = SseDecoder::new();
        dec.push(read.clone());
        let mut n = 0;
        while let Some(ev) = dec.next_event().unwrap() {
            for part in [&ev.raw, &ev.data, ev.event.as_ref().unwrap()] {
                assert!(range.contains(&(part.as_ptr() as usize)));
            }
            n += 1;
        }
        assert_eq!(n, 12);
    }

    #[test]
    fn only_the_straddling_event_is_copied() {
        let r1 = Bytes::from_static(b"data: a\n\ndata: b");
        let r2 = Bytes::from_static(b"c\n\ndata: d\n\n");
        let in_read = |b: &Bytes, r: &Bytes| {
            let p = b.as_ptr() as usize;
            p >= r.as_ptr() as usize && p < r.as_ptr() as usize + r.len()
        };
        let mut dec = SseDecoder::new();
        dec.push(r1.clone());
        let a = dec.next_event().unwrap().unwrap();
        assert!(in_read(&a.data, &r1));
        assert_eq!(dec.next_event().unwrap(), None);
        dec.push(r2.clone());
        let bc = dec.next_event().unwrap().unwrap();
        assert_eq!(&bc.data[..], b"bc");
        assert_eq!(&bc.raw[..], b"data: bc\n\n");
        let d = dec.next_event().unwrap().unwrap();
        assert!(in_read(&d.data, &r2) && in_read(&d.raw, &r2));
    }

    #[test]
    fn several_pushes_before_draining() {
        let mut dec = SseDecoder::new();
        for read in [&b"data: a\n"[..], b"\nda", b"ta: b\n\n", b"data: c\n\n"] {
            dec.push_slice(read);
        }
        let mut got = Vec::new();
        while let Some(ev) = dec.next_event().unwrap() {
            got.push(ev.data);
        }
        assert_eq!(got, vec!["a", "b", "c"]);
    }

    #[test]
    fn event_too_large_in_one_read() {
        let mut dec = SseDecoder::with_max_event_bytes(16);
        dec.push_slice(b"data: 0123456789\n\n");
        assert_eq!(dec.next_event(), Err(SseError::EventTooLarge { limit: 16 }));
        // The decoder stays failed; later input is not parsed.
        dec.push_slice(b"data: a\n\n");
        assert!(dec.next_event().is_err());
        assert!(dec.finish().is_err());
    }

    #[test]
    fn event_too_large_across_reads() {
        let mut dec = SseDecoder::with_max_event_bytes(32);
        dec.push_slice(b"data: 0123456789");
        assert_eq!(dec.next_event(), Ok(None));
        dec.push_slice(b"0123456789");
        assert_eq!(dec.next_event(), Ok(None));
        dec.push_slice(b"0123456789");
        assert!(dec.next_event().is_err());
    }

    #[test]
    fn event_at_the_limit_is_accepted() {
        let input = b"data: 0123456789\n\n";
        let mut dec = SseDecoder::with_max_event_bytes(input.len());
        dec.push_slice(&input[..5]);
        dec.push_slice(&input[5..]);
        assert_eq!(&dec.next_event().unwrap().unwrap().data[..], b"0123456789");
    }

    /// The limit does not depend on where the reads split: an event ended by a CRLF blank line
    /// is measured through its CR, whether its LF arrives in the same read or the next one.
    #[test]
    fn event_limit_is_the_same_for_a_crlf_blank_line_split_between_reads() {
        let input = b"data: 0123456789\r\n\r\n";
        let at_limit = input.len() - 1;
        for cut in 0..=input.len() {
            let mut dec = SseDecoder::with_max_event_bytes(at_limit);
            dec.push_slice(&input[..cut]);
            dec.push_slice(&input[cut..]);
            let event = dec.next_event().unwrap_or_else(|e| panic!("split at {cut}: {e}"));
            assert_eq!(&event.unwrap().data[..], b"0123456789", "split at {cut}");
            let mut dec = SseDecoder::with_max_event_bytes(at_limit - 1);
            dec.push_slice(&input[..cut]);
            dec.push_slice(&input[cut..]);
            let limit = at_limit - 1;
            assert_eq!(
                dec.next_event(),
                Err(SseError::EventTooLarge { limit }),
                "split at {cut}"
            );
        }
    }

    #[test]
    fn openai_fixture() {
        let evs = decode_all(OPENAI.as_bytes());
        assert_eq!(evs.len(), 6);
        assert!(evs.iter().all(|e| e.event.is_none()));
        assert!(evs[5].is_done());
        assert!(!evs[4].is_done());
        assert!(evs[1].data.ends_with(b"\"usage\":null}"));
        // Every event's raw, back to back, is the input.
        let joined: Vec<u8> = evs.iter().flat_map(|e| e.raw.to_vec()).collect();
        assert_eq!(joined, OPENAI.as_bytes());
    }

    #[test]
    fn anthropic_fixture() {
        let evs = decode_all(ANTHROPIC.as_bytes());
        let names: Vec<&[u8]> = evs.iter().map(|e| &e.event.as_ref().unwrap()[..]).collect();
        assert_eq!(names[0], b"message_start");
        assert_eq!(names[2], b"ping");
        assert_eq!(names[11], b"message_stop");
        assert_eq!(&evs[11].data[..], b"{\"type\":\"message_stop\"}");
    }

    #[test]
    fn gemini_crlf_fixture() {
        let evs = decode_all(GEMINI_CRLF.as_bytes());
        assert_eq!(evs.len(), 2);
        assert!(evs[0].data.starts_with(b"{\"candidates\""));
        assert!(evs[1].data.ends_with(b"\"responseId\":\"abc123\"}"));
        assert!(evs[1].raw.ends_with(b"}\r\n\r\n"));
    }

    #[test]
    fn fixtures_match_reference_decoder() {
        for fx in FIXTURES {
            assert_eq!(summarize(&decode_all(fx.as_bytes())), reference(fx.as_bytes()));
        }
    }

    #[test]
    fn fixtures_split_at_every_offset() {
        for (n, fx) in FIXTURES.iter().enumerate() {
            let input = fx.as_bytes();
            let whole = decode_all(input);
            for cut in 0..=input.len() {
                let split = decode_reads(&[&input[..cut], &input[cut..]]);
                assert_same(&whole, &split, &format!("fixture {n} cut {cut}"));
            }
        }
    }

    #[test]
    fn fixtures_one_byte_at_a_time() {
        for (n, fx) in FIXTURES.iter().enumerate() {
            let input = fx.as_bytes();
            let reads: Vec<&[u8]> = input.chunks(1).collect();
            assert_same(&decode_all(input), &decode_reads(&reads), &format!("fixture {n}"));
        }
    }

    fn split_at_points<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        points.sort_unstable();
        let mut reads = Vec::new();
        let mut last = 0;
        for p in points {
            reads.push(&input[last..p]);
            last = p;
        }
        reads.push(&input[last..]);
        reads
    }

    /// Bytes drawn mostly from the characters that matter to SSE framing.
    fn sse_ish() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(&b"\n"[..]),
            Just(&b"\r"[..]),
            Just(&b"\r\n"[..]),
            Just(&b"data: "[..]),
            Just(&b"data:"[..]),
            Just(&b"event: "[..]),
            Just(&b"id: "[..]),
            Just(&b"retry: "[..]),
            Just(&b":"[..]),
            Just(&b" "[..]),
            Just(&b"12"[..]),
            Just(&b"x"[..]),
            Just(&b"\0"[..]),
            Just(&b"\xEF\xBB\xBF"[..]),
            Just(&b"[DONE]"[..]),
        ];
        prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn fixtures_random_splits(idx in 0..FIXTURES.len(), cuts in prop::collection::vec(any::<usize>(), 0..20)) {
            let input = FIXTURES[idx].as_bytes();
            let reads = split_at_points(input, &cuts);
            assert_same(&decode_all(input), &decode_reads(&reads), "random split");
        }

        #[test]
        fn random_input_split_invariant_and_matches_reference(input in sse_ish(), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
            let whole = decode_all(&input);
            prop_assert_eq!(summarize(&whole), reference(&input));
            let reads = split_at_points(&input, &cuts);
            assert_same(&whole, &decode_reads(&reads), "random input");
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            assert_same(&whole, &decode_reads(&bytes), "random input bytewise");
        }

        #[test]
        fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..256), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
            let mut dec = SseDecoder::with_max_event_bytes(64);
            for read in split_at_points(&input, &cuts) {
                dec.push_slice(read);
                while let Ok(Some(_)) = dec.next_event() {}
            }
            while let Ok(Some(_)) = dec.finish() {}
        }

        #[test]
        fn encode_decode_round_trip(
            name in proptest::option::of("[a-z_.]{0,12}"),
            data in prop::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), Just(b' '), Just(b':'), any::<u8>()], 0..64),
            crlf in any::<bool>(),
        ) {
            let mut out = Vec::new();
            let le = if crlf { LineEnd::CrLf } else { LineEnd::Lf };
            encode_event_with(&mut out, name.as_deref(), &data, le);
            let evs = decode_all(&out);
            prop_assert_eq!(evs.len(), 1);
            // Line breaks in data come back as LF; everything else byte for byte.
            let normalized = String::from_utf8_lossy(&data).replace("\r\n", "\n").replace('\r', "\n");
            prop_assert_eq!(String::from_utf8_lossy(&evs[0].data), normalized);
            prop_assert_eq!(evs[0].event.as_ref().map(|e| e.to_vec()), name.map(String::into_bytes));
            prop_assert_eq!(&evs[0].raw[..], &out[..]);
        }
    }

    #[test]
    fn encode_forms() {
        let mut out = Vec::new();
        encode_event(&mut out, Some("message_stop"), b"{\"type\":\"message_stop\"}");
        encode_event(&mut out, None, b"[DONE]");
        assert_eq!(
            out,
            b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\ndata: [DONE]\n\n"
        );
        let mut out = Vec::new();
        encode_event_crlf(&mut out, None, b"{}");
        assert_eq!(out, b"data: {}\r\n\r\n");
    }

    #[test]
    fn encode_splits_data_lines_and_sanitizes_name() {
        let mut out = Vec::new();
        encode_event(&mut out, Some("a\nb"), b"x\ny\r\nz\r");
        assert_eq!(out, b"event: ab\ndata: x\ndata: y\ndata: z\ndata: \n\n");
        assert_eq!(&decode_all(&out)[0].data[..], b"x\ny\nz\n");
    }

    #[test]
    fn encode_gemini_fixture_reproduced() {
        let mut out = Vec::new();
        for ev in decode_all(GEMINI_CRLF.as_bytes()) {
            encode_event_crlf(&mut out, None, &ev.data);
        }
        assert_eq!(out, GEMINI_CRLF.as_bytes());
    }

    #[test]
    fn encode_anthropic_fixture_reproduced() {
        let mut out = Vec::new();
        for ev in decode_all(ANTHROPIC.as_bytes()) {
            let name = std::str::from_utf8(ev.event.as_ref().unwrap()).unwrap();
            encode_event(&mut out, Some(name), &ev.data);
        }
        assert_eq!(out, ANTHROPIC.as_bytes());
    }

    #[test]
    fn escape_none_found_leaves_out_untouched() {
        let mut out = b"keep".to_vec();
        // é (C3 A9), € (E2 82 AC) and NBSP (C2 A0) share lead bytes but are not separators.
        assert!(!escape_js_line_separators("{\"a\":\"é€\u{a0}\"}".as_bytes(), &mut out));
        assert_eq!(out, b"keep");
    }

    #[test]
    fn escape_each_separator() {
        let input = "{\"a\":\"x\u{2028}y\u{2029}z\u{85}\u{2028}\",\"€\":1}";
        let mut out = Vec::new();
        assert!(escape_js_line_separators(input.as_bytes(), &mut out));
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "{\"a\":\"x\\u2028y\\u2029z\\u0085\\u2028\",\"€\":1}"
        );
        let mut out = Vec::new();
        assert!(escape_js_line_separators("\u{85}".as_bytes(), &mut out));
        assert_eq!(out, b"\\u0085");
    }

    proptest! {
        #[test]
        fn escape_output_has_no_separators_and_keeps_the_rest(s in "[a\u{85}\u{2028}\u{2029}\u{a0}\u{20ac}é\"]{0,40}") {
            let mut out = Vec::new();
            let changed = escape_js_line_separators(s.as_bytes(), &mut out);
            let expected = s.replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029").replace('\u{85}', "\\u0085");
            prop_assert_eq!(changed, expected != s);
            if changed {
                prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
            } else {
                prop_assert!(out.is_empty());
            }
        }
    }
}
