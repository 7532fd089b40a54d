//! Same-format passthrough costs, per request and per stream chunk.
//!
//! Decision informed: whether the passthrough path can afford a full JSON validation plus the
//! model peek and splice on every request (target: well under the ~100 µs added-latency budget,
//! ideally a few µs), and whether watching stream pieces for their format's end marker
//! (`EndWatch`: `[DONE]`, `finish_reason`, `message_stop`, ...) is cheap enough to run on every
//! chunk (target: tens of nanoseconds per event, next to the microseconds a write costs), and
//! whether the scan for a Sluice-marked thinking signature (`sig::has_marker`), which decides if
//! a same-format chat body must be translated, is cheap enough for every such request (target:
//! well under the peek's cost).

// Same allocator as the gateway, so the figures are the ones the request path pays.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sluice::canonical::stream::StreamEvent;
use sluice::canonical::{ChatRequest, FinishReason};
use sluice::formats::stream_end::{EndMark, EndWatch};
use sluice::formats::{self, Format};
use sluice::wire::{json, sse};

/// A typical ~2 KB OpenAI chat request (system prompt, a few turns, one tool).
fn chat_body() -> Bytes {
    let mut messages = String::new();
    messages.push_str(
        r#"{"role":"system","content":"You are a helpful assistant. Answer briefly and cite sources when you can."}"#,
    );
    for i in 0..6 {
        messages.push_str(&format!(
            r#",{{"role":"user","content":"Question {i}: what is the capital of France, and why is it famous for its museums and food?"}},{{"role":"assistant","content":"Paris. It has the Louvre, Orsay and a long tradition of cuisine {i}."}}"#
        ));
    }
    let body = format!(
        r#"{{"model":"openai/gpt-4o-mini","messages":[{messages}],"temperature":0.2,"max_tokens":256,"tools":[{{"type":"function","function":{{"name":"get_weather","description":"Get weather","parameters":{{"type":"object","properties":{{"city":{{"type":"string"}}}},"required":["city"]}}}}}}],"stream":false}}"#
    );
    Bytes::from(body)
}

/// A ~4 KB Anthropic history of a thinking model: six turns, each with its signed thinking
/// (bare tokens, as the client's own family made them: the case that must stay passthrough).
fn signed_history() -> Bytes {
    let mut messages = String::new();
    for i in 0..6 {
        messages.push_str(&format!(
            r#"{{"role":"user","content":"Question {i}: what is the capital of France?"}},{{"role":"assistant","content":[{{"type":"thinking","thinking":"The user asks about France; Paris is the capital {i}.","signature":"EqQBCkgIARABGAIiQL3slcQ2lJ0Vz0m4fB4a1yW6Xb0R3nA8fC9xY2kP7sLq5hJ0u1vT9e3rD6cF4gH8iK2mN0oQ7pS9wU1xZ3yA5bC7d"}},{{"type":"text","text":"Paris."}}]}},"#
        ));
    }
    let body = format!(
        r#"{{"model":"anthropic/claude-sonnet-4","max_tokens":2048,"thinking":{{"type":"enabled","budget_tokens":1024}},"messages":[{messages}{{"role":"user","content":"thanks"}}]}}"#
    );
    Bytes::from(body)
}

fn stream_bytes() -> Vec<u8> {
    let chunk = r#"data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"Hello there"},"logprobs":null,"finish_reason":null}]}"#;
    let mut s = Vec::new();
    for _ in 0..200 {
        s.extend_from_slice(chunk.as_bytes());
        s.extend_from_slice(b"\n\n");
    }
    s.extend_from_slice(b"data: [DONE]\n\n");
    s
}

fn bench_request(c: &mut Criterion) {
    let body = chat_body();
    let mut g = c.benchmark_group("request");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("peek_2k", |b| b.iter(|| json::peek(black_box(&body)).unwrap()));
    g.bench_function("peek_and_splice_2k", |b| {
        b.iter(|| {
            let p = json::peek(black_box(&body)).unwrap();
            json::splice_string(&body, p.model_span.unwrap(), "gpt-4o-mini")
        })
    });
    g.bench_function("marker_scan_2k", |b| {
        b.iter(|| sluice::canonical::sig::has_marker(black_box(&body)))
    });
    let signed = signed_history();
    g.bench_function("marker_scan_signed_history", |b| {
        b.iter(|| sluice::canonical::sig::has_marker(black_box(&signed)))
    });
    g.finish();
}

fn bench_stream(c: &mut Criterion) {
    let s = stream_bytes();
    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Bytes(s.len() as u64));
    g.bench_function("end_watch_200_events_whole", |b| {
        b.iter(|| {
            let mut w = EndWatch::new(EndMark::OpenAiChat);
            black_box(w.feed(black_box(&s)))
        })
    });
    let whole = Bytes::from(s.clone());
    g.bench_function("sse_decode_200_events", |b| {
        b.iter(|| {
            let mut d = sse::SseDecoder::new();
            d.push(whole.clone());
            let mut n = 0;
            while let Ok(Some(_)) = d.next_event() {
                n += 1;
            }
            black_box(n)
        })
    });
    g.finish();
}

/// A stream of 200 text events in `format`, each event one piece (as each upstream read brings
/// one event when tokens arrive one by one).
fn event_pieces(format: Format) -> Vec<Vec<u8>> {
    let req = ChatRequest {
        stream: true,
        ..Default::default()
    };
    let mut enc = formats::stream_encoder(format, false, &req);
    let mut events = vec![StreamEvent::Start {
        id: "id-1".into(),
        model: "m-1".into(),
    }];
    for _ in 0..200 {
        events.push(StreamEvent::TextDelta {
            index: 0,
            text: "Hello there".into(),
        });
    }
    events.push(StreamEvent::Finish {
        reason: FinishReason::Stop,
        stop_sequence: None,
    });
    let mut pieces = Vec::new();
    for e in &events {
        let mut out = Vec::new();
        enc.encode(e, &mut out);
        if !out.is_empty() {
            pieces.push(out);
        }
    }
    let mut out = Vec::new();
    enc.finish(&mut out);
    pieces.push(out);
    pieces
}

/// `EndWatch` fed a stream event by event: its cost per relayed piece, per format.
fn bench_end_watch(c: &mut Criterion) {
    let mut g = c.benchmark_group("end_watch_per_event");
    for (name, format, mark) in [
        ("openai", Format::OpenAi, EndMark::OpenAiChat),
        ("anthropic", Format::Anthropic, EndMark::Anthropic),
        ("gemini", Format::Gemini, EndMark::Gemini),
        ("cohere", Format::Cohere, EndMark::CohereV2),
        ("bedrock", Format::Bedrock, EndMark::BedrockConverse),
    ] {
        let pieces = event_pieces(format);
        g.throughput(Throughput::Elements(pieces.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut w = EndWatch::new(mark);
                for p in &pieces {
                    black_box(w.feed(black_box(p)));
                }
                assert!(w.ended());
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_request, bench_stream, bench_end_watch);
criterion_main!(benches);
