//! The command line, the environment and config loading as an operator meets them.

use std::net::TcpListener;

use serde_json::json;

use crate::harness::{Gateway, MockUpstream, post};

fn chat(model: &str) -> String {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}).to_string()
}

fn one_group(mock: &MockUpstream, extra_params: &str) -> String {
    format!(
        "model_list:\n  - model_name: g\n    litellm_params:\n      model: openai/m\n      api_base: {}\n{extra_params}",
        mock.url()
    )
}

#[test]
fn version_prints_and_exits_zero() {
    let (status, out) = Gateway::builder_without_config()
        .arg("--version")
        .run_to_exit();
    assert!(status.success());
    assert!(out.contains(env!("CARGO_PKG_VERSION")), "{out}");
}

#[test]
fn validate_config_reports_and_exits() {
    let (status, out) = Gateway::builder(
        "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/a\n",
    )
    .arg("--validate_config")
    .run_to_exit();
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.contains("valid (1 deployment, 1 model group)"), "{out}");

    let bad = "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/a\n      api_bse: http://x\n  - model_name: b\n    litellm_params:\n      modle: openai/b\nrouter_settings:\n  routing_strategy: fastest\n";
    let (status, out) = Gateway::builder(bad).arg("--validate_config").run_to_exit();
    assert_eq!(status.code(), Some(64), "{out}");
    for path in [
        "model_list[0].litellm_params.api_bse",
        "did you mean `api_base`",
        "model_list[1].litellm_params.modle",
        "router_settings.routing_strategy",
    ] {
        assert!(out.contains(path), "missing {path:?} in:\n{out}");
    }
}

#[test]
fn a_bad_config_exits_64_before_binding_anything() {
    // Hold a port without SO_REUSEPORT: if haimaker tried to bind it, it would fail with
    // "could not listen" (exit 1), not 64.
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let (status, out) =
        Gateway::builder("general_settings:\n  master_key: not-sk\n  max_request_size_mb: -1\n")
            .without_default_addr()
            .args_port(&port)
            .run_to_exit();
    assert_eq!(status.code(), Some(64), "{out}");
    assert!(out.contains("general_settings.master_key"), "{out}");
    assert!(
        out.contains("general_settings.max_request_size_mb"),
        "all problems at once: {out}"
    );
    assert!(
        !out.contains("could not listen") && !out.contains("started worker"),
        "{out}"
    );
}

#[test]
fn bad_flags_and_env_values_exit_64() {
    let (status, out) = Gateway::builder_without_config()
        .without_num_workers()
        .arg("--num_workers")
        .arg("many")
        .run_to_exit();
    assert_eq!(status.code(), Some(64), "{out}");
    assert!(out.contains("--num_workers"), "{out}");
    let (status, out) = Gateway::builder_without_config()
        .env("LITELLM_LOG", "LOUD")
        .run_to_exit();
    assert_eq!(status.code(), Some(64), "{out}");
    assert!(out.contains("LITELLM_LOG"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_repo_config_yaml_serves_the_mock_deployment_offline() {
    let repo_config = include_str!("../../../config.yaml");
    let gw = Gateway::start(repo_config);
    let resp = post(
        &gw.url("/v1/chat/completions"),
        &[("authorization", "Bearer sk-1234")],
        chat("fake-openai-endpoint"),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json()["choices"][0]["message"]["content"],
        "Hello from haimaker's built-in mock deployment."
    );
    let stream =
        json!({"model": "fake-openai-endpoint", "stream": true, "messages": []}).to_string();
    let text = crate::harness::post_stream(
        &gw.url("/v1/chat/completions"),
        &[("authorization", "Bearer sk-1234")],
        stream,
    )
    .await
    .rest()
    .await;
    assert!(
        text.contains("built-in") && text.trim_end().ends_with("data: [DONE]"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn host_port_config_file_path_and_num_workers_come_from_the_environment() {
    let mock = MockUpstream::start().await;
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gw = Gateway::builder_without_config()
        .without_default_addr()
        .without_num_workers()
        .file("from-env.yaml", one_group(&mock, ""))
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("CONFIG_FILE_PATH", "from-env.yaml")
        .env("NUM_WORKERS", "2")
        .start();
    assert_eq!(gw.addr.port(), port);
    assert!(
        gw.output.text().contains("with 2 workers"),
        "{}",
        gw.output.text()
    );
    assert_eq!(
        gw.output
            .lines()
            .iter()
            .filter(|l| l.contains("started worker"))
            .count(),
        2
    );
    assert_eq!(
        post(&gw.url("/chat/completions"), &[], chat("g"))
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn os_environ_environment_variables_and_include_are_resolved() {
    let mock = MockUpstream::start().await;
    let main = "include:\n  - extra.yaml\nenvironment_variables:\n  UPSTREAM_KEY: sk-from-environment-variables\nmodel_list:\n  - model_name: g\n    litellm_params:\n      model: openai/m\n      api_base: os.environ/MOCK_BASE\n      api_key: os.environ/UPSTREAM_KEY\n";
    let extra = format!(
        "model_list:\n  - model_name: included\n    litellm_params:\n      model: openai/inc\n      api_base: {}\n",
        mock.url()
    );
    let gw = Gateway::builder(main)
        .file("extra.yaml", extra)
        .env("MOCK_BASE", mock.url())
        .start();
    assert_eq!(
        post(&gw.url("/chat/completions"), &[], chat("g"))
            .await
            .status,
        200
    );
    assert_eq!(
        mock.requests_for("m")[0]
            .headers
            .get("authorization")
            .unwrap(),
        "Bearer sk-from-environment-variables"
    );
    assert_eq!(
        post(&gw.url("/chat/completions"), &[], chat("included"))
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dotenv_is_loaded_except_in_production_mode() {
    let mock = MockUpstream::start().await;
    let config = "model_list:\n  - model_name: g\n    litellm_params:\n      model: openai/m\n      api_base: os.environ/DOTENV_BASE\n";
    let dotenv = format!("DOTENV_BASE={}\n", mock.url());
    let gw = Gateway::builder(config)
        .file(".env", dotenv.clone())
        .start();
    assert_eq!(
        post(&gw.url("/chat/completions"), &[], chat("g"))
            .await
            .status,
        200
    );
    drop(gw);
    let (status, out) = Gateway::builder(config)
        .file(".env", dotenv)
        .env("LITELLM_MODE", "PRODUCTION")
        .run_to_exit();
    assert_eq!(status.code(), Some(64), "{out}");
    assert!(out.contains("DOTENV_BASE"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_litellm_knows_but_haimaker_does_not_implement_are_one_warning() {
    let mock = MockUpstream::start().await;
    let config = format!(
        "{}general_settings:\n  completion_model: g\nrouter_settings:\n  enable_pre_call_checks: true\n",
        one_group(&mock, "")
    );
    let gw = Gateway::start(&config);
    let warnings: Vec<String> = gw
        .output
        .lines()
        .into_iter()
        .filter(|l| l.contains("general_settings.completion_model"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", gw.output.text());
    assert!(
        warnings[0].contains("router_settings.enable_pre_call_checks"),
        "{}",
        warnings[0]
    );
    assert_eq!(
        post(&gw.url("/chat/completions"), &[], chat("g"))
            .await
            .status,
        200
    );
}
