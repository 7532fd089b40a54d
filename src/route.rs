//! Inbound routes: `(method, path)` -> which format the client speaks and what it asks for; and
//! model string -> target.
//!
//! Every format is served under its own prefix (`/openai`, `/anthropic`, `/genai`, `/bedrock`,
//! `/cohere`) and at the root path its SDK uses by default, so an SDK works by changing only its
//! base URL.

use crate::config::{Provider, Snapshot};
use crate::error::GatewayError;
use crate::formats::Format;
use crate::http::Method;
pub use crate::wire::url::percent_decode;
use std::sync::Arc;

/// What an API request asks for, independent of format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Chat,
    /// OpenAI legacy completions.
    Completions,
    /// OpenAI Responses API (`/v1/responses`).
    Responses,
    /// A response stored at OpenAI (`/v1/responses/{id}`: retrieve, delete, `cancel`,
    /// `input_items`). It names no model: it goes to the provider that holds stored responses.
    StoredResponse,
    Embeddings,
    Models,
    /// Bedrock InvokeModel (model-native body).
    Invoke,
    /// The input tokens a chat request would use (Anthropic `count_tokens`, Gemini
    /// `countTokens`, Bedrock `CountTokens`, OpenAI `responses/input_tokens`).
    CountTokens,
    /// Documents ordered by relevance to a query (Cohere `/v1/rerank`, `/v2/rerank`; a Bedrock
    /// client's rerank is an `Invoke` told by its body).
    Rerank,
}

impl Operation {
    /// Label for metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::Completions => "completions",
            Operation::Responses => "responses",
            Operation::StoredResponse => "stored_response",
            Operation::Embeddings => "embeddings",
            Operation::Models => "models",
            Operation::Invoke => "invoke",
            Operation::CountTokens => "count_tokens",
            Operation::Rerank => "rerank",
        }
    }
}

/// An API call in a client's wire format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRoute {
    pub format: Format,
    pub op: Operation,
    /// Model named in the URL (Gemini, Bedrock), percent-decoded.
    pub path_model: Option<String>,
    /// Streaming decided by the URL (Gemini method, Bedrock operation); `None` = from the body.
    pub path_stream: Option<bool>,
    /// A Gemini stream asked for without `alt=sse`: the answer, and an error before it, is one
    /// JSON array (PROTOCOLS 4.1). Set from the query by `read_query`.
    pub json_array_stream: bool,
    /// The Gemini method a Gemini client called (generate, or one of the embeddings forms).
    pub gemini_method: Option<crate::formats::gemini::ApiMethod>,
    /// A Gemini client on Vertex AI's paths (`publishers/...`), whose bodies differ from the
    /// Gemini API's for embeddings and counts.
    pub gemini_vertex: bool,
    /// A Cohere client on the v1 API (`/v1/chat`, `/v1/rerank`, `/v1/embed`), whose bodies and
    /// answers differ from v2's.
    pub cohere_v1: bool,
}

impl ApiRoute {
    /// What the query string decides: only Gemini's stream form (`alt=sse` or the JSON array).
    pub fn read_query(&mut self, query: Option<&str>) {
        self.json_array_stream = self.format == Format::Gemini
            && self.path_stream == Some(true)
            && !crate::formats::gemini::wants_sse(query);
    }

    /// Metrics label: the route as its format names it.
    pub fn label(&self) -> &'static str {
        use Format::*;
        use Operation::*;
        match (self.format, self.op) {
            (OpenAi, Chat) => "chat_completions",
            (OpenAi, Completions) => "completions",
            (OpenAi, Responses) => "responses",
            (OpenAi, CountTokens) => "responses_input_tokens",
            (OpenAi, StoredResponse) => "responses_stored",
            (OpenAi, Embeddings) => "embeddings",
            (OpenAi, _) => "models",
            (Anthropic, Models) => "anthropic_models",
            (Anthropic, CountTokens) => "anthropic_count_tokens",
            (Anthropic, _) => "anthropic_messages",
            (Gemini, Embeddings) => "gemini_embed_content",
            (Gemini, CountTokens) => "gemini_count_tokens",
            (Gemini, Models) => "gemini_models",
            (Gemini, _) => "gemini_generate_content",
            (Bedrock, Invoke) => "bedrock_invoke",
            (Bedrock, CountTokens) => "bedrock_count_tokens",
            (Bedrock, _) => "bedrock_converse",
            (Cohere, Embeddings) => "cohere_embed",
            (Cohere, Models) => "cohere_models",
            (Cohere, Rerank) => "cohere_rerank",
            (Cohere, _) if self.cohere_v1 => "cohere_v1_chat",
            (Cohere, _) => "cohere_chat",
        }
    }
}

