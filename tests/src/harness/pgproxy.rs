//! A TCP forwarder between the gateway and the test's Postgres that a test can cut and restore:
//! an outage of the database as the gateway sees it, without stopping the shared server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct PgProxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    /// Bumped on every cut: live forwards watch it and drop their connections.
    cuts: watch::Sender<u64>,
    pub connections: Arc<AtomicU64>,
}

impl PgProxy {
    /// Forwards to `target` (host:port of the real server).
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let proxy = Self {
            addr,
            up: Arc::clone(&up),
            cuts: cuts.clone(),
            connections: Arc::default(),
        };
        let connections = Arc::clone(&proxy.connections);
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if !up.load(Ordering::SeqCst) {
                    // Down: the connection is closed at once, like a database that is gone.
                    drop(client);
                    continue;
                }
                connections.fetch_add(1, Ordering::SeqCst);
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let mut client = client;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        proxy
    }

    /// The database "goes away": open connections drop, new ones are closed at once.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// `url` (of the real server) rewritten to go through this proxy.
    pub fn url_for(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (auth, after) = rest.split_once('@').map_or(("", rest), |(a, r)| (a, r));
        let path = after.find('/').map_or("", |i| &after[i..]);
        let at = if auth.is_empty() {
            String::new()
        } else {
            format!("{auth}@")
        };
        format!("{scheme}://{at}{}{path}", self.addr)
    }
}
