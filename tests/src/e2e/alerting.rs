//! Slack alerting (reference section 8) end to end: a local webhook receiver records what the
//! gateway posts while the tests provoke each alert type through the real code paths.
//! Flushes run every 200 ms (`HAIMAKER_ALERTING_FLUSH_MS`) so the tests are quick.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::pg::TestDb;
use crate::harness::pgproxy::PgProxy;
use crate::harness::webhook::{alert_count, level};
use crate::harness::{
    Gateway, GatewayBuilder, MockUpstream, Reply, TestRedis, Webhook, get, post, wait_until,
};

const WAIT: Duration = Duration::from_secs(20);
const MASTER: &str = "sk-master";
const ADMIN: (&str, &str) = ("authorization", "Bearer sk-master");

fn chat(model: &str) -> String {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}).to_string()
}

fn deployment(group: &str, upstream_model: &str, base: &str) -> String {
    format!(
        "  - model_name: {group}\n    litellm_params:\n      model: openai/{upstream_model}\n      api_base: {base}\n      api_key: sk-upstream-credential-123456\n"
    )
}

/// A gateway alerting to `hook` (Slack), `extra_general` appended to `general_settings`.
fn gateway(models: &str, router: &str, extra_general: &str, hook: &Webhook) -> GatewayBuilder {
    let config = format!(
        "model_list:\n{models}router_settings:\n{router}general_settings:\n  master_key: {MASTER}\n  alerting: [\"slack\"]\n{extra_general}"
    );
    Gateway::builder(&config)
        .env("SLACK_WEBHOOK_URL", hook.url.clone())
        .env("HAIMAKER_ALERTING_FLUSH_MS", "200")
        .env("PROXY_BASE_URL", "https://proxy.example.com")
}

async fn call(gw: &Gateway, model: &str) -> crate::harness::Resp {
    post(&gw.url("/v1/chat/completions"), &[ADMIN], chat(model)).await
}

