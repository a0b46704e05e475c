//! Checks across keys, after the merge: model groups named by fallbacks and aliases exist,
//! deployment ids are unique, credentials exist, the master key has LiteLLM's shape.
//!
//! Key-local rules (types, ranges, required keys, routing strategy names) are in the walk.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value as Json;

use crate::error::{Sink, child, item};
use crate::load::Merged;
use crate::suggest::hint;
use crate::types::Config;

pub(crate) fn check(merged: &Merged, config: &Config, sink: &mut Sink) {
    let groups = Groups::new(config);
    for section in ["router_settings", "litellm_settings"] {
        let Some((file, Json::Object(settings))) = merged.section_with_file(section) else {
            continue;
        };
        for key in [
            "fallbacks",
            "context_window_fallbacks",
            "content_policy_fallbacks",
        ] {
            if let Some(Json::Array(rules)) = settings.get(key) {
                check_fallbacks(&groups, rules, file, &child(section, key), sink);
            }
        }
        if let Some(Json::Array(names)) = settings.get("default_fallbacks") {
            for (i, name) in names.iter().enumerate() {
                if let Some(name) = name.as_str() {
                    groups.require(
                        name,
                        file,
                        &item(&child(section, "default_fallbacks"), i),
                        sink,
                    );
                }
            }
        }
        let alias_key = if section == "router_settings" {
            "model_group_alias"
        } else {
            "model_group_alias_map"
        };
        if let Some(Json::Object(aliases)) = settings.get(alias_key) {
            for (alias, target) in aliases {
                if let Some(model) = target.get("model").and_then(Json::as_str) {
                    groups.require(model, file, &child(&child(section, alias_key), alias), sink);
                }
            }
        }
    }
    check_ids(merged, config, sink);
    check_credentials(merged, config, sink);
    if let Some(key) = &config.general_settings.master_key
        && !key.expose().starts_with("sk-")
        && let Some((file, _)) = merged.section_with_file("general_settings")
    {
        // LiteLLM refuses to start with such a key; the value itself is never shown.
        sink.push(
            file,
            "general_settings.master_key",
            "must start with `sk-` (LiteLLM refuses other master keys)",
        );
    }
}

fn check_fallbacks(groups: &Groups<'_>, rules: &[Json], file: &Path, path: &str, sink: &mut Sink) {
    for (i, rule) in rules.iter().enumerate() {
        let Some(rule) = rule.as_object() else {
            continue;
        };
        let rule_path = item(path, i);
        for (from, targets) in rule {
            let from_path = child(&rule_path, from);
            // `"*"` applies to every group.
            if from != "*" {
                groups.require(from, file, &from_path, sink);
            }
            for (j, target) in targets.as_array().into_iter().flatten().enumerate() {
                if let Some(target) = target.as_str() {
                    groups.require(target, file, &item(&from_path, j), sink);
                }
            }
        }
    }
}

/// The model groups of `model_list`, for "does this group exist" questions.
struct Groups<'a> {
    exact: BTreeSet<&'a str>,
    wildcards: Vec<&'a str>,
    aliases: BTreeSet<&'a str>,
}

impl<'a> Groups<'a> {
    fn new(config: &'a Config) -> Self {
        let mut exact = BTreeSet::new();
        let mut wildcards = Vec::new();
        for deployment in &config.model_list {
            let name = deployment.model_name.as_str();
            if name.contains('*') {
                wildcards.push(name);
            } else if !name.is_empty() {
                exact.insert(name);
            }
        }
        // An alias is a name clients (and fallbacks) may use for its group.
        let aliases = config
            .router_settings
            .model_group_alias
            .keys()
            .chain(config.litellm_settings.model_group_alias_map.keys())
            .map(String::as_str)
            .collect();
        Self {
            exact,
            wildcards,
            aliases,
        }
    }

    fn contains(&self, name: &str) -> bool {
        self.exact.contains(name)
            || self.aliases.contains(name)
            || self.wildcards.iter().any(|pattern| glob(pattern, name))
    }

    fn require(&self, name: &str, file: &Path, path: &str, sink: &mut Sink) {
        if self.contains(name) {
            return;
        }
        let known: Vec<&str> = self.exact.iter().copied().collect();
        let hint = hint(name, &known);
        sink.push(
            file,
            path,
            format!("model group `{name}` is not in model_list{hint}"),
        );
    }
}

/// `*` matches any run of characters (LiteLLM turns `*` into `.*`).
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = match parts.split_first() {
        Some(split) => split,
        None => return pattern == name,
    };
    let Some(mut remaining) = name.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

fn check_ids(merged: &Merged, config: &Config, sink: &mut Sink) {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (deployment, located) in config.model_list.iter().zip(&merged.model_list) {
        let Some(id) = deployment.model_info.id.as_deref() else {
            continue;
        };
        if let Some(first) = seen.get(id) {
            let path = format!("model_list[{}].model_info.id", located.index);
            sink.push(
                &located.file,
                &path,
                format!("duplicate deployment id `{id}` (also used by {first})"),
            );
        } else {
            seen.insert(id, &deployment.origin);
        }
    }
}

fn check_credentials(merged: &Merged, config: &Config, sink: &mut Sink) {
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for (credential, located) in config.credential_list.iter().zip(&merged.credential_list) {
        let name = credential.credential_name.as_str();
        if !name.is_empty() && !names.insert(name) {
            let path = format!("credential_list[{}].credential_name", located.index);
            sink.push(
                &located.file,
                &path,
                format!("duplicate credential name `{name}`"),
            );
        }
    }
    let known: Vec<&str> = names.iter().copied().collect();
    for (deployment, located) in config.model_list.iter().zip(&merged.model_list) {
        let Some(name) = deployment.litellm_params.litellm_credential_name.as_deref() else {
            continue;
        };
        if !names.contains(name) {
            let path = format!(
                "model_list[{}].litellm_params.litellm_credential_name",
                located.index
            );
            let hint = hint(name, &known);
            sink.push(
                &located.file,
                &path,
                format!("credential `{name}` is not in credential_list{hint}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_litellm_wildcards() {
        assert!(glob("*", "anything/at-all"));
        assert!(glob("openai/*", "openai/gpt-4o"));
        assert!(!glob("openai/*", "anthropic/claude"));
        assert!(glob("gpt-*-mini", "gpt-4o-mini"));
        assert!(!glob("gpt-*-mini", "gpt-4o"));
        assert!(glob("exact", "exact"));
        assert!(!glob("a*a", "a"));
    }
}
