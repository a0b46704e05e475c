//! `/key/generate`, `/key/info`, `/key/update`, `/key/regenerate`, `/key/block`, `/key/unblock`
//! (LiteLLM's `key_management_endpoints.py`).

use bytes::Bytes;
use haimaker_store::StoreError;
use haimaker_store::admin::fields::{self, Nulls};
use haimaker_store::admin::keys::{self as store, NewKey, NewToken, Times};
use haimaker_store::admin::{GenericClient, budgets, teams};
use haimaker_store::keys::hash_token;
use http::{Response, StatusCode};
use serde_json::{Map, Value};

use super::super::Body;
use super::common::{
    Cx, Query, bad_request, db_error, field_error, interval, metadata_fields, not_found, object,
    ok, required_str, token_of,
};
use crate::error::ProxyError;

pub async fn generate(cx: &Cx<'_>, body: &Bytes) -> Result<Response<Body>, ProxyError> {
    let body = object(body, false)?;
    let key = match fields::opt_str(&body, "key").map_err(field_error)? {
        Some(k) if k.starts_with("sk-") => k.to_string(),
        Some(k) => {
            return Err(bad_request(
                "key",
                format!(
                    "Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: {k}"
                ),
            ));
        }
        None => new_key(),
    };
    let (mut patch, times) = new_key_fields(&body)?;
    let soft_budget = fields::opt_f64(&body, "soft_budget").map_err(field_error)?;

    let mut client = cx.conn().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| db_error(StoreError::query("starting a transaction", e)))?;
    check_team(&tx, &patch).await?;
    check_alias(&tx, &patch, None).await?;
    if soft_budget.is_some() {
        // LiteLLM keeps a key's soft budget in a budget row of its own.
        let budget = budgets::NewBudget {
            soft_budget,
            model_max_budget: patch.get("model_max_budget").cloned(),
            ..Default::default()
        };
        let row = budgets::insert(&tx, &budget, &cx.actor_or_admin())
            .await
            .map_err(db_error)?;
        patch.insert("budget_id".to_string(), row["budget_id"].clone());
    }
    let token = hash_token(&key);
    let key_name = abbreviate(&key);
    let actor = cx.actor();
    let row = store::with_defaults(&patch);
    let new = NewKey {
        token: &token,
        key_name: &key_name,
        row: &row,
        times,
        by: actor.as_deref(),
    };
    let inserted = store::insert(&tx, &new)
        .await
        .map_err(db_error)?
        .ok_or_else(|| {
            bad_request(
                "key",
                "This key exists already. Choose another `key` value.",
            )
        })?;
    tx.commit()
        .await
        .map_err(|e| db_error(StoreError::query("committing the new key", e)))?;
    cx.key_changed(&token).await;
    Ok(ok(&Value::Object(key_response(
        &inserted,
        &key,
        Some(&token),
    ))))
}

/// `GET /key/info?key=`: the key (as passed: `sk-...` or its hash), or without `key` the
/// caller's own. Non-admins see only their own keys and their user's keys.
pub async fn info(
    cx: &Cx<'_>,
    query: &Query,
    caller_key: Option<&str>,
) -> Result<Response<Body>, ProxyError> {
    let Some(key) = query.get("key").or_else(|| caller_key.map(str::to_string)) else {
        return Err(bad_request("key", "No key passed in."));
    };
    let token = token_of(&key);
    let client = cx.conn().await?;
    let row = store::get(&client, &token)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found("key", "Key not found in database"))?;
    if !cx.caller.is_admin() && !is_callers(cx, &row) {
        return Err(ProxyError::new(
            StatusCode::FORBIDDEN,
            "auth_error",
            "You are not allowed to access this key's info. Your role=internal_user",
        ));
    }
    let mut info = row.as_object().cloned().unwrap_or_default();
    info.remove("token");
    Ok(ok(&serde_json::json!({"key": key, "info": info})))
}

