//! Canonical stream events: what a stream decoder produces from upstream bytes and a stream
//! encoder turns into the client's format. One decoder and one encoder per request, inline in the
//! read loop; the per-chunk hook sees these events.

use super::{Extra, FinishReason, Usage};
use std::collections::VecDeque;

/// One step of a streamed answer. Block indices are the decoder's; encoders renumber as their
/// format requires (e.g. Anthropic needs contiguous indices from 0).
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// First event but for a `Usage` just before it (an upstream that counts the input from
    /// its first event on, so that encoders opening with it have it): the response id and model.
    Start { id: String, model: String },
    /// Text appended to content block `index`.
    TextDelta { index: u32, text: String },
    /// Block `index` is a refusal (see `Part::refusal`): its `TextDelta`s, which follow, are the
    /// text the model gave instead of an answer. Encoders whose format has no refusal write
    /// that text as text.
    Refusal { index: u32 },
    /// Reasoning text appended to block `index`.
    ThinkingDelta { index: u32, text: String },
    /// The signature of thinking block `index` (sent before its stop).
    ThinkingSignature { index: u32, signature: String },
    /// A whole redacted-thinking block at `index` (Anthropic's `redacted_thinking.data`,
    /// Bedrock's `redactedContent`): opaque, sent back with the history so the provider can check
    /// the turn's reasoning. Its `BlockStop` follows.
    RedactedThinking { index: u32, data: String },
    /// A tool call begins at block `index`.
    ToolCallStart { index: u32, id: String, name: String },
    /// A fragment of the JSON arguments of the tool call at `index`.
    ToolCallDelta { index: u32, arguments: String },
    /// Block `index` is complete.
    BlockStop { index: u32 },
    /// Token counts so far (cumulative; the last one wins).
    Usage(Usage),
    /// Generation ended.
    Finish {
        reason: FinishReason,
        stop_sequence: Option<String>,
    },
    /// The upstream reported an error mid-stream.
    Error { status: u16, message: String },
    /// Log probabilities of the tokens of the `TextDelta` that follows (OpenAI and Gemini carry
    /// them in the same chunk as the text; encoders that can write them do so with it).
    Logprobs(Vec<super::TokenLogprob>),
}

/// Why a stream could not be decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamError {
    /// The bytes are not valid for the format (bad framing, bad JSON, bad checksum).
    Malformed(String),
    /// The upstream body ended before the format's end-of-stream marker.
    Truncated,
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Malformed(m) => write!(f, "malformed upstream stream: {m}"),
            StreamError::Truncated => write!(f, "upstream stream ended before it was complete"),
        }
    }
}

/// Provider side: an upstream's stream bytes in one format -> canonical events.
///
/// One per request, driven inline by the stream pump: `push` what was read (any split), then
/// drain `next_event` until it returns `Ok(None)`; at the end of the body call `finish`.
pub trait StreamDecode {
    /// Feeds bytes exactly as they arrived.
    fn push(&mut self, chunk: bytes::Bytes);
    /// The next complete event, `Ok(None)` when more bytes are needed.
    fn next_event(&mut self) -> Result<Option<StreamEvent>, StreamError>;
    /// The body ended: `Ok(())` if the stream was complete, `Err(Truncated)` if it stopped early.
    /// Any event still buffered is returned by `next_event` first.
    fn finish(&mut self) -> Result<(), StreamError>;
    /// The format's end-of-stream marker was decoded (OpenAI `[DONE]`, Anthropic `message_stop`,
    /// Cohere `message-end`, ...): the pump stops reading even if the upstream keeps its body
    /// open. Formats that end only at EOF (Gemini) return false until `finish`.
    fn done(&self) -> bool;
}

/// Integration side: canonical events -> the client's stream bytes.
///
/// Stateful (block starts and stops, first-delta rules, final usage); writes into a reused
/// buffer so the pump sends each event's bytes at once without allocating per event.
pub trait StreamEncode {
    /// `content-type` of the streamed response.
    fn content_type(&self) -> &'static str;
    /// Appends the bytes for one event (possibly none, possibly several frames) to `out`.
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>);
    /// The stream ended normally: closing frames (`[DONE]`, `message_stop`, ...).
    fn finish(&mut self, out: &mut Vec<u8>);
    /// The stream failed after the first byte: the format's in-stream error, then its clean end.
    fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>);
    /// When the request went upstream, for formats that report the model's latency in the
    /// stream (Bedrock's `metrics.latencyMs` and invocation metrics). Without it they say 0.
    fn request_sent_at(&mut self, _at: std::time::Instant) {}
}

