//! The provider adapter hook of [`super::attempt`]: where a call goes (URL), how it
//! authenticates, what body it sends, and how the answer is read back ([`Codec`]).
//!
//! OpenAI-compatible deployments called with an OpenAI request take the [`Codec::Native`]
//! path: the body is forwarded as today and the answer relayed byte for byte. Everything else
//! (Azure's URLs and `api-key`, Anthropic's Messages API, Gemini's `generateContent`, Bedrock's
//! SigV4-signed Converse, `POST /v1/messages` for every other deployment) is translated with the pure functions of
//! `haimaker-providers`.

use bytes::Bytes;
use haimaker_openai::Usage;
use haimaker_providers::{
    Chain, StreamTranslator, TranslateError, anthropic, anthropic_stream, azure, bedrock,
    bedrock_stream, gemini, gemini_stream, messages, messages_stream, sigv4,
};
use haimaker_router::{Deployment, ErrorClass, Target, Wire};
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value};

use super::request::LlmRequest;
use super::route::CallType;
use super::stream::Translate;
use crate::error::ProxyError;

/// How to read a successful answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// OpenAI upstream, OpenAI client: as it is.
    Native,
    /// Anthropic upstream, OpenAI chat client.
    AnthropicForChat,
    /// Anthropic upstream, `/v1/messages` client: as it is, usage read in Anthropic terms.
    AnthropicPassthrough,
    /// OpenAI-wire upstream (OpenAI, Azure, ...), `/v1/messages` client.
    OpenAiForMessages,
    /// Gemini upstream, OpenAI chat client.
    GeminiForChat,
    /// Gemini upstream, `/v1/messages` client (Anthropic -> OpenAI -> Gemini and back).
    GeminiForMessages,
    /// Bedrock Converse upstream, OpenAI chat client.
    BedrockForChat,
    /// Bedrock Converse upstream, `/v1/messages` client.
    BedrockForMessages,
}

/// The upstream request of one attempt.
#[derive(Debug)]
pub struct Outbound {
    pub url: String,
    /// Authentication and protocol headers (the deployment's extra headers come on top).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    pub codec: Codec,
    /// `OpenAIException`, `AnthropicException`, ... for error messages.
    pub label: &'static str,
}

