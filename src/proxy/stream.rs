//! The stream pump: upstream body pieces go to the client as they arrive, one write each.
//!
//! Rules kept here: every piece is written at once (no coalescing); the client's hang-up is
//! watched alongside the upstream read so the upstream connection is closed promptly rather than
//! returned to the pool; an OpenAI stream ends at `data: [DONE]` even if the upstream keeps its
//! body open (after at most `END_GRACE` waiting for the upstream's own end). Other formats'
//! relayed streams end with the upstream body, reported as cut short when it ends before the
//! format's end marker (`formats::stream_end`).

use super::{Outcome, Worker};
use crate::canonical::stream::{StreamDecode, StreamEncode, StreamError, StreamEvent};
use crate::canonical::{FaultKind, UpstreamFault};
use crate::error::GatewayError;
use crate::formats::stream_end::{EndWatch, Ending};
use crate::formats::{self, Format};
use crate::http::{Conn, StreamStop};
use crate::mock::stream::BodyEnd;
use crate::plugin::{ChunkHooks, ChunkVerdict};
use crate::upstream::BodyReader;
use std::io;
use std::time::{Duration, Instant};

/// After the client's stream is over, how long to wait for the upstream's final chunk so its
/// connection can be reused.
const DRAIN_AFTER_DONE: Duration = Duration::from_millis(50);

/// How long the client's last bytes wait for the upstream's end, which usually follows its last
/// event within microseconds: arrived, the connection is back in the pool before the client can
/// send its next request. An upstream that holds its body open costs the client this much.
const END_GRACE: Duration = Duration::from_millis(2);

/// `end_after_upstream` on the heap. It is awaited at most once per stream, at its end; in place,
/// its timers (monoio's `Sleep` is 640 bytes, 128-aligned) would size the pump's state, which
/// every open stream holds for its whole life.
fn end_after_upstream_boxed(
    conn: &mut Conn,
    body: BodyReader,
) -> std::pin::Pin<Box<impl std::future::Future<Output = io::Result<()>> + '_>> {
    Box::pin(end_after_upstream(conn, body))
}

/// Ends the client's stream (its terminating chunk) once the upstream's body has ended, or after
/// `END_GRACE`; then waits out the rest of `DRAIN_AFTER_DONE` for the upstream's end. The body
/// goes back to the pool only if it ended cleanly with nothing after the stream's end.
async fn end_after_upstream(conn: &mut Conn, mut body: BodyReader) -> io::Result<()> {
    let reusable = {
        // One read future for both waits: dropping an in-flight read loses its bytes.
        let read = body.next();
        let mut read = std::pin::pin!(read);
        let early = monoio::select! {
            r = &mut read => Some(matches!(r, Ok(None))),
            _ = monoio::time::sleep(END_GRACE) => None,
        };
        conn.end_stream().await?;
        match early {
            Some(clean) => clean,
            None => matches!(
                monoio::time::timeout(DRAIN_AFTER_DONE - END_GRACE, &mut read).await,
                Ok(Ok(None))
            ),
        }
    };
    if !reusable {
        body.abort();
    }
    Ok(())
}

