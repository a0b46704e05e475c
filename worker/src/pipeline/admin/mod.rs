//! The management endpoints (reference section 4.3): keys, users, teams, spend logs, stored
//! models, the response cache (`/cache/*`, section 11.2). Each needs a proxy admin (the master key, or a key of a `proxy_admin` user), except
//! `/key/info` about the caller's own key. Every other caller gets LiteLLM's 401.
//!
//! One module per resource; the SQL is in `haimaker_store::admin`.

mod cache;
mod common;
mod key_list;
mod keys;
mod members;
mod spend;
mod teams;
mod users;

use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response};

use self::common::{Cx, Query};
use super::Body;
use super::alerts;
use super::auth::{self, Caller};
use super::route::AdminRoute;
use crate::error::ProxyError;
use crate::state::AppState;

/// One admin request, parsed only as far as routing needs.
#[derive(Debug)]
pub struct AdminRequest<'a> {
    pub route: AdminRoute,
    /// `/key/{key}/regenerate`'s key.
    pub path_key: Option<String>,
    pub method: &'a Method,
    /// The raw query string (for GET routes).
    pub query: Option<&'a str>,
    /// The body (for POST routes; empty otherwise).
    pub body: Bytes,
    /// The caller's own key, as sent (for `/key/info` without a `key`).
    pub caller_key: Option<String>,
}

pub async fn handle(
    state: &AppState,
    caller: &Caller,
    request: AdminRequest<'_>,
) -> Result<Response<Body>, ProxyError> {
    // Admin routes must always be authenticated: if the router let this one through without
    // (an open caller while a master key is set), authenticate the key it carried here.
    let authenticated;
    let caller = if matches!(caller, Caller::Open) && state.master_key.is_some() {
        authenticated = authenticate(state, request.caller_key.as_deref()).await?;
        &authenticated
    } else {
        caller
    };
    if let Caller::Key(key) = caller {
        usable(&key.record)?;
    }
    let self_service = request.route == AdminRoute::KeyInfo && matches!(caller, Caller::Key(_));
    if !caller.is_admin() && !self_service {
        return Err(not_admin(caller, request.route));
    }
    tracing::debug!(target: "haimaker::admin", method = %request.method, route = request.route.path(), "management call");
    if matches!(
        request.route,
        AdminRoute::ModelNew | AdminRoute::ModelUpdate | AdminRoute::ModelDelete
    ) {
        return Err(not_implemented(request.route));
    }
    // The response cache needs no database.
    match request.route {
        AdminRoute::CachePing => return cache::ping(state).await,
        AdminRoute::CacheDelete => return cache::delete(state, &request.body).await,
        AdminRoute::CacheFlushAll => return cache::flush_all(state).await,
        AdminRoute::CacheRedisInfo => return cache::redis_info(state).await,
        // Test alerts need no database either.
        AdminRoute::HealthServices => {
            let query = Query::parse(request.query);
            return alerts::health_services(state, caller, query.get("service").as_deref());
        }
        _ => {}
    }
    let Some(layer) = state.db.as_deref() else {
        return Err(common::no_db());
    };
    let cx = Cx {
        state,
        caller,
        layer,
    };
    let query = Query::parse(request.query);
    let body = &request.body;
    let answer = match request.route {
        AdminRoute::KeyGenerate => keys::generate(&cx, body).await,
        AdminRoute::KeyInfo => keys::info(&cx, &query, request.caller_key.as_deref()).await,
        AdminRoute::KeyUpdate => keys::update(&cx, body).await,
        AdminRoute::KeyDelete => key_list::delete(&cx, body).await,
        AdminRoute::KeyList => key_list::list(&cx, &query).await,
        AdminRoute::KeyRegenerate => keys::regenerate(&cx, body, request.path_key.as_deref()).await,
        AdminRoute::KeyBlock => keys::set_blocked(&cx, body, true).await,
        AdminRoute::KeyUnblock => keys::set_blocked(&cx, body, false).await,
        AdminRoute::UserNew => users::new(&cx, body).await,
        AdminRoute::UserInfo => users::info(&cx, &query).await,
        AdminRoute::UserUpdate => users::update(&cx, body).await,
        AdminRoute::UserDelete => users::delete(&cx, body).await,
        AdminRoute::UserList => users::list(&cx, &query).await,
        AdminRoute::TeamNew => teams::new(&cx, body).await,
        AdminRoute::TeamInfo => teams::info(&cx, &query).await,
        AdminRoute::TeamUpdate => teams::update(&cx, body).await,
        AdminRoute::TeamDelete => teams::delete(&cx, body).await,
        AdminRoute::TeamList => teams::list(&cx, &query).await,
        AdminRoute::TeamMemberAdd => members::member_add(&cx, body).await,
        AdminRoute::TeamMemberDelete => members::member_delete(&cx, body).await,
        AdminRoute::SpendLogs => spend::logs(&cx, &query).await,
        AdminRoute::ModelNew
        | AdminRoute::ModelUpdate
        | AdminRoute::ModelDelete
        | AdminRoute::CachePing
        | AdminRoute::CacheDelete
        | AdminRoute::CacheFlushAll
        | AdminRoute::CacheRedisInfo
        | AdminRoute::HealthServices => Err(not_implemented(request.route)),
    };
    // Key, team and user lifecycle alerts, for calls that changed something.
    if let Ok(response) = &answer {
        alerts::management(state, caller, request.route, body, response.status());
    }
    answer
}

