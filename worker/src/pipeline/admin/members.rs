//! Team members: `/team/member_add`, `/team/member_delete`, and the member logic `/team/new`
//! and `/user/new` share. A member lives in three places, all kept in step: the team's
//! `members_with_roles`, the user's `teams`, and a `LiteLLM_TeamMembership` row.

use bytes::Bytes;
use haimaker_store::StoreError;
use haimaker_store::admin::fields;
use haimaker_store::admin::{GenericClient, budgets, members, teams, users};
use http::{Response, StatusCode};
use serde_json::{Map, Value, json};

use super::super::Body;
use super::common::{Cx, bad_request, db_error, field_error, not_found, object, ok, required_str};
use crate::error::ProxyError;

/// One `Member` (`{"role": "admin"|"user", "user_id"?, "user_email"?}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Member {
    pub role: String,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
}

impl Member {
    fn parse(value: &Value, field: &str) -> Result<Self, ProxyError> {
        let Some(map) = value.as_object() else {
            return Err(bad_request(
                field,
                format!("Invalid `{field}`: each member must be an object"),
            ));
        };
        let user_id = fields::opt_str(map, "user_id")
            .map_err(field_error)?
            .map(str::to_string);
        let user_email = fields::opt_str(map, "user_email")
            .map_err(field_error)?
            .map(str::to_string);
        if user_id.is_none() && user_email.is_none() {
            return Err(bad_request(
                field,
                "Either user id or user email must be provided",
            ));
        }
        let role = match fields::opt_str(map, "role").map_err(field_error)? {
            Some(role @ ("admin" | "user")) => role.to_string(),
            Some(other) => {
                return Err(bad_request(
                    field,
                    format!("Invalid member role {other:?}: use \"admin\" or \"user\""),
                ));
            }
            None => {
                return Err(bad_request(
                    field,
                    "Each member needs a `role`: \"admin\" or \"user\"",
                ));
            }
        };
        Ok(Self {
            role,
            user_id,
            user_email,
        })
    }

    /// As LiteLLM stores it (`Member.model_dump()`).
    pub fn to_json(&self) -> Value {
        json!({"user_id": self.user_id, "user_email": self.user_email, "role": self.role})
    }

    /// Whether `stored` (a `members_with_roles` entry) is this member.
    fn matches(&self, stored: &Value) -> bool {
        let same = |field: &str, mine: &Option<String>| {
            mine.as_deref()
                .is_some_and(|m| stored[field].as_str() == Some(m))
        };
        same("user_id", &self.user_id) || same("user_email", &self.user_email)
    }
}

/// A member object or a list of them.
pub(super) fn parse_members(value: &Value, field: &str) -> Result<Vec<Member>, ProxyError> {
    match value {
        Value::Array(items) => items.iter().map(|m| Member::parse(m, field)).collect(),
        Value::Null => Ok(Vec::new()),
        other => Ok(vec![Member::parse(other, field)?]),
    }
}