/// Wraps the encoder of a format whose wire carries a call's arguments as JSON text (OpenAI's
/// `arguments`, Bedrock's `toolUse.input`, Cohere's `tool-call-delta`): a call that ends with no
/// argument text gets one `{}` fragment at the finish. A call stopped with no argument text yet
/// has its block stop held until then, so the `{}` still lands inside its block (after Bedrock's
/// `contentBlockStop` or Cohere's `tool-call-end` it would be a fragment of a closed block), and
/// so do arguments that come after the stop: an upstream that interleaves parallel calls may
/// close a call before sending them. Calls with arguments pass as they come. Anthropic streams
/// a call without arguments as `input: {}` and no (or an empty) `input_json_delta`; passed on
/// as it is, an OpenAI client would accumulate `arguments: ""`, which no JSON parser takes, while
/// the same answer unstreamed says `"{}"`.
pub struct ArgumentsNeverEmpty<E> {
    inner: E,
    /// Calls (block index) with no argument text yet. Not a list scanned per event: an upstream
    /// that starts every call before sending any arguments leaves thousands bare at once.
    bare: ByIndex<u32, ()>,
    /// Calls whose block stop came while they were bare: the stop goes out at the finish.
    held_stops: Vec<u32>,
}

impl<E: StreamEncode> ArgumentsNeverEmpty<E> {
    pub fn new(inner: E) -> Self {
        Self {
            inner,
            bare: ByIndex::default(),
            held_stops: Vec::new(),
        }
    }

    fn fill(&mut self, index: u32, out: &mut Vec<u8>) {
        let arguments = String::from("{}");
        self.inner.encode(&StreamEvent::ToolCallDelta { index, arguments }, out);
    }

    /// At the finish: each held call's `{}` (if it is still bare) and its stop, then the `{}`
    /// of calls never stopped.
    fn fill_all(&mut self, out: &mut Vec<u8>) {
        for index in std::mem::take(&mut self.held_stops) {
            if self.bare.get(index).is_some() {
                self.bare.remove(index);
                self.fill(index, out);
            }
            self.inner.encode(&StreamEvent::BlockStop { index }, out);
        }
        for (index, ()) in self.bare.take() {
            self.fill(index, out);
        }
    }
}

impl<E: StreamEncode> StreamEncode for ArgumentsNeverEmpty<E> {
    fn content_type(&self) -> &'static str {
        self.inner.content_type()
    }

    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            StreamEvent::ToolCallStart { index, .. } if self.bare.get(*index).is_none() => self.bare.push(*index, ()),
            StreamEvent::ToolCallDelta { index, arguments } if !arguments.is_empty() => self.bare.remove(*index),
            StreamEvent::BlockStop { index } if self.bare.get(*index).is_some() => {
                self.held_stops.push(*index);
                return;
            }
            StreamEvent::Finish { .. } => self.fill_all(out),
            _ => {}
        }
        self.inner.encode(event, out)
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.fill_all(out);
        self.inner.finish(out)
    }

    fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        self.inner.error(status, message, out)
    }

    fn request_sent_at(&mut self, at: std::time::Instant) {
        self.inner.request_sent_at(at)
    }
}

/// Values kept by a stream's block (or call) index, in the order they were pushed: the calls
/// a stream has started or ended, looked up again on each of their events. A scan of every
/// earlier call per event made an answer of many calls quadratic, so: upstreams number blocks
/// upward, and a key above every key so far is absent without a scan; while the keys came in
/// ascending order a key is found by halves; otherwise by a scan from the latest (the newest
/// call is the one most events belong to). A deque: the oldest are taken as they go out.
#[derive(Debug)]
pub struct ByIndex<K, V> {
    entries: VecDeque<(K, V)>,
    /// The highest key ever pushed: a bound on the keys held (removals leave it).
    highest: Option<K>,
    /// The keys were pushed in strictly ascending order (removals keep them so).
    ascending: bool,
}

impl<K, V> Default for ByIndex<K, V> {
    fn default() -> Self {
        ByIndex {
            entries: VecDeque::new(),
            highest: None,
            ascending: true,
        }
    }
}

impl<K: Ord + Copy, V> ByIndex<K, V> {
    pub fn push(&mut self, key: K, value: V) {
        self.ascending = match self.entries.back() {
            None => true,
            Some((last, _)) => self.ascending && *last < key,
        };
        self.highest = self.highest.max(Some(key));
        self.entries.push_back((key, value));
    }

    /// Where the latest entry of `key` is.
    fn position(&self, key: K) -> Option<usize> {
        let latest = self.entries.len().checked_sub(1);
        if self.highest.is_none_or(|h| key > h) {
            None
        } else if latest.is_some_and(|at| self.entries[at].0 == key) {
            // Most events are the newest call's.
            latest
        } else if self.ascending {
            self.entries.binary_search_by(|(k, _)| k.cmp(&key)).ok()
        } else {
            self.entries.iter().rposition(|(k, _)| *k == key)
        }
    }

    pub fn get(&self, key: K) -> Option<&V> {
        self.position(key).map(|at| &self.entries[at].1)
    }

