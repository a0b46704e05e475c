#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use haimaker_config::{Config, DeploymentConfig, LitellmParams, ModelInfo, RoutingStrategy};
use haimaker_pricing::PriceMap;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use crate::{
    ErrorClass, ManualClock, NoHealthyDeployment, PickContext, Router, StrategyArgs,
    TIMEOUT_PENALTY_SECS,
};

/// 2023-11-14T22:14:00Z: the start of a UTC minute.
const T0: u64 = 1_700_000_040_000;

fn dep(id: &str) -> DeploymentConfig {
    DeploymentConfig {
        model_name: "g".into(),
        litellm_params: LitellmParams {
            model: format!("openai/{id}"),
            ..Default::default()
        },
        model_info: ModelInfo {
            id: Some(id.into()),
            ..Default::default()
        },
        origin: String::new(),
    }
}

fn limited(id: &str, rpm: Option<u64>, tpm: Option<u64>) -> DeploymentConfig {
    let mut d = dep(id);
    d.litellm_params.rpm = rpm;
    d.litellm_params.tpm = tpm;
    d
}

fn priced(id: &str, input: f64, output: f64) -> DeploymentConfig {
    let mut d = dep(id);
    d.litellm_params.input_cost_per_token = Some(input);
    d.litellm_params.output_cost_per_token = Some(output);
    d
}

fn router(
    strategy: RoutingStrategy,
    model_list: Vec<DeploymentConfig>,
    edit: impl FnOnce(&mut Config),
) -> (Router, Arc<ManualClock>) {
    let mut config = Config {
        model_list,
        ..Default::default()
    };
    config.router_settings.routing_strategy = strategy;
    edit(&mut config);
    let clock = Arc::new(ManualClock::new(T0));
    let r = Router::with_clock(&config, &|_| None, clock.clone());
    (r, clock)
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(11)
}

/// How often each deployment id is picked in `n` picks.
fn tally(r: &Router, ctx: &PickContext<'_>, n: usize) -> BTreeMap<String, usize> {
    let g = r.resolve("g").unwrap();
    let mut rng = rng();
    let mut out = BTreeMap::new();
    for _ in 0..n {
        *out.entry(r.pick_with(&g, ctx, &mut rng).unwrap().id.clone())
            .or_insert(0) += 1;
    }
    out
}

fn only(r: &Router, ctx: &PickContext<'_>) -> String {
    let picks = tally(r, ctx, 100);
    assert_eq!(
        picks.len(),
        1,
        "expected a single deployment, got {picks:?}"
    );
    picks.into_keys().next().unwrap()
}

fn pick_err(r: &Router, ctx: &PickContext<'_>) -> NoHealthyDeployment {
    let g = r.resolve("g").unwrap();
    r.pick_with(&g, ctx, &mut rng()).unwrap_err()
}

fn none() -> PickContext<'static> {
    PickContext::default()
}

fn tokens(input_tokens: u64) -> PickContext<'static> {
    PickContext {
        input_tokens,
        ..PickContext::default()
    }
}

// ---------------------------------------------------------------- config and defaults

#[test]
fn strategy_and_args_come_from_the_config() {
    let (r, _) = router(RoutingStrategy::LatencyBased, vec![dep("a")], |c| {
        c.router_settings.routing_strategy_args = json!({
            "ttl": "120",
            "lowest_latency_buffer": 0.25,
            "max_latency_list_size": 3,
        })
        .as_object()
        .unwrap()
        .clone();
    });
    assert_eq!(r.strategy(), RoutingStrategy::LatencyBased);
    assert_eq!(
        r.strategy_args(),
        &StrategyArgs {
            ttl: Duration::from_secs(120),
            lowest_latency_buffer: 0.25,
            max_latency_list_size: 3,
        }
    );
    let bad = json!({"ttl": -1, "lowest_latency_buffer": "x", "max_latency_list_size": 0});
    assert_eq!(
        StrategyArgs::from_map(bad.as_object().unwrap()),
        StrategyArgs::default()
    );
    let (r, _) = router(RoutingStrategy::default(), vec![dep("a")], |_| {});
    assert_eq!(r.strategy(), RoutingStrategy::SimpleShuffle);
    assert_eq!(r.strategy_args().ttl, Duration::from_secs(3600));
    assert_eq!(r.strategy_args().max_latency_list_size, 10);
}

