//! Same-format path: the client's body goes upstream untouched except for the spliced `model`,
//! and the upstream's response comes back as it is (status, body, relevant headers).

use super::stream::pump_passthrough;
use super::{unless_hung_up, Outcome, RequestContext, Worker};
use crate::config::{Provider, ProviderKind};
use crate::error::GatewayError;
use crate::formats::stream_end::{EndMark, EndWatch};
use crate::formats::Format;
use crate::http::{Conn, Request};
use crate::route::{ApiRoute, Operation};
use crate::upstream::{self, OutRequest};
use bytes::Bytes;
use std::io;
use std::sync::Arc;
use std::time::Instant;

/// Request headers never forwarded: hop-by-hop (RFC 9110 7.6.1), framing we recompute, and the
/// client's own credentials (Sluice sends the provider's key instead).
const DROP_REQUEST: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "accept-encoding",
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
    // Bedrock clients sign with SigV4; the signature covers the client's own credentials.
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// Response headers never relayed: hop-by-hop and framing (Sluice frames its own response).
const DROP_RESPONSE: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    // Proxy authentication is between the client and the next proxy, never the upstream's.
    "proxy-authenticate",
    "proxy-authentication-info",
    "set-cookie",
    "alt-svc",
    "date",
    "server",
];

fn is_listed(name: &str, list: &[&str]) -> bool {
    list.iter().any(|d| d.eq_ignore_ascii_case(name))
}

/// Names listed in a `Connection` header are hop-by-hop too.
fn connection_tokens(req: &Request) -> Vec<&str> {
    req.header_str("connection")
        .map(|v| v.split(',').map(str::trim).filter(|t| !t.is_empty()).collect())
        .unwrap_or_default()
}

/// The upstream's response headers its client gets: all but `DROP_RESPONSE` and those the
/// upstream's `Connection` headers name, which are hop-by-hop too (RFC 9110 7.6.1).
fn relayed_headers(resp: &upstream::UpstreamResponse) -> impl Iterator<Item = (&str, &[u8])> {
    let hop: Vec<&[u8]> = resp
        .headers()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(|b| *b == b',').map(<[u8]>::trim_ascii))
        .collect();
    resp.headers()
        .filter(move |(n, _)| !is_listed(n, DROP_RESPONSE) && !hop.iter().any(|h| h.eq_ignore_ascii_case(n.as_bytes())))
}

/// The upstream path for a same-format request: the base URL's prefix, the format's own path
/// for the operation (with the model rewritten where it lives in the URL) in the provider's style,
/// and the client's query.
pub fn upstream_path(provider: &Provider, prefix: &str, api: &ApiRoute, model: &str, query: Option<&str>) -> String {
    let mut std_path = String::with_capacity(64);
    match (api.format, api.op) {
        (Format::OpenAi, Operation::Chat) => std_path.push_str("/v1/chat/completions"),
        (Format::OpenAi, Operation::Completions) => std_path.push_str("/v1/completions"),
        (Format::OpenAi, Operation::Responses) => std_path.push_str("/v1/responses"),
        (Format::OpenAi, Operation::CountTokens) => std_path.push_str("/v1/responses/input_tokens"),
        (Format::OpenAi, Operation::Embeddings) => std_path.push_str("/v1/embeddings"),
        (Format::Anthropic, Operation::CountTokens) => std_path.push_str("/v1/messages/count_tokens"),
        (Format::Anthropic, _) => std_path.push_str("/v1/messages"),
        (Format::Cohere, Operation::Embeddings) if api.cohere_v1 => std_path.push_str("/v1/embed"),
        (Format::Cohere, Operation::Embeddings) => std_path.push_str("/v2/embed"),
        // The client's API version goes upstream: v1 and v2 rerank differ in body and answer.
        (Format::Cohere, Operation::Rerank) if api.cohere_v1 => std_path.push_str("/v1/rerank"),
        (Format::Cohere, Operation::Rerank) => std_path.push_str("/v2/rerank"),
        (Format::Cohere, _) if api.cohere_v1 => std_path.push_str("/v1/chat"),
        (Format::Cohere, _) => std_path.push_str("/v2/chat"),
        (Format::Gemini, _) => {
            // Encoded: see `gemini::model_path`.
            std_path.push_str("/v1beta/models/");
            crate::wire::url::percent_encode_into(&mut std_path, model);
            std_path.push_str(match api.gemini_method {
                Some(m) => m.suffix(),
                None if api.path_stream == Some(true) => ":streamGenerateContent",
                None => ":generateContent",
            });
        }
        (Format::Bedrock, op) => {
            std_path.push_str("/model/");
            crate::wire::url::percent_encode_into(&mut std_path, model);
            std_path.push_str(match (op, api.path_stream == Some(true)) {
                (Operation::Invoke, false) => "/invoke",
                (Operation::Invoke, true) => "/invoke-with-response-stream",
                (Operation::CountTokens, _) => "/count-tokens",
                (_, false) => "/converse",
                (_, true) => "/converse-stream",
            });
        }
        (Format::OpenAi, _) => std_path.push_str("/v1/models"),
    }
    let mut path = String::with_capacity(prefix.len() + std_path.len() + 32);
    path.push_str(prefix);
    path.push_str(&provider.styled_path(&std_path));
    if let Some(q) = query {
        let mut sep = if path.contains('?') { '&' } else { '?' };
        if api.format != Format::Gemini {
            // Only a Gemini client's query can hold its credentials: the rest goes as it came.
            path.push(sep);
            path.push_str(q);
            return path;
        }
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            // Compared as Google reads it, decoded: `%6Bey` is `key` there.
            let decoded = crate::wire::url::percent_decode(name);
            if CLIENT_CREDENTIAL_PARAMS.contains(&decoded.as_deref().unwrap_or(name)) {
                continue;
            }
            path.push(sep);
            path.push_str(pair);
            sep = '&';
        }
    }
    path
}