    pub fn get_mut(&mut self, key: K) -> Option<&mut V> {
        self.position(key).map(|at| &mut self.entries[at].1)
    }

    /// Removes every entry of `key` (one, unless the keys came out of order).
    pub fn remove(&mut self, key: K) {
        if let Some(at) = self.position(key) {
            if self.ascending {
                self.entries.remove(at);
            } else {
                self.entries.retain(|(k, _)| *k != key);
            }
        }
    }

    /// The `n`th oldest entry.
    pub fn at(&self, n: usize) -> Option<&(K, V)> {
        self.entries.get(n)
    }

    /// Removes the `n` oldest entries.
    pub fn drain_oldest(&mut self, n: usize) {
        self.entries.drain(..n);
    }

    pub fn pop_oldest(&mut self) -> Option<(K, V)> {
        self.entries.pop_front()
    }

    /// Takes every entry, oldest first, leaving none.
    pub fn take(&mut self) -> VecDeque<(K, V)> {
        std::mem::take(&mut self.entries)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Wraps the encoder of a format whose tool blocks follow one another (Anthropic, Bedrock
/// ConverseStream, Cohere v2): an upstream that interleaves parallel calls (OpenAI may send call
/// 0's start, call 1's start, then call 0's arguments) would otherwise have the encoder close
/// call 0 at call 1's start and write call 0's arguments after its block's stop, which the real
/// APIs never do and SDK accumulators drop or give to the wrong call.
///
/// A call starting while the open call's arguments are complete JSON passes at once (the usual
/// case: calls one after another, nothing held). Otherwise the new call's events are held, in
/// order, until the open call's arguments complete (or its block stops, or another event or the
/// end of the stream forces them out), then go out call by call; the open call's own events keep
/// passing meanwhile. Only the interleaved case allocates.
pub struct SerialToolCalls<E> {
    inner: E,
    /// The call the inner encoder has open (decoder index) and how far its arguments are.
    open: Option<(u32, JsonDepth)>,
    /// Events of calls that started while the open one was incomplete, in arrival order; each
    /// held call's `ToolCallStart` comes before its other events.
    held: VecDeque<StreamEvent>,
    /// The calls whose start is held, oldest first: how many of their other events are held.
    waiting: ByIndex<u32, u32>,
    /// How many events of the open call are still held (it started from `held`).
    open_held: u32,
}

/// Whether streamed JSON text is one complete value, fed piece by piece: bracket depth with
/// string and escape state, without keeping the text.
#[derive(Default, Clone, Copy)]
struct JsonDepth {
    depth: u32,
    opened: bool,
    in_string: bool,
    escaped: bool,
}

impl JsonDepth {
    fn feed(&mut self, text: &str) {
        for b in text.bytes() {
            if self.in_string {
                match b {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    self.opened = true;
                }
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
    }

    fn complete(&self) -> bool {
        self.opened && self.depth == 0 && !self.in_string
    }
}

impl<E: StreamEncode> SerialToolCalls<E> {
    pub fn new(inner: E) -> Self {
        Self {
            inner,
            open: None,
            held: VecDeque::new(),
            waiting: ByIndex::default(),
            open_held: 0,
        }
    }

    /// Hands `event` to the inner encoder, following which tool call it leaves open.
    fn pass(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            StreamEvent::ToolCallStart { index, .. } => self.open = Some((*index, JsonDepth::default())),
            StreamEvent::ToolCallDelta { index, arguments } => {
                if let Some((_, depth)) = self.open.as_mut().filter(|(open, _)| open == index) {
                    depth.feed(arguments);
                }
            }
            StreamEvent::BlockStop { index } => {
                if matches!(self.open, Some((open, _)) if open == *index) {
                    self.open = None;
                }
            }
            // Another block or the end: the encoder has closed the call.
            StreamEvent::TextDelta { .. }
            | StreamEvent::ThinkingDelta { .. }
            | StreamEvent::ThinkingSignature { .. }
            | StreamEvent::RedactedThinking { .. }
            | StreamEvent::Finish { .. }
            | StreamEvent::Error { .. } => self.open = None,
            StreamEvent::Start { .. }
            | StreamEvent::Refusal { .. }
            | StreamEvent::Usage(_)
            | StreamEvent::Logprobs(_) => {}
        }
        self.inner.encode(event, out)
    }

    /// Whether a call is held: its start is waiting.
    fn holds(&self, index: u32) -> bool {
        self.waiting.get(index).is_some()
    }

    fn hold(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::ToolCallStart { index, .. } => self.waiting.push(*index, 0),
            StreamEvent::ToolCallDelta { index, .. } | StreamEvent::BlockStop { index } => {
                if let Some(n) = self.waiting.get_mut(*index) {
                    *n += 1;
                }
            }
            _ => {}
        }
        self.held.push_back(event.clone());
    }

    /// Writes the held events of the open call; then, if its arguments are complete (or `force`),
    /// the next held call's start and its events, and so on. The open call's events are looked
    /// for only while some are held: an upstream that sends every call's start before any
    /// arguments holds thousands of starts, and a scan of them per event was quadratic.
    fn release(&mut self, force: bool, out: &mut Vec<u8>) {
        while !self.held.is_empty() {
            if let Some((open, depth)) = self.open {
                let of_open = |e: &StreamEvent| {
                    matches!(e, StreamEvent::ToolCallDelta { index, .. } | StreamEvent::BlockStop { index }
                        if *index == open)
                };
                if self.open_held > 0 {
                    if let Some(event) = self.held.iter().position(of_open).and_then(|at| self.held.remove(at)) {
                        self.open_held -= 1;
                        self.pass(&event, out);
                        continue;
                    }
                    self.open_held = 0;
                }
                if !force && !depth.complete() {
                    return;
                }
            }
            let Some(event) = self.held.pop_front() else {
                return;
            };
            if matches!(event, StreamEvent::ToolCallStart { .. }) {
                // Starts leave `held` in the order they came, as `waiting` holds them.
                self.open_held = self.waiting.pop_oldest().map_or(0, |(_, n)| n);
            }
            self.pass(&event, out);
        }
    }
}

impl<E: StreamEncode> StreamEncode for SerialToolCalls<E> {
    fn content_type(&self) -> &'static str {
        self.inner.content_type()
    }

    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        let hold = match event {
            StreamEvent::ToolCallStart { .. } => {
                !self.held.is_empty() || self.open.is_some_and(|(_, depth)| !depth.complete())
            }
            StreamEvent::ToolCallDelta { index, .. } | StreamEvent::BlockStop { index } => self.holds(*index),
            StreamEvent::Usage(_) => false,
            // Anything else ends the wait: held calls go out first, in order.
            _ => {
                self.release(true, out);
                false
            }
        };
        if hold {
            self.hold(event);
            return;
        }
        self.pass(event, out);
        self.release(false, out);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.release(true, out);
        self.inner.finish(out)
    }

    fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        self.release(true, out);
        self.inner.error(status, message, out)
    }

