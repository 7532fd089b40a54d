//! Standard base64 (RFC 4648, with padding): the form JSON bodies carry binary in (Bedrock
//! event-stream chunks and blobs, inline documents), by the `base64-simd` crate. No allocation
//! beyond the output.

use base64_simd::STANDARD;
use std::borrow::Cow;

/// Appends the base64 of `data` to `out`.
pub fn encode_into(out: &mut Vec<u8>, data: &[u8]) {
    STANDARD.encode_append(data, out);
}

/// The base64 of `data`.
pub fn encode(data: &[u8]) -> String {
    STANDARD.encode_to_string(data)
}

/// Decodes base64, padding optional (forgiving base64: ASCII whitespace is skipped, as clients
/// that wrap long lines send it); None on any other character.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    base64_simd::forgiving_decode_to_vec(s.as_bytes()).ok()
}

/// `s` in the standard alphabet. Gemini reads bytes in either alphabet and the google-genai SDK
/// sends the URL-safe one (`-`, `_`); every other API takes only `+` and `/`.
pub fn to_standard(s: &str) -> Cow<'_, str> {
    if s.contains(['-', '_']) {
        // One pass into one allocation (image data runs to megabytes).
        let mut out = String::with_capacity(s.len());
        out.extend(s.chars().map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        }));
        Cow::Owned(out)
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_round_trip() {
        for (data, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(data.as_bytes()), want);
            assert_eq!(decode(want).as_deref(), Some(data.as_bytes()));
        }
        assert_eq!(decode("Zm8").as_deref(), Some(b"fo".as_slice()));
        assert_eq!(decode("Z"), None);
        assert_eq!(decode("Zm9v!"), None);
        assert_eq!(decode("Zm9v\nYmFy").as_deref(), Some(b"foobar".as_slice()));
        assert_eq!(to_standard("-_8="), "+/8=");
        assert!(matches!(to_standard("+/8="), Cow::Borrowed("+/8=")));
    }
}
