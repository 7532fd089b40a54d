//! `sluice-streamload`: many concurrent SSE streams against one target, measuring what wrk
//! cannot: time to the first event, each event's latency, streams that stall, and (with `--pid`)
//! the target's memory per open stream and CPU per event. Used by `scripts/bench.sh` for the
//! streaming scenario.
//!
//!   sluice-streamload --addr 127.0.0.1:8080 --model openai/gpt-4o-mini --streams 1000 \
//!       [--probes 200] [--pid P] [--upstream ADDR --chunks N --delay-ms D] [--tap 1]
//!
//! 1. `--streams` streams are opened (one connection each, an OpenAI `stream: true` chat request
//!    with `connection: close`, read to EOF), spread evenly over `--ramp-ms` (by default one
//!    event spacing), as independent clients would: opened at once, all of them would deliver
//!    their events in the same instant, one burst per spacing. Once every one has its first
//!    event, the target's RSS is sampled (`--pid`).
//! 2. With all of them still open, `--probes` further streams are opened one after another; the
//!    time from connect to their first event is the time to first byte under that load. A probe
//!    hangs up after its first event.
//! 3. Against `sluice-mock --stamp`, every text piece is the time the mock wrote it (16 digits,
//!    microseconds since the epoch): receive time minus that is the event's latency end to end.
//!
//! With `--upstream ADDR`, the tool also serves a paced, stamped upstream itself (OpenAI chat
//! chunks on `/v1/chat/completions`, Anthropic events on `/v1/messages`; `--chunks` text events
//! `--delay-ms` apart, on a fixed schedule from the first), on the same thread as the client: an
//! event's latency is then measured between two points of one process, and the direct baseline
//! (`--addr` = the upstream itself) is the loopback alone. `--warmup N` first runs N streams
//! unmeasured.
//!
//! With `--tap 1` (and a gateway between `--addr` and `--upstream`), a packet tap on `lo`
//! (`tap.rs`) also measures the time the gateway itself holds each event and each probe, from the
//! kernel's transmit timestamps: the client's view includes this tool's own scheduling, which on
//! one loaded thread can be larger than the gateway's part.
//!
//! A stream is complete when `data: [DONE]` arrived; one still open after `--timeout-s` counts as
//! stalled. Output: a readable summary, then one `RESULT` line of key=value pairs (microseconds).

mod tap;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[derive(Default)]
struct StreamStats {
    /// Time to first event of the probe streams.
    probe_ttfb_us: Vec<u64>,
    /// Latency of every stamped event (receive time - the mock's write time).
    event_us: Vec<u64>,
    events: u64,
    complete: u64,
    stalled: u64,
    errors: u64,
}

