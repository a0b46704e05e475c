#![allow(clippy::unwrap_used)]

use std::time::Duration;

use haimaker_config::{Config, DeploymentConfig, LitellmParams, ModelInfo, Secret};
use haimaker_pricing::PriceMap;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

fn dep(name: &str, model: &str, id: &str) -> DeploymentConfig {
    DeploymentConfig {
        model_name: name.into(),
        litellm_params: LitellmParams {
            model: model.into(),
            ..Default::default()
        },
        model_info: ModelInfo {
            id: Some(id.into()),
            ..Default::default()
        },
        origin: String::new(),
    }
}

fn router(model_list: Vec<DeploymentConfig>, edit: impl FnOnce(&mut Config)) -> Router {
    let mut config = Config {
        model_list,
        ..Default::default()
    };
    edit(&mut config);
    Router::new(&config, &|_| None)
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

#[test]
fn resolves_exact_then_alias_then_most_specific_wildcard() {
    let r = router(
        vec![
            dep("gpt-4o", "openai/gpt-4o", "a"),
            dep("openai/*", "openai/*", "w1"),
            dep("*", "openai/*", "w2"),
        ],
        |c| {
            c.router_settings
                .model_group_alias
                .insert("smart".into(), "gpt-4o".into());
        },
    );
    assert_eq!(r.resolve("gpt-4o").unwrap().members, &[0]);
    assert_eq!(r.resolve("smart").unwrap().name, "gpt-4o");
    let g = r.resolve("openai/gpt-4.1").unwrap();
    assert_eq!((g.name, g.members), ("openai/gpt-4.1", &[1usize][..]));
    assert_eq!(r.resolve("mistral-large").unwrap().members, &[2]);
    assert_eq!(r.model_names(), vec!["gpt-4o", "*", "openai/*", "smart"]);
}

#[test]
fn unknown_model_does_not_resolve() {
    let r = router(vec![dep("gpt-4o", "openai/gpt-4o", "a")], |_| {});
    assert!(r.resolve("gpt-5").is_none());
}

#[test]
fn wildcard_target_substitutes_the_capture() {
    let r = router(
        vec![dep("openai/*", "openai/*", "w"), dep("*", "*", "any")],
        |_| {},
    );
    let prices = PriceMap::bundled();
    let t = r.deployment(0).unwrap().target("openai/gpt-4o", prices);
    assert_eq!(t.provider.name, "openai");
    assert_eq!(t.provider_model, "gpt-4o");
    assert_eq!(t.api_base.as_deref(), Some("https://api.openai.com/v1"));
    assert!(
        t.prices.input_cost_per_token > 0.0,
        "gpt-4o is in the price map"
    );
    let t = r
        .deployment(1)
        .unwrap()
        .target("groq/llama3-8b-8192", prices);
    assert_eq!(
        (t.provider.name, t.provider_model.as_str()),
        ("groq", "llama3-8b-8192")
    );
}

#[test]
fn env_supplies_provider_keys_and_config_wins() {
    let mut with_key = dep("a", "groq/x", "1");
    with_key.litellm_params.api_key = Some(Secret::new("from-config"));
    let config = Config {
        model_list: vec![dep("b", "groq/y", "2"), with_key],
        ..Default::default()
    };
    let r = Router::new(&config, &|name| {
        (name == "GROQ_API_KEY").then(|| "from-env".to_string())
    });
    assert_eq!(
        r.deployment(0).unwrap().api_key.as_ref().unwrap().expose(),
        "from-env"
    );
    assert_eq!(
        r.deployment(1).unwrap().api_key.as_ref().unwrap().expose(),
        "from-config"
    );
}

#[test]
fn generated_ids_are_stable_and_distinct() {
    let mut a = dep("g", "openai/x", "");
    a.model_info.id = None;
    let mut b = a.clone();
    b.litellm_params.api_key = Some(Secret::new("other"));
    let r1 = router(vec![a.clone(), b.clone()], |_| {});
    let r2 = router(vec![a, b], |_| {});
    let id0 = &r1.deployment(0).unwrap().id;
    assert_eq!(id0.len(), 64);
    assert_eq!(id0, &r2.deployment(0).unwrap().id);
    assert_ne!(id0, &r1.deployment(1).unwrap().id);
}

#[test]
fn simple_shuffle_follows_weights() {
    let mut heavy = dep("g", "openai/a", "heavy");
    heavy.litellm_params.weight = Some(9.0);
    let mut light = dep("g", "openai/b", "light");
    light.litellm_params.weight = Some(1.0);
    let r = router(vec![heavy, light], |_| {});
    let g = r.resolve("g").unwrap();
    let mut rng = rng();
    let heavy_picks = (0..2000)
        .filter(|_| r.pick(&g, &[], &mut rng).unwrap().id == "heavy")
        .count();
    assert!(
        (1650..1950).contains(&heavy_picks),
        "picked heavy {heavy_picks}/2000"
    );
}

#[test]
fn simple_shuffle_uses_rpm_when_first_has_no_weight() {
    let mut a = dep("g", "openai/a", "a");
    a.litellm_params.rpm = Some(100);
    let mut b = dep("g", "openai/b", "b");
    b.litellm_params.rpm = Some(0);
    let r = router(vec![a, b], |_| {});
    let g = r.resolve("g").unwrap();
    let mut rng = rng();
    assert!((0..200).all(|_| r.pick(&g, &[], &mut rng).unwrap().id == "a"));
}

#[test]
fn pick_prefers_untried_deployments() {
    let r = router(
        vec![dep("g", "openai/a", "a"), dep("g", "openai/b", "b")],
        |_| {},
    );
    let g = r.resolve("g").unwrap();
    let mut rng = rng();
    assert!((0..50).all(|_| r.pick(&g, &[0], &mut rng).unwrap().id == "b"));
    // Everything tried: any healthy one may be picked again.
    assert!(r.pick(&g, &[0, 1], &mut rng).is_ok());
}

#[test]
fn allowed_fails_cools_a_deployment_and_pick_skips_it() {
    let r = router(
        vec![dep("g", "openai/a", "a"), dep("g", "openai/b", "b")],
        |c| {
            c.router_settings.allowed_fails = Some(1);
            c.router_settings.cooldown_time = Some(Duration::from_secs(30));
        },
    );
    let a = r.deployment(0).unwrap().clone();
    assert_eq!(
        r.record_failure(&a, ErrorClass::InternalServer),
        None,
        "1 fail is allowed"
    );
    assert_eq!(
        r.record_failure(&a, ErrorClass::InternalServer),
        Some(Duration::from_secs(30))
    );
    let g = r.resolve("g").unwrap();
    let mut rng = rng();
    assert!((0..50).all(|_| r.pick(&g, &[], &mut rng).unwrap().id == "b"));
    let b = r.deployment(1).unwrap().clone();
    r.record_failure(&b, ErrorClass::InternalServer);
    r.record_failure(&b, ErrorClass::InternalServer);
    let err = r.pick(&g, &[], &mut rng).unwrap_err();
    assert_eq!(err.cooldown_list, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(err.retry_in, Duration::from_secs(30));
}

#[test]
fn single_deployment_groups_are_never_cooled() {
    let r = router(vec![dep("solo", "openai/a", "a")], |c| {
        c.router_settings.allowed_fails = Some(0);
    });
    let a = r.deployment(0).unwrap().clone();
    for _ in 0..10 {
        assert_eq!(r.record_failure(&a, ErrorClass::RateLimit), None);
    }
    assert!(r.pick(&r.resolve("solo").unwrap(), &[], &mut rng()).is_ok());
}

#[test]
fn default_logic_cools_on_429_at_once_but_not_on_a_400() {
    let r = router(
        vec![dep("g", "openai/a", "a"), dep("g", "openai/b", "b")],
        |_| {},
    );
    let a = r.deployment(0).unwrap().clone();
    assert_eq!(r.record_failure(&a, ErrorClass::BadRequest), None);
    assert_eq!(
        r.record_failure(&a, ErrorClass::InternalServer),
        None,
        "one 500 is not a rate"
    );
    assert_eq!(
        r.record_failure(&a, ErrorClass::RateLimit),
        Some(Duration::from_secs(5))
    );
}

#[test]
fn disable_cooldowns_and_zero_cooldown_time_never_cool() {
    let r = router(
        vec![dep("g", "openai/a", "a"), dep("g", "openai/b", "b")],
        |c| {
            c.router_settings.disable_cooldowns = true;
        },
    );
    let a = r.deployment(0).unwrap().clone();
    assert_eq!(r.record_failure(&a, ErrorClass::RateLimit), None);
    let mut zero = dep("g", "openai/a", "a");
    zero.litellm_params.cooldown_time = Some(Duration::ZERO);
    let r = router(vec![zero, dep("g", "openai/b", "b")], |_| {});
    let a = r.deployment(0).unwrap().clone();
    assert_eq!(r.record_failure(&a, ErrorClass::RateLimit), None);
}
