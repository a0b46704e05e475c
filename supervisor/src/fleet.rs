//! The process fleet: spawns the workers on the shared socket, watches them, and decides what
//! every exit means.
//!
//! Expected and unexpected exits are explicit state, never guessed: a worker exit is expected
//! only while the supervisor is stopping the fleet and only with exit code 0. Any other exit
//! tears the whole tree down (SIGTERM to all, a grace period, SIGKILL) and the supervisor
//! exits non-zero, naming the child that died and how.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use haimaker_proc::{
    ChildFds, ChildMessage, ControlWriter, SupervisorMessage, control_pair, exit, spawn_child,
    split_control,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// How long children get between SIGTERM and SIGKILL when the fleet is torn down.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// Everything needed to run the fleet.
#[derive(Debug)]
pub struct FleetPlan {
    pub workers: usize,
    pub exe: PathBuf,
    /// Arguments after `haimaker __worker`.
    pub worker_args: Vec<OsString>,
    /// Extra environment for the children (`.env` values, `environment_variables`).
    pub child_env: BTreeMap<String, String>,
    /// How long in-flight work may take to finish after SIGTERM.
    pub graceful_timeout: Duration,
    pub address: SocketAddr,
    pub started: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Starting,
    Running,
    /// SIGTERM received: workers drain; their exit 0 is expected.
    Draining,
}

#[derive(Debug)]
enum Event {
    Message(usize, ChildMessage),
    Exited(usize, ExitStatus),
}

#[derive(Debug)]
struct Worker {
    pid: u32,
    ready: bool,
    control: ControlWriter,
}

/// Runs the fleet until it stops; returns the supervisor's exit code.
pub async fn run(listener: TcpListener, plan: FleetPlan) -> i32 {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut workers: BTreeMap<usize, Worker> = BTreeMap::new();
    for slot in 1..=plan.workers {
        match spawn_worker(slot, &listener, &plan, events_tx.clone()) {
            Ok(worker) => {
                tracing::info!(target: haimaker_telemetry::LIFECYCLE_TARGET, worker = slot, pid = worker.pid, "started worker w{slot} [pid {}]", worker.pid);
                workers.insert(slot, worker);
            }
            Err(e) => {
                tracing::error!(target: "haimaker::supervisor", worker = slot, error = %e, "could not start worker w{slot}");
                stop_all(&mut workers, &mut events, Signal::SIGTERM).await;
                return exit::FATAL;
            }
        }
    }
    let (Ok(mut sigterm), Ok(mut sigint)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!(target: "haimaker::supervisor", "could not install signal handlers");
        stop_all(&mut workers, &mut events, Signal::SIGTERM).await;
        return exit::FATAL;
    };
    let mut phase = Phase::Starting;
    let drain_deadline = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(drain_deadline);

    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { return exit::FATAL };
                match event {
                    Event::Message(slot, ChildMessage::Ready { pid }) => {
                        if let Some(w) = workers.get_mut(&slot) {
                            w.ready = true;
                            tracing::debug!(target: "haimaker::supervisor", worker = slot, pid, "worker ready");
                        }
                        if phase == Phase::Starting && workers.values().all(|w| w.ready) {
                            phase = Phase::Running;
                            announce_running(&plan);
                        }
                    }
                    Event::Message(_, ChildMessage::Heartbeat { .. } | ChildMessage::Recycling { .. }) => {}
                    Event::Exited(slot, status) => {
                        let Some(worker) = workers.remove(&slot) else { continue };
                        let expected = match phase {
                            Phase::Draining => status.code() == Some(exit::OK),
                            Phase::Starting | Phase::Running => false,
                        };
                        if !expected {
                            tracing::error!(
                                target: "haimaker::supervisor",
                                worker = slot,
                                pid = worker.pid,
                                status = %describe(status),
                                "worker w{slot} (pid {}) exited unexpectedly ({}); stopping every process",
                                worker.pid,
                                describe(status)
                            );
                            stop_all(&mut workers, &mut events, Signal::SIGTERM).await;
                            return exit::FATAL;
                        }
                        tracing::info!(target: haimaker_telemetry::LIFECYCLE_TARGET, worker = slot, pid = worker.pid, "worker w{slot} (pid {}) stopped", worker.pid);
                        if workers.is_empty() {
                            tracing::info!(target: haimaker_telemetry::LIFECYCLE_TARGET, "all workers stopped; exiting");
                            return exit::OK;
                        }
                    }
                }
            }
            _ = sigterm.recv() => {
                if matches!(phase, Phase::Starting | Phase::Running) {
                    tracing::info!(
                        target: haimaker_telemetry::LIFECYCLE_TARGET,
                        "SIGTERM: draining (in-flight requests get {}s; send SIGTERM again to stop at once)",
                        plan.graceful_timeout.as_secs()
                    );
                    phase = Phase::Draining;
                    let order = SupervisorMessage::Drain {
                        deadline_ms: u64::try_from(plan.graceful_timeout.as_millis()).unwrap_or(u64::MAX),
                    };
                    for w in workers.values_mut() {
                        let _ = w.control.send(&order).await;
                    }
                    drain_deadline.as_mut().reset(tokio::time::Instant::now() + plan.graceful_timeout + Duration::from_secs(1));
                } else {
                    tracing::info!(target: haimaker_telemetry::LIFECYCLE_TARGET, "second SIGTERM: stopping now");
                    stop_all(&mut workers, &mut events, Signal::SIGTERM).await;
                    return exit::OK;
                }
            }
            _ = sigint.recv() => {
                tracing::info!(target: haimaker_telemetry::LIFECYCLE_TARGET, "SIGINT: stopping now");
                stop_all(&mut workers, &mut events, Signal::SIGTERM).await;
                return exit::OK;
            }
            () = &mut drain_deadline => {
                tracing::warn!(target: "haimaker::supervisor", remaining = workers.len(), "graceful timeout passed with workers still draining; killing them");
                stop_all(&mut workers, &mut events, Signal::SIGKILL).await;
                return exit::OK;
            }
        }
    }
}

