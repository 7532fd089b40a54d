//! Wire formats. One module per dialect, holding both roles: the integration (a client speaks it
//! to us) and the provider (we speak it to an upstream). Format code does no IO.
//!
//! Every format module offers the same symmetric, pure functions (bytes <-> canonical):
//!
//! ```text
//! decode_request(body, path_model, stream) -> Result<ChatRequest, ConvertError>   // integration
//! encode_request(&ChatRequest)             -> Result<Vec<u8>, ConvertError>      // provider
//! request_path(model, stream)              -> String                             // provider
//! decode_response(body)                    -> Result<ChatResponse, ConvertError> // provider
//! encode_response(&ChatResponse)           -> Vec<u8>                            // integration
//! decode_error(status, body)               -> UpstreamFault                      // provider
//! encode_error(&UpstreamFault)             -> ErrorReply                         // integration
//! ```
//!
//! When the client's format equals the upstream's, none of these run: bytes pass through with
//! only the model spliced (`proxy::passthrough`).

pub mod anthropic;
pub mod bedrock;
pub mod call_ids;
pub mod cohere;
pub mod count;
pub mod embed;
pub mod gemini;
pub(crate) mod one_pass;
pub mod openai;
pub mod rerank;
pub mod sse_stream;
pub mod stream_end;
pub(crate) mod tool_args;
pub mod tool_choice;
pub mod tool_errors;
pub mod tool_media;
pub mod tool_names;
pub(crate) mod write;

#[cfg(test)]
mod finish_reasons;
#[cfg(test)]
mod golden;
#[cfg(test)]
mod logprobs;
#[cfg(test)]
mod schema_order;
#[cfg(test)]
mod stream_props;

/// A wire dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
    Cohere,
}

use crate::canonical::{ChatRequest, ChatResponse, ConvertError, ErrorReply, FaultKind, FinishReason, UpstreamFault};
use crate::error::GatewayError;

impl Format {
    /// Every format, in the order tables and tests list them.
    pub const ALL: [Format; 5] = [
        Format::OpenAi,
        Format::Anthropic,
        Format::Gemini,
        Format::Bedrock,
        Format::Cohere,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::OpenAi => "openai",
            Format::Anthropic => "anthropic",
            Format::Gemini => "gemini",
            Format::Bedrock => "bedrock",
            Format::Cohere => "cohere",
        }
    }
}

/// `decode_request(body, path_model, stream)`.
pub type DecodeRequest = fn(&[u8], Option<&str>, bool) -> Result<ChatRequest, ConvertError>;

/// One format's codec functions (the contract above), for dispatch by `Format`.
pub struct Codec {
    pub decode_request: DecodeRequest,
    pub encode_request: fn(&ChatRequest) -> Result<Vec<u8>, ConvertError>,
    pub request_path: fn(&str, bool) -> String,
    pub decode_response: fn(&[u8]) -> Result<ChatResponse, ConvertError>,
    pub encode_response: fn(&ChatResponse) -> Vec<u8>,
    pub decode_error: fn(u16, &[u8]) -> UpstreamFault,
    pub encode_error: fn(&UpstreamFault) -> ErrorReply,
}

static ANTHROPIC: Codec = Codec {
    decode_request: anthropic::decode_request,
    encode_request: anthropic::encode_request,
    request_path: anthropic::request_path,
    decode_response: anthropic::decode_response,
    encode_response: anthropic::encode_response,
    decode_error: anthropic::decode_error,
    encode_error: anthropic::encode_error,
};

static GEMINI: Codec = Codec {
    decode_request: gemini::decode_request,
    encode_request: gemini::encode_request,
    request_path: gemini::request_path,
    decode_response: gemini::decode_response,
    encode_response: gemini::encode_response,
    decode_error: gemini::decode_error,
    encode_error: gemini::encode_error,
};

static OPENAI: Codec = Codec {
    decode_request: openai::decode_request,
    encode_request: openai::encode_request,
    request_path: openai::request_path,
    decode_response: openai::decode_response,
    encode_response: openai::encode_response,
    decode_error: openai::decode_error,
    encode_error: openai::encode_fault,
};

