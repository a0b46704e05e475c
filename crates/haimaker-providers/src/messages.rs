//! `POST /v1/messages` (the Anthropic Messages format, what Claude Code and the Anthropic SDKs
//! send) served by a deployment that speaks OpenAI: the request becomes an OpenAI chat request,
//! and the `chat.completion` comes back as an Anthropic message.
//!
//! Anthropic deployments never come here: their `/v1/messages` calls are passed through.

use haimaker_openai::Usage;
use serde_json::{Map, Value, json};

use crate::TranslateError;
use crate::util::text_of;

/// An Anthropic Messages request -> an OpenAI chat request for `model`.
pub fn request(mut body: Map<String, Value>, model: &str) -> Result<Value, TranslateError> {
    let mut messages = Vec::new();
    if let Some(system) = body.remove("system") {
        let text = match system {
            Value::String(s) => s,
            Value::Array(blocks) => blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            Value::Null => String::new(),
            _ => {
                return Err(TranslateError::new(
                    "`system` must be a string or a list of text blocks",
                )
                .with_param("system"));
            }
        };
        if !text.is_empty() {
            messages.push(json!({"role": "system", "content": text}));
        }
    }
    let Some(Value::Array(turns)) = body.remove("messages") else {
        return Err(TranslateError::new("`messages` must be a list").with_param("messages"));
    };
    for (i, turn) in turns.into_iter().enumerate() {
        convert_turn(turn, i, &mut messages)?;
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("messages".into(), Value::Array(messages));
    for (key, value) in body {
        match key.as_str() {
            "model" | "top_k" | "thinking" | "container" | "mcp_servers" | "service_tier" => {}
            "max_tokens" | "temperature" | "top_p" | "stream" => {
                out.insert(key, value);
            }
            "stop_sequences" => {
                out.insert("stop".into(), value);
            }
            "metadata" => {
                if let Some(user) = value.get("user_id").filter(|u| u.is_string()) {
                    out.insert("user".into(), user.clone());
                }
            }
            "tools" => {
                let tools: Vec<Value> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|t| t.get("input_schema").is_some())
                    .map(|t| {
                        let mut function = json!({
                            "name": t.get("name"),
                            "parameters": t.get("input_schema"),
                        });
                        if let Some(d) = t.get("description") {
                            function["description"] = d.clone();
                        }
                        json!({"type": "function", "function": function})
                    })
                    .collect();
                if !tools.is_empty() {
                    out.insert("tools".into(), Value::Array(tools));
                }
            }
            "tool_choice" => {
                let choice = match value.get("type").and_then(Value::as_str) {
                    Some("auto") => json!("auto"),
                    Some("any") => json!("required"),
                    Some("none") => json!("none"),
                    Some("tool") => {
                        json!({"type": "function", "function": {"name": value.get("name")}})
                    }
                    _ => continue,
                };
                if value
                    .get("disable_parallel_tool_use")
                    .and_then(Value::as_bool)
                    == Some(true)
                {
                    out.insert("parallel_tool_calls".into(), json!(false));
                }
                out.insert("tool_choice".into(), choice);
            }
            _ => {}
        }
    }
    if out.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(Value::Object(out))
}

