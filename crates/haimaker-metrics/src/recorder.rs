//! The worker side: record, then hand over what changed.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::histogram::{Histogram, LATENCY_BUCKETS, OVERHEAD_BUCKETS};
use crate::labels::{DeploymentLabels, KeyLabels, ModelLabels, ProxyLabels};

/// What one call answered by a deployment adds.
#[derive(Debug, Clone, Default)]
pub struct ModelSample {
    pub spend: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Request start to the end of the response (seconds).
    pub total_latency: f64,
    /// The upstream call alone.
    pub llm_latency: Option<f64>,
    /// Streams: request start to the first token.
    pub time_to_first_token: Option<f64>,
    /// What the gateway added to the upstream's time (buffered responses).
    pub added_latency: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelCounts {
    pub requests: u64,
    pub spend: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_latency: Histogram,
    pub llm_latency: Histogram,
    pub time_to_first_token: Histogram,
}

impl ModelCounts {
    pub(crate) fn merge(&mut self, other: &ModelCounts) {
        self.requests += other.requests;
        self.spend += other.spend;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.total_latency.merge(&other.total_latency);
        self.llm_latency.merge(&other.llm_latency);
        self.time_to_first_token.merge(&other.time_to_first_token);
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentCounts {
    pub successes: u64,
    /// Failures by status code.
    pub failures: Vec<(u16, u64)>,
    /// Cooldowns started, by the status that caused them.
    pub cooldowns: Vec<(u16, u64)>,
}

fn bump(list: &mut Vec<(u16, u64)>, status: u16, n: u64) {
    match list.iter_mut().find(|(s, _)| *s == status) {
        Some((_, count)) => *count += n,
        None => list.push((status, n)),
    }
}

impl DeploymentCounts {
    pub(crate) fn merge(&mut self, other: &DeploymentCounts) {
        self.successes += other.successes;
        for (status, n) in &other.failures {
            bump(&mut self.failures, *status, *n);
        }
        for (status, n) in &other.cooldowns {
            bump(&mut self.cooldowns, *status, *n);
        }
    }
}

/// Values a worker reports as they are now (not added up): the latest report wins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerGauges {
    /// 0 healthy, 1 partial outage (recent failures), 2 outage (cooling down).
    pub deployment_state: Vec<(DeploymentLabels, u8)>,
    /// Postgres pool: connections open, idle, and the maximum.
    pub db_pool: Option<(u64, u64, u64)>,
    pub redis_up: Option<bool>,
}

/// Everything a worker recorded since its last delta.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub proxy: Vec<(ProxyLabels, u64, Histogram)>,
    pub model: Vec<(ModelLabels, ModelCounts)>,
    pub deployment: Vec<(DeploymentLabels, DeploymentCounts)>,
    pub added_latency: Histogram,
    /// Remaining budget per key (`None`: no budget), as of the key's last request.
    pub key_budget: Vec<(KeyLabels, f64)>,
    pub team_budget: Vec<((String, String), f64)>,
    /// The upstream's `x-ratelimit-remaining-requests` / `-tokens`, per model group and
    /// deployment, as of its last answer.
    #[serde(default)]
    pub upstream_remaining: Vec<(RemainingLabels, Remaining)>,
    pub gauges: WorkerGauges,
}

/// Which deployment of which model group a remaining-limit reading is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RemainingLabels {
    pub model_group: String,
    pub deployment: DeploymentLabels,
}

/// What an upstream said is left of its limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Remaining {
    pub requests: Option<f64>,
    pub tokens: Option<f64>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.proxy.is_empty()
            && self.model.is_empty()
            && self.deployment.is_empty()
            && self.added_latency.is_empty()
            && self.key_budget.is_empty()
            && self.team_budget.is_empty()
            && self.upstream_remaining.is_empty()
    }
}

/// Counts by label set: a worker's since its last delta, or the pod's since it started.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) proxy: HashMap<ProxyLabels, (u64, Histogram)>,
    pub(crate) model: HashMap<ModelLabels, ModelCounts>,
    pub(crate) deployment: HashMap<DeploymentLabels, DeploymentCounts>,
    pub(crate) added_latency: Histogram,
    pub(crate) key_budget: HashMap<KeyLabels, f64>,
    pub(crate) team_budget: HashMap<(String, String), f64>,
    pub(crate) upstream_remaining: HashMap<RemainingLabels, Remaining>,
}

