//! The queries behind alerting's reports (LiteLLM's `daily_reports` and `spend_reports`): read
//! from the spend and error logs, so a report covers every worker and every instance.

use std::time::SystemTime;

use crate::StoreError;

/// One deployment in a daily report: its failures, or its latency per output token.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentFigure {
    pub model_id: String,
    /// `litellm_params.model` as logged.
    pub model: String,
    pub api_base: String,
    pub value: f64,
}

/// A name (team alias or id, or a request tag) and its spend.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendLine {
    pub name: String,
    pub spend: f64,
}

/// The five deployments with the most failed calls in `[from, to)`.
pub async fn most_failed(
    client: &tokio_postgres::Client,
    from: SystemTime,
    to: SystemTime,
) -> Result<Vec<DeploymentFigure>, StoreError> {
    let rows = rows_between(
        client,
        r#"SELECT coalesce(model_id, ''), max(coalesce(litellm_model_name, '')),
                      max(coalesce(api_base, '')), count(*)::float8
               FROM "LiteLLM_ErrorLogs"
               WHERE "startTime" >= $1 AND "startTime" < $2
               GROUP BY 1 ORDER BY 4 DESC, 1 LIMIT 5"#,
        from,
        to,
        "reading failed calls for the daily report",
    )
    .await?;
    Ok(rows.iter().map(figure).collect())
}

/// The five deployments with the highest latency per output token in `[from, to)` (LiteLLM's
/// "slowest deployments").
pub async fn slowest(
    client: &tokio_postgres::Client,
    from: SystemTime,
    to: SystemTime,
) -> Result<Vec<DeploymentFigure>, StoreError> {
    let rows = rows_between(
        client,
        r#"SELECT coalesce(model_id, ''), max(model), max(coalesce(api_base, '')),
                      avg(extract(epoch FROM ("endTime" - "startTime"))::float8
                          / greatest(completion_tokens, 1))
               FROM "LiteLLM_SpendLogs"
               WHERE "startTime" >= $1 AND "startTime" < $2 AND coalesce(cache_hit, '') <> 'True'
               GROUP BY 1 ORDER BY 4 DESC, 1 LIMIT 5"#,
        from,
        to,
        "reading latencies for the daily report",
    )
    .await?;
    Ok(rows.iter().map(figure).collect())
}

/// The rows of `sql`, whose `$1` and `$2` are the start and end of the window; `what` names
/// the query in the error.
async fn rows_between(
    client: &tokio_postgres::Client,
    sql: &str,
    from: SystemTime,
    to: SystemTime,
    what: &'static str,
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    client
        .query(sql, &[&from, &to])
        .await
        .map_err(|e| StoreError::query(what, e))
}

fn figure(row: &tokio_postgres::Row) -> DeploymentFigure {
    DeploymentFigure {
        model_id: row.get(0),
        model: row.get(1),
        api_base: row.get(2),
        value: row.get(3),
    }
}

/// Spend per team in `[from, to)`, highest first (LiteLLM's team spend report).
pub async fn spend_per_team(
    client: &tokio_postgres::Client,
    from: SystemTime,
    to: SystemTime,
) -> Result<Vec<SpendLine>, StoreError> {
    let rows = rows_between(
        client,
        r#"SELECT coalesce(t.team_alias, s.team_id, 'None'), sum(s.spend)::float8
               FROM "LiteLLM_SpendLogs" s
               LEFT JOIN "LiteLLM_TeamTable" t ON s.team_id = t.team_id
               WHERE s."startTime" >= $1 AND s."startTime" < $2
               GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 100"#,
        from,
        to,
        "reading team spend for the spend report",
    )
    .await?;
    Ok(rows.iter().map(spend_line).collect())
}

/// Spend per request tag in `[from, to)`, highest first.
pub async fn spend_per_tag(
    client: &tokio_postgres::Client,
    from: SystemTime,
    to: SystemTime,
) -> Result<Vec<SpendLine>, StoreError> {
    let rows = rows_between(
        client,
        r#"SELECT tag, sum(s.spend)::float8
               FROM "LiteLLM_SpendLogs" s,
                    jsonb_array_elements_text(
                        CASE WHEN jsonb_typeof(s.request_tags) = 'array' THEN s.request_tags
                             ELSE '[]'::jsonb END) AS tag
               WHERE s."startTime" >= $1 AND s."startTime" < $2
               GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 100"#,
        from,
        to,
        "reading tag spend for the spend report",
    )
    .await?;
    Ok(rows.iter().map(spend_line).collect())
}

fn spend_line(row: &tokio_postgres::Row) -> SpendLine {
    SpendLine {
        name: row.get(0),
        spend: row.get(1),
    }
}
