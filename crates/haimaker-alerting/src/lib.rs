//! Alerting (LiteLLM's Slack alerting, reference section 8): the alert types, their wording and
//! the Slack layout, and the background machinery that sends them.
//!
//! # How an alert travels
//! 1. A hook in the gateway builds an [`Alert`] (see [`alert`] for every kind) and calls
//!    [`Alerting::raise`]: a bit test (is the type on?), a local de-duplication check for
//!    events that have an identity, a push onto a bounded queue (512 alerts; beyond that only
//!    the count per type is kept). Nothing is awaited; requests never wait for alerting.
//! 2. Every flush interval (`HAIMAKER_ALERTING_FLUSH_MS`, default 5 s, aligned to the wall
//!    clock so every worker flushes at the same instants) the queue is taken:
//!    * events with an identity ([`Dedupe`]) are claimed in Redis (`SET NX PX`): the first
//!      worker of any instance sends, the others drop theirs. Without Redis (or while it is
//!      down) events every worker observes (`fleet`: the database or Redis going away,
//!      reports) are sent only by the leader worker (slot 1), others per worker;
//!    * what remains is squashed per alert type (LiteLLM squashes per webhook URL and type;
//!      every URL of a type gets the same text): the first alert's text with
//!      `[Num Alerts: N]` in front. Events with an identity (a budget event of one key, an
//!      outage of one deployment) are not folded into each other: LiteLLM would show the
//!      first of "5% threshold" and "budget crossed" only. With Redis the squash is across workers and instances: each
//!      adds its count to a bucket for (type, URLs, interval), the first to add sends the sum
//!      after a short grace;
//!    * budget events also go to `WEBHOOK_URL` as LiteLLM's `WebhookEvent` JSON with
//!      `alerting: ["webhook"]`.
//! 3. Posts run on tasks of their own, at most 16 at a time, 10 s each, never retried; a
//!    failure is logged at most once a minute. A dead webhook costs nothing else.
//!
//! Hanging calls are found by one sweep over a registry of calls in flight ([`hanging`]), not
//! by a timer per call.

pub mod alert;
pub mod format;
pub mod hanging;
pub mod kind;
pub mod outage;
pub mod reports;
mod send;
pub mod settings;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use haimaker_cache::{Redis, RedisError};
use sha2::{Digest, Sha256};

pub use alert::{Alert, BudgetEvent, BudgetInfo, BudgetScope, CallInfo, Dedupe};
pub use hanging::{CallDetails, Tracked};
pub use kind::{AlertType, Level, TypeSet};
pub use outage::Failure;
pub use settings::{Args, Settings};

use crate::format::{slack_text, squashed};
use crate::hanging::Hanging;
use crate::outage::Outages;
use crate::send::Sender;

/// Alerts queued at most between two flushes; beyond this only their count per type is kept.
const MAX_PENDING: usize = 512;
/// Event identities remembered locally at most.
const MAX_RECENT: usize = 4_096;

