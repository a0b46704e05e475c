//! What haimaker instances share through Redis: rate limits and budgets that hold across
//! instances, key-cache invalidation, routing strategies and their shared state, and serving
//! on through a Redis outage. Every test has its own database and Redis key prefix; "two
//! instances" are two gateways (two supervisors) on the same database and prefix.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::pg::TestDb;
use crate::harness::pgproxy::PgProxy;
use crate::harness::{Gateway, GatewayBuilder, MockUpstream, Reply, Resp, TestRedis, get, post};

const MASTER: &str = "sk-master";
const DEADLINE: Duration = Duration::from_secs(30);

fn gateway(config: &str, db: &TestDb, redis: &TestRedis) -> GatewayBuilder {
    Gateway::builder(config)
        .env("DATABASE_URL", &db.url)
        .env("HAIMAKER_DB_CHECK_INTERVAL_MS", "200")
        .env("HAIMAKER_REDIS_SYNC_MS", "100")
        .redis(redis)
}

fn mock_config(extra_general: &str) -> String {
    format!(
        "model_list:
  - model_name: m
    litellm_params:
      model: openai/m
      mock_response: hello
general_settings:
  master_key: {MASTER}
{extra_general}"
    )
}

async fn generate(gw: &Gateway, body: serde_json::Value) -> String {
    let resp = post(
        &gw.url("/key/generate"),
        &[("authorization", "Bearer sk-master")],
        body.to_string(),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()["key"].as_str().unwrap().to_string()
}

async fn chat_as(gw: &Gateway, key: &str, body: serde_json::Value) -> Resp {
    let auth = format!("Bearer {key}");
    post(
        &gw.url("/v1/chat/completions"),
        &[("authorization", auth.as_str())],
        body.to_string(),
    )
    .await
}

fn hi(model: &str) -> serde_json::Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

/// Waits until at least `margin` seconds are left in the current UTC minute, so a test that
/// counts a minute window does not straddle two.
async fn away_from_minute_end(margin: u64) {
    let deadline = Instant::now() + Duration::from_secs(margin + 5);
    loop {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        if 60 - secs % 60 > margin {
            return;
        }
        assert!(Instant::now() < deadline, "the clock did not move on");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_enforce_one_keys_rpm_limit_together() {
    let (db, redis) = (TestDb::create().await, TestRedis::new().await);
    let a = gateway(&mock_config(""), &db, &redis).start();
    let b = gateway(&mock_config(""), &db, &redis).start();
    let key = generate(&a, json!({"rpm_limit": 5})).await;
    away_from_minute_end(20).await;

    let mut allowed = 0;
    let mut refused = Vec::new();
    for i in 0..12 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let resp = chat_as(gw, &key, hi("m")).await;
        match resp.status {
            200 => {
                allowed += 1;
                assert_eq!(resp.header("x-ratelimit-limit-requests"), Some("5"));
                let left = (5 - allowed).to_string();
                assert_eq!(
                    resp.header("x-ratelimit-remaining-requests"),
                    Some(left.as_str()),
                    "the count is shared: instance {} sees the other's requests; its log:\n{}",
                    i % 2,
                    gw.output.text()
                );
            }
            429 => refused.push(resp),
            other => panic!("unexpected {other}: {}", resp.text()),
        }
    }
    assert_eq!(allowed, 5, "5 requests per minute across both instances");
    assert_eq!(refused.len(), 7);
    for resp in &refused {
        assert_eq!(
            resp.json()["error"]["type"],
            "rate_limit_error",
            "{}",
            resp.text()
        );
        let retry: u64 = resp.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "retry-after {retry}");
        assert_eq!(resp.header("x-ratelimit-remaining-requests"), Some("0"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_share_a_keys_parallel_limit() {
    let (db, redis) = (TestDb::create().await, TestRedis::new().await);
    let mock = MockUpstream::start().await;
    mock.on(
        "slow",
        Reply::chat("done").with_delay(Duration::from_secs(2)),
    );
    let config = format!(
        "model_list:
  - model_name: slow
    litellm_params:
      model: openai/slow
      api_base: {}
general_settings:
  master_key: {MASTER}
",
        mock.url()
    );
    let a = gateway(&config, &db, &redis).start();
    let b = gateway(&config, &db, &redis).start();
    let key = generate(&a, json!({"max_parallel_requests": 2})).await;
    // Two slow calls hold both slots, one on each instance.
    let (ka, kb) = (key.clone(), key.clone());
    let (ua, ub) = (a.url("/v1/chat/completions"), b.url("/v1/chat/completions"));
    let first = tokio::spawn(async move {
        post(
            &ua,
            &[("authorization", &format!("Bearer {ka}"))],
            hi("slow").to_string(),
        )
        .await
    });
    let second = tokio::spawn(async move {
        post(
            &ub,
            &[("authorization", &format!("Bearer {kb}"))],
            hi("slow").to_string(),
        )
        .await
    });
    let deadline = Instant::now() + DEADLINE;
    while mock.requests_for("slow").len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the slow calls never reached the upstream"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let third = chat_as(&a, &key, hi("slow")).await;
    assert_eq!(third.status, 429, "{}", third.text());
    assert!(
        third
            .error_message()
            .contains("Max parallel request limit reached"),
        "{}",
        third.text()
    );
    assert_eq!(first.await.unwrap().status, 200);
    assert_eq!(second.await.unwrap().status, 200);
    // The slots are released when the calls end.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let resp = chat_as(&b, &key, hi("slow")).await;
        if resp.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "slots never released: {}",
            resp.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_on_two_instances_never_overspend_a_budget() {
    let (db, redis) = (TestDb::create().await, TestRedis::new().await);
    let mock = MockUpstream::start().await;
    // 9 prompt + 5 completion tokens at 0.01 each: every call costs 0.14.
    mock.on(
        "priced",
        Reply::chat("ok").with_delay(Duration::from_millis(300)),
    );
    let config = format!(
        "model_list:
  - model_name: priced
    litellm_params:
      model: openai/priced
      api_base: {}
      input_cost_per_token: 0.01
      output_cost_per_token: 0.01
general_settings:
  master_key: {MASTER}
  proxy_batch_write_at: 0.2
",
        mock.url()
    );
    let a = gateway(&config, &db, &redis).workers(2).start();
    let b = gateway(&config, &db, &redis).workers(2).start();
    const COST: f64 = 0.14;
    const MAX_BUDGET: f64 = 1.4; // room for 10 calls
    let key = generate(&a, json!({"max_budget": MAX_BUDGET})).await;

    let body = json!({
        "model": "priced",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "a question long enough to estimate"}],
    })
    .to_string();
    let mut calls = Vec::new();
    for i in 0..100 {
        let url = if i % 2 == 0 {
            a.url("/v1/chat/completions")
        } else {
            b.url("/v1/chat/completions")
        };
        let (auth, body) = (format!("Bearer {key}"), body.clone());
        calls.push(tokio::spawn(async move {
            post(&url, &[("authorization", auth.as_str())], body).await
        }));
    }
    let mut succeeded = 0i64;
    for call in calls {
        let resp = call.await.unwrap();
        match resp.status {
            200 => succeeded += 1,
            429 => assert_eq!(
                resp.json()["error"]["type"],
                "budget_exceeded",
                "{}",
                resp.text()
            ),
            other => panic!("unexpected {other}: {}", resp.text()),
        }
    }
    assert!(succeeded >= 1, "some calls fit the budget");
    assert!(
        succeeded as f64 * COST <= MAX_BUDGET + 1e-9,
        "{succeeded} calls at {COST} overspend a budget of {MAX_BUDGET}"
    );
    assert_eq!(
        mock.requests_for("priced").len() as i64,
        succeeded,
        "refused calls never reach the upstream"
    );
    let concurrent = succeeded;
    assert!(
        concurrent < 100,
        "without reservations all 100 would pass a check of spend < budget"
    );

    // Sequential calls fill the rest of the budget, and stop before passing it.
    let mut refused_on = 0;
    for i in 0..20 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let resp = chat_as(gw, &key, serde_json::from_str(&body).unwrap()).await;
        match resp.status {
            200 => succeeded += 1,
            429 => {
                assert_eq!(
                    resp.json()["error"]["type"],
                    "budget_exceeded",
                    "{}",
                    resp.text()
                );
                refused_on += 1;
                if refused_on == 2 {
                    break;
                }
            }
            other => panic!("unexpected {other}: {}", resp.text()),
        }
    }
    assert_eq!(refused_on, 2, "the budget stops calls on both instances");
    assert!(
        (8..=10).contains(&succeeded),
        "{succeeded} calls fit a budget with room for 10 (each reserving its worst case)"
    );

    // The database agrees once the spend is written.
    let client = db.client().await;
    let token = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
    let deadline = Instant::now() + DEADLINE;
    let spend: f64 = loop {
        let row = client
            .query_one(
                r#"SELECT count(*), coalesce(sum(spend), 0) FROM "LiteLLM_SpendLogs" WHERE api_key = $1"#,
                &[&token],
            )
            .await
            .unwrap();
        if row.get::<_, i64>(0) == succeeded {
            break client
                .query_one(
                    r#"SELECT spend FROM "LiteLLM_VerificationToken" WHERE token = $1"#,
                    &[&token],
                )
                .await
                .unwrap()
                .get(0);
        }
        assert!(Instant::now() < deadline, "spend rows never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        spend <= MAX_BUDGET + 1e-9,
        "key spend {spend} > max_budget {MAX_BUDGET}"
    );
    assert!(
        (spend - succeeded as f64 * COST).abs() < 1e-9,
        "spend {spend} for {succeeded} calls"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_deleted_on_one_instance_is_refused_on_the_other_within_a_second() {
    let (db, redis) = (TestDb::create().await, TestRedis::new().await);
    // A long key-cache TTL: only the invalidation can make the other instance notice.
    let config = mock_config("  user_api_key_cache_ttl: 600\n");
    let a = gateway(&config, &db, &redis).start();
    let b = gateway(&config, &db, &redis).start();
    let key = generate(&a, json!({})).await;
    let blocked_key = generate(&a, json!({})).await;
    // Both are cached on B.
    assert_eq!(chat_as(&b, &key, hi("m")).await.status, 200);
    assert_eq!(chat_as(&b, &blocked_key, hi("m")).await.status, 200);

    let deleted = post(
        &a.url("/key/delete"),
        &[("authorization", "Bearer sk-master")],
        json!({"keys": [key]}).to_string(),
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    let blocked = post(
        &a.url("/key/block"),
        &[("authorization", "Bearer sk-master")],
        json!({"key": blocked_key}).to_string(),
    )
    .await;
    assert_eq!(blocked.status, 200, "{}", blocked.text());
    let changed = Instant::now();

    let deadline = changed + Duration::from_secs(1);
    loop {
        let gone = chat_as(&b, &key, hi("m")).await;
        let stopped = chat_as(&b, &blocked_key, hi("m")).await;
        if gone.status == 401 && stopped.status == 401 {
            assert!(
                stopped.error_message().contains("blocked"),
                "{}",
                stopped.text()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still served on the other instance after 1s: deleted {} blocked {}",
            gone.status,
            stopped.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn two_deployments(strategy: &str, a: (&str, &str), b: (&str, &str), extra_router: &str) -> String {
    format!(
        "model_list:
  - model_name: g
    litellm_params:
      model: openai/a
      api_base: {}
{}
    model_info:
      id: dep-a
  - model_name: g
    litellm_params:
      model: openai/b
      api_base: {}
{}
    model_info:
      id: dep-b
router_settings:
  routing_strategy: {strategy}
{extra_router}",
        a.0, a.1, b.0, b.1
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn least_busy_avoids_the_deployment_holding_slow_requests() {
    let mock = MockUpstream::start().await;
    mock.on("a", Reply::chat("slow").with_delay(Duration::from_secs(3)));
    mock.on("b", Reply::chat("fast"));
    let config = two_deployments("least-busy", (&mock.url(), ""), (&mock.url(), ""), "");
    let gw = Gateway::start(&config);
    // Hold two slow calls on A: send until A has two in flight (B's calls return at once).
    let mut slow = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while mock.requests_for("a").len() < 2 {
        assert!(Instant::now() < deadline, "A never got two calls");
        let url = gw.url("/v1/chat/completions");
        slow.push(tokio::spawn(async move {
            post(&url, &[], hi("g").to_string()).await
        }));
        let sent = slow.len();
        let deadline = Instant::now() + DEADLINE;
        while mock.requests().len() < sent {
            assert!(
                Instant::now() < deadline,
                "call {sent} never reached the upstream"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    // While A holds them, every new call goes to B.
    for _ in 0..10 {
        let resp = post(&gw.url("/v1/chat/completions"), &[], hi("g").to_string()).await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.header("x-litellm-model-id"), Some("dep-b"));
    }
    assert_eq!(mock.requests_for("a").len(), 2);
    for call in slow {
        assert_eq!(call.await.unwrap().status, 200);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_based_routing_respects_deployment_rpm_across_instances() {
    let redis = TestRedis::new().await;
    let mock = MockUpstream::start().await;
    let config = two_deployments(
        "usage-based-routing-v2",
        (&mock.url(), "      rpm: 3"),
        (&mock.url(), "      rpm: 2"),
        "",
    );
    let start = |c: &str| {
        Gateway::builder(c)
            .env("HAIMAKER_REDIS_SYNC_MS", "100")
            .redis(&redis)
            .start()
    };
    let (x, y) = (start(&config), start(&config));
    away_from_minute_end(20).await;
    let mut served = Vec::new();
    let mut refused = Vec::new();
    for i in 0..8 {
        let gw = if i % 2 == 0 { &x } else { &y };
        let resp = post(&gw.url("/v1/chat/completions"), &[], hi("g").to_string()).await;
        match resp.status {
            200 => served.push(resp.header("x-litellm-model-id").unwrap().to_string()),
            429 => refused.push(resp),
            other => panic!("unexpected {other}: {}", resp.text()),
        }
    }
    let on = |id: &str| served.iter().filter(|s| *s == id).count();
    assert_eq!(
        (on("dep-a"), on("dep-b")),
        (3, 2),
        "each deployment's rpm holds across both instances: {served:?}"
    );
    assert_eq!(mock.requests_for("a").len(), 3);
    assert_eq!(mock.requests_for("b").len(), 2);
    assert_eq!(refused.len(), 3);
    for resp in &refused {
        assert_eq!(resp.json()["error"]["type"], "rate_limit_error");
        assert!(
            resp.error_message().contains("rpm limit"),
            "{}",
            resp.text()
        );
        assert!(resp.header("retry-after").is_some());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn latency_based_routing_prefers_the_faster_deployment() {
    let mock = MockUpstream::start().await;
    mock.on(
        "a",
        Reply::chat("slow").with_delay(Duration::from_millis(300)),
    );
    mock.on("b", Reply::chat("fast"));
    let config = two_deployments(
        "latency-based-routing",
        (&mock.url(), ""),
        (&mock.url(), ""),
        "",
    );
    let gw = Gateway::start(&config);
    // Deployments without samples go first: after both have one, the fast one wins.
    let deadline = Instant::now() + DEADLINE;
    while mock.requests_for("a").is_empty() || mock.requests_for("b").is_empty() {
        assert!(
            Instant::now() < deadline,
            "both deployments should be tried first"
        );
        post(&gw.url("/v1/chat/completions"), &[], hi("g").to_string()).await;
    }
    for _ in 0..10 {
        let resp = post(&gw.url("/v1/chat/completions"), &[], hi("g").to_string()).await;
        assert_eq!(
            resp.header("x-litellm-model-id"),
            Some("dep-b"),
            "{}",
            resp.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cost_based_routing_prefers_the_cheaper_deployment() {
    let mock = MockUpstream::start().await;
    let config = two_deployments(
        "cost-based-routing",
        (
            &mock.url(),
            "      input_cost_per_token: 0.001\n      output_cost_per_token: 0.002",
        ),
        (
            &mock.url(),
            "      input_cost_per_token: 0.0001\n      output_cost_per_token: 0.0002",
        ),
        "",
    );
    let gw = Gateway::start(&config);
    for _ in 0..10 {
        let resp = post(&gw.url("/v1/chat/completions"), &[], hi("g").to_string()).await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.header("x-litellm-model-id"), Some("dep-b"));
    }
    assert!(mock.requests_for("a").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cooldown_on_one_instance_is_seen_by_the_other() {
    let redis = TestRedis::new().await;
    let mock = MockUpstream::start().await;
    mock.on("a", Reply::error(429, "slow down"));
    mock.on("b", Reply::chat("fine"));
    let config = two_deployments(
        "simple-shuffle",
        (&mock.url(), ""),
        (&mock.url(), ""),
        "  num_retries: 0\n  cooldown_time: 60\n",
    );
    let start = |c: &str| {
        Gateway::builder(c)
            .env("HAIMAKER_REDIS_SYNC_MS", "100")
            .redis(&redis)
            .start()
    };
    let (x, y) = (start(&config), start(&config));
    // Instance X meets A's 429 (a 429 in a multi-deployment group cools it at once).
    let deadline = Instant::now() + DEADLINE;
    while mock.requests_for("a").is_empty() {
        assert!(Instant::now() < deadline, "A never picked");
        post(&x.url("/v1/chat/completions"), &[], hi("g").to_string()).await;
    }
    let cooled = Instant::now();
    // Instance Y never calls A again once the shared cooldown arrived.
    let deadline = cooled + Duration::from_secs(5);
    loop {
        let resp = redis.get("deployment:dep-a:cooldown").await;
        if resp.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "no shared cooldown key written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let a_before = mock.requests_for("a").len();
    // Y picks up shared state every 100 ms; give it a chance, then A must stay untouched.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut clean_streak = 0;
    while clean_streak < 20 {
        assert!(
            Instant::now() < deadline,
            "Y kept calling the cooled deployment"
        );
        let before = mock.requests_for("a").len();
        let resp = post(&y.url("/v1/chat/completions"), &[], hi("g").to_string()).await;
        if mock.requests_for("a").len() == before {
            assert_eq!(resp.status, 200, "{}", resp.text());
            clean_streak += 1;
        } else {
            clean_streak = 0;
        }
    }
    assert!(
        mock.requests_for("a").len() <= a_before + 2,
        "Y learned of the cooldown quickly"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_cut_mid_run_and_restored_fails_no_request() {
    let (db, redis) = (TestDb::create().await, TestRedis::new().await);
    let target: std::net::SocketAddr = redis
        .url()
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let proxy = PgProxy::start(target).await;
    let gw = gateway(&mock_config(""), &db, &redis)
        .env("REDIS_URL", format!("redis://{}", proxy.addr))
        .workers(2)
        .start();
    let key = generate(
        &gw,
        json!({"rpm_limit": 100000, "max_budget": 1000, "tpm_limit": 100000000}),
    )
    .await;
    let token = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
    let shared_keys = || async {
        redis
            .keys()
            .await
            .into_iter()
            .filter(|k| k.starts_with(&format!("limit:key:{token}:req:")))
            .count()
    };

    let send = |n: usize| {
        let (url, auth) = (gw.url("/v1/chat/completions"), format!("Bearer {key}"));
        async move {
            for _ in 0..n {
                let resp = post(
                    &url,
                    &[("authorization", auth.as_str())],
                    hi("m").to_string(),
                )
                .await;
                assert_eq!(resp.status, 200, "a request failed: {}", resp.text());
            }
        }
    };
    send(20).await;
    assert!(
        shared_keys().await > 0,
        "limits are counted in redis while it is up"
    );

    proxy.cut();
    for key in redis.keys().await {
        redis.del(&key).await;
    }
    send(100).await;
    let health = get(&gw.url("/health/liveliness"), &[]).await;
    assert_eq!(health.status, 200);

    proxy.restore();
    // Counting in Redis resumes by itself.
    let deadline = Instant::now() + DEADLINE;
    loop {
        send(5).await;
        if shared_keys().await > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "redis never used again after it came back"
        );
    }
    for line in ["redis unavailable", "redis connection restored"] {
        assert!(
            gw.output.wait_for(DEADLINE, |l| l.contains(line)).is_some(),
            "{line:?} is logged: {}",
            gw.output.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn leased_limits_stay_exact_across_instances() {
    // rpm 200 and 500 parallel slots are leased a few requests at a time: the totals across
    // both instances must still be exactly the limit.
    let (db, redis) = (TestDb::create().await, TestRedis::new().await);
    let a = gateway(&mock_config(""), &db, &redis).start();
    let b = gateway(&mock_config(""), &db, &redis).start();
    let key = generate(&a, json!({"rpm_limit": 200, "max_parallel_requests": 500})).await;
    away_from_minute_end(30).await;
    let mut served = 0;
    for i in 0..250 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let resp = chat_as(gw, &key, hi("m")).await;
        match resp.status {
            200 => served += 1,
            429 => assert_eq!(resp.json()["error"]["type"], "rate_limit_error"),
            other => panic!("unexpected {other}: {}", resp.text()),
        }
    }
    assert_eq!(served, 200, "exactly the rpm limit across both instances");
    let token = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
    let window = redis
        .keys()
        .await
        .into_iter()
        .find(|k| k.starts_with(&format!("limit:key:{token}:req:")))
        .expect("the window key");
    assert_eq!(redis.get(&window).await.as_deref(), Some("200"));
    // Idle leases give their parallel slots back.
    let deadline = Instant::now() + DEADLINE;
    while redis.get(&format!("limit:key:{token}:par")).await.is_some() {
        assert!(Instant::now() < deadline, "parallel slots never given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
