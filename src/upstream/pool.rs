//! Per-worker pool of idle keep-alive upstream connections, keyed by origin.
//!
//! Owned by one worker (`RefCell`, no locks). Connections are reused newest-first (the warmest);
//! ones idle longer than the idle timeout are dropped on checkout, and at most `max_idle` are kept
//! per origin.

use super::conn::UpstreamConn;
use crate::metrics::WorkerMetrics;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Pool {
    idle: RefCell<HashMap<Arc<str>, Vec<UpstreamConn>>>,
    pub max_idle: Cell<usize>,
    pub idle_timeout: Cell<Duration>,
    metrics: Rc<WorkerMetrics>,
}

impl Pool {
    pub fn new(max_idle: usize, idle_timeout: Duration, metrics: Rc<WorkerMetrics>) -> Pool {
        Pool {
            idle: RefCell::new(HashMap::new()),
            max_idle: Cell::new(max_idle),
            idle_timeout: Cell::new(idle_timeout),
            metrics,
        }
    }

    /// Takes the most recently used idle connection for this origin, if a fresh one exists.
    pub fn checkout(&self, key: &Arc<str>) -> Option<UpstreamConn> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(key)?;
        let timeout = self.idle_timeout.get();
        while let Some(mut c) = list.pop() {
            self.metrics.pool_idle_add(-1);
            if c.idle_since.elapsed() < timeout {
                c.reused = true;
                self.metrics.pool_busy_add(1);
                return Some(c);
            }
        }
        None
    }

    /// Counts a new connection as busy (it did not come from the pool).
    pub fn opened(&self) {
        self.metrics.pool_busy_add(1);
    }

    /// A busy connection is gone (closed or broken) rather than returned.
    pub fn discarded(&self) {
        self.metrics.pool_busy_add(-1);
    }

    /// Returns a connection whose response was read completely.
    pub fn checkin(&self, mut conn: UpstreamConn) {
        self.metrics.pool_busy_add(-1);
        if !conn.rbuf.is_empty() {
            // Bytes after a complete response: the peer is confused; do not reuse.
            return;
        }
        conn.idle_since = Instant::now();
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry(conn.pool_key.clone()).or_default();
        if list.len() >= self.max_idle.get() {
            // Drop the oldest to make room: the newest is the most likely to still be alive.
            if !list.is_empty() {
                list.remove(0);
                self.metrics.pool_idle_add(-1);
            }
            if self.max_idle.get() == 0 {
                return;
            }
        }
        list.push(conn);
        self.metrics.pool_idle_add(1);
    }

    /// Drops connections that sat idle too long (called periodically by the worker).
    pub fn sweep(&self) {
        let timeout = self.idle_timeout.get();
        let mut idle = self.idle.borrow_mut();
        for list in idle.values_mut() {
            let before = list.len();
            list.retain(|c| c.idle_since.elapsed() < timeout);
            self.metrics.pool_idle_add(list.len() as i64 - before as i64);
        }
        idle.retain(|_, l| !l.is_empty());
    }

    pub fn idle_count(&self, key: &str) -> usize {
        self.idle.borrow().get(key).map_or(0, Vec::len)
    }
}
