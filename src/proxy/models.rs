//! Model listing and lookup in each client format: every configured provider's `models`, named
//! `provider/model` (the string a client sends to reach it). No upstream is asked: the list is
//! the gateway's routing table, the one thing it knows better than any provider.
//!
//! - OpenAI `GET /v1/models`, `/v1/models/{id}`: `{"object":"list","data":[Model]}`, `Model`.
//! - Anthropic `GET /anthropic/v1/models`, `/anthropic/v1/models/{id}`: `{"data":[ModelInfo],
//!   "has_more","first_id","last_id"}`, `ModelInfo`; the list in pages (`limit`, `after_id`,
//!   `before_id`), as the SDK's auto-paging asks for them.
//! - Gemini `GET /{ver}/models`, `/{ver}/models/{model}`: `{"models":[Model]}` with
//!   `name: "models/{id}"`, and one `Model` (google-genai `models.list()` / `models.get()`).
//! - Cohere `GET /cohere/v1/models`, `/cohere/v1/models/{model}`: `{"models":[...]}`, and one.
//!
//! A lookup of a model that is not configured is a 404 in the client's format, as a provider
//! answers for a model it does not have.

use crate::canonical::{FaultKind, UpstreamFault};
use crate::config::Snapshot;
use crate::error::GatewayError;
use crate::formats::Format;
use bytes::Bytes;
use serde::Serialize;

/// When Sluice's listed models were "created", for the formats that want a date: none is
/// known, so a fixed one, the same on every call.
const CREATED_UNIX: u64 = 1_735_689_600;
const CREATED_RFC3339: &str = "2025-01-01T00:00:00Z";

/// Every configured model as `provider/model`, in config order.
fn ids(snap: &Snapshot) -> Vec<String> {
    snap.providers
        .iter()
        .flat_map(|p| p.models.iter().map(move |m| format!("{}/{}", p.name, m)))
        .collect()
}

#[derive(Serialize)]
struct OpenAiModel<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

#[derive(Serialize)]
struct AnthropicModel<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    display_name: &'a str,
    created_at: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GeminiModel<'a> {
    name: String,
    base_model_id: &'a str,
    display_name: &'a str,
    supported_generation_methods: [&'static str; 5],
}

/// The Cohere endpoints a listed model serves (Sluice translates chats and embeddings for all).
const COHERE_ENDPOINTS: [&str; 2] = ["chat", "embed"];

#[derive(Serialize)]
struct CohereModel<'a> {
    name: &'a str,
    endpoints: [&'static str; COHERE_ENDPOINTS.len()],
    finetuned: bool,
}

fn openai(id: &str) -> OpenAiModel<'_> {
    OpenAiModel {
        id,
        object: "model",
        created: CREATED_UNIX,
        owned_by: "sluice",
    }
}

fn anthropic(id: &str) -> AnthropicModel<'_> {
    AnthropicModel {
        kind: "model",
        id,
        display_name: id,
        created_at: CREATED_RFC3339,
    }
}

fn gemini(id: &str) -> GeminiModel<'_> {
    GeminiModel {
        name: format!("models/{id}"),
        base_model_id: id,
        display_name: id,
        supported_generation_methods: [
            "generateContent",
            "streamGenerateContent",
            "countTokens",
            "embedContent",
            "batchEmbedContents",
        ],
    }
}

fn cohere(id: &str) -> CohereModel<'_> {
    CohereModel {
        name: id,
        endpoints: COHERE_ENDPOINTS,
        finetuned: false,
    }
}

fn json(v: &impl Serialize) -> Bytes {
    Bytes::from(sonic_rs::to_vec(v).unwrap_or_default())
}

/// Anthropic's page size when the client names none, and the most it takes (Models API).
const ANTHROPIC_DEFAULT_LIMIT: usize = 20;
const ANTHROPIC_MAX_LIMIT: usize = 1000;

/// The `name=value` pairs of a query string, each value percent-decoded.
fn query_pairs(query: Option<&str>) -> impl Iterator<Item = Result<(&str, String), GatewayError>> {
    query.unwrap_or("").split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        crate::wire::url::percent_decode(&value.replace('+', " "))
            .map(|value| (name, value))
            .ok_or_else(|| GatewayError::bad_request(format!("{name}: bad percent-encoding"), Some(name)))
    })
}

