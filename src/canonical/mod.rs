//! Canonical chat types: the hub every cross-format translation goes through.
//!
//! A field enters these types only when two or more formats express it; anything else travels in
//! `extra` tagged with its source format and is applied only when the target speaks that format
//! (e.g. Anthropic `cache_control` reaching an Anthropic or Bedrock-Claude upstream intact).
//! Format modules convert wire <-> canonical with pure functions; nothing here does IO.

pub mod embed;
pub mod path;
pub mod rerank;
pub mod sig;
pub mod stream;

pub use path::JsonPath;

use crate::formats::Format;
pub use sonic_rs::Value as Json;
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// A field of one format that carries content rather than a setting: Cohere's grounding
/// `documents`, Gemini's `cachedContent` (a reference to cached context), ... Other formats refuse
/// a request with one (`Extra::refuse_lost_content`), where a setting such as Gemini's
/// `safetySettings` is applied to its own format only.
struct ContentField {
    format: Format,
    /// Where it sits in the extras: a top-level name, then the keys inside it
    /// (`generationConfig.speechConfig`); the refusal names it so.
    path: &'static str,
    /// What it is, for the refusal.
    what: &'static str,
    /// Whether a value asks for content (a setting may also say "nothing more than text").
    asks: fn(&Json) -> bool,
}

impl ContentField {
    const fn any(format: Format, path: &'static str, what: &'static str) -> ContentField {
        ContentField {
            format,
            path,
            what,
            asks: something,
        }
    }
}

/// Any value but `false`, null and `[]`, which ask for nothing (`"logprobs": false`,
/// `"mcp_servers": []`). An empty object may ask: OpenAI's `"web_search_options": {}` turns web
/// search on with its defaults.
fn something(v: &Json) -> bool {
    !(v.is_null() || v.as_bool() == Some(false) || v.as_array().is_some_and(|a| a.is_empty()))
}

/// Something, and not `{}`: an empty map of biases changes nothing.
fn non_empty(v: &Json) -> bool {
    something(v) && v.as_object().is_none_or(|o| !o.is_empty())
}

/// Gemini `responseModalities` asks for more than text: an image or audio in the answer.
fn beyond_text(v: &Json) -> bool {
    something(v)
        && v.as_array().is_none_or(|a| {
            a.iter().any(|m| {
                !m.as_str()
                    .is_some_and(|m| m.eq_ignore_ascii_case("TEXT") || m.eq_ignore_ascii_case("MODALITY_UNSPECIFIED"))
            })
        })
}

const CONTENT_FIELDS: &[ContentField] = &[
    ContentField::any(Format::Cohere, "documents", "grounding documents"),
    ContentField::any(Format::Gemini, "cachedContent", "cached content"),
    // Built-in tools (googleSearch, codeExecution, urlContext, ...) that Gemini runs itself;
    // function declarations translate and are not in this extra.
    ContentField::any(Format::Gemini, "tools", "Gemini's built-in tools"),
    // Image or audio output (and the voice to speak it in): another format answers in text only.
    ContentField {
        format: Format::Gemini,
        path: "generationConfig.responseModalities",
        what: "image or audio output",
        asks: beyond_text,
    },
    ContentField::any(Format::Gemini, "generationConfig.speechConfig", "speech output"),
    // A response type other than JSON or plain text (`text/x.enum`: one of the schema's values,
    // as bare text), which is all that stays raw: another format would answer unconstrained.
    ContentField::any(
        Format::Gemini,
        "generationConfig.responseMimeType",
        "a response type other than JSON or plain text",
    ),
    // Remote MCP servers whose tools Anthropic calls itself: without them the model has no
    // such tools.
    ContentField::any(Format::Anthropic, "mcp_servers", "MCP servers"),
    // Agent Skills loaded into the code-execution container: instructions and scripts the model
    // would not have. A container's id alone (reusing its files) is dropped with the tool.
    ContentField::any(Format::Anthropic, "container.skills", "Agent Skills"),
    // OpenAI's built-in web search (search models) and audio output: the answer would come
    // without the search or without the audio.
    ContentField::any(Format::OpenAi, "web_search_options", "web search"),
    ContentField::any(Format::OpenAi, "audio", "audio output"),
    // The deprecated `functions` (with `function_call`): a model without them answers as if
    // no function existed. Their successor, `tools`, translates.
    ContentField::any(Format::OpenAi, "functions", "legacy `functions` (send them as `tools`)"),
    // Cohere's come as token ids with their log probabilities, which no other format has.
    ContentField::any(
        Format::Cohere,
        "logprobs",
        "log probabilities by token id (Cohere's form)",
    ),
    // Biases keyed by OpenAI token ids, which no other tokenizer shares: without them a token
    // the client banned (a bias of -100) may come back.
    ContentField {
        format: Format::OpenAi,
        path: "logit_bias",
        what: "token biases (keyed by OpenAI token ids)",
        asks: non_empty,
    },
];

/// The text of the user turn put first where a conversation has none to open it, for formats
/// that refuse any other opening: one that opens with the assistant (a chat's greeting), or that
/// is only a system prompt (OpenAI answers one; Anthropic, Converse and Gemini refuse no turns).
pub const OPENING_USER_TURN: &str = ".";

/// Raw fields of the source format that the canonical types do not model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extra {
    /// The format the fields came from; they are applied only to a target of the same format.
    pub format: Option<Format>,
    /// Field name -> raw JSON value, in arrival order.
    pub fields: Vec<(String, Json)>,
}

