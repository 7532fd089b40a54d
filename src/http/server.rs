//! The per-worker accept loop and the keep-alive connection loop.
//!
//! Each worker owns one `SO_REUSEPORT` listener and runs this loop on its own monoio runtime.
//! A connection reads a request, hands it to the `Handler`, and repeats; pipelined requests are
//! answered in order because the next one is parsed only after the previous response is written.

use super::conn::Conn;
use super::drain::Drain;
use super::error::HttpError;
use super::io::read_more_within;
use super::request::{read_request, Limits, Next, RefusedRequest, Request, PARK_AFTER};
use bytes::{Bytes, BytesMut};
use monoio::net::{TcpListener, TcpStream};
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// What a server does with each request. One instance per worker (not shared across threads).
pub trait Handler: 'static {
    /// Called once per request; must write exactly one response through `conn` (unless the
    /// connection broke). An `Err` closes the connection.
    fn handle(&self, req: Request, conn: &mut Conn) -> impl Future<Output = io::Result<()>>;

    /// Limits for a new connection (read from the current config).
    fn limits(&self) -> Limits {
        Limits::default()
    }

    /// Called when a connection opens (`true`) or closes (`false`), for gauges.
    fn connection_event(&self, _open: bool) {}

    /// Called when an idle connection is parked (`true`) and when it leaves the park, to be
    /// served again or closed (`false`), for a gauge.
    fn connection_parked(&self, _parked: bool) {}

    /// Answers a request whose `handle` panicked (a gateway bug, never the client's input), with
    /// `target` as the request line sent it. The connection closes afterwards. The default
    /// writes a plain 500 if no response has started; a started one is left cut short, which
    /// every client reports as an error.
    fn on_panic(&self, target: &str, conn: &mut Conn) -> impl Future<Output = ()> {
        let _ = target;
        async move {
            if !conn.response_started {
                let body = Bytes::from_static(
                    br#"{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}"#,
                );
                let _ = conn
                    .send_full(500, &[("content-type", b"application/json")], body, false)
                    .await;
            }
        }
    }

    /// Answers a request the HTTP layer refused (malformed, over a limit, too slow) with the
    /// refusal's status; the connection closes afterwards. Called only for refusals that have a
    /// status (`HttpError::status`). The default writes a plain JSON error in OpenAI's shape.
    fn refuse(&self, refused: &RefusedRequest, conn: &mut Conn) -> impl Future<Output = ()> {
        async move {
            let Some(status) = refused.error.status() else {
                return;
            };
            let body = plain_error(refused.error.message(), "invalid_request_error");
            let _ = conn
                .send_full(status, &[("content-type", b"application/json")], body, false)
                .await;
        }
    }

    /// Called for each connection refused over `Limits::max_connections`, for a counter.
    fn connection_refused(&self) {}
}

/// An error body in OpenAI's plain shape, as the HTTP layer answers before any route is known.
fn plain_error(message: &str, kind: &str) -> Bytes {
    let msg = sonic_rs::to_string(message).unwrap_or_else(|_| "\"error\"".into());
    Bytes::from(format!(
        r#"{{"error":{{"message":{msg},"type":"{kind}","param":null,"code":null}}}}"#
    ))
}

/// Worker-wide server state shared by its connections (single-threaded).
#[derive(Default)]
pub struct ServerState {
    pub drain: Rc<Drain>,
    pub in_flight: Cell<usize>,
    pub open_conns: Cell<usize>,
    /// The send timeout last set on the listening socket (`None`: not set yet).
    send_timeout: Cell<Option<Duration>>,
}

/// Sets the send timeout on the listening socket when it changed (`runtime::bind_listeners` set
/// the first; accepted connections inherit it; one system call per change, none per connection).
fn apply_send_timeout(listener: &TcpListener, timeout: Duration, state: &ServerState) {
    if state.send_timeout.get() == Some(timeout) {
        return;
    }
    state.send_timeout.set(Some(timeout));
    // SAFETY: the fd is the listener's, open for as long as this borrow of it lives.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(std::os::fd::AsRawFd::as_raw_fd(listener)) };
    if let Err(e) = crate::runtime::set_send_timeout(socket2::SockRef::from(&fd), timeout) {
        eprintln!("sluice: setting the send timeout failed: {e}");
    }
}

