//! The in-process `mock` provider: answers in the OpenAI format without any network, with the
//! same behaviour as `sluice-mock` (shared code in `crate::mock`).

use super::translate::{mock_request_id, reply};
use super::{Outcome, RequestContext, Worker};
use crate::config::Provider;
use crate::error::GatewayError;
use crate::formats::Format;
use crate::http::{Conn, Request};
use crate::mock::stream::BodyEnd;
use crate::mock::{openai, Scenario};
use crate::route::Operation;
use crate::wire::json::Peek;
use std::io;
use std::sync::Arc;

pub async fn serve(
    worker: &Worker,
    ctx: &RequestContext<'_>,
    req: &Request,
    conn: &mut Conn,
    peek: &Peek,
    model: &str,
    provider: &Arc<Provider>,
) -> Result<Outcome, (GatewayError, Option<io::Error>)> {
    let knobs = provider.mock;
    // One request id per answer, under the header the OpenAI SDK reads it from.
    let rid: Vec<(&'static str, String)> = mock_request_id(Format::OpenAi).into_iter().collect();
    let json = "application/json";
    if !knobs.latency.is_zero() {
        monoio::time::sleep(knobs.latency).await;
    }
    if let Scenario::Error(status) = Scenario::from_model(model) {
        let body = openai::error_body(status, &format!("mock error {status} requested by model name"));
        return reply(conn, status, json, &rid, body, req.keep_alive).await;
    }
    let mut body_end = BodyEnd::Clean;
    let events = match (ctx.api.op, peek.stream) {
        (Operation::Chat, stream) => match openai::chat(&req.body, Some(model)) {
            openai::ChatOutcome::Answer(resp) if !stream => {
                return reply(conn, 200, json, &rid, openai::chat_completion(&resp), req.keep_alive).await;
            }
            openai::ChatOutcome::Answer(resp) => openai::chat_stream_events(&resp, knobs.chunks, peek.include_usage),
            openai::ChatOutcome::Error { status, body } => {
                return reply(conn, status, json, &rid, body, req.keep_alive).await;
            }
        },
        (Operation::Completions, false) => {
            let (status, body) = openai::completion(&req.body, model).map_or_else(|e| e, |body| (200, body));
            return reply(conn, status, json, &rid, body, req.keep_alive).await;
        }
        (Operation::Embeddings, _) => {
            let (status, body) = match openai::embeddings(&req.body, model) {
                Ok(body) => (200, body),
                Err(body) => (400, body),
            };
            return reply(conn, status, json, &rid, body, req.keep_alive).await;
        }
        (Operation::Completions, true) => {
            match openai::completion_stream_events(&req.body, model, knobs.chunks, peek.include_usage) {
                Ok(stream) => {
                    body_end = stream.body_end;
                    stream.frames
                }
                Err((status, body)) => return reply(conn, status, json, &rid, body, req.keep_alive).await,
            }
        }
        (
            Operation::Models
            | Operation::Invoke
            | Operation::CountTokens
            | Operation::Rerank
            | Operation::Responses
            | Operation::StoredResponse,
            _,
        ) => {
            return Err((
                GatewayError::NotImplemented("the mock provider does not serve this operation".into()),
                None,
            ))
        }
    };
    let mut head: Vec<(&str, &[u8])> = vec![("content-type", b"text/event-stream")];
    head.extend(rid.iter().map(|(n, v)| (*n, v.as_bytes())));
    super::stream::send_frames(
        worker,
        conn,
        req.http10,
        &head,
        &events,
        knobs.chunk_delay,
        body_end,
        None,
        crate::formats::openai::stream::write_stream_error,
    )
    .await
}

/// What every in-process mock answer starts with: the provider's `mock_latency_ms`, then the
/// fault an `error-NNN` model name asks for.
pub(super) async fn latency_then_fault(
    provider: &Provider,
    model: &str,
) -> Result<(), (GatewayError, Option<std::io::Error>)> {
    if !provider.mock.latency.is_zero() {
        monoio::time::sleep(provider.mock.latency).await;
    }
    crate::mock::scenario::requested_fault(model).map_err(|fault| (GatewayError::UpstreamFault(fault), None))
}
