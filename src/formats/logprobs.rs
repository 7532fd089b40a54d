//! Token log probabilities across formats: OpenAI (`logprobs`/`top_logprobs`, `choices[].logprobs`)
//! and Gemini (`responseLogprobs`/`logprobs`, `logprobsResult`) carry them both ways, in answers
//! and streams; formats without them refuse a request that asks.

use super::{anthropic, bedrock, cohere, gemini, openai};
use crate::canonical::stream::testing::{decode_every_split, encode_all};
use crate::canonical::stream::StreamEvent;
use crate::canonical::{ChatRequest, TokenLogprob};
use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

fn parse(b: &[u8]) -> Value {
    sonic_rs::from_slice(b).unwrap()
}

const OPENAI_ASKS: &[u8] =
    br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":2}"#;

#[test]
fn the_request_crosses_openai_and_gemini_both_ways() {
    let req = openai::decode_request(OPENAI_ASKS, None, false).unwrap();
    assert_eq!(req.logprobs, Some(2));
    let g = parse(&gemini::encode_request(&req).unwrap());
    assert_eq!(g["generationConfig"]["responseLogprobs"].as_bool(), Some(true));
    assert_eq!(g["generationConfig"]["logprobs"].as_u64(), Some(2));
    let back = gemini::decode_request(&sonic_rs::to_vec(&g).unwrap(), Some("m"), false).unwrap();
    assert_eq!(back.logprobs, Some(2));
    let o = parse(&openai::encode_request(&back).unwrap());
    assert_eq!(
        (o["logprobs"].as_bool(), o["top_logprobs"].as_u64()),
        (Some(true), Some(2))
    );

    // The chosen tokens only: no alternatives count on either side.
    let only = openai::decode_request(
        br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true}"#,
        None,
        false,
    )
    .unwrap();
    assert_eq!(only.logprobs, Some(0));
    let g = parse(&gemini::encode_request(&only).unwrap());
    assert_eq!(g["generationConfig"]["responseLogprobs"].as_bool(), Some(true));
    assert!(g["generationConfig"].get("logprobs").is_none());
    let o = parse(&openai::encode_request(&only).unwrap());
    assert!(o.get("top_logprobs").is_none());

    // Not asked: nothing written.
    let none = openai::decode_request(
        br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":false}"#,
        None,
        false,
    )
    .unwrap();
    assert_eq!(none.logprobs, None);
    assert!(parse(&openai::encode_request(&none).unwrap()).get("logprobs").is_none());
    assert!(parse(&gemini::encode_request(&none).unwrap())["generationConfig"]
        .get("responseLogprobs")
        .is_none());
}

#[test]
fn alternatives_without_logprobs_are_refused_as_openai_does() {
    let e = openai::decode_request(
        br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"top_logprobs":3}"#,
        None,
        false,
    )
    .unwrap_err();
    assert_eq!(e.field, "top_logprobs");
}

#[test]
fn formats_without_logprobs_refuse_the_request_by_name() {
    let req = openai::decode_request(OPENAI_ASKS, None, false).unwrap();
    for (name, r) in [
        ("Anthropic", anthropic::encode_request(&req)),
        ("Bedrock", bedrock::encode_request(&req)),
        ("Cohere", cohere::encode_request(&req)),
    ] {
        let e = r.expect_err(name);
        assert_eq!(e.field, "logprobs", "{name}");
        assert!(e.message.contains(&name.to_lowercase()), "{name}: {}", e.message);
    }
    let gemini_asks = gemini::decode_request(
        br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"responseLogprobs":true}}"#,
        Some("m"),
        false,
    )
    .unwrap();
    assert_eq!(anthropic::encode_request(&gemini_asks).unwrap_err().field, "logprobs");
    // Without the ask, nothing changes.
    assert!(anthropic::encode_request(&ChatRequest {
        model: "m".into(),
        max_tokens: Some(10),
        ..ChatRequest::default()
    })
    .is_ok());
}

const OPENAI_ANSWER: &[u8] = br#"{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},"logprobs":{"content":[{"token":"Hi","logprob":-0.5,"bytes":[72,105],"top_logprobs":[{"token":"Hi","logprob":-0.5,"bytes":[72,105]},{"token":"Hello","logprob":-1.25,"bytes":[72,101,108,108,111]}]},{"token":" there","logprob":-0.125,"bytes":[32,116,104,101,114,101],"top_logprobs":[{"token":" there","logprob":-0.125,"bytes":[32,116,104,101,114,101]},{"token":"!","logprob":-3.0,"bytes":[33]}]}],"refusal":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#;

fn expected() -> Vec<TokenLogprob> {
    vec![
        TokenLogprob {
            token: "Hi".into(),
            logprob: -0.5,
            top: vec![("Hi".into(), -0.5), ("Hello".into(), -1.25)],
        },
        TokenLogprob {
            token: " there".into(),
            logprob: -0.125,
            top: vec![(" there".into(), -0.125), ("!".into(), -3.0)],
        },
    ]
}

