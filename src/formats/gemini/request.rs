//! Gemini `generateContent` request body <-> canonical `ChatRequest` (PROTOCOLS 4.2).
//!
//! Keys are matched in either spelling (camelCase or snake_case). Fields with no canonical home
//! (`safetySettings`, `cachedContent`, non-function tools, leftover `generationConfig` and
//! `toolConfig` keys) travel in `ChatRequest.extra` and are merged back when the target is Gemini.

use super::write::{self, SortedObject};
use super::{
    camel, decode_part, encode_part, field, fields, merge, obj, openapi_to_json_schema, req_str, set, CallIds,
};
use crate::canonical::sig::{self, Family};
use crate::canonical::{
    ChatRequest, ConvertError, Extra, Json, JsonPath, Message, Part, Reasoning, ResponseFormat, Role, Schema, Tool,
    ToolChoice, Written,
};
use crate::formats::{tool_args, Format};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};
use std::collections::HashSet;

/// Integration: a Gemini request body -> canonical. The model and streaming come from the URL
/// (`path_model`, `stream`); a body `model` is a fallback for raw callers.
///
/// Read in one pass (`one_pass`); a body that reading leaves is read by `Value`, the reference,
/// which gives the same request or names the refused field.
pub fn decode_request(body: &[u8], path_model: Option<&str>, stream: bool) -> Result<ChatRequest, ConvertError> {
    match super::one_pass::read(body, path_model, stream) {
        Some(req) => Ok(req),
        None => decode_by_value(body, path_model, stream),
    }
}

/// The reading by `Value`: slower than `one_pass` (a tree of the whole body, then a walk for
/// the calls' arguments as written), but it names the field of any refusal.
pub(crate) fn decode_by_value(
    body: &[u8],
    path_model: Option<&str>,
    stream: bool,
) -> Result<ChatRequest, ConvertError> {
    let v: Json = sonic_rs::from_slice(body).map_err(|e| {
        ConvertError::new(
            "",
            format!("request body is not valid JSON: {}", crate::wire::json::brief(&e)),
        )
    })?;
    let Some(members) = v.as_object() else {
        return Err(ConvertError::new("", "request body must be a JSON object"));
    };
    let model = Top::model(path_model, field(&v, "model"))?;
    let mut top = Top::new(stream);
    for (k, val) in members.iter() {
        if val.is_null() {
            continue;
        }
        match camel(k).as_ref() {
            "contents" => top.req.messages = decode_contents(val, body, &mut top.ids)?,
            _ => top.field(k, val, Written::Body(body, members))?,
        }
    }
    let mut req = top.finish(model);
    req.detach_values_if_large(body.len());
    Ok(req)
}

/// The body's top level other than `contents`, as both readings take it.
pub(super) struct Top {
    pub(super) req: ChatRequest,
    pub(super) ids: CallIds,
    /// `toolConfig`'s allowed function names, if it names any.
    allowed: Option<Vec<String>>,
}

impl Top {
    pub(super) fn new(stream: bool) -> Top {
        Top {
            req: ChatRequest {
                stream,
                include_usage: true,
                extra: Extra::new(Format::Gemini),
                ..Default::default()
            },
            ids: CallIds::for_request(),
            allowed: None,
        }
    }

    /// The model: the URL's, else the body's `model` (`body_model`, as `field` finds it).
    pub(super) fn model(path_model: Option<&str>, body_model: Option<&Json>) -> Result<String, ConvertError> {
        match path_model {
            Some(m) => Ok(m.to_string()),
            None => body_model
                .and_then(|m| m.as_str())
                .map(|m| m.strip_prefix("models/").unwrap_or(m).to_string())
                .ok_or_else(|| ConvertError::new("model", "missing (Gemini carries it in the URL)")),
        }
    }

    /// Member `k` (not `contents`; not `null`) into the request; of a repeated key, the last
    /// one counts.
    pub(super) fn field(&mut self, k: &str, val: &Json, written: Written<'_>) -> Result<(), ConvertError> {
        let req = &mut self.req;
        match camel(k).as_ref() {
            "systemInstruction" => req.system = decode_system(val, &mut self.ids)?,
            "tools" => decode_tools(val, req)?,
            "toolConfig" => {
                self.allowed =
                    decode_tool_config(val, req)?.map(|names| names.into_iter().map(str::to_string).collect())
            }
            "generationConfig" => decode_generation_config(val, req, (written, k))?,
            "model" => {}
            other => req.extra.push(other, val.clone()),
        }
        Ok(())
    }

