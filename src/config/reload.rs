//! The reload thread: SIGHUP, file changes and DNS refreshes, all handled off the workers.
//!
//! A new snapshot is compiled here (which may block on files and DNS) and published with one
//! `ArcSwap::store`. An invalid file is reported and ignored: the old snapshot keeps serving.

use super::{load, refresh_dns, SharedSnapshot};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Why a reload was attempted (for the log line).
#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    Signal,
    FileChanged,
}

pub struct Reloader {
    path: PathBuf,
    shared: SharedSnapshot,
    last_stamp: Option<(SystemTime, u64)>,
}

impl Reloader {
    pub fn new(path: PathBuf, shared: SharedSnapshot) -> Reloader {
        let last_stamp = stamp(&path);
        Reloader {
            path,
            shared,
            last_stamp,
        }
    }

    /// Loads the file and publishes it if valid. Returns whether a new snapshot was published.
    pub fn reload(&mut self, why: Trigger) -> bool {
        self.last_stamp = stamp(&self.path);
        match load(&self.path) {
            Ok(snap) => {
                let old = self.shared.load();
                if old.server.listen != snap.server.listen || old.server.workers != snap.server.workers {
                    eprintln!("sluice: note: server.listen and server.workers take effect on restart only");
                }
                self.shared.store(Arc::new(snap));
                eprintln!("sluice: config reloaded ({why:?})");
                true
            }
            Err(errs) => {
                for e in &errs {
                    eprintln!("sluice: config error: {e}");
                }
                eprintln!("sluice: reload ({why:?}) rejected; the previous config keeps serving");
                false
            }
        }
    }

    /// True when the file's modification time or size changed since the last load.
    pub fn file_changed(&self) -> bool {
        let now = stamp(&self.path);
        now.is_some() && now != self.last_stamp
    }

    /// Runs until `stop` is set.
    pub fn run(mut self, hup: Arc<AtomicBool>, stop: Arc<AtomicBool>) {
        let mut last_watch = Instant::now();
        let mut last_dns = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            if hup.swap(false, Ordering::Relaxed) {
                self.reload(Trigger::Signal);
            }
            let snap = self.shared.load_full();
            let watch = snap.server.watch_interval;
            if !watch.is_zero() && last_watch.elapsed() >= watch {
                last_watch = Instant::now();
                if self.file_changed() {
                    self.reload(Trigger::FileChanged);
                }
            }
            if last_dns.elapsed() >= snap.pool.dns_refresh {
                last_dns = Instant::now();
                if let Some(fresh) = refresh_dns(&snap) {
                    // Only publish if no reload replaced the snapshot meanwhile.
                    let cur = self.shared.load();
                    if Arc::ptr_eq(&cur, &snap) {
                        self.shared.store(Arc::new(fresh));
                    }
                }
            }
        }
    }
}

fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}
