//! Translation cost per format pair, against the same-format passthrough.
//!
//! Decision informed: whether the canonical hub (decode into owned canonical types, encode into
//! the target) is cheap enough to sit on the request path next to a passthrough that only peeks
//! and splices the model (issue target: a translated request within 1.3x of the same-format
//! request in end-to-end req/s). Inputs: a typical ~2 KB chat request (system prompt, six turns,
//! one tool) and its ~0.6 KB answer with a tool call, each first written in every source format
//! by that format's own encoder.

// Same allocator as the gateway, so the figures are the ones the request path pays.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkGroup, Criterion};
use sluice::canonical::{
    ChatRequest, ChatResponse, Extra, FinishReason, Message, Part, ResponseFormat, Role, Tool, Usage,
};
use sluice::formats::openai::{responses, responses_upstream};
use sluice::formats::{codec, Format};
use sluice::wire::json;
use std::time::Duration;

fn canonical_request() -> ChatRequest {
    let mut messages = Vec::new();
    for i in 0..6 {
        messages.push(Message {
            role: Role::User,
            content: vec![Part::text(format!(
                "Question {i}: what is the capital of France, and why is it famous for its museums and food?"
            ))],
        });
        messages.push(Message {
            role: Role::Assistant,
            content: vec![Part::text(format!(
                "Paris. It has the Louvre, the Orsay and a long tradition of cuisine, answer {i}."
            ))],
        });
    }
    messages.push(Message {
        role: Role::User,
        content: vec![Part::text("And the weather there today?")],
    });
    ChatRequest {
        model: "bench-model".into(),
        system: vec![Part::text(
            "You are a helpful assistant. Answer briefly and cite sources when you can.",
        )],
        messages,
        tools: vec![Tool {
            name: "get_weather".into(),
            description: Some("Get the current weather for a city".into()),
            parameters: sonic_rs::json!({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})
                .into(),
            strict: None,
            extra: Default::default(),
        }],
        max_tokens: Some(256),
        temperature: Some(0.2),
        ..Default::default()
    }
}

