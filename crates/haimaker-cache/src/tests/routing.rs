//! Shared routing state against a real Redis.

use std::time::Duration;

use super::{Cleanup, connect, random_prefix};
use crate::limits::unix_now;

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn cooldowns_are_litellm_keys_with_a_ttl() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let (a, b) = (connect(&prefix).await, connect(&prefix).await);
    a.set_cooldown(
        "dep-1",
        Duration::from_secs(5),
        429,
        "RateLimitError: slow down",
    )
    .await
    .expect("set_cooldown");

    let c = b
        .cooldowns(&ids(&["dep-1", "dep-2"]))
        .await
        .expect("cooldowns");
    assert_eq!(c.len(), 2);
    let left = c[0].expect("dep-1 cools down");
    assert!(
        left > Duration::from_secs(4) && left <= Duration::from_secs(5),
        "{left:?}"
    );
    assert_eq!(c[1], None);

    let raw = a
        .test_get("deployment:dep-1:cooldown")
        .await
        .expect("LiteLLM's key");
    let v: serde_json::Value = serde_json::from_str(&raw).expect("JSON");
    assert_eq!(v["exception_received"], "RateLimitError: slow down");
    assert_eq!(v["status_code"], "429");
    assert_eq!(v["cooldown_time"], 5.0);
    assert!(v["timestamp"].as_f64().expect("timestamp") > 1.7e9);

    // A short cooldown ends by itself.
    a.set_cooldown("dep-2", Duration::from_millis(150), 500, "boom")
        .await
        .expect("set_cooldown");
    assert!(a.cooldowns(&ids(&["dep-2"])).await.expect("cooldowns")[0].is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        a.cooldowns(&ids(&["dep-2"])).await.expect("cooldowns"),
        vec![None]
    );
    assert_eq!(a.cooldowns(&[]).await.expect("cooldowns"), vec![]);
}

#[tokio::test]
async fn deployment_usage_per_utc_minute() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let (a, b) = (connect(&prefix).await, connect(&prefix).await);
    let now = unix_now();
    assert_eq!(a.incr_deployment_rpm_at("d1", now).await.expect("incr"), 1);
    assert_eq!(b.incr_deployment_rpm_at("d1", now).await.expect("incr"), 2);
    // The next minute is another counter.
    assert_eq!(
        a.incr_deployment_rpm_at("d1", now + 60)
            .await
            .expect("incr"),
        1
    );

    let usage = a
        .deployment_usage_at(&ids(&["d1", "d2"]), now)
        .await
        .expect("usage");
    assert_eq!(usage, vec![(2, 0), (0, 0)]);

    // LiteLLM's key name: <id>:rpm:<HH-MM>, UTC, zero-padded.
    let hhmm = format!("{:02}-{:02}", (now % 86_400) / 3_600, (now % 3_600) / 60);
    let ttl = a.test_pttl(&format!("d1:rpm:{hhmm}")).await;
    assert!((60_000..=120_000).contains(&ttl), "rpm TTL {ttl}");

    a.add_deployment_tpm_at("d1", 120, now).await.expect("tpm");
    b.add_deployment_tpm_at("d1", 30, now).await.expect("tpm");
    let usage = a
        .deployment_usage_at(&ids(&["d1"]), now)
        .await
        .expect("usage");
    assert_eq!(usage, vec![(2, 150)]);

    // The clock-reading forms: retried once if a minute boundary passes in the middle.
    for attempt in 0..2 {
        let id = format!("live-{attempt}");
        let minute = unix_now() / 60;
        a.incr_deployment_rpm(&id).await.expect("incr");
        a.add_deployment_tpm(&id, 7).await.expect("tpm");
        let usage = b.deployment_usage(&ids(&[&id])).await.expect("usage");
        if unix_now() / 60 == minute {
            assert_eq!(usage, vec![(1, 7)]);
            break;
        }
    }
}

#[tokio::test]
async fn in_flight_counts_across_clients() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let (a, b) = (connect(&prefix).await, connect(&prefix).await);
    a.incr_in_flight("d1").await.expect("incr");
    b.incr_in_flight("d1").await.expect("incr");
    a.incr_in_flight("d1").await.expect("incr");
    b.decr_in_flight("d1").await.expect("decr");
    assert_eq!(
        a.in_flight(&ids(&["d1", "d2"])).await.expect("in_flight"),
        vec![2, 0]
    );
    let ttl = a.test_pttl("inflight:d1").await;
    assert!((1..=600_000).contains(&ttl), "in-flight TTL {ttl}");

    // Never below zero.
    for _ in 0..4 {
        a.decr_in_flight("d1").await.expect("decr");
    }
    assert_eq!(
        a.in_flight(&ids(&["d1"])).await.expect("in_flight"),
        vec![0]
    );
    a.incr_in_flight("d1").await.expect("incr");
    assert_eq!(
        b.in_flight(&ids(&["d1"])).await.expect("in_flight"),
        vec![1]
    );
}

#[tokio::test]
async fn latency_keeps_the_newest_samples() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let (a, b) = (connect(&prefix).await, connect(&prefix).await);
    let ttl = Duration::from_secs(3600);
    for i in 0..12 {
        let client = if i % 2 == 0 { &a } else { &b };
        client
            .record_latency("d1", f64::from(i) * 0.25, 10, ttl)
            .await
            .expect("record");
    }
    let lists = a.latencies(&ids(&["d1", "d2"])).await.expect("latencies");
    let expected: Vec<f64> = (2..12).rev().map(|i| f64::from(i) * 0.25).collect();
    assert_eq!(lists, vec![expected, vec![]]);
    let pttl = a.test_pttl("latency:d1").await;
    assert!(
        (3_500_000..=3_600_000).contains(&pttl),
        "latency TTL {pttl}"
    );

    // The TTL applies: a short one expires the samples.
    a.record_latency("d3", 1.5, 10, Duration::from_millis(100))
        .await
        .expect("record");
    let a2 = a.clone();
    let gone = async {
        for _ in 0..100 {
            if a2.latencies(&ids(&["d3"])).await.expect("latencies") == vec![Vec::<f64>::new()] {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    };
    assert!(gone.await, "latency samples outlived their TTL");
    assert!(
        a.record_latency("d1", f64::INFINITY, 10, ttl)
            .await
            .is_err()
    );
}
