//! The fuzz corpus as a regular test: every file under `fuzz/corpus/<target>/` goes through the
//! same target functions cargo-fuzz runs (`sluice::fuzz`), followed by a bounded, seeded run of
//! mutations of each file (byte flips, inserts, deletes, duplicated ranges, truncation), so CI
//! exercises the decoders' invariants without a nightly toolchain. `scripts/fuzz.sh` runs the
//! coverage-guided fuzzer proper and grows the corpus.
//!
//! Stream-decoder seeds are also produced here from every format's encoder (so a new encoder
//! feature is fuzzed at once); `SLUICE_WRITE_CORPUS=1` saves them into the corpus folder.

mod common;

use common::mutate::{mutate, XorShift};
use sluice::canonical::stream::events_from_response;
use sluice::canonical::{ChatResponse, Extra, FaultKind, FinishReason, Part, UpstreamFault, Usage};
use sluice::formats::{self, Format};
use std::path::{Path, PathBuf};

/// Mutated inputs per target, spread over its seed files (at least `MIN_MUTATIONS` each): the
/// fuzzer's corpus grows to thousands of files, and CI runs in a debug build.
const MUTATION_BUDGET: usize = 40_000;
const MIN_MUTATIONS: usize = 5;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

/// Runs `replay_here` on a thread with a large stack: JSON as deep as the gateway accepts is
/// parsed recursively, and a debug build's frames are tens of KiB (the workers get 8 MiB too).
fn replay(target: &str, seeds: &[(PathBuf, Vec<u8>)], run: fn(&[u8])) {
    let target = target.to_string();
    let seeds = seeds.to_vec();
    let worker = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || replay_here(&target, &seeds, run))
        .unwrap();
    if let Err(e) = worker.join() {
        std::panic::resume_unwind(e);
    }
}

fn replay_here(target: &str, seeds: &[(PathBuf, Vec<u8>)], run: fn(&[u8])) {
    assert!(!seeds.is_empty(), "no corpus for {target}");
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let per_seed = (MUTATION_BUDGET / seeds.len()).max(MIN_MUTATIONS);
    let verbose = std::env::var_os("SLUICE_FUZZ_VERBOSE").is_some();
    for (path, seed) in seeds {
        if verbose {
            eprintln!("{target}: {}", path.display());
        }
        let r = std::panic::catch_unwind(|| run(seed));
        assert!(r.is_ok(), "{target}: corpus file {} failed", path.display());
        for i in 0..per_seed {
            let m = mutate(&mut rng, seed);
            if std::panic::catch_unwind(|| run(&m)).is_err() {
                let out = std::env::temp_dir().join(format!("sluice-fuzz-{target}-crash"));
                let _ = std::fs::write(&out, &m);
                panic!(
                    "{target}: mutation {i} of {} failed; input saved to {}",
                    path.display(),
                    out.display()
                );
            }
        }
    }
}

#[test]
fn sse_decoder_corpus() {
    replay("sse_decoder", &corpus("sse_decoder"), sluice::fuzz::sse_decoder);
}

#[test]
fn eventstream_decoder_corpus() {
    replay(
        "eventstream_decoder",
        &corpus("eventstream_decoder"),
        sluice::fuzz::eventstream_decoder,
    );
}

/// A text + tool-call answer, the source of generated seeds.
fn sample_answer() -> ChatResponse {
    ChatResponse {
        id: "r1".into(),
        model: "m".into(),
        content: vec![
            Part::text("héllo wörld \u{2028} \"quoted\"\n"),
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
            input: 5,
            output: 7,
            ..Default::default()
        },
        stop_sequence: None,
        created: 0,
        logprobs: Vec::new(),
    }
}

