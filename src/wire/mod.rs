//! Bytes on the wire: JSON peek/splice (more codecs arrive with streaming translation).

pub mod json;
