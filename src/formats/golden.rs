//! Golden fixtures per format pair: every format's request and response fixtures, translated to
//! every other format, must match the files checked in under
//! `src/formats/<target>/fixtures/golden/from_<source>.<fixture>` (a `.err` file holds the error
//! text when the target cannot express the source, e.g. an image URL for Bedrock).
//!
//! Regenerate after a deliberate change with `UPDATE_GOLDEN=1 cargo test --lib golden`, then
//! review the diff: it shows exactly what every translation now writes.

use super::{codec, Format};
use std::path::PathBuf;

/// (source format, fixture file name, is a request).
const FIXTURES: &[(Format, &str, bool)] = &[
    (Format::OpenAi, "request_basic.json", true),
    (Format::OpenAi, "request_tools.json", true),
    // One strict tool and one not: strict per tool where the target has it, and no
    // `strict_tools` for Cohere (one flag for all tools).
    (Format::OpenAi, "request_strict_mixed.json", true),
    (Format::OpenAi, "response_basic.json", false),
    (Format::OpenAi, "response_tool_calls.json", false),
    (Format::Anthropic, "request_protocols.json", true),
    (Format::Anthropic, "request_full.json", true),
    // A PDF and a text document: Bedrock names them; OpenAI (PDF only) and Cohere refuse.
    (Format::Anthropic, "request_documents.json", true),
    (Format::Anthropic, "response_protocols.json", false),
    (Format::Anthropic, "response_tool_thinking.json", false),
    (Format::Gemini, "request.json", true),
    (Format::Gemini, "request_snake_thinking.json", true),
    // An image in the answer: other formats answer in text only, so they refuse it by name.
    (Format::Gemini, "request_image_output.json", true),
    (Format::Gemini, "response.json", false),
    (Format::Bedrock, "converse_request.json", true),
    (Format::Bedrock, "converse_strict_tools.json", true),
    (Format::Bedrock, "converse_response.json", false),
    (Format::Cohere, "request.json", true),
    (Format::Cohere, "request_extras.json", true),
    // `strict_tools`: every tool strict.
    (Format::Cohere, "request_strict_tools.json", true),
    // Grounding documents: content no other format has, refused rather than dropped.
    (Format::Cohere, "request_documents.json", true),
    (Format::Cohere, "response.json", false),
    (Format::Cohere, "response_tool.json", false),
];

fn dir(f: Format) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/formats")
        .join(f.name())
        .join("fixtures")
}

/// Translates one fixture to `target`: the encoded bytes, or the conversion error's text.
fn translate(source: Format, name: &str, request: bool, target: Format) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(dir(source).join(name)).expect("fixture exists");
    let (s, t) = (codec(source).expect("codec"), codec(target).expect("codec"));
    if request {
        // Gemini and Bedrock carry the model in the URL.
        let canonical = (s.decode_request)(&bytes, Some("fixture-model"), false).map_err(|e| e.to_string())?;
        (t.encode_request)(&canonical).map_err(|e| e.to_string())
    } else {
        let canonical = (s.decode_response)(&bytes).map_err(|e| e.to_string())?;
        Ok((t.encode_response)(&canonical))
    }
}

#[test]
fn every_pair_matches_its_golden_file() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    let mut checked = 0;
    for &(source, name, request) in FIXTURES {
        for target in Format::ALL {
            if target == source {
                continue; // same format never translates: bytes pass through
            }
            let golden_dir = dir(target).join("golden");
            let stem = format!("from_{}.{}", source.name(), name.trim_end_matches(".json"));
            let (ok_path, err_path) = (
                golden_dir.join(format!("{stem}.json")),
                golden_dir.join(format!("{stem}.err")),
            );
            let (path, got) = match translate(source, name, request, target) {
                Ok(bytes) => (ok_path, bytes),
                Err(e) => (err_path, e.into_bytes()),
            };
            checked += 1;
            if update {
                std::fs::create_dir_all(&golden_dir).unwrap();
                let _ = std::fs::remove_file(golden_dir.join(format!("{stem}.json")));
                let _ = std::fs::remove_file(golden_dir.join(format!("{stem}.err")));
                std::fs::write(&path, &got).unwrap();
                continue;
            }
            match std::fs::read(&path) {
                Ok(want) if want == got => {}
                Ok(want) => failures.push(format!(
                    "{}:\n  want {}\n  got  {}",
                    path.display(),
                    String::from_utf8_lossy(&want),
                    String::from_utf8_lossy(&got)
                )),
                Err(_) => failures.push(format!("{} is missing (UPDATE_GOLDEN=1 writes it)", path.display())),
            }
        }
    }
    assert_eq!(checked, FIXTURES.len() * 4);
    assert!(
        failures.is_empty(),
        "{} golden mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn translations_are_valid_json_and_deterministic() {
    for &(source, name, request) in FIXTURES {
        for target in Format::ALL {
            if let Ok(a) = translate(source, name, request, target) {
                assert!(
                    sonic_rs::from_slice::<sonic_rs::Value>(&a).is_ok(),
                    "{source:?}->{target:?} {name}"
                );
                assert_eq!(
                    Some(a),
                    translate(source, name, request, target).ok(),
                    "{source:?}->{target:?} {name}"
                );
            }
        }
    }
}

/// A body that is not JSON is named in one line by every format's decoders, request and
/// response side: the parser's excerpt of the input (tabs, newlines, a caret line) stays out of
/// the client's error message.
#[test]
fn json_syntax_errors_are_one_line_messages() {
    let bad: &[u8] = b"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\x01b\"}]}";
    for f in [
        Format::OpenAi,
        Format::Anthropic,
        Format::Gemini,
        Format::Bedrock,
        Format::Cohere,
    ] {
        let codec = super::codec(f).unwrap();
        let e = (codec.decode_request)(bad, Some("m"), false).unwrap_err();
        assert!(e.message.contains("JSON"), "{f:?}: {}", e.message);
        assert!(e.message.contains("column"), "{f:?} names where: {}", e.message);
        assert!(
            !e.message.contains('\n') && !e.message.contains('\t'),
            "{f:?}: {:?}",
            e.message
        );
        let e = (codec.decode_response)(bad).unwrap_err();
        assert!(
            !e.message.contains('\n') && !e.message.contains('\t'),
            "{f:?}: {:?}",
            e.message
        );
    }
}
