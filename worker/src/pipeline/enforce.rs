//! What a virtual key may do, checked in the reference's order (section 5.3): blocked, expired,
//! model access (key, then team), budgets (key, user, team), then the key's rpm / tpm /
//! parallel limits within this process.
//!
//! Statuses follow the newest LiteLLM (documented in ARCHITECTURE.md): budget exceeded is 429
//! `budget_exceeded`, model access denied is 403.

use std::time::SystemTime;

use http::{HeaderName, HeaderValue, StatusCode};

use super::auth::Caller;
use crate::db::limits::{Exceeded, Permit, Remaining};
use crate::db::{DbLayer, Entity, KeyLimits};
use crate::error::ProxyError;

/// What admission hands the rest of the request.
#[derive(Debug, Default)]
pub struct Admission {
    /// The parallel-request slot, held until the response ends.
    pub permit: Option<Permit>,
    pub remaining: Option<Remaining>,
    /// The key's spend before this call, and its budget (for the `x-litellm-key-*` headers).
    pub key_spend: Option<f64>,
    pub key_max_budget: Option<f64>,
}

/// Admits `caller` to call `requested` (resolved to `group`), or says why not.
pub fn admit(
    caller: &Caller,
    db: Option<&DbLayer>,
    requested: &str,
    group: &str,
    default_parallel: Option<u32>,
) -> Result<Admission, ProxyError> {
    let (Caller::Key(key), Some(db)) = (caller, db) else {
        return Ok(Admission::default());
    };
    let record = &key.record;
    if record.blocked {
        return Err(ProxyError::auth(
            "Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin.",
        ));
    }
    if let Some(team) = &record.team
        && team.blocked
    {
        return Err(ProxyError::auth(format!(
            "Authentication Error, Team={} is blocked. Update via `/team/unblock` if you're an admin.",
            team.team_id
        )));
    }
    if let Some(expires) = record.expires
        && expires < SystemTime::now()
    {
        return Err(ProxyError::auth(format!(
            "Authentication Error - Expired Key. Key Expiry time {} and current time {}",
            humantime::format_rfc3339_seconds(expires),
            humantime::format_rfc3339_seconds(SystemTime::now())
        ))
        .with_error_type("expired_key"));
    }
    if !allows(&record.models, requested, group) {
        return Err(denied(
            "key",
            &record.models,
            requested,
            "key_model_access_denied",
        ));
    }
    if let Some(team) = &record.team
        && !allows(&team.models, requested, group)
    {
        return Err(denied(
            "team",
            &team.models,
            requested,
            "team_model_access_denied",
        ));
    }

    let (key_spend, user_spend, team_spend) = {
        let ledger = db.ledger.lock().unwrap_or_else(|p| p.into_inner());
        let at = key.flushed_at_read;
        (
            ledger.effective(&Entity::Key(record.token.clone()), record.spend, at.key),
            record
                .user
                .as_ref()
                .map(|u| ledger.effective(&Entity::User(u.user_id.clone()), u.spend, at.user)),
            record
                .team
                .as_ref()
                .map(|t| ledger.effective(&Entity::Team(t.team_id.clone()), t.spend, at.team)),
        )
    };
    if let Some(max) = record.max_budget
        && key_spend >= max
    {
        return Err(budget(format!(
            "Budget has been exceeded! Current cost: {key_spend}, Max budget: {max}"
        )));
    }
    if let (Some(user), Some(spend)) = (&record.user, user_spend)
        && let Some(max) = user.max_budget
        && spend >= max
    {
        return Err(budget(format!(
            "ExceededBudget: User={} over budget. Spend={spend}, Budget={max}",
            user.user_id
        )));
    }
    if let (Some(team), Some(spend)) = (&record.team, team_spend)
        && let Some(max) = team.max_budget
        && spend >= max
    {
        return Err(budget(format!(
            "Budget has been exceeded! Team={} Current cost: {spend}, Max budget: {max}",
            team.team_id
        )));
    }

    let limits = KeyLimits {
        rpm: record.rpm_limit.and_then(|v| u64::try_from(v).ok()),
        tpm: record.tpm_limit.and_then(|v| u64::try_from(v).ok()),
        parallel: record
            .max_parallel_requests
            .and_then(|v| u64::try_from(v).ok())
            .or(default_parallel.map(u64::from)),
    };
    let (permit, remaining) = if limits.any() {
        let (permit, remaining) = db
            .limits
            .admit(&record.token, limits)
            .map_err(rate_limited)?;
        (Some(permit), Some(remaining))
    } else {
        (None, None)
    };
    Ok(Admission {
        permit,
        remaining,
        key_spend: Some(key_spend),
        key_max_budget: record.max_budget,
    })
}

/// Whether a model list lets `requested` (group `group`) through: empty or `all-proxy-models`
/// means everything; entries match the requested name, the group, or as a `*` wildcard.
pub fn allows(models: &[String], requested: &str, group: &str) -> bool {
    if models.is_empty() {
        return true;
    }
    models.iter().any(|m| {
        m == "all-proxy-models"
            || m == "*"
            || m == requested
            || m == group
            || m.split_once('*').is_some_and(|(prefix, suffix)| {
                requested.len() >= prefix.len() + suffix.len()
                    && requested.starts_with(prefix)
                    && requested.ends_with(suffix)
            })
    })
}

fn denied(who: &str, models: &[String], requested: &str, error_type: &'static str) -> ProxyError {
    ProxyError::new(
        StatusCode::FORBIDDEN,
        error_type,
        format!(
            "{who} not allowed to access model. This {who} can only access models={models:?}. Tried to access {requested}"
        ),
    )
    .with_param("model")
}

fn budget(message: String) -> ProxyError {
    ProxyError::new(StatusCode::TOO_MANY_REQUESTS, "budget_exceeded", message)
}

fn rate_limited(e: Exceeded) -> ProxyError {
    let message = if e.parallel {
        "Max parallel request limit reached."
    } else {
        "Crossed TPM / RPM / Max Parallel Request Limit"
    };
    let mut err = ProxyError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", message);
    err.retry_after = Some(std::time::Duration::from_secs(e.retry_after_secs));
    err.headers.extend(ratelimit_headers(&e.remaining));
    err
}

/// The `x-ratelimit-*` headers of a key with limits.
pub fn ratelimit_headers(r: &Remaining) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    let mut put = |name: &'static str, value: Option<u64>| {
        if let Some(v) = value {
            out.push((HeaderName::from_static(name), HeaderValue::from(v)));
        }
    };
    put("x-ratelimit-limit-requests", r.limit_requests);
    put("x-ratelimit-remaining-requests", r.remaining_requests);
    put("x-ratelimit-limit-tokens", r.limit_tokens);
    put("x-ratelimit-remaining-tokens", r.remaining_tokens);
    if r.limit_requests.is_some() || r.limit_tokens.is_some() {
        put("x-ratelimit-reset-requests", Some(r.reset_secs));
        put("x-ratelimit-reset-tokens", Some(r.reset_secs));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_lists() {
        let m = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(allows(&[], "gpt-4o", "gpt-4o"));
        assert!(allows(&m(&["all-proxy-models"]), "x", "x"));
        assert!(allows(&m(&["gpt-4o"]), "smart", "gpt-4o"), "by group");
        assert!(allows(&m(&["openai/*"]), "openai/gpt-4o", "openai/gpt-4o"));
        assert!(!allows(&m(&["gpt-4o"]), "gpt-4o-mini", "gpt-4o-mini"));
        assert!(!allows(&m(&["openai/*"]), "groq/llama", "groq/llama"));
    }
}
