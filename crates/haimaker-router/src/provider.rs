//! The providers haimaker can call, keyed by the `<provider>/` prefix of `litellm_params.model`.
//!
//! Most providers here speak the OpenAI wire format, so only their default `api_base` and the
//! environment variables LiteLLM reads for their key differ. Azure, Anthropic, Gemini and Bedrock
//! have their own [`Wire`] (the adapters live in `haimaker-providers`). Other providers with
//! their own wire format (Vertex AI, Cohere, ...) are recognised so that config loading can
//! name them, and answer with a clear "not supported yet" error until their adapter lands.

/// How to talk to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provider {
    /// The prefix as written in config (`openai`, `groq`, ...).
    pub name: &'static str,
    pub wire: Wire,
    /// Used when the deployment sets no `api_base` (and no env base is set).
    pub default_api_base: Option<&'static str>,
    /// Environment variables that may hold the base URL, first match wins.
    pub base_env: &'static [&'static str],
    /// Environment variables that may hold the API key, first match wins.
    pub key_env: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// POST `<api_base>/chat/completions` etc. with `Authorization: Bearer <key>`.
    OpenAi,
    /// The OpenAI body at `<api_base>/openai/deployments/<deployment>/...?api-version=`, with
    /// `api-key` (or an Entra ID token).
    Azure,
    /// The Messages API: requests, responses, streams and errors translated.
    Anthropic,
    /// Google AI Studio's `generateContent` / `streamGenerateContent`, `x-goog-api-key`.
    Gemini,
    /// Bedrock's Converse / ConverseStream, SigV4-signed (or a Bedrock API key).
    Bedrock,
    /// Known to LiteLLM, not implemented by haimaker yet.
    Unsupported,
}

const fn openai_compatible(
    name: &'static str,
    default_api_base: Option<&'static str>,
    base_env: &'static [&'static str],
    key_env: &'static [&'static str],
) -> Provider {
    Provider {
        name,
        wire: Wire::OpenAi,
        default_api_base,
        base_env,
        key_env,
    }
}

const fn unsupported(name: &'static str) -> Provider {
    Provider {
        name,
        wire: Wire::Unsupported,
        default_api_base: None,
        base_env: &[],
        key_env: &[],
    }
}

