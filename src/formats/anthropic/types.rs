//! Anthropic Messages wire structs for what Sluice writes (PROTOCOLS 3.2, 3.3, 3.5): requests to an
//! Anthropic upstream, responses and errors to an Anthropic client. Field order follows the real
//! API. Decoding walks `sonic_rs::Value` instead (see `request.rs`), so that every rejected field
//! can be named and unknown fields kept as raw extras. The request and the answer are written by
//! `write.rs` from these same structs, to the bytes serde gives for them (tests hold the two
//! together); errors and stream events go through serde.

use crate::canonical::{Json, Schema};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use sonic_rs::JsonValueTrait;
use std::borrow::Cow;

/// A Converse document's fields that Anthropic's document block has under the same names and
/// in the same shapes (the Bedrock encoder writes an Anthropic client's back the same way).
const SHARED_WITH_BEDROCK: [&str; 2] = ["context", "citations"];

/// Raw extra fields (`Extra::for_target`), flattened into the enclosing object, and what a
/// Bedrock client's part asks for in Anthropic's terms: `SHARED_WITH_BEDROCK` fields as they
/// are, and `cache_control` for a `cachePoint`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawFields<'a> {
    pub(super) fields: &'a [(String, Json)],
    /// A Bedrock client's extras, of which the `SHARED_WITH_BEDROCK` ones are written.
    pub(super) bedrock: &'a [(String, Json)],
    /// A Converse `cachePoint` follows the block (or tool): it marks the end of a cached prefix,
    /// as Anthropic's `cache_control` on the block before it does (Bedrock's prompt caching is
    /// Anthropic's, on Claude).
    pub(super) cache_point: Option<&'a Json>,
}

/// The `ttl` of a Converse `cachePoint`, for the `cache_control` it becomes.
pub(super) fn cache_ttl(cache_point: &Json) -> Option<&str> {
    cache_point.get("ttl").and_then(|t| t.as_str())
}

impl<'a> RawFields<'a> {
    /// Fields taken as they are.
    pub fn new(fields: &'a [(String, Json)]) -> Self {
        RawFields {
            fields,
            ..RawFields::default()
        }
    }

    /// What a part's or tool's extras give an Anthropic block: an Anthropic client's own fields,
    /// or a Bedrock client's shared fields and the `cache_control` for its `cachePoint`.
    pub fn of(extra: &'a crate::canonical::Extra) -> Self {
        use crate::formats::Format;
        let bedrock = extra.format == Some(Format::Bedrock);
        RawFields {
            fields: extra.for_target(Format::Anthropic),
            bedrock: extra.for_target(Format::Bedrock),
            cache_point: extra.get("cachePoint").filter(|_| bedrock),
        }
    }

    pub(super) fn shared(&self) -> impl Iterator<Item = &'a (String, Json)> {
        self.bedrock
            .iter()
            .filter(|(k, _)| SHARED_WITH_BEDROCK.contains(&k.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.cache_point.is_none() && self.shared().next().is_none()
    }
}

impl Serialize for RawFields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = self.fields.len() + self.shared().count() + usize::from(self.cache_point.is_some());
        let mut m = s.serialize_map(Some(len))?;
        for (k, v) in self.fields.iter().chain(self.shared()) {
            m.serialize_entry(k, v)?;
        }
        if let Some(cp) = self.cache_point {
            #[derive(Serialize)]
            struct CacheControl<'a> {
                #[serde(rename = "type")]
                kind: &'static str,
                /// Both APIs take `5m` and `1h`: without it a `1h` cache would lapse in 5 minutes.
                #[serde(skip_serializing_if = "Option::is_none")]
                ttl: Option<&'a str>,
            }
            let ttl = cache_ttl(cp);
            m.serialize_entry("cache_control", &CacheControl { kind: "ephemeral", ttl })?;
        }
        m.end()
    }
}

#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnthropicImageSource<'a> {
    Base64 {
        media_type: Cow<'a, str>,
        data: Cow<'a, str>,
    },
    Url {
        url: &'a str,
    },
}

