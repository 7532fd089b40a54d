//! The Converse request and answer bodies written straight into bytes (`formats::write`): the
//! same bytes serde gives for the structs of `types.rs` (members in declared order, unset options
//! skipped, every set member of a union written), without sending each literal key through
//! sonic-rs's string escaper. `tests::writer_matches_serde` holds the two together.

use super::types::*;
use crate::formats::write::{self, array, boolean, next_key as key};

fn blocks(b: &mut Vec<u8>, content: &[BedrockContentBlock<'_>]) {
    array(b, content, |b, block| block.write(b));
}

impl BedrockContentBlock<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        match self {
            BedrockContentBlock::Text(t) => {
                b.extend_from_slice(b"{\"text\":");
                write::string(b, t);
            }
            BedrockContentBlock::Image(i) => {
                b.extend_from_slice(b"{\"image\":{\"format\":");
                write::string(b, i.format);
                b.extend_from_slice(b",\"source\":{\"bytes\":");
                write::string(b, i.source.bytes);
                b.extend_from_slice(b"}}");
            }
            BedrockContentBlock::Document(d) => {
                let mut first_member = false;
                b.extend_from_slice(b"{\"document\":{\"format\":");
                write::string(b, d.format);
                b.extend_from_slice(b",\"name\":");
                write::string(b, &d.name);
                b.extend_from_slice(b",\"source\":{\"bytes\":");
                write::string(b, &d.source.bytes);
                b.push(b'}');
                if let Some(c) = d.context {
                    key(b, &mut first_member, "context");
                    write::value(b, c);
                }
                if let Some(c) = d.citations {
                    key(b, &mut first_member, "citations");
                    write::value(b, c);
                }
                b.push(b'}');
            }
            BedrockContentBlock::ToolUse(u) => {
                b.extend_from_slice(b"{\"toolUse\":{\"toolUseId\":");
                write::string(b, u.tool_use_id);
                b.extend_from_slice(b",\"name\":");
                write::string(b, u.name);
                b.extend_from_slice(b",\"input\":");
                // Validated as an object when the block was made; written as the caller wrote it.
                b.extend_from_slice(u.input.as_raw_str().as_bytes());
                b.push(b'}');
            }
            BedrockContentBlock::ToolResult(r) => {
                b.extend_from_slice(b"{\"toolResult\":{\"toolUseId\":");
                write::string(b, r.tool_use_id);
                b.extend_from_slice(b",\"content\":");
                blocks(b, &r.content);
                b.extend_from_slice(b",\"status\":");
                write::string(b, r.status);
                b.push(b'}');
            }
            BedrockContentBlock::ReasoningContent(r) => {
                b.extend_from_slice(b"{\"reasoningContent\":");
                let mut first_member = true;
                b.push(b'{');
                if let Some(t) = &r.reasoning_text {
                    key(b, &mut first_member, "reasoningText");
                    b.extend_from_slice(b"{\"text\":");
                    write::string(b, t.text);
                    if let Some(s) = t.signature {
                        b.extend_from_slice(b",\"signature\":");
                        write::string(b, s);
                    }
                    b.push(b'}');
                }
                if let Some(d) = r.redacted_content {
                    key(b, &mut first_member, "redactedContent");
                    write::string(b, d);
                }
                b.push(b'}');
            }
            BedrockContentBlock::CachePoint(cp) => {
                b.extend_from_slice(b"{\"cachePoint\":");
                write::value(b, cp);
            }
            BedrockContentBlock::Json(j) => {
                b.extend_from_slice(b"{\"json\":");
                write::value(b, j);
            }
        }
        b.push(b'}');
    }
}

impl BedrockMessage<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"role\":");
        write::string(b, self.role);
        b.extend_from_slice(b",\"content\":");
        blocks(b, &self.content);
        b.push(b'}');
    }
}

