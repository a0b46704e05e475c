//! Virtual keys against a real Postgres: enforcement, spend that lands exactly once (across
//! recycles, SIGTERM and database outages), budgets and their reset, limits.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::harness::pg::TestDb;
use crate::harness::pgproxy::PgProxy;
use crate::harness::{Gateway, GatewayBuilder, get, post};

const DEADLINE: Duration = Duration::from_secs(30);
const MASTER: &str = "sk-master";
/// 10 prompt tokens at 0.5 plus 20 completion tokens at 0.25: every mock call costs exactly 10.
const COST: f64 = 10.0;

fn config(extra_general: &str) -> String {
    format!(
        "model_list:
  - model_name: priced
    litellm_params:
      model: openai/priced
      mock_response: hello
      input_cost_per_token: 0.5
      output_cost_per_token: 0.25
  - model_name: other
    litellm_params:
      model: openai/other
      mock_response: hi
general_settings:
  master_key: {MASTER}
{extra_general}"
    )
}

fn gateway(db_url: &str, extra_general: &str) -> GatewayBuilder {
    Gateway::builder(&config(extra_general))
        .env("DATABASE_URL", db_url)
        .env("HAIMAKER_DB_CHECK_INTERVAL_MS", "200")
}

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Inserts a key the way LiteLLM does (token = sha256 hex of the key).
async fn insert_key(db: &TestDb, key: &str, fields: &str) {
    let client = db.client().await;
    client
        .batch_execute(&format!(
            r#"INSERT INTO "LiteLLM_VerificationToken" (token, key_name{columns}) VALUES ('{token}', 'sk-...{tail}'{values})"#,
            token = hash(key),
            tail = &key[key.len() - 4..],
            columns = fields.split(';').filter(|f| !f.is_empty()).map(|f| format!(", {}", f.split_once('=').unwrap().0)).collect::<String>(),
            values = fields.split(';').filter(|f| !f.is_empty()).map(|f| format!(", {}", f.split_once('=').unwrap().1)).collect::<String>(),
        ))
        .await
        .unwrap();
}

async fn chat(gw: &Gateway, key: &str, model: &str) -> crate::harness::Resp {
    let auth = format!("Bearer {key}");
    post(
        &gw.url("/v1/chat/completions"),
        &[("authorization", auth.as_str())],
        json!({"model": model, "messages": [{"role": "user", "content": "hi"}], "user": "end-user-1"}).to_string(),
    )
    .await
}

async fn key_spend(db: &TestDb, key: &str) -> f64 {
    let client = db.client().await;
    client
        .query_one(
            r#"SELECT spend FROM "LiteLLM_VerificationToken" WHERE token = $1"#,
            &[&hash(key)],
        )
        .await
        .unwrap()
        .get(0)
}

