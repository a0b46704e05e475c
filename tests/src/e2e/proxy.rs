//! The basic proxy path: routes, request rewriting, the response as the client sees it.

use serde_json::json;

use crate::harness::{Gateway, MockUpstream, Reply, get, post};

const KEY: (&str, &str) = ("authorization", "Bearer sk-master");

fn config(mock: &MockUpstream) -> String {
    format!(
        r#"
model_list:
  - model_name: gpt-test
    litellm_params:
      model: openai/upstream-gpt
      api_base: {base}
      api_key: sk-deployment-key
    model_info:
      id: dep-gpt
  - model_name: embed-test
    litellm_params:
      model: openai/upstream-embed
      api_base: {base}
      api_key: sk-deployment-key
  - model_name: text-test
    litellm_params:
      model: openai/upstream-text
      api_base: {base}
general_settings:
  master_key: sk-master
"#,
        base = mock.url()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_completion_reaches_the_upstream_with_its_model_and_key() {
    let mock = MockUpstream::start().await;
    mock.on("upstream-gpt", Reply::chat("hello from upstream"));
    let gw = Gateway::start(&config(&mock));
    let resp = post(
        &gw.url("/v1/chat/completions"),
        &[KEY],
        json!({"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}).to_string(),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json()["choices"][0]["message"]["content"],
        "hello from upstream"
    );
    let seen = mock.requests_for("upstream-gpt");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/chat/completions");
    assert_eq!(
        seen[0].body["model"], "upstream-gpt",
        "the upstream sees the provider model name"
    );
    assert_eq!(seen[0].body["temperature"], 0.2);
    assert_eq!(
        seen[0].headers.get("authorization").unwrap(),
        "Bearer sk-deployment-key",
        "the upstream sees the deployment's key, never the client's"
    );
    assert_eq!(resp.header("x-litellm-model-id"), Some("dep-gpt"));
    assert_eq!(resp.header("x-litellm-model-group"), Some("gpt-test"));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_path_form_of_every_call_type_is_served() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::start(&config(&mock));
    let cases = [
        (
            "chat/completions",
            "gpt-test",
            "upstream-gpt",
            "/chat/completions",
        ),
        ("completions", "text-test", "upstream-text", "/completions"),
        ("embeddings", "embed-test", "upstream-embed", "/embeddings"),
    ];
    for (suffix, group, upstream_model, upstream_path) in cases {
        let body = json!({"model": group, "messages": [{"role": "user", "content": "x"}], "prompt": "x", "input": "x"}).to_string();
        let no_model = json!({"messages": [], "prompt": "x", "input": "x"}).to_string();
        let forms = [
            (format!("/{suffix}"), body.clone()),
            (format!("/v1/{suffix}"), body.clone()),
            (format!("/engines/{group}/{suffix}"), no_model.clone()),
            (
                format!("/openai/deployments/{group}/{suffix}"),
                no_model.clone(),
            ),
        ];
        for (path, body) in forms {
            let before = mock.requests_for(upstream_model).len();
            let resp = post(&gw.url(&path), &[KEY], body).await;
            assert_eq!(resp.status, 200, "{path}: {}", resp.text());
            let seen = mock.requests_for(upstream_model);
            assert_eq!(seen.len(), before + 1, "{path} reached the upstream");
            assert_eq!(seen.last().unwrap().path, upstream_path, "{path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn model_list_and_model_info_hide_secrets() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::start(&config(&mock));
    for path in ["/models", "/v1/models"] {
        let resp = get(&gw.url(path), &[KEY]).await;
        assert_eq!(resp.status, 200);
        let body = resp.json();
        assert_eq!(body["object"], "list");
        let ids: Vec<&str> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec!["gpt-test", "embed-test", "text-test"]);
        assert_eq!(body["data"][0]["object"], "model");
    }
    let one = get(&gw.url("/v1/models/gpt-test"), &[KEY]).await;
    assert_eq!(
        (one.status, one.json()["id"].as_str()),
        (200, Some("gpt-test"))
    );
    let missing = get(&gw.url("/models/nope"), &[KEY]).await;
    assert_eq!(missing.status, 404);
    for path in ["/model/info", "/v1/model/info"] {
        let resp = get(&gw.url(path), &[KEY]).await;
        assert_eq!(resp.status, 200);
        assert!(
            !resp.text().contains("sk-deployment-key"),
            "secret leaked: {}",
            resp.text()
        );
        let first = &resp.json()["data"][0];
        assert_eq!(first["model_name"], "gpt-test");
        assert_eq!(first["litellm_params"]["model"], "openai/upstream-gpt");
        assert_eq!(first["model_info"]["id"], "dep-gpt");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn health_probes_are_public() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::start(&config(&mock));
    for path in ["/health/liveliness", "/health/liveness"] {
        let resp = get(&gw.url(path), &[]).await;
        assert_eq!((resp.status, resp.text().as_str()), (200, "\"I'm alive!\""));
    }
    let ready = get(&gw.url("/health/readiness"), &[]).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["status"], "healthy");
    let options =
        crate::harness::request(http::Method::OPTIONS, &gw.url("/health/readiness"), &[], "").await;
    assert_eq!(
        (options.status, options.header("allow")),
        (200, Some("GET, OPTIONS"))
    );
}
