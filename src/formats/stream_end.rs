//! What ends a same-format stream, watched in the relayed bytes.
//!
//! The passthrough pump relays an upstream's stream untouched and decodes none of it, so on its
//! own it cannot tell a finished stream from one whose body simply stopped early (a proxy on
//! the way that closed its chunked body cleanly, a provider that gave up). [`EndWatch`] looks
//! for each format's end marker (PROTOCOLS 8.1) in the bytes as they pass, without copying or
//! allocating, and tells the pump where the relayed bytes stand when the body ends or fails:
//!
//! - the marker was seen: the stream is whole, end it cleanly;
//! - not seen, and the bytes end between two events: append the client format's in-stream error
//!   (the same one a translated stream gets), then end cleanly;
//! - not seen, and the bytes end inside an event: no error event can follow without corrupting
//!   it, so the client's body is cut (no final chunk), which every SDK reports as an error.
//!
//! Markers are recognised two ways. SSE line heads: the first bytes of each line are kept
//! (`data: [DONE]`, `event: message_stop`, `data: {"error"`), which also tells where events end.
//! Needles: quoted JSON tokens found with `memmem` (`"finish_reason":` followed by a string,
//! `"message-end"`); a quoted token cannot match inside a JSON string, where its quotes would be
//! escaped. Event-stream markers are header bytes (`-type`, type 7, then the value's length and
//! `metadata`), which JSON payloads cannot hold raw. InvokeModel streams carry the model's events
//! base64-encoded; their end is the invocation metrics Bedrock adds to the last chunk, found as
//! its key's base64 at each of the three alignments.

use crate::canonical::stream::StreamEncode;
use crate::canonical::{ChatRequest, FaultKind};
use memchr::memmem::Finder;
use std::sync::LazyLock;

/// Which end marker a same-format stream has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndMark {
    /// Chat Completions and legacy completions: `data: [DONE]`, or, for the compatible servers
    /// that omit it (the SDK tolerates that, PROTOCOLS 2.4 rule 1), a chunk with a non-null
    /// `finish_reason`; an error chunk ends it too.
    OpenAiChat,
    /// Responses API: `response.completed`, `response.incomplete`, `response.failed`, or `error`.
    OpenAiResponses,
    /// `event: message_stop` or `event: error` (the SDK reads no event without its `event:` line).
    Anthropic,
    /// A chunk with a `finishReason`, or an error chunk (`data: {"error"`).
    Gemini,
    /// No marker the watch can see: Gemini's JSON-array stream (without `alt=sse`), whose `]` a
    /// client's parser checks itself, and a body compressed although Sluice asked for identity.
    /// Relayed as it ends; a failed body is cut.
    Unwatched,
    /// `message-end` (with `finish_reason: ERROR` for errors too).
    CohereV2,
    /// Cohere v1's JSON lines: `stream-end`.
    CohereV1,
    /// ConverseStream frames: `messageStop` (then `metadata`), or an exception frame.
    BedrockConverse,
    /// InvokeModelWithResponseStream frames: the chunk with the invocation metrics, or an
    /// exception frame.
    BedrockInvoke,
}

/// How a relayed stream must end, once its upstream body has ended or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The end marker went by: the client has the whole stream.
    Whole,
    /// Cut short between two events: the client format's in-stream error, then a clean end.
    ReportError,
    /// Cut short inside an event (or in a form with no error event to add): cut the body.
    CutBody,
}

/// Room for the bytes kept from the end of what was scanned, so a needle split between two
/// pieces is found: at least any needle with its tail.
const CARRY: usize = 64;

/// A quoted token to find in the relayed bytes.
struct Needle {
    finder: &'static LazyLock<Finder<'static>>,
    /// What must follow the token (after up to two spaces when `spaces`); empty: the token alone,
    /// an end.
    tails: &'static [Tail],
    spaces: bool,
}

/// What may follow a needle's token, and what the whole says.
struct Tail {
    bytes: &'static [u8],
    seen: Seen,
}

impl Tail {
    const fn end(bytes: &'static [u8]) -> Tail {
        Tail { bytes, seen: Seen::End }
    }

    const fn error(bytes: &'static [u8]) -> Tail {
        Tail {
            bytes,
            seen: Seen::Error,
        }
    }
}

/// A marker that went by: the stream's end, or the upstream's error event (which ends it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    End,
    Error,
}

impl Needle {
    /// A token that is a marker by itself.
    const fn token(finder: &'static LazyLock<Finder<'static>>) -> Needle {
        Needle {
            finder,
            tails: &[],
            spaces: false,
        }
    }

    /// The most bytes a match covers, tail included.
    fn span(&self) -> usize {
        let spaces = if self.spaces { 2 } else { 0 };
        let tail = self.tails.iter().map(|t| t.bytes.len()).max().unwrap_or(0);
        (self.finder.needle().len() + spaces + tail).min(CARRY)
    }
}

