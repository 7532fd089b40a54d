//! Gemini codec tests: PROTOCOLS fixtures decoded, checked and encoded back field by field;
//! canonical round trips; path parsing; errors; no panics on truncated input.

use super::*;
use crate::canonical::{
    ChatRequest, ChatResponse, FaultKind, FinishReason, Message, Reasoning, ResponseFormat, Role, Tool, ToolChoice,
    UpstreamFault, Usage,
};
use sonic_rs::{json, JsonValueTrait, Value};

const REQUEST: &[u8] = include_bytes!("fixtures/request.json");
const REQUEST_SNAKE: &[u8] = include_bytes!("fixtures/request_snake_thinking.json");
const RESPONSE: &[u8] = include_bytes!("fixtures/response.json");
const ERROR: &[u8] = include_bytes!("fixtures/error.json");

fn parse(b: &[u8]) -> Value {
    sonic_rs::from_slice(b).unwrap()
}

#[test]
fn paths() {
    let ok = |p: &str| parse_path(p);
    assert_eq!(
        ok("/v1beta/models/gemini-2.5-flash:generateContent"),
        Some(("gemini-2.5-flash".into(), false))
    );
    assert_eq!(
        ok("/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
        Some(("gemini-2.5-flash".into(), true))
    );
    assert_eq!(
        ok("/genai/v1beta1/models/openai/gpt-4o:generateContent"),
        Some(("openai/gpt-4o".into(), false))
    );
    assert_eq!(
        ok("/v1beta/models/openai%2Fgpt-4o:generateContent"),
        Some(("openai/gpt-4o".into(), false))
    );
    assert_eq!(
        ok("/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0:generateContent"),
        Some(("gemini-2.0".into(), false))
    );
    assert_eq!(
        ok("/v1beta1/publishers/anthropic/models/claude:generateContent"),
        Some(("anthropic/claude".into(), false))
    );
    for bad in [
        "/v2/models/m:generateContent",
        "/v1/models/:generateContent",
        "/v1/models/m:countTokens",
        "/v1/models/m",
        "/v1/chat/completions",
        "/v1/models/m%zz:generateContent",
        "",
        "/",
    ] {
        assert_eq!(ok(bad), None, "{bad}");
    }
    assert_eq!(
        request_path("gemini-2.5-flash", false),
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(
        request_path("m", true),
        "/v1beta/models/m:streamGenerateContent?alt=sse"
    );
    // The model is one encoded segment, whatever the client put in it.
    assert_eq!(
        request_path("a b\r\nX: 1/../#?", false),
        "/v1beta/models/a%20b%0D%0AX%3A%201%2F..%2F%23%3F:generateContent"
    );
    assert_eq!(
        crate::formats::count::request_path(Format::Gemini, "g/.."),
        "/v1beta/models/g%2F..:countTokens"
    );
    assert_eq!(
        crate::formats::embed::request_path(Format::Gemini, "e#", true),
        "/v1beta/models/e%23:predict"
    );
}

#[test]
fn protocols_request_fixture_decodes() {
    let r = decode_request(REQUEST, Some("gemini-2.5-flash"), false).unwrap();
    assert_eq!(r.model, "gemini-2.5-flash");
    assert!(!r.stream);
    assert_eq!(r.system, vec![Part::text("Be brief")]);
    assert_eq!(r.messages.len(), 3);
    assert_eq!(r.messages[0].role, Role::User);
    assert_eq!(
        r.messages[0].content[1],
        Part::Image {
            source: ImageSource::Base64 {
                media_type: "image/png".into(),
                data: "iVBORw==".into()
            },
            extra: Extra::default(),
        }
    );
    assert_eq!(r.messages[1].role, Role::Assistant);
    assert_eq!(
        r.messages[1].content[0],
        Part::ToolCall {
            id: "call_0".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Rome"}"#.into(),
            signature: None,
            extra: Extra::default(),
        }
    );
    assert_eq!(
        r.messages[2].content[0],
        Part::ToolResult {
            id: "call_0".into(),
            name: Some("get_weather".into()),
            content: vec![ToolResultContent::Text("sunny".into())],
            is_error: false,
            extra: Extra::default(),
        }
    );
    assert_eq!(r.tools.len(), 1);
    assert_eq!(r.tools[0].description.as_deref(), Some("w"));
    assert_eq!(
        r.tools[0].parameters.value(),
        json!({"properties": {"city": {"type": "string"}}, "required": ["city"], "type": "object"})
    );
    assert_eq!(r.tool_choice, Some(ToolChoice::Auto));
    assert_eq!(r.temperature, Some(0.2));
    assert_eq!(r.top_p, Some(0.9));
    assert_eq!(r.top_k, Some(40));
    assert_eq!(r.max_tokens, Some(64));
    assert_eq!(r.stop, vec!["END".to_string()]);
    assert!(r.extra.is_empty());
}

#[test]
fn protocols_request_fixture_encodes_back() {
    let r = decode_request(REQUEST, Some("gemini-2.5-flash"), false).unwrap();
    let out = parse(&encode_request(&r).unwrap());
    let orig = parse(REQUEST);
    // Same everywhere except the documented normalizations.
    assert_eq!(out["contents"][0]["parts"][0], orig["contents"][0]["parts"][0]);
    assert_eq!(
        out["contents"][0]["parts"][1],
        json!({"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}})
    );
    assert_eq!(out["contents"][1], orig["contents"][1]);
    assert_eq!(out["contents"][2], orig["contents"][2]);
    assert_eq!(out["systemInstruction"]["parts"], orig["systemInstruction"]["parts"]);
    let decl = &out["tools"][0]["functionDeclarations"][0];
    assert_eq!(decl["name"], orig["tools"][0]["functionDeclarations"][0]["name"]);
    assert_eq!(
        decl["parametersJsonSchema"]["properties"]["city"]["type"].as_str(),
        Some("string")
    );
    assert_eq!(out["toolConfig"], orig["toolConfig"]);
    let (g, og) = (&out["generationConfig"], &orig["generationConfig"]);
    for k in ["temperature", "topP", "maxOutputTokens", "stopSequences"] {
        assert_eq!(g[k], og[k], "{k}");
    }
    assert_eq!(g["topK"].as_u64(), Some(40));
    // A second decode gives the same canonical request.
    let again = decode_request(&encode_request(&r).unwrap(), Some("gemini-2.5-flash"), false).unwrap();
    assert_eq!(again, r);
}

#[test]
fn inline_image_types_are_sent_as_registered() {
    // OpenAI data URLs take `image/jpg` and any case; Gemini answers them "Unsupported MIME
    // type: image/jpg" (a 400).
    let image = |t: &str| Part::Image {
        source: ImageSource::Base64 {
            media_type: t.into(),
            data: "AAAA".into(),
        },
        extra: Extra::new(Format::OpenAi),
    };
    let r = ChatRequest {
        model: "gemini-2.5-flash".into(),
        messages: vec![Message {
            role: Role::User,
            content: vec![image("image/jpg"), image("IMAGE/PNG"), image("image/heic")],
        }],
        ..Default::default()
    };
    let out = parse(&encode_request(&r).unwrap());
    let types: Vec<&str> = (0..3)
        .map(|k| {
            out["contents"][0]["parts"][k]["inlineData"]["mimeType"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(types, ["image/jpeg", "image/png", "image/heic"]);
}

#[test]
fn snake_case_thinking_and_extras() {
    let r = decode_request(REQUEST_SNAKE, Some("gemini-3-pro"), true).unwrap();
    assert!(r.stream);
    assert_eq!(r.system, vec![Part::text("You are terse."), Part::text("No emoji.")]);
    let mut img_extra = Extra::new(Format::Gemini);
    img_extra.push("mimeType", json!("image/jpeg"));
    assert_eq!(
        r.messages[0].content[1],
        Part::Image {
            source: ImageSource::Url("https://example.com/cat.jpg".into()),
            extra: img_extra
        }
    );
    let m = &r.messages[1].content;
    assert_eq!(
        m[0],
        Part::Thinking {
            text: "pondering".into(),
            signature: Some("slcGc2lnMQ==".into())
        }
    );
    assert!(matches!(&m[1], Part::ToolCall { id, signature: Some(s), .. } if id == "call_0" && s == "c2lnMg=="));
    assert!(matches!(&m[2], Part::ToolCall { id, signature: None, .. } if id == "call_1"));
    let res = &r.messages[2].content;
    assert!(matches!(&res[0], Part::ToolResult { id, is_error: false, .. } if id == "call_0"));
    assert_eq!(
        res[1],
        Part::ToolResult {
            id: "call_1".into(),
            name: Some("lookup".into()),
            content: vec![ToolResultContent::Text("timeout".into())],
            is_error: true,
            extra: Extra::default(),
        }
    );
    assert_eq!(r.tools.len(), 1);
    assert_eq!(
        r.tools[0].parameters.value()["properties"]["q"]["type"].as_str(),
        Some("string")
    );
    assert_eq!(r.tool_choice, Some(ToolChoice::Named("lookup".into())));
    assert_eq!(r.seed, Some(7));
    assert_eq!(
        r.reasoning,
        Some(Reasoning {
            budget_tokens: Some(1024),
            effort: None
        })
    );
    assert_eq!(
        r.response_format,
        Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            schema: json!({"type": "object"}).into(),
            strict: None
        })
    );
    assert_eq!(r.extra.format, Some(Format::Gemini));
    assert_eq!(r.extra.get("tools"), Some(&json!([{"googleSearch": {}}])));
    assert!(r.extra.get("safetySettings").is_some());
    assert_eq!(
        r.extra.get("generationConfig"),
        Some(&json!({"candidateCount": 1, "thinkingConfig": {"includeThoughts": true}}))
    );

    // Back to Gemini: camelCase, extras merged, signatures kept.
    let out = parse(&encode_request(&r).unwrap());
    let parts = &out["contents"][1]["parts"];
    assert_eq!(
        parts[0],
        json!({"text": "pondering", "thought": true, "thoughtSignature": "c2lnMQ=="})
    );
    assert_eq!(parts[1]["thoughtSignature"].as_str(), Some("c2lnMg=="));
    assert_eq!(
        out["contents"][0]["parts"][1],
        json!({"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}})
    );
    assert_eq!(
        out["contents"][2]["parts"][1],
        json!({"functionResponse": {"name": "lookup", "response": {"error": "timeout"}}})
    );
    assert_eq!(out["tools"][1], json!({"googleSearch": {}}));
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["lookup"]}})
    );
    assert_eq!(
        out["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget": 1024, "includeThoughts": true})
    );
    assert_eq!(out["generationConfig"]["candidateCount"].as_u64(), Some(1));
    assert_eq!(
        out["generationConfig"]["responseMimeType"].as_str(),
        Some("application/json")
    );
    assert_eq!(out["generationConfig"]["responseJsonSchema"], json!({"type": "object"}));
    assert_eq!(out["safetySettings"][0]["threshold"].as_str(), Some("BLOCK_NONE"));
    // Decoding again gives the same request (extras may come back in another order).
    let mut again = decode_request(&encode_request(&r).unwrap(), Some("gemini-3-pro"), true).unwrap();
    let mut want = r.clone();
    again.extra.fields.sort_by(|a, b| a.0.cmp(&b.0));
    want.extra.fields.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(again, want);
}

#[test]
fn extras_of_other_formats_are_not_applied() {
    let mut r = decode_request(REQUEST_SNAKE, Some("m"), false).unwrap();
    r.extra.format = Some(Format::OpenAi);
    let out = parse(&encode_request(&r).unwrap());
    assert!(out.get("safetySettings").is_none());
    assert!(out["generationConfig"].get("candidateCount").is_none());
}

/// A canonical request as another format would produce it: foreign ids, no result names.
fn foreign_request() -> ChatRequest {
    ChatRequest {
        model: "gemini-2.5-flash".into(),
        system: vec![Part::text("sys")],
        messages: vec![
            Message {
                role: Role::User,
                content: vec![
                    Part::text("look"),
                    Part::Image {
                        source: ImageSource::Url("https://x.test/a.PNG?sig=1".into()),
                        extra: Extra::default(),
                    },
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    Part::RedactedThinking { data: "opaque".into() },
                    Part::ToolCall {
                        id: "toolu_9".into(),
                        name: "get_weather".into(),
                        arguments: r#"{"city":"Paris"}"#.into(),
                        signature: None,
                        extra: Extra::default(),
                    },
                ],
            },
            Message {
                role: Role::User,
                content: vec![Part::ToolResult {
                    id: "toolu_9".into(),
                    name: None,
                    content: vec![ToolResultContent::Text("sunny".into())],
                    is_error: false,
                    extra: Extra::default(),
                }],
            },
        ],
        tools: vec![Tool {
            name: "get_weather".into(),
            description: Some("weather".into()),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}).into(),
            strict: None,
            extra: Extra::default(),
        }],
        tool_choice: Some(ToolChoice::Required),
        max_tokens: Some(100),
        top_k: Some(5),
        seed: Some(-3),
        reasoning: Some(Reasoning {
            budget_tokens: None,
            effort: Some("low".into()),
        }),
        response_format: Some(ResponseFormat::JsonObject),
        ..Default::default()
    }
}

