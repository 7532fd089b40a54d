//! AWS SigV4 signing of outbound Bedrock requests (provider role, PROTOCOLS 5.1).
//!
//! Pure: the caller passes the clock, so the same inputs always give the same headers. The scope
//! service is `bedrock` (not `bedrock-runtime`); no `x-amz-content-sha256` header is sent, as
//! botocore does for this service. Never panics: every failure is an `Err` naming the cause.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign as sigv4_sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4::SigningParams;
use std::time::SystemTime;

/// The credential scope's service name for Bedrock Runtime.
pub const SERVICE: &str = "bedrock";

/// Credentials come from the provider's config (`aws_*` keys), already resolved.
pub use crate::config::AwsCredentials;

/// Signs one request and returns the headers to add: `authorization`, `x-amz-date`, and
/// `x-amz-security-token` when the credentials carry a session token.
///
/// `host` is the `Host` header value that will be sent (with `:port` when not the default);
/// `path_and_query` is already percent-encoded as it goes on the wire (e.g.
/// `/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse`); `headers` are the other
/// headers to sign (typically `content-type`). A `host` entry in `headers` wins over `host`.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    method: &str,
    host: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    creds: &AwsCredentials,
    region: &str,
    now: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    if host.is_empty() || host.contains(['/', ' ', '?', '#', '@']) {
        return Err(format!("sigv4: bad host {host:?}"));
    }
    if !path_and_query.starts_with('/') {
        return Err(format!("sigv4: path must start with '/': {path_and_query:?}"));
    }
    if region.is_empty() {
        return Err("sigv4: empty region".into());
    }
    let uri = format!("https://{host}{path_and_query}");
    let mut all: Vec<(&str, &str)> = Vec::with_capacity(headers.len() + 1);
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        // Signing the host explicitly keeps a non-default port exactly as it is sent.
        all.push(("host", host));
    }
    all.extend_from_slice(headers);
    let identity = Credentials::new(
        creds.access_key_id.as_str(),
        creds.secret_access_key.as_str(),
        creds.session_token.clone(),
        None,
        "sluice",
    )
    .into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("sigv4: {e}"))?
        .into();
    let request = SignableRequest::new(method, uri, all.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| format!("sigv4: {e}"))?;
    let (instructions, _signature) = sigv4_sign(request, &params)
        .map_err(|e| format!("sigv4: {e}"))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const BODY: &[u8] = br#"{"messages":[{"role":"user","content":[{"text":"hi"}]}]}"#;
    const PATH: &str = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse";
    const HOST: &str = "bedrock-runtime.us-east-1.amazonaws.com";

    fn creds(token: Option<&str>) -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_string),
            region: "us-east-1".into(),
        }
    }

    /// 2026-11-23T15:43:24Z.
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_448_604)
    }

    fn get<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
        h.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    // Expected values produced independently with botocore 1.43.11:
    //   req = AWSRequest(method="POST", url="https://" + HOST + PATH, data=BODY,
    //                    headers={"Content-Type": "application/json"})
    //   with mock.patch.object(botocore.auth, "get_current_datetime", return_value=<same instant>):
    //       SigV4Auth(Credentials(AKID, SECRET, token), "bedrock", "us-east-1").add_auth(req)
    // and reading req.headers["Authorization"] (token None, then "FQoGZXIvYXdzEXAMPLETOKEN").
    #[test]
    fn known_answer_matches_botocore() {
        let h = sign(
            "POST",
            HOST,
            PATH,
            &[("content-type", "application/json")],
            BODY,
            &creds(None),
            "us-east-1",
            now(),
        )
        .unwrap();
        assert_eq!(
            get(&h, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/bedrock/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, \
                 Signature=797e113ba0cf6cf9847abd97c43da8e19d8044ee7c635d865d546b6af7705c22"
            )
        );
        assert_eq!(get(&h, "x-amz-date"), Some("20261123T154324Z"));
        assert_eq!(get(&h, "x-amz-security-token"), None);
        assert_eq!(get(&h, "x-amz-content-sha256"), None);
    }

    #[test]
    fn known_answer_with_session_token_matches_botocore() {
        let h = sign(
            "POST",
            HOST,
            PATH,
            &[("Content-Type", "application/json")],
            BODY,
            &creds(Some("FQoGZXIvYXdzEXAMPLETOKEN")),
            "us-east-1",
            now(),
        )
        .unwrap();
        assert_eq!(
            get(&h, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/bedrock/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, \
                 Signature=448dece727ea6c94035c321c7658546e98328918bd97b721ca68507cebe7bcaa"
            )
        );
        assert_eq!(get(&h, "x-amz-security-token"), Some("FQoGZXIvYXdzEXAMPLETOKEN"));
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let c = creds(None);
        for (host, path) in [("", PATH), ("a/b", PATH), (HOST, "model"), (HOST, "/a b")] {
            assert!(
                sign("POST", host, path, &[], b"", &c, "us-east-1", now()).is_err(),
                "{host:?} {path:?}"
            );
        }
        assert!(sign("POST", HOST, PATH, &[("bad\n", "x")], b"", &c, "us-east-1", now()).is_err());
        assert!(sign("POST", HOST, PATH, &[], b"", &c, "", now()).is_err());
    }
}