static BEDROCK: Codec = Codec {
    decode_request: bedrock::decode_request,
    encode_request: bedrock::encode_request,
    request_path: bedrock::request_path,
    decode_response: bedrock::decode_response,
    encode_response: bedrock::encode_response,
    decode_error: bedrock::decode_error,
    encode_error: bedrock::encode_error,
};

static COHERE: Codec = Codec {
    decode_request: cohere::decode_request,
    encode_request: cohere::encode_request,
    request_path: cohere::request_path,
    decode_response: cohere::decode_response,
    encode_response: cohere::encode_response,
    decode_error: cohere::decode_error,
    encode_error: cohere::encode_error,
};

/// Where the ids Sluice makes up start (an Anthropic `request_id`, a Cohere error `id`, the
/// response ids of `proxy::translate::next_response_id`): a per-process random value, so that no
/// two processes (a restarted or a second gateway, `sluice-mock`) hand out the same ids in the
/// same order, as counters from 1 did.
pub(crate) fn error_id_base() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| {
        // RandomState is keyed from the OS's randomness once per process.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish()
    })
}

/// The codec of a format.
pub fn codec(format: Format) -> Option<&'static Codec> {
    Some(match format {
        Format::OpenAi => &OPENAI,
        Format::Anthropic => &ANTHROPIC,
        Format::Gemini => &GEMINI,
        Format::Bedrock => &BEDROCK,
        Format::Cohere => &COHERE,
    })
}

/// Renders a gateway error in the client's format (OpenAI keeps its `param` field). Sluice's own
/// 501 (a method, an operation or a setup it does not serve) says `x-should-retry: false`: no
/// retry can succeed, and the openai and anthropic SDKs retry every 5xx they are not told not to.
/// A Cohere client gets it as a 400 (`BadRequestError`): the cohere SDK retries every 5xx twice
/// whatever the headers say (`_should_retry` reads the status alone), and Cohere names a request
/// it cannot serve as given with a 400. (Bedrock clients get a 400 `ValidationException`, by
/// `bedrock::exception_name`.)
pub fn render_error(format: Format, err: &GatewayError) -> ErrorReply {
    let mut reply = render_error_reply(format, err);
    if err.status() == 501 && !matches!(err, GatewayError::UpstreamFault(_)) {
        if format == Format::Cohere {
            reply.status = 400;
        }
        reply.headers.push(("x-should-retry", "false".into()));
    }
    reply
}

fn render_error_reply(format: Format, err: &GatewayError) -> ErrorReply {
    if let Some(c) = codec(format) {
        match err {
            GatewayError::UpstreamFault(f) => return (c.encode_error)(f),
            _ if format != Format::OpenAi => {
                return (c.encode_error)(&UpstreamFault {
                    status: err.status(),
                    kind: FaultKind::from_status(err.status()),
                    message: err.message(),
                })
            }
            _ => {}
        }
    }
    ErrorReply {
        status: err.status(),
        headers: Vec::new(),
        content_type: "application/json",
        body: openai::encode_error(err).to_vec(),
    }
}

/// The error a client of `client` gets for an answer from an `upstream` that ended with
/// `finish`, where the client's format has no finish saying that the turn failed: the
/// upstream's own error (`Error`: Cohere's `ERROR`, a failed Responses answer; Cohere clients
/// read `ERROR`), or output the model could not form (see `is_malformed_output`; Gemini and
/// Bedrock clients read their own value, Cohere's `ERROR`). Read as `stop` or `end_turn`, a failed
/// turn, often with nothing in it, would pass for a whole one; as an error, SDKs retry it.
pub fn failed_finish(client: Format, upstream: Format, finish: &FinishReason) -> Option<UpstreamFault> {
    let message = match finish {
        FinishReason::Error if client != Format::Cohere => {
            format!("the {} upstream ended its answer with an error", upstream.name())
        }
        FinishReason::Other(why)
            if finish.is_malformed_output() && matches!(client, Format::OpenAi | Format::Anthropic) =>
        {
            format!(
                "the {} upstream's model could not form its answer (finish reason {why})",
                upstream.name()
            )
        }
        _ => return None,
    };
    Some(UpstreamFault {
        status: 500,
        kind: FaultKind::Server,
        message,
    })
}