#[test]
fn foreign_request_encodes_and_round_trips() {
    let req = foreign_request();
    let body = encode_request(&req).unwrap();
    let out = parse(&body);
    assert_eq!(
        out["contents"][0]["parts"][1],
        json!({"fileData": {"mimeType": "image/png", "fileUri": "https://x.test/a.PNG?sig=1"}})
    );
    // Redacted thinking is dropped; the call has no id on the wire.
    assert_eq!(
        out["contents"][1]["parts"],
        json!([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}])
    );
    // The result's name comes from the matching call.
    assert_eq!(
        out["contents"][2]["parts"][0],
        json!({"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}})
    );
    assert_eq!(out["toolConfig"]["functionCallingConfig"]["mode"].as_str(), Some("ANY"));
    assert_eq!(
        out["generationConfig"]["thinkingConfig"],
        json!({"includeThoughts": true, "thinkingBudget": 1024})
    );
    assert_eq!(out["generationConfig"]["seed"].as_i64(), Some(-3));
    assert_eq!(
        out["generationConfig"]["responseMimeType"].as_str(),
        Some("application/json")
    );

    let back = decode_request(&body, Some("gemini-2.5-flash"), false).unwrap();
    let mut want = req.clone();
    want.include_usage = true;
    // Gemini 2.5 takes the effort as a budget.
    want.reasoning = Some(Reasoning {
        budget_tokens: Some(1024),
        effort: None,
    });
    want.extra = Extra::new(Format::Gemini);
    // Gemini-only: comes back as a raw Gemini field.
    want.extra
        .push("generationConfig", json!({"thinkingConfig": {"includeThoughts": true}}));
    want.tools[0].extra = Extra::new(Format::Gemini);
    let mut mime = Extra::new(Format::Gemini);
    mime.push("mimeType", json!("image/png"));
    want.messages[0].content[1] = Part::Image {
        source: ImageSource::Url("https://x.test/a.PNG?sig=1".into()),
        extra: mime,
    };
    want.messages[1].content = vec![Part::ToolCall {
        id: "call_0".into(),
        name: "get_weather".into(),
        arguments: r#"{"city":"Paris"}"#.into(),
        signature: None,
        extra: Extra::default(),
    }];
    want.messages[2].content = vec![Part::ToolResult {
        id: "call_0".into(),
        name: Some("get_weather".into()),
        content: vec![ToolResultContent::Text("sunny".into())],
        is_error: false,
        extra: Extra::default(),
    }];
    assert_eq!(back, want);
}

/// A conversation whose calls Claude made, continued on Gemini 3 (a fallback): Gemini 3 refuses
/// a model turn whose first call has no signature of its own (400 "Function call is missing a
/// thought_signature"), so Sluice writes the dummy one Google documents for such traces. The
/// turn's other calls take none (Gemini signs only the first), a call Gemini signed keeps its
/// signature, and Gemini 2 models, which check none, are sent the history as it was.
#[test]
fn calls_another_provider_made_get_the_dummy_signature_on_gemini_3() {
    let call = |id: &str| Part::ToolCall {
        id: id.into(),
        name: "get_weather".into(),
        arguments: r#"{"city":"Paris"}"#.into(),
        signature: None,
        extra: Extra::default(),
    };
    let mut req = foreign_request();
    req.model = "gemini-3-pro-preview".into();
    req.messages[1].content.push(call("toolu_10"));
    req.messages.push(Message {
        role: Role::Assistant,
        content: vec![call(&signed_id("call_1", "c2ln"))],
    });
    let signatures = |req: &ChatRequest| {
        let out = parse(&encode_request(req).unwrap());
        let contents = out["contents"].as_array().unwrap().clone();
        contents
            .iter()
            .filter(|c| c["role"].as_str() == Some("model"))
            .map(|c| {
                let parts = c["parts"].as_array().unwrap().clone();
                parts
                    .iter()
                    .map(|p| p["thoughtSignature"].as_str().map(str::to_string))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    let skip = Some(request::SKIP_SIGNATURE.to_string());
    assert_eq!(signatures(&req), [vec![skip, None], vec![Some("c2ln".to_string())]]);
    req.model = "gemini-2.5-pro".into();
    assert_eq!(signatures(&req), [vec![None, None], vec![Some("c2ln".to_string())]]);
}

/// A client that asked for reasoning in its own format (Anthropic `thinking`, OpenAI
/// `reasoning_effort`, ...) used to get no thoughts back: Gemini sends them only when asked.
#[test]
fn reasoning_asks_gemini_for_thoughts() {
    let mut r = foreign_request();
    let thinking = |r: &ChatRequest| parse(&encode_request(r).unwrap())["generationConfig"]["thinkingConfig"].clone();
    r.reasoning = Some(Reasoning {
        budget_tokens: Some(2048),
        effort: None,
    });
    assert_eq!(thinking(&r), json!({"includeThoughts": true, "thinkingBudget": 2048}));
    // A zero budget turns thinking off: nothing to include.
    r.reasoning = Some(Reasoning {
        budget_tokens: Some(0),
        effort: None,
    });
    assert_eq!(thinking(&r), json!({"thinkingBudget": 0}));
    // A Gemini client's own includeThoughts is kept as it sent it.
    let own = br#"{"contents":[],"generationConfig":{"thinkingConfig":{"thinkingBudget":64,"includeThoughts":false}}}"#;
    let g = decode_request(own, Some("m"), false).unwrap();
    assert_eq!(thinking(&g), json!({"includeThoughts": false, "thinkingBudget": 64}));
}

/// OpenAI's effort names used to go to Gemini verbatim: `none` and `xhigh` are no Gemini
/// level, and Gemini 2.x refuses any level (it takes only a budget).
#[test]
fn effort_becomes_the_thinking_control_of_the_model_generation() {
    let thinking = |model: &str, effort: &str| {
        let r = ChatRequest {
            model: model.into(),
            reasoning: Some(Reasoning {
                budget_tokens: None,
                effort: Some(effort.into()),
            }),
            ..Default::default()
        };
        parse(&encode_request(&r).unwrap())["generationConfig"]["thinkingConfig"].clone()
    };
    for (effort, level) in [
        ("none", "MINIMAL"),
        ("minimal", "MINIMAL"),
        ("low", "LOW"),
        ("medium", "MEDIUM"),
        ("high", "HIGH"),
        ("xhigh", "HIGH"),
        ("HIGH", "HIGH"),
    ] {
        let want = if effort == "none" {
            json!({"thinkingLevel": level})
        } else {
            json!({"includeThoughts": true, "thinkingLevel": level})
        };
        assert_eq!(thinking("gemini-3-pro-preview", effort), want, "{effort}");
    }
    for (effort, budget) in [
        ("none", 0),
        ("minimal", 1024),
        ("low", 1024),
        ("medium", 8192),
        ("high", 24576),
        ("xhigh", 24576),
    ] {
        let want = if budget == 0 {
            json!({"thinkingBudget": 0})
        } else {
            json!({"includeThoughts": true, "thinkingBudget": budget})
        };
        assert_eq!(thinking("gemini-2.5-flash", effort), want, "{effort}");
        // Vertex publisher paths name the model last.
        assert_eq!(
            thinking("publishers/google/models/gemini-2.5-pro", effort),
            want,
            "{effort}"
        );
    }
    // A level no mapping knows goes as it is (upper case): Gemini names what it refuses.
    assert_eq!(
        thinking("gemini-2.5-flash", "turbo"),
        json!({"includeThoughts": true, "thinkingLevel": "TURBO"})
    );
}

/// ANY with several allowed names used to decode to no tool choice, so an OpenAI or Cohere
/// upstream made the call optional. It is a required call of one of them: OpenAI's
/// `allowed_tools`, the other formats offered just those tools (`formats::tool_choice`).
#[test]
fn any_with_several_names_requires_one_of_them() {
    let body = br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],
        "tools":[{"functionDeclarations":[{"name":"a"},{"name":"b"},{"name":"c"}]}],
        "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["a","b"]}}}"#;
    let r = decode_request(body, Some("m"), false).unwrap();
    assert_eq!(
        r.tool_choice,
        Some(ToolChoice::Allowed {
            names: vec!["a".into(), "b".into()],
            required: true
        })
    );
    assert_eq!(r.tools.len(), 3, "every tool stays declared");
    let openai = parse(&crate::formats::openai::encode_request(&r).unwrap());
    assert_eq!(openai["tool_choice"]["type"].as_str(), Some("allowed_tools"));
    assert_eq!(
        openai["tool_choice"]["allowed_tools"]["mode"].as_str(),
        Some("required")
    );
    assert_eq!(openai["tools"].as_array().map(|t| t.len()), Some(3));
    let anthropic = parse(&crate::formats::anthropic::encode_request(&r).unwrap());
    assert_eq!(anthropic["tool_choice"]["type"].as_str(), Some("any"));
    assert_eq!(
        anthropic["tools"].as_array().map(|t| t.len()),
        Some(2),
        "only the allowed tools"
    );
    // Back to Gemini the allowed names are kept.
    let out = parse(&encode_request(&r).unwrap());
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["a", "b"]}})
    );
    // Names that match no declared tool leave a required call of any tool.
    let odd = br#"{"tools":[{"functionDeclarations":[{"name":"a"}]}],
        "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["x","y"]}}}"#;
    let r = decode_request(odd, Some("m"), false).unwrap();
    assert_eq!((r.tools.len(), r.tool_choice), (1, Some(ToolChoice::Required)));
    // Only one of them declared: that tool is the choice.
    let one = br#"{"tools":[{"functionDeclarations":[{"name":"a"},{"name":"b"}]}],
        "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["x","b"]}}}"#;
    let r = decode_request(one, Some("m"), false).unwrap();
    assert_eq!(r.tool_choice, Some(ToolChoice::Named("b".into())));
}

