//! Routing strategies other than `simple-shuffle` (reference section 12.1), and the
//! per-deployment numbers they read.
//!
//! Everything here is pure logic over in-process counters. Numbers seen by other instances
//! (LiteLLM keeps them in Redis) are fed in by the worker through the `Router::set_shared_*`
//! calls and combined with the local ones.
//!
//! Cost of a pick: the candidates are the members of one group. For each candidate a strategy
//! reads atomics (`least-busy`) or takes one short mutex (`usage-based-routing*`,
//! `latency-based-routing`, `cost-based-routing`); those mutexes are only held to copy a few
//! numbers, so they are effectively uncontended. Ties are broken by reservoir sampling, so no
//! strategy but `latency-based-routing` (one `Vec<f64>` of averages) allocates.

pub(crate) mod cost;
pub(crate) mod latency;
pub(crate) mod least_busy;
pub(crate) mod usage;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use haimaker_pricing::PriceMap;
use rand::Rng;
use serde_json::{Map, Value};

use crate::Deployment;

pub use least_busy::InFlightGuard;

/// `routing_strategy_args`, with LiteLLM's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyArgs {
    /// `ttl` (default 3600 s): latency samples older than this are ignored. (LiteLLM also
    /// uses `ttl` for the usage keys of `usage-based-routing-v2`, 60 s there; haimaker keys
    /// usage by UTC minute so it needs no expiry.)
    pub ttl: Duration,
    /// `lowest_latency_buffer` (default 0): pick at random among deployments whose average
    /// latency is at most `fastest * (1 + buffer)`.
    pub lowest_latency_buffer: f64,
    /// `max_latency_list_size` (default 10): latency samples kept per deployment.
    pub max_latency_list_size: usize,
}

pub const DEFAULT_LATENCY_TTL: Duration = Duration::from_secs(3600);
pub const DEFAULT_MAX_LATENCY_LIST_SIZE: usize = 10;
/// Upper bound on `max_latency_list_size`, so a typo cannot make every deployment hold a huge
/// sample list.
const MAX_LATENCY_LIST_SIZE_CAP: usize = 1000;

impl Default for StrategyArgs {
    fn default() -> Self {
        Self {
            ttl: DEFAULT_LATENCY_TTL,
            lowest_latency_buffer: 0.0,
            max_latency_list_size: DEFAULT_MAX_LATENCY_LIST_SIZE,
        }
    }
}

impl StrategyArgs {
    /// Reads the known keys; numbers may be written as strings. Missing, negative or
    /// unparsable values take the default (a `ttl` of 0 too).
    pub fn from_map(args: &Map<String, Value>) -> Self {
        let num = |key: &str| {
            args.get(key)
                .and_then(|v| {
                    v.as_f64()
                        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                })
                .filter(|n: &f64| n.is_finite() && *n >= 0.0)
        };
        let defaults = Self::default();
        Self {
            ttl: num("ttl")
                .filter(|s| *s > 0.0)
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .unwrap_or(defaults.ttl),
            lowest_latency_buffer: num("lowest_latency_buffer")
                .unwrap_or(defaults.lowest_latency_buffer),
            max_latency_list_size: num("max_latency_list_size")
                .filter(|n| *n >= 1.0)
                .map_or(defaults.max_latency_list_size, |n| {
                    (n as usize).min(MAX_LATENCY_LIST_SIZE_CAP)
                }),
        }
    }
}

/// What a pick may know about the request beyond the group.
#[derive(Debug, Clone, Copy, Default)]
pub struct PickContext<'a> {
    /// Deployments this request already tried (by index): untried ones are preferred.
    pub tried: &'a [usize],
    /// Estimated prompt tokens (0 if unknown): `usage-based-routing*`, `latency-based-routing`
    /// and `cost-based-routing` skip deployments whose `tpm` this would exceed.
    pub input_tokens: u64,
    /// Price map for `cost-based-routing`; `None` uses the bundled map.
    pub prices: Option<&'a PriceMap>,
}

