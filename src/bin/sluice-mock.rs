//! `sluice-mock`: a mock upstream that speaks the providers' real wire formats over HTTP, for
//! tests and load tests. Same workers and HTTP server as Sluice; same replies as the in-process
//! `mock` provider (shared code in `sluice::mock`).

use bytes::Bytes;
use sluice::http::server::client_gone;
use sluice::http::{Conn, Handler, Method, Request};
use sluice::mock::stream::BodyEnd;
use sluice::mock::{openai, Scenario};
use sluice::runtime::{self, Housekeeping, WorkerSettings};
use sluice::wire::json;
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: sluice-mock [--listen ADDR] [--workers N] [--latency-ms N] [--chunks N]
                   [--chunk-delay-ms N] [--first-event-delay-ms N] [--fail-status S --fail-every N]
                   [--stamp]

Serves the real wire formats of OpenAI (/v1/chat/completions, /v1/completions, /v1/embeddings,
/v1/models), Anthropic (/v1/messages), Gemini (:generateContent, :streamGenerateContent), Bedrock
(/model/{id}/converse[-stream], /invoke[-with-response-stream]; invoke on embedding and rerank
models too) and Cohere (/v2/chat, /v2/embed, /v2/rerank, /v1/rerank), with and without streaming; GET /mock/stats for tests. Replies echo the last user message; the
model name picks a scenario (tool, parallel, length, image, inspect, error-NNN; for streams also
cutoff: stop half-way without the end, stall: stop half-way, then 10 s of silence and the
connection closed, midstream: half-way then an in-stream error). Streams send
--chunks pieces --chunk-delay-ms apart, the first --first-event-delay-ms after the head (a
model's time to first token). --fail-every N makes every Nth OpenAI request answer
--fail-status (default 500). --stamp (load tests): each streamed text piece is the time it was
written, in microseconds since the epoch (16 digits), for per-event latency. --latency-ms waits
before every answer; Bedrock answers report it as the model's latency (metrics.latencyMs, the
x-amzn-bedrock-invocation-latency header, amazon-bedrock-invocationMetrics).";

#[derive(Clone, Copy)]
struct Knobs {
    latency: Duration,
    chunks: usize,
    chunk_delay: Duration,
    /// `--first-event-delay-ms`: a stream's head goes at once, its first event this much later
    /// (a model's time to first token).
    first_event_delay: Duration,
    fail_status: u16,
    fail_every: u64,
    /// `--stamp`: stream text pieces carry their send time (load tests: per-event latency).
    stamp: bool,
}

type FormatMock = fn(Method, &str, &[u8]) -> Option<sluice::mock::MockReply>;

/// The non-OpenAI formats' mocks (OpenAI is served below, with streaming).
const FORMAT_MOCKS: [FormatMock; 5] = [
    sluice::mock::openai::serve_responses,
    sluice::mock::anthropic::serve,
    sluice::mock::gemini::serve,
    sluice::mock::cohere::serve,
    sluice::mock::bedrock::serve,
];

/// Requests seen across all workers (for --fail-every).
static SEEN: AtomicU64 = AtomicU64::new(0);
/// Open client connections across all workers (for tests: did the gateway close its upstream?).
static OPEN: AtomicI64 = AtomicI64::new(0);
/// Connections ever accepted (for tests: did the gateway reuse pooled connections?).
static ACCEPTED: AtomicU64 = AtomicU64::new(0);

struct MockServer {
    knobs: Knobs,
    _served: Cell<u64>,
}

impl Housekeeping for MockServer {}

impl Handler for MockServer {
    fn connection_event(&self, open: bool) {
        if open {
            ACCEPTED.fetch_add(1, Ordering::Relaxed);
        }
        OPEN.fetch_add(if open { 1 } else { -1 }, Ordering::Relaxed);
    }

