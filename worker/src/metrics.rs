//! The worker's part of `/metrics`: record each LLM request, report what changed to the
//! supervisor about once a second (and once more at a planned exit), and serve the pod-wide
//! text the supervisor sends back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use haimaker_metrics::{
    DeploymentLabels, KeyLabels, ModelLabels, ModelSample, ProxyLabels, Recorder, WorkerGauges,
};
use haimaker_router::{Deployment, Router, Target};

use crate::pipeline::Caller;
use crate::state::AppState;

/// How often a worker reports (`HAIMAKER_METRICS_INTERVAL_MS`).
const DEFAULT_REPORT_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Metrics {
    pub recorder: Recorder,
    /// The pod's metrics as last rendered by the supervisor.
    text: Mutex<Arc<str>>,
    pub report_interval: Duration,
    /// `/metrics` on the main port (off with `HAIMAKER_MAIN_PORT_METRICS=false`).
    pub on_main_port: bool,
    /// The `end_user` label (off with `disable_end_user_cost_tracking` or its
    /// `_prometheus_only` form: one series per end user can explode the cardinality).
    pub end_user_labels: bool,
    /// `require_auth_for_metrics_endpoint` (default true, LiteLLM's newest): the main port's
    /// `/metrics` needs a valid key.
    pub require_auth: bool,
}

impl Metrics {
    pub fn new(
        require_auth: bool,
        end_user_labels: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Self {
        Self {
            end_user_labels,
            recorder: Recorder::default(),
            text: Mutex::new(Arc::from("")),
            report_interval: env("HAIMAKER_METRICS_INTERVAL_MS")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|ms| *ms > 0)
                .map_or(DEFAULT_REPORT_INTERVAL, Duration::from_millis),
            on_main_port: env(haimaker_metrics::MAIN_PORT_ENV)
                .and_then(|v| haimaker_config::flag(&v))
                .unwrap_or(true),
            require_auth,
        }
    }

    pub fn set_text(&self, text: String) {
        *self.text.lock().unwrap_or_else(|p| p.into_inner()) = Arc::from(text);
    }

