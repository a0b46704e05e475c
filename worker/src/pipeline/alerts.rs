//! The worker's alerting hooks: thin translations of gateway events into
//! `haimaker_alerting` alerts. Each hook starts with `let Some(alerts) = &state.alerts`, so with
//! alerting off a hook is one pointer test; with it on, hooks only queue (nothing is awaited).
//!
//! Where the events come from:
//! * `llm.rs`: failed calls (`llm_exceptions`, after retries and fallbacks; only failures of
//!   a provider, never the client's own mistakes), every failed attempt (outage counting),
//!   cooldowns, fallbacks, slow answers (time to the response head: a stream that starts
//!   quickly is not slow), calls in flight (hanging detection), budgets after each charge
//!   and on a budget refusal;
//! * the database status (`db/status.rs`): unreachable / back, and failed spend writes;
//! * the Redis client: down / back;
//! * the management API: key, team and user lifecycle events, new stored models;
//! * `/health/services?service=slack|webhook`: test alerts.

mod reports;

use std::sync::Arc;
use std::time::{Duration, Instant};

use haimaker_alerting::{
    AlertType, Alerting, BudgetEvent, BudgetInfo, BudgetScope, CallDetails, CallInfo, Failure,
    Settings, Tracked, alert,
};
use haimaker_config::{Config, Vars};
use haimaker_router::{Deployment, Target};
use http::{Response, StatusCode};
use serde_json::{Map, Value, json};

use super::Body;
use super::auth::Caller;
use super::request::LlmRequest;
use super::respond;
use super::route::AdminRoute;
use crate::db::{DbLayer, DbState};
use crate::error::ProxyError;
use crate::state::AppState;

/// Alerting as configured (`None` when off). Warnings are logged by [`start`] in worker 1.
pub fn from_config(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    detailed_debug: bool,
) -> Option<Alerting> {
    Settings::from_config(config, env, detailed_debug)
        .0
        .map(Alerting::new)
}

/// Starts alerting's background work: the flush loop, the hanging-call sweep, and the watchers
/// of the database and Redis. Worker `slot` 1 leads (see [`Alerting::set_leader`]) and logs
/// the configuration warnings once.
pub fn start(state: &Arc<AppState>, config: &Config, slot: u32) {
    if slot == 1 {
        let env = haimaker_config::ProcessEnv;
        for warning in Settings::from_config(config, &|n| env.get(n), false).1 {
            tracing::warn!(target: "haimaker::alerting", "{warning}");
        }
    }
    let Some(alerts) = &state.alerts else {
        return;
    };
    alerts.set_leader(slot == 1);
    alerts.start(state.redis.clone());
    if let Some(redis) = &state.redis {
        let mut health = redis.health();
        let alerts = alerts.clone();
        tokio::spawn(async move {
            while health.changed().await.is_ok() {
                let now = health.borrow_and_update().clone();
                match now {
                    haimaker_cache::RedisHealth::Down(error) => {
                        alerts.raise(alert::redis_down(&error))
                    }
                    haimaker_cache::RedisHealth::Up => alerts.raise(alert::redis_up()),
                }
            }
        });
    }
    if let Some(db) = &state.db {
        tokio::spawn(watch_db(alerts.clone(), Arc::clone(db)));
        if alerts.sends(AlertType::DailyReports) || alerts.sends(AlertType::SpendReports) {
            tokio::spawn(reports::run(
                alerts.clone(),
                Arc::clone(state),
                Arc::clone(db),
            ));
        }
    }
}

/// A standby took over `slot`.
pub fn activated(state: &AppState, slot: u32) {
    if let Some(alerts) = &state.alerts {
        alerts.set_leader(slot == 1);
    }
}

async fn watch_db(alerts: Alerting, db: Arc<DbLayer>) {
    let mut down = false;
    loop {
        db.status.changed().await;
        if let Some(error) = db.status.take_write_error() {
            // LiteLLM sends both: the database call failed, and spend went untracked.
            alerts.raise(alert::db_write_failed(&error));
            alerts.raise(alert::failed_tracking_spend(&error));
        }
        match db.status.get() {
            DbState::Disconnected if !down => {
                down = true;
                let error = db
                    .status
                    .last_error()
                    .unwrap_or_else(|| "the database is unreachable".to_string());
                alerts.raise(alert::db_down(&error));
            }
            DbState::Connected | DbState::SchemaBehind if down => {
                down = false;
                alerts.raise(alert::db_up());
            }
            _ => {}
        }
    }
}

