//! Everything a request handler reads, built once per worker from the config.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use haimaker_config::{Config, Secret};
use haimaker_pricing::PriceMap;
use haimaker_router::Router;
use http::{HeaderName, HeaderValue};

use crate::upstream::Upstream;

/// Request bodies above this size are refused when `max_request_size_mb` is not set. LiteLLM
/// has no cap at all; a cap keeps one request from exhausting a worker's memory.
const DEFAULT_MAX_REQUEST_MB: f64 = 100.0;
/// Same for buffered (non-streaming) upstream responses.
const DEFAULT_MAX_RESPONSE_MB: f64 = 100.0;

/// The worker-wide state, shared by every connection task.
#[derive(Debug)]
pub struct AppState {
    /// The deployments. Swapped whole when stored models change; a request keeps the router it
    /// started with.
    router: arc_swap::ArcSwap<Router>,
    pub master_key: Option<Secret>,
    pub key_header: Option<HeaderName>,
    pub max_request_bytes: usize,
    pub max_response_bytes: usize,
    /// `--detailed_debug`: prompts, completions and keys may be logged.
    pub detailed_debug: bool,
    pub upstream: Upstream,
    pub version: HeaderValue,
    pub counters: Arc<Counters>,
    /// Postgres, when a database is configured.
    pub db: Option<Arc<crate::db::DbLayer>>,
    /// `general_settings.max_parallel_requests`: the default per-key concurrency.
    pub default_key_parallel: Option<u32>,
    /// Stored models (`store_model_in_db`).
    pub models: Option<crate::models::ModelStore>,
    /// Redis, when one is configured: the response cache, limits and budgets across workers
    /// and instances, shared routing state, key-cache invalidation. Every use falls back to
    /// per-process behaviour while it is down.
    pub redis: Option<haimaker_cache::Redis>,
    /// The response cache (`litellm_settings.cache`), in Redis or in this worker's memory.
    pub response_cache: Option<crate::pipeline::ResponseCache>,
    /// Completion tokens a budget reservation assumes when the request does not cap them
    /// (`HAIMAKER_RESERVE_MAX_TOKENS`).
    pub reserve_max_tokens: u64,
    /// This worker's metrics, and the pod's as the supervisor last rendered them.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Limits, budgets, routing state and invalidations shared through `redis`.
    pub shared: Option<Arc<crate::shared::Shared>>,
    /// Slack / webhook alerting (`general_settings.alerting`); `None` when off.
    pub alerts: Option<haimaker_alerting::Alerting>,
}

/// Request counters and lifecycle flags, read by the heartbeat, by recycling and by the
/// health endpoints.
#[derive(Debug, Default)]
pub struct Counters {
    pub in_flight: AtomicU64,
    pub served: AtomicU64,
    /// Requests this worker may serve before it asks to be recycled (0 = no limit).
    pub budget: AtomicU64,
    /// Woken once when `served` reaches `budget`.
    pub budget_reached: tokio::sync::Notify,
    /// Set when the drain starts: readiness turns 503 and HTTP/1 responses close their
    /// connection.
    pub draining: AtomicBool,
}

impl Counters {
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

impl Counters {
    /// Marks a request as started; the guard marks it finished when dropped.
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }
}

/// Decrements `in_flight` on drop (so a cancelled request is counted out too).
#[derive(Debug)]
pub struct InFlight(Arc<Counters>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        let served = self.0.served.fetch_add(1, Ordering::Relaxed) + 1;
        let budget = self.0.budget.load(Ordering::Relaxed);
        if budget > 0 && served == budget {
            self.0.budget_reached.notify_one();
        }
    }
}

/// Process-level options that are not in config.yaml.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    pub detailed_debug: bool,
}

