//! A real Postgres database per test: `CREATE DATABASE hm_<random>` on the server named by
//! `HAIMAKER_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`), dropped when
//! the test ends. Tests run in parallel without sharing tables.

use tokio_postgres::{Client, NoTls};

pub fn admin_url() -> String {
    std::env::var("HAIMAKER_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// Connects to `url` (panics with the setup hint when the server is not there).
pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap_or_else(|e| {
        panic!("cannot reach the test Postgres at {url}: {e}. Start it (e.g. `pg_ctlcluster 15 main start`) or set HAIMAKER_TEST_PG_URL; .ci/run does both")
    });
    tokio::spawn(connection);
    client
}

/// A database of this test's own.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    /// A URL for the gateway (`DATABASE_URL`).
    pub url: String,
}

impl TestDb {
    pub async fn create() -> Self {
        let name = format!("hm_test_{:016x}", rand::random::<u64>());
        let admin = connect(&admin_url()).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let url = with_database(&admin_url(), &name);
        Self { name, url }
    }

    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }
}

/// `url` with its database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &base[..slash],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Best effort, on a thread of its own: Drop may run inside or outside a runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok((client, connection)) = tokio_postgres::connect(&admin_url(), NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}
