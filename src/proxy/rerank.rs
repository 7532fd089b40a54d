//! Rerank across formats: the client's rerank body (Cohere v1 or v2, or a Bedrock InvokeModel
//! rerank body) is decoded into `canonical::rerank`, sent in the provider's format, and the
//! answer is re-encoded in the shape the client asked for. Same-format rerank never comes here:
//! it passes through as bytes like any other same-format request.

use super::translate::{
    millis, mock_request_id, next_response_id, post_json, provider_path, read_answer, refused, relayed_request_id,
    reply, undecodable,
};
use super::{Outcome, RequestContext, Worker};
use crate::canonical::rerank::{RerankRequest, RerankResponse};
use crate::config::Provider;
use crate::error::GatewayError;
use crate::formats::{rerank, Format};
use crate::http::{Conn, Request};
use crate::upstream::UpstreamError;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Failure = (GatewayError, Option<io::Error>);

/// The client's request as canonical, for the routed `model`. `crossing`: it goes to another
/// format, so settings only the client's format has are refused by name.
fn decode(ctx: &RequestContext<'_>, req: &Request, model: &str, crossing: bool) -> Result<RerankRequest, Failure> {
    let mut canonical = rerank::decode_request(
        ctx.api.format,
        &req.body,
        ctx.api.path_model.as_deref(),
        ctx.api.cohere_v1,
        crossing,
    )
    .map_err(refused)?;
    canonical.model = model.to_string();
    Ok(canonical)
}

/// Headers that go with a rerank answer: the request id the client's SDK reads, and for a
/// Bedrock client InvokeModel's latency header.
fn answer_headers(
    ctx: &RequestContext<'_>,
    latency: Duration,
    request_id: Option<(&'static str, String)>,
) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = request_id.into_iter().collect();
    if ctx.api.format == Format::Bedrock {
        out.push(crate::formats::bedrock::invoke::latency_header(millis(latency)));
    }
    out
}

/// The in-process mock provider answering a rerank: the same deterministic scores as
/// `sluice-mock`, in the client's shape. It stands for a Cohere upstream, so Cohere's own
/// settings are taken.
pub async fn serve_mock(
    provider: &Provider,
    ctx: &RequestContext<'_>,
    req: &Request,
    conn: &mut Conn,
    model: &str,
) -> Result<Outcome, Failure> {
    let canonical = decode(ctx, req, model, false)?;
    crate::mock::rerank::validate(&canonical).map_err(|why| (GatewayError::bad_request(why, None), None))?;
    super::mock::latency_then_fault(provider, model).await?;
    let resp = RerankResponse {
        id: crate::formats::cohere::uuid_like(next_response_id()),
        results: crate::mock::rerank::rank(&canonical.query, &canonical.documents, canonical.top_n),
        search_units: Some(rerank::search_units(canonical.documents.len())),
    };
    let headers = answer_headers(ctx, ctx.started.elapsed(), mock_request_id(ctx.api.format));
    let body = rerank::encode_response(&resp, &canonical);
    reply(conn, 200, "application/json", &headers, body, req.keep_alive).await
}

/// Sends a client's rerank request to a provider of another format and answers in the client's
/// format. OpenAI, Anthropic and Gemini providers have no rerank API: refused by name.
pub async fn forward(
    worker: &Worker,
    ctx: &mut RequestContext<'_>,
    req: &Request,
    conn: &mut Conn,
    model: &str,
    provider: &Arc<Provider>,
    key_index: usize,
) -> Result<Outcome, Failure> {
    let target = provider.kind.format().unwrap_or(Format::OpenAi);
    let canonical = decode(ctx, req, model, true)?;
    let body = rerank::encode_request(target, &canonical).map_err(refused)?;
    let path = provider_path(provider, &rerank::request_path(target, model))?;
    let sent = Instant::now();
    let mut resp = post_json(worker, provider, key_index, &path, body).await?;
    let data = read_answer(ctx, &mut resp, target).await?;
    let request_id = relayed_request_id(&resp, ctx.api.format);
    let mut answer = rerank::decode_response(target, &data).map_err(|e| undecodable(target, "rerank ", e))?;
    if !answer.fits(canonical.documents.len()) {
        let why = format!(
            "the {} rerank answer points past the {} documents sent",
            target.name(),
            canonical.documents.len()
        );
        return Err((GatewayError::Upstream(UpstreamError::Undecodable(why)), None));
    }
    if answer.id.is_empty() && ctx.api.format == Format::Cohere {
        // Cohere answers always carry an id; Bedrock's Amazon model gives none.
        answer.id = crate::formats::cohere::uuid_like(next_response_id());
    }
    let headers = answer_headers(ctx, sent.elapsed(), request_id);
    let body = rerank::encode_response(&answer, &canonical);
    reply(conn, 200, "application/json", &headers, body, req.keep_alive).await
}