#[test]
fn simple_shuffle_ignores_load_usage_and_latency() {
    let (r, _) = router(
        RoutingStrategy::SimpleShuffle,
        vec![dep("a"), dep("b")],
        |_| {},
    );
    let a = r.deployment(0).unwrap().clone();
    let _guards: Vec<_> = (0..5).map(|_| r.call_started(&a)).collect();
    r.record_tokens(&a, 1_000_000);
    r.record_latency(&a, 50.0);
    let picks = tally(&r, &none(), 400);
    assert!(
        (150..250).contains(&picks["a"]),
        "uniform shuffle, got {picks:?}"
    );
}

// ---------------------------------------------------------------- least-busy

#[test]
fn least_busy_avoids_in_flight_and_the_guard_releases() {
    let (r, _) = router(RoutingStrategy::LeastBusy, vec![dep("a"), dep("b")], |_| {});
    let a = r.deployment(0).unwrap().clone();
    let b = r.deployment(1).unwrap().clone();
    let guard = r.call_started(&a);
    assert_eq!(r.in_flight(&a), 1);
    assert_eq!(only(&r, &none()), "b");
    // A dropped guard (finished or cancelled call) counts out.
    drop(guard);
    assert_eq!(r.in_flight(&a), 0);
    let g1 = r.call_started(&b);
    let g2 = r.call_started(&b);
    assert_eq!(only(&r, &none()), "a");
    let ga = r.call_started(&a);
    assert_eq!(only(&r, &none()), "a", "1 in flight beats 2");
    drop((g1, g2, ga));
    // All idle: ties are broken at random.
    let picks = tally(&r, &none(), 200);
    assert!(picks["a"] > 50 && picks["b"] > 50, "{picks:?}");
}

#[test]
fn least_busy_adds_shared_counts_and_replaces_them() {
    let (r, _) = router(RoutingStrategy::LeastBusy, vec![dep("a"), dep("b")], |_| {});
    let b = r.deployment(1).unwrap().clone();
    let _local = r.call_started(&b);
    r.set_shared_in_flight(&[(0, 3)]);
    assert_eq!(only(&r, &none()), "b", "a has 3 elsewhere, b 1 here");
    r.set_shared_in_flight(&[(1, 1)]);
    assert_eq!(only(&r, &none()), "a", "a's shared count was replaced");
    r.set_shared_in_flight(&[]);
    assert_eq!(only(&r, &none()), "a");
    assert_eq!(r.in_flight(&b), 1, "in_flight() is the local count only");
}

#[test]
fn least_busy_still_prefers_untried() {
    let (r, _) = router(RoutingStrategy::LeastBusy, vec![dep("a"), dep("b")], |_| {});
    let a = r.deployment(0).unwrap().clone();
    let _guards: Vec<_> = (0..3).map(|_| r.call_started(&a)).collect();
    let ctx = PickContext {
        tried: &[1],
        ..PickContext::default()
    };
    assert_eq!(only(&r, &ctx), "a");
    let ctx = PickContext {
        tried: &[0, 1],
        ..PickContext::default()
    };
    assert_eq!(only(&r, &ctx), "b", "all tried: the least busy again");
}

// ---------------------------------------------------------------- usage-based-routing-v2

