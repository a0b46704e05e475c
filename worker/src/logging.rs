//! Which log settings a process uses: flags, `LITELLM_LOG`, `JSON_LOGS` and config.

use haimaker_config::{Config, Vars};
use haimaker_telemetry::{Level, LogSettings, parse_level};

/// Resolves the log settings. Precedence for the level: `--detailed_debug` (DEBUG), then
/// `LITELLM_LOG`, then `litellm_settings.set_verbose` (DEBUG), then `--debug` (INFO), else
/// INFO. JSON: `JSON_LOGS` if set (`false`, `0`, `no`, `off` and empty mean off: unlike
/// LiteLLM, where any non-empty string, even "False", turns it on), else `json_logs`.
/// `HAIMAKER_ACCESS_LOG=false` turns the access line off.
pub fn log_settings(
    config: &Config,
    env: &dyn Vars,
    detailed_debug: bool,
    debug: bool,
) -> Result<LogSettings, String> {
    let level = if detailed_debug {
        Level::Debug
    } else if let Some(value) = env.get("LITELLM_LOG").filter(|v| !v.trim().is_empty()) {
        parse_level(&value).ok_or_else(|| {
            format!("LITELLM_LOG: expected one of DEBUG, INFO, WARNING, ERROR; found `{value}`")
        })?
    } else if config.litellm_settings.set_verbose {
        Level::Debug
    } else {
        let _ = debug;
        Level::Info
    };
    let json = match env.get("JSON_LOGS") {
        Some(value) => truthy(&value),
        None => config.litellm_settings.json_logs,
    };
    let access_log = env.get("HAIMAKER_ACCESS_LOG").is_none_or(|v| truthy(&v));
    Ok(LogSettings {
        level,
        json,
        access_log,
    })
}

/// Set and not a false word (LiteLLM treats any non-empty value as on).
fn truthy(value: &str) -> bool {
    !value.trim().is_empty() && haimaker_config::flag(value) != Some(false)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use haimaker_config::MapVars;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> MapVars {
        MapVars(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn json_logs_false_means_off() {
        let c = Config::default();
        assert!(
            !log_settings(&c, &vars(&[("JSON_LOGS", "False")]), false, false)
                .unwrap()
                .json
        );
        assert!(
            !log_settings(&c, &vars(&[("JSON_LOGS", "0")]), false, false)
                .unwrap()
                .json
        );
        assert!(
            log_settings(&c, &vars(&[("JSON_LOGS", "true")]), false, false)
                .unwrap()
                .json
        );
        let mut c = Config::default();
        c.litellm_settings.json_logs = true;
        assert!(log_settings(&c, &vars(&[]), false, false).unwrap().json);
    }

    #[test]
    fn level_precedence_and_bad_values() {
        let mut c = Config::default();
        c.litellm_settings.set_verbose = true;
        assert_eq!(
            log_settings(&c, &vars(&[]), false, false).unwrap().level,
            Level::Debug
        );
        assert_eq!(
            log_settings(&c, &vars(&[("LITELLM_LOG", "ERROR")]), false, false)
                .unwrap()
                .level,
            Level::Error
        );
        assert_eq!(
            log_settings(&c, &vars(&[("LITELLM_LOG", "ERROR")]), true, false)
                .unwrap()
                .level,
            Level::Debug
        );
        let err = log_settings(&c, &vars(&[("LITELLM_LOG", "LOUD")]), false, false).unwrap_err();
        assert!(err.contains("LITELLM_LOG") && err.contains("LOUD"));
    }
}
