//! Leases: the in-memory layer that keeps Redis off most requests while limits and budgets stay
//! exact across workers and instances.
//!
//! Instead of one Redis round trip per request, a worker takes a *lease* from Redis — several
//! requests' worth of a scope set's rpm and parallel slots, or several requests' worth of a
//! budget — and hands it out locally. Redis counts a lease as used the moment it is granted, so
//! the totals can never pass a limit or a budget; what a lease costs is that capacity sitting in
//! one worker's lease is not available to the others until it is used or given back.
//!
//! The size adapts so that cost stays small: a lease is at most 1/[`LEASE_FRACTION`] of the
//! smallest limit involved (at most [`MAX_LEASE`] requests), so small limits (an rpm of 5, two
//! parallel requests) are leased one request at a time — exact, as without leases — and only big
//! limits are leased in bulk. Budget chunks are capped by Redis at 1/16 of the room left, so
//! they shrink to single reservations as a budget runs out.
//!
//! Given back: parallel slots and budget left unused for [`IDLE_RETURN`], tokens and settled costs
//! every flush ([`FLUSH_INTERVAL`]), everything at a planned exit. Requests leased for a minute
//! expire with it. A worker that dies keeps its lease until the Redis TTLs free it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use haimaker_cache::{BudgetEntity, LimitScope, RedisError, Refusal};

use super::{Shared, Write};

/// A lease is at most this fraction of the smallest limit it draws on...
const LEASE_FRACTION: u64 = 100;
/// ...and at most this many requests.
const MAX_LEASE: u64 = 64;
/// A budget chunk asks for this many requests' worst case (Redis caps it at a quarter of the room
/// left divided by 16).
const BUDGET_LEASE: f64 = 16.0;
/// Parallel slots and budget unused this long go back to Redis.
pub const IDLE_RETURN: Duration = Duration::from_millis(250);
/// How often tokens, settled costs and idle leases are written back.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Why a lease was not granted.
#[derive(Debug, Clone)]
pub enum Denied {
    /// Redis refused: the scope at `index` has no room (its requests/tokens left for headers).
    Refused {
        index: usize,
        refusal: Refusal,
        requests_left: Option<u64>,
        tokens_left: Option<u64>,
        reset_secs: u64,
    },
    /// A budget has no room: the entity at `index` and its live spend.
    OverBudget { index: usize, live: f64 },
    /// Redis could not be asked: fall back to per-process checks.
    Unavailable,
}

/// A request admitted under a scope set.
#[derive(Debug)]
pub struct Admitted {
    pub slot: LimitSlot,
    /// Left this minute in the first scope, as of the last Redis grant minus what this worker
    /// used since (for the `x-ratelimit-*` headers).
    pub requests_left: Option<u64>,
    pub tokens_left: Option<u64>,
    pub reset_secs: u64,
}

#[derive(Debug)]
struct LimitLease {
    minute: u64,
    /// Requests left to admit in `minute`.
    requests: u64,
    /// Parallel slots held and not in use.
    par_free: u64,
    in_use: u64,
    /// Scopes with a parallel limit / a tpm limit.
    par_scopes: Vec<String>,
    tpm_scopes: Vec<String>,
    /// Requests (and parallel slots) asked for per grant; 1 = every admission and release goes
    /// to Redis at once.
    size: u64,
    pending_tokens: u64,
    /// The first scope's requests and tokens left in Redis after the last grant.
    requests_left: Option<u64>,
    tokens_left: Option<u64>,
    last_used: Instant,
}

#[derive(Debug)]
struct BudgetLease {
    entities: Vec<String>,
    /// Reserved in Redis for this worker and not promised to a request.
    free: f64,
    /// Promised to requests in flight (their estimates).
    outstanding: f64,
    /// Costs of finished requests, still counted as reserved in Redis.
    pending_spend: f64,
    /// The last chunk was (about) one request's worth: the budget is nearly used up, so what a
    /// request leaves unused goes back at once instead of waiting in this worker.
    exact: bool,
    last_used: Instant,
}

#[derive(Debug, Default)]
pub struct Leases {
    limits: Mutex<HashMap<String, LimitLease>>,
    budgets: Mutex<HashMap<String, BudgetLease>>,
}

fn now_minute() -> (u64, u64) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (secs / 60, 60 - secs % 60)
}