    pub fn text(&self) -> Arc<str> {
        Arc::clone(&self.text.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// `GET /metrics` on the main port: the text the supervisor last sent (404 when turned off
/// with `HAIMAKER_MAIN_PORT_METRICS=false`; the health port always serves it).
pub fn serve(
    state: &AppState,
) -> Result<http::Response<crate::pipeline::Body>, crate::error::ProxyError> {
    use http_body_util::BodyExt;
    if !state.metrics.on_main_port {
        return Err(crate::error::ProxyError::not_found(
            "Not Found: /metrics is served on the health port only (HAIMAKER_MAIN_PORT_METRICS=false)",
        ));
    }
    let text = state.metrics.text();
    let body = http_body_util::Full::new(bytes::Bytes::copy_from_slice(text.as_bytes()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = http::Response::new(body);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(haimaker_metrics::CONTENT_TYPE),
    );
    Ok(response)
}

/// The caller's labels (empty for the master key and open proxies).
fn key_labels(caller: &Caller) -> KeyLabels {
    let mut labels = KeyLabels::default();
    if let Caller::Key(key) = caller {
        let r = &key.record;
        labels.hashed_api_key = r.token.clone();
        labels.api_key_alias = r.key_alias.clone().unwrap_or_default();
        labels.user = r.user_id.clone().unwrap_or_default();
        if let Some(team) = &r.team {
            labels.team = team.team_id.clone();
            labels.team_alias = team.team_alias.clone().unwrap_or_default();
        }
    }
    labels
}

pub fn deployment_labels(deployment: &Deployment, target: Option<&Target>) -> DeploymentLabels {
    let provider = match target {
        Some(t) => t.provider.name.to_string(),
        None => deployment.custom_llm_provider.clone().unwrap_or_else(|| {
            deployment
                .litellm_model
                .split_once('/')
                .map_or("openai", |(p, _)| p)
                .to_string()
        }),
    };
    DeploymentLabels {
        litellm_model_name: deployment.litellm_model.clone(),
        model_id: deployment.id.clone(),
        api_base: target
            .and_then(|t| t.api_base.clone())
            .or_else(|| deployment.api_base.clone())
            .or_else(|| {
                let (provider, _) = haimaker_router::provider::split_model(
                    &deployment.litellm_model,
                    deployment.custom_llm_provider.as_deref(),
                );
                provider.default_api_base.map(str::to_string)
            })
            .unwrap_or_default(),
        api_provider: provider,
    }
}

/// Who asked for which model: the labels every metric of one LLM request shares, and the
/// budgets its success updates.
#[derive(Debug, Clone, Default)]
pub struct CallLabels {
    pub key: KeyLabels,
    pub requested_model: String,
    /// The key's spend before this call and its `max_budget`.
    key_budget: Option<(f64, f64)>,
    /// The team's id, alias, spend and `max_budget`.
    team_budget: Option<(String, String, f64, f64)>,
}

impl CallLabels {
    /// The caller's labels; the requested model and end user are filled in once the body is read.
    pub fn new(caller: &Caller) -> Self {
        let mut labels = Self {
            key: key_labels(caller),
            ..Self::default()
        };
        if let Caller::Key(key) = caller {
            let r = &key.record;
            labels.key_budget = r.max_budget.map(|max| (r.spend, max));
            labels.team_budget = r.team.as_ref().and_then(|t| {
                t.max_budget.map(|max| {
                    (
                        t.team_id.clone(),
                        t.team_alias.clone().unwrap_or_default(),
                        t.spend,
                        max,
                    )
                })
            });
        }
        labels
    }

    /// The request as the client saw it: counted once, whatever the outcome.
    pub fn answered(&self, state: &AppState, status: u16, error_type: &str, total: Duration) {
        state.metrics.recorder.proxy_request(
            ProxyLabels {
                key: self.key.clone(),
                requested_model: self.requested_model.clone(),
                status_code: status,
                exception_class: if status >= 400 {
                    error_type.to_string()
                } else {
                    String::new()
                },
            },
            total.as_secs_f64(),
        );
    }

    /// A deployment answered: spend, tokens, latencies, and the budgets left. `key_spend` is
    /// the key's spend before this call as admission saw it (fresher than the cached record).
    pub fn succeeded(
        &self,
        metrics: &Metrics,
        group: &str,
        deployment: DeploymentLabels,
        sample: &ModelSample,
        key_spend: Option<f64>,
    ) {
        let recorder = &metrics.recorder;
        recorder.model_success(
            ModelLabels {
                key: self.key.clone(),
                requested_model: self.requested_model.clone(),
                model_group: group.to_string(),
                deployment,
            },
            sample,
        );
        let key = self.key_budget.map(|(spend, max)| {
            let spend = key_spend.unwrap_or(spend);
            (self.key.clone(), max - spend - sample.spend)
        });
        let team = self.team_budget.as_ref().map(|(id, alias, spend, max)| {
            ((id.clone(), alias.clone()), max - spend - sample.spend)
        });
        if key.is_some() || team.is_some() {
            recorder.budgets(key, team);
        }
    }
}

/// Records what the upstream's `x-ratelimit-remaining-requests` / `-tokens` headers say.
pub fn upstream_remaining(
    metrics: &Metrics,
    model_group: &str,
    deployment: &DeploymentLabels,
    headers: &http::HeaderMap,
) {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
    };
    let remaining = haimaker_metrics::Remaining {
        requests: number("x-ratelimit-remaining-requests"),
        tokens: number("x-ratelimit-remaining-tokens"),
    };
    // Most upstreams (and every mock) send neither: no labels to build then.
    if remaining.requests.is_none() && remaining.tokens.is_none() {
        return;
    }
    metrics.recorder.upstream_remaining(
        haimaker_metrics::RemainingLabels {
            model_group: model_group.to_string(),
            deployment: deployment.clone(),
        },
        remaining,
    );
}

/// What this worker sees right now: deployment states, its Postgres pool, its Redis link.
fn gauges(state: &AppState) -> WorkerGauges {
    let router: Arc<Router> = state.router();
    WorkerGauges {
        deployment_state: router
            .deployments()
            .iter()
            .map(|d| (deployment_labels(d, None), router.deployment_state(d)))
            .collect(),
        db_pool: state.db.as_ref().map(|db| db.db.pool_status()),
        redis_up: state.redis.as_ref().map(haimaker_cache::Redis::is_up),
    }
}

/// The message with everything recorded since the last one.
pub fn report(state: &AppState) -> haimaker_proc::ChildMessage {
    haimaker_proc::ChildMessage::Metrics {
        delta: Box::new(state.metrics.recorder.take(gauges(state))),
    }
}
