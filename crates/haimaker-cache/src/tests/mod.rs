//! Tests. Everything but `settings` and `key` runs against a real Redis
//! (`HAIMAKER_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`); each test works under its own random
//! prefix, so tests run in parallel, and deletes its keys at the end. An unreachable Redis fails the
//! test with a hint; nothing is skipped.

mod budget;
mod cache;
mod invalidation;
mod key;
mod limits;
mod outage;
mod routing;
mod settings;

use std::time::{Duration, Instant};

use fred::prelude::{ClientLike, KeysInterface};
use fred::types::{ClusterHash, CustomCommand, Value};

use crate::cache::glob_escape;
use crate::{Redis, RedisSettings};

pub(crate) fn test_url() -> String {
    std::env::var("HAIMAKER_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub(crate) fn random_prefix() -> String {
    format!("hmtest:{:016x}:", rand::random::<u64>())
}

pub(crate) fn test_settings(prefix: &str) -> RedisSettings {
    let mut settings = RedisSettings::from_url(&test_url())
        .unwrap_or_else(|e| panic!("HAIMAKER_TEST_REDIS_URL is not usable: {e}"));
    settings.prefix = prefix.to_owned();
    settings
}

/// A client on the test Redis under `prefix`, connected (or a failed test saying how to fix it).
pub(crate) async fn connect(prefix: &str) -> Redis {
    let redis = Redis::new(&test_settings(prefix)).expect("Redis::new");
    wait_until(
        "the test Redis to be reachable",
        Duration::from_secs(5),
        || redis.is_up(),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "Redis is not reachable at {}: start redis-server 7.0+ there, or point \
             HAIMAKER_TEST_REDIS_URL at one (these tests need a real Redis)",
            test_url()
        )
    });
    redis.ping().await.expect("PING on the test Redis");
    redis
}

/// Deletes every key under a test prefix when dropped, also when the test panics (from a thread of its
/// own with its own runtime, since a destructor cannot await).
pub(crate) struct Cleanup(String);

impl Cleanup {
    pub(crate) fn new(prefix: &str) -> Self {
        Self(prefix.to_owned())
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let prefix = self.0.clone();
        let cleaner = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let Ok(redis) = Redis::new(&test_settings(&prefix)) else {
                    return;
                };
                if wait_until("cleanup connection", Duration::from_secs(2), || {
                    redis.is_up()
                })
                .await
                .is_ok()
                {
                    redis.delete_all_test_keys().await;
                }
            });
        });
        let _ = cleaner.join();
    }
}

/// Polls `cond` every 20 ms until it holds or `limit` passes.
pub(crate) async fn wait_until(
    what: &str,
    limit: Duration,
    mut cond: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while !cond() {
        if Instant::now() > deadline {
            return Err(format!("timed out after {limit:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

impl Redis {
    /// Deletes every key under this client's prefix (test cleanup).
    pub(crate) async fn delete_all_test_keys(&self) {
        let client = self.raw();
        let pattern = format!("{}*", glob_escape(self.prefix()));
        let mut cursor = "0".to_owned();
        loop {
            let args: Vec<Value> = vec![
                cursor.into(),
                "MATCH".into(),
                pattern.clone().into(),
                "COUNT".into(),
                1000i64.into(),
            ];
            let (next, keys): (String, Vec<String>) = client
                .custom(
                    CustomCommand::new_static("SCAN", ClusterHash::Random, false),
                    args,
                )
                .await
                .expect("SCAN for cleanup");
            if !keys.is_empty() {
                let _: u64 = client.unlink(keys).await.expect("UNLINK for cleanup");
            }
            if next == "0" {
                return;
            }
            cursor = next;
        }
    }

    /// How many keys exist under the prefix.
    pub(crate) async fn count_test_keys(&self, pattern_after_prefix: &str) -> usize {
        let client = self.raw();
        let pattern = format!("{}{pattern_after_prefix}", glob_escape(self.prefix()));
        let mut cursor = "0".to_owned();
        let mut n = 0;
        loop {
            let args: Vec<Value> = vec![
                cursor.into(),
                "MATCH".into(),
                pattern.clone().into(),
                "COUNT".into(),
                1000i64.into(),
            ];
            let (next, keys): (String, Vec<String>) = client
                .custom(
                    CustomCommand::new_static("SCAN", ClusterHash::Random, false),
                    args,
                )
                .await
                .expect("SCAN");
            n += keys.len();
            if next == "0" {
                return n;
            }
            cursor = next;
        }
    }

    /// Remaining TTL in ms of `P<rest>` (-2 missing, -1 none).
    pub(crate) async fn test_pttl(&self, rest: &str) -> i64 {
        self.raw().pttl(self.key(rest)).await.expect("PTTL")
    }

    /// The raw value of `P<rest>`.
    pub(crate) async fn test_get(&self, rest: &str) -> Option<String> {
        self.raw().get(self.key(rest)).await.expect("GET")
    }
}
