//! Google Gemini wire format (PROTOCOLS section 4): `generateContent` requests, responses and
//! errors, for both roles (integration: a Gemini client; provider: a Gemini upstream).
//!
//! Gemini is proto3 JSON: every request key may come lowerCamelCase or snake_case (google-genai
//! 3.4 sends `inlineData.mime_type`), so decoders look keys up by their camel name and accept
//! either spelling; encoders write camelCase. Function calls carry no ids in most Gemini
//! versions: decoders synthesize ids (`call_<n>` in a request, `call_<nonce>_<n>` in an
//! answer, see `CallIds`) and encoders send tool results by name.

pub mod embed;
mod error;
mod one_pass;
mod request;
mod response;
pub mod stream;
pub mod types;
use super::write;

pub use error::{add_retry_info, decode_error, encode_error, retry_delay_ms, status_name};
/// The reading by `Value` alone (the fuzz target holds the one-pass reading to it).
pub(crate) use request::decode_by_value;
pub use request::{decode_request, encode_request};
pub use response::{decode_response, encode_response};
#[cfg(test)]
pub(crate) use response::{finish_from_gemini, finish_to_gemini};

use crate::canonical::sig::{self, Family};
use crate::canonical::{
    image_media_type, is_document_type, is_image_type, push_sparing, ConvertError, DocumentSource, Extra, ImageSource,
    Json, JsonPath, Part, ToolResultContent,
};
use crate::formats::Format;
use crate::wire::base64;
use crate::wire::url::percent_decode;
use sonic_rs::{JsonContainerTrait, JsonValueMutTrait, JsonValueTrait};
use std::collections::{HashMap, VecDeque};

/// Provider: the upstream path for a model (the model travels in the URL, not the body).
pub fn request_path(model: &str, stream: bool) -> String {
    if stream {
        model_path(model, ":streamGenerateContent?alt=sse")
    } else {
        model_path(model, ":generateContent")
    }
}

/// `/v1beta/models/{model}{method}`, the model percent-encoded as one path segment. The model
/// comes from the client (a JSON `model`, a decoded path): unencoded, a CR LF in it would end
/// the upstream's request line and start a request of the client's making, sent with the
/// provider's key, and `/..` or `#` would leave the model's path.
pub fn model_path(model: &str, method: &str) -> String {
    let mut p = String::with_capacity(16 + model.len() + method.len());
    p.push_str("/v1beta/models/");
    crate::wire::url::percent_encode_into(&mut p, model);
    p.push_str(method);
    p
}

/// Integration: whether a `streamGenerateContent` query asks for SSE (`alt=sse`, or `$alt`, the
/// Google APIs' other spelling of the system parameter). Without it the API streams one JSON
/// array of responses (PROTOCOLS 4.1).
pub fn wants_sse(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|pair| match pair.split_once('=') {
            Some(("alt" | "$alt" | "%24alt", v)) => v.eq_ignore_ascii_case("sse"),
            _ => false,
        })
    })
}

/// An error body in the JSON-array stream form: the API answers a `streamGenerateContent`
/// without `alt=sse` that fails before it starts with `[{"error":...}]`.
pub fn wrap_in_array(body: &mut Vec<u8>) {
    body.insert(0, b'[');
    body.push(b']');
}

/// A Gemini API method, the part of the path after the model's `:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiMethod {
    GenerateContent,
    StreamGenerateContent,
    /// One content in, `{"embedding":{"values"}}` out.
    EmbedContent,
    /// `requests[]` in, `embeddings[]` out: what google-genai sends to the Gemini API.
    BatchEmbedContents,
    /// Vertex AI's `instances[]` / `predictions[]` form: google-genai's default with
    /// `vertexai=True`.
    Predict,
    /// The prompt's tokens: `contents` (or a whole `generateContentRequest`) in,
    /// `totalTokens` out.
    CountTokens,
}

impl ApiMethod {
    fn from_name(name: &str) -> Option<ApiMethod> {
        Some(match name {
            "generateContent" => ApiMethod::GenerateContent,
            "streamGenerateContent" => ApiMethod::StreamGenerateContent,
            "embedContent" => ApiMethod::EmbedContent,
            "batchEmbedContents" => ApiMethod::BatchEmbedContents,
            "predict" => ApiMethod::Predict,
            "countTokens" => ApiMethod::CountTokens,
            _ => return None,
        })
    }

    /// The path's ending: `:` and the method's name.
    pub fn suffix(self) -> &'static str {
        match self {
            ApiMethod::GenerateContent => ":generateContent",
            ApiMethod::StreamGenerateContent => ":streamGenerateContent",
            ApiMethod::EmbedContent => ":embedContent",
            ApiMethod::BatchEmbedContents => ":batchEmbedContents",
            ApiMethod::Predict => ":predict",
            ApiMethod::CountTokens => ":countTokens",
        }
    }

    pub fn is_embed(self) -> bool {
        matches!(
            self,
            ApiMethod::EmbedContent | ApiMethod::BatchEmbedContents | ApiMethod::Predict
        )
    }
}