/// The lease size for a scope set: small limits are leased one request at a time.
fn lease_size(scopes: &[LimitScope]) -> u64 {
    scopes
        .iter()
        .flat_map(|s| [s.rpm, s.parallel])
        .flatten()
        .map(|limit| limit / LEASE_FRACTION)
        .fold(MAX_LEASE, u64::min)
        .max(1)
}

fn tuple_key<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let mut key = String::new();
    for id in ids {
        if !key.is_empty() {
            key.push('|');
        }
        key.push_str(id);
    }
    key
}

impl Leases {
    /// Admits one request under every scope of `scopes` (all or nothing).
    pub async fn admit(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        scopes: &[LimitScope],
    ) -> Result<Admitted, Denied> {
        let key = tuple_key(scopes.iter().map(|s| s.id.as_str()));
        // Concurrent requests may use up a fresh grant before this one takes from it: ask again
        // (a few times at most; each grant is counted in Redis, so none of this can overshoot).
        for _ in 0..4 {
            let (minute, reset_secs) = now_minute();
            if let Some(admitted) = self.take_limit(shared, &key, minute, reset_secs) {
                return Ok(admitted);
            }
            self.refill_limit(shared, scopes, &key, minute).await?;
        }
        Err(Denied::Unavailable)
    }

    /// Asks Redis for a lease on `scopes` and adds it to the local one.
    async fn refill_limit(
        &self,
        shared: &Arc<Shared>,
        scopes: &[LimitScope],
        key: &str,
        minute: u64,
    ) -> Result<(), Denied> {
        if !shared.redis.is_up() {
            return Err(Denied::Unavailable);
        }
        let size = lease_size(scopes);
        // Parallel slots are only asked for when this worker has none spare: a lease that ran
        // out of requests must not pile up slots it does not need.
        let need_par = {
            let limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
            limits.get(key).is_none_or(|l| l.par_free == 0)
        };
        let stripped: Vec<LimitScope>;
        let asked = if need_par {
            scopes
        } else {
            stripped = scopes
                .iter()
                .map(|s| LimitScope {
                    parallel: None,
                    ..s.clone()
                })
                .collect();
            &stripped
        };
        let granted = match shared.redis.lease(asked, size).await {
            Ok(granted) => granted,
            Err(RedisError::Unavailable(_)) => return Err(Denied::Unavailable),
            Err(e) => {
                tracing::warn!(target: "haimaker::redis", error = %e, "rate-limit lease failed; counting in this process");
                return Err(Denied::Unavailable);
            }
        };
        let first = granted.remaining.first().copied().unwrap_or_default();
        if let Some((index, refusal)) = granted.refused {
            return Err(Denied::Refused {
                index,
                refusal,
                requests_left: first.requests,
                tokens_left: first.tokens,
                reset_secs: granted.reset_secs,
            });
        }
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        let lease = limits.entry(key.to_string()).or_insert_with(|| LimitLease {
            minute,
            requests: 0,
            par_free: 0,
            in_use: 0,
            par_scopes: scopes
                .iter()
                .filter(|s| s.parallel.is_some())
                .map(|s| s.id.clone())
                .collect(),
            tpm_scopes: scopes
                .iter()
                .filter(|s| s.tpm.is_some())
                .map(|s| s.id.clone())
                .collect(),
            size,
            pending_tokens: 0,
            requests_left: None,
            tokens_left: None,
            last_used: Instant::now(),
        });
        if lease.minute != minute {
            lease.minute = minute;
            lease.requests = 0;
        }
        lease.requests += granted.granted;
        if need_par && !lease.par_scopes.is_empty() {
            lease.par_free += granted.granted;
        }
        lease.requests_left = first.requests;
        lease.tokens_left = first.tokens;
        Ok(())
    }

    /// Takes one request from the scope set's lease, if it has one.
    fn take_limit(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        key: &str,
        minute: u64,
        reset_secs: u64,
    ) -> Option<Admitted> {
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        let lease = limits.get_mut(key)?;
        let parallel = !lease.par_scopes.is_empty();
        if lease.minute != minute || lease.requests == 0 || (parallel && lease.par_free == 0) {
            return None;
        }
        lease.requests -= 1;
        if parallel {
            lease.par_free -= 1;
        }
        lease.in_use += 1;
        lease.last_used = Instant::now();
        Some(Admitted {
            requests_left: lease.requests_left.map(|r| r + lease.requests),
            tokens_left: lease
                .tokens_left
                .map(|t| t.saturating_sub(lease.pending_tokens)),
            reset_secs,
            slot: LimitSlot {
                leases: Arc::clone(self),
                shared: Arc::clone(shared),
                key: key.to_string(),
                parallel,
            },
        })
    }