/// The caller's own key, or a key of the caller's user.
fn is_callers(cx: &Cx<'_>, row: &Value) -> bool {
    let super::super::auth::Caller::Key(own) = cx.caller else {
        return false;
    };
    row["token"].as_str() == Some(own.record.token.as_str())
        || own
            .record
            .user_id
            .as_deref()
            .is_some_and(|u| row["user_id"].as_str() == Some(u))
}

/// `POST /key/update` `{"key": ..., <fields>}` -> `{"key": <as passed>, ...the updated row}`.
pub async fn update(cx: &Cx<'_>, body: &Bytes) -> Result<Response<Body>, ProxyError> {
    let body = object(body, false)?;
    let key = required_str(&body, "key")?.to_string();
    let token = token_of(&key);
    let mut client = cx.conn().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| db_error(StoreError::query("starting a transaction", e)))?;
    let existing = store::get(&tx, &token)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found("key", format!("Key not found, passed key={key}")))?;
    let (patch, times) = update_fields(&body, &existing)?;
    check_team(&tx, &patch).await?;
    check_alias(&tx, &patch, Some(&token)).await?;
    let actor = cx.actor();
    let row = store::update(&tx, &token, &patch, &times, None, actor.as_deref())
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found("key", format!("Key not found, passed key={key}")))?;
    tx.commit()
        .await
        .map_err(|e| db_error(StoreError::query("committing the key update", e)))?;
    cx.key_changed(&token).await;
    let mut out = Map::new();
    out.insert("key".to_string(), Value::String(key));
    out.extend(row.as_object().cloned().unwrap_or_default());
    Ok(ok(&Value::Object(out)))
}

/// `POST /key/regenerate` (or `/key/{key}/regenerate`): the same row gets a new key value (its
/// token changes to the new hash), plus any fields in the body, as LiteLLM does it.
pub async fn regenerate(
    cx: &Cx<'_>,
    body: &Bytes,
    path_key: Option<&str>,
) -> Result<Response<Body>, ProxyError> {
    let body = object(body, true)?;
    if body.get("new_master_key").is_some_and(|v| !v.is_null()) {
        return Err(master_key_rotation());
    }
    let key = match fields::opt_str(&body, "key").map_err(field_error)? {
        Some(k) => k.to_string(),
        None => path_key
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .ok_or_else(|| bad_request("key", "No key passed in."))?,
    };
    if cx
        .state
        .master_key
        .as_ref()
        .is_some_and(|m| m.expose() == key)
    {
        return Err(master_key_rotation());
    }
    let new_key = match fields::opt_str(&body, "new_key").map_err(field_error)? {
        Some(k) if k.starts_with("sk-") => k.to_string(),
        Some(_) => {
            return Err(bad_request(
                "new_key",
                "New key must start with 'sk-'. This is to distinguish a key hash (used by litellm for logging / internal logic) from the actual key.",
            ));
        }
        None => new_key(),
    };
    let token = token_of(&key);
    let mut client = cx.conn().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| db_error(StoreError::query("starting a transaction", e)))?;
    let existing = store::get(&tx, &token)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found("key", format!("Key {key} not found.")))?;
    let (patch, times) = update_fields(&body, &existing)?;
    check_team(&tx, &patch).await?;
    check_alias(&tx, &patch, Some(&token)).await?;
    let new_token = hash_token(&new_key);
    let key_name = abbreviate(&new_key);
    let actor = cx.actor();
    let renamed = NewToken {
        token: &new_token,
        key_name: &key_name,
    };
    let row = store::update(&tx, &token, &patch, &times, Some(renamed), actor.as_deref())
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found("key", format!("Key {key} not found.")))?;
    tx.commit()
        .await
        .map_err(|e| db_error(StoreError::query("committing the regenerated key", e)))?;
    cx.key_changed(&token).await;
    cx.key_changed(&new_token).await;
    Ok(ok(&Value::Object(key_response(&row, &new_key, None))))
}

fn master_key_rotation() -> ProxyError {
    bad_request(
        "new_master_key",
        "haimaker does not rotate the master key through the API: set a new `general_settings.master_key` (with LITELLM_SALT_KEY set, stored credentials stay readable) and restart.",
    )
}