    fn request_sent_at(&mut self, at: std::time::Instant) {
        self.inner.request_sent_at(at)
    }
}

/// Folds a stream's events back into the answer they spell (text and thinking joined per block,
/// tool-call arguments concatenated, last usage, finish). Tests compare a translated stream with
/// the non-stream answer through it; a later cache plugin can store streamed answers with it.
#[derive(Debug, Default)]
pub struct StreamCollector {
    id: String,
    model: String,
    /// (decoder block index, part) in order of first appearance.
    blocks: Vec<(u32, super::Part)>,
    usage: super::Usage,
    finish: Option<FinishReason>,
    stop_sequence: Option<String>,
    logprobs: Vec<super::TokenLogprob>,
    /// First mid-stream error, if any.
    pub error: Option<(u16, String)>,
}

impl StreamCollector {
    pub fn push(&mut self, event: &StreamEvent) {
        use super::Part;
        match event {
            StreamEvent::Start { id, model } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
            }
            StreamEvent::TextDelta { index, text } => {
                if let Part::Text { text: t, .. } = self.block(*index, || Part::text("")) {
                    t.push_str(text)
                }
            }
            StreamEvent::Refusal { index } => {
                let text = self.block(*index, || Part::text("")).as_text().unwrap_or_default();
                let part = Part::refusal(text);
                self.set_block(*index, part);
            }
            StreamEvent::ThinkingDelta { index, text } => {
                let fresh = || Part::Thinking {
                    text: String::new(),
                    signature: None,
                };
                if let Part::Thinking { text: t, .. } = self.block(*index, fresh) {
                    t.push_str(text)
                }
            }
            StreamEvent::ThinkingSignature { index, signature } => {
                let fresh = || Part::Thinking {
                    text: String::new(),
                    signature: None,
                };
                if let Part::Thinking { signature: s, .. } = self.block(*index, fresh) {
                    *s = Some(signature.clone())
                }
            }
            StreamEvent::RedactedThinking { index, data } => {
                self.set_block(*index, Part::RedactedThinking { data: data.clone() })
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                let part = Part::ToolCall {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                    signature: None,
                    extra: Extra::default(),
                };
                self.set_block(*index, part);
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                let fresh = || Part::ToolCall {
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                    signature: None,
                    extra: Extra::default(),
                };
                if let Part::ToolCall { arguments: a, .. } = self.block(*index, fresh) {
                    a.push_str(arguments)
                }
            }
            StreamEvent::BlockStop { .. } => {}
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::Finish { reason, stop_sequence } => {
                self.finish = Some(reason.clone());
                self.stop_sequence.clone_from(stop_sequence);
            }
            StreamEvent::Error { status, message } => {
                if self.error.is_none() {
                    self.error = Some((*status, message.clone()));
                }
            }
            StreamEvent::Logprobs(tokens) => self.logprobs.extend_from_slice(tokens),
        }
    }

    /// Block `index` becomes `part` (a block that arrives whole, or starts anew).
    fn set_block(&mut self, index: u32, part: super::Part) {
        match self.blocks.iter_mut().rev().find(|(i, _)| *i == index) {
            Some((_, p)) => *p = part,
            None => self.blocks.push((index, part)),
        }
    }

    fn block(&mut self, index: u32, fresh: impl FnOnce() -> super::Part) -> &mut super::Part {
        // From the latest: events go to the newest block (each index is here once).
        let at = match self.blocks.iter().rposition(|(i, _)| *i == index) {
            Some(at) => at,
            None => {
                self.blocks.push((index, fresh()));
                self.blocks.len() - 1
            }
        };
        &mut self.blocks[at].1
    }

    /// Whether a `Finish` event was seen.
    pub fn finished(&self) -> bool {
        self.finish.is_some()
    }

    /// The answer so far (a missing finish reads as `Stop`).
    pub fn response(&self) -> super::ChatResponse {
        super::ChatResponse {
            id: self.id.clone(),
            model: self.model.clone(),
            content: self.blocks.iter().map(|(_, p)| p.clone()).collect(),
            finish: self.finish.clone().unwrap_or(FinishReason::Stop),
            usage: self.usage,
            stop_sequence: self.stop_sequence.clone(),
            created: 0,
            logprobs: self.logprobs.clone(),
        }
    }
}

