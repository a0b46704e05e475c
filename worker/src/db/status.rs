//! What this worker knows about its database: reachable or not, schema current or behind.
//! Read by readiness and sent to the supervisor in every heartbeat.

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

#[derive(Debug)]
pub struct DbStatus(AtomicU8);

impl Default for DbStatus {
    fn default() -> Self {
        // Unknown until the first ping: treat as disconnected (fail closed).
        Self(AtomicU8::new(1))
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
        self.0.store(v, Ordering::Relaxed);
    }

    /// A query succeeded: connected, unless the schema is known to be behind.
    pub fn reached(&self) {
        let _ = self
            .0
            .compare_exchange(1, 0, Ordering::Relaxed, Ordering::Relaxed);
    }

    pub fn unreachable(&self) {
        self.0.store(1, Ordering::Relaxed);
    }
}