    async fn handle(&self, req: Request, conn: &mut Conn) -> io::Result<()> {
        let k = self.knobs;
        let ka = req.keep_alive;
        let json_ct: &[u8] = b"application/json";
        let path = req.path().to_string();
        let path = path.strip_prefix("/openai").unwrap_or(&path);
        if req.method == Method::Get && (path == "/v1/models" || path == "/models") {
            let body = openai::models(["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"], "sluice-mock");
            return conn
                .send_full(200, &[("content-type", json_ct)], Bytes::from(body), ka)
                .await;
        }
        if req.method == Method::Get && path == "/mock/stats" {
            // Counts exclude this stats connection itself.
            let body = format!(
                "{{\"open_connections\":{},\"accepted_connections\":{},\"requests\":{}}}",
                OPEN.load(Ordering::Relaxed) - 1,
                ACCEPTED.load(Ordering::Relaxed) - 1,
                SEEN.load(Ordering::Relaxed)
            );
            return conn
                .send_full(200, &[("content-type", json_ct)], Bytes::from(body), false)
                .await;
        }
        if sluice::wire::json::too_deep(&req.body, sluice::wire::json::MAX_DEPTH) {
            let body = openai::error_body(400, "request body nests JSON too deeply");
            return conn
                .send_full(400, &[("content-type", json_ct)], Bytes::from(body), ka)
                .await;
        }
        // Streams of the non-OpenAI formats, then the per-format mocks (each answers only its
        // own routes).
        if let Some(answer) = sluice::mock::stream::serve(req.method, path, req.query(), &req.body, k.chunks, k.stamp) {
            SEEN.fetch_add(1, Ordering::Relaxed);
            if !k.latency.is_zero() {
                monoio::time::sleep(k.latency).await;
            }
            return match answer {
                Ok(stream) => send_stream(conn, stream, &k, req.http10).await,
                Err(r) => reply(conn, r, ka).await,
            };
        }
        for serve in FORMAT_MOCKS {
            if let Some(r) = serve(req.method, path, &req.body) {
                SEEN.fetch_add(1, Ordering::Relaxed);
                if !k.latency.is_zero() {
                    monoio::time::sleep(k.latency).await;
                }
                return reply(conn, r, ka).await;
            }
        }
        if req.method == Method::Get && path == "/health" {
            return conn
                .send_full(
                    200,
                    &[("content-type", json_ct)],
                    Bytes::from_static(b"{\"status\":\"ok\"}"),
                    ka,
                )
                .await;
        }
        if req.method != Method::Post {
            let body = openai::error_body(404, &format!("no route for {} {}", req.method.as_str(), path));
            return conn
                .send_full(404, &[("content-type", json_ct)], Bytes::from(body), ka)
                .await;
        }
        let n = SEEN.fetch_add(1, Ordering::Relaxed) + 1;
        if !k.latency.is_zero() {
            monoio::time::sleep(k.latency).await;
        }
        let peek = match json::peek(&req.body) {
            Ok(p) => p,
            Err(e) => {
                let body = openai::error_body(400, &e.message());
                return conn
                    .send_full(400, &[("content-type", json_ct)], Bytes::from(body), ka)
                    .await;
            }
        };
        let model = peek.model.clone().unwrap_or_default();
        let scenario = if k.fail_every > 0 && n.is_multiple_of(k.fail_every) {
            Scenario::Error(k.fail_status)
        } else {
            Scenario::from_model(&model)
        };
        if let Scenario::Error(status) = scenario {
            let body = openai::error_body(status, &format!("mock error {status}"));
            return conn
                .send_full(
                    status,
                    &[("content-type", json_ct), ("x-request-id", b"req_mock")],
                    Bytes::from(body),
                    ka,
                )
                .await;
        }
        let mut body_end = BodyEnd::Clean;
        let mut events = match (path, peek.stream) {
            ("/v1/chat/completions" | "/chat/completions", stream) => match openai::chat(&req.body, None) {
                openai::ChatOutcome::Answer(resp) if !stream => {
                    let body = Bytes::from(openai::chat_completion(&resp));
                    let headers: [(&str, &[u8]); 2] = [("content-type", json_ct), ("x-request-id", b"req_mock")];
                    return conn.send_full(200, &headers, body, ka).await;
                }
                openai::ChatOutcome::Answer(mut resp) => {
                    if k.stamp {
                        sluice::mock::stream::stamp_text(&mut resp, k.chunks);
                    }
                    openai::chat_stream_events(&resp, k.chunks, peek.include_usage)
                }
                openai::ChatOutcome::Error { status, body } => {
                    return conn
                        .send_full(status, &[("content-type", json_ct)], Bytes::from(body), ka)
                        .await;
                }
            },
            ("/v1/completions" | "/completions", false) => {
                let (status, body) = openai::completion(&req.body, &model).map_or_else(|e| e, |body| (200, body));
                return conn
                    .send_full(status, &[("content-type", json_ct)], Bytes::from(body), ka)
                    .await;
            }
            ("/v1/completions" | "/completions", true) => {
                match openai::completion_stream_events(&req.body, &model, k.chunks, peek.include_usage) {
                    Ok(stream) => {
                        body_end = stream.body_end;
                        stream.frames
                    }
                    Err((status, body)) => {
                        return conn
                            .send_full(status, &[("content-type", json_ct)], Bytes::from(body), ka)
                            .await
                    }
                }
            }
            ("/v1/embeddings" | "/embeddings", _) => {
                let (status, body) = match openai::embeddings(&req.body, &model) {
                    Ok(body) => (200, body),
                    Err(body) => (400, body),
                };
                return conn
                    .send_full(status, &[("content-type", json_ct)], Bytes::from(body), ka)
                    .await;
            }
            _ => {
                let body = openai::error_body(404, &format!("no route for POST {path}"));
                return conn
                    .send_full(404, &[("content-type", json_ct)], Bytes::from(body), ka)
                    .await;
            }
        };
        conn.start_stream(
            200,
            &[("content-type", b"text/event-stream"), ("x-request-id", b"req_mock")],
            req.http10,
        )
        .await?;
        let gone = client_gone(conn.raw_fd());
        let mut gone = std::pin::pin!(gone);
        for (i, e) in events.iter_mut().enumerate() {
            let wait = if i == 0 { k.first_event_delay } else { k.chunk_delay };
            if !wait.is_zero() {
                monoio::select! {
                    _ = &mut gone => return Err(io::ErrorKind::ConnectionAborted.into()),
                    _ = monoio::time::sleep(wait) => {}
                }
            }
            if k.stamp {
                sluice::mock::stream::stamp_frame(e);
            }
            conn.send_chunk(e).await?;
        }
        end_body(conn, body_end, gone).await
    }
}

