//! AWS Signature Version 4 for Bedrock requests, with the `aws-sigv4` crate (the signer of the
//! AWS SDKs, without the SDK): the headers to add to a request so that AWS accepts it.
//!
//! Signed: `host` (from the URL), `content-type`, `x-amz-date`, and `x-amz-security-token` for
//! temporary credentials; the payload hash is over the exact body sent. Headers added later
//! (`user-agent`, a deployment's `extra_headers`) are not signed, which SigV4 allows.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// Static AWS credentials.
#[derive(Clone, Copy)]
pub struct AwsCredentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

impl std::fmt::Debug for AwsCredentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Signs `POST <url>` with `headers` (lower-case names) and `body` for `service` in `region`
/// at `time`; returns the headers to add (`authorization`, `x-amz-date`, and
/// `x-amz-security-token` with a session token).
pub fn sign_request(
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    credentials: AwsCredentials<'_>,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<Vec<(&'static str, String)>, String> {
    let identity: Identity = Credentials::new(
        credentials.access_key_id,
        credentials.secret_access_key,
        credentials.session_token.map(str::to_string),
        None,
        "haimaker",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("SigV4 parameters: {e}"))?
        .into();
    let request = SignableRequest::new(
        "POST",
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| format!("SigV4 request: {e}"))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| format!("SigV4 signing: {e}"))?
        .into_parts();
    let (added, _params) = instructions.into_parts();
    Ok(added
        .into_iter()
        .map(|h| (h.name(), h.value().to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    /// The credentials and time of AWS's SigV4 test suite (`get-vanilla` family).
    const CREDS: AwsCredentials<'static> = AwsCredentials {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token: None,
    };

    fn at_20150830t123600z() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    #[test]
    fn post_vanilla_of_the_aws_test_suite() {
        // aws-sig-v4-test-suite/post-vanilla: POST / with only host and x-amz-date.
        let added = sign_request(
            "https://example.amazonaws.com/",
            &[],
            b"",
            CREDS,
            "us-east-1",
            "service",
            at_20150830t123600z(),
        )
        .unwrap();
        let get = |n: &str| added.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(
            get("authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
            )
        );
        assert_eq!(get("x-amz-security-token"), None);
    }

    #[test]
    fn session_tokens_and_content_type_are_signed() {
        let added = sign_request(
            "https://bedrock-runtime.us-west-2.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
            &[("content-type", "application/json")],
            b"{}",
            AwsCredentials {
                session_token: Some("session-token"),
                ..CREDS
            },
            "us-west-2",
            "bedrock",
            at_20150830t123600z(),
        )
        .unwrap();
        let get = |n: &str| added.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("x-amz-security-token"), Some("session-token"));
        let auth = get("authorization").unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-west-2/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="),
            "{auth}"
        );
    }
}
