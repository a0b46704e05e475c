//! `ProxyError`: every way a request can fail, and the one place that turns it into the
//! OpenAI-shaped error response (reference section 4.4).
//!
//! Messages follow LiteLLM's wording where clients or operators may match on it
//! ("Authentication Error, ...", "litellm.RateLimitError: ...").

use std::time::Duration;

use bytes::Bytes;
use haimaker_router::ErrorClass;
use http::{HeaderName, HeaderValue, StatusCode};

/// A failed request, ready to be answered.
#[derive(Debug, Clone)]
pub struct ProxyError {
    pub status: StatusCode,
    pub message: String,
    pub error_type: &'static str,
    pub param: Option<String>,
    /// The upstream error class, when the failure came from a deployment (drives retries,
    /// cooldowns and fallbacks).
    pub class: Option<ErrorClass>,
    /// From the upstream's `Retry-After`, or the shortest cooldown.
    pub retry_after: Option<Duration>,
    /// Extra response headers (`x-litellm-*`, `llm_provider-*`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ProxyError {
    pub fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            error_type,
            param: None,
            class: None,
            retry_after: None,
            headers: Vec::new(),
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn with_error_type(mut self, error_type: &'static str) -> Self {
        self.error_type = error_type;
        self
    }

    pub fn with_class(mut self, class: ErrorClass) -> Self {
        self.class = Some(class);
        self
    }

    /// An authentication failure, shaped as LiteLLM's auth handler shapes them (`auth_error`,
    /// `param` the string "None").
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "auth_error", message).with_param("None")
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found_error", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            message,
        )
    }

    /// The upstream took longer than `after`.
    pub fn timeout(after: Duration, what: &str) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!(
                "litellm.Timeout: Request timed out after {} seconds {what}",
                format_secs(after)
            ),
        )
        .with_class(ErrorClass::Timeout)
    }

    /// The body of the error response.
    pub fn body(&self) -> Bytes {
        haimaker_openai::error_body(
            self.status.as_u16(),
            &self.message,
            self.error_type,
            self.param.as_deref(),
        )
    }

    /// The body as an SSE error event (for failures after a stream has started).
    pub fn sse_event(&self) -> Bytes {
        let body = self.body();
        let mut event = Vec::with_capacity(body.len() + 8);
        event.extend_from_slice(b"data: ");
        event.extend_from_slice(&body);
        event.extend_from_slice(b"\n\n");
        Bytes::from(event)
    }
}

/// Seconds as LiteLLM prints them: `30` or `0.5`.
pub fn format_secs(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0}")
    } else {
        format!("{secs}")
    }
}
