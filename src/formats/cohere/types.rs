//! Cohere v2 wire structs (PROTOCOLS 7.2, 7.3, 7.5). Inbound structs (`*In`) are lenient: every
//! field optional, polymorphic values (`content`, `arguments`) kept as raw JSON and interpreted by
//! the codec so errors can name the exact field. Outbound structs (`*Out`) borrow from the
//! canonical values and keep the field order of the real API and SDK.

use crate::canonical::{Json, Schema};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

// ---- inbound ---------------------------------------------------------------------------------

/// One entry of `messages` (any role; the codec checks which fields the role allows).
#[derive(Deserialize, Debug, Default)]
pub struct CohereMessageIn {
    #[serde(default)]
    pub role: Option<String>,
    /// String, or an array of `{type: text|image_url|thinking|document}` items, read in the
    /// same pass as the message (the codec checks which item types the role allows).
    #[serde(default)]
    pub content: Option<CohereContentIn>,
    #[serde(default)]
    pub tool_calls: Option<Vec<CohereToolCallIn>>,
    #[serde(default)]
    pub tool_plan: Option<String>,
    #[serde(default)]
    pub tool_call_id: Option<String>,
}

/// A message's `content`: a string is one text item; `null` is no items. Anything else is
/// refused (`must be a string or an array`, named by `request::locate_message_error`).
#[derive(Debug)]
pub enum CohereContentIn {
    /// A plain string: one `text` item.
    Text(String),
    Items(Vec<CohereContentItemIn>),
}

