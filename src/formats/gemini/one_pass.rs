//! A client's `generateContent` body read in one pass, straight into the canonical request: no
//! `Value` tree for the history, and each call's `args` kept as written from the same pass (where
//! the reading by `Value` writes them out, then walks the body again for their text:
//! `tool_args::RawArgs`).
//!
//! As Anthropic's (`formats::anthropic::one_pass`), it reads a body only where it gives exactly
//! what the reading by `Value` (`request::decode_by_value`, the reference) gives, and refuses the
//! rest: a value of another kind, a member it models given twice (in either spelling), `args`
//! that are not an object, a code part (kept whole as an extra). `request::decode_request` then
//! reads the body by `Value`, which gives the same request or names the refused field. Members
//! other than `contents` are read as `Value`s by the reference's own code (`request::Top`), and
//! so are a function's `response` and the parts that carry data (`inlineData`, `fileData`).

use super::request::{declared_parameters, push_turn, Top};
use super::{
    camel, camel_eq, decode_file_data, decode_inline_data, obj, response_content, set, text_part, CallIds, PART_MEMBERS,
};
use crate::canonical::{
    push_sparing, ChatRequest, Extra, Json, JsonPath, Message, Part, Role, Schema, Tool, ToolResultContent, Written,
};
use crate::formats::one_pass::{self, refused, Scalar, Tree};
use crate::formats::Format;
use crate::wire::json::KeySeed;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use sonic_rs::{JsonContainerTrait, JsonValueTrait, LazyValue};
use std::fmt;

/// The request, or `None` where the reading by `Value` must decide (it names the field).
pub(crate) fn read(body: &[u8], path_model: Option<&str>, stream: bool) -> Option<ChatRequest> {
    let (top, body_model) = one_pass::read(body, BodySeed { stream })?;
    let model = Top::model(path_model, body_model.as_ref()).ok()?;
    Some(top.finish(model))
}

/// Whether `key` is `name` (camelCase) in either spelling, as `gemini::fields` matches keys.
fn is(key: &str, name: &str) -> bool {
    key == name || camel_eq(key, name)
}

/// The top level: `contents` read here, every other member by `Top::field` as the reference
/// reads it; with the first `model` member (the reference's fallback when the URL has none).
struct BodySeed {
    stream: bool,
}

impl<'de> DeserializeSeed<'de> for BodySeed {
    type Value = (Top, Option<Json>);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BodySeed {
    type Value = (Top, Option<Json>);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut top = Top::new(self.stream);
        // `model` as `gemini::field` finds it: the first one spelled so, else the first other
        // spelling (`model_`).
        let (mut model, mut model_spelled_otherwise) = (None, None);
        let (mut contents, mut tools) = (false, false);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if is(&key, "tools") {
                // The reference adds up the tools of repeated ones: left to it.
                if std::mem::replace(&mut tools, true) {
                    return Err(refused());
                }
                if let Some(ToolList { declared, others }) = map.next_value()? {
                    top.req.tools = declared;
                    if !others.is_empty() {
                        top.req.extra.push("tools", Json::from(others));
                    }
                }
                continue;
            }
            // The reference matches top-level keys by their camelCase form (`gemini::camel`).
            if is(&key, "contents") {
                // The reference reads the last of repeated `contents` and writes their calls'
                // arguments out again (`RawArgs` cannot walk to them): left to it.
                if std::mem::replace(&mut contents, true) {
                    return Err(refused());
                }
                if let Some(messages) = map.next_value_seed(Contents { ids: &mut top.ids })? {
                    top.req.messages = messages;
                }
                continue;
            }
            // `generationConfig` as text first: its response schema is kept as written.
            let (value, text) = match is(&key, "generationConfig") {
                true => {
                    let text = map.next_value::<LazyValue<'de>>()?;
                    let value: Json = sonic_rs::from_str(text.as_raw_str()).map_err(de::Error::custom)?;
                    (value, Some(text))
                }
                false => (map.next_value::<Json>()?, None),
            };
            let written = text
                .as_ref()
                .map_or(Written::Unknown, |t| Written::Member(t.as_raw_str()));
            if key == "model" && model.is_none() {
                model = Some(value.clone());
            } else if is(&key, "model") && model_spelled_otherwise.is_none() {
                model_spelled_otherwise = Some(value.clone());
            }
            if !value.is_null() {
                top.field(&key, &value, written).map_err(|_| refused())?;
            }
        }
        Ok((top, model.or(model_spelled_otherwise)))
    }
}

