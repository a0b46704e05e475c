//! `LiteLLM_TeamTable` for the team endpoints: create, read, patch, delete (archived to
//! `LiteLLM_DeletedTeamTable`, as newer LiteLLM does) and list; the team's model aliases in
//! `LiteLLM_ModelTable`.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::fields::{Field, Kind};
use super::rows::{json_row, json_rows};
use super::{GenericClient, NOW, assignments, column_list, prepare, value_list};
use crate::error::StoreError;

/// Request fields stored as they are (`/team/new`, `/team/update`).
pub const FIELDS: &[Field] = &[
    Field::new("team_alias", Kind::Text, true),
    Field::new("organization_id", Kind::Text, true),
    Field::new("admins", Kind::TextList, false),
    Field::new("members", Kind::TextList, false),
    Field::new("metadata", Kind::Object, false),
    Field::new("max_budget", Kind::Float, true),
    Field::new("models", Kind::TextList, false),
    Field::new("max_parallel_requests", Kind::Int, true),
    Field::new("tpm_limit", Kind::BigInt, true),
    Field::new("rpm_limit", Kind::BigInt, true),
    Field::new("budget_duration", Kind::Text, true),
    Field::new("blocked", Kind::Bool, false),
    Field::new("team_member_permissions", Kind::TextList, false),
];

/// The row with `litellm_model_table` (Prisma names the `aliases` column `model_aliases`).
const ROW: &str = r#"to_jsonb(t.*) || jsonb_build_object('litellm_model_table',
    (SELECT (to_jsonb(mt.*) - 'aliases') || jsonb_build_object('model_aliases', mt.aliases)
     FROM "LiteLLM_ModelTable" mt WHERE mt.id = t.model_id))"#;

/// A membership row with its budget.
const MEMBERSHIP: &str = r#"to_jsonb(m.*) || jsonb_build_object('litellm_budget_table',
    (SELECT to_jsonb(b.*) FROM "LiteLLM_BudgetTable" b WHERE b.budget_id = m.budget_id))"#;

/// Columns copied to `LiteLLM_DeletedTeamTable`.
const ARCHIVED: &str = "team_id, team_alias, organization_id, object_permission_id, admins, members, \
    members_with_roles, metadata, max_budget, soft_budget, spend, models, max_parallel_requests, \
    tpm_limit, rpm_limit, tpd_limit, budget_duration, budget_reset_at, blocked, model_spend, \
    model_max_budget, router_settings, team_member_permissions, access_group_ids, policies, model_id, \
    allow_team_guardrail_config, created_at, updated_at";

static INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        r#"INSERT INTO "LiteLLM_TeamTable" AS t ({cols}, team_id, members_with_roles, model_id,
               budget_reset_at, created_at, updated_at)
           SELECT {vals}, $1, $2::jsonb, $3::int4, {NOW} + $4::text::interval, {NOW}, {NOW}
           FROM jsonb_populate_record(NULL::"LiteLLM_TeamTable", $5::jsonb) r
           ON CONFLICT (team_id) DO NOTHING
           RETURNING {ROW}"#,
        cols = column_list(FIELDS),
        vals = value_list(FIELDS, "r"),
    )
});

static UPDATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        r#"UPDATE "LiteLLM_TeamTable" AS t SET {set},
               model_id = coalesce($2::int4, t.model_id),
               budget_reset_at = CASE WHEN $3::text IS NULL THEN t.budget_reset_at
                                      ELSE {NOW} + $3::text::interval END,
               updated_at = {NOW}
           FROM (SELECT p.* FROM "LiteLLM_TeamTable" o, jsonb_populate_record(o, $4::jsonb) p
                 WHERE o.team_id = $1) AS r
           WHERE t.team_id = $1
           RETURNING {ROW}"#,
        set = assignments(FIELDS, "r"),
    )
});