#[test]
fn tool_choices_encode() {
    let mut r = foreign_request();
    for (choice, want) in [
        (ToolChoice::Auto, json!({"mode": "AUTO"})),
        (ToolChoice::None, json!({"mode": "NONE"})),
        (
            ToolChoice::Named("get_weather".into()),
            json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
        ),
    ] {
        r.tool_choice = Some(choice.clone());
        let out = parse(&encode_request(&r).unwrap());
        assert_eq!(out["toolConfig"]["functionCallingConfig"], want);
        let back = decode_request(&encode_request(&r).unwrap(), Some("m"), false).unwrap();
        assert_eq!(back.tool_choice, Some(choice));
    }
}

#[test]
fn inexpressible_requests_name_the_field() {
    let mut r = foreign_request();
    r.messages[2].content = vec![Part::ToolResult {
        id: "nope".into(),
        name: None,
        content: vec![],
        is_error: false,
        extra: Extra::default(),
    }];
    let e = encode_request(&r).unwrap_err();
    assert_eq!(e.field, "messages[2].content[0].name");

    let mut r = foreign_request();
    r.messages[0].content[1] = Part::Image {
        source: ImageSource::Url("https://x.test/image".into()),
        extra: Extra::default(),
    };
    assert_eq!(encode_request(&r).unwrap_err().field, "messages[0].content[1]");

    let mut r = foreign_request();
    r.messages[1].content[1] = Part::ToolCall {
        id: "a".into(),
        name: "f".into(),
        arguments: "[1]".into(),
        signature: None,
        extra: Extra::default(),
    };
    assert_eq!(
        encode_request(&r).unwrap_err().field,
        "messages[1].content[1].arguments"
    );

    let audio = br#"{"contents":[{"parts":[{"inlineData":{"mimeType":"audio/wav","data":"AA=="}}]}]}"#;
    assert_eq!(
        decode_request(audio, Some("m"), false).unwrap_err().field,
        "contents[0].parts[0].inlineData.mimeType"
    );
    // A `gs://` URI, of a PDF or an image, is nothing another format can fetch.
    for gs in [
        &br#"{"contents":[{"parts":[{"fileData":{"mimeType":"application/pdf","fileUri":"gs://b/a.pdf"}}]}]}"#[..],
        br#"{"contents":[{"parts":[{"fileData":{"mimeType":"image/png","fileUri":"gs://b/a.png"}}]}]}"#,
    ] {
        assert_eq!(
            decode_request(gs, Some("m"), false).unwrap_err().field,
            "contents[0].parts[0].fileData.fileUri"
        );
    }
    let bad_role = br#"{"contents":[{"role":"system","parts":[{"text":"x"}]}]}"#;
    assert_eq!(
        decode_request(bad_role, Some("m"), false).unwrap_err().field,
        "contents[0].role"
    );
    // More than one candidate used to be answered silently with one.
    let two = br#"{"contents":[],"generation_config":{"candidate_count":2}}"#;
    let e = decode_request(two, Some("m"), false).unwrap_err();
    assert_eq!(e.field, "generationConfig.candidateCount");
    assert!(e.message.contains("candidateCount=1"), "{}", e.message);
    let one = br#"{"contents":[],"generationConfig":{"candidateCount":1}}"#;
    assert!(decode_request(one, Some("m"), false).is_ok());
    assert_eq!(decode_request(b"{}", None, false).unwrap_err().field, "model");
    assert!(decode_request(b"[]", Some("m"), false).is_err());
}

