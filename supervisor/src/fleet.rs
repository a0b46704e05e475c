//! The process fleet: the workers on the shared socket, a warm standby worker when recycling is
//! on, and the health process. It watches them and decides what every exit means.
//!
//! Expected and unexpected exits are explicit state, never guessed: a child's exit is expected
//! only when the supervisor ordered it (a recycle drain expects `exit::RECYCLED`, a shutdown
//! drain `exit::OK`, a fast stop anything). Any other exit tears the whole tree down (SIGTERM to
//! all, a grace period, SIGKILL) and the supervisor exits non-zero, naming the child that died
//! and how.
//!
//! Recycling keeps capacity: the standby worker is already running (holding the socket without
//! accepting), so when a worker asks to be recycled the standby takes over its slot at once, the
//! old worker drains, and a new standby starts. One worker recycles at a time.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use haimaker_proc::{
    ChildFds, ChildMessage, ControlWriter, FleetPhase, FleetStatus, SupervisorMessage,
    WorkerStatus, control_pair, exit, spawn_child, split_control,
};
use haimaker_telemetry::LIFECYCLE_TARGET;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::recycle::Recycling;
use haimaker_metrics::{Aggregate, PodGauges, WorkerView};

/// How long children get between SIGTERM and SIGKILL when the fleet is torn down.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// How often the supervisor re-evaluates heartbeats, memory and pending recycles, and sends
/// the health process its status.
const TICK: Duration = Duration::from_millis(250);

/// Everything needed to run the fleet.
#[derive(Debug)]
pub struct FleetPlan {
    pub workers: usize,
    pub exe: PathBuf,
    /// Arguments every worker gets after `haimaker __worker`.
    pub worker_args: Vec<OsString>,
    /// Arguments the health process gets after `haimaker __health`.
    pub health_args: Vec<OsString>,
    /// Extra environment for the children (`.env` values, `environment_variables`).
    pub child_env: BTreeMap<String, String>,
    /// How long in-flight work may take to finish after SIGTERM or a recycle.
    pub graceful_timeout: Duration,
    pub address: SocketAddr,
    /// The health process's socket, when `SEPARATE_HEALTH_APP` is on.
    pub health: Option<TcpListener>,
    pub recycling: Recycling,
    /// A heartbeat older than this means the child is not alive.
    pub heartbeat_stale: Duration,
    /// At most how often the pod's metrics text is re-rendered and sent out.
    pub metrics_interval: Duration,
    /// Workers serve `/metrics` on the main port too (not with `HAIMAKER_MAIN_PORT_METRICS=false`),
    /// so they get the text as well as the health process.
    pub metrics_to_workers: bool,
    /// `general_settings.allow_requests_on_db_unavailable` (readiness with the database down).
    pub allow_requests_on_db_unavailable: bool,
    pub started: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Worker,
    Standby,
    Health,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Worker => "worker",
            Role::Standby => "standby",
            Role::Health => "health",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Starting,
    Running,
    /// Asked to be recycled; keeps serving until the standby takes its slot.
    RecyclePending,
    /// Told to drain; its exit with this code is expected.
    Draining {
        expect: i32,
    },
}

