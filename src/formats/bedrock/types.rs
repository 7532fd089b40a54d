//! Bedrock Converse wire structs for what Sluice writes (PROTOCOLS 5.2, 5.3, 5.6). Field order
//! follows the real API. Unions (content blocks, tool choice, reasoning) are structs of optional
//! members of which the encoder sets exactly one: botocore rejects a union with zero or two.
//! Decoding walks `sonic_rs::Value`s instead (see `mod.rs`), to name the offending field.

use crate::canonical::Json;
use serde::Serialize;

#[derive(Serialize, Debug, Default)]
pub struct BedrockConverseRequest {
    pub messages: Vec<BedrockMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<BedrockContentBlock>,
    #[serde(rename = "inferenceConfig", skip_serializing_if = "Option::is_none")]
    pub inference_config: Option<BedrockInferenceConfig>,
    #[serde(rename = "toolConfig", skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<BedrockToolConfig>,
    #[serde(rename = "additionalModelRequestFields", skip_serializing_if = "Option::is_none")]
    pub additional_model_request_fields: Option<Json>,
    #[serde(rename = "outputConfig", skip_serializing_if = "Option::is_none")]
    pub output_config: Option<Json>,
}

#[derive(Serialize, Debug)]
pub struct BedrockMessage {
    pub role: &'static str,
    pub content: Vec<BedrockContentBlock>,
}

/// `ContentBlock` (and `SystemContentBlock`, `ToolResultContentBlock`): exactly one member set.
#[derive(Serialize, Debug, Default)]
pub struct BedrockContentBlock {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<BedrockImage>,
    #[serde(rename = "toolUse", skip_serializing_if = "Option::is_none")]
    pub tool_use: Option<BedrockToolUse>,
    #[serde(rename = "toolResult", skip_serializing_if = "Option::is_none")]
    pub tool_result: Option<BedrockToolResult>,
    #[serde(rename = "reasoningContent", skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<BedrockReasoningContent>,
    #[serde(rename = "cachePoint", skip_serializing_if = "Option::is_none")]
    pub cache_point: Option<Json>,
    /// Only inside tool results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<Json>,
}

impl BedrockContentBlock {
    pub fn text(t: impl Into<String>) -> BedrockContentBlock {
        BedrockContentBlock {
            text: Some(t.into()),
            ..Default::default()
        }
    }
}

#[derive(Serialize, Debug)]
pub struct BedrockImage {
    /// png | jpeg | gif | webp
    pub format: String,
    pub source: BedrockImageSource,
}

#[derive(Serialize, Debug)]
pub struct BedrockImageSource {
    /// Base64 in JSON (a blob).
    pub bytes: String,
}

#[derive(Serialize, Debug)]
pub struct BedrockToolUse {
    #[serde(rename = "toolUseId")]
    pub tool_use_id: String,
    pub name: String,
    pub input: Json,
}

#[derive(Serialize, Debug)]
pub struct BedrockToolResult {
    #[serde(rename = "toolUseId")]
    pub tool_use_id: String,
    pub content: Vec<BedrockContentBlock>,
    pub status: &'static str,
}

/// `ReasoningContentBlock` union.
#[derive(Serialize, Debug, Default)]
pub struct BedrockReasoningContent {
    #[serde(rename = "reasoningText", skip_serializing_if = "Option::is_none")]
    pub reasoning_text: Option<BedrockReasoningText>,
    /// Base64 in JSON (a blob).
    #[serde(rename = "redactedContent", skip_serializing_if = "Option::is_none")]
    pub redacted_content: Option<String>,
}

#[derive(Serialize, Debug)]
pub struct BedrockReasoningText {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

#[derive(Serialize, Debug, Default)]
pub struct BedrockInferenceConfig {
    #[serde(rename = "maxTokens", skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(rename = "topP", skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(rename = "stopSequences", skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
}

#[derive(Serialize, Debug)]
pub struct BedrockToolConfig {
    pub tools: Vec<BedrockTool>,
    #[serde(rename = "toolChoice", skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<BedrockToolChoice>,
}

/// `Tool` union: `toolSpec` or `cachePoint`.
#[derive(Serialize, Debug, Default)]
pub struct BedrockTool {
    #[serde(rename = "toolSpec", skip_serializing_if = "Option::is_none")]
    pub tool_spec: Option<BedrockToolSpec>,
    #[serde(rename = "cachePoint", skip_serializing_if = "Option::is_none")]
    pub cache_point: Option<Json>,
}

#[derive(Serialize, Debug)]
pub struct BedrockToolSpec {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "inputSchema")]
    pub input_schema: BedrockInputSchema,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

#[derive(Serialize, Debug)]
pub struct BedrockInputSchema {
    pub json: Json,
}

/// `ToolChoice` union: `{"auto":{}}` | `{"any":{}}` | `{"tool":{"name"}}`.
#[derive(Serialize, Debug, Default)]
pub struct BedrockToolChoice {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto: Option<BedrockEmpty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub any: Option<BedrockEmpty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<BedrockNamedTool>,
}

#[derive(Serialize, Debug, Default)]
pub struct BedrockEmpty {}

#[derive(Serialize, Debug)]
pub struct BedrockNamedTool {
    pub name: String,
}

#[derive(Serialize, Debug)]
pub struct BedrockConverseResponse {
    pub output: BedrockOutput,
    #[serde(rename = "stopReason")]
    pub stop_reason: String,
    pub usage: BedrockUsage,
    pub metrics: BedrockMetrics,
    #[serde(rename = "additionalModelResponseFields", skip_serializing_if = "Option::is_none")]
    pub additional_model_response_fields: Option<Json>,
}

#[derive(Serialize, Debug)]
pub struct BedrockOutput {
    pub message: BedrockMessage,
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
