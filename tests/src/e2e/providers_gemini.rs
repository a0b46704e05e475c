//! `gemini/<model>` (Google AI Studio): OpenAI chat requests translated to `generateContent`,
//! answers and `streamGenerateContent?alt=sse` streams translated back, errors mapped, and
//! `/v1/messages` through the same translation. The mock checks every request against the
//! Gemini API documentation (ai.google.dev: "Generating content", "Function calling", "API
//! keys") and answers with bodies written from it.

use serde_json::{Value, json};

use super::providers_common::{
    ask, assert_anthropic_event_sequence, assert_context_window_fallback, assert_error,
    assert_no_usage_chunk_by_default, assert_usage_chunk, call_arguments, chat, data_events,
    finish_reasons, named_events, response_cost, streamed_content, streamed_tool_calls,
    weather_request,
};
use crate::harness::{Gateway, MockUpstream, Reply, post, post_stream};

const MODEL: &str = "gemini-2.0-flash";

fn config(mock: &MockUpstream, extra: &str) -> String {
    format!(
        r#"
model_list:
  - model_name: gemini
    litellm_params:
      model: gemini/{MODEL}
      api_base: {base}/v1beta
      api_key: AIza-test-key
  - model_name: gemini-env-key
    litellm_params:
      model: gemini/env-key-model
      api_base: {base}/v1beta
  - model_name: gemini-limited
    litellm_params:
      model: gemini/limited-model
      api_base: {base}/v1beta
      api_key: AIza-test-key
  - model_name: gemini-bad-key
    litellm_params:
      model: gemini/bad-key-model
      api_base: {base}/v1beta
      api_key: AIza-wrong
  - model_name: gemini-small
    litellm_params:
      model: gemini/small-model
      api_base: {base}/v1beta
      api_key: AIza-test-key
  - model_name: gemini-lenient
    litellm_params:
      model: gemini/lenient-model
      api_base: {base}/v1beta
      api_key: AIza-test-key
      drop_params: true
  - model_name: big
    litellm_params:
      model: openai/big-model
      api_base: {base}
      api_key: sk-openai
general_settings:
  master_key: sk-gemini-master
router_settings:
  num_retries: 0
  context_window_fallbacks: [{{"gemini-small": ["big"]}}]
{extra}"#,
        base = mock.url()
    )
}

const AUTH: (&str, &str) = ("authorization", "Bearer sk-gemini-master");

/// The function-calling answer of the Gemini documentation, with text and usage.
fn function_call_answer() -> Value {
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "Let me check."},
                {"functionCall": {"name": "get_weather", "args": {"location": "San Francisco, CA"}}}
            ]},
            "finishReason": "STOP",
            "index": 0,
            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]
        }],
        "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 30, "totalTokenCount": 150},
        "modelVersion": MODEL,
        "responseId": "mPzsaKq3Ia2WkdUP-Ny4oQs"
    })
}

fn text_answer(text: &str) -> Value {
    json!({
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 4, "totalTokenCount": 12},
        "modelVersion": MODEL
    })
}

fn openai_request(model: &str) -> Value {
    let mut body = weather_request(model);
    body["tools"][0]["function"]["parameters"]["additionalProperties"] = json!(false);
    body["max_tokens"] = json!(256);
    body
}

