//! Key tables for one deployment (`model_list[i]`) and for `credential_list` entries.
//!
//! `litellm_params` in LiteLLM takes any keyword of `litellm.completion()`, so besides the
//! typed keys it accepts the OpenAI request parameters (sent upstream as request defaults),
//! provider credentials, and custom-pricing keys by pattern.

use crate::schema::{Kind, Section, Status, done, later, quiet};
use crate::suggest::near_miss;

use Kind::*;

/// OpenAI request parameters: set on a deployment they are request defaults sent upstream
/// (`LitellmParams::default_params`), unless the client's request sets them.
pub(crate) const OPENAI_PARAMS: &[&str] = &[
    // chat / completions
    "temperature",
    "top_p",
    "n",
    "stop",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "user",
    "seed",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "functions",
    "function_call",
    "stream_options",
    "reasoning_effort",
    "verbosity",
    "modalities",
    "audio",
    "prediction",
    "service_tier",
    "store",
    "metadata",
    "web_search_options",
    "prompt_cache_key",
    "safety_identifier",
    "suffix",
    "echo",
    "best_of",
    // embeddings
    "dimensions",
    "encoding_format",
    // images / audio
    "size",
    "quality",
    "style",
    "voice",
    "speed",
    "language",
    "timestamp_granularities",
    // sampling extensions understood by OpenAI-compatible servers (vLLM, llama.cpp, ...)
    "top_k",
    "min_p",
    "repetition_penalty",
];

/// `model_info.mode` values (LiteLLM's health-check modes).
pub(crate) const MODES: &[&str] = &[
    "chat",
    "embedding",
    "completion",
    "image_generation",
    "audio_transcription",
    "audio_speech",
    "moderation",
    "rerank",
    "responses",
    "batch",
    "realtime",
    "video_generation",
    "ocr",
];

pub(crate) static DEPLOYMENT: Section = Section {
    name: "model_list entry",
    keys: &[
        done("model_name", Str),
        done("litellm_params", Kind::Section(&LITELLM_PARAMS)),
        done("model_info", Kind::Section(&MODEL_INFO)),
    ],
    required: &["model_name", "litellm_params"],
    extra: None,
    also: &[],
    homes: &[&LITELLM_PARAMS, &MODEL_INFO],
};

pub(crate) static LITELLM_PARAMS: Section = Section {
    name: "litellm_params",
    keys: &[
        done("model", Str),
        done("api_base", Str),
        done("api_key", Secret),
        done("organization", Str),
        done("timeout", Secs),
        done("stream_timeout", Secs),
        done("max_retries", U32),
        done("rpm", U64),
        done("tpm", U64),
        done("weight", F64),
        done("input_cost_per_token", F64),
        done("output_cost_per_token", F64),
        done("mock_response", Str),
        done("extra_headers", StrMap),
        done("headers", StrMap),
        done("litellm_credential_name", Str),
        done("cooldown_time", Secs),
        done("custom_llm_provider", Str),
        done("drop_params", Bool),
        // Merged into the request defaults, as the OpenAI SDK merges it into the body.
        done("extra_body", Map),
        done("api_version", Str),
        later("order", U32),
        later("max_parallel_requests", U32),
        later("region_name", Str),
        later("tags", StrList),
        later("tag_regex", StrList),
        later("num_retries", U32),
        later("additional_drop_params", StrList),
        later("use_in_pass_through", Bool),
        later("use_litellm_proxy", Bool),
        later("use_chat_completions_api", Bool),
        later("merge_reasoning_content_in_choices", Bool),
        later("configurable_clientside_auth_params", List),
        later("max_budget", F64),
        later("budget_duration", Str),
        later("litellm_trace_id", Str),
        later("max_file_size_mb", F64),
        later("itpm", U64),
        later("otpm", U64),
        later("default_api_key_tpm_limit", U64),
        later("default_api_key_rpm_limit", U64),
        later("keepalive_seconds", F64),
        later("allow_client_keepalive_override", Bool),
        later("thinking", Any),
        later("auto_router_config", Str),
        later("auto_router_config_path", Str),
        later("auto_router_default_model", Str),
        later("auto_router_embedding_model", Str),
        later("auto_router_max_input_chars", U64),
        later("vector_store_id", Str),
        // Provider credentials and locations: they matter once those providers exist, and
        // the missing provider is reported by the router, not here.
        done("azure_ad_token", Secret),
        quiet("azure_ad_token_provider", Str),
        quiet("azure_username", Str),
        quiet("azure_password", Secret),
        quiet("azure_scope", Str),
        quiet("azure_authority_host", Str),
        quiet("tenant_id", Str),
        quiet("client_id", Str),
        quiet("client_secret", Secret),
        quiet("vertex_project", Str),
        quiet("vertex_location", Str),
        quiet("vertex_credentials", Any),
        quiet("vertex_ai_project", Str),
        quiet("vertex_ai_location", Str),
        quiet("gcs_bucket_name", Str),
        done("aws_access_key_id", Secret),
        done("aws_secret_access_key", Secret),
        done("aws_session_token", Secret),
        done("aws_region_name", Str),
        // Bedrock is built: the credential sources it does not use yet (profiles, STS, web
        // identity) are listed in the start-up warning rather than ignored.
        later("aws_session_name", Str),
        later("aws_profile_name", Str),
        later("aws_role_name", Str),
        later("aws_web_identity_token", Secret),
        later("aws_sts_endpoint", Str),
        later("aws_external_id", Str),
        done("aws_bedrock_runtime_endpoint", Str),
        quiet("aws_bedrock_project_id", Str),
        quiet("aws_batch_role_arn", Str),
        quiet("s3_bucket_name", Str),
        quiet("s3_region_name", Str),
        quiet("s3_encryption_key_id", Str),
        quiet("s3_output_bucket_name", Str),
        quiet("bedrock_tags", List),
        quiet("watsonx_region_name", Str),
        quiet("project_id", Str),
        quiet("deployment_id", Str),
    ],
    required: &["model"],
    extra: Some(litellm_params_extra),
    also: OPENAI_PARAMS,
    homes: &[&MODEL_INFO],
};