static FINISH_REASON: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"finish_reason\":"));
static FINISH_REASON_GEMINI: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"finishReason\":"));
static RESPONSE_EVENT: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"response."));
static MESSAGE_END: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"message-end\""));
static STREAM_END: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"stream-end\""));
/// The end of an event-stream header name (`:event-type`, `:message-type`) and its string type
/// (7) with the high byte of the value's length: a marker's value follows.
static HEADER_VALUE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"-type\x07\x00"));
/// `"amazon-bedrock-invocationMetrics"` in base64, starting at each of the three alignments
/// (the whole 3-byte groups of the key; see the test that derives them).
static METRICS_B64: [LazyLock<Finder<'static>>; 3] = [
    LazyLock::new(|| Finder::new(b"ImFtYXpvbi1iZWRyb2NrLWludm9jYXRpb25NZXRyaWNz")),
    LazyLock::new(|| Finder::new(b"YW1hem9uLWJlZHJvY2staW52b2NhdGlvbk1ldHJpY3Mi")),
    LazyLock::new(|| Finder::new(b"bWF6b24tYmVkcm9jay1pbnZvY2F0aW9uTWV0cmlj")),
];

const OPENAI_NEEDLES: &[Needle] = &[Needle {
    finder: &FINISH_REASON,
    tails: &[Tail::end(b"\"")],
    spaces: true,
}];
const RESPONSES_NEEDLES: &[Needle] = &[Needle {
    finder: &RESPONSE_EVENT,
    tails: &[
        Tail::end(b"completed\""),
        Tail::end(b"incomplete\""),
        Tail::error(b"failed\""),
    ],
    spaces: false,
}];
const GEMINI_NEEDLES: &[Needle] = &[Needle {
    finder: &FINISH_REASON_GEMINI,
    tails: &[Tail::end(b"\"")],
    spaces: true,
}];
const COHERE_V2_NEEDLES: &[Needle] = &[Needle::token(&MESSAGE_END)];
const COHERE_V1_NEEDLES: &[Needle] = &[Needle::token(&STREAM_END)];
/// Cohere's end event with the finish that reports an error (v1 and v2 alike). Looked for only
/// in the end event, once its token went by: a stream pays for one search per read, not two.
const COHERE_ERROR: &[Needle] = &[Needle {
    finder: &FINISH_REASON,
    tails: &[Tail::error(b"\"ERROR\"")],
    spaces: true,
}];
const CONVERSE_NEEDLES: &[Needle] = &[Needle {
    finder: &HEADER_VALUE,
    tails: &[
        Tail::end(b"\x0bmessageStop"),
        Tail::end(b"\x08metadata"),
        Tail::error(b"\x09exception"),
    ],
    spaces: false,
}];
const INVOKE_NEEDLES: &[Needle] = &[
    Needle {
        finder: &HEADER_VALUE,
        tails: &[Tail::error(b"\x09exception")],
        spaces: false,
    },
    Needle::token(&METRICS_B64[0]),
    Needle::token(&METRICS_B64[1]),
    Needle::token(&METRICS_B64[2]),
];

/// Watches one relayed stream for its end marker and for where its events end.
pub struct EndWatch {
    mark: EndMark,
    needles: &'static [Needle],
    /// The end marker went by.
    ended: bool,
    /// The marker that went by was the upstream's error event.
    errored: bool,
    /// Cohere's end event went by and has not ended yet: its finish may still say `ERROR`.
    in_cohere_end: bool,
    /// SSE line state (SSE formats only).
    lines: Option<LineScan>,
    /// Event-stream frame state (Bedrock only).
    frames: Option<FrameWalk>,
    /// The last byte relayed (`None`: nothing yet); JSON lines end at `\n`.
    last: Option<u8>,
    /// The most bytes a needle with its tail covers (at most `CARRY`).
    span: usize,
    /// The last bytes of the event under way (`span - 1` at most), for the seam search.
    carry: [u8; CARRY],
    carry_len: usize,
}

impl EndWatch {
    pub fn new(mark: EndMark) -> EndWatch {
        let sse = !matches!(
            mark,
            EndMark::CohereV1 | EndMark::BedrockConverse | EndMark::BedrockInvoke | EndMark::Unwatched
        );
        let needles = match mark {
            EndMark::OpenAiChat => OPENAI_NEEDLES,
            EndMark::OpenAiResponses => RESPONSES_NEEDLES,
            EndMark::Anthropic | EndMark::Unwatched => &[],
            EndMark::Gemini => GEMINI_NEEDLES,
            EndMark::CohereV2 => COHERE_V2_NEEDLES,
            EndMark::CohereV1 => COHERE_V1_NEEDLES,
            EndMark::BedrockConverse => CONVERSE_NEEDLES,
            EndMark::BedrockInvoke => INVOKE_NEEDLES,
        };
        let bedrock = matches!(mark, EndMark::BedrockConverse | EndMark::BedrockInvoke);
        // Cohere's end event is searched for its error finish too (across reads as well).
        let cohere = matches!(mark, EndMark::CohereV1 | EndMark::CohereV2);
        let searched = needles.iter().chain(if cohere { COHERE_ERROR } else { &[] });
        EndWatch {
            mark,
            needles,
            ended: false,
            errored: false,
            in_cohere_end: false,
            lines: sse.then(LineScan::default),
            frames: bedrock.then(FrameWalk::default),
            last: None,
            span: searched.map(Needle::span).max().unwrap_or(1),
            carry: [0; CARRY],
            carry_len: 0,
        }
    }

