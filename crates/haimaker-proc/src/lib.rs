//! The process contract between the `haimaker` supervisor and its children (workers, and the
//! health process).
//!
//! Everything two processes must agree on lives here and nowhere else: the fd numbers a child
//! inherits, the environment variable names, the exit codes, and the control messages that
//! travel over the per-child socketpair as newline-delimited JSON. This is also the only crate
//! allowed `unsafe` (fd handoff in `pre_exec`), each block with a `// SAFETY:` note.
//!
//! See ARCHITECTURE.md ("Processes") for the table form of this contract.

mod control;
mod inherit;
mod spawn;

pub use control::{
    ChildMessage, ControlReader, ControlWriter, FleetPhase, FleetStatus, SupervisorMessage,
    WorkerStatus, control_pair, split_control,
};
pub use inherit::{take_inherited_control, take_inherited_listener};
pub use spawn::{ChildFds, spawn_child};

/// The shared listening socket, bound by the supervisor, is fd 3 in every worker.
pub const LISTEN_FD: i32 = 3;
/// The child's end of its control socketpair is fd 4.
pub const CONTROL_FD: i32 = 4;

/// Set to `3` in a child that inherited the listening socket.
pub const ENV_LISTEN_FD: &str = "HAIMAKER_LISTEN_FD";
/// Set to `4` in every child.
pub const ENV_CONTROL_FD: &str = "HAIMAKER_CONTROL_FD";

/// Exit codes. A child exit is *expected* only with the agreed code and only when the
/// supervisor knew it was coming (the child announced recycling, or was told to drain).
pub mod exit {
    /// Clean exit after a drain the supervisor ordered (or a normal stop).
    pub const OK: i32 = 0;
    /// Something unrecoverable happened; the supervisor tears everything down.
    pub const FATAL: i32 = 1;
    /// A worker finished recycling (served its request budget and drained).
    pub const RECYCLED: i32 = 3;
    /// Bad configuration or command line (`EX_USAGE`): nothing was bound or started.
    pub const CONFIG: i32 = 64;
}

/// The hidden subcommand that re-executes `haimaker` as a worker.
pub const WORKER_SUBCOMMAND: &str = "__worker";
/// The hidden subcommand that re-executes `haimaker` as the health process.
pub const HEALTH_SUBCOMMAND: &str = "__health";

/// How often children send a heartbeat (`HAIMAKER_HEARTBEAT_INTERVAL_MS` overrides).
pub const DEFAULT_HEARTBEAT_INTERVAL_MS: u64 = 1_000;
/// A heartbeat older than this means the child is not alive (`HAIMAKER_HEARTBEAT_STALE_MS`
/// overrides).
pub const DEFAULT_HEARTBEAT_STALE_MS: u64 = 10_000;
pub const ENV_HEARTBEAT_INTERVAL_MS: &str = "HAIMAKER_HEARTBEAT_INTERVAL_MS";
pub const ENV_HEARTBEAT_STALE_MS: &str = "HAIMAKER_HEARTBEAT_STALE_MS";
