//! The response cache (`litellm_settings.cache`): hits never reach the upstream, cost nothing and
//! say so in the spend log; per-request controls; TTLs; streams stored and replayed; the local
//! cache; the `/cache/*` endpoints; Redis being down.
//!
//! Every test has its own Redis key prefix ([`TestRedis`]); stores happen after the response, so
//! tests wait for the entry to appear (in Redis, or by a request that hits) instead of assuming it.

use std::future::Future;
use std::time::{Duration, Instant};

use fred::prelude::{Builder, ClientLike, Config, KeysInterface};
use serde_json::{Value, json};

use crate::harness::mock::{chunk_event, usage_event};
use crate::harness::pg::TestDb;
use crate::harness::{
    Gateway, MockUpstream, Reply, Resp, SseEnd, SseStep, TestRedis, get, post, post_stream,
};

const DEADLINE: Duration = Duration::from_secs(20);
const KEY: (&str, &str) = ("authorization", "Bearer sk-master");

/// One chat group and one embedding group on the mock; `litellm_settings` and
/// `general_settings` extras appended.
fn config(mock: &MockUpstream, litellm: &str, general: &str) -> String {
    format!(
        r#"
model_list:
  - model_name: gpt-cached
    litellm_params:
      model: openai/up-cached
      api_base: {base}
      api_key: sk-up
      input_cost_per_token: 0.5
      output_cost_per_token: 0.25
  - model_name: embed-cached
    litellm_params:
      model: openai/up-embed
      api_base: {base}
      api_key: sk-up
general_settings:
  master_key: sk-master
{general}
litellm_settings:
{litellm}
"#,
        base = mock.url()
    )
}

const REDIS_CACHE: &str = "  cache: true\n";
const LOCAL_CACHE: &str = "  cache: true\n  cache_params:\n    type: local\n";

fn chat_body(content: &str, extra: Value) -> String {
    let mut body = json!({"model": "gpt-cached", "messages": [{"role": "user", "content": content}], "temperature": 0});
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    body.to_string()
}