fn canonical_response() -> ChatResponse {
    ChatResponse {
        id: "resp-1".into(),
        model: "bench-model".into(),
        content: vec![
            Part::text("Let me check the weather in Paris for you. ".repeat(8)),
            Part::ToolCall {
                id: "call_1".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
                signature: None,
                extra: Extra::default(),
            },
        ],
        finish: FinishReason::ToolCalls,
        usage: Usage {
            input: 520,
            output: 64,
            ..Default::default()
        },
        stop_sequence: None,
        created: 1_700_000_000,
        logprobs: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let req = canonical_request();
    let resp = canonical_response();
    let mut g = c.benchmark_group("translate");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
        .sample_size(20);
    for s in Format::ALL {
        let sc = codec(s).unwrap();
        let body = (sc.encode_request)(&req).unwrap();
        let answer = (sc.encode_response)(&resp);
        // Same format: what the passthrough does per request (validate + peek + splice).
        if s == Format::OpenAi {
            let b = Bytes::from(body.clone());
            g.bench_function("request/openai->openai (passthrough peek+splice)", |bn| {
                bn.iter(|| {
                    let p = json::peek(black_box(&b)).unwrap();
                    json::splice_string(&b, p.model_span.unwrap(), "bench-model")
                })
            });
        }
        g.bench_function(format!("decode_request/{}", s.name()), |bn| {
            bn.iter(|| (sc.decode_request)(black_box(&body), Some("bench-model"), false).unwrap())
        });
        g.bench_function(format!("encode_request/{}", s.name()), |bn| {
            bn.iter(|| (sc.encode_request)(black_box(&req)).unwrap())
        });
        for t in Format::ALL {
            if s == t {
                continue;
            }
            let tc = codec(t).unwrap();
            g.bench_function(format!("request/{}->{}", s.name(), t.name()), |bn| {
                bn.iter(|| {
                    let canon = (sc.decode_request)(black_box(&body), Some("bench-model"), false).unwrap();
                    (tc.encode_request)(&canon).unwrap()
                })
            });
            // The answer travels back: decode the target's response, encode the source's.
            let upstream_answer = (tc.encode_response)(&resp);
            g.bench_function(format!("response/{}->{}", t.name(), s.name()), |bn| {
                bn.iter(|| {
                    let canon = (tc.decode_response)(black_box(&upstream_answer)).unwrap();
                    (sc.encode_response)(&canon)
                })
            });
        }
        black_box(answer);
    }
    // The Responses API (`/v1/responses`, an OpenAI SDK's `responses.create`): its request read
    // for an upstream of another format, and the answer written back; the body is what
    // `responses_upstream` writes for a Responses-kind upstream.
    let body = responses_upstream::encode_request(&req).unwrap();
    g.bench_function("decode_request/openai_responses", |bn| {
        bn.iter(|| responses::decode_request(black_box(&body)).unwrap())
    });
    let ac = codec(Format::Anthropic).unwrap();
    g.bench_function("request/openai_responses->anthropic", |bn| {
        bn.iter(|| (ac.encode_request)(&responses::decode_request(black_box(&body)).unwrap()).unwrap())
    });
    let canon = responses::decode_request(&body).unwrap();
    let echo = responses::Echo::of(&canon, &body);
    let upstream_answer = (ac.encode_response)(&resp);
    // What the answer repeats of the request: read again from the body, or with the request
    // (the gateway's path).
    g.bench_function("echo/openai_responses", |bn| {
        bn.iter(|| responses::Echo::of(black_box(&canon), black_box(&body)))
    });
    g.bench_function("decode_request_and_echo/openai_responses", |bn| {
        bn.iter(|| responses::decode_request_and_echo(black_box(&body)).unwrap())
    });
    let answer = (ac.decode_response)(&upstream_answer).unwrap();
    g.bench_function("encode_response/openai_responses", |bn| {
        bn.iter(|| responses::encode_response(black_box(&answer), &echo))
    });
    g.bench_function("response/anthropic->openai_responses", |bn| {
        bn.iter(|| responses::encode_response(&(ac.decode_response)(black_box(&upstream_answer)).unwrap(), &echo))
    });
    // An agent's history (a coding agent's loop): 60 tool calls, each answered by its result.
    // What it adds over the chat request: each call's arguments taken as written, and each
    // result named after its call (for formats that key results by name).
    let agent = agent_request(60);
    for s in [
        Format::OpenAi,
        Format::Anthropic,
        Format::Gemini,
        Format::Bedrock,
        Format::Cohere,
    ] {
        let sc = codec(s).unwrap();
        let body = (sc.encode_request)(&agent).unwrap();
        g.bench_function(format!("decode_request/{}_agent_60_calls", s.name()), |bn| {
            bn.iter(|| (sc.decode_request)(black_box(&body), Some("bench-model"), false).unwrap())
        });
    }
    // A coding agent's tool list: 20 tools with descriptions and schemas of real size (~27 KB of
    // the body), which every request of its loop sends again. Decoded, and translated from
    // each format (an OpenAI client reaching Claude, ...).
    let tooled = tooled_request(20);
    let pairs = [
        (Format::OpenAi, Format::Anthropic),
        (Format::Anthropic, Format::OpenAi),
        (Format::Gemini, Format::OpenAi),
        (Format::Bedrock, Format::Anthropic),
        (Format::Cohere, Format::OpenAi),
    ];
    decoded_and_translated(&mut g, "20_tools", &tooled, &pairs);
    // Structured output: a response schema of a typical extraction (~1 KB, a dozen properties),
    // kept as the client wrote it (its order is the answer's). Decoded, and translated.
    let pairs = [(Format::OpenAi, Format::Anthropic), (Format::Anthropic, Format::Gemini)];
    decoded_and_translated(&mut g, "response_schema", &structured_request(), &pairs);
    // The same three as a Responses API client sends them (a coding agent on `responses.create`
    // sends its whole loop and tool list with each request), read for another provider.
    for (what, req) in [
        ("agent_60_calls", &agent),
        ("20_tools", &tooled),
        ("response_schema", &structured_request()),
    ] {
        let body = responses_upstream::encode_request(req).unwrap();
        g.bench_function(format!("decode_request/openai_responses_{what}"), |bn| {
            bn.iter(|| responses::decode_request(black_box(&body)).unwrap())
        });
    }
    g.finish();
}

/// `req` as each format's client sends it, decoded (`decode_request/<format>_<what>`), and
/// translated for `pairs` (`request/<a>-><b>_<what>`).
fn decoded_and_translated(
    g: &mut BenchmarkGroup<'_, WallTime>,
    what: &str,
    req: &ChatRequest,
    pairs: &[(Format, Format)],
) {
    for s in Format::ALL {
        let sc = codec(s).unwrap();
        let body = (sc.encode_request)(req).unwrap();
        g.bench_function(format!("decode_request/{}_{what}", s.name()), |bn| {
            bn.iter(|| (sc.decode_request)(black_box(&body), Some("bench-model"), false).unwrap())
        });
    }
    for &(s, t) in pairs {
        let (sc, tc) = (codec(s).unwrap(), codec(t).unwrap());
        let body = (sc.encode_request)(req).unwrap();
        g.bench_function(format!("request/{}->{}_{what}", s.name(), t.name()), |bn| {
            bn.iter(|| {
                let canon = (sc.decode_request)(black_box(&body), Some("bench-model"), false).unwrap();
                (tc.encode_request)(&canon).unwrap()
            })
        });
    }
}

/// The chat request asking for an answer under a response schema of an extraction's size.
fn structured_request() -> ChatRequest {
    let mut req = canonical_request();
    req.response_format = Some(ResponseFormat::JsonSchema {
        name: "invoice".into(),
        schema: sonic_rs::json!({
            "type": "object",
            "properties": {
                "vendor": {"type": "string", "description": "The seller's name as printed."},
                "number": {"type": "string", "description": "The invoice number."},
                "date": {"type": "string", "description": "The issue date, ISO 8601."},
                "due": {"type": "string", "description": "The due date, ISO 8601."},
                "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
                "total": {"type": "number", "description": "The amount due, taxes included."},
                "tax": {"type": "number", "description": "The taxes."},
                "lines": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "item": {"type": "string"},
                            "quantity": {"type": "integer"},
                            "price": {"type": "number"}
                        },
                        "required": ["item", "quantity", "price"],
                        "additionalProperties": false
                    }
                },
                "notes": {"type": "string", "description": "Anything else printed on it."}
            },
            "required": ["vendor", "number", "date", "due", "currency", "total", "tax", "lines", "notes"],
            "additionalProperties": false
        })
        .into(),
        strict: Some(true),
    });
    req
}