    /// Feeds the next relayed piece. Returns the offset just past a `data: [DONE]` event that
    /// ends in this piece (OpenAI chat streams end there even if the upstream's body goes on).
    pub fn feed(&mut self, piece: &[u8]) -> Option<usize> {
        let &last = piece.last()?;
        if let Some(frames) = &mut self.frames {
            frames.walk(piece);
        }
        let needles = !self.ended && !self.needles.is_empty();
        if needles {
            if let Some(seen) = self.found_in(self.needles, piece) {
                self.saw(seen);
                self.in_cohere_end = self.is_cohere();
            }
        }
        self.last = Some(last);
        let mut done_at = None;
        if let Some(lines) = &mut self.lines {
            let (at, seen) = lines.scan(piece, self.mark);
            if let Some(seen) = seen {
                self.saw(seen);
            }
            done_at = at;
        }
        if self.in_cohere_end {
            if self.found_in(COHERE_ERROR, piece).is_some() {
                self.errored = true;
            }
            self.in_cohere_end = !self.errored && !self.between_events();
        }
        if (needles && !self.ended) || self.in_cohere_end {
            // No needle spans an event's end (JSON tokens hold no line end; event-stream headers
            // sit inside one frame), so the seam is kept only while an event is under way: with
            // one event per read, as streams mostly come, there is none to search.
            if self.between_events() {
                self.carry_len = 0;
            } else {
                self.keep_tail(piece);
            }
        }
        done_at
    }

    fn saw(&mut self, seen: Seen) {
        self.ended = true;
        self.errored |= seen == Seen::Error;
    }

    /// The end marker went by.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The stream ended with the upstream's own error event (relayed as it came): the client
    /// got an in-stream error all the same, to count as one.
    pub fn relayed_error(&self) -> bool {
        self.errored
    }

    /// The status the relayed error event stands for, as a translated stream's decoder reads it,
    /// found in `last` (the last bytes relayed: an error event ends its stream, and comes whole
    /// in one read as a rule); 500 when it is not there whole.
    pub fn error_status(&self, last: &[bytes::Bytes]) -> u16 {
        let joined;
        let hay: &[u8] = match last {
            [one] => one,
            _ => {
                joined = last.concat();
                &joined
            }
        };
        error_status_in(self.mark, hay).unwrap_or(500)
    }

    /// How the client's stream must end now that the upstream's body has ended (cleanly, or
    /// with a read error: `failed`).
    pub fn ending(&self, failed: bool) -> Ending {
        if self.mark == EndMark::Unwatched {
            // A clean body end is relayed as it is (a Gemini array's `]` is the end its client
            // checks); a failed one is cut (nothing readable can follow unknown bytes).
            return if failed { Ending::CutBody } else { Ending::Whole };
        }
        if self.ended {
            return Ending::Whole;
        }
        if self.between_events() {
            Ending::ReportError
        } else {
            Ending::CutBody
        }
    }

    /// Appends the client format's in-stream error (what a translated stream's encoder writes).
    pub fn write_error(&self, status: u16, message: &str, out: &mut Vec<u8>) {
        use super::{anthropic, bedrock, cohere, gemini, openai};
        let req = ChatRequest::default();
        match self.mark {
            EndMark::OpenAiChat => openai::stream::write_stream_error(status, message, out),
            EndMark::OpenAiResponses => {
                let sequence = self.lines.as_ref().map_or(0, |l| l.events);
                write_responses_error(status, message, sequence, out);
            }
            EndMark::Anthropic => anthropic::stream::AnthropicStreamEncoder::new(&req).error(status, message, out),
            EndMark::Gemini => gemini::stream::GeminiStreamEncoder::new(&req).error(status, message, out),
            EndMark::Unwatched => {}
            EndMark::CohereV2 => cohere::stream::CohereStreamEncoder::after_start().error(status, message, out),
            EndMark::CohereV1 => cohere::v1chat::V1StreamEncoder::after_start().error(status, message, out),
            EndMark::BedrockConverse => bedrock::stream::exception_frame(status, message, false, out),
            EndMark::BedrockInvoke => bedrock::stream::exception_frame(status, message, true, out),
        }
    }

    fn is_cohere(&self) -> bool {
        matches!(self.mark, EndMark::CohereV1 | EndMark::CohereV2)
    }

    /// One of `needles` in `piece`, or across the seam between the bytes before it and it.
    fn found_in(&self, needles: &[Needle], piece: &[u8]) -> Option<Seen> {
        if self.carry_len > 0 {
            let head = piece.len().min(self.span - 1);
            let mut seam = [0u8; 2 * CARRY];
            seam[..self.carry_len].copy_from_slice(&self.carry[..self.carry_len]);
            seam[self.carry_len..self.carry_len + head].copy_from_slice(&piece[..head]);
            if let Some(seen) = found(needles, &seam[..self.carry_len + head]) {
                return Some(seen);
            }
        }
        found(needles, piece)
    }

    /// Keeps the last `span - 1` bytes of the event under way (a needle and its tail cut by the
    /// end of `piece` start there).
    fn keep_tail(&mut self, piece: &[u8]) {
        let room = self.span - 1;
        if piece.len() >= room {
            self.carry[..room].copy_from_slice(&piece[piece.len() - room..]);
            self.carry_len = room;
        } else {
            let keep = (room - piece.len()).min(self.carry_len);
            self.carry.copy_within(self.carry_len - keep..self.carry_len, 0);
            self.carry[keep..keep + piece.len()].copy_from_slice(piece);
            self.carry_len = keep + piece.len();
        }
    }

    /// Whether the bytes so far end between two events (or frames, or JSON lines).
    fn between_events(&self) -> bool {
        match (&self.lines, &self.frames) {
            (Some(lines), _) => lines.between_events(),
            (_, Some(frames)) => frames.between_frames(),
            _ => matches!(self.last, None | Some(b'\n')),
        }
    }
}