/// A team's `members_with_roles` (LiteLLM stores `{}` for "none").
fn stored_members(team: &Value) -> Vec<Value> {
    team["members_with_roles"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// What adding members changed.
pub(super) struct Added {
    pub team: Value,
    pub users: Vec<Value>,
    pub memberships: Vec<Value>,
}

/// Adds `members` to the team (LiteLLM's `add_new_member` for each, then the team's list):
/// users are created when missing, `max_budget_in_team` becomes a budget row per member
/// (else the team's `team_member_budget_id`, if any). Members already listed are not listed twice.
pub(super) async fn add(
    c: &impl GenericClient,
    team_id: &str,
    members: &[Member],
    max_budget_in_team: Option<f64>,
    actor: &str,
) -> Result<Added, ProxyError> {
    teams::lock(c, team_id).await.map_err(db_error)?;
    let team = teams::get(c, team_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found("team_id", format!("Team not found for team_id={team_id}")))?;
    let default_budget = team["metadata"]["team_member_budget_id"]
        .as_str()
        .map(str::to_string);
    let mut list = stored_members(&team);
    let mut added = Added {
        team: Value::Null,
        users: Vec::new(),
        memberships: Vec::new(),
    };
    for member in members {
        let user = match (&member.user_id, &member.user_email) {
            (Some(user_id), email) => members::join_user(c, user_id, email.as_deref(), team_id).await,
            (None, Some(email)) => {
                let found = users::by_email(c, email, false).await.map_err(db_error)?;
                match found.as_slice() {
                    [] => members::join_user(c, &uuid::Uuid::new_v4().to_string(), Some(email), team_id).await,
                    [one] => {
                        let user_id = one["user_id"].as_str().unwrap_or_default().to_string();
                        members::join_user(c, &user_id, None, team_id).await
                    }
                    _ => {
                        return Err(bad_request(
                            "member",
                            "Multiple users with this email found in db. Please use 'user_id' instead.",
                        ));
                    }
                }
            }
            (None, None) => continue,
        }
        .map_err(db_error)?;
        let user_id = user["user_id"].as_str().unwrap_or_default().to_string();
        let budget_id = match max_budget_in_team {
            Some(max_budget) => {
                let budget = budgets::NewBudget {
                    max_budget: Some(max_budget),
                    ..Default::default()
                };
                let row = budgets::insert(c, &budget, actor).await.map_err(db_error)?;
                row["budget_id"].as_str().map(str::to_string)
            }
            None => default_budget.clone(),
        };
        let membership = members::ensure_membership(c, &user_id, team_id, budget_id.as_deref())
            .await
            .map_err(db_error)?;
        let resolved = Member {
            user_id: Some(user_id),
            ..member.clone()
        };
        if !list
            .iter()
            .any(|m| member.matches(m) || resolved.matches(m))
        {
            list.push(resolved.to_json());
        }
        added.users.push(user);
        added.memberships.push(membership);
    }
    added.team = teams::set_members(c, team_id, &Value::Array(list))
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found("team_id", format!("Team not found for team_id={team_id}")))?;
    Ok(added)
}

/// `POST /team/member_add` `{"team_id", "member": <member or list>, "max_budget_in_team"?}` ->
/// the team with `updated_users` and `updated_team_memberships`.
pub async fn member_add(cx: &Cx<'_>, body: &Bytes) -> Result<Response<Body>, ProxyError> {
    let body = object(body, false)?;
    let team_id = required_str(&body, "team_id")
        .map_err(|_| bad_request("team_id", "No team id passed in"))?;
    let member = body.get("member").filter(|m| !m.is_null());
    let Some(member) = member else {
        return Err(bad_request("member", "No member/members passed in"));
    };
    let members = parse_members(member, "member")?;
    let max_budget_in_team = fields::opt_f64(&body, "max_budget_in_team").map_err(field_error)?;
    let mut client = cx.conn().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| db_error(StoreError::query("starting a transaction", e)))?;
    teams::lock(&tx, team_id).await.map_err(db_error)?;
    let team = teams::get(&tx, team_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found("team_id", format!("Team not found for team_id={team_id}")))?;
    let existing = stored_members(&team);
    let duplicates = members
        .iter()
        .filter(|m| existing.iter().any(|e| m.matches(e)))
        .count();
    let listed = serde_json::to_string(&existing).unwrap_or_default();
    if member.is_array() && duplicates == members.len() && !members.is_empty() {
        return Err(already_in_team(format!(
            "All users are already in team. Existing members={listed}"
        )));
    }
    if let (false, Some(one), 1) = (member.is_array(), members.first(), duplicates) {
        return Err(already_in_team(format!(
            "User already in team. Member: user_id={}, user_email={}. Existing members={listed}",
            one.user_id.as_deref().unwrap_or("None"),
            one.user_email.as_deref().unwrap_or("None"),
        )));
    }
    let added = add(
        &tx,
        team_id,
        &members,
        max_budget_in_team,
        &cx.actor_or_admin(),
    )
    .await?;
    tx.commit()
        .await
        .map_err(|e| db_error(StoreError::query("committing the new members", e)))?;
    cx.users_or_teams_changed().await;
    let mut out: Map<String, Value> = added.team.as_object().cloned().unwrap_or_default();
    out.insert("updated_users".to_string(), Value::Array(added.users));
    out.insert(
        "updated_team_memberships".to_string(),
        Value::Array(added.memberships),
    );
    Ok(ok(&Value::Object(out)))
}

fn already_in_team(message: String) -> ProxyError {
    ProxyError::new(
        StatusCode::BAD_REQUEST,
        "team_member_already_in_team",
        message,
    )
    .with_param("member")
}

/// `POST /team/member_delete` `{"team_id", "user_id"|"user_email"}` -> the team. The member
/// leaves the team's list, the user's `teams` and the membership table.
pub async fn member_delete(cx: &Cx<'_>, body: &Bytes) -> Result<Response<Body>, ProxyError> {
    let body = object(body, false)?;
    let team_id = required_str(&body, "team_id")
        .map_err(|_| bad_request("team_id", "No team id passed in"))?;
    let user_id = fields::opt_str(&body, "user_id").map_err(field_error)?;
    let user_email = fields::opt_str(&body, "user_email").map_err(field_error)?;
    if user_id.is_none() && user_email.is_none() {
        return Err(bad_request(
            "user_id",
            "Either user_id or user_email needs to be passed in",
        ));
    }
    let leaving = Member {
        role: String::new(),
        user_id: user_id.map(str::to_string),
        user_email: user_email.map(str::to_string),
    };
    let mut client = cx.conn().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| db_error(StoreError::query("starting a transaction", e)))?;
    teams::lock(&tx, team_id).await.map_err(db_error)?;
    let team = teams::get(&tx, team_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found("team_id", format!("Team id={team_id} does not exist in db")))?;
    let before = stored_members(&team);
    let kept: Vec<Value> = before
        .iter()
        .filter(|m| !leaving.matches(m))
        .cloned()
        .collect();
    if kept.len() == before.len() {
        return Err(bad_request("user_id", "User not found in team"));
    }
    let team = teams::set_members(&tx, team_id, &Value::Array(kept))
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found("team_id", format!("Team id={team_id} does not exist in db")))?;
    members::leave(&tx, team_id, user_id, user_email)
        .await
        .map_err(db_error)?;
    tx.commit()
        .await
        .map_err(|e| db_error(StoreError::query("committing the member removal", e)))?;
    cx.users_or_teams_changed().await;
    Ok(ok(&team))
}
