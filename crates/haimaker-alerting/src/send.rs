//! Posting payloads: one pooled hyper client (rustls with the system's and webpki's roots, like
//! the upstream client), bounded time per post, bounded posts in flight. Failures are logged
//! (at most one line per minute, with a count), never retried: a webhook that is down or slow
//! costs one bounded task per post and nothing else.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::Semaphore;

use crate::format::url_for_logs;

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A post (connect, send, answer) that takes longer is abandoned.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Posts in flight at most; a post beyond this is dropped (and counted).
const MAX_IN_FLIGHT: usize = 16;
/// One log line per this much time about failed posts.
const LOG_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(crate) struct Sender {
    client: OnceLock<Result<HttpClient, String>>,
    slots: Arc<Semaphore>,
    failed: AtomicU64,
    dropped: AtomicU64,
    sent: AtomicU64,
    last_log: std::sync::Mutex<Option<Instant>>,
}

impl Sender {
    pub(crate) fn new() -> Self {
        Self {
            client: OnceLock::new(),
            slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            last_log: std::sync::Mutex::new(None),
        }
    }

    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Posts `body` to `url` on a task of its own; returns at once.
    pub(crate) fn spawn_post(self: &Arc<Self>, url: String, body: Bytes) {
        let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            self.log_failure(&url, "too many alerts in flight; this one is dropped");
            return;
        };
        let sender = Arc::clone(self);
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(SEND_TIMEOUT, sender.post(&url, body)).await {
                Ok(Ok(())) => {
                    sender.sent.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Err(e)) => {
                    sender.failed.fetch_add(1, Ordering::Relaxed);
                    sender.log_failure(&url, &e);
                }
                Err(_) => {
                    sender.failed.fetch_add(1, Ordering::Relaxed);
                    sender.log_failure(
                        &url,
                        &format!("no answer within {} s", SEND_TIMEOUT.as_secs()),
                    );
                }
            }
        });
    }

    async fn post(&self, url: &str, body: Bytes) -> Result<(), String> {
        let client = self
            .client
            .get_or_init(build_client)
            .as_ref()
            .map_err(Clone::clone)?;
        let request = Request::post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| format!("bad webhook URL: {e}"))?;
        let response = client.request(request).await.map_err(|e| {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message.push_str(": ");
                message.push_str(&s.to_string());
                source = s.source();
            }
            message
        })?;
        let status = response.status();
        // Read (a bounded amount of) the answer so the connection can be reused.
        let body = Limited::new(response.into_body(), 64 * 1024)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!(
                "answered {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ))
        }
    }

    fn log_failure(&self, url: &str, error: &str) {
        let mut last = self.last_log.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < LOG_EVERY) {
            return;
        }
        *last = Some(now);
        tracing::warn!(
            target: "haimaker::alerting",
            webhook = %url_for_logs(url),
            failed = self.failed.load(Ordering::Relaxed),
            dropped = self.dropped.load(Ordering::Relaxed),
            error = %error,
            "alert not delivered (not retried; requests are not affected)"
        );
    }
}

fn build_client() -> Result<HttpClient, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    let (_added, _skipped) = roots.add_parsable_certificates(native.certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("could not set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let https = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(2)
        .build(https))
}