/// Typed cost keys: a pattern-matched key one or two letters away from one of these is a typo.
const COST_KEYS: &[&str] = &[
    "input_cost_per_token",
    "output_cost_per_token",
    "input_cost_per_second",
    "output_cost_per_second",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
];

/// Custom-pricing keys (`input_cost_per_pixel`, `output_cost_per_token_above_128k_tokens`,
/// `cache_read_input_token_cost`, ...): LiteLLM has dozens and adds more.
fn is_cost_key(key: &str) -> bool {
    let pricing = key.starts_with("input_cost_per_")
        || key.starts_with("output_cost_per_")
        || key.starts_with("cache_read_input_")
        || key.starts_with("cache_creation_input_")
        || key.contains("_cost_per_");
    pricing && near_miss(key, COST_KEYS).is_none()
}

fn litellm_params_extra(key: &str) -> Option<(Kind, Status)> {
    if OPENAI_PARAMS.contains(&key) {
        return Some((Any, Status::Done));
    }
    if is_cost_key(key) {
        return Some((Any, Status::Later));
    }
    None
}

pub(crate) static MODEL_INFO: Section = Section {
    name: "model_info",
    keys: &[
        done("id", Str),
        done("mode", OneOf(MODES)),
        done("base_model", Str),
        done("db_model", Bool),
        done("team_id", Str),
        done("team_public_model_name", Str),
        done("tier", Str),
        done("access_groups", StrList),
        done("description", Str),
        done("health_check_model", Str),
        done("health_check_timeout", Secs),
        done("health_check_max_tokens", U64),
        done("disable_background_health_check", Bool),
        done("max_tokens", U64),
        done("max_input_tokens", U64),
        done("max_output_tokens", U64),
        done("input_cost_per_token", F64),
        done("output_cost_per_token", F64),
        done("cache_read_input_token_cost", F64),
        done("cache_creation_input_token_cost", F64),
        done("litellm_provider", Str),
        done("key", Str),
        done("output_vector_size", U64),
        done("supported_openai_params", StrList),
        done("supported_regions", StrList),
        done("deprecation_date", Str),
        done("tpm", U64),
        done("rpm", U64),
        done("created_at", Any),
        done("created_by", Any),
        done("updated_at", Any),
        done("updated_by", Any),
        done("blocked", Bool),
        done("ptu_count", U64),
        done("ptu_effective_from", Any),
        done("ptu_effective_to", Any),
        done("allow_fail_open", Bool),
        done("enable_tag_filtering", Bool),
        done("metadata", Map),
        // The common capability flags, listed so that a typo (`supports_vison`) is caught.
        done("supports_function_calling", Bool),
        done("supports_parallel_function_calling", Bool),
        done("supports_tool_choice", Bool),
        done("supports_vision", Bool),
        done("supports_response_schema", Bool),
        done("supports_system_messages", Bool),
        done("supports_prompt_caching", Bool),
        done("supports_reasoning", Bool),
        done("supports_audio_input", Bool),
        done("supports_audio_output", Bool),
        done("supports_pdf_input", Bool),
        done("supports_web_search", Bool),
        done("supports_embedding_image_input", Bool),
        done("supports_native_streaming", Bool),
    ],
    required: &[],
    extra: Some(model_info_extra),
    also: &[],
    homes: &[&LITELLM_PARAMS],
};

const SUPPORTS_KEYS: &[&str] = &[
    "supports_function_calling",
    "supports_parallel_function_calling",
    "supports_tool_choice",
    "supports_vision",
    "supports_response_schema",
    "supports_system_messages",
    "supports_prompt_caching",
    "supports_reasoning",
    "supports_audio_input",
    "supports_audio_output",
    "supports_pdf_input",
    "supports_web_search",
    "supports_embedding_image_input",
    "supports_native_streaming",
];

fn model_info_extra(key: &str) -> Option<(Kind, Status)> {
    if key.starts_with("supports_") && near_miss(key, SUPPORTS_KEYS).is_none() {
        return Some((Bool, Status::Done));
    }
    if is_cost_key(key) {
        return Some((Any, Status::Done));
    }
    None
}

pub(crate) static CREDENTIAL: Section = Section {
    name: "credential_list entry",
    keys: &[
        done("credential_name", Str),
        done("credential_values", Map),
        done("credential_info", Map),
    ],
    required: &["credential_name", "credential_values"],
    extra: None,
    also: &[],
    homes: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_params_are_request_defaults() {
        assert!(matches!(
            litellm_params_extra("temperature"),
            Some((Any, Status::Done))
        ));
        assert!(litellm_params_extra("temprature").is_none());
    }

    #[test]
    fn cost_keys_match_by_pattern_but_typos_do_not() {
        assert!(litellm_params_extra("input_cost_per_pixel").is_some());
        assert!(litellm_params_extra("output_cost_per_token_above_128k_tokens").is_some());
        assert!(litellm_params_extra("input_cost_per_tokn").is_none());
        assert!(model_info_extra("supports_assistant_prefill").is_some());
        assert!(model_info_extra("supports_vison").is_none());
    }
}
