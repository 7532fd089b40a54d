//! The per-worker accept loop and the keep-alive connection loop.
//!
//! Each worker owns one `SO_REUSEPORT` listener and runs this loop on its own monoio runtime.
//! A connection reads a request, hands it to the `Handler`, and repeats; pipelined requests are
//! answered in order because the next one is parsed only after the previous response is written.

use super::conn::Conn;
use super::error::HttpError;
use super::request::{read_request, Limits, Request};
use bytes::Bytes;
use monoio::net::{TcpListener, TcpStream};
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::rc::Rc;

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

    /// Renders an HTTP-level error (malformed request, limits) as `(content-type, body)`.
    fn http_error_body(&self, err: &HttpError) -> (&'static str, Bytes) {
        let msg = sonic_rs::to_string(err.message()).unwrap_or_else(|_| "\"error\"".into());
        let body =
            format!(r#"{{"error":{{"message":{msg},"type":"invalid_request_error","param":null,"code":null}}}}"#);
        ("application/json", Bytes::from(body))
    }
}

/// Worker-wide server state shared by its connections (single-threaded).
#[derive(Default)]
pub struct ServerState {
    pub draining: Rc<Cell<bool>>,
    pub in_flight: Cell<usize>,
    pub open_conns: Cell<usize>,
}

/// Accepts until the listener fails or is cancelled, spawning one task per connection.
pub async fn accept_loop<H: Handler>(
    listener: TcpListener,
    cancel: monoio::io::CancelHandle,
    handler: Rc<H>,
    state: Rc<ServerState>,
) {
    loop {
        let (stream, _peer) = match listener.cancelable_accept(cancel.clone()).await {
            Ok(x) => x,
            Err(e) if state.draining.get() => {
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
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let state = state.clone();
        let limits = handler.limits();
        monoio::spawn(async move {
            state.open_conns.set(state.open_conns.get() + 1);
            handler.connection_event(true);
            serve_conn(stream, &*handler, &state, limits).await;
            handler.connection_event(false);
            state.open_conns.set(state.open_conns.get() - 1);
        });
    }
}

/// Serves one keep-alive connection until it closes.
pub async fn serve_conn<H: Handler>(stream: TcpStream, handler: &H, state: &ServerState, limits: Limits) {
    let mut conn = Conn::new(stream, limits, state.draining.clone());
    loop {
        match read_request(&mut conn).await {
            Ok(Some(req)) => {
                conn.response_started = false;
                conn.close_after = !req.keep_alive;
                conn.head_request = req.method == super::request::Method::Head;
                state.in_flight.set(state.in_flight.get() + 1);
                let res = handler.handle(req, &mut conn).await;
                state.in_flight.set(state.in_flight.get() - 1);
                if res.is_err() || conn.close_after || state.draining.get() {
                    break;
                }
            }
            Ok(None) => break,
            Err(err) => {
                conn.head_request = false;
                if let Some(status) = err.status() {
                    let (ct, body) = handler.http_error_body(&err);
                    conn.close_after = true;
                    let _ = conn
                        .send_full(status, &[("content-type", ct.as_bytes())], body, false)
                        .await;
                }
                break;
            }
        }
    }
    // Half-close politely so a client's last pipelined bytes do not turn into a RST.
    let _ = monoio::io::AsyncWriteRent::shutdown(&mut conn.io).await;
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
    loop {
        if watch.readable(false).await.is_err() {
            return;
        }
        let mut b = [0u8; 1];
        // SAFETY: peeking one byte into a stack buffer.
        let n = unsafe { libc::recv(dup, b.as_mut_ptr().cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
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
