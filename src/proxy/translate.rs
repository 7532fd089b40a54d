//! Cross-format path: the client's body is decoded into canonical types, encoded for the
//! provider's format, sent, and the answer (or error) is decoded and re-encoded in the client's
//! format. Streams go through one stateful decoder (upstream format) and one stateful encoder
//! (client format) in `stream::pump_translated`.

use super::passthrough::ANTHROPIC_VERSION;
use super::{unless_hung_up, Outcome, RequestContext, Worker};
use crate::canonical::{ChatRequest, ConvertError, UpstreamFault};
use crate::config::{Provider, ProviderKind};
use crate::error::GatewayError;
use crate::formats::{self, Codec, Format};
use crate::http::{Conn, Request};
use crate::route::Operation;
use crate::upstream::{self, OutRequest};
use bytes::Bytes;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Failure = (GatewayError, Option<io::Error>);

/// Ids for responses whose upstream gave none (per worker would do; one relaxed counter is cheap).
/// The count starts from the per-process random base the error ids use, so that two gateways
/// behind one load balancer, or one restarted, do not hand out the same ids in the same order.
pub fn next_response_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    crate::formats::error_id_base().wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
}

fn codec_for(format: Format) -> Result<&'static Codec, Failure> {
    formats::codec(format).ok_or_else(|| {
        (
            GatewayError::NotImplemented(format!(
                "the {} format cannot be translated in this build",
                format.name()
            )),
            None,
        )
    })
}

/// What the answer to a Responses request repeats of it, read with the request.
type Echo = Option<formats::openai::responses::Echo>;

/// Decodes the client's chat request into canonical form, with the routed model (and for a
/// Responses request, what its answer repeats of it).
fn decode(ctx: &RequestContext<'_>, req: &Request, model: &str, stream: bool) -> Result<(ChatRequest, Echo), Failure> {
    if ctx.api.op == Operation::Invoke {
        let path_model = ctx.api.path_model.as_deref().unwrap_or(model);
        let mut canonical =
            formats::bedrock::invoke::decode_invoke_request(&req.body, path_model, stream).map_err(refused)?;
        canonical.model = model.to_string();
        return Ok((canonical, None));
    }
    if (ctx.api.format, ctx.api.op) == (Format::OpenAi, Operation::Completions) {
        let mut canonical = formats::openai::completions::decode_request(&req.body).map_err(refused)?;
        canonical.model = model.to_string();
        return Ok((canonical, None));
    }
    if (ctx.api.format, ctx.api.op) == (Format::OpenAi, Operation::Responses) {
        let (mut canonical, echo) = formats::openai::responses::decode_request_and_echo(&req.body).map_err(refused)?;
        canonical.model = model.to_string();
        return Ok((canonical, Some(echo)));
    }
    if (ctx.api.format, ctx.api.cohere_v1) == (Format::Cohere, true) && ctx.api.op == Operation::Chat {
        let mut canonical = formats::cohere::v1chat::decode_request(&req.body).map_err(refused)?;
        canonical.model = model.to_string();
        return Ok((canonical, None));
    }
    if ctx.api.op != Operation::Chat {
        return Err((
            GatewayError::NotImplemented(format!(
                "{} {} cannot be translated to another provider's format",
                ctx.api.format.name(),
                ctx.api.op.name()
            )),
            None,
        ));
    }
    let codec = codec_for(ctx.api.format)?;
    let mut canonical = (codec.decode_request)(&req.body, ctx.api.path_model.as_deref(), stream).map_err(refused)?;
    canonical.model = model.to_string();
    if ctx.api.format == Format::Anthropic {
        formats::anthropic::request::keep_beta_header(&mut canonical, req.header_str("anthropic-beta"));
    }
    Ok((canonical, None))
}

/// A client request the target cannot take (or a malformed one): the client's 400, with the
/// codec's message, which names the field.
pub(super) fn refused(e: ConvertError) -> Failure {
    (e.into(), None)
}

/// An upstream answer its codec could not read: a 502 that says which format, what kind of
/// answer (`what`: "", "embeddings ", ...) and the decoder's detail, which is what an operator
/// needs.
pub(super) fn undecodable(target: Format, what: &str, e: impl std::fmt::Display) -> Failure {
    let why = format!("the {} {what}answer could not be decoded: {e}", target.name());
    (GatewayError::Upstream(upstream::UpstreamError::Undecodable(why)), None)
}

