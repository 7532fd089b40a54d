//! Images and files a tool returned, for upstreams whose tool messages take text only (OpenAI
//! Chat Completions, Cohere v2). As production gateways do, the tool message keeps the result's
//! text and its images and files go in the `user` message after the turn's tool messages (every
//! tool message must directly follow the assistant's calls), each result's behind a label naming
//! its call. A result with no text gets a short note instead, so no tool message is empty.

use crate::canonical::ToolResultContent;

/// The text before a result's images and files in the following user message.
pub fn label(id: &str) -> String {
    format!("Result of tool call {id}:")
}

/// Whether a result holds an image or a file.
pub fn has_media(content: &[ToolResultContent]) -> bool {
    content
        .iter()
        .any(|c| matches!(c, ToolResultContent::Image(_) | ToolResultContent::Document { .. }))
}

/// A tool message's text when the result has no text: what it holds and where it went, e.g.
/// `The result (2 images) follows in the next message.`
pub fn note(content: &[ToolResultContent]) -> String {
    let count = |f: fn(&ToolResultContent) -> bool| content.iter().filter(|c| f(c)).count();
    let images = count(|c| matches!(c, ToolResultContent::Image(_)));
    let files = count(|c| matches!(c, ToolResultContent::Document { .. }));
    let noun = |n: usize, one: &str| match n {
        1 => format!("1 {one}"),
        n => format!("{n} {one}s"),
    };
    let what = match (images, files) {
        (i, 0) => noun(i, "image"),
        (0, f) => noun(f, "file"),
        (i, f) => format!("{} and {}", noun(i, "image"), noun(f, "file")),
    };
    format!("The result ({what}) follows in the next message.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{DocumentSource, ImageSource};

    #[test]
    fn the_note_counts_what_follows() {
        let img = || ToolResultContent::Image(ImageSource::Url("https://x/a.png".into()));
        let doc = || ToolResultContent::Document {
            source: DocumentSource::Text("t".into()),
            name: None,
        };
        assert_eq!(note(&[img()]), "The result (1 image) follows in the next message.");
        assert_eq!(
            note(&[img(), img()]),
            "The result (2 images) follows in the next message."
        );
        assert_eq!(note(&[doc()]), "The result (1 file) follows in the next message.");
        assert_eq!(
            note(&[img(), doc(), doc()]),
            "The result (1 image and 2 files) follows in the next message."
        );
        assert!(has_media(&[ToolResultContent::Text("a".into()), img()]));
        assert!(!has_media(&[ToolResultContent::Text("a".into())]));
    }
}