impl Extra {
    pub fn new(format: Format) -> Extra {
        Extra {
            format: Some(format),
            fields: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn push(&mut self, name: impl Into<String>, value: Json) {
        self.fields.push((name.into(), value));
    }

    /// Refuses a request whose extras carry content that `target` cannot take (see
    /// `CONTENT_FIELDS`): dropped, it would change the answer without a word.
    pub fn refuse_lost_content(&self, target: Format) -> Result<(), ConvertError> {
        if self.format == Some(target) {
            return Ok(());
        }
        let asked = |c: &ContentField| {
            let mut keys = c.path.split('.');
            let mut value = keys.next().and_then(|k| self.get(k));
            for k in keys {
                value = value.and_then(|v| v.get(k));
            }
            value.is_some_and(|v| (c.asks)(v))
        };
        let lost = CONTENT_FIELDS
            .iter()
            .find(|c| self.format == Some(c.format) && asked(c));
        match lost {
            Some(ContentField { path, what, .. }) => Err(ConvertError::new(
                *path,
                format!(
                    "{what}: the {} format has no equivalent, and the answer would change without them",
                    target.name()
                ),
            )),
            None => Ok(()),
        }
    }

    /// The fields to apply when encoding for `target` (none if the source format differs).
    pub fn for_target(&self, target: Format) -> &[(String, Json)] {
        if self.format == Some(target) {
            &self.fields
        } else {
            &[]
        }
    }

    pub fn get(&self, name: &str) -> Option<&Json> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Whether these are a refusal's extras (see `Part::refusal`).
    pub fn marks_refusal(&self) -> bool {
        self.for_target(Format::OpenAi)
            .iter()
            .any(|(k, v)| k == REFUSAL && v.as_bool() == Some(true))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// An image, by URL or inline.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    /// An http(s) URL. `data:` URLs are always decoded into `Base64`.
    Url(String),
    Base64 {
        media_type: String,
        data: String,
    },
}

/// A document for the model to read (PDF or text), by URL or inline.
#[derive(Debug, Clone, PartialEq)]
pub enum DocumentSource {
    /// An http(s) URL of a PDF.
    Url(String),
    /// Inline bytes of one of `DOCUMENT_TYPES`, base64.
    Base64 { media_type: String, data: String },
    /// Plain text, as Anthropic and Bedrock carry it unencoded.
    Text(String),
}

/// Document media types and their Bedrock `format` names: what a document may be.
pub const DOCUMENT_TYPES: &[(&str, &str)] = &[
    ("application/pdf", "pdf"),
    ("text/plain", "txt"),
    ("text/markdown", "md"),
    ("text/csv", "csv"),
    ("text/html", "html"),
    ("application/msword", "doc"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    ("application/vnd.ms-excel", "xls"),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
];

/// Whether `media_type` (any case, parameters ignored) is one of `DOCUMENT_TYPES`.
pub fn is_document_type(media_type: &str) -> bool {
    let bare = media_type.split(';').next().unwrap_or("").trim();
    DOCUMENT_TYPES.iter().any(|(m, _)| m.eq_ignore_ascii_case(bare))
}

/// Whether a document type is text (`text/*`): its bytes are readable as plain text.
pub fn is_text_type(media_type: &str) -> bool {
    media_type.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("text/"))
}

/// Content of a tool result.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolResultContent {
    Text(String),
    Json(Json),
    Image(ImageSource),
    /// A document a tool returned (Anthropic `document` blocks, Bedrock `document`, Gemini
    /// function-response parts): its source and its name (Anthropic `title`, Bedrock `name`).
    Document {
        source: DocumentSource,
        name: Option<String>,
    },
}

/// One piece of message content.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text {
        text: String,
        /// Per-block raw fields (Anthropic `cache_control`, citations, ...).
        extra: Extra,
    },
    Image {
        source: ImageSource,
        /// OpenAI `detail` and similar hints.
        extra: Extra,
    },
    /// A document to read (requests only: no format answers with one).
    Document {
        source: DocumentSource,
        /// Anthropic `title`, OpenAI `filename`, Bedrock `name`.
        name: Option<String>,
        /// Anthropic `context`, `citations`, `cache_control` and similar.
        extra: Extra,
    },
    /// An assistant's call of a tool.
    ToolCall {
        id: String,
        name: String,
        /// JSON text of the arguments object, as the model wrote it (as OpenAI carries it;
        /// object-shaped formats splice it in: `formats::tool_args`).
        arguments: String,
        /// Gemini `thoughtSignature` that must come back with the part.
        signature: Option<String>,
        /// Per-block raw fields: an Anthropic `cache_control` or a Converse `cachePoint` after it.
        extra: Extra,
    },
    /// A tool's answer, in the user turn after the call.
    ToolResult {
        id: String,
        /// The called tool's name (Gemini needs it; filled from the matching call when absent).
        name: Option<String>,
        content: Vec<ToolResultContent>,
        is_error: bool,
        /// Per-block raw fields, as on `ToolCall`.
        extra: Extra,
    },
    /// Model reasoning, to be passed back unchanged where the target supports it.
    Thinking {
        text: String,
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
}

/// The OpenAI extra that marks a text part as a refusal.
const REFUSAL: &str = "refusal";

impl Part {
    pub fn text(s: impl Into<String>) -> Part {
        Part::Text {
            text: s.into(),
            extra: Extra::default(),
        }
    }

    /// Text the model gave instead of an answer: OpenAI's `message.refusal` and Responses
    /// `refusal` parts. Only OpenAI formats tell it apart (structured-output parsers skip it);
    /// the others read it as text.
    pub fn refusal(text: &str) -> Part {
        let mut extra = Extra::new(Format::OpenAi);
        extra.push(REFUSAL, Json::from(true));
        Part::Text {
            text: text.to_string(),
            extra,
        }
    }

