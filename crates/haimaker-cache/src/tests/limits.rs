//! Rate limits against a real Redis.

use std::time::{Duration, Instant};

use super::{Cleanup, connect, random_prefix};
use crate::limits::unix_now;
use crate::{LimitScope, Refusal, Remaining};

fn scope(id: &str, rpm: Option<u64>, tpm: Option<u64>, parallel: Option<u64>) -> LimitScope {
    LimitScope {
        id: id.to_owned(),
        rpm,
        tpm,
        parallel,
    }
}

#[tokio::test]
async fn rpm_is_enforced_across_two_clients() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let (a, b) = (connect(&prefix).await, connect(&prefix).await);
    let scopes = [scope("key:k1", Some(5), None, None)];
    let ids = ["key:k1".to_owned()];
    // One instant for the whole test: a minute boundary in the middle must not open a new window.
    let now = unix_now();
    let mut allowed = 0;
    for i in 0..10 {
        let client = if i % 2 == 0 { &a } else { &b };
        let r = client.admit_at(&scopes, 1, now).await.expect("admit");
        if r.allowed {
            allowed += 1;
            assert_eq!(r.refused, None);
            assert_eq!(
                r.remaining,
                vec![Remaining {
                    requests: Some(5 - allowed),
                    tokens: None
                }]
            );
            client.release(&ids).await.expect("release");
        } else {
            assert_eq!(r.refused, Some((0, Refusal::Rpm)));
            assert_eq!(r.remaining[0].requests, Some(0));
        }
        assert!((1..=60).contains(&r.reset_secs));
    }
    assert_eq!(allowed, 5);
}

#[tokio::test]
async fn tpm_counts_tokens_added_after_calls() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let (a, b) = (connect(&prefix).await, connect(&prefix).await);
    let scopes = [scope("user:u1", None, Some(100), None)];
    let ids = ["user:u1".to_owned()];
    let now = unix_now();

    let r = a.admit_at(&scopes, 1, now).await.expect("admit");
    assert!(r.allowed);
    assert_eq!(
        r.remaining[0],
        Remaining {
            requests: None,
            tokens: Some(100)
        }
    );
    a.add_tokens_at(&ids, 60, now).await.expect("add_tokens");

    let r = b.admit_at(&scopes, 1, now).await.expect("admit");
    assert!(r.allowed);
    assert_eq!(r.remaining[0].tokens, Some(40));
    b.add_tokens_at(&ids, 40, now).await.expect("add_tokens");

    let r = a.admit_at(&scopes, 1, now).await.expect("admit");
    assert!(!r.allowed);
    assert_eq!(r.refused, Some((0, Refusal::Tpm)));
    assert_eq!(r.remaining[0].tokens, Some(0));

    // The token window has the window TTL.
    let ttl = a
        .test_pttl(&format!("limit:user:u1:tok:{}", now / 60))
        .await;
    assert!((1..=120_000).contains(&ttl), "tok TTL {ttl}");
}

#[tokio::test]
async fn parallel_slots_are_taken_and_released() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let (a, b) = (connect(&prefix).await, connect(&prefix).await);
    let scopes = [scope("team:t1", None, None, Some(2))];
    let ids = ["team:t1".to_owned()];

    assert!(a.admit(&scopes).await.expect("admit").allowed);
    assert!(b.admit(&scopes).await.expect("admit").allowed);
    let r = a.admit(&scopes).await.expect("admit");
    assert_eq!(
        (r.allowed, r.refused),
        (false, Some((0, Refusal::Parallel)))
    );
    let ttl = a.test_pttl("limit:team:t1:par").await;
    assert!((1..=600_000).contains(&ttl), "parallel TTL {ttl}");

    b.release(&ids).await.expect("release");
    assert!(a.admit(&scopes).await.expect("admit").allowed);

    // Releasing more than was taken never leaves a negative count behind.
    for _ in 0..5 {
        a.release(&ids).await.expect("release");
    }
    assert_eq!(a.test_get("limit:team:t1:par").await, None);
    assert!(a.admit(&scopes).await.expect("admit").allowed);
    assert!(a.admit(&scopes).await.expect("admit").allowed);
    assert!(!a.admit(&scopes).await.expect("admit").allowed);
}

#[tokio::test]
async fn all_or_nothing_across_scopes() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let a = connect(&prefix).await;
    let wide = scope("key:k", Some(10), None, Some(10));
    let narrow = scope("team:t", Some(1), None, None);
    let now = unix_now();

    let r = a
        .admit_at(&[wide.clone(), narrow.clone()], 1, now)
        .await
        .expect("admit");
    assert!(r.allowed);
    assert_eq!(r.remaining[0].requests, Some(9));
    assert_eq!(r.remaining[1].requests, Some(0));
    assert_eq!(
        a.test_get("limit:team:t:par").await,
        None,
        "no parallel limit: no in-flight counter to release"
    );

    // The team refuses: the key must not be counted either.
    let r = a
        .admit_at(&[wide.clone(), narrow.clone()], 1, now)
        .await
        .expect("admit");
    assert!(!r.allowed);
    assert_eq!(r.refused, Some((1, Refusal::Rpm)));
    assert_eq!(r.remaining[0].requests, Some(9));
    assert_eq!(a.test_get("limit:key:k:par").await.as_deref(), Some("1"));

    let r = a.admit_at(&[wide], 1, now).await.expect("admit");
    assert!(r.allowed);
    assert_eq!(
        r.remaining[0].requests,
        Some(8),
        "the refused call counted nothing"
    );
    assert_eq!(a.test_get("limit:key:k:par").await.as_deref(), Some("2"));

    // No scopes: nothing to check, no I/O.
    assert!(a.admit(&[]).await.expect("admit").allowed);
}

