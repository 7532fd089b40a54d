//! Token counting across formats: the client's count request is decoded as the chat request it
//! counts, sent as the provider's own count request, and the provider's number comes back in the
//! client's shape. Same-format counts pass through as bytes like any other request.

use super::translate::{
    mock_request_id, post_json, provider_path, read_answer, refused, relayed_request_id, reply, undecodable,
};
use super::{Outcome, RequestContext, Worker};
use crate::config::{ApiStyle, Provider};
use crate::error::GatewayError;
use crate::formats::{count, Format};
use crate::http::{Conn, Request};
use std::io;
use std::sync::Arc;

type Failure = (GatewayError, Option<io::Error>);

fn decode(ctx: &RequestContext<'_>, req: &Request, model: &str) -> Result<crate::canonical::ChatRequest, Failure> {
    let mut canonical =
        count::decode_request(ctx.api.format, &req.body, ctx.api.path_model.as_deref()).map_err(refused)?;
    canonical.model = model.to_string();
    Ok(canonical)
}

/// The in-process mock: the input count its chat answer for the same conversation reports.
pub async fn serve_mock(
    ctx: &RequestContext<'_>,
    req: &Request,
    conn: &mut Conn,
    model: &str,
) -> Result<Outcome, Failure> {
    let canonical = decode(ctx, req, model)?;
    let answer = crate::mock::scenario::respond(&canonical, "count")
        .map_err(|fault| (GatewayError::UpstreamFault(fault), None))?;
    let headers: Vec<_> = mock_request_id(ctx.api.format).into_iter().collect();
    let body = count::encode_response(ctx.api.format, answer.usage.input);
    reply(conn, 200, "application/json", &headers, body, req.keep_alive).await
}

/// Sends a client's count request to a provider of another format.
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
    let body = count::encode_request(target, &canonical, vertex).map_err(refused)?;
    let path = provider_path(provider, &count::request_path(target, model))?;
    let mut resp = post_json(worker, provider, key_index, &path, body).await?;
    let data = read_answer(ctx, &mut resp, target).await?;
    let request_id = relayed_request_id(&resp, ctx.api.format);
    let tokens = count::decode_response(target, &data).map_err(|e| undecodable(target, "count ", e))?;
    let headers: Vec<_> = request_id.into_iter().collect();
    let body = count::encode_response(ctx.api.format, tokens);
    reply(conn, 200, "application/json", &headers, body, req.keep_alive).await
}
