//! Format-independent mock behaviour: a canonical request in, a canonical response (or a fault)
//! out. Every format's mock encodes this same answer, so the 5 x 5 matrix can compare
//! translations against one truth.
//!
//! Scenarios, chosen by the model name:
//! - `error-NNN` anywhere: an upstream error with status NNN;
//! - contains `parallel`: two tool calls (`get_weather` for Paris and for Rome) when tools are given
//!   and `tool_choice` is not none (with none, this and the next two answer in text, as a model does);
//!   only the first with parallel calls turned off (OpenAI `parallel_tool_calls: false`, Anthropic
//!   `disable_parallel_tool_use`), as a model then makes at most one;
//! - contains `tool`: one tool call of the first tool, arguments `{"city":"Paris"}`;
//!   with `richargs` too, arguments of every JSON type, nested, with escapes, a big integer,
//!   `1e5` and `1.0` (`RICH_ARGUMENTS`);
//! - contains `noargs`: one tool call of the first tool without arguments (`{}`);
//! - in these three, a `tool_choice` naming a tool calls that tool instead of the first, as a
//!   model forced to it does, and one allowing some tools calls the first of those;
//! - contains `image`: "I see N image(s)" counting images in the last user turn, its tool
//!   results' too (after a tool result too, instead of `tool said`);
//! - contains `document`: "I see N document(s)" counting documents in the last user turn, its
//!   tool results' too (after a tool result too, instead of `tool said`);
//! - contains `length`: the echo cut to 3 words, finish reason `Length`;
//! - contains `inspect`: a report of what arrived that only some formats have: the names of raw
//!   extra fields (top level, on parts, on tools) and the response format, e.g.
//!   `extras: cache_control,metadata; response_format: json_schema`, then a schema's top-level
//!   properties in the order they came (`; schema: city,days`: a model answers in that order),
//!   the tools marked strict when there are any (`; strict: get_weather`), the end user's id when one came
//!   (`; user: u1`), and with tools or a tool choice, the choice (`unset` when none came) and the
//!   tools offered (`; tool_choice: allowed required a,b; tools: a,b,c`, or `required`,
//!   `tool a`, ...);
//! - contains `reasoning`: the echo after a thinking block (text and signature) and a
//!   redacted-thinking block, as Claude answers with extended thinking; the tokens are the mock
//!   family's own (`respond_as`, `MOCK_TOKENS`), which that family's mock alone accepts back;
//! - contains `verbatim`: the last user text as it came, so a JSON document sent under a
//!   response schema comes back as the structured answer a real model would give;
//! - contains `malformed`: no content and Gemini's `MALFORMED_FUNCTION_CALL` finish (Bedrock's
//!   mock writes `malformed_tool_use`, Cohere's `ERROR`; OpenAI and Anthropic have no such value);
//! - contains `refusal`: a refusal (`REFUSAL`) with a content-filter finish, which OpenAI
//!   formats write as a `refusal` and the others as text;
//! - contains `cached` (beside any other): usage with 20 input tokens read from cache and 10
//!   written to it (added to the prompt's count), and the thinking's words as reasoning tokens
//!   (added to the output);
//! - otherwise: `echo: <last user text>`. After a tool result, `tool said: <result text>`.

use sonic_rs::{JsonContainerTrait, JsonValueTrait};

use crate::canonical::sig::{self, Family};
use crate::canonical::{
    ChatRequest, ChatResponse, Extra, FaultKind, FinishReason, Part, Role, ToolChoice, ToolResultContent,
    UpstreamFault, Usage,
};
use crate::formats::Format;

/// The thinking signature and redacted data each family's mock makes, in its family's native form
/// (Anthropic's start with `E`, Gemini's with `C`, OpenAI's with `gAAAA`). The Anthropic, Bedrock
/// and Gemini mocks refuse a thinking block signed with anything else, as the real APIs do.
pub const MOCK_TOKENS: [(Family, &str, &str); 3] = [
    (
        Family::Claude,
        "EgtzbHVpY2UtbW9jay1jbGF1ZGU=",
        "Eg1zbHVpY2UtbW9jay1yZWRhY3RlZA==",
    ),
    (
        Family::Gemini,
        "CgtzbHVpY2UtbW9jay1nZW1pbmk=",
        "CgtzbHVpY2UtbW9jay1nZW1pbmk=",
    ),
    (
        Family::OpenAi,
        "gAAAAHNsdWljZS1tb2NrLW9wZW5haQ==",
        "gAAAAHNsdWljZS1tb2NrLXJlZGFjdGVk",
    ),
];

