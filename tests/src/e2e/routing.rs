//! Routing inside one process: retries, cooldowns, fallbacks, timeouts, wildcards, load
//! balancing (the reference's section 12).

use std::time::Duration;

use serde_json::json;

use crate::harness::{Gateway, MockUpstream, Reply, post};

fn chat(model: &str) -> String {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}).to_string()
}

fn deployment(group: &str, upstream_model: &str, base: &str, extra: &str) -> String {
    format!(
        "  - model_name: {group}\n    litellm_params:\n      model: openai/{upstream_model}\n      api_base: {base}\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_until_success_and_reports_them() {
    let mock = MockUpstream::start().await;
    mock.script(
        "m",
        vec![
            Reply::error(500, "boom"),
            Reply::error(503, "busy"),
            Reply::chat("third time"),
        ],
    );
    let config = format!(
        "model_list:\n{}router_settings:\n  num_retries: 2\n  retry_after: 0\n",
        deployment("g", "m", &mock.url(), "")
    );
    let gw = Gateway::start(&config);
    let resp = post(&gw.url("/chat/completions"), &[], chat("g")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("x-litellm-attempted-retries"), Some("2"));
    assert_eq!(mock.requests_for("m").len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_policy_and_request_num_retries_limit_retries() {
    let mock = MockUpstream::start().await;
    mock.on("m", Reply::error(429, "limited"));
    let config = format!(
        "model_list:\n{}router_settings:\n  num_retries: 3\n  retry_policy:\n    RateLimitErrorRetries: 0\n",
        deployment("g", "m", &mock.url(), "")
    );
    let gw = Gateway::start(&config);
    let resp = post(&gw.url("/chat/completions"), &[], chat("g")).await;
    assert_eq!(resp.status, 429);
    assert_eq!(mock.requests_for("m").len(), 1, "RateLimitErrorRetries: 0");

    mock.on("m", Reply::error(500, "down"));
    let body = json!({"model": "g", "messages": [], "num_retries": 0}).to_string();
    let resp = post(&gw.url("/chat/completions"), &[], body).await;
    assert_eq!(resp.status, 500);
    assert_eq!(
        mock.requests_for("m").len(),
        2,
        "num_retries: 0 in the body"
    );
    let before = mock.requests_for("m").len();
    let resp = post(
        &gw.url("/chat/completions"),
        &[("x-litellm-num-retries", "1")],
        chat("g"),
    )
    .await;
    assert_eq!(resp.status, 500);
    assert_eq!(
        mock.requests_for("m").len(),
        before + 2,
        "x-litellm-num-retries: 1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_not_retried() {
    let mock = MockUpstream::start().await;
    mock.on("m", Reply::error(400, "bad param"));
    let config = format!(
        "model_list:\n{}router_settings:\n  num_retries: 3\n",
        deployment("g", "m", &mock.url(), "")
    );
    let gw = Gateway::start(&config);
    let resp = post(&gw.url("/chat/completions"), &[], chat("g")).await;
    assert_eq!(resp.status, 400);
    assert_eq!(mock.requests_for("m").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn deployment_max_retries_retry_the_same_deployment() {
    let mock = MockUpstream::start().await;
    mock.script("m", vec![Reply::error(500, "once"), Reply::chat("fine")]);
    let config = format!(
        "model_list:\n{}router_settings:\n  num_retries: 0\n",
        deployment("g", "m", &mock.url(), "      max_retries: 1\n")
    );
    let gw = Gateway::start(&config);
    let resp = post(&gw.url("/chat/completions"), &[], chat("g")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(mock.requests_for("m").len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_deployment_cools_down_and_traffic_moves_to_the_other() {
    let mock = MockUpstream::start().await;
    mock.on("bad", Reply::error(500, "broken"));
    mock.on("fine", Reply::chat("ok"));
    let config = format!(
        "model_list:\n{}{}router_settings:\n  num_retries: 1\n  allowed_fails: 0\n  cooldown_time: 60\n",
        deployment("g", "bad", &mock.url(), ""),
        deployment("g", "fine", &mock.url(), "")
    );
    let gw = Gateway::start(&config);
    for _ in 0..20 {
        let resp = post(&gw.url("/chat/completions"), &[], chat("g")).await;
        assert_eq!(resp.status, 200, "{}", resp.text());
    }
    assert_eq!(
        mock.requests_for("bad").len(),
        1,
        "cooled after its first failure"
    );
    assert_eq!(mock.requests_for("fine").len(), 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_deployment_group_is_never_cooled() {
    let mock = MockUpstream::start().await;
    mock.on("solo", Reply::error(500, "broken"));
    let config = format!(
        "model_list:\n{}router_settings:\n  num_retries: 0\n  allowed_fails: 0\n  cooldown_time: 60\n",
        deployment("g", "solo", &mock.url(), "")
    );
    let gw = Gateway::start(&config);
    for _ in 0..3 {
        let resp = post(&gw.url("/chat/completions"), &[], chat("g")).await;
        assert_eq!(
            resp.status,
            500,
            "the upstream's error, not a cooldown 429: {}",
            resp.text()
        );
    }
    assert_eq!(mock.requests_for("solo").len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn all_deployments_cooling_is_a_429_with_retry_after() {
    let mock = MockUpstream::start().await;
    mock.on("a", Reply::error(429, "limited"));
    mock.on("b", Reply::error(429, "limited"));
    let config = format!(
        "model_list:\n{}{}router_settings:\n  num_retries: 0\n  cooldown_time: 30\n",
        deployment("g", "a", &mock.url(), ""),
        deployment("g", "b", &mock.url(), "")
    );
    let gw = Gateway::start(&config);
    post(&gw.url("/chat/completions"), &[], chat("g")).await;
    post(&gw.url("/chat/completions"), &[], chat("g")).await;
    let resp = post(&gw.url("/chat/completions"), &[], chat("g")).await;
    assert_eq!(resp.status, 429);
    assert!(
        resp.error_message()
            .starts_with("No deployments available for selected model, Try again in 30 seconds"),
        "{}",
        resp.error_message()
    );
    assert_eq!(resp.header("retry-after"), Some("30"));
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn fallbacks_by_error_kind() {
    let mock = MockUpstream::start().await;
    mock.on("primary", Reply::error(500, "down"));
    mock.on("small", Reply::json(400, json!({"error": {"message": "This model's maximum context length is 10 tokens", "code": "context_length_exceeded"}})));
    mock.on(
        "filtered",
        Reply::json(
            400,
            json!({"error": {"message": "blocked", "code": "content_policy_violation"}}),
        ),
    );
    mock.on("backup", Reply::chat("from backup"));
    mock.on("big", Reply::chat("from big"));
    mock.on("safe", Reply::chat("from safe"));
    let base = mock.url();
    let config = format!(
        "model_list:\n{}{}{}{}{}{}router_settings:\n  num_retries: 0\n  fallbacks: [{{\"primary\": [\"backup\"]}}]\n  context_window_fallbacks: [{{\"small\": [\"big\"]}}]\n  content_policy_fallbacks: [{{\"filtered\": [\"safe\"]}}]\n",
        deployment("primary", "primary", &base, ""),
        deployment("backup", "backup", &base, ""),
        deployment("small", "small", &base, ""),
        deployment("big", "big", &base, ""),
        deployment("filtered", "filtered", &base, ""),
        deployment("safe", "safe", &base, ""),
    );
    let gw = Gateway::start(&config);
    for (group, expect) in [
        ("primary", "from backup"),
        ("small", "from big"),
        ("filtered", "from safe"),
    ] {
        let resp = post(&gw.url("/chat/completions"), &[], chat(group)).await;
        assert_eq!(resp.status, 200, "{group}: {}", resp.text());
        assert_eq!(resp.json()["choices"][0]["message"]["content"], expect);
        assert_eq!(resp.header("x-litellm-attempted-fallbacks"), Some("1"));
        assert_eq!(
            resp.header("x-litellm-model-group"),
            Some(expect.trim_start_matches("from "))
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn default_fallbacks_client_fallbacks_and_the_final_error() {
    let mock = MockUpstream::start().await;
    mock.on("a", Reply::error(503, "a down"));
    mock.on("b", Reply::error(503, "b down"));
    mock.on("c", Reply::chat("from c"));
    let base = mock.url();
    let config = format!(
        "model_list:\n{}{}{}router_settings:\n  num_retries: 0\n  default_fallbacks: [\"b\"]\n",
        deployment("a", "a", &base, ""),
        deployment("b", "b", &base, ""),
        deployment("c", "c", &base, ""),
    );
    let gw = Gateway::start(&config);
    let resp = post(&gw.url("/chat/completions"), &[], chat("a")).await;
    assert_eq!(resp.status, 503, "every group failed: the original error");
    assert!(
        resp.error_message().contains("a down"),
        "{}",
        resp.error_message()
    );
    assert!(
        resp.error_message()
            .contains("Available Model Group Fallbacks=[\"b\"]"),
        "{}",
        resp.error_message()
    );
    assert_eq!(resp.header("x-litellm-attempted-fallbacks"), Some("1"));

    let body = json!({"model": "a", "messages": [], "fallbacks": ["c"]}).to_string();
    let resp = post(&gw.url("/chat/completions"), &[], body).await;
    assert_eq!(resp.status, 200, "client-side fallbacks: {}", resp.text());
    assert_eq!(resp.json()["choices"][0]["message"]["content"], "from c");

    // mock_testing_fallbacks fails the first group on purpose; `a` fails for real, `c` answers.
    let body = json!({"model": "b", "messages": [], "mock_testing_fallbacks": true, "fallbacks": ["a", "c"]}).to_string();
    let resp = post(&gw.url("/chat/completions"), &[], body).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("x-litellm-attempted-fallbacks"), Some("2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn max_fallbacks_caps_the_chain() {
    let mock = MockUpstream::start().await;
    for m in ["a", "b", "c"] {
        mock.on(m, Reply::error(500, "down"));
    }
    mock.on("d", Reply::chat("never reached"));
    let base = mock.url();
    let config = format!(
        "model_list:\n{}{}{}{}router_settings:\n  num_retries: 0\n  max_fallbacks: 2\n  fallbacks: [{{\"a\": [\"b\", \"c\", \"d\"]}}]\n",
        deployment("a", "a", &base, ""),
        deployment("b", "b", &base, ""),
        deployment("c", "c", &base, ""),
        deployment("d", "d", &base, ""),
    );
    let gw = Gateway::start(&config);
    let resp = post(&gw.url("/chat/completions"), &[], chat("a")).await;
    assert_eq!(resp.status, 500);
    assert!(mock.requests_for("d").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_precedence_request_then_deployment_then_router() {
    let mock = MockUpstream::start().await;
    mock.on(
        "slow",
        Reply::chat("slow").with_delay(Duration::from_millis(1500)),
    );
    let base = mock.url();
    let config = format!(
        "model_list:\n{}{}router_settings:\n  num_retries: 0\n  timeout: 0.2\nlitellm_settings:\n  request_timeout: 600\n",
        deployment("router-timeout", "slow", &base, ""),
        deployment("patient", "slow", &base, "      timeout: 10\n"),
    );
    let gw = Gateway::start(&config);
    let resp = post(&gw.url("/chat/completions"), &[], chat("router-timeout")).await;
    assert_eq!(resp.status, 408, "router_settings.timeout applies");
    let resp = post(&gw.url("/chat/completions"), &[], chat("patient")).await;
    assert_eq!(
        resp.status, 200,
        "the deployment's timeout wins over the router's"
    );
    assert_eq!(resp.header("x-litellm-timeout"), Some("10"));
    let body = json!({"model": "patient", "messages": [], "timeout": 0.2}).to_string();
    let resp = post(&gw.url("/chat/completions"), &[], body).await;
    assert_eq!(
        resp.status, 408,
        "the request's timeout wins over the deployment's"
    );
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.body.get("timeout").is_none()),
        "timeout is not forwarded"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wildcard_groups_pass_the_model_through() {
    let mock = MockUpstream::start().await;
    let base = mock.url();
    let config = format!(
        "model_list:\n  - model_name: \"openai/*\"\n    litellm_params:\n      model: \"openai/*\"\n      api_base: {base}\n  - model_name: \"*\"\n    litellm_params:\n      model: \"hosted_vllm/*\"\n      api_base: {base}/v1\n"
    );
    let gw = Gateway::start(&config);
    let resp = post(
        &gw.url("/chat/completions"),
        &[],
        chat("openai/gpt-4o-mini"),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(mock.requests().last().unwrap().body["model"], "gpt-4o-mini");
    assert_eq!(mock.requests().last().unwrap().path, "/chat/completions");
    assert_eq!(
        resp.header("x-litellm-model-group"),
        Some("openai/gpt-4o-mini")
    );
    let cost: f64 = resp
        .header("x-litellm-response-cost")
        .unwrap()
        .parse()
        .unwrap();
    assert!(cost > 0.0, "gpt-4o-mini is priced from the bundled map");
    let resp = post(
        &gw.url("/chat/completions"),
        &[],
        chat("meta-llama/Llama-3-8B"),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let last = mock.requests().last().unwrap().clone();
    assert_eq!(
        (last.path.as_str(), last.body["model"].as_str()),
        ("/v1/chat/completions", Some("meta-llama/Llama-3-8B"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn weights_split_traffic() {
    let mock = MockUpstream::start().await;
    let base = mock.url();
    let config = format!(
        "model_list:\n{}{}",
        deployment("g", "heavy", &base, "      weight: 9\n"),
        deployment("g", "light", &base, "      weight: 1\n"),
    );
    let gw = Gateway::start(&config);
    for _ in 0..100 {
        assert_eq!(
            post(&gw.url("/chat/completions"), &[], chat("g"))
                .await
                .status,
            200
        );
    }
    let heavy = mock.requests_for("heavy").len();
    assert!((70..=100).contains(&heavy), "heavy got {heavy} of 100");
}
