//! Property tests across every stream codec: random answers (any Unicode text, line breaks,
//! JS line separators, quotes; tool calls with random JSON arguments) go through each format's
//! stream encoder, the bytes are cut at a random point, and the format's decoder must give back
//! the same text, tool calls, usage and finish.

use super::{stream_decoder, stream_encoder, Format};
use crate::canonical::stream::testing::{collect, encode_all, run};
use crate::canonical::stream::{events_from_response, StreamDecode};
use crate::canonical::{ChatRequest, ChatResponse, Extra, FinishReason, Part, Usage};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{1,40}",
        "[a-z \n\r\t\"\\\\]{1,30}",
        Just("line\u{2028}sep\u{2029}x\u{85}y".to_string()),
        Just("data: [DONE]\n\nevent: error\r\n".to_string()),
    ]
}

fn args() -> impl Strategy<Value = String> {
    (text(), any::<i32>(), any::<bool>()).prop_map(|(s, n, b)| {
        sonic_rs::to_string(&sonic_rs::json!({"city": s, "n": n, "ok": b, "list": [n, s]})).unwrap()
    })
}

prop_compose! {
    fn answer()(texts in prop::collection::vec(text(), 0..3),
                calls in prop::collection::vec(("[a-z_]{1,12}", args()), 0..3),
                input in 0u64..100_000, output in 0u64..10_000) -> ChatResponse {
        let mut content: Vec<Part> = texts.into_iter().take(1).map(Part::text).collect();
        let has_calls = !calls.is_empty();
        for (i, (name, arguments)) in calls.into_iter().enumerate() {
            content.push(Part::ToolCall { id: format!("toolu_{i}x"), name, arguments, signature: None, extra: Extra::default() });
        }
        ChatResponse {
            id: "r".into(),
            model: "m".into(),
            content,
            finish: if has_calls { FinishReason::ToolCalls } else { FinishReason::Stop },
            usage: Usage { input, output, ..Default::default() },
            stop_sequence: None,
            created: 0,
            logprobs: Vec::new(),
        }
    }
}

/// What every format carries: the text, the calls (name, parsed arguments), usage, finish.
fn essence(r: &ChatResponse) -> (String, Vec<(String, sonic_rs::Value)>, u64, u64, FinishReason) {
    let text = r
        .content
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let calls = r
        .content
        .iter()
        .filter_map(|p| match p {
            Part::ToolCall { name, arguments, .. } => {
                Some((name.clone(), sonic_rs::from_str(arguments).expect("arguments are JSON")))
            }
            _ => None,
        })
        .collect();
    (text, calls, r.usage.input, r.usage.output, r.finish.clone())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_codec_round_trips_random_answers(resp in answer(), pieces in 1usize..5, cut in any::<prop::sample::Index>()) {
        let req = ChatRequest { stream: true, include_usage: true, ..Default::default() };
        let events = events_from_response(&resp, pieces);
        for f in Format::ALL {
            let mut enc = stream_encoder(f, false, &req);
            let bytes = encode_all(enc.as_mut(), &events);
            let at = cut.index(bytes.len() + 1);
            let make = || -> Box<dyn StreamDecode> { stream_decoder(f) };
            let whole = run(&make, &[&bytes]).map_err(|e| TestCaseError::fail(format!("{f:?}: {e}")))?;
            let (a, b) = bytes.split_at(at);
            let split = run(&make, &[a, b]).map_err(|e| TestCaseError::fail(format!("{f:?} split {at}: {e}")))?;
            prop_assert_eq!(&whole, &split, "{:?}: split at {}", f, at);
            prop_assert_eq!(essence(&collect(&whole)), essence(&resp), "{:?}", f);
        }
    }
}

