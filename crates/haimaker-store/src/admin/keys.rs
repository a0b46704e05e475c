//! `LiteLLM_VerificationToken` for the key endpoints: create, read, patch, regenerate, block,
//! delete (archived to `LiteLLM_DeletedVerificationToken`, as newer LiteLLM does) and list.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};
use tokio_postgres::types::ToSql;

use super::fields::{Field, Kind};
use super::rows::{json_row, json_rows};
use super::{
    GenericClient, NOW, Page, Sort, UI_SESSION_TEAM, assignments, column_list, prepare, value_list,
};
use crate::error::StoreError;

/// Request fields stored as they are (`/key/generate`, `/key/update`, `/key/regenerate`).
pub const FIELDS: &[Field] = &[
    Field::new("key_alias", Kind::Text, true),
    Field::new("spend", Kind::Float, false),
    Field::new("models", Kind::TextList, false),
    Field::new("aliases", Kind::Object, false),
    Field::new("config", Kind::Object, false),
    Field::new("user_id", Kind::Text, true),
    Field::new("team_id", Kind::Text, true),
    Field::new("permissions", Kind::Object, false),
    Field::new("max_parallel_requests", Kind::Int, true),
    Field::new("metadata", Kind::Object, false),
    Field::new("blocked", Kind::Bool, true),
    Field::new("tpm_limit", Kind::BigInt, true),
    Field::new("rpm_limit", Kind::BigInt, true),
    Field::new("max_budget", Kind::Float, true),
    Field::new("budget_duration", Kind::Text, true),
    Field::new("allowed_cache_controls", Kind::TextList, false),
    Field::new("allowed_routes", Kind::TextList, false),
    Field::new("model_max_budget", Kind::Object, false),
    Field::new("budget_id", Kind::Text, true),
    Field::new("organization_id", Kind::Text, true),
    Field::new("auto_rotate", Kind::Bool, true),
    Field::new("rotation_interval", Kind::Text, true),
];

/// The row with its budget, as Prisma's `include={"litellm_budget_table": True}` returns it.
const ROW: &str = r#"to_jsonb(v.*) || jsonb_build_object('litellm_budget_table',
    (SELECT to_jsonb(b.*) FROM "LiteLLM_BudgetTable" b WHERE b.budget_id = v.budget_id))"#;

/// Columns copied to `LiteLLM_DeletedVerificationToken` (every column both tables have).
const ARCHIVED: &str = "token, key_name, key_alias, soft_budget_cooldown, spend, total_spend, expires, \
    models, aliases, config, user_id, team_id, permissions, max_parallel_requests, metadata, blocked, \
    tpm_limit, rpm_limit, tpd_limit, max_budget, budget_duration, budget_reset_at, \
    allowed_cache_controls, allowed_routes, key_type, policies, access_group_ids, model_spend, \
    model_max_budget, budget_fallbacks, router_settings, budget_id, organization_id, \
    object_permission_id, project_id, agent_id, created_at, created_by, updated_at, updated_by, \
    settings_updated_at, last_active, rotation_count, auto_rotate, rotation_interval, \
    last_rotation_at, key_rotation_at";

static INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        r#"INSERT INTO "LiteLLM_VerificationToken" AS v
               ({cols}, token, key_name, expires, budget_reset_at, key_rotation_at,
                created_at, created_by, updated_at, updated_by)
           SELECT {vals}, $1, $2, {NOW} + $3::text::interval, {NOW} + $4::text::interval,
                  {NOW} + $5::text::interval, {NOW}, $6::text, {NOW}, $6::text
           FROM jsonb_populate_record(NULL::"LiteLLM_VerificationToken", $7::jsonb) r
           ON CONFLICT (token) DO NOTHING
           RETURNING {ROW}"#,
        cols = column_list(FIELDS),
        vals = value_list(FIELDS, "r"),
    )
});

static UPDATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        r#"UPDATE "LiteLLM_VerificationToken" AS v SET {set},
               token = coalesce($2::text, v.token),
               key_name = coalesce($3::text, v.key_name),
               expires = CASE WHEN $4::text IS NULL THEN v.expires ELSE {NOW} + $4::text::interval END,
               budget_reset_at = CASE WHEN $5::text IS NULL THEN v.budget_reset_at
                                      ELSE {NOW} + $5::text::interval END,
               key_rotation_at = CASE WHEN $6::text IS NULL THEN v.key_rotation_at
                                      ELSE {NOW} + $6::text::interval END,
               updated_at = {NOW}, updated_by = coalesce($7::text, v.updated_by)
           FROM (SELECT p.* FROM "LiteLLM_VerificationToken" o,
                        jsonb_populate_record(o, $8::jsonb) p
                 WHERE o.token = $1) AS r
           WHERE v.token = $1
           RETURNING {ROW}"#,
        set = assignments(FIELDS, "r"),
    )
});

/// LiteLLM's defaults (`GenerateKeyRequest`) for the columns a new key always has.
pub fn with_defaults(patch: &Map<String, Value>) -> Value {
    let mut row = json!({
        "spend": 0.0, "models": [], "aliases": {}, "config": {}, "permissions": {},
        "metadata": {}, "allowed_cache_controls": [], "allowed_routes": [], "model_max_budget": {},
    });
    if let Value::Object(map) = &mut row {
        map.extend(patch.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    row
}

/// Postgres intervals (from `budget::interval`) measured from now.
#[derive(Debug, Clone, Default)]
pub struct Times {
    /// `duration` -> `expires`.
    pub expires_in: Option<String>,
    /// `budget_duration` -> `budget_reset_at`.
    pub budget_reset_in: Option<String>,
    /// `rotation_interval` (with `auto_rotate`) -> `key_rotation_at`.
    pub rotation_in: Option<String>,
}

/// A key to create.
#[derive(Debug, Clone)]
pub struct NewKey<'a> {
    /// The sha256 hex of the key.
    pub token: &'a str,
    /// `sk-...abcd`.
    pub key_name: &'a str,
    /// Column values (see [`with_defaults`]).
    pub row: &'a Value,
    pub times: Times,
    /// `created_by` and `updated_by`: the caller's user id.
    pub by: Option<&'a str>,
}

/// Creates the key; `None` if a key with this token exists already.
pub async fn insert(c: &impl GenericClient, key: &NewKey<'_>) -> Result<Option<Value>, StoreError> {
    let st = prepare(c, &INSERT, "preparing the key insert").await?;
    let row = c
        .query_opt(
            &st,
            &[
                &key.token,
                &key.key_name,
                &key.times.expires_in,
                &key.times.budget_reset_in,
                &key.times.rotation_in,
                &key.by,
                key.row,
            ],
        )
        .await
        .map_err(|e| StoreError::query("inserting a key", e))?;
    json_row(row, "reading the new key")
}

/// The key with this hash (with `litellm_budget_table`).
pub async fn get(c: &impl GenericClient, token: &str) -> Result<Option<Value>, StoreError> {
    let sql = format!(r#"SELECT {ROW} FROM "LiteLLM_VerificationToken" v WHERE v.token = $1"#);
    let st = prepare(c, &sql, "preparing the key read").await?;
    let row = c
        .query_opt(&st, &[&token])
        .await
        .map_err(|e| StoreError::query("reading a key", e))?;
    json_row(row, "reading a key")
}

/// A new key value for [`update`] (regeneration): its hash and its `key_name`.
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a> {
    pub token: &'a str,
    pub key_name: &'a str,
}

/// Applies `patch` (column -> value; absent columns keep their value) and the recomputed
/// times; with `new_token` the key also gets a new value; `by` (the caller's user id) becomes
/// `updated_by`. `None` if there is no such key.
pub async fn update(
    c: &impl GenericClient,
    token: &str,
    patch: &Map<String, Value>,
    times: &Times,
    new_token: Option<NewToken<'_>>,
    by: Option<&str>,
) -> Result<Option<Value>, StoreError> {
    let st = prepare(c, &UPDATE, "preparing the key update").await?;
    let patch = Value::Object(patch.clone());
    let row = c
        .query_opt(
            &st,
            &[
                &token,
                &new_token.map(|n| n.token),
                &new_token.map(|n| n.key_name),
                &times.expires_in,
                &times.budget_reset_in,
                &times.rotation_in,
                &by,
                &patch,
            ],
        )
        .await
        .map_err(|e| StoreError::query("updating a key", e))?;
    json_row(row, "reading the updated key")
}

/// Sets `blocked`; `None` if there is no such key.
pub async fn set_blocked(
    c: &impl GenericClient,
    token: &str,
    blocked: bool,
) -> Result<Option<Value>, StoreError> {
    let sql = format!(
        r#"UPDATE "LiteLLM_VerificationToken" v SET blocked = $2, updated_at = {NOW}
           WHERE v.token = $1 RETURNING {ROW}"#
    );
    let st = prepare(c, &sql, "preparing the key block").await?;
    let row = c
        .query_opt(&st, &[&token, &blocked])
        .await
        .map_err(|e| StoreError::query("blocking a key", e))?;
    json_row(row, "reading the blocked key")
}

/// Whether another key (not `except`) has this alias.
pub async fn alias_taken(
    c: &impl GenericClient,
    alias: &str,
    except: Option<&str>,
) -> Result<bool, StoreError> {
    let st = prepare(
        c,
        r#"SELECT EXISTS (SELECT 1 FROM "LiteLLM_VerificationToken"
                          WHERE key_alias = $1 AND ($2::text IS NULL OR token <> $2))"#,
        "preparing the key alias check",
    )
    .await?;
    let row = c
        .query_one(&st, &[&alias, &except])
        .await
        .map_err(|e| StoreError::query("checking a key alias", e))?;
    row.try_get(0)
        .map_err(|e| StoreError::query("checking a key alias", e))
}

/// Which of these hashes, or which keys with these aliases, exist.
pub async fn existing(
    c: &impl GenericClient,
    tokens: &[String],
    aliases: &[String],
) -> Result<Vec<String>, StoreError> {
    let st = prepare(
        c,
        r#"SELECT token FROM "LiteLLM_VerificationToken" WHERE token = ANY($1) OR key_alias = ANY($2)"#,
        "preparing the key existence check",
    )
    .await?;
    let rows = c
        .query(&st, &[&tokens, &aliases])
        .await
        .map_err(|e| StoreError::query("finding keys", e))?;
    rows.iter()
        .map(|r| {
            r.try_get(0)
                .map_err(|e| StoreError::query("finding keys", e))
        })
        .collect()
}

/// The hashes of every key of these users or teams.
pub async fn owned_by(
    c: &impl GenericClient,
    user_ids: &[String],
    team_ids: &[String],
) -> Result<Vec<String>, StoreError> {
    let st = prepare(
        c,
        r#"SELECT token FROM "LiteLLM_VerificationToken" WHERE user_id = ANY($1) OR team_id = ANY($2)"#,
        "preparing the owned-keys query",
    )
    .await?;
    let rows = c
        .query(&st, &[&user_ids, &team_ids])
        .await
        .map_err(|e| StoreError::query("finding owned keys", e))?;
    rows.iter()
        .map(|r| {
            r.try_get(0)
                .map_err(|e| StoreError::query("finding owned keys", e))
        })
        .collect()
}

/// Who deletes (for the archive rows).
#[derive(Debug, Clone, Copy)]
pub struct DeletedBy<'a> {
    pub user_id: Option<&'a str>,
    pub api_key: Option<&'a str>,
}

