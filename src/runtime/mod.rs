//! Workers: one thread per core, pinned, each with its own monoio runtime and its own
//! `SO_REUSEPORT` listener, so the kernel spreads connections and no two workers share state.
//!
//! io_uring is used when the kernel offers it; otherwise the epoll driver, with one warning.

use crate::http::server::{accept_loop, Handler, ServerState};
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Binds `n` listeners to `addr` with `SO_REUSEPORT`. With port 0, the first bind picks the port
/// and the rest join it, so every worker serves the same address. `send_timeout` (zero: none) is
/// set before each listens: a connection inherits it when its handshake ends, which can be before
/// its worker first runs (the accept loop keeps it up to date after a reload).
pub fn bind_listeners(
    addr: SocketAddr,
    n: usize,
    send_timeout: Duration,
) -> std::io::Result<(Vec<TcpListener>, SocketAddr)> {
    let mut out = Vec::with_capacity(n);
    let mut actual = addr;
    for _ in 0..n.max(1) {
        let sock = socket2::Socket::new(socket2::Domain::for_address(actual), socket2::Type::STREAM, None)?;
        sock.set_reuse_address(true)?;
        sock.set_reuse_port(true)?;
        sock.set_nodelay(true)?;
        set_send_timeout(socket2::SockRef::from(&sock), send_timeout)?;
        sock.bind(&actual.into())?;
        sock.listen(4096)?;
        sock.set_nonblocking(true)?;
        let l: TcpListener = sock.into();
        actual = l.local_addr()?;
        out.push(l);
    }
    Ok((out, actual))
}

/// Sets a listening socket's send timeout as `TCP_USER_TIMEOUT` (zero: none), which the
/// connections it accepts inherit: the kernel ends a connection whose peer kept a zero window, or
/// left data unacknowledged, that long.
pub fn set_send_timeout(sock: socket2::SockRef<'_>, timeout: Duration) -> std::io::Result<()> {
    sock.set_tcp_user_timeout((!timeout.is_zero()).then_some(timeout))
}

/// Raises the soft open-file limit to the hard one, as the Go runtime does for Bifrost, and
/// returns the limit in force. Every stream holds two descriptors (the client's and the
/// upstream's), and systemd's default soft limit of 1,024 would stop a gateway at about 500
/// streams with `EMFILE` on accept, while the hard limit (524,288 there) sits unused.
pub fn raise_open_file_limit() -> std::io::Result<libc::rlim_t> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let wanted = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // An unlimited hard limit is refused for NOFILE (the kernel caps it at `fs.nr_open`):
        // the soft limit then stays as it was, which the caller reports.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) } == 0 {
            lim = wanted;
        }
    }
    Ok(lim.rlim_cur)
}

/// Below this many open files, a gateway runs short of descriptors under ordinary load.
pub const LOW_OPEN_FILE_LIMIT: libc::rlim_t = 4096;

/// Which IO driver the workers use.
pub fn driver_name() -> &'static str {
    if monoio::utils::detect_uring() {
        "io_uring"
    } else {
        "epoll"
    }
}

/// Settings every worker shares.
#[derive(Clone)]
pub struct WorkerSettings {
    pub shutdown: Arc<AtomicBool>,
    /// Read at shutdown: how long in-flight requests may take to finish.
    pub drain_timeout: Arc<dyn Fn() -> Duration + Send + Sync>,
    /// Pin each worker to one core.
    pub pin: bool,
}

/// Stack of each worker thread. JSON up to `wire::json::MAX_DEPTH` levels is parsed (and
/// dropped) recursively; 8 MiB leaves room for that even in a debug build, whose frames are many
/// times larger. It is address space: only the pages used become resident.
const WORKER_STACK: usize = 8 << 20;

/// Starts one worker per listener. `make` builds the worker's handler on its own thread.
/// `ready` receives one message per worker once it accepts.
pub fn spawn_workers<H, F>(
    listeners: Vec<TcpListener>,
    settings: WorkerSettings,
    make: Arc<F>,
    ready: crossbeam_channel::Sender<()>,
) -> Vec<JoinHandle<()>>
where
    H: Handler + Housekeeping,
    F: Fn(usize) -> H + Send + Sync + 'static,
{
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let uring = monoio::utils::detect_uring();
    if !uring {
        eprintln!("sluice: warning: io_uring is unavailable here; workers use the epoll driver");
    }
    listeners
        .into_iter()
        .enumerate()
        .map(|(i, listener)| {
            let settings = settings.clone();
            let make = make.clone();
            let ready = ready.clone();
            std::thread::Builder::new()
                .name(format!("sluice-worker-{i}"))
                .stack_size(WORKER_STACK)
                .spawn(move || {
                    if settings.pin {
                        let _ = monoio::utils::bind_to_cpu_set([i % cores]);
                    }
                    let work = worker_main(i, listener, settings, make, ready);
                    let res = if uring {
                        uring_runtime().map(|mut rt| rt.block_on(work))
                    } else {
                        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                            .enable_timer()
                            .build()
                            .map(|mut rt| rt.block_on(work))
                    };
                    if let Err(e) = res {
                        eprintln!("sluice: worker {i} could not start its runtime: {e}");
                        std::process::exit(1);
                    }
                })
                .expect("spawn worker thread")
        })
        .collect()
}

