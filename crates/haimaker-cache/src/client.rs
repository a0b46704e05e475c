//! The pooled client: connection settings, background reconnection, the fail-fast call wrapper.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use fred::prelude::{
    Client, ClientLike, Config, ConnectionConfig, Error as FredError, ErrorKind, EventInterface,
    PerformanceConfig, Pool, ReconnectPolicy, ServerConfig, TcpConfig, TlsConfig, TlsConnector,
};
use fred::types::InfoKind;
use fred::types::config::UnresponsiveConfig;
use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use crate::RedisError;
use crate::invalidation::Subscriber;
use crate::settings::RedisSettings;

/// Upper bound for one call (one round trip; two when a script must be re-sent after a Redis restart).
/// Constant on purpose: a request never waits longer than this for Redis, whatever Redis does.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(250);

/// Connections per process. Commands are pipelined on each connection, so two are plenty for one worker
/// and keep the total small (workers x pods).
const POOL_SIZE: usize = 2;

/// Reconnection backoff: 100 ms doubling to 2 s, forever (max_attempts 0), with jitter so that every
/// worker of every pod does not knock at the same instant after an outage.
const RECONNECT_MIN_MS: u32 = 100;
const RECONNECT_MAX_MS: u32 = 2_000;
const RECONNECT_JITTER_MS: u32 = 200;

/// A TCP connect (and TLS handshake) that takes longer than this is abandoned and retried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection whose oldest command has waited this long is considered dead and closed (catches a
/// server that vanished without closing the socket). Commands of ours answer in well under a millisecond.
const UNRESPONSIVE_AFTER: Duration = Duration::from_secs(2);

/// The server versions haimaker is tested with start here; older ones get one warning.
const MIN_VERSION: (u64, u64) = (7, 0);

/// The process's Redis client. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Redis {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pool: Pool,
    pub(crate) prefix: String,
    /// Kept to build the pub/sub connection lazily (subscriptions need a connection of their own).
    pub(crate) fred_config: Config,
    pub(crate) runtime: Handle,
    pub(crate) subscriber: OnceLock<Subscriber>,
    /// Background tasks (connection drivers, monitors, subscriber): stopped when the last clone goes.
    pub(crate) tasks: Mutex<Vec<AbortHandle>>,
    address: String,
    /// Up or down, as the connection monitors last saw it (for alerting).
    health: tokio::sync::watch::Sender<RedisHealth>,
}

/// Redis as this process's client last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisHealth {
    /// Connected, or not known to be down yet.
    Up,
    /// Down since the first error of the outage (the error's text).
    Down(String),
}

impl Drop for Inner {
    fn drop(&mut self) {
        let tasks = match self.tasks.get_mut() {
            Ok(tasks) => std::mem::take(tasks),
            Err(poisoned) => std::mem::take(poisoned.into_inner()),
        };
        for task in tasks {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("address", &self.inner.address)
            .field("prefix", &self.inner.prefix)
            .field("up", &self.is_up())
            .finish()
    }
}

impl Redis {
    /// Builds the pool and starts connecting in the background; returns at once, even if Redis is down.
    /// Must be called inside a tokio runtime (the connection tasks are spawned on it).
    pub fn new(settings: &RedisSettings) -> Result<Redis, RedisError> {
        let runtime = Handle::try_current()
            .map_err(|_| RedisError::Other("Redis::new must run inside a tokio runtime".into()))?;
        let fred_config = fred_config(settings)?;
        let pool = Pool::new(
            fred_config.clone(),
            Some(performance_config(CALL_TIMEOUT, 32)),
            Some(connection_config()),
            Some(reconnect_policy()),
            POOL_SIZE,
        )
        .map_err(|e| RedisError::Other(format!("building the redis pool: {e}")))?;

        let mut tasks = Vec::new();
        let health = tokio::sync::watch::Sender::new(RedisHealth::Up);
        let outage = Arc::new(OutageLog::new(settings.display_address(), health.clone()));
        // The monitors subscribe to the event streams before the first connection attempt, so the
        // first success or failure is seen too.
        for client in pool.clients() {
            tasks.push(
                runtime
                    .spawn(monitor(client.clone(), outage.clone()))
                    .abort_handle(),
            );
        }
        for handle in pool.connect_pool() {
            tasks.push(handle.abort_handle());
        }
        tracing::debug!(
            address = %settings.display_address(),
            source = settings.source,
            "redis client started"
        );
        Ok(Redis {
            inner: Arc::new(Inner {
                pool,
                prefix: settings.prefix.clone(),
                fred_config,
                runtime,
                subscriber: OnceLock::new(),
                tasks: Mutex::new(tasks),
                address: settings.display_address(),
                health,
            }),
        })
    }