/// Deletes these keys, archiving each row first; returns the hashes deleted.
pub async fn delete(
    c: &impl GenericClient,
    tokens: &[String],
    by: DeletedBy<'_>,
) -> Result<Vec<String>, StoreError> {
    let sql = format!(
        r#"WITH gone AS (DELETE FROM "LiteLLM_VerificationToken" WHERE token = ANY($1) RETURNING *)
           INSERT INTO "LiteLLM_DeletedVerificationToken" (id, {ARCHIVED}, deleted_at, deleted_by, deleted_by_api_key)
           SELECT gen_random_uuid()::text, {ARCHIVED}, {NOW}, $2, $3 FROM gone
           RETURNING token"#
    );
    let st = prepare(c, &sql, "preparing the key delete").await?;
    let rows = c
        .query(&st, &[&tokens, &by.user_id, &by.api_key])
        .await
        .map_err(|e| StoreError::query("deleting keys", e))?;
    rows.iter()
        .map(|r| {
            r.try_get(0)
                .map_err(|e| StoreError::query("deleting keys", e))
        })
        .collect()
}

/// `/key/list` filters (all optional; combined with AND, as LiteLLM's `user_condition`).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub key_alias: Option<String>,
    pub key_hash: Option<String>,
    pub organization_id: Option<String>,
    /// `include_created_by_keys`: also keys whose `created_by` is `user_id`.
    pub include_created_by: bool,
}