/// `tools`, as `request::decode_tools` reads it: each tool's `functionDeclarations` (either
/// spelling, each declaration's JSON Schema kept as the text it is, never parsed into a tree: an
/// agent's tools as `Value`s cost ten times its short chat), its other members (`googleSearch`,
/// ...) kept as `Value`s, camelCased, for the tools a Gemini target gets back.
struct ToolList {
    declared: Vec<Tool>,
    others: Vec<Json>,
}

impl<'de> Deserialize<'de> for ToolList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ToolList, D::Error> {
        d.deserialize_seq(ToolListVisitor)
    }
}

struct ToolListVisitor;

impl<'de> Visitor<'de> for ToolListVisitor {
    type Value = ToolList;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of tools")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ToolList, A::Error> {
        let mut list = ToolList {
            declared: Vec::new(),
            others: Vec::new(),
        };
        while seq.next_element_seed(GeminiTool { list: &mut list })?.is_some() {}
        Ok(list)
    }
}

/// One of `tools`: its declarations onto the list's, its other members one object of `others`.
struct GeminiTool<'l> {
    list: &'l mut ToolList,
}

impl<'de> DeserializeSeed<'de> for GeminiTool<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for GeminiTool<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tool")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut rest = obj();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if is(&key, "functionDeclarations") {
                let Declarations(declared) = map.next_value()?;
                self.list.declared.extend(declared);
            } else {
                let Tree(value) = map.next_value()?;
                set(&mut rest, &camel(&key), value);
            }
        }
        if rest.as_object().is_some_and(|o| !o.is_empty()) {
            self.list.others.push(rest);
        }
        Ok(())
    }
}

/// `functionDeclarations`: an array (`null` is refused, as the reference refuses it).
struct Declarations(Vec<Tool>);

impl<'de> Deserialize<'de> for Declarations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Declarations, D::Error> {
        Vec::<Declaration>::deserialize(d).map(|all| Declarations(all.into_iter().map(|d| d.0).collect()))
    }
}

/// A `FunctionDeclaration`, as `request::decode_declaration` reads it: `name` (a string; any
/// other key that camelCases to it is left to the reference, which may read it as the name),
/// `description` (the last; not a string: none), `parametersJsonSchema` (the last, as written)
/// or `parameters` (the last, OpenAPI, converted), every other member an extra.
struct Declaration(Tool);

impl<'de> Deserialize<'de> for Declaration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Declaration, D::Error> {
        d.deserialize_map(DeclarationVisitor)
    }
}

struct DeclarationVisitor;

impl<'de> Visitor<'de> for DeclarationVisitor {
    type Value = Declaration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a function declaration")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Declaration, A::Error> {
        let (mut name, mut description) = (None, None);
        let (mut json_schema, mut openapi) = (None::<Schema>, None::<Json>);
        let mut extra = Extra::new(Format::Gemini);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match camel(&key).as_ref() {
                "name" if key == "name" && name.is_none() => {
                    name = Some(map.next_value::<Scalar>()?.into_string().ok_or_else(refused)?)
                }
                "name" => return Err(refused()),
                "description" => description = map.next_value::<Scalar>()?.into_string(),
                "parametersJsonSchema" => json_schema = Some(map.next_value()?),
                "parameters" => openapi = Some(map.next_value::<Tree>()?.0),
                other => extra.push(other, map.next_value::<Tree>()?.0),
            }
        }
        let json_schema = json_schema.filter(|s| s.as_str() != "null");
        Ok(Declaration(Tool {
            name: name.ok_or_else(refused)?,
            description,
            parameters: declared_parameters(json_schema, openapi.as_ref()),
            strict: None,
            extra,
        }))
    }
}

/// `contents`: the turns (`null`: none, and the member is skipped as the reference skips it).
struct Contents<'i> {
    ids: &'i mut CallIds,
}

