//! Connecting: where the database URL comes from, how LiteLLM/Prisma URL parameters are
//! translated, TLS, and the per-process pool.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use haimaker_config::{GeneralSettings, Secret};
use tokio_postgres::config::SslMode;

use crate::error::StoreError;

/// LiteLLM's `database_connection_pool_limit` default (per process).
pub const DEFAULT_POOL_LIMIT: usize = 10;
/// LiteLLM's `database_connection_timeout` default (Prisma `pool_timeout`).
pub const DEFAULT_POOL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach the database, resolved from config and environment.
#[derive(Debug, Clone)]
pub struct DbSettings {
    pub url: Secret,
    pub pool_limit: usize,
    pub pool_timeout: Duration,
}

/// The database URL, as LiteLLM resolves it: `general_settings.database_url`, else
/// `DATABASE_URL`, else `postgresql://DATABASE_USERNAME:DATABASE_PASSWORD@DATABASE_HOST/DATABASE_NAME`
/// (password URL-encoded). `None`: no database (master key only).
pub fn settings(
    general: &GeneralSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<DbSettings> {
    let url = general
        .database_url
        .as_ref()
        .map(|u| u.expose().to_string())
        .or_else(|| env("DATABASE_URL").filter(|u| !u.trim().is_empty()))
        .or_else(|| {
            let host = env("DATABASE_HOST")?;
            let user = env("DATABASE_USERNAME")?;
            let password = env("DATABASE_PASSWORD")?;
            let name = env("DATABASE_NAME")?;
            Some(format!(
                "postgresql://{}:{}@{host}/{name}",
                percent_encode(&user),
                percent_encode(&password)
            ))
        })?;
    Some(DbSettings {
        url: Secret::new(url),
        pool_limit: general
            .database_connection_pool_limit
            .map_or(DEFAULT_POOL_LIMIT, |n| (n as usize).max(1)),
        pool_timeout: general
            .database_connection_timeout
            .unwrap_or(DEFAULT_POOL_TIMEOUT),
    })
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How the server's TLS certificate is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsPolicy {
    /// Verify the certificate chain and host name (`sslmode=verify-ca|verify-full`,
    /// Prisma's `sslaccept=strict`, or an `sslrootcert`). Otherwise `prefer`/`require`
    /// encrypt without verifying, as libpq does and as Prisma does by default
    /// (`sslaccept=accept_invalid_certs`).
    pub verify: bool,
    /// Extra CA certificates (PEM), from `sslrootcert`.
    pub root_cert: Option<std::path::PathBuf>,
}

/// Parses a LiteLLM database URL into a tokio-postgres config and a TLS policy. Prisma-only
/// query parameters (`connection_limit`, `pool_timeout`, `pgbouncer`, `socket_timeout`,
/// `statement_cache_size`) are dropped (haimaker sizes its own pool); `schema=X` becomes
/// `search_path=X`; libpq's `verify-ca`/`verify-full` become `require` with verification.
pub fn pg_config(url: &str) -> Result<(tokio_postgres::Config, TlsPolicy), StoreError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let mut schema = None;
    let mut tls = TlsPolicy::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "connection_limit"
            | "pool_timeout"
            | "pgbouncer"
            | "socket_timeout"
            | "statement_cache_size"
            | "sslidentity"
            | "sslpassword"
            | "sslcert" => {}
            "sslaccept" => tls.verify |= value == "strict",
            "sslrootcert" => {
                tls.verify = true;
                tls.root_cert = Some(std::path::PathBuf::from(value));
            }
            "sslmode" if value == "verify-ca" || value == "verify-full" => {
                tls.verify = true;
                kept.push("sslmode=require".to_string());
            }
            "schema" => schema = Some(value.to_string()),
            _ => kept.push(pair.to_string()),
        }
    }
    let rebuilt = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config =
        tokio_postgres::Config::from_str(&rebuilt).map_err(|e| StoreError::Url(e.to_string()))?;
    if let Some(schema) = schema.filter(|s| !s.is_empty()) {
        config.options(format!("-c search_path={schema}"));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("haimaker");
    }
    Ok((config, tls))
}