/// Accepts until the listener fails or is cancelled, spawning one task per connection.
pub async fn accept_loop<H: Handler>(
    listener: TcpListener,
    cancel: monoio::io::CancelHandle,
    handler: Rc<H>,
    state: Rc<ServerState>,
) {
    apply_send_timeout(&listener, handler.limits().send_timeout, &state);
    loop {
        let (stream, _peer) = match listener.cancelable_accept(cancel.clone()).await {
            Ok(x) => x,
            Err(e) if state.drain.draining() => {
                let _ = e;
                return;
            }
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                eprintln!("sluice: accept failed: {e}");
                monoio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        // Read at each accept, so a reload's new limits apply to the next connections (the send
        // timeout to those accepted after this one: it was this one's when its handshake ended).
        let limits = handler.limits();
        apply_send_timeout(&listener, limits.send_timeout, &state);
        let limit = limits.max_connections;
        if limit != 0 && state.open_conns.get() >= limit {
            handler.connection_refused();
            monoio::spawn(refuse_over_limit(stream, handler.clone(), state.drain.clone()));
            continue;
        }
        let _ = stream.set_nodelay(true);
        // Counted here, not in the task: connections accepted before their tasks first run
        // must see each other against the limit.
        state.open_conns.set(state.open_conns.get() + 1);
        handler.connection_event(true);
        serve(stream, handler.clone(), state.clone());
    }
}

/// Serves an open connection on a task of its own, until it closes or is parked.
fn serve<H: Handler>(stream: TcpStream, handler: Rc<H>, state: Rc<ServerState>) {
    monoio::spawn(async move {
        // `serve_conn` answers a panicking request itself; this catches the rest (a bug in the
        // request reader), so one connection's bug never unwinds through the worker.
        let served = CatchPanic(pin!(serve_conn(stream, &*handler, &state))).await;
        match served {
            // This task ends here and its memory goes with it: the parked connection's task
            // holds only the socket.
            Ok(Some(idle)) => drop(monoio::spawn(park(idle, handler, state))),
            Ok(None) => closed(&*handler, &state),
            Err(_) => {
                eprintln!("sluice: a connection task panicked; the connection was dropped");
                closed(&*handler, &state);
            }
        }
    });
}

/// A connection is gone (closed, or dropped after a panic).
fn closed<H: Handler>(handler: &H, state: &ServerState) {
    handler.connection_event(false);
    state.open_conns.set(state.open_conns.get() - 1);
}

/// Holds an idle keep-alive connection with nothing but its socket until the client sends again
/// (then it is served on a new task) or the rest of the idle timeout passes (then it closes).
/// A served connection's task holds `serve_conn`'s state, sized for the largest request it
/// could make (a stream's pump), and its read and write buffers: about 10 KiB of RSS an idle
/// connection, where a load balancer keeps thousands open. Parked, one holds a 1 KiB task (3 KiB
/// of RSS measured, `loadtest/idle_connections.py`).
async fn park<H: Handler>(mut io: TcpStream, handler: Rc<H>, state: Rc<ServerState>) {
    // The limits of now: a reload's idle timeout applies to the connections parked already.
    let left = handler.limits().idle_timeout.saturating_sub(PARK_AFTER);
    handler.connection_parked(true);
    // A poll, not a read: it takes no buffer, and a timeout that ends it loses no bytes. A
    // close or a reset makes the socket readable too; the new task then reads the end.
    let woke = monoio::time::timeout(left, io.readable(false)).await;
    handler.connection_parked(false);
    if matches!(woke, Ok(Ok(()))) && !state.drain.draining() {
        serve(io, handler, state);
        return;
    }
    let _ = monoio::io::AsyncWriteRent::shutdown(&mut io).await;
    closed(&*handler, &state);
}

/// How long a connection refused over the limit is drained before it closes (see `linger`):
/// short, since the point of refusing it is to give its descriptor back.
const OVER_LIMIT_LINGER: Duration = Duration::from_secs(1);

/// Answers a connection over `Limits::max_connections` with a 503 without reading its request,
/// and closes it. It is not counted in `open_conns`: it holds its descriptor for at most
/// `OVER_LIMIT_LINGER`.
async fn refuse_over_limit<H: Handler>(stream: TcpStream, handler: Rc<H>, drain: Rc<Drain>) {
    let mut conn = Conn::new(stream, handler.limits(), drain);
    let body = plain_error("too many open connections; retry shortly", "server_error");
    let headers: [super::conn::Header; 2] = [("content-type", b"application/json"), ("retry-after", b"1")];
    if conn.send_full(503, &headers, body, false).await.is_ok() {
        let _ = monoio::io::AsyncWriteRent::shutdown(&mut conn.io).await;
        // A request the client sent already would turn the close into a RST, which can destroy
        // the 503 before the client reads it.
        linger(&mut conn, OVER_LIMIT_LINGER).await;
    }
}

/// Serves one keep-alive connection until it closes (`None`) or waits `PARK_AFTER` for its next
/// request with nothing buffered: the socket is then handed back, to be parked (`park`).
pub async fn serve_conn<H: Handler>(stream: TcpStream, handler: &H, state: &ServerState) -> Option<TcpStream> {
    // The limits are read here rather than passed in: an argument keeps its slot in this
    // future's state for the connection's whole life.
    let mut conn = Conn::new(stream, handler.limits(), state.drain.clone());
    // A refusal may leave the client mid-send: the close then lingers (`linger`).
    let mut refused_mid_send = false;
    loop {
        // The request is taken out of the read's result here, so that result is not held (beside
        // the request) across the handler's await: every open connection holds this state, and
        // it is what a stream costs in memory (RESULTS, "Memory per stream and the connection
        // future").
        let req = match read_request(&mut conn).await {
            Ok(Next::Request(req)) => req,
            Ok(Next::Idle) if !state.drain.draining() => return Some(conn.into_io()),
            Ok(Next::Idle | Next::Closed) => break,
            Err(refused) => {
                if refused.error.status().is_some() {
                    // Nothing of the previous request's answer (its CORS lines) carries over.
                    conn.response_started = false;
                    conn.extra_head.clear();
                    conn.head_request = refused.is_head();
                    conn.http10 = false;
                    conn.close_after = true;
                    if CatchPanic(pin!(handler.refuse(&refused, &mut conn))).await.is_err() {
                        eprintln!("sluice: answering a refused request panicked; the connection was dropped");
                    }
                    // A client too slow to send gets no more time to (a 408).
                    refused_mid_send = !matches!(refused.error, HttpError::HeadTimeout | HttpError::BodyTimeout);
                }
                break;
            }
        };
        conn.response_started = false;
        conn.extra_head.clear();
        conn.close_after = !req.keep_alive;
        conn.head_request = req.method == super::request::Method::Head;
        conn.http10 = req.http10;
        // Kept for `on_panic`: a reference to the head already read, not a copy.
        let target = req.target_bytes();
        state.in_flight.set(state.in_flight.get() + 1);
        let res = CatchPanic(pin!(handler.handle(req, &mut conn))).await;
        state.in_flight.set(state.in_flight.get() - 1);
        let Ok(res) = res else {
            // monoio does not catch a panicking task: uncaught, it would end the worker
            // thread and every connection on it. The panic message is already on stderr
            // (the panic hook); the state this request held is dropped with it.
            eprintln!("sluice: a request handler panicked; answered and closed the connection");
            conn.close_after = true;
            conn.discard_unsent();
            let target = std::str::from_utf8(&target).unwrap_or("");
            let _ = CatchPanic(pin!(handler.on_panic(target, &mut conn))).await;
            break;
        };
        if res.is_err() || conn.close_after || state.drain.draining() {
            break;
        }
        conn.answered();
    }
    // Half-close politely so a client's last pipelined bytes do not turn into a RST.
    let _ = monoio::io::AsyncWriteRent::shutdown(&mut conn.io).await;
    if refused_mid_send {
        linger(&mut conn, LINGER_TIME).await;
    }
    None
}

/// How long a refused client's remaining bytes are read at most, in all and waiting for each
/// read, and how many (nginx's `lingering_time`, `lingering_timeout`; a byte budget too, so a
/// fast sender cannot keep a worker busy draining it).
const LINGER_TIME: Duration = Duration::from_secs(5);
const LINGER_READ_WAIT: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024 * 1024;

/// Reads and drops what a refused client still sends (the body of a 413, the rest of a 431's
/// head) until it closes or a bound is met (`time` in all), after the answer and the write side's shutdown.
/// Closed with unread bytes, the socket would send a RST, which can reach the client before it
/// read the answer, or fail its send: it would see a reset instead of the 413.
async fn linger(conn: &mut Conn, time: Duration) {
    let deadline = Instant::now() + time;
    let mut left = LINGER_BYTES;
    // Large reads drain a large body in few calls; the read buffer is not needed any more.
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        let wait = deadline.saturating_duration_since(Instant::now()).min(LINGER_READ_WAIT);
        if wait.is_zero() {
            return;
        }
        buf.clear();
        let (res, back) = read_more_within(&mut conn.io, buf, wait, &mut conn.canceller).await;
        buf = back;
        match res {
            Ok(Some(n)) if n > 0 && n < left => left -= n,
            _ => return,
        }
    }
}

