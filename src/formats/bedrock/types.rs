//! Bedrock Converse wire structs for what Sluice writes (PROTOCOLS 5.2, 5.3, 5.6). Field order
//! follows the real API. Unions (tool choice, reasoning) are structs of optional members of
//! which the encoder sets exactly one (botocore rejects a union with zero or two); content
//! blocks, by far the most numerous, are an enum.
//! Decoding walks `sonic_rs::Value`s instead (see `mod.rs`), to name the offending field.

use crate::canonical::{Json, Schema};
use serde::Serialize;
use std::borrow::Cow;

#[derive(Serialize, Debug, Default)]
pub struct BedrockConverseRequest<'a> {
    pub messages: Vec<BedrockMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<BedrockContentBlock<'a>>,
    #[serde(rename = "inferenceConfig", skip_serializing_if = "Option::is_none")]
    pub inference_config: Option<BedrockInferenceConfig<'a>>,
    #[serde(rename = "toolConfig", skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<BedrockToolConfig<'a>>,
    #[serde(rename = "additionalModelRequestFields", skip_serializing_if = "Option::is_none")]
    pub additional_model_request_fields: Option<Json>,
    #[serde(rename = "outputConfig", skip_serializing_if = "Option::is_none")]
    pub output_config: Option<Json>,
}

#[derive(Serialize, Debug)]
pub struct BedrockMessage<'a> {
    pub role: &'static str,
    pub content: Vec<BedrockContentBlock<'a>>,
}

/// `ContentBlock` (and `SystemContentBlock`, `ToolResultContentBlock`): a union, so an enum
/// (serde writes a variant as the one member `{"text": ...}`). A struct of optional members
/// took the size of all of them together (about 360 bytes a block, most of a translated
/// body's peak memory on the way to Converse); the enum takes its largest member's.
#[derive(Serialize, Debug)]
pub enum BedrockContentBlock<'a> {
    #[serde(rename = "text")]
    Text(Cow<'a, str>),
    #[serde(rename = "image")]
    Image(BedrockImage<'a>),
    /// Boxed: documents are rare, and the largest member.
    #[serde(rename = "document")]
    Document(Box<BedrockDocument<'a>>),
    #[serde(rename = "toolUse")]
    ToolUse(BedrockToolUse<'a>),
    #[serde(rename = "toolResult")]
    ToolResult(BedrockToolResult<'a>),
    #[serde(rename = "reasoningContent")]
    ReasoningContent(BedrockReasoningContent<'a>),
    #[serde(rename = "cachePoint")]
    CachePoint(Cow<'a, Json>),
    /// Only inside tool results.
    #[serde(rename = "json")]
    Json(&'a Json),
}

impl<'a> BedrockContentBlock<'a> {
    pub fn text(t: impl Into<Cow<'a, str>>) -> BedrockContentBlock<'a> {
        BedrockContentBlock::Text(t.into())
    }
}

#[derive(Serialize, Debug)]
pub struct BedrockImage<'a> {
    /// png | jpeg | gif | webp
    pub format: &'static str,
    pub source: BedrockImageSource<'a>,
}

#[derive(Serialize, Debug)]
pub struct BedrockImageSource<'a> {
    /// Base64 in JSON (a blob).
    pub bytes: &'a str,
}

/// `DocumentBlock`: `name` is required and restricted (see `document_name`).
#[derive(Serialize, Debug)]
pub struct BedrockDocument<'a> {
    /// pdf | csv | doc | docx | xls | xlsx | html | txt | md
    pub format: &'static str,
    pub name: Cow<'a, str>,
    pub source: BedrockDocumentSource<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<&'a Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub citations: Option<&'a Json>,
}

#[derive(Serialize, Debug)]
pub struct BedrockDocumentSource<'a> {
    /// Base64 in JSON (a blob).
    pub bytes: Cow<'a, str>,
}

#[derive(Serialize, Debug)]
pub struct BedrockToolUse<'a> {
    #[serde(rename = "toolUseId")]
    pub tool_use_id: &'a str,
    pub name: &'a str,
    /// The call's arguments text, validated as an object and written as it is.
    pub input: sonic_rs::LazyValue<'a>,
}

#[derive(Serialize, Debug)]
pub struct BedrockToolResult<'a> {
    #[serde(rename = "toolUseId")]
    pub tool_use_id: &'a str,
    pub content: Vec<BedrockContentBlock<'a>>,
    pub status: &'static str,
}

/// `ReasoningContentBlock` union.
#[derive(Serialize, Debug, Default)]
pub struct BedrockReasoningContent<'a> {
    #[serde(rename = "reasoningText", skip_serializing_if = "Option::is_none")]
    pub reasoning_text: Option<BedrockReasoningText<'a>>,
    /// Base64 in JSON (a blob).
    #[serde(rename = "redactedContent", skip_serializing_if = "Option::is_none")]
    pub redacted_content: Option<&'a str>,
}

#[derive(Serialize, Debug)]
pub struct BedrockReasoningText<'a> {
    pub text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<&'a str>,
}

#[derive(Serialize, Debug, Default)]
pub struct BedrockInferenceConfig<'a> {
    #[serde(rename = "maxTokens", skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(rename = "topP", skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(rename = "stopSequences", skip_serializing_if = "<[String]>::is_empty")]
    pub stop_sequences: &'a [String],
}

#[derive(Serialize, Debug)]
pub struct BedrockToolConfig<'a> {
    pub tools: Vec<BedrockTool<'a>>,
    #[serde(rename = "toolChoice", skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<BedrockToolChoice<'a>>,
}