/// The first needle in `hay` with one of its tails after it. A tail cut off by the end of `hay`
/// does not count here; the seam search meets it again with the next piece.
fn found(needles: &[Needle], hay: &[u8]) -> Option<Seen> {
    needles.iter().find_map(|n| {
        let len = n.finder.needle().len();
        n.finder.find_iter(hay).find_map(|at| {
            let mut rest = &hay[at + len..];
            if n.spaces {
                for _ in 0..2 {
                    match rest.split_first() {
                        Some((b' ', r)) => rest = r,
                        _ => break,
                    }
                }
            }
            if n.tails.is_empty() {
                return Some(Seen::End);
            }
            n.tails.iter().find(|t| rest.starts_with(t.bytes)).map(|t| t.seen)
        })
    })
}

/// The status of the last error event in `hay`, read as `mark`'s decoder reads it; `None` when
/// no whole one is there.
fn error_status_in(mark: EndMark, hay: &[u8]) -> Option<u16> {
    use super::{anthropic, bedrock, gemini, openai};
    use memchr::memmem::rfind;
    // An SSE data line's JSON, from its opening token to the line's end.
    let json_from = |token: &[u8]| {
        let at = rfind(hay, token)?;
        let rest = &hay[at..];
        let end = memchr::memchr2(b'\n', b'\r', rest)?;
        Some(&rest[..end])
    };
    match mark {
        EndMark::OpenAiChat => json_from(b"{\"error\"").map(openai::stream::error_chunk_status),
        EndMark::Gemini => json_from(b"{\"error\"").map(gemini::stream::error_chunk_status),
        EndMark::Anthropic => json_from(b"{\"type\":\"error\"").map(anthropic::stream::error_event_status),
        EndMark::BedrockConverse | EndMark::BedrockInvoke => {
            // The `:exception-type` header: name, string type (7), the value's length, the value.
            const NAME: &[u8] = b"\x0f:exception-type\x07";
            let rest = &hay[rfind(hay, NAME)? + NAME.len()..];
            let len = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize;
            let name = std::str::from_utf8(rest.get(2..2 + len)?).ok()?;
            Some(bedrock::stream::status_of_exception(name))
        }
        // Their decoders read every error event as a 500.
        EndMark::OpenAiResponses | EndMark::CohereV2 | EndMark::CohereV1 | EndMark::Unwatched => None,
    }
}

/// The Responses API's `error` event, numbered after the events relayed before it.
fn write_responses_error(status: u16, message: &str, sequence: u32, out: &mut Vec<u8>) {
    let code = match FaultKind::from_status(status) {
        FaultKind::RateLimited => "rate_limit_exceeded",
        FaultKind::InvalidRequest => "invalid_prompt",
        _ => "server_error",
    };
    out.extend_from_slice(b"event: error\ndata: {\"type\":\"error\",\"code\":\"");
    out.extend_from_slice(code.as_bytes());
    out.extend_from_slice(b"\",\"message\":");
    out.extend_from_slice(
        sonic_rs::to_string(message)
            .unwrap_or_else(|_| "\"\"".into())
            .as_bytes(),
    );
    out.extend_from_slice(b",\"param\":null,\"sequence_number\":");
    out.extend_from_slice(sequence.to_string().as_bytes());
    out.extend_from_slice(b"}\n\n");
}

/// SSE line state: the head of the current line, and where events end.
///
/// Keeps only each line's first bytes (enough for the markers), so it holds no buffer and
/// allocates nothing; lines are skipped with `memchr`.
#[derive(Default)]
struct LineScan {
    /// Bytes of the current line seen so far, up to `line.len()`.
    line: [u8; 24],
    line_len: usize,
    /// Bytes of the current line beyond what `line` holds.
    overflow: bool,
    /// The previous byte was CR (a following LF belongs to the same line end).
    after_cr: bool,
    /// A `data: [DONE]` line was completed; its event ends at the next empty line.
    done_pending: bool,
    /// The current event has a line (an empty line then ends it).
    in_event: bool,
    /// Events ended so far.
    events: u32,
}

impl LineScan {
    /// Whether the bytes so far end between two events: no event is open and no line is under
    /// way (a final CR counts as a line end).
    fn between_events(&self) -> bool {
        !self.in_event && self.line_len == 0 && !self.overflow
    }

    /// Scans a piece: the offset just past a `[DONE]` event ending here, and the last end (or
    /// error) marker's line that went by.
    fn scan(&mut self, piece: &[u8], mark: EndMark) -> (Option<usize>, Option<Seen>) {
        let mut marked = None;
        let mut i = 0;
        while i < piece.len() {
            let b = piece[i];
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    i += 1;
                    continue;
                }
            }
            if b == b'\n' || b == b'\r' {
                self.after_cr = b == b'\r';
                let empty = self.line_len == 0 && !self.overflow;
                if empty {
                    if self.in_event {
                        self.in_event = false;
                        self.events = self.events.saturating_add(1);
                    }
                    if self.done_pending {
                        // Include a LF that completes this CRLF, if it is in this piece.
                        let end = if b == b'\r' && piece.get(i + 1) == Some(&b'\n') {
                            self.after_cr = false;
                            i + 2
                        } else {
                            i + 1
                        };
                        return (Some(end), marked);
                    }
                } else {
                    self.in_event = true;
                    match line_marker(&self.line[..self.line_len], mark) {
                        LineMarker::Done => {
                            self.done_pending = true;
                            marked = Some(marked.unwrap_or(Seen::End));
                        }
                        LineMarker::End => marked = Some(marked.unwrap_or(Seen::End)),
                        LineMarker::Error => marked = Some(Seen::Error),
                        LineMarker::None => {}
                    }
                }
                self.line_len = 0;
                self.overflow = false;
                i += 1;
                continue;
            }
            // Jump to the next line end, copying only the head of the line.
            let end = memchr::memchr2(b'\n', b'\r', &piece[i..]).map_or(piece.len(), |j| i + j);
            let take = (end - i).min(self.line.len() - self.line_len);
            self.line[self.line_len..self.line_len + take].copy_from_slice(&piece[i..i + take]);
            self.line_len += take;
            if end - i > take {
                self.overflow = true;
            }
            i = end;
        }
        (None, marked)
    }
}

