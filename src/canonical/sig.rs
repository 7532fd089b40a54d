//! Thinking-signature provenance: which provider family made a signature (or redacted data).
//!
//! A signature is an opaque token only its maker's family accepts (Anthropic's documented to be
//! valid across the Claude API, Bedrock and Vertex); sent to another, the real API refuses the
//! whole request. Canonical tokens therefore always carry their family: decoders mark a bare
//! token with the native family of its format (`decode`), and a marked one keeps its marker.
//! Encoders write a token of their own family bare and any other marked (`wire`), so a client
//! of one family holding another's token sends it back marked; going upstream, `fit_request`
//! first drops foreign tokens (the block becomes unsigned reasoning, which each provider
//! encoder already handles) and foreign redacted thinking.
//!
//! A marker is four base64 characters (the SDKs that base64-decode a signature, such as
//! google-genai's `bytes`, keep it intact) that no native token starts with: Anthropic's
//! start with `E`, Gemini's with `C`, OpenAI `encrypted_content` with `gAAAA`.

use super::{ChatRequest, Part};
use memchr::memmem::Finder;
use std::sync::LazyLock;

/// A provider family whose thinking signatures are interchangeable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Anthropic, Bedrock (Converse and InvokeModel Claude), Vertex Claude.
    Claude,
    /// Gemini `thoughtSignature` on thought parts.
    Gemini,
    /// OpenAI Responses reasoning `encrypted_content`.
    OpenAi,
}

const FAMILIES: [Family; 3] = [Family::Claude, Family::Gemini, Family::OpenAi];

impl Family {
    /// The marker a token of this family carries outside its family.
    pub const fn marker(self) -> &'static str {
        match self {
            Family::Claude => "slcC",
            Family::Gemini => "slcG",
            Family::OpenAi => "slcO",
        }
    }

    /// The family a canonical token's marker names, and the bare token; None for an unmarked one.
    pub fn of(token: &str) -> Option<(Family, &str)> {
        FAMILIES
            .into_iter()
            .find_map(|f| token.strip_prefix(f.marker()).map(|bare| (f, bare)))
    }
}

/// A token as a client or upstream of family `native` sent it -> canonical: a marked token is
/// of its marker's family (kept as it is); a bare one is of `native` (marked now).
pub fn decode(token: &str, native: Family) -> String {
    if Family::of(token).is_some() {
        token.to_string()
    } else {
        let mut out = String::with_capacity(native.marker().len() + token.len());
        out.push_str(native.marker());
        out.push_str(token);
        out
    }
}

/// A canonical token as a format of family `native` writes it: bare when `native` made it,
/// marked otherwise. (A canonical token with no marker goes as it is.)
pub fn wire(token: &str, native: Family) -> &str {
    match Family::of(token) {
        Some((f, bare)) if f == native => bare,
        _ => token,
    }
}

/// Whether a canonical token is of a family other than `native` (an unmarked one is not).
fn foreign(token: &str, native: Family) -> bool {
    Family::of(token).is_some_and(|(f, _)| f != native)
}

/// A quote then the three letters every marker opens with.
static MARKED: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"slc"));

/// Whether a JSON `body` may hold a marked token: a string that opens with a marker. One SIMD
/// scan of the bytes and nothing parsed, so a same-format request can afford it: only a body
/// for which it holds leaves the zero-copy passthrough to have its tokens fitted (a user's text
/// that happens to quote a marker costs a translation, never a wrong answer).
pub fn has_marker(body: &[u8]) -> bool {
    MARKED.find_iter(body).any(|i| {
        let tail = &body[i + 1..];
        FAMILIES.iter().any(|f| tail.starts_with(f.marker().as_bytes()))
    })
}

/// `req` fitted for an upstream of family `native`, or None when nothing needs changing
/// (nothing is copied): a thinking block signed by another family loses its signature (the
/// upstream encoder then treats it as unsigned reasoning), and another family's redacted
/// thinking is left out. Tokens of `native` are written bare by the encoder (`wire`).
pub fn fit_request(req: &ChatRequest, native: Family) -> Option<ChatRequest> {
    let alien = |p: &Part| match p {
        Part::Thinking { signature: Some(s), .. } => foreign(s, native),
        Part::RedactedThinking { data } => foreign(data, native),
        _ => false,
    };
    if !req.messages.iter().any(|m| m.content.iter().any(alien)) {
        return None;
    }
    let mut out = req.clone();
    for m in &mut out.messages {
        m.content
            .retain(|p| !matches!(p, Part::RedactedThinking { data } if foreign(data, native)));
        for p in &mut m.content {
            if let Part::Thinking { signature, .. } = p {
                if signature.as_deref().is_some_and(|s| foreign(s, native)) {
                    *signature = None;
                }
            }
        }
    }
    Some(out)
}

