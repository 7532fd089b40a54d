//! Upstream connection handling seen from outside: keep-alive reuse, closing the upstream when a
//! streaming client hangs up, and the end of an OpenAI stream at `data: [DONE]`.

mod common;

use common::*;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn sluice_for(mock: &Proc) -> Proc {
    start_sluice(
        &Cfg {
            upstream: Some(mock.addr),
            ..Cfg::default()
        }
        .render(),
    )
}

/// Sluice with the in-process mock and one provider of `kind` (named after it) at `upstream`.
fn sluice_with_provider(kind: &str, upstream: SocketAddr, key: &str) -> Proc {
    let mut cfg = Cfg::default().render();
    cfg.push_str(&format!(
        "\n[[providers]]\nname = \"{kind}\"\nkind = \"{kind}\"\nbase_url = \"http://{upstream}\"\nkeys = [\"{key}\"]\n"
    ));
    start_sluice(&cfg)
}

/// Pool gauges from sluice's /metrics: (idle, busy, active streams).
fn pool_gauges(sluice: SocketAddr) -> (f64, f64, f64) {
    let m = metrics_text(sluice);
    let g = |name: &str| metric(&m, name).unwrap_or_else(|| panic!("{name} missing:\n{m}"));
    (
        g("sluice_pool_idle_connections"),
        g("sluice_pool_busy_connections"),
        g("sluice_active_streams"),
    )
}

// 12 -----------------------------------------------------------------------------------------

#[test]
fn client_disconnect_mid_stream_closes_upstream_connection() {
    let mock = start_mock(&["--chunks", "50", "--chunk-delay-ms", "100"]);
    let sluice = sluice_for(&mock);
    let mut probe = StatsProbe::new(mock.addr);

    let mut c = Client::connect(sluice.addr);
    c.send(&chat_stream(
        "openai/gpt-4o-mini",
        "a long answer that the client will not wait for",
    ));
    let head = c.read_head();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    let first = c.read_chunk().expect("a first event");
    assert!(first.starts_with(b"data: {"), "{:?}", String::from_utf8_lossy(&first));
    let s = probe.read();
    assert_eq!((s.open, s.accepted), (1, 1), "one upstream connection, busy streaming");
    assert_eq!(
        pool_gauges(sluice.addr),
        (0.0, 1.0, 1.0),
        "(idle, busy, streams) while streaming"
    );

    drop(c);
    let t = Instant::now();
    let closed = poll(Duration::from_secs(1), || (probe.read().open == 0).then_some(()));
    assert!(
        closed.is_some(),
        "upstream connection still open {:?} after the client left: {:?}",
        t.elapsed(),
        probe.read()
    );
    // Closed, not pooled; nothing busy, no stream left.
    let g = poll(Duration::from_millis(500), || {
        let g = pool_gauges(sluice.addr);
        (g == (0.0, 0.0, 0.0)).then_some(g)
    });
    assert_eq!(
        g,
        Some((0.0, 0.0, 0.0)),
        "(idle, busy, streams) after disconnect: {:?}",
        pool_gauges(sluice.addr)
    );
    let m = metrics_when_only_the_scrape_is_open(sluice.addr);
    assert_eq!(
        metric(&m, "sluice_open_connections"),
        Some(1.0),
        "only the scrape is open:\n{m}"
    );

    // The next request opens a fresh upstream connection and works.
    let r = roundtrip(sluice.addr, &chat("openai/gpt-4o-mini", "next"));
    assert_eq!(r.status, 200);
    assert_eq!(probe.read().accepted, 2);
}

#[test]
fn completed_stream_returns_upstream_connection_to_pool() {
    let mock = start_mock(&[]);
    let sluice = sluice_for(&mock);
    let mut probe = StatsProbe::new(mock.addr);

    let r = roundtrip(sluice.addr, &chat_stream("openai/gpt-4o-mini", "finish properly"));
    assert_eq!(r.status, 200);
    assert!(r.body.ends_with(b"data: [DONE]\n\n"));
    let g = poll(Duration::from_secs(1), || {
        let g = pool_gauges(sluice.addr);
        (g == (1.0, 0.0, 0.0)).then_some(g)
    });
    assert_eq!(
        g,
        Some((1.0, 0.0, 0.0)),
        "(idle, busy, streams) after a complete stream: {:?}",
        pool_gauges(sluice.addr)
    );
    let s = probe.read();
    assert_eq!(
        (s.open, s.accepted),
        (1, 1),
        "the upstream connection stays open in the pool"
    );

    // And it is the one the next stream uses.
    let r = roundtrip(sluice.addr, &chat_stream("openai/gpt-4o-mini", "again"));
    assert_eq!(r.status, 200);
    let s = probe.read();
    assert_eq!((s.open, s.accepted, s.requests), (1, 1, 2));
}

// 13 -----------------------------------------------------------------------------------------