/// The stream decoder for an upstream of `format` (Bedrock: ConverseStream, the operation the
/// gateway calls when it translates a stream to Bedrock).
pub fn stream_decoder(format: Format) -> Box<dyn crate::canonical::stream::StreamDecode> {
    match format {
        Format::OpenAi => Box::new(openai::stream::OpenAiStreamDecoder::new()),
        Format::Anthropic => Box::new(anthropic::stream::AnthropicStreamDecoder::new()),
        Format::Gemini => Box::new(gemini::stream::GeminiStreamDecoder::new()),
        Format::Bedrock => Box::new(bedrock::stream::ConverseStreamDecoder::new()),
        Format::Cohere => Box::new(cohere::stream::CohereStreamDecoder::new()),
    }
}

/// The stream encoder answering a client of `format` that sent `req` (`invoke`: Bedrock
/// InvokeModelWithResponseStream instead of ConverseStream).
pub fn stream_encoder(
    format: Format,
    invoke: bool,
    req: &ChatRequest,
) -> Box<dyn crate::canonical::stream::StreamEncode> {
    use crate::canonical::stream::{ArgumentsNeverEmpty as Filled, SerialToolCalls as Serial};
    // Anthropic (and Claude-native Invoke streams) may leave a call's arguments empty, as the
    // API does; Gemini writes whole `args` objects. OpenAI clients accumulate interleaved calls
    // by index; the formats with one tool block after another get them serialized. `Serial` is
    // inside `Filled`, so that a bare call's `{}` (at the finish) comes before the next call.
    match format {
        Format::OpenAi => Box::new(Filled::new(openai::stream::OpenAiStreamEncoder::new(req))),
        Format::Anthropic => Box::new(Serial::new(anthropic::stream::AnthropicStreamEncoder::new(req))),
        Format::Gemini => Box::new(gemini::stream::GeminiStreamEncoder::new(req)),
        Format::Bedrock if invoke => Box::new(Serial::new(bedrock::stream::InvokeStreamEncoder::new(req))),
        Format::Bedrock => Box::new(Filled::new(Serial::new(bedrock::stream::ConverseStreamEncoder::new(
            req,
        )))),
        Format::Cohere => Box::new(Filled::new(Serial::new(cohere::stream::CohereStreamEncoder::new(req)))),
    }
}

/// A JSON value as text: a string as it is, any other non-null value as its JSON (upstreams send
/// tool-call arguments, and Cohere its stream error, either way); `None` for null.
pub(crate) fn text_or_json(v: &crate::canonical::Json) -> Option<String> {
    use sonic_rs::JsonValueTrait;
    match v.as_str() {
        Some(s) => Some(s.to_string()),
        None if v.is_null() => None,
        None => Some(sonic_rs::to_string(v).unwrap_or_default()),
    }
}

/// Longest message kept from an upstream error body that is not its format's JSON.
const MAX_RAW_MESSAGE: usize = 512;

