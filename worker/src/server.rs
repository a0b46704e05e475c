//! The accept loop: one hyper connection task per accepted socket (HTTP/1.1 keep-alive and
//! HTTP/2), TCP_NODELAY on every connection, and a graceful drain that stops accepting,
//! lets in-flight requests and streams finish within a deadline, then returns.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::pipeline::handle;
use crate::state::AppState;

/// How the serve loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every connection finished within the deadline.
    Clean,
    /// The deadline passed with connections still open; they were dropped.
    DeadlineHit,
}

/// Serves until `drain` resolves with a deadline, then drains.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    drain: impl Future<Output = Duration>,
) -> Drained {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(Duration::from_secs(60));
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(drain);
    let deadline = loop {
        tokio::select! {
            deadline = &mut drain => break deadline,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // EMFILE/ENFILE and friends: back off a little instead of spinning.
                        tracing::warn!(target: "haimaker::server", error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                let service = service_fn(move |req| handle(Arc::clone(&state), Some(peer), req));
                let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(target: "haimaker::server", error = %e, "connection ended with an error");
                    }
                });
            }
        }
    };
    // Stop accepting: this worker's copy of the shared socket closes; the supervisor's copy
    // keeps the queue alive for the other workers.
    drop(listener);
    match tokio::time::timeout(deadline, graceful.shutdown()).await {
        Ok(()) => Drained::Clean,
        Err(_) => Drained::DeadlineHit,
    }
}
