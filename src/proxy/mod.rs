//! The request lifecycle, top to bottom, in `Worker::handle`:
//! route -> peek body -> pick target -> (mock | same-format passthrough) -> respond -> record.
//!
//! One `Worker` exists per worker thread; it owns the upstream pool and metrics of that thread,
//! and reads the config snapshot through a per-thread cache (one atomic load when unchanged).

pub mod count;
pub mod embed;
pub mod mock;
pub mod models;
pub mod passthrough;
pub mod rerank;
pub mod stream;
pub mod translate;

use crate::config::{ProviderKind, SharedSnapshot, Snapshot};
use crate::error::GatewayError;
use crate::formats::{self, Format};
use crate::http::{cors, Conn, Handler, Limits, RefusedRequest, Request};
use crate::metrics::WorkerMetrics;
use crate::route::{self, ApiRoute, Operation, Route};
use crate::upstream::Pool;
use crate::wire::json;
use arc_swap::cache::Cache;
use bytes::Bytes;
use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

/// Everything a request needs to know about itself, by name (no type map).
pub struct RequestContext<'a> {
    pub snap: &'a Arc<Snapshot>,
    /// The client's format and operation.
    pub api: &'a ApiRoute,
    pub started: Instant,
    /// Provider label for metrics (set once a target is chosen).
    pub provider: String,
    /// Headers an error reply carries on top of its format's own: a translated upstream error's
    /// retry hints and request id (the same-format path relays the upstream's headers itself).
    pub error_headers: Vec<(&'static str, String)>,
}

/// How a request ended, for metrics and the access log.
pub struct Outcome {
    /// The status the client's head carried.
    pub status: u16,
    /// Set when the response failed after its head went out: the status of the client format's
    /// in-stream error, or of the failure that cut its body short.
    pub midstream_error: Option<u16>,
}

impl Outcome {
    /// A response sent whole with `status`.
    pub fn sent(status: u16) -> Outcome {
        Outcome {
            status,
            midstream_error: None,
        }
    }

    /// A response whose `status` head went out, then failed with `error`.
    pub fn failed_midstream(status: u16, error: u16) -> Outcome {
        Outcome {
            status,
            midstream_error: Some(error),
        }
    }
}

pub struct Worker {
    snapshot: RefCell<Cache<SharedSnapshot, Arc<Snapshot>>>,
    pub pool: Rc<Pool>,
    pub metrics: Rc<WorkerMetrics>,
    /// Round-robin position over a provider's keys.
    key_rr: Cell<usize>,
}

impl Worker {
    pub fn new(shared: SharedSnapshot, metrics: Rc<WorkerMetrics>) -> Worker {
        let snap = shared.load_full();
        let pool = Rc::new(Pool::new(snap.pool.max_idle, snap.pool.idle_timeout, metrics.clone()));
        pool.spare.set(snap.pool.spare);
        Worker {
            snapshot: RefCell::new(Cache::new(shared)),
            pool,
            metrics,
            key_rr: Cell::new(0),
        }
    }

