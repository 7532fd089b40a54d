//! Hostile input on the wire: seeded mutations of valid requests, for every route and every
//! client format (streamed or not, by content length or chunked, pipelined, HTTP/1.0), sent to a
//! live gateway with one worker. The fuzz targets cover the decoders and the translation one call
//! at a time; this covers what sits around them: the HTTP parser, body framing, routing, model
//! splitting, the in-process mock and the upstream path, on a real connection.
//!
//! The second test turns it round: a fake provider answers with mutated responses (heads,
//! framing, bodies, SSE and event-stream frames) of every provider kind, real answers captured
//! from sluice-mock, to clients of every format, on the same-format and the translated paths.
//!
//! Every input must get a well-formed HTTP response or a close, within a bound; the worker must
//! answer `/health` throughout; and no request may panic (the gateway reports any that does on
//! stderr, where these tests look).

mod common;

use common::mutate::{mutate, XorShift};
use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Mutated requests per seed (the seeds below are 40: 1,600 connections).
const MUTATIONS_PER_SEED: usize = 40;
/// How long one mutated request may take to be answered or closed. The gateway closes an idle
/// connection after `idle_timeout_ms` (150 here) and gives up on a stalled head or body after
/// `header_read_timeout_ms` (1,000 here), so every exchange ends well within this.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// Connections in flight at once (the exchanges mostly wait on the idle timeout).
const SENDERS: usize = 32;