impl BedrockTool<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        let mut first = true;
        b.push(b'{');
        if let Some(s) = &self.tool_spec {
            key(b, &mut first, "toolSpec");
            b.extend_from_slice(b"{\"name\":");
            write::string(b, s.name);
            if let Some(d) = s.description {
                b.extend_from_slice(b",\"description\":");
                write::string(b, d);
            }
            b.extend_from_slice(b",\"inputSchema\":{\"json\":");
            write::schema(b, s.input_schema.json);
            b.push(b'}');
            if let Some(strict) = s.strict {
                b.extend_from_slice(b",\"strict\":");
                boolean(b, strict);
            }
            b.push(b'}');
        }
        if let Some(cp) = &self.cache_point {
            key(b, &mut first, "cachePoint");
            write::value(b, cp);
        }
        b.push(b'}');
    }
}

impl BedrockToolChoice<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        let mut first = true;
        b.push(b'{');
        if self.auto.is_some() {
            key(b, &mut first, "auto");
            b.extend_from_slice(b"{}");
        }
        if self.any.is_some() {
            key(b, &mut first, "any");
            b.extend_from_slice(b"{}");
        }
        if let Some(t) = &self.tool {
            key(b, &mut first, "tool");
            b.extend_from_slice(b"{\"name\":");
            write::string(b, t.name);
            b.push(b'}');
        }
        b.push(b'}');
    }
}

impl BedrockConverseRequest<'_> {
    /// The body, appended to `b`.
    pub fn write(&self, b: &mut Vec<u8>) {
        let mut first = false;
        b.extend_from_slice(b"{\"messages\":");
        array(b, &self.messages, |b, m| m.write(b));
        if !self.system.is_empty() {
            key(b, &mut first, "system");
            blocks(b, &self.system);
        }
        if let Some(c) = &self.inference_config {
            key(b, &mut first, "inferenceConfig");
            let mut first_member = true;
            b.push(b'{');
            if let Some(n) = c.max_tokens {
                key(b, &mut first_member, "maxTokens");
                write::uint(b, u64::from(n));
            }
            if let Some(t) = c.temperature {
                key(b, &mut first_member, "temperature");
                write::float(b, t);
            }
            if let Some(p) = c.top_p {
                key(b, &mut first_member, "topP");
                write::float(b, p);
            }
            if !c.stop_sequences.is_empty() {
                key(b, &mut first_member, "stopSequences");
                array(b, c.stop_sequences, |b, s| write::string(b, s));
            }
            b.push(b'}');
        }
        if let Some(c) = &self.tool_config {
            key(b, &mut first, "toolConfig");
            b.extend_from_slice(b"{\"tools\":");
            array(b, &c.tools, |b, t| t.write(b));
            if let Some(choice) = &c.tool_choice {
                b.extend_from_slice(b",\"toolChoice\":");
                choice.write(b);
            }
            b.push(b'}');
        }
        if let Some(f) = &self.additional_model_request_fields {
            key(b, &mut first, "additionalModelRequestFields");
            write::value(b, f);
        }
        if let Some(c) = &self.output_config {
            key(b, &mut first, "outputConfig");
            write::value(b, c);
        }
        b.push(b'}');
    }
}

impl BedrockUsage {
    pub(super) fn write(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"inputTokens\":");
        write::uint(b, self.input_tokens);
        b.extend_from_slice(b",\"outputTokens\":");
        write::uint(b, self.output_tokens);
        b.extend_from_slice(b",\"totalTokens\":");
        write::uint(b, self.total_tokens);
        if let Some(n) = self.cache_read_input_tokens {
            b.extend_from_slice(b",\"cacheReadInputTokens\":");
            write::uint(b, n);
        }
        if let Some(n) = self.cache_write_input_tokens {
            b.extend_from_slice(b",\"cacheWriteInputTokens\":");
            write::uint(b, n);
        }
        b.push(b'}');
    }
}

