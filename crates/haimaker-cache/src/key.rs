//! The response-cache key (reference 11.2), a pure function.
//!
//! LiteLLM concatenates `"<param>: <str(value)>"` for the request's known parameters in the order the
//! caller passed them, so the same request written in another order misses. Here the parameters are
//! taken in one fixed order and values are JSON, so the key depends only on what the request asks for.
//! Nested values are kept as sent (object key order included): in a JSON schema, property order changes
//! what the model writes.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The parameters that shape a response, in the order they enter the key. Everything else (`stream`,
/// `stream_options`: a streamed and a non-streamed call share an entry; `metadata`, `cache`, `api_key`,
/// timeouts, `extra_headers`, LiteLLM's own params, unknown provider extras) is ignored. `model` is
/// always the model group, passed separately.
pub const CACHE_KEY_PARAMS: &[&str] = &[
    "model",
    // chat / text / embeddings inputs
    "messages",
    "input",
    "prompt",
    "suffix",
    // sampling
    "temperature",
    "top_p",
    "n",
    "stop",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "seed",
    "best_of",
    "echo",
    "user",
    // output shape
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "functions",
    "function_call",
    "logprobs",
    "top_logprobs",
    "reasoning_effort",
    "thinking",
    "modalities",
    "audio",
    "prediction",
    "web_search_options",
    // embeddings
    "dimensions",
    "encoding_format",
    // audio transcription
    "language",
    "timestamp_granularities",
];

/// LiteLLM's cache key: for each present, non-null parameter of [`CACHE_KEY_PARAMS`], in that order,
/// `"<param>: <value JSON>,"`; `model` is the model GROUP (all deployments of a group share entries).
/// The key is the sha256 hex of that string, prefixed `"<namespace>:"` when a namespace is set.
pub fn cache_key(
    model_group: &str,
    params: &Map<String, Value>,
    namespace: Option<&str>,
) -> String {
    let mut hasher = Sha256::new();
    for &param in CACHE_KEY_PARAMS {
        let json = if param == "model" {
            // Serialized like any other value (quoted), whatever the request's own `model` says.
            Value::String(model_group.to_owned()).to_string()
        } else {
            match params.get(param) {
                None | Some(Value::Null) => continue,
                Some(value) => value.to_string(),
            }
        };
        hasher.update(param.as_bytes());
        hasher.update(b": ");
        hasher.update(json.as_bytes());
        hasher.update(b",");
    }
    let digest = hex::encode(hasher.finalize());
    match namespace.filter(|ns| !ns.is_empty()) {
        Some(ns) => format!("{ns}:{digest}"),
        None => digest,
    }
}
