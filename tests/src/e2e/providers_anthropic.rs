//! `anthropic/<model>`: OpenAI chat requests translated to the Messages API, answers and
//! streams translated back, errors mapped; the mock checks every request against the Messages
//! API documentation (docs.anthropic.com: "Messages", "Streaming Messages", "Errors") and
//! answers with bodies and event streams written from it.

use serde_json::{Value, json};

use super::providers_common::{
    ask, assert_context_window_fallback, assert_error, assert_no_usage_chunk_by_default,
    assert_usage_chunk, call_arguments, chat, data_events, finish_reasons, response_cost,
    streamed_arguments, streamed_content, streamed_tool_calls, weather_request,
};
use crate::harness::{Gateway, MockUpstream, Reply, post_stream};

const MODEL: &str = "claude-sonnet-4-5";

fn config(mock: &MockUpstream, extra: &str) -> String {
    format!(
        r#"
model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/{MODEL}
      api_base: {base}
      api_key: sk-ant-test
  - model_name: claude-overloaded
    litellm_params:
      model: anthropic/overloaded-model
      api_base: {base}
      api_key: sk-ant-test
  - model_name: claude-limited
    litellm_params:
      model: anthropic/limited-model
      api_base: {base}
      api_key: sk-ant-test
  - model_name: claude-small
    litellm_params:
      model: anthropic/small-model
      api_base: {base}
      api_key: sk-ant-test
  - model_name: claude-lenient
    litellm_params:
      model: anthropic/lenient-model
      api_base: {base}
      api_key: sk-ant-test
      drop_params: true
  - model_name: big
    litellm_params:
      model: openai/big-model
      api_base: {base}
      api_key: sk-openai
router_settings:
  num_retries: 0
  context_window_fallbacks: [{{"claude-small": ["big"]}}]
{extra}"#,
        base = mock.url()
    )
}