/// Router: `(model, stream)` when `path` is a Gemini generate route, else None (see
/// `parse_route` for the shapes).
pub fn parse_path(path: &str) -> Option<(String, bool)> {
    match parse_route(path)? {
        (model, ApiMethod::GenerateContent) => Some((model, false)),
        (model, ApiMethod::StreamGenerateContent) => Some((model, true)),
        _ => None,
    }
}

/// Whether a Gemini route has Vertex AI's shape (`projects/...` or `publishers/...`) rather
/// than the Gemini API's (`models/...`). The two APIs take different bodies for the same
/// embeddings and count methods, so a same-format request passes through only to its own kind.
pub fn is_vertex_path(path: &str) -> bool {
    let path = path.strip_prefix("/genai").unwrap_or(path);
    let rest = path
        .strip_prefix('/')
        .and_then(|r| r.split_once('/'))
        .map_or("", |(_, r)| r);
    rest.starts_with("projects/") || rest.starts_with("publishers/")
}

/// Router: `(model, method)` when `path` is a Gemini route, else None.
///
/// Accepted shapes (optional `/genai` prefix, query string ignored, `{ver}` one of `v1`,
/// `v1beta`, `v1beta1`):
/// - `/{ver}/models/{model}:{method}` (Gemini API; `{model}` may contain `/`),
/// - `/{ver}/[projects/{p}/locations/{l}/]publishers/{pub}/models/{model}:{method}` (Vertex);
///   a publisher other than `google` is kept as `{pub}/{model}`, the inverse of the SDK's
///   `t_model`.
///
/// `{method}` is one of `ApiMethod`'s.
pub fn parse_route(path: &str) -> Option<(String, ApiMethod)> {
    let path = path.split('?').next().unwrap_or(path);
    let path = path.strip_prefix("/genai").unwrap_or(path);
    let rest = path.strip_prefix('/')?;
    let (ver, rest) = rest.split_once('/')?;
    if !matches!(ver, "v1" | "v1beta" | "v1beta1") {
        return None;
    }
    let (target, method) = rest.rsplit_once(':')?;
    let method = ApiMethod::from_name(method)?;
    let mut target = target;
    if let Some(r) = target.strip_prefix("projects/") {
        // projects/{p}/locations/{l}/...
        let mut it = r.splitn(4, '/');
        let (_p, loc, _l, tail) = (it.next()?, it.next()?, it.next()?, it.next()?);
        if loc != "locations" {
            return None;
        }
        target = tail;
    }
    let model = if let Some(m) = target.strip_prefix("models/") {
        m.to_string()
    } else if let Some(r) = target.strip_prefix("publishers/") {
        let (publisher, m) = r.split_once("/models/")?;
        if publisher == "google" {
            m.to_string()
        } else {
            format!("{publisher}/{m}")
        }
    } else {
        return None;
    };
    let model = percent_decode(&model)?;
    if model.is_empty() {
        return None;
    }
    Some((model, method))
}

// ---- shared helpers: key spelling, parts --------------------------------------------------------

/// `snake_case` or `camelCase` key -> `camelCase` (proto3 JSON accepts both spellings).
pub(crate) fn camel(key: &str) -> std::borrow::Cow<'_, str> {
    if !key.contains('_') {
        return key.into();
    }
    let mut out = String::with_capacity(key.len());
    let mut up = false;
    for c in key.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// The value of key `name` (given in camelCase) in object `v`, under either spelling; JSON
/// `null` counts as absent.
pub(crate) fn field<'a>(v: &'a Json, name: &str) -> Option<&'a Json> {
    let [found] = fields(v, [name]);
    found
}

/// Several fields of object `v` in one pass over its keys (a part probes up to nine names, and
/// a lookup per name walked the keys once or twice each): `fields(v, names)[i]` is
/// `field(v, names[i])`. The camelCase spelling wins over a snake_case one when both are present.
pub(crate) fn fields<'a, const N: usize>(v: &'a Json, names: [&str; N]) -> [Option<&'a Json>; N] {
    let mut found: [Option<&'a Json>; N] = [None; N];
    let mut exact = [false; N];
    if let Some(obj) = v.as_object() {
        for (k, x) in obj.iter() {
            // Nearly every key is camelCase already: only a snake_case one is compared by spelling.
            let snake = k.contains('_');
            for (i, name) in names.iter().enumerate() {
                if exact[i] {
                    continue;
                }
                if k == *name {
                    (found[i], exact[i]) = (Some(x), true);
                } else if snake && found[i].is_none() && camel_eq(k, name) {
                    found[i] = Some(x);
                }
            }
        }
    }
    found.map(|x| x.filter(|x| !x.is_null()))
}

/// `camel(key) == name`, without building the camelCase key.
pub(crate) fn camel_eq(key: &str, name: &str) -> bool {
    // Each underscore drops out, so a snake_case key is longer than its camelCase form.
    if key.len() <= name.len() || !key.contains('_') {
        return false;
    }
    let mut want = name.bytes();
    let mut up = false;
    for b in key.bytes() {
        if b == b'_' {
            up = true;
            continue;
        }
        let b = if up { b.to_ascii_uppercase() } else { b };
        up = false;
        if want.next() != Some(b) {
            return false;
        }
    }
    want.next().is_none()
}

pub(crate) fn str_field<'a>(v: &'a Json, name: &str) -> Option<&'a str> {
    field(v, name).and_then(|x| x.as_str())
}

