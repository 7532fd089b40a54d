//! InvokeModel bodies of the text-completion model families (PROTOCOLS 5.5): a `prompt` string
//! (Titan: `inputText`) and sampling settings in, generated text out.
//! - Meta Llama: `{prompt, max_gen_len, temperature, top_p, images}` -> `{generation,
//!   prompt_token_count, generation_token_count, stop_reason}` (`images`, base64, for Llama 3.2
//!   Vision and Llama 4: each stands at its `<|image|>` marker in the prompt);
//! - Mistral (7B, Mixtral, Large 2402): `{prompt, max_tokens, stop, temperature, top_p, top_k}`
//!   -> `{outputs: [{text, stop_reason}]}`;
//! - Amazon Titan Text: `{inputText, textGenerationConfig: {maxTokenCount, stopSequences,
//!   temperature, topP}}` -> `{inputTextTokenCount, results: [{tokenCount, outputText,
//!   completionReason}]}`;
//! - DeepSeek-R1: `{prompt, max_tokens, stop, temperature, top_p}` -> `{choices: [{text,
//!   stop_reason}]}`.
//!
//! A chat provider needs messages, so the prompt is read back into the conversation its chat
//! template wrote (`parse_prompt`): Llama 3's header tokens, Llama 2's and Mistral's `[INST]`
//! blocks with an optional `<<SYS>>` system prompt, or DeepSeek's `<｜User｜>` / `<｜Assistant｜>`
//! markers; a Titan prompt's `User:` / `Bot:` lines (`titan`). A prompt in no template is one
//! user message. The answer's text is the generation; tool calls cannot be expressed (the
//! formats have no tools, so a request never offers any), and reasoning is not part of it.

use crate::canonical::stream::{StreamEncode, StreamEvent};
use crate::canonical::{
    ChatRequest, ChatResponse, ConvertError, FinishReason, ImageSource, Message, Part, Role, Usage,
};
use serde::{Deserialize, Serialize};

/// A text-completion family (a subset of `invoke::InvokeFamily`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptFamily {
    Llama,
    Mistral,
    TitanText,
    DeepSeek,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PromptBody {
    prompt: Option<String>,
    #[serde(rename = "inputText")]
    input_text: Option<String>,
    #[serde(rename = "textGenerationConfig")]
    titan: Option<TitanConfig>,
    max_gen_len: Option<u32>,
    max_tokens: Option<u32>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<u32>,
    stop: Option<Vec<String>>,
    /// Llama 3.2 Vision and Llama 4: base64 images for the prompt's `<|image|>` markers.
    images: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TitanConfig {
    #[serde(rename = "maxTokenCount")]
    max_token_count: Option<u32>,
    #[serde(rename = "stopSequences")]
    stop_sequences: Option<Vec<String>>,
    temperature: Option<f64>,
    #[serde(rename = "topP")]
    top_p: Option<f64>,
}

/// A prompt body -> canonical: the conversation read from the prompt, and the settings.
pub fn decode_request(
    family: PromptFamily,
    body: &[u8],
    model: &str,
    stream: bool,
) -> Result<ChatRequest, ConvertError> {
    let b: PromptBody = sonic_rs::from_slice(body)
        .map_err(|e| ConvertError::new("", format!("not a {family:?} body: {}", crate::wire::json::brief(&e))))?;
    let (field, prompt) = match family {
        PromptFamily::TitanText => ("inputText", b.input_text),
        _ => ("prompt", b.prompt),
    };
    let prompt = prompt
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| ConvertError::new(field, "required"))?;
    let (system, mut messages) = match family {
        PromptFamily::TitanText => titan(&prompt).unwrap_or_else(|| parse_prompt(&prompt)),
        _ => parse_prompt(&prompt),
    };
    if let Some(images) = b.images.filter(|i| !i.is_empty()) {
        if family != PromptFamily::Llama {
            return Err(ConvertError::new(
                "images",
                format!("{family:?} models take no images (Llama 3.2 Vision and Llama 4 do)"),
            ));
        }
        place_images(&mut messages, images)?;
    }
    let mut req = ChatRequest {
        model: model.to_string(),
        stream,
        include_usage: true,
        system,
        messages,
        ..Default::default()
    };
    match family {
        PromptFamily::Llama => {
            req.max_tokens = b.max_gen_len;
            (req.temperature, req.top_p) = (b.temperature, b.top_p);
        }
        PromptFamily::Mistral | PromptFamily::DeepSeek => {
            req.max_tokens = b.max_tokens;
            (req.temperature, req.top_p, req.top_k) = (b.temperature, b.top_p, b.top_k);
            req.stop = b.stop.unwrap_or_default();
        }
        PromptFamily::TitanText => {
            let c = b.titan.unwrap_or_default();
            req.max_tokens = c.max_token_count;
            (req.temperature, req.top_p) = (c.temperature, c.top_p);
            req.stop = c.stop_sequences.unwrap_or_default();
        }
    }
    if req.max_tokens == Some(0) {
        // No room for an answer: refused as for every other client (`canonical::token_limit`).
        let field = match family {
            PromptFamily::Llama => "max_gen_len",
            PromptFamily::Mistral | PromptFamily::DeepSeek => "max_tokens",
            PromptFamily::TitanText => "textGenerationConfig.maxTokenCount",
        };
        crate::canonical::token_limit(0, &crate::canonical::JsonPath::ROOT.key(field))?;
    }
    Ok(req)
}

