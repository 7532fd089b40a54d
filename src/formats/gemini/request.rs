//! Gemini `generateContent` request body <-> canonical `ChatRequest` (PROTOCOLS 4.2).
//!
//! Keys are matched in either spelling (camelCase or snake_case). Fields with no canonical home
//! (`safetySettings`, `cachedContent`, non-function tools, leftover `generationConfig` and
//! `toolConfig` keys) travel in `ChatRequest.extra` and are merged back when the target is Gemini.

use super::{camel, decode_part, encode_part, field, merge, obj, openapi_to_json_schema, req_str, set, CallIds};
use crate::canonical::{
    ChatRequest, ConvertError, Extra, Json, Message, Part, Reasoning, ResponseFormat, Role, Tool, ToolChoice,
};
use crate::formats::Format;
use sonic_rs::{JsonContainerTrait, JsonValueTrait};

/// Integration: a Gemini request body -> canonical. The model and streaming come from the URL
/// (`path_model`, `stream`); a body `model` is a fallback for raw callers.
pub fn decode_request(body: &[u8], path_model: Option<&str>, stream: bool) -> Result<ChatRequest, ConvertError> {
    let v: Json = sonic_rs::from_slice(body)
        .map_err(|e| ConvertError::new("", format!("request body is not valid JSON: {e}")))?;
    let Some(top) = v.as_object() else {
        return Err(ConvertError::new("", "request body must be a JSON object"));
    };
    let model = match path_model {
        Some(m) => m.to_string(),
        None => field(&v, "model")
            .and_then(|m| m.as_str())
            .map(|m| m.strip_prefix("models/").unwrap_or(m).to_string())
            .ok_or_else(|| ConvertError::new("model", "missing (Gemini carries it in the URL)"))?,
    };
    let mut req = ChatRequest {
        model,
        stream,
        include_usage: true,
        extra: Extra::new(Format::Gemini),
        ..Default::default()
    };
    let mut ids = CallIds::default();
    for (k, val) in top.iter() {
        if val.is_null() {
            continue;
        }
        match camel(k).as_ref() {
            "contents" => req.messages = decode_contents(val, &mut ids)?,
            "systemInstruction" => req.system = decode_system(val, &mut ids)?,
            "tools" => decode_tools(val, &mut req)?,
            "toolConfig" => decode_tool_config(val, &mut req)?,
            "generationConfig" => decode_generation_config(val, &mut req)?,
            "model" => {}
            other => req.extra.push(other, val.clone()),
        }
    }
    Ok(req)
}

fn decode_contents(v: &Json, ids: &mut CallIds) -> Result<Vec<Message>, ConvertError> {
    let arr = v
        .as_array()
        .ok_or_else(|| ConvertError::new("contents", "expected an array"))?;
    let mut out = Vec::with_capacity(arr.len());
    for (i, c) in arr.iter().enumerate() {
        let path = format!("contents[{i}]");
        let role = match field(c, "role").and_then(|r| r.as_str()) {
            None | Some("user") | Some("function") | Some("tool") => Role::User,
            Some("model") | Some("assistant") => Role::Assistant,
            Some(r) => {
                return Err(ConvertError::new(
                    format!("{path}.role"),
                    format!("unknown role {r:?} (expected user or model)"),
                ))
            }
        };
        out.push(Message {
            role,
            content: decode_parts(c, &path, ids)?,
        });
    }
    Ok(out)
}

/// The `parts` of a `Content` object.
fn decode_parts(c: &Json, path: &str, ids: &mut CallIds) -> Result<Vec<Part>, ConvertError> {
    let Some(parts) = field(c, "parts") else {
        if c.is_object() {
            return Ok(Vec::new());
        }
        return Err(ConvertError::new(path, "expected a Content object"));
    };
    let parts = parts
        .as_array()
        .ok_or_else(|| ConvertError::new(format!("{path}.parts"), "expected an array"))?;
    parts
        .iter()
        .enumerate()
        .map(|(j, p)| decode_part(p, &format!("{path}.parts[{j}]"), ids))
        .collect()
}

