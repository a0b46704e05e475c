//! The key tables: every key LiteLLM's `config.yaml` knows, its type, and whether haimaker
//! implements it.
//!
//! The walk (`walk.rs`) is driven entirely by these tables. To mark a key implemented, change
//! its `later(..)` to `done(..)`: it then stops appearing in the "not implemented yet" warning.
//! Deployment-level tables (`litellm_params`, `model_info`, credentials) are in
//! `schema_model.rs`.

pub(crate) use crate::schema_model::{CREDENTIAL, DEPLOYMENT, LITELLM_PARAMS};

/// What a key holds. Scalars accept `os.environ/NAME` and are coerced to the type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// A string; numbers are accepted and written as text.
    Str,
    /// A string that must never be echoed (keys, passwords, URLs with credentials).
    Secret,
    /// A boolean whose LiteLLM default is `false`.
    Bool,
    /// A boolean whose LiteLLM default is `true` (setting it `true` changes nothing).
    BoolOn,
    U16,
    U32,
    U64,
    F64,
    /// A number greater than zero.
    PosF64,
    /// Seconds (int or float, >= 0), read as a `Duration`.
    Secs,
    /// A list of strings.
    StrList,
    /// A list of strings, or one string (LiteLLM's `callbacks: module.instance`).
    StrOrList,
    /// A map of string to string (headers).
    StrMap,
    /// A free-form map (`os.environ/` still resolved inside).
    Map,
    /// A free-form list.
    List,
    /// Anything.
    Any,
    /// One of a fixed set of strings.
    OneOf(&'static [&'static str]),
    /// A nested map with its own key table.
    Section(&'static Section),
    /// `[{"group": ["fallback", ...]}, ...]`.
    Fallbacks,
    /// `alias: group` or `alias: {model: group, hidden: bool}`.
    AliasMap,
    /// `alert_type: url` or `alert_type: [url, ...]`.
    WebhookMap,
    /// Top level only, each handled by its own module.
    ModelList,
    CredentialList,
    EnvVars,
    Include,
}

/// Whether haimaker acts on a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Implemented: no warning.
    Done,
    /// Known to LiteLLM, accepted and typed, but without effect yet: listed in the warning.
    Later,
    /// Provider credentials for providers that are not implemented yet: accepted without a
    /// warning, because the provider itself is what is missing.
    Quiet,
}

#[derive(Debug)]
pub(crate) struct Key {
    pub name: &'static str,
    pub kind: Kind,
    pub status: Status,
}

/// Accepts keys by pattern: returns the kind and status of an accepted key.
pub(crate) type ExtraKeys = fn(&str) -> Option<(Kind, Status)>;

/// A map with a fixed key table.
#[derive(Debug)]
pub(crate) struct Section {
    /// Name used for "it belongs in ..." hints; matches the YAML key.
    pub name: &'static str,
    pub keys: &'static [Key],
    /// Keys that must be present (and, for strings, non-empty).
    pub required: &'static [&'static str],
    /// Keys accepted by pattern (`supports_*`, cost keys, OpenAI params, ...).
    pub extra: Option<ExtraKeys>,
    /// Names `extra` accepts that are worth suggesting for a typo (`temprature`).
    pub also: &'static [&'static str],
    /// Other sections where a misplaced key might belong.
    pub homes: &'static [&'static Section],
}

impl Section {
    pub(crate) fn key(&self, name: &str) -> Option<(Kind, Status)> {
        self.keys
            .iter()
            .find(|k| k.name == name)
            .map(|k| (k.kind, k.status))
    }

    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.keys.iter().map(|k| k.name).collect()
    }
}

pub(crate) const fn done(name: &'static str, kind: Kind) -> Key {
    Key {
        name,
        kind,
        status: Status::Done,
    }
}

pub(crate) const fn later(name: &'static str, kind: Kind) -> Key {
    Key {
        name,
        kind,
        status: Status::Later,
    }
}

pub(crate) const fn quiet(name: &'static str, kind: Kind) -> Key {
    Key {
        name,
        kind,
        status: Status::Quiet,
    }
}

use Kind::*;

pub(crate) const ROUTING_STRATEGIES: &[&str] = &[
    "simple-shuffle",
    "least-busy",
    "usage-based-routing",
    "usage-based-routing-v2",
    "latency-based-routing",
    "cost-based-routing",
];

