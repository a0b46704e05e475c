//! `least-busy`: the deployment with the fewest requests in flight.
//!
//! Mirrors LiteLLM's `least_busy.py`: a per-deployment in-flight counter, incremented when a
//! call starts and decremented when it ends (success or failure); deployments never tracked
//! count as 0. Here the decrement lives in [`InFlightGuard`]'s `Drop`, so a request whose
//! future is dropped (client went away, timeout) is counted out too. Counts seen from other
//! instances are added on top as extra load. Ties are broken at random.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;

use super::Lowest;
use crate::Deployment;

#[derive(Debug, Default)]
pub(crate) struct InFlight {
    /// Calls of this process in flight.
    local: AtomicU64,
    /// In-flight calls other instances reported (replaced on every report).
    shared: AtomicU64,
}

impl InFlight {
    pub fn local(&self) -> u64 {
        self.local.load(Ordering::Relaxed)
    }

    pub fn set_shared(&self, count: u64) {
        self.shared.store(count, Ordering::Relaxed);
    }

    /// Local plus shared: the load `least-busy` compares.
    pub fn load(&self) -> u64 {
        self.local()
            .saturating_add(self.shared.load(Ordering::Relaxed))
    }
}

/// Counts one call to a deployment as in flight until dropped.
#[derive(Debug)]
#[must_use = "the call is counted as in flight only while the guard lives"]
pub struct InFlightGuard {
    deployment: Arc<Deployment>,
}

impl InFlightGuard {
    pub(crate) fn start(deployment: &Arc<Deployment>) -> Self {
        deployment
            .stats
            .in_flight
            .local
            .fetch_add(1, Ordering::Relaxed);
        Self {
            deployment: Arc::clone(deployment),
        }
    }

    pub fn deployment(&self) -> &Arc<Deployment> {
        &self.deployment
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        // Every guard incremented once, so this never goes below zero.
        self.deployment
            .stats
            .in_flight
            .local
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// The candidate with the lowest load; `None` only when there are no candidates.
pub(crate) fn choose<'a>(
    candidates: &[&'a Arc<Deployment>],
    rng: &mut impl Rng,
) -> Option<&'a Arc<Deployment>> {
    let mut lowest = Lowest::new();
    for d in candidates {
        lowest.offer(d.stats.in_flight.load() as f64, d, rng);
    }
    lowest.get()
}
