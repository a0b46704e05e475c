//! `/metrics`: the pod's Prometheus text, summed over every worker by the supervisor, on the
//! health port and (with a key) on the main port; recycles must not reset what Prometheus saw.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Gateway, GatewayBuilder, MockUpstream, Reply, get, post, post_stream};

const DEADLINE: Duration = Duration::from_secs(20);

fn config(mock: &MockUpstream, extra: &str) -> String {
    format!(
        "model_list:\n  - model_name: g\n    litellm_params:\n      model: openai/m\n      api_base: {url}\n  - model_name: bad\n    litellm_params:\n      model: openai/bad\n      api_base: {url}\n{extra}",
        url = mock.url()
    )
}

fn chat(model: &str) -> String {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}).to_string()
}

/// Two workers, the health process, reports every 100 ms.
fn pod(mock: &MockUpstream, extra: &str) -> GatewayBuilder {
    Gateway::builder(&config(mock, extra))
        .workers(2)
        .env("SEPARATE_HEALTH_APP", "1")
        .env("SEPARATE_HEALTH_PORT", "0")
        .env("HAIMAKER_HEARTBEAT_INTERVAL_MS", "100")
        .env("HAIMAKER_METRICS_INTERVAL_MS", "100")
}

/// The value of the first sample of `name` whose label set contains every `labels` pair.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.split(['{', ' '])
                .next()
                .is_some_and(|metric| metric == name)
        })
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Scrapes `url` until `ready` accepts the text; panics with the last text at the deadline.
async fn scrape_until(url: &str, what: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let resp = get(url, &[]).await;
        let text = resp.text();
        if resp.status == 200 && ready(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last /metrics ({}):\n{text}",
            resp.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn total_requests(text: &str, model: &str, status: &str) -> Option<f64> {
    sample(
        text,
        "litellm_proxy_total_requests_metric_total",
        &[("requested_model", model), ("status_code", status)],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_every_request_of_both_workers_across_recycles() {
    let mock = MockUpstream::start().await;
    mock.on("bad", Reply::error(500, "upstream broke"));
    let gw = pod(&mock, "router_settings:\n  num_retries: 0\n")
        .arg("--max_requests_before_restart")
        .arg("6")
        .arg("--min_worker_lifetime")
        .arg("0")
        .start();
    let url = gw.url("/v1/chat/completions");
    for i in 0..40 {
        let resp = post(&url, &[], chat("g")).await;
        assert_eq!(resp.status, 200, "request {i}: {}", resp.text());
    }
    for _ in 0..3 {
        let resp = post_stream(
            &url,
            &[],
            json!({"model": "g", "stream": true, "messages": []}).to_string(),
        )
        .await;
        assert_eq!(resp.status, 200);
        resp.rest().await;
    }
    for _ in 0..2 {
        assert_eq!(post(&url, &[], chat("bad")).await.status, 500);
    }

    let metrics = gw.health_url("/metrics");
    let text = scrape_until(&metrics, "43 successes, 2 failures and a recycle", |t| {
        total_requests(t, "g", "200") == Some(43.0)
            && total_requests(t, "bad", "500") == Some(2.0)
            && sample(t, "haimaker_worker_recycles_total", &[]).is_some_and(|n| n >= 1.0)
    })
    .await;
    assert_eq!(
        sample(
            &text,
            "litellm_proxy_failed_requests_metric_total",
            &[("requested_model", "bad"), ("exception_status", "500")]
        ),
        Some(2.0),
        "{text}"
    );
    // The deployment answered 43 times: 40 buffered (9 + 5 tokens each) and 3 streams.
    let group = [("model_group", "g"), ("model", "openai/m")];
    assert_eq!(
        sample(&text, "litellm_requests_metric_total", &group),
        Some(43.0)
    );
    assert_eq!(
        sample(
            &text,
            "litellm_deployment_success_responses_total",
            &[("litellm_model_name", "openai/m")]
        ),
        Some(43.0)
    );
    assert_eq!(
        sample(
            &text,
            "litellm_deployment_failure_responses_total",
            &[
                ("litellm_model_name", "openai/bad"),
                ("exception_status", "500")
            ]
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            "litellm_llm_api_time_to_first_token_metric_count",
            &group
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, "haimaker_added_latency_seconds_count", &[]),
        Some(40.0),
        "one added-latency sample per buffered answer"
    );
    assert!(text.contains("# TYPE litellm_request_total_latency_metric histogram"));
    assert!(
        sample(&text, "haimaker_in_flight_requests", &[("worker", "1")]).is_some(),
        "{text}"
    );

    // More traffic after the recycles keeps adding to the same counters.
    for _ in 0..7 {
        assert_eq!(post(&url, &[], chat("g")).await.status, 200);
    }
    scrape_until(&metrics, "exactly 50 successes", |t| {
        total_requests(t, "g", "200") == Some(50.0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_main_port_serves_metrics_to_key_holders_only_unless_configured_open() {
    let mock = MockUpstream::start().await;
    let gw = pod(&mock, "general_settings:\n  master_key: sk-metrics\n").start();
    let key = [("authorization", "Bearer sk-metrics")];
    assert_eq!(
        post(&gw.url("/v1/chat/completions"), &key, chat("g"))
            .await
            .status,
        200
    );
    let anonymous = get(&gw.url("/metrics"), &[]).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    let deadline = Instant::now() + DEADLINE;
    loop {
        let resp = get(&gw.url("/metrics"), &key).await;
        assert_eq!(resp.status, 200);
        assert!(
            resp.header("content-type")
                .is_some_and(|c| c.starts_with("text/plain; version=0.0.4"))
        );
        if total_requests(&resp.text(), "g", "200") == Some(1.0) {
            break;
        }
        assert!(Instant::now() < deadline, "{}", resp.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The health port needs no key: it is for the pod's scraper.
    scrape_until(&gw.health_url("/metrics"), "the health port's copy", |t| {
        total_requests(t, "g", "200") == Some(1.0)
    })
    .await;

    let open = pod(
        &mock,
        "general_settings:\n  master_key: sk-metrics\n  require_auth_for_metrics_endpoint: false\n",
    )
    .start();
    assert_eq!(get(&open.url("/metrics"), &[]).await.status, 200);

    let off = pod(&mock, "")
        .env("HAIMAKER_MAIN_PORT_METRICS", "false")
        .start();
    let resp = get(&off.url("/metrics"), &[]).await;
    assert_eq!(resp.status, 404, "{}", resp.text());
    assert!(resp.error_message().contains("health port"));
    assert_eq!(get(&off.health_url("/metrics"), &[]).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn budgets_limits_and_cooldowns_show_in_the_gauges() {
    let mock = MockUpstream::start().await;
    mock.on(
        "m",
        Reply::chat("hello")
            .with_header("x-ratelimit-remaining-requests", "4999")
            .with_header("x-ratelimit-remaining-tokens", "99000"),
    );
    mock.on("bad", Reply::error(429, "slow down"));
    mock.on("bad2", Reply::error(429, "slow down"));
    // A group of two: a deployment that is the only one of its group is never cooled down.
    let pair = format!(
        "  - model_name: bad\n    litellm_params:\n      model: openai/bad2\n      api_base: {}\nrouter_settings:\n  num_retries: 0\n  allowed_fails: 0\n  cooldown_time: 60\n",
        mock.url()
    );
    let gw = pod(&mock, &pair).start();
    let url = gw.url("/v1/chat/completions");
    assert_eq!(post(&url, &[], chat("g")).await.status, 200);
    assert_eq!(post(&url, &[], chat("bad")).await.status, 429);
    let text = scrape_until(&gw.health_url("/metrics"), "gauges", |t| {
        sample(
            t,
            "litellm_remaining_requests_metric",
            &[("model_group", "g")],
        )
        .is_some()
            && sample(t, "litellm_deployment_cooled_down_total", &[]).is_some()
    })
    .await;
    assert_eq!(
        sample(
            &text,
            "litellm_remaining_requests_metric",
            &[("model_group", "g")]
        ),
        Some(4999.0)
    );
    assert_eq!(
        sample(
            &text,
            "litellm_remaining_tokens_metric",
            &[("model_group", "g")]
        ),
        Some(99000.0)
    );
    // Whichever of the two answered first is cooled down, and reported as an outage.
    let cooled = ["openai/bad", "openai/bad2"]
        .into_iter()
        .find(|m| {
            sample(
                &text,
                "litellm_deployment_cooled_down_total",
                &[("litellm_model_name", m), ("exception_status", "429")],
            ) == Some(1.0)
        })
        .unwrap_or_else(|| panic!("no cooldown counted: {text}"));
    assert_eq!(
        sample(
            &text,
            "litellm_deployment_state",
            &[("litellm_model_name", cooled)]
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "litellm_input_tokens_metric_total",
            &[("model_group", "g")]
        ),
        Some(9.0)
    );
    assert_eq!(
        sample(
            &text,
            "litellm_output_tokens_metric_total",
            &[("model_group", "g")]
        ),
        Some(5.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keys_remaining_budget_and_spend_are_gauged() {
    let db = crate::harness::pg::TestDb::create().await;
    let config = "model_list:
  - model_name: priced
    litellm_params:
      model: openai/priced
      mock_response: hello
      input_cost_per_token: 0.5
      output_cost_per_token: 0.25
general_settings:
  master_key: sk-master
  require_auth_for_metrics_endpoint: false
";
    let gw = Gateway::builder(config)
        .env("DATABASE_URL", &db.url)
        .env("HAIMAKER_METRICS_INTERVAL_MS", "100")
        .start();
    let generated = post(
        &gw.url("/key/generate"),
        &[("authorization", "Bearer sk-master")],
        json!({"max_budget": 25, "key_alias": "budgeted"}).to_string(),
    )
    .await;
    assert_eq!(generated.status, 200, "{}", generated.text());
    let key = format!("Bearer {}", generated.json()["key"].as_str().unwrap());
    for _ in 0..2 {
        let resp = post(
            &gw.url("/v1/chat/completions"),
            &[("authorization", &key)],
            chat("priced"),
        )
        .await;
        assert_eq!(resp.status, 200, "{}", resp.text());
    }
    // Every mock call costs 10: 25 - 2 x 10 left.
    let text = scrape_until(&gw.url("/metrics"), "the key's remaining budget", |t| {
        sample(
            t,
            "litellm_remaining_api_key_budget_metric",
            &[("api_key_alias", "budgeted")],
        ) == Some(5.0)
            && sample(t, "haimaker_db_up", &[]) == Some(1.0)
    })
    .await;
    assert_eq!(
        sample(
            &text,
            "litellm_spend_metric_total",
            &[("api_key_alias", "budgeted"), ("model_group", "priced")]
        ),
        Some(20.0),
        "{text}"
    );
    assert!(
        sample(&text, "haimaker_db_pool_connections", &[("state", "max")]) == Some(10.0),
        "database_connection_pool_limit defaults to 10: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn end_users_are_labelled_unless_turned_off_for_prometheus() {
    let mock = MockUpstream::start().await;
    let body = json!({"model": "g", "user": "alice", "messages": []}).to_string();
    for (extra, label) in [
        ("", "alice"),
        (
            "litellm_settings:\n  disable_end_user_cost_tracking_prometheus_only: true\n",
            "",
        ),
    ] {
        let gw = pod(&mock, extra).start();
        assert_eq!(
            post(&gw.url("/v1/chat/completions"), &[], body.clone())
                .await
                .status,
            200
        );
        scrape_until(&gw.health_url("/metrics"), "the end_user label", |t| {
            sample(
                t,
                "litellm_proxy_total_requests_metric_total",
                &[("end_user", label), ("requested_model", "g")],
            ) == Some(1.0)
        })
        .await;
    }
}
