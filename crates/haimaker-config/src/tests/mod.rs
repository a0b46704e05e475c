//! Pipeline tests: whole configs through `load_from_str` / `load`, one file per theme.
#![allow(clippy::unwrap_used)]

mod environment;
mod includes;
mod problems;
mod semantics;
mod typed;

use std::path::Path;

use crate::{ConfigError, ConfigErrors, Loaded, MapVars, load_from_str};

fn vars(pairs: &[(&str, &str)]) -> MapVars {
    MapVars::from_pairs(pairs.iter().copied())
}

fn load_with(text: &str, vars: &MapVars) -> Result<Loaded, ConfigErrors> {
    load_from_str(Path::new("config.yaml"), text, vars)
}

/// Loads a config that must be valid, showing every problem otherwise.
fn ok(text: &str) -> Loaded {
    ok_with(text, &MapVars::default())
}

fn ok_with(text: &str, vars: &MapVars) -> Loaded {
    match load_with(text, vars) {
        Ok(loaded) => loaded,
        Err(errors) => panic!("expected a valid config, got:\n{errors}"),
    }
}

fn errors(text: &str) -> Vec<ConfigError> {
    errors_with(text, &MapVars::default())
}

fn errors_with(text: &str, vars: &MapVars) -> Vec<ConfigError> {
    match load_with(text, vars) {
        Ok(_) => panic!("expected problems, the config loaded"),
        Err(errors) => errors.errors,
    }
}

/// Asserts that some problem is at `path` and its message contains `needle`.
#[track_caller]
fn assert_problem(errors: &[ConfigError], path: &str, needle: &str) {
    let found = errors
        .iter()
        .any(|e| e.path == path && e.message.contains(needle));
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        found,
        "no problem at `{path}` containing {needle:?}; got:\n{}",
        all.join("\n")
    );
}

const MINIMAL: &str =
    "model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/m\n";