/// The Messages API documentation's tool-use response.
fn tool_use_message() -> Value {
    json!({
        "id": "msg_01Aq9w938a90dw8q", "type": "message", "role": "assistant", "model": MODEL,
        "content": [
            {"type": "text", "text": "I'll look that up."},
            {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
             "input": {"location": "San Francisco, CA"}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 2095, "output_tokens": 503,
                  "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1000}
    })
}

fn openai_request() -> Value {
    weather_request("claude")
}

/// The tool-use stream of the streaming documentation, with a text block first.
fn documented_stream() -> Vec<String> {
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    vec![
        event(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_014p7gG3wDgGV9EUtLvnow3U", "type": "message", "role": "assistant", "model": MODEL, "stop_sequence": null, "usage": {"input_tokens": 472, "output_tokens": 2}, "content": [], "stop_reason": null}}),
        ),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        event("ping", json!({"type": "ping"})),
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Okay, let's check"}}),
        ),
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " the weather."}}),
        ),
        event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {}}}),
        ),
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        ),
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"location\":"}}),
        ),
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": " \"San Francisco, CA\"}"}}),
        ),
        event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        ),
        event(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 89}}),
        ),
        event("message_stop", json!({"type": "message_stop"})),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_chat_is_translated_to_the_messages_api_and_back() {
    let mock = MockUpstream::start().await;
    mock.on(MODEL, Reply::json(200, tool_use_message()));
    let gw = Gateway::start(&config(&mock, ""));
    let resp = chat(&gw, &[], openai_request().to_string()).await;
    assert_eq!(resp.status, 200, "{}", resp.text());

    let r = mock.requests_for(MODEL).pop().unwrap();
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.headers["x-api-key"], "sk-ant-test");
    assert_eq!(r.headers["anthropic-version"], "2023-06-01");
    assert_eq!(r.headers["content-type"], "application/json");
    assert!(r.headers.get("authorization").is_none());
    let b = &r.body;
    assert_eq!(b["model"], MODEL);
    assert_eq!(
        b["max_tokens"], 4096,
        "the API requires max_tokens: LiteLLM's default"
    );
    assert_eq!(
        b["system"],
        json!([{"type": "text", "text": "You are terse."}])
    );
    assert_eq!(
        b["messages"],
        json!([{"role": "user", "content": [
            {"type": "text", "text": "What's the weather here?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQSkZJRg=="}}
        ]}])
    );
    assert_eq!(
        b["tools"],
        json!([{"name": "get_weather", "description": "Get the current weather in a given location",
                "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}])
    );
    assert_eq!(b["tool_choice"], json!({"type": "auto"}));
    assert_eq!(b["stop_sequences"], json!(["\n\nHuman:"]));
    assert_eq!(
        (b["temperature"].as_f64(), b["top_p"].as_f64()),
        (Some(0.3), Some(0.9))
    );
    let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
    for forbidden in ["stop", "stream_options", "n", "tool_choice_auto"] {
        assert!(
            !keys.iter().any(|k| *k == forbidden),
            "{forbidden} in {keys:?}"
        );
    }

    let c = resp.json();
    assert_eq!(c["object"], "chat.completion");
    assert_eq!(c["model"], MODEL);
    let choice = &c["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "I'll look that up.");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["id"], "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        call_arguments(call),
        json!({"location": "San Francisco, CA"})
    );
    let u = &c["usage"];
    assert_eq!(u["prompt_tokens"], 2095 + 1000 + 100);
    assert_eq!(u["completion_tokens"], 503);
    assert_eq!(u["total_tokens"], 2095 + 1000 + 100 + 503);
    assert_eq!(u["prompt_tokens_details"]["cached_tokens"], 1000);
    assert_eq!(u["cache_creation_input_tokens"], 100);
    // Cost from the bundled price map: claude-sonnet-4-5 is priced.
    let cost = response_cost(&resp);
    assert!(cost > 0.0, "cost {cost}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_messages_stream_becomes_chat_completion_chunks() {
    let mock = MockUpstream::start().await;
    let events = documented_stream();
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    mock.on(MODEL, Reply::sse(&refs));
    let gw = Gateway::start(&config(&mock, ""));
    let mut body = openai_request();
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let stream = post_stream(&gw.url("/v1/chat/completions"), &[], body.to_string()).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.headers["content-type"], "text/event-stream");
    let text = stream.rest().await;
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let r = mock.requests_for(MODEL).pop().unwrap();
    assert_eq!(r.body["stream"], true);
    assert!(r.body.get("stream_options").is_none());

    let chunks = data_events(&text);
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk"),
        "{text}"
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(streamed_content(&chunks), "Okay, let's check the weather.");
    let calls = streamed_tool_calls(&chunks);
    assert_eq!(calls[0]["id"], "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_eq!(
        streamed_arguments(&calls),
        "{\"location\": \"San Francisco, CA\"}"
    );
    assert_eq!(finish_reasons(&chunks), ["tool_calls"]);
    assert_usage_chunk(&chunks, 472, 89);

    // Without include_usage the usage-only chunk is not sent.
    assert_no_usage_chunk_by_default(&gw, &[], openai_request()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_errors_map_to_litellm_statuses_and_context_window_falls_back() {
    let mock = MockUpstream::start().await;
    // The error shapes and statuses of Anthropic's "Errors" page.
    mock.on(
        "overloaded-model",
        Reply::json(529, json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
    );
    mock.on(
        "limited-model",
        Reply::json(429, json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"}}))
            .with_header("retry-after", "12"),
    );
    mock.on(
        "small-model",
        Reply::json(400, json!({"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 208745 tokens > 200000 maximum"}})),
    );
    mock.on("big-model", Reply::chat("from big"));
    let gw = Gateway::start(&config(&mock, ""));

    let resp = chat(&gw, &[], ask("claude-overloaded")).await;
    assert_error(
        &resp,
        500,
        "litellm.InternalServerError: AnthropicException - Overloaded",
    );
    assert_eq!(resp.json()["error"]["code"], "500");

    let resp = chat(&gw, &[], ask("claude-limited")).await;
    assert_eq!(resp.status, 429);
    assert!(
        resp.error_message()
            .starts_with("litellm.RateLimitError: AnthropicException - Number of request tokens"),
        "{}",
        resp.error_message()
    );
    assert_eq!(resp.json()["error"]["type"], "rate_limit_error");
    assert_eq!(resp.header("retry-after"), Some("12"));

    assert_context_window_fallback(&gw, &mock, &[], "claude-small").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_params_fail_unless_drop_params() {
    let mock = MockUpstream::start().await;
    mock.on("lenient-model", Reply::json(200, tool_use_message()));
    mock.on(MODEL, Reply::json(200, tool_use_message()));
    let gw = Gateway::start(&config(&mock, ""));
    let ask = |model: &str| {
        json!({"model": model, "messages": [{"role": "user", "content": "hi"}], "logprobs": true, "presence_penalty": 0.5, "max_tokens": 10})
            .to_string()
    };
    let resp = chat(&gw, &[], ask("claude")).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(
        resp.error_message()
            .contains("UnsupportedParamsError: anthropic does not support parameters"),
        "{}",
        resp.error_message()
    );
    assert!(mock.requests_for(MODEL).is_empty(), "nothing sent");

    let resp = chat(&gw, &[], ask("claude-lenient")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let r = mock.requests_for("lenient-model").pop().unwrap();
    assert!(
        r.body.get("logprobs").is_none() && r.body.get("presence_penalty").is_none(),
        "{}",
        r.body
    );
    assert_eq!(r.body["max_tokens"], 10);

    // litellm_settings.drop_params applies to every deployment.
    let gw = Gateway::start(&config(&mock, "litellm_settings:\n  drop_params: true\n"));
    let resp = chat(&gw, &[], ask("claude")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
}
