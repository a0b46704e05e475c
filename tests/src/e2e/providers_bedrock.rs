//! `bedrock/<model id>`: OpenAI chat requests translated to the Converse API, SigV4-signed,
//! answers and ConverseStream event streams translated back, errors mapped, and `/v1/messages`
//! through the same translation. The mock recomputes every request's SigV4 signature with the
//! test credentials (`harness::aws`, written from AWS's signing documentation), checks the body
//! against the Converse API reference, and answers with bodies and binary event streams written
//! from it.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Value, json};

use super::providers_common::{
    ask, assert_anthropic_event_sequence, assert_context_window_fallback, assert_error,
    assert_no_usage_chunk_by_default, assert_usage_chunk, call_arguments, chat, data_events,
    finish_reasons, named_events, response_cost, streamed_arguments, streamed_content,
    streamed_tool_calls, weather_request,
};
use crate::harness::aws::{converse_event, event_message, verify_sigv4};
use crate::harness::{Gateway, MockUpstream, Reply, post, post_stream};

const MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
const MODEL_PATH: &str = "anthropic.claude-3-5-sonnet-20240620-v1%3A0";
const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn config(mock: &MockUpstream, extra: &str) -> String {
    format!(
        r#"
model_list:
  - model_name: claude-bedrock
    litellm_params:
      model: bedrock/{MODEL}
      aws_access_key_id: os.environ/TEST_BEDROCK_KEY_ID
      aws_secret_access_key: os.environ/TEST_BEDROCK_SECRET
      aws_session_token: session-token-123
      aws_region_name: eu-central-1
      aws_bedrock_runtime_endpoint: {base}
  - model_name: nova-env
    litellm_params:
      model: bedrock/converse/amazon.nova-pro-v1:0
      api_base: {base}
  - model_name: nova-api-key
    litellm_params:
      model: bedrock/amazon.nova-micro-v1:0
      api_base: {base}
      api_key: bedrock-api-key-abc
  - model_name: bedrock-limited
    litellm_params:
      model: bedrock/limited-model
      api_base: {base}
      aws_access_key_id: {KEY_ID}
      aws_secret_access_key: {SECRET}
  - model_name: bedrock-bad-token
    litellm_params:
      model: bedrock/bad-token-model
      api_base: {base}
      aws_access_key_id: {KEY_ID}
      aws_secret_access_key: {SECRET}
  - model_name: bedrock-small
    litellm_params:
      model: bedrock/small-model
      api_base: {base}
      aws_access_key_id: {KEY_ID}
      aws_secret_access_key: {SECRET}
  - model_name: big
    litellm_params:
      model: openai/big-model
      api_base: {base}
      api_key: sk-openai
general_settings:
  master_key: sk-bedrock-master
router_settings:
  num_retries: 0
  context_window_fallbacks: [{{"bedrock-small": ["big"]}}]
{extra}"#,
        base = mock.url()
    )
}

fn gateway(mock: &MockUpstream) -> Gateway {
    Gateway::builder(&config(mock, ""))
        .env("TEST_BEDROCK_KEY_ID", KEY_ID)
        .env("TEST_BEDROCK_SECRET", SECRET)
        .start()
}

const AUTH: (&str, &str) = ("authorization", "Bearer sk-bedrock-master");

/// The Converse response of the API reference, with a tool use.
fn tool_use_answer() -> Value {
    json!({
        "output": {"message": {"role": "assistant", "content": [
            {"text": "I'll look that up."},
            {"toolUse": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "get_weather",
                         "input": {"location": "San Francisco, CA"}}}
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 2095, "outputTokens": 503, "totalTokens": 2598},
        "metrics": {"latencyMs": 1745}
    })
}

fn text_answer(text: &str) -> Value {
    json!({
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 12, "outputTokens": 4, "totalTokens": 16},
        "metrics": {"latencyMs": 300}
    })
}

fn openai_request(model: &str) -> Value {
    let mut body = weather_request(model);
    body["max_tokens"] = json!(300);
    body
}

