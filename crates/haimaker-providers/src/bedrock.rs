//! `bedrock/<model id>`: an OpenAI chat request -> a Bedrock Converse request, and the Converse
//! response -> a `chat.completion` (docs.aws.amazon.com, Bedrock API reference: "Converse",
//! "ConverseStream").
//!
//! Request: `system`/`developer` messages become `system` text blocks; `assistant` turns carry
//! `toolUse` blocks for their `tool_calls`; `tool` messages become `toolResult` blocks of a user
//! turn; `image_url` (`data:` URLs) and `file` parts become `image` / `document` blocks;
//! consecutive turns of one role are merged (Converse wants them alternating).
//! `max_tokens`/`temperature`/`top_p`/`stop` -> `inferenceConfig`; `tools`/`tool_choice` ->
//! `toolConfig`; Converse's own keys (`guardrailConfig`, `performanceConfig`, ...) pass through,
//! and any other non-OpenAI key goes to `additionalModelRequestFields` (as LiteLLM does with
//! `top_k` and friends).

use haimaker_openai::Usage;
use serde_json::{Map, Value, json};

use crate::TranslateError;
use crate::params;
use crate::turns::{self, ToolChoice, TurnFormat};
use crate::util::{
    assistant_message, chat_completion, parse_data_url, response_object, tool_call, u64_at, usage,
    usage_json,
};

/// The SigV4 service name of the runtime endpoint.
pub const SIGNING_SERVICE: &str = "bedrock";
/// The region when neither the deployment nor the environment names one (LiteLLM's default).
pub const DEFAULT_REGION: &str = "us-west-2";

/// The OpenAI parameters that have a Converse equivalent (`user` is accepted and not sent).
const SUPPORTED: &[&str] = &[
    "user",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
];

/// Top-level Converse request keys that pass through as they are.
const NATIVE_KEYS: &[&str] = &[
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
    "inferenceConfig",
];

/// `https://bedrock-runtime.<region>.amazonaws.com`.
pub fn default_endpoint(region: &str) -> String {
    format!("https://bedrock-runtime.{region}.amazonaws.com")
}

/// `<endpoint>/model/<model id>/converse` or `/converse-stream`; the model id (which may be an
/// ARN or carry a `:` version) is percent-encoded as one path segment.
pub fn url(endpoint: &str, model: &str, stream: bool) -> String {
    let base = endpoint.trim_end_matches('/');
    let action = if stream {
        "converse-stream"
    } else {
        "converse"
    };
    format!(
        "{base}/model/{}/{action}",
        crate::azure::encode_segment(model)
    )
}

/// The model id without LiteLLM's route prefix (`converse/<id>` means the same as `<id>`).
pub fn model_id(model: &str) -> &str {
    model.strip_prefix("converse/").unwrap_or(model)
}

/// Translates an OpenAI chat request body (gateway-only keys already removed).
pub fn request(
    mut body: Map<String, Value>,
    model: &str,
    drop_params: bool,
) -> Result<Value, TranslateError> {
    params::enforce("bedrock", model, &mut body, SUPPORTED, drop_params)?;
    let messages = turns::take_messages(&mut body, false)?;
    let (system, turns) = turns::convert(&mut Turns, messages)?;
    let mut out = Map::new();
    out.insert("messages".into(), Value::Array(turns));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let mut inference = Map::new();
    let mut additional = Map::new();
    let mut tools = None;
    let mut choice = None;
    for (key, value) in body {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "model" | "stream" | "stream_options" | "parallel_tool_calls" | "user" | "n" => {}
            "max_tokens" | "max_completion_tokens" => {
                inference.insert("maxTokens".into(), value);
            }
            "temperature" => {
                inference.insert("temperature".into(), value);
            }
            "top_p" => {
                inference.insert("topP".into(), value);
            }
            "stop" => {
                if let Some(stops) = turns::stop_sequences(value)? {
                    inference.insert("stopSequences".into(), stops);
                }
            }
            "tools" => tools = Some(convert_tools(value)?),
            "tool_choice" => choice = convert_tool_choice(&value)?,
            "response_format" => {}
            k if NATIVE_KEYS.contains(&k) => {
                if let (Some(Value::Object(into)), Value::Object(from)) = (out.get_mut(k), &value) {
                    into.extend(from.clone());
                } else {
                    out.insert(key, value);
                }
            }
            _ => {
                additional.insert(key, value);
            }
        }
    }
    if !inference.is_empty() {
        let entry = out
            .entry("inferenceConfig")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(existing) = entry.as_object_mut() {
            for (k, v) in inference {
                existing.insert(k, v);
            }
        }
    }
    if !additional.is_empty() {
        let entry = out
            .entry("additionalModelRequestFields")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(existing) = entry.as_object_mut() {
            existing.extend(additional);
        }
    }
    if let Some(tools) = tools.filter(|t| !t.is_empty()) {
        let mut config = json!({"tools": tools});
        if let Some(choice) = choice {
            config["toolChoice"] = choice;
        }
        out.insert("toolConfig".into(), config);
    }
    Ok(Value::Object(out))
}