    /// Counts a finished call's tokens against the scope set's tpm limits (written in batches).
    pub fn add_tokens(&self, key: &str, tokens: u64) {
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lease) = limits.get_mut(key)
            && !lease.tpm_scopes.is_empty()
        {
            lease.pending_tokens = lease.pending_tokens.saturating_add(tokens);
        }
    }

    fn release(&self, shared: &Arc<Shared>, key: &str, parallel: bool) {
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        let Some(lease) = limits.get_mut(key) else {
            return;
        };
        lease.in_use = lease.in_use.saturating_sub(1);
        lease.last_used = Instant::now();
        if !parallel {
            return;
        }
        lease.par_free += 1;
        // Keep at most one grant's worth spare; the rest (all of it for small limits, so another
        // worker can use the slot now) goes back at once.
        let spare = if lease.size == 1 { 0 } else { lease.size };
        if lease.par_free > spare {
            let n = lease.par_free - spare;
            lease.par_free = spare;
            shared.apply(Write::ReleaseN {
                scopes: lease.par_scopes.clone(),
                n,
            });
        }
    }

    /// Reserves `estimate` against every entity's budget (all or nothing).
    pub async fn reserve(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        entities: &[BudgetEntity],
        estimate: f64,
    ) -> Result<BudgetSlot, Denied> {
        let key = tuple_key(entities.iter().map(|e| e.id.as_str()));
        for _ in 0..4 {
            if let Some(slot) = self.take_budget(shared, &key, estimate) {
                return Ok(slot);
            }
            self.refill_budget(shared, entities, &key, estimate).await?;
        }
        Err(Denied::Unavailable)
    }

    /// Asks Redis for a budget chunk and adds it to the local one.
    async fn refill_budget(
        &self,
        shared: &Arc<Shared>,
        entities: &[BudgetEntity],
        key: &str,
        estimate: f64,
    ) -> Result<(), Denied> {
        if !shared.redis.is_up() {
            return Err(Denied::Unavailable);
        }
        let want = if estimate > 0.0 {
            estimate * BUDGET_LEASE
        } else {
            0.0
        };
        let reservation = match shared.redis.reserve_upto(entities, estimate, want).await {
            Ok(r) => r,
            Err(RedisError::Unavailable(_)) => return Err(Denied::Unavailable),
            Err(e) => {
                tracing::warn!(target: "haimaker::redis", error = %e, "budget reservation failed; checking this process's view only");
                return Err(Denied::Unavailable);
            }
        };
        if !reservation.granted {
            let (index, live) = reservation.refused.unwrap_or((0, 0.0));
            return Err(Denied::OverBudget { index, live });
        }
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        let lease = budgets
            .entry(key.to_string())
            .or_insert_with(|| BudgetLease {
                entities: entities.iter().map(|e| e.id.clone()).collect(),
                free: 0.0,
                outstanding: 0.0,
                pending_spend: 0.0,
                exact: true,
                last_used: Instant::now(),
            });
        lease.free += reservation.amount;
        lease.exact = reservation.amount < 2.0 * estimate;
        Ok(())
    }

    fn take_budget(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        key: &str,
        estimate: f64,
    ) -> Option<BudgetSlot> {
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        let lease = budgets.get_mut(key)?;
        if lease.free + 1e-12 < estimate {
            return None;
        }
        lease.free -= estimate;
        lease.outstanding += estimate;
        lease.last_used = Instant::now();
        Some(BudgetSlot {
            leases: Arc::clone(self),
            shared: Arc::clone(shared),
            key: key.to_string(),
            estimate,
            cost: AtomicU64::new(0),
        })
    }

    fn settle_budget(&self, shared: &Arc<Shared>, key: &str, estimate: f64, actual: f64) {
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(lease) = budgets.get_mut(key) else {
            return;
        };
        lease.outstanding -= estimate;
        lease.free += estimate - actual;
        lease.pending_spend += actual;
        lease.last_used = Instant::now();
        if lease.exact {
            let actual = std::mem::take(&mut lease.pending_spend);
            let unused = std::mem::take(&mut lease.free).max(0.0);
            shared.apply(Write::Settle {
                entities: lease.entities.clone(),
                estimate: actual + unused,
                actual,
            });
        }
    }

    /// What should go back to Redis now: tokens and settled costs always, idle parallel slots
    /// and budget chunks after [`IDLE_RETURN`] (everything with `all`, at exit). Drops leases
    /// that hold nothing any more.
    pub fn due(&self, all: bool) -> Vec<Write> {
        let mut out = Vec::new();
        let (minute, _) = now_minute();
        {
            let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
            for lease in limits.values_mut() {
                if lease.pending_tokens > 0 {
                    out.push(Write::AddTokens {
                        scopes: lease.tpm_scopes.clone(),
                        tokens: std::mem::take(&mut lease.pending_tokens),
                    });
                }
                if lease.par_free > 0 && (all || lease.last_used.elapsed() >= IDLE_RETURN) {
                    out.push(Write::ReleaseN {
                        scopes: lease.par_scopes.clone(),
                        n: std::mem::take(&mut lease.par_free),
                    });
                }
            }
            limits.retain(|_, l| {
                l.in_use > 0 || l.par_free > 0 || l.pending_tokens > 0 || l.minute == minute
            });
        }
        {
            let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
            for lease in budgets.values_mut() {
                let mut estimate = 0.0;
                let actual = std::mem::take(&mut lease.pending_spend);
                estimate += actual;
                if lease.free > 0.0 && (all || lease.last_used.elapsed() >= IDLE_RETURN) {
                    estimate += std::mem::take(&mut lease.free);
                }
                if estimate > 0.0 || actual > 0.0 {
                    out.push(Write::Settle {
                        entities: lease.entities.clone(),
                        estimate,
                        actual,
                    });
                }
            }
            budgets.retain(|_, l| l.outstanding > 1e-12 || l.free.abs() > 1e-12);
        }
        out
    }
}

