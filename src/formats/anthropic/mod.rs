//! Anthropic Messages wire format (PROTOCOLS section 3), both roles: the integration (a client
//! speaks `POST /v1/messages` to us) and the provider (we speak it to an Anthropic upstream).
//! Pure functions, bytes <-> canonical; no IO, no panics on any input.
//!
//! - `request.rs`: `decode_request` / `encode_request` (`max_tokens` defaults to 4096 on encode);
//! - `one_pass.rs`: a client's body read in one pass, the reading `decode_request` tries first;
//! - `response.rs`: `decode_response` / `encode_response`, stop reasons and usage (canonical input
//!   is the total input, cache reads and writes included);
//! - `error.rs`: `decode_error` / `encode_error` (`{"type":"error","error":{..},"request_id"}`);
//! - `types.rs`: the structs Sluice writes, in the real API's field order.

pub mod error;
pub(crate) mod one_pass;
pub mod request;
pub mod response;
pub mod stream;
pub mod types;
mod write;

pub use error::{decode_error, encode_error};
pub use request::{beta_header, decode_request, encode_request, DEFAULT_MAX_TOKENS, IMAGE_TYPES};
pub use response::{decode_response, encode_response, finish_from_stop_reason, stop_reason_from_finish, usage_to_wire};

/// Provider: the path appended to the upstream base URL. Streaming uses the same path (the body's
/// `stream` flag decides).
pub fn request_path(_model: &str, _stream: bool) -> String {
    "/v1/messages".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::*;
    use crate::formats::Format;
    use sonic_rs::{json, JsonValueTrait};

    const REQ_PROTOCOLS: &[u8] = include_bytes!("fixtures/request_protocols.json");
    const REQ_FULL: &[u8] = include_bytes!("fixtures/request_full.json");
    const RESP_PROTOCOLS: &[u8] = include_bytes!("fixtures/response_protocols.json");
    const RESP_TOOL_THINKING: &[u8] = include_bytes!("fixtures/response_tool_thinking.json");
    const ERR_PROTOCOLS: &[u8] = include_bytes!("fixtures/error_protocols.json");

    fn val(b: &[u8]) -> Json {
        sonic_rs::from_slice(b).unwrap()
    }

    fn ephemeral(extra: &Extra) -> bool {
        extra.format == Some(Format::Anthropic)
            && extra
                .get("cache_control")
                .and_then(|c| c.get("type"))
                .and_then(|t| t.as_str())
                == Some("ephemeral")
    }

    #[test]
    fn protocols_request_fixture_decodes_and_encodes_back() {
        let r = decode_request(REQ_PROTOCOLS, None, false).unwrap();
        assert_eq!(r.model, "claude-sonnet-4-5");
        assert_eq!(r.max_tokens, Some(100));
        assert!(r.stream, "stream comes from the body, not the argument");
        assert_eq!(r.system, vec![Part::text("Be brief")]);
        assert_eq!(r.stop, vec!["\n\nHuman:".to_string()]);
        assert_eq!(r.tool_choice, Some(ToolChoice::Auto));
        assert_eq!(r.parallel_tool_calls, None);
        assert_eq!(r.tools.len(), 1);
        assert_eq!(r.tools[0].name, "get_weather");
        assert_eq!(r.tools[0].description.as_deref(), Some("w"));
        assert_eq!(
            r.tools[0]
                .parameters
                .value()
                .pointer(&sonic_rs::pointer!["required", 0])
                .and_then(|v| v.as_str()),
            Some("city")
        );
        assert_eq!(r.messages.len(), 3);
        assert_eq!(r.messages[0].role, Role::User);
        assert_eq!(
            r.messages[0].content,
            vec![
                Part::text("Weather?"),
                Part::Image {
                    source: ImageSource::Base64 {
                        media_type: "image/png".into(),
                        data: "iVBORw0KGgo=".into()
                    },
                    extra: Extra::default()
                }
            ]
        );
        assert_eq!(
            r.messages[1].content,
            vec![Part::ToolCall {
                id: "toolu_0".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Rome"}"#.into(),
                signature: None,
                extra: Extra::default()
            }]
        );
        assert_eq!(
            r.messages[2].content,
            vec![Part::ToolResult {
                id: "toolu_0".into(),
                name: Some("get_weather".into()),
                content: vec![ToolResultContent::Text("sunny".into())],
                is_error: false,
                extra: Extra::default()
            }]
        );
        assert!(r.extra.is_empty());
        let back = encode_request(&r).unwrap();
        assert_eq!(val(&back), val(REQ_PROTOCOLS));
    }

    #[test]
    fn full_request_fixture_decodes_and_encodes_back() {
        let r = decode_request(REQ_FULL, None, true).unwrap();
        assert!(!r.stream, "stream comes from the body, not the argument");
        assert_eq!(r.max_tokens, Some(2048));
        assert_eq!(r.system.len(), 2);
        assert!(matches!(&r.system[0], Part::Text { extra, .. } if extra.is_empty()));
        assert!(
            matches!(&r.system[1], Part::Text { text, extra } if text == "Long cached context" && ephemeral(extra))
        );
        assert!(matches!(&r.messages[0].content[0], Part::Text { extra, .. } if ephemeral(extra)));
        assert_eq!(
            r.messages[0].content[1],
            Part::Image {
                source: ImageSource::Url("https://example.com/a.png".into()),
                extra: Extra::default()
            }
        );
        let a = &r.messages[1].content;
        assert_eq!(
            a[0],
            Part::Thinking {
                text: "Need the weather first.".into(),
                signature: Some("slcCEqQBCkYIARgCIkD".into())
            }
        );
        assert_eq!(
            a[1],
            Part::RedactedThinking {
                data: "slcCEmwKAhgBEgy3va3pzix".into()
            }
        );
        assert_eq!(a.len(), 5);
        let u = &r.messages[2].content;
        match &u[0] {
            Part::ToolResult {
                id,
                name,
                content,
                is_error,
                ..
            } => {
                assert_eq!(
                    (id.as_str(), name.as_deref(), *is_error),
                    ("toolu_01", Some("get_weather"), false)
                );
                assert_eq!(content.len(), 2);
                assert_eq!(content[0], ToolResultContent::Text("18C".into()));
                assert!(matches!(
                    content[1],
                    ToolResultContent::Image(ImageSource::Base64 { .. })
                ));
            }
            p => panic!("not a tool result: {p:?}"),
        }
        assert!(
            matches!(&u[1], Part::ToolResult { is_error: true, content, .. } if content == &vec![ToolResultContent::Text("timeout".into())])
        );
        assert_eq!(u[2], Part::text("And now?"));
        // With thinking on, Anthropic takes temperature 1, top_p from 0.95, no top_k, no forced tool.
        assert_eq!(r.temperature, Some(1.0));
        assert_eq!(r.top_p, Some(0.95));
        assert_eq!(r.top_k, None);
        assert_eq!(r.stop, vec!["END".to_string(), "STOP".to_string()]);
        assert_eq!(
            r.reasoning,
            Some(Reasoning {
                budget_tokens: Some(1024),
                effort: None
            })
        );
        assert_eq!(r.tool_choice, Some(ToolChoice::Auto));
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert!(ephemeral(&r.tools[0].extra));
        assert_eq!(r.extra.format, Some(Format::Anthropic));
        let names: Vec<&str> = r.extra.fields.iter().map(|(n, _)| n.as_str()).collect();
        // `metadata` holds only `user_id`: it is the canonical end user.
        assert_eq!(names, ["service_tier"]);
        assert_eq!(r.user.as_deref(), Some("u-123"));
        let back = encode_request(&r).unwrap();
        assert_eq!(val(&back), val(REQ_FULL));
    }

    fn canonical_request() -> ChatRequest {
        // An Anthropic-only field beside `metadata`, which is the canonical `user`.
        let mut extra = Extra::new(Format::Anthropic);
        extra.push("service_tier", json!("auto"));
        let mut cache = Extra::new(Format::Anthropic);
        cache.push("cache_control", json!({"type": "ephemeral"}));
        ChatRequest {
            model: "claude-x".into(),
            system: vec![
                Part::text("sys one"),
                Part::Text {
                    text: "sys two".into(),
                    extra: cache.clone(),
                },
            ],
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![
                        Part::Text {
                            text: "hi".into(),
                            extra: cache.clone(),
                        },
                        Part::Image {
                            source: ImageSource::Url("https://x/y.png".into()),
                            extra: Extra::default(),
                        },
                    ],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Part::Thinking {
                            text: "hmm".into(),
                            signature: Some("slcCsig".into()),
                        },
                        Part::RedactedThinking { data: "slcCr".into() },
                        Part::text("calling"),
                        Part::ToolCall {
                            id: "t1".into(),
                            name: "f".into(),
                            arguments: r#"{"a":[1,2]}"#.into(),
                            signature: None,
                            extra: Extra::default(),
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![Part::ToolResult {
                        id: "t1".into(),
                        name: Some("f".into()),
                        content: vec![
                            ToolResultContent::Text("ok".into()),
                            ToolResultContent::Image(ImageSource::Base64 {
                                media_type: "image/png".into(),
                                data: "AA==".into(),
                            }),
                        ],
                        is_error: true,
                        extra: Extra::default(),
                    }],
                },
            ],
            tools: vec![Tool {
                name: "f".into(),
                description: Some("d".into()),
                parameters: json!({"type": "object"}).into(),
                strict: None,
                extra: cache,
            }],
            tool_choice: Some(ToolChoice::Required),
            parallel_tool_calls: Some(true),
            max_tokens: Some(77),
            temperature: Some(0.25),
            top_p: Some(0.95),
            top_k: Some(3),
            stop: vec!["x".into()],
            reasoning: Some(Reasoning {
                budget_tokens: Some(2000),
                effort: None,
            }),
            stream: true,
            user: Some("u".into()),
            extra,
            ..Default::default()
        }
    }

    #[test]
    fn canonical_round_trips_through_anthropic() {
        // Forced tool use and sampling settings, without thinking; then thinking with the
        // settings Anthropic takes alongside it.
        let forced = ChatRequest {
            reasoning: None,
            ..canonical_request()
        };
        let thinking = ChatRequest {
            tool_choice: Some(ToolChoice::Auto),
            max_tokens: Some(4096),
            temperature: Some(1.0),
            top_k: None,
            ..canonical_request()
        };
        for c in [forced, thinking] {
            let wire = encode_request(&c).unwrap();
            let back = decode_request(&wire, None, false).unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn a_message_left_empty_is_not_sent() {
        // A blank OpenAI user message, and Gemini's unsigned reasoning (context for Gemini only):
        // nothing Anthropic can take is left in them, and it refuses an empty message.
        let msg = |role, content| Message { role, content };
        let r = ChatRequest {
            model: "m".into(),
            messages: vec![
                msg(Role::User, vec![Part::text("hi")]),
                msg(
                    Role::Assistant,
                    vec![Part::Thinking {
                        text: "hmm".into(),
                        signature: None,
                    }],
                ),
                msg(Role::User, vec![Part::text("")]),
                msg(Role::Assistant, vec![Part::text("hello")]),
                msg(Role::User, vec![Part::text("again")]),
            ],
            ..Default::default()
        };
        let v = val(&encode_request(&r).unwrap());
        assert_eq!(
            v["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
                {"role": "user", "content": [{"type": "text", "text": "again"}]}
            ])
        );
    }

    #[test]
    fn thinking_is_fitted_to_what_anthropic_takes() {
        let req = |budget: u32, max: Option<u32>| ChatRequest {
            model: "m".into(),
            messages: vec![Message {
                role: Role::User,
                content: vec![Part::text("hi")],
            }],
            max_tokens: max,
            temperature: Some(0.3),
            top_k: Some(5),
            top_p: Some(0.9),
            reasoning: Some(Reasoning {
                budget_tokens: Some(budget),
                effort: None,
            }),
            ..Default::default()
        };
        let sent = |r: &ChatRequest| val(&encode_request(r).unwrap());
        // A Gemini budget of 0 is no thinking; the sampling settings then stay.
        let v = sent(&req(0, None));
        assert!(v.get("thinking").is_none());
        assert_eq!((v["temperature"].as_f64(), v["top_k"].as_u64()), (Some(0.3), Some(5)));
        // Below the minimum: raised to 1,024; temperature and top_k give way to thinking.
        let v = sent(&req(512, None));
        assert_eq!(v["thinking"]["budget_tokens"].as_u64(), Some(1024));
        assert!(v.get("temperature").is_none() && v.get("top_k").is_none());
        assert!(v.get("top_p").is_none(), "top_p below 0.95 gives way too");
        // At or above the client's max_tokens: lowered below it, or no thinking if nothing fits.
        assert_eq!(
            sent(&req(2048, Some(1500)))["thinking"]["budget_tokens"].as_u64(),
            Some(1499)
        );
        assert!(sent(&req(2048, Some(1000))).get("thinking").is_none());
        // A forced tool call is the client's contract; thinking, a wish, gives way.
        let forced = ChatRequest {
            tool_choice: Some(ToolChoice::Required),
            tools: vec![Tool {
                name: "f".into(),
                description: None,
                parameters: json!({"type": "object"}).into(),
                strict: None,
                extra: Extra::default(),
            }],
            ..req(2048, None)
        };
        let v = sent(&forced);
        assert!(v.get("thinking").is_none());
        assert_eq!(v["tool_choice"]["type"].as_str(), Some("any"));
    }

    #[test]
    fn protocols_response_fixture() {
        let r = decode_response(RESP_PROTOCOLS).unwrap();
        assert_eq!(r.id, "msg_01");
        assert_eq!(r.model, "claude-sonnet-4-5");
        assert_eq!(r.content, vec![Part::text("Hello")]);
        assert_eq!(r.finish, FinishReason::Stop);
        assert_eq!(r.stop_sequence, None);
        assert_eq!(
            r.usage,
            Usage {
                input: 10,
                output: 2,
                ..Usage::default()
            }
        );
        assert_eq!(r.created, 0, "Anthropic has no creation time; the proxy fills it in");
        let back = encode_response(&r);
        assert_eq!(val(&back), val(RESP_PROTOCOLS));
        // Real field order, compact.
        let s = String::from_utf8(back).unwrap();
        assert!(s.starts_with(r#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}}"#), "{s}");
    }

    #[test]
    fn tool_and_thinking_response_fixture_with_cache_usage() {
        let r = decode_response(RESP_TOOL_THINKING).unwrap();
        assert_eq!(r.finish, FinishReason::ToolCalls);
        assert_eq!(
            r.usage,
            Usage {
                input: 25 + 100 + 2000,
                output: 42,
                cache_read: 2000,
                cache_write: 100,
                reasoning: 0
            }
        );
        assert_eq!(
            r.content[0],
            Part::Thinking {
                text: "User wants weather.".into(),
                signature: Some("slcCEqQBCkYIARgCIkD".into())
            }
        );
        assert!(
            matches!(&r.content[2], Part::Text { text, extra } if text == "Let me check" && extra.get("citations").is_some())
        );
        assert_eq!(
            r.content[3],
            Part::ToolCall {
                id: "toolu_01".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
                signature: None,
                extra: Extra::default()
            }
        );
        assert_eq!(val(&encode_response(&r)), val(RESP_TOOL_THINKING));
    }

    #[test]
    fn stop_reasons_both_ways() {
        for (wire, canon) in [
            ("end_turn", FinishReason::Stop),
            ("max_tokens", FinishReason::Length),
            ("stop_sequence", FinishReason::StopSequence),
            ("tool_use", FinishReason::ToolCalls),
            ("refusal", FinishReason::ContentFilter),
            ("pause_turn", FinishReason::Other("pause_turn".into())),
            (
                "model_context_window_exceeded",
                FinishReason::Other("model_context_window_exceeded".into()),
            ),
        ] {
            assert_eq!(finish_from_stop_reason(wire), canon);
            assert_eq!(stop_reason_from_finish(&canon), wire);
        }
        assert_eq!(stop_reason_from_finish(&FinishReason::Error), "end_turn");
    }

    #[test]
    fn usage_input_is_total_and_encoding_subtracts() {
        let u = Usage {
            input: 100,
            output: 5,
            cache_read: 60,
            cache_write: 30,
            reasoning: 7,
        };
        let w = response::usage_to_wire(&u);
        assert_eq!(
            (
                w.input_tokens,
                w.cache_read_input_tokens,
                w.cache_creation_input_tokens,
                w.output_tokens
            ),
            (10, 60, 30, 5)
        );
        // Inconsistent canonical counts never underflow.
        let w = response::usage_to_wire(&Usage {
            input: 1,
            cache_read: 5,
            ..Usage::default()
        });
        assert_eq!(w.input_tokens, 0);
    }

    #[test]
    fn error_fixture_and_statuses() {
        let f = decode_error(400, ERR_PROTOCOLS);
        assert_eq!(
            f,
            UpstreamFault {
                status: 400,
                kind: FaultKind::InvalidRequest,
                message: "max_tokens: Field required".into()
            }
        );
        let overloaded = decode_error(
            529,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(overloaded.kind, FaultKind::Overloaded);
        let html = decode_error(502, b"<html>bad gateway</html>");
        assert_eq!(
            (html.kind, html.message.as_str()),
            (
                FaultKind::Server,
                "upstream answered HTTP 502 with an HTML page: bad gateway"
            )
        );
        assert_eq!(decode_error(503, b"").message, "upstream answered HTTP 503");
        let long = "é".repeat(1000);
        assert!(decode_error(500, long.as_bytes()).message.len() <= 512);

        for (status, ty) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (402, "billing_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (504, "timeout_error"),
            (529, "overloaded_error"),
            (503, "overloaded_error"),
            (408, "timeout_error"),
            (502, "api_error"),
        ] {
            let fault = UpstreamFault {
                status,
                kind: FaultKind::from_status(status),
                message: "m".into(),
            };
            let reply = encode_error(&fault);
            assert_eq!(reply.status, status);
            assert_eq!(reply.content_type, "application/json");
            let v = val(&reply.body);
            assert_eq!(v.get("type").and_then(|t| t.as_str()), Some("error"));
            assert_eq!(
                v.pointer(["error", "type"]).and_then(|t| t.as_str()),
                Some(ty),
                "{status}"
            );
            assert_eq!(v.pointer(["error", "message"]).and_then(|t| t.as_str()), Some("m"));
            let rid = v.get("request_id").and_then(|t| t.as_str()).unwrap();
            assert_eq!(reply.headers, vec![("request-id", rid.to_string())]);
            // What we write, we read back.
            let again = decode_error(status, &reply.body);
            assert_eq!(again.message, "m");
        }
        let s = String::from_utf8(
            encode_error(&UpstreamFault {
                status: 429,
                kind: FaultKind::RateLimited,
                message: "slow".into(),
            })
            .body,
        )
        .unwrap();
        assert!(
            s.starts_with(
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow"},"request_id":"req_sluice_"#
            ),
            "{s}"
        );
    }

    /// A tool loop whose assistant turn does not open with signed thinking (any other format's
    /// client) goes without thinking: Anthropic refuses thinking there. One that does keeps it.
    #[test]
    fn tool_loops_without_signed_thinking_go_without_thinking() {
        let loop_turns = |first: Option<Part>| {
            let mut assistant = Vec::new();
            assistant.extend(first);
            assistant.push(Part::ToolCall {
                id: "toolu_1".into(),
                name: "f".into(),
                arguments: "{}".into(),
                signature: None,
                extra: Extra::default(),
            });
            vec![
                Message {
                    role: Role::User,
                    content: vec![Part::text("go")],
                },
                Message {
                    role: Role::Assistant,
                    content: assistant,
                },
                Message {
                    role: Role::User,
                    content: vec![Part::ToolResult {
                        id: "toolu_1".into(),
                        name: None,
                        content: vec![ToolResultContent::Text("ok".into())],
                        is_error: false,
                        extra: Extra::default(),
                    }],
                },
            ]
        };
        let thinking = |first: Option<Part>| {
            let r = ChatRequest {
                model: "m".into(),
                messages: loop_turns(first),
                reasoning: Some(Reasoning {
                    budget_tokens: None,
                    effort: Some("high".into()),
                }),
                ..Default::default()
            };
            let v: Json = sonic_rs::from_slice(&encode_request(&r).unwrap()).unwrap();
            v.get("thinking").is_some()
        };
        assert!(!thinking(None));
        assert!(!thinking(Some(Part::Thinking {
            text: "unsigned, from another provider".into(),
            signature: None
        })));
        assert!(thinking(Some(Part::Thinking {
            text: "hmm".into(),
            signature: Some("sig".into())
        })));
        assert!(thinking(Some(Part::RedactedThinking { data: "x".into() })));
    }

    /// A document a tool returned (from Bedrock's toolResult or Gemini's function-response
    /// parts) goes into the tool_result as a document block, and reads back.
    #[test]
    fn tool_result_documents_encode_and_decode() {
        let r = ChatRequest {
            model: "m".into(),
            messages: vec![
                Message {
                    role: Role::Assistant,
                    content: vec![Part::ToolCall {
                        id: "t".into(),
                        name: "read".into(),
                        arguments: "{}".into(),
                        signature: None,
                        extra: Extra::default(),
                    }],
                },
                Message {
                    role: Role::User,
                    content: vec![Part::ToolResult {
                        id: "t".into(),
                        name: Some("read".into()),
                        content: vec![ToolResultContent::Document {
                            source: DocumentSource::Text("hi".into()),
                            name: Some("notes".into()),
                        }],
                        is_error: false,
                        extra: Extra::default(),
                    }],
                },
            ],
            ..Default::default()
        };
        let body = encode_request(&r).unwrap();
        let v: Json = sonic_rs::from_slice(&body).unwrap();
        assert_eq!(
            v["messages"][1]["content"][0]["content"],
            json!([{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hi"}, "title": "notes"}])
        );
        let back = decode_request(&body, None, false).unwrap();
        assert_eq!(back.messages[1], r.messages[1]);
    }

    /// Structured outputs (GA `output_config.format`, the beta's `output_format`) used to be
    /// refused going to Anthropic and dropped coming from it.
    #[test]
    fn structured_outputs_cross_both_ways() {
        let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false});
        let mut c = canonical_request();
        c.extra = Extra::default();
        c.response_format = Some(ResponseFormat::JsonSchema {
            name: "weather".into(),
            schema: schema.clone().into(),
            strict: Some(true),
        });
        let v: Json = sonic_rs::from_slice(&encode_request(&c).unwrap()).unwrap();
        assert_eq!(
            v["output_config"],
            json!({"format": {"type": "json_schema", "schema": schema.clone()}})
        );
        // An Anthropic client's own: the format is canonical, its other members stay its own
        // and go back beside the format.
        for body in [
            format!(
                r#"{{"model":"m","max_tokens":5,"messages":[{{"role":"user","content":"hi"}}],"output_config":{{"effort":"low","format":{{"type":"json_schema","schema":{schema}}}}}}}"#
            ),
            format!(
                r#"{{"model":"m","max_tokens":5,"messages":[{{"role":"user","content":"hi"}}],"output_config":{{"effort":"low"}},"output_format":{{"type":"json_schema","schema":{schema}}}}}"#
            ),
        ] {
            let r = decode_request(body.as_bytes(), None, false).unwrap();
            assert_eq!(
                r.response_format,
                Some(ResponseFormat::JsonSchema {
                    name: "response".into(),
                    schema: schema.clone().into(),
                    strict: None
                })
            );
            let v: Json = sonic_rs::from_slice(&encode_request(&r).unwrap()).unwrap();
            assert_eq!(
                v["output_config"],
                json!({"effort": "low", "format": {"type": "json_schema", "schema": schema.clone()}}),
                "{body}"
            );
            assert!(v.get("output_format").is_none());
        }
        let bad = br#"{"model":"m","max_tokens":5,"messages":[],"output_config":{"format":{"type":"xml"}}}"#;
        assert_eq!(
            decode_request(bad, None, false).unwrap_err().field,
            "output_config.format.type"
        );
    }

    #[test]
    fn untranslatable_fields_are_named() {
        let mut c = canonical_request();
        c.seed = Some(1);
        assert_eq!(encode_request(&c).unwrap_err().field, "seed");
        let mut c = canonical_request();
        c.response_format = Some(ResponseFormat::JsonObject);
        assert_eq!(encode_request(&c).unwrap_err().field, "response_format");
        c.response_format = Some(ResponseFormat::Text);
        assert!(encode_request(&c).is_ok());
        let mut c = canonical_request();
        c.messages[1].content[3] = Part::ToolCall {
            id: "t".into(),
            name: "f".into(),
            arguments: "{\"a\":".into(),
            signature: None,
            extra: Extra::default(),
        };
        assert_eq!(
            encode_request(&c).unwrap_err().field,
            "messages[1].content[3].arguments"
        );
    }

    #[test]
    fn bad_requests_are_named() {
        for (body, field) in [
            (&br#"[]"#[..], ""),
            (br#"{"messages":[]}"#, "model"),
            (br#"{"model":"m"}"#, "messages"),
            (br#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#, "messages[0].role"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}"#, "messages[0].content[0].source.type"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{"type":"file","file_id":"f"}}]}]}"#, "messages[0].content[0].source.type"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"image/png","data":"AA"}}]}]}"#, "messages[0].content[0].source.media_type"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{"type":"url","url":"ftp://x/a.pdf"}}]}]}"#, "messages[0].content[0].source.url"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"search_result"}]}]}"#, "messages[0].content[0].type"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}"#, "messages[0].content[0].source.type"),
            (br#"{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}"#, "messages[0].content[0].text"),
            (br#"{"model":"m","max_tokens":-1,"messages":[]}"#, "max_tokens"),
            (br#"{"model":"m","temperature":"hot","messages":[]}"#, "temperature"),
            (br#"{"model":"m","tool_choice":{"type":"some"},"messages":[]}"#, "tool_choice.type"),
            (br#"{"model":"m","tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[]}"#, "tools[0].type"),
            (br#"{"model":"m","tools":[{"name":"f"}],"messages":[]}"#, "tools[0].input_schema"),
            (br#"{"model":"m","system":[{"type":"image"}],"messages":[]}"#, "system[0].type"),
        ] {
            let e = decode_request(body, None, false).unwrap_err();
            assert_eq!(e.field, field, "{}", String::from_utf8_lossy(body));
        }
    }

    const REQ_DOCUMENTS: &[u8] = include_bytes!("fixtures/request_documents.json");

    #[test]
    fn documents_decode_with_title_and_extras() {
        let r = decode_request(REQ_DOCUMENTS, None, false).unwrap();
        let c = &r.messages[0].content;
        let Part::Document { source, name, extra } = &c[0] else {
            panic!("{:?}", c[0])
        };
        assert_eq!(
            source,
            &DocumentSource::Base64 {
                media_type: "application/pdf".into(),
                data: "JVBERi0xLjQKJcOkw7zDtsOfCg==".into()
            }
        );
        assert_eq!(name.as_deref(), Some("Q3 report.pdf"));
        assert!(ephemeral(extra));
        assert_eq!(extra.get("context"), Some(&json!("Quarterly figures")));
        assert_eq!(extra.get("citations"), Some(&json!({"enabled": true})));
        assert_eq!(
            c[1],
            Part::Document {
                source: DocumentSource::Text("Revenue grew 12% in Q3.".into()),
                name: None,
                extra: Extra::default()
            }
        );
        let url = decode_request(
            br#"{"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{"type":"url","url":"https://x/a.pdf"}}]}]}"#,
            None,
            false,
        )
        .unwrap();
        assert!(
            matches!(&url.messages[0].content[0], Part::Document { source: DocumentSource::Url(u), .. } if u == "https://x/a.pdf")
        );
    }

    #[test]
    fn image_types_are_spelled_as_anthropic_takes_them() {
        // OpenAI's data URLs take `image/jpg` and any case; Anthropic's enum only the four
        // lower-case types, and answered these with a 400. Unknown types go as sent.
        let image = |url: &str| Part::Image {
            source: crate::canonical::image_source_from_url(url).unwrap(),
            extra: Extra::new(Format::OpenAi),
        };
        let mut c = canonical_request();
        c.messages = vec![Message {
            role: Role::User,
            content: ["image/jpg", "IMAGE/PNG", "image/Webp", "image/heic"]
                .iter()
                .map(|t| image(&format!("data:{t};base64,AAAA")))
                .collect(),
        }];
        let v = val(&encode_request(&c).unwrap());
        let types: Vec<&str> = (0..4)
            .map(|k| v["messages"][0]["content"][k]["source"]["media_type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["image/jpeg", "image/png", "image/webp", "image/heic"]);
    }

    #[test]
    fn documents_encode_back_and_from_other_formats() {
        // Same format: the blocks come back as they were sent.
        let r = decode_request(REQ_DOCUMENTS, None, false).unwrap();
        let v = val(&encode_request(&r).unwrap());
        assert_eq!(v["messages"], val(REQ_DOCUMENTS)["messages"]);
        // Another format's text document (Gemini, Bedrock: base64 text/*) becomes a text source;
        // its extras stay behind; a URL is a url source.
        let doc = |source| Part::Document {
            source,
            name: Some("notes".into()),
            extra: Extra::new(Format::Bedrock),
        };
        let mut c = canonical_request();
        c.messages = vec![Message {
            role: Role::User,
            content: vec![
                doc(DocumentSource::Base64 {
                    media_type: "text/markdown".into(),
                    data: "IyBIaQ==".into(),
                }),
                doc(DocumentSource::Url("https://x/a.pdf".into())),
            ],
        }];
        let v = val(&encode_request(&c).unwrap());
        assert_eq!(
            v["messages"][0]["content"],
            json!([
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "# Hi"}, "title": "notes"},
                {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}, "title": "notes"}
            ])
        );
        // Office files and text that is not UTF-8 cannot be sent; the error names the part.
        for (media_type, data) in [("application/msword", "AAAA"), ("text/plain", "/w==")] {
            c.messages[0].content[1] = doc(DocumentSource::Base64 {
                media_type: media_type.into(),
                data: data.into(),
            });
            assert_eq!(encode_request(&c).unwrap_err().field, "messages[0].content[1].source");
        }
    }

    #[test]
    fn a_bedrock_documents_context_and_citations_reach_anthropic() {
        // Converse names and shapes them as Anthropic does, and the way back keeps an Anthropic
        // client's: dropped, the document would lose its context and the answer its citations.
        let mut extra = Extra::new(Format::Bedrock);
        extra.push("context", json!("Quarterly figures"));
        extra.push("citations", json!({"enabled": true}));
        extra.push("cachePoint", json!({"type": "default"}));
        let mut c = canonical_request();
        c.messages = vec![Message {
            role: Role::User,
            content: vec![Part::Document {
                source: DocumentSource::Text("Revenue grew.".into()),
                name: Some("report".into()),
                extra,
            }],
        }];
        let v = val(&encode_request(&c).unwrap());
        assert_eq!(
            v["messages"][0]["content"][0],
            json!({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Revenue grew."},
                   "title": "report", "context": "Quarterly figures", "citations": {"enabled": true},
                   "cache_control": {"type": "ephemeral"}})
        );
    }

    #[test]
    fn a_bedrock_cache_points_ttl_reaches_anthropic() {
        // Both APIs take `5m` and `1h`: dropped, a `1h` cache would lapse after 5 minutes.
        let mut extra = Extra::new(Format::Bedrock);
        extra.push("cachePoint", json!({"type": "default", "ttl": "1h"}));
        let mut c = canonical_request();
        c.messages = vec![Message {
            role: Role::User,
            content: vec![Part::Text {
                text: "long doc".into(),
                extra,
            }],
        }];
        let v = val(&encode_request(&c).unwrap());
        assert_eq!(
            v["messages"][0]["content"][0],
            json!({"type": "text", "text": "long doc", "cache_control": {"type": "ephemeral", "ttl": "1h"}})
        );
    }

    #[test]
    fn decode_variants() {
        let r = decode_request(
            br#"{"model":"m","max_tokens":5,"messages":[{"role":"system","content":"late system"},{"role":"user","content":"hi"},{"role":"user","content":[{"type":"image","source":{"type":"url","url":"data:image/gif;base64,R0lG"}},{"type":"tool_result","tool_use_id":"x"}]}],
               "tool_choice":{"type":"any","disable_parallel_tool_use":false},"thinking":{"type":"adaptive"},"temperature":null,"container":"c"}"#,
            None,
            false,
        )
        .unwrap();
        assert_eq!(r.system, vec![Part::text("late system")]);
        assert_eq!(r.messages[0].content, vec![Part::text("hi")]);
        assert_eq!(
            r.messages[1].content[0],
            Part::Image {
                source: ImageSource::Base64 {
                    media_type: "image/gif".into(),
                    data: "R0lG".into()
                },
                extra: Extra::default()
            }
        );
        assert!(
            matches!(&r.messages[1].content[1], Part::ToolResult { content, name: None, .. } if content.is_empty())
        );
        assert_eq!(r.tool_choice, Some(ToolChoice::Required));
        assert_eq!(r.parallel_tool_calls, Some(true));
        assert_eq!(r.reasoning, None);
        assert_eq!(r.temperature, None);
        assert_eq!(r.extra.get("thinking"), Some(&json!({"type": "adaptive"})));
        assert_eq!(r.extra.get("container"), Some(&json!("c")));
        // The adaptive thinking goes back to an Anthropic target unchanged.
        let v = val(&encode_request(&r).unwrap());
        assert_eq!(v.get("thinking"), Some(&json!({"type": "adaptive"})));
    }

    #[test]
    fn encode_from_other_formats() {
        // What an OpenAI-shaped canonical request looks like.
        let mut foreign = Extra::new(Format::OpenAi);
        foreign.push("user", json!("u"));
        let mut detail = Extra::new(Format::OpenAi);
        detail.push("detail", json!("high"));
        let c = ChatRequest {
            model: "claude".into(),
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![Part::Image {
                        source: ImageSource::Url("data:image/png;base64,AAAA".into()),
                        extra: detail,
                    }],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Part::text(""),
                        Part::Thinking {
                            text: "unsigned".into(),
                            signature: None,
                        },
                        Part::ToolCall {
                            id: "call_1".into(),
                            name: "f".into(),
                            arguments: "".into(),
                            signature: None,
                            extra: Extra::default(),
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![Part::ToolResult {
                        id: "call_1".into(),
                        name: None,
                        content: vec![ToolResultContent::Json(json!({"t": 1}))],
                        is_error: false,
                        extra: Extra::default(),
                    }],
                },
                Message {
                    role: Role::User,
                    content: vec![Part::text("next")],
                },
            ],
            tools: vec![Tool {
                name: "f".into(),
                description: None,
                parameters: json!({"type": "object"}).into(),
                strict: None,
                extra: Extra::default(),
            }],
            parallel_tool_calls: Some(false),
            reasoning: Some(Reasoning {
                budget_tokens: None,
                effort: Some("high".into()),
            }),
            extra: foreign,
            ..Default::default()
        };
        let v = val(&encode_request(&c).unwrap());
        // A tool loop from another format: no signed thinking to open the assistant turn with,
        // so the effort is left out (see `tool_loop_without_thinking`).
        let expected = json!({
            "max_tokens": 4096,
            "messages": [
                {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "f", "input": {}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "{\"t\":1}"}]},
                    {"type": "text", "text": "next"}
                ]}
            ],
            "model": "claude",
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
            "tools": [{"name": "f", "input_schema": {"type": "object"}}]
        });
        assert_eq!(v, expected, "{}", sonic_rs::to_string(&v).unwrap());
        // An effort's budget stays under the client's max_tokens (Anthropic refuses the
        // request otherwise), and below Anthropic's minimum budget there is no thinking.
        let thinking = |effort: &str, max: u32| {
            let r = ChatRequest {
                model: "m".into(),
                max_tokens: Some(max),
                reasoning: Some(Reasoning {
                    budget_tokens: None,
                    effort: Some(effort.into()),
                }),
                ..Default::default()
            };
            let v = val(&encode_request(&r).unwrap());
            assert_eq!(v.get("max_tokens").and_then(|m| m.as_u64()), Some(u64::from(max)));
            v.pointer(&sonic_rs::pointer!["thinking", "budget_tokens"])
                .and_then(|b| b.as_u64())
        };
        assert_eq!(thinking("high", 2000), Some(1999));
        assert_eq!(thinking("high", 10_000), Some(4096));
        assert_eq!(thinking("medium", 2049), Some(2048));
        assert_eq!(thinking("low", 1024), None);
        assert_eq!(thinking("low", 500), None);
        // A tool choice without tools (an OpenAI client's `"tool_choice":"none"` alone) is not sent.
        let no_tools = ChatRequest {
            model: "m".into(),
            tool_choice: Some(ToolChoice::None),
            parallel_tool_calls: Some(false),
            ..Default::default()
        };
        assert!(val(&encode_request(&no_tools).unwrap()).get("tool_choice").is_none());
        // No thinking, no max_tokens: the default.
        let plain = ChatRequest {
            model: "m".into(),
            ..Default::default()
        };
        let v = val(&encode_request(&plain).unwrap());
        assert_eq!(v.get("max_tokens").and_then(|m| m.as_u64()), Some(4096));
        assert_eq!(request_path("claude", true), "/v1/messages");
    }

    #[test]
    fn garbage_never_panics() {
        let samples: [&[u8]; 9] = [
            b"",
            b"{",
            b"null",
            b"{\"model\":1}",
            b"{\"content\":{}}",
            b"{\"content\":[1,{\"type\":7},{\"type\":\"tool_use\",\"input\":[]}]}",
            b"{\"model\":\"m\",\"messages\":[1,2]}",
            b"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[null]}]}",
            &[0xff, 0xfe, 0x00],
        ];
        for s in samples {
            let _ = decode_request(s, None, false);
            let _ = decode_response(s);
            let _ = decode_error(500, s);
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = decode_request(&body, None, false);
            let _ = decode_response(&body);
            let _ = decode_error(400, &body);
        }
    }

    /// Strict tool use (`strict` on a tool) used to stay an Anthropic extra: lost for other
    /// formats, and other formats' strict tools reached Anthropic without it.
    #[test]
    fn tool_strict_is_canonical() {
        let body = br#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],
            "tools":[{"name":"f","strict":true,"input_schema":{"type":"object","additionalProperties":false},"cache_control":{"type":"ephemeral"}},
                     {"name":"g","input_schema":{"type":"object"}}]}"#;
        let r = decode_request(body, None, false).unwrap();
        assert_eq!((r.tools[0].strict, r.tools[1].strict), (Some(true), None));
        let names: Vec<&str> = r.tools[0].extra.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["cache_control"]);
        let v = val(&encode_request(&r).unwrap());
        assert_eq!(v["tools"], val(body)["tools"]);
        let mut foreign = r.clone();
        foreign.tools[0].extra = Extra::new(Format::OpenAi);
        let v = val(&encode_request(&foreign).unwrap());
        assert_eq!(v["tools"][0]["strict"], json!(true));
        let bad =
            br#"{"model":"m","max_tokens":5,"messages":[],"tools":[{"name":"f","input_schema":{},"strict":"y"}]}"#;
        assert_eq!(decode_request(bad, None, false).unwrap_err().field, "tools[0].strict");
    }
}
