//! The response cache (reference section 11): `litellm_settings.cache: true`.
//!
//! * **What**: successful final answers of chat completions, text completions and embeddings
//!   (`cache_params.supported_call_types`, LiteLLM's call type names), never mock answers or
//!   answers without output. A streamed answer is assembled into the response a non-streamed call
//!   gets and stored when the stream completed cleanly with a finish reason, so both kinds of
//!   call share entries.
//! * **Key**: [`haimaker_cache::cache_key`]: the model GROUP (every deployment of a group shares
//!   entries) and the parameters that shape the answer, sha256, prefixed `namespace:`.
//! * **Where**: Redis (`type: redis`, the default), shared by every worker and pod, or a bounded
//!   map in each worker (`type: local`, see [`backend`]).
//! * **Value**: `{"timestamp": <unix seconds>, "response": <the response JSON>}` (LiteLLM's
//!   shape; the response is embedded as JSON rather than as a JSON string, both are read), so
//!   `s-maxage` can judge an entry's age.
//! * **Hit**: no upstream call; the body is the stored response as stored (the cached `id` and
//!   `created` are kept, as LiteLLM keeps them), `x-litellm-cache-key`, cost 0, the spend log
//!   says `cache_hit` "True". A streaming request gets the entry replayed as SSE ([`sse`]).
//! * **Misses never wait for the store**: it runs on its own task after the response is built.
//!
//! Redis being down makes every lookup a miss and every store a no-op; requests never fail
//! because of the cache. Per-request controls are in [`controls`].

mod backend;
mod controls;
mod sse;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use haimaker_config::Config;
use haimaker_openai::Usage;
use http::{HeaderValue, Response, StatusCode, header};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

pub use self::backend::Backend;
use self::backend::Local;
pub use self::controls::Controls;
use super::charge::Charge;
use super::enforce::{self, Admission};
use super::request::LlmRequest;
use super::respond::{self, CallReport};
use super::route::CallType;
use super::stream::Collector;
use super::{Body, RequestCtx};
use crate::error::ProxyError;
use crate::state::AppState;

/// The worker's response cache. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ResponseCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    backend: Backend,
    namespace: Option<String>,
    /// `cache_params.ttl`, or `default_in_redis_ttl` / `default_in_memory_ttl` for its type.
    ttl: Option<Duration>,
    /// `mode: default_on` (else `default_off`: only requests with `cache: {"use-cache": true}`).
    default_on: bool,
    chat: bool,
    completion: bool,
    embedding: bool,
    /// As configured, for `/cache/ping`.
    supported_call_types: Vec<String>,
    /// `host`, `port` of Redis, for `/cache/ping` (never credentials).
    redis_address: Option<(String, u16)>,
}

/// LiteLLM's default `supported_call_types` (the proxy's `DEFAULT_CACHING_SUPPORTED_CALL_TYPES`,
/// restricted to the calls haimaker serves).
const DEFAULT_CALL_TYPES: &[&str] = &[
    "completion",
    "acompletion",
    "text_completion",
    "atext_completion",
    "embedding",
    "aembedding",
];