/// Where a Llama prompt puts an image of the body's `images`.
const IMAGE_MARKER: &str = "<|image|>";

/// Puts a Llama body's `images` where the prompt's user turns have their `<|image|>` markers, in
/// order (the markers leave the text). A prompt without markers gets them at the start of its
/// last user turn, where Meta's guide puts the one marker. So no image is dropped, or taken for
/// another: a different number of markers and images is refused.
fn place_images(messages: &mut [Message], images: Vec<String>) -> Result<(), ConvertError> {
    let count = images.len();
    let mut sources = Vec::with_capacity(count);
    for (i, data) in images.into_iter().enumerate() {
        sources.push(
            image_source(data).ok_or_else(|| {
                ConvertError::new(format!("images[{i}]"), "not a base64 PNG, JPEG, GIF or WebP image")
            })?,
        );
    }
    let is_user = |m: &&mut Message| m.role == Role::User;
    let markers: usize = messages
        .iter()
        .filter(|m| m.role == Role::User)
        .flat_map(|m| &m.content)
        .map(|p| match p {
            Part::Text { text, .. } => text.matches(IMAGE_MARKER).count(),
            _ => 0,
        })
        .sum();
    let image = |source| Part::Image {
        source,
        extra: Default::default(),
    };
    if markers == 0 {
        let last = messages
            .iter_mut()
            .rev()
            .find(is_user)
            .ok_or_else(|| ConvertError::new("prompt", "has no user turn for the images"))?;
        last.content.splice(0..0, sources.into_iter().map(image));
        return Ok(());
    }
    if markers != count {
        return Err(ConvertError::new(
            "images",
            format!("{count} image(s) for {markers} {IMAGE_MARKER} marker(s) in the prompt"),
        ));
    }
    let mut sources = sources.into_iter();
    for m in messages.iter_mut().filter(is_user) {
        let parts = std::mem::take(&mut m.content);
        for part in parts {
            match part {
                Part::Text { text, .. } if text.contains(IMAGE_MARKER) => {
                    for (k, piece) in text.split(IMAGE_MARKER).enumerate() {
                        if k > 0 {
                            m.content.extend(sources.next().map(image));
                        }
                        let piece = piece.trim();
                        if !piece.is_empty() {
                            m.content.push(Part::text(piece));
                        }
                    }
                }
                other => m.content.push(other),
            }
        }
    }
    Ok(())
}

/// An `images` entry: bare base64 (as Bedrock takes it) whose first bytes name the image type, or
/// a `data:` URL.
fn image_source(data: String) -> Option<ImageSource> {
    if let Some((media_type, data)) = crate::canonical::parse_data_url(&data) {
        return Some(ImageSource::Base64 { media_type, data });
    }
    // 16 base64 characters are the first 12 bytes: enough for every signature below.
    let head = crate::wire::base64::decode(data.get(..data.len().min(16) & !3)?)?;
    let media_type = if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if head.starts_with(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        "image/gif"
    } else if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        "image/webp"
    } else {
        return None;
    };
    Some(ImageSource::Base64 {
        media_type: media_type.into(),
        data,
    })
}

/// The system prompt and messages a chat template wrote into `prompt`. An empty assistant
/// header at the end (where the template asks the model to go on) adds nothing; text after it
/// is an assistant turn to continue.
pub fn parse_prompt(prompt: &str) -> (Vec<Part>, Vec<Message>) {
    if prompt.contains("<|start_header_id|>") {
        return llama3(prompt);
    }
    if prompt.contains("[INST]") {
        return inst(prompt);
    }
    if prompt.contains(DEEPSEEK_USER) {
        return deepseek(prompt);
    }
    (Vec::new(), vec![turn(Role::User, prompt.trim())])
}