struct Args {
    addr: SocketAddr,
    model: String,
    streams: usize,
    probes: usize,
    timeout: Duration,
    pid: Option<u32>,
    upstream: Option<SocketAddr>,
    chunks: usize,
    delay: Duration,
    warmup: usize,
    ramp: Option<Duration>,
    tap: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        addr: "127.0.0.1:8080".parse().unwrap(),
        model: "openai/gpt-4o-mini".into(),
        streams: 100,
        probes: 200,
        timeout: Duration::from_secs(60),
        pid: None,
        upstream: None,
        chunks: 100,
        delay: Duration::from_millis(50),
        warmup: 0,
        ramp: None,
        tap: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        let bad = |_| format!("bad value for {k}: {v}");
        match k.as_str() {
            "--addr" => a.addr = v.parse().map_err(|_| format!("bad --addr {v}"))?,
            "--model" => a.model = v,
            "--streams" => a.streams = v.parse().map_err(bad)?,
            "--probes" => a.probes = v.parse().map_err(bad)?,
            "--timeout-s" => a.timeout = Duration::from_secs(v.parse().map_err(bad)?),
            "--pid" => a.pid = Some(v.parse().map_err(bad)?),
            "--upstream" => a.upstream = Some(v.parse().map_err(|_| format!("bad --upstream {v}"))?),
            "--chunks" => a.chunks = v.parse().map_err(bad)?,
            "--delay-ms" => a.delay = Duration::from_millis(v.parse().map_err(bad)?),
            "--warmup" => a.warmup = v.parse().map_err(bad)?,
            "--tap" => a.tap = v != "0",
            "--ramp-ms" => a.ramp = Some(Duration::from_millis(v.parse().map_err(bad)?)),
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    Ok(a)
}

/// Resident set size of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time (user, system) a process has used, in microseconds.
fn cpu_us(pid: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`, which may contain spaces: utime and stime are the 12th and 13th.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let (user, sys): (u64, u64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some((user * 1_000_000 / hz, sys * 1_000_000 / hz))
}

fn request(addr: SocketAddr, model: &str) -> Vec<u8> {
    let body = format!(
        r#"{{"model":"{model}","stream":true,"stream_options":{{"include_usage":true}},"messages":[{{"role":"user","content":"Write one short sentence about load testing streams please, with some words in it."}}]}}"#
    );
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nauthorization: Bearer sk-load\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The stamps in a piece of a stream: 16 digits in quotes after `"content":"` (OpenAI) or
/// `"text":"` (Anthropic).
fn stamps(piece: &[u8], mut f: impl FnMut(u64)) {
    for key in [&b"\"content\":\""[..], &b"\"text\":\""[..]] {
        for i in memchr::memmem::find_iter(piece, key) {
            let v = &piece[i + key.len()..];
            if v.len() > 16 && v[16] == b'"' && v[..16].iter().all(u8::is_ascii_digit) {
                f(v[..16].iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')));
            }
        }
    }
}

/// How one stream went.
struct Outcome {
    ttfb_us: u64,
    events: u64,
    complete: bool,
}

/// One stream, read to EOF (or, for a probe, to its first event).
async fn one_stream(
    addr: SocketAddr,
    req: Vec<u8>,
    probe: bool,
    first: Rc<RefCell<usize>>,
    stats: Rc<RefCell<StreamStats>>,
) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let _ = s.set_nodelay(true);
    let (r, _) = s.write_all(req).await;
    r.map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut tail = Vec::new();
    let mut ttfb = None;
    let mut events = 0u64;
    loop {
        buf.clear();
        let (r, b) = s.read(buf).await;
        buf = b;
        let n = r.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        let at = now_us();
        let new_events = memchr::memmem::find_iter(&buf[..n], b"data: ").count() as u64;
        if new_events > 0 && ttfb.is_none() {
            ttfb = Some(t0.elapsed().as_micros() as u64);
            *first.borrow_mut() += 1;
            if probe {
                return Ok(Outcome {
                    ttfb_us: ttfb.unwrap_or(0),
                    events: new_events,
                    complete: true,
                });
            }
        }
        events += new_events;
        {
            let mut st = stats.borrow_mut();
            stamps(&buf[..n], |t| st.event_us.push(at.saturating_sub(t)));
        }
        // Keep only the end, enough to see `[DONE]` across a read boundary.
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > 64 {
            tail.drain(..tail.len() - 64);
        }
    }
    let complete = memchr::memmem::find(&tail, b"data: [DONE]").is_some();
    let ttfb_us = ttfb.ok_or_else(|| format!("no event: {:?}", String::from_utf8_lossy(&tail)))?;
    Ok(Outcome {
        ttfb_us,
        events,
        complete,
    })
}

/// The embedded upstream: accepts connections and answers every request with a paced,
/// stamped stream in the format its path asks for.
async fn serve_upstream(addr: SocketAddr, chunks: usize, delay: Duration) {
    let l = match monoio::net::TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sluice-streamload: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    while let Ok((s, _)) = l.accept().await {
        monoio::spawn(upstream_conn(s, chunks, delay));
    }
}

/// The write time of an event, in microseconds since the epoch, unique within the process (one
/// more than the last when two events are written in the same microsecond), so that a stamp
/// names one event.
fn stamp() -> String {
    thread_local!(static LAST: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
    let t = LAST.with(|last| {
        let t = now_us().max(last.get() + 1);
        last.set(t);
        t
    });
    format!("{t:016}")
}

/// One upstream connection: keep-alive requests, each answered with a chunked SSE stream.
async fn upstream_conn(mut s: TcpStream, chunks: usize, delay: Duration) {
    let _ = s.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    loop {
        // Read one request: head, then Content-Length bytes of body.
        let (head_end, body_len) = loop {
            if let Some(i) = memchr::memmem::find(&buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (i + 4, len);
            }
            let mut tmp = Vec::with_capacity(8192);
            let (r, t) = s.read(tmp).await;
            tmp = t;
            match r {
                Ok(n) if n > 0 => buf.extend_from_slice(&tmp[..n]),
                _ => return,
            }
        };
        while buf.len() < head_end + body_len {
            let (r, t) = s.read(Vec::with_capacity(8192)).await;
            match r {
                Ok(n) if n > 0 => buf.extend_from_slice(&t[..n]),
                _ => return,
            }
        }
        let anthropic = memchr::memmem::find(&buf[..head_end], b"/messages").is_some();
        let close = String::from_utf8_lossy(&buf[..head_end])
            .to_ascii_lowercase()
            .contains("connection: close");
        buf.drain(..head_end + body_len);
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        let (r, _) = s.write_all(head.as_bytes().to_vec()).await;
        if r.is_err() {
            return;
        }
        let total = chunks + 2;
        // Events on a fixed schedule from the first: sleeping `delay` after each write would
        // let streams delayed together drift into step with each other, into ever larger bursts.
        let t0 = monoio::time::Instant::now();
        for i in 0..total {
            if i > 0 && !delay.is_zero() {
                monoio::time::sleep_until(t0 + delay * i as u32).await;
            }
            let frame = match (anthropic, i) {
                (true, 0) => "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_load\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"load\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n".to_string(),
                (true, i) if i == total - 1 => format!("event: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":0}}\n\nevent: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{chunks}}}}}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"),
                (true, _) => format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{}\"}}}}\n\n", stamp()),
                (false, 0) => "data: {\"id\":\"chatcmpl-load\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"load\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n".to_string(),
                (false, i) if i == total - 1 => format!("data: {{\"id\":\"chatcmpl-load\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"load\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\ndata: {{\"id\":\"chatcmpl-load\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"load\",\"choices\":[],\"usage\":{{\"prompt_tokens\":9,\"completion_tokens\":{chunks},\"total_tokens\":{}}}}}\n\ndata: [DONE]\n\n", chunks + 9),
                (false, _) => format!("data: {{\"id\":\"chatcmpl-load\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"load\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{}\"}},\"finish_reason\":null}}]}}\n\n", stamp()),
            };
            let chunk = format!("{:x}\r\n{frame}\r\n", frame.len());
            let (r, _) = s.write_all(chunk.into_bytes()).await;
            if r.is_err() {
                return;
            }
        }
        let (r, _) = s.write_all(b"0\r\n\r\n".to_vec()).await;
        if r.is_err() || close {
            return;
        }
    }
}