impl ResponseCache {
    /// The cache `litellm_settings` asks for, or `None` (not enabled, or not possible: the reason
    /// is logged as a warning).
    ///
    /// `cache: true` with a Redis type but no Redis configured runs WITHOUT a cache rather than
    /// quietly switching to per-worker memory: per-worker caches behave differently (each worker and
    /// pod has its own entries, `/cache/delete` reaches one worker), and an operator who asked for
    /// Redis should see that it is missing, not get something else.
    pub fn from_config(
        config: &Config,
        redis: Option<&haimaker_cache::Redis>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Self> {
        let settings = &config.litellm_settings;
        if !settings.cache {
            return None;
        }
        let params = settings.cache_params.clone().unwrap_or_default();
        let kind = params.cache_type.as_deref().unwrap_or("redis");
        let (backend, ttl, redis_address) = match kind {
            "local" => (
                Backend::Local(Local::default()),
                params.default_in_memory_ttl.or(params.ttl),
                None,
            ),
            "redis" => {
                let Some(redis) = redis else {
                    tracing::warn!(
                        target: "haimaker::cache",
                        "litellm_settings.cache is true with cache type redis, but no Redis is configured \
                         (cache_params.host / redis_url, router_settings.redis_host / redis_url, or REDIS_HOST / REDIS_URL): \
                         running WITHOUT a response cache; set cache_params.type: local for a per-worker in-memory cache"
                    );
                    return None;
                };
                let address = haimaker_cache::resolve(config, env)
                    .ok()
                    .flatten()
                    .map(|s| (s.host, s.port));
                (
                    Backend::Redis(redis.clone()),
                    params.default_in_redis_ttl.or(params.ttl),
                    address,
                )
            }
            other => {
                tracing::warn!(
                    target: "haimaker::cache",
                    cache_type = other,
                    "litellm_settings.cache_params.type {other:?} is not supported (redis and local are): running WITHOUT a response cache"
                );
                return None;
            }
        };
        let supported_call_types: Vec<String> = params.supported_call_types.unwrap_or_else(|| {
            DEFAULT_CALL_TYPES
                .iter()
                .map(|s| (*s).to_string())
                .collect()
        });
        let has = |names: [&str; 2]| {
            supported_call_types
                .iter()
                .any(|t| names.contains(&t.as_str()))
        };
        let inner = Inner {
            namespace: params.namespace.filter(|n| !n.is_empty()),
            ttl,
            default_on: params.mode.as_deref() != Some("default_off"),
            chat: has(["completion", "acompletion"]),
            completion: has(["text_completion", "atext_completion"]),
            embedding: has(["embedding", "aembedding"]),
            supported_call_types,
            redis_address,
            backend,
        };
        tracing::info!(
            target: "haimaker::cache",
            cache_type = inner.backend.kind(),
            namespace = inner.namespace.as_deref().unwrap_or(""),
            ttl_s = inner.ttl.map(|t| t.as_secs_f64()),
            mode = if inner.default_on { "default_on" } else { "default_off" },
            "response cache on"
        );
        Some(Self {
            inner: Arc::new(inner),
        })
    }

    /// A local cache with the default settings (tests).
    #[cfg(test)]
    fn local() -> Self {
        Self {
            inner: Arc::new(Inner {
                backend: Backend::Local(Local::default()),
                namespace: None,
                ttl: None,
                default_on: true,
                chat: true,
                completion: true,
                embedding: true,
                supported_call_types: Vec::new(),
                redis_address: None,
            }),
        }
    }

    /// `"redis"` or `"local"`.
    pub fn kind(&self) -> &'static str {
        self.inner.backend.kind()
    }

    pub fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    fn supports(&self, call: CallType) -> bool {
        match call {
            CallType::Chat => self.inner.chat,
            CallType::Completion => self.inner.completion,
            CallType::Embedding => self.inner.embedding,
            // Anthropic-format answers are not cached (LiteLLM's cache does not cover them).
            CallType::Messages => false,
        }
    }

    /// What `/cache/ping` shows as `litellm_cache_params` (LiteLLM: the cache object's fields).
    pub fn describe(&self) -> Value {
        let i = &self.inner;
        json!({
            "supported_call_types": i.supported_call_types,
            "type": self.kind(),
            "namespace": i.namespace,
            "ttl": i.ttl.map(|t| t.as_secs_f64()),
            "mode": if i.default_on { "default_on" } else { "default_off" },
        })
    }

    /// What `/cache/ping` shows as `health_check_cache_params` (LiteLLM's `HealthCheckCacheParams`).
    pub fn health_params(&self, redis_version: Option<String>) -> Value {
        let (host, port) = self
            .inner
            .redis_address
            .clone()
            .map_or((None, None), |(h, p)| (Some(h), Some(p)));
        json!({
            "host": host,
            "port": port,
            "namespace": self.inner.namespace,
            "redis_version": redis_version,
        })
    }
}

/// What a lookup found.
pub enum Lookup {
    /// Answer from the cache.
    Hit(Hit),
    /// Call the upstream; store the answer with the [`Store`] (unless caching does not apply or
    /// the request said `no-store`).
    Miss(Option<Store>),
}

