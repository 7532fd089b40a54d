//! The Anthropic request and answer bodies written straight into bytes (`formats::write`): the
//! same bytes serde gives for the structs of `types.rs` (keys in declared order, the `type` tag
//! first, flattened extras last, skipped fields skipped), without sending each literal key
//! through sonic-rs's string escaper. `tests::writer_matches_serde` holds the two together.

use super::types::*;
use crate::formats::write::{self, boolean, next_key as key, sep};

impl RawFields<'_> {
    /// The extras as members of the object being written (after its own fields, as serde's
    /// `flatten` puts them).
    pub(super) fn write_members(&self, b: &mut Vec<u8>, first: &mut bool) {
        for (k, v) in self.fields.iter().chain(self.shared()) {
            sep(b, first);
            write::string(b, k);
            b.push(b':');
            write::value(b, v);
        }
        if let Some(cp) = self.cache_point {
            key(b, first, "cache_control");
            b.extend_from_slice(b"{\"type\":\"ephemeral\"");
            if let Some(ttl) = cache_ttl(cp) {
                b.extend_from_slice(b",\"ttl\":");
                write::string(b, ttl);
            }
            b.push(b'}');
        }
    }
}

impl AnthropicImageSource<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        match self {
            AnthropicImageSource::Base64 { media_type, data } => {
                b.extend_from_slice(b"{\"type\":\"base64\",\"media_type\":");
                write::string(b, media_type);
                b.extend_from_slice(b",\"data\":");
                write::string(b, data);
            }
            AnthropicImageSource::Url { url } => {
                b.extend_from_slice(b"{\"type\":\"url\",\"url\":");
                write::string(b, url);
            }
        }
        b.push(b'}');
    }
}

impl AnthropicDocumentSource<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        let (kind, media_type, data): (&[u8], &str, &str) = match self {
            AnthropicDocumentSource::Base64 { media_type, data } => (b"base64", media_type, data),
            AnthropicDocumentSource::Text { media_type, data } => (b"text", media_type, data),
            AnthropicDocumentSource::Url { url } => {
                b.extend_from_slice(b"{\"type\":\"url\",\"url\":");
                write::string(b, url);
                b.push(b'}');
                return;
            }
        };
        b.extend_from_slice(b"{\"type\":\"");
        b.extend_from_slice(kind);
        b.extend_from_slice(b"\",\"media_type\":");
        write::string(b, media_type);
        b.extend_from_slice(b",\"data\":");
        write::string(b, data);
        b.push(b'}');
    }
}

impl AnthropicBlock<'_> {
    pub(super) fn write(&self, b: &mut Vec<u8>) {
        let mut first = false; // `type` opens every block
        let extra = match self {
            AnthropicBlock::Text { text, extra } => {
                b.extend_from_slice(b"{\"type\":\"text\",\"text\":");
                write::string(b, text);
                extra
            }
            AnthropicBlock::Image { source, extra } => {
                b.extend_from_slice(b"{\"type\":\"image\",\"source\":");
                source.write(b);
                extra
            }
            AnthropicBlock::Document { source, title, extra } => {
                b.extend_from_slice(b"{\"type\":\"document\",\"source\":");
                source.write(b);
                if let Some(t) = title {
                    key(b, &mut first, "title");
                    write::string(b, t);
                }
                extra
            }
            AnthropicBlock::ToolUse { id, name, input, extra } => {
                b.extend_from_slice(b"{\"type\":\"tool_use\",\"id\":");
                write::string(b, id);
                b.extend_from_slice(b",\"name\":");
                write::string(b, name);
                b.extend_from_slice(b",\"input\":");
                // Validated as an object when the block was made; written as the caller wrote it.
                b.extend_from_slice(input.as_raw_str().as_bytes());
                extra
            }
            AnthropicBlock::ToolResult {
                tool_use_id,
                content,
                is_error,
                extra,
            } => {
                b.extend_from_slice(b"{\"type\":\"tool_result\",\"tool_use_id\":");
                write::string(b, tool_use_id);
                if let Some(c) = content {
                    key(b, &mut first, "content");
                    match c {
                        AnthropicToolResultContent::Text(t) => write::string(b, t),
                        AnthropicToolResultContent::Blocks(blocks) => write_blocks(b, blocks),
                    }
                }
                if *is_error {
                    b.extend_from_slice(b",\"is_error\":true");
                }
                extra
            }
            AnthropicBlock::Thinking { thinking, signature } => {
                b.extend_from_slice(b"{\"type\":\"thinking\",\"thinking\":");
                write::string(b, thinking);
                b.extend_from_slice(b",\"signature\":");
                write::string(b, signature);
                b.push(b'}');
                return;
            }
            AnthropicBlock::RedactedThinking { data } => {
                b.extend_from_slice(b"{\"type\":\"redacted_thinking\",\"data\":");
                write::string(b, data);
                b.push(b'}');
                return;
            }
        };
        extra.write_members(b, &mut first);
        b.push(b'}');
    }
}

