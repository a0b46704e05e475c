//! Key-cache invalidation across workers and instances over Redis pub/sub (channel `P invalidate`).
//!
//! Subscribing takes a connection of its own (a subscribed RESP2 connection can do nothing else), made
//! on the first [`Redis::invalidations`] call and shared by every receiver of the process. It
//! resubscribes by itself after each reconnection. Pub/sub does not queue: messages published while a
//! subscriber is disconnected are lost, which is why the key caches that listen keep short TTLs anyway.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fred::prelude::{Client, ClientLike, EventInterface, PubsubInterface};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::client::{connection_config, performance_config, reconnect_policy};
use crate::{Redis, RedisError};

/// Per receiver. A receiver that falls this far behind loses messages (logged) rather than blocking
/// delivery to the others.
const RECEIVER_CAPACITY: usize = 1024;
/// fred's buffer between the connection and our forwarding task.
const BROADCAST_CAPACITY: usize = 1024;
/// `SUBSCRIBE` is not on a request path; it may wait for a connection that is just coming up.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(2);
const SUBSCRIBE_RETRY: Duration = Duration::from_millis(500);

type Senders = Arc<Mutex<Vec<mpsc::Sender<String>>>>;

/// The process's subscription: its connection lives in background tasks; this holds the receivers.
pub(crate) struct Subscriber {
    senders: Senders,
    /// Whether the channel is subscribed on the current connection.
    subscribed: Arc<AtomicBool>,
}

impl Redis {
    /// Tells every worker of every instance (this one included) to drop something from its key cache.
    pub async fn publish_invalidation(&self, message: &str) -> Result<(), RedisError> {
        let channel = self.invalidation_channel();
        let message = message.to_owned();
        let _: i64 = self
            .run(|c| async move { c.publish(channel, message).await })
            .await?;
        Ok(())
    }

    /// A stream of invalidation messages from every instance (including this one). Resubscribes by
    /// itself after Redis comes back; messages published while disconnected may be lost.
    pub fn invalidations(&self) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel(RECEIVER_CAPACITY);
        let subscriber = self
            .inner
            .subscriber
            .get_or_init(|| self.start_subscriber());
        match subscriber.senders.lock() {
            Ok(mut senders) => senders.push(tx),
            Err(poisoned) => poisoned.into_inner().push(tx),
        }
        rx
    }

    /// Whether [`Redis::invalidations`] receivers currently get messages: the channel is
    /// subscribed on a live connection. Publishing before that loses the message for this process.
    pub fn is_subscribed(&self) -> bool {
        self.inner
            .subscriber
            .get()
            .is_some_and(|s| s.subscribed.load(Ordering::Relaxed))
    }

    /// `P invalidate`
    fn invalidation_channel(&self) -> String {
        self.key("invalidate")
    }

    fn start_subscriber(&self) -> Subscriber {
        let channel = self.invalidation_channel();
        let client = Client::new(
            self.inner.fred_config.clone(),
            Some(performance_config(SUBSCRIBE_TIMEOUT, BROADCAST_CAPACITY)),
            Some(connection_config()),
            Some(reconnect_policy()),
        );
        let senders: Senders = Arc::new(Mutex::new(Vec::new()));
        let subscribed = Arc::new(AtomicBool::new(false));
        let runtime = &self.inner.runtime;
        // Both event streams are taken before connecting, so the first connection is seen too.
        let forward = runtime.spawn(forward(
            client.message_rx(),
            channel.clone(),
            senders.clone(),
        ));
        let subscribe = runtime.spawn(keep_subscribed(
            client.clone(),
            client.reconnect_rx(),
            channel,
            subscribed.clone(),
        ));
        let _guard = runtime.enter();
        let connection = client.connect();
        let handles = [
            forward.abort_handle(),
            subscribe.abort_handle(),
            connection.abort_handle(),
        ];
        match self.inner.tasks.lock() {
            Ok(mut tasks) => tasks.extend(handles),
            Err(poisoned) => poisoned.into_inner().extend(handles),
        }
        Subscriber {
            senders,
            subscribed,
        }
    }
}

/// Subscribes after every (re)connection. fred announces a connection just before it is usable; the
/// `SUBSCRIBE` then waits in fred's queue, hence the longer timeout and the retry.
async fn keep_subscribed(
    client: Client,
    mut reconnects: tokio::sync::broadcast::Receiver<fred::prelude::Server>,
    channel: String,
    subscribed: Arc<AtomicBool>,
) {
    loop {
        match reconnects.recv().await {
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
        subscribed.store(false, Ordering::Relaxed);
        loop {
            match tokio::time::timeout(SUBSCRIBE_TIMEOUT, client.subscribe(channel.as_str())).await
            {
                Ok(Ok(())) => {
                    subscribed.store(true, Ordering::Relaxed);
                    break;
                }
                Ok(Err(e)) => tracing::debug!("redis SUBSCRIBE failed: {e}"),
                Err(_) => tracing::debug!("redis SUBSCRIBE timed out"),
            }
            // A newer connection will announce itself: subscribe on that one instead.
            if !reconnects.is_empty() {
                break;
            }
            tokio::time::sleep(SUBSCRIBE_RETRY).await;
        }
    }
}

async fn forward(
    mut messages: tokio::sync::broadcast::Receiver<fred::types::Message>,
    channel: String,
    senders: Senders,
) {
    loop {
        let message = match messages.recv().await {
            Ok(message) => message,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!("{n} key-cache invalidation messages dropped (receiver too slow)");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        if message.channel.as_bytes() != channel.as_bytes() {
            continue;
        }
        let Some(text) = message.value.as_string() else {
            continue;
        };
        let mut senders = match senders.lock() {
            Ok(senders) => senders,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Never block on a slow receiver; drop receivers that are gone.
        senders.retain(|tx| match tx.try_send(text.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!("a key-cache invalidation receiver is full; message dropped");
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }
}