fn main() -> ExitCode {
    let mut listen = "127.0.0.1:8081".to_string();
    let mut workers = 1usize;
    let mut knobs = Knobs {
        latency: Duration::ZERO,
        chunks: 4,
        chunk_delay: Duration::ZERO,
        first_event_delay: Duration::ZERO,
        fail_status: 500,
        fail_every: 0,
        stamp: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> Option<u64> {
            let v = args.next().and_then(|v| v.parse().ok());
            if v.is_none() {
                eprintln!("sluice-mock: {name} needs a number");
            }
            v
        };
        let ok = match a.as_str() {
            "--listen" => args.next().map(|v| listen = v).is_some(),
            "--workers" => num("--workers").map(|v| workers = v.max(1) as usize).is_some(),
            "--latency-ms" => num("--latency-ms")
                .map(|v| knobs.latency = Duration::from_millis(v))
                .is_some(),
            "--chunks" => num("--chunks").map(|v| knobs.chunks = v.max(1) as usize).is_some(),
            "--chunk-delay-ms" => num("--chunk-delay-ms")
                .map(|v| knobs.chunk_delay = Duration::from_millis(v))
                .is_some(),
            "--first-event-delay-ms" => num("--first-event-delay-ms")
                .map(|v| knobs.first_event_delay = Duration::from_millis(v))
                .is_some(),
            "--fail-status" => num("--fail-status").map(|v| knobs.fail_status = v as u16).is_some(),
            "--fail-every" => num("--fail-every").map(|v| knobs.fail_every = v).is_some(),
            "--stamp" => {
                knobs.stamp = true;
                true
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => false,
        };
        if !ok {
            eprintln!("sluice-mock: bad argument {a:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    // Bedrock answers report the model's latency; the mock's is the time it waits.
    sluice::mock::set_reported_latency(knobs.latency);
    let addr = match listen.parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!("sluice-mock: bad --listen address {listen:?}");
            return ExitCode::from(2);
        }
    };
    // Load tests open thousands of streams at it, as at the gateway.
    let _ = runtime::raise_open_file_limit();
    let (listeners, addr) = match runtime::bind_listeners(addr, workers, sluice::http::Limits::default().send_timeout) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("sluice-mock: cannot listen on {listen}: {e}");
            return ExitCode::from(1);
        }
    };
    let term = Arc::new(AtomicBool::new(false));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGTERM, term.clone());
    let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, term.clone());
    let settings = WorkerSettings {
        shutdown: Arc::new(AtomicBool::new(false)),
        drain_timeout: Arc::new(|| Duration::from_secs(1)),
        pin: false,
    };
    let make = Arc::new(move |_| MockServer {
        knobs,
        _served: Cell::new(0),
    });
    let (tx, rx) = crossbeam_channel::bounded(listeners.len());
    let n = listeners.len();
    let handles = runtime::spawn_workers(listeners, settings.clone(), make, tx);
    for _ in 0..n {
        let _ = rx.recv_timeout(Duration::from_secs(10));
    }
    println!("listening on {addr}");
    while !term.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    settings.shutdown.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    ExitCode::SUCCESS
}