/// Converse's turns: `content` blocks, `toolUse` / `toolResult` blocks, text-only system blocks.
struct Turns;

impl TurnFormat for Turns {
    const PROVIDER: &'static str = "bedrock";
    const ASSISTANT: &'static str = "assistant";
    const BLOCKS: &'static str = "content";

    fn content(&mut self, content: Value, param: &str) -> Result<Vec<Value>, TranslateError> {
        blocks_of(content, param)
    }

    fn system(&mut self, content: Value, param: &str) -> Result<Vec<Value>, TranslateError> {
        let mut blocks = blocks_of(content, param)?;
        blocks.retain(|block| block.get("text").is_some());
        Ok(blocks)
    }

    fn tool_call(&mut self, call: &Value, function: &Value, arguments: Value) -> Value {
        json!({"toolUse": {
            "toolUseId": call.get("id").cloned().unwrap_or(Value::Null),
            "name": function.get("name").cloned().unwrap_or(Value::Null),
            "input": arguments,
        }})
    }

    fn tool_result(
        &mut self,
        m: &Map<String, Value>,
        content: Value,
        _param: &str,
    ) -> Result<Value, TranslateError> {
        let id = turns::answered_call(m);
        let text = turns::tool_result_text(&content);
        Ok(json!({"toolResult": {"toolUseId": id, "content": [{"text": text}]}}))
    }
}

/// OpenAI message content -> Converse content blocks.
fn blocks_of(content: Value, param: &str) -> Result<Vec<Value>, TranslateError> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![json!({"text": s})]),
        Value::Array(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for (k, part) in parts.into_iter().enumerate() {
                let at = || format!("{param}.content[{k}]");
                let kind = part.get("type").and_then(Value::as_str).unwrap_or("text");
                let block = match kind {
                    "text" => match part.get("text").and_then(Value::as_str) {
                        Some(t) if !t.is_empty() => json!({"text": t}),
                        _ => continue,
                    },
                    "image_url" => {
                        let (media, data) = parse_data_url(turns::image_url(&part)).ok_or_else(|| {
                            TranslateError::new(
                                "bedrock takes images as base64 `data:` URLs (data:image/png;base64,...)",
                            )
                            .with_param(at())
                        })?;
                        let format = media.strip_prefix("image/").unwrap_or(media);
                        let format = if format == "jpg" { "jpeg" } else { format };
                        json!({"image": {"format": format, "source": {"bytes": data}}})
                    }
                    "file" => {
                        let file = part.get("file").unwrap_or(&Value::Null);
                        let url = file.get("file_data").and_then(Value::as_str).unwrap_or("");
                        let (media, data) = parse_data_url(url).ok_or_else(|| {
                            TranslateError::new("bedrock takes files as base64 `data:` URLs")
                                .with_param(at())
                        })?;
                        let format = media.rsplit('/').next().unwrap_or("pdf");
                        let name = file
                            .get("filename")
                            .and_then(Value::as_str)
                            .map(document_name)
                            .unwrap_or_else(|| format!("document{k}"));
                        json!({"document": {"format": format, "name": name, "source": {"bytes": data}}})
                    }
                    other => {
                        return Err(TranslateError::new(format!(
                            "content part type `{other}` is not supported by bedrock"
                        ))
                        .with_param(format!("{}.type", at())));
                    }
                };
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

/// Converse document names allow letters, digits, spaces, hyphens, parentheses and brackets.
fn document_name(filename: &str) -> String {
    let stem = filename.rsplit_once('.').map_or(filename, |(s, _)| s);
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '(' | ')' | '[' | ']') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() {
        "document".into()
    } else {
        name
    }
}

fn convert_tools(tools: Value) -> Result<Vec<Value>, TranslateError> {
    let tools = turns::tools_list(tools)?;
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.into_iter().enumerate() {
        if tool.get("toolSpec").is_some() || tool.get("cachePoint").is_some() {
            // A Converse tool already: as it is.
            out.push(tool);
            continue;
        }
        let Some(function) = tool.get("function") else {
            return Err(TranslateError::new(format!(
                "tool type `{}` is not supported by bedrock",
                tool.get("type").and_then(Value::as_str).unwrap_or("?")
            ))
            .with_param(format!("tools[{i}]")));
        };
        let mut spec = turns::function_declaration(function);
        spec.insert(
            "inputSchema".into(),
            json!({"json": function
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}))}),
        );
        out.push(json!({"toolSpec": spec}));
    }
    Ok(out)
}

