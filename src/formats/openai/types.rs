//! OpenAI wire structs (PROTOCOLS 2.3, 2.4, 2.5, 2.6). Field order follows the real API, so what
//! Sluice writes looks like what OpenAI writes.

use serde::Serialize;

#[derive(Serialize, Debug, Clone, Copy, Default)]
pub struct OpenAiPromptDetails {
    pub cached_tokens: u64,
    pub audio_tokens: u64,
}

#[derive(Serialize, Debug, Clone, Copy, Default)]
pub struct OpenAiCompletionDetails {
    pub reasoning_tokens: u64,
    pub audio_tokens: u64,
    pub accepted_prediction_tokens: u64,
    pub rejected_prediction_tokens: u64,
}

#[derive(Serialize, Debug, Clone, Copy, Default)]
pub struct OpenAiUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<OpenAiPromptDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<OpenAiCompletionDetails>,
}

impl OpenAiUsage {
    pub fn new(prompt: u64, completion: u64, details: bool) -> OpenAiUsage {
        OpenAiUsage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            prompt_tokens_details: details.then(OpenAiPromptDetails::default),
            completion_tokens_details: details.then(OpenAiCompletionDetails::default),
        }
    }
}

#[derive(Serialize, Debug)]
pub struct OpenAiResponseMessage<'a> {
    pub role: &'a str,
    pub content: Option<&'a str>,
    pub refusal: Option<&'a str>,
    pub annotations: [(); 0],
}

#[derive(Serialize, Debug)]
pub struct OpenAiChoice<'a> {
    pub index: u32,
    pub message: OpenAiResponseMessage<'a>,
    pub logprobs: Option<()>,
    pub finish_reason: &'a str,
}

#[derive(Serialize, Debug)]
pub struct OpenAiChatCompletion<'a> {
    pub id: &'a str,
    pub object: &'a str,
    pub created: u64,
    pub model: &'a str,
    pub system_fingerprint: &'a str,
    pub choices: Vec<OpenAiChoice<'a>>,
    pub usage: OpenAiUsage,
}

#[derive(Serialize, Debug, Default)]
pub struct OpenAiDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    /// Serialized as `"refusal": null` in the first delta only, as OpenAI does.
    #[serde(skip_serializing_if = "std::ops::Not::not", serialize_with = "null")]
    pub refusal_null: bool,
}

fn null<S: serde::Serializer>(_: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_none()
}

#[derive(Serialize, Debug)]
pub struct OpenAiChunkChoice<'a> {
    pub index: u32,
    pub delta: OpenAiDelta<'a>,
    pub logprobs: Option<()>,
    pub finish_reason: Option<&'a str>,
}

/// One `chat.completion.chunk`. `usage` is `Some(None)` (`"usage": null`) on every chunk when
/// the client asked for usage, and absent otherwise.
#[derive(Serialize, Debug)]
pub struct OpenAiChatChunk<'a> {
    pub id: &'a str,
    pub object: &'a str,
    pub created: u64,
    pub model: &'a str,
    pub system_fingerprint: &'a str,
    pub choices: Vec<OpenAiChunkChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Option<OpenAiUsage>>,
}

#[derive(Serialize, Debug)]
pub struct OpenAiTextChoice<'a> {
    pub text: &'a str,
    pub index: u32,
    pub logprobs: Option<()>,
    pub finish_reason: Option<&'a str>,
}

#[derive(Serialize, Debug)]
pub struct OpenAiTextCompletion<'a> {
    pub id: &'a str,
    pub object: &'a str,
    pub created: u64,
    pub model: &'a str,
    pub choices: Vec<OpenAiTextChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<OpenAiUsage>,
}

#[derive(Serialize, Debug)]
pub struct OpenAiModel<'a> {
    pub id: &'a str,
    pub object: &'a str,
    pub created: u64,
    pub owned_by: &'a str,
}

#[derive(Serialize, Debug)]
pub struct OpenAiList<T> {
    pub object: &'static str,
    pub data: Vec<T>,
}

#[derive(Serialize, Debug)]
pub struct OpenAiErrorDetail<'a> {
    pub message: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub param: Option<&'a str>,
    pub code: Option<&'a str>,
}

#[derive(Serialize, Debug)]
pub struct OpenAiError<'a> {
    pub error: OpenAiErrorDetail<'a>,
}
