//! `sluice-streamload`: many concurrent SSE streams against one target, measuring what wrk
//! cannot: time to the first event, time per event, streams that stall, and (with `--pid`) the
//! target's memory per open stream. Used by `scripts/bench.sh` for the streaming scenario.
//!
//!   sluice-streamload --addr 127.0.0.1:8080 --model openai/gpt-4o-mini --streams 1000 [--pid P]
//!
//! Each stream is one connection sending an OpenAI `stream: true` chat request
//! (`connection: close`) and reading to EOF. A stream is complete when `data: [DONE]` arrived;
//! one still open after `--timeout-s` counts as stalled. Output: one `RESULT` line of key=value
//! pairs (times in microseconds) for the bench script, after a readable summary.

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[derive(Default)]
struct StreamStats {
    ttfb_us: Vec<u64>,
    per_event_us: Vec<f64>,
    events: u64,
    complete: u64,
    stalled: u64,
    errors: u64,
    first_event_count: usize,
}

struct Args {
    addr: SocketAddr,
    model: String,
    streams: usize,
    rounds: usize,
    timeout: Duration,
    pid: Option<u32>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        addr: "127.0.0.1:8080".parse().unwrap(),
        model: "openai/gpt-4o-mini".into(),
        streams: 100,
        rounds: 1,
        timeout: Duration::from_secs(60),
        pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        let bad = |_| format!("bad value for {k}: {v}");
        match k.as_str() {
            "--addr" => a.addr = v.parse().map_err(|_| format!("bad --addr {v}"))?,
            "--model" => a.model = v,
            "--streams" => a.streams = v.parse().map_err(bad)?,
            "--rounds" => a.rounds = v.parse().map_err(bad)?,
            "--timeout-s" => a.timeout = Duration::from_secs(v.parse().map_err(bad)?),
            "--pid" => a.pid = Some(v.parse().map_err(bad)?),
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

/// One stream: (ttfb, per-event time, events, complete) or an error.
async fn one_stream(
    addr: SocketAddr,
    req: Vec<u8>,
    first: Rc<RefCell<usize>>,
) -> Result<(u64, f64, u64, bool), String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let _ = s.set_nodelay(true);
    let t0 = Instant::now();
    let (r, _) = s.write_all(req).await;
    r.map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut seen = Vec::new();
    let mut first_at = None;
    let mut last_at = t0;
    let mut events = 0u64;
    loop {
        buf.clear();
        let (r, b) = s.read(buf).await;
        buf = b;
        let n = r.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        let now = Instant::now();
        let new_events = memchr::memmem::find_iter(&buf[..n], b"data: ").count() as u64;
        if new_events > 0 {
            if first_at.is_none() {
                first_at = Some(now);
                *first.borrow_mut() += 1;
            }
            last_at = now;
            events += new_events;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    let complete = memchr::memmem::find(&seen, b"data: [DONE]").is_some();
    let first_at =
        first_at.ok_or_else(|| format!("no event: {:?}", String::from_utf8_lossy(&seen[..seen.len().min(300)])))?;
    let ttfb = (first_at - t0).as_micros() as u64;
    let per_event = if events > 1 {
        (last_at - first_at).as_secs_f64() * 1e6 / (events - 1) as f64
    } else {
        0.0
    };
    Ok((ttfb, per_event, events, complete))
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
    let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .with_entries(4096)
        .build()
        .expect("runtime");
    let stats = rt.block_on(async {
        let stats = Rc::new(RefCell::new(StreamStats::default()));
        let rss_before = args.pid.and_then(rss_kib);
        let mut rss_peak = 0u64;
        for _ in 0..args.rounds {
            let first = Rc::new(RefCell::new(0usize));
            let mut handles = Vec::with_capacity(args.streams);
            for _ in 0..args.streams {
                let req = request(args.addr, &args.model);
                let stats = stats.clone();
                let first = first.clone();
                let timeout = args.timeout;
                let addr = args.addr;
                handles.push(monoio::spawn(async move {
                    let r = monoio::time::timeout(timeout, one_stream(addr, req, first)).await;
                    let mut st = stats.borrow_mut();
                    match r {
                        Err(_) => st.stalled += 1,
                        Ok(Err(e)) => {
                            if st.errors < 3 {
                                eprintln!("stream error: {e}");
                            }
                            st.errors += 1
                        }
                        Ok(Ok((ttfb, per_event, events, complete))) => {
                            st.ttfb_us.push(ttfb);
                            st.per_event_us.push(per_event);
                            st.events += events;
                            if complete {
                                st.complete += 1;
                            } else {
                                st.stalled += 1;
                            }
                        }
                    }
                }));
            }
            // Sample the target's memory while every stream is open (all have their first event).
            if let Some(pid) = args.pid {
                let t = Instant::now();
                while *first.borrow() < args.streams && t.elapsed() < args.timeout {
                    monoio::time::sleep(Duration::from_millis(5)).await;
                    rss_peak = rss_peak.max(rss_kib(pid).unwrap_or(0));
                }
                rss_peak = rss_peak.max(rss_kib(pid).unwrap_or(0));
            }
            for h in handles {
                h.await;
            }
            stats.borrow_mut().first_event_count += *first.borrow();
        }
        (stats, rss_before, rss_peak)
    });
    let (stats, rss_before, rss_peak) = stats;
    let mut st = stats.borrow_mut();
    let n = st.ttfb_us.len();
    let p50 = pct(&mut st.ttfb_us, 0.50);
    let p99 = pct(&mut st.ttfb_us, 0.99);
    let per_event = if n > 0 {
        st.per_event_us.iter().sum::<f64>() / n as f64
    } else {
        0.0
    };
    let per_stream_kib = match (rss_before, args.pid) {
        (Some(b), Some(_)) => rss_peak.saturating_sub(b) as f64 / args.streams as f64,
        _ => 0.0,
    };
    println!(
        "{} streams x {} rounds: complete {}, stalled {}, errors {}; ttfb p50 {} us p99 {} us; {:.2} us/event; {} events",
        args.streams, args.rounds, st.complete, st.stalled, st.errors, p50, p99, per_event, st.events
    );
    if args.pid.is_some() {
        println!(
            "target RSS {} KiB before, {} KiB with all streams open: {:.1} KiB per stream",
            rss_before.unwrap_or(0),
            rss_peak,
            per_stream_kib
        );
    }
    println!(
        "RESULT streams={} complete={} stalled={} errors={} ttfb_p50_us={} ttfb_p99_us={} per_event_us={:.3} rss_per_stream_kib={:.2}",
        args.streams * args.rounds,
        st.complete,
        st.stalled,
        st.errors,
        p50,
        p99,
        per_event,
        per_stream_kib
    );
    if st.stalled > 0 || st.errors > 0 {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