/// Query parameters that carry a Google client's own credentials (`?key=` is how REST clients
/// pass an API key). Like the credential headers in `DROP_REQUEST`, they never go upstream:
/// Sluice sends the provider's key instead, and the client's key stays with Sluice.
const CLIENT_CREDENTIAL_PARAMS: &[&str] = &["key", "access_token"];

/// Client headers to forward on the same-format path, plus the provider's credentials.
pub fn forwarded_headers<'a>(req: &'a Request, provider: &'a Provider, key_index: usize) -> Vec<(&'a str, &'a [u8])> {
    let hop = connection_tokens(req);
    let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(24);
    for (name, value) in req.headers() {
        if !is_listed(name, DROP_REQUEST) && !hop.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            headers.push((name, value));
        }
    }
    if let Some(auth) = provider.auth_headers.get(key_index) {
        for (n, v) in auth {
            headers.push((n, v.as_bytes()));
        }
    }
    if provider.kind == ProviderKind::Anthropic && req.header("anthropic-version").is_none() {
        headers.push(("anthropic-version", ANTHROPIC_VERSION.as_bytes()));
    }
    headers
}

/// The Anthropic API version Sluice speaks when the client did not name one.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

#[allow(clippy::too_many_arguments)]
pub async fn forward(
    worker: &Worker,
    ctx: &mut RequestContext<'_>,
    req: &Request,
    conn: &mut Conn,
    body: &[Bytes],
    path: &str,
    stream: bool,
    provider: &Arc<Provider>,
    key_index: usize,
) -> Result<Outcome, (GatewayError, Option<io::Error>)> {
    let Some(origin) = provider.origin.as_ref() else {
        return Err((
            GatewayError::NotImplemented(format!("provider {:?} has no base_url", provider.name)),
            None,
        ));
    };
    let mut headers = forwarded_headers(req, provider, key_index);
    let signed;
    if provider.aws.is_some() {
        // SigV4 covers the body, so sign exactly what is sent (the body is never spliced for
        // Bedrock: its model is in the path).
        let joined: Vec<u8> = body.iter().flat_map(|b| b.iter().copied()).collect();
        signed =
            super::sigv4_headers(provider, path, &joined, req.header_str("content-type")).map_err(|e| (e, None))?;
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
        for (n, v) in &signed {
            headers.push((n, v.as_bytes()));
        }
    }
    let out = OutRequest {
        // A HEAD goes upstream as the GET it stands for: its answer's length is the GET body's,
        // which the client's head carries (RFC 9110 9.3.2), and an API need not serve HEAD.
        method: match req.method {
            crate::http::Method::Head => "GET",
            m => m.as_str(),
        },
        path,
        headers: &headers,
        body,
    };
    let sent = Instant::now();
    let resp = unless_hung_up(conn, upstream::send(&worker.pool, origin, &provider.timeouts, &out))
        .await?
        .map_err(|e| (e.into(), None))?;
    worker.metrics.upstream_latency(&provider.name, sent.elapsed());
    let status = resp.status;
    // Gemini's JSON-array stream is `application/json` and Cohere v1's `application/stream+json`,
    // yet streams all the same: relayed as they come, never buffered whole.
    if stream && status == 200 && (resp.is_event_stream() || ctx.api.json_array_stream || ctx.api.cohere_v1) {
        // Copy the relayed headers out of the response head so the body reader can be moved.
        let relay: Vec<(String, Vec<u8>)> = relayed_headers(&resp)
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect();
        // A body compressed anyway is opaque to the watch: relayed as it ends.
        let compressed = resp
            .header("content-encoding")
            .is_some_and(|v| !v.trim_ascii().eq_ignore_ascii_case(b"identity"));
        let watch = EndWatch::new(if compressed {
            EndMark::Unwatched
        } else {
            end_mark(ctx.api)
        });
        let body = resp.into_body();
        return pump_passthrough(worker, conn, req.http10, relay, body, watch).await;
    }
    let limit = ctx.snap.server.limits.max_body_bytes.max(64 * 1024 * 1024);
    let mut resp = resp;
    let data = match unless_hung_up(conn, resp.body.read_all(limit)).await? {
        Ok(d) => d,
        Err(e) => return Err((e.into(), None)),
    };
    let relay: Vec<(&str, &[u8])> = relayed_headers(&resp).collect();
    conn.send_full(status, &relay, data, req.keep_alive)
        .await
        .map_err(|e| (GatewayError::bad_request("client write failed", None), Some(e)))?;
    Ok(Outcome::sent(status))
}

