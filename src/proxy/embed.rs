//! Embeddings across formats: the client's embeddings body is decoded into
//! `canonical::embed`, sent in the provider's format (one call, or several where the batch is
//! larger than one call of the provider's takes: `formats::embed::texts_per_call`), and the
//! answer is re-encoded in the shape the client asked for. Same-format embeddings never come
//! here: they pass through as bytes like any other same-format request.

use super::translate::{
    answer_limit, check_answer, millis, mock_request_id, next_response_id, post_json, provider_path, refuse_encoded,
    refused, relayed_request_id, reply, undecodable,
};
use super::{Outcome, RequestContext, Worker};
use crate::canonical::embed::{EmbedRequest, EmbedResponse};
use crate::config::{ApiStyle, Provider};
use crate::error::GatewayError;
use crate::formats::bedrock::invoke;
use crate::formats::embed::{self, EmbedCall};
use crate::formats::Format;
use crate::http::{Conn, Request};
use crate::upstream::{UpstreamError, UpstreamResponse};
use futures_util::StreamExt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Failure = (GatewayError, Option<io::Error>);

/// The client's request as canonical, for the routed `model`. A request that cannot be
/// expressed is the client's 400, naming the field.
fn decode(ctx: &RequestContext<'_>, req: &Request, model: &str) -> Result<EmbedRequest, Failure> {
    let mut canonical = embed::decode_request(
        ctx.api.format,
        &req.body,
        ctx.api.path_model.as_deref(),
        ctx.api.gemini_method,
        ctx.api.cohere_v1,
    )
    .map_err(refused)?;
    canonical.model = model.to_string();
    Ok(canonical)
}

/// Headers that go with an embeddings answer: the request id the client's SDK reads, and for a
/// Bedrock client InvokeModel's token-count and latency headers.
fn answer_headers(
    ctx: &RequestContext<'_>,
    resp: &EmbedResponse,
    latency: Duration,
    request_id: Option<(&'static str, String)>,
) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = request_id.into_iter().collect();
    if ctx.api.format == Format::Bedrock {
        let tokens = resp.input_tokens.unwrap_or(0);
        out.push((invoke::INPUT_TOKENS_HEADER, tokens.to_string()));
        out.push(invoke::latency_header(millis(latency)));
    }
    out
}

/// The in-process mock provider answering a non-OpenAI client's embeddings: the same
/// deterministic vectors as `sluice-mock` (and the OpenAI mock path), in the client's shape.
pub async fn serve_mock(
    provider: &Provider,
    ctx: &RequestContext<'_>,
    req: &Request,
    conn: &mut Conn,
    model: &str,
) -> Result<Outcome, Failure> {
    let canonical = decode(ctx, req, model)?;
    if canonical.texts.len() > crate::mock::MAX_EMBED_INPUTS {
        let why = format!("at most {} texts per request", crate::mock::MAX_EMBED_INPUTS);
        return Err((GatewayError::bad_request(why, None), None));
    }
    super::mock::latency_then_fault(provider, model).await?;
    let dims = canonical
        .dimensions
        .map_or(crate::mock::DEFAULT_EMBED_DIMS, |d| d.clamp(1, 4096) as usize);
    let resp = EmbedResponse {
        id: format!("mock-{:x}", next_response_id()),
        model: model.to_string(),
        vectors: canonical
            .texts
            .iter()
            .map(|t| crate::mock::openai::embed(t, dims))
            .collect(),
        input_tokens: Some(
            canonical
                .texts
                .iter()
                .map(|t| crate::mock::word_count(t).max(1) as u64)
                .sum(),
        ),
    };
    let headers = answer_headers(ctx, &resp, ctx.started.elapsed(), mock_request_id(ctx.api.format));
    let body = embed::encode_response(&resp, &canonical);
    reply(conn, 200, "application/json", &headers, body, req.keep_alive).await
}

/// How many of a split batch's calls are in flight at once. A Titan batch of 128 texts (one call
/// each) one after another would take 128 round trips; all at once would open 128 connections
/// and meet the account's rate limit. Eight keeps the largest batch to 16 round trips.
const CALLS_AT_ONCE: usize = 8;

/// One call, read whole apart from the request's context so that several can be in flight.
/// Gives back how many texts it carried with the answer.
async fn call(
    worker: &Worker,
    provider: &Provider,
    key_index: usize,
    path: &str,
    call: EmbedCall,
    limit: usize,
) -> Result<(usize, UpstreamResponse, bytes::Bytes), Failure> {
    let mut resp = post_json(worker, provider, key_index, path, call.body).await?;
    refuse_encoded(&resp)?;
    let data = resp.body.read_all(limit).await.map_err(|e| (e.into(), None))?;
    Ok((call.texts, resp, data))
}

/// Sends a client's embeddings request to a provider of another format and answers in the
/// client's format.
#[allow(clippy::too_many_arguments)]
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
    let vertex = matches!(provider.style, ApiStyle::Vertex);
    let canonical = decode(ctx, req, model)?;
    let calls = embed::encode_request(target, &canonical, vertex).map_err(refused)?;
    let path = provider_path(provider, &embed::request_path(target, model, vertex))?;
    let sent = Instant::now();
    let mut answer = EmbedResponse::default();
    let mut request_id = None;
    // A batch split into several calls (Titan: one per text; Cohere: 96 texts; ...) has up to
    // `CALLS_AT_ONCE` of them in flight at once on this worker's pool. Answers are taken in the
    // texts' order, and the first failure in that order answers for the whole request (the
    // calls still in flight are dropped, and their connections closed).
    let limit = answer_limit(ctx);
    let mut answers = futures_util::stream::iter(calls)
        .map(|c| call(worker, provider, key_index, &path, c, limit))
        .buffered(CALLS_AT_ONCE);
    while let Some(done) = answers.next().await {
        let (texts, resp, data) = done?;
        let data = check_answer(ctx, &resp, data, target)?;
        request_id = request_id.or_else(|| relayed_request_id(&resp, ctx.api.format));
        let mut part = embed::decode_response(target, &data).map_err(|e| undecodable(target, "embeddings ", e))?;
        // Checked per call: a short answer and a long one must not even out into the wrong
        // vectors for the right number of texts.
        if part.vectors.len() != texts {
            let why = format!(
                "the {} embeddings answer has {} vectors for {} inputs",
                target.name(),
                part.vectors.len(),
                texts
            );
            return Err((GatewayError::Upstream(UpstreamError::Undecodable(why)), None));
        }
        if part.input_tokens.is_none() {
            // Bedrock counts a Cohere model's input only in a header.
            part.input_tokens = resp
                .header(invoke::INPUT_TOKENS_HEADER)
                .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok());
        }
        answer.append(part);
    }
    if answer.model.is_empty() {
        answer.model = model.to_string();
    }
    if answer.id.is_empty() {
        answer.id = format!("sluice-{:x}", next_response_id());
    }
    let headers = answer_headers(ctx, &answer, sent.elapsed(), request_id);
    let body = embed::encode_response(&answer, &canonical);
    reply(conn, 200, "application/json", &headers, body, req.keep_alive).await
}