/// The same-format stream pump: the upstream's bytes go to the client untouched, as they come.
///
/// `watch` follows the format's end marker in the relayed bytes. An OpenAI chat stream ends at
/// `data: [DONE]` (after at most `END_GRACE` waiting for the upstream's own end). A body that
/// ends or fails before the marker is reported: the client format's in-stream error and a clean
/// end when the bytes stop between two events, else a cut body (see `EndWatch::ending`).
///
/// A plain `fn` returning an `async move` block, like `pump_translated`: an `async fn` keeps its
/// arguments twice in its state (as passed, and moved into its body), and every open stream holds
/// that state as long as it lasts.
// Not `async fn`, on purpose (above).
#[allow(clippy::manual_async_fn)]
pub fn pump_passthrough<'a>(
    worker: &'a Worker,
    conn: &'a mut Conn,
    http10: bool,
    headers: Vec<(String, Vec<u8>)>,
    mut body: BodyReader,
    mut watch: EndWatch,
) -> impl std::future::Future<Output = Result<Outcome, Failure>> + 'a {
    async move {
        let io_err = |e| (GatewayError::bad_request("client write failed", None), Some(e));
        if conn.head_request {
            // A HEAD gets the stream's head and no events: nothing of the body is waited for.
            send_head(conn, headers, http10, &[], false).await.map_err(io_err)?;
            body.abort();
            return Ok(Outcome::sent(200));
        }
        // Body bytes that came in with the upstream's head leave with the client's head, in one
        // write; with none, the head goes at once (clients wait for it before reading events). A
        // framing error here is met again by the first read below.
        let mut first = body.next_buffered().ok().flatten();
        let mut head = Some(headers);
        if first.is_none() {
            if let Some(h) = head.take() {
                send_head(conn, h, http10, &[], false).await.map_err(io_err)?;
            }
        }
        conn.release_read_buffer();
        worker.metrics.streams_add(1);
        let _guard = StreamGauge(worker);
        let mut parts: Vec<bytes::Bytes> = Vec::with_capacity(4);
        let stop = conn.stream_stopped();
        let mut stop = std::pin::pin!(stop);
        loop {
            let next = match first.take() {
                Some(piece) => Ok(Some(piece)),
                None => monoio::select! {
                    s = &mut stop => {
                        body.abort();
                        return match s {
                            StreamStop::ClientGone => Err(client_disconnected()),
                            StreamStop::Shutdown => end_relay(conn, &watch, &parts, Some(shutdown_fault())).await,
                        };
                    }
                    n = body.next() => n,
                },
            };
            match next {
                Ok(Some(piece)) => {
                    // Everything already received goes out in this one write (as a proxy without
                    // buffering does); nothing waits for bytes that have not arrived.
                    parts.clear();
                    parts.push(piece);
                    let mut failed = None;
                    loop {
                        match body.next_buffered() {
                            Ok(Some(p)) => parts.push(p),
                            Ok(None) => break,
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    }
                    let mut cut = None;
                    for (i, p) in parts.iter().enumerate() {
                        if let Some(end) = watch.feed(p) {
                            cut = Some((i, end));
                            break;
                        }
                    }
                    if let Some((i, end)) = cut {
                        parts.truncate(i + 1);
                        parts[i].truncate(end);
                    }
                    // At `[DONE]` the body's end goes in the same write when the upstream's end is
                    // already here (its connection is then back in the pool before the client can
                    // send its next request); otherwise it follows the upstream's, or `END_GRACE`.
                    let end_now = cut.is_some() && body.is_done();
                    if let Some(h) = head.take() {
                        send_head(conn, h, http10, &parts, end_now).await.map_err(io_err)?;
                    } else {
                        conn.send_chunk_parts(&parts, end_now).await.map_err(io_err)?;
                    }
                    if cut.is_some() {
                        if !end_now {
                            end_after_upstream_boxed(conn, body).await.map_err(io_err)?;
                        }
                        return Ok(relayed(&watch, &parts));
                    }
                    if let Some(e) = failed {
                        return end_relay(conn, &watch, &parts, Some(read_fault(e))).await;
                    }
                }
                Ok(None) => return end_relay(conn, &watch, &parts, None).await,
                Err(e) => return end_relay(conn, &watch, &parts, Some(read_fault(e))).await,
            }
        }
    }
}

/// What a relayed stream that went out whole was: a success, or the upstream's own in-stream
/// error (counted as a midstream error, like a translated one). `last` holds the last bytes
/// relayed, where the error event is.
fn relayed(watch: &EndWatch, last: &[bytes::Bytes]) -> Outcome {
    if watch.relayed_error() {
        Outcome::failed_midstream(200, watch.error_status(last))
    } else {
        Outcome::sent(200)
    }
}

/// Ends a relayed stream once its upstream body has ended (`None`) or failed, or the stream was
/// cut: cleanly if the format's end went by; else with the client format's in-stream error, or
/// a cut body when the bytes stopped inside an event. `last` holds the last bytes relayed.
async fn end_relay(
    conn: &mut Conn,
    watch: &EndWatch,
    last: &[bytes::Bytes],
    failure: Option<UpstreamFault>,
) -> Result<Outcome, Failure> {
    let io_err = |e| (GatewayError::bad_request("client write failed", None), Some(e));
    let ending = watch.ending(failure.is_some());
    if ending == Ending::Whole {
        conn.end_stream().await.map_err(io_err)?;
        return Ok(relayed(watch, last));
    }
    let fault = failure.unwrap_or_else(|| fault_of(StreamError::Truncated));
    if ending == Ending::CutBody {
        // The status is already sent. Close without the final chunk so the client sees a
        // truncated body, never a clean finish.
        conn.close_after = true;
        return Err((GatewayError::UpstreamFault(fault), None));
    }
    let mut out = Vec::new();
    watch.write_error(fault.status, &fault.message, &mut out);
    conn.send_last_chunk(&out).await.map_err(io_err)?;
    Ok(Outcome::failed_midstream(200, fault.status))
}