/// The family whose signatures a format's mock makes and accepts for `model` (None: it signs
/// none and checks none). On Bedrock only Claude signs its reasoning (Bedrock documents
/// `signature` and `redactedContent` for Claude's extended thinking only; DeepSeek R1, gpt-oss
/// and the like are taken to answer unsigned reasoning text), so a model id naming another
/// vendor signs none; what such a model does with a token
/// sent back is unverified, so it is not checked either.
pub fn mock_family(format: Format, model: &str) -> Option<Family> {
    match format {
        Format::Bedrock if !crate::formats::bedrock::invoke::may_be_claude(model) => None,
        Format::Anthropic | Format::Bedrock => Some(Family::Claude),
        Format::Gemini => Some(Family::Gemini),
        Format::OpenAi => Some(Family::OpenAi),
        Format::Cohere => None,
    }
}

fn tokens(f: Family) -> (&'static str, &'static str) {
    MOCK_TOKENS.iter().find(|t| t.0 == f).map_or(("", ""), |t| (t.1, t.2))
}

/// `respond`, with its thinking signed by the mock of `format` (the canonical tokens of its
/// family); a Bedrock model that signs none answers its thinking unsigned and nothing redacted.
pub fn respond_as(req: &ChatRequest, id: &str, format: Format) -> Result<ChatResponse, UpstreamFault> {
    let mut resp = respond(req, id)?;
    if format == Format::Bedrock && mock_family(format, &req.model).is_none() {
        resp.content.retain(|p| !matches!(p, Part::RedactedThinking { .. }));
        for p in &mut resp.content {
            if let Part::Thinking { signature, .. } = p {
                *signature = None;
            }
        }
    }
    if let Some(f) = mock_family(format, &req.model) {
        let (signature, redacted) = tokens(f);
        for p in &mut resp.content {
            match p {
                Part::Thinking {
                    signature: s @ Some(_), ..
                } => *s = Some(sig::decode(signature, f)),
                Part::RedactedThinking { data } => *data = sig::decode(redacted, f),
                _ => {}
            }
        }
    }
    Ok(resp)
}

/// A thinking block in `req` signed with what the mock of `format` would not have made: its
/// position (message, part). Unsigned thinking is the encoders' concern, not checked here.
pub fn foreign_signature(req: &ChatRequest, format: Format) -> Option<(usize, usize)> {
    let f = mock_family(format, &req.model)?;
    let (signature, redacted) = tokens(f);
    let ours = |token: &str, want: &str| sig::Family::of(token) == Some((f, want));
    req.messages.iter().enumerate().find_map(|(i, m)| {
        m.content
            .iter()
            .position(|p| match p {
                Part::Thinking { signature: Some(s), .. } => !ours(s, signature),
                Part::RedactedThinking { data } => !ours(data, redacted),
                _ => false,
            })
            .map(|j| (i, j))
    })
}

/// The arguments of the `richargs` tool call: every JSON type, nesting, empty containers,
/// escapes (`\u00fc`, `\/`), characters outside the BMP, keys out of order, an integer beyond 64
/// bits, `1e5` and `1.0`, which a translation must carry unchanged, in value and in text.
pub const RICH_ARGUMENTS: &str = r#"{"city":"Z\u00fcrich \"Altstadt\"\n😀","days":3,"ratio":0.5,"units":{"temp":"C","wind":null},"tags":["a","日本"],"ok":true,"empty":{},"list":[],"id":123456789012345678901234,"scale":1e5,"step":1.0,"path":"a\/b"}"#;

/// What the `refusal` scenario answers.
pub const REFUSAL: &str = "I'm sorry, I can't help with that.";

/// The fault an `error-NNN` model name asks for, or Ok.
pub fn requested_fault(model: &str) -> Result<(), UpstreamFault> {
    match super::Scenario::from_model(model) {
        super::Scenario::Error(status) => Err(UpstreamFault {
            status,
            kind: FaultKind::from_status(status),
            message: format!("mock error {status} requested by model name"),
        }),
        super::Scenario::Echo => Ok(()),
    }
}

