//! Peak heap of translating one request body, for the memory a large body costs a worker.
//!
//! Decision informed: how much memory a request may take per byte of its body (with the
//! `max_body_bytes` limit and several requests in flight per core, this bounds a gateway's
//! footprint), and which stage takes it: the canonical request, the decode (with its
//! intermediate values), or the target's encoder. Counted by a global allocator that wraps
//! mimalloc (the gateway's allocator) and keeps the live and peak bytes; RSS would add
//! mimalloc's retained pages and not say which stage.
//!
//! Usage: `cargo run --release --example peak_memory -- FROM TO BODY.json`, FROM and TO format
//! names (openai, anthropic, gemini, bedrock, cohere; FROM may also be `responses`, an OpenAI
//! Responses API body); bodies as `loadtest/large_bodies.py` writes them. Figures:
//! bench/RESULTS.md.

use sluice::formats::{codec, Format};
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static INNER: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every call is passed to mimalloc as it came; only the byte counts are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        INNER.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        INNER.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            grew(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Relaxed);
        }
        INNER.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn format(name: &str) -> Format {
    Format::ALL
        .into_iter()
        .find(|f| f.name() == name)
        .unwrap_or_else(|| panic!("unknown format {name:?}: openai, anthropic, gemini, bedrock or cohere"))
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

/// A figure of this process's `/proc/self/status` in bytes (`VmRSS`, `VmHWM`): what is
/// resident, where the counted bytes include allocations never touched (a parser's buffer sized
/// for a whole body of which it fills a few entries).
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [from, to, path] = args.as_slice() else {
        panic!("usage: peak_memory FROM TO BODY.json");
    };
    let decode = match from.as_str() {
        "responses" => |body: &[u8], _: Option<&str>, _: bool| sluice::formats::openai::responses::decode_request(body),
        name => codec(format(name)).unwrap().decode_request,
    };
    let to = codec(format(to)).unwrap();
    let body = std::fs::read(path).expect("the body file");
    let rss_before = status_bytes("VmRSS");
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let request = decode(&body, Some("model"), false).expect("a body the format reads");
    let canonical = LIVE.load(Relaxed) - base;
    let decode_peak = PEAK.load(Relaxed) - base;
    let resident_decode_peak = status_bytes("VmHWM").saturating_sub(rss_before);
    let out = (to.encode_request)(&request).expect("a request the target takes");
    let peak = PEAK.load(Relaxed) - base;
    println!(
        "body {:.1} MB  canonical {:.1} MB  decode peak {:.1} MB (resident {:.1} MB)  encoded {:.1} MB  peak {:.1} MB ({:.1}x the body)",
        mb(body.len()),
        mb(canonical),
        mb(decode_peak),
        mb(resident_decode_peak),
        mb(out.len()),
        mb(peak),
        peak as f64 / body.len() as f64
    );
}
