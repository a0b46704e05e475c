//! `LiteLLM_BudgetTable` rows the management endpoints create: a key's `soft_budget` and a team
//! member's `max_budget_in_team` live there, as in LiteLLM.

use serde_json::Value;

use super::rows::json_row;
use super::{GenericClient, NOW, prepare};
use crate::error::StoreError;

/// A budget row to create.
#[derive(Debug, Clone, Default)]
pub struct NewBudget {
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub model_max_budget: Option<Value>,
}

/// Creates the row; returns it (with its new `budget_id`).
pub async fn insert(
    c: &impl GenericClient,
    budget: &NewBudget,
    by: &str,
) -> Result<Value, StoreError> {
    let sql = format!(
        r#"INSERT INTO "LiteLLM_BudgetTable" AS b (budget_id, max_budget, soft_budget, tpm_limit,
               rpm_limit, model_max_budget, created_at, created_by, updated_at, updated_by)
           VALUES (gen_random_uuid()::text, $1, $2, $3, $4, $5, {NOW}, $6, {NOW}, $6)
           RETURNING to_jsonb(b.*)"#
    );
    let st = prepare(c, &sql, "preparing the budget insert").await?;
    let row = c
        .query_opt(
            &st,
            &[
                &budget.max_budget,
                &budget.soft_budget,
                &budget.tpm_limit,
                &budget.rpm_limit,
                &budget.model_max_budget,
                &by,
            ],
        )
        .await
        .map_err(|e| StoreError::query("inserting a budget", e))?;
    json_row(row, "reading the new budget")?
        .ok_or_else(|| StoreError::Invalid("the budget insert returned no row".to_string()))
}

/// The budget with this id.
pub async fn get(c: &impl GenericClient, budget_id: &str) -> Result<Option<Value>, StoreError> {
    let st = prepare(
        c,
        r#"SELECT to_jsonb(b.*) FROM "LiteLLM_BudgetTable" b WHERE b.budget_id = $1"#,
        "preparing the budget read",
    )
    .await?;
    let row = c
        .query_opt(&st, &[&budget_id])
        .await
        .map_err(|e| StoreError::query("reading a budget", e))?;
    json_row(row, "reading a budget")
}
