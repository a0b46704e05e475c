//! What a virtual key may do, checked in the reference's order (section 5.3): blocked, expired,
//! model access (key, then team), budgets (key, user, team), then the rpm / tpm / parallel
//! limits of the key, its user and its team.
//!
//! With Redis, budgets and limits hold across every worker and instance: the request's
//! worst-case cost is reserved against each budget atomically ([`super::reserve`]), and the
//! limits are checked and counted in one script for all scopes. Without Redis (or while it is
//! down) both fall back to this process's view: the spend as last read plus what this worker
//! charged since, and per-process counters.
//!
//! Statuses follow the newest LiteLLM (documented in ARCHITECTURE.md): budget exceeded is 429
//! `budget_exceeded`, model access denied is 403.

use std::sync::Arc;
use std::time::SystemTime;

use haimaker_cache::LimitScope;
use http::{HeaderName, HeaderValue, StatusCode};

use super::auth::Caller;
use super::reserve::{self, BudgetHold};
use crate::db::limits::{Exceeded, Remaining};
use crate::db::{DbLayer, KeyLimits};
use crate::error::ProxyError;
use crate::shared::Shared;
use crate::shared::leases::{Denied, LimitSlot};

/// What admission hands the rest of the request.
#[derive(Debug, Default)]
pub struct Admission {
    /// The parallel-request slots and tpm accounting, held until the response ends.
    pub permit: Option<Permit>,
    pub remaining: Option<Remaining>,
    /// The key's spend before this call, and its budget (for the `x-litellm-key-*` headers).
    pub key_spend: Option<f64>,
    pub key_max_budget: Option<f64>,
    /// The budget reservation, settled with the call's cost when dropped.
    pub budget: Option<BudgetHold>,
}

/// The limit slots a request holds: released when dropped.
#[derive(Debug)]
pub enum Permit {
    /// Counted in this process (no Redis, or Redis down).
    Local(Vec<crate::db::limits::Permit>),
    /// Counted in Redis for every instance (through this worker's lease).
    Shared(LimitSlot),
}

impl Permit {
    /// Counts a finished call's tokens against the tpm limits it was admitted under.
    pub fn add_tokens(&self, tokens: u64) {
        if tokens == 0 {
            return;
        }
        match self {
            Self::Local(permits) => permits.iter().for_each(|p| p.add_tokens(tokens)),
            Self::Shared(slot) => slot.add_tokens(tokens),
        }
    }
}

/// What admission needs besides the caller.
pub struct Ask<'a> {
    pub requested: &'a str,
    pub group: &'a str,
    pub default_parallel: Option<u32>,
    /// The request's worst-case cost, computed only when a budget needs it.
    pub worst_case: &'a (dyn Fn() -> f64 + Sync),
}

/// Admits `caller` to call `ask.requested` (resolved to `ask.group`), or says why not.
pub async fn admit(
    caller: &Caller,
    db: Option<&DbLayer>,
    shared: Option<&Arc<Shared>>,
    ask: &Ask<'_>,
) -> Result<Admission, ProxyError> {
    let (Caller::Key(key), Some(db)) = (caller, db) else {
        return Ok(Admission::default());
    };
    let (requested, group) = (ask.requested, ask.group);
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

    let spends = key.effective_spend(&db.ledger);
    let (key_spend, user_spend, team_spend) = (spends.key, spends.user, spends.team);
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

    let budget = reserve::hold(
        shared,
        record,
        [
            key_spend,
            user_spend.unwrap_or(0.0),
            team_spend.unwrap_or(0.0),
        ],
        ask.worst_case,
    )
    .await?;

    let scopes = limit_scopes(record, ask.default_parallel);
    let (permit, remaining) = if scopes.is_empty() {
        (None, None)
    } else {
        let (permit, remaining) = limit(db, shared, &scopes).await?;
        (Some(permit), Some(remaining))
    };
    Ok(Admission {
        permit,
        remaining,
        key_spend: Some(key_spend),
        key_max_budget: record.max_budget,
        budget,
    })
}