/// Stream seeds from every format's encoder: a text + tool-call answer, and an error ending.
fn generated_stream_seeds() -> Vec<(PathBuf, Vec<u8>)> {
    let events = events_from_response(&sample_answer(), 3);
    let req = sluice::canonical::ChatRequest {
        stream: true,
        include_usage: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    for (i, f) in Format::ALL.into_iter().enumerate() {
        let mut enc = formats::stream_encoder(f, false, &req);
        let mut bytes = vec![i as u8, 0x2a];
        for e in &events {
            enc.encode(e, &mut bytes);
        }
        enc.finish(&mut bytes);
        out.push((PathBuf::from(format!("gen_{}_complete", f.name())), bytes));
        let mut enc = formats::stream_encoder(f, false, &req);
        let mut bytes = vec![i as u8, 0x11];
        for e in &events[..3] {
            enc.encode(e, &mut bytes);
        }
        enc.error(500, "boom", &mut bytes);
        out.push((PathBuf::from(format!("gen_{}_error", f.name())), bytes));
    }
    out
}

#[test]
fn stream_decoders_corpus() {
    let mut seeds = corpus("stream_decoders");
    let generated = generated_stream_seeds();
    if std::env::var_os("SLUICE_WRITE_CORPUS").is_some() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/stream_decoders");
        for (name, bytes) in &generated {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    seeds.extend(generated);
    replay("stream_decoders", &seeds, sluice::fuzz::stream_decoders);
}

/// An OpenAI request using most of what the formats can carry: system, an image, a tool call
/// and its result, tools with a forced choice, a JSON schema, stop sequences, reasoning.
const RICH_OPENAI_REQUEST: &str = r#"{"model":"gpt-4o","messages":[
{"role":"system","content":"Be terse."},
{"role":"user","content":[{"type":"text","text":"What is in this image, and the weather?"},
 {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},
{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
 "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
{"role":"tool","tool_call_id":"call_1","content":"18C, sunny"},
{"role":"user","content":"Thanks \u2028 \"quoted\""}],
"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now",
 "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
"tool_choice":{"type":"function","function":{"name":"get_weather"}},
"response_format":{"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object"}}},
"max_tokens":256,"temperature":0.5,"top_p":0.9,"stop":["END"],"seed":7,
"reasoning_effort":"low","stream":true,"stream_options":{"include_usage":true}}"#;

/// `translate` seeds: the rich request as every format writes it, the sample answer as every
/// format writes it, and an error body in every format. The first byte is the target's selector.
fn generated_translate_seeds() -> Vec<(PathBuf, Vec<u8>)> {
    let openai = formats::codec(Format::OpenAi).unwrap();
    let req = (openai.decode_request)(RICH_OPENAI_REQUEST.as_bytes(), None, true).expect("rich request decodes");
    let answer = sample_answer();
    let fault = UpstreamFault {
        status: 429,
        kind: FaultKind::RateLimited,
        message: "slow down \"now\"".into(),
    };
    let mut out = Vec::new();
    for (i, f) in Format::ALL.into_iter().enumerate() {
        let c = formats::codec(f).unwrap();
        // Gemini and Bedrock requests carry the model in the path (bit 4); all are streams (bit 5).
        let path_model = if matches!(f, Format::Gemini | Format::Bedrock) {
            16
        } else {
            0
        };
        let mut bytes = vec![i as u8 | path_model | 32];
        // Without what only some formats carry (Anthropic has no seed or JSON mode).
        let common = || {
            let mut r = req.clone();
            r.seed = None;
            r.response_format = None;
            (c.encode_request)(&r)
        };
        let body = (c.encode_request)(&req).or_else(|_| common());
        bytes.extend(body.unwrap_or_else(|e| panic!("{f:?} cannot write the request: {e:?}")));
        // A seed that does not decode would only fuzz the error path.
        let model = (path_model != 0).then_some("gpt-4o");
        (c.decode_request)(&bytes[1..], model, true).unwrap_or_else(|e| panic!("{f:?} request seed: {e:?}"));
        out.push((PathBuf::from(format!("gen_{}_request", f.name())), bytes));
        let mut bytes = vec![i as u8 | 8];
        bytes.extend((c.encode_response)(&answer));
        (c.decode_response)(&bytes[1..]).unwrap_or_else(|e| panic!("{f:?} response seed: {e:?}"));
        out.push((PathBuf::from(format!("gen_{}_response", f.name())), bytes));
        let mut bytes = vec![i as u8 | 8 | 16];
        bytes.extend((c.encode_error)(&fault).body);
        out.push((PathBuf::from(format!("gen_{}_error", f.name())), bytes));
    }
    out
}

/// Inputs that once crashed a worker, kept under their own names: minimizing a corpus
/// (`cargo fuzz cmin`) renames or drops files, so their presence is checked here.
const REGRESSION_SEEDS: &[(&str, &str)] = &[
    ("stream_decoders", "regress_depth_scan_trailing_backslash"),
    ("translate", "regress_cohere_lazy_value_invalid_utf8"),
    ("translate", "regress_count_empty_system"),
    ("http_request", "regress_chunk_size_overflow"),
    ("http_request", "regress_malformed_past_head_limit"),
    ("upstream_response", "regress_long_chunk_size_line"),
    ("upstream_response", "regress_read_all_limit_first_pieces"),
];

#[test]
fn regression_seeds_are_kept() {
    for (target, name) in REGRESSION_SEEDS {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target)
            .join(name);
        assert!(
            path.is_file(),
            "{} is missing (restore it from git; `scripts/fuzz.sh --minimize` keeps it)",
            path.display()
        );
    }
}