fn turn(role: Role, text: &str) -> Message {
    Message {
        role,
        content: vec![Part::text(text)],
    }
}

/// Appends `text` as a `role` turn (merged into the last one of the same role, as chat APIs
/// want turns to alternate).
fn push(messages: &mut Vec<Message>, role: Role, text: &str) {
    if text.is_empty() {
        return;
    }
    match messages.last_mut() {
        Some(m) if m.role == role => m.content.push(Part::text(text)),
        _ => messages.push(turn(role, text)),
    }
}

/// Llama 3: `<|begin_of_text|>` then `<|start_header_id|>ROLE<|end_header_id|>\n\nTEXT<|eot_id|>`
/// per turn (`system`, `user`, `assistant`, and `ipython` for tool output, read as user text).
fn llama3(prompt: &str) -> (Vec<Part>, Vec<Message>) {
    let (mut system, mut messages) = (Vec::new(), Vec::new());
    for section in prompt.split("<|start_header_id|>").skip(1) {
        let Some((role, rest)) = section.split_once("<|end_header_id|>") else {
            continue;
        };
        let text = rest.split("<|eot_id|>").next().unwrap_or_default().trim();
        match role.trim() {
            "system" if !text.is_empty() => system.push(Part::text(text)),
            "assistant" => push(&mut messages, Role::Assistant, text),
            _ => push(&mut messages, Role::User, text),
        }
    }
    (system, messages)
}

/// Llama 2 and Mistral: `<s>[INST] <<SYS>>\nSYSTEM\n<</SYS>>\n\nUSER [/INST] ANSWER </s>` per
/// exchange; the last `[/INST]` has no answer yet (or a start to continue). A `<<SYS>>` block
/// may also stand before the first `[INST]` (LangChain writes Mistral prompts that way).
fn inst(prompt: &str) -> (Vec<Part>, Vec<Message>) {
    let (mut system, mut messages) = (Vec::new(), Vec::new());
    let mut blocks = prompt.split("[INST]");
    let before = blocks.next().unwrap_or_default();
    push(&mut messages, Role::User, &without_system(before, &mut system));
    for block in blocks {
        let (user, answer) = block.split_once("[/INST]").unwrap_or((block, ""));
        push(&mut messages, Role::User, &without_system(user, &mut system));
        push(&mut messages, Role::Assistant, &clean(answer));
    }
    (system, messages)
}

/// Amazon Titan Text's conversational form, `User: <prompt>\nBot:` in Bedrock's guide: a line
/// that opens with `User:` or `Bot:` starts a turn, and text before the first turn is the
/// instructions (system). `None` unless both labels open a line: such a prompt is not a
/// conversation.
fn titan(prompt: &str) -> Option<(Vec<Part>, Vec<Message>)> {
    let opens = |label: &str| prompt.lines().any(|l| l.trim_start().starts_with(label));
    if !(opens("User:") && opens("Bot:")) {
        return None;
    }
    let (mut system, mut messages) = (Vec::new(), Vec::new());
    let mut end_turn = |role: Option<Role>, text: &str| match role {
        None if !text.trim().is_empty() => system.push(Part::text(text.trim())),
        None => {}
        Some(role) => push(&mut messages, role, text.trim()),
    };
    let (mut role, mut text) = (None, String::new());
    for line in prompt.split_inclusive('\n') {
        let opened = line.trim_start();
        let next = match (opened.strip_prefix("User:"), opened.strip_prefix("Bot:")) {
            (Some(rest), _) => Some((Role::User, rest)),
            (_, Some(rest)) => Some((Role::Assistant, rest)),
            _ => None,
        };
        match next {
            Some((next_role, rest)) => {
                end_turn(role, &text);
                role = Some(next_role);
                text = rest.to_string();
            }
            None => text.push_str(line),
        }
    }
    end_turn(role, &text);
    Some((system, messages))
}

const DEEPSEEK_USER: &str = "<\u{ff5c}User\u{ff5c}>";
const DEEPSEEK_ASSISTANT: &str = "<\u{ff5c}Assistant\u{ff5c}>";
const DEEPSEEK_MARKERS: [&str; 2] = [
    "<\u{ff5c}begin\u{2581}of\u{2581}sentence\u{ff5c}>",
    "<\u{ff5c}end\u{2581}of\u{2581}sentence\u{ff5c}>",
];

