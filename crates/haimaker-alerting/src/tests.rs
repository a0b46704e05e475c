//! The queue, squashing, de-duplication and delivery, against a local webhook receiver (and the
//! test Redis for the cross-worker cases: `HAIMAKER_TEST_REDIS_URL`, default the local one).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpListener;

use super::*;

/// Records every JSON body posted to it.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let this = Self::default();
        let got = Arc::clone(&this.got);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let got = Arc::clone(&got);
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let got = Arc::clone(&got);
                        async move {
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                                got.lock().unwrap_or_else(|p| p.into_inner()).push(v);
                            }
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (this, url)
    }

    fn texts(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|v| v["text"].as_str().map(str::to_string))
            .collect()
    }

    fn all(&self) -> Vec<Value> {
        self.got.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let texts = self.texts();
            if texts.len() >= n {
                return texts;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {n} posts, got {texts:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn settings(url: &str) -> Settings {
    Settings {
        slack: true,
        webhook: false,
        threshold: Duration::from_secs(1),
        types: TypeSet::from_iter(AlertType::ALL),
        routes: BTreeMap::new(),
        default_url: Some(url.to_string()),
        webhook_url: None,
        proxy_base_url: None,
        args: Args::default(),
        spend_report_frequency: None,
        flush_interval: Duration::from_millis(200),
        log_messages: false,
    }
}

fn exception(n: usize) -> Alert {
    alert::llm_exception(
        &CallInfo {
            model_group: "g",
            ..CallInfo::default()
        },
        &format!("error {n}"),
    )
}

async fn redis(prefix: &str) -> Redis {
    let url = std::env::var("HAIMAKER_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut settings = haimaker_cache::RedisSettings::from_url(&url).expect("redis url");
    settings.prefix = prefix.to_string();
    let redis = Redis::new(&settings).expect("redis client");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !redis.is_up() {
        assert!(
            Instant::now() < deadline,
            "the test Redis at {url} is not reachable"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    redis
}

fn prefix() -> String {
    format!("hmtest:alert:{:016x}:", rand_u64())
}

fn rand_u64() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ u64::from(std::process::id()).rotate_left(32)
}

#[tokio::test]
async fn one_interval_of_one_type_is_one_message_with_the_count() {
    let (receiver, url) = Receiver::start().await;
    let alerting = Alerting::new(settings(&url));
    for n in 0..3 {
        alerting.raise(exception(n));
    }
    alerting.raise(alert::fallback("a", "b", "boom", 1));
    alerting.flush(1).await;
    let texts = receiver.wait_for(2).await;
    let exc = texts
        .iter()
        .find(|t| t.contains("LLM API call failed"))
        .expect("exception alert");
    assert!(
        exc.starts_with("[Num Alerts: 3]\n\nLevel: `High`\nTimestamp: `"),
        "{exc}"
    );
    assert!(exc.contains("`error 0`"), "the first alert's text: {exc}");
    let fb = texts
        .iter()
        .find(|t| t.contains("Fallback used"))
        .expect("fallback alert");
    assert!(!fb.contains("Num Alerts"), "{fb}");
}

#[tokio::test]
async fn types_that_are_off_cost_nothing_and_send_nothing() {
    let (receiver, url) = Receiver::start().await;
    let mut s = settings(&url);
    s.types = TypeSet::from_iter([AlertType::DbExceptions]);
    let alerting = Alerting::new(s);
    alerting.set_leader(true);
    assert!(!alerting.sends(AlertType::LlmExceptions));
    assert!(alerting.track(CallDetails::default).is_none());
    alerting.raise(exception(1));
    alerting.raise(alert::db_down("refused"));
    alerting.flush(1).await;
    let texts = receiver.wait_for(1).await;
    assert_eq!(texts.len(), 1);
    assert!(texts[0].contains("DB read/write call failed: `refused`"));
}

#[tokio::test]
async fn without_redis_a_fleet_event_is_sent_by_the_leader_only() {
    let (receiver, url) = Receiver::start().await;
    let leader = Alerting::new(settings(&url));
    leader.set_leader(true);
    let other = Alerting::new(settings(&url));
    for worker in [&leader, &other] {
        worker.raise(alert::db_down("connection refused"));
        worker.raise(alert::db_down("connection refused"));
        worker.flush(1).await;
    }
    let texts = receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.texts().len(), 1, "{texts:?}");
    assert!(
        !texts[0].contains("Num Alerts"),
        "the local duplicate was dropped: {}",
        texts[0]
    );
}

#[tokio::test]
async fn with_redis_two_workers_send_one_event_and_one_squashed_message() {
    let (receiver, url) = Receiver::start().await;
    let prefix = prefix();
    let (a, b) = (Alerting::new(settings(&url)), Alerting::new(settings(&url)));
    a.inner.redis.set(redis(&prefix).await).ok();
    b.inner.redis.set(redis(&prefix).await).ok();
    // Neither is the leader: the Redis claim decides.
    for worker in [&a, &b] {
        worker.raise(alert::db_down("connection refused"));
    }
    for n in 0..2 {
        a.raise(exception(n));
    }
    for n in 2..5 {
        b.raise(exception(n));
    }
    let bucket = unix_ms();
    a.flush(bucket).await;
    b.flush(bucket).await;
    let texts = receiver.wait_for(2).await;
    // The leader of the bucket waits a grace period; give a straggler time to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let texts = if receiver.texts().len() > texts.len() {
        receiver.texts()
    } else {
        texts
    };
    assert_eq!(texts.len(), 2, "{texts:?}");
    let db: Vec<_> = texts
        .iter()
        .filter(|t| t.contains("DB read/write"))
        .collect();
    assert_eq!(db.len(), 1);
    assert!(!db[0].contains("Num Alerts"));
    let exc: Vec<_> = texts
        .iter()
        .filter(|t| t.contains("LLM API call failed"))
        .collect();
    assert_eq!(exc.len(), 1);
    assert!(exc[0].starts_with("[Num Alerts: 5]"), "{}", exc[0]);
}

#[tokio::test]
async fn budget_events_go_to_the_generic_webhook_too() {
    let (receiver, url) = Receiver::start().await;
    let mut s = settings(&url);
    s.slack = false;
    s.webhook = true;
    s.webhook_url = Some(url.clone());
    let alerting = Alerting::new(s);
    assert!(alerting.sends(AlertType::BudgetAlerts));
    let info = BudgetInfo {
        scope: BudgetScope::Team,
        id: "t1".into(),
        spend: 5.0,
        max_budget: 5.0,
        key_alias: None,
        user_id: None,
        team_id: Some("t1".into()),
        team_alias: Some("Team One".into()),
        user_email: None,
    };
    alerting.raise(alert::budget(
        &info,
        BudgetEvent::Crossed,
        Duration::from_secs(60),
    ));
    alerting.raise(alert::budget(
        &info,
        BudgetEvent::Crossed,
        Duration::from_secs(60),
    ));
    alerting.raise(exception(1));
    alerting.flush(1).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.all().is_empty() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let all = receiver.all();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["event"], "budget_crossed");
    assert_eq!(all[0]["event_group"], "team");
    assert_eq!(all[0]["team_alias"], "Team One");
    assert!(all[0].get("text").is_none());
}

#[tokio::test]
async fn a_dead_webhook_is_harmless_and_the_queue_is_bounded() {
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        format!("http://{}/hook", l.local_addr().expect("addr"))
    };
    let alerting = Alerting::new(settings(&dead));
    let started = Instant::now();
    for n in 0..(MAX_PENDING + 100) {
        alerting.raise(exception(n));
    }
    assert!(started.elapsed() < Duration::from_secs(1));
    {
        let outbox = alerting
            .inner
            .outbox
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        assert_eq!(outbox.alerts.len(), MAX_PENDING);
        assert_eq!(outbox.overflow.get(&AlertType::LlmExceptions), Some(&100));
    }
    alerting.flush(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(alerting.delivered(), 0);
}

#[tokio::test]
async fn hanging_calls_are_swept_into_alerts() {
    let (receiver, url) = Receiver::start().await;
    let mut s = settings(&url);
    s.threshold = Duration::from_millis(200);
    s.flush_interval = Duration::from_millis(100);
    let alerting = Alerting::new(s);
    alerting.start(None);
    let call = alerting.track(|| CallDetails {
        model_group: "slow-group".into(),
        api_base: "http://upstream".into(),
        ..CallDetails::default()
    });
    let texts = receiver.wait_for(1).await;
    assert!(
        texts[0].contains("`Requests are hanging - 0.2s+ request time`"),
        "{}",
        texts[0]
    );
    assert!(texts[0].contains("Level: `Medium`"));
    assert!(texts[0].contains("Request Model: `slow-group`"));
    drop(call);
}

#[tokio::test]
async fn a_failed_spend_write_is_a_failed_tracking_spend_alert() {
    let (receiver, url) = Receiver::start().await;
    let mut s = settings(&url);
    s.types = TypeSet::from_iter([AlertType::FailedTrackingSpend]);
    let alerting = Alerting::new(s);
    alerting.set_leader(true);
    alerting.raise(alert::db_write_failed("permission denied"));
    alerting.raise(alert::failed_tracking_spend("permission denied"));
    alerting.flush(1).await;
    let texts = receiver.wait_for(1).await;
    assert_eq!(texts.len(), 1, "db_exceptions is not in alert_types");
    assert!(texts[0].contains("Failed Tracking Cost"), "{}", texts[0]);
    assert!(texts[0].contains("permission denied"));
    assert!(texts[0].contains("High"));
}
