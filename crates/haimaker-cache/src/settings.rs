//! Where Redis is: resolved from the config file and the environment, the way LiteLLM does it.
//!
//! Every source ends up as the same fields (host, port, credentials, TLS, database), and the client is
//! built from those fields only. A `redis_url` is parsed here, once, so it costs nothing at request
//! time (LiteLLM's URL path opened connections per request and is documented as slower).

use haimaker_config::{CacheParams, Config, Secret};
use percent_encoding::percent_decode_str;
use serde_json::Value;

/// The key prefix when `HAIMAKER_REDIS_PREFIX` is unset.
pub const DEFAULT_PREFIX: &str = "haimaker:";
/// Redis's own default port.
pub const DEFAULT_PORT: u16 = 6379;

/// Where Redis is, resolved from config and environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisSettings {
    pub host: String,
    pub port: u16,
    /// ACL user (Redis 6+); `None` means the default user.
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// `rediss://` or `REDIS_SSL=true`: TLS with rustls (ring), system and webpki roots.
    pub tls: bool,
    /// `SELECT`ed after every (re)connect; from the URL path (`redis://host/2`).
    pub database: Option<u8>,
    /// Every key this crate touches starts with it (`HAIMAKER_REDIS_PREFIX`, default `haimaker:`).
    pub prefix: String,
    /// Which setting it came from, for the start-up log line (never contains a secret).
    pub source: &'static str,
}

impl RedisSettings {
    /// Settings for `host:port` without credentials or TLS, with the default prefix.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            username: None,
            password: None,
            tls: false,
            database: None,
            prefix: DEFAULT_PREFIX.to_owned(),
            source: "explicit",
        }
    }

    /// Parses a `redis://` / `rediss://` URL (`redis://[user][:password]@host[:port][/db]`).
    /// The prefix is the default one; set `prefix` afterwards if needed.
    pub fn from_url(url: &str) -> Result<Self, String> {
        parse_url(url, "explicit")
    }

    /// `redis[s]://host:port[/db]` without credentials: safe to log.
    pub fn display_address(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        match self.database {
            Some(db) => format!("{scheme}://{}:{}/{db}", self.host, self.port),
            None => format!("{scheme}://{}:{}", self.host, self.port),
        }
    }
}