/// Polls a future, turning a panic inside it into `Err` instead of letting it unwind further.
///
/// While nothing panics it costs at most a nanosecond or two a poll (`catch_unwind` adds a landing
/// pad and stops some inlining; `poll_1000_times` in bench/stream.rs).
pub struct CatchPanic<'a, F>(pub Pin<&'a mut F>);

impl<F: Future> Future for CatchPanic<'_, F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.get_mut().0.as_mut();
        // AssertUnwindSafe: after a panic the future is dropped, never polled again, and the
        // caller closes the connection whose state it may have left half-done.
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Resolves when the client hangs up, watching a duplicate of the socket so the connection itself
/// stays free for writes. If the client sends more bytes (a pipelined request) the watch stops:
/// those bytes belong to the next request and a hang-up will show as a failed write instead.
pub async fn client_gone(fd: std::os::fd::RawFd) {
    // SAFETY: dup of a valid open fd; the new fd is owned by the std TcpStream below.
    let dup = unsafe { libc::dup(fd) };
    if dup < 0 {
        return std::future::pending().await;
    }
    let std_stream = unsafe { <std::net::TcpStream as std::os::fd::FromRawFd>::from_raw_fd(dup) };
    let _ = std_stream.set_nonblocking(true);
    let Ok(watch) = TcpStream::from_std(std_stream) else {
        return std::future::pending().await;
    };
    hang_up(&watch).await
}

