//! The worker's database layer: the pool, the key cache, the spend buffer and its flush task,
//! per-key limits, and the database status that readiness reports. Absent when no database is
//! configured (master key only).

pub mod keys;
pub mod ledger;
pub mod limits;
pub mod spend;
pub mod status;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use haimaker_config::Config;
use haimaker_store::{Db, StoreError};

pub use self::keys::{CachedKey, KeyCache, Lookup};
pub use self::ledger::Ledger;
pub use self::limits::{KeyLimits, Limiter};
pub use self::spend::SpendBuffer;
pub use self::status::{DbState, DbStatus};

/// LiteLLM's `PROXY_BUDGET_RESCHEDULER_MIN_TIME` / `_MAX_TIME` (seconds, env-overridable).
const BUDGET_RESET_MIN: u64 = 597;
const BUDGET_RESET_MAX: u64 = 605;
/// How often the database is pinged (and, while behind, the schema re-checked).
const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct DbLayer {
    pub db: Db,
    pub keys: KeyCache,
    pub ledger: Mutex<Ledger>,
    pub spend: SpendBuffer,
    pub limits: Limiter,
    pub status: DbStatus,
    /// `allow_requests_on_db_unavailable`.
    pub allow_when_unavailable: bool,
    /// `disable_spend_updates`: nothing is charged at all.
    pub spend_updates: bool,
    /// What master-key calls are charged to: the master key's hash (its row is upserted at
    /// start), or `litellm_proxy_master_key` with `disable_adding_master_key_hash_to_db`.
    pub master_api_key: String,
    flush_interval: Duration,
    check_interval: Duration,
    budget_reset: Option<(u64, u64)>,
    spool_dir: PathBuf,
}