/// What an inbound request is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Health,
    Metrics,
    /// `OPTIONS *`: what the server as a whole supports (RFC 9110 9.3.7).
    ServerOptions,
    Api(ApiRoute),
}

/// The methods some route serves, for `OPTIONS *`'s `Allow`.
pub const SERVED_METHODS: &str = "GET, HEAD, POST, DELETE, OPTIONS";

impl Route {
    pub fn name(&self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::Metrics => "metrics",
            Route::ServerOptions => "server_options",
            Route::Api(a) => a.label(),
        }
    }
}

fn api(format: Format, op: Operation) -> ApiRoute {
    ApiRoute {
        format,
        op,
        path_model: None,
        path_stream: None,
        json_array_stream: false,
        gemini_method: None,
        gemini_vertex: false,
        cohere_v1: false,
    }
}

/// What a GET route serves: HEAD too (the same head, no body).
const GET: &[Method] = &[Method::Get, Method::Head];
const POST: &[Method] = &[Method::Post];

/// Matches the method and path (query excluded).
pub fn route(method: Method, path: &str) -> Result<Route, GatewayError> {
    // A method no route knows is the server's to refuse, whatever the path (RFC 9110 9.1).
    if method == Method::Other {
        return Err(GatewayError::NotImplemented(format!(
            "request method not implemented (Sluice serves {SERVED_METHODS})"
        )));
    }
    if path == "*" && method == Method::Options {
        return Ok(Route::ServerOptions);
    }
    let Some((route, allowed)) = match_path(path).or_else(|| stored_response_path(path)) else {
        if is_apply_guardrail(path) {
            return Err(GatewayError::bad_request(APPLY_GUARDRAIL, None));
        }
        return Err(GatewayError::NotFound(path.to_string()));
    };
    if allowed.contains(&method) {
        Ok(route)
    } else if method != Method::Options
        && matches!(&route, Route::Api(a) if a.format == Format::Gemini && a.op == Operation::Models)
    {
        // A POST to a Gemini model path that is no call Sluice serves (`models/m:generateContentx/y`,
        // `models/m:generate_content`) reads as a model lookup, since a model id may hold `:` and
        // `/` (`bedrock/...-v1:0`, an ARN): it is a call of an unknown method, which Google
        // answers 404 NOT_FOUND (it routes by HTTP method and path together, and sends no 405).
        Err(GatewayError::NotFound(format!(
            "{} {path}: {GEMINI_SERVED}",
            method.as_str()
        )))
    } else {
        Err(GatewayError::MethodNotAllowed { allowed })
    }
}

/// What a Gemini client may call, for the 404 of a call Sluice does not serve.
const GEMINI_SERVED: &str = "Sluice serves GET models and models/{model}, and POST \
                             models/{model}:generateContent, :streamGenerateContent, :countTokens, \
                             :embedContent, :batchEmbedContents and :predict";

/// Why bedrock-runtime's `ApplyGuardrail` is refused: it checks content against a guardrail of
/// the caller's AWS account and routes no model, so Sluice has no target to translate it for.
/// A 400 (Bedrock's `ValidationException`), which botocore does not retry: Bedrock's error shape
/// has no 501, and its 500 would be retried.
const APPLY_GUARDRAIL: &str = "ApplyGuardrail is not supported by Sluice: call Bedrock directly, or \
                               pass a guardrailConfig with a Converse request to a Bedrock model";

/// `[/bedrock]/guardrail/{id}/version/{version}/apply`: bedrock-runtime's `ApplyGuardrail`.
fn is_apply_guardrail(path: &str) -> bool {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let path = path.strip_prefix("/bedrock").unwrap_or(path);
    let Some(rest) = path.strip_prefix("/guardrail/") else {
        return false;
    };
    let mut p = rest.split('/');
    matches!(
        (p.next(), p.next(), p.next(), p.next(), p.next()),
        (Some(id), Some("version"), Some(v), Some("apply"), None) if !id.is_empty() && !v.is_empty()
    )
}

