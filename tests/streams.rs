//! Translated streams seen from outside: client hang-up closes the upstream, a slow client holds
//! the upstream back, keepalives only where the client's format allows them, events written as
//! they come, and an upstream error that arrives as the first event becomes an HTTP error; relayed
//! (same-format) streams that stop before their end marker are reported.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A config with the in-process mock plus a provider of every kind at `upstream` (named after it).
fn config(upstream: SocketAddr, server_extra: &str) -> String {
    config_with(
        upstream,
        Cfg {
            server_extra,
            ..Cfg::default()
        },
    )
}

fn gemini_stream_request(model: &str, text: &str) -> Vec<u8> {
    post(
        &format!("/genai/v1beta/models/{model}:streamGenerateContent?alt=sse"),
        &format!(
            r#"{{"contents":[{{"role":"user","parts":[{{"text":{}}}]}}]}}"#,
            js(text)
        ),
    )
}

/// Reads a chunked stream to its end: (chunks, whole body).
fn read_stream(c: &mut Client) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut chunks = Vec::new();
    while let Some(ch) = c.read_chunk() {
        chunks.push(ch);
    }
    let body = chunks.concat();
    (chunks, body)
}

/// Sends a streaming request on a new connection, expects a 200 head, and reads the stream to
/// its end: (chunks, whole body).
fn stream_ok(addr: SocketAddr, request: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut c = Client::connect(addr);
    c.send(request);
    assert_eq!(c.read_head().status, 200);
    read_stream(&mut c)
}

