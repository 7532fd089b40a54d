//! Black-box HTTP tests: the real `sluice` binary in front of the real `sluice-mock`, spoken to
//! with raw HTTP/1.1 bytes over loopback.

mod common;

use common::*;
use std::net::SocketAddr;
use std::time::Duration;

/// A sluice-mock with these arguments and a sluice whose `openai` provider points at it.
fn gateway_with(mock_args: &[&str], server_extra: &str) -> (Proc, Proc) {
    let mock = start_mock(mock_args);
    let sluice = start_sluice(
        &Cfg {
            upstream: Some(mock.addr),
            server_extra,
            ..Cfg::default()
        }
        .render(),
    );
    (mock, sluice)
}

fn gateway() -> (Proc, Proc) {
    gateway_with(&[], "")
}

/// Asserts a non-streamed chat completion with this model and reply text.
fn assert_chat(r: &Response, model: &str, text: &str) {
    assert_eq!(r.status, 200, "body {:?}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    let v = r.json();
    assert_eq!(at_str(&v, "object"), "chat.completion");
    assert_eq!(at_str(&v, "model"), model);
    assert_eq!(
        at(&v, "choices").as_array().map(|a| a.len()),
        Some(1),
        "one choice: {}",
        r.text()
    );
    assert_eq!(at_str(&v, "choices.0.message.role"), "assistant");
    assert_eq!(at_str(&v, "choices.0.message.content"), text);
    assert_eq!(at_str(&v, "choices.0.finish_reason"), "stop");
    let (p, c) = (at_u64(&v, "usage.prompt_tokens"), at_u64(&v, "usage.completion_tokens"));
    assert_eq!(at_u64(&v, "usage.total_tokens"), p + c);
}

// 1 ------------------------------------------------------------------------------------------

#[test]
fn unary_chat_reaches_upstream_with_model_rewritten() {
    let (mock, sluice) = gateway();
    let r = roundtrip(sluice.addr, &chat("openai/gpt-4o-mini", "hello there"));
    assert_chat(&r, "gpt-4o-mini", "echo: hello there");
    assert_eq!(
        r.header("x-request-id"),
        Some("req_mock"),
        "upstream headers relayed: {:?}",
        r.headers
    );
    assert_eq!(
        r.header_count("content-length"),
        1,
        "exactly one content-length: {:?}",
        r.headers
    );
    assert!(r.header("transfer-encoding").is_none());
    // Sluice's own date, never the upstream's beside it (RFC 9110 6.6.1).
    assert_eq!(r.header_count("date"), 1, "{:?}", r.headers);
    let date = httpdate::parse_http_date(r.header("date").unwrap()).expect("an HTTP date");
    let off = std::time::SystemTime::now()
        .duration_since(date)
        .unwrap_or_else(|e| e.duration());
    assert!(off < Duration::from_secs(5), "{:?}", r.headers);

    // The /openai prefix is the same route.
    let r = roundtrip(
        sluice.addr,
        &post(
            "/openai/v1/chat/completions",
            &chat_body("openai/gpt-4o-mini", "again", false),
        ),
    );
    assert_chat(&r, "gpt-4o-mini", "echo: again");
    assert_eq!(mock_stats(mock.addr).requests, 2, "both requests reached the mock");
}

// 2 ------------------------------------------------------------------------------------------

/// Streams a chat completion and checks framing, order, and that the text equals the unary one.
fn check_stream(addr: SocketAddr, model: &str, upstream_model: &str, msg: &str, include_usage: bool) {
    let unary = roundtrip(addr, &chat(model, msg));
    let uv = unary.json();
    let unary_text = at_str(&uv, "choices.0.message.content").to_string();
    assert_eq!(unary_text, format!("echo: {msg}"));

    let body = if include_usage {
        format!(
            r#"{{"model":{},"messages":[{{"role":"user","content":{}}}],"stream":true,"stream_options":{{"include_usage":true}}}}"#,
            js(model),
            js(msg)
        )
    } else {
        chat_body(model, msg, true)
    };
    let mut c = Client::connect(addr);
    c.send(&post("/v1/chat/completions", &body));
    let r = c.read_response();
    let ctx = format!("{model} usage={include_usage}");
    assert_eq!(r.status, 200, "{ctx}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("text/event-stream"), "{ctx}");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"), "{ctx}: {:?}", r.headers);
    assert!(r.header("content-length").is_none(), "{ctx}: {:?}", r.headers);
    let chunks = r.chunks.as_ref().expect("chunked body");
    assert!(chunks.iter().all(|c| !c.is_empty()));
    assert!(
        chunks.last().unwrap().ends_with(b"data: [DONE]\n\n"),
        "{ctx}: last chunk {:?}",
        chunks.last()
    );

    let data = sse_data(&r.body);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{ctx}");
    assert_eq!(data.iter().filter(|d| *d == "[DONE]").count(), 1, "{ctx}");
    let events: Vec<Value> = data[..data.len() - 1].iter().map(|d| parse_json(d)).collect();
    assert!(events.len() >= 4, "{ctx}: role, >=2 content pieces, finish: {data:?}");
    let id = at_str(&events[0], "id").to_string();
    for e in &events {
        assert_eq!(at_str(e, "object"), "chat.completion.chunk", "{ctx}");
        assert_eq!(at_str(e, "id"), id, "{ctx}: one id per stream");
        assert_eq!(at_str(e, "model"), upstream_model, "{ctx}");
    }
    assert_eq!(
        at_str(&events[0], "choices.0.delta.role"),
        "assistant",
        "{ctx}: role comes first"
    );

    let (body_events, usage_event) = if include_usage {
        let (last, rest) = events.split_last().unwrap();
        (rest, Some(last))
    } else {
        (&events[..], None)
    };
    let finish = body_events.last().unwrap();
    assert_eq!(
        at_str(finish, "choices.0.finish_reason"),
        "stop",
        "{ctx}: finish chunk is last before usage"
    );
    for e in &body_events[..body_events.len() - 1] {
        assert!(
            at(e, "choices.0.finish_reason").is_null(),
            "{ctx}: finish_reason only at the end"
        );
    }
    let text: String = body_events
        .iter()
        .filter_map(|e| at(e, "choices.0.delta.content").as_str())
        .collect();
    assert_eq!(text, unary_text, "{ctx}: streamed text equals unary text");
    let content_events = body_events
        .iter()
        .filter(|e| at(e, "choices.0.delta.content").as_str().is_some_and(|s| !s.is_empty()))
        .count();
    assert!(content_events >= 2, "{ctx}: text arrives in pieces");

    match usage_event {
        Some(u) => {
            assert_eq!(
                at(u, "choices").as_array().map(|a| a.len()),
                Some(0),
                "{ctx}: usage chunk has choices: []"
            );
            let (p, c) = (at_u64(u, "usage.prompt_tokens"), at_u64(u, "usage.completion_tokens"));
            assert_eq!(at_u64(u, "usage.total_tokens"), p + c);
            assert_eq!(c, at_u64(&uv, "usage.completion_tokens"), "{ctx}: same usage as unary");
            assert_eq!(p, at_u64(&uv, "usage.prompt_tokens"), "{ctx}: same usage as unary");
            for e in body_events {
                assert!(at(e, "usage").is_null(), "{ctx}: usage is null before the usage chunk");
            }
        }
        None => {
            for e in &events {
                assert!(at(e, "usage").is_null(), "{ctx}: no usage unless asked");
            }
        }
    }

    // Nothing after the terminator, and the connection is still in sync for the next request.
    c.expect_silence(Duration::from_millis(150));
    let h = c.request(&get("/health"));
    assert_eq!(h.status, 200, "{ctx}: keep-alive after stream");
}

