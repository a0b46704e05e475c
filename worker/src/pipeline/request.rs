//! Reading an LLM request: the body (size-capped), the model, and the LiteLLM-only knobs that
//! steer the gateway but must not reach the upstream.

use std::time::Duration;

use bytes::Bytes;
use haimaker_openai::{BodyError, RequestBody};
use http::HeaderMap;
use http::StatusCode;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::route::CallType;
use crate::error::ProxyError;
use crate::state::seconds;

/// Top-level keys LiteLLM consumes itself; forwarding them would make many upstreams reject
/// the request.
const GATEWAY_ONLY_KEYS: &[&str] = &[
    "timeout",
    "stream_timeout",
    "request_timeout",
    "num_retries",
    "max_retries",
    "fallbacks",
    "context_window_fallback_dict",
    "disable_fallbacks",
    "mock_response",
    "mock_testing_fallbacks",
    "metadata",
    "litellm_metadata",
    "litellm_call_id",
    "litellm_trace_id",
    "litellm_session_id",
    "caching",
    "cache",
    "ttl",
    "tags",
    "api_key",
    "api_base",
    "base_url",
    "api_version",
    "drop_params",
    "guardrails",
    "proxy_server_request",
    "secret_fields",
    "no-log",
    "model_list",
];

/// A parsed LLM request.
#[derive(Debug)]
pub struct LlmRequest {
    pub call: CallType,
    /// The model the client asked for.
    pub model: String,
    /// The body to forward (gateway-only keys removed, `model` still the client's).
    pub body: RequestBody,
    pub stream: bool,
    /// The client asked for the final usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    /// `timeout` in the body or `x-litellm-timeout`.
    pub timeout: Option<Duration>,
    /// `x-litellm-stream-timeout`.
    pub stream_timeout: Option<Duration>,
    /// `num_retries` in the body or `x-litellm-num-retries`.
    pub num_retries: Option<u32>,
    /// Client-side `fallbacks: ["model-b", ...]`.
    pub fallbacks: Option<Vec<String>>,
    pub mock_response: Option<String>,
    /// `mock_testing_fallbacks: true`: fail the first group on purpose.
    pub mock_testing_fallbacks: bool,
    /// The response-cache controls (`cache: {...}`, `caching`, `ttl`), read before those keys
    /// are taken out of the body.
    pub cache: super::cache::Controls,
    /// `anthropic-beta` of a `/v1/messages` call, forwarded to Anthropic deployments.
    pub anthropic_beta: Option<String>,
    /// `drop_params: true` in the request: drop what the provider does not support.
    pub drop_params: bool,
}

impl LlmRequest {
    /// A rough prompt size in tokens (about four bytes of JSON per token) for the routing
    /// strategies that weigh a request before it is sent (usage, latency and cost based).
    /// Cheap on purpose: it runs on every request and only has to rank deployments.
    pub fn estimated_input_tokens(&self) -> u64 {
        let bytes: usize = ["messages", "input", "prompt", "system"]
            .iter()
            .filter_map(|k| self.body.get(k))
            .map(|v| v.get().len())
            .sum();
        (bytes / 4) as u64
    }

    /// The most completion tokens the client allows (`max_tokens` or
    /// `max_completion_tokens`), when it says.
    pub fn max_output_tokens(&self) -> Option<u64> {
        ["max_completion_tokens", "max_tokens"]
            .iter()
            .find_map(|k| self.body.f64_field(k).ok().flatten())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| v as u64)
    }
}

/// Reads the body, refusing more than `max_bytes` (413) before buffering it.
pub async fn read_body(
    body: Incoming,
    headers: &HeaderMap,
    max_bytes: usize,
) -> Result<Bytes, ProxyError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared
        && len > max_bytes as u64
    {
        return Err(too_large(len, max_bytes));
    }
    match Limited::new(body, max_bytes).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(too_large(max_bytes as u64 + 1, max_bytes))
        }
        Err(e) => Err(ProxyError::bad_request(format!(
            "could not read the request body: {e}"
        ))),
    }
}

fn too_large(len: u64, max: usize) -> ProxyError {
    let mb = |b: f64| b / (1024.0 * 1024.0);
    ProxyError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request_error",
        format!(
            "Request size is too large. Request size is {:.2} MB. Max size is {:.2} MB (general_settings.max_request_size_mb)",
            mb(len as f64),
            mb(max as f64)
        ),
    )
}

