//! Tool-call ids made to fit the upstream's rules.
//!
//! A call id is only a key pairing a call with its result, but each provider checks its shape:
//! OpenAI takes at most 40 characters (`string_above_max_length`), Anthropic and Bedrock only
//! `[A-Za-z0-9_-]` (Bedrock at most 64). Ids made elsewhere can break them: a Gemini id carrying
//! its thought signature (`<id>__ts__<signature>`, hundreds of characters), ids of
//! OpenAI-compatible servers such as `functions.get_weather:0`. A history that moves between
//! providers then fails with a 400 the client cannot fix.
//!
//! An id that breaks the rule is replaced by its allowed characters, cut to leave room, and a
//! hash of the whole id: the same id always maps to the same replacement, so a call and its
//! result still pair, and two different ids do not collide. Ids that fit are sent as they are.
//! Only requests to an upstream are rewritten; a client always sees the ids it was given.

use crate::canonical::{ChatRequest, Part};
use std::hash::{Hash, Hasher};

/// What an upstream accepts as a tool-call id.
#[derive(Debug, Clone, Copy)]
pub struct IdRule {
    pub max_len: usize,
    /// Only ASCII letters, digits, `_` and `-`.
    pub word_chars_only: bool,
}

pub const OPENAI: IdRule = IdRule {
    max_len: 40,
    word_chars_only: false,
};

pub const ANTHROPIC: IdRule = IdRule {
    max_len: 64,
    word_chars_only: true,
};

pub const BEDROCK: IdRule = IdRule {
    max_len: 64,
    word_chars_only: true,
};

/// Hex digits of the hash appended to a replaced id.
const HASH_HEX: usize = 16;

fn allowed(c: char, rule: IdRule) -> bool {
    !rule.word_chars_only || c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Whether `rule` takes `id` as it is.
pub fn fits(id: &str, rule: IdRule) -> bool {
    !id.is_empty() && id.len() <= rule.max_len && id.chars().all(|c| allowed(c, rule))
}

/// The id as `rule` accepts it: `id` itself when it fits.
pub fn fit(id: &str, rule: IdRule) -> String {
    if fits(id, rule) {
        return id.to_string();
    }
    replace(id, rule.max_len, |c| allowed(c, rule))
}

/// `s`'s `allowed` characters (others become `_`), cut to leave room, then `_` and a hash of the
/// whole of `s`: at most `max_len` bytes, stable, and apart for two different `s`. Tool names
/// (`tool_names`) are replaced the same way.
pub(crate) fn replace(s: &str, max_len: usize, allowed: impl Fn(char) -> bool) -> String {
    let mut h = std::hash::DefaultHasher::new();
    s.hash(&mut h);
    let keep = max_len.saturating_sub(HASH_HEX + 1);
    let mut out: String = s.chars().map(|c| if allowed(c) { c } else { '_' }).take(keep).collect();
    // `take` counts chars; a multi-byte char kept (rule without a charset) can overshoot.
    while out.len() > keep {
        out.pop();
    }
    out.push('_');
    out.push_str(&format!("{:016x}", h.finish()));
    out
}

/// `req` with every call and result id made to fit `rule`, or None when all already do (the
/// common case: nothing is copied).
pub fn fit_request(req: &ChatRequest, rule: IdRule) -> Option<ChatRequest> {
    let misfit = req.messages.iter().flat_map(|m| &m.content).any(|p| match p {
        Part::ToolCall { id, .. } | Part::ToolResult { id, .. } => !fits(id, rule),
        _ => false,
    });
    if !misfit {
        return None;
    }
    let mut out = req.clone();
    for p in out.messages.iter_mut().flat_map(|m| &mut m.content) {
        if let Part::ToolCall { id, .. } | Part::ToolResult { id, .. } = p {
            if !fits(id, rule) {
                *id = fit(id, rule);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::Extra;

    #[test]
    fn ids_that_fit_stay_and_others_are_replaced_stably() {
        assert_eq!(fit("call_abc", OPENAI), "call_abc");
        assert_eq!(fit("toolu_01A-b_c", ANTHROPIC), "toolu_01A-b_c");
        let signed = format!("call_0__ts__{}", "Q".repeat(300));
        for rule in [OPENAI, ANTHROPIC, BEDROCK] {
            let f = fit(&signed, rule);
            assert!(f.len() <= rule.max_len && fits(&f, rule), "{f}");
            assert!(f.starts_with("call_0__ts__"), "{f}");
            assert_eq!(f, fit(&signed, rule), "stable");
        }
        let odd = fit("functions.get_weather:0", ANTHROPIC);
        assert!(
            odd.starts_with("functions_get_weather_0_") && fits(&odd, ANTHROPIC),
            "{odd}"
        );
        // OpenAI takes any character: only the length matters there.
        assert_eq!(fit("functions.get_weather:0", OPENAI), "functions.get_weather:0");
        // Two ids that sanitise alike stay apart.
        assert_ne!(fit("a.b", ANTHROPIC), fit("a:b", ANTHROPIC));
        // Multi-byte characters are cut on a boundary.
        let wide = "é".repeat(40);
        let f = fit(&wide, OPENAI);
        assert!(f.len() <= 40 && f.is_char_boundary(f.len()), "{f}");
        assert!(fits(&fit("", BEDROCK), BEDROCK));
    }

    #[test]
    fn requests_are_copied_only_when_an_id_misfits() {
        use crate::canonical::{Message, Role, ToolResultContent};
        let turn = |id: &str| {
            vec![
                Message {
                    role: Role::Assistant,
                    content: vec![Part::ToolCall {
                        id: id.into(),
                        name: "f".into(),
                        arguments: "{}".into(),
                        signature: None,
                        extra: Extra::default(),
                    }],
                },
                Message {
                    role: Role::User,
                    content: vec![Part::ToolResult {
                        id: id.into(),
                        name: None,
                        content: vec![ToolResultContent::Text("ok".into())],
                        is_error: false,
                        extra: Extra::default(),
                    }],
                },
            ]
        };
        let ok = ChatRequest {
            messages: turn("call_1"),
            ..Default::default()
        };
        assert!(fit_request(&ok, BEDROCK).is_none());
        let bad = ChatRequest {
            messages: turn("functions.f:0"),
            ..Default::default()
        };
        let fixed = fit_request(&bad, BEDROCK).unwrap();
        let ids: Vec<&str> = fixed
            .messages
            .iter()
            .flat_map(|m| &m.content)
            .filter_map(|p| match p {
                Part::ToolCall { id, .. } | Part::ToolResult { id, .. } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0], ids[1], "the call and its result still pair");
        assert!(fits(ids[0], BEDROCK));
    }
}