#[test]
fn an_answer_keeps_its_logprobs_from_openai_to_gemini_and_back() {
    let resp = openai::response::decode_response(OPENAI_ANSWER).unwrap();
    assert_eq!(resp.logprobs, expected());
    let g = gemini::encode_response(&resp);
    let v = parse(&g);
    let c = &v["candidates"][0];
    assert_eq!(c["avgLogprobs"].as_f64(), Some(-0.3125));
    assert_eq!(
        c["logprobsResult"]["chosenCandidates"][1]["token"].as_str(),
        Some(" there")
    );
    assert_eq!(
        c["logprobsResult"]["topCandidates"][0]["candidates"][1]["logProbability"].as_f64(),
        Some(-1.25)
    );
    // Gemini's key order: finishReason, avgLogprobs, logprobsResult, index.
    let text = String::from_utf8(g.clone()).unwrap();
    let at = |k: &str| text.find(k).unwrap();
    assert!(at("\"finishReason\"") < at("\"avgLogprobs\"") && at("\"logprobsResult\"") < at("\"index\""));
    let back = gemini::decode_response(&g).unwrap();
    assert_eq!(back.logprobs, expected());
    // OpenAI's own form again, `bytes` included.
    let o = parse(&openai::response::encode_response(&back));
    let orig = parse(OPENAI_ANSWER);
    assert_eq!(o["choices"][0]["logprobs"], orig["choices"][0]["logprobs"]);
}

#[test]
fn an_answer_without_logprobs_writes_none() {
    let body = br#"{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"logprobs":null,"finish_reason":"stop"}]}"#;
    let resp = openai::response::decode_response(body).unwrap();
    assert!(resp.logprobs.is_empty());
    assert!(parse(&openai::response::encode_response(&resp))["choices"][0]["logprobs"].is_null());
    let g = parse(&gemini::encode_response(&resp));
    assert!(g["candidates"][0].get("logprobsResult").is_none());
    assert!(g["candidates"][0].get("avgLogprobs").is_none());
}

const OPENAI_STREAM: &str = concat!(
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"logprobs\":{\"content\":[{\"token\":\"Hi\",\"logprob\":-0.5,\"bytes\":[72,105],\"top_logprobs\":[{\"token\":\"Hi\",\"logprob\":-0.5,\"bytes\":[72,105]},{\"token\":\"Hello\",\"logprob\":-1.25,\"bytes\":[72,101,108,108,111]}]}],\"refusal\":null},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there\"},\"logprobs\":{\"content\":[{\"token\":\" there\",\"logprob\":-0.125,\"bytes\":[32,116,104,101,114,101],\"top_logprobs\":[{\"token\":\" there\",\"logprob\":-0.125,\"bytes\":[32,116,104,101,114,101]},{\"token\":\"!\",\"logprob\":-3.0,\"bytes\":[33]}]}],\"refusal\":null},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n",
    "data: [DONE]\n\n",
);

/// (text, logprobs) of each chunk of an SSE stream whose `data` holds one JSON object.
fn chunks(sse: &[u8], read: impl Fn(&Value) -> (String, Vec<String>)) -> Vec<(String, Vec<String>)> {
    String::from_utf8(sse.to_vec())
        .unwrap()
        .split("data: ")
        .filter_map(|d| sonic_rs::from_str::<Value>(d.trim()).ok())
        .map(|v| read(&v))
        .filter(|(t, l)| !t.is_empty() || !l.is_empty())
        .collect()
}

