//! The test's slice of the shared Redis server: a random key prefix the gateway is told to use
//! (`HAIMAKER_REDIS_PREFIX`), a client to look at what it wrote, and cleanup of every key under
//! the prefix when the test ends (also when it panics). Tests run in parallel on one server.

use std::time::Duration;

use fred::prelude::{Builder, Client, ClientLike, Config, KeysInterface, LuaInterface};

/// The server tests use: `HAIMAKER_TEST_REDIS_URL`, default the local one.
pub fn test_url() -> String {
    std::env::var("HAIMAKER_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub struct TestRedis {
    /// Every key of this test starts with it.
    pub prefix: String,
    client: Client,
}

impl TestRedis {
    /// A fresh prefix and a connected client (or a failed test saying what is missing).
    pub async fn new() -> Self {
        let prefix = format!("hmtest:{:016x}:", rand::random::<u64>());
        let client = connect().await;
        Self { prefix, client }
    }

    /// The URL a gateway under test connects to.
    pub fn url(&self) -> String {
        test_url()
    }

    /// `GET <prefix><key>`.
    pub async fn get(&self, key: &str) -> Option<String> {
        self.client
            .get(format!("{}{key}", self.prefix))
            .await
            .expect("GET on the test Redis")
    }

    /// Every key under the prefix, prefix removed, sorted.
    pub async fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .client
            .eval(
                "return redis.call('KEYS', ARGV[1])",
                Vec::<String>::new(),
                vec![format!("{}*", self.prefix)],
            )
            .await
            .expect("KEYS on the test Redis");
        for k in &mut keys {
            *k = k[self.prefix.len()..].to_string();
        }
        keys.sort();
        keys
    }

    /// Deletes one key under the prefix.
    pub async fn del(&self, key: &str) {
        let _: i64 = self
            .client
            .del(format!("{}{key}", self.prefix))
            .await
            .expect("DEL on the test Redis");
    }
}

async fn connect() -> Client {
    let config = Config::from_url(&test_url()).expect("HAIMAKER_TEST_REDIS_URL is a redis:// URL");
    let client = Builder::from_config(config)
        .build()
        .expect("building a redis client");
    let connected = tokio::time::timeout(Duration::from_secs(5), client.init()).await;
    match connected {
        Ok(Ok(_)) => client,
        _ => panic!(
            "Redis is not reachable at {}: start redis-server 7.0+ there, or point \
             HAIMAKER_TEST_REDIS_URL at one (these tests need a real Redis)",
            test_url()
        ),
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        // A destructor cannot await: clean up from a thread with its own runtime.
        let pattern = format!("{}*", self.prefix);
        let cleaner = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let config = match Config::from_url(&test_url()) {
                    Ok(c) => c,
                    Err(_) => return,
                };
                let Ok(client) = Builder::from_config(config).build() else {
                    return;
                };
                if !matches!(
                    tokio::time::timeout(Duration::from_secs(2), client.init()).await,
                    Ok(Ok(_))
                ) {
                    return;
                }
                let _: Result<i64, _> = client
                    .eval(
                        "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do \
                         redis.call('DEL', k) n = n + 1 end return n",
                        Vec::<String>::new(),
                        vec![pattern],
                    )
                    .await;
                let _ = client.quit().await;
            });
        });
        let _ = cleaner.join();
    }
}
