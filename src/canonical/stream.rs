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
    ToolCallStart {
        index: u32,
        id: String,
        name: String,
    },
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