    /// Whether a pooled connection is up right now (last known state, no I/O).
    pub fn is_up(&self) -> bool {
        self.inner.pool.clients().iter().any(|c| c.is_connected())
    }

    /// Follows Redis going down (once per outage, with the first error) and coming back.
    pub fn health(&self) -> tokio::sync::watch::Receiver<RedisHealth> {
        self.inner.health.subscribe()
    }

    /// The key prefix every key of this client starts with.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// `INFO server` `redis_version`. The client itself logs one warning per process when it is older
    /// than 7.0 (see [`is_supported_version`]).
    pub async fn server_version(&self) -> Result<String, RedisError> {
        let info: String = self
            .run(|c| async move { c.info(Some(InfoKind::Server)).await })
            .await?;
        parse_version(&info)
            .ok_or_else(|| RedisError::Other("INFO server has no redis_version".into()))
    }

    /// `INFO` and `CLIENT LIST`, as Redis prints them (for `/cache/redis/info`).
    pub async fn server_info(&self) -> Result<(String, String), RedisError> {
        let info: String = self.run(|c| async move { c.info(None).await }).await?;
        let clients: String = self
            .run(|c| async move { c.custom(fred::cmd!("CLIENT"), vec!["LIST"]).await })
            .await?;
        Ok((info, clients))
    }

    pub async fn ping(&self) -> Result<(), RedisError> {
        let _: String = self.run(|c| async move { c.ping(None).await }).await?;
        Ok(())
    }

    /// A pooled client for tests that inspect keys directly.
    #[cfg(test)]
    pub(crate) fn raw(&self) -> Client {
        self.inner.pool.next().clone()
    }

    /// `P<rest>`: every key goes through here.
    pub(crate) fn key(&self, rest: &str) -> String {
        let mut key = String::with_capacity(self.inner.prefix.len() + rest.len());
        key.push_str(&self.inner.prefix);
        key.push_str(rest);
        key
    }

