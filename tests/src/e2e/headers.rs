//! The response headers: `x-litellm-*`, `llm_provider-*`, cost from the price map.

use serde_json::json;

use crate::harness::{Gateway, MockUpstream, Reply, post};

#[tokio::test(flavor = "multi_thread")]
async fn litellm_headers_and_provider_headers_are_set() {
    let mock = MockUpstream::start().await;
    mock.on(
        "gpt-4o-mini",
        Reply::chat("hi")
            .with_header("x-request-id", "req-123")
            .with_header("x-ratelimit-remaining-requests", "99"),
    );
    let config = format!(
        "model_list:\n  - model_name: mini\n    litellm_params:\n      model: openai/gpt-4o-mini\n      api_base: {}/v1?ignored=1\n    model_info:\n      id: mini-1\n",
        mock.url()
    );
    let gw = Gateway::start(&config);
    let body =
        json!({"model": "mini", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let resp = post(
        &gw.url("/chat/completions"),
        &[("x-litellm-call-id", "my-call-42")],
        body,
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("x-litellm-call-id"), Some("my-call-42"));
    assert_eq!(resp.header("x-litellm-model-id"), Some("mini-1"));
    assert_eq!(resp.header("x-litellm-model-group"), Some("mini"));
    assert_eq!(
        resp.header("x-litellm-model-api-base"),
        Some(format!("{}/v1", mock.url()).as_str())
    );
    assert_eq!(
        resp.header("x-litellm-version"),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(resp.header("x-litellm-attempted-retries"), Some("0"));
    assert_eq!(resp.header("x-litellm-attempted-fallbacks"), Some("0"));
    assert_eq!(resp.header("llm_provider-x-request-id"), Some("req-123"));
    assert_eq!(resp.header("x-ratelimit-remaining-requests"), Some("99"));
    let total: f64 = resp
        .header("x-litellm-response-duration-ms")
        .unwrap()
        .parse()
        .unwrap();
    let overhead: f64 = resp
        .header("x-litellm-overhead-duration-ms")
        .unwrap()
        .parse()
        .unwrap();
    assert!(total >= overhead && overhead >= 0.0);
    // gpt-4o-mini from the bundled price map, 9 prompt + 5 completion tokens.
    let map: serde_json::Value = serde_json::from_str(include_str!(
        "../../../crates/haimaker-pricing/data/model_prices.json"
    ))
    .unwrap();
    let entry = &map["gpt-4o-mini"];
    let expected = 9.0 * entry["input_cost_per_token"].as_f64().unwrap()
        + 5.0 * entry["output_cost_per_token"].as_f64().unwrap();
    let cost: f64 = resp
        .header("x-litellm-response-cost")
        .unwrap()
        .parse()
        .unwrap();
    assert!((cost - expected).abs() < 1e-12, "cost {cost} vs {expected}");
}

#[tokio::test(flavor = "multi_thread")]
async fn deployment_prices_override_the_map_and_a_new_call_id_is_made() {
    let mock = MockUpstream::start().await;
    let config = format!(
        "model_list:\n  - model_name: priced\n    litellm_params:\n      model: openai/custom\n      api_base: {}\n      input_cost_per_token: 0.5\n      output_cost_per_token: 2\n",
        mock.url()
    );
    let gw = Gateway::start(&config);
    let body = json!({"model": "priced", "messages": []}).to_string();
    let resp = post(&gw.url("/chat/completions"), &[], body).await;
    let cost: f64 = resp
        .header("x-litellm-response-cost")
        .unwrap()
        .parse()
        .unwrap();
    assert!((cost - (9.0 * 0.5 + 5.0 * 2.0)).abs() < 1e-9, "{cost}");
    let id = resp.header("x-litellm-call-id").unwrap();
    assert_eq!(id.len(), 36, "a uuid4: {id}");
    let error = post(&gw.url("/chat/completions"), &[], "{").await;
    assert!(
        error.header("x-litellm-call-id").is_some(),
        "errors carry the call id too"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_connections_are_pooled() {
    let mock = MockUpstream::start().await;
    let config = format!(
        "model_list:\n  - model_name: g\n    litellm_params:\n      model: openai/m\n      api_base: {}\n",
        mock.url()
    );
    let gw = Gateway::start(&config);
    for _ in 0..5 {
        let body = json!({"model": "g", "messages": []}).to_string();
        assert_eq!(
            post(&gw.url("/chat/completions"), &[], body).await.status,
            200
        );
    }
    let peers: std::collections::HashSet<_> = mock.requests().iter().map(|r| r.peer).collect();
    assert_eq!(
        peers.len(),
        1,
        "five sequential calls share one keep-alive connection"
    );
}
