//! Streams and the cache: a streamed answer is assembled into the response a non-streamed call
//! would have got (so both share the entry), and a cached response is replayed as a stream.

use bytes::Bytes;
use haimaker_openai::SseEvent;
use serde_json::{Map, Value, json};

use super::super::route::CallType;

/// One choice being assembled from its deltas.
#[derive(Default)]
struct Choice {
    role: Option<Value>,
    content: Option<String>,
    reasoning_content: Option<String>,
    refusal: Option<String>,
    /// By the tool call's `index`: (id, type, function name, arguments).
    tool_calls: Vec<(u64, ToolCall)>,
    function_call: Option<ToolCall>,
    finish_reason: Value,
    /// Text completions.
    text: Option<String>,
}

#[derive(Default)]
struct ToolCall {
    id: Option<Value>,
    kind: Option<Value>,
    name: String,
    arguments: String,
}

impl ToolCall {
    fn absorb(&mut self, delta: &Map<String, Value>) {
        if let Some(id) = delta.get("id").filter(|v| !v.is_null()) {
            self.id = Some(id.clone());
        }
        if let Some(kind) = delta.get("type").filter(|v| !v.is_null()) {
            self.kind = Some(kind.clone());
        }
        // Chat tool calls nest the function; legacy `function_call` deltas do not.
        let function = delta
            .get("function")
            .and_then(Value::as_object)
            .unwrap_or(delta);
        if let Some(name) = function.get("name").and_then(Value::as_str) {
            self.name.push_str(name);
        }
        if let Some(args) = function.get("arguments").and_then(Value::as_str) {
            self.arguments.push_str(args);
        }
    }
}

fn append(slot: &mut Option<String>, value: Option<&Value>) {
    if let Some(s) = value.and_then(Value::as_str) {
        slot.get_or_insert_with(String::new).push_str(s);
    }
}

impl Choice {
    fn absorb_chat(&mut self, delta: &Map<String, Value>) {
        if let Some(role) = delta.get("role").filter(|v| !v.is_null()) {
            self.role = Some(role.clone());
        }
        append(&mut self.content, delta.get("content"));
        append(&mut self.reasoning_content, delta.get("reasoning_content"));
        append(&mut self.refusal, delta.get("refusal"));
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for (position, call) in calls.iter().enumerate() {
                let Some(call) = call.as_object() else {
                    continue;
                };
                let index = call
                    .get("index")
                    .and_then(Value::as_u64)
                    .unwrap_or(position as u64);
                let slot = match self.tool_calls.iter().position(|(i, _)| *i == index) {
                    Some(at) => &mut self.tool_calls[at].1,
                    None => {
                        self.tool_calls.push((index, ToolCall::default()));
                        let last = self.tool_calls.len() - 1;
                        &mut self.tool_calls[last].1
                    }
                };
                slot.absorb(call);
            }
        }
        if let Some(call) = delta.get("function_call").and_then(Value::as_object) {
            self.function_call
                .get_or_insert_with(ToolCall::default)
                .absorb(call);
        }
    }

    /// Whether the choice says anything (LiteLLM does not cache answers without output).
    fn has_output(&self) -> bool {
        let some = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        some(&self.content)
            || some(&self.reasoning_content)
            || some(&self.refusal)
            || some(&self.text)
            || !self.tool_calls.is_empty()
            || self.function_call.is_some()
    }

    fn message(self) -> Value {
        let mut message = Map::new();
        message.insert(
            "role".into(),
            self.role.unwrap_or_else(|| Value::from("assistant")),
        );
        message.insert(
            "content".into(),
            self.content.map_or(Value::Null, Value::from),
        );
        if let Some(r) = self.reasoning_content {
            message.insert("reasoning_content".into(), Value::from(r));
        }
        if let Some(r) = self.refusal {
            message.insert("refusal".into(), Value::from(r));
        }
        if !self.tool_calls.is_empty() {
            let mut calls = self.tool_calls;
            calls.sort_by_key(|(i, _)| *i);
            let calls: Vec<Value> = calls
                .into_iter()
                .map(|(_, c)| {
                    json!({
                        "id": c.id.unwrap_or(Value::Null),
                        "type": c.kind.unwrap_or_else(|| Value::from("function")),
                        "function": {"name": c.name, "arguments": c.arguments},
                    })
                })
                .collect();
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        if let Some(c) = self.function_call {
            message.insert(
                "function_call".into(),
                json!({"name": c.name, "arguments": c.arguments}),
            );
        }
        Value::Object(message)
    }
}