/// A call without arguments (an Anthropic `tool_use` with `input: {}` streams its
/// `input_json_delta` as `""`, or sends none) reaches every client with arguments that parse as
/// the empty object, as the non-stream answer has them.
#[test]
fn a_call_without_arguments_reaches_every_client_as_an_empty_object() {
    use crate::canonical::stream::StreamEvent;
    let req = ChatRequest {
        stream: true,
        include_usage: true,
        ..Default::default()
    };
    let start = |id: &str| StreamEvent::Start {
        id: id.into(),
        model: "m".into(),
    };
    let call = StreamEvent::ToolCallStart {
        index: 0,
        id: "toolu_1".into(),
        name: "now".into(),
    };
    let finish = StreamEvent::Finish {
        reason: FinishReason::ToolCalls,
        stop_sequence: None,
    };
    let empty_delta = StreamEvent::ToolCallDelta {
        index: 0,
        arguments: String::new(),
    };
    let stop = StreamEvent::BlockStop { index: 0 };
    let shapes = [
        vec![
            start("a"),
            call.clone(),
            empty_delta.clone(),
            stop.clone(),
            finish.clone(),
        ],
        vec![start("b"), call.clone(), stop.clone(), finish.clone()],
        vec![start("c"), call.clone(), finish.clone()],
    ];
    let mut bad = Vec::new();
    for events in &shapes {
        for f in Format::ALL {
            let mut enc = stream_encoder(f, false, &req);
            let bytes = encode_all(enc.as_mut(), events);
            let make = || -> Box<dyn StreamDecode> { stream_decoder(f) };
            let decoded = run(&make, &[&bytes]).unwrap();
            // The `{}` comes inside the call's block, never after its stop (Bedrock's
            // `contentBlockStop`, Cohere's `tool-call-end`).
            let stopped = decoded
                .iter()
                .position(|e| matches!(e, StreamEvent::BlockStop { index: 0 }));
            let late = stopped.is_some_and(|at| {
                decoded[at..]
                    .iter()
                    .any(|e| matches!(e, StreamEvent::ToolCallDelta { index: 0, .. }))
            });
            if late {
                bad.push(format!(
                    "{f:?} {events:?}: arguments after the block's stop: {decoded:?}"
                ));
            }
            let back = collect(&decoded);
            let args: Vec<&str> = back
                .content
                .iter()
                .filter_map(|p| match p {
                    Part::ToolCall { arguments, .. } => Some(arguments.as_str()),
                    _ => None,
                })
                .collect();
            // The Anthropic SDK keeps the block's `input: {}` when no argument text follows.
            let text = match args.first() {
                Some(&"") if f == Format::Anthropic => "{}",
                Some(a) => a,
                None => "",
            };
            let parsed = sonic_rs::from_str::<sonic_rs::Value>(text).ok();
            if args.len() != 1 || parsed != Some(sonic_rs::json!({})) {
                bad.push(format!(
                    "{f:?} {events:?}: {args:?}\n{}",
                    String::from_utf8_lossy(&bytes)
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n\n"));
}

/// A `redacted_thinking` block (Claude, on Anthropic or Bedrock) used to be dropped from streams,
/// while the non-stream answer kept it: a client then sent the turn back without it, and the
/// provider's check of the turn's reasoning could refuse the next request. It crosses between
/// the two formats that have it, in its place, and the others leave it out.
#[test]
fn redacted_thinking_streams_between_anthropic_and_bedrock() {
    let req = ChatRequest {
        stream: true,
        include_usage: true,
        ..Default::default()
    };
    let resp = ChatResponse {
        id: "r".into(),
        model: "m".into(),
        content: vec![
            Part::Thinking {
                text: "hmm".into(),
                signature: Some("slcCsig".into()),
            },
            Part::RedactedThinking {
                data: "slcCQUJDRA==".into(),
            },
            Part::text("answer"),
        ],
        finish: FinishReason::Stop,
        usage: Usage::default(),
        stop_sequence: None,
        created: 0,
        logprobs: Vec::new(),
    };
    let events = events_from_response(&resp, 2);
    for f in Format::ALL {
        let bytes = encode_all(stream_encoder(f, false, &req).as_mut(), &events);
        let make = || -> Box<dyn StreamDecode> { stream_decoder(f) };
        let back = collect(&run(&make, &[&bytes]).unwrap());
        let redacted: Vec<&Part> = back
            .content
            .iter()
            .filter(|p| matches!(p, Part::RedactedThinking { .. }))
            .collect();
        if matches!(f, Format::Anthropic | Format::Bedrock) {
            assert_eq!(back.content, resp.content, "{f:?}");
        } else {
            assert!(redacted.is_empty(), "{f:?}");
            assert_eq!(essence(&back), essence(&resp), "{f:?}");
        }
    }
    // Anthropic's own form: the whole block at its start, then its stop.
    let bytes = encode_all(stream_encoder(Format::Anthropic, false, &req).as_mut(), &events);
    let wire = String::from_utf8(bytes).unwrap();
    assert!(
        wire.contains(
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"QUJDRA=="}}"#
        ),
        "{wire}"
    );
    assert!(wire.contains(r#"{"type":"content_block_stop","index":1}"#), "{wire}");
}

/// An OpenAI upstream interleaving parallel calls (each call's start, then their argument pieces
/// in turn): every client gets each call's arguments inside its block, never after its stop
/// (Anthropic's `content_block_stop`, Bedrock's `contentBlockStop`, Cohere's `tool-call-end`),
/// and the calls the non-stream answer has.
#[test]
fn interleaved_upstream_calls_reach_every_client_inside_their_blocks() {
    use crate::canonical::stream::StreamEvent;
    let chunk = |delta: &str, finish: &str| {
        format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":{finish}}}]}}\n\n"
        )
    };
    let start = |i: u32, id: &str, name: &str| {
        let call = format!(
            "{{\"index\":{i},\"id\":\"{id}\",\"type\":\"function\",\"function\":{{\"name\":\"{name}\",\"arguments\":\"\"}}}}"
        );
        chunk(&format!("{{\"tool_calls\":[{call}]}}"), "null")
    };
    let piece = |i: u32, arguments: &str| {
        let arguments = sonic_rs::to_string(arguments).unwrap();
        let call = format!("{{\"index\":{i},\"function\":{{\"arguments\":{arguments}}}}}");
        chunk(&format!("{{\"tool_calls\":[{call}]}}"), "null")
    };
    let upstream = [
        chunk("{\"role\":\"assistant\",\"content\":null}", "null"),
        start(0, "call_a", "weather"),
        start(1, "call_b", "time"),
        start(2, "call_c", "noop"),
        piece(1, "{\"tz\":"),
        piece(0, "{\"city\":\"Pa"),
        piece(2, "{}"),
        piece(1, "\"U}TC\"}"),
        piece(0, "ris\",\"days\":[1,2]}"),
        chunk("{}", "\"tool_calls\""),
        "data: [DONE]\n\n".to_string(),
    ]
    .concat();
    let openai = || -> Box<dyn StreamDecode> { stream_decoder(Format::OpenAi) };
    let events = run(&openai, &[upstream.as_bytes()]).unwrap();
    let want = vec![
        (
            "weather".to_string(),
            sonic_rs::json!({"city": "Paris", "days": [1, 2]}),
        ),
        ("time".to_string(), sonic_rs::json!({"tz": "U}TC"})),
        ("noop".to_string(), sonic_rs::json!({})),
    ];
    let req = ChatRequest {
        stream: true,
        ..Default::default()
    };
    for f in Format::ALL {
        let bytes = encode_all(stream_encoder(f, false, &req).as_mut(), &events);
        let make = || -> Box<dyn StreamDecode> { stream_decoder(f) };
        let decoded = run(&make, &[&bytes]).unwrap();
        for (at, e) in decoded.iter().enumerate() {
            if let StreamEvent::BlockStop { index } = e {
                let late = decoded[at..]
                    .iter()
                    .any(|e| matches!(e, StreamEvent::ToolCallDelta { index: i, .. } if i == index));
                assert!(
                    !late,
                    "{f:?}: a delta after block {index}'s stop\n{}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
        assert_eq!(essence(&collect(&decoded)).1, want, "{f:?}");
    }
}
