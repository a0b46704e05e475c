//! Worker recycling policy: request budgets with jitter, the memory trigger, the minimum
//! lifetime (DESIGN.md section 3, issue: supervisor).

use std::time::Duration;

use rand::Rng;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// When workers are recycled.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recycling {
    /// `--max_requests_before_restart`.
    pub max_requests: Option<u64>,
    /// `--max_requests_before_restart_jitter`: up to this many extra requests per worker.
    pub jitter: u64,
    /// `--max_worker_memory_mb`: recycle a worker whose RSS passes this.
    pub max_memory_mb: Option<u64>,
    /// `--min_worker_lifetime`: a worker is never recycled younger than this, so a burst
    /// cannot turn recycling into a restart storm.
    pub min_lifetime: Duration,
}

impl Recycling {
    /// Recycling needs a standby worker only when something can trigger it.
    pub fn enabled(&self) -> bool {
        self.max_requests.is_some_and(|n| n > 0) || self.max_memory_mb.is_some()
    }

    /// The budget of a worker that takes over a slot later: the maximum plus a random part of
    /// the jitter.
    pub fn budget(&self, rng: &mut impl Rng) -> Option<u64> {
        let max = self.max_requests.filter(|n| *n > 0)?;
        Some(
            max + if self.jitter > 0 {
                rng.random_range(0..=self.jitter)
            } else {
                0
            },
        )
    }

    /// The budget of the worker first started in `slot` (1-based) of `slots`. Workers started
    /// together get jitter offsets in disjoint bands (slot k of n: `[j(k-1)/n, jk/n)`), so
    /// they never share a budget when the jitter is at least the worker count, and do not
    /// recycle in lockstep.
    pub fn initial_budget(&self, slot: u32, slots: u32, rng: &mut impl Rng) -> Option<u64> {
        let max = self.max_requests.filter(|n| *n > 0)?;
        if self.jitter == 0 || slots == 0 {
            return Some(max);
        }
        let (k, n, j) = (
            u64::from(slot.saturating_sub(1)),
            u64::from(slots),
            self.jitter,
        );
        let low = j * k / n;
        let high = (j * (k + 1) / n).max(low + 1);
        Some(max + rng.random_range(low..high))
    }
}

/// Reads worker RSS with sysinfo.
#[derive(Debug)]
pub struct MemoryProbe {
    system: System,
}

impl MemoryProbe {
    pub fn new() -> Self {
        Self {
            system: System::new(),
        }
    }

    /// The process's resident set size in MB, if it exists.
    pub fn rss_mb(&mut self, pid: u32) -> Option<u64> {
        let pid = Pid::from_u32(pid);
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            true,
            ProcessRefreshKind::nothing().with_memory(),
        );
        self.system.process(pid).map(|p| p.memory() / (1024 * 1024))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn workers_started_together_get_distinct_budgets() {
        let policy = Recycling {
            max_requests: Some(1000),
            jitter: 50,
            ..Recycling::default()
        };
        for seed in 0..200 {
            let mut rng = StdRng::seed_from_u64(seed);
            let budgets: Vec<u64> = (1..=4)
                .map(|slot| policy.initial_budget(slot, 4, &mut rng).unwrap())
                .collect();
            let mut unique = budgets.clone();
            unique.dedup();
            assert_eq!(unique.len(), 4, "{budgets:?}");
            assert!(
                budgets.iter().all(|b| (1000..=1050).contains(b)),
                "{budgets:?}"
            );
        }
    }

    #[test]
    fn no_jitter_no_limit() {
        let mut rng = StdRng::seed_from_u64(1);
        let plain = Recycling {
            max_requests: Some(5),
            ..Recycling::default()
        };
        assert_eq!(plain.initial_budget(1, 2, &mut rng), Some(5));
        assert_eq!(plain.budget(&mut rng), Some(5));
        assert!(plain.enabled());
        assert!(!Recycling::default().enabled());
        assert_eq!(Recycling::default().budget(&mut rng), None);
        let memory_only = Recycling {
            max_memory_mb: Some(512),
            ..Recycling::default()
        };
        assert!(memory_only.enabled());
    }

    #[test]
    fn rss_of_this_process_is_measured() {
        let mut probe = MemoryProbe::new();
        let mb = probe.rss_mb(std::process::id()).unwrap();
        assert!(mb > 0 && mb < 10_000, "{mb}");
        assert_eq!(probe.rss_mb(u32::MAX - 1), None);
    }
}
