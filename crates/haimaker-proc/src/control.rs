//! Control messages and their codec: newline-delimited JSON over a Unix socketpair.
//!
//! A child that sees EOF on its control fd must exit: its supervisor is gone.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream as StdUnixStream;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// Child -> supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChildMessage {
    /// Up: a worker accepts connections (a standby worker waits for `activate`), the health
    /// process serves probes.
    Ready { pid: u32 },
    /// Periodic liveness signal from inside the child's runtime, with the worker's view of its
    /// database (`connected`, `disconnected`, `schema_behind`; absent without a database).
    Heartbeat {
        in_flight: u64,
        served: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        db: Option<String>,
    },
    /// The worker served its request budget: the supervisor hands its slot to the standby
    /// worker and then tells it to drain. Until then it keeps serving.
    Recycling { served: u64 },
    /// What the worker's metrics recorded since its last report (about once a second, and
    /// once more at a planned exit): the supervisor adds it to the pod's totals.
    Metrics { delta: Box<haimaker_metrics::Delta> },
}

/// Supervisor -> child.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SupervisorMessage {
    /// Stop accepting, finish in-flight work within `deadline_ms`, flush, exit with
    /// `exit::RECYCLED` when `recycle`, else `exit::OK`.
    Drain {
        deadline_ms: u64,
        #[serde(default)]
        recycle: bool,
    },
    /// A standby worker takes over `slot`: start accepting, with this request budget.
    Activate {
        slot: u32,
        generation: u64,
        max_requests: Option<u64>,
    },
    /// The fleet's state, for the health process.
    Status { status: FleetStatus },
    /// The pod's metrics in the Prometheus text format, for `/metrics`.
    Metrics { text: String },
}

/// What the supervisor knows about its fleet, as the health process needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FleetStatus {
    pub phase: FleetPhase,
    /// `--num_workers`.
    pub desired: u32,
    /// Active workers that reported ready and whose heartbeat is fresh.
    pub ready: u32,
    /// Workers (active, draining or standby) whose heartbeat is fresh.
    pub alive: u32,
    /// The database as the workers see it: `connected` if any ready worker reaches it, else
    /// `schema_behind` or `disconnected`; `None` without a database.
    #[serde(default)]
    pub db: Option<String>,
    /// `allow_requests_on_db_unavailable`: readiness stays 200 while the database is down.
    #[serde(default)]
    pub allow_requests_on_db_unavailable: bool,
    pub workers: Vec<WorkerStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FleetPhase {
    #[default]
    Starting,
    Running,
    Draining,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub slot: u32,
    pub generation: u64,
    pub pid: u32,
    /// `starting`, `ready`, `standby`, `recycling` or `draining`.
    pub state: String,
    pub in_flight: u64,
    pub served: u64,
    /// Milliseconds since the last heartbeat, if one arrived.
    pub heartbeat_age_ms: Option<u64>,
}

/// Creates a socketpair: the supervisor keeps the first end, the child gets the second
/// (as fd 4, through [`crate::spawn_child`]).
pub fn control_pair() -> io::Result<(StdUnixStream, OwnedFd)> {
    let (parent, child) = StdUnixStream::pair()?;
    parent.set_nonblocking(true)?;
    Ok((parent, OwnedFd::from(child)))
}

/// Splits a control stream into its reading and writing halves. Must run inside a tokio
/// runtime.
pub fn split_control(stream: StdUnixStream) -> io::Result<(ControlReader, ControlWriter)> {
    stream.set_nonblocking(true)?;
    let (read, write) = UnixStream::from_std(stream)?.into_split();
    Ok((
        ControlReader {
            lines: BufReader::new(read).lines(),
        },
        ControlWriter { half: write },
    ))
}

#[derive(Debug)]
pub struct ControlReader {
    lines: Lines<BufReader<OwnedReadHalf>>,
}

impl ControlReader {
    /// The next message; `Ok(None)` on EOF (the other side is gone).
    pub async fn recv<M: DeserializeOwned>(&mut self) -> io::Result<Option<M>> {
        match self.lines.next_line().await? {
            None => Ok(None),
            Some(line) => serde_json::from_str(&line).map(Some).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad control message {line:?}: {e}"),
                )
            }),
        }
    }
}

#[derive(Debug)]
pub struct ControlWriter {
    half: OwnedWriteHalf,
}

impl ControlWriter {
    pub async fn send<M: Serialize>(&mut self, message: &M) -> io::Result<()> {
        let mut line = serde_json::to_vec(message).map_err(io::Error::other)?;
        line.push(b'\n');
        self.half.write_all(&line).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn messages_round_trip_and_eof_is_none() {
        let (a, b) = control_pair().unwrap();
        let (_ra, mut wa) = split_control(a).unwrap();
        let (mut rb, wb) = split_control(StdUnixStream::from(b)).unwrap();
        wa.send(&ChildMessage::Ready { pid: 7 }).await.unwrap();
        wa.send(&ChildMessage::Heartbeat {
            in_flight: 2,
            served: 9,
            db: Some("connected".into()),
        })
        .await
        .unwrap();
        assert_eq!(
            rb.recv::<ChildMessage>().await.unwrap(),
            Some(ChildMessage::Ready { pid: 7 })
        );
        assert_eq!(
            rb.recv::<ChildMessage>().await.unwrap(),
            Some(ChildMessage::Heartbeat {
                in_flight: 2,
                served: 9,
                db: Some("connected".into()),
            })
        );
        drop(wa);
        drop(_ra);
        drop(wb);
        assert_eq!(rb.recv::<ChildMessage>().await.unwrap(), None);
    }

    #[test]
    fn wire_format_is_tagged_json() {
        let line = serde_json::to_string(&SupervisorMessage::Drain {
            deadline_ms: 30_000,
            recycle: true,
        })
        .unwrap();
        assert_eq!(
            line,
            r#"{"type":"drain","deadline_ms":30000,"recycle":true}"#
        );
        let status = SupervisorMessage::Status {
            status: FleetStatus {
                phase: FleetPhase::Running,
                desired: 2,
                ready: 2,
                alive: 3,
                db: Some("connected".into()),
                allow_requests_on_db_unavailable: false,
                workers: Vec::new(),
            },
        };
        let line = serde_json::to_string(&status).unwrap();
        assert_eq!(
            serde_json::from_str::<SupervisorMessage>(&line).unwrap(),
            status
        );
    }
}
