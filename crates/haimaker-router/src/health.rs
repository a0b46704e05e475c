//! Per-deployment failure counting and cooldown state.
//!
//! Counters live in a one-minute window, as LiteLLM's do: a deployment is judged on how it did
//! this minute. The cooldown deadlines are atomics so the hot path (is it cooling?) takes no
//! lock; the window takes an uncontended mutex once per call outcome.
//!
//! Two deadlines: the cooldown this process started, and the one other instances reported
//! (LiteLLM shares `deployment:<id>:cooldown` through Redis; the worker feeds those in). A
//! deployment is cooling while either is in the future.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::policy::ErrorClass;

#[derive(Debug, Default)]
pub struct Health {
    /// Milliseconds since the router's epoch until which the deployment is cooling; 0 = not.
    cooling_until_ms: AtomicU64,
    /// The same, as reported by other instances (replaced on every report).
    shared_cooling_until_ms: AtomicU64,
    window: Mutex<Window>,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Window {
    pub minute: u64,
    pub successes: u32,
    pub failures: u32,
    /// Failures this minute per error class (indexed by `ErrorClass::index`).
    pub by_class: [u32; ErrorClass::COUNT],
}

impl Health {
    fn until_ms(&self) -> u64 {
        self.cooling_until_ms
            .load(Ordering::Relaxed)
            .max(self.shared_cooling_until_ms.load(Ordering::Relaxed))
    }

    pub fn is_cooling(&self, now_ms: u64) -> bool {
        self.until_ms() > now_ms
    }

    /// LiteLLM's `litellm_deployment_state`: 2 (outage) while cooling, 1 (partial outage) with
    /// failures this minute, else 0.
    pub fn state(&self, now_ms: u64, minute: u64) -> u8 {
        if self.is_cooling(now_ms) {
            return 2;
        }
        let w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        u8::from(w.minute == minute && w.failures > 0)
    }

    /// Remaining cooldown (local or shared, whichever ends later), if cooling.
    pub fn cooling_for(&self, now_ms: u64) -> Option<Duration> {
        let until = self.until_ms();
        (until > now_ms).then(|| Duration::from_millis(until - now_ms))
    }

    /// Replaces the cooldown reported by other instances: cooling for `remaining` from
    /// `now_ms`, or not at all for `None`.
    pub(crate) fn set_shared_cooldown(&self, now_ms: u64, remaining: Option<Duration>) {
        let until = remaining.map_or(0, |r| {
            now_ms.saturating_add(r.as_millis().try_into().unwrap_or(u64::MAX))
        });
        self.shared_cooling_until_ms.store(until, Ordering::Relaxed);
    }

    pub(crate) fn start_cooldown(&self, now_ms: u64, duration: Duration) {
        let until = now_ms.saturating_add(duration.as_millis().try_into().unwrap_or(u64::MAX));
        self.cooling_until_ms.fetch_max(until, Ordering::Relaxed);
    }

    /// Records a success; returns the window after it.
    pub(crate) fn record_success(&self, minute: u64) -> Window {
        self.update(minute, |w| w.successes = w.successes.saturating_add(1))
    }

    /// Records a failure; returns the window after it.
    pub(crate) fn record_failure(&self, minute: u64, class: ErrorClass) -> Window {
        self.update(minute, |w| {
            w.failures = w.failures.saturating_add(1);
            let slot = &mut w.by_class[class.index()];
            *slot = slot.saturating_add(1);
        })
    }

    fn update(&self, minute: u64, f: impl FnOnce(&mut Window)) -> Window {
        // A poisoned lock only means another thread panicked mid-update of plain counters;
        // the counters are still usable.
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if w.minute != minute {
            *w = Window {
                minute,
                ..Window::default()
            };
        }
        f(&mut w);
        *w
    }
}
