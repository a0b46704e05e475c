//! What every management handler shares: the database connection, who is calling, reading the
//! body and query string, LiteLLM's duration strings, and turning results and failures into
//! responses.

use bytes::Bytes;
use haimaker_store::StoreError;
use haimaker_store::admin::fields::FieldError;
use haimaker_store::budget;
use http::{Response, StatusCode};
use serde_json::{Map, Value};

use super::super::Body;
use super::super::auth::Caller;
use super::super::respond;
use crate::db::DbLayer;
use crate::error::ProxyError;
use crate::state::AppState;

/// LiteLLM's `litellm_proxy_admin_name`: the user id of the master key.
pub const ADMIN_USER_ID: &str = "default_user_id";

/// One management call: the worker state, the caller, and the database.
pub struct Cx<'a> {
    pub state: &'a AppState,
    pub caller: &'a Caller,
    pub layer: &'a DbLayer,
}

impl Cx<'_> {
    /// A pooled connection.
    pub async fn conn(&self) -> Result<haimaker_store::admin::Client, ProxyError> {
        self.layer.db.conn().await.map_err(db_error)
    }

    /// The caller's user id, as LiteLLM records it in `created_by`/`updated_by`: the master key
    /// (and an open proxy) is `default_user_id`, a virtual key its `user_id` (if any).
    pub fn actor(&self) -> Option<String> {
        match self.caller {
            Caller::Open | Caller::Admin => Some(ADMIN_USER_ID.to_string()),
            Caller::Key(key) => key.record.user_id.clone(),
            Caller::Unverified(_) => None,
        }
    }

    /// [`Self::actor`], or `default_user_id` where a value is required.
    pub fn actor_or_admin(&self) -> String {
        self.actor().unwrap_or_else(|| ADMIN_USER_ID.to_string())
    }

    /// The hash of the caller's key (for `deleted_by_api_key`).
    pub fn actor_key(&self) -> Option<String> {
        match self.caller {
            Caller::Key(key) => Some(key.record.token.clone()),
            Caller::Admin => self
                .state
                .master_key
                .as_ref()
                .map(|k| haimaker_store::keys::hash_token(k.expose())),
            Caller::Open | Caller::Unverified(_) => None,
        }
    }

    /// Cached keys embed their user's and team's limits: drop them all after such a change,
    /// here and (through Redis) in every other worker and instance.
    pub async fn users_or_teams_changed(&self) {
        self.layer.keys.clear();
        crate::shared::invalidate::publish(self.state, crate::shared::invalidate::ALL).await;
    }

    /// A key changed (created, updated, blocked, regenerated, deleted): forget it here and
    /// (through Redis) in every other worker and instance.
    pub async fn key_changed(&self, token: &str) {
        self.layer.keys.invalidate(token);
        crate::shared::invalidate::publish(self.state, &crate::shared::invalidate::key(token))
            .await;
    }
}

/// The `LiteLLM_VerificationToken.token` for a key passed to a management endpoint: the
/// sha256 of an `sk-...` key, anything else as it is (a hash; LiteLLM's `_hash_token_if_needed`).
pub fn token_of(key: &str) -> String {
    if key.starts_with("sk-") {
        haimaker_store::keys::hash_token(key)
    } else {
        key.to_string()
    }
}

/// A JSON 200.
pub fn ok(value: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    respond::json(StatusCode::OK, Bytes::from(bytes))
}

/// The body as a JSON object; an empty body is `{}` when `empty_ok`.
pub fn object(body: &Bytes, empty_ok: bool) -> Result<Map<String, Value>, ProxyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if empty_ok {
            Ok(Map::new())
        } else {
            Err(bad_request(
                "body",
                "The request body must be a JSON object",
            ))
        };
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad_request(
            "body",
            "The request body must be a JSON object",
        )),
        Err(e) => Err(bad_request(
            "body",
            format!("Invalid JSON in the request body: {e}"),
        )),
    }
}

/// 400 `bad_request_error` naming `field`.
pub fn bad_request(field: &str, message: impl Into<String>) -> ProxyError {
    ProxyError::new(StatusCode::BAD_REQUEST, "bad_request_error", message).with_param(field)
}

/// 404 `not_found_error` naming `field`.
pub fn not_found(field: &str, message: impl Into<String>) -> ProxyError {
    ProxyError::new(StatusCode::NOT_FOUND, "not_found_error", message).with_param(field)
}

/// A field of the wrong type.
pub fn field_error(e: FieldError) -> ProxyError {
    bad_request(&e.field, e.to_string())
}

/// A database failure: 503 when the database cannot be reached, 400 when it refused the data
/// (a reference to a missing row, a duplicate), else 500.
pub fn db_error(e: StoreError) -> ProxyError {
    if e.is_unavailable() {
        return ProxyError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_db_connection",
            format!("Service Unavailable, the database is temporarily unreachable: {e}"),
        )
        .with_param("None");
    }
    if let Some(message) = haimaker_store::admin::violation(&e) {
        return ProxyError::new(StatusCode::BAD_REQUEST, "bad_request_error", message);
    }
    tracing::error!(target: "haimaker::admin", error = %e, "management query failed");
    ProxyError::internal(format!("Internal Server Error, {e}"))
}

