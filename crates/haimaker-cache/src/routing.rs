//! Routing state shared by every worker and instance: cooldowns, usage counters, in-flight counts,
//! latency samples (reference 12.1, 12.2).
//!
//! Reads take a whole model group in one round trip; callers memoize them briefly (LiteLLM keeps the
//! cooldown list for 1 s) so that a request does not pay a Redis round trip per deployment.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fred::prelude::KeysInterface;
use fred::types::Expiration;

use crate::limits::unix_now;
use crate::scripts::{INCR_WITH_TTL, LATENCIES, PTTLS, RECORD_LATENCY, RELEASE};
use crate::{Redis, RedisError};

/// usage-based-routing-v2 counters (LiteLLM uses 60 s; the extra minute lets a late tpm add land in
/// the minute it belongs to).
const USAGE_TTL: Duration = Duration::from_secs(120);
/// In-flight counters are refreshed on every increment; this only cleans up after a crashed process.
const IN_FLIGHT_TTL: Duration = Duration::from_secs(600);

impl Redis {
    /// LiteLLM's cooldown key `deployment:<id>:cooldown` (under the prefix) with LiteLLM's JSON
    /// (`exception_received`, `status_code` as a string, `timestamp`, `cooldown_time`), TTL = the cooldown.
    pub async fn set_cooldown(
        &self,
        deployment_id: &str,
        cooldown: Duration,
        status: u16,
        error: &str,
    ) -> Result<(), RedisError> {
        let millis = cooldown.as_millis().clamp(1, u128::from(u32::MAX)) as i64;
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let value = serde_json::json!({
            "exception_received": error,
            "status_code": status.to_string(),
            "timestamp": timestamp,
            "cooldown_time": cooldown.as_secs_f64(),
        })
        .to_string();
        let key = self.cooldown_key(deployment_id);
        let _: () = self
            .run(|c| async move {
                c.set(key, value, Some(Expiration::PX(millis)), None, false)
                    .await
            })
            .await?;
        Ok(())
    }