#[test]
fn tool_result_images_and_json() {
    let mut r = foreign_request();
    r.messages[2].content = vec![Part::ToolResult {
        id: "toolu_9".into(),
        name: Some("get_weather".into()),
        content: vec![
            ToolResultContent::Json(json!({"temp": 20})),
            ToolResultContent::Image(ImageSource::Base64 {
                media_type: "image/png".into(),
                data: "AA==".into(),
            }),
        ],
        is_error: false,
        extra: Extra::default(),
    }];
    let out = parse(&encode_request(&r).unwrap());
    assert_eq!(
        out["contents"][2]["parts"][0]["functionResponse"],
        json!({"name": "get_weather", "response": {"temp": 20},
               "parts": [{"inlineData": {"mimeType": "image/png", "data": "AA=="}}]})
    );
    let back = decode_request(&encode_request(&r).unwrap(), Some("m"), false).unwrap();
    assert_eq!(
        back.messages[2].content[0],
        Part::ToolResult {
            id: "call_0".into(),
            name: Some("get_weather".into()),
            content: r.messages[2].content[0].clone().tool_content(),
            is_error: false,
            extra: Extra::default(),
        }
    );
}

impl Part {
    fn tool_content(self) -> Vec<ToolResultContent> {
        match self {
            Part::ToolResult { content, .. } => content,
            _ => Vec::new(),
        }
    }
}

