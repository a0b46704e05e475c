//! What alerting shares across workers and instances: one-time claims (the same event is sent
//! once, whoever sees it) and squash buckets (alerts of one type in one interval become one
//! message with the count of every worker).

use std::time::Duration;

use fred::prelude::KeysInterface;
use fred::types::{ClusterHash, CustomCommand, Expiration, SetOptions, Value};

use crate::{Redis, RedisError};

/// Adds a worker's count to a bucket, keeps the first text, and tells the first caller it leads
/// (sends) the bucket. KEYS: the bucket hash, the lead flag. ARGV: count, text, TTL in ms.
const SQUASH_ADD: &str = "redis.call('HINCRBY', KEYS[1], 'n', ARGV[1]) \
    redis.call('HSETNX', KEYS[1], 't', ARGV[2]) \
    redis.call('PEXPIRE', KEYS[1], ARGV[3]) \
    if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then return 1 else return 0 end";

fn ms(ttl: Duration) -> i64 {
    ttl.as_millis().clamp(1, i64::MAX as u128) as i64
}

impl Redis {
    /// `SET P alert:claim:<key> NX PX ttl`: `true` for the one caller that set it within `ttl`.
    pub async fn claim(&self, key: &str, ttl: Duration) -> Result<bool, RedisError> {
        let key = self.key(&format!("alert:claim:{key}"));
        let set: Option<String> = self
            .run(|c| async move {
                c.set(
                    key,
                    "1",
                    Some(Expiration::PX(ms(ttl))),
                    Some(SetOptions::NX),
                    false,
                )
                .await
            })
            .await?;
        Ok(set.is_some())
    }

    /// Adds `count` alerts (first text `text`) to the squash bucket `bucket`; `true` when this
    /// caller is the first of the bucket and must send it (after the others had time to add).
    pub async fn squash_add(
        &self,
        bucket: &str,
        count: u64,
        text: &str,
        ttl: Duration,
    ) -> Result<bool, RedisError> {
        let args: Vec<Value> = vec![
            SQUASH_ADD.into(),
            2i64.into(),
            self.key(&format!("alert:squash:{bucket}")).into(),
            self.key(&format!("alert:squash:{bucket}:lead")).into(),
            i64::try_from(count).unwrap_or(i64::MAX).into(),
            text.into(),
            ms(ttl).into(),
        ];
        let leads: i64 = self
            .run(|c| async move { fred::prelude::ClientLike::custom(&c, eval(), args).await })
            .await?;
        Ok(leads == 1)
    }

    /// The bucket's total count and first text.
    pub async fn squash_read(&self, bucket: &str) -> Result<Option<(u64, String)>, RedisError> {
        let args: Vec<Value> = vec![
            self.key(&format!("alert:squash:{bucket}")).into(),
            "n".into(),
            "t".into(),
        ];
        let (n, t): (Option<String>, Option<String>) = self
            .run(|c| async move { fred::prelude::ClientLike::custom(&c, hmget(), args).await })
            .await?;
        Ok(match (n.and_then(|n| n.parse::<u64>().ok()), t) {
            (Some(n), Some(t)) => Some((n, t)),
            _ => None,
        })
    }
}

fn eval() -> CustomCommand {
    CustomCommand::new_static("EVAL", ClusterHash::Random, false)
}

fn hmget() -> CustomCommand {
    CustomCommand::new_static("HMGET", ClusterHash::FirstKey, false)
}
