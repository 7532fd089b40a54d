//! Tool-call arguments carried as the model wrote them (README "Tool arguments reach the client").
//!
//! Canonical `Part::ToolCall.arguments` is JSON text. Formats that carry arguments as text
//! (OpenAI, Cohere, stream fragments) pass it on untouched. Formats that carry an object
//! (Anthropic `input`, Converse `toolUse.input`, Gemini `args`) get the text spliced in after one
//! validating pass, and their decoders take the object's raw text from the body: a parsed
//! `Value` written again would sort the keys, round integers beyond 64 bits, respell `1e5` or
//! `1.0` and change escapes such as `\u00fc` or `\/`. A decoder notes where each call's object
//! sits while it walks the parsed body (`RawArgs`) and takes all the texts in one more pass.

use crate::canonical::{JsonPath, Part};
use crate::wire::json::{too_deep, MAX_DEPTH};
use sonic_rs::{JsonValueTrait, LazyValue, PointerNode, PointerTree};

/// The arguments as one JSON value, validated but not parsed into a tree: it serializes as its
/// own text (trimmed). Empty text is `{}` (a call without arguments). The error says why the
/// text is not one valid JSON value (or nests deeper than `MAX_DEPTH`).
pub(crate) fn value(arguments: &str) -> Result<LazyValue<'_>, String> {
    let text = match arguments.trim_ascii() {
        "" => "{}",
        t if too_deep(t.as_bytes(), MAX_DEPTH) => return Err(format!("nested deeper than {MAX_DEPTH}")),
        t => t,
    };
    // Deserializing a `LazyValue` validates the value (`skip_one(checked)`) and what follows it.
    sonic_rs::from_str::<LazyValue<'_>>(text).map_err(|e| crate::wire::json::brief(&e))
}

/// As `value`, for a format that wants an object: `None` for anything but one valid object.
pub(crate) fn object(arguments: &str) -> Option<LazyValue<'_>> {
    value(arguments).ok().filter(|v| v.is_object())
}

/// The text `object` writes, for a writer of bytes: trimmed, `{}` for empty text.
pub(crate) fn object_text(arguments: &str) -> Option<&str> {
    object(arguments).map(|_| match arguments.trim_ascii() {
        "" => "{}",
        t => t,
    })
}

/// As `object`, with `{}` for arguments that are not a JSON object (a truncated upstream
/// answer) where the format must have one.
pub(crate) fn object_or_empty(arguments: &str) -> LazyValue<'_> {
    object(arguments).or_else(|| object("")).unwrap_or_default()
}

/// The raw text of the value at `path` in `json` when it is an object: an upstream's tool input
/// as it wrote it. `json` must already have parsed whole (the decoders parse it first), so
/// this lookup only skips to the value.
pub(crate) fn raw_object_at<P>(json: &[u8], path: P) -> Option<String>
where
    P: IntoIterator,
    P::Item: sonic_rs::Index,
{
    let raw = sonic_rs::get_from_slice(json, path).ok()?;
    let text = raw.as_raw_str().trim_ascii();
    text.starts_with('{').then(|| text.to_string())
}

/// `path` followed by `rest`, as a pointer for `raw_object_at`.
pub(crate) fn pointer(path: &JsonPath<'_>, rest: &[&str]) -> Vec<PointerNode> {
    fn walk(p: &JsonPath<'_>, out: &mut Vec<PointerNode>) {
        match *p {
            JsonPath::Root => {}
            JsonPath::Key(parent, k) => {
                walk(parent, out);
                out.push(k.into());
            }
            JsonPath::Index(parent, i) => {
                walk(parent, out);
                out.push(i.into());
            }
        }
    }
    let mut out = Vec::with_capacity(8);
    walk(path, &mut out);
    out.extend(rest.iter().map(|&k| PointerNode::from(k)));
    out
}

/// Where a decoder's tool calls have their arguments object in the body, noted in the order it
/// makes the calls; `fill` then takes every text in one pass over the body
/// (`sonic_rs::get_many`). A lookup per call would read the body again for each, quadratic in a
/// long agent history.
///
/// A few calls (an answer's usual one or two) are looked up one by one instead: building the
/// `PointerTree` costs more than the passes it saves there (criterion `translate/response/*`,
/// RESULTS "Session 27").
#[derive(Default)]
pub(crate) struct RawArgs {
    paths: Vec<Vec<PointerNode>>,
}

/// Up to this many calls, each is looked up on its own (`sonic_rs::get_from_slice`).
const ONE_BY_ONE: usize = 4;

