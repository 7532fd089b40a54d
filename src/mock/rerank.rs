//! The mock's rerank scores, shared by every format's mock (Cohere `/v1/rerank` and
//! `/v2/rerank`, Bedrock InvokeModel on rerank ids, the in-process provider), so a document gets
//! the same score whichever way it arrives.
//!
//! A score is the share of the query's distinct words found in the document, mapped into (0, 1):
//! `(hits + 1) / (query_words + 2)`. Words are runs of ASCII letters and digits, lowercased;
//! every other byte separates them. Results are sorted by score, best first, ties by index.
//! The tests carry a Python copy of this function (`tests/python/rerank_scores.py`).

use crate::canonical::rerank::{RerankRequest, RerankResult};
use std::collections::HashSet;

fn words(s: &str) -> HashSet<String> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_lowercase())
        .collect()
}

/// How relevant `document` is to `query`, in (0, 1).
pub fn score(query: &str, document: &str) -> f64 {
    let q = words(query);
    let d = words(document);
    let hits = q.iter().filter(|w| d.contains(*w)).count();
    (hits as f64 + 1.0) / (q.len() as f64 + 2.0)
}

/// Every document scored, best first (ties by index), cut to `top_n`.
pub fn rank(query: &str, documents: &[String], top_n: Option<u32>) -> Vec<RerankResult> {
    let mut out: Vec<RerankResult> = documents
        .iter()
        .enumerate()
        .map(|(index, d)| RerankResult {
            index,
            relevance_score: score(query, d),
        })
        .collect();
    // Stable: equal scores keep index order.
    out.sort_by(|a, b| b.relevance_score.total_cmp(&a.relevance_score));
    if let Some(n) = top_n {
        out.truncate(n as usize);
    }
    out
}

/// What Cohere and Bedrock refuse before ranking, in neutral words (each mock wraps them in its
/// format's error): no documents, more than 1,000, `top_n` below 1.
pub fn validate(req: &RerankRequest) -> Result<(), String> {
    if req.documents.is_empty() {
        return Err("documents must contain at least one document".into());
    }
    if req.documents.len() > crate::formats::rerank::MAX_DOCUMENTS {
        return Err(format!(
            "too many documents: {} given, at most {} are allowed",
            req.documents.len(),
            crate::formats::rerank::MAX_DOCUMENTS
        ));
    }
    if req.top_n == Some(0) {
        return Err("top_n must be at least 1".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_word_overlap_in_the_open_unit_interval() {
        assert_eq!(score("capital of France", "Paris is the capital of France."), 4.0 / 5.0);
        assert_eq!(score("capital of France", "Berlin"), 1.0 / 5.0);
        assert_eq!(score("", "anything"), 0.5);
        assert_eq!(score("Hello, WORLD", "world-hello"), 3.0 / 4.0);
        // Non-ASCII separates words, as in the Python copy (bytes).
        assert_eq!(score("café", "caf"), 2.0 / 3.0);
    }

    #[test]
    fn ranking_is_by_score_then_index_and_cut_to_top_n() {
        let docs: Vec<String> = ["b", "a b", "x", "a b"].iter().map(|s| s.to_string()).collect();
        let r = rank("a b", &docs, None);
        let order: Vec<usize> = r.iter().map(|r| r.index).collect();
        assert_eq!(order, vec![1, 3, 0, 2]);
        assert_eq!(rank("a b", &docs, Some(2)).len(), 2);
        assert_eq!(rank("a b", &docs, Some(9)).len(), 4);
    }

    #[test]
    fn validation_matches_the_real_limits() {
        let mut req = RerankRequest {
            documents: vec![],
            ..Default::default()
        };
        assert!(validate(&req).is_err());
        req.documents = vec!["d".into(); 1001];
        assert!(validate(&req).unwrap_err().contains("at most 1000"));
        req.documents.truncate(1000);
        assert!(validate(&req).is_ok());
        req.top_n = Some(0);
        assert!(validate(&req).is_err());
    }
}
