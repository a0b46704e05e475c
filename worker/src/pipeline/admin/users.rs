//! `/user/new`, `/user/info`, `/user/update`, `/user/delete`, `/user/list` (LiteLLM's
//! `internal_user_endpoints.py`).

use bytes::Bytes;
use haimaker_store::StoreError;
use haimaker_store::admin::fields::{self, Nulls};
use haimaker_store::admin::keys::{self as key_store, DeletedBy, NewKey};
use haimaker_store::admin::users::{self as store, Filter};
use haimaker_store::admin::{Page, teams as team_store};
use haimaker_store::keys::hash_token;
use http::Response;
use serde_json::{Map, Value, json};

use super::super::Body;
use super::common::{
    Cx, Query, bad_request, db_error, field_error, interval, metadata_fields, not_found, object,
    ok, sort,
};
use super::keys::{abbreviate, key_response, new_key, new_key_fields};
use super::members::{self, Member};
use crate::error::ProxyError;

/// The roles `/user/new` and `/user/update` accept.
const ROLES: &[&str] = &[
    "proxy_admin",
    "proxy_admin_viewer",
    "internal_user",
    "internal_user_viewer",
];

/// `POST /user/new` -> LiteLLM's `NewUserResponse`: the user's fields and, unless
/// `auto_create_key` is false, a new key for the user (`key`, shown once).
pub async fn new(cx: &Cx<'_>, body: &Bytes) -> Result<Response<Body>, ProxyError> {
    let body = object(body, false)?;
    let user_id = fields::opt_str(&body, "user_id")
        .map_err(field_error)?
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
    check_role(&body)?;
    let mut patch = fields::collect(store::FIELDS, &body, Nulls::Drop).map_err(field_error)?;
    patch.remove("password");
    let budget_reset_in = interval(&body, "budget_duration")?;
    if let Some(metadata) = metadata_fields(&body, patch.get("metadata").unwrap_or(&Value::Null)) {
        patch.insert("metadata".to_string(), metadata);
    }
    let teams = user_teams(&body)?;
    let auto_create_key = fields::opt_bool(&body, "auto_create_key")
        .map_err(field_error)?
        .unwrap_or(true);
    // The user's key shares the request's fields, except that `max_budget` and
    // `budget_duration` are the user's (LiteLLM's `generate_key_helper_fn`).
    let key_plan = if auto_create_key {
        let (mut key_patch, mut times) = new_key_fields(&body)?;
        key_patch.remove("max_budget");
        key_patch.remove("budget_duration");
        key_patch.insert(
            "metadata".to_string(),
            patch.get("metadata").cloned().unwrap_or(json!({})),
        );
        key_patch.insert("user_id".to_string(), Value::String(user_id.clone()));
        times.budget_reset_in = None;
        Some((key_patch, times))
    } else {
        None
    };
    let actor = cx.actor_or_admin();

    let mut client = cx.conn().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| db_error(StoreError::query("starting a transaction", e)))?;
    if let Some(email) = patch.get("user_email").and_then(Value::as_str)
        && let Some(existing) = store::by_email(&tx, email.trim(), true)
            .await
            .map_err(db_error)?
            .first()
    {
        return Err(bad_request(
            "user_email",
            format!(
                "User with email {} already exists",
                existing["user_email"].as_str().unwrap_or(email)
            ),
        ));
    }
    // An existing user id is left as it is (LiteLLM upserts with an empty update).
    store::insert(
        &tx,
        &user_id,
        &store::with_defaults(&patch),
        budget_reset_in.as_deref(),
    )
    .await
    .map_err(db_error)?;
    let joins: Vec<(String, String, Option<f64>)> =
        match patch.get("team_id").and_then(Value::as_str) {
            Some(team_id) => vec![(team_id.to_string(), "user".to_string(), None)],
            None => teams,
        };
    for (team_id, role, max_budget_in_team) in joins {
        // LiteLLM ignores teams it cannot join here (missing team, already a member).
        if team_store::get(&tx, &team_id)
            .await
            .map_err(db_error)?
            .is_none()
        {
            continue;
        }
        let member = Member {
            role,
            user_id: Some(user_id.clone()),
            user_email: None,
        };
        members::add(&tx, &team_id, &[member], max_budget_in_team, &actor).await?;
    }
    let key = match &key_plan {
        Some((key_patch, times)) => {
            let key = new_key();
            let token = hash_token(&key);
            let key_name = abbreviate(&key);
            let row = key_store::with_defaults(key_patch);
            let new = NewKey {
                token: &token,
                key_name: &key_name,
                row: &row,
                times: times.clone(),
                by: Some(&actor),
            };
            let inserted = key_store::insert(&tx, &new).await.map_err(db_error)?;
            inserted.map(|row| (key, row))
        }
        None => None,
    };
    let user = store::get(&tx, &user_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| {
            not_found(
                "user_id",
                format!("User not found, passed user_id={user_id}"),
            )
        })?;
    tx.commit()
        .await
        .map_err(|e| db_error(StoreError::query("committing the new user", e)))?;
    cx.users_or_teams_changed().await;

    let mut out = match &key {
        Some((key, row)) => key_response(row, key, None),
        None => key_response(&Value::Null, "", None),
    };
    out.insert("token_id".to_string(), Value::Null);
    for field in [
        "max_budget",
        "user_email",
        "user_id",
        "user_alias",
        "team_id",
        "user_role",
        "spend",
        "models",
        "metadata",
        "max_parallel_requests",
        "tpm_limit",
        "rpm_limit",
        "budget_duration",
        "allowed_cache_controls",
        "teams",
        "created_at",
        "updated_at",
    ] {
        out.insert(
            field.to_string(),
            user.get(field).cloned().unwrap_or(Value::Null),
        );
    }
    Ok(ok(&Value::Object(out)))
}

