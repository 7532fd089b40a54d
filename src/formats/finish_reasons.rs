//! Every provider's finish reason (PROTOCOLS 8.2), decoded by its own format and written for a
//! client of any other, is a value of that client's enum: clients switch on these, and an SDK
//! that types them (boto3's, Cohere's) may not know a foreign one.

use super::{anthropic, bedrock, cohere, gemini, openai, Format};
use crate::canonical::FinishReason;

// The enums as PROTOCOLS 8.2 lists them, copied here on purpose rather than taken from the
// encoders' own lists: the test must not pass because an encoder's list is wrong.
const OPENAI: &[&str] = &["stop", "length", "tool_calls", "content_filter", "function_call"];
const ANTHROPIC: &[&str] = &[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
];
const GEMINI: &[&str] = &[
    "STOP",
    "MAX_TOKENS",
    "SAFETY",
    "RECITATION",
    "LANGUAGE",
    "OTHER",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "MALFORMED_FUNCTION_CALL",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_OTHER",
    "NO_IMAGE",
    "IMAGE_RECITATION",
    "UNEXPECTED_TOOL_CALL",
    "TOO_MANY_TOOL_CALLS",
    "MISSING_THOUGHT_SIGNATURE",
    "MALFORMED_RESPONSE",
    "ESCALATION",
    "PUP_LIMITED_DISABLED",
    "CONTINUATION",
    "MODEL_ARMOR",
    "FINISH_REASON_UNSPECIFIED",
];
const BEDROCK: &[&str] = &[
    "end_turn",
    "tool_use",
    "max_tokens",
    "stop_sequence",
    "guardrail_intervened",
    "content_filtered",
    "malformed_model_output",
    "malformed_tool_use",
    "model_context_window_exceeded",
];
const COHERE: &[&str] = &[
    "COMPLETE",
    "STOP_SEQUENCE",
    "MAX_TOKENS",
    "TOOL_CALL",
    "ERROR",
    "TIMEOUT",
];

#[test]
fn a_failed_turn_is_an_error_only_where_the_client_has_no_finish_for_it() {
    use super::failed_finish;
    let malformed = [
        gemini::finish_from_gemini("MALFORMED_FUNCTION_CALL"),
        gemini::finish_from_gemini("MALFORMED_RESPONSE"),
        bedrock::finish_from_bedrock("malformed_tool_use"),
        bedrock::finish_from_bedrock("malformed_model_output"),
    ];
    for client in Format::ALL {
        let failed = |f: &FinishReason| failed_finish(client, Format::Gemini, f).is_some();
        // Cohere says `ERROR`; the others have no such finish.
        assert_eq!(failed(&FinishReason::Error), client != Format::Cohere, "{client:?}");
        for f in &malformed {
            // Gemini and Bedrock name it, Cohere says `ERROR`; OpenAI and Anthropic would say
            // `stop` / `end_turn`.
            let expected = matches!(client, Format::OpenAi | Format::Anthropic);
            assert_eq!(failed(f), expected, "{client:?} {f:?}");
            let said = encode(client, f);
            match client {
                Format::Gemini | Format::Bedrock => {
                    assert!(said.to_lowercase().starts_with("malformed"), "{f:?}: {said}")
                }
                Format::Cohere => assert_eq!(said, "ERROR", "{f:?}"),
                _ => {}
            }
        }
        for f in [
            FinishReason::Stop,
            FinishReason::Length,
            FinishReason::Other("pause_turn".into()),
        ] {
            assert!(!failed(&f), "{client:?} {f:?}");
        }
    }
}

fn values(f: Format) -> &'static [&'static str] {
    match f {
        Format::OpenAi => OPENAI,
        Format::Anthropic => ANTHROPIC,
        Format::Gemini => GEMINI,
        Format::Bedrock => BEDROCK,
        Format::Cohere => COHERE,
    }
}

fn decode(f: Format, wire: &str) -> FinishReason {
    match f {
        Format::OpenAi => openai::response::finish_from_wire(Some(wire), false, false),
        Format::Anthropic => anthropic::response::finish_from_stop_reason(wire),
        Format::Gemini => gemini::finish_from_gemini(wire),
        Format::Bedrock => bedrock::finish_from_bedrock(wire),
        Format::Cohere => cohere::response::finish_from_cohere(wire),
    }
}

fn encode(f: Format, r: &FinishReason) -> &str {
    match f {
        Format::OpenAi => openai::response::finish_reason(r),
        Format::Anthropic => anthropic::response::stop_reason_from_finish(r),
        Format::Gemini => gemini::finish_to_gemini(r),
        Format::Bedrock => bedrock::finish_to_bedrock(r),
        Format::Cohere => cohere::response::finish_to_cohere(r),
    }
}

#[test]
fn every_finish_reason_reaches_every_client_as_a_value_of_its_enum() {
    let mut bad = Vec::new();
    for from in Format::ALL {
        for wire in values(from) {
            let canonical = decode(from, wire);
            for to in Format::ALL {
                let out = encode(to, &canonical);
                if !values(to).contains(&out) {
                    bad.push(format!("{from:?} {wire} -> {canonical:?} -> {to:?} {out}"));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn running_out_of_context_is_a_length_finish_where_a_client_has_no_name_for_it() {
    let r = anthropic::response::finish_from_stop_reason("model_context_window_exceeded");
    assert_eq!(encode(Format::OpenAi, &r), "length");
    assert_eq!(encode(Format::Cohere, &r), "MAX_TOKENS");
    assert_eq!(encode(Format::Bedrock, &r), "model_context_window_exceeded");
    let r = gemini::finish_from_gemini("MALFORMED_FUNCTION_CALL");
    assert_eq!(encode(Format::Bedrock, &r), "malformed_tool_use");
    assert_eq!(encode(Format::Cohere, &r), "ERROR");
}
