//! A local webhook receiver (Slack's incoming webhook, or LiteLLM's generic webhook): records
//! every JSON body posted to it. [`Webhook::hanging`] accepts connections and never answers
//! (a webhook that is down in the worst way).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Webhook {
    /// The URL to configure (`SLACK_WEBHOOK_URL`, `WEBHOOK_URL`, `alert_to_webhook_url`).
    pub url: String,
    got: Arc<Mutex<Vec<Value>>>,
}

impl Webhook {
    /// A receiver that answers every post with 200 `ok`, as Slack does.
    pub async fn start() -> Self {
        Self::serve(false).await
    }

    /// A receiver that reads the request and never answers.
    pub async fn hanging() -> Self {
        Self::serve(true).await
    }

    async fn serve(hang: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/services/T000/B000/secret-token",
            listener.local_addr().unwrap()
        );
        let got: Arc<Mutex<Vec<Value>>> = Arc::default();
        let recorded = Arc::clone(&got);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let recorded = Arc::clone(&recorded);
                        async move {
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            if hang {
                                std::future::pending::<()>().await;
                            }
                            let value =
                                serde_json::from_slice::<Value>(&body).unwrap_or_else(|_| {
                                    Value::String(String::from_utf8_lossy(&body).into_owned())
                                });
                            recorded.lock().unwrap().push(value);
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, got }
    }

    /// Every body received, in arrival order.
    pub fn bodies(&self) -> Vec<Value> {
        self.got.lock().unwrap().clone()
    }

    /// The `text` of every Slack payload received.
    pub fn texts(&self) -> Vec<String> {
        self.bodies()
            .iter()
            .filter_map(|v| v["text"].as_str().map(str::to_string))
            .collect()
    }

    /// The texts containing `needle`.
    pub fn matching(&self, needle: &str) -> Vec<String> {
        self.texts()
            .into_iter()
            .filter(|t| t.contains(needle))
            .collect()
    }

    /// Waits for a text containing `needle` and returns it (panics after `within`, showing
    /// what did arrive).
    pub async fn wait_for(&self, needle: &str, within: Duration) -> String {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(text) = self.matching(needle).into_iter().next() {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no alert containing {needle:?} within {within:?}; received: {:#?}",
                self.bodies()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// How many alerts a Slack text stands for: N for `[Num Alerts: N]`, else 1.
pub fn alert_count(text: &str) -> u64 {
    text.strip_prefix("[Num Alerts: ")
        .and_then(|rest| rest.split(']').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// The `Level` of a Slack text (`Low`, `Medium`, `High`).
pub fn level(text: &str) -> Option<&str> {
    let rest = &text[text.find("Level: `")? + "Level: `".len()..];
    rest.split('`').next()
}
