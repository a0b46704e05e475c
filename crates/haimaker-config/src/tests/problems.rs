//! Unknown keys, wrong types, several problems at once, and messages that never leak secrets.

use std::path::Path;

use super::*;
use crate::load;

#[test]
fn reports_every_problem_at_once_with_paths() {
    let errors = errors(
        r#"
model_list:
  - model_name: a
    litellm_params:
      model: openai/a
  - model_name: b
    litellm_params:
      model: openai/b
  - model_name: c
    litellm_params:
      model: openai/c
      api_bse: http://x
router_settings:
  num_retries: three
  timeout: -1
general_settings:
  max_request_size_mb: 0
"#,
    );
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert_problem(
        &errors,
        "model_list[2].litellm_params.api_bse",
        "unknown key; did you mean `api_base`?",
    );
    assert_problem(
        &errors,
        "router_settings.num_retries",
        "expected a non-negative integer, found \"three\"",
    );
    assert_problem(
        &errors,
        "router_settings.timeout",
        "must be >= 0 seconds, found -1",
    );
    assert_problem(
        &errors,
        "general_settings.max_request_size_mb",
        "must be greater than 0",
    );
    assert!(errors.iter().all(|e| e.file == Path::new("config.yaml")));
}

#[test]
fn display_lists_file_path_and_message() {
    let err = load_with(
        "router_settings:\n  num_retries: three\n",
        &MapVars::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "config.yaml has 1 problem:\n  config.yaml: router_settings.num_retries: expected a non-negative integer, found \"three\""
    );
}

#[test]
fn did_you_mean_at_every_level() {
    let errors = errors(
        r#"
model_lst: []
model_list:
  - model_nme: a
    litellm_params:
      model: openai/a
      temprature: 0.1
    model_info:
      mdoe: chat
      supports_vison: true
general_settings:
  master_kye: sk-1
litellm_settings:
  json_log: true
  cache_params:
    namspace: x
router_settings:
  routing_stratgy: simple-shuffle
  retry_policy:
    TimeoutErrorRetry: 1
  allowed_fails_policy:
    RateLimitErrorAllowedFail: 1
credential_list:
  - credential_nme: c
    credential_values: {}
"#,
    );
    for (path, suggestion) in [
        ("model_lst", "model_list"),
        ("model_list[0].model_nme", "model_name"),
        ("model_list[0].litellm_params.temprature", "temperature"),
        ("model_list[0].model_info.mdoe", "mode"),
        ("model_list[0].model_info.supports_vison", "supports_vision"),
        ("general_settings.master_kye", "master_key"),
        ("litellm_settings.json_log", "json_logs"),
        ("litellm_settings.cache_params.namspace", "namespace"),
        ("router_settings.routing_stratgy", "routing_strategy"),
        (
            "router_settings.retry_policy.TimeoutErrorRetry",
            "TimeoutErrorRetries",
        ),
        (
            "router_settings.allowed_fails_policy.RateLimitErrorAllowedFail",
            "RateLimitErrorAllowedFails",
        ),
        ("credential_list[0].credential_nme", "credential_name"),
    ] {
        assert_problem(&errors, path, &format!("did you mean `{suggestion}`?"));
    }
    // The missing required keys are reported too.
    assert_problem(
        &errors,
        "model_list[0]",
        "missing required key `model_name`",
    );
    assert_problem(
        &errors,
        "credential_list[0]",
        "missing required key `credential_name`",
    );
}

#[test]
fn unknown_keys_without_a_close_match_say_so() {
    let errors =
        errors("litellm_settings:\n  zzzzzz: 1\nrouter_settings:\n  retry_policy:\n    Nope: 1\n");
    assert_problem(&errors, "litellm_settings.zzzzzz", "unknown key");
    // Small tables list what they accept.
    assert_problem(
        &errors,
        "router_settings.retry_policy.Nope",
        "expected one of: BadRequestErrorRetries",
    );
}

#[test]
fn base_url_suggests_api_base() {
    let errors = errors(&format!("{MINIMAL}      base_url: http://x\n"));
    assert_problem(
        &errors,
        "model_list[0].litellm_params.base_url",
        "did you mean `api_base`?",
    );
}

#[test]
fn misplaced_keys_point_to_their_section() {
    let errors = errors(
        r#"
master_key: sk-1
model_list:
  - model_name: a
    api_key: x
    litellm_params:
      model: openai/a
      model_info: {id: x}
litellm_settings:
  routing_strategy: simple-shuffle
"#,
    );
    assert_problem(&errors, "master_key", "belongs in `general_settings`");
    assert_problem(
        &errors,
        "model_list[0].api_key",
        "belongs in `litellm_params`",
    );
    assert_problem(
        &errors,
        "model_list[0].litellm_params.model_info",
        "goes next to `litellm_params`",
    );
    assert_problem(
        &errors,
        "litellm_settings.routing_strategy",
        "belongs in `router_settings`",
    );
}

