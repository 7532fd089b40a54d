//! `sluice`: load the config, start one worker per core, reload on SIGHUP or file change, and
//! drain on SIGTERM / SIGINT.

use sluice::config::{self, reload::Reloader, SharedSnapshot};
use sluice::proxy::Worker;
use sluice::runtime::{self, WorkerSettings};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: sluice [--config PATH] [--check]

  --config PATH   TOML config (default: config/sluice.toml)
  --check         validate the config, print every error, and exit (non-zero if invalid)
  --version       print the version";

fn main() -> ExitCode {
    runtime::no_transparent_huge_pages();
    let mut path = PathBuf::from("config/sluice.toml");
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => match args.next() {
                Some(p) => path = PathBuf::from(p),
                None => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--check" => check = true,
            "--version" | "-V" => {
                println!("sluice {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("sluice: unknown argument {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let snap = match config::load(&path) {
        Ok(s) => s,
        Err(errs) => {
            for e in &errs {
                eprintln!("sluice: config error: {e}");
            }
            eprintln!("sluice: {} error(s) in {}", errs.len(), path.display());
            return ExitCode::from(1);
        }
    };
    if check {
        println!("{}: ok ({} providers)", path.display(), snap.providers.len());
        return ExitCode::SUCCESS;
    }
    let server = snap.server.clone();
    let shared: SharedSnapshot = Arc::new(arc_swap::ArcSwap::from_pointee(snap));
    if server.access_log {
        sluice::log::start();
    }

    let hup = Arc::new(AtomicBool::new(false));
    let term = Arc::new(AtomicBool::new(false));
    for (sig, flag) in [
        (signal_hook::consts::SIGHUP, &hup),
        (signal_hook::consts::SIGTERM, &term),
        (signal_hook::consts::SIGINT, &term),
    ] {
        if let Err(e) = signal_hook::flag::register(sig, flag.clone()) {
            eprintln!("sluice: cannot install signal handler: {e}");
            return ExitCode::from(1);
        }
    }

    match runtime::raise_open_file_limit() {
        Ok(n) if n < runtime::LOW_OPEN_FILE_LIMIT => eprintln!(
            "sluice: warning: the open-file limit is {n} (each open stream holds two); raise the hard \
             limit (systemd LimitNOFILE=, ulimit -Hn)"
        ),
        Ok(_) => {}
        Err(e) => eprintln!("sluice: warning: cannot read the open-file limit: {e}"),
    }
    let (listeners, addr) = match runtime::bind_listeners(server.listen, server.workers, server.limits.send_timeout) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("sluice: cannot listen on {}: {e}", server.listen);
            return ExitCode::from(1);
        }
    };
    let n = listeners.len();
    let stop = Arc::new(AtomicBool::new(false));
    let reloader = {
        let r = Reloader::new(path.clone(), shared.clone());
        let (hup, stop) = (hup.clone(), stop.clone());
        std::thread::Builder::new()
            .name("sluice-reload".into())
            .spawn(move || r.run(hup, stop))
            .expect("spawn reload thread")
    };
    let drain_shared = shared.clone();
    let settings = WorkerSettings {
        shutdown: Arc::new(AtomicBool::new(false)),
        drain_timeout: Arc::new(move || drain_shared.load().server.drain_timeout),
        pin: true,
    };
    let make_shared = shared.clone();
    let make = Arc::new(move |_i: usize| Worker::new(make_shared.clone(), sluice::metrics::WorkerMetrics::register()));
    let (ready_tx, ready_rx) = crossbeam_channel::bounded(n);
    let workers = runtime::spawn_workers(listeners, settings.clone(), make, ready_tx);
    for _ in 0..n {
        if ready_rx.recv_timeout(Duration::from_secs(10)).is_err() {
            eprintln!("sluice: workers did not start");
            return ExitCode::from(1);
        }
    }
    eprintln!("sluice: {n} workers on {} ({})", addr, runtime::driver_name());
    println!("listening on {addr}");

    while !term.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("sluice: shutting down; draining in-flight requests");
    settings.shutdown.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    stop.store(true, Ordering::Relaxed);
    let _ = reloader.join();
    eprintln!("sluice: stopped");
    ExitCode::SUCCESS
}
