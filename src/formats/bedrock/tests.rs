//! Unit tests of the Bedrock codec: PROTOCOLS 5.2/5.3/5.6 fixtures decoded, checked and encoded
//! back; canonical round trips; field-naming errors; every prefix of every fixture without panic.

use super::*;
use sonic_rs::json;

const REQUEST: &[u8] = include_bytes!("fixtures/converse_request.json");
const RESPONSE: &[u8] = include_bytes!("fixtures/converse_response.json");
const ERROR: &[u8] = include_bytes!("fixtures/error_validation.json");
const MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

fn cache_extra(cp: &Value) -> Extra {
    let mut e = Extra::new(Format::Bedrock);
    e.push("cachePoint", cp.clone());
    e
}

fn value(b: &[u8]) -> Value {
    sonic_rs::from_slice(b).unwrap()
}

/// Compares two JSON objects key by key (reporting the first differing key).
fn assert_same_fields(got: &Value, want: &Value) {
    let (g, w) = (got.as_object().unwrap(), want.as_object().unwrap());
    for (k, wv) in w.iter() {
        assert_eq!(g.get(&k), Some(wv), "field {k}");
    }
    assert_eq!(g.len(), w.len(), "got {got:?}");
}

#[test]
fn paths_parse_with_decoded_model_ids() {
    assert_eq!(
        parse_path("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"),
        Some((MODEL.to_string(), Operation::Converse))
    );
    assert_eq!(
        parse_path("/bedrock/model/m/converse-stream"),
        Some(("m".into(), Operation::ConverseStream))
    );
    assert_eq!(parse_path("/model/m/invoke?x=1"), Some(("m".into(), Operation::Invoke)));
    assert_eq!(
        parse_path("/model/m/invoke-with-response-stream"),
        Some(("m".into(), Operation::InvokeStream))
    );
    let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-v1";
    assert_eq!(
        parse_path(&format!("/model/{}/converse", percent_encode(arn))),
        Some((arn.to_string(), Operation::Converse))
    );
    // An ARN with a raw '/' still splits on the last segment.
    assert_eq!(
        parse_path(&format!("/model/{arn}/converse")),
        Some((arn.to_string(), Operation::Converse))
    );
    for bad in [
        "/model//converse",
        "/model/m/chat",
        "/model/m",
        "/v1/chat/completions",
        "/model/%zz/converse",
        "/model/%4/converse",
        "/model/%FF/converse",
        "/bedrockmodel/m/converse",
        "",
    ] {
        assert_eq!(parse_path(bad), None, "{bad}");
    }
}

#[test]
fn request_path_percent_encodes_the_id() {
    assert_eq!(
        request_path(MODEL, false),
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    );
    assert_eq!(request_path("a/b c", true), "/model/a%2Fb%20c/converse-stream");
    let (id, op) = parse_path(&request_path("x:y/ü~", true)).unwrap();
    assert_eq!((id.as_str(), op), ("x:y/ü~", Operation::ConverseStream));
}

#[test]
fn fixture_request_decodes_to_canonical() {
    let r = decode_request(REQUEST, Some(MODEL), false).unwrap();
    assert_eq!(r.model, MODEL);
    assert!(!r.stream);
    assert_eq!(r.system, vec![Part::text("Be brief")]);
    assert_eq!(r.messages.len(), 3);
    assert_eq!(r.messages[0].role, Role::User);
    assert_eq!(
        r.messages[0].content,
        vec![
            Part::text("Weather?"),
            Part::Image {
                source: ImageSource::Base64 {
                    media_type: "image/png".into(),
                    data: "iVBORw==".into()
                },
                extra: Extra::default()
            }
        ]
    );
    assert_eq!(
        r.messages[1].content,
        vec![Part::ToolCall {
            id: "tooluse_0".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Rome"}"#.into(),
            signature: None,
            extra: Extra::default()
        }]
    );
    assert_eq!(
        r.messages[2].content,
        vec![Part::ToolResult {
            id: "tooluse_0".into(),
            name: Some("get_weather".into()),
            content: vec![ToolResultContent::Json(json!({"result": "sunny"}))],
            is_error: false,
            extra: Extra::default()
        }]
    );
    assert_eq!(r.max_tokens, Some(50));
    assert_eq!(r.temperature, Some(0.2));
    assert_eq!(r.top_p, Some(0.9));
    assert_eq!(r.stop, vec!["END".to_string()]);
    assert_eq!(r.top_k, Some(40));
    assert_eq!(r.tools.len(), 1);
    assert_eq!(r.tools[0].name, "get_weather");
    assert_eq!(r.tools[0].description.as_deref(), Some("w"));
    assert_eq!(
        r.tools[0].parameters.value(),
        json!({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})
    );
    assert_eq!(r.tool_choice, Some(ToolChoice::Auto));
    assert!(r.extra.is_empty());
}

#[test]
fn fixture_request_encodes_back_field_by_field() {
    let r = decode_request(REQUEST, Some(MODEL), false).unwrap();
    let out = encode_request(&r).unwrap();
    assert_same_fields(&value(&out), &value(REQUEST));
}

#[test]
fn fixture_response_decodes_and_encodes_back() {
    let r = decode_response(RESPONSE).unwrap();
    assert_eq!(r.content, vec![Part::text("Hello")]);
    assert_eq!(r.finish, FinishReason::Stop);
    assert_eq!(
        r.usage,
        Usage {
            input: 10,
            output: 2,
            ..Usage::default()
        }
    );
    let out = value(&encode_response(&r));
    let want = value(RESPONSE);
    for k in ["output", "stopReason", "usage"] {
        assert_eq!(out.get(k), want.get(k), "{k}");
    }
    assert!(out.pointer(&["metrics", "latencyMs"]).unwrap().is_u64());
    // Real field order: output, stopReason, usage, metrics.
    let text = String::from_utf8(encode_response(&r)).unwrap();
    let pos = |k: &str| text.find(k).unwrap();
    assert!(pos("\"output\"") < pos("\"stopReason\""));
    assert!(pos("\"stopReason\"") < pos("\"usage\""));
    assert!(pos("\"usage\"") < pos("\"metrics\""));
}