/// A `document` block's `source`: a base64 PDF, plain text, or a PDF by URL.
#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnthropicDocumentSource<'a> {
    Base64 {
        media_type: &'a str,
        data: &'a str,
    },
    Text {
        media_type: &'static str,
        data: Cow<'a, str>,
    },
    Url {
        url: &'a str,
    },
}

/// `tool_result.content`: a plain string or blocks.
#[derive(Serialize, Debug)]
#[serde(untagged)]
pub enum AnthropicToolResultContent<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<AnthropicBlock<'a>>),
}

/// A content block, in requests (all variants) and responses (text, thinking, tool_use).
#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnthropicBlock<'a> {
    Text {
        text: Cow<'a, str>,
        #[serde(flatten)]
        extra: RawFields<'a>,
    },
    Image {
        source: AnthropicImageSource<'a>,
        #[serde(flatten)]
        extra: RawFields<'a>,
    },
    Document {
        source: AnthropicDocumentSource<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<&'a str>,
        #[serde(flatten)]
        extra: RawFields<'a>,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        /// The call's arguments text, validated as an object and written as it is.
        input: sonic_rs::LazyValue<'a>,
        #[serde(flatten)]
        extra: RawFields<'a>,
    },
    ToolResult {
        tool_use_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<AnthropicToolResultContent<'a>>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
        #[serde(flatten)]
        extra: RawFields<'a>,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
}

#[derive(Serialize, Debug)]
pub struct AnthropicMessage<'a> {
    pub role: &'static str,
    pub content: Vec<AnthropicBlock<'a>>,
}

/// `system`: a string when it is one plain text block, else blocks (to keep `cache_control`).
#[derive(Serialize, Debug)]
#[serde(untagged)]
pub enum AnthropicSystem<'a> {
    Text(&'a str),
    Blocks(Vec<AnthropicBlock<'a>>),
}

#[derive(Serialize, Debug)]
pub struct AnthropicTool<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub input_schema: &'a Schema,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    #[serde(flatten)]
    pub extra: RawFields<'a>,
}

#[derive(Serialize, Debug)]
pub struct AnthropicToolChoice<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
}

/// `metadata`: the end user's id, for Anthropic's abuse monitoring.
#[derive(Serialize, Debug)]
pub struct AnthropicMetadata<'a> {
    pub user_id: &'a str,
}

#[derive(Serialize, Debug)]
pub struct AnthropicThinking {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub budget_tokens: u32,
}

/// `POST /v1/messages` body, in the order the official SDK writes the common fields.
#[derive(Serialize, Debug)]
pub struct AnthropicRequest<'a> {
    pub max_tokens: u32,
    pub messages: Vec<AnthropicMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<AnthropicMetadata<'a>>,
    pub model: &'a str,
    #[serde(skip_serializing_if = "no_strings")]
    pub stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<AnthropicSystem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<AnthropicThinking>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<AnthropicToolChoice<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<AnthropicTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_config: Option<AnthropicOutputConfig<'a>>,
    #[serde(flatten)]
    pub extra: RawFields<'a>,
}

/// `output_config` with a format: the client's own other members (an Anthropic client's
/// `effort`, ...) and the format, its schema as written. Members in byte order, the format's
/// too (`schema`, `type`), as the `Value` tree this was (sonic-rs `sort_keys`) came out.
#[derive(Debug)]
pub struct AnthropicOutputConfig<'a> {
    /// Without `format`.
    pub rest: sonic_rs::Object,
    pub schema: &'a Schema,
}

impl AnthropicOutputConfig<'_> {
    /// Its members in order: `format` (`None`) among the others.
    pub(super) fn members(&self) -> impl Iterator<Item = (&str, Option<&Json>)> {
        fn some<'v>((k, v): (&'v str, &'v Json)) -> (&'v str, Option<&'v Json>) {
            (k, Some(v))
        }
        let before = self.rest.iter().filter(|(k, _)| *k < "format");
        let after = self.rest.iter().filter(|(k, _)| *k > "format");
        before
            .map(some)
            .chain(std::iter::once(("format", None)))
            .chain(after.map(some))
    }
}

