//! Tool choices a provider format cannot say, said through the tools it is offered. A provider's
//! `encode_request` calls `narrow` first: an `Allowed` choice (OpenAI `allowed_tools`, Gemini
//! `ANY` with several names) becomes just the allowed tools with `Auto` or `Required`, and for
//! Cohere, which has only `REQUIRED` and `NONE`, a `Named` one becomes that tool with `Required`.
//!
//! The history is left as it is: earlier calls of tools now left out stay in it. No format
//! refuses them as long as some tools are declared (Bedrock's rule is a `toolConfig` beside
//! toolUse blocks, Anthropic's `tools` beside tool_use blocks), and a narrowed request always
//! declares at least one tool.

use crate::canonical::{ChatRequest, ConvertError, Tool, ToolChoice};
use std::collections::HashSet;

/// Which choices a provider says by narrowing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Narrow {
    /// Every `Allowed` choice (Anthropic, Bedrock).
    Allowed,
    /// `Allowed` without `required` only: Gemini says the required form itself (`ANY` with
    /// `allowedFunctionNames`), which it takes only in mode `ANY`.
    AllowedAuto,
    /// `Allowed` and `Named` (Cohere).
    AllowedOrNamed,
}

/// `req` offering only the tools its choice allows, with the choice `Auto` or `Required`; None
/// when `which` leaves its choice as it is (the common case: nothing is copied). A choice naming
/// a tool that is not declared is refused by the field's name: offering the rest would let the
/// model call tools the client did not choose, or none at all.
pub fn narrow(req: &ChatRequest, which: Narrow) -> Result<Option<ChatRequest>, ConvertError> {
    let (names, required, narrowed) = match (&req.tool_choice, which) {
        (Some(ToolChoice::Allowed { names, required }), _) => {
            let said = which == Narrow::AllowedAuto && *required;
            (names.as_slice(), *required, !said)
        }
        (Some(ToolChoice::Named(name)), Narrow::AllowedOrNamed) => (std::slice::from_ref(name), true, true),
        _ => return Ok(None),
    };
    // Checked where the format says the choice itself too: its API would refuse such a name.
    if let Some(missing) = undeclared(names, &req.tools) {
        return Err(ConvertError::new(
            "tool_choice",
            format!("names the tool {missing:?}, which is not among the declared tools"),
        ));
    }
    if !narrowed {
        return Ok(None);
    }
    let mut out = req.clone();
    let allowed: HashSet<&str> = names.iter().map(String::as_str).collect();
    out.tools.retain(|t| allowed.contains(t.name.as_str()));
    out.tool_choice = Some(if required {
        ToolChoice::Required
    } else {
        ToolChoice::Auto
    });
    Ok(Some(out))
}