/// A ConverseStream body as the API reference describes its events (each payload carries the
/// `p` padding field), sent in chunks cut across message boundaries.
fn documented_stream() -> Vec<Bytes> {
    let bytes = [
        converse_event("messageStart", &json!({"p": "abcdefghijklmnopqrstu", "role": "assistant"})),
        converse_event("contentBlockDelta", &json!({"contentBlockIndex": 0, "delta": {"text": "Okay, let's check"}, "p": "abcd"})),
        converse_event("contentBlockDelta", &json!({"contentBlockIndex": 0, "delta": {"text": " the weather."}, "p": "abcdefgh"})),
        converse_event("contentBlockStop", &json!({"contentBlockIndex": 0, "p": "abcdefghij"})),
        converse_event("contentBlockStart", &json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_T1x1fJ34", "name": "get_weather"}}, "p": "ab"})),
        converse_event("contentBlockDelta", &json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"location\":"}}, "p": "abc"})),
        converse_event("contentBlockDelta", &json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": " \"San Francisco, CA\"}"}}, "p": "abcdef"})),
        converse_event("contentBlockStop", &json!({"contentBlockIndex": 1, "p": "abcdefghijklm"})),
        converse_event("messageStop", &json!({"stopReason": "tool_use", "p": "abcdefghijklmnopq"})),
        converse_event("metadata", &json!({"usage": {"inputTokens": 472, "outputTokens": 89, "totalTokens": 561}, "metrics": {"latencyMs": 1203}, "p": "abcdef"})),
    ]
    .concat();
    // Chunks of 37 bytes: messages arrive cut anywhere, headers and CRCs included.
    bytes.chunks(37).map(Bytes::copy_from_slice).collect()
}

fn stream_reply(chunks: Vec<Bytes>) -> Reply {
    Reply::Binary {
        content_type: "application/vnd.amazon.eventstream".into(),
        chunks,
    }
}

fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}")
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_chat_is_translated_to_converse_signed_and_back() {
    let mock = MockUpstream::start().await;
    mock.on(MODEL, Reply::json(200, tool_use_answer()));
    let gw = gateway(&mock);
    let resp = chat(&gw, &[AUTH], openai_request("claude-bedrock").to_string()).await;
    assert_eq!(resp.status, 200, "{}", resp.text());

    let r = mock.requests_for(MODEL).pop().unwrap();
    assert_eq!(r.path, format!("/model/{MODEL_PATH}/converse"));
    assert_eq!(r.query, None);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["x-amz-security-token"], "session-token-123");
    let sig = verify_sigv4(&r, SECRET).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sig,
        crate::harness::aws::SigV4 {
            access_key_id: KEY_ID.into(),
            date: today(),
            region: "eu-central-1".into(),
            service: "bedrock".into(),
            signed_headers: ["content-type", "host", "x-amz-date", "x-amz-security-token"]
                .map(String::from)
                .to_vec(),
        }
    );
    // The verifier does check: another body, secret or region fails it.
    let mut tampered = r.clone();
    tampered.raw = Bytes::from_static(b"{}");
    assert!(verify_sigv4(&tampered, SECRET).is_err());
    assert!(verify_sigv4(&r, "wrong-secret").is_err());
    let b = &r.body;
    assert_eq!(b["system"], json!([{"text": "You are terse."}]));
    assert_eq!(
        b["messages"],
        json!([{"role": "user", "content": [
            {"text": "What's the weather here?"},
            {"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQSkZJRg=="}}}
        ]}])
    );
    assert_eq!(
        b["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "get_weather", "description": "Get the current weather in a given location",
               "inputSchema": {"json": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}}],
               "toolChoice": {"auto": {}}})
    );
    assert_eq!(
        b["inferenceConfig"],
        json!({"stopSequences": ["\n\nHuman:"], "temperature": 0.3, "topP": 0.9, "maxTokens": 300})
    );
    let mut keys: Vec<&String> = b.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["inferenceConfig", "messages", "system", "toolConfig"]
    );

    let c = resp.json();
    assert_eq!(c["object"], "chat.completion");
    assert_eq!(c["model"], MODEL);
    let choice = &c["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "I'll look that up.");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["id"], "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        call_arguments(call),
        json!({"location": "San Francisco, CA"})
    );
    assert_eq!(
        c["usage"],
        json!({"prompt_tokens": 2095, "completion_tokens": 503, "total_tokens": 2598})
    );
    // Cost from the bundled price map (`anthropic.claude-3-5-sonnet-20240620-v1:0`).
    let cost = response_cost(&resp);
    assert!(
        (cost - (2095.0 * 3e-6 + 503.0 * 1.5e-5)).abs() < 1e-9,
        "cost {cost}"
    );

    // The tool result goes back as a toolResult block.
    mock.on(MODEL, Reply::json(200, text_answer("Sunny.")));
    let mut follow_up = openai_request("claude-bedrock");
    follow_up["messages"].as_array_mut().unwrap().extend([
        c["choices"][0]["message"].clone(),
        json!({"role": "tool", "tool_call_id": call["id"], "content": "72F and sunny"}),
    ]);
    let resp = chat(&gw, &[AUTH], follow_up.to_string()).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let r = mock.requests_for(MODEL).pop().unwrap();
    verify_sigv4(&r, SECRET).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.body["messages"][1],
        json!({"role": "assistant", "content": [
            {"text": "I'll look that up."},
            {"toolUse": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "get_weather", "input": {"location": "San Francisco, CA"}}}
        ]})
    );
    assert_eq!(
        r.body["messages"][2],
        json!({"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "content": [{"text": "72F and sunny"}]}}]})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_and_region_come_from_the_aws_environment_or_an_api_key() {
    let mock = MockUpstream::start().await;
    mock.on("amazon.nova-pro-v1:0", Reply::json(200, text_answer("hi")));
    mock.on(
        "amazon.nova-micro-v1:0",
        Reply::json(200, text_answer("hi")),
    );
    let gw = Gateway::builder(&config(&mock, ""))
        .env("TEST_BEDROCK_KEY_ID", KEY_ID)
        .env("TEST_BEDROCK_SECRET", SECRET)
        .env("AWS_ACCESS_KEY_ID", "AKIDENVIRONMENT")
        .env("AWS_SECRET_ACCESS_KEY", "env-secret")
        .env("AWS_REGION", "ap-southeast-2")
        .start();
    let ask = |model: &str| {
        json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}).to_string()
    };
    let resp = chat(&gw, &[AUTH], ask("nova-env")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let r = mock.requests_for("amazon.nova-pro-v1:0").pop().unwrap();
    assert_eq!(
        r.path, "/model/amazon.nova-pro-v1%3A0/converse",
        "bedrock/converse/<id> calls <id>"
    );
    assert!(r.headers.get("x-amz-security-token").is_none());
    let sig = verify_sigv4(&r, "env-secret").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (sig.access_key_id.as_str(), sig.region.as_str()),
        ("AKIDENVIRONMENT", "ap-southeast-2")
    );
    assert_eq!(sig.signed_headers, ["content-type", "host", "x-amz-date"]);
    // amazon.nova-pro-v1:0 is priced: 8e-7 in, 3.2e-6 out.
    let cost = response_cost(&resp);
    assert!(
        (cost - (12.0 * 8e-7 + 4.0 * 3.2e-6)).abs() < 1e-12,
        "cost {cost}"
    );

    // A Bedrock API key is sent as a bearer token, unsigned.
    let resp = chat(&gw, &[AUTH], ask("nova-api-key")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let r = mock.requests_for("amazon.nova-micro-v1:0").pop().unwrap();
    assert_eq!(r.headers["authorization"], "Bearer bedrock-api-key-abc");
    assert!(r.headers.get("x-amz-date").is_none());

    // No credentials anywhere: 401 before anything is sent.
    let gw = Gateway::builder(&config(&mock, ""))
        .env("TEST_BEDROCK_KEY_ID", KEY_ID)
        .env("TEST_BEDROCK_SECRET", SECRET)
        .start();
    let before = mock.requests().len();
    let resp = chat(&gw, &[AUTH], ask("nova-env")).await;
    assert_eq!(resp.status, 401, "{}", resp.text());
    assert!(
        resp.error_message().contains("no AWS credentials"),
        "{}",
        resp.error_message()
    );
    assert_eq!(mock.requests().len(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_stream_becomes_chat_completion_chunks() {
    let mock = MockUpstream::start().await;
    mock.on(MODEL, stream_reply(documented_stream()));
    let gw = gateway(&mock);
    let mut body = openai_request("claude-bedrock");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let stream = post_stream(&gw.url("/v1/chat/completions"), &[AUTH], body.to_string()).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.headers["content-type"], "text/event-stream");
    let text = stream.rest().await;
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let r = mock.requests_for(MODEL).pop().unwrap();
    assert_eq!(r.path, format!("/model/{MODEL_PATH}/converse-stream"));
    verify_sigv4(&r, SECRET).unwrap_or_else(|e| panic!("{e}"));
    for key in ["stream", "stream_options"] {
        assert!(r.body.get(key).is_none(), "{key} sent: {}", r.body);
    }

    let chunks = data_events(&text);
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk" && c["model"] == MODEL),
        "{text}"
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(streamed_content(&chunks), "Okay, let's check the weather.");
    let calls = streamed_tool_calls(&chunks);
    assert_eq!(calls[0]["id"], "tooluse_T1x1fJ34");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_eq!(
        streamed_arguments(&calls),
        "{\"location\": \"San Francisco, CA\"}"
    );
    assert_eq!(finish_reasons(&chunks), ["tool_calls"]);
    assert_usage_chunk(&chunks, 472, 89);

    // Without include_usage the usage-only chunk is not sent.
    assert_no_usage_chunk_by_default(&gw, &[AUTH], openai_request("claude-bedrock")).await;

    // An exception message mid-stream becomes the OpenAI error event.
    let mut broken = converse_event("messageStart", &json!({"role": "assistant"}));
    broken.extend(event_message(
        &[
            (":exception-type", "throttlingException"),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        br#"{"message":"Too many tokens, please wait before trying again."}"#,
    ));
    mock.on(MODEL, stream_reply(vec![Bytes::from(broken)]));
    let mut body = openai_request("claude-bedrock");
    body["stream"] = json!(true);
    let text = post_stream(&gw.url("/v1/chat/completions"), &[AUTH], body.to_string())
        .await
        .rest()
        .await;
    let events = data_events(&text);
    let error = &events.last().unwrap()["error"];
    assert_eq!(error["code"], "429", "{text}");
    assert_eq!(
        error["message"],
        "litellm.RateLimitError: BedrockException - Too many tokens, please wait before trying again."
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bedrock_errors_map_to_litellm_statuses_and_context_window_falls_back() {
    let mock = MockUpstream::start().await;
    // Error responses as the Bedrock runtime sends them: `{"message"}` and x-amzn-ErrorType.
    mock.on(
        "limited-model",
        Reply::json(
            429,
            json!({"message": "Too many requests, please wait before trying again."}),
        )
        .with_header(
            "x-amzn-errortype",
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
        ),
    );
    mock.on(
        "bad-token-model",
        Reply::json(403, json!({"message": "The security token included in the request is invalid."}))
            .with_header("x-amzn-errortype", "UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/"),
    );
    mock.on(
        "small-model",
        Reply::json(
            400,
            json!({"message": "Input is too long for requested model."}),
        )
        .with_header(
            "x-amzn-errortype",
            "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/",
        ),
    );
    mock.on("big-model", Reply::chat("from big"));
    let gw = gateway(&mock);

    let resp = chat(&gw, &[AUTH], ask("bedrock-limited")).await;
    assert_error(
        &resp,
        429,
        "litellm.RateLimitError: BedrockException - Too many requests, please wait before trying again.",
    );
    assert_eq!(resp.json()["error"]["type"], "rate_limit_error");

    let resp = chat(&gw, &[AUTH], ask("bedrock-bad-token")).await;
    assert_error(
        &resp,
        401,
        "litellm.AuthenticationError: BedrockException - The security token included in the request is invalid.",
    );

    assert_context_window_fallback(&gw, &mock, &[AUTH], "bedrock-small").await;

    // An OpenAI parameter Converse lacks: 400 unless dropped.
    let body = json!({"model": "bedrock-limited", "messages": [{"role": "user", "content": "hi"}], "seed": 3});
    let before = mock.requests_for("limited-model").len();
    let resp = chat(&gw, &[AUTH], body.to_string()).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(
        resp.error_message()
            .contains("UnsupportedParamsError: bedrock does not support parameters: ['seed']"),
        "{}",
        resp.error_message()
    );
    assert_eq!(mock.requests_for("limited-model").len(), before);
    let gw = Gateway::builder(&config(&mock, "litellm_settings:\n  drop_params: true\n"))
        .env("TEST_BEDROCK_KEY_ID", KEY_ID)
        .env("TEST_BEDROCK_SECRET", SECRET)
        .start();
    mock.on("limited-model", Reply::json(200, text_answer("ok")));
    let resp = chat(&gw, &[AUTH], body.to_string()).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let r = mock.requests_for("limited-model").pop().unwrap();
    assert!(r.body.get("seed").is_none() && r.body.get("additionalModelRequestFields").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn v1_messages_are_translated_for_bedrock_deployments() {
    let mock = MockUpstream::start().await;
    mock.on(MODEL, Reply::json(200, tool_use_answer()));
    let gw = gateway(&mock);
    let request = json!({
        "model": "claude-bedrock", "max_tokens": 1024,
        "system": "You are terse.",
        "metadata": {"user_id": "user-42"},
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}],
        "messages": [{"role": "user", "content": "Weather in SF?"}]
    });
    let resp = post(
        &gw.url("/v1/messages"),
        &[("x-api-key", "sk-bedrock-master")],
        request.to_string(),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let r = mock.requests_for(MODEL).pop().unwrap();
    assert_eq!(r.path, format!("/model/{MODEL_PATH}/converse"));
    verify_sigv4(&r, SECRET).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.body["system"], json!([{"text": "You are terse."}]));
    assert_eq!(
        r.body["messages"],
        json!([{"role": "user", "content": [{"text": "Weather in SF?"}]}])
    );
    assert_eq!(r.body["inferenceConfig"]["maxTokens"], 1024);
    assert_eq!(
        r.body["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "get_weather"
    );
    let m = resp.json();
    assert_eq!(m["type"], "message");
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(
        m["content"][0],
        json!({"type": "text", "text": "I'll look that up."})
    );
    assert_eq!(m["content"][1]["type"], "tool_use");
    assert_eq!(m["content"][1]["id"], "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
    assert_eq!(m["usage"]["input_tokens"], 2095);
    assert_eq!(m["usage"]["output_tokens"], 503);

    // Streamed: ConverseStream -> OpenAI chunks -> Anthropic events.
    mock.on(MODEL, stream_reply(documented_stream()));
    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let stream = post_stream(
        &gw.url("/v1/messages"),
        &[("x-api-key", "sk-bedrock-master")],
        streamed.to_string(),
    )
    .await;
    assert_eq!(stream.status, 200);
    let text = stream.rest().await;
    let r = mock.requests_for(MODEL).pop().unwrap();
    assert_eq!(r.path, format!("/model/{MODEL_PATH}/converse-stream"));
    let events = named_events(&text);
    assert_anthropic_event_sequence(&text, &events);
    assert!(events.iter().any(|(n, _)| n == "content_block_delta"));
    assert!(text.contains("\"stop_reason\":\"tool_use\""), "{text}");
    assert!(text.contains("Okay, let's check"), "{text}");
}