fn decode_system(v: &Json, ids: &mut CallIds) -> Result<Vec<Part>, ConvertError> {
    // Raw callers sometimes send a bare string; the API wants a Content.
    if let Some(s) = v.as_str() {
        return Ok(vec![Part::text(s)]);
    }
    decode_parts(v, "systemInstruction", ids)
}

fn decode_tools(v: &Json, req: &mut ChatRequest) -> Result<(), ConvertError> {
    let arr = v
        .as_array()
        .ok_or_else(|| ConvertError::new("tools", "expected an array"))?;
    let mut other_tools = Vec::new();
    for (i, t) in arr.iter().enumerate() {
        let Some(t_obj) = t.as_object() else {
            return Err(ConvertError::new(format!("tools[{i}]"), "expected an object"));
        };
        let mut rest = obj();
        for (k, val) in t_obj.iter() {
            if camel(k) != "functionDeclarations" {
                set(&mut rest, &camel(k), val.clone());
                continue;
            }
            let decls = val
                .as_array()
                .ok_or_else(|| ConvertError::new(format!("tools[{i}].functionDeclarations"), "expected an array"))?;
            for (j, d) in decls.iter().enumerate() {
                req.tools
                    .push(decode_declaration(d, &format!("tools[{i}].functionDeclarations[{j}]"))?);
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

fn decode_declaration(d: &Json, path: &str) -> Result<Tool, ConvertError> {
    let name = req_str(d, "name", path)?.to_string();
    let mut tool = Tool {
        name,
        description: None,
        parameters: sonic_rs::json!({"type": "object", "properties": {}}),
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
    if let Some(s) = json_schema.filter(|s| !s.is_null()) {
        tool.parameters = s.clone();
    } else if let Some(s) = openapi.filter(|s| !s.is_null()) {
        tool.parameters = openapi_to_json_schema(s);
    }
    Ok(tool)
}

fn decode_tool_config(v: &Json, req: &mut ChatRequest) -> Result<(), ConvertError> {
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
        let choice = match field(val, "mode").and_then(|m| m.as_str()) {
            Some("AUTO") => Some(ToolChoice::Auto),
            Some("NONE") => Some(ToolChoice::None),
            Some("ANY") if names.len() == 1 => Some(ToolChoice::Named(names[0].to_string())),
            Some("ANY") if names.is_empty() => Some(ToolChoice::Required),
            _ => None,
        };
        match choice {
            Some(c) => req.tool_choice = Some(c),
            // VALIDATED, ANY with several names, ...: kept raw for Gemini targets.
            None => {
                let mut fcc = obj();
                set(&mut fcc, "functionCallingConfig", val.clone());
                merge(&mut rest, &fcc);
            }
        }
    }
    if rest.as_object().is_some_and(|o| !o.is_empty()) {
        req.extra.push("toolConfig", rest);
    }
    Ok(())
}

fn num(v: &Json, path: &str) -> Result<f64, ConvertError> {
    v.as_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| ConvertError::new(path, "expected a number"))
}

fn count(v: &Json, path: &str) -> Result<u32, ConvertError> {
    let f = num(v, path)?;
    if f < 0.0 {
        return Err(ConvertError::new(path, "must not be negative"));
    }
    Ok(f.min(u32::MAX as f64) as u32)
}

fn decode_generation_config(v: &Json, req: &mut ChatRequest) -> Result<(), ConvertError> {
    let Some(o) = v.as_object() else {
        return Err(ConvertError::new("generationConfig", "expected an object"));
    };
    let mut rest = obj();
    let mut mime: Option<&str> = None;
    let mut json_schema: Option<&Json> = None;
    let mut openapi_schema: Option<&Json> = None;
    for (k, val) in o.iter() {
        if val.is_null() {
            continue;
        }
        let key = camel(k);
        let path = format!("generationConfig.{key}");
        match key.as_ref() {
            "temperature" => req.temperature = Some(num(val, &path)?),
            "topP" => req.top_p = Some(num(val, &path)?),
            // The SDK sends topK as a float (40.0).
            "topK" => req.top_k = Some(count(val, &path)?),
            "maxOutputTokens" => req.max_tokens = Some(count(val, &path)?),
            "seed" => req.seed = Some(num(val, &path)? as i64),
            "stopSequences" => {
                let arr = val
                    .as_array()
                    .ok_or_else(|| ConvertError::new(&path, "expected an array of strings"))?;
                req.stop = arr
                    .iter()
                    .map(|s| {
                        s.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| ConvertError::new(&path, "expected an array of strings"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "responseMimeType" => mime = val.as_str(),
            "responseJsonSchema" => json_schema = Some(val),
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
                (Some(s), _) => ResponseFormat::JsonSchema {
                    name: "response".into(),
                    schema: s.clone(),
                    strict: None,
                },
                (None, Some(s)) => ResponseFormat::JsonSchema {
                    name: "response".into(),
                    schema: openapi_to_json_schema(s),
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
            if let Some(s) = json_schema {
                set(&mut rest, "responseJsonSchema", s.clone());
            }
            if let Some(s) = openapi_schema {
                set(&mut rest, "responseSchema", s.clone());
            }
        }
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
pub fn encode_request(req: &ChatRequest) -> Result<Vec<u8>, ConvertError> {
    let extra = req.extra.for_target(Format::Gemini);
    let extra_get = |name: &str| extra.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let mut body = obj();

    let mut contents = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        let lookup = |id: &str| tool_name_for(req, i, id);
        let mut parts = Vec::with_capacity(m.content.len());
        for (j, p) in m.content.iter().enumerate() {
            if let Some(part) = encode_part(p, &format!("messages[{i}].content[{j}]"), &lookup)? {
                parts.push(part);
            }
        }
        if parts.is_empty() {
            // NOTE: Gemini rejects a Content with no parts (e.g. only redacted thinking).
            continue;
        }
        let mut c = obj();
        set(
            &mut c,
            "role",
            match m.role {
                Role::User => "user",
                Role::Assistant => "model",
            },
        );
        set(&mut c, "parts", Json::from(parts));
        contents.push(c);
    }
    set(&mut body, "contents", Json::from(contents));

    if !req.system.is_empty() {
        let mut parts = Vec::new();
        for (j, p) in req.system.iter().enumerate() {
            let path = format!("system[{j}]");
            if !matches!(p, Part::Text { .. }) {
                return Err(ConvertError::new(path, "Gemini systemInstruction takes text only"));
            }
            if let Some(part) = encode_part(p, &path, &|_| None)? {
                parts.push(part);
            }
        }
        let mut si = obj();
        set(&mut si, "parts", Json::from(parts));
        set(&mut body, "systemInstruction", si);
    }

    let mut tools = Vec::new();
    if !req.tools.is_empty() {
        let decls: Vec<Json> = req
            .tools
            .iter()
            .map(|t| {
                let mut d = obj();
                set(&mut d, "name", t.name.as_str());
                if let Some(desc) = &t.description {
                    set(&mut d, "description", desc.as_str());
                }
                let empty = t.parameters.is_null() || t.parameters.as_object().is_some_and(|o| o.is_empty());
                if !empty {
                    set(&mut d, "parametersJsonSchema", t.parameters.clone());
                }
                for (k, v) in t.extra.for_target(Format::Gemini) {
                    set(&mut d, k, v.clone());
                }
                d
            })
            .collect();
        let mut fd = obj();
        set(&mut fd, "functionDeclarations", Json::from(decls));
        tools.push(fd);
    }
    if let Some(other) = extra_get("tools").and_then(|t| t.as_array()) {
        tools.extend(other.iter().cloned());
    }
    if !tools.is_empty() {
        set(&mut body, "tools", Json::from(tools));
    }

    let mut tool_config = obj();
    if let Some(choice) = &req.tool_choice {
        let mut fcc = obj();
        match choice {
            ToolChoice::Auto => set(&mut fcc, "mode", "AUTO"),
            ToolChoice::None => set(&mut fcc, "mode", "NONE"),
            ToolChoice::Required => set(&mut fcc, "mode", "ANY"),
            ToolChoice::Named(n) => {
                set(&mut fcc, "mode", "ANY");
                set(
                    &mut fcc,
                    "allowedFunctionNames",
                    Json::from(vec![Json::from(n.as_str())]),
                );
            }
        }
        set(&mut tool_config, "functionCallingConfig", fcc);
    }
    if let Some(tc) = extra_get("toolConfig") {
        merge(&mut tool_config, tc);
    }
    if tool_config.as_object().is_some_and(|o| !o.is_empty()) {
        set(&mut body, "toolConfig", tool_config);
    }

    let mut gc = obj();
    if let Some(t) = req.temperature {
        set_f64(&mut gc, "temperature", t);
    }
    if let Some(p) = req.top_p {
        set_f64(&mut gc, "topP", p);
    }
    if let Some(k) = req.top_k {
        set(&mut gc, "topK", k as u64);
    }
    if let Some(m) = req.max_tokens {
        set(&mut gc, "maxOutputTokens", m as u64);
    }
    if !req.stop.is_empty() {
        let stops: Vec<Json> = req.stop.iter().map(|s| Json::from(s.as_str())).collect();
        set(&mut gc, "stopSequences", Json::from(stops));
    }
    if let Some(s) = req.seed {
        set(&mut gc, "seed", s);
    }
    match &req.response_format {
        Some(ResponseFormat::Text) => set(&mut gc, "responseMimeType", "text/plain"),
        Some(ResponseFormat::JsonObject) => set(&mut gc, "responseMimeType", "application/json"),
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            set(&mut gc, "responseMimeType", "application/json");
            set(&mut gc, "responseJsonSchema", schema.clone());
        }
        None => {}
    }
    if let Some(r) = &req.reasoning {
        let mut tc = obj();
        if let Some(b) = r.budget_tokens {
            set(&mut tc, "thinkingBudget", b as u64);
        }
        // Effort maps to Gemini 3's thinkingLevel ("low", "high", ...).
        if let Some(e) = &r.effort {
            set(&mut tc, "thinkingLevel", e.as_str());
        }
        if tc.as_object().is_some_and(|o| !o.is_empty()) {
            set(&mut gc, "thinkingConfig", tc);
        }
    }
    if let Some(g) = extra_get("generationConfig") {
        merge(&mut gc, g);
    }
    if gc.as_object().is_some_and(|o| !o.is_empty()) {
        set(&mut body, "generationConfig", gc);
    }

    for (k, v) in extra {
        if !matches!(k.as_str(), "tools" | "toolConfig" | "generationConfig") {
            set(&mut body, k, v.clone());
        }
    }
    sonic_rs::to_vec(&body).map_err(|e| ConvertError::new("", format!("cannot serialize: {e}")))
}

fn set_f64(o: &mut Json, key: &str, v: f64) {
    if let Some(n) = Json::new_f64(v) {
        set(o, key, n);
    }
}

/// The function name of the tool call with `id`, searching backwards from message `before`
/// (ids may repeat across turns when a Gemini upstream synthesized them).
fn tool_name_for(req: &ChatRequest, before: usize, id: &str) -> Option<String> {
    req.messages[..req.messages.len().min(before + 1)]
        .iter()
        .rev()
        .flat_map(|m| m.content.iter().rev())
        .find_map(|p| match p {
            Part::ToolCall { id: cid, name, .. } if cid == id => Some(name.clone()),
            _ => None,
        })
}