/// The text of an OpenAI stream's `data:` payloads (`sse_data`), deltas joined.
fn openai_text(data: &[String]) -> String {
    data.iter()
        .filter(|d| d.as_str() != "[DONE]")
        .filter_map(|d| {
            parse_json(d)["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

/// A stream's chunks joined, without the `: ping` keepalives.
fn without_pings(chunks: &[Vec<u8>]) -> Vec<u8> {
    chunks
        .iter()
        .filter(|c| c.as_slice() != b": ping\n\n")
        .flatten()
        .copied()
        .collect()
}

#[test]
fn translated_stream_client_disconnect_closes_upstream() {
    let mock = start_mock(&["--chunks", "50", "--chunk-delay-ms", "100"]);
    let sluice = start_sluice(&config(mock.addr, ""));
    let mut probe = StatsProbe::new(mock.addr);

    let mut c = Client::connect(sluice.addr);
    c.send(&chat_stream("anthropic/claude-x", "a long answer nobody waits for"));
    let head = c.read_head();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    let first = c.read_chunk().expect("a first event");
    assert!(first.starts_with(b"data: {"), "{:?}", String::from_utf8_lossy(&first));
    assert_eq!(probe.read().open, 1, "one upstream connection, streaming");

    drop(c);
    let closed = poll(Duration::from_secs(2), || (probe.read().open == 0).then_some(()));
    assert!(
        closed.is_some(),
        "upstream still open after the client left: {:?}",
        probe.read()
    );
    let m = metrics_text(sluice.addr);
    assert_eq!(metric(&m, "sluice_active_streams"), Some(0.0), "{m}");
}

#[test]
fn stream_past_its_total_timeout_ends_with_an_in_stream_error() {
    // Events every 100 ms and a 450 ms total timeout: the first events arrive, then the stream
    // is cut by the timer the body reader arms once, reported in the client's format.
    let mock = start_mock(&["--chunks", "30", "--chunk-delay-ms", "100"]);
    let mut cfg = config(mock.addr, "");
    cfg.push_str(&format!(
        "\n[[providers]]\nname = \"slowpoke\"\nkind = \"anthropic\"\nbase_url = \"http://{}\"\nkeys = [\"k\"]\ntotal_timeout_ms = 450\n",
        mock.addr
    ));
    let sluice = start_sluice(&cfg);
    let started = Instant::now();
    let (_, body) = stream_ok(
        sluice.addr,
        &chat_stream(
            "slowpoke/claude-x",
            "many slow words that will not all arrive in time at all",
        ),
    );
    let took = started.elapsed();
    let data = sse_data(&body);
    let texts = data.iter().filter(|d| d.contains("\"content\":")).count();
    assert!(texts >= 2, "events before the timeout: {data:?}");
    let error = data
        .iter()
        .find(|d| d.starts_with("{\"error\""))
        .expect("an in-stream error");
    assert!(error.contains("timed out"), "{error}");
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert!(
        took < Duration::from_secs(2),
        "cut at the deadline, not at the end: {took:?}"
    );
    assert_eq!(
        midstream_errors(sluice.addr, "chat_completions", "slowpoke", 504),
        Some(1.0),
        "{}",
        metrics_text(sluice.addr)
    );
}

#[test]
fn translated_events_are_written_one_read_at_a_time() {
    // The mock writes one event per write, 30 ms apart: each must reach the client on its own
    // (no coalescing), so the client sees at least as many chunks as text deltas.
    let mock = start_mock(&["--chunks", "6", "--chunk-delay-ms", "30"]);
    let sluice = start_sluice(&config(mock.addr, ""));
    let (chunks, body) = stream_ok(
        sluice.addr,
        &chat_stream("anthropic/claude-x", "one two three four five six seven"),
    );
    let text_chunks = chunks
        .iter()
        .filter(|ch| String::from_utf8_lossy(ch).contains("\"content\":"))
        .count();
    assert!(text_chunks >= 6, "{text_chunks} text chunks in {chunks:?}");
    // The mock's last write holds the end of the message; its translation (finish chunk and
    // `[DONE]`) is the only chunk allowed more than one event.
    for ch in &chunks[..chunks.len() - 1] {
        let s = String::from_utf8_lossy(ch);
        assert_eq!(s.matches("data: ").count(), 1, "one event per chunk: {s:?}");
    }
    let text = openai_text(&sse_data(&body));
    assert_eq!(text, "echo: one two three four five six seven");
    assert!(body.ends_with(b"data: [DONE]\n\n"));
}

#[test]
fn keepalives_only_where_the_client_format_allows() {
    let mock = start_mock(&["--chunks", "3", "--chunk-delay-ms", "300"]);
    let sluice = start_sluice(&config(mock.addr, "stream_keepalive_ms = 60"));

    let (_, body) = stream_ok(sluice.addr, &chat_stream("anthropic/claude-x", "slow words here"));
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains(": ping\n\n"),
        "OpenAI client gets comment keepalives: {text}"
    );
    assert!(text.ends_with("data: [DONE]\n\n"));

    // Gemini's decoder fails on any line that is not `data: `: never a keepalive there.
    let (_, body) = stream_ok(
        sluice.addr,
        &gemini_stream_request("anthropic/claude-x", "slow words here"),
    );
    let text = String::from_utf8_lossy(&body);
    assert!(!text.is_empty());
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        assert!(
            line.starts_with("data: {"),
            "only data lines on a Gemini stream: {line:?}"
        );
    }
}

#[test]
fn a_stream_silent_before_its_first_event_gets_its_head_and_keepalives() {
    // The upstream's head at once, its first event 900 ms later (a model thinking); keepalives
    // every 150 ms. The client must not wait for that first event to get its head.
    let mock = start_mock(&["--chunks", "3", "--first-event-delay-ms", "900"]);
    let sluice = start_sluice(&config(mock.addr, "stream_keepalive_ms = 150"));

    let (chunks, body) = stream_ok(sluice.addr, &chat_stream("anthropic/claude-x", "thinking hard"));
    assert_eq!(chunks[0], b": ping\n\n", "a ping came first, with the head: {chunks:?}");
    assert_eq!(openai_text(&sse_data(&without_pings(&chunks))), "echo: thinking hard");
    assert!(body.ends_with(b"data: [DONE]\n\n"));

    // Anthropic client: its own ping event, before `message_start`.
    let (chunks, body) = stream_ok(
        sluice.addr,
        &post(
            "/anthropic/v1/messages",
            r#"{"model":"openai/gpt-4o-mini","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"thinking hard"}]}"#,
        ),
    );
    assert!(chunks[0].starts_with(b"event: ping\n"), "{chunks:?}");
    let text = String::from_utf8_lossy(&body);
    let start = text.find("event: message_start").expect("message_start");
    assert!(
        text[..start].lines().all(|l| l.is_empty() || l.contains("ping")),
        "{text}"
    );
    assert!(
        text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        "{text}"
    );

    // Gemini allows no keepalive: its head waits for the first event, and carries it.
    let (chunks, _) = stream_ok(
        sluice.addr,
        &gemini_stream_request("anthropic/claude-x", "thinking hard"),
    );
    assert!(chunks[0].starts_with(b"data: {"), "{chunks:?}");
}

/// A fake upstream for one request: accepts one connection, reads the request, and hands the
/// connection to `answer` on a thread of its own.
fn one_request_upstream(answer: impl FnOnce(TcpStream) + Send + 'static) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut req = vec![0u8; 65536];
        let _ = s.read(&mut req);
        answer(s);
    });
    addr
}

