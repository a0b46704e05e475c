//! Small helpers shared by the adapters.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use haimaker_openai::Usage;
use serde_json::{Value, json};

use crate::TranslateError;

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `data: <json>\n\n`.
pub(crate) fn data_event(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// `event: <name>\ndata: <json>\n\n`.
pub(crate) fn named_event(name: &str, value: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {value}\n\n"))
}

/// The OpenAI `usage` object for `usage`, with Anthropic's cache fields when present
/// (LiteLLM reports them the same way).
pub(crate) fn usage_json(usage: &Usage) -> Value {
    let mut v = json!({
        "prompt_tokens": usage.prompt(),
        "completion_tokens": usage.completion(),
        "total_tokens": usage.prompt() + usage.completion(),
    });
    if usage.prompt_tokens_details.is_some() {
        v["prompt_tokens_details"] = json!({"cached_tokens": usage.cached()});
    }
    if usage.cache_creation_input_tokens.is_some() {
        v["cache_creation_input_tokens"] = json!(usage.cache_creation());
        v["cache_read_input_tokens"] = json!(usage.cached());
    }
    v
}

/// Builds a [`Usage`] from counts.
pub(crate) fn usage(
    prompt: u64,
    completion: u64,
    cached: Option<u64>,
    created: Option<u64>,
) -> Usage {
    Usage {
        prompt_tokens: Some(prompt),
        completion_tokens: Some(completion),
        total_tokens: Some(prompt + completion),
        prompt_tokens_details: cached.map(|c| haimaker_openai::PromptTokensDetails {
            cached_tokens: Some(c),
        }),
        cache_creation_input_tokens: created,
    }
}

/// A JSON string's text, or the JSON text of any other value (tool arguments, results).
pub(crate) fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Splits a `data:` URL into its media type and base64 payload.
pub(crate) fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media = meta.strip_suffix(";base64")?;
    Some((media, data))
}

pub(crate) fn u64_at(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// A provider's response body as a JSON object.
pub(crate) fn response_object(body: &[u8]) -> Result<Value, TranslateError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| TranslateError::new(format!("the response is not JSON ({e})")))?;
    if !value.is_object() {
        return Err(TranslateError::new("the response is not a JSON object"));
    }
    Ok(value)
}

/// An OpenAI `tool_calls` entry; `input` (the arguments as JSON) defaults to `{}`.
pub(crate) fn tool_call(id: Value, name: Value, input: Option<&Value>) -> Value {
    json!({
        "id": id,
        "type": "function",
        "function": {
            "name": name,
            "arguments": input.map_or_else(|| "{}".to_string(), Value::to_string),
        },
    })
}

/// An assistant message: `content` is null when there is no text but tool calls.
pub(crate) fn assistant_message(text: String, tool_calls: &[Value]) -> Value {
    json!({
        "role": "assistant",
        "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { json!(text) },
    })
}

/// A `chat.completion`, created now.
pub(crate) fn chat_completion(id: Value, model: Value, choices: Value, usage: Value) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "system_fingerprint": null,
        "choices": choices,
        "usage": usage,
    })
}