/// LiteLLM's defaults (`TeamBase`) for the columns a new team always has.
pub fn with_defaults(patch: &Map<String, Value>) -> Value {
    let mut row = json!({
        "admins": [], "members": [], "metadata": {}, "models": [], "blocked": false,
        "team_member_permissions": [],
    });
    if let Value::Object(map) = &mut row {
        map.extend(patch.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    row
}

/// A team to create.
#[derive(Debug, Clone)]
pub struct NewTeam<'a> {
    pub team_id: &'a str,
    /// Column values (see [`with_defaults`]).
    pub row: &'a Value,
    pub members_with_roles: &'a Value,
    /// The `LiteLLM_ModelTable` row holding the team's model aliases.
    pub model_id: Option<i32>,
    pub budget_reset_in: Option<&'a str>,
}

/// Creates the team; `None` if the id is taken.
pub async fn insert(
    c: &impl GenericClient,
    team: &NewTeam<'_>,
) -> Result<Option<Value>, StoreError> {
    let st = prepare(c, &INSERT, "preparing the team insert").await?;
    let row = c
        .query_opt(
            &st,
            &[
                &team.team_id,
                team.members_with_roles,
                &team.model_id,
                &team.budget_reset_in,
                team.row,
            ],
        )
        .await
        .map_err(|e| StoreError::query("inserting a team", e))?;
    json_row(row, "reading the new team")
}

/// The team with this id (with `litellm_model_table`).
pub async fn get(c: &impl GenericClient, team_id: &str) -> Result<Option<Value>, StoreError> {
    let sql = format!(r#"SELECT {ROW} FROM "LiteLLM_TeamTable" t WHERE t.team_id = $1"#);
    let st = prepare(c, &sql, "preparing the team read").await?;
    let row = c
        .query_opt(&st, &[&team_id])
        .await
        .map_err(|e| StoreError::query("reading a team", e))?;
    json_row(row, "reading a team")
}

/// Locks the team's row until the transaction ends (members are read, changed and written back,
/// so two concurrent member changes must not interleave). Returns whether the team exists.
pub async fn lock(c: &impl GenericClient, team_id: &str) -> Result<bool, StoreError> {
    let st = prepare(
        c,
        r#"SELECT 1 FROM "LiteLLM_TeamTable" WHERE team_id = $1 FOR UPDATE"#,
        "preparing the team lock",
    )
    .await?;
    let row = c
        .query_opt(&st, &[&team_id])
        .await
        .map_err(|e| StoreError::query("locking a team", e))?;
    Ok(row.is_some())
}

/// Applies `patch`, a model-alias row and a new `budget_reset_at`; `None` if there is no such team.
pub async fn update(
    c: &impl GenericClient,
    team_id: &str,
    patch: &Map<String, Value>,
    model_id: Option<i32>,
    budget_reset_in: Option<&str>,
) -> Result<Option<Value>, StoreError> {
    let st = prepare(c, &UPDATE, "preparing the team update").await?;
    let patch = Value::Object(patch.clone());
    let row = c
        .query_opt(&st, &[&team_id, &model_id, &budget_reset_in, &patch])
        .await
        .map_err(|e| StoreError::query("updating a team", e))?;
    json_row(row, "reading the updated team")
}

/// Replaces `members_with_roles`; `None` if there is no such team.
pub async fn set_members(
    c: &impl GenericClient,
    team_id: &str,
    members: &Value,
) -> Result<Option<Value>, StoreError> {
    let sql = format!(
        r#"UPDATE "LiteLLM_TeamTable" t SET members_with_roles = $2::jsonb, updated_at = {NOW}
           WHERE t.team_id = $1 RETURNING {ROW}"#
    );
    let st = prepare(c, &sql, "preparing the team members update").await?;
    let row = c
        .query_opt(&st, &[&team_id, members])
        .await
        .map_err(|e| StoreError::query("updating team members", e))?;
    json_row(row, "reading the updated team")
}

/// Who deletes (for the archive rows).
#[derive(Debug, Clone, Copy)]
pub struct DeletedBy<'a> {
    pub user_id: Option<&'a str>,
    pub api_key: Option<&'a str>,
}

/// Deletes these teams (archiving each row), their memberships, and the team ids from every
/// user's `teams`. Their keys are deleted by the caller (so they are archived).
pub async fn delete(
    c: &impl GenericClient,
    team_ids: &[String],
    by: DeletedBy<'_>,
) -> Result<u64, StoreError> {
    let users = format!(
        r#"UPDATE "LiteLLM_UserTable" SET updated_at = {NOW},
               teams = ARRAY(SELECT x FROM unnest(teams) x WHERE x <> ALL($1))
           WHERE teams && $1"#
    );
    for sql in [
        users.as_str(),
        r#"DELETE FROM "LiteLLM_TeamMembership" WHERE team_id = ANY($1)"#,
    ] {
        let st = prepare(c, sql, "preparing the team delete").await?;
        c.execute(&st, &[&team_ids])
            .await
            .map_err(|e| StoreError::query("deleting what refers to teams", e))?;
    }
    let sql = format!(
        r#"WITH gone AS (DELETE FROM "LiteLLM_TeamTable" WHERE team_id = ANY($1) RETURNING *)
           INSERT INTO "LiteLLM_DeletedTeamTable" (id, {ARCHIVED}, deleted_at, deleted_by, deleted_by_api_key)
           SELECT gen_random_uuid()::text, {ARCHIVED}, {NOW}, $2, $3 FROM gone"#
    );
    let st = prepare(c, &sql, "preparing the team delete").await?;
    c.execute(&st, &[&team_ids, &by.user_id, &by.api_key])
        .await
        .map_err(|e| StoreError::query("deleting teams", e))
}

/// Which teams `/team/list` and `/user/info` return.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Teams whose `members_with_roles` has this user (their memberships only, as LiteLLM).
    pub member: Option<String>,
    /// Also these teams (a user's `teams` column).
    pub team_ids: Vec<String>,
    /// `default_organization`: teams without one.
    pub organization_id: Option<String>,
}