/// The keepalive a client format tolerates on a silent stream (PROTOCOLS 1.3): a comment for
/// OpenAI and Cohere, Anthropic's own `ping` event; an empty line for Cohere v1's JSON lines
/// (which the SDK skips); nothing for Gemini (its decoder fails on any non-`data: ` line) or
/// Bedrock (event-stream has no comment frame).
fn keepalive_frame(api: &crate::route::ApiRoute) -> Option<&'static [u8]> {
    match api.format {
        Format::Cohere if api.cohere_v1 => Some(b"\n"),
        Format::OpenAi | Format::Cohere => Some(b": ping\n\n"),
        Format::Anthropic => Some(b"event: ping\ndata: {\"type\":\"ping\"}\n\n"),
        Format::Gemini | Format::Bedrock => None,
    }
}

/// The client format's stream encoder for `canonical`, decoded from the client's `body` (a
/// Responses stream repeats settings of the request: `echo`, read with it by `decode`).
fn stream_encoder(
    ctx: &RequestContext<'_>,
    canonical: &ChatRequest,
    body: &[u8],
    echo: Echo,
) -> Box<dyn crate::canonical::stream::StreamEncode> {
    if ctx.api.json_array_stream {
        return Box::new(formats::gemini::stream::GeminiStreamEncoder::json_array(canonical));
    }
    if ctx.api.op == Operation::Completions {
        return Box::new(formats::openai::completions::CompletionStreamEncoder::new(canonical));
    }
    if ctx.api.op == Operation::Responses {
        let responses = match echo {
            Some(echo) => formats::openai::responses::ResponsesStreamEncoder::with_echo(canonical, echo),
            None => formats::openai::responses::ResponsesStreamEncoder::new(canonical, body),
        };
        return Box::new(crate::canonical::stream::ArgumentsNeverEmpty::new(responses));
    }
    if ctx.api.cohere_v1 {
        let v1 = formats::cohere::v1chat::V1StreamEncoder::new(body);
        return Box::new(crate::canonical::stream::ArgumentsNeverEmpty::new(v1));
    }
    if ctx.api.op == Operation::Invoke {
        return formats::bedrock::invoke_stream::stream_encoder(invoke_family(ctx, body), canonical, body);
    }
    formats::stream_encoder(ctx.api.format, false, canonical)
}

/// The model family of a Bedrock InvokeModel client's body (decoded already).
fn invoke_family(ctx: &RequestContext<'_>, body: &[u8]) -> formats::bedrock::invoke::InvokeFamily {
    formats::bedrock::invoke::InvokeFamily::of_decoded(ctx.api.path_model.as_deref().unwrap_or_default(), body)
}

/// The upstream's request id, under the header the client's SDK reads it from (PROTOCOLS 9,
/// item 17: OpenAI `x-request-id`, Anthropic `request-id`, Bedrock `x-amzn-RequestId`), so
/// `_request_id` in the SDK names the upstream request that a provider's support can look up.
/// Gemini and Cohere clients read none.
pub(super) fn relayed_request_id(resp: &upstream::UpstreamResponse, client: Format) -> Option<(&'static str, String)> {
    let name = request_id_header(client)?;
    let value = ["x-request-id", "request-id", "x-amzn-requestid"]
        .iter()
        .find_map(|h| resp.header(h))?
        .trim_ascii();
    let plain = !value.is_empty() && value.len() <= 128 && value.iter().all(|b| (0x21..0x7f).contains(b));
    plain.then(|| (name, String::from_utf8_lossy(value).into_owned()))
}

/// The header a client format's SDK reads its request id from, if it reads one.
pub fn request_id_header(client: Format) -> Option<&'static str> {
    match client {
        Format::OpenAi => Some("x-request-id"),
        Format::Anthropic => Some("request-id"),
        Format::Bedrock => Some("x-amzn-RequestId"),
        Format::Gemini | Format::Cohere => None,
    }
}

/// The in-process mock's request id for one answer, under the client format's header, so an
/// SDK's `_request_id` works against the default (offline) config as against a provider.
pub fn mock_request_id(client: Format) -> Option<(&'static str, String)> {
    request_id_header(client).map(|name| (name, format!("req_mock_{:016x}", next_response_id())))
}