fn pct(v: &mut [u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sluice-streamload: {e}");
            return ExitCode::from(2);
        }
    };
    // 1,000 streams through a gateway hold 2,000 sockets here (client and upstream ends).
    let _ = sluice::runtime::raise_open_file_limit();
    let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .with_entries(4096)
        .build()
        .expect("runtime");
    let (stats, rss_before, rss_open, cpu, tapped) = rt.block_on(async {
        if let Some(up) = args.upstream {
            monoio::spawn(serve_upstream(up, args.chunks, args.delay));
            monoio::time::sleep(Duration::from_millis(20)).await;
        }
        if args.warmup > 0 {
            let first = Rc::new(RefCell::new(0usize));
            let scratch = Rc::new(RefCell::new(StreamStats::default()));
            let mut warm = Vec::new();
            for _ in 0..args.warmup {
                let req = request(args.addr, &args.model);
                let (f, st, addr) = (first.clone(), scratch.clone(), args.addr);
                warm.push(monoio::spawn(async move {
                    let _ = monoio::time::timeout(Duration::from_secs(30), one_stream(addr, req, false, f, st)).await;
                }));
            }
            for h in warm {
                h.await;
            }
        }
        // The tap, when asked for and there is a gateway between client and upstream.
        let tap = match args.upstream.filter(|u| args.tap && *u != args.addr) {
            Some(up) => match tap::Tap::start(args.addr.port(), up.port()) {
                Ok(t) => Some(t),
                Err(e) => {
                    eprintln!("sluice-streamload: no packet tap: {e}");
                    None
                }
            },
            None => None,
        };
        let stats = Rc::new(RefCell::new(StreamStats::default()));
        let rss_before = args.pid.and_then(rss_kib);
        let cpu_before = args.pid.and_then(cpu_us);
        let first = Rc::new(RefCell::new(0usize));
        let mut handles = Vec::with_capacity(args.streams);
        // Streams open spread evenly over the ramp (by default one event spacing), as independent
        // clients would: opened all at once, every stream's events would come in one burst.
        let ramp = args.ramp.unwrap_or(args.delay);
        for i in 0..args.streams {
            let req = request(args.addr, &args.model);
            let (stats, first, timeout, addr) = (stats.clone(), first.clone(), args.timeout, args.addr);
            let start = ramp * i as u32 / args.streams.max(1) as u32;
            handles.push(monoio::spawn(async move {
                if !start.is_zero() {
                    monoio::time::sleep(start).await;
                }
                let r = monoio::time::timeout(timeout, one_stream(addr, req, false, first, stats.clone())).await;
                let mut st = stats.borrow_mut();
                match r {
                    Err(_) => st.stalled += 1,
                    Ok(Err(e)) => {
                        if st.errors < 3 {
                            eprintln!("stream error: {e}");
                        }
                        st.errors += 1
                    }
                    Ok(Ok(o)) => {
                        st.events += o.events;
                        if o.complete {
                            st.complete += 1;
                        } else {
                            st.stalled += 1;
                        }
                    }
                }
            }));
        }
        // All open: sample the target's memory, then probe time to first byte under this load.
        let t = Instant::now();
        while *first.borrow() < args.streams && t.elapsed() < args.timeout {
            monoio::time::sleep(Duration::from_millis(2)).await;
        }
        let rss_open = args.pid.and_then(rss_kib).unwrap_or(0);
        let open_at_probe = *first.borrow();
        if let Some(t) = &tap {
            t.start_probing();
        }
        for _ in 0..args.probes {
            let req = request(args.addr, &args.model);
            let probe_first = Rc::new(RefCell::new(0usize));
            let probe_stats = Rc::new(RefCell::new(StreamStats::default()));
            match monoio::time::timeout(args.timeout, one_stream(args.addr, req, true, probe_first, probe_stats)).await
            {
                Ok(Ok(o)) => stats.borrow_mut().probe_ttfb_us.push(o.ttfb_us),
                _ => stats.borrow_mut().errors += 1,
            }
        }
        if args.probes > 0 {
            println!("probes ran with {open_at_probe} streams open");
        }
        for h in handles {
            h.await;
        }
        let cpu = match (cpu_before, args.pid.and_then(cpu_us)) {
            (Some(a), Some(b)) => (b.0.saturating_sub(a.0), b.1.saturating_sub(a.1)),
            _ => (0, 0),
        };
        (stats, rss_before, rss_open, cpu, tap.map(tap::Tap::finish))
    });
    let mut st = stats.borrow_mut();
    let ttfb_p50 = pct(&mut st.probe_ttfb_us, 0.50);
    let ttfb_p99 = pct(&mut st.probe_ttfb_us, 0.99);
    let stamped = st.event_us.len();
    let ev_mean = if stamped > 0 {
        st.event_us.iter().sum::<u64>() as f64 / stamped as f64
    } else {
        0.0
    };
    let ev_p50 = pct(&mut st.event_us, 0.50);
    let ev_p99 = pct(&mut st.event_us, 0.99);
    let per_stream_kib = match (rss_before, args.pid) {
        (Some(b), Some(_)) => rss_open.saturating_sub(b) as f64 / args.streams as f64,
        _ => 0.0,
    };
    println!(
        "{} streams: complete {}, stalled {}, errors {}; {} events ({} stamped: latency p50 {} us, p99 {} us, mean {:.1} us); probe ttfb p50 {} us p99 {} us",
        args.streams, st.complete, st.stalled, st.errors, st.events, stamped, ev_p50, ev_p99, ev_mean, ttfb_p50, ttfb_p99
    );
    let per_event = |us: u64| {
        if st.events > 0 {
            us as f64 / st.events as f64
        } else {
            0.0
        }
    };
    let (cpu_per_event, user_per_event) = (per_event(cpu.0 + cpu.1), per_event(cpu.0));
    let cpu = cpu.0 + cpu.1;
    if args.pid.is_some() {
        println!(
            "target CPU {:.3} s for {} events: {:.2} us per event (probes included)",
            cpu as f64 / 1e6,
            st.events,
            cpu_per_event
        );
        println!(
            "target RSS {} KiB before, {} KiB with all streams open: {:.1} KiB per stream",
            rss_before.unwrap_or(0),
            rss_open,
            per_stream_kib
        );
    }
    let tapped = tapped.unwrap_or_default();
    let (mut gw_ev, mut gw_ttfb) = (tapped.event_ns, tapped.probe_ns);
    let us = |ns: u64| ns as f64 / 1000.0;
    let gw_ev_mean = if gw_ev.is_empty() {
        0.0
    } else {
        us(gw_ev.iter().sum::<u64>()) / gw_ev.len() as f64
    };
    let (gw_ev_p50, gw_ev_p99) = (us(pct(&mut gw_ev, 0.50)), us(pct(&mut gw_ev, 0.99)));
    let (gw_ttfb_p50, gw_ttfb_p99) = (us(pct(&mut gw_ttfb, 0.50)), us(pct(&mut gw_ttfb, 0.99)));
    let (mut gw_req, mut gw_first) = (tapped.probe_request_ns, tapped.probe_first_ns);
    let (gw_req_p50, gw_first_p50) = (us(pct(&mut gw_req, 0.50)), us(pct(&mut gw_first, 0.50)));
    if tapped.packets > 0 {
        println!(
            "tap: {} packets; gateway time per event ({} matched, {} ambiguous stamps left out): p50 {:.1} us, p99 {:.1} us, mean {:.1} us; per probe stream ({}): p50 {:.1} us, p99 {:.1} us (p50 of its parts: request {:.1} us, first event {:.1} us)",
            tapped.packets, gw_ev.len(), tapped.ambiguous, gw_ev_p50, gw_ev_p99, gw_ev_mean, gw_ttfb.len(), gw_ttfb_p50, gw_ttfb_p99, gw_req_p50, gw_first_p50
        );
    }
    println!(
        "RESULT streams={} complete={} stalled={} errors={} ttfb_p50_us={} ttfb_p99_us={} event_p50_us={} event_p99_us={} event_mean_us={:.1} stamped={} rss_per_stream_kib={:.2} cpu_per_event_us={:.2} user_cpu_per_event_us={:.2} gw_events={} gw_event_p50_us={:.1} gw_event_p99_us={:.1} gw_event_mean_us={:.1} gw_probes={} gw_ttfb_p50_us={:.1} gw_ttfb_p99_us={:.1} gw_ttfb_request_p50_us={:.1} gw_ttfb_first_p50_us={:.1}",
        args.streams, st.complete, st.stalled, st.errors, ttfb_p50, ttfb_p99, ev_p50, ev_p99, ev_mean, stamped, per_stream_kib, cpu_per_event, user_per_event,
        gw_ev.len(), gw_ev_p50, gw_ev_p99, gw_ev_mean, gw_ttfb.len(), gw_ttfb_p50, gw_ttfb_p99, gw_req_p50, gw_first_p50
    );
    if st.stalled > 0 || st.errors > 0 {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