/// Writes a passthrough stream's head (the upstream's relayed headers) with `parts` as its
/// first chunk, then frees the headers: nothing of the upstream's head stays for the stream's
/// life.
async fn send_head(
    conn: &mut Conn,
    headers: Vec<(String, Vec<u8>)>,
    http10: bool,
    parts: &[bytes::Bytes],
    end: bool,
) -> io::Result<()> {
    let refs: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect();
    conn.start_stream_with(200, &refs, http10, parts, end).await
}

/// One translated stream: the upstream's decoder, the client's encoder and what sits between.
pub struct Translation {
    pub decoder: Box<dyn StreamDecode>,
    pub encoder: Box<dyn StreamEncode>,
    /// Per-chunk plugins; `None` (the default) costs one branch per event.
    pub hooks: Option<ChunkHooks>,
    /// Filled into `Start` when the upstream's format carries no id or model (Bedrock, Cohere).
    pub id: String,
    pub model: String,
    /// Bytes to send on a silent stream, and after how long (`None`: the format allows none).
    pub keepalive: Option<(&'static [u8], Duration)>,
    /// Headers the client's head carries besides `content-type`: the upstream's request id
    /// under the client format's name, Bedrock's chunk content type for InvokeModel streams.
    pub head_headers: Vec<(&'static str, String)>,
    /// The client's format and the upstream's: a finish the client's format cannot tell from
    /// a whole answer ends the stream with its error (`formats::failed_finish`).
    pub client: Format,
    pub upstream: Format,
}

type Failure = (GatewayError, Option<io::Error>);

/// Where the stream stands after an event or a read.
enum Step {
    Continue,
    /// The stream is over and its last bytes are in the buffer.
    End,
}

/// The translated stream pump: upstream bytes -> decoder -> hooks -> encoder -> client, inline in
/// this read loop (no channels, no tasks).
///
/// - Headers go out with the first encoded bytes, so an upstream error that arrives as the first
///   event still becomes a normal HTTP error in the client's format.
/// - Everything decoded from one upstream read is written in one write, before the next read:
///   no event waits for later input (no coalescing across reads), and a slow client holds the
///   upstream read back (backpressure; the per-stream buffer is one read plus its encoding).
/// - After the first byte, failures (upstream error event, malformed or truncated stream, read
///   error) become the client format's in-stream error followed by its clean end.
/// - The client's hang-up aborts the upstream connection.
///
/// A plain `fn` returning an `async move` block: an `async fn` keeps its arguments twice in its
/// state (as passed, and moved into its body), and every open stream holds that state as long
/// as it lasts.
// Not `async fn`, on purpose (above).
#[allow(clippy::manual_async_fn)]
pub fn pump_translated<'a>(
    worker: &'a Worker,
    conn: &'a mut Conn,
    http10: bool,
    mut body: BodyReader,
    mut t: Translation,
) -> impl std::future::Future<Output = Result<Outcome, Failure>> + 'a {
    async move {
        let io_err = |e| (GatewayError::bad_request("client write failed", None), Some(e));
        worker.metrics.streams_add(1);
        let _guard = StreamGauge(worker);
        conn.release_read_buffer();
        // Grows to the largest event's encoding once, then is reused (no allocation per event).
        let mut out: Vec<u8> = Vec::new();
        let stop = conn.stream_stopped();
        let mut stop = std::pin::pin!(stop);
        let (ping, interval) = t.keepalive.unwrap_or((b"", Duration::from_secs(3600)));
        let mut last_write = Instant::now();
        let tick = monoio::time::sleep(interval);
        let mut tick = std::pin::pin!(tick);
        // The status of the in-stream error the stream ends with, if it does.
        let mut reported = None;
        // Cut at the drain timeout: the upstream's connection is not waited for nor reused.
        let mut cut = false;
        loop {
            // The upstream read stays in flight while keepalives go out. Dropping it would drop its
            // buffer (io_uring reads own it), and with it any bytes already received: a chunk-size
            // line cut by a packet boundary, or data landing as the timer fires.
            let next = {
                let read = body.next();
                let mut read = std::pin::pin!(read);
                loop {
                    monoio::select! {
                        s = &mut stop => break Err(s),
                        _ = &mut tick, if t.keepalive.is_some() => {
                            // The timer is reset only here, not per event: a write since the last
                            // tick just moves the next one.
                            if last_write.elapsed() >= interval {
                                if conn.response_started {
                                    conn.send_chunk(ping).await.map_err(io_err)?;
                                } else {
                                    // Silent since the upstream's head (a model still thinking): the
                                    // client gets its head and a ping now rather than nothing until the
                                    // first event, which a load balancer's idle timeout or the client's
                                    // read timeout could cut. An upstream error after this is an
                                    // in-stream error, as after any first byte.
                                    let headers = stream_head(&t);
                                    conn.start_stream_with(200, &headers, http10, &[ping], false)
                                        .await
                                        .map_err(io_err)?;
                                }
                                last_write = Instant::now();
                            }
                            tick.as_mut().reset((last_write + interval).into());
                        }
                        n = &mut read => break Ok(n.map_err(read_fault)),
                    }
                }
            };
            let next = match next {
                Ok(n) => n,
                Err(StreamStop::ClientGone) => {
                    body.abort();
                    return Err(client_disconnected());
                }
                Err(StreamStop::Shutdown) => {
                    cut = true;
                    Err(shutdown_fault())
                }
            };
            // Only whole events stay in `out` if a decoder, hook or encoder panics (`contained`).
            let mut whole = out.len();
            let step = contained(&mut out, &mut whole, |out, whole| match next {
                Ok(Some(piece)) => {
                    t.decoder.push(piece);
                    // What else already arrived is translated into the same write. A framing error
                    // here is left for the next `body.next()`, which meets it again.
                    while let Ok(Some(more)) = body.next_buffered() {
                        t.decoder.push(more);
                    }
                    drain(&mut t, out, whole)
                }
                Ok(None) => match t.decoder.finish() {
                    Ok(()) => match drain(&mut t, out, whole) {
                        Ok(Step::Continue) => {
                            t.encoder.finish(out);
                            Ok(Step::End)
                        }
                        other => other,
                    },
                    Err(e) => {
                        // Events still buffered come first; then the truncation is reported.
                        let _ = drain(&mut t, out, whole);
                        Err(fault_of(e))
                    }
                },
                Err(fault) => Err(fault),
            });
            let step = match step {
                Ok(step) => step,
                // A gateway bug before anything was sent: a plain 500 in the client's format.
                Err(Panicked) if !conn.response_started && out.is_empty() => {
                    body.abort();
                    return Err((GatewayError::Internal, None));
                }
                Err(Panicked) => Err(internal_fault()),
            };
            let step = match step {
                Ok(s) => s,
                Err(fault) if !conn.response_started && out.is_empty() => {
                    body.abort();
                    return Err((GatewayError::UpstreamFault(fault), None));
                }
                Err(fault) => {
                    reported = Some(fault.status);
                    if write_error(&mut t, &fault, &mut out).is_err() {
                        // The encoder itself is broken: send what was whole and cut the stream, which
                        // every client reports as an error (never as a normal finish).
                        body.abort();
                        if !out.is_empty() && conn.response_started {
                            conn.send_chunk(&out).await.map_err(io_err)?;
                        }
                        conn.close_after = true;
                        return Err((GatewayError::Internal, None));
                    }
                    Step::End
                }
            };
            let end = matches!(step, Step::End);
            // The upstream's end usually arrives with its last event. Seen now, its connection is
            // back in the pool before the client's last bytes leave, ready for the client's next
            // request. Bytes after the last event mean a confused upstream: not reused.
            let upstream = if cut {
                UpstreamEnd::Confused
            } else if end {
                match body.next_buffered() {
                    Ok(None) if body.is_done() => UpstreamEnd::Reached,
                    Ok(None) => UpstreamEnd::Pending,
                    _ => UpstreamEnd::Confused,
                }
            } else {
                UpstreamEnd::Pending
            };
            // The client's end waits for the upstream's when that is still to come.
            let end_now = end && !matches!(upstream, UpstreamEnd::Pending);
            if !out.is_empty() || (end && !conn.response_started) {
                // Every event goes out as soon as it is encoded. The head waited for the first ones
                // and leaves with them; the body's end leaves with the last ones: one write each.
                if !conn.response_started {
                    let headers = stream_head(&t);
                    conn.start_stream_with(200, &headers, http10, &[&out], end_now)
                        .await
                        .map_err(io_err)?;
                } else if end_now {
                    conn.send_last_chunk(&out).await.map_err(io_err)?;
                } else {
                    conn.send_chunk(&out).await.map_err(io_err)?;
                }
                out.clear();
                last_write = Instant::now();
            } else if end_now {
                conn.end_stream().await.map_err(io_err)?;
            }
            if end {
                match upstream {
                    UpstreamEnd::Reached => {}
                    UpstreamEnd::Confused => body.abort(),
                    UpstreamEnd::Pending => end_after_upstream_boxed(conn, body).await.map_err(io_err)?,
                }
                return Ok(Outcome {
                    status: 200,
                    midstream_error: reported,
                });
            }
        }
    }
}

