//! One call to one deployment: build the upstream request, send it, and read either a
//! success (a buffered JSON body, or the head of a stream) or a classified error.
//!
//! A deployment's own `max_retries` (the SDK-level retries of LiteLLM) are spent here, on
//! the same deployment, before the router sees a failure.

use std::time::{Duration, Instant};

use bytes::Bytes;
use haimaker_openai::{RequestBody, Usage};
use haimaker_providers::errors::{CONTENT_POLICY_PHRASES, CONTEXT_WINDOW_PHRASES};
use haimaker_router::{Deployment, ErrorClass, Target};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use super::adapter::{self, Outbound};
use super::request::LlmRequest;
use super::stream::Translate;
use crate::error::ProxyError;
use crate::state::AppState;

/// What a successful attempt produced.
#[derive(Debug)]
pub enum Reply {
    /// A complete JSON body.
    Json {
        headers: HeaderMap,
        body: Bytes,
        usage: Option<Usage>,
    },
    /// A stream whose head arrived; `idle` bounds the wait for each next chunk.
    Stream {
        headers: HeaderMap,
        body: Incoming,
        idle: Duration,
        /// Set when the upstream's events must be translated for the client.
        translate: Option<Translate>,
    },
    /// `mock_response`: answered locally.
    Mock { text: String },
}

/// A successful attempt and how long the upstream took.
#[derive(Debug)]
pub struct Attempted {
    pub reply: Reply,
    pub upstream_time: Duration,
}

