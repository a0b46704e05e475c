#![allow(clippy::unwrap_used)]

use super::*;

const CHAT: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;

#[test]
fn an_entry_round_trips_without_copying_the_response() {
    let entry = encode(CHAT.as_bytes(), 1000.5);
    let value: Value = serde_json::from_slice(&entry).unwrap();
    assert_eq!(value["timestamp"], 1000.5);
    assert_eq!(value["response"]["id"], "chatcmpl-1");
    let found = Hit::read(&entry, CallType::Chat, None, 2000.0).unwrap();
    assert_eq!(found.body, CHAT.as_bytes());
    assert_eq!(found.usage.unwrap().completion(), 1);
    assert_eq!(found.model.as_deref(), Some("m"));
}

#[test]
fn s_maxage_rejects_older_entries() {
    let entry = encode(CHAT.as_bytes(), 1000.0);
    assert!(Hit::read(&entry, CallType::Chat, Some(10.0), 1005.0).is_some());
    assert!(Hit::read(&entry, CallType::Chat, Some(10.0), 1010.5).is_none());
    assert!(Hit::read(&entry, CallType::Chat, Some(0.0), 1000.001).is_none());
}

#[test]
fn litellm_string_responses_are_read_and_junk_is_a_miss() {
    let litellm = json!({"timestamp": 5.0, "response": CHAT}).to_string();
    let found = Hit::read(&Bytes::from(litellm), CallType::Chat, Some(1.0), 5.5).unwrap();
    assert_eq!(found.body, CHAT.as_bytes());
    assert!(Hit::read(&Bytes::from_static(b"not json"), CallType::Chat, None, 0.0).is_none());
    let no_timestamp =
        json!({"response": serde_json::from_str::<Value>(CHAT).unwrap()}).to_string();
    let no_timestamp = Bytes::from(no_timestamp);
    assert!(Hit::read(&no_timestamp, CallType::Chat, None, 0.0).is_some());
    assert!(
        Hit::read(&no_timestamp, CallType::Chat, Some(100.0), 0.0).is_none(),
        "an entry of unknown age is not fresh"
    );
}

#[test]
fn responses_without_output_are_misses() {
    let empty = encode(br#"{"choices":[]}"#, 1.0);
    assert!(Hit::read(&empty, CallType::Chat, None, 1.0).is_none());
    let embedding = encode(br#"{"object":"list","data":[{"embedding":[0.1]}]}"#, 1.0);
    assert!(Hit::read(&embedding, CallType::Embedding, None, 1.0).is_some());
    assert!(
        Hit::read(&embedding, CallType::Chat, None, 1.0).is_none(),
        "an embedding is no chat answer"
    );
}

#[test]
fn the_key_uses_the_group_and_ignores_stream_and_gateway_keys() {
    let parse = |body: &str| {
        super::super::request::parse(
            CallType::Chat,
            None,
            &http::HeaderMap::new(),
            body.as_bytes(),
        )
        .unwrap()
    };
    let plain =
        parse(r#"{"model":"alias","messages":[{"role":"user","content":"hi"}],"temperature":0}"#);
    let streamed = parse(
        r#"{"model":"other-alias","stream":true,"stream_options":{"include_usage":true},"temperature":0,"messages":[{"role":"user","content":"hi"}],"cache":{"ttl":5},"metadata":{"a":1}}"#,
    );
    let key = |r: &LlmRequest, group: &str| haimaker_cache::cache_key(group, &key_params(r), None);
    assert_eq!(key(&plain, "group"), key(&streamed, "group"));
    assert_ne!(key(&plain, "group"), key(&plain, "other-group"));
    assert_eq!(streamed.cache.ttl, Some(Duration::from_secs(5)));
    assert!(
        !streamed.body.contains("cache"),
        "the controls never reach the upstream"
    );
}

#[tokio::test]
async fn stores_are_read_back_by_the_backend() {
    let cache = ResponseCache::local();
    let store = Store {
        cache: cache.clone(),
        call: CallType::Chat,
        params: Map::new(),
        namespace: Some("ns".into()),
        group: "g".into(),
        key: "ns:k".into(),
        ttl: None,
    };
    assert_eq!(store.key_for("g"), "ns:k");
    assert!(store.key_for("fallback").starts_with("ns:"));
    store.json("g", Bytes::from_static(CHAT.as_bytes()));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let stored = loop {
        if let Some(found) = cache.backend().get("ns:k").await {
            break found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the store never landed"
        );
        tokio::task::yield_now().await;
    };
    assert!(Hit::read(&stored, CallType::Chat, None, now_secs()).is_some());
}