#[test]
fn sequential_requests_reuse_one_upstream_connection() {
    let mock = start_mock(&[]);
    let sluice = sluice_for(&mock);
    let mut probe = StatsProbe::new(mock.addr);
    let requests = [
        chat("openai/gpt-4o-mini", "one"),
        chat_stream("openai/gpt-4o-mini", "two"),
        post(
            "/v1/embeddings",
            r#"{"model":"openai/text-embedding-3-small","input":"three"}"#,
        ),
        post("/v1/completions", r#"{"model":"openai/gpt-4o-mini","prompt":"four"}"#),
        chat("openai/gpt-4o-mini", "five"),
        chat_stream("openai/gpt-4o-mini", "six"),
    ];
    for (i, req) in requests.iter().enumerate() {
        // A new client connection each time: reuse is on the upstream side.
        let r = roundtrip(sluice.addr, req);
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
    }
    // And several on one client connection.
    let mut c = Client::connect(sluice.addr);
    for i in 0..3 {
        assert_eq!(c.request(&chat("openai/gpt-4o-mini", &format!("kept {i}"))).status, 200);
    }
    let s = probe.read();
    assert_eq!(s.requests, 9);
    assert_eq!(
        (s.open, s.accepted),
        (1, 1),
        "one upstream connection for all sequential requests: {s:?}"
    );
}

// The end of an OpenAI stream ------------------------------------------------------------------

/// What a fake upstream received: the request head (as text) and the body.
struct Received {
    head: String,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }

    fn header_count(&self, name: &str) -> usize {
        self.head
            .lines()
            .skip(1)
            .filter(|l| l.split_once(':').is_some_and(|(n, _)| n.eq_ignore_ascii_case(name)))
            .count()
    }
}

/// A one-connection fake upstream: reads one request (Content-Length body), reports it, writes
/// `response`, and keeps the connection open for `hold` (so a proxy that waits for the
/// upstream's end would hang).
fn fake_upstream(
    response: Vec<u8>,
    hold: Duration,
) -> (SocketAddr, mpsc::Receiver<Received>, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind fake upstream");
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        l.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut s = loop {
            match l.accept() {
                Ok((s, _)) => break s,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => return,
            }
        };
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let Some((head, body)) = read_http_request(&mut s, &mut Vec::new()) else {
            return;
        };
        let received = Received { head, body };
        let _ = tx.send(received);
        let _ = s.write_all(&response);
        std::thread::sleep(hold);
    });
    (addr, rx, h)
}

fn chunk(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

#[test]
fn stream_ends_at_done_even_if_upstream_keeps_body_open() {
    let ev = r#"data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#;
    // [DONE] arrives, then junk in the same chunk, and the upstream never ends its body.
    let body = chunk(&format!("{ev}\n\ndata: [DONE]\n\ndata: junk after done\n\n"));
    let response =
        format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{body}");
    let (up, _rx, h) = fake_upstream(response.into_bytes(), Duration::from_millis(1500));
    let sluice = start_sluice(
        &Cfg {
            upstream: Some(up),
            ..Cfg::default()
        }
        .render(),
    );

    let mut c = Client::connect(sluice.addr);
    c.stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let t = Instant::now();
    c.send(&chat_stream("openai/m", "x"));
    let r = c
        .try_read_response()
        .unwrap_or_else(|e| panic!("stream did not end at [DONE] ({:?}): {e}", t.elapsed()));
    assert_eq!(r.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        format!("{ev}\n\ndata: [DONE]\n\n"),
        "cut right after [DONE]"
    );
    assert!(t.elapsed() < Duration::from_secs(1), "ended after {:?}", t.elapsed());
    // The unfinished upstream connection is not pooled.
    let g = poll(Duration::from_millis(500), || {
        let g = pool_gauges(sluice.addr);
        (g == (0.0, 0.0, 0.0)).then_some(g)
    });
    assert_eq!(
        g,
        Some((0.0, 0.0, 0.0)),
        "(idle, busy, streams): {:?}",
        pool_gauges(sluice.addr)
    );
    drop(sluice);
    let _ = h.join();
}

#[test]
fn truncated_upstream_stream_ends_with_an_in_stream_error() {
    let ev = r#"data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#;
    // One event, then the upstream closes without the last chunk.
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{}",
        chunk(&format!("{ev}\n\n"))
    );
    let (up, _rx, h) = fake_upstream(response.into_bytes(), Duration::from_millis(100));
    let sluice = start_sluice(
        &Cfg {
            upstream: Some(up),
            ..Cfg::default()
        }
        .render(),
    );
    let mut c = Client::connect(sluice.addr);
    c.send(&chat_stream("openai/m", "x"));
    let head = c.read_head();
    assert_eq!(head.status, 200);
    assert_eq!(c.read_chunk().as_deref(), Some(format!("{ev}\n\n").as_bytes()));
    // The client must see the failure: cut between two events, the stream ends with OpenAI's
    // in-stream error (which the SDK raises), then `[DONE]` and a clean end.
    let error = String::from_utf8(c.read_chunk().expect("the error event")).unwrap();
    assert!(
        error.starts_with("data: {\"error\":{\"message\":\"upstream stream failed: "),
        "{error}"
    );
    assert!(error.ends_with("\n\ndata: [DONE]\n\n"), "{error}");
    assert_eq!(c.try_read_chunk().ok(), Some(None), "then the body's clean end");
    let _ = h.join();
}