/// `{"schema":...,"type":"json_schema"}`.
struct OutputFormat<'a>(&'a Schema);

impl Serialize for OutputFormat<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("schema", self.0)?;
        m.serialize_entry("type", "json_schema")?;
        m.end()
    }
}

impl Serialize for AnthropicOutputConfig<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.rest.len() + 1))?;
        for (k, v) in self.members() {
            match v {
                Some(v) => m.serialize_entry(k, v)?,
                None => m.serialize_entry(k, &OutputFormat(self.schema))?,
            }
        }
        m.end()
    }
}

fn no_strings(s: &&[String]) -> bool {
    s.is_empty()
}

/// Usage in the order the live API writes it (input, cache creation, cache read, output).
#[derive(Serialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnthropicUsage {
    pub input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub output_tokens: u64,
}

/// Non-streaming `message` response (PROTOCOLS 3.3).
#[derive(Serialize, Debug)]
pub struct AnthropicResponse<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub model: &'a str,
    pub content: Vec<AnthropicBlock<'a>>,
    pub stop_reason: &'a str,
    pub stop_sequence: Option<&'a str>,
    pub usage: AnthropicUsage,
}

#[derive(Serialize, Debug)]
pub struct AnthropicErrorDetail<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub message: &'a str,
}

/// Error body (PROTOCOLS 3.5).
#[derive(Serialize, Debug)]
pub struct AnthropicError<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub error: AnthropicErrorDetail<'a>,
    pub request_id: &'a str,
}

/// One stream event as Sluice writes it (PROTOCOLS 3.4): `type` first, as the API writes it; the
/// SSE `event:` name is the same string ([`AnthropicStreamEvent::name`]).
#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnthropicStreamEvent<'a> {
    MessageStart {
        message: AnthropicMessageStart<'a>,
    },
    ContentBlockStart {
        index: u32,
        content_block: AnthropicBlockStart<'a>,
    },
    ContentBlockDelta {
        index: u32,
        delta: AnthropicBlockDelta<'a>,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: AnthropicMessageDelta<'a>,
        usage: AnthropicUsage,
    },
    MessageStop,
    Error {
        error: AnthropicErrorDetail<'a>,
    },
}

impl AnthropicStreamEvent<'_> {
    /// The SSE event name (= the `type` field).
    pub fn name(&self) -> &'static str {
        match self {
            AnthropicStreamEvent::MessageStart { .. } => "message_start",
            AnthropicStreamEvent::ContentBlockStart { .. } => "content_block_start",
            AnthropicStreamEvent::ContentBlockDelta { .. } => "content_block_delta",
            AnthropicStreamEvent::ContentBlockStop { .. } => "content_block_stop",
            AnthropicStreamEvent::MessageDelta { .. } => "message_delta",
            AnthropicStreamEvent::MessageStop => "message_stop",
            AnthropicStreamEvent::Error { .. } => "error",
        }
    }
}

/// `message_start.message`: the message with no content and null stop fields.
#[derive(Serialize, Debug)]
pub struct AnthropicMessageStart<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub content: [(); 0],
    pub model: &'a str,
    pub stop_reason: Option<&'a str>,
    pub stop_sequence: Option<&'a str>,
    pub usage: AnthropicUsage,
}

/// `{}`, the `input` a `tool_use` block starts with.
#[derive(Serialize, Debug)]
pub struct AnthropicEmptyObject {}

/// `content_block_start.content_block`: empty blocks that the deltas fill.
#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnthropicBlockStart<'a> {
    Text {
        text: &'static str,
    },
    Thinking {
        thinking: &'static str,
        signature: &'static str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: AnthropicEmptyObject,
    },
    RedactedThinking {
        data: &'a str,
    },
}

#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnthropicBlockDelta<'a> {
    TextDelta { text: &'a str },
    InputJsonDelta { partial_json: &'a str },
    ThinkingDelta { thinking: &'a str },
    SignatureDelta { signature: &'a str },
}

#[derive(Serialize, Debug)]
pub struct AnthropicMessageDelta<'a> {
    pub stop_reason: &'a str,
    pub stop_sequence: Option<&'a str>,
}
