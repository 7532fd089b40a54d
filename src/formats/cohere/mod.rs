//! Cohere v2 Chat wire format (PROTOCOLS section 7), both roles: the integration (a client speaks
//! `/v2/chat` to us) and the provider (we speak it to a Cohere upstream). Pure functions, no IO;
//! every input, however malformed, ends in a value or a `ConvertError`, never a panic.

pub mod embed;
pub mod error;
pub mod request;
pub mod rerank;
pub mod response;
pub mod stream;
pub mod types;
pub mod v1chat;
mod write;

pub use error::{decode_error, encode_error};
pub use request::{decode_request, encode_request};
pub use response::{decode_response, encode_response, finish_from_cohere, finish_to_cohere};

use crate::canonical::{Extra, Json};
use crate::formats::Format;

/// Provider: the path after the upstream base URL (streaming is a body flag, same path).
pub fn request_path(_model: &str, _stream: bool) -> String {
    "/v2/chat".to_string()
}

/// The Cohere extra that marks a text part as an assistant `tool_plan`.
pub(crate) fn tool_plan_extra() -> Extra {
    let mut e = Extra::new(Format::Cohere);
    e.push("tool_plan", Json::from(true));
    e
}

pub(crate) fn is_tool_plan(extra: &Extra) -> bool {
    extra.for_target(Format::Cohere).iter().any(|(n, _)| n == "tool_plan")
}

/// A UUID-shaped id (Cohere ids are UUIDs) derived from `seed`.
pub(crate) fn uuid_like(seed: u64) -> String {
    let a = seed.wrapping_mul(0x9E3779B97F4A7C15) ^ 0x5851F42D4C957F2D;
    let b = a.rotate_left(29).wrapping_mul(0xBF58476D1CE4E5B9);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}