#[test]
fn usage_picks_the_lowest_tpm() {
    let (r, _) = router(
        RoutingStrategy::UsageBasedV2,
        vec![dep("a"), dep("b"), dep("c")],
        |_| {},
    );
    let [a, b, c] = [0, 1, 2].map(|i| r.deployment(i).unwrap().clone());
    r.record_tokens(&a, 100);
    r.record_tokens(&b, 50);
    r.record_tokens(&c, 70);
    assert_eq!(only(&r, &none()), "b");
    r.record_tokens(&b, 30);
    r.record_request(&b);
    assert_eq!(r.usage(&b), (1, 80));
    assert_eq!(only(&r, &none()), "c");
    r.record_tokens(&c, 10);
    let picks = tally(&r, &none(), 200);
    assert!(picks["b"] > 50 && picks["c"] > 50, "tie at 80: {picks:?}");
}

#[test]
fn usage_respects_rpm_and_tpm_limits() {
    let (r, _) = router(
        RoutingStrategy::UsageBasedV2,
        vec![limited("a", Some(2), None), limited("b", None, Some(1000))],
        |_| {},
    );
    let [a, b] = [0, 1].map(|i| r.deployment(i).unwrap().clone());
    r.record_tokens(&b, 900);
    r.record_request(&a);
    assert_eq!(only(&r, &none()), "a", "a: rpm 1 + 1 <= 2, lower tpm");
    r.record_request(&a);
    assert_eq!(only(&r, &none()), "b", "a: rpm 2 + 1 > 2");
    assert_eq!(only(&r, &tokens(100)), "b", "900 + 100 <= 1000");
    let err = pick_err(&r, &tokens(101));
    let over = err.over_limit.expect("over limit");
    assert_eq!(over.deployments.len(), 2);
    assert_eq!(
        (over.deployments[0].rpm, over.deployments[0].rpm_limit),
        (2, Some(2))
    );
    assert_eq!(
        (over.deployments[1].tpm, over.deployments[1].tpm_limit),
        (900, Some(1000))
    );
    assert_eq!(
        over.message("g"),
        "Deployment over defined rpm limit=2. current usage=2"
    );
    assert!(err.cooldown_list.is_empty());
    assert_eq!(
        err.retry_in,
        Duration::from_secs(60),
        "until the minute ends"
    );
}

#[test]
fn usage_error_without_rpm_limits_lists_every_deployment() {
    let (r, _) = router(
        RoutingStrategy::UsageBased,
        vec![
            limited("a", None, Some(10)),
            limited("b", Some(5), Some(10)),
        ],
        |_| {},
    );
    let err = pick_err(&r, &tokens(11));
    assert_eq!(
        err.over_limit.unwrap().message("g"),
        "No deployments available for selected model. Passed model=g. Deployments={\
         'a': {'current_tpm': 0, 'tpm_limit': 10, 'current_rpm': 0, 'rpm_limit': inf}, \
         'b': {'current_tpm': 0, 'tpm_limit': 10, 'current_rpm': 0, 'rpm_limit': 5}}"
    );
}

#[test]
fn usage_counters_reset_at_the_next_utc_minute() {
    let (r, clock) = router(
        RoutingStrategy::UsageBasedV2,
        vec![limited("a", Some(1), None), limited("b", Some(1), None)],
        |_| {},
    );
    let [a, b] = [0, 1].map(|i| r.deployment(i).unwrap().clone());
    r.record_request(&a);
    r.record_request(&b);
    clock.advance(Duration::from_secs(45));
    let err = pick_err(&r, &none());
    assert_eq!(err.retry_in, Duration::from_secs(15));
    assert_eq!(r.utc_minute_tag(), "22-14");
    clock.advance(Duration::from_secs(15));
    assert_eq!(r.utc_minute_tag(), "22-15");
    assert_eq!(r.usage(&a), (0, 0));
    let picks = tally(&r, &none(), 100);
    assert_eq!(picks.values().sum::<usize>(), 100);
}