/// The route an error about a request to `path` is rendered for, when the request reached no
/// route (a wrong method, an unknown path, a refusal by the HTTP layer): the route at that path
/// whatever its method, else one of the format the path's prefix or shape names, else OpenAI's.
/// Only its format and flags matter (`op` is a placeholder for an unknown path).
pub fn error_route(path: &str) -> ApiRoute {
    match match_path(path).or_else(|| stored_response_path(path)) {
        Some((Route::Api(api), _)) => api,
        _ => api(format_named_by(path), Operation::Models),
    }
}

/// The format an unrouted path belongs to: a format's prefix (`/anthropic/...`), or a shape only
/// one format's paths have; OpenAI's by default.
fn format_named_by(path: &str) -> Format {
    for (prefix, format) in [
        ("/openai", Format::OpenAi),
        ("/anthropic", Format::Anthropic),
        ("/genai", Format::Gemini),
        ("/bedrock", Format::Bedrock),
        ("/cohere", Format::Cohere),
    ] {
        if path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        {
            return format;
        }
    }
    if path.starts_with("/v1/messages/") {
        return Format::Anthropic;
    }
    if path.starts_with("/model/") || path.starts_with("/guardrail/") {
        return Format::Bedrock;
    }
    // `/v1beta[1]/...`, Vertex's `/{ver}/projects/...` and `/{ver}/publishers/...`, and a call of
    // a Gemini method (`.../models/x:someMethod`).
    let gemini_call = path.contains("/models/")
        && path
            .rsplit_once(':')
            .is_some_and(|(_, m)| !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic()));
    let vertex = ["/v1/", "/v1beta1/"].iter().any(|v| {
        path.strip_prefix(v)
            .is_some_and(|rest| rest.starts_with("projects/") || rest.starts_with("publishers/"))
    });
    if path.starts_with("/v1beta/") || path.starts_with("/v1beta1/") || vertex || gemini_call {
        return Format::Gemini;
    }
    Format::OpenAi
}

/// `[/openai]/v1/responses/{id}` (GET retrieves, DELETE deletes), `.../{id}/cancel` (POST) and
/// `.../{id}/input_items` (GET): the openai SDK's `responses.retrieve`, `.delete`, `.cancel` and
/// `.input_items.list`. HEAD goes wherever GET does, as on every GET route.
fn stored_response_path(path: &str) -> Option<(Route, &'static [Method])> {
    let rest = path
        .strip_prefix("/openai")
        .unwrap_or(path)
        .strip_prefix("/v1/responses/")?;
    let (id, allowed): (&str, &'static [Method]) = match rest.split_once('/') {
        None => (rest, &[Method::Get, Method::Head, Method::Delete]),
        Some((id, "cancel")) => (id, POST),
        Some((id, "input_items")) => (id, GET),
        Some(_) => return None,
    };
    // An id is a token (`resp_...`): nothing that could walk the upstream's paths (`..`, `%2F`).
    let token = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    if id.is_empty() || id.len() > 256 || !id.bytes().all(token) {
        return None;
    }
    Some((Route::Api(api(Format::OpenAi, Operation::StoredResponse)), allowed))
}

/// The route at `path` and the methods it serves.
fn match_path(path: &str) -> Option<(Route, &'static [Method])> {
    use Format::*;
    use Operation::*;
    Some(match path {
        "/health" => (Route::Health, GET),
        "/metrics" => (Route::Metrics, GET),
        "/v1/chat/completions" | "/openai/v1/chat/completions" => (Route::Api(api(OpenAi, Chat)), POST),
        "/v1/completions" | "/openai/v1/completions" => (Route::Api(api(OpenAi, Completions)), POST),
        "/v1/responses" | "/openai/v1/responses" => (Route::Api(api(OpenAi, Responses)), POST),
        "/v1/responses/input_tokens" | "/openai/v1/responses/input_tokens" => {
            (Route::Api(api(OpenAi, CountTokens)), POST)
        }
        "/v1/embeddings" | "/openai/v1/embeddings" => (Route::Api(api(OpenAi, Embeddings)), POST),
        "/v1/models" | "/openai/v1/models" => (Route::Api(api(OpenAi, Models)), GET),
        "/v1/messages" | "/anthropic/v1/messages" => (Route::Api(api(Anthropic, Chat)), POST),
        "/anthropic/v1/models" => (Route::Api(api(Anthropic, Models)), GET),
        "/v1/messages/count_tokens" | "/anthropic/v1/messages/count_tokens" => {
            (Route::Api(api(Anthropic, CountTokens)), POST)
        }
        "/v2/chat" | "/cohere/v2/chat" => (Route::Api(api(Cohere, Chat)), POST),
        "/v1/chat" | "/cohere/v1/chat" => {
            let mut r = api(Cohere, Chat);
            r.cohere_v1 = true;
            (Route::Api(r), POST)
        }
        "/v2/embed" | "/cohere/v2/embed" => (Route::Api(api(Cohere, Embeddings)), POST),
        "/v1/embed" | "/cohere/v1/embed" => {
            let mut r = api(Cohere, Embeddings);
            r.cohere_v1 = true;
            (Route::Api(r), POST)
        }
        "/v2/rerank" | "/cohere/v2/rerank" => (Route::Api(api(Cohere, Rerank)), POST),
        "/v1/rerank" | "/cohere/v1/rerank" => {
            let mut r = api(Cohere, Rerank);
            r.cohere_v1 = true;
            (Route::Api(r), POST)
        }
        "/cohere/v1/models" => (Route::Api(api(Cohere, Models)), GET),
        _ => {
            return gemini_path(path)
                .or_else(|| bedrock_path(path))
                .or_else(|| model_lookup_path(path))
        }
    })
}