#[test]
fn a_stream_keeps_each_chunks_logprobs_with_its_text() {
    let events = decode_every_split(
        &|| Box::new(openai::stream::OpenAiStreamDecoder::new()),
        OPENAI_STREAM.as_bytes(),
    );
    let lp: Vec<&StreamEvent> = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Logprobs(_)))
        .collect();
    assert_eq!(lp.len(), 2, "{events:?}");
    // Each comes just before its text.
    for (i, e) in events.iter().enumerate() {
        if matches!(e, StreamEvent::Logprobs(_)) {
            assert!(matches!(events[i + 1], StreamEvent::TextDelta { .. }), "{events:?}");
        }
    }

    let req = ChatRequest::default();
    let g = encode_all(&mut gemini::stream::GeminiStreamEncoder::new(&req), &events);
    let read_gemini = |v: &Value| {
        let c = &v["candidates"][0];
        let text = c["content"]["parts"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let tokens = c["logprobsResult"]["chosenCandidates"]
            .as_array()
            .map(|a| a.iter().map(|t| t["token"].as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        (text, tokens)
    };
    let want = vec![
        ("Hi".to_string(), vec!["Hi".to_string()]),
        (" there".to_string(), vec![" there".to_string()]),
    ];
    assert_eq!(chunks(&g, read_gemini), want);

    // And back: Gemini's chunks decode to the same events, which an OpenAI client gets with
    // each text chunk's logprobs beside it.
    let again = decode_every_split(&|| Box::new(gemini::stream::GeminiStreamDecoder::new()), &g);
    let lp_again: Vec<&StreamEvent> = again.iter().filter(|e| matches!(e, StreamEvent::Logprobs(_))).collect();
    assert_eq!(lp_again, lp);
    let o = encode_all(&mut openai::stream::OpenAiStreamEncoder::new(&req), &again);
    let read_openai = |v: &Value| {
        let c = &v["choices"][0];
        let text = c["delta"]["content"].as_str().unwrap_or_default().to_string();
        let tokens = c["logprobs"]["content"]
            .as_array()
            .map(|a| a.iter().map(|t| t["token"].as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        (text, tokens)
    };
    assert_eq!(chunks(&o, read_openai), want);
    let orig = chunks(OPENAI_STREAM.as_bytes(), |v| {
        (String::new(), vec![v["choices"][0]["logprobs"].to_string()])
    });
    let ours = chunks(&o, |v| (String::new(), vec![v["choices"][0]["logprobs"].to_string()]));
    assert_eq!(ours, orig, "OpenAI's own logprobs objects, byte for byte");
}

#[test]
fn logprobs_go_just_before_their_text_not_before_reasoning() {
    let sse = concat!(
        "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hmm\",\"content\":\"Hi\"},\"logprobs\":{\"content\":[{\"token\":\"Hi\",\"logprob\":-0.5}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let events = decode_every_split(&|| Box::new(openai::stream::OpenAiStreamDecoder::new()), sse.as_bytes());
    assert_eq!(text_kinds(&events), ["thinking", "logprobs", "text"]);
}

#[test]
fn a_chosen_token_always_has_top_logprobs_as_openai_writes_it() {
    let resp = crate::canonical::ChatResponse {
        id: "c1".into(),
        model: "m".into(),
        content: vec![crate::canonical::Part::text("Hi")],
        finish: crate::canonical::FinishReason::Stop,
        usage: Default::default(),
        stop_sequence: None,
        created: 1,
        logprobs: vec![TokenLogprob {
            token: "Hi".into(),
            logprob: -0.5,
            top: vec![],
        }],
    };
    let o = parse(&openai::response::encode_response(&resp));
    let t = &o["choices"][0]["logprobs"]["content"][0];
    assert_eq!(t["top_logprobs"].as_array().map(|a| a.len()), Some(0), "{t:?}");
    // Alternatives themselves have no such key (OpenAI's TopLogprob).
    let mut with_top = resp.clone();
    with_top.logprobs[0].top = vec![("Hi".into(), -0.5)];
    let o = parse(&openai::response::encode_response(&with_top));
    assert!(o["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0]
        .get("top_logprobs")
        .is_none());
}

#[test]
fn more_than_twenty_alternatives_are_refused_as_both_apis_do() {
    let e = openai::decode_request(
        br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":21}"#,
        None,
        false,
    )
    .unwrap_err();
    assert_eq!(e.field, "top_logprobs");
    let e = gemini::decode_request(
        br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"responseLogprobs":true,"logprobs":21}}"#,
        Some("m"),
        false,
    )
    .unwrap_err();
    assert_eq!(e.field, "generationConfig.logprobs");
    assert!(openai::decode_request(
        br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":20}"#,
        None,
        false,
    )
    .is_ok());
}

#[test]
fn gemini_logprobs_go_before_the_answer_text_not_its_thoughts() {
    let sse = concat!(
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hmm\",\"thought\":true},{\"text\":\"Hi\"}],\"role\":\"model\"},\"logprobsResult\":{\"chosenCandidates\":[{\"token\":\"Hi\",\"logProbability\":-0.5}]},\"index\":0}],\"modelVersion\":\"m\",\"responseId\":\"r\"}\r\n\r\n",
        "data: {\"candidates\":[{\"finishReason\":\"STOP\",\"index\":0}],\"modelVersion\":\"m\",\"responseId\":\"r\"}\r\n\r\n",
    );
    let events = decode_every_split(&|| Box::new(gemini::stream::GeminiStreamDecoder::new()), sse.as_bytes());
    assert_eq!(text_kinds(&events), ["thinking", "logprobs", "text"]);
}

/// The thinking, log-probability and text events, in order, by kind.
fn text_kinds(events: &[StreamEvent]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ThinkingDelta { .. } => Some("thinking"),
            StreamEvent::Logprobs(_) => Some("logprobs"),
            StreamEvent::TextDelta { .. } => Some("text"),
            _ => None,
        })
        .collect()
}
