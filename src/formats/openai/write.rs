//! The chat request and the `chat.completion` answer written straight into bytes
//! (`formats::write`), as serde gives them for `types::OpenAiChatRequest` and
//! `types::OpenAiCompletionOut` (fields in declared order, skipped or `null` as each field says,
//! flattened extras last), with the literal keys as bytes instead of through sonic-rs's string
//! escaper. `tests::writer_matches_serde` holds the two together.

use super::types::*;
use crate::formats::write::{self, boolean, next_key as key, sep};

impl OpenAiToolCall<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"id\":");
        write::string(b, self.id);
        b.extend_from_slice(b",\"type\":");
        write::string(b, self.kind);
        b.extend_from_slice(b",\"function\":{\"name\":");
        write::string(b, self.function.name);
        b.extend_from_slice(b",\"arguments\":");
        write::string(b, self.function.arguments);
        b.extend_from_slice(b"}}");
    }
}

impl OpenAiUsage {
    fn write(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"prompt_tokens\":");
        write::uint(b, self.prompt_tokens);
        b.extend_from_slice(b",\"completion_tokens\":");
        write::uint(b, self.completion_tokens);
        b.extend_from_slice(b",\"total_tokens\":");
        write::uint(b, self.total_tokens);
        if let Some(d) = &self.prompt_tokens_details {
            b.extend_from_slice(b",\"prompt_tokens_details\":{\"cached_tokens\":");
            write::uint(b, d.cached_tokens);
            b.extend_from_slice(b",\"audio_tokens\":");
            write::uint(b, d.audio_tokens);
            b.push(b'}');
        }
        if let Some(d) = &self.completion_tokens_details {
            b.extend_from_slice(b",\"completion_tokens_details\":{\"reasoning_tokens\":");
            write::uint(b, d.reasoning_tokens);
            b.extend_from_slice(b",\"audio_tokens\":");
            write::uint(b, d.audio_tokens);
            b.extend_from_slice(b",\"accepted_prediction_tokens\":");
            write::uint(b, d.accepted_prediction_tokens);
            b.extend_from_slice(b",\"rejected_prediction_tokens\":");
            write::uint(b, d.rejected_prediction_tokens);
            b.push(b'}');
        }
        b.push(b'}');
    }
}

impl OpenAiCompletionOut<'_> {
    /// The body, appended to `b`.
    pub fn write(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"id\":");
        write::string(b, self.id);
        b.extend_from_slice(b",\"object\":");
        write::string(b, self.object);
        b.extend_from_slice(b",\"created\":");
        write::uint(b, self.created);
        b.extend_from_slice(b",\"model\":");
        write::string(b, self.model);
        b.extend_from_slice(b",\"choices\":[");
        for (i, c) in self.choices.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            b.extend_from_slice(b"{\"index\":");
            write::uint(b, u64::from(c.index));
            let m = &c.message;
            b.extend_from_slice(b",\"message\":{\"role\":");
            write::string(b, m.role);
            b.extend_from_slice(b",\"content\":");
            write::nullable(b, m.content.as_deref());
            if !m.tool_calls.is_empty() {
                b.extend_from_slice(b",\"tool_calls\":");
                write::array(b, &m.tool_calls, |b, call| call.write(b));
            }
            b.extend_from_slice(b",\"refusal\":");
            write::nullable(b, m.refusal.as_deref());
            b.extend_from_slice(b",\"annotations\":[]},\"logprobs\":");
            match &c.logprobs {
                // Rare (asked for by the client) and shaped by its own `Serialize`.
                Some(l) => {
                    let _ = sonic_rs::to_writer(&mut *b, l);
                }
                None => b.extend_from_slice(b"null"),
            }
            b.extend_from_slice(b",\"finish_reason\":");
            write::string(b, c.finish_reason);
            b.push(b'}');
        }
        b.extend_from_slice(b"],\"usage\":");
        self.usage.write(b);
        b.push(b'}');
    }
}

impl OpenAiExtra<'_> {
    /// The extras as members of the object being written (after its own fields, as serde's
    /// `flatten` puts them), minus the names it already wrote.
    fn write_members(&self, b: &mut Vec<u8>, first: &mut bool) {
        for (k, v) in self.fields {
            if !self.skip.contains(&k.as_str()) {
                sep(b, first);
                write::string(b, k);
                b.push(b':');
                write::value(b, v);
            }
        }
    }
}