/// What every format's count-tokens endpoint answers: the input tokens `respond` would report
/// in `usage.input` for the same request (`prompt_words`), or the same `error-NNN` fault.
pub fn count_tokens(req: &ChatRequest) -> Result<u64, UpstreamFault> {
    requested_fault(&req.model)?;
    Ok(prompt_words(req))
}

/// The tool a calling scenario calls: the one `tool_choice` names, else the first it allows,
/// else the first. A forced tool answered with the first one would hide a translation that lost
/// the name; the first allowed one is the first offered where the tools were narrowed to them.
fn called_tool(req: &ChatRequest) -> &str {
    let allowed = |t: &&crate::canonical::Tool| match &req.tool_choice {
        Some(ToolChoice::Allowed { names, .. }) => names.contains(&t.name),
        _ => true,
    };
    match &req.tool_choice {
        Some(ToolChoice::Named(name)) => name,
        _ => req.tools.iter().find(allowed).map_or("", |t| t.name.as_str()),
    }
}

pub fn respond(req: &ChatRequest, id: &str) -> Result<ChatResponse, UpstreamFault> {
    let model = req.model.as_str();
    requested_fault(model)?;
    let last_user = req.messages.iter().rev().find(|m| m.role == Role::User);
    let mut finish = FinishReason::Stop;
    let mut content = Vec::new();
    let tool_result = last_user.and_then(|m| {
        m.content.iter().find_map(|p| match p {
            Part::ToolResult { content, .. } => Some(tool_result_text(content)),
            _ => None,
        })
    });
    // Tools the request lets the model call: none when `tool_choice` says none, as a real model
    // then answers in text.
    let callable = !req.tools.is_empty() && req.tool_choice != Some(ToolChoice::None);
    let called = called_tool(req);
    if model.contains("inspect") {
        content.push(Part::text(inspect(req)));
    } else if let Some(result) = tool_result {
        // A tool's screenshot or file, counted as a model would describe it.
        let text = media_answer(model, last_user).unwrap_or_else(|| format!("tool said: {result}"));
        content.push(Part::text(text));
    } else if model.contains("parallel") && callable {
        let name = called.to_string();
        let cities: &[&str] = if req.parallel_tool_calls == Some(false) {
            &["Paris"]
        } else {
            &["Paris", "Rome"]
        };
        for (i, city) in cities.iter().enumerate() {
            content.push(Part::ToolCall {
                id: format!("call_mock_{i}"),
                name: name.clone(),
                arguments: format!("{{\"city\":\"{city}\"}}"),
                signature: None,
                extra: Extra::default(),
            });
        }
        finish = FinishReason::ToolCalls;
    } else if model.contains("noargs") && callable {
        content.push(Part::ToolCall {
            id: "call_mock_0".into(),
            name: called.to_string(),
            arguments: "{}".into(),
            signature: None,
            extra: Extra::default(),
        });
        finish = FinishReason::ToolCalls;
    } else if model.contains("tool") && callable {
        content.push(Part::text("Let me check."));
        content.push(Part::ToolCall {
            id: "call_mock_0".into(),
            name: called.to_string(),
            arguments: if model.contains("richargs") {
                RICH_ARGUMENTS.into()
            } else {
                "{\"city\":\"Paris\"}".into()
            },
            signature: None,
            extra: Extra::default(),
        });
        finish = FinishReason::ToolCalls;
    } else if let Some(text) = media_answer(model, last_user) {
        content.push(Part::text(text));
    } else if model.contains("verbatim") {
        content.push(Part::text(last_user.map(user_text).unwrap_or_default()));
    } else if model.contains("malformed") {
        // Nothing, and Gemini's finish for a call it could not form.
        finish = FinishReason::Other("MALFORMED_FUNCTION_CALL".into());
    } else if model.contains("refusal") {
        content.push(Part::refusal(REFUSAL));
        finish = FinishReason::ContentFilter;
    } else {
        let text = last_user.map(user_text).unwrap_or_default();
        let reply = format!("echo: {text}");
        if model.contains("length") || req.max_tokens.is_some_and(|m| (m as usize) < super::word_count(&reply)) {
            let limit = if model.contains("length") {
                3
            } else {
                req.max_tokens.unwrap_or(3) as usize
            };
            let cut: Vec<&str> = reply.split_whitespace().take(limit).collect();
            content.push(Part::text(cut.join(" ")));
            finish = FinishReason::Length;
        } else if let Some(stop) = req.stop.iter().find(|s| !s.is_empty() && reply.contains(s.as_str())) {
            let i = reply.find(stop.as_str()).unwrap_or(reply.len());
            content.push(Part::text(&reply[..i]));
            finish = FinishReason::StopSequence;
            let output = super::word_count(&reply[..i]) as u64;
            return Ok(done(req, id, content, finish, Some(stop.clone()), output));
        } else {
            if model.contains("reasoning") {
                content.push(Part::Thinking {
                    text: "The user wants an echo.".into(),
                    signature: Some("c2lnLW1vY2s=".into()),
                });
                content.push(Part::RedactedThinking {
                    data: "cmVkYWN0ZWQ=".into(),
                });
            }
            content.push(Part::text(reply));
        }
    }
    let output = content
        .iter()
        .map(|p| match p {
            Part::Text { text, .. } => super::word_count(text) as u64,
            Part::ToolCall { .. } => 5,
            _ => 0,
        })
        .sum();
    let mut resp = done(req, id, content, finish, None, output);
    if model.contains("cached") {
        with_cache_and_reasoning_counts(&mut resp);
    }
    Ok(resp)
}