/// No alert ever carries a credential: neither the upstream's key nor the webhook's token.
fn assert_no_secrets(hook: &Webhook) {
    for text in hook.texts() {
        for secret in [
            "sk-upstream-credential",
            "sk-master",
            "secret-token",
            "sk-leaked",
        ] {
            assert!(
                !text.contains(secret),
                "{secret} leaked into an alert: {text}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_upstream_raises_squashed_exceptions_and_outage_alerts() {
    let hook = Webhook::start().await;
    let outage_hook = Webhook::start().await;
    let mock = MockUpstream::start().await;
    mock.on(
        "down",
        Reply::error(503, "upstream is down (key sk-leaked-0123456789)"),
    );
    let gw = gateway(
        &deployment("down", "down", &mock.url()),
        "  num_retries: 0\n",
        &format!(
            "  alerting_args:\n    minor_outage_alert_threshold: 3\n    major_outage_alert_threshold: 5\n  alert_to_webhook_url:\n    outage_alerts: {}\n",
            outage_hook.url
        ),
        &hook,
    )
    .start();
    for _ in 0..6 {
        assert_eq!(call(&gw, "down").await.status, 503);
    }

    let text = hook.wait_for("LLM API call failed", WAIT).await;
    assert_eq!(level(&text), Some("High"), "{text}");
    assert!(text.contains("Request Model: `down`"), "{text}");
    assert!(
        text.contains("Proxy URL: `https://proxy.example.com`"),
        "{text}"
    );
    assert!(text.contains("Timestamp: `"), "{text}");
    // Six failures: every one is counted, squashed per interval with `[Num Alerts: N]`.
    let total = wait_until("all six failures to be reported", WAIT, || {
        let n: u64 = hook
            .matching("LLM API call failed")
            .iter()
            .map(|t| alert_count(t))
            .sum();
        (n >= 6).then_some(n)
    })
    .await;
    assert_eq!(total, 6);
    assert!(hook.matching("LLM API call failed").len() < 6, "squashed");

    // Outages go to their own webhook (`alert_to_webhook_url`), not the default one.
    let minor = outage_hook.wait_for("Minor Service Outage", WAIT).await;
    assert_eq!(level(&minor), Some("Medium"), "{minor}");
    assert!(minor.contains("API Errors: 3"), "{minor}");
    let major = outage_hook.wait_for("Major Service Outage", WAIT).await;
    assert_eq!(level(&major), Some("High"), "{major}");
    assert!(hook.matching("Service Outage").is_empty());
    assert_no_secrets(&hook);
    assert_no_secrets(&outage_hook);
}

#[tokio::test(flavor = "multi_thread")]
async fn cooldowns_and_fallbacks_are_reported() {
    let hook = Webhook::start().await;
    let mock = MockUpstream::start().await;
    mock.on("bad", Reply::error(500, "broken"));
    mock.on("fine", Reply::chat("ok"));
    let models = format!(
        "{}{}{}",
        deployment("g", "bad", &mock.url()),
        deployment("g", "fine", &mock.url()),
        deployment("backup", "fine", &mock.url())
    );
    let gw = gateway(
        &format!("{models}{}", deployment("primary", "bad", &mock.url())),
        "  num_retries: 1\n  allowed_fails: 0\n  cooldown_time: 60\n  fallbacks: [{\"primary\": [\"backup\"]}]\n",
        "",
        &hook,
    )
    .start();
    // g: the retry moves to the good deployment; the bad one cools down once picked.
    for _ in 0..50 {
        assert_eq!(call(&gw, "g").await.status, 200);
        if !mock.requests_for("bad").is_empty() {
            break;
        }
    }
    assert_eq!(mock.requests_for("bad").len(), 1);
    let cooled = hook.wait_for("Deployment cooled down", WAIT).await;
    assert_eq!(level(&cooled), Some("Medium"), "{cooled}");
    assert!(cooled.contains("openai/bad"), "{cooled}");
    // primary fails; the fallback group answers.
    assert_eq!(call(&gw, "primary").await.status, 200);
    let fallback = hook.wait_for("Fallback used", WAIT).await;
    assert!(
        fallback.contains("model group `primary` failed"),
        "{fallback}"
    );
    assert!(
        fallback.contains("answered by model group `backup`"),
        "{fallback}"
    );
    assert_no_secrets(&hook);
}

#[tokio::test(flavor = "multi_thread")]
async fn hanging_and_slow_calls_are_reported() {
    let hook = Webhook::start().await;
    let mock = MockUpstream::start().await;
    mock.on(
        "slow",
        Reply::chat("late").with_delay(Duration::from_millis(2500)),
    );
    let gw = gateway(
        &deployment("slow", "slow", &mock.url()),
        "  num_retries: 0\n",
        "  alerting_threshold: 1\n",
        &hook,
    )
    .start();
    let url = gw.url("/v1/chat/completions");
    let pending = tokio::spawn(async move { post(&url, &[ADMIN], chat("slow")).await });
    let hanging = hook.wait_for("Requests are hanging", WAIT).await;
    assert!(
        !pending.is_finished(),
        "the hanging alert arrives while the call is still in flight"
    );
    assert_eq!(level(&hanging), Some("Medium"), "{hanging}");
    assert!(
        hanging.contains("`Requests are hanging - 1s+ request time`"),
        "{hanging}"
    );
    assert_eq!(pending.await.unwrap().status, 200);
    let slow = hook.wait_for("Responses are slow", WAIT).await;
    assert_eq!(level(&slow), Some("Low"), "{slow}");
    assert!(
        slow.contains("s response time > Alerting threshold: 1s`"),
        "{slow}"
    );
    assert!(slow.contains("Request Model: `slow`"), "{slow}");
    assert!(
        !slow.contains("Messages:"),
        "no prompt without message logging"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_crossing_its_budget_is_reported_once_per_event() {
    let db = TestDb::create().await;
    let hook = Webhook::start().await;
    let events = Webhook::start().await;
    // Every call costs exactly 10 (10 prompt tokens at 0.5, 20 completion tokens at 0.25).
    let models = "  - model_name: priced\n    litellm_params:\n      model: openai/priced\n      mock_response: hello\n      input_cost_per_token: 0.5\n      output_cost_per_token: 0.25\n  - model_name: broken\n    litellm_params:\n      model: openai/broken\n      api_base: http://127.0.0.1:9\n";
    let config = format!(
        "model_list:\n{models}general_settings:\n  master_key: {MASTER}\n  alerting: [\"slack\", \"webhook\"]\n  proxy_batch_write_at: 0.2\n"
    );
    let gw = Gateway::builder(&config)
        .env("DATABASE_URL", db.url.clone())
        .env("SLACK_WEBHOOK_URL", hook.url.clone())
        .env("WEBHOOK_URL", events.url.clone())
        .env("HAIMAKER_ALERTING_FLUSH_MS", "200")
        .start();
    let generated = post(
        &gw.url("/key/generate"),
        &[ADMIN],
        json!({"max_budget": 21, "key_alias": "budgeted"}).to_string(),
    )
    .await;
    assert_eq!(generated.status, 200, "{}", generated.text());
    let key = generated.json()["key"].as_str().unwrap().to_string();
    let auth = format!("Bearer {key}");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let resp = post(
            &gw.url("/v1/chat/completions"),
            &[("authorization", auth.as_str())],
            chat("priced"),
        )
        .await;
        statuses.push(resp.status);
    }
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");

    let near = hook
        .wait_for("Key Budget: 5% Threshold Crossed", WAIT)
        .await;
    assert_eq!(level(&near), Some("High"), "{near}");
    assert!(near.contains("*spend:* `20`"), "{near}");
    let crossed = hook.wait_for("Key Budget: Budget Crossed", WAIT).await;
    assert!(crossed.contains("Total Budget:`21`"), "{crossed}");
    assert!(crossed.contains("*key_alias:* `budgeted`"), "{crossed}");
    // The generic webhook gets LiteLLM's WebhookEvent.
    let event = wait_until("the budget_crossed webhook event", WAIT, || {
        events
            .bodies()
            .into_iter()
            .find(|b| b["event"] == "budget_crossed")
    })
    .await;
    assert_eq!(event["event_group"], "key");
    assert_eq!(event["key_alias"], "budgeted");
    assert_eq!(event["max_budget"], 21.0);
    // Once per entity and event (budget_alert_ttl, a day), however many calls saw it.
    // A later alert, raised after every budget check above, marks the end of the run.
    assert_eq!(call(&gw, "broken").await.status, 500);
    hook.wait_for("LLM API call failed", WAIT).await;
    assert_eq!(hook.matching("Budget Crossed").len(), 1);
    assert_eq!(hook.matching("5% Threshold Crossed").len(), 1);
    assert!(hook.texts().iter().all(|t| !t.contains(&key)));
}

#[tokio::test(flavor = "multi_thread")]
async fn key_team_and_user_changes_are_reported_without_secrets() {
    let db = TestDb::create().await;
    let hook = Webhook::start().await;
    let gw = gateway(
        "  - model_name: m\n    litellm_params:\n      model: openai/m\n      mock_response: hi\n",
        "",
        "  alert_types: [new_virtual_key_created, virtual_key_updated, virtual_key_deleted, new_team_created, team_updated, team_deleted, new_internal_user_created, internal_user_updated, internal_user_deleted]\n",
        &hook,
    )
    .env("DATABASE_URL", db.url.clone())
    .start();
    let admin = |path: &'static str, body: Value| {
        let url = gw.url(path);
        async move {
            let resp = post(&url, &[ADMIN], body.to_string()).await;
            assert_eq!(resp.status, 200, "{path}: {}", resp.text());
            resp.json()
        }
    };
    let team = admin("/team/new", json!({"team_alias": "eng"})).await;
    let team_id = team["team_id"].as_str().unwrap().to_string();
    admin("/team/update", json!({"team_id": team_id, "max_budget": 5})).await;
    admin(
        "/user/new",
        json!({"user_id": "alice", "user_email": "alice@example.com"}),
    )
    .await;
    admin("/user/update", json!({"user_id": "alice", "max_budget": 3})).await;
    admin(
        "/key/generate",
        json!({"key": "sk-custom-secret-key-9876", "key_alias": "ci-key", "team_id": team_id}),
    )
    .await;
    admin(
        "/key/update",
        json!({"key": "sk-custom-secret-key-9876", "max_budget": 1}),
    )
    .await;
    admin(
        "/key/delete",
        json!({"keys": ["sk-custom-secret-key-9876"]}),
    )
    .await;
    admin("/user/delete", json!({"user_ids": ["alice"]})).await;
    admin("/team/delete", json!({"team_ids": [team_id]})).await;

    for title in [
        "`New Team Created`",
        "`Team Updated`",
        "`New Internal User Created`",
        "`Internal User Updated`",
        "`New Virtual Key Created`",
        "`Virtual Key Updated`",
        "`Virtual Key Deleted`",
        "`Internal User Deleted`",
        "`Team Deleted`",
    ] {
        let text = hook.wait_for(title, WAIT).await;
        assert!(text.contains("*Action Done by:*"), "{text}");
    }
    let created = hook.wait_for("`New Virtual Key Created`", WAIT).await;
    assert!(created.contains("key_alias: `ci-key`"), "{created}");
    assert!(hook.matching("New Team Created")[0].contains("team_alias: `eng`"));
    for text in hook.texts() {
        assert!(!text.contains("sk-custom-secret"), "a key leaked: {text}");
    }
    // Reads are not events; LLM alerts are off (alert_types limits the set).
    assert!(hook.matching("LLM API call failed").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn health_services_sends_a_test_alert_of_each_type_to_admins_only() {
    let hook = Webhook::start().await;
    let gw = gateway(
        "  - model_name: m\n    litellm_params:\n      model: openai/m\n      mock_response: hi\n",
        "",
        "",
        &hook,
    )
    .start();
    let denied = get(&gw.url("/health/services?service=slack"), &[]).await;
    assert_eq!(denied.status, 401, "{}", denied.text());
    let missing = get(&gw.url("/health/services"), &[ADMIN]).await;
    assert_eq!(missing.status, 400, "{}", missing.text());
    let resp = get(&gw.url("/health/services?service=slack"), &[ADMIN]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let types: Vec<String> = resp.json()["alert_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    // LiteLLM's default set: every type but the key, team and user lifecycle events.
    assert_eq!(types.len(), 14, "{types:?}");
    assert!(types.contains(&"llm_exceptions".to_string()));
    let texts = wait_until("one test alert per type", WAIT, || {
        let texts = hook.matching("test alert");
        (texts.len() >= types.len()).then_some(texts)
    })
    .await;
    assert_eq!(texts.len(), types.len(), "one message per type: {texts:?}");
    assert!(texts.iter().any(|t| t.contains("LLM Exception test alert")));
    assert!(
        texts
            .iter()
            .filter(|t| !t.contains("Daily Reports") && !t.contains("new_model_added"))
            .all(|t| level(t) == Some("Low"))
    );
    // webhook is not configured.
    let webhook = get(&gw.url("/health/services?service=webhook"), &[ADMIN]).await;
    assert_eq!(webhook.status, 422, "{}", webhook.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_going_away_is_reported_once_per_pod() {
    let db = TestDb::create().await;
    let proxy = PgProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let hook = Webhook::start().await;
    let gw = gateway(
        "  - model_name: m\n    litellm_params:\n      model: openai/m\n      mock_response: hi\n",
        "",
        "",
        &hook,
    )
    .env("DATABASE_URL", proxy.url_for(&db.url))
    .env("HAIMAKER_DB_CHECK_INTERVAL_MS", "200")
    .workers(2)
    .start();
    // Connected before the cut.
    let deadline = Instant::now() + WAIT;
    while get(&gw.url("/health/readiness"), &[]).await.status != 200 {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.cut();
    let down = hook.wait_for("DB read/write call failed", WAIT).await;
    assert_eq!(level(&down), Some("High"), "{down}");
    // The master key needs no database: its requests keep being answered.
    for _ in 0..5 {
        let during = call(&gw, "m").await;
        assert_eq!(during.status, 200, "{}", during.text());
    }
    proxy.restore();
    let up = hook.wait_for("DB connection restored", WAIT).await;
    assert_eq!(level(&up), Some("Low"), "{up}");
    let downs: u64 = hook
        .matching("DB read/write call failed")
        .iter()
        .map(|t| alert_count(t))
        .sum();
    assert_eq!(downs, 1, "one alert for the pod, not one per worker");
    let ups: u64 = hook
        .matching("DB connection restored")
        .iter()
        .map(|t| alert_count(t))
        .sum();
    assert_eq!(ups, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_going_away_is_reported() {
    let redis = TestRedis::new().await;
    let proxy = PgProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let hook = Webhook::start().await;
    let gw = gateway(
        "  - model_name: m\n    litellm_params:\n      model: openai/m\n      mock_response: hi\n",
        "",
        "",
        &hook,
    )
    .env("REDIS_URL", proxy.url_for(&redis.url()))
    .env("HAIMAKER_REDIS_PREFIX", redis.prefix.clone())
    .workers(2)
    .start();
    assert_eq!(call(&gw, "m").await.status, 200);
    proxy.cut();
    let down = hook.wait_for("Redis unavailable", WAIT).await;
    assert_eq!(level(&down), Some("Medium"), "{down}");
    assert_eq!(call(&gw, "m").await.status, 200, "requests keep flowing");
    proxy.restore();
    hook.wait_for("Redis connection restored", WAIT).await;
    let downs: u64 = hook
        .matching("Redis unavailable")
        .iter()
        .map(|t| alert_count(t))
        .sum();
    assert_eq!(downs, 1, "one alert for the pod, not one per worker");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_sharing_redis_squash_into_one_message_per_interval() {
    let redis = TestRedis::new().await;
    let hook = Webhook::start().await;
    let mock = MockUpstream::start().await;
    mock.on("down", Reply::error(500, "down"));
    let gw = gateway(
        &deployment("down", "down", &mock.url()),
        "  num_retries: 0\n",
        "",
        &hook,
    )
    .env("HAIMAKER_ALERTING_FLUSH_MS", "1000")
    .redis(&redis)
    .workers(2)
    .start();
    const N: u64 = 40;
    let url = gw.url("/v1/chat/completions");
    let calls: Vec<_> = (0..N)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { post(&url, &[ADMIN], chat("down")).await.status })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), 500);
    }
    let total = wait_until("every failure to be counted", WAIT, || {
        let n: u64 = hook
            .matching("LLM API call failed")
            .iter()
            .map(|t| alert_count(t))
            .sum();
        (n >= N).then_some(n)
    })
    .await;
    assert_eq!(total, N, "counted once each, across both workers");
    let messages = hook.matching("LLM API call failed").len();
    assert!(
        messages <= 3,
        "one message per interval for both workers, got {messages}"
    );
    // Outage alerts are one event per deployment: claimed in Redis by one worker.
    let outages = hook.matching("Minor Service Outage");
    assert!(outages.len() <= 1, "{outages:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_webhook_changes_nothing_for_clients() {
    let dead = Webhook::hanging().await;
    let mock = MockUpstream::start().await;
    mock.on("down", Reply::error(500, "down"));
    mock.on("up", Reply::chat("fine"));
    let models = format!(
        "{}{}",
        deployment("down", "down", &mock.url()),
        deployment("up", "up", &mock.url())
    );
    // One type goes to a port nobody listens on, the rest to a webhook that never answers.
    let gw = gateway(
        &models,
        "  num_retries: 0\n",
        "  alert_to_webhook_url:\n    outage_alerts: http://127.0.0.1:9/hook\n  alerting_args:\n    minor_outage_alert_threshold: 2\n",
        &dead,
    )
    .start();
    let started = Instant::now();
    for i in 0..60 {
        let (model, status) = if i % 2 == 0 {
            ("down", 500)
        } else {
            ("up", 200)
        };
        let resp = call(&gw, model).await;
        assert_eq!(resp.status, status, "{}", resp.text());
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "60 calls took {:?}",
        started.elapsed()
    );
    gw.output
        .wait_for(WAIT, |l| l.contains("alert not delivered"))
        .unwrap_or_else(|| panic!("the failed delivery is logged:\n{}", gw.output.text()));
    // Still serving after the failed deliveries.
    assert_eq!(call(&gw, "up").await.status, 200);
    assert!(
        !gw.output.text().contains("secret-token"),
        "webhook tokens are not logged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn daily_and_spend_reports_go_out_once_per_deployment() {
    let db = TestDb::create().await;
    let redis = TestRedis::new().await;
    let hook = Webhook::start().await;
    let mock = MockUpstream::start().await;
    mock.on("down", Reply::error(500, "down"));
    let models = format!(
        "{}  - model_name: priced\n    litellm_params:\n      model: openai/priced\n      mock_response: hello\n      input_cost_per_token: 0.5\n      output_cost_per_token: 0.25\n",
        deployment("down", "down", &mock.url())
    );
    let pod = || {
        gateway(
            &models,
            "  num_retries: 0\n",
            "  proxy_batch_write_at: 0.2\n  spend_report_frequency: 3s\n  alert_types: [daily_reports, spend_reports]\n  alerting_args:\n    daily_report_frequency: 3\n    report_check_interval: 0.2\n",
            &hook,
        )
        .env("DATABASE_URL", db.url.clone())
        .redis(&redis)
        .workers(2)
        .start()
    };
    // Two pods of one deployment: same database, same Redis.
    let a = pod();
    let b = pod();
    let team = post(
        &a.url("/team/new"),
        &[ADMIN],
        json!({"team_alias": "eng"}).to_string(),
    )
    .await;
    let team_id = team.json()["team_id"].as_str().unwrap().to_string();
    let key = post(
        &a.url("/key/generate"),
        &[ADMIN],
        json!({"team_id": team_id}).to_string(),
    )
    .await
    .json()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let auth = format!("Bearer {key}");
    // Traffic until both reports have something to say (the report periods are 3 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert_eq!(call(&a, "down").await.status, 500);
        let resp = post(
            &b.url("/v1/chat/completions"),
            &[("authorization", auth.as_str())],
            chat("priced"),
        )
        .await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        let daily = hook.matching("Failed Requests: `");
        let spend = hook.matching("Team: `eng` | Spend: `$");
        if !daily.is_empty() && !spend.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no reports with figures; got {:?}",
            hook.texts()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let daily = hook.matching("Failed Requests: `")[0].clone();
    assert!(daily.contains("Deployment: `openai/down`"), "{daily}");
    assert!(daily.contains("*😅 Top Slowest Deployments:*"), "{daily}");
    assert!(
        !daily.starts_with("Level:"),
        "daily reports are sent as they are"
    );
    let spend = hook.matching("Spend Report for")[0].clone();
    assert_eq!(level(&spend), Some("Low"), "{spend}");
    // Each period's report is sent once by the whole deployment (two pods, four workers):
    // never squashed with copies from other workers, and one per period.
    let first_daily = hook
        .matching("Top Deployments with Most Failed Requests")
        .len();
    wait_until("the next daily report", WAIT, || {
        (hook
            .matching("Top Deployments with Most Failed Requests")
            .len()
            > first_daily)
            .then_some(())
    })
    .await;
    let reports = hook.matching("Top Deployments with Most Failed Requests");
    assert!(
        reports.iter().all(|t| alert_count(t) == 1),
        "copies were squashed: {reports:?}"
    );
    assert_eq!(reports.len(), first_daily + 1, "{reports:?}");
    assert!(
        hook.matching("Spend Report for")
            .iter()
            .all(|t| alert_count(t) == 1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spend_write_that_fails_is_reported_and_the_spend_is_not_lost() {
    let db = TestDb::create().await;
    let hook = Webhook::start().await;
    let gw = gateway(
        "  - model_name: m\n    litellm_params:\n      model: openai/m\n      mock_response: hi\n",
        "",
        "  proxy_batch_write_at: 0.2\n",
        &hook,
    )
    .env("DATABASE_URL", &db.url)
    .start();
    let client = db.client().await;
    // The database stays reachable, but the spend table is gone: every write fails.
    client
        .batch_execute(r#"ALTER TABLE "LiteLLM_SpendLogs" RENAME TO "SpendLogs_away""#)
        .await
        .unwrap();
    let resp = call(&gw, "m").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let call_id = resp.header("x-litellm-call-id").unwrap().to_string();
    let alert = hook.wait_for("Failed Tracking Cost", WAIT).await;
    assert_eq!(level(&alert), Some("High"), "{alert}");
    // The table comes back: the buffered row is written, once.
    client
        .batch_execute(r#"ALTER TABLE "SpendLogs_away" RENAME TO "LiteLLM_SpendLogs""#)
        .await
        .unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let rows = client
            .query_one(
                r#"SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE request_id = $1"#,
                &[&call_id],
            )
            .await
            .unwrap()
            .get::<_, i64>(0);
        if rows == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the spend row never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
