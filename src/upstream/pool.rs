//! Per-worker pool of idle keep-alive upstream connections, keyed by origin.
//!
//! Owned by one worker (`RefCell`, no locks). Connections are reused newest-first (the warmest);
//! ones idle longer than the idle timeout are dropped on checkout, as are ones idle for a while
//! that the peer closed or wrote to unasked (one non-blocking peek), and at most `max_idle` are
//! kept per origin.
//!
//! Spares (`spare` > 0): each request to an origin tops its idle connections up to `spare` with
//! connections opened in the background, so the next new stream finds one ready instead of paying
//! a connect (and with TLS a handshake) before its first byte. Spares follow demand: they are
//! opened only when a request takes a connection, never to replace ones that expired unused, so an
//! origin nobody calls holds none after the idle timeout. Nor while an origin sheds connections:
//! once a returned connection found its idle list full (`max_idle`), the origin has more than its
//! demand needs, and a spare would only be closed unused when it came back (a connect and a close
//! each: 1,400 a second under wrk at 64 connections with `max_idle` 64). Spares resume when a
//! request finds no idle connection again.

use super::conn::UpstreamConn;
use crate::metrics::WorkerMetrics;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One origin's idle connections and the spares being opened for it.
#[derive(Default)]
struct OriginIdle {
    conns: Vec<UpstreamConn>,
    opening: usize,
    /// A connection came back to a full idle list since a request last found none idle: no
    /// spares for now.
    shedding: bool,
}

pub struct Pool {
    /// By origin, looked up per request: ahash (origins come from the config).
    idle: RefCell<HashMap<Arc<str>, OriginIdle, ahash::RandomState>>,
    pub max_idle: Cell<usize>,
    pub idle_timeout: Cell<Duration>,
    /// Idle connections to keep ready per origin once it is used (0: none).
    pub spare: Cell<usize>,
    metrics: Rc<WorkerMetrics>,
}

impl Pool {
    pub fn new(max_idle: usize, idle_timeout: Duration, metrics: Rc<WorkerMetrics>) -> Pool {
        Pool {
            idle: RefCell::default(),
            max_idle: Cell::new(max_idle),
            idle_timeout: Cell::new(idle_timeout),
            spare: Cell::new(0),
            metrics,
        }
    }

    /// Takes the most recently used idle connection for this origin, if a fresh one exists.
    pub fn checkout(&self, key: &Arc<str>) -> Option<UpstreamConn> {
        let mut idle = self.idle.borrow_mut();
        let origin = idle.get_mut(key)?;
        let list = &mut origin.conns;
        let timeout = self.idle_timeout.get();
        while let Some(mut c) = list.pop() {
            self.metrics.pool_idle_add(-1);
            let idle = c.idle_since.elapsed();
            // Every checkout looks for a close or unasked bytes (one non-blocking peek): bytes a
            // confused upstream sent after its answer's end, read as the next request's answer,
            // would hand one client another's answer, however soon the connection is reused.
            if idle < timeout && c.quiet_while_idle() {
                c.reused = true;
                self.metrics.pool_busy_add(1);
                return Some(c);
            }
        }
        origin.shedding = false;
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
    pub fn checkin(&self, conn: UpstreamConn) {
        self.metrics.pool_busy_add(-1);
        if !conn.rbuf.is_empty() {
            // Bytes after a complete response: the peer is confused; do not reuse.
            return;
        }
        self.keep(conn);
    }

    /// Files an unused connection as the newest idle one of its origin.
    fn keep(&self, mut conn: UpstreamConn) {
        conn.idle_since = Instant::now();
        let mut idle = self.idle.borrow_mut();
        // Looked up before it is entered: the key's `Arc` is cloned only for an origin's first.
        let origin = match idle.get_mut(&conn.pool_key) {
            Some(o) => o,
            None => idle.entry(conn.pool_key.clone()).or_default(),
        };
        let list = &mut origin.conns;
        if list.len() >= self.max_idle.get() {
            origin.shedding = true;
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

    /// Whether another spare should be opened for this origin now; if so it is counted as being
    /// opened, and the caller must report the attempt through `spare_opened`. One cell read
    /// when spares are off.
    pub fn wants_spare(&self, key: &Arc<str>) -> bool {
        let spare = self.spare.get();
        if spare == 0 {
            return false;
        }
        let mut idle = self.idle.borrow_mut();
        let origin = match idle.get_mut(key) {
            Some(o) => o,
            None => idle.entry(key.clone()).or_default(),
        };
        if origin.shedding || origin.conns.len() + origin.opening >= spare.min(self.max_idle.get()) {
            return false;
        }
        origin.opening += 1;
        true
    }

    /// A spare's connect ended: the connection joins the idle ones (`None`: it failed, and the
    /// next request connects by itself as usual).
    pub fn spare_opened(&self, key: &Arc<str>, conn: Option<UpstreamConn>) {
        if let Some(o) = self.idle.borrow_mut().get_mut(key) {
            o.opening = o.opening.saturating_sub(1);
        }
        if let Some(c) = conn {
            self.keep(c);
        }
    }

    /// Drops connections that sat idle too long (called periodically by the worker).
    pub fn sweep(&self) {
        let timeout = self.idle_timeout.get();
        let mut idle = self.idle.borrow_mut();
        for o in idle.values_mut() {
            let before = o.conns.len();
            o.conns.retain(|c| c.idle_since.elapsed() < timeout);
            self.metrics.pool_idle_add(o.conns.len() as i64 - before as i64);
        }
        idle.retain(|_, o| !o.conns.is_empty() || o.opening > 0);
    }

    pub fn idle_count(&self, key: &str) -> usize {
        self.idle.borrow().get(key).map_or(0, |o| o.conns.len())
    }
}
