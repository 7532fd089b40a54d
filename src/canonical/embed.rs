//! Canonical embeddings: the request and the answer that every format's embeddings API maps
//! onto (OpenAI `/v1/embeddings`, Cohere `/v2/embed`, Gemini `embedContent` /
//! `batchEmbedContents` / Vertex `predict`, Bedrock InvokeModel with a Titan or Cohere embed
//! body). Anthropic has no embeddings API.
//!
//! Vectors cross as `f32`: every provider computes and sends float32 (OpenAI's base64 form is
//! packed little-endian float32), so nothing is lost. Other forms a client may ask for (OpenAI
//! `encoding_format: "base64"`, Cohere `embedding_types: ["base64"]`) are derived from the floats
//! exactly; quantized forms (Cohere `int8`, `binary`, ...) are the model's own and are only
//! available from a Cohere upstream, through the same-format path.

/// What the embeddings are for. Cohere (`input_type`) and Gemini (`taskType`) take it as a hint
/// that changes the vectors; OpenAI and Titan have no such setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbedTask {
    SearchDocument,
    SearchQuery,
    Classification,
    Clustering,
    /// Gemini only (`SEMANTIC_SIMILARITY`).
    SemanticSimilarity,
    /// Gemini only (`QUESTION_ANSWERING`).
    QuestionAnswering,
    /// Gemini only (`FACT_VERIFICATION`).
    FactVerification,
    /// Gemini only (`CODE_RETRIEVAL_QUERY`).
    CodeRetrievalQuery,
}

/// How an input longer than the model's limit is handled (Cohere `truncate`, Vertex
/// `autoTruncate`). Unset, each provider applies its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truncate {
    /// Refuse the input.
    None,
    /// Drop tokens from the start.
    Start,
    /// Drop tokens from the end.
    End,
}

/// The answer's shape that the client's request asked for: its format's body and, where the
/// format lets the caller choose, the vector encodings. Set by the client format's decoder and
/// read only by the same format's encoder.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum EmbedReply {
    /// `{"object":"list","data":[{"embedding": [..] | "<base64>"}]}`.
    #[default]
    OpenAi,
    OpenAiBase64,
    /// `EmbedByTypeResponse`: one list per requested type (`float` and/or `base64`).
    Cohere {
        float: bool,
        base64: bool,
    },
    /// Cohere's v1 `/v1/embed`: `embeddings_floats` (`[[..]]`) when the body named no
    /// `embedding_types`, else `embeddings_by_type` as v2 answers.
    CohereV1 {
        by_type: bool,
        float: bool,
        base64: bool,
    },
    /// `{"embedding":{"values"}}`.
    GeminiSingle,
    /// `{"embeddings":[{"values"}]}`.
    GeminiBatch,
    /// `{"predictions":[{"embeddings":{"values","statistics"}}]}`.
    VertexPredict,
    /// Titan text embeddings: `{"embedding", "inputTextTokenCount"}`, with `embeddingsByType`
    /// for v2 bodies.
    Titan {
        by_type: bool,
    },
    /// Cohere on Bedrock: `embeddings_floats` (`[[..]]`), or `embeddings_by_type` when the
    /// body named `embedding_types`.
    BedrockCohere {
        by_type: bool,
    },
}

impl EmbedReply {
    /// The client's name for the output size, for an error about it in the client's own terms.
    pub fn dimensions_field(&self) -> &'static str {
        match self {
            EmbedReply::OpenAi | EmbedReply::OpenAiBase64 | EmbedReply::Titan { .. } => "dimensions",
            EmbedReply::Cohere { .. } | EmbedReply::CohereV1 { .. } | EmbedReply::BedrockCohere { .. } => {
                "output_dimension"
            }
            EmbedReply::GeminiSingle | EmbedReply::GeminiBatch => "outputDimensionality",
            EmbedReply::VertexPredict => "parameters.outputDimensionality",
        }
    }
}

/// An embeddings request.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct EmbedRequest {
    /// The upstream model id (provider prefix already removed).
    pub model: String,
    /// The texts to embed, one vector each, in order.
    pub texts: Vec<String>,
    pub task: Option<EmbedTask>,
    /// Output dimensions (OpenAI `dimensions`, Cohere `output_dimension`, Gemini
    /// `outputDimensionality`, Titan `dimensions`). Passed as given: each provider checks its own
    /// allowed values.
    pub dimensions: Option<u32>,
    /// Gemini's document title (with `RETRIEVAL_DOCUMENT`).
    pub title: Option<String>,
    pub truncate: Option<Truncate>,
    /// Titan v2's `normalize` (unit length; Titan v2 defaults to true). Other providers always
    /// normalize or never say.
    pub normalize: Option<bool>,
    /// OpenAI's end-user id.
    pub user: Option<String>,
    /// How the client wants the answer.
    pub reply: EmbedReply,
}

/// An embeddings answer.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct EmbedResponse {
    pub id: String,
    pub model: String,
    /// One vector per input text, in the request's order.
    pub vectors: Vec<Vec<f32>>,
    /// Input tokens counted by the upstream, when it says.
    pub input_tokens: Option<u64>,
}