/// Teams, each with `team_memberships` and `keys`, sorted by alias (LiteLLM's `TeamListResponseObject`).
pub async fn list(c: &impl GenericClient, filter: &Filter) -> Result<Vec<Value>, StoreError> {
    let sql = format!(
        r#"SELECT {ROW} || jsonb_build_object(
               'team_memberships', coalesce((SELECT jsonb_agg({MEMBERSHIP}) FROM "LiteLLM_TeamMembership" m
                                             WHERE m.team_id = t.team_id
                                               AND ($1::text IS NULL OR m.user_id = $1)), '[]'::jsonb),
               'keys', coalesce((SELECT jsonb_agg(to_jsonb(k.*) ORDER BY k.created_at, k.token)
                                 FROM "LiteLLM_VerificationToken" k WHERE k.team_id = t.team_id), '[]'::jsonb))
           FROM "LiteLLM_TeamTable" t
           WHERE ($1::text IS NULL AND cardinality($2::text[]) = 0
                  OR t.team_id = ANY($2)
                  OR EXISTS (SELECT 1 FROM jsonb_array_elements(
                                 CASE WHEN jsonb_typeof(t.members_with_roles) = 'array'
                                      THEN t.members_with_roles ELSE '[]'::jsonb END) e
                             WHERE e->>'user_id' = $1))
             AND ($3::text IS NULL
                  OR ($3 = 'default_organization' AND t.organization_id IS NULL)
                  OR t.organization_id = $3)
           ORDER BY coalesce(t.team_alias, '') COLLATE "C", t.team_id"#
    );
    let st = prepare(c, &sql, "preparing the team list").await?;
    let rows = c
        .query(
            &st,
            &[&filter.member, &filter.team_ids, &filter.organization_id],
        )
        .await
        .map_err(|e| StoreError::query("listing teams", e))?;
    json_rows(&rows, "listing teams")
}

/// The team's memberships (optionally one user's), each with `litellm_budget_table`.
pub async fn memberships(
    c: &impl GenericClient,
    team_id: &str,
    user_id: Option<&str>,
) -> Result<Vec<Value>, StoreError> {
    let sql = format!(
        r#"SELECT {MEMBERSHIP} FROM "LiteLLM_TeamMembership" m
           WHERE m.team_id = $1 AND ($2::text IS NULL OR m.user_id = $2) ORDER BY m.user_id"#
    );
    let st = prepare(c, &sql, "preparing the memberships query").await?;
    let rows = c
        .query(&st, &[&team_id, &user_id])
        .await
        .map_err(|e| StoreError::query("reading team memberships", e))?;
    json_rows(&rows, "reading team memberships")
}

/// Stores a team's `model_aliases`: a new `LiteLLM_ModelTable` row, or (with `id`) that row
/// updated. Returns the row's id.
pub async fn save_model_aliases(
    c: &impl GenericClient,
    id: Option<i32>,
    aliases: &Value,
    by: &str,
) -> Result<i32, StoreError> {
    let sql = format!(
        r#"WITH updated AS (
               UPDATE "LiteLLM_ModelTable" SET aliases = $2::jsonb, updated_at = {NOW}, updated_by = $3
               WHERE id = $1 RETURNING id),
           inserted AS (
               INSERT INTO "LiteLLM_ModelTable" (aliases, created_at, created_by, updated_at, updated_by)
               SELECT $2::jsonb, {NOW}, $3, {NOW}, $3 WHERE NOT EXISTS (SELECT 1 FROM updated)
               RETURNING id)
           SELECT id FROM updated UNION ALL SELECT id FROM inserted"#
    );
    let st = prepare(c, &sql, "preparing the model alias write").await?;
    c.query_one(&st, &[&id, aliases, &by])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| StoreError::query("saving team model aliases", e))
}