fn with_body(method_path: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "{method_path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn chunked(method_path: &str, body: &str) -> Vec<u8> {
    let (a, b) = body.split_at(body.len() / 2);
    format!(
        "{method_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    )
    .into_bytes()
}

/// Valid requests for every route, format and framing, through the in-process mock and the
/// upstream (sluice-mock as every provider kind).
fn seeds() -> Vec<Vec<u8>> {
    let json = "Content-Type: application/json\r\n";
    let tools = r#""tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]"#;
    let anthropic = |model: &str, stream: bool| {
        format!(
            r#"{{"model":"{model}","max_tokens":64,"stream":{stream},"system":"be brief","messages":[{{"role":"user","content":[{{"type":"text","text":"hi there"}}]}},{{"role":"assistant","content":[{{"type":"tool_use","id":"t1","name":"f","input":{{"a":1}}}}]}},{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"t1","content":"ok"}}]}}]}}"#
        )
    };
    let gemini = r#"{"contents":[{"role":"user","parts":[{"text":"hi there"}]}],"generationConfig":{"maxOutputTokens":64},"systemInstruction":{"parts":[{"text":"be brief"}]}}"#;
    let converse =
        r#"{"messages":[{"role":"user","content":[{"text":"hi there"}]}],"inferenceConfig":{"maxTokens":64}}"#;
    let invoke =
        r#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}"#;
    let cohere = |model: &str, stream: bool| {
        format!(r#"{{"model":"{model}","stream":{stream},"messages":[{{"role":"user","content":"hi there"}}]}}"#)
    };
    let mut s = vec![
        chat("mock-model", "hello"),
        chat_stream("mock-model", "hello there"),
        chat("openai/gpt-4o-mini", "upstream"),
        chat_stream("anthropic/claude-x", "translated stream"),
        chat_stream("gemini/gemini-x", "translated"),
        chat_stream("bedrock/anthropic.claude", "translated"),
        chat_stream("cohere/command-r", "translated"),
        chat("mock-tool-model", "weather?"),
        chunked(
            "POST /v1/chat/completions",
            &chat_body("openai/gpt-4o-mini", "chunked", true),
        ),
        with_body(
            "POST /v1/chat/completions",
            json,
            &format!(
                r#"{{"model":"anthropic/claude-x","stream":true,"stream_options":{{"include_usage":true}},{tools},"messages":[{{"role":"user","content":[{{"type":"text","text":"hi"}},{{"type":"image_url","image_url":{{"url":"data:image/png;base64,iVBORw0KGgo="}}}}]}}]}}"#
            ),
        ),
        with_body(
            "POST /v1/completions",
            json,
            r#"{"model":"mock-model","prompt":"say","stream":true}"#,
        ),
        // Legacy completions crossing to a chat provider, streamed, with the legacy logprobs.
        with_body(
            "POST /v1/completions",
            json,
            r#"{"model":"gemini/echo-model","prompt":["say it"],"max_tokens":5,"logprobs":2,"stream":true,"stream_options":{"include_usage":true}}"#,
        ),
        with_body(
            "POST /v1/embeddings",
            json,
            r#"{"model":"mock-model","input":["a","b"]}"#,
        ),
        with_body("POST /anthropic/v1/messages", json, &anthropic("mock-model", false)),
        with_body(
            "POST /anthropic/v1/messages",
            json,
            &anthropic("openai/gpt-4o-mini", true),
        ),
        with_body("POST /v1/messages", json, &anthropic("anthropic/claude-x", true)),
        with_body("POST /genai/v1beta/models/mock-model:generateContent", json, gemini),
        with_body(
            "POST /genai/v1beta/models/anthropic/claude-x:streamGenerateContent?alt=sse",
            json,
            gemini,
        ),
        with_body(
            "POST /v1beta/models/gemini-x:streamGenerateContent?key=abc",
            json,
            gemini,
        ),
        with_body("POST /bedrock/model/mock-model/converse", json, converse),
        with_body(
            "POST /bedrock/model/openai%2Fgpt-4o-mini/converse-stream",
            json,
            converse,
        ),
        with_body(
            "POST /model/anthropic.claude-x/invoke-with-response-stream",
            json,
            invoke,
        ),
        with_body("POST /bedrock/model/anthropic.claude-3-haiku/invoke", json, invoke),
        with_body("POST /cohere/v2/chat", json, &cohere("mock-model", false)),
        with_body("POST /v2/chat", json, &cohere("anthropic/claude-x", true)),
        with_body(
            "POST /cohere/v2/embed",
            json,
            r#"{"model":"cohere/embed-english-v3.0","texts":["a"],"input_type":"search_query"}"#,
        ),
        // Embeddings across formats: every client shape, to providers of other kinds.
        with_body(
            "POST /v1/embeddings",
            json,
            r#"{"model":"gemini/gemini-embedding-001","input":["a b","c"],"dimensions":8,"encoding_format":"base64"}"#,
        ),
        with_body(
            "POST /v2/embed",
            json,
            r#"{"model":"bedrock/amazon.titan-embed-text-v2:0","texts":["a","b"],"input_type":"search_document","output_dimension":256}"#,
        ),
        with_body(
            "POST /cohere/v1/embed",
            json,
            r#"{"model":"openai/text-embedding-3-small","texts":["a","b"],"input_type":"search_query"}"#,
        ),
        with_body(
            "POST /genai/v1beta/models/cohere/embed-v4.0:batchEmbedContents",
            json,
            r#"{"requests":[{"model":"models/cohere/embed-v4.0","content":{"parts":[{"text":"a"}]},"taskType":"RETRIEVAL_QUERY"}]}"#,
        ),
        with_body(
            "POST /v1beta1/publishers/openai/models/text-embedding-3-small:predict",
            json,
            r#"{"instances":[{"content":"a"}],"parameters":{"outputDimensionality":8}}"#,
        ),
        with_body(
            "POST /bedrock/model/openai%2Ftext-embedding-3-small/invoke",
            json,
            r#"{"inputText":"a b","dimensions":8}"#,
        ),
        with_body(
            "POST /model/mock-model/invoke",
            json,
            r#"{"texts":["a","b"],"input_type":"clustering"}"#,
        ),
        // Rerank: Cohere v2 and v1 (objects, rank_fields, documents back) and a Bedrock
        // InvokeModel rerank body, to the mock and across formats.
        with_body(
            "POST /v2/rerank",
            json,
            r#"{"model":"mock-model","query":"capital of France","documents":["Paris is the capital","Berlin"],"top_n":1}"#,
        ),
        with_body(
            "POST /cohere/v1/rerank",
            json,
            r#"{"model":"bedrock/cohere.rerank-v3-5:0","query":"q a","documents":[{"title":"a","body":"b","id":"1"},"q",{"title":"t","body":"q"}],"rank_fields":["title","body"],"return_documents":true,"top_n":2}"#,
        ),
        with_body(
            "POST /bedrock/model/cohere%2Frerank-v3.5/invoke",
            json,
            r#"{"query":"q","documents":["q a",{"text":"b"}],"top_n":2,"max_tokens_per_doc":64,"api_version":2}"#,
        ),
        // Token counts across formats.
        with_body(
            "POST /v1/messages/count_tokens",
            json,
            r#"{"model":"gemini/gemini-x","system":"be brief","messages":[{"role":"user","content":"hi there"}]}"#,
        ),
        with_body(
            "POST /v1beta/models/anthropic/claude-x:countTokens",
            json,
            r#"{"contents":[{"role":"user","parts":[{"text":"hi there"}]}]}"#,
        ),
        with_body(
            "POST /bedrock/model/mock-model/count-tokens",
            json,
            r#"{"input":{"converse":{"messages":[{"role":"user","content":[{"text":"hi"}]}]}}}"#,
        ),
        get("/v1/models"),
        get("/anthropic/v1/models"),
        get("/health"),
        get("/metrics"),
        b"GET /health HTTP/1.0\r\n\r\n".to_vec(),
    ];
    // Two requests in one write (pipelined), so mutations also hit the boundary between them.
    let mut pipelined = chat("mock-model", "first");
    pipelined.extend_from_slice(&chat_stream("mock-model", "second"));
    s.push(pipelined);
    s
}

/// A Content-Length request's head up to its length line (the last header), and its body.
fn body_of(request: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = request.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = &request[..end];
    let at = head
        .windows(16)
        .position(|w| w.eq_ignore_ascii_case(b"content-length: "))?;
    let line_end = at + head[at..].windows(2).position(|w| w == b"\r\n")? + 2;
    let body = &request[end..];
    // Only single requests whose length is the last header: a pipelined seed's body runs into
    // the next request.
    (line_end + 2 == end
        && std::str::from_utf8(&head[at + 16..line_end - 2])
            .ok()?
            .parse::<usize>()
            .ok()?
            == body.len())
    .then_some((&head[..at], body))
}

/// The head start from `body_of`, a Content-Length for `body`, and `body`.
fn with_length(head_start: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = head_start.to_vec();
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// Sends one input on a fresh connection and reads until the gateway closes it (after its
/// answers, once the connection has been idle). Returns what came back, or None if nothing
/// ended the exchange within `ANSWER_WITHIN`.
///
/// The client keeps its side open: a proxy takes a client's FIN during a stream for a hang-up
/// (as nginx does) and drops the stream, which would hide the paths under test.
fn exchange(addr: SocketAddr, input: &[u8]) -> Option<Vec<u8>> {
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(ANSWER_WITHIN)).unwrap();
    c.set_write_timeout(Some(ANSWER_WITHIN)).unwrap();
    // The gateway may answer and close before reading all of it: a failed write is fine.
    let _ = c.write_all(input);
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return Some(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Some(out),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return None,
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn save(input: &[u8], tag: &str) -> String {
    let path = std::env::temp_dir().join(format!("sluice-hostile-{tag}"));
    let _ = std::fs::write(&path, input);
    path.display().to_string()
}

/// `exchange` for every input, from `SENDERS` threads at once; results in input order.
fn exchange_all(addr: SocketAddr, inputs: &[&[u8]]) -> Vec<Option<Vec<u8>>> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(vec![None; inputs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..SENDERS {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(input) = inputs.get(k) else { break };
                let out = exchange(addr, input);
                results.lock().unwrap()[k] = out;
            });
        }
    });
    results.into_inner().unwrap()
}

/// Sends every input (seed number, mutation number, bytes) and checks each exchange: an HTTP
/// response or a bare close, within `ANSWER_WITHIN`. Panics with every failure (inputs saved
/// under the temp dir, tagged `tag`); returns how many inputs got a response.
fn send_all(addr: SocketAddr, inputs: &[(usize, usize, Vec<u8>)], tag: &str) -> usize {
    let bytes: Vec<&[u8]> = inputs.iter().map(|(_, _, b)| b.as_slice()).collect();
    let mut answered = 0;
    let mut failures = Vec::new();
    for ((n, i, input), out) in inputs.iter().zip(exchange_all(addr, &bytes)) {
        match out {
            None => failures.push(format!(
                "no answer and no close within {ANSWER_WITHIN:?} for {tag} mutation {i} of seed {n}; input saved to {}",
                save(input, &format!("{tag}-hang-{n}-{i}"))
            )),
            Some(out) if out.is_empty() => {}
            Some(out) if out.starts_with(b"HTTP/1.1 ") || out.starts_with(b"HTTP/1.0 ") => answered += 1,
            Some(out) => failures.push(format!(
                "not an HTTP response for {tag} mutation {i} of seed {n} (input saved to {}): {:?}",
                save(input, &format!("{tag}-garbled-{n}-{i}")),
                String::from_utf8_lossy(&out[..out.len().min(300)])
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    answered
}

#[test]
fn mutated_requests_get_an_answer_or_a_close_and_never_take_the_worker_down() {
    let mock = start_mock(&[]);
    let cfg = Cfg {
        server_extra: "header_read_timeout_ms = 1000\nidle_timeout_ms = 150",
        mock_models: &["mock-model", "mock-tool-model"],
        ..Cfg::default()
    };
    let sluice = start_sluice(&config_with(mock.addr, cfg));

    let seeds = seeds();
    // Every seed is valid: each gets a complete answer, so the mutations start from real paths.
    for seed in &seeds {
        let out = exchange(sluice.addr, seed).expect("a valid seed is answered");
        assert!(
            out.starts_with(b"HTTP/1.1 200 ") || out.starts_with(b"HTTP/1.0 200 "),
            "seed {:?} answered {:?}",
            String::from_utf8_lossy(&seed[..seed.len().min(120)]),
            String::from_utf8_lossy(&out[..out.len().min(300)])
        );
    }

    let mut rng = XorShift(0x5EED_CAFE_F00D_1234);
    let inputs: Vec<(usize, usize, Vec<u8>)> = seeds
        .iter()
        .enumerate()
        .flat_map(|(n, seed)| (0..MUTATIONS_PER_SEED).map(move |i| (n, i, seed)))
        .map(|(n, i, seed)| {
            // Half the inputs keep a valid head and framing around a mutated body, so the
            // mutations reach the JSON, routing and translation paths and not only the parser.
            let input = match (i % 2, body_of(seed)) {
                (0, Some((head, body))) => with_length(head, &mutate(&mut rng, body)),
                _ => mutate(&mut rng, seed),
            };
            (n, i, input)
        })
        .collect();
    let answered = send_all(sluice.addr, &inputs, "request");
    let health = roundtrip(sluice.addr, &get("/health"));
    assert_eq!(health.status, 200, "the worker answers after all of it");
    let stderr = sluice.stderr();
    assert!(!stderr.contains("panicked"), "a request panicked:\n{stderr}");
    // Most mutations still reach a response (a 4xx naming the problem, or an answer).
    eprintln!("{answered} of {} mutated requests got a response", inputs.len());
    assert!(
        answered * 2 > inputs.len(),
        "only {answered} of {} mutated requests got a response",
        inputs.len()
    );
}

// ---- a hostile upstream ------------------------------------------------------------------------

/// The five provider kinds, as they name themselves in a model prefix and in config.
const KINDS: [&str; 5] = ["openai", "anthropic", "gemini", "bedrock", "cohere"];

/// A request in a provider's own format, as Sluice would send it upstream (no route prefix).
fn upstream_request(kind: &str, model: &str, stream: bool, version: &str) -> Vec<u8> {
    let (path, body) = match kind {
        "openai" => (
            "/v1/chat/completions".to_string(),
            format!(
                r#"{{"model":"{model}","stream":{stream},"stream_options":{{"include_usage":true}},"messages":[{{"role":"user","content":"weather in Paris please"}}]}}"#
            ),
        ),
        "anthropic" => (
            "/v1/messages".to_string(),
            format!(
                r#"{{"model":"{model}","max_tokens":64,"stream":{stream},"messages":[{{"role":"user","content":"weather in Paris please"}}]}}"#
            ),
        ),
        "gemini" => (
            format!(
                "/v1beta/models/{model}:{}",
                if stream {
                    "streamGenerateContent?alt=sse"
                } else {
                    "generateContent"
                }
            ),
            r#"{"contents":[{"role":"user","parts":[{"text":"weather in Paris please"}]}]}"#.to_string(),
        ),
        "bedrock" => (
            format!("/model/{model}/{}", if stream { "converse-stream" } else { "converse" }),
            r#"{"messages":[{"role":"user","content":[{"text":"weather in Paris please"}]}]}"#.to_string(),
        ),
        _ => (
            "/v2/chat".to_string(),
            format!(
                r#"{{"model":"{model}","stream":{stream},"messages":[{{"role":"user","content":"weather in Paris please"}}]}}"#
            ),
        ),
    };
    format!(
        "POST {path} HTTP/{version}\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A client request in format `client` (one of `KINDS`, by index) for `model`.
fn client_request(client: usize, model: &str, stream: bool) -> Vec<u8> {
    let json = "Content-Type: application/json\r\n";
    let text = "weather in Paris please";
    match KINDS[client] {
        "openai" => post(
            "/v1/chat/completions",
            &format!(
                r#"{{"model":"{model}","stream":{stream},"stream_options":{{"include_usage":true}},"messages":[{{"role":"user","content":"{text}"}}]}}"#
            ),
        ),
        "anthropic" => with_body(
            "POST /anthropic/v1/messages",
            json,
            &format!(
                r#"{{"model":"{model}","max_tokens":64,"stream":{stream},"messages":[{{"role":"user","content":"{text}"}}]}}"#
            ),
        ),
        "gemini" => with_body(
            &format!(
                "POST /genai/v1beta/models/{model}:{}",
                if stream {
                    "streamGenerateContent?alt=sse"
                } else {
                    "generateContent"
                }
            ),
            json,
            &format!(r#"{{"contents":[{{"role":"user","parts":[{{"text":"{text}"}}]}}]}}"#),
        ),
        "bedrock" => with_body(
            &format!(
                "POST /bedrock/model/{}/{}",
                model.replace('/', "%2F"),
                if stream { "converse-stream" } else { "converse" }
            ),
            json,
            &format!(r#"{{"messages":[{{"role":"user","content":[{{"text":"{text}"}}]}}]}}"#),
        ),
        _ => with_body(
            "POST /cohere/v2/chat",
            json,
            &format!(r#"{{"model":"{model}","stream":{stream},"messages":[{{"role":"user","content":"{text}"}}]}}"#),
        ),
    }
}

/// Everything a server sends on one connection, up to its close.
fn capture(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    exchange(addr, request).expect("sluice-mock answers and closes")
}

/// A captured response turned into the until-close form: the head without its framing headers
/// plus `connection: close`, then `body` (the gateway reads the body to the connection's end).
fn until_close(response_http10: &[u8], body: &[u8]) -> Vec<u8> {
    let end = response_http10
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 2;
    let head = String::from_utf8_lossy(&response_http10[..end]);
    let mut out = String::new();
    for (k, line) in head.split("\r\n").filter(|l| !l.is_empty()).enumerate() {
        let lower = line.to_ascii_lowercase();
        if k == 0 {
            out.push_str(&line.replacen("HTTP/1.0", "HTTP/1.1", 1));
        } else if lower.starts_with("content-length:")
            || lower.starts_with("transfer-encoding:")
            || lower.starts_with("connection:")
        {
            continue;
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
    }
    out.push_str("connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A fake provider that answers each request with the response of the case its model names
/// (`case-<n>`, in the body or the path), then closes: the responses are the mutations under test.
fn hostile_upstream(responses: Arc<Vec<Vec<u8>>>) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let responses = responses.clone();
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(ANSWER_WITHIN));
                let mut req = Vec::new();
                let mut buf = [0u8; 8192];
                // The head, then as much body as its Content-Length says.
                let case = loop {
                    let Ok(n) = conn.read(&mut buf) else { return };
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&buf[..n]);
                    let Some(end) = req.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&req[..end]).to_ascii_lowercase();
                    let len = head
                        .split("\r\n")
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if req.len() < end + 4 + len {
                        continue;
                    }
                    let at = req
                        .windows(5)
                        .position(|w| w == b"case-")
                        .expect("a case in the request")
                        + 5;
                    let digits: String = req[at..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .map(|&b| b as char)
                        .collect();
                    break digits.parse::<usize>().unwrap();
                };
                let _ = conn.write_all(&responses[case]);
            });
        }
    });
    addr
}

#[test]
fn mutated_upstream_responses_become_clear_errors_and_never_take_the_worker_down() {
    // Seeds: what each provider kind really answers (sluice-mock speaks each one's wire format),
    // streamed and not, text and tool call, and an error; as sent (chunked or by length) and in
    // the until-close form, whose body a mutation can change without breaking its framing.
    let mock = start_mock(&["--chunks", "3"]);
    let mut seeds: Vec<(usize, bool, Vec<u8>)> = Vec::new(); // (kind, stream, response)
    let mut bodies: Vec<(usize, bool, Vec<u8>, Vec<u8>)> = Vec::new(); // (kind, stream, head source, body)
    for (kind, name) in KINDS.iter().enumerate() {
        for stream in [false, true] {
            for model in ["echo-model", "tool-model", "x-error-429"] {
                let request = upstream_request(name, model, stream, "1.1");
                seeds.push((kind, stream, capture(mock.addr, &request)));
                let old = capture(mock.addr, &upstream_request(name, model, stream, "1.0"));
                let end = old.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                bodies.push((kind, stream, old[..end].to_vec(), old[end..].to_vec()));
            }
        }
    }
    assert_eq!(seeds.len(), 30);

    // Each input: a client request in one of the five formats (round robin) for `<kind>/case-<n>`,
    // and response n, the mutated seed.
    let mut rng = XorShift(0x0BAD_5EED_00F0_0D00);
    let mut responses = Vec::new();
    let mut inputs = Vec::new();
    let mut originals = Vec::new();
    for (n, ((kind, stream, seed), (_, _, head, body))) in seeds.iter().zip(&bodies).enumerate() {
        // The seed itself first, through every client format: the harness must work unmutated.
        for client in 0..KINDS.len() {
            let case = responses.len();
            responses.push(seed.clone());
            originals.push((
                n,
                client,
                client_request(client, &format!("{}/case-{case}", KINDS[*kind]), *stream),
            ));
        }
        for i in 0..MUTATIONS_PER_SEED {
            let response = if i % 2 == 0 {
                until_close(head, &mutate(&mut rng, body))
            } else {
                mutate(&mut rng, seed)
            };
            let case = responses.len();
            responses.push(response);
            let client = (n + i) % KINDS.len();
            inputs.push((
                n,
                i,
                client_request(client, &format!("{}/case-{case}", KINDS[*kind]), *stream),
            ));
        }
    }
    let upstream = hostile_upstream(Arc::new(responses));
    let cfg = Cfg {
        server_extra: "header_read_timeout_ms = 1000\nidle_timeout_ms = 150",
        upstream_extra: "connect_timeout_ms = 1000\nfirst_byte_timeout_ms = 3000\ntotal_timeout_ms = 4000",
        ..Cfg::default()
    };
    let sluice = start_sluice(&config_with(upstream, cfg));

    let requests: Vec<&[u8]> = originals.iter().map(|(_, _, r)| r.as_slice()).collect();
    for ((n, client, _), out) in originals.iter().zip(exchange_all(sluice.addr, &requests)) {
        let out = out.expect("an unmutated answer comes through");
        // Seeds go echo, tool call, error (429) for each kind and stream flag.
        let want: &[u8] = if n % 3 == 2 { b"HTTP/1.1 429 " } else { b"HTTP/1.1 200 " };
        assert!(
            out.starts_with(want),
            "seed {n}, client {}: {:?}",
            KINDS[*client],
            String::from_utf8_lossy(&out[..out.len().min(400)])
        );
    }

    let answered = send_all(sluice.addr, &inputs, "upstream");
    let health = roundtrip(sluice.addr, &get("/health"));
    assert_eq!(health.status, 200, "the worker answers after all of it");
    let stderr = sluice.stderr();
    assert!(!stderr.contains("panicked"), "a request panicked:\n{stderr}");
    eprintln!(
        "{answered} of {} clients of a mutated upstream got a response",
        inputs.len()
    );
    assert!(
        answered * 10 > inputs.len() * 9,
        "only {answered} of {} got a response",
        inputs.len()
    );
}
