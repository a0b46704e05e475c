//! `/cache/ping`, `/cache/delete`, `/cache/flushall` (reference 11.2; LiteLLM's
//! `caching_routes.py`). Proxy admins only, like every management route here (LiteLLM lets any
//! valid key call them). They need no database.
//!
//! Differences from LiteLLM:
//! * `/cache/flushall` deletes the cache entries only (`SCAN` + `UNLINK` under haimaker's prefix);
//!   LiteLLM sends `FLUSHALL`, which also wipes rate limits, budgets and anything else in that Redis.
//! * `/cache/delete` and `/cache/flushall` also work for `type: local`, on the worker that answers
//!   (each worker has its own local cache); LiteLLM refuses them for non-Redis caches.
//! * `/cache/ping` for Redis pings and writes a test entry that expires after a minute (LiteLLM's
//!   stays forever).

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::super::Body;
use super::super::cache::{Backend, not_initialized, ping_error};
use super::common::{bad_request, object, ok};
use crate::error::ProxyError;
use crate::state::AppState;

/// The entry `/cache/ping` writes, and how long it lives.
const PING_KEY: &str = "haimaker-cache-ping";
const PING_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// `GET /cache/ping`: `{"status": "healthy", "cache_type", "ping_response", "set_cache_response",
/// "litellm_cache_params" (a JSON string, as LiteLLM's newest), "health_check_cache_params"}`;
/// 503 `cache_ping_error` when there is no cache or Redis does not answer.
pub async fn ping(state: &AppState) -> Result<Response<Body>, ProxyError> {
    let Some(cache) = state.response_cache.as_ref() else {
        return Err(not_initialized());
    };
    let params = cache.describe();
    match cache.backend() {
        Backend::Local(_) => Ok(ok(&json!({
            "status": "healthy",
            "cache_type": cache.kind(),
            "litellm_cache_params": params.to_string(),
        }))),
        Backend::Redis(redis) => {
            let checked = async {
                redis.ping().await?;
                redis
                    .cache_set(PING_KEY, b"{\"ping\":true}", Some(PING_TTL))
                    .await?;
                redis.server_version().await
            }
            .await;
            match checked {
                Ok(version) => Ok(ok(&json!({
                    "status": "healthy",
                    "cache_type": cache.kind(),
                    "ping_response": true,
                    "set_cache_response": "success",
                    "litellm_cache_params": params.to_string(),
                    "health_check_cache_params": cache.health_params(Some(version)),
                }))),
                Err(e) => {
                    tracing::warn!(target: "haimaker::cache", error = %e, "/cache/ping failed");
                    Err(ping_error(
                        &format!("Service Unhealthy ({e})"),
                        &params,
                        &cache.health_params(None),
                    ))
                }
            }
        }
    }
}

/// `POST /cache/delete {"keys": [...]}` -> `{"status": "success"}`. The keys are the values of
/// `x-litellm-cache-key`.
pub async fn delete(state: &AppState, body: &Bytes) -> Result<Response<Body>, ProxyError> {
    let Some(cache) = state.response_cache.as_ref() else {
        return Err(not_initialized());
    };
    let request = object(body, false)?;
    let keys: Vec<String> = match request.get("keys") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|k| k.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| bad_request("keys", "`keys` must be a list of strings"))?,
        Some(Value::Null) | None => {
            return Err(bad_request(
                "keys",
                "`keys` is required: a list of cache keys",
            ));
        }
        Some(_) => return Err(bad_request("keys", "`keys` must be a list of strings")),
    };
    match cache.backend().delete(&keys).await {
        Ok(deleted) => {
            tracing::info!(target: "haimaker::cache", requested = keys.len(), deleted, "cache entries deleted");
            Ok(ok(&json!({"status": "success"})))
        }
        Err(e) => Err(failed(format!("Cache Delete Failed({e})"))),
    }
}

/// `POST /cache/flushall` -> `{"status": "success"}`: every cache entry goes, nothing else.
pub async fn flush_all(state: &AppState) -> Result<Response<Body>, ProxyError> {
    let Some(cache) = state.response_cache.as_ref() else {
        return Err(not_initialized());
    };
    match cache.backend().flush().await {
        Ok(deleted) => {
            tracing::info!(target: "haimaker::cache", deleted, "response cache flushed");
            Ok(ok(&json!({"status": "success"})))
        }
        Err(e) => Err(failed(format!("Service Unhealthy ({e})"))),
    }
}

/// `GET /cache/redis/info` -> `{"num_clients", "clients", "info"}` from `CLIENT LIST` and `INFO`
/// (LiteLLM's body); 500 when the response cache is not Redis.
pub async fn redis_info(state: &AppState) -> Result<Response<Body>, ProxyError> {
    let Some(cache) = state.response_cache.as_ref() else {
        return Err(not_initialized());
    };
    let Backend::Redis(redis) = cache.backend() else {
        return Err(ProxyError::internal(format!(
            "Cache type {} does not support redis info",
            cache.kind()
        )));
    };
    match redis.server_info().await {
        Ok((info, clients)) => {
            let clients = haimaker_cache::info::parse_client_list(&clients);
            Ok(ok(&json!({
                "num_clients": clients.len(),
                "clients": clients,
                "info": haimaker_cache::info::parse_info(&info),
            })))
        }
        Err(e) => Err(failed(format!("Service Unhealthy ({e})"))),
    }
}

fn failed(message: String) -> ProxyError {
    ProxyError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "internal_server_error",
        message,
    )
}