fn announce_running(plan: &FleetPlan) {
    let shown = if plan.address.ip().is_unspecified() {
        format!("http://0.0.0.0:{}", plan.address.port())
    } else {
        format!("http://{}", plan.address)
    };
    tracing::info!(
        target: haimaker_telemetry::LIFECYCLE_TARGET,
        address = %plan.address,
        workers = plan.workers,
        startup_ms = plan.started.elapsed().as_secs_f64() * 1000.0,
        "haimaker running on {shown} with {} worker{} (Press CTRL+C to quit)",
        plan.workers,
        if plan.workers == 1 { "" } else { "s" }
    );
}

fn spawn_worker(
    slot: usize,
    listener: &TcpListener,
    plan: &FleetPlan,
    events: mpsc::UnboundedSender<Event>,
) -> std::io::Result<Worker> {
    let (parent_end, child_end) = control_pair()?;
    let mut cmd = tokio::process::Command::new(&plan.exe);
    cmd.arg(haimaker_proc::WORKER_SUBCOMMAND)
        .args(&plan.worker_args)
        .arg("--worker-id")
        .arg(slot.to_string())
        .envs(&plan.child_env)
        .kill_on_drop(false);
    let mut child = spawn_child(
        &mut cmd,
        ChildFds {
            listener: Some(listener.as_fd()),
            control: child_end.as_fd(),
        },
    )?;
    drop(child_end);
    let pid = child.id().unwrap_or(0);
    let (mut reader, control) = split_control(parent_end)?;
    let tx = events.clone();
    tokio::spawn(async move {
        while let Ok(Some(message)) = reader.recv::<ChildMessage>().await {
            if tx.send(Event::Message(slot, message)).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let status = match child.wait().await {
            Ok(status) => status,
            Err(_) => ExitStatus::from_raw(1 << 8),
        };
        let _ = events.send(Event::Exited(slot, status));
    });
    Ok(Worker {
        pid,
        ready: false,
        control,
    })
}

/// Signals every remaining child, waits up to the grace period for them to exit, then
/// SIGKILLs the rest.
async fn stop_all(
    workers: &mut BTreeMap<usize, Worker>,
    events: &mut mpsc::UnboundedReceiver<Event>,
    first: Signal,
) {
    for w in workers.values() {
        signal_pid(w.pid, first);
    }
    let deadline = tokio::time::Instant::now() + KILL_GRACE;
    while !workers.is_empty() {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Event::Exited(slot, _))) => {
                workers.remove(&slot);
            }
            Ok(Some(Event::Message(..))) => {}
            Ok(None) | Err(_) => break,
        }
    }
    for w in workers.values() {
        signal_pid(w.pid, Signal::SIGKILL);
    }
}

fn signal_pid(pid: u32, sig: Signal) {
    if let Ok(raw) = i32::try_from(pid)
        && raw > 0
    {
        let _ = kill(Pid::from_raw(raw), sig);
    }
}

/// "exit code 3" or "killed by signal SIGKILL".
pub fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    match status.signal() {
        Some(sig) => match Signal::try_from(sig) {
            Ok(s) => format!("killed by signal {}", s.as_str()),
            Err(_) => format!("killed by signal {sig}"),
        },
        None => "unknown status".to_string(),
    }
}