/// The end marker of the stream a same-format request gets back.
pub(super) fn end_mark(api: &ApiRoute) -> EndMark {
    match api.format {
        Format::OpenAi if matches!(api.op, Operation::Responses | Operation::StoredResponse) => {
            EndMark::OpenAiResponses
        }
        Format::OpenAi => EndMark::OpenAiChat,
        Format::Anthropic => EndMark::Anthropic,
        Format::Gemini if api.json_array_stream => EndMark::Unwatched,
        Format::Gemini => EndMark::Gemini,
        Format::Cohere if api.cohere_v1 => EndMark::CohereV1,
        Format::Cohere => EndMark::CohereV2,
        Format::Bedrock if api.op == Operation::Invoke => EndMark::BedrockInvoke,
        Format::Bedrock => EndMark::BedrockConverse,
    }
}

/// The provider that holds stored responses (the Responses API's `store`): the default provider
/// if it is an OpenAI provider with the Responses API, else the only such provider. Sluice keeps
/// no responses itself; without one such provider to ask, the request is a 404 that says why.
fn stored_responses_provider<'a>(
    snap: &'a crate::config::Snapshot,
    path: &str,
) -> Result<&'a Arc<Provider>, GatewayError> {
    if let Some(i) = snap.stored_responses_provider {
        return Ok(&snap.providers[i]);
    }
    if snap.default_provider().holds_stored_responses() {
        return Ok(snap.default_provider());
    }
    let mut found = snap.providers.iter().filter(|p| p.holds_stored_responses());
    match (found.next(), found.next()) {
        (Some(p), None) => Ok(p),
        (None, _) => Err(GatewayError::NotFound(format!(
            "{path} (Sluice keeps no responses, and no OpenAI provider with the Responses API is configured to ask; send the conversation in `input`)"
        ))),
        (Some(_), Some(_)) => Err(GatewayError::NotFound(format!(
            "{path} (several OpenAI providers could hold this response: name the one that does in routing.stored_responses_provider)"
        ))),
    }
}

