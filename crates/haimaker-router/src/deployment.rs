//! A deployment as the router uses it: one `model_list` entry with its provider, credentials,
//! timeouts and prices resolved once at start-up.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use haimaker_config::{AwsParams, DeploymentConfig, Secret};
use haimaker_pricing::{PriceMap, Prices, resolve_prices};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::health::Health;
use crate::provider::{Provider, Wire, split_model};
use crate::strategy::Stats;

/// One deployment, resolved.
#[derive(Debug)]
pub struct Deployment {
    /// Position in the resolved model list.
    pub index: usize,
    /// The model group (`model_name`), possibly a wildcard pattern.
    pub model_name: String,
    /// `model_info.id`, or a stable hash of the deployment's parameters.
    pub id: String,
    /// `litellm_params.model` as written (may contain `*` for wildcard groups).
    pub litellm_model: String,
    pub custom_llm_provider: Option<String>,
    /// `api_base` from config or env, without a trailing slash; `None` = provider default.
    pub api_base: Option<String>,
    pub api_key: Option<Secret>,
    /// Azure `api-version`: `litellm_params.api_version`, else `AZURE_API_VERSION`.
    pub api_version: Option<String>,
    /// Azure Entra ID token (`azure_ad_token`, else `AZURE_AD_TOKEN`), used without `api_key`.
    pub azure_ad_token: Option<Secret>,
    /// Bedrock: `aws_*` params, each else its standard AWS environment variable (empty for
    /// other providers).
    pub aws: AwsParams,
    /// `drop_params` of the deployment or of `litellm_settings`.
    pub drop_params: bool,
    pub organization: Option<String>,
    pub extra_headers: BTreeMap<String, String>,
    pub default_params: Map<String, Value>,
    pub timeout: Option<Duration>,
    pub stream_timeout: Option<Duration>,
    pub max_retries: u32,
    pub weight: Option<f64>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub cooldown_time: Option<Duration>,
    pub mock_response: Option<String>,
    pub base_model: Option<String>,
    pub input_cost_override: Option<f64>,
    pub output_cost_override: Option<f64>,
    /// What `/model/info` shows (secrets already removed by the config crate).
    pub config: DeploymentConfig,
    /// Failure counters and cooldown state.
    pub health: Health,
    /// In-flight calls, usage, latency samples and routing cost, for the strategies.
    pub(crate) stats: Stats,
    /// The target of a deployment that is not a wildcard, resolved on first use (so building a
    /// router never waits for the price map).
    fixed_target: OnceLock<Target>,
}

/// Where one call goes: the provider, the model name it expects, the base URL, and the prices.
#[derive(Debug, Clone)]
pub struct Target {
    pub provider: Provider,
    pub provider_model: String,
    /// Base URL without a trailing slash; `None` when neither config, env nor the provider
    /// gives one (an error at call time).
    pub api_base: Option<String>,
    pub api_key: Option<Secret>,
    pub prices: Prices,
}

impl Deployment {
    pub(crate) fn build(
        index: usize,
        config: &DeploymentConfig,
        env: &dyn Fn(&str) -> Option<String>,
        drop_params: bool,
    ) -> Arc<Self> {
        let params = &config.litellm_params;
        let custom_llm_provider = params
            .public_params
            .get("custom_llm_provider")
            .and_then(Value::as_str)
            .map(str::to_string);
        let (provider, _) = split_model(&params.model, custom_llm_provider.as_deref());
        let api_base = params
            .api_base
            .clone()
            .or_else(|| provider.base_env.iter().find_map(|name| env(name)))
            .map(|b| b.trim_end_matches('/').to_string());
        let api_key = params.api_key.clone().or_else(|| {
            provider
                .key_env
                .iter()
                .find_map(|name| env(name))
                .map(Secret::new)
        });
        let id = config
            .model_info
            .id
            .clone()
            .unwrap_or_else(|| generated_id(config));
        Arc::new(Self {
            index,
            model_name: config.model_name.clone(),
            id,
            litellm_model: params.model.clone(),
            custom_llm_provider,
            api_base,
            api_key,
            api_version: params.api_version.clone().or_else(|| {
                (provider.wire == Wire::Azure)
                    .then(|| env("AZURE_API_VERSION"))
                    .flatten()
            }),
            azure_ad_token: params.azure_ad_token.clone().or_else(|| {
                (provider.wire == Wire::Azure)
                    .then(|| env("AZURE_AD_TOKEN").map(Secret::new))
                    .flatten()
            }),
            aws: if provider.wire == Wire::Bedrock {
                aws_params(&params.aws, env)
            } else {
                AwsParams::default()
            },
            drop_params: drop_params || params.drop_params,
            organization: params.organization.clone(),
            extra_headers: params.extra_headers.clone(),
            default_params: params.default_params.clone(),
            timeout: params.timeout,
            stream_timeout: params.stream_timeout,
            max_retries: params.max_retries.unwrap_or(0),
            weight: params.weight,
            rpm: params.rpm,
            tpm: params.tpm,
            cooldown_time: params.cooldown_time,
            mock_response: params.mock_response.clone(),
            base_model: config.model_info.base_model.clone(),
            input_cost_override: params
                .input_cost_per_token
                .or(config.model_info.input_cost_per_token),
            output_cost_override: params
                .output_cost_per_token
                .or(config.model_info.output_cost_per_token),
            config: config.clone(),
            health: Health::default(),
            stats: Stats::default(),
            fixed_target: OnceLock::new(),
        })
    }

