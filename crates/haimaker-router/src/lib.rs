//! Model groups and deployment choice: which deployment serves a request, which are cooling
//! down, how often to retry and where to fall back. Pure logic over the config, no I/O; the
//! worker drives the calls and reports each outcome back here.
//!
//! Reference: `litellm-proxy.md` section 12. Every `routing_strategy` is implemented:
//! `simple-shuffle` (the default, `select.rs`), `least-busy`, `usage-based-routing` and
//! `usage-based-routing-v2` (one implementation), `latency-based-routing` and
//! `cost-based-routing` (`strategy/`).
//!
//! What the worker reports, and when:
//! * call start: [`Router::call_started`] (keep the guard until the call ends) and
//!   [`Router::record_request`];
//! * success: [`Router::record_success`], [`Router::record_tokens`] (`total_tokens`),
//!   [`Router::record_latency`] (seconds per completion token, or time to first token for
//!   streams);
//! * failure: [`Router::record_failure`] (a timeout also records the latency penalty);
//! * periodically, numbers of the other instances: `Router::set_shared_*`.

mod clock;
mod deployment;
mod health;
mod policy;
pub mod provider;
mod report;
mod select;
mod strategy;
mod wildcard;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use haimaker_config::Config;
use haimaker_pricing::PriceMap;

pub use clock::{Clock, ManualClock, SystemClock};
pub use deployment::{Deployment, Target};
pub use haimaker_config::RoutingStrategy;
pub use policy::{DEFAULT_MAX_FALLBACKS, DEFAULT_NUM_RETRIES, ErrorClass, FallbackKind, Policy};
pub use provider::{Provider, Wire};
pub use strategy::cost::UNKNOWN_PRICE_PER_TOKEN;
pub use strategy::latency::TIMEOUT_PENALTY_SECS;
pub use strategy::{
    DEFAULT_LATENCY_TTL, DEFAULT_MAX_LATENCY_LIST_SIZE, DeploymentUsage, InFlightGuard, OverLimit,
    PickContext, StrategyArgs,
};

use clock::Now;
use strategy::{cost, latency, least_busy, usage};

/// All deployments of the config, grouped.
#[derive(Debug)]
pub struct Router {
    deployments: Vec<Arc<Deployment>>,
    /// Exact `model_name` -> member indexes, in config order.
    groups: HashMap<String, Vec<usize>>,
    /// Group names in config order (for `/models`).
    group_order: Vec<String>,
    /// Wildcard patterns, most specific first.
    wildcards: Vec<(String, Vec<usize>)>,
    /// `model_group_alias` (router_settings) and `model_group_alias_map` (litellm_settings).
    aliases: HashMap<String, String>,
    policy: Policy,
    strategy: RoutingStrategy,
    strategy_args: StrategyArgs,
    clock: Arc<dyn Clock>,
}

/// A model name resolved to its group.
#[derive(Debug, Clone, Copy)]
pub struct Group<'r> {
    /// The group's name as clients know it (the alias target for aliases; the requested
    /// name for wildcard groups).
    pub name: &'r str,
    /// The requested model name (what wildcard substitution uses).
    pub requested: &'r str,
    pub members: &'r [usize],
}

/// No deployment of a group can take the request: every one is cooling down, or (with
/// `over_limit` set) the ones that are not are at their `rpm`/`tpm` limit this minute.
#[derive(Debug, Clone, PartialEq)]
pub struct NoHealthyDeployment {
    /// Ids of the deployments cooling down.
    pub cooldown_list: Vec<String>,
    /// When to try again: the shortest cooldown, or for `over_limit` the time until the
    /// current UTC minute ends (when the usage counters reset).
    pub retry_in: Duration,
    /// Set when healthy deployments exist but all are over their limits: answer 429 with
    /// [`OverLimit::message`].
    pub over_limit: Option<OverLimit>,
}