/// DeepSeek: `<｜begin▁of▁sentence｜>SYSTEM<｜User｜>USER<｜Assistant｜>ANSWER<｜end▁of▁sentence｜>`
/// per exchange, the last `<｜Assistant｜>` followed by nothing or by the `<think>` the guide
/// opens the reasoning with.
fn deepseek(prompt: &str) -> (Vec<Part>, Vec<Message>) {
    let (mut system, mut messages) = (Vec::new(), Vec::new());
    let clean = |t: &str| {
        let mut t = t.to_string();
        for m in DEEPSEEK_MARKERS {
            t = t.replace(m, "");
        }
        let t = t.trim();
        t.strip_suffix("<think>").unwrap_or(t).trim().to_string()
    };
    let mut turns = prompt.split(DEEPSEEK_USER);
    let before = clean(turns.next().unwrap_or_default());
    if !before.is_empty() {
        system.push(Part::text(before));
    }
    for turn in turns {
        let (user, answer) = turn.split_once(DEEPSEEK_ASSISTANT).unwrap_or((turn, ""));
        push(&mut messages, Role::User, &clean(user));
        push(&mut messages, Role::Assistant, &clean(answer));
    }
    (system, messages)
}

/// `text` without its `<<SYS>> ... <</SYS>>` block, whose content goes to `system`, and
/// without sequence markers.
fn without_system(text: &str, system: &mut Vec<Part>) -> String {
    let mut text = text.to_string();
    if let (Some(a), Some(b)) = (text.find("<<SYS>>"), text.find("<</SYS>>")) {
        if a < b {
            let inner = text[a + "<<SYS>>".len()..b].trim();
            if !inner.is_empty() {
                system.push(Part::text(inner));
            }
            text.replace_range(a..b + "<</SYS>>".len(), "");
        }
    }
    clean(&text)
}

/// `text` without the `<s>` / `</s>` sequence markers, trimmed.
fn clean(text: &str) -> String {
    text.replace("<s>", "").replace("</s>", "").trim().to_string()
}

/// The answer's generated text: its text parts, in order.
fn generated(resp: &ChatResponse) -> String {
    let mut text = String::new();
    for p in &resp.content {
        if let Part::Text { text: t, .. } = p {
            text.push_str(t);
        }
    }
    text
}

/// The family's stop reason for `finish`. Titan's are those its guide lists (a whole answer
/// says `FINISH`, as the service sends it, where the guide writes `FINISHED`).
fn stop_reason(family: PromptFamily, finish: &FinishReason) -> &'static str {
    match (family, finish) {
        (PromptFamily::TitanText, FinishReason::Length) => "LENGTH",
        (PromptFamily::TitanText, FinishReason::ContentFilter) => "CONTENT_FILTERED",
        (PromptFamily::TitanText, FinishReason::StopSequence) => "STOP_CRITERIA_MET",
        (PromptFamily::TitanText, _) => "FINISH",
        (_, FinishReason::Length) => "length",
        _ => "stop",
    }
}

#[derive(Serialize)]
struct LlamaOut<'a> {
    generation: &'a str,
    prompt_token_count: Option<u64>,
    generation_token_count: u64,
    stop_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct MistralOut<'a> {
    outputs: [MistralOutput<'a>; 1],
}

#[derive(Serialize)]
struct MistralOutput<'a> {
    text: &'a str,
    stop_reason: Option<&'static str>,
}

/// DeepSeek's answer and stream chunk alike.
#[derive(Serialize)]
struct DeepSeekOut<'a> {
    choices: [MistralOutput<'a>; 1],
}

#[derive(Serialize)]
struct TitanOut<'a> {
    #[serde(rename = "inputTextTokenCount")]
    input_text_token_count: u64,
    results: [TitanResult<'a>; 1],
}

#[derive(Serialize)]
struct TitanResult<'a> {
    #[serde(rename = "tokenCount")]
    token_count: u64,
    #[serde(rename = "outputText")]
    output_text: &'a str,
    #[serde(rename = "completionReason")]
    completion_reason: &'static str,
}

/// Titan's stream chunk.
#[derive(Serialize)]
struct TitanChunk<'a> {
    #[serde(rename = "outputText")]
    output_text: &'a str,
    index: u32,
    #[serde(rename = "totalOutputTextTokenCount")]
    total_output_text_token_count: u64,
    #[serde(rename = "completionReason")]
    completion_reason: Option<&'static str>,
    #[serde(rename = "inputTextTokenCount")]
    input_text_token_count: Option<u64>,
}