/// The limits a key's request counts against: the key's own (with `max_parallel_requests`
/// defaulting to `general_settings.max_parallel_requests`), its user's and its team's. The
/// key's scope, when it has limits, comes first (its numbers go in the `x-ratelimit-*`
/// headers).
fn limit_scopes(
    record: &haimaker_store::keys::KeyRecord,
    default_parallel: Option<u32>,
) -> Vec<LimitScope> {
    let n = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
    let p = |v: Option<i32>| v.and_then(|v| u64::try_from(v).ok());
    let mut scopes = Vec::new();
    let mut push = |id: String, rpm, tpm, parallel| {
        let scope = LimitScope {
            id,
            rpm,
            tpm,
            parallel,
        };
        if scope.rpm.is_some() || scope.tpm.is_some() || scope.parallel.is_some() {
            scopes.push(scope);
        }
    };
    push(
        format!("key:{}", record.token),
        n(record.rpm_limit),
        n(record.tpm_limit),
        p(record.max_parallel_requests).or(default_parallel.map(u64::from)),
    );
    if let Some(user) = &record.user {
        push(
            format!("user:{}", user.user_id),
            n(user.rpm_limit),
            n(user.tpm_limit),
            p(user.max_parallel_requests),
        );
    }
    if let Some(team) = &record.team {
        push(
            format!("team:{}", team.team_id),
            n(team.rpm_limit),
            n(team.tpm_limit),
            p(team.max_parallel_requests),
        );
    }
    scopes
}

/// Checks and counts the request against every scope: in Redis when it is up, else in this
/// process.
async fn limit(
    db: &DbLayer,
    shared: Option<&Arc<Shared>>,
    scopes: &[LimitScope],
) -> Result<(Permit, Remaining), ProxyError> {
    if let Some(shared) = shared {
        let first = scopes.first();
        match shared.leases.admit(shared, scopes).await {
            Ok(admitted) => {
                let remaining = Remaining {
                    limit_requests: first.and_then(|s| s.rpm),
                    remaining_requests: admitted.requests_left,
                    limit_tokens: first.and_then(|s| s.tpm),
                    remaining_tokens: admitted.tokens_left,
                    reset_secs: admitted.reset_secs,
                };
                return Ok((Permit::Shared(admitted.slot), remaining));
            }
            Err(Denied::Refused {
                index,
                refusal,
                requests_left,
                tokens_left,
                reset_secs,
            }) => {
                let parallel = refusal == haimaker_cache::Refusal::Parallel;
                return Err(rate_limited(Exceeded {
                    parallel,
                    retry_after_secs: if parallel { 1 } else { reset_secs },
                    remaining: Remaining {
                        limit_requests: first.and_then(|s| s.rpm),
                        remaining_requests: requests_left,
                        limit_tokens: first.and_then(|s| s.tpm),
                        remaining_tokens: tokens_left,
                        reset_secs,
                    },
                })
                .with_scope(scopes.get(index)));
            }
            // Redis down: count in this process.
            Err(Denied::Unavailable | Denied::OverBudget { .. }) => {}
        }
    }
    let mut permits = Vec::with_capacity(scopes.len());
    let mut first_remaining = None;
    for scope in scopes {
        let limits = KeyLimits {
            rpm: scope.rpm,
            tpm: scope.tpm,
            parallel: scope.parallel,
        };
        // A refusal drops the slots taken so far (`permits`) with the error.
        let (permit, remaining) = db
            .limits
            .admit(&scope.id, limits)
            .map_err(|e| rate_limited(e).with_scope(Some(scope)))?;
        permits.push(permit);
        first_remaining.get_or_insert(remaining);
    }
    Ok((Permit::Local(permits), first_remaining.unwrap_or_default()))
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

/// LiteLLM's cache-control check: a key with a non-empty `allowed_cache_controls` may only send
/// those keys in the request's `cache` object (403 otherwise).
pub fn cache_controls_allowed(caller: &Caller, named: &[String]) -> Result<(), ProxyError> {
    let Caller::Key(key) = caller else {
        return Ok(());
    };
    let allowed = &key.record.allowed_cache_controls;
    match named.iter().find(|c| !allowed.is_empty() && !allowed.contains(c)) {
        None => Ok(()),
        Some(control) => Err(ProxyError::new(
            StatusCode::FORBIDDEN,
            "auth_error",
            format!(
                "Not allowed to set {control} as a cache control. Contact admin to change permissions."
            ),
        )
        .with_param("cache")),
    }
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

trait WithScope {
    fn with_scope(self, scope: Option<&LimitScope>) -> Self;
}

impl WithScope for ProxyError {
    /// Says which limit refused when it was not the key's own (the user's or the team's).
    fn with_scope(mut self, scope: Option<&LimitScope>) -> Self {
        if let Some(scope) = scope
            && !scope.id.starts_with("key:")
        {
            let (kind, id) = scope.id.split_once(':').unwrap_or(("", &scope.id));
            self.message = format!("{} ({kind}={id})", self.message);
        }
        self
    }
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
