//! Same-format passthrough costs, per request and per stream chunk.
//!
//! Decision informed: whether the passthrough path can afford a full JSON validation plus the
//! model peek and splice on every request (target: well under the ~100 µs added-latency budget,
//! ideally a few µs), and whether scanning stream pieces for `[DONE]` is cheap enough to run on
//! every chunk (target: memory-bandwidth speed).

// Same allocator as the gateway, so the figures are the ones the request path pays.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sluice::proxy::stream::DoneScanner;
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
    g.finish();
}

fn bench_stream(c: &mut Criterion) {
    let s = stream_bytes();
    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Bytes(s.len() as u64));
    g.bench_function("done_scanner_200_events", |b| {
        b.iter(|| {
            let mut d = DoneScanner::default();
            black_box(d.scan(black_box(&s)))
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

criterion_group!(benches, bench_request, bench_stream);
criterion_main!(benches);