#[test]
fn streamed_chat_is_framed_ordered_and_complete() {
    let (_mock, sluice) = gateway();
    for usage in [false, true] {
        check_stream(
            sluice.addr,
            "openai/gpt-4o-mini",
            "gpt-4o-mini",
            "stream me a few words please",
            usage,
        );
        check_stream(
            sluice.addr,
            "mock/mock-model",
            "mock-model",
            "the in-process mock streams too",
            usage,
        );
    }
}

/// Persistence is not HTTP/1.0's default: a 1.0 client that asked for it keeps the connection
/// only if the answer says `keep-alive` (RFC 9112 C.2.2; `ab -k` counts on it). Without the ask,
/// the answer closes.
#[test]
fn an_http10_keep_alive_answer_says_so() {
    let (_mock, sluice) = gateway();
    let mut c = Client::connect(sluice.addr);
    for _ in 0..2 {
        let r = c.request(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), Some("keep-alive"), "{:?}", r.headers);
    }
    let r = c.request(b"GET /health HTTP/1.0\r\n\r\n");
    assert_eq!(r.header("connection"), Some("close"), "{:?}", r.headers);
    // HTTP/1.1 keeps the connection by default and says nothing.
    let mut c = Client::connect(sluice.addr);
    let r = c.request(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.header("connection"), None, "{:?}", r.headers);
}