async fn chat(gw: &Gateway, content: &str, extra: Value) -> Resp {
    let resp = post(
        &gw.url("/v1/chat/completions"),
        &[KEY],
        chat_body(content, extra),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp
}

/// Polls an async condition until it returns `Some`, or panics after [`DEADLINE`].
async fn eventually<T, F, Fut>(what: &str, mut condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = condition().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The response-cache keys in the test's Redis (without the `cache:` part).
async fn cache_keys(redis: &TestRedis) -> Vec<String> {
    redis
        .keys()
        .await
        .into_iter()
        .filter_map(|k| k.strip_prefix("cache:").map(str::to_string))
        .filter(|k| k != "haimaker-cache-ping")
        .collect()
}

/// Waits until the test's Redis holds `n` cache entries; returns their keys.
async fn wait_for_entries(redis: &TestRedis, n: usize) -> Vec<String> {
    eventually(&format!("{n} cache entries in Redis"), move || async move {
        let keys = cache_keys(redis).await;
        (keys.len() == n).then_some(keys)
    })
    .await
}

/// Waits until the gateway's Redis connection is up (`/cache/ping` is 200): it connects in the
/// background after start, and until then every lookup is a miss and every store is skipped.
async fn redis_connected(gw: &Gateway) {
    eventually("the gateway's Redis connection", move || async move {
        (get(&gw.url("/cache/ping"), &[KEY]).await.status == 200).then_some(())
    })
    .await;
}

/// The remaining TTL of a cache entry in milliseconds (`PTTL`).
async fn pttl(redis: &TestRedis, key: &str) -> i64 {
    let client = Builder::from_config(Config::from_url(&redis.url()).unwrap())
        .build()
        .unwrap();
    client.init().await.unwrap();
    let ttl: i64 = client
        .pttl(format!("{}cache:{key}", redis.prefix))
        .await
        .unwrap();
    let _ = client.quit().await;
    ttl
}

fn is_hit(resp: &Resp) -> bool {
    resp.header("x-litellm-cache-key").is_some()
}

async fn embed(gw: &Gateway) -> Resp {
    let resp = post(
        &gw.url("/v1/embeddings"),
        &[KEY],
        json!({"model": "embed-cached", "input": ["a", "b"]}).to_string(),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp
}

/// A chat stream as OpenAI sends it: content chunks, a finish chunk, the usage chunk, `[DONE]`.
fn finished_stream(contents: &[&str]) -> Reply {
    let finish = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000,
                        "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
    let mut steps: Vec<SseStep> = contents
        .iter()
        .map(|c| SseStep::Send(chunk_event(c)))
        .collect();
    steps.push(SseStep::Send(format!("data: {finish}\n\n")));
    steps.push(SseStep::Send(usage_event()));
    steps.push(SseStep::Send("data: [DONE]\n\n".into()));
    Reply::Sse {
        steps,
        end: SseEnd::Close,
    }
}

/// The `data:` payloads of an SSE body.
fn data_events(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|e| e.trim().strip_prefix("data: ").map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_request_is_a_hit_that_costs_nothing_and_is_logged_as_one() {
    let mock = MockUpstream::start().await;
    mock.on("up-cached", Reply::chat("cached answer"));
    let redis = TestRedis::new().await;
    let db = TestDb::create().await;
    let gw = Gateway::builder(&config(&mock, REDIS_CACHE, "  proxy_batch_write_at: 0.2\n"))
        .redis(&redis)
        .env("DATABASE_URL", &db.url)
        .start();
    redis_connected(&gw).await;

    let miss = chat(&gw, "what is cached?", json!({})).await;
    assert!(!is_hit(&miss), "the first call is a miss");
    assert_ne!(miss.header("x-litellm-response-cost"), Some("0"));
    let keys = wait_for_entries(&redis, 1).await;

    let hit = chat(&gw, "what is cached?", json!({})).await;
    assert_eq!(
        mock.requests_for("up-cached").len(),
        1,
        "a hit never reaches the upstream"
    );
    assert_eq!(hit.header("x-litellm-cache-key"), Some(keys[0].as_str()));
    assert_eq!(hit.header("x-litellm-response-cost"), Some("0"));
    assert_eq!(hit.header("x-litellm-model-group"), Some("gpt-cached"));
    assert!(hit.header("x-litellm-version").is_some());
    assert!(hit.header("x-litellm-response-duration-ms").is_some());
    assert_eq!(hit.header("content-type"), Some("application/json"));
    assert_eq!(
        hit.json(),
        miss.json(),
        "the cached response, its id included"
    );

    // The stored value has LiteLLM's shape: {"timestamp": <unix seconds>, "response": {...}}.
    let stored: Value = serde_json::from_str(
        &redis
            .get(&format!("cache:{}", keys[0]))
            .await
            .expect("the entry"),
    )
    .unwrap();
    assert!(stored["timestamp"].as_f64().unwrap() > 1.7e9);
    assert_eq!(
        stored["response"]["choices"][0]["message"]["content"],
        "cached answer"
    );

    // The spend log: the miss is charged, the hit says cache_hit True with the key and costs 0.
    let hit_id = hit.header("x-litellm-call-id").unwrap().to_string();
    let miss_id = miss.header("x-litellm-call-id").unwrap().to_string();
    let client = db.client().await;
    let client = &client;
    let ids = vec![hit_id.clone(), miss_id.clone()];
    let ids = &ids;
    let rows = eventually("both spend-log rows", move || async move {
        let rows = client
            .query(
                r#"SELECT request_id, cache_hit, cache_key, spend, model_group FROM "LiteLLM_SpendLogs"
                   WHERE request_id = ANY($1)"#,
                &[ids],
            )
            .await
            .unwrap();
        (rows.len() == 2).then_some(rows)
    })
    .await;
    for row in rows {
        let id: String = row.get(0);
        let cache_hit: Option<String> = row.get(1);
        let cache_key: Option<String> = row.get(2);
        let spend: f64 = row.get(3);
        assert_eq!(
            row.get::<_, Option<String>>(4).as_deref(),
            Some("gpt-cached")
        );
        if id == hit_id {
            assert_eq!(cache_hit.as_deref(), Some("True"));
            assert_eq!(cache_key.as_deref(), Some(keys[0].as_str()));
            assert_eq!(spend, 0.0);
        } else {
            assert_eq!(cache_hit.as_deref(), Some("False"));
            assert!(spend > 0.0, "the miss is charged: {spend}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_cache_no_store_and_s_maxage_are_honoured() {
    let mock = MockUpstream::start().await;
    let redis = TestRedis::new().await;
    let gw = Gateway::builder(&config(&mock, REDIS_CACHE, ""))
        .redis(&redis)
        .start();
    redis_connected(&gw).await;
    let calls = || mock.requests_for("up-cached").len();

    chat(&gw, "q", json!({})).await;
    wait_for_entries(&redis, 1).await;
    assert!(is_hit(&chat(&gw, "q", json!({})).await));
    assert_eq!(calls(), 1);

    let bypass = chat(&gw, "q", json!({"cache": {"no-cache": true}})).await;
    assert!(!is_hit(&bypass), "no-cache skips the read");
    assert_eq!(calls(), 2);
    let upstream_body = &mock.requests_for("up-cached")[1].body;
    assert!(
        upstream_body.get("cache").is_none(),
        "the controls never reach the upstream: {upstream_body}"
    );

    let stale = chat(&gw, "q", json!({"cache": {"s-maxage": 0}})).await;
    assert!(!is_hit(&stale), "an entry older than s-maxage is not used");
    assert_eq!(calls(), 3);
    assert!(is_hit(
        &chat(&gw, "q", json!({"cache": {"s-maxage": 3600}})).await
    ));
    assert_eq!(calls(), 3);

    // no-store: nothing is written, so the next plain call misses too.
    chat(&gw, "not kept", json!({"cache": {"no-store": true}})).await;
    assert!(!is_hit(
        &chat(&gw, "not kept", json!({"cache": {"no-store": true}})).await
    ));
    assert_eq!(calls(), 5);
    assert_eq!(cache_keys(&redis).await.len(), 1);

    // caching: false turns both off; a namespace is part of the key.
    chat(&gw, "q", json!({"caching": false})).await;
    assert_eq!(calls(), 6);
    let ns = chat(&gw, "q", json!({"cache": {"namespace": "team-a"}})).await;
    assert!(!is_hit(&ns), "another namespace is another entry");
    let keys = wait_for_entries(&redis, 2).await;
    assert!(keys.iter().any(|k| k.starts_with("team-a:")), "{keys:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_expires_after_its_ttl() {
    let mock = MockUpstream::start().await;
    let redis = TestRedis::new().await;
    let gw = Gateway::builder(&config(
        &mock,
        "  cache: true\n  cache_params:\n    type: redis\n    ttl: 600\n",
        "",
    ))
    .redis(&redis)
    .start();
    redis_connected(&gw).await;
    let calls = || mock.requests_for("up-cached").len();

    // The request's ttl (2 s) wins over cache_params.ttl.
    chat(&gw, "short-lived", json!({"cache": {"ttl": 2}})).await;
    let keys = wait_for_entries(&redis, 1).await;
    let ttl = pttl(&redis, &keys[0]).await;
    assert!((1..=2000).contains(&ttl), "PTTL {ttl}");
    wait_for_entries(&redis, 0).await;
    let after = chat(&gw, "short-lived", json!({"cache": {"no-store": true}})).await;
    assert!(!is_hit(&after), "an expired entry is gone");
    assert_eq!(calls(), 2);

    // Without a request ttl, cache_params.ttl (600 s) applies.
    chat(&gw, "long-lived", json!({})).await;
    let keys = wait_for_entries(&redis, 1).await;
    let ttl = pttl(&redis, &keys[0]).await;
    assert!((590_000..=600_000).contains(&ttl), "PTTL {ttl}");
    assert!(is_hit(&chat(&gw, "long-lived", json!({})).await));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streaming_request_is_answered_from_the_cache_as_sse() {
    let mock = MockUpstream::start().await;
    mock.on("up-cached", Reply::chat("replayed as a stream"));
    let redis = TestRedis::new().await;
    let gw = Gateway::builder(&config(&mock, REDIS_CACHE, ""))
        .redis(&redis)
        .start();
    redis_connected(&gw).await;

    let plain = chat(&gw, "stream me", json!({})).await;
    let keys = wait_for_entries(&redis, 1).await;

    let body = chat_body(
        "stream me",
        json!({"stream": true, "stream_options": {"include_usage": true}}),
    );
    let stream = post_stream(&gw.url("/v1/chat/completions"), &[KEY], body).await;
    assert_eq!(stream.status, 200);
    assert_eq!(
        stream
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    assert_eq!(
        stream
            .headers
            .get("x-litellm-cache-key")
            .and_then(|v| v.to_str().ok()),
        Some(keys[0].as_str())
    );
    let text = stream.rest().await;
    let events = data_events(&text);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{text}");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "replayed as a stream");
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "stop")
    );
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"], plain.json()["usage"]);
    assert_eq!(mock.requests_for("up-cached").len(), 1);

    // Without include_usage there is no usage chunk.
    let body = chat_body("stream me", json!({"stream": true}));
    let text = post_stream(&gw.url("/v1/chat/completions"), &[KEY], body)
        .await
        .rest()
        .await;
    assert!(!text.contains("\"usage\""), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_miss_is_stored_and_serves_a_later_plain_request() {
    let mock = MockUpstream::start().await;
    mock.on("up-cached", finished_stream(&["Hel", "lo ", "world"]));
    let redis = TestRedis::new().await;
    let gw = Gateway::builder(&config(&mock, REDIS_CACHE, ""))
        .redis(&redis)
        .start();
    redis_connected(&gw).await;

    // The client does not ask for usage; the gateway does, and the entry keeps it.
    let body = chat_body("tell me", json!({"stream": true}));
    let streamed = post_stream(&gw.url("/v1/chat/completions"), &[KEY], body).await;
    assert!(streamed.headers.get("x-litellm-cache-key").is_none());
    let text = streamed.rest().await;
    assert!(!text.contains("\"usage\""), "{text}");
    wait_for_entries(&redis, 1).await;

    let hit = chat(&gw, "tell me", json!({})).await;
    assert!(is_hit(&hit));
    let body = hit.json();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello world");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["usage"]["total_tokens"], 14);
    assert_eq!(mock.requests_for("up-cached").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_breaks_off_or_has_no_finish_reason_is_not_stored() {
    let mock = MockUpstream::start().await;
    mock.script(
        "up-cached",
        vec![
            Reply::Sse {
                steps: vec![SseStep::Send(chunk_event("partial"))],
                end: SseEnd::Abort,
            },
            // Closes cleanly, but no chunk says why the answer ended.
            Reply::chat_stream(&["half an"]),
            Reply::chat("whole"),
        ],
    );
    let redis = TestRedis::new().await;
    let gw = Gateway::builder(&config(&mock, REDIS_CACHE, ""))
        .redis(&redis)
        .start();
    redis_connected(&gw).await;
    let stream = |content: &str| {
        let body = chat_body(content, json!({"stream": true}));
        let url = gw.url("/v1/chat/completions");
        async move { post_stream(&url, &[KEY], body).await.rest().await }
    };
    let broken = stream("break").await;
    assert!(broken.contains("\"error\""), "{broken}");
    let cut = stream("cut").await;
    assert!(cut.ends_with("data: [DONE]\n\n"), "{cut}");
    // A good answer to another question is stored; by then stores of the two streams would have
    // landed too, but there are none: both questions still miss.
    chat(&gw, "later", json!({})).await;
    wait_for_entries(&redis, 1).await;
    for content in ["break", "cut"] {
        let after = chat(&gw, content, json!({"cache": {"no-store": true}})).await;
        assert!(!is_hit(&after), "{content}");
    }
    assert_eq!(cache_keys(&redis).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_cache_works_without_redis() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::start(&config(&mock, LOCAL_CACHE, ""));

    // The store runs after the response: repeat until a call hits, then every call hits.
    let gw = &gw;
    let first_hit = eventually("a local cache hit", move || async move {
        let resp = chat(gw, "local", json!({})).await;
        is_hit(&resp).then_some(resp)
    })
    .await;
    let misses = mock.requests_for("up-cached").len();
    assert!(misses >= 1);
    assert!(is_hit(&chat(gw, "local", json!({})).await));
    assert_eq!(
        mock.requests_for("up-cached").len(),
        misses,
        "hits stay hits"
    );
    assert_eq!(first_hit.header("x-litellm-response-cost"), Some("0"));

    // Embeddings are cached too.
    let first = embed(gw).await;
    let hit = eventually("an embedding hit", move || async move {
        let resp = embed(gw).await;
        is_hit(&resp).then_some(resp)
    })
    .await;
    assert_eq!(hit.json()["data"], first.json()["data"]);

    let ping = get(&gw.url("/cache/ping"), &[KEY]).await;
    assert_eq!(ping.status, 200, "{}", ping.text());
    assert_eq!(ping.json()["status"], "healthy");
    assert_eq!(ping.json()["cache_type"], "local");
    let ready = get(&gw.url("/health/readiness"), &[]).await;
    assert_eq!(ready.json()["cache"], "local", "{}", ready.text());
    let info = get(&gw.url("/cache/redis/info"), &[KEY]).await;
    assert_eq!(info.status, 500, "{}", info.text());
    assert!(info.error_message().contains("does not support redis info"));

    // flushall empties this worker's cache.
    let before = mock.requests_for("up-cached").len();
    let flushed = post(&gw.url("/cache/flushall"), &[KEY], "").await;
    assert_eq!(flushed.json(), json!({"status": "success"}));
    assert!(!is_hit(&chat(gw, "local", json!({})).await));
    assert_eq!(mock.requests_for("up-cached").len(), before + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn default_off_caches_only_requests_that_opt_in() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::start(&config(
        &mock,
        "  cache: true\n  cache_params:\n    type: local\n    mode: default_off\n",
        "",
    ));
    let calls = || mock.requests_for("up-cached").len();
    chat(&gw, "off", json!({})).await;
    chat(&gw, "off", json!({})).await;
    assert_eq!(calls(), 2, "without use-cache nothing is cached");
    let gw_ref = &gw;
    eventually("an opted-in hit", move || async move {
        let opt_in = json!({"cache": {"use-cache": true}});
        is_hit(&chat(gw_ref, "off", opt_in).await).then_some(())
    })
    .await;
    assert!(
        !is_hit(&chat(&gw, "off", json!({})).await),
        "a request that does not opt in does not read"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_ping_delete_and_flushall() {
    let mock = MockUpstream::start().await;
    let redis = TestRedis::new().await;
    let gw = Gateway::builder(&config(
        &mock,
        "  cache: true\n  cache_params:\n    namespace: ns1\n",
        "",
    ))
    .redis(&redis)
    .start();
    redis_connected(&gw).await;

    let ping = get(&gw.url("/cache/ping"), &[KEY]).await;
    assert_eq!(ping.status, 200, "{}", ping.text());
    let body = ping.json();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["cache_type"], "redis");
    assert_eq!(body["ping_response"], true);
    assert_eq!(body["set_cache_response"], "success");
    let params: Value =
        serde_json::from_str(body["litellm_cache_params"].as_str().unwrap()).unwrap();
    assert_eq!(params["type"], "redis");
    assert_eq!(params["namespace"], "ns1");
    assert_eq!(params["mode"], "default_on");
    assert_eq!(body["health_check_cache_params"]["port"], 6379);
    assert!(!ping.text().contains("password"));
    let denied = get(&gw.url("/cache/ping"), &[("authorization", "Bearer wrong")]).await;
    assert_eq!(denied.status, 401);

    // /cache/redis/info: the server's INFO fields and its clients (this gateway among them).
    let info = get(&gw.url("/cache/redis/info"), &[KEY]).await;
    assert_eq!(info.status, 200, "{}", info.text());
    let body = info.json();
    assert!(body["info"]["redis_version"].is_string(), "{body}");
    assert!(body["info"]["connected_clients"].as_i64().unwrap_or(0) >= 1);
    let clients = body["clients"].as_array().unwrap();
    assert_eq!(body["num_clients"].as_u64(), Some(clients.len() as u64));
    assert!(clients.iter().all(|c| c["addr"].is_string()), "{body}");
    assert_eq!(
        get(&gw.url("/cache/redis/info"), &[]).await.status,
        401,
        "admin only"
    );

    chat(&gw, "one", json!({})).await;
    chat(&gw, "two", json!({})).await;
    let keys = wait_for_entries(&redis, 2).await;
    assert!(keys.iter().all(|k| k.starts_with("ns1:")), "{keys:?}");

    // delete: the key from x-litellm-cache-key goes, the other stays.
    let hit = chat(&gw, "one", json!({})).await;
    let key = hit.header("x-litellm-cache-key").unwrap().to_string();
    let deleted = post(
        &gw.url("/cache/delete"),
        &[KEY],
        json!({"keys": [key]}).to_string(),
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(deleted.json(), json!({"status": "success"}));
    assert_eq!(cache_keys(&redis).await.len(), 1);
    let bad = post(&gw.url("/cache/delete"), &[KEY], "{}").await;
    assert_eq!(bad.status, 400, "{}", bad.text());

    // flushall: every cache entry goes; other keys under the prefix stay.
    let other = format!("{}limit:keep-me", redis.prefix);
    let client = Builder::from_config(Config::from_url(&redis.url()).unwrap())
        .build()
        .unwrap();
    client.init().await.unwrap();
    let _: () = client.set(&other, "1", None, None, false).await.unwrap();
    let flushed = post(&gw.url("/cache/flushall"), &[KEY], "").await;
    assert_eq!(flushed.status, 200, "{}", flushed.text());
    assert_eq!(flushed.json(), json!({"status": "success"}));
    assert_eq!(cache_keys(&redis).await, Vec::<String>::new());
    assert_eq!(redis.get("limit:keep-me").await.as_deref(), Some("1"));
    let _ = client.quit().await;
    assert!(!is_hit(&chat(&gw, "two", json!({})).await));
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_succeed_while_redis_is_down() {
    let mock = MockUpstream::start().await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gw = Gateway::builder(&config(&mock, REDIS_CACHE, ""))
        .env("REDIS_URL", format!("redis://127.0.0.1:{closed}"))
        .start();
    for _ in 0..3 {
        let resp = chat(&gw, "still works", json!({})).await;
        assert!(!is_hit(&resp));
    }
    assert_eq!(mock.requests_for("up-cached").len(), 3);
    let body = chat_body("still works", json!({"stream": true}));
    let text = post_stream(&gw.url("/v1/chat/completions"), &[KEY], body)
        .await
        .rest()
        .await;
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");

    let ping = get(&gw.url("/cache/ping"), &[KEY]).await;
    assert_eq!(ping.status, 503, "{}", ping.text());
    assert_eq!(ping.json()["error"]["type"], "cache_ping_error");
    assert_eq!(ping.json()["error"]["param"], "cache_ping");
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_true_without_redis_warns_and_runs_without_a_cache() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::start(&config(&mock, REDIS_CACHE, ""));
    chat(&gw, "x", json!({})).await;
    chat(&gw, "x", json!({})).await;
    assert_eq!(mock.requests_for("up-cached").len(), 2);
    assert!(
        gw.output
            .wait_for(DEADLINE, |l| l.contains("no Redis is configured"))
            .is_some(),
        "{}",
        gw.output.text()
    );
    let ready = get(&gw.url("/health/readiness"), &[]).await;
    assert_eq!(ready.json()["cache"], Value::Null, "{}", ready.text());
    let ping = get(&gw.url("/cache/ping"), &[KEY]).await;
    assert_eq!(ping.status, 503, "{}", ping.text());
    let error = &ping.json()["error"];
    assert_eq!(error["type"], "cache_ping_error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("Cache not initialized"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_may_send_only_its_allowed_cache_controls() {
    let mock = MockUpstream::start().await;
    let db = TestDb::create().await;
    let gw = Gateway::builder(&config(&mock, LOCAL_CACHE, ""))
        .env("DATABASE_URL", &db.url)
        .start();
    let generate = |body: Value| {
        let url = gw.url("/key/generate");
        async move {
            let resp = post(&url, &[KEY], body.to_string()).await;
            assert_eq!(resp.status, 200, "{}", resp.text());
            format!("Bearer {}", resp.json()["key"].as_str().unwrap())
        }
    };
    let limited = generate(json!({"allowed_cache_controls": ["no-cache"]})).await;
    let open = generate(json!({})).await;
    let call = |key: String, cache: Value| {
        let url = gw.url("/v1/chat/completions");
        async move {
            post(
                &url,
                &[("authorization", key.as_str())],
                chat_body("controls", json!({"cache": cache})),
            )
            .await
        }
    };
    let allowed = call(limited.clone(), json!({"no-cache": true})).await;
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    let before = mock.requests_for("up-cached").len();
    let refused = call(limited, json!({"no-cache": true, "ttl": 60})).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(
        refused.error_message(),
        "Not allowed to set ttl as a cache control. Contact admin to change permissions."
    );
    assert_eq!(
        mock.requests_for("up-cached").len(),
        before,
        "a refused request never reaches the upstream"
    );
    // A key without the list may send any control.
    let anything = call(open, json!({"ttl": 60, "s-maxage": 10})).await;
    assert_eq!(anything.status, 200, "{}", anything.text());
}
