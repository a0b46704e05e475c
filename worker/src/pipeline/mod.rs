//! One request through a worker. The phase order lives here and nowhere else:
//!
//! 1. request id (`x-litellm-call-id` from the client, else a new uuid4)
//! 2. route: method + path -> [`Endpoint`] (404 / 405 answered here)
//! 3. authenticate (master key, constant time) for every endpoint but the health probes
//! 4. LLM calls: read the body with its size cap, parse the top level only
//!    ([`request`]), resolve the model group, then [`llm`]: admission, the response cache
//!    ([`cache`]: a hit answers here, without an upstream call), pick a deployment, call it
//!    ([`attempt`]), retry / fall back before the first response byte, and answer with the
//!    buffered JSON or the relayed stream ([`stream`]), cost from the price map
//! 5. every response gets `x-litellm-call-id`; failures become the OpenAI error body
//!    ([`respond::error`]) and are logged once, here
//! 6. one access line
//!
//! ARCHITECTURE.md ("One request") has the same chart.

mod adapter;
mod admin;
pub(crate) mod alerts;
mod attempt;
mod auth;
mod cache;
mod charge;
mod enforce;
mod info;
mod llm;
mod mock;
mod models_admin;
mod request;
mod reserve;
pub use reserve::DEFAULT_RESERVE_MAX_TOKENS;
mod respond;
mod route;
mod stream;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;

use crate::error::ProxyError;
use crate::state::{AppState, InFlight};
pub use auth::Caller;
pub use cache::ResponseCache;
pub use route::{AdminRoute, Endpoint, route};

/// Every response body the worker produces.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Per-request values every phase may read.
#[derive(Debug)]
pub struct RequestCtx {
    pub call_id: String,
    pub start: Instant,
    /// Wall-clock start, for spend logs.
    pub started_at: std::time::SystemTime,
    pub peer: Option<SocketAddr>,
}

/// The service function: never fails, every error becomes a response.
pub async fn handle(
    state: Arc<AppState>,
    peer: Option<SocketAddr>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let in_flight = state.counters.start();
    let ctx = RequestCtx {
        call_id: call_id(&req),
        start: Instant::now(),
        started_at: std::time::SystemTime::now(),
        peer,
    };
    let method = req.method().clone();
    let version = req.version();
    let path = req.uri().path().to_string();
    let endpoint = route(&method, &path);

    let mut response = match dispatch(&state, &ctx, endpoint, req, in_flight).await {
        Ok(response) => response,
        Err(err) => {
            log_failure(&err, &method, &path);
            respond::error(&err)
        }
    };
    if let Ok(value) = HeaderValue::from_str(&ctx.call_id) {
        response.headers_mut().insert("x-litellm-call-id", value);
    }
    if method == Method::HEAD {
        *response.body_mut() = respond::full(Bytes::new());
    }
    // Draining: tell HTTP/1 keep-alive clients to reconnect (to another worker) after this
    // response, instead of closing idle connections under their feet.
    if state.counters.is_draining() && version != http::Version::HTTP_2 {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    haimaker_telemetry::AccessLine {
        client: peer,
        method: method.as_str(),
        path: &path,
        version: version_str(version),
        status: response.status().as_u16(),
        reason: response.status().canonical_reason().unwrap_or(""),
        duration: ctx.start.elapsed(),
        request_id: &ctx.call_id,
    }
    .emit();
    Ok(response)
}

async fn dispatch(
    state: &AppState,
    ctx: &RequestCtx,
    endpoint: Endpoint,
    req: Request<Incoming>,
    in_flight: InFlight,
) -> Result<Response<Body>, ProxyError> {
    if let Endpoint::Llm { call, path_model } = endpoint {
        return serve_llm(state, ctx, call, path_model, req, in_flight).await;
    }
    let metrics_auth = endpoint == Endpoint::Metrics && state.metrics.require_auth;
    let caller = if endpoint.requires_auth() || metrics_auth {
        auth::authenticate(
            req.headers(),
            state.master_key.as_ref(),
            state.key_header.as_ref(),
            state.db.as_deref(),
        )
        .await?
    } else {
        auth::Caller::Open
    };
    match endpoint {
        // Answered above, before authentication (its failures count in the metrics too).
        Endpoint::Llm { .. } => Err(ProxyError::internal("unreachable: LLM route")),
        Endpoint::Admin {
            route:
                route @ (AdminRoute::ModelNew | AdminRoute::ModelUpdate | AdminRoute::ModelDelete),
            ..
        } => {
            let (parts, body) = req.into_parts();
            let body = request::read_body(body, &parts.headers, state.max_request_bytes).await?;
            models_admin::handle(state, &caller, route, &body).await
        }
        Endpoint::Admin { route, key } => {
            let caller_key = auth::extract_key(req.headers(), state.key_header.as_ref())
                .ok()
                .map(str::to_string);
            let method = req.method().clone();
            let query = req.uri().query().map(str::to_string);
            let (parts, body) = req.into_parts();
            let body = request::read_body(body, &parts.headers, state.max_request_bytes).await?;
            admin::handle(
                state,
                &caller,
                admin::AdminRequest {
                    route,
                    path_key: key,
                    method: &method,
                    query: query.as_deref(),
                    body,
                    caller_key,
                },
            )
            .await
        }
        Endpoint::Models => Ok(info::models(state, &caller)),
        Endpoint::Model(id) => info::model(state, &id),
        Endpoint::ModelInfo => Ok(info::model_info(state)),
        Endpoint::Liveness => Ok(info::liveness(state)),
        Endpoint::Metrics => crate::metrics::serve(state),
        Endpoint::Readiness => Ok(info::readiness(state)),
        Endpoint::HealthOptions => Ok(info::health_options()),
        Endpoint::WrongMethod { allow } => {
            let mut err = ProxyError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                format!(
                    "Method Not Allowed: {} {}; use {allow}",
                    req.method(),
                    req.uri().path()
                ),
            );
            err.headers
                .push((header::ALLOW, HeaderValue::from_static(allow)));
            Err(err)
        }
        Endpoint::Unknown => Err(ProxyError::not_found(format!(
            "Not Found: no route for {} {}",
            req.method(),
            req.uri().path()
        ))),
    }
}