impl RawArgs {
    /// The decoder's next call has its arguments at `path` followed by `rest`.
    pub(crate) fn push(&mut self, path: &JsonPath<'_>, rest: &[&str]) {
        self.paths.push(pointer(path, rest));
    }

    /// Gives `calls` (the arguments of every call the decoder made, in order) the texts found
    /// in `body` when they are objects; the decoded text stays for the others, and for all when
    /// the counts differ (a decoder whose noting went wrong must not swap arguments).
    pub(crate) fn fill<'p>(self, body: &[u8], calls: impl IntoIterator<Item = &'p mut String>) {
        if self.paths.is_empty() {
            return;
        }
        let calls: Vec<&mut String> = calls.into_iter().collect();
        if self.paths.len() != calls.len() {
            return;
        }
        let take = |arguments: &mut String, raw: Option<&LazyValue<'_>>| {
            let text = raw.map(|r| r.as_raw_str().trim_ascii());
            if let Some(text) = text.filter(|t| t.starts_with('{')) {
                text.clone_into(arguments);
            }
        };
        if self.paths.len() <= ONE_BY_ONE {
            for (arguments, path) in calls.into_iter().zip(&self.paths) {
                take(arguments, sonic_rs::get_from_slice(body, path).ok().as_ref());
            }
            return;
        }
        let mut tree = PointerTree::new();
        for path in self.paths {
            tree.add_path(path);
        }
        let Ok(found) = sonic_rs::get_many(body, &tree) else {
            return;
        };
        if found.len() != calls.len() {
            return;
        }
        for (arguments, raw) in calls.into_iter().zip(found) {
            take(arguments, raw.as_ref());
        }
    }
}

