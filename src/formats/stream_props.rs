//! Property tests across every stream codec: random answers (any Unicode text, line breaks,
//! JS line separators, quotes; tool calls with random JSON arguments) go through each format's
//! stream encoder, the bytes are cut at a random point, and the format's decoder must give back
//! the same text, tool calls, usage and finish.

use super::{stream_decoder, stream_encoder, Format};
use crate::canonical::stream::testing::{collect, encode_all, run};
use crate::canonical::stream::{events_from_response, StreamDecode};
use crate::canonical::{ChatRequest, ChatResponse, FinishReason, Part, Usage};
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
            content.push(Part::ToolCall { id: format!("toolu_{i}x"), name, arguments, signature: None });
        }
        ChatResponse {
            id: "r".into(),
            model: "m".into(),
            content,
            finish: if has_calls { FinishReason::ToolCalls } else { FinishReason::Stop },
            usage: Usage { input, output, ..Default::default() },
            stop_sequence: None,
            created: 0,
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
