//! The key cache in front of Postgres (`user_api_key_cache_ttl`, default 60 s).
//!
//! A fresh entry answers without a query. A stale one is refreshed; if the database cannot be
//! reached, the stale entry is used as the key's last known state (budget and model checks still
//! apply to it). Admin changes made through this worker invalidate the entry at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use haimaker_store::keys::KeyRecord;
use haimaker_store::{Db, StoreError};

use super::ledger::{Entity, Ledger};

pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// A key as read, with what this worker's ledger had flushed of each entity at read time.
#[derive(Debug, Clone)]
pub struct CachedKey {
    pub record: Arc<KeyRecord>,
    pub flushed_at_read: Snapshot,
}

/// The spend of a key, its user and its team to judge budgets by (see [`Ledger::effective`]).
#[derive(Debug, Clone, Copy)]
pub struct Spends {
    pub key: f64,
    pub user: Option<f64>,
    pub team: Option<f64>,
}

impl CachedKey {
    /// The key's, user's and team's spend as of the read plus what this worker charged since.
    pub fn effective_spend(&self, ledger: &std::sync::Mutex<Ledger>) -> Spends {
        let ledger = ledger.lock().unwrap_or_else(|p| p.into_inner());
        let (record, at) = (&self.record, self.flushed_at_read);
        Spends {
            key: ledger.effective(&Entity::Key(record.token.clone()), record.spend, at.key),
            user: record
                .user
                .as_ref()
                .map(|u| ledger.effective(&Entity::User(u.user_id.clone()), u.spend, at.user)),
            team: record
                .team
                .as_ref()
                .map(|t| ledger.effective(&Entity::Team(t.team_id.clone()), t.spend, at.team)),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    pub key: f64,
    pub user: f64,
    pub team: f64,
}

/// How a lookup ended.
#[derive(Debug)]
pub enum Lookup {
    Found(CachedKey),
    /// Found only in the cache, past its TTL: the database could not be reached.
    Stale(CachedKey),
    Missing,
}

#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (CachedKey, Instant)>>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::default(),
        }
    }

    pub async fn get(
        &self,
        db: &Db,
        ledger: &Mutex<Ledger>,
        token: &str,
    ) -> Result<Lookup, StoreError> {
        let cached = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned();
        if let Some((entry, at)) = &cached
            && at.elapsed() < self.ttl
        {
            return Ok(Lookup::Found(entry.clone()));
        }
        let fetched = async {
            let client = db.conn().await?;
            haimaker_store::keys::lookup(&client, token).await
        }
        .await;
        match fetched {
            Ok(Some(record)) => {
                let entry = CachedKey {
                    flushed_at_read: snapshot(ledger, &record),
                    record: Arc::new(record),
                };
                self.entries
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(token.to_string(), (entry.clone(), Instant::now()));
                Ok(Lookup::Found(entry))
            }
            Ok(None) => {
                self.invalidate(token);
                Ok(Lookup::Missing)
            }
            Err(e) if e.is_unavailable() => match cached {
                Some((entry, _)) => Ok(Lookup::Stale(entry)),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    pub fn invalidate(&self, token: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }

    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

fn snapshot(ledger: &Mutex<Ledger>, record: &KeyRecord) -> Snapshot {
    let ledger = ledger.lock().unwrap_or_else(|p| p.into_inner());
    Snapshot {
        key: ledger.flushed_so_far(&Entity::Key(record.token.clone())),
        user: record
            .user_id
            .as_ref()
            .map_or(0.0, |u| ledger.flushed_so_far(&Entity::User(u.clone()))),
        team: record
            .team_id
            .as_ref()
            .map_or(0.0, |t| ledger.flushed_so_far(&Entity::Team(t.clone()))),
    }
}
