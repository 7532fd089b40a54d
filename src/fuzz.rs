//! Fuzz targets, shared by the cargo-fuzz harness (`fuzz/`) and the corpus replay test
//! (`tests/fuzz_corpus.rs`), so CI runs exactly what the fuzzer runs.
//!
//! Each target takes arbitrary bytes and checks invariants, panicking only when one breaks:
//! the decoders and encoders never panic, and how the input is split across reads never changes
//! the outcome. The first byte picks the split point (and, for `stream_decoders`, the format;
//! for `translate`, the format and the side).

use crate::canonical::stream::{events_from_response, StreamDecode, StreamEncode, StreamError, StreamEvent};
use crate::canonical::ChatRequest;
use crate::error::GatewayError;
use crate::formats::stream_end::{EndMark, EndWatch, Ending};
use crate::formats::{self, Format};
use crate::wire::eventstream::EventStreamDecoder;
use crate::wire::sse::SseDecoder;
use bytes::Bytes;

/// What an SSE decode produced: events as (event, data, id, retry), then the error if any.
type SseOutcome = (Vec<(Option<Bytes>, Bytes, Option<Bytes>, Option<u64>)>, Option<String>);

fn sse_run(pieces: &[&[u8]]) -> SseOutcome {
    let mut d = SseDecoder::with_max_event_bytes(4096);
    let mut out = Vec::new();
    for p in pieces {
        d.push(Bytes::copy_from_slice(p));
        loop {
            match d.next_event() {
                Ok(Some(e)) => out.push((e.event, e.data, e.id, e.retry)),
                Ok(None) => break,
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }
    match d.finish() {
        Ok(Some(e)) => out.push((e.event, e.data, e.id, e.retry)),
        Ok(None) => {}
        Err(e) => return (out, Some(e.to_string())),
    }
    (out, None)
}

fn split_point(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((&b, rest)) if !rest.is_empty() => (b as usize % (rest.len() + 1), rest),
        Some((_, rest)) => (0, rest),
        None => (0, data),
    }
}

/// SSE decoder: whole input, split at one point, and one byte at a time agree (events and
/// failure alike); every decoded event, written again by the encoder (LF and CRLF), decodes to
/// the same name and data.
pub fn sse_decoder(data: &[u8]) {
    let (cut, input) = split_point(data);
    let whole = sse_run(&[input]);
    let (a, b) = input.split_at(cut);
    assert_eq!(whole, sse_run(&[a, b]), "split at {cut}");
    if input.len() <= 512 {
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(whole, sse_run(&bytes), "one byte at a time");
    }
    for (event, data, _, _) in &whole.0 {
        // A field value holds no line break, so the encoder writes the name as it is.
        let Ok(name) = event.as_deref().map(std::str::from_utf8).transpose() else {
            continue;
        };
        for crlf in [false, true] {
            let mut again = Vec::new();
            if crlf {
                crate::wire::sse::encode_event_crlf(&mut again, name, data);
            } else {
                crate::wire::sse::encode_event(&mut again, name, data);
            }
            let back = sse_run(&[&again]);
            assert_eq!(back.1, None, "re-encoded event decodes");
            assert_eq!(back.0.len(), 1, "re-encoded event is one event");
            assert_eq!(
                (&back.0[0].0, &back.0[0].1),
                (event, data),
                "re-encoded event decodes back"
            );
        }
    }
}

type EsOutcome = (Vec<crate::wire::eventstream::Message>, Option<String>);

fn es_run(pieces: &[&[u8]]) -> EsOutcome {
    let mut d = EventStreamDecoder::with_max_message_bytes(1 << 16);
    let mut out = Vec::new();
    for p in pieces {
        d.push(p);
        loop {
            match d.next_message() {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }
    (out, d.finish().err().map(|e| e.to_string()))
}

/// AWS event-stream decoder: whole, split and one-byte-at-a-time inputs give the same messages
/// and the same error; every decoded message encodes again to exactly the bytes it came from
/// (same header order, same values), so the messages re-encoded, in order, are a prefix of the
/// input, and the whole input when it decoded without error.
pub fn eventstream_decoder(data: &[u8]) {
    let (cut, input) = split_point(data);
    let whole = es_run(&[input]);
    let (a, b) = input.split_at(cut);
    assert_eq!(whole, es_run(&[a, b]), "split at {cut}");
    if input.len() <= 512 {
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(whole, es_run(&bytes), "one byte at a time");
    }
    let mut again = Vec::new();
    for m in &whole.0 {
        let at = again.len();
        if let Err(e) = m.encode(&mut again) {
            panic!("decoded message does not encode again: {e}");
        }
        let back = es_run(&[&again[at..]]);
        assert_eq!(
            (back.0.as_slice(), &back.1),
            (std::slice::from_ref(m), &None),
            "re-encoded message decodes back"
        );
    }
    assert!(
        input.starts_with(&again),
        "re-encoded messages differ from their input bytes"
    );
    if whole.1.is_none() {
        assert_eq!(again.len(), input.len(), "a clean decode consumed all the input");
    }
}

/// A stream decoder: the format's own, or (`responses`) the Responses API's, which an OpenAI
/// upstream speaks for `chat_via_responses`.
fn decoder(format: Format, responses: bool) -> Box<dyn StreamDecode> {
    match responses {
        true => Box::new(formats::openai::responses_upstream::ResponsesStreamDecoder::new()),
        false => formats::stream_decoder(format),
    }
}

fn stream_run(format: (Format, bool), pieces: &[&[u8]]) -> (Vec<StreamEvent>, Result<(), StreamError>) {
    let mut d: Box<dyn StreamDecode> = decoder(format.0, format.1);
    let mut out = Vec::new();
    for p in pieces {
        d.push(Bytes::copy_from_slice(p));
        loop {
            match d.next_event() {
                Ok(Some(e)) => out.push(e),
                Ok(None) => break,
                Err(e) => return (out, Err(e)),
            }
        }
    }
    let end = d.finish();
    loop {
        match d.next_event() {
            Ok(Some(e)) => out.push(e),
            Ok(None) => break,
            Err(e) => return (out, Err(e)),
        }
    }
    (out, end)
}

/// Every format's stream decoder (the first byte picks it): never panics, and neither the
/// events nor the outcome (complete, truncated, malformed and why) depend on how the input was
/// split: whole, in two at the point the second byte picks, and one byte at a time.
pub fn stream_decoders(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    // The high bit picks the Responses decoder instead of the format's.
    let format = (
        Format::ALL[(which & 0x7f) as usize % Format::ALL.len()],
        which & 0x80 != 0,
    );
    let (cut, input) = split_point(rest);
    let whole = stream_run(format, &[input]);
    let (a, b) = input.split_at(cut);
    assert_eq!(whole, stream_run(format, &[a, b]), "{format:?} split at {cut}");
    if input.len() <= 512 {
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(whole, stream_run(format, &bytes), "{format:?} one byte at a time");
    }
    // Whatever a decoder lets through, in whatever order, every client's encoder must take.
    encode_for_every_client(&ChatRequest::default(), &whole.0, whole.1.is_err());
    // The same bytes relayed on the same-format path: the end watch of every form agrees with
    // itself however they are split.
    for mark in END_MARKS {
        let whole = end_watch_run(mark, &[input]);
        assert_eq!(whole, end_watch_run(mark, &[a, b]), "{mark:?} split at {cut}");
        if input.len() <= 512 {
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            let one = end_watch_run(mark, &bytes);
            // Only `[DONE]`'s offset may differ: fed one byte at a time, its event ends at a
            // final CR without the LF that whole input includes.
            assert_eq!(
                (one.1, one.2, one.3),
                (whole.1, whole.2, whole.3),
                "{mark:?} one byte at a time"
            );
            assert_eq!(one.0.is_some(), whole.0.is_some(), "{mark:?} one byte at a time");
        }
    }
}

const END_MARKS: [EndMark; 9] = [
    EndMark::OpenAiChat,
    EndMark::OpenAiResponses,
    EndMark::Anthropic,
    EndMark::Gemini,
    EndMark::Unwatched,
    EndMark::CohereV2,
    EndMark::CohereV1,
    EndMark::BedrockConverse,
    EndMark::BedrockInvoke,
];

/// Feeds `pieces` to an end watch until `[DONE]` ends the stream: (that offset in the
/// concatenation, ended, the ending after a clean end, after a failure). The error it would
/// write is written too (it must not panic).
pub(crate) fn end_watch_run(mark: EndMark, pieces: &[&[u8]]) -> (Option<usize>, bool, Ending, Ending) {
    let mut w = EndWatch::new(mark);
    let mut at = 0;
    let mut done = None;
    for p in pieces {
        if let Some(end) = w.feed(p) {
            done = Some(at + end);
            break;
        }
        at += p.len();
    }
    let mut error = Vec::new();
    w.write_error(502, "cut", &mut error);
    (done, w.ended(), w.ending(false), w.ending(true))
}

/// Feeds `events` to the stream encoder of every client format (Bedrock both ways, Gemini both
/// ways), then ends the stream cleanly or, with `failed`, with an in-stream error.
fn encode_for_every_client(req: &ChatRequest, events: &[StreamEvent], failed: bool) {
    let mut out = Vec::new();
    for (format, invoke) in Format::ALL.iter().map(|&f| (f, false)).chain([(Format::Bedrock, true)]) {
        encode_stream(
            formats::stream_encoder(format, invoke, req).as_mut(),
            events,
            failed,
            &mut out,
        );
    }
    // Legacy completions: whatever came, every frame is a JSON `data:` line or `[DONE]`.
    let mut completion = formats::openai::completions::CompletionStreamEncoder::new(req);
    encode_stream(&mut completion, events, failed, &mut out);
    for frame in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let data = frame
            .strip_prefix(b"data: ")
            .expect("a completion stream writes data lines only");
        assert!(
            data == b"[DONE]" || sonic_rs::from_slice::<serde::de::IgnoredAny>(data).is_ok(),
            "not a JSON completion chunk: {}",
            String::from_utf8_lossy(frame)
        );
    }
    // The Responses API: whatever came, every event is `event: <type>` and a JSON `data:` line
    // of that type, numbered from 0 without gaps, and the last is the one terminal event.
    let mut responses = crate::canonical::stream::ArgumentsNeverEmpty::new(
        formats::openai::responses::ResponsesStreamEncoder::new(req, b"{}"),
    );
    encode_stream(&mut responses, events, failed, &mut out);
    let errs = failed || events.iter().any(|e| matches!(e, StreamEvent::Error { .. }));
    check_responses_stream(&out, errs);
    // Cohere v1: whatever came, every line is one JSON object, and the one `stream-end` is last.
    let mut v1 = crate::canonical::stream::ArgumentsNeverEmpty::new(formats::cohere::v1chat::V1StreamEncoder::new(
        br#"{"message":"q","chat_history":[{"role":"USER","message":"hi"}]}"#,
    ));
    encode_stream(&mut v1, events, failed, &mut out);
    check_cohere_v1_stream(&out);
    // InvokeModelWithResponseStream for the other model families: whatever came, every frame
    // checks out, every chunk is one JSON object, and only the last chunk carries the invocation
    // metrics (when the stream ended cleanly).
    for family in [
        formats::bedrock::invoke::InvokeFamily::Nova,
        formats::bedrock::invoke::InvokeFamily::CohereCommandR,
        formats::bedrock::invoke::InvokeFamily::OpenAi,
        formats::bedrock::invoke::InvokeFamily::Prompt(formats::bedrock::invoke_prompt::PromptFamily::Llama),
        formats::bedrock::invoke::InvokeFamily::Prompt(formats::bedrock::invoke_prompt::PromptFamily::Mistral),
        formats::bedrock::invoke::InvokeFamily::Prompt(formats::bedrock::invoke_prompt::PromptFamily::TitanText),
        formats::bedrock::invoke::InvokeFamily::Prompt(formats::bedrock::invoke_prompt::PromptFamily::DeepSeek),
    ] {
        let body = br#"{"message":"q","messages":[]}"#;
        let mut enc = formats::bedrock::invoke_stream::stream_encoder(family, req, body);
        encode_stream(enc.as_mut(), events, failed, &mut out);
        check_invoke_stream(&out, family);
    }
    // Gemini's JSON-array form: whatever came, the whole answer is one valid JSON array.
    let mut array = formats::gemini::stream::GeminiStreamEncoder::json_array(req);
    encode_stream(&mut array, events, failed, &mut out);
    let parsed: Result<Vec<serde::de::IgnoredAny>, _> = sonic_rs::from_slice(&out);
    assert!(parsed.is_ok(), "not a JSON array: {}", String::from_utf8_lossy(&out));
}

/// A Cohere v1 stream: JSON lines, `stream-start` first, exactly one `stream-end`, last, whose
/// `response` is a whole answer.
fn check_cohere_v1_stream(out: &[u8]) {
    use sonic_rs::JsonValueTrait;
    let text = std::str::from_utf8(out).expect("a v1 stream is UTF-8");
    assert!(text.ends_with('\n'), "{text}");
    let kinds: Vec<String> = text
        .lines()
        .map(|line| {
            let v: sonic_rs::Value = sonic_rs::from_str(line).unwrap_or_else(|e| panic!("not JSON: {e}: {line}"));
            if v["event_type"].as_str() == Some("stream-end") {
                assert!(v["response"]["chat_history"].is_array(), "{line}");
                assert!(v["response"]["text"].is_str(), "{line}");
            }
            v["event_type"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("stream-start"), "{text}");
    let ends = kinds.iter().filter(|k| *k == "stream-end").count();
    assert!(ends == 1 && kinds[kinds.len() - 1] == "stream-end", "{text}");
}

/// The invariants of an InvokeModelWithResponseStream body of `family`: frames with good
/// checksums, `chunk` events whose base64 `bytes` hold one JSON object each, at most one
/// exception frame and only last, and the invocation metrics on the last chunk only.
fn check_invoke_stream(out: &[u8], family: formats::bedrock::invoke::InvokeFamily) {
    use crate::wire::eventstream::HeaderValue;
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};
    let mut d = EventStreamDecoder::new();
    d.push(out);
    let (mut chunks, mut exception) = (Vec::new(), false);
    while let Some(m) = d.next_message().expect("frames of this process decode") {
        assert!(!exception, "{family:?}: nothing follows an exception");
        if let Some(HeaderValue::String(_)) = m.header(":exception-type") {
            exception = true;
            continue;
        }
        assert_eq!(m.header_str(":event-type"), Some("chunk"), "{family:?}");
        let frame: sonic_rs::Value = sonic_rs::from_slice(&m.payload).expect("frame payload is JSON");
        let bytes = crate::wire::base64::decode(frame["bytes"].as_str().expect("bytes")).expect("base64");
        let v: sonic_rs::Value = sonic_rs::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{family:?}: chunk not JSON: {e}: {}", String::from_utf8_lossy(&bytes)));
        assert!(v.is_object(), "{family:?}");
        chunks.push(
            v.as_object()
                .is_some_and(|o| o.contains_key(&"amazon-bedrock-invocationMetrics")),
        );
    }
    d.finish().expect("the body ends at a frame boundary");
    if let Some((_, before)) = chunks.split_last() {
        assert!(before.iter().all(|m| !m), "{family:?}: metrics before the last chunk");
    }
}

/// The invariants of a Responses event stream that the openai SDK's `responses.stream()` relies
/// on (PROTOCOLS 2.8): `response.created` first, consecutive sequence numbers, one response id,
/// and exactly one terminal event, last (`response.failed` after an `error` when the stream
/// `failed` or carried the upstream's error).
fn check_responses_stream(out: &[u8], failed: bool) {
    use sonic_rs::JsonValueTrait;
    let text = std::str::from_utf8(out).expect("a Responses stream is UTF-8");
    let mut kinds = Vec::new();
    let mut id = None;
    for (n, frame) in text.split_terminator("\n\n").enumerate() {
        let (head, data) = frame.split_once('\n').expect("two lines per event");
        let kind = head.strip_prefix("event: ").expect("an event: line");
        let data: sonic_rs::Value = sonic_rs::from_str(data.strip_prefix("data: ").expect("a data: line"))
            .unwrap_or_else(|e| panic!("not JSON: {e}: {frame}"));
        assert_eq!(data["type"].as_str(), Some(kind), "{frame}");
        assert_eq!(data["sequence_number"].as_u64(), Some(n as u64), "{frame}");
        if let Some(r) = data["response"]["id"].as_str() {
            assert_eq!(id.get_or_insert_with(|| r.to_string()), r, "{frame}");
        }
        kinds.push(kind.to_string());
    }
    assert_eq!(kinds.first().map(String::as_str), Some("response.created"), "{text}");
    let terminal = ["response.completed", "response.incomplete", "response.failed"];
    let ends = kinds.iter().filter(|k| terminal.contains(&k.as_str())).count();
    assert!(
        ends == 1 && terminal.contains(&kinds[kinds.len() - 1].as_str()),
        "{text}"
    );
    assert_eq!(failed, kinds[kinds.len() - 1] == "response.failed", "{text}");
    if failed {
        assert_eq!(kinds[kinds.len() - 2], "error", "{text}");
    }
}

/// One whole stream through `enc` into `out` (cleared first).
fn encode_stream(enc: &mut dyn StreamEncode, events: &[StreamEvent], failed: bool, out: &mut Vec<u8>) {
    out.clear();
    for e in events {
        enc.encode(e, out);
    }
    if failed {
        enc.error(502, "upstream stream broke", out);
    } else {
        enc.finish(out);
    }
}

/// Non-stream translation in both directions, of any body the gateway lets through to a codec;
/// nothing may panic. The first byte picks the format (its low 3 bits, mod 5) and the side
/// (bit 3).
///
/// - A client's request (bit 3 clear; bit 4: the model comes from the path, as Gemini's and
///   Bedrock's routes give it; bit 5: a stream route; bit 6: an OpenAI body is a legacy
///   completion; every OpenAI body is also read as a Responses request, every Cohere body as v1,
///   every Bedrock body as InvokeModel) is decoded as that
///   format's request and,
///   if it decodes, encoded for every upstream format; each encoding must decode again.
/// - An upstream's answer (bit 3 set) is decoded as that format's response and, if it decodes,
///   encoded for every client format, as a body (which must decode again) and as a stream
///   (the Responses API's too, whose event invariants are checked). The same bytes are also read
///   as that format's error body (status from bits 4-5) and rendered for every client.
pub fn translate(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    // The gateway refuses such a body before any codec sees it (each level of a JSON tree is a
    // stack frame); the codecs rely on that.
    if crate::wire::json::too_deep(body, crate::wire::json::MAX_DEPTH) {
        return;
    }
    let format = Format::ALL[usize::from(which & 7) % Format::ALL.len()];
    let codec = formats::codec(format).expect("every format has a codec");
    if which & 8 == 0 {
        let path_model = (which & 16 != 0).then_some("model-from-path");
        count_round_trip(format, body, path_model);
        // An OpenAI client's body is also read as a legacy completion (bit 6), whose request
        // crosses as a chat request does.
        let decoded = match format == Format::OpenAi && which & 64 != 0 {
            true => formats::openai::completions::decode_request(body),
            false => (codec.decode_request)(body, path_model, which & 32 != 0),
        };
        // A Cohere client's body read in one pass reads as it does one field at a time (the
        // reading that names a refused field): the same request, or a refusal of the same field.
        if format == Format::Cohere {
            let lazily = formats::cohere::request::decode_request_lazily(body, path_model);
            match (&decoded, &lazily) {
                (Ok(a), Ok(b)) => assert!(a == b, "one pass and lazy readings differ:\n{a:?}\n{b:?}"),
                (Err(a), Err(b)) => assert_eq!(a.field, b.field, "{a:?} / {b:?}"),
                _ => panic!("one pass and lazy readings disagree: {decoded:?} / {lazily:?}"),
            }
        }
        // An OpenAI, Anthropic, Gemini or Converse client's body read in one pass reads as it
        // does by `Value` (the reading that names a refused field, and the one the pass leaves
        // the rest to). A legacy completion (bit 6) is read by `Value` only.
        let by_value = match format {
            Format::OpenAi if which & 64 == 0 => Some(formats::openai::request::decode_by_value(body, path_model)),
            Format::Anthropic => Some(formats::anthropic::request::decode_by_value(body, path_model)),
            Format::Gemini => Some(formats::gemini::decode_by_value(body, path_model, which & 32 != 0)),
            Format::Bedrock => Some(formats::bedrock::decode_by_value(body, path_model, which & 32 != 0)),
            _ => None,
        };
        if let Some(by_value) = by_value {
            match (&decoded, &by_value) {
                (Ok(a), Ok(b)) => assert!(a == b, "one pass and reading by Value differ:\n{a:?}\n{b:?}"),
                (Err(a), Err(b)) => assert_eq!(a.field, b.field, "{a:?} / {b:?}"),
                _ => panic!("one pass and reading by Value disagree: {decoded:?} / {by_value:?}"),
            }
        }
        // An OpenAI client's body is also read as a Responses request, and what its answer
        // repeats, read in the same pass, is what `Echo::of` reads from the body after. Read in
        // one pass, both are what the reading by `Value` gives.
        let responses = (format == Format::OpenAi)
            .then(|| {
                let read = formats::openai::responses::decode_request_and_echo(body);
                let by_value = formats::openai::responses::decode_by_value(body, true);
                match (&read, &by_value) {
                    (Ok((a, echo)), Ok((b, Some(again)))) => {
                        assert!(a == b, "Responses one pass and reading by Value differ:\n{a:?}\n{b:?}");
                        assert!(echo.agrees_with(again), "their echoes differ:\n{echo:?}\n{again:?}");
                    }
                    (Err(a), Err(b)) => assert_eq!(a.field, b.field, "{a:?} / {b:?}"),
                    _ => panic!("Responses one pass and reading by Value disagree: {read:?} / {by_value:?}"),
                }
                read.ok()
            })
            .flatten()
            .map(|(req, echo)| {
                let again = formats::openai::responses::Echo::of(&req, body);
                assert!(
                    echo == again,
                    "the echo read with the request differs:\n{echo:?}\n{again:?}"
                );
                req
            });
        // A Cohere client's body is also read as a v1 request; the answer to it repeats its
        // history, spliced from the body, and must stay JSON.
        let v1 = (format == Format::Cohere)
            .then(|| formats::cohere::v1chat::decode_request(body).ok())
            .flatten();
        if v1.is_some() {
            check_cohere_v1_answer(body);
        }
        // A Bedrock client's body is also read as an InvokeModel body of the family its keys
        // name (Claude, Nova, Cohere Command R, Chat Completions).
        let invoke = (format == Format::Bedrock)
            .then(|| formats::bedrock::invoke::decode_invoke_request(body, "model-from-path", which & 32 != 0).ok())
            .flatten();
        for mut req in decoded.ok().into_iter().chain(responses).chain(v1).chain(invoke) {
            // As routing does before any upstream encoder runs.
            req.model = "target-model".into();
            // A chat sent through the Responses API (`chat_via_responses`) is a Responses request
            // that the Responses decoder takes back.
            if let Ok(sent) = formats::openai::responses_upstream::encode_request(&req) {
                if let Err(e) = formats::openai::responses::decode_request(&sent) {
                    panic!(
                        "{format:?} request -> Responses does not decode: {e:?}\n{}",
                        String::from_utf8_lossy(&sent)
                    );
                }
            }
            for f in Format::ALL {
                let c = formats::codec(f).expect("every format has a codec");
                let _ = (c.request_path)(&req.model, req.stream);
                // What the gateway sends an upstream is a request of that format: its own decoder
                // (as strict as the provider's, PROTOCOLS) takes it back.
                if let Ok(sent) = (c.encode_request)(&req) {
                    if let Err(e) = (c.decode_request)(&sent, Some(&req.model), req.stream) {
                        panic!(
                            "{format:?} request -> {f:?} does not decode: {e:?}\n{}",
                            String::from_utf8_lossy(&sent)
                        );
                    }
                }
            }
        }
        return;
    }
    // An OpenAI upstream's answer may be a Responses body (`chat_via_responses`).
    if format == Format::OpenAi {
        let _ = formats::openai::responses_upstream::decode_response(body);
    }
    if let Ok(resp) = (codec.decode_response)(body) {
        for f in Format::ALL {
            let c = formats::codec(f).expect("every format has a codec");
            // What a client gets is an answer of its format: that format's decoder takes it.
            let sent = (c.encode_response)(&resp);
            if let Err(e) = (c.decode_response)(&sent) {
                panic!(
                    "{format:?} answer -> {f:?} does not decode: {e:?}\n{}",
                    String::from_utf8_lossy(&sent)
                );
            }
        }
        let completion = formats::openai::completions::encode_response(&resp);
        assert!(
            sonic_rs::from_slice::<serde::de::IgnoredAny>(&completion).is_ok(),
            "{format:?} answer -> completion is not JSON: {}",
            String::from_utf8_lossy(&completion)
        );
        let req = ChatRequest {
            stream: true,
            include_usage: true,
            ..Default::default()
        };
        let echo = formats::openai::responses::Echo::of(&req, b"{}");
        let response = formats::openai::responses::encode_response(&resp, &echo);
        assert!(
            sonic_rs::from_slice::<serde::de::IgnoredAny>(&response).is_ok(),
            "{format:?} answer -> response is not JSON: {}",
            String::from_utf8_lossy(&response)
        );
        encode_for_every_client(&req, &events_from_response(&resp, 7), false);
    }
    let status = [400, 429, 500, 503][usize::from(which >> 4) & 3];
    let fault = (codec.decode_error)(status, body);
    let err = GatewayError::UpstreamFault(fault);
    for f in Format::ALL {
        let _ = formats::render_error(f, &err);
    }
}

/// The v1 answer to a v1 request `body` (which decoded): JSON, whose `chat_history` ends with the
/// reply after the request's items.
fn check_cohere_v1_answer(body: &[u8]) {
    use crate::canonical::{ChatResponse, Extra, FinishReason, Part, Usage};
    use formats::cohere::v1chat;
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};
    let resp = ChatResponse {
        id: String::new(),
        model: "m".into(),
        content: vec![
            Part::text("a \u{2028} \"b\""),
            Part::ToolCall {
                id: "c".into(),
                name: "f\n".into(),
                arguments: "{\"x\":[1,{".into(),
                signature: None,
                extra: Extra::default(),
            },
        ],
        finish: FinishReason::ToolCalls,
        usage: Usage::default(),
        stop_sequence: None,
        created: 0,
        logprobs: Vec::new(),
    };
    let out = v1chat::encode_response(&resp, &v1chat::History::of(body));
    let v: sonic_rs::Value = sonic_rs::from_slice(&out)
        .unwrap_or_else(|e| panic!("v1 answer is not JSON: {e}: {}", String::from_utf8_lossy(&out)));
    let history = v["chat_history"].as_array().expect("a chat_history array");
    let last = history.last().expect("the reply in the history");
    assert_eq!(last["role"].as_str(), Some("CHATBOT"));
    assert!(
        last["tool_calls"][0]["parameters"].is_object(),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

/// A token-count request (for the formats that have one) read as the client's, then written
/// for every counting provider: each body must read back as that provider's count request with
/// the same number of turns.
fn count_round_trip(format: Format, body: &[u8], path_model: Option<&str>) {
    use crate::formats::count;
    let Ok(mut req) = count::decode_request(format, body, path_model) else {
        return;
    };
    req.model = "anthropic.claude-target".into();
    for target in [Format::Anthropic, Format::Gemini, Format::Bedrock] {
        for vertex in [false, true] {
            let Ok(sent) = count::encode_request(target, &req, vertex) else {
                continue;
            };
            // An empty system text says nothing, and Converse refuses blank text blocks, so
            // the Bedrock encoder drops it: compare what the system prompt says.
            let says = |system: &[crate::canonical::Part]| {
                system
                    .iter()
                    .any(|p| !matches!(p, crate::canonical::Part::Text { text, .. } if text.is_empty()))
            };
            match count::decode_request(target, &sent, Some(&req.model)) {
                Ok(back) => assert_eq!(
                    says(&back.system),
                    says(&req.system),
                    "{format:?} count -> {target:?} lost or invented the system prompt"
                ),
                Err(e) => panic!(
                    "{format:?} count -> {target:?} does not decode: {e:?}\n{}",
                    String::from_utf8_lossy(&sent)
                ),
            }
        }
    }
}

/// Embeddings translation in both directions, of any body; nothing may panic, and whatever
/// goes out must read back in its own format. The first byte picks the format (its low 3 bits,
/// mod 5), the side (bit 3), the Gemini method a Gemini client called (bits 4-5) and, for a
/// Bedrock upstream, the model family (bit 6: Cohere, else Titan).
///
/// - A client's request is decoded; if it decodes, it is encoded for every upstream format (and
///   Vertex), and each body must decode again as that format's request, with the same texts. An
///   answer encoded in the shape the client asked for must decode back to the same vectors.
/// - An upstream's answer is decoded; if it decodes, it is encoded in every client shape, and
///   each must decode back to the same vectors (the single-vector shapes: the first).
pub fn embed(data: &[u8]) {
    use crate::canonical::embed::{EmbedReply, EmbedRequest, EmbedResponse};
    use crate::formats::embed as codec;
    use crate::formats::gemini::ApiMethod;
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    if crate::wire::json::too_deep(body, crate::wire::json::MAX_DEPTH) {
        return;
    }
    let format = Format::ALL[usize::from(which & 7) % Format::ALL.len()];
    let methods = [
        ApiMethod::BatchEmbedContents,
        ApiMethod::EmbedContent,
        ApiMethod::Predict,
    ];
    let method = methods[usize::from(which >> 4 & 3) % methods.len()];
    // The format an answer in this shape is read back with.
    let reader = |reply: &EmbedReply| match reply {
        EmbedReply::OpenAi | EmbedReply::OpenAiBase64 => Format::OpenAi,
        EmbedReply::Cohere { .. } | EmbedReply::CohereV1 { .. } => Format::Cohere,
        EmbedReply::GeminiSingle | EmbedReply::GeminiBatch | EmbedReply::VertexPredict => Format::Gemini,
        EmbedReply::Titan { .. } | EmbedReply::BedrockCohere { .. } => Format::Bedrock,
    };
    let one_vector = |reply: &EmbedReply| matches!(reply, EmbedReply::GeminiSingle | EmbedReply::Titan { .. });
    let round_trip = |resp: &EmbedResponse, req: &EmbedRequest| {
        if resp.vectors.is_empty() {
            return;
        }
        let out = codec::encode_response(resp, req);
        let back = codec::decode_response(reader(&req.reply), &out).unwrap_or_else(|e| {
            panic!(
                "answer for {:?} does not decode: {e:?}\n{}",
                req.reply,
                String::from_utf8_lossy(&out)
            )
        });
        // A Titan v2 client gets unit vectors unless it said `normalize: false`.
        let unit = matches!(req.reply, EmbedReply::Titan { by_type: true }) && req.normalize != Some(false);
        let want: Vec<Vec<f32>> = match (one_vector(&req.reply), unit) {
            (true, true) => vec![crate::canonical::embed::unit_length(&resp.vectors[0])],
            (true, false) => resp.vectors[..1].to_vec(),
            (false, _) => resp.vectors.clone(),
        };
        assert_eq!(
            back.vectors, want,
            "vectors changed on the way to a {:?} client",
            req.reply
        );
    };
    if which & 8 == 0 {
        // Bit 7: a Cohere client on the v1 API.
        let Ok(mut req) = codec::decode_request(format, body, Some("model-from-path"), Some(method), which & 128 != 0)
        else {
            return;
        };
        for target in Format::ALL {
            for vertex in [false, true] {
                req.model = match (target, which & 64 != 0) {
                    (Format::Bedrock, true) => "cohere.embed-v4:0",
                    (Format::Bedrock, false) => "amazon.titan-embed-text-v2:0",
                    _ => "target-model",
                }
                .to_string();
                let Ok(calls) = codec::encode_request(target, &req, vertex) else {
                    continue;
                };
                let _ = codec::request_path(target, &req.model, vertex);
                let as_sent = if vertex {
                    ApiMethod::Predict
                } else {
                    ApiMethod::BatchEmbedContents
                };
                let mut texts = Vec::new();
                for call in &calls {
                    match codec::decode_request(target, &call.body, Some(&req.model), Some(as_sent), false) {
                        Ok(sent) => {
                            assert_eq!(sent.texts.len(), call.texts, "{format:?} -> {target:?}: a call's count");
                            texts.extend(sent.texts)
                        }
                        Err(e) => panic!(
                            "{format:?} embeddings request -> {target:?} does not decode: {e:?}\n{}",
                            String::from_utf8_lossy(&call.body)
                        ),
                    }
                }
                assert_eq!(texts, req.texts, "{format:?} -> {target:?} changed the texts");
            }
        }
        let resp = EmbedResponse {
            vectors: req
                .texts
                .iter()
                .map(|t| crate::mock::openai::embed(t, 1 + t.len() % 5))
                .collect(),
            input_tokens: Some(req.texts.len() as u64),
            ..Default::default()
        };
        round_trip(&resp, &req);
        return;
    }
    let Ok(resp) = codec::decode_response(format, body) else {
        return;
    };
    let n = resp.vectors.len();
    for reply in [
        EmbedReply::OpenAi,
        EmbedReply::OpenAiBase64,
        EmbedReply::Cohere {
            float: true,
            base64: true,
        },
        EmbedReply::Cohere {
            float: false,
            base64: true,
        },
        EmbedReply::CohereV1 {
            by_type: false,
            float: true,
            base64: false,
        },
        EmbedReply::CohereV1 {
            by_type: true,
            float: true,
            base64: true,
        },
        EmbedReply::GeminiSingle,
        EmbedReply::GeminiBatch,
        EmbedReply::VertexPredict,
        EmbedReply::Titan { by_type: true },
        EmbedReply::BedrockCohere { by_type: false },
        EmbedReply::BedrockCohere { by_type: true },
    ] {
        let req = EmbedRequest {
            texts: vec!["t".to_string(); n],
            reply,
            ..Default::default()
        };
        round_trip(&resp, &req);
    }
}

/// Cuts `input` into pieces as a socket might deliver it: whole, in two at `cut`, one byte at a
/// time (short inputs), and in pseudo-random lengths (1 to 64 bytes, or to an eighth of a long
/// input) seeded by `cut`.
fn splits(input: &[u8], cut: usize) -> Vec<Vec<&[u8]>> {
    let mut out = vec![vec![input]];
    let (a, b) = input.split_at(cut.min(input.len()));
    out.push(vec![a, b]);
    if input.len() <= 1024 {
        out.push(input.chunks(1).collect());
    }
    let mut seed = (cut as u64) | 1 << 32;
    let mut rest = input;
    let mut pieces = Vec::new();
    // About 16 pieces at most: a head is parsed again from its start after every read.
    let longest = (input.len() / 8).max(64);
    while !rest.is_empty() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let (p, r) = rest.split_at((1 + seed as usize % longest).min(rest.len()));
        pieces.push(p);
        rest = r;
    }
    out.push(pieces);
    out
}

/// One request as the handler would see it: method, target, headers, body, HTTP/1.0, keep-alive.
type SeenRequest = (&'static str, Bytes, Vec<(String, Vec<u8>)>, Bytes, bool, bool);

/// Everything a connection's requests gave, and how the connection ended (`None`: cleanly,
/// between requests).
type RequestOutcome = (Vec<SeenRequest>, Option<String>);

/// Drives the server's request reader (`read_request`'s parsing half) over `pieces`, as
/// `serve_conn` does: request after request until one asks to close, an error, or the end of
/// the input (the client's close).
fn request_run(limits: crate::http::Limits, pieces: &[&[u8]]) -> RequestOutcome {
    use crate::http::request::{RequestReader, Step};
    let mut rbuf = bytes::BytesMut::new();
    let mut next = pieces.iter().filter(|p| !p.is_empty());
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let mut seen = Vec::new();
    let mut reader = RequestReader::new(limits);
    let mut continues = 0;
    loop {
        let step = reader.step(&mut rbuf);
        // Memory follows what arrived, plus the one up-front reservation for a declared body.
        assert!(
            rbuf.capacity() <= 2 * total + limits.max_body_bytes + 4096,
            "read buffer grew to {} for {total} bytes in",
            rbuf.capacity()
        );
        match step {
            Ok(Step::Done(req)) => {
                assert!(req.head_len() <= limits.max_head_bytes, "head over the limit");
                assert!(req.body.len() <= limits.max_body_bytes, "body over the limit");
                assert!(continues <= 1, "100 Continue sent {continues} times");
                if continues == 1 {
                    assert!(req.header("expect").is_some(), "100 Continue without Expect");
                }
                if let Some(n) = req.header("content-length") {
                    let n = crate::http::request::parse_content_length(n);
                    assert_eq!(n, Some(req.body.len()), "body is not Content-Length long");
                }
                let target = req.target_bytes();
                assert_eq!(req.target().as_bytes(), &target[..], "target() lost the target");
                let headers = req.headers().map(|(n, v)| (n.to_string(), v.to_vec())).collect();
                let keep_alive = req.keep_alive;
                seen.push((req.method.as_str(), target, headers, req.body, req.http10, keep_alive));
                continues = 0;
                if !keep_alive {
                    return (seen, None);
                }
            }
            Ok(Step::SendContinue) => continues += 1,
            Ok(Step::NeedMore) => match next.next() {
                Some(p) => rbuf.extend_from_slice(p),
                None if reader.in_head() && rbuf.is_empty() => return (seen, None),
                None => return (seen, Some("closed mid-request".into())),
            },
            Err(e) => return (seen, Some(format!("{e:?}"))),
        }
    }
}

/// HTTP/1.1 request heads and bodies, as a client sends them on one connection (pipelined
/// requests, Content-Length and chunked bodies, trailers, Expect: 100-continue, keep-alive).
/// The first byte picks the limits (bit 0: a 1 KiB head limit, else 64 KiB; bit 1: a 4 KiB
/// body limit, else 1 MiB), the second the split point.
///
/// Whatever the split, the requests and the outcome are the same; no head or body exceeds its
/// limit; a Content-Length body is exactly that long; `100 Continue` goes out at most once per
/// request, and only when asked for; the read buffer stays in proportion to the input.
pub fn http_request(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let limits = crate::http::Limits {
        max_head_bytes: if which & 1 != 0 { 1024 } else { 64 * 1024 },
        max_body_bytes: if which & 2 != 0 { 4096 } else { 1 << 20 },
        ..Default::default()
    };
    let (cut, input) = split_point(rest);
    let mut all = splits(input, cut).into_iter();
    let whole = request_run(limits, &all.next().unwrap_or_default());
    for pieces in all {
        assert_eq!(whole, request_run(limits, &pieces), "{} pieces", pieces.len());
    }
}

/// A response as the gateway takes it: status, headers, keep-alive, the body's bytes, how it
/// ended (`None`: complete), and what `read_all` made of the body (its length, or its error).
type ResponseOutcome = (
    Option<(u16, Vec<(String, Vec<u8>)>, bool)>,
    Vec<u8>,
    Option<String>,
    Result<usize, String>,
);

/// Drives the upstream client's head parser and body decoder (`exchange`'s and `BodyReader`'s
/// parsing halves) over `pieces`, then the end of the input (the upstream's close).
fn response_run(head_request: bool, limit: usize, pieces: &[&[u8]]) -> ResponseOutcome {
    use crate::upstream::client::{take_response_head, Buffered, Collect, Framing};
    let mut rbuf = bytes::BytesMut::new();
    let mut next = pieces.iter().filter(|p| !p.is_empty());
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let (status, head, spans, mut framing, keep_alive) = loop {
        match take_response_head(&mut rbuf, head_request) {
            Ok(Some(h)) => break h,
            Ok(None) => match next.next() {
                Some(p) => rbuf.extend_from_slice(p),
                None => return (None, Vec::new(), Some("Closed".into()), Err("no body".into())),
            },
            Err(e) => return (None, Vec::new(), Some(e.to_string()), Err("no body".into())),
        }
    };
    assert!(head.len() <= 64 * 1024, "response head of {} bytes", head.len());
    let headers: Vec<(String, Vec<u8>)> = spans
        .iter()
        .map(|(n, v)| {
            let name = &head[n.start as usize..n.end as usize];
            (
                String::from_utf8_lossy(name).into_owned(),
                head[v.start as usize..v.end as usize].to_vec(),
            )
        })
        .collect();
    let declared = match framing {
        Framing::Length(n) => Some(n),
        _ => None,
    };
    let mut body = Vec::new();
    let mut all = Collect::new(limit);
    let mut all_err = None;
    let end = loop {
        // Memory follows what arrived: nothing is reserved ahead of the bytes.
        assert!(
            rbuf.capacity() <= 2 * total + 4096,
            "read buffer of {}",
            rbuf.capacity()
        );
        match framing.decode(&mut rbuf) {
            Ok(Buffered::Piece(b)) => {
                assert!(!b.is_empty(), "an empty piece");
                body.extend_from_slice(&b);
                if all_err.is_none() {
                    all_err = all.push(b).err().map(|e| e.to_string());
                }
                if let Some(n) = declared {
                    assert!(body.len() <= n, "body longer than its Content-Length");
                }
            }
            Ok(Buffered::End) => break None,
            Ok(Buffered::NeedMore) => match next.next() {
                Some(p) => rbuf.extend_from_slice(p),
                None if framing.ends_at_close() => break None,
                None => break Some("Truncated".to_string()),
            },
            Err(e) => break Some(e.to_string()),
        }
    };
    if end.is_none() {
        if let Some(n) = declared {
            assert_eq!(body.len(), n, "a complete body is its Content-Length long");
        }
    }
    let collected = match all_err {
        Some(e) => Err(e),
        None => {
            let b = all.finish();
            assert!(
                b.len() <= limit,
                "read_all gave {} bytes over a limit of {limit}",
                b.len()
            );
            assert_eq!(b, body, "read_all changed the body");
            Ok(b.len())
        }
    };
    (Some((status, headers, keep_alive)), body, end, collected)
}

/// HTTP/1.1 responses from an upstream: status line, 1xx heads before the answer, the 64 KiB
/// head limit, Content-Length, chunked bodies (extensions, trailers), bodies that end at the
/// close. The first byte picks the request method (bit 0: HEAD) and `read_all`'s limit (bits
/// 1-2: 16 B, 256 B, 4 KiB or 1 MiB), the second the split point.
///
/// Whatever the split, the head, the body's bytes, how it ended and `read_all`'s result are the
/// same; no head exceeds 64 KiB; a body is never longer than its Content-Length, and exactly that
/// long when complete; `read_all` gives the body itself, never over its limit.
pub fn upstream_response(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let head_request = which & 1 != 0;
    let limit = [16, 256, 4096, 1 << 20][usize::from(which >> 1 & 3)];
    let (cut, input) = split_point(rest);
    let mut all = splits(input, cut).into_iter();
    let whole = response_run(head_request, limit, &all.next().unwrap_or_default());
    for pieces in all {
        assert_eq!(
            whole,
            response_run(head_request, limit, &pieces),
            "{} pieces",
            pieces.len()
        );
    }
}
