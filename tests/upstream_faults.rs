//! Hostile upstreams: a scripted fake upstream that answers with garbage, 1xx heads, bodies
//! delimited by close, lies about its length, broken chunking, oversized heads, silence, stalls,
//! compressed bodies and connections that die after reading a request. Each case checks what the
//! client sees (status, body, its own error format), that the worker goes on serving, and
//! whether the upstream connection was pooled.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The scripted fake upstream
// ---------------------------------------------------------------------------------------------

/// What the fake upstream does after reading one request.
#[derive(Clone)]
enum Act {
    Write(Vec<u8>),
    Sleep(Duration),
    /// Close the connection now (the rest of this connection's script is skipped).
    Close,
    /// Wait (bounded) for the gateway to close the connection; a close is recorded as a request
    /// line `<closed>`. The rest of the script is skipped.
    AwaitClose,
}

/// One request the fake upstream read: on which connection (0-based, in accept order), its
/// request line, and its body.
#[derive(Debug)]
struct Seen {
    conn: usize,
    line: String,
    body: Vec<u8>,
}

/// Bound on every wait of the fake upstream (accept, read, write, the wait for the peer to close).
const FAKE_WAIT: Duration = Duration::from_secs(5);

struct FakeUpstream {
    addr: SocketAddr,
    seen: mpsc::Receiver<Seen>,
}

impl FakeUpstream {
    /// Every request received so far, waiting up to `settle` for one more to arrive.
    fn requests(&self, settle: Duration) -> Vec<Seen> {
        let mut all: Vec<Seen> = self.seen.try_iter().collect();
        while let Ok(s) = self.seen.recv_timeout(settle) {
            all.push(s);
        }
        all
    }
}

/// Starts a fake upstream on 127.0.0.1 that serves `conns` in order: connection `i` runs script
/// `conns[i]`, one entry per request (read the request, then do the acts). A connection whose
/// script ran out without `Close` stays open (so the gateway may pool it) until the peer closes
/// it; a request beyond the script is recorded and answered with a close. Every wait is bounded
/// by `FAKE_WAIT`, so the thread ends on its own whatever the gateway does.
fn fake_upstream(conns: Vec<Vec<Vec<Act>>>) -> FakeUpstream {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind fake upstream");
    let addr = l.local_addr().unwrap();
    let (tx, seen) = mpsc::channel();
    std::thread::spawn(move || {
        l.set_nonblocking(true).unwrap();
        for (ci, script) in conns.into_iter().enumerate() {
            let deadline = Instant::now() + FAKE_WAIT;
            let mut s = loop {
                match l.accept() {
                    Ok((s, _)) => break s,
                    Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
                    Err(_) => return,
                }
            };
            // Each connection on its own thread: one that holds its socket does not delay the
            // next.
            let tx = tx.clone();
            std::thread::spawn(move || {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(FAKE_WAIT)).unwrap();
                s.set_write_timeout(Some(FAKE_WAIT)).unwrap();
                serve(&mut s, &mut Vec::new(), ci, script, &tx);
            });
        }
    });
    FakeUpstream { addr, seen }
}

fn serve(s: &mut TcpStream, buf: &mut Vec<u8>, ci: usize, script: Vec<Vec<Act>>, tx: &mpsc::Sender<Seen>) {
    for acts in script {
        let Some((line, body)) = read_request(s, buf) else {
            return;
        };
        let _ = tx.send(Seen { conn: ci, line, body });
        for act in acts {
            match act {
                Act::Write(b) => {
                    if s.write_all(&b).is_err() {
                        return;
                    }
                }
                Act::Sleep(d) => std::thread::sleep(d),
                Act::Close => return,
                Act::AwaitClose => {
                    let mut b = [0u8; 1024];
                    loop {
                        match s.read(&mut b) {
                            Ok(0) => {
                                let line = "<closed>".to_string();
                                let _ = tx.send(Seen {
                                    conn: ci,
                                    line,
                                    body: Vec::new(),
                                });
                                return;
                            }
                            Ok(_) => continue,
                            Err(_) => return,
                        }
                    }
                }
            }
        }
    }
    // Script done: hold the connection until the peer closes it (or sends an unscripted
    // request, recorded so that a retry shows).
    if let Some((line, body)) = read_request(s, buf) {
        let _ = tx.send(Seen { conn: ci, line, body });
    }
}

/// Reads one request: its request line and body.
fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let (head, body) = read_http_request(s, buf)?;
    Some((head.lines().next().unwrap_or("").to_string(), body))
}

fn w(b: impl AsRef<[u8]>) -> Act {
    Act::Write(b.as_ref().to_vec())
}

fn ms(n: u64) -> Act {
    Act::Sleep(Duration::from_millis(n))
}

// ---------------------------------------------------------------------------------------------
// Answers and requests
// ---------------------------------------------------------------------------------------------

const OPENAI_ANSWER: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#;

const ANTHROPIC_ANSWER: &str = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"hi there"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":2}}"#;