#[test]
fn usage_takes_the_max_of_local_and_shared() {
    let (r, clock) = router(
        RoutingStrategy::UsageBasedV2,
        vec![limited("a", Some(10), None), dep("b")],
        |_| {},
    );
    let [a, b] = [0, 1].map(|i| r.deployment(i).unwrap().clone());
    r.record_tokens(&a, 10);
    r.record_tokens(&b, 20);
    assert_eq!(only(&r, &none()), "a");
    r.set_shared_usage(&[(0, 3, 5000)]);
    assert_eq!(only(&r, &none()), "b", "the shared total counts");
    r.set_shared_usage(&[(0, 10, 0)]);
    assert_eq!(only(&r, &none()), "b", "shared rpm 10 fills a");
    // Shared values from an earlier minute are stale.
    clock.advance(Duration::from_secs(60));
    r.record_tokens(&b, 20);
    assert_eq!(only(&r, &none()), "a");
    // A snapshot without a deployment clears its shared numbers.
    r.set_shared_usage(&[(0, 0, 100)]);
    assert_eq!(only(&r, &none()), "b");
    r.set_shared_usage(&[]);
    assert_eq!(only(&r, &none()), "a");
}

#[test]
fn usage_falls_back_to_a_tried_deployment_with_headroom() {
    let (r, _) = router(
        RoutingStrategy::UsageBasedV2,
        vec![limited("a", Some(1), None), dep("b")],
        |_| {},
    );
    let a = r.deployment(0).unwrap().clone();
    r.record_request(&a);
    let ctx = PickContext {
        tried: &[1],
        ..PickContext::default()
    };
    assert_eq!(only(&r, &ctx), "b");
}

// ---------------------------------------------------------------- latency-based-routing

#[test]
fn latency_picks_the_fastest_and_untried_first() {
    let (r, _) = router(
        RoutingStrategy::LatencyBased,
        vec![dep("a"), dep("b"), dep("c")],
        |_| {},
    );
    let [a, b, c] = [0, 1, 2].map(|i| r.deployment(i).unwrap().clone());
    r.record_latency(&a, 0.5);
    r.record_latency(&b, 0.1);
    assert_eq!(only(&r, &none()), "c", "no samples = 0: tried first");
    r.record_latency(&c, 0.2);
    assert_eq!(only(&r, &none()), "b");
    r.record_latency(&b, 0.5);
    assert_eq!(r.latency(&b), Some(0.3));
    assert_eq!(only(&r, &none()), "c");
}

#[test]
fn latency_timeout_adds_a_1000s_penalty() {
    let (r, _) = router(
        RoutingStrategy::LatencyBased,
        vec![dep("a"), dep("b")],
        |_| {},
    );
    let [a, b] = [0, 1].map(|i| r.deployment(i).unwrap().clone());
    r.record_latency(&a, 0.1);
    r.record_latency(&b, 0.2);
    assert_eq!(only(&r, &none()), "a");
    r.record_timeout(&a);
    assert_eq!(r.latency(&a), Some((0.1 + TIMEOUT_PENALTY_SECS) / 2.0));
    assert_eq!(only(&r, &none()), "b");
    // record_failure(Timeout) records the same penalty.
    r.record_failure(&b, ErrorClass::Timeout);
    assert_eq!(r.latency(&b), Some((0.2 + TIMEOUT_PENALTY_SECS) / 2.0));
    r.record_failure(&a, ErrorClass::InternalServer);
    assert_eq!(r.latency(&a), Some((0.1 + TIMEOUT_PENALTY_SECS) / 2.0));
}

#[test]
fn latency_buffer_randomises_among_the_near_fastest() {
    let (r, _) = router(
        RoutingStrategy::LatencyBased,
        vec![dep("a"), dep("b"), dep("c")],
        |c| {
            c.router_settings
                .routing_strategy_args
                .insert("lowest_latency_buffer".into(), json!(0.5));
        },
    );
    let [a, b, c] = [0, 1, 2].map(|i| r.deployment(i).unwrap().clone());
    r.record_latency(&a, 0.10);
    r.record_latency(&b, 0.14);
    r.record_latency(&c, 0.16);
    let picks = tally(&r, &none(), 300);
    assert!(!picks.contains_key("c"), "0.16 > 0.10 * 1.5: {picks:?}");
    assert!(picks["a"] > 100 && picks["b"] > 100, "{picks:?}");
}