/// The arguments of the tool calls among `parts`, in order.
pub(crate) fn calls_in<'p>(parts: impl IntoIterator<Item = &'p mut Part>) -> impl Iterator<Item = &'p mut String> {
    parts.into_iter().filter_map(|p| match p {
        Part::ToolCall { arguments, .. } => Some(arguments),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::stream::events_from_response;
    use crate::canonical::stream::testing::{collect, encode_all, run};
    use crate::canonical::{ChatRequest, ChatResponse, Extra, FinishReason, Usage};
    use crate::formats::openai::responses::Echo;
    use crate::formats::{codec, stream_decoder, stream_encoder, Format};

    /// Every kind of spelling that a parse and re-serialization would change.
    const AS_WRITTEN: &str = r#"{"zeta":123456789012345678901234,"max":-9223372036854775809,"alpha":1e5,"f":1.0,"neg":-0.0,"s":"Z\u00fcrich \/ \ud83d\ude00 \"q\"","nested":{"b":[1,2.50,{}],"a":null}}"#;

    #[test]
    fn object_keeps_the_text_as_written() {
        let v = object(AS_WRITTEN).unwrap();
        assert_eq!(sonic_rs::to_string(&v).unwrap(), AS_WRITTEN);
        let padded = format!(" \n{AS_WRITTEN}\t ");
        assert_eq!(sonic_rs::to_string(&object(&padded).unwrap()).unwrap(), AS_WRITTEN);
    }

    #[test]
    fn object_is_empty_object_for_empty_text() {
        assert_eq!(sonic_rs::to_string(&object("").unwrap()).unwrap(), "{}");
        assert_eq!(sonic_rs::to_string(&object(" \n").unwrap()).unwrap(), "{}");
    }

    #[test]
    fn object_refuses_what_is_not_one_valid_object() {
        for bad in [
            "[1]",
            "1",
            "\"{}\"",
            "null",
            "{",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":1} {}",
            "{\"a\":1}x",
            "{\"a\":tru}",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":01}",
            "{a:1}",
        ] {
            assert!(object(bad).is_none(), "{bad}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(object(&deep).is_none());
    }

    fn answer(arguments: &str) -> ChatResponse {
        ChatResponse {
            id: "r".into(),
            model: "m".into(),
            content: vec![
                Part::text("calling"),
                Part::ToolCall {
                    id: "toolu_1".into(),
                    name: "f".into(),
                    arguments: arguments.into(),
                    signature: None,
                    extra: Extra::default(),
                },
            ],
            finish: FinishReason::ToolCalls,
            usage: Usage {
                input: 3,
                output: 4,
                ..Usage::default()
            },
            stop_sequence: None,
            created: 0,
            logprobs: Vec::new(),
        }
    }

    fn arguments_of_parts(parts: &[Part]) -> impl Iterator<Item = &str> {
        parts.iter().filter_map(|p| match p {
            Part::ToolCall { arguments, .. } => Some(arguments.as_str()),
            _ => None,
        })
    }

    fn arguments_of(r: &ChatResponse) -> Vec<&str> {
        arguments_of_parts(&r.content).collect()
    }

    /// The text a body carries for `AS_WRITTEN`: itself where the format wants an object, a
    /// JSON string of it where it wants text.
    fn carried(f: Format) -> String {
        match f {
            Format::Anthropic | Format::Gemini | Format::Bedrock => AS_WRITTEN.to_string(),
            Format::OpenAi | Format::Cohere => sonic_rs::to_string(AS_WRITTEN).unwrap(),
        }
    }

    #[test]
    fn every_format_answers_with_the_arguments_as_written_and_decodes_them_so() {
        for f in Format::ALL {
            let c = codec(f).unwrap();
            let body = (c.encode_response)(&answer(AS_WRITTEN));
            let text = String::from_utf8(body.clone()).unwrap();
            assert!(text.contains(&carried(f)), "{f:?}: {text}");
            // The same body from an upstream of that format.
            let r = (c.decode_response)(&body).unwrap();
            assert_eq!(arguments_of(&r), [AS_WRITTEN], "{f:?}");
        }
    }

    #[test]
    fn every_stream_carries_the_arguments_as_written_both_ways() {
        let req = ChatRequest {
            stream: true,
            include_usage: true,
            ..Default::default()
        };
        let events = events_from_response(&answer(AS_WRITTEN), 3);
        for f in Format::ALL {
            let bytes = encode_all(stream_encoder(f, false, &req).as_mut(), &events);
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if f == Format::Gemini {
                // Gemini sends `args` whole: the object itself.
                assert!(text.contains(AS_WRITTEN), "{text}");
            }
            let got = run(&|| stream_decoder(f), &[&bytes]).unwrap();
            assert_eq!(arguments_of(&collect(&got)), [AS_WRITTEN], "{f:?}: {text}");
        }
    }

    #[test]
    fn openai_responses_and_invoke_bodies_carry_the_arguments_as_written() {
        use crate::formats::bedrock::invoke::{encode_invoke_response, InvokeFamily};
        let resp = answer(AS_WRITTEN);
        let req = ChatRequest::default();
        let body = crate::formats::openai::responses::encode_response(&resp, &Echo::of(&req, b"{}"));
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains(&carried(Format::OpenAi)), "{text}");
        let r = crate::formats::openai::responses_upstream::decode_response(text.as_bytes()).unwrap();
        assert_eq!(arguments_of(&r), [AS_WRITTEN]);
        for (family, f) in [
            (InvokeFamily::Anthropic, Format::Anthropic),
            (InvokeFamily::Nova, Format::Bedrock),
            (InvokeFamily::OpenAi, Format::OpenAi),
            // Cohere v1 `parameters` is an object.
            (InvokeFamily::CohereCommandR, Format::Anthropic),
        ] {
            let body = encode_invoke_response(family, &resp, br#"{"message":"hi"}"#, 1);
            let text = String::from_utf8(body).unwrap();
            assert!(text.contains(&carried(f)), "{family:?}: {text}");
        }
    }

    #[test]
    fn a_call_in_a_clients_history_reaches_every_upstream_as_written() {
        let a = AS_WRITTEN;
        let histories = [
            (
                Format::Anthropic,
                format!(
                    r#"{{"model":"m","max_tokens":5,"messages":[{{"role":"user","content":"hi"}},{{"role":"assistant","content":[{{"type":"text","text":"x"}},{{"type":"tool_use","id":"toolu_1","name":"f","input": {a} }}]}},{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}}]}}]}}"#
                ),
            ),
            (
                Format::Bedrock,
                format!(
                    r#"{{"messages":[{{"role":"user","content":[{{"text":"hi"}}]}},{{"role":"assistant","content":[{{"text":"x"}},{{"toolUse":{{"toolUseId":"t1","name":"f","input":{a}}}}}]}},{{"role":"user","content":[{{"toolResult":{{"toolUseId":"t1","content":[{{"text":"ok"}}]}}}}]}}]}}"#
                ),
            ),
            (
                Format::Gemini,
                format!(
                    r#"{{"contents":[{{"role":"user","parts":[{{"text":"hi"}}]}},{{"role":"model","parts":[{{"text":"x"}},{{"functionCall":{{"name":"f","args":{a}}}}}]}},{{"role":"user","parts":[{{"functionResponse":{{"name":"f","response":{{"r":1}}}}}}]}}]}}"#
                ),
            ),
            (
                Format::Gemini,
                format!(
                    r#"{{"contents":[{{"role":"user","parts":[{{"text":"hi"}}]}},{{"role":"model","parts":[{{"function_call":{{"name":"f","args":{a}}}}}]}},{{"role":"user","parts":[{{"function_response":{{"name":"f","response":{{"r":1}}}}}}]}}]}}"#
                ),
            ),
        ];
        for (source, body) in histories {
            let req = (codec(source).unwrap().decode_request)(body.as_bytes(), Some("m"), false).unwrap();
            let args: Vec<&str> = req
                .messages
                .iter()
                .flat_map(|m| arguments_of_parts(&m.content))
                .collect();
            assert_eq!(args, [AS_WRITTEN], "{source:?}");
            for target in Format::ALL {
                let out = (codec(target).unwrap().encode_request)(&req).unwrap();
                let text = String::from_utf8(out).unwrap();
                assert!(text.contains(&carried(target)), "{source:?} -> {target:?}: {text}");
            }
        }
    }

    #[test]
    fn an_anthropic_stream_that_starts_a_call_with_its_whole_input_keeps_its_text() {
        let events = [
            (
                "message_start",
                r#"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":1,"output_tokens":0}}}"#.to_string(),
            ),
            (
                "content_block_start",
                format!(r#"{{"type":"content_block_start","index":0,"content_block":{{"type":"tool_use","id":"t","name":"f","input": {AS_WRITTEN} }}}}"#),
            ),
            ("content_block_stop", r#"{"type":"content_block_stop","index":0}"#.to_string()),
            ("message_stop", r#"{"type":"message_stop"}"#.to_string()),
        ];
        let mut bytes = Vec::new();
        for (name, data) in &events {
            bytes.extend_from_slice(format!("event: {name}\ndata: {data}\n\n").as_bytes());
        }
        let got = run(&|| stream_decoder(Format::Anthropic), &[&bytes]).unwrap();
        assert_eq!(arguments_of(&collect(&got)), [AS_WRITTEN]);
    }

    #[test]
    fn raw_args_fill_every_noted_call_and_keep_the_rest_as_decoded() {
        let body =
            format!(r#"{{"c":[{{"input":{AS_WRITTEN}}},{{"input":[1]}},{{"x":1}},{{"input": {{"b":1, "a":2}} }}]}}"#);
        let root = JsonPath::ROOT;
        let c = root.key("c");
        let decoded = || vec!["d0".to_string(), "d1".into(), "d2".into(), "d3".into()];
        let mut raw = RawArgs::default();
        for i in [0, 1, 2, 3] {
            raw.push(&c.index(i), &["input"]);
        }
        let mut calls = decoded();
        raw.fill(body.as_bytes(), calls.iter_mut());
        assert_eq!(calls, [AS_WRITTEN, "d1", "d2", r#"{"b":1, "a":2}"#]);
        // Noted calls that do not match the decoded ones in number: nothing is swapped.
        let mut raw = RawArgs::default();
        raw.push(&c.index(0), &["input"]);
        let mut calls = decoded();
        raw.fill(body.as_bytes(), calls.iter_mut());
        assert_eq!(calls, decoded());
    }

    /// Past `ONE_BY_ONE` calls the texts come from one `get_many` pass: each still goes to its
    /// own call, in order.
    #[test]
    fn raw_args_of_many_calls_fill_each_its_own() {
        let n = ONE_BY_ONE * 2 + 1;
        let objects: Vec<String> = (0..n).map(|i| format!(r#"{{"z":{i}, "a":1e{i}}}"#)).collect();
        let items: Vec<String> = objects.iter().map(|o| format!(r#"{{"input":{o}}}"#)).collect();
        let body = format!(r#"{{"c":[{}]}}"#, items.join(","));
        let root = JsonPath::ROOT;
        let c = root.key("c");
        let mut raw = RawArgs::default();
        for i in 0..n {
            raw.push(&c.index(i), &["input"]);
        }
        let mut calls = vec![String::new(); n];
        raw.fill(body.as_bytes(), calls.iter_mut());
        assert_eq!(calls, objects);
    }

    #[test]
    fn raw_object_at_gives_the_text_of_an_object_only() {
        let body = format!(r#"{{"c":[{{"input": {AS_WRITTEN} }},{{"input":[1]}},{{"input":"{{}}"}}]}}"#);
        let at = |i: usize| raw_object_at(body.as_bytes(), sonic_rs::pointer!["c", i, "input"]);
        assert_eq!(at(0).as_deref(), Some(AS_WRITTEN));
        assert_eq!(at(1), None);
        assert_eq!(at(2), None);
        assert_eq!(at(3), None);
    }
}
