//! AWS event-stream binary framing (`application/vnd.amazon.eventstream`, PROTOCOLS 6):
//! message encoder, incremental decoder and the CRC-32 they share.
//!
//! Wire layer: bytes in, messages out (and headers + payload in, bytes out); no IO, no async,
//! no JSON. Bedrock streams (ConverseStream, InvokeModelWithResponseStream) travel in these
//! frames; what the payloads mean is the Bedrock format's business, not this file's.
//!
//! Rule: never panic on any input. Every length read from the wire is checked before it is
//! used, both CRCs are verified (prelude first, as botocore does) before a header is parsed,
//! and after an error the decoder stays failed, because framing cannot be recovered.

use std::collections::HashSet;
use std::fmt;

use bytes::{Bytes, BytesMut};

/// total_length + headers_length + prelude CRC.
pub const PRELUDE_LEN: usize = 12;
/// Prelude plus message CRC: the smallest possible message.
pub const MIN_MESSAGE_LEN: usize = 16;
/// Default cap on one decoded message; bounds what a corrupt length can make us buffer.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 << 20;
/// botocore rejects a larger headers block (`_MAX_HEADERS_LENGTH`), so we neither send nor accept one.
pub const MAX_HEADERS_LEN: usize = 128 * 1024;
/// botocore rejects a larger payload (`_MAX_PAYLOAD_LENGTH`), so the encoder refuses one.
pub const MAX_PAYLOAD_LEN: usize = 24 * 1024 * 1024;

/// A header value as sent: strings and byte arrays borrowed, so encoding allocates nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderValueRef<'a> {
    /// Types 0 (true) and 1 (false).
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    ByteArray(&'a [u8]),
    String(&'a str),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid([u8; 16]),
}

/// A header value as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderValue {
    /// Types 0 (true) and 1 (false).
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    /// A slice of the received frame.
    ByteArray(Bytes),
    String(String),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid([u8; 16]),
}

impl HeaderValue {
    /// The borrowed form, so a decoded message can be encoded again.
    pub fn as_value_ref(&self) -> HeaderValueRef<'_> {
        match self {
            HeaderValue::Bool(v) => HeaderValueRef::Bool(*v),
            HeaderValue::Byte(v) => HeaderValueRef::Byte(*v),
            HeaderValue::Short(v) => HeaderValueRef::Short(*v),
            HeaderValue::Int(v) => HeaderValueRef::Int(*v),
            HeaderValue::Long(v) => HeaderValueRef::Long(*v),
            HeaderValue::ByteArray(v) => HeaderValueRef::ByteArray(v),
            HeaderValue::String(v) => HeaderValueRef::String(v),
            HeaderValue::Timestamp(v) => HeaderValueRef::Timestamp(*v),
            HeaderValue::Uuid(v) => HeaderValueRef::Uuid(*v),
        }
    }
}

impl HeaderValueRef<'_> {
    /// Type code byte and the size of the value after it.
    fn type_and_len(&self) -> (u8, usize) {
        match self {
            HeaderValueRef::Bool(true) => (0, 0),
            HeaderValueRef::Bool(false) => (1, 0),
            HeaderValueRef::Byte(_) => (2, 1),
            HeaderValueRef::Short(_) => (3, 2),
            HeaderValueRef::Int(_) => (4, 4),
            HeaderValueRef::Long(_) => (5, 8),
            HeaderValueRef::ByteArray(b) => (6, 2 + b.len()),
            HeaderValueRef::String(s) => (7, 2 + s.len()),
            HeaderValueRef::Timestamp(_) => (8, 8),
            HeaderValueRef::Uuid(_) => (9, 16),
        }
    }
}

/// One header to encode. Names must be unique within a message (the decoder rejects repeats).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a str,
    pub value: HeaderValueRef<'a>,
}

impl<'a> Header<'a> {
    /// A string header (type 7), the only type Bedrock uses.
    pub const fn string(name: &'a str, value: &'a str) -> Self {
        Header {
            name,
            value: HeaderValueRef::String(value),
        }
    }
}

/// One decoded message, headers in wire order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<(String, HeaderValue)>,
    /// A slice of the received frame.
    pub payload: Bytes,
}

impl Message {
    /// The value of the header called `name`, of any type.
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The value of a string header; `None` when absent or of another type.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        match self.header(name) {
            Some(HeaderValue::String(s)) => Some(s),
            _ => None,
        }
    }

    /// Encodes this message again (same header order, so the same bytes).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EventStreamError> {
        let headers: Vec<Header<'_>> = self
            .headers
            .iter()
            .map(|(name, value)| Header {
                name,
                value: value.as_value_ref(),
            })
            .collect();
        encode_message(out, &headers, &self.payload)
    }
}