impl DbLayer {
    /// Builds the layer when a database is configured. No connection is made here.
    pub fn new(
        config: &Config,
        master_key: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, StoreError> {
        let general = &config.general_settings;
        let Some(settings) = haimaker_store::db::settings(general, env) else {
            return Ok(None);
        };
        let env_secs = |name: &str, default: u64| {
            env(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        let budget_reset = (!general.disable_reset_budget).then(|| {
            let min = env_secs("PROXY_BUDGET_RESCHEDULER_MIN_TIME", BUDGET_RESET_MIN);
            (
                min,
                env_secs("PROXY_BUDGET_RESCHEDULER_MAX_TIME", BUDGET_RESET_MAX).max(min),
            )
        });
        let master_api_key = match master_key {
            Some(key) if !general.disable_adding_master_key_hash_to_db => {
                haimaker_store::keys::hash_token(key)
            }
            _ => "litellm_proxy_master_key".to_string(),
        };
        Ok(Some(Self {
            db: Db::new(&settings)?,
            keys: KeyCache::new(general.user_api_key_cache_ttl.unwrap_or(keys::DEFAULT_TTL)),
            ledger: Mutex::default(),
            spend: SpendBuffer::new(!general.disable_spend_logs, !general.disable_error_logs),
            limits: Limiter::default(),
            status: DbStatus::default(),
            allow_when_unavailable: general.allow_requests_on_db_unavailable,
            spend_updates: !general.disable_spend_updates,
            master_api_key,
            flush_interval: general
                .proxy_batch_write_at
                .unwrap_or(spend::DEFAULT_INTERVAL),
            check_interval: env("HAIMAKER_DB_CHECK_INTERVAL_MS")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|ms| *ms > 0)
                .map_or(DEFAULT_CHECK_INTERVAL, Duration::from_millis),
            budget_reset,
            spool_dir: env("HAIMAKER_SPOOL_DIR").map_or_else(
                || std::env::temp_dir().join("haimaker-spool"),
                PathBuf::from,
            ),
        }))
    }

    /// Starts the background tasks: database checks, the spend flush, the budget reset (which
    /// also zeroes the live spend Redis holds for the entities reset).
    pub fn start(self: &Arc<Self>, shared: Option<Arc<crate::shared::Shared>>) {
        let layer = Arc::clone(self);
        tokio::spawn(async move { layer.check_loop().await });
        let layer = Arc::clone(self);
        tokio::spawn(async move { layer.flush_loop().await });
        if let Some((min, max)) = self.budget_reset {
            let layer = Arc::clone(self);
            tokio::spawn(async move { layer.budget_loop(min, max, shared).await });
        }
    }

    async fn check_loop(&self) {
        let mut schema_checked = false;
        loop {
            match self.db.ping(Duration::from_secs(3)).await {
                Ok(()) => {
                    let was = self.status.get();
                    if !schema_checked || was == DbState::SchemaBehind {
                        schema_checked = self.check_schema().await;
                    } else {
                        self.status.reached();
                    }
                    if was == DbState::Disconnected && self.status.get() == DbState::Connected {
                        let claimed = self.spend.claim_spool(&self.spool_dir, &self.ledger);
                        if claimed > 0 {
                            tracing::info!(target: "haimaker::spend", rows = claimed, "claimed spooled spend");
                            self.spend.wake.notify_one();
                        }
                    }
                }
                Err(e) => {
                    if self.status.get() != DbState::Disconnected {
                        tracing::warn!(target: "haimaker::db", error = %e, "database unreachable");
                    }
                    self.status.unreachable_because(&e.to_string());
                }
            }
            tokio::time::sleep(self.check_interval).await;
        }
    }

    /// Checks the schema; returns whether the check ran.
    async fn check_schema(&self) -> bool {
        let Ok(client) = self.db.conn().await else {
            self.status.unreachable();
            return false;
        };
        match haimaker_store::migrate::schema_status(&client).await {
            Ok(haimaker_store::migrate::SchemaStatus::Current) => {
                self.status.set(DbState::Connected);
                true
            }
            Ok(haimaker_store::migrate::SchemaStatus::Behind { missing }) => {
                if self.status.get() != DbState::SchemaBehind {
                    tracing::error!(
                        target: "haimaker::db",
                        missing = %missing.join("; "),
                        "the database schema is behind what this haimaker needs; readiness stays 503 until `haimaker migrate` runs (DISABLE_SCHEMA_UPDATE is set)"
                    );
                }
                self.status.set(DbState::SchemaBehind);
                true
            }
            Err(e) => {
                tracing::warn!(target: "haimaker::db", error = %e, "could not check the database schema");
                false
            }
        }
    }

    async fn flush_loop(&self) {
        loop {
            let pause = spend::jittered(self.flush_interval);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.spend.wake.notified() => {}
            }
            self.flush_once().await;
        }
    }

    /// One flush; logs and marks the database unreachable on failure (the rows stay buffered).
    pub async fn flush_once(&self) -> bool {
        match self.spend.flush(&self.db, &self.ledger).await {
            Ok(rows) => {
                if rows > 0 {
                    self.status.reached();
                    tracing::debug!(target: "haimaker::spend", rows, "spend flushed");
                }
                true
            }
            Err(e) => {
                if e.is_unavailable() {
                    self.status.unreachable_because(&e.to_string());
                } else {
                    self.status.write_failed(&e.to_string());
                }
                tracing::warn!(target: "haimaker::spend", error = %e, pending = self.spend.pending_rows(), "spend not written yet; will retry");
                false
            }
        }
    }

    /// The last flush of a planned exit: retries until `within` passes, then spools what is left
    /// to disk for the next worker.
    pub async fn final_flush(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.flush_once().await {
                return;
            }
            if tokio::time::Instant::now() + Duration::from_millis(500) >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        match self.spend.spool(&self.spool_dir) {
            Ok(Some(path)) => {
                tracing::warn!(target: "haimaker::spend", file = %path.display(), "database unreachable at exit: spend spooled for the next worker")
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(target: "haimaker::spend", error = %e, "could not spool spend at exit: it is lost")
            }
        }
    }

    async fn budget_loop(&self, min: u64, max: u64, shared: Option<Arc<crate::shared::Shared>>) {
        loop {
            let secs = if max > min {
                min + rand::random::<u64>() % (max - min + 1)
            } else {
                min
            };
            tokio::time::sleep(Duration::from_secs(secs)).await;
            let Ok(client) = self.db.conn().await else {
                continue;
            };
            match haimaker_store::budget::reset_due(&client).await {
                Ok(reset) if reset.is_empty() => {}
                Ok(reset) => {
                    tracing::info!(target: "haimaker::budget", rows = reset.len(), "budgets reset");
                    // Cached keys carry the old spend: read them again.
                    self.keys.clear();
                    if let Some(shared) = &shared {
                        shared.apply(crate::shared::Write::ResetSpend(reset));
                    }
                }
                Err(e) => {
                    tracing::warn!(target: "haimaker::budget", error = %e, "budget reset failed")
                }
            }
        }
    }
}
