//! A minimal HTTP client for tests (hyper, no pooling: one connection per request).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A buffered response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `error.message` of an OpenAI error body.
    pub fn error_message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(http)
}

pub async fn request_raw(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> http::Response<Incoming> {
    let mut builder = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder.body(Full::new(body.into())).unwrap();
    tokio::time::timeout(Duration::from_secs(30), client().request(req))
        .await
        .unwrap_or_else(|_| panic!("no response head from {url} within 30s"))
        .unwrap_or_else(|e| panic!("request to {url} failed: {e}"))
}

pub async fn request(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Resp {
    let response = request_raw(method, url, headers, body).await;
    let (parts, incoming) = response.into_parts();
    let body = tokio::time::timeout(Duration::from_secs(30), incoming.collect())
        .await
        .unwrap_or_else(|_| panic!("body from {url} not complete within 30s"))
        .map(|c| c.to_bytes())
        .unwrap_or_else(|e| panic!("body from {url} failed: {e}"));
    Resp {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

pub async fn post(url: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Resp {
    request(Method::POST, url, headers, body).await
}

pub async fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    request(Method::GET, url, headers, Bytes::new()).await
}

/// A streaming response read chunk by chunk.
#[derive(Debug)]
pub struct Streaming {
    pub status: u16,
    pub headers: HeaderMap,
    body: Incoming,
}

impl Streaming {
    /// The next data chunk; `None` at the end; panics after `within`.
    pub async fn next_chunk(&mut self, within: Duration) -> Option<Result<Bytes, String>> {
        loop {
            let frame = tokio::time::timeout(within, self.body.frame())
                .await
                .unwrap_or_else(|_| panic!("no stream data within {within:?}"));
            match frame {
                None => return None,
                Some(Err(e)) => return Some(Err(e.to_string())),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                }
            }
        }
    }

    /// Reads everything that is left as text.
    pub async fn rest(mut self) -> String {
        let mut text = String::new();
        while let Some(chunk) = self.next_chunk(Duration::from_secs(30)).await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
        text
    }
}

pub async fn post_stream(url: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Streaming {
    let response = request_raw(Method::POST, url, headers, body).await;
    let (parts, body) = response.into_parts();
    Streaming {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}
