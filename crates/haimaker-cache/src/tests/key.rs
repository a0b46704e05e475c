//! The response-cache key (pure).

use serde_json::{Map, Value, json};

use crate::cache_key;

fn params(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map,
        _ => panic!("params must be an object"),
    }
}

#[test]
fn is_sha256_hex_and_stable() {
    let p = params(json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}));
    let k = cache_key("gpt-4o", &p, None);
    assert_eq!(k.len(), 64);
    assert!(
        k.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(k, cache_key("gpt-4o", &p, None));
    // The exact string hashed: fixed order, "<param>: <json>," each.
    use sha2::{Digest, Sha256};
    let expected = hex::encode(Sha256::digest(
        br#"model: "gpt-4o",messages: [{"role":"user","content":"hi"}],"#,
    ));
    assert_eq!(k, expected);
}

#[test]
fn stable_across_parameter_order() {
    let a = params(json!({"model": "m", "temperature": 0.2, "messages": [], "max_tokens": 10}));
    let b = params(json!({"max_tokens": 10, "messages": [], "temperature": 0.2, "model": "m"}));
    assert_eq!(cache_key("g", &a, None), cache_key("g", &b, None));
}

#[test]
fn model_group_replaces_the_deployment_model() {
    let a = params(json!({"model": "azure/gpt-4o-eu", "messages": []}));
    let b = params(json!({"model": "openai/gpt-4o", "messages": []}));
    assert_eq!(cache_key("gpt-4o", &a, None), cache_key("gpt-4o", &b, None));
    assert_ne!(
        cache_key("gpt-4o", &a, None),
        cache_key("gpt-4o-mini", &a, None)
    );
}

#[test]
fn namespace_prefixes_the_key() {
    let p = params(json!({"messages": []}));
    let plain = cache_key("g", &p, None);
    assert_eq!(
        cache_key("g", &p, Some("litellm.caching")),
        format!("litellm.caching:{plain}")
    );
    assert_eq!(cache_key("g", &p, Some("")), plain);
}

#[test]
fn differs_when_a_relevant_parameter_changes() {
    let base = params(json!({"messages": [{"role": "user", "content": "hi"}], "temperature": 0.0}));
    let k = cache_key("g", &base, None);
    for (name, value) in [
        ("messages", json!([{"role": "user", "content": "hello"}])),
        ("temperature", json!(1.0)),
        ("max_tokens", json!(5)),
        (
            "tools",
            json!([{"type": "function", "function": {"name": "f"}}]),
        ),
        ("response_format", json!({"type": "json_object"})),
        ("seed", json!(7)),
        ("user", json!("u1")),
        ("input", json!("text")),
        ("dimensions", json!(256)),
    ] {
        let mut changed = base.clone();
        changed.insert(name.to_owned(), value);
        assert_ne!(
            cache_key("g", &changed, None),
            k,
            "{name} must change the key"
        );
    }
}

#[test]
fn ignores_unknown_and_irrelevant_parameters() {
    let base = params(json!({"messages": [], "temperature": 0.5}));
    let k = cache_key("g", &base, None);
    for (name, value) in [
        ("stream", json!(true)),
        ("stream_options", json!({"include_usage": true})),
        ("metadata", json!({"tags": ["a"]})),
        ("cache", json!({"no-cache": false})),
        ("api_key", json!("sk-secret")),
        ("timeout", json!(30)),
        ("some_provider_extra", json!(1)),
        ("max_tokens", Value::Null),
    ] {
        let mut changed = base.clone();
        changed.insert(name.to_owned(), value);
        assert_eq!(
            cache_key("g", &changed, None),
            k,
            "{name} must not change the key"
        );
    }
}

#[test]
fn a_value_cannot_impersonate_another_parameter() {
    // "input" vs "prompt" with the same value hash differently (the name is part of the string).
    let a = params(json!({"input": "x"}));
    let b = params(json!({"prompt": "x"}));
    assert_ne!(cache_key("g", &a, None), cache_key("g", &b, None));
}