pub fn prepare(
    request: &LlmRequest,
    deployment: &Deployment,
    target: &Target,
) -> Result<Outbound, ProxyError> {
    let provider = target.provider;
    if provider.wire == Wire::Unsupported {
        return Err(ProxyError::new(
            StatusCode::NOT_IMPLEMENTED,
            "invalid_request_error",
            format!(
                "haimaker does not support provider `{}` yet (deployment {} of model group `{}`); OpenAI-compatible providers, azure, anthropic, gemini and bedrock are supported",
                provider.name, deployment.id, deployment.model_name
            ),
        )
        .with_class(ErrorClass::BadRequest));
    }
    let bedrock_endpoint =
        (provider.wire == Wire::Bedrock).then(|| bedrock_endpoint(deployment, target));
    let Some(api_base) = bedrock_endpoint.as_deref().or(target.api_base.as_deref()) else {
        return Err(ProxyError::internal(format!(
            "deployment {} of model group `{}` has no `api_base` and provider `{}` has no default: set litellm_params.api_base",
            deployment.id, deployment.model_name, provider.name
        ))
        .with_class(ErrorClass::BadRequest));
    };
    let label = haimaker_providers::errors::exception_label(provider.name);
    let model = target.provider_model.as_str();
    let call = request.call;
    let (url, mut headers) = match provider.wire {
        Wire::Azure => {
            let version = deployment
                .api_version
                .as_deref()
                .unwrap_or(azure::DEFAULT_API_VERSION);
            (
                azure::url(api_base, model, version, call.upstream_path()),
                azure_auth(deployment, target),
            )
        }
        Wire::Anthropic => {
            refuse_non_chat(call, "anthropic", deployment)?;
            (anthropic::url(api_base), anthropic_headers(request, target))
        }
        Wire::Bedrock => {
            refuse_non_chat(call, "bedrock", deployment)?;
            if model.starts_with("invoke/") {
                return Err(ProxyError::bad_request(format!(
                    "haimaker calls Bedrock through the Converse API: use `bedrock/<model id>` or `bedrock/converse/<model id>` instead of `bedrock/{model}` (model group `{}`)",
                    deployment.model_name
                ))
                .with_class(ErrorClass::BadRequest));
            }
            // A Bedrock API key is a bearer token; without one the request is SigV4-signed
            // below, once its body is known.
            (
                bedrock::url(api_base, model, request.stream),
                bearer(target.api_key.as_ref().map(|k| k.expose())),
            )
        }
        Wire::Gemini => {
            refuse_non_chat(call, "gemini", deployment)?;
            (
                gemini::url(api_base, model, request.stream),
                target
                    .api_key
                    .as_ref()
                    .and_then(|k| header("x-goog-api-key", k.expose()))
                    .into_iter()
                    .collect(),
            )
        }
        _ => (
            format!("{api_base}{}", call.upstream_path()),
            bearer(target.api_key.as_ref().map(|k| k.expose())),
        ),
    };
    headers.retain(|(_, v)| !v.is_empty());
    let drop_params = deployment.drop_params || request.drop_params;
    let (body, codec) = match (provider.wire, call) {
        (Wire::Anthropic, CallType::Messages) => {
            let mut body = request.body.clone();
            body.set_str("model", model);
            (body.to_vec(), Codec::AnthropicPassthrough)
        }
        (Wire::Anthropic, _) => {
            let translated =
                anthropic::request(openai_map(request, deployment)?, model, drop_params)
                    .map_err(bad_request)?;
            (to_vec(&translated)?, Codec::AnthropicForChat)
        }
        (Wire::Bedrock, CallType::Messages) => {
            let translated = bedrock::request(
                messages_as_chat(request, deployment, model)?,
                model,
                drop_params,
            )
            .map_err(bad_request)?;
            (to_vec(&translated)?, Codec::BedrockForMessages)
        }
        (Wire::Bedrock, _) => {
            let translated = bedrock::request(openai_map(request, deployment)?, model, drop_params)
                .map_err(bad_request)?;
            (to_vec(&translated)?, Codec::BedrockForChat)
        }
        (Wire::Gemini, CallType::Messages) => {
            let translated = gemini::request(
                messages_as_chat(request, deployment, model)?,
                model,
                drop_params,
            )
            .map_err(bad_request)?;
            (to_vec(&translated)?, Codec::GeminiForMessages)
        }
        (Wire::Gemini, _) => {
            let translated = gemini::request(openai_map(request, deployment)?, model, drop_params)
                .map_err(bad_request)?;
            (to_vec(&translated)?, Codec::GeminiForChat)
        }
        (_, CallType::Messages) => {
            let translated = Value::Object(messages_as_chat(request, deployment, model)?);
            (to_vec(&translated)?, Codec::OpenAiForMessages)
        }
        _ => (
            super::attempt::upstream_body(request, deployment, target),
            Codec::Native,
        ),
    };
    if provider.wire == Wire::Bedrock && target.api_key.is_none() {
        headers.extend(aws_signature(deployment, &url, &body)?);
    }
    Ok(Outbound {
        url,
        headers,
        body: Bytes::from(body),
        codec,
        label,
    })
}

impl Codec {
    /// A successful buffered answer in the client's format, and its usage. `Err` when the
    /// upstream's body cannot be read as its format says.
    pub fn json(self, body: Bytes, model: &str) -> Result<(Bytes, Option<Usage>), String> {
        match self {
            Self::Native => match haimaker_openai::response_usage(&body) {
                Ok(parsed) => Ok((body, parsed.usage)),
                Err(e) => Err(e.to_string()),
            },
            Self::AnthropicForChat => {
                let (completion, usage) = anthropic::response(&body).map_err(|e| e.message)?;
                Ok((Bytes::from(completion.to_string()), Some(usage)))
            }
            Self::AnthropicPassthrough => {
                let usage = messages::anthropic_usage(&body);
                if usage.is_none() && serde_json::from_slice::<Map<String, Value>>(&body).is_err() {
                    return Err("the response is not a JSON object".into());
                }
                Ok((body, usage))
            }
            Self::OpenAiForMessages => {
                let completion: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
                if !completion.is_object() {
                    return Err("the response is not a JSON object".into());
                }
                let usage = completion
                    .get("usage")
                    .and_then(|u| serde_json::from_value::<Usage>(u.clone()).ok());
                let message = messages::response(&completion);
                Ok((Bytes::from(message.to_string()), usage))
            }
            Self::GeminiForChat => {
                let (completion, usage) = gemini::response(&body, model).map_err(|e| e.message)?;
                Ok((Bytes::from(completion.to_string()), Some(usage)))
            }
            Self::GeminiForMessages => {
                let (completion, usage) = gemini::response(&body, model).map_err(|e| e.message)?;
                let message = messages::response(&completion);
                Ok((Bytes::from(message.to_string()), Some(usage)))
            }
            Self::BedrockForChat => {
                let (completion, usage) = bedrock::response(&body, model).map_err(|e| e.message)?;
                Ok((Bytes::from(completion.to_string()), Some(usage)))
            }
            Self::BedrockForMessages => {
                let (completion, usage) = bedrock::response(&body, model).map_err(|e| e.message)?;
                let message = messages::response(&completion);
                Ok((Bytes::from(message.to_string()), Some(usage)))
            }
        }
    }

