//! `gemini/<model>` (Google AI Studio): an OpenAI chat request -> a `generateContent` request,
//! and the `GenerateContentResponse` -> a `chat.completion` (ai.google.dev, "Generating
//! content", "Function calling", "Structured output", "Thinking").
//!
//! Request: `system`/`developer` messages become `systemInstruction`; `assistant` turns become
//! `model` turns with `functionCall` parts for their `tool_calls`; `tool` messages become
//! `functionResponse` parts of a user turn (named after the call they answer); `image_url`,
//! `input_audio` and `file` parts become `inlineData` (`data:` URLs) or `fileData` (URLs);
//! consecutive turns of one role are merged. `max_tokens` -> `generationConfig.maxOutputTokens`,
//! `stop` -> `stopSequences`, `n` -> `candidateCount`, `response_format` -> `responseMimeType` /
//! `responseJsonSchema`, `reasoning_effort` -> `thinkingConfig`, `tools` ->
//! `functionDeclarations`, `tool_choice` -> `toolConfig.functionCallingConfig`.

use haimaker_openai::Usage;
use serde_json::{Map, Value, json};

use crate::TranslateError;
use crate::params;
use crate::turns::{self, ToolChoice, TurnFormat};
use crate::util::{
    assistant_message, chat_completion, parse_data_url, response_object, tool_call, u64_at, usage,
    usage_json,
};

pub const DEFAULT_API_BASE: &str = "https://generativelanguage.googleapis.com/v1beta";

/// The OpenAI parameters that have a Gemini equivalent (`user` is accepted and not sent:
/// Gemini has no such field, and LiteLLM keeps it for its logs only).
const SUPPORTED: &[&str] = &[
    "user",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "n",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "reasoning_effort",
];

/// `<api_base>/models/<model>:generateContent`, or `:streamGenerateContent?alt=sse` for a
/// stream. An `api_base` that already ends in `/models` is respected.
pub fn url(api_base: &str, model: &str, stream: bool) -> String {
    let base = api_base.trim_end_matches('/');
    let base = base.strip_suffix("/models").unwrap_or(base);
    let model = model.strip_prefix("models/").unwrap_or(model);
    let model = crate::azure::encode_segment(model);
    if stream {
        format!("{base}/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("{base}/models/{model}:generateContent")
    }
}

/// Translates an OpenAI chat request body (gateway-only keys already removed).
pub fn request(
    mut body: Map<String, Value>,
    model: &str,
    drop_params: bool,
) -> Result<Value, TranslateError> {
    params::enforce("gemini", model, &mut body, SUPPORTED, drop_params)?;
    let messages = turns::take_messages(&mut body, false)?;
    let (system, contents) = turns::convert(&mut Turns::default(), messages)?;
    let mut out = Map::new();
    out.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        out.insert("systemInstruction".into(), json!({"parts": system}));
    }
    let mut config = Map::new();
    for (key, value) in body {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "model" | "stream" | "stream_options" | "parallel_tool_calls" | "user" => {}
            "max_tokens" | "max_completion_tokens" => {
                config.insert("maxOutputTokens".into(), value);
            }
            "temperature" => {
                config.insert("temperature".into(), value);
            }
            "top_p" => {
                config.insert("topP".into(), value);
            }
            "top_k" => {
                config.insert("topK".into(), value);
            }
            "n" => {
                config.insert("candidateCount".into(), value);
            }
            "presence_penalty" => {
                config.insert("presencePenalty".into(), value);
            }
            "frequency_penalty" => {
                config.insert("frequencyPenalty".into(), value);
            }
            "seed" => {
                config.insert("seed".into(), value);
            }
            "stop" => {
                if let Some(stops) = turns::stop_sequences(value)? {
                    config.insert("stopSequences".into(), stops);
                }
            }
            "response_format" => response_format(&value, &mut config)?,
            "reasoning_effort" => {
                let budget = match value.as_str() {
                    Some("none" | "disable") => 0,
                    Some("minimal") => 128,
                    Some("low") => 1024,
                    Some("medium") => 2048,
                    Some("high") => 4096,
                    _ => {
                        return Err(TranslateError::new(
                            "reasoning_effort must be one of none, minimal, low, medium, high",
                        )
                        .with_param("reasoning_effort"));
                    }
                };
                config.insert(
                    "thinkingConfig".into(),
                    json!({"thinkingBudget": budget, "includeThoughts": budget > 0}),
                );
            }
            "tools" => {
                if let Some(tools) = convert_tools(value)? {
                    out.insert("tools".into(), tools);
                }
            }
            "tool_choice" => {
                out.insert("toolConfig".into(), convert_tool_choice(&value)?);
            }
            // Gemini's own keys (safetySettings, cachedContent, generationConfig, ...) pass on.
            "generationConfig" | "generation_config" => {
                if let Value::Object(extra) = value {
                    config.extend(extra);
                }
            }
            _ => {
                out.insert(key, value);
            }
        }
    }
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }
    Ok(Value::Object(out))
}