/// Where the upstream's body stands once the client's stream is over.
enum UpstreamEnd {
    /// Its end is read; the connection is back in the pool.
    Reached,
    /// Not yet read: the client's end waits for it briefly (`end_after_upstream`).
    Pending,
    /// More bytes came after the last event (or a framing error), or the stream was cut at
    /// shutdown: the connection is closed.
    Confused,
}

/// The client's stream head: the encoder's content type and the translation's extra headers.
fn stream_head(t: &Translation) -> Vec<(&str, &[u8])> {
    let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(1 + t.head_headers.len());
    headers.push(("content-type", t.encoder.content_type().as_bytes()));
    headers.extend(t.head_headers.iter().map(|(n, v)| (*n, v.as_bytes())));
    headers
}

/// Decodes every complete event, runs the hooks and encodes into `out`. `Err` is a failure to
/// report (upstream error event, malformed stream, hook abort).
///
/// `whole` follows the end of the last event encoded completely (see `contained`).
fn drain(t: &mut Translation, out: &mut Vec<u8>, whole: &mut usize) -> Result<Step, UpstreamFault> {
    loop {
        *whole = out.len();
        let mut event = match t.decoder.next_event() {
            Ok(Some(e)) => e,
            Ok(None) if t.decoder.done() => {
                t.encoder.finish(out);
                return Ok(Step::End);
            }
            Ok(None) => return Ok(Step::Continue),
            Err(e) => return Err(fault_of(e)),
        };
        match &mut event {
            StreamEvent::Start { id, model } => {
                if id.is_empty() {
                    id.clone_from(&t.id);
                }
                if model.is_empty() {
                    model.clone_from(&t.model);
                }
            }
            StreamEvent::Error { status, message } => {
                return Err(UpstreamFault {
                    status: *status,
                    kind: FaultKind::from_status(*status),
                    message: std::mem::take(message),
                })
            }
            StreamEvent::Finish { reason, .. } => {
                if let Some(fault) = formats::failed_finish(t.client, t.upstream, reason) {
                    return Err(fault);
                }
            }
            _ => {}
        }
        if let Some(hooks) = t.hooks.as_mut() {
            match hooks.run(&mut event) {
                ChunkVerdict::Pass => {}
                ChunkVerdict::Drop => continue,
                ChunkVerdict::Abort { status, message } => {
                    return Err(UpstreamFault {
                        status,
                        kind: FaultKind::from_status(status),
                        message,
                    })
                }
            }
        }
        t.encoder.encode(&event, out);
    }
}

