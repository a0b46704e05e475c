//! Model groups and deployment choice: which deployment serves a request, which are cooling
//! down, how often to retry and where to fall back. Pure logic over the config, no I/O; the
//! worker drives the calls and reports each outcome back here.
//!
//! Reference: `litellm-proxy.md` section 12. Strategies other than `simple-shuffle` are
//! accepted by the config and use simple-shuffle until they are implemented.

mod deployment;
mod health;
mod policy;
pub mod provider;
mod select;
mod wildcard;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use haimaker_config::Config;

pub use deployment::{Deployment, Target};
pub use policy::{DEFAULT_MAX_FALLBACKS, DEFAULT_NUM_RETRIES, ErrorClass, FallbackKind, Policy};
pub use provider::{Provider, Wire};

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
    epoch: Instant,
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

/// Every deployment of a group is cooling down.
#[derive(Debug, Clone, PartialEq)]
pub struct NoHealthyDeployment {
    pub cooldown_list: Vec<String>,
    /// The shortest remaining cooldown: when to try again.
    pub retry_in: Duration,
}

impl Router {
    /// Builds the router. `env` supplies provider default keys and bases (`OPENAI_API_KEY`, ...).
    pub fn new(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Self {
        let deployments: Vec<Arc<Deployment>> = config
            .model_list
            .iter()
            .enumerate()
            .map(|(i, d)| Deployment::build(i, d, env))
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
            epoch: Instant::now(),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
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
    /// has not tried yet.
    pub fn pick(
        &self,
        group: &Group<'_>,
        tried: &[usize],
        rng: &mut impl rand::Rng,
    ) -> Result<Arc<Deployment>, NoHealthyDeployment> {
        let now = self.now_ms();
        let healthy: Vec<&Arc<Deployment>> = group
            .members
            .iter()
            .filter_map(|i| self.deployments.get(*i))
            .filter(|d| !d.health.is_cooling(now))
            .collect();
        let untried: Vec<&Arc<Deployment>> = healthy
            .iter()
            .copied()
            .filter(|d| !tried.contains(&d.index))
            .collect();
        let pool = if untried.is_empty() {
            &healthy
        } else {
            &untried
        };
        match select::simple_shuffle(pool, rng) {
            Some(d) => Ok(Arc::clone(d)),
            None => Err(self.no_healthy(group, now)),
        }
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

    /// Records a failed call; returns the cooldown started, if the failure started one.
    pub fn record_failure(&self, deployment: &Deployment, class: ErrorClass) -> Option<Duration> {
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
            cooldown_list: cooling.iter().map(|(d, _)| d.id.clone()).collect(),
            retry_in: cooling
                .iter()
                .map(|(d, _)| d.cooldown_time.unwrap_or(self.policy.cooldown_time))
                .min()
                .unwrap_or(self.policy.cooldown_time),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn minute(&self) -> u64 {
        self.epoch.elapsed().as_secs() / 60
    }
}

#[cfg(test)]
mod tests;
