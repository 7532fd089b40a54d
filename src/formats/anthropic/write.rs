//! The Anthropic request and answer bodies written straight into bytes (`formats::write`): the
//! same bytes serde gives for the structs of `types.rs` (keys in declared order, the `type` tag
//! first, flattened extras last, skipped fields skipped), without sending each literal key
//! through sonic-rs's string escaper. `tests::writer_matches_serde` holds the two together.

use super::types::*;
use crate::formats::write::{self, sep};

/// `"key":` for the literal keys below (none needs escaping).
fn key(b: &mut Vec<u8>, first: &mut bool, k: &str) {
    sep(b, first);
    write::key(b, k);
}

fn boolean(b: &mut Vec<u8>, v: bool) {
    b.extend_from_slice(if v { b"true" } else { b"false" });
}

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
    b.push(b'[');
    let mut first = true;
    for block in blocks {
        sep(b, &mut first);
        block.write(b);
    }
    b.push(b']');
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
        write::value(b, self.input_schema);
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
        b.push(b'[');
        let mut first_message = true;
        for m in &self.messages {
            sep(b, &mut first_message);
            b.extend_from_slice(b"{\"role\":");
            write::string(b, m.role);
            b.extend_from_slice(b",\"content\":");
            write_blocks(b, &m.content);
            b.push(b'}');
        }
        b.push(b']');
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
            b.push(b'[');
            let mut first_stop = true;
            for s in self.stop_sequences {
                sep(b, &mut first_stop);
                write::string(b, s);
            }
            b.push(b']');
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
            b.push(b'[');
            let mut first_tool = true;
            for t in &self.tools {
                sep(b, &mut first_tool);
                t.write(b);
            }
            b.push(b']');
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
            write::value(b, c);
        }
        self.extra.write_members(b, &mut first);
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
        match self.stop_sequence {
            Some(s) => write::string(b, s),
            None => b.extend_from_slice(b"null"),
        }
        let u = &self.usage;
        b.extend_from_slice(b",\"usage\":{\"input_tokens\":");
        write::uint(b, u.input_tokens);
        b.extend_from_slice(b",\"cache_creation_input_tokens\":");
        write::uint(b, u.cache_creation_input_tokens);
        b.extend_from_slice(b",\"cache_read_input_tokens\":");
        write::uint(b, u.cache_read_input_tokens);
        b.extend_from_slice(b",\"output_tokens\":");
        write::uint(b, u.output_tokens);
        b.extend_from_slice(b"}}");
    }
}

#[cfg(test)]
mod tests {
    use crate::canonical::{
        ChatRequest, DocumentSource, Extra, ImageSource, Json, Message, Part, Role, ToolResultContent,
    };
    use crate::formats::{codec, Format};
    use std::path::Path;

    /// The writer's bytes and serde's for the same request: equal, or both an error.
    fn check(req: &ChatRequest, what: &str) {
        let written = super::super::request::encode_request(req);
        let serialized = super::super::request::encode_request_with(req, |body, _| sonic_rs::to_vec(body).unwrap());
        match (written, serialized) {
            (Ok(w), Ok(s)) => assert_eq!(
                String::from_utf8_lossy(&w),
                String::from_utf8_lossy(&s),
                "writer and serde differ for {what}"
            ),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{what}"),
            (w, s) => panic!("{what}: writer {:?}, serde {:?}", w.is_ok(), s.is_ok()),
        }
    }