/// The `cached` scenario's usage: a 30-token prefix read from cache (20) and written to it
/// (10) on top of the prompt, and the thinking's words counted as reasoning within the output,
/// so every format's cache and reasoning fields carry something to compare.
fn with_cache_and_reasoning_counts(resp: &mut ChatResponse) {
    resp.usage.cache_read = 20;
    resp.usage.cache_write = 10;
    resp.usage.input += 30;
    let thinking: u64 = resp
        .content
        .iter()
        .map(|p| match p {
            Part::Thinking { text, .. } => super::word_count(text) as u64,
            _ => 0,
        })
        .sum();
    resp.usage.reasoning = thinking;
    resp.usage.output += thinking;
}

fn done(
    req: &ChatRequest,
    id: &str,
    content: Vec<Part>,
    finish: FinishReason,
    stop_sequence: Option<String>,
    output: u64,
) -> ChatResponse {
    ChatResponse {
        id: id.to_string(),
        model: req.model.clone(),
        finish,
        usage: Usage {
            input: prompt_words(req),
            output,
            ..Usage::default()
        },
        stop_sequence,
        created: super::unix_now(),
        logprobs: req.logprobs.map(|top| logprobs_for(&content, top)).unwrap_or_default(),
        content,
    }
}

/// Made-up log probabilities for the answer's text, as a provider asked for them gives them:
/// one token per word (a leading space belongs to the word, as in BPE vocabularies), so the
/// tokens joined spell the text; `top` alternatives per position, the chosen token first.
fn logprobs_for(content: &[Part], top: u32) -> Vec<crate::canonical::TokenLogprob> {
    let mut out = Vec::new();
    for p in content {
        let Part::Text { text, .. } = p else { continue };
        let mut start = 0;
        let bytes = text.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || (bytes[i] == b' ' && bytes[i - 1] != b' ') {
                let token = &text[start..i];
                let logprob = -0.25 * (out.len() % 4) as f64;
                let top = (0..top.min(20))
                    .map(|k| match k {
                        0 => (token.to_string(), logprob),
                        _ => (format!("{}{k}", token.trim()), logprob - k as f64),
                    })
                    .collect();
                out.push(crate::canonical::TokenLogprob {
                    token: token.to_string(),
                    logprob,
                    top,
                });
                start = i;
            }
        }
    }
    out
}