/// A translation step panicked (a gateway bug; see `contained`).
#[derive(Debug)]
struct Panicked;

/// Runs one synchronous translation step with a gateway bug contained to its stream.
///
/// Without this a panic in a decoder, a chunk hook (plugins run here) or an encoder would be
/// caught only by the server's guard, which can merely cut a started stream. Here the caller
/// turns it into a fault like an upstream error: the client gets its format's in-stream error and
/// a clean end. `out` is cut back to `whole`, the end of the last event encoded completely, so no
/// half-written event reaches the client. While nothing panics this costs a landing pad per
/// upstream read, not per event.
fn contained(
    out: &mut Vec<u8>,
    whole: &mut usize,
    step: impl FnOnce(&mut Vec<u8>, &mut usize) -> Result<Step, UpstreamFault>,
) -> Result<Result<Step, UpstreamFault>, Panicked> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step(&mut *out, &mut *whole))).map_err(|_| {
        // The panic message is already on stderr (the panic hook).
        eprintln!("sluice: a stream translation panicked; the stream ends with an in-stream error");
        out.truncate(*whole);
        Panicked
    })
}

/// Appends the client format's in-stream error for `fault`; `Err` if the encoder panicked (then
/// `out` keeps only what it held before).
fn write_error(t: &mut Translation, fault: &UpstreamFault, out: &mut Vec<u8>) -> Result<(), Panicked> {
    let mut whole = out.len();
    contained(out, &mut whole, |out, _| {
        t.encoder.error(fault.status, &fault.message, out);
        Ok(Step::End)
    })
    .map(|_| ())
}