/// A required string field, or a ConvertError naming `path.name`.
pub(crate) fn req_str<'a>(v: &'a Json, name: &str, path: &JsonPath<'_>) -> Result<&'a str, ConvertError> {
    str_field(v, name).ok_or_else(|| ConvertError::new(path.key(name), "expected a string"))
}

/// An empty JSON object.
pub(crate) fn obj() -> Json {
    Json::new_object()
}

/// Sets `key` on a JSON object value (no-op on non-objects, which `obj()` never produces).
pub(crate) fn set(o: &mut Json, key: &str, v: impl Into<Json>) {
    if let Some(m) = o.as_object_mut() {
        m.insert(key, v.into());
    }
}

/// Deep-merges `from` into `into`: keys already in `into` win, nested objects merge.
pub(crate) fn merge(into: &mut Json, from: &Json) {
    let (Some(dst), Some(src)) = (into.as_object_mut(), from.as_object()) else {
        return;
    };
    for (k, v) in src.iter() {
        let key = camel(k);
        match dst.get_mut(&key.as_ref()) {
            Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
            Some(_) => {}
            None => {
                dst.insert(key.as_ref(), v.clone());
            }
        }
    }
}

/// Gemini's OpenAPI-subset `Schema` (PROTOCOLS 4.2) -> JSON Schema, for formats that take JSON
/// Schema (structured output, tool parameters), in every nested schema:
/// - upper-case `type` values are lower-cased;
/// - snake_case keys (proto3 JSON takes both; google-genai sends `max_items`, `any_of`, ...)
///   become the camelCase that JSON Schema names them;
/// - `nullable: true`, which JSON Schema lacks, becomes `anyOf` with `{"type":"null"}` (kept,
///   it would be an unknown keyword, and the field could not be null);
/// - Gemini-only keys that mean nothing to the answer go: `propertyOrdering` (the order of
///   Gemini's output keys) and `example`.
///
/// Property names (the keys of `properties`) are names, not keywords, and stay as they are.
pub(crate) fn openapi_to_json_schema(v: &Json) -> Json {
    let mut out = v.clone();
    to_json_schema(&mut out);
    out
}

fn to_json_schema(v: &mut Json) {
    let Some(o) = v.as_object_mut() else { return };
    let snake: Vec<String> = o
        .iter()
        .map(|(k, _)| k)
        .filter(|k| k.contains('_'))
        .map(str::to_string)
        .collect();
    for k in snake {
        if let Some(val) = o.remove(&k) {
            let c = camel(&k).into_owned();
            if o.get(&c).is_none() {
                o.insert(&c, val);
            }
        }
    }
    o.remove(&"propertyOrdering");
    o.remove(&"example");
    let nullable = o.remove(&"nullable").is_some_and(|n| n.as_bool() == Some(true));
    if let Some(t) = o.get_mut(&"type") {
        if let Some(lower) = t.as_str().map(str::to_ascii_lowercase) {
            *t = Json::from(lower.as_str());
        }
    }
    if let Some(props) = o.get_mut(&"properties").and_then(|p| p.as_object_mut()) {
        for (_, child) in props.iter_mut() {
            to_json_schema(child);
        }
    }
    if let Some(items) = o.get_mut(&"items") {
        to_json_schema(items);
    }
    if let Some(any) = o.get_mut(&"anyOf").and_then(|a| a.as_array_mut()) {
        for child in any.iter_mut() {
            to_json_schema(child);
        }
    }
    if nullable {
        let inner = std::mem::replace(v, Json::new_object());
        let mut null = Json::new_object();
        set(&mut null, "type", "null");
        let mut any = Json::new_array();
        if let Some(a) = any.as_array_mut() {
            a.push(inner);
            a.push(null);
        }
        set(v, "anyOf", any);
    }
}

/// Image media type from a URL's extension (query and fragment ignored).
pub(crate) fn guess_image_mime(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => return None,
    })
}

/// Stable tool-call ids for a conversation (or a response) whose calls carry none.
#[derive(Default)]
pub(crate) struct CallIds {
    scope: IdScope,
    next: usize,
    /// Calls seen so far: (id, name, answered).
    calls: Vec<(String, String, bool)>,
    /// The calls by id and by name, once there are more than `CallIndex::FROM` (`result`).
    index: Option<Box<CallIndex>>,
    /// This answer's own part of its ids (`IdScope::Answer`), taken at its first id-less call.
    nonce: Option<String>,
}

/// `CallIds::calls` by id and by name, for a long history: searched call by call, a body of many
/// results would cost a scan of the calls each (quadratic in the body's size); a short one is
/// searched so (no hashing, no copies of the ids).
#[derive(Default)]
struct CallIndex {
    /// The calls before it are in the maps.
    indexed: usize,
    /// The first call of each id.
    first_by_id: HashMap<String, usize>,
    by_name: HashMap<String, NameCalls>,
}

/// The calls of one name.
struct NameCalls {
    /// In order; the front ones may have been answered since (skipped when next looked at:
    /// a call answered stays answered).
    unanswered: VecDeque<usize>,
    latest: usize,
}

