//! The supervisor side: the pod's totals, kept across worker recycles, and their text form.

use std::collections::{BTreeMap, HashMap};

use crate::histogram::{Histogram, LATENCY_BUCKETS, OVERHEAD_BUCKETS};
use crate::labels::{DeploymentLabels, KeyLabels, ModelLabels};
use crate::recorder::{
    Delta, DeploymentCounts, ModelCounts, RemainingLabels, Totals, WorkerGauges,
};
use crate::text::{Labels, Text};

/// One worker as the supervisor sees it, for the per-worker gauges.
#[derive(Debug, Clone)]
pub struct WorkerView {
    /// `<slot>` (the standby worker is `standby`).
    pub name: String,
    pub in_flight: u64,
}

/// What only the supervisor knows, rendered with the totals.
#[derive(Debug, Clone, Default)]
pub struct PodGauges {
    pub workers: Vec<WorkerView>,
    pub desired_workers: u64,
    pub ready_workers: u64,
    pub recycles: u64,
    /// `connected`, `disconnected`, `schema_behind`; `None` without a database.
    pub db: Option<String>,
}

/// Everything every worker of the pod ever reported.
#[derive(Debug, Default)]
pub struct Aggregate {
    totals: Totals,
    /// Latest gauges per worker process (by its id); dropped when it exits.
    gauges: HashMap<u64, WorkerGauges>,
}

impl Aggregate {
    /// Adds a worker's delta; `worker` identifies the process for its gauges.
    pub fn apply(&mut self, worker: u64, mut delta: Delta) {
        self.gauges
            .insert(worker, std::mem::take(&mut delta.gauges));
        self.totals.add(delta);
    }

    /// A worker process is gone: its gauges no longer describe anything.
    pub fn forget(&mut self, worker: u64) {
        self.gauges.remove(&worker);
    }

    /// The text format of everything, with the supervisor's own gauges.
    pub fn render(&self, pod: &PodGauges) -> String {
        let mut t = Text::default();
        self.render_proxy(&mut t);
        self.render_models(&mut t);
        self.render_deployments(&mut t);
        self.render_budgets(&mut t);
        render_pod(&mut t, pod, &self.gauges, &self.totals.added_latency);
        t.out
    }

    fn render_proxy(&self, t: &mut Text) {
        let mut total: BTreeMap<Vec<(&str, String)>, f64> = BTreeMap::new();
        let mut failed: BTreeMap<Vec<(&str, String)>, f64> = BTreeMap::new();
        for (labels, (n, _)) in &self.totals.proxy {
            let mut base = key_labels(&labels.key);
            base.push(("requested_model", labels.requested_model.clone()));
            let mut with_status = base.clone();
            with_status.push(("status_code", labels.status_code.to_string()));
            *total.entry(with_status).or_default() += *n as f64;
            if labels.status_code >= 400 {
                base.push(("exception_status", labels.status_code.to_string()));
                base.push(("exception_class", labels.exception_class.clone()));
                *failed.entry(base).or_default() += *n as f64;
            }
        }
        t.counter(
            "litellm_proxy_total_requests_metric",
            "Total number of requests made to the proxy server",
            &total.into_iter().collect::<Vec<_>>(),
        );
        t.counter(
            "litellm_proxy_failed_requests_metric",
            "Total number of failed responses from the proxy",
            &failed.into_iter().collect::<Vec<_>>(),
        );
    }