/// OpenAI `tool_choice` -> Converse `toolChoice`. Converse has no "none": the tools are sent
/// without a choice (the model decides), as LiteLLM does.
fn convert_tool_choice(choice: &Value) -> Result<Option<Value>, TranslateError> {
    Ok(turns::tool_choice(choice)?.and_then(|choice| match choice {
        ToolChoice::Auto => Some(json!({"auto": {}})),
        ToolChoice::Any => Some(json!({"any": {}})),
        ToolChoice::None => None,
        ToolChoice::Function(name) => Some(json!({"tool": {"name": name}})),
        ToolChoice::Other(o) => Some(Value::Object(o.clone())),
    }))
}

/// Converse `stopReason` -> OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "guardrail_intervened" | "content_filtered" => "content_filter",
        _ => "stop",
    }
}

/// Converse `usage` -> OpenAI usage: prompt tokens include cache reads and writes (as for
/// Anthropic); `cached_tokens` are the reads, `cache_creation_input_tokens` the writes.
pub fn usage_of(u: &Value) -> Usage {
    let read = u.get("cacheReadInputTokens").and_then(Value::as_u64);
    let write = u.get("cacheWriteInputTokens").and_then(Value::as_u64);
    usage(
        u64_at(u, "inputTokens") + read.unwrap_or(0) + write.unwrap_or(0),
        u64_at(u, "outputTokens"),
        read,
        write,
    )
}

/// A Converse response -> a `chat.completion`, and its usage.
pub fn response(body: &[u8], model: &str) -> Result<(Value, Usage), TranslateError> {
    let answer = response_object(body)?;
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for block in answer
        .pointer("/output/message/content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            text.push_str(t);
        } else if let Some(tool) = block.get("toolUse") {
            tool_calls.push(tool_call(
                tool.get("toolUseId").cloned().unwrap_or(Value::Null),
                tool.get("name").cloned().unwrap_or(Value::Null),
                tool.get("input"),
            ));
        } else if let Some(r) = block
            .pointer("/reasoningContent/reasoningText/text")
            .and_then(Value::as_str)
        {
            reasoning.push_str(r);
        }
    }
    let mut message = assistant_message(text, &tool_calls);
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    if !reasoning.is_empty() {
        message["reasoning_content"] = json!(reasoning);
    }
    let usage = usage_of(answer.get("usage").unwrap_or(&Value::Null));
    let finish = finish_reason(
        answer
            .get("stopReason")
            .and_then(Value::as_str)
            .unwrap_or("end_turn"),
    );
    let out = chat_completion(
        json!(format!("chatcmpl-{}", uuid::Uuid::new_v4())),
        json!(model),
        json!([{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}]),
        usage_json(&usage),
    );
    Ok((out, usage))
}

/// The status of a ConverseStream exception (`:exception-type`, lower camel case) as LiteLLM
/// reports it.
pub fn exception_status(exception: &str) -> u16 {
    match exception {
        "throttlingException" | "modelNotReadyException" => 429,
        "validationException" => 400,
        "accessDeniedException" => 403,
        "resourceNotFoundException" => 404,
        "modelTimeoutException" => 408,
        "serviceUnavailableException" => 503,
        _ => 500,
    }
}

#[cfg(test)]
#[path = "bedrock_tests.rs"]
mod tests;