pub(super) fn write_blocks(b: &mut Vec<u8>, blocks: &[AnthropicBlock<'_>]) {
    write::array(b, blocks, |b, block| block.write(b));
}

impl AnthropicTool<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        let mut first = false;
        b.extend_from_slice(b"{\"name\":");
        write::string(b, self.name);
        if let Some(d) = self.description {
            key(b, &mut first, "description");
            write::string(b, d);
        }
        key(b, &mut first, "input_schema");
        write::schema(b, self.input_schema);
        if let Some(s) = self.strict {
            key(b, &mut first, "strict");
            boolean(b, s);
        }
        self.extra.write_members(b, &mut first);
        b.push(b'}');
    }
}

impl AnthropicRequest<'_> {
    /// The body, appended to `b`.
    pub fn write(&self, b: &mut Vec<u8>) {
        let mut first = false;
        b.extend_from_slice(b"{\"max_tokens\":");
        write::uint(b, u64::from(self.max_tokens));
        key(b, &mut first, "messages");
        write::array(b, &self.messages, |b, m| {
            b.extend_from_slice(b"{\"role\":");
            write::string(b, m.role);
            b.extend_from_slice(b",\"content\":");
            write_blocks(b, &m.content);
            b.push(b'}');
        });
        if let Some(meta) = &self.metadata {
            key(b, &mut first, "metadata");
            b.extend_from_slice(b"{\"user_id\":");
            write::string(b, meta.user_id);
            b.push(b'}');
        }
        key(b, &mut first, "model");
        write::string(b, self.model);
        if !self.stop_sequences.is_empty() {
            key(b, &mut first, "stop_sequences");
            write::array(b, self.stop_sequences, |b, s| write::string(b, s));
        }
        if self.stream {
            key(b, &mut first, "stream");
            b.extend_from_slice(b"true");
        }
        if let Some(system) = &self.system {
            key(b, &mut first, "system");
            match system {
                AnthropicSystem::Text(t) => write::string(b, t),
                AnthropicSystem::Blocks(blocks) => write_blocks(b, blocks),
            }
        }
        if let Some(t) = self.temperature {
            key(b, &mut first, "temperature");
            write::float(b, t);
        }
        if let Some(t) = &self.thinking {
            key(b, &mut first, "thinking");
            b.extend_from_slice(b"{\"type\":");
            write::string(b, t.kind);
            b.extend_from_slice(b",\"budget_tokens\":");
            write::uint(b, u64::from(t.budget_tokens));
            b.push(b'}');
        }
        if let Some(c) = &self.tool_choice {
            key(b, &mut first, "tool_choice");
            b.extend_from_slice(b"{\"type\":");
            write::string(b, c.kind);
            if let Some(n) = c.name {
                b.extend_from_slice(b",\"name\":");
                write::string(b, n);
            }
            if let Some(d) = c.disable_parallel_tool_use {
                b.extend_from_slice(b",\"disable_parallel_tool_use\":");
                boolean(b, d);
            }
            b.push(b'}');
        }
        if !self.tools.is_empty() {
            key(b, &mut first, "tools");
            write::array(b, &self.tools, |b, t| t.write(b));
        }
        if let Some(k) = self.top_k {
            key(b, &mut first, "top_k");
            write::uint(b, u64::from(k));
        }
        if let Some(p) = self.top_p {
            key(b, &mut first, "top_p");
            write::float(b, p);
        }
        if let Some(c) = &self.output_config {
            key(b, &mut first, "output_config");
            c.write(b);
        }
        self.extra.write_members(b, &mut first);
        b.push(b'}');
    }
}

impl AnthropicOutputConfig<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        b.push(b'{');
        let mut first = true;
        for (k, v) in self.members() {
            sep(b, &mut first);
            write::string(b, k);
            b.push(b':');
            match v {
                Some(v) => write::value(b, v),
                None => {
                    b.extend_from_slice(b"{\"schema\":");
                    write::schema(b, self.schema);
                    b.extend_from_slice(b",\"type\":\"json_schema\"}");
                }
            }
        }
        b.push(b'}');
    }
}

impl AnthropicResponse<'_> {
    /// The body, appended to `b`.
    pub fn write(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"id\":");
        write::string(b, self.id);
        b.extend_from_slice(b",\"type\":");
        write::string(b, self.kind);
        b.extend_from_slice(b",\"role\":");
        write::string(b, self.role);
        b.extend_from_slice(b",\"model\":");
        write::string(b, self.model);
        b.extend_from_slice(b",\"content\":");
        write_blocks(b, &self.content);
        b.extend_from_slice(b",\"stop_reason\":");
        write::string(b, self.stop_reason);
        b.extend_from_slice(b",\"stop_sequence\":");
        write::nullable(b, self.stop_sequence);
        b.extend_from_slice(b",\"usage\":");
        self.usage.write(b);
        b.push(b'}');
    }
}

