//! Provider errors in LiteLLM's terms.
//!
//! Error *responses* (a non-2xx status) are classified by the worker's `upstream_error`, which
//! reads every provider's body shape (`{"error": {"message", "type"}}` for OpenAI, Azure,
//! Anthropic and Gemini; `{"message"}` for Bedrock) and matches the context-window and
//! content-policy wordings listed here. Errors *inside* a stream (Anthropic's `error` event)
//! are translated here.

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
    let kind = match status {
        400 if CONTEXT_WINDOW_PHRASES
            .iter()
            .any(|p| message.to_ascii_lowercase().contains(p)) =>
        {
            "ContextWindowExceededError"
        }
        400 | 413 => "BadRequestError",
        401 => "AuthenticationError",
        403 => "PermissionDeniedError",
        404 => "NotFoundError",
        429 => "RateLimitError",
        _ => "InternalServerError",
    };
    let openai_type = match status {
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "internal_server_error",
    };
    (
        status,
        json!({"error": {
            "message": format!("litellm.{kind}: {label} - {message}"),
            "type": openai_type,
            "param": null,
            "code": status.to_string(),
        }}),
    )
}
