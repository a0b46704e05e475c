//! Cross-key rules: model groups, ids, credentials, master key, routing strategy.

use super::*;

const GROUPS: &str = r#"
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o}
  - model_name: gpt-4o-mini
    litellm_params: {model: openai/gpt-4o-mini}
  - model_name: "anthropic/*"
    litellm_params: {model: "anthropic/*"}
"#;

#[test]
fn fallbacks_must_name_existing_groups() {
    let errors = errors(&format!(
        r#"{GROUPS}
router_settings:
  fallbacks: [{{"gpt-4o": ["gpt-4o-mni", "anthropic/claude-3"]}}, {{"*": ["gpt-4o"]}}, {{"nope": ["gpt-4o"]}}]
  context_window_fallbacks: [{{"gpt-4o": ["big"]}}]
  default_fallbacks: ["gpt-4o", "missing"]
litellm_settings:
  content_policy_fallbacks: [{{"gpt-4o-mini": ["safe"]}}]
"#
    ));
    assert_eq!(errors.len(), 5, "{errors:#?}");
    assert_problem(
        &errors,
        "router_settings.fallbacks[0].gpt-4o[0]",
        "model group `gpt-4o-mni` is not in model_list; did you mean `gpt-4o-mini`?",
    );
    assert_problem(
        &errors,
        "router_settings.fallbacks[2].nope",
        "model group `nope` is not in model_list",
    );
    assert_problem(
        &errors,
        "router_settings.context_window_fallbacks[0].gpt-4o[0]",
        "`big`",
    );
    assert_problem(&errors, "router_settings.default_fallbacks[1]", "`missing`");
    assert_problem(
        &errors,
        "litellm_settings.content_policy_fallbacks[0].gpt-4o-mini[0]",
        "`safe`",
    );
}

#[test]
fn a_catch_all_group_accepts_any_fallback() {
    let loaded = ok(
        "model_list:\n  - model_name: \"*\"\n    litellm_params: {model: \"openai/*\"}\nrouter_settings:\n  fallbacks: [{a: [b]}]\n",
    );
    let rules = loaded.config.router_settings.fallbacks.unwrap();
    assert_eq!(rules[0].from, "a");
    assert_eq!(rules[0].to, vec!["b".to_owned()]);
}

#[test]
fn shared_keys_are_kept_in_both_sections() {
    let config = ok(&format!(
        r#"{GROUPS}
router_settings:
  num_retries: 1
  fallbacks: [{{"gpt-4o": ["gpt-4o-mini"]}}]
  default_fallbacks: ["gpt-4o"]
litellm_settings:
  num_retries: 2
  fallbacks: [{{"gpt-4o-mini": ["gpt-4o"]}}]
  context_window_fallbacks: [{{"gpt-4o-mini": ["gpt-4o"]}}]
"#
    ))
    .config;
    assert_eq!(config.router_settings.num_retries, Some(1));
    assert_eq!(config.litellm_settings.num_retries, Some(2));
    assert_eq!(config.router_settings.fallbacks.unwrap()[0].from, "gpt-4o");
    assert_eq!(
        config.litellm_settings.fallbacks.unwrap()[0].from,
        "gpt-4o-mini"
    );
    assert!(config.router_settings.context_window_fallbacks.is_none());
    assert_eq!(
        config
            .litellm_settings
            .context_window_fallbacks
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        config.router_settings.default_fallbacks,
        Some(vec!["gpt-4o".to_owned()])
    );
}

#[test]
fn model_group_alias_targets_must_exist() {
    let errors = errors(&format!(
        "{GROUPS}\nrouter_settings:\n  model_group_alias:\n    gpt4: gpt-4o\n    hidden-one: {{model: gpt-4o-mini, hidden: true}}\n    broken: gpt-5\n"
    ));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_problem(
        &errors,
        "router_settings.model_group_alias.broken",
        "model group `gpt-5` is not in model_list",
    );

    let config = ok(&format!(
        "{GROUPS}\nrouter_settings:\n  model_group_alias:\n    gpt4: gpt-4o\n    hidden-one: {{model: gpt-4o-mini, hidden: true}}\n  fallbacks: [{{gpt4: [hidden-one]}}]\n"
    ))
    .config;
    let router = config.router_settings;
    assert_eq!(
        router.model_group_alias.get("gpt4").map(String::as_str),
        Some("gpt-4o")
    );
    assert_eq!(
        router
            .model_group_alias
            .get("hidden-one")
            .map(String::as_str),
        Some("gpt-4o-mini")
    );
    assert!(router.hidden_model_group_aliases.contains("hidden-one"));
    assert!(!router.hidden_model_group_aliases.contains("gpt4"));
}

