//! The pooled upstream HTTP client: keep-alive connections, TCP_NODELAY, rustls with both the
//! system's and the webpki root certificates, HTTP/2 where the upstream offers it (ALPN).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

pub type UpstreamClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// How long a TCP connect may take (the OpenAI SDK's default connect timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle pooled connections are closed after this long.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("could not set up TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// The upstream client, built once per process off the start-up path: loading the system's
/// root certificates takes milliseconds, and a worker reports ready before that.
#[derive(Debug, Default)]
pub struct Upstream {
    client: std::sync::OnceLock<Result<UpstreamClient, ClientError>>,
}

impl Upstream {
    /// The client; builds it now if the warm-up has not finished (waiting for it if it is
    /// running).
    pub fn client(&self) -> Result<&UpstreamClient, ClientError> {
        self.client
            .get_or_init(build_client)
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Builds the client. Loading the system certificates is the slow part (milliseconds); it
/// happens once per process.
pub fn build_client() -> Result<UpstreamClient, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A certificate the system store holds but rustls cannot parse is skipped, not fatal.
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();

    let mut http = HttpConnector::new();
    // Without TCP_NODELAY every proxied request waits for delayed ACKs (~40 ms), see DESIGN.md.
    http.set_nodelay(true);
    http.enforce_http(false);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    http.set_keepalive(Some(Duration::from_secs(60)));

    let https = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);

    Ok(Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(https))
}
