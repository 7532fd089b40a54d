//! OpenAI wire structs (PROTOCOLS 2.3, 2.4, 2.5, 2.6). Field order follows the real API, so what
//! Sluice writes looks like what OpenAI writes.

use crate::canonical::{Json, Schema, TokenLogprob};
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

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
    /// `Some(None)` is `"refusal": null`, in the first delta only, as OpenAI does; `Some(text)`
    /// a piece of a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<OpenAiToolCallDelta<'a>>>,
}

/// One tool-call entry of a stream delta: `index` always; `id`, `type` and `name` only in the
/// first delta of that call (the SDK concatenates strings across deltas, PROTOCOLS 2.4 rule 5).
#[derive(Serialize, Debug)]
pub struct OpenAiToolCallDelta<'a> {
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'a str>,
    pub function: OpenAiFunctionDelta<'a>,
}

#[derive(Serialize, Debug)]
pub struct OpenAiFunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub arguments: &'a str,
}

#[derive(Serialize, Debug)]
pub struct OpenAiChunkChoice<'a> {
    pub index: u32,
    pub delta: OpenAiDelta<'a>,
    pub logprobs: Option<OpenAiLogprobsOut<'a>>,
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
    pub logprobs: Option<super::completions::LegacyLogprobs<'a>>,
    pub finish_reason: Option<&'a str>,
}

#[derive(Serialize, Debug)]
pub struct OpenAiTextCompletion<'a> {
    pub id: &'a str,
    pub object: &'a str,
    pub created: u64,
    pub model: &'a str,
    pub choices: &'a [OpenAiTextChoice<'a>],
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

// ---------------------------------------------------------------------------------------------
// Codec structs (translation through the canonical hub). Requests are decoded by walking a
// `sonic_rs::Value` (errors name the exact field, unknown top-level fields are kept), responses
// through the lenient `Deserialize` structs below; both directions are encoded with the
// `Serialize` structs, whose field order is the order OpenAI (or its SDK) uses.
// ---------------------------------------------------------------------------------------------

/// Raw extra fields flattened into an object, minus the names the struct already writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAiExtra<'a> {
    pub fields: &'a [(String, Json)],
    pub skip: &'static [&'static str],
}

impl Serialize for OpenAiExtra<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.fields {
            if !self.skip.contains(&k.as_str()) {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

/// `POST /v1/chat/completions` body as Sluice sends it upstream: `model`, `messages`, then the
/// parameters in the alphabetical order the Python SDK uses, then OpenAI-only extras.
#[derive(Serialize, Debug)]
pub struct OpenAiChatRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<OpenAiMessageOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<OpenAiResponseFormat<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<OpenAiStreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<OpenAiToolChoice<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<OpenAiTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    #[serde(flatten)]
    pub extra: OpenAiExtra<'a>,
}

#[derive(Serialize, Debug, Clone, Copy)]
pub struct OpenAiStreamOptions {
    pub include_usage: bool,
}

/// One entry of `messages[]` (any role).
#[derive(Serialize, Debug)]
pub struct OpenAiMessageOut<'a> {
    pub role: &'a str,
    pub content: OpenAiContent<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<OpenAiToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<&'a str>,
}

/// `content`: `null`, a string, or an array of parts.
#[derive(Serialize, Debug)]
#[serde(untagged)]
pub enum OpenAiContent<'a> {
    Null,
    Text(Cow<'a, str>),
    Parts(Vec<OpenAiPart<'a>>),
}

#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OpenAiPart<'a> {
    Text { text: Cow<'a, str> },
    ImageUrl { image_url: OpenAiImageUrl<'a> },
    File { file: OpenAiFile<'a> },
}

/// A `file` part's `file`: inline data as a data URL, and its name.
#[derive(Serialize, Debug)]
pub struct OpenAiFile<'a> {
    pub file_data: String,
    pub filename: &'a str,
    /// Other file fields the client sent (OpenAI sources only).
    #[serde(flatten)]
    pub extra: OpenAiExtra<'a>,
}

#[derive(Serialize, Debug)]
pub struct OpenAiImageUrl<'a> {
    pub url: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a Json>,
    /// Any other hint the client sent (OpenAI sources only).
    #[serde(flatten)]
    pub extra: OpenAiExtra<'a>,
}

#[derive(Serialize, Debug)]
pub struct OpenAiToolCall<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: OpenAiFunctionCall<'a>,
}