    /// The current snapshot; held by a request until it finishes.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        let mut cache = self.snapshot.borrow_mut();
        let snap = cache.load();
        self.pool.max_idle.set(snap.pool.max_idle);
        self.pool.idle_timeout.set(snap.pool.idle_timeout);
        self.pool.spare.set(snap.pool.spare);
        snap.clone()
    }

    fn next_key(&self, n: usize) -> usize {
        let i = self.key_rr.get();
        self.key_rr.set(i.wrapping_add(1));
        if n == 0 {
            0
        } else {
            i % n
        }
    }

    async fn handle_api(
        &self,
        ctx: &mut RequestContext<'_>,
        req: &Request,
        conn: &mut Conn,
    ) -> Result<Outcome, (GatewayError, Option<io::Error>)> {
        let api = ctx.api;
        if api.op == Operation::StoredResponse {
            return Box::pin(passthrough::stored_response(self, ctx, req, conn)).await;
        }
        if api.op == Operation::Models {
            let body =
                models::answer(ctx.snap, api.format, api.path_model.as_deref(), req.query()).map_err(|e| (e, None))?;
            return send(conn, 200, "application/json", body, req.keep_alive).await;
        }
        // 0. A compressed body cannot be read for its model or translated: said plainly rather
        // than as JSON that does not parse. No official SDK compresses its requests.
        let coded = |v: &[u8]| !v.trim_ascii().eq_ignore_ascii_case(b"identity");
        if !req.body.is_empty() && req.header("content-encoding").is_some_and(coded) {
            return Err((GatewayError::UNSUPPORTED_ENCODING, None));
        }
        // No JSON tree deeper than the limit is ever built (each level is a stack frame).
        if json::too_deep(&req.body, json::MAX_DEPTH) {
            return Err((
                GatewayError::bad_request(
                    format!("request body nests JSON deeper than {} levels", json::MAX_DEPTH),
                    None,
                ),
                None,
            ));
        }
        // 1. Model and stream flag: from the URL (Gemini, Bedrock) or a peek at the body.
        let peek = match api.path_model {
            Some(_) => json::Peek::default(),
            None => json::peek(&req.body).map_err(|e| (GatewayError::bad_request(e.message(), e.param()), None))?,
        };
        let model = match (&api.path_model, peek.model.as_deref()) {
            (Some(m), _) => m.as_str(),
            (None, Some(m)) => m,
            (None, None) => {
                return Err((
                    GatewayError::bad_request("you must provide a model parameter", Some("model")),
                    None,
                ))
            }
        };
        let stream = api.path_stream.unwrap_or(peek.stream);
        if stream
            && !matches!(
                api.op,
                Operation::Chat | Operation::Completions | Operation::Responses | Operation::Invoke
            )
        {
            return Err((
                GatewayError::bad_request("this endpoint does not stream", Some("stream")),
                None,
            ));
        }
        // 2. Target.
        let target = route::target(ctx.snap, model);
        if target.model.is_empty() {
            // `anthropic/` names a provider and no model: the upstream would refuse the empty
            // name, in words about its own request.
            let why = format!(
                "the model names the provider `{}` but no model after it",
                target.provider.name
            );
            return Err((GatewayError::bad_request(why, Some("model")), None));
        }
        ctx.provider.clear();
        ctx.provider.push_str(&target.provider.name);
        let provider = target.provider;
        // Embeddings, by route or (Bedrock InvokeModel) by the body's shape; asked only where
        // the answer is not passed through.
        // A Responses request goes as it is only to an OpenAI upstream that serves the API.
        let responses_as_chat = api.format == Format::OpenAi
            && matches!(api.op, Operation::Responses | Operation::CountTokens)
            && !provider.responses_api;
        // A chat for a provider that answers chats only through the Responses API is translated,
        // whatever the client's format.
        let chat_as_responses = provider.chat_via_responses
            && api.format == Format::OpenAi
            && matches!(api.op, Operation::Chat | Operation::Completions);
        let same_format = provider.kind.format() == Some(api.format) && !responses_as_chat && !chat_as_responses;
        // A history holding a thinking token Sluice marked (another family's, which the upstream
        // would refuse, or the client family's own, marked by another client) is translated, so
        // that `sig::fit_request` drops the one and the encoder restores the other bare. Asked only
        // on the routes whose bodies carry tokens; every other body stays zero-copy.
        let same_format = same_format && !(carries_signatures(api) && crate::canonical::sig::has_marker(&req.body));
        let invoke_body = match api.op == Operation::Invoke && !same_format {
            true => formats::bedrock::invoke::body_kind(&req.body, model),
            false => formats::bedrock::invoke::InvokeBody::Chat,
        };
        let embeddings =
            api.op == Operation::Embeddings || invoke_body == formats::bedrock::invoke::InvokeBody::Embeddings;
        if embeddings && stream {
            return Err((
                GatewayError::bad_request("embeddings do not stream; use InvokeModel", None),
                None,
            ));
        }
        // Rerank, by route (Cohere) or by the body's shape (Bedrock InvokeModel), likewise.
        let rerank = api.op == Operation::Rerank || invoke_body == formats::bedrock::invoke::InvokeBody::Rerank;
        if rerank && stream {
            return Err((
                GatewayError::bad_request("rerank does not stream; use InvokeModel", None),
                None,
            ));
        }
        // 3. Provider: in-process mock, same-format passthrough, or translation. The embeddings,
        //    count and rerank paths are boxed: this function's state is as large as its largest
        //    await, and every open connection, every stream included, holds it (RESULTS, "Memory per
        //    stream and the connection future"). The stream paths stay inline: boxed, a stream
        //    would hold the box as well.
        match (provider.kind, provider.kind.format()) {
            (ProviderKind::Mock, _) if embeddings && api.format != Format::OpenAi => {
                Box::pin(embed::serve_mock(provider, ctx, req, conn, target.model)).await
            }
            (ProviderKind::Mock, _) if api.op == Operation::CountTokens => {
                Box::pin(count::serve_mock(ctx, req, conn, target.model)).await
            }
            (ProviderKind::Mock, _) if rerank => {
                Box::pin(rerank::serve_mock(provider, ctx, req, conn, target.model)).await
            }
            (_, Some(_)) if rerank && !same_format => {
                let key = self.next_key(provider.keys.len());
                Box::pin(rerank::forward(self, ctx, req, conn, target.model, provider, key)).await
            }
            (_, Some(_))
                if embeddings && !(same_format && gemini_body_fits(api, provider, target.model, &req.body)) =>
            {
                let key = self.next_key(provider.keys.len());
                Box::pin(embed::forward(self, ctx, req, conn, target.model, provider, key)).await
            }
            // A Gemini count may name its model in the body (`generateContentRequest.model`), and
            // the Gemini API and Vertex take different bodies: re-encoded as embeddings are.
            (_, Some(_))
                if api.op == Operation::CountTokens
                    && !(same_format && gemini_body_fits(api, provider, target.model, &req.body)) =>
            {
                let key = self.next_key(provider.keys.len());
                Box::pin(count::forward(self, ctx, req, conn, target.model, provider, key)).await
            }
            (ProviderKind::Mock, _)
                if api.format == Format::OpenAi
                    && api.op != Operation::Responses
                    && !(stream
                        && api.op == Operation::Chat
                        && crate::mock::stream::is_fault_scenario(target.model)) =>
            {
                mock::serve(self, ctx, req, conn, &peek, target.model, provider).await
            }
            (ProviderKind::Mock, _) => {
                translate::serve_mock(self, provider, ctx, req, conn, target.model, stream).await
            }
            (_, Some(_)) if same_format => {
                let key = self.next_key(provider.keys.len());
                let Some(origin) = provider.origin.as_ref() else {
                    return Err((
                        GatewayError::NotImplemented(format!("provider {:?} has no base_url", provider.name)),
                        None,
                    ));
                };
                // Body: splice the model only when it changed (prefix removed); otherwise zero-copy.
                // A Responses body's marked reasoning items are fitted first (model set too).
                let responses =
                    api.format == Format::OpenAi && matches!(api.op, Operation::Responses | Operation::CountTokens);
                let fitted = match responses {
                    true => {
                        formats::openai::responses::fit_signatures(&req.body, target.model).map(|b| [Bytes::from(b)])
                    }
                    false => None,
                };
                let spliced;
                let body: &[bytes::Bytes] = match (
                    &fitted,
                    &peek.model_span,
                    api.path_model.is_some() || peek.model.as_deref() == Some(target.model),
                ) {
                    (Some(fitted), _, _) => fitted,
                    (None, _, true) => std::slice::from_ref(&req.body),
                    (None, Some(span), false) => {
                        spliced = json::splice_string(&req.body, span.clone(), target.model);
                        &spliced
                    }
                    (None, None, false) => {
                        return Err((
                            GatewayError::bad_request("cannot locate 'model' in the body", Some("model")),
                            None,
                        ))
                    }
                };
                let path = passthrough::upstream_path(provider, &origin.path_prefix, api, target.model, req.query());
                passthrough::forward(self, ctx, req, conn, body, &path, stream, provider, key).await
            }
            _ => {
                let key = self.next_key(provider.keys.len());
                translate::forward(self, ctx, req, conn, target.model, stream, provider, key).await
            }
        }
    }

    async fn finish(
        &self,
        ctx: &RequestContext<'_>,
        route: &'static str,
        r: &Result<Outcome, io::Error>,
        req: &Request,
    ) {
        let status = status_of(r);
        let midstream = r.as_ref().ok().and_then(|o| o.midstream_error);
        self.metrics.request_done(route, &ctx.provider, status);
        if let Some(error) = midstream {
            self.metrics.midstream_error(route, &ctx.provider, error);
        }
        if ctx.snap.server.access_log {
            let line = crate::log::AccessLine {
                status,
                midstream_error: midstream,
                elapsed: ctx.started.elapsed(),
                provider: &ctx.provider,
            };
            crate::log::access(req, &line, &self.metrics);
        }
    }
}