/// Sort columns `/key/list` accepts.
pub const SORTABLE: &[&str] = &[
    "spend",
    "max_budget",
    "created_at",
    "updated_at",
    "token",
    "key_alias",
];

/// One page of keys (UI session keys excluded) and the total that match.
pub async fn list(
    c: &impl GenericClient,
    filter: &Filter,
    page: Page,
    sort: Option<Sort>,
) -> Result<(Vec<Value>, i64), StoreError> {
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(UI_SESSION_TEAM)];
    let mut conditions = Vec::new();
    let mut push =
        |column: &str, value: &Option<String>, params: &mut Vec<Box<dyn ToSql + Sync + Send>>| {
            if let Some(value) = value {
                params.push(Box::new(value.clone()));
                conditions.push(format!("v.{column} = ${}", params.len()));
            }
        };
    push("user_id", &filter.user_id, &mut params);
    push("team_id", &filter.team_id, &mut params);
    push("key_alias", &filter.key_alias, &mut params);
    push("token", &filter.key_hash, &mut params);
    push("organization_id", &filter.organization_id, &mut params);
    let mut alternatives = Vec::new();
    if !conditions.is_empty() {
        alternatives.push(format!("({})", conditions.join(" AND ")));
    }
    if filter.include_created_by
        && let Some(user_id) = &filter.user_id
    {
        params.push(Box::new(user_id.clone()));
        alternatives.push(format!("v.created_by = ${}", params.len()));
    }
    let mut filter_sql = "(v.team_id IS NULL OR v.team_id <> $1)".to_string();
    if !alternatives.is_empty() {
        filter_sql = format!("{filter_sql} AND ({})", alternatives.join(" OR "));
    }
    let order = sort.map_or_else(
        || "v.created_at DESC NULLS LAST, v.token DESC".to_string(),
        |s| format!("v.{}", s.sql()),
    );
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();

    let count_sql =
        format!(r#"SELECT count(*) FROM "LiteLLM_VerificationToken" v WHERE {filter_sql}"#);
    let total: i64 = c
        .query_one(count_sql.as_str(), &refs)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| StoreError::query("counting keys", e))?;
    let rows_sql = format!(
        r#"SELECT {ROW} FROM "LiteLLM_VerificationToken" v WHERE {filter_sql}
           ORDER BY {order} LIMIT {} OFFSET {}"#,
        page.size.max(0),
        page.offset()
    );
    let rows = c
        .query(rows_sql.as_str(), &refs)
        .await
        .map_err(|e| StoreError::query("listing keys", e))?;
    Ok((json_rows(&rows, "listing keys")?, total))
}

/// Every key of this user, or of this team, or (both `None`) every key but UI session keys.
pub async fn all_of(
    c: &impl GenericClient,
    user_id: Option<&str>,
    team_id: Option<&str>,
) -> Result<Vec<Value>, StoreError> {
    let sql = format!(
        r#"SELECT {ROW} FROM "LiteLLM_VerificationToken" v
           WHERE ($1::text IS NULL OR v.user_id = $1) AND ($2::text IS NULL OR v.team_id = $2)
             AND ($1::text IS NOT NULL OR $2::text IS NOT NULL OR v.team_id IS NULL OR v.team_id <> $3)
           ORDER BY v.created_at NULLS LAST, v.token"#
    );
    let st = prepare(c, &sql, "preparing the keys query").await?;
    let rows = c
        .query(&st, &[&user_id, &team_id, &UI_SESSION_TEAM])
        .await
        .map_err(|e| StoreError::query("reading keys", e))?;
    json_rows(&rows, "reading keys")
}