/// Whether a Cohere listing's query keeps a model with `endpoints`: `endpoint` keeps those that
/// serve it (the SDK's `models.list(endpoint="chat")`), and `default_only=true` keeps the
/// endpoint's default model, which Sluice names none of (no model's `default_endpoints`).
fn cohere_keeps(query: Option<&str>, endpoints: &[&str]) -> Result<bool, GatewayError> {
    let mut keep = true;
    for pair in query_pairs(query) {
        match pair? {
            ("endpoint", e) => keep &= endpoints.contains(&e.as_str()),
            ("default_only", d) => keep &= d != "true",
            _ => {}
        }
    }
    Ok(keep)
}

/// One page of an Anthropic listing: the query's `limit` models after `after_id` or before
/// `before_id` (the page's own `first_id`/`last_id`, which the SDK sends back for the next
/// page), and whether more lie that way. An id not in the list gives an empty page, which ends
/// any paging loop.
fn anthropic_page<'a>(all: &'a [String], query: Option<&str>) -> Result<(&'a [String], bool), GatewayError> {
    let (mut limit, mut after, mut before) = (ANTHROPIC_DEFAULT_LIMIT, None, None);
    for pair in query_pairs(query) {
        let (name, value) = pair?;
        match name {
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=ANTHROPIC_MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        let msg = format!("limit: must be an integer from 1 to {ANTHROPIC_MAX_LIMIT}");
                        GatewayError::bad_request(msg, Some("limit"))
                    })?
            }
            "after_id" => after = Some(value),
            "before_id" => before = Some(value),
            _ => {}
        }
    }
    let position = |id: &str| all.iter().position(|m| m == id);
    Ok(match (after, before) {
        (Some(_), Some(_)) => {
            let msg = "after_id, before_id: give at most one of them";
            return Err(GatewayError::bad_request(msg, Some("before_id")));
        }
        (Some(id), None) => {
            let start = position(&id).map_or(all.len(), |i| i + 1);
            let end = all.len().min(start + limit);
            (&all[start..end], end < all.len())
        }
        (None, Some(id)) => {
            let end = position(&id).unwrap_or(0);
            let start = end.saturating_sub(limit);
            (&all[start..end], start > 0)
        }
        (None, None) => (&all[..all.len().min(limit)], all.len() > limit),
    })
}

