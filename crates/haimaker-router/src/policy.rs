//! Retries, cooldown rules, fallbacks and timeouts: LiteLLM's router rules as pure functions
//! (reference section 12).

use std::time::Duration;

use haimaker_config::{AllowedFailsPolicy, Config, FallbackRule, RetryPolicy};

use crate::health::Window;

/// LiteLLM's `DEFAULT_MAX_RETRIES`: the proxy retries twice when nothing is configured.
pub const DEFAULT_NUM_RETRIES: u32 = 2;
/// `DEFAULT_COOLDOWN_TIME_SECONDS`.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(5);
/// `DEFAULT_ALLOWED_FAILS`.
pub const DEFAULT_ALLOWED_FAILS: u32 = 3;
/// `ROUTER_MAX_FALLBACKS`.
pub const DEFAULT_MAX_FALLBACKS: u32 = 5;
/// `REQUEST_TIMEOUT`: LiteLLM's default of 6000 s when nothing else sets a timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(6000);
/// `DEFAULT_FAILURE_THRESHOLD_PERCENT`.
const FAILURE_THRESHOLD: f64 = 0.5;
/// Requests a deployment must have seen this minute before its failure *rate* can cool it.
/// LiteLLM applies a minimum too; without one, a single failure is a 100 % rate.
const MIN_REQUESTS_FOR_RATE: u32 = 5;
const INITIAL_RETRY_DELAY: f64 = 0.5;
const MAX_RETRY_DELAY: f64 = 8.0;
const JITTER: f64 = 0.75;

/// What kind of failure a call ended in: decides retries, cooldowns and which fallback list
/// applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    BadRequest,
    ContextWindowExceeded,
    ContentPolicyViolation,
    Authentication,
    PermissionDenied,
    NotFound,
    Timeout,
    RateLimit,
    InternalServer,
    ServiceUnavailable,
    /// Could not connect, connection reset, or an unreadable response.
    Connection,
}

impl ErrorClass {
    pub const COUNT: usize = 11;

    pub fn index(self) -> usize {
        self as usize
    }

    /// The class of an upstream error status (body hints such as context-window errors are
    /// applied by the caller).
    pub fn from_status(status: u16) -> Self {
        match status {
            400 | 413 | 422 => Self::BadRequest,
            401 => Self::Authentication,
            403 => Self::PermissionDenied,
            404 => Self::NotFound,
            408 => Self::Timeout,
            429 => Self::RateLimit,
            503 => Self::ServiceUnavailable,
            _ => Self::InternalServer,
        }
    }

    /// LiteLLM's `_is_cooldown_required`: 429, 401, 408, 404 and 5xx count against a
    /// deployment; other 4xx are the caller's fault.
    pub fn counts_against_deployment(self) -> bool {
        matches!(
            self,
            Self::Authentication
                | Self::NotFound
                | Self::Timeout
                | Self::RateLimit
                | Self::InternalServer
                | Self::ServiceUnavailable
                | Self::Connection
        )
    }

    /// 401, 404 and 408: retrying the same deployment will not help.
    fn is_non_retryable_status(self) -> bool {
        matches!(self, Self::Authentication | Self::NotFound | Self::Timeout)
    }

    fn retry_override(self, policy: &RetryPolicy) -> Option<u32> {
        match self {
            Self::BadRequest => policy.bad_request,
            Self::Authentication => policy.authentication,
            Self::Timeout => policy.timeout,
            Self::RateLimit => policy.rate_limit,
            Self::ContentPolicyViolation => policy.content_policy_violation,
            Self::InternalServer | Self::ServiceUnavailable | Self::Connection => {
                policy.internal_server
            }
            Self::ContextWindowExceeded | Self::PermissionDenied | Self::NotFound => None,
        }
    }