impl AnthropicUsage {
    fn write(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"input_tokens\":");
        write::uint(b, self.input_tokens);
        b.extend_from_slice(b",\"cache_creation_input_tokens\":");
        write::uint(b, self.cache_creation_input_tokens);
        b.extend_from_slice(b",\"cache_read_input_tokens\":");
        write::uint(b, self.cache_read_input_tokens);
        b.extend_from_slice(b",\"output_tokens\":");
        write::uint(b, self.output_tokens);
        b.push(b'}');
    }
}

impl AnthropicBlockStart<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        match self {
            AnthropicBlockStart::Text { text } => {
                b.extend_from_slice(b"{\"type\":\"text\",\"text\":");
                write::string(b, text);
            }
            AnthropicBlockStart::Thinking { thinking, signature } => {
                b.extend_from_slice(b"{\"type\":\"thinking\",\"thinking\":");
                write::string(b, thinking);
                b.extend_from_slice(b",\"signature\":");
                write::string(b, signature);
            }
            AnthropicBlockStart::ToolUse { id, name, input: _ } => {
                b.extend_from_slice(b"{\"type\":\"tool_use\",\"id\":");
                write::string(b, id);
                b.extend_from_slice(b",\"name\":");
                write::string(b, name);
                b.extend_from_slice(b",\"input\":{}");
            }
            AnthropicBlockStart::RedactedThinking { data } => {
                b.extend_from_slice(b"{\"type\":\"redacted_thinking\",\"data\":");
                write::string(b, data);
            }
        }
        b.push(b'}');
    }
}

impl AnthropicBlockDelta<'_> {
    fn write(&self, b: &mut Vec<u8>) {
        let (head, text): (&[u8], &str) = match self {
            AnthropicBlockDelta::TextDelta { text } => (b"{\"type\":\"text_delta\",\"text\":", text),
            AnthropicBlockDelta::InputJsonDelta { partial_json } => {
                (b"{\"type\":\"input_json_delta\",\"partial_json\":", partial_json)
            }
            AnthropicBlockDelta::ThinkingDelta { thinking } => {
                (b"{\"type\":\"thinking_delta\",\"thinking\":", thinking)
            }
            AnthropicBlockDelta::SignatureDelta { signature } => {
                (b"{\"type\":\"signature_delta\",\"signature\":", signature)
            }
        };
        b.extend_from_slice(head);
        write::string(b, text);
        b.push(b'}');
    }
}