/// The response a non-streamed call would have returned, from a completed stream's events;
/// `None` when the stream carried an error, no output, or no finish reason.
pub fn assemble(call: CallType, events: &[Bytes]) -> Option<Vec<u8>> {
    let chat = match call {
        CallType::Chat => true,
        CallType::Completion => false,
        CallType::Embedding | CallType::Messages => return None,
    };
    let mut head: Map<String, Value> = Map::new();
    let mut usage: Option<Value> = None;
    let mut choices: Vec<(u64, Choice)> = Vec::new();
    for raw in events {
        let event = SseEvent { raw: raw.clone() };
        let Some(data) = event.data() else {
            continue;
        };
        let Ok(Value::Object(chunk)) = serde_json::from_slice::<Value>(&data) else {
            continue;
        };
        if chunk.contains_key("error") {
            return None;
        }
        for field in ["id", "created", "model", "system_fingerprint"] {
            if let Some(v) = chunk.get(field).filter(|v| !v.is_null())
                && !head.contains_key(field)
            {
                head.insert(field.to_string(), v.clone());
            }
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            usage = Some(u.clone());
        }
        let Some(list) = chunk.get("choices").and_then(Value::as_array) else {
            continue;
        };
        for (position, choice) in list.iter().enumerate() {
            let Some(choice) = choice.as_object() else {
                continue;
            };
            let index = choice
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let acc = match choices.iter().position(|(i, _)| *i == index) {
                Some(at) => &mut choices[at].1,
                None => {
                    choices.push((index, Choice::default()));
                    let last = choices.len() - 1;
                    &mut choices[last].1
                }
            };
            if chat {
                if let Some(delta) = choice.get("delta").and_then(Value::as_object) {
                    acc.absorb_chat(delta);
                }
            } else {
                append(&mut acc.text, choice.get("text"));
            }
            if let Some(reason) = choice.get("finish_reason").filter(|v| !v.is_null()) {
                acc.finish_reason = reason.clone();
            }
        }
    }
    // No output, or no finish reason (a stream cut short that still closed cleanly): not kept.
    if !choices.iter().any(|(_, c)| c.has_output())
        || choices.iter().all(|(_, c)| c.finish_reason.is_null())
    {
        return None;
    }
    choices.sort_by_key(|(i, _)| *i);
    let choices: Vec<Value> = choices
        .into_iter()
        .map(|(index, c)| {
            let finish = c.finish_reason.clone();
            if chat {
                json!({"index": index, "message": c.message(), "logprobs": null, "finish_reason": finish})
            } else {
                json!({"index": index, "text": c.text.unwrap_or_default(), "logprobs": null, "finish_reason": finish})
            }
        })
        .collect();
    let mut out = Map::new();
    out.insert(
        "id".into(),
        head.remove("id").unwrap_or_else(|| Value::from("")),
    );
    out.insert(
        "object".into(),
        Value::from(if chat {
            "chat.completion"
        } else {
            "text_completion"
        }),
    );
    for field in ["created", "model", "system_fingerprint"] {
        if let Some(v) = head.remove(field) {
            out.insert(field.into(), v);
        }
    }
    out.insert("choices".into(), Value::Array(choices));
    if let Some(u) = usage {
        out.insert("usage".into(), u);
    }
    serde_json::to_vec(&Value::Object(out)).ok()
}

