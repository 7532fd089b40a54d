//! The `/v2/chat` request and answer bodies written straight into bytes (`formats::write`): the
//! same bytes serde gives for the structs of `types.rs` (members in declared order, unset options
//! and empty lists skipped, flattened extras in place, before `stream`), without sending each
//! literal key through sonic-rs's string escaper. `tests::writer_matches_serde` holds the two
//! together.

use super::types::*;
use crate::formats::write::{self, boolean, next_key as key, sep};

impl CohereItemOut<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        match self {
            CohereItemOut::Text { text } => {
                b.extend_from_slice(b"{\"type\":\"text\",\"text\":");
                write::string(b, text);
            }
            CohereItemOut::Thinking { thinking } => {
                b.extend_from_slice(b"{\"type\":\"thinking\",\"thinking\":");
                write::string(b, thinking);
            }
            CohereItemOut::ImageUrl { image_url } => {
                b.extend_from_slice(b"{\"type\":\"image_url\",\"image_url\":{\"url\":");
                write::string(b, &image_url.url);
                if let Some(d) = image_url.detail {
                    b.extend_from_slice(b",\"detail\":");
                    write::value(b, d);
                }
                b.push(b'}');
            }
            CohereItemOut::Document { document } => {
                b.extend_from_slice(b"{\"type\":\"document\",\"document\":{\"data\":");
                write::value(b, document.data);
                b.push(b'}');
            }
        }
        b.push(b'}');
    }
}

fn items(b: &mut Vec<u8>, items: &[CohereItemOut<'_>]) {
    write::array(b, items, |b, i| i.write(b));
}

fn tool_calls(b: &mut Vec<u8>, calls: &[CohereToolCallOut<'_>]) {
    write::array(b, calls, |b, c| {
        b.extend_from_slice(b"{\"id\":");
        write::string(b, c.id);
        b.extend_from_slice(b",\"type\":");
        write::string(b, c.kind);
        b.extend_from_slice(b",\"function\":{\"name\":");
        write::string(b, c.function.name);
        b.extend_from_slice(b",\"arguments\":");
        write::string(b, c.function.arguments);
        b.extend_from_slice(b"}}");
    });
}

impl CohereMessageOut<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"role\":");
        write::string(b, self.role);
        if let Some(id) = self.tool_call_id {
            b.extend_from_slice(b",\"tool_call_id\":");
            write::string(b, id);
        }
        if let Some(p) = &self.tool_plan {
            b.extend_from_slice(b",\"tool_plan\":");
            write::string(b, p);
        }
        if !self.tool_calls.is_empty() {
            b.extend_from_slice(b",\"tool_calls\":");
            tool_calls(b, &self.tool_calls);
        }
        if let Some(c) = &self.content {
            b.extend_from_slice(b",\"content\":");
            match c {
                CohereContentOut::Text(t) => write::string(b, t),
                CohereContentOut::Items(list) => items(b, list),
            }
        }
        b.push(b'}');
    }
}

impl CohereToolOut<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        let f = &self.function;
        b.extend_from_slice(b"{\"type\":");
        write::string(b, self.kind);
        b.extend_from_slice(b",\"function\":{\"name\":");
        write::string(b, f.name);
        if let Some(d) = f.description {
            b.extend_from_slice(b",\"description\":");
            write::string(b, d);
        }
        b.extend_from_slice(b",\"parameters\":");
        write::schema(b, f.parameters);
        b.extend_from_slice(b"}}");
    }
}