#[test]
fn protocols_response_fixture() {
    let r = decode_response(RESPONSE).unwrap();
    assert_eq!(r.id, "xyz");
    assert_eq!(r.model, "gemini-2.5-flash");
    assert_eq!(r.finish, FinishReason::ToolCalls);
    assert_eq!(
        r.content,
        vec![Part::ToolCall {
            id: CallIds::answer_call_id("xyz", 0),
            name: "get_weather".into(),
            arguments: r#"{"city":"Paris"}"#.into(),
            signature: None,
            extra: Extra::default()
        }]
    );
    assert_eq!(
        r.usage,
        Usage {
            input: 20,
            output: 5,
            ..Usage::default()
        }
    );
    let out = parse(&encode_response(&r));
    let orig = parse(RESPONSE);
    assert_eq!(out["candidates"][0]["content"], orig["candidates"][0]["content"]);
    assert_eq!(
        out["candidates"][0]["finishReason"],
        orig["candidates"][0]["finishReason"]
    );
    assert_eq!(out["candidates"][0]["index"], orig["candidates"][0]["index"]);
    for k in ["promptTokenCount", "candidatesTokenCount", "totalTokenCount"] {
        assert_eq!(out["usageMetadata"][k], orig["usageMetadata"][k], "{k}");
    }
    assert_eq!(out["modelVersion"], orig["modelVersion"]);
    assert_eq!(out["responseId"], orig["responseId"]);
    // Compact, keys sorted as the crate's `sort_keys` writes `Value`s; a call's `args` as the
    // upstream wrote them.
    let text = String::from_utf8(encode_response(&r)).unwrap();
    assert!(text.starts_with(r#"{"candidates":[{"content":{"parts":[{"functionCall":{"args":{"city":"Paris"},"name":"get_weather"}}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":5,"totalTokenCount":25},"modelVersion":"gemini-2.5-flash","responseId":"xyz"}"#), "{text}");
}

#[test]
fn response_round_trip_with_thinking_and_usage() {
    let resp = ChatResponse {
        id: "r1".into(),
        model: "gemini-3-pro".into(),
        content: vec![
            Part::Thinking {
                text: "hmm".into(),
                signature: Some("slcGc2ln".into()),
            },
            Part::text("Hello"),
            Part::ToolCall {
                // As the decoder gives it: the signature also rides in the id.
                id: format!("{}__ts__c2lnMg", CallIds::answer_call_id("r1", 0)),
                name: "f".into(),
                arguments: "{}".into(),
                signature: Some("c2lnMg==".into()),
                extra: Extra::default(),
            },
        ],
        finish: FinishReason::ToolCalls,
        usage: Usage {
            input: 10,
            output: 30,
            cache_read: 4,
            cache_write: 0,
            reasoning: 20,
        },
        stop_sequence: None,
        created: 0,
        logprobs: Vec::new(),
    };
    let body = encode_response(&resp);
    let v = parse(&body);
    assert_eq!(
        v["usageMetadata"],
        json!({"promptTokenCount": 10, "candidatesTokenCount": 10, "totalTokenCount": 40,
               "cachedContentTokenCount": 4, "thoughtsTokenCount": 20})
    );
    assert_eq!(decode_response(&body).unwrap(), resp);

    // Foreign ids are written so a Gemini client can echo them back.
    let mut foreign = resp.clone();
    foreign.content[2] = Part::ToolCall {
        id: "toolu_1".into(),
        name: "f".into(),
        arguments: "{}".into(),
        signature: None,
        extra: Extra::default(),
    };
    let v = parse(&encode_response(&foreign));
    assert_eq!(
        v["candidates"][0]["content"]["parts"][2]["functionCall"]["id"].as_str(),
        Some("toolu_1")
    );
    assert_eq!(decode_response(&encode_response(&foreign)).unwrap(), foreign);
}

/// Gemini 3 answers a history function call without its `thoughtSignature` with 400 ("Function
/// call is missing a thought_signature"); an OpenAI client has no field for it, so it used to be
/// lost. It now rides in the tool-call id and comes back on the call part.
#[test]
fn call_signature_survives_a_turn_through_an_openai_client() {
    use crate::formats::openai;
    let sig = "Cr8B+/9aZw=="; // standard base64, with the characters ids cannot hold
    let gemini_answer = format!(
        r#"{{"candidates":[{{"content":{{"parts":[{{"functionCall":{{"name":"get_weather","args":{{"city":"Paris"}}}},"thoughtSignature":"{sig}"}}],"role":"model"}},"finishReason":"STOP"}}]}}"#
    );
    let resp = decode_response(gemini_answer.as_bytes()).unwrap();
    let client_answer = parse(&openai::encode_response(&resp));
    let call = &client_answer["choices"][0]["message"]["tool_calls"][0];
    let id = call["id"].as_str().unwrap().to_string();
    let (bare, _) = id.split_once("__ts__").expect("the signature rides in the id");
    assert!(response::is_synthesized(bare), "{id}");
    assert!(
        id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "{id}"
    );

    // The next turn, as the OpenAI SDK sends it.
    let next = json!({"model": "m", "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": id, "content": "sunny"}]});
    let req = openai::decode_request(&sonic_rs::to_vec(&next).unwrap(), None, false).unwrap();
    let out = parse(&encode_request(&req).unwrap());
    assert_eq!(
        out["contents"][1]["parts"][0],
        json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": sig})
    );
    assert_eq!(
        out["contents"][2]["parts"][0],
        json!({"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}})
    );

    // Streamed answers carry it the same way.
    let chunk = format!("data: {gemini_answer}\r\n\r\n");
    let make = || -> Box<dyn crate::canonical::stream::StreamDecode> { Box::new(stream::GeminiStreamDecoder::new()) };
    let events = crate::canonical::stream::testing::run(&make, &[chunk.as_bytes()]).unwrap();
    let signed = |i: &str| {
        i.split_once("__ts__")
            .is_some_and(|(bare, s)| response::is_synthesized(bare) && id.ends_with(&format!("__ts__{s}")))
    };
    assert!(
        events
            .iter()
            .any(|e| matches!(e, crate::canonical::stream::StreamEvent::ToolCallStart { id: i, .. } if signed(i))),
        "{events:?}"
    );

    // Ids without a signature, and look-alikes, are left alone.
    assert_eq!(split_signed_id("call_1"), ("call_1", None));
    assert_eq!(split_signed_id("a__ts__"), ("a__ts__", None));
    assert_eq!(split_signed_id("a__ts__x+y"), ("a__ts__x+y", None));
    assert_eq!(
        split_signed_id(&signed_id("toolu_1", "c2ln")),
        ("toolu_1", Some("c2ln".into()))
    );
}

#[test]
fn finish_reasons_both_ways() {
    use response::{finish_from_gemini, finish_to_gemini};
    for (g, c) in [
        ("STOP", FinishReason::Stop),
        ("MAX_TOKENS", FinishReason::Length),
        ("SAFETY", FinishReason::ContentFilter),
        ("RECITATION", FinishReason::ContentFilter),
        ("BLOCKLIST", FinishReason::ContentFilter),
        ("PROHIBITED_CONTENT", FinishReason::ContentFilter),
        ("SPII", FinishReason::ContentFilter),
        // Image and Model Armor blocks used to reach other formats as unknown reasons.
        ("IMAGE_SAFETY", FinishReason::ContentFilter),
        ("IMAGE_PROHIBITED_CONTENT", FinishReason::ContentFilter),
        ("IMAGE_RECITATION", FinishReason::ContentFilter),
        ("MODEL_ARMOR", FinishReason::ContentFilter),
        ("LANGUAGE", FinishReason::Other("LANGUAGE".into())),
        (
            "MALFORMED_FUNCTION_CALL",
            FinishReason::Other("MALFORMED_FUNCTION_CALL".into()),
        ),
        ("SOMETHING_NEW", FinishReason::Other("SOMETHING_NEW".into())),
    ] {
        assert_eq!(finish_from_gemini(g), c, "{g}");
    }
    assert_eq!(finish_to_gemini(&FinishReason::ToolCalls), "STOP");
    assert_eq!(finish_to_gemini(&FinishReason::StopSequence), "STOP");
    assert_eq!(finish_to_gemini(&FinishReason::Length), "MAX_TOKENS");
    assert_eq!(finish_to_gemini(&FinishReason::ContentFilter), "SAFETY");
    assert_eq!(
        finish_to_gemini(&FinishReason::Other("MALFORMED_FUNCTION_CALL".into())),
        "MALFORMED_FUNCTION_CALL"
    );
    assert_eq!(finish_to_gemini(&FinishReason::Other("pause_turn".into())), "OTHER");
    // Only values of Gemini's enum are written: a foreign one becomes its catch-all OTHER.
    for foreign in ["refusal", "guardrail_intervened", "ERROR", "stop", "SOMETHING_NEW"] {
        assert_eq!(
            finish_to_gemini(&FinishReason::Other(foreign.into())),
            "OTHER",
            "{foreign}"
        );
    }
    // A blocked prompt has no candidates.
    let r = decode_response(br#"{"promptFeedback":{"blockReason":"SAFETY"}}"#).unwrap();
    assert_eq!((r.finish.clone(), r.content.len()), (FinishReason::ContentFilter, 0));
    let v = parse(&encode_response(&r));
    assert!(v["candidates"][0].get("content").is_none());
}

#[test]
fn errors() {
    let f = decode_error(400, ERROR);
    assert_eq!(f.kind, FaultKind::Authentication);
    assert_eq!(f.message, "API key not valid. Please pass a valid API key.");
    let f = decode_error(
        429,
        br#"[{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}]"#,
    );
    assert_eq!((f.kind, f.message.as_str()), (FaultKind::RateLimited, "quota"));
    let f = decode_error(502, b"<html>bad gateway</html>");
    assert_eq!((f.status, f.kind), (502, FaultKind::Server));
    assert_eq!(f.message, "upstream answered HTTP 502 with an HTML page: bad gateway");
    assert_eq!(decode_error(503, b"").kind, FaultKind::Overloaded);

    for (status, kind, name) in [
        (400, FaultKind::InvalidRequest, "INVALID_ARGUMENT"),
        (401, FaultKind::Authentication, "UNAUTHENTICATED"),
        (403, FaultKind::PermissionDenied, "PERMISSION_DENIED"),
        (404, FaultKind::NotFound, "NOT_FOUND"),
        (429, FaultKind::RateLimited, "RESOURCE_EXHAUSTED"),
        (500, FaultKind::Server, "INTERNAL"),
        (503, FaultKind::Overloaded, "UNAVAILABLE"),
        (504, FaultKind::Timeout, "DEADLINE_EXCEEDED"),
    ] {
        let fault = UpstreamFault {
            status,
            kind,
            message: "m".into(),
        };
        let e = encode_error(&fault);
        assert_eq!(e.status, status);
        let v = parse(&e.body);
        assert_eq!(v, json!({"error": {"code": status, "message": "m", "status": name}}));
        let back = decode_error(e.status, &e.body);
        assert_eq!(back, fault, "{status}");
    }
}

/// A status Google never sends reaches a Gemini client as the nearest one it does: Anthropic's
/// 529 used to go out as 529, which google-genai does not retry (it retries 503).
#[test]
fn statuses_outside_googles_table_are_mapped() {
    for (status, kind, want, name) in [
        (529, FaultKind::Overloaded, 503, "UNAVAILABLE"),
        (502, FaultKind::Server, 503, "UNAVAILABLE"),
        (408, FaultKind::Timeout, 504, "DEADLINE_EXCEEDED"),
        (413, FaultKind::RequestTooLarge, 400, "INVALID_ARGUMENT"),
        (422, FaultKind::InvalidRequest, 400, "INVALID_ARGUMENT"),
        (402, FaultKind::InvalidRequest, 400, "INVALID_ARGUMENT"),
        (507, FaultKind::Server, 500, "INTERNAL"),
        (200, FaultKind::Server, 500, "INTERNAL"),
    ] {
        let e = encode_error(&UpstreamFault {
            status,
            kind,
            message: "m".into(),
        });
        assert_eq!(e.status, want, "{status}");
        assert_eq!(
            parse(&e.body),
            json!({"error": {"code": want, "message": "m", "status": name}}),
            "{status}"
        );
    }
}

#[test]
fn openapi_schemas_become_json_schema() {
    // What google-genai sends for a pydantic model with an `Optional` field.
    let s = json!({"type": "OBJECT", "property_ordering": ["name", "pop"], "required": ["name", "pop"],
        "properties": {
            "name": {"type": "STRING", "example": "Paris"},
            "pop": {"type": "INTEGER", "nullable": true, "description": "people"},
            "nullable": {"type": "ARRAY", "max_items": 2, "items": {"type": "STRING", "nullable": false}},
            "kind": {"any_of": [{"type": "STRING", "enum": ["a"]}, {"type": "NUMBER"}], "nullable": true}}});
    assert_eq!(
        openapi_to_json_schema(&s),
        json!({"type": "object", "required": ["name", "pop"], "properties": {
            "name": {"type": "string"},
            "pop": {"anyOf": [{"type": "integer", "description": "people"}, {"type": "null"}]},
            "nullable": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
            "kind": {"anyOf": [{"anyOf": [{"type": "string", "enum": ["a"]}, {"type": "number"}]}, {"type": "null"}]}}})
    );
}

#[test]
fn openapi_types_are_lowercased_recursively() {
    let s = json!({"type": "OBJECT", "properties": {
        "type": {"type": "STRING", "enum": ["A", "B"]},
        "list": {"type": "ARRAY", "items": {"type": "INTEGER"}},
        "any": {"anyOf": [{"type": "NUMBER"}, {"type": "BOOLEAN"}]}}});
    assert_eq!(
        openapi_to_json_schema(&s),
        json!({"type": "object", "properties": {
            "type": {"type": "string", "enum": ["A", "B"]},
            "list": {"type": "array", "items": {"type": "integer"}},
            "any": {"anyOf": [{"type": "number"}, {"type": "boolean"}]}}})
    );
}

#[test]
fn code_execution_parts_become_text_and_come_back_raw() {
    let body = br#"{"candidates":[{"content":{"parts":[{"text":"Computing."},
        {"executableCode":{"language":"PYTHON","code":"print(1)"}},
        {"codeExecutionResult":{"outcome":"OUTCOME_OK","output":"1\n"}},{"text":"It printed 1."}],
        "role":"model"},"finishReason":"STOP"}]}"#;
    let r = decode_response(body).unwrap();
    // Joined as an OpenAI client gets them, the fences still stand on lines of their own.
    let joined: String = r.content.iter().filter_map(Part::as_text).collect();
    assert_eq!(
        joined,
        "Computing.\n```python\nprint(1)\n```\n\n```\n1\n```\nIt printed 1."
    );
    let v = parse(&encode_response(&r));
    assert_eq!(
        v["candidates"][0]["content"]["parts"][1],
        json!({"executableCode": {"language": "PYTHON", "code": "print(1)"}})
    );
}