/// What reached the upstream beyond the canonical core (see the module doc).
fn inspect(req: &ChatRequest) -> String {
    let mut names: Vec<&str> = req.extra.fields.iter().map(|(k, _)| k.as_str()).collect();
    let parts = req
        .system
        .iter()
        .chain(req.messages.iter().flat_map(|m| m.content.iter()));
    for p in parts {
        if let Part::Text { extra, .. } | Part::Image { extra, .. } | Part::Document { extra, .. } = p {
            names.extend(extra.fields.iter().map(|(k, _)| k.as_str()));
        }
    }
    for t in &req.tools {
        names.extend(t.extra.fields.iter().map(|(k, _)| k.as_str()));
    }
    names.sort_unstable();
    names.dedup();
    let format = match &req.response_format {
        None => "none",
        Some(crate::canonical::ResponseFormat::Text) => "text",
        Some(crate::canonical::ResponseFormat::JsonObject) => "json_object",
        Some(crate::canonical::ResponseFormat::JsonSchema { .. }) => "json_schema",
    };
    let mut report = format!("extras: {}; response_format: {format}", names.join(","));
    if let Some(crate::canonical::ResponseFormat::JsonSchema { schema, .. }) = &req.response_format {
        report.push_str("; schema: ");
        report.push_str(&property_order(schema.as_str()).join(","));
    }
    let strict: Vec<&str> = req
        .tools
        .iter()
        .filter(|t| t.strict == Some(true))
        .map(|t| t.name.as_str())
        .collect();
    if !strict.is_empty() {
        report.push_str("; strict: ");
        report.push_str(&strict.join(","));
    }
    if let Some(user) = &req.user {
        report.push_str("; user: ");
        report.push_str(user);
    }
    // The tool choice as it arrived (`unset` when none did) and the tools offered, so a test sees
    // which tools a choice narrowed the request to (`formats::tool_choice`).
    if req.tool_choice.is_some() || !req.tools.is_empty() {
        let choice = match &req.tool_choice {
            None => "unset".to_string(),
            Some(ToolChoice::Auto) => "auto".to_string(),
            Some(ToolChoice::None) => "none".to_string(),
            Some(ToolChoice::Required) => "required".to_string(),
            Some(ToolChoice::Named(n)) => format!("tool {n}"),
            Some(ToolChoice::Allowed { names, required }) => {
                let mode = if *required { "required" } else { "auto" };
                format!("allowed {mode} {}", names.join(","))
            }
        };
        let tools: Vec<&str> = req.tools.iter().map(|t| t.name.as_str()).collect();
        report.push_str(&format!("; tool_choice: {choice}; tools: {}", tools.join(",")));
    }
    report
}

/// The names of a schema's top-level `properties` in the order its text lists them.
fn property_order(schema: &str) -> Vec<String> {
    let Ok(properties) = sonic_rs::get(schema, &["properties"]) else {
        return Vec::new();
    };
    sonic_rs::to_object_iter(properties.as_raw_str())
        .filter_map(|member| member.ok().map(|(name, _)| name.to_string()))
        .collect()
}

/// Words over the system prompt and every text part, as the mock's "token" count.
pub fn prompt_words(req: &ChatRequest) -> u64 {
    let sys: usize = req.system.iter().map(part_words).sum();
    let msgs: usize = req.messages.iter().flat_map(|m| m.content.iter()).map(part_words).sum();
    (sys + msgs) as u64
}

fn part_words(p: &Part) -> usize {
    match p {
        Part::Text { text, .. } => super::word_count(text),
        _ => 0,
    }
}

fn user_text(m: &crate::canonical::Message) -> String {
    let texts: Vec<&str> = m.content.iter().filter_map(Part::as_text).collect();
    texts.join(" ")
}

/// What the `document` and `image` scenarios answer, or None for other models.
fn media_answer(model: &str, last_user: Option<&crate::canonical::Message>) -> Option<String> {
    let (documents, noun) = if model.contains("document") {
        (true, "document")
    } else if model.contains("image") {
        (false, "image")
    } else {
        return None;
    };
    let n = last_user.map_or(0, |m| media_count(m, documents));
    Some(format!("I see {n} {noun}{}", if n == 1 { "" } else { "s" }))
}