/// `Tool` union: `toolSpec` or `cachePoint`.
#[derive(Serialize, Debug, Default)]
pub struct BedrockTool<'a> {
    #[serde(rename = "toolSpec", skip_serializing_if = "Option::is_none")]
    pub tool_spec: Option<BedrockToolSpec<'a>>,
    #[serde(rename = "cachePoint", skip_serializing_if = "Option::is_none")]
    pub cache_point: Option<Cow<'a, Json>>,
}

#[derive(Serialize, Debug)]
pub struct BedrockToolSpec<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    #[serde(rename = "inputSchema")]
    pub input_schema: BedrockInputSchema<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

#[derive(Serialize, Debug)]
pub struct BedrockInputSchema<'a> {
    pub json: &'a Schema,
}

/// `ToolChoice` union: `{"auto":{}}` | `{"any":{}}` | `{"tool":{"name"}}`.
#[derive(Serialize, Debug, Default)]
pub struct BedrockToolChoice<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto: Option<BedrockEmpty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub any: Option<BedrockEmpty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<BedrockNamedTool<'a>>,
}

#[derive(Serialize, Debug, Default)]
pub struct BedrockEmpty {}

#[derive(Serialize, Debug)]
pub struct BedrockNamedTool<'a> {
    pub name: &'a str,
}

#[derive(Serialize, Debug)]
pub struct BedrockConverseResponse<'a> {
    pub output: BedrockOutput<'a>,
    #[serde(rename = "stopReason")]
    pub stop_reason: &'a str,
    pub usage: BedrockUsage,
    pub metrics: BedrockMetrics,
    #[serde(rename = "additionalModelResponseFields", skip_serializing_if = "Option::is_none")]
    pub additional_model_response_fields: Option<Json>,
}

#[derive(Serialize, Debug)]
pub struct BedrockOutput<'a> {
    pub message: BedrockMessage<'a>,
}

#[derive(Serialize, Debug, Default, Clone, Copy)]
pub struct BedrockUsage {
    #[serde(rename = "inputTokens")]
    pub input_tokens: u64,
    #[serde(rename = "outputTokens")]
    pub output_tokens: u64,
    #[serde(rename = "totalTokens")]
    pub total_tokens: u64,
    #[serde(rename = "cacheReadInputTokens", skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(rename = "cacheWriteInputTokens", skip_serializing_if = "Option::is_none")]
    pub cache_write_input_tokens: Option<u64>,
}

#[derive(Serialize, Debug, Default, Clone, Copy)]
pub struct BedrockMetrics {
    #[serde(rename = "latencyMs")]
    pub latency_ms: u64,
}

#[derive(Serialize, Debug)]
pub struct BedrockError<'a> {
    pub message: &'a str,
}

// ConverseStream event payloads (PROTOCOLS 5.4), members in the order of the event-stream
// vectors (`contentBlockIndex` first). The optional `p` padding of real frames is not sent.

/// `messageStart`.
#[derive(Serialize, Debug)]
pub struct BedrockMessageStart {
    pub role: &'static str,
}

/// `contentBlockStart`: the gateway starts tool-use blocks only (text and reasoning blocks have
/// no start event), so the `start` union always holds exactly `toolUse`.
#[derive(Serialize, Debug)]
pub struct BedrockContentBlockStart<'a> {
    #[serde(rename = "contentBlockIndex")]
    pub content_block_index: u32,
    pub start: BedrockBlockStart<'a>,
}

#[derive(Serialize, Debug)]
pub struct BedrockBlockStart<'a> {
    #[serde(rename = "toolUse")]
    pub tool_use: BedrockToolUseStart<'a>,
}

#[derive(Serialize, Debug)]
pub struct BedrockToolUseStart<'a> {
    #[serde(rename = "toolUseId")]
    pub tool_use_id: &'a str,
    pub name: &'a str,
}

/// `contentBlockDelta`.
#[derive(Serialize, Debug)]
pub struct BedrockContentBlockDelta<'a> {
    #[serde(rename = "contentBlockIndex")]
    pub content_block_index: u32,
    pub delta: BedrockDelta<'a>,
}

/// `ContentBlockDelta` union: a serde enum, so exactly one member by construction.
#[derive(Serialize, Debug)]
pub enum BedrockDelta<'a> {
    #[serde(rename = "text")]
    Text(&'a str),
    #[serde(rename = "toolUse")]
    ToolUse { input: &'a str },
    #[serde(rename = "reasoningContent")]
    ReasoningContent(BedrockReasoningDelta<'a>),
}

/// `ReasoningContentBlockDelta` union.
#[derive(Serialize, Debug)]
pub enum BedrockReasoningDelta<'a> {
    #[serde(rename = "text")]
    Text(&'a str),
    #[serde(rename = "signature")]
    Signature(&'a str),
    /// Base64, as the canonical `RedactedThinking.data` already is.
    #[serde(rename = "redactedContent")]
    RedactedContent(&'a str),
}

/// `contentBlockStop`.
#[derive(Serialize, Debug)]
pub struct BedrockContentBlockStop {
    #[serde(rename = "contentBlockIndex")]
    pub content_block_index: u32,
}

/// `messageStop`.
#[derive(Serialize, Debug)]
pub struct BedrockMessageStop<'a> {
    #[serde(rename = "stopReason")]
    pub stop_reason: &'a str,
    #[serde(rename = "additionalModelResponseFields", skip_serializing_if = "Option::is_none")]
    pub additional_model_response_fields: Option<Json>,
}

/// `metadata`: the last event.
#[derive(Serialize, Debug)]
pub struct BedrockStreamMetadata {
    pub usage: BedrockUsage,
    pub metrics: BedrockMetrics,
}
