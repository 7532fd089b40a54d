//! Canonical rerank: the request and the answer that every format's rerank API maps onto
//! (Cohere `/v1/rerank` and `/v2/rerank`, Bedrock InvokeModel with a Cohere or Amazon rerank
//! body). OpenAI, Anthropic and Gemini have no rerank API.
//!
//! Only text crosses: a query, documents as strings, how many results, and the scores back.
//! Scores cross as `f64`, as the providers send them, so the client gets the provider's numbers.

/// The answer's shape that the client's request asked for. Set by the client format's decoder
/// and read only by the same format's encoder.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum RerankReply {
    /// `V2RerankResponse`: `{"id","results":[{"index","relevance_score"}],"meta"}`.
    #[default]
    CohereV2,
    /// `RerankResponse` (v1): as v2, and each result's `document` when `return_documents` was
    /// asked: the document as the client sent it (`{"text"}` for a string), in `echo`.
    CohereV1 { return_documents: bool },
    /// Bedrock InvokeModel's rerank answer: `{"id"?, "results":[{"index","relevance_score"}]}`.
    Bedrock,
}

/// A rerank request.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RerankRequest {
    /// The upstream model id (provider prefix already removed).
    pub model: String,
    pub query: String,
    /// The texts to score, in the client's order (an index in the answer points here).
    pub documents: Vec<String>,
    /// How many results to return, best first; all when unset.
    pub top_n: Option<u32>,
    /// Cohere v2 and Cohere on Bedrock: the tokens of each document read before truncation.
    pub max_tokens_per_doc: Option<u32>,
    /// How the client wants the answer.
    pub reply: RerankReply,
    /// Cohere v1 with `return_documents`: each document as raw JSON, to echo in its result.
    pub echo: Vec<String>,
}

/// One scored document.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RerankResult {
    /// Index into the request's documents.
    pub index: usize,
    /// In [0, 1], higher is more relevant.
    pub relevance_score: f64,
}

/// A rerank answer: results best first, as the provider ordered them.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RerankResponse {
    pub id: String,
    pub results: Vec<RerankResult>,
    /// Cohere's billed search units, when the upstream says (Bedrock does not).
    pub search_units: Option<u64>,
}

impl RerankResponse {
    /// Whether every result points at a document of a request with `documents` documents.
    pub fn fits(&self, documents: usize) -> bool {
        self.results.iter().all(|r| r.index < documents)
    }
}