pub fn parse(
    call: CallType,
    path_model: Option<String>,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<LlmRequest, ProxyError> {
    let mut body = RequestBody::parse(bytes).map_err(body_error)?;
    let model = match path_model {
        Some(m) => m,
        None => body.str_field("model").map_err(body_error)?.ok_or_else(|| {
            ProxyError::bad_request(format!(
                "{}: `model` is required: pass a model group name. Call `/v1/models` to view available models for your key.",
                call.route_name()
            ))
            .with_param("model")
        })?,
    };
    let stream = call.can_stream()
        && body
            .bool_field("stream")
            .map_err(body_error)?
            .unwrap_or(false);
    let include_usage = stream
        && body
            .typed::<StreamOptions>("stream_options", "an object")
            .map_err(body_error)?
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
    let timeout = match body.f64_field("timeout").map_err(body_error)? {
        Some(t) => Some(seconds(t).ok_or_else(|| bad_number("timeout"))?),
        None => header_seconds(headers, "x-litellm-timeout")?,
    };
    let stream_timeout = header_seconds(headers, "x-litellm-stream-timeout")?;
    let num_retries = match body
        .typed::<u32>("num_retries", "a non-negative integer")
        .map_err(body_error)?
    {
        Some(n) => Some(n),
        None => match header_str(headers, "x-litellm-num-retries") {
            Some(v) => Some(v.parse().map_err(|_| bad_number("x-litellm-num-retries"))?),
            None => None,
        },
    };
    let fallbacks = body
        .typed::<Vec<String>>("fallbacks", "a list of model names")
        .map_err(body_error)?;
    let mock_response = body
        .typed::<String>("mock_response", "a string")
        .map_err(body_error)?;
    let mock_testing_fallbacks = body
        .bool_field("mock_testing_fallbacks")
        .map_err(body_error)?
        .unwrap_or(false);
    let cache = super::cache::Controls::from_body(&body);
    let drop_params = body
        .bool_field("drop_params")
        .map_err(body_error)?
        .unwrap_or(false);
    for key in GATEWAY_ONLY_KEYS {
        // In the Anthropic format `metadata` is the provider's own (`metadata.user_id`).
        if call == CallType::Messages && *key == "metadata" {
            continue;
        }
        body.remove(key);
    }
    Ok(LlmRequest {
        call,
        model,
        body,
        stream,
        include_usage,
        timeout,
        stream_timeout,
        num_retries,
        fallbacks,
        mock_response,
        mock_testing_fallbacks,
        cache,
        anthropic_beta: (call == CallType::Messages)
            .then(|| header_str(headers, "anthropic-beta").map(str::to_string))
            .flatten(),
        drop_params,
    })
}

#[derive(serde::Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

fn body_error(e: BodyError) -> ProxyError {
    let param = match &e {
        BodyError::WrongType { field, .. } => Some(field.clone()),
        _ => None,
    };
    let err = ProxyError::bad_request(e.to_string());
    match param {
        Some(p) => err.with_param(p),
        None => err,
    }
}

fn bad_number(what: &str) -> ProxyError {
    ProxyError::bad_request(format!("`{what}` must be a non-negative number of seconds"))
        .with_param(what)
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn header_seconds(headers: &HeaderMap, name: &str) -> Result<Option<Duration>, ProxyError> {
    match header_str(headers, name) {
        None => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .and_then(seconds)
            .map(Some)
            .ok_or_else(|| bad_number(name)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse_ok(body: &str, headers: &[(&str, &str)]) -> LlmRequest {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        parse(CallType::Chat, None, &h, body.as_bytes()).unwrap()
    }

    #[test]
    fn reads_knobs_and_strips_gateway_keys() {
        let r = parse_ok(
            r#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true},"timeout":2,"num_retries":1,"fallbacks":["b"],"metadata":{"x":1},"mock_response":"hi"}"#,
            &[],
        );
        assert_eq!(r.model, "m");
        assert!(r.stream && r.include_usage);
        assert_eq!(r.timeout, Some(Duration::from_secs(2)));
        assert_eq!(r.num_retries, Some(1));
        assert_eq!(r.fallbacks, Some(vec!["b".to_string()]));
        assert_eq!(r.mock_response.as_deref(), Some("hi"));
        let keys: Vec<&str> = r.body.keys().collect();
        assert_eq!(keys, vec!["model", "messages", "stream", "stream_options"]);
    }

    #[test]
    fn headers_set_timeout_and_retries() {
        let r = parse_ok(
            r#"{"model":"m"}"#,
            &[("x-litellm-timeout", "0.5"), ("x-litellm-num-retries", "4")],
        );
        assert_eq!(r.timeout, Some(Duration::from_millis(500)));
        assert_eq!(r.num_retries, Some(4));
        assert!(!r.stream);
    }

    #[test]
    fn path_model_overrides_body_and_embeddings_never_stream() {
        let h = HeaderMap::new();
        let r = parse(
            CallType::Embedding,
            Some("e".into()),
            &h,
            br#"{"model":"x","stream":true}"#,
        )
        .unwrap();
        assert_eq!(r.model, "e");
        assert!(!r.stream);
    }

    #[test]
    fn bad_bodies_are_400_with_param() {
        let h = HeaderMap::new();
        let e = parse(CallType::Chat, None, &h, b"{nope").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("not valid JSON"), "{}", e.message);
        let e = parse(CallType::Chat, None, &h, br#"{"messages":[]}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
        let e = parse(CallType::Chat, None, &h, br#"{"model":"m","timeout":-1}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("timeout"));
        let e = parse(CallType::Chat, None, &h, br#"{"model":"m","stream":"yes"}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("stream"));
    }
}