impl AnthropicStreamEvent<'_> {
    /// The event's JSON (`type` first, as serde's tag puts it), appended to `b`: one per stream
    /// chunk, so the literal keys are not sent through the string escaper each time.
    pub fn write(&self, b: &mut Vec<u8>) {
        match self {
            AnthropicStreamEvent::MessageStart { message: m } => {
                b.extend_from_slice(b"{\"type\":\"message_start\",\"message\":{\"id\":");
                write::string(b, m.id);
                b.extend_from_slice(b",\"type\":");
                write::string(b, m.kind);
                b.extend_from_slice(b",\"role\":");
                write::string(b, m.role);
                b.extend_from_slice(b",\"content\":[],\"model\":");
                write::string(b, m.model);
                b.extend_from_slice(b",\"stop_reason\":");
                write::nullable(b, m.stop_reason);
                b.extend_from_slice(b",\"stop_sequence\":");
                write::nullable(b, m.stop_sequence);
                b.extend_from_slice(b",\"usage\":");
                m.usage.write(b);
                b.push(b'}');
            }
            AnthropicStreamEvent::ContentBlockStart { index, content_block } => {
                b.extend_from_slice(b"{\"type\":\"content_block_start\",\"index\":");
                write::uint(b, u64::from(*index));
                b.extend_from_slice(b",\"content_block\":");
                content_block.write(b);
            }
            AnthropicStreamEvent::ContentBlockDelta { index, delta } => {
                b.extend_from_slice(b"{\"type\":\"content_block_delta\",\"index\":");
                write::uint(b, u64::from(*index));
                b.extend_from_slice(b",\"delta\":");
                delta.write(b);
            }
            AnthropicStreamEvent::ContentBlockStop { index } => {
                b.extend_from_slice(b"{\"type\":\"content_block_stop\",\"index\":");
                write::uint(b, u64::from(*index));
            }
            AnthropicStreamEvent::MessageDelta { delta, usage } => {
                b.extend_from_slice(b"{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
                write::string(b, delta.stop_reason);
                b.extend_from_slice(b",\"stop_sequence\":");
                write::nullable(b, delta.stop_sequence);
                b.extend_from_slice(b"},\"usage\":");
                usage.write(b);
            }
            AnthropicStreamEvent::MessageStop => b.extend_from_slice(b"{\"type\":\"message_stop\""),
            AnthropicStreamEvent::Error { error } => {
                b.extend_from_slice(b"{\"type\":\"error\",\"error\":{\"type\":");
                write::string(b, error.kind);
                b.extend_from_slice(b",\"message\":");
                write::string(b, error.message);
                b.push(b'}');
            }
        }
        b.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use crate::canonical::ChatRequest;

    /// The writer's bytes and serde's for the same request: equal, or both an error; whether
    /// they were bytes.
    fn check(req: &ChatRequest, what: &str) -> bool {
        let written = super::super::request::encode_request(req);
        let serialized = super::super::request::encode_request_with(req, |body, _| sonic_rs::to_vec(body).unwrap());
        crate::formats::write::same_request_bytes(written, serialized, what)
    }

    /// The same for an answer.
    fn check_response(resp: &crate::canonical::ChatResponse, what: &str) {
        let written = super::super::response::encode_response(resp);
        let serialized = super::super::response::encode_response_with(resp, |body, _| sonic_rs::to_vec(body).unwrap());
        crate::formats::write::same_bytes(&written, &serialized, what);
    }

    /// Every fixture file read as a request and as an answer by every decoder that takes it.
    #[test]
    fn writer_matches_serde_on_every_fixture() {
        crate::formats::write::for_each_fixture_decoded("claude-x", &mut check, &mut check_response);
    }

    /// Each block kind and each optional field (`formats::write::request_variants`): each one
    /// encoded but JSON mode, which Anthropic has no setting for.
    #[test]
    fn writer_matches_serde_on_every_block_and_field() {
        for (what, req) in crate::formats::write::request_variants() {
            let json_mode = req.response_format == Some(crate::canonical::ResponseFormat::JsonObject);
            assert_eq!(check(&req, what), !json_mode, "{what}");
        }
    }

    /// The whole translate fuzz corpus (`formats::write::for_each_corpus_request`).
    #[test]
    #[ignore]
    fn writer_matches_serde_on_the_fuzz_corpus() {
        crate::formats::write::for_each_corpus_request(&mut check);
    }

    /// Every stream event kind, with strings that need escaping, as serde writes it.
    #[test]
    fn stream_event_writer_matches_serde() {
        use super::super::types::*;
        let odd = "a \"q\" \\ \n ü 😀 \u{2028} \u{0}";
        let usage = AnthropicUsage {
            input_tokens: 10,
            cache_creation_input_tokens: 2,
            cache_read_input_tokens: 3,
            output_tokens: u64::MAX,
        };
        let mut events = vec![
            AnthropicStreamEvent::ContentBlockStop { index: 0 },
            AnthropicStreamEvent::MessageStop,
            AnthropicStreamEvent::Error {
                error: AnthropicErrorDetail {
                    kind: "overloaded_error",
                    message: odd,
                },
            },
        ];
        for (stop_reason, stop_sequence) in [(None, None), (Some("end_turn"), Some(odd))] {
            events.push(AnthropicStreamEvent::MessageStart {
                message: AnthropicMessageStart {
                    id: "msg_1",
                    kind: "message",
                    role: "assistant",
                    content: [],
                    model: odd,
                    stop_reason,
                    stop_sequence,
                    usage,
                },
            });
            events.push(AnthropicStreamEvent::MessageDelta {
                delta: AnthropicMessageDelta {
                    stop_reason: stop_reason.unwrap_or("tool_use"),
                    stop_sequence,
                },
                usage,
            });
        }
        for content_block in [
            AnthropicBlockStart::Text { text: "" },
            AnthropicBlockStart::Thinking {
                thinking: "",
                signature: "",
            },
            AnthropicBlockStart::ToolUse {
                id: "toolu_1",
                name: odd,
                input: AnthropicEmptyObject {},
            },
            AnthropicBlockStart::RedactedThinking { data: odd },
        ] {
            events.push(AnthropicStreamEvent::ContentBlockStart {
                index: 7,
                content_block,
            });
        }
        for delta in [
            AnthropicBlockDelta::TextDelta { text: odd },
            AnthropicBlockDelta::InputJsonDelta {
                partial_json: "{\"a\": 1",
            },
            AnthropicBlockDelta::ThinkingDelta { thinking: odd },
            AnthropicBlockDelta::SignatureDelta { signature: "EqQB" },
        ] {
            events.push(AnthropicStreamEvent::ContentBlockDelta { index: u32::MAX, delta });
        }
        assert_eq!(events.len(), 15);
        for e in &events {
            let mut written = Vec::new();
            e.write(&mut written);
            crate::formats::write::same_bytes(&written, &sonic_rs::to_vec(e).unwrap(), e.name());
        }
    }
}
