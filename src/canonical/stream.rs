//! Canonical stream events: what a stream decoder produces from upstream bytes and a stream
//! encoder turns into the client's format. One decoder and one encoder per request, inline in the
//! read loop; the per-chunk hook sees these events.

use super::{FinishReason, Usage};

/// One step of a streamed answer. Block indices are the decoder's; encoders renumber as their
/// format requires (e.g. Anthropic needs contiguous indices from 0).
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// First event: the response id and model.
    Start { id: String, model: String },
    /// Text appended to content block `index`.
    TextDelta { index: u32, text: String },
    /// Reasoning text appended to block `index`.
    ThinkingDelta { index: u32, text: String },
    /// The signature of thinking block `index` (sent before its stop).
    ThinkingSignature { index: u32, signature: String },
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
    for part in &resp.content {
        match part {
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
            _ => continue,
        }
        out.push(StreamEvent::BlockStop { index });
        index += 1;
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