/// The chat request with `n` tools shaped like a coding agent's (a paragraph of description,
/// five described parameters, an enum, a nested array of objects).
fn tooled_request(n: usize) -> ChatRequest {
    let mut req = canonical_request();
    req.tools = (0..n)
        .map(|i| Tool {
            name: format!("tool_{i}"),
            description: Some(format!(
                "Tool {i}. {}",
                "Reads, searches or edits files in the workspace; paths are relative to its root. ".repeat(5)
            )),
            parameters: sonic_rs::json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "The file's path, relative to the workspace root."},
                    "offset": {"type": "integer", "description": "The line to start from (1-based)."},
                    "limit": {"type": "integer", "description": "How many lines to read at most."},
                    "mode": {"type": "string", "enum": ["read", "write", "append"], "description": "What to do."},
                    "edits": {
                        "type": "array",
                        "description": "Replacements to apply in order.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "old_string": {"type": "string", "description": "The text to replace."},
                                "new_string": {"type": "string", "description": "The text to put instead."}
                            },
                            "required": ["old_string", "new_string"],
                            "additionalProperties": false
                        }
                    }
                },
                "required": ["path"],
                "additionalProperties": false
            })
            .into(),
            strict: None,
            extra: Default::default(),
        })
        .collect();
    req
}

fn agent_request(calls: usize) -> ChatRequest {
    let mut req = canonical_request();
    for i in 0..calls {
        req.messages.push(Message {
            role: Role::Assistant,
            content: vec![Part::ToolCall {
                id: format!("toolu_{i:04}"),
                name: "read_file".into(),
                arguments: format!(r#"{{"path":"src/module_{i}.rs","limit":200}}"#),
                signature: None,
                extra: Extra::default(),
            }],
        });
        req.messages.push(Message {
            role: Role::User,
            content: vec![Part::ToolResult {
                id: format!("toolu_{i:04}"),
                name: None,
                content: vec![sluice::canonical::ToolResultContent::Text(format!(
                    "fn handler_{i}() {{ /* forty lines of code */ }}"
                ))],
                is_error: false,
                extra: Extra::default(),
            }],
        });
    }
    req.messages.push(Message {
        role: Role::User,
        content: vec![Part::text("Now fix the failing test.")],
    });
    req
}

criterion_group!(benches, bench);
criterion_main!(benches);