/// A `streamGenerateContent?alt=sse` body: text in two events, then a function call with the
/// finish reason and the final usage.
fn documented_stream() -> Vec<String> {
    let event = |v: Value| format!("data: {v}\r\n\r\n");
    vec![
        event(
            json!({"candidates": [{"content": {"parts": [{"text": "Okay, let's check"}], "role": "model"}, "index": 0}],
                     "usageMetadata": {"promptTokenCount": 472, "totalTokenCount": 472}, "modelVersion": MODEL, "responseId": "r-stream"}),
        ),
        event(
            json!({"candidates": [{"content": {"parts": [{"text": " the weather."}], "role": "model"}, "index": 0}],
                     "usageMetadata": {"promptTokenCount": 472, "candidatesTokenCount": 8, "totalTokenCount": 480}, "modelVersion": MODEL, "responseId": "r-stream"}),
        ),
        event(
            json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather", "args": {"location": "San Francisco, CA"}}}], "role": "model"},
                                     "finishReason": "STOP", "index": 0}],
                     "usageMetadata": {"promptTokenCount": 472, "candidatesTokenCount": 89, "totalTokenCount": 561}, "modelVersion": MODEL, "responseId": "r-stream"}),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_chat_is_translated_to_generate_content_and_back() {
    let mock = MockUpstream::start().await;
    mock.on(MODEL, Reply::json(200, function_call_answer()));
    let gw = Gateway::start(&config(&mock, ""));
    let resp = chat(&gw, &[AUTH], openai_request("gemini").to_string()).await;
    assert_eq!(resp.status, 200, "{}", resp.text());

    let r = mock.requests_for(MODEL).pop().unwrap();
    assert_eq!(r.path, format!("/v1beta/models/{MODEL}:generateContent"));
    assert_eq!(r.query, None, "the key goes in a header, never in the URL");
    assert_eq!(r.headers["x-goog-api-key"], "AIza-test-key");
    assert_eq!(r.headers["content-type"], "application/json");
    assert!(r.headers.get("authorization").is_none());
    let b = &r.body;
    assert_eq!(
        b["systemInstruction"],
        json!({"parts": [{"text": "You are terse."}]})
    );
    assert_eq!(
        b["contents"],
        json!([{"role": "user", "parts": [
            {"text": "What's the weather here?"},
            {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQSkZJRg=="}}
        ]}])
    );
    assert_eq!(
        b["tools"],
        json!([{"functionDeclarations": [{
            "name": "get_weather", "description": "Get the current weather in a given location",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}
        }]}])
    );
    assert_eq!(
        b["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
    assert_eq!(
        b["generationConfig"],
        json!({"stopSequences": ["\n\nHuman:"], "temperature": 0.3, "topP": 0.9, "maxOutputTokens": 256})
    );
    let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "contents",
            "systemInstruction",
            "tools",
            "toolConfig",
            "generationConfig"
        ]
    );

    let c = resp.json();
    assert_eq!(c["object"], "chat.completion");
    assert_eq!(c["id"], "mPzsaKq3Ia2WkdUP-Ny4oQs");
    assert_eq!(c["model"], MODEL);
    let choice = &c["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "Let me check.");
    let call = &choice["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"), "{call}");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        call_arguments(call),
        json!({"location": "San Francisco, CA"})
    );
    assert_eq!(
        c["usage"],
        json!({"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150})
    );
    // Cost from the bundled price map (`gemini/gemini-2.0-flash`: 1e-7 in, 4e-7 out).
    let cost = response_cost(&resp);
    assert!(
        (cost - (120.0 * 1e-7 + 30.0 * 4e-7)).abs() < 1e-12,
        "cost {cost}"
    );

    // A tool result goes back as a functionResponse named after the call it answers.
    mock.on(MODEL, Reply::json(200, text_answer("It is sunny.")));
    let mut follow_up = openai_request("gemini");
    follow_up["messages"].as_array_mut().unwrap().extend([
        c["choices"][0]["message"].clone(),
        json!({"role": "tool", "tool_call_id": call["id"], "content": "{\"forecast\": \"sunny\"}"}),
    ]);
    let resp = chat(&gw, &[AUTH], follow_up.to_string()).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["choices"][0]["finish_reason"], "stop");
    let r = mock.requests_for(MODEL).pop().unwrap();
    assert_eq!(
        r.body["contents"][1],
        json!({"role": "model", "parts": [
            {"text": "Let me check."},
            {"functionCall": {"name": "get_weather", "args": {"location": "San Francisco, CA"}}}
        ]})
    );
    assert_eq!(
        r.body["contents"][2],
        json!({"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"forecast": "sunny"}}}]})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_key_comes_from_gemini_api_key() {
    let mock = MockUpstream::start().await;
    mock.on("env-key-model", Reply::json(200, text_answer("hi")));
    let gw = Gateway::builder(&config(&mock, ""))
        .env("GEMINI_API_KEY", "AIza-from-env")
        .start();
    let resp = chat(
        &gw,
        &[AUTH],
        json!({"model": "gemini-env-key", "messages": [{"role": "user", "content": "hi"}]})
            .to_string(),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let r = mock.requests_for("env-key-model").pop().unwrap();
    assert_eq!(r.headers["x-goog-api-key"], "AIza-from-env");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_becomes_chat_completion_chunks() {
    let mock = MockUpstream::start().await;
    let events = documented_stream();
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    mock.on(MODEL, Reply::sse(&refs));
    let gw = Gateway::start(&config(&mock, ""));
    let mut body = openai_request("gemini");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let stream = post_stream(&gw.url("/v1/chat/completions"), &[AUTH], body.to_string()).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.headers["content-type"], "text/event-stream");
    let text = stream.rest().await;
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let r = mock.requests_for(MODEL).pop().unwrap();
    assert_eq!(
        r.path,
        format!("/v1beta/models/{MODEL}:streamGenerateContent")
    );
    assert_eq!(r.query.as_deref(), Some("alt=sse"));
    assert_eq!(r.headers["x-goog-api-key"], "AIza-test-key");
    for key in ["stream", "stream_options"] {
        assert!(r.body.get(key).is_none(), "{key} sent: {}", r.body);
    }

    let chunks = data_events(&text);
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk" && c["id"] == "r-stream"),
        "{text}"
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(streamed_content(&chunks), "Okay, let's check the weather.");
    let calls = streamed_tool_calls(&chunks);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["index"], 0);
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_eq!(
        calls[0]["function"]["arguments"],
        "{\"location\":\"San Francisco, CA\"}"
    );
    assert_eq!(finish_reasons(&chunks), ["tool_calls"]);
    assert_usage_chunk(&chunks, 472, 89);

    // Without include_usage the usage-only chunk is not sent.
    assert_no_usage_chunk_by_default(&gw, &[AUTH], openai_request("gemini")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_errors_map_to_litellm_statuses_and_context_window_falls_back() {
    let mock = MockUpstream::start().await;
    // The error shapes of the Gemini API's troubleshooting page.
    mock.on(
        "limited-model",
        Reply::json(429, json!({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}})),
    );
    mock.on(
        "bad-key-model",
        Reply::json(400, json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}})),
    );
    mock.on(
        "small-model",
        Reply::json(400, json!({"error": {"code": 400, "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", "status": "INVALID_ARGUMENT"}})),
    );
    mock.on("big-model", Reply::chat("from big"));
    let gw = Gateway::start(&config(&mock, ""));

    let resp = chat(&gw, &[AUTH], ask("gemini-limited")).await;
    assert_error(
        &resp,
        429,
        "litellm.RateLimitError: GeminiException - Resource has been exhausted (e.g. check quota).",
    );
    assert_eq!(resp.json()["error"]["type"], "rate_limit_error");

    let resp = chat(&gw, &[AUTH], ask("gemini-bad-key")).await;
    assert_error(
        &resp,
        401,
        "litellm.AuthenticationError: GeminiException - API key not valid. Please pass a valid API key.",
    );

    assert_context_window_fallback(&gw, &mock, &[AUTH], "gemini-small").await;

    // Embeddings and text completions are refused before anything is sent.
    let resp = post(
        &gw.url("/v1/embeddings"),
        &[AUTH],
        json!({"model": "gemini", "input": "hi"}).to_string(),
    )
    .await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(mock.requests_for(MODEL).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_params_fail_unless_drop_params() {
    let mock = MockUpstream::start().await;
    mock.on("lenient-model", Reply::json(200, text_answer("ok")));
    mock.on(MODEL, Reply::json(200, text_answer("ok")));
    let gw = Gateway::start(&config(&mock, ""));
    let ask = |model: &str, drop: Option<bool>| {
        let mut body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}], "logprobs": true, "logit_bias": {"50256": -100}, "max_tokens": 10});
        if let Some(d) = drop {
            body["drop_params"] = json!(d);
        }
        body.to_string()
    };
    let resp = chat(&gw, &[AUTH], ask("gemini", None)).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(
        resp.error_message().contains(
            "UnsupportedParamsError: gemini does not support parameters: ['logit_bias', 'logprobs']"
        ),
        "{}",
        resp.error_message()
    );
    assert_eq!(resp.json()["error"]["param"], "logit_bias");
    assert!(mock.requests_for(MODEL).is_empty(), "nothing sent");

    let resp = chat(&gw, &[AUTH], ask("gemini-lenient", None)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let r = mock.requests_for("lenient-model").pop().unwrap();
    assert!(
        r.body.get("logprobs").is_none() && r.body.get("logit_bias").is_none(),
        "{}",
        r.body
    );
    assert_eq!(r.body["generationConfig"]["maxOutputTokens"], 10);

    // `drop_params: true` in the request does the same for one call.
    let resp = chat(&gw, &[AUTH], ask("gemini", Some(true))).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let r = mock.requests_for(MODEL).pop().unwrap();
    assert!(r.body.get("drop_params").is_none() && r.body.get("logprobs").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn v1_messages_are_translated_for_gemini_deployments() {
    let mock = MockUpstream::start().await;
    mock.on(MODEL, Reply::json(200, function_call_answer()));
    let gw = Gateway::start(&config(&mock, ""));
    let request = json!({
        "model": "gemini", "max_tokens": 1024,
        "system": "You are terse.",
        "metadata": {"user_id": "user-42"},
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}],
        "messages": [{"role": "user", "content": "Weather in SF?"}]
    });
    let resp = post(
        &gw.url("/v1/messages"),
        &[("x-api-key", "sk-gemini-master")],
        request.to_string(),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let r = mock.requests_for(MODEL).pop().unwrap();
    assert_eq!(r.path, format!("/v1beta/models/{MODEL}:generateContent"));
    assert_eq!(
        r.body["systemInstruction"],
        json!({"parts": [{"text": "You are terse."}]})
    );
    assert_eq!(
        r.body["contents"],
        json!([{"role": "user", "parts": [{"text": "Weather in SF?"}]}])
    );
    assert_eq!(r.body["generationConfig"]["maxOutputTokens"], 1024);
    assert_eq!(
        r.body["tools"][0]["functionDeclarations"][0]["name"],
        "get_weather"
    );
    let m = resp.json();
    assert_eq!(m["type"], "message");
    assert_eq!(m["role"], "assistant");
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(
        m["content"][0],
        json!({"type": "text", "text": "Let me check."})
    );
    assert_eq!(m["content"][1]["type"], "tool_use");
    assert_eq!(m["content"][1]["name"], "get_weather");
    assert_eq!(
        m["content"][1]["input"],
        json!({"location": "San Francisco, CA"})
    );
    assert_eq!(m["usage"]["input_tokens"], 120);
    assert_eq!(m["usage"]["output_tokens"], 30);

    // Streamed: Gemini events -> OpenAI chunks -> Anthropic events.
    let events = documented_stream();
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    mock.on(MODEL, Reply::sse(&refs));
    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let stream = post_stream(
        &gw.url("/v1/messages"),
        &[("x-api-key", "sk-gemini-master")],
        streamed.to_string(),
    )
    .await;
    assert_eq!(stream.status, 200);
    let text = stream.rest().await;
    let r = mock.requests_for(MODEL).pop().unwrap();
    assert_eq!(r.query.as_deref(), Some("alt=sse"));
    let events = named_events(&text);
    assert_anthropic_event_sequence(&text, &events);
    let text_deltas: String = events
        .iter()
        .filter_map(|(_, e)| e["delta"]["text"].as_str())
        .collect();
    assert_eq!(text_deltas, "Okay, let's check the weather.");
    let tool = events
        .iter()
        .find(|(n, e)| n == "content_block_start" && e["content_block"]["type"] == "tool_use")
        .unwrap();
    assert_eq!(tool.1["content_block"]["name"], "get_weather");
    let delta = events.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(delta.1["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta.1["usage"]["output_tokens"], 89);
}