#[test]
fn an_undecodable_upstream_answer_is_a_502_that_says_what_was_wrong() {
    // Well framed, valid JSON, but not an Anthropic message: `content` must be an array.
    let body = r#"{"id":"msg_1","type":"message","role":"assistant","model":"m","content":"oops","stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}"#;
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (up, _rx, h) = fake_upstream(response.into_bytes(), Duration::from_millis(100));
    let sluice = sluice_with_provider("anthropic", up, "k");
    let r = roundtrip(sluice.addr, &chat("anthropic/m", "x"));
    assert_eq!(r.status, 502, "{}", r.text());
    let message = at_str(&r.json(), "error.message").to_string();
    assert!(
        message.starts_with("invalid upstream response: the anthropic answer could not be decoded: content"),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message:?}");
    let _ = h.join();
}

// What goes upstream --------------------------------------------------------------------------

#[test]
fn request_to_upstream_is_faithful_and_filtered() {
    let resp_body = r#"{"id":"x","object":"chat.completion","model":"m","choices":[]}"#;
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-upstream: yes\r\nset-cookie: a=b\r\nconnection: keep-alive, X-Up-Hop\r\n\
         x-up-hop: 1\r\nproxy-authenticate: Basic\r\ncontent-length: {}\r\n\r\n{resp_body}",
        resp_body.len()
    );
    let (up, rx, h) = fake_upstream(response.into_bytes(), Duration::ZERO);
    let cfg = Cfg {
        upstream: Some(up),
        ..Cfg::default()
    }
    .render()
    .replace(&format!("http://{up}"), &format!("http://{up}/prefix/"));
    let sluice = start_sluice(&cfg);

    // Odd but valid JSON spacing: everything except the model must arrive byte for byte.
    let body = "{ \"messages\" : [ {\"role\":\"user\", \"content\":\"caf\u{e9} \\u00e9\"} ],\n \"model\":  \"openai/m\" , \"temperature\":0.5 }";
    let req = format!(
        "POST /v1/chat/completions?api-version=2024-06-01 HTTP/1.1\r\nHost: gateway.example\r\nAuthorization: Bearer client-secret\r\n\
         Cookie: session=1\r\nX-Api-Key: client-key\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nX-Custom: kept\r\n\
         Accept-Encoding: gzip\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let r = roundtrip(sluice.addr, req.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), resp_body);
    assert_eq!(
        r.header("x-upstream"),
        Some("yes"),
        "upstream headers relayed: {:?}",
        r.headers
    );
    // Nor are the headers the upstream's `Connection` names, which are hop-by-hop (RFC 9110
    // 7.6.1), or a proxy's challenge, which is for the client's own proxy.
    for dropped in ["set-cookie", "x-up-hop", "connection", "proxy-authenticate"] {
        assert!(r.header(dropped).is_none(), "{dropped} relayed: {:?}", r.headers);
    }
    assert_eq!(r.header_count("content-length"), 1, "{:?}", r.headers);

    let got = rx
        .recv_timeout(Duration::from_secs(2))
        .expect("upstream got the request");
    let line = got.head.lines().next().unwrap();
    assert_eq!(line, "POST /prefix/v1/chat/completions?api-version=2024-06-01 HTTP/1.1");
    assert_eq!(got.header("host"), Some(up.to_string().as_str()));
    assert_eq!(
        got.header("authorization"),
        Some("Bearer sk-test"),
        "provider key, not the client's"
    );
    assert_eq!(got.header_count("authorization"), 1);
    for dropped in ["cookie", "x-api-key", "x-hop", "connection"] {
        assert!(got.header(dropped).is_none(), "{dropped} forwarded:\n{}", got.head);
    }
    // Not the client's `gzip`, and not left out either: without the header, an upstream may
    // pick any coding (RFC 9110 12.5.3), which a translated answer cannot be read in.
    assert_eq!(got.header("accept-encoding"), Some("identity"), "{}", got.head);
    assert_eq!(got.header_count("accept-encoding"), 1, "{}", got.head);
    assert_eq!(got.header("x-custom"), Some("kept"));
    assert_eq!(got.header("content-type"), Some("application/json"));
    let want = body.replace("\"openai/m\"", "\"m\"");
    assert_eq!(
        String::from_utf8_lossy(&got.body),
        want,
        "body spliced, otherwise untouched"
    );
    assert_eq!(got.header("content-length"), Some(want.len().to_string().as_str()));
    drop(sluice);
    let _ = h.join();
}