/// The answer to a model listing (`model` None) or lookup, in the client's format. A lookup
/// resolves the name as a request's `model` would (`route::target`): `provider/model`, or a
/// bare name the default provider lists, answered under the name the client used. `query` is
/// the request's query string, read for an Anthropic listing's paging.
pub fn answer(
    snap: &Snapshot,
    format: Format,
    model: Option<&str>,
    query: Option<&str>,
) -> Result<Bytes, GatewayError> {
    let all = ids(snap);
    if let Some(id) = model {
        let target = crate::route::target(snap, id);
        if !target.provider.models.iter().any(|m| m == target.model) {
            return Err(GatewayError::UpstreamFault(UpstreamFault {
                status: 404,
                kind: FaultKind::NotFound,
                message: format!("model {id:?} is not configured in this gateway"),
            }));
        }
        return Ok(match format {
            Format::Anthropic => json(&anthropic(id)),
            Format::Gemini => json(&gemini(id)),
            Format::Cohere => json(&cohere(id)),
            Format::OpenAi | Format::Bedrock => json(&openai(id)),
        });
    }
    Ok(match format {
        Format::Anthropic => {
            #[derive(Serialize)]
            struct List<'a> {
                data: Vec<AnthropicModel<'a>>,
                has_more: bool,
                first_id: Option<&'a str>,
                last_id: Option<&'a str>,
            }
            let (page, has_more) = anthropic_page(&all, query)?;
            json(&List {
                data: page.iter().map(|m| anthropic(m)).collect(),
                has_more,
                first_id: page.first().map(String::as_str),
                last_id: page.last().map(String::as_str),
            })
        }
        Format::Gemini => {
            #[derive(Serialize)]
            struct List<'a> {
                models: Vec<GeminiModel<'a>>,
            }
            json(&List {
                models: all.iter().map(|m| gemini(m)).collect(),
            })
        }
        Format::Cohere => {
            #[derive(Serialize)]
            struct List<'a> {
                models: Vec<CohereModel<'a>>,
            }
            // Every model serves the same endpoints: the query keeps all of them or none.
            let models = match cohere_keeps(query, &COHERE_ENDPOINTS)? {
                true => all.iter().map(|m| cohere(m)).collect(),
                false => Vec::new(),
            };
            json(&List { models })
        }
        Format::OpenAi | Format::Bedrock => {
            #[derive(Serialize)]
            struct List<'a> {
                object: &'static str,
                data: Vec<OpenAiModel<'a>>,
            }
            json(&List {
                object: "list",
                data: all.iter().map(|m| openai(m)).collect(),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

    fn snap() -> Snapshot {
        crate::config::compile_str(
            r#"
[routing]
default_provider = "mock"
[[providers]]
name = "mock"
kind = "mock"
models = ["mock-model"]
[[providers]]
name = "gemini"
kind = "gemini"
base_url = "http://127.0.0.1:1"
models = ["gemini-2.5-flash", "text-embedding-004"]
"#,
            "t",
        )
        .unwrap()
    }

    fn parse(b: Bytes) -> Value {
        sonic_rs::from_slice(&b).unwrap()
    }

    #[test]
    fn lists_in_every_format_name_provider_and_model() {
        let s = snap();
        let want = [
            "mock/mock-model",
            "gemini/gemini-2.5-flash",
            "gemini/text-embedding-004",
        ];
        let oa = parse(answer(&s, Format::OpenAi, None, None).unwrap());
        let ids: Vec<&str> = oa
            .get("data")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.get("id").unwrap().as_str().unwrap())
            .collect();
        assert_eq!(ids, want);
        let an = parse(answer(&s, Format::Anthropic, None, None).unwrap());
        assert_eq!(an.get("last_id").and_then(|v| v.as_str()), Some(want[2]));
        let ge = parse(answer(&s, Format::Gemini, None, None).unwrap());
        let names: Vec<&str> = ge
            .get("models")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.get("name").unwrap().as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            want.map(|m| format!("models/{m}"))
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        let co = parse(answer(&s, Format::Cohere, None, None).unwrap());
        assert_eq!(co.get("models").unwrap().as_array().unwrap().len(), 3);
    }

    /// A Cohere listing keeps the models that serve the query's `endpoint` (all of Sluice's serve
    /// chat and embed) and, with `default_only`, the endpoint's default, which Sluice names none of.
    #[test]
    fn a_cohere_listing_is_filtered_by_endpoint() {
        let s = snap();
        let count = |q| {
            let v = parse(answer(&s, Format::Cohere, None, Some(q)).unwrap());
            v.get("models").unwrap().as_array().unwrap().len()
        };
        assert_eq!(count("endpoint=chat&page_size=1000"), 3);
        assert_eq!(count("endpoint=embed"), 3);
        assert_eq!(count("endpoint=rerank"), 0);
        assert_eq!(count("endpoint=chat&default_only=true"), 0);
        assert_eq!(count("endpoint=chat&default_only=false"), 3);
    }

    #[test]
    fn lookups_find_configured_models_and_refuse_others() {
        let s = snap();
        let one = parse(answer(&s, Format::Gemini, Some("gemini/gemini-2.5-flash"), None).unwrap());
        assert_eq!(
            one.get("name").and_then(|v| v.as_str()),
            Some("models/gemini/gemini-2.5-flash")
        );
        let one = parse(answer(&s, Format::Anthropic, Some("mock/mock-model"), None).unwrap());
        assert_eq!(one.get("type").and_then(|v| v.as_str()), Some("model"));
        // A bare name reaches the default provider, as a request's `model` does.
        let one = parse(answer(&s, Format::OpenAi, Some("mock-model"), None).unwrap());
        assert_eq!(one.get("id").and_then(|v| v.as_str()), Some("mock-model"));
        assert_eq!(
            answer(&s, Format::OpenAi, Some("gemini-2.5-flash"), None)
                .unwrap_err()
                .status(),
            404
        );
        for f in Format::ALL {
            let e = answer(&s, f, Some("gemini/nope"), None).unwrap_err();
            assert_eq!(e.status(), 404, "{f:?}");
        }
    }
}