/// Writes a mock stream frame by frame, `delay` apart; a cut-off stream closes the connection
/// without the body's end.
async fn send_stream(
    conn: &mut Conn,
    mut stream: sluice::mock::stream::MockStream,
    k: &Knobs,
    http10: bool,
) -> io::Result<()> {
    // The stream's own headers carry the request id under the format's name.
    let mut headers: Vec<(&str, &[u8])> = vec![("content-type", stream.content_type.as_bytes())];
    headers.extend(stream.headers.iter().map(|(n, v)| (*n, v.as_bytes())));
    conn.start_stream(200, &headers, http10).await?;
    let gone = client_gone(conn.raw_fd());
    let mut gone = std::pin::pin!(gone);
    let stamp = k.stamp && stream.content_type == "text/event-stream";
    for (i, frame) in stream.frames.iter_mut().enumerate() {
        let wait = if i == 0 { k.first_event_delay } else { k.chunk_delay };
        if !wait.is_zero() {
            monoio::select! {
                _ = &mut gone => return Err(io::ErrorKind::ConnectionAborted.into()),
                _ = monoio::time::sleep(wait) => {}
            }
        }
        if stamp {
            sluice::mock::stream::stamp_frame(frame);
        }
        conn.send_chunk(frame).await?;
    }
    end_body(conn, stream.body_end, gone).await
}

/// Ends a stream's body after its frames: cleanly, or by closing the connection (at once, or
/// after `STALL` of silence unless the client leaves first).
async fn end_body(conn: &mut Conn, end: BodyEnd, gone: Pin<&mut impl Future<Output = ()>>) -> io::Result<()> {
    match end {
        BodyEnd::Clean => return conn.end_stream().await,
        BodyEnd::Cut => {}
        BodyEnd::Stall => {
            monoio::select! {
                _ = gone => return Err(io::ErrorKind::ConnectionAborted.into()),
                _ = monoio::time::sleep(sluice::mock::stream::STALL) => {}
            }
        }
    }
    conn.close_after = true;
    Ok(())
}

async fn reply(conn: &mut Conn, r: sluice::mock::MockReply, ka: bool) -> io::Result<()> {
    let mut headers: Vec<(&str, &[u8])> = vec![("content-type", r.content_type.as_bytes())];
    for (n, v) in &r.headers {
        headers.push((n, v.as_bytes()));
    }
    conn.send_full(r.status, &headers, Bytes::from(r.body), ka).await
}
