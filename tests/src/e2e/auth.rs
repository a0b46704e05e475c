//! Authentication with the master key (reference sections 4.4 and 5.2).

use serde_json::json;

use crate::harness::{Gateway, MockUpstream, get, post};

fn config(mock: &MockUpstream, master: &str) -> String {
    format!(
        "model_list:\n  - model_name: g\n    litellm_params:\n      model: openai/m\n      api_base: {}\n      api_key: sk-upstream-secret\n{master}",
        mock.url()
    )
}

fn chat() -> String {
    json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]}).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_master_key_is_read_from_every_supported_header() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::start(&config(
        &mock,
        "general_settings:\n  master_key: sk-master-1\n  litellm_key_header_name: X-Custom-Key\n",
    ));
    for header in [
        ("authorization", "Bearer sk-master-1"),
        ("authorization", "bearer sk-master-1"),
        ("api-key", "sk-master-1"),
        ("x-api-key", "sk-master-1"),
        ("x-custom-key", "sk-master-1"),
    ] {
        let resp = post(&gw.url("/chat/completions"), &[header], chat()).await;
        assert_eq!(resp.status, 200, "{header:?}: {}", resp.text());
    }
    for r in mock.requests() {
        assert_eq!(
            r.headers.get("authorization").unwrap(),
            "Bearer sk-upstream-secret"
        );
        assert!(
            r.headers.get("api-key").is_none()
                && r.headers.get("x-api-key").is_none()
                && r.headers.get("x-custom-key").is_none(),
            "client credentials must not reach the upstream"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_missing_and_virtual_keys_are_refused_like_litellm() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::start(&config(
        &mock,
        "general_settings:\n  master_key: sk-master-1\n",
    ));
    let url = gw.url("/v1/chat/completions");

    let none = post(&url, &[], chat()).await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.json(),
        json!({"error": {"message": "Authentication Error, No api key passed in.", "type": "auth_error", "param": "None", "code": "401"}})
    );

    let malformed = post(&url, &[("authorization", "sk-master-1")], chat()).await;
    assert_eq!(malformed.status, 401);
    assert!(
        malformed
            .error_message()
            .contains("Malformed API Key passed in. Ensure Key has `Bearer ` prefix.")
    );

    let not_sk = post(&url, &[("authorization", "Bearer hello-there-key")], chat()).await;
    assert_eq!(not_sk.status, 401);
    assert!(
        not_sk
            .error_message()
            .contains("expected to start with 'sk-'")
    );
    assert!(
        !not_sk.text().contains("hello-there-key"),
        "the key is abbreviated in messages"
    );

    let virtual_key = post(
        &url,
        &[("authorization", "Bearer sk-some-virtual-key")],
        chat(),
    )
    .await;
    assert_eq!(virtual_key.status, 400);
    assert_eq!(virtual_key.json()["error"]["type"], "no_db_connection");
    assert_eq!(virtual_key.error_message(), "No connected db.");

    let models = get(&gw.url("/v1/models"), &[]).await;
    assert_eq!(models.status, 401, "the model list needs a key too");
    assert!(
        mock.requests().is_empty(),
        "nothing unauthenticated reaches the upstream"
    );
    assert_eq!(
        get(&gw.url("/health/readiness"), &[]).await.status,
        200,
        "probes stay public"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_master_key_the_proxy_is_open() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::start(&config(&mock, ""));
    assert_eq!(
        post(&gw.url("/chat/completions"), &[], chat()).await.status,
        200
    );
    let with_any_key = post(
        &gw.url("/chat/completions"),
        &[("authorization", "Bearer whatever")],
        chat(),
    )
    .await;
    assert_eq!(with_any_key.status, 200);
    assert_eq!(
        mock.requests()[1].headers.get("authorization").unwrap(),
        "Bearer sk-upstream-secret"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn litellm_master_key_env_is_the_default_master_key() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::builder(&config(&mock, ""))
        .env("LITELLM_MASTER_KEY", "sk-from-env")
        .start();
    assert_eq!(
        post(&gw.url("/chat/completions"), &[], chat()).await.status,
        401
    );
    let ok = post(
        &gw.url("/chat/completions"),
        &[("authorization", "Bearer sk-from-env")],
        chat(),
    )
    .await;
    assert_eq!(ok.status, 200);
}
