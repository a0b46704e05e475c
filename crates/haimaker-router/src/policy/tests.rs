#![allow(clippy::unwrap_used)]

use std::time::Duration;

use haimaker_config::{Config, FallbackRule};

use super::*;

fn rule(from: &str, to: &[&str]) -> FallbackRule {
    FallbackRule {
        from: from.into(),
        to: to.iter().map(|s| s.to_string()).collect(),
    }
}

fn policy(edit: impl FnOnce(&mut Config)) -> Policy {
    let mut c = Config::default();
    edit(&mut c);
    Policy::from_config(&c)
}

#[test]
fn router_settings_win_over_litellm_settings() {
    let p = policy(|c| {
        c.litellm_settings.num_retries = Some(7);
        c.litellm_settings.fallbacks = Some(vec![rule("a", &["b"])]);
        c.router_settings.fallbacks = Some(vec![rule("a", &["c"])]);
    });
    assert_eq!(p.num_retries, 7);
    assert_eq!(p.fallbacks_for("a", FallbackKind::General, None), vec!["c"]);
    assert_eq!(policy(|_| {}).num_retries, DEFAULT_NUM_RETRIES);
}

#[test]
fn retries_follow_error_class_and_policy() {
    let p = policy(|c| c.router_settings.retry_policy.rate_limit = Some(5));
    assert_eq!(p.retries_for(ErrorClass::RateLimit, 2, 1), 5);
    assert_eq!(p.retries_for(ErrorClass::InternalServer, 2, 1), 2);
    assert_eq!(p.retries_for(ErrorClass::BadRequest, 2, 3), 0);
    assert_eq!(p.retries_for(ErrorClass::ContextWindowExceeded, 2, 3), 0);
    assert_eq!(p.retries_for(ErrorClass::Authentication, 2, 1), 0);
    assert_eq!(p.retries_for(ErrorClass::Authentication, 2, 2), 2);
}

#[test]
fn retry_delay_rules() {
    let p = policy(|_| {});
    assert_eq!(p.retry_delay(0, true, None, 0.0), Duration::ZERO);
    assert_eq!(
        p.retry_delay(0, false, Some(Duration::from_secs(3)), 0.0),
        Duration::from_secs(3)
    );
    assert_eq!(
        p.retry_delay(0, false, Some(Duration::from_secs(90)), 0.0),
        Duration::from_millis(500)
    );
    assert_eq!(p.retry_delay(2, false, None, 0.0), Duration::from_secs(2));
    assert_eq!(p.retry_delay(10, false, None, 0.0), Duration::from_secs(8));
    assert_eq!(
        p.retry_delay(0, false, None, 1.0),
        Duration::from_millis(125)
    );
    let floor = policy(|c| c.router_settings.retry_after = Some(Duration::from_secs(1)));
    assert_eq!(
        floor.retry_delay(0, true, None, 0.0),
        Duration::from_secs(1)
    );
}

#[test]
fn fallback_lists_by_kind_star_default_and_client() {
    let p = policy(|c| {
        c.router_settings.fallbacks = Some(vec![rule("*", &["any"])]);
        c.router_settings.context_window_fallbacks = Some(vec![rule("small", &["big"])]);
        c.router_settings.default_fallbacks = Some(vec!["dflt".into()]);
        c.router_settings.max_fallbacks = Some(1);
    });
    assert_eq!(
        p.fallbacks_for("x", FallbackKind::General, None),
        vec!["any"]
    );
    assert_eq!(
        p.fallbacks_for("small", FallbackKind::ContextWindow, None),
        vec!["big"]
    );
    assert!(
        p.fallbacks_for("other", FallbackKind::ContentPolicy, None)
            .is_empty()
    );
    let client = vec!["c1".to_string(), "c2".to_string()];
    assert_eq!(
        p.fallbacks_for("x", FallbackKind::General, Some(&client)),
        vec!["c1"]
    );
    let d =
        policy(|c| c.litellm_settings.default_fallbacks = Some(vec!["dflt".into(), "x".into()]));
    assert_eq!(
        d.fallbacks_for("x", FallbackKind::General, None),
        vec!["dflt"],
        "never itself"
    );
}

#[test]
fn timeout_precedence() {
    let p = policy(|c| {
        c.router_settings.timeout = Some(Duration::from_secs(30));
        c.router_settings.stream_timeout = Some(Duration::from_secs(10));
        c.litellm_settings.request_timeout = Some(Duration::from_secs(600));
    });
    let s = Duration::from_secs;
    assert_eq!(
        p.timeout_for(Some(s(1)), Some(s(2)), Some(s(3)), true),
        s(1)
    );
    assert_eq!(p.timeout_for(None, Some(s(2)), Some(s(3)), true), s(3));
    assert_eq!(p.timeout_for(None, Some(s(2)), None, true), s(2));
    assert_eq!(p.timeout_for(None, Some(s(2)), Some(s(3)), false), s(2));
    assert_eq!(p.timeout_for(None, None, None, false), s(30));
    assert_eq!(p.timeout_for(None, None, None, true), s(10));
    let bare = policy(|c| c.litellm_settings.request_timeout = Some(s(600)));
    assert_eq!(bare.timeout_for(None, None, None, true), s(600));
    assert_eq!(policy(|_| {}).timeout_for(None, None, None, false), s(6000));
}