impl<'de> Deserialize<'de> for CohereContentIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = CohereContentIn;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<CohereContentIn, E> {
                Ok(CohereContentIn::Text(s.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<CohereContentIn, E> {
                Ok(CohereContentIn::Text(s))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<CohereContentIn, E> {
                Ok(CohereContentIn::Items(Vec::new()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<CohereContentIn, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(CohereContentIn::Items(items))
            }
        }
        d.deserialize_any(Either)
    }
}

/// One content item of a message (user, assistant, system or tool).
#[derive(Deserialize, Debug, Default)]
pub struct CohereContentItemIn {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub thinking: Option<String>,
    #[serde(default)]
    pub image_url: Option<CohereImageUrlIn>,
    #[serde(default)]
    pub document: Option<CohereDocumentIn>,
}

#[derive(Deserialize, Debug, Default)]
pub struct CohereImageUrlIn {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub detail: Option<Json>,
}

#[derive(Deserialize, Debug, Default)]
pub struct CohereDocumentIn {
    #[serde(default)]
    pub data: Option<Json>,
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
pub struct CohereToolCallIn {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<CohereFunctionCallIn>,
}

#[derive(Deserialize, Debug, Default)]
pub struct CohereFunctionCallIn {
    #[serde(default)]
    pub name: Option<String>,
    /// JSON text; an object is tolerated and re-serialized.
    #[serde(default)]
    pub arguments: Option<CohereArgumentsIn>,
}

/// A tool call's `arguments` as JSON text: the string the API sends, or any other value written
/// out compactly. Never read as a `Value`: a `Value` read from a body shares one arena with
/// every other, so one kept value (a tool's schema) would hold every call's arguments for as
/// long as the request lives. (Nor as a `LazyValue`, which costs 18% more on an agent's history:
/// it skips a string, then unescapes it into a buffer of its own.)
#[derive(Debug, Default)]
pub struct CohereArgumentsIn(pub String);

impl<'de> Deserialize<'de> for CohereArgumentsIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = CohereArgumentsIn;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON text")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<CohereArgumentsIn, E> {
                Ok(CohereArgumentsIn(s.to_owned()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<CohereArgumentsIn, E> {
                Ok(CohereArgumentsIn(s))
            }
            fn visit_unit<E: de::Error>(self) -> Result<CohereArgumentsIn, E> {
                Ok(CohereArgumentsIn("{}".to_owned()))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<CohereArgumentsIn, E> {
                Ok(CohereArgumentsIn(b.to_string()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<CohereArgumentsIn, E> {
                Ok(CohereArgumentsIn(n.to_string()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<CohereArgumentsIn, E> {
                Ok(CohereArgumentsIn(n.to_string()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<CohereArgumentsIn, E> {
                written(|out| JsonText(out).visit_f64(n))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CohereArgumentsIn, A::Error> {
                written(|out| JsonText(out).visit_map(map))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<CohereArgumentsIn, A::Error> {
                written(|out| JsonText(out).visit_seq(seq))
            }
        }
        d.deserialize_any(Text)
    }
}

/// What `write` writes, as the arguments' text.
fn written<E: de::Error>(write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>) -> Result<CohereArgumentsIn, E> {
    let mut out = Vec::new();
    write(&mut out)?;
    String::from_utf8(out).map(CohereArgumentsIn).map_err(E::custom)
}

/// Writes the value it is given as compact JSON (as sonic-rs would serialize its `Value`).
struct JsonText<'a>(&'a mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for JsonText<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonText<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        sonic_rs::to_writer(&mut *self.0, s).map_err(E::custom)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        sonic_rs::to_writer(&mut *self.0, &b).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        sonic_rs::to_writer(&mut *self.0, &n).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        sonic_rs::to_writer(&mut *self.0, &n).map_err(E::custom)
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<(), E> {
        sonic_rs::to_writer(&mut *self.0, &n).map_err(E::custom)
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.push(b'[');
        let mut first = true;
        while seq.next_element_seed(Separated(&mut *self.0, &mut first))?.is_some() {}
        self.0.push(b']');
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.push(b'{');
        let mut first = true;
        while map.next_key_seed(Separated(&mut *self.0, &mut first))?.is_some() {
            self.0.push(b':');
            map.next_value_seed(JsonText(&mut *self.0))?;
        }
        self.0.push(b'}');
        Ok(())
    }
}

/// A value (or key) after a comma unless it is the first.
struct Separated<'a, 'f>(&'a mut Vec<u8>, &'f mut bool);

impl<'de> DeserializeSeed<'de> for Separated<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if !std::mem::take(self.1) {
            self.0.push(b',');
        }
        JsonText(self.0).deserialize(d)
    }
}

#[derive(Deserialize, Debug, Default)]
pub struct CohereToolIn {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub function: Option<CohereFunctionIn>,
}

#[derive(Deserialize, Debug, Default)]
pub struct CohereFunctionIn {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `null` is none (serde reads it so for an `Option`).
    #[serde(default)]
    pub parameters: Option<Schema>,
}

#[derive(Deserialize, Debug, Default)]
pub struct CohereResponseFormatIn {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// As written (`Schema`): the answer's keys follow it.
    #[serde(default)]
    pub json_schema: Option<Schema>,
}

#[derive(Deserialize, Debug, Default)]
pub struct CohereThinkingIn {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub token_budget: Option<u32>,
}

/// A `/v2/chat` success body.
#[derive(Deserialize, Debug, Default)]
pub struct CohereChatResponseIn {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub message: Option<CohereMessageIn>,
    #[serde(default)]
    pub usage: Option<CohereUsageIn>,
}

/// Token counts are floats in the SDK types; integers on the wire.
#[derive(Deserialize, Debug, Default)]
pub struct CohereTokensIn {
    #[serde(default)]
    pub input_tokens: Option<f64>,
    #[serde(default)]
    pub output_tokens: Option<f64>,
}

#[derive(Deserialize, Debug, Default)]
pub struct CohereUsageIn {
    #[serde(default)]
    pub billed_units: Option<CohereTokensIn>,
    #[serde(default)]
    pub tokens: Option<CohereTokensIn>,
    #[serde(default)]
    pub cached_tokens: Option<f64>,
}

/// The data of one `/v2/chat` stream event (PROTOCOLS 7.4); which fields are set depends on
/// `type` (the SSE event name is cosmetic: clients, and we, dispatch on `type`).
#[derive(Deserialize, Debug, Default)]
pub struct CohereStreamEventIn {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// `message-start` only.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default)]
    pub delta: Option<CohereStreamDeltaIn>,
}

#[derive(Deserialize, Debug, Default)]
pub struct CohereStreamDeltaIn {
    #[serde(default)]
    pub message: Option<CohereStreamMessageIn>,
    /// `message-end` only, with `usage` and, when it is `ERROR`, `error`.
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub usage: Option<CohereUsageIn>,
    #[serde(default)]
    pub error: Option<Json>,
}

#[derive(Deserialize, Debug, Default)]
pub struct CohereStreamMessageIn {
    /// `{type, text | thinking}` in content events; `[]` in `message-start`.
    #[serde(default)]
    pub content: Option<Json>,
    #[serde(default)]
    pub tool_plan: Option<String>,
    /// One `{id, type, function{name, arguments}}` (the SDK type); a list is tolerated.
    #[serde(default)]
    pub tool_calls: Option<Json>,
}

/// An error body: `{"id", "message"}` (PROTOCOLS 7.5).
#[derive(Deserialize, Debug, Default)]
pub struct CohereErrorIn {
    #[serde(default)]
    pub message: Option<Json>,
}

// ---- outbound --------------------------------------------------------------------------------

/// `content`: a plain string when it is one text, else an array of items.
#[derive(Serialize, Debug)]
#[serde(untagged)]
pub enum CohereContentOut<'a> {
    Text(&'a str),
    Items(Vec<CohereItemOut<'a>>),
}

#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CohereItemOut<'a> {
    Text { text: Cow<'a, str> },
    Thinking { thinking: &'a str },
    ImageUrl { image_url: CohereImageUrlOut<'a> },
    Document { document: CohereDocumentOut<'a> },
}

#[derive(Serialize, Debug)]
pub struct CohereImageUrlOut<'a> {
    pub url: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a Json>,
}

#[derive(Serialize, Debug)]
pub struct CohereDocumentOut<'a> {
    pub data: &'a Json,
}

#[derive(Serialize, Debug)]
pub struct CohereFunctionCallOut<'a> {
    pub name: &'a str,
    pub arguments: &'a str,
}

#[derive(Serialize, Debug)]
pub struct CohereToolCallOut<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: CohereFunctionCallOut<'a>,
}

/// One request message; fields a role does not use stay `None`/empty and are skipped.
#[derive(Serialize, Debug)]
pub struct CohereMessageOut<'a> {
    pub role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_plan: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<CohereToolCallOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<CohereContentOut<'a>>,
}

#[derive(Serialize, Debug)]
pub struct CohereFunctionOut<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub parameters: &'a Schema,
}

#[derive(Serialize, Debug)]
pub struct CohereToolOut<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: CohereFunctionOut<'a>,
}

#[derive(Serialize, Debug)]
pub struct CohereResponseFormatOut<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<&'a Schema>,
}

#[derive(Serialize, Debug)]
pub struct CohereThinkingOut {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_budget: Option<u32>,
}

/// Raw extra fields, serialized as entries of the enclosing object (used with `flatten`).
#[derive(Debug)]
pub struct CohereExtraOut<'a>(pub Vec<&'a (String, Json)>);

impl Serialize for CohereExtraOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0.iter().copied() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A `/v2/chat` request body, fields in the order the Python SDK sends them.
#[derive(Serialize, Debug)]
pub struct CohereChatRequestOut<'a> {
    pub model: &'a str,
    pub messages: Vec<CohereMessageOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<CohereToolOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict_tools: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<CohereResponseFormatOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<CohereThinkingOut>,
    #[serde(flatten)]
    pub extra: CohereExtraOut<'a>,
    /// The SDK always sends it explicitly.
    pub stream: bool,
}

#[derive(Serialize, Debug)]
pub struct CohereResponseMessageOut<'a> {
    pub role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_plan: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<CohereToolCallOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<CohereItemOut<'a>>,
}

#[derive(Serialize, Debug, Clone, Copy)]
pub struct CohereTokensOut {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[derive(Serialize, Debug, Clone, Copy)]
pub struct CohereUsageOut {
    pub billed_units: CohereTokensOut,
    pub tokens: CohereTokensOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
}

/// A `/v2/chat` success body (PROTOCOLS 7.3 field order).
#[derive(Serialize, Debug)]
pub struct CohereChatResponseOut<'a> {
    pub id: &'a str,
    pub finish_reason: &'a str,
    pub message: CohereResponseMessageOut<'a>,
    pub usage: CohereUsageOut,
}

#[derive(Serialize, Debug)]
pub struct CohereErrorOut<'a> {
    pub id: &'a str,
    pub message: &'a str,
}
