//! Inbound routes: `(method, path)` -> what the request is, and model string -> target.

use crate::config::{Provider, Snapshot};
use crate::error::GatewayError;
use crate::formats::openai::Operation;
use crate::formats::Format;
use crate::http::Method;
use std::sync::Arc;

/// What an inbound request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Health,
    Metrics,
    /// An API call in a client's wire format.
    Api(Format, Operation),
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::Metrics => "metrics",
            Route::Api(_, op) => op.name(),
        }
    }
}

/// Matches the method and path (query excluded).
pub fn route(method: Method, path: &str) -> Result<Route, GatewayError> {
    let (route, want) = match path {
        "/health" => (Route::Health, Method::Get),
        "/metrics" => (Route::Metrics, Method::Get),
        _ => {
            let p = path.strip_prefix("/openai").unwrap_or(path);
            let op = match p {
                "/v1/chat/completions" => Operation::ChatCompletions,
                "/v1/completions" => Operation::Completions,
                "/v1/embeddings" => Operation::Embeddings,
                "/v1/models" => Operation::Models,
                _ => return Err(GatewayError::NotFound(path.to_string())),
            };
            let want = if op == Operation::Models {
                Method::Get
            } else {
                Method::Post
            };
            (Route::Api(Format::OpenAi, op), want)
        }
    };
    if method == want || (want == Method::Get && method == Method::Head) {
        Ok(route)
    } else {
        Err(GatewayError::MethodNotAllowed)
    }
}

/// Where a request goes and under which model name.
pub struct Target<'a> {
    pub provider: &'a Arc<Provider>,
    /// The model to send upstream (prefix removed when it named a provider).
    pub model: &'a str,
}

/// `"name/model"` where `name` is a configured provider goes there with the prefix removed; any
/// other string goes to the default provider unchanged (so `meta-llama/Llama-3.1-8B` survives).
pub fn target<'a>(snap: &'a Snapshot, model: &'a str) -> Target<'a> {
    if let Some((prefix, rest)) = model.split_once('/') {
        if let Some(p) = snap.provider(prefix) {
            return Target {
                provider: p,
                model: rest,
            };
        }
    }
    Target {
        provider: snap.default_provider(),
        model,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> Snapshot {
        crate::config::compile_str(
            r#"
[routing]
default_provider = "mock"
[[providers]]
name = "mock"
kind = "mock"
[[providers]]
name = "openai"
kind = "openai"
base_url = "http://127.0.0.1:1"
"#,
            "t",
        )
        .unwrap()
    }

    #[test]
    fn provider_prefix_is_stripped() {
        let s = snap();
        let t = target(&s, "openai/gpt-4o-mini");
        assert_eq!(t.provider.name, "openai");
        assert_eq!(t.model, "gpt-4o-mini");
    }

    #[test]
    fn unknown_prefix_goes_to_default_unchanged() {
        let s = snap();
        let t = target(&s, "meta-llama/Llama-3.1-8B");
        assert_eq!(t.provider.name, "mock");
        assert_eq!(t.model, "meta-llama/Llama-3.1-8B");
        let t = target(&s, "gpt-4o");
        assert_eq!((t.provider.name.as_str(), t.model), ("mock", "gpt-4o"));
    }

    #[test]
    fn routes_and_methods() {
        assert_eq!(
            route(Method::Post, "/v1/chat/completions").unwrap(),
            Route::Api(Format::OpenAi, Operation::ChatCompletions)
        );
        assert_eq!(
            route(Method::Post, "/openai/v1/embeddings").unwrap(),
            Route::Api(Format::OpenAi, Operation::Embeddings)
        );
        assert_eq!(
            route(Method::Get, "/openai/v1/models").unwrap(),
            Route::Api(Format::OpenAi, Operation::Models)
        );
        assert!(matches!(
            route(Method::Get, "/v1/chat/completions"),
            Err(GatewayError::MethodNotAllowed)
        ));
        assert!(matches!(
            route(Method::Post, "/v2/nothing"),
            Err(GatewayError::NotFound(_))
        ));
        assert_eq!(route(Method::Get, "/health").unwrap(), Route::Health);
    }
}
