//! The `chat.completion` answer written straight into bytes (`formats::write`), as serde gives it
//! for `types::OpenAiCompletionOut` (fields in declared order, `null` for an absent optional,
//! `tool_calls` skipped when empty), with the literal keys as bytes instead of through sonic-rs's
//! string escaper. `tests::writer_matches_serde` holds the two together.

use super::types::*;
use crate::formats::write;

fn nullable(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write::string(b, s),
        None => b.extend_from_slice(b"null"),
    }
}

impl OpenAiUsage {
    fn write(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"prompt_tokens\":");
        write::uint(b, self.prompt_tokens);
        b.extend_from_slice(b",\"completion_tokens\":");
        write::uint(b, self.completion_tokens);
        b.extend_from_slice(b",\"total_tokens\":");
        write::uint(b, self.total_tokens);
        if let Some(d) = &self.prompt_tokens_details {
            b.extend_from_slice(b",\"prompt_tokens_details\":{\"cached_tokens\":");
            write::uint(b, d.cached_tokens);
            b.extend_from_slice(b",\"audio_tokens\":");
            write::uint(b, d.audio_tokens);
            b.push(b'}');
        }
        if let Some(d) = &self.completion_tokens_details {
            b.extend_from_slice(b",\"completion_tokens_details\":{\"reasoning_tokens\":");
            write::uint(b, d.reasoning_tokens);
            b.extend_from_slice(b",\"audio_tokens\":");
            write::uint(b, d.audio_tokens);
            b.extend_from_slice(b",\"accepted_prediction_tokens\":");
            write::uint(b, d.accepted_prediction_tokens);
            b.extend_from_slice(b",\"rejected_prediction_tokens\":");
            write::uint(b, d.rejected_prediction_tokens);
            b.push(b'}');
        }
        b.push(b'}');
    }
}

impl OpenAiCompletionOut<'_> {
    /// The body, appended to `b`.
    pub fn write(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"id\":");
        write::string(b, self.id);
        b.extend_from_slice(b",\"object\":");
        write::string(b, self.object);
        b.extend_from_slice(b",\"created\":");
        write::uint(b, self.created);
        b.extend_from_slice(b",\"model\":");
        write::string(b, self.model);
        b.extend_from_slice(b",\"choices\":[");
        for (i, c) in self.choices.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            b.extend_from_slice(b"{\"index\":");
            write::uint(b, u64::from(c.index));
            let m = &c.message;
            b.extend_from_slice(b",\"message\":{\"role\":");
            write::string(b, m.role);
            b.extend_from_slice(b",\"content\":");
            nullable(b, m.content.as_deref());
            if !m.tool_calls.is_empty() {
                b.extend_from_slice(b",\"tool_calls\":[");
                for (j, call) in m.tool_calls.iter().enumerate() {
                    if j > 0 {
                        b.push(b',');
                    }
                    b.extend_from_slice(b"{\"id\":");
                    write::string(b, call.id);
                    b.extend_from_slice(b",\"type\":");
                    write::string(b, call.kind);
                    b.extend_from_slice(b",\"function\":{\"name\":");
                    write::string(b, call.function.name);
                    b.extend_from_slice(b",\"arguments\":");
                    write::string(b, call.function.arguments);
                    b.extend_from_slice(b"}}");
                }
                b.push(b']');
            }
            b.extend_from_slice(b",\"refusal\":");
            nullable(b, m.refusal.as_deref());
            b.extend_from_slice(b",\"annotations\":[]},\"logprobs\":");
            match &c.logprobs {
                // Rare (asked for by the client) and shaped by its own `Serialize`.
                Some(l) => {
                    let _ = sonic_rs::to_writer(&mut *b, l);
                }
                None => b.extend_from_slice(b"null"),
            }
            b.extend_from_slice(b",\"finish_reason\":");
            write::string(b, c.finish_reason);
            b.push(b'}');
        }
        b.extend_from_slice(b"],\"usage\":");
        self.usage.write(b);
        b.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use crate::canonical::{ChatResponse, Extra, FinishReason, Part, TokenLogprob, Usage};
    use crate::formats::{codec, Format};

    fn check(resp: &ChatResponse, what: &str) {
        let written = super::super::response::encode_response(resp);
        let serialized = super::super::response::encode_response_with(resp, |body, _| sonic_rs::to_vec(body).unwrap());
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&serialized),
            "writer and serde differ for {what}"
        );
    }

    #[test]
    fn writer_matches_serde_on_every_fixture() {
        let mut n = 0;
        crate::formats::write::for_each_fixture(&mut |path, body| {
            for f in Format::ALL {
                if let Ok(resp) = (codec(f).unwrap().decode_response)(body) {
                    check(&resp, &format!("{} read as a {} answer", path.display(), f.name()));
                    n += 1;
                }
            }
        });
        assert!(n > 20, "only {n} fixture answers decoded");
    }

    /// Texts joined, refusals, calls, logprobs, cached and reasoning tokens, and no text at all.
    #[test]
    fn writer_matches_serde_on_every_field() {
        let call = |id: &str| Part::ToolCall {
            id: id.into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Z\u00fcrich \"x\""}"#.into(),
            signature: None,
            extra: Extra::default(),
        };
        let resp = ChatResponse {
            id: "chatcmpl-1".into(),
            model: "gpt-x".into(),
            content: vec![
                Part::text("a \"quoted\"\n"),
                Part::text("ü 😀"),
                Part::refusal("no"),
                Part::refusal(" thanks"),
                call("call_1"),
                call("call_2"),
            ],
            finish: FinishReason::ContentFilter,
            usage: Usage {
                input: 10,
                output: 5,
                cache_read: 3,
                cache_write: 1,
                reasoning: 2,
            },
            stop_sequence: None,
            created: 1_700_000_000,
            logprobs: vec![TokenLogprob {
                token: "a".into(),
                logprob: -0.25,
                top: vec![("a".into(), -0.25), ("b".into(), -1.5)],
            }],
        };
        check(&resp, "the full answer");
        let calls_only = ChatResponse {
            content: vec![call("call_3")],
            finish: FinishReason::ToolCalls,
            logprobs: Vec::new(),
            usage: Usage::default(),
            ..resp.clone()
        };
        check(&calls_only, "calls alone");
        let empty = ChatResponse {
            content: Vec::new(),
            finish: FinishReason::Other("weird".into()),
            ..calls_only.clone()
        };
        check(&empty, "no content");
    }
}