fn call_info<'a>(
    group: &'a str,
    deployment: Option<&'a Deployment>,
    api_base: &'a str,
    caller: Option<&'a Caller>,
) -> CallInfo<'a> {
    let record = match caller {
        Some(Caller::Key(key)) => Some(&key.record),
        _ => None,
    };
    CallInfo {
        model_group: group,
        deployment_id: deployment.map_or("", |d| d.id.as_str()),
        model: deployment.map_or("", |d| d.litellm_model.as_str()),
        api_base,
        key_alias: record.and_then(|r| r.key_alias.as_deref()),
        team: record.and_then(|r| {
            r.team
                .as_ref()
                .and_then(|t| t.team_alias.as_deref())
                .or(r.team_id.as_deref())
        }),
        messages: None,
    }
}

/// The prompt, for alerts, only when message logging is on.
fn prompt<'a>(alerts: &Alerting, request: &'a LlmRequest) -> Option<&'a str> {
    if !alerts.settings().log_messages {
        return None;
    }
    ["messages", "input", "prompt"]
        .iter()
        .find_map(|k| request.body.get(k))
        .map(|v| v.get())
}

/// An attempt at `deployment` is starting: tracked for hanging detection until dropped.
pub fn track(
    state: &AppState,
    group: &str,
    deployment: &Deployment,
    target: &Target,
) -> Option<Tracked> {
    state.alerts.as_ref()?.track(|| CallDetails {
        model_group: group.to_string(),
        deployment_id: deployment.id.clone(),
        model: deployment.litellm_model.clone(),
        api_base: target.api_base.clone().unwrap_or_default(),
        key_alias: None,
        team: None,
    })
}

/// An attempt at `deployment` failed: counted for outage detection.
pub fn attempt_failed(
    state: &AppState,
    deployment: &Deployment,
    target: &Target,
    error: &ProxyError,
) {
    let Some(alerts) = &state.alerts else {
        return;
    };
    if error.class.is_none() {
        return;
    }
    alerts.call_failed(&Failure {
        deployment_id: &deployment.id,
        model: &deployment.litellm_model,
        provider: target.provider.name,
        api_base: target.api_base.as_deref().unwrap_or(""),
        region: deployment.config.litellm_params.region_name.as_deref(),
        status: error.status.as_u16(),
    });
}

/// The router cooled `deployment` down.
pub fn cooled_down(
    state: &AppState,
    deployment: &Deployment,
    target: &Target,
    cooldown: Duration,
    status: u16,
    message: &str,
) {
    let Some(alerts) = &state.alerts else {
        return;
    };
    if !alerts.sends(AlertType::CooldownDeployment) {
        return;
    }
    let api_base = target.api_base.as_deref().unwrap_or("");
    let call = call_info(&deployment.model_name, Some(deployment), api_base, None);
    alerts.raise(alert::cooldown(&call, cooldown, status, message));
}

/// A call failed for good (after retries and fallbacks).
pub fn call_failed(
    state: &AppState,
    request: &LlmRequest,
    caller: &Caller,
    error: &ProxyError,
    deployment: Option<&Deployment>,
    group: &str,
) {
    let Some(alerts) = &state.alerts else {
        return;
    };
    // Only failures of a provider: the client's own mistakes are not the operator's alarm.
    if error.class.is_none() || !alerts.sends(AlertType::LlmExceptions) {
        return;
    }
    let api_base = deployment.and_then(|d| d.api_base.as_deref()).unwrap_or("");
    let mut call = call_info(group, deployment, api_base, Some(caller));
    call.messages = prompt(alerts, request);
    alerts.raise(alert::llm_exception(&call, &error.message));
}

/// A call was answered (the head of a stream, or a whole buffered answer).
pub fn call_answered(
    state: &AppState,
    request: &LlmRequest,
    caller: &Caller,
    started: Instant,
    group: &str,
    deployment: &Deployment,
    api_base: Option<&str>,
) {
    let Some(alerts) = &state.alerts else {
        return;
    };
    let took = started.elapsed();
    if took <= alerts.threshold() || !alerts.sends(AlertType::LlmTooSlow) {
        return;
    }
    let mut call = call_info(
        group,
        Some(deployment),
        api_base.unwrap_or(""),
        Some(caller),
    );
    call.messages = prompt(alerts, request);
    alerts.raise(alert::too_slow(&call, took, alerts.threshold()));
}

