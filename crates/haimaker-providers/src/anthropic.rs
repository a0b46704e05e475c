//! `anthropic/<model>`: an OpenAI chat request -> a Messages API request, and the Messages
//! response -> a `chat.completion` (docs.anthropic.com, "Messages").
//!
//! Request: `system`/`developer` messages become `system` blocks; `tool` messages become
//! `tool_result` blocks of a user turn; assistant `tool_calls` become `tool_use` blocks;
//! `image_url` parts become `image` blocks (base64 for `data:` URLs, `url` sources otherwise);
//! consecutive turns of one role are merged (the API wants them alternating); `stop` ->
//! `stop_sequences`; `tools`/`tool_choice`/`parallel_tool_calls` -> Anthropic's; `user` ->
//! `metadata.user_id`; `max_tokens` (or `max_completion_tokens`) defaults to
//! [`DEFAULT_MAX_TOKENS`], since the API requires it.

use haimaker_openai::Usage;
use serde_json::{Map, Value, json};

use crate::TranslateError;
use crate::params;
use crate::turns::{self, ToolChoice, TurnFormat};
use crate::util::{
    assistant_message, chat_completion, parse_data_url, response_object, text_of, tool_call,
    u64_at, usage, usage_json,
};

/// `anthropic-version` sent with every request.
pub const API_VERSION: &str = "2023-06-01";
/// `max_tokens` when the client sets none (LiteLLM's default for Anthropic).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;
pub const DEFAULT_API_BASE: &str = "https://api.anthropic.com";

/// The OpenAI parameters that have an Anthropic equivalent.
const SUPPORTED: &[&str] = &[
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "user",
    "reasoning_effort",
];

/// The Messages endpoint for `api_base` (`https://api.anthropic.com` ->
/// `https://api.anthropic.com/v1/messages`; a base that already ends in `/v1` or
/// `/v1/messages` is respected).
pub fn url(api_base: &str) -> String {
    let base = api_base.trim_end_matches('/');
    if base.ends_with("/v1/messages") {
        base.to_string()
    } else if base.ends_with("/v1") {
        format!("{base}/messages")
    } else {
        format!("{base}/v1/messages")
    }
}

/// Translates an OpenAI chat request body (gateway-only keys already removed) for `model`.
pub fn request(
    mut body: Map<String, Value>,
    model: &str,
    drop_params: bool,
) -> Result<Value, TranslateError> {
    params::enforce("anthropic", model, &mut body, SUPPORTED, drop_params)?;
    let messages = turns::take_messages(&mut body, true)?;
    let (system, turns) = turns::convert(&mut Turns, messages)?;
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("messages".into(), Value::Array(turns));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let max_tokens = body
        .remove("max_tokens")
        .or_else(|| body.remove("max_completion_tokens"))
        .filter(|v| !v.is_null())
        .unwrap_or(json!(DEFAULT_MAX_TOKENS));
    body.remove("max_completion_tokens");
    out.insert("max_tokens".into(), max_tokens);
    let parallel = body.remove("parallel_tool_calls");
    for (key, value) in body {
        match key.as_str() {
            "model" | "n" | "stream_options" | "response_format" => {}
            "stop" => {
                if let Some(stops) = turns::stop_sequences(value)? {
                    out.insert("stop_sequences".into(), stops);
                }
            }
            "tools" => {
                out.insert("tools".into(), convert_tools(value)?);
            }
            "tool_choice" => {
                if let Some(choice) = convert_tool_choice(&value)? {
                    out.insert("tool_choice".into(), choice);
                }
            }
            "user" => {
                if let Value::String(user) = value {
                    out.insert("metadata".into(), json!({"user_id": user}));
                }
            }
            "reasoning_effort" => {
                let budget = match value.as_str() {
                    Some("low" | "minimal") => 1024,
                    Some("medium") => 2048,
                    Some("high") => 4096,
                    _ => continue,
                };
                out.insert(
                    "thinking".into(),
                    json!({"type": "enabled", "budget_tokens": budget}),
                );
            }
            // temperature, top_p, stream, and provider-specific extras (top_k, thinking, ...)
            _ => {
                out.insert(key, value);
            }
        }
    }
    if parallel.as_ref().and_then(Value::as_bool) == Some(false) && out.contains_key("tools") {
        let choice = out
            .entry("tool_choice")
            .or_insert_with(|| json!({"type": "auto"}));
        if let Some(c) = choice.as_object_mut() {
            c.insert("disable_parallel_tool_use".into(), json!(true));
        }
    }
    Ok(Value::Object(out))
}

/// Anthropic's turns: `content` blocks, `tool_use` / `tool_result` blocks.
struct Turns;

impl TurnFormat for Turns {
    const PROVIDER: &'static str = "anthropic";
    const ASSISTANT: &'static str = "assistant";
    const BLOCKS: &'static str = "content";

    fn content(&mut self, content: Value, param: &str) -> Result<Vec<Value>, TranslateError> {
        content_blocks(content, param)
    }

    fn tool_call(&mut self, call: &Value, function: &Value, arguments: Value) -> Value {
        json!({
            "type": "tool_use",
            "id": call.get("id").cloned().unwrap_or(Value::Null),
            "name": function.get("name").cloned().unwrap_or(Value::Null),
            "input": arguments,
        })
    }

