//! What the provider tests (`providers_*.rs`) share: reading SSE bodies, the questions they
//! ask, and the checks every translated stream and every provider's fallback must pass.

use serde_json::{Value, json};

use crate::harness::{Gateway, MockUpstream, Resp, post, post_stream};

/// The JSON of every `data:` event but `[DONE]`.
pub fn data_events(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|e| e.trim().strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// Every event as (`event:` name, `data:` JSON); a missing part is empty / null.
pub fn named_events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = Value::Null;
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap();
                }
            }
            (name, data)
        })
        .collect()
}

/// `{"model": model, "messages": [{"role": "user", "content": "hi"}]}`.
pub fn ask(model: &str) -> String {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}).to_string()
}

/// `POST /v1/chat/completions`.
pub async fn chat(gw: &Gateway, headers: &[(&str, &str)], body: impl Into<String>) -> Resp {
    post(&gw.url("/v1/chat/completions"), headers, body.into()).await
}

/// A response with `status` and exactly this error message.
pub fn assert_error(resp: &Resp, status: u16, message: &str) {
    assert_eq!(resp.status, status, "{}", resp.text());
    assert_eq!(resp.error_message(), message);
}

/// `model` (deployed on the mock as `small-model`, with `context_window_fallbacks` to a
/// deployment on `big-model` that answers "from big") overflows its context window: the
/// answer comes from the fallback.
pub async fn assert_context_window_fallback(
    gw: &Gateway,
    mock: &MockUpstream,
    headers: &[(&str, &str)],
    model: &str,
) {
    let resp = chat(gw, headers, ask(model)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["choices"][0]["message"]["content"], "from big");
    assert_eq!(resp.header("x-litellm-attempted-fallbacks"), Some("1"));
    assert_eq!(mock.requests_for("small-model").len(), 1);
}

/// The concatenated `delta.content` of a stream's chunks.
pub fn streamed_content(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

/// Every `delta.tool_calls[0]` of a stream's chunks.
pub fn streamed_tool_calls(chunks: &[Value]) -> Vec<&Value> {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect()
}

/// The concatenated `function.arguments` of tool call deltas.
pub fn streamed_arguments(calls: &[&Value]) -> String {
    calls
        .iter()
        .filter_map(|c| c["function"]["arguments"].as_str())
        .collect()
}

/// Every `finish_reason` a stream's chunks set.
pub fn finish_reasons(chunks: &[Value]) -> Vec<&str> {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect()
}

/// The last chunk is the usage-only one, with these counts.
pub fn assert_usage_chunk(chunks: &[Value], prompt: u64, completion: u64) {
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], prompt);
    assert_eq!(usage["usage"]["completion_tokens"], completion);
}

/// `body` streamed without `stream_options.include_usage`: no usage-only chunk, then
/// `[DONE]`.
pub async fn assert_no_usage_chunk_by_default(
    gw: &Gateway,
    headers: &[(&str, &str)],
    mut body: Value,
) {
    body["stream"] = json!(true);
    let text = post_stream(&gw.url("/v1/chat/completions"), headers, body.to_string())
        .await
        .rest()
        .await;
    assert!(!text.contains("\"usage\""), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"));
}

/// The names of an Anthropic stream's events open with `message_start`, close with
/// `message_stop`, and no `[DONE]` follows.
pub fn assert_anthropic_event_sequence(text: &str, events: &[(String, Value)]) {
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"), "{text}");
    assert_eq!(names.last(), Some(&"message_stop"), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");
}

/// `x-litellm-response-cost` as a number.
pub fn response_cost(resp: &Resp) -> f64 {
    resp.header("x-litellm-response-cost")
        .unwrap()
        .parse()
        .unwrap()
}

/// A tool call's `function.arguments`, parsed.
pub fn call_arguments(call: &Value) -> Value {
    serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap()
}

/// An OpenAI chat request for `model` with a system message, text and a `data:` image, the
/// `get_weather` tool of the providers' tool-use documentation, `tool_choice`, `stop`,
/// `temperature` and `top_p`.
pub fn weather_request(model: &str) -> Value {
    json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "What's the weather here?"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}}
            ]}
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Get the current weather in a given location",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}
        }}],
        "tool_choice": "auto",
        "stop": ["\n\nHuman:"],
        "temperature": 0.3,
        "top_p": 0.9
    })
}
