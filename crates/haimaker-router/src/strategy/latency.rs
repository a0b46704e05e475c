//! `latency-based-routing`: the deployment with the lowest average latency.
//!
//! Mirrors LiteLLM's `lowest_latency.py`:
//! * a sample is the response time divided by the completion tokens (seconds per token), or
//!   the time to first token for streams (the worker computes it);
//! * the last `max_latency_list_size` (default 10) samples are kept per deployment and
//!   averaged (LiteLLM's list drops its newest element when full, which looks like a bug; here
//!   the oldest goes);
//! * a timeout adds a 1000 s penalty sample;
//! * deployments without samples count as 0, so they are tried first;
//! * deployments over their `rpm`/`tpm` for the current minute are skipped;
//! * the pick is random among deployments within `lowest_latency_buffer` of the fastest
//!   (average <= fastest * (1 + buffer));
//! * samples older than `ttl` (default 3600 s) are ignored. LiteLLM expires the whole map
//!   `ttl` after its last write; a per-sample age is the closer reading of "bounds sample age".
//!
//! Samples from other instances (fed by the worker) are merged with the local ones: the
//! average is taken over both lists.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rand::Rng;

use super::{StrategyArgs, has_headroom};
use crate::Deployment;
use crate::clock::Now;

/// LiteLLM's penalty sample for a timed-out call, in seconds.
pub const TIMEOUT_PENALTY_SECS: f64 = 1000.0;

#[derive(Debug, Default)]
pub(crate) struct Latency {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// (monotonic ms when recorded, seconds), oldest first.
    local: VecDeque<(u64, f64)>,
    /// Samples reported by other instances, and when they were reported.
    shared: Vec<f64>,
    shared_at_ms: u64,
}

fn valid(sample: f64) -> bool {
    sample.is_finite() && sample >= 0.0
}

impl Latency {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain numbers: still usable after a panic elsewhere.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a sample, keeping the newest `max` ones. Negative or non-finite samples are
    /// ignored.
    pub fn record(&self, now_ms: u64, sample: f64, max: usize) {
        if !valid(sample) {
            return;
        }
        let mut s = self.lock();
        while s.local.len() >= max.max(1) {
            s.local.pop_front();
        }
        s.local.push_back((now_ms, sample));
    }

    /// Replaces the shared samples (the newest `max` of them, invalid ones dropped).
    pub fn set_shared(&self, now_ms: u64, samples: &[f64], max: usize) {
        let mut s = self.lock();
        s.shared.clear();
        let valid_samples = samples.iter().copied().filter(|v| valid(*v));
        let skip = valid_samples.clone().count().saturating_sub(max);
        s.shared.extend(valid_samples.skip(skip));
        s.shared_at_ms = now_ms;
    }

    /// The average of the samples at most `ttl_ms` old, local and shared; `None` without any.
    pub fn average(&self, now_ms: u64, ttl_ms: u64) -> Option<f64> {
        let fresh = |at: u64| now_ms.saturating_sub(at) <= ttl_ms;
        let mut s = self.lock();
        // Samples are in time order: drop the expired ones from the front.
        while s.local.front().is_some_and(|(at, _)| !fresh(*at)) {
            s.local.pop_front();
        }
        let mut sum: f64 = s.local.iter().map(|(_, v)| v).sum();
        let mut count = s.local.len();
        if fresh(s.shared_at_ms) {
            sum += s.shared.iter().sum::<f64>();
            count += s.shared.len();
        }
        (count > 0).then(|| sum / count as f64)
    }
}

/// A random candidate among those with headroom whose average latency is within the buffer
/// of the fastest; `None` when no candidate has headroom.
pub(crate) fn choose<'a>(
    candidates: &[&'a Arc<Deployment>],
    now: Now,
    args: &StrategyArgs,
    input_tokens: u64,
    rng: &mut impl Rng,
) -> Option<&'a Arc<Deployment>> {
    let minute = now.utc_minute();
    let ttl_ms = u64::try_from(args.ttl.as_millis()).unwrap_or(u64::MAX);
    let mut scored: Vec<(f64, &'a Arc<Deployment>)> = Vec::with_capacity(candidates.len());
    for d in candidates {
        let (rpm, tpm) = d.stats.usage.current(minute);
        if has_headroom(d, rpm, tpm, input_tokens) {
            let avg = d.stats.latency.average(now.ms, ttl_ms).unwrap_or(0.0);
            scored.push((avg, d));
        }
    }
    let fastest = scored.iter().map(|(v, _)| *v).reduce(f64::min)?;
    let cutoff = fastest + fastest * args.lowest_latency_buffer;
    let within = scored.iter().filter(|(v, _)| *v <= cutoff).count();
    let nth = rng.random_range(0..within.max(1));
    scored
        .iter()
        .filter(|(v, _)| *v <= cutoff)
        .nth(nth)
        .map(|(_, d)| *d)
}
