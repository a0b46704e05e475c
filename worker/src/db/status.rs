//! What this worker knows about its database: reachable or not, schema current or behind.
//! Read by readiness and sent to the supervisor in every heartbeat.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbState {
    /// The last query or ping succeeded.
    Connected,
    /// The last query or ping failed to reach the database.
    Disconnected,
    /// Reachable, but missing tables or columns this binary needs (with DISABLE_SCHEMA_UPDATE).
    SchemaBehind,
}

impl DbState {
    /// The wire name (heartbeats, readiness bodies).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
            Self::SchemaBehind => "schema_behind",
        }
    }
}

/// The state, plus what alerting watches: a wake-up on every change, the error of the last
/// failed ping, and the last failed write.
#[derive(Debug)]
pub struct DbStatus(AtomicU8, Events);

#[derive(Debug, Default)]
struct Events {
    changed: tokio::sync::Notify,
    last_error: Mutex<Option<String>>,
    write_error: Mutex<Option<String>>,
}

impl Default for DbStatus {
    fn default() -> Self {
        // Unknown until the first ping: treat as disconnected (fail closed).
        Self(AtomicU8::new(1), Events::default())
    }
}

impl DbStatus {
    pub fn get(&self) -> DbState {
        match self.0.load(Ordering::Relaxed) {
            0 => DbState::Connected,
            2 => DbState::SchemaBehind,
            _ => DbState::Disconnected,
        }
    }

    pub fn set(&self, state: DbState) {
        let v = match state {
            DbState::Connected => 0,
            DbState::Disconnected => 1,
            DbState::SchemaBehind => 2,
        };
        if self.0.swap(v, Ordering::Relaxed) != v {
            self.1.changed.notify_one();
        }
    }

    /// A query succeeded: connected, unless the schema is known to be behind.
    pub fn reached(&self) {
        if self
            .0
            .compare_exchange(1, 0, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.1.changed.notify_one();
        }
    }

    pub fn unreachable(&self) {
        if self.0.swap(1, Ordering::Relaxed) != 1 {
            self.1.changed.notify_one();
        }
    }

    /// A ping or write could not reach the database, with the error (kept for alerts).
    pub fn unreachable_because(&self, error: &str) {
        *self.1.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
        self.0.store(1, Ordering::Relaxed);
        self.1.changed.notify_one();
    }

    /// A write failed although the database was reachable.
    pub fn write_failed(&self, error: &str) {
        *self.1.write_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
        self.1.changed.notify_one();
    }

    /// Waits for the next change (or failed write) after the last wait.
    pub async fn changed(&self) {
        self.1.changed.notified().await;
    }

    /// The error of the last failed ping or write that found the database unreachable.
    pub fn last_error(&self) -> Option<String> {
        self.1
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The last failed write not yet reported.
    pub fn take_write_error(&self) -> Option<String> {
        self.1
            .write_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}