/// The worker's alerting: cheap to clone.
#[derive(Clone)]
pub struct Alerting {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Alerting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerting")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

struct Inner {
    settings: Settings,
    /// The types that are on and have somewhere to go.
    active: TypeSet,
    outbox: Mutex<Outbox>,
    /// Event identities seen by this worker, until when.
    recent: Mutex<HashMap<String, Instant>>,
    leader: AtomicBool,
    sender: Arc<Sender>,
    outages: Mutex<Outages>,
    hanging: Option<Arc<Hanging>>,
    redis: OnceLock<Redis>,
}

#[derive(Default)]
struct Outbox {
    alerts: Vec<Alert>,
    overflow: BTreeMap<AlertType, u64>,
}

impl Alerting {
    pub fn new(settings: Settings) -> Self {
        let active: TypeSet = settings
            .types
            .iter()
            .filter(|t| settings.sends(*t))
            .collect();
        let hanging = active
            .contains(AlertType::LlmRequestsHanging)
            .then(|| Arc::new(Hanging::new(settings.threshold)));
        Self {
            inner: Arc::new(Inner {
                outages: Mutex::new(Outages::new(&settings.args)),
                settings,
                active,
                outbox: Mutex::new(Outbox::default()),
                recent: Mutex::new(HashMap::new()),
                leader: AtomicBool::new(false),
                sender: Arc::new(Sender::new()),
                hanging,
                redis: OnceLock::new(),
            }),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Whether alerts of this type are sent (a bit test: cheap on the request path).
    pub fn sends(&self, t: AlertType) -> bool {
        self.inner.active.contains(t)
    }

    /// The types that are sent.
    pub fn active(&self) -> TypeSet {
        self.inner.active
    }

    /// `alerting_threshold`.
    pub fn threshold(&self) -> Duration {
        self.inner.settings.threshold
    }

    /// The leader worker sends the events every worker observes when they cannot be claimed
    /// in Redis (worker slot 1).
    pub fn set_leader(&self, leader: bool) {
        self.inner.leader.store(leader, Ordering::Relaxed);
    }

    fn is_leader(&self) -> bool {
        self.inner.leader.load(Ordering::Relaxed)
    }

    /// Whether this worker sends the report `key` (a scheduled report's period): the first
    /// worker of any instance to claim it in Redis, or, without Redis, the leader worker (so a
    /// pod sends it once, and a deployment once when its pods share Redis).
    pub async fn claim_report(&self, key: &str, ttl: Duration) -> bool {
        let Some(redis) = self.inner.redis.get().filter(|r| r.is_up()) else {
            return self.is_leader();
        };
        match redis
            .claim(&format!("report:{key}"), ttl.max(Duration::from_secs(1)))
            .await
        {
            Ok(won) => won,
            Err(e) => {
                log_redis(&e);
                self.is_leader()
            }
        }
    }

    /// Posts delivered so far (tests, diagnostics).
    pub fn delivered(&self) -> u64 {
        self.inner.sender.sent()
    }

    /// Queues an alert. Never blocks on I/O.
    pub fn raise(&self, alert: Alert) {
        if !self.sends(alert.kind) {
            return;
        }
        if let Some(dedupe) = &alert.dedupe
            && !self.first_here(dedupe)
        {
            return;
        }
        let mut outbox = self.inner.outbox.lock().unwrap_or_else(|p| p.into_inner());
        if outbox.alerts.len() < MAX_PENDING {
            outbox.alerts.push(alert);
        } else {
            *outbox.overflow.entry(alert.kind).or_default() += 1;
        }
    }

    /// Whether this worker has not seen this event within its window (and remembers it).
    fn first_here(&self, dedupe: &Dedupe) -> bool {
        let now = Instant::now();
        let mut recent = self.inner.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.get(&dedupe.key).is_some_and(|until| *until > now) {
            return false;
        }
        if recent.len() >= MAX_RECENT {
            recent.retain(|_, until| *until > now);
        }
        if recent.len() < MAX_RECENT {
            recent.insert(dedupe.key.clone(), now + dedupe.ttl);
        }
        true
    }

    /// Counts a failed call for outage detection; raises the outage alerts it triggers.
    pub fn call_failed(&self, failure: &Failure<'_>) {
        let model = self.sends(AlertType::OutageAlerts);
        let region = self.sends(AlertType::RegionOutageAlerts) && failure.region.is_some();
        if !(model || region) || !Outages::counts(failure.status) {
            return;
        }
        let alerts = {
            let mut outages = self.inner.outages.lock().unwrap_or_else(|p| p.into_inner());
            outages.record(failure, Instant::now(), model, region)
        };
        for alert in alerts {
            self.raise(alert);
        }
    }

    /// Registers a call in flight for hanging-request detection (`None` when that alert is off).
    pub fn track(&self, details: impl FnOnce() -> CallDetails) -> Option<Tracked> {
        self.inner.hanging.as_ref().map(|h| h.track(details()))
    }

    /// Starts the flush loop and the hanging-call sweep. Call once, inside the runtime.
    pub fn start(&self, redis: Option<Redis>) {
        if let Some(redis) = redis {
            let _ = self.inner.redis.set(redis);
        }
        let this = self.clone();
        tokio::spawn(async move { this.flush_loop().await });
        if let Some(hanging) = self.inner.hanging.clone() {
            let this = self.clone();
            tokio::spawn(async move {
                let every = hanging.sweep_interval();
                loop {
                    tokio::time::sleep(every).await;
                    for alert in hanging.sweep(Instant::now()) {
                        this.raise(alert);
                    }
                }
            });
        }
    }

    async fn flush_loop(&self) {
        let interval_ms = u64::try_from(self.inner.settings.flush_interval.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        loop {
            let now = unix_ms();
            let boundary = (now / interval_ms + 1) * interval_ms;
            tokio::time::sleep(Duration::from_millis(boundary - now)).await;
            self.flush(boundary / interval_ms).await;
        }
    }

    /// Sends what is queued (one interval's worth, `bucket` its number).
    async fn flush(&self, bucket: u64) {
        let Outbox { alerts, overflow } = {
            let mut outbox = self.inner.outbox.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *outbox)
        };
        if alerts.is_empty() && overflow.is_empty() {
            return;
        }
        // A Redis that fails once in this flush is not asked again until the next.
        let mut redis = self.inner.redis.get().filter(|r| r.is_up());
        let mut kept = Vec::with_capacity(alerts.len());
        for alert in alerts {
            let Some(dedupe) = &alert.dedupe else {
                kept.push(alert);
                continue;
            };
            let claimed = match redis.filter(|_| !dedupe.leader_only) {
                Some(r) => match r.claim(&dedupe.key, dedupe.ttl).await {
                    Ok(won) => Some(won),
                    Err(e) => {
                        log_redis(&e);
                        redis = None;
                        None
                    }
                },
                None => None,
            };
            let send = match claimed {
                Some(won) => won,
                None => !dedupe.fleet || self.is_leader(),
            };
            if send {
                kept.push(alert);
            }
        }
        let settings = &self.inner.settings;
        if settings.webhook
            && let Some(url) = &settings.webhook_url
        {
            for alert in &kept {
                if let Some(event) = &alert.webhook_event {
                    self.inner
                        .sender
                        .spawn_post(url.clone(), Bytes::from(event.to_string()));
                }
            }
        }
        if !settings.slack {
            return;
        }
        // Squashed per type; events with an identity (a budget event, an outage of one
        // deployment, ...) are never folded into another event's message.
        let mut groups: BTreeMap<(AlertType, Option<String>), (Option<Alert>, u64)> =
            BTreeMap::new();
        for alert in kept {
            let identity = alert.dedupe.as_ref().map(|d| d.key.clone());
            let group = groups.entry((alert.kind, identity)).or_insert((None, 0));
            group.1 += 1;
            if group.0.is_none() {
                group.0 = Some(alert);
            }
        }
        for (kind, n) in overflow {
            groups.entry((kind, None)).or_insert((None, 0)).1 += n;
        }
        for ((kind, identity), (first, count)) in groups {
            let Some(first) = first else {
                continue;
            };
            let urls = settings.urls(kind);
            if urls.is_empty() {
                continue;
            }
            let text = slack_text(
                kind,
                first.level,
                &first.message,
                first.at,
                first.metadata.as_ref(),
                settings.proxy_base_url.as_deref(),
            );
            if let Some(r) = redis {
                let key = match &identity {
                    Some(id) => format!("{kind}:{}:{}:{bucket}", urls_id(urls), short_id(id)),
                    None => format!("{kind}:{}:{bucket}", urls_id(urls)),
                };
                let ttl = settings.flush_interval * 4;
                match r.squash_add(&key, count, &text, ttl).await {
                    Ok(true) => {
                        self.send_bucket(r.clone(), key, kind, text, count);
                        continue;
                    }
                    Ok(false) => continue,
                    Err(e) => {
                        log_redis(&e);
                        redis = None;
                    }
                }
            }
            self.post_slack(kind, &squashed(&text, count));
        }
    }

    /// The leader of a shared squash bucket: waits for the other workers to add theirs, then
    /// sends the total.
    fn send_bucket(&self, redis: Redis, key: String, kind: AlertType, text: String, count: u64) {
        let grace = (self.inner.settings.flush_interval / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let (n, t) = match redis.squash_read(&key).await {
                Ok(Some((n, t))) => (n.max(count), t),
                Ok(None) => (count, text),
                Err(e) => {
                    log_redis(&e);
                    (count, text)
                }
            };
            this.post_slack(kind, &squashed(&t, n));
        });
    }

    fn post_slack(&self, kind: AlertType, text: &str) {
        let settings = &self.inner.settings;
        if settings.args.log_to_console {
            tracing::warn!(target: "haimaker::alerting", alert_type = kind.as_str(), "{text}");
        }
        let body = Bytes::from(serde_json::json!({ "text": text }).to_string());
        for url in settings.urls(kind) {
            self.inner.sender.spawn_post(url.clone(), body.clone());
        }
    }
}

/// A short stable id of a type's URL list (the URLs themselves are secrets).
fn urls_id(urls: &[String]) -> String {
    let mut hasher = Sha256::new();
    for url in urls {
        hasher.update(url.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(&hasher.finalize()[..8])
}

/// A short stable id of an event identity (keeps Redis keys short).
fn short_id(identity: &str) -> String {
    hex::encode(&Sha256::digest(identity.as_bytes())[..8])
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn log_redis(e: &RedisError) {
    tracing::debug!(target: "haimaker::alerting", error = %e, "alert de-duplication without redis for this flush");
}

#[cfg(test)]
mod tests;
