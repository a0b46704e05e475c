//! `include`: merging, per-file problems, missing files and cycles.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::load;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn includes_merge_like_litellm() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "config.yaml",
        r#"
include:
  - models.yaml
  - sub/more.yaml
model_list:
  - model_name: main-model
    litellm_params: {model: openai/main}
general_settings:
  master_key: sk-main
router_settings:
  num_retries: 1
"#,
    );
    write(
        dir.path(),
        "models.yaml",
        r#"
model_list:
  - model_name: included-model
    litellm_params: {model: openai/included}
router_settings:
  timeout: 5
"#,
    );
    // Nested: its own include is relative to `sub/`.
    write(
        dir.path(),
        "sub/more.yaml",
        "include: [deeper.yaml]\nmodel_list:\n  - model_name: more\n    litellm_params: {model: openai/more}\n",
    );
    write(
        dir.path(),
        "sub/deeper.yaml",
        "model_list:\n  - model_name: deeper\n    litellm_params: {model: openai/deeper}\n",
    );

    let config = load(&main, &MapVars::default()).unwrap().config;
    let names: Vec<&str> = config
        .model_list
        .iter()
        .map(|d| d.model_name.as_str())
        .collect();
    assert_eq!(names, ["main-model", "included-model", "more", "deeper"]);
    // A map key from an include replaces the main file's (LiteLLM sets it).
    assert_eq!(config.router_settings.num_retries, None);
    assert_eq!(
        config.router_settings.timeout,
        Some(std::time::Duration::from_secs(5))
    );
    assert_eq!(
        config
            .general_settings
            .master_key
            .as_ref()
            .map(|k| k.expose()),
        Some("sk-main")
    );
    // Origins name the declaring file and its own index.
    let origin = &config.model_list[1].origin;
    assert!(origin.ends_with("models.yaml: model_list[0]"), "{origin}");
    assert!(config.model_list[3].origin.ends_with(&format!(
        "sub{}deeper.yaml: model_list[0]",
        std::path::MAIN_SEPARATOR
    )));
}

#[test]
fn problems_in_an_included_file_name_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "config.yaml",
        "include: [models.yaml]\nrouter_settings:\n  num_retires: 1\n",
    );
    let models = write(
        dir.path(),
        "models.yaml",
        "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/a\n      api_bse: x\n",
    );
    let errors = load(&main, &MapVars::default()).unwrap_err();
    assert_eq!(errors.errors.len(), 2, "{errors}");
    let included = errors
        .errors
        .iter()
        .find(|e| e.path == "model_list[0].litellm_params.api_bse")
        .unwrap();
    assert_eq!(included.file, models);
    let own = errors
        .errors
        .iter()
        .find(|e| e.path == "router_settings.num_retires")
        .unwrap();
    assert_eq!(own.file, main);
    assert!(
        errors
            .to_string()
            .contains("and its includes have 2 problems"),
        "{errors}"
    );
}

#[test]
fn included_files_see_environment_variables_and_vars() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "config.yaml",
        "include: [models.yaml]\nenvironment_variables:\n  BASE: http://from-env-block\n",
    );
    write(
        dir.path(),
        "models.yaml",
        "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/a\n      api_base: os.environ/BASE\n      api_key: os.environ/KEY\n",
    );
    let config = load(&main, &vars(&[("KEY", "sk-k")])).unwrap().config;
    assert_eq!(
        config.model_list[0].litellm_params.api_base.as_deref(),
        Some("http://from-env-block")
    );
}

#[test]
fn a_missing_include_is_reported_against_the_includer() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "config.yaml",
        "include:\n  - nope.yaml\n  - 3\n",
    );
    let errors = load(&main, &MapVars::default()).unwrap_err().errors;
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(errors[0].file, main);
    assert_eq!(errors[0].path, "include[0]");
    assert!(
        errors[0].message.contains("could not read included file")
            && errors[0].message.contains("nope.yaml")
    );
    assert_problem(&errors, "include[1]", "expected a file path, found 3");
}

#[test]
fn include_cycles_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "config.yaml", "include: [a.yaml]\n");
    let a = write(dir.path(), "a.yaml", "include: [b.yaml]\n");
    write(dir.path(), "b.yaml", "include: [config.yaml]\n");
    let errors = load(&main, &MapVars::default()).unwrap_err().errors;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].file, dir.path().join("b.yaml"));
    assert_eq!(errors[0].path, "include[0]");
    assert!(
        errors[0].message.starts_with("include cycle: "),
        "{}",
        errors[0].message
    );
    assert!(
        errors[0].message.contains(&a.display().to_string()),
        "{}",
        errors[0].message
    );
    // A file including itself.
    let selfish = write(dir.path(), "self.yaml", "include: [self.yaml]\n");
    let errors = load(&selfish, &MapVars::default()).unwrap_err().errors;
    assert!(
        errors[0].message.starts_with("include cycle"),
        "{}",
        errors[0].message
    );
}

#[test]
fn include_must_be_a_list() {
    let errors = errors("include: models.yaml\n");
    assert_problem(
        &errors,
        "include",
        "expected a list of file paths, found \"models.yaml\"",
    );
}

#[test]
fn syntax_errors_in_included_files_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "config.yaml", "include: [bad.yaml]\n");
    let bad = write(dir.path(), "bad.yaml", "model_list: [\n");
    let errors = load(&main, &MapVars::default()).unwrap_err().errors;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].file, bad);
    assert!(errors[0].message.starts_with("invalid YAML"));
}