impl<'de> DeserializeSeed<'de> for Contents<'_> {
    type Value = Option<Vec<Message>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Contents<'_> {
    type Value = Option<Vec<Message>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of Contents")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some((role, content)) = seq.next_element_seed(Content { ids: &mut *self.ids })? {
            push_turn(&mut out, role, content);
        }
        super::request::join_thoughts_of(&mut out);
        Ok(Some(out))
    }
}

/// One `Content`: its role and parts.
struct Content<'i> {
    ids: &'i mut CallIds,
}

impl<'de> DeserializeSeed<'de> for Content<'_> {
    type Value = (Role, Vec<Part>);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Content<'_> {
    type Value = (Role, Vec<Part>);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Content object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut role: Option<Scalar> = None;
        let mut parts: Option<Vec<Part>> = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            // The reference reads the first of a repeated one (and its walk for the arguments
            // gives up on repeated `parts`): left to it.
            if is(&key, "role") {
                if role.replace(map.next_value()?).is_some() {
                    return Err(refused());
                }
            } else if is(&key, "parts") {
                let read = map.next_value_seed(Parts { ids: &mut *self.ids })?;
                if parts.replace(read.unwrap_or_default()).is_some() {
                    return Err(refused());
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        // A role that is not a string is no role, as the reference reads it.
        let role = match role.as_ref().and_then(Scalar::as_str) {
            None | Some("user") | Some("function") | Some("tool") => Role::User,
            Some("model") | Some("assistant") => Role::Assistant,
            Some(_) => return Err(refused()),
        };
        Ok((role, parts.unwrap_or_default()))
    }
}

/// A Content's `parts` (`null`: none).
struct Parts<'i> {
    ids: &'i mut CallIds,
}

impl<'de> DeserializeSeed<'de> for Parts<'_> {
    type Value = Option<Vec<Part>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Parts<'_> {
    type Value = Option<Vec<Part>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of Parts")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(256));
        while let Some(part) = seq.next_element_seed(PartSeed { ids: &mut *self.ids })? {
            push_sparing(&mut parts, part);
        }
        Ok(Some(parts))
    }
}

/// The members of a `Part` the reading models, in the order the reference gives them weight.
#[derive(Default)]
struct Slots {
    signature: Option<Scalar>,
    call: Option<Call>,
    response: Option<Response>,
    inline: Option<Json>,
    file: Option<Json>,
    thought: Option<Scalar>,
    text: Option<String>,
    /// Which members were given, null or not (a second one is left to the reference).
    seen: u16,
}

struct PartSeed<'i> {
    ids: &'i mut CallIds,
}

impl<'de> DeserializeSeed<'de> for PartSeed<'_> {
    type Value = Part;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Part, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PartSeed<'_> {
    type Value = Part;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Part object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Part, A::Error> {
        let mut s = Slots::default();
        while let Some(n) = one_pass::next_member(&mut map, &PART_MEMBERS, is, &mut s.seen)? {
            match n {
                0 => s.signature = Some(map.next_value()?),
                1 => s.call = map.next_value()?,
                2 => s.response = map.next_value_seed(ResponseSeed { ids: &mut *self.ids })?,
                // `Tree`s, as the Anthropic pass reads a block's values.
                3 => s.inline = Some(map.next_value::<Tree>()?.0),
                4 => s.file = Some(map.next_value::<Tree>()?.0),
                5 => s.thought = Some(map.next_value()?),
                6 => s.text = map.next_value()?,
                // Code (`executableCode`, `codeExecutionResult`): a part of it alone is kept
                // whole by the reference, and left to it below.
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        s.into_part(self.ids).ok_or_else(refused)
    }
}

impl Slots {
    /// The part, as `gemini::decode_part` makes it: the first of a call, a result, inline data,
    /// file data, then text, thought or signature; `None` where it would refuse the part or
    /// keep it whole (code).
    fn into_part(self, ids: &mut CallIds) -> Option<Part> {
        let no_path = JsonPath::ROOT;
        let present = |v: Option<Json>| v.filter(|v| !v.is_null());
        let signature = self.signature.and_then(Scalar::into_string);
        if let Some(call) = self.call {
            let name = call.name?;
            return Some(Part::ToolCall {
                id: ids.call(call.id.as_deref(), &name),
                name,
                arguments: call.arguments,
                signature,
                extra: Extra::default(),
            });
        }
        if let Some(r) = self.response {
            let name = r.name?;
            let id = ids.result(r.id.as_deref(), &name);
            let mut content = Vec::new();
            let is_error = response_content(r.response, &mut content);
            for part in r.parts.into_iter().flatten() {
                content.push(match part {
                    Part::Image { source, .. } => ToolResultContent::Image(source),
                    Part::Document { source, name, .. } => ToolResultContent::Document { source, name },
                    Part::Text { text, .. } => ToolResultContent::Text(text),
                    _ => return None,
                });
            }
            return Some(Part::ToolResult {
                id,
                name: Some(name),
                content,
                is_error,
                extra: Extra::default(),
            });
        }
        if let Some(inline) = present(self.inline) {
            return decode_inline_data(&inline, &no_path).ok();
        }
        if let Some(file) = present(self.file) {
            return decode_file_data(&file, &no_path).ok();
        }
        let thought = matches!(self.thought, Some(Scalar::Bool(true)));
        // `None`: a code part (kept whole), or no part the reference reads: left to it.
        text_part(self.text, thought, signature)
    }
}

/// A `functionResponse`: its name, id, `response` and `parts` (`null`: absent, and so is the
/// member itself), read as `gemini::decode_function_response` reads them.
struct Response {
    name: Option<String>,
    id: Option<String>,
    response: Option<Json>,
    parts: Option<Vec<Part>>,
}

struct ResponseSeed<'i> {
    ids: &'i mut CallIds,
}