#[test]
fn latency_samples_expire_after_ttl_and_the_list_is_bounded() {
    let (r, clock) = router(
        RoutingStrategy::LatencyBased,
        vec![dep("a"), dep("b")],
        |c| {
            let args = &mut c.router_settings.routing_strategy_args;
            args.insert("ttl".into(), json!(10));
            args.insert("max_latency_list_size".into(), json!(2));
        },
    );
    let [a, b] = [0, 1].map(|i| r.deployment(i).unwrap().clone());
    r.record_latency(&a, 5.0);
    clock.advance(Duration::from_secs(6));
    r.record_latency(&b, 1.0);
    assert_eq!(only(&r, &none()), "b");
    clock.advance(Duration::from_secs(5));
    assert_eq!(r.latency(&a), None, "11 s old: expired");
    assert_eq!(only(&r, &none()), "a", "no fresh samples = 0");
    // Only the newest `max_latency_list_size` samples count.
    r.record_latency(&a, 100.0);
    r.record_latency(&a, 0.5);
    r.record_latency(&a, 0.5);
    assert_eq!(r.latency(&a), Some(0.5));
    assert_eq!(only(&r, &none()), "a");
}

#[test]
fn latency_merges_shared_samples() {
    let (r, clock) = router(
        RoutingStrategy::LatencyBased,
        vec![dep("a"), dep("b")],
        |c| {
            c.router_settings
                .routing_strategy_args
                .insert("ttl".into(), json!(30));
        },
    );
    let [a, b] = [0, 1].map(|i| r.deployment(i).unwrap().clone());
    r.record_latency(&a, 0.1);
    r.record_latency(&b, 1.0);
    r.set_shared_latencies(&[(0, vec![5.0, 3.0])]);
    assert_eq!(r.latency(&a), Some(8.1 / 3.0));
    assert_eq!(only(&r, &none()), "b");
    clock.advance(Duration::from_secs(31));
    r.record_latency(&a, 0.1);
    r.record_latency(&b, 1.0);
    assert_eq!(
        r.latency(&a),
        Some(0.1),
        "shared samples not refreshed: expired"
    );
    assert_eq!(only(&r, &none()), "a");
}

#[test]
fn latency_skips_deployments_over_their_limits() {
    let (r, _) = router(
        RoutingStrategy::LatencyBased,
        vec![limited("a", Some(1), None), limited("b", None, Some(50))],
        |_| {},
    );
    let [a, b] = [0, 1].map(|i| r.deployment(i).unwrap().clone());
    r.record_latency(&b, 2.0);
    assert_eq!(only(&r, &none()), "a");
    r.record_request(&a);
    assert_eq!(only(&r, &none()), "b");
    let err = pick_err(&r, &tokens(51));
    assert!(err.over_limit.is_some());
}

// ---------------------------------------------------------------- cost-based-routing

#[test]
fn cost_picks_the_cheapest() {
    let (r, _) = router(
        RoutingStrategy::CostBased,
        vec![
            priced("a", 1e-5, 3e-5),
            priced("b", 1e-6, 2e-6),
            priced("c", 2e-6, 2e-6),
        ],
        |_| {},
    );
    assert_eq!(only(&r, &none()), "b");
}

