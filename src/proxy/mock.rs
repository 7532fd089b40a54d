//! The in-process `mock` provider: answers in the OpenAI format without any network, with the
//! same behaviour as `sluice-mock` (shared code in `crate::mock`).

use super::{Outcome, RequestContext, Worker};
use crate::config::Provider;
use crate::error::GatewayError;
use crate::http::server::client_gone;
use crate::http::{Conn, Request};
use crate::mock::{openai, Scenario};
use crate::route::Operation;
use crate::wire::json::Peek;
use bytes::Bytes;
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
    let io_err = |e| (GatewayError::bad_request("client write failed", None), Some(e));
    let (rid_name, rid) = super::translate::mock_request_id(crate::formats::Format::OpenAi).unwrap_or_default();
    let json: [(&str, &[u8]); 2] = [("content-type", b"application/json"), (rid_name, rid.as_bytes())];
    if !knobs.latency.is_zero() {
        monoio::time::sleep(knobs.latency).await;
    }
    if let Scenario::Error(status) = Scenario::from_model(model) {
        let body = Bytes::from(openai::error_body(
            status,
            &format!("mock error {status} requested by model name"),
        ));
        conn.send_full(status, &json, body, req.keep_alive)
            .await
            .map_err(io_err)?;
        return Ok(Outcome { status });
    }
    let events = match (ctx.api.op, peek.stream) {
        (Operation::Chat, stream) => match openai::chat(&req.body, Some(model)) {
            openai::ChatOutcome::Answer(resp) if !stream => {
                let body = Bytes::from(openai::chat_completion(&resp));
                conn.send_full(200, &json, body, req.keep_alive).await.map_err(io_err)?;
                return Ok(Outcome { status: 200 });
            }
            openai::ChatOutcome::Answer(resp) => openai::chat_stream_events(&resp, knobs.chunks, peek.include_usage),
            openai::ChatOutcome::Error { status, body } => {
                conn.send_full(status, &json, Bytes::from(body), req.keep_alive)
                    .await
                    .map_err(io_err)?;
                return Ok(Outcome { status });
            }
        },
        (Operation::Completions, false) => {
            conn.send_full(
                200,
                &json,
                Bytes::from(openai::completion(&req.body, model)),
                req.keep_alive,
            )
            .await
            .map_err(io_err)?;
            return Ok(Outcome { status: 200 });
        }
        (Operation::Embeddings, _) => {
            conn.send_full(
                200,
                &json,
                Bytes::from(openai::embeddings(&req.body, model)),
                req.keep_alive,
            )
            .await
            .map_err(io_err)?;
            return Ok(Outcome { status: 200 });
        }
        (Operation::Completions, true) => {
            openai::completion_stream_events(&req.body, model, knobs.chunks, peek.include_usage)
        }
        (Operation::Models | Operation::Invoke, _) => {
            return Err((
                GatewayError::NotImplemented("the mock provider does not serve this operation".into()),
                None,
            ))
        }
    };
    conn.start_stream(200, &[("content-type", b"text/event-stream"), json[1]], req.http10)
        .await
        .map_err(io_err)?;
    worker.metrics.streams_add(1);
    let result = async {
        let gone = client_gone(conn.raw_fd());
        let mut gone = std::pin::pin!(gone);
        for (i, e) in events.iter().enumerate() {
            if i > 0 && !knobs.chunk_delay.is_zero() {
                monoio::select! {
                    _ = &mut gone => return Err(io::Error::from(io::ErrorKind::ConnectionAborted)),
                    _ = monoio::time::sleep(knobs.chunk_delay) => {}
                }
            }
            conn.send_chunk(e).await?;
        }
        conn.end_stream().await
    }
    .await;
    worker.metrics.streams_add(-1);
    result.map_err(io_err)?;
    Ok(Outcome { status: 200 })
}
