//! Embeddings translation cost: an upstream answer of 16 vectors x 1,536 float32 (a typical
//! batch from `text-embedding-3-small`-sized models, ~300 KB of JSON) decoded from each provider
//! format and encoded for a client of another, against the floor of validating the same bytes
//! as JSON (what the same-format path's peek does at most).
//!
//! Decision informed: whether the float32 round trip (parse every number, print it again
//! shortest-first) is cheap next to moving the answer over the network, or whether embeddings
//! need a byte-level fast path.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sluice::canonical::embed::{EmbedReply, EmbedRequest, EmbedResponse};
use sluice::formats::{embed, Format};
use std::time::Duration;

const VECTORS: usize = 16;
const DIMS: usize = 1536;

fn answer() -> EmbedResponse {
    EmbedResponse {
        id: "e".into(),
        model: "m".into(),
        vectors: (0..VECTORS)
            .map(|i| sluice::mock::openai::embed(&format!("text number {i}"), DIMS))
            .collect(),
        input_tokens: Some(64),
    }
}

fn bench(c: &mut Criterion) {
    let resp = answer();
    let texts: Vec<String> = (0..VECTORS).map(|i| format!("text number {i}")).collect();
    // Each upstream's answer, written by the client encoder of that format's own shape.
    let upstreams = [
        (Format::OpenAi, EmbedReply::OpenAi),
        (
            Format::Cohere,
            EmbedReply::Cohere {
                float: true,
                base64: false,
            },
        ),
        (Format::Gemini, EmbedReply::GeminiBatch),
        (Format::Bedrock, EmbedReply::BedrockCohere { by_type: false }),
    ];
    let clients = [
        ("openai-base64", EmbedReply::OpenAiBase64),
        ("openai-float", EmbedReply::OpenAi),
        (
            "cohere",
            EmbedReply::Cohere {
                float: true,
                base64: false,
            },
        ),
        ("gemini", EmbedReply::GeminiBatch),
    ];
    let mut g = c.benchmark_group("embed");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    for (upstream, shape) in upstreams {
        let req = EmbedRequest {
            texts: texts.clone(),
            reply: shape,
            ..Default::default()
        };
        let body = embed::encode_response(&resp, &req);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("validate/{}", upstream.name()), |b| {
            b.iter(|| sonic_rs::from_slice::<serde::de::IgnoredAny>(black_box(&body)).unwrap())
        });
        g.bench_function(format!("decode/{}", upstream.name()), |b| {
            b.iter(|| embed::decode_response(upstream, black_box(&body)).unwrap())
        });
        for (client, reply) in &clients {
            let creq = EmbedRequest {
                texts: texts.clone(),
                reply: reply.clone(),
                ..Default::default()
            };
            g.bench_function(format!("{}->{client}", upstream.name()), |b| {
                b.iter(|| {
                    let canon = embed::decode_response(upstream, black_box(&body)).unwrap();
                    embed::encode_response(&canon, &creq)
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