#[test]
fn truncated_and_odd_inputs_never_panic() {
    for src in [REQUEST, REQUEST_SNAKE, RESPONSE, ERROR] {
        for n in 0..=src.len() {
            let b = &src[..n];
            let _ = decode_request(b, Some("m"), false);
            let _ = decode_request(b, None, true);
            let _ = decode_response(b);
            let _ = decode_error(500, b);
        }
    }
    for odd in [
        r#"{"contents":{"parts":[]}}"#,
        r#"{"contents":[1,"x",null,{"parts":"x"},{"parts":[null,1,{}]}]}"#,
        r#"{"contents":[{"parts":[{"functionCall":{"args":[]}}]}]}"#,
        r#"{"contents":[{"parts":[{"functionCall":{"name":"f","args":null}}]}]}"#,
        r#"{"generationConfig":{"topK":-1,"maxOutputTokens":1e99,"seed":"x"}}"#,
        r#"{"generationConfig":[],"tools":{},"toolConfig":7,"systemInstruction":5}"#,
        r#"{"tools":[{"functionDeclarations":[{"name":"f","parameters":null}]}]}"#,
    ] {
        let _ = decode_request(odd.as_bytes(), Some("m"), false);
        let _ = decode_response(odd.as_bytes());
    }
    assert!(decode_request(br#"{"contents":[]}"#, Some("m"), false).is_ok());
}

#[test]
fn camel_and_field_lookup() {
    assert_eq!(camel("mime_type"), "mimeType");
    assert_eq!(camel("parameters_json_schema"), "parametersJsonSchema");
    assert_eq!(camel("text"), "text");
    let v = json!({"file_uri": "u", "mimeType": "m", "x": null});
    assert_eq!(str_field(&v, "fileUri"), Some("u"));
    assert_eq!(str_field(&v, "mimeType"), Some("m"));
    assert!(field(&v, "x").is_none());
}

#[test]
fn camel_eq_agrees_with_camel() {
    let keys = [
        "mime_type",
        "mimeType",
        "file_uri",
        "fileUri",
        "a__b",
        "_a",
        "a_",
        "a",
        "",
        "text",
        "thought_signature",
        "function_call",
        "functioncall",
        "Function_call",
        "x_é",
        "x_É",
        "inline__data",
        "inline_data_",
    ];
    let names = [
        "mimeType",
        "fileUri",
        "aB",
        "A",
        "a",
        "",
        "text",
        "thoughtSignature",
        "functionCall",
        "xé",
        "inlineData",
    ];
    for k in keys {
        for n in names {
            let want = k != n && camel(k) == n;
            assert_eq!(camel_eq(k, n), want, "{k:?} vs {n:?}");
        }
    }
}

#[test]
fn fields_reads_several_names_as_field_reads_each() {
    // Both spellings present: the camelCase one wins, in either order; null counts as absent,
    // and an explicit null under the camelCase name hides the snake_case one, as in `field`.
    let v = json!({"file_uri": "snake", "fileUri": "camel", "mime_type": "m", "text": null,
                   "thought": true, "inline_data": 1, "inlineData": null});
    let w = json!({"fileUri": "camel", "file_uri": "snake"});
    let names = ["fileUri", "mimeType", "text", "thought", "inlineData", "absent"];
    for obj in [&v, &w] {
        let got = fields(obj, names);
        for (i, n) in names.iter().enumerate() {
            assert_eq!(
                got[i].map(|x| x.to_string()),
                field_by_lookup(obj, n).map(|x| x.to_string()),
                "{n}"
            );
        }
    }
    assert_eq!(str_field(&v, "fileUri"), Some("camel"));
    assert_eq!(str_field(&w, "fileUri"), Some("camel"));
    assert!(field(&v, "inlineData").is_none());
    assert!(fields(&json!("not an object"), ["text"])[0].is_none());
}

/// `field` as it was written before `fields`: a lookup, then a scan of the snake_case keys.
fn field_by_lookup<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    use sonic_rs::JsonContainerTrait;
    let obj = v.as_object()?;
    let found = match obj.get(&name) {
        Some(x) => Some(x),
        None => obj.iter().find(|(k, _)| camel(k) == name).map(|(_, v)| v),
    };
    found.filter(|x| !x.is_null())
}

#[test]
fn mock_scenario_through_the_codec() {
    // decode -> scenario -> encode -> decode keeps the answer.
    let req = decode_request(REQUEST, Some("gemini-2.5-flash"), false).unwrap();
    let resp = crate::mock::scenario::respond(&req, "id1").unwrap();
    let back = decode_response(&encode_response(&resp)).unwrap();
    assert_eq!(back.content, resp.content);
    assert_eq!(back.usage, resp.usage);
    let _ = Message {
        role: Role::User,
        content: vec![],
    };
}

#[test]
fn documents_are_inline_data_or_pdf_file_data() {
    let body = br#"{"contents":[{"role":"user","parts":[
        {"inlineData":{"mimeType":"application/pdf","data":"JVBERi0="}},
        {"inline_data":{"mime_type":"text/plain","data":"aGk="}},
        {"fileData":{"mimeType":"application/pdf","fileUri":"https://x.test/a.pdf"}},
        {"inlineData":{"mimeType":"image/png","data":"iVBORw=="}},
        {"text":"compare"}]}]}"#;
    let r = decode_request(body, Some("m"), false).unwrap();
    let doc = |source| Part::Document {
        source,
        name: None,
        extra: Extra::default(),
    };
    let c = &r.messages[0].content;
    assert_eq!(
        c[..3],
        [
            doc(DocumentSource::Base64 {
                media_type: "application/pdf".into(),
                data: "JVBERi0=".into()
            }),
            doc(DocumentSource::Base64 {
                media_type: "text/plain".into(),
                data: "aGk=".into()
            }),
            doc(DocumentSource::Url("https://x.test/a.pdf".into())),
        ]
    );
    assert!(matches!(c[3], Part::Image { .. }), "images stay images");
    // Anthropic refuses `image/jpg`: an inline image reaches other formats as `image/jpeg`.
    let jpg = br#"{"contents":[{"parts":[{"inlineData":{"mimeType":"image/jpg","data":"/9j/"}}]}]}"#;
    assert!(matches!(
        &decode_request(jpg, Some("m"), false).unwrap().messages[0].content[0],
        Part::Image { source: ImageSource::Base64 { media_type, .. }, .. } if media_type == "image/jpeg"
    ));
    // google-genai sends bytes in URL-safe base64, which only Gemini reads: other formats get
    // the standard alphabet, images and documents alike.
    let url_safe = br#"{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"_9j_-A=="}},
        {"inlineData":{"mimeType":"application/pdf","data":"_9j_-A=="}}]}]}"#;
    for p in &decode_request(url_safe, Some("m"), false).unwrap().messages[0].content {
        assert!(
            matches!(
                p,
                Part::Image { source: ImageSource::Base64 { data, .. }, .. }
                    | Part::Document { source: DocumentSource::Base64 { data, .. }, .. } if data == "/9j/+A=="
            ),
            "{p:?}"
        );
    }
    let v = parse(&encode_request(&r).unwrap());
    assert_eq!(
        v["contents"][0]["parts"],
        json!([
            {"inlineData": {"data": "JVBERi0=", "mimeType": "application/pdf"}},
            {"inlineData": {"data": "aGk=", "mimeType": "text/plain"}},
            {"fileData": {"fileUri": "https://x.test/a.pdf", "mimeType": "application/pdf"}},
            {"inlineData": {"data": "iVBORw==", "mimeType": "image/png"}},
            {"text": "compare"}
        ])
    );
    // An Anthropic text document travels as base64 text/plain; its title has no Gemini field.
    let mut r = foreign_request();
    r.messages[0].content = vec![Part::Document {
        source: DocumentSource::Text("hi".into()),
        name: Some("notes".into()),
        extra: Extra::default(),
    }];
    let v = parse(&encode_request(&r).unwrap());
    assert_eq!(
        v["contents"][0]["parts"][0],
        json!({"inlineData": {"data": "aGk=", "mimeType": "text/plain"}})
    );
}

