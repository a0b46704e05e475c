//! Walked `model_list` and `credential_list` entries -> [`DeploymentConfig`] and
//! [`CredentialConfig`], with credentials applied.
//!
//! A deployment naming `litellm_credential_name: X` gets every value of credential `X`
//! (`api_key`, `api_base`, `api_version`, ...) that it does not set itself, as LiteLLM does.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use crate::convert::Obj;
use crate::schema_model::OPENAI_PARAMS;
use crate::secret::is_secret_param;
use crate::types::*;
use crate::walk::Located;

pub(crate) fn credentials(list: &[Located]) -> Vec<CredentialConfig> {
    list.iter()
        .map(|entry| {
            let o = Obj(&entry.value);
            let credential_values = o
                .map("credential_values")
                .into_iter()
                .map(|(key, value)| (key, Secret::new(json_text(&value))))
                .collect();
            CredentialConfig {
                credential_name: o.str("credential_name").unwrap_or_default(),
                credential_values,
                credential_info: o.map("credential_info"),
            }
        })
        .collect()
}

/// A credential value as the string LiteLLM would send (JSON text for structured values,
/// such as a service-account map).
fn json_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn deployments(list: &[Located], credential_list: &[Located]) -> Vec<DeploymentConfig> {
    list.iter()
        .map(|entry| {
            let o = Obj(&entry.value);
            let mut params = o.map("litellm_params");
            apply_credential(&mut params, credential_list);
            DeploymentConfig {
                model_name: o.str("model_name").unwrap_or_default(),
                litellm_params: litellm_params(params),
                model_info: model_info(o.map("model_info")),
                origin: format!("{}: model_list[{}]", entry.file.display(), entry.index),
            }
        })
        .collect()
}

/// Fills in what the deployment does not set from its named credential. An unknown name is
/// reported by `check.rs`.
fn apply_credential(params: &mut Map<String, Json>, credential_list: &[Located]) {
    let Some(name) = params.get("litellm_credential_name").and_then(Json::as_str) else {
        return;
    };
    let values = credential_list
        .iter()
        .find(|c| c.value.get("credential_name").and_then(Json::as_str) == Some(name))
        .and_then(|c| c.value.get("credential_values"))
        .and_then(Json::as_object)
        .cloned();
    for (key, value) in values.into_iter().flatten() {
        params.entry(key).or_insert(value);
    }
}

fn litellm_params(params: Map<String, Json>) -> LitellmParams {
    let o = Obj(&params);
    let mut extra_headers: BTreeMap<String, String> = BTreeMap::new();
    for key in ["headers", "extra_headers"] {
        if let Some(headers) = o.obj(key) {
            for name in headers.0.keys() {
                if let Some(value) = headers.str(name) {
                    extra_headers.insert(name.clone(), value);
                }
            }
        }
    }
    LitellmParams {
        model: o.str("model").unwrap_or_default(),
        api_base: o.str("api_base"),
        api_key: o.secret("api_key"),
        api_version: o.str("api_version"),
        azure_ad_token: o.secret("azure_ad_token"),
        aws: AwsParams {
            access_key_id: o.secret("aws_access_key_id"),
            secret_access_key: o.secret("aws_secret_access_key"),
            session_token: o.secret("aws_session_token"),
            region_name: o.str("aws_region_name"),
            bedrock_runtime_endpoint: o.str("aws_bedrock_runtime_endpoint"),
        },
        drop_params: o.flag("drop_params"),
        organization: o.str("organization"),
        timeout: o.secs("timeout"),
        stream_timeout: o.secs("stream_timeout"),
        max_retries: o.u32("max_retries"),
        rpm: o.u64("rpm"),
        tpm: o.u64("tpm"),
        weight: o.f64("weight"),
        order: o.u32("order"),
        max_parallel_requests: o.u32("max_parallel_requests"),
        input_cost_per_token: o.f64("input_cost_per_token"),
        output_cost_per_token: o.f64("output_cost_per_token"),
        region_name: o.str("region_name"),
        cooldown_time: o.secs("cooldown_time"),
        tags: o.strs("tags"),
        mock_response: o.str("mock_response"),
        extra_headers,
        litellm_credential_name: o.str("litellm_credential_name"),
        default_params: default_params(&params),
        public_params: public(&params),
    }
}

/// The OpenAI request parameters set on the deployment, plus `extra_body` merged in the way
/// the OpenAI SDK merges it into the request body (explicit parameters win).
fn default_params(params: &Map<String, Json>) -> Map<String, Json> {
    let mut out = Map::new();
    if let Some(Json::Object(extra)) = params.get("extra_body") {
        out.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for name in OPENAI_PARAMS {
        if let Some(value) = params.get(*name) {
            out.insert((*name).to_owned(), value.clone());
        }
    }
    out
}

/// `params` without secret-bearing keys, at any depth (`headers.Authorization` too).
pub(crate) fn public(params: &Map<String, Json>) -> Map<String, Json> {
    params
        .iter()
        .filter(|(key, _)| !is_secret_param(key))
        .map(|(key, value)| (key.clone(), redact(value)))
        .collect()
}

fn redact(value: &Json) -> Json {
    match value {
        Json::Object(map) => Json::Object(public(map)),
        Json::Array(items) => Json::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

fn model_info(raw: Map<String, Json>) -> ModelInfo {
    let o = Obj(&raw);
    ModelInfo {
        id: o.str("id"),
        mode: o.str("mode"),
        base_model: o.str("base_model"),
        input_cost_per_token: o.f64("input_cost_per_token"),
        output_cost_per_token: o.f64("output_cost_per_token"),
        max_tokens: o.u64("max_tokens"),
        max_input_tokens: o.u64("max_input_tokens"),
        max_output_tokens: o.u64("max_output_tokens"),
        raw: raw.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Json) -> Map<String, Json> {
        match value {
            Json::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn public_params_drop_secrets_at_any_depth() {
        let params = object(json!({
            "model": "openai/gpt-4o",
            "api_key": "sk-secret",
            "max_tokens": 10,
            "extra_headers": {"Authorization": "Bearer x", "X-Team": "a"},
            "aws_secret_access_key": "s",
        }));
        let shown = Json::Object(public(&params)).to_string();
        assert!(
            !shown.contains("sk-secret")
                && !shown.contains("Bearer")
                && !shown.contains("aws_secret")
        );
        assert!(shown.contains("max_tokens") && shown.contains("X-Team"));
    }

    #[test]
    fn default_params_merge_extra_body_under_explicit_params() {
        let params = object(json!({
            "model": "m",
            "temperature": 0.2,
            "extra_body": {"temperature": 0.9, "top_k": 5},
            "rpm": 10,
        }));
        let defaults = default_params(&params);
        assert_eq!(defaults.get("temperature"), Some(&json!(0.2)));
        assert_eq!(defaults.get("top_k"), Some(&json!(5)));
        assert!(!defaults.contains_key("rpm") && !defaults.contains_key("model"));
    }
}
