//! Which keys hold secrets: their values are left out of `public_params` and never echoed in
//! error messages.
//!
//! The rule works on the words of a key (split on `_`, `-`, `.` and spaces), so `api_key`,
//! `x-api-key` and `aws_secret_access_key` are secrets while `max_tokens` (a count) and
//! `input_cost_per_token` (a price) are not.

/// Whether a parameter named `key` carries a secret (API key, password, token, credential,
/// or a URL that usually embeds a password).
pub fn is_secret_param(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(['_', '-', '.', ' '])
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    // A name or header *of* a credential is not the credential (`litellm_credential_name`,
    // `litellm_key_header_name`).
    let is_label = has("name") || has("header") || has("alias");

    const ALWAYS: &[&str] = &[
        "secret",
        "secrets",
        "password",
        "passwd",
        "apikey",
        "authorization",
        "cookie",
        "bearer",
    ];
    if words.iter().any(|w| ALWAYS.contains(w)) {
        return true;
    }
    if (has("credential") || has("credentials")) && !is_label {
        return true;
    }
    // `api_key`, `master_key`, `aws_access_key_id`, `x-api-key`.
    if has("key") && !is_label {
        return true;
    }
    // `azure_ad_token`, `aws_session_token`: a token value. Counts and prices of tokens
    // (`max_tokens`, `input_cost_per_token`, `token_count`) are not secrets.
    const TOKEN_QUANTITY: &[&str] = &[
        "cost", "per", "count", "counter", "limit", "budget", "max", "min",
    ];
    if has("token") && !words.iter().any(|w| TOKEN_QUANTITY.contains(w)) && !is_label {
        return true;
    }
    // Connection URLs that embed a password.
    matches!(
        lower.as_str(),
        "database_url" | "direct_url" | "redis_url" | "database_url_read_replica"
    )
}

#[cfg(test)]
mod tests {
    use super::is_secret_param;

    #[test]
    fn secrets_are_recognised() {
        for key in [
            "api_key",
            "API_KEY",
            "x-api-key",
            "Authorization",
            "master_key",
            "aws_access_key_id",
            "aws_secret_access_key",
            "aws_session_token",
            "aws_web_identity_token",
            "azure_ad_token",
            "azure_ad_token_provider",
            "azure_password",
            "client_secret",
            "vertex_credentials",
            "password",
            "redis_password",
            "redis_url",
            "database_url",
            "token",
            "s3_encryption_key_id",
        ] {
            assert!(is_secret_param(key), "{key} should be secret");
        }
    }

    #[test]
    fn counts_prices_and_names_are_not_secrets() {
        for key in [
            "max_tokens",
            "max_completion_tokens",
            "max_input_tokens",
            "health_check_max_tokens",
            "input_cost_per_token",
            "cache_read_input_token_cost",
            "output_cost_per_reasoning_token",
            "litellm_credential_name",
            "credential_name",
            "litellm_key_header_name",
            "api_base",
            "api_version",
            "model",
            "tpm",
            "rpm",
            "client_id",
            "tenant_id",
            "aws_region_name",
            "top_logprobs",
        ] {
            assert!(!is_secret_param(key), "{key} should not be secret");
        }
    }
}