fn response_format(value: &Value, config: &mut Map<String, Value>) -> Result<(), TranslateError> {
    match value.get("type").and_then(Value::as_str) {
        Some("text") | None => {}
        Some("json_object") => {
            config.insert("responseMimeType".into(), json!("application/json"));
        }
        Some("json_schema") => {
            config.insert("responseMimeType".into(), json!("application/json"));
            if let Some(schema) = value.get("json_schema").and_then(|s| s.get("schema")) {
                config.insert("responseJsonSchema".into(), schema.clone());
            }
        }
        Some(other) => {
            return Err(TranslateError::new(format!(
                "response_format type `{other}` is not one of text, json_object, json_schema"
            ))
            .with_param("response_format"));
        }
    }
    Ok(())
}

/// Gemini's turns: `parts`, `model` for the assistant, `functionCall` / `functionResponse`
/// parts. A `functionResponse` names the function it answers, so the names of the calls seen
/// so far are kept (tool_call_id -> function name).
#[derive(Default)]
struct Turns {
    call_names: Vec<(String, String)>,
}

impl TurnFormat for Turns {
    const PROVIDER: &'static str = "gemini";
    const ASSISTANT: &'static str = "model";
    const BLOCKS: &'static str = "parts";

    fn content(&mut self, content: Value, param: &str) -> Result<Vec<Value>, TranslateError> {
        parts_of(content, param)
    }

    fn tool_call(&mut self, call: &Value, function: &Value, arguments: Value) -> Value {
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some(id) = call.get("id").and_then(Value::as_str) {
            self.call_names.push((id.to_string(), name.clone()));
        }
        json!({"functionCall": {"name": name, "args": arguments}})
    }

    fn tool_result(
        &mut self,
        m: &Map<String, Value>,
        content: Value,
        param: &str,
    ) -> Result<Value, TranslateError> {
        let name = m
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                let id = m.get("tool_call_id").and_then(Value::as_str)?;
                self.call_names
                    .iter()
                    .find(|(c, _)| c == id)
                    .map(|(_, n)| n.clone())
            })
            .ok_or_else(|| {
                TranslateError::new(
                    "a tool message must answer a tool call of an earlier assistant message (tool_call_id) or carry its `name`",
                )
                .with_param(format!("{param}.tool_call_id"))
            })?;
        let text = turns::tool_result_text(&content);
        // Gemini wants an object: a JSON object result as it is, anything else wrapped.
        let response = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(o)) => Value::Object(o),
            _ => json!({"content": text}),
        };
        Ok(json!({"functionResponse": {"name": name, "response": response}}))
    }
}

/// OpenAI message content -> Gemini parts.
fn parts_of(content: Value, param: &str) -> Result<Vec<Value>, TranslateError> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![json!({"text": s})]),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (k, part) in items.into_iter().enumerate() {
                let kind = part.get("type").and_then(Value::as_str).unwrap_or("text");
                let converted = match kind {
                    "text" => match part.get("text").and_then(Value::as_str) {
                        Some(t) if !t.is_empty() => json!({"text": t}),
                        _ => continue,
                    },
                    "image_url" => {
                        let url = turns::image_url(&part);
                        let mime = part
                            .get("image_url")
                            .and_then(|i| i.get("format"))
                            .and_then(Value::as_str);
                        media_part(url, mime)
                    }
                    "input_audio" => {
                        let audio = part.get("input_audio").unwrap_or(&Value::Null);
                        let format = audio.get("format").and_then(Value::as_str).unwrap_or("wav");
                        json!({"inlineData": {
                            "mimeType": format!("audio/{format}"),
                            "data": audio.get("data").cloned().unwrap_or(Value::Null),
                        }})
                    }
                    "file" => {
                        let file = part.get("file").unwrap_or(&Value::Null);
                        let url = file
                            .get("file_data")
                            .or_else(|| file.get("file_id"))
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        media_part(url, file.get("format").and_then(Value::as_str))
                    }
                    other => {
                        return Err(TranslateError::new(format!(
                            "content part type `{other}` is not supported by gemini"
                        ))
                        .with_param(format!("{param}.content[{k}].type")));
                    }
                };
                out.push(converted);
            }
            Ok(out)
        }
        _ => Err(
            TranslateError::new("message content must be a string or a list of parts")
                .with_param(format!("{param}.content")),
        ),
    }
}

