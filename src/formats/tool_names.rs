//! Tool names made to fit the upstream's rules, and given back to the client.
//!
//! Each provider checks the names of the tools it is given: OpenAI `^[a-zA-Z0-9_-]{1,64}$`,
//! Anthropic the same up to 128 characters, Bedrock Converse up to 64, Gemini also `.` and `:`
//! but from a letter or `_`, up to 128 (google-genai's `FunctionDeclaration.name`), Cohere from
//! no digit. A name made for one provider can break another's rule (a Gemini client's
//! `github.create_issue`, an Anthropic client's 100-character name sent to OpenAI): the upstream
//! answers 400, which the client cannot fix.
//!
//! A name that breaks the rule is replaced as call ids are (`call_ids::replace`): the same name
//! always maps the same way, so the declarations, the tool choice and the calls and results of
//! the history agree. The model answers with the name it was given, so `Renames` maps its calls
//! back to the client's names: in the unary answer, and in a stream as a chunk hook that is there
//! only when something was renamed. Names that fit are sent as they are, at no cost.

use super::{call_ids, Format};
use crate::canonical::stream::StreamEvent;
use crate::canonical::{ChatRequest, ChatResponse, Part, ToolChoice};
use crate::plugin::{ChunkHook, ChunkVerdict};

/// What an upstream accepts as a tool name: `[A-Za-z0-9_-]` and `also`, at most `max_len`.
#[derive(Debug, Clone, Copy)]
pub struct NameRule {
    pub max_len: usize,
    pub also: &'static str,
    /// The first character is a letter or `_`.
    pub letter_first: bool,
}

pub const OPENAI: NameRule = NameRule {
    max_len: 64,
    also: "",
    letter_first: false,
};

pub const ANTHROPIC: NameRule = NameRule {
    max_len: 128,
    also: "",
    letter_first: false,
};

pub const BEDROCK: NameRule = NameRule {
    max_len: 64,
    also: "",
    letter_first: false,
};

pub const GEMINI: NameRule = NameRule {
    max_len: 128,
    also: ".:",
    letter_first: true,
};

/// Cohere documents only "no leading digit"; its length is taken as OpenAI's.
pub const COHERE: NameRule = NameRule {
    max_len: 64,
    also: "",
    letter_first: true,
};

/// The rule of `format`'s chat API.
pub fn rule(format: Format) -> NameRule {
    match format {
        Format::OpenAi => OPENAI,
        Format::Anthropic => ANTHROPIC,
        Format::Gemini => GEMINI,
        Format::Bedrock => BEDROCK,
        Format::Cohere => COHERE,
    }
}

fn allowed(c: char, rule: NameRule) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || rule.also.contains(c)
}

