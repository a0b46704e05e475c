//! What the worker tells the router about calls (in-flight counts, usage, latency) and what
//! other instances saw (the `set_shared_*` calls), for the routing strategies.
//!
//! Every counter is kept whatever the strategy (they are a few atomics or a short mutex per
//! call), so the `set_shared_*` feeds and the read-outs work the same under any strategy.
//!
//! The `set_shared_*` calls take a full snapshot: a deployment not listed has nothing shared
//! (no other instance's load, usage, samples or cooldown). Indexes are [`Deployment::index`];
//! unknown ones are ignored.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Now;
use crate::strategy::latency::TIMEOUT_PENALTY_SECS;
use crate::{Deployment, InFlightGuard, Router};

impl Router {
    /// Counts a call to `deployment` as in flight (`least-busy`) until the guard is dropped.
    /// Call when the upstream call starts; keep the guard for the whole call (streams
    /// included), so a cancelled request is counted out when its future is dropped.
    pub fn call_started(&self, deployment: &Arc<Deployment>) -> InFlightGuard {
        InFlightGuard::start(deployment)
    }

    /// Counts one request against `deployment`'s rpm for the current UTC minute. Call when
    /// the upstream call starts (LiteLLM counts rpm before the call, failures included).
    pub fn record_request(&self, deployment: &Deployment) {
        deployment
            .stats
            .usage
            .record_request(self.now().utc_minute());
    }

    /// Adds `tokens` (the response's `usage.total_tokens`) to `deployment`'s tpm for the
    /// current UTC minute. Call on success.
    pub fn record_tokens(&self, deployment: &Deployment, tokens: u64) {
        deployment
            .stats
            .usage
            .record_tokens(self.now().utc_minute(), tokens);
    }

    /// Records a latency sample (`latency-based-routing`): seconds per completion token, or
    /// for a stream the time to first token. Call on success. Negative or non-finite
    /// samples are ignored.
    pub fn record_latency(&self, deployment: &Deployment, seconds: f64) {
        deployment.stats.latency.record(
            self.clock.now_ms(),
            seconds,
            self.strategy_args.max_latency_list_size,
        );
    }

    /// Records LiteLLM's 1000 s penalty sample for a timed-out call.
    /// [`Router::record_failure`] does this for [`crate::ErrorClass::Timeout`]; call this
    /// only for timeouts not reported that way.
    pub fn record_timeout(&self, deployment: &Deployment) {
        self.record_latency(deployment, TIMEOUT_PENALTY_SECS);
    }

    /// Replaces the in-flight counts other instances reported: `(index, count)`, added to the
    /// local count as extra load.
    pub fn set_shared_in_flight(&self, counts: &[(usize, u64)]) {
        for (i, count) in counts {
            if let Some(d) = self.deployments.get(*i) {
                d.stats.in_flight.set_shared(*count);
            }
        }
        self.clear_unlisted(counts.iter().map(|(i, _)| *i), |d| {
            d.stats.in_flight.set_shared(0);
        });
    }

    /// Replaces the shared usage of the current UTC minute: `(index, rpm, tpm)`, the totals
    /// of all instances (this one included). The strategies use `max(local, shared)`; values
    /// reported in an earlier minute are ignored.
    pub fn set_shared_usage(&self, usage: &[(usize, u64, u64)]) {
        let minute = self.now().utc_minute();
        for (i, rpm, tpm) in usage {
            if let Some(d) = self.deployments.get(*i) {
                d.stats.usage.set_shared(minute, *rpm, *tpm);
            }
        }
        self.clear_unlisted(usage.iter().map(|(i, _, _)| *i), |d| {
            d.stats.usage.set_shared(minute, 0, 0);
        });
    }

    /// Replaces the latency samples other instances reported: `(index, samples)` in seconds,
    /// oldest first (the newest `max_latency_list_size` are kept). They are averaged together
    /// with the local samples, and expire `ttl` after this call unless reported again.
    pub fn set_shared_latencies(&self, samples: &[(usize, Vec<f64>)]) {
        let now_ms = self.clock.now_ms();
        let max = self.strategy_args.max_latency_list_size;
        for (i, list) in samples {
            if let Some(d) = self.deployments.get(*i) {
                d.stats.latency.set_shared(now_ms, list, max);
            }
        }
        self.clear_unlisted(samples.iter().map(|(i, _)| *i), |d| {
            d.stats.latency.set_shared(now_ms, &[], max);
        });
    }

    /// Replaces the cooldowns other instances started: `(index, remaining)`. Those
    /// deployments are skipped like locally cooled ones until `remaining` has passed.
    pub fn set_shared_cooldowns(&self, cooling: &[(usize, Duration)]) {
        let now_ms = self.clock.now_ms();
        for (i, remaining) in cooling {
            if let Some(d) = self.deployments.get(*i) {
                d.health.set_shared_cooldown(now_ms, Some(*remaining));
            }
        }
        self.clear_unlisted(cooling.iter().map(|(i, _)| *i), |d| {
            d.health.set_shared_cooldown(now_ms, None);
        });
    }

    /// This process's in-flight calls to `deployment` (for publishing to other instances).
    /// `litellm_deployment_state` of a deployment: 2 cooling, 1 failures this minute, 0 healthy.
    pub fn deployment_state(&self, deployment: &Deployment) -> u8 {
        deployment.health.state(self.now_ms(), self.minute())
    }

    pub fn in_flight(&self, deployment: &Deployment) -> u64 {
        deployment.stats.in_flight.local()
    }

    /// This process's `(rpm, tpm)` for `deployment` in the current UTC minute.
    pub fn usage(&self, deployment: &Deployment) -> (u64, u64) {
        deployment.stats.usage.local(self.now().utc_minute())
    }

    /// The average latency `latency-based-routing` sees for `deployment` (local and shared
    /// samples within `ttl`); `None` without samples.
    pub fn latency(&self, deployment: &Deployment) -> Option<f64> {
        let ttl_ms = u64::try_from(self.strategy_args.ttl.as_millis()).unwrap_or(u64::MAX);
        deployment
            .stats
            .latency
            .average(self.clock.now_ms(), ttl_ms)
    }

    /// The current UTC minute as LiteLLM writes it in usage keys (`"<id>:rpm:<HH-MM>"`).
    pub fn utc_minute_tag(&self) -> String {
        let minute = self.now().utc_minute();
        format!("{:02}-{:02}", (minute / 60) % 24, minute % 60)
    }

    pub(crate) fn now(&self) -> Now {
        Now::read(&*self.clock)
    }

    /// Applies `clear` to every deployment whose index `listed` does not yield.
    fn clear_unlisted(&self, listed: impl Iterator<Item = usize>, clear: impl Fn(&Deployment)) {
        let mut seen = vec![false; self.deployments.len()];
        for i in listed {
            if let Some(s) = seen.get_mut(i) {
                *s = true;
            }
        }
        for (d, seen) in self.deployments.iter().zip(seen) {
            if !seen {
                clear(d);
            }
        }
    }
}