/// A stored-response request (`responses.retrieve`, `.delete`, `.cancel`, `.input_items.list`)
/// passed through to the provider that holds them, query included; `GET ...?stream=true`
/// replays the response's events, relayed as a stream.
pub async fn stored_response(
    worker: &Worker,
    ctx: &mut RequestContext<'_>,
    req: &Request,
    conn: &mut Conn,
) -> Result<Outcome, (GatewayError, Option<io::Error>)> {
    let provider = stored_responses_provider(ctx.snap, req.path()).map_err(|e| (e, None))?;
    ctx.provider.clear();
    ctx.provider.push_str(&provider.name);
    let standard = req.path().strip_prefix("/openai").unwrap_or(req.path());
    let mut path = super::translate::provider_path(provider, standard)?;
    if let Some(q) = req.query() {
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str(q);
    }
    let stream = matches!(req.method, crate::http::Method::Get | crate::http::Method::Head)
        && req.query().is_some_and(|q| q.split('&').any(|p| p == "stream=true"));
    let key = worker.next_key(provider.keys.len());
    forward(
        worker,
        ctx,
        req,
        conn,
        std::slice::from_ref(&req.body),
        &path,
        stream,
        provider,
        key,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;
    use crate::route::{route, Route};

    fn api_of(path: &str) -> ApiRoute {
        api_of_method(Method::Post, path)
    }

    fn api_of_method(method: Method, path: &str) -> ApiRoute {
        match route(method, path).unwrap() {
            Route::Api(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn same_format_paths_keep_the_clients_operation() {
        let snap = crate::config::compile_str(
            r#"
[routing]
default_provider = "g"
[[providers]]
name = "g"
kind = "gemini"
base_url = "http://127.0.0.1:1"
[[providers]]
name = "v"
kind = "gemini"
vertex = true
base_url = "http://127.0.0.1:1/v1/projects/p/locations/l/publishers/google"
[[providers]]
name = "a"
kind = "anthropic"
base_url = "http://127.0.0.1:1"
[[providers]]
name = "b"
kind = "bedrock"
base_url = "http://127.0.0.1:1"
[[providers]]
name = "o"
kind = "openai"
base_url = "http://127.0.0.1:1"
"#,
            "t",
        )
        .unwrap();
        let path = |provider: &str, client: &str, model: &str| {
            let p = snap.provider(provider).unwrap();
            upstream_path(p, "", &api_of(client), model, None)
        };
        for (client, want) in [
            (
                "/v1beta/models/g/m:batchEmbedContents",
                "/v1beta/models/m:batchEmbedContents",
            ),
            ("/genai/v1/models/g/m:embedContent", "/v1beta/models/m:embedContent"),
            ("/v1beta/models/g/m:countTokens", "/v1beta/models/m:countTokens"),
            ("/v1beta/models/g/m:generateContent", "/v1beta/models/m:generateContent"),
        ] {
            assert_eq!(path("g", client, "m"), want, "{client}");
        }
        assert_eq!(
            path("v", "/v1beta1/publishers/google/models/m:predict", "m"),
            "/models/m:predict",
            "Vertex drops the version, which its base URL holds"
        );
        let with_query = |query: &str| {
            let client = api_of("/v1beta/models/g/m:generateContent");
            upstream_path(snap.provider("g").unwrap(), "", &client, "m", Some(query))
        };
        for (query, want) in [
            ("key=abc&alt=sse", "?alt=sse"),
            ("%6Bey=abc&alt=sse", "?alt=sse"),
            ("alt=sse&%6b%65%79=abc&access%5Ftoken=t", "?alt=sse"),
            ("k%ey=abc", "?k%ey=abc"),
        ] {
            assert_eq!(
                with_query(query),
                format!("/v1beta/models/m:generateContent{want}"),
                "{query}"
            );
        }
        for (client, want) in [
            ("/v1/responses", "/v1/responses"),
            ("/openai/v1/responses", "/v1/responses"),
            ("/v1/completions", "/v1/completions"),
            ("/openai/v1/chat/completions", "/v1/chat/completions"),
        ] {
            assert_eq!(path("o", client, "m"), want, "{client}");
        }
        for (method, path) in [
            (Method::Get, "/openai/v1/responses/resp_1"),
            (Method::Delete, "/v1/responses/resp_1"),
            (Method::Post, "/v1/responses/resp_1/cancel"),
            (Method::Get, "/v1/responses/resp_1/input_items"),
        ] {
            assert_eq!(api_of_method(method, path).op, Operation::StoredResponse, "{path}");
        }
        for (method, path) in [
            (Method::Post, "/v1/responses/resp_1"),
            (Method::Get, "/v1/responses/resp_1/cancel"),
            (Method::Delete, "/v1/responses/resp_1/input_items"),
        ] {
            assert!(
                matches!(
                    route(method, path),
                    Err(crate::error::GatewayError::MethodNotAllowed { .. })
                ),
                "{path}"
            );
        }
        for path in [
            "/v1/responses/",
            "/v1/responses//cancel",
            "/v1/responses/r/other",
            "/v1/responses/..",
            "/v1/responses/..%2Ffiles",
            "/v1/responses/a.b/cancel",
        ] {
            assert!(
                matches!(route(Method::Get, path), Err(crate::error::GatewayError::NotFound(_))),
                "{path}"
            );
        }
        assert_eq!(api_of("/v1/responses/input_tokens").op, Operation::CountTokens);
        assert_eq!(api_of("/v1/responses").op, Operation::Responses);
        assert_eq!(api_of("/v1/responses").label(), "responses");
        assert!(matches!(
            route(Method::Get, "/v1/responses"),
            Err(crate::error::GatewayError::MethodNotAllowed { .. })
        ));
        assert_eq!(path("a", "/v1/messages/count_tokens", "c"), "/v1/messages/count_tokens");
        assert_eq!(path("a", "/v1/messages", "c"), "/v1/messages");
        assert_eq!(
            path("b", "/model/x/count-tokens", "anthropic.claude:0"),
            "/model/anthropic.claude%3A0/count-tokens"
        );
    }
}