/// Why a message could not be decoded or encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventStreamError {
    /// CRC of the first 8 bytes does not match the prelude CRC field.
    PreludeChecksum {
        expected: u32,
        computed: u32,
    },
    /// CRC of the whole message does not match its last 4 bytes.
    MessageChecksum {
        expected: u32,
        computed: u32,
    },
    /// total_length below the 16 bytes of fixed overhead.
    MessageTooShort {
        len: usize,
    },
    /// total_length above the limit (decoder) or past the u32 field / payload cap (encoder).
    MessageTooLong {
        len: usize,
        max: usize,
    },
    /// headers_length larger than the message leaves room for, or above 128 KiB.
    HeadersLength {
        len: usize,
    },
    /// A header runs past the end of the headers block.
    HeaderTruncated,
    UnknownHeaderType(u8),
    /// A header name or string value is not UTF-8.
    InvalidUtf8,
    DuplicateHeader(String),
    /// A header name is empty (or, encoding, longer than 255 bytes).
    HeaderNameLength {
        len: usize,
    },
    /// Encoder: a string or byte-array value is longer than 65,535 bytes.
    HeaderValueTooLong {
        len: usize,
    },
    /// Input ended inside a message.
    Truncated {
        buffered: usize,
    },
}

impl fmt::Display for EventStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use EventStreamError::*;
        match self {
            PreludeChecksum { expected, computed } => write!(
                f,
                "event-stream prelude checksum mismatch: expected {expected:#010x}, computed {computed:#010x}"
            ),
            MessageChecksum { expected, computed } => write!(
                f,
                "event-stream message checksum mismatch: expected {expected:#010x}, computed {computed:#010x}"
            ),
            MessageTooShort { len } => write!(f, "event-stream message length {len} below 16"),
            MessageTooLong { len, max } => {
                write!(f, "event-stream message length {len} above {max}")
            }
            HeadersLength { len } => write!(f, "event-stream headers length {len} out of range"),
            HeaderTruncated => write!(f, "event-stream header runs past the headers block"),
            UnknownHeaderType(t) => write!(f, "event-stream header type {t} unknown"),
            InvalidUtf8 => write!(f, "event-stream header name or string is not UTF-8"),
            DuplicateHeader(name) => write!(f, "event-stream header {name:?} repeated"),
            HeaderNameLength { len } => {
                write!(f, "event-stream header name length {len} not in 1..=255")
            }
            HeaderValueTooLong { len } => {
                write!(f, "event-stream header value length {len} above 65535")
            }
            Truncated { buffered } => {
                write!(f, "event-stream input ended inside a message ({buffered} bytes)")
            }
        }
    }
}

impl std::error::Error for EventStreamError {}

