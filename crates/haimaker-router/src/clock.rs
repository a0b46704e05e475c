//! The router's sense of time, behind a trait so tests can move it by hand.
//!
//! Two readings are needed: a monotonic one (cooldown deadlines, latency sample ages) and the
//! UTC wall clock (usage counters are per UTC minute, as LiteLLM's `"<id>:rpm:<HH-MM>"` keys,
//! so every instance agrees on which minute a request belongs to).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of time for the router.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Monotonic milliseconds since an arbitrary origin.
    fn now_ms(&self) -> u64;
    /// Milliseconds since the Unix epoch (UTC).
    fn unix_ms(&self) -> u64;
}

/// The real clock: `Instant` for the monotonic reading, `SystemTime` for the wall clock.
#[derive(Debug)]
pub struct SystemClock {
    epoch: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn unix_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that only moves when told to (tests, simulations). Both readings advance together.
#[derive(Debug, Default)]
pub struct ManualClock {
    mono_ms: AtomicU64,
    unix_ms: AtomicU64,
}

impl ManualClock {
    /// Starts at monotonic 0 and the given wall-clock time.
    pub fn new(unix_ms: u64) -> Self {
        Self {
            mono_ms: AtomicU64::new(0),
            unix_ms: AtomicU64::new(unix_ms),
        }
    }

    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.mono_ms.fetch_add(ms, Ordering::Relaxed);
        self.unix_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.mono_ms.load(Ordering::Relaxed)
    }

    fn unix_ms(&self) -> u64 {
        self.unix_ms.load(Ordering::Relaxed)
    }
}

/// One reading of both clocks, taken once per router call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    pub ms: u64,
    pub unix_ms: u64,
}

impl Now {
    pub fn read(clock: &dyn Clock) -> Self {
        Self {
            ms: clock.now_ms(),
            unix_ms: clock.unix_ms(),
        }
    }

    /// Minutes since the Unix epoch (UTC): the usage-counter bucket.
    pub fn utc_minute(self) -> u64 {
        self.unix_ms / 60_000
    }

    /// Time until the current UTC minute ends (when usage counters reset).
    pub fn until_next_minute(self) -> Duration {
        Duration::from_millis(60_000 - self.unix_ms % 60_000)
    }
}