    pub(super) fn finish(self, model: String) -> ChatRequest {
        let Top { mut req, allowed, .. } = self;
        req.model = model;
        // ANY with several allowed names: a required call of one of them, of those declared (a
        // name no tool has could not be called). Formats without the setting are offered just
        // those tools (`formats::tool_choice`); OpenAI says it as `allowed_tools`.
        if let Some(names) = allowed {
            // Sets of the tools' names and of those kept: scans of lists per name are quadratic
            // in a body that declares and allows thousands.
            let tools: HashSet<&str> = req.tools.iter().map(|t| t.name.as_str()).collect();
            let mut kept: HashSet<&str> = HashSet::with_capacity(names.len());
            let mut declared: Vec<String> = Vec::with_capacity(names.len());
            for n in &names {
                if tools.contains(n.as_str()) && kept.insert(n.as_str()) {
                    declared.push(n.clone());
                }
            }
            req.tool_choice = Some(match declared.len() {
                0 => ToolChoice::Required,
                1 => ToolChoice::Named(declared.remove(0)),
                _ => ToolChoice::Allowed {
                    names: declared,
                    required: true,
                },
            });
        }
        req
    }
}

/// A request's way down to the `args` objects of the calls in its history (`tool_args::RawArgs`),
/// keys read as `field` reads them.
struct History;

impl tool_args::Layout for History {
    const SHAPE: tool_args::Shape = {
        use tool_args::Shape::{Args, Array, Object};
        const PART: tool_args::Shape = Object(&[("functionCall", Object(&[("args", Args)]))]);
        Object(&[("contents", Array(&Object(&[("parts", Array(&PART))])))])
    };
    const CAMEL: bool = true;
}

/// `body`: the request `v` is part of (a call's `args` are taken as written).
fn decode_contents(v: &Json, body: &[u8], ids: &mut CallIds) -> Result<Vec<Message>, ConvertError> {
    let arr = v
        .as_array()
        .ok_or_else(|| ConvertError::new("contents", "expected an array"))?;
    let mut out = Vec::with_capacity(arr.len());
    let mut raw = tool_args::RawArgs::<History>::default();
    let root = JsonPath::ROOT;
    let cpath = root.key("contents");
    for (i, c) in arr.iter().enumerate() {
        let path = cpath.index(i);
        let [role, wire] = fields(c, ["role", "parts"]);
        let role = match role.and_then(|r| r.as_str()) {
            None | Some("user") | Some("function") | Some("tool") => Role::User,
            Some("model") | Some("assistant") => Role::Assistant,
            Some(r) => {
                return Err(ConvertError::new(
                    path.key("role"),
                    format!("unknown role {r:?} (expected user or model)"),
                ))
            }
        };
        let mut content = decode_parts(c, wire, &path, ids)?;
        // Part j is parts[j]: a call whose `args` are an object takes them as written
        // (`tool_args`), read as `decode_part` read them.
        let wire = wire.and_then(|w| w.as_array());
        for (j, part) in content.iter_mut().enumerate() {
            if let Part::ToolCall { arguments, .. } = part {
                let call = wire.and_then(|w| w.get(j)).and_then(|p| field(p, "functionCall"));
                if let Some(args) = call.and_then(|c| field(c, "args")).filter(|a| a.is_object()) {
                    arguments.clear();
                    raw.push(i, j, args);
                }
            }
        }
        push_turn(&mut out, role, content);
    }
    join_thoughts_of(&mut out);
    raw.fill(body, out.iter_mut().flat_map(|m| tool_args::calls_in(&mut m.content)));
    Ok(out)
}

/// Content `i` of a request's `contents` after those before it (`out`).
pub(super) fn push_turn(out: &mut Vec<Message>, role: Role, content: Vec<Part>) {
    match out.last_mut() {
        // google-genai's chat session keeps a streamed turn as one `model` Content per chunk:
        // one turn, as Gemini reads consecutive model Contents.
        Some(Message {
            role: Role::Assistant,
            content: turn,
        }) if role == Role::Assistant => turn.extend(content),
        _ => out.push(Message { role, content }),
    }
}

/// `join_streamed_thoughts` in every model turn of a request.
pub(super) fn join_thoughts_of(messages: &mut [Message]) {
    for m in messages.iter_mut().filter(|m| m.role == Role::Assistant) {
        join_streamed_thoughts(&mut m.content);
    }
}

/// A thought streamed to a Gemini client comes as several `thought` text parts and then a
/// signature-only one (`{"text":"","thought":true,"thoughtSignature":...}`: Anthropic's and
/// Bedrock's signatures come at the block's end), and the chat history keeps the parts as they
/// came. Sent back, they are one signed block again: Anthropic checks the signature against the
/// whole text, and would refuse it beside an empty one. Each unsigned thought takes in the
/// thoughts after it, up to and including the first signed one; a signed thought ends a block.
fn join_streamed_thoughts(parts: &mut Vec<Part>) {
    // Most turns have no thought to join: keep them without a new vector.
    let unsigned = |p: &Part| matches!(p, Part::Thinking { signature: None, .. });
    let thinking = |p: &Part| matches!(p, Part::Thinking { .. });
    if !parts.windows(2).any(|w| unsigned(&w[0]) && thinking(&w[1])) {
        return;
    }
    let mut out: Vec<Part> = Vec::with_capacity(parts.len());
    for p in parts.drain(..) {
        match (out.last_mut(), p) {
            (
                Some(Part::Thinking {
                    text,
                    signature: open @ None,
                }),
                Part::Thinking { text: more, signature },
            ) => {
                text.push_str(&more);
                *open = signature;
            }
            (_, p) => out.push(p),
        }
    }
    *parts = out;
}