    /// The same for an answer.
    fn check_response(resp: &crate::canonical::ChatResponse, what: &str) {
        let written = super::super::response::encode_response(resp);
        let serialized = super::super::response::encode_response_with(resp, |body, _| sonic_rs::to_vec(body).unwrap());
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&serialized),
            "writer and serde differ for {what}"
        );
    }

    /// Every fixture file read as a request and as an answer by every decoder that takes it.
    #[test]
    fn writer_matches_serde_on_every_fixture() {
        let mut n = 0;
        crate::formats::write::for_each_fixture(&mut |path, body| {
            for f in Format::ALL {
                if let Ok(resp) = (codec(f).unwrap().decode_response)(body) {
                    check_response(&resp, &format!("{} read as a {} answer", path.display(), f.name()));
                    n += 1;
                }
                for stream in [false, true] {
                    if let Ok(req) = (codec(f).unwrap().decode_request)(body, Some("claude-x"), stream) {
                        check(&req, &format!("{} read as {}", path.display(), f.name()));
                        n += 1;
                    }
                }
            }
        });
        assert!(n > 50, "only {n} fixture requests and answers decoded");
    }

    /// Each block kind and each optional field, with extras (a duplicate of a typed key among
    /// them, which both write as it comes) and a Bedrock client's cache point.
    #[test]
    fn writer_matches_serde_on_every_block_and_field() {
        let anthropic_extra = |pairs: &[(&str, Json)]| {
            let mut e = Extra::new(Format::Anthropic);
            for (k, v) in pairs {
                e.push(*k, v.clone());
            }
            e
        };
        let mut bedrock = Extra::new(Format::Bedrock);
        bedrock.push("cachePoint", sonic_rs::json!({"type": "default", "ttl": "1h"}));
        bedrock.push("citations", sonic_rs::json!({"enabled": true}));
        let req = ChatRequest {
            model: "claude-x".into(),
            system: vec![
                Part::text("sys \"quoted\"\n"),
                Part::Text {
                    text: "cached".into(),
                    extra: anthropic_extra(&[("cache_control", sonic_rs::json!({"type": "ephemeral"}))]),
                },
            ],
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![
                        Part::Text {
                            text: "ü 😀 \u{2028}".into(),
                            extra: anthropic_extra(&[("text", Json::from("dup"))]),
                        },
                        Part::Image {
                            source: ImageSource::Url("data:image/png;base64,iVBORw0KGgo=".into()),
                            extra: Extra::default(),
                        },
                        Part::Image {
                            source: ImageSource::Url("https://example.com/a.png".into()),
                            extra: bedrock.clone(),
                        },
                        Part::Document {
                            source: DocumentSource::Base64 {
                                media_type: "application/pdf".into(),
                                data: "JVBERi0=".into(),
                            },
                            name: Some("a.pdf".into()),
                            extra: bedrock.clone(),
                        },
                        Part::Document {
                            source: DocumentSource::Text("plain".into()),
                            name: None,
                            extra: Extra::default(),
                        },
                        Part::Document {
                            source: DocumentSource::Url("https://example.com/a.pdf".into()),
                            name: None,
                            extra: Extra::default(),
                        },
                    ],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Part::Thinking {
                            text: "hmm".into(),
                            signature: Some("sig".into()),
                        },
                        Part::RedactedThinking { data: "xyz".into() },
                        Part::text(""),
                        Part::ToolCall {
                            id: "toolu_1".into(),
                            name: "get_weather".into(),
                            arguments: r#"{"city": "Z\u00fcrich", "n": 1e5}"#.into(),
                            signature: None,
                            extra: Extra::default(),
                        },
                        Part::ToolCall {
                            id: "toolu_2".into(),
                            name: "get_time".into(),
                            arguments: String::new(),
                            signature: None,
                            extra: Extra::default(),
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![
                        Part::ToolResult {
                            id: "toolu_1".into(),
                            name: None,
                            content: vec![ToolResultContent::Text("sunny".into())],
                            is_error: false,
                            extra: Extra::default(),
                        },
                        Part::ToolResult {
                            id: "toolu_2".into(),
                            name: None,
                            content: vec![
                                ToolResultContent::Text("a".into()),
                                ToolResultContent::Json(sonic_rs::json!({"b": [1, 2.5]})),
                                ToolResultContent::Image(ImageSource::Base64 {
                                    media_type: "image/png".into(),
                                    data: "iVBORw0KGgo=".into(),
                                }),
                            ],
                            is_error: true,
                            extra: Extra::default(),
                        },
                        Part::ToolResult {
                            id: "toolu_3".into(),
                            name: None,
                            content: vec![],
                            is_error: false,
                            extra: Extra::default(),
                        },
                    ],
                },
            ],
            tools: vec![crate::canonical::Tool {
                name: "get_weather".into(),
                description: Some("Weather".into()),
                parameters: sonic_rs::json!({"type": "object", "properties": {"city": {"type": "string"}}}),
                strict: Some(true),
                extra: bedrock.clone(),
            }],
            tool_choice: Some(crate::canonical::ToolChoice::Named("get_weather".into())),
            parallel_tool_calls: Some(false),
            stop: vec!["END".into(), "\n\n".into()],
            user: Some("user-1".into()),
            temperature: Some(0.7),
            top_p: Some(0.9),
            top_k: Some(40),
            max_tokens: Some(1000),
            stream: true,
            extra: anthropic_extra(&[("service_tier", Json::from("auto")), ("model", Json::from("dup-model"))]),
            ..ChatRequest::default()
        };
        check(&req, "the full request");
        // Without thinking, and with it (temperature and top_k give way, top_p stays in range).
        let mut thinking = req.clone();
        thinking.reasoning = Some(crate::canonical::Reasoning {
            budget_tokens: Some(2048),
            effort: None,
        });
        thinking.top_p = Some(0.96);
        check(&thinking, "with thinking");
        // A system prompt alone (the opening user turn), and a structured-output schema.
        let mut bare = ChatRequest {
            model: "claude-x".into(),
            system: vec![Part::text("only a system prompt")],
            ..ChatRequest::default()
        };
        bare.response_format = Some(crate::canonical::ResponseFormat::JsonSchema {
            name: "out".into(),
            schema: sonic_rs::json!({"type": "object", "properties": {}, "additionalProperties": false}),
            strict: Some(true),
        });
        check(&bare, "a system prompt alone with a schema");
    }

    /// The whole translate fuzz corpus, each input decoded as the fuzzer reads it: run by hand
    /// (`cargo test --release --lib writer_matches_serde_on_the_fuzz_corpus -- --ignored`) after a
    /// change to the writer; too slow for every CI run in debug.
    #[test]
    #[ignore]
    fn writer_matches_serde_on_the_fuzz_corpus() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/translate");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let data = std::fs::read(e.path()).unwrap();
            let Some((&which, body)) = data.split_first() else {
                continue;
            };
            if crate::wire::json::too_deep(body, crate::wire::json::MAX_DEPTH) {
                continue;
            }
            let f = Format::ALL[usize::from(which & 7) % Format::ALL.len()];
            if let Ok(req) = (codec(f).unwrap().decode_request)(body, Some("m"), false) {
                check(&req, &e.path().display().to_string());
                n += 1;
            }
        }
        assert!(n > 1000, "only {n} corpus requests decoded");
    }
}