    pub fn is_wildcard(&self) -> bool {
        self.model_name.contains('*')
    }

    /// Resolves where a call for `requested` (the client's model name) goes. For wildcard
    /// groups the part of `requested` matched by `*` replaces the `*` of
    /// `litellm_params.model`: group `openai/*` with model `openai/*` sends `openai/gpt-4o`
    /// as `gpt-4o` to OpenAI.
    pub fn target(&self, requested: &str, prices: &PriceMap) -> Target {
        if self.is_wildcard() {
            return self.resolve_target(requested, prices);
        }
        self.fixed_target
            .get_or_init(|| self.resolve_target(&self.model_name, prices))
            .clone()
    }

    /// `litellm_params.model` for a call for `requested`, the wildcard capture substituted.
    pub(crate) fn call_model<'s>(&'s self, requested: &str) -> Cow<'s, str> {
        match crate::wildcard::capture(&self.model_name, requested) {
            Some(captured) if self.litellm_model.contains('*') => {
                Cow::Owned(self.litellm_model.replacen('*', captured, 1))
            }
            _ => Cow::Borrowed(&self.litellm_model),
        }
    }

    fn resolve_target(&self, requested: &str, prices: &PriceMap) -> Target {
        let model = self.call_model(requested);
        let (provider, provider_model) = split_model(&model, self.custom_llm_provider.as_deref());
        // `bedrock/converse/<id>` is LiteLLM's explicit route to the Converse API: the same call.
        let provider_model = match provider.wire {
            Wire::Bedrock => provider_model
                .strip_prefix("converse/")
                .unwrap_or(provider_model),
            _ => provider_model,
        };
        let api_base = self
            .api_base
            .clone()
            .or_else(|| provider.default_api_base.map(str::to_string));
        let entry = prices.lookup(provider.name, provider_model, self.base_model.as_deref());
        Target {
            provider,
            provider_model: provider_model.to_string(),
            api_base,
            api_key: self.api_key.clone(),
            prices: resolve_prices(entry, self.input_cost_override, self.output_cost_override),
        }
    }

    /// Whether haimaker can call this deployment's provider (wildcards are checked per call).
    pub fn provider_supported(&self) -> bool {
        let (provider, _) = split_model(&self.litellm_model, self.custom_llm_provider.as_deref());
        provider.wire != Wire::Unsupported
    }
}

/// The deployment's `aws_*` params, completed from the environment as boto3 and LiteLLM do:
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, and the region from
/// `AWS_REGION_NAME`, `AWS_REGION`, `AWS_DEFAULT_REGION`. The key pair comes from one place:
/// a deployment that sets its key id does not borrow the environment's secret.
fn aws_params(aws: &AwsParams, env: &dyn Fn(&str) -> Option<String>) -> AwsParams {
    let from_env = aws.access_key_id.is_none() && aws.secret_access_key.is_none();
    let secret = |name: &str| env(name).filter(|v| !v.is_empty()).map(Secret::new);
    AwsParams {
        access_key_id: aws
            .access_key_id
            .clone()
            .or_else(|| from_env.then(|| secret("AWS_ACCESS_KEY_ID")).flatten()),
        secret_access_key: aws
            .secret_access_key
            .clone()
            .or_else(|| from_env.then(|| secret("AWS_SECRET_ACCESS_KEY")).flatten()),
        session_token: aws
            .session_token
            .clone()
            .or_else(|| from_env.then(|| secret("AWS_SESSION_TOKEN")).flatten()),
        region_name: aws.region_name.clone().or_else(|| {
            ["AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .find_map(|name| env(name).filter(|v| !v.is_empty()))
        }),
        bedrock_runtime_endpoint: aws.bedrock_runtime_endpoint.clone(),
    }
}

/// A stable id for deployments without `model_info.id`: sha256 over the group name and the
/// parameters, so the same config gives the same id on every worker and every restart.
fn generated_id(config: &DeploymentConfig) -> String {
    let mut hasher = Sha256::new();
    hasher.update(config.model_name.as_bytes());
    hasher.update([0]);
    hasher.update(Value::Object(config.litellm_params.public_params.clone()).to_string());
    // Deployments that differ only in their key must not share an id; hash the key's hash so
    // the id reveals nothing about it.
    if let Some(key) = &config.litellm_params.api_key {
        hasher.update([0]);
        hasher.update(Sha256::digest(key.expose().as_bytes()));
    }
    hex::encode(hasher.finalize())
}