impl CallIndex {
    /// More calls than this: the maps.
    const FROM: usize = 64;

    /// The maps, brought up to `calls`.
    fn of<'i>(index: &'i mut Option<Box<CallIndex>>, calls: &[(String, String, bool)]) -> &'i mut CallIndex {
        let index = index.get_or_insert_with(Box::default);
        for (i, (id, name, answered)) in calls.iter().enumerate().skip(index.indexed) {
            index.first_by_id.entry(id.clone()).or_insert(i);
            let of_name = index.by_name.entry(name.clone()).or_insert_with(|| NameCalls {
                unanswered: VecDeque::new(),
                latest: i,
            });
            if !answered {
                of_name.unanswered.push_back(i);
            }
            of_name.latest = i;
        }
        index.indexed = calls.len();
        index
    }
}

/// Where the ids `CallIds` makes up must be unique.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum IdScope {
    /// One answer from a Gemini upstream. Its calls join the client's history beside those of
    /// earlier answers, which counting from 0 in each would repeat (`call_0` in every turn);
    /// Anthropic refuses a conversation whose `tool_use` ids repeat. So each answer's ids carry
    /// a nonce of their own: `call_<nonce>_<n>`, the nonce a hash of the answer's `responseId`
    /// (the same answer always translates the same), or a counter's without one.
    #[default]
    Answer,
    /// One request's conversation: counting its calls from 0 keeps them apart (`call_<n>`).
    Request,
}

/// A nonce for an answer without a `responseId`, unique across workers (one counter) and
/// restarts (it starts at the clock), in lowercase hex.
fn answer_nonce() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static START: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let start = *START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    format!("{:x}", start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// `call_<n>`, or `call_<nonce>_<n>`: written out directly, not by `format!` (its machinery cost
/// a long history's calls more than the rest of their ids' handling).
fn made_up_id(nonce: Option<&str>, n: usize) -> String {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n);
    let mut id = String::with_capacity("call_".len() + nonce.map_or(0, |x| x.len() + 1) + digits.len());
    id.push_str("call_");
    if let Some(nonce) = nonce {
        id.push_str(nonce);
        id.push('_');
    }
    id.push_str(digits);
    id
}

impl CallIds {
    /// For a request's conversation (the client's history).
    pub(crate) fn for_request() -> Self {
        CallIds {
            scope: IdScope::Request,
            ..Self::default()
        }
    }

    /// The answer's `responseId` (Google's, unique per answer), which the nonce is made from.
    pub(crate) fn answer_id(&mut self, response_id: &str) {
        if self.scope == IdScope::Answer && self.nonce.is_none() && !response_id.is_empty() {
            // FNV-1a: short, stable, and only hex digits, whatever the id holds.
            let hash = response_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            self.nonce = Some(format!("{hash:x}"));
        }
    }

    /// The id the `n`th id-less call of the answer `response_id` gets (for tests).
    #[cfg(test)]
    pub(crate) fn answer_call_id(response_id: &str, n: usize) -> String {
        let mut ids = CallIds::default();
        ids.answer_id(response_id);
        ids.next = n;
        ids.call(None, "f")
    }

    /// The id of a call: its own, else one made up (n counts calls in order of appearance).
    fn call(&mut self, id: Option<&str>, name: &str) -> String {
        let id = match id {
            Some(id) if !id.is_empty() => id.to_string(),
            _ if self.scope == IdScope::Request => made_up_id(None, self.next),
            _ => made_up_id(Some(self.nonce.get_or_insert_with(answer_nonce)), self.next),
        };
        self.next += 1;
        self.calls.push((id.clone(), name.to_string(), false));
        id
    }

    /// The id of a result: its own, else the oldest unanswered call of that name, else the
    /// latest call of that name, else one derived from the name.
    fn result(&mut self, id: Option<&str>, name: &str) -> String {
        match self.calls.len() > CallIndex::FROM {
            true => self.result_by_index(id, name),
            false => self.result_by_scan(id, name),
        }
    }

    /// `result`, for a short history: the calls searched one by one.
    fn result_by_scan(&mut self, id: Option<&str>, name: &str) -> String {
        if let Some(id) = id.filter(|i| !i.is_empty()) {
            if let Some(c) = self.calls.iter_mut().find(|c| c.0 == id) {
                c.2 = true;
            }
            return id.to_string();
        }
        if let Some(c) = self.calls.iter_mut().find(|c| !c.2 && c.1 == name) {
            c.2 = true;
            return c.0.clone();
        }
        if let Some(c) = self.calls.iter().rev().find(|c| c.1 == name) {
            return c.0.clone();
        }
        format!("call_{name}")
    }

    /// `result`, for a long history: the same calls found through `CallIndex`.
    fn result_by_index(&mut self, id: Option<&str>, name: &str) -> String {
        let calls = &mut self.calls;
        let index = CallIndex::of(&mut self.index, calls);
        if let Some(id) = id.filter(|i| !i.is_empty()) {
            if let Some(&i) = index.first_by_id.get(id) {
                calls[i].2 = true;
            }
            return id.to_string();
        }
        let Some(of_name) = index.by_name.get_mut(name) else {
            return format!("call_{name}");
        };
        while let Some(&i) = of_name.unanswered.front() {
            if calls[i].2 {
                of_name.unanswered.pop_front();
            } else {
                calls[i].2 = true;
                return calls[i].0.clone();
            }
        }
        calls[of_name.latest].0.clone()
    }
}

