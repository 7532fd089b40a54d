//! Direct JSON writing for the encoders that write their bodies as bytes (Gemini's requests and
//! answers, Anthropic's requests).
//!
//! Those encoders used to build `sonic_rs::Value` trees or serde structs and serialize them; they
//! now append to one buffer, with their own keys as literal bytes (sonic-rs sends every key of a
//! serde struct through its SIMD string escaper, which costs as much for `"role"` as for a long
//! text). The output stays byte-identical to what the serializer gave: compact, strings and
//! numbers escaped and formatted by sonic-rs itself. Gemini's objects have their keys in byte
//! order (the crate enables sonic-rs `sort_keys`, so a `Value` tree came out sorted): fixed-shape
//! objects are written with their keys sorted by hand, and objects whose keys come from raw
//! extras go through `SortedObject`.

use crate::canonical::Json;

/// A JSON string, escaped exactly as sonic-rs serializes it.
pub(crate) fn string(buf: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = sonic_rs::to_writer(&mut *buf, s);
}

/// A raw JSON value (keys sorted by sonic-rs).
pub(crate) fn value(buf: &mut Vec<u8>, v: &Json) {
    let _ = sonic_rs::to_writer(&mut *buf, v);
}

/// `"key":` for a key that needs no escaping (the encoders' own literal keys).
pub(crate) fn key(buf: &mut Vec<u8>, k: &str) {
    buf.push(b'"');
    buf.extend_from_slice(k.as_bytes());
    buf.extend_from_slice(b"\":");
}

pub(crate) fn uint(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

pub(crate) fn int(buf: &mut Vec<u8>, n: i64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A finite float as sonic-rs formats it (callers skip non-finite values, which a `Value`
/// cannot hold).
pub(crate) fn float(buf: &mut Vec<u8>, f: f64) {
    let _ = sonic_rs::to_writer(&mut *buf, &f);
}

/// A comma before every array element or object member but the first.
pub(crate) fn sep(buf: &mut Vec<u8>, first: &mut bool) {
    if !*first {
        buf.push(b',');
    }
    *first = false;
}

/// An object whose members are written in any order and emitted sorted by key, as sonic-rs
/// serializes a `Value` object built with the same inserts (a later insert of a key replaces the
/// earlier value). Member values go to a scratch buffer first, then are copied out in order.
pub(crate) struct SortedObject<'k> {
    scratch: Vec<u8>,
    members: Vec<(&'k str, usize, usize)>,
}

impl<'k> SortedObject<'k> {
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        SortedObject {
            scratch: Vec::with_capacity(bytes),
            members: Vec::with_capacity(8),
        }
    }

    /// Writes the value of member `key` with `f`.
    pub(crate) fn member<E>(&mut self, key: &'k str, f: impl FnOnce(&mut Vec<u8>) -> Result<(), E>) -> Result<(), E> {
        let start = self.scratch.len();
        f(&mut self.scratch)?;
        self.members.push((key, start, self.scratch.len()));
        Ok(())
    }

    /// Appends `{...}` to `out`.
    pub(crate) fn finish(mut self, out: &mut Vec<u8>) {
        // Stable: equal keys stay in insertion order, and the last of a run wins.
        self.members.sort_by(|a, b| a.0.cmp(b.0));
        out.reserve(self.scratch.len() + 16 * self.members.len());
        out.push(b'{');
        let mut first = true;
        for (i, &(k, start, end)) in self.members.iter().enumerate() {
            if self.members.get(i + 1).is_some_and(|next| next.0 == k) {
                continue;
            }
            sep(out, &mut first);
            string(out, k);
            out.push(b':');
            out.extend_from_slice(&self.scratch[start..end]);
        }
        out.push(b'}');
    }
}

/// Every file under `src/formats` (the fixtures and goldens) with its bytes, for tests that run
/// the codecs over all of them (the writers' tests hold them to serde's bytes that way).
#[cfg(test)]
pub(crate) fn for_each_fixture(f: &mut impl FnMut(&std::path::Path, &[u8])) {
    fn walk(dir: &std::path::Path, f: &mut impl FnMut(&std::path::Path, &[u8])) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, f);
            } else if let Ok(body) = std::fs::read(&path) {
                f(&path, &body);
            }
        }
    }
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/formats"), f);
}