/// A `data:` URL -> `inlineData`; any other URL (Files API, `gs://`, `https://`) -> `fileData`.
fn media_part(url: &str, mime: Option<&str>) -> Value {
    match parse_data_url(url) {
        Some((media_type, data)) => {
            json!({"inlineData": {"mimeType": media_type, "data": data}})
        }
        None => {
            let mime = mime.unwrap_or_else(|| mime_from_extension(url));
            json!({"fileData": {"mimeType": mime, "fileUri": url}})
        }
    }
}

fn mime_from_extension(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    let ext = path.rsplit('.').next().unwrap_or("");
    match ext {
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "pdf" => "application/pdf",
        "mp3" => "audio/mp3",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "txt" => "text/plain",
        _ => "image/jpeg",
    }
}

fn convert_tools(tools: Value) -> Result<Option<Value>, TranslateError> {
    let tools = turns::tools_list(tools)?;
    let mut declarations = Vec::new();
    let mut native = Vec::new();
    for (i, tool) in tools.into_iter().enumerate() {
        let Some(function) = tool.get("function") else {
            // A Gemini tool already (googleSearch, codeExecution, ...): as it is.
            if tool.is_object() && tool.get("type").is_none() {
                native.push(tool);
                continue;
            }
            return Err(TranslateError::new(format!(
                "tool type `{}` is not supported by gemini",
                tool.get("type").and_then(Value::as_str).unwrap_or("?")
            ))
            .with_param(format!("tools[{i}]")));
        };
        let mut declaration = turns::function_declaration(function);
        if let Some(parameters) = function.get("parameters") {
            let schema = clean_schema(parameters);
            let empty = schema
                .get("properties")
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty);
            if !empty {
                declaration.insert("parameters".into(), schema);
            }
        }
        declarations.push(Value::Object(declaration));
    }
    let mut out = Vec::new();
    if !declarations.is_empty() {
        out.push(json!({"functionDeclarations": declarations}));
    }
    out.extend(native);
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// Gemini's `parameters` is an OpenAPI subset: it refuses JSON Schema's `$schema`,
/// `additionalProperties` and `strict`. They are removed at any depth.
fn clean_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "$schema" | "additionalProperties" | "strict")
                })
                .map(|(k, v)| {
                    // `properties` maps names to schemas: clean the schemas, keep every name.
                    let cleaned = if k == "properties" {
                        match v {
                            Value::Object(props) => Value::Object(
                                props
                                    .iter()
                                    .map(|(name, s)| (name.clone(), clean_schema(s)))
                                    .collect(),
                            ),
                            other => other.clone(),
                        }
                    } else {
                        clean_schema(v)
                    };
                    (k.clone(), cleaned)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(clean_schema).collect()),
        other => other.clone(),
    }
}

fn convert_tool_choice(choice: &Value) -> Result<Value, TranslateError> {
    let config = match turns::tool_choice(choice)? {
        Some(ToolChoice::Auto) => json!({"mode": "AUTO"}),
        Some(ToolChoice::Any) => json!({"mode": "ANY"}),
        Some(ToolChoice::None) => json!({"mode": "NONE"}),
        Some(ToolChoice::Function(name)) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        Some(ToolChoice::Other(_)) => {
            return Err(TranslateError::new(
                "tool_choice must name a function: {\"type\": \"function\", \"function\": {\"name\": ...}}",
            )
            .with_param("tool_choice"));
        }
        None => {
            return Err(
                TranslateError::new("tool_choice must be a string or an object")
                    .with_param("tool_choice"),
            );
        }
    };
    Ok(json!({"functionCallingConfig": config}))
}