/// Between a tool-call id and the `thoughtSignature` folded into it (`signed_id`).
const SIGNED_ID: &str = "__ts__";

/// Provider: the id a Gemini answer's signed call gets, `<id>__ts__<signature>`. Other formats
/// have no field for the signature, yet Gemini 3 refuses a history call without it ("Function
/// call is missing a thought_signature", PROTOCOLS 4.2); the id is the one thing every client
/// sends back with the call and its result. Gemini clients never see it (same format passes
/// through). The signature is written in base64's URL-safe alphabet without padding, so the id
/// stays within `[A-Za-z0-9_-]`, the shape Anthropic and Bedrock ids have.
pub(crate) fn signed_id(id: &str, signature: &str) -> String {
    let mut out = String::with_capacity(id.len() + SIGNED_ID.len() + signature.len());
    out.push_str(id);
    out.push_str(SIGNED_ID);
    out.extend(signature.chars().filter(|&c| c != '=').map(|c| match c {
        '+' => '-',
        '/' => '_',
        c => c,
    }));
    out
}

/// The inverse of `signed_id`: (bare id, signature in standard base64) when `id` carries one.
/// Other ids come back whole, with no signature.
pub(crate) fn split_signed_id(id: &str) -> (&str, Option<String>) {
    let Some((bare, sig)) = id.split_once(SIGNED_ID) else {
        return (id, None);
    };
    let url_safe = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if sig.is_empty() || !sig.bytes().all(url_safe) {
        return (id, None);
    }
    let mut out: String = sig
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    (bare, Some(out))
}

/// Raw-part marker in `Part::Text.extra`: a Gemini part with no canonical form
/// (`executableCode`, `codeExecutionResult`), carried as text for other formats and written back
/// verbatim for Gemini.
const RAW_PART: &str = "part";
const SIGNATURE: &str = "thoughtSignature";
const MIME: &str = "mimeType";
/// The media type of a PDF document (Gemini `fileData` by URL).
const PDF: &str = "application/pdf";

/// The `args` of the function call at part `j` of the first candidate of a response body (or
/// stream chunk), as the upstream wrote them (`tool_args`); `function_call` is read as `field`
/// reads it.
pub(crate) fn raw_call_args(body: &[u8], j: usize) -> Option<String> {
    ["functionCall", "function_call"].into_iter().find_map(|call| {
        let args = sonic_rs::pointer!["candidates", 0, "content", "parts", j, call, "args"];
        crate::formats::tool_args::raw_object_at(body, args)
    })
}

/// The members of a `Part` that `decode_part` reads, in that order (also `one_pass`'s).
const PART_MEMBERS: [&str; 9] = [
    SIGNATURE,
    "functionCall",
    "functionResponse",
    "inlineData",
    "fileData",
    "thought",
    "text",
    "executableCode",
    "codeExecutionResult",
];

/// One Gemini `Part` -> canonical. `path` names the part for errors.
pub(crate) fn decode_part(p: &Json, path: &JsonPath<'_>, ids: &mut CallIds) -> Result<Part, ConvertError> {
    if !p.is_object() {
        return Err(ConvertError::new(path, "a part must be an object"));
    }
    let [signature, function_call, function_response, inline_data, file_data, thought, text, code, code_result] =
        fields(p, PART_MEMBERS);
    let signature = signature.and_then(|s| s.as_str()).map(str::to_string);
    if let Some(fc) = function_call {
        let name = req_str(fc, "name", &path.key("functionCall"))?;
        let args = match field(fc, "args") {
            Some(a) => sonic_rs::to_string(a).unwrap_or_else(|_| "{}".into()),
            None => "{}".into(),
        };
        return Ok(Part::ToolCall {
            id: ids.call(str_field(fc, "id"), name),
            name: name.to_string(),
            arguments: args,
            signature,
            extra: Extra::default(),
        });
    }
    if let Some(fr) = function_response {
        return decode_function_response(fr, path, ids);
    }
    if let Some(d) = inline_data {
        return decode_inline_data(d, path);
    }
    if let Some(d) = file_data {
        return decode_file_data(d, path);
    }
    let thought = thought.and_then(|t| t.as_bool()) == Some(true);
    let text = match text {
        Some(t) => Some(
            t.as_str()
                .ok_or_else(|| ConvertError::new(path.key("text"), "expected a string"))?,
        ),
        None => None,
    };
    if let Some(part) = text_part(text, thought, signature) {
        return Ok(part);
    }
    // Each fence on lines of its own: a client of one text string (OpenAI) gets the parts joined
    // as they come, and a fence glued to the text around it is no fence.
    let rendered = if let Some(c) = code {
        Some(format!(
            "\n```{}\n{}\n```\n",
            str_field(c, "language").unwrap_or("").to_ascii_lowercase(),
            str_field(c, "code").unwrap_or("")
        ))
    } else {
        code_result.map(|r| {
            let output = str_field(r, "output").unwrap_or("");
            format!("\n```\n{}\n```\n", output.strip_suffix('\n').unwrap_or(output))
        })
    };
    if let Some(text) = rendered {
        let mut extra = Extra::new(Format::Gemini);
        extra.push(RAW_PART, p.clone());
        return Ok(Part::Text { text, extra });
    }
    Err(ConvertError::new(
        path,
        "unsupported part (no text, inlineData, fileData, functionCall or functionResponse)",
    ))
}