/// An upstream error body that is not its format's JSON, as the fault's message: trimmed and cut
/// to `MAX_RAW_MESSAGE` bytes. An HTML page (a load balancer's or proxy's `502 Bad Gateway`) is
/// named by its title, or its text without tags: its markup would only bury the words.
pub(crate) fn raw_error_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return format!("upstream answered HTTP {status}");
    }
    if !text.starts_with('<') {
        return cut_at_char(text, MAX_RAW_MESSAGE).to_string();
    }
    // A page is read only as far as its first 64 KiB: a title or words are at its top.
    let text = cut_at_char(text, 64 * 1024);
    let lower = text.to_ascii_lowercase();
    if !["<html", "<!doctype html", "<head", "<body", "<title"]
        .iter()
        .any(|tag| lower.contains(tag))
    {
        return cut_at_char(text, MAX_RAW_MESSAGE).to_string();
    }
    // ASCII lower-casing keeps byte offsets, so `lower`'s offsets index `text`.
    let title = lower.find("<title").and_then(|at| {
        let start = at + lower[at..].find('>')? + 1;
        let end = start + lower[start..].find("</title")?;
        Some(&text[start..end])
    });
    let words = match title.map(words_of).filter(|t| !t.is_empty()) {
        Some(t) => t,
        None => words_of(&without_tags(text, &lower)),
    };
    if words.is_empty() {
        return format!("upstream answered HTTP {status} with an HTML page");
    }
    format!(
        "upstream answered HTTP {status} with an HTML page: {}",
        cut_at_char(&words, MAX_RAW_MESSAGE)
    )
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut_at_char(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The words of `text`, one space between each.
fn words_of(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An HTML page's text: its tags left out, and what `<script>`/`<style>` hold. `lower` is
/// `html` lower-cased (the same byte offsets).
fn without_tags(html: &str, lower: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut at = 0;
    while let Some(open) = lower[at..].find('<').map(|i| at + i) {
        out.push_str(&html[at..open]);
        out.push(' ');
        let tag = &lower[open..];
        let skip_to = if tag.starts_with("<script") {
            tag.find("</script")
        } else if tag.starts_with("<style") {
            tag.find("</style")
        } else {
            Some(0)
        };
        match skip_to.and_then(|s| tag[s..].find('>').map(|e| s + e)) {
            Some(end) => at = open + end + 1,
            None => return out,
        }
    }
    out.push_str(&html[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::JsonValueTrait;

    #[test]
    fn an_html_error_page_is_named_by_its_title_or_text() {
        let nginx = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
        assert_eq!(
            raw_error_message(502, nginx),
            "upstream answered HTTP 502 with an HTML page: 502 Bad Gateway"
        );
        let untitled = b"<!DOCTYPE html><HTML><style>p{color:red}</style><script>var a = '<b>';</script><BODY><p>Service\n  Unavailable</p></BODY></HTML>";
        assert_eq!(
            raw_error_message(503, untitled),
            "upstream answered HTTP 503 with an HTML page: Service Unavailable"
        );
        assert_eq!(
            raw_error_message(502, b"<html><body></body></html>"),
            "upstream answered HTTP 502 with an HTML page"
        );
        // Text and XML-ish bodies stay as they are, cut to 512 bytes at a character boundary.
        assert_eq!(
            raw_error_message(502, b"  upstream connect error\n"),
            "upstream connect error"
        );
        assert_eq!(raw_error_message(400, b"<Error>x</Error>"), "<Error>x</Error>");
        assert_eq!(raw_error_message(503, b" \n"), "upstream answered HTTP 503");
        let long = "\u{e9}".repeat(600);
        let cut = raw_error_message(500, long.as_bytes());
        assert_eq!(cut.len(), 512);
        assert!(long.starts_with(&cut));
        let page = format!("<html><title>{}</title></html>", "x ".repeat(600));
        assert!(raw_error_message(502, page.as_bytes()).len() < 600);
    }

    /// A request body of format `from`, translated for a `to` upstream, as JSON.
    fn via(from: Format, body: &str, to: Format) -> sonic_rs::Value {
        let req = (codec(from).unwrap().decode_request)(body.as_bytes(), Some("m"), false).unwrap();
        let out = (codec(to).unwrap().encode_request)(&req).unwrap();
        sonic_rs::from_slice::<sonic_rs::Value>(&out).unwrap()
    }

    /// A history read from any format holds each one-part message, and each one-text tool result,
    /// in room for one: `Vec`'s first push makes room for four, which made a long history of
    /// them take about four times the memory (`canonical::push_sparing`).
    #[test]
    fn one_part_messages_are_held_in_room_for_one() {
        use crate::canonical::{Message, Part, Role, ToolResultContent};
        let text = |role, t: &str| Message {
            role,
            content: vec![Part::text(t)],
        };
        let mut messages = Vec::new();
        for i in 0..3 {
            messages.push(text(Role::User, &format!("question {i}")));
            messages.push(text(Role::Assistant, &format!("answer {i}")));
        }
        messages.push(text(Role::User, "look it up"));
        messages.push(Message {
            role: Role::Assistant,
            content: vec![Part::ToolCall {
                id: "call_1".into(),
                name: "lookup".into(),
                arguments: r#"{"q":"x"}"#.into(),
                signature: None,
                extra: Default::default(),
            }],
        });
        messages.push(Message {
            role: Role::User,
            content: vec![Part::ToolResult {
                id: "call_1".into(),
                name: Some("lookup".into()),
                content: vec![ToolResultContent::Text("found".into())],
                is_error: false,
                extra: Default::default(),
            }],
        });
        messages.push(text(Role::Assistant, "done"));
        messages.push(text(Role::User, "thanks"));
        let req = ChatRequest {
            model: "m".into(),
            messages,
            tools: vec![crate::canonical::Tool {
                name: "lookup".into(),
                description: None,
                parameters: sonic_rs::json!({"type": "object"}).into(),
                strict: None,
                extra: Default::default(),
            }],
            max_tokens: Some(16),
            ..Default::default()
        };
        for f in Format::ALL {
            let c = codec(f).unwrap();
            let body = (c.encode_request)(&req).unwrap();
            let read = (c.decode_request)(&body, Some("m"), false).unwrap();
            assert_eq!(read.messages.len(), req.messages.len(), "{f:?}");
            for (i, m) in read.messages.iter().enumerate() {
                assert_eq!(m.content.len(), 1, "{f:?} message {i}");
                assert_eq!(m.content.capacity(), 1, "{f:?} message {i}");
                if let Part::ToolResult { content, .. } = &m.content[0] {
                    assert_eq!((content.len(), content.capacity()), (1, 1), "{f:?} result");
                }
            }
        }
    }

    /// Frequency and presence penalties cross between the three formats that have them.
    #[test]
    fn penalties_cross_between_openai_gemini_and_cohere() {
        let openai = r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"frequency_penalty":0.5,"presence_penalty":-0.25}"#;
        let g = via(Format::OpenAi, openai, Format::Gemini);
        assert_eq!(g["generationConfig"]["frequencyPenalty"].as_f64(), Some(0.5), "{g}");
        assert_eq!(g["generationConfig"]["presencePenalty"].as_f64(), Some(-0.25), "{g}");
        // Cohere's penalties run from 0 (no penalty), OpenAI's from -2: the nearest it takes.
        let c = via(Format::OpenAi, openai, Format::Cohere);
        assert_eq!(
            (c["frequency_penalty"].as_f64(), c["presence_penalty"].as_f64()),
            (Some(0.5), Some(0.0))
        );
        let gemini = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"frequencyPenalty":0.3,"presencePenalty":0.2}}"#;
        let o = via(Format::Gemini, gemini, Format::OpenAi);
        assert_eq!(
            (o["frequency_penalty"].as_f64(), o["presence_penalty"].as_f64()),
            (Some(0.3), Some(0.2))
        );
        let cohere = r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"frequency_penalty":0.1,"presence_penalty":0.4}"#;
        let o = via(Format::Cohere, cohere, Format::OpenAi);
        assert_eq!(
            (o["frequency_penalty"].as_f64(), o["presence_penalty"].as_f64()),
            (Some(0.1), Some(0.4))
        );
    }

    /// Anthropic's `output_config.effort` is the effort other formats name their own way; it stays
    /// Claude's own field, no thinking budget, and `adaptive` thinking reaches Claude on Bedrock.
    #[test]
    fn an_anthropic_effort_reaches_every_format() {
        let body = |model: &str, effort: &str| {
            format!(
                r#"{{"model":"{model}","max_tokens":4000,"messages":[{{"role":"user","content":"hi"}}],"output_config":{{"effort":"{effort}"}},"thinking":{{"type":"adaptive"}}}}"#
            )
        };
        let o = via(Format::Anthropic, &body("m", "low"), Format::OpenAi);
        assert_eq!(o["reasoning_effort"].as_str(), Some("low"), "{o}");
        let o = via(Format::Anthropic, &body("m", "max"), Format::OpenAi);
        assert_eq!(
            o["reasoning_effort"].as_str(),
            Some("high"),
            "max is the others' high: {o}"
        );
        let g = via(Format::Anthropic, &body("gemini-3-pro", "medium"), Format::Gemini);
        assert_eq!(
            g["generationConfig"]["thinkingConfig"]["thinkingLevel"].as_str(),
            Some("MEDIUM"),
            "{g}"
        );
        let a = via(Format::Anthropic, &body("m", "max"), Format::Anthropic);
        assert_eq!(a["output_config"], sonic_rs::json!({"effort": "max"}), "{a}");
        assert_eq!(
            a["thinking"],
            sonic_rs::json!({"type": "adaptive"}),
            "no budget made of it: {a}"
        );
        let b = via(
            Format::Anthropic,
            &body("anthropic.claude-opus-4-6-v1", "low"),
            Format::Bedrock,
        );
        assert_eq!(
            b["additionalModelRequestFields"]["thinking"],
            sonic_rs::json!({"type": "adaptive"}),
            "{b}"
        );
        let nova = via(Format::Anthropic, &body("amazon.nova-pro-v1:0", "low"), Format::Bedrock);
        assert!(nova.get("additionalModelRequestFields").is_none(), "{nova}");
        // With a thinking budget too, in either order, both are kept.
        for body in [
            r#"{"model":"m","max_tokens":4000,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"enabled","budget_tokens":2000},"output_config":{"effort":"low"}}"#,
            r#"{"model":"m","max_tokens":4000,"messages":[{"role":"user","content":"hi"}],"output_config":{"effort":"low"},"thinking":{"type":"enabled","budget_tokens":2000}}"#,
        ] {
            let req = (codec(Format::Anthropic).unwrap().decode_request)(body.as_bytes(), None, false).unwrap();
            let r = req.reasoning.expect("reasoning");
            assert_eq!((r.budget_tokens, r.effort.as_deref()), (Some(2000), Some("low")));
        }
    }

    /// An OpenAI system prompt alone (which OpenAI answers) gets a minimal user turn for the
    /// formats that refuse no turns, and a temperature above 1 is the hottest Anthropic and
    /// Converse take (Gemini's runs to 2, as OpenAI's).
    #[test]
    fn a_system_prompt_alone_and_a_hot_temperature_fit_every_format() {
        let body = r#"{"model":"m","messages":[{"role":"system","content":"Say hi"}],"temperature":1.5}"#;
        let a = via(Format::OpenAi, body, Format::Anthropic);
        assert_eq!(
            a["messages"],
            sonic_rs::json!([{"role": "user", "content": [{"type": "text", "text": "."}]}]),
            "{a}"
        );
        assert_eq!(a["temperature"].as_f64(), Some(1.0), "{a}");
        let b = via(Format::OpenAi, body, Format::Bedrock);
        assert_eq!(
            b["messages"],
            sonic_rs::json!([{"role": "user", "content": [{"text": "."}]}]),
            "{b}"
        );
        assert_eq!(b["inferenceConfig"]["temperature"].as_f64(), Some(1.0), "{b}");
        let g = via(Format::OpenAi, body, Format::Gemini);
        assert_eq!(
            g["contents"],
            sonic_rs::json!([{"parts": [{"text": "."}], "role": "user"}]),
            "{g}"
        );
        assert_eq!(g["generationConfig"]["temperature"].as_f64(), Some(1.5), "{g}");
        // A conversation with turns is left as it is.
        let turns = r#"{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}]}"#;
        let a = via(Format::OpenAi, turns, Format::Anthropic);
        assert_eq!(a["messages"][0]["content"][0]["text"].as_str(), Some("hi"), "{a}");
    }

    /// The end user's id crosses between OpenAI's `user` and Anthropic's `metadata.user_id`; an
    /// Anthropic `metadata` with more in it stays Anthropic's own.
    #[test]
    fn the_end_user_crosses_between_openai_and_anthropic() {
        let openai = r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"user":"u-1"}"#;
        let a = via(Format::OpenAi, openai, Format::Anthropic);
        assert_eq!(a["metadata"]["user_id"].as_str(), Some("u-1"), "{a}");
        let anthropic =
            r#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":"u-2"}}"#;
        let o = via(Format::Anthropic, anthropic, Format::OpenAi);
        assert_eq!(o["user"].as_str(), Some("u-2"), "{o}");
        assert!(o.get("metadata").is_none(), "{o}");
        let more = r#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":"u-3","x":1}}"#;
        let req = (codec(Format::Anthropic).unwrap().decode_request)(more.as_bytes(), None, false).unwrap();
        assert_eq!(req.user, None);
        let back = sonic_rs::from_slice::<sonic_rs::Value>(&anthropic::encode_request(&req).unwrap()).unwrap();
        assert_eq!(back["metadata"]["x"].as_u64(), Some(1), "{back}");
    }

    /// An upstream's fault reaches an OpenAI client as OpenAI words it: `code` names a rate limit
    /// (`rate_limit_exceeded`) and a bad key (`invalid_api_key`), and a status that is not an
    /// error status becomes the kind's.
    #[test]
    fn a_relayed_fault_reads_as_openai_writes_it() {
        let fault = |status, kind| {
            GatewayError::UpstreamFault(UpstreamFault {
                status,
                kind,
                message: "m".into(),
            })
        };
        let body = |r: &ErrorReply| sonic_rs::from_slice::<sonic_rs::Value>(&r.body).unwrap();
        let r = render_error(Format::OpenAi, &fault(429, FaultKind::RateLimited));
        assert_eq!(r.status, 429);
        assert_eq!(body(&r)["error"]["code"].as_str(), Some("rate_limit_exceeded"));
        let r = render_error(Format::OpenAi, &fault(401, FaultKind::Authentication));
        let b = body(&r);
        assert_eq!(
            (b["error"]["type"].as_str(), b["error"]["code"].as_str()),
            (Some("invalid_request_error"), Some("invalid_api_key"))
        );
        let r = render_error(Format::OpenAi, &fault(302, FaultKind::Server));
        assert_eq!(r.status, 500);
        // The gateway's own errors keep their `param`.
        let r = render_error(Format::OpenAi, &GatewayError::NotFound("no route".into()));
        assert_eq!((r.status, body(&r)["error"]["code"].as_str()), (404, Some("not_found")));
    }

    /// Sluice's own 501 is final: the openai and anthropic SDKs would retry any 5xx, so it says
    /// `x-should-retry: false`, in every format. An upstream's 501, or another 5xx, does not.
    #[test]
    fn the_gateways_own_501_says_not_to_retry() {
        let no_retry = |r: &ErrorReply| r.headers.iter().any(|(n, v)| *n == "x-should-retry" && v == "false");
        let own = [
            GatewayError::NotImplemented("no such operation".into()),
            GatewayError::Http {
                status: 501,
                message: "transfer coding",
            },
        ];
        for format in [
            Format::OpenAi,
            Format::Anthropic,
            Format::Gemini,
            Format::Bedrock,
            Format::Cohere,
        ] {
            for err in &own {
                let r = render_error(format, err);
                assert!(no_retry(&r), "{format:?} {err:?}");
                // Neither SDK that ignores `x-should-retry` may see a 5xx: cohere's retries any,
                // botocore its `InternalServerException`. google-genai retries no 501.
                let want = match format {
                    Format::Cohere | Format::Bedrock => 400,
                    _ => 501,
                };
                assert_eq!(r.status, want, "{format:?} {err:?}");
            }
            let upstream = GatewayError::UpstreamFault(UpstreamFault {
                status: 501,
                kind: FaultKind::Server,
                message: "m".into(),
            });
            for err in [upstream, GatewayError::Internal] {
                assert!(!no_retry(&render_error(format, &err)), "{format:?} {err:?}");
            }
            // An upstream's own 501 keeps its status for a Cohere client, as Cohere's would.
            let upstream_501 = GatewayError::UpstreamFault(UpstreamFault {
                status: 501,
                kind: FaultKind::Server,
                message: "m".into(),
            });
            if format == Format::Cohere {
                assert_eq!(render_error(format, &upstream_501).status, 501);
            }
        }
    }

    /// A refused translation names its field in OpenAI's `param` (the SDK's `err.param`); the
    /// other formats have no such field and read it in the message.
    #[test]
    fn a_refused_field_is_openais_param() {
        let refused: GatewayError = ConvertError::new("messages[1].content[0].image_url", "no URLs").into();
        let r = render_error(Format::OpenAi, &refused);
        let b = sonic_rs::from_slice::<sonic_rs::Value>(&r.body).unwrap();
        assert_eq!(r.status, 400);
        assert_eq!(b["error"]["param"].as_str(), Some("messages[1].content[0].image_url"));
        assert_eq!(
            b["error"]["message"].as_str(),
            Some("messages[1].content[0].image_url: no URLs")
        );
        let whole: GatewayError = ConvertError::new("", "not JSON").into();
        let b = sonic_rs::from_slice::<sonic_rs::Value>(&render_error(Format::OpenAi, &whole).body).unwrap();
        assert!(b["error"]["param"].is_null(), "{b}");
        let r = render_error(Format::Anthropic, &refused);
        let b = sonic_rs::from_slice::<sonic_rs::Value>(&r.body).unwrap();
        assert_eq!(
            b["error"]["message"].as_str(),
            Some("messages[1].content[0].image_url: no URLs")
        );
    }

    /// A token limit of 0 asks for an empty answer: OpenAI and Anthropic refuse it, and the
    /// gateway refuses it for every client before any provider sees it (Gemini and Cohere would
    /// answer nothing).
    #[test]
    fn a_zero_token_limit_is_refused_for_every_client() {
        fn v1(body: &[u8], _: Option<&str>, _: bool) -> Result<crate::canonical::ChatRequest, ConvertError> {
            cohere::v1chat::decode_request(body)
        }
        fn gemini(body: &[u8], _: Option<&str>, stream: bool) -> Result<crate::canonical::ChatRequest, ConvertError> {
            (GEMINI.decode_request)(body, Some("m"), stream)
        }
        fn responses(body: &[u8], _: Option<&str>, _: bool) -> Result<crate::canonical::ChatRequest, ConvertError> {
            openai::responses::decode_request(body)
        }
        let cases = [
            (
                ANTHROPIC.decode_request,
                r#"{"model":"m","max_tokens":0,"messages":[]}"#,
                "max_tokens",
            ),
            (
                OPENAI.decode_request,
                r#"{"model":"m","max_tokens":0,"messages":[]}"#,
                "max_tokens",
            ),
            (
                OPENAI.decode_request,
                r#"{"model":"m","max_completion_tokens":0,"messages":[]}"#,
                "max_completion_tokens",
            ),
            (
                COHERE.decode_request,
                r#"{"model":"m","max_tokens":0,"messages":[]}"#,
                "max_tokens",
            ),
            (v1, r#"{"model":"m","max_tokens":0,"message":"hi"}"#, "max_tokens"),
            (
                responses,
                r#"{"model":"m","max_output_tokens":0,"input":"hi"}"#,
                "max_output_tokens",
            ),
            (
                gemini,
                r#"{"contents":[],"generationConfig":{"maxOutputTokens":0}}"#,
                "generationConfig.maxOutputTokens",
            ),
        ];
        for (decode, body, field) in cases {
            let e = decode(body.as_bytes(), None, false).unwrap_err();
            let said = (e.field.as_str(), e.message.as_str());
            assert_eq!(said, (field, "Input should be greater than or equal to 1"), "{body}");
        }
        // A Bedrock client is told in AWS's words (what botocore itself would have said).
        let e = (BEDROCK.decode_request)(
            br#"{"messages":[],"inferenceConfig":{"maxTokens":0}}"#,
            Some("m"),
            false,
        )
        .unwrap_err();
        assert!(e
            .message
            .contains("Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint"));
        let one = r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}"#;
        assert_eq!(
            via(Format::Anthropic, one, Format::OpenAi)["max_tokens"].as_u64(),
            Some(1)
        );
    }

    /// The Responses API takes no `max_output_tokens` under 16: its clients are told so in
    /// OpenAI's words whatever the provider, and 16 itself passes.
    #[test]
    fn a_responses_limit_under_16_is_refused() {
        for n in [1, 15] {
            let body = format!(r#"{{"model":"m","max_output_tokens":{n},"input":"hi"}}"#);
            let e = openai::responses::decode_request(body.as_bytes()).unwrap_err();
            assert_eq!(e.field.as_str(), "max_output_tokens");
            assert_eq!(
                e.message,
                format!("integer below minimum value. Expected a value >= 16, but got {n} instead.")
            );
        }
        let ok = openai::responses::decode_request(br#"{"model":"m","max_output_tokens":16,"input":"hi"}"#).unwrap();
        assert_eq!(ok.max_tokens, Some(16));
    }
}