/// `POST /key/block` / `/key/unblock` `{"key": ...}` -> the updated row.
pub async fn set_blocked(
    cx: &Cx<'_>,
    body: &Bytes,
    blocked: bool,
) -> Result<Response<Body>, ProxyError> {
    let body = object(body, false)?;
    let key = required_str(&body, "key")?;
    if !valid_key_format(key) {
        return Err(bad_request("key", "Invalid key format."));
    }
    let token = token_of(key);
    let client = cx.conn().await?;
    let row = store::set_blocked(&client, &token, blocked)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found("key", format!("Key {key} not found")))?;
    cx.key_changed(&token).await;
    Ok(ok(&row))
}

/// LiteLLM's `is_valid_api_key`: `sk-` and URL-safe characters, or a sha256 hex.
fn valid_key_format(key: &str) -> bool {
    let sk = key.strip_prefix("sk-").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    let hash = key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit());
    (3..=100).contains(&key.len()) && (sk || hash)
}

/// The stored fields and times of a new key (also the key `/user/new` creates).
pub(super) fn new_key_fields(
    body: &Map<String, Value>,
) -> Result<(Map<String, Value>, Times), ProxyError> {
    let mut patch = fields::collect(store::FIELDS, body, Nulls::Drop).map_err(field_error)?;
    let times = Times {
        expires_in: interval(body, "duration")?,
        budget_reset_in: interval(body, "budget_duration")?,
        rotation_in: rotation(body)?,
    };
    if let Some(metadata) = metadata_fields(body, patch.get("metadata").unwrap_or(&Value::Null)) {
        patch.insert("metadata".to_string(), metadata);
    }
    // `key_type` only chooses the default `allowed_routes` (LiteLLM's `handle_key_type`).
    let routes = match fields::opt_str(body, "key_type").map_err(field_error)? {
        None | Some("default") => None,
        Some("llm_api") => Some("llm_api_routes"),
        Some("management") => Some("management_routes"),
        Some("read_only") => Some("info_routes"),
        Some(other) => {
            return Err(bad_request(
                "key_type",
                format!(
                    "Invalid key_type {other:?}: use llm_api, management, read_only or default"
                ),
            ));
        }
    };
    if let Some(routes) = routes {
        patch.insert("allowed_routes".to_string(), serde_json::json!([routes]));
    }
    Ok((patch, times))
}

/// What `/key/update` and `/key/regenerate` change (LiteLLM's `prepare_key_update_data`):
/// `duration` and `budget_duration` restart their clocks only when non-empty, and the metadata
/// fields merge into the given (or the stored) metadata.
fn update_fields(
    body: &Map<String, Value>,
    existing: &Value,
) -> Result<(Map<String, Value>, Times), ProxyError> {
    let mut patch = fields::collect(store::FIELDS, body, Nulls::Keep).map_err(field_error)?;
    if patch
        .get("budget_duration")
        .is_some_and(|v| v.is_null() || v == "")
    {
        patch.remove("budget_duration");
    }
    let times = Times {
        expires_in: interval(body, "duration")?,
        budget_reset_in: interval(body, "budget_duration")?,
        rotation_in: rotation(body)?,
    };
    let base = patch
        .get("metadata")
        .unwrap_or(&existing["metadata"])
        .clone();
    if let Some(metadata) = metadata_fields(body, &base) {
        patch.insert("metadata".to_string(), metadata);
    }
    Ok((patch, times))
}

/// `rotation_interval` when `auto_rotate` is on.
fn rotation(body: &Map<String, Value>) -> Result<Option<String>, ProxyError> {
    if fields::opt_bool(body, "auto_rotate").map_err(field_error)? == Some(true) {
        interval(body, "rotation_interval")
    } else {
        Ok(None)
    }
}