impl CohereChatRequestOut<'_> {
    /// The body, appended to `b`.
    pub fn write(&self, b: &mut Vec<u8>) {
        let mut first = false;
        b.extend_from_slice(b"{\"model\":");
        write::string(b, self.model);
        key(b, &mut first, "messages");
        write::array(b, &self.messages, |b, m| m.write(b));
        if !self.tools.is_empty() {
            key(b, &mut first, "tools");
            write::array(b, &self.tools, |b, t| t.write(b));
        }
        if let Some(s) = self.strict_tools {
            key(b, &mut first, "strict_tools");
            boolean(b, s);
        }
        if let Some(f) = &self.response_format {
            key(b, &mut first, "response_format");
            b.extend_from_slice(b"{\"type\":");
            write::string(b, f.kind);
            if let Some(s) = f.json_schema {
                b.extend_from_slice(b",\"json_schema\":");
                write::schema(b, s);
            }
            b.push(b'}');
        }
        if let Some(n) = self.max_tokens {
            key(b, &mut first, "max_tokens");
            write::uint(b, u64::from(n));
        }
        if !self.stop_sequences.is_empty() {
            key(b, &mut first, "stop_sequences");
            write::array(b, self.stop_sequences, |b, s| write::string(b, s));
        }
        if let Some(t) = self.temperature {
            key(b, &mut first, "temperature");
            write::float(b, t);
        }
        if let Some(s) = self.seed {
            key(b, &mut first, "seed");
            write::int(b, s);
        }
        for (name, v) in [
            ("frequency_penalty", self.frequency_penalty),
            ("presence_penalty", self.presence_penalty),
        ] {
            if let Some(v) = v {
                key(b, &mut first, name);
                write::float(b, v);
            }
        }
        if let Some(k) = self.k {
            key(b, &mut first, "k");
            write::uint(b, u64::from(k));
        }
        if let Some(p) = self.p {
            key(b, &mut first, "p");
            write::float(b, p);
        }
        if let Some(c) = self.tool_choice {
            key(b, &mut first, "tool_choice");
            write::string(b, c);
        }
        if let Some(t) = &self.thinking {
            key(b, &mut first, "thinking");
            b.extend_from_slice(b"{\"type\":");
            write::string(b, t.kind);
            if let Some(n) = t.token_budget {
                b.extend_from_slice(b",\"token_budget\":");
                write::uint(b, u64::from(n));
            }
            b.push(b'}');
        }
        for (k, v) in self.extra.0.iter().copied() {
            sep(b, &mut first);
            write::string(b, k);
            b.push(b':');
            write::value(b, v);
        }
        key(b, &mut first, "stream");
        boolean(b, self.stream);
        b.push(b'}');
    }
}

impl CohereUsageOut {
    /// `{"billed_units":{...},"tokens":{...}[,"cached_tokens":n]}`, appended to `b`.
    pub(crate) fn write(&self, b: &mut Vec<u8>) {
        for (head, t) in [
            (&b"{\"billed_units\":"[..], self.billed_units),
            (b",\"tokens\":", self.tokens),
        ] {
            b.extend_from_slice(head);
            b.extend_from_slice(b"{\"input_tokens\":");
            write::uint(b, t.input_tokens);
            b.extend_from_slice(b",\"output_tokens\":");
            write::uint(b, t.output_tokens);
            b.push(b'}');
        }
        if let Some(n) = self.cached_tokens {
            b.extend_from_slice(b",\"cached_tokens\":");
            write::uint(b, n);
        }
        b.push(b'}');
    }
}

