//! Locations inside a JSON body for error messages, built for free and rendered only on error.
//!
//! Decoders walk thousands of elements and fail on almost none; formatting a path string per
//! element cost more than the decoding itself (see bench/translate.rs). A `JsonPath` is a linked
//! list of borrowed segments on the stack: building one is a few stores, and `Display` renders
//! `messages[2].content[0].source` only when an error needs it.

use std::fmt;

#[derive(Clone, Copy, Debug)]
pub enum JsonPath<'a> {
    Root,
    Key(&'a JsonPath<'a>, &'a str),
    Index(&'a JsonPath<'a>, usize),
}

impl<'a> JsonPath<'a> {
    pub const ROOT: JsonPath<'static> = JsonPath::Root;

    /// `self.name`
    pub fn key(&'a self, name: &'a str) -> JsonPath<'a> {
        JsonPath::Key(self, name)
    }

    /// `self[i]`
    pub fn index(&'a self, i: usize) -> JsonPath<'a> {
        JsonPath::Index(self, i)
    }
}

impl fmt::Display for JsonPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonPath::Root => Ok(()),
            JsonPath::Key(JsonPath::Root, k) => f.write_str(k),
            JsonPath::Key(parent, k) => write!(f, "{parent}.{k}"),
            JsonPath::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

impl From<JsonPath<'_>> for String {
    fn from(p: JsonPath<'_>) -> String {
        p.to_string()
    }
}

impl From<&JsonPath<'_>> for String {
    fn from(p: &JsonPath<'_>) -> String {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_a_jq_path() {
        let root = JsonPath::ROOT;
        let m = root.key("messages");
        let m2 = m.index(2);
        let c = m2.key("content");
        let c0 = c.index(0);
        let s = c0.key("source");
        assert_eq!(s.to_string(), "messages[2].content[0].source");
        assert_eq!(String::from(root.key("model")), "model");
        assert_eq!(root.to_string(), "");
    }
}