/// LiteLLM's resolution: `router_settings.redis_url` | `redis_host`/`redis_port`/`redis_password`, else
/// `litellm_settings.cache_params` (`redis_url` | `host`/`port`/`password`), else `REDIS_URL` |
/// `REDIS_HOST`/`REDIS_PORT`/`REDIS_PASSWORD`/`REDIS_USERNAME`/`REDIS_SSL`. `rediss://` (or `REDIS_SSL=true`)
/// means TLS. The key prefix is `HAIMAKER_REDIS_PREFIX` (default `haimaker:`). `None`: no Redis configured.
///
/// `cache_params` count when their `type` is absent or a Redis one, whether or not `cache: true` is
/// set: they say where the deployment's Redis is.
///
/// A source that is present but unusable (a malformed URL) is logged and yields `None` rather than silently
/// falling through to another source: the operator meant that one.
pub fn settings(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Option<RedisSettings> {
    match resolve(config, env) {
        Ok(found) => found,
        Err(message) => {
            tracing::error!("redis is not used: {message}");
            None
        }
    }
}

/// [`settings`] with the error instead of a log line (for `--validate_config` style checks).
pub fn resolve(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<RedisSettings>, String> {
    // In order, and lazily: a broken lower-priority source does not matter when a higher one is set.
    let mut found = from_router_settings(config, env)?;
    if found.is_none() {
        found = from_cache_params(config, env)?;
    }
    if found.is_none() {
        found = from_env(env)?;
    }
    Ok(found.map(|mut s| {
        s.prefix = env("HAIMAKER_REDIS_PREFIX").unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
        s
    }))
}

fn from_router_settings(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<RedisSettings>, String> {
    let rs = &config.router_settings;
    if let Some(url) = non_empty_secret(rs.redis_url.as_ref()) {
        return parse_url(url, "router_settings.redis_url").map(Some);
    }
    let Some(host) = rs.redis_host.as_deref().filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    // redis-py kwargs from the environment fill what the config leaves unset (LiteLLM's
    // `_get_redis_client_logic`), so REDIS_USERNAME / REDIS_SSL apply here too.
    Ok(Some(RedisSettings {
        host: host.to_owned(),
        port: rs.redis_port.unwrap_or(DEFAULT_PORT),
        username: env("REDIS_USERNAME").filter(|u| !u.is_empty()),
        password: rs.redis_password.clone().filter(|p| !p.expose().is_empty()),
        tls: env("REDIS_SSL").is_some_and(|v| truthy(&v)),
        database: None,
        prefix: DEFAULT_PREFIX.to_owned(),
        source: "router_settings.redis_host",
    }))
}

fn from_cache_params(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<RedisSettings>, String> {
    let Some(cp) = config.litellm_settings.cache_params.as_ref() else {
        return Ok(None);
    };
    // Only a Redis-backed cache says where Redis is (`local`, `s3`, `disk`... do not).
    if !cp
        .cache_type
        .as_deref()
        .is_none_or(|t| t.starts_with("redis"))
    {
        return Ok(None);
    }
    let url = non_empty_secret(cp.redis_url.as_ref())
        .map(str::to_owned)
        .or_else(|| raw_str(cp, "url"));
    if let Some(url) = url {
        return parse_url(&url, "litellm_settings.cache_params.redis_url").map(Some);
    }
    let Some(host) = cp.host.as_deref().filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let tls = match cp.raw.get("ssl") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => truthy(s),
        _ => env("REDIS_SSL").is_some_and(|v| truthy(&v)),
    };
    Ok(Some(RedisSettings {
        host: host.to_owned(),
        port: cp.port.unwrap_or(DEFAULT_PORT),
        username: raw_str(cp, "username")
            .or_else(|| env("REDIS_USERNAME").filter(|u| !u.is_empty())),
        password: cp.password.clone().filter(|p| !p.expose().is_empty()),
        tls,
        database: None,
        prefix: DEFAULT_PREFIX.to_owned(),
        source: "litellm_settings.cache_params",
    }))
}

fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<RedisSettings>, String> {
    if let Some(url) = env("REDIS_URL").filter(|u| !u.is_empty()) {
        return parse_url(&url, "REDIS_URL").map(Some);
    }
    let Some(host) = env("REDIS_HOST").filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let port = match env("REDIS_PORT").filter(|p| !p.is_empty()) {
        None => DEFAULT_PORT,
        Some(p) => p
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("REDIS_PORT is not a port number: {p:?}"))?,
    };
    Ok(Some(RedisSettings {
        host,
        port,
        username: env("REDIS_USERNAME").filter(|u| !u.is_empty()),
        password: env("REDIS_PASSWORD")
            .filter(|p| !p.is_empty())
            .map(Secret::new),
        tls: env("REDIS_SSL").is_some_and(|v| truthy(&v)),
        database: None,
        prefix: DEFAULT_PREFIX.to_owned(),
        source: "REDIS_HOST",
    }))
}

/// `redis://[user][:password]@host[:port][/db]`; `rediss://` turns TLS on. Errors never contain the URL
/// (it may hold a password).
fn parse_url(raw: &str, source: &'static str) -> Result<RedisSettings, String> {
    let url =
        url::Url::parse(raw.trim()).map_err(|e| format!("{source} is not a valid URL ({e})"))?;
    let tls = match url.scheme() {
        "redis" => false,
        "rediss" => true,
        other => {
            return Err(format!(
                "{source} has scheme {other:?}; expected redis:// or rediss:// (cluster, sentinel and unix \
                 sockets are not supported)"
            ));
        }
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("{source} has no host"))?;
    // IPv6 literals come back bracketed; the socket layer wants them bare.
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let username = Some(decode(url.username())).filter(|u| !u.is_empty());
    let password = url
        .password()
        .map(decode)
        .filter(|p| !p.is_empty())
        .map(Secret::new);
    let database = match url.path().trim_matches('/') {
        "" => None,
        db => Some(
            db.parse::<u8>()
                .map_err(|_| format!("{source} has a database path that is not a number 0-255"))?,
        ),
    };
    Ok(RedisSettings {
        host,
        port: url.port().unwrap_or(DEFAULT_PORT),
        username,
        password,
        tls,
        database,
        prefix: DEFAULT_PREFIX.to_owned(),
        source,
    })
}

fn non_empty_secret(s: Option<&Secret>) -> Option<&str> {
    s.map(Secret::expose).filter(|v| !v.trim().is_empty())
}

fn raw_str(cp: &CacheParams, key: &str) -> Option<String> {
    match cp.raw.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// Python-ish truthiness of an env value (`REDIS_SSL=True` in LiteLLM docs).
fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}
