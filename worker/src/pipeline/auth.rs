//! Who is calling (reference section 5.1 and 5.2).
//!
//! The key is read from `Authorization: Bearer`, `api-key` (Azure style), `x-api-key`
//! (Anthropic style) and the configured `litellm_key_header_name`, and compared with the
//! master key in constant time. Without a master key the proxy is open, as LiteLLM is.
//! Virtual keys need the database, which this release does not connect yet.

use haimaker_config::Secret;
use http::{HeaderMap, HeaderName, StatusCode};
use subtle::ConstantTimeEq;

use crate::error::ProxyError;

/// The authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// No master key is configured: everyone is admitted.
    Open,
    /// The master key.
    Admin,
}

pub fn authenticate(
    headers: &HeaderMap,
    master_key: Option<&Secret>,
    custom_header: Option<&HeaderName>,
) -> Result<Caller, ProxyError> {
    let Some(master_key) = master_key else {
        return Ok(Caller::Open);
    };
    let key = extract_key(headers, custom_header)?;
    if bool::from(key.as_bytes().ct_eq(master_key.expose().as_bytes())) {
        return Ok(Caller::Admin);
    }
    if !key.starts_with("sk-") {
        return Err(ProxyError::auth(format!(
            "Authentication Error, LiteLLM Virtual Key expected. Received={}, expected to start with 'sk-'.",
            abbreviate(key)
        )));
    }
    Err(ProxyError::new(
        StatusCode::BAD_REQUEST,
        "no_db_connection",
        "No connected db.",
    )
    .with_param("None"))
}

fn extract_key<'h>(
    headers: &'h HeaderMap,
    custom_header: Option<&HeaderName>,
) -> Result<&'h str, ProxyError> {
    if let Some(value) = custom_header.and_then(|h| headers.get(h)) {
        let value = value.to_str().map_err(|_| malformed())?.trim();
        let value = strip_bearer(value).unwrap_or(value);
        if !value.is_empty() {
            return Ok(value);
        }
    }
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| malformed())?.trim();
        return match strip_bearer(value) {
            Some(key) if !key.is_empty() => Ok(key),
            Some(_) => Err(no_key()),
            None => Err(malformed()),
        };
    }
    for name in ["api-key", "x-api-key"] {
        if let Some(value) = headers.get(name) {
            let value = value.to_str().map_err(|_| malformed())?.trim();
            if !value.is_empty() {
                return Ok(value);
            }
        }
    }
    Err(no_key())
}

fn strip_bearer(value: &str) -> Option<&str> {
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

fn no_key() -> ProxyError {
    ProxyError::auth("Authentication Error, No api key passed in.")
}

fn malformed() -> ProxyError {
    ProxyError::auth(
        "Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.",
    )
}

/// Enough of a key to recognise it in a message, never enough to use it.
fn abbreviate(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len().max(1));
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}...{tail}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn master() -> Secret {
        Secret::new("sk-1234")
    }

    #[test]
    fn no_master_key_means_open() {
        assert_eq!(
            authenticate(&headers(&[]), None, None).unwrap(),
            Caller::Open
        );
    }

    #[test]
    fn master_key_from_each_header() {
        let m = master();
        for h in [
            headers(&[("authorization", "Bearer sk-1234")]),
            headers(&[("authorization", "bearer sk-1234")]),
            headers(&[("api-key", "sk-1234")]),
            headers(&[("x-api-key", "sk-1234")]),
        ] {
            assert_eq!(authenticate(&h, Some(&m), None).unwrap(), Caller::Admin);
        }
        let custom = HeaderName::from_static("x-my-key");
        let h = headers(&[("x-my-key", "sk-1234")]);
        assert_eq!(
            authenticate(&h, Some(&m), Some(&custom)).unwrap(),
            Caller::Admin
        );
    }

    #[test]
    fn failures_have_litellm_messages() {
        let m = master();
        let err = authenticate(&headers(&[]), Some(&m), None).unwrap_err();
        assert_eq!((err.status.as_u16(), err.error_type), (401, "auth_error"));
        assert_eq!(err.message, "Authentication Error, No api key passed in.");
        let err =
            authenticate(&headers(&[("authorization", "sk-1234")]), Some(&m), None).unwrap_err();
        assert!(err.message.contains("Malformed API Key"), "{}", err.message);
        let err = authenticate(
            &headers(&[("authorization", "Bearer wrong-key-value")]),
            Some(&m),
            None,
        )
        .unwrap_err();
        assert!(err.message.contains("expected to start with 'sk-'"));
        assert!(
            !err.message.contains("wrong-key-value"),
            "key must be abbreviated"
        );
        let err = authenticate(
            &headers(&[("authorization", "Bearer sk-other")]),
            Some(&m),
            None,
        )
        .unwrap_err();
        assert_eq!(
            (err.status.as_u16(), err.error_type),
            (400, "no_db_connection")
        );
        assert_eq!(err.message, "No connected db.");
    }
}
