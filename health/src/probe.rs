//! What the probes answer, as pure functions of the last fleet status the supervisor sent and
//! how old it is. The health process never guesses: no status, an old status, or no fresh
//! worker heartbeat all mean "not alive"; readiness also needs the desired number of ready
//! workers and no drain.

use std::time::Duration;

use haimaker_proc::{FleetPhase, FleetStatus};
use http::StatusCode;
use serde_json::{Value, json};

/// The last status and its age.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub status: &'a FleetStatus,
    pub age: Duration,
}

/// `/health/liveliness` and `/health/liveness`.
pub fn liveness(seen: Option<Seen<'_>>, stale: Duration) -> (StatusCode, Value) {
    match not_alive(seen, stale) {
        None => (StatusCode::OK, Value::String("I'm alive!".into())),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unhealthy", "reason": reason, "workers": workers(seen)}),
        ),
    }
}

/// `/health/readiness`.
pub fn readiness(seen: Option<Seen<'_>>, stale: Duration) -> (StatusCode, Value) {
    let reason = not_alive(seen, stale).or_else(|| {
        let status = seen?.status;
        match status.phase {
            FleetPhase::Starting => Some(format!(
                "workers are starting ({} of {} ready)",
                status.ready, status.desired
            )),
            FleetPhase::Draining => Some("draining: the pod is shutting down".to_string()),
            FleetPhase::Running if status.ready < status.desired => Some(format!(
                "{} of {} workers ready",
                status.ready, status.desired
            )),
            FleetPhase::Running => database_reason(status),
        }
    });
    let db = seen
        .and_then(|s| s.status.db.clone())
        .unwrap_or_else(|| "Not connected".to_string());
    let mut body = json!({
        "status": if reason.is_none() { "healthy" } else { "unhealthy" },
        "db": db,
        "cache": null,
        "litellm_version": env!("CARGO_PKG_VERSION"),
        "success_callbacks": [],
        "workers": workers(seen),
    });
    match reason {
        None => (StatusCode::OK, body),
        Some(reason) => {
            body["reason"] = Value::String(reason);
            (StatusCode::SERVICE_UNAVAILABLE, body)
        }
    }
}

/// Readiness and the database (DESIGN.md section 3): a schema behind the binary is never ready;
/// an unreachable database is ready only under `allow_requests_on_db_unavailable`.
fn database_reason(status: &FleetStatus) -> Option<String> {
    match status.db.as_deref() {
        Some("schema_behind") => {
            Some("the database schema is behind this haimaker: run `haimaker migrate`".to_string())
        }
        Some("disconnected") if !status.allow_requests_on_db_unavailable => {
            Some("the database is unreachable".to_string())
        }
        _ => None,
    }
}

fn not_alive(seen: Option<Seen<'_>>, stale: Duration) -> Option<String> {
    let Some(seen) = seen else {
        return Some("no status from the supervisor yet".into());
    };
    if seen.age > stale {
        return Some(format!(
            "the supervisor has not reported for {} ms",
            seen.age.as_millis()
        ));
    }
    if seen.status.alive == 0 {
        return Some(format!(
            "no worker heartbeat in the last {} ms",
            stale.as_millis()
        ));
    }
    None
}

fn workers(seen: Option<Seen<'_>>) -> Value {
    match seen {
        None => Value::Null,
        Some(seen) => json!({
            "desired": seen.status.desired,
            "ready": seen.status.ready,
            "alive": seen.status.alive,
            "processes": seen.status.workers,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(phase: FleetPhase, desired: u32, ready: u32, alive: u32) -> FleetStatus {
        FleetStatus {
            phase,
            desired,
            ready,
            alive,
            db: None,
            allow_requests_on_db_unavailable: false,
            workers: Vec::new(),
        }
    }

    #[test]
    fn readiness_follows_the_database_and_the_flag() {
        let mut s = status(FleetPhase::Running, 1, 1, 1);
        s.db = Some("connected".into());
        assert_eq!(readiness(seen(&s), STALE).1["db"], "connected");
        s.db = Some("disconnected".into());
        assert_eq!(
            readiness(seen(&s), STALE).0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        s.allow_requests_on_db_unavailable = true;
        let (code, body) = readiness(seen(&s), STALE);
        assert_eq!(
            (code, body["db"].as_str()),
            (StatusCode::OK, Some("disconnected"))
        );
        s.db = Some("schema_behind".into());
        assert_eq!(
            readiness(seen(&s), STALE).0,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    const STALE: Duration = Duration::from_secs(10);

    fn seen(status: &FleetStatus) -> Option<Seen<'_>> {
        Some(Seen {
            status,
            age: Duration::from_millis(100),
        })
    }

    #[test]
    fn ready_only_when_running_with_every_worker_ready() {
        let running = status(FleetPhase::Running, 2, 2, 2);
        assert_eq!(readiness(seen(&running), STALE).0, StatusCode::OK);
        assert_eq!(readiness(seen(&running), STALE).1["workers"]["ready"], 2);
        for not_ready in [
            status(FleetPhase::Starting, 2, 1, 1),
            status(FleetPhase::Running, 2, 1, 2),
            status(FleetPhase::Draining, 2, 2, 2),
        ] {
            let (code, body) = readiness(seen(&not_ready), STALE);
            assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
            assert!(body["reason"].is_string());
        }
        assert_eq!(readiness(None, STALE).0, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn liveness_needs_a_fresh_status_and_a_fresh_worker() {
        let ok = status(FleetPhase::Running, 2, 2, 1);
        assert_eq!(
            liveness(seen(&ok), STALE),
            (StatusCode::OK, json!("I'm alive!"))
        );
        let dead = status(FleetPhase::Running, 2, 0, 0);
        assert_eq!(
            liveness(seen(&dead), STALE).0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        let old = Some(Seen {
            status: &ok,
            age: Duration::from_secs(11),
        });
        assert_eq!(liveness(old, STALE).0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(liveness(None, STALE).0, StatusCode::SERVICE_UNAVAILABLE);
        // Draining workers are still alive.
        let draining = status(FleetPhase::Draining, 2, 0, 2);
        assert_eq!(liveness(seen(&draining), STALE).0, StatusCode::OK);
    }
}
