//! HTTPS upstreams: rustls, the system trust store (here `SSL_CERT_FILE`), and HTTP/2 when the
//! upstream offers it through ALPN.

use std::sync::Arc;

use serde_json::json;

use crate::harness::{Gateway, MockUpstream, post};

fn tls_acceptor(dir: &std::path::Path) -> (tokio_rustls::TlsAcceptor, std::path::PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, cert.cert.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), ca_file)
}

#[tokio::test(flavor = "multi_thread")]
async fn https_upstream_with_a_trusted_certificate_speaks_http2() {
    let dir = tempfile::tempdir().unwrap();
    let (acceptor, ca_file) = tls_acceptor(dir.path());
    let mock = MockUpstream::start_tls(acceptor).await;
    let config = format!(
        "model_list:\n  - model_name: secure\n    litellm_params:\n      model: openai/tls-model\n      api_base: https://localhost:{}/v1\n      api_key: sk-tls\n",
        mock.addr.port()
    );
    let gw = Gateway::builder(&config)
        .env("SSL_CERT_FILE", ca_file.display().to_string())
        .start();
    for stream in [false, true] {
        let body = json!({"model": "secure", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}).to_string();
        let resp = post(&gw.url("/chat/completions"), &[], body).await;
        assert_eq!(resp.status, 200, "{}", resp.text());
    }
    let seen = mock.requests_for("tls-model");
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter().all(|r| r.version == http::Version::HTTP_2),
        "ALPN should pick HTTP/2"
    );
    assert_eq!(
        seen[0].headers.get("authorization").unwrap(),
        "Bearer sk-tls"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_is_a_connection_error() {
    let dir = tempfile::tempdir().unwrap();
    let (acceptor, _ca_file) = tls_acceptor(dir.path());
    let mock = MockUpstream::start_tls(acceptor).await;
    let config = format!(
        "model_list:\n  - model_name: secure\n    litellm_params:\n      model: openai/tls-model\n      api_base: https://localhost:{}/v1\nrouter_settings:\n  num_retries: 0\n",
        mock.addr.port()
    );
    let gw = Gateway::start(&config);
    let body = json!({"model": "secure", "messages": []}).to_string();
    let resp = post(&gw.url("/chat/completions"), &[], body).await;
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert!(
        resp.error_message().contains("APIConnectionError"),
        "{}",
        resp.error_message()
    );
    assert!(mock.requests().is_empty());
}