/// Canonical -> the family's InvokeModel answer.
pub fn encode_response(family: PromptFamily, resp: &ChatResponse) -> Vec<u8> {
    let text = generated(resp);
    let reason = stop_reason(family, &resp.finish);
    let u = &resp.usage;
    // Serializing these borrowed structs into a Vec cannot fail.
    match family {
        PromptFamily::Llama => sonic_rs::to_vec(&LlamaOut {
            generation: &text,
            prompt_token_count: Some(u.input),
            generation_token_count: u.output,
            stop_reason: Some(reason),
        }),
        PromptFamily::Mistral => sonic_rs::to_vec(&MistralOut {
            outputs: [MistralOutput {
                text: &text,
                stop_reason: Some(reason),
            }],
        }),
        PromptFamily::DeepSeek => sonic_rs::to_vec(&DeepSeekOut {
            choices: [MistralOutput {
                text: &text,
                stop_reason: Some(reason),
            }],
        }),
        PromptFamily::TitanText => sonic_rs::to_vec(&TitanOut {
            input_text_token_count: u.input,
            results: [TitanResult {
                token_count: u.output,
                output_text: &text,
                completion_reason: reason,
            }],
        }),
    }
    .unwrap_or_default()
}

/// Canonical stream events -> the family's stream events, one JSON line each (framed into
/// `chunk`s by `invoke_stream::NativeChunks`): one per text delta, then one with the stop reason
/// at the end. Token counts are the usage's when the upstream has reported it; before that, the
/// number of text pieces so far (each streamed piece is about a token).
pub struct PromptLines {
    family: PromptFamily,
    usage: Option<Usage>,
    pieces: u64,
    reason: Option<&'static str>,
    /// Whether the input count went out (Llama and Titan give it once, on the first chunk).
    input_sent: bool,
}

impl PromptLines {
    pub fn new(family: PromptFamily) -> Self {
        Self {
            family,
            usage: None,
            pieces: 0,
            reason: None,
            input_sent: false,
        }
    }

    fn line(&mut self, text: &str, reason: Option<&'static str>, out: &mut Vec<u8>) {
        let output = self.usage.map_or(self.pieces, |u| u.output.max(self.pieces));
        let input = match self.input_sent {
            true => None,
            false => self.usage.map(|u| u.input),
        };
        self.input_sent |= input.is_some();
        let _ = match self.family {
            PromptFamily::Llama => sonic_rs::to_writer(
                &mut *out,
                &LlamaOut {
                    generation: text,
                    prompt_token_count: input,
                    generation_token_count: output,
                    stop_reason: reason,
                },
            ),
            PromptFamily::Mistral => sonic_rs::to_writer(
                &mut *out,
                &MistralOut {
                    outputs: [MistralOutput {
                        text,
                        stop_reason: reason,
                    }],
                },
            ),
            PromptFamily::DeepSeek => sonic_rs::to_writer(
                &mut *out,
                &DeepSeekOut {
                    choices: [MistralOutput {
                        text,
                        stop_reason: reason,
                    }],
                },
            ),
            PromptFamily::TitanText => sonic_rs::to_writer(
                &mut *out,
                &TitanChunk {
                    output_text: text,
                    index: 0,
                    total_output_text_token_count: output,
                    completion_reason: reason,
                    input_text_token_count: input,
                },
            ),
        };
        out.push(b'\n');
    }
}