fn convert_turn(turn: Value, i: usize, messages: &mut Vec<Value>) -> Result<(), TranslateError> {
    let role = turn.get("role").and_then(Value::as_str).unwrap_or("");
    if role != "user" && role != "assistant" {
        return Err(TranslateError::new(format!(
            "message role `{role}` must be user or assistant"
        ))
        .with_param(format!("messages[{i}].role")));
    }
    let blocks = match turn.get("content") {
        Some(Value::String(s)) => {
            messages.push(json!({"role": role, "content": s}));
            return Ok(());
        }
        Some(Value::Array(blocks)) => blocks.clone(),
        _ => {
            return Err(TranslateError::new(
                "message content must be a string or a list of blocks",
            )
            .with_param(format!("messages[{i}].content")));
        }
    };
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str).unwrap_or("") {
            "text" => {
                let t = block.get("text").and_then(Value::as_str).unwrap_or("");
                if role == "assistant" {
                    text.push_str(t);
                } else {
                    parts.push(json!({"type": "text", "text": t}));
                }
            }
            "image" => {
                let source = block.get("source").unwrap_or(&Value::Null);
                let url = match source.get("type").and_then(Value::as_str) {
                    Some("base64") => format!(
                        "data:{};base64,{}",
                        source.get("media_type").and_then(Value::as_str).unwrap_or("image/png"),
                        source.get("data").and_then(Value::as_str).unwrap_or("")
                    ),
                    _ => source.get("url").and_then(Value::as_str).unwrap_or("").to_string(),
                };
                parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
            }
            "tool_use" => tool_calls.push(json!({
                "id": block.get("id"),
                "type": "function",
                "function": {
                    "name": block.get("name"),
                    "arguments": block.get("input").map_or_else(|| "{}".to_string(), Value::to_string),
                },
            })),
            "tool_result" => {
                let content = match block.get("content") {
                    Some(Value::Array(inner)) => inner
                        .iter()
                        .filter_map(|b| b.get("text").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    Some(other) => text_of(other),
                    None => String::new(),
                };
                messages.push(json!({
                    "role": "tool",
                    "tool_call_id": block.get("tool_use_id"),
                    "content": content,
                }));
            }
            // thinking / redacted_thinking and server-tool blocks have no OpenAI form.
            _ => {}
        }
    }
    if role == "assistant" {
        if text.is_empty() && tool_calls.is_empty() {
            return Ok(());
        }
        let mut m = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
        if !tool_calls.is_empty() {
            m["tool_calls"] = Value::Array(tool_calls);
        }
        messages.push(m);
    } else if !parts.is_empty() {
        let all_text = parts.iter().all(|p| p["type"] == "text");
        let content = if all_text {
            json!(
                parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        } else {
            Value::Array(parts)
        };
        messages.push(json!({"role": "user", "content": content}));
    }
    Ok(())
}

/// OpenAI `finish_reason` -> Anthropic `stop_reason`.
pub fn stop_reason(finish: &str) -> &'static str {
    match finish {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// The Anthropic `usage` object for OpenAI usage: `input_tokens` are the uncached prompt
/// tokens, as Anthropic counts them.
pub fn usage_json(usage: &Usage) -> Value {
    let read = usage.cached();
    let created = usage.cache_creation();
    json!({
        "input_tokens": usage.prompt().saturating_sub(read + created),
        "output_tokens": usage.completion(),
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": created,
    })
}

/// A `chat.completion` -> an Anthropic message.
pub fn response(completion: &Value) -> Value {
    let choice = completion
        .get("choices")
        .and_then(|c| c.get(0))
        .unwrap_or(&Value::Null);
    let message = choice.get("message").unwrap_or(&Value::Null);
    let mut content = Vec::new();
    if let Some(reasoning) = message
        .get("reasoning_content")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        content.push(json!({"type": "thinking", "thinking": reasoning, "signature": ""}));
    }
    if let Some(text) = message
        .get("content")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let function = call.get("function").unwrap_or(&Value::Null);
        let input = function
            .get("arguments")
            .and_then(Value::as_str)
            .and_then(|a| serde_json::from_str::<Value>(a).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        content.push(json!({
            "type": "tool_use",
            "id": call.get("id"),
            "name": function.get("name"),
            "input": input,
        }));
    }
    let usage: Usage = completion
        .get("usage")
        .and_then(|u| serde_json::from_value(u.clone()).ok())
        .unwrap_or_default();
    json!({
        "id": completion.get("id"),
        "type": "message",
        "role": "assistant",
        "model": completion.get("model"),
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason").and_then(Value::as_str).unwrap_or("stop")),
        "stop_sequence": null,
        "usage": usage_json(&usage),
    })
}

/// The usage of an Anthropic message (a passed-through `/v1/messages` response).
pub fn anthropic_usage(body: &[u8]) -> Option<Usage> {
    let message: Value = serde_json::from_slice(body).ok()?;
    Some(crate::anthropic::usage_of(message.get("usage")?))
}

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