/// `resp` with each bare token taken as made by `f`, as a decoder of `f`'s family reads it back:
/// what a round trip through that family's codec gives.
#[cfg(test)]
pub(crate) fn marked(mut resp: super::ChatResponse, f: Family) -> super::ChatResponse {
    for p in &mut resp.content {
        match p {
            Part::Thinking { signature: Some(s), .. } => *s = decode(s, f),
            Part::RedactedThinking { data } => *data = decode(data, f),
            _ => {}
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_base64_quads_no_native_token_starts_with() {
        for f in FAMILIES {
            let m = f.marker();
            assert_eq!(m.len() % 4, 0);
            assert!(m.chars().all(|c| c.is_ascii_alphanumeric()));
            assert!(!m.starts_with(['E', 'C']) && !m.starts_with("gAAAA"));
        }
    }

    #[test]
    fn a_bare_token_takes_the_native_family_and_a_marked_one_keeps_its_own() {
        let c = decode("EqQB", Family::Claude);
        assert_eq!(c, "slcCEqQB");
        assert_eq!(Family::of(&c), Some((Family::Claude, "EqQB")));
        // A Gemini token coming back from an Anthropic client, marked.
        assert_eq!(decode("slcGCiQB", Family::Claude), "slcGCiQB");
        assert_eq!(wire("slcGCiQB", Family::Gemini), "CiQB");
        assert_eq!(wire("slcGCiQB", Family::Claude), "slcGCiQB");
        assert_eq!(wire("slcCEqQB", Family::Claude), "EqQB");
        assert_eq!(wire("bare", Family::OpenAi), "bare");
    }

    #[test]
    fn has_marker_finds_a_string_opening_with_a_marker_only() {
        assert!(has_marker(br#"{"signature":"slcGCiQB"}"#));
        assert!(has_marker(br#"{"thoughtSignature":"slcCEqQB","x":1}"#));
        assert!(has_marker(br#"[{"encrypted_content":"slcOgAAAA"}]"#));
        // Bare tokens, a marker inside a string, a lookalike and a cut body: no.
        assert!(!has_marker(br#"{"signature":"EqQB","data":"CiQB"}"#));
        assert!(!has_marker(br#"{"text":"see slcGCiQB"}"#));
        assert!(!has_marker(br#"{"text":"slcX","b":"slc"#));
        assert!(!has_marker(b""));
    }

    #[test]
    fn fit_request_drops_foreign_tokens_and_keeps_native_ones() {
        use crate::canonical::{Message, Role};
        let mut req = ChatRequest::default();
        let assistant = |content| Message {
            role: Role::Assistant,
            content,
        };
        req.messages.push(assistant(vec![
            Part::Thinking {
                text: "g".into(),
                signature: Some("slcGCiQB".into()),
            },
            Part::RedactedThinking { data: "slcGCx".into() },
            Part::Thinking {
                text: "c".into(),
                signature: Some("slcCEqQB".into()),
            },
            Part::RedactedThinking { data: "slcCEr".into() },
        ]));
        assert!(fit_request(&req, Family::Gemini).is_some());
        let fit = fit_request(&req, Family::Claude).expect("a Gemini token to drop");
        let c = &fit.messages[0].content;
        assert_eq!(c.len(), 3);
        assert!(matches!(&c[0], Part::Thinking { text, signature: None } if text == "g"));
        assert!(matches!(&c[1], Part::Thinking { signature: Some(s), .. } if s == "slcCEqQB"));
        assert!(matches!(&c[2], Part::RedactedThinking { data } if data == "slcCEr"));
        // Nothing foreign: nothing copied.
        assert!(fit_request(&fit, Family::Claude).is_none());
    }

    // Each encoder/decoder pair, through the codecs.
    mod codecs {
        use crate::canonical::stream::StreamEvent;
        use crate::canonical::{ChatRequest, ChatResponse, FinishReason, Message, Part, Role, Usage};
        use crate::formats::{self, codec, Format};

        fn thinking(text: &str, s: &str) -> Part {
            Part::Thinking {
                text: text.into(),
                signature: Some(s.into()),
            }
        }

        /// One Gemini-made and one Claude-made thinking block, and one redacted block of each.
        fn mixed() -> Vec<Part> {
            vec![
                thinking("by gemini", "slcGCiQBgem"),
                thinking("by claude", "slcCEqQBcla"),
                Part::RedactedThinking {
                    data: "slcCEredC".into(),
                },
                Part::RedactedThinking {
                    data: "slcOgAAAAred".into(),
                },
                Part::text("answer"),
            ]
        }

        fn answer() -> ChatResponse {
            ChatResponse {
                id: "r".into(),
                model: "m".into(),
                content: mixed(),
                finish: FinishReason::Stop,
                usage: Usage::default(),
                stop_sequence: None,
                created: 0,
                logprobs: Vec::new(),
            }
        }

        fn history() -> ChatRequest {
            ChatRequest {
                model: "gemini-3-pro".into(),
                messages: vec![
                    Message {
                        role: Role::User,
                        content: vec![Part::text("hi")],
                    },
                    Message {
                        role: Role::Assistant,
                        content: mixed(),
                    },
                    Message {
                        role: Role::User,
                        content: vec![Part::text("again")],
                    },
                ],
                ..ChatRequest::default()
            }
        }

        fn s(b: Vec<u8>) -> String {
            String::from_utf8(b).expect("utf-8")
        }

        #[test]
        fn each_format_reads_a_bare_token_as_its_own_familys() {
            let cases: [(Format, &str, &str); 3] = [
                (
                    Format::Anthropic,
                    r#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"EqQB"},{"type":"thinking","thinking":"u","signature":"slcGCiQB"},{"type":"redacted_thinking","data":"Ered"},{"type":"text","text":"x"}]},{"role":"user","content":"again"}]}"#,
                    "slcC",
                ),
                (
                    Format::Bedrock,
                    r#"{"messages":[{"role":"user","content":[{"text":"hi"}]},{"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"t","signature":"EqQB"}}},{"reasoningContent":{"reasoningText":{"text":"u","signature":"slcGCiQB"}}},{"reasoningContent":{"redactedContent":"Ered"}},{"text":"x"}]},{"role":"user","content":[{"text":"again"}]}]}"#,
                    "slcC",
                ),
                (
                    Format::Gemini,
                    r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]},{"role":"model","parts":[{"text":"t","thought":true,"thoughtSignature":"EqQB"},{"text":"u","thought":true,"thoughtSignature":"slcGCiQB"},{"text":"x"}]},{"role":"user","parts":[{"text":"again"}]}]}"#,
                    "slcG",
                ),
            ];
            for (format, body, native) in cases {
                let c = codec(format).expect("codec");
                let req = (c.decode_request)(body.as_bytes(), Some("m"), false).expect("decodes");
                let sigs: Vec<&str> = req.messages[1]
                    .content
                    .iter()
                    .filter_map(|p| match p {
                        Part::Thinking { signature, .. } => signature.as_deref(),
                        Part::RedactedThinking { data } => Some(data),
                        _ => None,
                    })
                    .collect();
                assert_eq!(sigs[0], format!("{native}EqQB"), "{format:?}");
                assert_eq!(sigs[1], "slcGCiQB", "{format:?}: a marked token keeps its family");
                if format != Format::Gemini {
                    assert_eq!(sigs[2], "slcCEred", "{format:?}");
                }
            }
            // OpenAI Responses reasoning items.
            let body = r#"{"model":"m","input":[{"role":"user","content":"hi"},{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"t"}],"encrypted_content":"gAAAAx"},{"type":"reasoning","id":"rs_2","summary":[],"encrypted_content":"slcCEqQB"}]}"#;
            let req = formats::openai::responses::decode_request(body.as_bytes()).expect("decodes");
            let all: Vec<&Part> = req.messages.iter().flat_map(|m| &m.content).collect();
            assert!(all
                .iter()
                .any(|p| matches!(p, Part::Thinking { signature: Some(s), .. } if s == "slcOgAAAAx")));
            assert!(all
                .iter()
                .any(|p| matches!(p, Part::RedactedThinking { data } if data == "slcCEqQB")));
        }

        #[test]
        fn upstream_answers_are_marked_with_the_upstreams_family() {
            let anthropic = r#"{"id":"m","type":"message","role":"assistant","model":"m","content":[{"type":"thinking","thinking":"t","signature":"EqQB"},{"type":"redacted_thinking","data":"Ered"},{"type":"text","text":"x"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}"#;
            let r = (codec(Format::Anthropic).unwrap().decode_response)(anthropic.as_bytes()).unwrap();
            assert!(matches!(&r.content[0], Part::Thinking { signature: Some(s), .. } if s == "slcCEqQB"));
            assert!(matches!(&r.content[1], Part::RedactedThinking { data } if data == "slcCEred"));
            let gemini = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"t","thought":true,"thoughtSignature":"CiQB"},{"text":"x"}]},"finishReason":"STOP"}]}"#;
            let r = (codec(Format::Gemini).unwrap().decode_response)(gemini.as_bytes()).unwrap();
            assert!(matches!(&r.content[0], Part::Thinking { signature: Some(s), .. } if s == "slcGCiQB"));
            let bedrock = r#"{"output":{"message":{"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"t","signature":"EqQB"}}},{"text":"x"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}"#;
            let r = (codec(Format::Bedrock).unwrap().decode_response)(bedrock.as_bytes()).unwrap();
            assert!(matches!(&r.content[0], Part::Thinking { signature: Some(s), .. } if s == "slcCEqQB"));
        }

        #[test]
        fn answers_write_their_own_familys_tokens_bare_and_others_marked() {
            let a = s((codec(Format::Anthropic).unwrap().encode_response)(&answer()));
            assert!(
                a.contains(r#""signature":"slcGCiQBgem""#) && a.contains(r#""signature":"EqQBcla""#),
                "{a}"
            );
            assert!(
                a.contains(r#""data":"EredC""#) && a.contains(r#""data":"slcOgAAAAred""#),
                "{a}"
            );
            let b = s((codec(Format::Bedrock).unwrap().encode_response)(&answer()));
            assert!(
                b.contains(r#""signature":"slcGCiQBgem""#) && b.contains(r#""signature":"EqQBcla""#),
                "{b}"
            );
            assert!(b.contains(r#""redactedContent":"EredC""#), "{b}");
            let g = s((codec(Format::Gemini).unwrap().encode_response)(&answer()));
            assert!(g.contains(r#""thoughtSignature":"CiQBgem""#), "{g}");
            assert!(g.contains(r#""thoughtSignature":"slcCEqQBcla""#), "{g}");
            let req = ChatRequest::default();
            let echo = formats::openai::responses::Echo::of(&req, b"{}");
            let o = s(formats::openai::responses::encode_response(&answer(), &echo));
            assert!(o.contains(r#""encrypted_content":"slcGCiQBgem""#), "{o}");
            assert!(o.contains(r#""encrypted_content":"gAAAAred""#), "{o}");
        }

        #[test]
        fn requests_carry_the_upstreams_own_tokens_bare_and_drop_the_rest() {
            let req = history();
            let a = s((codec(Format::Anthropic).unwrap().encode_request)(&req).unwrap());
            assert!(
                a.contains(r#""signature":"EqQBcla""#) && a.contains(r#""data":"EredC""#),
                "{a}"
            );
            // Gemini's thinking goes the way unsigned thinking does (left out); OpenAI's redacted too.
            assert!(
                !a.contains("by gemini") && !a.contains("CiQB") && !a.contains("red\""),
                "{a}"
            );
            let b = s((codec(Format::Bedrock).unwrap().encode_request)(&req).unwrap());
            assert!(
                b.contains(r#""signature":"EqQBcla""#) && b.contains(r#""redactedContent":"EredC""#),
                "{b}"
            );
            assert!(
                !b.contains("by gemini") && !b.contains("CiQB") && !b.contains("gAAAA"),
                "{b}"
            );
            let g = s((codec(Format::Gemini).unwrap().encode_request)(&req).unwrap());
            assert!(g.contains(r#""thoughtSignature":"CiQBgem""#), "{g}");
            // Claude's thinking goes as an unsigned thought, its redacted block not at all.
            assert!(g.contains(r#"{"text":"by claude","thought":true}"#), "{g}");
            assert!(!g.contains("EqQB") && !g.contains("Ered") && !g.contains("slc"), "{g}");
        }

        fn stream(format: Format, events: &[StreamEvent]) -> String {
            let mut enc = formats::stream_encoder(format, false, &ChatRequest::default());
            let mut out = Vec::new();
            for e in events {
                enc.encode(e, &mut out);
            }
            enc.finish(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        }

        #[test]
        fn streams_mark_tokens_as_the_answers_do() {
            let events = [
                StreamEvent::ThinkingDelta {
                    index: 0,
                    text: "by gemini".into(),
                },
                StreamEvent::ThinkingSignature {
                    index: 0,
                    signature: "slcGCiQBgem".into(),
                },
                StreamEvent::BlockStop { index: 0 },
                StreamEvent::ThinkingDelta {
                    index: 1,
                    text: "by claude".into(),
                },
                StreamEvent::ThinkingSignature {
                    index: 1,
                    signature: "slcCEqQBcla".into(),
                },
                StreamEvent::BlockStop { index: 1 },
                StreamEvent::RedactedThinking {
                    index: 2,
                    data: "slcCEredC".into(),
                },
                StreamEvent::BlockStop { index: 2 },
            ];
            let a = stream(Format::Anthropic, &events);
            assert!(
                a.contains(r#""signature":"slcGCiQBgem""#) && a.contains(r#""signature":"EqQBcla""#),
                "{a}"
            );
            assert!(a.contains(r#""data":"EredC""#), "{a}");
            let g = stream(Format::Gemini, &events);
            assert!(
                g.contains(r#""thoughtSignature":"CiQBgem""#) && g.contains(r#""thoughtSignature":"slcCEqQBcla""#),
                "{g}"
            );
            let b = stream(Format::Bedrock, &events);
            assert!(
                b.contains(r#""signature":"slcGCiQBgem""#) && b.contains(r#""signature":"EqQBcla""#),
                "{b}"
            );
            assert!(b.contains(r#""redactedContent":"EredC""#), "{b}");
            let mut enc = formats::openai::responses::ResponsesStreamEncoder::new(&ChatRequest::default(), b"{}");
            let mut out = Vec::new();
            let o_events = [
                StreamEvent::ThinkingDelta {
                    index: 0,
                    text: "t".into(),
                },
                StreamEvent::ThinkingSignature {
                    index: 0,
                    signature: "slcOgAAAAsig".into(),
                },
                StreamEvent::BlockStop { index: 0 },
                StreamEvent::RedactedThinking {
                    index: 1,
                    data: "slcCEredC".into(),
                },
                StreamEvent::BlockStop { index: 1 },
            ];
            for e in &o_events {
                crate::canonical::stream::StreamEncode::encode(&mut enc, e, &mut out);
            }
            let o = String::from_utf8_lossy(&out);
            assert!(
                o.contains(r#""encrypted_content":"gAAAAsig""#) && o.contains(r#""encrypted_content":"slcCEredC""#),
                "{o}"
            );
        }

        fn decode_stream(format: Format, bytes: &[u8]) -> Vec<StreamEvent> {
            let mut d = formats::stream_decoder(format);
            d.push(bytes::Bytes::copy_from_slice(bytes));
            let _ = d.finish();
            let mut out = Vec::new();
            while let Ok(Some(e)) = d.next_event() {
                out.push(e);
            }
            out
        }

        fn signatures(events: &[StreamEvent]) -> Vec<&str> {
            events
                .iter()
                .filter_map(|e| match e {
                    StreamEvent::ThinkingSignature { signature, .. } => Some(signature.as_str()),
                    StreamEvent::RedactedThinking { data, .. } => Some(data.as_str()),
                    _ => None,
                })
                .collect()
        }

        #[test]
        fn stream_decoders_mark_with_the_upstreams_family() {
            let a = concat!(
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":1,\"output_tokens\":0}}}\n\n",
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n",
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQB\"}}\n\n",
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"redacted_thinking\",\"data\":\"Ered\"}}\n\n",
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
                "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            );
            assert_eq!(
                signatures(&decode_stream(Format::Anthropic, a.as_bytes())),
                ["slcCEqQB", "slcCEred"]
            );
            let g = "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"t\",\"thought\":true,\"thoughtSignature\":\"CiQB\"}]},\"finishReason\":\"STOP\"}]}\r\n\r\n";
            assert_eq!(signatures(&decode_stream(Format::Gemini, g.as_bytes())), ["slcGCiQB"]);
        }
    }
}
