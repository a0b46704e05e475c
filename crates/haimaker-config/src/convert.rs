//! Walked JSON values -> the typed settings sections of [`Config`].
//!
//! Everything here was already checked by the walk, so conversion cannot fail: a value of an
//! unexpected shape (impossible after the walk) simply reads as "not set". Deployments and
//! credentials are in `convert_model.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Map, Value as Json};

use crate::convert_model::{credentials, deployments};
use crate::load::Merged;
use crate::types::*;

/// Read access to a walked JSON map.
#[derive(Clone, Copy)]
pub(crate) struct Obj<'a>(pub &'a Map<String, Json>);

static EMPTY: std::sync::LazyLock<Map<String, Json>> = std::sync::LazyLock::new(Map::new);

impl<'a> Obj<'a> {
    pub(crate) fn empty() -> Self {
        Obj(&EMPTY)
    }

    pub(crate) fn str(self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            Json::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub(crate) fn secret(self, key: &str) -> Option<Secret> {
        self.str(key).map(Secret::new)
    }

    pub(crate) fn opt_bool(self, key: &str) -> Option<bool> {
        self.0.get(key)?.as_bool()
    }

    pub(crate) fn flag(self, key: &str) -> bool {
        self.opt_bool(key).unwrap_or(false)
    }

    pub(crate) fn u64(self, key: &str) -> Option<u64> {
        self.0.get(key)?.as_u64()
    }

    pub(crate) fn u32(self, key: &str) -> Option<u32> {
        self.u64(key).and_then(|n| u32::try_from(n).ok())
    }

    pub(crate) fn u16(self, key: &str) -> Option<u16> {
        self.u64(key).and_then(|n| u16::try_from(n).ok())
    }

    pub(crate) fn f64(self, key: &str) -> Option<f64> {
        self.0.get(key)?.as_f64()
    }

    pub(crate) fn secs(self, key: &str) -> Option<Duration> {
        Duration::try_from_secs_f64(self.f64(key)?).ok()
    }

    pub(crate) fn opt_strs(self, key: &str) -> Option<Vec<String>> {
        let list = self.0.get(key)?.as_array()?;
        Some(
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        )
    }

    pub(crate) fn strs(self, key: &str) -> Vec<String> {
        self.opt_strs(key).unwrap_or_default()
    }

    pub(crate) fn obj(self, key: &str) -> Option<Obj<'a>> {
        self.0.get(key)?.as_object().map(Obj)
    }

    pub(crate) fn map(self, key: &str) -> Map<String, Json> {
        self.obj(key).map(|o| o.0.clone()).unwrap_or_default()
    }

