#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::*;
use crate::StreamTranslator;
use crate::bedrock_stream::BedrockToOpenAi;
use crate::eventstream::encode;
use crate::test_util::{data_events, map};

#[test]
fn urls_encode_the_model_id() {
    assert_eq!(
        url(
            &default_endpoint("us-east-1"),
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            false
        ),
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    );
    assert_eq!(
        url(
            "http://vpce.local/",
            "arn:aws:bedrock:us-east-1:123:inference-profile/us.amazon.nova-pro-v1:0",
            true
        ),
        "http://vpce.local/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-profile%2Fus.amazon.nova-pro-v1%3A0/converse-stream"
    );
    assert_eq!(
        model_id("converse/amazon.nova-pro-v1:0"),
        "amazon.nova-pro-v1:0"
    );
}

#[test]
fn translates_system_images_tools_history_and_inference_config() {
    let body = map(json!({
        "model": "m",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "file", "file": {"filename": "report.v2.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}}
            ]},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "tooluse_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "tooluse_1", "content": "sunny"},
            {"role": "user", "content": "Thanks"}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "required",
        "max_tokens": 512, "temperature": 0.5, "top_p": 0.9, "stop": ["END"],
        "top_k": 40,
        "guardrailConfig": {"guardrailIdentifier": "g1", "guardrailVersion": "1"},
        "stream": true, "stream_options": {"include_usage": true}, "user": "u1"
    }));
    let out = request(body, "anthropic.claude-3-5-sonnet-20240620-v1:0", false).unwrap();
    assert_eq!(out["system"], json!([{"text": "You are terse."}]));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [
                {"text": "What is this?"},
                {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
                {"document": {"format": "pdf", "name": "report-v2", "source": {"bytes": "JVBERi0="}}}
            ]},
            {"role": "assistant", "content": [
                {"text": "Checking."},
                {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}
            ]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "sunny"}]}},
                {"text": "Thanks"}
            ]}
        ])
    );
    assert_eq!(
        out["inferenceConfig"],
        json!({"maxTokens": 512, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]})
    );
    assert_eq!(
        out["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather",
               "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}}}],
               "toolChoice": {"any": {}}})
    );
    assert_eq!(out["additionalModelRequestFields"], json!({"top_k": 40}));
    assert_eq!(out["guardrailConfig"]["guardrailIdentifier"], "g1");
    for gone in ["stream", "stream_options", "model", "user", "max_tokens"] {
        assert!(out.get(gone).is_none(), "{gone}");
    }
}

#[test]
fn bad_input_and_unsupported_params() {
    let e = request(
        map(json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/cat.png"}}]}]})),
        "m",
        false,
    )
    .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("messages[0].content[0]"));
    let body = || {
        map(
            json!({"messages": [{"role": "user", "content": "hi"}], "presence_penalty": 1, "seed": 3}),
        )
    };
    let e = request(body(), "m", false).unwrap_err();
    assert!(
        e.message
            .contains("bedrock does not support parameters: ['presence_penalty', 'seed']"),
        "{}",
        e.message
    );
    let out = request(body(), "m", true).unwrap();
    assert!(out.get("additionalModelRequestFields").is_none(), "{out}");
    let out = request(
        map(json!({"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "f"}}})),
        "m",
        false,
    )
    .unwrap();
    assert_eq!(
        out["toolConfig"]["toolChoice"],
        json!({"tool": {"name": "f"}})
    );
}

/// The Converse response of the API reference, with a tool use and cache usage.
#[test]
fn response_with_text_tool_use_and_usage() {
    let body = json!({
        "output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "Need weather.", "signature": "sig"}}},
            {"text": "I'll check."},
            {"toolUse": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "top_song", "input": {"sign": "WZPZ"}}}
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 375, "outputTokens": 84, "totalTokens": 459, "cacheReadInputTokens": 100, "cacheWriteInputTokens": 20},
        "metrics": {"latencyMs": 2134}
    });
    let (c, usage) = response(
        body.to_string().as_bytes(),
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
    )
    .unwrap();
    assert_eq!(c["model"], "anthropic.claude-3-5-sonnet-20240620-v1:0");
    assert!(c["id"].as_str().unwrap().starts_with("chatcmpl-"));
    let choice = &c["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "I'll check.");
    assert_eq!(choice["message"]["reasoning_content"], "Need weather.");
    assert_eq!(
        choice["message"]["tool_calls"][0],
        json!({"id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "type": "function",
               "function": {"name": "top_song", "arguments": "{\"sign\":\"WZPZ\"}"}})
    );
    assert_eq!(
        (
            usage.prompt(),
            usage.completion(),
            usage.cached(),
            usage.cache_creation()
        ),
        (495, 84, 100, 20)
    );
    for (reason, finish) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
    ] {
        assert_eq!(finish_reason(reason), finish);
    }
}

fn event(kind: &str, payload: Value) -> Vec<u8> {
    encode(
        &[
            (":event-type", kind),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// A ConverseStream body as the API reference describes it: text, then a tool use.
pub(crate) fn documented_stream() -> Vec<u8> {
    [
        event("messageStart", json!({"p": "abcdefghijk", "role": "assistant"})),
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": "Let me"}, "p": "abcd"})),
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": " check."}, "p": "abcdefg"})),
        event("contentBlockStop", json!({"contentBlockIndex": 0, "p": "ab"})),
        event("contentBlockStart", json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_abc", "name": "get_weather"}}, "p": "abc"})),
        event("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"city\":"}}, "p": "a"})),
        event("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": " \"Paris\"}"}}, "p": "abcde"})),
        event("contentBlockStop", json!({"contentBlockIndex": 1, "p": "abc"})),
        event("messageStop", json!({"stopReason": "tool_use", "p": "abcdefghijklmnop"})),
        event("metadata", json!({"usage": {"inputTokens": 420, "outputTokens": 61, "totalTokens": 481}, "metrics": {"latencyMs": 1410}, "p": "ab"})),
    ]
    .concat()
}

