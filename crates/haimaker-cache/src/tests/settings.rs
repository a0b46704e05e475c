//! Where Redis is, from every source (no Redis needed).

use std::collections::HashMap;

use haimaker_config::{CacheParams, Config, Secret};
use serde_json::json;

use crate::{RedisSettings, resolve, settings};

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn with_router_host() -> Config {
    let mut config = Config::default();
    config.router_settings.redis_host = Some("router-redis".into());
    config.router_settings.redis_port = Some(6380);
    config.router_settings.redis_password = Some(Secret::new("router-pw"));
    config
}

fn with_cache_params(cp: CacheParams) -> Config {
    let mut config = Config::default();
    config.litellm_settings.cache = true;
    config.litellm_settings.cache_params = Some(cp);
    config
}

#[test]
fn nothing_configured_means_no_redis() {
    assert_eq!(settings(&Config::default(), &no_env), None);
    // Unrelated env does not invent one.
    assert_eq!(
        settings(&Config::default(), &env_of(&[("REDIS_PORT", "1")])),
        None
    );
}

#[test]
fn router_settings_host_port_password() {
    let s = settings(&with_router_host(), &no_env).expect("configured");
    assert_eq!(s.host, "router-redis");
    assert_eq!(s.port, 6380);
    assert_eq!(s.password.as_ref().map(Secret::expose), Some("router-pw"));
    assert_eq!(s.username, None);
    assert!(!s.tls);
    assert_eq!(s.prefix, "haimaker:");
    assert_eq!(s.source, "router_settings.redis_host");
    // The password never shows in Debug or in the display address.
    assert!(!format!("{s:?}").contains("router-pw"));
    assert_eq!(s.display_address(), "redis://router-redis:6380");
}

#[test]
fn router_settings_host_takes_username_and_ssl_from_env() {
    let env = env_of(&[("REDIS_USERNAME", "app"), ("REDIS_SSL", "True")]);
    let s = settings(&with_router_host(), &env).expect("configured");
    assert_eq!(s.username.as_deref(), Some("app"));
    assert!(s.tls);
}

#[test]
fn router_settings_default_port() {
    let mut config = Config::default();
    config.router_settings.redis_host = Some("h".into());
    let s = settings(&config, &no_env).expect("configured");
    assert_eq!(
        (s.host.as_str(), s.port, s.password.is_none()),
        ("h", 6379, true)
    );
}

#[test]
fn router_settings_url_wins_over_host_and_everything_else() {
    let mut config = with_router_host();
    config.router_settings.redis_url = Some(Secret::new("redis://u:p%40ss@url-redis:7000/3"));
    config.litellm_settings.cache_params = Some(CacheParams {
        host: Some("cache-redis".into()),
        ..CacheParams::default()
    });
    let env = env_of(&[("REDIS_URL", "redis://env-redis:1")]);
    let s = settings(&config, &env).expect("configured");
    assert_eq!(s.host, "url-redis");
    assert_eq!(s.port, 7000);
    assert_eq!(s.username.as_deref(), Some("u"));
    // Percent-encoded password is decoded.
    assert_eq!(s.password.as_ref().map(Secret::expose), Some("p@ss"));
    assert_eq!(s.database, Some(3));
    assert!(!s.tls);
    assert_eq!(s.source, "router_settings.redis_url");
}

#[test]
fn url_and_host_forms_give_identical_settings() {
    let from_url = RedisSettings::from_url("redis://:router-pw@router-redis:6380").expect("url");
    let mut from_host = settings(&with_router_host(), &no_env).expect("host");
    from_host.source = from_url.source;
    assert_eq!(from_url, from_host);
}

#[test]
fn rediss_means_tls() {
    let s = RedisSettings::from_url("rediss://secure-redis").expect("url");
    assert!(s.tls);
    assert_eq!(s.port, 6379);
    assert_eq!(s.display_address(), "rediss://secure-redis:6379");
}

