//! Response schemas travel as the client wrote them: a model writes a structured answer's keys in
//! the order its schema lists the properties, so a schema re-sorted on the way (as a `Value` tree
//! with sonic-rs `sort_keys` comes out) reorders the answer. Every client format's schema is read
//! as its text, by the one pass and by the reading by `Value` alike, and every target writes that
//! text.

use crate::canonical::{ChatRequest, ResponseFormat};
use crate::formats::{anthropic, bedrock, cohere, gemini, openai, Format};

/// Out of byte order at every level, as an application lists what it wants first.
const SCHEMA: &str = r#"{"type":"object","properties":{"zeta":{"type":"string","description":"first"},"alpha":{"type":"integer"}},"required":["zeta","alpha"],"additionalProperties":false}"#;

/// Each client format's body asking for `schema`, named: the member that holds it (in the place
/// its API has) last.
fn bodies(schema: &str) -> Vec<(&'static str, Format, String)> {
    let user = r#"{"role":"user","content":"hi"}"#;
    let gemini_user = r#"{"role":"user","parts":[{"text":"hi"}]}"#;
    let bedrock_user = r#"{"role":"user","content":[{"text":"hi"}]}"#;
    let openai = format!(r#"{{"model":"m","messages":[{user}]"#);
    let anthropic = format!(r#"{{"model":"m","max_tokens":5,"messages":[{user}]"#);
    let gemini = format!(r#"{{"contents":[{gemini_user}]"#);
    let bedrock = format!(r#"{{"messages":[{bedrock_user}]"#);
    [
        ("openai", Format::OpenAi, openai.clone()),
        ("anthropic output_config.format", Format::Anthropic, anthropic.clone()),
        ("anthropic output_format", Format::Anthropic, anthropic),
        ("gemini", Format::Gemini, gemini.clone()),
        ("gemini snake_case", Format::Gemini, gemini),
        ("bedrock", Format::Bedrock, bedrock),
        ("cohere", Format::Cohere, openai),
    ]
    .into_iter()
    .map(|(name, format, start)| (name, format, format!("{start},{}}}", member(name, schema))))
    .collect()
}

/// The top-level member of body `name` that holds `schema`.
fn member(name: &str, schema: &str) -> String {
    match name {
        "openai" => format!(
            r#""response_format":{{"type":"json_schema","json_schema":{{"name":"out","schema":{schema},"strict":true}}}}"#
        ),
        "anthropic output_config.format" => {
            format!(r#""output_config":{{"format":{{"type":"json_schema","schema":{schema}}},"effort":"low"}}"#)
        }
        "anthropic output_format" => format!(r#""output_format":{{"type":"json_schema","schema":{schema}}}"#),
        "gemini" => {
            format!(r#""generationConfig":{{"responseMimeType":"application/json","responseJsonSchema":{schema}}}"#)
        }
        "gemini snake_case" => {
            format!(
                r#""generation_config":{{"response_mime_type":"application/json","response_json_schema":{schema}}}"#
            )
        }
        "bedrock" => format!(
            r#""outputConfig":{{"textFormat":{{"type":"json_schema","structure":{{"jsonSchema":{{"schema":{},"name":"out"}}}}}}}}"#,
            sonic_rs::to_string(schema).unwrap()
        ),
        "cohere" => format!(r#""response_format":{{"type":"json_object","json_schema":{schema}}}"#),
        other => panic!("{other}"),
    }
}

fn decode(format: Format, body: &[u8]) -> ChatRequest {
    let codec = crate::formats::codec(format).unwrap();
    (codec.decode_request)(body, Some("m"), false).unwrap()
}

/// The reading by `Value` (the reference the one passes fall back to), for those that have one.
fn decode_by_value(format: Format, body: &[u8]) -> Option<ChatRequest> {
    Some(match format {
        Format::OpenAi => openai::request::decode_by_value(body, Some("m")).unwrap(),
        Format::Anthropic => anthropic::request::decode_by_value(body, Some("m")).unwrap(),
        Format::Gemini => gemini::decode_by_value(body, Some("m"), false).unwrap(),
        Format::Bedrock => bedrock::decode_by_value(body, Some("m"), false).unwrap(),
        Format::Cohere => return None,
    })
}

fn schema_text(req: &ChatRequest) -> &str {
    match &req.response_format {
        Some(ResponseFormat::JsonSchema { schema, .. }) => schema.as_str(),
        other => panic!("no schema read: {other:?}"),
    }
}

#[test]
fn every_client_format_keeps_its_schema_as_written() {
    for (name, format, body) in bodies(SCHEMA) {
        let req = decode(format, body.as_bytes());
        assert_eq!(schema_text(&req), SCHEMA, "{name}");
        if let Some(reference) = decode_by_value(format, body.as_bytes()) {
            assert_eq!(schema_text(&reference), SCHEMA, "{name}, read by Value");
        }
    }
    // The Responses API (read by `Value` only) and Cohere v1.
    let responses = format!(
        r#"{{"model":"m","input":"hi","text":{{"format":{{"type":"json_schema","name":"out","schema":{SCHEMA}}}}}}}"#
    );
    let req = openai::responses::decode_request(responses.as_bytes()).unwrap();
    assert_eq!(schema_text(&req), SCHEMA, "responses");
    let v1 = format!(r#"{{"message":"hi","response_format":{{"type":"json_object","schema":{SCHEMA}}}}}"#);
    let req = cohere::v1chat::decode_request_for(v1.as_bytes(), "m").unwrap();
    assert_eq!(schema_text(&req), SCHEMA, "cohere v1");
}

#[test]
fn every_target_writes_the_schema_as_written() {
    let (_, format, body) = &bodies(SCHEMA)[0];
    let req = decode(*format, body.as_bytes());
    let quoted = sonic_rs::to_string(SCHEMA).unwrap();
    for target in Format::ALL {
        let out = (crate::formats::codec(target).unwrap().encode_request)(&req).unwrap();
        let out = String::from_utf8(out).unwrap();
        // Converse carries the schema as a JSON string.
        let written = match target {
            Format::Bedrock => quoted.as_str(),
            _ => SCHEMA,
        };
        assert!(out.contains(written), "{target:?}: {out}");
    }
    let out = openai::responses_upstream::encode_request(&req).unwrap();
    assert!(String::from_utf8(out).unwrap().contains(SCHEMA), "responses upstream");
}

/// A repeated member: a reading by `Value` takes the last, where the text found first (by a
/// lookup in the body) is another schema. The schema kept is the one read.
#[test]
fn a_repeated_member_keeps_the_schema_read() {
    let first = r#"{"type":"object","properties":{"first":{"type":"string"}}}"#;
    let last: crate::canonical::Json = sonic_rs::from_str(SCHEMA).unwrap();
    for (name, format, body) in bodies(first) {
        let repeated = format!("{},{}}}", body.strip_suffix('}').unwrap(), member(name, SCHEMA));
        let decoded = (crate::formats::codec(format).unwrap().decode_request)(repeated.as_bytes(), Some("m"), false);
        let reference = decode_by_value(format, repeated.as_bytes());
        for req in [decoded.as_ref().ok(), reference.as_ref()].into_iter().flatten() {
            let text: crate::canonical::Json = sonic_rs::from_str(schema_text(req)).unwrap();
            assert_eq!(text, last, "{name}: the text kept is the schema read, the last");
        }
        assert!(decoded.is_ok(), "{name}");
    }
}

/// A key repeated inside the member: the readings take the first (a `Value`'s `get`), Gemini's
/// the last (its loop over `generationConfig`); the text kept is that schema's, by the one pass
/// and the reading by `Value` alike.
#[test]
fn a_repeated_key_inside_keeps_the_schema_read() {
    let first = r#"{"type":"object","properties":{"first":{"type":"string"}}}"#;
    let parse = |s: &str| -> crate::canonical::Json { sonic_rs::from_str(s).unwrap() };
    for (name, format, body) in bodies(first) {
        let (key, taken) = match name {
            "openai" | "anthropic output_config.format" | "anthropic output_format" => ("schema", first),
            "gemini" => ("responseJsonSchema", SCHEMA),
            "gemini snake_case" => ("response_json_schema", SCHEMA),
            _ => continue, // Converse's is a string; Cohere's typed reading refuses a repeated key.
        };
        let repeated = body.replacen(first, &format!("{first},\"{key}\":{SCHEMA}"), 1);
        let req = decode(format, repeated.as_bytes());
        assert_eq!(parse(schema_text(&req)), parse(taken), "{name}");
        let reference = decode_by_value(format, repeated.as_bytes()).unwrap();
        assert_eq!(parse(schema_text(&reference)), parse(taken), "{name}, read by Value");
    }
}

/// The Responses API's function tools: each schema as written. The one pass reads it so; the
/// reading by `Value` (a tool with `parameters` twice) where the body's text gives the one read
/// (the last `parameters` not `null`); a repeated `tools` (that reading keeps the last) or an
/// escaped key the lookup may miss: written out.
#[test]
fn responses_tools_keep_their_schemas_as_written() {
    let decode = |body: &str| openai::responses::decode_request(body.as_bytes()).unwrap();
    let tool = |params: &str| format!(r#"{{"type":"function","name":"f","parameters":{params}}}"#);
    let body = format!(
        r#"{{"model":"m","input":"hi","tools":[{},{{"type":"function","name":"g"}},{{"type":"function","name":"h","parameters":{{"type":"object"}},"parameters":{SCHEMA},"parameters":null}}]}}"#,
        tool(SCHEMA)
    );
    let req = decode(&body);
    let texts: Vec<&str> = req.tools.iter().map(|t| t.parameters.as_str()).collect();
    assert_eq!(texts, [SCHEMA, r#"{"type":"object","properties":{}}"#, SCHEMA]);
    let sorted = crate::canonical::Schema::from_value(&sonic_rs::from_str(SCHEMA).unwrap());
    assert_ne!(sorted.as_str(), SCHEMA);
    // `tools` twice: the last read, as written in one pass, written out by `Value`.
    let twice = format!(
        r#"{{"model":"m","input":"hi","tools":[{}],"tools":[{}]}}"#,
        tool("{}"),
        tool(SCHEMA)
    );
    assert_eq!(decode(&twice).tools[0].parameters.as_str(), SCHEMA);
    let (by_value, _) = openai::responses::decode_by_value(twice.as_bytes(), false).unwrap();
    assert_eq!(by_value.tools[0].parameters.as_str(), sorted.as_str());
    // An escaped `parameters` after a plain one: the reading takes the escaped (the last).
    let escaped = format!(
        r#"{{"model":"m","input":"hi","tools":[{{"type":"function","name":"f","parameters":{{}},"param\u0065ters":{SCHEMA}}}]}}"#
    );
    let read: crate::canonical::Json = sonic_rs::from_str(decode(&escaped).tools[0].parameters.as_str()).unwrap();
    assert_eq!(read, sonic_rs::from_str::<crate::canonical::Json>(SCHEMA).unwrap());
}