impl EmbedResponse {
    /// Appends another part of a fanned-out answer (Titan takes one text per call).
    pub fn append(&mut self, other: EmbedResponse) {
        self.vectors.extend(other.vectors);
        self.input_tokens = match (self.input_tokens, other.input_tokens) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        };
        if self.id.is_empty() {
            self.id = other.id;
        }
        if self.model.is_empty() {
            self.model = other.model;
        }
    }
}

/// Packs a vector as little-endian float32 bytes in base64: OpenAI's `encoding_format: "base64"`
/// and Cohere's `base64` embedding type.
pub fn vector_to_base64(v: &[f32]) -> String {
    let mut raw = Vec::with_capacity(v.len() * 4);
    for x in v {
        raw.extend_from_slice(&x.to_le_bytes());
    }
    crate::wire::base64::encode(&raw)
}

/// The inverse of `vector_to_base64`; None if the text is not base64 of whole, finite float32s.
pub fn vector_from_base64(s: &str) -> Option<Vec<f32>> {
    let raw = crate::wire::base64::decode(s)?;
    if raw.len() % 4 != 0 {
        return None;
    }
    raw.chunks_exact(4)
        .map(|c| Some(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).filter(|f| f.is_finite()))
        .collect()
}

/// One vector as a JSON array, each value written shortest-first (the digits that read back as
/// the same float32). A non-finite value, which no decoder lets in, would become 0: JSON has no
/// such number. This is the hot loop of a translated embeddings answer (tens of thousands of
/// values), so it writes with ryu's float32 formatter straight into the buffer.
pub fn write_vector(out: &mut Vec<u8>, v: &[f32]) {
    let mut buf = ryu::Buffer::new();
    out.reserve(v.len() * 12 + 2);
    out.push(b'[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let x = if x.is_finite() { *x } else { 0.0 };
        out.extend_from_slice(buf.format_finite(x).as_bytes());
    }
    out.push(b']');
}

/// A JSON list of vectors, each written by `write_vector`.
pub fn write_vectors(out: &mut Vec<u8>, vectors: &[Vec<f32>]) {
    out.push(b'[');
    for (i, v) in vectors.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_vector(out, v);
    }
    out.push(b']');
}

/// `v` scaled to unit length (the sum of squares in f64, each value divided in f64 and rounded
/// to float32); a zero vector as it is. What Titan's `normalize` gives, for a Titan client whose
/// vectors come from a provider that does not normalize every size (Gemini below its full size).
pub fn unit_length(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return v.to_vec();
    }
    v.iter().map(|x| (f64::from(*x) / norm) as f32).collect()
}

/// A JSON number as a vector value: None unless float32 holds it as a finite value. No model
/// gives infinities or NaN, and JSON could not carry them on to the client.
pub fn to_f32(x: f64) -> Option<f32> {
    Some(x as f32).filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors_are_little_endian_float32() {
        // PROTOCOLS 2.6: `AAAAPwAAgL8AAIA+` is [0.5, -1.0, 0.25].
        assert_eq!(vector_to_base64(&[0.5, -1.0, 0.25]), "AAAAPwAAgL8AAIA+");
        assert_eq!(vector_from_base64("AAAAPwAAgL8AAIA+"), Some(vec![0.5, -1.0, 0.25]));
        assert_eq!(vector_from_base64("AAAA"), None, "three bytes are not a float");
        assert_eq!(vector_from_base64("not base64!"), None);
        assert_eq!(vector_from_base64("AACAfw=="), None, "infinity");
        assert_eq!(vector_from_base64("AADAfw=="), None, "NaN");
        assert_eq!((to_f32(0.5), to_f32(1e39), to_f32(-1e300)), (Some(0.5), None, None));
    }

    #[test]
    fn written_vectors_read_back_as_the_same_float32() {
        let v = vec![0.1f32, -1.0, 3.4028235e38, 1e-45, -0.0, 0.33333334, f32::NAN];
        let mut out = Vec::new();
        write_vector(&mut out, &v);
        let back: Vec<f64> = sonic_rs::from_slice(&out).unwrap();
        let back: Vec<f32> = back.into_iter().map(|x| x as f32).collect();
        assert_eq!(back[..6], v[..6]);
        assert_eq!(back[6], 0.0, "NaN has no JSON form");
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "[0.1,-1.0,3.4028235e38,1e-45,-0.0,0.33333334,0.0]"
        );
        assert_eq!(vector_from_base64("AACAfw=="), None, "infinity");
        assert_eq!(vector_from_base64("AADAfw=="), None, "NaN");
        assert_eq!((to_f32(0.5), to_f32(1e39), to_f32(-1e300)), (Some(0.5), None, None));
    }

    #[test]
    fn appended_parts_keep_order_and_sum_tokens() {
        let mut a = EmbedResponse {
            vectors: vec![vec![1.0]],
            input_tokens: Some(2),
            ..Default::default()
        };
        a.append(EmbedResponse {
            id: "x".into(),
            vectors: vec![vec![2.0]],
            input_tokens: Some(3),
            ..Default::default()
        });
        assert_eq!(a.vectors, vec![vec![1.0], vec![2.0]]);
        assert_eq!(a.input_tokens, Some(5));
        assert_eq!(a.id, "x");
    }
}
