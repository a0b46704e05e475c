//! haimaker's Redis layer: what N worker processes on several pods share.
//!
//! One [`Redis`] per process (a small `fred` pool, built the same way from `redis_url` or
//! `redis_host`/`redis_port`/`redis_password`, see [`settings()`]) serves:
//!
//! * **rate limits** ([`Redis::admit`], [`Redis::release`], [`Redis::add_tokens`]): rpm / tpm / parallel per
//!   scope (key, user, team, ...), fixed one-minute windows, checked and counted for all scopes of a request
//!   in one atomic Lua script (all or nothing);
//! * **budgets** ([`Redis::reserve`], [`Redis::settle`], [`Redis::reset_spend`]): the worst-case cost is
//!   reserved at admission and replaced by the real cost at the end, so concurrent requests on many pods
//!   cannot overshoot a budget;
//! * **shared routing state**: LiteLLM's cooldown keys, usage-based-routing-v2 rpm/tpm counters,
//!   least-busy in-flight counts, latency samples;
//! * **the response cache** (bytes in, bytes out) and its key ([`cache_key`], pure, reference 11.2);
//! * **key-cache invalidation** over pub/sub across workers and instances.
//!
//! # Key layout
//! Every key starts with the prefix `P` (`HAIMAKER_REDIS_PREFIX`, default `haimaker:`); `<minute>` is the
//! UTC minute number (unix seconds / 60), `<HH-MM>` the UTC hour and minute as LiteLLM writes them.
//!
//! | key | value | TTL |
//! |---|---|---|
//! | `P limit:<scope>:req:<minute>` | requests admitted in that minute | 120 s |
//! | `P limit:<scope>:tok:<minute>` | tokens used in that minute | 120 s |
//! | `P limit:<scope>:par` | requests in flight | 10 min, refreshed on admit (crash safety) |
//! | `P budget:<entity>:spend` | live spend in USD (seeded from the DB) | 1 day, refreshed |
//! | `P budget:<entity>:reserved` | outstanding reservations in USD | 15 min, refreshed |
//! | `P deployment:<id>:cooldown` | LiteLLM's cooldown JSON | the cooldown |
//! | `P <id>:rpm:<HH-MM>`, `P <id>:tpm:<HH-MM>` | usage-based-routing-v2 counters | 120 s |
//! | `P inflight:<id>` | least-busy in-flight count | 10 min, refreshed |
//! | `P latency:<id>` | list of the last N latency samples, newest first | `routing_strategy_args.ttl` |
//! | `P cache:<key>` | a cached response (the worker's bytes) | per entry |
//! | `P alert:claim:<event>` | an alert event already sent by some worker ([`Redis::claim`]) | the event's window |
//! | `P alert:squash:<type>:<urls>:<interval>` (+ `:lead`) | one interval's alerts of one type: count, first text ([`Redis::squash_add`]) | 4 intervals |
//! | channel `P invalidate` | key-cache invalidation messages | |
//!
//! Scopes and entities are the caller's strings (`key:<hash>`, `user:<id>`, `team:<id>`).
//!
//! # Single node
//! The client talks to one Redis endpoint (a primary; managed services with failover behind one address
//! are fine). Scripts receive every key in `KEYS[]`, so on a Redis Cluster they would only need all keys
//! of a call in one slot: setting the prefix to a hash tag (`HAIMAKER_REDIS_PREFIX={haimaker}:`) does
//! that, at the price of one hot slot. Cluster and sentinel URLs are not accepted.
//!
//! # Fallback contract
//! Redis is an accelerator, never a dependency of a request:
//! * [`Redis::new`] never waits for a connection; the client reconnects in the background forever;
//! * while Redis is down every call returns [`RedisError::Unavailable`] at once (no I/O: the last known
//!   connection state is checked first), and any call that does go out is bounded by [`CALL_TIMEOUT`];
//! * callers fall back (cache miss, per-process limits, in-memory routing state) and carry on.
//!
//! A call interrupted by a disconnect is not retried (a retried `INCR` would count twice); it fails with
//! `Unavailable` like the others.
//!
//! ```no_run
//! # async fn request(config: &haimaker_config::Config) -> Result<(), haimaker_cache::RedisError> {
//! use haimaker_cache::{LimitScope, Redis, RedisError};
//!
//! let env = |name: &str| std::env::var(name).ok();
//! let Some(settings) = haimaker_cache::settings(config, &env) else { return Ok(()) };
//! let redis = Redis::new(&settings)?; // once per process, inside the tokio runtime
//!
//! let scopes = [LimitScope { id: "key:ab12".into(), rpm: Some(60), tpm: None, parallel: Some(4) }];
//! match redis.admit(&scopes).await {
//!     Ok(a) if !a.allowed => { /* 429, retry-after a.reset_secs */ }
//!     Ok(_) => {
//!         // ... the call ...
//!         let _ = redis.release(&["key:ab12".to_owned()]).await;
//!     }
//!     Err(RedisError::Unavailable(_)) => { /* per-process limits instead */ }
//!     Err(other) => return Err(other),
//! }
//! # Ok(()) }
//! ```

mod alerting;
mod budget;
mod cache;
mod client;
pub mod info;
mod invalidation;
mod key;
mod limits;
mod routing;
mod scripts;
mod settings;

#[cfg(test)]
mod tests;

pub use budget::{BudgetEntity, Reservation};
pub use client::{CALL_TIMEOUT, Redis, RedisHealth, is_supported_version};
pub use key::{CACHE_KEY_PARAMS, cache_key};
pub use limits::{Admitted, LimitScope, Refusal, Remaining};
pub use settings::{DEFAULT_PORT, DEFAULT_PREFIX, RedisSettings, resolve, settings};

/// Why a Redis call did not do its job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedisError {
    /// Redis is down, unreachable, or did not answer within [`CALL_TIMEOUT`]: fall back.
    #[error("redis unavailable: {0}")]
    Unavailable(String),
    /// Redis answered, but not as expected (a script error, a bad argument, an unparsable reply).
    #[error("redis error: {0}")]
    Other(String),
}