/// `teams`: team ids, or `{"team_id", "user_role"?, "max_budget_in_team"?}` objects.
fn user_teams(body: &Map<String, Value>) -> Result<Vec<(String, String, Option<f64>)>, ProxyError> {
    let Some(Value::Array(items)) = body.get("teams") else {
        return match body.get("teams") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(_) => Err(bad_request(
                "teams",
                "Invalid value for `teams`: expected a list",
            )),
        };
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(team_id) => Ok((team_id.clone(), "user".to_string(), None)),
            Value::Object(team) => {
                let team_id = fields::opt_str(team, "team_id")
                    .map_err(field_error)?
                    .ok_or_else(|| bad_request("teams", "Each team object needs a `team_id`"))?;
                let role = match fields::opt_str(team, "user_role").map_err(field_error)? {
                    None => "user",
                    Some(role @ ("user" | "admin")) => role,
                    Some(_) => {
                        return Err(bad_request(
                            "teams",
                            "A team `user_role` is \"user\" or \"admin\"",
                        ));
                    }
                };
                let budget = fields::opt_f64(team, "max_budget_in_team").map_err(field_error)?;
                Ok((team_id.to_string(), role.to_string(), budget))
            }
            _ => Err(bad_request(
                "teams",
                "Invalid value for `teams`: expected team ids or team objects",
            )),
        })
        .collect()
}

fn check_role(body: &Map<String, Value>) -> Result<(), ProxyError> {
    match fields::opt_str(body, "user_role").map_err(field_error)? {
        Some(role) if !ROLES.contains(&role) => Err(bad_request(
            "user_role",
            format!(
                "Invalid user_role {role:?}: use one of {}",
                ROLES.join(", ")
            ),
        )),
        _ => Ok(()),
    }
}

