//! The mock upstream: an OpenAI-compatible server whose behaviour each test scripts per
//! upstream model name, and which records every request it receives.
//!
//! Unscripted models get a canned chat completion (or embedding / text completion by path).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A JSON (or any) body with a status, extra headers, and a delay before the head.
    Json {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
        delay: Duration,
    },
    /// An SSE stream made of steps.
    Sse { steps: Vec<SseStep>, end: SseEnd },
    /// Close the connection without answering.
    Hangup,
    /// 200 with a body that is not JSON.
    Garbage,
    /// 200 with a binary body sent chunk by chunk (Bedrock's `application/vnd.amazon.eventstream`).
    Binary {
        content_type: String,
        chunks: Vec<Bytes>,
    },
}

#[derive(Debug, Clone)]
pub enum SseStep {
    /// Send these bytes as one chunk.
    Send(String),
    Delay(Duration),
    /// Wait until the test notifies.
    Gate(Arc<Notify>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseEnd {
    /// End the body normally.
    Close,
    /// Break the connection mid-body.
    Abort,
    /// Keep sending a comment every 20 ms until the client goes away.
    Linger,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Reply::Json {
            status,
            body: body.to_string(),
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// An SSE body sent in one piece per event, as written.
    pub fn sse(events: &[&str]) -> Self {
        Reply::Sse {
            steps: events
                .iter()
                .map(|e| SseStep::Send((*e).to_string()))
                .collect(),
            end: SseEnd::Close,
        }
    }

    /// An OpenAI error body with `status`.
    pub fn error(status: u16, message: &str) -> Self {
        Self::json(
            status,
            json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}}),
        )
    }

    /// A chat completion saying `content`, with 9 prompt and 5 completion tokens.
    pub fn chat(content: &str) -> Self {
        Self::json(200, chat_body("upstream-model", content))
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Json { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    pub fn with_delay(mut self, after: Duration) -> Self {
        if let Reply::Json { delay, .. } = &mut self {
            *delay = after;
        }
        self
    }

    /// A stream of `contents` as chat chunks, a usage chunk, and `[DONE]`.
    pub fn chat_stream(contents: &[&str]) -> Self {
        let mut steps: Vec<SseStep> = contents
            .iter()
            .map(|c| SseStep::Send(chunk_event(c)))
            .collect();
        steps.push(SseStep::Send(usage_event()));
        steps.push(SseStep::Send("data: [DONE]\n\n".into()));
        Reply::Sse {
            steps,
            end: SseEnd::Close,
        }
    }
}

pub fn chat_body(model: &str, content: &str) -> Value {
    json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}
    })
}

/// One SSE event carrying a chat chunk with `content`.
pub fn chunk_event(content: &str) -> String {
    let chunk = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "m",
                       "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]});
    format!("data: {chunk}\n\n")
}

pub fn usage_event() -> String {
    let chunk = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "m",
                       "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}});
    format!("data: {chunk}\n\n")
}

/// What the mock received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    /// The query string, if any (Azure's `api-version`).
    pub query: Option<String>,
    /// The body as received, byte for byte.
    pub raw: Bytes,
    pub headers: HeaderMap,
    pub body: Value,
    pub model: String,
    /// The client end of the connection (same port = same pooled connection).
    pub peer: SocketAddr,
    pub version: http::Version,
}

#[derive(Debug, Default)]
struct State {
    scripts: HashMap<String, VecDeque<Reply>>,
    received: Vec<Recorded>,
    /// Streams whose client went away before the stream ended, per model.
    disconnects: HashMap<String, usize>,
}

/// A running mock upstream on 127.0.0.1, port chosen by the kernel.
#[derive(Debug, Clone)]
pub struct MockUpstream {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl MockUpstream {
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// A mock behind TLS (ALPN h2 and http/1.1) with `acceptor`'s certificate.
    pub async fn start_tls(acceptor: tokio_rustls::TlsAcceptor) -> Self {
        Self::start_with(Some(acceptor)).await
    }

    async fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&shared);
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(Arc::clone(&state), peer, req));
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(stream).await else {
                                return;
                            };
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
        Self { addr, state }
    }

    /// `http://127.0.0.1:<port>`: an `api_base`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers calls for upstream model `model` with `replies` in order; the last one repeats.
    pub fn script(&self, model: &str, replies: Vec<Reply>) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .insert(model.to_string(), replies.into());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn requests_for(&self, model: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.model == model)
            .collect()
    }

    pub fn disconnects(&self, model: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .disconnects
            .get(model)
            .copied()
            .unwrap_or(0)
    }
}

fn next_reply(state: &Mutex<State>, model: &str) -> Option<Reply> {
    let mut state = state.lock().unwrap();
    let queue = state.scripts.get_mut(model)?;
    if queue.len() > 1 {
        queue.pop_front()
    } else {
        queue.front().cloned()
    }
}

type MockBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

async fn handle(
    state: Arc<Mutex<State>>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<MockBody>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    // The model is in the body (OpenAI, Anthropic) or in the path (Azure's deployments,
    // Gemini's `/models/<m>:generateContent`, Bedrock's `/model/<id>/converse`).
    let model = json
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| path_model(parts.uri.path()))
        .unwrap_or_default();
    let wants_stream = json.get("stream").and_then(Value::as_bool) == Some(true);
    state.lock().unwrap().received.push(Recorded {
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        raw: bytes.clone(),
        headers: parts.headers.clone(),
        body: json,
        model: model.clone(),
        peer,
        version: parts.version,
    });
    let reply = next_reply(&state, &model)
        .unwrap_or_else(|| default_reply(parts.uri.path(), &model, wants_stream));
    match reply {
        Reply::Json {
            status,
            body,
            headers,
            delay,
        } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut response = Response::new(full(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            for (k, v) in headers {
                response.headers_mut().insert(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            Ok(response)
        }
        Reply::Garbage => {
            let mut response =
                Response::new(full("<html><body>502 Bad Gateway</body></html>".into()));
            response
                .headers_mut()
                .insert("content-type", "text/html".parse().unwrap());
            Ok(response)
        }
        Reply::Hangup => Err(std::io::Error::other("mock hangs up")),
        Reply::Binary {
            content_type,
            chunks,
        } => {
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(16);
            tokio::spawn(async move {
                for chunk in chunks {
                    if tx.send(Ok(Frame::data(chunk))).await.is_err() {
                        return;
                    }
                }
            });
            let mut response = Response::new(ChannelBody(rx).boxed());
            response
                .headers_mut()
                .insert("content-type", content_type.parse().unwrap());
            Ok(response)
        }
        Reply::Sse { steps, end } => {
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(16);
            tokio::spawn(async move {
                let gone = |state: &Mutex<State>| {
                    *state
                        .lock()
                        .unwrap()
                        .disconnects
                        .entry(model.clone())
                        .or_default() += 1;
                };
                for step in steps {
                    match step {
                        SseStep::Send(text) => {
                            if tx.send(Ok(Frame::data(Bytes::from(text)))).await.is_err() {
                                return gone(&state);
                            }
                        }
                        SseStep::Delay(d) => tokio::time::sleep(d).await,
                        SseStep::Gate(n) => n.notified().await,
                    }
                }
                match end {
                    SseEnd::Close => {}
                    SseEnd::Abort => {
                        let _ = tx
                            .send(Err(std::io::Error::other("mock aborts the stream")))
                            .await;
                    }
                    SseEnd::Linger => loop {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        if tx
                            .send(Ok(Frame::data(Bytes::from_static(b": keep-alive\n\n"))))
                            .await
                            .is_err()
                        {
                            return gone(&state);
                        }
                    },
                }
            });
            let mut response = Response::new(ChannelBody(rx).boxed());
            response
                .headers_mut()
                .insert("content-type", "text/event-stream".parse().unwrap());
            Ok(response)
        }
    }
}

/// `/openai/deployments/<d>/...` -> `d`; `.../models/<m>:generateContent` -> `m`;
/// `/model/<id>/converse` -> `id`, percent-decoded.
fn path_model(path: &str) -> Option<String> {
    if let Some((_, rest)) = path.split_once("/openai/deployments/") {
        return Some(rest.split('/').next()?.to_string());
    }
    if let Some((_, rest)) = path.rsplit_once("/models/") {
        return Some(percent_decode(rest.split(':').next()?));
    }
    let rest = path.split_once("/model/")?.1;
    Some(percent_decode(rest.split('/').next()?))
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn default_reply(path: &str, model: &str, stream: bool) -> Reply {
    if stream {
        Reply::chat_stream(&["mock ", "upstream ", "reply"])
    } else if path.ends_with("/embeddings") {
        Reply::json(
            200,
            json!({"object": "list", "model": model,
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
            "usage": {"prompt_tokens": 3, "total_tokens": 3}}),
        )
    } else if path.ends_with("/completions") && !path.ends_with("/chat/completions") {
        Reply::json(
            200,
            json!({"id": "cmpl-mock", "object": "text_completion", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "text": "mock text", "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}}),
        )
    } else {
        Reply::json(200, chat_body(model, "mock upstream reply"))
    }
}

fn full(body: String) -> MockBody {
    Full::new(Bytes::from(body))
        .map_err(|never: Infallible| match never {})
        .boxed()
}

struct ChannelBody(mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx)
    }
}

impl MockUpstream {
    /// Scripts `model` with one reply.
    pub fn on(&self, model: &str, reply: Reply) {
        self.script(model, vec![reply]);
    }
}
