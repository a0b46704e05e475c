//! Virtual keys as the request path reads them: the key row with its team's and user's limits,
//! in one query.

use std::time::SystemTime;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_postgres::Row;

use crate::error::StoreError;

/// LiteLLM's `hash_token`: lowercase sha256 hex of the whole `sk-...` string, no salt. A value
/// that is not an `sk-` key is taken to be a hash already (admin APIs accept either).
pub fn hash_token(key: &str) -> String {
    if !key.starts_with("sk-") && key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return key.to_ascii_lowercase();
    }
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A key with what enforcement needs of its team and user.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub token: String,
    pub key_name: Option<String>,
    pub key_alias: Option<String>,
    pub spend: f64,
    pub max_budget: Option<f64>,
    pub expires: Option<SystemTime>,
    pub models: Vec<String>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub blocked: bool,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i32>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<SystemTime>,
    pub metadata: Value,
    /// The per-request cache controls (`ttl`, `no-cache`, ...) this key may send; empty = all.
    pub allowed_cache_controls: Vec<String>,
    pub team: Option<TeamLimits>,
    pub user: Option<UserLimits>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TeamLimits {
    pub team_id: String,
    pub team_alias: Option<String>,
    pub spend: f64,
    pub max_budget: Option<f64>,
    pub models: Vec<String>,
    pub blocked: bool,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserLimits {
    pub user_id: String,
    pub user_role: Option<String>,
    pub spend: f64,
    pub max_budget: Option<f64>,
    pub models: Vec<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i32>,
}

const LOOKUP: &str = r#"
SELECT v.token, v.key_name, v.key_alias, v.spend, v.max_budget, v.expires, v.models,
       v.user_id, v.team_id, v.blocked, v.tpm_limit, v.rpm_limit, v.max_parallel_requests,
       v.budget_duration, v.budget_reset_at, v.metadata, v.allowed_cache_controls,
       t.team_id AS t_team_id, t.team_alias AS t_team_alias, t.spend AS t_spend,
       t.max_budget AS t_max_budget, t.models AS t_models, t.blocked AS t_blocked,
       t.tpm_limit AS t_tpm_limit, t.rpm_limit AS t_rpm_limit,
       t.max_parallel_requests AS t_max_parallel_requests,
       u.user_id AS u_user_id, u.user_role AS u_user_role, u.spend AS u_spend,
       u.max_budget AS u_max_budget, u.models AS u_models,
       u.tpm_limit AS u_tpm_limit, u.rpm_limit AS u_rpm_limit,
       u.max_parallel_requests AS u_max_parallel_requests
FROM "LiteLLM_VerificationToken" v
LEFT JOIN "LiteLLM_TeamTable" t ON t.team_id = v.team_id
LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = v.user_id
WHERE v.token = $1
"#;

/// The key with this hash, if it exists.
pub async fn lookup(
    client: &deadpool_postgres::Client,
    token: &str,
) -> Result<Option<KeyRecord>, StoreError> {
    let statement = client
        .prepare_cached(LOOKUP)
        .await
        .map_err(|e| StoreError::query("preparing the key lookup", e))?;
    let row = client
        .query_opt(&statement, &[&token])
        .await
        .map_err(|e| StoreError::query("looking up a key", e))?;
    row.map(|r| from_row(&r)).transpose()
}

fn from_row(r: &Row) -> Result<KeyRecord, StoreError> {
    let get = |e: tokio_postgres::Error| StoreError::query("reading a key row", e);
    let team = match r.try_get::<_, Option<String>>("t_team_id").map_err(get)? {
        None => None,
        Some(team_id) => Some(TeamLimits {
            team_id,
            team_alias: r.try_get("t_team_alias").map_err(get)?,
            spend: r
                .try_get::<_, Option<f64>>("t_spend")
                .map_err(get)?
                .unwrap_or(0.0),
            max_budget: r.try_get("t_max_budget").map_err(get)?,
            models: r
                .try_get::<_, Option<Vec<String>>>("t_models")
                .map_err(get)?
                .unwrap_or_default(),
            blocked: r
                .try_get::<_, Option<bool>>("t_blocked")
                .map_err(get)?
                .unwrap_or(false),
            tpm_limit: r.try_get("t_tpm_limit").map_err(get)?,
            rpm_limit: r.try_get("t_rpm_limit").map_err(get)?,
            max_parallel_requests: r.try_get("t_max_parallel_requests").map_err(get)?,
        }),
    };
    let user = match r.try_get::<_, Option<String>>("u_user_id").map_err(get)? {
        None => None,
        Some(user_id) => Some(UserLimits {
            user_id,
            user_role: r.try_get("u_user_role").map_err(get)?,
            spend: r
                .try_get::<_, Option<f64>>("u_spend")
                .map_err(get)?
                .unwrap_or(0.0),
            max_budget: r.try_get("u_max_budget").map_err(get)?,
            models: r
                .try_get::<_, Option<Vec<String>>>("u_models")
                .map_err(get)?
                .unwrap_or_default(),
            tpm_limit: r.try_get("u_tpm_limit").map_err(get)?,
            rpm_limit: r.try_get("u_rpm_limit").map_err(get)?,
            max_parallel_requests: r.try_get("u_max_parallel_requests").map_err(get)?,
        }),
    };
    Ok(KeyRecord {
        token: r.try_get("token").map_err(get)?,
        key_name: r.try_get("key_name").map_err(get)?,
        key_alias: r.try_get("key_alias").map_err(get)?,
        spend: r
            .try_get::<_, Option<f64>>("spend")
            .map_err(get)?
            .unwrap_or(0.0),
        max_budget: r.try_get("max_budget").map_err(get)?,
        expires: r.try_get("expires").map_err(get)?,
        models: r
            .try_get::<_, Option<Vec<String>>>("models")
            .map_err(get)?
            .unwrap_or_default(),
        user_id: r.try_get("user_id").map_err(get)?,
        team_id: r.try_get("team_id").map_err(get)?,
        blocked: r
            .try_get::<_, Option<bool>>("blocked")
            .map_err(get)?
            .unwrap_or(false),
        tpm_limit: r.try_get("tpm_limit").map_err(get)?,
        rpm_limit: r.try_get("rpm_limit").map_err(get)?,
        max_parallel_requests: r.try_get("max_parallel_requests").map_err(get)?,
        budget_duration: r.try_get("budget_duration").map_err(get)?,
        budget_reset_at: r.try_get("budget_reset_at").map_err(get)?,
        metadata: r
            .try_get::<_, Option<Value>>("metadata")
            .map_err(get)?
            .unwrap_or(Value::Null),
        allowed_cache_controls: r
            .try_get::<_, Option<Vec<String>>>("allowed_cache_controls")
            .map_err(get)?
            .unwrap_or_default(),
        team,
        user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_litellms_sha256_hex() {
        // hashlib.sha256(b"sk-1234").hexdigest()
        assert_eq!(
            hash_token("sk-1234"),
            "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
        );
        let hashed = hash_token("sk-abc");
        assert_eq!(hash_token(&hashed), hashed, "a hash is used as is");
        assert_eq!(
            hash_token("not-a-key"),
            hex::encode(Sha256::digest(b"not-a-key"))
        );
    }
}
