//! Routing state shared across workers and instances, and deployment `rpm`/`tpm` limits.
//!
//! The router decides from in-memory numbers only (a pick never waits on Redis). What other
//! processes did reaches it through [`exchange`], every sync interval: cooldowns always, and the
//! numbers the configured strategy reads (in-flight counts for least-busy, minute usage for the
//! usage/latency/cost strategies, latency samples for latency routing). What this process does
//! goes out per call as best-effort signals, only for the strategy that reads it; simple-shuffle
//! sends nothing.
//!
//! Deployment limits are the exception: a deployment with `rpm` or `tpm` is admitted through one
//! atomic Redis script per call (exact across instances), or from this process's own counts while
//! Redis is down.

use std::sync::Arc;
use std::time::Duration;

use haimaker_cache::{LimitScope, Redis, Refusal};
use haimaker_openai::Usage;
use haimaker_router::{Deployment, InFlightGuard, Router, RoutingStrategy};

use super::leases::Denied;
use super::{Shared, Write};
use crate::state::AppState;

/// Pulls what other processes reported into the router.
pub async fn exchange(redis: &Redis, router: &Router) {
    let deployments = router.deployments();
    if deployments.is_empty() {
        return;
    }
    let ids: Vec<String> = deployments.iter().map(|d| d.id.clone()).collect();
    if let Ok(cooling) = redis.cooldowns(&ids).await {
        let cooling: Vec<(usize, Duration)> = deployments
            .iter()
            .zip(cooling)
            .filter_map(|(d, left)| left.map(|left| (d.index, left)))
            .collect();
        router.set_shared_cooldowns(&cooling);
    }
    let strategy = router.strategy();
    if strategy == RoutingStrategy::LeastBusy
        && let Ok(totals) = redis.in_flight(&ids).await
    {
        // The totals include this process's own calls; the router adds its local count.
        let others: Vec<(usize, u64)> = deployments
            .iter()
            .zip(totals)
            .map(|(d, total)| (d.index, total.saturating_sub(router.in_flight(d))))
            .collect();
        router.set_shared_in_flight(&others);
    }
    if reads_usage(strategy)
        && let Ok(usage) = redis.deployment_usage(&ids).await
    {
        let usage: Vec<(usize, u64, u64)> = deployments
            .iter()
            .zip(usage)
            .map(|(d, (rpm, tpm))| (d.index, rpm, tpm))
            .collect();
        router.set_shared_usage(&usage);
    }
    if strategy == RoutingStrategy::LatencyBased
        && let Ok(samples) = redis.latencies(&ids).await
    {
        let samples: Vec<(usize, Vec<f64>)> = deployments
            .iter()
            .zip(samples)
            .map(|(d, list)| (d.index, list))
            .collect();
        router.set_shared_latencies(&samples);
    }
}

/// Strategies that skip deployments at their rpm/tpm and so need the minute usage.
fn reads_usage(strategy: RoutingStrategy) -> bool {
    matches!(
        strategy,
        RoutingStrategy::UsageBased
            | RoutingStrategy::UsageBasedV2
            | RoutingStrategy::LatencyBased
            | RoutingStrategy::CostBased
    )
}

/// One upstream call in progress: counted in flight (least-busy) until dropped, here and, when
/// Redis is up, for every instance.
#[derive(Debug)]
pub struct Call {
    _local: InFlightGuard,
    /// Set when the start was announced through Redis: the end must be too.
    announced: Option<(Arc<Shared>, String)>,
}

impl Drop for Call {
    fn drop(&mut self) {
        if let Some((shared, id)) = self.announced.take() {
            shared.apply(Write::CallEnded(id));
        }
    }
}

/// A call to `deployment` starts: counts it for least-busy and for the minute's rpm.
pub fn call_started(state: &AppState, router: &Router, deployment: &Arc<Deployment>) -> Call {
    let local = router.call_started(deployment);
    router.record_request(deployment);
    let mut announced = None;
    if let Some(shared) = &state.shared {
        let strategy = router.strategy();
        if strategy == RoutingStrategy::LeastBusy && shared.redis.is_up() {
            let id = deployment.id.clone();
            shared.signal(move |redis| async move { redis.incr_in_flight(&id).await });
            announced = Some((Arc::clone(shared), deployment.id.clone()));
        } else if reads_usage(strategy) {
            let id = deployment.id.clone();
            shared
                .signal(move |redis| async move { redis.incr_deployment_rpm(&id).await.map(drop) });
        }
    }
    Call {
        _local: local,
        announced,
    }
}