#[test]
fn results_in_separate_messages_become_one_content_of_responses() {
    // An Anthropic client may answer parallel calls one user message each (Anthropic merges
    // them); Gemini wants as many responses in one content as the model turn made calls.
    let call = |id: &str| Part::ToolCall {
        id: id.into(),
        name: "f".into(),
        arguments: "{}".into(),
        signature: None,
        extra: Extra::default(),
    };
    let result = |id: &str| Part::ToolResult {
        id: id.into(),
        name: Some("f".into()),
        content: vec![crate::canonical::ToolResultContent::Text("ok".into())],
        is_error: false,
        extra: Extra::default(),
    };
    let msg = |role, content| Message { role, content };
    let r = ChatRequest {
        messages: vec![
            msg(Role::User, vec![Part::text("go")]),
            msg(Role::Assistant, vec![call("a"), call("b")]),
            msg(Role::User, vec![result("a")]),
            msg(Role::User, vec![result("b"), Part::text("and?")]),
            msg(Role::Assistant, vec![Part::RedactedThinking { data: "x".into() }]),
            msg(Role::Assistant, vec![Part::text("done")]),
        ],
        ..Default::default()
    };
    let out = parse(&encode_request(&r).unwrap());
    let contents = out["contents"].as_array().unwrap();
    let shape: Vec<(&str, usize)> = contents
        .iter()
        .map(|c| (c["role"].as_str().unwrap(), c["parts"].as_array().unwrap().len()))
        .collect();
    assert_eq!(shape, [("user", 1), ("model", 2), ("user", 3), ("model", 1)]);
    assert_eq!(contents[2]["parts"][1]["functionResponse"]["name"].as_str(), Some("f"));
    assert_eq!(contents[2]["parts"][2]["text"].as_str(), Some("and?"));
}

/// Gemini has no per-function strict mode: a strict tool goes as its declaration (the model
/// still gets the schema), without a field Gemini would refuse.
#[test]
fn strict_tools_go_without_strict() {
    let mut r = foreign_request();
    r.tools[0].strict = Some(true);
    let out = parse(&encode_request(&r).unwrap());
    let decl = &out["tools"][0]["functionDeclarations"][0];
    assert_eq!(decl["name"].as_str(), Some(r.tools[0].name.as_str()));
    assert!(decl.get("strict").is_none(), "{decl:?}");
}

