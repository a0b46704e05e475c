//! Waiting on a condition with a deadline: tests never sleep to synchronise.

use std::time::{Duration, Instant};

/// Polls `condition` until it returns `Some`, or panics after `within` naming `what`.
pub async fn wait_until<T>(
    what: &str,
    within: Duration,
    mut condition: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