pub(crate) static TOP: Section = Section {
    name: "",
    keys: &[
        done("model_list", ModelList),
        done("litellm_settings", Section(&LITELLM_SETTINGS)),
        done("general_settings", Section(&GENERAL_SETTINGS)),
        done("router_settings", Section(&ROUTER_SETTINGS)),
        done("environment_variables", EnvVars),
        done("include", Include),
        done("credential_list", CredentialList),
        later("guardrails", Any),
        later("mcp_servers", Any),
        later("files_settings", Any),
        later("finetune_settings", Any),
        later("callback_settings", Any),
        later("assistant_settings", Any),
        later("default_vertex_config", Any),
    ],
    required: &[],
    extra: None,
    also: &[],
    homes: &[&GENERAL_SETTINGS, &LITELLM_SETTINGS, &ROUTER_SETTINGS],
};

pub(crate) static GENERAL_SETTINGS: Section = Section {
    name: "general_settings",
    keys: &[
        done("master_key", Secret),
        done("max_request_size_mb", PosF64),
        done("max_response_size_mb", PosF64),
        done("litellm_key_header_name", Str),
        done("database_url", Secret),
        done("database_connection_pool_limit", U32),
        done("database_connection_timeout", Secs),
        done("store_model_in_db", Bool),
        done("disable_prisma_schema_update", Bool),
        done("alerting", StrList),
        done("alerting_threshold", Secs),
        done("alert_types", StrList),
        done("alert_to_webhook_url", WebhookMap),
        done("alerting_args", Map),
        done("proxy_batch_write_at", Secs),
        done("disable_spend_logs", Bool),
        done("disable_spend_updates", Bool),
        done("disable_error_logs", Bool),
        done("allow_requests_on_db_unavailable", Bool),
        later("background_health_checks", Bool),
        later("health_check_interval", Secs),
        later("health_check_details", BoolOn),
        done("user_api_key_cache_ttl", Secs),
        done("max_parallel_requests", U32),
        later("global_max_parallel_requests", U32),
        done("disable_reset_budget", Bool),
        later("disable_master_key_return", Bool),
        done("disable_adding_master_key_hash_to_db", Bool),
        done("spend_report_frequency", Str),
        later("use_redis_transaction_buffer", Bool),
        later("custom_auth", Str),
        later("enforce_user_param", Bool),
        later("public_routes", StrList),
        later("admin_only_routes", StrList),
        later("allowed_routes", StrList),
        done("encryption_algorithm", Str),
        later("completion_model", Str),
        later("maximum_spend_logs_retention_period", Str),
        later("maximum_spend_logs_retention_interval", Str),
        done("require_auth_for_metrics_endpoint", Bool),
        later("pass_through_endpoints", List),
        later("enable_drain_endpoint", Bool),
        later("allow_public_health_readiness_details", Bool),
        // The rest of LiteLLM's documented general_settings (config_settings.md).
        later("store_prompts_in_spend_logs", Bool),
        later("forward_client_headers_to_llm_api", Bool),
        later("forward_openai_org_id", Bool),
        later("disable_retry_on_max_parallel_request_limit_error", Bool),
        later("disable_responses_id_security", Bool),
        later("enable_jwt_auth", Bool),
        later("litellm_jwtauth", Map),
        later("reject_clientside_metadata_tags", Bool),
        later("key_management_system", Str),
        later("key_management_settings", Any),
        later("use_google_kms", Bool),
        later("use_azure_key_vault", Bool),
        later("user_mcp_management_mode", Str),
        later("infer_model_from_keys", Bool),
        later("use_client_credentials_pass_through_routes", Bool),
        later("enforced_params", StrList),
        later("enable_oauth2_auth", Bool),
        later("enable_oauth2_proxy_auth", Bool),
        later("oauth2_config_mappings", Map),
        later("use_x_forwarded_for", Bool),
        later("service_account_settings", Any),
        later("image_generation_model", Str),
        later("embedding_model", Str),
        later("moderation_model", Str),
        later("supported_db_objects", StrList),
        later("proxy_budget_rescheduler_min_time", Secs),
        later("proxy_budget_rescheduler_max_time", Secs),
        later("proxy_batch_polling_interval", Secs),
        later("custom_key_generate", Str),
        later("custom_sso", Str),
        later("allowed_ips", StrList),
        later("default_team_disabled", Bool),
        later("allow_user_auth", Bool),
        later("allow_client_side_credentials", Bool),
        later("ui_access_mode", Str),
        later("litellm_license", Secret),
        later("role_permissions", List),
        later("database_args", Map),
    ],
    required: &[],
    extra: None,
    also: &[],
    homes: &[&LITELLM_SETTINGS, &ROUTER_SETTINGS],
};