/// Looks the request up. Never fails: anything in the way is a miss.
pub async fn lookup(state: &AppState, request: &LlmRequest, group: &str) -> Lookup {
    let Some(cache) = state.response_cache.as_ref() else {
        return Lookup::Miss(None);
    };
    let controls = &request.cache;
    if !cache.supports(request.call)
        || request.mock_response.is_some()
        || controls.caching_off
        || !(cache.inner.default_on || controls.use_cache)
    {
        return Lookup::Miss(None);
    }
    let params = key_params(request);
    let namespace = controls
        .namespace
        .clone()
        .or_else(|| cache.inner.namespace.clone());
    let key = haimaker_cache::cache_key(group, &params, namespace.as_deref());
    let store = (!controls.no_store).then(|| Store {
        cache: cache.clone(),
        call: request.call,
        params,
        namespace,
        group: group.to_string(),
        key: key.clone(),
        ttl: controls.ttl.or(cache.inner.ttl).or(controls.top_level_ttl),
    });
    if controls.no_cache {
        return Lookup::Miss(store);
    }
    let Some(stored) = cache.inner.backend.get(&key).await else {
        return Lookup::Miss(store);
    };
    match Hit::read(&stored, request.call, controls.s_maxage, now_secs()) {
        Some(found) => {
            tracing::debug!(target: "haimaker::cache", key = %key, "cache hit");
            Lookup::Hit(Hit {
                key,
                group: group.to_string(),
                call: request.call,
                found,
            })
        }
        None => Lookup::Miss(store),
    }
}

/// The parameters of the key, parsed from the body (only those [`haimaker_cache::CACHE_KEY_PARAMS`]
/// names; `model` is the group, passed apart).
fn key_params(request: &LlmRequest) -> Map<String, Value> {
    let mut params = Map::new();
    for &name in haimaker_cache::CACHE_KEY_PARAMS {
        if name == "model" {
            continue;
        }
        if let Some(raw) = request.body.get(name)
            && let Ok(value) = serde_json::from_str::<Value>(raw.get())
        {
            params.insert(name.to_string(), value);
        }
    }
    params
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `{"timestamp": <now>, "response": <body>}`, the body embedded as it is (it is a JSON object).
fn encode(body: &[u8], timestamp: f64) -> Bytes {
    let mut out = Vec::with_capacity(body.len() + 48);
    out.extend_from_slice(b"{\"timestamp\":");
    out.extend_from_slice(timestamp.to_string().as_bytes());
    out.extend_from_slice(b",\"response\":");
    out.extend_from_slice(body);
    out.push(b'}');
    Bytes::from(out)
}

/// Just enough of a response to judge it.
#[derive(Deserialize)]
struct Peek {
    #[serde(default)]
    choices: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    data: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    model: Option<String>,
}

impl Peek {
    /// Whether the response has output of the kind `call` returns (LiteLLM neither stores nor
    /// serves responses without output).
    fn has_output(&self, call: CallType) -> bool {
        let non_empty = |v: &Option<Vec<IgnoredAny>>| v.as_ref().is_some_and(|v| !v.is_empty());
        match call {
            CallType::Chat | CallType::Completion => non_empty(&self.choices),
            CallType::Embedding => non_empty(&self.data),
            CallType::Messages => false,
        }
    }
}

/// A usable cached response.
#[derive(Debug)]
struct Found {
    body: Bytes,
    usage: Option<Usage>,
    model: Option<String>,
}

/// A request answered from the cache.
pub struct Hit {
    key: String,
    group: String,
    call: CallType,
    found: Found,
}

impl Hit {
    /// Decodes an entry; `None` when it is unreadable, older than `s_maxage` seconds, or has no
    /// output for `call`.
    fn read(stored: &Bytes, call: CallType, s_maxage: Option<f64>, now: f64) -> Option<Found> {
        #[derive(Deserialize)]
        struct Entry<'a> {
            #[serde(default)]
            timestamp: Option<f64>,
            #[serde(borrow)]
            response: &'a RawValue,
        }
        let entry: Entry<'_> = serde_json::from_slice(stored).ok()?;
        if let Some(max_age) = s_maxage {
            // No timestamp: the age is unknown, so the entry is not known to be fresh.
            let age = now - entry.timestamp?;
            if age > max_age {
                return None;
            }
        }
        let raw = entry.response.get();
        let body = if raw.starts_with('"') {
            // LiteLLM writes the response as a JSON string.
            Bytes::from(serde_json::from_str::<String>(raw).ok()?)
        } else {
            // A slice of the stored bytes: no copy.
            let start = (raw.as_ptr() as usize).checked_sub(stored.as_ptr() as usize)?;
            let end = start.checked_add(raw.len())?;
            if end > stored.len() {
                return None;
            }
            stored.slice(start..end)
        };
        let peek: Peek = serde_json::from_slice(&body).ok()?;
        if !peek.has_output(call) {
            return None;
        }
        Some(Found {
            body,
            usage: peek.usage,
            model: peek.model,
        })
    }

    /// The response: the cached body (or its SSE replay for a streaming request), cost 0, the
    /// spend-log row, and the headers of any answer. `admission` is held until the response is
    /// built, as for an upstream answer.
    pub fn respond(
        self,
        state: &AppState,
        ctx: &RequestCtx,
        request: &LlmRequest,
        admission: Admission,
        charge: Option<Charge>,
    ) -> Response<Body> {
        let Hit {
            key,
            group,
            call,
            found,
        } = self;
        if let Some(charge) = charge {
            let model = found.model.as_deref().unwrap_or(&group);
            charge.cache_hit(model, &group, &key, found.usage.as_ref());
        }
        let replayed = if request.stream {
            serde_json::from_slice::<Value>(&found.body)
                .ok()
                .and_then(|v| sse::replay(call, &v, request.include_usage))
        } else {
            None
        };
        let mut response = match replayed {
            Some(sse) => {
                let mut response = Response::new(respond::full(sse));
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/event-stream"),
                );
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                response
            }
            None => respond::json(StatusCode::OK, found.body),
        };
        let max_fallbacks = state.router().policy().max_fallbacks;
        let report = CallReport {
            model_group: Some(&group),
            response_cost: Some(0.0),
            total: ctx.start.elapsed(),
            max_fallbacks: Some(max_fallbacks),
            ..CallReport::default()
        };
        let headers = response.headers_mut();
        report.apply(headers, &state.version);
        if let Ok(v) = HeaderValue::from_str(&key) {
            headers.insert("x-litellm-cache-key", v);
        }
        if let Some(spend) = admission.key_spend
            && let Ok(v) = HeaderValue::from_str(&spend.to_string())
        {
            headers.insert("x-litellm-key-spend", v);
        }
        if let Some(max) = admission.key_max_budget
            && let Ok(v) = HeaderValue::from_str(&max.to_string())
        {
            headers.insert("x-litellm-key-max-budget", v);
        }
        if let Some(remaining) = &admission.remaining {
            for (name, value) in enforce::ratelimit_headers(remaining) {
                headers.insert(name, value);
            }
        }
        drop(admission);
        response
    }
}

