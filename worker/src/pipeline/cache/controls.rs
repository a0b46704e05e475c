//! Per-request cache controls (reference 11.2), read from the body before the gateway-only keys
//! are taken out of it:
//!
//! * `cache: {"no-cache": true}`: do not read the cache (the answer is still stored);
//! * `cache: {"no-store": true}`: do not store the answer;
//! * `cache: {"ttl": N}`: store it for N seconds (wins over `cache_params.ttl`);
//! * `cache: {"s-maxage": N}` (or `s-max-age`): accept only an entry younger than N seconds;
//! * `cache: {"namespace": "x"}`: key prefix `x:` (wins over `metadata.redis_namespace` and
//!   `cache_params.namespace`);
//! * `cache: {"use-cache": true}`: opt in when `cache_params.mode` is `default_off`;
//! * top level `caching: false`: neither read nor store; top level `ttl: N`: the TTL when
//!   `cache_params` sets none (LiteLLM's order).
//!
//! Values of the wrong type are ignored, as LiteLLM ignores what it does not recognise; numbers
//! may arrive as numeric strings.

use std::time::Duration;

use haimaker_openai::RequestBody;
use serde_json::Value;

use crate::state::seconds;

/// What one request asks of the cache.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Controls {
    pub no_cache: bool,
    pub no_store: bool,
    /// `cache.ttl`.
    pub ttl: Option<Duration>,
    /// `cache.s-maxage`, seconds.
    pub s_maxage: Option<f64>,
    /// `cache.namespace`, else `metadata.redis_namespace`.
    pub namespace: Option<String>,
    /// `cache.use-cache` (for `mode: default_off`).
    pub use_cache: bool,
    /// Top-level `caching: false`.
    pub caching_off: bool,
    /// Top-level `ttl`.
    pub top_level_ttl: Option<Duration>,
    /// Every key of the `cache` object, for the key's `allowed_cache_controls`.
    pub named: Vec<String>,
}

impl Controls {
    /// Reads the controls; cheap when the body has none of the keys (the common case).
    pub fn from_body(body: &RequestBody) -> Self {
        let mut controls = Self::default();
        if let Ok(Some(Value::Object(cache))) = body.typed::<Value>("cache", "") {
            controls.no_cache = flag(cache.get("no-cache"));
            controls.no_store = flag(cache.get("no-store"));
            controls.use_cache = flag(cache.get("use-cache"));
            controls.ttl = number(cache.get("ttl")).and_then(seconds);
            controls.s_maxage = number(cache.get("s-maxage"))
                .or_else(|| number(cache.get("s-max-age")))
                .filter(|s| *s >= 0.0);
            controls.namespace = text(cache.get("namespace"));
            controls.named = cache.keys().cloned().collect();
        }
        // Most requests carry metadata and few name a namespace in it: parse it only then.
        if controls.namespace.is_none()
            && body
                .get("metadata")
                .is_some_and(|raw| raw.get().contains("redis_namespace"))
            && let Ok(Some(Value::Object(metadata))) = body.typed::<Value>("metadata", "")
        {
            controls.namespace = text(metadata.get("redis_namespace"));
        }
        controls.caching_off = matches!(
            body.typed::<Value>("caching", ""),
            Ok(Some(Value::Bool(false)))
        );
        controls.top_level_ttl = body
            .typed::<Value>("ttl", "")
            .ok()
            .flatten()
            .as_ref()
            .and_then(|v| number(Some(v)))
            .and_then(seconds);
        controls
    }
}

fn flag(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn controls(json: &str) -> Controls {
        Controls::from_body(&RequestBody::parse(json.as_bytes()).unwrap())
    }

    #[test]
    fn nothing_set_is_the_default() {
        assert_eq!(
            controls(r#"{"model":"m","messages":[]}"#),
            Controls::default()
        );
    }

    #[test]
    fn reads_every_control() {
        let c = controls(
            r#"{"cache":{"no-cache":true,"no-store":true,"ttl":"2.5","s-maxage":10,"namespace":"ns","use-cache":true},"caching":false,"ttl":7}"#,
        );
        assert!(c.no_cache && c.no_store && c.use_cache && c.caching_off);
        assert_eq!(c.ttl, Some(Duration::from_millis(2500)));
        assert_eq!(c.s_maxage, Some(10.0));
        assert_eq!(c.namespace.as_deref(), Some("ns"));
        assert_eq!(c.top_level_ttl, Some(Duration::from_secs(7)));
    }

    #[test]
    fn s_max_age_spelling_and_metadata_namespace() {
        let c = controls(r#"{"cache":{"s-max-age":0},"metadata":{"redis_namespace":"team-a"}}"#);
        assert_eq!(c.s_maxage, Some(0.0));
        assert_eq!(c.namespace.as_deref(), Some("team-a"));
        let c = controls(r#"{"cache":{"namespace":"x"},"metadata":{"redis_namespace":"y"}}"#);
        assert_eq!(c.namespace.as_deref(), Some("x"));
    }

    #[test]
    fn wrong_types_are_ignored() {
        let c = controls(r#"{"cache":"yes","caching":"no","ttl":-1}"#);
        assert_eq!(c, Controls::default());
        let c = controls(r#"{"cache":{"ttl":-5,"s-maxage":-1,"no-cache":1,"namespace":""}}"#);
        // The keys are still named (for `allowed_cache_controls`); their values count for nothing.
        assert_eq!(c.named.len(), 4);
        assert_eq!(
            Controls {
                named: Vec::new(),
                ..c
            },
            Controls::default()
        );
    }
}
