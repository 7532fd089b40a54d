//! Access log: one line per request, written by a logger thread.
//!
//! Workers never block on logging: lines go through a bounded channel with `try_send`, and a
//! full queue drops the line and counts it (`sluice_access_log_dropped_total`).

use crate::http::Request;
use crate::metrics::WorkerMetrics;
use crossbeam_channel::{bounded, Sender};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::Duration;

static SINK: OnceLock<Sender<String>> = OnceLock::new();

/// Starts the logger thread (idempotent).
pub fn start() {
    SINK.get_or_init(|| {
        let (tx, rx) = bounded::<String>(8192);
        std::thread::Builder::new()
            .name("sluice-log".into())
            .spawn(move || {
                let stderr = std::io::stderr();
                for line in rx {
                    let mut out = stderr.lock();
                    let _ = out.write_all(line.as_bytes());
                }
            })
            .expect("spawn logger thread");
        tx
    });
}

pub fn access(req: &Request, status: u16, elapsed: Duration, provider: &str, metrics: &WorkerMetrics) {
    let Some(tx) = SINK.get() else { return };
    let line = format!(
        "access method={} path={} status={} provider={} duration_us={}\n",
        req.method.as_str(),
        req.path(),
        status,
        if provider.is_empty() { "-" } else { provider },
        elapsed.as_micros()
    );
    if tx.try_send(line).is_err() {
        metrics.shared().log_dropped.fetch_add(1, Ordering::Relaxed);
    }
}