    fn render_models(&self, t: &mut Text) {
        let mut models: Vec<(&ModelLabels, &ModelCounts)> = self.totals.model.iter().collect();
        models.sort_by(|a, b| a.0.cmp(b.0));
        let labels: Vec<Labels<'_>> = models.iter().map(|(l, _)| model_labels(l)).collect();
        let sum = |f: &dyn Fn(&ModelCounts) -> f64| -> Vec<(Labels<'_>, f64)> {
            labels
                .iter()
                .zip(&models)
                .map(|(l, (_, c))| (l.clone(), f(c)))
                .collect()
        };
        t.counter(
            "litellm_requests_metric",
            "Total number of LLM calls answered by a deployment",
            &sum(&|c| c.requests as f64),
        );
        t.counter(
            "litellm_spend_metric",
            "Total spend on LLM requests (USD)",
            &sum(&|c| c.spend),
        );
        t.counter(
            "litellm_total_tokens_metric",
            "Total number of input + output tokens from LLM requests",
            &sum(&|c| (c.input_tokens + c.output_tokens) as f64),
        );
        t.counter(
            "litellm_input_tokens_metric",
            "Total number of input tokens from LLM requests",
            &sum(&|c| c.input_tokens as f64),
        );
        t.counter(
            "litellm_output_tokens_metric",
            "Total number of output tokens from LLM requests",
            &sum(&|c| c.output_tokens as f64),
        );
        let hist = |f: &dyn Fn(&ModelCounts) -> &Histogram| -> Vec<(Labels<'_>, &Histogram)> {
            labels
                .iter()
                .zip(&models)
                .map(|(l, (_, c))| (l.clone(), f(c)))
                .collect()
        };
        t.histogram(
            "litellm_request_total_latency_metric",
            "Total latency (seconds) for a request to the proxy",
            LATENCY_BUCKETS,
            &hist(&|c| &c.total_latency),
        );
        t.histogram(
            "litellm_llm_api_latency_metric",
            "Total latency (seconds) for the LLM API call",
            LATENCY_BUCKETS,
            &hist(&|c| &c.llm_latency),
        );
        t.histogram(
            "litellm_llm_api_time_to_first_token_metric",
            "Time to first token for a streaming LLM API call (seconds)",
            LATENCY_BUCKETS,
            &hist(&|c| &c.time_to_first_token),
        );
    }

    fn render_deployments(&self, t: &mut Text) {
        let mut deployments: Vec<(&DeploymentLabels, &DeploymentCounts)> =
            self.totals.deployment.iter().collect();
        deployments.sort_by(|a, b| a.0.cmp(b.0));
        let mut successes = Vec::new();
        let mut failures = Vec::new();
        let mut cooldowns = Vec::new();
        for (labels, counts) in &deployments {
            let base = deployment_labels(labels);
            if counts.successes > 0 {
                successes.push((base.clone(), counts.successes as f64));
            }
            for (status, n) in &counts.failures {
                let mut l = base.clone();
                l.push(("exception_status", status.to_string()));
                failures.push((l, *n as f64));
            }
            for (status, n) in &counts.cooldowns {
                let mut l = base.clone();
                l.push(("exception_status", status.to_string()));
                cooldowns.push((l, *n as f64));
            }
        }
        t.counter(
            "litellm_deployment_success_responses",
            "Total number of successful LLM API calls via litellm",
            &successes,
        );
        t.counter(
            "litellm_deployment_failure_responses",
            "Total number of failed LLM API calls for a specific LLM deployment",
            &failures,
        );
        t.counter(
            "litellm_deployment_cooled_down",
            "Number of times a deployment has been cooled down",
            &cooldowns,
        );
        // The worst state any worker sees.
        let mut state: BTreeMap<&DeploymentLabels, u8> = BTreeMap::new();
        for gauges in self.gauges.values() {
            for (labels, s) in &gauges.deployment_state {
                let entry = state.entry(labels).or_default();
                *entry = (*entry).max(*s);
            }
        }
        t.gauge(
            "litellm_deployment_state",
            "LLM deployment state: 0 healthy, 1 partial outage, 2 complete outage",
            &state
                .into_iter()
                .map(|(l, s)| (deployment_labels(l), f64::from(s)))
                .collect::<Vec<_>>(),
        );
    }

