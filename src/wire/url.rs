//! Percent-encoding of URL path segments (model names and Bedrock model ids travel in paths).

/// Decodes `%XX` escapes (botocore sends `anthropic.claude-3-5-sonnet-20240620-v1%3A0`; SDKs may
/// escape `/` in model names). Returns `None` for a bad escape or invalid UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes a path segment: everything but RFC 3986 unreserved characters (so `:` and `/`
/// in Bedrock ids and ARNs become `%3A` and `%2F`, as botocore sends them).
pub fn percent_encode_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[(b >> 4) as usize]));
            out.push(char::from(b"0123456789ABCDEF"[(b & 15) as usize]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_escapes() {
        let id = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2:1";
        let mut enc = String::new();
        percent_encode_into(&mut enc, id);
        assert!(!enc.contains(':') && !enc.contains('/'));
        assert_eq!(percent_decode(&enc).as_deref(), Some(id));
        assert_eq!(percent_decode("a%zz"), None);
        assert_eq!(percent_decode("a%4"), None);
        assert_eq!(percent_decode("%FF"), None, "invalid UTF-8");
    }
}