/// The fault a contained panic is reported as once the stream has started.
/// A client's stream (or upstream call) ended because its worker's drain timeout ran out
/// (`http::drain`).
pub(super) fn shutdown_fault() -> UpstreamFault {
    UpstreamFault {
        status: 503,
        kind: FaultKind::Overloaded,
        message: "the gateway is shutting down: the stream was ended before the upstream finished".into(),
    }
}

fn client_disconnected() -> Failure {
    (
        GatewayError::bad_request("client disconnected", None),
        Some(io::ErrorKind::ConnectionAborted.into()),
    )
}

fn internal_fault() -> UpstreamFault {
    UpstreamFault {
        status: 500,
        kind: FaultKind::Server,
        message: GatewayError::Internal.message(),
    }
}

/// The fault an upstream body's read failure mid-stream is reported as.
fn read_fault(e: crate::upstream::UpstreamError) -> UpstreamFault {
    UpstreamFault {
        status: e.status(),
        kind: FaultKind::Server,
        message: format!("upstream stream failed: {}", GatewayError::from(e).message()),
    }
}

fn fault_of(e: StreamError) -> UpstreamFault {
    UpstreamFault {
        status: 502,
        kind: FaultKind::Server,
        message: e.to_string(),
    }
}

/// Sends prepared frames (the in-process mock's streams), `delay` apart, one write each, then
/// ends the body as `body_end` says (a cut closes the connection without the body's end, a
/// stall first waits). `fault` is the status of the failure the frames play (an in-stream
/// error, an unfinished, cut or stalled stream), for the metrics.
/// Cut at shutdown, the stream ends with `write_error`'s in-stream error, as a relayed one does.
#[allow(clippy::too_many_arguments)]
pub async fn send_frames(
    worker: &Worker,
    conn: &mut Conn,
    http10: bool,
    headers: &[(&str, &[u8])],
    frames: &[Vec<u8>],
    delay: Duration,
    body_end: BodyEnd,
    fault: Option<u16>,
    write_error: impl FnOnce(u16, &str, &mut Vec<u8>),
) -> Result<Outcome, Failure> {
    let io_err = |e| (GatewayError::bad_request("client write failed", None), Some(e));
    conn.start_stream(200, headers, http10).await.map_err(io_err)?;
    worker.metrics.streams_add(1);
    let _guard = StreamGauge(worker);
    let stop = conn.stream_stopped();
    let mut stop = std::pin::pin!(stop);
    let mut frames = frames.iter().enumerate();
    loop {
        let (wait, frame) = match frames.next() {
            Some((i, frame)) => (if i > 0 { delay } else { Duration::ZERO }, Some(frame)),
            None if body_end == BodyEnd::Stall => (crate::mock::stream::STALL, None),
            None => break,
        };
        if !wait.is_zero() {
            monoio::select! {
                s = &mut stop => return match s {
                    StreamStop::ClientGone => Err(client_disconnected()),
                    StreamStop::Shutdown => {
                        let fault = shutdown_fault();
                        let mut out = Vec::new();
                        write_error(fault.status, &fault.message, &mut out);
                        conn.send_last_chunk(&out).await.map_err(io_err)?;
                        Ok(Outcome::failed_midstream(200, fault.status))
                    }
                },
                _ = monoio::time::sleep(wait) => {}
            }
        }
        match frame {
            Some(frame) => conn.send_chunk(frame).await.map_err(io_err)?,
            None => break,
        }
    }
    if body_end == BodyEnd::Clean {
        conn.end_stream().await.map_err(io_err)?;
    } else {
        conn.close_after = true;
    }
    Ok(Outcome {
        status: 200,
        midstream_error: fault,
    })
}

struct StreamGauge<'a>(&'a Worker);

