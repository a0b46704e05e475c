//! Requests and tokens per deployment per UTC minute, and `usage-based-routing-v2` (also used
//! for `usage-based-routing`).
//!
//! Mirrors LiteLLM's `lowest_tpm_rpm_v2.py`: counters keyed `"<id>:rpm:<HH-MM>"` /
//! `"<id>:tpm:<HH-MM>"` (UTC minute), rpm counted when a call starts, tpm (`total_tokens`)
//! when it succeeds. The pick is the lowest current tpm among deployments where
//! `tpm + input_tokens <= tpm_limit` and `rpm + 1 <= rpm_limit` (limits from
//! `litellm_params.rpm`/`tpm`, none = infinite), ties at random; when none qualifies the
//! caller answers 429 `Deployment over defined rpm limit=<n>. current usage=<n>`.
//!
//! Shared numbers (the totals of all instances, this one included, as the worker reads them
//! from Redis) are combined as `max(local, shared)`: the shared total already contains this
//! process's calls, but may lag behind them.
//!
//! The same counters feed the rpm/tpm headroom checks of `latency-based-routing` and
//! `cost-based-routing`.

use std::sync::{Arc, Mutex};

use rand::Rng;

use super::{Lowest, has_headroom};
use crate::Deployment;

#[derive(Debug, Default)]
pub(crate) struct Usage {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    local: Minute,
    shared: Minute,
}

#[derive(Debug, Default, Clone, Copy)]
struct Minute {
    /// UTC minute (minutes since the Unix epoch) these numbers belong to.
    minute: u64,
    rpm: u64,
    tpm: u64,
}

impl Minute {
    /// This bucket's numbers if it is for `minute`, else zero (a new minute starts empty).
    fn at(self, minute: u64) -> (u64, u64) {
        if self.minute == minute {
            (self.rpm, self.tpm)
        } else {
            (0, 0)
        }
    }

    fn roll(&mut self, minute: u64) {
        if self.minute != minute {
            *self = Minute {
                minute,
                ..Minute::default()
            };
        }
    }
}

impl Usage {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // Plain counters: still usable after a panic elsewhere.
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record_request(&self, minute: u64) {
        let mut c = self.lock();
        c.local.roll(minute);
        c.local.rpm = c.local.rpm.saturating_add(1);
    }

    pub fn record_tokens(&self, minute: u64, tokens: u64) {
        let mut c = self.lock();
        c.local.roll(minute);
        c.local.tpm = c.local.tpm.saturating_add(tokens);
    }

    pub fn set_shared(&self, minute: u64, rpm: u64, tpm: u64) {
        self.lock().shared = Minute { minute, rpm, tpm };
    }

    /// This process's (rpm, tpm) this minute.
    pub fn local(&self, minute: u64) -> (u64, u64) {
        self.lock().local.at(minute)
    }

    /// The (rpm, tpm) the strategies use: `max(local, shared)` per number.
    pub fn current(&self, minute: u64) -> (u64, u64) {
        let c = *self.lock();
        let (lr, lt) = c.local.at(minute);
        let (sr, st) = c.shared.at(minute);
        (lr.max(sr), lt.max(st))
    }
}

/// The candidate with the lowest tpm that has headroom; `None` when none has.
pub(crate) fn choose<'a>(
    candidates: &[&'a Arc<Deployment>],
    minute: u64,
    input_tokens: u64,
    rng: &mut impl Rng,
) -> Option<&'a Arc<Deployment>> {
    let mut lowest = Lowest::new();
    for d in candidates {
        let (rpm, tpm) = d.stats.usage.current(minute);
        if has_headroom(d, rpm, tpm, input_tokens) {
            lowest.offer(tpm as f64, d, rng);
        }
    }
    lowest.get()
}