/// A fake Anthropic upstream that streams a short answer ("one two three") and cuts every chunk's
/// size line in two, with `pause` between the halves, as a packet boundary can.
fn split_line_anthropic_upstream(pause: Duration) -> SocketAddr {
    one_request_upstream(move |mut s| {
        let events = anthropic_events(&["one ", "two ", "three"]);
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        if s.write_all(head.as_bytes()).is_err() {
            return;
        }
        for e in &events {
            let size = format!("{:x}", e.len());
            let (a, b) = size.split_at(1);
            let rest = format!("{b}\r\n{e}\r\n");
            if s.write_all(a.as_bytes()).is_err() {
                return;
            }
            std::thread::sleep(pause);
            if s.write_all(rest.as_bytes()).is_err() {
                return;
            }
        }
        let _ = s.write_all(b"0\r\n\r\n");
        std::thread::sleep(Duration::from_millis(200));
    })
}

#[test]
fn keepalives_never_cost_bytes_already_received() {
    // Every chunk-size line arrives in two parts, 300 ms apart, and keepalives are due every
    // 100 ms: they go out while the upstream read holds half a line. Nothing may be lost.
    let upstream = split_line_anthropic_upstream(Duration::from_millis(300));
    let sluice = start_sluice(&config(upstream, "stream_keepalive_ms = 100"));
    let (chunks, _) = stream_ok(sluice.addr, &chat_stream("anthropic/claude-x", "count"));
    let pings = chunks.iter().filter(|c| c.as_slice() == b": ping\n\n").count();
    assert!(pings >= 5, "keepalives went out meanwhile: {pings}");
    let data = sse_data(&without_pings(&chunks));
    let text = openai_text(&data);
    assert_eq!(text, "one two three", "{data:?}");
    assert!(!data.iter().any(|d| d.contains("\"error\"")), "{data:?}");
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
}

/// A fake Anthropic upstream that answers one streaming request with an endless run of text
/// deltas, as fast as the connection takes them, up to `cap` bytes. Counts what it wrote.
fn endless_anthropic_upstream(written: Arc<AtomicU64>, cap: u64) -> SocketAddr {
    one_request_upstream(move |mut s| {
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        let start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":0}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
        let delta = format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{}\"}}}}\n\n",
            "x".repeat(4000)
        );
        let chunk = |s: &str| format!("{:x}\r\n{s}\r\n", s.len());
        if s.write_all(head.as_bytes()).is_err() || s.write_all(chunk(start).as_bytes()).is_err() {
            return;
        }
        let piece = chunk(&delta.repeat(4));
        while written.load(Ordering::Relaxed) < cap {
            if s.write_all(piece.as_bytes()).is_err() {
                return;
            }
            written.fetch_add(piece.len() as u64, Ordering::Relaxed);
        }
    })
}

/// Sluice (with `server_extra`) in front of an endless translated stream, and a client that has
/// read the stream's head (and perhaps its first events) and then reads nothing more. `written`
/// counts the bytes the upstream got out.
fn a_client_that_stops_reading(server_extra: &str) -> (Proc, TcpStream, Arc<AtomicU64>) {
    let written = Arc::new(AtomicU64::new(0));
    let upstream = endless_anthropic_upstream(written.clone(), 1 << 30);
    let sluice = start_sluice(&config(upstream, server_extra));
    let mut s = TcpStream::connect(sluice.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&chat_stream("anthropic/claude-x", "go")).unwrap();
    let mut first = [0u8; 4096];
    let n = s.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    (sluice, s, written)
}