/// Per-deployment numbers the strategies read; lives in the [`Deployment`].
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub in_flight: least_busy::InFlight,
    pub usage: usage::Usage,
    pub latency: latency::Latency,
    pub cost: cost::CostCache,
}

/// Every healthy candidate is at its `rpm`/`tpm` limit for this minute.
#[derive(Debug, Clone, PartialEq)]
pub struct OverLimit {
    /// The candidates and their numbers, in group order.
    pub deployments: Vec<DeploymentUsage>,
}

/// One deployment's usage this minute against its limits (`None` = no limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentUsage {
    pub id: String,
    pub rpm: u64,
    pub rpm_limit: Option<u64>,
    pub tpm: u64,
    pub tpm_limit: Option<u64>,
}

impl DeploymentUsage {
    fn rpm_full(&self) -> bool {
        self.rpm_limit
            .is_some_and(|l| self.rpm.saturating_add(1) > l)
    }
}

impl OverLimit {
    /// The message LiteLLM gives with the 429. When an `rpm` limit stopped a deployment:
    /// `Deployment over defined rpm limit=<n>. current usage=<n>` (the pre-call check of
    /// `lowest_tpm_rpm_v2.py`), with the first such deployment's numbers. When only `tpm`
    /// limits did: `No deployments available for selected model. Passed model=<group>.
    /// Deployments={...}` with every deployment's numbers, as `async_get_available_deployments`.
    pub fn message(&self, model_group: &str) -> String {
        if let Some(d) = self.deployments.iter().find(|d| d.rpm_full()) {
            return format!(
                "Deployment over defined rpm limit={}. current usage={}",
                d.rpm_limit.unwrap_or_default(),
                d.rpm
            );
        }
        let limit = |l: Option<u64>| l.map_or_else(|| "inf".to_string(), |l| l.to_string());
        let mut out = format!(
            "No deployments available for selected model. Passed model={model_group}. Deployments={{"
        );
        for (i, d) in self.deployments.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(
                out,
                "'{}': {{'current_tpm': {}, 'tpm_limit': {}, 'current_rpm': {}, 'rpm_limit': {}}}",
                d.id,
                d.tpm,
                limit(d.tpm_limit),
                d.rpm,
                limit(d.rpm_limit)
            );
        }
        out.push('}');
        out
    }
}

/// Whether `d`, at `rpm`/`tpm` this minute, can take one more request of `input_tokens`:
/// `tpm + input_tokens <= tpm_limit` and `rpm + 1 <= rpm_limit` (no limit = infinite).
pub(crate) fn has_headroom(d: &Deployment, rpm: u64, tpm: u64, input_tokens: u64) -> bool {
    d.tpm.is_none_or(|l| tpm.saturating_add(input_tokens) <= l)
        && d.rpm.is_none_or(|l| rpm.saturating_add(1) <= l)
}

/// The lowest-scoring candidate, ties broken uniformly at random without allocating
/// (reservoir sampling over the tied ones).
pub(crate) struct Lowest<'a> {
    best: Option<(f64, &'a Arc<Deployment>)>,
    ties: u32,
}

impl<'a> Lowest<'a> {
    pub fn new() -> Self {
        Self {
            best: None,
            ties: 0,
        }
    }

    pub fn offer(&mut self, score: f64, d: &'a Arc<Deployment>, rng: &mut impl Rng) {
        let score = if score.is_nan() { f64::INFINITY } else { score };
        match self.best {
            Some((best, _)) if score > best => {}
            Some((best, _)) if score == best => {
                self.ties += 1;
                if rng.random_range(0..self.ties) == 0 {
                    self.best = Some((score, d));
                }
            }
            _ => {
                self.best = Some((score, d));
                self.ties = 1;
            }
        }
    }

    pub fn get(self) -> Option<&'a Arc<Deployment>> {
        self.best.map(|(_, d)| d)
    }
}

#[cfg(test)]
mod tests;
