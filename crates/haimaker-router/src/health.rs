//! Per-deployment failure counting and cooldown state (within one process).
//!
//! Counters live in a one-minute window, as LiteLLM's do: a deployment is judged on how it did
//! this minute. The cooldown deadline is an atomic so the hot path (is it cooling?) takes no
//! lock; the window takes an uncontended mutex once per call outcome.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::policy::ErrorClass;

#[derive(Debug, Default)]
pub struct Health {
    /// Milliseconds since the router's epoch until which the deployment is cooling; 0 = not.
    cooling_until_ms: AtomicU64,
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
    pub fn is_cooling(&self, now_ms: u64) -> bool {
        self.cooling_until_ms.load(Ordering::Relaxed) > now_ms
    }

    /// Remaining cooldown, if cooling.
    pub fn cooling_for(&self, now_ms: u64) -> Option<Duration> {
        let until = self.cooling_until_ms.load(Ordering::Relaxed);
        (until > now_ms).then(|| Duration::from_millis(until - now_ms))
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