impl Router {
    /// Builds the router. `env` supplies provider default keys and bases (`OPENAI_API_KEY`, ...).
    pub fn new(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Self {
        Self::with_clock(config, env, Arc::new(SystemClock::new()))
    }

    /// [`Router::new`] with a given clock (tests, simulations).
    pub fn with_clock(
        config: &Config,
        env: &dyn Fn(&str) -> Option<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let deployments: Vec<Arc<Deployment>> = config
            .model_list
            .iter()
            .enumerate()
            .map(|(i, d)| Deployment::build(i, d, env, config.litellm_settings.drop_params))
            .collect();
        let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
        let mut group_order = Vec::new();
        let mut wildcard_map: HashMap<String, Vec<usize>> = HashMap::new();
        for d in &deployments {
            if d.is_wildcard() {
                wildcard_map
                    .entry(d.model_name.clone())
                    .or_default()
                    .push(d.index);
            } else {
                let members = groups.entry(d.model_name.clone()).or_default();
                if members.is_empty() {
                    group_order.push(d.model_name.clone());
                }
                members.push(d.index);
            }
        }
        let mut wildcards: Vec<(String, Vec<usize>)> = wildcard_map.into_iter().collect();
        wildcards.sort_by(|a, b| {
            wildcard::specificity(&b.0)
                .cmp(&wildcard::specificity(&a.0))
                .then_with(|| a.0.cmp(&b.0))
        });
        let mut aliases: HashMap<String, String> = config
            .litellm_settings
            .model_group_alias_map
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        aliases.extend(
            config
                .router_settings
                .model_group_alias
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        Self {
            deployments,
            groups,
            group_order,
            wildcards,
            aliases,
            policy: Policy::from_config(config),
            strategy: config.router_settings.routing_strategy,
            strategy_args: StrategyArgs::from_map(&config.router_settings.routing_strategy_args),
            clock,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The configured `routing_strategy`.
    pub fn strategy(&self) -> RoutingStrategy {
        self.strategy
    }

    /// The configured `routing_strategy_args`, defaults applied.
    pub fn strategy_args(&self) -> &StrategyArgs {
        &self.strategy_args
    }

    pub fn deployments(&self) -> &[Arc<Deployment>] {
        &self.deployments
    }

    pub fn deployment(&self, index: usize) -> Option<&Arc<Deployment>> {
        self.deployments.get(index)
    }

    /// Public model names for `/models`: exact groups, then wildcard patterns, then aliases.
    pub fn model_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.group_order.iter().map(String::as_str).collect();
        let mut patterns: Vec<&str> = self.wildcards.iter().map(|(p, _)| p.as_str()).collect();
        patterns.sort_unstable();
        names.extend(patterns);
        let mut aliases: Vec<&str> = self
            .aliases
            .keys()
            .map(String::as_str)
            .filter(|a| !self.groups.contains_key(*a))
            .collect();
        aliases.sort_unstable();
        names.extend(aliases);
        names
    }

    /// Resolves a requested model name: an exact group, then an alias, then the most
    /// specific wildcard pattern that matches.
    pub fn resolve<'r>(&'r self, requested: &'r str) -> Option<Group<'r>> {
        if let Some((name, members)) = self.groups.get_key_value(requested) {
            return Some(Group {
                name,
                requested,
                members,
            });
        }
        if let Some(target) = self.aliases.get(requested)
            && target != requested
        {
            return self.resolve(target);
        }
        self.wildcards
            .iter()
            .find(|(pattern, _)| wildcard::capture(pattern, requested).is_some())
            .map(|(_, members)| Group {
                name: requested,
                requested,
                members,
            })
    }

    /// Picks a deployment of `group` that is not cooling down, preferring ones this request
    /// has not tried yet. Same as [`Router::pick_with`] without a token estimate.
    pub fn pick(
        &self,
        group: &Group<'_>,
        tried: &[usize],
        rng: &mut impl rand::Rng,
    ) -> Result<Arc<Deployment>, NoHealthyDeployment> {
        self.pick_with(
            group,
            &PickContext {
                tried,
                ..PickContext::default()
            },
            rng,
        )
    }

    /// Picks a deployment of `group` with the configured strategy (reference 12.1): drops
    /// the deployments cooling down (locally or as other instances reported), applies the
    /// strategy to the ones this request has not tried yet, and only when none of those can
    /// take it (all tried, or all at their limits) to every healthy one.
    ///
    /// Hot path: besides the candidate `Vec` (one allocation, sized to the group) a pick
    /// reads atomics, plus for the usage, latency and cost strategies one short mutex per
    /// candidate, held to copy a few numbers (see `strategy/mod.rs`).
    pub fn pick_with(
        &self,
        group: &Group<'_>,
        ctx: &PickContext<'_>,
        rng: &mut impl rand::Rng,
    ) -> Result<Arc<Deployment>, NoHealthyDeployment> {
        let now = self.now();
        let mut pool: Vec<&Arc<Deployment>> = Vec::with_capacity(group.members.len());
        let mut tried_healthy = false;
        for d in self.members(group) {
            if d.health.is_cooling(now.ms) {
                continue;
            }
            if ctx.tried.contains(&d.index) {
                tried_healthy = true;
            } else {
                pool.push(d);
            }
        }
        let had_untried = !pool.is_empty();
        if had_untried && let Some(d) = self.choose(&pool, group, ctx, now, rng) {
            return Ok(Arc::clone(d));
        }
        if tried_healthy {
            // Everything untried is cooling or at its limit: a tried one beats an error.
            pool.clear();
            pool.extend(self.members(group).filter(|d| !d.health.is_cooling(now.ms)));
            if let Some(d) = self.choose(&pool, group, ctx, now, rng) {
                return Ok(Arc::clone(d));
            }
        }
        if pool.is_empty() {
            Err(self.no_healthy(group, now.ms))
        } else {
            Err(self.over_limit(group, &pool, now))
        }
    }

    /// Applies the strategy to non-empty `pool`; `None` when every candidate is at its
    /// rpm/tpm limit (strategies that check limits).
    fn choose<'a>(
        &self,
        pool: &[&'a Arc<Deployment>],
        group: &Group<'_>,
        ctx: &PickContext<'_>,
        now: Now,
        rng: &mut impl rand::Rng,
    ) -> Option<&'a Arc<Deployment>> {
        match self.strategy {
            RoutingStrategy::SimpleShuffle => select::simple_shuffle(pool, rng),
            RoutingStrategy::LeastBusy => least_busy::choose(pool, rng),
            RoutingStrategy::UsageBased | RoutingStrategy::UsageBasedV2 => {
                usage::choose(pool, now.utc_minute(), ctx.input_tokens, rng)
            }
            RoutingStrategy::LatencyBased => {
                latency::choose(pool, now, &self.strategy_args, ctx.input_tokens, rng)
            }
            RoutingStrategy::CostBased => cost::choose(
                pool,
                group.requested,
                match ctx.prices {
                    Some(prices) => prices,
                    None => PriceMap::bundled(),
                },
                now.utc_minute(),
                ctx.input_tokens,
                rng,
            ),
        }
    }

    fn members<'s>(&'s self, group: &Group<'s>) -> impl Iterator<Item = &'s Arc<Deployment>> {
        group
            .members
            .iter()
            .filter_map(|i| self.deployments.get(*i))
    }

    /// Whether a deployment of `group` other than `except` could take a retry right now.
    pub fn has_other_healthy(&self, group: &Group<'_>, except: usize) -> bool {
        let now = self.now_ms();
        group
            .members
            .iter()
            .filter(|i| **i != except)
            .filter_map(|i| self.deployments.get(*i))
            .any(|d| !d.health.is_cooling(now))
    }

    pub fn record_success(&self, deployment: &Deployment) {
        deployment.health.record_success(self.minute());
    }

    /// Records a failed call; returns the cooldown started, if the failure started one (for
    /// the worker to publish to other instances). A [`ErrorClass::Timeout`] also records the
    /// latency penalty ([`Router::record_timeout`]); do not call both.
    pub fn record_failure(&self, deployment: &Deployment, class: ErrorClass) -> Option<Duration> {
        if class == ErrorClass::Timeout {
            self.record_timeout(deployment);
        }
        let window = deployment.health.record_failure(self.minute(), class);
        let group_size = self.group_size(deployment);
        if !self.policy.should_cool_down(class, &window, group_size) {
            return None;
        }
        let duration = deployment
            .cooldown_time
            .unwrap_or(self.policy.cooldown_time);
        if duration.is_zero() {
            return None;
        }
        deployment.health.start_cooldown(self.now_ms(), duration);
        Some(duration)
    }

    fn group_size(&self, deployment: &Deployment) -> usize {
        if deployment.is_wildcard() {
            self.wildcards
                .iter()
                .find(|(p, _)| *p == deployment.model_name)
                .map_or(1, |(_, m)| m.len())
        } else {
            self.groups.get(&deployment.model_name).map_or(1, Vec::len)
        }
    }

    fn no_healthy(&self, group: &Group<'_>, now: u64) -> NoHealthyDeployment {
        let cooling: Vec<(&Arc<Deployment>, Duration)> = group
            .members
            .iter()
            .filter_map(|i| self.deployments.get(*i))
            .filter_map(|d| d.health.cooling_for(now).map(|left| (d, left)))
            .collect();
        NoHealthyDeployment {
            over_limit: None,
            cooldown_list: cooling.iter().map(|(d, _)| d.id.clone()).collect(),
            retry_in: cooling
                .iter()
                .map(|(d, _)| d.cooldown_time.unwrap_or(self.policy.cooldown_time))
                .min()
                .unwrap_or(self.policy.cooldown_time),
        }
    }

    /// The error for a group whose healthy deployments (`pool`) are all at their limits.
    fn over_limit(
        &self,
        group: &Group<'_>,
        pool: &[&Arc<Deployment>],
        now: Now,
    ) -> NoHealthyDeployment {
        let minute = now.utc_minute();
        let deployments = pool
            .iter()
            .map(|d| {
                let (rpm, tpm) = d.stats.usage.current(minute);
                DeploymentUsage {
                    id: d.id.clone(),
                    rpm,
                    rpm_limit: d.rpm,
                    tpm,
                    tpm_limit: d.tpm,
                }
            })
            .collect();
        NoHealthyDeployment {
            over_limit: Some(OverLimit { deployments }),
            retry_in: now.until_next_minute(),
            ..self.no_healthy(group, now.ms)
        }
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The minute of the failure window (monotonic).
    fn minute(&self) -> u64 {
        self.clock.now_ms() / 60_000
    }
}

#[cfg(test)]
mod tests;