    /// The stream translator for this codec (`None`: relay the upstream's events as they are).
    pub fn stream(self, model: &str) -> Option<Translate> {
        let translator: Box<dyn StreamTranslator> = match self {
            Self::Native => return None,
            Self::AnthropicForChat => Box::new(anthropic_stream::AnthropicToOpenAi::new()),
            Self::AnthropicPassthrough => Box::new(messages_stream::AnthropicPassthrough::new()),
            Self::OpenAiForMessages => Box::new(messages_stream::OpenAiToAnthropic::new(model)),
            Self::GeminiForChat => Box::new(gemini_stream::GeminiToOpenAi::new(model)),
            Self::GeminiForMessages => Box::new(Chain::new(
                gemini_stream::GeminiToOpenAi::new(model),
                messages_stream::OpenAiToAnthropic::new(model),
            )),
            Self::BedrockForChat => Box::new(bedrock_stream::BedrockToOpenAi::new(model)),
            Self::BedrockForMessages => Box::new(Chain::new(
                bedrock_stream::BedrockToOpenAi::new(model),
                messages_stream::OpenAiToAnthropic::new(model),
            )),
        };
        Some(Translate(translator))
    }
}

/// The Bedrock runtime endpoint: `api_base`, else `aws_bedrock_runtime_endpoint`, else
/// `AWS_BEDROCK_RUNTIME_ENDPOINT`, else `https://bedrock-runtime.<region>.amazonaws.com` (the
/// order of LiteLLM's `get_runtime_endpoint`).
fn bedrock_endpoint(deployment: &Deployment, target: &Target) -> String {
    let explicit = deployment
        .config
        .litellm_params
        .api_base
        .as_ref()
        .and(target.api_base.clone());
    explicit
        .or_else(|| deployment.aws.bedrock_runtime_endpoint.clone())
        .or_else(|| target.api_base.clone())
        .unwrap_or_else(|| {
            bedrock::default_endpoint(
                deployment
                    .aws
                    .region_name
                    .as_deref()
                    .unwrap_or(bedrock::DEFAULT_REGION),
            )
        })
}

/// SigV4 headers for a Bedrock request (`authorization`, `x-amz-date`, and
/// `x-amz-security-token` with temporary credentials).
fn aws_signature(
    deployment: &Deployment,
    url: &str,
    body: &[u8],
) -> Result<Vec<(HeaderName, HeaderValue)>, ProxyError> {
    let aws = &deployment.aws;
    let (Some(key_id), Some(secret)) = (&aws.access_key_id, &aws.secret_access_key) else {
        return Err(ProxyError::new(
            StatusCode::UNAUTHORIZED,
            "auth_error",
            format!(
                "litellm.AuthenticationError: BedrockException - no AWS credentials for deployment {} of model group `{}`: set aws_access_key_id and aws_secret_access_key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or api_key for a Bedrock API key",
                deployment.id, deployment.model_name
            ),
        )
        .with_class(ErrorClass::Authentication));
    };
    let credentials = sigv4::AwsCredentials {
        access_key_id: key_id.expose(),
        secret_access_key: secret.expose(),
        session_token: aws.session_token.as_ref().map(|t| t.expose()),
    };
    let region = aws
        .region_name
        .as_deref()
        .unwrap_or(bedrock::DEFAULT_REGION);
    let signed = sigv4::sign_request(
        url,
        &[("content-type", "application/json")],
        body,
        credentials,
        region,
        bedrock::SIGNING_SERVICE,
        std::time::SystemTime::now(),
    )
    .map_err(|e| ProxyError::internal(format!("could not sign the Bedrock request: {e}")))?;
    signed
        .into_iter()
        .map(|(name, value)| {
            HeaderValue::from_str(&value)
                .map(|v| (HeaderName::from_static(name), v))
                .map_err(|e| ProxyError::internal(format!("invalid signature header: {e}")))
        })
        .collect()
}