/// Calls `deployment`, retrying it on its own up to its `max_retries`.
pub async fn call(
    state: &AppState,
    request: &LlmRequest,
    deployment: &Deployment,
    target: &Target,
    timeout: Duration,
) -> Result<Attempted, ProxyError> {
    if let Some(text) = request
        .mock_response
        .as_ref()
        .or(deployment.mock_response.as_ref())
    {
        return Ok(Attempted {
            reply: Reply::Mock { text: text.clone() },
            upstream_time: Duration::ZERO,
        });
    }
    let outbound = adapter::prepare(request, deployment, target)?;
    let mut retries = 0;
    loop {
        let started = Instant::now();
        let result = send_once(state, request, deployment, target, &outbound, timeout).await;
        match result {
            Ok(reply) => {
                return Ok(Attempted {
                    reply,
                    upstream_time: started.elapsed(),
                });
            }
            Err(e) if retries < deployment.max_retries && sdk_retryable(&e) => {
                // The OpenAI SDK's backoff: Retry-After if sane, else 0.5 s doubling to 8 s.
                let backoff = e
                    .retry_after
                    .filter(|d| *d <= Duration::from_secs(60))
                    .unwrap_or_else(|| {
                        Duration::from_secs_f64((0.5 * 2f64.powi(retries as i32)).min(8.0))
                    });
                tokio::time::sleep(backoff).await;
                retries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn sdk_retryable(e: &ProxyError) -> bool {
    matches!(
        e.class,
        Some(
            ErrorClass::Connection
                | ErrorClass::Timeout
                | ErrorClass::RateLimit
                | ErrorClass::InternalServer
                | ErrorClass::ServiceUnavailable
        )
    )
}

/// The request body as the upstream gets it: its own model name, the deployment's default
/// parameters where the client set none, and usage requested on streams (so cost can be
/// computed; the extra chunk is removed again when the client did not ask for it).
pub(super) fn upstream_body(
    request: &LlmRequest,
    deployment: &Deployment,
    target: &Target,
) -> Vec<u8> {
    let mut body: RequestBody = request.body.clone();
    body.set_str("model", &target.provider_model);
    for (key, value) in &deployment.default_params {
        if !body.contains(key)
            && let Ok(raw) = serde_json::value::to_raw_value(value)
        {
            body.set(key, raw);
        }
    }
    if request.stream
        && !request.include_usage
        && let Ok(raw) =
            serde_json::value::RawValue::from_string(r#"{"include_usage":true}"#.to_string())
    {
        body.set("stream_options", raw);
    }
    body.to_vec()
}

async fn send_once(
    state: &AppState,
    request: &LlmRequest,
    deployment: &Deployment,
    target: &Target,
    outbound: &Outbound,
    timeout: Duration,
) -> Result<Reply, ProxyError> {
    let mut builder = Request::post(outbound.url.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::USER_AGENT,
            concat!("haimaker/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in &outbound.headers {
        builder = builder.header(name, value);
    }
    if let Some(org) = &deployment.organization {
        builder = builder.header("OpenAI-Organization", org.as_str());
    }
    for (name, value) in &deployment.extra_headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let upstream_request = builder
        .body(Full::new(outbound.body.clone()))
        .map_err(|e| {
            ProxyError::internal(format!(
                "could not build the upstream request for deployment {}: {e}",
                deployment.id
            ))
        })?;

    let client = state.upstream.client().map_err(|e| {
        ProxyError::internal(format!("litellm.APIConnectionError: {e}"))
            .with_class(ErrorClass::Connection)
    })?;
    let deadline = tokio::time::Instant::now() + timeout;
    let what = || {
        format!(
            "(model group `{}`, deployment {})",
            deployment.model_name, deployment.id
        )
    };
    let response = match tokio::time::timeout_at(deadline, client.request(upstream_request)).await {
        Err(_) => return Err(ProxyError::timeout(timeout, &what())),
        Ok(Err(e)) => return Err(connection_error(&e, timeout, &what())),
        Ok(Ok(response)) => response,
    };
    let (parts, incoming) = response.into_parts();
    if !parts.status.is_success() {
        // The error body is small; read a bounded amount of it within the same deadline.
        let body = tokio::time::timeout_at(deadline, Limited::new(incoming, 64 * 1024).collect())
            .await
            .ok()
            .and_then(Result::ok)
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        return Err(upstream_error(
            parts.status,
            &parts.headers,
            &body,
            outbound.label,
        ));
    }
    if request.stream {
        return Ok(Reply::Stream {
            headers: parts.headers,
            body: incoming,
            idle: timeout,
            translate: outbound.codec.stream(&target.provider_model),
        });
    }
    let collected = tokio::time::timeout_at(
        deadline,
        Limited::new(incoming, state.max_response_bytes).collect(),
    )
    .await;
    let body = match collected {
        Err(_) => return Err(ProxyError::timeout(timeout, &what())),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(ProxyError::internal(format!(
                "litellm.APIError: the upstream response is larger than general_settings.max_response_size_mb {}",
                what()
            ))
            .with_class(ErrorClass::InternalServer));
        }
        Ok(Err(e)) => {
            return Err(ProxyError::internal(format!(
                "litellm.APIConnectionError: OpenAIException - the upstream connection failed while reading the response: {e} {}",
                what()
            ))
            .with_class(ErrorClass::Connection));
        }
        Ok(Ok(c)) => c.to_bytes(),
    };
    let size = body.len();
    match outbound.codec.json(body, &target.provider_model) {
        Ok((body, usage)) => Ok(Reply::Json {
            headers: parts.headers,
            body,
            usage,
        }),
        Err(e) => Err(ProxyError::internal(format!(
            "litellm.APIError: {} - the upstream answered {} with a body that is not a JSON object ({e}; content-type {}, {} bytes) {}",
            outbound.label,
            parts.status,
            parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none"),
            size,
            what()
        ))
        .with_class(ErrorClass::InternalServer)),
    }
}

fn connection_error(
    e: &hyper_util::client::legacy::Error,
    timeout: Duration,
    what: &str,
) -> ProxyError {
    // The connect timeout of the client shows up as a connect error whose source says so.
    let text = error_chain(e);
    if e.is_connect() && text.contains("timed out") {
        return ProxyError::timeout(timeout.min(Duration::from_secs(5)), what);
    }
    ProxyError::internal(format!(
        "litellm.APIConnectionError: OpenAIException - Connection error: {text} {what}"
    ))
    .with_class(ErrorClass::Connection)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[derive(serde::Deserialize, Default)]
struct UpstreamErrorBody {
    #[serde(default)]
    error: Option<UpstreamErrorObject>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct UpstreamErrorObject {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    error_type: Option<String>,
    #[serde(default)]
    param: Option<serde_json::Value>,
    #[serde(default)]
    code: Option<serde_json::Value>,
}

/// Maps an upstream error response to LiteLLM's exception of the same meaning (reference
/// section 4.4): the status, a `litellm.<Kind>Error: ...` message and the class that steers
/// retries, cooldowns and fallbacks.
pub fn upstream_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    label: &str,
) -> ProxyError {
    let parsed: UpstreamErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let object = parsed.error.unwrap_or_default();
    let message = object
        .message
        .or(parsed.message)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned());
    let code = object.code.as_ref().map(|c| match c {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let status = StatusCode::from_u16(haimaker_providers::errors::provider_status(
        label,
        status.as_u16(),
        &message,
        headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok()),
    ))
    .unwrap_or(status);
    let mut class = ErrorClass::from_status(status.as_u16());
    if class == ErrorClass::BadRequest {
        let lower = message.to_ascii_lowercase();
        let code = code.as_deref().unwrap_or("");
        if code == "context_length_exceeded"
            || CONTEXT_WINDOW_PHRASES.iter().any(|p| lower.contains(p))
        {
            class = ErrorClass::ContextWindowExceeded;
        } else if code == "content_policy_violation"
            || code == "content_filter"
            || CONTENT_POLICY_PHRASES.iter().any(|p| lower.contains(p))
        {
            class = ErrorClass::ContentPolicyViolation;
        }
    }
    // LiteLLM maps a 504 from the provider to its Timeout (408), and Anthropic's 529
    // (overloaded) to its InternalServerError (500).
    let out_status = if status == StatusCode::GATEWAY_TIMEOUT {
        StatusCode::REQUEST_TIMEOUT
    } else if status.as_u16() == 529 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        status
    };
    let (kind, default_type) = match class {
        ErrorClass::BadRequest => ("BadRequestError", "invalid_request_error"),
        ErrorClass::ContextWindowExceeded => {
            ("ContextWindowExceededError", "invalid_request_error")
        }
        ErrorClass::ContentPolicyViolation => {
            ("ContentPolicyViolationError", "invalid_request_error")
        }
        ErrorClass::Authentication => ("AuthenticationError", "auth_error"),
        ErrorClass::PermissionDenied => ("PermissionDeniedError", "permission_denied_error"),
        ErrorClass::NotFound => ("NotFoundError", "invalid_request_error"),
        ErrorClass::Timeout => ("Timeout", "timeout"),
        ErrorClass::RateLimit => ("RateLimitError", "rate_limit_error"),
        ErrorClass::ServiceUnavailable => ("ServiceUnavailableError", "internal_server_error"),
        ErrorClass::InternalServer | ErrorClass::Connection => {
            ("InternalServerError", "internal_server_error")
        }
    };
    let error_type: &'static str = match object.error_type.as_deref() {
        Some("invalid_request_error") => "invalid_request_error",
        Some("authentication_error") => "authentication_error",
        Some("permission_error") => "permission_error",
        Some("not_found_error") => "not_found_error",
        Some("rate_limit_error") => "rate_limit_error",
        Some("insufficient_quota") => "insufficient_quota",
        Some("server_error") => "server_error",
        _ => default_type,
    };
    let mut err = ProxyError::new(
        out_status,
        error_type,
        format!("litellm.{kind}: {label} - {message}"),
    )
    .with_class(class);
    err.param = match object.param {
        Some(serde_json::Value::String(p)) => Some(p),
        _ => None,
    };
    err.retry_after = retry_after(headers);
    err.headers = super::respond::provider_headers(headers);
    err
}

/// `retry-after-ms` or `retry-after` (seconds) from an upstream response.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    if let Some(ms) = value("retry-after-ms").filter(|v| v.is_finite() && *v >= 0.0) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    value("retry-after")
        .filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e9)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn maps_statuses_and_detects_context_window_and_content_policy() {
        let h = HeaderMap::new();
        let e = upstream_error(
            StatusCode::TOO_MANY_REQUESTS,
            &h,
            br#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#,
            "OpenAIException",
        );
        assert_eq!(
            (e.status.as_u16(), e.class),
            (429, Some(ErrorClass::RateLimit))
        );
        assert_eq!(
            e.message,
            "litellm.RateLimitError: OpenAIException - slow down"
        );
        let e = upstream_error(
            StatusCode::BAD_REQUEST,
            &h,
            br#"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded","param":"messages"}}"#, "OpenAIException");
        assert_eq!(e.class, Some(ErrorClass::ContextWindowExceeded));
        assert_eq!(e.param.as_deref(), Some("messages"));
        let e = upstream_error(
            StatusCode::BAD_REQUEST,
            &h,
            br#"{"error":{"message":"x","code":"content_policy_violation"}}"#,
            "OpenAIException",
        );
        assert_eq!(e.class, Some(ErrorClass::ContentPolicyViolation));
        let e = upstream_error(
            StatusCode::GATEWAY_TIMEOUT,
            &h,
            b"<html>bad gateway</html>",
            "OpenAIException",
        );
        assert_eq!(e.status.as_u16(), 408);
        assert!(e.message.contains("<html>bad gateway</html>"));
        let e = upstream_error(StatusCode::SERVICE_UNAVAILABLE, &h, b"", "OpenAIException");
        assert_eq!(
            (e.status.as_u16(), e.class),
            (503, Some(ErrorClass::ServiceUnavailable))
        );
    }

    #[test]
    fn reads_retry_after() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        let e = upstream_error(StatusCode::TOO_MANY_REQUESTS, &h, b"{}", "OpenAIException");
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
        let e = upstream_error(
            StatusCode::from_u16(529).unwrap(),
            &HeaderMap::new(),
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            "AnthropicException",
        );
        assert_eq!(e.status.as_u16(), 500);
        assert_eq!(
            e.message,
            "litellm.InternalServerError: AnthropicException - Overloaded"
        );
        let e = upstream_error(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#,
            "AnthropicException",
        );
        assert_eq!(e.class, Some(ErrorClass::ContextWindowExceeded));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
    }
}
