//! The label sets of LiteLLM's metrics.

use serde::{Deserialize, Serialize};

/// Who called (a virtual key, its team and user). Empty strings when unknown (master key, open
/// proxy, or a request refused before authentication).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyLabels {
    pub hashed_api_key: String,
    pub api_key_alias: String,
    pub team: String,
    pub team_alias: String,
    pub user: String,
    pub end_user: String,
}

/// One proxy request as the client saw it (`litellm_proxy_total_requests_metric`,
/// `litellm_proxy_failed_requests_metric`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProxyLabels {
    pub key: KeyLabels,
    pub requested_model: String,
    pub status_code: u16,
    /// Empty for a success; else the error's type (`rate_limit_error`, `budget_exceeded`, ...).
    pub exception_class: String,
}

/// A call answered by a deployment (spend, tokens, latencies).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ModelLabels {
    pub key: KeyLabels,
    pub requested_model: String,
    pub model_group: String,
    pub deployment: DeploymentLabels,
}

/// A deployment (`litellm_deployment_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeploymentLabels {
    /// `litellm_params.model`, e.g. `openai/gpt-4o`.
    pub litellm_model_name: String,
    pub model_id: String,
    pub api_base: String,
    pub api_provider: String,
}