#[derive(Debug)]
struct Child {
    role: Role,
    slot: u32,
    generation: u64,
    pid: u32,
    state: State,
    control: ControlWriter,
    spawned: Instant,
    last_heartbeat: Option<Instant>,
    in_flight: u64,
    served: u64,
    /// The database as this worker last reported it.
    db: Option<String>,
    budget: Option<u64>,
    /// Why and since when a recycle was asked for.
    recycle: Option<(&'static str, Instant)>,
}

#[derive(Debug)]
enum Event {
    Message(u64, ChildMessage),
    Exited(u64, ExitStatus),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Starting,
    Running,
    /// SIGTERM: everyone drains; exits with the ordered code are expected.
    Draining,
}

struct Fleet {
    plan: FleetPlan,
    listener: Option<TcpListener>,
    children: BTreeMap<u64, Child>,
    next_id: u64,
    next_generation: u64,
    phase: Phase,
    events: mpsc::UnboundedSender<Event>,
    memory: Option<crate::recycle::MemoryProbe>,
    /// Every worker's metrics reports, summed; survives recycles (the pod's `/metrics`).
    metrics: Aggregate,
    /// Something changed since the metrics text was last sent to the children.
    metrics_dirty: bool,
    metrics_sent: Instant,
    /// Workers that exited after a planned recycle.
    recycles: u64,
}

/// Runs the fleet until it stops; returns the supervisor's exit code.
pub async fn run(listener: TcpListener, plan: FleetPlan) -> i32 {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let memory = plan
        .recycling
        .max_memory_mb
        .map(|_| crate::recycle::MemoryProbe::new());
    let mut fleet = Fleet {
        plan,
        listener: Some(listener),
        children: BTreeMap::new(),
        next_id: 1,
        next_generation: 0,
        phase: Phase::Starting,
        events: events_tx,
        memory,
        metrics: Aggregate::default(),
        metrics_dirty: true,
        metrics_sent: Instant::now(),
        recycles: 0,
    };
    if let Err(code) = fleet.start(&mut events).await {
        return code;
    }
    let (Ok(mut sigterm), Ok(mut sigint)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!(target: "haimaker::supervisor", "could not install signal handlers");
        fleet.stop_all(&mut events, Signal::SIGTERM).await;
        return exit::FATAL;
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let drain_deadline = tokio::time::sleep(Duration::from_secs(365 * 24 * 3600));
    tokio::pin!(drain_deadline);

    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { return exit::FATAL };
                if let Some(code) = fleet.on_event(event, &mut events).await {
                    return code;
                }
            }
            _ = tick.tick() => {
                fleet.on_tick().await;
            }
            _ = sigterm.recv() => {
                if fleet.phase == Phase::Draining {
                    tracing::info!(target: LIFECYCLE_TARGET, reason = "second SIGTERM", "second SIGTERM: stopping now");
                    fleet.stop_all(&mut events, Signal::SIGTERM).await;
                    return exit::OK;
                }
                fleet.begin_drain().await;
                drain_deadline.as_mut().reset(tokio::time::Instant::now() + fleet.plan.graceful_timeout + Duration::from_secs(1));
                if let Some(code) = fleet.finish_drain_if_done().await {
                    return code;
                }
            }
            _ = sigint.recv() => {
                tracing::info!(target: LIFECYCLE_TARGET, reason = "SIGINT", "SIGINT: stopping now");
                fleet.stop_all(&mut events, Signal::SIGTERM).await;
                return exit::OK;
            }
            () = &mut drain_deadline => {
                tracing::warn!(target: "haimaker::supervisor", remaining = fleet.children.len(), "graceful timeout passed with children still draining; killing them");
                fleet.stop_all(&mut events, Signal::SIGKILL).await;
                return exit::OK;
            }
        }
    }
}

impl Fleet {
    /// Starts the health process (if any) first, then the workers and the standby.
    async fn start(&mut self, events: &mut mpsc::UnboundedReceiver<Event>) -> Result<(), i32> {
        if let Some(health) = self.plan.health.take() {
            let address = health.local_addr().ok();
            let spawned = self.spawn(Role::Health, 0, None, Some(&health));
            // The supervisor keeps its copy of the health socket too: if the health process
            // dies, the teardown follows, so no one else can take the port meanwhile.
            self.plan.health = Some(health);
            if let Err(e) = spawned {
                tracing::error!(target: "haimaker::supervisor", role = "health", error = %e, "could not start the health process");
                return Err(exit::FATAL);
            }
            if let Some(address) = address {
                tracing::info!(target: LIFECYCLE_TARGET, role = "health", address = %address, "health probes on http://{address}");
            }
        }
        for slot in 1..=self.plan.workers as u32 {
            let budget = self.plan.recycling.initial_budget(
                slot,
                self.plan.workers as u32,
                &mut rand::rng(),
            );
            if let Err(e) = self.spawn(Role::Worker, slot, budget, None) {
                tracing::error!(target: "haimaker::supervisor", role = "worker", slot, error = %e, "could not start a worker");
                self.stop_all(events, Signal::SIGTERM).await;
                return Err(exit::FATAL);
            }
        }
        if self.plan.recycling.enabled()
            && let Err(e) = self.spawn(Role::Standby, 0, None, None)
        {
            tracing::error!(target: "haimaker::supervisor", role = "standby", error = %e, "could not start the standby worker");
            self.stop_all(events, Signal::SIGTERM).await;
            return Err(exit::FATAL);
        }
        Ok(())
    }