/// Image or audio output (`responseModalities`) and a voice (`speechConfig`) used to be dropped
/// for other formats, which then answered in text: refused by name now. Text alone passes, and a
/// Gemini target gets them back.
#[test]
fn image_and_audio_output_are_refused_for_other_formats() {
    let body = |gc: &str| format!(r#"{{"contents":[{{"parts":[{{"text":"hi"}}]}}],"generationConfig":{gc}}}"#);
    let cases = [
        (
            r#"{"responseModalities":["IMAGE"]}"#,
            Some("generationConfig.responseModalities"),
        ),
        (
            r#"{"response_modalities":["TEXT","AUDIO"]}"#,
            Some("generationConfig.responseModalities"),
        ),
        (
            r#"{"speechConfig":{"voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Kore"}}}}"#,
            Some("generationConfig.speechConfig"),
        ),
        (r#"{"responseModalities":["TEXT"],"temperature":0.5}"#, None),
        (r#"{"responseModalities":[]}"#, None),
    ];
    for (gc, refused) in cases {
        let b = body(gc);
        let r = decode_request(b.as_bytes(), Some("m"), false).unwrap();
        for f in Format::ALL.into_iter().filter(|f| *f != Format::Gemini) {
            let got = (crate::formats::codec(f).unwrap().encode_request)(&r);
            assert_eq!(got.err().map(|e| e.field), refused.map(str::to_string), "{gc} -> {f:?}");
        }
        let back = parse(&encode_request(&r).unwrap());
        let want = parse(b.as_bytes());
        let key = |v: &Value| {
            let gc = v["generationConfig"].as_object().unwrap().clone();
            let mut keys: Vec<String> = gc.iter().map(|(k, _)| camel(k).into_owned()).collect();
            keys.sort();
            keys
        };
        assert_eq!(key(&back), key(&want), "{gc}");
    }
}

#[test]
fn streamed_thoughts_sent_back_are_one_signed_block_again() {
    // As a Gemini client's chat history keeps a thought streamed from Anthropic or Bedrock: its
    // text in pieces, then the signature alone (marked as Claude's).
    let body = br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]},{"role":"model","parts":[
        {"text":"Let me ","thought":true},{"text":"think.","thought":true},
        {"text":"","thought":true,"thoughtSignature":"slcCc2lnMQ=="},
        {"text":"Second","thought":true},{"text":"","thought":true,"thoughtSignature":"slcCc2lnMg=="},
        {"text":"Hello!"},{"text":"unsigned","thought":true}]},
        {"role":"user","parts":[{"text":"again"}]}]}"#;
    let r = decode_request(body, Some("m"), false).unwrap();
    let thought = |text: &str, sig: Option<&str>| Part::Thinking {
        text: text.into(),
        signature: sig.map(Into::into),
    };
    assert_eq!(
        r.messages[1].content,
        vec![
            thought("Let me think.", Some("slcCc2lnMQ==")),
            thought("Second", Some("slcCc2lnMg==")),
            Part::text("Hello!"),
            thought("unsigned", None),
        ]
    );
    // A user turn's parts are left alone (no thoughts there to join).
    assert_eq!(r.messages[2].content, vec![Part::text("again")]);

    // The chat session keeps them one Content per chunk: the same turn.
    let body = br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]},
        {"role":"model","parts":[{"text":"Let me ","thought":true}]},
        {"role":"model","parts":[{"text":"think.","thought":true}]},
        {"role":"model","parts":[{"text":"","thought":true,"thoughtSignature":"c2lnMQ=="}]},
        {"role":"model","parts":[{"text":"Hello!"}]},{"role":"model","parts":[{"text":""}]},
        {"role":"user","parts":[{"text":"again"}]}]}"#;
    let r = decode_request(body, Some("m"), false).unwrap();
    assert_eq!(r.messages.len(), 3);
    assert_eq!(
        r.messages[1].content,
        vec![
            thought("Let me think.", Some("slcGc2lnMQ==")),
            Part::text("Hello!"),
            Part::text("")
        ]
    );
}

#[test]
fn each_answer_gets_call_ids_of_its_own() {
    let answer = br#"{"candidates":[{"content":{"role":"model","parts":[
        {"functionCall":{"name":"f","args":{}}},{"functionCall":{"name":"g","args":{}}}]},
        "finishReason":"STOP"}]}"#;
    let ids = |r: &ChatResponse| -> Vec<String> {
        r.content
            .iter()
            .filter_map(|p| match p {
                Part::ToolCall { id, .. } => Some(id.clone()),
                _ => None,
            })
            .collect()
    };
    let (a, b) = (
        ids(&decode_response(answer).unwrap()),
        ids(&decode_response(answer).unwrap()),
    );
    assert_eq!(a.len(), 2);
    assert!(a.iter().chain(&b).all(|id| response::is_synthesized(id)), "{a:?} {b:?}");
    assert!(
        a.iter().all(|id| !b.contains(id)),
        "two answers share an id: {a:?} {b:?}"
    );
    assert_ne!(a[0], a[1]);
    // With Google's `responseId`, the nonce comes from it: the same answer, the same ids.
    let with_id = |rid: &str| {
        let body = String::from_utf8_lossy(answer).replacen('{', &format!(r#"{{"responseId":"{rid}","#), 1);
        ids(&decode_response(body.as_bytes()).unwrap())
    };
    assert_eq!(with_id("Ab_9-x"), with_id("Ab_9-x"));
    assert_ne!(with_id("Ab_9-x"), with_id("Ab_9-y"));
    assert!(with_id("Ab_9-x").iter().all(|id| response::is_synthesized(id)));
    // Within a request, the history's calls count from 0, and results find them by name.
    let req = br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]},
        {"role":"model","parts":[{"functionCall":{"name":"f","args":{}}}]},
        {"role":"user","parts":[{"functionResponse":{"name":"f","response":{"r":1}}}]}]}"#;
    let r = decode_request(req, Some("m"), false).unwrap();
    assert!(matches!(&r.messages[1].content[0], Part::ToolCall { id, .. } if id == "call_0"));
    assert!(matches!(&r.messages[2].content[0], Part::ToolResult { id, .. } if id == "call_0"));
}

/// A long history's results find the same calls through `CallIndex` as by scanning them: ids
/// given (known, unknown, repeated), id-less results of names with calls unanswered, all
/// answered, or none; calls made between results (the maps brought up to date).
#[test]
fn call_index_finds_what_the_scan_finds() {
    let (mut scan, mut index) = (CallIds::for_request(), CallIds::for_request());
    let mut seed = 7u64;
    let mut next = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let names = ["a", "b", "c", "never"];
    for round in 0..3000 {
        if next(3) == 0 || round < 100 {
            // A call: its own id (sometimes one already used), or none.
            let name = names[next(3) as usize];
            let id = match next(4) {
                0 => None,
                1 => Some(format!("dup{}", next(5))),
                _ => Some(format!("id{round}")),
            };
            assert_eq!(scan.call(id.as_deref(), name), index.call(id.as_deref(), name));
            continue;
        }
        let name = names[next(4) as usize];
        let id = match next(4) {
            0 => Some(format!("id{}", next(round as u64 + 1))),
            1 => Some(format!("dup{}", next(6))),
            2 => Some(String::new()),
            _ => None,
        };
        let by_scan = scan.result_by_scan(id.as_deref(), name);
        let by_index = index.result_by_index(id.as_deref(), name);
        assert_eq!(by_scan, by_index, "round {round}: result {id:?} of {name}");
    }
    assert!(scan.calls == index.calls, "the same calls answered");
    assert!(index.calls.len() > CallIndex::FROM);
}

#[test]
fn made_up_ids_are_call_and_the_count() {
    assert_eq!(made_up_id(None, 0), "call_0");
    assert_eq!(made_up_id(None, 1234), "call_1234");
    assert_eq!(made_up_id(Some("9f3a"), 7), "call_9f3a_7");
    assert_eq!(made_up_id(None, usize::MAX), format!("call_{}", usize::MAX));
    // An answer's id: its nonce is a hash of the response id, in hex.
    let id = CallIds::answer_call_id("resp-1", 12);
    let nonce = id.strip_prefix("call_").and_then(|r| r.strip_suffix("_12")).unwrap();
    assert!(
        !nonce.is_empty() && nonce.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
}
