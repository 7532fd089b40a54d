//! Sluice: an LLM API gateway on io_uring.
//!
//! The flow, in module order: `runtime` starts one worker per core; `http` reads requests;
//! `route` matches them; `proxy` runs the lifecycle; `formats/<x>` is a wire dialect; `wire` is
//! bytes (JSON peek, SSE, event-stream); `upstream` is the per-worker pool and client.

pub mod canonical;
pub mod config;
pub mod error;
pub mod formats;
#[doc(hidden)]
pub mod fuzz;
pub mod http;
pub mod log;
pub mod metrics;
pub mod mock;
pub mod plugin;
pub mod proxy;
pub mod route;
pub mod runtime;
pub mod upstream;
pub mod wire;
