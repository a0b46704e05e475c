//! `azure/<deployment>`: deployment-path URLs with `api-version`, `api-key` or an Entra ID
//! token, Azure's error bodies and content-filter results, checked against a mock that asserts
//! the request field by field (learn.microsoft.com, "Azure OpenAI REST API reference").

use serde_json::json;

use crate::harness::mock::{chunk_event, usage_event};
use crate::harness::{Gateway, MockUpstream, Reply, post, post_stream};

fn config(mock: &MockUpstream) -> String {
    format!(
        r#"
model_list:
  - model_name: az-chat
    litellm_params:
      model: azure/gpt4o-prod
      api_base: {base}
      api_version: "2024-06-01"
      api_key: azure-key-1
  - model_name: az-ad
    litellm_params:
      model: azure/gpt4o-ad
      api_base: {base}/
      azure_ad_token: eyJ-entra-token
  - model_name: az-embed
    litellm_params:
      model: azure/text-embedding-3-small
      api_base: {base}
      api_key: azure-key-1
  - model_name: az-filtered
    litellm_params:
      model: azure/filtered-deployment
      api_base: {base}
      api_key: azure-key-1
  - model_name: az-filtered-alone
    litellm_params:
      model: azure/filtered-deployment
      api_base: {base}
      api_key: azure-key-1
  - model_name: az-throttled
    litellm_params:
      model: azure/throttled-deployment
      api_base: {base}
      api_key: azure-key-1
  - model_name: safe
    litellm_params:
      model: openai/safe-model
      api_base: {base}
      api_key: sk-openai
router_settings:
  num_retries: 0
  content_policy_fallbacks: [{{"az-filtered": ["safe"]}}]
"#,
        base = mock.url()
    )
}

fn chat(model: &str) -> String {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}], "temperature": 0.1})
        .to_string()
}

/// Azure's documented content-filter error (HTTP 400, code `content_filter`).
fn content_filter_body() -> serde_json::Value {
    json!({"error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.",
        "type": null, "param": "prompt", "code": "content_filter", "status": 400,
        "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {
            "hate": {"filtered": false, "severity": "safe"},
            "self_harm": {"filtered": false, "severity": "safe"},
            "sexual": {"filtered": false, "severity": "safe"},
            "violence": {"filtered": true, "severity": "medium"}
        }}
    }})
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_chat_embeddings_and_streams_use_deployment_urls_api_version_and_api_key() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::builder(&config(&mock))
        .env("AZURE_API_VERSION", "2024-10-21")
        .start();

    let resp = post(&gw.url("/v1/chat/completions"), &[], chat("az-chat")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json()["choices"][0]["message"]["content"],
        "mock upstream reply"
    );
    let got = mock.requests_for("gpt4o-prod");
    let r = got.last().unwrap();
    assert_eq!(r.path, "/openai/deployments/gpt4o-prod/chat/completions");
    assert_eq!(r.query.as_deref(), Some("api-version=2024-06-01"));
    assert_eq!(r.headers["api-key"], "azure-key-1");
    assert!(
        r.headers.get("authorization").is_none(),
        "no Bearer with api-key"
    );
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(
        r.body["messages"],
        json!([{"role": "user", "content": "hi"}])
    );
    assert_eq!(r.body["temperature"], 0.1);

    // No api_version in config: AZURE_API_VERSION; no key: the Entra ID token as Bearer.
    let resp = post(&gw.url("/v1/chat/completions"), &[], chat("az-ad")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let r = mock.requests_for("gpt4o-ad").pop().unwrap();
    assert_eq!(r.path, "/openai/deployments/gpt4o-ad/chat/completions");
    assert_eq!(r.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(r.headers["authorization"], "Bearer eyJ-entra-token");
    assert!(r.headers.get("api-key").is_none());

    let resp = post(
        &gw.url("/v1/embeddings"),
        &[],
        json!({"model": "az-embed", "input": "hello"}).to_string(),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let r = mock.requests_for("text-embedding-3-small").pop().unwrap();
    assert_eq!(
        r.path,
        "/openai/deployments/text-embedding-3-small/embeddings"
    );

    // Streams are Azure's OpenAI chunks, relayed as they are.
    mock.on(
        "gpt4o-prod",
        Reply::sse(&[
            &chunk_event("Hel"),
            &chunk_event("lo"),
            &usage_event(),
            "data: [DONE]\n\n",
        ]),
    );
    let mut body: serde_json::Value = serde_json::from_str(&chat("az-chat")).unwrap();
    body["stream"] = json!(true);
    let stream = post_stream(&gw.url("/v1/chat/completions"), &[], body.to_string()).await;
    assert_eq!(stream.status, 200);
    let text = stream.rest().await;
    assert!(
        text.contains("\"Hel\"") && text.contains("\"lo\""),
        "{text}"
    );
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert!(
        !text.contains("\"usage\""),
        "usage chunk removed unless asked: {text}"
    );
    let r = mock.requests_for("gpt4o-prod").pop().unwrap();
    assert_eq!(r.body["stream_options"], json!({"include_usage": true}));
    assert_eq!(r.query.as_deref(), Some("api-version=2024-06-01"));
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_errors_map_to_openai_shape_and_content_filter_falls_back() {
    let mock = MockUpstream::start().await;
    mock.on(
        "filtered-deployment",
        Reply::json(400, content_filter_body()),
    );
    mock.on("safe-model", Reply::chat("from safe"));
    mock.on(
        "throttled-deployment",
        Reply::json(429, json!({"error": {"code": "429", "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-06-01 have exceeded token rate limit of your current tier."}}))
            .with_header("retry-after", "7"),
    );
    let gw = Gateway::start(&config(&mock));

    // content_policy_fallbacks: the filtered group falls back to `safe`.
    let resp = post(&gw.url("/v1/chat/completions"), &[], chat("az-filtered")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["choices"][0]["message"]["content"], "from safe");
    assert_eq!(resp.header("x-litellm-attempted-fallbacks"), Some("1"));

    // Without a fallback: the ContentPolicyViolationError itself, OpenAI-shaped.
    let resp = post(
        &gw.url("/v1/chat/completions"),
        &[],
        chat("az-filtered-alone"),
    )
    .await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    let e = resp.json();
    assert_eq!(e["error"]["code"], "400");
    assert_eq!(e["error"]["param"], "prompt");
    assert!(
        e["error"]["message"].as_str().unwrap().starts_with(
            "litellm.ContentPolicyViolationError: AzureException - The response was filtered"
        ),
        "{e}"
    );
    let resp = post(
        &gw.url("/v1/chat/completions"),
        &[],
        json!({"model": "az-throttled", "messages": [{"role": "user", "content": "hi"}]})
            .to_string(),
    )
    .await;
    assert_eq!(resp.status, 429, "{}", resp.text());
    let e = resp.json();
    assert_eq!(e["error"]["code"], "429");
    assert_eq!(e["error"]["type"], "rate_limit_error");
    assert!(
        e["error"]["message"].as_str().unwrap().starts_with(
            "litellm.RateLimitError: AzureException - Requests to the ChatCompletions_Create"
        ),
        "{e}"
    );
    assert_eq!(resp.header("retry-after"), Some("7"));
}