    fn tool_result(
        &mut self,
        m: &Map<String, Value>,
        content: Value,
        param: &str,
    ) -> Result<Value, TranslateError> {
        let id = turns::answered_call(m);
        let result = match content {
            Value::Array(parts) => Value::Array(content_blocks(Value::Array(parts), param)?),
            other => Value::String(text_of(&other)),
        };
        Ok(json!({"type": "tool_result", "tool_use_id": id, "content": result}))
    }
}

/// OpenAI message content (a string or a list of parts) -> Anthropic content blocks.
fn content_blocks(content: Value, param: &str) -> Result<Vec<Value>, TranslateError> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![json!({"type": "text", "text": s})]),
        Value::Array(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for part in parts {
                let kind = part.get("type").and_then(Value::as_str).unwrap_or("text");
                let mut block = match kind {
                    "text" => {
                        let text = part.get("text").and_then(Value::as_str).unwrap_or("");
                        if text.is_empty() {
                            continue;
                        }
                        json!({"type": "text", "text": text})
                    }
                    "image_url" => image_block(turns::image_url(&part)),
                    // Already Anthropic blocks (documents, images, ...): pass them on.
                    _ => part.clone(),
                };
                if let (Some(cache), Some(b)) = (part.get("cache_control"), block.as_object_mut()) {
                    b.insert("cache_control".into(), cache.clone());
                }
                out.push(block);
            }
            Ok(out)
        }
        _ => Err(
            TranslateError::new("message content must be a string or a list of parts")
                .with_param(format!("{param}.content")),
        ),
    }
}

fn image_block(url: &str) -> Value {
    match parse_data_url(url) {
        Some((media_type, data)) => json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }),
        None => json!({"type": "image", "source": {"type": "url", "url": url}}),
    }
}

fn convert_tools(tools: Value) -> Result<Value, TranslateError> {
    let tools = turns::tools_list(tools)?;
    let mut out = Vec::with_capacity(tools.len());
    for tool in tools {
        let Some(function) = tool.get("function") else {
            // An Anthropic tool already (server tools such as web search): as it is.
            out.push(tool);
            continue;
        };
        let mut t = turns::function_declaration(function);
        t.insert(
            "input_schema".into(),
            function
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        );
        if let Some(cache) = tool.get("cache_control") {
            t.insert("cache_control".into(), cache.clone());
        }
        out.push(Value::Object(t));
    }
    Ok(Value::Array(out))
}

fn convert_tool_choice(choice: &Value) -> Result<Option<Value>, TranslateError> {
    Ok(turns::tool_choice(choice)?.map(|choice| match choice {
        ToolChoice::Auto => json!({"type": "auto"}),
        ToolChoice::Any => json!({"type": "any"}),
        ToolChoice::None => json!({"type": "none"}),
        ToolChoice::Function(name) => json!({"type": "tool", "name": name}),
        ToolChoice::Other(o) => Value::Object(o.clone()),
    }))
}

/// Anthropic `stop_reason` -> OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// Anthropic `usage` -> OpenAI usage. Prompt tokens include the cache reads and writes (as
/// LiteLLM reports them); `cached_tokens` are the reads, `cache_creation_input_tokens` the
/// writes.
pub fn usage_of(u: &Value) -> Usage {
    let input = u64_at(u, "input_tokens");
    let read = u64_at(u, "cache_read_input_tokens");
    let created = u64_at(u, "cache_creation_input_tokens");
    usage(
        input + read + created,
        u64_at(u, "output_tokens"),
        Some(read),
        Some(created),
    )
}

/// A Messages API response -> a `chat.completion`, and its usage.
pub fn response(body: &[u8]) -> Result<(Value, Usage), TranslateError> {
    let message = response_object(body)?;
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    for block in message
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("thinking") => {
                reasoning.push_str(block.get("thinking").and_then(Value::as_str).unwrap_or(""));
                thinking_blocks.push(block.clone());
            }
            Some("tool_use") => tool_calls.push(tool_call(
                block.get("id").cloned().unwrap_or(Value::Null),
                block.get("name").cloned().unwrap_or(Value::Null),
                block.get("input"),
            )),
            _ => {}
        }
    }
    let mut msg = assistant_message(text, &tool_calls);
    if !tool_calls.is_empty() {
        msg["tool_calls"] = Value::Array(tool_calls);
    }
    if !reasoning.is_empty() {
        msg["reasoning_content"] = json!(reasoning);
        msg["thinking_blocks"] = Value::Array(thinking_blocks);
    }
    let usage = usage_of(message.get("usage").unwrap_or(&Value::Null));
    let finish = finish_reason(
        message
            .get("stop_reason")
            .and_then(Value::as_str)
            .unwrap_or("end_turn"),
    );
    let out = chat_completion(
        message.get("id").cloned().unwrap_or(Value::Null),
        message.get("model").cloned().unwrap_or(Value::Null),
        json!([{"index": 0, "message": msg, "logprobs": null, "finish_reason": finish}]),
        usage_json(&usage),
    );
    Ok((out, usage))
}

#[cfg(test)]
#[path = "anthropic_tests.rs"]
mod tests;