impl StreamEncode for PromptLines {
    fn content_type(&self) -> &'static str {
        "application/json"
    }

    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            StreamEvent::TextDelta { text, .. } if !text.is_empty() => {
                self.pieces += 1;
                self.line(text, None, out);
            }
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Finish { reason, .. } => self.reason = Some(stop_reason(self.family, reason)),
            // Tools, reasoning and log probabilities have no place in a generation.
            _ => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        let reason = self
            .reason
            .unwrap_or_else(|| stop_reason(self.family, &FinishReason::Stop));
        self.line("", Some(reason), out);
    }

    /// `NativeChunks` writes the exception frame; nothing is written here.
    fn error(&mut self, _status: u16, _message: &str, _out: &mut Vec<u8>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::stream::testing::sample_response;

    fn texts(parts: &[Part]) -> Vec<&str> {
        parts
            .iter()
            .map(|p| match p {
                Part::Text { text, .. } => text.as_str(),
                _ => "?",
            })
            .collect()
    }

    fn roles_and_texts(messages: &[Message]) -> Vec<(Role, Vec<&str>)> {
        messages.iter().map(|m| (m.role, texts(&m.content))).collect()
    }

    #[test]
    fn a_llama3_prompt_is_read_back_into_its_turns() {
        let prompt = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>\
            <|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>\
            <|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>\
            <|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>\
            <|start_header_id|>assistant<|end_header_id|>\n\n";
        let (system, messages) = parse_prompt(prompt);
        assert_eq!(texts(&system), ["Be brief."]);
        assert_eq!(
            roles_and_texts(&messages),
            [
                (Role::User, vec!["Hi there"]),
                (Role::Assistant, vec!["Hello!"]),
                (Role::User, vec!["What is 2+2?"]),
            ]
        );
    }

    #[test]
    fn an_inst_prompt_is_read_back_into_its_turns() {
        let prompt =
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nThere's a llama in my garden [/INST] Feed it. </s>\
            <s>[INST] And then? [/INST]";
        let (system, messages) = parse_prompt(prompt);
        assert_eq!(texts(&system), ["You are terse."]);
        assert_eq!(
            roles_and_texts(&messages),
            [
                (Role::User, vec!["There's a llama in my garden"]),
                (Role::Assistant, vec!["Feed it."]),
                (Role::User, vec!["And then?"]),
            ]
        );
        // LangChain's Mistral form: the system block before the first instruction.
        let (system, messages) = parse_prompt("<<SYS>> Be terse. <</SYS>>\n[INST] Hi [/INST]");
        assert_eq!(texts(&system), ["Be terse."]);
        assert_eq!(roles_and_texts(&messages), [(Role::User, vec!["Hi"])]);
        // Mistral's form has no system prompt and no spaces to rely on.
        let (system, messages) = parse_prompt("<s>[INST]What is your favourite condiment?[/INST]");
        assert!(system.is_empty());
        assert_eq!(
            roles_and_texts(&messages),
            [(Role::User, vec!["What is your favourite condiment?"])]
        );
    }

    #[test]
    fn a_deepseek_prompt_is_read_back_into_its_turns() {
        let prompt = "<\u{ff5c}begin\u{2581}of\u{2581}sentence\u{ff5c}>Be brief.<\u{ff5c}User\u{ff5c}>Hi\
            <\u{ff5c}Assistant\u{ff5c}>Hello!<\u{ff5c}end\u{2581}of\u{2581}sentence\u{ff5c}>\
            <\u{ff5c}User\u{ff5c}>Why is the sky blue?<\u{ff5c}Assistant\u{ff5c}><think>\n";
        let (system, messages) = parse_prompt(prompt);
        assert_eq!(texts(&system), ["Be brief."]);
        assert_eq!(
            roles_and_texts(&messages),
            [
                (Role::User, vec!["Hi"]),
                (Role::Assistant, vec!["Hello!"]),
                (Role::User, vec!["Why is the sky blue?"]),
            ]
        );
    }

    #[test]
    fn a_prompt_without_a_template_is_one_user_turn() {
        let (system, messages) = parse_prompt("  Write a haiku about rain.\n");
        assert!(system.is_empty());
        assert_eq!(
            roles_and_texts(&messages),
            [(Role::User, vec!["Write a haiku about rain."])]
        );
        // A broken template loses nothing but its markers, and never panics.
        for odd in [
            "<|start_header_id|>",
            "[INST]",
            "[/INST] x [INST]",
            "<<SYS>> [INST] <</SYS>>",
            "[INST] <</SYS>> <<SYS>>",
        ] {
            let _ = parse_prompt(odd);
        }
    }

    /// A user turn's parts as "text" strings and "[media/type]" for images.
    fn shapes(m: &Message) -> Vec<String> {
        m.content
            .iter()
            .map(|p| match p {
                Part::Text { text, .. } => text.clone(),
                Part::Image {
                    source: ImageSource::Base64 { media_type, .. },
                    ..
                } => format!("[{media_type}]"),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn llama_with_images(prompt: &str, images: &[&str]) -> Result<ChatRequest, ConvertError> {
        let body =
            sonic_rs::to_string(&sonic_rs::json!({"prompt": prompt, "images": images, "max_gen_len": 9})).unwrap();
        decode_request(
            PromptFamily::Llama,
            body.as_bytes(),
            "us.meta.llama4-scout-17b-instruct-v1:0",
            false,
        )
    }

    // The first bytes of each type, base64 (a PNG, JPEG, GIF and WebP signature and header).
    const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB";
    const JPEG: &str = "/9j/4AAQSkZJRgABAQAAAQABAAD";
    const GIF: &str = "R0lGODlhAQABAIAAAP///wAAACw=";
    const WEBP: &str = "UklGRiQAAABXRUJQVlA4IBgAAAAw";

    #[test]
    fn llama_images_stand_at_their_markers() {
        let prompt = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n<|image|>What is this?<|eot_id|>\
            <|start_header_id|>assistant<|end_header_id|>\n\nA chart.<|eot_id|>\
            <|start_header_id|>user<|end_header_id|>\n\nAnd these: <|image|> then <|image|><|image|><|eot_id|>\
            <|start_header_id|>assistant<|end_header_id|>\n\n";
        let r = llama_with_images(prompt, &[PNG, JPEG, GIF, WEBP]).unwrap();
        assert_eq!(r.messages.len(), 3);
        assert_eq!(shapes(&r.messages[0]), ["[image/png]", "What is this?"]);
        assert_eq!(shapes(&r.messages[1]), ["A chart."]);
        assert_eq!(
            shapes(&r.messages[2]),
            ["And these:", "[image/jpeg]", "then", "[image/gif]", "[image/webp]"]
        );
        let Part::Image {
            source: ImageSource::Base64 { data, .. },
            ..
        } = &r.messages[2].content[1]
        else {
            panic!()
        };
        assert_eq!(data, JPEG, "the data is taken as sent");
    }

    #[test]
    fn llama_images_without_markers_open_the_last_user_turn() {
        let prompt = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nfirst<|eot_id|>\
            <|start_header_id|>assistant<|end_header_id|>\n\nok<|eot_id|>\
            <|start_header_id|>user<|end_header_id|>\n\nDescribe them.<|eot_id|>";
        let r = llama_with_images(prompt, &[PNG, "data:image/webp;base64,AAAA"]).unwrap();
        assert_eq!(shapes(&r.messages[0]), ["first"]);
        assert_eq!(
            shapes(&r.messages[2]),
            ["[image/png]", "[image/webp]", "Describe them."]
        );
        // A bare prompt is one user turn; an empty list is no images.
        let r = llama_with_images("what is it", &[GIF]).unwrap();
        assert_eq!(shapes(&r.messages[0]), ["[image/gif]", "what is it"]);
        let r = llama_with_images("<|image|> what", &[]).unwrap();
        assert_eq!(shapes(&r.messages[0]), ["<|image|> what"]);
    }

    #[test]
    fn images_that_cannot_be_placed_or_read_are_refused_by_name() {
        let e = llama_with_images("<|image|> a <|image|> b", &[PNG]).unwrap_err();
        assert_eq!(e.field, "images");
        assert!(
            e.message.contains("1 image(s) for 2 <|image|> marker(s)"),
            "{}",
            e.message
        );
        let e = llama_with_images("<|image|> a", &[PNG, PNG]).unwrap_err();
        assert_eq!(e.field, "images");
        for bad in ["aGVsbG8gd29ybGQgaGVsbG8=", "not base64 at all!!", ""] {
            let e = llama_with_images("a", &[PNG, bad]).unwrap_err();
            assert_eq!(e.field, "images[1]", "{bad:?}");
        }
        for family in [PromptFamily::Mistral, PromptFamily::DeepSeek] {
            let e = decode_request(family, br#"{"prompt":"hi","images":["AAAA"]}"#, "m", false).unwrap_err();
            assert_eq!(e.field, "images", "{family:?}");
        }
        // An assistant turn's marker is its text; only user turns hold images.
        let prompt = "<|start_header_id|>assistant<|end_header_id|>\n\n<|image|><|eot_id|>";
        let e = llama_with_images(prompt, &[PNG]).unwrap_err();
        assert_eq!(e.field, "prompt");
    }

    #[test]
    fn a_titan_conversation_is_read_back_into_its_turns() {
        let prompt = "You are a travel agent.\nAnswer briefly.\n\nUser: Where to in May?\nBot: Lisbon.\n\
            User: And in June?\nMore detail: by train.\nBot:";
        let (system, messages) = titan(prompt).unwrap();
        assert_eq!(texts(&system), ["You are a travel agent.\nAnswer briefly."]);
        assert_eq!(
            roles_and_texts(&messages),
            [
                (Role::User, vec!["Where to in May?"]),
                (Role::Assistant, vec!["Lisbon."]),
                (Role::User, vec!["And in June?\nMore detail: by train."]),
            ]
        );
        // A reply started after the last `Bot:` is an assistant turn to continue.
        let (_, messages) = titan("User: hi\nBot: Hel").unwrap();
        assert_eq!(
            roles_and_texts(&messages),
            [(Role::User, vec!["hi"]), (Role::Assistant, vec!["Hel"])]
        );
        // Without both labels at a line's start, the prompt is no conversation: taken whole.
        for whole in [
            "User: hi",
            "Summarize: the Bot: said",
            "Say hi.\nBot:",
            "Note User: x\nBot: y",
        ] {
            assert!(titan(whole).is_none(), "{whole:?}");
        }
        let r = decode_request(
            PromptFamily::TitanText,
            br#"{"inputText":"Summarize: the Bot: said"}"#,
            "amazon.titan-text-express-v1",
            false,
        )
        .unwrap();
        assert_eq!(
            roles_and_texts(&r.messages),
            [(Role::User, vec!["Summarize: the Bot: said"])]
        );
        let r = decode_request(
            PromptFamily::TitanText,
            br#"{"inputText":"Be kind.\nUser: hi\nBot:"}"#,
            "amazon.titan-text-express-v1",
            false,
        )
        .unwrap();
        assert_eq!(texts(&r.system), ["Be kind."]);
        assert_eq!(roles_and_texts(&r.messages), [(Role::User, vec!["hi"])]);
    }

    #[test]
    fn each_family_reads_its_settings() {
        let r = decode_request(
            PromptFamily::Llama,
            br#"{"prompt":"hi","max_gen_len":64,"temperature":0.2,"top_p":0.9}"#,
            "meta.llama3-8b-instruct-v1:0",
            false,
        )
        .unwrap();
        assert_eq!((r.max_tokens, r.temperature, r.top_p), (Some(64), Some(0.2), Some(0.9)));
        let r = decode_request(
            PromptFamily::Mistral,
            br#"{"prompt":"hi","max_tokens":9,"stop":["\n"],"top_k":4}"#,
            "mistral.mistral-7b-instruct-v0:2",
            true,
        )
        .unwrap();
        assert_eq!(
            (r.max_tokens, r.top_k, r.stop.clone(), r.stream),
            (Some(9), Some(4), vec!["\n".to_string()], true)
        );
        let r = decode_request(
            PromptFamily::TitanText,
            br#"{"inputText":"hi","textGenerationConfig":{"maxTokenCount":12,"stopSequences":["User:"],"topP":0.5}}"#,
            "amazon.titan-text-express-v1",
            false,
        )
        .unwrap();
        assert_eq!(
            (r.max_tokens, r.top_p, r.stop.clone()),
            (Some(12), Some(0.5), vec!["User:".to_string()])
        );
        let e = decode_request(PromptFamily::Llama, br#"{"max_gen_len":5}"#, "m", false).unwrap_err();
        assert_eq!(e.field, "prompt");
        let e = decode_request(PromptFamily::TitanText, br#"{"prompt":"x"}"#, "m", false).unwrap_err();
        assert_eq!(e.field, "inputText");
        assert!(decode_request(PromptFamily::Llama, br#"{"prompt":5}"#, "m", false).is_err());
    }

    #[test]
    fn each_family_answers_with_the_generation() {
        use sonic_rs::{JsonValueTrait, Value};
        let mut resp = sample_response();
        resp.finish = FinishReason::Length;
        let llama: Value = sonic_rs::from_slice(&encode_response(PromptFamily::Llama, &resp)).unwrap();
        assert_eq!(
            llama["generation"].as_str(),
            Some("h\u{e9}llo \u{2028} \"w\u{f6}rld\"\n")
        );
        assert_eq!(llama["prompt_token_count"].as_u64(), Some(12));
        assert_eq!(llama["generation_token_count"].as_u64(), Some(7));
        assert_eq!(llama["stop_reason"].as_str(), Some("length"));
        let mistral: Value = sonic_rs::from_slice(&encode_response(PromptFamily::Mistral, &resp)).unwrap();
        assert_eq!(
            mistral
                .pointer(&sonic_rs::pointer!["outputs", 0, "stop_reason"])
                .and_then(|v| v.as_str()),
            Some("length")
        );
        let deepseek: Value = sonic_rs::from_slice(&encode_response(PromptFamily::DeepSeek, &resp)).unwrap();
        assert_eq!(
            deepseek
                .pointer(&sonic_rs::pointer!["choices", 0, "stop_reason"])
                .and_then(|v| v.as_str()),
            Some("length")
        );
        let titan: Value = sonic_rs::from_slice(&encode_response(PromptFamily::TitanText, &resp)).unwrap();
        assert_eq!(titan["inputTextTokenCount"].as_u64(), Some(12));
        assert_eq!(
            titan
                .pointer(&sonic_rs::pointer!["results", 0, "completionReason"])
                .and_then(|v| v.as_str()),
            Some("LENGTH")
        );
        resp.finish = FinishReason::StopSequence;
        let titan: Value = sonic_rs::from_slice(&encode_response(PromptFamily::TitanText, &resp)).unwrap();
        assert_eq!(
            titan
                .pointer(&sonic_rs::pointer!["results", 0, "completionReason"])
                .and_then(|v| v.as_str()),
            Some("STOP_CRITERIA_MET")
        );
    }
}