    fn allowed_fails_override(self, policy: &AllowedFailsPolicy) -> Option<u32> {
        match self {
            Self::BadRequest => policy.bad_request,
            Self::Authentication => policy.authentication,
            Self::Timeout => policy.timeout,
            Self::RateLimit => policy.rate_limit,
            Self::ContentPolicyViolation => policy.content_policy_violation,
            Self::InternalServer | Self::ServiceUnavailable | Self::Connection => {
                policy.internal_server
            }
            Self::ContextWindowExceeded | Self::PermissionDenied | Self::NotFound => None,
        }
    }
}

/// Which fallback list an error sends a request to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackKind {
    General,
    ContextWindow,
    ContentPolicy,
}

impl From<ErrorClass> for FallbackKind {
    fn from(class: ErrorClass) -> Self {
        match class {
            ErrorClass::ContextWindowExceeded => Self::ContextWindow,
            ErrorClass::ContentPolicyViolation => Self::ContentPolicy,
            _ => Self::General,
        }
    }
}

/// The router-wide settings, with `router_settings` taking precedence over
/// `litellm_settings` where both have the key.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub num_retries: u32,
    pub retry_policy: RetryPolicy,
    pub allowed_fails: Option<u32>,
    pub allowed_fails_policy: AllowedFailsPolicy,
    pub cooldown_time: Duration,
    pub disable_cooldowns: bool,
    pub retry_after: Duration,
    pub max_fallbacks: u32,
    pub fallbacks: Vec<FallbackRule>,
    pub context_window_fallbacks: Vec<FallbackRule>,
    pub content_policy_fallbacks: Vec<FallbackRule>,
    pub default_fallbacks: Vec<String>,
    pub timeout: Option<Duration>,
    pub stream_timeout: Option<Duration>,
    pub request_timeout: Duration,
}

impl Policy {
    pub fn from_config(config: &Config) -> Self {
        let r = &config.router_settings;
        let l = &config.litellm_settings;
        Self {
            num_retries: r
                .num_retries
                .or(l.num_retries)
                .unwrap_or(DEFAULT_NUM_RETRIES),
            retry_policy: r.retry_policy,
            allowed_fails: r.allowed_fails,
            allowed_fails_policy: r.allowed_fails_policy,
            cooldown_time: r.cooldown_time.unwrap_or(DEFAULT_COOLDOWN),
            disable_cooldowns: r.disable_cooldowns,
            retry_after: r.retry_after.unwrap_or_default(),
            max_fallbacks: r.max_fallbacks.unwrap_or(DEFAULT_MAX_FALLBACKS),
            fallbacks: r
                .fallbacks
                .clone()
                .or_else(|| l.fallbacks.clone())
                .unwrap_or_default(),
            context_window_fallbacks: r
                .context_window_fallbacks
                .clone()
                .or_else(|| l.context_window_fallbacks.clone())
                .unwrap_or_default(),
            content_policy_fallbacks: r
                .content_policy_fallbacks
                .clone()
                .or_else(|| l.content_policy_fallbacks.clone())
                .unwrap_or_default(),
            default_fallbacks: r
                .default_fallbacks
                .clone()
                .or_else(|| l.default_fallbacks.clone())
                .unwrap_or_default(),
            timeout: r.timeout,
            stream_timeout: r.stream_timeout,
            request_timeout: l.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
        }
    }

    /// How many retries an error of `class` gets within its model group. `base` is the
    /// request's `num_retries` if it set one, else the router's.
    pub fn retries_for(&self, class: ErrorClass, base: u32, group_size: usize) -> u32 {
        if let Some(n) = class.retry_override(&self.retry_policy) {
            return n;
        }
        match class {
            // The caller's fault, or handled by a dedicated fallback list: retrying the
            // same request cannot succeed.
            ErrorClass::BadRequest
            | ErrorClass::ContextWindowExceeded
            | ErrorClass::ContentPolicyViolation
            | ErrorClass::PermissionDenied
            | ErrorClass::NotFound => 0,
            // A bad key on the only deployment stays bad.
            ErrorClass::Authentication if group_size <= 1 => 0,
            _ => base,
        }
    }