/// A part of text, of thought, or of a signature alone (`None`: it is none of them).
pub(crate) fn text_part(text: Option<impl Into<String>>, thought: bool, signature: Option<String>) -> Option<Part> {
    let signature_of_thought = |s: String| sig::decode(&s, Family::Gemini);
    match text {
        Some(text) if thought => Some(Part::Thinking {
            text: text.into(),
            signature: signature.map(signature_of_thought),
        }),
        Some(text) => {
            let mut extra = Extra::default();
            if let Some(s) = signature {
                extra = Extra::new(Format::Gemini);
                extra.push(SIGNATURE, Json::from(s.as_str()));
            }
            Some(Part::Text {
                text: text.into(),
                extra,
            })
        }
        // A thought (or signature-only) part without text.
        None if thought || signature.is_some() => Some(Part::Thinking {
            text: String::new(),
            signature: signature.map(signature_of_thought),
        }),
        None => None,
    }
}

/// A `functionResponse` part (`fr`: its object; `path`: the part's) as a tool result.
pub(crate) fn decode_function_response(
    fr: &Json,
    path: &JsonPath<'_>,
    ids: &mut CallIds,
) -> Result<Part, ConvertError> {
    let fpath = path.key("functionResponse");
    let name = req_str(fr, "name", &fpath)?;
    let id = ids.result(str_field(fr, "id"), name);
    let mut content = Vec::new();
    let is_error = response_content(field(fr, "response").cloned(), &mut content);
    if let Some(parts) = field(fr, "parts").and_then(|x| x.as_array()) {
        let ppath = fpath.key("parts");
        for (i, fp) in parts.iter().enumerate() {
            let ppath = ppath.index(i);
            match decode_part(fp, &ppath, ids)? {
                Part::Image { source, .. } => content.push(ToolResultContent::Image(source)),
                Part::Document { source, name, .. } => content.push(ToolResultContent::Document { source, name }),
                Part::Text { text, .. } => content.push(ToolResultContent::Text(text)),
                _ => return Err(ConvertError::new(ppath, "unsupported function response part")),
            }
        }
    }
    Ok(Part::ToolResult {
        id,
        name: Some(name.to_string()),
        content,
        is_error,
        extra: Extra::default(),
    })
}

/// A function's `response` (`None`: absent) as a tool result's first content; true when it
/// reports an error.
pub(crate) fn response_content(response: Option<Json>, content: &mut Vec<ToolResultContent>) -> bool {
    let Some(r) = response else {
        push_sparing(content, ToolResultContent::Json(obj()));
        return false;
    };
    if r.as_object().is_some_and(|o| o.len() == 1) {
        if let Some(e) = field(&r, "error") {
            push_sparing(
                content,
                match e.as_str() {
                    Some(s) => ToolResultContent::Text(s.to_string()),
                    None => ToolResultContent::Json(e.clone()),
                },
            );
            return true;
        }
        // `{"result": "<text>"}` is how text results travel in Gemini (and how the encoder
        // writes them): read it back as text so other formats get the text.
        if let Some(t) = field(&r, "result").and_then(|t| t.as_str()) {
            push_sparing(content, ToolResultContent::Text(t.to_string()));
            return false;
        }
    }
    push_sparing(content, ToolResultContent::Json(r));
    false
}

/// An `inlineData` part (`d`: its object; `path`: the part's) as an image or a document.
pub(crate) fn decode_inline_data(d: &Json, path: &JsonPath<'_>) -> Result<Part, ConvertError> {
    let ipath = path.key("inlineData");
    let mime = req_str(d, MIME, &ipath)?;
    // Other formats take only standard base64; the google-genai SDK sends URL-safe.
    let data = || req_str(d, "data", &ipath).map(|s| base64::to_standard(s).into_owned());
    if is_document_type(mime) {
        return Ok(Part::Document {
            source: DocumentSource::Base64 {
                media_type: mime.to_string(),
                data: data()?,
            },
            name: None,
            extra: Extra::default(),
        });
    }
    if !is_image_type(mime) {
        return Err(ConvertError::new(
            ipath.key(MIME),
            format!("unsupported inline data type {mime:?} (only images and documents are translated)"),
        ));
    }
    Ok(Part::Image {
        source: ImageSource::Base64 {
            media_type: image_media_type(mime).into_owned(),
            data: data()?,
        },
        extra: Extra::default(),
    })
}