/// The events, with the id and creation time (which differ run by run) nulled.
fn parse(out: &[bytes::Bytes]) -> Vec<Value> {
    data_events(out)
        .into_iter()
        .map(|mut v| {
            if v.get("id").is_some() {
                v["id"] = Value::Null;
                v["created"] = Value::Null;
            }
            v
        })
        .collect()
}

#[test]
fn the_stream_translates_identically_at_every_cut() {
    let stream = documented_stream();
    let mut whole = BedrockToOpenAi::new("m");
    let mut out = Vec::new();
    whole.push(&stream, &mut out);
    whole.finish(&mut out);
    let expected = parse(&out);
    assert_eq!(expected.len(), 9, "{expected:?}");
    assert_eq!(
        expected[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(expected[1]["choices"][0]["delta"]["content"], "Let me");
    assert_eq!(expected[2]["choices"][0]["delta"]["content"], " check.");
    assert_eq!(
        expected[3]["choices"][0]["delta"]["tool_calls"][0],
        json!({"index": 0, "id": "tooluse_abc", "type": "function", "function": {"name": "get_weather", "arguments": ""}})
    );
    assert_eq!(
        expected[4]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
        "{\"city\":"
    );
    assert_eq!(expected[6]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(expected[7]["choices"], json!([]));
    assert_eq!(expected[7]["usage"]["prompt_tokens"], 420);
    assert_eq!(expected[7]["usage"]["completion_tokens"], 61);
    assert_eq!(expected[8], "[DONE]");
    assert_eq!(
        whole.usage().map(|u| (u.prompt(), u.completion())),
        Some((420, 61))
    );
    for cut in 0..=stream.len() {
        let mut t = BedrockToOpenAi::new("m");
        let mut out = Vec::new();
        t.push(&stream[..cut], &mut out);
        t.push(&stream[cut..], &mut out);
        t.finish(&mut out);
        assert_eq!(parse(&out), expected, "cut at {cut}");
    }
}

#[test]
fn exceptions_and_truncation_become_openai_error_events() {
    let mut stream = event("messageStart", json!({"role": "assistant"}));
    stream.extend(encode(
        &[
            (":exception-type", "throttlingException"),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        br#"{"message":"Too many requests, please wait before trying again."}"#,
    ));
    let mut t = BedrockToOpenAi::new("m");
    let mut out = Vec::new();
    t.push(&stream, &mut out);
    t.finish(&mut out);
    let events = parse(&out);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["error"]["code"], "429");
    assert_eq!(
        events[1]["error"]["message"],
        "litellm.RateLimitError: BedrockException - Too many requests, please wait before trying again."
    );

    let whole = event("messageStart", json!({"role": "assistant"}));
    let mut t = BedrockToOpenAi::new("m");
    let mut out = Vec::new();
    t.push(&whole[..whole.len() - 3], &mut out);
    t.finish(&mut out);
    let events = parse(&out);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["error"]["code"], "500");
}