    /// The text of a text part; `None` for any other kind.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Part::Text { text, .. } => Some(text),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Part>,
}

/// Appends `x`, making room for it alone when it is the first. `Vec`'s first push makes room
/// for four, and most messages hold one part: a long history of one-part messages took four
/// times the memory its parts need (a `Part` is 128 bytes). A second push grows it as usual.
#[inline]
pub fn push_sparing<T>(v: &mut Vec<T>, x: T) {
    if v.capacity() == 0 {
        v.reserve_exact(1);
    }
    v.push(x);
}

/// Names each tool result that has no name after its call: the latest call with its id before
/// it. Formats whose results carry only the id (OpenAI, Anthropic, Converse, Cohere) need this
/// for formats that match results by name (Gemini). Borrowing pass first (no id or name copied
/// per call), then the writes.
pub fn name_tool_results(messages: &mut [Message]) {
    let mut calls = CallNames::default();
    let mut found: Vec<(usize, usize, String)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        for (j, p) in m.content.iter().enumerate() {
            match p {
                Part::ToolCall { id, name, .. } => calls.push(id, name),
                Part::ToolResult { id, name: None, .. } => {
                    if let Some(name) = calls.name_of(id) {
                        found.push((i, j, name.to_string()));
                    }
                }
                _ => {}
            }
        }
    }
    for (i, j, n) in found {
        if let Part::ToolResult { name, .. } = &mut messages[i].content[j] {
            *name = Some(n);
        }
    }
}

/// The calls of a history so far, for naming their results (`name_of`: the latest call with an
/// id). A result nearly always answers a call of the turn just before it, so the latest
/// `RECENT` calls are searched first, a few comparisons each (a map from id to name, hashing
/// every id, cost more: RESULTS "Session 33"). Past them, a map of the older calls, made when a
/// result first needs it and kept up to date after: a body of many results that answer no recent
/// call then costs a lookup per result, not a scan of every call (quadratic in the body's size).
#[derive(Default)]
struct CallNames<'a> {
    /// (id, name) in the order made.
    calls: Vec<(&'a str, &'a str)>,
    /// The calls before `indexed`, by id: the latest of each (made when first needed: most
    /// histories never need it, and a map's random keys cost a little to make).
    older: Option<HashMap<&'a str, &'a str>>,
    indexed: usize,
}

impl<'a> CallNames<'a> {
    const RECENT: usize = 16;

    fn push(&mut self, id: &'a str, name: &'a str) {
        self.calls.push((id, name));
    }

    /// The name of the latest call with `id`.
    fn name_of(&mut self, id: &str) -> Option<&'a str> {
        let recent = self.calls.len().saturating_sub(Self::RECENT);
        if let Some((_, name)) = self.calls[recent..].iter().rev().find(|(call, _)| *call == id) {
            return Some(name);
        }
        if recent == 0 {
            return None;
        }
        // Not among the recent ones: the latest older one, the map made up to them first.
        let older = self.older.get_or_insert_with(HashMap::new);
        for &(call, name) in &self.calls[self.indexed..recent] {
            older.insert(call, name);
        }
        self.indexed = recent;
        older.get(id).copied()
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments object, as JSON text.
    pub parameters: Schema,
    /// Whether the model's arguments must follow `parameters` exactly (constrained decoding):
    /// OpenAI `function.strict`, Anthropic and Bedrock `strict`, Cohere `strict_tools` (one flag
    /// for every tool). None: not said. Gemini has no such setting and drops it (a constraint on
    /// the call, not content of the answer).
    pub strict: Option<bool>,
    pub extra: Extra,
}

/// A JSON Schema (a tool's parameters) as JSON text: as the client wrote it where its reading
/// takes the member whole (an OpenAI client's body read in one pass), else written out from the
/// `Value` it was read as. Encoders copy the text. Held as a `Value`, a schema cost a tree parse
/// to read and a (key-sorting) serialization to write: an agent's 20 tools made most of a
/// translated request's time, and sorted keys reorder a schema's properties, which the models
/// generate in the order given.
#[derive(Clone)]
pub struct Schema(String);

impl Schema {
    /// A schema from JSON text that a parser has already checked (a member of a body read).
    pub fn from_checked_text(text: impl Into<String>) -> Schema {
        Schema(text.into())
    }

    pub fn from_value(v: &Json) -> Schema {
        Schema(sonic_rs::to_string(v).unwrap_or_else(|_| "null".to_string()))
    }

    /// A schema a reading by `Value` took (`value`, at `path` in member `key`), as the client
    /// wrote it: its text in `written`, else written out from the value, keys sorted. A response
    /// schema's order is the order of the answer's keys: a model writes them as the schema lists
    /// them.
    ///
    /// The text is found as the reading found the value: a `Value`'s `get` and the lookup in the
    /// text both take the first of a repeated key. A reading that takes another (the last
    /// member of a body, as its loop over the members leaves it) says where it read
    /// (`Written::Body` names the body's members; a member repeated there is written out).
    pub(crate) fn as_written(value: &Json, written: Written<'_>, key: &str, path: &[&str]) -> Schema {
        match written.text_at(key, path) {
            Some(raw) => Schema(raw.into_owned()),
            None => Schema::from_value(value),
        }
    }