/// `from` failed and the fallback group `to` answered.
pub fn fallback_used(state: &AppState, from: &str, to: &str, error: &ProxyError, fallbacks: u32) {
    if let Some(alerts) = &state.alerts
        && alerts.sends(AlertType::FallbackReports)
    {
        alerts.raise(alert::fallback(from, to, &error.message, fallbacks));
    }
}

/// Checks the caller's key, user and team budgets against their spend as this worker knows
/// it (the database value plus what this worker charged since): LiteLLM's budget alerts.
pub fn budgets(state: &AppState, caller: &Caller) {
    let (Some(alerts), Caller::Key(key), Some(db)) = (&state.alerts, caller, &state.db) else {
        return;
    };
    let record = &key.record;
    let user_max = record.user.as_ref().and_then(|u| u.max_budget);
    let team_max = record.team.as_ref().and_then(|t| t.max_budget);
    if (record.max_budget.is_none() && user_max.is_none() && team_max.is_none())
        || !alerts.sends(AlertType::BudgetAlerts)
    {
        return;
    }
    let spends = key.effective_spend(&db.ledger);
    let (key_spend, user_spend, team_spend) = (spends.key, spends.user, spends.team);
    let ttl = alerts.settings().args.budget_alert_ttl;
    let base = BudgetInfo {
        scope: BudgetScope::Key,
        id: record.token.clone(),
        spend: key_spend,
        max_budget: 0.0,
        key_alias: record.key_alias.clone(),
        user_id: record.user_id.clone(),
        team_id: record.team_id.clone(),
        team_alias: record.team.as_ref().and_then(|t| t.team_alias.clone()),
        user_email: None,
    };
    let check = |scope, id: &str, spend: f64, max: Option<f64>| {
        let Some(max) = max else {
            return;
        };
        if let Some(event) = BudgetEvent::of(spend, max) {
            let info = BudgetInfo {
                scope,
                id: id.to_string(),
                spend,
                max_budget: max,
                ..base.clone()
            };
            alerts.raise(alert::budget(&info, event, ttl));
        }
    };
    check(
        BudgetScope::Key,
        &record.token,
        key_spend,
        record.max_budget,
    );
    if let (Some(user), Some(spend)) = (&record.user, user_spend) {
        check(BudgetScope::User, &user.user_id, spend, user.max_budget);
    }
    if let (Some(team), Some(spend)) = (&record.team, team_spend) {
        check(BudgetScope::Team, &team.team_id, spend, team.max_budget);
    }
}

/// Admission refused the call: a budget refusal is checked for a crossed budget.
pub fn refused(state: &AppState, caller: &Caller, error: &ProxyError) {
    if error.error_type == "budget_exceeded" {
        budgets(state, caller);
    }
}

/// Who made a management call, for lifecycle alerts.
fn actor(caller: &Caller) -> String {
    match caller {
        Caller::Admin => "proxy admin (master key)".to_string(),
        Caller::Open => "open proxy".to_string(),
        Caller::Key(key) => key
            .record
            .user_id
            .clone()
            .or_else(|| key.record.key_alias.clone())
            .unwrap_or_else(|| "a proxy_admin key".to_string()),
        Caller::Unverified(_) => "unverified key".to_string(),
    }
}

/// A management call succeeded: the key, team and user lifecycle events.
pub fn management(
    state: &AppState,
    caller: &Caller,
    route: AdminRoute,
    body: &[u8],
    status: StatusCode,
) {
    let Some(alerts) = &state.alerts else {
        return;
    };
    if !status.is_success() {
        return;
    }
    let kind = match route {
        AdminRoute::KeyGenerate => AlertType::NewVirtualKeyCreated,
        AdminRoute::KeyUpdate
        | AdminRoute::KeyRegenerate
        | AdminRoute::KeyBlock
        | AdminRoute::KeyUnblock => AlertType::VirtualKeyUpdated,
        AdminRoute::KeyDelete => AlertType::VirtualKeyDeleted,
        AdminRoute::UserNew => AlertType::NewInternalUserCreated,
        AdminRoute::UserUpdate => AlertType::InternalUserUpdated,
        AdminRoute::UserDelete => AlertType::InternalUserDeleted,
        AdminRoute::TeamNew => AlertType::NewTeamCreated,
        AdminRoute::TeamUpdate | AdminRoute::TeamMemberAdd | AdminRoute::TeamMemberDelete => {
            AlertType::TeamUpdated
        }
        AdminRoute::TeamDelete => AlertType::TeamDeleted,
        _ => return,
    };
    if !alerts.sends(kind) {
        return;
    }
    let args = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    alerts.raise(alert::lifecycle(kind, &actor(caller), &args));
}

