//! The driver every SSE-based stream decoder shares (OpenAI, Anthropic, Gemini, Cohere): SSE
//! framing, the queue of decoded events, failure and end-of-body handling. A format supplies only
//! an [`SseEventDecoder`]: one SSE event in, canonical events out, plus its end-of-stream rules.
//!
//! Rules the driver keeps for every format: a decode error is sticky (the events of the failing
//! SSE event are discarded, earlier ones are still returned, then the error every time); nothing
//! is read after the format's end marker; at EOF the complete events are decoded, then a last
//! event that lacks its blank line is decoded if it is whole (one that does not decode was cut
//! off: `Truncated`), then the format closes what is open.

use crate::canonical::stream::{StreamDecode, StreamError, StreamEvent};
use crate::wire::sse::{SseDecoder, SseEvent};
use bytes::Bytes;
use std::collections::VecDeque;

/// One format's SSE stream semantics, driven by [`SseStreamDecoder`].
pub trait SseEventDecoder {
    /// Called for each complete SSE event while `done()` is false: appends its canonical events
    /// to `out`. `Err` fails the stream (what this call appended is discarded).
    fn decode(&mut self, event: &SseEvent, out: &mut VecDeque<StreamEvent>) -> Result<(), StreamError>;
    /// Called once when the body ended (after the last event was decoded): closes whatever the
    /// format leaves open at a cut, e.g. an open block. Formats that leave it open do nothing.
    fn end(&mut self, _out: &mut VecDeque<StreamEvent>) {}
    /// The format's end marker (or an in-stream error) was decoded: nothing more is read.
    fn done(&self) -> bool;
    /// At EOF: whether what was decoded is a complete stream (`finish` is Ok), else `Truncated`.
    fn complete(&self) -> bool;
}

/// An SSE upstream body -> canonical events, with the format's rules in `F`.
#[derive(Default)]
pub struct SseStreamDecoder<F> {
    sse: SseDecoder,
    /// Events decoded and not yet returned (one SSE event may give several).
    queue: VecDeque<StreamEvent>,
    format: F,
    failed: Option<StreamError>,
    /// `finish` ran.
    ended: bool,
    /// The body ended inside an event.
    cut: bool,
}

impl<F: SseEventDecoder + Default> SseStreamDecoder<F> {
    pub fn new() -> Self {
        Self::default()
    }
}

impl<F: SseEventDecoder> SseStreamDecoder<F> {
    /// Decodes one SSE event; on error its events are dropped and the decoder stays failed.
    fn decode(&mut self, event: &SseEvent) -> Result<(), StreamError> {
        let mark = self.queue.len();
        let res = if crate::wire::json::too_deep(&event.data, crate::wire::json::MAX_DEPTH) {
            Err(StreamError::Malformed("event JSON nests too deeply".into()))
        } else {
            self.format.decode(event, &mut self.queue)
        };
        if let Err(e) = &res {
            self.queue.truncate(mark);
            self.failed = Some(e.clone());
        }
        res
    }

    /// Decodes the next complete SSE event; false when more bytes are needed or the format is
    /// done.
    fn decode_next(&mut self) -> Result<bool, StreamError> {
        if self.format.done() {
            return Ok(false);
        }
        match self.sse.next_event() {
            Ok(Some(event)) => self.decode(&event).map(|()| true),
            Ok(None) => Ok(false),
            Err(e) => {
                let e = StreamError::Malformed(e.to_string());
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }
}

impl<F: SseEventDecoder> StreamDecode for SseStreamDecoder<F> {
    fn push(&mut self, chunk: Bytes) {
        if self.failed.is_none() && !self.ended && !self.format.done() {
            self.sse.push(chunk);
        }
    }

    fn next_event(&mut self) -> Result<Option<StreamEvent>, StreamError> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Ok(Some(e));
            }
            if let Some(e) = &self.failed {
                return Err(e.clone());
            }
            if self.ended || !self.decode_next()? {
                return Ok(None);
            }
        }
    }

    fn finish(&mut self) -> Result<(), StreamError> {
        if !self.ended && self.failed.is_none() {
            self.ended = true;
            // Complete events not read yet; their canonical events stay queued for next_event.
            while self.decode_next()? {}
            if !self.format.done() {
                if let Ok(Some(event)) = self.sse.finish() {
                    let mark = self.queue.len();
                    let deep = crate::wire::json::too_deep(&event.data, crate::wire::json::MAX_DEPTH);
                    if deep || self.format.decode(&event, &mut self.queue).is_err() {
                        self.queue.truncate(mark);
                        self.cut = true;
                    }
                }
            }
            self.format.end(&mut self.queue);
        }
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.format.complete() && !self.cut {
            Ok(())
        } else {
            Err(StreamError::Truncated)
        }
    }

    fn done(&self) -> bool {
        self.format.done()
    }
}

/// Fuzz entry shared by the SSE formats: decodes `data` in a few splits and drains it, ignoring
/// errors. Must never panic.
pub fn fuzz_decode(mut decoder: impl StreamDecode, data: &[u8]) {
    let cuts = [0, data.len() / 3, data.len() / 2, data.len()];
    for w in cuts.windows(2) {
        decoder.push(Bytes::copy_from_slice(&data[w[0]..w[1]]));
        while let Ok(Some(_)) = decoder.next_event() {}
    }
    let _ = decoder.finish();
    while let Ok(Some(_)) = decoder.next_event() {}
}
