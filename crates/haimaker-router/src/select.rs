//! `simple-shuffle`: LiteLLM's default strategy.
//!
//! Looks at the first candidate: if it has a `weight`, choose by weight; else by `rpm`; else
//! by `tpm`; else uniformly. Candidates without the chosen field count as 0 unless all are 0.

use std::sync::Arc;

use rand::Rng;

use crate::Deployment;

pub fn simple_shuffle<'a>(
    candidates: &[&'a Arc<Deployment>],
    rng: &mut impl Rng,
) -> Option<&'a Arc<Deployment>> {
    let first = candidates.first()?;
    if candidates.len() == 1 {
        return Some(first);
    }
    let weight_of: Option<fn(&Deployment) -> f64> = if first.weight.is_some() {
        Some(|d| d.weight.unwrap_or(0.0))
    } else if first.rpm.is_some() {
        Some(|d| d.rpm.map_or(0.0, |v| v as f64))
    } else if first.tpm.is_some() {
        Some(|d| d.tpm.map_or(0.0, |v| v as f64))
    } else {
        None
    };
    if let Some(weight_of) = weight_of {
        let weights: Vec<f64> = candidates.iter().map(|d| weight_of(d).max(0.0)).collect();
        let total: f64 = weights.iter().sum();
        if total > 0.0 && total.is_finite() {
            let mut point = rng.random::<f64>() * total;
            for (d, w) in candidates.iter().zip(&weights) {
                if point < *w {
                    return Some(d);
                }
                point -= w;
            }
            return candidates
                .iter()
                .zip(&weights)
                .rev()
                .find(|(_, w)| **w > 0.0)
                .map(|(d, _)| *d);
        }
    }
    Some(candidates[rng.random_range(0..candidates.len())])
}
