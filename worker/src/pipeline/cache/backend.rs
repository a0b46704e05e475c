//! Where entries live: Redis (shared by every worker and pod) or a bounded map in this worker
//! (`type: local`).
//!
//! Both are bytes in, bytes out. A Redis that is down answers at once with `Unavailable`
//! (`haimaker_cache`'s fallback contract): a lookup is then a miss and a store is skipped; the
//! Redis client logs the outage itself, so nothing is logged per request here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// LiteLLM's in-memory cache keeps an entry 600 s when no TTL is given.
pub const LOCAL_DEFAULT_TTL: Duration = Duration::from_secs(600);
/// Entries in one worker's local cache.
pub const LOCAL_MAX_ENTRIES: usize = 1000;
/// The largest entry the local cache keeps (LiteLLM's in-memory limit is 1024 KB).
pub const LOCAL_MAX_ENTRY_BYTES: usize = 1024 * 1024;
/// The largest entry stored in Redis: bigger values slow Redis down for everyone and would not
/// make the round trip within the client's call timeout.
pub const REDIS_MAX_ENTRY_BYTES: usize = 8 * 1024 * 1024;

pub enum Backend {
    Redis(haimaker_cache::Redis),
    Local(Local),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Redis(redis) => f.debug_tuple("Redis").field(redis).finish(),
            Self::Local(local) => f
                .debug_struct("Local")
                .field("entries", &local.len())
                .finish(),
        }
    }
}

impl Backend {
    /// `"redis"` or `"local"`, as LiteLLM names the cache type.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Redis(_) => "redis",
            Self::Local(_) => "local",
        }
    }

    pub fn max_entry_bytes(&self) -> usize {
        match self {
            Self::Redis(_) => REDIS_MAX_ENTRY_BYTES,
            Self::Local(_) => LOCAL_MAX_ENTRY_BYTES,
        }
    }

    /// The entry, or `None` (absent, expired, or Redis unavailable).
    pub async fn get(&self, key: &str) -> Option<Bytes> {
        match self {
            Self::Redis(redis) => match redis.cache_get(key).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::debug!(target: "haimaker::cache", error = %e, "cache read skipped");
                    None
                }
            },
            Self::Local(local) => local.get(key, Instant::now()),
        }
    }

    /// Stores an entry; failures are logged at debug and otherwise ignored.
    pub async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) {
        if value.len() > self.max_entry_bytes() {
            tracing::debug!(target: "haimaker::cache", bytes = value.len(), "response too large to cache");
            return;
        }
        match self {
            Self::Redis(redis) => {
                if let Err(e) = redis.cache_set(key, &value, ttl).await {
                    tracing::debug!(target: "haimaker::cache", error = %e, "cache store skipped");
                }
            }
            Self::Local(local) => local.set(key, value, ttl, Instant::now()),
        }
    }

    /// Deletes entries; how many existed.
    pub async fn delete(&self, keys: &[String]) -> Result<u64, String> {
        match self {
            Self::Redis(redis) => redis.cache_delete(keys).await.map_err(|e| e.to_string()),
            Self::Local(local) => Ok(local.delete(keys)),
        }
    }

    /// Deletes every entry (only cache entries: limits, budgets and routing state in the same
    /// Redis stay).
    pub async fn flush(&self) -> Result<u64, String> {
        match self {
            Self::Redis(redis) => redis.cache_flush().await.map_err(|e| e.to_string()),
            Self::Local(local) => Ok(local.flush()),
        }
    }
}

/// A bounded map with expiry: at most [`LOCAL_MAX_ENTRIES`] entries of at most
/// [`LOCAL_MAX_ENTRY_BYTES`]. When full, expired entries go first, then the one expiring soonest
/// (LiteLLM's in-memory eviction order).
#[derive(Default)]
pub struct Local {
    map: Mutex<HashMap<String, LocalEntry>>,
}

struct LocalEntry {
    value: Bytes,
    expires: Instant,
}

impl Local {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, LocalEntry>> {
        // The map holds no invariant a panic could break half-way.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn get(&self, key: &str, now: Instant) -> Option<Bytes> {
        let mut map = self.entries();
        let entry = map.get(key)?;
        if entry.expires <= now {
            map.remove(key);
            return None;
        }
        Some(entry.value.clone())
    }

    pub fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>, now: Instant) {
        let ttl = ttl.unwrap_or(LOCAL_DEFAULT_TTL);
        if ttl.is_zero() || value.len() > LOCAL_MAX_ENTRY_BYTES {
            return;
        }
        let expires = now.checked_add(ttl).unwrap_or(now + LOCAL_DEFAULT_TTL);
        let mut map = self.entries();
        if !map.contains_key(key) && map.len() >= LOCAL_MAX_ENTRIES {
            map.retain(|_, e| e.expires > now);
            if map.len() >= LOCAL_MAX_ENTRIES
                && let Some(soonest) = map
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&soonest);
            }
        }
        map.insert(key.to_string(), LocalEntry { value, expires });
    }

    pub fn delete(&self, keys: &[String]) -> u64 {
        let mut map = self.entries();
        keys.iter()
            .filter(|k| map.remove(k.as_str()).is_some())
            .count() as u64
    }

    pub fn flush(&self) -> u64 {
        let mut map = self.entries();
        let n = map.len() as u64;
        map.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_expires_and_evicts_the_soonest_expiring() {
        let local = Local::default();
        let t0 = Instant::now();
        local.set(
            "a",
            Bytes::from_static(b"1"),
            Some(Duration::from_secs(1)),
            t0,
        );
        assert_eq!(local.get("a", t0), Some(Bytes::from_static(b"1")));
        assert_eq!(local.get("a", t0 + Duration::from_secs(1)), None);
        assert_eq!(local.len(), 0, "an expired entry is dropped when read");

        local.set(
            "soon",
            Bytes::from_static(b"s"),
            Some(Duration::from_secs(5)),
            t0,
        );
        for i in 1..LOCAL_MAX_ENTRIES {
            local.set(&format!("k{i}"), Bytes::from_static(b"v"), None, t0);
        }
        assert_eq!(local.len(), LOCAL_MAX_ENTRIES);
        local.set("new", Bytes::from_static(b"n"), None, t0);
        assert_eq!(local.len(), LOCAL_MAX_ENTRIES);
        assert_eq!(
            local.get("soon", t0),
            None,
            "the soonest-expiring entry went"
        );
        assert!(local.get("new", t0).is_some());
        // Expired entries go before live ones.
        local.set(
            "k1",
            Bytes::from_static(b"v"),
            Some(Duration::from_secs(1)),
            t0,
        );
        let later = t0 + Duration::from_secs(2);
        local.set("newer", Bytes::from_static(b"n"), None, later);
        assert!(local.get("k2", later).is_some());
        assert!(local.get("newer", later).is_some());
    }

    #[test]
    fn local_refuses_big_or_zero_ttl_entries_and_deletes() {
        let local = Local::default();
        let now = Instant::now();
        local.set(
            "big",
            Bytes::from(vec![0u8; LOCAL_MAX_ENTRY_BYTES + 1]),
            None,
            now,
        );
        local.set("zero", Bytes::from_static(b"z"), Some(Duration::ZERO), now);
        assert_eq!(local.len(), 0);
        local.set("a", Bytes::from_static(b"1"), None, now);
        local.set("b", Bytes::from_static(b"2"), None, now);
        assert_eq!(local.delete(&["a".into(), "x".into()]), 1);
        assert_eq!(local.flush(), 1);
        assert_eq!(local.len(), 0);
    }
}