#[test]
fn bad_urls_are_errors_without_the_secret() {
    let mut config = Config::default();
    config.router_settings.redis_url = Some(Secret::new("http://user:hunter2@host"));
    let err = resolve(&config, &no_env).expect_err("http scheme");
    assert!(err.contains("router_settings.redis_url"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert_eq!(settings(&config, &no_env), None);

    for bad in [
        "redis://",
        "redis://host/notadb",
        "not a url",
        "redis+sentinel://h",
    ] {
        assert!(RedisSettings::from_url(bad).is_err(), "{bad}");
    }
}

#[test]
fn cache_params_host_port_password() {
    let config = with_cache_params(CacheParams {
        cache_type: Some("redis".into()),
        host: Some("cache-redis".into()),
        port: Some(6390),
        password: Some(Secret::new("cache-pw")),
        ..CacheParams::default()
    });
    let s = settings(&config, &env_of(&[("REDIS_HOST", "env-redis")])).expect("configured");
    assert_eq!(s.host, "cache-redis");
    assert_eq!(s.port, 6390);
    assert_eq!(s.password.as_ref().map(Secret::expose), Some("cache-pw"));
    assert_eq!(s.source, "litellm_settings.cache_params");
}

#[test]
fn cache_params_url_and_raw_extras() {
    let config = with_cache_params(CacheParams {
        redis_url: Some(Secret::new("rediss://cache-url:6400")),
        host: Some("ignored".into()),
        ..CacheParams::default()
    });
    let s = settings(&config, &no_env).expect("configured");
    assert_eq!((s.host.as_str(), s.port, s.tls), ("cache-url", 6400, true));

    let mut cp = CacheParams {
        host: Some("h".into()),
        ..CacheParams::default()
    };
    cp.raw.insert("username".into(), json!("cache-user"));
    cp.raw.insert("ssl".into(), json!(true));
    let s = settings(&with_cache_params(cp), &no_env).expect("configured");
    assert_eq!(s.username.as_deref(), Some("cache-user"));
    assert!(s.tls);
}

#[test]
fn cache_params_of_a_non_redis_cache_do_not_count() {
    let config = with_cache_params(CacheParams {
        cache_type: Some("local".into()),
        host: Some("not-redis".into()),
        ..CacheParams::default()
    });
    let s = settings(&config, &env_of(&[("REDIS_HOST", "env-redis")])).expect("env");
    assert_eq!(s.host, "env-redis");
}

#[test]
fn router_settings_win_over_cache_params() {
    let mut config = with_router_host();
    config.litellm_settings.cache_params = Some(CacheParams {
        host: Some("cache-redis".into()),
        ..CacheParams::default()
    });
    assert_eq!(
        settings(&config, &no_env).expect("configured").host,
        "router-redis"
    );
}

#[test]
fn env_host_port_password_username_ssl() {
    let env = env_of(&[
        ("REDIS_HOST", "env-redis"),
        ("REDIS_PORT", "6500"),
        ("REDIS_PASSWORD", "env-pw"),
        ("REDIS_USERNAME", "env-user"),
        ("REDIS_SSL", "true"),
    ]);
    let s = settings(&Config::default(), &env).expect("configured");
    assert_eq!(s.host, "env-redis");
    assert_eq!(s.port, 6500);
    assert_eq!(s.password.as_ref().map(Secret::expose), Some("env-pw"));
    assert_eq!(s.username.as_deref(), Some("env-user"));
    assert!(s.tls);
    assert_eq!(s.source, "REDIS_HOST");

    let bad_port = env_of(&[("REDIS_HOST", "h"), ("REDIS_PORT", "sixty")]);
    assert!(resolve(&Config::default(), &bad_port).is_err());
}

#[test]
fn env_url_wins_over_env_host() {
    let env = env_of(&[
        ("REDIS_URL", "rediss://:pw@env-url:6600/1"),
        ("REDIS_HOST", "env-host"),
    ]);
    let s = settings(&Config::default(), &env).expect("configured");
    assert_eq!(
        (s.host.as_str(), s.port, s.tls, s.database),
        ("env-url", 6600, true, Some(1))
    );
    assert_eq!(s.source, "REDIS_URL");
}

#[test]
fn prefix_comes_from_env() {
    let env = env_of(&[("REDIS_HOST", "h"), ("HAIMAKER_REDIS_PREFIX", "{hm}:")]);
    assert_eq!(
        settings(&Config::default(), &env)
            .expect("configured")
            .prefix,
        "{hm}:"
    );
}

#[test]
fn ipv6_hosts_lose_their_brackets() {
    let s = RedisSettings::from_url("redis://[::1]:6379").expect("url");
    assert_eq!(s.host, "::1");
}
