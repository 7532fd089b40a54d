//! Access log: one line per request, written by a logger thread.
//!
//! Workers never block on logging: lines go through a bounded channel with `try_send`, and a
//! full queue drops the line and counts it (`sluice_access_log_dropped_total`).

use crate::http::Request;
use crate::metrics::WorkerMetrics;
use crossbeam_channel::{bounded, Sender};
use std::fmt::Write as _;
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

/// What the access log says of one request besides its method and path.
pub struct AccessLine<'a> {
    pub status: u16,
    /// The status of a failure after the head went out (see `proxy::Outcome`).
    pub midstream_error: Option<u16>,
    pub elapsed: Duration,
    pub provider: &'a str,
}

pub fn access(req: &Request, line: &AccessLine<'_>, metrics: &WorkerMetrics) {
    access_of(req.method.as_str(), req.path(), line, metrics);
}

/// `access` for a request known by its method and path alone (one the HTTP layer refused).
pub fn access_of(method: &str, path: &str, line: &AccessLine<'_>, metrics: &WorkerMetrics) {
    let Some(tx) = SINK.get() else { return };
    let mut text = format!(
        "access method={method} path={path} status={} provider={} duration_us={}",
        line.status,
        if line.provider.is_empty() { "-" } else { line.provider },
        line.elapsed.as_micros()
    );
    if let Some(error) = line.midstream_error {
        let _ = write!(text, " midstream_error={error}");
    }
    text.push('\n');
    if tx.try_send(text).is_err() {
        metrics.shared().log_dropped.fetch_add(1, Ordering::Relaxed);
    }
}