pub(crate) static LITELLM_SETTINGS: Section = Section {
    name: "litellm_settings",
    keys: &[
        done("request_timeout", Secs),
        done("set_verbose", Bool),
        done("json_logs", Bool),
        done("drop_params", Bool),
        done("num_retries", U32),
        done("fallbacks", Fallbacks),
        done("context_window_fallbacks", Fallbacks),
        done("content_policy_fallbacks", Fallbacks),
        done("default_fallbacks", StrList),
        later("modify_params", Bool),
        done("cache", Bool),
        done("cache_params", Section(&CACHE_PARAMS)),
        later("callbacks", StrOrList),
        later("success_callback", StrOrList),
        later("failure_callback", StrOrList),
        later("service_callback", StrOrList),
        // config_settings.md spells it with an `s`; both reach the same list.
        later("service_callbacks", StrOrList),
        later("max_budget", F64),
        later("budget_duration", Str),
        later("max_end_user_budget", F64),
        later("default_key_generate_params", Map),
        later("upperbound_key_generate_params", Map),
        later("default_team_settings", List),
        later("turn_off_message_logging", Bool),
        later("redact_messages_in_exceptions", Bool),
        later("enable_preview_features", Bool),
        later("model_group_alias_map", AliasMap),
        later("disable_end_user_cost_tracking", Bool),
        later("force_ipv4", Bool),
        // `true`, `false`, or a CA bundle path.
        later("ssl_verify", Any),
        // The rest of LiteLLM's documented litellm_settings (config_settings.md, proxy_server.py).
        later("redact_user_api_key_info", Bool),
        later("langfuse_default_tags", StrList),
        later("mcp_aliases", Map),
        later("key_generation_settings", Map),
        done("disable_end_user_cost_tracking_prometheus_only", Bool),
        later("disable_add_transform_inline_image_block", Bool),
        later("use_chat_completions_url_for_anthropic_messages", Bool),
        later("disable_hf_tokenizer_download", Bool),
        later("enable_json_schema_validation", Bool),
        later("enable_key_alias_format_validation", Bool),
        later("disable_copilot_system_to_assistant", Bool),
        later("guardrails", List),
        later("post_call_rules", Str),
        later("max_internal_user_budget", F64),
        later("default_max_internal_user_budget", F64),
        later("default_internal_user_params", Map),
        later("custom_provider_map", List),
    ],
    required: &[],
    extra: None,
    also: &[],
    homes: &[&ROUTER_SETTINGS, &GENERAL_SETTINGS],
};

pub(crate) static ROUTER_SETTINGS: Section = Section {
    name: "router_settings",
    keys: &[
        done("routing_strategy", OneOf(ROUTING_STRATEGIES)),
        done("num_retries", U32),
        done("timeout", Secs),
        done("stream_timeout", Secs),
        done("allowed_fails", U32),
        done("cooldown_time", Secs),
        done("disable_cooldowns", Bool),
        done("retry_policy", Section(&RETRY_POLICY)),
        done("allowed_fails_policy", Section(&ALLOWED_FAILS_POLICY)),
        done("max_fallbacks", U32),
        done("retry_after", Secs),
        done("fallbacks", Fallbacks),
        done("context_window_fallbacks", Fallbacks),
        done("content_policy_fallbacks", Fallbacks),
        done("default_fallbacks", StrList),
        done("model_group_alias", AliasMap),
        done("routing_strategy_args", Map),
        done("redis_host", Str),
        done("redis_port", U16),
        done("redis_password", Secret),
        done("redis_url", Secret),
        later("redis_db", U32),
        later("enable_pre_call_checks", Bool),
        later("cache_responses", Bool),
        later("enable_tag_filtering", Bool),
        later("tag_filtering_match_any", Bool),
        later("provider_budget_config", Map),
        later("optional_pre_call_checks", StrList),
        // The rest of LiteLLM's Router arguments documented for router_settings.
        later("default_max_parallel_requests", U32),
        later("default_priority", U32),
        later("polling_interval", F64),
        later("default_litellm_params", Map),
        later("debug_level", Str),
        later("client_ttl", Secs),
        later("cache_kwargs", Map),
        later("caching_groups", List),
        later("set_verbose", Bool),
        later("model_group_retry_policy", Map),
        later("router_general_settings", Map),
        later("deployment_affinity_ttl_seconds", Secs),
        later("ignore_invalid_deployments", Bool),
        later("search_tools", List),
        later("guardrail_list", List),
        later("alerting_config", Map),
        later("assistants_config", Map),
        later("max_retries", U32),
    ],
    required: &[],
    extra: None,
    also: &[],
    homes: &[&LITELLM_SETTINGS, &GENERAL_SETTINGS],
};

