//! `GET /spend/logs`: `LiteLLM_SpendLogs` rows by key, request, user and date, and LiteLLM's
//! legacy per-day summary of them.

use serde_json::{Map, Value, json};
use tokio_postgres::types::ToSql;

use super::GenericClient;
use super::rows::json_rows;
use crate::error::StoreError;

/// Which rows (every field optional; dates are `YYYY-MM-DD`, checked by the caller).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The key's hash.
    pub api_key: Option<String>,
    pub request_id: Option<String>,
    /// The `user` column (the key's user id).
    pub user: Option<String>,
    /// `startTime >= start` (midnight UTC).
    pub start: Option<String>,
    /// `startTime <= end` (midnight UTC, so that day itself is excluded, as in LiteLLM).
    pub end: Option<String>,
}

impl Filter {
    /// The WHERE clause and its parameters.
    fn sql(&self) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut conditions = vec!["true".to_string()];
        let columns = [
            ("api_key = ${}", &self.api_key),
            ("request_id = ${}", &self.request_id),
            ("\"user\" = ${}", &self.user),
            ("\"startTime\" >= ${}::text::timestamp", &self.start),
            ("\"startTime\" <= ${}::text::timestamp", &self.end),
        ];
        for (condition, value) in columns {
            if let Some(value) = value {
                params.push(Box::new(value.clone()));
                conditions.push(condition.replace("{}", &params.len().to_string()));
            }
        }
        (conditions.join(" AND "), params)
    }
}

/// The matching rows, newest first.
pub async fn rows(c: &impl GenericClient, filter: &Filter) -> Result<Vec<Value>, StoreError> {
    let (where_sql, params) = filter.sql();
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let sql = format!(
        r#"SELECT to_jsonb(s.*) FROM "LiteLLM_SpendLogs" s WHERE {where_sql}
           ORDER BY s."startTime" DESC, s.request_id"#
    );
    let rows = c
        .query(sql.as_str(), &refs)
        .await
        .map_err(|e| StoreError::query("reading spend logs", e))?;
    json_rows(&rows, "reading spend logs")
}

/// LiteLLM's `summarize=true` answer for a date range: one object per day with rows,
/// `{"startTime": "YYYY-MM-DD", "spend": total, "<api_key>": spend, "users": {user: spend},
/// "models": {model: spend}}`, then zero days after the last one up to `end`. Empty when no
/// row matches.
pub async fn daily(c: &impl GenericClient, filter: &Filter) -> Result<Vec<Value>, StoreError> {
    let (where_sql, params) = filter.sql();
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let sql = format!(
        r#"SELECT to_char(s."startTime", 'YYYY-MM-DD'), s.api_key, s."user", s.model,
                  sum(s.spend)::float8
           FROM "LiteLLM_SpendLogs" s WHERE {where_sql}
           GROUP BY 1, 2, 3, 4 ORDER BY 1"#
    );
    let rows = c
        .query(sql.as_str(), &refs)
        .await
        .map_err(|e| StoreError::query("summarising spend logs", e))?;
    let mut days: Vec<(String, Map<String, Value>)> = Vec::new();
    for row in &rows {
        let get = |e| StoreError::query("summarising spend logs", e);
        let day: String = row.try_get(0).map_err(get)?;
        let api_key: String = row.try_get(1).map_err(get)?;
        let user: Option<String> = row.try_get(2).map_err(get)?;
        let model: String = row.try_get(3).map_err(get)?;
        let spend: f64 = row.try_get(4).map_err(get)?;
        if days.last().is_none_or(|(d, _)| *d != day) {
            days.push((
                day.clone(),
                json!({"users": {}, "models": {}})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ));
        }
        if let Some((_, entry)) = days.last_mut() {
            add(entry, "spend", spend);
            add(entry, &api_key, spend);
            // Python turns a None dict key into "null".
            if let Some(Value::Object(users)) = entry.get_mut("users") {
                add(users, user.as_deref().unwrap_or("null"), spend);
            }
            if let Some(Value::Object(models)) = entry.get_mut("models") {
                add(models, &model, spend);
            }
        }
    }
    let last = days.last().map(|(d, _)| d.clone());
    let mut out: Vec<Value> = days
        .into_iter()
        .map(|(day, mut entry)| {
            entry.insert("startTime".to_string(), Value::String(day));
            Value::Object(entry)
        })
        .collect();
    if let (Some(last), Some(end)) = (last, filter.end.as_deref()) {
        for day in days_after(&last, end) {
            out.push(json!({"startTime": day, "spend": 0, "users": {}, "models": {}}));
        }
    }
    Ok(out)
}

fn add(map: &mut Map<String, Value>, key: &str, amount: f64) {
    let before = map.get(key).and_then(Value::as_f64).unwrap_or(0.0);
    map.insert(key.to_string(), Value::from(before + amount));
}

/// The days after `from` up to `to` inclusive (`YYYY-MM-DD`), as LiteLLM pads its summary.
fn days_after(from: &str, to: &str) -> Vec<String> {
    let (Some(mut day), Some(to)) = (civil(from), civil(to)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // Bounded: a malformed range must not loop for long.
    while out.len() < 3660 {
        day = next_day(day);
        if day > to {
            break;
        }
        out.push(format!("{:04}-{:02}-{:02}", day.0, day.1, day.2));
    }
    out
}

fn civil(s: &str) -> Option<(i32, u32, u32)> {
    let mut parts = s.split('-');
    let y = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let d = parts.next()?.parse().ok()?;
    (parts.next().is_none() && (1..=12).contains(&m) && (1..=days_in(y, m)).contains(&d))
        .then_some((y, m, d))
}

fn days_in(y: i32, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn next_day((y, m, d): (i32, u32, u32)) -> (i32, u32, u32) {
    if d < days_in(y, m) {
        (y, m, d + 1)
    } else if m < 12 {
        (y, m + 1, 1)
    } else {
        (y + 1, 1, 1)
    }
}

/// Whether `s` is a real `YYYY-MM-DD` date.
pub fn is_date(s: &str) -> bool {
    s.len() == 10 && civil(s).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_pad_to_the_end_date() {
        assert_eq!(
            days_after("2024-02-27", "2024-03-01"),
            ["2024-02-28", "2024-02-29", "2024-03-01"]
        );
        assert_eq!(days_after("2024-12-31", "2025-01-01"), ["2025-01-01"]);
        assert!(days_after("2024-01-02", "2024-01-01").is_empty());
        assert!(is_date("2024-02-29") && !is_date("2023-02-29") && !is_date("2024-1-01"));
    }
}
