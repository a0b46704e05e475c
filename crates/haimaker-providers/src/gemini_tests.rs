#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::*;
use crate::StreamTranslator;
use crate::gemini_stream::GeminiToOpenAi;
use crate::test_util::{data_events as parse, map};

#[test]
fn urls_for_calls_and_streams() {
    assert_eq!(
        url(DEFAULT_API_BASE, "gemini-2.0-flash", false),
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent"
    );
    assert_eq!(
        url("http://proxy/v1beta/", "gemini-2.0-flash", true),
        "http://proxy/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(
        url("http://proxy/v1beta/models", "models/gemini-pro", false),
        "http://proxy/v1beta/models/gemini-pro:generateContent"
    );
}

#[test]
fn translates_system_parts_tools_history_and_generation_config() {
    let body = map(json!({
        "model": "g",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this picture, and the weather?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp"}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\": \"Boston\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": ""}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temperature\": 21}"},
            {"role": "tool", "tool_call_id": "call_2", "content": "noon"}
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Weather of a place",
            "parameters": {"type": "object", "$schema": "http://json-schema.org/draft-07/schema#",
                           "additionalProperties": false,
                           "properties": {"location": {"type": "string"}, "strict": {"type": "boolean"}},
                           "required": ["location"]}
        }}, {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "temperature": 0.2, "top_p": 0.8, "max_tokens": 100, "stop": "END", "n": 2,
        "presence_penalty": 0.1, "frequency_penalty": 0.2, "seed": 7,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        "reasoning_effort": "low",
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "stream": true, "stream_options": {"include_usage": true}
    }));
    let out = request(body, "gemini-2.5-flash", false).unwrap();
    assert_eq!(
        out["systemInstruction"],
        json!({"parts": [{"text": "You are terse."}]})
    );
    assert_eq!(
        out["contents"],
        json!([
            {"role": "user", "parts": [
                {"text": "What is in this picture, and the weather?"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp"}}
            ]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"location": "Boston"}}},
                {"functionCall": {"name": "get_time", "args": {}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temperature": 21}}},
                {"functionResponse": {"name": "get_time", "response": {"content": "noon"}}}
            ]}
        ])
    );
    assert_eq!(
        out["tools"],
        json!([{"functionDeclarations": [
            {"name": "get_weather", "description": "Weather of a place",
             "parameters": {"type": "object", "properties": {"location": {"type": "string"}, "strict": {"type": "boolean"}}, "required": ["location"]}},
            {"name": "get_time"}
        ]}])
    );
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}})
    );
    assert_eq!(
        out["generationConfig"],
        json!({
            "temperature": 0.2, "topP": 0.8, "maxOutputTokens": 100, "stopSequences": ["END"],
            "candidateCount": 2, "presencePenalty": 0.1, "frequencyPenalty": 0.2, "seed": 7,
            "responseMimeType": "application/json", "responseJsonSchema": {"type": "object"},
            "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}
        })
    );
    assert_eq!(out["safetySettings"][0]["threshold"], "BLOCK_NONE");
    for gone in ["stream", "stream_options", "model", "messages"] {
        assert!(out.get(gone).is_none(), "{gone}");
    }
}

