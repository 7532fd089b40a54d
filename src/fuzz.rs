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

fn stream_run(format: Format, pieces: &[&[u8]]) -> (Vec<StreamEvent>, Result<(), StreamError>) {
    let mut d: Box<dyn StreamDecode> = formats::stream_decoder(format);
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
    let format = Format::ALL[which as usize % Format::ALL.len()];
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
    // Gemini's JSON-array form: whatever came, the whole answer is one valid JSON array.
    let mut array = formats::gemini::stream::GeminiStreamEncoder::json_array(req);
    encode_stream(&mut array, events, failed, &mut out);
    let parsed: Result<Vec<serde::de::IgnoredAny>, _> = sonic_rs::from_slice(&out);
    assert!(parsed.is_ok(), "not a JSON array: {}", String::from_utf8_lossy(&out));
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
///   Bedrock's routes give it; bit 5: a stream route) is decoded as that format's request and,
///   if it decodes, encoded for every upstream format; each encoding must decode again.
/// - An upstream's answer (bit 3 set) is decoded as that format's response and, if it decodes,
///   encoded for every client format, as a body (which must decode again) and as a stream. The same bytes are also read
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
        let Ok(mut req) = (codec.decode_request)(body, path_model, which & 32 != 0) else {
            return;
        };
        // As routing does before any upstream encoder runs.
        req.model = "target-model".into();
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
        return;
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
        let req = ChatRequest {
            stream: true,
            include_usage: true,
            ..Default::default()
        };
        encode_for_every_client(&req, &events_from_response(&resp, 7), false);
    }
    let status = [400, 429, 500, 503][usize::from(which >> 4) & 3];
    let fault = (codec.decode_error)(status, body);
    let err = GatewayError::UpstreamFault(fault);
    for f in Format::ALL {
        let _ = formats::render_error(f, &err);
    }
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
            match count::decode_request(target, &sent, Some(&req.model)) {
                Ok(back) => assert_eq!(
                    back.system.is_empty(),
                    req.system.is_empty(),
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
        EmbedReply::Cohere { .. } => Format::Cohere,
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
        let want = if one_vector(&req.reply) {
            &resp.vectors[..1]
        } else {
            &resp.vectors[..]
        };
        assert_eq!(
            back.vectors, want,
            "vectors changed on the way to a {:?} client",
            req.reply
        );
    };
    if which & 8 == 0 {
        let Ok(mut req) = codec::decode_request(format, body, Some("model-from-path"), Some(method)) else {
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
                let Ok(bodies) = codec::encode_request(target, &req, vertex) else {
                    continue;
                };
                let _ = codec::request_path(target, &req.model, vertex);
                let as_sent = if vertex {
                    ApiMethod::Predict
                } else {
                    ApiMethod::BatchEmbedContents
                };
                let mut texts = Vec::new();
                for b in &bodies {
                    match codec::decode_request(target, b, Some(&req.model), Some(as_sent)) {
                        Ok(sent) => texts.extend(sent.texts),
                        Err(e) => panic!(
                            "{format:?} embeddings request -> {target:?} does not decode: {e:?}\n{}",
                            String::from_utf8_lossy(b)
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
