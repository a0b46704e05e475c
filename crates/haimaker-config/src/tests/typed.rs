//! Typed values, the "not implemented yet" list, and the repository's own config.yaml.

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::{RoutingStrategy, load};

#[test]
fn deployment_params_are_typed() {
    let config = ok(r#"
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: https://api.openai.com/v1
      api_key: sk-abc
      organization: org-1
      timeout: 30
      stream_timeout: 0.5
      max_retries: 0
      rpm: 600
      tpm: 100000
      weight: 2
      input_cost_per_token: 0.000001
      output_cost_per_token: 0.000002
      cooldown_time: 0
      mock_response: hi
      headers: {X-A: "1", X-B: "2"}
      extra_headers: {X-B: "3"}
      temperature: 0.2
      max_tokens: 100
      response_format: {type: json_object}
      stop: ["\n"]
      drop_params: true
      custom_llm_provider: openai
    model_info:
      id: 7
      mode: chat
      base_model: gpt-4o-2024-08-06
      max_tokens: 4096
      max_input_tokens: 128000
      max_output_tokens: 16384
      input_cost_per_token: 0.5
      supports_vision: true
      supports_assistant_prefill: false
      health_check_timeout: 10
      custom_cost_per_image_token: 0.1
"#)
    .config;
    let d = &config.model_list[0];
    assert_eq!(d.origin, "config.yaml: model_list[0]");
    let p = &d.litellm_params;
    assert_eq!(p.model, "openai/gpt-4o");
    assert_eq!(p.organization.as_deref(), Some("org-1"));
    assert_eq!(p.timeout, Some(Duration::from_secs(30)));
    assert_eq!(p.stream_timeout, Some(Duration::from_millis(500)));
    assert_eq!(p.max_retries, Some(0));
    assert_eq!(
        (p.rpm, p.tpm, p.weight),
        (Some(600), Some(100_000), Some(2.0))
    );
    assert_eq!(p.input_cost_per_token, Some(0.000001));
    assert_eq!(p.cooldown_time, Some(Duration::ZERO));
    assert_eq!(p.mock_response.as_deref(), Some("hi"));
    let headers: Vec<(&str, &str)> = p
        .extra_headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(headers, [("X-A", "1"), ("X-B", "3")]);
    let mut defaults: Vec<&str> = p.default_params.keys().map(String::as_str).collect();
    defaults.sort_unstable();
    assert_eq!(
        defaults,
        ["max_tokens", "response_format", "stop", "temperature"]
    );
    assert_eq!(p.default_params["response_format"]["type"], "json_object");
    assert!(!p.public_params.contains_key("api_key"));
    assert_eq!(p.public_params["rpm"], 600);
    assert_eq!(p.public_params["max_tokens"], 100);

    let info = &d.model_info;
    assert_eq!(info.id.as_deref(), Some("7"));
    assert_eq!(info.mode.as_deref(), Some("chat"));
    assert_eq!(info.base_model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(
        (
            info.max_tokens,
            info.max_input_tokens,
            info.max_output_tokens
        ),
        (Some(4096), Some(128_000), Some(16_384))
    );
    assert_eq!(info.input_cost_per_token, Some(0.5));
    assert_eq!(info.raw["supports_vision"], true);
    assert_eq!(info.raw["supports_assistant_prefill"], false);
    assert_eq!(info.raw["custom_cost_per_image_token"], 0.1);
}

#[test]
fn model_info_mode_is_checked() {
    let errors = errors(&format!("{MINIMAL}    model_info:\n      mode: embeding\n"));
    assert_problem(
        &errors,
        "model_list[0].model_info.mode",
        "did you mean `embedding`?",
    );
}

#[test]
fn settings_sections_are_typed() {
    let config = ok(r#"
general_settings:
  master_key: sk-1
  max_request_size_mb: 10
  max_response_size_mb: 20.5
  litellm_key_header_name: X-Key
  alerting: [slack]
  alerting_threshold: 300
  alert_to_webhook_url:
    llm_exceptions: https://hooks.example.com/a
    budget_alerts: [https://hooks.example.com/b, https://hooks.example.com/c]
  alerting_args: {daily_report_frequency: 43200}
  proxy_batch_write_at: 10
  health_check_interval: 300
  user_api_key_cache_ttl: 60
  database_connection_timeout: 60
litellm_settings:
  request_timeout: 600
  set_verbose: False
  json_logs: true
  cache: true
  cache_params: {type: redis, host: localhost, port: "6379", ttl: 600, namespace: ns, password: pw}
  callbacks: custom_callbacks.proxy_handler_instance
  success_callback: [prometheus]
  service_callbacks: [prometheus_system]
router_settings:
  routing_strategy: simple-shuffle
  num_retries: 2
  timeout: 30
  stream_timeout: 5
  allowed_fails: 3
  cooldown_time: 30
  disable_cooldowns: false
  max_fallbacks: 4
  retry_after: 1.5
  retry_policy: {TimeoutErrorRetries: 3, RateLimitErrorRetries: 4}
  allowed_fails_policy: {InternalServerErrorAllowedFails: 20}
"#)
    .config;
    let g = &config.general_settings;
    assert_eq!(g.max_request_size_mb, Some(10.0));
    assert_eq!(g.max_response_size_mb, Some(20.5));
    assert_eq!(g.litellm_key_header_name.as_deref(), Some("X-Key"));
    assert_eq!(
        g.alert_to_webhook_url["llm_exceptions"],
        vec!["https://hooks.example.com/a".to_owned()]
    );
    assert_eq!(g.alert_to_webhook_url["budget_alerts"].len(), 2);
    assert_eq!(g.alerting_threshold, Some(Duration::from_secs(300)));
    assert_eq!(g.user_api_key_cache_ttl, Some(Duration::from_secs(60)));
    let l = &config.litellm_settings;
    assert_eq!(l.request_timeout, Some(Duration::from_secs(600)));
    assert!(l.json_logs && !l.set_verbose && l.cache);
    let cache = l.cache_params.as_ref().unwrap();
    assert_eq!(cache.cache_type.as_deref(), Some("redis"));
    assert_eq!(cache.port, Some(6379));
    assert_eq!(cache.ttl, Some(Duration::from_secs(600)));
    assert_eq!(cache.password.as_ref().map(|p| p.expose()), Some("pw"));
    assert_eq!(
        l.callbacks,
        vec!["custom_callbacks.proxy_handler_instance".to_owned()]
    );
    assert_eq!(l.service_callback, vec!["prometheus_system".to_owned()]);
    let r = &config.router_settings;
    assert_eq!(r.routing_strategy, RoutingStrategy::SimpleShuffle);
    assert_eq!(r.num_retries, Some(2));
    assert_eq!(r.stream_timeout, Some(Duration::from_secs(5)));
    assert_eq!(r.allowed_fails, Some(3));
    assert_eq!(r.max_fallbacks, Some(4));
    assert_eq!(r.retry_after, Some(Duration::from_millis(1500)));
    assert_eq!(r.retry_policy.timeout, Some(3));
    assert_eq!(r.retry_policy.rate_limit, Some(4));
    assert_eq!(r.retry_policy.bad_request, None);
    assert_eq!(r.allowed_fails_policy.internal_server, Some(20));
    assert!(r.allowed_fails_policy.is_set());
}

#[test]
fn not_implemented_lists_only_keys_that_are_set() {
    let loaded = ok(r#"
model_list:
  - model_name: a
    litellm_params: {model: openai/a, order: 1, api_version: "2024-06-01", aws_region_name: us-east-1}
  - model_name: b
    litellm_params: {model: openai/b, order: 2}
general_settings:
  master_key: sk-1
  alerting: [slack]
  store_model_in_db: false
  alerting_args: {}
litellm_settings:
  cache: true
  cache_params: {type: redis, namespace: x, ttl: 60, mode: default_off, similarity_threshold: 0.8}
router_settings:
  routing_strategy: least-busy
  num_retries: 1
guardrails: [{guardrail_name: g}]
"#);
    assert_eq!(
        loaded.not_implemented,
        [
            "model_list[*].litellm_params.order",
            "litellm_settings.cache_params.similarity_threshold",
            "guardrails",
        ]
    );
    assert_eq!(
        loaded.config.router_settings.routing_strategy,
        RoutingStrategy::LeastBusy
    );
    let warning = loaded.not_implemented_warning().unwrap();
    assert!(!warning.contains('\n'));
    assert!(
        warning.starts_with("config keys accepted but not implemented yet"),
        "{warning}"
    );
    assert!(
        warning.contains("order, litellm_settings.cache_params.similarity_threshold"),
        "{warning}"
    );
}

#[test]
fn a_fully_implemented_config_has_no_warning() {
    let loaded = ok(MINIMAL);
    assert!(loaded.not_implemented.is_empty());
    assert_eq!(loaded.not_implemented_warning(), None);
}

#[test]
fn top_level_extras_accept_anything() {
    let loaded = ok(
        "mcp_servers: {zapier: {url: x}}\nfiles_settings: [{custom_llm_provider: openai}]\nfinetune_settings: []\n",
    );
    assert_eq!(loaded.not_implemented, ["mcp_servers", "files_settings"]);
}

#[test]
fn a_litellm_style_config_loads() {
    // The benchmark config shared with LiteLLM, plus common production keys.
    let loaded = ok_with(
        r#"
model_list:
  - model_name: fake-openai-endpoint
    litellm_params:
      model: openai/fake
      api_key: fake-key
      api_base: http://127.0.0.1:18080
  - model_name: azure-gpt
    litellm_params:
      model: azure/gpt-4o
      api_key: os.environ/AZURE_API_KEY
      api_base: https://x.openai.azure.com
      api_version: "2024-06-01"
      rpm: 600
      tags: ["free"]
      region_name: eu
    model_info:
      id: my-unique-id
      mode: chat
      base_model: azure/gpt-4o
litellm_settings:
  set_verbose: False
  json_logs: true
  drop_params: True
  success_callback: ["prometheus"]
  default_team_settings:
    - team_id: team-1
      success_callback: ["langfuse"]
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  database_url: os.environ/DATABASE_URL
  database_connection_pool_limit: 10
  alert_to_webhook_url: {llm_exceptions: os.environ/SLACK_WEBHOOK_URL}
router_settings:
  routing_strategy: usage-based-routing-v2
  redis_host: os.environ/REDIS_HOST
  redis_port: os.environ/REDIS_PORT
  redis_password: os.environ/REDIS_PASSWORD
  enable_pre_call_checks: true
"#,
        &vars(&[
            ("AZURE_API_KEY", "az"),
            ("LITELLM_MASTER_KEY", "sk-master"),
            ("DATABASE_URL", "postgres://u:p@h/db"),
            ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/x"),
            ("REDIS_HOST", "redis"),
            ("REDIS_PORT", "6379"),
            ("REDIS_PASSWORD", "pw"),
        ]),
    );
    let config = loaded.config;
    assert_eq!(config.model_list.len(), 2);
    assert_eq!(
        config
            .general_settings
            .database_url
            .as_ref()
            .map(|u| u.expose()),
        Some("postgres://u:p@h/db")
    );
    assert_eq!(config.router_settings.redis_port, Some(6379));
    assert_eq!(config.litellm_settings.default_team_settings.len(), 1);
    assert!(
        !loaded
            .not_implemented
            .iter()
            .any(|k| k == "general_settings.database_url"),
        "the database is implemented"
    );
    assert!(
        !loaded
            .not_implemented
            .iter()
            .any(|k| k.starts_with("router_settings.redis_")),
        "redis is implemented: {:?}",
        loaded.not_implemented
    );
    assert!(
        loaded
            .not_implemented
            .iter()
            .any(|k| k == "router_settings.enable_pre_call_checks"),
        "{:?}",
        loaded.not_implemented
    );
}

#[test]
fn the_repository_config_loads_without_any_environment() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config.yaml");
    let loaded = match load(&path, &MapVars::default()) {
        Ok(loaded) => loaded,
        Err(errors) => panic!("config.yaml must load with no environment:\n{errors}"),
    };
    let config = &loaded.config;
    let fake = config
        .model_list
        .iter()
        .find(|d| d.model_name == "fake-openai-endpoint")
        .expect("config.yaml has the fake-openai-endpoint group");
    assert!(
        fake.litellm_params
            .mock_response
            .as_deref()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(
        config
            .general_settings
            .master_key
            .as_ref()
            .map(|k| k.expose()),
        Some("sk-1234")
    );
    assert_eq!(
        config.router_settings.routing_strategy,
        RoutingStrategy::SimpleShuffle
    );
    assert!(
        loaded.not_implemented.is_empty(),
        "{:?}",
        loaded.not_implemented
    );
}

/// The commented-out examples in config.yaml must stay valid: uncomment them and load.
#[test]
fn the_repository_config_examples_load_when_uncommented() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let uncommented: Vec<String> = text
        .lines()
        .map(|line| {
            let Some(rest) = line.strip_prefix("  # ") else {
                return line.to_owned();
            };
            let is_yaml = rest.starts_with("- ")
                || rest.starts_with("  ")
                || rest.split_once(':').is_some_and(|(key, _)| {
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                });
            if is_yaml {
                format!("  {rest}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    let loaded = ok_with(
        &uncommented.join("\n"),
        &vars(&[
            ("OPENAI_API_KEY", "sk-test"),
            ("AZURE_API_BASE", "https://r.openai.azure.com"),
            ("AZURE_API_KEY", "azure-key"),
            ("ANTHROPIC_API_KEY", "sk-ant"),
            ("GEMINI_API_KEY", "AIza-test"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]),
    );
    assert!(
        loaded.config.model_list.len() > 1,
        "no example was uncommented"
    );
    assert!(loaded.config.router_settings.fallbacks.is_some());
}

#[test]
fn prometheus_callbacks_are_implemented_other_callbacks_are_not() {
    let loaded = ok(r#"
model_list: []
litellm_settings:
  callbacks: ["prometheus"]
  service_callback: ["prometheus_system"]
"#);
    assert!(
        loaded.not_implemented.is_empty(),
        "{:?}",
        loaded.not_implemented
    );
    let loaded = ok(r#"
model_list: []
litellm_settings:
  callbacks: ["prometheus", "langfuse"]
"#);
    assert_eq!(loaded.not_implemented, ["litellm_settings.callbacks"]);
}