/// Test helpers shared by every format's stream codec tests.
#[cfg(test)]
pub mod testing {
    use super::*;

    /// Decodes `bytes` whole, split at every byte offset into two pushes, and one byte at a time;
    /// asserts all give identical events and completion, and returns them. `make` builds a fresh
    /// decoder.
    pub fn decode_every_split(make: &dyn Fn() -> Box<dyn StreamDecode>, bytes: &[u8]) -> Vec<StreamEvent> {
        let whole = run(make, &[bytes]);
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(run(make, &[a, b]), whole, "split at byte {cut}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(run(make, &singles), whole, "one byte at a time");
        whole.expect("stream decodes")
    }

    /// Pushes `pieces` in order, draining events after each; then `finish`.
    pub fn run(make: &dyn Fn() -> Box<dyn StreamDecode>, pieces: &[&[u8]]) -> Result<Vec<StreamEvent>, StreamError> {
        let mut d = make();
        let mut out = Vec::new();
        for p in pieces {
            d.push(bytes::Bytes::copy_from_slice(p));
            while let Some(e) = d.next_event()? {
                out.push(e);
            }
        }
        let end = d.finish();
        while let Some(e) = d.next_event()? {
            out.push(e);
        }
        end.map(|_| out)
    }

    /// Encodes `events` (then `finish`) with `enc`.
    pub fn encode_all(enc: &mut dyn StreamEncode, events: &[StreamEvent]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in events {
            enc.encode(e, &mut out);
        }
        enc.finish(&mut out);
        out
    }

    /// Folds events into the answer they spell.
    pub fn collect(events: &[StreamEvent]) -> super::super::ChatResponse {
        let mut c = StreamCollector::default();
        for e in events {
            c.push(e);
        }
        c.response()
    }

    /// The answers every stream codec round-trips: the sample (thinking, text, two tool calls),
    /// then `text_only` as given, ended by the stop sequence `END`, and cut at the token limit.
    pub fn answers(text_only: super::super::ChatResponse) -> Vec<super::super::ChatResponse> {
        let mut stop_seq = text_only.clone();
        stop_seq.finish = FinishReason::StopSequence;
        stop_seq.stop_sequence = Some("END".into());
        let mut length = text_only.clone();
        length.finish = FinishReason::Length;
        vec![sample_response(), text_only, stop_seq, length]
    }

    /// The sample's text part alone, finished with `Stop`, with `usage`.
    pub fn text_answer(usage: super::super::Usage) -> super::super::ChatResponse {
        let mut r = sample_response();
        r.content.retain(|p| matches!(p, super::super::Part::Text { .. }));
        r.finish = FinishReason::Stop;
        r.usage = usage;
        r
    }

    /// A xorshift64 step: reproducible noise for the decoders' never-panic tests.
    pub fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// Feeds `decode` 3000 inputs from `seed`: even rounds strung from `tokens`, odd rounds
    /// random bytes (up to 40 pieces each).
    pub fn token_noise(seed: u64, tokens: &[&[u8]], decode: fn(&[u8])) {
        let mut x = seed;
        for round in 0..3000 {
            let mut data = Vec::new();
            for _ in 0..(xorshift(&mut x) % 40) {
                if round % 2 == 0 {
                    data.extend_from_slice(tokens[(xorshift(&mut x) % tokens.len() as u64) as usize]);
                } else {
                    data.push(xorshift(&mut x) as u8);
                }
            }
            decode(&data);
        }
    }

    /// Feeds `decode` 4000 inputs from `seed` of up to 200 bytes (even rounds random bytes, odd
    /// rounds drawn from `alphabet`), then 2000 copies of `fixture` with one to four bytes changed.
    pub fn byte_noise(seed: u64, alphabet: &[u8], fixture: &[u8], decode: fn(&[u8])) {
        let mut s = seed;
        for round in 0..4000 {
            let len = (xorshift(&mut s) % 200) as usize;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    let r = xorshift(&mut s);
                    if round % 2 == 0 {
                        r as u8
                    } else {
                        alphabet[(r % alphabet.len() as u64) as usize]
                    }
                })
                .collect();
            decode(&data);
        }
        for round in 0..2000 {
            let mut data = fixture.to_vec();
            for _ in 0..1 + round % 4 {
                let at = (xorshift(&mut s) as usize) % data.len();
                data[at] = xorshift(&mut s) as u8;
            }
            decode(&data);
        }
    }

    /// A canonical answer with text, thinking and two tool calls, for codec round trips.
    pub fn sample_response() -> super::super::ChatResponse {
        use super::super::{ChatResponse, Part, Usage};
        ChatResponse {
            id: "resp_1".into(),
            model: "m-1".into(),
            content: vec![
                Part::Thinking {
                    text: "let me think".into(),
                    signature: Some("sig==".into()),
                },
                Part::text("héllo \u{2028} \"wörld\"\n"),
                Part::ToolCall {
                    id: "call_1".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into(),
                    signature: None,
                    extra: Extra::default(),
                },
                Part::ToolCall {
                    id: "call_2".into(),
                    name: "get_time".into(),
                    arguments: r#"{"tz":"CET","n":[1,2]}"#.into(),
                    signature: None,
                    extra: Extra::default(),
                },
            ],
            finish: FinishReason::ToolCalls,
            usage: Usage {
                input: 12,
                output: 7,
                ..Default::default()
            },
            stop_sequence: None,
            created: 0,
            logprobs: Vec::new(),
        }
    }
}

