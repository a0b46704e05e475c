//! The haimaker worker: the HTTP gateway process.
//!
//! A worker accepts on the listening socket its supervisor bound (inherited as fd 3), talks
//! to the supervisor over its control socket (fd 4), and proxies OpenAI-compatible traffic.
//! It is started by `haimaker` re-executing itself (`haimaker __worker ...`); [`serve`] runs
//! the same gateway in-process for tests.
//!
//! Over the control socket a worker reports `ready`, a `heartbeat` every interval, and
//! `recycling` once it has served its request budget; it obeys `activate` (a standby worker
//! takes over a slot) and `drain`. EOF on the control socket means the supervisor is gone: the
//! worker exits at once.
//!
//! See ARCHITECTURE.md for the process model and the request phases.

mod db;
mod error;
mod logging;
mod metrics;
mod models;
mod pipeline;
mod server;
mod shared;
mod state;
mod upstream;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use haimaker_config::{ProcessEnv, Vars};
use haimaker_proc::{ChildMessage, ControlReader, SupervisorMessage, exit};
use tokio::sync::{mpsc, oneshot};

pub use logging::log_settings;
pub use server::{Drained, serve};
pub use state::{AppState, RuntimeOptions};

/// What the supervisor tells a worker on its command line.
#[derive(Debug, Clone, Default)]
pub struct WorkerArgs {
    pub config: Option<PathBuf>,
    pub slot: u32,
    pub generation: u64,
    /// Start without accepting; wait for `activate`.
    pub standby: bool,
    /// Ask to be recycled after this many requests.
    pub max_requests: Option<u64>,
    pub detailed_debug: bool,
    pub debug: bool,
}

/// How long a worker drains when stopped by SIGTERM rather than by the supervisor's order.
const SIGTERM_DRAIN: Duration = Duration::from_secs(1);

/// Runs a worker process to completion; returns its exit code.
pub fn run(args: WorkerArgs) -> i32 {
    let env = ProcessEnv;
    let config = match &args.config {
        Some(path) => match haimaker_config::load(path, &env) {
            Ok(loaded) => loaded.config,
            Err(errors) => {
                eprintln!("{errors}");
                return exit::CONFIG;
            }
        },
        None => haimaker_config::Config::default(),
    };
    let settings = match log_settings(&config, &env, args.detailed_debug, args.debug) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("{message}");
            return exit::CONFIG;
        }
    };
    let _log = haimaker_telemetry::init(settings);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(target: "haimaker::worker", error = %e, "could not start the runtime");
            return exit::FATAL;
        }
    };
    runtime.block_on(run_async(args, config))
}

/// What the supervisor (or a signal) asks of this worker.
#[derive(Debug)]
enum Order {
    /// Take over a slot (standby workers), with this request budget.
    Activate(Option<u64>, u32),
    /// Drain within the deadline, then exit with the code.
    Stop(Duration, i32),
}

async fn run_async(args: WorkerArgs, config: haimaker_config::Config) -> i32 {
    let (listener, control) = match (
        haimaker_proc::take_inherited_listener(),
        haimaker_proc::take_inherited_control(),
    ) {
        (Ok(l), Ok(c)) => (l, c),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(target: "haimaker::worker", error = %e, "worker started without its inherited fds");
            return exit::FATAL;
        }
    };
    let env = ProcessEnv;
    let options = RuntimeOptions {
        detailed_debug: args.detailed_debug,
    };
    let state = match AppState::new(&config, &options, &|name| env.get(name)) {
        Ok(state) => Arc::new(state),
        Err(e) => {
            tracing::error!(target: "haimaker::worker", error = %e, "could not set up the database");
            return exit::CONFIG;
        }
    };
    state.warm_up();
    pipeline::alerts::start(&state, &config, args.slot);
    if let Some(shared) = &state.shared {
        shared.start(&state);
        // Limits and budgets should hold from the first request: give Redis a moment to
        // connect before saying ready (bounded: a Redis that is down never blocks a start).
        if !shared
            .connected_within(shared::CONNECT_PATIENCE, state.db.is_some())
            .await
        {
            tracing::warn!(target: "haimaker::redis", "redis not reachable at start; serving with per-process limits until it is");
        }
    }
    if let Some(db) = &state.db {
        db.start(state.shared.clone());
        if let Some(models) = &state.models {
            // Stored models must be routable before this worker says it is ready.
            let loaded =
                tokio::time::timeout(Duration::from_secs(5), models.sync(&state, db, true)).await;
            if !matches!(loaded, Ok(Ok(_))) {
                tracing::warn!(target: "haimaker::models", "stored models not loaded at start; retrying in the background");
            }
            models::ModelStore::start(Arc::clone(&state));
        }
    }
    let (reader, mut writer) = match haimaker_proc::split_control(control) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::error!(target: "haimaker::worker", error = %e, "could not use the control socket");
            return exit::FATAL;
        }
    };
    if let Err(e) = writer
        .send(&ChildMessage::Ready {
            pid: std::process::id(),
        })
        .await
    {
        tracing::error!(target: "haimaker::worker", error = %e, "could not report ready");
        return exit::FATAL;
    }

    // One task owns the writer; heartbeats, metrics and the recycling notice go through it.
    let (outbox, mut outgoing) = mpsc::unbounded_channel::<Outgoing>();
    tokio::spawn(async move {
        while let Some(item) = outgoing.recv().await {
            match item {
                Outgoing::Message(message) => {
                    if writer.send(&message).await.is_err() {
                        break;
                    }
                }
                Outgoing::Flushed(done) => {
                    let _ = done.send(());
                }
            }
        }
    });
    spawn_heartbeat(Arc::clone(&state), outbox.clone());
    spawn_metrics_reports(Arc::clone(&state), outbox.clone());
    let (orders_tx, mut orders) = mpsc::unbounded_channel::<Order>();
    tokio::spawn(obey_supervisor(Arc::clone(&state), reader, orders_tx));

    let mut budget = args.max_requests;
    if args.standby {
        // A standby worker holds the socket without accepting until it takes over a slot.
        match orders.recv().await {
            Some(Order::Activate(max_requests, slot)) => {
                budget = max_requests;
                pipeline::alerts::activated(&state, slot);
            }
            Some(Order::Stop(_, code)) => return code,
            None => return exit::FATAL,
        }
    }
    if let Some(budget) = budget.filter(|b| *b > 0) {
        state.counters.budget.store(budget, Ordering::Relaxed);
        spawn_recycling_notice(Arc::clone(&state), outbox.clone());
    }
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(target: "haimaker::worker", error = %e, "could not use the inherited listener");
            return exit::FATAL;
        }
    };
    let (code_tx, code_rx) = oneshot::channel::<i32>();
    let drain = async move {
        loop {
            match orders.recv().await {
                Some(Order::Stop(deadline, code)) => {
                    let _ = code_tx.send(code);
                    return deadline;
                }
                Some(Order::Activate(..)) => continue,
                None => {
                    let _ = code_tx.send(exit::FATAL);
                    return Duration::ZERO;
                }
            }
        }
    };
    let drained = serve(listener, Arc::clone(&state), drain).await;
    let code = code_rx.await.unwrap_or(exit::FATAL);
    // A planned exit loses no spend: write what is buffered (or spool it for the next worker).
    if code != exit::FATAL
        && let Some(db) = &state.db
    {
        db.final_flush(Duration::from_secs(10)).await;
    }
    // Leases held in Redis (parallel slots, budget chunks) go back for the other workers.
    if code != exit::FATAL
        && let Some(shared) = &state.shared
    {
        shared.final_flush(Duration::from_secs(2)).await;
    }
    // The last metrics, so a recycle loses no count (bounded: the supervisor may be gone).
    if code != exit::FATAL {
        let (done, flushed) = oneshot::channel();
        let _ = outbox.send(Outgoing::Message(metrics::report(&state)));
        let _ = outbox.send(Outgoing::Flushed(done));
        let _ = tokio::time::timeout(Duration::from_secs(2), flushed).await;
    }
    tracing::debug!(target: "haimaker::worker", slot = args.slot, generation = args.generation, ?drained, code, "worker stopped");
    code
}

