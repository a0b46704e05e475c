//! Request fields that map one to one onto columns: which ones each table takes, their types,
//! and the check that turns a request body into a column patch.
//!
//! The patch is a JSON object whose keys are column names. The SQL applies it with
//! `jsonb_populate_record`, so a column absent from the patch keeps its value (or default) and
//! every value reaches Postgres as a bound parameter.

use serde_json::{Map, Value};

/// A column's type as the request must supply it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// `TEXT[]`: a JSON array of strings.
    TextList,
    /// `DOUBLE PRECISION`: a number (or a numeric string, as pydantic accepts).
    Float,
    /// `INTEGER`.
    Int,
    /// `BIGINT`.
    BigInt,
    Bool,
    /// `JSONB` that LiteLLM types as a dict.
    Object,
}

/// One request field stored in the column of the same name.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    /// Whether the column takes NULL (Prisma `?`). A null for a NOT NULL column means "not given".
    pub nullable: bool,
}

impl Field {
    pub const fn new(name: &'static str, kind: Kind, nullable: bool) -> Self {
        Self {
            name,
            kind,
            nullable,
        }
    }
}

/// A field whose value has the wrong type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Invalid value for `{}`: {}", self.field, self.message)
    }
}

/// Whether a null is kept (an update that clears a nullable column) or dropped (an insert, where
/// absent and null both mean the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    Drop,
    Keep,
}

/// The patch for `fields` out of `body`: checked, normalised values under their column names.
/// Body keys that are not in `fields` are ignored (pydantic ignores unknown fields too).
pub fn collect(
    fields: &[Field],
    body: &Map<String, Value>,
    nulls: Nulls,
) -> Result<Map<String, Value>, FieldError> {
    let mut patch = Map::new();
    for field in fields {
        let Some(value) = body.get(field.name) else {
            continue;
        };
        if value.is_null() {
            if nulls == Nulls::Keep && field.nullable {
                patch.insert(field.name.to_string(), Value::Null);
            }
            continue;
        }
        patch.insert(
            field.name.to_string(),
            check(field.name, field.kind, value)?,
        );
    }
    Ok(patch)
}

/// Checks one non-null value against `kind` and returns it normalised.
pub fn check(name: &str, kind: Kind, value: &Value) -> Result<Value, FieldError> {
    let wrong = |expected: &str| FieldError::new(name, format!("expected {expected}, got {value}"));
    match kind {
        Kind::Text => match value {
            Value::String(_) => Ok(value.clone()),
            _ => Err(wrong("a string")),
        },
        Kind::TextList => match value {
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(value.clone()),
            _ => Err(wrong("a list of strings")),
        },
        Kind::Float => number(value)
            .filter(|n| n.is_finite())
            .map(Value::from)
            .ok_or_else(|| wrong("a number")),
        Kind::Int => integer(value)
            .filter(|n| i32::try_from(*n).is_ok())
            .map(Value::from)
            .ok_or_else(|| wrong("an integer")),
        Kind::BigInt => integer(value)
            .map(Value::from)
            .ok_or_else(|| wrong("an integer")),
        Kind::Bool => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(wrong("a boolean")),
        },
        Kind::Object => match value {
            Value::Object(_) => Ok(value.clone()),
            _ => Err(wrong("an object")),
        },
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An integer, or a number with no fractional part (pydantic's lax mode takes `5.0`).
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `field` as an optional string: absent and null are `None`; any other non-string is an error.
pub fn opt_str<'a>(
    body: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, FieldError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(FieldError::new(
            field,
            format!("expected a string, got {other}"),
        )),
    }
}

/// `field` as an optional list of strings.
pub fn opt_strings(
    body: &Map<String, Value>,
    field: &str,
) -> Result<Option<Vec<String>>, FieldError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => {
            check(field, Kind::TextList, value)?;
            Ok(Some(
                value
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            ))
        }
    }
}

/// `field` as an optional boolean.
pub fn opt_bool(body: &Map<String, Value>, field: &str) -> Result<Option<bool>, FieldError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => Ok(check(field, Kind::Bool, value)?.as_bool()),
    }
}

/// `field` as an optional number.
pub fn opt_f64(body: &Map<String, Value>, field: &str) -> Result<Option<f64>, FieldError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => Ok(check(field, Kind::Float, value)?.as_f64()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    const FIELDS: &[Field] = &[
        Field::new("alias", Kind::Text, true),
        Field::new("models", Kind::TextList, false),
        Field::new("budget", Kind::Float, true),
        Field::new("rpm", Kind::BigInt, true),
        Field::new("parallel", Kind::Int, true),
        Field::new("blocked", Kind::Bool, true),
        Field::new("metadata", Kind::Object, false),
    ];

    #[test]
    fn values_are_checked_and_normalised() {
        let body = json!({"alias": "a", "models": ["m"], "budget": "1.5", "rpm": 10.0,
                          "parallel": "3", "blocked": "true", "metadata": {"k": 1}, "other": 1});
        let patch = collect(FIELDS, body.as_object().unwrap(), Nulls::Drop).unwrap();
        assert_eq!(
            Value::Object(patch),
            json!({"alias": "a", "models": ["m"], "budget": 1.5, "rpm": 10, "parallel": 3,
                   "blocked": true, "metadata": {"k": 1}})
        );
    }

    #[test]
    fn nulls_are_kept_only_for_nullable_columns_on_update() {
        let body = json!({"alias": null, "models": null});
        let keep = collect(FIELDS, body.as_object().unwrap(), Nulls::Keep).unwrap();
        assert_eq!(Value::Object(keep), json!({"alias": null}));
        let drop = collect(FIELDS, body.as_object().unwrap(), Nulls::Drop).unwrap();
        assert!(drop.is_empty());
    }

    #[test]
    fn wrong_types_name_the_field() {
        for body in [
            json!({"models": "m"}),
            json!({"budget": "x"}),
            json!({"rpm": 1.5}),
            json!({"parallel": 1e12}),
            json!({"metadata": []}),
            json!({"blocked": 1}),
        ] {
            let err = collect(FIELDS, body.as_object().unwrap(), Nulls::Drop).unwrap_err();
            assert_eq!(
                Some(err.field.as_str()),
                body.as_object().unwrap().keys().next().map(String::as_str)
            );
        }
    }
}