enum LineMarker {
    /// `data: [DONE]`: the stream ends with this event.
    Done,
    /// The format's end event.
    End,
    /// The format's error event (which ends the stream too).
    Error,
    None,
}

/// What a line's head says about the stream's end, in `mark`'s format. Only whole lines that fit
/// the head are read (`overflow` lines are longer than every marker line but a data line, whose
/// head alone matters).
fn line_marker(head: &[u8], mark: EndMark) -> LineMarker {
    let field = |name: &[u8]| -> Option<&[u8]> {
        let rest = head.strip_prefix(name)?.strip_prefix(b":")?;
        Some(rest.strip_prefix(b" ").unwrap_or(rest))
    };
    match mark {
        EndMark::OpenAiChat => match field(b"data") {
            Some(v) if v.starts_with(b"[DONE]") && v[6..].iter().all(|b| *b == b' ') => LineMarker::Done,
            Some(v) if v.starts_with(b"{\"error\"") => LineMarker::Error,
            _ => LineMarker::None,
        },
        EndMark::Gemini => match field(b"data") {
            Some(v) if v.starts_with(b"{\"error\"") => LineMarker::Error,
            _ => LineMarker::None,
        },
        EndMark::Anthropic => match field(b"event") {
            Some(b"message_stop") => LineMarker::End,
            Some(b"error") => LineMarker::Error,
            _ => LineMarker::None,
        },
        EndMark::OpenAiResponses => match field(b"event") {
            Some(b"error") => LineMarker::Error,
            _ => LineMarker::None,
        },
        _ => LineMarker::None,
    }
}

/// Event-stream frame boundaries: each frame starts with its total length (PROTOCOLS 6.1).
#[derive(Default)]
struct FrameWalk {
    /// Bytes of the current frame still to come after its length field.
    rest: usize,
    /// The current frame's length field, as far as it has arrived.
    length: [u8; 4],
    length_len: usize,
    /// A length shorter than a frame's fixed parts: nothing after it can be trusted.
    broken: bool,
}

impl FrameWalk {
    fn walk(&mut self, mut piece: &[u8]) {
        while !piece.is_empty() && !self.broken {
            if self.rest > 0 {
                let skip = self.rest.min(piece.len());
                self.rest -= skip;
                piece = &piece[skip..];
                continue;
            }
            let take = (4 - self.length_len).min(piece.len());
            self.length[self.length_len..self.length_len + take].copy_from_slice(&piece[..take]);
            self.length_len += take;
            piece = &piece[take..];
            if self.length_len == 4 {
                self.length_len = 0;
                // Prelude (12) and message CRC (4) at least.
                match u32::from_be_bytes(self.length) as usize {
                    n if n >= 16 => self.rest = n - 4,
                    _ => self.broken = true,
                }
            }
        }
    }