/// Spares wait while the pool sheds connections: with as many clients as `pool_max_idle`, a
/// spare would come back to a full idle list and be closed unused, a connect and a close for
/// nothing, again and again. After the first such return none is opened while every request
/// finds a connection idle.
#[test]
fn spares_wait_while_returned_connections_find_the_pool_full() {
    let mock = start_mock(&[]);
    let sluice = start_sluice(
        &Cfg {
            upstream: Some(mock.addr),
            upstream_extra: "pool_spare = 1\npool_max_idle = 2",
            ..Cfg::default()
        }
        .render(),
    );
    let mut probe = StatsProbe::new(mock.addr);
    let clients: Vec<_> = (0..2)
        .map(|i| {
            let addr = sluice.addr;
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                for n in 0..300 {
                    let r = c.request(&chat("openai/gpt-4o-mini", &format!("client {i} request {n}")));
                    assert_eq!(r.status, 200, "{}", r.text());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    // Two for the clients, one spare beside the first, and one more at most while the two
    // clients first overlap; then none, where each overlap opened one and its return closed one.
    let s = probe.read();
    assert!(s.accepted <= 4, "connections made for 600 requests: {s:?}");
}

/// With `pool_spare`, a new stream finds a connection ready even while every other one is busy,
/// and spares follow demand: none are opened again after they expire unused.
#[test]
fn spare_connections_are_ready_before_they_are_needed() {
    let mock = start_mock(&["--chunks", "50", "--chunk-delay-ms", "100"]);
    let sluice = start_sluice(
        &Cfg {
            upstream: Some(mock.addr),
            upstream_extra: "pool_spare = 2\npool_idle_timeout_ms = 1500",
            ..Cfg::default()
        }
        .render(),
    );
    let mut probe = StatsProbe::new(mock.addr);
    let gauges_become = |want: (f64, f64, f64)| {
        let got = poll(Duration::from_secs(2), || {
            let g = pool_gauges(sluice.addr);
            (g == want).then_some(g)
        });
        assert_eq!(got, Some(want), "(idle, busy, streams): {:?}", pool_gauges(sluice.addr));
    };
    // Nothing is opened before an origin is used.
    assert_eq!(probe.read().accepted, 0);

    // The first request connects by itself and opens two spares beside it.
    assert_eq!(roundtrip(sluice.addr, &chat("openai/gpt-4o-mini", "one")).status, 200);
    gauges_become((3.0, 0.0, 0.0));
    assert_eq!(probe.read().accepted, 3);

    // Three long streams take the three idle connections; two new spares stand ready beside them.
    let mut clients = Vec::new();
    for i in 0..3 {
        let mut c = Client::connect(sluice.addr);
        c.send(&chat_stream("openai/gpt-4o-mini", &format!("long {i}")));
        assert_eq!(c.read_head().status, 200);
        assert!(c.read_chunk().is_some(), "a first event");
        clients.push(c);
    }
    gauges_become((2.0, 3.0, 3.0));
    let s = probe.read();
    assert_eq!((s.accepted, s.open), (5, 5), "3 busy + 2 spares: {s:?}");

    // A fourth stream takes a spare: it makes no connection of its own.
    let mut c = Client::connect(sluice.addr);
    c.send(&chat_stream("openai/gpt-4o-mini", "fourth"));
    assert_eq!(c.read_head().status, 200);
    assert!(c.read_chunk().is_some());
    clients.push(c);
    gauges_become((2.0, 4.0, 4.0));
    assert_eq!(
        probe.read().accepted,
        6,
        "one more spare, opened after the stream took one"
    );

    // The clients leave (their upstream connections close); the idle spares expire unused and
    // are not replaced.
    drop(clients);
    gauges_become((2.0, 0.0, 0.0));
    let expired = poll(Duration::from_secs(5), || (probe.read().open == 0).then_some(()));
    assert!(expired.is_some(), "spares still open: {:?}", probe.read());
    assert_eq!(pool_gauges(sluice.addr), (0.0, 0.0, 0.0));
    assert_eq!(probe.read().accepted, 6, "no spare reopened without demand");
}

#[test]
fn dead_pooled_connection_is_replaced_transparently() {
    let mock = start_mock(&[]);
    let port = mock.addr.port().to_string();
    let sluice = sluice_for(&mock);
    assert_eq!(roundtrip(sluice.addr, &chat("openai/gpt-4o-mini", "warm")).status, 200);
    assert_eq!(pool_gauges(sluice.addr).0, 1.0, "one pooled connection");
    // The upstream restarts on the same port: the pooled connection is now dead.
    drop(mock);
    let listen = format!("127.0.0.1:{port}");
    let mock = Proc::spawn(
        "sluice-mock",
        SLUICE_MOCK,
        &["--listen", &listen],
        TempDir::new("mock2"),
    );
    let mut probe = StatsProbe::new(mock.addr);
    let r = roundtrip(sluice.addr, &chat("openai/gpt-4o-mini", "after restart"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(at_str(&r.json(), "choices.0.message.content"), "echo: after restart");
    let s = probe.read();
    assert_eq!((s.requests, s.accepted), (1, 1), "sent once, on one new connection");
}

#[test]
fn unreachable_upstream_is_502() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    // Nothing listens there any more.
    let sluice = start_sluice(
        &Cfg {
            upstream: Some(port),
            ..Cfg::default()
        }
        .render(),
    );
    let mut c = Client::connect(sluice.addr);
    let r = c.request(&chat("openai/gpt-4o-mini", "nobody home"));
    assert_openai_error(&r, 502, "server_error");
    assert_eq!(at_str(&r.json(), "error.code"), "upstream_error");
    assert_eq!(
        c.request(&get("/health")).status,
        200,
        "client connection survives an upstream failure"
    );
    assert_eq!(pool_gauges(sluice.addr), (0.0, 0.0, 0.0));
}

#[test]
fn large_bodies_both_ways() {
    let mock = start_mock(&[]);
    let sluice = sluice_for(&mock);
    let mut probe = StatsProbe::new(mock.addr);
    let msg: String = (0..40_000)
        .map(|i| format!("w{i} "))
        .collect::<String>()
        .trim_end()
        .to_string();
    assert!(msg.len() > 200_000);
    let r = roundtrip(sluice.addr, &chat("openai/gpt-4o-mini", &msg));
    assert_eq!(r.status, 200);
    assert_eq!(at_str(&r.json(), "choices.0.message.content"), format!("echo: {msg}"));

    let r = roundtrip(sluice.addr, &chat_stream("openai/gpt-4o-mini", &msg));
    assert_eq!(r.status, 200);
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
    assert_eq!(text, format!("echo: {msg}"));

    let r = roundtrip(
        sluice.addr,
        &post(
            "/v1/embeddings",
            r#"{"model":"openai/text-embedding-3-small","input":["a","b"],"dimensions":4096}"#,
        ),
    );
    assert_eq!(r.status, 200);
    assert!(r.body.len() > 16 * 1024);
    let v = r.json();
    assert_eq!(at(&v, "data.1.embedding").as_array().map(|a| a.len()), Some(4096));
    let s = probe.read();
    assert_eq!(
        (s.accepted, s.requests),
        (1, 3),
        "one upstream connection for all three: {s:?}"
    );
}

#[test]
fn a_translated_upstream_error_keeps_its_retry_hints() {
    let body = r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}}"#;
    let response = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 7\r\nretry-after-ms: 6500\r\n\
         x-should-retry: true\r\nx-unrelated: no\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let gemini = post(
        "/genai/v1beta/models/anthropic/claude-x:streamGenerateContent?alt=sse",
        r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
    );
    let cases = [
        (
            "openai",
            post("/v1/chat/completions", &chat_body("anthropic/claude-x", "hi", false)),
        ),
        (
            "openai stream",
            post("/v1/chat/completions", &chat_body("anthropic/claude-x", "hi", true)),
        ),
        ("gemini stream", gemini),
    ];
    for (what, request) in cases {
        let (addr, _rx, _h) = fake_upstream(response.clone().into_bytes(), Duration::ZERO);
        let sluice = sluice_with_provider("anthropic", addr, "k");
        let r = roundtrip(sluice.addr, &request);
        assert_eq!(r.status, 429, "{what}: {}", r.text());
        assert!(r.text().contains("exceeded your rate limit"), "{what}: {}", r.text());
        assert_eq!(r.header("retry-after"), Some("7"), "{what}");
        assert_eq!(r.header("retry-after-ms"), Some("6500"), "{what}");
        assert_eq!(r.header("x-should-retry"), Some("true"), "{what}");
        assert_eq!(r.header("x-unrelated"), None, "{what}: only retry hints are relayed");
        assert_eq!(r.header_count("retry-after"), 1, "{what}");
        if what.starts_with("gemini") {
            // A Gemini client also finds the delay where Google puts it: `RetryInfo` in the body.
            let v = r.json();
            let info = &v["error"]["details"][0];
            assert_eq!(
                info["@type"].as_str(),
                Some("type.googleapis.com/google.rpc.RetryInfo"),
                "{v}"
            );
            assert_eq!(info["retryDelay"].as_str(), Some("6.500s"), "{v}");
        }
    }
}

#[test]
fn a_gemini_retry_delay_becomes_retry_headers() {
    let body = r#"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"36.2s"}]}}"#;
    let response = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json; charset=UTF-8\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (addr, _rx, _h) = fake_upstream(response.into_bytes(), Duration::ZERO);
    let sluice = sluice_with_provider("gemini", addr, "k");
    let r = roundtrip(
        sluice.addr,
        &post(
            "/v1/chat/completions",
            &chat_body("gemini/gemini-2.5-flash", "hi", false),
        ),
    );
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("37"), "whole seconds, rounded up");
    assert_eq!(r.header("retry-after-ms"), Some("36200"));
}

/// Cohere's `finish_reason: ERROR` ends an answer that failed. A client format without such a
/// finish gets an error, as in a stream, not `stop`, `end_turn` or `STOP` after the part that came.
#[test]
fn an_answer_ended_by_an_error_is_an_error_where_the_format_has_no_such_finish() {
    let cohere = r#"{"id":"c1","finish_reason":"ERROR","message":{"role":"assistant","content":[{"type":"text","text":"half an ans"}]},"usage":{"billed_units":{"input_tokens":3,"output_tokens":4},"tokens":{"input_tokens":3,"output_tokens":4}}}"#;
    // A tool call Gemini could not form: often, as here, an answer with nothing in it.
    let gemini = r#"{"candidates":[{"content":{"role":"model","parts":[]},"finishReason":"MALFORMED_FUNCTION_CALL","index":0}]}"#;
    // (provider, its answer, what the error says)
    let answers = [
        ("cohere", cohere, "ended its answer with an error"),
        (
            "gemini",
            gemini,
            "could not form its answer (finish reason MALFORMED_FUNCTION_CALL)",
        ),
    ];
    for (provider, body, says) in answers {
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes();
        let model = format!("{provider}/m-1");
        let openai = post("/v1/chat/completions", &chat_body(&model, "hi", false));
        let anthropic = post(
            "/anthropic/v1/messages",
            &format!(r#"{{"model":"{model}","max_tokens":50,"messages":[{{"role":"user","content":"hi"}}]}}"#),
        );
        // (client, request, where its error says what kind, the kind)
        let mut cases = vec![
            ("openai", openai, "type", "server_error"),
            ("anthropic", anthropic, "type", "api_error"),
        ];
        // Gemini has no error finish; a malformed call it names itself.
        if provider == "cohere" {
            let gemini = post(
                &format!("/genai/v1beta/models/{model}:generateContent"),
                r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
            );
            cases.push(("gemini", gemini, "status", "INTERNAL"));
        }
        for (what, request, kind_field, kind) in cases {
            let (addr, _rx, _h) = fake_upstream(response.clone(), Duration::ZERO);
            let sluice = sluice_with_provider(provider, addr, "k");
            let r = roundtrip(sluice.addr, &request);
            let v = r.json();
            assert_eq!(r.status, 500, "{provider} -> {what}: {v}");
            assert_eq!(v["error"][kind_field].as_str(), Some(kind), "{what}: {v}");
            let message = v["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(says), "{provider} -> {what}: {v}");
        }
    }
}

#[test]
fn a_gemini_clients_query_key_never_goes_upstream() {
    let response = gemini_answer();
    let cases = [
        ("generateContent?key=client-secret&foo=1", "generateContent?foo=1"),
        ("generateContent?access_token=client-secret", "generateContent"),
        // Google decodes parameter names: `%6Bey` is `key`.
        ("generateContent?%6Bey=client-secret&foo=1", "generateContent?foo=1"),
        ("generateContent?access%5ftoken=client-secret", "generateContent"),
        (
            "streamGenerateContent?alt=sse&key=client-secret",
            "streamGenerateContent?alt=sse",
        ),
        (
            "generateContent?foo=1&&key=client-secret&bar=a%3Db",
            "generateContent?foo=1&bar=a%3Db",
        ),
    ];
    for (asked, sent) in cases {
        let (up, rx, _h) = fake_upstream(response.clone(), Duration::ZERO);
        let sluice = sluice_with_provider("gemini", up, "provider-key");
        let request = post(
            &format!("/genai/v1beta/models/gemini/gemini-2.5-flash:{asked}"),
            r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
        );
        let r = roundtrip(sluice.addr, &request);
        assert_eq!(r.status, 200, "{asked}: {}", r.text());
        let got = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the upstream got the request");
        let line = got.head.lines().next().unwrap_or_default().to_string();
        assert_eq!(
            line,
            format!("POST /v1beta/models/gemini-2.5-flash:{sent} HTTP/1.1"),
            "{asked}"
        );
        assert!(!got.head.contains("client-secret"), "{asked}: {}", got.head);
        assert!(
            got.head.to_ascii_lowercase().contains("x-goog-api-key: provider-key"),
            "{}",
            got.head
        );
    }
}

/// Everything a fake upstream got on its one connection within a moment of the first request:
/// that request's head, and any bytes after it (none, unless a second request was smuggled in).
fn upstream_bytes(response: Vec<u8>) -> (SocketAddr, mpsc::Receiver<(String, Vec<u8>)>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind fake upstream");
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = l.accept() else { return };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let Some((head, _body)) = read_http_request(&mut s, &mut buf) else {
            return;
        };
        let _ = s.write_all(&response);
        s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        let mut tmp = [0u8; 4096];
        while let Ok(n @ 1..) = std::io::Read::read(&mut s, &mut tmp) {
            buf.extend_from_slice(&tmp[..n]);
        }
        let _ = tx.send((head, buf));
    });
    (addr, rx)
}

/// A model name is the client's own text, and a Gemini upstream takes it in the path. Encoded
/// as one path segment, it cannot end the request line and add a request of the client's making
/// (sent with the provider's key, its answer then given to the connection's next user), add a
/// header, or climb out of the model's path: from an OpenAI body, a Bedrock path (percent-decoded
/// by the route) and a Gemini path.
#[test]
fn a_model_name_cannot_break_out_of_a_gemini_path() {
    let response = gemini_answer();
    let smuggled = "x:generateContent HTTP/1.1\r\nHost: u\r\nContent-Length: 0\r\n\r\nPOST /v1beta/models/evil";
    let openai = format!(
        r#"{{"model":{},"messages":[{{"role":"user","content":"hi"}}]}}"#,
        sonic_rs::to_string(&format!("gemini/{smuggled}")).unwrap()
    );
    let converse = r#"{"messages":[{"role":"user","content":[{"text":"hi"}]}]}"#;
    let gemini = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;
    let cases = [
        ("/v1/chat/completions", openai.as_str()),
        (
            "/bedrock/model/gemini%2Fx%20HTTP%2F1.1%0D%0AX-Injected%3A%201%0D%0A/converse",
            converse,
        ),
        ("/genai/v1beta/models/gemini/..%2F..%2Fadmin%23:generateContent", gemini),
    ];
    for (path, body) in cases {
        let (up, rx) = upstream_bytes(response.clone());
        let sluice = sluice_with_provider("gemini", up, "provider-key");
        let r = roundtrip(sluice.addr, &post(path, body));
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let (head, rest) = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the upstream got a request");
        let line = head.lines().next().unwrap_or_default();
        let target = line
            .strip_prefix("POST /v1beta/models/")
            .and_then(|t| t.strip_suffix(":generateContent HTTP/1.1"))
            .unwrap_or_else(|| panic!("{path}: request line {line:?}"));
        assert!(
            target
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
            "{path}: the model is one encoded segment: {target:?}"
        );
        let injected = head
            .lines()
            .skip(1)
            .any(|l| l.to_ascii_lowercase().starts_with("x-injected"));
        assert!(!injected, "{path}: a header of the client's making: {head}");
        assert!(
            rest.is_empty(),
            "{path}: a second request: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
}

/// A Bedrock InvokeModel client names Claude betas in its body (`anthropic_beta`); the Messages
/// API takes them as the `anthropic-beta` header and refuses the body field, so an Anthropic
/// upstream gets the header, and neither that field nor `anthropic_version` in the body.
#[test]
fn an_invoke_clients_betas_reach_anthropic_as_its_header() {
    // The `anthropic-beta` header and the body an Anthropic upstream got for a Bedrock request.
    let sent = |operation: &str, body: &str| {
        let (up, rx, _h) = fake_upstream(anthropic_answer(), Duration::ZERO);
        let sluice = sluice_with_provider("anthropic", up, "provider-key");
        let path = format!("/bedrock/model/anthropic%2Fclaude-x/{operation}");
        let r = roundtrip(sluice.addr, &post(&path, body));
        assert_eq!(r.status, 200, "{}", r.text());
        let got = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the upstream got the request");
        let beta = got.header("anthropic-beta").map(str::to_string);
        (beta, String::from_utf8_lossy(&got.body).into_owned())
    };
    let (beta, body) = sent(
        "invoke",
        r#"{"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["computer-use-2024-10-22","token-efficient-tools-2025-02-19"],"max_tokens":64,"messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert_eq!(
        beta.as_deref(),
        Some("computer-use-2024-10-22,token-efficient-tools-2025-02-19")
    );
    assert!(
        !body.contains("anthropic_beta") && !body.contains("anthropic_version"),
        "{body}"
    );

    // Converse names them among the model's own fields; a name that is not a token is left out.
    let (beta, body) = sent(
        "converse",
        r#"{"messages":[{"role":"user","content":[{"text":"hi"}]}],"additionalModelRequestFields":{"anthropic_beta":["interleaved-thinking-2025-05-14","bad name\r\nx: 1"]}}"#,
    );
    assert_eq!(beta.as_deref(), Some("interleaved-thinking-2025-05-14"));
    assert!(!body.contains("anthropic_beta"), "{body}");
}

/// google-genai counts tokens with `contents` alone, which names no model: through a provider
/// prefix it goes to a Gemini upstream as sent, audio and all (what `generateContent` with the
/// same contents does), not re-encoded through the chat types, which have no audio.
#[test]
fn a_gemini_count_that_names_no_model_passes_through_as_sent() {
    let answer = r#"{"totalTokens":3}"#;
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
        answer.len()
    );
    let (up, rx, _h) = fake_upstream(response.into_bytes(), Duration::ZERO);
    let sluice = sluice_with_provider("gemini", up, "provider-key");
    let body = r#"{"contents":[{"role":"user","parts":[{"text":"hi"},{"inlineData":{"mimeType":"audio/wav","data":"UklGRg=="}}]}]}"#;
    let r = roundtrip(
        sluice.addr,
        &post("/genai/v1beta/models/gemini/gemini-2.5-flash:countTokens", body),
    );
    assert_eq!((r.status, r.text()), (200, answer.to_string()));
    let got = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the upstream got the request");
    let line = got.head.lines().next().unwrap_or_default();
    assert_eq!(line, "POST /v1beta/models/gemini-2.5-flash:countTokens HTTP/1.1");
    assert_eq!(String::from_utf8_lossy(&got.body), body);
}

/// A Gemini answer, for `fake_upstream`.
fn gemini_answer() -> Vec<u8> {
    let resp_body =
        r#"{"candidates":[{"content":{"parts":[{"text":"hi"}],"role":"model"},"finishReason":"STOP","index":0}]}"#;
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=UTF-8\r\ncontent-length: {}\r\n\r\n{resp_body}",
        resp_body.len()
    )
    .into_bytes()
}

/// An Anthropic answer, for `fake_upstream`.
fn anthropic_answer() -> Vec<u8> {
    let resp_body = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}"#;
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{resp_body}",
        resp_body.len()
    )
    .into_bytes()
}