    /// Runs one call on a connected pooled client, bounded by [`CALL_TIMEOUT`]. Fails at once, without
    /// I/O, when no connection is up: a request must never wait for a reconnection.
    pub(crate) async fn run<T, F, Fut>(&self, f: F) -> Result<T, RedisError>
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<T, FredError>>,
    {
        let client = self.inner.pool.next_connected();
        if !client.is_connected() {
            return Err(RedisError::Unavailable(format!(
                "not connected to {}",
                self.inner.address
            )));
        }
        match tokio::time::timeout(CALL_TIMEOUT, f(client.clone())).await {
            Ok(result) => result.map_err(from_fred),
            Err(_) => Err(RedisError::Unavailable(format!(
                "no answer from {} within {} ms",
                self.inner.address,
                CALL_TIMEOUT.as_millis()
            ))),
        }
    }
}

/// Whether `version` (`7.2.4`) is one haimaker is tested with (7.0 or newer).
pub fn is_supported_version(version: &str) -> bool {
    let mut parts = version
        .trim()
        .split('.')
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= MIN_VERSION
}

fn parse_version(info: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .map(|v| v.trim().to_owned())
}

/// Maps fred errors to the fallback contract: anything about the connection is `Unavailable`; a reply
/// Redis gave on purpose is `Other`.
pub(crate) fn from_fred(e: FredError) -> RedisError {
    let details = e.details();
    // Server states that mean "try again later", not "you asked something wrong".
    const TRANSIENT: [&str; 6] = [
        "LOADING",
        "BUSY",
        "MASTERDOWN",
        "READONLY",
        "TRYAGAIN",
        "CLUSTERDOWN",
    ];
    match e.kind() {
        ErrorKind::IO
        | ErrorKind::Canceled
        | ErrorKind::Timeout
        | ErrorKind::Backpressure
        | ErrorKind::Routing
        | ErrorKind::Tls
        | ErrorKind::Auth => RedisError::Unavailable(e.to_string()),
        _ if TRANSIENT.iter().any(|t| details.starts_with(t)) => {
            RedisError::Unavailable(e.to_string())
        }
        _ => RedisError::Other(e.to_string()),
    }
}

pub(crate) fn fred_config(settings: &RedisSettings) -> Result<Config, RedisError> {
    Ok(Config {
        // Never fail on the first connection: keep trying in the background (requests fall back).
        fail_fast: false,
        username: settings.username.clone(),
        password: settings.password.as_ref().map(|p| p.expose().to_owned()),
        server: ServerConfig::new_centralized(settings.host.clone(), settings.port),
        database: settings.database,
        tls: if settings.tls {
            Some(tls_config()?)
        } else {
            None
        },
        ..Config::default()
    })
}

pub(crate) fn performance_config(timeout: Duration, broadcast: usize) -> PerformanceConfig {
    PerformanceConfig {
        // fred's own timeout as well as ours: a timed-out command is dropped from fred's queue too.
        default_command_timeout: timeout,
        broadcast_channel_capacity: broadcast,
        ..PerformanceConfig::default()
    }
}

pub(crate) fn connection_config() -> ConnectionConfig {
    ConnectionConfig {
        connection_timeout: CONNECT_TIMEOUT,
        internal_command_timeout: CONNECT_TIMEOUT,
        // No replay after a reconnect: the caller already got `Unavailable`, and a replayed INCR or
        // reservation would count twice.
        max_command_attempts: 1,
        unresponsive: UnresponsiveConfig {
            max_timeout: Some(UNRESPONSIVE_AFTER),
            interval: Duration::from_millis(500),
        },
        tcp: TcpConfig {
            nodelay: Some(true),
            ..TcpConfig::default()
        },
        ..ConnectionConfig::default()
    }
}

pub(crate) fn reconnect_policy() -> ReconnectPolicy {
    let mut policy = ReconnectPolicy::new_exponential(0, RECONNECT_MIN_MS, RECONNECT_MAX_MS, 2);
    policy.set_jitter(RECONNECT_JITTER_MS);
    policy
}

/// rustls with ring; trust anchors are the system's plus webpki's (containers often ship without a CA
/// bundle, and managed Redis endpoints use public CAs).
fn tls_config() -> Result<TlsConfig, RedisError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Unreadable or unparsable system certificates are skipped: webpki's roots still stand.
    let native = rustls_native_certs::load_native_certs();
    let (_added, _skipped) = roots.add_parsable_certificates(native.certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RedisError::Other(format!("redis TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(config).into())
}

/// One warning per outage (not one per reconnection attempt), one line when Redis is back, and the
/// version check after the first connection.
struct OutageLog {
    address: String,
    down: AtomicBool,
    version_checked: AtomicBool,
    health: tokio::sync::watch::Sender<RedisHealth>,
}

impl OutageLog {
    fn new(address: String, health: tokio::sync::watch::Sender<RedisHealth>) -> Self {
        Self {
            address,
            down: AtomicBool::new(false),
            version_checked: AtomicBool::new(false),
            health,
        }
    }
}

async fn monitor(client: Client, log: Arc<OutageLog>) {
    let mut errors = client.error_rx();
    let mut reconnects = client.reconnect_rx();
    loop {
        tokio::select! {
            event = errors.recv() => match event {
                Ok((error, _)) => {
                    if !log.down.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            address = %log.address,
                            "redis unavailable ({error}); requests fall back (no shared cache, limits or \
                             routing state) until it returns"
                        );
                        log.health.send_replace(RedisHealth::Down(error.to_string()));
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            event = reconnects.recv() => match event {
                Ok(_) => {
                    if log.down.swap(false, Ordering::Relaxed) {
                        tracing::info!(address = %log.address, "redis connection restored");
                        log.health.send_replace(RedisHealth::Up);
                    }
                    if !log.version_checked.swap(true, Ordering::Relaxed) {
                        check_version(client.clone(), log.address.clone());
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

fn check_version(client: Client, address: String) {
    tokio::spawn(async move {
        // The reconnect event fires just before the connection is marked usable.
        let _ = tokio::time::timeout(Duration::from_secs(5), client.wait_for_connect()).await;
        let info = tokio::time::timeout(
            Duration::from_secs(5),
            client.info::<String>(Some(InfoKind::Server)),
        )
        .await;
        if let Ok(Ok(info)) = info
            && let Some(version) = parse_version(&info)
            && !is_supported_version(&version)
        {
            tracing::warn!(
                address = %address,
                "redis {version} is older than 7.0; haimaker is tested with 7.0 and newer"
            );
        }
    });
}
