//! The response cache: bytes in, bytes out. The worker decides keys ([`crate::cache_key`]) and the
//! stored format; here they only live under `P cache:`.

use std::time::Duration;

use bytes::Bytes;
use fred::prelude::{ClientLike, KeysInterface};
use fred::types::{ClusterHash, CustomCommand, Expiration, Value};

use crate::{Redis, RedisError};

/// Keys per `SCAN` page and per `UNLINK` during a flush: big enough to be quick, small enough that each
/// round trip stays far below the call timeout and never blocks Redis noticeably.
const FLUSH_BATCH: u32 = 500;

impl Redis {
    pub async fn cache_get(&self, key: &str) -> Result<Option<Bytes>, RedisError> {
        let key = self.cache_entry_key(key);
        self.run(|c| async move { c.get::<Option<Bytes>, _>(key).await })
            .await
    }

    /// Stores `value`; `ttl: None` keeps it until evicted or flushed. A zero TTL stores nothing (the
    /// entry would be expired on arrival).
    pub async fn cache_set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), RedisError> {
        let expire = match ttl {
            Some(ttl) if ttl.is_zero() => return Ok(()),
            Some(ttl) => Some(Expiration::PX(
                ttl.as_millis().clamp(1, i64::MAX as u128) as i64
            )),
            None => None,
        };
        let key = self.cache_entry_key(key);
        let value = Bytes::copy_from_slice(value);
        let _: () = self
            .run(|c| async move { c.set(key, value, expire, None, false).await })
            .await?;
        Ok(())
    }

    /// Deletes entries; returns how many existed.
    pub async fn cache_delete(&self, keys: &[String]) -> Result<u64, RedisError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let keys: Vec<String> = keys.iter().map(|k| self.cache_entry_key(k)).collect();
        self.run(|c| async move { c.unlink::<u64, _>(keys).await })
            .await
    }

    /// Deletes every cache entry under the prefix (`SCAN` + `UNLINK` in batches; never `KEYS` or
    /// `FLUSHALL`: other data, and other tenants of the same Redis, stay). Limits, budgets and routing
    /// state are not cache entries and stay too. Each batch is one bounded call; the count is of keys
    /// deleted.
    pub async fn cache_flush(&self) -> Result<u64, RedisError> {
        let pattern = format!("{}*", glob_escape(&self.cache_entry_key("")));
        let mut cursor = "0".to_owned();
        let mut deleted = 0u64;
        loop {
            let args: Vec<Value> = vec![
                cursor.clone().into(),
                "MATCH".into(),
                pattern.clone().into(),
                "COUNT".into(),
                i64::from(FLUSH_BATCH).into(),
            ];
            let (next, keys): (String, Vec<String>) = self
                .run(|c| async move { c.custom(scan_command(), args).await })
                .await?;
            if !keys.is_empty() {
                deleted += self
                    .run(|c| async move { c.unlink::<u64, _>(keys).await })
                    .await?;
            }
            if next == "0" {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    /// `P cache:<key>`
    fn cache_entry_key(&self, key: &str) -> String {
        self.key(&format!("cache:{key}"))
    }
}

fn scan_command() -> CustomCommand {
    // SCAN is keyless; on a centralized client the hash policy is irrelevant.
    CustomCommand::new_static("SCAN", ClusterHash::Random, false)
}

/// Escapes the glob metacharacters of `SCAN MATCH`, so a prefix like `{app}[1]:` matches literally.
pub(crate) fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for ch in s.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}