/// A worker's io_uring runtime.
///
/// The ring is set up with `IORING_SETUP_COOP_TASKRUN` (Linux 5.19+): by default the kernel
/// interrupts a worker running in user space (an inter-processor interrupt, a VM exit on a
/// virtual machine) each time a completion's task work is queued for it, up to one per event.
/// A worker that owns its ring alone enters the kernel at the end of every round anyway, where
/// that work runs. Measured (bench/RESULTS.md): the time the gateway holds an event under
/// 1,000 streams fell from 217–283 to 151–215 µs at p50. On a kernel without the flag the ring
/// is set up as before.
fn uring_runtime() -> std::io::Result<monoio::Runtime<monoio::time::TimeDriver<monoio::IoUringDriver>>> {
    let build = |setup: io_uring::Builder| {
        monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .uring_builder(setup)
            .with_entries(4096)
            .enable_timer()
            .build()
    };
    let mut coop = io_uring::IoUring::builder();
    coop.setup_coop_taskrun();
    build(coop).or_else(|_| build(io_uring::IoUring::builder()))
}

/// Periodic work a handler wants done on its worker (e.g. sweeping idle upstream connections).
pub trait Housekeeping {
    fn tick(&self) {}
}

async fn worker_main<H, F>(
    index: usize,
    listener: TcpListener,
    settings: WorkerSettings,
    make: Arc<F>,
    ready: crossbeam_channel::Sender<()>,
) where
    H: Handler + Housekeeping,
    F: Fn(usize) -> H,
{
    let listener = match monoio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sluice: worker {index}: cannot register listener: {e}");
            std::process::exit(1);
        }
    };
    let handler = Rc::new(make(index));
    let state = Rc::new(ServerState::default());
    let listen_fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    let canceller = monoio::io::Canceller::new();
    let handle = canceller.handle();
    {
        let state = state.clone();
        let handler = handler.clone();
        let shutdown = settings.shutdown.clone();
        monoio::spawn(async move {
            let mut canceller = Some(canceller);
            let mut ticks = 0u32;
            loop {
                monoio::time::sleep(Duration::from_millis(100)).await;
                ticks = ticks.wrapping_add(1);
                // Housekeeping runs on the worker too: a bug there must not end it either.
                if ticks.is_multiple_of(10) {
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.tick())).is_err() {
                        eprintln!("sluice: worker {index}: housekeeping panicked; skipped this round");
                    }
                    give_back_free_memory();
                }
                if shutdown.load(Ordering::Relaxed) {
                    state.drain.start();
                    // Stop listening now, with a plain syscall: the listener's own close is an
                    // io_uring op, which could stay unrun until the process exited (seen with two
                    // workers and a connection arriving with the signal); meanwhile the kernel
                    // completed handshakes that nobody accepted, to reset them at exit instead of
                    // refusing them. The fd is open here: the accept loop returns only once it
                    // sees `draining`.
                    unsafe { libc::shutdown(listen_fd, libc::SHUT_RDWR) };
                    if let Some(c) = canceller.take() {
                        c.cancel();
                    }
                    break;
                }
            }
        });
    }
    let _ = ready.send(());
    drop(ready);
    accept_loop(listener, handle, handler, state.clone()).await;
    // Drain: let in-flight requests finish, bounded by the configured timeout.
    let deadline = std::time::Instant::now() + (settings.drain_timeout)();
    wait_in_flight(&state, deadline).await;
    if state.in_flight.get() > 0 {
        // Streams still open end with their format's in-stream error, which takes one write
        // each: a client reading, however slowly, gets it within `CUT_GRACE`. Unary requests
        // still waiting for their upstream are dropped with the runtime.
        state.drain.cut_streams();
        wait_in_flight(&state, std::time::Instant::now() + CUT_GRACE).await;
    }
}

/// Turns transparent huge pages off for this process (`prctl(PR_SET_THP_DISABLE)`, what
/// mimalloc does with `MIMALLOC_ALLOW_THP=0`), unless `MIMALLOC_ALLOW_THP` asks otherwise. With
/// them, a heap that grows (the first thousand streams after a start, a burst after a quiet
/// spell whose memory was given back) faults in 2 MiB at a time, and the kernel's zeroing of
/// each stalls the worker: the time an event spends in the gateway went from 1.5 ms to 9.6 ms at
/// p99 under 1,000 streams, and each open stream held 12.3 KiB instead of 11.5 (RESULTS,
/// "Session 48"). Called first thing in `main`, before the heap grows.
pub fn no_transparent_huge_pages() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    // SAFETY: a flag on this process's memory; no pointers.
    if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0 {
        eprintln!(
            "sluice: could not turn transparent huge pages off: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Returns the worker thread's free allocator pages to the system once they have been free for
/// mimalloc's purge delay. mimalloc does that itself only when the thread allocates or frees
/// again, so a worker that went quiet after a burst (large bodies, many connections now idle
/// and parked) kept its peak RSS: 135 MB after 32 answers of 1 MB, for as long as it stayed
/// quiet (RESULTS, "Session 48"). Once a second; cheap when nothing is free (a walk of the
/// thread's pages), and pages still in use are left alone.
fn give_back_free_memory() {
    // SAFETY: mimalloc's collect takes no pointers and acts on the calling thread's heap (a
    // no-op for a heap it never served, as in tests under another allocator).
    unsafe { libmimalloc_sys::mi_collect(false) };
}

/// How long streams cut at the drain timeout have to write their in-stream error and end.
const CUT_GRACE: Duration = Duration::from_millis(500);

async fn wait_in_flight(state: &ServerState, deadline: std::time::Instant) {
    while state.in_flight.get() > 0 && std::time::Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(10)).await;
    }
}
