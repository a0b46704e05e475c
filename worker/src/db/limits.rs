//! `rpm_limit`, `tpm_limit` and `max_parallel_requests` of keys, users and teams within this
//! process: the fallback while Redis (which holds them across workers and instances) is absent
//! or down. Minute windows, as LiteLLM's limiter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
struct Usage {
    minute: u64,
    requests: u64,
    tokens: u64,
    in_flight: u64,
}

/// The limits of one key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyLimits {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub parallel: Option<u64>,
}

impl KeyLimits {
    pub fn any(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some() || self.parallel.is_some()
    }
}

/// Why a request was refused, with what the `x-ratelimit-*` headers report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    pub parallel: bool,
    pub retry_after_secs: u64,
    pub remaining: Remaining,
}

/// Remaining requests and tokens this minute (for the `x-ratelimit-*` headers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Remaining {
    pub limit_requests: Option<u64>,
    pub remaining_requests: Option<u64>,
    pub limit_tokens: Option<u64>,
    pub remaining_tokens: Option<u64>,
    pub reset_secs: u64,
}

#[derive(Debug, Default)]
pub struct Limiter {
    usage: Arc<Mutex<HashMap<String, Usage>>>,
}

/// Holds a parallel-request slot until dropped.
#[derive(Debug)]
pub struct Permit {
    usage: Arc<Mutex<HashMap<String, Usage>>>,
    key: String,
}

impl Permit {
    /// Counts a finished call's tokens against this scope's minute.
    pub fn add_tokens(&self, tokens: u64) {
        let (minute, _) = now_minute();
        let mut map = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        let usage = map.entry(self.key.clone()).or_default();
        if usage.minute != minute {
            usage.minute = minute;
            usage.requests = 0;
            usage.tokens = 0;
        }
        usage.tokens += tokens;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Ok(mut map) = self.usage.lock()
            && let Some(u) = map.get_mut(&self.key)
        {
            u.in_flight = u.in_flight.saturating_sub(1);
        }
    }
}

fn now_minute() -> (u64, u64) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (secs / 60, 60 - secs % 60)
}

impl Limiter {
    /// Admits one request of `key` under `limits`, or says which limit it crossed.
    pub fn admit(&self, key: &str, limits: KeyLimits) -> Result<(Permit, Remaining), Exceeded> {
        let (minute, reset) = now_minute();
        let mut map = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        let usage = map.entry(key.to_string()).or_default();
        if usage.minute != minute {
            usage.minute = minute;
            usage.requests = 0;
            usage.tokens = 0;
        }
        let remaining = |u: &Usage| Remaining {
            limit_requests: limits.rpm,
            remaining_requests: limits.rpm.map(|l| l.saturating_sub(u.requests)),
            limit_tokens: limits.tpm,
            remaining_tokens: limits.tpm.map(|l| l.saturating_sub(u.tokens)),
            reset_secs: reset,
        };
        if let Some(parallel) = limits.parallel
            && usage.in_flight >= parallel
        {
            return Err(Exceeded {
                parallel: true,
                retry_after_secs: 1,
                remaining: remaining(usage),
            });
        }
        let over_rpm = limits.rpm.is_some_and(|l| usage.requests >= l);
        let over_tpm = limits.tpm.is_some_and(|l| usage.tokens >= l);
        if over_rpm || over_tpm {
            return Err(Exceeded {
                parallel: false,
                retry_after_secs: reset,
                remaining: remaining(usage),
            });
        }
        usage.requests += 1;
        usage.in_flight += 1;
        let left = remaining(usage);
        Ok((
            Permit {
                usage: Arc::clone(&self.usage),
                key: key.to_string(),
            },
            left,
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rpm_and_parallel_limits() {
        let l = Limiter::default();
        let limits = KeyLimits {
            rpm: Some(2),
            tpm: None,
            parallel: Some(1),
        };
        let (first, left) = l.admit("k", limits).unwrap();
        assert_eq!(left.remaining_requests, Some(1));
        let busy = l.admit("k", limits).unwrap_err();
        assert!(busy.parallel);
        drop(first);
        let (_second, _) = l.admit("k", limits).unwrap();
        let over = l
            .admit(
                "k",
                KeyLimits {
                    parallel: None,
                    ..limits
                },
            )
            .unwrap_err();
        assert!(!over.parallel);
        assert!(over.retry_after_secs >= 1 && over.retry_after_secs <= 60);
    }

    #[test]
    fn tpm_counts_finished_tokens() {
        let l = Limiter::default();
        let limits = KeyLimits {
            rpm: None,
            tpm: Some(100),
            parallel: None,
        };
        l.admit("k", limits).unwrap().0.add_tokens(100);
        assert!(l.admit("k", limits).is_err());
        assert!(l.admit("other", limits).is_ok(), "per key");
    }
}