/// The retry hints an upstream's error carries, for the client's error reply: `retry-after`
/// (seconds or an HTTP date), `retry-after-ms` and `x-should-retry`. The openai and anthropic
/// SDKs read all three to time (or skip) their automatic retries, and any client may honour
/// `retry-after`. Values are relayed as sent, if they are plain visible ASCII.
pub(super) fn relay_retry_hints(resp: &upstream::UpstreamResponse, out: &mut Vec<(&'static str, String)>) {
    for name in ["retry-after", "retry-after-ms", "x-should-retry"] {
        let Some(value) = resp.header(name) else { continue };
        let value = value.trim_ascii();
        if !value.is_empty() && value.len() <= 64 && value.iter().all(|b| (0x20..0x7f).contains(b)) {
            out.push((name, String::from_utf8_lossy(value).into_owned()));
        }
    }
}

/// Bedrock InvokeModel's usage and latency headers, for an InvokeModel client (else nothing).
fn invoke_headers(
    ctx: &RequestContext<'_>,
    resp: &crate::canonical::ChatResponse,
    latency: Duration,
    out: &mut Vec<(&'static str, String)>,
) {
    if ctx.api.op == Operation::Invoke {
        out.extend(formats::bedrock::invoke::invocation_headers(
            &resp.usage,
            millis(latency),
        ));
    }
}

/// Whole milliseconds, as Bedrock's latency fields count them.
pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Encodes the answer for the client: its format's response, or for Bedrock InvokeModel the
/// model-native (Anthropic) body. `latency` is how long the model took, for the formats that
/// report it (Bedrock Converse `metrics.latencyMs`). `req` is the request as decoded from the
/// client's `body`, with `echo` for a Responses answer.
fn encode_answer(
    ctx: &RequestContext<'_>,
    codec: &Codec,
    req: &ChatRequest,
    body: &[u8],
    echo: Echo,
    resp: &crate::canonical::ChatResponse,
    latency: Duration,
) -> Vec<u8> {
    match (ctx.api.format, ctx.api.op) {
        (_, Operation::Responses) => {
            let echo = echo.unwrap_or_else(|| formats::openai::responses::Echo::of(req, body));
            formats::openai::responses::encode_response(resp, &echo)
        }
        (_, Operation::Invoke) => {
            let family = invoke_family(ctx, body);
            formats::bedrock::invoke::encode_invoke_response(family, resp, body, millis(latency))
        }
        (Format::Cohere, _) if ctx.api.cohere_v1 => {
            formats::cohere::v1chat::encode_response(resp, &formats::cohere::v1chat::History::of(body))
        }
        (_, Operation::Completions) => formats::openai::completions::encode_response(resp),
        (Format::Bedrock, _) => formats::bedrock::encode_response_timed(resp, millis(latency)),
        _ => (codec.encode_response)(resp),
    }
}

pub(super) async fn reply(
    conn: &mut Conn,
    status: u16,
    content_type: &str,
    extra_headers: &[(&'static str, String)],
    body: Vec<u8>,
    keep_alive: bool,
) -> Result<Outcome, Failure> {
    let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(1 + extra_headers.len());
    headers.push(("content-type", content_type.as_bytes()));
    headers.extend(extra_headers.iter().map(|(n, v)| (*n, v.as_bytes())));
    conn.send_full(status, &headers, Bytes::from(body), keep_alive)
        .await
        .map_err(|e| (GatewayError::bad_request("client write failed", None), Some(e)))?;
    Ok(Outcome::sent(status))
}

/// The in-process mock answering a non-OpenAI client: canonical scenario, encoded in its format.
pub async fn serve_mock(
    worker: &Worker,
    provider: &Provider,
    ctx: &RequestContext<'_>,
    req: &Request,
    conn: &mut Conn,
    model: &str,
    stream: bool,
) -> Result<Outcome, Failure> {
    let (canonical, echo) = decode(ctx, req, model, stream)?;
    let codec = codec_for(ctx.api.format)?;
    if canonical.stream {
        let id = format!("mock-{:x}", next_response_id());
        let (events, ending) = crate::mock::stream::scenario_events(&canonical, &id, provider.mock.chunks)
            .map_err(|fault| (GatewayError::UpstreamFault(fault), None))?;
        let invoke = ctx.api.op == Operation::Invoke;
        let mut enc = if ctx.api.cohere_v1 {
            crate::mock::stream::cohere_v1_encoder(&req.body, &events)
        } else if ctx.api.json_array_stream || ctx.api.op == Operation::Responses {
            stream_encoder(ctx, &canonical, &req.body, echo)
        } else {
            match invoke {
                true => {
                    crate::mock::stream::invoke_encoder(invoke_family(ctx, &req.body), &canonical, &req.body, &events)
                }
                false => crate::mock::stream::encoder(ctx.api.format, false, &canonical, &events),
            }
        };
        let frames = crate::mock::stream::encode_frames(enc.as_mut(), &events, &ending);
        let fault = match &ending {
            crate::mock::stream::Ending::Complete => None,
            crate::mock::stream::Ending::CutOff
            | crate::mock::stream::Ending::Stall
            | crate::mock::stream::Ending::Unfinished => Some(502),
            crate::mock::stream::Ending::Error { status, .. } => Some(*status),
        };
        let mut headers: Vec<(&str, &[u8])> = vec![("content-type", enc.content_type().as_bytes())];
        if ctx.api.op == Operation::Invoke {
            let invoke = formats::bedrock::invoke::STREAM_CONTENT_TYPE_HEADER;
            headers.push((invoke.0, invoke.1.as_bytes()));
        }
        let rid = mock_request_id(ctx.api.format);
        if let Some((name, value)) = &rid {
            headers.push((name, value.as_bytes()));
        }
        return super::stream::send_frames(
            worker,
            conn,
            req.http10,
            &headers,
            &frames,
            provider.mock.chunk_delay,
            ending.body_end(),
            fault,
            // The encoder has played the whole answer by now: the error is written afresh, as a
            // relayed stream's is.
            |status, message, out| {
                crate::formats::stream_end::EndWatch::new(super::passthrough::end_mark(ctx.api))
                    .write_error(status, message, out)
            },
        )
        .await;
    }
    match crate::mock::scenario::respond(&canonical, &format!("mock-{:x}", next_response_id())) {
        Ok(resp) => {
            let latency = ctx.started.elapsed();
            let mut headers = Vec::new();
            invoke_headers(ctx, &resp, latency, &mut headers);
            headers.extend(mock_request_id(ctx.api.format));
            reply(
                conn,
                200,
                "application/json",
                &headers,
                encode_answer(ctx, codec, &canonical, &req.body, echo, &resp, latency),
                req.keep_alive,
            )
            .await
        }
        Err(fault) => Err((GatewayError::UpstreamFault(fault), None)),
    }
}

/// An upstream's error answer (`data`, its whole body) as the client's error: the fault decoded
/// from the upstream's format, with the retry delay a Gemini upstream names in its body added to
/// the headers the client's SDK reads (`retry-after`, `retry-after-ms`).
pub(super) fn upstream_fault(
    ctx: &mut RequestContext<'_>,
    target_format: Format,
    resp: &upstream::UpstreamResponse,
    data: &[u8],
) -> Failure {
    let status = resp.status;
    // A compressed error body is unreadable: the fault keeps its status, with no text from it.
    let data = if resp.content_coding().is_some() { &[][..] } else { data };
    let hinted = ctx.error_headers.iter().any(|(n, _)| n.starts_with("retry-after"));
    if let (Format::Gemini, false) = (target_format, hinted) {
        // Gemini names its delay in the body (`RetryInfo`): the client's SDK reads headers.
        if let Some(ms) = formats::gemini::retry_delay_ms(data) {
            ctx.error_headers.push(("retry-after", ms.div_ceil(1000).to_string()));
            ctx.error_headers.push(("retry-after-ms", ms.to_string()));
        }
    }
    let mut fault: UpstreamFault = match (target_format, formats::codec(target_format)) {
        // Bedrock names the exception only in `x-amzn-ErrorType`; its body is `{"message"}`.
        (Format::Bedrock, _) => formats::bedrock::decode_error_typed(status, resp.header("x-amzn-errortype"), data),
        (_, Some(codec)) => (codec.decode_error)(status, data),
        (_, None) => UpstreamFault {
            status,
            kind: crate::canonical::FaultKind::from_status(status),
            message: String::from_utf8_lossy(data).into_owned(),
        },
    };
    if refused_credentials(target_format, &fault, data) {
        fault.message = credentials_message(&ctx.provider, target_format, &fault);
    }
    (GatewayError::UpstreamFault(fault), None)
}

/// Whether an upstream's error says it refused the credentials Sluice sent it (the provider's
/// `keys`; the client's never go upstream): a 401 or 403 by status or by name (Bedrock's
/// `UnrecognizedClientException` on a 403, Cohere's 498), or Google's 400 `API_KEY_INVALID`.
fn refused_credentials(target_format: Format, fault: &UpstreamFault, data: &[u8]) -> bool {
    use crate::canonical::FaultKind;
    matches!(fault.status, 401 | 403)
        || matches!(fault.kind, FaultKind::Authentication | FaultKind::PermissionDenied)
        || (target_format == Format::Gemini
            && fault.status == 400
            && memchr::memmem::find(data, b"API_KEY_INVALID").is_some())
}

/// The message of a refusal of the gateway's credentials: the client's SDK raises its
/// authentication or permission error for it (the status is kept: no retry can help, and the
/// same-format path relays it as sent), so the text says whose key it was and which upstream.
fn credentials_message(provider: &str, target_format: Format, fault: &UpstreamFault) -> String {
    format!(
        "upstream provider {provider:?} ({}) refused the gateway's credentials for it (HTTP {}): \
         check the keys Sluice is configured with for {provider:?}, not the client's key. \
         The upstream said: {}",
        target_format.name(),
        fault.status,
        fault.message
    )
}

/// The full upstream path for one of the provider's own paths (`/v1/embeddings`, ...): the base
/// URL's prefix, then the path in the provider's style (Azure, Vertex).
pub(super) fn provider_path(provider: &Provider, standard: &str) -> Result<String, Failure> {
    let Some(origin) = provider.origin.as_ref() else {
        return Err((
            GatewayError::NotImplemented(format!("provider {:?} has no base_url", provider.name)),
            None,
        ));
    };
    let mut path = origin.path_prefix.clone();
    path.push_str(&provider.styled_path(standard));
    Ok(path)
}

/// POSTs a JSON body (the format's own, already encoded) to `path` on the provider: its
/// credential, Anthropic's version header, a SigV4 signature for Bedrock. Used by the one-call
/// operations (embeddings, token counts); chat adds betas and streams, so it sends its own.
pub(super) async fn post_json(
    worker: &Worker,
    provider: &Provider,
    key_index: usize,
    path: &str,
    body: Vec<u8>,
) -> Result<upstream::UpstreamResponse, Failure> {
    let Some(origin) = provider.origin.as_ref() else {
        return Err((
            GatewayError::NotImplemented(format!("provider {:?} has no base_url", provider.name)),
            None,
        ));
    };
    let mut headers: Vec<(&str, &[u8])> = vec![("content-type", b"application/json"), ("accept", b"application/json")];
    if let Some(auth) = provider.auth_headers.get(key_index) {
        for (n, v) in auth {
            headers.push((n, v.as_bytes()));
        }
    }
    if provider.kind == ProviderKind::Anthropic {
        headers.push(("anthropic-version", ANTHROPIC_VERSION.as_bytes()));
    }
    let signed = super::sigv4_headers(provider, path, &body, Some("application/json")).map_err(|e| (e, None))?;
    for (n, v) in &signed {
        headers.push((n, v.as_bytes()));
    }
    let parts = [Bytes::from(body)];
    let out = OutRequest {
        method: "POST",
        path,
        headers: &headers,
        body: &parts,
    };
    let sent = Instant::now();
    let resp = upstream::send(&worker.pool, origin, &provider.timeouts, &out)
        .await
        .map_err(|e| (e.into(), None))?;
    worker.metrics.upstream_latency(&provider.name, sent.elapsed());
    Ok(resp)
}

/// A success whose body is compressed (the upstream ignored that Sluice asks for identity) is
/// refused by name here, rather than met by the decoder as invalid JSON or a broken stream.
pub(super) fn refuse_encoded(resp: &upstream::UpstreamResponse) -> Result<(), Failure> {
    match resp.content_coding() {
        Some(c) if (200..300).contains(&resp.status) => {
            let c = String::from_utf8_lossy(&c[..c.len().min(64)]).into_owned();
            Err((
                GatewayError::Upstream(upstream::UpstreamError::UnsupportedEncoding(c)),
                None,
            ))
        }
        _ => Ok(()),
    }
}

/// Reads a non-stream answer whole. A success gives its bytes; an error answer becomes the
/// client's error, with the upstream's retry hints and request id on it.
pub(super) async fn read_answer(
    ctx: &mut RequestContext<'_>,
    resp: &mut upstream::UpstreamResponse,
    target: Format,
) -> Result<Bytes, Failure> {
    refuse_encoded(resp)?;
    let data = resp
        .body
        .read_all(answer_limit(ctx))
        .await
        .map_err(|e| (e.into(), None))?;
    check_answer(ctx, resp, data, target)
}

/// The most of an answer read whole: the client's own body limit, and never under 64 MiB (an
/// embeddings answer is far larger than the request that asked for it).
pub(super) fn answer_limit(ctx: &RequestContext<'_>) -> usize {
    ctx.snap.server.limits.max_body_bytes.max(64 * 1024 * 1024)
}

/// `read_answer`'s second half, for answers read apart from the context (calls in parallel).
pub(super) fn check_answer(
    ctx: &mut RequestContext<'_>,
    resp: &upstream::UpstreamResponse,
    data: Bytes,
    target: Format,
) -> Result<Bytes, Failure> {
    let ok = (200..300).contains(&resp.status);
    if !ok {
        relay_retry_hints(resp, &mut ctx.error_headers);
        ctx.error_headers.extend(relayed_request_id(resp, ctx.api.format));
    }
    if crate::wire::json::too_deep(&data, crate::wire::json::MAX_DEPTH) {
        let why = "the upstream's answer nests JSON too deeply";
        return Err((GatewayError::Upstream(upstream::UpstreamError::BadResponse(why)), None));
    }
    if !ok {
        return Err(upstream_fault(ctx, target, resp, &data));
    }
    Ok(data)
}

/// The tool names the upstream's encoder renames in `canonical` (`formats::tool_names`), to map
/// its answer back; None (the common case, nothing allocated) when every name fits. Worked out
/// again from the request rather than kept from the encoder: it is only a scan of the names.
fn tool_names(canonical: &ChatRequest, target: Format, via_responses: bool) -> Option<formats::tool_names::Renames> {
    let rule = match via_responses {
        true => formats::tool_names::OPENAI,
        false => formats::tool_names::rule(target),
    };
    formats::tool_names::Renames::of(canonical, rule)
}

/// Sends a translated request to the provider and answers in the client's format.
///
/// Three futures, awaited one after the other: the request's decoding and sending (the block
/// below), then the stream's pump or the answer's reading. What the first holds across the
/// upstream call (the canonical request, its encoding, headers) is then never part of the
/// pump's state, which every open translated stream holds for as long as it lasts (a future's
/// state keeps room for every value live across two of its awaits: the streams bench measures
/// it per stream).
#[allow(clippy::too_many_arguments)]
pub async fn forward(
    worker: &Worker,
    ctx: &mut RequestContext<'_>,
    req: &Request,
    conn: &mut Conn,
    model: &str,
    stream: bool,
    provider: &Arc<Provider>,
    key_index: usize,
) -> Result<Outcome, Failure> {
    // Decode, encode, send. Taken apart in a `let`: a `match` on it would keep its value (and
    // the `?`'s) beside the pump's state until the match ends, as long as the stream.
    let sent = async {
        let client = codec_for(ctx.api.format)?;
        let target_format = provider.kind.format().unwrap_or(Format::OpenAi);
        let upstream_codec = codec_for(target_format)?;
        let (canonical, echo) = decode(ctx, req, model, stream)?;
        if ctx.api.format == Format::Anthropic {
            canonical.refuse_prefill(target_format).map_err(refused)?;
        }
        // An OpenAI provider whose models answer only through the Responses API gets its chats there.
        let via_responses = provider.chat_via_responses;
        let body = match via_responses {
            true => formats::openai::responses_upstream::encode_request(&canonical),
            false => (upstream_codec.encode_request)(&canonical),
        }
        .map_err(refused)?;
        let Some(origin) = provider.origin.as_ref() else {
            return Err((
                GatewayError::NotImplemented(format!("provider {:?} has no base_url", provider.name)),
                None,
            ));
        };
        let mut path = origin.path_prefix.clone();
        let request_path = match via_responses {
            true => formats::openai::responses_upstream::request_path,
            false => upstream_codec.request_path,
        };
        path.push_str(&provider.styled_path(&request_path(model, canonical.stream)));
        let accept: &[u8] = match (canonical.stream, target_format) {
            (false, _) => b"application/json",
            (true, Format::Bedrock) => b"application/vnd.amazon.eventstream",
            (true, _) => b"text/event-stream",
        };
        let beta = match provider.kind {
            ProviderKind::Anthropic => formats::anthropic::beta_header(&canonical),
            _ => None,
        };
        let mut headers: Vec<(&str, &[u8])> = vec![("content-type", b"application/json"), ("accept", accept)];
        if let Some(auth) = provider.auth_headers.get(key_index) {
            for (n, v) in auth {
                headers.push((n, v.as_bytes()));
            }
        }
        if provider.kind == ProviderKind::Anthropic {
            headers.push(("anthropic-version", ANTHROPIC_VERSION.as_bytes()));
        }
        if let Some(b) = &beta {
            headers.push(("anthropic-beta", b.as_bytes()));
        }
        let signed = super::sigv4_headers(provider, &path, &body, Some("application/json")).map_err(|e| (e, None))?;
        for (n, v) in &signed {
            headers.push((n, v.as_bytes()));
        }
        let parts = [Bytes::from(body)];
        let out = OutRequest {
            method: "POST",
            path: &path,
            headers: &headers,
            body: &parts,
        };
        let sent = Instant::now();
        let resp = unless_hung_up(conn, upstream::send(&worker.pool, origin, &provider.timeouts, &out))
            .await?
            .map_err(|e| (e.into(), None))?;
        worker.metrics.upstream_latency(&provider.name, sent.elapsed());
        refuse_encoded(&resp)?;
        let request_id = relayed_request_id(&resp, ctx.api.format);
        if !(canonical.stream && (200..300).contains(&resp.status)) {
            return Ok(Sent::Answer(Box::new(Answer {
                canonical,
                echo,
                resp,
                client,
                upstream_codec,
                target_format,
                via_responses,
                request_id,
                sent,
            })));
        }
        let t = super::stream::Translation {
            decoder: match via_responses {
                true => Box::new(formats::openai::responses_upstream::ResponsesStreamDecoder::new()),
                false => formats::stream_decoder(target_format),
            },
            encoder: {
                let mut e = stream_encoder(ctx, &canonical, &req.body, echo);
                e.request_sent_at(sent);
                e
            },
            // Tool names renamed for the upstream go back to the client's (no hook otherwise).
            hooks: tool_names(&canonical, target_format, via_responses)
                .and_then(|r| crate::plugin::ChunkHooks::new(vec![Box::new(r)])),
            id: format!("sluice-{:x}", next_response_id()),
            model: model.to_string(),
            keepalive: ctx
                .snap
                .server
                .stream_keepalive
                .and_then(|d| keepalive_frame(ctx.api).map(|f| (f, d))),
            head_headers: {
                let mut h: Vec<(&'static str, String)> = request_id.into_iter().collect();
                if ctx.api.op == Operation::Invoke {
                    let (n, v) = formats::bedrock::invoke::STREAM_CONTENT_TYPE_HEADER;
                    h.push((n, v.to_string()));
                }
                h
            },
            client: ctx.api.format,
            upstream: target_format,
        };
        // Only the translation lives on for the stream: the request is sent, its memory freed here.
        Ok::<_, Failure>(Sent::Stream(resp.into_body(), t))
    };
    let (body, t) = match sent.await? {
        Sent::Stream(body, t) => (body, t),
        Sent::Answer(answer) => return answer_translated(ctx, req, conn, model, answer).await,
    };
    super::stream::pump_translated(worker, conn, req.http10, body, t).await
}

/// A translated request sent: its stream, ready for the pump, or its non-stream answer to read
/// (boxed: the request it answers is large, and a stream needs none of it). The stream's
/// variant is the large one and stays unboxed: it moves straight into the pump's state.
#[allow(clippy::large_enum_variant)]
enum Sent {
    Stream(upstream::BodyReader, super::stream::Translation),
    Answer(Box<Answer>),
}

/// What reading and encoding a non-stream answer needs.
struct Answer {
    canonical: ChatRequest,
    echo: Echo,
    resp: upstream::UpstreamResponse,
    client: &'static Codec,
    upstream_codec: &'static Codec,
    target_format: Format,
    via_responses: bool,
    request_id: Option<(&'static str, String)>,
    sent: Instant,
}

/// Reads a translated request's non-stream answer and writes it in the client's format: the
/// second part of `forward` for a request that is not a stream (or whose stream failed before
/// its first byte).
async fn answer_translated(
    ctx: &mut RequestContext<'_>,
    req: &Request,
    conn: &mut Conn,
    model: &str,
    answer: Box<Answer>,
) -> Result<Outcome, Failure> {
    let Answer {
        canonical,
        echo,
        mut resp,
        client,
        upstream_codec,
        target_format,
        via_responses,
        request_id,
        sent,
    } = *answer;
    let limit = ctx.snap.server.limits.max_body_bytes.max(64 * 1024 * 1024);
    let status = resp.status;
    if !(200..300).contains(&status) {
        relay_retry_hints(&resp, &mut ctx.error_headers);
        ctx.error_headers.extend(request_id.clone());
    }
    let data = unless_hung_up(conn, resp.body.read_all(limit))
        .await?
        .map_err(|e| (e.into(), None))?;
    if crate::wire::json::too_deep(&data, crate::wire::json::MAX_DEPTH) {
        let why = "the upstream's answer nests JSON too deeply";
        return Err((GatewayError::Upstream(upstream::UpstreamError::BadResponse(why)), None));
    }
    if !(200..300).contains(&status) {
        return Err(upstream_fault(ctx, target_format, &resp, &data));
    }
    // The decoder's detail goes with it, as a translated stream's does: which field was wrong
    // is what the operator needs to know.
    let decode_response = match via_responses {
        true => formats::openai::responses_upstream::decode_response,
        false => upstream_codec.decode_response,
    };
    let mut canonical_resp = decode_response(&data).map_err(|e| undecodable(target_format, "", e))?;
    // An answer that failed is an error where the client's format cannot say so, as in a stream.
    if let Some(fault) = formats::failed_finish(ctx.api.format, target_format, &canonical_resp.finish) {
        return Err((GatewayError::UpstreamFault(fault), None));
    }
    // Some formats carry no id or model in the body (Bedrock, Cohere); clients expect both.
    if canonical_resp.model.is_empty() {
        canonical_resp.model = model.to_string();
    }
    if canonical_resp.id.is_empty() {
        canonical_resp.id = format!("sluice-{:x}", next_response_id());
    }
    if canonical_resp.created == 0 {
        canonical_resp.created = crate::mock::unix_now();
    }
    // Cohere and Bedrock say only that a stop sequence matched; Anthropic clients read which.
    canonical_resp.fill_stop_sequence(&canonical);
    if let Some(renames) = tool_names(&canonical, target_format, via_responses) {
        renames.restore_response(&mut canonical_resp);
    }

    let latency = sent.elapsed();
    let mut headers: Vec<(&'static str, String)> = request_id.into_iter().collect();
    invoke_headers(ctx, &canonical_resp, latency, &mut headers);
    reply(
        conn,
        200,
        "application/json",
        &headers,
        encode_answer(ctx, client, &canonical, &req.body, echo, &canonical_resp, latency),
        req.keep_alive,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::{credentials_message, next_response_id, refused_credentials};
    use crate::canonical::{FaultKind, UpstreamFault};
    use crate::formats::Format;

    /// An upstream's 401 or 403 reached the client as if its own key were wrong: the message says
    /// first that the upstream refused the gateway's credentials, and which provider; the status
    /// (and so the SDK's class) stays.
    #[test]
    fn a_refusal_of_the_gateways_key_names_the_provider() {
        let fault = |status, kind| UpstreamFault {
            status,
            kind,
            message: "invalid x-api-key".into(),
        };
        let refused = [
            (Format::Anthropic, fault(401, FaultKind::Authentication), &b"{}"[..]),
            (Format::OpenAi, fault(403, FaultKind::PermissionDenied), b"{}"),
            // Bedrock's bad key is a 403 named `UnrecognizedClientException`; Cohere's a 498.
            (Format::Bedrock, fault(403, FaultKind::Authentication), b"{}"),
            (Format::Cohere, fault(498, FaultKind::Authentication), b"{}"),
            // Google's is a 400 whose detail names it.
            (
                Format::Gemini,
                fault(400, FaultKind::InvalidRequest),
                br#"{"error":{"code":400,"details":[{"reason":"API_KEY_INVALID"}]}}"#,
            ),
        ];
        for (format, f, body) in &refused {
            assert!(refused_credentials(*format, f, body), "{format:?} {f:?}");
        }
        let not = [
            (Format::Gemini, fault(400, FaultKind::InvalidRequest), &b"{}"[..]),
            (Format::Anthropic, fault(429, FaultKind::RateLimited), b"{}"),
            (Format::OpenAi, fault(404, FaultKind::NotFound), b"API_KEY_INVALID"),
        ];
        for (format, f, body) in &not {
            assert!(!refused_credentials(*format, f, body), "{format:?} {f:?}");
        }
        let m = credentials_message("claude", Format::Anthropic, &refused[0].1);
        assert_eq!(
            m,
            "upstream provider \"claude\" (anthropic) refused the gateway's credentials for it (HTTP 401): \
             check the keys Sluice is configured with for \"claude\", not the client's key. The upstream \
             said: invalid x-api-key"
        );
    }

    #[test]
    fn made_up_response_ids_do_not_count_from_one() {
        let (a, b) = (next_response_id(), next_response_id());
        assert_ne!(a, b);
        // From 1, every process (a second gateway, a restarted one) gave `sluice-1`, `sluice-2`...
        // in the same order; from a random base the chance that a test's ids are this small is nil.
        assert!(a > 1 << 32 || b > 1 << 32, "{a}, {b}: a counter from 1");
    }
}
