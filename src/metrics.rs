//! Per-worker counters, aggregated only when `/metrics` is scraped.
//!
//! The request path touches only its own worker's data: a `RefCell` map for finding a counter
//! and relaxed atomics that no other thread writes. A counter is registered in the worker's
//! shared list (behind a mutex) the first time its label set appears, so the lock is taken once
//! per label set per worker, never per request. The scraper locks those lists to read them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Upper bounds of the upstream latency histogram, in seconds.
const BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = BUCKETS.iter().position(|b| s <= *b).unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Relaxed);
    }
}

/// A counter's labels: route, provider, status.
type RequestKey = (&'static str, String, u16);
/// route -> provider -> status -> counter; nested so lookups borrow `&str` and never allocate.
/// Three lookups per request: ahash rather than SipHash, whose flood resistance keys from the
/// config and upstream statuses do not need.
type RequestCounters = HashMap<&'static str, FastMap<String, FastMap<u16, Arc<AtomicU64>>>, ahash::RandomState>;
type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

/// One worker's counters of a `{route,provider,status}` series.
#[derive(Default)]
struct LabeledCounters {
    /// The worker's own index (request path only).
    local: RefCell<RequestCounters>,
}

impl LabeledCounters {
    /// Adds one; a label set seen for the first time is registered in `shared` (the one lock).
    fn add(&self, shared: &Mutex<Vec<(RequestKey, Arc<AtomicU64>)>>, route: &'static str, provider: &str, status: u16) {
        let mut map = self.local.borrow_mut();
        let by_provider = map.entry(route).or_default();
        if let Some(c) = by_provider.get(provider).and_then(|m| m.get(&status)) {
            c.fetch_add(1, Relaxed);
            return;
        }
        let c = Arc::new(AtomicU64::new(1));
        by_provider
            .entry(provider.to_string())
            .or_default()
            .insert(status, c.clone());
        shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(((route, provider.to_string(), status), c));
    }
}

/// What one worker shares with the scraper.
#[derive(Default)]
pub struct SharedMetrics {
    pub open_conns: AtomicI64,
    pub parked_conns: AtomicI64,
    pub active_streams: AtomicI64,
    pub pool_idle: AtomicI64,
    pub pool_busy: AtomicI64,
    pub log_dropped: AtomicU64,
    pub conns_refused: AtomicU64,
    requests: Mutex<Vec<(RequestKey, Arc<AtomicU64>)>>,
    midstream_errors: Mutex<Vec<(RequestKey, Arc<AtomicU64>)>>,
    latency: Mutex<Vec<(String, Arc<Histogram>)>>,
}

fn registry() -> &'static Mutex<Vec<Arc<SharedMetrics>>> {
    static R: OnceLock<Mutex<Vec<Arc<SharedMetrics>>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Vec::new()))
}

/// One worker's metrics handle (not `Send`: it lives on its worker).
pub struct WorkerMetrics {
    shared: Arc<SharedMetrics>,
    requests: LabeledCounters,
    midstream_errors: LabeledCounters,
    latency: RefCell<FastMap<String, Arc<Histogram>>>,
}

impl WorkerMetrics {
    /// Creates and registers a worker's metrics.
    pub fn register() -> Rc<WorkerMetrics> {
        let shared = Arc::new(SharedMetrics::default());
        registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(shared.clone());
        Rc::new(WorkerMetrics {
            shared,
            requests: LabeledCounters::default(),
            midstream_errors: LabeledCounters::default(),
            latency: RefCell::default(),
        })
    }

    pub fn shared(&self) -> &SharedMetrics {
        &self.shared
    }

    pub fn request_done(&self, route: &'static str, provider: &str, status: u16) {
        self.requests.add(&self.shared.requests, route, provider, status);
    }

    /// A response that failed after its head went out (`status` is the failure's: the
    /// in-stream error's, or the cut body's). Its `request_done` status stays the one sent.
    pub fn midstream_error(&self, route: &'static str, provider: &str, status: u16) {
        self.midstream_errors
            .add(&self.shared.midstream_errors, route, provider, status);
    }

    pub fn upstream_latency(&self, provider: &str, d: Duration) {
        let mut map = self.latency.borrow_mut();
        if let Some(h) = map.get(provider) {
            h.observe(d);
            return;
        }
        let h = Arc::new(Histogram::default());
        h.observe(d);
        map.insert(provider.to_string(), h.clone());
        self.shared
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((provider.to_string(), h));
    }

    pub fn conn_add(&self, d: i64) {
        self.shared.open_conns.fetch_add(d, Relaxed);
    }
    pub fn parked_add(&self, d: i64) {
        self.shared.parked_conns.fetch_add(d, Relaxed);
    }
    pub fn conn_refused(&self) {
        self.shared.conns_refused.fetch_add(1, Relaxed);
    }
    pub fn streams_add(&self, d: i64) {
        self.shared.active_streams.fetch_add(d, Relaxed);
    }
    pub fn pool_idle_add(&self, d: i64) {
        self.shared.pool_idle.fetch_add(d, Relaxed);
    }
    pub fn pool_busy_add(&self, d: i64) {
        self.shared.pool_busy.fetch_add(d, Relaxed);
    }
}