    /// The schema of a function that takes no arguments (OpenAI allows a function without
    /// `parameters`; every format's tool has one).
    pub fn no_arguments() -> Schema {
        Schema(r#"{"type":"object","properties":{}}"#.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The schema as a `Value` tree, for the few who look into it (Gemini's OpenAPI subset, the
    /// mock's checks).
    pub fn value(&self) -> Json {
        sonic_rs::from_str(&self.0).unwrap_or_default()
    }

    /// `null` or `{}`: no schema said.
    pub fn is_empty(&self) -> bool {
        let t = self.0.trim_ascii();
        t == "null" || (t.starts_with('{') && t.ends_with('}') && t[1..t.len() - 1].trim_ascii().is_empty())
    }
}

/// The value at `path` in `json`, which a parser has read whole: sonic-rs's lookup, skipping what
/// it passes without checking it again (the checked lookup parses the body a second time: it
/// cost a Responses request 40% more).
pub(crate) fn get_in_parsed<'a, P>(json: &'a [u8], path: P) -> Option<sonic_rs::LazyValue<'a>>
where
    P: IntoIterator,
    P::Item: sonic_rs::Index,
{
    // SAFETY: `get_unchecked` wants valid JSON, and every caller's was read whole by a parser
    // (the body by the reading by `Value`, a member's text by the one pass) before it looks.
    unsafe { sonic_rs::get_unchecked(json, path) }.ok()
}

/// Where a reading by `Value` finds the text of a member it read, for a schema kept as written
/// (`Schema::as_written`).
#[derive(Debug, Clone, Copy)]
pub enum Written<'a> {
    /// Not at hand: the schema is written out from its value.
    Unknown,
    /// The text the member's value was read from (Gemini's one pass reads `generationConfig`
    /// as text first).
    Member(&'a str),
    /// The text of the one value at `path` inside member `key` (a one pass takes a schema's
    /// text as it reads the member: `one_pass::SchemaAt`).
    At {
        key: &'a str,
        path: &'a [&'a str],
        text: &'a str,
    },
    /// The whole body (a reading by `Value`) and its members, the member under its key.
    Body(&'a [u8], &'a sonic_rs::Object),
}

impl<'a> Written<'a> {
    /// The text at `path` inside member `key`, found as the reading found its value: a `Value`'s
    /// `get` and the lookup both take the first of a repeated key, but a reading by `Value` keeps
    /// the last of a body's repeated member (its loop over the members), so a member repeated in
    /// `Body` has no text here.
    pub(crate) fn text_at(self, key: &str, path: &[&str]) -> Option<Cow<'a, str>> {
        let found = match self {
            Written::Unknown => None,
            Written::Member(text) => get_in_parsed(text.as_bytes(), path),
            Written::At { key: k, path: p, text } => return (k == key && p == path).then_some(Cow::Borrowed(text)),
            Written::Body(body, members) if members.iter().filter(|(k, _)| *k == key).count() == 1 => {
                get_in_parsed(body, std::iter::once(key).chain(path.iter().copied()))
            }
            Written::Body(..) => None,
        };
        found.map(|raw| raw.as_raw_cow())
    }
}

impl Default for Schema {
    fn default() -> Schema {
        Schema("null".to_string())
    }
}