impl Handler for Worker {
    async fn handle(&self, req: Request, conn: &mut Conn) -> io::Result<()> {
        let snap = self.snapshot();
        let started = Instant::now();
        // Browsers: one branch when CORS is off; an origin not listed gets no CORS headers (and
        // its preflight the 405 an OPTIONS always gets), which the browser reports as refused.
        if snap.server.cors.enabled() {
            if let Some(allow) = req.header_str("origin").and_then(|o| snap.server.cors.allow(o)) {
                if req.method == crate::http::Method::Options && req.header("access-control-request-method").is_some() {
                    let headers = cors::preflight_headers(allow, req.header("access-control-request-headers"));
                    let r = conn.send_full(204, &headers, Bytes::new(), req.keep_alive).await;
                    self.metrics.request_done("cors_preflight", "", 204);
                    if snap.server.access_log {
                        let line = crate::log::AccessLine {
                            status: 204,
                            midstream_error: None,
                            elapsed: started.elapsed(),
                            provider: "",
                        };
                        crate::log::access(&req, &line, &self.metrics);
                    }
                    return r;
                }
                cors::write_answer_headers(&mut conn.extra_head, allow);
            }
        }
        let (route_name, result) = match route::route(req.method, req.path()) {
            // A draining gateway is not ready: a load balancer whose probe still reaches it (on a
            // connection opened before) takes it out of rotation rather than sending it more.
            Ok(Route::Health) => {
                let (status, body) = if conn.draining() {
                    (503, &b"{\"status\":\"draining\"}"[..])
                } else {
                    (200, &b"{\"status\":\"ok\"}"[..])
                };
                let body = Bytes::from_static(body);
                (
                    "health",
                    send(conn, status, "application/json", body, req.keep_alive).await,
                )
            }
            Ok(Route::Metrics) => (
                "metrics",
                send(
                    conn,
                    200,
                    "text/plain; version=0.0.4",
                    Bytes::from(crate::metrics::render()),
                    req.keep_alive,
                )
                .await,
            ),
            // `OPTIONS *`: a 200 naming the methods served, with an empty body (RFC 9110 9.3.7).
            Ok(Route::ServerOptions) => {
                let allow = [("allow", route::SERVED_METHODS.as_bytes())];
                let sent = conn.send_full(200, &allow, Bytes::new(), req.keep_alive).await;
                (
                    "server_options",
                    sent.map(|()| Outcome::sent(200))
                        .map_err(|e| (GatewayError::Internal, Some(e))),
                )
            }
            Ok(Route::Api(mut api)) => {
                api.read_query(req.query());
                // The root `/v1/models` is OpenAI's and Anthropic's path alike: the Anthropic SDK
                // pointed at the root URL names its API version in every request, which no OpenAI
                // client sends, and reads the list (and a lookup's 404) in Anthropic's shape.
                let root = req.path().starts_with("/v1/");
                if api.op == Operation::Models && root && req.header("anthropic-version").is_some() {
                    api.format = Format::Anthropic;
                }
                let mut ctx = RequestContext {
                    snap: &snap,
                    api: &api,
                    started,
                    provider: String::new(),
                    error_headers: Vec::new(),
                };
                let r = self.handle_api(&mut ctx, &req, conn).await;
                let r = self
                    .render_error(Some(&api), &ctx.error_headers, r, conn, req.keep_alive)
                    .await;
                self.finish(&ctx, api.label(), &r, &req).await;
                return r.map(|_| ());
            }
            Err(e) => ("unrouted", Err((e, None))),
        };
        // An unrouted request's error is in the format its path names (OpenAI's by default).
        let mut api = route::error_route(req.path());
        api.read_query(req.query());
        let r = self.render_error(Some(&api), &[], result, conn, req.keep_alive).await;
        let ctx = RequestContext {
            snap: &snap,
            api: &api,
            started,
            provider: String::new(),
            error_headers: Vec::new(),
        };
        self.finish(&ctx, route_name, &r, &req).await;
        r.map(|_| ())
    }