    fn spawn(
        &mut self,
        role: Role,
        slot: u32,
        budget: Option<u64>,
        health_socket: Option<&TcpListener>,
    ) -> std::io::Result<u64> {
        let generation = self.next_generation;
        let (parent_end, child_end) = control_pair()?;
        let mut cmd = tokio::process::Command::new(&self.plan.exe);
        let listener = match role {
            Role::Health => {
                cmd.arg(haimaker_proc::HEALTH_SUBCOMMAND)
                    .args(&self.plan.health_args);
                health_socket
            }
            Role::Worker | Role::Standby => {
                cmd.arg(haimaker_proc::WORKER_SUBCOMMAND)
                    .args(&self.plan.worker_args)
                    .arg("--slot")
                    .arg(slot.to_string())
                    .arg("--generation")
                    .arg(generation.to_string());
                if role == Role::Standby {
                    cmd.arg("--standby");
                }
                if let Some(budget) = budget {
                    cmd.arg("--max-requests").arg(budget.to_string());
                }
                self.listener.as_ref()
            }
        };
        cmd.envs(&self.plan.child_env).kill_on_drop(false);
        let mut child = spawn_child(
            &mut cmd,
            ChildFds {
                listener: listener.map(|l| l.as_fd()),
                control: child_end.as_fd(),
            },
        )?;
        drop(child_end);
        let id = self.next_id;
        self.next_id += 1;
        if role != Role::Health {
            self.next_generation += 1;
        }
        let pid = child.id().unwrap_or(0);
        let (mut reader, control) = split_control(parent_end)?;
        let tx = self.events.clone();
        tokio::spawn(async move {
            while let Ok(Some(message)) = reader.recv::<ChildMessage>().await {
                if tx.send(Event::Message(id, message)).is_err() {
                    break;
                }
            }
        });
        let tx = self.events.clone();
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => status,
                Err(_) => ExitStatus::from_raw(1 << 8),
            };
            let _ = tx.send(Event::Exited(id, status));
        });
        tracing::info!(
            target: LIFECYCLE_TARGET,
            role = role.as_str(),
            slot,
            pid,
            generation,
            budget,
            "started {} [pid {pid}]",
            describe_child(role, slot, generation),
        );
        self.children.insert(
            id,
            Child {
                role,
                slot,
                generation,
                pid,
                state: State::Starting,
                control,
                spawned: Instant::now(),
                last_heartbeat: None,
                in_flight: 0,
                served: 0,
                db: None,
                budget,
                recycle: None,
            },
        );
        Ok(id)
    }

    /// Handles one child event; returns the supervisor's exit code when the fleet is done.
    async fn on_event(
        &mut self,
        event: Event,
        events: &mut mpsc::UnboundedReceiver<Event>,
    ) -> Option<i32> {
        match event {
            Event::Message(id, ChildMessage::Ready { .. }) => {
                let child = self.children.get_mut(&id)?;
                if child.state == State::Starting {
                    child.state = State::Running;
                }
                child.last_heartbeat = Some(Instant::now());
                tracing::info!(target: LIFECYCLE_TARGET, role = child.role.as_str(), slot = child.slot, pid = child.pid, generation = child.generation, "{} ready", describe_child(child.role, child.slot, child.generation));
                if self.phase == Phase::Starting && self.all_workers_ready() {
                    self.phase = Phase::Running;
                    self.announce_running();
                }
                self.advance_recycling().await;
                self.send_status().await;
            }
            Event::Message(
                id,
                ChildMessage::Heartbeat {
                    in_flight,
                    served,
                    db,
                },
            ) => {
                if let Some(child) = self.children.get_mut(&id) {
                    child.last_heartbeat = Some(Instant::now());
                    child.in_flight = in_flight;
                    self.metrics_dirty = true;
                    child.served = served;
                    child.db = db;
                }
            }
            Event::Message(id, ChildMessage::Metrics { delta }) => {
                self.on_metrics(id, *delta);
            }
            Event::Message(id, ChildMessage::Recycling { served }) => {
                if let Some(child) = self.children.get_mut(&id) {
                    child.served = served;
                }
                self.ask_recycle(id, "max_requests");
                self.advance_recycling().await;
            }
            Event::Exited(id, status) => {
                let child = self.children.remove(&id)?;
                self.metrics.forget(id);
                self.metrics_dirty = true;
                let expected = match child.state {
                    State::Draining { expect } => status.code() == Some(expect),
                    _ => false,
                };
                if !expected {
                    tracing::error!(
                        target: LIFECYCLE_TARGET,
                        role = child.role.as_str(),
                        slot = child.slot,
                        pid = child.pid,
                        generation = child.generation,
                        status = %describe(status),
                        reason = "unexpected exit",
                        "teardown: {} (pid {}) exited unexpectedly ({}); stopping every process",
                        describe_child(child.role, child.slot, child.generation),
                        child.pid,
                        describe(status)
                    );
                    self.stop_all(events, Signal::SIGTERM).await;
                    return Some(exit::FATAL);
                }
                if status.code() == Some(exit::RECYCLED) {
                    self.recycles += 1;
                }
                tracing::info!(
                    target: LIFECYCLE_TARGET,
                    role = child.role.as_str(),
                    slot = child.slot,
                    pid = child.pid,
                    generation = child.generation,
                    served = child.served,
                    status = %describe(status),
                    "{} (pid {}) exited after draining",
                    describe_child(child.role, child.slot, child.generation),
                    child.pid
                );
                if self.phase == Phase::Draining {
                    return self.finish_drain_if_done().await;
                }
                self.advance_recycling().await;
                self.send_status().await;
            }
        }
        None
    }

    async fn on_tick(&mut self) {
        if self.phase != Phase::Draining {
            self.check_memory();
            self.advance_recycling().await;
        }
        self.send_status().await;
        self.send_metrics().await;
    }

    /// A worker's metrics report. Its last one can arrive after its exit: the counts still
    /// go in (a recycle must not lose any), its gauges do not.
    fn on_metrics(&mut self, id: u64, delta: haimaker_metrics::Delta) {
        self.metrics.apply(id, delta);
        if !self.children.contains_key(&id) {
            self.metrics.forget(id);
        }
        self.metrics_dirty = true;
    }

    /// Sends the pod's metrics text to the health process and the workers when it changed.
    async fn send_metrics(&mut self) {
        if !self.metrics_dirty || self.metrics_sent.elapsed() < self.plan.metrics_interval {
            return;
        }
        self.metrics_dirty = false;
        self.metrics_sent = Instant::now();
        let workers = self
            .children
            .values()
            .filter(|c| c.role != Role::Health)
            .map(|c| WorkerView {
                name: match c.role {
                    Role::Standby => "standby".to_string(),
                    _ => c.slot.to_string(),
                },
                in_flight: c.in_flight,
            })
            .collect();
        let status = self.status();
        let pod = PodGauges {
            workers,
            desired_workers: u64::from(status.desired),
            ready_workers: u64::from(status.ready),
            recycles: self.recycles,
            db: status.db,
        };
        let message = SupervisorMessage::Metrics {
            text: self.metrics.render(&pod),
        };
        let to_workers = self.plan.metrics_to_workers;
        for child in self
            .children
            .values_mut()
            .filter(|c| to_workers || c.role == Role::Health)
        {
            let _ = child.control.send(&message).await;
        }
    }

    fn all_workers_ready(&self) -> bool {
        let ready = self
            .children
            .values()
            .filter(|c| c.role == Role::Worker && c.state != State::Starting)
            .count();
        ready >= self.plan.workers
    }

    fn announce_running(&self) {
        let shown = if self.plan.address.ip().is_unspecified() {
            format!("http://0.0.0.0:{}", self.plan.address.port())
        } else {
            format!("http://{}", self.plan.address)
        };
        let n = self.plan.workers;
        tracing::info!(
            target: LIFECYCLE_TARGET,
            address = %self.plan.address,
            workers = n,
            startup_ms = self.plan.started.elapsed().as_secs_f64() * 1000.0,
            "haimaker running on {shown} with {n} worker{} (Press CTRL+C to quit)",
            if n == 1 { "" } else { "s" }
        );
    }

    /// Marks a worker as wanting a recycle (once).
    fn ask_recycle(&mut self, id: u64, reason: &'static str) {
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        if child.role != Role::Worker || child.state != State::Running {
            return;
        }
        child.state = State::RecyclePending;
        child.recycle = Some((reason, Instant::now()));
        tracing::info!(
            target: LIFECYCLE_TARGET,
            role = "worker",
            slot = child.slot,
            pid = child.pid,
            generation = child.generation,
            served = child.served,
            reason,
            "worker w{}.{} asks to be recycled ({reason}, {} requests served)",
            child.slot,
            child.generation,
            child.served
        );
    }

    /// Starts the next recycle when it may: the fleet is running, no other worker is draining
    /// for a recycle, the standby is ready, and the worker has lived its minimum lifetime.
    async fn advance_recycling(&mut self) {
        if self.phase != Phase::Running {
            return;
        }
        let recycle_in_progress = self
            .children
            .values()
            .any(|c| matches!(c.state, State::Draining { expect } if expect == exit::RECYCLED));
        if recycle_in_progress {
            return;
        }
        let min_lifetime = self.plan.recycling.min_lifetime;
        let Some(old_id) = self
            .children
            .iter()
            .filter(|(_, c)| {
                c.state == State::RecyclePending && c.spawned.elapsed() >= min_lifetime
            })
            .min_by_key(|(_, c)| c.recycle.map(|(_, at)| at))
            .map(|(id, _)| *id)
        else {
            return;
        };
        let Some(standby_id) = self
            .children
            .iter()
            .find(|(_, c)| c.role == Role::Standby && c.state == State::Running)
            .map(|(id, _)| *id)
        else {
            return;
        };
        let budget = self.plan.recycling.budget(&mut rand::rng());
        let deadline_ms = u64::try_from(self.plan.graceful_timeout.as_millis()).unwrap_or(u64::MAX);
        let Some(old) = self.children.get(&old_id) else {
            return;
        };
        let (slot, reason) = (old.slot, old.recycle.map_or("max_requests", |(r, _)| r));
        if let Some(standby) = self.children.get_mut(&standby_id) {
            let _ = standby
                .control
                .send(&SupervisorMessage::Activate {
                    slot,
                    generation: standby.generation,
                    max_requests: budget,
                })
                .await;
            standby.role = Role::Worker;
            standby.slot = slot;
            standby.budget = budget;
            standby.spawned = Instant::now();
            tracing::info!(target: LIFECYCLE_TARGET, role = "worker", slot, pid = standby.pid, generation = standby.generation, budget, "standby w{slot}.{} takes over slot {slot}", standby.generation);
        }
        if let Some(old) = self.children.get_mut(&old_id) {
            let _ = old
                .control
                .send(&SupervisorMessage::Drain {
                    deadline_ms,
                    recycle: true,
                })
                .await;
            old.state = State::Draining {
                expect: exit::RECYCLED,
            };
            tracing::info!(target: LIFECYCLE_TARGET, role = "worker", slot, pid = old.pid, generation = old.generation, served = old.served, reason, "recycling w{slot}.{}: draining", old.generation);
        }
        if let Err(e) = self.spawn(Role::Standby, 0, None, None) {
            tracing::error!(target: "haimaker::supervisor", role = "standby", error = %e, "could not start a new standby worker; recycling pauses");
        }
    }

    fn check_memory(&mut self) {
        let (Some(limit), Some(probe)) = (self.plan.recycling.max_memory_mb, self.memory.as_mut())
        else {
            return;
        };
        let over: Vec<(u64, u64)> = self
            .children
            .iter()
            .filter(|(_, c)| c.role == Role::Worker && c.state == State::Running)
            .filter_map(|(id, c)| probe.rss_mb(c.pid).map(|mb| (*id, mb)))
            .filter(|(_, mb)| *mb > limit)
            .collect();
        for (id, mb) in over {
            if let Some(child) = self.children.get(&id) {
                tracing::info!(target: LIFECYCLE_TARGET, role = "worker", slot = child.slot, pid = child.pid, generation = child.generation, rss_mb = mb, reason = "max_memory", "worker w{}.{} uses {mb} MB RSS (limit {limit} MB)", child.slot, child.generation);
            }
            self.ask_recycle(id, "max_memory");
        }
    }

    fn status(&self) -> FleetStatus {
        let stale = self.plan.heartbeat_stale;
        let fresh = |c: &Child| c.last_heartbeat.is_some_and(|t| t.elapsed() <= stale);
        let workers = self
            .children
            .values()
            .filter(|c| c.role != Role::Health)
            .map(|c| WorkerStatus {
                slot: c.slot,
                generation: c.generation,
                pid: c.pid,
                state: match (c.role, c.state) {
                    (_, State::Starting) => "starting",
                    (Role::Standby, _) => "standby",
                    (_, State::RecyclePending) => "recycling",
                    (_, State::Draining { .. }) => "draining",
                    _ => "ready",
                }
                .to_string(),
                in_flight: c.in_flight,
                served: c.served,
                heartbeat_age_ms: c
                    .last_heartbeat
                    .map(|t| u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)),
            })
            .collect();
        let ready = self
            .children
            .values()
            .filter(|c| {
                c.role == Role::Worker
                    && matches!(c.state, State::Running | State::RecyclePending)
                    && fresh(c)
            })
            .count();
        let alive = self
            .children
            .values()
            .filter(|c| c.role != Role::Health && fresh(c))
            .count();
        FleetStatus {
            phase: match self.phase {
                Phase::Starting => FleetPhase::Starting,
                Phase::Running => FleetPhase::Running,
                Phase::Draining => FleetPhase::Draining,
            },
            desired: self.plan.workers as u32,
            ready: ready as u32,
            alive: alive as u32,
            db: self.database_view(),
            allow_requests_on_db_unavailable: self.plan.allow_requests_on_db_unavailable,
            workers,
        }
    }

    /// The fleet's view of the database: connected if any active worker with a fresh heartbeat
    /// reaches it; else schema_behind if any says so; else disconnected.
    fn database_view(&self) -> Option<String> {
        let stale = self.plan.heartbeat_stale;
        let views: Vec<&str> = self
            .children
            .values()
            .filter(|c| {
                c.role == Role::Worker && c.last_heartbeat.is_some_and(|t| t.elapsed() <= stale)
            })
            .filter_map(|c| c.db.as_deref())
            .collect();
        ["connected", "schema_behind", "disconnected"]
            .into_iter()
            .find(|state| views.contains(state))
            .map(str::to_string)
    }

    async fn send_status(&mut self) {
        if !self.children.values().any(|c| c.role == Role::Health) {
            return;
        }
        let message = SupervisorMessage::Status {
            status: self.status(),
        };
        for child in self
            .children
            .values_mut()
            .filter(|c| c.role == Role::Health)
        {
            let _ = child.control.send(&message).await;
        }
    }

    /// SIGTERM: readiness turns 503 at once, then every worker and the standby drain.
    async fn begin_drain(&mut self) {
        tracing::info!(
            target: LIFECYCLE_TARGET,
            reason = "SIGTERM",
            "SIGTERM: draining (in-flight requests get {}s; send SIGTERM again to stop at once)",
            self.plan.graceful_timeout.as_secs()
        );
        self.phase = Phase::Draining;
        self.send_status().await;
        let order = SupervisorMessage::Drain {
            deadline_ms: u64::try_from(self.plan.graceful_timeout.as_millis()).unwrap_or(u64::MAX),
            recycle: false,
        };
        for child in self
            .children
            .values_mut()
            .filter(|c| c.role != Role::Health)
        {
            if !matches!(child.state, State::Draining { .. }) {
                let _ = child.control.send(&order).await;
                child.state = State::Draining { expect: exit::OK };
            }
        }
        // No worker will accept again: once the draining workers let go of their copies, the
        // port refuses new connections instead of queueing them.
        self.listener = None;
    }

    /// When every worker is gone, stops the health process; when everything is gone, exits 0.
    async fn finish_drain_if_done(&mut self) -> Option<i32> {
        if self.children.values().any(|c| c.role != Role::Health) {
            return None;
        }
        let mut health_left = false;
        for child in self
            .children
            .values_mut()
            .filter(|c| c.role == Role::Health)
        {
            health_left = true;
            if !matches!(child.state, State::Draining { .. }) {
                let _ = child
                    .control
                    .send(&SupervisorMessage::Drain {
                        deadline_ms: 0,
                        recycle: false,
                    })
                    .await;
                child.state = State::Draining { expect: exit::OK };
            }
        }
        if health_left {
            return None;
        }
        tracing::info!(target: LIFECYCLE_TARGET, reason = "drained", "all workers drained; exiting");
        Some(exit::OK)
    }

    /// Signals every remaining child, waits up to the grace period for them to exit, then
    /// SIGKILLs the rest.
    async fn stop_all(&mut self, events: &mut mpsc::UnboundedReceiver<Event>, first: Signal) {
        for child in self.children.values() {
            signal_pid(child.pid, first);
        }
        let deadline = tokio::time::Instant::now() + KILL_GRACE;
        while !self.children.is_empty() {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(Event::Exited(id, _))) => {
                    self.children.remove(&id);
                }
                Ok(Some(Event::Message(..))) => {}
                Ok(None) | Err(_) => break,
            }
        }
        for child in self.children.values() {
            signal_pid(child.pid, Signal::SIGKILL);
        }
    }
}

fn describe_child(role: Role, slot: u32, generation: u64) -> String {
    match role {
        Role::Worker => format!("worker w{slot}.{generation}"),
        Role::Standby => format!("standby worker s.{generation}"),
        Role::Health => "health process".to_string(),
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