    fn between_frames(&self) -> bool {
        self.rest == 0 && self.length_len == 0 && !self.broken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::stream::testing::sample_response;
    use crate::canonical::stream::{events_from_response, StreamDecode};
    use crate::formats::bedrock::invoke::InvokeFamily;
    use crate::formats::bedrock::invoke_prompt::PromptFamily;
    use crate::formats::{self, Format};

    /// Feeds `pieces`; returns (the `[DONE]` cut as an offset into their concatenation, ended,
    /// the ending after a clean body end).
    fn watch(mark: EndMark, pieces: &[&[u8]]) -> (Option<usize>, bool, Ending) {
        let (cut, ended, ending, _) = crate::fuzz::end_watch_run(mark, pieces);
        (cut, ended, ending)
    }

    /// A whole stream of the sample answer in `mark`'s format, with the offsets where each
    /// encoded event ends.
    fn sample_stream(mark: EndMark, family: Option<InvokeFamily>) -> (Vec<u8>, Vec<usize>) {
        let req = ChatRequest {
            stream: true,
            ..Default::default()
        };
        let mut enc: Box<dyn StreamEncode> = match mark {
            EndMark::OpenAiChat => formats::stream_encoder(Format::OpenAi, false, &req),
            EndMark::OpenAiResponses => Box::new(formats::openai::responses::ResponsesStreamEncoder::new(&req, b"{}")),
            EndMark::Anthropic => formats::stream_encoder(Format::Anthropic, false, &req),
            EndMark::Gemini => formats::stream_encoder(Format::Gemini, false, &req),
            EndMark::Unwatched => Box::new(formats::gemini::stream::GeminiStreamEncoder::json_array(&req)),
            EndMark::CohereV2 => formats::stream_encoder(Format::Cohere, false, &req),
            EndMark::CohereV1 => Box::new(formats::cohere::v1chat::V1StreamEncoder::new(b"{}")),
            EndMark::BedrockConverse => formats::stream_encoder(Format::Bedrock, false, &req),
            EndMark::BedrockInvoke => {
                formats::bedrock::invoke_stream::stream_encoder(family.expect("a family"), &req, b"{}")
            }
        };
        let mut out = Vec::new();
        let mut ends = Vec::new();
        for e in events_from_response(&sample_response(), 3) {
            enc.encode(&e, &mut out);
            if ends.last() != Some(&out.len()) && !out.is_empty() {
                ends.push(out.len());
            }
        }
        enc.finish(&mut out);
        if ends.last() != Some(&out.len()) {
            ends.push(out.len());
        }
        if matches!(mark, EndMark::BedrockConverse | EndMark::BedrockInvoke) {
            // One encode may write several frames: every frame's end, from their lengths.
            ends.clear();
            let mut at = 0;
            while at < out.len() {
                at += u32::from_be_bytes(out[at..at + 4].try_into().unwrap()) as usize;
                ends.push(at);
            }
            assert_eq!(at, out.len());
        }
        (out, ends)
    }

    /// The format's own stream decoder, where one reads this form: its verdict on a body that
    /// ends after `bytes` is the truth for a watch at an event's end.
    fn decoder(mark: EndMark) -> Option<Box<dyn StreamDecode>> {
        Some(match mark {
            EndMark::OpenAiChat => formats::stream_decoder(Format::OpenAi),
            EndMark::OpenAiResponses => Box::new(formats::openai::responses_upstream::ResponsesStreamDecoder::new()),
            EndMark::Anthropic => formats::stream_decoder(Format::Anthropic),
            EndMark::Gemini => formats::stream_decoder(Format::Gemini),
            EndMark::CohereV2 => formats::stream_decoder(Format::Cohere),
            EndMark::BedrockConverse => formats::stream_decoder(Format::Bedrock),
            _ => return None,
        })
    }

    fn decodes_complete(mark: EndMark, bytes: &[u8]) -> Option<bool> {
        let mut d = decoder(mark)?;
        d.push(bytes::Bytes::copy_from_slice(bytes));
        while let Ok(Some(_)) = d.next_event() {}
        Some(d.finish().is_ok())
    }

    /// Whether `prefix` ends where an event of its form ends (for the encoders that write
    /// several wire events per canonical one). Bedrock's frame ends are all in `ends`.
    fn event_end(mark: EndMark, prefix: &[u8]) -> bool {
        match mark {
            EndMark::CohereV1 => prefix.ends_with(b"\n"),
            EndMark::BedrockConverse | EndMark::BedrockInvoke => false,
            // A lone CR ends a line too (PROTOCOLS 1.2).
            _ => prefix.ends_with(b"\n\n") || prefix.ends_with(b"\r\n\r\n") || prefix.ends_with(b"\r\n\r"),
        }
    }

    const MARKS: [EndMark; 8] = [
        EndMark::OpenAiChat,
        EndMark::OpenAiResponses,
        EndMark::Anthropic,
        EndMark::Gemini,
        EndMark::CohereV2,
        EndMark::CohereV1,
        EndMark::BedrockConverse,
        EndMark::BedrockInvoke,
    ];

    fn families(mark: EndMark) -> Vec<Option<InvokeFamily>> {
        if mark != EndMark::BedrockInvoke {
            return vec![None];
        }
        [
            InvokeFamily::Anthropic,
            InvokeFamily::Nova,
            InvokeFamily::CohereCommandR,
            InvokeFamily::OpenAi,
            InvokeFamily::Prompt(PromptFamily::Llama),
            InvokeFamily::Prompt(PromptFamily::Mistral),
            InvokeFamily::Prompt(PromptFamily::TitanText),
            InvokeFamily::Prompt(PromptFamily::DeepSeek),
        ]
        .into_iter()
        .map(Some)
        .collect()
    }

    #[test]
    fn every_whole_stream_ends_at_every_split_and_one_byte_at_a_time() {
        for mark in MARKS {
            for family in families(mark) {
                let (bytes, _) = sample_stream(mark, family);
                let whole = watch(mark, &[&bytes]);
                assert!(whole.1, "{mark:?} {family:?}: {}", String::from_utf8_lossy(&bytes));
                assert_eq!(whole.2, Ending::Whole);
                for cut in 0..=bytes.len() {
                    let (a, b) = bytes.split_at(cut);
                    assert_eq!(watch(mark, &[a, b]), whole, "{mark:?} {family:?} split at {cut}");
                }
                let singles: Vec<&[u8]> = bytes.chunks(1).collect();
                let one = watch(mark, &singles);
                assert_eq!((one.1, one.2), (whole.1, whole.2), "{mark:?} {family:?} byte by byte");
            }
        }
    }

    #[test]
    fn a_stream_cut_short_is_reported_between_events_and_cut_inside_one() {
        for mark in MARKS {
            for family in families(mark) {
                let (bytes, ends) = sample_stream(mark, family);
                let mut reported = 0;
                for len in 0..bytes.len() {
                    let prefix = &bytes[..len];
                    let (_, ended, ending) = watch(mark, &[prefix]);
                    let singles: Vec<&[u8]> = prefix.chunks(1).collect();
                    assert_eq!(
                        watch(mark, &singles).2,
                        ending,
                        "{mark:?} {family:?} at {len} byte by byte"
                    );
                    let boundary = len == 0 || ends.contains(&len) || event_end(mark, prefix);
                    if ended {
                        assert_eq!(ending, Ending::Whole);
                    } else if boundary {
                        assert_eq!(ending, Ending::ReportError, "{mark:?} {family:?} at {len}");
                        reported += 1;
                    } else {
                        assert_eq!(
                            ending,
                            Ending::CutBody,
                            "{mark:?} {family:?} at {len}: {:?}",
                            String::from_utf8_lossy(&prefix[len.saturating_sub(30)..])
                        );
                    }
                    // At an event's end the format's own decoder agrees on whether it is whole.
                    if boundary && len > 0 {
                        if let Some(complete) = decodes_complete(mark, prefix) {
                            assert_eq!(
                                complete,
                                ended,
                                "{mark:?} at {len}: {}",
                                String::from_utf8_lossy(prefix)
                            );
                        }
                    }
                }
                assert!(reported >= 3, "{mark:?} {family:?}: {reported}");
            }
        }
    }

    #[test]
    fn a_failed_body_is_whole_after_the_end_and_else_like_a_clean_one() {
        let (bytes, ends) = sample_stream(EndMark::Anthropic, None);
        let mut w = EndWatch::new(EndMark::Anthropic);
        w.feed(&bytes[..ends[2]]);
        assert_eq!(w.ending(true), Ending::ReportError);
        w.feed(&bytes[ends[2]..ends[2] + 3]);
        assert_eq!(w.ending(true), Ending::CutBody);
        w.feed(&bytes[ends[2] + 3..]);
        assert_eq!(w.ending(true), Ending::Whole);
    }

    #[test]
    fn an_unwatched_stream_is_relayed_as_it_ends() {
        let (bytes, _) = sample_stream(EndMark::Unwatched, None);
        let mut w = EndWatch::new(EndMark::Unwatched);
        w.feed(&bytes[..bytes.len() / 2]);
        assert_eq!(w.ending(false), Ending::Whole, "the missing `]` is the client's to see");
        assert_eq!(w.ending(true), Ending::CutBody);
    }

    #[test]
    fn markers_inside_strings_and_null_finishes_do_not_end_a_stream() {
        let cases: &[(EndMark, &[u8])] = &[
            (
                EndMark::OpenAiChat,
                b"data: {\"t\":\"data: [DONE]\"}\n\ndata: [DONE]x\n\n",
            ),
            (
                EndMark::OpenAiChat,
                b"data: {\"choices\":[{\"finish_reason\":null}]}\n\n",
            ),
            (
                EndMark::OpenAiChat,
                b"data: {\"c\":\"\\\"finish_reason\\\":\\\"stop\\\"\"}\n\n",
            ),
            (
                EndMark::Gemini,
                b"data: {\"text\":\"{\\\"error\\\":1} \\\"finishReason\\\": \\\"STOP\\\"\"}\r\n\r\n",
            ),
            (
                EndMark::Anthropic,
                b"event: content_block_delta\ndata: {\"type\":\"message_stop\"}\n\n",
            ),
            (
                EndMark::CohereV2,
                b"event: content-delta\ndata: {\"text\":\"\\\"message-end\\\"\"}\n\n",
            ),
            (
                EndMark::OpenAiResponses,
                b"event: x\ndata: {\"type\":\"response.completed.not\"}\n\n",
            ),
        ];
        for (mark, bytes) in cases {
            let (cut, ended, ending) = watch(*mark, &[bytes]);
            assert_eq!((cut, ended, ending), (None, false, Ending::ReportError), "{mark:?}");
        }
        // Compatible servers write JSON with spaces.
        let spaced = b"data: {\"choices\": [{\"finish_reason\": \"stop\"}]}\n\n";
        assert!(watch(EndMark::OpenAiChat, &[spaced]).1);
    }

    const STREAM: &[u8] = b"data: {\"a\":1}\n\ndata: [DONE]\n\nextra";

    #[test]
    fn done_ends_an_openai_stream_at_every_split() {
        for cut in 0..STREAM.len() {
            let (a, b) = STREAM.split_at(cut);
            assert_eq!(
                watch(EndMark::OpenAiChat, &[a, b]).0,
                Some(STREAM.len() - 5),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn done_with_crlf_one_byte_at_a_time() {
        let stream = b"data: x\r\n\r\ndata: [DONE]\r\n\r\n";
        let singles: Vec<&[u8]> = stream.chunks(1).collect();
        // Fed one byte at a time, the event ends at the final CR: the LF is not in that piece,
        // and a lone CR already ends the line for every SSE decoder (PROTOCOLS 1.2).
        assert_eq!(watch(EndMark::OpenAiChat, &singles).0, Some(stream.len() - 1));
        assert_eq!(
            watch(EndMark::OpenAiChat, &[stream]).0,
            Some(stream.len()),
            "whole input keeps the LF"
        );
    }

    #[test]
    fn error_events_are_each_formats_own() {
        let text = |mark| {
            let mut out = Vec::new();
            EndWatch::new(mark).write_error(502, "upstream stream ended before it was complete", &mut out);
            String::from_utf8_lossy(&out).into_owned()
        };
        assert!(text(EndMark::OpenAiChat).starts_with("data: {\"error\":{\"message\":\"upstream stream ended"));
        assert!(text(EndMark::OpenAiChat).ends_with("\n\ndata: [DONE]\n\n"));
        assert!(text(EndMark::Anthropic)
            .starts_with("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\""));
        assert!(
            text(EndMark::Gemini).starts_with("data: {\"error\":{\"code\":5"),
            "{}",
            text(EndMark::Gemini)
        );
        assert!(text(EndMark::CohereV2)
            .starts_with("event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"ERROR\""));
        assert!(
            text(EndMark::CohereV1).starts_with("{\"is_finished\":true,\"event_type\":\"stream-end\""),
            "{}",
            text(EndMark::CohereV1)
        );
        let mut w = EndWatch::new(EndMark::OpenAiResponses);
        w.feed(b"event: response.created\ndata: {}\n\nevent: response.in_progress\ndata: {}\n\n");
        let mut out = Vec::new();
        w.write_error(429, "slow down", &mut out);
        assert_eq!(
            out,
            b"event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow down\",\"param\":null,\"sequence_number\":2}\n\n"
        );
        for (mark, invoke) in [(EndMark::BedrockConverse, false), (EndMark::BedrockInvoke, true)] {
            let mut out = Vec::new();
            EndWatch::new(mark).write_error(502, "cut", &mut out);
            let mut expected = Vec::new();
            formats::bedrock::stream::exception_frame(502, "cut", invoke, &mut expected);
            assert_eq!(out, expected);
            // An exception frame is an end marker itself.
            assert!(watch(mark, &[&out]).1, "{mark:?}");
        }
    }

    #[test]
    fn an_upstream_error_event_ends_the_stream_as_an_error_with_its_status_at_every_split() {
        for mark in MARKS {
            for family in families(mark) {
                let (whole, ends) = sample_stream(mark, family);
                let mut w = EndWatch::new(mark);
                w.feed(&whole);
                assert!(!w.relayed_error(), "{mark:?} {family:?}: a whole stream is no error");
                // Two events, then the error event the format's encoder writes for a 429.
                let mut bytes = whole[..ends[1]].to_vec();
                EndWatch::new(mark).write_error(429, "slow down", &mut bytes);
                // The status the format's own decoder reads from it, where one reads the form;
                // Responses and Cohere decoders read every error event as a 500.
                let expected = match decoder(mark) {
                    Some(mut d) => {
                        d.push(bytes::Bytes::copy_from_slice(&bytes));
                        std::iter::from_fn(|| d.next_event().ok().flatten())
                            .find_map(|e| match e {
                                crate::canonical::stream::StreamEvent::Error { status, .. } => Some(status),
                                _ => None,
                            })
                            .expect("the decoder reads an error")
                    }
                    None => 429,
                };
                let expected = match mark {
                    EndMark::OpenAiResponses | EndMark::CohereV2 | EndMark::CohereV1 => 500,
                    _ => expected,
                };
                for cut in 0..=bytes.len() {
                    let (a, b) = bytes.split_at(cut);
                    let mut w = EndWatch::new(mark);
                    w.feed(a);
                    w.feed(b);
                    assert!(w.relayed_error(), "{mark:?} {family:?} split at {cut}");
                    assert_eq!(w.ending(false), Ending::Whole, "{mark:?} {family:?} split at {cut}");
                    let last = [bytes::Bytes::copy_from_slice(a), bytes::Bytes::copy_from_slice(b)];
                    assert_eq!(w.error_status(&last), expected, "{mark:?} {family:?} split at {cut}");
                }
                assert_eq!(
                    expected == 429,
                    !matches!(mark, EndMark::OpenAiResponses | EndMark::CohereV2 | EndMark::CohereV1),
                    "{mark:?}"
                );
            }
        }
        // A relayed `response.failed` is the upstream's error too; Cohere v1's filtered finish
        // is a finish.
        let mut w = EndWatch::new(EndMark::OpenAiResponses);
        w.feed(b"event: response.failed\ndata: {\"type\":\"response.failed\"}\n\n");
        assert!(w.relayed_error());
        let mut w = EndWatch::new(EndMark::CohereV1);
        w.feed(b"{\"is_finished\":true,\"event_type\":\"stream-end\",\"finish_reason\":\"ERROR_TOXIC\"}\n");
        assert!(w.ended() && !w.relayed_error());
    }

    #[test]
    fn every_needle_with_its_tail_fits_the_seam() {
        let sets = [
            OPENAI_NEEDLES,
            RESPONSES_NEEDLES,
            GEMINI_NEEDLES,
            COHERE_V2_NEEDLES,
            COHERE_V1_NEEDLES,
            COHERE_ERROR,
            CONVERSE_NEEDLES,
            INVOKE_NEEDLES,
        ];
        for n in sets.iter().flat_map(|s| s.iter()) {
            let tail = n.tails.iter().map(|t| t.bytes.len()).max().unwrap_or(0);
            assert!(n.finder.needle().len() + 2 + tail <= CARRY);
        }
    }

    #[test]
    fn metrics_needles_are_the_key_in_base64_at_every_alignment() {
        let key = b"\"amazon-bedrock-invocationMetrics\"";
        for pad in 0..3 {
            let mut json = b"{".repeat(pad + 3);
            json.extend_from_slice(key);
            json.extend_from_slice(b":{}}");
            let b64 = crate::wire::base64::encode(&json);
            assert!(
                METRICS_B64.iter().any(|f| f.find(b64.as_bytes()).is_some()),
                "alignment {pad}: {b64}"
            );
        }
        // And never in the base64 of other events.
        let other = crate::wire::base64::encode(br#"{"type":"content_block_delta","delta":{"text":"amazon-bedrock"}}"#);
        assert!(METRICS_B64.iter().all(|f| f.find(other.as_bytes()).is_none()));
    }
}