// Calls fanned out from one request --------------------------------------------------------------

/// A Bedrock Titan embeddings upstream on many connections. Each answer is `[n]` for the text
/// `t<n>`; a text starting with `bad` gets a ValidationException. The first `gate` requests are
/// held until that many are in flight at once (or a second has passed), so calls made one after
/// another never fill the gate. Reports the most requests ever in flight.
fn titan_upstream(gate: usize) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    let l = TcpListener::bind("127.0.0.1:0").expect("bind titan upstream");
    let addr = l.local_addr().unwrap();
    let most = Arc::new(AtomicUsize::new(0));
    let (in_flight, seen) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let most2 = most.clone();
    std::thread::spawn(move || {
        for s in l.incoming().take(64) {
            let Ok(mut s) = s else { return };
            let (in_flight, seen, most) = (in_flight.clone(), seen.clone(), most2.clone());
            std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut buf = Vec::new();
                loop {
                    let Some((_, body)) = read_http_request(&mut s, &mut buf) else {
                        return;
                    };
                    let body: Value = sonic_rs::from_slice(&body).unwrap();
                    let text = at(&body, "inputText").as_str().unwrap_or_default().to_string();
                    let now = in_flight.fetch_add(1, SeqCst) + 1;
                    most.fetch_max(now, SeqCst);
                    if seen.fetch_add(1, SeqCst) < gate {
                        let until = Instant::now() + Duration::from_secs(1);
                        while in_flight.load(SeqCst) < gate && Instant::now() < until {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                    let (status, extra, answer) = match text.strip_prefix('t').and_then(|n| n.parse::<u32>().ok()) {
                        Some(n) if !text.starts_with("bad") => (
                            "200 OK",
                            "",
                            format!(r#"{{"embedding":[{n}.0],"inputTextTokenCount":1}}"#),
                        ),
                        _ => (
                            "400 Bad Request",
                            "x-amzn-ErrorType: ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/\r\n",
                            format!(r#"{{"message":"cannot embed {text}"}}"#),
                        ),
                    };
                    in_flight.fetch_sub(1, SeqCst);
                    let out = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if s.write_all(out.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, most)
}

fn titan_embeddings(texts: &[String]) -> Vec<u8> {
    let body = sonic_rs::json!({"model": "bedrock/amazon.titan-embed-text-v2:0", "input": texts});
    post("/v1/embeddings", &body.to_string())
}

#[test]
fn a_titan_batch_runs_eight_calls_at_once_and_keeps_the_texts_order() {
    use std::sync::atomic::Ordering::SeqCst;
    let (up, most) = titan_upstream(8);
    let sluice = sluice_with_provider("bedrock", up, "k");
    let texts: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
    let r = roundtrip(sluice.addr, &titan_embeddings(&texts));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let got: Vec<(u64, f64)> = at(&v, "data")
        .as_array()
        .expect("data")
        .iter()
        .map(|d| (at_u64(d, "index"), at(d, "embedding.0").as_f64().unwrap()))
        .collect();
    let want: Vec<(u64, f64)> = (0..20).map(|i| (i, i as f64)).collect();
    assert_eq!(got, want, "one vector per text, in the texts' order");
    assert_eq!(at(&v, "usage.prompt_tokens").as_u64(), Some(20));
    // All eight of the first calls were in flight together, and never more than eight.
    assert_eq!(most.load(SeqCst), 8);
}

#[test]
fn a_failed_titan_call_answers_for_the_whole_batch() {
    let (up, _) = titan_upstream(0);
    let sluice = sluice_with_provider("bedrock", up, "k");
    let texts: Vec<String> = ["t0", "t1", "bad2", "t3", "bad4"].map(String::from).to_vec();
    let mut c = Client::connect(sluice.addr);
    let r = c.request(&titan_embeddings(&texts));
    assert_openai_error(&r, 400, "invalid_request_error");
    // The first failure in the texts' order, whichever answered first.
    assert_eq!(at_str(&r.json(), "error.message"), "cannot embed bad2");
    let ok: Vec<String> = vec!["t7".into()];
    let r = c.request(&titan_embeddings(&ok));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(at(&r.json(), "data.0.embedding.0").as_f64(), Some(7.0));
}
