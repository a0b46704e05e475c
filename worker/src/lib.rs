//! The haimaker worker: the HTTP gateway process.
//!
//! A worker accepts on the listening socket its supervisor bound (inherited as fd 3), talks
//! to the supervisor over its control socket (fd 4), and proxies OpenAI-compatible traffic.
//! It is started by `haimaker` re-executing itself (`haimaker __worker ...`); [`serve`] runs
//! the same gateway in-process for tests.
//!
//! See ARCHITECTURE.md for the process model and the request phases.

mod error;
mod logging;
mod pipeline;
mod server;
mod state;
mod upstream;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use haimaker_config::{ProcessEnv, Vars};
use haimaker_proc::{ChildMessage, SupervisorMessage, exit};

pub use logging::log_settings;
pub use server::{Drained, serve};
pub use state::{AppState, RuntimeOptions};

/// What the supervisor tells a worker on its command line.
#[derive(Debug, Clone, Default)]
pub struct WorkerArgs {
    pub config: Option<PathBuf>,
    pub worker_id: u32,
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

async fn run_async(args: WorkerArgs, config: haimaker_config::Config) -> i32 {
    let id = args.worker_id;
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
    let options = RuntimeOptions {
        detailed_debug: args.detailed_debug,
    };
    let env = ProcessEnv;
    let state = match AppState::new(&config, &options, &|name| env.get(name)) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!(target: "haimaker::worker", error = %e, "could not build the upstream client");
            return exit::FATAL;
        }
    };
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(target: "haimaker::worker", error = %e, "could not use the inherited listener");
            return exit::FATAL;
        }
    };
    let (mut reader, mut writer) = match haimaker_proc::split_control(control) {
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
    tracing::debug!(target: "haimaker::worker", worker = id, pid = std::process::id(), "worker ready");

    // What ends serving: the supervisor's drain order, SIGTERM, or the supervisor vanishing.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<(Duration, i32)>();
    tokio::spawn(async move {
        let mut sigterm =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let stop = tokio::select! {
            message = reader.recv::<SupervisorMessage>() => match message {
                Ok(Some(SupervisorMessage::Drain { deadline_ms })) => {
                    (Duration::from_millis(deadline_ms), exit::OK)
                }
                // EOF or a broken channel: the supervisor is gone; nothing may outlive it.
                Ok(None) | Err(_) => (Duration::ZERO, exit::FATAL),
            },
            _ = async {
                match sigterm.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            } => (SIGTERM_DRAIN, exit::OK),
        };
        let _ = stop_tx.send(stop);
        // Keep the writer alive until the process exits, so the supervisor does not read EOF
        // before the exit status.
        std::future::pending::<()>().await;
        drop(writer);
    });
    let (code_tx, code_rx) = tokio::sync::oneshot::channel::<i32>();
    let drain = async move {
        let (deadline, code) = stop_rx.await.unwrap_or((Duration::ZERO, exit::FATAL));
        let _ = code_tx.send(code);
        deadline
    };
    let drained = serve(listener, state, drain).await;
    let code = code_rx.await.unwrap_or(exit::FATAL);
    tracing::debug!(target: "haimaker::worker", worker = id, ?drained, code, "worker stopped");
    code
}