/// A `fileData` part (`d`: its object; `path`: the part's) as an image or a document by URL.
pub(crate) fn decode_file_data(d: &Json, path: &JsonPath<'_>) -> Result<Part, ConvertError> {
    let fpath = path.key("fileData");
    let uri = req_str(d, "fileUri", &fpath)?;
    let mime = str_field(d, MIME);
    // Other formats fetch only http(s) URLs: a `gs://` (Vertex) URI would reach them as a
    // URL they refuse, with an error naming their field rather than the client's.
    if !(uri.starts_with("https://") || uri.starts_with("http://")) {
        return Err(ConvertError::new(
            fpath.key("fileUri"),
            "only a file at an http(s) URL can be translated to other formats",
        ));
    }
    if mime.is_some_and(|m| m.eq_ignore_ascii_case(PDF)) {
        return Ok(Part::Document {
            source: DocumentSource::Url(uri.to_string()),
            name: None,
            extra: Extra::default(),
        });
    }
    let is_image = match mime {
        Some(m) => m.starts_with("image/"),
        None => guess_image_mime(uri).is_some(),
    };
    if !is_image {
        return Err(ConvertError::new(
            fpath.key(MIME),
            "unsupported file data type (only images and PDFs are translated)",
        ));
    }
    let mut extra = Extra::default();
    if let Some(m) = mime {
        extra = Extra::new(Format::Gemini);
        extra.push(MIME, Json::from(m));
    }
    Ok(Part::Image {
        source: ImageSource::Url(uri.to_string()),
        extra,
    })
}

