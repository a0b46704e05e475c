//! `/team/new`, `/team/info`, `/team/update`, `/team/delete`, `/team/list` (LiteLLM's
//! `team_endpoints.py`). Members: see `members.rs`.

use bytes::Bytes;
use haimaker_store::StoreError;
use haimaker_store::admin::fields::{self, Nulls};
use haimaker_store::admin::keys::{self as key_store, DeletedBy};
use haimaker_store::admin::teams::{self as store, Filter, NewTeam};
use haimaker_store::admin::{GenericClient, budgets};
use http::Response;
use serde_json::{Map, Value, json};

use super::super::Body;
use super::common::{
    Cx, Query, bad_request, db_error, field_error, interval, metadata_fields, not_found, object, ok,
};
use super::members::{self, Member, parse_members};
use crate::error::ProxyError;

/// `POST /team/new` -> the team row. The caller (its user id; `default_user_id` for the master
/// key) becomes an admin member, as in LiteLLM.
pub async fn new(cx: &Cx<'_>, body: &Bytes) -> Result<Response<Body>, ProxyError> {
    let body = object(body, false)?;
    let team_id = fields::opt_str(&body, "team_id")
        .map_err(field_error)?
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
    let mut patch = fields::collect(store::FIELDS, &body, Nulls::Drop).map_err(field_error)?;
    let budget_reset_in = interval(&body, "budget_duration")?;
    let mut members = parse_members(
        body.get("members_with_roles").unwrap_or(&Value::Null),
        "members_with_roles",
    )?;
    if let Some(actor) = cx.actor()
        && !members
            .iter()
            .any(|m| m.user_id.as_deref() == Some(actor.as_str()))
    {
        members.push(Member {
            role: "admin".to_string(),
            user_id: Some(actor),
            user_email: None,
        });
    }
    if let Some(metadata) = metadata_fields(&body, patch.get("metadata").unwrap_or(&Value::Null)) {
        patch.insert("metadata".to_string(), metadata);
    }
    let aliases = model_aliases(&body)?;
    let actor = cx.actor_or_admin();

    let mut client = cx.conn().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| db_error(StoreError::query("starting a transaction", e)))?;
    let taken = || {
        bad_request(
            "team_id",
            format!("Team id = {team_id} already exists. Please use a different team id."),
        )
    };
    if store::get(&tx, &team_id).await.map_err(db_error)?.is_some() {
        return Err(taken());
    }
    let model_id = match &aliases {
        Some(aliases) => Some(
            store::save_model_aliases(&tx, None, aliases, &actor)
                .await
                .map_err(db_error)?,
        ),
        None => None,
    };
    member_budget(&tx, &body, &mut patch, &Value::Null, &actor).await?;
    let row = store::with_defaults(&patch);
    let new = NewTeam {
        team_id: &team_id,
        row: &row,
        members_with_roles: &json!([]),
        model_id,
        budget_reset_in: budget_reset_in.as_deref(),
    };
    store::insert(&tx, &new)
        .await
        .map_err(db_error)?
        .ok_or_else(taken)?;
    let added = members::add(&tx, &team_id, &members, None, &actor).await?;
    tx.commit()
        .await
        .map_err(|e| db_error(StoreError::query("committing the new team", e)))?;
    cx.users_or_teams_changed().await;
    Ok(ok(&added.team))
}

/// `POST /team/update` `{"team_id", <fields>}` -> `{"team_id", "data": <the team>}`.
pub async fn update(cx: &Cx<'_>, body: &Bytes) -> Result<Response<Body>, ProxyError> {
    let body = object(body, false)?;
    let team_id = team_id_field(&body)?;
    let mut patch = fields::collect(store::FIELDS, &body, Nulls::Keep).map_err(field_error)?;
    if patch.get("organization_id").is_some_and(|v| v == "") {
        // LiteLLM: an empty organization_id unsets it.
        patch.insert("organization_id".to_string(), Value::Null);
    }
    let budget_reset_in = interval(&body, "budget_duration")?;
    let aliases = model_aliases(&body)?;
    let actor = cx.actor_or_admin();

    let mut client = cx.conn().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| db_error(StoreError::query("starting a transaction", e)))?;
    let existing = store::get(&tx, &team_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| {
            not_found(
                "team_id",
                format!("Team not found, passed team_id={team_id}"),
            )
        })?;
    // Metadata fields merge into the given metadata, else the stored one (LiteLLM would replace
    // the stored metadata with just the field).
    let base = patch
        .get("metadata")
        .unwrap_or(&existing["metadata"])
        .clone();
    if let Some(metadata) = metadata_fields(&body, &base) {
        patch.insert("metadata".to_string(), metadata);
    }
    let model_id = match &aliases {
        Some(aliases) => {
            let current = existing["model_id"]
                .as_i64()
                .and_then(|id| i32::try_from(id).ok());
            Some(
                store::save_model_aliases(&tx, current, aliases, &actor)
                    .await
                    .map_err(db_error)?,
            )
        }
        None => None,
    };
    member_budget(&tx, &body, &mut patch, &existing["metadata"], &actor).await?;
    let row = store::update(&tx, &team_id, &patch, model_id, budget_reset_in.as_deref())
        .await
        .map_err(db_error)?
        .ok_or_else(|| {
            not_found(
                "team_id",
                format!("Team not found, passed team_id={team_id}"),
            )
        })?;
    tx.commit()
        .await
        .map_err(|e| db_error(StoreError::query("committing the team update", e)))?;
    cx.users_or_teams_changed().await;
    Ok(ok(&json!({"team_id": team_id, "data": row})))
}