fn rich_request() -> ChatRequest {
    // Decode order: additionalModelRequestFields is written before the other extras.
    let mut extra = Extra::new(Format::Bedrock);
    extra.push("additionalModelRequestFields", json!({"anthropic_beta": ["x"]}));
    extra.push(
        "guardrailConfig",
        json!({"guardrailIdentifier": "g1", "guardrailVersion": "1"}),
    );
    ChatRequest {
        model: MODEL.into(),
        system: vec![
            Part::Text {
                text: "sys one".into(),
                extra: cache_extra(&json!({"type": "default"})),
            },
            Part::text("sys two"),
        ],
        messages: vec![
            Message {
                role: Role::User,
                content: vec![
                    Part::text("look"),
                    Part::Image {
                        source: ImageSource::Base64 {
                            media_type: "image/jpeg".into(),
                            data: "/9j/4A==".into(),
                        },
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
                    Part::RedactedThinking {
                        data: "slcCcmVk".into(),
                    },
                    Part::text("calling"),
                    Part::ToolCall {
                        id: "t1".into(),
                        name: "get_weather".into(),
                        arguments: r#"{"city":"Paris"}"#.into(),
                        signature: None,
                        extra: Extra::default(),
                    },
                    Part::ToolCall {
                        id: "t2".into(),
                        name: "get_weather".into(),
                        arguments: r#"{"city":"Rome"}"#.into(),
                        signature: None,
                        extra: Extra::default(),
                    },
                ],
            },
            Message {
                role: Role::User,
                content: vec![
                    Part::ToolResult {
                        id: "t1".into(),
                        name: Some("get_weather".into()),
                        content: vec![ToolResultContent::Text("sunny".into())],
                        is_error: false,
                        extra: Extra::default(),
                    },
                    Part::ToolResult {
                        id: "t2".into(),
                        name: Some("get_weather".into()),
                        content: vec![
                            ToolResultContent::Json(json!({"e": 1})),
                            ToolResultContent::Image(ImageSource::Base64 {
                                media_type: "image/webp".into(),
                                data: "UklG".into(),
                            }),
                        ],
                        is_error: true,
                        extra: Extra::default(),
                    },
                ],
            },
        ],
        tools: vec![Tool {
            name: "get_weather".into(),
            description: None,
            parameters: json!({"type": "object"}).into(),
            strict: None,
            extra: Extra::default(),
        }],
        tool_choice: Some(ToolChoice::Named("get_weather".into())),
        max_tokens: Some(100),
        temperature: Some(0.5),
        top_p: Some(1.0),
        top_k: Some(5),
        stop: vec!["STOP".into()],
        response_format: Some(ResponseFormat::JsonSchema {
            name: "answer".into(),
            schema: json!({"type": "object", "properties": {"a": {"type": "string"}}}).into(),
            strict: None,
        }),
        reasoning: Some(Reasoning {
            budget_tokens: Some(2048),
            effort: Some("high".into()),
        }),
        stream: true,
        include_usage: true,
        extra,
        ..Default::default()
    }
}

#[test]
fn canonical_round_trips_through_converse() {
    let mut req = rich_request();
    // Claude refuses a thinking budget beside a forced tool, a temperature and top_k; it is
    // fitted (see `claude_thinking_is_fitted_as_for_the_messages_api`), so not round-tripped.
    req.reasoning.as_mut().unwrap().budget_tokens = None;
    let body = encode_request(&req).unwrap();
    let v = value(&body);
    assert_eq!(
        v.get("system").unwrap(),
        &json!([{"text": "sys one"}, {"cachePoint": {"type": "default"}}, {"text": "sys two"}])
    );
    assert_eq!(
        v.get("additionalModelRequestFields").unwrap(),
        &json!({"anthropic_beta": ["x"], "top_k": 5})
    );
    assert_eq!(
        v.pointer(&["toolConfig", "toolChoice"]).unwrap(),
        &json!({"tool": {"name": "get_weather"}})
    );
    assert_eq!(
        v.get("guardrailConfig").unwrap(),
        &json!({"guardrailIdentifier": "g1", "guardrailVersion": "1"})
    );
    assert_eq!(v.pointer(&["outputConfig", "effort"]).unwrap().as_str(), Some("high"));
    let back = decode_request(&body, Some(MODEL), true).unwrap();
    assert_eq!(back, req);
}

/// Claude's thinking rules hold on Bedrock too: a Gemini client's budget of 512 was sent as it
/// was (Claude's minimum is 1,024), as was a budget beside a forced tool, a temperature, top_k,
/// or in a tool loop whose assistant turn has no signed thinking.
#[test]
fn claude_thinking_is_fitted_as_for_the_messages_api() {
    let fields = |req: &ChatRequest| {
        let v = value(&encode_request(req).unwrap());
        (
            v.pointer(&["additionalModelRequestFields", "thinking", "budget_tokens"])
                .and_then(|b| b.as_u64()),
            v.pointer(&["additionalModelRequestFields", "top_k"]).is_some()
                || v.pointer(&["additionalModelRequestFields", "inferenceConfig", "topK"])
                    .is_some(),
            v.pointer(&["inferenceConfig", "temperature"]).and_then(|t| t.as_f64()),
        )
    };
    let base = || ChatRequest {
        model: MODEL.into(),
        messages: vec![Message {
            role: Role::User,
            content: vec![Part::text("hi")],
        }],
        reasoning: Some(Reasoning {
            budget_tokens: Some(512),
            effort: None,
        }),
        temperature: Some(0.5),
        top_k: Some(5),
        top_p: Some(0.5),
        ..Default::default()
    };
    assert_eq!(fields(&base()), (Some(1024), false, None));
    let v = value(&encode_request(&base()).unwrap());
    assert!(
        v.pointer(&["inferenceConfig", "topP"]).is_none(),
        "top_p below 0.95 gives way"
    );
    let mut r = base();
    r.max_tokens = Some(1500);
    r.reasoning.as_mut().unwrap().budget_tokens = Some(4000);
    r.temperature = Some(1.0);
    assert_eq!(fields(&r), (Some(1499), false, Some(1.0)));
    let mut r = base();
    r.tool_choice = Some(ToolChoice::Required);
    assert_eq!(fields(&r), (None, true, Some(0.5)));
    let mut r = base();
    r.messages.push(Message {
        role: Role::Assistant,
        content: vec![Part::ToolCall {
            id: "a".into(),
            name: "f".into(),
            arguments: "{}".into(),
            signature: None,
            extra: Extra::default(),
        }],
    });
    r.messages.push(Message {
        role: Role::User,
        content: vec![Part::ToolResult {
            id: "a".into(),
            name: None,
            content: vec![ToolResultContent::Text("ok".into())],
            is_error: false,
            extra: Extra::default(),
        }],
    });
    assert_eq!(fields(&r), (None, true, Some(0.5)));
    let mut r = base();
    r.reasoning.as_mut().unwrap().budget_tokens = Some(0);
    assert_eq!(fields(&r), (None, true, Some(0.5)), "a budget of 0 is no thinking");
    // Other models refuse Claude's `thinking` key: they get none, and the sampling as asked.
    let mut r = base();
    r.model = "amazon.nova-pro-v1:0".into();
    assert_eq!(fields(&r), (None, true, Some(0.5)), "thinking is Claude's");
    // An id that names no vendor (an application inference profile) may be Claude.
    r.model = "arn:aws:bedrock:us-east-1:1:application-inference-profile/abc".into();
    assert_eq!(fields(&r), (Some(1024), false, None));
}

/// A message of `role` with `content`.
fn message(role: Role, content: Vec<Part>) -> Message {
    Message { role, content }
}

/// Reasoning without Claude's signature (a Cohere client sends its thinking back unsigned) is
/// left out of the history, as for Anthropic: Claude refuses it ("signature: Field required").
#[test]
fn unsigned_reasoning_stays_out_of_the_history() {
    let thinking = |signature: Option<&str>| Part::Thinking {
        text: "I should check.".into(),
        signature: signature.map(str::to_string),
    };
    let req = ChatRequest {
        messages: vec![
            message(Role::User, vec![Part::text("hi")]),
            message(Role::Assistant, vec![thinking(None), Part::text("hello")]),
            message(Role::User, vec![Part::text("again")]),
            message(Role::Assistant, vec![thinking(Some("sig")), Part::text("still here")]),
        ],
        ..Default::default()
    };
    let v = value(&encode_request(&req).unwrap());
    assert_eq!(v["messages"][1]["content"], json!([{"text": "hello"}]));
    assert_eq!(
        v["messages"][3]["content"][0],
        json!({"reasoningContent": {"reasoningText": {"text": "I should check.", "signature": "sig"}}})
    );
}

#[test]
fn tool_choices_map_both_ways() {
    for (tc, wire) in [
        (ToolChoice::Auto, json!({"auto": {}})),
        (ToolChoice::Required, json!({"any": {}})),
        (ToolChoice::Named("f".into()), json!({"tool": {"name": "f"}})),
    ] {
        let mut r = rich_request();
        r.tool_choice = Some(tc.clone());
        let v = value(&encode_request(&r).unwrap());
        assert_eq!(v.pointer(&["toolConfig", "toolChoice"]).unwrap(), &wire);
        assert_eq!(
            decode_request(&encode_request(&r).unwrap(), None, false)
                .unwrap()
                .tool_choice,
            Some(tc)
        );
    }
}

#[test]
fn tool_choice_none_drops_tool_config() {
    let mut r = ChatRequest {
        messages: vec![message(Role::User, vec![Part::text("hi")])],
        tools: rich_request().tools,
        tool_choice: Some(ToolChoice::None),
        ..Default::default()
    };
    let v = value(&encode_request(&r).unwrap());
    assert!(v.get("toolConfig").is_none());
    // With tool blocks in the history Bedrock needs toolConfig: tools stay, no toolChoice.
    r.messages = rich_request().messages;
    let v = value(&encode_request(&r).unwrap());
    assert!(v.pointer(&["toolConfig", "tools"]).is_some());
    assert!(v.pointer(&["toolConfig", "toolChoice"]).is_none());
}

#[test]
fn tool_history_without_tools_declares_the_called_tools() {
    let mut r = rich_request();
    r.tools.clear();
    r.messages[1].content.push(Part::ToolCall {
        id: "t3".into(),
        name: "get_time".into(),
        arguments: "{}".into(),
        signature: None,
        extra: Extra::default(),
    });
    for choice in [None, Some(ToolChoice::None)] {
        r.tool_choice = choice;
        let v = value(&encode_request(&r).unwrap());
        let config = v.get("toolConfig").expect("toolConfig for the tool history");
        assert!(config.get("toolChoice").is_none());
        let tools = config.get("tools").unwrap().as_array().unwrap();
        let names: Vec<&str> = tools
            .iter()
            .map(|t| {
                t.pointer(&sonic_rs::pointer!["toolSpec", "name"])
                    .unwrap()
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(names, ["get_weather", "get_time"]);
        assert_eq!(
            tools[0]
                .pointer(&sonic_rs::pointer!["toolSpec", "inputSchema"])
                .unwrap(),
            &json!({"json": {"type": "object"}})
        );
        assert!(tools[0]
            .pointer(&sonic_rs::pointer!["toolSpec", "description"])
            .unwrap()
            .as_str()
            .is_some_and(|d| !d.is_empty()));
    }
    // No tool blocks, no tools: still no toolConfig.
    r.messages.truncate(1);
    assert!(value(&encode_request(&r).unwrap()).get("toolConfig").is_none());
}

#[test]
fn image_url_is_a_convert_error_naming_the_field() {
    let mut r = rich_request();
    r.messages[0].content[1] = Part::Image {
        source: ImageSource::Url("https://example.com/cat.png".into()),
        extra: Extra::default(),
    };
    let e = encode_request(&r).unwrap_err();
    assert_eq!(e.field, "messages[0].content[1].image");
    assert!(e.message.contains("URL"), "{e}");
    r.messages[0].content[1] = Part::Image {
        source: ImageSource::Base64 {
            media_type: "image/tiff".into(),
            data: "AA==".into(),
        },
        extra: Extra::default(),
    };
    assert_eq!(encode_request(&r).unwrap_err().field, "messages[0].content[1].image");
}

#[test]
fn bad_tool_arguments_and_system_images_are_errors() {
    let mut r = rich_request();
    r.messages[1].content[3] = Part::ToolCall {
        id: "t1".into(),
        name: "f".into(),
        arguments: "{not json".into(),
        signature: None,
        extra: Extra::default(),
    };
    assert_eq!(
        encode_request(&r).unwrap_err().field,
        "messages[1].content[3].arguments"
    );
    let mut r = rich_request();
    r.system.push(Part::RedactedThinking { data: "x".into() });
    assert_eq!(encode_request(&r).unwrap_err().field, "system[2]");
}

#[test]
fn empty_arguments_become_an_empty_object() {
    let r = ChatRequest {
        messages: vec![message(
            Role::Assistant,
            vec![Part::ToolCall {
                id: "a".into(),
                name: "f".into(),
                arguments: String::new(),
                signature: None,
                extra: Extra::default(),
            }],
        )],
        ..Default::default()
    };
    let v = value(&encode_request(&r).unwrap());
    assert_eq!(
        v.pointer(&sonic_rs::pointer!["messages", 1, "content", 0, "toolUse", "input"])
            .unwrap(),
        &json!({})
    );
}

/// Converse refuses a blank text block and a `json` block that is not an object, both of which
/// other formats' tool results can hold (an OpenAI tool message `""`, a Gemini `{"error": 42}`).
#[test]
fn tool_results_send_only_blocks_converse_takes() {
    let result = |content: Vec<ToolResultContent>| Part::ToolResult {
        id: "a".into(),
        name: Some("f".into()),
        content,
        is_error: false,
        extra: Extra::default(),
    };
    let r = ChatRequest {
        messages: vec![message(
            Role::User,
            vec![
                result(vec![ToolResultContent::Text(String::new())]),
                result(vec![
                    ToolResultContent::Text(" \n".into()),
                    ToolResultContent::Text("ok".into()),
                ]),
                result(vec![
                    ToolResultContent::Json(json!(42)),
                    ToolResultContent::Json(json!(["x"])),
                ]),
                result(vec![]),
                result(vec![ToolResultContent::Json(json!({"k": 1}))]),
            ],
        )],
        ..Default::default()
    };
    let v = value(&encode_request(&r).unwrap());
    let content = |i: usize| {
        v.pointer(&sonic_rs::pointer![
            "messages",
            0,
            "content",
            i,
            "toolResult",
            "content"
        ])
        .unwrap()
        .clone()
    };
    assert_eq!(content(0), json!([{"json": {}}]));
    assert_eq!(content(1), json!([{"text": "ok"}]));
    assert_eq!(content(2), json!([{"text": "42"}, {"text": "[\"x\"]"}]));
    assert_eq!(content(3), json!([{"json": {}}]));
    assert_eq!(content(4), json!([{"json": {"k": 1}}]));
}

#[test]
fn anthropic_cache_control_becomes_a_cache_point() {
    // With its TTL: both APIs take `5m` and `1h`, and without it a `1h` cache lapses in 5 minutes.
    for (cache_control, cache_point) in [
        (json!({"type": "ephemeral"}), json!({"type": "default"})),
        (
            json!({"type": "ephemeral", "ttl": "1h"}),
            json!({"type": "default", "ttl": "1h"}),
        ),
    ] {
        let mut e = Extra::new(Format::Anthropic);
        e.push("cache_control", cache_control);
        let r = ChatRequest {
            messages: vec![message(
                Role::User,
                vec![Part::Text {
                    text: "long doc".into(),
                    extra: e,
                }],
            )],
            ..Default::default()
        };
        let v = value(&encode_request(&r).unwrap());
        assert_eq!(
            v.pointer(&sonic_rs::pointer!["messages", 0, "content"]).unwrap(),
            &json!([{"text": "long doc"}, {"cachePoint": cache_point}])
        );
    }
}

/// Top-k and seed went to every model as top-level `top_k` and `seed`, which Nova (top-k under
/// its own `inferenceConfig`, no seed) and Claude (no seed) refuse as extraneous keys.
#[test]
fn top_k_and_seed_take_each_models_own_form() {
    let request = |model: &str, seed: Option<i64>| ChatRequest {
        model: model.into(),
        messages: vec![message(Role::User, vec![Part::text("hi")])],
        top_k: Some(5),
        seed,
        ..Default::default()
    };
    let fields = |model: &str, seed: Option<i64>| {
        value(&encode_request(&request(model, seed)).unwrap())
            .get("additionalModelRequestFields")
            .cloned()
    };
    assert_eq!(fields(MODEL, None), Some(json!({"top_k": 5})));
    assert_eq!(
        fields("us.amazon.nova-pro-v1:0", None),
        Some(json!({"inferenceConfig": {"topK": 5}}))
    );
    assert_eq!(
        fields("mistral.mistral-large-2402-v1:0", Some(7)),
        Some(json!({"top_k": 5, "seed": 7}))
    );
    let mistral = encode_request(&request("mistral.mistral-large-2402-v1:0", Some(7))).unwrap();
    assert_eq!(decode_request(&mistral, None, false).unwrap().seed, Some(7));
    // Claude (as on Anthropic's own API) and Nova have none.
    for model in [MODEL, "amazon.nova-lite-v1:0"] {
        assert_eq!(encode_request(&request(model, Some(7))).unwrap_err().field, "seed");
    }
    // A Converse client's Nova top-k is top-k, beside Nova's other settings there.
    let body = br#"{"messages":[{"role":"user","content":[{"text":"hi"}]}],
        "additionalModelRequestFields":{"inferenceConfig":{"topK":3,"other":1}}}"#;
    let mut r = decode_request(body, Some("amazon.nova-lite-v1:0"), false).unwrap();
    assert_eq!(r.top_k, Some(3));
    assert_eq!(
        value(&encode_request(&r).unwrap()).get("additionalModelRequestFields"),
        Some(&json!({"inferenceConfig": {"other": 1, "topK": 3}}))
    );
    r.model = MODEL.into();
    let v = value(&crate::formats::anthropic::request::encode_request(&r).unwrap());
    assert_eq!(v.get("top_k"), Some(&json!(3)));
}

/// An Anthropic client names Claude betas in its `anthropic-beta` header (`betas=[...]` in the
/// SDK); they were dropped on the way to Converse, where Claude takes them among its own fields.
/// Other models refuse fields they do not know, so only Claude gets them.
#[test]
fn an_anthropic_clients_betas_reach_claude_in_its_own_fields() {
    let betas = |model: &str| {
        let mut r = ChatRequest {
            model: model.into(),
            messages: vec![message(Role::User, vec![Part::text("hi")])],
            ..Default::default()
        };
        crate::formats::anthropic::request::keep_beta_header(&mut r, Some("context-1m-2025-08-07, x-beta"));
        let v = value(&encode_request(&r).unwrap());
        v.pointer(&["additionalModelRequestFields", "anthropic_beta"]).cloned()
    };
    assert_eq!(betas(MODEL), Some(json!(["context-1m-2025-08-07", "x-beta"])));
    assert_eq!(betas("amazon.nova-pro-v1:0"), None);
}

#[test]
fn same_role_messages_are_merged_and_empty_text_skipped() {
    let r = ChatRequest {
        messages: vec![
            message(Role::User, vec![Part::text("a")]),
            message(Role::User, vec![Part::text(""), Part::text("b")]),
        ],
        ..Default::default()
    };
    let v = value(&encode_request(&r).unwrap());
    assert_eq!(
        v.get("messages").unwrap(),
        &json!([{"role": "user", "content": [{"text": "a"}, {"text": "b"}]}])
    );
}

#[test]
fn json_object_format_round_trips() {
    let r = ChatRequest {
        response_format: Some(ResponseFormat::JsonObject),
        ..Default::default()
    };
    let body = encode_request(&r).unwrap();
    assert_eq!(
        decode_request(&body, None, false).unwrap().response_format,
        Some(ResponseFormat::JsonObject)
    );
}

/// A cached prefix that ends on a tool call or a tool result (the usual place in an agent loop)
/// lost its marker both ways: the canonical tool parts had no room for one.
#[test]
fn cache_points_after_tool_calls_and_results_reach_anthropic_and_come_back() {
    let body = br#"{"messages":[{"role":"user","content":[{"text":"weather?"}]},
        {"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"f","input":{"a":1}}},{"cachePoint":{"type":"default","ttl":"1h"}}]},
        {"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"sunny"}],"status":"success"}},{"cachePoint":{"type":"default"}}]}]}"#;
    let r = decode_request(body, Some(MODEL), false).unwrap();
    let back = value(&encode_request(&r).unwrap());
    assert_eq!(back.get("messages"), value(body).get("messages"));
    let v = value(&crate::formats::anthropic::request::encode_request(&r).unwrap());
    let block = |i: usize| v.pointer(&sonic_rs::pointer!["messages", i, "content", 0]).unwrap();
    assert_eq!(
        block(1).get("cache_control"),
        Some(&json!({"type": "ephemeral", "ttl": "1h"}))
    );
    assert_eq!(block(2).get("cache_control"), Some(&json!({"type": "ephemeral"})));
}

#[test]
fn anthropic_cache_control_on_tool_blocks_becomes_a_cache_point() {
    let body = br#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"weather?"},
        {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{},"cache_control":{"type":"ephemeral"}}]},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny","cache_control":{"type":"ephemeral","ttl":"1h"}}]}]}"#;
    let r = crate::formats::anthropic::request::decode_request(body, None, false).unwrap();
    let v = value(&encode_request(&r).unwrap());
    let content = |i: usize| {
        v.pointer(&sonic_rs::pointer!["messages", i, "content"])
            .unwrap()
            .clone()
    };
    assert_eq!(content(1).get(1), Some(&json!({"cachePoint": {"type": "default"}})));
    assert_eq!(
        content(2).get(1),
        Some(&json!({"cachePoint": {"type": "default", "ttl": "1h"}}))
    );
}

#[test]
fn cache_points_attach_to_tools_and_come_back() {
    let body = br#"{"messages":[{"role":"user","content":[{"text":"doc"},{"cachePoint":{"type":"default"}}]}],
        "toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}},"strict":true}},{"cachePoint":{"type":"default"}}]}}"#;
    let r = decode_request(body, Some("m"), false).unwrap();
    assert_eq!(r.tools[0].extra.get("cachePoint"), Some(&json!({"type": "default"})));
    let out = value(&encode_request(&r).unwrap());
    let want = value(body);
    assert_same_fields(&out, &want);
}

#[test]
fn decode_errors_name_the_field() {
    let cases: [(&[u8], &str); 13] = [
        (br#"{"messages":[{"role":"system","content":[]}]}"#, "messages[0].role"),
        (
            br#"{"messages":[{"role":"user","content":[{"text":"a","image":{}}]}]}"#,
            "messages[0].content[0]",
        ),
        (
            br#"{"messages":[{"role":"user","content":[{}]}]}"#,
            "messages[0].content[0]",
        ),
        (
            br#"{"messages":[{"role":"user","content":[{"document":{"name":"d"}}]}]}"#,
            "messages[0].content[0].document.source",
        ),
        (
            br#"{"messages":[{"role":"user","content":[{"document":{"name":"d","source":{"bytes":"AA=="}}}]}]}"#,
            "messages[0].content[0].document.format",
        ),
        (
            br#"{"messages":[{"role":"user","content":[{"document":{"format":"rtf","name":"d","source":{"bytes":"AA=="}}}]}]}"#,
            "messages[0].content[0].document.format",
        ),
        (
            br#"{"messages":[{"role":"user","content":[{"document":{"format":"pdf","name":"d","source":{"s3Location":{"uri":"s3://b/k"}}}}]}]}"#,
            "messages[0].content[0].document.source.s3Location",
        ),
        (
            br#"{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"s3Location":{"uri":"s3://b/k"}}}}]}]}"#,
            "messages[0].content[0].image.source.s3Location",
        ),
        (
            br#"{"messages":[{"role":"user","content":[{"image":{"format":"pn,0.5e10","source":{"bytes":"AA=="}}}]}]}"#,
            "messages[0].content[0].image.format",
        ),
        (
            br#"{"messages":[{"role":"assistant","content":[{"toolUse":{"name":"f","input":{}}}]}]}"#,
            "messages[0].content[0].toolUse.toolUseId",
        ),
        (br#"{"inferenceConfig":{"maxTokens":-1}}"#, "inferenceConfig.maxTokens"),
        (br#"{"toolConfig":{"toolChoice":{"none":{}}}}"#, "toolConfig.toolChoice.none"),
        (br#"[1]"#, ""),
    ];
    for (body, field) in cases {
        let e = decode_request(body, Some("m"), false).unwrap_err();
        assert_eq!(e.field, field, "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn unknown_top_level_fields_are_bedrock_extras() {
    let body = br#"{"messages":[],"requestMetadata":{"k":"v"},"performanceConfig":{"latency":"optimized"}}"#;
    let r = decode_request(body, Some("m"), false).unwrap();
    assert_eq!(r.extra.format, Some(Format::Bedrock));
    assert_eq!(r.extra.get("requestMetadata"), Some(&json!({"k": "v"})));
    let out = value(&encode_request(&r).unwrap());
    assert_same_fields(&out, &value(body));
    // Not applied for another target format.
    let mut other = r.clone();
    other.extra.format = Some(Format::OpenAi);
    assert!(value(&encode_request(&other).unwrap()).get("requestMetadata").is_none());
}

#[test]
fn finish_reasons_map_both_ways() {
    for (wire, canon) in [
        ("end_turn", FinishReason::Stop),
        ("tool_use", FinishReason::ToolCalls),
        ("max_tokens", FinishReason::Length),
        ("stop_sequence", FinishReason::StopSequence),
        ("content_filtered", FinishReason::ContentFilter),
    ] {
        assert_eq!(finish_from_bedrock(wire), canon);
        assert_eq!(finish_to_bedrock(&canon), wire);
    }
    assert_eq!(finish_from_bedrock("guardrail_intervened"), FinishReason::ContentFilter);
    let o = finish_from_bedrock("malformed_tool_use");
    assert_eq!(o, FinishReason::Other("malformed_tool_use".into()));
    assert_eq!(finish_to_bedrock(&o), "malformed_tool_use");
    assert_eq!(finish_to_bedrock(&FinishReason::Other("pause_turn".into())), "end_turn");
}

#[test]
fn gemini_malformed_function_call_is_malformed_tool_use() {
    let f = FinishReason::Other("MALFORMED_FUNCTION_CALL".into());
    assert_eq!(finish_to_bedrock(&f), "malformed_tool_use");
}

#[test]
fn response_with_tools_reasoning_cache_usage_round_trips() {
    let resp = ChatResponse {
        id: String::new(),
        model: String::new(),
        content: vec![
            Part::Thinking {
                text: "think".into(),
                signature: Some("slcCs".into()),
            },
            Part::text("Let me check."),
            Part::ToolCall {
                id: "call_0".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
                signature: None,
                extra: Extra::default(),
            },
        ],
        finish: FinishReason::ToolCalls,
        usage: Usage {
            input: 113,
            output: 5,
            cache_read: 100,
            cache_write: 3,
            reasoning: 0,
        },
        stop_sequence: None,
        created: 0,
        logprobs: Vec::new(),
    };
    let body = encode_response(&resp);
    let v = value(&body);
    assert_eq!(
        v.get("usage").unwrap(),
        &json!({"inputTokens": 10, "outputTokens": 5, "totalTokens": 118,
                "cacheReadInputTokens": 100, "cacheWriteInputTokens": 3})
    );
    assert_eq!(v.get("stopReason").unwrap().as_str(), Some("tool_use"));
    assert_eq!(decode_response(&body).unwrap(), resp);
}

#[test]
fn stop_sequence_round_trips() {
    let resp = ChatResponse {
        id: String::new(),
        model: String::new(),
        content: vec![Part::text("a")],
        finish: FinishReason::StopSequence,
        usage: Usage::default(),
        stop_sequence: Some("END".into()),
        created: 0,
        logprobs: Vec::new(),
    };
    assert_eq!(decode_response(&encode_response(&resp)).unwrap(), resp);
}

#[test]
fn a_cited_answer_decodes_to_its_text() {
    // Documents sent with citations on are answered with `citationsContent` blocks: an answer
    // any client can read, not an undecodable one.
    let body = br#"{"output":{"message":{"role":"assistant","content":[
        {"citationsContent":{"content":[{"text":"Emperors are "},{"text":"tallest."}],
          "citations":[{"title":"penguins","sourceContent":[{"text":"tallest"}],
            "location":{"documentChar":{"documentIndex":0,"start":0,"end":7}}}]}},
        {"text":" Anything else?"}]}},
        "stopReason":"end_turn","usage":{"inputTokens":5,"outputTokens":7,"totalTokens":12}}"#;
    let r = decode_response(body).unwrap();
    assert_eq!(
        r.content,
        vec![Part::text("Emperors are tallest."), Part::text(" Anything else?")]
    );
    let bad = br#"{"output":{"message":{"role":"assistant","content":[{"citationsContent":{"content":[{"x":1}]}}]}}}"#;
    assert_eq!(
        decode_response(bad).unwrap_err().field,
        "output.message.content[0].citationsContent.content[0].text"
    );
}

#[test]
fn errors_carry_the_error_type_header() {
    // (fault status, exception, the exception's modeled status)
    for (status, name, sent) in [
        (400, "ValidationException", 400),
        (403, "AccessDeniedException", 403),
        (404, "ResourceNotFoundException", 404),
        (408, "ModelTimeoutException", 408),
        (424, "ModelErrorException", 424),
        (429, "ThrottlingException", 429),
        (500, "InternalServerException", 500),
        (503, "ServiceUnavailableException", 503),
        (401, "UnrecognizedClientException", 403),
        (504, "ModelTimeoutException", 408),
        (529, "ServiceUnavailableException", 503),
        (502, "InternalServerException", 500),
        (501, "ValidationException", 400),
        (413, "ValidationException", 400),
    ] {
        let fault = UpstreamFault {
            status,
            kind: FaultKind::from_status(status),
            message: "boom".into(),
        };
        let r = encode_error(&fault);
        assert_eq!(r.status, sent, "{status}");
        assert_eq!(r.content_type, "application/json");
        assert_eq!(
            r.headers,
            vec![(
                "x-amzn-ErrorType",
                format!("{name}:http://internal.amazon.com/coral/com.amazon.bedrock/")
            )]
        );
        assert_eq!(r.body, br#"{"message":"boom"}"#);
    }
}

#[test]
fn upstream_errors_decode() {
    let f = decode_error(400, ERROR);
    assert_eq!(
        f,
        UpstreamFault {
            status: 400,
            kind: FaultKind::InvalidRequest,
            message: "The provided model identifier is invalid.".into()
        }
    );
    let f = decode_error(
        400,
        br#"{"__type":"com.amazon.coral.service#ThrottlingException:http://x/","Message":"slow"}"#,
    );
    assert_eq!((f.kind, f.message.as_str()), (FaultKind::RateLimited, "slow"));
    let f = decode_error(403, br#"{"message":"bad sig","code":"InvalidSignatureException"}"#);
    assert_eq!(f.kind, FaultKind::Authentication);
    let f = decode_error(502, b"<html>Bad Gateway</html>");
    assert_eq!(
        (f.kind, f.message.as_str()),
        (
            FaultKind::Server,
            "upstream answered HTTP 502 with an HTML page: Bad Gateway"
        )
    );
    assert_eq!(decode_error(503, b"").message, "upstream answered HTTP 503");
    // Encoding then decoding keeps the kind for modeled statuses.
    for status in [400, 403, 404, 408, 424, 429, 500, 503] {
        let fault = UpstreamFault {
            status,
            kind: FaultKind::from_status(status),
            message: "m".into(),
        };
        let r = encode_error(&fault);
        let name = r.headers[0].1.split(':').next().unwrap().to_string();
        let body = format!(r#"{{"__type":"{name}","message":"m"}}"#);
        let kind = decode_error(status, body.as_bytes()).kind;
        let expect = if status == 424 {
            FaultKind::Server
        } else {
            FaultKind::from_status(status)
        };
        assert_eq!(kind, expect, "{status}");
    }
}

#[test]
fn upstream_error_type_header_names_the_exception() {
    let ns = ":http://internal.amazon.com/coral/com.amazon.bedrock/";
    for (status, name, kind) in [
        (424, "ModelErrorException", FaultKind::Server),
        (400, "ServiceQuotaExceededException", FaultKind::RateLimited),
        (403, "UnrecognizedClientException", FaultKind::Authentication),
        (400, "ThrottlingException", FaultKind::RateLimited),
    ] {
        let header = format!("{name}{ns}");
        let f = decode_error_typed(status, Some(header.as_bytes()), br#"{"message":"m"}"#);
        assert_eq!((f.status, f.kind, f.message.as_str()), (status, kind, "m"), "{name}");
    }
    // The header wins over the body; without it the body's code, then __type, decide.
    let f = decode_error_typed(
        400,
        Some(b"ThrottlingException"),
        br#"{"__type":"ValidationException","message":"m"}"#,
    );
    assert_eq!(f.kind, FaultKind::RateLimited);
    let f = decode_error_typed(
        400,
        None,
        br#"{"code":"ThrottlingException","__type":"ValidationException"}"#,
    );
    assert_eq!(f.kind, FaultKind::RateLimited);
    // A blank header: the status decides (424, the model's failure, is a server fault).
    assert_eq!(decode_error_typed(424, Some(b" "), b"{}").kind, FaultKind::Server);
    assert_eq!(
        decode_error_typed(422, Some(b" "), b"{}").kind,
        FaultKind::InvalidRequest
    );
}

#[test]
fn every_prefix_of_every_fixture_is_handled_without_panic() {
    for fixture in [REQUEST, RESPONSE, ERROR] {
        for i in 0..=fixture.len() {
            let b = &fixture[..i];
            let _ = decode_request(b, Some("m"), false);
            let _ = decode_response(b);
            let _ = decode_error(500, b);
            let _ = parse_path(std::str::from_utf8(b).unwrap_or(""));
        }
    }
    // Wrong types everywhere.
    for body in [
        &br#"{"messages":{"role":"user"}}"#[..],
        br#"{"messages":[{"role":"user","content":"hi"}]}"#,
        br#"{"system":"be brief"}"#,
        br#"{"toolConfig":{"tools":{}}}"#,
        br#"{"toolConfig":{"tools":[{"toolSpec":{"name":1}}]}}"#,
        br#"{"additionalModelRequestFields":{"top_k":1e99,"seed":"x"}}"#,
        br#"{"outputConfig":{"textFormat":{"structure":{"jsonSchema":{"schema":"{"}}}}}"#,
        br#"{"inferenceConfig":{"stopSequences":[1]}}"#,
        br#"{"output":{"message":{"content":[{"reasoningContent":{"reasoningText":{}}}]}},"usage":"x"}"#,
    ] {
        let _ = decode_request(body, None, false);
        let _ = decode_response(body);
    }
}

#[test]
fn empty_tool_description_is_omitted() {
    let mut r = rich_request();
    r.tools[0].description = Some(String::new());
    let v = value(&encode_request(&r).unwrap());
    let spec = v
        .pointer(&sonic_rs::pointer!["toolConfig", "tools", 0, "toolSpec"])
        .unwrap();
    assert!(spec.get("description").is_none(), "{spec:?}");
    r.tools[0].description = Some("w".into());
    let v = value(&encode_request(&r).unwrap());
    assert_eq!(
        v.pointer(&sonic_rs::pointer!["toolConfig", "tools", 0, "toolSpec", "description"])
            .unwrap()
            .as_str(),
        Some("w")
    );
}

#[test]
fn documents_decode_and_encode_with_safe_unique_names() {
    let body = br##"{"messages":[{"role":"user","content":[
        {"document":{"format":"pdf","name":"Q3 report","source":{"bytes":"JVBERi0="},"context":"figures"}},
        {"cachePoint":{"type":"default"}},
        {"document":{"format":"md","name":"notes","source":{"text":"# Hi"}}},
        {"text":"compare"}]}]}"##;
    let r = decode_request(body, Some("m"), false).unwrap();
    let c = &r.messages[0].content;
    let Part::Document { source, name, extra } = &c[0] else {
        panic!("{:?}", c[0])
    };
    assert_eq!(
        source,
        &DocumentSource::Base64 {
            media_type: "application/pdf".into(),
            data: "JVBERi0=".into()
        }
    );
    assert_eq!(name.as_deref(), Some("Q3 report"));
    assert_eq!(extra.get("context"), Some(&json!("figures")));
    assert!(
        extra.get("cachePoint").is_some(),
        "the cache point attaches to the document"
    );
    assert!(matches!(&c[1], Part::Document { source: DocumentSource::Text(t), .. } if t == "# Hi"));
    // Back to Converse: bytes stay base64 in JSON, text becomes txt bytes.
    let v = value(&encode_request(&r).unwrap());
    assert_eq!(
        v["messages"][0]["content"],
        json!([
            {"document": {"format": "pdf", "name": "Q3 report", "source": {"bytes": "JVBERi0="}, "context": "figures"}},
            {"cachePoint": {"type": "default"}},
            {"document": {"format": "txt", "name": "notes", "source": {"bytes": "IyBIaQ=="}}},
            {"text": "compare"}
        ])
    );

    // Names from other formats: made safe, filled in when missing, never repeated.
    let names = document_names(
        ["my_file  (v2).final.pdf", "", "   ", "my-file (v2)-final"]
            .map(|n| (!n.is_empty()).then(|| n.to_string()))
            .to_vec(),
    );
    assert_eq!(
        names,
        ["my-file (v2)-final", "document-2", "document-3", "my-file (v2)-final-4"]
    );
}

/// The names Converse gets for PDF documents named `names` (`None`: unnamed), in one user turn.
fn document_names(names: Vec<Option<String>>) -> Vec<String> {
    let n = names.len();
    let mut r = rich_request();
    r.messages[0].content = names
        .into_iter()
        .map(|name| Part::Document {
            source: DocumentSource::Base64 {
                media_type: "application/pdf".into(),
                data: "JVBERi0=".into(),
            },
            name,
            extra: Extra::default(),
        })
        .collect();
    let v = value(&encode_request(&r).unwrap());
    (0..n)
        .map(|k| {
            v["messages"][0]["content"][k]["document"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Many documents, named and not, some names repeated or taken by an unnamed one's default:
/// every name distinct, in the order the documents come (the names so far are a set, not a
/// list scanned per document).
#[test]
fn many_documents_get_distinct_names_in_order() {
    let names = document_names(
        (0..300)
            .map(|i| match i % 3 {
                0 => None,
                1 => Some(format!("report {}", i % 7)),
                _ => Some(format!("document-{}", i + 2)),
            })
            .collect(),
    );
    let distinct: std::collections::HashSet<&String> = names.iter().collect();
    assert_eq!(distinct.len(), 300, "{names:?}");
    assert_eq!(names[0], "document-1");
    assert_eq!(names[1], "report 1");
    // "document-4" is the third's own name and the fourth's default: the later one gets a suffix.
    assert_eq!((names[2].as_str(), names[3].as_str()), ("document-4", "document-4-4"));
    assert_eq!(names[22], "report 1-23");
}

/// A content block is a union; held as an enum it takes its largest member's room, not the
/// sum of all of them (about 360 bytes as a struct of options).
#[test]
fn a_content_block_takes_the_room_of_its_largest_member() {
    let size = std::mem::size_of::<BedrockContentBlock<'_>>();
    assert!(size <= 80, "{size}");
    eprintln!("BedrockContentBlock: {size} bytes");
}

#[test]
fn document_url_is_a_convert_error_naming_the_field() {
    let mut r = rich_request();
    r.messages[0].content[1] = Part::Document {
        source: DocumentSource::Url("https://example.com/a.pdf".into()),
        name: None,
        extra: Extra::default(),
    };
    let e = encode_request(&r).unwrap_err();
    assert_eq!(e.field, "messages[0].content[1].source");
    assert!(e.message.contains("URL"), "{e}");
}

#[test]
fn document_names_keep_only_what_bedrock_allows() {
    assert_eq!(document_name("Q3 report.pdf"), "Q3 report");
    assert_eq!(document_name("  a\t\tb  "), "a b");
    assert_eq!(document_name("[draft] plan_B"), "[draft] plan-B");
    assert_eq!(document_name(".pdf"), "-pdf");
    assert_eq!(document_name(&"x".repeat(300)).len(), 200);
}

#[test]
fn a_conversation_opening_with_the_assistant_gets_a_user_turn_first_and_empty_turns_go() {
    // A chat UI's greeting first, then a blank user message (it carried nothing): Converse
    // refuses an assistant first turn, an empty message and two turns of one role.
    let msg = |role, text: &str| Message {
        role,
        content: vec![Part::text(text)],
    };
    let r = ChatRequest {
        messages: vec![
            msg(Role::Assistant, "Hello! How can I help?"),
            msg(Role::User, ""),
            msg(Role::Assistant, "Still there?"),
            msg(Role::User, "yes"),
        ],
        ..Default::default()
    };
    let v = value(&encode_request(&r).unwrap());
    assert_eq!(
        v.get("messages").unwrap(),
        &json!([
            {"role": "user", "content": [{"text": "."}]},
            {"role": "assistant", "content": [{"text": "Hello! How can I help?"}, {"text": "Still there?"}]},
            {"role": "user", "content": [{"text": "yes"}]}
        ])
    );
}

/// A document a tool returned goes in the toolResult, named like every document in the request
/// (Converse wants each name unique), and reads back as the tool result's document.
#[test]
fn tool_result_documents_are_named_and_read_back() {
    let doc = |name: Option<&str>| ToolResultContent::Document {
        source: DocumentSource::Text("hi".into()),
        name: name.map(str::to_string),
    };
    let r = ChatRequest {
        messages: vec![
            Message {
                role: Role::User,
                content: vec![
                    Part::Document {
                        source: DocumentSource::Text("brief".into()),
                        name: Some("notes".into()),
                        extra: Extra::default(),
                    },
                    Part::text("read it"),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![Part::ToolCall {
                    id: "a".into(),
                    name: "read".into(),
                    arguments: "{}".into(),
                    signature: None,
                    extra: Extra::default(),
                }],
            },
            Message {
                role: Role::User,
                content: vec![Part::ToolResult {
                    id: "a".into(),
                    name: Some("read".into()),
                    content: vec![doc(Some("notes")), doc(None)],
                    is_error: false,
                    extra: Extra::default(),
                }],
            },
        ],
        ..Default::default()
    };
    let body = encode_request(&r).unwrap();
    let v = value(&body);
    let result = v
        .pointer(&sonic_rs::pointer![
            "messages",
            2,
            "content",
            0,
            "toolResult",
            "content"
        ])
        .unwrap();
    assert_eq!(
        result,
        &json!([
            {"document": {"format": "txt", "name": "notes-2", "source": {"bytes": "aGk="}}},
            {"document": {"format": "txt", "name": "document-3", "source": {"bytes": "aGk="}}}
        ])
    );
    let back = decode_request(&body, Some(MODEL), false).unwrap();
    let Part::ToolResult { content, .. } = &back.messages[2].content[0] else {
        panic!("{back:?}")
    };
    assert_eq!(
        content[1],
        ToolResultContent::Document {
            source: DocumentSource::Base64 {
                media_type: "text/plain".into(),
                data: "aGk=".into()
            },
            name: Some("document-3".into())
        }
    );
}

/// `toolSpec.strict` used to be kept for Bedrock upstreams only, and other formats' strict tools
/// reached Converse without it.
#[test]
fn tool_spec_strict_is_canonical() {
    let body = br#"{"messages":[{"role":"user","content":[{"text":"hi"}]}],
        "toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}},"strict":true}},
                               {"toolSpec":{"name":"g","inputSchema":{"json":{"type":"object"}}}}]}}"#;
    let r = decode_request(body, Some(MODEL), false).unwrap();
    assert_eq!((r.tools[0].strict, r.tools[1].strict), (Some(true), None));
    assert!(r.tools[0].extra.is_empty());
    let mut foreign = r.clone();
    foreign.extra = Extra::new(Format::OpenAi);
    let v = value(&encode_request(&foreign).unwrap());
    let tools = v.pointer(&["toolConfig", "tools"]).unwrap();
    assert_eq!(tools[0]["toolSpec"]["strict"], json!(true));
    assert!(tools[1]["toolSpec"].get("strict").is_none());
    let bad =
        br#"{"messages":[],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}},"strict":1}}]}}"#;
    assert_eq!(
        decode_request(bad, Some(MODEL), false).unwrap_err().field,
        "toolConfig.tools[0].toolSpec.strict"
    );
}
