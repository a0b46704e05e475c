//! Building responses: JSON and SSE bodies, the `x-litellm-*` headers (reference section
//! 11.3), upstream headers under the `llm_provider-` prefix, and error responses.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};

use super::Body;
use crate::error::{ProxyError, format_secs};

pub fn full(bytes: Bytes) -> Body {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn json(status: StatusCode, bytes: Bytes) -> Response<Body> {
    let mut response = Response::new(full(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn error(err: &ProxyError) -> Response<Body> {
    let mut response = json(err.status, err.body());
    let headers = response.headers_mut();
    for (name, value) in &err.headers {
        headers.append(name.clone(), value.clone());
    }
    if let Some(after) = err.retry_after
        && (err.status == StatusCode::TOO_MANY_REQUESTS
            || err.status == StatusCode::SERVICE_UNAVAILABLE)
    {
        let secs = after.as_secs_f64().ceil().max(1.0) as u64;
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Upstream response headers, each under `llm_provider-<name>`, plus the rate-limit headers
/// unprefixed (LiteLLM passes the provider's `x-ratelimit-*` through as they are).
pub fn provider_headers(upstream: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::with_capacity(upstream.len() + 4);
    for (name, value) in upstream {
        let prefixed = format!("llm_provider-{}", name.as_str());
        if let Ok(prefixed) = HeaderName::from_bytes(prefixed.as_bytes()) {
            out.push((prefixed, value.clone()));
        }
        if name.as_str().starts_with("x-ratelimit-") {
            out.push((name.clone(), value.clone()));
        }
    }
    out
}

/// What the `x-litellm-*` headers of one response report.
#[derive(Debug, Default)]
pub struct CallReport<'a> {
    pub model_id: Option<&'a str>,
    pub model_group: Option<&'a str>,
    pub api_base: Option<&'a str>,
    pub response_cost: Option<f64>,
    pub total: Duration,
    pub upstream: Duration,
    pub attempted_retries: u32,
    pub attempted_fallbacks: u32,
    pub max_fallbacks: Option<u32>,
    pub timeout: Option<Duration>,
}

impl CallReport<'_> {
    pub fn apply(&self, headers: &mut HeaderMap, version: &HeaderValue) {
        let mut put = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        };
        if let Some(id) = self.model_id {
            put("x-litellm-model-id", id.to_string());
        }
        if let Some(group) = self.model_group {
            put("x-litellm-model-group", group.to_string());
        }
        if let Some(base) = self.api_base {
            put("x-litellm-model-api-base", strip_query(base).to_string());
        }
        if let Some(cost) = self.response_cost {
            put("x-litellm-response-cost", cost.to_string());
        }
        put("x-litellm-response-duration-ms", ms(self.total));
        put(
            "x-litellm-overhead-duration-ms",
            ms(self.total.saturating_sub(self.upstream)),
        );
        put(
            "x-litellm-attempted-retries",
            self.attempted_retries.to_string(),
        );
        put(
            "x-litellm-attempted-fallbacks",
            self.attempted_fallbacks.to_string(),
        );
        if let Some(max) = self.max_fallbacks {
            put("x-litellm-max-fallbacks", max.to_string());
        }
        if let Some(timeout) = self.timeout {
            put("x-litellm-timeout", format_secs(timeout));
        }
        headers.insert("x-litellm-version", version.clone());
    }
}

/// Milliseconds with three decimals, without float formatting (it is on every response).
fn ms(d: Duration) -> String {
    let micros = d.as_micros();
    format!("{}.{:03}", micros / 1000, micros % 1000)
}

fn strip_query(url: &str) -> &str {
    url.split_once('?').map_or(url, |(base, _)| base)
}
