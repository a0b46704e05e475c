//! The accept loop: one hyper connection task per accepted socket (HTTP/1.1 keep-alive and
//! HTTP/2), TCP_NODELAY on every connection, and the drain.
//!
//! Draining, in order: mark the worker draining (readiness 503, HTTP/1 responses carry
//! `Connection: close`); accept what is already queued on the socket; stop accepting (this
//! worker's copy of the shared socket closes, the supervisor's keeps the queue alive for the
//! others); give keep-alive clients a short linger to send their next request, which is answered
//! and closed; then shut the remaining connections down gracefully (HTTP/2 GOAWAY, HTTP/1 close
//! after the response in flight) and wait for them up to the deadline.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::pipeline::handle;
use crate::state::AppState;

/// How long idle keep-alive connections may stay open once a drain starts, so a client that is
/// about to send gets an answer (with `Connection: close`) instead of a closed socket.
const KEEPALIVE_LINGER: Duration = Duration::from_secs(2);

/// How the serve loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every connection finished within the deadline.
    Clean,
    /// The deadline passed with connections still open; they were dropped.
    DeadlineHit,
}

struct Server {
    builder: Builder<TokioExecutor>,
    graceful: GracefulShutdown,
    state: Arc<AppState>,
}

impl Server {
    fn serve_connection(&self, stream: TcpStream, peer: std::net::SocketAddr) {
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&self.state);
        let service = service_fn(move |req| handle(Arc::clone(&state), Some(peer), req));
        let conn = self
            .builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = self.graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(target: "haimaker::server", error = %e, "connection ended with an error");
            }
        });
    }
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
    let server = Server {
        builder,
        graceful: GracefulShutdown::new(),
        state,
    };
    tokio::pin!(drain);
    let deadline = loop {
        tokio::select! {
            deadline = &mut drain => break deadline,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    server.serve_connection(stream, peer);
                    // Every worker is woken for a new connection on the shared socket; after
                    // taking one, let this worker's other tasks run before taking the next, so
                    // a burst of connections is spread over the workers instead of all landing
                    // on whichever is awake.
                    tokio::task::yield_now().await;
                }
                Err(e) => {
                    // EMFILE/ENFILE and friends: back off a little instead of spinning.
                    tracing::warn!(target: "haimaker::server", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    };
    let end = Instant::now() + deadline;
    server
        .state
        .counters
        .draining
        .store(true, Ordering::Relaxed);
    // Connections that already completed the handshake are this fleet's to answer.
    while let Ok(Ok((stream, peer))) = tokio::time::timeout(Duration::ZERO, listener.accept()).await
    {
        server.serve_connection(stream, peer);
    }
    drop(listener);
    let linger_end = end.min(Instant::now() + KEEPALIVE_LINGER);
    while server.graceful.count() > 0 && Instant::now() < linger_end {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    match tokio::time::timeout_at(end, server.graceful.shutdown()).await {
        Ok(()) => Drained::Clean,
        Err(_) => Drained::DeadlineHit,
    }
}
