//! Budget durations (`budget_duration`) and the reset job.

use crate::error::StoreError;

/// A `budget_duration` as a Postgres interval: `30s`, `30m` (minutes), `30h`, `30d`, `2w`,
/// `1mo` (months), and `hourly`, `daily`, `weekly`, `monthly` (LiteLLM's duration_parser).
/// `None` for anything else.
pub fn interval(duration: &str) -> Option<String> {
    let d = duration.trim().to_ascii_lowercase();
    let named = match d.as_str() {
        "hourly" => Some("1 hour"),
        "daily" => Some("1 day"),
        "weekly" => Some("7 days"),
        "monthly" => Some("1 month"),
        _ => None,
    };
    if let Some(named) = named {
        return Some(named.to_string());
    }
    let split = d.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = d.split_at(split);
    let n: u64 = number.parse().ok()?;
    let unit = match unit {
        "s" => "seconds",
        "m" => "minutes",
        "h" => "hours",
        "d" => "days",
        "w" => return Some(format!("{} days", n * 7)),
        "mo" => "months",
        _ => return None,
    };
    Some(format!("{n} {unit}"))
}

/// Resets the spend of every key, user and team whose `budget_reset_at` has passed, and
/// schedules their next reset. Idempotent: safe to run from several processes at once. Returns
/// the entities reset, as `key:<hash>`, `user:<id>`, `team:<id>` (what the Redis budget
/// counters are named), so live spend elsewhere can be reset too.
pub async fn reset_due(client: &tokio_postgres::Client) -> Result<Vec<String>, StoreError> {
    let mut reset = Vec::new();
    for (table, id, kind) in [
        ("LiteLLM_VerificationToken", "token", "key"),
        ("LiteLLM_UserTable", "user_id", "user"),
        ("LiteLLM_TeamTable", "team_id", "team"),
    ] {
        let durations = client
            .query(
                &format!(
                    r#"SELECT DISTINCT budget_duration FROM "{table}"
                       WHERE budget_reset_at <= now() AT TIME ZONE 'UTC' AND budget_duration IS NOT NULL"#
                ),
                &[],
            )
            .await
            .map_err(|e| StoreError::query("finding budgets to reset", e))?;
        for row in durations {
            let duration: String = row.get(0);
            let Some(interval) = interval(&duration) else {
                tracing::warn!(target: "haimaker::store", table, duration, "unknown budget_duration; not resetting");
                continue;
            };
            let rows = client
                .query(
                    &format!(
                        r#"UPDATE "{table}" SET spend = 0,
                               budget_reset_at = (now() AT TIME ZONE 'UTC') + $2::text::interval
                           WHERE budget_reset_at <= now() AT TIME ZONE 'UTC' AND budget_duration = $1
                           RETURNING "{id}""#
                    ),
                    &[&duration, &interval],
                )
                .await
                .map_err(|e| StoreError::query("resetting budgets", e))?;
            reset.extend(
                rows.iter()
                    .filter_map(|r| r.get::<_, Option<String>>(0))
                    .map(|v| format!("{kind}:{v}")),
            );
        }
    }
    Ok(reset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn litellm_durations() {
        assert_eq!(interval("30s").as_deref(), Some("30 seconds"));
        assert_eq!(interval("30m").as_deref(), Some("30 minutes"));
        assert_eq!(interval("1h").as_deref(), Some("1 hours"));
        assert_eq!(interval("7d").as_deref(), Some("7 days"));
        assert_eq!(interval("2w").as_deref(), Some("14 days"));
        assert_eq!(interval("1mo").as_deref(), Some("1 months"));
        assert_eq!(interval("monthly").as_deref(), Some("1 month"));
        assert_eq!(interval("1y"), None);
        assert_eq!(interval("d"), None);
        assert_eq!(interval(""), None);
    }
}