/// A call finished well (after [`Router::record_success`]): its tokens (tpm limits, usage routing) and latency (latency routing),
/// `latency` being seconds per completion token, or time to first token for a stream.
pub fn call_succeeded(
    shared: Option<&Arc<Shared>>,
    router: &Router,
    deployment: &Deployment,
    usage: Option<&Usage>,
    latency: f64,
) {
    let tokens = usage.map(|u| u.prompt() + u.completion());
    if let Some(tokens) = tokens {
        router.record_tokens(deployment, tokens);
    }
    router.record_latency(deployment, latency);
    let Some(shared) = shared else { return };
    let strategy = router.strategy();
    if let Some(tokens) = tokens.filter(|t| *t > 0) {
        if deployment.tpm.is_some() {
            shared.leases.add_tokens(&limit_scope(deployment), tokens);
        }
        if reads_usage(strategy) {
            let id = deployment.id.clone();
            shared.signal(move |redis| async move { redis.add_deployment_tpm(&id, tokens).await });
        }
    }
    if strategy == RoutingStrategy::LatencyBased && latency.is_finite() && latency >= 0.0 {
        let id = deployment.id.clone();
        let args = router.strategy_args();
        let (keep, ttl) = (args.max_latency_list_size, args.ttl);
        shared.signal(
            move |redis| async move { redis.record_latency(&id, latency, keep, ttl).await },
        );
    }
}

/// A deployment was cooled down after a failure: tell the other instances (LiteLLM's
/// `deployment:<id>:cooldown` key).
pub fn cooled_down(
    state: &AppState,
    deployment: &Deployment,
    cooldown: Duration,
    status: u16,
    error: &str,
) {
    let Some(shared) = &state.shared else { return };
    let id = deployment.id.clone();
    let error = error.to_string();
    shared.signal(
        move |redis| async move { redis.set_cooldown(&id, cooldown, status, &error).await },
    );
}

/// The limit-scope id of a deployment's `rpm`/`tpm`.
fn limit_scope(deployment: &Deployment) -> String {
    format!("deployment:{}", deployment.id)
}

/// Why a deployment with `rpm`/`tpm` cannot take a call this minute (LiteLLM's wording).
#[derive(Debug, Clone)]
pub struct Full {
    pub message: String,
    /// Seconds until the minute ends.
    pub retry_after: Duration,
}

/// Admits a call to a deployment with `rpm`/`tpm` limits: atomically across instances through
/// Redis, else against this process's counts. Deployments without limits always pass (no I/O).
pub async fn admit_deployment(
    state: &AppState,
    router: &Router,
    deployment: &Deployment,
) -> Result<(), Full> {
    if deployment.rpm.is_none() && deployment.tpm.is_none() {
        return Ok(());
    }
    if let Some(shared) = &state.shared {
        let scope = LimitScope {
            id: limit_scope(deployment),
            rpm: deployment.rpm,
            tpm: deployment.tpm,
            parallel: None,
        };
        match shared
            .leases
            .admit(shared, std::slice::from_ref(&scope))
            .await
        {
            // No parallel limit: the slot holds nothing to give back.
            Ok(_slot) => return Ok(()),
            Err(Denied::Refused {
                refusal,
                requests_left,
                tokens_left,
                reset_secs,
                ..
            }) => {
                let used = |limit: Option<u64>, left: Option<u64>| {
                    limit.unwrap_or(0).saturating_sub(left.unwrap_or(0))
                };
                return Err(full(
                    Some(refusal),
                    deployment,
                    used(deployment.rpm, requests_left),
                    used(deployment.tpm, tokens_left),
                    Duration::from_secs(reset_secs),
                ));
            }
            Err(Denied::Unavailable | Denied::OverBudget { .. }) => {}
        }
    }
    let (rpm, tpm) = router.usage(deployment);
    let over_rpm = deployment.rpm.is_some_and(|limit| rpm >= limit);
    let over_tpm = deployment.tpm.is_some_and(|limit| tpm >= limit);
    if over_rpm || over_tpm {
        let refusal = if over_rpm { Refusal::Rpm } else { Refusal::Tpm };
        return Err(full(
            Some(refusal),
            deployment,
            rpm,
            tpm,
            until_next_minute(),
        ));
    }
    Ok(())
}

fn full(
    refusal: Option<Refusal>,
    d: &Deployment,
    rpm: u64,
    tpm: u64,
    retry_after: Duration,
) -> Full {
    let message = match refusal {
        Some(Refusal::Tpm) => format!(
            "Deployment over defined tpm limit={}. current usage={tpm}",
            d.tpm.unwrap_or(0)
        ),
        _ => format!(
            "Deployment over defined rpm limit={}. current usage={rpm}",
            d.rpm.unwrap_or(0)
        ),
    };
    Full {
        message,
        retry_after,
    }
}

fn until_next_minute() -> Duration {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Duration::from_secs(60 - secs % 60)
}