/// `[/genai]/{v1,v1beta,v1beta1}/models/{model}:{method}` (Gemini API) and the Vertex shapes
/// `/{ver}/[projects/{p}/locations/{l}/]publishers/{pub}/models/{model}:{method}` (PROTOCOLS 4.1:
/// google-genai with `vertexai=True` sends these). One parser with the mock, so the gateway
/// routes every shape the mock answers.
fn gemini_path(path: &str) -> Option<(Route, &'static [Method])> {
    use crate::formats::gemini::ApiMethod;
    let (model, method) = crate::formats::gemini::parse_route(path)?;
    let mut r = match method {
        ApiMethod::GenerateContent | ApiMethod::StreamGenerateContent => api(Format::Gemini, Operation::Chat),
        ApiMethod::CountTokens => api(Format::Gemini, Operation::CountTokens),
        _ => api(Format::Gemini, Operation::Embeddings),
    };
    r.path_model = Some(model);
    r.path_stream = Some(method == ApiMethod::StreamGenerateContent);
    r.gemini_method = Some(method);
    r.gemini_vertex = crate::formats::gemini::is_vertex_path(path);
    Some((Route::Api(r), POST))
}

/// Model listing and lookup paths beyond the fixed ones (GET): `[/openai]/v1/models/{id}`,
/// `/anthropic/v1/models/{id}`, `/cohere/v1/models[/{id}]`, and Gemini's
/// `[/genai]/{v1,v1beta,v1beta1}/models[/{model}]`. `{id}` may hold `/` (`provider/model`) raw or
/// percent-encoded.
fn model_lookup_path(path: &str) -> Option<(Route, &'static [Method])> {
    let lookup = |format: Format, id: &str| {
        let mut r = api(format, Operation::Models);
        if !id.is_empty() {
            r.path_model = Some(percent_decode(id)?);
        }
        Some((Route::Api(r), GET))
    };
    for (prefix, format) in [
        ("/openai/v1/models/", Format::OpenAi),
        ("/anthropic/v1/models/", Format::Anthropic),
        ("/cohere/v1/models/", Format::Cohere),
        ("/v1/models/", Format::OpenAi),
    ] {
        if let Some(id) = path.strip_prefix(prefix) {
            return if id.is_empty() { None } else { lookup(format, id) };
        }
    }
    let p = path.strip_prefix("/genai").unwrap_or(path);
    let rest = ["/v1beta1/models", "/v1beta/models", "/v1/models"]
        .iter()
        .find_map(|v| p.strip_prefix(v))?;
    let id = match rest {
        "" => return lookup(Format::Gemini, ""),
        r => r.strip_prefix('/').filter(|id| !id.is_empty())?,
    };
    // `...:someMethod` is a call of a method Sluice does not serve (404), not a model name; a
    // model id's own `:` is followed by a version (`anthropic.claude-x:0`).
    let called = id
        .rsplit_once(':')
        .is_some_and(|(_, m)| !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic()));
    if called {
        return None;
    }
    lookup(Format::Gemini, id)
}