#[test]
fn duplicate_deployment_ids_are_errors() {
    let errors = errors(
        r#"
model_list:
  - model_name: a
    litellm_params: {model: openai/a}
    model_info: {id: same}
  - model_name: b
    litellm_params: {model: openai/b}
    model_info: {id: other}
  - model_name: c
    litellm_params: {model: openai/c}
    model_info: {id: same}
"#,
    );
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_problem(
        &errors,
        "model_list[2].model_info.id",
        "duplicate deployment id `same` (also used by config.yaml: model_list[0])",
    );
}

#[test]
fn master_key_must_start_with_sk() {
    let errors = errors("general_settings:\n  master_key: abc\n");
    assert_problem(
        &errors,
        "general_settings.master_key",
        "must start with `sk-`",
    );
    let config = ok("general_settings:\n  master_key: sk-abc\n").config;
    assert_eq!(
        config
            .general_settings
            .master_key
            .map(|k| k.expose().to_owned())
            .as_deref(),
        Some("sk-abc")
    );
}

#[test]
fn routing_strategy_must_be_known() {
    let errors = errors("router_settings:\n  routing_strategy: least-bsy\n");
    assert_problem(
        &errors,
        "router_settings.routing_strategy",
        "expected one of simple-shuffle, least-busy, usage-based-routing, usage-based-routing-v2, latency-based-routing, cost-based-routing, found \"least-bsy\"; did you mean `least-busy`?",
    );
    let errors = super::errors("router_settings:\n  routing_strategy: simple_shuffle\n");
    assert_problem(
        &errors,
        "router_settings.routing_strategy",
        "did you mean `simple-shuffle`?",
    );
}

#[test]
fn credentials_fill_in_what_deployments_do_not_set() {
    let loaded = ok_with(
        r#"
credential_list:
  - credential_name: azure-east
    credential_values:
      api_key: os.environ/AZURE_KEY
      api_base: https://east.example.com
      api_version: "2024-06-01"
      aws_region_name: us-east-1
    credential_info:
      description: east region
model_list:
  - model_name: a
    litellm_params:
      model: azure/gpt-4o
      litellm_credential_name: azure-east
      api_base: https://override.example.com
"#,
        &vars(&[("AZURE_KEY", "az-secret")]),
    );
    let config = loaded.config;
    let credential = &config.credential_list[0];
    assert_eq!(credential.credential_name, "azure-east");
    assert_eq!(
        credential.credential_values["api_key"].expose(),
        "az-secret"
    );
    assert_eq!(credential.credential_info["description"], "east region");
    let p = &config.model_list[0].litellm_params;
    assert_eq!(p.api_key.as_ref().map(|k| k.expose()), Some("az-secret"));
    assert_eq!(p.api_base.as_deref(), Some("https://override.example.com"));
    assert_eq!(p.api_version.as_deref(), Some("2024-06-01"));
    assert_eq!(p.public_params["aws_region_name"], "us-east-1");
    assert!(!p.public_params.contains_key("api_key"));
    // Applying a credential is not "setting" api_version in the file.
    assert!(
        loaded
            .not_implemented
            .iter()
            .all(|k| !k.contains("api_version")),
        "{:?}",
        loaded.not_implemented
    );
}

#[test]
fn unknown_and_duplicate_credentials_are_errors() {
    let errors = errors(
        r#"
credential_list:
  - credential_name: east
    credential_values: {api_key: k}
  - credential_name: east
    credential_values: {api_key: k2}
model_list:
  - model_name: a
    litellm_params: {model: openai/a, litellm_credential_name: eats}
"#,
    );
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_problem(
        &errors,
        "credential_list[1].credential_name",
        "duplicate credential name `east`",
    );
    assert_problem(
        &errors,
        "model_list[0].litellm_params.litellm_credential_name",
        "credential `eats` is not in credential_list; did you mean `east`?",
    );
}
