//! Direct JSON writing for the encoders that write their bodies as bytes: the chat requests and
//! answers of all five formats (`<format>/write.rs`; Gemini's in its own modules, streams and
//! embeddings included) and Anthropic's stream events.
//!
//! Those encoders used to build `sonic_rs::Value` trees or serde structs and serialize them; they
//! now append to one buffer, with their own keys as literal bytes (sonic-rs sends every key of a
//! serde struct through its SIMD string escaper, which costs as much for `"role"` as for a long
//! text). The output stays byte-identical to what the serializer gave: compact, strings and
//! numbers escaped and formatted by sonic-rs itself. Gemini's objects have their keys in byte
//! order (the crate enables sonic-rs `sort_keys`, so a `Value` tree came out sorted): fixed-shape
//! objects are written with their keys sorted by hand, and objects whose keys come from raw
//! extras go through `SortedObject`.

use crate::canonical::Json;

/// A JSON string, escaped exactly as sonic-rs serializes it.
pub(crate) fn string(buf: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = sonic_rs::to_writer(&mut *buf, s);
}

/// A raw JSON value (keys sorted by sonic-rs).
pub(crate) fn value(buf: &mut Vec<u8>, v: &Json) {
    let _ = sonic_rs::to_writer(&mut *buf, v);
}

/// A schema as the text it holds.
pub(crate) fn schema(buf: &mut Vec<u8>, s: &crate::canonical::Schema) {
    buf.extend_from_slice(s.as_str().as_bytes());
}

/// `"key":` for a key that needs no escaping (the encoders' own literal keys).
pub(crate) fn key(buf: &mut Vec<u8>, k: &str) {
    buf.push(b'"');
    buf.extend_from_slice(k.as_bytes());
    buf.extend_from_slice(b"\":");
}

/// `"key":` after a comma unless it is the object's first member.
pub(crate) fn next_key(buf: &mut Vec<u8>, first: &mut bool, k: &str) {
    sep(buf, first);
    key(buf, k);
}

/// A string, or `null` for none.
pub(crate) fn nullable(buf: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(buf, s),
        None => buf.extend_from_slice(b"null"),
    }
}

pub(crate) fn boolean(buf: &mut Vec<u8>, v: bool) {
    buf.extend_from_slice(if v { b"true" } else { b"false" });
}

pub(crate) fn uint(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

pub(crate) fn int(buf: &mut Vec<u8>, n: i64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A finite float as sonic-rs formats it (callers skip non-finite values, which a `Value`
/// cannot hold).
pub(crate) fn float(buf: &mut Vec<u8>, f: f64) {
    let _ = sonic_rs::to_writer(&mut *buf, &f);
}

/// A comma before every array element or object member but the first.
pub(crate) fn sep(buf: &mut Vec<u8>, first: &mut bool) {
    if !*first {
        buf.push(b',');
    }
    *first = false;
}

/// `[a,b,...]` with `item` writing each element.
pub(crate) fn array<T>(buf: &mut Vec<u8>, items: &[T], mut item: impl FnMut(&mut Vec<u8>, &T)) {
    buf.push(b'[');
    let mut first = true;
    for i in items {
        sep(buf, &mut first);
        item(buf, i);
    }
    buf.push(b']');
}

/// An object whose members are written in any order and emitted sorted by key, as sonic-rs
/// serializes a `Value` object built with the same inserts (a later insert of a key replaces the
/// earlier value). Member values go to a scratch buffer first, then are copied out in order.
pub(crate) struct SortedObject<'k> {
    scratch: Vec<u8>,
    members: Vec<(&'k str, usize, usize)>,
}

impl<'k> SortedObject<'k> {
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        SortedObject {
            scratch: Vec::with_capacity(bytes),
            members: Vec::with_capacity(8),
        }
    }

    /// Writes the value of member `key` with `f`.
    pub(crate) fn member<E>(&mut self, key: &'k str, f: impl FnOnce(&mut Vec<u8>) -> Result<(), E>) -> Result<(), E> {
        let start = self.scratch.len();
        f(&mut self.scratch)?;
        self.members.push((key, start, self.scratch.len()));
        Ok(())
    }

    /// Appends `{...}` to `out`.
    pub(crate) fn finish(mut self, out: &mut Vec<u8>) {
        // Stable: equal keys stay in insertion order, and the last of a run wins.
        self.members.sort_by(|a, b| a.0.cmp(b.0));
        out.reserve(self.scratch.len() + 16 * self.members.len());
        out.push(b'{');
        let mut first = true;
        for (i, &(k, start, end)) in self.members.iter().enumerate() {
            if self.members.get(i + 1).is_some_and(|next| next.0 == k) {
                continue;
            }
            sep(out, &mut first);
            string(out, k);
            out.push(b':');
            out.extend_from_slice(&self.scratch[start..end]);
        }
        out.push(b'}');
    }
}

/// Every file under `src/formats` (the fixtures and goldens) with its bytes, for tests that run
/// the codecs over all of them (the writers' tests hold them to serde's bytes that way).
#[cfg(test)]
pub(crate) fn for_each_fixture(f: &mut impl FnMut(&std::path::Path, &[u8])) {
    fn walk(dir: &std::path::Path, f: &mut impl FnMut(&std::path::Path, &[u8])) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, f);
            } else if let Ok(body) = std::fs::read(&path) {
                f(&path, &body);
            }
        }
    }
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/formats"), f);
}