/// The stored-model routes are served by `models_admin`, not here.
fn not_implemented(route: AdminRoute) -> ProxyError {
    ProxyError::new(
        http::StatusCode::NOT_IMPLEMENTED,
        "invalid_request_error",
        format!("{} is not implemented yet", route.path()),
    )
}

/// Authenticates the key an admin request carried (see [`handle`]).
async fn authenticate(state: &AppState, key: Option<&str>) -> Result<Caller, ProxyError> {
    let mut headers = HeaderMap::new();
    if let Some(key) = key {
        let value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            ProxyError::auth("Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.")
        })?;
        headers.insert(http::header::AUTHORIZATION, value);
    }
    auth::authenticate(
        &headers,
        state.master_key.as_ref(),
        None,
        state.db.as_deref(),
    )
    .await
}

/// A blocked or expired key is refused on every route, as LiteLLM's auth does.
fn usable(record: &haimaker_store::keys::KeyRecord) -> Result<(), ProxyError> {
    if record.blocked {
        return Err(ProxyError::auth(
            "Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin.",
        ));
    }
    if let Some(expires) = record.expires
        && expires < SystemTime::now()
    {
        return Err(ProxyError::auth(format!(
            "Authentication Error - Expired Key. Key Expiry time {} and current time {}",
            humantime::format_rfc3339_seconds(expires),
            humantime::format_rfc3339_seconds(SystemTime::now())
        ))
        .with_error_type("expired_key"));
    }
    Ok(())
}

/// LiteLLM's refusal for non-admins (`route_checks.py`).
fn not_admin(caller: &Caller, route: AdminRoute) -> ProxyError {
    let (role, user_id) = match caller {
        Caller::Key(key) => (
            key.record
                .user
                .as_ref()
                .and_then(|u| u.user_role.clone())
                .unwrap_or_else(|| "internal_user".to_string()),
            key.record.user_id.clone().unwrap_or_default(),
        ),
        _ => ("internal_user".to_string(), String::new()),
    };
    ProxyError::auth(format!(
        "Authentication Error, Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route={}. Your role={role}. Your user_id={}",
        route.path(),
        mask(&user_id)
    ))
}

/// First 6 characters, `*`, last 2 (LiteLLM's newer masking).
fn mask(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 8 {
        return id.to_string();
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}*{tail}")
}
