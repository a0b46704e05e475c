//! `POST /v1/messages` (the Anthropic format): passed through to Anthropic deployments,
//! translated for OpenAI-wire ones, streaming included; and the official `anthropic` Python SDK
//! against it (tests/python/test_anthropic_sdk.py).

use serde_json::{Value, json};

use super::providers_common::named_events;
use crate::harness::mock::{chunk_event, usage_event};
use crate::harness::python::{repo_root, venv_python};
use crate::harness::{Gateway, MockUpstream, Reply, post, post_stream};

fn config(mock: &MockUpstream) -> String {
    format!(
        r#"
model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: {base}
      api_key: sk-ant-test
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      api_base: {base}
      api_key: sk-openai
  - model_name: azure-gpt
    litellm_params:
      model: azure/gpt4o-prod
      api_base: {base}
      api_version: "2024-06-01"
      api_key: azure-key
general_settings:
  master_key: sk-messages-master
router_settings:
  num_retries: 0
"#,
        base = mock.url()
    )
}

const AUTH: (&str, &str) = ("x-api-key", "sk-messages-master");

fn anthropic_message() -> Value {
    json!({
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "Hi! My name is Claude."}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 2095, "output_tokens": 503}
    })
}

fn messages_request(model: &str, stream: bool) -> Value {
    json!({
        "model": model, "max_tokens": 1024, "stream": stream,
        "system": "You are terse.",
        "metadata": {"user_id": "user-42"},
        "messages": [{"role": "user", "content": "Hello, Claude"}]
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_are_passed_through_to_anthropic_deployments() {
    let mock = MockUpstream::start().await;
    mock.on("claude-sonnet-4-5", Reply::json(200, anthropic_message()));
    let gw = Gateway::start(&config(&mock));
    let sent = messages_request("claude", false);
    let resp = post(
        &gw.url("/v1/messages"),
        &[
            AUTH,
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "prompt-caching-2024-07-31"),
        ],
        sent.to_string(),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json(),
        anthropic_message(),
        "the answer as Anthropic sent it"
    );
    assert_eq!(resp.header("x-litellm-model-group"), Some("claude"));
    let cost: f64 = resp
        .header("x-litellm-response-cost")
        .unwrap()
        .parse()
        .unwrap();
    assert!(cost > 0.0, "usage read from the Anthropic body");

    let r = mock.requests_for("claude-sonnet-4-5").pop().unwrap();
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(
        r.headers["x-api-key"], "sk-ant-test",
        "the deployment's key, not the client's"
    );
    assert_eq!(r.headers["anthropic-version"], "2023-06-01");
    assert_eq!(r.headers["anthropic-beta"], "prompt-caching-2024-07-31");
    let mut expected = sent.clone();
    expected["model"] = json!("claude-sonnet-4-5");
    assert_eq!(
        r.body, expected,
        "everything else byte for byte, metadata included"
    );

    // Streams: Anthropic's events relayed as they are, no [DONE].
    let events = [
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"!\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ];
    mock.on("claude-sonnet-4-5", Reply::sse(&events));
    let stream = post_stream(
        &gw.url("/v1/messages"),
        &[AUTH],
        messages_request("claude", true).to_string(),
    )
    .await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.headers["content-type"], "text/event-stream");
    let text = stream.rest().await;
    assert_eq!(text, events.concat());
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_are_translated_for_openai_and_azure_deployments() {
    let mock = MockUpstream::start().await;
    mock.on(
        "gpt-4o",
        Reply::json(200, json!({
            "id": "chatcmpl-9", "object": "chat.completion", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "Checking.",
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37}
        })),
    );
    let gw = Gateway::start(&config(&mock));
    let mut sent = messages_request("gpt", false);
    sent["tools"] = json!([{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    sent["stop_sequences"] = json!(["END"]);
    let resp = post(&gw.url("/v1/messages"), &[AUTH], sent.to_string()).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let r = mock.requests_for("gpt-4o").pop().unwrap();
    assert_eq!(r.path, "/chat/completions");
    assert_eq!(r.headers["authorization"], "Bearer sk-openai");
    assert_eq!(
        r.body["messages"],
        json!([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hello, Claude"}])
    );
    assert_eq!(r.body["max_tokens"], 1024);
    assert_eq!(r.body["stop"], json!(["END"]));
    assert_eq!(r.body["user"], "user-42");
    assert_eq!(r.body["tools"][0]["function"]["name"], "get_weather");
    assert!(r.body.get("system").is_none() && r.body.get("metadata").is_none());
    let m = resp.json();
    assert_eq!(m["type"], "message");
    assert_eq!(m["role"], "assistant");
    assert_eq!(
        m["content"][0],
        json!({"type": "text", "text": "Checking."})
    );
    assert_eq!(
        m["content"][1],
        json!({"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}})
    );
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(m["usage"]["input_tokens"], 30);
    assert_eq!(m["usage"]["output_tokens"], 7);

    // Streaming through Azure: OpenAI chunks become Anthropic events.
    mock.on(
        "gpt4o-prod",
        Reply::sse(&[
            &chunk_event("Hel"),
            &chunk_event("lo"),
            &usage_event(),
            "data: [DONE]\n\n",
        ]),
    );
    let stream = post_stream(
        &gw.url("/v1/messages"),
        &[AUTH],
        messages_request("azure-gpt", true).to_string(),
    )
    .await;
    assert_eq!(stream.status, 200);
    let text = stream.rest().await;
    assert!(!text.contains("[DONE]"), "{text}");
    let events = named_events(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ],
        "{text}"
    );
    assert_eq!(events[2].1["delta"]["text"], "Hel");
    assert_eq!(events[5].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(events[5].1["usage"]["input_tokens"], 9);
    assert_eq!(events[5].1["usage"]["output_tokens"], 5);
    let r = mock.requests_for("gpt4o-prod").pop().unwrap();
    assert_eq!(r.path, "/openai/deployments/gpt4o-prod/chat/completions");
    assert_eq!(r.headers["api-key"], "azure-key");
    assert_eq!(r.body["stream"], true);
    assert_eq!(r.body["stream_options"], json!({"include_usage": true}));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_anthropic_python_sdk_works_against_v1_messages() {
    let python = venv_python();
    let mock = MockUpstream::start().await;
    mock.on("claude-sonnet-4-5", Reply::json(200, anthropic_message()));
    mock.on(
        "claude-stream",
        Reply::sse(&[
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-stream\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" there\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        ]),
    );
    mock.on(
        "claude-overloaded",
        Reply::json(529, json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
    );
    let base = mock.url();
    let config = format!(
        "{}  - model_name: claude-stream\n    litellm_params:\n      model: anthropic/claude-stream\n      api_base: {base}\n      api_key: sk-ant-test\n  - model_name: claude-overloaded\n    litellm_params:\n      model: anthropic/claude-overloaded\n      api_base: {base}\n      api_key: sk-ant-test\n",
        config(&mock).split("general_settings:").next().unwrap()
    ) + "general_settings:\n  master_key: sk-messages-master\nrouter_settings:\n  num_retries: 0\n";
    let gw = Gateway::start(&config);
    let script = repo_root().join("tests/python/test_anthropic_sdk.py");
    let base_url = gw.url("");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .env("HAIMAKER_BASE_URL", base_url)
            .env("HAIMAKER_KEY", "sk-messages-master")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("ANTHROPIC_BASE_URL")
            .env_remove("ANTHROPIC_AUTH_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "SDK checks failed:\n{stdout}\n{stderr}\ngateway output:\n{}",
        gw.output.text()
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
}