impl<'de> DeserializeSeed<'de> for ResponseSeed<'_> {
    type Value = Option<Response>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResponseSeed<'_> {
    type Value = Option<Response>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a FunctionResponse object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut r = Response {
            name: None,
            id: None,
            response: None,
            parts: None,
        };
        let mut seen = 0u16;
        while let Some(n) = one_pass::next_member(&mut map, &["name", "id", "response", "parts"], is, &mut seen)? {
            match n {
                // `null` is absent (no name: the reference refuses the part).
                0 => r.name = map.next_value()?,
                // An id that is not a string is no id, as the reference reads it.
                1 => r.id = map.next_value::<Option<Scalar>>()?.and_then(Scalar::into_string),
                // Straight from the deserializer, not a `Tree` (7% of an agent's history): a
                // response is kept in the request, so the arena it shares holds nothing
                // that would be freed otherwise.
                2 => r.response = map.next_value()?,
                _ => r.parts = map.next_value_seed(Parts { ids: &mut *self.ids })?,
            }
        }
        Ok(Some(r))
    }
}

/// A `functionCall`: its name, id, and `args` as written (absent or `null`: `{}`).
struct Call {
    name: Option<String>,
    id: Option<String>,
    arguments: String,
}

impl<'de> de::Deserialize<'de> for Call {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Call, D::Error> {
        d.deserialize_map(CallVisitor)
    }
}

struct CallVisitor;

impl<'de> Visitor<'de> for CallVisitor {
    type Value = Call;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a FunctionCall object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Call, A::Error> {
        let (mut name, mut id, mut args) = (None, None, None);
        let mut seen = 0u16;
        while let Some(n) = one_pass::next_member(&mut map, &["name", "id", "args"], is, &mut seen)? {
            match n {
                // `null` is absent (no name: the reference refuses the part).
                0 => name = map.next_value::<Option<String>>()?,
                // An id that is not a string is no id, as the reference reads it.
                1 => id = map.next_value::<Json>()?.as_str().map(str::to_string),
                _ => args = Some(map.next_value::<LazyValue<'de>>()?),
            }
        }
        let arguments = one_pass::arguments(args.as_ref()).ok_or_else(refused)?;
        Ok(Call { name, id, arguments })
    }
}

#[cfg(test)]
mod tests {
    use super::read;
    use crate::formats::gemini::decode_by_value;

    const FIXTURES: [&[u8]; 3] = [
        include_bytes!("fixtures/request.json"),
        include_bytes!("fixtures/request_snake_thinking.json"),
        include_bytes!("fixtures/request_image_output.json"),
    ];

