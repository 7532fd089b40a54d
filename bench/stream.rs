//! Streaming costs: the SSE framer (decode and encode), the AWS event-stream encoder, and one
//! OpenAI chunk (text, or a tool call's arguments) translated to every client format (decode ->
//! canonical event -> encode), and what the connection's panic guards add to each poll of a
//! stream.
//!
//! Decision informed: the issue's per-event budget (under 2 µs of added latency per event on a
//! translated stream) and whether the framers allocate per event. Inputs: a realistic OpenAI
//! text-delta chunk (~230 bytes) and a stream of 1,000 of them (~230 KB) fed in 16 KiB reads.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sluice::canonical::ChatRequest;
use sluice::formats::{self, Format};
use sluice::http::server::CatchPanic;
use sluice::wire::eventstream;
use sluice::wire::sse::{self, SseDecoder};
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

const CHUNK: &str = r#"data: {"id":"chatcmpl-9x8y7z","object":"chat.completion.chunk","created":1733000000,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" the quick brown"},"logprobs":null,"finish_reason":null}]}"#;

fn stream_bytes(n: usize) -> Vec<u8> {
    let mut s = Vec::with_capacity(n * (CHUNK.len() + 2));
    for _ in 0..n {
        s.extend_from_slice(CHUNK.as_bytes());
        s.extend_from_slice(b"\n\n");
    }
    s
}

fn sse(c: &mut Criterion) {
    let body = stream_bytes(1000);
    let reads: Vec<Bytes> = body.chunks(16 * 1024).map(Bytes::copy_from_slice).collect();
    let mut g = c.benchmark_group("sse");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("decode_1000_events_16k_reads", |b| {
        b.iter(|| {
            let mut d = SseDecoder::new();
            let mut n = 0usize;
            for r in &reads {
                d.push(r.clone());
                while let Ok(Some(e)) = d.next_event() {
                    n += e.data.len();
                }
            }
            black_box(n)
        })
    });
    let data = &CHUNK.as_bytes()[6..];
    g.throughput(Throughput::Bytes((data.len() * 1000) as u64));
    g.bench_function("encode_1000_events", |b| {
        let mut out = Vec::with_capacity(body.len() + 1024);
        b.iter(|| {
            out.clear();
            for _ in 0..1000 {
                sse::encode_event(&mut out, None, black_box(data));
            }
            black_box(out.len())
        })
    });
    g.finish();
}

fn event_stream(c: &mut Criterion) {
    let payload = br#"{"contentBlockIndex":0,"delta":{"text":" the quick brown"}}"#;
    let mut g = c.benchmark_group("eventstream");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_contentBlockDelta", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            out.clear();
            eventstream::encode_event(&mut out, "contentBlockDelta", "application/json", black_box(payload)).unwrap();
            black_box(out.len())
        })
    });
    g.finish();
}

/// Times `chunk` (upstream format `from`) decoded and encoded for a client of format `to`, with
/// decoder and encoder primed by `first` (the stream's start), as in the middle of a stream.
fn translate_loop(
    b: &mut criterion::Bencher<'_>,
    from: Format,
    enc: Box<dyn sluice::canonical::stream::StreamEncode>,
    first: &[u8],
    chunk: &Bytes,
) {
    time_chunk(b, from, enc, first, chunk, Output::EveryChunk)
}

/// Whether each chunk timed must write something (Gemini holds a call's arguments until it
/// can write them whole).
#[derive(PartialEq)]
enum Output {
    EveryChunk,
    MayHold,
}

fn time_chunk(
    b: &mut criterion::Bencher<'_>,
    from: Format,
    mut enc: Box<dyn sluice::canonical::stream::StreamEncode>,
    first: &[u8],
    chunk: &Bytes,
    output: Output,
) {
    let mut dec = formats::stream_decoder(from);
    let mut out = Vec::with_capacity(4096);
    dec.push(Bytes::copy_from_slice(first));
    while let Ok(Some(e)) = dec.next_event() {
        enc.encode(&e, &mut out);
    }
    b.iter(|| {
        out.clear();
        dec.push(chunk.clone());
        while let Ok(Some(e)) = dec.next_event() {
            enc.encode(black_box(&e), &mut out);
        }
        assert!(
            output == Output::MayHold || !out.is_empty(),
            "the chunk produced no output"
        );
        black_box(out.len())
    })
}