/// The `parts` of a `Content` object `c` (`parts`: its `parts` field, as `field` finds it).
fn decode_parts(
    c: &Json,
    parts: Option<&Json>,
    path: &JsonPath<'_>,
    ids: &mut CallIds,
) -> Result<Vec<Part>, ConvertError> {
    let Some(parts) = parts else {
        if c.is_object() {
            return Ok(Vec::new());
        }
        return Err(ConvertError::new(path, "expected a Content object"));
    };
    let parts = parts
        .as_array()
        .ok_or_else(|| ConvertError::new(path.key("parts"), "expected an array"))?;
    let ppath = path.key("parts");
    parts
        .iter()
        .enumerate()
        .map(|(j, p)| decode_part(p, &ppath.index(j), ids))
        .collect()
}

fn decode_system(v: &Json, ids: &mut CallIds) -> Result<Vec<Part>, ConvertError> {
    // Raw callers sometimes send a bare string; the API wants a Content.
    if let Some(s) = v.as_str() {
        return Ok(vec![Part::text(s)]);
    }
    decode_parts(v, field(v, "parts"), &JsonPath::ROOT.key("systemInstruction"), ids)
}

fn decode_tools(v: &Json, req: &mut ChatRequest) -> Result<(), ConvertError> {
    let arr = v
        .as_array()
        .ok_or_else(|| ConvertError::new("tools", "expected an array"))?;
    let mut other_tools = Vec::new();
    let root = JsonPath::ROOT;
    let tpath = root.key("tools");
    for (i, t) in arr.iter().enumerate() {
        let tpath = tpath.index(i);
        let Some(t_obj) = t.as_object() else {
            return Err(ConvertError::new(tpath, "expected an object"));
        };
        let mut rest = obj();
        for (k, val) in t_obj.iter() {
            let key = camel(k);
            if key != "functionDeclarations" {
                set(&mut rest, &key, val.clone());
                continue;
            }
            let dpath = tpath.key("functionDeclarations");
            let decls = val
                .as_array()
                .ok_or_else(|| ConvertError::new(dpath, "expected an array"))?;
            req.tools.reserve(decls.len());
            for (j, d) in decls.iter().enumerate() {
                req.tools.push(decode_declaration(d, &dpath.index(j))?);
            }
        }
        if rest.as_object().is_some_and(|o| !o.is_empty()) {
            other_tools.push(rest);
        }
    }
    if !other_tools.is_empty() {
        req.extra.push("tools", Json::from(other_tools));
    }
    Ok(())
}

fn decode_declaration(d: &Json, path: &JsonPath<'_>) -> Result<Tool, ConvertError> {
    let name = req_str(d, "name", path)?.to_string();
    let mut tool = Tool {
        name,
        description: None,
        parameters: Schema::default(),
        strict: None,
        extra: Extra::new(Format::Gemini),
    };
    let mut json_schema = None;
    let mut openapi = None;
    for (k, val) in d.as_object().into_iter().flat_map(|o| o.iter()) {
        match camel(k).as_ref() {
            "name" => {}
            "description" => tool.description = val.as_str().map(str::to_string),
            "parametersJsonSchema" => json_schema = Some(val),
            "parameters" => openapi = Some(val),
            other => tool.extra.push(other, val.clone()),
        }
    }
    let json_schema = json_schema.filter(|s| !s.is_null()).map(Schema::from_value);
    tool.parameters = declared_parameters(json_schema, openapi);
    Ok(tool)
}

/// A declaration's parameters: its JSON Schema (`parametersJsonSchema`, not `null`), else its
/// OpenAPI schema (`parameters`) as JSON Schema, else none.
pub(super) fn declared_parameters(json_schema: Option<Schema>, openapi: Option<&Json>) -> Schema {
    json_schema.unwrap_or_else(|| match openapi.filter(|s| !s.is_null()) {
        Some(s) => Schema::from_value(&openapi_to_json_schema(s)),
        None => Schema::no_arguments(),
    })
}

/// `toolConfig` -> canonical tool choice; returns the allowed function names when the choice
/// (ANY with several) is narrower than canonical `Required`.
fn decode_tool_config<'v>(v: &'v Json, req: &mut ChatRequest) -> Result<Option<Vec<&'v str>>, ConvertError> {
    let mut allowed = None;
    let mut rest = obj();
    for (k, val) in v.as_object().into_iter().flat_map(|o| o.iter()) {
        if camel(k) != "functionCallingConfig" {
            set(&mut rest, &camel(k), val.clone());
            continue;
        }
        let names: Vec<&str> = field(val, "allowedFunctionNames")
            .and_then(|a| a.as_array())
            .map(|a| a.iter().filter_map(|n| n.as_str()).collect())
            .unwrap_or_default();
        let (choice, keep_raw) = match field(val, "mode").and_then(|m| m.as_str()) {
            Some("AUTO") => (Some(ToolChoice::Auto), false),
            Some("NONE") => (Some(ToolChoice::None), false),
            Some("ANY") if names.len() == 1 => (Some(ToolChoice::Named(names[0].to_string())), false),
            Some("ANY") if names.is_empty() => (Some(ToolChoice::Required), false),
            // Several names: which of them are declared is known after every key (`decode_request`).
            Some("ANY") => {
                allowed = Some(names);
                (None, false)
            }
            // VALIDATED, ...: kept raw for Gemini targets.
            _ => (None, true),
        };
        if let Some(c) = choice {
            req.tool_choice = Some(c);
        }
        if keep_raw {
            let mut fcc = obj();
            set(&mut fcc, "functionCallingConfig", val.clone());
            merge(&mut rest, &fcc);
        }
    }
    if rest.as_object().is_some_and(|o| !o.is_empty()) {
        req.extra.push("toolConfig", rest);
    }
    Ok(allowed)
}