/// `/model/new` stored a model (`new_model_added`, sent as is like LiteLLM's).
pub fn model_added(state: &AppState, name: &str, model: &str) {
    let Some(alerts) = &state.alerts else {
        return;
    };
    if !alerts.sends(AlertType::NewModelAdded) {
        return;
    }
    let base = alerts
        .settings()
        .proxy_base_url
        .as_deref()
        .unwrap_or("http://0.0.0.0:4000");
    alerts.raise(haimaker_alerting::Alert::new(
        AlertType::NewModelAdded,
        haimaker_alerting::Level::Low,
        format!(
            "\n*🚅 New Model Added*\nModel Name: `{name}`\nModel: `{model}`\n\nUsage OpenAI Python SDK:\n```\nimport openai\nclient = openai.OpenAI(\n    api_key=\"your_api_key\",\n    base_url={base}\n)\n\nresponse = client.chat.completions.create(\n    model=\"{name}\", # model to send to the proxy\n    messages = [\n        {{\n            \"role\": \"user\",\n            \"content\": \"this is a test request, write a short poem\"\n        }}\n    ]\n)\n```\n"
        ),
    ));
}

/// Services `/health/services` knows (LiteLLM's list).
const SERVICES: &[&str] = &[
    "slack_budget_alerts",
    "email",
    "langfuse",
    "slack",
    "openmeter",
    "webhook",
    "braintrust",
    "otel",
    "custom_callback_api",
    "langsmith",
    "datadog",
    "generic_api",
];

/// `GET /health/services?service=...` (admin): queues a test alert of every active type
/// (`slack`), or a test budget event (`webhook`); they go out with the next flush.
pub fn health_services(
    state: &AppState,
    caller: &Caller,
    service: Option<&str>,
) -> Result<Response<Body>, ProxyError> {
    let Some(service) = service else {
        return Err(ProxyError::bad_request("Service must be specified."));
    };
    if !SERVICES.contains(&service) {
        return Err(ProxyError::bad_request(format!(
            "Service must be in list. Service={service}. List={SERVICES:?}"
        )));
    }
    let not_configured = || {
        ProxyError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "auth_error",
            format!("\"{service}\" not in proxy config: general_settings. Unable to test this."),
        )
        .with_param("None")
    };
    let alerts = state.alerts.as_ref();
    match service {
        "slack" | "slack_budget_alerts" => {
            let Some(alerts) = alerts.filter(|a| a.settings().slack) else {
                return Err(not_configured());
            };
            let types: Vec<AlertType> = alerts.active().iter().collect();
            for t in &types {
                alerts.raise(alert::test(*t));
            }
            Ok(respond::json(
                StatusCode::OK,
                json!({
                    "status": "success",
                    "alert_types": types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                    "message": "Mock Slack Alert sent, verify Slack Alert Received on your channel",
                })
                .to_string()
                .into(),
            ))
        }
        "webhook" => {
            let Some(alerts) = alerts.filter(|a| a.settings().webhook) else {
                return Err(not_configured());
            };
            let (user_id, team_id, alias) = match caller {
                Caller::Key(key) => (
                    key.record.user_id.as_deref(),
                    key.record.team_id.as_deref(),
                    key.record.key_alias.as_deref(),
                ),
                _ => (None, None, None),
            };
            let mut test = alert::webhook_test(user_id, team_id, alias);
            // The test event goes out whether or not budget alerts are on.
            test.kind = AlertType::BudgetAlerts;
            alerts.raise(test);
            Ok(respond::json(
                StatusCode::OK,
                json!({"status": "success", "message": "Mock Webhook Alert sent, verify the event was received"})
                    .to_string()
                    .into(),
            ))
        }
        _ => Err(not_configured()),
    }
}
