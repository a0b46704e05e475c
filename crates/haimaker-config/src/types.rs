//! The typed, validated configuration: what the rest of haimaker reads.
//!
//! Every value here is already resolved (`os.environ/NAME` replaced, includes merged, credentials
//! applied) and checked. Durations are `Duration`, secrets are [`Secret`]. Field names follow the
//! LiteLLM `config.yaml` keys so a reader can map them one to one.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

/// A value that must never reach a log line or an error message (API keys, master key, URLs
/// with passwords). `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call sites are the places that really need it (auth compare,
    /// upstream auth header, DB connect).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The whole config file (plus its includes), resolved.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub model_list: Vec<DeploymentConfig>,
    pub general_settings: GeneralSettings,
    pub litellm_settings: LitellmSettings,
    pub router_settings: RouterSettings,
    /// `environment_variables`, resolved; the supervisor passes them to its children.
    pub environment_variables: BTreeMap<String, String>,
    pub credential_list: Vec<CredentialConfig>,
}

/// One `model_list` entry.
#[derive(Debug, Clone, Default)]
pub struct DeploymentConfig {
    /// The public model group name clients send as `model` (may contain `*`).
    pub model_name: String,
    pub litellm_params: LitellmParams,
    pub model_info: ModelInfo,
    /// Where it was declared, for messages: `config.yaml: model_list[2]`.
    pub origin: String,
}

#[derive(Debug, Clone, Default)]
pub struct LitellmParams {
    /// `<provider>/<provider-model>` (or a bare model name, which means `openai`).
    pub model: String,
    pub api_base: Option<String>,
    pub api_key: Option<Secret>,
    /// Azure `api-version` (else `AZURE_API_VERSION`, else the adapter's default).
    pub api_version: Option<String>,
    /// Azure Entra ID token, sent as `Authorization: Bearer` when there is no `api_key`.
    pub azure_ad_token: Option<Secret>,
    /// Bedrock: AWS credentials, region and endpoint (`aws_*`).
    pub aws: AwsParams,
    /// Drop OpenAI parameters the provider does not support instead of failing.
    pub drop_params: bool,
    pub organization: Option<String>,
    /// Non-streaming total timeout.
    pub timeout: Option<Duration>,
    /// Streaming timeout: to the first byte and between chunks.
    pub stream_timeout: Option<Duration>,
    pub max_retries: Option<u32>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub weight: Option<f64>,
    pub order: Option<u32>,
    pub max_parallel_requests: Option<u32>,
    pub input_cost_per_token: Option<f64>,
    pub output_cost_per_token: Option<f64>,
    pub region_name: Option<String>,
    pub cooldown_time: Option<Duration>,
    pub tags: Vec<String>,
    /// Answer locally with this text instead of calling the upstream.
    pub mock_response: Option<String>,
    /// Extra headers sent to the upstream (`extra_headers` and `headers`, merged).
    pub extra_headers: BTreeMap<String, String>,
    pub litellm_credential_name: Option<String>,
    /// OpenAI request parameters set on the deployment (`temperature`, `max_tokens`, ...):
    /// sent upstream unless the client's request sets them.
    pub default_params: Map<String, Value>,
    /// Every param as written (resolved), with secret-bearing keys removed: what
    /// `/model/info` shows.
    pub public_params: Map<String, Value>,
}