async fn spend_logs(db: &TestDb, api_key_hash: &str) -> (i64, f64) {
    let client = db.client().await;
    let row = client
        .query_one(
            r#"SELECT count(*), coalesce(sum(spend), 0) FROM "LiteLLM_SpendLogs" WHERE api_key = $1"#,
            &[&api_key_hash],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

async fn wait_for_spend(db: &TestDb, api_key_hash: &str, rows: i64) {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let (count, _) = spend_logs(db, api_key_hash).await;
        if count >= rows {
            assert_eq!(count, rows, "more spend rows than requests");
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {count} of {rows} spend rows arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_with_a_budget_is_charged_and_then_stopped() {
    let db = TestDb::create().await;
    let gw = gateway(&db.url, "  proxy_batch_write_at: 0.2\n").start();
    let generated = post(
        &gw.url("/key/generate"),
        &[("authorization", "Bearer sk-master")],
        json!({"max_budget": 25, "models": ["priced"], "key_alias": "budgeted"}).to_string(),
    )
    .await;
    assert_eq!(generated.status, 200, "{}", generated.text());
    let key = generated.json()["key"].as_str().unwrap().to_string();
    let key = key.as_str();

    let first = chat(&gw, key, "priced").await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("x-litellm-key-spend"), Some("10"));
    assert_eq!(first.header("x-litellm-key-max-budget"), Some("25"));
    assert_eq!(chat(&gw, key, "priced").await.status, 200);
    assert_eq!(
        chat(&gw, key, "priced").await.status,
        200,
        "spend 20 < 25: still allowed"
    );
    let blocked = chat(&gw, key, "priced").await;
    assert_eq!(blocked.status, 429, "{}", blocked.text());
    assert_eq!(blocked.json()["error"]["type"], "budget_exceeded");
    assert!(
        blocked
            .error_message()
            .contains("Budget has been exceeded! Current cost: 30"),
        "{}",
        blocked.text()
    );

    let denied = chat(&gw, key, "other").await;
    assert_eq!(denied.status, 403, "{}", denied.text());
    assert_eq!(denied.json()["error"]["type"], "key_model_access_denied");

    wait_for_spend(&db, &hash(key), 3).await;
    assert_eq!(key_spend(&db, key).await, 3.0 * COST);
    let client = db.client().await;
    let row = client
        .query_one(
            r#"SELECT call_type, model, model_group, prompt_tokens, completion_tokens, total_tokens, end_user, status, model_id
               FROM "LiteLLM_SpendLogs" WHERE api_key = $1 LIMIT 1"#,
            &[&hash(key)],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "acompletion");
    assert_eq!(row.get::<_, String>(1), "priced");
    assert_eq!(row.get::<_, Option<String>>(2).as_deref(), Some("priced"));
    assert_eq!(
        (
            row.get::<_, i32>(3),
            row.get::<_, i32>(4),
            row.get::<_, i32>(5)
        ),
        (10, 20, 30)
    );
    assert_eq!(
        row.get::<_, Option<String>>(6).as_deref(),
        Some("end-user-1")
    );
    assert_eq!(row.get::<_, Option<String>>(7).as_deref(), Some("success"));
    let end_user: f64 = client
        .query_one(
            r#"SELECT spend FROM "LiteLLM_EndUserTable" WHERE user_id = 'end-user-1'"#,
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(end_user, 3.0 * COST);
}

#[tokio::test(flavor = "multi_thread")]
async fn haimaker_migrate_prepares_the_schema_and_a_behind_schema_is_never_ready() {
    let db = TestDb::create().await;
    // DISABLE_SCHEMA_UPDATE on an empty database: serving, but never ready, and the log says why.
    let gw = gateway(&db.url, "")
        .env("DISABLE_SCHEMA_UPDATE", "true")
        .start();
    let line = gw
        .output
        .wait_for(DEADLINE, |l| l.contains("schema is behind"))
        .expect("a log line names what is missing");
    assert!(line.contains("LiteLLM_VerificationToken"), "{line}");
    let ready = get(&gw.url("/health/readiness"), &[]).await;
    assert_eq!(ready.status, 503, "{}", ready.text());
    assert_eq!(ready.json()["db"], "schema_behind");
    // The migration job, then the same pod becomes ready without a restart.
    let (status, out) = Gateway::builder_without_config()
        .without_default_addr()
        .without_num_workers()
        .arg("migrate")
        .env("DATABASE_URL", db.url.clone())
        .run_to_exit();
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.contains("applied 3 database migrations"), "{out}");
    let deadline = std::time::Instant::now() + DEADLINE;
    while get(&gw.url("/health/readiness"), &[]).await.status != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "never ready after the migration"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, out) = Gateway::builder(&config(""))
        .arg("--skip_server_startup")
        .env("DATABASE_URL", db.url.clone())
        .run_to_exit();
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(
        out.contains("schema is current") && !out.contains("running on"),
        "{out}"
    );
    let (status, out) = Gateway::builder(&config(""))
        .env("DATABASE_URL", "postgres://u@h:notaport/db")
        .run_to_exit();
    assert_eq!(
        status.code(),
        Some(64),
        "a bad database URL is a config error: {out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn spend_is_conserved_across_recycles_and_sigterm() {
    let db = TestDb::create().await;
    // No periodic flush: only recycle drains and the SIGTERM drain write spend.
    let mut gw = gateway(&db.url, "  proxy_batch_write_at: 3600\n")
        .workers(2)
        .env("JSON_LOGS", "true")
        .arg("--max_requests_before_restart")
        .arg("6")
        .arg("--min_worker_lifetime")
        .arg("0")
        .start();
    let key = "sk-conserve-key-01";
    insert_key(&db, key, "").await;
    let mut sent = 0;
    for _ in 0..30 {
        assert_eq!(chat(&gw, key, "priced").await.status, 200);
        sent += 1;
    }
    let url = gw.url("/v1/chat/completions");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                let resp = post(
                    &url,
                    &[("authorization", "Bearer sk-conserve-key-01")],
                    json!({"model": "priced", "messages": []}).to_string(),
                )
                .await;
                assert_eq!(resp.status, 200, "{}", resp.text());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    sent += 40;
    crate::harness::wait_until("three recycled workers to have exited", DEADLINE, || {
        let recycled = gw
            .json_lines()
            .iter()
            .filter(|l| l["status"] == "exit code 3")
            .count();
        (recycled >= 3).then_some(())
    })
    .await;
    gw.signal(Signal::SIGTERM);
    assert_eq!(gw.wait_exit(DEADLINE).code(), Some(0));

    let (rows, total) = spend_logs(&db, &hash(key)).await;
    assert_eq!(
        rows, sent,
        "one spend-log row per request, none lost, none twice"
    );
    assert_eq!(total, sent as f64 * COST);
    assert_eq!(key_spend(&db, key).await, sent as f64 * COST);
    let client = db.client().await;
    let distinct: i64 = client
        .query_one(
            r#"SELECT count(DISTINCT request_id) FROM "LiteLLM_SpendLogs""#,
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(distinct, sent);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_flag_a_database_outage_is_503_for_unknown_keys_and_known_keys_keep_working() {
    let db = TestDb::create().await;
    let proxy = PgProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let gw = gateway(
        &proxy.url_for(&db.url),
        "  proxy_batch_write_at: 0.3\n  user_api_key_cache_ttl: 0.2\n",
    )
    .start();
    let known = "sk-known-key-0001";
    insert_key(&db, known, "").await;
    assert_eq!(chat(&gw, known, "priced").await.status, 200);
    wait_for_spend(&db, &hash(known), 1).await;

    proxy.cut();
    wait_until_status(&gw.url("/health/readiness"), 503).await;
    let body = get(&gw.url("/health/readiness"), &[]).await.json();
    assert_eq!(body["db"], "disconnected");
    let during = chat(&gw, known, "priced").await;
    assert_eq!(
        during.status,
        200,
        "a key seen before is judged on its last known state: {}",
        during.text()
    );
    let unknown = chat(&gw, "sk-never-seen-key", "priced").await;
    assert_eq!(unknown.status, 503, "{}", unknown.text());
    assert_eq!(unknown.json()["error"]["type"], "no_db_connection");

    proxy.restore();
    wait_until_status(&gw.url("/health/readiness"), 200).await;
    wait_for_spend(&db, &hash(known), 2).await;
    assert_eq!(
        key_spend(&db, known).await,
        2.0 * COST,
        "spend written after recovery is complete"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_flag_the_pod_starts_and_serves_with_the_database_down() {
    let db = TestDb::create().await;
    let proxy = PgProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    // Migrate first (the flag skips migrations when the database is down at start).
    drop(gateway(&db.url, "").start());
    proxy.cut();
    let gw = gateway(
        &proxy.url_for(&db.url),
        "  proxy_batch_write_at: 0.3\n  allow_requests_on_db_unavailable: true\n",
    )
    .start();
    let ready = get(&gw.url("/health/readiness"), &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(ready.json()["db"], "disconnected");
    let unknown = chat(&gw, "sk-unknown-while-down", "priced").await;
    assert_eq!(
        unknown.status,
        200,
        "the flag lets an unknown key through: {}",
        unknown.text()
    );
    assert!(
        gw.output
            .wait_for(DEADLINE, |l| l.contains("letting an unknown key through"))
            .is_some(),
        "every such request is logged"
    );
    assert!(
        !gw.output.text().contains("sk-unknown-while-down"),
        "only a hash prefix is logged"
    );
    assert_eq!(chat(&gw, MASTER, "priced").await.status, 200);
    proxy.restore();
    wait_for_spend(&db, &hash("sk-unknown-while-down"), 1).await;
    wait_for_spend(&db, &hash(MASTER), 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn spend_buffered_during_an_outage_survives_a_sigterm_through_the_spool() {
    let db = TestDb::create().await;
    let proxy = PgProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let spool = tempfile::tempdir().unwrap();
    let spool_dir = spool.path().display().to_string();
    let mut gw = gateway(&proxy.url_for(&db.url), "  proxy_batch_write_at: 3600\n")
        .env("HAIMAKER_SPOOL_DIR", spool_dir.clone())
        .start();
    proxy.cut();
    for _ in 0..3 {
        assert_eq!(chat(&gw, MASTER, "priced").await.status, 200);
    }
    gw.signal(Signal::SIGTERM);
    assert_eq!(gw.wait_exit(DEADLINE).code(), Some(0));
    assert!(gw.output.text().contains("spooled"), "{}", gw.output.text());
    assert_eq!(spend_logs(&db, &hash(MASTER)).await.0, 0);
    proxy.restore();
    // The next worker to start on this pod writes what the last one could not.
    let _next = gateway(&proxy.url_for(&db.url), "  proxy_batch_write_at: 0.3\n")
        .env("HAIMAKER_SPOOL_DIR", spool_dir)
        .start();
    wait_for_spend(&db, &hash(MASTER), 3).await;
    assert_eq!(spend_logs(&db, &hash(MASTER)).await.1, 3.0 * COST);
}

#[tokio::test(flavor = "multi_thread")]
async fn rpm_parallel_expiry_and_block_are_enforced() {
    let db = TestDb::create().await;
    let gw = gateway(&db.url, "").start();
    let limited = "sk-rpm-limited-01";
    insert_key(&db, limited, "rpm_limit=2").await;
    let first = chat(&gw, limited, "priced").await;
    assert_eq!(first.header("x-ratelimit-limit-requests"), Some("2"));
    assert_eq!(first.header("x-ratelimit-remaining-requests"), Some("1"));
    assert_eq!(chat(&gw, limited, "priced").await.status, 200);
    let third = chat(&gw, limited, "priced").await;
    assert_eq!(third.status, 429, "{}", third.text());
    assert!(third.header("retry-after").is_some());
    assert_eq!(third.header("x-ratelimit-remaining-requests"), Some("0"));

    let expired = "sk-expired-key-01";
    insert_key(&db, expired, "expires=now() - interval '1 hour'").await;
    let resp = chat(&gw, expired, "priced").await;
    assert_eq!(
        (resp.status, resp.json()["error"]["type"].as_str()),
        (401, Some("expired_key"))
    );

    let blocked = "sk-blocked-key-01";
    insert_key(&db, blocked, "blocked=true").await;
    let resp = chat(&gw, blocked, "priced").await;
    assert_eq!(resp.status, 401);
    assert!(resp.error_message().contains("Key is blocked"));

    let unknown = chat(&gw, "sk-does-not-exist", "priced").await;
    assert_eq!(unknown.status, 401);
    assert!(
        unknown
            .error_message()
            .contains("Invalid proxy server token passed")
    );

    let team_limited = "sk-team-budget-01";
    let client = db.client().await;
    client
        .batch_execute(r#"INSERT INTO "LiteLLM_TeamTable" (team_id, max_budget, spend, models) VALUES ('team-a', 5, 5, ARRAY['priced'])"#)
        .await
        .unwrap();
    insert_key(&db, team_limited, "team_id='team-a'").await;
    let resp = chat(&gw, team_limited, "priced").await;
    assert_eq!(
        (resp.status, resp.json()["error"]["type"].as_str()),
        (429, Some("budget_exceeded"))
    );
    assert!(resp.error_message().contains("team-a"));
}

#[tokio::test(flavor = "multi_thread")]
async fn budgets_reset_when_their_duration_passes() {
    let db = TestDb::create().await;
    let gw = gateway(
        &db.url,
        "  proxy_batch_write_at: 0.2\n  user_api_key_cache_ttl: 0.2\n",
    )
    .env("PROXY_BUDGET_RESCHEDULER_MIN_TIME", "1")
    .env("PROXY_BUDGET_RESCHEDULER_MAX_TIME", "1")
    .start();
    let key = "sk-reset-key-0001";
    insert_key(
        &db,
        key,
        "max_budget=5;spend=7;budget_duration='30d';budget_reset_at=now() - interval '1 minute'",
    )
    .await;
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let resp = chat(&gw, key, "priced").await;
        if resp.status == 200 {
            break;
        }
        assert_eq!(resp.status, 429, "{}", resp.text());
        assert!(
            std::time::Instant::now() < deadline,
            "the budget was never reset"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = db.client().await;
    let in_future: bool = client
        .query_one(
            r#"SELECT budget_reset_at > now() + interval '29 days' FROM "LiteLLM_VerificationToken" WHERE token = $1"#,
            &[&hash(key)],
        )
        .await
        .unwrap()
        .get(0);
    assert!(in_future, "the next reset is a budget_duration away");
}

async fn wait_until_status(url: &str, status: u16) {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let got = get(url, &[]).await.status;
        if got == status {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{url} never answered {status} (last {got})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