/// The OpenAI-compatible providers, with LiteLLM's default bases and key variables.
static PROVIDERS: &[Provider] = &[
    openai_compatible(
        "openai",
        Some("https://api.openai.com/v1"),
        &["OPENAI_BASE_URL", "OPENAI_API_BASE"],
        &["OPENAI_API_KEY"],
    ),
    // `text-completion-openai/` is LiteLLM's name for OpenAI's legacy /completions models.
    openai_compatible(
        "text-completion-openai",
        Some("https://api.openai.com/v1"),
        &["OPENAI_BASE_URL", "OPENAI_API_BASE"],
        &["OPENAI_API_KEY"],
    ),
    // LiteLLM's generic "any OpenAI-compatible server" prefix: api_base is required.
    openai_compatible("openai_like", None, &[], &[]),
    openai_compatible(
        "hosted_vllm",
        None,
        &["HOSTED_VLLM_API_BASE"],
        &["HOSTED_VLLM_API_KEY"],
    ),
    openai_compatible(
        "groq",
        Some("https://api.groq.com/openai/v1"),
        &["GROQ_API_BASE"],
        &["GROQ_API_KEY"],
    ),
    openai_compatible(
        "deepseek",
        Some("https://api.deepseek.com/v1"),
        &["DEEPSEEK_API_BASE"],
        &["DEEPSEEK_API_KEY"],
    ),
    openai_compatible(
        "mistral",
        Some("https://api.mistral.ai/v1"),
        &["MISTRAL_API_BASE"],
        &["MISTRAL_API_KEY"],
    ),
    openai_compatible(
        "together_ai",
        Some("https://api.together.xyz/v1"),
        &["TOGETHER_AI_API_BASE", "TOGETHERAI_API_BASE"],
        &[
            "TOGETHERAI_API_KEY",
            "TOGETHER_AI_API_KEY",
            "TOGETHER_API_KEY",
        ],
    ),
    openai_compatible(
        "fireworks_ai",
        Some("https://api.fireworks.ai/inference/v1"),
        &["FIREWORKS_API_BASE", "FIREWORKS_AI_API_BASE"],
        &[
            "FIREWORKS_API_KEY",
            "FIREWORKS_AI_API_KEY",
            "FIREWORKSAI_API_KEY",
        ],
    ),
    openai_compatible(
        "openrouter",
        Some("https://openrouter.ai/api/v1"),
        &["OPENROUTER_API_BASE"],
        &["OPENROUTER_API_KEY", "OR_API_KEY"],
    ),
    openai_compatible(
        "xai",
        Some("https://api.x.ai/v1"),
        &["XAI_API_BASE"],
        &["XAI_API_KEY"],
    ),
    openai_compatible(
        "perplexity",
        Some("https://api.perplexity.ai"),
        &["PERPLEXITY_API_BASE"],
        &["PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"],
    ),
    openai_compatible(
        "deepinfra",
        Some("https://api.deepinfra.com/v1/openai"),
        &["DEEPINFRA_API_BASE"],
        &["DEEPINFRA_API_KEY"],
    ),
    openai_compatible(
        "cerebras",
        Some("https://api.cerebras.ai/v1"),
        &["CEREBRAS_API_BASE"],
        &["CEREBRAS_API_KEY"],
    ),
    // Ollama serves the OpenAI wire format under /v1; haimaker uses that rather than
    // LiteLLM's translation to Ollama's native /api/chat.
    openai_compatible(
        "ollama_chat",
        Some("http://localhost:11434/v1"),
        &["OLLAMA_API_BASE"],
        &["OLLAMA_API_KEY"],
    ),
    openai_compatible(
        "lm_studio",
        Some("http://localhost:1234/v1"),
        &["LM_STUDIO_API_BASE"],
        &["LM_STUDIO_API_KEY"],
    ),
    Provider {
        name: "azure",
        wire: Wire::Azure,
        default_api_base: None,
        base_env: &["AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT"],
        key_env: &["AZURE_API_KEY", "AZURE_OPENAI_API_KEY"],
    },
    unsupported("azure_ai"),
    Provider {
        name: "anthropic",
        wire: Wire::Anthropic,
        default_api_base: Some("https://api.anthropic.com"),
        base_env: &["ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"],
        key_env: &["ANTHROPIC_API_KEY"],
    },
    Provider {
        name: "gemini",
        wire: Wire::Gemini,
        default_api_base: Some("https://generativelanguage.googleapis.com/v1beta"),
        base_env: &["GEMINI_API_BASE"],
        key_env: &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
    },
    unsupported("vertex_ai"),
    // The endpoint comes from the region (`https://bedrock-runtime.<region>.amazonaws.com`)
    // unless `api_base` / `aws_bedrock_runtime_endpoint` says; `api_key` (or
    // `AWS_BEARER_TOKEN_BEDROCK`) is a Bedrock API key, used instead of SigV4.
    Provider {
        name: "bedrock",
        wire: Wire::Bedrock,
        default_api_base: None,
        base_env: &["AWS_BEDROCK_RUNTIME_ENDPOINT"],
        key_env: &["AWS_BEARER_TOKEN_BEDROCK"],
    },
    unsupported("cohere"),
    unsupported("ollama"),
    unsupported("sagemaker"),
    unsupported("huggingface"),
    unsupported("replicate"),
    unsupported("watsonx"),
    unsupported("databricks"),
    unsupported("cloudflare"),
    unsupported("voyage"),
];