/// Stores a miss's answer (on its own task: the client never waits for it).
pub struct Store {
    cache: ResponseCache,
    call: CallType,
    params: Map<String, Value>,
    namespace: Option<String>,
    /// The group looked up, and its key.
    group: String,
    key: String,
    ttl: Option<Duration>,
}

impl Store {
    /// The key under `group`: the group that answered (after a fallback, LiteLLM stores the answer
    /// under the fallback group's key).
    fn key_for(&self, group: &str) -> String {
        if group == self.group {
            self.key.clone()
        } else {
            haimaker_cache::cache_key(group, &self.params, self.namespace.as_deref())
        }
    }

    /// Stores a buffered answer.
    pub fn json(self, group: &str, body: Bytes) {
        let key = self.key_for(group);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let has_output =
                serde_json::from_slice::<Peek>(&body).is_ok_and(|peek| peek.has_output(self.call));
            if has_output {
                let entry = encode(&body, now_secs());
                self.cache.inner.backend.set(&key, entry, self.ttl).await;
            }
        });
    }

    /// A collector for a streamed answer: when the stream completed cleanly, its events are
    /// assembled into a response and stored.
    pub fn collector(self, group: &str) -> Collector {
        let key = self.key_for(group);
        let limit = self.cache.inner.backend.max_entry_bytes();
        Collector::new(limit, move |events| {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return;
            };
            runtime.spawn(async move {
                if let Some(body) = sse::assemble(self.call, &events) {
                    let entry = encode(&body, now_secs());
                    self.cache.inner.backend.set(&key, entry, self.ttl).await;
                }
            });
        })
    }
}

/// `/cache/ping`, `/cache/delete`, `/cache/flushall` errors: LiteLLM's wording.
pub fn not_initialized() -> ProxyError {
    ping_error(
        "Cache not initialized. litellm.cache is None",
        &json!({}),
        &json!({}),
    )
}

/// LiteLLM's `cache_ping_error`: 503, the message a JSON string of the details.
pub fn ping_error(message: &str, params: &Value, health: &Value) -> ProxyError {
    let details = json!({
        "message": message,
        "litellm_cache_params": params.to_string(),
        "health_check_cache_params": health.to_string(),
    });
    ProxyError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "cache_ping_error",
        details.to_string(),
    )
    .with_param("cache_ping")
}

#[cfg(test)]
mod tests;
