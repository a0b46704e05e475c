//! `os.environ/NAME` resolution and `environment_variables`.

use std::time::Duration;

use super::*;

#[test]
fn os_environ_resolves_anywhere_a_string_is_allowed() {
    let loaded = ok_with(
        r#"
model_list:
  - model_name: os.environ/GROUP
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
      api_base: os.environ/OPENAI_BASE
      extra_headers:
        X-Team: os.environ/TEAM
      metadata:
        nested: [os.environ/TEAM]
      tags: [os.environ/TEAM]
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  alerting_args:
    webhook: os.environ/TEAM
"#,
        &vars(&[
            ("GROUP", "gpt-4o"),
            ("OPENAI_API_KEY", "sk-upstream"),
            ("OPENAI_BASE", "http://up"),
            ("TEAM", "blue"),
            ("LITELLM_MASTER_KEY", "sk-master"),
        ]),
    );
    let config = &loaded.config;
    let d = &config.model_list[0];
    assert_eq!(d.model_name, "gpt-4o");
    let p = &d.litellm_params;
    assert_eq!(p.api_key.as_ref().map(|k| k.expose()), Some("sk-upstream"));
    assert_eq!(p.api_base.as_deref(), Some("http://up"));
    assert_eq!(
        p.extra_headers.get("X-Team").map(String::as_str),
        Some("blue")
    );
    assert_eq!(p.default_params["metadata"]["nested"][0], "blue");
    assert_eq!(p.tags, vec!["blue".to_owned()]);
    assert_eq!(
        config
            .general_settings
            .master_key
            .as_ref()
            .map(|k| k.expose()),
        Some("sk-master")
    );
    assert_eq!(config.general_settings.alerting_args["webhook"], "blue");
}

#[test]
fn an_unset_variable_names_the_variable_and_the_path() {
    let errors = errors(
        r#"
model_list:
  - model_name: a
    litellm_params:
      model: openai/a
      api_key: os.environ/OPENAI_API_KEY
      metadata: {team: os.environ/TEAM}
router_settings:
  fallbacks: [{a: [os.environ/FALLBACK]}]
"#,
    );
    assert_problem(
        &errors,
        "model_list[0].litellm_params.api_key",
        "environment variable `OPENAI_API_KEY` is not set",
    );
    assert_problem(
        &errors,
        "model_list[0].litellm_params.metadata.team",
        "environment variable `TEAM` is not set",
    );
    assert_problem(
        &errors,
        "router_settings.fallbacks[0].a[0]",
        "`FALLBACK` is not set",
    );
    let errors = super::errors("general_settings:\n  master_key: os.environ/\n");
    assert_problem(
        &errors,
        "general_settings.master_key",
        "needs a variable name",
    );
}

#[test]
fn resolved_values_are_coerced_to_the_schema_type() {
    let loaded = ok_with(
        r#"
router_settings:
  redis_port: os.environ/REDIS_PORT
  num_retries: os.environ/RETRIES
  timeout: os.environ/TIMEOUT
  disable_cooldowns: os.environ/NO_COOLDOWN
litellm_settings:
  json_logs: os.environ/JSON_LOGS
  drop_params: os.environ/DROP
general_settings:
  max_request_size_mb: os.environ/MAX_MB
"#,
        &vars(&[
            ("REDIS_PORT", "6379"),
            ("RETRIES", "3"),
            ("TIMEOUT", "0.5"),
            ("NO_COOLDOWN", "True"),
            ("JSON_LOGS", "1"),
            ("DROP", "no"),
            ("MAX_MB", "2.5"),
        ]),
    );
    let config = loaded.config;
    assert_eq!(config.router_settings.redis_port, Some(6379));
    assert_eq!(config.router_settings.num_retries, Some(3));
    assert_eq!(
        config.router_settings.timeout,
        Some(Duration::from_millis(500))
    );
    assert!(config.router_settings.disable_cooldowns);
    assert!(config.litellm_settings.json_logs);
    assert!(!config.litellm_settings.drop_params);
    assert_eq!(config.general_settings.max_request_size_mb, Some(2.5));
}

#[test]
fn a_resolved_value_of_the_wrong_type_is_an_error_without_the_value() {
    let errors = errors_with(
        "router_settings:\n  redis_port: os.environ/REDIS_PORT\n",
        &vars(&[("REDIS_PORT", "sixty")]),
    );
    assert_problem(
        &errors,
        "router_settings.redis_port",
        "expected a non-negative integer, found a string from `os.environ/REDIS_PORT` (value not shown)",
    );
}

#[test]
fn environment_variables_are_visible_to_later_references_and_win_over_vars() {
    let loaded = ok_with(
        r#"
environment_variables:
  UPSTREAM: http://from-file
  RETRIES: 4
  VERBOSE: true
  COPIED: os.environ/REAL_SECRET
  CHAINED: os.environ/UPSTREAM
model_list:
  - model_name: a
    litellm_params:
      model: openai/a
      api_base: os.environ/UPSTREAM
      api_key: os.environ/COPIED
router_settings:
  num_retries: os.environ/RETRIES
litellm_settings:
  set_verbose: os.environ/VERBOSE
"#,
        &vars(&[
            ("UPSTREAM", "http://from-process"),
            ("REAL_SECRET", "sk-real"),
        ]),
    );
    let config = loaded.config;
    let p = &config.model_list[0].litellm_params;
    assert_eq!(p.api_base.as_deref(), Some("http://from-file"));
    assert_eq!(p.api_key.as_ref().map(|k| k.expose()), Some("sk-real"));
    assert_eq!(config.router_settings.num_retries, Some(4));
    assert!(config.litellm_settings.set_verbose);
    let env = &config.environment_variables;
    assert_eq!(env.get("RETRIES").map(String::as_str), Some("4"));
    // Python's str(True), as LiteLLM stores it.
    assert_eq!(env.get("VERBOSE").map(String::as_str), Some("True"));
    assert_eq!(env.get("COPIED").map(String::as_str), Some("sk-real"));
    assert_eq!(
        env.get("CHAINED").map(String::as_str),
        Some("http://from-file")
    );
}

#[test]
fn environment_variables_problems_are_reported() {
    let errors = errors("environment_variables:\n  A: os.environ/MISSING\n  B: [1]\n  C: {x: 1}\n");
    assert_problem(
        &errors,
        "environment_variables.A",
        "environment variable `MISSING` is not set",
    );
    assert_problem(
        &errors,
        "environment_variables.B",
        "expected a string, number or boolean, found a list",
    );
    assert_problem(&errors, "environment_variables.C", "found a map");
    let errors = super::errors("environment_variables: [A]\n");
    assert_problem(
        &errors,
        "environment_variables",
        "expected a map of variable names to values",
    );
}

#[test]
fn layered_vars_prefer_over() {
    use crate::{Layered, Vars};
    let over = vars(&[("A", "over")]);
    let under = vars(&[("A", "under"), ("B", "under")]);
    let layered = Layered {
        over: &over,
        under: &under,
    };
    assert_eq!(layered.get("A").as_deref(), Some("over"));
    assert_eq!(layered.get("B").as_deref(), Some("under"));
    assert_eq!(layered.get("C"), None);
}