/// Appends one message: prelude, headers, payload, message CRC. On error `out` is unchanged.
pub fn encode_message(out: &mut Vec<u8>, headers: &[Header<'_>], payload: &[u8]) -> Result<(), EventStreamError> {
    let mut headers_len = 0usize;
    for h in headers {
        if h.name.is_empty() || h.name.len() > 255 {
            return Err(EventStreamError::HeaderNameLength { len: h.name.len() });
        }
        let (_, value_len) = h.value.type_and_len();
        if let HeaderValueRef::ByteArray(b) = h.value {
            check_u16_len(b.len())?;
        }
        if let HeaderValueRef::String(s) = h.value {
            check_u16_len(s.len())?;
        }
        headers_len += 2 + h.name.len() + value_len;
    }
    if headers_len > MAX_HEADERS_LEN {
        return Err(EventStreamError::HeadersLength { len: headers_len });
    }
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(EventStreamError::MessageTooLong {
            len: MIN_MESSAGE_LEN + headers_len + payload.len(),
            max: MIN_MESSAGE_LEN + MAX_HEADERS_LEN + MAX_PAYLOAD_LEN,
        });
    }
    // Both fit in u32: bounded by the two caps above.
    let total = MIN_MESSAGE_LEN + headers_len + payload.len();
    out.reserve(total);
    let start = out.len();
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(headers_len as u32).to_be_bytes());
    let prelude_crc = crc32(&out[start..start + 8]);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    for h in headers {
        out.push(h.name.len() as u8);
        out.extend_from_slice(h.name.as_bytes());
        let (type_code, _) = h.value.type_and_len();
        out.push(type_code);
        match h.value {
            HeaderValueRef::Bool(_) => {}
            HeaderValueRef::Byte(v) => out.extend_from_slice(&v.to_be_bytes()),
            HeaderValueRef::Short(v) => out.extend_from_slice(&v.to_be_bytes()),
            HeaderValueRef::Int(v) => out.extend_from_slice(&v.to_be_bytes()),
            HeaderValueRef::Long(v) | HeaderValueRef::Timestamp(v) => out.extend_from_slice(&v.to_be_bytes()),
            HeaderValueRef::ByteArray(b) => {
                out.extend_from_slice(&(b.len() as u16).to_be_bytes());
                out.extend_from_slice(b);
            }
            HeaderValueRef::String(s) => {
                out.extend_from_slice(&(s.len() as u16).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            HeaderValueRef::Uuid(u) => out.extend_from_slice(&u),
        }
    }
    out.extend_from_slice(payload);
    // Continuing from the prelude CRC equals the CRC of the whole message so far.
    let message_crc = crc32_update(prelude_crc, &out[start + 8..]);
    out.extend_from_slice(&message_crc.to_be_bytes());
    Ok(())
}

fn check_u16_len(len: usize) -> Result<(), EventStreamError> {
    if len > usize::from(u16::MAX) {
        return Err(EventStreamError::HeaderValueTooLong { len });
    }
    Ok(())
}

/// Appends an event frame with the headers, in the order, real Bedrock frames carry
/// (PROTOCOLS 6.3): `:event-type`, `:content-type`, `:message-type: event`.
pub fn encode_event(
    out: &mut Vec<u8>,
    event_type: &str,
    content_type: &str,
    payload: &[u8],
) -> Result<(), EventStreamError> {
    encode_message(
        out,
        &[
            Header::string(":event-type", event_type),
            Header::string(":content-type", content_type),
            Header::string(":message-type", "event"),
        ],
        payload,
    )
}

/// Appends a modeled exception frame: `:exception-type` (the lowerCamelCase union member,
/// e.g. `throttlingException`, else botocore reports an empty code), `:content-type:
/// application/json`, `:message-type: exception`; payload `{"message":"…"}` (PROTOCOLS 6.3, 6.4).
pub fn encode_exception(out: &mut Vec<u8>, exception_type: &str, payload: &[u8]) -> Result<(), EventStreamError> {
    encode_message(
        out,
        &[
            Header::string(":exception-type", exception_type),
            Header::string(":content-type", "application/json"),
            Header::string(":message-type", "exception"),
        ],
        payload,
    )
}

/// Appends an unmodeled error frame: `:error-code`, `:error-message`, `:message-type: error`,
/// empty payload; botocore reports the code and message from the headers (PROTOCOLS 6.4).
pub fn encode_error(out: &mut Vec<u8>, error_code: &str, error_message: &str) -> Result<(), EventStreamError> {
    encode_message(
        out,
        &[
            Header::string(":error-code", error_code),
            Header::string(":error-message", error_message),
            Header::string(":message-type", "error"),
        ],
        &[],
    )
}

/// Incremental decoder: `push` reads as they arrive, drain `next_message` after each push,
/// and call `finish` at end of input to learn whether the stream stopped inside a message.
#[derive(Debug)]
pub struct EventStreamDecoder {
    buf: BytesMut,
    max_message_bytes: usize,
    failed: Option<EventStreamError>,
}

impl Default for EventStreamDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl EventStreamDecoder {
    /// A decoder that rejects messages above 16 MiB.
    pub fn new() -> Self {
        Self::with_max_message_bytes(DEFAULT_MAX_MESSAGE_BYTES)
    }

    /// A decoder that rejects messages above `max_message_bytes`.
    pub fn with_max_message_bytes(max_message_bytes: usize) -> Self {
        EventStreamDecoder {
            buf: BytesMut::new(),
            max_message_bytes,
            failed: None,
        }
    }

    /// Appends one read; ignored once the decoder has failed.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// The next complete message, `Ok(None)` when more input is needed. Errors are sticky.
    pub fn next_message(&mut self) -> Result<Option<Message>, EventStreamError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        match self.decode_next() {
            Ok(message) => Ok(message),
            Err(err) => {
                self.failed = Some(err.clone());
                self.buf = BytesMut::new();
                Err(err)
            }
        }
    }

    /// At end of input: an error if bytes of an incomplete message are left over.
    pub fn finish(&self) -> Result<(), EventStreamError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(EventStreamError::Truncated {
                buffered: self.buf.len(),
            })
        }
    }

    fn decode_next(&mut self) -> Result<Option<Message>, EventStreamError> {
        if self.buf.len() < PRELUDE_LEN {
            return Ok(None);
        }
        let total = be_u32(&self.buf, 0) as usize;
        let headers_len = be_u32(&self.buf, 4) as usize;
        let expected = be_u32(&self.buf, 8);
        let computed = crc32(&self.buf[..8]);
        if expected != computed {
            return Err(EventStreamError::PreludeChecksum { expected, computed });
        }
        if total < MIN_MESSAGE_LEN {
            return Err(EventStreamError::MessageTooShort { len: total });
        }
        if total > self.max_message_bytes {
            return Err(EventStreamError::MessageTooLong {
                len: total,
                max: self.max_message_bytes,
            });
        }
        if headers_len > total - MIN_MESSAGE_LEN || headers_len > MAX_HEADERS_LEN {
            return Err(EventStreamError::HeadersLength { len: headers_len });
        }
        if self.buf.len() < total {
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        let frame = self.buf.split_to(total).freeze();
        let expected = be_u32(&frame, total - 4);
        let computed = crc32(&frame[..total - 4]);
        if expected != computed {
            return Err(EventStreamError::MessageChecksum { expected, computed });
        }
        let headers_end = PRELUDE_LEN + headers_len;
        let headers = parse_headers(&frame, PRELUDE_LEN, headers_end)?;
        Ok(Some(Message {
            headers,
            payload: frame.slice(headers_end..total - 4),
        }))
    }
}