/// Without a database LiteLLM answers `{"detail": {"error": "No connected db."}}` with 500;
/// haimaker keeps its one error shape with the same status and message.
pub fn no_db() -> ProxyError {
    ProxyError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "no_db_connection",
        "No connected db.",
    )
    .with_param("None")
}

/// A LiteLLM duration string (`30s`, `30m`, `30h`, `30d`, `2w`, `1mo`, `monthly`, ...) in
/// `field` as a Postgres interval. Absent, null and `""` are `None` (LiteLLM ignores them too).
pub fn interval(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ProxyError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => budget::interval(s).map(Some).ok_or_else(|| {
            bad_request(
                field,
                format!(
                    "Invalid duration for `{field}`: {s:?}. Use a number and a unit: \"30s\", \"30m\", \"30h\", \"30d\", \"2w\", \"1mo\"."
                ),
            )
        }),
        Some(other) => Err(bad_request(field, format!("Invalid value for `{field}`: expected a string, got {other}"))),
    }
}

/// A required string field.
pub fn required_str<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, ProxyError> {
    match haimaker_store::admin::fields::opt_str(body, field).map_err(field_error)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(bad_request(
            field,
            format!("Missing required field `{field}`"),
        )),
    }
}

/// Copies LiteLLM's "metadata fields" (`model_rpm_limit`, `tags`, `guardrails`, ...) from the
/// body into `metadata`, which starts as `base`. `None` when the body has none of them.
pub fn metadata_fields(body: &Map<String, Value>, base: &Value) -> Option<Value> {
    const FIELDS: &[&str] = &[
        "model_rpm_limit",
        "model_tpm_limit",
        "rpm_limit_type",
        "tpm_limit_type",
        "guardrails",
        "tags",
        "enforced_params",
        "temp_budget_increase",
        "temp_budget_expiry",
        "prompts",
        "team_member_key_duration",
        "logging",
    ];
    let present: Vec<(&str, &Value)> = FIELDS
        .iter()
        .filter_map(|f| body.get(*f).filter(|v| !v.is_null()).map(|v| (*f, v)))
        .collect();
    if present.is_empty() {
        return None;
    }
    let mut metadata = base.as_object().cloned().unwrap_or_default();
    for (name, value) in present {
        metadata.insert(name.to_string(), value.clone());
    }
    Some(Value::Object(metadata))
}

/// The query string's parameters (`+` is a space, `%XX` escapes decoded).
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(k), decode(v))
            })
            .collect();
        Self(pairs)
    }

    /// The first value of `name`, if non-empty.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    }

    /// A boolean parameter (`true`/`false`, `1`/`0`, as FastAPI reads them).
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ProxyError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => haimaker_config::flag(&v).ok_or_else(|| {
                bad_request(
                    name,
                    format!("Invalid value for `{name}`: {v:?} is not a boolean"),
                )
            }),
        }
    }

    /// An integer parameter within `min..=max`.
    pub fn int(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, ProxyError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(bad_request(
                name,
                format!(
                    "Invalid value for `{name}`: {raw:?}; expected an integer from {min} to {max}"
                ),
            )),
        }
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `sort_by` / `sort_order` for a list endpoint, checked against `allowed` columns.
pub fn sort(
    query: &Query,
    allowed: &'static [&'static str],
    default_order: &str,
) -> Result<Option<haimaker_store::admin::Sort>, ProxyError> {
    let Some(by) = query.get("sort_by") else {
        return Ok(None);
    };
    let Some(column) = allowed.iter().find(|c| **c == by) else {
        return Err(bad_request(
            "sort_by",
            format!(
                "Invalid sort column. Must be one of: {}",
                allowed.join(", ")
            ),
        ));
    };
    let order = query
        .get("sort_order")
        .unwrap_or_else(|| default_order.to_string());
    let descending = match order.to_ascii_lowercase().as_str() {
        "asc" => false,
        "desc" => true,
        _ => {
            return Err(bad_request(
                "sort_order",
                "Invalid sort order. Must be 'asc' or 'desc'",
            ));
        }
    };
    Ok(Some(haimaker_store::admin::Sort { column, descending }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_decoded() {
        let q = Query::parse(Some("user_id=a%40b.c&x=&key=sk-1+2&flag=true"));
        assert_eq!(q.get("user_id").as_deref(), Some("a@b.c"));
        assert_eq!(q.get("x"), None);
        assert_eq!(q.get("key").as_deref(), Some("sk-1 2"));
        assert!(q.flag("flag", false).is_ok_and(|f| f));
        assert!(q.int("page", 1, 1, 10).is_ok_and(|p| p == 1));
    }
}
