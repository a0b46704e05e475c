//! The read-only endpoints: `/models`, `/models/{id}`, `/model/info` and the health probes.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Map, Value, json};

use super::Body;
use super::auth::Caller;
use super::enforce::allows;
use super::respond::{self, full};
use crate::db::DbState;
use crate::error::ProxyError;
use crate::state::AppState;

/// The `created` timestamp LiteLLM reports for every model.
const CREATED: u64 = 1_677_610_602;

fn model_entry(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": CREATED, "owned_by": "openai"})
}

/// The model groups the caller may use (a key's and its team's model lists apply).
pub fn models(state: &AppState, caller: &Caller) -> Response<Body> {
    let allowed = |name: &str| match caller {
        Caller::Key(key) => {
            allows(&key.record.models, name, name)
                && key
                    .record
                    .team
                    .as_ref()
                    .is_none_or(|t| allows(&t.models, name, name))
        }
        _ => true,
    };
    let data: Vec<Value> = state
        .router()
        .model_names()
        .into_iter()
        .filter(|name| allowed(name))
        .map(model_entry)
        .collect();
    respond::json(
        StatusCode::OK,
        Bytes::from(json!({"data": data, "object": "list"}).to_string()),
    )
}

pub fn model(state: &AppState, id: &str) -> Result<Response<Body>, ProxyError> {
    if state.router().resolve(id).is_none() {
        return Err(
            ProxyError::not_found(format!("The model `{id}` does not exist")).with_param("model"),
        );
    }
    Ok(respond::json(
        StatusCode::OK,
        Bytes::from(model_entry(id).to_string()),
    ))
}

/// `/model/info`: every deployment with its parameters (secrets removed by the config
/// crate) and its model info, completed from the price map as LiteLLM does.
pub fn model_info(state: &AppState) -> Response<Body> {
    let data: Vec<Value> = state
        .router()
        .deployments()
        .iter()
        .map(|d| {
            let target = d.target(&d.model_name, state.prices());
            let mut info: Map<String, Value> = state
                .prices()
                .lookup(
                    target.provider.name,
                    &target.provider_model,
                    d.base_model.as_deref(),
                )
                .map(|entry| {
                    let mut m = entry.info();
                    m.insert("key".into(), Value::String(entry.name.clone()));
                    m
                })
                .unwrap_or_default();
            for (k, v) in &d.config.model_info.raw {
                info.insert(k.clone(), v.clone());
            }
            info.insert("id".into(), Value::String(d.id.clone()));
            info.entry("db_model").or_insert(Value::Bool(false));
            info.insert(
                "input_cost_per_token".into(),
                json!(target.prices.input_cost_per_token),
            );
            info.insert(
                "output_cost_per_token".into(),
                json!(target.prices.output_cost_per_token),
            );
            info.entry("litellm_provider")
                .or_insert_with(|| Value::String(target.provider.name.to_string()));
            json!({
                "model_name": d.model_name,
                "litellm_params": Value::Object(d.config.litellm_params.public_params.clone()),
                "model_info": Value::Object(info),
            })
        })
        .collect();
    respond::json(
        StatusCode::OK,
        Bytes::from(json!({"data": data}).to_string()),
    )
}

/// `"I'm alive!"`; while the worker drains, 503 `{"status":"shutting_down"}` (LiteLLM's
/// newest behaviour).
pub fn liveness(state: &AppState) -> Response<Body> {
    if state.counters.is_draining() {
        return respond::json(
            StatusCode::SERVICE_UNAVAILABLE,
            Bytes::from_static(br#"{"status":"shutting_down"}"#),
        );
    }
    respond::json(StatusCode::OK, Bytes::from_static(b"\"I'm alive!\""))
}

/// The reference's readiness body; 503 from the first moment of a drain, while the schema is
/// behind, and while the database is unreachable unless `allow_requests_on_db_unavailable`.
pub fn readiness(state: &AppState) -> Response<Body> {
    let draining = state.counters.is_draining();
    let (db, db_blocks) = match &state.db {
        None => ("Not connected", false),
        Some(layer) => match layer.status.get() {
            DbState::Connected => ("connected", false),
            DbState::Disconnected => ("disconnected", !layer.allow_when_unavailable),
            DbState::SchemaBehind => ("schema_behind", true),
        },
    };
    let healthy = !draining && !db_blocks;
    let body = json!({
        "status": if healthy { "healthy" } else { "unhealthy" },
        "db": db,
        // LiteLLM: `litellm.cache.type`, or null.
        "cache": state.response_cache.as_ref().map(super::ResponseCache::kind),
        "litellm_version": env!("CARGO_PKG_VERSION"),
        "success_callbacks": [],
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    respond::json(status, Bytes::from(body.to_string()))
}

pub fn health_options() -> Response<Body> {
    let mut response = Response::new(full(Bytes::new()));
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, OPTIONS"));
    response
}