/// Canonical part -> Gemini `Part` JSON, appended to `buf`. `tool_name` resolves a tool result's
/// function name (Gemini matches results to calls by name); `call_id` is written as
/// `functionCall.id` (responses only). Returns false, writing nothing, for parts Gemini cannot
/// carry and that are not content (Anthropic redacted thinking: opaque data only its issuer can
/// read). On error `buf` may hold a partial part.
pub(crate) fn encode_part<'r>(
    buf: &mut Vec<u8>,
    p: &Part,
    path: &JsonPath<'_>,
    call_id: Option<&str>,
    tool_name: &dyn Fn(&str) -> Option<&'r str>,
) -> Result<bool, ConvertError> {
    match p {
        Part::Text { text, extra } => {
            let extra = extra.for_target(Format::Gemini);
            if let Some((_, raw)) = extra.iter().find(|(k, _)| k == RAW_PART) {
                write::value(buf, raw);
                return Ok(true);
            }
            buf.push(b'{');
            write::key(buf, "text");
            write::string(buf, text);
            if let Some((_, s)) = extra.iter().find(|(k, _)| k == SIGNATURE) {
                buf.push(b',');
                write::key(buf, SIGNATURE);
                write::value(buf, s);
            }
            buf.push(b'}');
        }
        Part::Image { source, extra } => {
            buf.push(b'{');
            encode_image(buf, source, extra, path)?;
            buf.push(b'}');
        }
        // NOTE: the document's name is dropped: the Gemini API refuses `displayName` on parts.
        Part::Document { source, .. } => {
            buf.push(b'{');
            encode_document(buf, source);
            buf.push(b'}');
        }
        Part::ToolCall {
            id,
            name,
            arguments,
            signature,
            ..
        } => {
            // A client of another format brings the signature back inside the id.
            let signature = match signature {
                Some(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
                None => split_signed_id(id).1.map(std::borrow::Cow::Owned),
            };
            // The text as written (`tool_args`), validated, not parsed into a tree.
            let args = crate::formats::tool_args::value(arguments)
                .map_err(|e| ConvertError::new(path.key("arguments"), format!("not JSON: {e}")))?;
            if !args.is_object() {
                return Err(ConvertError::new(
                    path.key("arguments"),
                    "Gemini function call arguments must be a JSON object",
                ));
            }
            buf.extend_from_slice(b"{\"functionCall\":{");
            write::key(buf, "args");
            buf.extend_from_slice(args.as_raw_str().as_bytes());
            if let Some(id) = call_id {
                buf.push(b',');
                write::key(buf, "id");
                write::string(buf, split_signed_id(id).0);
            }
            buf.push(b',');
            write::key(buf, "name");
            write::string(buf, name);
            buf.push(b'}');
            if let Some(s) = signature {
                buf.push(b',');
                write::key(buf, SIGNATURE);
                write::string(buf, &s);
            }
            buf.push(b'}');
        }
        Part::ToolResult {
            id,
            name,
            content,
            is_error,
            ..
        } => {
            let name = match name {
                Some(n) => n.as_str(),
                None => tool_name(id).ok_or_else(|| {
                    ConvertError::new(
                        path.key("name"),
                        format!("no tool call with id {id:?} precedes this result (Gemini needs the function name)"),
                    )
                })?,
            };
            buf.extend_from_slice(b"{\"functionResponse\":{");
            write::key(buf, "name");
            write::string(buf, name);
            let mut first = true;
            let cpath = path.key("content");
            for (i, c) in content.iter().enumerate().filter(|(_, c)| is_media(c)) {
                if first {
                    buf.push(b',');
                    write::key(buf, "parts");
                    buf.push(b'[');
                }
                write::sep(buf, &mut first);
                buf.push(b'{');
                match c {
                    ToolResultContent::Image(src) => encode_image(buf, src, &Extra::default(), &cpath.index(i))?,
                    ToolResultContent::Document { source, .. } => encode_document(buf, source),
                    _ => {}
                }
                buf.push(b'}');
            }
            if !first {
                buf.push(b']');
            }
            buf.push(b',');
            write::key(buf, "response");
            write_result_object(buf, content, *is_error);
            buf.extend_from_slice(b"}}");
        }
        Part::Thinking { text, signature } => {
            buf.push(b'{');
            write::key(buf, "text");
            write::string(buf, text);
            buf.extend_from_slice(b",\"thought\":true");
            if let Some(s) = signature {
                buf.push(b',');
                write::key(buf, SIGNATURE);
                write::string(buf, sig::wire(s, Family::Gemini));
            }
            buf.push(b'}');
        }
        // NOTE: dropped on purpose, see the doc comment.
        Part::RedactedThinking { .. } => return Ok(false),
    }
    Ok(true)
}

/// Writes the `inlineData` (base64) or `fileData` (URL, media type from the Gemini extra or
/// guessed from the extension) member of a part object. Fails before writing anything.
fn encode_image(
    buf: &mut Vec<u8>,
    source: &ImageSource,
    extra: &Extra,
    path: &JsonPath<'_>,
) -> Result<(), ConvertError> {
    match source {
        ImageSource::Base64 { media_type, data } => {
            write::key(buf, "inlineData");
            buf.push(b'{');
            write::key(buf, "data");
            write::string(buf, data);
            buf.push(b',');
            write::key(buf, MIME);
            write::string(buf, &crate::canonical::image_media_type(media_type));
            buf.push(b'}');
        }
        ImageSource::Url(url) => {
            let known = extra
                .for_target(Format::Gemini)
                .iter()
                .find(|(k, _)| k == MIME)
                .and_then(|(_, v)| v.as_str());
            let Some(mime) = known.or_else(|| guess_image_mime(url)) else {
                return Err(ConvertError::new(
                    path,
                    format!(
                        "cannot tell the image type of {url:?} from its extension (Gemini fileData needs a mimeType)"
                    ),
                ));
            };
            write::key(buf, "fileData");
            buf.push(b'{');
            write::key(buf, "fileUri");
            write::string(buf, url);
            buf.push(b',');
            write::key(buf, MIME);
            write::string(buf, mime);
            buf.push(b'}');
        }
    }
    Ok(())
}

/// A document as `inlineData` (text as base64 `text/plain`) or, by URL, a PDF `fileData`.
fn encode_document(buf: &mut Vec<u8>, source: &DocumentSource) {
    let (key, value_key, value, mime): (&str, &str, std::borrow::Cow<'_, str>, &str) = match source {
        DocumentSource::Base64 { media_type, data } => ("inlineData", "data", data.into(), media_type),
        DocumentSource::Text(text) => (
            "inlineData",
            "data",
            crate::wire::base64::encode(text.as_bytes()).into(),
            "text/plain",
        ),
        DocumentSource::Url(url) => ("fileData", "fileUri", url.into(), PDF),
    };
    write::key(buf, key);
    buf.push(b'{');
    write::key(buf, value_key);
    write::string(buf, &value);
    buf.push(b',');
    write::key(buf, MIME);
    write::string(buf, mime);
    buf.push(b'}');
}

/// Media go as the function response's `parts`, not in its `response` object.
fn is_media(c: &ToolResultContent) -> bool {
    matches!(c, ToolResultContent::Image(_) | ToolResultContent::Document { .. })
}

/// The `functionResponse.response` object for a tool result (Gemini needs an object):
/// one JSON object as is; text (joined) or other values under `result`; errors under `error`.
fn write_result_object(buf: &mut Vec<u8>, content: &[ToolResultContent], is_error: bool) {
    let mut vals = content.iter().filter(|c| !is_media(c));
    let (first, second) = (vals.clone().next(), vals.clone().nth(1));
    if let (Some(ToolResultContent::Json(j)), None) = (first, second) {
        if j.is_object() && !is_error {
            write::value(buf, j);
            return;
        }
    }
    buf.push(b'{');
    write::key(buf, if is_error { "error" } else { "result" });
    match (first, second) {
        (Some(ToolResultContent::Json(j)), None) => write::value(buf, j),
        (Some(ToolResultContent::Text(t)), None) => write::string(buf, t),
        (None, _) => write::string(buf, ""),
        _ if vals.clone().all(|c| matches!(c, ToolResultContent::Text(_))) => {
            let texts: Vec<&str> = vals
                .filter_map(|c| match c {
                    ToolResultContent::Text(t) => Some(t.as_str()),
                    _ => None,
                })
                .collect();
            write::string(buf, &texts.join("\n"));
        }
        _ => {
            buf.push(b'[');
            let mut first = true;
            for c in vals.by_ref() {
                write::sep(buf, &mut first);
                match c {
                    ToolResultContent::Text(t) => write::string(buf, t),
                    ToolResultContent::Json(j) => write::value(buf, j),
                    ToolResultContent::Image(_) | ToolResultContent::Document { .. } => buf.extend_from_slice(b"null"),
                }
            }
            buf.push(b']');
        }
    }
    buf.push(b'}');
}

#[cfg(test)]
mod tests;
