//! Who is calling (reference sections 5.1 to 5.3 and 6).
//!
//! The key is read from `Authorization: Bearer`, `api-key` (Azure style), `x-api-key`
//! (Anthropic style) and the configured `litellm_key_header_name`, and compared with the
//! master key in constant time. Without a master key the proxy is open, as LiteLLM is. Other
//! `sk-` keys are virtual keys: sha256 -> the key cache -> Postgres.

use haimaker_config::Secret;
use http::{HeaderMap, HeaderName, StatusCode};
use subtle::ConstantTimeEq;

use crate::db::{CachedKey, DbLayer, Lookup};
use crate::error::ProxyError;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No master key is configured: everyone is admitted.
    Open,
    /// The master key.
    Admin,
    /// A virtual key (possibly its last known state while the database is down).
    Key(CachedKey),
    /// The database is down, the key is unknown, and `allow_requests_on_db_unavailable` lets it
    /// through (as LiteLLM's synthetic "failed-to-connect-to-db" key). Holds the key's hash.
    Unverified(String),
}

impl Caller {
    /// A proxy admin: the master key, an open proxy, or a key whose user is `proxy_admin`.
    pub fn is_admin(&self) -> bool {
        match self {
            Caller::Open | Caller::Admin => true,
            Caller::Key(key) => key
                .record
                .user
                .as_ref()
                .and_then(|u| u.user_role.as_deref())
                .is_some_and(|role| role == "proxy_admin"),
            Caller::Unverified(_) => false,
        }
    }
}

pub async fn authenticate(
    headers: &HeaderMap,
    master_key: Option<&Secret>,
    custom_header: Option<&HeaderName>,
    db: Option<&DbLayer>,
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
    let Some(db) = db else {
        return Err(ProxyError::new(
            StatusCode::BAD_REQUEST,
            "no_db_connection",
            "No connected db.",
        )
        .with_param("None"));
    };
    let token = haimaker_store::keys::hash_token(key);
    let short = &token[..12];
    match db.keys.get(&db.db, &db.ledger, &token).await {
        Ok(Lookup::Found(found)) => {
            db.status.reached();
            Ok(Caller::Key(found))
        }
        Ok(Lookup::Stale(found)) => {
            db.status.unreachable();
            tracing::warn!(target: "haimaker::auth", key_hash = short, "database unreachable: judging the key on its last known state");
            Ok(Caller::Key(found))
        }
        Ok(Lookup::Missing) => Err(ProxyError::auth(format!(
            "Authentication Error, Invalid proxy server token passed. Received API Key = {}, Key Hash (Token) ={token}. Unable to find token in cache or `LiteLLM_VerificationTokenTable`",
            abbreviate(key)
        ))),
        Err(e) if e.is_unavailable() => {
            db.status.unreachable();
            if db.allow_when_unavailable {
                tracing::warn!(target: "haimaker::auth", key_hash = short, "database unreachable: letting an unknown key through (allow_requests_on_db_unavailable)");
                Ok(Caller::Unverified(token))
            } else {
                Err(ProxyError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no_db_connection",
                    "Service Unavailable, the authentication database is temporarily unreachable. Please retry shortly.",
                )
                .with_param("None"))
            }
        }
        Err(e) => Err(ProxyError::internal(format!(
            "Authentication Error, could not look up the key: {e}"
        ))),
    }
}

/// LiteLLM's refusal of a non-admin on an admin route (`route_checks.py`).
pub fn not_admin(caller: &Caller, route: &str) -> ProxyError {
    let (role, user_id) = match caller {
        Caller::Key(key) => (
            key.record
                .user
                .as_ref()
                .and_then(|u| u.user_role.clone())
                .unwrap_or_else(|| "internal_user".to_string()),
            key.record.user_id.clone().unwrap_or_default(),
        ),
        _ => ("internal_user".to_string(), String::new()),
    };
    ProxyError::auth(format!(
        "Authentication Error, Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route={route}. Your role={role}. Your user_id={}",
        mask(&user_id)
    ))
}

/// First 6 characters, `*`, last 2 (LiteLLM's newer masking).
fn mask(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 8 {
        return id.to_string();
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}*{tail}")
}

pub fn extract_key<'h>(
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

    fn auth(
        h: &HeaderMap,
        master: Option<&Secret>,
        custom: Option<&HeaderName>,
    ) -> Result<Caller, ProxyError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(authenticate(h, master, custom, None))
    }

    fn master() -> Secret {
        Secret::new("sk-1234")
    }

    #[test]
    fn no_master_key_means_open() {
        assert!(matches!(
            auth(&headers(&[]), None, None).unwrap(),
            Caller::Open
        ));
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
            assert!(matches!(auth(&h, Some(&m), None).unwrap(), Caller::Admin));
        }
        let custom = HeaderName::from_static("x-my-key");
        let h = headers(&[("x-my-key", "sk-1234")]);
        assert!(matches!(
            auth(&h, Some(&m), Some(&custom)).unwrap(),
            Caller::Admin
        ));
    }

    #[test]
    fn failures_have_litellm_messages() {
        let m = master();
        let err = auth(&headers(&[]), Some(&m), None).unwrap_err();
        assert_eq!((err.status.as_u16(), err.error_type), (401, "auth_error"));
        assert_eq!(err.message, "Authentication Error, No api key passed in.");
        let err = auth(&headers(&[("authorization", "sk-1234")]), Some(&m), None).unwrap_err();
        assert!(err.message.contains("Malformed API Key"), "{}", err.message);
        let err = auth(
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
        let err = auth(
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