/// Big-endian u32 at `at`; callers have checked that `at + 4 <= b.len()`.
fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads within `frame[pos..end]`, failing instead of reading past `end`.
struct Cursor<'a> {
    frame: &'a Bytes,
    pos: usize,
    end: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EventStreamError> {
        let frame: &'a [u8] = self.frame;
        let stop = self.pos + n;
        if stop > self.end {
            return Err(EventStreamError::HeaderTruncated);
        }
        let out = &frame[self.pos..stop];
        self.pos = stop;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EventStreamError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u16_len(&mut self) -> Result<usize, EventStreamError> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }
}

fn parse_headers(frame: &Bytes, start: usize, end: usize) -> Result<Vec<(String, HeaderValue)>, EventStreamError> {
    let mut cur = Cursor { frame, pos: start, end };
    let mut headers: Vec<(String, HeaderValue)> = Vec::with_capacity(4);
    while cur.pos < cur.end {
        let [name_len] = cur.array()?;
        // The spec allows 1..=255; an empty name could not be encoded back.
        if name_len == 0 {
            return Err(EventStreamError::HeaderNameLength { len: 0 });
        }
        let name = std::str::from_utf8(cur.take(usize::from(name_len))?).map_err(|_| EventStreamError::InvalidUtf8)?;
        let [type_code] = cur.array()?;
        let value = match type_code {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(i8::from_be_bytes(cur.array()?)),
            3 => HeaderValue::Short(i16::from_be_bytes(cur.array()?)),
            4 => HeaderValue::Int(i32::from_be_bytes(cur.array()?)),
            5 => HeaderValue::Long(i64::from_be_bytes(cur.array()?)),
            6 => {
                let len = cur.u16_len()?;
                let at = cur.pos;
                cur.take(len)?;
                HeaderValue::ByteArray(frame.slice(at..at + len))
            }
            7 => {
                let len = cur.u16_len()?;
                let s = std::str::from_utf8(cur.take(len)?).map_err(|_| EventStreamError::InvalidUtf8)?;
                HeaderValue::String(s.to_owned())
            }
            8 => HeaderValue::Timestamp(i64::from_be_bytes(cur.array()?)),
            9 => HeaderValue::Uuid(cur.array()?),
            other => return Err(EventStreamError::UnknownHeaderType(other)),
        };
        headers.push((name.to_owned(), value));
    }
    check_unique(&headers)?;
    Ok(headers)
}

/// botocore raises `DuplicateHeader`; so do we. A set only when there are many headers, so
/// the usual three cost no allocation and a hostile frame cannot make this quadratic.
fn check_unique(headers: &[(String, HeaderValue)]) -> Result<(), EventStreamError> {
    let dup = if headers.len() <= 8 {
        headers
            .iter()
            .enumerate()
            .find(|(i, (name, _))| headers[..*i].iter().any(|(n, _)| n == name))
            .map(|(_, (name, _))| name)
    } else {
        let mut seen = HashSet::with_capacity(headers.len());
        headers
            .iter()
            .map(|(name, _)| name)
            .find(|name| !seen.insert(name.as_str()))
    };
    match dup {
        Some(name) => Err(EventStreamError::DuplicateHeader(name.clone())),
        None => Ok(()),
    }
}