impl Drop for StreamGauge<'_> {
    fn drop(&mut self) {
        self.0.metrics.streams_add(-1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::ChatRequest;
    use crate::formats::{self, Format};
    use crate::plugin::ChunkHook;

    struct Shout;
    impl ChunkHook for Shout {
        fn on_event(&mut self, event: &mut StreamEvent) -> ChunkVerdict {
            match event {
                StreamEvent::TextDelta { text, .. } if text.contains("stop") => ChunkVerdict::Abort {
                    status: 429,
                    message: "budget spent".into(),
                },
                StreamEvent::TextDelta { text, .. } => {
                    *text = text.to_uppercase();
                    ChunkVerdict::Pass
                }
                _ => ChunkVerdict::Pass,
            }
        }
    }

    fn translation(upstream: Format, client: Format, hooks: Option<ChunkHooks>) -> Translation {
        let req = ChatRequest {
            stream: true,
            ..Default::default()
        };
        Translation {
            decoder: formats::stream_decoder(upstream),
            encoder: formats::stream_encoder(client, false, &req),
            hooks,
            id: "sluice-7".into(),
            model: "claude-x".into(),
            keepalive: None,
            head_headers: Vec::new(),
            client,
            upstream,
        }
    }

    const OPENAI_UP: &str = "data: {\"id\":\"\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hello\"},\"finish_reason\":null}]}\n\n";

    #[test]
    fn drain_fills_start_and_runs_hooks_on_every_event() {
        let hooks = ChunkHooks::new(vec![Box::new(Shout)]);
        let mut t = translation(Format::OpenAi, Format::Anthropic, hooks);
        t.decoder.push(bytes::Bytes::from_static(OPENAI_UP.as_bytes()));
        let mut out = Vec::new();
        assert!(matches!(drain(&mut t, &mut out, &mut 0), Ok(Step::Continue)));
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("event: message_start\n"), "{text}");
        assert!(
            text.contains("\"id\":\"sluice-7\"") && text.contains("\"model\":\"claude-x\""),
            "{text}"
        );
        assert!(
            text.contains("\"text\":\"HELLO\""),
            "the hook changed the delta: {text}"
        );
    }

    #[test]
    fn hook_abort_and_upstream_error_become_faults() {
        let hooks = ChunkHooks::new(vec![Box::new(Shout)]);
        let mut t = translation(Format::OpenAi, Format::Gemini, hooks);
        t.decoder
            .push(bytes::Bytes::from(OPENAI_UP.replace("hello", "please stop")));
        let mut out = Vec::new();
        let fault = drain(&mut t, &mut out, &mut 0).err().expect("aborted");
        assert_eq!((fault.status, fault.message.as_str()), (429, "budget spent"));

        let mut t = translation(Format::Anthropic, Format::OpenAi, None);
        t.decoder.push(bytes::Bytes::from_static(
            b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
        ));
        let fault = drain(&mut t, &mut Vec::new(), &mut 0).err().expect("upstream error");
        assert_eq!((fault.status, fault.message.as_str()), (529, "Overloaded"));
    }

    #[test]
    fn drain_ends_at_the_upstream_end_marker() {
        let mut t = translation(Format::OpenAi, Format::Cohere, None);
        let done = format!("{OPENAI_UP}data: {{\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\ndata: [DONE]\n\n");
        t.decoder.push(bytes::Bytes::from(done));
        let mut out = Vec::new();
        assert!(matches!(drain(&mut t, &mut out, &mut 0), Ok(Step::End)));
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("event: message-end\n"), "{text}");
        assert!(text.contains("\"finish_reason\":\"COMPLETE\""), "{text}");
    }

    #[test]
    fn a_malformed_call_is_an_error_where_the_client_cannot_name_it() {
        let malformed = concat!(
            "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Let me\"}]}}]}\r\n\r\n",
            "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[]},\"finishReason\":\"MALFORMED_FUNCTION_CALL\"}]}\r\n\r\n",
        );
        let run = |client| {
            let mut t = translation(Format::Gemini, client, None);
            t.decoder.push(bytes::Bytes::from_static(malformed.as_bytes()));
            let mut out = Vec::new();
            drain(&mut t, &mut out, &mut 0)?;
            // The upstream's body ends here (Gemini marks no end of its own).
            t.encoder.finish(&mut out);
            Ok::<_, UpstreamFault>(String::from_utf8_lossy(&out).into_owned())
        };
        // OpenAI and Anthropic would read `stop` / `end_turn`: the failed turn passed for whole.
        for client in [Format::OpenAi, Format::Anthropic] {
            let fault = run(client).expect_err("an error");
            assert_eq!(fault.status, 500, "{client:?}");
            assert!(fault.message.contains("MALFORMED_FUNCTION_CALL"), "{}", fault.message);
        }
        // Bedrock names it; Cohere reads it as `ERROR`.
        assert!(run(Format::Bedrock).unwrap().contains("malformed_tool_use"));
        assert!(run(Format::Cohere).unwrap().contains("\"finish_reason\":\"ERROR\""));
    }

    /// A chunk hook with a bug: panics on the second text delta.
    struct Buggy(u32);
    impl ChunkHook for Buggy {
        fn on_event(&mut self, event: &mut StreamEvent) -> ChunkVerdict {
            if let StreamEvent::TextDelta { .. } = event {
                self.0 += 1;
                assert!(self.0 < 2, "a plugin bug");
            }
            ChunkVerdict::Pass
        }
    }

    /// Translates `upstream` for `client` as the pump does when a hook panics mid-read: whatever
    /// was whole, then the in-stream error.
    fn run_with_buggy_hook(upstream: &str, client: Format) -> Vec<u8> {
        let mut t = translation(Format::OpenAi, client, ChunkHooks::new(vec![Box::new(Buggy(0))]));
        t.decoder.push(bytes::Bytes::from(upstream.to_string()));
        let mut out = Vec::new();
        let mut whole = 0;
        let step = contained(&mut out, &mut whole, |out, whole| drain(&mut t, out, whole));
        assert!(step.is_err(), "the hook's panic is caught");
        write_error(&mut t, &internal_fault(), &mut out).expect("the encoder is sound");
        out
    }

    #[test]
    fn a_panicking_hook_ends_the_stream_with_the_clients_in_stream_error() {
        use crate::canonical::stream::StreamCollector;
        let second = OPENAI_UP
            .replace("hello", " world")
            .replace("\"role\":\"assistant\",", "");
        let upstream = format!("{OPENAI_UP}{second}");
        for client in Format::ALL {
            let out = run_with_buggy_hook(&upstream, client);
            // What the client reads decodes in its own format: the first delta, then the error.
            let mut dec = formats::stream_decoder(client);
            dec.push(bytes::Bytes::from(out.clone()));
            let _ = dec.finish();
            let mut got = StreamCollector::default();
            while let Ok(Some(e)) = dec.next_event() {
                got.push(&e);
            }
            let text = String::from_utf8_lossy(&out);
            assert_eq!(
                got.error,
                Some((500, "internal error in the gateway".into())),
                "{client:?}: {text}"
            );
            assert!(text.contains("hello") && !text.contains("world"), "{client:?}: {text}");
        }
    }

    /// An encoder with a bug: writes half an event, then panics, on the second event it meets,
    /// and panics in `error` too.
    struct HalfWriter(u32);
    impl StreamEncode for HalfWriter {
        fn content_type(&self) -> &'static str {
            "text/event-stream"
        }
        fn encode(&mut self, _event: &StreamEvent, out: &mut Vec<u8>) {
            self.0 += 1;
            out.extend_from_slice(b"data: {\"n\":");
            assert!(self.0 < 2, "an encoder bug");
            out.extend_from_slice(b"1}\n\n");
        }
        fn finish(&mut self, _out: &mut Vec<u8>) {}
        fn error(&mut self, _status: u16, _message: &str, out: &mut Vec<u8>) {
            out.extend_from_slice(b"data: {\"err");
            panic!("still broken");
        }
    }

    #[test]
    fn a_panicking_encoder_leaves_only_whole_events() {
        let mut t = translation(Format::OpenAi, Format::OpenAi, None);
        t.encoder = Box::new(HalfWriter(0));
        t.decoder.push(bytes::Bytes::from_static(OPENAI_UP.as_bytes()));
        let mut out = b"data: {\"earlier\":1}\n\n".to_vec();
        let mut whole = out.len();
        let step = contained(&mut out, &mut whole, |out, whole| drain(&mut t, out, whole));
        assert!(step.is_err());
        assert_eq!(out, b"data: {\"earlier\":1}\n\ndata: {\"n\":1}\n\n");
        assert!(write_error(&mut t, &internal_fault(), &mut out).is_err());
        assert_eq!(
            out, b"data: {\"earlier\":1}\n\ndata: {\"n\":1}\n\n",
            "the half error is dropped"
        );
    }
}