#[test]
fn tool_choice_modes_and_errors() {
    let ask = |choice: Value| {
        request(
            map(json!({"messages": [{"role": "user", "content": "hi"}], "tool_choice": choice})),
            "g",
            false,
        )
    };
    assert_eq!(
        ask(json!("auto")).unwrap()["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
    assert_eq!(
        ask(json!("required")).unwrap()["toolConfig"]["functionCallingConfig"]["mode"],
        "ANY"
    );
    assert_eq!(
        ask(json!("none")).unwrap()["toolConfig"]["functionCallingConfig"]["mode"],
        "NONE"
    );
    assert_eq!(
        ask(json!("sometimes")).unwrap_err().param.as_deref(),
        Some("tool_choice")
    );
    let e = request(
        map(json!({"messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]})),
        "g",
        false,
    )
    .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("messages[0].tool_call_id"));
    let e = request(map(json!({"messages": []})), "g", false).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("messages"));
}

#[test]
fn unsupported_params_fail_or_drop() {
    let body = || {
        map(
            json!({"messages": [{"role": "user", "content": "hi"}], "logprobs": true, "logit_bias": {"1": 2}}),
        )
    };
    let e = request(body(), "gemini-2.0-flash", false).unwrap_err();
    assert!(
        e.message
            .contains("gemini does not support parameters: ['logit_bias', 'logprobs']"),
        "{}",
        e.message
    );
    let out = request(body(), "gemini-2.0-flash", true).unwrap();
    assert!(out.get("logprobs").is_none() && out.get("logit_bias").is_none());
}

/// The function-calling response of the Gemini documentation, with usage and thinking.
#[test]
fn response_with_text_thoughts_function_calls_and_usage() {
    let body = json!({
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "Let me think.", "thought": true},
                {"text": "Checking."},
                {"functionCall": {"name": "get_weather", "args": {"location": "Boston"}}}
            ]},
            "finishReason": "STOP", "index": 0
        }],
        "usageMetadata": {"promptTokenCount": 70, "candidatesTokenCount": 20, "thoughtsTokenCount": 10,
                          "cachedContentTokenCount": 32, "totalTokenCount": 100},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1"
    });
    let (c, usage) = response(body.to_string().as_bytes(), "gemini-2.5-flash").unwrap();
    assert_eq!(c["object"], "chat.completion");
    assert_eq!(c["id"], "resp-1");
    assert_eq!(c["model"], "gemini-2.5-flash");
    let choice = &c["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "Checking.");
    assert_eq!(choice["message"]["reasoning_content"], "Let me think.");
    let call = &choice["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], "{\"location\":\"Boston\"}");
    assert_eq!(
        (usage.prompt(), usage.completion(), usage.cached()),
        (70, 30, 32)
    );
    assert_eq!(c["usage"]["total_tokens"], 100);
    assert_eq!(
        c["usage"]["completion_tokens_details"]["reasoning_tokens"],
        10
    );
}

#[test]
fn finish_reasons_and_blocked_prompts() {
    for (gemini, openai) in [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("OTHER", "stop"),
    ] {
        let body = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": gemini}]});
        let (c, _) = response(body.to_string().as_bytes(), "g").unwrap();
        assert_eq!(c["choices"][0]["finish_reason"], openai, "{gemini}");
    }
    let blocked = json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}});
    let (c, usage) = response(blocked.to_string().as_bytes(), "g").unwrap();
    assert_eq!(c["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(usage.prompt(), 8);
    assert!(response(b"[1]", "g").is_err());
}

/// A `streamGenerateContent?alt=sse` body as the documentation shows it (CRLF-separated).
pub(crate) const STREAM: &str = concat!(
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The sky\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"totalTokenCount\": 9},\"modelVersion\": \"gemini-2.0-flash\",\"responseId\": \"r-1\"}\r\n\r\n",
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" is blue.\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"candidatesTokenCount\": 4,\"totalTokenCount\": 13},\"modelVersion\": \"gemini-2.0-flash\",\"responseId\": \"r-1\"}\r\n\r\n",
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"get_weather\",\"args\": {\"location\": \"Paris\"}}}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"candidatesTokenCount\": 12,\"totalTokenCount\": 21},\"modelVersion\": \"gemini-2.0-flash\",\"responseId\": \"r-1\"}\r\n\r\n",
);

#[test]
fn the_stream_translates_identically_whatever_the_cuts() {
    let mut whole = GeminiToOpenAi::new("gemini-2.0-flash");
    let mut expected = Vec::new();
    whole.push(STREAM.as_bytes(), &mut expected);
    whole.finish(&mut expected);
    let expected = parse(&expected);
    assert_eq!(expected.len(), 6, "{expected:?}");
    assert_eq!(expected[0]["id"], "r-1");
    assert_eq!(expected[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(expected[0]["choices"][0]["delta"]["content"], "The sky");
    assert_eq!(expected[1]["choices"][0]["delta"]["content"], " is blue.");
    let call = &expected[2]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(call["index"], 0);
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], "{\"location\":\"Paris\"}");
    assert_eq!(expected[3]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(expected[4]["choices"], json!([]));
    assert_eq!(expected[4]["usage"]["prompt_tokens"], 9);
    assert_eq!(expected[4]["usage"]["completion_tokens"], 12);
    assert_eq!(expected[5], "[DONE]");
    assert_eq!(
        whole.usage().map(|u| (u.prompt(), u.completion())),
        Some((9, 12))
    );

    let strip_ids = |mut v: Vec<Value>| {
        for c in &mut v {
            if let Some(call) = c.pointer_mut("/choices/0/delta/tool_calls/0") {
                call["id"] = Value::Null;
            }
            if c.get("created").is_some() {
                c["created"] = Value::Null;
            }
        }
        v
    };
    let expected = strip_ids(expected);
    for cut in 0..=STREAM.len() {
        let mut t = GeminiToOpenAi::new("gemini-2.0-flash");
        let mut out = Vec::new();
        let (a, b) = STREAM.as_bytes().split_at(cut);
        t.push(a, &mut out);
        t.push(b, &mut out);
        t.finish(&mut out);
        assert_eq!(strip_ids(parse(&out)), expected, "cut at {cut}");
    }
    // Byte by byte.
    let mut t = GeminiToOpenAi::new("gemini-2.0-flash");
    let mut out = Vec::new();
    for b in STREAM.as_bytes() {
        t.push(std::slice::from_ref(b), &mut out);
    }
    t.finish(&mut out);
    assert_eq!(strip_ids(parse(&out)), expected);
}

#[test]
fn an_error_chunk_becomes_an_openai_error_event() {
    let mut t = GeminiToOpenAi::new("g");
    let mut out = Vec::new();
    t.push(
        b"data: {\"error\": {\"code\": 429, \"message\": \"Resource has been exhausted (e.g. check quota).\", \"status\": \"RESOURCE_EXHAUSTED\"}}\r\n\r\n",
        &mut out,
    );
    t.finish(&mut out);
    let events = parse(&out);
    assert_eq!(events.len(), 1, "no [DONE] after an error: {events:?}");
    assert_eq!(events[0]["error"]["code"], "429");
    assert_eq!(
        events[0]["error"]["message"],
        "litellm.RateLimitError: GeminiException - Resource has been exhausted (e.g. check quota)."
    );
}
