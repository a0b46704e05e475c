//! "Did you mean" for unknown keys and values.
//!
//! Only close matches are suggested: a wrong suggestion is worse than none. Besides string
//! similarity there is a short alias table for names other gateways use (`base_url`).

use strsim::{jaro_winkler, levenshtein};

/// Names from other tools, mapped to the LiteLLM key an operator most likely meant.
const ALIASES: &[(&str, &str)] = &[
    ("base_url", "api_base"),
    ("url", "api_base"),
    ("api_url", "api_base"),
    ("endpoint", "api_base"),
    ("apikey", "api_key"),
    ("key", "api_key"),
    ("token", "api_key"),
    ("max_retry", "max_retries"),
    ("retries", "num_retries"),
    ("name", "model_name"),
    ("params", "litellm_params"),
];

/// The candidate closest to `word`, when it is close enough to be worth suggesting.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let wanted = normalize(word);
    if let Some((_, target)) = ALIASES.iter().find(|(alias, _)| *alias == wanted)
        && let Some(found) = candidates.iter().find(|c| *c == target)
    {
        return Some(found);
    }
    let mut best: Option<(&'a str, f64)> = None;
    for candidate in candidates {
        let norm = normalize(candidate);
        if norm == wanted {
            // Differs only in case or `-` vs `_`.
            return Some(candidate);
        }
        let score = jaro_winkler(&wanted, &norm);
        let distance = levenshtein(&wanted, &norm);
        // Short names are only suggested for a one-letter slip; longer ones may be a bit
        // further off.
        let close = distance <= (norm.chars().count() / 4).clamp(1, 3) || score >= 0.9;
        if close && best.is_none_or(|(_, s)| score > s) {
            best = Some((candidate, score));
        }
    }
    best.map(|(candidate, _)| candidate)
}

/// Whether `word` is a near miss of one of `candidates` (edit distance 1 or 2) without being
/// equal: used to refuse pattern-matched keys such as `input_cost_per_tokn`.
pub(crate) fn near_miss<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let wanted = normalize(word);
    candidates.iter().copied().find(|c| {
        let d = levenshtein(&wanted, &normalize(c));
        d > 0 && d <= 2
    })
}

/// `; did you mean `x`?` or nothing.
pub(crate) fn hint(word: &str, candidates: &[&str]) -> String {
    did_you_mean(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

fn normalize(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &[
        "api_base",
        "api_key",
        "api_version",
        "timeout",
        "tpm",
        "rpm",
    ];

    #[test]
    fn suggests_close_names() {
        assert_eq!(did_you_mean("api_bse", KEYS), Some("api_base"));
        assert_eq!(did_you_mean("API_BASE", KEYS), Some("api_base"));
        assert_eq!(did_you_mean("api-version", KEYS), Some("api_version"));
        assert_eq!(did_you_mean("timout", KEYS), Some("timeout"));
    }

    #[test]
    fn suggests_aliases_from_other_tools() {
        assert_eq!(did_you_mean("base_url", KEYS), Some("api_base"));
        assert_eq!(did_you_mean("base_url", &["timeout"]), None);
    }

    #[test]
    fn stays_quiet_when_nothing_is_close() {
        assert_eq!(did_you_mean("temperature", KEYS), None);
        assert_eq!(did_you_mean("ttl", KEYS), None);
        assert_eq!(hint("zzz", KEYS), "");
        assert_eq!(hint("api_bse", KEYS), "; did you mean `api_base`?");
    }

    #[test]
    fn near_miss_catches_small_typos_only() {
        assert_eq!(
            near_miss("input_cost_per_tokn", &["input_cost_per_token"]),
            Some("input_cost_per_token")
        );
        assert_eq!(
            near_miss("input_cost_per_second", &["input_cost_per_token"]),
            None
        );
        assert_eq!(
            near_miss("input_cost_per_token", &["input_cost_per_token"]),
            None
        );
    }
}