impl AppState {
    pub fn new(
        config: &Config,
        options: &RuntimeOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, haimaker_store::StoreError> {
        let general = &config.general_settings;
        let key_header = general
            .litellm_key_header_name
            .as_deref()
            .and_then(|h| HeaderName::from_bytes(h.trim().to_ascii_lowercase().as_bytes()).ok());
        let master_key = general.master_key.clone().or_else(|| {
            env("LITELLM_MASTER_KEY")
                .filter(|k| !k.is_empty())
                .map(Secret::new)
        });
        let db = crate::db::DbLayer::new(config, master_key.as_ref().map(Secret::expose), env)?
            .map(Arc::new);
        let models =
            crate::models::ModelStore::new(config, master_key.as_ref().map(Secret::expose), env);
        let redis = haimaker_cache::settings(config, env).and_then(|settings| {
            match haimaker_cache::Redis::new(&settings) {
                Ok(redis) => {
                    tracing::info!(target: "haimaker::redis", address = %settings.display_address(), source = settings.source, "using redis");
                    Some(redis)
                }
                Err(e) => {
                    tracing::error!(target: "haimaker::redis", error = %e, "redis is not used");
                    None
                }
            }
        });
        let response_cache =
            crate::pipeline::ResponseCache::from_config(config, redis.as_ref(), env);
        Ok(Self {
            router: arc_swap::ArcSwap::from_pointee(Router::new(config, env)),
            // LiteLLM: `general_settings.master_key`, else the LITELLM_MASTER_KEY variable.
            master_key,
            key_header,
            max_request_bytes: mb_to_bytes(
                general
                    .max_request_size_mb
                    .unwrap_or(DEFAULT_MAX_REQUEST_MB),
            ),
            max_response_bytes: mb_to_bytes(
                general
                    .max_response_size_mb
                    .unwrap_or(DEFAULT_MAX_RESPONSE_MB),
            ),
            detailed_debug: options.detailed_debug,
            upstream: Upstream::default(),
            version: HeaderValue::from_static(env!("CARGO_PKG_VERSION")),
            counters: Arc::default(),
            models,
            db,
            metrics: Arc::new(crate::metrics::Metrics::new(
                general.require_auth_for_metrics_endpoint.unwrap_or(true),
                !(config.litellm_settings.disable_end_user_cost_tracking
                    || config
                        .litellm_settings
                        .disable_end_user_cost_tracking_prometheus_only),
                env,
            )),
            reserve_max_tokens: env("HAIMAKER_RESERVE_MAX_TOKENS")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(crate::pipeline::DEFAULT_RESERVE_MAX_TOKENS),
            shared: redis
                .clone()
                .map(|redis| Arc::new(crate::shared::Shared::new(redis, env))),
            redis,
            response_cache,
            default_key_parallel: general.max_parallel_requests,
            alerts: crate::pipeline::alerts::from_config(config, env, options.detailed_debug),
        })
    }

    /// The router as of now.
    pub fn router(&self) -> Arc<Router> {
        self.router.load_full()
    }

    /// Installs a new router (stored models changed).
    pub fn replace_router(&self, router: Router) {
        self.router.store(Arc::new(router));
    }

    /// The bundled price map (parsed on first use; [`Self::warm_up`] does it early).
    pub fn prices(&self) -> &'static PriceMap {
        PriceMap::bundled()
    }

    /// Parses the price map and builds the upstream client on a background thread, so the
    /// worker can report ready first. A request that needs either before it is done waits.
    pub fn warm_up(self: &Arc<Self>) {
        let state = Arc::clone(self);
        let _ = std::thread::Builder::new()
            .name("haimaker-warmup".into())
            .spawn(move || {
                let _ = state.prices();
                if let Err(e) = state.upstream.client() {
                    tracing::error!(target: "haimaker::worker", error = %e, "could not build the upstream client");
                }
            });
    }
}

fn mb_to_bytes(mb: f64) -> usize {
    let bytes = (mb * 1024.0 * 1024.0).max(1.0);
    if bytes >= usize::MAX as f64 {
        usize::MAX
    } else {
        bytes as usize
    }
}

/// How long a value of seconds from a header or body is allowed to be (guards against
/// `timeout: 1e300`).
pub fn seconds(value: f64) -> Option<Duration> {
    (0.0..1e9)
        .contains(&value)
        .then(|| Duration::from_secs_f64(value))
}
