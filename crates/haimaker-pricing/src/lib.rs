//! The model price map bundled into haimaker, and the cost of a call.
//!
//! The data is LiteLLM's `model_prices_and_context_window_backup.json` (MIT,
//! see `data/LICENSE-litellm` and `data/SOURCE`), compiled into the binary so
//! that costs match LiteLLM's without fetching anything at start-up. The crate
//! computes `prompt * input + completion * output` (+ cache read/creation
//! prices) and answers `/model/info` style questions about a model.
//!
//! What it must not do: any I/O beyond the bundled bytes (no network, no
//! files, no environment), and fail a request: an unknown model or a
//! malformed entry prices at zero, never an error or a panic.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The bundled LiteLLM price map, verbatim.
const BUNDLED_JSON: &str = include_str!("../data/model_prices.json");

/// Where the bundled map comes from (package, version, wheel sha256).
pub const BUNDLED_SOURCE: &str = include_str!("../data/SOURCE");

/// The documentation entry of the LiteLLM file: not a model.
const SAMPLE_SPEC: &str = "sample_spec";

/// Per-token prices (USD) of one model.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Prices {
    pub input_cost_per_token: f64,
    pub output_cost_per_token: f64,
    /// Price of a prompt token read from the provider's cache; `None` bills
    /// it at the input price.
    pub cache_read_input_token_cost: Option<f64>,
    /// Price of a token written to the provider's cache (Anthropic-style);
    /// `None` bills it at the input price.
    pub cache_creation_input_token_cost: Option<f64>,
}

/// Token counts of one call, as read from an OpenAI `usage` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenUsage {
    /// `usage.prompt_tokens`, including the cached ones below.
    pub prompt_tokens: u64,
    /// `usage.completion_tokens`.
    pub completion_tokens: u64,
    /// `usage.prompt_tokens_details.cached_tokens`: part of `prompt_tokens`,
    /// billed at the cache-read price instead of the input price.
    pub cached_prompt_tokens: u64,
    /// Tokens written to the cache (Anthropic `cache_creation_input_tokens`):
    /// NOT part of `prompt_tokens`, billed on top at the cache-creation price.
    pub cache_creation_tokens: u64,
}

impl Prices {
    /// USD cost of one call.
    pub fn cost(&self, usage: &TokenUsage) -> f64 {
        // A provider reporting more cached than prompt tokens is buggy; clamp
        // so the uncached count cannot underflow.
        let cached = usage.cached_prompt_tokens.min(usage.prompt_tokens);
        let uncached = usage.prompt_tokens - cached;
        let cache_read = self
            .cache_read_input_token_cost
            .unwrap_or(self.input_cost_per_token);
        let cache_creation = self
            .cache_creation_input_token_cost
            .unwrap_or(self.input_cost_per_token);
        uncached as f64 * self.input_cost_per_token
            + cached as f64 * cache_read
            + usage.cache_creation_tokens as f64 * cache_creation
            + usage.completion_tokens as f64 * self.output_cost_per_token
    }
}

/// One model of the price map.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    /// The key in the map, e.g. `"azure/gpt-4o"`.
    pub name: String,
    /// Token prices; a price the entry lacks (or has unparsable) is 0 here.
    pub prices: Prices,
    /// `"chat"`, `"embedding"`, `"completion"`, `"image_generation"`, ...
    pub mode: Option<String>,
    /// `"openai"`, `"azure"`, `"anthropic"`, ... (empty if the entry has none).
    pub litellm_provider: String,
    pub max_tokens: Option<u64>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
    /// The entry as it is in the file; parsed only when `info()` asks, since
    /// most processes never serve `/model/info`.
    raw: Box<RawValue>,
}

impl ModelEntry {
    /// Every field of the JSON entry, for `/model/info`.
    pub fn info(&self) -> Map<String, Value> {
        // Only JSON objects are kept as entries, so this cannot fail; an
        // empty map is the harmless answer if it ever did.
        serde_json::from_str(self.raw.get()).unwrap_or_default()
    }
}

/// Why a price map could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum PriceMapError {
    /// Not JSON, or not an object of model names to entries.
    Json(serde_json::Error),
}