impl OpenAiPart<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        let mut first = false;
        match self {
            OpenAiPart::Text { text } => {
                b.extend_from_slice(b"{\"type\":\"text\",\"text\":");
                write::string(b, text);
            }
            OpenAiPart::ImageUrl { image_url } => {
                b.extend_from_slice(b"{\"type\":\"image_url\",\"image_url\":{\"url\":");
                write::string(b, &image_url.url);
                if let Some(d) = image_url.detail {
                    key(b, &mut first, "detail");
                    write::value(b, d);
                }
                image_url.extra.write_members(b, &mut first);
                b.push(b'}');
            }
            OpenAiPart::File { file } => {
                b.extend_from_slice(b"{\"type\":\"file\",\"file\":{\"file_data\":");
                write::string(b, &file.file_data);
                b.extend_from_slice(b",\"filename\":");
                write::string(b, file.filename);
                file.extra.write_members(b, &mut first);
                b.push(b'}');
            }
        }
        b.push(b'}');
    }
}

impl OpenAiContent<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        match self {
            OpenAiContent::Null => b.extend_from_slice(b"null"),
            OpenAiContent::Text(t) => write::string(b, t),
            OpenAiContent::Parts(parts) => write::array(b, parts, |b, p| p.write(b)),
        }
    }
}

impl OpenAiMessageOut<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"role\":");
        write::string(b, self.role);
        b.extend_from_slice(b",\"content\":");
        self.content.write(b);
        if let Some(r) = &self.refusal {
            b.extend_from_slice(b",\"refusal\":");
            write::string(b, r);
        }
        if !self.tool_calls.is_empty() {
            b.extend_from_slice(b",\"tool_calls\":");
            write::array(b, &self.tool_calls, |b, call| call.write(b));
        }
        if let Some(id) = self.tool_call_id {
            b.extend_from_slice(b",\"tool_call_id\":");
            write::string(b, id);
        }
        b.push(b'}');
    }
}

impl OpenAiFunctionName<'_> {
    /// `"type":<kind>,"function":{"name":...}}`, closing the object its caller opened.
    fn write_tagged(&self, b: &mut Vec<u8>, kind: &str) {
        b.extend_from_slice(b"{\"type\":");
        write::string(b, kind);
        b.extend_from_slice(b",\"function\":{\"name\":");
        write::string(b, self.name);
        b.extend_from_slice(b"}}");
    }
}

impl OpenAiToolChoice<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        match self {
            OpenAiToolChoice::Mode(m) => write::string(b, m),
            OpenAiToolChoice::Named { kind, function } => function.write_tagged(b, kind),
            OpenAiToolChoice::Allowed { kind, allowed_tools } => {
                b.extend_from_slice(b"{\"type\":");
                write::string(b, kind);
                b.extend_from_slice(b",\"allowed_tools\":{\"mode\":");
                write::string(b, allowed_tools.mode);
                b.extend_from_slice(b",\"tools\":");
                write::array(b, &allowed_tools.tools, |b, t| t.function.write_tagged(b, t.kind));
                b.extend_from_slice(b"}}");
            }
        }
    }
}

impl OpenAiTool<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        let f = &self.function;
        let mut first = false;
        b.extend_from_slice(b"{\"type\":");
        write::string(b, self.kind);
        b.extend_from_slice(b",\"function\":{\"name\":");
        write::string(b, f.name);
        if let Some(d) = f.description {
            key(b, &mut first, "description");
            write::string(b, d);
        }
        key(b, &mut first, "parameters");
        write::schema(b, f.parameters);
        if let Some(s) = f.strict {
            key(b, &mut first, "strict");
            boolean(b, s);
        }
        f.extra.write_members(b, &mut first);
        b.extend_from_slice(b"}}");
    }
}

impl OpenAiResponseFormat<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        match self {
            OpenAiResponseFormat::Text => b.extend_from_slice(b"{\"type\":\"text\"}"),
            OpenAiResponseFormat::JsonObject => b.extend_from_slice(b"{\"type\":\"json_object\"}"),
            OpenAiResponseFormat::JsonSchema { json_schema } => {
                b.extend_from_slice(b"{\"type\":\"json_schema\",\"json_schema\":{\"name\":");
                write::string(b, json_schema.name);
                b.extend_from_slice(b",\"schema\":");
                write::schema(b, json_schema.schema);
                if let Some(s) = json_schema.strict {
                    b.extend_from_slice(b",\"strict\":");
                    boolean(b, s);
                }
                b.extend_from_slice(b"}}");
            }
        }
    }
}

