//! Key-cache invalidation over pub/sub between clients.

use std::time::{Duration, Instant};

use tokio::sync::mpsc::Receiver;

use super::{Cleanup, connect, random_prefix};
use crate::Redis;

/// Publishes `probe-<n>` from `from` until `rx` sees one (subscriptions start in the background).
pub(crate) async fn wait_subscribed(from: &Redis, rx: &mut Receiver<String>, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut n = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "no invalidation message arrived within {limit:?}"
        );
        n += 1;
        // Publishing may fail while the publisher itself reconnects; just try again.
        let _ = from.publish_invalidation(&format!("probe-{n}")).await;
        if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            assert!(msg.starts_with("probe-"), "{msg}");
            return;
        }
    }
}

/// The next message that is not a probe.
async fn next_message(rx: &mut Receiver<String>) -> String {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("a message within 2 s")
            .expect("channel open");
        if !msg.starts_with("probe-") {
            return msg;
        }
    }
}

#[tokio::test]
async fn messages_reach_every_client_including_the_sender() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let (a, b) = (connect(&prefix).await, connect(&prefix).await);
    let other = connect(&random_prefix()).await;
    let mut rx_a = a.invalidations();
    let mut rx_a2 = a.invalidations();
    let mut rx_b = b.invalidations();
    let mut rx_other = other.invalidations();
    wait_subscribed(&a, &mut rx_b, Duration::from_secs(5)).await;
    wait_subscribed(&b, &mut rx_a, Duration::from_secs(5)).await;
    wait_subscribed(&other, &mut rx_other, Duration::from_secs(5)).await;

    b.publish_invalidation("key:0123abcd")
        .await
        .expect("publish");
    assert_eq!(next_message(&mut rx_a).await, "key:0123abcd");
    assert_eq!(next_message(&mut rx_a2).await, "key:0123abcd");
    assert_eq!(next_message(&mut rx_b).await, "key:0123abcd");

    // Another prefix is another deployment: it hears nothing.
    let stray = tokio::time::timeout(Duration::from_millis(200), async {
        loop {
            match rx_other.recv().await {
                Some(msg) if msg.starts_with("probe-") => continue,
                other => return other,
            }
        }
    })
    .await;
    assert!(stray.is_err(), "message leaked across prefixes: {stray:?}");

    // A dropped receiver does not disturb the others.
    drop(rx_a2);
    a.publish_invalidation("team:t1").await.expect("publish");
    assert_eq!(next_message(&mut rx_b).await, "team:t1");
    assert_eq!(next_message(&mut rx_a).await, "team:t1");
}