/// The events a well-behaved upstream would stream for `resp`: `Start`, then per content part
/// its block (text split into `pieces` deltas, tool-call arguments in two fragments, thinking
/// with its signature), `Usage`, `Finish`. Used by the mock to stream every format from the same
/// canonical answer, and by tests as the expected event sequence.
pub fn events_from_response(resp: &super::ChatResponse, pieces: usize) -> Vec<StreamEvent> {
    use super::Part;
    let mut out = vec![StreamEvent::Start {
        id: resp.id.clone(),
        model: resp.model.clone(),
    }];
    let mut index = 0u32;
    // With log probabilities, text goes one token per delta, each after its own (as OpenAI and
    // Gemini stream them); what the tokens do not spell follows whole.
    let mut tokens = &resp.logprobs[..];
    for part in &resp.content {
        if matches!(part, Part::Text { extra, .. } if extra.marks_refusal()) {
            out.push(StreamEvent::Refusal { index });
        }
        match part {
            Part::Text { text, .. } if !tokens.is_empty() => {
                let mut rest = text.as_str();
                while let Some(t) = tokens.first().filter(|t| rest.starts_with(t.token.as_str())) {
                    rest = &rest[t.token.len()..];
                    out.push(StreamEvent::Logprobs(tokens[..1].to_vec()));
                    out.push(StreamEvent::TextDelta {
                        index,
                        text: t.token.clone(),
                    });
                    tokens = &tokens[1..];
                }
                if !rest.is_empty() {
                    out.push(StreamEvent::TextDelta {
                        index,
                        text: rest.to_string(),
                    });
                }
            }
            Part::Text { text, .. } => {
                for piece in split(text, pieces) {
                    out.push(StreamEvent::TextDelta {
                        index,
                        text: piece.to_string(),
                    });
                }
            }
            Part::ToolCall {
                id, name, arguments, ..
            } => {
                out.push(StreamEvent::ToolCallStart {
                    index,
                    id: id.clone(),
                    name: name.clone(),
                });
                for piece in split(arguments, 2) {
                    out.push(StreamEvent::ToolCallDelta {
                        index,
                        arguments: piece.to_string(),
                    });
                }
            }
            Part::Thinking { text, signature } => {
                for piece in split(text, pieces) {
                    out.push(StreamEvent::ThinkingDelta {
                        index,
                        text: piece.to_string(),
                    });
                }
                if let Some(s) = signature {
                    out.push(StreamEvent::ThinkingSignature {
                        index,
                        signature: s.clone(),
                    });
                }
            }
            Part::RedactedThinking { data } => out.push(StreamEvent::RedactedThinking {
                index,
                data: data.clone(),
            }),
            _ => continue,
        }
        out.push(StreamEvent::BlockStop { index });
        index += 1;
    }
    if !tokens.is_empty() {
        // Tokens that spell no text part: kept, with the last chunk.
        out.push(StreamEvent::Logprobs(tokens.to_vec()));
    }
    out.push(StreamEvent::Usage(resp.usage));
    out.push(StreamEvent::Finish {
        reason: resp.finish.clone(),
        stop_sequence: resp.stop_sequence.clone(),
    });
    out
}

