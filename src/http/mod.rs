//! HTTP/1.1 server side: connection loop, request heads and bodies, response writers.

pub mod conn;
pub mod cors;
pub mod drain;
pub mod error;
pub mod io;
pub mod request;
pub mod server;

pub use conn::{Conn, Header};
pub use drain::{Drain, StreamStop};
pub use error::HttpError;
pub use request::{Limits, Method, RefusedRequest, Request};
pub use server::{Handler, ServerState};