/// One OpenAI text-delta chunk through the translated path into each client format. The
/// decoder and encoder are primed with the stream's start, as in the middle of a real stream.
fn translate_chunk(c: &mut Criterion) {
    let req = ChatRequest {
        stream: true,
        include_usage: true,
        ..Default::default()
    };
    let first = format!(
        "{}\n\n",
        CHUNK.replace(r#""delta":{"content""#, r#""delta":{"role":"assistant","content""#)
    );
    let chunk = Bytes::from(format!("{CHUNK}\n\n"));
    let mut g = c.benchmark_group("translate_one_openai_chunk");
    g.throughput(Throughput::Elements(1));
    for f in Format::ALL {
        g.bench_function(f.name(), |b| {
            let enc = formats::stream_encoder(f, false, &req);
            translate_loop(b, Format::OpenAi, enc, first.as_bytes(), &chunk)
        });
    }
    // The Responses API's event stream (an OpenAI SDK's `responses.create(stream=True)`).
    g.bench_function("openai_responses", |b| {
        let enc = Box::new(formats::openai::responses::ResponsesStreamEncoder::new(&req, b"{}"));
        translate_loop(b, Format::OpenAi, enc, first.as_bytes(), &chunk)
    });
    // Cohere's v1 JSON lines (`cohere.Client`'s `chat_stream`), which also keep the text for
    // `stream-end`.
    g.bench_function("cohere_v1", |b| {
        let enc = Box::new(formats::cohere::v1chat::V1StreamEncoder::new(b"{}"));
        translate_loop(b, Format::OpenAi, enc, first.as_bytes(), &chunk)
    });
    // Bedrock InvokeModelWithResponseStream for model families other than Claude: the family's
    // own events, re-framed as base64 `chunk` frames (`bedrock::invoke_stream`).
    use formats::bedrock::invoke::InvokeFamily;
    use formats::bedrock::invoke_prompt::PromptFamily;
    for (name, family) in [
        ("bedrock_invoke_nova", InvokeFamily::Nova),
        ("bedrock_invoke_cohere", InvokeFamily::CohereCommandR),
        ("bedrock_invoke_openai", InvokeFamily::OpenAi),
        ("bedrock_invoke_llama", InvokeFamily::Prompt(PromptFamily::Llama)),
    ] {
        g.bench_function(name, |b| {
            let enc = formats::bedrock::invoke_stream::stream_encoder(family, &req, b"{}");
            translate_loop(b, Format::OpenAi, enc, first.as_bytes(), &chunk)
        });
    }
    g.finish();
}

/// One OpenAI tool-call argument fragment through the translated path into each client format,
/// in the middle of the stream's fourth call (each call's events look their call up).
fn translate_call_chunk(c: &mut Criterion) {
    let req = ChatRequest {
        stream: true,
        include_usage: true,
        ..Default::default()
    };
    let call = |index: u32, delta: &str| {
        let delta = format!(r#"{{"tool_calls":[{{"index":{index},{delta}}}]}}"#);
        CHUNK.replace(r#"{"content":" the quick brown"}"#, &delta) + "\n\n"
    };
    let mut first = CHUNK.replace(r#""delta":{"content""#, r#""delta":{"role":"assistant","content""#) + "\n\n";
    for index in 0..4 {
        first += &call(
            index,
            &format!(r#""id":"call_{index}","type":"function","function":{{"name":"get_weather","arguments":""}}"#),
        );
        first += &call(index, r#""function":{"arguments":"{\"city\":\"Paris\"}"}"#);
    }
    first += &call(3, r#""function":{"arguments":"{\"city\":\""}"#);
    let chunk = Bytes::from(call(3, r#""function":{"arguments":"Par"}"#));
    let mut g = c.benchmark_group("translate_one_openai_call_chunk");
    g.throughput(Throughput::Elements(1));
    for f in Format::ALL {
        g.bench_function(f.name(), |b| {
            let enc = formats::stream_encoder(f, false, &req);
            time_chunk(b, Format::OpenAi, enc, first.as_bytes(), &chunk, Output::MayHold)
        });
    }
    g.finish();
}

/// One text-delta event from each upstream format into an OpenAI client (the decoder side of the
/// translated path). Each upstream's bytes are its own encoder's output, so every format is fed
/// the wire form Sluice itself accepts and writes, with the same ~20-byte text.
fn translate_upstream_event(c: &mut Criterion) {
    use sluice::canonical::stream::StreamEvent;
    let req = ChatRequest {
        stream: true,
        include_usage: true,
        ..Default::default()
    };
    let text = |t: &str| StreamEvent::TextDelta {
        index: 0,
        text: t.to_string(),
    };
    let mut g = c.benchmark_group("translate_one_upstream_event_to_openai");
    g.throughput(Throughput::Elements(1));
    for u in Format::ALL {
        let mut wire = formats::stream_encoder(u, false, &req);
        let mut first = Vec::new();
        let start = StreamEvent::Start {
            id: "msg_01XFDUDYJgAACzvnptvVoYEL".into(),
            model: "claude-sonnet-4".into(),
        };
        wire.encode(&start, &mut first);
        wire.encode(&text("Hello"), &mut first);
        let mut chunk = Vec::new();
        wire.encode(&text(" the quick brown fox"), &mut chunk);
        let chunk = Bytes::from(chunk);
        g.bench_function(u.name(), |b| {
            translate_loop(
                b,
                u,
                formats::stream_encoder(Format::OpenAi, false, &req),
                &first,
                &chunk,
            )
        });
    }
    g.finish();
}

/// A future pending `n` times, with a little work per poll (an event's poll, minus the work).
struct Steps {
    n: u32,
    acc: u64,
}

impl Future for Steps {
    type Output = u64;
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<u64> {
        self.acc = self
            .acc
            .wrapping_mul(6364136223846793005)
            .wrapping_add(u64::from(self.n));
        if self.n == 0 {
            return Poll::Ready(self.acc);
        }
        self.n -= 1;
        Poll::Pending
    }
}

fn drive(f: impl Future<Output = u64>) -> u64 {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// What the connection task's two panic guards (`CatchPanic` around the connection and around
/// the request) add to every poll of a stream's future.
fn panic_guard(c: &mut Criterion) {
    let mut g = c.benchmark_group("poll_1000_times");
    g.bench_function("bare", |b| {
        b.iter(|| {
            drive(Steps {
                n: black_box(1000),
                acc: 1,
            })
        })
    });
    g.bench_function("inside_two_catch_panics", |b| {
        b.iter(|| {
            drive(async {
                let inner = async {
                    CatchPanic(pin!(Steps {
                        n: black_box(1000),
                        acc: 1
                    }))
                    .await
                    .unwrap_or(0)
                };
                CatchPanic(pin!(inner)).await.unwrap_or(0)
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = sse, event_stream, translate_chunk, translate_call_chunk, translate_upstream_event, panic_guard
}
criterion_main!(benches);
