//! Gemini wire structs for what Sluice writes as the integration (PROTOCOLS 4.3, 4.5). Field
//! order follows the real API: candidates, usageMetadata, modelVersion, responseId.

use crate::canonical::Json;
use serde::Serialize;

#[derive(Serialize, Debug)]
pub struct GeminiContent {
    pub parts: Vec<Json>,
    pub role: &'static str,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct GeminiCandidate<'a> {
    /// Absent when nothing was generated (e.g. blocked by safety).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<GeminiContent>,
    pub finish_reason: &'a str,
    pub index: u32,
}

#[derive(Serialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct GeminiUsage {
    pub prompt_token_count: u64,
    pub candidates_token_count: u64,
    pub total_token_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_content_token_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thoughts_token_count: Option<u64>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct GeminiResponse<'a> {
    pub candidates: Vec<GeminiCandidate<'a>>,
    pub usage_metadata: GeminiUsage,
    pub model_version: &'a str,
    pub response_id: &'a str,
}

#[derive(Serialize, Debug)]
pub struct GeminiErrorDetail<'a> {
    pub code: u16,
    pub message: &'a str,
    pub status: &'a str,
}

/// `{"error":{"code","message","status"}}` (`google.rpc.Status`).
#[derive(Serialize, Debug)]
pub struct GeminiError<'a> {
    pub error: GeminiErrorDetail<'a>,
}