    /// How long to wait before retry number `attempt` (0-based): at once when another
    /// healthy deployment can take it, else the upstream's `Retry-After` (if 0 < it <= 60 s),
    /// else exponential backoff with jitter; never less than `retry_after`.
    pub fn retry_delay(
        &self,
        attempt: u32,
        other_healthy: bool,
        retry_after_header: Option<Duration>,
        jitter: f64,
    ) -> Duration {
        let wait = if other_healthy {
            Duration::ZERO
        } else if let Some(hint) =
            retry_after_header.filter(|d| !d.is_zero() && *d <= Duration::from_secs(60))
        {
            hint
        } else {
            let base =
                (INITIAL_RETRY_DELAY * 2f64.powi(attempt.min(16) as i32)).min(MAX_RETRY_DELAY);
            // jitter in [0, 1): scale by 1 - JITTER * jitter, as LiteLLM's `_calculate_retry_after`.
            Duration::from_secs_f64(base * (1.0 - JITTER * jitter.clamp(0.0, 1.0)))
        };
        wait.max(self.retry_after)
    }

    /// LiteLLM's `_should_cooldown_deployment`, given this minute's counters (the current
    /// failure already included).
    pub(crate) fn should_cool_down(
        &self,
        class: ErrorClass,
        window: &Window,
        group_size: usize,
    ) -> bool {
        if self.disable_cooldowns || group_size <= 1 || !class.counts_against_deployment() {
            return false;
        }
        let default_logic = self.allowed_fails.is_none() && !self.allowed_fails_policy.is_set();
        if default_logic {
            let total = window.successes + window.failures;
            let rate = f64::from(window.failures) / f64::from(total.max(1));
            return class == ErrorClass::RateLimit
                || class.is_non_retryable_status()
                || (total >= MIN_REQUESTS_FOR_RATE && rate > FAILURE_THRESHOLD);
        }
        match class.allowed_fails_override(&self.allowed_fails_policy) {
            Some(allowed) => window.by_class[class.index()] > allowed,
            None => window.failures > self.allowed_fails.unwrap_or(DEFAULT_ALLOWED_FAILS),
        }
    }

    /// The model groups to try after `group` failed with an error of `kind`, in order, capped
    /// at `max_fallbacks`. A client-sent `fallbacks` list replaces the general list.
    pub fn fallbacks_for(
        &self,
        group: &str,
        kind: FallbackKind,
        client: Option<&[String]>,
    ) -> Vec<String> {
        let rules = match kind {
            FallbackKind::General => &self.fallbacks,
            FallbackKind::ContextWindow => &self.context_window_fallbacks,
            FallbackKind::ContentPolicy => &self.content_policy_fallbacks,
        };
        let configured = rules
            .iter()
            .find(|r| r.from == group)
            .or_else(|| rules.iter().find(|r| r.from == "*"))
            .map(|r| r.to.clone());
        let list = match (kind, client) {
            (FallbackKind::General, Some(client)) => client.to_vec(),
            (FallbackKind::General, None) => {
                configured.unwrap_or_else(|| self.default_fallbacks.clone())
            }
            (_, _) => configured.unwrap_or_default(),
        };
        list.into_iter()
            .filter(|g| g != group)
            .take(self.max_fallbacks as usize)
            .collect()
    }

    /// The timeout of one call: the request's own (`timeout` / `x-litellm-timeout`), then the
    /// deployment's, then `router_settings`, then `litellm_settings.request_timeout`. Streams
    /// prefer the `stream_timeout` of each level.
    pub fn timeout_for(
        &self,
        request: Option<Duration>,
        deployment_timeout: Option<Duration>,
        deployment_stream_timeout: Option<Duration>,
        stream: bool,
    ) -> Duration {
        let deployment = if stream {
            deployment_stream_timeout.or(deployment_timeout)
        } else {
            deployment_timeout
        };
        let router = if stream {
            self.stream_timeout.or(self.timeout)
        } else {
            self.timeout
        };
        request
            .or(deployment)
            .or(router)
            .unwrap_or(self.request_timeout)
    }
}

#[cfg(test)]
mod tests;
