//! Which OpenAI request parameters a provider takes, and `drop_params`.
//!
//! As in LiteLLM: an OpenAI parameter the provider has no equivalent for is an
//! `UnsupportedParamsError` (400) unless `drop_params` is set (request, deployment or
//! `litellm_settings`), in which case it is removed. Keys that are not OpenAI parameters are
//! provider-specific extras and are passed through.

use serde_json::{Map, Value};

use crate::TranslateError;

/// Every OpenAI chat parameter (the request body keys the OpenAI API documents).
const OPENAI_CHAT_PARAMS: &[&str] = &[
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "modalities",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "reasoning_effort",
    "response_format",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "audio",
    "web_search_options",
    "prompt_cache_key",
    "safety_identifier",
    "verbosity",
];

/// Removes (with `drop`) or refuses the OpenAI parameters of `body` that are not in
/// `supported`. A few values that mean "the default" are always accepted: `n: 1`,
/// `response_format: {"type": "text"}`, `stream_options`, `parallel_tool_calls: true`.
pub fn enforce(
    provider: &str,
    model: &str,
    body: &mut Map<String, Value>,
    supported: &[&str],
    drop: bool,
) -> Result<(), TranslateError> {
    let mut unsupported = Vec::new();
    for key in OPENAI_CHAT_PARAMS {
        let Some(value) = body.get(*key) else {
            continue;
        };
        if supported.contains(key) || is_default(key, value) {
            continue;
        }
        unsupported.push(*key);
    }
    if unsupported.is_empty() {
        return Ok(());
    }
    if drop {
        for key in &unsupported {
            body.remove(*key);
        }
        return Ok(());
    }
    let list = unsupported
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(TranslateError::new(format!(
        "litellm.UnsupportedParamsError: {provider} does not support parameters: [{list}], for model={model}. To drop these, set `litellm.drop_params=True` or for proxy:\n\n`litellm_settings:\n drop_params: true`\n"
    ))
    .with_param(unsupported[0]))
}

fn is_default(key: &str, value: &Value) -> bool {
    match key {
        "n" => value.as_u64() == Some(1) || value.is_null(),
        "response_format" => {
            value.is_null() || value.get("type").and_then(Value::as_str) == Some("text")
        }
        "parallel_tool_calls" => value.as_bool() == Some(true) || value.is_null(),
        "stream_options" => true,
        _ => value.is_null(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn refuses_or_drops_unsupported_params() {
        let mut body =
            map(json!({"model": "m", "temperature": 1, "logprobs": true, "n": 1, "x_extra": 1}));
        let e = enforce("anthropic", "claude", &mut body, &["temperature"], false).unwrap_err();
        assert!(
            e.message
                .contains("anthropic does not support parameters: ['logprobs']"),
            "{}",
            e.message
        );
        assert_eq!(e.param.as_deref(), Some("logprobs"));
        enforce("anthropic", "claude", &mut body, &["temperature"], true).unwrap();
        assert!(!body.contains_key("logprobs"));
        assert!(
            body.contains_key("temperature")
                && body.contains_key("x_extra")
                && body.contains_key("n")
        );
    }
}
