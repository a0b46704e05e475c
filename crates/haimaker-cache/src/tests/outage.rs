//! Redis down: every call fails fast with `Unavailable`, and the client recovers by itself.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpSocket, TcpStream};
use tokio::task::AbortHandle;

use super::invalidation::wait_subscribed;
use super::{Cleanup, connect, random_prefix, test_settings, wait_until};
use crate::{BudgetEntity, CALL_TIMEOUT, LimitScope, Redis, RedisError, RedisSettings};

/// Slack over the call timeout for the test's own scheduling on a busy 2-core machine.
const SLACK: Duration = Duration::from_millis(150);

/// Asserts that `$call` answers `Unavailable` within the call timeout.
macro_rules! assert_unavailable {
    ($call:expr) => {{
        let started = Instant::now();
        let result = $call.await;
        let took = started.elapsed();
        assert!(
            matches!(result, Err(RedisError::Unavailable(_))),
            "{} returned {:?}",
            stringify!($call),
            result
        );
        assert!(
            took < CALL_TIMEOUT + SLACK,
            "{} took {took:?}",
            stringify!($call)
        );
    }};
}

async fn every_call_is_unavailable(r: &Redis) {
    let ids = vec!["x".to_owned()];
    let scope = LimitScope {
        id: "key:x".into(),
        rpm: Some(1),
        tpm: None,
        parallel: None,
    };
    let entity = BudgetEntity {
        id: "key:x".into(),
        max_budget: Some(1.0),
        db_spend: 0.0,
    };
    assert_unavailable!(r.ping());
    assert_unavailable!(r.server_version());
    assert_unavailable!(r.admit(std::slice::from_ref(&scope)));
    assert_unavailable!(r.release(&ids));
    assert_unavailable!(r.add_tokens(&ids, 10));
    assert_unavailable!(r.reserve(std::slice::from_ref(&entity), 0.1));
    assert_unavailable!(r.settle(&ids, 0.1, 0.1));
    assert_unavailable!(r.reset_spend(&ids));
    assert_unavailable!(r.set_cooldown("d", Duration::from_secs(1), 429, "e"));
    assert_unavailable!(r.cooldowns(&ids));
    assert_unavailable!(r.incr_deployment_rpm("d"));
    assert_unavailable!(r.add_deployment_tpm("d", 5));
    assert_unavailable!(r.deployment_usage(&ids));
    assert_unavailable!(r.incr_in_flight("d"));
    assert_unavailable!(r.decr_in_flight("d"));
    assert_unavailable!(r.in_flight(&ids));
    assert_unavailable!(r.record_latency("d", 0.1, 10, Duration::from_secs(60)));
    assert_unavailable!(r.latencies(&ids));
    assert_unavailable!(r.cache_get("k"));
    assert_unavailable!(r.cache_set("k", b"v", None));
    assert_unavailable!(r.cache_delete(&ids));
    assert_unavailable!(r.cache_flush());
    assert_unavailable!(r.publish_invalidation("m"));
}

#[tokio::test]
async fn a_closed_port_fails_fast_and_start_up_does_not_wait() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("pick a port")
        .port();
    let mut settings = RedisSettings::new("127.0.0.1", port);
    settings.prefix = random_prefix();
    let started = Instant::now();
    let r = Redis::new(&settings).expect("new never waits for Redis");
    assert!(started.elapsed() < Duration::from_millis(50));
    let _rx = r.invalidations();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!r.is_up());
    every_call_is_unavailable(&r).await;
    assert!(!r.is_up());
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_call_timeout() {
    // Accepts connections and never answers: the client may believe it is connected.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let sink = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let r = Redis::new(&RedisSettings::new("127.0.0.1", port)).expect("new");
    tokio::time::sleep(Duration::from_millis(300)).await;
    every_call_is_unavailable(&r).await;
    sink.abort();
}

/// A TCP forwarder to the real Redis that the test can cut and restore on the same port.
struct Forwarder {
    addr: SocketAddr,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Forwarder {
    async fn start(target: SocketAddr) -> Forwarder {
        let mut forwarder = Forwarder {
            addr: "127.0.0.1:0".parse().expect("addr"),
            target,
            tasks: Arc::new(Mutex::new(Vec::new())),
        };
        forwarder.addr = forwarder.listen();
        forwarder
    }

    fn listen(&self) -> SocketAddr {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(self.addr).expect("bind forwarder");
        let listener = socket.listen(64).expect("listen");
        let addr = listener.local_addr().expect("addr");
        let (target, tasks) = (self.target, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().expect("lock").push(pipe.abort_handle());
            }
        });
        self.tasks.lock().expect("lock").push(accept.abort_handle());
        addr
    }

    /// Closes the listener and every forwarded connection: Redis "goes down".
    fn cut(&self) {
        for task in self.tasks.lock().expect("lock").drain(..) {
            task.abort();
        }
    }

    /// Listens again on the same port: Redis "comes back".
    fn restore(&self) {
        self.listen();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_by_itself_when_redis_comes_back() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let direct = connect(&prefix).await;
    let real = test_settings(&prefix);
    let target = tokio::net::lookup_host((real.host.as_str(), real.port))
        .await
        .expect("resolve the test Redis")
        .next()
        .expect("an address");
    let forwarder = Forwarder::start(target).await;

    let mut via = RedisSettings::new("127.0.0.1", forwarder.addr.port());
    via.prefix = prefix.clone();
    via.username = real.username.clone();
    via.password = real.password.clone();
    let r = Redis::new(&via).expect("new");
    wait_until(
        "the forwarded client to connect",
        Duration::from_secs(5),
        || r.is_up(),
    )
    .await
    .expect("connect through the forwarder");
    r.ping().await.expect("ping");
    let mut rx = r.invalidations();
    wait_subscribed(&direct, &mut rx, Duration::from_secs(5)).await;

    forwarder.cut();
    wait_until("the client to notice", Duration::from_secs(5), || {
        !r.is_up()
    })
    .await
    .expect("is_up goes false");
    every_call_is_unavailable(&r).await;

    forwarder.restore();
    wait_until("the client to reconnect", Duration::from_secs(10), || {
        r.is_up()
    })
    .await
    .expect("is_up comes back");
    r.ping().await.expect("ping after recovery");
    r.cache_set("after", b"ok", Some(Duration::from_secs(30)))
        .await
        .expect("set after recovery");
    assert_eq!(
        direct.cache_get("after").await.expect("get").as_deref(),
        Some(&b"ok"[..])
    );
    // The subscription came back too.
    wait_subscribed(&direct, &mut rx, Duration::from_secs(10)).await;

    forwarder.cut();
}

#[tokio::test]
async fn tls_to_a_plaintext_server_is_unavailable_not_a_hang() {
    // Builds the rustls configuration (ring, system + webpki roots) and fails the handshake.
    let mut settings = test_settings(&random_prefix());
    settings.tls = true;
    let r = Redis::new(&settings).expect("TLS settings build a client");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!r.is_up());
    assert_unavailable!(r.ping());
    assert_unavailable!(r.cache_get("k"));
}