impl fmt::Display for PriceMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriceMapError::Json(e) => write!(f, "invalid model price map: {e}"),
        }
    }
}

impl std::error::Error for PriceMapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PriceMapError::Json(e) => Some(e),
        }
    }
}

/// Model name -> prices and limits, in LiteLLM's format.
pub struct PriceMap {
    entries: HashMap<String, ModelEntry>,
}

impl fmt::Debug for PriceMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Over a thousand entries: the count is what a log line wants.
        f.debug_struct("PriceMap")
            .field("len", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl PriceMap {
    /// The bundled map, parsed once on first use.
    pub fn bundled() -> &'static PriceMap {
        static BUNDLED: OnceLock<PriceMap> = OnceLock::new();
        BUNDLED.get_or_init(|| {
            // A malformed bundled file is a build-time bug caught by the
            // `bundled_map_parses` test; at run time an empty map (every
            // model free) beats a crash.
            PriceMap::from_json(BUNDLED_JSON).unwrap_or_else(|_| PriceMap {
                entries: HashMap::new(),
            })
        })
    }

    /// Parse a map in LiteLLM's format. Entries that are not objects and the
    /// `sample_spec` entry are skipped; unparsable fields are left out.
    pub fn from_json(text: &str) -> Result<PriceMap, PriceMapError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let entries = de
            .deserialize_map(EntriesVisitor)
            .and_then(|entries| de.end().map(|()| entries))
            .map_err(PriceMapError::Json)?;
        Ok(PriceMap { entries })
    }

    /// Exact key lookup.
    pub fn get(&self, name: &str) -> Option<&ModelEntry> {
        self.entries.get(name)
    }

    /// LiteLLM-style lookup for a deployment. Tries, in order: `base_model`
    /// as is, then without its provider prefix, then
    /// `"<provider>/<base_model without prefix>"`; `"<provider>/<model>"`;
    /// `model` as is; and last `model` without a leading `"<provider>/"`.
    /// Returns the first hit.
    pub fn lookup(
        &self,
        provider: &str,
        model: &str,
        base_model: Option<&str>,
    ) -> Option<&ModelEntry> {
        if let Some(base) = base_model.filter(|b| !b.is_empty()) {
            if let Some(hit) = self.get(base) {
                return Some(hit);
            }
            let bare = strip_any_prefix(base);
            if bare != base
                && let Some(hit) = self.get(bare)
            {
                return Some(hit);
            }
            if let Some(hit) = self.get_prefixed(provider, bare) {
                return Some(hit);
            }
        }
        // `model` may already carry its provider (`"azure/gpt-4o"`); then the
        // prefixed form is `model` itself, not `"azure/azure/gpt-4o"`.
        let stripped = strip_prefix(provider, model);
        if stripped.is_none()
            && let Some(hit) = self.get_prefixed(provider, model)
        {
            return Some(hit);
        }
        self.get(model)
            .or_else(|| stripped.and_then(|s| self.get(s)))
    }

    /// `"<provider>/<name>"`, if there is a provider.
    fn get_prefixed(&self, provider: &str, name: &str) -> Option<&ModelEntry> {
        if provider.is_empty() {
            return None;
        }
        self.get(&format!("{provider}/{name}"))
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &ModelEntry> {
        self.entries.values()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// `name` without a leading `"<provider>/"`, if it has one.
fn strip_prefix<'a>(provider: &str, name: &'a str) -> Option<&'a str> {
    if provider.is_empty() {
        return None;
    }
    name.strip_prefix(provider)?.strip_prefix('/')
}

/// `name` without its first `/`-separated segment (`"azure/gpt-4o"` ->
/// `"gpt-4o"`); `name` itself if it has no `/`.
fn strip_any_prefix(name: &str) -> &str {
    name.split_once('/').map_or(name, |(_, rest)| rest)
}

/// Resolve the prices for a deployment: explicit overrides (deployment or
/// `model_info` costs) win per field; otherwise the map entry; otherwise zero
/// (unknown model: cost 0, never an error). Cache prices always come from the
/// entry, as LiteLLM merges a deployment's custom costs into the map entry.
pub fn resolve_prices(
    entry: Option<&ModelEntry>,
    input_override: Option<f64>,
    output_override: Option<f64>,
) -> Prices {
    let base = entry.map(|e| e.prices).unwrap_or_default();
    Prices {
        input_cost_per_token: input_override
            .and_then(valid_price)
            .unwrap_or(base.input_cost_per_token),
        output_cost_per_token: output_override
            .and_then(valid_price)
            .unwrap_or(base.output_cost_per_token),
        ..base
    }
}