/// CRC-32 (IEEE 802.3 / zlib), as both event-stream CRC fields use.
///
/// `crc32fast` folds with carry-less multiplication where the CPU has it: a 150-byte frame costs
/// about 19 ns against 74 ns for the slicing-by-8 table this replaced (bench/RESULTS.md).
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// Continues a CRC-32: `crc32_update(crc32(a), b) == crc32(a ++ b)`.
pub fn crc32_update(crc: u32, data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(crc);
    h.update(data);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};

    const VECTORS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/eventstream-vectors.json");

    struct Vector {
        name: String,
        headers: Vec<(String, String)>,
        headers_hex: Vec<u8>,
        payload: Vec<u8>,
        total_length: usize,
        headers_length: usize,
        prelude_crc: u32,
        message_crc: u32,
        message: Vec<u8>,
    }

    fn unhex(s: &str) -> Vec<u8> {
        assert!(s.len().is_multiple_of(2), "odd hex length");
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
            .collect()
    }

    fn crc_field(s: &str) -> u32 {
        u32::from_str_radix(s.trim_start_matches("0x"), 16).expect("crc hex")
    }

    fn vectors() -> Vec<Vector> {
        let text = std::fs::read_to_string(VECTORS_PATH).expect("read vectors");
        let root: sonic_rs::Value = sonic_rs::from_str(&text).expect("parse vectors");
        let s = |v: &sonic_rs::Value, k: &str| v[k].as_str().expect(k).to_owned();
        let n = |v: &sonic_rs::Value, k: &str| v[k].as_u64().expect(k) as usize;
        root.as_array()
            .expect("array")
            .iter()
            .map(|v| Vector {
                name: s(v, "name"),
                headers: v["headers"]
                    .as_array()
                    .expect("headers")
                    .iter()
                    .map(|h| {
                        assert_eq!(h["type"].as_u64(), Some(7), "vectors use string headers");
                        (s(h, "name"), s(h, "value"))
                    })
                    .collect(),
                headers_hex: unhex(&s(v, "headers_hex")),
                payload: unhex(&s(v, "payload_hex")),
                total_length: n(v, "total_length"),
                headers_length: n(v, "headers_length"),
                prelude_crc: crc_field(&s(v, "prelude_crc")),
                message_crc: crc_field(&s(v, "message_crc")),
                message: unhex(&s(v, "message_hex")),
            })
            .collect()
    }

    fn decode_reads(reads: &[&[u8]]) -> Result<Vec<Message>, EventStreamError> {
        let mut dec = EventStreamDecoder::new();
        let mut out = Vec::new();
        for read in reads {
            dec.push(read);
            while let Some(m) = dec.next_message()? {
                out.push(m);
            }
        }
        dec.finish()?;
        Ok(out)
    }

    fn decode_one(bytes: &[u8]) -> Result<Message, EventStreamError> {
        let mut dec = EventStreamDecoder::new();
        dec.push(bytes);
        dec.next_message()?
            .ok_or(EventStreamError::Truncated { buffered: bytes.len() })
    }

    /// Rewrites both CRCs so a mutated frame reaches the header parser.
    fn fix_crcs(frame: &mut [u8]) {
        let prelude = crc32(&frame[..8]);
        frame[8..12].copy_from_slice(&prelude.to_be_bytes());
        let n = frame.len();
        let msg = crc32(&frame[..n - 4]);
        frame[n - 4..].copy_from_slice(&msg.to_be_bytes());
    }

    fn bitwise_crc32(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32_update(crc32(b"1234"), b"56789"), 0xCBF4_3926);
    }

    #[test]
    fn vectors_file_has_the_five_vectors() {
        let v = vectors();
        assert_eq!(v.len(), 5);
        assert_eq!(v.iter().filter(|v| v.name.contains("throttling")).count(), 1);
    }

    #[test]
    fn vectors_encode_exactly() {
        for v in vectors() {
            let headers: Vec<Header<'_>> = v.headers.iter().map(|(n, s)| Header::string(n, s)).collect();
            let mut out = Vec::new();
            encode_message(&mut out, &headers, &v.payload).unwrap();
            assert_eq!(out, v.message, "{}", v.name);
            assert_eq!(out.len(), v.total_length, "{}", v.name);
            assert_eq!(be_u32(&out, 4) as usize, v.headers_length, "{}", v.name);
            assert_eq!(&out[12..12 + v.headers_length], &v.headers_hex[..], "{}", v.name);
            assert_eq!(be_u32(&out, 8), v.prelude_crc, "{}", v.name);
            assert_eq!(be_u32(&out, out.len() - 4), v.message_crc, "{}", v.name);
        }
    }

    #[test]
    fn vectors_encode_exactly_through_helpers() {
        for v in vectors() {
            let mut out = Vec::new();
            let first = v.headers[0].0.as_str();
            match first {
                ":event-type" => encode_event(&mut out, &v.headers[0].1, "application/json", &v.payload),
                ":exception-type" => encode_exception(&mut out, &v.headers[0].1, &v.payload),
                other => panic!("unexpected first header {other}"),
            }
            .unwrap();
            assert_eq!(out, v.message, "{}", v.name);
        }
    }

    #[test]
    fn vectors_decode() {
        for v in vectors() {
            let m = decode_one(&v.message).unwrap();
            let got: Vec<(String, HeaderValue)> = v
                .headers
                .iter()
                .map(|(n, s)| (n.clone(), HeaderValue::String(s.clone())))
                .collect();
            assert_eq!(m.headers, got, "{}", v.name);
            assert_eq!(&m.payload[..], &v.payload[..], "{}", v.name);
            assert_eq!(m.header_str(":content-type"), Some("application/json"));
            let mut again = Vec::new();
            m.encode(&mut again).unwrap();
            assert_eq!(again, v.message, "{}", v.name);
        }
    }

    #[test]
    fn vector_throttling_is_an_exception() {
        let v = vectors();
        let m = decode_one(&v[2].message).unwrap();
        assert_eq!(m.header_str(":message-type"), Some("exception"));
        assert_eq!(m.header_str(":exception-type"), Some("throttlingException"));
        assert_eq!(m.header_str(":event-type"), None);
    }

    #[test]
    fn flipped_message_crc_bit_rejected() {
        // PROTOCOLS 6.5: botocore says "expected 0x67623830, calculated 0x67623831".
        let mut frame = vectors()[0].message.clone();
        let n = frame.len();
        frame[n - 1] ^= 1;
        assert_eq!(
            decode_one(&frame),
            Err(EventStreamError::MessageChecksum {
                expected: 0x6762_3830,
                computed: 0x6762_3831
            })
        );
    }

    #[test]
    fn flipped_prelude_crc_bit_rejected() {
        // PROTOCOLS 6.5: botocore says "expected 0xf20be03e, calculated 0xf30be03e".
        let mut frame = vectors()[0].message.clone();
        frame[8] ^= 1;
        assert_eq!(
            decode_one(&frame),
            Err(EventStreamError::PreludeChecksum {
                expected: 0xf20b_e03e,
                computed: 0xf30b_e03e
            })
        );
    }

    #[test]
    fn prelude_checked_before_waiting_for_the_body() {
        let mut frame = vectors()[0].message.clone();
        frame[8] ^= 1;
        let mut dec = EventStreamDecoder::new();
        dec.push(&frame[..12]);
        assert!(matches!(
            dec.next_message(),
            Err(EventStreamError::PreludeChecksum { .. })
        ));
    }

    #[test]
    fn flipped_payload_bit_rejected() {
        let mut frame = vectors()[0].message.clone();
        frame[100] ^= 0x20;
        assert!(matches!(
            decode_one(&frame),
            Err(EventStreamError::MessageChecksum { .. })
        ));
    }

    fn prelude(total: u32, headers: u32) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&headers.to_be_bytes());
        let crc = crc32(&p);
        p.extend_from_slice(&crc.to_be_bytes());
        p
    }

    #[test]
    fn total_length_bounds() {
        assert_eq!(
            decode_one(&prelude(15, 0)),
            Err(EventStreamError::MessageTooShort { len: 15 })
        );
        assert_eq!(
            decode_one(&prelude(16 * 1024 * 1024 + 1, 0)),
            Err(EventStreamError::MessageTooLong {
                len: 16 * 1024 * 1024 + 1,
                max: DEFAULT_MAX_MESSAGE_BYTES
            })
        );
        let mut dec = EventStreamDecoder::with_max_message_bytes(100);
        dec.push(&vectors()[0].message);
        assert!(matches!(
            dec.next_message(),
            Err(EventStreamError::MessageTooLong { len: 151, max: 100 })
        ));
    }

    #[test]
    fn smallest_message_decodes() {
        let mut out = Vec::new();
        encode_message(&mut out, &[], b"").unwrap();
        assert_eq!(out.len(), 16);
        let m = decode_one(&out).unwrap();
        assert!(m.headers.is_empty() && m.payload.is_empty());
    }

    #[test]
    fn headers_length_bounds() {
        assert_eq!(
            decode_one(&prelude(20, 5)),
            Err(EventStreamError::HeadersLength { len: 5 })
        );
        let big = (MAX_HEADERS_LEN + 1) as u32;
        assert_eq!(
            decode_one(&prelude(big + 16, big)),
            Err(EventStreamError::HeadersLength { len: big as usize })
        );
    }

    #[test]
    fn header_errors() {
        let base = vectors()[0].message.clone();
        // Type byte of the first header (offset 12 + 1 + 11).
        let mut bad_type = base.clone();
        bad_type[24] = 10;
        fix_crcs(&mut bad_type);
        assert_eq!(decode_one(&bad_type), Err(EventStreamError::UnknownHeaderType(10)));
        // String length of the first header past the headers block.
        let mut overrun = base.clone();
        overrun[25..27].copy_from_slice(&0x00FFu16.to_be_bytes());
        fix_crcs(&mut overrun);
        assert_eq!(decode_one(&overrun), Err(EventStreamError::HeaderTruncated));
        // Non-UTF-8 name and value.
        let mut bad_name = base.clone();
        bad_name[13] = 0xFF;
        fix_crcs(&mut bad_name);
        assert_eq!(decode_one(&bad_name), Err(EventStreamError::InvalidUtf8));
        let mut bad_value = base.clone();
        bad_value[27] = 0xC0;
        fix_crcs(&mut bad_value);
        assert_eq!(decode_one(&bad_value), Err(EventStreamError::InvalidUtf8));
        let mut empty_name = base.clone();
        empty_name[12] = 0;
        fix_crcs(&mut empty_name);
        assert_eq!(
            decode_one(&empty_name),
            Err(EventStreamError::HeaderNameLength { len: 0 })
        );
    }

    #[test]
    fn duplicate_header_rejected() {
        let mut out = Vec::new();
        let h = [Header::string("a", "1"), Header::string("a", "2")];
        encode_message(&mut out, &h, b"").unwrap();
        assert_eq!(decode_one(&out), Err(EventStreamError::DuplicateHeader("a".into())));
        let names: Vec<String> = (0..20).map(|i| format!("h{}", i % 19)).collect();
        let many: Vec<Header<'_>> = names.iter().map(|n| Header::string(n, "")).collect();
        let mut out = Vec::new();
        encode_message(&mut out, &many, b"").unwrap();
        assert_eq!(decode_one(&out), Err(EventStreamError::DuplicateHeader("h0".into())));
    }

    #[test]
    fn errors_are_sticky_and_finish_reports_truncation() {
        let v = vectors();
        let mut bad = v[0].message.clone();
        bad[8] ^= 1;
        let mut dec = EventStreamDecoder::new();
        dec.push(&bad);
        assert!(dec.next_message().is_err());
        dec.push(&v[1].message);
        assert!(dec.next_message().is_err());
        assert!(dec.finish().is_err());

        let mut dec = EventStreamDecoder::new();
        dec.push(&v[1].message[..50]);
        assert_eq!(dec.next_message(), Ok(None));
        assert_eq!(dec.finish(), Err(EventStreamError::Truncated { buffered: 50 }));
    }

    fn all_types() -> Vec<Header<'static>> {
        vec![
            Header {
                name: "t",
                value: HeaderValueRef::Bool(true),
            },
            Header {
                name: "f",
                value: HeaderValueRef::Bool(false),
            },
            Header {
                name: "b",
                value: HeaderValueRef::Byte(-2),
            },
            Header {
                name: "s",
                value: HeaderValueRef::Short(-300),
            },
            Header {
                name: "i",
                value: HeaderValueRef::Int(0x0102_0304),
            },
            Header {
                name: "l",
                value: HeaderValueRef::Long(-1),
            },
            Header {
                name: "a",
                value: HeaderValueRef::ByteArray(&[0, 0xFF]),
            },
            Header::string("str", "é"),
            Header {
                name: "ts",
                value: HeaderValueRef::Timestamp(1_700_000_000_123),
            },
            Header {
                name: "u",
                value: HeaderValueRef::Uuid([7; 16]),
            },
        ]
    }

    #[test]
    fn every_header_type_encodes_to_the_spec_layout() {
        let mut out = Vec::new();
        encode_message(&mut out, &all_types(), b"p").unwrap();
        let mut want = Vec::new();
        want.extend_from_slice(b"\x01t\x00");
        want.extend_from_slice(b"\x01f\x01");
        want.extend_from_slice(b"\x01b\x02\xFE");
        want.extend_from_slice(b"\x01s\x03\xFE\xD4");
        want.extend_from_slice(b"\x01i\x04\x01\x02\x03\x04");
        want.extend_from_slice(b"\x01l\x05\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF");
        want.extend_from_slice(b"\x01a\x06\x00\x02\x00\xFF");
        want.extend_from_slice(b"\x03str\x07\x00\x02\xC3\xA9");
        want.extend_from_slice(b"\x02ts\x08");
        want.extend_from_slice(&1_700_000_000_123i64.to_be_bytes());
        want.extend_from_slice(b"\x01u\x09");
        want.extend_from_slice(&[7; 16]);
        assert_eq!(be_u32(&out, 4) as usize, want.len());
        assert_eq!(&out[12..12 + want.len()], &want[..]);
        assert_eq!(&out[12 + want.len()..out.len() - 4], b"p");
        assert_eq!(be_u32(&out, out.len() - 4), bitwise_crc32(&out[..out.len() - 4]));
    }

    #[test]
    fn every_header_type_round_trips() {
        let mut out = Vec::new();
        encode_message(&mut out, &all_types(), b"payload").unwrap();
        let m = decode_one(&out).unwrap();
        let back: Vec<Header<'_>> = m
            .headers
            .iter()
            .map(|(n, v)| Header {
                name: n,
                value: v.as_value_ref(),
            })
            .collect();
        assert_eq!(back, all_types());
        assert_eq!(m.header("l"), Some(&HeaderValue::Long(-1)));
        assert_eq!(m.header_str("str"), Some("é"));
        assert_eq!(m.header_str("l"), None);
    }

    #[test]
    fn encode_rejects_bad_lengths_and_leaves_out_unchanged() {
        let mut out = b"keep".to_vec();
        let long_name = "n".repeat(256);
        assert_eq!(
            encode_message(&mut out, &[Header::string(&long_name, "")], b""),
            Err(EventStreamError::HeaderNameLength { len: 256 })
        );
        assert_eq!(
            encode_message(&mut out, &[Header::string("", "")], b""),
            Err(EventStreamError::HeaderNameLength { len: 0 })
        );
        let long_value = "v".repeat(65_536);
        assert_eq!(
            encode_message(&mut out, &[Header::string("n", &long_value)], b""),
            Err(EventStreamError::HeaderValueTooLong { len: 65_536 })
        );
        let big = vec![0u8; MAX_PAYLOAD_LEN + 1];
        assert!(matches!(
            encode_message(&mut out, &[], &big),
            Err(EventStreamError::MessageTooLong { .. })
        ));
        assert_eq!(out, b"keep");
    }

    #[test]
    fn error_frame_round_trips() {
        let mut out = Vec::new();
        encode_error(&mut out, "InternalFailure", "boom").unwrap();
        let m = decode_one(&out).unwrap();
        assert_eq!(m.header_str(":message-type"), Some("error"));
        assert_eq!(m.header_str(":error-code"), Some("InternalFailure"));
        assert_eq!(m.header_str(":error-message"), Some("boom"));
        assert!(m.payload.is_empty());
    }

    fn all_vector_frames() -> (Vec<u8>, Vec<Message>) {
        let v = vectors();
        let stream: Vec<u8> = v.iter().flat_map(|v| v.message.clone()).collect();
        let whole = decode_reads(&[&stream]).unwrap();
        assert_eq!(whole.len(), v.len());
        (stream, whole)
    }

    #[test]
    fn concatenated_vectors_split_at_every_offset() {
        let (stream, whole) = all_vector_frames();
        for cut in 0..=stream.len() {
            let split = decode_reads(&[&stream[..cut], &stream[cut..]]).unwrap();
            assert_eq!(split, whole, "cut {cut}");
        }
    }

    #[test]
    fn concatenated_vectors_one_byte_at_a_time() {
        let (stream, whole) = all_vector_frames();
        let reads: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(decode_reads(&reads).unwrap(), whole);
    }

    fn header_value() -> impl Strategy<Value = HeaderValue> {
        prop_oneof![
            any::<bool>().prop_map(HeaderValue::Bool),
            any::<i8>().prop_map(HeaderValue::Byte),
            any::<i16>().prop_map(HeaderValue::Short),
            any::<i32>().prop_map(HeaderValue::Int),
            any::<i64>().prop_map(HeaderValue::Long),
            prop::collection::vec(any::<u8>(), 0..40).prop_map(|v| HeaderValue::ByteArray(v.into())),
            ".{0,20}".prop_map(HeaderValue::String),
            any::<i64>().prop_map(HeaderValue::Timestamp),
            any::<[u8; 16]>().prop_map(HeaderValue::Uuid),
        ]
    }

    proptest! {
        #[test]
        fn crc32_matches_bitwise(data in prop::collection::vec(any::<u8>(), 0..300), cut in any::<usize>()) {
            prop_assert_eq!(crc32(&data), bitwise_crc32(&data));
            let cut = cut % (data.len() + 1);
            prop_assert_eq!(crc32_update(crc32(&data[..cut]), &data[cut..]), bitwise_crc32(&data));
        }

        #[test]
        fn vectors_random_splits(cuts in prop::collection::vec(any::<usize>(), 0..16)) {
            let (stream, whole) = all_vector_frames();
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
            points.sort_unstable();
            let mut reads = Vec::new();
            let mut last = 0;
            for p in points {
                reads.push(&stream[last..p]);
                last = p;
            }
            reads.push(&stream[last..]);
            prop_assert_eq!(decode_reads(&reads).unwrap(), whole);
        }

        #[test]
        fn arbitrary_messages_round_trip(
            values in prop::collection::vec(header_value(), 0..8),
            payload in prop::collection::vec(any::<u8>(), 0..200),
            cut in any::<usize>(),
        ) {
            let names: Vec<String> = (0..values.len()).map(|i| format!(":h{i}")).collect();
            let headers: Vec<Header<'_>> = names
                .iter()
                .zip(&values)
                .map(|(n, v)| Header { name: n, value: v.as_value_ref() })
                .collect();
            let mut out = Vec::new();
            encode_message(&mut out, &headers, &payload).unwrap();
            let cut = cut % (out.len() + 1);
            let got = decode_reads(&[&out[..cut], &out[cut..]]).unwrap();
            prop_assert_eq!(got.len(), 1);
            let want: Vec<(String, HeaderValue)> = names.into_iter().zip(values).collect();
            prop_assert_eq!(&got[0].headers, &want);
            prop_assert_eq!(&got[0].payload[..], &payload[..]);
        }

        #[test]
        fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512), cut in any::<usize>()) {
            let cut = cut % (data.len() + 1);
            let mut dec = EventStreamDecoder::new();
            for read in [&data[..cut], &data[cut..]] {
                dec.push(read);
                while let Ok(Some(_)) = dec.next_message() {}
            }
            let _ = dec.finish();
        }

        #[test]
        fn random_header_blocks_with_valid_crcs_never_panic(
            block in prop::collection::vec(any::<u8>(), 0..200),
            payload in prop::collection::vec(any::<u8>(), 0..20),
        ) {
            // Valid framing around garbage headers: exercises the header parser itself.
            let total = 16 + block.len() + payload.len();
            let mut frame = prelude(total as u32, block.len() as u32);
            frame.extend_from_slice(&block);
            frame.extend_from_slice(&payload);
            frame.extend_from_slice(&[0; 4]);
            fix_crcs(&mut frame);
            if let Ok(m) = decode_one(&frame) {
                // Whatever parsed must encode back to the same bytes.
                let mut again = Vec::new();
                m.encode(&mut again).unwrap();
                prop_assert_eq!(again, frame);
            }
        }

        #[test]
        fn mutated_vectors_never_panic(idx in 0usize..5, pos in any::<usize>(), byte in any::<u8>(), fix in any::<bool>()) {
            let mut frame = vectors()[idx].message.clone();
            let pos = pos % frame.len();
            frame[pos] = byte;
            if fix {
                fix_crcs(&mut frame);
            }
            let _ = decode_one(&frame);
        }
    }
}
