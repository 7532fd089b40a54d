//! Bytes on the wire: JSON peek/splice, the SSE framer, and the AWS event-stream codec.
//! Nothing here does IO: bytes in, events or bytes out.

pub mod base64;
pub mod eventstream;
pub mod json;
pub mod sse;
pub mod url;
