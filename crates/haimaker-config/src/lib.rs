//! haimaker's configuration: LiteLLM's `config.yaml` schema read into typed, validated values.
//!
//! `serde_yaml` is used in this crate only. The pipeline is
//! `YAML text -> serde_yaml::Value -> schema walk (all errors collected) -> Config`.
//! Nothing here binds sockets, spawns processes or reads the environment directly: the
//! environment comes in through [`Vars`], so tests are hermetic.
//!
//! See ARCHITECTURE.md ("Configuration") for the rules: unknown keys are errors with a
//! "did you mean", keys LiteLLM knows that haimaker does not implement yet are accepted and
//! listed in one start-up warning.
//!
//! Modules, in pipeline order: `include` (files and includes), `envvars`
//! (`environment_variables`), `walk` + `coerce` driven by the tables in `schema` /
//! `schema_model`, `load` (merge), `convert` / `convert_model` (typed values), `check`
//! (cross-key rules). `dotenv` reads `.env` files.

mod check;
mod coerce;
mod convert;
mod convert_model;
mod dotenv;
mod envvars;
mod error;
mod include;
mod load;
mod schema;
mod schema_model;
mod secret;
mod suggest;
mod types;
mod walk;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use coerce::flag;
pub use dotenv::{read_dotenv, should_load_dotenv};
pub use error::{ConfigError, ConfigErrors};
pub use load::{load, load_from_str};
pub use secret::is_secret_param;
pub use types::*;

/// LiteLLM's alert types (`general_settings.alert_types`, the keys of `alert_to_webhook_url`),
/// in LiteLLM's order. `haimaker-alerting` implements them; the config check rejects others.
pub const ALERT_TYPES: [&str; 23] = [
    "llm_exceptions",
    "llm_too_slow",
    "llm_requests_hanging",
    "budget_alerts",
    "spend_reports",
    "failed_tracking_spend",
    "db_exceptions",
    "daily_reports",
    "cooldown_deployment",
    "new_model_added",
    "model_deprecation_warnings",
    "outage_alerts",
    "region_outage_alerts",
    "fallback_reports",
    "new_virtual_key_created",
    "virtual_key_updated",
    "virtual_key_deleted",
    "new_team_created",
    "team_updated",
    "team_deleted",
    "new_internal_user_created",
    "internal_user_updated",
    "internal_user_deleted",
];

/// Where environment values come from. The process environment in production, a map in tests.
pub trait Vars {
    /// The value of variable `name`, `None` when unset.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment (`std::env::var`; non-UTF-8 values read as unset).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Vars for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A fixed map of variables: tests, `.env` contents, `environment_variables`.
#[derive(Debug, Clone, Default)]
pub struct MapVars(pub BTreeMap<String, String>);

impl MapVars {
    /// From `(name, value)` pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }
}

impl Vars for MapVars {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// Two sources: `over` wins, else `under` (e.g. the process environment over `.env`).
#[derive(Clone, Copy)]
pub struct Layered<'a> {
    pub over: &'a dyn Vars,
    pub under: &'a dyn Vars,
}

impl Vars for Layered<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.over.get(name).or_else(|| self.under.get(name))
    }
}

/// A loaded, validated config.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// Key paths (and a short reason) that LiteLLM knows but haimaker does not implement yet,
    /// e.g. "general_settings.alerting".
    /// Only keys set in the file (to something other than LiteLLM's default) are listed; a key
    /// set on several deployments is listed once as `model_list[*]....`.
    pub not_implemented: Vec<String>,
}

impl Loaded {
    /// One line listing every key in [`Loaded::not_implemented`]; `None` when there are none.
    pub fn not_implemented_warning(&self) -> Option<String> {
        if self.not_implemented.is_empty() {
            return None;
        }
        Some(format!(
            "config keys accepted but not implemented yet (they have no effect): {}",
            self.not_implemented.join(", ")
        ))
    }
}