impl Totals {
    /// Adds a worker's delta (its gauges are the caller's business).
    pub(crate) fn add(&mut self, delta: Delta) {
        for (labels, n, hist) in delta.proxy {
            let entry = self.proxy.entry(labels).or_default();
            entry.0 += n;
            entry.1.merge(&hist);
        }
        for (labels, counts) in delta.model {
            self.model.entry(labels).or_default().merge(&counts);
        }
        for (labels, counts) in delta.deployment {
            self.deployment.entry(labels).or_default().merge(&counts);
        }
        self.added_latency.merge(&delta.added_latency);
        self.key_budget.extend(delta.key_budget);
        self.team_budget.extend(delta.team_budget);
        for (labels, remaining) in delta.upstream_remaining {
            let entry = self.upstream_remaining.entry(labels).or_default();
            entry.requests = remaining.requests.or(entry.requests);
            entry.tokens = remaining.tokens.or(entry.tokens);
        }
    }

    fn into_delta(self, gauges: WorkerGauges) -> Delta {
        Delta {
            proxy: self
                .proxy
                .into_iter()
                .map(|(l, (n, h))| (l, n, h))
                .collect(),
            model: self.model.into_iter().collect(),
            deployment: self.deployment.into_iter().collect(),
            added_latency: self.added_latency,
            key_budget: self.key_budget.into_iter().collect(),
            team_budget: self.team_budget.into_iter().collect(),
            upstream_remaining: self.upstream_remaining.into_iter().collect(),
            gauges,
        }
    }
}

/// A worker's metrics since its last [`Recorder::take`].
#[derive(Debug, Default)]
pub struct Recorder {
    inner: Mutex<Totals>,
}

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Totals> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One LLM request as the client saw it, with its total latency (seconds).
    pub fn proxy_request(&self, labels: ProxyLabels, total_latency: f64) {
        let mut inner = self.lock();
        let entry = inner.proxy.entry(labels).or_default();
        entry.0 += 1;
        entry.1.observe(LATENCY_BUCKETS, total_latency);
    }

    /// A call a deployment answered.
    pub fn model_success(&self, labels: ModelLabels, sample: &ModelSample) {
        let mut inner = self.lock();
        if let Some(added) = sample.added_latency {
            inner.added_latency.observe(OVERHEAD_BUCKETS, added);
        }
        inner
            .deployment
            .entry(labels.deployment.clone())
            .or_default()
            .successes += 1;
        let counts = inner.model.entry(labels).or_default();
        counts.requests += 1;
        counts.spend += sample.spend;
        counts.input_tokens += sample.input_tokens;
        counts.output_tokens += sample.output_tokens;
        counts
            .total_latency
            .observe(LATENCY_BUCKETS, sample.total_latency);
        if let Some(llm) = sample.llm_latency {
            counts.llm_latency.observe(LATENCY_BUCKETS, llm);
        }
        if let Some(ttft) = sample.time_to_first_token {
            counts.time_to_first_token.observe(LATENCY_BUCKETS, ttft);
        }
    }

    /// A deployment call that failed with `status`.
    pub fn deployment_failure(&self, labels: DeploymentLabels, status: u16) {
        let mut inner = self.lock();
        bump(
            &mut inner.deployment.entry(labels).or_default().failures,
            status,
            1,
        );
    }

    /// A deployment entered a cooldown after a failure with `status`.
    pub fn cooled_down(&self, labels: DeploymentLabels, status: u16) {
        let mut inner = self.lock();
        bump(
            &mut inner.deployment.entry(labels).or_default().cooldowns,
            status,
            1,
        );
    }

    /// A key's and its team's remaining budget, as of this request.
    pub fn budgets(&self, key: Option<(KeyLabels, f64)>, team: Option<((String, String), f64)>) {
        let mut inner = self.lock();
        if let Some((labels, left)) = key {
            inner.key_budget.insert(labels, left);
        }
        if let Some((labels, left)) = team {
            inner.team_budget.insert(labels, left);
        }
    }

    /// An upstream's remaining rate limits, from its `x-ratelimit-remaining-*` headers.
    pub fn upstream_remaining(&self, labels: RemainingLabels, remaining: Remaining) {
        if remaining.requests.is_some() || remaining.tokens.is_some() {
            self.lock().upstream_remaining.insert(labels, remaining);
        }
    }

    /// Takes what was recorded since the last call, with `gauges` as they are now.
    pub fn take(&self, gauges: WorkerGauges) -> Delta {
        let totals = std::mem::take(&mut *self.lock());
        totals.into_delta(gauges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_hands_over_and_resets() {
        let r = Recorder::default();
        let labels = ProxyLabels {
            requested_model: "m".into(),
            status_code: 200,
            ..ProxyLabels::default()
        };
        r.proxy_request(labels.clone(), 0.01);
        r.proxy_request(labels.clone(), 0.02);
        let delta = r.take(WorkerGauges::default());
        assert_eq!(delta.proxy.len(), 1);
        assert_eq!(delta.proxy[0].1, 2);
        assert!(r.take(WorkerGauges::default()).is_empty());
        // Deltas survive a round trip through the control socket's JSON.
        let json = serde_json::to_string(&delta).expect("serialize");
        let back: Delta = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, delta);
    }
}