impl BedrockConverseResponse<'_> {
    /// The body, appended to `b`.
    pub fn write(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"output\":{\"message\":");
        self.output.message.write(b);
        b.extend_from_slice(b"},\"stopReason\":");
        write::string(b, self.stop_reason);
        b.extend_from_slice(b",\"usage\":");
        self.usage.write(b);
        b.extend_from_slice(b",\"metrics\":{\"latencyMs\":");
        write::uint(b, self.metrics.latency_ms);
        b.push(b'}');
        if let Some(f) = &self.additional_model_response_fields {
            b.extend_from_slice(b",\"additionalModelResponseFields\":");
            write::value(b, f);
        }
        b.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use crate::canonical::{ChatRequest, ChatResponse, DocumentSource, Extra, FinishReason, ImageSource, Part, Usage};

    /// The writer's bytes and serde's for the same request: equal, or both an error; whether
    /// they were bytes.
    fn check(req: &ChatRequest, what: &str) -> bool {
        // A Claude model and another vendor's (which gets no Claude fields).
        let mut encoded = true;
        for model in ["anthropic.claude-x", "amazon.nova-x"] {
            let req = ChatRequest {
                model: model.into(),
                ..req.clone()
            };
            let written = super::super::encode_request(&req);
            let serialized = super::super::encode_request_with(&req, |body, _| sonic_rs::to_vec(body).unwrap());
            encoded &= crate::formats::write::same_request_bytes(written, serialized, &format!("{what} ({model})"));
        }
        encoded
    }

    /// The same for an answer.
    fn check_response(resp: &ChatResponse, what: &str) {
        let written = super::super::encode_response_timed(resp, 42);
        let serialized = super::super::encode_response_with(resp, 42, |body, _| sonic_rs::to_vec(body).unwrap());
        crate::formats::write::same_bytes(&written, &serialized, what);
    }

    /// Every fixture file read as a request and as an answer by every decoder that takes it.
    #[test]
    fn writer_matches_serde_on_every_fixture() {
        crate::formats::write::for_each_fixture_decoded("anthropic.claude-x", &mut check, &mut check_response);
    }

    /// Each block kind and each optional field (`formats::write::request_variants`), without
    /// the image and document URLs Converse cannot take: each one encoded, none refused.
    #[test]
    fn writer_matches_serde_on_every_block_and_field() {
        for (what, req) in crate::formats::write::request_variants() {
            let req = crate::formats::write::without_parts(req, |p| {
                matches!(
                    p,
                    Part::Image {
                        source: ImageSource::Url(_),
                        ..
                    } | Part::Document {
                        source: DocumentSource::Url(_),
                        ..
                    }
                )
            });
            assert!(check(&req, what), "{what} was refused");
        }
    }

    /// Every part an answer holds (an image URL becomes a text note), a matched stop sequence
    /// and cache usage.
    #[test]
    fn writer_matches_serde_on_every_answer_part() {
        let resp = ChatResponse {
            id: "msg_1".into(),
            model: "anthropic.claude-x".into(),
            content: vec![
                Part::Thinking {
                    text: "hmm \"q\"".into(),
                    signature: Some("sig".into()),
                },
                Part::Thinking {
                    text: "unsigned".into(),
                    signature: None,
                },
                Part::RedactedThinking { data: "xyz".into() },
                Part::text("ü 😀\n"),
                Part::Image {
                    source: ImageSource::Url("https://example.com/a.png".into()),
                    extra: Extra::default(),
                },
                Part::ToolCall {
                    id: "tooluse_1".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city": "Z\u00fcrich"}"#.into(),
                    signature: None,
                    extra: Extra::default(),
                },
            ],
            finish: FinishReason::StopSequence,
            usage: Usage {
                input: 10,
                output: 5,
                cache_read: 3,
                cache_write: 1,
                reasoning: 2,
            },
            stop_sequence: Some("END".into()),
            created: 1_700_000_000,
            logprobs: Vec::new(),
        };
        check_response(&resp, "the full answer");
        let plain = ChatResponse {
            content: vec![Part::text("hi")],
            finish: FinishReason::Other("weird".into()),
            usage: Usage::default(),
            stop_sequence: None,
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