/// How long an upstream call runs before its client is watched for a hang-up (`hung_up`): most
/// calls are over sooner and never pay for the watch.
pub const HANG_UP_WATCH_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

/// Resolves when the client of `io` hangs up, watched from `after` on, while the connection waits
/// for an upstream and is neither read nor written. The caller drops its upstream call then: an
/// LLM call nobody waits for any more (an SDK's timeout, then its retry) would otherwise go on
/// generating, and billing, to the end. A client that sends more bytes (a pipelined request)
/// stops the watch, as in `client_gone`.
pub async fn hung_up(io: &TcpStream, after: std::time::Duration) {
    // Boxed: monoio's timer is 640 bytes (cache-line aligned), and this future sits in the state
    // of every request that waits on an upstream, streams included. The box is made only for a
    // call that did not finish on its first poll.
    Box::pin(monoio::time::sleep(after)).await;
    hang_up(io).await
}

async fn hang_up(watch: &TcpStream) {
    let fd = std::os::fd::AsRawFd::as_raw_fd(watch);
    loop {
        if watch.readable(false).await.is_err() {
            return;
        }
        let mut b = [0u8; 1];
        // SAFETY: peeking one byte into a stack buffer.
        let n = unsafe { libc::recv(fd, b.as_mut_ptr().cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
        if n == 0 {
            return;
        }
        if n > 0 {
            return std::future::pending().await;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::WouldBlock && err.kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicIsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Panics on two paths, before and after its response started; answers `ok` otherwise.
    struct Panicky {
        open: Arc<AtomicIsize>,
    }

    impl Handler for Panicky {
        async fn handle(&self, req: Request, conn: &mut Conn) -> io::Result<()> {
            match req.path() {
                "/boom" => panic!("test: handler bug before the response"),
                "/boom-mid" => {
                    conn.start_stream(200, &[("content-type", b"text/event-stream")], false)
                        .await?;
                    conn.send_chunk(b"data: 1\n\n").await?;
                    panic!("test: handler bug mid-stream")
                }
                _ => {
                    let ok = Bytes::from_static(b"ok");
                    conn.send_full(200, &[("content-type", b"text/plain")], ok, req.keep_alive)
                        .await
                }
            }
        }

        fn connection_event(&self, open: bool) {
            self.open.fetch_add(if open { 1 } else { -1 }, Ordering::SeqCst);
        }
    }

    /// One worker serving `handler` on its own thread (detached: it ends with the test process).
    fn serve_on_a_thread<H: Handler + Send>(handler: H) -> std::net::SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .enable_timer()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                let canceller = monoio::io::Canceller::new();
                let state = Rc::new(ServerState::default());
                accept_loop(listener, canceller.handle(), Rc::new(handler), state).await;
            });
        });
        addr
    }

    /// One worker serving `Panicky`, and its count of open connections.
    fn serve_panicky() -> (std::net::SocketAddr, Arc<AtomicIsize>) {
        let open = Arc::new(AtomicIsize::new(0));
        let addr = serve_on_a_thread(Panicky { open: open.clone() });
        (addr, open)
    }

    /// Sends one request and reads until the server closes (or 5 s pass).
    fn exchange(addr: std::net::SocketAddr, path: &str, close: bool) -> String {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let conn = if close { "connection: close\r\n" } else { "" };
        write!(s, "GET {path} HTTP/1.1\r\nhost: x\r\n{conn}\r\n").unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn a_panicking_request_is_answered_and_the_worker_keeps_serving() {
        let (addr, open) = serve_panicky();

        // Keep-alive asked for, but a panicked request's connection closes after the 500.
        let r = exchange(addr, "/boom", false);
        assert!(r.starts_with("HTTP/1.1 500 "), "{r}");
        assert!(r.contains("connection: close\r\n"), "{r}");
        assert!(
            r.ends_with(r#""type":"server_error","param":null,"code":null}}"#),
            "{r}"
        );

        // A panic mid-stream cuts the stream short: no terminating chunk, then EOF.
        let r = exchange(addr, "/boom-mid", false);
        assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
        assert!(r.ends_with("data: 1\n\n\r\n"), "{r}");

        // The same worker still answers, on the same thread and runtime.
        for _ in 0..3 {
            let r = exchange(addr, "/ok", true);
            assert!(r.starts_with("HTTP/1.1 200 ") && r.ends_with("\r\n\r\nok"), "{r}");
        }

        // Every connection, the panicked ones included, was accounted as closed.
        let deadline = Instant::now() + Duration::from_secs(5);
        while open.load(Ordering::SeqCst) != 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(open.load(Ordering::SeqCst), 0);
    }

    /// Answers with the request's path, and counts its connections and the parked ones.
    struct Counted {
        open: Arc<AtomicIsize>,
        parked: Arc<AtomicIsize>,
        idle_timeout: Duration,
    }

    impl Handler for Counted {
        async fn handle(&self, req: Request, conn: &mut Conn) -> io::Result<()> {
            let body = Bytes::from(req.path().to_string());
            conn.send_full(200, &[("content-type", b"text/plain")], body, req.keep_alive)
                .await
        }

        fn limits(&self) -> Limits {
            Limits {
                idle_timeout: self.idle_timeout,
                ..Limits::default()
            }
        }

        fn connection_event(&self, open: bool) {
            self.open.fetch_add(if open { 1 } else { -1 }, Ordering::SeqCst);
        }

        fn connection_parked(&self, parked: bool) {
            self.parked.fetch_add(if parked { 1 } else { -1 }, Ordering::SeqCst);
        }
    }

    /// Reads one answer to `GET path` (a content-length one) off `s`.
    fn answer(s: &mut std::net::TcpStream, path: &str) {
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        let want = format!("content-length: {}\r\n\r\n{path}", path.len());
        while !String::from_utf8_lossy(&got).ends_with(&want) {
            assert_eq!(s.read(&mut byte).expect("an answer"), 1, "closed after {got:?}");
            got.push(byte[0]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200 "), "{}", String::from_utf8_lossy(&got));
    }

    fn until(what: &str, deadline: Duration, f: impl Fn() -> bool) {
        let end = Instant::now() + deadline;
        while !f() {
            assert!(Instant::now() < end, "{what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What a parked connection holds while it waits: its socket, a poll and the timer of its
    /// idle timeout (640 bytes, aligned to 128). 1,024 bytes when this test was written; the
    /// point of parking is that this stays a fraction of `serve_conn`'s 4,480.
    #[test]
    fn a_parked_connections_state_stays_small() {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let stream = TcpStream::connect_addr(listener.local_addr().unwrap()).await.unwrap();
            let handler = Counted {
                open: Default::default(),
                parked: Default::default(),
                idle_timeout: Duration::from_secs(5),
            };
            let parked = park(stream, Rc::new(handler), Rc::new(ServerState::default()));
            let size = std::mem::size_of_val(&parked);
            assert!(size <= 1024, "a parked connection's state is {size} bytes, over 1,024");
        });
    }

    #[test]
    fn an_idle_connection_is_parked_then_served_again_or_closed_at_the_idle_timeout() {
        let (open, parked) = (Arc::new(AtomicIsize::new(0)), Arc::new(AtomicIsize::new(0)));
        let addr = serve_on_a_thread(Counted {
            open: open.clone(),
            parked: parked.clone(),
            idle_timeout: PARK_AFTER + Duration::from_millis(1500),
        });
        let parked_now = || parked.load(Ordering::SeqCst);
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET /a HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
        answer(&mut s, "/a");
        assert_eq!(parked_now(), 0, "parked at once");
        until("parked after PARK_AFTER", PARK_AFTER * 2, || parked_now() == 1);
        // Served again on the same socket, pipelined requests in order included.
        write!(
            s,
            "GET /b HTTP/1.1\r\nhost: x\r\n\r\nGET /c HTTP/1.1\r\nhost: x\r\n\r\n"
        )
        .unwrap();
        answer(&mut s, "/b");
        answer(&mut s, "/c");
        assert_eq!(parked_now(), 0);
        // Requests around the moment of parking: none is lost, whether the read it arrives for
        // is being cancelled, the connection is parked, or neither.
        for offset_ms in [-2i64, 0, 2] {
            std::thread::sleep(Duration::from_millis(
                (PARK_AFTER.as_millis() as i64 + offset_ms) as u64,
            ));
            write!(s, "GET /t{offset_ms} HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
            answer(&mut s, &format!("/t{offset_ms}"));
        }
        // Parked again, then closed at the idle timeout, its time parked included.
        let idle_since = Instant::now();
        until("parked again", PARK_AFTER * 2, || parked_now() == 1);
        let mut rest = Vec::new();
        assert_eq!(s.read_to_end(&mut rest).expect("a clean close"), 0);
        let idle = idle_since.elapsed();
        assert!(
            idle > Duration::from_millis(2400) && idle < Duration::from_millis(4000),
            "{idle:?}"
        );
        until("closed and counted", Duration::from_secs(2), || {
            open.load(Ordering::SeqCst) == 0 && parked_now() == 0
        });
    }

    #[test]
    fn catch_panic_passes_values_through_and_turns_a_panic_into_err() {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async {
            let ok = CatchPanic(pin!(async { 7 })).await;
            assert_eq!(ok.ok(), Some(7));
            let boom = CatchPanic(pin!(async {
                monoio::time::sleep(Duration::ZERO).await;
                panic!("test: after a pending poll")
            }));
            let payload = boom.await.expect_err("the panic is caught");
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"test: after a pending poll"));
        });
    }
}