#[derive(Serialize, Debug)]
pub struct OpenAiFunctionCall<'a> {
    pub name: &'a str,
    pub arguments: &'a str,
}

#[derive(Serialize, Debug)]
pub struct OpenAiTool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: OpenAiFunction<'a>,
}

#[derive(Serialize, Debug)]
pub struct OpenAiFunction<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub parameters: &'a Schema,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// OpenAI-only function fields.
    #[serde(flatten)]
    pub extra: OpenAiExtra<'a>,
}

#[derive(Serialize, Debug)]
#[serde(untagged)]
pub enum OpenAiToolChoice<'a> {
    Mode(&'static str),
    Named {
        #[serde(rename = "type")]
        kind: &'static str,
        function: OpenAiFunctionName<'a>,
    },
    /// `{"type":"allowed_tools","allowed_tools":{"mode","tools":[{"type":"function","function":{"name"}}]}}`.
    Allowed {
        #[serde(rename = "type")]
        kind: &'static str,
        allowed_tools: OpenAiAllowedTools<'a>,
    },
}

#[derive(Serialize, Debug)]
pub struct OpenAiAllowedTools<'a> {
    pub mode: &'static str,
    pub tools: Vec<OpenAiFunctionRef<'a>>,
}

/// A function named in an `allowed_tools` list.
#[derive(Serialize, Debug)]
pub struct OpenAiFunctionRef<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: OpenAiFunctionName<'a>,
}

#[derive(Serialize, Debug)]
pub struct OpenAiFunctionName<'a> {
    pub name: &'a str,
}

#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OpenAiResponseFormat<'a> {
    Text,
    JsonObject,
    JsonSchema { json_schema: OpenAiJsonSchema<'a> },
}

#[derive(Serialize, Debug)]
pub struct OpenAiJsonSchema<'a> {
    pub name: &'a str,
    pub schema: &'a crate::canonical::Schema,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// A `chat.completion` as Sluice answers a client (fields in OpenAI's order).
#[derive(Serialize, Debug)]
pub struct OpenAiCompletionOut<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: u64,
    pub model: &'a str,
    pub choices: [OpenAiChoiceOut<'a>; 1],
    pub usage: OpenAiUsage,
}

#[derive(Serialize, Debug)]
pub struct OpenAiChoiceOut<'a> {
    pub index: u32,
    pub message: OpenAiAssistantOut<'a>,
    pub logprobs: Option<OpenAiLogprobsOut<'a>>,
    pub finish_reason: &'a str,
}

/// `choices[0].message`: OpenAI writes `tool_calls` between `content` and `refusal`.
#[derive(Serialize, Debug)]
pub struct OpenAiAssistantOut<'a> {
    pub role: &'static str,
    pub content: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<OpenAiToolCall<'a>>,
    pub refusal: Option<Cow<'a, str>>,
    pub annotations: [(); 0],
}

/// An upstream `chat.completion`, read leniently (OpenAI-compatible servers omit or null many
/// fields).
#[derive(Deserialize, Debug, Default)]
pub struct OpenAiCompletionIn {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub created: Option<u64>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Option<Vec<OpenAiChoiceIn>>,
    #[serde(default)]
    pub usage: Option<OpenAiUsageIn>,
}