/// One admitted request's place in its scope set's lease: frees its parallel slot when dropped.
#[derive(Debug)]
pub struct LimitSlot {
    leases: Arc<Leases>,
    shared: Arc<Shared>,
    key: String,
    parallel: bool,
}

impl LimitSlot {
    /// Counts the call's tokens against the tpm limits it was admitted under.
    pub fn add_tokens(&self, tokens: u64) {
        self.leases.add_tokens(&self.key, tokens);
    }
}

impl Drop for LimitSlot {
    fn drop(&mut self) {
        self.leases.release(&self.shared, &self.key, self.parallel);
    }
}

/// One request's part of a budget chunk: settled with the call's cost when dropped (0 if none
/// was given: a failed or cancelled call costs nothing).
#[derive(Debug)]
pub struct BudgetSlot {
    leases: Arc<Leases>,
    shared: Arc<Shared>,
    key: String,
    estimate: f64,
    /// The call's cost, as f64 bits.
    cost: AtomicU64,
}

impl BudgetSlot {
    pub fn charge(&self, cost: f64) {
        if cost.is_finite() && cost >= 0.0 {
            self.cost.store(cost.to_bits(), Ordering::Relaxed);
        }
    }

    pub fn estimate(&self) -> f64 {
        self.estimate
    }
}

impl Drop for BudgetSlot {
    fn drop(&mut self) {
        let actual = f64::from_bits(self.cost.load(Ordering::Relaxed));
        self.leases
            .settle_budget(&self.shared, &self.key, self.estimate, actual);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(id: &str, rpm: Option<u64>, parallel: Option<u64>) -> LimitScope {
        LimitScope {
            id: id.into(),
            rpm,
            tpm: None,
            parallel,
        }
    }

    #[test]
    fn small_limits_are_leased_one_request_at_a_time() {
        assert_eq!(lease_size(&[scope("k", Some(5), None)]), 1);
        assert_eq!(lease_size(&[scope("k", None, Some(2))]), 1);
        assert_eq!(lease_size(&[scope("k", Some(1000), Some(300))]), 3);
        assert_eq!(
            lease_size(&[scope("k", Some(100_000_000), None)]),
            MAX_LEASE
        );
        assert_eq!(lease_size(&[scope("k", None, None)]), MAX_LEASE, "tpm only");
        assert_eq!(
            lease_size(&[scope("k", Some(100_000), None), scope("t", Some(500), None)]),
            5,
            "the smallest limit decides"
        );
    }
}
