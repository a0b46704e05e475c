//! The response cache against a real Redis.

use std::time::Duration;

use fred::prelude::KeysInterface;
use fred::types::Expiration;

use super::{Cleanup, connect, random_prefix};
use crate::LimitScope;

#[tokio::test]
async fn get_set_delete() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let (a, b) = (connect(&prefix).await, connect(&prefix).await);
    assert_eq!(a.cache_get("ns:missing").await.expect("get"), None);

    // Binary-safe: bytes in, the same bytes out, from another client.
    let value: Vec<u8> = vec![0, 159, 146, 150, 255, b'{', b'}'];
    a.cache_set("ns:k1", &value, Some(Duration::from_secs(60)))
        .await
        .expect("set");
    let got = b.cache_get("ns:k1").await.expect("get").expect("hit");
    assert_eq!(got.as_ref(), value.as_slice());
    let ttl = a.test_pttl("cache:ns:k1").await;
    assert!((59_000..=60_000).contains(&ttl), "TTL {ttl}");

    // No TTL: kept until deleted.
    a.cache_set("ns:k2", b"forever", None).await.expect("set");
    assert_eq!(a.test_pttl("cache:ns:k2").await, -1);
    // A zero TTL stores nothing.
    a.cache_set("ns:k3", b"gone", Some(Duration::ZERO))
        .await
        .expect("set");
    assert_eq!(a.cache_get("ns:k3").await.expect("get"), None);

    let keys = ["ns:k1".to_owned(), "ns:k2".to_owned(), "ns:nope".to_owned()];
    assert_eq!(a.cache_delete(&keys).await.expect("delete"), 2);
    assert_eq!(b.cache_get("ns:k1").await.expect("get"), None);
    assert_eq!(a.cache_delete(&[]).await.expect("delete"), 0);
}

#[tokio::test]
async fn entries_expire_after_their_ttl() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let a = connect(&prefix).await;
    a.cache_set("short", b"v", Some(Duration::from_millis(150)))
        .await
        .expect("set");
    assert!(a.cache_get("short").await.expect("get").is_some());
    let mut gone = false;
    for _ in 0..150 {
        if a.cache_get("short").await.expect("get").is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "entry still there 3 s after a 150 ms TTL");
}

#[tokio::test]
async fn flush_deletes_only_cache_entries_under_the_prefix() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let a = connect(&prefix).await;
    for i in 0..1203 {
        a.cache_set(&format!("k{i}"), b"v", Some(Duration::from_secs(60)))
            .await
            .expect("set");
    }
    // Not cache entries: a rate-limit window under the same prefix, and a key outside the prefix.
    let scope = LimitScope {
        id: "key:keep".into(),
        rpm: Some(10),
        tpm: None,
        parallel: None,
    };
    assert!(a.admit(&[scope]).await.expect("admit").allowed);
    let outside = format!("hmtest-outside:{:016x}", rand::random::<u64>());
    let _: () = a
        .raw()
        .set(&outside, "survives", Some(Expiration::EX(60)), None, false)
        .await
        .expect("SET outside");

    assert_eq!(a.cache_flush().await.expect("flush"), 1203);
    assert_eq!(a.count_test_keys("cache:*").await, 0);
    assert_eq!(
        a.count_test_keys("limit:*").await,
        1,
        "the limit window survives a cache flush"
    );
    let kept: Option<String> = a.raw().get(&outside).await.expect("GET outside");
    assert_eq!(kept.as_deref(), Some("survives"));
    assert_eq!(a.cache_flush().await.expect("flush"), 0);

    let _: u64 = a.raw().del(&outside).await.expect("DEL outside");
}

#[tokio::test]
async fn flush_treats_glob_characters_in_the_prefix_literally() {
    let base = random_prefix();
    let _cleanup = Cleanup::new(&base);
    // Unescaped, "[ab]" would match the other client's "a" and its entries would go too.
    let globby = connect(&format!("{base}[ab]*:")).await;
    let plain = connect(&format!("{base}a*:")).await;
    globby
        .cache_set("x", b"1", Some(Duration::from_secs(60)))
        .await
        .expect("set");
    plain
        .cache_set("x", b"2", Some(Duration::from_secs(60)))
        .await
        .expect("set");

    assert_eq!(globby.cache_flush().await.expect("flush"), 1);
    assert_eq!(
        plain.cache_get("x").await.expect("get").as_deref(),
        Some(&b"2"[..])
    );
}