/// The first of `names` that no tool of `tools` has. Past a few of each, the declared names go
/// in a set first: a body may list thousands of tools and allow each by name, and names x tools
/// comparisons held a worker for seconds (loadtest/large_bodies.py, shape `allowed`).
pub fn undeclared<'a>(names: &'a [String], tools: &[Tool]) -> Option<&'a String> {
    const FEW: usize = 8;
    if names.len() <= FEW || tools.len() <= FEW {
        return names.iter().find(|n| !tools.iter().any(|t| t.name == **n));
    }
    let declared: HashSet<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    names.iter().find(|n| !declared.contains(n.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The set taken past a few names and tools finds what the scan finds: the first name, in
    /// the order given, that no tool has.
    #[test]
    fn undeclared_finds_the_first_missing_name_at_any_size() {
        let tool = |n: usize| Tool {
            name: format!("f{n}"),
            description: None,
            parameters: sonic_rs::json!({"type": "object"}).into(),
            strict: None,
            extra: Default::default(),
        };
        for (tools, names) in [(3, 2), (3, 40), (40, 3), (40, 40)] {
            let tools: Vec<Tool> = (0..tools).map(tool).collect();
            let declared: Vec<String> = (0..names).rev().map(|n| format!("f{}", n % tools.len())).collect();
            assert_eq!(undeclared(&declared, &tools), None);
            let mut with_missing = declared.clone();
            with_missing.insert(names / 2, "g1".into());
            with_missing.push("g2".into());
            assert_eq!(undeclared(&with_missing, &tools).map(String::as_str), Some("g1"));
        }
    }
    use crate::canonical::{Message, Part, Role, Tool};

    fn tool(name: &str) -> Tool {
        Tool {
            name: name.into(),
            description: None,
            parameters: sonic_rs::json!({"type": "object"}).into(),
            strict: None,
            extra: Default::default(),
        }
    }

    fn req(choice: ToolChoice) -> ChatRequest {
        ChatRequest {
            model: "m".into(),
            tools: vec![tool("a"), tool("b"), tool("c")],
            tool_choice: Some(choice),
            messages: vec![
                Message {
                    role: Role::Assistant,
                    content: vec![Part::ToolCall {
                        id: "1".into(),
                        name: "a".into(),
                        arguments: "{}".into(),
                        signature: None,
                        extra: Default::default(),
                    }],
                },
                Message {
                    role: Role::User,
                    content: vec![Part::text("go on")],
                },
            ],
            ..Default::default()
        }
    }

    fn names(r: &ChatRequest) -> Vec<&str> {
        r.tools.iter().map(|t| t.name.as_str()).collect()
    }

    fn allowed(names: &[&str], required: bool) -> ToolChoice {
        ToolChoice::Allowed {
            names: names.iter().map(|n| n.to_string()).collect(),
            required,
        }
    }

    #[test]
    fn allowed_tools_are_the_tools_offered() {
        for (required, choice) in [(true, ToolChoice::Required), (false, ToolChoice::Auto)] {
            let r = req(allowed(&["c", "b"], required));
            let out = narrow(&r, Narrow::Allowed).unwrap().unwrap();
            // Declaration order is kept; the history still calls `a`, which is left out.
            assert_eq!(names(&out), ["b", "c"]);
            assert_eq!(out.tool_choice, Some(choice));
            assert_eq!(out.messages, r.messages);
        }
    }

    #[test]
    fn gemini_narrows_only_the_optional_form() {
        let r = req(allowed(&["b", "c"], true));
        assert_eq!(narrow(&r, Narrow::AllowedAuto).unwrap(), None);
        let r = req(allowed(&["b", "zz"], true));
        assert_eq!(narrow(&r, Narrow::AllowedAuto).unwrap_err().field, "tool_choice");
        let r = req(allowed(&["b", "c"], false));
        let out = narrow(&r, Narrow::AllowedAuto).unwrap().unwrap();
        assert_eq!(
            (names(&out), out.tool_choice.clone()),
            (vec!["b", "c"], Some(ToolChoice::Auto))
        );
    }

    #[test]
    fn a_named_choice_is_narrowed_for_cohere_only() {
        let r = req(ToolChoice::Named("b".into()));
        assert_eq!(narrow(&r, Narrow::Allowed).unwrap(), None);
        let out = narrow(&r, Narrow::AllowedOrNamed).unwrap().unwrap();
        assert_eq!(
            (names(&out), out.tool_choice.clone()),
            (vec!["b"], Some(ToolChoice::Required))
        );
        for plain in [ToolChoice::Auto, ToolChoice::None, ToolChoice::Required] {
            assert_eq!(narrow(&req(plain), Narrow::AllowedOrNamed).unwrap(), None);
        }
    }

    /// An OpenAI chat whose history called `a` and whose choice allows `b` and `c`.
    fn openai_chat(mode: &str) -> ChatRequest {
        let body = format!(
            r#"{{"model":"m","messages":[{{"role":"user","content":"hi"}},
            {{"role":"assistant","tool_calls":[{{"id":"call_1","type":"function","function":{{"name":"a","arguments":"{{}}"}}}}]}},
            {{"role":"tool","tool_call_id":"call_1","content":"ok"}}],
            "tools":[{{"type":"function","function":{{"name":"a","parameters":{{"type":"object"}}}}}},
            {{"type":"function","function":{{"name":"b","parameters":{{"type":"object"}}}}}},
            {{"type":"function","function":{{"name":"c","parameters":{{"type":"object"}}}}}}],
            "tool_choice":{{"type":"allowed_tools","allowed_tools":{{"mode":"{mode}",
            "tools":[{{"type":"function","function":{{"name":"b"}}}},{{"type":"function","function":{{"name":"c"}}}}]}}}}}}"#
        );
        crate::formats::openai::decode_request(body.as_bytes(), None, false).unwrap()
    }

    fn json(b: &[u8]) -> crate::canonical::Json {
        sonic_rs::from_slice(b).unwrap()
    }

    /// The names in an array of tools `arr`, each at `at`.
    fn tool_names(arr: &crate::canonical::Json, at: &[&str]) -> Vec<String> {
        use sonic_rs::{JsonContainerTrait, JsonValueTrait};
        let arr = arr.as_array().expect("tools");
        arr.iter()
            .filter_map(|t| t.pointer(at).and_then(|n| n.as_str()).map(str::to_string))
            .collect()
    }

    #[test]
    fn every_target_offers_only_the_allowed_tools() {
        use crate::formats::{anthropic, bedrock, cohere, gemini};
        use sonic_rs::{json, JsonValueTrait};
        for (mode, required) in [("required", true), ("auto", false)] {
            let r = openai_chat(mode);
            let names = vec!["b".to_string(), "c".to_string()];
            assert_eq!(
                r.tool_choice,
                Some(ToolChoice::Allowed {
                    names: names.clone(),
                    required
                })
            );

            let v = json(&anthropic::encode_request(&r).unwrap());
            assert_eq!(tool_names(&v["tools"], &["name"]), names, "anthropic");
            assert_eq!(v["tool_choice"]["type"], json!(if required { "any" } else { "auto" }));
            // The history keeps its call of `a`, which Anthropic takes beside other tools.
            assert_eq!(v["messages"][1]["content"][0]["name"], json!("a"));

            let v = json(&bedrock::encode_request(&r).unwrap());
            assert_eq!(
                tool_names(&v["toolConfig"]["tools"], &["toolSpec", "name"]),
                names,
                "bedrock"
            );
            let choice = if required {
                json!({"any": {}})
            } else {
                json!({"auto": {}})
            };
            assert_eq!(v["toolConfig"]["toolChoice"], choice);

            let v = json(&cohere::encode_request(&r).unwrap());
            assert_eq!(tool_names(&v["tools"], &["function", "name"]), names, "cohere");
            assert_eq!(
                v.get("tool_choice").and_then(|c| c.as_str()),
                required.then_some("REQUIRED")
            );

            // Gemini says the required form itself, with every tool declared; the optional one
            // (allowedFunctionNames go with ANY only) by the tools offered.
            let v = json(&gemini::encode_request(&r).unwrap());
            let declared = tool_names(&v["tools"][0]["functionDeclarations"], &["name"]);
            let fcc = &v["toolConfig"]["functionCallingConfig"];
            if required {
                assert_eq!(declared, ["a", "b", "c"]);
                assert_eq!(*fcc, json!({"mode": "ANY", "allowedFunctionNames": ["b", "c"]}));
            } else {
                assert_eq!(declared, names);
                assert_eq!(*fcc, json!({"mode": "AUTO"}));
            }
        }
    }

    #[test]
    fn gemini_any_with_several_names_is_allowed_tools_for_openai() {
        let body = br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],
            "tools":[{"functionDeclarations":[{"name":"a"},{"name":"b"},{"name":"c"}]}],
            "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["b","zz","c"]}}}"#;
        let r = crate::formats::gemini::decode_request(body, Some("m"), false).unwrap();
        let v = json(&crate::formats::openai::encode_request(&r).unwrap());
        assert_eq!(tool_names(&v["tools"], &["function", "name"]), ["a", "b", "c"]);
        // `zz` names no declared tool, so the model could never call it: left out.
        assert_eq!(
            v["tool_choice"],
            sonic_rs::json!({"type": "allowed_tools", "allowed_tools": {"mode": "required",
                "tools": [{"type": "function", "function": {"name": "b"}}, {"type": "function", "function": {"name": "c"}}]}})
        );
    }

    #[test]
    fn cohere_is_offered_just_the_named_tool() {
        let mut r = openai_chat("auto");
        r.tool_choice = Some(ToolChoice::Named("c".into()));
        let v = json(&crate::formats::cohere::encode_request(&r).unwrap());
        assert_eq!(tool_names(&v["tools"], &["function", "name"]), ["c"]);
        assert_eq!(v["tool_choice"], sonic_rs::json!("REQUIRED"));
        r.tool_choice = Some(ToolChoice::Named("zz".into()));
        assert_eq!(
            crate::formats::cohere::encode_request(&r).unwrap_err().field,
            "tool_choice"
        );
    }

    #[test]
    fn a_choice_of_an_undeclared_tool_is_refused_by_name() {
        let e = narrow(&req(allowed(&["b", "zz"], true)), Narrow::Allowed).unwrap_err();
        assert_eq!(e.field, "tool_choice");
        assert!(e.message.contains("\"zz\""), "{}", e.message);
        let e = narrow(&req(ToolChoice::Named("zz".into())), Narrow::AllowedOrNamed).unwrap_err();
        assert_eq!(e.field, "tool_choice");
    }
}