#[test]
fn translate_corpus() {
    let generated = generated_translate_seeds();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/translate");
    if std::env::var_os("SLUICE_WRITE_CORPUS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &generated {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut seeds = corpus("translate");
    seeds.extend(generated);
    replay("translate", &seeds, sluice::fuzz::translate);
}

/// `embed` seeds: a client's embeddings request in every shape a client sends, and an answer in
/// every shape an upstream sends, each with its selector byte (format in bits 0-2, bit 3 for an
/// answer, Gemini method in bits 4-5, Bedrock's Cohere family in bit 6).
fn generated_embed_seeds() -> Vec<(PathBuf, Vec<u8>)> {
    const OPENAI: u8 = 0;
    const GEMINI: u8 = 2;
    const BEDROCK: u8 = 3;
    const COHERE: u8 = 4;
    const ANSWER: u8 = 8;
    let seeds: [(&str, u8, &str); 14] = [
        (
            "openai_request",
            OPENAI,
            r#"{"model":"text-embedding-3-small","input":["héllo \u2028 wörld","b"],"dimensions":8,"encoding_format":"base64","user":"u"}"#,
        ),
        (
            "cohere_request",
            COHERE,
            r#"{"model":"embed-v4.0","texts":["a"],"inputs":[{"content":[{"type":"text","text":"b"}]}],"input_type":"search_query","embedding_types":["float","base64"],"output_dimension":256,"truncate":"END"}"#,
        ),
        (
            "gemini_batch_request",
            GEMINI,
            r#"{"requests":[{"model":"models/m","content":{"parts":[{"text":"a"},{"text":"b"}]},"taskType":"RETRIEVAL_DOCUMENT","title":"T","outputDimensionality":16}]}"#,
        ),
        (
            "gemini_single_request",
            GEMINI | 16,
            r#"{"content":{"parts":[{"text":"a"}]},"task_type":"SEMANTIC_SIMILARITY","output_dimensionality":4}"#,
        ),
        (
            "vertex_predict_request",
            GEMINI | 32,
            r#"{"instances":[{"content":"a","task_type":"RETRIEVAL_QUERY"},{"content":"b","task_type":"RETRIEVAL_QUERY"}],"parameters":{"outputDimensionality":8,"autoTruncate":true}}"#,
        ),
        (
            "titan_request",
            BEDROCK,
            r#"{"inputText":"a b","dimensions":256,"normalize":true,"embeddingTypes":["float"]}"#,
        ),
        (
            "bedrock_cohere_request",
            BEDROCK | 64,
            r#"{"texts":["a","b"],"input_type":"clustering","truncate":"NONE","embedding_types":["float"]}"#,
        ),
        (
            "openai_answer",
            OPENAI | ANSWER,
            r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-1e-7,3.4e38]},{"object":"embedding","index":1,"embedding":"AAAAPwAAgL8AAIA+"}],"model":"m","usage":{"prompt_tokens":3,"total_tokens":3}}"#,
        ),
        (
            "cohere_answer",
            COHERE | ANSWER,
            r#"{"id":"x","embeddings":{"float":[[0.25,-0.5]],"base64":["AACAPgAAAL8="]},"texts":["a"],"meta":{"billed_units":{"input_tokens":1}},"response_type":"embeddings_by_type"}"#,
        ),
        (
            "gemini_batch_answer",
            GEMINI | ANSWER,
            r#"{"embeddings":[{"values":[0.1,0.2]},{"values":[-0.3]}],"usageMetadata":{"promptTokenCount":2}}"#,
        ),
        (
            "gemini_single_answer",
            GEMINI | ANSWER,
            r#"{"embedding":{"values":[1,2,3]}}"#,
        ),
        (
            "vertex_answer",
            GEMINI | ANSWER,
            r#"{"predictions":[{"embeddings":{"values":[0.5],"statistics":{"token_count":2.0,"truncated":false}}}],"metadata":{"billableCharacterCount":3}}"#,
        ),
        (
            "titan_answer",
            BEDROCK | ANSWER,
            r#"{"embedding":[0.5,0.25],"inputTextTokenCount":2,"embeddingsByType":{"float":[0.5,0.25]}}"#,
        ),
        (
            "bedrock_cohere_answer",
            BEDROCK | ANSWER,
            r#"{"embeddings":[[0.5],[0.75]],"id":"i","response_type":"embeddings_floats","texts":["a","b"]}"#,
        ),
    ];
    seeds
        .iter()
        .map(|(name, selector, body)| {
            let mut bytes = vec![*selector];
            bytes.extend_from_slice(body.as_bytes());
            (PathBuf::from(format!("gen_{name}")), bytes)
        })
        .collect()
}

