//! Team membership as LiteLLM keeps it in three places: the team's `members_with_roles`, the
//! user's `teams`, and a `LiteLLM_TeamMembership` row (spend and budget within the team).

use serde_json::Value;

use super::rows::json_row;
use super::{GenericClient, NOW, prepare};
use crate::error::StoreError;

/// Adds `team_id` to the user's `teams` (once), creating the user as LiteLLM does for a new
/// member (`internal_user`, no models) when there is none. Returns the user row.
pub async fn join_user(
    c: &impl GenericClient,
    user_id: &str,
    user_email: Option<&str>,
    team_id: &str,
) -> Result<Value, StoreError> {
    let sql = format!(
        r#"INSERT INTO "LiteLLM_UserTable" AS u (user_id, user_email, user_role, models, teams,
               created_at, updated_at)
           VALUES ($1, $2, 'internal_user', ARRAY[]::text[], ARRAY[$3::text], {NOW}, {NOW})
           ON CONFLICT (user_id) DO UPDATE SET updated_at = {NOW},
               teams = CASE WHEN $3 = ANY(coalesce(u.teams, ARRAY[]::text[])) THEN u.teams
                            ELSE array_append(coalesce(u.teams, ARRAY[]::text[]), $3) END
           RETURNING to_jsonb(u.*)"#
    );
    let st = prepare(c, &sql, "preparing the team member upsert").await?;
    let row = c
        .query_opt(&st, &[&user_id, &user_email, &team_id])
        .await
        .map_err(|e| StoreError::query("adding a user to a team", e))?;
    json_row(row, "reading the team member")?
        .ok_or_else(|| StoreError::Invalid("the team member upsert returned no row".to_string()))
}

/// Creates (or keeps) the `LiteLLM_TeamMembership` row; a given `budget_id` replaces the old one.
/// Returns the row with `litellm_budget_table`.
pub async fn ensure_membership(
    c: &impl GenericClient,
    user_id: &str,
    team_id: &str,
    budget_id: Option<&str>,
) -> Result<Value, StoreError> {
    let st = prepare(
        c,
        r#"WITH upserted AS (
               INSERT INTO "LiteLLM_TeamMembership" AS m (user_id, team_id, budget_id)
               VALUES ($1, $2, $3)
               ON CONFLICT (user_id, team_id) DO UPDATE SET budget_id = coalesce(EXCLUDED.budget_id, m.budget_id)
               RETURNING *)
           SELECT to_jsonb(upserted.*) || jsonb_build_object('litellm_budget_table',
               (SELECT to_jsonb(b.*) FROM "LiteLLM_BudgetTable" b WHERE b.budget_id = upserted.budget_id))
           FROM upserted"#,
        "preparing the team membership upsert",
    )
    .await?;
    let row = c
        .query_opt(&st, &[&user_id, &team_id, &budget_id])
        .await
        .map_err(|e| StoreError::query("writing a team membership", e))?;
    json_row(row, "reading the team membership")?.ok_or_else(|| {
        StoreError::Invalid("the team membership upsert returned no row".to_string())
    })
}

/// Takes `team_id` out of the `teams` of the users with this id or email and deletes their
/// memberships of the team.
pub async fn leave(
    c: &impl GenericClient,
    team_id: &str,
    user_id: Option<&str>,
    user_email: Option<&str>,
) -> Result<(), StoreError> {
    let sql = format!(
        r#"WITH leaving AS (
               SELECT user_id FROM "LiteLLM_UserTable"
               WHERE ($2::text IS NOT NULL AND user_id = $2) OR ($3::text IS NOT NULL AND user_email = $3)),
           users AS (
               UPDATE "LiteLLM_UserTable" SET updated_at = {NOW}, teams = array_remove(teams, $1)
               WHERE user_id IN (SELECT user_id FROM leaving) AND $1 = ANY(teams)
               RETURNING 1)
           DELETE FROM "LiteLLM_TeamMembership"
           WHERE team_id = $1 AND (user_id = $2 OR user_id IN (SELECT user_id FROM leaving))"#
    );
    let st = prepare(c, &sql, "preparing the team member removal").await?;
    c.execute(&st, &[&team_id, &user_id, &user_email])
        .await
        .map_err(|e| StoreError::query("removing a team member", e))?;
    Ok(())
}