/// An LLM endpoint: authenticate, read and parse the body, call; counted once in the
/// metrics with whatever was learnt about the caller and the model before it ended.
async fn serve_llm(
    state: &AppState,
    ctx: &RequestCtx,
    call: route::CallType,
    path_model: Option<String>,
    req: Request<Incoming>,
    in_flight: InFlight,
) -> Result<Response<Body>, ProxyError> {
    let mut labels = crate::metrics::CallLabels::default();
    let result = async {
        let caller = auth::authenticate(
            req.headers(),
            state.master_key.as_ref(),
            state.key_header.as_ref(),
            state.db.as_deref(),
        )
        .await?;
        labels = crate::metrics::CallLabels::new(&caller);
        // `/engines/{model}/...`: known before the body, should the body be refused.
        if let Some(model) = &path_model {
            labels.requested_model.clone_from(model);
        }
        let (parts, body) = req.into_parts();
        let bytes = request::read_body(body, &parts.headers, state.max_request_bytes).await?;
        if state.detailed_debug {
            tracing::debug!(
                target: "haimaker::request",
                call_id = %ctx.call_id,
                body = %String::from_utf8_lossy(&bytes),
                "request body"
            );
        }
        let request = request::parse(call, path_model, &parts.headers, &bytes)?;
        labels.requested_model.clone_from(&request.model);
        if state.metrics.end_user_labels
            && let Ok(Some(user)) = request.body.typed::<String>("user", "")
        {
            labels.key.end_user = user;
        }
        llm::serve(state, ctx, request, in_flight, &caller, &labels).await
    }
    .await;
    let (status, error_type) = match &result {
        Ok(response) => (response.status().as_u16(), ""),
        Err(err) => (err.status.as_u16(), err.error_type),
    };
    labels.answered(state, status, error_type, ctx.start.elapsed());
    result
}

fn call_id(req: &Request<Incoming>) -> String {
    req.headers()
        .get("x-litellm-call-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string)
}

fn log_failure(err: &ProxyError, method: &Method, path: &str) {
    if err.class.is_some() || err.status.is_server_error() {
        tracing::warn!(target: "haimaker::request", status = err.status.as_u16(), method = %method, path, error = %err.message, "request failed");
    } else {
        tracing::debug!(target: "haimaker::request", status = err.status.as_u16(), method = %method, path, error = %err.message, "request rejected");
    }
}

fn version_str(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        _ => "HTTP/1.1",
    }
}