    /// Reads `body` both ways: the one pass takes it (or not, as `taken` says) and, where it
    /// does, gives what the reference gives.
    fn check(body: &[u8], path_model: Option<&str>, taken: bool) {
        let shown = String::from_utf8_lossy(body);
        let fast = read(body, path_model, true);
        assert_eq!(fast.is_some(), taken, "taken by the one pass: {shown}");
        if let Some(fast) = fast {
            let reference = decode_by_value(body, path_model, true).expect(&shown);
            assert!(
                fast == reference,
                "{shown}\none pass: {fast:?}\nby Value: {reference:?}"
            );
        }
    }

    #[test]
    fn the_fixtures_take_the_one_pass_and_read_as_the_reference() {
        for body in FIXTURES {
            check(body, Some("gemini-2.5-flash"), true);
        }
    }

    #[test]
    fn every_kind_of_part_reads_as_the_reference() {
        let body = r#"{"contents":[
            {"role":"user","parts":[{"text":"hi"},
                {"inline_data":{"mime_type":"image/png","data":"aGk="}},
                {"fileData":{"fileUri":"https://example.com/a.pdf","mimeType":"application/pdf"}}]},
            {"role":"model","parts":[{"text":"thinking","thought":true},
                {"thought":true,"thoughtSignature":"c2ln"},
                {"functionCall":{"name":"f","args":{ "b" : [1, 2.50],"a":"\u00e9" }},"thoughtSignature":"c2ln"},
                {"function_call":{"name":"g","args":null,"id":"c2"}}]},
            {"role":"model","parts":[{"functionCall":{"name":"h"}},{"text":"beside","text_x":1}]},
            {"role":"function","parts":[
                {"functionResponse":{"name":"f","response":{"result":"done"}}},
                {"function_response":{"name":"g","id":"c2","response":{"error":"no"}}},
                {"functionResponse":{"name":"h","response":{"a":1},"parts":[{"text":"more"}]}},
                {"functionResponse":{"name":"h","id":5,"response":null,"parts":null}},
                {"functionResponse":null,"text":"beside a null response"}]},
            {"parts":[{"text":"no role"}],"role":null},
            {"role":5,"parts":null}],
            "system_instruction":{"parts":[{"text":"be brief"}]},
            "tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT"}},{"name":"g"},{"name":"h"}]}],
            "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["g","h"]}},
            "generationConfig":{"temperature":0.5,"maxOutputTokens":100},
            "safetySettings":[{"category":"HARM_CATEGORY_HATE_SPEECH","threshold":"BLOCK_NONE"}]}"#;
        check(body.as_bytes(), Some("m"), true);
        // The model from the body (either spelling) when the URL has none, `contents` before
        // everything else, and `contents` null.
        check(
            br#"{"contents":[{"parts":[{"text":"a"}]}],"model":"models/m"}"#,
            None,
            true,
        );
        check(br#"{"model_":"m","contents":[{"parts":[{"text":"a"}]}]}"#, None, true);
        check(br#"{"model":"m","contents":null}"#, None, true);
    }

    /// A function's `response` of every kind reads as the reference reads it: the text of
    /// `{"result":"<text>"}`, an error, any other value as it is.
    #[test]
    fn function_responses_read_as_the_reference() {
        for response in [
            r#"{"result":"done"}"#,
            r#"{ "result" : "esc\"aped \u00e9\n" }"#,
            r#"{"result":""}"#,
            r#"{"r\u0065sult":"escaped key"}"#,
            r#"{"result":"a","result":"b"}"#,
            r#"{"result":"a","more":1}"#,
            r#"{"result":5}"#,
            r#"{"result":{"nested":"x"}}"#,
            r#"{"result_":"snake"}"#,
            r#"{"error":"failed"}"#,
            r#"{"error":{"code":7}}"#,
            r#"{}"#,
            r#"[1,2]"#,
            r#""a string""#,
            r#"3"#,
            r#"null"#,
        ] {
            let body = format!(
                r#"{{"contents":[{{"role":"model","parts":[{{"functionCall":{{"name":"f","args":{{}}}}}}]}},{{"role":"user","parts":[{{"functionResponse":{{"name":"f","response":{response}}}}}]}}]}}"#
            );
            check(body.as_bytes(), Some("m"), true);
        }
        let body = r#"{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"result":"the text"}}}]}]}"#;
        let req = read(body.as_bytes(), Some("m"), false).unwrap();
        match &req.messages[0].content[0] {
            crate::canonical::Part::ToolResult { content, is_error, .. } => {
                assert_eq!(content, &[crate::canonical::ToolResultContent::Text("the text".into())]);
                assert!(!is_error);
            }
            other => panic!("{other:?}"),
        }
    }

    /// `tools`: declarations read with their JSON Schemas as written (the client's key order), the
    /// OpenAPI `parameters` converted, other tools and members as the reference keeps them.
    #[test]
    fn tools_read_as_the_reference() {
        let schema =
            r#"{"type":"object","properties":{"z":{"type":"string"},"a":{"type":"integer"}},"required":["z"]}"#;
        for tools in [
            format!(
                r#"[{{"functionDeclarations":[{{"name":"f","description":"d","parametersJsonSchema":{schema}}}]}}]"#
            ),
            format!(
                r#"[{{"googleSearch":{{}},"function_declarations":[{{"name":"f","parameters_json_schema":null,"parameters":{{"type":"OBJECT","properties":{{"q":{{"type":"STRING"}}}}}},"behavior":"NON_BLOCKING","description":5}},{{"description":"g","name":"g"}}],"code_execution":{{}}}},{{"functionDeclarations":[{{"name":"h","parametersJsonSchema":{schema},"parametersJsonSchema":{{"type":"object"}},"response":{{"type":"string"}}}}]}},{{}}]"#
            ),
            r#"[]"#.to_string(),
            r#"null"#.to_string(),
        ] {
            let body = format!(
                r#"{{"contents":[{{"role":"user","parts":[{{"text":"hi"}}]}}],"tools":{tools},"toolConfig":{{"functionCallingConfig":{{"mode":"ANY","allowedFunctionNames":["g","h"]}}}}}}"#
            );
            check(body.as_bytes(), Some("m"), true);
        }
        let body = format!(
            r#"{{"contents":[],"tools":[{{"functionDeclarations":[{{"name":"f","parametersJsonSchema":{schema}}}]}}]}}"#
        );
        let req = read(body.as_bytes(), Some("m"), false).unwrap();
        assert_eq!(req.tools[0].parameters.as_str(), schema, "as written");
    }

    #[test]
    fn what_the_one_pass_leaves_is_read_by_value() {
        for body in [
            // A repeated `tools` (either spelling: the reference adds them up), `name`, or a key
            // that camelCases to `name` (the reference may read it as the name).
            r#"{"contents":[],"tools":[{"functionDeclarations":[{"name":"f"}]}],"tools_":[{"functionDeclarations":[{"name":"g"}]}]}"#,
            r#"{"contents":[],"tools":[{"functionDeclarations":[{"name":"f","name":"g"}]}]}"#,
            r#"{"contents":[],"tools":[{"functionDeclarations":[{"name_":"f"}]}]}"#,
            // Members the pass models, given twice (in either spelling).
            r#"{"contents":[{"parts":[{"text":"a"}]}],"contents_":[]}"#,
            r#"{"contents":[{"role":"user","role":"model","parts":[{"text":"a"}]}]}"#,
            r#"{"contents":[{"parts":[{"text":"a"}],"parts":[{"text":"b"}]}]}"#,
            r#"{"contents":[{"parts":[{"functionCall":{"name":"f"},"function_call":{"name":"g"}}]}]}"#,
            r#"{"contents":[{"parts":[{"functionCall":{"name":"f","args":{},"args":{}}}]}]}"#,
            // `args` that are not an object, a text beside a call that is not a string, code.
            r#"{"contents":[{"parts":[{"functionCall":{"name":"f","args":[1]}}]}]}"#,
            r#"{"contents":[{"parts":[{"functionCall":{"name":"f"},"text":5}]}]}"#,
            r#"{"contents":[{"parts":[{"executableCode":{"language":"PYTHON","code":"1"}}]}]}"#,
            // `parts` of a response that are not an array (the reference passes over them).
            r#"{"contents":[{"parts":[{"functionResponse":{"name":"f","parts":{}}}]}]}"#,
        ] {
            check(body.as_bytes(), Some("m"), false);
            decode_by_value(body.as_bytes(), Some("m"), true).expect(body);
        }
        // Bytes that are not UTF-8, in `args` (whose text the pass keeps as written).
        let mut body = br#"{"contents":[{"parts":[{"functionCall":{"name":"f","args":{"k":"#.to_vec();
        body.extend_from_slice(b"\"\xd6\xd6\"}}}]}]}");
        assert!(read(&body, Some("m"), false).is_none());
        crate::formats::gemini::decode_request(&body, Some("m"), false).unwrap_err();
        // Refusals: the reference names the field.
        for (body, model, field) in [
            (r#"{"contents":[{"parts":[{"text":"a"}]}]} {}"#, Some("m"), ""),
            (
                r#"{"contents":[{"role":"bot","parts":[]}]}"#,
                Some("m"),
                "contents[0].role",
            ),
            (
                r#"{"contents":[{"parts":[{"functionCall":{"args":{}}}]}]}"#,
                Some("m"),
                "contents[0].parts[0].functionCall.name",
            ),
            (r#"{"contents":[{"parts":[{}]}]}"#, Some("m"), "contents[0].parts[0]"),
            (r#"{"contents":[{"parts":{}}]}"#, Some("m"), "contents[0].parts"),
            (r#"{"contents":[]}"#, None, "model"),
            (
                r#"{"contents":[],"tools":[{"functionDeclarations":null}]}"#,
                Some("m"),
                "tools[0].functionDeclarations",
            ),
            (
                r#"{"contents":[],"tools":[{"functionDeclarations":[{"name":null}]}]}"#,
                Some("m"),
                "tools[0].functionDeclarations[0].name",
            ),
            (r#"{"contents":[],"tools":[5]}"#, Some("m"), "tools[0]"),
            (r#"{"contents":[],"tools":{}}"#, Some("m"), "tools"),
        ] {
            assert!(read(body.as_bytes(), model, false).is_none(), "{body}");
            let e = crate::formats::gemini::decode_request(body.as_bytes(), model, false).unwrap_err();
            assert_eq!(e.field, field, "{body}");
        }
    }

    #[test]
    fn generation_configs_read_as_the_reference_with_their_schemas_as_written() {
        use crate::canonical::ResponseFormat;
        let schema = r#"{"type":"object", "properties":{"b":{"type":"string"},"a":{"type":"number"}}}"#;
        let head = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]"#;
        for config in [
            format!(
                r#""generationConfig":{{"temperature":0.5,"responseMimeType":"application/json","responseJsonSchema":{schema}}}"#
            ),
            format!(
                r#""generation_config":{{"response_json_schema":{schema},"response_mime_type":"application/json","top_k":40.0}}"#
            ),
        ] {
            let body = format!("{head},{config}}}");
            check(body.as_bytes(), Some("m"), true);
            // As the client wrote it (property `b` ahead of `a`), in either spelling.
            match read(body.as_bytes(), Some("m"), true).unwrap().response_format {
                Some(ResponseFormat::JsonSchema { schema: s, .. }) => assert_eq!(s.as_str(), schema),
                other => panic!("{other:?}"),
            }
        }
        for config in [
            // Another MIME type: the schema stays raw (an extra), as the reference keeps it.
            format!(r#""generationConfig":{{"responseMimeType":"text/x.enum","responseJsonSchema":{schema},"x":{{"b":1,"a":[2]}}}}"#),
            // OpenAPI's `responseSchema`, repeats, `null`, no schema at all.
            r#""generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"a":{"type":"STRING"}}}}"#.to_string(),
            r#""generationConfig":{"temperature":1,"temperature":0.5,"responseMimeType":"application/json"}"#.to_string(),
            r#""generationConfig":null"#.to_string(),
        ] {
            check(format!("{head},{config}}}").as_bytes(), Some("m"), true);
        }
        let body = format!(r#"{head},"generationConfig":[1]}}"#);
        check(body.as_bytes(), Some("m"), false);
        let e = decode_by_value(body.as_bytes(), Some("m"), true).unwrap_err();
        assert_eq!(e.field, "generationConfig");
    }
}