impl CohereChatResponseOut<'_> {
    /// The body, appended to `b`.
    pub fn write(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"id\":");
        write::string(b, self.id);
        b.extend_from_slice(b",\"finish_reason\":");
        write::string(b, self.finish_reason);
        let m = &self.message;
        b.extend_from_slice(b",\"message\":{\"role\":");
        write::string(b, m.role);
        if let Some(p) = &m.tool_plan {
            b.extend_from_slice(b",\"tool_plan\":");
            write::string(b, p);
        }
        if !m.tool_calls.is_empty() {
            b.extend_from_slice(b",\"tool_calls\":");
            tool_calls(b, &m.tool_calls);
        }
        if !m.content.is_empty() {
            b.extend_from_slice(b",\"content\":");
            items(b, &m.content);
        }
        b.extend_from_slice(b"},\"usage\":");
        self.usage.write(b);
        b.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use crate::canonical::{ChatRequest, ChatResponse, Extra, FinishReason, Json, Part, Reasoning, Usage};
    use crate::formats::Format;

    /// The writer's bytes and serde's for the same request: equal, or both an error; whether
    /// they were bytes.
    fn check(req: &ChatRequest, what: &str) -> bool {
        let written = super::super::request::encode_request(req);
        let serialized = super::super::request::encode_request_with(req, |body, _| sonic_rs::to_vec(body).unwrap());
        crate::formats::write::same_request_bytes(written, serialized, what)
    }

    fn check_response(resp: &ChatResponse, what: &str) {
        let written = super::super::response::encode_response(resp);
        let serialized = super::super::response::encode_response_with(resp, |body, _| sonic_rs::to_vec(body).unwrap());
        crate::formats::write::same_bytes(&written, &serialized, what);
    }

    /// Every fixture file read as a request and as an answer by every decoder that takes it.
    #[test]
    fn writer_matches_serde_on_every_fixture() {
        crate::formats::write::for_each_fixture_decoded("command-x", &mut check, &mut check_response);
    }

    /// Each part kind and each optional field (`formats::write::request_variants`), without the
    /// documents Cohere's messages cannot carry, plus penalties, a seed, a disabled and an effort-only
    /// thinking and a Cohere client's own extras: each one encoded, none refused.
    #[test]
    fn writer_matches_serde_on_every_item_and_field() {
        for (what, req) in crate::formats::write::request_variants() {
            let req = crate::formats::write::without_parts(req, |p| matches!(p, Part::Document { .. }));
            assert!(check(&req, what), "{what} was refused");
            let mut cohere = Extra::new(Format::Cohere);
            cohere.push("safety_mode", Json::from("OFF"));
            cohere.push("x-\"odd\"", sonic_rs::json!({"a": [1, 2.5]}));
            let more = ChatRequest {
                frequency_penalty: Some(0.5),
                presence_penalty: Some(0.25),
                seed: Some(-7),
                extra: cohere,
                ..req.clone()
            };
            assert!(check(&more, &format!("{what}, with penalties and extras")));
            for (budget, effort) in [(Some(0), None), (None, Some("high"))] {
                let thinking = ChatRequest {
                    reasoning: Some(Reasoning {
                        budget_tokens: budget,
                        effort: effort.map(str::to_string),
                    }),
                    ..req.clone()
                };
                assert!(check(&thinking, &format!("{what}, thinking {budget:?} {effort:?}")));
            }
        }
    }

    /// An answer with a plan, calls, thinking and cached tokens, and one of text alone.
    #[test]
    fn writer_matches_serde_on_every_answer_part() {
        let call = |id: &str, arguments: &str| Part::ToolCall {
            id: id.into(),
            name: "get_weather".into(),
            arguments: arguments.into(),
            signature: None,
            extra: Extra::default(),
        };
        let resp = ChatResponse {
            id: "c-1".into(),
            model: "command-x".into(),
            content: vec![
                Part::Thinking {
                    text: "hmm \"q\"".into(),
                    signature: None,
                },
                Part::text("I will call ü 😀\n"),
                call("call_1", r#"{"city":"Z\u00fcrich"}"#),
                call("call_2", " "),
            ],
            finish: FinishReason::ToolCalls,
            usage: Usage {
                input: 10,
                output: 5,
                cache_read: 3,
                cache_write: 1,
                reasoning: 2,
            },
            stop_sequence: None,
            created: 0,
            logprobs: Vec::new(),
        };
        check_response(&resp, "the full answer");
        let plain = ChatResponse {
            content: vec![Part::text("hi"), Part::text(" there")],
            finish: FinishReason::Length,
            usage: Usage::default(),
            ..resp
        };
        check_response(&plain, "a plain answer");
    }

    /// The whole translate fuzz corpus (`formats::write::for_each_corpus_request`).
    #[test]
    #[ignore]
    fn writer_matches_serde_on_the_fuzz_corpus() {
        crate::formats::write::for_each_corpus_request(&mut check);
    }
}
