//! Cross-origin requests from browsers (`server.cors_allowed_origins`): the preflight answer, and
//! the headers that let a page read an answer. Off by default: a gateway behind a load balancer
//! serves SDKs, not pages, and a browser origin must be named to be let in.
//!
//! Answers are not credentialed (the SDKs send their key in a header, never a cookie), so `*`
//! works for the allowed and exposed headers as well as for the origin.

/// The allowed origins, as compiled from the config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cors {
    /// `"*"` was listed: any origin.
    any: bool,
    /// Lowercased `scheme://host[:port]`.
    origins: Vec<String>,
}

/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

impl Cors {
    /// Compiles the config list; `Err` names the first entry that is neither `*` nor an origin.
    pub fn new(list: &[String]) -> Result<Cors, String> {
        let mut cors = Cors::default();
        for entry in list {
            if entry == "*" {
                cors.any = true;
            } else if is_origin(entry) {
                cors.origins.push(entry.to_ascii_lowercase());
            } else {
                return Err(format!(
                    "{entry:?} is not an origin (scheme://host[:port], no path) or \"*\""
                ));
            }
        }
        Ok(cors)
    }

    pub fn enabled(&self) -> bool {
        self.any || !self.origins.is_empty()
    }

    /// The `access-control-allow-origin` value for a request from `origin`, if it is let in.
    pub fn allow<'a>(&self, origin: &'a str) -> Option<&'a str> {
        if self.any {
            Some("*")
        } else {
            self.origins
                .iter()
                .any(|o| o.eq_ignore_ascii_case(origin))
                .then_some(origin)
        }
    }
}

/// `scheme://host[:port]` as a browser sends it in `Origin`: http or https, a host, no path.
fn is_origin(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")) else {
        return false;
    };
    let host = rest.rsplit_once(':').map_or(rest, |(h, port)| {
        if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            rest
        }
    });
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'))
}

/// Appends the headers of an answer to an allowed origin as raw head lines.
pub fn write_answer_headers(out: &mut Vec<u8>, allow: &str) {
    out.extend_from_slice(b"access-control-allow-origin: ");
    out.extend_from_slice(allow.as_bytes());
    // SDKs read request ids, retry hints and rate-limit headers, which a page sees only when
    // they are exposed.
    out.extend_from_slice(b"\r\naccess-control-expose-headers: *\r\n");
    if allow != "*" {
        // The answer depends on the origin: caches must keep one per origin.
        out.extend_from_slice(b"vary: origin\r\n");
    }
}

/// The headers of a preflight answer (204) to an allowed origin. The methods and headers asked
/// for are granted as asked: the gateway's routes decide what is served, and SDKs send headers
/// of their own (`x-stainless-*`, `anthropic-version`, `x-goog-api-client`, ...).
pub fn preflight_headers<'a>(allow: &'a str, requested_headers: Option<&'a [u8]>) -> Vec<(&'static str, &'a [u8])> {
    let mut h: Vec<(&'static str, &[u8])> = vec![
        ("access-control-allow-origin", allow.as_bytes()),
        ("access-control-allow-methods", b"GET, POST, OPTIONS"),
        ("access-control-max-age", PREFLIGHT_MAX_AGE.as_bytes()),
    ];
    if let Some(r) = requested_headers.filter(|r| !r.is_empty()) {
        h.push(("access-control-allow-headers", r));
    }
    if allow != "*" {
        h.push((
            "vary",
            b"origin, access-control-request-method, access-control-request-headers",
        ));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(list: &[&str]) -> Result<Cors, String> {
        Cors::new(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn origins_are_matched_exactly_and_without_case() {
        let c = cors(&["https://App.example", "http://localhost:3000"]).unwrap();
        assert!(c.enabled());
        assert_eq!(c.allow("https://app.example"), Some("https://app.example"));
        assert_eq!(c.allow("http://localhost:3000"), Some("http://localhost:3000"));
        for other in [
            "http://app.example",
            "https://app.example:443",
            "https://evil.example",
            "null",
            "",
        ] {
            assert_eq!(c.allow(other), None, "{other}");
        }
        let any = cors(&["*"]).unwrap();
        assert_eq!(any.allow("https://anything.example"), Some("*"));
        assert!(!cors(&[]).unwrap().enabled());
    }

    #[test]
    fn entries_that_are_not_origins_are_refused() {
        for bad in [
            "app.example",
            "https://app.example/",
            "https://app.example/path",
            "ftp://app.example",
            "https://",
            "https://a b",
            "*.example",
        ] {
            let e = cors(&[bad]).unwrap_err();
            assert!(e.contains("is not an origin"), "{bad}: {e}");
        }
        assert!(cors(&["https://[::1]:8443", "http://127.0.0.1:8080"]).is_ok());
    }

    #[test]
    fn answer_headers_vary_by_origin_unless_any_is_allowed() {
        let mut out = Vec::new();
        write_answer_headers(&mut out, "https://app.example");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "access-control-allow-origin: https://app.example\r\naccess-control-expose-headers: *\r\nvary: origin\r\n"
        );
        let mut out = Vec::new();
        write_answer_headers(&mut out, "*");
        assert!(!String::from_utf8(out).unwrap().contains("vary"));
    }
}