#[test]
fn slow_client_holds_the_upstream_back() {
    let (sluice, mut s, written) = a_client_that_stops_reading("");

    // Once the socket buffers on both sides are full, the upstream must stall: the gateway reads
    // from it only as fast as the client takes the translation.
    let settled = poll(Duration::from_secs(10), || {
        let a = written.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(300));
        let b = written.load(Ordering::Relaxed);
        (a == b).then_some(b)
    });
    let stalled_at = settled.expect("the upstream never stalled: the gateway buffers without bound");
    assert!(
        stalled_at < 256 << 20,
        "{stalled_at} bytes left the upstream for a client that reads nothing"
    );
    let m = metrics_text(sluice.addr);
    assert_eq!(metric(&m, "sluice_active_streams"), Some(1.0), "{m}");

    // Reading again lets the upstream go on.
    let t = Instant::now();
    let mut sink = vec![0u8; 1 << 20];
    while written.load(Ordering::Relaxed) <= stalled_at + (8 << 20) && t.elapsed() < Duration::from_secs(10) {
        let _ = s.read(&mut sink).unwrap();
    }
    assert!(written.load(Ordering::Relaxed) > stalled_at, "the upstream resumed");
    drop(s);
    let done = poll(Duration::from_secs(5), || {
        let m = metrics_text(sluice.addr);
        (metric(&m, "sluice_active_streams") == Some(0.0)).then_some(())
    });
    assert!(done.is_some(), "the stream ended after the client left");
}

/// A client that stops taking its stream altogether (alive, but reading nothing) is cut off after
/// `send_timeout_ms` with nothing taken, and its upstream call closed: it does not hold a stream,
/// a connection and an upstream call for as long as it stays connected.
#[test]
fn a_client_that_takes_nothing_for_the_send_timeout_is_cut_off() {
    let (sluice, mut s, written) = a_client_that_stops_reading("send_timeout_ms = 400");
    // The client keeps its connection and reads nothing more: the stream must end on its own.
    let t = Instant::now();
    let ended = poll(Duration::from_secs(15), || {
        let m = metrics_text(sluice.addr);
        (metric(&m, "sluice_active_streams") == Some(0.0)).then_some(())
    });
    assert!(
        ended.is_some(),
        "a client reading nothing held its stream for {:?}",
        t.elapsed()
    );
    // The upstream call was closed with it: the upstream's writes stop for good.
    let stopped = poll(Duration::from_secs(5), || {
        let a = written.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(300));
        (a == written.load(Ordering::Relaxed)).then_some(())
    });
    assert!(stopped.is_some(), "the upstream call went on");
    let m = metrics_text(sluice.addr);
    assert_eq!(metric(&m, "sluice_pool_busy_connections"), Some(0.0), "{m}");
    // What the client reads now ends in a reset or a close, never in more of an open stream.
    let mut sink = vec![0u8; 1 << 20];
    let t = Instant::now();
    loop {
        match s.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => assert!(t.elapsed() < Duration::from_secs(5), "the connection is still open"),
        }
    }
}

/// An upstream that answers 200 and then, as its very first event, an Anthropic error.
fn error_first_upstream() -> SocketAddr {
    one_request_upstream(move |mut s| {
        let body = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = s.write_all(resp.as_bytes());
    })
}

