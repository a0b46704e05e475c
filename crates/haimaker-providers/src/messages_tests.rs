#![allow(clippy::unwrap_used)]
use super::*;

#[test]
fn anthropic_request_becomes_an_openai_chat_request() {
    let body = json!({
        "model": "group", "max_tokens": 1024, "stream": true,
        "system": [{"type": "text", "text": "be brief"}],
        "stop_sequences": ["END"], "temperature": 0.5, "top_k": 5,
        "metadata": {"user_id": "u-1"},
        "tools": [{"name": "get_weather", "description": "w", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}}
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "checking"},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
            ]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}]}]}
        ]
    });
    let out = request(body.as_object().unwrap().clone(), "gpt-4o").unwrap();
    assert_eq!(out["model"], "gpt-4o");
    assert_eq!(out["max_tokens"], 1024);
    assert_eq!(out["stop"], json!(["END"]));
    assert_eq!(out["user"], "u-1");
    assert!(out.get("top_k").is_none());
    assert_eq!(out["stream_options"], json!({"include_usage": true}));
    assert_eq!(out["tool_choice"], "required");
    assert_eq!(out["parallel_tool_calls"], false);
    assert_eq!(
        out["tools"][0],
        json!({"type": "function", "function": {"name": "get_weather", "description": "w", "parameters": {"type": "object"}}})
    );
    let m = out["messages"].as_array().unwrap();
    assert_eq!(m[0], json!({"role": "system", "content": "be brief"}));
    assert_eq!(
        m[1]["content"][1],
        json!({"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}})
    );
    assert_eq!(m[2]["content"], "checking");
    assert_eq!(
        m[2]["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"Paris\"}"
    );
    assert_eq!(
        m[3],
        json!({"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"})
    );
    let e = request(
        json!({"messages": [{"role": "system", "content": "x"}]})
            .as_object()
            .unwrap()
            .clone(),
        "m",
    )
    .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("messages[0].role"));
}

#[test]
fn chat_completion_becomes_an_anthropic_message() {
    let completion = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "ok",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16, "prompt_tokens_details": {"cached_tokens": 2}}
    });
    let m = response(&completion);
    assert_eq!(m["type"], "message");
    assert_eq!(m["role"], "assistant");
    assert_eq!(m["content"][0], json!({"type": "text", "text": "ok"}));
    assert_eq!(
        m["content"][1],
        json!({"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}})
    );
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(m["usage"]["input_tokens"], 10);
    assert_eq!(m["usage"]["cache_read_input_tokens"], 2);
    assert_eq!(m["usage"]["output_tokens"], 4);
}
