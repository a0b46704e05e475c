#![allow(clippy::unwrap_used)]
use super::*;

fn req(v: Value) -> Result<Value, TranslateError> {
    request(crate::test_util::map(v), "claude-sonnet-4-5", false)
}

#[test]
fn system_images_tools_and_stop_are_translated() {
    let out = req(json!({
        "model": "group",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "user", "content": "thanks"}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "required",
        "parallel_tool_calls": false,
        "stop": "END",
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u-1",
        "stream": true,
        "stream_options": {"include_usage": true}
    }))
    .unwrap();
    assert_eq!(out["model"], "claude-sonnet-4-5");
    assert_eq!(out["system"], json!([{"type": "text", "text": "be brief"}]));
    assert_eq!(out["max_tokens"], DEFAULT_MAX_TOKENS);
    assert_eq!(out["stop_sequences"], json!(["END"]));
    assert_eq!(
        (out["temperature"].as_f64(), out["top_p"].as_f64()),
        (Some(0.2), Some(0.9))
    );
    assert_eq!(out["metadata"], json!({"user_id": "u-1"}));
    assert_eq!(out["stream"], true);
    assert!(out.get("stream_options").is_none());
    assert_eq!(
        out["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    assert_eq!(
        out["tools"],
        json!([{"name": "get_weather", "description": "weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}])
    );
    let m = out["messages"].as_array().unwrap();
    assert_eq!(
        m.len(),
        3,
        "tool result and the next user turn merge: {m:?}"
    );
    assert_eq!(
        m[0]["content"][1],
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}})
    );
    assert_eq!(
        m[0]["content"][2],
        json!({"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}})
    );
    assert_eq!(
        m[1],
        json!({"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}]})
    );
    assert_eq!(
        m[2],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
            {"type": "text", "text": "thanks"}
        ]})
    );
}

#[test]
fn max_tokens_named_tool_choice_and_bad_input() {
    let out = req(
        json!({"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 50,
                         "tool_choice": {"type": "function", "function": {"name": "f"}}}),
    )
    .unwrap();
    assert_eq!(out["max_tokens"], 50);
    assert_eq!(out["tool_choice"], json!({"type": "tool", "name": "f"}));
    let e = req(json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "x", "function": {"name": "f", "arguments": "{nope"}}]}]})).unwrap_err();
    assert_eq!(
        e.param.as_deref(),
        Some("messages[0].tool_calls[0].function.arguments")
    );
    let e = req(json!({"messages": "hi"})).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("messages"));
    let e = req(json!({"messages": [{"role": "user", "content": "hi"}], "logprobs": true}))
        .unwrap_err();
    assert!(
        e.message.contains("UnsupportedParamsError"),
        "{}",
        e.message
    );
}

#[test]
fn urls() {
    assert_eq!(
        url("https://api.anthropic.com"),
        "https://api.anthropic.com/v1/messages"
    );
    assert_eq!(url("http://h/v1/"), "http://h/v1/messages");
    assert_eq!(url("http://h/v1/messages"), "http://h/v1/messages");
}

#[test]
fn response_with_text_tool_use_and_cache_usage() {
    // The shape of the Messages API documentation's tool-use response.
    let body = json!({
        "id": "msg_01Aq9w938a90dw8q", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
            {"type": "text", "text": "I'll check."},
            {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"location": "San Francisco, CA"}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 100, "output_tokens": 30, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 50}
    });
    let (out, usage) = response(body.to_string().as_bytes()).unwrap();
    assert_eq!(out["object"], "chat.completion");
    assert_eq!(out["id"], "msg_01Aq9w938a90dw8q");
    let choice = &out["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "I'll check.");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["id"], "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"location": "San Francisco, CA"})
    );
    assert_eq!(
        (
            usage.prompt(),
            usage.completion(),
            usage.cached(),
            usage.cache_creation()
        ),
        (170, 30, 50, 20)
    );
    assert_eq!(out["usage"]["prompt_tokens"], 170);
    assert_eq!(out["usage"]["total_tokens"], 200);
    assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 50);
    assert_eq!(out["usage"]["cache_creation_input_tokens"], 20);
    for (stop, finish) in [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("refusal", "content_filter"),
    ] {
        assert_eq!(finish_reason(stop), finish);
    }
    assert!(response(b"<html>").is_err());
}