/// A cached chat or text completion as a complete SSE body: per choice one chunk with all of its
/// content, then the finish chunks, the usage chunk when the client asked for it, `[DONE]`.
/// `None` when the response has no choices to replay.
pub fn replay(call: CallType, response: &Value, include_usage: bool) -> Option<Bytes> {
    let chat = call == CallType::Chat;
    let choices = response.get("choices")?.as_array()?;
    if choices.is_empty() || call == CallType::Embedding {
        return None;
    }
    let object = if chat {
        "chat.completion.chunk"
    } else {
        "text_completion"
    };
    let mut base = Map::new();
    for field in ["id", "created", "model", "system_fingerprint"] {
        if let Some(v) = response.get(field) {
            base.insert(field.into(), v.clone());
        }
    }
    base.insert("object".into(), Value::from(object));
    let chunk = |choices: Vec<Value>| {
        let mut c = base.clone();
        c.insert("choices".into(), Value::Array(choices));
        Value::Object(c)
    };
    let mut out = Vec::new();
    let mut push = |value: &Value| {
        out.extend_from_slice(b"data: ");
        // A Value always serializes.
        let _ = serde_json::to_writer(&mut out, value);
        out.extend_from_slice(b"\n\n");
    };
    let mut finishes = Vec::with_capacity(choices.len());
    for (position, choice) in choices.iter().enumerate() {
        let index = choice
            .get("index")
            .cloned()
            .unwrap_or_else(|| Value::from(position));
        let finish = choice.get("finish_reason").cloned().unwrap_or(Value::Null);
        if chat {
            let mut delta = choice
                .get("message")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if let Some(Value::Array(calls)) = delta.get_mut("tool_calls") {
                for (i, call) in calls.iter_mut().enumerate() {
                    if let Value::Object(call) = call {
                        call.insert("index".into(), Value::from(i));
                    }
                }
            }
            push(&chunk(vec![json!({
                "index": index, "delta": delta, "logprobs": null, "finish_reason": null
            })]));
            finishes.push(
                json!({"index": index, "delta": {}, "logprobs": null, "finish_reason": finish}),
            );
        } else {
            let text = choice
                .get("text")
                .cloned()
                .unwrap_or_else(|| Value::from(""));
            push(&chunk(vec![json!({
                "index": index, "text": text, "logprobs": null, "finish_reason": null
            })]));
            finishes.push(
                json!({"index": index, "text": "", "logprobs": null, "finish_reason": finish}),
            );
        }
    }
    push(&chunk(finishes));
    if include_usage && let Some(usage) = response.get("usage") {
        let mut c = base.clone();
        c.insert("choices".into(), Value::Array(Vec::new()));
        c.insert("usage".into(), usage.clone());
        push(&Value::Object(c));
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn events(chunks: &[Value]) -> Vec<Bytes> {
        chunks
            .iter()
            .map(|c| Bytes::from(format!("data: {c}\n\n")))
            .collect()
    }

    #[test]
    fn a_chat_stream_becomes_a_chat_completion() {
        let stream = events(&[
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 5, "model": "m",
                   "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": null}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": null}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}),
        ]);
        let body: Value =
            serde_json::from_slice(&assemble(CallType::Chat, &stream).unwrap()).unwrap();
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["id"], "c1");
        assert_eq!(body["created"], 5);
        assert_eq!(body["choices"][0]["message"]["content"], "Hello");
        assert_eq!(body["choices"][0]["message"]["role"], "assistant");
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        assert_eq!(body["usage"]["total_tokens"], 5);
    }

    #[test]
    fn tool_call_deltas_are_merged() {
        let stream = events(&[
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
                {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_", "arguments": ""}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "function": {"name": "weather", "arguments": "{\"city\":"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "function": {"arguments": "\"Paris\"}"}}]}, "finish_reason": "tool_calls"}]}),
        ]);
        let body: Value =
            serde_json::from_slice(&assemble(CallType::Chat, &stream).unwrap()).unwrap();
        let call = &body["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["id"], "call_1");
        assert_eq!(call["function"]["name"], "get_weather");
        assert_eq!(call["function"]["arguments"], "{\"city\":\"Paris\"}");
        assert_eq!(body["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn errors_and_empty_streams_are_not_assembled() {
        let error = events(&[
            json!({"choices": [{"index": 0, "delta": {"content": "x"}}]}),
            json!({"error": {"message": "boom"}}),
        ]);
        assert!(assemble(CallType::Chat, &error).is_none());
        let empty = events(&[
            json!({"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": "stop"}]}),
        ]);
        assert!(assemble(CallType::Chat, &empty).is_none());
        let cut_short = events(&[json!({"choices": [{"index": 0, "delta": {"content": "half"}}]})]);
        assert!(assemble(CallType::Chat, &cut_short).is_none());
    }

    #[test]
    fn text_completion_streams_round_trip() {
        let stream = events(&[
            json!({"id": "t", "object": "text_completion", "choices": [{"index": 0, "text": "ab", "finish_reason": null}]}),
            json!({"id": "t", "object": "text_completion", "choices": [{"index": 0, "text": "c", "finish_reason": "length"}]}),
        ]);
        let body: Value =
            serde_json::from_slice(&assemble(CallType::Completion, &stream).unwrap()).unwrap();
        assert_eq!(body["object"], "text_completion");
        assert_eq!(body["choices"][0]["text"], "abc");
        let sse = replay(CallType::Completion, &body, false).unwrap();
        let text = std::str::from_utf8(&sse).unwrap();
        assert!(text.contains(r#""text":"abc""#), "{text}");
        assert!(text.contains(r#""finish_reason":"length""#), "{text}");
        assert!(text.ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn replay_then_assemble_gives_the_response_back() {
        let response = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 9, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi there",
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
        });
        let sse = replay(CallType::Chat, &response, true).unwrap();
        let text = std::str::from_utf8(&sse).unwrap();
        let chunks: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(chunks.len(), 4, "{text}");
        assert!(chunks[0].contains(r#""object":"chat.completion.chunk""#));
        assert!(chunks[2].contains(r#""usage""#));
        assert_eq!(chunks[3], "data: [DONE]");
        let events: Vec<Bytes> = chunks[..3]
            .iter()
            .map(|c| Bytes::from(format!("{c}\n\n")))
            .collect();
        let back: Value =
            serde_json::from_slice(&assemble(CallType::Chat, &events).unwrap()).unwrap();
        assert_eq!(back["choices"], response["choices"]);
        assert_eq!(back["usage"], response["usage"]);
        assert_eq!(back["id"], response["id"]);
        let without_usage = replay(CallType::Chat, &response, false).unwrap();
        assert!(
            !std::str::from_utf8(&without_usage)
                .unwrap()
                .contains("usage")
        );
    }
}
