//! `LiteLLM_UserTable` for the user endpoints: create, read, patch, delete (with what refers to
//! the user) and list.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};
use tokio_postgres::types::ToSql;

use super::fields::{Field, Kind};
use super::rows::{json_row, json_rows};
use super::{
    GenericClient, NOW, Page, Sort, UI_SESSION_TEAM, assignments, column_list, prepare, value_list,
};
use crate::error::StoreError;

/// Request fields stored as they are (`/user/new`, `/user/update`). `password` is hashed by the
/// caller first.
pub const FIELDS: &[Field] = &[
    Field::new("user_alias", Kind::Text, true),
    Field::new("user_email", Kind::Text, true),
    Field::new("user_role", Kind::Text, true),
    Field::new("team_id", Kind::Text, true),
    Field::new("max_budget", Kind::Float, true),
    Field::new("spend", Kind::Float, false),
    Field::new("models", Kind::TextList, false),
    Field::new("metadata", Kind::Object, false),
    Field::new("max_parallel_requests", Kind::Int, true),
    Field::new("tpm_limit", Kind::BigInt, true),
    Field::new("rpm_limit", Kind::BigInt, true),
    Field::new("budget_duration", Kind::Text, true),
    Field::new("allowed_cache_controls", Kind::TextList, false),
    Field::new("model_max_budget", Kind::Object, false),
    Field::new("organization_id", Kind::Text, true),
    Field::new("sso_user_id", Kind::Text, true),
    Field::new("password", Kind::Text, true),
];

static INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        r#"INSERT INTO "LiteLLM_UserTable" AS u ({cols}, user_id, teams, budget_reset_at, created_at, updated_at)
           SELECT {vals}, $1, coalesce(r.teams, ARRAY[]::text[]), {NOW} + $2::text::interval, {NOW}, {NOW}
           FROM jsonb_populate_record(NULL::"LiteLLM_UserTable", $3::jsonb) r
           ON CONFLICT (user_id) DO NOTHING
           RETURNING to_jsonb(u.*)"#,
        cols = column_list(FIELDS),
        vals = value_list(FIELDS, "r"),
    )
});

static UPDATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        r#"UPDATE "LiteLLM_UserTable" AS u SET {set},
               budget_reset_at = CASE WHEN $2::text IS NULL THEN u.budget_reset_at
                                      ELSE {NOW} + $2::text::interval END,
               updated_at = {NOW}
           FROM (SELECT p.* FROM "LiteLLM_UserTable" o, jsonb_populate_record(o, $3::jsonb) p
                 WHERE o.user_id = $1) AS r
           WHERE u.user_id = $1
           RETURNING to_jsonb(u.*)"#,
        set = assignments(FIELDS, "r"),
    )
});

