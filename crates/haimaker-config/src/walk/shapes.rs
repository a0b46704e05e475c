//! The walk for values with a shape of their own: fallback lists, alias maps, webhook maps.
//!
//! Each is normalized to one JSON shape so `convert.rs` reads a single form.

use serde_json::{Map, Value as Json};
use serde_yaml::Value as Yaml;

use super::Walker;
use crate::coerce::Scalar;
use crate::error::{child, item};
use crate::schema::ALIAS_TARGET;

impl Walker<'_> {
    /// `[{"gpt-4o": ["gpt-4o-mini", "claude"]}, ...]`, kept in that shape.
    pub(super) fn fallbacks(&mut self, value: &Yaml, path: &str) -> Option<Json> {
        let Yaml::Sequence(items) = value else {
            return self.mismatch(
                path,
                "a list of `{group: [fallback, ...]}` maps",
                value,
                false,
            );
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, entry) in items.iter().enumerate() {
            let entry_path = item(path, index);
            let Yaml::Mapping(rule) = entry else {
                self.mismatch(
                    &entry_path,
                    "a map like `{gpt-4o: [gpt-4o-mini]}`",
                    entry,
                    false,
                );
                continue;
            };
            let mut rules = Map::new();
            for (key, targets) in rule {
                let Some(from) = self.key_name(key, &entry_path) else {
                    continue;
                };
                let from_path = child(&entry_path, from);
                if let Some(json) = self.str_list(targets, &from_path, false, false) {
                    rules.insert(from.to_owned(), json);
                }
            }
            out.push(Json::Object(rules));
        }
        Some(Json::Array(out))
    }

    /// `alias: group` or `alias: {model: group, hidden: true}`, normalized to the map form.
    pub(super) fn alias_map(&mut self, value: &Yaml, path: &str) -> Option<Json> {
        let Yaml::Mapping(map) = value else {
            return self.mismatch(path, "a map of alias to model group", value, false);
        };
        let mut out = Map::new();
        for (key, target) in map {
            let Some(alias) = self.key_name(key, path) else {
                continue;
            };
            let alias_path = child(path, alias);
            let normalized = match target {
                Yaml::Mapping(_) => self.section(&ALIAS_TARGET, target, &alias_path),
                _ => self
                    .scalar(Scalar::Str, target, &alias_path, false)
                    .map(|model| {
                        let mut m = Map::new();
                        m.insert("model".to_owned(), model);
                        m
                    }),
            };
            if let Some(normalized) = normalized {
                out.insert(alias.to_owned(), Json::Object(normalized));
            }
        }
        Some(Json::Object(out))
    }

    /// `alert_type: url` or `alert_type: [url, ...]`, normalized to lists. Webhook URLs carry
    /// tokens, so they are treated as secrets in messages.
    pub(super) fn webhook_map(&mut self, value: &Yaml, path: &str) -> Option<Json> {
        let Yaml::Mapping(map) = value else {
            return self.mismatch(path, "a map of alert type to webhook URL(s)", value, false);
        };
        let mut out = Map::new();
        for (key, urls) in map {
            let Some(alert) = self.key_name(key, path) else {
                continue;
            };
            if let Some(json) = self.str_list(urls, &child(path, alert), true, true) {
                out.insert(alert.to_owned(), json);
            }
        }
        Some(Json::Object(out))
    }
}
