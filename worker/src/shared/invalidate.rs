//! Key-cache invalidation across workers and instances: a key updated, blocked or deleted on
//! any instance stops working on every instance as soon as the message arrives (milliseconds),
//! instead of when the cached entry's TTL runs out.
//!
//! Messages on the Redis channel: `key:<hash>` (one key changed) and `all` (a user or team
//! changed: every cached key embeds its user's and team's limits). Pub/sub does not queue: a
//! message published while a worker is disconnected is lost, and that worker falls back to the
//! key cache's TTL (`user_api_key_cache_ttl`).

use std::sync::Arc;

use super::Shared;
use crate::db::DbLayer;
use crate::state::AppState;

/// Drops every cached key of this process and tells the others.
pub const ALL: &str = "all";

/// The message for one key.
pub fn key(token: &str) -> String {
    format!("key:{token}")
}

/// Tells every worker of every instance (this one included) to forget `message`'s keys. The
/// caller has already dropped them from its own cache. Bounded by the Redis call timeout;
/// without Redis, or while it is down, other workers see the change when their entry expires.
pub async fn publish(state: &AppState, message: &str) {
    let Some(shared) = &state.shared else { return };
    if let Err(e) = shared.redis.publish_invalidation(message).await {
        tracing::warn!(target: "haimaker::redis", error = %e, "key-cache invalidation not sent; other workers see the change within user_api_key_cache_ttl");
    }
}

/// Applies invalidations from every instance to this worker's key cache.
pub fn listen(shared: &Arc<Shared>, state: &Arc<AppState>) {
    let Some(db) = state.db.clone() else { return };
    let mut messages = shared.redis.invalidations();
    tokio::spawn(async move {
        while let Some(message) = messages.recv().await {
            apply(&db, &message);
        }
    });
}

fn apply(db: &DbLayer, message: &str) {
    match message.split_once(':') {
        Some(("key", token)) => db.keys.invalidate(token),
        _ if message == ALL => db.keys.clear(),
        _ => {
            tracing::debug!(target: "haimaker::redis", message, "unknown invalidation message ignored")
        }
    }
}