/// A price must be a finite, non-negative number; anything else is treated
/// as absent so that it cannot poison spend totals.
fn valid_price(p: f64) -> Option<f64> {
    (p.is_finite() && p >= 0.0).then_some(p)
}

/// The top-level object, entry by entry, without building an intermediate
/// map of raw values.
struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = HashMap<String, ModelEntry>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of model names to entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = HashMap::with_capacity(map.size_hint().unwrap_or(2048));
        while let Some(name) = map.next_key::<String>()? {
            let raw: Box<RawValue> = map.next_value()?;
            if name == SAMPLE_SPEC {
                continue;
            }
            if let Some(fields) = CompactEntry::parse(&raw) {
                // A repeated key replaces the earlier one, as Python's json
                // module (and so LiteLLM) does.
                entries.insert(name.clone(), fields.into_entry(name, raw));
            }
        }
        Ok(entries)
    }
}

/// The fields of an entry needed to price a call, read leniently: a field of
/// the wrong type is absent, not an error.
#[derive(Deserialize)]
struct CompactEntry {
    #[serde(default, deserialize_with = "lenient_price")]
    input_cost_per_token: Option<f64>,
    #[serde(default, deserialize_with = "lenient_price")]
    output_cost_per_token: Option<f64>,
    #[serde(default, deserialize_with = "lenient_price")]
    cache_read_input_token_cost: Option<f64>,
    #[serde(default, deserialize_with = "lenient_price")]
    cache_creation_input_token_cost: Option<f64>,
    #[serde(default, deserialize_with = "lenient_string")]
    mode: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    litellm_provider: Option<String>,
    #[serde(default, deserialize_with = "lenient_count")]
    max_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    max_input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    max_output_tokens: Option<u64>,
}

impl CompactEntry {
    /// `None` if the entry is not a JSON object.
    fn parse(raw: &RawValue) -> Option<CompactEntry> {
        serde_json::from_str(raw.get()).ok().or_else(|| {
            // The derived reader rejects a field given twice; go through a
            // map (last one wins, like Python) for such rare entries.
            let map: Map<String, Value> = serde_json::from_str(raw.get()).ok()?;
            CompactEntry::deserialize(Value::Object(map)).ok()
        })
    }

    fn into_entry(self, name: String, raw: Box<RawValue>) -> ModelEntry {
        ModelEntry {
            name,
            prices: Prices {
                input_cost_per_token: self.input_cost_per_token.unwrap_or(0.0),
                output_cost_per_token: self.output_cost_per_token.unwrap_or(0.0),
                cache_read_input_token_cost: self.cache_read_input_token_cost,
                cache_creation_input_token_cost: self.cache_creation_input_token_cost,
            },
            mode: self.mode,
            litellm_provider: self.litellm_provider.unwrap_or_default(),
            max_tokens: self.max_tokens,
            max_input_tokens: self.max_input_tokens,
            max_output_tokens: self.max_output_tokens,
            raw,
        }
    }
}

/// A number, or a string holding one; anything else is absent.
fn lenient_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn lenient_price<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(lenient_number(&Value::deserialize(d)?).and_then(valid_price))
}