    pub(crate) fn list(self, key: &str) -> Vec<Json> {
        self.0
            .get(key)
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// `[{"a": ["b", "c"]}, ...]` -> one rule per key, in order.
    pub(crate) fn fallbacks(self, key: &str) -> Option<Vec<FallbackRule>> {
        let list = self.0.get(key)?.as_array()?;
        let rules = list
            .iter()
            .filter_map(Json::as_object)
            .flat_map(|rule| rule.iter())
            .map(|(from, to)| FallbackRule {
                from: from.clone(),
                to: to
                    .as_array()
                    .map(|t| {
                        t.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        Some(rules)
    }

    /// `{alias: {model, hidden}}` -> alias map and the hidden aliases.
    pub(crate) fn aliases(self, key: &str) -> (BTreeMap<String, String>, BTreeSet<String>) {
        let mut map = BTreeMap::new();
        let mut hidden = BTreeSet::new();
        if let Some(aliases) = self.obj(key) {
            for (alias, target) in aliases.0 {
                let Some(target) = target.as_object().map(Obj) else {
                    continue;
                };
                if let Some(model) = target.str("model") {
                    map.insert(alias.clone(), model);
                }
                if target.flag("hidden") {
                    hidden.insert(alias.clone());
                }
            }
        }
        (map, hidden)
    }
}

/// Builds the typed config from the merged walk.
pub(crate) fn build(merged: &Merged, environment_variables: BTreeMap<String, String>) -> Config {
    let section = |name: &str| {
        merged
            .section(name)
            .and_then(Json::as_object)
            .map(Obj)
            .unwrap_or_else(Obj::empty)
    };
    let credential_list = credentials(&merged.credential_list);
    let model_list = deployments(&merged.model_list, &merged.credential_list);
    let router_settings = router(section("router_settings"));
    Config {
        model_list,
        general_settings: general(section("general_settings")),
        litellm_settings: litellm(section("litellm_settings")),
        router_settings,
        environment_variables,
        credential_list,
    }
}

fn general(o: Obj<'_>) -> GeneralSettings {
    let alert_to_webhook_url = o
        .obj("alert_to_webhook_url")
        .map(|m| {
            m.0.keys()
                .map(|alert| (alert.clone(), m.strs(alert)))
                .collect()
        })
        .unwrap_or_default();
    GeneralSettings {
        master_key: o.secret("master_key"),
        database_url: o.secret("database_url"),
        database_connection_pool_limit: o.u32("database_connection_pool_limit"),
        database_connection_timeout: o.secs("database_connection_timeout"),
        store_model_in_db: o.flag("store_model_in_db"),
        disable_prisma_schema_update: o.flag("disable_prisma_schema_update"),
        alerting: o.strs("alerting"),
        alerting_threshold: o.secs("alerting_threshold"),
        alert_types: o.opt_strs("alert_types"),
        alert_to_webhook_url,
        alerting_args: o.map("alerting_args"),
        proxy_batch_write_at: o.secs("proxy_batch_write_at"),
        disable_spend_logs: o.flag("disable_spend_logs"),
        disable_spend_updates: o.flag("disable_spend_updates"),
        disable_error_logs: o.flag("disable_error_logs"),
        allow_requests_on_db_unavailable: o.flag("allow_requests_on_db_unavailable"),
        background_health_checks: o.flag("background_health_checks"),
        health_check_interval: o.secs("health_check_interval"),
        health_check_details: o.opt_bool("health_check_details"),
        user_api_key_cache_ttl: o.secs("user_api_key_cache_ttl"),
        max_parallel_requests: o.u32("max_parallel_requests"),
        global_max_parallel_requests: o.u32("global_max_parallel_requests"),
        max_request_size_mb: o.f64("max_request_size_mb"),
        max_response_size_mb: o.f64("max_response_size_mb"),
        disable_reset_budget: o.flag("disable_reset_budget"),
        disable_master_key_return: o.flag("disable_master_key_return"),
        disable_adding_master_key_hash_to_db: o.flag("disable_adding_master_key_hash_to_db"),
        spend_report_frequency: o.str("spend_report_frequency"),
        use_redis_transaction_buffer: o.flag("use_redis_transaction_buffer"),
        litellm_key_header_name: o.str("litellm_key_header_name"),
        enforce_user_param: o.flag("enforce_user_param"),
        public_routes: o.strs("public_routes"),
        admin_only_routes: o.strs("admin_only_routes"),
        allowed_routes: o.strs("allowed_routes"),
        encryption_algorithm: o.str("encryption_algorithm"),
        completion_model: o.str("completion_model"),
        maximum_spend_logs_retention_period: o.str("maximum_spend_logs_retention_period"),
        maximum_spend_logs_retention_interval: o.str("maximum_spend_logs_retention_interval"),
        require_auth_for_metrics_endpoint: o.opt_bool("require_auth_for_metrics_endpoint"),
        pass_through_endpoints: o.list("pass_through_endpoints"),
        enable_drain_endpoint: o.flag("enable_drain_endpoint"),
        allow_public_health_readiness_details: o.flag("allow_public_health_readiness_details"),
    }
}

fn litellm(o: Obj<'_>) -> LitellmSettings {
    let mut service_callback = o.strs("service_callback");
    service_callback.extend(o.strs("service_callbacks"));
    // `ssl_verify` may also be a CA bundle path; only the boolean form is typed.
    let ssl_verify = match o.0.get("ssl_verify") {
        Some(Json::Bool(b)) => Some(*b),
        Some(Json::String(s)) => crate::coerce::boolean(&serde_yaml::Value::String(s.clone())),
        _ => None,
    };
    LitellmSettings {
        request_timeout: o.secs("request_timeout"),
        set_verbose: o.flag("set_verbose"),
        json_logs: o.flag("json_logs"),
        drop_params: o.flag("drop_params"),
        modify_params: o.flag("modify_params"),
        num_retries: o.u32("num_retries"),
        fallbacks: o.fallbacks("fallbacks"),
        context_window_fallbacks: o.fallbacks("context_window_fallbacks"),
        content_policy_fallbacks: o.fallbacks("content_policy_fallbacks"),
        default_fallbacks: o.opt_strs("default_fallbacks"),
        cache: o.flag("cache"),
        cache_params: o.obj("cache_params").map(cache_params),
        callbacks: o.strs("callbacks"),
        success_callback: o.strs("success_callback"),
        failure_callback: o.strs("failure_callback"),
        service_callback,
        max_budget: o.f64("max_budget"),
        budget_duration: o.str("budget_duration"),
        max_end_user_budget: o.f64("max_end_user_budget"),
        default_key_generate_params: o.map("default_key_generate_params"),
        upperbound_key_generate_params: o.map("upperbound_key_generate_params"),
        default_team_settings: o.list("default_team_settings"),
        turn_off_message_logging: o.flag("turn_off_message_logging"),
        redact_messages_in_exceptions: o.flag("redact_messages_in_exceptions"),
        enable_preview_features: o.flag("enable_preview_features"),
        model_group_alias_map: o.aliases("model_group_alias_map").0,
        disable_end_user_cost_tracking: o.flag("disable_end_user_cost_tracking"),
        disable_end_user_cost_tracking_prometheus_only: o
            .flag("disable_end_user_cost_tracking_prometheus_only"),
        force_ipv4: o.flag("force_ipv4"),
        ssl_verify,
    }
}

fn cache_params(o: Obj<'_>) -> CacheParams {
    CacheParams {
        cache_type: o.str("type"),
        host: o.str("host"),
        port: o.u16("port"),
        password: o.secret("password"),
        redis_url: o.secret("redis_url"),
        namespace: o.str("namespace"),
        ttl: o.secs("ttl"),
        default_in_memory_ttl: o.secs("default_in_memory_ttl"),
        default_in_redis_ttl: o.secs("default_in_redis_ttl"),
        mode: o.str("mode"),
        supported_call_types: o.opt_strs("supported_call_types"),
        similarity_threshold: o.f64("similarity_threshold"),
        raw: o.0.clone(),
    }
}

fn routing_strategy(name: &str) -> RoutingStrategy {
    match name {
        "least-busy" => RoutingStrategy::LeastBusy,
        "usage-based-routing" => RoutingStrategy::UsageBased,
        "usage-based-routing-v2" => RoutingStrategy::UsageBasedV2,
        "latency-based-routing" => RoutingStrategy::LatencyBased,
        "cost-based-routing" => RoutingStrategy::CostBased,
        _ => RoutingStrategy::SimpleShuffle,
    }
}

fn router(o: Obj<'_>) -> RouterSettings {
    let strategy = o
        .str("routing_strategy")
        .map(|s| routing_strategy(&s))
        .unwrap_or_default();
    let retry = o.obj("retry_policy").unwrap_or_else(Obj::empty);
    let fails = o.obj("allowed_fails_policy").unwrap_or_else(Obj::empty);
    let (model_group_alias, hidden_model_group_aliases) = o.aliases("model_group_alias");
    RouterSettings {
        routing_strategy: strategy,
        routing_strategy_args: o.map("routing_strategy_args"),
        redis_host: o.str("redis_host"),
        redis_port: o.u16("redis_port"),
        redis_password: o.secret("redis_password"),
        redis_url: o.secret("redis_url"),
        num_retries: o.u32("num_retries"),
        timeout: o.secs("timeout"),
        stream_timeout: o.secs("stream_timeout"),
        allowed_fails: o.u32("allowed_fails"),
        cooldown_time: o.secs("cooldown_time"),
        disable_cooldowns: o.flag("disable_cooldowns"),
        retry_policy: RetryPolicy {
            bad_request: retry.u32("BadRequestErrorRetries"),
            authentication: retry.u32("AuthenticationErrorRetries"),
            timeout: retry.u32("TimeoutErrorRetries"),
            rate_limit: retry.u32("RateLimitErrorRetries"),
            content_policy_violation: retry.u32("ContentPolicyViolationErrorRetries"),
            internal_server: retry.u32("InternalServerErrorRetries"),
        },
        allowed_fails_policy: AllowedFailsPolicy {
            bad_request: fails.u32("BadRequestErrorAllowedFails"),
            authentication: fails.u32("AuthenticationErrorAllowedFails"),
            timeout: fails.u32("TimeoutErrorAllowedFails"),
            rate_limit: fails.u32("RateLimitErrorAllowedFails"),
            content_policy_violation: fails.u32("ContentPolicyViolationErrorAllowedFails"),
            internal_server: fails.u32("InternalServerErrorAllowedFails"),
        },
        enable_pre_call_checks: o.flag("enable_pre_call_checks"),
        model_group_alias,
        hidden_model_group_aliases,
        max_fallbacks: o.u32("max_fallbacks"),
        retry_after: o.secs("retry_after"),
        cache_responses: o.flag("cache_responses"),
        fallbacks: o.fallbacks("fallbacks"),
        context_window_fallbacks: o.fallbacks("context_window_fallbacks"),
        content_policy_fallbacks: o.fallbacks("content_policy_fallbacks"),
        default_fallbacks: o.opt_strs("default_fallbacks"),
        enable_tag_filtering: o.flag("enable_tag_filtering"),
        provider_budget_config: o.map("provider_budget_config"),
        optional_pre_call_checks: o.strs("optional_pre_call_checks"),
    }
}