/// `GET /user/info?user_id=` -> `{"user_id", "user_info", "keys", "teams"}`. Without `user_id`
/// an admin gets every key and team (`user_id` and `user_info` null), as in LiteLLM.
pub async fn info(cx: &Cx<'_>, query: &Query) -> Result<Response<Body>, ProxyError> {
    let client = cx.conn().await?;
    let Some(user_id) = query.get("user_id") else {
        let teams = team_store::list(&client, &team_store::Filter::default())
            .await
            .map_err(db_error)?;
        let keys = key_store::all_of(&client, None, None)
            .await
            .map_err(db_error)?;
        let keys = with_team_alias(keys, &teams);
        return Ok(ok(
            &json!({"user_id": null, "user_info": null, "keys": keys, "teams": teams}),
        ));
    };
    let user = store::get(&client, &user_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| {
            not_found(
                "user_id",
                format!("User not found, passed user_id={user_id}"),
            )
        })?;
    let filter = team_store::Filter {
        member: Some(user_id.clone()),
        team_ids: user["teams"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        organization_id: None,
    };
    let teams = team_store::list(&client, &filter).await.map_err(db_error)?;
    let keys = key_store::all_of(&client, Some(&user_id), None)
        .await
        .map_err(db_error)?;
    let keys = with_team_alias(keys, &teams);
    Ok(ok(
        &json!({"user_id": user_id, "user_info": user, "keys": keys, "teams": teams}),
    ))
}

/// Each key with its team's alias (LiteLLM writes the string "None" for keys without a team).
fn with_team_alias(keys: Vec<Value>, teams: &[Value]) -> Vec<Value> {
    keys.into_iter()
        .map(|mut key| {
            let alias = match key["team_id"].as_str() {
                Some(team_id) if team_id != haimaker_store::admin::UI_SESSION_TEAM => teams
                    .iter()
                    .find(|t| t["team_id"].as_str() == Some(team_id))
                    .map_or(Value::Null, |t| t["team_alias"].clone()),
                _ => Value::String("None".to_string()),
            };
            if let Value::Object(map) = &mut key {
                map.insert("team_alias".to_string(), alias);
            }
            key
        })
        .collect()
}

/// `POST /user/update` `{"user_id"|"user_email", <fields>}` -> `{"user_id", "data": <the user>}`.
/// As in LiteLLM, null, `[]` and `{}` values change nothing.
pub async fn update(cx: &Cx<'_>, body: &Bytes) -> Result<Response<Body>, ProxyError> {
    let body = object(body, false)?;
    let by_id = fields::opt_str(&body, "user_id").map_err(field_error)?;
    let by_email = fields::opt_str(&body, "user_email").map_err(field_error)?;
    if by_id.is_none() && by_email.is_none() {
        return Err(bad_request(
            "user_id",
            "Either user id or user email must be provided",
        ));
    }
    check_role(&body)?;
    let mut patch = fields::collect(store::FIELDS, &body, Nulls::Drop).map_err(field_error)?;
    patch.retain(|_, v| {
        !matches!(v, Value::Array(a) if a.is_empty())
            && !matches!(v, Value::Object(o) if o.is_empty())
    });
    if let Some(password) = patch.get("password").and_then(Value::as_str) {
        // LiteLLM's UI login accepts the password or its sha256.
        let hashed = hash_token(password);
        patch.insert("password".to_string(), Value::String(hashed));
    }
    let budget_reset_in = interval(&body, "budget_duration")?;

    let mut client = cx.conn().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| db_error(StoreError::query("starting a transaction", e)))?;
    let existing = match (by_id, by_email) {
        (Some(id), _) => store::get(&tx, id).await.map_err(db_error)?,
        (None, Some(email)) => store::by_email(&tx, email, false)
            .await
            .map_err(db_error)?
            .into_iter()
            .next(),
        (None, None) => None,
    };
    let Some(existing) = existing else {
        return Err(match by_id {
            Some(id) => not_found("user_id", format!("User not found, passed user_id={id}")),
            None => not_found(
                "user_email",
                format!(
                    "User not found, passed user_email={}",
                    by_email.unwrap_or_default()
                ),
            ),
        });
    };
    let user_id = existing["user_id"].as_str().unwrap_or_default().to_string();
    let base = patch
        .get("metadata")
        .unwrap_or(&existing["metadata"])
        .clone();
    if let Some(metadata) = metadata_fields(&body, &base) {
        patch.insert("metadata".to_string(), metadata);
    }
    let row = store::update(&tx, &user_id, &patch, budget_reset_in.as_deref())
        .await
        .map_err(db_error)?
        .ok_or_else(|| {
            not_found(
                "user_id",
                format!("User not found, passed user_id={user_id}"),
            )
        })?;
    tx.commit()
        .await
        .map_err(|e| db_error(StoreError::query("committing the user update", e)))?;
    cx.users_or_teams_changed().await;
    Ok(ok(&json!({"user_id": user_id, "data": row})))
}

/// `POST /user/delete` `{"user_ids": [...]}` -> the number of users deleted (LiteLLM returns
/// Prisma's `delete_many` count). Their keys go too (archived).
pub async fn delete(cx: &Cx<'_>, body: &Bytes) -> Result<Response<Body>, ProxyError> {
    let body = object(body, false)?;
    let user_ids = fields::opt_strings(&body, "user_ids")
        .map_err(field_error)?
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| bad_request("user_ids", "No user id passed in"))?;
    let mut client = cx.conn().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| db_error(StoreError::query("starting a transaction", e)))?;
    for user_id in &user_ids {
        if store::get(&tx, user_id).await.map_err(db_error)?.is_none() {
            return Err(not_found(
                "user_ids",
                format!("User not found, passed user_id={user_id}"),
            ));
        }
    }
    let actor = cx.actor();
    let actor_key = cx.actor_key();
    let tokens = key_store::owned_by(&tx, &user_ids, &[])
        .await
        .map_err(db_error)?;
    let by = DeletedBy {
        user_id: actor.as_deref(),
        api_key: actor_key.as_deref(),
    };
    key_store::delete(&tx, &tokens, by)
        .await
        .map_err(db_error)?;
    let deleted = store::delete(&tx, &user_ids).await.map_err(db_error)?;
    tx.commit()
        .await
        .map_err(|e| db_error(StoreError::query("committing the user delete", e)))?;
    cx.users_or_teams_changed().await;
    Ok(ok(&json!(deleted)))
}

/// `GET /user/list` -> `{"users": [... with key_count], "total", "page", "page_size", "total_pages"}`.
pub async fn list(cx: &Cx<'_>, query: &Query) -> Result<Response<Body>, ProxyError> {
    let page = Page {
        page: query.int("page", 1, 1, i64::from(i32::MAX))?,
        size: query.int("page_size", 25, 1, 100)?,
    };
    let split = |name: &str| {
        query.get(name).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
    };
    let filter = Filter {
        role: query.get("role"),
        user_ids: split("user_ids"),
        sso_user_ids: split("sso_user_ids"),
        user_email: query.get("user_email"),
        team: query.get("team"),
    };
    let sort = sort(query, store::SORTABLE, "asc")?;
    let client = cx.conn().await?;
    let (users, total) = store::list(&client, &filter, page, sort)
        .await
        .map_err(db_error)?;
    Ok(ok(&json!({
        "users": users,
        "total": total,
        "page": page.page,
        "page_size": page.size,
        "total_pages": page.total_pages(total),
    })))
}