/// The `aws_*` keys of a deployment (Bedrock), each else from the standard AWS environment
/// variables (resolved by the router).
#[derive(Debug, Clone, Default)]
pub struct AwsParams {
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
    pub region_name: Option<String>,
    /// `aws_bedrock_runtime_endpoint`: replaces `https://bedrock-runtime.<region>.amazonaws.com`.
    pub bedrock_runtime_endpoint: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ModelInfo {
    pub id: Option<String>,
    pub mode: Option<String>,
    pub base_model: Option<String>,
    pub input_cost_per_token: Option<f64>,
    pub output_cost_per_token: Option<f64>,
    pub max_tokens: Option<u64>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
    /// Every key as written (resolved), for `/model/info`.
    pub raw: Map<String, Value>,
}

/// One `credential_list` entry (`litellm_credential_name` refers to it).
#[derive(Debug, Clone, Default)]
pub struct CredentialConfig {
    pub credential_name: String,
    pub credential_values: BTreeMap<String, Secret>,
    pub credential_info: Map<String, Value>,
}

#[derive(Debug, Clone, Default)]
pub struct GeneralSettings {
    pub master_key: Option<Secret>,
    pub database_url: Option<Secret>,
    pub database_connection_pool_limit: Option<u32>,
    pub database_connection_timeout: Option<Duration>,
    pub store_model_in_db: bool,
    pub disable_prisma_schema_update: bool,
    pub alerting: Vec<String>,
    pub alerting_threshold: Option<Duration>,
    pub alert_types: Option<Vec<String>>,
    pub alert_to_webhook_url: BTreeMap<String, Vec<String>>,
    pub alerting_args: Map<String, Value>,
    pub proxy_batch_write_at: Option<Duration>,
    pub disable_spend_logs: bool,
    pub disable_spend_updates: bool,
    pub disable_error_logs: bool,
    pub allow_requests_on_db_unavailable: bool,
    pub background_health_checks: bool,
    pub health_check_interval: Option<Duration>,
    pub health_check_details: Option<bool>,
    pub user_api_key_cache_ttl: Option<Duration>,
    pub max_parallel_requests: Option<u32>,
    pub global_max_parallel_requests: Option<u32>,
    /// Request bodies above this many MB get a 413.
    pub max_request_size_mb: Option<f64>,
    pub max_response_size_mb: Option<f64>,
    pub disable_reset_budget: bool,
    pub disable_master_key_return: bool,
    pub disable_adding_master_key_hash_to_db: bool,
    pub spend_report_frequency: Option<String>,
    pub use_redis_transaction_buffer: bool,
    pub litellm_key_header_name: Option<String>,
    pub enforce_user_param: bool,
    pub public_routes: Vec<String>,
    pub admin_only_routes: Vec<String>,
    pub allowed_routes: Vec<String>,
    pub encryption_algorithm: Option<String>,
    pub completion_model: Option<String>,
    pub maximum_spend_logs_retention_period: Option<String>,
    pub maximum_spend_logs_retention_interval: Option<String>,
    pub require_auth_for_metrics_endpoint: Option<bool>,
    pub pass_through_endpoints: Vec<Value>,
    pub enable_drain_endpoint: bool,
    pub allow_public_health_readiness_details: bool,
}

#[derive(Debug, Clone, Default)]
pub struct LitellmSettings {
    pub request_timeout: Option<Duration>,
    pub set_verbose: bool,
    pub json_logs: bool,
    pub drop_params: bool,
    pub modify_params: bool,
    pub num_retries: Option<u32>,
    pub fallbacks: Option<Vec<FallbackRule>>,
    pub context_window_fallbacks: Option<Vec<FallbackRule>>,
    pub content_policy_fallbacks: Option<Vec<FallbackRule>>,
    pub default_fallbacks: Option<Vec<String>>,
    pub cache: bool,
    pub cache_params: Option<CacheParams>,
    pub callbacks: Vec<String>,
    pub success_callback: Vec<String>,
    pub failure_callback: Vec<String>,
    pub service_callback: Vec<String>,
    pub max_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub max_end_user_budget: Option<f64>,
    pub default_key_generate_params: Map<String, Value>,
    pub upperbound_key_generate_params: Map<String, Value>,
    pub default_team_settings: Vec<Value>,
    pub turn_off_message_logging: bool,
    pub redact_messages_in_exceptions: bool,
    pub enable_preview_features: bool,
    pub model_group_alias_map: BTreeMap<String, String>,
    pub disable_end_user_cost_tracking: bool,
    /// No `end_user` label on the metrics (the spend logs keep it).
    pub disable_end_user_cost_tracking_prometheus_only: bool,
    pub force_ipv4: bool,
    pub ssl_verify: Option<bool>,
}

/// `litellm_settings.cache_params`.
#[derive(Debug, Clone, Default)]
pub struct CacheParams {
    pub cache_type: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub password: Option<Secret>,
    pub redis_url: Option<Secret>,
    pub namespace: Option<String>,
    pub ttl: Option<Duration>,
    pub default_in_memory_ttl: Option<Duration>,
    pub default_in_redis_ttl: Option<Duration>,
    pub mode: Option<String>,
    pub supported_call_types: Option<Vec<String>>,
    pub similarity_threshold: Option<f64>,
    /// Every key as written (resolved), secrets included: only the cache builder reads it.
    pub raw: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RoutingStrategy {
    #[default]
    SimpleShuffle,
    LeastBusy,
    UsageBased,
    UsageBasedV2,
    LatencyBased,
    CostBased,
}

impl RoutingStrategy {
    /// The name as written in `config.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SimpleShuffle => "simple-shuffle",
            Self::LeastBusy => "least-busy",
            Self::UsageBased => "usage-based-routing",
            Self::UsageBasedV2 => "usage-based-routing-v2",
            Self::LatencyBased => "latency-based-routing",
            Self::CostBased => "cost-based-routing",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RouterSettings {
    pub routing_strategy: RoutingStrategy,
    pub routing_strategy_args: Map<String, Value>,
    pub redis_host: Option<String>,
    pub redis_port: Option<u16>,
    pub redis_password: Option<Secret>,
    pub redis_url: Option<Secret>,
    pub num_retries: Option<u32>,
    pub timeout: Option<Duration>,
    pub stream_timeout: Option<Duration>,
    pub allowed_fails: Option<u32>,
    pub cooldown_time: Option<Duration>,
    pub disable_cooldowns: bool,
    pub retry_policy: RetryPolicy,
    pub allowed_fails_policy: AllowedFailsPolicy,
    pub enable_pre_call_checks: bool,
    pub model_group_alias: BTreeMap<String, String>,
    /// Aliases declared as `{model: <group>, hidden: true}`: they route, but `/v1/models`
    /// does not list them.
    pub hidden_model_group_aliases: BTreeSet<String>,
    pub max_fallbacks: Option<u32>,
    pub retry_after: Option<Duration>,
    pub cache_responses: bool,
    /// `None` when not set here (then `litellm_settings` decides).
    pub fallbacks: Option<Vec<FallbackRule>>,
    pub context_window_fallbacks: Option<Vec<FallbackRule>>,
    pub content_policy_fallbacks: Option<Vec<FallbackRule>>,
    pub default_fallbacks: Option<Vec<String>>,
    pub enable_tag_filtering: bool,
    pub provider_budget_config: Map<String, Value>,
    pub optional_pre_call_checks: Vec<String>,
}

/// One `{"gpt-4o": ["gpt-4o-mini", "claude"]}` entry of a fallbacks list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackRule {
    /// The model group (or `*` for every group).
    pub from: String,
    pub to: Vec<String>,
}

/// `router_settings.retry_policy`: retries per error class (`None` = the general `num_retries`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryPolicy {
    pub bad_request: Option<u32>,
    pub authentication: Option<u32>,
    pub timeout: Option<u32>,
    pub rate_limit: Option<u32>,
    pub content_policy_violation: Option<u32>,
    pub internal_server: Option<u32>,
}

/// `router_settings.allowed_fails_policy`: failures per minute per error class before a
/// deployment cools down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllowedFailsPolicy {
    pub bad_request: Option<u32>,
    pub authentication: Option<u32>,
    pub timeout: Option<u32>,
    pub rate_limit: Option<u32>,
    pub content_policy_violation: Option<u32>,
    pub internal_server: Option<u32>,
}

impl AllowedFailsPolicy {
    pub fn is_set(&self) -> bool {
        *self != Self::default()
    }
}