#[test]
fn streamed_chat_to_http10_client_is_close_delimited() {
    let (_mock, sluice) = gateway();
    let body = chat_body("openai/gpt-4o-mini", "old client", true);
    let req = format!(
        "POST /v1/chat/completions HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut c = Client::connect(sluice.addr);
    let r = c.request(req.as_bytes());
    assert_eq!(r.status, 200);
    assert!(
        r.header("transfer-encoding").is_none(),
        "no chunked framing for HTTP/1.0: {:?}",
        r.headers
    );
    assert!(r.header("content-length").is_none());
    let data = sse_data(&r.body);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let text: String = data[..data.len() - 1]
        .iter()
        .filter_map(|d| {
            at(&parse_json(d), "choices.0.delta.content")
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(text, "echo: old client");
}

// 3 ------------------------------------------------------------------------------------------

#[test]
fn pipelined_requests_are_answered_in_order() {
    let (_mock, sluice) = gateway();
    let mut all = chat("openai/gpt-4o-mini", "first");
    all.extend(get("/health"));
    all.extend(chat("mock/mock-model", "third"));
    let mut c = Client::connect(sluice.addr);
    c.send(&all);
    assert_chat(&c.read_response(), "gpt-4o-mini", "echo: first");
    let h = c.read_response();
    assert_eq!(h.status, 200);
    assert_eq!(h.json(), parse_json(r#"{"status":"ok"}"#));
    assert_chat(&c.read_response(), "mock-model", "echo: third");
    c.expect_silence(Duration::from_millis(100));
}

#[test]
fn pipelined_requests_around_a_stream() {
    let (_mock, sluice) = gateway();
    let mut all = get("/health");
    all.extend(chat_stream("openai/gpt-4o-mini", "streamed in a pipeline"));
    all.extend(chat("openai/gpt-4o-mini", "after the stream"));
    let mut c = Client::connect(sluice.addr);
    c.send(&all);
    assert_eq!(c.read_response().status, 200);
    let s = c.read_response();
    assert_eq!(s.status, 200);
    let data = sse_data(&s.body);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let text: String = data[..data.len() - 1]
        .iter()
        .filter_map(|d| {
            at(&parse_json(d), "choices.0.delta.content")
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(text, "echo: streamed in a pipeline");
    assert_chat(&c.read_response(), "gpt-4o-mini", "echo: after the stream");
}

// 4 ------------------------------------------------------------------------------------------

#[test]
fn chunked_request_body_split_across_writes() {
    let (_mock, sluice) = gateway();
    let body = chat_body("openai/gpt-4o-mini", "a chunked request body arrives in pieces", false);
    let b = body.as_bytes();
    let (p1, rest) = b.split_at(17);
    let (p2, p3) = rest.split_at(40);
    let mut wire = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for p in [p1, p2, p3] {
        wire.extend(format!("{:x}\r\n", p.len()).bytes());
        wire.extend_from_slice(p);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    let mut c = Client::connect(sluice.addr);
    // Small writes so size lines, data and CRLFs are split at arbitrary points.
    for piece in wire.chunks(9) {
        c.send(piece);
        std::thread::sleep(Duration::from_millis(3));
    }
    assert_chat(
        &c.read_response(),
        "gpt-4o-mini",
        "echo: a chunked request body arrives in pieces",
    );
    // The connection is still in sync.
    assert_eq!(c.request(&get("/health")).status, 200);
}

#[test]
fn chunked_request_body_with_extension_and_trailer() {
    let (_mock, sluice) = gateway();
    let body = chat_body("openai/gpt-4o-mini", "extensions and trailers", false);
    let (a, b) = body.split_at(10);
    let wire = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n{:X};name=value\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\nX-Trailer: yes\r\n\r\n",
        a.len(),
        b.len()
    );
    let mut c = Client::connect(sluice.addr);
    assert_chat(
        &c.request(wire.as_bytes()),
        "gpt-4o-mini",
        "echo: extensions and trailers",
    );
    assert_eq!(c.request(&get("/health")).status, 200, "trailer fully consumed");
}

#[test]
fn a_bare_lf_in_chunked_trailers_is_refused_not_a_desync() {
    let (mock, sluice) = gateway();
    let body = chat_body("openai/gpt-4o-mini", "trailers", false);
    for end in ["0\r\nX-Trailer: y\n\r\n", "0\r\n\n"] {
        let mut wire = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n{end}",
            body.len()
        )
        .into_bytes();
        // Pipelined requests a bare-LF reader would take for trailer lines.
        wire.extend(get("/health"));
        wire.extend(get("/health"));
        let mut c = Client::connect(sluice.addr);
        c.send(&wire);
        let r = c.read_response();
        assert_openai_error(&r, 400, "invalid_request_error");
        assert!(r.closes(), "{end:?}: {:?}", r.headers);
        c.expect_eof();
    }
    assert_eq!(mock_stats(mock.addr).requests, 0, "nothing went upstream");
}

// 5 ------------------------------------------------------------------------------------------

#[test]
fn expect_100_continue() {
    let (_mock, sluice) = gateway();
    let mut c = Client::connect(sluice.addr);
    let body = chat_body("openai/gpt-4o-mini", "after continue", false);
    c.send(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let interim = c.read_response();
    assert_eq!((interim.status, interim.reason.as_str()), (100, "Continue"));
    assert!(interim.headers.is_empty(), "{:?}", interim.headers);
    assert!(
        c.leftover().is_empty(),
        "nothing but 100 Continue before the body is sent"
    );
    c.send(body.as_bytes());
    assert_chat(&c.read_response(), "gpt-4o-mini", "echo: after continue");

    // Same with a chunked body on the same connection.
    c.send(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(c.read_response().status, 100);
    let body = chat_body("mock/mock-model", "chunked after continue", false);
    c.send(format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()).as_bytes());
    assert_chat(&c.read_response(), "mock-model", "echo: chunked after continue");
}

#[test]
fn an_http10_expectation_gets_no_100_continue() {
    let (_mock, sluice) = gateway();
    let mut c = Client::connect(sluice.addr);
    let body = chat_body("openai/gpt-4o-mini", "no interim answer", false);
    c.send(
        format!(
            "POST /v1/chat/completions HTTP/1.0\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    c.expect_silence(Duration::from_millis(300));
    c.send(body.as_bytes());
    let r = c.read_response();
    assert_chat(&r, "gpt-4o-mini", "echo: no interim answer");
    c.expect_eof();
}

#[test]
fn an_http10_chunked_request_is_answered_then_closed() {
    let (_mock, sluice) = gateway();
    let body = chat_body("openai/gpt-4o-mini", "chunked in 1.0", false);
    let mut wire = format!(
        "POST /v1/chat/completions HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    )
    .into_bytes();
    wire.extend(get("/health"));
    let mut c = Client::connect(sluice.addr);
    c.send(&wire);
    let r = c.read_response();
    assert_chat(&r, "gpt-4o-mini", "echo: chunked in 1.0");
    assert!(r.closes(), "{:?}", r.headers);
    c.expect_eof();
}

#[test]
fn unsupported_expectation_is_417() {
    let (_mock, sluice) = gateway();
    let mut c = Client::connect(sluice.addr);
    let r = c.request(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 2\r\n\r\n{}",
    );
    assert_openai_error(&r, 417, "invalid_request_error");
}

// 6 ------------------------------------------------------------------------------------------

#[test]
fn oversize_body_is_413_and_oversize_head_is_431() {
    let (_mock, sluice) = gateway_with(&[], "max_body_bytes = 1024\nmax_head_bytes = 1024");

    // A body of exactly the limit is fine.
    let mut body = chat_body("openai/gpt-4o-mini", "at the limit", false);
    body.insert_str(1, &" ".repeat(1024 - body.len()));
    assert_eq!(body.len(), 1024);
    assert_chat(
        &roundtrip(sluice.addr, &post("/v1/chat/completions", &body)),
        "gpt-4o-mini",
        "echo: at the limit",
    );

    // One byte over: refused from the Content-Length alone, before the body is sent.
    let mut c = Client::connect(sluice.addr);
    c.send(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1025\r\n\r\n");
    let r = c.read_response();
    assert_eq!(
        assert_openai_error(&r, 413, "invalid_request_error"),
        "request body too large"
    );
    assert!(r.closes(), "413 closes the connection: {:?}", r.headers);
    c.expect_eof();

    // Chunked: refused at the first chunk size line that goes over.
    let mut c = Client::connect(sluice.addr);
    c.send(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n401\r\n");
    let r = c.read_response();
    assert_eq!(
        assert_openai_error(&r, 413, "invalid_request_error"),
        "request body too large"
    );
    c.expect_eof();

    // Head over max_head_bytes.
    let mut c = Client::connect(sluice.addr);
    let pad = "a".repeat(1100);
    c.send(format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n\r\n").as_bytes());
    let r = c.read_response();
    assert_eq!(
        assert_openai_error(&r, 431, "invalid_request_error"),
        "request head too large"
    );
    assert!(r.closes());
    c.expect_eof();
}

#[test]
fn a_refused_client_still_sending_reads_its_whole_answer_then_the_close() {
    let (_mock, sluice) = gateway_with(&[], "max_body_bytes = 1024\nmax_head_bytes = 1024");
    let refused = |head: &str, rest: &[u8], status: u16, message: &str| {
        // The client sends all it meant to before reading, as most clients do; the refusal came
        // at the head, so all of `rest` is still to come. The close lingers while it does:
        // closed at once, the socket would reset, failing the send or the answer's read.
        let mut c = Client::connect(sluice.addr);
        c.send(head.as_bytes());
        c.send(rest);
        let r = c.read_response();
        assert_eq!(assert_openai_error(&r, status, "invalid_request_error"), message);
        c.expect_eof();
    };
    let body = vec![b'x'; 8 << 20];
    refused(
        &format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        ),
        &body,
        413,
        "request body too large",
    );
    let pad = "a".repeat(2048);
    refused(
        &format!("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n"),
        format!("Content-Length: {}\r\n\r\n", body.len())
            .as_bytes()
            .iter()
            .chain(&body)
            .copied()
            .collect::<Vec<_>>()
            .as_slice(),
        431,
        "request head too large",
    );

    // The lingering is bounded: a client that never stops sending is cut off (64 MiB, 5 s).
    let mut c = Client::connect(sluice.addr);
    c.send(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n");
    let start = std::time::Instant::now();
    let chunk = vec![b'x'; 1 << 16];
    let cut = (0..).find_map(|_| std::io::Write::write_all(&mut c.stream, &chunk).err());
    assert!(cut.is_some());
    assert!(start.elapsed() < Duration::from_secs(8), "{:?}", start.elapsed());
}

// 7 ------------------------------------------------------------------------------------------

#[test]
fn malformed_json_is_400_and_connection_survives() {
    let (mock, sluice) = gateway();
    let mut c = Client::connect(sluice.addr);
    let r = c.request(&post(
        "/v1/chat/completions",
        r#"{"model":"openai/gpt-4o-mini","messages":[{"role":"user","#,
    ));
    assert_openai_error(&r, 400, "invalid_request_error");
    assert!(!r.closes(), "a bad body is not a framing error: {:?}", r.headers);
    assert_eq!(c.request(&get("/health")).status, 200, "connection still usable");

    let r = c.request(&post(
        "/v1/chat/completions",
        r#"{"messages":[{"role":"user","content":"hi"}]}"#,
    ));
    assert_openai_error(&r, 400, "invalid_request_error");
    assert_eq!(at_str(&r.json(), "error.param"), "model");
    assert_eq!(
        mock_stats(mock.addr).requests,
        0,
        "nothing invalid reached the upstream"
    );
}

#[test]
fn malformed_http_is_400_then_close() {
    let (_mock, sluice) = gateway();
    for garbage in [
        &b"THIS IS NOT HTTP\r\n\r\n"[..],
        b"GET /health HTTP/1.1\r\nBad Header\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    ] {
        let mut c = Client::connect(sluice.addr);
        c.send(garbage);
        let r = c.read_response();
        assert_openai_error(&r, 400, "invalid_request_error");
        assert!(r.closes(), "{:?}", r.headers);
        c.expect_eof();
    }
}

#[test]
fn ambiguous_framing_is_refused() {
    let (mock, sluice) = gateway();
    let body = chat_body("openai/gpt-4o-mini", "smuggle", false);
    for (name, req) in [
        (
            "TE and CL",
            format!("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n", body.len(), body.len()),
        ),
        (
            "two different CL",
            format!("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nContent-Length: 5\r\n\r\n{body}", body.len()),
        ),
    ] {
        let mut c = Client::connect(sluice.addr);
        c.send(req.as_bytes());
        let r = c.read_response();
        assert_eq!(r.status, 400, "{name}: {}", r.text());
        assert!(r.closes(), "{name}");
    }
    assert_eq!(mock_stats(mock.addr).requests, 0);
}

#[test]
fn content_length_must_be_digits_only() {
    // RFC 9110 8.6: Content-Length = 1*DIGIT. A sign is a framing error, not a number.
    let (mock, sluice) = gateway();
    let body = chat_body("openai/gpt-4o-mini", "signed", false);
    let mut c = Client::connect(sluice.addr);
    c.send(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: +{}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let r = c.read_response();
    assert_eq!(
        r.status,
        400,
        "Content-Length: +N must be refused; got {} {}",
        r.status,
        r.text()
    );
    assert!(r.closes());
    assert_eq!(mock_stats(mock.addr).requests, 0);
}

// 8 ------------------------------------------------------------------------------------------

#[test]
fn unknown_prefix_goes_to_default_provider_unchanged() {
    // Default provider = the openai upstream (sluice-mock).
    let mock = start_mock(&[]);
    let sluice = start_sluice(
        &Cfg {
            upstream: Some(mock.addr),
            default_provider: "openai",
            ..Cfg::default()
        }
        .render(),
    );
    for model in ["meta-llama/Llama-3.1-8B", "gpt-4o"] {
        let r = roundtrip(sluice.addr, &chat(model, "routed by default"));
        assert_chat(&r, model, "echo: routed by default");
        assert_eq!(r.header("x-request-id"), Some("req_mock"), "answered by sluice-mock");
    }
    assert_eq!(mock_stats(mock.addr).requests, 2);
    drop(sluice);

    // Default provider = the in-process mock: same model string, and the upstream sees nothing.
    let sluice = start_sluice(
        &Cfg {
            upstream: Some(mock.addr),
            default_provider: "mock",
            ..Cfg::default()
        }
        .render(),
    );
    let r = roundtrip(sluice.addr, &chat("meta-llama/Llama-3.1-8B", "in process"));
    assert_chat(&r, "meta-llama/Llama-3.1-8B", "echo: in process");
    // The in-process mock names its answers `req_mock_<n>`; sluice-mock sends `req_mock`.
    let rid = r.header("x-request-id").unwrap_or_default();
    assert!(
        rid.starts_with("req_mock_"),
        "from the in-process mock: {:?}",
        r.headers
    );
    assert_eq!(mock_stats(mock.addr).requests, 2, "the upstream saw nothing new");
    let m = metrics_text(sluice.addr);
    assert_eq!(
        metric(
            &m,
            r#"sluice_requests_total{route="chat_completions",provider="mock",status="200"}"#
        ),
        Some(1.0),
        "{m}"
    );
}

// 9 ------------------------------------------------------------------------------------------

#[test]
fn upstream_errors_pass_through() {
    let (mock, sluice) = gateway();
    for (status, ty) in [(429u16, "rate_limit_error"), (503, "server_error")] {
        let direct = roundtrip(mock.addr, &chat(&format!("error-{status}"), "x"));
        assert_eq!(direct.status, status);
        for stream in [false, true] {
            let body = chat_body(&format!("openai/error-{status}"), "x", stream);
            let r = roundtrip(sluice.addr, &post("/v1/chat/completions", &body));
            assert_eq!(r.status, status, "stream={stream}: {}", r.text());
            assert_eq!(
                r.body, direct.body,
                "stream={stream}: the upstream's body, byte for byte"
            );
            assert_eq!(
                r.header("x-request-id"),
                Some("req_mock"),
                "stream={stream}: {:?}",
                r.headers
            );
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert_openai_error(&r, status, ty);
        }
    }
}

// 15 -----------------------------------------------------------------------------------------

#[test]
fn health_metrics_and_unrouted_requests() {
    let (_mock, sluice) = gateway();
    let h = roundtrip(sluice.addr, &get("/health"));
    assert_eq!(h.status, 200);
    assert_eq!(h.header("content-type"), Some("application/json"));
    assert_eq!(h.json(), parse_json(r#"{"status":"ok"}"#));

    let series = r#"sluice_requests_total{route="chat_completions",provider="openai",status="200"}"#;
    assert_eq!(metric(&metrics_text(sluice.addr), series), None, "no requests yet");
    assert_chat(
        &roundtrip(sluice.addr, &chat("openai/gpt-4o-mini", "count me")),
        "gpt-4o-mini",
        "echo: count me",
    );
    let r = roundtrip(sluice.addr, &get("/metrics"));
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type").is_some_and(|v| v.starts_with("text/plain")),
        "{:?}",
        r.headers
    );
    let m = r.text();
    assert_eq!(metric(&m, series), Some(1.0), "{m}");
    for g in [
        "sluice_pool_idle_connections",
        "sluice_pool_busy_connections",
        "sluice_active_streams",
        "sluice_open_connections",
    ] {
        assert!(metric(&m, g).is_some(), "gauge {g} missing:\n{m}");
    }
    let m = metrics_when_only_the_scrape_is_open(sluice.addr);
    assert_eq!(
        metric(&m, "sluice_open_connections"),
        Some(1.0),
        "only the scrape's own connection is open:\n{m}"
    );
    assert_chat(
        &roundtrip(sluice.addr, &chat("openai/gpt-4o-mini", "again")),
        "gpt-4o-mini",
        "echo: again",
    );
    assert_eq!(metric(&metrics_text(sluice.addr), series), Some(2.0));

    let r = roundtrip(sluice.addr, &get("/v1/chat/completions"));
    assert_openai_error(&r, 405, "invalid_request_error");
    assert_eq!(r.header("allow"), Some("POST"));
    let r = roundtrip(sluice.addr, &post("/health", "{}"));
    assert_openai_error(&r, 405, "invalid_request_error");
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let r = roundtrip(
        sluice.addr,
        b"DELETE /v1/responses/resp_1/cancel HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    // A method no route serves is not implemented, whatever the path.
    for path in ["/health", "/v1/nothing-here"] {
        let r = roundtrip(
            sluice.addr,
            format!("BREW {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        assert_openai_error(&r, 501, "not_implemented");
    }
    let r = roundtrip(sluice.addr, &get("/v1/nothing-here"));
    assert_openai_error(&r, 404, "invalid_request_error");
    assert_eq!(at_str(&r.json(), "error.code"), "not_found");
    let r = roundtrip(sluice.addr, &post("/v2/chat/completions", "{}"));
    assert_openai_error(&r, 404, "invalid_request_error");
}

#[test]
fn models_lists_configured_models() {
    let (_mock, sluice) = gateway();
    let r = roundtrip(sluice.addr, &get("/v1/models"));
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(at_str(&v, "object"), "list");
    let ids: Vec<&str> = at(&v, "data")
        .as_array()
        .unwrap()
        .iter()
        .map(|m| at_str(m, "id"))
        .collect();
    assert_eq!(ids, ["mock/mock-model", "openai/gpt-4o-mini"]);
}

/// A compressed body is refused by name, with the coding that would do, in the client's format;
/// `identity` is no coding at all.
#[test]
fn a_compressed_request_body_is_415() {
    let (_mock, sluice) = gateway();
    let gz: &[u8] = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xab\xae\x05\x00\x43\xbf\xa6\xa3\x02\x00\x00\x00";
    let with = |path: &str, coding: &str, body: &[u8]| {
        let mut wire = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: {coding}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        wire.extend_from_slice(body);
        wire
    };
    let mut c = Client::connect(sluice.addr);
    let r = c.request(&with("/v1/chat/completions", "gzip", gz));
    assert!(
        assert_openai_error(&r, 415, "invalid_request_error").contains("Content-Encoding"),
        "{}",
        r.text()
    );
    assert_eq!(r.header("accept-encoding"), Some("identity"));
    let r = c.request(&with("/anthropic/v1/messages", "br", gz));
    assert_eq!(r.status, 415, "{}", r.text());
    assert_eq!(
        r.json()["error"]["type"].as_str(),
        Some("invalid_request_error"),
        "{}",
        r.text()
    );
    let body = chat_body("openai/gpt-4o-mini", "plain", false);
    let r = c.request(&with("/v1/chat/completions", "Identity", body.as_bytes()));
    assert_chat(&r, "gpt-4o-mini", "echo: plain");
}

#[test]
fn head_request_gets_headers_without_body() {
    let (_mock, sluice) = gateway();
    let mut c = Client::connect(sluice.addr);
    let mut two = b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    two.extend(get("/health"));
    c.send(&two);
    let h = c.read_head_response();
    assert_eq!(h.status, 200);
    // The next response must start right after the HEAD response's headers (RFC 9110 9.3.2).
    let g = c
        .try_read_response()
        .unwrap_or_else(|e| panic!("response after HEAD is out of sync (HEAD response carried a body?): {e}"));
    assert_eq!(g.status, 200);
    assert_eq!(g.json(), parse_json(r#"{"status":"ok"}"#));

    // A refused HEAD is still a HEAD: its 431 has a length but no body, then the close.
    let (_mock, small) = gateway_with(&[], "max_head_bytes = 1024");
    let mut c = Client::connect(small.addr);
    let pad = "a".repeat(1100);
    c.send(format!("HEAD /v1/models HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n\r\n").as_bytes());
    let h = c.read_head_response();
    assert_eq!(h.status, 431);
    assert_ne!(
        h.header("content-length"),
        Some("0"),
        "the length of the body a GET would get"
    );
    c.expect_eof();
}

#[test]
fn connection_close_is_honoured() {
    let (_mock, sluice) = gateway();
    let mut c = Client::connect(sluice.addr);
    let body = chat_body("openai/gpt-4o-mini", "then close", false);
    let r = c.request(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert_chat(&r, "gpt-4o-mini", "echo: then close");
    assert!(r.closes(), "{:?}", r.headers);
    c.expect_eof();

    // `close` wins over `keep-alive`, in one header or two, in any order (RFC 9112 9.6).
    for headers in [
        "Connection: close, keep-alive\r\n",
        "Connection: keep-alive\r\nConnection: close\r\n",
        "Connection: close\r\nConnection: keep-alive\r\n",
    ] {
        let mut c = Client::connect(sluice.addr);
        let mut wire = format!("GET /health HTTP/1.1\r\nHost: x\r\n{headers}\r\n").into_bytes();
        wire.extend(get("/health"));
        c.send(&wire);
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert!(r.closes(), "{headers:?}: {:?}", r.headers);
        c.expect_eof();
    }
}

#[test]
fn absolute_form_targets_are_routed_by_their_path() {
    let (_mock, sluice) = gateway();
    let mut c = Client::connect(sluice.addr);
    let r = c.request(b"GET http://127.0.0.1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, r#"{"status":"ok"}"#));
    let body = chat_body("openai/gpt-4o-mini", "absolute", false);
    let r = c.request(
        format!(
            "POST HTTP://gateway.example:8080/v1/chat/completions?x=1 HTTP/1.1\r\nHost: gateway.example\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert_chat(&r, "gpt-4o-mini", "echo: absolute");
    // `OPTIONS *` asks about the server as a whole.
    let r = c.request(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST, DELETE, OPTIONS"));
    assert_eq!(r.header("content-length"), Some("0"));
    assert_eq!(c.request(&get("/health")).status, 200, "still in sync");
}

#[test]
fn slow_head_is_408_and_idle_connection_is_closed() {
    let (_mock, sluice) = gateway_with(&[], "header_read_timeout_ms = 300\nidle_timeout_ms = 400");
    // A head that never completes.
    let mut c = Client::connect(sluice.addr);
    c.send(b"GET /health HTTP/1.1\r\nHost: x\r\n");
    let t = std::time::Instant::now();
    let r = c.read_response();
    // A timeout is a `server_error` with code `timeout` in OpenAI's shape.
    assert_openai_error(&r, 408, "server_error");
    assert_eq!(at_str(&r.json(), "error.code"), "timeout");
    assert!(t.elapsed() < Duration::from_secs(2), "408 after {:?}", t.elapsed());
    c.expect_eof();

    // An idle keep-alive connection is closed quietly.
    let mut c = Client::connect(sluice.addr);
    assert_eq!(c.request(&get("/health")).status, 200);
    let t = std::time::Instant::now();
    c.expect_eof();
    assert!(
        t.elapsed() >= Duration::from_millis(250) && t.elapsed() < Duration::from_secs(2),
        "closed after {:?}",
        t.elapsed()
    );
}

/// A head trickled in a byte at a time still has `header_read_timeout` in all: with the clock
/// restarted at every byte, one client could hold a connection (and its buffer) for ever.
#[test]
fn a_head_trickled_byte_by_byte_is_408_within_the_head_timeout() {
    let (_mock, sluice) = gateway_with(&[], "header_read_timeout_ms = 300");
    let mut c = Client::connect(sluice.addr);
    c.send(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    let t = std::time::Instant::now();
    // A byte every 100 ms, each well within the timeout, until the server answers.
    c.stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    while c.stream.peek(&mut [0u8]).is_err() && t.elapsed() < Duration::from_secs(3) {
        let _ = std::io::Write::write_all(&mut c.stream, b"a");
    }
    c.stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    assert_openai_error(&c.read_response(), 408, "server_error");
    assert!(t.elapsed() < Duration::from_secs(1), "408 after {:?}", t.elapsed());
}

// Browsers (CORS) --------------------------------------------------------------------------------

/// A raw request with extra header lines (each ending in CRLF).
fn with_headers(method: &str, path: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\n{extra}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn an_allowed_origin_gets_its_preflight_and_readable_answers() {
    let sluice = start_sluice(
        &Cfg {
            server_extra: r#"cors_allowed_origins = ["https://App.example", "http://localhost:3000"]"#,
            ..Cfg::default()
        }
        .render(),
    );
    let mut c = Client::connect(sluice.addr);
    let origin = "origin: https://app.example\r\n";
    // The preflight: granted as asked, no body.
    let r = c.request(&with_headers(
        "OPTIONS",
        "/anthropic/v1/messages",
        &format!("{origin}access-control-request-method: POST\r\naccess-control-request-headers: x-api-key, anthropic-version, x-stainless-os\r\n"),
        "",
    ));
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example"));
    assert!(r.header("access-control-allow-methods").unwrap().contains("POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("x-api-key, anthropic-version, x-stainless-os")
    );
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert!(r.header("vary").unwrap().contains("origin"));
    assert_eq!(r.header("content-length"), None, "a 204 has no length");
    assert!(r.body.is_empty());
    // The answer, an error and a stream on the same connection all carry the grant.
    let chat = chat_body("mock-model", "hi", false);
    let r = c.request(&with_headers("POST", "/v1/chat/completions", origin, &chat));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example"));
    assert_eq!(r.header("access-control-expose-headers"), Some("*"));
    assert_eq!(r.header("vary"), Some("origin"));
    let r = c.request(&with_headers("POST", "/v1/nope", origin, "{}"));
    assert_eq!(r.status, 404);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example"));
    let streamed = chat_body("mock-model", "hi", true);
    let r = c.request(&with_headers("POST", "/v1/chat/completions", origin, &streamed));
    assert_eq!(r.status, 200);
    assert!(r.chunks.is_some(), "streamed");
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example"));
    // A request without an origin, on the same connection, gets none of it.
    let r = c.request(&with_headers("POST", "/v1/chat/completions", "", &chat));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("vary"), None);
    // An origin not listed: no grant, and its preflight is the 405 any OPTIONS gets.
    let other = "origin: https://evil.example\r\naccess-control-request-method: POST\r\n";
    let r = c.request(&with_headers("OPTIONS", "/v1/chat/completions", other, ""));
    assert_eq!(r.status, 405);
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = c.request(&with_headers(
        "POST",
        "/v1/chat/completions",
        "origin: https://evil.example\r\n",
        &chat,
    ));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[test]
fn any_origin_and_cors_off() {
    let any = start_sluice(
        &Cfg {
            server_extra: r#"cors_allowed_origins = ["*"]"#,
            ..Cfg::default()
        }
        .render(),
    );
    let chat = chat_body("mock-model", "hi", false);
    let r = roundtrip(
        any.addr,
        &with_headers("POST", "/v1/chat/completions", "origin: https://a.example\r\n", &chat),
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("vary"), None, "the same answer for every origin");
    let off = start_sluice(&Cfg::default().render());
    let r = roundtrip(
        off.addr,
        &with_headers("POST", "/v1/chat/completions", "origin: https://a.example\r\n", &chat),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
    let preflight = "origin: https://a.example\r\naccess-control-request-method: POST\r\n";
    assert_eq!(
        roundtrip(
            off.addr,
            &with_headers("OPTIONS", "/v1/chat/completions", preflight, "")
        )
        .status,
        405
    );
}

#[test]
fn a_cors_entry_that_is_not_an_origin_is_a_config_error() {
    let dir = TempDir::new("cors-check");
    let path = dir.file("sluice.toml");
    let cfg = Cfg {
        server_extra: r#"cors_allowed_origins = ["https://app.example/path"]"#,
        ..Cfg::default()
    }
    .render();
    std::fs::write(&path, cfg).unwrap();
    let out = std::process::Command::new(SLUICE)
        .args(["--check", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.cors_allowed_origins") && err.contains("is not an origin"),
        "{err}"
    );
}

// Errors in the format of the path -------------------------------------------------------------

/// A refused request's answer: status, the header named, and the body as JSON.
fn refusal(addr: SocketAddr, wire: &[u8]) -> Response {
    let mut c = Client::connect(addr);
    c.send(wire);
    c.read_response()
}

#[test]
fn http_errors_speak_the_format_their_path_names_and_carry_cors() {
    let sluice = start_sluice(
        &Cfg {
            server_extra: "max_body_bytes = 1024\nmax_head_bytes = 1024\nheader_read_timeout_ms = 300\n\
                           cors_allowed_origins = [\"https://app.example\"]",
            ..Cfg::default()
        }
        .render(),
    );
    let origin = "Origin: https://app.example\r\n";
    let cors = |r: &Response| {
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("https://app.example"),
            "{:?}",
            r.headers
        );
    };
    let anthropic_type = |r: &Response| {
        let v = r.json();
        assert_eq!(at_str(&v, "type"), "error", "{}", r.text());
        at_str(&v, "error.type").to_string()
    };

    // 413 (declared length) and 431 under Anthropic's paths, with the origin's grant.
    let r = refusal(
        sluice.addr,
        format!("POST /v1/messages HTTP/1.1\r\nHost: x\r\n{origin}Content-Length: 5000\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.status, 413);
    assert_eq!(anthropic_type(&r), "request_too_large");
    assert!(r.closes());
    cors(&r);
    let pad = "a".repeat(1100);
    let r = refusal(
        sluice.addr,
        format!("POST /anthropic/v1/messages HTTP/1.1\r\nHost: x\r\n{origin}X-Pad: {pad}\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.status, 431);
    assert_eq!(anthropic_type(&r), "invalid_request_error");
    cors(&r);

    // 413 on a chunked body, and a framing 400, found while the body is read.
    let r = refusal(
        sluice.addr,
        format!("POST /anthropic/v1/messages HTTP/1.1\r\nHost: x\r\n{origin}Transfer-Encoding: chunked\r\n\r\n401\r\n")
            .as_bytes(),
    );
    assert_eq!((r.status, anthropic_type(&r).as_str()), (413, "request_too_large"));
    cors(&r);
    let r = refusal(
        sluice.addr,
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\n",
    );
    assert_eq!((r.status, anthropic_type(&r).as_str()), (400, "invalid_request_error"));

    // 408 on a head under way to Cohere: its shape, the origin's grant.
    let t = std::time::Instant::now();
    let r = refusal(
        sluice.addr,
        format!("POST /cohere/v2/chat HTTP/1.1\r\nHost: x\r\n{origin}").as_bytes(),
    );
    assert!(t.elapsed() < Duration::from_secs(2), "408 after {:?}", t.elapsed());
    assert_eq!(r.status, 408);
    let v = r.json();
    assert!(at_str(&v, "message").contains("timed out"), "{}", r.text());
    assert!(v.get("error").is_none(), "{}", r.text());
    cors(&r);

    // 501 (transfer coding) to a Bedrock client: its exception header and top-level message. Its
    // shape has no 501: a 400 `ValidationException`, which botocore does not retry (a 500
    // `InternalServerException` it would).
    let r = refusal(
        sluice.addr,
        format!("POST /model/m/converse HTTP/1.1\r\nHost: x\r\n{origin}Transfer-Encoding: gzip\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.header("x-amzn-errortype")
            .is_some_and(|t| t.starts_with("ValidationException:")),
        "{:?}",
        r.headers
    );
    assert!(at_str(&r.json(), "message").contains("Transfer-Encoding"));
    cors(&r);
    // ... as is a method no route serves, under the Bedrock prefix.
    let r = roundtrip(
        sluice.addr,
        b"BREW /bedrock/model/m/converse HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.header("x-amzn-errortype")
            .is_some_and(|t| t.starts_with("ValidationException:")),
        "{:?}",
        r.headers
    );
    assert!(at_str(&r.json(), "message").contains("not implemented"), "{}", r.text());
    // ... and in OpenAI's shape, a 501 is `not_implemented`.
    let r = refusal(
        sluice.addr,
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    );
    assert_openai_error(&r, 501, "not_implemented");

    // 404 and 405 under a format's prefix or on its routes.
    let r = roundtrip(sluice.addr, &post("/bedrock/model/m/nope", "{}"));
    assert_eq!(r.status, 404);
    assert!(r
        .header("x-amzn-errortype")
        .is_some_and(|t| t.starts_with("ResourceNotFoundException")));
    assert!(at_str(&r.json(), "message").contains("/bedrock/model/m/nope"));
    let r = roundtrip(sluice.addr, &post("/genai/v1/nothing", "{}"));
    assert_eq!((r.status, at_str(&r.json(), "error.status")), (404, "NOT_FOUND"));
    // Gemini clients get statuses Google sends: a wrong method is its INVALID_ARGUMENT.
    let r = roundtrip(sluice.addr, &get("/v1beta/models/m:generateContent"));
    assert_eq!((r.status, at_str(&r.json(), "error.status")), (400, "INVALID_ARGUMENT"));
    assert_eq!(r.header("allow"), Some("POST"));
    let r = roundtrip(sluice.addr, &get("/v2/chat"));
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    assert!(at_str(&r.json(), "message").contains("method not allowed"));
    let r = roundtrip(sluice.addr, &get("/anthropic/v1/messages/nope"));
    assert_eq!((r.status, anthropic_type(&r).as_str()), (404, "not_found_error"));
}