    fn render_budgets(&self, t: &mut Text) {
        let mut keys: Vec<_> = self
            .totals
            .key_budget
            .iter()
            .map(|(k, left)| {
                (
                    vec![
                        ("hashed_api_key", k.hashed_api_key.clone()),
                        ("api_key_alias", k.api_key_alias.clone()),
                    ],
                    *left,
                )
            })
            .collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        t.gauge(
            "litellm_remaining_api_key_budget_metric",
            "Remaining budget for an API key",
            &keys,
        );
        let mut teams: Vec<_> = self
            .totals
            .team_budget
            .iter()
            .map(|((team, alias), left)| {
                (
                    vec![("team", team.clone()), ("team_alias", alias.clone())],
                    *left,
                )
            })
            .collect();
        teams.sort_by(|a, b| a.0.cmp(&b.0));
        t.gauge(
            "litellm_remaining_team_budget_metric",
            "Remaining budget for a team",
            &teams,
        );
        let mut remaining: Vec<_> = self.totals.upstream_remaining.iter().collect();
        remaining.sort_by(|a, b| a.0.cmp(b.0));
        let labels = |r: &RemainingLabels| {
            let mut l = vec![("model_group", r.model_group.clone())];
            l.extend(deployment_labels(&r.deployment));
            l
        };
        t.gauge(
            "litellm_remaining_requests_metric",
            "Remaining requests the LLM API deployment allows (its x-ratelimit-remaining-requests)",
            &remaining
                .iter()
                .filter_map(|(l, r)| r.requests.map(|v| (labels(l), v)))
                .collect::<Vec<_>>(),
        );
        t.gauge(
            "litellm_remaining_tokens_metric",
            "Remaining tokens the LLM API deployment allows (its x-ratelimit-remaining-tokens)",
            &remaining
                .iter()
                .filter_map(|(l, r)| r.tokens.map(|v| (labels(l), v)))
                .collect::<Vec<_>>(),
        );
    }
}

fn render_pod(
    t: &mut Text,
    pod: &PodGauges,
    gauges: &HashMap<u64, WorkerGauges>,
    added: &Histogram,
) {
    t.histogram(
        "haimaker_added_latency_seconds",
        "Time the gateway added to an upstream call (total minus upstream, buffered responses)",
        OVERHEAD_BUCKETS,
        &[(Vec::new(), added)],
    );
    t.counter(
        "haimaker_worker_recycles",
        "Workers replaced by recycling (request budget or memory)",
        &[(Vec::new(), pod.recycles as f64)],
    );
    t.gauge(
        "haimaker_workers",
        "Worker processes by state",
        &[
            (
                vec![("state", "desired".to_string())],
                pod.desired_workers as f64,
            ),
            (
                vec![("state", "ready".to_string())],
                pod.ready_workers as f64,
            ),
        ],
    );
    let mut workers = pod.workers.clone();
    workers.sort_by(|a, b| a.name.cmp(&b.name));
    t.gauge(
        "haimaker_in_flight_requests",
        "Requests in flight per worker",
        &workers
            .iter()
            .map(|w| (vec![("worker", w.name.clone())], w.in_flight as f64))
            .collect::<Vec<_>>(),
    );
    if let Some(db) = &pod.db {
        t.gauge(
            "haimaker_db_up",
            "Whether the workers reach Postgres with a current schema (1) or not (0)",
            &[(Vec::new(), if db == "connected" { 1.0 } else { 0.0 })],
        );
    }
    let pools: Vec<(u64, u64, u64)> = gauges.values().filter_map(|g| g.db_pool).collect();
    if !pools.is_empty() {
        let (open, idle, max) = pools
            .iter()
            .fold((0, 0, 0), |a, p| (a.0 + p.0, a.1 + p.1, a.2 + p.2));
        t.gauge(
            "haimaker_db_pool_connections",
            "Postgres connections of all workers' pools",
            &[
                (vec![("state", "open".to_string())], open as f64),
                (vec![("state", "idle".to_string())], idle as f64),
                (vec![("state", "max".to_string())], max as f64),
            ],
        );
    }
    let redis: Vec<bool> = gauges.values().filter_map(|g| g.redis_up).collect();
    if !redis.is_empty() {
        let up = redis.iter().filter(|u| **u).count() as f64 / redis.len() as f64;
        t.gauge(
            "haimaker_redis_up",
            "Share of workers with a live Redis connection (1 = all)",
            &[(Vec::new(), up)],
        );
    }
}

