//! The haimaker health process (`haimaker __health`): answers `/health/liveliness`,
//! `/health/liveness` and `/health/readiness` on its own port (`SEPARATE_HEALTH_PORT`), from
//! the fleet status the supervisor sends it, so probes are answered quickly even when every
//! worker is saturated, and truthfully (see [`probe`]). It also serves the pod's `/metrics`
//! (Prometheus text, rendered by the supervisor from every worker's reports).
//!
//! The listening socket is bound by the supervisor and inherited as fd 3, the control socket as
//! fd 4, as for workers.

pub mod probe;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use haimaker_proc::{ChildMessage, FleetStatus, SupervisorMessage, exit};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};

/// The last status and when it arrived, and the last metrics text.
#[derive(Debug, Default)]
struct Last {
    status: Option<(FleetStatus, Instant)>,
    metrics: Arc<str>,
}

type Shared = Arc<Mutex<Last>>;

/// Runs the health process; returns its exit code.
pub fn run(log: haimaker_telemetry::LogSettings) -> i32 {
    let _log = haimaker_telemetry::init(log);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(target: "haimaker::health", error = %e, "could not start the runtime");
            return exit::FATAL;
        }
    };
    runtime.block_on(run_async())
}

async fn run_async() -> i32 {
    let (listener, control) = match (
        haimaker_proc::take_inherited_listener(),
        haimaker_proc::take_inherited_control(),
    ) {
        (Ok(l), Ok(c)) => (l, c),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(target: "haimaker::health", error = %e, "health process started without its inherited fds");
            return exit::FATAL;
        }
    };
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return exit::FATAL;
    };
    let Ok((mut reader, mut writer)) = haimaker_proc::split_control(control) else {
        return exit::FATAL;
    };
    if writer
        .send(&ChildMessage::Ready {
            pid: std::process::id(),
        })
        .await
        .is_err()
    {
        return exit::FATAL;
    }
    let stale = stale_after();
    let shared: Shared = Arc::default();
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    loop {
        tokio::select! {
            message = reader.recv::<SupervisorMessage>() => match message {
                Ok(Some(SupervisorMessage::Status { status })) => {
                    if let Ok(mut last) = shared.lock() {
                        last.status = Some((status, Instant::now()));
                    }
                }
                Ok(Some(SupervisorMessage::Metrics { text })) => {
                    if let Ok(mut last) = shared.lock() {
                        last.metrics = Arc::from(text);
                    }
                }
                Ok(Some(SupervisorMessage::Drain { .. })) => return exit::OK,
                Ok(Some(SupervisorMessage::Activate { .. })) => {}
                // The supervisor is gone: nothing may outlive it.
                Ok(None) | Err(_) => return exit::FATAL,
            },
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                let service = service_fn(move |req| {
                    let response = answer(&shared, stale, &req);
                    async move { Ok::<_, std::convert::Infallible>(response) }
                });
                let conn = http1.serve_connection(TokioIo::new(stream), service);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        }
    }
}

fn answer(shared: &Shared, stale: Duration, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().trim_end_matches('/');
    if path == "/metrics" {
        let text = shared
            .lock()
            .map(|last| Arc::clone(&last.metrics))
            .unwrap_or_default();
        let mut response = Response::new(Full::new(Bytes::copy_from_slice(text.as_bytes())));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(haimaker_metrics::CONTENT_TYPE),
        );
        return response;
    }
    let known = matches!(
        path,
        "/health/liveliness" | "/health/liveness" | "/health/readiness"
    );
    if !known {
        return json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": {"message": format!("Not Found: no route for {}", req.uri().path()), "type": "not_found_error", "param": null, "code": "404"}}),
        );
    }
    if req.method() == Method::OPTIONS {
        let mut response = Response::new(Full::new(Bytes::new()));
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, OPTIONS"));
        return response;
    }
    let guard = shared.lock().ok();
    let last = guard.as_ref().and_then(|g| g.status.as_ref());
    let seen = last.map(|(status, at)| probe::Seen {
        status,
        age: at.elapsed(),
    });
    let (code, body) = if path == "/health/readiness" {
        probe::readiness(seen, stale)
    } else {
        probe::liveness(seen, stale)
    };
    json(code, &body)
}

fn json(code: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn stale_after() -> Duration {
    let ms = std::env::var(haimaker_proc::ENV_HEARTBEAT_STALE_MS)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .unwrap_or(haimaker_proc::DEFAULT_HEARTBEAT_STALE_MS);
    Duration::from_millis(ms)
}