#[test]
fn cost_unknown_price_counts_as_one_dollar_per_token() {
    let prices = PriceMap::from_json(
        r#"{"known": {"input_cost_per_token": 0.5, "output_cost_per_token": 0.5, "litellm_provider": "openai"}}"#,
    )
    .unwrap();
    let ctx = PickContext {
        prices: Some(&prices),
        ..PickContext::default()
    };
    // Unknown model: $1 + $1 = $2 per token.
    let (r, _) = router(
        RoutingStrategy::CostBased,
        vec![dep("mystery"), priced("b", 0.9, 0.9)],
        |_| {},
    );
    assert_eq!(only(&r, &ctx), "b", "1.8 < 2");
    let (r, _) = router(
        RoutingStrategy::CostBased,
        vec![dep("mystery"), priced("b", 1.1, 1.1)],
        |_| {},
    );
    assert_eq!(only(&r, &ctx), "mystery", "2 < 2.2");
    // A model the map knows is priced from the map.
    let (r, _) = router(
        RoutingStrategy::CostBased,
        vec![priced("b", 0.6, 0.6), dep("known")],
        |_| {},
    );
    assert_eq!(only(&r, &ctx), "known", "1.0 < 1.2");
}

#[test]
fn cost_uses_the_bundled_map_by_default() {
    let mut cheap = dep("cheap");
    cheap.litellm_params.model = "openai/gpt-4o-mini".into();
    let mut dear = dep("dear");
    dear.litellm_params.model = "openai/gpt-4o".into();
    let (r, _) = router(
        RoutingStrategy::CostBased,
        vec![dear, cheap, dep("unpriced")],
        |_| {},
    );
    assert_eq!(only(&r, &none()), "cheap");
}

#[test]
fn cost_skips_deployments_over_limits_and_breaks_ties_at_random() {
    let mut a = priced("a", 1e-6, 1e-6);
    a.litellm_params.rpm = Some(1);
    let (r, _) = router(
        RoutingStrategy::CostBased,
        vec![a, priced("b", 1e-6, 2e-6), priced("c", 1e-6, 2e-6)],
        |_| {},
    );
    assert_eq!(only(&r, &none()), "a");
    r.record_request(r.deployment(0).unwrap());
    let picks = tally(&r, &none(), 200);
    assert!(!picks.contains_key("a"), "{picks:?}");
    assert!(picks["b"] > 50 && picks["c"] > 50, "{picks:?}");
}

// ---------------------------------------------------------------- shared cooldowns

#[test]
fn shared_cooldowns_are_skipped_until_they_end() {
    for strategy in [
        RoutingStrategy::SimpleShuffle,
        RoutingStrategy::LeastBusy,
        RoutingStrategy::UsageBasedV2,
        RoutingStrategy::LatencyBased,
        RoutingStrategy::CostBased,
    ] {
        let (r, clock) = router(strategy, vec![dep("a"), dep("b")], |_| {});
        let g = r.resolve("g").unwrap();
        r.set_shared_cooldowns(&[(0, Duration::from_secs(10))]);
        assert_eq!(only(&r, &none()), "b", "{strategy:?}");
        assert!(!r.has_other_healthy(&g, 1));
        r.set_shared_cooldowns(&[(0, Duration::from_secs(10)), (1, Duration::from_secs(4))]);
        let err = pick_err(&r, &none());
        assert_eq!(err.cooldown_list, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(err.over_limit, None);
        clock.advance(Duration::from_secs(5));
        assert_eq!(only(&r, &none()), "b", "b's 4 s are over");
        // A snapshot without a deployment ends its shared cooldown.
        r.set_shared_cooldowns(&[]);
        assert_eq!(tally(&r, &none(), 100).len(), 2, "{strategy:?}");
    }
}

#[test]
fn local_cooldown_is_kept_when_the_shared_snapshot_omits_it() {
    let (r, _) = router(RoutingStrategy::LeastBusy, vec![dep("a"), dep("b")], |_| {});
    let a = r.deployment(0).unwrap().clone();
    assert_eq!(
        r.record_failure(&a, ErrorClass::RateLimit),
        Some(Duration::from_secs(5))
    );
    r.set_shared_cooldowns(&[]);
    assert_eq!(only(&r, &none()), "b");
}