pub(crate) static RETRY_POLICY: Section = Section {
    name: "retry_policy",
    keys: &[
        done("BadRequestErrorRetries", U32),
        done("AuthenticationErrorRetries", U32),
        done("TimeoutErrorRetries", U32),
        done("RateLimitErrorRetries", U32),
        done("ContentPolicyViolationErrorRetries", U32),
        done("InternalServerErrorRetries", U32),
    ],
    required: &[],
    extra: None,
    also: &[],
    homes: &[&ALLOWED_FAILS_POLICY],
};

pub(crate) static ALLOWED_FAILS_POLICY: Section = Section {
    name: "allowed_fails_policy",
    keys: &[
        done("BadRequestErrorAllowedFails", U32),
        done("AuthenticationErrorAllowedFails", U32),
        done("TimeoutErrorAllowedFails", U32),
        done("RateLimitErrorAllowedFails", U32),
        done("ContentPolicyViolationErrorAllowedFails", U32),
        done("InternalServerErrorAllowedFails", U32),
    ],
    required: &[],
    extra: None,
    also: &[],
    homes: &[&RETRY_POLICY],
};

/// `model_group_alias: {alias: {model: group, hidden: true}}`.
pub(crate) static ALIAS_TARGET: Section = Section {
    name: "model_group_alias entry",
    keys: &[done("model", Str), done("hidden", Bool)],
    required: &["model"],
    extra: None,
    also: &[],
    homes: &[],
};

/// `cache_params`: where Redis is (also for limits and routing state), and the response cache's
/// settings (`type` redis or local). Semantic, disk and object-store caches are not implemented:
/// the worker warns at start and runs without a response cache.
pub(crate) static CACHE_PARAMS: Section = Section {
    name: "cache_params",
    keys: &[
        done("type", Str),
        done("host", Str),
        done("port", U16),
        done("password", Secret),
        done("username", Str),
        done("redis_url", Secret),
        done("namespace", Str),
        done("ttl", Secs),
        done("default_in_memory_ttl", Secs),
        done("default_in_redis_ttl", Secs),
        done("mode", OneOf(&["default_on", "default_off"])),
        done("supported_call_types", StrList),
        later("similarity_threshold", F64),
        later("max_connections", U32),
        later("redis_startup_nodes", List),
        later("service_name", Str),
        later("sentinel_nodes", List),
        later("sentinel_password", Secret),
        later("gcp_service_account", Str),
        later("gcp_ssl_ca_certs", Str),
        done("ssl", Bool),
        later("ssl_cert_reqs", Any),
        later("ssl_check_hostname", BoolOn),
        later("redis_semantic_cache_embedding_model", Str),
        later("redis_semantic_cache_index_name", Str),
        later("qdrant_semantic_cache_embedding_model", Str),
        later("qdrant_collection_name", Str),
        later("qdrant_quantization_config", Str),
        later("qdrant_semantic_cache_vector_size", U32),
        later("qdrant_api_base", Str),
        later("qdrant_api_key", Secret),
        later("s3_bucket_name", Str),
        later("s3_region_name", Str),
        later("s3_aws_access_key_id", Secret),
        later("s3_aws_secret_access_key", Secret),
        later("s3_aws_session_token", Secret),
        later("s3_endpoint_url", Str),
        later("s3_path", Str),
        later("gcs_bucket_name", Str),
        later("gcs_path_service_account", Str),
        later("gcs_path", Str),
        later("disk_cache_dir", Str),
        later("azure_account_url", Str),
        later("azure_blob_container", Str),
    ],
    required: &[],
    extra: None,
    also: &[],
    homes: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn all_sections() -> Vec<&'static Section> {
        vec![
            &TOP,
            &GENERAL_SETTINGS,
            &LITELLM_SETTINGS,
            &ROUTER_SETTINGS,
            &RETRY_POLICY,
            &ALLOWED_FAILS_POLICY,
            &CACHE_PARAMS,
            &DEPLOYMENT,
            &crate::schema_model::LITELLM_PARAMS,
            &crate::schema_model::MODEL_INFO,
            &CREDENTIAL,
        ]
    }

    #[test]
    fn no_section_lists_a_key_twice() {
        for section in all_sections() {
            let mut names = section.names();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "duplicate key in `{}`", section.name);
        }
    }

    #[test]
    fn required_keys_are_in_the_table() {
        for section in all_sections() {
            for required in section.required {
                assert!(
                    section.key(required).is_some(),
                    "`{required}` missing from `{}`",
                    section.name
                );
            }
        }
    }
}
