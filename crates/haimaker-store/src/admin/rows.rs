//! Rows as JSON, shaped as LiteLLM serialises them.
//!
//! Rows are read with `to_jsonb(row)`, which names every column as it is in the table (new
//! LiteLLM columns appear without code changes). Two things differ from what Prisma and FastAPI
//! produce: timestamps (`TIMESTAMP(3)`, UTC without a zone) come out as
//! `2024-05-01T12:00:00.12`, and Python prints `2024-05-01T12:00:00.120000+00:00`; and the user
//! password hash must never leave the database layer.

use serde_json::Value;

use crate::error::StoreError;

/// Columns (in any of the tables served here) that hold a `TIMESTAMP(3)`.
const TIMESTAMPS: &[&str] = &[
    "created_at",
    "updated_at",
    "expires",
    "budget_reset_at",
    "last_active",
    "key_rotation_at",
    "last_rotation_at",
    "settings_updated_at",
    "last_breach_check_at",
    "temp_budget_expiry",
    "deleted_at",
    "startTime",
    "endTime",
    "completionStartTime",
];

/// Nested rows (or lists of rows) the queries add, as Prisma's `include` adds relations.
const RELATIONS: &[&str] = &[
    "litellm_budget_table",
    "litellm_model_table",
    "team_member_budget_table",
    "team_memberships",
    "keys",
];

/// Columns never returned.
const SECRET: &[&str] = &["password"];

/// A row from `to_jsonb(...)`, shaped for a response.
pub fn shape(mut row: Value) -> Value {
    if let Value::Object(map) = &mut row {
        for secret in SECRET {
            map.remove(*secret);
        }
        for (name, value) in map.iter_mut() {
            if TIMESTAMPS.contains(&name.as_str()) {
                if let Some(iso) = value.as_str().and_then(iso_utc) {
                    *value = Value::String(iso);
                }
            } else if RELATIONS.contains(&name.as_str()) {
                *value = match value.take() {
                    Value::Array(rows) => Value::Array(shape_all(rows)),
                    other => shape(other),
                };
            }
        }
    }
    row
}

/// Shapes every row.
pub fn shape_all(rows: Vec<Value>) -> Vec<Value> {
    rows.into_iter().map(shape).collect()
}

/// `2024-05-01T12:00:00.12` (Postgres, UTC) -> `2024-05-01T12:00:00.120000+00:00` (Python's
/// `isoformat()` of an aware UTC datetime; no fraction when it is zero). `None` for anything else.
pub fn iso_utc(ts: &str) -> Option<String> {
    let (seconds, fraction) = ts.split_once('.').unwrap_or((ts, ""));
    let bytes = seconds.as_bytes();
    let shape_ok = bytes.len() == 19
        && bytes[10] == b'T'
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => true,
            13 | 16 => *b == b':',
            _ => b.is_ascii_digit(),
        })
        && fraction.len() <= 6
        && fraction.bytes().all(|b| b.is_ascii_digit());
    if !shape_ok {
        return None;
    }
    if fraction.bytes().all(|b| b == b'0') {
        return Some(format!("{seconds}+00:00"));
    }
    Some(format!("{seconds}.{fraction:0<6}+00:00"))
}

/// The first column of each row, as JSON (queries select `to_jsonb(...)`).
pub(crate) fn json_rows(
    rows: &[tokio_postgres::Row],
    doing: &'static str,
) -> Result<Vec<Value>, StoreError> {
    rows.iter()
        .map(|r| {
            r.try_get::<_, Value>(0)
                .map(shape)
                .map_err(|e| StoreError::query(doing, e))
        })
        .collect()
}

/// The first column of an optional row, as JSON.
pub(crate) fn json_row(
    row: Option<tokio_postgres::Row>,
    doing: &'static str,
) -> Result<Option<Value>, StoreError> {
    row.map(|r| {
        r.try_get::<_, Value>(0)
            .map(shape)
            .map_err(|e| StoreError::query(doing, e))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn timestamps_print_as_python_does() {
        assert_eq!(
            iso_utc("2024-05-01T12:00:00.12").as_deref(),
            Some("2024-05-01T12:00:00.120000+00:00")
        );
        assert_eq!(
            iso_utc("2024-05-01T12:00:00").as_deref(),
            Some("2024-05-01T12:00:00+00:00")
        );
        assert_eq!(
            iso_utc("2024-05-01T12:00:00.000").as_deref(),
            Some("2024-05-01T12:00:00+00:00")
        );
        assert_eq!(iso_utc("not a time"), None);
        assert_eq!(iso_utc("2024-05-01T12:00:00+00:00"), None);
    }

    #[test]
    fn rows_are_shaped() {
        let row = json!({"expires": "2024-05-01T12:00:00.5", "key_alias": "2024-05-01T12:00:00",
                         "password": "x", "litellm_budget_table": {"created_at": "2024-05-01T12:00:00"}});
        assert_eq!(
            shape(row),
            json!({"expires": "2024-05-01T12:00:00.500000+00:00", "key_alias": "2024-05-01T12:00:00",
                   "litellm_budget_table": {"created_at": "2024-05-01T12:00:00+00:00"}})
        );
    }
}