/// Renders every worker's metrics, summed, in the Prometheus text format.
pub fn render() -> String {
    let workers: Vec<Arc<SharedMetrics>> = registry().lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut requests: HashMap<RequestKey, u64> = HashMap::new();
    let mut midstream: HashMap<RequestKey, u64> = HashMap::new();
    let mut latency: HashMap<String, (Vec<u64>, u64)> = HashMap::new();
    let (mut conns, mut parked, mut streams, mut idle, mut busy) = (0i64, 0i64, 0i64, 0i64, 0i64);
    let (mut dropped, mut refused) = (0u64, 0u64);
    for w in &workers {
        conns += w.open_conns.load(Relaxed);
        parked += w.parked_conns.load(Relaxed);
        streams += w.active_streams.load(Relaxed);
        idle += w.pool_idle.load(Relaxed);
        busy += w.pool_busy.load(Relaxed);
        dropped += w.log_dropped.load(Relaxed);
        refused += w.conns_refused.load(Relaxed);
        for (k, c) in w.requests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            *requests.entry(k.clone()).or_default() += c.load(Relaxed);
        }
        for (k, c) in w.midstream_errors.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            *midstream.entry(k.clone()).or_default() += c.load(Relaxed);
        }
        for (p, h) in w.latency.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let e = latency
                .entry(p.clone())
                .or_insert_with(|| (vec![0; BUCKETS.len() + 1], 0));
            for (i, c) in h.counts.iter().enumerate() {
                e.0[i] += c.load(Relaxed);
            }
            e.1 += h.sum_micros.load(Relaxed);
        }
    }
    let mut out = String::with_capacity(4096);
    write_labeled(
        &mut out,
        "sluice_requests_total",
        "Requests answered, by route, provider and status.",
        requests,
    );
    write_labeled(
        &mut out,
        "sluice_midstream_errors_total",
        "Responses that failed after their head was sent (an in-stream error or a cut body), by the failure's status.",
        midstream,
    );
    out.push_str(
        "# HELP sluice_upstream_latency_seconds Time from sending to an upstream until its response head arrived.\n",
    );
    out.push_str("# TYPE sluice_upstream_latency_seconds histogram\n");
    let mut lat: Vec<_> = latency.into_iter().collect();
    lat.sort_by(|a, b| a.0.cmp(&b.0));
    for (provider, (counts, sum)) in lat {
        let p = escape_label(&provider);
        let mut cum = 0;
        for (i, c) in counts.iter().enumerate() {
            cum += c;
            let le = if i < BUCKETS.len() {
                BUCKETS[i].to_string()
            } else {
                "+Inf".to_string()
            };
            let _ = writeln!(
                out,
                "sluice_upstream_latency_seconds_bucket{{provider=\"{p}\",le=\"{le}\"}} {cum}"
            );
        }
        let _ = writeln!(
            out,
            "sluice_upstream_latency_seconds_sum{{provider=\"{p}\"}} {}",
            sum as f64 / 1e6
        );
        let _ = writeln!(out, "sluice_upstream_latency_seconds_count{{provider=\"{p}\"}} {cum}");
    }
    for (name, help, v) in [
        ("sluice_open_connections", "Open client connections.", conns),
        (
            "sluice_parked_connections",
            "Open client connections idle long enough to be parked (counted in sluice_open_connections too).",
            parked,
        ),
        ("sluice_active_streams", "Streamed responses in progress.", streams),
        (
            "sluice_pool_idle_connections",
            "Idle pooled upstream connections.",
            idle,
        ),
        ("sluice_pool_busy_connections", "Upstream connections in use.", busy),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
    for (name, help, v) in [
        (
            "sluice_access_log_dropped_total",
            "Access log lines dropped because the log queue was full.",
            dropped,
        ),
        (
            "sluice_connections_refused_total",
            "Client connections answered 503 and closed because their worker had server.max_connections open.",
            refused,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
    }
    let _ = writeln!(
        out,
        "# HELP sluice_workers Worker threads.\n# TYPE sluice_workers gauge\nsluice_workers {}",
        workers.len()
    );
    out
}

/// One `{route,provider,status}` counter series, sorted by its labels.
fn write_labeled(out: &mut String, name: &str, help: &str, counts: HashMap<RequestKey, u64>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    let mut keys: Vec<_> = counts.into_iter().collect();
    keys.sort();
    for ((route, provider, status), n) in keys {
        let _ = writeln!(
            out,
            "{name}{{route=\"{route}\",provider=\"{}\",status=\"{status}\"}} {n}",
            escape_label(&provider)
        );
    }
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_aggregate_across_workers() {
        let a = WorkerMetrics::register();
        let b = WorkerMetrics::register();
        a.request_done("chat_completions", "unit-test-prov", 200);
        a.request_done("chat_completions", "unit-test-prov", 200);
        b.request_done("chat_completions", "unit-test-prov", 200);
        b.upstream_latency("unit-test-prov", Duration::from_millis(3));
        a.midstream_error("chat_completions", "unit-test-prov", 502);
        b.midstream_error("chat_completions", "unit-test-prov", 502);
        b.midstream_error("chat_completions", "unit-test-prov", 429);
        let text = render();
        assert!(
            text.contains(
                r#"sluice_midstream_errors_total{route="chat_completions",provider="unit-test-prov",status="502"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"sluice_midstream_errors_total{route="chat_completions",provider="unit-test-prov",status="429"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"sluice_requests_total{route="chat_completions",provider="unit-test-prov",status="200"} 3"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"sluice_upstream_latency_seconds_bucket{provider="unit-test-prov",le="0.005"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"sluice_upstream_latency_seconds_bucket{provider="unit-test-prov",le="0.0025"} 0"#),
            "{text}"
        );
    }
}
