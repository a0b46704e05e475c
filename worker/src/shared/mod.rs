//! What this worker shares with every other worker and instance through Redis: rate limits and
//! budget reservations (used by admission), routing state (cooldowns, in-flight counts, usage,
//! latency), and key-cache invalidations.
//!
//! Redis is an accelerator, never a dependency of a request. Reads on the request path are
//! bounded by the client's call timeout and fall back to per-process state; writes that must not
//! be lost (parallel-slot releases, budget settlements, in-flight decrements, budget resets) go
//! through [`Shared::apply`]: run off the request path, and kept in a bounded queue while Redis is
//! down, replayed when it is back. Everything else shared (usage counters, latency samples) is a
//! load signal that may be lost.

pub mod invalidate;
pub mod leases;
pub mod routing;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use haimaker_cache::{Redis, RedisError};

/// Writes kept while Redis is down, at most; older ones are dropped first (their counters expire
/// by TTL anyway), with a warning.
const MAX_DEFERRED: usize = 10_000;
/// How long a starting worker waits for its Redis connection before it reports ready.
pub const CONNECT_PATIENCE: Duration = Duration::from_secs(2);
/// How often routing state is exchanged (cooldowns, in-flight counts, usage, latency) and
/// deferred writes are replayed. LiteLLM memoizes cooldown reads for 1 s.
const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_millis(500);

/// A write that must reach Redis eventually.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Frees `n` parallel-request slots in each scope.
    ReleaseN { scopes: Vec<String>, n: u64 },
    /// Ends a budget reservation with the real cost.
    Settle {
        entities: Vec<String>,
        estimate: f64,
        actual: f64,
    },
    /// A finished call's tokens, for tpm limits.
    AddTokens { scopes: Vec<String>, tokens: u64 },
    /// Least-busy: a call on this deployment ended.
    CallEnded(String),
    /// The database reset these budgets.
    ResetSpend(Vec<String>),
}

impl Write {
    async fn run(&self, redis: &Redis) -> Result<(), RedisError> {
        match self {
            Self::ReleaseN { scopes, n } => redis.release_n(scopes, *n).await,
            Self::Settle {
                entities,
                estimate,
                actual,
            } => redis.settle(entities, *estimate, *actual).await,
            Self::AddTokens { scopes, tokens } => redis.add_tokens(scopes, *tokens).await,
            Self::CallEnded(id) => redis.decr_in_flight(id).await,
            Self::ResetSpend(entities) => redis.reset_spend(entities).await,
        }
    }
}

#[derive(Debug)]
pub struct Shared {
    pub redis: Redis,
    /// Limit and budget leases handed out locally.
    pub leases: Arc<leases::Leases>,
    deferred: Mutex<VecDeque<Write>>,
    sync_interval: Duration,
}

impl Shared {
    pub fn new(redis: Redis, env: &dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            redis,
            leases: Arc::default(),
            deferred: Mutex::default(),
            sync_interval: env("HAIMAKER_REDIS_SYNC_MS")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|ms| *ms > 0)
                .map_or(DEFAULT_SYNC_INTERVAL, Duration::from_millis),
        }
    }

    /// Applies `write` in the background; while Redis is down it is queued and replayed later.
    pub fn apply(self: &Arc<Self>, write: Write) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.defer(write);
            return;
        };
        let shared = Arc::clone(self);
        runtime.spawn(async move {
            if !shared.redis.is_up() {
                shared.defer(write);
                return;
            }
            match write.run(&shared.redis).await {
                Ok(()) => {}
                Err(RedisError::Unavailable(_)) => shared.defer(write),
                Err(e) => {
                    tracing::warn!(target: "haimaker::redis", error = %e, ?write, "redis write failed; dropped")
                }
            }
        });
    }

    /// Sends a best-effort write (a load signal): dropped when Redis is down.
    pub fn signal<F>(self: &Arc<Self>, f: impl FnOnce(Redis) -> F + Send + 'static)
    where
        F: std::future::Future<Output = Result<(), RedisError>> + Send + 'static,
    {
        if !self.redis.is_up() {
            return;
        }
        let redis = self.redis.clone();
        tokio::spawn(async move {
            let _ = f(redis).await;
        });
    }

    fn defer(&self, write: Write) {
        let mut queue = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        if queue.len() >= MAX_DEFERRED {
            queue.pop_front();
            tracing::warn!(target: "haimaker::redis", kept = MAX_DEFERRED, "redis down too long: oldest deferred write dropped");
        }
        queue.push_back(write);
    }

    /// Waits until a Redis connection is up (and, with `listening`, key-cache invalidations
    /// arrive), at most `within`; whether it is.
    pub async fn connected_within(&self, within: Duration, listening: bool) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while !self.redis.is_up() || (listening && !self.redis.is_subscribed()) {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// How many writes wait for Redis.
    pub fn deferred_len(&self) -> usize {
        self.deferred
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Replays deferred writes in order until one fails or none is left.
    async fn replay(&self) {
        loop {
            let next = self
                .deferred
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front();
            let Some(write) = next else { return };
            match write.run(&self.redis).await {
                Ok(()) => {}
                Err(RedisError::Unavailable(_)) => {
                    self.deferred
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push_front(write);
                    return;
                }
                Err(e) => {
                    tracing::warn!(target: "haimaker::redis", error = %e, ?write, "deferred redis write failed; dropped")
                }
            }
        }
    }

    /// Starts the background tasks: routing-state exchange and deferred-write replay, and the
    /// key-cache invalidation listener.
    pub fn start(self: &Arc<Self>, state: &Arc<crate::state::AppState>) {
        let shared = Arc::clone(self);
        let app = Arc::clone(state);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(shared.sync_interval).await;
                if !shared.redis.is_up() {
                    continue;
                }
                shared.replay().await;
                routing::exchange(&shared.redis, &app.router()).await;
            }
        });
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(leases::FLUSH_INTERVAL).await;
                for write in shared.leases.due(false) {
                    shared.apply(write);
                }
            }
        });
        invalidate::listen(self, state);
    }

    /// At a planned exit: gives back every lease and writes what is deferred, waiting at most
    /// `within` (what cannot be written is left to the Redis TTLs).
    pub async fn final_flush(&self, within: Duration) {
        let writes = self.leases.due(true);
        let all = async {
            for write in writes {
                if let Err(RedisError::Unavailable(_)) = write.run(&self.redis).await {
                    self.defer(write);
                }
            }
            self.replay().await;
        };
        if tokio::time::timeout(within, all).await.is_err() {
            tracing::warn!(target: "haimaker::redis", pending = self.deferred_len(), "redis writes not finished at exit; the TTLs free what was held");
        }
    }
}
