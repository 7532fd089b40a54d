//! The reload thread: SIGHUP, file changes and DNS refreshes, all handled off the workers.
//!
//! A new snapshot is compiled here (which may block on files and DNS) and published with one
//! `ArcSwap::store`. An invalid file is reported and ignored: the old snapshot keeps serving.

use super::{load, refresh_dns, SharedSnapshot};
use std::os::unix::fs::MetadataExt;
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
    last_stamp: Option<Stamp>,
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

    /// True when the file changed since the last load: its modification or change time, its
    /// size, or the file itself (a new inode: an atomic replace by rename).
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

/// What says a file changed without reading it. The times alone can miss a change: a
/// filesystem may keep them to the second (ext4 with small inodes), and a config rewritten with
/// another of the same length (`max_connections = 2` -> `3`) within that second has the same
/// size; a replace by rename (editors, `kubectl` config maps, our tests) gives a new inode.
#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    modified: SystemTime,
    changed: (i64, i64),
    len: u64,
    file: (u64, u64),
}

fn stamp(path: &PathBuf) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: m.modified().ok()?,
        changed: (m.ctime(), m.ctime_nsec()),
        len: m.len(),
        file: (m.dev(), m.ino()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, File};

    fn config(port: u8) -> String {
        format!("[server]\nlisten = \"127.0.0.1:{port}\"\n\n[[providers]]\nname = \"mock\"\nkind = \"mock\"\n")
    }

    fn reloader(path: &std::path::Path) -> Reloader {
        fs::write(path, config(0)).unwrap();
        let snap = super::super::load(path).unwrap();
        Reloader::new(path.to_path_buf(), Arc::new(arc_swap::ArcSwap::from_pointee(snap)))
    }

    #[test]
    fn a_replace_by_rename_is_a_change_whatever_its_times_and_size() {
        let dir = std::env::temp_dir().join(format!("sluice-reload-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sluice.toml");
        let r = reloader(&path);
        assert!(!r.file_changed(), "nothing changed yet");
        let before = fs::metadata(&path).unwrap().modified().unwrap();
        // The same length, and the old file's modification time, as a second-granular
        // filesystem would give a rewrite within the same second.
        let next = dir.join("sluice.toml.new");
        fs::write(&next, config(1)).unwrap();
        File::options()
            .write(true)
            .open(&next)
            .unwrap()
            .set_modified(before)
            .unwrap();
        fs::rename(&next, &path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
        assert!(r.file_changed());
        fs::remove_dir_all(&dir).unwrap();
    }
}
