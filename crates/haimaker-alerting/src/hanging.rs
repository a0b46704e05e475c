//! Hanging requests without a timer per request: calls in flight are registered (one map
//! insert, one remove), and one sweep per worker looks for calls older than
//! `alerting_threshold`. Each hanging call is reported once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::alert::{Alert, CallInfo, hanging};

/// Calls tracked at most; beyond this a call is not tracked (bounded memory).
const MAX_TRACKED: usize = 100_000;

/// What a hanging alert says about a call.
#[derive(Debug, Clone, Default)]
pub struct CallDetails {
    pub model_group: String,
    pub deployment_id: String,
    pub model: String,
    pub api_base: String,
    pub key_alias: Option<String>,
    pub team: Option<String>,
}

#[derive(Debug)]
struct Entry {
    started: Instant,
    details: CallDetails,
    alerted: bool,
}

#[derive(Debug)]
pub struct Hanging {
    threshold: Duration,
    next: AtomicU64,
    calls: Mutex<HashMap<u64, Entry>>,
}

/// A call in flight; dropping it ends the call.
#[derive(Debug)]
pub struct Tracked {
    registry: Arc<Hanging>,
    id: u64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.id != 0 {
            let mut calls = self
                .registry
                .calls
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            calls.remove(&self.id);
        }
    }
}

impl Hanging {
    pub fn new(threshold: Duration) -> Self {
        Self {
            threshold,
            next: AtomicU64::new(1),
            calls: Mutex::new(HashMap::new()),
        }
    }

    pub fn track(self: &Arc<Self>, details: CallDetails) -> Tracked {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let id = if calls.len() < MAX_TRACKED {
            calls.insert(
                id,
                Entry {
                    started: Instant::now(),
                    details,
                    alerted: false,
                },
            );
            id
        } else {
            0
        };
        Tracked {
            registry: Arc::clone(self),
            id,
        }
    }

    /// How often to sweep: a quarter of the threshold, between 100 ms and 5 s.
    pub fn sweep_interval(&self) -> Duration {
        (self.threshold / 4).clamp(Duration::from_millis(100), Duration::from_secs(5))
    }

    /// The calls that passed the threshold since the last sweep, as alerts.
    pub fn sweep(&self, now: Instant) -> Vec<Alert> {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let mut alerts = Vec::new();
        for entry in calls.values_mut() {
            if !entry.alerted && now.saturating_duration_since(entry.started) >= self.threshold {
                entry.alerted = true;
                let d = &entry.details;
                alerts.push(hanging(
                    &CallInfo {
                        model_group: &d.model_group,
                        deployment_id: &d.deployment_id,
                        model: &d.model,
                        api_base: &d.api_base,
                        key_alias: d.key_alias.as_deref(),
                        team: d.team.as_deref(),
                        messages: None,
                    },
                    self.threshold,
                ));
            }
        }
        alerts
    }

    pub fn in_flight(&self) -> usize {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_past_the_threshold_is_reported_once_and_forgotten_when_done() {
        let h = Arc::new(Hanging::new(Duration::from_secs(1)));
        let call = h.track(CallDetails {
            model_group: "g".into(),
            ..CallDetails::default()
        });
        let quick = h.track(CallDetails::default());
        drop(quick);
        assert_eq!(h.in_flight(), 1);
        let now = Instant::now();
        assert!(h.sweep(now).is_empty());
        let later = now + Duration::from_secs(2);
        let alerts = h.sweep(later);
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].message.contains("Request Model: `g`"));
        assert!(h.sweep(later).is_empty(), "reported once");
        drop(call);
        assert_eq!(h.in_flight(), 0);
    }
}
