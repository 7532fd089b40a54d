//! Placeholder: replaced by the gemini stream codec.

use crate::canonical::stream::{StreamDecode, StreamEncode, StreamError, StreamEvent};
use crate::canonical::ChatRequest;
use bytes::Bytes;

#[derive(Default)]
pub struct GeminiStreamDecoder {}

impl GeminiStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }
}

impl StreamDecode for GeminiStreamDecoder {
    fn push(&mut self, _chunk: Bytes) {}
    fn next_event(&mut self) -> Result<Option<StreamEvent>, StreamError> {
        Err(StreamError::Malformed("not implemented".into()))
    }
    fn finish(&mut self) -> Result<(), StreamError> {
        Err(StreamError::Truncated)
    }
    fn done(&self) -> bool {
        false
    }
}

pub struct GeminiStreamEncoder {}

impl GeminiStreamEncoder {
    pub fn new(_req: &ChatRequest) -> Self {
        Self {}
    }
}

impl StreamEncode for GeminiStreamEncoder {
    fn content_type(&self) -> &'static str {
        "text/event-stream"
    }
    fn encode(&mut self, _event: &StreamEvent, _out: &mut Vec<u8>) {}
    fn finish(&mut self, _out: &mut Vec<u8>) {}
    fn error(&mut self, _status: u16, _message: &str, _out: &mut Vec<u8>) {}
}