/// Token counts: some entries write them as floats (`2000000.0`); the
/// documentation entry writes prose.
fn lenient_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Value::deserialize(d)?;
    if let Some(n) = v.as_u64() {
        return Ok(Some(n));
    }
    Ok(lenient_number(&v)
        .filter(|n| n.is_finite() && *n >= 0.0 && n.fract() == 0.0 && *n <= u64::MAX as f64)
        .map(|n| n as u64))
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(Some(s)),
        _ => Ok(None),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// For realistic prices (not exactly representable); the small-number
    /// tests compare exactly.
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    const SMALL: &str = r#"{
        "sample_spec": {"input_cost_per_token": 0.0, "max_tokens": "LEGACY parameter"},
        "gpt-4o": {"litellm_provider": "openai", "mode": "chat",
                   "input_cost_per_token": 2.0, "output_cost_per_token": 8.0,
                   "cache_read_input_token_cost": 1.0,
                   "max_tokens": 16384, "max_input_tokens": 128000, "max_output_tokens": 16384,
                   "supports_vision": true},
        "azure/gpt-4o": {"litellm_provider": "azure", "mode": "chat",
                         "input_cost_per_token": 3.0, "output_cost_per_token": 9.0},
        "gpt-4o-mini": {"litellm_provider": "openai", "input_cost_per_token": 0.5,
                        "output_cost_per_token": 1.5},
        "vertex_ai/only-prefixed": {"litellm_provider": "vertex_ai",
                                    "input_cost_per_token": 7.0, "output_cost_per_token": 7.0},
        "stringy": {"input_cost_per_token": "0.25", "output_cost_per_token": "n/a",
                    "cache_read_input_token_cost": null, "max_tokens": 2000000.0,
                    "max_input_tokens": "lots", "mode": 5},
        "negative": {"input_cost_per_token": -1.0, "output_cost_per_token": 1.0},
        "twice": {"input_cost_per_token": 1.0, "input_cost_per_token": 4.0},
        "not-an-object": 42,
        "dup": {"input_cost_per_token": 1.0},
        "dup": {"input_cost_per_token": 2.0}
    }"#;

    fn small() -> PriceMap {
        PriceMap::from_json(SMALL).unwrap()
    }

    #[test]
    fn bundled_map_parses() {
        // Surfaces the parse error itself, which `bundled()` swallows.
        let map = PriceMap::from_json(BUNDLED_JSON).unwrap();
        assert!(map.len() > 1000, "only {} entries", map.len());
        assert_eq!(PriceMap::bundled().len(), map.len());
        assert!(map.get(SAMPLE_SPEC).is_none());
    }

    #[test]
    fn bundled_gpt_4o_has_prices_and_info() {
        let e = PriceMap::bundled().get("gpt-4o").unwrap();
        assert!(e.prices.input_cost_per_token > 0.0);
        assert!(e.prices.output_cost_per_token > 0.0);
        assert_eq!(e.litellm_provider, "openai");
        assert_eq!(e.mode.as_deref(), Some("chat"));
        assert!(e.max_input_tokens.unwrap() > 0);
        let info = e.info();
        assert_eq!(info.get("supports_vision"), Some(&Value::Bool(true)));
        assert_eq!(info.get("litellm_provider"), Some(&Value::from("openai")));
    }

    #[test]
    fn bundled_source_names_the_package() {
        assert!(BUNDLED_SOURCE.contains("package: litellm"));
    }

    #[test]
    fn entry_fields_and_info() {
        let map = small();
        let e = map.get("gpt-4o").unwrap();
        assert_eq!(e.name, "gpt-4o");
        assert_eq!(
            e.prices,
            Prices {
                input_cost_per_token: 2.0,
                output_cost_per_token: 8.0,
                cache_read_input_token_cost: Some(1.0),
                cache_creation_input_token_cost: None,
            }
        );
        assert_eq!(e.max_tokens, Some(16384));
        assert_eq!(e.max_input_tokens, Some(128000));
        assert_eq!(e.max_output_tokens, Some(16384));
        let info = e.info();
        assert_eq!(info.len(), 9);
        assert_eq!(info["supports_vision"], Value::Bool(true));
    }

    #[test]
    fn skips_sample_spec_and_non_objects() {
        let map = small();
        assert!(map.get(SAMPLE_SPEC).is_none());
        assert!(map.get("not-an-object").is_none());
        assert_eq!(map.len(), 8);
        assert_eq!(map.iter().count(), 8);
    }

    #[test]
    fn lenient_fields() {
        let map = small();
        let e = map.get("stringy").unwrap();
        assert_eq!(e.prices.input_cost_per_token, 0.25);
        assert_eq!(e.prices.output_cost_per_token, 0.0);
        assert_eq!(e.prices.cache_read_input_token_cost, None);
        assert_eq!(e.max_tokens, Some(2_000_000));
        assert_eq!(e.max_input_tokens, None);
        assert_eq!(e.mode, None);
        assert_eq!(e.litellm_provider, "");
        assert_eq!(
            map.get("negative").unwrap().prices.input_cost_per_token,
            0.0
        );
    }

    #[test]
    fn repeated_keys_last_wins() {
        let map = small();
        assert_eq!(map.get("dup").unwrap().prices.input_cost_per_token, 2.0);
        assert_eq!(map.get("twice").unwrap().prices.input_cost_per_token, 4.0);
    }

    #[test]
    fn lookup_base_model_wins() {
        let map = small();
        let hit = map.lookup("azure", "my-deployment", Some("gpt-4o-mini"));
        assert_eq!(hit.unwrap().name, "gpt-4o-mini");
        // Even over a model name that is itself in the map.
        let hit = map.lookup("openai", "gpt-4o", Some("gpt-4o-mini"));
        assert_eq!(hit.unwrap().name, "gpt-4o-mini");
        // Prefixed base model: as is first...
        let hit = map.lookup("openai", "x", Some("azure/gpt-4o"));
        assert_eq!(hit.unwrap().name, "azure/gpt-4o");
        // ...then without its prefix...
        let hit = map.lookup("azure", "x", Some("azure/gpt-4o-mini"));
        assert_eq!(hit.unwrap().name, "gpt-4o-mini");
        // ...then under the deployment's provider.
        let hit = map.lookup("vertex_ai", "x", Some("only-prefixed"));
        assert_eq!(hit.unwrap().name, "vertex_ai/only-prefixed");
        // An unknown base model falls back to the model.
        let hit = map.lookup("openai", "gpt-4o", Some("nope"));
        assert_eq!(hit.unwrap().name, "gpt-4o");
    }

    #[test]
    fn lookup_provider_prefixed_wins_over_bare() {
        let map = small();
        assert_eq!(
            map.lookup("azure", "gpt-4o", None).unwrap().name,
            "azure/gpt-4o"
        );
        assert_eq!(map.lookup("openai", "gpt-4o", None).unwrap().name, "gpt-4o");
        assert_eq!(map.lookup("", "gpt-4o", None).unwrap().name, "gpt-4o");
        // A model that already carries its provider is not prefixed twice.
        assert_eq!(
            map.lookup("azure", "azure/gpt-4o", None).unwrap().name,
            "azure/gpt-4o"
        );
        // And falls back to its bare name.
        assert_eq!(
            map.lookup("openai", "openai/gpt-4o-mini", None)
                .unwrap()
                .name,
            "gpt-4o-mini"
        );
        assert!(map.lookup("openai", "unknown", None).is_none());
        assert!(map.lookup("openai", "unknown", Some("")).is_none());
    }

    #[test]
    fn cost_plain() {
        let p = Prices {
            input_cost_per_token: 2.0,
            output_cost_per_token: 8.0,
            ..Prices::default()
        };
        let u = TokenUsage {
            prompt_tokens: 10,
            completion_tokens: 5,
            ..TokenUsage::default()
        };
        assert_eq!(p.cost(&u), 10.0 * 2.0 + 5.0 * 8.0);
        assert_eq!(p.cost(&TokenUsage::default()), 0.0);
    }

    #[test]
    fn cost_with_cache_prices() {
        let p = Prices {
            input_cost_per_token: 2.0,
            output_cost_per_token: 8.0,
            cache_read_input_token_cost: Some(0.5),
            cache_creation_input_token_cost: Some(2.5),
        };
        let u = TokenUsage {
            prompt_tokens: 10,
            completion_tokens: 5,
            cached_prompt_tokens: 4,
            cache_creation_tokens: 3,
        };
        // 6 uncached * 2 + 4 cached * 0.5 + 3 created * 2.5 + 5 out * 8
        assert_eq!(p.cost(&u), 12.0 + 2.0 + 7.5 + 40.0);
    }

    #[test]
    fn cost_cache_tokens_without_cache_prices_bill_at_input() {
        let p = Prices {
            input_cost_per_token: 2.0,
            output_cost_per_token: 8.0,
            ..Prices::default()
        };
        let u = TokenUsage {
            prompt_tokens: 10,
            completion_tokens: 0,
            cached_prompt_tokens: 4,
            cache_creation_tokens: 3,
        };
        assert_eq!(p.cost(&u), 10.0 * 2.0 + 3.0 * 2.0);
    }

    #[test]
    fn cost_clamps_cached_to_prompt() {
        let p = Prices {
            input_cost_per_token: 2.0,
            output_cost_per_token: 0.0,
            cache_read_input_token_cost: Some(1.0),
            cache_creation_input_token_cost: None,
        };
        let u = TokenUsage {
            prompt_tokens: 3,
            cached_prompt_tokens: 10,
            ..TokenUsage::default()
        };
        assert_eq!(p.cost(&u), 3.0);
    }

    #[test]
    fn cost_real_prices() {
        // gpt-4o style prices: 1000 in, 500 cached of them, 200 out.
        let p = Prices {
            input_cost_per_token: 2.5e-6,
            output_cost_per_token: 1e-5,
            cache_read_input_token_cost: Some(1.25e-6),
            cache_creation_input_token_cost: None,
        };
        let u = TokenUsage {
            prompt_tokens: 1000,
            completion_tokens: 200,
            cached_prompt_tokens: 500,
            cache_creation_tokens: 0,
        };
        assert!(close(
            p.cost(&u),
            500.0 * 2.5e-6 + 500.0 * 1.25e-6 + 200.0 * 1e-5
        ));
    }

    #[test]
    fn overrides_win_per_field() {
        let map = small();
        let e = map.get("gpt-4o");
        assert_eq!(resolve_prices(e, None, None), e.unwrap().prices);
        let p = resolve_prices(e, Some(0.1), None);
        assert_eq!(p.input_cost_per_token, 0.1);
        assert_eq!(p.output_cost_per_token, 8.0);
        assert_eq!(p.cache_read_input_token_cost, Some(1.0));
        let p = resolve_prices(e, None, Some(0.2));
        assert_eq!(p.input_cost_per_token, 2.0);
        assert_eq!(p.output_cost_per_token, 0.2);
        let p = resolve_prices(e, Some(0.0), Some(0.0));
        assert_eq!(
            (p.input_cost_per_token, p.output_cost_per_token),
            (0.0, 0.0)
        );
        // Nonsense overrides are ignored, not propagated into spend.
        let p = resolve_prices(e, Some(f64::NAN), Some(-1.0));
        assert_eq!(
            (p.input_cost_per_token, p.output_cost_per_token),
            (2.0, 8.0)
        );
    }

    #[test]
    fn unknown_model_is_free() {
        let map = small();
        let p = resolve_prices(map.lookup("openai", "mystery", None), None, None);
        assert_eq!(p, Prices::default());
        let u = TokenUsage {
            prompt_tokens: 100,
            completion_tokens: 100,
            cached_prompt_tokens: 50,
            cache_creation_tokens: 7,
        };
        assert_eq!(p.cost(&u), 0.0);
        // Overrides still apply to a model the map does not know.
        let p = resolve_prices(None, Some(1.0), Some(2.0));
        assert_eq!(p.cost(&u), 100.0 + 7.0 + 200.0);
    }

    #[test]
    fn malformed_json_is_an_error() {
        for bad in [
            "",
            "{",
            "[1, 2]",
            "42",
            r#"{"a": {"input_cost_per_token": 1}"#,
            r#"{"a": {}} trailing"#,
            r#"{"a": {"b": 1,}}"#,
        ] {
            let err = PriceMap::from_json(bad).unwrap_err();
            assert!(err.to_string().starts_with("invalid model price map"));
        }
        assert!(PriceMap::from_json("{}").unwrap().is_empty());
    }

    /// `cargo test --release -p haimaker-pricing -- --ignored --nocapture`
    #[test]
    #[ignore = "timing, run by hand in release mode"]
    fn parse_time() {
        let runs = 20;
        let start = std::time::Instant::now();
        for _ in 0..runs {
            let map = PriceMap::from_json(BUNDLED_JSON).unwrap();
            assert!(map.len() > 1000);
        }
        let per = start.elapsed() / runs;
        println!(
            "parsed {} bytes into {} entries in {per:?} per run",
            BUNDLED_JSON.len(),
            PriceMap::bundled().len()
        );
    }
}