fn key_labels(k: &KeyLabels) -> Vec<(&'static str, String)> {
    vec![
        ("end_user", k.end_user.clone()),
        ("hashed_api_key", k.hashed_api_key.clone()),
        ("api_key_alias", k.api_key_alias.clone()),
        ("team", k.team.clone()),
        ("team_alias", k.team_alias.clone()),
        ("user", k.user.clone()),
    ]
}

fn model_labels(m: &ModelLabels) -> Vec<(&'static str, String)> {
    let mut l = key_labels(&m.key);
    l.push(("requested_model", m.requested_model.clone()));
    l.push(("model_group", m.model_group.clone()));
    l.push(("model", m.deployment.litellm_model_name.clone()));
    l.push(("model_id", m.deployment.model_id.clone()));
    l.push(("api_base", m.deployment.api_base.clone()));
    l.push(("api_provider", m.deployment.api_provider.clone()));
    l
}

fn deployment_labels(d: &DeploymentLabels) -> Vec<(&'static str, String)> {
    vec![
        ("litellm_model_name", d.litellm_model_name.clone()),
        ("model_id", d.model_id.clone()),
        ("api_base", d.api_base.clone()),
        ("api_provider", d.api_provider.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::ProxyLabels;
    use crate::recorder::{ModelSample, Recorder};

    #[test]
    fn totals_survive_a_worker_and_render_as_litellm_names() {
        let mut pod = Aggregate::default();
        for worker in [1u64, 2] {
            let r = Recorder::default();
            for _ in 0..3 {
                r.proxy_request(
                    ProxyLabels {
                        requested_model: "m".into(),
                        status_code: 200,
                        ..ProxyLabels::default()
                    },
                    0.01,
                );
            }
            r.model_success(
                ModelLabels {
                    requested_model: "m".into(),
                    ..ModelLabels::default()
                },
                &ModelSample {
                    spend: 0.5,
                    input_tokens: 10,
                    output_tokens: 5,
                    total_latency: 0.02,
                    llm_latency: Some(0.01),
                    time_to_first_token: None,
                    added_latency: Some(0.0002),
                },
            );
            pod.apply(worker, r.take(WorkerGauges::default()));
            pod.forget(worker);
        }
        let text = pod.render(&PodGauges::default());
        assert!(
            text.contains("litellm_proxy_total_requests_metric_total{end_user=\"\",hashed_api_key=\"\",api_key_alias=\"\",team=\"\",team_alias=\"\",user=\"\",requested_model=\"m\",status_code=\"200\"} 6.0"),
            "{text}"
        );
        assert!(text.contains("litellm_spend_metric_total{"), "{text}");
        assert!(text.contains("} 1.0\n"), "{text}");
        assert!(
            text.contains("haimaker_added_latency_seconds_count 2.0"),
            "{text}"
        );
        assert!(
            !text.contains("litellm_proxy_failed_requests_metric"),
            "no failures yet"
        );
    }
}

#[cfg(test)]
mod remaining_tests {
    use super::*;
    use crate::recorder::Recorder;
    use crate::recorder::Remaining;

    #[test]
    fn upstream_remaining_limits_render_as_gauges() {
        let r = Recorder::default();
        r.upstream_remaining(
            RemainingLabels {
                model_group: "g".into(),
                deployment: DeploymentLabels::default(),
            },
            Remaining {
                requests: Some(4999.0),
                tokens: None,
            },
        );
        let delta = r.take(WorkerGauges::default());
        let json = serde_json::to_string(&delta).expect("serialize");
        let back: Delta = serde_json::from_str(&json).expect("deserialize");
        let mut pod = Aggregate::default();
        pod.apply(1, back);
        let text = pod.render(&PodGauges::default());
        assert!(
            text.contains("litellm_remaining_requests_metric{model_group=\"g\""),
            "{text}"
        );
        assert!(!text.contains("litellm_remaining_tokens_metric{"), "{text}");
    }
}