    /// A panic is a gateway bug; the client still gets a 500 in its own format when nothing was
    /// sent yet (a started response is cut short: see `render_error`).
    async fn on_panic(&self, target: &str, conn: &mut Conn) {
        let (path, query) = crate::http::request::split_target(target);
        // Only the path (and Gemini's query) decides the format; the method is irrelevant here.
        let api = match route::route(crate::http::request::Method::Post, path) {
            Ok(Route::Api(mut api)) => {
                api.read_query(query);
                Some(api)
            }
            _ => None,
        };
        let label = api.as_ref().map_or("unrouted", ApiRoute::label);
        let r = self
            .render_error(api.as_ref(), &[], Err((GatewayError::Internal, None)), conn, false)
            .await;
        self.metrics.request_done(label, "", status_of(&r));
    }

    fn connection_event(&self, open: bool) {
        self.metrics.conn_add(if open { 1 } else { -1 });
    }

    fn connection_parked(&self, parked: bool) {
        self.metrics.parked_add(if parked { 1 } else { -1 });
    }

    fn limits(&self) -> Limits {
        self.snapshot().server.limits
    }

    fn connection_refused(&self) {
        self.metrics.conn_refused();
    }

    /// A refused request is answered in the format its target names, with the CORS grant its
    /// origin has, as a routed request's errors are.
    async fn refuse(&self, refused: &RefusedRequest, conn: &mut Conn) {
        let Some(status) = refused.error.status() else {
            return;
        };
        let snap = self.snapshot();
        let started = Instant::now();
        if snap.server.cors.enabled() {
            let origin = refused.header("origin").and_then(|o| std::str::from_utf8(o).ok());
            if let Some(allow) = origin.and_then(|o| snap.server.cors.allow(o)) {
                cors::write_answer_headers(&mut conn.extra_head, allow);
            }
        }
        let line = refused.request_line();
        let (path, query) = line.map_or(("", None), |(_, target)| crate::http::request::split_target(target));
        let mut api = route::error_route(path);
        api.read_query(query);
        let err = GatewayError::Http {
            status,
            message: refused.error.message(),
        };
        let r = self.render_error(Some(&api), &[], Err((err, None)), conn, false).await;
        let status = status_of(&r);
        self.metrics.request_done("invalid", "", status);
        // A refusal is a request answered too (a 413 is what an operator looks for); its method
        // and path as far as they came, and its duration from the refusal on.
        if snap.server.access_log {
            let (method, path) = line.map_or(("-", "-"), |(m, _)| (m, if path.is_empty() { "-" } else { path }));
            let line = crate::log::AccessLine {
                status,
                midstream_error: None,
                elapsed: started.elapsed(),
                provider: "",
            };
            crate::log::access_of(method, path, &line, &self.metrics);
        }
    }
}