#[test]
fn embed_corpus() {
    let generated = generated_embed_seeds();
    // Every seed must reach the codecs' round trips, not stop at a decode error.
    for (name, bytes) in &generated {
        let (selector, body) = bytes.split_first().unwrap();
        let format = Format::ALL[usize::from(selector & 7) % Format::ALL.len()];
        if selector & 8 != 0 {
            let r = formats::embed::decode_response(format, body);
            assert!(r.is_ok(), "{}: {r:?}", name.display());
        } else {
            let methods = [
                formats::gemini::ApiMethod::BatchEmbedContents,
                formats::gemini::ApiMethod::EmbedContent,
                formats::gemini::ApiMethod::Predict,
            ];
            let method = methods[usize::from(selector >> 4 & 3) % 3];
            let r = formats::embed::decode_request(format, body, Some("m"), Some(method), false);
            assert!(r.is_ok(), "{}: {r:?}", name.display());
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/embed");
    if std::env::var_os("SLUICE_WRITE_CORPUS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &generated {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut seeds = if dir.is_dir() { corpus("embed") } else { Vec::new() };
    seeds.extend(generated);
    replay("embed", &seeds, sluice::fuzz::embed);
}

#[test]
fn http_request_corpus() {
    replay("http_request", &corpus("http_request"), sluice::fuzz::http_request);
}

#[test]
fn upstream_response_corpus() {
    replay(
        "upstream_response",
        &corpus("upstream_response"),
        sluice::fuzz::upstream_response,
    );
}