/// Providers that only chat: `/completions` and `/embeddings` are a 400.
fn refuse_non_chat(
    call: CallType,
    provider: &str,
    deployment: &Deployment,
) -> Result<(), ProxyError> {
    if matches!(call, CallType::Completion | CallType::Embedding) {
        return Err(ProxyError::bad_request(format!(
            "litellm.BadRequestError: {provider} does not support {} (model group `{}`)",
            call.route_name(),
            deployment.model_name
        ))
        .with_class(ErrorClass::BadRequest));
    }
    Ok(())
}

/// A `/v1/messages` request as an OpenAI chat request for `model`, with the deployment's
/// default parameters.
fn messages_as_chat(
    request: &LlmRequest,
    deployment: &Deployment,
    model: &str,
) -> Result<Map<String, Value>, ProxyError> {
    let translated =
        messages::request(json_map(&request.body.to_vec())?, model).map_err(bad_request)?;
    let Value::Object(mut body) = translated else {
        return Err(ProxyError::internal(
            "the translated request is not an object",
        ));
    };
    add_defaults(&mut body, deployment);
    Ok(body)
}

fn header(name: &'static str, value: &str) -> Option<(HeaderName, HeaderValue)> {
    HeaderValue::from_str(value)
        .ok()
        .map(|v| (HeaderName::from_static(name), v))
}

fn bearer(key: Option<&str>) -> Vec<(HeaderName, HeaderValue)> {
    key.and_then(|k| header("authorization", &format!("Bearer {k}")))
        .into_iter()
        .collect()
}

/// `api-key: <key>`, or `Authorization: Bearer <azure_ad_token>` without a key.
fn azure_auth(deployment: &Deployment, target: &Target) -> Vec<(HeaderName, HeaderValue)> {
    match (&target.api_key, &deployment.azure_ad_token) {
        (Some(key), _) => header("api-key", key.expose()).into_iter().collect(),
        (None, Some(token)) => bearer(Some(token.expose())),
        (None, None) => Vec::new(),
    }
}

fn anthropic_headers(request: &LlmRequest, target: &Target) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers: Vec<_> = target
        .api_key
        .as_ref()
        .and_then(|k| header("x-api-key", k.expose()))
        .into_iter()
        .collect();
    headers.extend(header("anthropic-version", anthropic::API_VERSION));
    if let Some(beta) = &request.anthropic_beta {
        headers.extend(header("anthropic-beta", beta));
    }
    headers
}

/// The OpenAI request as JSON, with the deployment's default parameters.
fn openai_map(
    request: &LlmRequest,
    deployment: &Deployment,
) -> Result<Map<String, Value>, ProxyError> {
    let mut body = json_map(&request.body.to_vec())?;
    add_defaults(&mut body, deployment);
    Ok(body)
}

fn add_defaults(body: &mut Map<String, Value>, deployment: &Deployment) {
    for (key, value) in &deployment.default_params {
        if !body.contains_key(key) {
            body.insert(key.clone(), value.clone());
        }
    }
}

fn json_map(bytes: &[u8]) -> Result<Map<String, Value>, ProxyError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ProxyError::bad_request(format!("the request body is not a JSON object: {e}")))
}

fn to_vec(value: &Value) -> Result<Vec<u8>, ProxyError> {
    serde_json::to_vec(value)
        .map_err(|e| ProxyError::internal(format!("could not encode the upstream request: {e}")))
}

fn bad_request(e: TranslateError) -> ProxyError {
    let err = ProxyError::bad_request(e.message).with_class(ErrorClass::BadRequest);
    match e.param {
        Some(p) => err.with_param(p),
        None => err,
    }
}