#[test]
fn upstream_error_as_first_event_is_an_http_error() {
    let sluice = start_sluice(&config(error_first_upstream(), ""));
    let r = roundtrip(sluice.addr, &chat_stream("anthropic/claude-x", "hi"));
    assert!(r.status >= 500, "status {} body {}", r.status, r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert!(at_str(&v, "error.message").contains("Overloaded"), "{v}");
}

#[test]
fn deeply_nested_json_is_a_clear_400_and_the_worker_lives() {
    // Parsing (and dropping) a JSON tree recurses per level: without a depth limit, one body
    // like this overflowed a worker's stack and aborted the gateway.
    let mock = start_mock(&[]);
    let sluice = start_sluice(&config(mock.addr, ""));
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    for model in ["mock-model", "anthropic/claude-x", "gemini/g"] {
        let body = format!(
            r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}],"tools":[{{"type":"function","function":{{"name":"f","parameters":{{"a":{deep}}}}}}}]}}"#
        );
        let r = roundtrip(sluice.addr, &post("/v1/chat/completions", &body));
        let msg = assert_openai_error(&r, 400, "invalid_request_error");
        assert!(msg.contains("deeper than 128"), "{msg}");
    }
    let r = roundtrip(
        sluice.addr,
        &post(
            "/genai/v1beta/models/anthropic/x:generateContent",
            &format!(r#"{{"contents":{deep}}}"#),
        ),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // Just inside the limit: parsed (recursively) and translated, in a debug build too.
    let ok = format!("{}{}", "[".repeat(120), "]".repeat(120));
    let body = format!(
        r#"{{"model":"anthropic/claude-x","messages":[{{"role":"user","content":"hi"}}],"tools":[{{"type":"function","function":{{"name":"f","parameters":{{"a":{ok}}}}}}}]}}"#
    );
    let r = roundtrip(sluice.addr, &post("/v1/chat/completions", &body));
    assert_eq!(r.status, 200, "{}", r.text());
    // Still serving.
    assert_eq!(roundtrip(sluice.addr, &chat("mock-model", "alive?")).status, 200);
}

#[test]
fn an_open_string_ending_in_a_backslash_is_a_400_not_a_crash() {
    // Found by fuzzing: more brackets than the depth limit, inside a string that the body ends
    // in the middle of, just after a backslash. The depth scan indexed past the end and panicked.
    let mock = start_mock(&[]);
    let sluice = start_sluice(&config(mock.addr, ""));
    let body = format!(r#"{{"model":"mock-model","messages":"{}\"#, "[".repeat(200));
    for path in ["/v1/chat/completions", "/anthropic/v1/messages", "/cohere/v2/chat"] {
        let r = roundtrip(sluice.addr, &post(path, &body));
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(r.text().contains("not valid JSON"), "{path}: {}", r.text());
    }
    assert_eq!(roundtrip(sluice.addr, &chat("mock-model", "alive?")).status, 200);
}

#[test]
fn an_image_no_other_format_could_take_is_a_400_naming_the_field() {
    // Found by fuzzing: each of these decoded, and was then refused by the target format's own
    // rules after translation (or would have been sent on to fail upstream).
    let mock = start_mock(&[]);
    let sluice = start_sluice(&config(mock.addr, ""));
    let openai = r#"{"model":"gemini/g","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:text/plain;base64,AAAA"}}]}]}"#;
    let anthropic = r#"{"model":"gemini/g","max_tokens":9,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"text/plain","data":"AAAA"}}]}]}"#;
    let cohere = r#"{"model":"gemini/g","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://host/a.png"}}]}]}"#;
    for (path, body, field) in [
        ("/v1/chat/completions", openai, "messages[0].content[0].image_url.url"),
        (
            "/anthropic/v1/messages",
            anthropic,
            "messages[0].content[0].source.media_type",
        ),
        ("/cohere/v2/chat", cohere, "messages[0].content[0].image_url.url"),
    ] {
        let r = roundtrip(sluice.addr, &post(path, body));
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(r.text().contains(field), "{path}: {}", r.text());
    }
}

/// A Gemini stream request without `alt=sse`: the API's JSON-array form.
fn gemini_array_request(model: &str, text: &str) -> Vec<u8> {
    let sse = gemini_stream_request(model, text);
    let s = String::from_utf8(sse).unwrap();
    s.replacen(":streamGenerateContent?alt=sse", ":streamGenerateContent", 1)
        .into_bytes()
}

/// The text a list of Gemini responses spells.
fn gemini_text<'a>(responses: impl Iterator<Item = &'a Value>) -> String {
    responses
        .filter_map(|r| r.pointer(&sonic_rs::pointer!["candidates", 0, "content", "parts"]))
        .filter_map(|p| p.as_array())
        .flat_map(|p| p.iter().filter_map(|part| part["text"].as_str().map(str::to_string)))
        .collect()
}

/// Reads a streamed answer: (head, chunks, whether the chunked body ended cleanly).
fn read_streamed(addr: SocketAddr, request: &[u8]) -> (Head, Vec<Vec<u8>>, bool) {
    let mut c = Client::connect(addr);
    c.send(request);
    let head = c.read_head();
    let mut chunks = Vec::new();
    loop {
        match c.try_read_chunk() {
            Ok(Some(ch)) => chunks.push(ch),
            Ok(None) => return (head, chunks, true),
            Err(_) => return (head, chunks, false),
        }
    }
}

#[test]
fn gemini_stream_without_alt_sse_is_one_json_array_on_every_path() {
    let mock = start_mock(&["--chunks", "4", "--chunk-delay-ms", "20"]);
    let cfg = Cfg {
        mock_extra: "mock_chunk_delay_ms = 20",
        ..Cfg::default()
    };
    let sluice = start_sluice(&config_with(mock.addr, cfg));
    let words = "red green blue yellow";
    // The in-process mock, a translated stream from every other upstream kind, and the
    // same-format path (Gemini upstream: the client's query goes with the request, and the
    // upstream's array comes back as it arrives).
    let models = [
        "mock-model",
        "openai/gpt-4o-mini",
        "anthropic/claude-x",
        "gemini/gemini-2.5-flash",
        "bedrock/anthropic.claude-3-haiku",
        "cohere/command-r",
    ];
    for model in models {
        let (head, chunks, clean) = read_streamed(sluice.addr, &gemini_array_request(model, words));
        assert_eq!(head.status, 200, "{model}");
        assert_eq!(
            head.header("content-type"),
            Some("application/json; charset=UTF-8"),
            "{model}"
        );
        assert!(clean, "{model}: the body ends cleanly");
        assert!(
            chunks.len() > 2,
            "{model}: written as it comes, not at once: {chunks:?}"
        );
        let body = chunks.concat();
        let v: Value = sonic_rs::from_slice(&body)
            .unwrap_or_else(|e| panic!("{model}: not one JSON array ({e}): {}", String::from_utf8_lossy(&body)));
        let responses = v.as_array().expect("an array");
        let last = responses.iter().last().unwrap();
        assert_eq!(
            last.pointer(&sonic_rs::pointer!["candidates", 0, "finishReason"])
                .and_then(|f| f.as_str()),
            Some("STOP"),
            "{model}"
        );
        assert!(
            last.get("usageMetadata").is_some(),
            "{model}: usage on the last response"
        );
        // The same answer as the SSE form.
        let (_, sse_chunks, _) = read_streamed(sluice.addr, &gemini_stream_request(model, words));
        let sse = String::from_utf8(sse_chunks.concat()).unwrap();
        let events: Vec<Value> = sse
            .split("\r\n\r\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .map(|d| sonic_rs::from_str(d).unwrap())
            .collect();
        assert_eq!(gemini_text(responses.iter()), gemini_text(events.iter()), "{model}");
        assert_eq!(gemini_text(responses.iter()), format!("echo: {words}"), "{model}");
    }
}

#[test]
fn gemini_json_array_errors_before_and_during_the_stream() {
    let mock = start_mock(&["--chunks", "4"]);
    let sluice = start_sluice(&config(mock.addr, ""));
    for model in ["mock-error-429", "anthropic/x-error-429", "gemini/x-error-429"] {
        let r = roundtrip(sluice.addr, &gemini_array_request(model, "hi"));
        assert_eq!(r.status, 429, "{model}: {}", r.text());
        let v = r.json();
        assert_eq!(v[0]["error"]["code"].as_u64(), Some(429), "{model}: {v}");
        assert_eq!(v[0]["error"]["status"].as_str(), Some("RESOURCE_EXHAUSTED"), "{model}");
    }
    // A mid-stream error is the array's last element, and the array is closed. So is an
    // upstream stream cut short under translation: Sluice reports it.
    for model in ["mock-midstream", "anthropic/m-midstream", "anthropic/m-cutoff"] {
        let (head, chunks, clean) = read_streamed(sluice.addr, &gemini_array_request(model, "a b c d e f"));
        assert_eq!(head.status, 200, "{model}");
        assert!(clean, "{model}");
        let v: Value = sonic_rs::from_slice(&chunks.concat()).unwrap();
        let all = v.as_array().unwrap();
        assert!(!gemini_text(all.iter()).is_empty(), "{model}: text before the error");
        let last = all.iter().last().unwrap();
        let code = last["error"]["code"].as_u64().unwrap_or(0);
        assert!((500..600).contains(&code), "{model}: {v}");
    }
    // A stream cut off where nothing translates it is never a whole array either: no `]`, and
    // no clean end of the body.
    for model in ["mock-cutoff", "gemini/m-cutoff"] {
        let (head, chunks, clean) = read_streamed(sluice.addr, &gemini_array_request(model, "a b c d e f"));
        assert_eq!(head.status, 200, "{model}");
        let body = chunks.concat();
        assert!(body.starts_with(b"[{"), "{model}: {}", String::from_utf8_lossy(&body));
        assert!(!clean, "{model}: the body must not end cleanly");
        assert!(sonic_rs::from_slice::<Value>(&body).is_err(), "{model}: not valid JSON");
    }
}

/// A fake Anthropic upstream that streams `events` (one chunk each) and then either ends its body
/// cleanly (`clean_end`) or closes the connection without the body's last chunk.
fn relayed_anthropic_upstream(events: Vec<String>, clean_end: bool) -> SocketAddr {
    one_request_upstream(move |mut s| {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        if s.write_all(head.as_bytes()).is_err() {
            return;
        }
        for e in &events {
            if s.write_all(format!("{:x}\r\n{e}\r\n", e.len()).as_bytes()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if clean_end {
            let _ = s.write_all(b"0\r\n\r\n");
            std::thread::sleep(Duration::from_millis(200));
        }
    })
}

/// A whole Anthropic stream of one text block made of `deltas`.
fn anthropic_events(deltas: &[&str]) -> Vec<String> {
    let ev = |name: &str, data: &str| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![
        ev(
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":0}}}"#,
        ),
        ev(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
    ];
    for text in deltas {
        events.push(ev(
            "content_block_delta",
            &format!(r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{text}"}}}}"#),
        ));
    }
    events.push(ev("content_block_stop", r#"{"type":"content_block_stop","index":0}"#));
    events.push(ev(
        "message_delta",
        &format!(
            r#"{{"type":"message_delta","delta":{{"stop_reason":"end_turn","stop_sequence":null}},"usage":{{"output_tokens":{}}}}}"#,
            deltas.len()
        ),
    ));
    events.push(ev("message_stop", r#"{"type":"message_stop"}"#));
    events
}

/// The first `upto` events of a two-word Anthropic stream (6 in all).
fn anthropic_prefix(upto: usize) -> Vec<String> {
    anthropic_events(&["one two"])[..upto].to_vec()
}

fn anthropic_stream_request() -> Vec<u8> {
    post(
        "/anthropic/v1/messages",
        r#"{"model":"anthropic/claude-x","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    )
}

/// `sluice_midstream_errors_total` for one label set, once it is there (the worker counts a
/// request right after its last bytes leave, which another worker's scrape can beat).
fn midstream_errors(sluice: SocketAddr, route: &str, provider: &str, status: u16) -> Option<f64> {
    let series = format!(r#"sluice_midstream_errors_total{{route="{route}",provider="{provider}",status="{status}"}}"#);
    poll(Duration::from_secs(2), || metric(&metrics_text(sluice), &series))
}

/// The relayed Anthropic stream counted as one midstream error with `status`.
fn assert_one_midstream_error(sluice: SocketAddr, status: u16) {
    assert_eq!(
        midstream_errors(sluice, "anthropic_messages", "anthropic", status),
        Some(1.0),
        "{}",
        metrics_text(sluice)
    );
}

#[test]
fn a_relayed_stream_is_whole_once_its_end_went_by_even_if_the_connection_then_breaks() {
    let upstream = relayed_anthropic_upstream(anthropic_prefix(6), false);
    let sluice = start_sluice(&config(upstream, ""));
    let (head, chunks, clean) = read_streamed(sluice.addr, &anthropic_stream_request());
    assert_eq!(head.status, 200);
    assert!(clean, "message_stop went by: the client's body ends cleanly");
    assert_eq!(
        chunks.concat(),
        anthropic_prefix(6).concat().into_bytes(),
        "relayed as it came"
    );
    let ok = r#"sluice_requests_total{route="anthropic_messages",provider="anthropic",status="200"}"#;
    let m = poll(Duration::from_secs(2), || {
        let m = metrics_text(sluice.addr);
        metric(&m, ok).map(|_| m)
    })
    .expect("the request is counted");
    assert!(
        !m.contains("sluice_midstream_errors_total{"),
        "a whole stream is no midstream error: {m}"
    );
}

#[test]
fn a_relayed_upstream_error_event_is_counted_with_its_status() {
    // The upstream's own in-stream error, relayed as it came: the client's stream is whole (the
    // error ends it), and the failure counts as a translated one does, with the status its
    // `error.type` names (529 for `overloaded_error`).
    let mut events = anthropic_prefix(3);
    events.push(
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
            .to_string(),
    );
    let upstream = relayed_anthropic_upstream(events.clone(), true);
    let sluice = start_sluice(&config(upstream, ""));
    let (head, chunks, clean) = read_streamed(sluice.addr, &anthropic_stream_request());
    assert_eq!(head.status, 200);
    assert!(clean, "the error event ends the stream");
    assert_eq!(chunks.concat(), events.concat().into_bytes(), "relayed as it came");
    assert_one_midstream_error(sluice.addr, 529);
    let m = metrics_text(sluice.addr);
    assert_eq!(m.matches("sluice_midstream_errors_total{").count(), 1, "{m}");
}

#[test]
fn a_relayed_stream_cut_between_events_ends_with_the_formats_error() {
    for clean_end in [true, false] {
        let upstream = relayed_anthropic_upstream(anthropic_prefix(3), clean_end);
        let sluice = start_sluice(&config(upstream, ""));
        let (head, chunks, clean) = read_streamed(sluice.addr, &anthropic_stream_request());
        assert_eq!(head.status, 200);
        assert!(
            clean,
            "the in-stream error, then a clean end (upstream ended cleanly: {clean_end})"
        );
        let body = String::from_utf8(chunks.concat()).unwrap();
        let relayed = anthropic_prefix(3).concat();
        assert!(body.starts_with(&relayed), "{body}");
        let error = &body[relayed.len()..];
        assert!(
            error.starts_with("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"upstream stream"),
            "{error}"
        );
        assert!(error.ends_with("\"}}\n\n"), "{error}");
        // Counted as the 200 it was sent as, and as the 502 it ended with.
        assert_one_midstream_error(sluice.addr, 502);
        let m = metrics_text(sluice.addr);
        assert_eq!(
            metric(
                &m,
                r#"sluice_requests_total{route="anthropic_messages",provider="anthropic",status="200"}"#
            ),
            Some(1.0),
            "{m}"
        );
    }
}

#[test]
fn a_relayed_stream_cut_inside_an_event_is_a_cut_body() {
    // The upstream's body ends cleanly in the middle of an event: an error event cannot follow
    // without corrupting it, so the client's body is cut, which every SDK reports.
    let mut events = anthropic_prefix(3);
    let half = events[2].len() / 2;
    events[2].truncate(half);
    let upstream = relayed_anthropic_upstream(events.clone(), true);
    let sluice = start_sluice(&config(upstream, ""));
    let (head, chunks, clean) = read_streamed(sluice.addr, &anthropic_stream_request());
    assert_eq!(head.status, 200);
    assert!(!clean, "no clean end after half an event");
    assert_eq!(
        chunks.concat(),
        events.concat().into_bytes(),
        "everything received was relayed"
    );
    assert_eq!(
        midstream_errors(sluice.addr, "anthropic_messages", "anthropic", 502),
        Some(1.0),
        "{}",
        metrics_text(sluice.addr)
    );
}