#[derive(Deserialize, Debug, Default)]
pub struct OpenAiChoiceIn {
    #[serde(default)]
    pub message: Option<OpenAiMessageIn>,
    #[serde(default)]
    pub logprobs: Option<OpenAiLogprobsIn>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
pub struct OpenAiMessageIn {
    /// A string, an array of parts, or null.
    #[serde(default)]
    pub content: Option<Json>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<OpenAiToolCallIn>>,
    /// Legacy single function call.
    #[serde(default)]
    pub function_call: Option<OpenAiFunctionIn>,
    /// Non-standard reasoning text (DeepSeek, vLLM, ...).
    #[serde(default)]
    pub reasoning_content: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
pub struct OpenAiToolCallIn {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub function: Option<OpenAiFunctionIn>,
}

#[derive(Deserialize, Debug, Default)]
pub struct OpenAiFunctionIn {
    #[serde(default)]
    pub name: Option<String>,
    /// JSON text; some compatible servers send an object instead.
    #[serde(default)]
    pub arguments: Option<Json>,
}

#[derive(Deserialize, Debug, Default)]
pub struct OpenAiUsageIn {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub prompt_tokens_details: Option<OpenAiPromptDetailsIn>,
    #[serde(default)]
    pub completion_tokens_details: Option<OpenAiCompletionDetailsIn>,
}

#[derive(Deserialize, Debug, Default)]
pub struct OpenAiPromptDetailsIn {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

#[derive(Deserialize, Debug, Default)]
pub struct OpenAiCompletionDetailsIn {
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
}

/// An upstream error body: `{"error":{...}}`, `{"error":"..."}` or `{"message":"..."}`.
#[derive(Deserialize, Debug, Default)]
pub struct OpenAiErrorIn {
    #[serde(default)]
    pub error: Option<Json>,
    #[serde(default)]
    pub message: Option<Json>,
    #[serde(default)]
    pub detail: Option<Json>,
}

// ---------------------------------------------------------------------------------------------
// Stream codec structs (`stream.rs`): chunks as the gateway writes them to an OpenAI client, and
// chunks of an upstream stream, read leniently.
// ---------------------------------------------------------------------------------------------

/// One `chat.completion.chunk` written by the stream encoder: at most one choice (borrowed, so
/// writing a chunk allocates nothing); `usage` as in [`OpenAiChatChunk`].
#[derive(Serialize, Debug)]
pub struct OpenAiChunkOut<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: u64,
    pub model: &'a str,
    pub choices: &'a [OpenAiChunkChoiceOut<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Option<OpenAiUsage>>,
}

#[derive(Serialize, Debug)]
pub struct OpenAiChunkChoiceOut<'a> {
    pub index: u32,
    pub delta: OpenAiDeltaOut<'a>,
    pub logprobs: Option<OpenAiLogprobsOut<'a>>,
    pub finish_reason: Option<&'a str>,
}

/// A stream delta with at most one tool-call entry (the encoder writes one event per chunk).
#[derive(Serialize, Debug, Default)]
pub struct OpenAiDeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    /// `Some(None)` is `"refusal": null`, in the first delta only, as OpenAI does; `Some(text)`
    /// a piece of a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<[OpenAiToolCallDelta<'a>; 1]>,
}

/// An upstream `chat.completion.chunk` (or a mid-stream `{"error":..}` object). Fields read only
/// once per stream (`id`, `model`) or compared (`finish_reason`) borrow from the event's bytes:
/// no allocation for them per chunk.
#[derive(Deserialize, Debug, Default)]
pub struct OpenAiChunkIn<'a> {
    #[serde(default, borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub model: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub choices: Option<Vec<OpenAiChunkChoiceIn<'a>>>,
    #[serde(default)]
    pub usage: Option<OpenAiUsageIn>,
    #[serde(default)]
    pub error: Option<Json>,
}

#[derive(Deserialize, Debug, Default)]
pub struct OpenAiChunkChoiceIn<'a> {
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default)]
    pub delta: Option<OpenAiDeltaIn>,
    /// Raw, parsed only when present: nearly every chunk says `null` (or nothing) here.
    #[serde(default, borrow)]
    pub logprobs: Option<sonic_rs::LazyValue<'a>>,
    #[serde(default, borrow)]
    pub finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Debug, Default)]
