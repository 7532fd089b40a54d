//! Same-format path: the client's body goes upstream untouched except for the spliced `model`,
//! and the upstream's response comes back as it is (status, body, relevant headers).

use super::stream::pump_passthrough;
use super::{Outcome, RequestContext, Worker};
use crate::config::Provider;
use crate::error::GatewayError;
use crate::http::{Conn, Request};
use crate::upstream::{self, OutRequest};
use crate::wire::json::{self, Peek};
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
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
pub async fn forward(
    worker: &Worker,
    ctx: &mut RequestContext<'_>,
    req: &Request,
    conn: &mut Conn,
    peek: &Peek,
    model: &str,
    provider: &Arc<Provider>,
    key_index: usize,
) -> Result<Outcome, (GatewayError, Option<io::Error>)> {
    let Some(origin) = provider.origin.as_ref() else {
        return Err((
            GatewayError::NotImplemented(format!("provider {:?} has no base_url", provider.name)),
            None,
        ));
    };
    // Body: splice the model only when it changed (prefix removed); otherwise zero-copy.
    let spliced;
    let body: &[Bytes] = match (&peek.model_span, peek.model.as_deref() == Some(model)) {
        (_, true) => std::slice::from_ref(&req.body),
        (Some(span), false) => {
            spliced = json::splice_string(&req.body, span.clone(), model);
            &spliced
        }
        (None, false) => {
            return Err((
                GatewayError::bad_request("cannot locate 'model' in the body", Some("model")),
                None,
            ));
        }
    };
    // Path: base URL prefix + the operation's path + the client's query (e.g. Azure api-version).
    let mut path = String::with_capacity(64);
    path.push_str(&origin.path_prefix);
    path.push_str(ctx.op.upstream_path());
    if let Some(q) = req.query() {
        path.push('?');
        path.push_str(q);
    }
    // Headers: the client's, filtered, plus the provider's credentials.
    let hop = connection_tokens(req);
    let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(24);
    for (name, value) in req.headers() {
        if !is_listed(name, DROP_REQUEST) && !hop.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            headers.push((name, value));
        }
    }
    if let Some(auth) = provider.auth_values.get(key_index) {
        headers.push(("authorization", auth.as_bytes()));
    }
    let out = OutRequest {
        method: req.method.as_str(),
        path: &path,
        headers: &headers,
        body,
    };
    let sent = Instant::now();
    let resp = upstream::send(&worker.pool, origin, &provider.timeouts, &out)
        .await
        .map_err(|e| (e.into(), None))?;
    worker
        .metrics
        .upstream_latency(&provider.name, sent.elapsed());

    let relay: Vec<(&str, &[u8])> = resp
        .headers()
        .filter(|(n, _)| !is_listed(n, DROP_RESPONSE))
        .collect();
    let status = resp.status;
    if peek.stream && status == 200 && resp.is_event_stream() {
        // Copy the relayed headers out of the response head so the body reader can be moved.
        let relay_owned: Vec<(String, Vec<u8>)> = relay
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect();
        drop(relay);
        let body = resp.body;
        let relay_refs: Vec<(&str, &[u8])> = relay_owned
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        return pump_passthrough(worker, conn, req.http10, &relay_refs, body).await;
    }
    let limit = ctx.snap.server.limits.max_body_bytes.max(64 * 1024 * 1024);
    let mut resp = resp;
    let data = match resp.body.read_all(limit).await {
        Ok(d) => d,
        Err(e) => return Err((e.into(), None)),
    };
    let relay: Vec<(&str, &[u8])> = resp
        .headers()
        .filter(|(n, _)| !is_listed(n, DROP_RESPONSE))
        .collect();
    conn.send_full(status, &relay, data, req.keep_alive)
        .await
        .map_err(|e| {
            (
                GatewayError::bad_request("client write failed", None),
                Some(e),
            )
        })?;
    Ok(Outcome { status })
}