/// Requests for the writers' tests to hold to serde's bytes: `full_request`, and variants with
/// thinking (temperature and top_k give way, top_p stays in range), each tool choice, a system
/// prompt alone (the opening user turn) with a schema, and JSON mode with an effort.
#[cfg(test)]
pub(crate) fn request_variants() -> Vec<(&'static str, crate::canonical::ChatRequest)> {
    use crate::canonical::{ChatRequest, Part, Reasoning, ResponseFormat, ToolChoice};
    let full = full_request();
    let mut out = vec![("the full request", full.clone())];
    let mut thinking = full.clone();
    thinking.reasoning = Some(Reasoning {
        budget_tokens: Some(2048),
        effort: None,
    });
    thinking.top_p = Some(0.96);
    out.push(("with thinking", thinking));
    for (what, choice) in [
        ("tool choice auto", ToolChoice::Auto),
        ("tool choice none", ToolChoice::None),
        ("tool choice required", ToolChoice::Required),
        (
            "tool choice allowed",
            ToolChoice::Allowed {
                names: vec!["get_weather".into()],
                required: true,
            },
        ),
    ] {
        let mut r = full.clone();
        r.tool_choice = Some(choice);
        out.push((what, r));
    }
    let bare = ChatRequest {
        model: "claude-x".into(),
        system: vec![Part::text("only a system prompt")],
        response_format: Some(ResponseFormat::JsonSchema {
            name: "out".into(),
            schema: sonic_rs::json!({"type": "object", "properties": {}, "additionalProperties": false}).into(),
            strict: Some(true),
        }),
        ..ChatRequest::default()
    };
    out.push(("a system prompt alone with a schema", bare.clone()));
    out.push((
        "JSON mode with an effort",
        ChatRequest {
            response_format: Some(ResponseFormat::JsonObject),
            reasoning: Some(Reasoning {
                budget_tokens: None,
                effort: Some("high".into()),
            }),
            ..bare
        },
    ));
    out
}

/// The writer's bytes and serde's for one body: equal.
#[cfg(test)]
pub(crate) fn same_bytes(written: &[u8], serialized: &[u8], what: &str) {
    assert_eq!(
        String::from_utf8_lossy(written),
        String::from_utf8_lossy(serialized),
        "writer and serde differ for {what}"
    );
}

/// The writer's bytes and serde's for one request: equal, or both the same error; whether they
/// were bytes.
#[cfg(test)]
pub(crate) fn same_request_bytes(
    written: Result<Vec<u8>, crate::canonical::ConvertError>,
    serialized: Result<Vec<u8>, crate::canonical::ConvertError>,
    what: &str,
) -> bool {
    match (written, serialized) {
        (Ok(w), Ok(s)) => {
            same_bytes(&w, &s, what);
            true
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "{what}");
            false
        }
        (w, s) => panic!("{what}: writer {:?}, serde {:?}", w.is_ok(), s.is_ok()),
    }
}

/// `req` without the message parts `drop` picks (those a format cannot carry), so that the
/// writers' tests see it encoded rather than refused.
#[cfg(test)]
pub(crate) fn without_parts(
    mut req: crate::canonical::ChatRequest,
    drop: impl Fn(&crate::canonical::Part) -> bool,
) -> crate::canonical::ChatRequest {
    for m in &mut req.messages {
        m.content.retain(|p| !drop(p));
    }
    req
}

/// A request with each part kind and each optional field: extras (a duplicate of a typed key
/// among them, which the writers write as it comes), a Bedrock client's cache point and
/// citations, every tool-result content kind, sampling, stops and a named tool choice.
#[cfg(test)]
fn full_request() -> crate::canonical::ChatRequest {
    use crate::canonical::{
        ChatRequest, DocumentSource, Extra, ImageSource, Json, Message, Part, Role, ToolResultContent,
    };
    use crate::formats::Format;
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
    ChatRequest {
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
            parameters: sonic_rs::json!({"type": "object", "properties": {"city": {"type": "string"}}}).into(),
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
    }
}

/// Every fixture decoded by every decoder that takes it, as a request (streaming and not, model
/// `model` where the path names none) and as an answer; asserts that there were many.
#[cfg(test)]
pub(crate) fn for_each_fixture_decoded<R>(
    model: &str,
    on_request: &mut impl FnMut(&crate::canonical::ChatRequest, &str) -> R,
    on_answer: &mut impl FnMut(&crate::canonical::ChatResponse, &str),
) {
    use crate::formats::{codec, Format};
    let mut n = 0;
    for_each_fixture(&mut |path, body| {
        for f in Format::ALL {
            if let Ok(resp) = (codec(f).unwrap().decode_response)(body) {
                on_answer(&resp, &format!("{} read as a {} answer", path.display(), f.name()));
                n += 1;
            }
            for stream in [false, true] {
                if let Ok(req) = (codec(f).unwrap().decode_request)(body, Some(model), stream) {
                    on_request(&req, &format!("{} read as {}", path.display(), f.name()));
                    n += 1;
                }
            }
        }
    });
    assert!(n > 50, "only {n} fixture requests and answers decoded");
}

/// The translate fuzz corpus, each input decoded as the fuzzer reads it (a first byte choosing
/// the format); returns how many decoded. For tests run by hand after a change to a writer
/// (`cargo test --release --lib writer_matches_serde_on_the_fuzz_corpus -- --ignored`): too slow
/// for every CI run in debug. Asserts that many decoded.
#[cfg(test)]
pub(crate) fn for_each_corpus_request<R>(on_request: &mut impl FnMut(&crate::canonical::ChatRequest, &str) -> R) {
    use crate::formats::{codec, Format};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/translate");
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
            on_request(&req, &e.path().display().to_string());
            n += 1;
        }
    }
    assert!(n > 1000, "only {n} corpus requests decoded");
}
