//! `azure/<deployment>`: Azure OpenAI takes the OpenAI body as it is, at a deployment URL with
//! an `api-version` query parameter, authenticated with `api-key` (or an Entra ID token as
//! `Authorization: Bearer`).
//!
//! `https://<resource>.openai.azure.com/openai/deployments/<deployment>/chat/completions?api-version=<v>`

/// The `api-version` when neither the deployment's `api_version` nor `AZURE_API_VERSION`
/// gives one (LiteLLM's `AZURE_DEFAULT_API_VERSION`).
pub const DEFAULT_API_VERSION: &str = "2025-02-01-preview";

/// The deployment URL for `path` (`/chat/completions`, `/completions`, `/embeddings`).
///
/// An `api_base` that already names a deployment path (`.../openai/deployments/<d>`) is
/// used as it is; otherwise `/openai/deployments/<deployment>` is appended.
pub fn url(api_base: &str, deployment: &str, api_version: &str, path: &str) -> String {
    let base = api_base.trim_end_matches('/');
    let base = base.strip_suffix(path).unwrap_or(base);
    let deployment_path = if base.contains("/openai/deployments/") {
        base.to_string()
    } else {
        let base = base.strip_suffix("/openai").unwrap_or(base);
        format!("{base}/openai/deployments/{}", encode_segment(deployment))
    };
    format!(
        "{deployment_path}{path}?api-version={}",
        encode_segment(api_version)
    )
}

/// Percent-encodes what may not appear in a path segment or query value.
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_urls() {
        assert_eq!(
            url(
                "https://r.openai.azure.com/",
                "gpt4o-prod",
                "2024-06-01",
                "/chat/completions"
            ),
            "https://r.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-06-01"
        );
        assert_eq!(
            url(
                "https://r.openai.azure.com/openai",
                "emb",
                "2024-06-01",
                "/embeddings"
            ),
            "https://r.openai.azure.com/openai/deployments/emb/embeddings?api-version=2024-06-01"
        );
        assert_eq!(
            url(
                "https://gw.example/openai/deployments/x/chat/completions",
                "ignored",
                "v",
                "/chat/completions"
            ),
            "https://gw.example/openai/deployments/x/chat/completions?api-version=v"
        );
        assert_eq!(
            url("http://h", "a b", "2024/1", "/completions"),
            "http://h/openai/deployments/a%20b/completions?api-version=2024%2F1"
        );
    }
}