impl Worker {
    /// Renders an error in the client's format (the OpenAI shape when no route named one) if
    /// nothing was sent yet. An IO error on the client connection ends the connection.
    async fn render_error(
        &self,
        api: Option<&ApiRoute>,
        extra_headers: &[(&'static str, String)],
        r: Result<Outcome, (GatewayError, Option<io::Error>)>,
        conn: &mut Conn,
        keep_alive: bool,
    ) -> Result<Outcome, io::Error> {
        match r {
            Ok(o) => Ok(o),
            Err((_, Some(io))) => Err(io),
            Err((e, None)) if conn.response_started => {
                // Headers already left: nothing to render; close so the client sees a broken body.
                conn.close_after = true;
                Ok(Outcome::failed_midstream(conn.status_sent, e.status()))
            }
            Err((e, None)) => {
                let format = api.map_or(Format::OpenAi, |a| a.format);
                let mut reply = crate::formats::render_error(format, &e);
                if format == Format::Gemini {
                    // Gemini clients read a retry hint from the body, not from headers.
                    if let Some(ms) = hinted_delay_ms(extra_headers) {
                        crate::formats::gemini::add_retry_info(&mut reply.body, ms);
                    }
                }
                if api.is_some_and(|a| a.json_array_stream) {
                    crate::formats::gemini::wrap_in_array(&mut reply.body);
                }
                let allow = e.allow();
                let mut headers: Vec<(&str, &[u8])> = vec![("content-type", reply.content_type.as_bytes())];
                if let Some(allow) = &allow {
                    headers.push(("allow", allow.as_bytes()));
                }
                if matches!(e, GatewayError::Http { status: 415, .. }) {
                    // The codings the request could have used (RFC 9110 15.5.16).
                    headers.push(("accept-encoding", b"identity"));
                }
                for (n, v) in reply.headers.iter().chain(extra_headers) {
                    if !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(n)) {
                        headers.push((n, v.as_bytes()));
                    }
                }
                conn.send_full(reply.status, &headers, Bytes::from(reply.body), keep_alive)
                    .await?;
                Ok(Outcome::sent(reply.status))
            }
        }
    }
}

/// The retry delay that relayed retry hints name: `retry-after-ms`, else `retry-after` in
/// seconds (an HTTP-date `retry-after` is left to the header alone).
fn hinted_delay_ms(headers: &[(&'static str, String)]) -> Option<u64> {
    let find = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.trim());
    if let Some(ms) = find("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return (ms.is_finite() && ms >= 0.0).then(|| ms.ceil() as u64);
    }
    find("retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|s| s.saturating_mul(1000))
}

/// Whether a route's bodies may hold thinking signatures (`canonical::sig`): chats, InvokeModel and
/// counts of the formats whose histories carry them. (OpenAI Responses reasoning items are fitted
/// on the passthrough itself: `formats::openai::responses::fit_signatures`.)
fn carries_signatures(api: &route::ApiRoute) -> bool {
    matches!(api.format, Format::Anthropic | Format::Bedrock | Format::Gemini)
        && matches!(api.op, Operation::Chat | Operation::Invoke | Operation::CountTokens)
}

/// Whether a same-format Gemini embeddings or count body can pass through as bytes (any other
/// format's can). A Gemini body may name its model (`requests[].model`,
/// `generateContentRequest.model`), so one that does and whose provider prefix came off is
/// re-encoded; so is one in the other API's shape: Vertex clients send settings and system
/// instructions where the Gemini API refuses them, and the Gemini API has no `predict` for
/// embeddings.
fn gemini_body_fits(api: &route::ApiRoute, provider: &crate::config::Provider, model: &str, body: &[u8]) -> bool {
    if api.format != Format::Gemini {
        return true;
    }
    let vertex = matches!(provider.style, crate::config::ApiStyle::Vertex);
    api.gemini_vertex == vertex && (api.path_model.as_deref() == Some(model) || !gemini_body_names_model(body))
}

/// Whether a Gemini body holds a model name of its own: a top-level `model`, or the keys whose
/// members carry one (`requests`, `generateContentRequest`). google-genai's count body
/// (`contents` alone) names none: it passes through as bytes, whatever its parts hold.
fn gemini_body_names_model(body: &[u8]) -> bool {
    sonic_rs::to_object_iter(body).any(|item| {
        item.map_or(true, |(key, _)| {
            matches!(key.as_ref(), "model" | "requests" | "generateContentRequest")
        })
    })
}

/// SigV4 headers for a Bedrock provider configured with AWS credentials (none otherwise).
pub fn sigv4_headers(
    provider: &crate::config::Provider,
    path: &str,
    body: &[u8],
    content_type: Option<&str>,
) -> Result<Vec<(String, String)>, GatewayError> {
    let (Some(aws), Some(origin)) = (&provider.aws, &provider.origin) else {
        return Ok(Vec::new());
    };
    let signed: Vec<(&str, &str)> = content_type.map(|c| ("content-type", c)).into_iter().collect();
    crate::formats::bedrock::sigv4::sign(
        "POST",
        &origin.authority,
        path,
        &signed,
        body,
        aws,
        &aws.region,
        std::time::SystemTime::now(),
    )
    .map_err(|e| GatewayError::NotImplemented(format!("cannot sign the Bedrock request: {e}")))
}

impl crate::runtime::Housekeeping for Worker {
    fn tick(&self) {
        self.pool.sweep();
    }
}

/// Awaits an upstream call unless the client hangs up first (`http::server::hung_up`). Then the
/// call is dropped, which closes its upstream connection so the upstream stops working for
/// nobody, and the request ends as a client abort (499 in the metrics, nothing written). The
/// worker's drain timeout running out drops the call too, answered as a 503 in the client's
/// format (`http::drain`): a retry elsewhere, where a dropped connection would leave the client
/// guessing.
pub(crate) fn unless_hung_up<'a, F: std::future::Future + 'a>(
    conn: &'a Conn,
    call: F,
) -> UnlessHungUp<F, impl std::future::Future<Output = ()> + 'a> {
    UnlessHungUp {
        call,
        watch: crate::http::server::hung_up(&conn.io, crate::http::server::HANG_UP_WATCH_AFTER),
        cut: conn.streams_cut(),
    }
}

pin_project_lite::pin_project! {
    /// `unless_hung_up`'s future: the call and the watches side by side, no bigger than the
    /// three. (An `async fn` taking the call would hold it twice, once as its argument and once
    /// in its `select!`, and every open stream holds this state: RESULTS, "Memory per stream and
    /// the connection future".)
    pub(crate) struct UnlessHungUp<F, W> {
        #[pin]
        call: F,
        #[pin]
        watch: W,
        cut: crate::http::drain::StreamsCut,
    }
}

impl<F: std::future::Future, W: std::future::Future<Output = ()>> std::future::Future for UnlessHungUp<F, W> {
    type Output = Result<F::Output, (GatewayError, Option<io::Error>)>;

    /// The call first: one ready at once (a body that came with its head) never arms a watch.
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
        let this = self.project();
        if let Poll::Ready(out) = this.call.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        if std::pin::Pin::new(this.cut).poll(cx).is_ready() {
            return Poll::Ready(Err((GatewayError::UpstreamFault(stream::shutdown_fault()), None)));
        }
        match this.watch.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err((
                GatewayError::bad_request("client disconnected", None),
                Some(io::ErrorKind::ConnectionAborted.into()),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn status_of(r: &Result<Outcome, io::Error>) -> u16 {
    match r {
        Ok(o) => o.status,
        Err(_) => 499,
    }
}

/// Sends a complete response; an IO failure is reported as the connection error.
pub async fn send(
    conn: &mut Conn,
    status: u16,
    content_type: &str,
    body: Bytes,
    keep_alive: bool,
) -> Result<Outcome, (GatewayError, Option<io::Error>)> {
    conn.send_full(status, &[("content-type", content_type.as_bytes())], body, keep_alive)
        .await
        .map_err(|e| (GatewayError::bad_request("client write failed", None), Some(e)))?;
    Ok(Outcome::sent(status))
}

/// `GET /anthropic/v1/models` in Anthropic's list shape.
#[cfg(test)]
mod tests {
    use super::*;

    /// What `Worker::on_panic` writes for a request to `target` (`started`: a response was
    /// already under way), as the raw bytes a client reads before the close.
    fn panic_answer(target: &'static str, started: bool) -> String {
        let snap = crate::config::compile_str(crate::config::tests::GOOD, "t.toml").expect("config");
        let worker = Worker::new(
            Arc::new(arc_swap::ArcSwap::from_pointee(snap)),
            WorkerMetrics::register(),
        );
        crate::http::conn::tests::written(async move |conn: &mut Conn| {
            conn.response_started = started;
            conn.close_after = true;
            worker.on_panic(target, conn).await;
        })
    }

    fn body(answer: &str) -> sonic_rs::Value {
        let (_, body) = answer.split_once("\r\n\r\n").expect("a complete head");
        sonic_rs::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"))
    }

    /// Every open connection's task holds `serve_conn`'s state for as long as the connection
    /// lives, a stream's included, and that state is most of what an open stream costs in memory
    /// (RESULTS, "Session 44"). It is as large as the largest thing a connection ever awaits (a
    /// stream's pump beside whatever its request left live), so a change anywhere on the request
    /// path can grow it, for every connection. 5,120 bytes when this test was written, 4,480
    /// since session 45 (release and debug alike); the task around it takes 512 more, and
    /// mimalloc serves it, aligned to 128, from its 5 KiB size class up to 4,608 bytes of state:
    /// past that, 6 KiB per connection (8 KiB, with a 7,296-byte task, was what session 44 found
    /// and undid).
    #[test]
    fn a_connections_state_stays_small() {
        let snap = crate::config::compile_str(crate::config::tests::GOOD, "t.toml").expect("config");
        let worker = Worker::new(
            Arc::new(arc_swap::ArcSwap::from_pointee(snap)),
            WorkerMetrics::register(),
        );
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new().build().unwrap();
        rt.block_on(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let stream = monoio::net::TcpStream::connect_addr(listener.local_addr().unwrap())
                .await
                .unwrap();
            let state = crate::http::server::ServerState::default();
            let conn = crate::http::server::serve_conn(stream, &worker, &state);
            let size = std::mem::size_of_val(&conn);
            assert!(size <= 4608, "a connection's state is {size} bytes, over 4,608");
        });
    }

    #[test]
    fn a_panic_is_answered_500_in_the_clients_own_format() {
        use sonic_rs::JsonValueTrait;

        let a = panic_answer("/anthropic/v1/messages", false);
        assert!(a.starts_with("HTTP/1.1 500 "), "{a}");
        assert!(a.contains("connection: close\r\n"), "{a}");
        let v = body(&a);
        assert_eq!(v["type"].as_str(), Some("error"), "{a}");
        assert_eq!(v["error"]["type"].as_str(), Some("api_error"), "{a}");

        let b = panic_answer("/bedrock/model/m/converse-stream", false);
        assert!(b.starts_with("HTTP/1.1 500 "), "{b}");
        assert!(b.contains("x-amzn-ErrorType: InternalServerException"), "{b}");

        let g = panic_answer("/genai/v1beta/models/m:generateContent?alt=sse", false);
        assert_eq!(body(&g)["error"]["code"].as_u64(), Some(500), "{g}");

        for target in ["/v1/chat/completions?x=1", "/no/such/route"] {
            let o = panic_answer(target, false);
            assert!(o.starts_with("HTTP/1.1 500 "), "{o}");
            assert_eq!(body(&o)["error"]["type"].as_str(), Some("server_error"), "{o}");
        }

        // Headers already sent: nothing more is written, the close tells the client.
        assert_eq!(panic_answer("/anthropic/v1/messages", true), "");
    }
}