#[test]
fn wrong_types_say_what_was_expected_and_found() {
    let errors = errors(
        r#"
model_list:
  - model_name: a
    litellm_params:
      model: openai/a
      rpm: [1]
      drop_params: maybe
      extra_headers: "X-A: b"
      tags: free
    model_info:
      max_tokens: 1.5
general_settings:
  alerting: slack
router_settings:
  fallbacks: {a: [b]}
  redis_port: 70000
litellm_settings:
  set_verbose: [true]
"#,
    );
    assert_problem(
        &errors,
        "model_list[0].litellm_params.rpm",
        "expected a non-negative integer, found a list",
    );
    assert_problem(
        &errors,
        "model_list[0].litellm_params.drop_params",
        "expected a boolean (true or false), found \"maybe\"",
    );
    assert_problem(
        &errors,
        "model_list[0].litellm_params.extra_headers",
        "expected a map of names to strings",
    );
    assert_problem(
        &errors,
        "model_list[0].litellm_params.tags",
        "expected a list of strings, found \"free\"",
    );
    assert_problem(&errors, "model_list[0].model_info.max_tokens", "found 1.5");
    assert_problem(
        &errors,
        "general_settings.alerting",
        "expected a list of strings",
    );
    assert_problem(
        &errors,
        "router_settings.fallbacks",
        "expected a list of `{group: [fallback, ...]}` maps, found a map",
    );
    assert_problem(
        &errors,
        "router_settings.redis_port",
        "must be at most 65535",
    );
    assert_problem(
        &errors,
        "litellm_settings.set_verbose",
        "expected a boolean",
    );
}

#[test]
fn model_list_entries_need_a_model() {
    let errors = errors(
        r#"
model_list:
  - model_name: a
  - model_name: ""
    litellm_params:
      model: " "
  - just-a-string
model_list_extra: 1
"#,
    );
    assert_problem(
        &errors,
        "model_list[0]",
        "missing required key `litellm_params`",
    );
    assert_problem(&errors, "model_list[1].model_name", "must not be empty");
    assert_problem(
        &errors,
        "model_list[1].litellm_params.model",
        "must not be empty",
    );
    assert_problem(
        &errors,
        "model_list[2]",
        "expected a map, found \"just-a-string\"",
    );
    let errors =
        super::errors("model_list:\n  - model_name: a\n    litellm_params: {api_base: x}\n");
    assert_problem(
        &errors,
        "model_list[0].litellm_params",
        "missing required key `model`",
    );
}

#[test]
fn secrets_never_appear_in_messages() {
    let errors = errors_with(
        r#"
model_list:
  - model_name: a
    litellm_params:
      model: openai/a
      api_key: [sk-list-secret]
      timeout: os.environ/TIMEOUT_SECRET
      extra_headers:
        Authorization: [Bearer-header-secret]
general_settings:
  master_key: not-sk-master-secret
  database_url: {url: postgres-secret}
router_settings:
  redis_password: 12345678
  redis_port: os.environ/REDIS_PORT
environment_variables:
  PASSWORD_SECRET: [env-list-secret]
"#,
        &vars(&[
            ("TIMEOUT_SECRET", "sk-env-secret"),
            ("REDIS_PORT", "port-secret"),
        ]),
    );
    let text = ConfigErrors { errors }.to_string();
    for secret in [
        "sk-list-secret",
        "sk-env-secret",
        "Bearer-header-secret",
        "not-sk-master-secret",
        "postgres-secret",
        "port-secret",
        "env-list-secret",
    ] {
        assert!(!text.contains(secret), "`{secret}` leaked:\n{text}");
    }
    assert!(
        text.contains("general_settings.master_key: must start with `sk-`"),
        "{text}"
    );
    assert!(
        text.contains("from `os.environ/TIMEOUT_SECRET` (value not shown)"),
        "{text}"
    );
}

#[test]
fn yaml_syntax_errors_have_a_location() {
    let errors = errors("model_list:\n  - model_name: a\n   litellm_params: {\n");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].path, "");
    assert!(
        errors[0].message.starts_with("invalid YAML"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[0].message.contains("line 3"),
        "{}",
        errors[0].message
    );
}

#[test]
fn empty_and_comment_only_files_are_valid() {
    assert!(ok("").config.model_list.is_empty());
    assert!(
        ok("# only a comment\n\n# and another\n")
            .config
            .model_list
            .is_empty()
    );
    assert!(
        ok("model_list:\ngeneral_settings:\n")
            .config
            .general_settings
            .master_key
            .is_none()
    );
}

#[test]
fn a_top_level_that_is_not_a_map_is_an_error() {
    let errors = errors("- model_name: a\n");
    assert_problem(
        &errors,
        "",
        "expected a map of settings at the top level, found a list",
    );
    let errors = super::errors("just text");
    assert_problem(&errors, "", "found \"just text\"");
}

#[test]
fn a_missing_file_is_one_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.yaml");
    let err = load(&path, &MapVars::default()).unwrap_err();
    assert_eq!(err.errors.len(), 1);
    assert_eq!(err.errors[0].file, path);
    assert!(
        err.errors[0]
            .message
            .contains("could not read the config file"),
        "{}",
        err.errors[0].message
    );
}

#[test]
fn non_string_keys_are_reported() {
    let errors = errors("router_settings:\n  1: x\n");
    assert_problem(
        &errors,
        "router_settings",
        "expected text keys, found the key 1",
    );
}