impl From<Json> for Schema {
    fn from(v: Json) -> Schema {
        Schema::from_value(&v)
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The same schema: the same text, or the same JSON (a body read in one pass keeps its key
/// order, the same body read by `Value` has its keys sorted).
impl PartialEq for Schema {
    fn eq(&self, other: &Schema) -> bool {
        self.0 == other.0 || self.value() == other.value()
    }
}

/// Read as the text it is (sonic-rs's deserializer only: it gives a `LazyValue` its raw text,
/// checked).
impl<'de> serde::Deserialize<'de> for Schema {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Schema, D::Error> {
        let raw = sonic_rs::LazyValue::deserialize(d)?;
        Ok(Schema(raw.as_raw_str().to_string()))
    }
}

/// Written as the text it holds (sonic-rs writes a `LazyValue` raw).
impl serde::Serialize for Schema {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let raw: sonic_rs::LazyValue<'_> = sonic_rs::from_str(&self.0).map_err(S::Error::custom)?;
        raw.serialize(s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    None,
    /// The model must call some tool.
    Required,
    /// The model must call this tool.
    Named(String),
    /// The model may call only these declared tools (OpenAI `allowed_tools`, Gemini `ANY` with
    /// several `allowedFunctionNames`), and with `required` must call one of them. Formats
    /// without the setting are offered just these tools (`formats::tool_choice::narrow`).
    Allowed {
        names: Vec<String>,
        required: bool,
    },
}

impl ToolChoice {
    /// Whether the model must call some tool (Claude then takes no thinking budget).
    pub fn forces_call(&self) -> bool {
        matches!(
            self,
            ToolChoice::Required | ToolChoice::Named(_) | ToolChoice::Allowed { required: true, .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        /// As the client wrote it: the answer's keys follow the schema's order.
        schema: Schema,
        strict: Option<bool>,
    },
}

/// Extended thinking / reasoning request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reasoning {
    /// Token budget (Anthropic `budget_tokens`, Gemini `thinkingBudget`).
    pub budget_tokens: Option<u32>,
    /// Effort level (OpenAI `reasoning_effort`): "low" | "medium" | "high" | ...
    pub effort: Option<String>,
}

/// A chat request in canonical form.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// Model name as the target should see it (prefix already removed by routing).
    pub model: String,
    /// System prompt blocks (string systems become one text part).
    pub system: Vec<Part>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u32>,
    pub stop: Vec<String>,
    pub seed: Option<i64>,
    /// OpenAI `frequency_penalty`, Gemini `frequencyPenalty`, Cohere `frequency_penalty`.
    pub frequency_penalty: Option<f64>,
    /// OpenAI `presence_penalty`, Gemini `presencePenalty`, Cohere `presence_penalty`.
    pub presence_penalty: Option<f64>,
    pub response_format: Option<ResponseFormat>,
    /// The end user the request is made for, for the provider's abuse monitoring: OpenAI `user`,
    /// Anthropic `metadata.user_id`.
    pub user: Option<String>,
    pub reasoning: Option<Reasoning>,
    /// Token log probabilities asked for, with this many alternatives per position (0: the
    /// chosen token's only): OpenAI `logprobs`/`top_logprobs`, Gemini `responseLogprobs`/
    /// `logprobs`. Formats without them refuse the request rather than answer without.
    pub logprobs: Option<u32>,
    pub stream: bool,
    /// OpenAI `stream_options.include_usage` (other formats always report usage).
    pub include_usage: bool,
    /// Top-level fields only the source format has.
    pub extra: Extra,
}

/// About how many bytes `p` takes once encoded in any format: its text, or a fixed allowance for
/// what is mostly structure. Encoders size their output buffer from it (`ChatRequest::
/// encoded_len_hint`), so one allocation holds a typical body instead of a run of doublings.
fn encoded_part_len(p: &Part) -> usize {
    match p {
        Part::Text { text, .. } | Part::Thinking { text, .. } => text.len() + 32,
        Part::ToolCall { arguments, .. } => arguments.len() + 96,
        _ => 128,
    }
}

/// The size hint with headroom: escapes (`\n`, `\"`) and the keys around each value make the
/// encoded body somewhat longer than its text.
fn with_headroom(n: usize) -> usize {
    n + n / 8
}

/// Bodies above this many bytes have the values their reading by `Value` kept copied out of
/// the body's tree (`ChatRequest::detach_values`); below it the tree is small, and copying costs
/// more than it frees.
pub const DETACH_ABOVE: usize = 64 * 1024;

/// `v` in a tree of its own (written out and read again): see `ChatRequest::detach_values`.
pub fn detached(v: &Json) -> Json {
    sonic_rs::to_string(v)
        .ok()
        .and_then(|text| sonic_rs::from_str(&text).ok())
        .unwrap_or_else(|| v.clone())
}

impl Extra {
    fn detach_values(&mut self) {
        for (_, v) in &mut self.fields {
            *v = detached(v);
        }
    }
}

impl ChatRequest {
    /// Gives every JSON value the request keeps (extras, a response schema, tool
    /// results as JSON) a tree of its own. A value cloned out of a body's whole `Value` tree
    /// shares that tree (sonic-rs counts references to the document, not to the node): one kept
    /// tool schema holds the tree of the whole body, some five times its size, for as long as
    /// the request lives, through the upstream's answer or stream (84 MB beside a 17 MB history).
    /// The readings by `Value` call it through `detach_values_if_large`.
    pub fn detach_values(&mut self) {
        self.extra.detach_values();
        for t in &mut self.tools {
            t.extra.detach_values();
        }
        let parts = self
            .system
            .iter_mut()
            .chain(self.messages.iter_mut().flat_map(|m| &mut m.content));
        for p in parts {
            match p {
                Part::Text { extra, .. }
                | Part::Image { extra, .. }
                | Part::Document { extra, .. }
                | Part::ToolCall { extra, .. } => extra.detach_values(),
                Part::ToolResult { content, extra, .. } => {
                    extra.detach_values();
                    for c in content {
                        if let ToolResultContent::Json(v) = c {
                            *v = detached(v);
                        }
                    }
                }
                Part::Thinking { .. } | Part::RedactedThinking { .. } => {}
            }
        }
    }

    /// `detach_values` for a request read by `Value` from a body of `body_len` bytes, if that is
    /// above `DETACH_ABOVE`.
    pub fn detach_values_if_large(&mut self, body_len: usize) {
        if body_len > DETACH_ABOVE {
            self.detach_values();
        }
    }

    /// About how many bytes this request takes encoded (an encoder's initial buffer size).
    pub fn encoded_len_hint(&self) -> usize {
        let parts = self.system.iter().chain(self.messages.iter().flat_map(|m| &m.content));
        let text: usize = parts.map(encoded_part_len).sum();
        with_headroom(512 + text + 48 * self.messages.len() + 256 * self.tools.len())
    }

    /// Token log probabilities asked of a format that answers without them: refused by name
    /// (code that reads them would otherwise fail on a missing field, far from the cause).
    pub fn refuse_logprobs(&self, target: Format) -> Result<(), ConvertError> {
        match self.logprobs {
            Some(_) => Err(ConvertError::new(
                "logprobs",
                format!(
                    "token log probabilities are not available through the {} format (only OpenAI and Gemini upstreams give them)",
                    target.name()
                ),
            )),
            None => Ok(()),
        }
    }

    /// An Anthropic client's prefill (the last turn is the assistant's, for the model to go on
    /// from) sent to `target`: refused where the models answer such a turn with a new one
    /// (OpenAI, Cohere), since the client would join its prefill and a fresh answer (a `{` and
    /// then a whole JSON object). Claude (on Anthropic or Bedrock) and Gemini continue it.
    pub fn refuse_prefill(&self, target: Format) -> Result<(), ConvertError> {
        let last = self.messages.len().wrapping_sub(1);
        match self.messages.get(last) {
            Some(m) if m.role == Role::Assistant && matches!(target, Format::OpenAi | Format::Cohere) => {
                Err(ConvertError::new(
                    format!("messages[{last}]"),
                    format!(
                        "a final assistant turn (a prefill) cannot be continued through the {} format, whose models answer it with a new turn; end with a user turn",
                        target.name()
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The request's stop sequence when it has exactly one: the one an answer that stopped at a
    /// stop sequence matched, for upstreams that give only the reason (Cohere, Bedrock Converse).
    pub fn only_stop(&self) -> Option<&str> {
        match self.stop.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }
}

impl ChatResponse {
    /// About how many bytes this answer takes encoded (an encoder's initial buffer size).
    pub fn encoded_len_hint(&self) -> usize {
        let text: usize = self.content.iter().map(encoded_part_len).sum();
        let logprobs: usize = self.logprobs.iter().map(|l| 64 + 48 * l.top.len()).sum();
        with_headroom(384 + text + logprobs)
    }

    /// Names the matched stop sequence when the upstream said only that one matched and `req` had
    /// exactly one (Anthropic clients read `stop_sequence`; with several, which one is unknown).
    pub fn fill_stop_sequence(&mut self, req: &ChatRequest) {
        if self.finish == FinishReason::StopSequence && self.stop_sequence.is_none() {
            self.stop_sequence = req.only_stop().map(str::to_string);
        }
    }
}

/// Why generation stopped (PROTOCOLS 8.2), mapped between every pair of enums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// Natural end of turn.
    Stop,
    /// Hit the token limit.
    Length,
    /// Hit a stop sequence.
    StopSequence,
    /// Wants tool results.
    ToolCalls,
    /// Blocked by a safety or content filter.
    ContentFilter,
    Error,
    /// A value with no canonical meaning, kept verbatim for same-format targets.
    Other(String),
}

impl FinishReason {
    /// A tool call or answer the model could not form (Gemini's `MALFORMED_FUNCTION_CALL` and
    /// `MALFORMED_RESPONSE`, Bedrock's `malformed_tool_use` and `malformed_model_output`): the
    /// turn failed, though the upstream answered 200.
    pub fn is_malformed_output(&self) -> bool {
        matches!(self, FinishReason::Other(s) if matches!(
            s.as_str(),
            "MALFORMED_FUNCTION_CALL" | "MALFORMED_RESPONSE" | "malformed_tool_use" | "malformed_model_output"
        ))
    }
}

/// Token counts. `input` is the TOTAL input, cached tokens included (decoders of formats that
/// count them apart, like Anthropic, add them back); encoders split and total as their format
/// defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    /// Input tokens read from cache.
    pub cache_read: u64,
    /// Input tokens written to cache (Anthropic/Bedrock).
    pub cache_write: u64,
    /// Output tokens spent on reasoning.
    pub reasoning: u64,
}

/// A chat response in canonical form.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    pub id: String,
    pub model: String,
    /// Text, tool calls and thinking, in order.
    pub content: Vec<Part>,
    pub finish: FinishReason,
    pub usage: Usage,
    /// The matched stop sequence, when known.
    pub stop_sequence: Option<String>,
    pub created: u64,
    /// Per output token, when the request asked for them (OpenAI and Gemini).
    pub logprobs: Vec<TokenLogprob>,
}

/// One output token's log probability, and the likeliest alternatives at its position.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f64,
    /// (token, log probability), likeliest first.
    pub top: Vec<(String, f64)>,
}

/// An error an upstream returned, decoded from its format (status kept from the HTTP response).
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamFault {
    pub status: u16,
    pub kind: FaultKind,
    pub message: String,
}

/// The meaning of an error, independent of any format's names for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    InvalidRequest,
    Authentication,
    PermissionDenied,
    NotFound,
    RequestTooLarge,
    RateLimited,
    Overloaded,
    Timeout,
    Server,
}

impl FaultKind {
    /// The kind a bare status stands for (an in-stream error carries only its status). 424 is
    /// Bedrock's `ModelErrorException` / `modelStreamErrorException`: the model failed, not the
    /// request, so a server fault (as the exception's name decodes) rather than the client's.
    pub fn from_status(status: u16) -> FaultKind {
        match status {
            400 | 409 | 422 => FaultKind::InvalidRequest,
            401 => FaultKind::Authentication,
            403 => FaultKind::PermissionDenied,
            404 => FaultKind::NotFound,
            413 => FaultKind::RequestTooLarge,
            429 => FaultKind::RateLimited,
            408 | 504 => FaultKind::Timeout,
            503 | 529 => FaultKind::Overloaded,
            424 => FaultKind::Server,
            _ if status < 500 => FaultKind::InvalidRequest,
            _ => FaultKind::Server,
        }
    }
}

/// Why a body could not be converted; rendered as a 400 naming `field`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvertError {
    pub field: String,
    pub message: String,
}

impl ConvertError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> ConvertError {
        ConvertError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ConvertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// A chat's token limit as the APIs take it: at least 1. OpenAI and Anthropic refuse 0 (an
/// answer with no room for a token); refused here, in Anthropic's words and the client's shape, for
/// every provider.
pub fn token_limit(n: u32, field: &JsonPath<'_>) -> Result<u32, ConvertError> {
    match n {
        0 => Err(ConvertError::new(field, "Input should be greater than or equal to 1")),
        n => Ok(n),
    }
}

/// Whether a media type is an image's (`image/*`, any case): the only inline data every
/// format can carry.
pub fn is_image_type(media_type: &str) -> bool {
    media_type.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("image/")) && media_type.len() > 6
}

/// An image given by URL, as OpenAI, Cohere and Anthropic carry it: an http(s) URL, or a
/// base64 `data:` URL of an image type. Anything else no format on the other side takes.
pub fn image_source_from_url(url: &str) -> Result<ImageSource, &'static str> {
    if url.starts_with("data:") {
        let (media_type, data) = parse_data_url(url).ok_or("data URLs must be data:<media type>;base64,<data>")?;
        if !is_image_type(&media_type) {
            return Err("a data URL must hold an image (image/*)");
        }
        Ok(ImageSource::Base64 {
            media_type: image_media_type(&media_type).into_owned(),
            data,
        })
    } else if url.starts_with("https://") || url.starts_with("http://") {
        Ok(ImageSource::Url(url.to_string()))
    } else {
        Err("must be an http(s) URL or a base64 data URL")
    }
}

/// An image's `detail` hint for `target`. OpenAI (Chat and Responses) and Cohere both name it
/// so and share `auto`, `low` and `high`, so one's hint reaches the other; no other format has it.
pub fn image_detail(extra: &Extra, target: Format) -> Option<&Json> {
    let takes = |f| matches!(f, Format::OpenAi | Format::Cohere);
    let from = extra.format.filter(|f| takes(*f) && takes(target))?;
    extra
        .get("detail")
        .filter(|d| from == target || matches!(d.as_str(), Some("auto" | "low" | "high")))
}

/// An image media type as registered, the one spelling Anthropic's enum and Gemini ("Unsupported
/// MIME type: image/jpg") take: lower case, without parameters, and `image/jpeg` for the common
/// `image/jpg`. OpenAI's data URLs take any spelling (`image/jpg`, `IMAGE/PNG`,
/// `image/png;name=a.png`).
pub fn image_media_type(media_type: &str) -> std::borrow::Cow<'_, str> {
    let bare = media_type.split(';').next().unwrap_or("").trim();
    if bare.eq_ignore_ascii_case("image/jpg") {
        "image/jpeg".into()
    } else if bare.bytes().any(|b| b.is_ascii_uppercase()) {
        bare.to_ascii_lowercase().into()
    } else {
        bare.into()
    }
}

/// Splits a `data:` URL into (media type, base64 data).
pub fn parse_data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media = meta.strip_suffix(";base64")?;
    Some((media.to_string(), data.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str, name: &str) -> Part {
        Part::ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: "{}".into(),
            signature: None,
            extra: Extra::default(),
        }
    }

    fn result(id: &str, name: Option<&str>) -> Part {
        Part::ToolResult {
            id: id.into(),
            name: name.map(str::to_string),
            content: Vec::new(),
            is_error: false,
            extra: Extra::default(),
        }
    }

    fn turn(role: Role, content: Vec<Part>) -> Message {
        Message { role, content }
    }

    /// The names of `messages`' tool results, in order, once `name_tool_results` has run.
    fn result_names(mut messages: Vec<Message>) -> Vec<Option<String>> {
        name_tool_results(&mut messages);
        messages
            .into_iter()
            .flat_map(|m| m.content)
            .filter_map(|p| match p {
                Part::ToolResult { name, .. } => Some(name),
                _ => None,
            })
            .collect()
    }

    fn names(names: &[Option<&str>]) -> Vec<Option<String>> {
        names.iter().map(|n| n.map(str::to_string)).collect()
    }

    /// A result is named after the latest call with its id before it; a named result keeps its
    /// name, and one whose call is unknown (or only comes later) stays unnamed.
    #[test]
    fn tool_results_are_named_after_the_latest_earlier_call() {
        let messages = vec![
            turn(Role::User, vec![result("late", None)]),
            turn(Role::Assistant, vec![call("a", "first"), call("late", "x")]),
            turn(
                Role::User,
                vec![result("a", None), result("b", None), result("a", Some("kept"))],
            ),
            turn(Role::Assistant, vec![call("a", "second")]),
            turn(Role::User, vec![result("a", None)]),
        ];
        assert_eq!(
            result_names(messages),
            names(&[None, Some("first"), None, Some("kept"), Some("second")])
        );
    }

    #[test]
    fn results_of_calls_long_before_are_named_after_the_latest() {
        // 40 calls, `c0`..`c39`, with `c5` made again late as `again`; then results of calls
        // far back (past the recent ones searched first), recent ones, and unknown ids,
        // interleaved so the map of older calls is made and then extended.
        let calls = |ids: std::ops::Range<usize>| -> Vec<Part> {
            ids.map(|i| call(&format!("c{i}"), &format!("f{i}"))).collect()
        };
        let mut later = calls(20..40);
        later.insert(3, call("c5", "again"));
        let unnamed = |ids: &[&str]| ids.iter().map(|id| result(id, None)).collect();
        let messages = vec![
            turn(Role::Assistant, calls(0..20)),
            turn(Role::User, unnamed(&["c1", "c19", "zz", "c5"])),
            turn(Role::Assistant, later),
            turn(Role::User, unnamed(&["c2", "c5", "c39", "c20", "c0", "zz"])),
        ];
        assert_eq!(
            result_names(messages),
            names(&[
                Some("f1"),
                Some("f19"),
                None,
                Some("f5"),
                Some("f2"),
                Some("again"),
                Some("f39"),
                Some("f20"),
                Some("f0"),
                None
            ])
        );
    }

    /// Extras of `c`'s format holding `value` at `c`'s path (`generationConfig.speechConfig`
    /// nests it in a `generationConfig` object).
    fn extra_at(c: &ContentField, mut value: Json) -> Extra {
        let mut keys: Vec<&str> = c.path.split('.').collect();
        while keys.len() > 1 {
            let mut o = sonic_rs::Object::new();
            o.insert(&keys.pop().unwrap(), value);
            value = Json::from(o);
        }
        let mut e = Extra::new(c.format);
        e.push(keys[0], value);
        e
    }

    #[test]
    fn content_bearing_extras_are_refused_for_other_formats_only() {
        for c in CONTENT_FIELDS {
            // The field, nested as its path says, holding something that asks for content.
            let e = extra_at(c, sonic_rs::json!(["AUDIO"]));
            assert!(e.refuse_lost_content(c.format).is_ok(), "{}", c.path);
            for target in Format::ALL.iter().filter(|t| **t != c.format) {
                assert_eq!(e.refuse_lost_content(*target).unwrap_err().field, c.path);
            }
            // A value that asks for nothing is no content (`"logprobs": false`, `"tools": []`).
            for nothing in [sonic_rs::json!(false), sonic_rs::json!(null), sonic_rs::json!([])] {
                let e = extra_at(c, nothing);
                for target in Format::ALL {
                    assert!(e.refuse_lost_content(target).is_ok(), "{}", c.path);
                }
            }
        }
        // An empty object may ask: `web_search_options: {}` is search with OpenAI's defaults.
        let mut e = Extra::new(Format::OpenAi);
        e.push("web_search_options", Json::new_object());
        assert_eq!(
            e.refuse_lost_content(Format::Anthropic).unwrap_err().field,
            "web_search_options"
        );
        // Biases ask for something, unless there are none.
        for (biases, refused) in [(sonic_rs::json!({"50256": -100}), true), (Json::new_object(), false)] {
            let mut e = Extra::new(Format::OpenAi);
            e.push("logit_bias", biases);
            assert_eq!(e.refuse_lost_content(Format::Gemini).is_err(), refused);
        }
        // Text alone is what every format answers with.
        for modalities in [
            sonic_rs::json!(["TEXT"]),
            sonic_rs::json!(["text"]),
            sonic_rs::json!([]),
        ] {
            let mut e = Extra::new(Format::Gemini);
            e.push("generationConfig", sonic_rs::json!({"responseModalities": modalities}));
            assert!(e.refuse_lost_content(Format::OpenAi).is_ok(), "{modalities:?}");
        }
        let mut e = Extra::new(Format::Anthropic);
        e.push("container", Json::new_object());
        assert!(e.refuse_lost_content(Format::OpenAi).is_ok(), "a setting, not content");
    }

    #[test]
    fn the_one_stop_sequence_names_an_unnamed_match() {
        let mut resp = ChatResponse {
            id: String::new(),
            model: String::new(),
            content: Vec::new(),
            finish: FinishReason::StopSequence,
            usage: Usage::default(),
            stop_sequence: None,
            created: 0,
            logprobs: Vec::new(),
        };
        let mut req = ChatRequest {
            stop: vec!["END".into(), "STOP".into()],
            ..Default::default()
        };
        resp.fill_stop_sequence(&req);
        assert_eq!(resp.stop_sequence, None, "several: which one is unknown");
        req.stop.truncate(1);
        resp.fill_stop_sequence(&req);
        assert_eq!(resp.stop_sequence.as_deref(), Some("END"));
        // What the upstream named is kept; another reason gets none.
        resp.stop_sequence = Some("said".into());
        resp.fill_stop_sequence(&req);
        assert_eq!(resp.stop_sequence.as_deref(), Some("said"));
        resp.stop_sequence = None;
        resp.finish = FinishReason::Stop;
        resp.fill_stop_sequence(&req);
        assert_eq!(resp.stop_sequence, None);
    }

    #[test]
    fn data_urls() {
        assert_eq!(
            parse_data_url("data:image/png;base64,iVBORw0KGgo="),
            Some(("image/png".into(), "iVBORw0KGgo=".into()))
        );
        assert_eq!(parse_data_url("https://x/y.png"), None);
        assert_eq!(parse_data_url("data:image/png,notbase64"), None);
    }

    /// Found by the `translate` fuzz target: what one format's decoder took as an image, another
    /// format's decoder refused once the gateway had translated it (a non-image data URL for
    /// Gemini's `inlineData`, an `ftp:` URL for OpenAI's `image_url`).
    #[test]
    fn image_urls_are_http_or_image_data() {
        assert_eq!(
            image_source_from_url("data:image/png;base64,AAAA"),
            Ok(ImageSource::Base64 {
                media_type: "image/png".into(),
                data: "AAAA".into()
            })
        );
        assert_eq!(
            image_source_from_url("https://x/y.png"),
            Ok(ImageSource::Url("https://x/y.png".into()))
        );
        for bad in [
            "data:text/plain;base64,AAAA",
            "data:im]ge/png;base64,AAAA",
            "data:image/;base64,AAAA",
            "data:image/png,AAAA",
            "ftp://x/y.png",
            "y.png",
        ] {
            assert!(image_source_from_url(bad).is_err(), "{bad}");
        }
        assert!(is_image_type("IMAGE/WEBP") && !is_image_type("image/") && !is_image_type("imagex/png"));
        // Media types OpenAI takes in a data URL reach the others in the one spelling they take.
        for url in [
            "data:image/jpg;base64,AAAA",
            "data:IMAGE/JPEG;base64,AAAA",
            "data:image/jpeg;name=a.jpg;base64,AAAA",
        ] {
            assert_eq!(
                image_source_from_url(url),
                Ok(ImageSource::Base64 {
                    media_type: "image/jpeg".into(),
                    data: "AAAA".into()
                }),
                "{url}"
            );
        }
    }

    #[test]
    fn extra_applies_only_to_its_format() {
        let mut e = Extra::new(Format::Anthropic);
        e.push("cache_control", sonic_rs::json!({"type": "ephemeral"}));
        assert_eq!(e.for_target(Format::Anthropic).len(), 1);
        assert!(e.for_target(Format::OpenAi).is_empty());
    }
}

/// An error rendered in some format: status, extra headers (e.g. Bedrock `x-amzn-ErrorType`),
/// and body.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorReply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}
