//! Every failure answers an OpenAI-shaped error with the right status, and the process keeps
//! serving afterwards.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Gateway, MockUpstream, Reply, get, post, request};

fn config(mock: &MockUpstream, dead_port: u16) -> String {
    format!(
        r#"
model_list:
  - model_name: good
    litellm_params:
      model: openai/good
      api_base: {base}
  - model_name: flaky
    litellm_params:
      model: openai/flaky
      api_base: {base}
  - model_name: refused
    litellm_params:
      model: openai/refused
      api_base: http://127.0.0.1:{dead_port}
general_settings:
  max_request_size_mb: 0.001
router_settings:
  num_retries: 0
"#,
        base = mock.url()
    )
}

/// A port with nothing listening on it.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn chat(model: &str) -> String {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}).to_string()
}

/// Checks the OpenAI error shape and returns the message.
fn assert_error(resp: &crate::harness::Resp, status: u16) -> String {
    assert_eq!(resp.status, status, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let body = resp.json();
    let error = &body["error"];
    assert!(error["message"].is_string(), "{body}");
    assert!(error["type"].is_string(), "{body}");
    assert!(error.get("param").is_some(), "{body}");
    assert_eq!(error["code"], status.to_string(), "{body}");
    error["message"].as_str().unwrap().to_string()
}

async fn still_serving(gw: &Gateway) {
    let ok = post(&gw.url("/chat/completions"), &[], chat("good")).await;
    assert_eq!(
        ok.status,
        200,
        "the process must keep serving: {}",
        ok.text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_clear_errors() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::start(&config(&mock, dead_port()));
    let url = gw.url("/v1/chat/completions");

    let msg = assert_error(&post(&url, &[], "{\"model\": ").await, 400);
    assert!(msg.contains("not valid JSON"), "{msg}");
    assert_error(&post(&url, &[], "[1, 2]").await, 400);
    let missing = post(&url, &[], json!({"messages": []}).to_string()).await;
    assert_error(&missing, 400);
    assert_eq!(missing.json()["error"]["param"], "model");
    let unknown = post(&url, &[], chat("no-such-model")).await;
    let msg = assert_error(&unknown, 400);
    assert!(
        msg.contains("Invalid model name passed in model=no-such-model"),
        "{msg}"
    );
    let big = json!({"model": "good", "messages": [{"role": "user", "content": "x".repeat(4000)}]})
        .to_string();
    let msg = assert_error(&post(&url, &[], big).await, 413);
    assert!(msg.contains("max_request_size_mb"), "{msg}");
    let wrong_method = get(&url, &[]).await;
    assert_error(&wrong_method, 405);
    assert_eq!(wrong_method.header("allow"), Some("POST"));
    assert_error(&get(&gw.url("/v2/unknown"), &[]).await, 404);
    assert_error(
        &request(http::Method::DELETE, &gw.url("/v1/models"), &[], "").await,
        405,
    );
    still_serving(&gw).await;
    assert!(mock.requests_for("no-such-model").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_failures_map_to_litellm_statuses() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::start(&config(&mock, dead_port()));
    let url = gw.url("/chat/completions");

    let msg = assert_error(&post(&url, &[], chat("refused")).await, 500);
    assert!(msg.contains("APIConnectionError"), "{msg}");

    mock.on("flaky", Reply::Hangup);
    let msg = assert_error(&post(&url, &[], chat("flaky")).await, 500);
    assert!(msg.contains("APIConnectionError"), "{msg}");

    mock.on("flaky", Reply::Garbage);
    let msg = assert_error(&post(&url, &[], chat("flaky")).await, 500);
    assert!(msg.contains("not a JSON object"), "{msg}");

    for (status, kind) in [
        (400, "BadRequestError"),
        (401, "AuthenticationError"),
        (404, "NotFoundError"),
        (429, "RateLimitError"),
        (500, "InternalServerError"),
        (503, "ServiceUnavailableError"),
    ] {
        mock.on("flaky", Reply::error(status, "upstream says no"));
        let msg = assert_error(&post(&url, &[], chat("flaky")).await, status);
        assert!(
            msg.starts_with(&format!("litellm.{kind}: ")),
            "{status}: {msg}"
        );
        assert!(msg.contains("upstream says no"), "{msg}");
    }
    mock.on(
        "flaky",
        Reply::error(429, "later").with_header("retry-after", "7"),
    );
    let resp = post(&url, &[], chat("flaky")).await;
    assert_error(&resp, 429);
    assert_eq!(resp.header("retry-after"), Some("7"));
    still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_that_times_out_is_a_408() {
    let mock = MockUpstream::start().await;
    mock.on(
        "flaky",
        Reply::chat("too late").with_delay(Duration::from_secs(5)),
    );
    let gw = Gateway::start(&config(&mock, dead_port()));
    let started = std::time::Instant::now();
    let resp = post(
        &gw.url("/chat/completions"),
        &[("x-litellm-timeout", "0.3")],
        chat("flaky"),
    )
    .await;
    let msg = assert_error(&resp, 408);
    assert!(msg.contains("litellm.Timeout"), "{msg}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the timeout did not cut the wait short"
    );
    assert_eq!(resp.header("x-litellm-model-group"), Some("flaky"));
    still_serving(&gw).await;
}