/// Splits on char boundaries into at most `n` non-empty pieces (one empty piece for "").
fn split(text: &str, n: usize) -> Vec<&str> {
    let n = n.max(1);
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    if bounds.is_empty() {
        return vec![text];
    }
    let per = bounds.len().div_ceil(n);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    let mut k = per;
    while k < bounds.len() {
        out.push(&text[start..bounds[k]]);
        start = bounds[k];
        k += per;
    }
    out.push(&text[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{ChatResponse, FinishReason, Part, Usage};

    /// Writes each event it is given as a line of its debug form.
    struct Record;

    impl StreamEncode for Record {
        fn content_type(&self) -> &'static str {
            "text/plain"
        }
        fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
            out.extend_from_slice(format!("{event:?}\n").as_bytes());
        }
        fn finish(&mut self, out: &mut Vec<u8>) {
            out.extend_from_slice(b"finish\n");
        }
        fn error(&mut self, _status: u16, _message: &str, out: &mut Vec<u8>) {
            out.extend_from_slice(b"error\n");
        }
    }

    /// `SerialToolCalls`' release rules as they were before it counted the open call's held
    /// events: a scan of every held event for the open call's, and for a held start, per event.
    /// The reference the counting one must agree with (`serial` only passes events on and
    /// follows the open call, never holding any).
    struct ScanningSerial {
        serial: SerialToolCalls<Record>,
        held: Vec<StreamEvent>,
        out: Vec<u8>,
    }

    impl ScanningSerial {
        fn open(&self) -> Option<(u32, JsonDepth)> {
            self.serial.open
        }

        fn pass(&mut self, event: &StreamEvent) {
            self.serial.pass(event, &mut self.out);
        }

        fn release(&mut self, force: bool) {
            while !self.held.is_empty() {
                if let Some((open, depth)) = self.open() {
                    let of_open = |e: &StreamEvent| {
                        matches!(e, StreamEvent::ToolCallDelta { index, .. } | StreamEvent::BlockStop { index }
                            if *index == open)
                    };
                    if let Some(at) = self.held.iter().position(of_open) {
                        let event = self.held.remove(at);
                        self.pass(&event);
                        continue;
                    }
                    if !force && !depth.complete() {
                        return;
                    }
                }
                let event = self.held.remove(0);
                self.pass(&event);
            }
        }

        fn encode(&mut self, event: &StreamEvent) {
            let holds = |index: u32| {
                self.held
                    .iter()
                    .any(|e| matches!(e, StreamEvent::ToolCallStart { index: i, .. } if *i == index))
            };
            let hold = match event {
                StreamEvent::ToolCallStart { .. } => {
                    !self.held.is_empty() || self.open().is_some_and(|(_, depth)| !depth.complete())
                }
                StreamEvent::ToolCallDelta { index, .. } | StreamEvent::BlockStop { index } => holds(*index),
                StreamEvent::Usage(_) => false,
                _ => {
                    self.release(true);
                    false
                }
            };
            if hold {
                self.held.push(event.clone());
                return;
            }
            self.pass(event);
            self.release(false);
        }
    }

    /// Streams of interleaved calls (starts, argument pieces that complete or not, stops, late
    /// pieces after a stop, text between): the counting `SerialToolCalls` writes exactly what
    /// the scanning one did, event for event. (An index started twice while held is where they
    /// part: the scanning one gave the second call's pieces to the first, this one to the second.)
    #[test]
    fn serial_tool_calls_write_what_the_scanning_version_wrote() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let pieces = ["{\"a\":", "1}", "{}", "\"x\"", "[1,", "2]", "{\"s\":\"}\"}", ""];
        for round in 0..3000 {
            let calls = 1 + next(6) as u32;
            let mut started = Vec::new();
            let mut events = vec![StreamEvent::Start {
                id: "r".into(),
                model: "m".into(),
            }];
            for _ in 0..next(30) {
                let event = match next(10) {
                    0..=2 if (started.len() as u32) < calls => {
                        // Each index once, not always ascending (7 is prime to every count).
                        let index = started.len() as u32 * 7 % calls;
                        started.push(index);
                        StreamEvent::ToolCallStart {
                            index,
                            id: format!("c{index}"),
                            name: "f".into(),
                        }
                    }
                    3..=6 if !started.is_empty() => StreamEvent::ToolCallDelta {
                        index: started[next(started.len() as u64) as usize],
                        arguments: pieces[next(pieces.len() as u64) as usize].into(),
                    },
                    7 if !started.is_empty() => StreamEvent::BlockStop {
                        index: started[next(started.len() as u64) as usize],
                    },
                    8 => StreamEvent::Usage(Usage::default()),
                    _ => StreamEvent::TextDelta {
                        index: 100,
                        text: "t".into(),
                    },
                };
                events.push(event);
            }
            let mut counting = SerialToolCalls::new(Record);
            let mut scanning = ScanningSerial {
                serial: SerialToolCalls::new(Record),
                held: Vec::new(),
                out: Vec::new(),
            };
            let mut out = Vec::new();
            for event in &events {
                counting.encode(event, &mut out);
                scanning.encode(event);
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&scanning.out),
                    "round {round}: {events:#?}"
                );
            }
            counting.finish(&mut out);
            scanning.release(true);
            scanning.out.extend_from_slice(b"finish\n");
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&scanning.out),
                "round {round}"
            );
        }
    }

    /// `ByIndex` agrees with a plain list scanned from the latest, whatever the keys' order:
    /// ascending (found by halves), repeated or out of order (scanned), with removals and the
    /// oldest entries drained between pushes.
    #[test]
    fn by_index_finds_what_a_scan_finds() {
        let orders: [&[u32]; 4] = [
            &[0, 1, 2, 5, 9, 10, 11, 14],
            &[0, 1, 2, 7, 3, 9, 4, 8],
            &[3, 3, 1, 3, 0, 12],
            &[9, 8, 7, 6, 5, 4, 3, 2],
        ];
        for (o, keys) in orders.iter().enumerate() {
            let mut by_index = ByIndex::default();
            let mut model: Vec<(u32, usize)> = Vec::new();
            for (n, &key) in keys.iter().enumerate() {
                by_index.push(key, n);
                model.push((key, n));
                // Every fourth step removes a key, every fifth drains the oldest entry.
                if n % 4 == 3 {
                    let gone = keys[n / 2];
                    by_index.remove(gone);
                    model.retain(|(k, _)| *k != gone);
                }
                if n % 5 == 4 {
                    by_index.drain_oldest(1);
                    model.remove(0);
                }
                for probe in 0..16 {
                    let scan = model.iter().rev().find(|(k, _)| *k == probe).map(|(_, v)| v);
                    assert_eq!(by_index.get(probe), scan, "order {o}, key {probe} after {model:?}");
                }
                let entries: Vec<_> = (0..by_index.len()).map(|n| *by_index.at(n).unwrap()).collect();
                assert_eq!(entries, model, "order {o}");
            }
            if let Some(v) = by_index.get_mut(keys[keys.len() - 1]) {
                *v = 99;
            }
            assert_eq!(by_index.get(keys[keys.len() - 1]), Some(&99), "order {o}");
            assert_eq!(by_index.take().len(), model.len());
            assert!(by_index.is_empty() && by_index.get(keys[0]).is_none());
            // Emptied, ascending keys are found by halves again.
            by_index.push(1, 1);
            by_index.push(4, 4);
            assert_eq!(
                (by_index.get(1), by_index.get(4), by_index.get(2)),
                (Some(&1), Some(&4), None)
            );
        }
    }

    #[test]
    fn response_becomes_ordered_blocks() {
        let resp = ChatResponse {
            id: "r".into(),
            model: "m".into(),
            content: vec![
                Part::text("héllo world"),
                Part::ToolCall {
                    id: "c".into(),
                    name: "f".into(),
                    arguments: r#"{"a":1}"#.into(),
                    signature: None,
                    extra: Extra::default(),
                },
            ],
            finish: FinishReason::ToolCalls,
            usage: Usage {
                input: 3,
                output: 4,
                ..Default::default()
            },
            stop_sequence: None,
            created: 0,
            logprobs: Vec::new(),
        };
        let ev = events_from_response(&resp, 3);
        assert_eq!(
            ev[0],
            StreamEvent::Start {
                id: "r".into(),
                model: "m".into()
            }
        );
        let text: String = ev
            .iter()
            .filter_map(|e| match e {
                StreamEvent::TextDelta { index: 0, text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "héllo world");
        let args: String = ev
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ToolCallDelta { index: 1, arguments } => Some(arguments.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(args, r#"{"a":1}"#);
        assert!(ev.contains(&StreamEvent::BlockStop { index: 0 }) && ev.contains(&StreamEvent::BlockStop { index: 1 }));
        assert_eq!(
            ev.last(),
            Some(&StreamEvent::Finish {
                reason: FinishReason::ToolCalls,
                stop_sequence: None
            })
        );
    }
}