fn num(v: &Json, path: &JsonPath<'_>) -> Result<f64, ConvertError> {
    v.as_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| ConvertError::new(path, "expected a number"))
}

fn count(v: &Json, path: &JsonPath<'_>) -> Result<u32, ConvertError> {
    let f = num(v, path)?;
    if f < 0.0 {
        return Err(ConvertError::new(path, "must not be negative"));
    }
    Ok(f.min(u32::MAX as f64) as u32)
}

/// `generationConfig` (`written`: where its text is, and its key as spelled).
fn decode_generation_config(
    v: &Json,
    req: &mut ChatRequest,
    (written, config_key): (Written<'_>, &str),
) -> Result<(), ConvertError> {
    let Some(o) = v.as_object() else {
        return Err(ConvertError::new("generationConfig", "expected an object"));
    };
    let mut rest = obj();
    let mut mime: Option<&str> = None;
    let mut json_schema: Option<(&str, &Json)> = None;
    let mut openapi_schema: Option<&Json> = None;
    let (mut response_logprobs, mut logprobs) = (false, None);
    let root = JsonPath::ROOT;
    let gpath = root.key("generationConfig");
    for (k, val) in o.iter() {
        if val.is_null() {
            continue;
        }
        let key = camel(k);
        let path = gpath.key(&key);
        match key.as_ref() {
            "temperature" => req.temperature = Some(num(val, &path)?),
            "topP" => req.top_p = Some(num(val, &path)?),
            // The SDK sends topK as a float (40.0).
            "topK" => req.top_k = Some(count(val, &path)?),
            // 0 leaves no room for an answer; refused as for every other client.
            "maxOutputTokens" => req.max_tokens = Some(crate::canonical::token_limit(count(val, &path)?, &path)?),
            "seed" => req.seed = Some(num(val, &path)? as i64),
            "frequencyPenalty" => req.frequency_penalty = Some(num(val, &path)?),
            "presencePenalty" => req.presence_penalty = Some(num(val, &path)?),
            "stopSequences" => {
                let arr = val
                    .as_array()
                    .ok_or_else(|| ConvertError::new(path, "expected an array of strings"))?;
                req.stop = arr
                    .iter()
                    .map(|s| {
                        s.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| ConvertError::new(path, "expected an array of strings"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            // Decoded only to translate (Gemini to Gemini passes bytes through), and no other
            // format answers with more than one candidate: refuse rather than answer with one.
            "candidateCount" => {
                if count(val, &path)? > 1 {
                    return Err(ConvertError::new(
                        path,
                        "only candidateCount=1 can be translated (the other API returns one candidate)",
                    ));
                }
                set(&mut rest, "candidateCount", val.clone());
            }
            "responseLogprobs" => {
                response_logprobs = val
                    .as_bool()
                    .ok_or_else(|| ConvertError::new(path, "expected a boolean"))?
            }
            "logprobs" => {
                let n = count(val, &path)?;
                if n > crate::formats::openai::request::MAX_TOP_LOGPROBS {
                    return Err(ConvertError::new(path, "must be at most 20"));
                }
                logprobs = Some(n);
            }
            "responseMimeType" => mime = val.as_str(),
            "responseJsonSchema" => json_schema = Some((k, val)),
            "responseSchema" => openapi_schema = Some(val),
            "thinkingConfig" => {
                let mut reasoning = Reasoning {
                    budget_tokens: None,
                    effort: None,
                };
                let mut tc_rest = obj();
                for (tk, tv) in tv_iter(val) {
                    match (camel(tk).as_ref(), tv) {
                        ("thinkingBudget", b) if b.as_f64().is_some_and(|b| b >= 0.0) => {
                            // -1 (dynamic) has no canonical form and stays raw.
                            reasoning.budget_tokens = b.as_f64().map(|b| b.min(u32::MAX as f64) as u32)
                        }
                        ("thinkingLevel", l) if l.is_str() => {
                            reasoning.effort = l.as_str().map(str::to_ascii_lowercase)
                        }
                        // includeThoughts, dynamic budget (-1), ...
                        (other, _) => set(&mut tc_rest, other, tv.clone()),
                    }
                }
                if reasoning.budget_tokens.is_some() || reasoning.effort.is_some() {
                    req.reasoning = Some(reasoning);
                }
                if tc_rest.as_object().is_some_and(|o| !o.is_empty()) {
                    set(&mut rest, "thinkingConfig", tc_rest);
                }
            }
            other => set(&mut rest, other, val.clone()),
        }
    }
    match mime {
        Some("application/json") => {
            req.response_format = Some(match (json_schema, openapi_schema) {
                (Some((k, s)), _) => {
                    // The loop above keeps the last of a repeated key, the lookup finds the first.
                    let written = match o.iter().filter(|(other, _)| *other == k).count() {
                        1 => written,
                        _ => Written::Unknown,
                    };
                    ResponseFormat::JsonSchema {
                        name: "response".into(),
                        schema: Schema::as_written(s, written, config_key, &[k]),
                        strict: None,
                    }
                }
                (None, Some(s)) => ResponseFormat::JsonSchema {
                    name: "response".into(),
                    schema: Schema::from_value(&openapi_to_json_schema(s)),
                    strict: None,
                },
                (None, None) => ResponseFormat::JsonObject,
            })
        }
        Some("text/plain") if json_schema.is_none() && openapi_schema.is_none() => {
            req.response_format = Some(ResponseFormat::Text)
        }
        _ => {
            // Other types (text/x.enum, ...) have no canonical form: keep them raw.
            if let Some(m) = mime {
                set(&mut rest, "responseMimeType", m);
            }
            if let Some((_, s)) = json_schema {
                set(&mut rest, "responseJsonSchema", s.clone());
            }
            if let Some(s) = openapi_schema {
                set(&mut rest, "responseSchema", s.clone());
            }
        }
    }
    if response_logprobs {
        req.logprobs = Some(logprobs.unwrap_or(0));
    } else if let Some(n) = logprobs {
        // Without `responseLogprobs` Gemini answers without them: only Gemini sees it.
        set(&mut rest, "logprobs", n);
    }
    if rest.as_object().is_some_and(|o| !o.is_empty()) {
        req.extra.push("generationConfig", rest);
    }
    Ok(())
}

fn tv_iter(v: &Json) -> impl Iterator<Item = (&str, &Json)> {
    v.as_object().into_iter().flat_map(|o| o.iter())
}

/// Provider: canonical -> Gemini request body. The model goes in the URL (`request_path`).
/// NOTE: `parallel_tool_calls` has no Gemini field and is not sent (a hint, not content).
///
/// Written straight into bytes (see `write`): members in the order the checks used to run, so
/// the same error wins, then emitted sorted by key with extras replacing what they name.
pub fn encode_request(req: &ChatRequest) -> Result<Vec<u8>, ConvertError> {
    // Gemini takes `allowedFunctionNames` in mode ANY only: an optional allowed-tools choice is
    // said by the tools offered (`tool_choice`), a required one below, as Gemini's own.
    let narrowed = crate::formats::tool_choice::narrow(req, crate::formats::tool_choice::Narrow::AllowedAuto)?;
    let req = narrowed.as_ref().unwrap_or(req);
    // Thinking another provider family signed, which this one would refuse (`sig`).
    let signed = sig::fit_request(req, Family::Gemini);
    let req = signed.as_ref().unwrap_or(req);
    // Names other formats allow that this upstream would refuse (`tool_names::Renames` maps back).
    let renamed = crate::formats::tool_names::fit_request(req, crate::formats::tool_names::GEMINI);
    let req = renamed.as_ref().unwrap_or(req);
    // Calls another provider made, which Gemini 3 refuses without a signature.
    let signed = sign_foreign_calls(req);
    let req = signed.as_ref().unwrap_or(req);
    req.extra.refuse_lost_content(Format::Gemini)?;
    let extra = req.extra.for_target(Format::Gemini);
    let extra_get = |name: &str| extra.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let mut body = SortedObject::with_capacity(req.encoded_len_hint());

    body.member("contents", |b| encode_contents(b, req))?;

    if !req.system.is_empty() {
        body.member("systemInstruction", |b| {
            let root = JsonPath::ROOT;
            let spath = root.key("system");
            b.extend_from_slice(b"{\"parts\":[");
            let start = b.len();
            for (j, p) in req.system.iter().enumerate() {
                let path = spath.index(j);
                if !matches!(p, Part::Text { .. }) {
                    return Err(ConvertError::new(path, "Gemini systemInstruction takes text only"));
                }
                let mark = b.len();
                if b.len() != start {
                    b.push(b',');
                }
                if !encode_part(b, p, &path, None, &|_| None)? {
                    b.truncate(mark);
                }
            }
            b.extend_from_slice(b"]}");
            Ok(())
        })?;
    }

    let other_tools = extra_get("tools").and_then(|t| t.as_array());
    if !req.tools.is_empty() || other_tools.is_some_and(|o| !o.is_empty()) {
        body.member("tools", |b| {
            b.push(b'[');
            let mut first = true;
            if !req.tools.is_empty() {
                write::sep(b, &mut first);
                b.extend_from_slice(b"{\"functionDeclarations\":[");
                let mut first_decl = true;
                for t in &req.tools {
                    write::sep(b, &mut first_decl);
                    encode_declaration(b, t);
                }
                b.extend_from_slice(b"]}");
            }
            for t in other_tools.into_iter().flat_map(|o| o.iter()) {
                write::sep(b, &mut first);
                write::value(b, t);
            }
            b.push(b']');
            Ok::<_, ConvertError>(())
        })?;
    }

    let mut tool_config = Vec::new();
    if let Some(choice) = &req.tool_choice {
        tool_config.extend_from_slice(b"{\"functionCallingConfig\":{");
        match choice {
            ToolChoice::Auto => tool_config.extend_from_slice(b"\"mode\":\"AUTO\""),
            ToolChoice::None => tool_config.extend_from_slice(b"\"mode\":\"NONE\""),
            ToolChoice::Required => tool_config.extend_from_slice(b"\"mode\":\"ANY\""),
            ToolChoice::Named(n) => {
                tool_config.extend_from_slice(b"\"allowedFunctionNames\":[");
                write::string(&mut tool_config, n);
                tool_config.extend_from_slice(b"],\"mode\":\"ANY\"");
            }
            ToolChoice::Allowed { names, required: true } => {
                tool_config.extend_from_slice(b"\"allowedFunctionNames\":[");
                for (i, n) in names.iter().enumerate() {
                    if i > 0 {
                        tool_config.push(b',');
                    }
                    write::string(&mut tool_config, n);
                }
                tool_config.extend_from_slice(b"],\"mode\":\"ANY\"");
            }
            // Narrowed before this (`encode_request`) to the tools offered.
            ToolChoice::Allowed { required: false, .. } => tool_config.extend_from_slice(b"\"mode\":\"AUTO\""),
        }
        tool_config.extend_from_slice(b"}}");
    }
    if let Some(merged) = merged_with_extra(&tool_config, extra_get("toolConfig")) {
        body.member("toolConfig", |b| {
            b.extend_from_slice(&merged);
            Ok::<_, ConvertError>(())
        })?;
    }

    let gc = encode_generation_config(req);
    if let Some(merged) = merged_with_extra(&gc, extra_get("generationConfig")) {
        body.member("generationConfig", |b| {
            b.extend_from_slice(&merged);
            Ok::<_, ConvertError>(())
        })?;
    }

    for (k, v) in extra {
        if !matches!(k.as_str(), "tools" | "toolConfig" | "generationConfig") {
            body.member(k, |b| {
                write::value(b, v);
                Ok::<_, ConvertError>(())
            })?;
        }
    }
    let mut out = Vec::new();
    body.finish(&mut out);
    Ok(out)
}

/// The `thoughtSignature` Google documents for a function call Gemini did not make ("If you are
/// transferring a conversation trace from another model ... use this dummy value").
pub(crate) const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// `req` with the dummy signature on each model turn's first call when it has none, or None when
/// nothing needs one (nothing is copied). Gemini 3 refuses a tool loop whose first call lacks the
/// signature it gave ("Function call is missing a thought_signature in functionCall parts"): a
/// conversation whose call another provider made (a fallback, or a switched model) has none.
/// Earlier models (`gemini-1`, `gemini-2`) check none and are left alone; a call Gemini made
/// keeps its own signature (in the part, or folded into the id by `signed_id`).
fn sign_foreign_calls(req: &ChatRequest) -> Option<ChatRequest> {
    let name = req.model.rsplit('/').next().unwrap_or(&req.model);
    if ["gemini-1", "gemini-2"].iter().any(|p| name.starts_with(p)) {
        return None;
    }
    let first_call = |m: &Message| m.content.iter().position(|p| matches!(p, Part::ToolCall { .. }));
    let unsigned =
        |p: &Part| matches!(p, Part::ToolCall { id, signature: None, .. } if super::split_signed_id(id).1.is_none());
    let needs = |m: &Message| first_call(m).is_some_and(|j| unsigned(&m.content[j]));
    if !req.messages.iter().any(needs) {
        return None;
    }
    let mut out = req.clone();
    for m in out.messages.iter_mut().filter(|m| needs(m)) {
        if let Some(Part::ToolCall { signature, .. }) = first_call(m).map(|j| &mut m.content[j]) {
            *signature = Some(SKIP_SIGNATURE.to_string());
        }
    }
    Some(out)
}

/// The `contents` array. A message whose parts all drop out is skipped, and consecutive messages
/// of one role become one content: Gemini wants all the function responses to one model turn in
/// one content (as many as its calls), where Anthropic clients may send each in its own message.
fn encode_contents(b: &mut Vec<u8>, req: &ChatRequest) -> Result<(), ConvertError> {
    let root = JsonPath::ROOT;
    let mpath = root.key("messages");
    b.push(b'[');
    let mut first = true;
    // The role of the content written last, which the next message of that role reopens.
    let mut open: Option<Role> = None;
    for (i, m) in req.messages.iter().enumerate() {
        let path = mpath.index(i);
        let cpath = path.key("content");
        let lookup = |id: &str| tool_name_for(req, i, id);
        let close: &[u8] = match m.role {
            Role::User => b"],\"role\":\"user\"}",
            Role::Assistant => b"],\"role\":\"model\"}",
        };
        if open == Some(m.role) {
            // The content written last has parts, so each part here follows a comma.
            b.truncate(b.len() - close.len());
            for (j, p) in m.content.iter().enumerate() {
                let part_mark = b.len();
                b.push(b',');
                if !encode_part(b, p, &cpath.index(j), None, &lookup)? {
                    b.truncate(part_mark);
                }
            }
            b.extend_from_slice(close);
            continue;
        }
        let mark = b.len();
        if !first {
            b.push(b',');
        }
        b.extend_from_slice(b"{\"parts\":[");
        let start = b.len();
        for (j, p) in m.content.iter().enumerate() {
            let part_mark = b.len();
            if b.len() != start {
                b.push(b',');
            }
            if !encode_part(b, p, &cpath.index(j), None, &lookup)? {
                b.truncate(part_mark);
            }
        }
        if b.len() == start {
            // NOTE: Gemini rejects a Content with no parts (e.g. only redacted thinking).
            b.truncate(mark);
            continue;
        }
        b.extend_from_slice(close);
        open = Some(m.role);
        first = false;
    }
    // Gemini refuses no contents ("contents is not specified"): an OpenAI system prompt alone,
    // which OpenAI answers, gets a minimal user turn after it.
    if first && !req.system.is_empty() {
        b.extend_from_slice(b"{\"parts\":[{\"text\":");
        write::string(b, crate::canonical::OPENING_USER_TURN);
        b.extend_from_slice(b"}],\"role\":\"user\"}");
    }
    b.push(b']');
    Ok(())
}

/// One `functionDeclarations` entry.
/// NOTE: a tool's `strict` is not sent: Gemini has no per-function strict mode, and strictness
/// constrains how the call is decoded, not what the answer holds (the schema still goes).
fn encode_declaration(b: &mut Vec<u8>, t: &Tool) {
    let has_params = !t.parameters.is_empty();
    let extra = t.extra.for_target(Format::Gemini);
    if extra.is_empty() {
        b.push(b'{');
        if let Some(desc) = &t.description {
            write::key(b, "description");
            write::string(b, desc);
            b.push(b',');
        }
        write::key(b, "name");
        write::string(b, &t.name);
        if has_params {
            b.push(b',');
            write::key(b, "parametersJsonSchema");
            write::schema(b, &t.parameters);
        }
        b.push(b'}');
        return;
    }
    // Raw Gemini fields may name (and replace) any member.
    let mut d = SortedObject::with_capacity(256);
    let mut member = |k, f: &dyn Fn(&mut Vec<u8>)| {
        let _ = d.member(k, |b| {
            f(b);
            Ok::<_, ConvertError>(())
        });
    };
    member("name", &|b| write::string(b, &t.name));
    if let Some(desc) = &t.description {
        member("description", &|b| write::string(b, desc));
    }
    if has_params {
        member("parametersJsonSchema", &|b| write::schema(b, &t.parameters));
    }
    for (k, v) in extra {
        member(k, &|b| write::value(b, v));
    }
    d.finish(b);
}

/// The `generationConfig` object from canonical fields (`{}` when none is set). Keys in
/// sorted order.
fn encode_generation_config(req: &ChatRequest) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    b.push(b'{');
    let mut first = true;
    let b = &mut b;
    let mut key = |b: &mut Vec<u8>, k: &str| {
        write::sep(b, &mut first);
        write::key(b, k);
    };
    if let Some(f) = req.frequency_penalty.filter(|f| f.is_finite()) {
        key(b, "frequencyPenalty");
        write::float(b, f);
    }
    if let Some(n) = req.logprobs.filter(|&n| n > 0) {
        key(b, "logprobs");
        write::uint(b, n as u64);
    }
    if let Some(m) = req.max_tokens {
        key(b, "maxOutputTokens");
        write::uint(b, m as u64);
    }
    if let Some(p) = req.presence_penalty.filter(|p| p.is_finite()) {
        key(b, "presencePenalty");
        write::float(b, p);
    }
    let (mime, schema) = match &req.response_format {
        Some(ResponseFormat::Text) => (Some("text/plain"), None),
        Some(ResponseFormat::JsonObject) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema { schema, .. }) => (Some("application/json"), Some(schema)),
        None => (None, None),
    };
    if let Some(s) = schema {
        key(b, "responseJsonSchema");
        write::schema(b, s);
    }
    if req.logprobs.is_some() {
        key(b, "responseLogprobs");
        b.extend_from_slice(b"true");
    }
    if let Some(m) = mime {
        key(b, "responseMimeType");
        write::string(b, m);
    }
    if let Some(s) = req.seed {
        key(b, "seed");
        write::int(b, s);
    }
    if !req.stop.is_empty() {
        key(b, "stopSequences");
        b.push(b'[');
        let mut first = true;
        for s in &req.stop {
            write::sep(b, &mut first);
            write::string(b, s);
        }
        b.push(b']');
    }
    if let Some(t) = req.temperature.filter(|t| t.is_finite()) {
        key(b, "temperature");
        write::float(b, t);
    }
    if let Some(r) = &req.reasoning {
        if r.budget_tokens.is_some() || r.effort.is_some() {
            key(b, "thinkingConfig");
            b.push(b'{');
            let mut first = true;
            // Gemini returns no thoughts unless asked, while a client that asked for reasoning
            // in its own format expects it back; a Gemini client's own choice (an extra) wins.
            let thinks = r.budget_tokens != Some(0) && r.effort.as_deref() != Some("none");
            if thinks && !client_sets_include_thoughts(req) {
                write::key(b, "includeThoughts");
                b.extend_from_slice(b"true");
                first = false;
            }
            let effort = r.effort.as_deref().map(|e| thinking_for_effort(&req.model, e));
            let budget = match effort {
                Some(ThinkingControl::Budget(n)) if r.budget_tokens.is_none() => Some(n),
                _ => r.budget_tokens,
            };
            if let Some(n) = budget {
                write::sep(b, &mut first);
                write::key(b, "thinkingBudget");
                write::uint(b, n as u64);
            }
            if let Some(ThinkingControl::Level(level)) = effort {
                write::sep(b, &mut first);
                write::key(b, "thinkingLevel");
                write::string(b, &level);
            }
            b.push(b'}');
        }
    }
    if let Some(k) = req.top_k {
        key(b, "topK");
        write::uint(b, k as u64);
    }
    if let Some(p) = req.top_p.filter(|p| p.is_finite()) {
        key(b, "topP");
        write::float(b, p);
    }
    b.push(b'}');
    std::mem::take(b)
}

/// How Gemini is told how hard to think.
#[derive(Debug, PartialEq)]
enum ThinkingControl {
    /// `thinkingLevel` (Gemini 3 on), named as the official SDK sends it.
    Level(String),
    /// `thinkingBudget` in tokens (Gemini 2.x, which refuses a level).
    Budget(u32),
}

/// A canonical effort (OpenAI's `reasoning_effort` names, or a Gemini client's own level) for
/// `model`. Gemini 3 and later take a level: OpenAI's `none` and `minimal` are Gemini's lowest,
/// `MINIMAL` (thinking cannot be turned off there), `xhigh` its highest, `HIGH`; other names go
/// as they are, in the SDK's upper case. Earlier models take only a budget: Google's own
/// OpenAI-compatible mapping (`none` 0, `low` 1K, `medium` 8K, `high` 24K), `minimal` as `low`.
fn thinking_for_effort(model: &str, effort: &str) -> ThinkingControl {
    let name = model.rsplit('/').next().unwrap_or(model);
    let budget_only = ["gemini-1", "gemini-2"].iter().any(|p| name.starts_with(p));
    let effort = effort.to_ascii_lowercase();
    if budget_only {
        let budget = match effort.as_str() {
            "none" => Some(0),
            "minimal" | "low" => Some(1024),
            "medium" => Some(8192),
            "high" | "xhigh" => Some(24576),
            _ => None,
        };
        if let Some(n) = budget {
            return ThinkingControl::Budget(n);
        }
    }
    ThinkingControl::Level(match effort.as_str() {
        "none" | "minimal" => "MINIMAL".into(),
        "xhigh" => "HIGH".into(),
        other => other.to_ascii_uppercase(),
    })
}

/// Whether a Gemini client's raw `generationConfig.thinkingConfig` names `includeThoughts`.
fn client_sets_include_thoughts(req: &ChatRequest) -> bool {
    req.extra
        .for_target(Format::Gemini)
        .iter()
        .find(|(k, _)| k == "generationConfig")
        .and_then(|(_, gc)| field(gc, "thinkingConfig"))
        .and_then(|tc| field(tc, "includeThoughts"))
        .is_some()
}

/// An object written by this encoder (`{...}`), deep-merged with the raw Gemini extra of the
/// same name (keys already set win), or None when the result is empty. The rare merge goes
/// through `Value`s; the result is the same bytes as without them.
fn merged_with_extra(own: &[u8], extra: Option<&Json>) -> Option<Vec<u8>> {
    let own = if own.is_empty() { b"{}".as_slice() } else { own };
    let Some(extra) = extra else {
        return (own != b"{}").then(|| own.to_vec());
    };
    let mut v: Json = sonic_rs::from_slice(own).unwrap_or_else(|_| obj());
    merge(&mut v, extra);
    if v.as_object().is_none_or(|o| o.is_empty()) {
        return None;
    }
    let mut b = Vec::new();
    write::value(&mut b, &v);
    Some(b)
}

/// The function name of the tool call with `id`, searching backwards from message `before`
/// (ids may repeat across turns when a Gemini upstream synthesized them).
fn tool_name_for<'r>(req: &'r ChatRequest, before: usize, id: &str) -> Option<&'r str> {
    req.messages[..req.messages.len().min(before + 1)]
        .iter()
        .rev()
        .flat_map(|m| m.content.iter().rev())
        .find_map(|p| match p {
            Part::ToolCall { id: cid, name, .. } if cid == id => Some(name.as_str()),
            _ => None,
        })
}
