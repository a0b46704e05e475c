//! Streaming: SSE relayed chunk by chunk, `[DONE]`, usage, mid-stream failures, cancellation.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;

use crate::harness::mock::{chunk_event, usage_event};
use crate::harness::{
    Gateway, MockUpstream, Reply, SseEnd, SseStep, post, post_stream, wait_until,
};

fn config(mock: &MockUpstream, extra: &str) -> String {
    format!(
        r#"
model_list:
  - model_name: streamer
    litellm_params:
      model: openai/up-stream
      api_base: {base}
      api_key: sk-up
      {extra}
"#,
        base = mock.url()
    )
}

fn stream_body(include_usage: Option<bool>) -> String {
    let mut body = json!({"model": "streamer", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    if let Some(flag) = include_usage {
        body["stream_options"] = json!({"include_usage": flag});
    }
    body.to_string()
}

fn data_events(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|e| e.trim().strip_prefix("data: ").map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn first_chunk_reaches_the_client_before_the_upstream_sends_its_last() {
    let mock = MockUpstream::start().await;
    let gate = Arc::new(Notify::new());
    mock.on(
        "up-stream",
        Reply::Sse {
            steps: vec![
                SseStep::Send(chunk_event("first")),
                SseStep::Gate(Arc::clone(&gate)),
                SseStep::Send(chunk_event("last")),
                SseStep::Send("data: [DONE]\n\n".into()),
            ],
            end: SseEnd::Close,
        },
    );
    let gw = Gateway::start(&config(&mock, ""));
    let mut stream = post_stream(&gw.url("/v1/chat/completions"), &[], stream_body(None)).await;
    assert_eq!(stream.status, 200);
    assert_eq!(
        stream.headers.get("content-type").unwrap(),
        "text/event-stream"
    );
    // The upstream is holding its last chunk until we say so: this chunk can only arrive if
    // the gateway forwards without waiting for the end.
    let first = stream
        .next_chunk(Duration::from_secs(10))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("first"));
    gate.notify_one();
    let rest = stream.rest().await;
    assert!(rest.contains("last"));
    assert!(rest.trim_end().ends_with("data: [DONE]"), "{rest}");
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_chunk_only_when_the_client_asks_but_always_requested_upstream() {
    let mock = MockUpstream::start().await;
    mock.on("up-stream", Reply::chat_stream(&["a", "b"]));
    let gw = Gateway::start(&config(&mock, ""));

    let without = post_stream(&gw.url("/chat/completions"), &[], stream_body(None))
        .await
        .rest()
        .await;
    let events = data_events(&without);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert!(
        !without.contains("\"usage\""),
        "usage chunk must be removed: {without}"
    );
    let upstream = mock.requests_for("up-stream");
    assert_eq!(
        upstream[0].body["stream_options"]["include_usage"], true,
        "usage requested upstream for cost"
    );

    let with = post_stream(&gw.url("/chat/completions"), &[], stream_body(Some(true)))
        .await
        .rest()
        .await;
    let usage: Vec<serde_json::Value> = data_events(&with)
        .iter()
        .filter(|e| e.contains("\"usage\""))
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(usage.len(), 1, "{with}");
    assert_eq!(usage[0]["usage"]["total_tokens"], 14);
}

#[tokio::test(flavor = "multi_thread")]
async fn done_is_added_when_the_upstream_closes_without_it() {
    let mock = MockUpstream::start().await;
    mock.on(
        "up-stream",
        Reply::Sse {
            steps: vec![SseStep::Send(chunk_event("only"))],
            end: SseEnd::Close,
        },
    );
    let gw = Gateway::start(&config(&mock, ""));
    let text = post_stream(&gw.url("/chat/completions"), &[], stream_body(None))
        .await
        .rest()
        .await;
    assert_eq!(
        data_events(&text).last().map(String::as_str),
        Some("[DONE]"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_failure_mid_stream_becomes_an_error_event_and_is_not_retried() {
    let mock = MockUpstream::start().await;
    let gate = Arc::new(Notify::new());
    mock.on(
        "up-stream",
        Reply::Sse {
            steps: vec![
                SseStep::Send(chunk_event("partial")),
                SseStep::Gate(Arc::clone(&gate)),
            ],
            end: SseEnd::Abort,
        },
    );
    let gw = Gateway::start(&config(&mock, ""));
    let mut stream = post_stream(&gw.url("/chat/completions"), &[], stream_body(None)).await;
    let first = stream
        .next_chunk(Duration::from_secs(10))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("partial"));
    // Only now does the upstream break its connection.
    gate.notify_one();
    let text = stream.rest().await;
    let events = data_events(&text);
    let last: serde_json::Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "500", "{text}");
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("stream"),
        "{text}"
    );
    assert!(!text.contains("[DONE]"));
    assert_eq!(
        mock.requests_for("up-stream").len(),
        1,
        "no retry after the first byte"
    );
    // The worker keeps serving.
    mock.on("up-stream", Reply::chat_stream(&["ok"]));
    let again = post_stream(&gw.url("/chat/completions"), &[], stream_body(None))
        .await
        .rest()
        .await;
    assert!(again.contains("[DONE]"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_timeout_between_chunks_becomes_an_error_event() {
    let mock = MockUpstream::start().await;
    mock.on(
        "up-stream",
        Reply::Sse {
            steps: vec![
                SseStep::Send(chunk_event("one")),
                SseStep::Delay(Duration::from_secs(5)),
                SseStep::Send(chunk_event("late")),
            ],
            end: SseEnd::Close,
        },
    );
    let gw = Gateway::start(&config(&mock, "stream_timeout: 0.3"));
    let text = post_stream(&gw.url("/chat/completions"), &[], stream_body(None))
        .await
        .rest()
        .await;
    let events = data_events(&text);
    let last: serde_json::Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "408", "{text}");
    assert!(!text.contains("late"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_disconnects_cancels_the_upstream_request() {
    let mock = MockUpstream::start().await;
    mock.on(
        "up-stream",
        Reply::Sse {
            steps: vec![SseStep::Send(chunk_event("tick"))],
            end: SseEnd::Linger,
        },
    );
    let gw = Gateway::start(&config(&mock, ""));
    let mut stream = post_stream(&gw.url("/chat/completions"), &[], stream_body(None)).await;
    let first = stream
        .next_chunk(Duration::from_secs(10))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("tick"));
    assert_eq!(mock.disconnects("up-stream"), 0);
    drop(stream);
    wait_until(
        "the upstream to see its client go away",
        Duration::from_secs(10),
        || (mock.disconnects("up-stream") == 1).then_some(()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_error_before_the_stream_starts_is_a_normal_error_response() {
    let mock = MockUpstream::start().await;
    mock.on("up-stream", Reply::error(429, "slow down"));
    let gw = Gateway::start(&config(&mock, ""));
    let resp = post(
        &gw.url("/chat/completions"),
        &[("x-litellm-num-retries", "0")],
        stream_body(None),
    )
    .await;
    assert_eq!(resp.status, 429, "{}", resp.text());
    assert!(resp.error_message().contains("slow down"));
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_event_helper_is_well_formed() {
    // Guards the fixtures the other tests rely on.
    let v: serde_json::Value =
        serde_json::from_str(usage_event().trim().strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(v["usage"]["total_tokens"], 14);
}
