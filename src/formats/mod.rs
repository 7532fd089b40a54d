//! Wire formats. One module per dialect, holding both roles: the integration (a client speaks it
//! to us) and the provider (we speak it to an upstream). Format code does no IO.

pub mod openai;

/// A wire dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
    Cohere,
}