/// `POST /team/delete` `{"team_ids": [...]}` -> `{"deleted_teams": [...]}`: the teams, their keys
/// (archived), their memberships and their ids in users' `teams`.
pub async fn delete(cx: &Cx<'_>, body: &Bytes) -> Result<Response<Body>, ProxyError> {
    let body = object(body, false)?;
    let team_ids = fields::opt_strings(&body, "team_ids")
        .map_err(field_error)?
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| bad_request("team_ids", "No team id passed in"))?;
    let mut client = cx.conn().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| db_error(StoreError::query("starting a transaction", e)))?;
    for team_id in &team_ids {
        if store::get(&tx, team_id).await.map_err(db_error)?.is_none() {
            return Err(not_found(
                "team_ids",
                format!("Team not found, passed team_id={team_id}"),
            ));
        }
    }
    let actor = cx.actor();
    let actor_key = cx.actor_key();
    let tokens = key_store::owned_by(&tx, &[], &team_ids)
        .await
        .map_err(db_error)?;
    let by = DeletedBy {
        user_id: actor.as_deref(),
        api_key: actor_key.as_deref(),
    };
    key_store::delete(&tx, &tokens, by)
        .await
        .map_err(db_error)?;
    let by = store::DeletedBy {
        user_id: actor.as_deref(),
        api_key: actor_key.as_deref(),
    };
    store::delete(&tx, &team_ids, by).await.map_err(db_error)?;
    tx.commit()
        .await
        .map_err(|e| db_error(StoreError::query("committing the team delete", e)))?;
    cx.users_or_teams_changed().await;
    Ok(ok(&json!({"deleted_teams": team_ids})))
}

/// `GET /team/info?team_id=` -> `{"team_id", "team_info", "keys", "team_memberships"}`.
pub async fn info(cx: &Cx<'_>, query: &Query) -> Result<Response<Body>, ProxyError> {
    let team_id = query
        .get("team_id")
        .ok_or_else(|| bad_request("team_id", "Malformed request. No team id passed in."))?;
    let client = cx.conn().await?;
    let mut team = store::get(&client, &team_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| {
            not_found(
                "team_id",
                format!("Team not found, passed team id: {team_id}."),
            )
        })?;
    if let Some(budget_id) = team["metadata"]["team_member_budget_id"]
        .as_str()
        .map(str::to_string)
    {
        let budget = budgets::get(&client, &budget_id).await.map_err(db_error)?;
        if let Value::Object(map) = &mut team {
            map.insert(
                "team_member_budget_table".to_string(),
                budget.unwrap_or(Value::Null),
            );
        }
    }
    let keys = key_store::all_of(&client, None, Some(&team_id))
        .await
        .map_err(db_error)?;
    let memberships = store::memberships(&client, &team_id, None)
        .await
        .map_err(db_error)?;
    Ok(ok(&json!({
        "team_id": team_id,
        "team_info": team,
        "keys": keys,
        "team_memberships": memberships,
    })))
}

/// `GET /team/list?user_id=&organization_id=` -> every team (or the user's), each with its
/// `team_memberships` and `keys`, sorted by alias.
pub async fn list(cx: &Cx<'_>, query: &Query) -> Result<Response<Body>, ProxyError> {
    let filter = Filter {
        member: query.get("user_id"),
        team_ids: Vec::new(),
        organization_id: query.get("organization_id"),
    };
    let client = cx.conn().await?;
    let teams = store::list(&client, &filter).await.map_err(db_error)?;
    Ok(ok(&Value::Array(teams)))
}

fn team_id_field(body: &Map<String, Value>) -> Result<String, ProxyError> {
    match fields::opt_str(body, "team_id").map_err(field_error)? {
        Some(id) if !id.is_empty() => Ok(id.to_string()),
        _ => Err(bad_request("team_id", "No team id passed in")),
    }
}

/// `model_aliases` (a dict), stored in `LiteLLM_ModelTable`.
fn model_aliases(body: &Map<String, Value>) -> Result<Option<Value>, ProxyError> {
    match body.get("model_aliases") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => fields::check("model_aliases", fields::Kind::Object, value)
            .map(Some)
            .map_err(field_error),
    }
}

/// `team_member_budget` / `team_member_rpm_limit` / `team_member_tpm_limit`: a budget row that
/// new members' memberships point at, named by `metadata.team_member_budget_id`.
async fn member_budget(
    c: &impl GenericClient,
    body: &Map<String, Value>,
    patch: &mut Map<String, Value>,
    stored_metadata: &Value,
    actor: &str,
) -> Result<(), ProxyError> {
    let max_budget = fields::opt_f64(body, "team_member_budget").map_err(field_error)?;
    let int = |field: &str| -> Result<Option<i64>, ProxyError> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => fields::check(field, fields::Kind::BigInt, v)
                .map(|v| v.as_i64())
                .map_err(field_error),
        }
    };
    let (rpm_limit, tpm_limit) = (int("team_member_rpm_limit")?, int("team_member_tpm_limit")?);
    if max_budget.is_none() && rpm_limit.is_none() && tpm_limit.is_none() {
        return Ok(());
    }
    let budget = budgets::NewBudget {
        max_budget,
        rpm_limit,
        tpm_limit,
        ..Default::default()
    };
    let row = budgets::insert(c, &budget, actor).await.map_err(db_error)?;
    let base = patch.get("metadata").unwrap_or(stored_metadata);
    let mut metadata = base.as_object().cloned().unwrap_or_default();
    metadata.insert(
        "team_member_budget_id".to_string(),
        row["budget_id"].clone(),
    );
    patch.insert("metadata".to_string(), Value::Object(metadata));
    Ok(())
}