impl OpenAiChatRequest<'_> {
    /// The body, appended to `b`.
    pub fn write(&self, b: &mut Vec<u8>) {
        let mut first = false;
        b.extend_from_slice(b"{\"model\":");
        write::string(b, self.model);
        key(b, &mut first, "messages");
        write::array(b, &self.messages, |b, m| m.write(b));
        if let Some(l) = self.logprobs {
            key(b, &mut first, "logprobs");
            boolean(b, l);
        }
        if let Some(n) = self.max_completion_tokens {
            key(b, &mut first, "max_completion_tokens");
            write::uint(b, u64::from(n));
        }
        if let Some(n) = self.max_tokens {
            key(b, &mut first, "max_tokens");
            write::uint(b, u64::from(n));
        }
        if let Some(p) = self.parallel_tool_calls {
            key(b, &mut first, "parallel_tool_calls");
            boolean(b, p);
        }
        if let Some(e) = self.reasoning_effort {
            key(b, &mut first, "reasoning_effort");
            write::string(b, e);
        }
        if let Some(f) = &self.response_format {
            key(b, &mut first, "response_format");
            f.write(b);
        }
        if let Some(s) = self.seed {
            key(b, &mut first, "seed");
            write::int(b, s);
        }
        if let Some(p) = self.frequency_penalty {
            key(b, &mut first, "frequency_penalty");
            write::float(b, p);
        }
        if let Some(p) = self.presence_penalty {
            key(b, &mut first, "presence_penalty");
            write::float(b, p);
        }
        if !self.stop.is_empty() {
            key(b, &mut first, "stop");
            write::array(b, self.stop, |b, s| write::string(b, s));
        }
        if self.stream {
            key(b, &mut first, "stream");
            b.extend_from_slice(b"true");
        }
        if let Some(o) = self.stream_options {
            key(b, &mut first, "stream_options");
            b.extend_from_slice(b"{\"include_usage\":");
            boolean(b, o.include_usage);
            b.push(b'}');
        }
        if let Some(t) = self.temperature {
            key(b, &mut first, "temperature");
            write::float(b, t);
        }
        if let Some(c) = &self.tool_choice {
            key(b, &mut first, "tool_choice");
            c.write(b);
        }
        if !self.tools.is_empty() {
            key(b, &mut first, "tools");
            write::array(b, &self.tools, |b, t| t.write(b));
        }
        if let Some(n) = self.top_logprobs {
            key(b, &mut first, "top_logprobs");
            write::uint(b, u64::from(n));
        }
        if let Some(p) = self.top_p {
            key(b, &mut first, "top_p");
            write::float(b, p);
        }
        if let Some(u) = self.user {
            key(b, &mut first, "user");
            write::string(b, u);
        }
        self.extra.write_members(b, &mut first);
        b.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use crate::canonical::{
        ChatRequest, ChatResponse, DocumentSource, Extra, FinishReason, ImageSource, Json, Part, TokenLogprob, Usage,
    };
    use crate::formats::Format;

    fn check(resp: &ChatResponse, what: &str) {
        let written = super::super::response::encode_response(resp);
        let serialized = super::super::response::encode_response_with(resp, |body, _| sonic_rs::to_vec(body).unwrap());
        crate::formats::write::same_bytes(&written, &serialized, what);
    }

    /// The writer's bytes and serde's for the same request: equal, or both an error; whether
    /// they were bytes.
    fn check_request(req: &ChatRequest, what: &str) -> bool {
        // A chat model and a reasoning model (`max_completion_tokens`).
        let mut encoded = true;
        for model in ["gpt-x", "o3"] {
            let req = ChatRequest {
                model: model.into(),
                ..req.clone()
            };
            let written = super::super::request::encode_request(&req);
            let serialized =
                super::super::request::encode_request_with(&req, |body, _| sonic_rs::to_vec(body).unwrap());
            encoded &= crate::formats::write::same_request_bytes(written, serialized, &format!("{what} ({model})"));
        }
        encoded
    }

    /// Every fixture file read as a request and as an answer by every decoder that takes it.
    #[test]
    fn writer_matches_serde_on_every_fixture() {
        crate::formats::write::for_each_fixture_decoded("gpt-x", &mut check_request, &mut check);
    }

    /// Each part kind and each optional field (`formats::write::request_variants`), without the
    /// text and URL documents OpenAI Chat cannot take, and with logprobs, penalties, a seed and
    /// a text format: each one encoded, none refused.
    #[test]
    fn request_writer_matches_serde_on_every_part_and_field() {
        for (what, req) in crate::formats::write::request_variants() {
            let req = crate::formats::write::without_parts(req, |p| {
                matches!(
                    p,
                    Part::Document {
                        source: DocumentSource::Text(_) | DocumentSource::Url(_),
                        ..
                    }
                )
            });
            assert!(check_request(&req, what), "{what} was refused");
            let more = ChatRequest {
                logprobs: Some(3),
                frequency_penalty: Some(0.5),
                presence_penalty: Some(-0.25),
                seed: Some(-7),
                response_format: Some(crate::canonical::ResponseFormat::Text),
                ..req
            };
            assert!(check_request(&more, &format!("{what}, with logprobs and penalties")));
        }
        // An OpenAI client's own extras: top level (one a typed key, which is skipped), on a
        // tool, and an image's `detail` with another hint.
        let openai = |pairs: &[(&str, Json)]| {
            let mut e = Extra::new(Format::OpenAi);
            for (k, v) in pairs {
                e.push(*k, v.clone());
            }
            e
        };
        let mut req = ChatRequest {
            extra: openai(&[
                ("service_tier", Json::from("flex")),
                ("model", Json::from("dup")),
                ("metadata", sonic_rs::json!({"a": "b"})),
            ]),
            ..crate::formats::write::without_parts(crate::formats::write::request_variants().remove(0).1, |p| {
                matches!(p, Part::Document { .. })
            })
        };
        req.tools[0].extra = openai(&[("x-hint", Json::from(1))]);
        req.messages[0].content.push(Part::Image {
            source: ImageSource::Url("https://example.com/b.png".into()),
            extra: openai(&[("detail", Json::from("low")), ("x-\"odd\"", Json::from(true))]),
        });
        assert!(check_request(&req, "OpenAI extras"));
    }

    /// The whole translate fuzz corpus (`formats::write::for_each_corpus_request`).
    #[test]
    #[ignore]
    fn writer_matches_serde_on_the_fuzz_corpus() {
        crate::formats::write::for_each_corpus_request(&mut check_request);
    }

    /// Texts joined, refusals, calls, logprobs, cached and reasoning tokens, and no text at all.
    #[test]
    fn writer_matches_serde_on_every_field() {
        let call = |id: &str| Part::ToolCall {
            id: id.into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Z\u00fcrich \"x\""}"#.into(),
            signature: None,
            extra: Extra::default(),
        };
        let resp = ChatResponse {
            id: "chatcmpl-1".into(),
            model: "gpt-x".into(),
            content: vec![
                Part::text("a \"quoted\"\n"),
                Part::text("ü 😀"),
                Part::refusal("no"),
                Part::refusal(" thanks"),
                call("call_1"),
                call("call_2"),
            ],
            finish: FinishReason::ContentFilter,
            usage: Usage {
                input: 10,
                output: 5,
                cache_read: 3,
                cache_write: 1,
                reasoning: 2,
            },
            stop_sequence: None,
            created: 1_700_000_000,
            logprobs: vec![TokenLogprob {
                token: "a".into(),
                logprob: -0.25,
                top: vec![("a".into(), -0.25), ("b".into(), -1.5)],
            }],
        };
        check(&resp, "the full answer");
        let calls_only = ChatResponse {
            content: vec![call("call_3")],
            finish: FinishReason::ToolCalls,
            logprobs: Vec::new(),
            usage: Usage::default(),
            ..resp.clone()
        };
        check(&calls_only, "calls alone");
        let empty = ChatResponse {
            content: Vec::new(),
            finish: FinishReason::Other("weird".into()),
            ..calls_only.clone()
        };
        check(&empty, "no content");
    }
}
