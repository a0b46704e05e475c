//! Wildcard model groups: `openai/*`, `*`, `my-prefix-*`.

/// The part of `requested` that the single `*` of `pattern` matches, if it matches.
pub fn capture<'r>(pattern: &str, requested: &'r str) -> Option<&'r str> {
    let (prefix, suffix) = pattern.split_once('*')?;
    if requested.len() < prefix.len() + suffix.len() {
        return None;
    }
    let rest = requested.strip_prefix(prefix)?;
    rest.strip_suffix(suffix)
}

/// How specific a pattern is: longer literal parts win (`openai/gpt-*` before `openai/*`
/// before `*`).
pub fn specificity(pattern: &str) -> usize {
    pattern.len() - pattern.matches('*').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_the_star() {
        assert_eq!(capture("openai/*", "openai/gpt-4o"), Some("gpt-4o"));
        assert_eq!(capture("*", "anything/at-all"), Some("anything/at-all"));
        assert_eq!(capture("gpt-*-mini", "gpt-4o-mini"), Some("4o"));
        assert_eq!(capture("openai/*", "groq/llama"), None);
        assert_eq!(capture("gpt-*-mini", "gpt-mini"), None);
        assert_eq!(capture("no-star", "no-star"), None);
        assert!(specificity("openai/gpt-*") > specificity("openai/*"));
        assert!(specificity("openai/*") > specificity("*"));
    }
}