    /// Which of `ids` are cooling down, and for how much longer (one round trip).
    pub async fn cooldowns(&self, ids: &[String]) -> Result<Vec<Option<Duration>>, RedisError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.cooldown_key(id)).collect();
        let ttls: Vec<i64> = self
            .run(|c| async move { PTTLS.run(&c, keys, Vec::new()).await })
            .await?;
        // -2: no cooldown. -1 (a key without TTL) is not something LiteLLM or haimaker writes; it is
        // ignored rather than excluding a deployment forever.
        Ok(ttls
            .into_iter()
            .map(|ms| {
                u64::try_from(ms)
                    .ok()
                    .filter(|ms| *ms > 0)
                    .map(Duration::from_millis)
            })
            .collect())
    }

    /// usage-based-routing-v2: counts one request for the deployment in this UTC minute, before the
    /// call; returns the new count.
    pub async fn incr_deployment_rpm(&self, deployment_id: &str) -> Result<u64, RedisError> {
        self.incr_deployment_rpm_at(deployment_id, unix_now()).await
    }

    /// usage-based-routing-v2: adds a finished call's tokens to this UTC minute.
    pub async fn add_deployment_tpm(
        &self,
        deployment_id: &str,
        tokens: u64,
    ) -> Result<(), RedisError> {
        self.add_deployment_tpm_at(deployment_id, tokens, unix_now())
            .await
    }

    /// (rpm, tpm) of each deployment in the current UTC minute (one `MGET`).
    pub async fn deployment_usage(&self, ids: &[String]) -> Result<Vec<(u64, u64)>, RedisError> {
        self.deployment_usage_at(ids, unix_now()).await
    }

    /// least-busy: one more request in flight on the deployment (across instances).
    pub async fn incr_in_flight(&self, deployment_id: &str) -> Result<(), RedisError> {
        let key = self.in_flight_key(deployment_id);
        self.incr_with_ttl(key, 1, IN_FLIGHT_TTL, true).await?;
        Ok(())
    }

    /// least-busy: a request on the deployment ended (never goes below zero).
    pub async fn decr_in_flight(&self, deployment_id: &str) -> Result<(), RedisError> {
        let keys = vec![self.in_flight_key(deployment_id)];
        let _: i64 = self
            .run(|c| async move { RELEASE.run(&c, keys, vec!["1".to_owned()]).await })
            .await?;
        Ok(())
    }

    /// least-busy: requests in flight per deployment (one `MGET`; unknown deployments are 0).
    pub async fn in_flight(&self, ids: &[String]) -> Result<Vec<u64>, RedisError> {
        let keys: Vec<String> = ids.iter().map(|id| self.in_flight_key(id)).collect();
        self.mget_counts(keys).await
    }

    /// latency-based-routing: adds a sample (seconds per output token, or time to first token: the
    /// caller decides) and keeps the newest `keep`; the list expires `ttl` after the last sample.
    pub async fn record_latency(
        &self,
        deployment_id: &str,
        sample: f64,
        keep: usize,
        ttl: Duration,
    ) -> Result<(), RedisError> {
        if !sample.is_finite() {
            return Err(RedisError::Other(format!(
                "latency sample is not a finite number: {sample}"
            )));
        }
        let keys = vec![self.latency_key(deployment_id)];
        let args = vec![
            sample.to_string(),
            keep.max(1).saturating_sub(1).to_string(),
            ttl.as_millis()
                .clamp(1, u128::from(u64::MAX >> 1))
                .to_string(),
        ];
        let _: i64 = self
            .run(|c| async move { RECORD_LATENCY.run(&c, keys, args).await })
            .await?;
        Ok(())
    }

    /// latency-based-routing: each deployment's samples, newest first (empty: no data).
    pub async fn latencies(&self, ids: &[String]) -> Result<Vec<Vec<f64>>, RedisError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.latency_key(id)).collect();
        let lists: Vec<Vec<String>> = self
            .run(|c| async move { LATENCIES.run(&c, keys, Vec::new()).await })
            .await?;
        Ok(lists
            .into_iter()
            .map(|list| list.iter().filter_map(|s| s.parse().ok()).collect())
            .collect())
    }

    pub(crate) async fn incr_deployment_rpm_at(
        &self,
        deployment_id: &str,
        now: u64,
    ) -> Result<u64, RedisError> {
        let key = self.usage_key(deployment_id, "rpm", now);
        self.incr_with_ttl(key, 1, USAGE_TTL, false).await
    }

    pub(crate) async fn add_deployment_tpm_at(
        &self,
        deployment_id: &str,
        tokens: u64,
        now: u64,
    ) -> Result<(), RedisError> {
        if tokens == 0 {
            return Ok(());
        }
        let key = self.usage_key(deployment_id, "tpm", now);
        self.incr_with_ttl(key, tokens, USAGE_TTL, false).await?;
        Ok(())
    }

    pub(crate) async fn deployment_usage_at(
        &self,
        ids: &[String],
        now: u64,
    ) -> Result<Vec<(u64, u64)>, RedisError> {
        let mut keys: Vec<String> = ids
            .iter()
            .map(|id| self.usage_key(id, "rpm", now))
            .collect();
        keys.extend(ids.iter().map(|id| self.usage_key(id, "tpm", now)));
        let counts = self.mget_counts(keys).await?;
        let (rpm, tpm) = counts.split_at(ids.len());
        Ok(rpm.iter().copied().zip(tpm.iter().copied()).collect())
    }

    async fn incr_with_ttl(
        &self,
        key: String,
        by: u64,
        ttl: Duration,
        refresh: bool,
    ) -> Result<u64, RedisError> {
        let args = vec![
            by.to_string(),
            ttl.as_millis().to_string(),
            if refresh { "1" } else { "0" }.to_owned(),
        ];
        let values: Vec<i64> = self
            .run(|c| async move { INCR_WITH_TTL.run(&c, vec![key], args).await })
            .await?;
        Ok(values
            .first()
            .and_then(|v| u64::try_from(*v).ok())
            .unwrap_or(0))
    }

    /// Integer counters; missing (or unparsable) keys count as 0.
    async fn mget_counts(&self, keys: Vec<String>) -> Result<Vec<u64>, RedisError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let n = keys.len();
        let values: Vec<Option<String>> = self.run(|c| async move { c.mget(keys).await }).await?;
        if values.len() != n {
            return Err(RedisError::Other(format!(
                "MGET returned {} values for {n} keys",
                values.len()
            )));
        }
        Ok(values
            .into_iter()
            .map(|v| {
                v.and_then(|s| s.parse::<i64>().ok())
                    .map_or(0, |n| n.max(0) as u64)
            })
            .collect())
    }

    /// `P deployment:<id>:cooldown` (LiteLLM's key).
    fn cooldown_key(&self, id: &str) -> String {
        self.key(&format!("deployment:{id}:cooldown"))
    }

    /// `P <id>:<rpm|tpm>:<HH-MM>` (LiteLLM's usage-based-routing-v2 key, UTC).
    fn usage_key(&self, id: &str, kind: &str, now: u64) -> String {
        let (hour, minute) = ((now % 86_400) / 3_600, (now % 3_600) / 60);
        self.key(&format!("{id}:{kind}:{hour:02}-{minute:02}"))
    }

    /// `P inflight:<id>`
    fn in_flight_key(&self, id: &str) -> String {
        self.key(&format!("inflight:{id}"))
    }

    /// `P latency:<id>`
    fn latency_key(&self, id: &str) -> String {
        self.key(&format!("latency:{id}"))
    }
}