fn leads(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// Whether `rule` takes `name` as it is.
pub fn fits(name: &str, rule: NameRule) -> bool {
    !name.is_empty()
        && name.len() <= rule.max_len
        && name.chars().all(|c| allowed(c, rule))
        && (!rule.letter_first || name.starts_with(leads))
}

/// The name as `rule` accepts it: `name` itself when it fits.
pub fn fit(name: &str, rule: NameRule) -> String {
    if fits(name, rule) {
        return name.to_string();
    }
    // `_` goes before a first character the rule does not take there (a digit).
    let lead = rule.letter_first && !name.starts_with(leads);
    let fitted = call_ids::replace(name, rule.max_len - usize::from(lead), |c| allowed(c, rule));
    match lead {
        true => format!("_{fitted}"),
        false => fitted,
    }
}

/// Every tool name of `req`: declared, chosen, and called or answered in the history.
pub(crate) fn names(req: &ChatRequest) -> impl Iterator<Item = &String> {
    let chosen: &[String] = match &req.tool_choice {
        Some(ToolChoice::Named(n)) => std::slice::from_ref(n),
        Some(ToolChoice::Allowed { names, .. }) => names,
        _ => &[],
    };
    let history = req.messages.iter().flat_map(|m| &m.content).filter_map(|p| match p {
        Part::ToolCall { name, .. } | Part::ToolResult { name: Some(name), .. } => Some(name),
        _ => None,
    });
    req.tools.iter().map(|t| &t.name).chain(chosen).chain(history)
}

/// `names`, to rewrite.
fn names_mut(req: &mut ChatRequest) -> impl Iterator<Item = &mut String> {
    let chosen: &mut [String] = match &mut req.tool_choice {
        Some(ToolChoice::Named(n)) => std::slice::from_mut(n),
        Some(ToolChoice::Allowed { names, .. }) => names,
        _ => &mut [],
    };
    let history = req
        .messages
        .iter_mut()
        .flat_map(|m| &mut m.content)
        .filter_map(|p| match p {
            Part::ToolCall { name, .. } | Part::ToolResult { name: Some(name), .. } => Some(name),
            _ => None,
        });
    req.tools.iter_mut().map(|t| &mut t.name).chain(chosen).chain(history)
}

/// `req` with every tool name made to fit `rule`, or None when all already do (the common case:
/// nothing is copied).
pub fn fit_request(req: &ChatRequest, rule: NameRule) -> Option<ChatRequest> {
    if names(req).all(|n| fits(n, rule)) {
        return None;
    }
    let mut out = req.clone();
    for n in names_mut(&mut out).filter(|n| !fits(n, rule)) {
        *n = fit(n, rule);
    }
    Some(out)
}

/// The client's names of the tools `fit_request` renamed, by the name the upstream was given.
#[derive(Debug, PartialEq)]
pub struct Renames(Vec<(String, String)>);

impl Renames {
    /// What `fit_request(req, rule)` renames, or None when every name fits.
    pub fn of(req: &ChatRequest, rule: NameRule) -> Option<Renames> {
        let mut out: Vec<(String, String)> = Vec::new();
        for n in names(req).filter(|n| !fits(n, rule)) {
            if !out.iter().any(|(_, original)| original == n) {
                out.push((fit(n, rule), n.clone()));
            }
        }
        (!out.is_empty()).then_some(Renames(out))
    }

    /// `name` as the client declared it (unchanged when it was not renamed).
    pub fn restore(&self, name: &mut String) {
        if let Some((_, original)) = self.0.iter().find(|(fitted, _)| fitted == name) {
            name.clone_from(original);
        }
    }

    /// The answer's tool calls under the client's names.
    pub fn restore_response(&self, resp: &mut ChatResponse) {
        for p in &mut resp.content {
            if let Part::ToolCall { name, .. } = p {
                self.restore(name);
            }
        }
    }
}

/// A stream's tool calls under the client's names (a name comes only in `ToolCallStart`).
impl ChunkHook for Renames {
    fn on_event(&mut self, event: &mut StreamEvent) -> ChunkVerdict {
        if let StreamEvent::ToolCallStart { name, .. } = event {
            self.restore(name);
        }
        ChunkVerdict::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{Extra, Message, Role, Tool, ToolResultContent};

    const ALL: [NameRule; 5] = [OPENAI, ANTHROPIC, GEMINI, BEDROCK, COHERE];

    #[test]
    fn names_that_fit_stay_and_others_are_replaced_stably() {
        for rule in ALL {
            assert_eq!(fit("get_weather-2", rule), "get_weather-2");
        }
        assert_eq!(fit("github.create_issue", GEMINI), "github.create_issue");
        assert_eq!(fit("ns:tool", GEMINI), "ns:tool");
        let long = "t".repeat(100);
        assert_eq!(fit(&long, ANTHROPIC), long);
        for name in ["github.create_issue", "ns:tool", long.as_str(), "1st", "é", "", "-x"] {
            for rule in ALL {
                let f = fit(name, rule);
                assert!(fits(&f, rule), "{name:?} -> {f:?}");
                assert_eq!(fit(&f, rule), f, "idempotent");
                assert_eq!(fit(name, rule), f, "stable");
            }
        }
        assert!(fit("github.create_issue", OPENAI).starts_with("github_create_issue_"));
        assert!(fit("1st", COHERE).starts_with("_1st_"));
        // Two names that sanitise alike stay apart.
        assert_ne!(fit("a.b", BEDROCK), fit("a:b", BEDROCK));
        assert_ne!(fit(&"x".repeat(65), OPENAI), fit(&"x".repeat(66), OPENAI));
    }

    fn request(name: &str) -> ChatRequest {
        ChatRequest {
            messages: vec![
                Message {
                    role: Role::Assistant,
                    content: vec![Part::ToolCall {
                        id: "call_1".into(),
                        name: name.into(),
                        arguments: "{}".into(),
                        signature: None,
                        extra: Extra::default(),
                    }],
                },
                Message {
                    role: Role::User,
                    content: vec![Part::ToolResult {
                        id: "call_1".into(),
                        name: Some(name.into()),
                        content: vec![ToolResultContent::Text("ok".into())],
                        is_error: false,
                        extra: Extra::default(),
                    }],
                },
            ],
            tools: vec![Tool {
                name: name.into(),
                description: None,
                parameters: sonic_rs::json!({"type": "object"}).into(),
                strict: None,
                extra: Default::default(),
            }],
            tool_choice: Some(ToolChoice::Named(name.into())),
            ..Default::default()
        }
    }

    #[test]
    fn requests_are_renamed_alike_and_answers_mapped_back() {
        let ok = request("get_weather");
        assert!(fit_request(&ok, OPENAI).is_none());
        assert!(Renames::of(&ok, OPENAI).is_none());

        let dotted = request("github.create_issue");
        assert!(fit_request(&dotted, GEMINI).is_none());
        let fixed = fit_request(&dotted, OPENAI).unwrap();
        let fitted = fit("github.create_issue", OPENAI);
        let all: Vec<&String> = names(&fixed).collect();
        assert_eq!(all.len(), 4);
        assert!(all.iter().all(|n| **n == fitted), "{all:?}");

        let renames = Renames::of(&dotted, OPENAI).unwrap();
        assert_eq!(renames.0.len(), 1, "one entry per name");
        let mut resp = ChatResponse {
            content: vec![Part::ToolCall {
                id: "c".into(),
                name: fitted.clone(),
                arguments: "{}".into(),
                signature: None,
                extra: Extra::default(),
            }],
            id: String::new(),
            model: String::new(),
            finish: crate::canonical::FinishReason::ToolCalls,
            usage: Default::default(),
            stop_sequence: None,
            created: 0,
            logprobs: Vec::new(),
        };
        renames.restore_response(&mut resp);
        assert!(matches!(&resp.content[0], Part::ToolCall { name, .. } if name == "github.create_issue"));

        let mut hook = renames;
        let mut event = StreamEvent::ToolCallStart {
            index: 0,
            id: "c".into(),
            name: fitted,
        };
        assert_eq!(hook.on_event(&mut event), ChunkVerdict::Pass);
        assert!(matches!(event, StreamEvent::ToolCallStart { name, .. } if name == "github.create_issue"));
        // A name the upstream was not given a replacement for is left alone.
        let mut other = "lookup".to_string();
        hook.restore(&mut other);
        assert_eq!(other, "lookup");
    }

    #[test]
    fn allowed_tool_names_are_renamed_with_their_declarations() {
        let mut dotted = request("github.create_issue");
        dotted.tool_choice = Some(ToolChoice::Allowed {
            names: vec!["github.create_issue".into()],
            required: true,
        });
        let fixed = fit_request(&dotted, OPENAI).unwrap();
        let fitted = fit("github.create_issue", OPENAI);
        assert_eq!(
            fixed.tool_choice,
            Some(ToolChoice::Allowed {
                names: vec![fitted.clone()],
                required: true
            })
        );
        assert_eq!(fixed.tools[0].name, fitted);
    }
}
