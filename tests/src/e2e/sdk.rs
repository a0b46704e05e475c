//! Compatibility with the official `openai` Python SDK (tests/python/test_openai_sdk.py), run
//! from the SDK test virtualenv that the README's test command creates.

use std::time::Duration;

use crate::harness::python::{repo_root, venv_python};
use crate::harness::{Gateway, MockUpstream, Reply};

#[tokio::test(flavor = "multi_thread")]
async fn the_openai_python_sdk_works_against_haimaker() {
    let python = venv_python();
    let mock = MockUpstream::start().await;
    mock.on(
        "up-404",
        Reply::error(404, "The model `up-404` does not exist"),
    );
    mock.on("up-429", Reply::error(429, "Rate limit reached"));
    mock.on(
        "up-slow",
        Reply::chat("slow").with_delay(Duration::from_secs(3)),
    );
    let base = mock.url();
    let deployment = |group: &str, model: &str| {
        format!(
            "  - model_name: {group}\n    litellm_params:\n      model: openai/{model}\n      api_base: {base}\n      api_key: sk-up\n"
        )
    };
    let config = format!(
        "model_list:\n{}{}{}{}{}general_settings:\n  master_key: sk-sdk-master\nrouter_settings:\n  num_retries: 0\n",
        deployment("sdk-chat", "up-chat"),
        deployment("sdk-embed", "up-embed"),
        deployment("sdk-404", "up-404"),
        deployment("sdk-429", "up-429"),
        deployment("sdk-slow", "up-slow"),
    );
    let gw = Gateway::start(&config);
    let script = repo_root().join("tests/python/test_openai_sdk.py");
    let base_url = gw.url("/v1");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .env("HAIMAKER_BASE_URL", base_url)
            .env("HAIMAKER_KEY", "sk-sdk-master")
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "SDK checks failed:\n{stdout}\n{stderr}\ngateway output:\n{}",
        gw.output.text()
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
}