/// A complete keep-alive JSON answer.
fn ok_json(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn chunk(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

const OPENAI_EVENT: &str = r#"data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#;

/// An Anthropic client's request for `model`.
fn messages(model: &str, stream: bool) -> Vec<u8> {
    post(
        "/anthropic/v1/messages",
        &format!(
            r#"{{"model":{},"max_tokens":16,"stream":{stream},"messages":[{{"role":"user","content":"hi"}}]}}"#,
            js(model)
        ),
    )
}

/// Sluice with an `openai` and an `anthropic` provider at `up`; `provider_extra` goes into both
/// (e.g. timeouts).
fn sluice_at(up: SocketAddr, provider_extra: &str) -> Proc {
    let mut cfg = Cfg::default().render();
    for kind in ["openai", "anthropic"] {
        cfg.push_str(&format!(
            "\n[[providers]]\nname = \"{kind}\"\nkind = \"{kind}\"\nbase_url = \"http://{up}\"\nkeys = [\"k\"]\n{provider_extra}\n"
        ));
    }
    start_sluice(&cfg)
}

/// Pool gauges from sluice's /metrics: (idle, busy).
fn pool(sluice: SocketAddr) -> (f64, f64) {
    let m = metrics_text(sluice);
    let g = |name: &str| metric(&m, name).unwrap_or_else(|| panic!("{name} missing:\n{m}"));
    (g("sluice_pool_idle_connections"), g("sluice_pool_busy_connections"))
}

/// Waits (briefly) for the pool gauges to become `want`, and asserts they do.
fn pool_becomes(sluice: SocketAddr, want: (f64, f64), why: &str) {
    let got = poll(Duration::from_secs(1), || {
        let g = pool(sluice);
        (g == want).then_some(g)
    });
    assert_eq!(got, Some(want), "(idle, busy) {why}: {:?}", pool(sluice));
}

/// Asserts an Anthropic-shaped error with this status; returns its message.
fn assert_anthropic_error(r: &Response, status: u16) -> String {
    assert_eq!(r.status, status, "status; body {:?}", r.text());
    let v = r.json();
    assert_eq!(at_str(&v, "type"), "error", "{}", r.text());
    assert!(!at_str(&v, "error.type").is_empty(), "{}", r.text());
    at_str(&v, "error.message").to_string()
}

/// A relayed OpenAI stream that failed between two events: the rest of it ends with OpenAI's
/// in-stream error (saying `what`), `[DONE]`, and a clean end.
fn expect_stream_error(c: &mut Client, what: &str) {
    let mut last = Vec::new();
    loop {
        match c.try_read_chunk() {
            Ok(Some(chunk)) => last = chunk,
            Ok(None) => break,
            Err(e) => panic!("expected the in-stream error and a clean end, got {e}"),
        }
    }
    let last = String::from_utf8(last).unwrap();
    assert!(
        last.starts_with("data: {\"error\":{\"message\":\"upstream stream failed"),
        "{last}"
    );
    assert!(last.contains(what), "{what}: {last}");
    assert!(last.ends_with("\n\ndata: [DONE]\n\n"), "{last}");
}

// ---------------------------------------------------------------------------------------------
// 1. Not HTTP, or a head cut short
// ---------------------------------------------------------------------------------------------

#[test]
fn a_non_http_answer_is_a_502_in_the_clients_format_and_the_worker_goes_on() {
    let up = fake_upstream(vec![
        // An SSH server: a banner, then it waits for the client's.
        vec![vec![w("SSH-2.0-OpenSSH_9.6\r\n"), ms(3000)]],
        // Both providers share the origin, so its pooled connection serves the next request:
        // the same garbage for an Anthropic client on its own format's provider.
        vec![
            vec![w(ok_json(OPENAI_ANSWER))],
            vec![w("SSH-2.0-OpenSSH_9.6\r\n"), ms(3000)],
        ],
        vec![vec![w(ok_json(ANTHROPIC_ANSWER))]],
    ]);
    let sluice = sluice_at(up.addr, "");
    let mut c = Client::connect(sluice.addr);
    let t = Instant::now();
    let r = c.request(&chat("openai/m", "x"));
    let msg = assert_openai_error(&r, 502, "server_error");
    assert!(msg.contains("invalid upstream response"), "{msg}");
    assert!(t.elapsed() < Duration::from_secs(2), "answered after {:?}", t.elapsed());
    pool_becomes(sluice.addr, (0.0, 0.0), "the garbage connection is closed");
    // Same client connection, next request: a fresh upstream connection answers.
    let r = c.request(&chat("openai/m", "again"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(at_str(&r.json(), "choices.0.message.content"), "hi there");

    let r = c.request(&messages("anthropic/claude", false));
    let msg = assert_anthropic_error(&r, 502);
    assert!(msg.contains("invalid upstream response"), "{msg}");
    let r = c.request(&messages("anthropic/claude", false));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(at_str(&r.json(), "content.0.text"), "hi there");
    let seen = up.requests(Duration::from_millis(100));
    assert_eq!(seen.len(), 4, "each request sent once: {seen:?}");
}

#[test]
fn an_upstream_closing_mid_head_is_a_502_in_the_clients_format() {
    let cut = "HTTP/1.1 200 OK\r\ncontent-type: applica";
    let up = fake_upstream(vec![
        vec![vec![w(cut), ms(50), Act::Close]],
        // Translated: an OpenAI client to the anthropic provider.
        vec![vec![w(cut), ms(50), Act::Close]],
        // An Anthropic client, same format.
        vec![vec![w(cut), ms(50), Act::Close]],
        vec![vec![w(ok_json(OPENAI_ANSWER))]],
    ]);
    let sluice = sluice_at(up.addr, "");
    let r = roundtrip(sluice.addr, &chat("openai/m", "x"));
    let msg = assert_openai_error(&r, 502, "server_error");
    assert!(msg.contains("closed"), "{msg}");
    let r = roundtrip(sluice.addr, &chat("anthropic/claude", "x"));
    assert_openai_error(&r, 502, "server_error");
    let r = roundtrip(sluice.addr, &messages("anthropic/claude", false));
    assert_anthropic_error(&r, 502);
    assert_eq!(roundtrip(sluice.addr, &chat("openai/m", "x")).status, 200);
    // Each request went upstream once.
    assert_eq!(up.requests(Duration::from_millis(100)).len(), 4);
    pool_becomes(sluice.addr, (1.0, 0.0), "only the good connection is pooled");
}

// ---------------------------------------------------------------------------------------------
// 2. 1xx interim answers
// ---------------------------------------------------------------------------------------------

#[test]
fn interim_1xx_answers_are_skipped() {
    let interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n";
    let up = fake_upstream(vec![vec![
        // In one write with the final answer.
        vec![w(format!(
            "{interim}{}",
            String::from_utf8(ok_json(OPENAI_ANSWER)).unwrap()
        ))],
        // In separate writes, the final answer later.
        vec![
            w("HTTP/1.1 100 Continue\r\n\r\n"),
            ms(30),
            w(interim),
            ms(30),
            w(ok_json(OPENAI_ANSWER)),
        ],
        // Translated, and the final head split after a 1xx.
        vec![
            w(interim),
            w(&ok_json(ANTHROPIC_ANSWER)[..20]),
            ms(30),
            w(&ok_json(ANTHROPIC_ANSWER)[20..]),
        ],
        // A stream.
        vec![
            w(interim),
            w(SSE_HEAD),
            w(chunk(&format!("{OPENAI_EVENT}\n\ndata: [DONE]\n\n"))),
            w("0\r\n\r\n"),
        ],
    ]]);
    let sluice = sluice_at(up.addr, "");
    let mut c = Client::connect(sluice.addr);
    for i in 0..2 {
        let r = c.request(&chat("openai/m", "x"));
        assert_eq!(r.status, 200, "{i}: {}", r.text());
        assert_eq!(r.text(), OPENAI_ANSWER, "{i}");
        assert!(r.header("link").is_none(), "a 1xx header leaked: {:?}", r.headers);
    }
    let r = c.request(&chat("anthropic/claude", "x"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(at_str(&r.json(), "choices.0.message.content"), "hi there");
    let r = c.request(&chat_stream("openai/m", "x"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), format!("{OPENAI_EVENT}\n\ndata: [DONE]\n\n"));
    // All four on one upstream connection, which is still pooled.
    let seen = up.requests(Duration::from_millis(50));
    assert_eq!(seen.iter().map(|s| s.conn).collect::<Vec<_>>(), [0, 0, 0, 0]);
    pool_becomes(sluice.addr, (1.0, 0.0), "after 1xx answers");
}

#[test]
fn a_redirect_is_a_502_in_the_clients_format_and_never_relayed() {
    // An upstream that moved (http to https, a renamed path) answers a redirect. Relayed, its
    // `location` sent the client's SDK, which follows redirects, past the gateway to wherever
    // it pointed; translated, it was a 400 that blamed the client's request.
    let redirect = "HTTP/1.1 308 Permanent Redirect\r\nlocation: https://elsewhere.example/v1/chat/completions\r\ncontent-length: 0\r\n\r\n";
    let up = fake_upstream(vec![vec![vec![w(redirect)]], vec![vec![w(redirect)]]]);
    let sluice = sluice_at(up.addr, "");
    let mut c = Client::connect(sluice.addr);
    let r = c.request(&chat("openai/m", "x"));
    let msg = assert_openai_error(&r, 502, "server_error");
    assert!(msg.contains("HTTP 308, a redirect"), "{msg}");
    assert!(r.header("location").is_none(), "relayed: {:?}", r.headers);
    let r = c.request(&messages("openai/m", false));
    let msg = assert_anthropic_error(&r, 502);
    assert!(msg.contains("HTTP 308, a redirect"), "{msg}");
    pool_becomes(sluice.addr, (0.0, 0.0), "a redirect's connection is not pooled");
}

// ---------------------------------------------------------------------------------------------
// 3 and 4. Bodies delimited by close; `Connection: close`
// ---------------------------------------------------------------------------------------------

#[test]
fn a_body_delimited_by_close_is_read_to_the_end_and_not_pooled() {
    let (a, b) = OPENAI_ANSWER.split_at(40);
    let head10 = "HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n";
    // HTTP/1.1 without a length is delimited by close too.
    let head11 = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n";
    let (ta, tb) = ANTHROPIC_ANSWER.split_at(50);
    let up = fake_upstream(vec![
        vec![vec![w(head10), w(a), ms(50), w(b), Act::Close]],
        vec![vec![w(head11), w(a), ms(50), w(b), Act::Close]],
        vec![vec![w(head10), w(ta), ms(50), w(tb), Act::Close]],
        vec![vec![w(ok_json(OPENAI_ANSWER))]],
    ]);
    let sluice = sluice_at(up.addr, "");
    for i in 0..2 {
        let r = roundtrip(sluice.addr, &chat("openai/m", "x"));
        assert_eq!(r.status, 200, "{i}: {}", r.text());
        assert_eq!(r.text(), OPENAI_ANSWER, "{i}: the whole body");
        pool_becomes(sluice.addr, (0.0, 0.0), "after a body delimited by close");
    }
    let r = roundtrip(sluice.addr, &chat("anthropic/claude", "x"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(at_str(&r.json(), "choices.0.message.content"), "hi there");
    assert_eq!(roundtrip(sluice.addr, &chat("openai/m", "x")).status, 200);
    let conns: Vec<usize> = up.requests(Duration::from_millis(50)).iter().map(|s| s.conn).collect();
    assert_eq!(conns, [0, 1, 2, 3], "a new connection after each close-delimited body");
}

#[test]
fn connection_close_is_honoured_even_if_the_upstream_keeps_the_socket_open() {
    let close_json = format!(
        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{OPENAI_ANSWER}",
        OPENAI_ANSWER.len()
    );
    let close_sse = format!(
        "HTTP/1.1 200 OK\r\nConnection: Close\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{}0\r\n\r\n",
        chunk(&format!("{OPENAI_EVENT}\n\ndata: [DONE]\n\n"))
    );
    // The upstream says close but holds the socket: reusing it would hang or fail.
    let up = fake_upstream(vec![
        vec![vec![w(&close_json), ms(1500)]],
        vec![vec![w(&close_sse), ms(1500)]],
        vec![vec![w(ok_json(OPENAI_ANSWER))]],
    ]);
    let sluice = sluice_at(up.addr, "");
    let mut c = Client::connect(sluice.addr);
    let r = c.request(&chat("openai/m", "x"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), OPENAI_ANSWER);
    assert!(
        !r.closes(),
        "the upstream's Connection header is hop-by-hop: {:?}",
        r.headers
    );
    pool_becomes(sluice.addr, (0.0, 0.0), "after Connection: close");
    let r = c.request(&chat_stream("openai/m", "x"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), format!("{OPENAI_EVENT}\n\ndata: [DONE]\n\n"));
    pool_becomes(sluice.addr, (0.0, 0.0), "after a stream with Connection: close");
    let t = Instant::now();
    assert_eq!(c.request(&chat("openai/m", "x")).status, 200);
    assert!(t.elapsed() < Duration::from_secs(1), "took {:?}", t.elapsed());
    let conns: Vec<usize> = up.requests(Duration::from_millis(50)).iter().map(|s| s.conn).collect();
    assert_eq!(conns, [0, 1, 2]);
}

// ---------------------------------------------------------------------------------------------
// 5. Content-Length larger than the body
// ---------------------------------------------------------------------------------------------

#[test]
fn a_body_shorter_than_its_content_length_is_never_passed_off_as_complete() {
    let short = |body: &str| {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len() + 100
        )
    };
    let short_sse =
        format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 5000\r\n\r\n{OPENAI_EVENT}\n\n");
    let up = fake_upstream(vec![
        // Same format, not a stream: buffered, so nothing was sent yet: a 502.
        vec![vec![w(short(OPENAI_ANSWER)), ms(50), Act::Close]],
        // Translated both ways.
        vec![vec![w(short(ANTHROPIC_ANSWER)), ms(50), Act::Close]],
        vec![vec![w(short(OPENAI_ANSWER)), ms(50), Act::Close]],
        // Same-format stream: relayed as it comes, then its in-stream error.
        vec![vec![w(short_sse), ms(50), Act::Close]],
        vec![vec![w(ok_json(OPENAI_ANSWER))]],
    ]);
    let sluice = sluice_at(up.addr, "");
    let r = roundtrip(sluice.addr, &chat("openai/m", "x"));
    let msg = assert_openai_error(&r, 502, "server_error");
    assert!(msg.contains("truncated"), "{msg}");
    let r = roundtrip(sluice.addr, &chat("anthropic/claude", "x"));
    let msg = assert_openai_error(&r, 502, "server_error");
    assert!(msg.contains("truncated"), "{msg}");
    let r = roundtrip(sluice.addr, &messages("openai/m", false));
    let msg = assert_anthropic_error(&r, 502);
    assert!(msg.contains("truncated"), "{msg}");

    let mut c = Client::connect(sluice.addr);
    c.send(&chat_stream("openai/m", "x"));
    assert_eq!(c.read_head().status, 200);
    assert_eq!(
        c.read_chunk().as_deref(),
        Some(format!("{OPENAI_EVENT}\n\n").as_bytes())
    );
    expect_stream_error(&mut c, "truncated");

    assert_eq!(roundtrip(sluice.addr, &chat("openai/m", "x")).status, 200);
    pool_becomes(sluice.addr, (1.0, 0.0), "only the good connection is pooled");
    // The errors before the head are 502 answers; the stream's, after its 200 head, a midstream
    // error (the only one).
    let m = metrics_text(sluice.addr);
    let series = |name: &str, route: &str, status: u16| {
        metric(
            &m,
            &format!(r#"{name}{{route="{route}",provider="openai",status="{status}"}}"#),
        )
    };
    assert_eq!(
        series("sluice_requests_total", "chat_completions", 502),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        series("sluice_requests_total", "chat_completions", 200),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        series("sluice_midstream_errors_total", "chat_completions", 502),
        Some(1.0),
        "{m}"
    );
    assert_eq!(m.matches("sluice_midstream_errors_total{").count(), 1, "{m}");
}

// ---------------------------------------------------------------------------------------------
// 6. Broken chunking
// ---------------------------------------------------------------------------------------------

#[test]
fn broken_chunking_is_an_error_never_a_clean_finish() {
    let chunked_json = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    let ev = format!("{OPENAI_EVENT}\n\n");
    let up = fake_upstream(vec![
        // Not a stream: a bad size line, and a chunk without its CRLF.
        vec![vec![w(format!(
            "{chunked_json}{}zz\r\nhello\r\n0\r\n\r\n",
            chunk("{\"id\":")
        ))]],
        vec![vec![w(format!("{chunked_json}5\r\n{{\"id\"XX0\r\n\r\n"))]],
        // Same-format streams: an event, then the bad framing after a pause: the event is
        // whole, so OpenAI's in-stream error follows it.
        vec![vec![
            w(format!("{SSE_HEAD}{}", chunk(&ev))),
            ms(50),
            w("zz\r\n"),
            ms(1500),
        ]],
        vec![vec![
            w(format!("{SSE_HEAD}{}", chunk(&ev))),
            ms(50),
            w(format!("{:x}\r\n{ev}XY", ev.len())),
            ms(1500),
        ]],
        // Translated stream (Anthropic client, OpenAI upstream): the client's in-stream error.
        vec![vec![
            w(format!("{SSE_HEAD}{}", chunk(&ev))),
            ms(50),
            w("zz\r\n"),
            ms(1500),
        ]],
        vec![vec![w(ok_json(OPENAI_ANSWER))]],
    ]);
    let sluice = sluice_at(up.addr, "");
    for what in ["bad size line", "missing CRLF"] {
        let r = roundtrip(sluice.addr, &chat("openai/m", "x"));
        let msg = assert_openai_error(&r, 502, "server_error");
        assert!(msg.contains("chunk"), "{what}: {msg}");
    }
    for what in ["bad size line", "missing CRLF"] {
        let mut c = Client::connect(sluice.addr);
        c.send(&chat_stream("openai/m", "x"));
        assert_eq!(c.read_head().status, 200, "{what}");
        assert_eq!(c.read_chunk().as_deref(), Some(ev.as_bytes()), "{what}");
        expect_stream_error(&mut c, "chunk");
    }
    let r = roundtrip(sluice.addr, &messages("openai/m", true));
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.contains("event: error"), "{text}");
    assert!(text.contains("chunk"), "{text}");
    assert!(!text.contains("message_stop"), "{text}");

    let t = Instant::now();
    assert_eq!(roundtrip(sluice.addr, &chat("openai/m", "x")).status, 200);
    assert!(t.elapsed() < Duration::from_secs(1), "took {:?}", t.elapsed());
    pool_becomes(sluice.addr, (1.0, 0.0), "only the good connection is pooled");
}

// ---------------------------------------------------------------------------------------------
// 7. An oversized head
// ---------------------------------------------------------------------------------------------

#[test]
fn an_oversized_head_is_a_502_with_bounded_memory() {
    let big = |n: usize| format!("HTTP/1.1 200 OK\r\nx-big: {}\r\n\r\n{{}}", "a".repeat(n));
    let many: String = (0..1000).map(|i| format!("x-h{i}: v\r\n")).collect();
    let many = format!("HTTP/1.1 200 OK\r\n{many}content-length: 2\r\n\r\n{{}}");
    let endless: String = "x-more: ".to_string() + &"b".repeat(64 * 1024);
    let up = fake_upstream(vec![
        vec![vec![w(big(1 << 20)), ms(500)]],
        // Over the 64 KiB limit, yet small enough to arrive whole in one read.
        vec![vec![w(big(70_000)), ms(500)]],
        vec![vec![w(&many), ms(500)]],
        // A head that never ends, sent in pieces.
        vec![vec![
            w("HTTP/1.1 200 OK\r\n"),
            w(&endless),
            ms(20),
            w(&endless),
            ms(20),
            w(&endless),
            ms(500),
        ]],
        vec![vec![w(big(16 << 20)), ms(500)]],
        vec![vec![w(ok_json(OPENAI_ANSWER))]],
    ]);
    let sluice = sluice_at(up.addr, "");
    let peak_kib = || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", sluice.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let mut before = 0;
    for what in [
        "1 MiB header",
        "70 KB header",
        "1000 headers",
        "endless head",
        "16 MiB header",
    ] {
        if what.starts_with("16") {
            // The first oversized heads paid for the error path's one-time allocations.
            before = peak_kib();
        }
        let t = Instant::now();
        let r = roundtrip(sluice.addr, &chat("openai/m", "x"));
        assert_eq!(r.status, 502, "{what}: {}", r.text());
        let msg = assert_openai_error(&r, 502, "server_error");
        assert!(msg.contains("invalid upstream response"), "{what}: {msg}");
        assert!(t.elapsed() < Duration::from_secs(2), "{what}: took {:?}", t.elapsed());
    }
    // The head is read up to its 64 KiB limit, not to its end: a 16 MiB head costs nothing more.
    let grown = peak_kib().saturating_sub(before);
    assert!(grown < 1024, "peak RSS grew by {grown} KiB on a 16 MiB head");
    assert_eq!(roundtrip(sluice.addr, &chat("openai/m", "x")).status, 200);
}

// ---------------------------------------------------------------------------------------------
// 8 and 9. Silence and stalls
// ---------------------------------------------------------------------------------------------

#[test]
fn an_upstream_that_never_answers_is_a_prompt_504() {
    let silent = vec![vec![ms(3000)]];
    let up = fake_upstream(vec![
        silent.clone(),
        silent.clone(),
        silent.clone(),
        silent,
        vec![vec![w(ok_json(OPENAI_ANSWER))]],
    ]);
    let sluice = sluice_at(up.addr, "first_byte_timeout_ms = 300");
    let timed = |req: Vec<u8>| {
        let t = Instant::now();
        let r = roundtrip(sluice.addr, &req);
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_millis(1500),
            "took {took:?}"
        );
        r
    };
    let msg = assert_openai_error(&timed(chat("openai/m", "x")), 504, "server_error");
    assert!(msg.contains("did not answer in time"), "{msg}");
    assert_openai_error(&timed(chat_stream("openai/m", "x")), 504, "server_error");
    assert_anthropic_error(&timed(messages("anthropic/claude", false)), 504);
    assert_anthropic_error(&timed(messages("openai/m", true)), 504);
    assert_eq!(roundtrip(sluice.addr, &chat("openai/m", "x")).status, 200);
    // A timed-out request is not retried elsewhere or again.
    assert_eq!(up.requests(Duration::from_millis(50)).len(), 5);
    pool_becomes(sluice.addr, (1.0, 0.0), "the silent connections are closed");
}

/// An OpenAI JSON answer's head and its first 30 bytes, the rest never sent.
fn stalled_json() -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
        OPENAI_ANSWER.len(),
        &OPENAI_ANSWER[..30]
    )
}

/// Asserts that `t` was at least `lo` and less than `hi` milliseconds ago.
fn took_between(t: Instant, lo: u64, hi: u64) {
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(lo) && took < Duration::from_millis(hi),
        "took {took:?}"
    );
}

/// The next two upstream answers stall: a JSON body (a 504 saying `what`), then a stream after
/// its first event (that event, then the in-stream error saying `what`). Each ends within
/// `lo..hi` ms.
fn stalls_end_in_time(sluice: SocketAddr, what: &str, (lo, hi): (u64, u64)) {
    let t = Instant::now();
    let msg = assert_openai_error(&roundtrip(sluice, &chat("openai/m", "x")), 504, "server_error");
    assert!(msg.contains(what), "{msg}");
    took_between(t, lo, hi);

    let t = Instant::now();
    let mut c = Client::connect(sluice);
    c.send(&chat_stream("openai/m", "x"));
    assert_eq!(c.read_head().status, 200);
    assert!(c.read_chunk().is_some());
    expect_stream_error(&mut c, what);
    took_between(t, lo, hi);
}

#[test]
fn a_body_that_stalls_ends_at_the_total_timeout() {
    let stalled_json = stalled_json();
    let anthropic_start = r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}"#;
    let up = fake_upstream(vec![
        vec![vec![w(&stalled_json), ms(3000)]],
        vec![vec![
            w(format!("{SSE_HEAD}{}", chunk(&format!("{OPENAI_EVENT}\n\n")))),
            ms(3000),
        ]],
        // Translated stream: the head and a first event, then nothing.
        vec![vec![
            w(format!(
                "{SSE_HEAD}{}",
                chunk(&format!("event: message_start\ndata: {anthropic_start}\n\n"))
            )),
            ms(3000),
        ]],
        vec![vec![w(ok_json(OPENAI_ANSWER))]],
    ]);
    let sluice = sluice_at(up.addr, "total_timeout_ms = 600");
    stalls_end_in_time(sluice.addr, "timed out", (500, 2000));

    // Translated: either a 504 before anything was sent, or the in-stream error; never a finish.
    let t = Instant::now();
    let r = roundtrip(sluice.addr, &chat_stream("anthropic/claude", "x"));
    took_between(t, 500, 2000);
    if r.status == 200 {
        let text = r.text();
        assert!(text.contains("\"error\""), "{text}");
        assert!(text.contains("timed out"), "{text}");
        assert!(!text.contains("\"finish_reason\":\"stop\""), "{text}");
    } else {
        assert_openai_error(&r, 504, "server_error");
    }

    assert_eq!(roundtrip(sluice.addr, &chat("openai/m", "x")).status, 200);
    pool_becomes(sluice.addr, (1.0, 0.0), "the stalled connections are closed");
}

/// An upstream silent for `body_idle_timeout_ms` in the middle of its answer is given up on then,
/// long before the total timeout (600 s here); one that keeps sending, however slowly, is not.
#[test]
fn a_body_silent_for_the_idle_timeout_ends_then_but_a_slow_steady_one_does_not() {
    let event = chunk(&format!("{OPENAI_EVENT}\n\n"));
    // Six events 300 ms apart: 1.8 s in all, more than three idle timeouts end to end.
    let mut steady = vec![w(SSE_HEAD)];
    for _ in 0..6 {
        steady.extend([w(&event), ms(300)]);
    }
    steady.push(w(format!("{}0\r\n\r\n", chunk("data: [DONE]\n\n"))));
    let up = fake_upstream(vec![
        vec![vec![w(stalled_json()), ms(3000)]],
        vec![vec![w(format!("{SSE_HEAD}{event}")), ms(3000)]],
        vec![steady, vec![w(ok_json(OPENAI_ANSWER))]],
    ]);
    let sluice = sluice_at(up.addr, "body_idle_timeout_ms = 500\ntotal_timeout_ms = 600000");
    stalls_end_in_time(sluice.addr, "sent nothing for 500 ms", (450, 2000));

    let r = roundtrip(sluice.addr, &chat_stream("openai/m", "x"));
    assert_eq!(r.status, 200);
    let text = r.text();
    assert_eq!(text.matches(r#""content":"hi""#).count(), 6, "{text}");
    assert!(text.ends_with("data: [DONE]\n\n") && !text.contains("error"), "{text}");
    // The steady stream's connection was pooled, and serves the next request.
    assert_eq!(roundtrip(sluice.addr, &chat("openai/m", "x")).status, 200);
    assert_eq!(up.requests(Duration::from_millis(50)).len(), 4);
    pool_becomes(sluice.addr, (1.0, 0.0), "the silent connections are closed");
}

#[test]
fn a_streams_late_end_is_waited_for_briefly_then_pooled_or_closed() {
    // The upstream's end of body (the last chunk) usually comes with its last event. When it
    // comes later, the client's end waits for it a little, so the connection can be pooled:
    // within the wait, pooled; past it, the client's stream still ends at once and the
    // upstream connection is closed, never pooled half-read.
    let anthropic_events = [
        r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}"#,
        r#"event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        r#"event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"#,
        r#"event: content_block_stop
data: {"type":"content_block_stop","index":0}"#,
        r#"event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}"#,
        r#"event: message_stop
data: {"type":"message_stop"}"#,
    ]
    .map(|e| format!("{e}\n\n"))
    .concat();
    let relayed = format!("{SSE_HEAD}{}", chunk(&format!("{OPENAI_EVENT}\n\ndata: [DONE]\n\n")));
    let translated = format!("{SSE_HEAD}{}", chunk(&anthropic_events));
    let end = "0\r\n\r\n";
    let up = fake_upstream(vec![
        // Ends 20 ms after the last event, within the wait: one connection for the first three;
        // then 400 ms late, past it: closed.
        vec![
            vec![w(&relayed), ms(20), w(end)],
            vec![w(&translated), ms(20), w(end)],
            vec![w(ok_json(OPENAI_ANSWER))],
            vec![w(&relayed), ms(400), w(end)],
        ],
        vec![vec![w(&translated), ms(400), w(end)]],
        vec![vec![w(ok_json(OPENAI_ANSWER))]],
    ]);
    let sluice = sluice_at(up.addr, "");
    let mut c = Client::connect(sluice.addr);
    let check = |c: &mut Client, late: bool| {
        let t = Instant::now();
        let r = c.request(&chat_stream("openai/m", "x"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.text(), format!("{OPENAI_EVENT}\n\ndata: [DONE]\n\n"));
        let t2 = Instant::now();
        let r = c.request(&chat_stream("anthropic/claude", "x"));
        assert_eq!(r.status, 200, "{}", r.text());
        let text = r.text();
        assert!(text.contains(r#""content":"hi""#), "{text}");
        assert!(text.contains(r#""finish_reason":"stop""#), "{text}");
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        if late {
            // The client is not held for the upstream's late end.
            for (what, took) in [("relayed", t2 - t), ("translated", t2.elapsed())] {
                assert!(took < Duration::from_millis(300), "{what} took {took:?}");
            }
        }
    };
    check(&mut c, false);
    assert_eq!(c.request(&chat("openai/m", "x")).status, 200);
    pool_becomes(sluice.addr, (1.0, 0.0), "after ends within the wait");
    check(&mut c, true);
    assert_eq!(c.request(&chat("openai/m", "x")).status, 200);
    let conns: Vec<usize> = up.requests(Duration::from_millis(50)).iter().map(|s| s.conn).collect();
    assert_eq!(conns, [0, 0, 0, 0, 1, 2], "late ends: not pooled");
}

// ---------------------------------------------------------------------------------------------
// 10. Compressed answers
// ---------------------------------------------------------------------------------------------

/// The start of a gzip member (magic, deflate, no flags) and some deflated-looking bytes.
const GZIP_BYTES: &[u8] = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xab\x56\xca\x4c\x51\xb2\x52\x32\x54\xaa\x05\x00";

fn gzip_answer(status: &str, content_type: &str) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
        GZIP_BYTES.len()
    )
    .into_bytes();
    v.extend_from_slice(GZIP_BYTES);
    v
}

#[test]
fn a_compressed_answer_across_formats_is_a_clear_502() {
    let up = fake_upstream(vec![
        // A refused answer's connection is closed (its body is not worth draining).
        vec![vec![w(gzip_answer("200 OK", "application/json"))]],
        vec![vec![w(gzip_answer("200 OK", "text/event-stream"))]],
        vec![vec![w(gzip_answer("200 OK", "application/json"))]],
        // An error answer keeps its status; its unreadable body is not shown as text. It is
        // read whole, so its connection serves the next request.
        vec![
            vec![w(gzip_answer("429 Too Many Requests", "application/json"))],
            vec![w(ok_json(ANTHROPIC_ANSWER))],
        ],
    ]);
    let sluice = sluice_at(up.addr, "");
    let mut c = Client::connect(sluice.addr);
    let r = c.request(&chat("anthropic/claude", "x"));
    let msg = assert_openai_error(&r, 502, "server_error");
    assert!(msg.contains("Content-Encoding gzip"), "{msg}");
    let r = c.request(&chat_stream("anthropic/claude", "x"));
    let msg = assert_openai_error(&r, 502, "server_error");
    assert!(msg.contains("Content-Encoding gzip"), "{msg}");
    let r = c.request(&messages("openai/m", false));
    let msg = assert_anthropic_error(&r, 502);
    assert!(msg.contains("Content-Encoding gzip"), "{msg}");
    let r = c.request(&chat("anthropic/claude", "x"));
    let msg = assert_openai_error(&r, 429, "rate_limit_error");
    assert!(!msg.contains('\u{fffd}') && !msg.contains('\u{1f}'), "{msg:?}");
    assert_eq!(c.request(&chat("anthropic/claude", "x")).status, 200);
    let conns: Vec<usize> = up.requests(Duration::from_millis(50)).iter().map(|s| s.conn).collect();
    assert_eq!(conns, [0, 1, 2, 3, 3], "each sent once");
}

/// On the same-format path the answer is relayed as it came, header and bytes: the client's SDK
/// sees `content-encoding: gzip` and can decode it (Sluice asked for identity; the upstream
/// ignored that, and re-encoding would hide nothing the client cannot handle).
#[test]
fn a_compressed_answer_in_the_same_format_is_relayed_as_is() {
    let up = fake_upstream(vec![vec![vec![w(gzip_answer("200 OK", "application/json"))]]]);
    let sluice = sluice_at(up.addr, "");
    let r = roundtrip(sluice.addr, &chat("openai/m", "x"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.body, GZIP_BYTES);
}

/// A compressed stream in the same format too: its end marker cannot be seen in the bytes, so
/// the body's own end is the stream's (never reported as cut short).
#[test]
fn a_compressed_stream_in_the_same_format_is_relayed_to_its_end() {
    let up = fake_upstream(vec![vec![vec![w(gzip_answer("200 OK", "text/event-stream"))]]]);
    let sluice = sluice_at(up.addr, "");
    let mut c = Client::connect(sluice.addr);
    c.send(&chat_stream("openai/m", "x"));
    let head = c.read_head();
    assert_eq!(head.status, 200);
    let mut body = Vec::new();
    while let Some(chunk) = c.try_read_chunk().expect("a clean end, not a cut body") {
        body.extend_from_slice(&chunk);
    }
    assert_eq!(body, GZIP_BYTES);
}

// ---------------------------------------------------------------------------------------------
// 11. A pooled connection that dies after reading the next request
// ---------------------------------------------------------------------------------------------

/// The standard safe-retry rule: a request goes again (once, on a fresh connection) only when
/// it went on a reused connection and not a single byte came back, which is how a connection
/// the upstream closed while idle looks. Any byte back (even a `100 Continue`) means the upstream
/// may have acted on it: the client gets a 502 instead of a second copy upstream.
#[test]
fn a_reused_connection_dying_before_any_answer_byte_is_retried_once() {
    let up = fake_upstream(vec![
        vec![vec![w(ok_json(OPENAI_ANSWER))], vec![Act::Close]],
        vec![vec![w(ok_json(OPENAI_ANSWER))]],
    ]);
    let sluice = sluice_at(up.addr, "");
    let mut c = Client::connect(sluice.addr);
    assert_eq!(c.request(&chat("openai/m", "one")).status, 200);
    pool_becomes(sluice.addr, (1.0, 0.0), "after the first answer");
    let r = c.request(&chat("openai/m", "two"));
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = up.requests(Duration::from_millis(50));
    let got: Vec<(usize, bool)> = seen
        .iter()
        .map(|s| (s.conn, String::from_utf8_lossy(&s.body).contains("two")))
        .collect();
    assert_eq!(got, [(0, false), (0, true), (1, true)], "{seen:?}");
}

#[test]
fn a_reused_connection_dying_after_an_answer_byte_is_not_retried() {
    for (what, partial) in [
        ("a partial head", "HTTP/1.1 200 OK\r\n"),
        ("an interim 100", "HTTP/1.1 100 Continue\r\n\r\n"),
    ] {
        let up = fake_upstream(vec![
            vec![vec![w(ok_json(OPENAI_ANSWER))], vec![w(partial), ms(30), Act::Close]],
            vec![vec![w(ok_json(OPENAI_ANSWER))]],
        ]);
        let sluice = sluice_at(up.addr, "");
        let mut c = Client::connect(sluice.addr);
        assert_eq!(c.request(&chat("openai/m", "one")).status, 200, "{what}");
        pool_becomes(sluice.addr, (1.0, 0.0), "after the first answer");
        let r = c.request(&chat("openai/m", "two"));
        assert_eq!(r.status, 502, "{what}: {}", r.text());
        assert_openai_error(&r, 502, "server_error");
        let seen = up.requests(Duration::from_millis(100));
        assert_eq!(seen.len(), 2, "{what}: the second request went once: {seen:?}");
        // The client connection and the worker go on.
        assert_eq!(c.request(&chat("openai/m", "three")).status, 200, "{what}");
    }
}

#[test]
fn a_fresh_connection_dying_before_any_answer_byte_is_a_502_without_retry() {
    let up = fake_upstream(vec![vec![vec![Act::Close]], vec![vec![w(ok_json(OPENAI_ANSWER))]]]);
    let sluice = sluice_at(up.addr, "");
    let r = roundtrip(sluice.addr, &chat("openai/m", "x"));
    let msg = assert_openai_error(&r, 502, "server_error");
    assert!(msg.contains("closed"), "{msg}");
    let seen = up.requests(Duration::from_millis(100));
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].line, "POST /v1/chat/completions HTTP/1.1");
}

/// An upstream may refuse a body before reading it all (a 413 for one too large) and close with
/// the rest unread: Sluice's write then fails (a reset), but the answer came before it and is the
/// one the client gets, not a 502 for the reset.
#[test]
fn an_answer_given_before_the_whole_body_was_read_is_relayed() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind fake upstream");
    let up = l.local_addr().unwrap();
    let refusal = r#"{"type":"error","error":{"type":"request_too_large","message":"too big"}}"#;
    let answer = format!(
        "HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{refusal}",
        refusal.len()
    );
    std::thread::spawn(move || {
        let Ok((mut s, _)) = l.accept() else { return };
        s.set_read_timeout(Some(FAKE_WAIT)).unwrap();
        // The head alone is read, byte by byte, so no byte of the body is.
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).is_ok_and(|n| n == 1) {
            head.push(b[0]);
        }
        let _ = s.write_all(answer.as_bytes());
        std::thread::sleep(Duration::from_millis(50));
    });
    let sluice = sluice_at(up, "");
    let body = format!(
        r#"{{"model":"anthropic/claude","max_tokens":16,"messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(8 << 20)
    );
    let r = roundtrip(sluice.addr, &post("/anthropic/v1/messages", &body));
    assert_eq!((r.status, r.text()), (413, refusal.to_string()));
}

/// An upstream that accepts a request but never reads it: once the socket buffers are full the
/// gateway's write cannot finish. The write is bounded like the wait for the head
/// (`first_byte_timeout_ms`): a prompt 504, not a client held until the upstream lets go.
#[test]
fn an_upstream_that_never_reads_the_request_is_a_prompt_504() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind fake upstream");
    let up = l.local_addr().unwrap();
    let (closed_tx, closed) = mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..2 {
            let Ok((mut s, _)) = l.accept() else { return };
            let closed_tx = closed_tx.clone();
            std::thread::spawn(move || {
                // Nothing is read until the gateway gives up: then the read sees its close (or
                // the reset of a socket closed with unread bytes), unless FAKE_WAIT passes first.
                std::thread::sleep(Duration::from_millis(3000));
                s.set_read_timeout(Some(FAKE_WAIT)).unwrap();
                let mut b = vec![0u8; 1 << 20];
                let t = Instant::now();
                let gone = loop {
                    match s.read(&mut b) {
                        Ok(0) | Err(_) => break t.elapsed() < FAKE_WAIT,
                        Ok(_) => {}
                    }
                };
                let _ = closed_tx.send(gone);
            });
        }
    });
    let sluice = sluice_at(up, "first_byte_timeout_ms = 400");
    // Larger than what the kernel buffers on both sides of a loopback connection take in.
    let big = "x".repeat(12 << 20);
    for req in [
        chat("openai/m", &big),
        post(
            "/anthropic/v1/messages",
            &format!(r#"{{"model":"openai/m","max_tokens":16,"messages":[{{"role":"user","content":"{big}"}}]}}"#),
        ),
    ] {
        let t = Instant::now();
        let r = roundtrip(sluice.addr, &req);
        let took = t.elapsed();
        assert_eq!(r.status, 504, "{}", r.text());
        assert!(took < Duration::from_millis(2500), "took {took:?}");
    }
    // Both upstream connections were closed, not kept for another request.
    for _ in 0..2 {
        assert_eq!(closed.recv_timeout(FAKE_WAIT * 2), Ok(true));
    }
    pool_becomes(sluice.addr, (0.0, 0.0), "the stuck connections are closed");
}

/// A server may write to an idle keep-alive connection before closing it (a `408` at its idle
/// timeout). Those bytes answer nothing Sluice asked: the connection is checked when it comes
/// out of the pool after sitting idle, and the request goes on a fresh one.
#[test]
fn bytes_an_idle_pooled_connection_received_unasked_are_not_taken_as_the_answer() {
    let timeout_408 = "HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\ncontent-length: 7\r\nconnection: close\r\n\r\ntimeout";
    let up = fake_upstream(vec![
        vec![vec![w(ok_json(OPENAI_ANSWER)), ms(300), w(timeout_408), Act::Close]],
        vec![vec![w(ok_json(OPENAI_ANSWER))]],
    ]);
    let sluice = sluice_at(up.addr, "");
    let mut c = Client::connect(sluice.addr);
    assert_eq!(c.request(&chat("openai/m", "one")).status, 200);
    pool_becomes(sluice.addr, (1.0, 0.0), "after the first answer");
    std::thread::sleep(Duration::from_millis(700));
    let r = c.request(&chat("openai/m", "two"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(at_str(&r.json(), "choices.0.message.content"), "hi there");
    let seen = up.requests(Duration::from_millis(50));
    let got: Vec<(usize, bool)> = seen
        .iter()
        .map(|s| (s.conn, String::from_utf8_lossy(&s.body).contains("two")))
        .collect();
    assert_eq!(got, [(0, false), (1, true)], "{seen:?}");
}

/// Bytes a confused upstream writes after its answer's end (a body longer than its
/// `content-length`, in a later packet) answer nothing: a connection reused at once, before any
/// idle time, is checked all the same, so the next request (another client's, maybe) never gets
/// them as its answer.
#[test]
fn bytes_after_an_answer_are_never_the_next_requests_answer() {
    let stray = ok_json(&OPENAI_ANSWER.replace("hi there", "someone else's answer"));
    let up = fake_upstream(vec![
        vec![vec![w(ok_json(OPENAI_ANSWER)), ms(20), w(stray)]],
        vec![vec![w(ok_json(OPENAI_ANSWER))]],
    ]);
    let sluice = sluice_at(up.addr, "");
    let mut c = Client::connect(sluice.addr);
    assert_eq!(c.request(&chat("openai/m", "one")).status, 200);
    pool_becomes(sluice.addr, (1.0, 0.0), "after the first answer");
    std::thread::sleep(Duration::from_millis(60));
    let r = c.request(&chat("openai/m", "two"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(at_str(&r.json(), "choices.0.message.content"), "hi there");
    let seen = up.requests(Duration::from_millis(50));
    let conns: Vec<usize> = seen.iter().map(|s| s.conn).collect();
    assert_eq!(conns, [0, 1], "{seen:?}");
}

/// A client that hangs up while its upstream call runs (an SDK's timeout) takes the call with it:
/// the upstream connection is closed, so the upstream stops generating for nobody. Non-stream
/// same-format and translated requests, and a stream still waiting for its head.
#[test]
fn a_client_hanging_up_while_the_upstream_works_closes_the_upstream_call() {
    let cases: [(&str, Vec<u8>); 3] = [
        ("same-format", chat("openai/m", "x")),
        ("translated", chat("anthropic/m", "x")),
        ("stream before its head", chat_stream("openai/m", "x")),
    ];
    for (what, request) in cases {
        let up = fake_upstream(vec![vec![vec![Act::AwaitClose]]]);
        let sluice = sluice_at(up.addr, "");
        let mut c = Client::connect(sluice.addr);
        c.send(&request);
        let seen = up.requests(Duration::from_millis(300));
        assert_eq!(seen.len(), 1, "{what}: the request went upstream: {seen:?}");
        let hung_up = Instant::now();
        drop(c);
        let closed = up.requests(Duration::from_secs(2));
        assert!(
            closed.iter().any(|s| s.line == "<closed>"),
            "{what}: the upstream connection stayed open after the client left: {closed:?}"
        );
        assert!(
            hung_up.elapsed() < Duration::from_secs(2),
            "{what}: {:?}",
            hung_up.elapsed()
        );
        pool_becomes(sluice.addr, (0.0, 0.0), "after the hang-up");
        let m = metrics_text(sluice.addr);
        assert!(
            m.contains("status=\"499\"} 1"),
            "{what}: counted as a client abort:\n{m}"
        );
    }
}

/// The watch is for hang-ups only: a client that keeps its connection open gets its slow answer.
#[test]
fn a_client_that_waits_gets_a_slow_answer() {
    let up = fake_upstream(vec![vec![vec![ms(1200), w(ok_json(OPENAI_ANSWER))]]]);
    let sluice = sluice_at(up.addr, "");
    let r = roundtrip(sluice.addr, &chat("openai/m", "x"));
    assert_eq!(r.status, 200, "{}", r.text());
    pool_becomes(sluice.addr, (1.0, 0.0), "after the answer");
}

// ---------------------------------------------------------------------------------------------
// 12. Answers that do not match what was asked
// ---------------------------------------------------------------------------------------------

/// An embeddings batch split into calls (Cohere takes 96 texts per call) must get one vector per
/// text from each call. Here every call is answered with 49 vectors: 98 texts become calls of 96
/// and 2, whose answers add up to 98 vectors, the right number in the wrong places. Each call is
/// checked on its own, so the client gets a 502 that says so, not misplaced vectors.
#[test]
fn an_embeddings_call_answered_with_the_wrong_number_of_vectors_is_a_502() {
    let vectors = vec!["[0.5]"; 49].join(",");
    let answer = ok_json(&format!(
        r#"{{"id":"e1","response_type":"embeddings_by_type","embeddings":{{"float":[{vectors}]}},"meta":{{"billed_units":{{"input_tokens":1}}}}}}"#
    ));
    let up = fake_upstream(vec![vec![vec![w(&answer)]], vec![vec![w(&answer)]]]);
    let mut cfg = Cfg::default().render();
    cfg.push_str(&format!(
        "\n[[providers]]\nname = \"cohere\"\nkind = \"cohere\"\nbase_url = \"http://{}\"\nkeys = [\"k\"]\n",
        up.addr
    ));
    let sluice = start_sluice(&cfg);
    let texts: Vec<String> = (0..98).map(|i| js(&format!("text {i}"))).collect();
    let body = format!(
        r#"{{"model":"cohere/embed-v4.0","input":[{}],"encoding_format":"float"}}"#,
        texts.join(",")
    );
    let mut c = Client::connect(sluice.addr);
    let r = c.request(&post("/v1/embeddings", &body));
    let msg = assert_openai_error(&r, 502, "server_error");
    assert!(msg.contains("has 49 vectors for 96 inputs"), "{msg}");
    let sent: Vec<String> = up
        .requests(Duration::from_millis(50))
        .into_iter()
        .map(|s| s.line)
        .collect();
    assert_eq!(sent.len(), 2, "two calls: {sent:?}");
    assert!(sent.iter().all(|l| l.starts_with("POST /v2/embed ")), "{sent:?}");
}