/// The TLS connector for `sslmode=prefer|require`.
fn tls(policy: &TlsPolicy) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Invalid(format!("could not set up TLS for the database: {e}")))?;
    let config = if policy.verify {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in rustls_native_certs::load_native_certs().certs {
            // A system certificate rustls cannot parse is skipped, not fatal.
            let _ = roots.add(cert);
        }
        if let Some(path) = &policy.root_cert {
            let pem = std::fs::read(path).map_err(|e| {
                StoreError::Invalid(format!(
                    "could not read sslrootcert {}: {e}",
                    path.display()
                ))
            })?;
            for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem).flatten() {
                let _ = roots.add(cert);
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth()
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// libpq's `sslmode=require` (and Prisma's default): the connection is encrypted, the server's
/// certificate is not checked against a CA. Handshake signatures are still verified.
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The per-process connection pool.
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
}

impl Db {
    /// Builds the pool. Connections are made lazily, so this succeeds with the database down.
    pub fn new(settings: &DbSettings) -> Result<Self, StoreError> {
        let (config, policy) = pg_config(settings.url.expose())?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = if config.get_ssl_mode() == SslMode::Disable {
            Manager::from_config(config, tokio_postgres::NoTls, manager_config)
        } else {
            Manager::from_config(config, tls(&policy)?, manager_config)
        };
        let pool = Pool::builder(manager)
            .max_size(settings.pool_limit)
            .wait_timeout(Some(settings.pool_timeout))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Invalid(format!("could not build the database pool: {e}")))?;
        Ok(Self { pool })
    }

    /// A pooled connection.
    pub async fn conn(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// `SELECT 1`, bounded by `within`.
    pub async fn ping(&self, within: Duration) -> Result<(), StoreError> {
        let probe = async {
            let client = self.conn().await?;
            client
                .simple_query("SELECT 1")
                .await
                .map_err(|e| StoreError::query("pinging the database", e))?;
            Ok::<(), StoreError>(())
        };
        tokio::time::timeout(within, probe)
            .await
            .map_err(|_| StoreError::Unavailable(format!("no answer within {within:?}")))?
    }

    /// Connections currently open (idle or in use).
    pub fn open_connections(&self) -> usize {
        self.pool.status().size
    }

    /// The pool as metrics report it: connections open, idle, and the maximum.
    pub fn pool_status(&self) -> (u64, u64, u64) {
        let s = self.pool.status();
        (s.size as u64, s.available as u64, s.max_size as u64)
    }
}

/// One connection outside the pool (migrations, `haimaker migrate`).
pub async fn connect_once(settings: &DbSettings) -> Result<tokio_postgres::Client, StoreError> {
    let (config, policy) = pg_config(settings.url.expose())?;
    let unavailable = |e: tokio_postgres::Error| StoreError::Unavailable(e.to_string());
    if config.get_ssl_mode() == SslMode::Disable {
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(unavailable)?;
        tokio::spawn(connection);
        Ok(client)
    } else {
        let (client, connection) = config.connect(tls(&policy)?).await.map_err(unavailable)?;
        tokio::spawn(connection);
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn prisma_parameters_are_translated() {
        let (c, tls) = pg_config("postgresql://u:p@db.example:5433/litellm?connection_limit=10&pool_timeout=60&schema=proxy&sslmode=disable").unwrap();
        assert!(!tls.verify);
        assert_eq!(c.get_dbname(), Some("litellm"));
        assert_eq!(c.get_ports(), &[5433]);
        assert_eq!(c.get_options(), Some("-c search_path=proxy"));
        assert_eq!(c.get_ssl_mode(), SslMode::Disable);
        assert!(pg_config("not a url").is_err());
        let (c, tls) = pg_config("postgres://u@h/db?sslmode=verify-full").unwrap();
        assert_eq!((c.get_ssl_mode(), tls.verify), (SslMode::Require, true));
        let (_, tls) = pg_config("postgres://u@h/db?sslmode=require&sslaccept=strict").unwrap();
        assert!(tls.verify);
        let (_, tls) = pg_config("postgres://u@h/db?sslmode=require").unwrap();
        assert!(!tls.verify, "libpq's require encrypts without verifying");
    }

    #[test]
    fn url_from_config_env_or_parts() {
        let mut general = GeneralSettings::default();
        let none = |_: &str| None;
        assert!(settings(&general, &none).is_none());
        let env = |k: &str| match k {
            "DATABASE_HOST" => Some("db".to_string()),
            "DATABASE_USERNAME" => Some("litellm".to_string()),
            "DATABASE_PASSWORD" => Some("p@ss/word".to_string()),
            "DATABASE_NAME" => Some("proxy".to_string()),
            _ => None,
        };
        let s = settings(&general, &env).unwrap();
        assert_eq!(
            s.url.expose(),
            "postgresql://litellm:p%40ss%2Fword@db/proxy"
        );
        assert_eq!(s.pool_limit, DEFAULT_POOL_LIMIT);
        let with_url = |k: &str| (k == "DATABASE_URL").then(|| "postgres://env".to_string());
        assert_eq!(
            settings(&general, &with_url).unwrap().url.expose(),
            "postgres://env"
        );
        general.database_url = Some(Secret::new("postgres://config"));
        general.database_connection_pool_limit = Some(3);
        let s = settings(&general, &with_url).unwrap();
        assert_eq!((s.url.expose(), s.pool_limit), ("postgres://config", 3));
    }
}