#[tokio::test]
async fn windows_reset_at_the_minute_boundary() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let a = connect(&prefix).await;
    let scopes = [scope("key:w", Some(1), Some(50), None)];
    let ids = ["key:w".to_owned()];
    // 30 s into the current minute, then 10 s later (same minute), then the next minute.
    let t0 = unix_now() / 60 * 60 + 30;

    let r = a.admit_at(&scopes, 1, t0).await.expect("admit");
    assert!(r.allowed);
    assert_eq!(r.reset_secs, 30);
    a.add_tokens_at(&ids, 50, t0).await.expect("add_tokens");

    let r = a.admit_at(&scopes, 1, t0 + 10).await.expect("admit");
    assert!(!r.allowed);
    assert_eq!(r.refused, Some((0, Refusal::Rpm)));
    assert_eq!(r.reset_secs, 20);

    let r = a.admit_at(&scopes, 1, t0 + 30).await.expect("admit");
    assert!(r.allowed, "a new minute is a new window");
    assert_eq!(r.reset_secs, 60);
    assert_eq!(
        r.remaining[0],
        Remaining {
            requests: Some(0),
            tokens: Some(50)
        }
    );

    // Window keys have the window TTL, set once.
    let ttl = a.test_pttl(&format!("limit:key:w:req:{}", t0 / 60)).await;
    assert!((1..=120_000).contains(&ttl), "req TTL {ttl}");
}

/// One admit = one round trip. Prints the latency (run with `--release --nocapture` for the figure).
#[tokio::test]
async fn admit_round_trip_latency() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let a = connect(&prefix).await;
    let scopes = [
        scope("key:lat", Some(1_000_000), Some(1_000_000_000), Some(1_000)),
        scope("user:lat", Some(1_000_000), None, None),
        scope("team:lat", None, Some(1_000_000_000), Some(1_000)),
    ];
    let ids: Vec<String> = scopes.iter().map(|s| s.id.clone()).collect();
    a.admit(&scopes).await.expect("warm-up admit");
    a.release(&ids).await.expect("release");
    let mut samples = Vec::with_capacity(500);
    for _ in 0..500 {
        let t = Instant::now();
        let r = a.admit(&scopes).await.expect("admit");
        samples.push(t.elapsed());
        assert!(r.allowed);
        a.release(&ids).await.expect("release");
    }
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    eprintln!(
        "admit (3 scopes) round trip: mean {:?}, p50 {:?}, p99 {:?}, max {:?}",
        mean,
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
        samples[samples.len() - 1]
    );
    assert!(mean < crate::CALL_TIMEOUT);
}

/// After a Redis restart (or `SCRIPT FLUSH`) the server forgets the scripts: the first call answers
/// `NOSCRIPT` and is re-sent as `EVAL` inside the same call.
#[tokio::test]
async fn scripts_survive_a_script_flush() {
    use fred::prelude::LuaInterface;

    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let a = connect(&prefix).await;
    let scopes = [scope("key:flush", Some(10), None, None)];
    let now = unix_now();
    assert!(a.admit_at(&scopes, 1, now).await.expect("admit").allowed);
    a.raw().script_flush(false).await.expect("SCRIPT FLUSH");
    let r = a
        .admit_at(&scopes, 1, now)
        .await
        .expect("admit after SCRIPT FLUSH");
    assert_eq!(r.remaining[0].requests, Some(8));
}

#[tokio::test]
async fn a_lease_grants_what_every_scope_has_room_for() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let a = connect(&prefix).await;
    let scopes = [
        scope("key:k", Some(100), None, Some(5)),
        scope("team:t", Some(8), None, None),
    ];
    let now = unix_now();
    let r = a.admit_at(&scopes, 64, now).await.expect("lease");
    assert!(r.allowed);
    assert_eq!(r.granted, 5, "the key's 5 parallel slots cap the grant");
    assert_eq!(r.remaining[0].requests, Some(95));
    assert_eq!(r.remaining[1].requests, Some(3));
    assert_eq!(a.test_get("limit:key:k:par").await.as_deref(), Some("5"));

    // Two slots come back: the next lease is capped by the team's 3 requests left.
    a.release_n(&["key:k".to_owned()], 2)
        .await
        .expect("release");
    let r = a.admit_at(&scopes, 64, now).await.expect("lease");
    assert_eq!(r.granted, 2);
    assert_eq!(r.remaining[1].requests, Some(1));
    a.release_n(&["key:k".to_owned()], 7)
        .await
        .expect("release");
    assert_eq!(a.test_get("limit:key:k:par").await, None, "all slots back");
    let r = a.admit_at(&scopes, 64, now).await.expect("lease");
    assert_eq!(r.granted, 1, "the team's last request this minute");
    let r = a.admit_at(&scopes, 64, now).await.expect("lease");
    assert!(!r.allowed);
    assert_eq!(r.granted, 0);
    assert_eq!(r.refused, Some((1, Refusal::Rpm)));
}