/// The provider of a `litellm_params.model` value and the model name the provider expects.
///
/// `openai/gpt-4o` -> (openai, `gpt-4o`); `groq/llama3-8b` -> (groq, `llama3-8b`). A value
/// without a known prefix is an OpenAI model (LiteLLM infers OpenAI for bare names), and the
/// whole value is sent: `gpt-4o` -> (openai, `gpt-4o`), `my-org/model` -> (openai, `my-org/model`).
/// `custom_llm_provider` overrides the prefix.
pub fn split_model<'m>(model: &'m str, custom_llm_provider: Option<&str>) -> (Provider, &'m str) {
    if let Some(name) = custom_llm_provider {
        let provider = by_name(name).unwrap_or(unsupported_named());
        let rest = model
            .strip_prefix(name)
            .and_then(|r| r.strip_prefix('/'))
            .unwrap_or(model);
        return (provider, rest);
    }
    if let Some((prefix, rest)) = model.split_once('/')
        && let Some(provider) = by_name(prefix)
    {
        return (provider, rest);
    }
    (PROVIDERS[0], model)
}

/// The provider with this config name.
pub fn by_name(name: &str) -> Option<Provider> {
    PROVIDERS.iter().copied().find(|p| p.name == name)
}

fn unsupported_named() -> Provider {
    unsupported("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_known_prefixes_and_defaults_to_openai() {
        let (p, m) = split_model("openai/gpt-4o", None);
        assert_eq!((p.name, m), ("openai", "gpt-4o"));
        let (p, m) = split_model("groq/llama3-8b-8192", None);
        assert_eq!(
            (p.name, p.default_api_base, m),
            (
                "groq",
                Some("https://api.groq.com/openai/v1"),
                "llama3-8b-8192"
            )
        );
        let (p, m) = split_model("gpt-4o-mini", None);
        assert_eq!((p.name, m), ("openai", "gpt-4o-mini"));
        let (p, m) = split_model("meta-llama/Llama-3-8B", None);
        assert_eq!((p.name, m), ("openai", "meta-llama/Llama-3-8B"));
        let (p, m) = split_model("hosted_vllm/meta-llama/Llama-3-8B", None);
        assert_eq!(
            (p.name, p.default_api_base, m),
            ("hosted_vllm", None, "meta-llama/Llama-3-8B")
        );
    }

    #[test]
    fn non_openai_wire_providers_have_their_wire() {
        let (p, m) = split_model("azure/my-deployment", None);
        assert_eq!((p.name, p.wire, m), ("azure", Wire::Azure, "my-deployment"));
        let (p, m) = split_model("anthropic/claude-sonnet-4-5", None);
        assert_eq!(
            (p.name, p.wire, m),
            ("anthropic", Wire::Anthropic, "claude-sonnet-4-5")
        );
        let (p, m) = split_model("gemini/gemini-2.0-flash", None);
        assert_eq!((p.wire, m), (Wire::Gemini, "gemini-2.0-flash"));
        let (p, m) = split_model("bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", None);
        assert_eq!(
            (p.wire, m),
            (Wire::Bedrock, "anthropic.claude-3-5-sonnet-20240620-v1:0")
        );
        let (p, _) = split_model("cohere/command-r", None);
        assert_eq!(p.wire, Wire::Unsupported);
    }

    #[test]
    fn custom_llm_provider_overrides_the_prefix() {
        let (p, m) = split_model("my-model", Some("groq"));
        assert_eq!((p.name, m), ("groq", "my-model"));
        let (p, m) = split_model("groq/my-model", Some("groq"));
        assert_eq!((p.name, m), ("groq", "my-model"));
    }

    #[test]
    fn every_openai_compatible_provider_of_the_brief_has_a_base() {
        for name in [
            "openai",
            "groq",
            "deepseek",
            "mistral",
            "together_ai",
            "fireworks_ai",
            "openrouter",
            "xai",
            "perplexity",
            "deepinfra",
            "cerebras",
            "ollama_chat",
            "lm_studio",
        ] {
            let p = by_name(name).expect(name);
            assert_eq!(p.wire, Wire::OpenAi, "{name}");
            assert!(
                p.default_api_base.is_some(),
                "{name} has no default api_base"
            );
        }
        assert_eq!(by_name("hosted_vllm").map(|p| p.wire), Some(Wire::OpenAi));
    }
}