/// The documents (or images) of a user turn, its tool results' included: a tool's screenshot
/// arrives inside the result for some formats and in the user message after it for others
/// (OpenAI Chat, Cohere), and the count is the same.
fn media_count(m: &crate::canonical::Message, documents: bool) -> usize {
    let of_result = |c: &ToolResultContent| match c {
        ToolResultContent::Document { .. } => documents,
        ToolResultContent::Image(_) => !documents,
        _ => false,
    };
    m.content
        .iter()
        .map(|p| match p {
            Part::Document { .. } => usize::from(documents),
            Part::Image { .. } => usize::from(!documents),
            Part::ToolResult { content, .. } => content.iter().filter(|c| of_result(c)).count(),
            _ => 0,
        })
        .sum()
}

fn tool_result_text(content: &[ToolResultContent]) -> String {
    content
        .iter()
        .map(|c| match c {
            ToolResultContent::Text(t) => t.clone(),
            // Gemini wraps text results as {"result": "..."}: read them as the text they carry.
            ToolResultContent::Json(j) => match j.get("result").and_then(|r| r.as_str()) {
                Some(t) if j.as_object().is_some_and(|o| o.len() == 1) => t.to_string(),
                _ => sonic_rs::to_string(j).unwrap_or_default(),
            },
            ToolResultContent::Image(_) => "[image]".into(),
            ToolResultContent::Document { name, .. } => format!("[document {}]", name.as_deref().unwrap_or("")),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{ImageSource, Message, Tool};

    fn req(model: &str, text: &str) -> ChatRequest {
        ChatRequest {
            model: model.into(),
            messages: vec![Message {
                role: Role::User,
                content: vec![Part::text(text)],
            }],
            tools: vec![Tool {
                name: "get_weather".into(),
                description: None,
                parameters: sonic_rs::json!({"type": "object"}).into(),
                strict: None,
                extra: Default::default(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn scenarios() {
        let r = respond(&req("m", "hi there"), "id").unwrap();
        assert_eq!(r.content, vec![Part::text("echo: hi there")]);
        assert_eq!(r.usage.input, 2);
        let r = respond(&req("verbatim-model", r#"{"a": 1}"#), "id").unwrap();
        assert_eq!(r.content, vec![Part::text(r#"{"a": 1}"#)]);
        let r = respond(&req("tool-model", "weather?"), "id").unwrap();
        assert_eq!(r.finish, FinishReason::ToolCalls);
        assert!(matches!(&r.content[1], Part::ToolCall { name, .. } if name == "get_weather"));
        let r = respond(&req("parallel", "weather?"), "id").unwrap();
        assert_eq!(r.content.len(), 2);
        // A tool_choice of none lets no tool be called: the model answers in text.
        for model in ["tool-model", "parallel", "noargs"] {
            let mut none = req(model, "weather?");
            none.tool_choice = Some(ToolChoice::None);
            let r = respond(&none, "id").unwrap();
            assert_eq!(
                (r.content, r.finish),
                (vec![Part::text("echo: weather?")], FinishReason::Stop)
            );
        }
        let r = respond(&req("length", "one two three four"), "id").unwrap();
        assert_eq!(
            (r.content[0].clone(), r.finish),
            (Part::text("echo: one two"), FinishReason::Length)
        );
        assert_eq!(respond(&req("x-error-429", "a"), "id").unwrap_err().status, 429);
        let mut stop = req("m", "alpha beta END gamma");
        stop.stop = vec!["END".into()];
        let r = respond(&stop, "id").unwrap();
        assert_eq!(
            (r.content[0].clone(), r.finish),
            (Part::text("echo: alpha beta "), FinishReason::StopSequence)
        );
    }

    #[test]
    fn cached_reports_cache_and_reasoning_tokens() {
        let r = respond(&req("reasoning-cached-model", "hi there"), "id").unwrap();
        let u = r.usage;
        // 2 prompt words + 30 cached; 3 answer words + 5 thinking words.
        assert_eq!(
            (u.input, u.cache_read, u.cache_write, u.output, u.reasoning),
            (32, 20, 10, 8, 5)
        );
        let r = respond(&req("richargs-tool-model", "weather?"), "id").unwrap();
        let Part::ToolCall { arguments, .. } = &r.content[1] else {
            panic!("{:?}", r.content)
        };
        let args: sonic_rs::Value = sonic_rs::from_str(arguments).unwrap();
        assert_eq!(
            args.pointer(&["city"]).and_then(|c| c.as_str()),
            Some("Zürich \"Altstadt\"\n😀")
        );
    }

    #[test]
    fn an_allowed_tools_choice_calls_the_first_allowed_tool() {
        let mut r = req("tool-model", "time?");
        for name in ["get_time", "get_date"] {
            let mut t = r.tools[0].clone();
            t.name = name.into();
            r.tools.push(t);
        }
        r.tool_choice = Some(ToolChoice::Allowed {
            names: vec!["get_date".into(), "get_time".into()],
            required: true,
        });
        let out = respond(&r, "id").unwrap();
        // The first declared of the allowed ones, as where the tools were narrowed to them.
        assert!(
            matches!(&out.content[..], [.., Part::ToolCall { name, .. }] if name == "get_time"),
            "{:?}",
            out.content
        );
    }

    #[test]
    fn inspect_reports_the_tool_choice_and_the_tools_offered() {
        let mut r = req("inspect-model", "hi");
        let mut t = r.tools[0].clone();
        t.name = "get_time".into();
        r.tools.push(t);
        for (choice, report) in [
            (ToolChoice::Required, "required"),
            (ToolChoice::Named("get_time".into()), "tool get_time"),
            (
                ToolChoice::Allowed {
                    names: vec!["get_time".into()],
                    required: false,
                },
                "allowed auto get_time",
            ),
        ] {
            r.tool_choice = Some(choice);
            assert_eq!(
                respond(&r, "id").unwrap().content,
                vec![Part::text(format!(
                    "extras: ; response_format: none; tool_choice: {report}; tools: get_weather,get_time"
                ))]
            );
        }
    }

    #[test]
    fn a_named_tool_choice_is_the_tool_called() {
        for model in ["tool-model", "parallel", "noargs"] {
            let mut r = req(model, "time?");
            let mut second = r.tools[0].clone();
            second.name = "get_time".into();
            r.tools.push(second);
            r.tool_choice = Some(ToolChoice::Named("get_time".into()));
            let out = respond(&r, "id").unwrap();
            let names: Vec<&str> = out
                .content
                .iter()
                .filter_map(|p| match p {
                    Part::ToolCall { name, .. } => Some(name.as_str()),
                    _ => None,
                })
                .collect();
            assert!(
                !names.is_empty() && names.iter().all(|n| *n == "get_time"),
                "{model}: {names:?}"
            );
        }
    }

    #[test]
    fn parallel_calls_turned_off_leave_one_call() {
        let mut r = req("parallel", "weather?");
        r.parallel_tool_calls = Some(false);
        let out = respond(&r, "id").unwrap();
        assert!(matches!(&out.content[..], [Part::ToolCall { arguments, .. }] if arguments.contains("Paris")));
        assert_eq!(out.finish, FinishReason::ToolCalls);
    }

    #[test]
    fn inspect_reports_a_schemas_properties_in_their_order() {
        let mut r = req("inspect-model", "hi");
        r.tools.clear();
        r.response_format = Some(crate::canonical::ResponseFormat::JsonSchema {
            name: "out".into(),
            schema: crate::canonical::Schema::from_checked_text(
                r#"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"properties":{"b":{}}}}}"#,
            ),
            strict: None,
        });
        assert_eq!(
            respond(&r, "id").unwrap().content,
            vec![Part::text("extras: ; response_format: json_schema; schema: zeta,alpha")]
        );
    }

    #[test]
    fn inspect_names_strict_tools() {
        let mut r = req("inspect-model", "hi");
        assert_eq!(
            respond(&r, "id").unwrap().content,
            vec![Part::text(
                "extras: ; response_format: none; tool_choice: unset; tools: get_weather"
            )]
        );
        r.tools[0].strict = Some(true);
        assert_eq!(
            respond(&r, "id").unwrap().content,
            vec![Part::text(
                "extras: ; response_format: none; strict: get_weather; tool_choice: unset; tools: get_weather"
            )]
        );
        r.user = Some("u1".into());
        assert_eq!(
            respond(&r, "id").unwrap().content,
            vec![Part::text(
                "extras: ; response_format: none; strict: get_weather; user: u1; tool_choice: unset; tools: get_weather"
            )]
        );
    }

    #[test]
    fn documents_are_counted() {
        let mut r = req("document-model", "read these");
        let doc = Part::Document {
            source: crate::canonical::DocumentSource::Text("a".into()),
            name: None,
            extra: Default::default(),
        };
        r.messages[0].content.extend([doc.clone(), doc]);
        let out = respond(&r, "id").unwrap();
        assert_eq!(out.content, vec![Part::text("I see 2 documents")]);
    }

    #[test]
    fn images_and_documents_a_tool_returned_are_counted() {
        // A tool's screenshot arrives inside the result (Anthropic, Bedrock, Gemini) or in the
        // user message after it (OpenAI Chat, Cohere): the same count either way.
        let png = || ImageSource::Base64 {
            media_type: "image/png".into(),
            data: "iVBOR".into(),
        };
        let turn = |content: Vec<Part>| {
            let mut r = req("image-model", "shoot");
            r.messages.push(Message {
                role: Role::User,
                content,
            });
            r
        };
        let result = |content| Part::ToolResult {
            id: "call_mock_0".into(),
            name: None,
            content,
            is_error: false,
            extra: Extra::default(),
        };
        let inside = turn(vec![result(vec![
            ToolResultContent::Text("shot".into()),
            ToolResultContent::Image(png()),
        ])]);
        let after = turn(vec![
            result(vec![ToolResultContent::Text("shot".into())]),
            Part::text("Result of tool call call_mock_0:"),
            Part::Image {
                source: png(),
                extra: Extra::default(),
            },
        ]);
        for r in [inside, after] {
            assert_eq!(respond(&r, "id").unwrap().content, vec![Part::text("I see 1 image")]);
        }
        let mut r = turn(vec![result(vec![ToolResultContent::Document {
            source: crate::canonical::DocumentSource::Text("a".into()),
            name: None,
        }])]);
        r.model = "document-model".into();
        assert_eq!(respond(&r, "id").unwrap().content, vec![Part::text("I see 1 document")]);
        r.model = "echo-model".into();
        assert_eq!(
            respond(&r, "id").unwrap().content,
            vec![Part::text("tool said: [document ]")]
        );
    }

    #[test]
    fn tool_result_is_answered() {
        let mut r = req("tool-model", "weather?");
        r.messages.push(Message {
            role: Role::User,
            content: vec![Part::ToolResult {
                id: "call_mock_0".into(),
                name: None,
                content: vec![ToolResultContent::Text("sunny".into())],
                is_error: false,
                extra: Extra::default(),
            }],
        });
        let out = respond(&r, "id").unwrap();
        assert_eq!(out.content, vec![Part::text("tool said: sunny")]);
    }

    #[test]
    fn each_family_signs_with_its_own_token_and_takes_back_only_that() {
        let mut r = req("reasoning-model", "hi");
        let claude = respond_as(&r, "id", Format::Anthropic).unwrap();
        let gemini = respond_as(&r, "id", Format::Gemini).unwrap();
        let Part::Thinking { signature: Some(c), .. } = &claude.content[0] else {
            panic!("{claude:?}")
        };
        let Part::Thinking { signature: Some(g), .. } = &gemini.content[0] else {
            panic!("{gemini:?}")
        };
        assert_eq!(sig::Family::of(c), Some((Family::Claude, MOCK_TOKENS[0].1)));
        assert_eq!(sig::Family::of(g), Some((Family::Gemini, MOCK_TOKENS[1].1)));
        r.messages.push(Message {
            role: Role::Assistant,
            content: claude.content.clone(),
        });
        assert_eq!(foreign_signature(&r, Format::Anthropic), None);
        assert_eq!(foreign_signature(&r, Format::Bedrock), None);
        assert_eq!(foreign_signature(&r, Format::Gemini), Some((1, 0)));
        assert_eq!(foreign_signature(&r, Format::Cohere), None);
        r.messages[1].content = gemini.content.clone();
        assert_eq!(foreign_signature(&r, Format::Gemini), None);
        assert_eq!(foreign_signature(&r, Format::Anthropic), Some((1, 0)));
        // A bare (unmarked) canonical token is no mock's.
        r.messages[1].content[0] = Part::Thinking {
            text: "t".into(),
            signature: Some(MOCK_TOKENS[0].1.into()),
        };
        assert_eq!(foreign_signature(&r, Format::Anthropic), Some((1, 0)));
    }
}
