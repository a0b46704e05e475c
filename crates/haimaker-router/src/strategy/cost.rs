//! `cost-based-routing`: the cheapest deployment with rpm/tpm headroom.
//!
//! Mirrors LiteLLM's `lowest_cost.py`: the cost of a deployment is
//! `input_cost_per_token + output_cost_per_token`, from the deployment's own prices
//! (`litellm_params` / `model_info` overrides) or else the price map; a price the map does not
//! know counts as $1 per token (per the reference; recent LiteLLM versions use $5), so unpriced
//! deployments lose to any priced one. Deployments over their `rpm`/`tpm` for the current
//! minute are skipped. Ties are broken at random (LiteLLM takes the first after a stable sort).

use std::sync::{Arc, OnceLock};

use haimaker_pricing::PriceMap;
use rand::Rng;

use super::{Lowest, has_headroom};
use crate::Deployment;
use crate::provider::split_model;

/// The per-token price assumed for a price the map does not know.
pub const UNKNOWN_PRICE_PER_TOKEN: f64 = 1.0;

/// The routing cost of a deployment that is not a wildcard, computed on first use (so
/// building a router never waits for the price map).
#[derive(Debug, Default)]
pub(crate) struct CostCache(OnceLock<f64>);

/// `input_cost_per_token + output_cost_per_token` of a call for `requested`.
pub(crate) fn routing_cost(d: &Deployment, requested: &str, prices: &PriceMap) -> f64 {
    if d.is_wildcard() {
        compute(d, requested, prices)
    } else {
        *d.stats
            .cost
            .0
            .get_or_init(|| compute(d, &d.model_name, prices))
    }
}

fn compute(d: &Deployment, requested: &str, prices: &PriceMap) -> f64 {
    let model = d.call_model(requested);
    let (provider, provider_model) = split_model(&model, d.custom_llm_provider.as_deref());
    let entry = prices.lookup(provider.name, provider_model, d.base_model.as_deref());
    let valid = |p: &f64| p.is_finite() && *p >= 0.0;
    let input = d
        .input_cost_override
        .filter(valid)
        .or(entry.map(|e| e.prices.input_cost_per_token))
        .unwrap_or(UNKNOWN_PRICE_PER_TOKEN);
    let output = d
        .output_cost_override
        .filter(valid)
        .or(entry.map(|e| e.prices.output_cost_per_token))
        .unwrap_or(UNKNOWN_PRICE_PER_TOKEN);
    input + output
}

/// The cheapest candidate with headroom; `None` when none has.
pub(crate) fn choose<'a>(
    candidates: &[&'a Arc<Deployment>],
    requested: &str,
    prices: &PriceMap,
    minute: u64,
    input_tokens: u64,
    rng: &mut impl Rng,
) -> Option<&'a Arc<Deployment>> {
    let mut lowest = Lowest::new();
    for d in candidates {
        let (rpm, tpm) = d.stats.usage.current(minute);
        if has_headroom(d, rpm, tpm, input_tokens) {
            lowest.offer(routing_cost(d, requested, prices), d, rng);
        }
    }
    lowest.get()
}