/// Reads the supervisor's messages (and SIGTERM) and turns them into orders. EOF on the control
/// socket means the supervisor is gone: stop at once, nothing may outlive it.
async fn obey_supervisor(
    state: Arc<AppState>,
    mut reader: ControlReader,
    orders: mpsc::UnboundedSender<Order>,
) {
    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        let order = tokio::select! {
            message = reader.recv::<SupervisorMessage>() => match message {
                Ok(Some(SupervisorMessage::Activate { max_requests, slot, .. })) => Order::Activate(max_requests, slot),
                Ok(Some(SupervisorMessage::Drain { deadline_ms, recycle })) => Order::Stop(
                    Duration::from_millis(deadline_ms),
                    if recycle { exit::RECYCLED } else { exit::OK },
                ),
                Ok(Some(SupervisorMessage::Status { .. })) => continue,
                Ok(Some(SupervisorMessage::Metrics { text })) => {
                    state.metrics.set_text(text);
                    continue;
                }
                Ok(None) | Err(_) => {
                    let _ = orders.send(Order::Stop(Duration::ZERO, exit::FATAL));
                    return;
                }
            },
            _ = async {
                match sigterm.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            } => Order::Stop(SIGTERM_DRAIN, exit::OK),
        };
        if orders.send(order).is_err() {
            return;
        }
    }
}

/// Sends a heartbeat with the in-flight and served counts every interval, from inside the
/// runtime: if the runtime is stuck, the heartbeats stop and the health process notices.
fn spawn_heartbeat(state: Arc<AppState>, outbox: mpsc::UnboundedSender<Outgoing>) {
    let interval = heartbeat_interval();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let message = ChildMessage::Heartbeat {
                in_flight: state.counters.in_flight.load(Ordering::Relaxed),
                served: state.counters.served.load(Ordering::Relaxed),
                db: state
                    .db
                    .as_ref()
                    .map(|db| db.status.get().as_str().to_string()),
            };
            if outbox.send(Outgoing::Message(message)).is_err() {
                return;
            }
        }
    });
}

/// Reports what the metrics recorded, every interval.
fn spawn_metrics_reports(state: Arc<AppState>, outbox: mpsc::UnboundedSender<Outgoing>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.metrics.report_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if outbox
                .send(Outgoing::Message(metrics::report(&state)))
                .is_err()
            {
                return;
            }
        }
    });
}

/// What the writer task sends: a message, or a marker acknowledged once everything queued
/// before it is written.
enum Outgoing {
    Message(ChildMessage),
    Flushed(oneshot::Sender<()>),
}

fn spawn_recycling_notice(state: Arc<AppState>, outbox: mpsc::UnboundedSender<Outgoing>) {
    tokio::spawn(async move {
        state.counters.budget_reached.notified().await;
        let served = state.counters.served.load(Ordering::Relaxed);
        tracing::debug!(target: "haimaker::worker", served, "request budget reached");
        let _ = outbox.send(Outgoing::Message(ChildMessage::Recycling { served }));
    });
}

fn heartbeat_interval() -> Duration {
    let ms = ProcessEnv
        .get(haimaker_proc::ENV_HEARTBEAT_INTERVAL_MS)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .unwrap_or(haimaker_proc::DEFAULT_HEARTBEAT_INTERVAL_MS);
    Duration::from_millis(ms)
}