/// LiteLLM's defaults for the columns a new user always has.
pub fn with_defaults(patch: &Map<String, Value>) -> Value {
    let mut row = json!({
        "spend": 0.0, "models": [], "metadata": {}, "allowed_cache_controls": [],
        "model_max_budget": {}, "teams": [],
    });
    if let Value::Object(map) = &mut row {
        map.extend(patch.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    row
}

/// Creates the user (`row` from [`with_defaults`], which may also carry `teams`); `None` if the
/// id is taken (LiteLLM's upsert leaves an existing user as it is).
pub async fn insert(
    c: &impl GenericClient,
    user_id: &str,
    row: &Value,
    budget_reset_in: Option<&str>,
) -> Result<Option<Value>, StoreError> {
    let st = prepare(c, &INSERT, "preparing the user insert").await?;
    let row = c
        .query_opt(&st, &[&user_id, &budget_reset_in, row])
        .await
        .map_err(|e| StoreError::query("inserting a user", e))?;
    json_row(row, "reading the new user")
}

/// The user with this id.
pub async fn get(c: &impl GenericClient, user_id: &str) -> Result<Option<Value>, StoreError> {
    let st = prepare(
        c,
        r#"SELECT to_jsonb(u.*) FROM "LiteLLM_UserTable" u WHERE u.user_id = $1"#,
        "preparing the user read",
    )
    .await?;
    let row = c
        .query_opt(&st, &[&user_id])
        .await
        .map_err(|e| StoreError::query("reading a user", e))?;
    json_row(row, "reading a user")
}

/// Users with this email: exactly, or ignoring case (LiteLLM's duplicate check on `/user/new`).
pub async fn by_email(
    c: &impl GenericClient,
    email: &str,
    ignore_case: bool,
) -> Result<Vec<Value>, StoreError> {
    let st = prepare(
        c,
        r#"SELECT to_jsonb(u.*) FROM "LiteLLM_UserTable" u
           WHERE CASE WHEN $2 THEN lower(u.user_email) = lower($1) ELSE u.user_email = $1 END
           ORDER BY u.created_at NULLS LAST, u.user_id"#,
        "preparing the user email lookup",
    )
    .await?;
    let rows = c
        .query(&st, &[&email, &ignore_case])
        .await
        .map_err(|e| StoreError::query("looking up users by email", e))?;
    json_rows(&rows, "looking up users by email")
}

/// Applies `patch` and a new `budget_reset_at`; `None` if there is no such user.
pub async fn update(
    c: &impl GenericClient,
    user_id: &str,
    patch: &Map<String, Value>,
    budget_reset_in: Option<&str>,
) -> Result<Option<Value>, StoreError> {
    let st = prepare(c, &UPDATE, "preparing the user update").await?;
    let patch = Value::Object(patch.clone());
    let row = c
        .query_opt(&st, &[&user_id, &budget_reset_in, &patch])
        .await
        .map_err(|e| StoreError::query("updating a user", e))?;
    json_row(row, "reading the updated user")
}

/// Deletes these users with their invitation links, organization and team memberships, and
/// takes them out of every team's `members_with_roles` (by id or email, as LiteLLM matches).
/// Their keys are deleted by the caller (so they are archived). Returns the users deleted.
pub async fn delete(c: &impl GenericClient, user_ids: &[String]) -> Result<u64, StoreError> {
    let sql = format!(
        r#"WITH gone AS (SELECT user_id, user_email FROM "LiteLLM_UserTable" WHERE user_id = ANY($1))
           UPDATE "LiteLLM_TeamTable" t SET updated_at = {NOW}, members_with_roles = coalesce(
               (SELECT jsonb_agg(m) FROM jsonb_array_elements(t.members_with_roles) m
                WHERE NOT EXISTS (SELECT 1 FROM gone g WHERE m->>'user_id' = g.user_id
                                                         OR m->>'user_email' = g.user_email)),
               '[]'::jsonb)
           WHERE jsonb_typeof(t.members_with_roles) = 'array'
             AND EXISTS (SELECT 1 FROM jsonb_array_elements(t.members_with_roles) m, gone g
                         WHERE m->>'user_id' = g.user_id OR m->>'user_email' = g.user_email)"#
    );
    let statements = [
        sql.as_str(),
        r#"DELETE FROM "LiteLLM_InvitationLink" WHERE user_id = ANY($1)"#,
        r#"DELETE FROM "LiteLLM_OrganizationMembership" WHERE user_id = ANY($1)"#,
        r#"DELETE FROM "LiteLLM_TeamMembership" WHERE user_id = ANY($1)"#,
    ];
    for sql in statements {
        let st = prepare(c, sql, "preparing the user delete").await?;
        c.execute(&st, &[&user_ids])
            .await
            .map_err(|e| StoreError::query("deleting what refers to users", e))?;
    }
    let st = prepare(
        c,
        r#"DELETE FROM "LiteLLM_UserTable" WHERE user_id = ANY($1)"#,
        "preparing the user delete",
    )
    .await?;
    c.execute(&st, &[&user_ids])
        .await
        .map_err(|e| StoreError::query("deleting users", e))
}

/// `/user/list` filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub role: Option<String>,
    pub user_ids: Option<Vec<String>>,
    pub sso_user_ids: Option<Vec<String>>,
    /// Part of the email, any case.
    pub user_email: Option<String>,
    /// A team id the user's `teams` contains.
    pub team: Option<String>,
}

/// Sort columns `/user/list` accepts.
pub const SORTABLE: &[&str] = &[
    "user_id",
    "user_email",
    "created_at",
    "spend",
    "user_alias",
    "user_role",
];

/// One page of users, each with `key_count`, and the total that match.
pub async fn list(
    c: &impl GenericClient,
    filter: &Filter,
    page: Page,
    sort: Option<Sort>,
) -> Result<(Vec<Value>, i64), StoreError> {
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(UI_SESSION_TEAM)];
    let mut conditions = vec!["true".to_string()];
    if let Some(role) = &filter.role {
        params.push(Box::new(role.clone()));
        conditions.push(format!("u.user_role = ${}", params.len()));
    }
    if let Some(ids) = &filter.user_ids {
        params.push(Box::new(ids.clone()));
        conditions.push(format!("u.user_id = ANY(${})", params.len()));
    }
    if let Some(ids) = &filter.sso_user_ids {
        params.push(Box::new(ids.clone()));
        conditions.push(format!("u.sso_user_id = ANY(${})", params.len()));
    }
    if let Some(email) = &filter.user_email {
        params.push(Box::new(like_pattern(email)));
        conditions.push(format!("u.user_email ILIKE ${}", params.len()));
    }
    if let Some(team) = &filter.team {
        params.push(Box::new(vec![team.clone()]));
        conditions.push(format!("u.teams @> ${}", params.len()));
    }
    let where_sql = conditions.join(" AND ");
    let order = sort.map_or_else(
        || "u.created_at DESC NULLS LAST, u.user_id".to_string(),
        |s| format!("u.{}", s.sql()),
    );
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();

    // `$1` (the UI team) is only needed by the row query; the count names it too, since every
    // bound parameter must appear in the statement.
    let count_sql = format!(
        r#"SELECT count(*) FROM "LiteLLM_UserTable" u WHERE $1::text IS NOT NULL AND {where_sql}"#
    );
    let total: i64 = c
        .query_one(count_sql.as_str(), &refs)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| StoreError::query("counting users", e))?;
    let rows_sql = format!(
        r#"SELECT to_jsonb(u.*) || jsonb_build_object('key_count',
               (SELECT count(*) FROM "LiteLLM_VerificationToken" k
                WHERE k.user_id = u.user_id AND (k.team_id IS NULL OR k.team_id <> $1)))
           FROM "LiteLLM_UserTable" u WHERE {where_sql}
           ORDER BY {order} LIMIT {} OFFSET {}"#,
        page.size.max(0),
        page.offset()
    );
    let rows = c
        .query(rows_sql.as_str(), &refs)
        .await
        .map_err(|e| StoreError::query("listing users", e))?;
    Ok((json_rows(&rows, "listing users")?, total))
}

/// `%part%` with `LIKE`'s wildcards in `part` escaped (Prisma's `contains` matches literally).
fn like_pattern(part: &str) -> String {
    let mut out = String::with_capacity(part.len() + 2);
    out.push('%');
    for c in part.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_literally() {
        assert_eq!(like_pattern("a_b%c"), "%a\\_b\\%c%");
    }
}