/// Gemini `finishReason` -> OpenAI `finish_reason` (a candidate with function calls finishes
/// with `tool_calls`, whatever Gemini says).
pub fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY"
        | "LANGUAGE" => "content_filter",
        _ => "stop",
    }
}

/// Gemini `usageMetadata` -> OpenAI usage: thinking tokens are completion tokens (they are
/// billed as output), cached content tokens are the cached part of the prompt.
pub fn usage_of(u: &Value) -> Usage {
    let cached = u.get("cachedContentTokenCount").and_then(Value::as_u64);
    usage(
        u64_at(u, "promptTokenCount") + u64_at(u, "toolUsePromptTokenCount"),
        u64_at(u, "candidatesTokenCount") + u64_at(u, "thoughtsTokenCount"),
        cached,
        None,
    )
}

/// The `usage` JSON of a Gemini answer, with `reasoning_tokens` when the model thought.
pub(crate) fn usage_value(u: &Value) -> (Usage, Value) {
    let parsed = usage_of(u);
    let mut value = usage_json(&parsed);
    if let Some(thoughts) = u.get("thoughtsTokenCount").and_then(Value::as_u64) {
        value["completion_tokens_details"] = json!({"reasoning_tokens": thoughts});
    }
    (parsed, value)
}

/// A new tool call id (Gemini's function calls have none).
pub(crate) fn call_id() -> String {
    format!("call_{}", uuid::Uuid::new_v4().simple())
}

/// The parts of one candidate -> (text, reasoning, tool calls).
pub(crate) fn read_parts(content: &Value) -> (String, String, Vec<Value>) {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for part in content
        .get("parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(call) = part.get("functionCall") {
            calls.push(tool_call(
                json!(
                    call.get("id")
                        .and_then(Value::as_str)
                        .map_or_else(call_id, str::to_string)
                ),
                call.get("name").cloned().unwrap_or(Value::Null),
                call.get("args"),
            ));
        } else if let Some(t) = part.get("text").and_then(Value::as_str) {
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                reasoning.push_str(t);
            } else {
                text.push_str(t);
            }
        }
    }
    (text, reasoning, calls)
}

/// A `GenerateContentResponse` -> a `chat.completion`, and its usage.
pub fn response(body: &[u8], model: &str) -> Result<(Value, Usage), TranslateError> {
    let answer = response_object(body)?;
    let mut choices = Vec::new();
    for (i, candidate) in answer
        .get("candidates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let (text, reasoning, calls) = read_parts(candidate.get("content").unwrap_or(&Value::Null));
        let mut message = assistant_message(text, &calls);
        if !reasoning.is_empty() {
            message["reasoning_content"] = json!(reasoning);
        }
        let finish = if calls.is_empty() {
            finish_reason(
                candidate
                    .get("finishReason")
                    .and_then(Value::as_str)
                    .unwrap_or("STOP"),
            )
        } else {
            message["tool_calls"] = Value::Array(calls);
            "tool_calls"
        };
        choices.push(json!({
            "index": candidate.get("index").and_then(Value::as_u64).unwrap_or(i as u64),
            "message": message,
            "logprobs": null,
            "finish_reason": finish,
        }));
    }
    if choices.is_empty() {
        // The prompt itself was blocked (`promptFeedback.blockReason`): no candidates.
        choices.push(json!({
            "index": 0,
            "message": {"role": "assistant", "content": null},
            "logprobs": null,
            "finish_reason": "content_filter",
        }));
    }
    let (usage, usage_value) = usage_value(answer.get("usageMetadata").unwrap_or(&Value::Null));
    let id = answer
        .get("responseId")
        .and_then(Value::as_str)
        .map_or_else(
            || format!("chatcmpl-{}", uuid::Uuid::new_v4()),
            str::to_string,
        );
    let out = chat_completion(
        json!(id),
        json!(
            answer
                .get("modelVersion")
                .and_then(Value::as_str)
                .unwrap_or(model)
        ),
        Value::Array(choices),
        usage_value,
    );
    Ok((out, usage))
}

#[cfg(test)]
#[path = "gemini_tests.rs"]
mod tests;