/// `[/bedrock]/model/{modelId}/{converse|converse-stream|invoke|invoke-with-response-stream}`.
fn bedrock_path(path: &str) -> Option<(Route, &'static [Method])> {
    let p = path.strip_prefix("/bedrock").unwrap_or(path);
    let rest = p.strip_prefix("/model/")?;
    let (model, op) = rest.rsplit_once('/')?;
    let (op, stream) = match op {
        "converse" => (Operation::Chat, false),
        "converse-stream" => (Operation::Chat, true),
        "invoke" => (Operation::Invoke, false),
        "invoke-with-response-stream" => (Operation::Invoke, true),
        "count-tokens" => (Operation::CountTokens, false),
        _ => return None,
    };
    if model.is_empty() {
        return None;
    }
    let mut r = api(Format::Bedrock, op);
    r.path_model = Some(percent_decode(model)?);
    r.path_stream = Some(stream);
    Some((Route::Api(r), POST))
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

    fn api_route(method: Method, path: &str) -> ApiRoute {
        match route(method, path).unwrap() {
            Route::Api(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn model_listing_and_lookup_routes() {
        let lookup = |path: &str| {
            let r = api_route(Method::Get, path);
            assert_eq!(r.op, Operation::Models, "{path}");
            (r.format, r.path_model)
        };
        assert_eq!(lookup("/v1/models"), (Format::OpenAi, None));
        assert_eq!(
            lookup("/v1/models/openai/gpt-4o"),
            (Format::OpenAi, Some("openai/gpt-4o".into()))
        );
        assert_eq!(lookup("/openai/v1/models/a%2Fb"), (Format::OpenAi, Some("a/b".into())));
        assert_eq!(
            lookup("/anthropic/v1/models/mock/m"),
            (Format::Anthropic, Some("mock/m".into()))
        );
        assert_eq!(lookup("/cohere/v1/models"), (Format::Cohere, None));
        assert_eq!(lookup("/cohere/v1/models/c/x"), (Format::Cohere, Some("c/x".into())));
        assert_eq!(lookup("/genai/v1beta/models"), (Format::Gemini, None));
        assert_eq!(
            lookup("/v1beta/models/gemini/g"),
            (Format::Gemini, Some("gemini/g".into()))
        );
        // A Bedrock id's `:` is not a Gemini method: the whole id is the model.
        assert_eq!(
            lookup("/v1beta/models/bedrock/anthropic.claude-x:0"),
            (Format::Gemini, Some("bedrock/anthropic.claude-x:0".into()))
        );
        assert!(matches!(
            route(Method::Get, "/v1/models/"),
            Err(GatewayError::NotFound(_))
        ));
        assert!(matches!(
            route(Method::Post, "/v1beta/models/g:streamRawPredict"),
            Err(GatewayError::NotFound(_))
        ));
    }

    /// A POST to a Gemini model path that is no call Sluice serves got a 405 (a wrong method on
    /// the model lookup), which a Gemini client read as a 400 INVALID_ARGUMENT: it is an unknown
    /// method, Google's 404 NOT_FOUND. Model ids with `:` and `/` still route, to their calls and
    /// lookups.
    #[test]
    fn an_unknown_gemini_method_is_not_found() {
        for path in [
            "/v1beta/models/g",
            "/v1beta/models/m:generateContentx",
            "/v1beta/models/m:generateContentx/y",
            "/v1beta/models/m:generateContent/y",
            "/v1beta/models/m:generate_content",
            "/v1beta/models/m:generateContent2",
            "/genai/v1/models/bedrock/anthropic.claude-3-haiku-20240307-v1:0",
            "/v1beta/models",
        ] {
            match route(Method::Post, path) {
                Err(e @ GatewayError::NotFound(_)) => assert!(e.message().contains(":generateContent"), "{e:?}"),
                other => panic!("{path}: {other:?}"),
            }
            assert_eq!(error_route(path).format, Format::Gemini, "{path}");
        }
        // Vertex's shapes have no lookup to be read as: an unknown call there was a 404 already.
        let vertex = "/v1beta1/publishers/google/models/m:rawPredictx/y";
        assert!(matches!(route(Method::Post, vertex), Err(GatewayError::NotFound(_))));
        assert_eq!(error_route(vertex).format, Format::Gemini);
        // A DELETE of a model: no such Gemini method either.
        assert!(matches!(
            route(Method::Delete, "/v1beta/models/m"),
            Err(GatewayError::NotFound(_))
        ));
        // A served call asked with another method names its method (`Allow`), and OPTIONS
        // keeps the 405 it gets on every route.
        for method in [Method::Get, Method::Options] {
            assert!(matches!(
                route(method, "/v1beta/models/m:generateContent"),
                Err(GatewayError::MethodNotAllowed { .. })
            ));
        }
        assert!(matches!(
            route(Method::Options, "/v1beta/models/m"),
            Err(GatewayError::MethodNotAllowed { .. })
        ));
        // Ids holding `:` and `/` still reach their method and their lookup.
        let id = "bedrock/anthropic.claude-3-haiku-20240307-v1:0";
        let arn = "bedrock/arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc";
        for model in [id, arn] {
            let r = api_route(Method::Post, &format!("/genai/v1beta/models/{model}:generateContent"));
            assert_eq!((r.op, r.path_model.as_deref()), (Operation::Chat, Some(model)));
            let r = api_route(Method::Get, &format!("/genai/v1beta/models/{model}"));
            assert_eq!((r.op, r.path_model.as_deref()), (Operation::Models, Some(model)));
        }
    }

    #[test]
    fn embeddings_and_count_routes() {
        use crate::formats::gemini::ApiMethod;
        for (path, op, method) in [
            (
                "/genai/v1beta/models/openai/text-embedding-3-small:batchEmbedContents",
                Operation::Embeddings,
                ApiMethod::BatchEmbedContents,
            ),
            (
                "/v1beta/models/m:embedContent",
                Operation::Embeddings,
                ApiMethod::EmbedContent,
            ),
            (
                "/v1beta1/publishers/cohere/models/embed-v4.0:predict",
                Operation::Embeddings,
                ApiMethod::Predict,
            ),
            (
                "/v1beta/models/m:countTokens",
                Operation::CountTokens,
                ApiMethod::CountTokens,
            ),
        ] {
            let r = api_route(Method::Post, path);
            assert_eq!(
                (r.format, r.op, r.gemini_method),
                (Format::Gemini, op, Some(method)),
                "{path}"
            );
            assert_eq!(r.path_stream, Some(false));
            assert_eq!(
                r.label(),
                if op == Operation::Embeddings {
                    "gemini_embed_content"
                } else {
                    "gemini_count_tokens"
                }
            );
        }
        assert_eq!(
            api_route(Method::Post, "/v1beta1/publishers/cohere/models/embed-v4.0:predict")
                .path_model
                .as_deref(),
            Some("cohere/embed-v4.0")
        );
        // Which API's body shape the client sends.
        for (path, vertex) in [
            ("/v1beta1/publishers/cohere/models/embed-v4.0:predict", true),
            (
                "/genai/v1/projects/p/locations/l/publishers/google/models/m:countTokens",
                true,
            ),
            ("/genai/v1beta/models/m:embedContent", false),
            ("/v1beta/models/publishers/m:countTokens", false),
        ] {
            assert_eq!(api_route(Method::Post, path).gemini_vertex, vertex, "{path}");
        }
        for path in ["/v1/messages/count_tokens", "/anthropic/v1/messages/count_tokens"] {
            assert_eq!(
                api_route(Method::Post, path),
                api(Format::Anthropic, Operation::CountTokens)
            );
        }
        let r = api_route(Method::Post, "/bedrock/model/us.anthropic.claude-x%3A0/count-tokens");
        assert_eq!(
            (r.format, r.op, r.path_model.as_deref()),
            (Format::Bedrock, Operation::CountTokens, Some("us.anthropic.claude-x:0"))
        );
        assert!(matches!(
            route(Method::Get, "/v1/messages/count_tokens"),
            Err(GatewayError::MethodNotAllowed { .. })
        ));
    }

    #[test]
    fn rerank_and_embed_routes_keep_the_cohere_api_version() {
        for (path, v1) in [
            ("/v2/rerank", false),
            ("/cohere/v2/rerank", false),
            ("/v1/rerank", true),
            ("/cohere/v1/rerank", true),
        ] {
            let r = api_route(Method::Post, path);
            assert_eq!(
                (r.format, r.op, r.cohere_v1),
                (Format::Cohere, Operation::Rerank, v1),
                "{path}"
            );
            assert_eq!(r.label(), "cohere_rerank");
        }
        assert!(matches!(
            route(Method::Get, "/v2/rerank"),
            Err(GatewayError::MethodNotAllowed { .. })
        ));
        for (path, v1) in [
            ("/v2/embed", false),
            ("/cohere/v2/embed", false),
            ("/v1/embed", true),
            ("/cohere/v1/embed", true),
        ] {
            let r = api_route(Method::Post, path);
            assert_eq!(
                (r.format, r.op, r.cohere_v1),
                (Format::Cohere, Operation::Embeddings, v1),
                "{path}"
            );
        }
        assert!(matches!(
            route(Method::Post, "/openai/v1/rerank"),
            Err(GatewayError::NotFound(_))
        ));
    }

    #[test]
    fn unrouted_requests_name_their_format_and_methods() {
        for (path, format) in [
            ("/anthropic/v1/nope", Format::Anthropic),
            ("/anthropic", Format::Anthropic),
            ("/v1/messages/batches", Format::Anthropic),
            ("/genai/v1/whatever", Format::Gemini),
            ("/v1beta/models/m:streamRawPredict", Format::Gemini),
            // `/v1/models/{id}` is an OpenAI model lookup, whatever the id.
            ("/v1/models/m:unknownMethod", Format::OpenAi),
            ("/v1/projects/p/locations/l/whatever", Format::Gemini),
            ("/bedrock/model/m/nope", Format::Bedrock),
            ("/model/m/nope", Format::Bedrock),
            ("/cohere/v3/chat", Format::Cohere),
            ("/openai/v1/nope", Format::OpenAi),
            ("/v2/chat/completions", Format::OpenAi),
            ("/anthropicx/v1/messages", Format::OpenAi),
            ("/nothing", Format::OpenAi),
            ("", Format::OpenAi),
            // Known routes, asked with a wrong method: their own format.
            ("/v1/messages", Format::Anthropic),
            ("/v2/chat", Format::Cohere),
            ("/v1/chat", Format::Cohere),
            ("/model/m/converse", Format::Bedrock),
            ("/v1beta/models/m:generateContent", Format::Gemini),
            ("/v1/chat/completions", Format::OpenAi),
        ] {
            assert_eq!(error_route(path).format, format, "{path}");
        }
        assert!(error_route("/v1/chat").cohere_v1);
        let allow = |method, path| match route(method, path) {
            Err(e @ GatewayError::MethodNotAllowed { .. }) => e.allow(),
            other => panic!("{path}: {other:?}"),
        };
        assert_eq!(allow(Method::Get, "/v1/messages").as_deref(), Some("POST"));
        assert_eq!(allow(Method::Post, "/health").as_deref(), Some("GET, HEAD"));
        assert_eq!(
            allow(Method::Post, "/v1/responses/resp_1").as_deref(),
            Some("GET, HEAD, DELETE")
        );
        for path in ["/health", "/nothing", "*"] {
            assert!(
                matches!(route(Method::Other, path), Err(GatewayError::NotImplemented(_))),
                "{path}"
            );
        }
        assert_eq!(route(Method::Options, "*").unwrap(), Route::ServerOptions);
        assert!(matches!(route(Method::Get, "*"), Err(GatewayError::NotFound(_))));
    }

    /// boto3's `apply_guardrail` got a 404 "no route" (in OpenAI's shape without the `/bedrock`
    /// prefix), which reads as a wrong endpoint: it is a Bedrock-shaped 400 saying why.
    #[test]
    fn apply_guardrail_is_refused_in_bedrocks_shape() {
        for path in [
            "/guardrail/g1/version/DRAFT/apply",
            "/bedrock/guardrail/arn%3Ax/version/1/apply",
        ] {
            match route(Method::Post, path) {
                Err(e @ GatewayError::BadRequest { .. }) => assert!(e.message().contains("ApplyGuardrail"), "{e:?}"),
                other => panic!("{path}: {other:?}"),
            }
            assert_eq!(error_route(path).format, Format::Bedrock, "{path}");
        }
        for path in [
            "/guardrail/g1/apply",
            "/guardrail//version/1/apply",
            "/guardrail/g1/version/1/apply/x",
        ] {
            assert!(
                matches!(route(Method::Post, path), Err(GatewayError::NotFound(_))),
                "{path}"
            );
        }
    }

    #[test]
    fn openai_routes_and_methods() {
        assert_eq!(
            api_route(Method::Post, "/v1/chat/completions"),
            api(Format::OpenAi, Operation::Chat)
        );
        assert_eq!(
            api_route(Method::Post, "/openai/v1/embeddings"),
            api(Format::OpenAi, Operation::Embeddings)
        );
        assert_eq!(
            api_route(Method::Get, "/openai/v1/models"),
            api(Format::OpenAi, Operation::Models)
        );
        assert!(matches!(
            route(Method::Get, "/v1/chat/completions"),
            Err(GatewayError::MethodNotAllowed { .. })
        ));
        assert!(matches!(
            route(Method::Post, "/v2/nothing"),
            Err(GatewayError::NotFound(_))
        ));
        assert_eq!(route(Method::Get, "/health").unwrap(), Route::Health);
    }

    #[test]
    fn every_format_at_prefix_and_root() {
        for p in ["/v1/messages", "/anthropic/v1/messages"] {
            assert_eq!(api_route(Method::Post, p).format, Format::Anthropic);
        }
        for p in ["/v2/chat", "/cohere/v2/chat"] {
            assert_eq!(api_route(Method::Post, p), api(Format::Cohere, Operation::Chat));
        }
        let g = api_route(Method::Post, "/genai/v1beta/models/openai/gpt-4o:streamGenerateContent");
        assert_eq!(
            (g.format, g.path_model.as_deref(), g.path_stream),
            (Format::Gemini, Some("openai/gpt-4o"), Some(true))
        );
        let g = api_route(Method::Post, "/v1/models/gemini-2.5-flash:generateContent");
        assert_eq!(
            (g.path_model.as_deref(), g.path_stream),
            (Some("gemini-2.5-flash"), Some(false))
        );
        let b = api_route(
            Method::Post,
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
        );
        assert_eq!(
            b.path_model.as_deref(),
            Some("anthropic.claude-3-5-sonnet-20240620-v1:0")
        );
        assert_eq!(
            (b.format, b.op, b.path_stream),
            (Format::Bedrock, Operation::Chat, Some(false))
        );
        let b = api_route(Method::Post, "/bedrock/model/x/invoke-with-response-stream");
        assert_eq!((b.op, b.path_stream), (Operation::Invoke, Some(true)));
        assert!(route(Method::Post, "/model/x%zz/converse").is_err());
        // Gemini's stream form comes from the query: SSE only with `alt=sse`.
        let mut g = api_route(Method::Post, "/v1beta/models/m:streamGenerateContent");
        for (query, array) in [
            (None, true),
            (Some("alt=sse"), false),
            (Some("key=k&alt=sse"), false),
            (Some("$alt=sse"), false),
            (Some("alt=json"), true),
            (Some("salt=sse"), true),
            (Some("alt=sse2"), true),
        ] {
            g.read_query(query);
            assert_eq!(g.json_array_stream, array, "{query:?}");
        }
        let mut g = api_route(Method::Post, "/v1beta/models/m:generateContent");
        g.read_query(None);
        assert!(!g.json_array_stream, "not a stream");
        let mut o = api_route(Method::Post, "/v1/chat/completions");
        o.read_query(None);
        assert!(!o.json_array_stream);
        assert!(route(Method::Post, "/v1beta/models/:generateContent").is_err());
    }

    /// google-genai with `vertexai=True` (PROTOCOLS 4.1) used to get a 404 from the gateway.
    #[test]
    fn vertex_paths_route_to_gemini() {
        for (path, model, stream) in [
            (
                "/genai/v1beta1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
                "gemini-2.5-flash",
                false,
            ),
            (
                "/v1/projects/p/locations/global/publishers/google/models/m:streamGenerateContent",
                "m",
                true,
            ),
            // Express mode: an API key, no project.
            (
                "/genai/v1beta1/publishers/google/models/openai/gpt-4o-mini:generateContent",
                "openai/gpt-4o-mini",
                false,
            ),
            ("/v1/publishers/google/models/m:streamGenerateContent", "m", true),
            // Another publisher names a provider, the inverse of the SDK's `t_model`.
            ("/v1beta1/publishers/anthropic/models/claude:generateContent", "anthropic/claude", false),
        ] {
            let g = api_route(Method::Post, path);
            assert_eq!(
                (g.format, g.op, g.path_model.as_deref(), g.path_stream),
                (Format::Gemini, Operation::Chat, Some(model), Some(stream)),
                "{path}"
            );
        }
        for bad in [
            "/v1/projects/p/publishers/google/models/m:generateContent",
            "/v1beta1/publishers/google/m:generateContent",
            "/v1beta1/publishers/google/models/:generateContent",
            "/v2/publishers/google/models/m:generateContent",
        ] {
            assert!(route(Method::Post, bad).is_err(), "{bad}");
        }
    }
}