/// A `team_id` must name a team.
pub(super) async fn check_team(
    c: &impl GenericClient,
    patch: &Map<String, Value>,
) -> Result<(), ProxyError> {
    let Some(team_id) = patch.get("team_id").and_then(Value::as_str) else {
        return Ok(());
    };
    if teams::get(c, team_id).await.map_err(db_error)?.is_none() {
        return Err(bad_request(
            "team_id",
            format!("Team doesn't exist in db. Team={team_id}. Create team via `/team/new` call."),
        ));
    }
    Ok(())
}

/// Key aliases are unique across keys (LiteLLM's `_enforce_unique_key_alias`).
async fn check_alias(
    c: &impl GenericClient,
    patch: &Map<String, Value>,
    except: Option<&str>,
) -> Result<(), ProxyError> {
    let Some(alias) = patch.get("key_alias").and_then(Value::as_str) else {
        return Ok(());
    };
    if store::alias_taken(c, alias, except)
        .await
        .map_err(db_error)?
    {
        return Err(bad_request(
            "key_alias",
            format!(
                "Key with alias '{alias}' already exists. Unique key aliases across all keys are required."
            ),
        ));
    }
    Ok(())
}

/// LiteLLM's `GenerateKeyResponse`, field for field, from the stored row: `key` is the
/// plaintext (shown once), `token_id` the hash, `token` the hash on `/key/generate` and null on
/// `/key/regenerate`.
pub(super) fn key_response(row: &Value, key: &str, token: Option<&str>) -> Map<String, Value> {
    let from_row = |f: &str| row.get(f).cloned().unwrap_or(Value::Null);
    let mut out = Map::new();
    for field in [
        "key_alias",
        "duration",
        "models",
        "spend",
        "max_budget",
        "user_id",
        "team_id",
        "max_parallel_requests",
        "metadata",
        "tpm_limit",
        "rpm_limit",
        "budget_duration",
        "allowed_cache_controls",
        "config",
        "permissions",
        "model_max_budget",
        "model_rpm_limit",
        "model_tpm_limit",
        "guardrails",
        "prompts",
        "blocked",
        "aliases",
        "object_permission",
    ] {
        out.insert(field.to_string(), from_row(field));
    }
    out.insert("key".to_string(), Value::String(key.to_string()));
    for field in [
        "budget_id",
        "tags",
        "enforced_params",
        "allowed_routes",
        "rpm_limit_type",
        "tpm_limit_type",
        "key_name",
        "expires",
    ] {
        out.insert(field.to_string(), from_row(field));
    }
    out.insert("token_id".to_string(), from_row("token"));
    out.insert(
        "litellm_budget_table".to_string(),
        from_row("litellm_budget_table"),
    );
    out.insert(
        "token".to_string(),
        token.map_or(Value::Null, |t| Value::String(t.to_string())),
    );
    for field in ["created_by", "updated_by", "created_at", "updated_at"] {
        out.insert(field.to_string(), from_row(field));
    }
    out
}

/// `sk-` + 16 random bytes in unpadded URL-safe base64 (Python's `secrets.token_urlsafe(16)`).
pub(super) fn new_key() -> String {
    format!("sk-{}", base64url(&rand::random::<[u8; 16]>()))
}

/// LiteLLM's `abbreviate_api_key`: `sk-...` and the last 4 characters.
pub(super) fn abbreviate(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("sk-...{tail}")
}

/// Unpadded URL-safe base64 (RFC 4648 section 5).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_look_like_litellms() {
        let key = new_key();
        assert_eq!(key.len(), 25, "sk- + 22 characters: {key}");
        assert!(valid_key_format(&key));
        assert_eq!(abbreviate("sk-abcdefgh"), "sk-...efgh");
        // base64.urlsafe_b64encode(bytes(range(16))).rstrip(b"=")
        let bytes: Vec<u8> = (0..16).collect();
        assert_eq!(base64url(&bytes), "AAECAwQFBgcICQoLDA0ODw");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn key_formats() {
        assert!(valid_key_format("sk-abc_DEF-123"));
        assert!(valid_key_format(&"a".repeat(64)));
        assert!(!valid_key_format("sk-a b"));
        assert!(!valid_key_format("abc"));
    }
}