pub struct OpenAiDeltaIn {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    /// Non-standard reasoning text (DeepSeek, vLLM, ...).
    #[serde(default)]
    pub reasoning_content: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<OpenAiToolCallDeltaIn>>,
    /// Legacy single function call (no index: always call 0).
    #[serde(default)]
    pub function_call: Option<OpenAiFunctionIn>,
}

#[derive(Deserialize, Debug, Default)]
pub struct OpenAiToolCallDeltaIn {
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<OpenAiFunctionIn>,
}

// Log probabilities -----------------------------------------------------------------------------

/// A choice's `logprobs` as OpenAI writes it: `{"content":[{"token","logprob","bytes",
/// "top_logprobs"}],"refusal":null}`. `bytes` are the token's UTF-8 bytes (canonical tokens are
/// whole strings).
#[derive(Debug, Clone, Copy)]
pub struct OpenAiLogprobsOut<'a>(pub &'a [TokenLogprob]);

/// A token: (text, log probability, alternatives); `None` for an alternative itself, which has
/// no `top_logprobs` key (a chosen token always has one, `[]` when none were asked for).
struct TokenOut<'a>(&'a str, f64, Option<&'a [(String, f64)]>);

impl Serialize for OpenAiLogprobsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("logprobs", 2)?;
        st.serialize_field("content", &OpenAiTokensOut(self.0))?;
        st.serialize_field("refusal", &None::<()>)?;
        st.end()
    }
}

/// The tokens themselves: `[{"token","logprob","bytes","top_logprobs"}]`, the `content` of a
/// chat choice's `logprobs` and the `logprobs` of a Responses `output_text` part.
#[derive(Debug, Clone, Copy)]
pub struct OpenAiTokensOut<'a>(pub &'a [TokenLogprob]);

impl Serialize for OpenAiTokensOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for t in self.0 {
            seq.serialize_element(&TokenOut(&t.token, t.logprob, Some(&t.top)))?;
        }
        seq.end()
    }
}

impl Serialize for TokenOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Tops<'a>(&'a [(String, f64)]);
        impl Serialize for Tops<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for (token, logprob) in self.0 {
                    seq.serialize_element(&TokenOut(token, *logprob, None))?;
                }
                seq.end()
            }
        }
        let mut st = s.serialize_struct("token", 3 + usize::from(self.2.is_some()))?;
        st.serialize_field("token", self.0)?;
        // OpenAI's floor for a token it never considered; JSON has no -inf.
        st.serialize_field("logprob", &if self.1.is_finite() { self.1 } else { -9999.0 })?;
        st.serialize_field("bytes", self.0.as_bytes())?;
        if let Some(top) = self.2 {
            st.serialize_field("top_logprobs", &Tops(top))?;
        }
        st.end()
    }
}

/// An upstream choice's `logprobs` (`content` only; `refusal` log probabilities have no
/// canonical place).
#[derive(Deserialize, Debug, Default)]
pub struct OpenAiLogprobsIn {
    #[serde(default)]
    pub content: Option<Vec<OpenAiTokenLogprobIn>>,
}

#[derive(Deserialize, Debug, Default)]
pub struct OpenAiTokenLogprobIn {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub logprob: f64,
    #[serde(default)]
    pub top_logprobs: Option<Vec<OpenAiTopLogprobIn>>,
}

#[derive(Deserialize, Debug, Default)]
pub struct OpenAiTopLogprobIn {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub logprob: f64,
}

impl OpenAiLogprobsIn {
    pub fn into_canonical(self) -> Vec<TokenLogprob> {
        self.content
            .unwrap_or_default()
            .into_iter()
            .map(|t| TokenLogprob {
                token: t.token,
                logprob: t.logprob,
                top: t
                    .top_logprobs
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| (a.token, a.logprob))
                    .collect(),
            })
            .collect()
    }
}
