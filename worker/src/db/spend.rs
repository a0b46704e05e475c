//! The spend buffer: charges and error logs wait here and are written in one transaction every
//! `proxy_batch_write_at` seconds (with jitter, so pods do not align), early when the buffer is
//! large, and on every planned exit. A failed write keeps the rows for the next attempt: nothing
//! is dropped while the process lives. If the process must exit while the database is down, the
//! rows go to a spool file that the next worker to start (any worker of any generation) claims
//! and writes: request ids make every replay idempotent.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use haimaker_store::spend::{ErrorRecord, SpendRecord};
use haimaker_store::{Db, StoreError};

use super::ledger::{Entity, Ledger};

/// LiteLLM's `PROXY_BATCH_WRITE_AT`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// Flush early past this many buffered rows.
pub const EARLY_FLUSH_ROWS: usize = 5_000;

#[derive(Debug, Default)]
struct Pending {
    spend: Vec<SpendRecord>,
    errors: Vec<ErrorRecord>,
}

#[derive(Debug)]
pub struct SpendBuffer {
    pending: Mutex<Pending>,
    /// Serialises flushes (the periodic task, an early flush and the final one).
    flushing: tokio::sync::Mutex<()>,
    pub spend_logs: bool,
    pub error_logs: bool,
    pub wake: tokio::sync::Notify,
}

impl SpendBuffer {
    pub fn new(spend_logs: bool, error_logs: bool) -> Self {
        Self {
            pending: Mutex::default(),
            flushing: tokio::sync::Mutex::new(()),
            spend_logs,
            error_logs,
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Queues a charge (never waits on the database).
    pub fn push(&self, record: SpendRecord, ledger: &Mutex<Ledger>) {
        {
            let mut ledger = ledger.lock().unwrap_or_else(|p| p.into_inner());
            for entity in entities(&record) {
                ledger.charge(entity, record.spend);
            }
        }
        let len = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.spend.push(record);
            pending.spend.len()
        };
        if len == EARLY_FLUSH_ROWS {
            self.wake.notify_one();
        }
    }

    pub fn push_error(&self, record: ErrorRecord) {
        if self.error_logs {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .errors
                .push(record);
        }
    }

    pub fn pending_rows(&self) -> usize {
        self.pending.lock().map(|p| p.spend.len()).unwrap_or(0)
    }

    /// Writes everything buffered. On failure the rows go back to the front of the buffer.
    pub async fn flush(&self, db: &Db, ledger: &Mutex<Ledger>) -> Result<usize, StoreError> {
        let _turn = self.flushing.lock().await;
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.spend.is_empty() && batch.errors.is_empty() {
            return Ok(0);
        }
        let written = self.write(db, &batch).await;
        match written {
            Ok(()) => {
                let mut ledger = ledger.lock().unwrap_or_else(|p| p.into_inner());
                for record in &batch.spend {
                    for entity in entities(record) {
                        ledger.flushed(entity, record.spend);
                    }
                }
                Ok(batch.spend.len())
            }
            Err(e) => {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                let newer = std::mem::take(&mut *pending);
                pending.spend = batch.spend;
                pending.spend.extend(newer.spend);
                pending.errors = batch.errors;
                pending.errors.extend(newer.errors);
                Err(e)
            }
        }
    }

    async fn write(&self, db: &Db, batch: &Pending) -> Result<(), StoreError> {
        let mut client = db.conn().await?;
        haimaker_store::spend::write_batch(&mut client, &batch.spend, self.spend_logs).await?;
        haimaker_store::spend::write_errors(&client, &batch.errors).await?;
        Ok(())
    }

    /// Writes what could not reach the database to a spool file (planned exit during an outage).
    pub fn spool(&self, dir: &Path) -> std::io::Result<Option<PathBuf>> {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.spend.is_empty() && batch.errors.is_empty() {
            return Ok(None);
        }
        std::fs::create_dir_all(dir)?;
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = dir.join(format!("spend-{}-{stamp}.json", std::process::id()));
        let partial = path.with_extension("partial");
        let file = serde_json::json!({"spend": batch.spend, "errors": batch.errors});
        std::fs::write(&partial, serde_json::to_vec(&file)?)?;
        // Rename last, so a reader never sees half a file.
        std::fs::rename(&partial, &path)?;
        Ok(Some(path))
    }

    /// Claims every spool file in `dir` (rename is atomic: one claimer wins) and queues its rows.
    pub fn claim_spool(&self, dir: &Path, ledger: &Mutex<Ledger>) -> usize {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        let mut claimed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let mine = path.with_extension(format!("claimed-{}", std::process::id()));
            if std::fs::rename(&path, &mine).is_err() {
                continue;
            }
            let parsed = std::fs::read(&mine)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
            let Some(parsed) = parsed else {
                tracing::error!(target: "haimaker::spend", file = %mine.display(), "unreadable spool file kept for inspection");
                continue;
            };
            let spend: Vec<SpendRecord> =
                serde_json::from_value(parsed["spend"].clone()).unwrap_or_default();
            let errors: Vec<ErrorRecord> =
                serde_json::from_value(parsed["errors"].clone()).unwrap_or_default();
            claimed += spend.len();
            for record in spend {
                self.push(record, ledger);
            }
            for record in errors {
                self.push_error(record);
            }
            let _ = std::fs::remove_file(&mine);
        }
        claimed
    }
}

fn entities(record: &SpendRecord) -> impl Iterator<Item = Entity> + '_ {
    std::iter::once(Entity::Key(record.api_key.clone()))
        .chain(record.user.clone().map(Entity::User))
        .chain(record.team_id.clone().map(Entity::Team))
}

/// The flush interval with jitter: uniformly within 70 % to 130 % of `interval`.
pub fn jittered(interval: Duration) -> Duration {
    let factor = 0.7 + 0.6 * rand::random::<f64>();
    interval.mul_f64(factor)
}
