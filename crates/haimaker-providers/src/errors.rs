//! Provider errors in LiteLLM's terms.
//!
//! Error *responses* (a non-2xx status) are classified by the worker's `upstream_error`, which
//! reads every provider's body shape (`{"error": {"message", "type"}}` for OpenAI, Azure,
//! Anthropic and Gemini; `{"message"}` for Bedrock) and matches the context-window and
//! content-policy wordings listed here, and [`provider_status`] corrects the status where a
//! provider's differs from LiteLLM's. Errors *inside* a stream (Anthropic's `error` event,
//! Gemini's error chunk, Bedrock's exception messages) are translated here.

use serde_json::{Value, json};

/// The `<Provider>Exception` LiteLLM names in its messages.
pub fn exception_label(provider: &str) -> &'static str {
    match provider {
        "azure" => "AzureException",
        "anthropic" => "AnthropicException",
        "gemini" => "GeminiException",
        "bedrock" => "BedrockException",
        _ => "OpenAIException",
    }
}

/// Lower-case fragments of provider messages that mean the prompt is over the context window
/// (OpenAI, Azure, Anthropic "prompt is too long", Gemini, Bedrock "input is too long").
pub const CONTEXT_WINDOW_PHRASES: &[&str] = &[
    "context length",
    "context window",
    "maximum context",
    "too many tokens",
    "prompt is too long",
    "prompt: length",
    "input is too long",
    "exceeds the maximum number of tokens",
    "input token count",
];

/// Lower-case fragments that mean a content-policy refusal (OpenAI, Azure's content filter,
/// Anthropic's "content filtering policy").
pub const CONTENT_POLICY_PHRASES: &[&str] = &[
    "content policy",
    "content management policy",
    "content_filter",
    "content filtering policy",
    "responsibleaipolicyviolation",
];

/// The status LiteLLM gives an Anthropic error `type`.
pub fn anthropic_status(error_type: &str) -> u16 {
    match error_type {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        // overloaded_error, api_error: LiteLLM's InternalServerError.
        _ => 500,
    }
}

/// An error that arrived as a stream event -> the status it means and the OpenAI error
/// object the client gets as `data: {"error": ...}`.
pub fn stream_error(error: &Value, label: &str) -> (u16, Value) {
    let error_type = error
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("api_error");
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("the provider reported an error");
    let status = anthropic_status(error_type);
    (status, error_event(status, message, label))
}

/// The OpenAI error object, as LiteLLM words it, for an error with `status` and `message`
/// that arrived inside a stream (Anthropic's `error` event, Gemini's `{"error": ...}` chunk,
/// Bedrock's exception messages).
pub fn error_event(status: u16, message: &str, label: &str) -> Value {
    let kind = match status {
        400 if CONTEXT_WINDOW_PHRASES
            .iter()
            .any(|p| message.to_ascii_lowercase().contains(p)) =>
        {
            "ContextWindowExceededError"
        }
        400 | 413 | 422 => "BadRequestError",
        401 => "AuthenticationError",
        403 => "PermissionDeniedError",
        404 => "NotFoundError",
        408 => "Timeout",
        429 => "RateLimitError",
        503 => "ServiceUnavailableError",
        _ => "InternalServerError",
    };
    let openai_type = match status {
        429 => "rate_limit_error",
        401 => "auth_error",
        408 => "timeout",
        400..=499 => "invalid_request_error",
        _ => "internal_server_error",
    };
    json!({"error": {
        "message": format!("litellm.{kind}: {label} - {message}"),
        "type": openai_type,
        "param": null,
        "code": status.to_string(),
    }})
}

/// The status LiteLLM gives a provider's error response when it is not the HTTP status:
/// Gemini answers an invalid API key with 400 `API_KEY_INVALID` (LiteLLM: AuthenticationError,
/// 401); Bedrock's unrecognised or mis-signed credentials are 403 (LiteLLM: 401). `error_type`
/// is Bedrock's `x-amzn-errortype` (`ThrottlingException:http://...`) when there is one.
pub fn provider_status(label: &str, status: u16, message: &str, error_type: Option<&str>) -> u16 {
    match label {
        "GeminiException"
            if status == 400
                && (message.contains("API key not valid")
                    || message.contains("API_KEY_INVALID")) =>
        {
            401
        }
        "BedrockException" => {
            let kind = error_type
                .and_then(|t| t.split(':').next())
                .unwrap_or_default();
            match kind {
                "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "IncompleteSignatureException"
                | "MissingAuthenticationTokenException"
                | "ExpiredTokenException" => 401,
                "ThrottlingException" | "ModelNotReadyException" => 429,
                "ModelTimeoutException" => 408,
                "ServiceUnavailableException" => 503,
                _ => status,
            }
        }
        _ => status,
    }
}
