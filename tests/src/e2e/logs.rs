//! Logs: the access line, JSON lines, levels, and what must never be logged.

use serde_json::json;

use crate::harness::{Gateway, MockUpstream, post, wait_until};

fn config(mock: &MockUpstream, extra: &str) -> String {
    format!(
        "model_list:\n  - model_name: g\n    litellm_params:\n      model: openai/m\n      api_base: {}\n      api_key: sk-upstream-do-not-log\ngeneral_settings:\n  master_key: sk-master-do-not-log\n{extra}",
        mock.url()
    )
}

const PROMPT: &str = "PROMPT-MARKER-8817";

fn body() -> String {
    json!({"model": "g", "messages": [{"role": "user", "content": PROMPT}]}).to_string()
}

async fn send_traffic(gw: &Gateway) {
    let ok = post(
        &gw.url("/v1/chat/completions?key=sk-query-do-not-log"),
        &[("authorization", "Bearer sk-master-do-not-log")],
        body(),
    )
    .await;
    assert_eq!(ok.status, 200);
    let denied = post(
        &gw.url("/v1/chat/completions"),
        &[("authorization", "Bearer sk-wrong-do-not-log")],
        body(),
    )
    .await;
    assert_eq!(denied.status, 400);
    let upstream_error_prompt = post(
        &gw.url("/v1/chat/completions"),
        &[("authorization", "Bearer sk-master-do-not-log")],
        "{broken",
    )
    .await;
    assert_eq!(upstream_error_prompt.status, 400);
}

async fn access_lines(gw: &Gateway, n: usize) -> Vec<String> {
    wait_until("access lines", std::time::Duration::from_secs(10), || {
        let lines: Vec<String> = gw
            .output
            .lines()
            .into_iter()
            .filter(|l| l.contains("POST /v1/chat/completions"))
            .collect();
        (lines.len() >= n).then_some(lines)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn one_uvicorn_style_access_line_per_request_and_no_secrets() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::start(&config(&mock, ""));
    send_traffic(&gw).await;
    let lines = access_lines(&gw, 3).await;
    assert_eq!(lines.len(), 3, "{lines:?}");
    let first = &lines[0];
    assert!(first.starts_with("INFO:     127.0.0.1:"), "{first}");
    assert!(
        first.ends_with("\"POST /v1/chat/completions HTTP/1.1\" 200 OK"),
        "{first}"
    );
    let all = gw.output.text();
    for secret in ["do-not-log", PROMPT] {
        assert!(
            !all.contains(secret),
            "{secret} leaked into the logs:\n{all}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn detailed_debug_logs_request_bodies() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::builder(&config(&mock, ""))
        .arg("--detailed_debug")
        .start();
    send_traffic(&gw).await;
    wait_until(
        "the prompt in debug logs",
        std::time::Duration::from_secs(10),
        || gw.output.text().contains(PROMPT).then_some(()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_from_config_or_env_and_json_logs_false_means_text() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::start(&config(&mock, "litellm_settings:\n  json_logs: true\n"));
    send_traffic(&gw).await;
    access_lines(&gw, 3).await;
    for line in gw.output.lines() {
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v["message"].is_string() && v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
    }
    let access: serde_json::Value = serde_json::from_str(&access_lines(&gw, 3).await[0]).unwrap();
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["status"], 200);
    drop(gw);

    let gw = Gateway::builder(&config(&mock, "litellm_settings:\n  json_logs: true\n"))
        .env("JSON_LOGS", "False")
        .start();
    send_traffic(&gw).await;
    let lines = access_lines(&gw, 3).await;
    assert!(
        lines[0].starts_with("INFO:"),
        "JSON_LOGS=False means text: {}",
        lines[0]
    );
    drop(gw);

    let gw = Gateway::builder(&config(&mock, ""))
        .env("JSON_LOGS", "true")
        .start();
    send_traffic(&gw).await;
    let lines = access_lines(&gw, 3).await;
    assert!(lines[0].starts_with('{'), "{}", lines[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn litellm_log_error_keeps_startup_and_access_lines_but_drops_info() {
    let mock = MockUpstream::start().await;
    mock.on("m", crate::harness::Reply::error(500, "boom"));
    let gw = Gateway::builder(&config(&mock, "router_settings:\n  num_retries: 0\n"))
        .env("LITELLM_LOG", "ERROR")
        .start();
    let resp = post(
        &gw.url("/v1/chat/completions"),
        &[("authorization", "Bearer sk-master-do-not-log")],
        body(),
    )
    .await;
    assert_eq!(resp.status, 500);
    access_lines(&gw, 1).await;
    let text = gw.output.text();
    assert!(
        !text.contains("request failed"),
        "warnings are below ERROR: {text}"
    );
    drop(gw);
    let gw = Gateway::start(&config(&mock, "router_settings:\n  num_retries: 0\n"));
    post(
        &gw.url("/v1/chat/completions"),
        &[("authorization", "Bearer sk-master-do-not-log")],
        body(),
    )
    .await;
    wait_until(
        "the failure warning",
        std::time::Duration::from_secs(10),
        || gw.output.text().contains("request failed").then_some(()),
    )
    .await;
}
